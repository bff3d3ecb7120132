#include "net/vhost_net.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The ring-layout features vhost-net itself implements; the net offloads
 * are negotiated with the tap (TUNSETOFFLOAD), not with vhost. */
#define VHOST_NET_RING_FEATURES                                                                \
    ((1ull << 15) /* VIRTIO_NET_F_MRG_RXBUF */ | (1ull << 27) /* VIRTIO_F_ANY_LAYOUT */ |     \
     (1ull << 28) /* VIRTIO_RING_F_INDIRECT_DESC */ | (1ull << 29) /* VIRTIO_RING_F_EVENT_IDX */ | \
     (1ull << 32) /* VIRTIO_F_VERSION_1 */)

int vhost_net_open(struct vhost_net *vhost, struct error *error)
{
    *vhost = (struct vhost_net){.fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC)};
    if (vhost->fd < 0)
        return error_set(error, "/dev/vhost-net: %s", errno == ENOENT
                                                          ? "missing (is vhost_net loaded?)"
                                                          : strerror(errno));
    if (ioctl(vhost->fd, VHOST_SET_OWNER) < 0 ||
        ioctl(vhost->fd, VHOST_GET_FEATURES, &vhost->features) < 0) {
        int saved = errno;
        vhost_net_close(vhost);
        return error_set(error, "/dev/vhost-net: %s", strerror(saved));
    }
    return 0;
}

static int vhost_net_set_memory(struct vhost_net *vhost, const struct guest_memory *memory)
{
    /* struct vhost_memory ends in a flexible array: lay it out by hand. */
    union {
        struct vhost_memory table;
        uint8_t bytes[sizeof(struct vhost_memory) +
                      GUEST_MEMORY_MAX_REGIONS * sizeof(struct vhost_memory_region)];
    } layout;
    memset(&layout, 0, sizeof(layout));
    layout.table.nregions = (uint32_t)memory->region_count;
    for (int i = 0; i < memory->region_count; i++) {
        const struct guest_memory_region *region = &memory->regions[i];
        layout.table.regions[i] = (struct vhost_memory_region){
            .guest_phys_addr = region->guest_address,
            .memory_size = region->size,
            .userspace_addr = (uint64_t)(uintptr_t)region->host,
        };
    }
    return ioctl(vhost->fd, VHOST_SET_MEM_TABLE, &layout.table);
}

static int vhost_net_set_ring(struct vhost_net *vhost, unsigned index,
                              const struct vhost_net_ring *ring, int tap_fd)
{
    struct vhost_vring_state size = {.index = index, .num = ring->size};
    struct vhost_vring_state base = {.index = index, .num = ring->next_avail};
    struct vhost_vring_addr address = {
        .index = index,
        .desc_user_addr = (uint64_t)(uintptr_t)ring->desc,
        .used_user_addr = (uint64_t)(uintptr_t)ring->used,
        .avail_user_addr = (uint64_t)(uintptr_t)ring->avail,
    };
    struct vhost_vring_file kick = {.index = index, .fd = ring->kick_fd};
    struct vhost_vring_file call = {.index = index, .fd = ring->call_fd};
    struct vhost_vring_file backend = {.index = index, .fd = tap_fd};
    if (ioctl(vhost->fd, VHOST_SET_VRING_NUM, &size) < 0 ||
        ioctl(vhost->fd, VHOST_SET_VRING_BASE, &base) < 0 ||
        ioctl(vhost->fd, VHOST_SET_VRING_ADDR, &address) < 0 ||
        ioctl(vhost->fd, VHOST_SET_VRING_KICK, &kick) < 0 ||
        ioctl(vhost->fd, VHOST_SET_VRING_CALL, &call) < 0 ||
        ioctl(vhost->fd, VHOST_NET_SET_BACKEND, &backend) < 0)
        return -1;
    return 0;
}

/* Every ring lets go of the tap (the ones never attached ignore it). */
static void vhost_net_detach(struct vhost_net *vhost)
{
    for (unsigned i = 0; i < VHOST_NET_RING_COUNT; i++) {
        struct vhost_vring_file detach = {.index = i, .fd = -1};
        ioctl(vhost->fd, VHOST_NET_SET_BACKEND, &detach);
    }
}

int vhost_net_start(struct vhost_net *vhost, const struct guest_memory *memory, uint64_t features,
                    const struct vhost_net_ring rings[VHOST_NET_RING_COUNT], int tap_fd,
                    struct error *error)
{
    uint64_t accepted = features & vhost->features & VHOST_NET_RING_FEATURES;
    if (ioctl(vhost->fd, VHOST_SET_FEATURES, &accepted) < 0 ||
        vhost_net_set_memory(vhost, memory) < 0)
        return error_set(error, "vhost-net: %s", strerror(errno));
    for (unsigned i = 0; i < VHOST_NET_RING_COUNT; i++) {
        if (vhost_net_set_ring(vhost, i, &rings[i], tap_fd) < 0) {
            int saved = errno;
            vhost_net_detach(vhost);
            return error_set(error, "vhost-net: ring %u: %s", i, strerror(saved));
        }
    }
    vhost->running = true;
    return 0;
}

void vhost_net_stop(struct vhost_net *vhost)
{
    if (!vhost->running)
        return;
    vhost_net_detach(vhost);
    vhost->running = false;
}

void vhost_net_close(struct vhost_net *vhost)
{
    vhost_net_stop(vhost);
    if (vhost->fd >= 0)
        close(vhost->fd);
    vhost->fd = -1;
}
