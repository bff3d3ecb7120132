#include "net/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "net/vhost_net.h"

/* The virtio 1.x header (struct virtio_net_hdr_v1): what the tap reads and
 * writes in front of every frame. */
#define TAP_VNET_HDR_SIZE 12
/* Frames read per wake-up, so a flood from the host cannot hold the loop. */
#define TAP_RX_BUDGET 64

struct net_tap {
    struct net_backend backend;
    char ifname[NET_IFNAME_MAX];
    int fd;
    int rx_kick_fd; /* rx_ready, from the device: deliver the held frame */
    struct event_loop *loop;
    struct event_source tap_source, rx_kick_source;
    bool rx_blocked; /* the guest had no buffers: the frame in buffer waits */
    bool tx_blocked; /* a write met a full tap queue: tell the device when it drains */
    enum net_vhost vhost_mode;
    /* fd >= 0: /dev/vhost-net is ours (vhost=on, or auto and it opened);
     * running: the kernel moves the frames, and we leave the tap alone. */
    struct vhost_net vhost;
    size_t held_length; /* bytes of the held frame in buffer, 0 when none */
    uint8_t *buffer;    /* header + the largest frame */
};

static struct net_tap *tap_of(struct net_backend *backend)
{
    return (struct net_tap *)backend;
}

static void tap_update_watch(struct net_tap *tap)
{
    uint32_t events = (tap->rx_blocked ? 0 : EPOLLIN) | (tap->tx_blocked ? EPOLLOUT : 0);
    if (tap->vhost.running)
        events = 0;
    if (!tap->loop)
        return;
    if (event_loop_rewatch(tap->loop, &tap->tap_source, events))
        log_once("--net tap,ifname=%s: epoll: %s", tap->ifname, strerror(errno));
}

/* Offers the held frame to the guest; false when it still has no room. */
static bool tap_deliver_held(struct net_tap *tap)
{
    struct iovec iov = {tap->buffer, tap->held_length};
    if (!tap->backend.port.receive(tap->backend.port.device, &iov, 1))
        return false;
    tap->held_length = 0;
    return true;
}

static void tap_receive(struct net_tap *tap)
{
    for (int budget = TAP_RX_BUDGET; budget > 0; budget--) {
        if (!tap->held_length) {
            ssize_t got = read(tap->fd, tap->buffer, TAP_VNET_HDR_SIZE + NET_MAX_FRAME);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                if (errno != EAGAIN)
                    log_once("--net tap,ifname=%s: read: %s", tap->ifname, strerror(errno));
                return;
            }
            if (got <= TAP_VNET_HDR_SIZE)
                continue; /* no frame behind the header: nothing to pass on */
            tap->held_length = (size_t)got;
        }
        if (!tap_deliver_held(tap)) {
            /* Stop reading until the guest posts buffers: the tap's own queue
             * holds the rest, and TCP in the host slows down as it should. */
            tap->rx_blocked = true;
            tap_update_watch(tap);
            return;
        }
    }
}

static void tap_handler(struct event_source *source, uint32_t events)
{
    struct net_tap *tap = source->opaque;
    if ((events & EPOLLOUT) && tap->tx_blocked) {
        tap->tx_blocked = false;
        tap_update_watch(tap);
        tap->backend.tx_ready(tap->backend.port.device);
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !tap->rx_blocked)
        tap_receive(tap);
}

static void tap_rx_kick_handler(struct event_source *source, uint32_t events)
{
    (void)events;
    struct net_tap *tap = source->opaque;
    uint64_t count;
    if (read(tap->rx_kick_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
        log_once("--net tap,ifname=%s: eventfd: %s", tap->ifname, strerror(errno));
    if (!tap->rx_blocked)
        return;
    if (tap->held_length && !tap_deliver_held(tap))
        return; /* still no room: the next rx_ready tries again */
    tap->rx_blocked = false;
    tap_update_watch(tap);
}

static int tap_start(struct net_backend *backend, struct event_loop *loop, struct error *error)
{
    struct net_tap *tap = tap_of(backend);
    tap->loop = loop;
    tap->tap_source = (struct event_source){tap->fd, tap_handler, tap};
    tap->rx_kick_source = (struct event_source){tap->rx_kick_fd, tap_rx_kick_handler, tap};
    if (event_loop_watch(loop, &tap->tap_source, EPOLLIN) ||
        event_loop_watch(loop, &tap->rx_kick_source, EPOLLIN))
        return error_set(error, "--net tap,ifname=%s: epoll: %s", tap->ifname, strerror(errno));
    return 0;
}

static int tap_send(struct net_backend *backend, const struct iovec *iov, int count)
{
    struct net_tap *tap = tap_of(backend);
    for (;;) {
        if (writev(tap->fd, iov, count) >= 0)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            if (!tap->tx_blocked) {
                tap->tx_blocked = true;
                tap_update_watch(tap);
            }
            return -1;
        }
        /* EIO: the interface is down; EINVAL: the kernel refused the header.
         * Either way this frame is lost, as on a wire. */
        log_once("--net tap,ifname=%s: write: %s (frames are dropped)", tap->ifname,
                 strerror(errno));
        return 0;
    }
}

static void tap_rx_ready(struct net_backend *backend)
{
    /* Called with the device lock held: deliver from the loop, not here. */
    struct net_tap *tap = tap_of(backend);
    uint64_t one = 1;
    if (write(tap->rx_kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_once("--net tap,ifname=%s: eventfd: %s", tap->ifname, strerror(errno));
}

/* backend.h's NET_OFFLOAD_* are TUNSETOFFLOAD's own bits: passed as they are. */
_Static_assert(NET_OFFLOAD_CSUM == TUN_F_CSUM && NET_OFFLOAD_TSO4 == TUN_F_TSO4 &&
                   NET_OFFLOAD_TSO6 == TUN_F_TSO6 && NET_OFFLOAD_TSO_ECN == TUN_F_TSO_ECN &&
                   NET_OFFLOAD_UFO == TUN_F_UFO,
               "NET_OFFLOAD_* must be the TUN_F_* bits");

static int tap_set_rx_offloads(struct net_backend *backend, unsigned offloads,
                               struct error *error)
{
    struct net_tap *tap = tap_of(backend);
    /* The kernel refuses segmentation without checksum offload. */
    if (!(offloads & NET_OFFLOAD_CSUM))
        offloads = 0;
    if (ioctl(tap->fd, TUNSETOFFLOAD, (unsigned long)offloads) < 0)
        return error_set(error, "--net tap,ifname=%s: TUNSETOFFLOAD: %s", tap->ifname,
                         strerror(errno));
    return 0;
}

static int tap_vhost_start(struct net_backend *backend, const struct guest_memory *memory,
                           uint64_t features,
                           const struct vhost_net_ring rings[VHOST_NET_RING_COUNT])
{
    struct net_tap *tap = tap_of(backend);
    if (tap->vhost.fd < 0)
        return -1;
    struct error error;
    if (vhost_net_start(&tap->vhost, memory, features, rings, tap->fd, &error)) {
        log_once("--net tap,ifname=%s: %s; frames go through the VMM instead", tap->ifname,
                 error.message);
        return -1;
    }
    tap_update_watch(tap);
    return 0;
}

static void tap_vhost_stop(struct net_backend *backend)
{
    struct net_tap *tap = tap_of(backend);
    if (!tap->vhost.running)
        return;
    vhost_net_stop(&tap->vhost);
    tap_update_watch(tap);
}

static void tap_stop(struct net_backend *backend, struct event_loop *loop)
{
    struct net_tap *tap = tap_of(backend);
    if (!tap->loop)
        return;
    event_loop_forget(loop, &tap->tap_source);
    event_loop_forget(loop, &tap->rx_kick_source);
    tap->loop = NULL;
}

static void tap_destroy(struct net_backend *backend)
{
    struct net_tap *tap = tap_of(backend);
    vhost_net_close(&tap->vhost); /* nothing to do without one */
    if (tap->fd >= 0)
        close(tap->fd);
    if (tap->rx_kick_fd >= 0)
        close(tap->rx_kick_fd);
    free(tap->buffer);
    free(tap);
}

static const struct net_backend_ops tap_ops = {
    .kind = "tap",
    .start = tap_start,
    .send = tap_send,
    .rx_ready = tap_rx_ready,
    .set_rx_offloads = tap_set_rx_offloads,
    .vhost_start = tap_vhost_start,
    .vhost_stop = tap_vhost_stop,
    .stop = tap_stop,
    .destroy = tap_destroy,
};

/* Why TUNSETIFF refused, in the user's terms. */
static const char *tap_attach_fault(int error_number)
{
    switch (error_number) {
    case EPERM:
    case EACCES:
        return "not permitted (attaching needs the tap's owner or CAP_NET_ADMIN: run as root, "
               "or create it with `ip tuntap add dev NAME mode tap user $USER`)";
    case EINVAL:
        return "not a tap interface (a tun, or not made by `ip tuntap ... mode tap`)";
    case EBUSY:
        return "already in use by another program";
    default:
        return strerror(error_number);
    }
}

/* vhost=on: vhost-net or nothing; auto: vhost-net when it opens, otherwise
 * one line saying why and the user-space path; off: never. */
static int tap_open_vhost(struct net_tap *tap, struct error *error)
{
    if (tap->vhost_mode == NET_VHOST_OFF)
        return 0;
    struct error detail;
    if (vhost_net_open(&tap->vhost, &detail) == 0)
        return 0;
    if (tap->vhost_mode == NET_VHOST_ON)
        return error_set(error, "--net tap,ifname=%s,vhost=on: %s", tap->ifname, detail.message);
    log_message("--net tap,ifname=%s: no vhost-net (%s); frames go through the VMM",
                tap->ifname, detail.message);
    return 0;
}

static int tap_open(struct net_tap *tap, struct error *error)
{
    const char *name = tap->ifname;
    /* TUNSETIFF would create a missing interface (given the right): the user
     * asked for an existing one, and a typo must not make a new tap. */
    if (!if_nametoindex(name))
        return error_set(error, "--net tap,ifname=%s: no such network interface (create it: "
                                "ip tuntap add dev %s mode tap)",
                         name, name);
    tap->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (tap->fd < 0)
        return error_set(error, "--net tap,ifname=%s: /dev/net/tun: %s", name,
                         errno == ENOENT ? "missing (is the tun module loaded?)"
                                         : strerror(errno));
    unsigned features = 0;
    if (ioctl(tap->fd, TUNGETFEATURES, &features) < 0 || !(features & IFF_VNET_HDR))
        return error_set(error, "--net tap,ifname=%s: this kernel's tap has no virtio-net "
                                "headers (IFF_VNET_HDR)",
                         name);
    struct ifreq request = {0};
    memcpy(request.ifr_name, name, strlen(name) + 1);
    request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(tap->fd, TUNSETIFF, &request) < 0)
        return error_set(error, "--net tap,ifname=%s: %s", name, tap_attach_fault(errno));
    int header_size = TAP_VNET_HDR_SIZE;
    if (ioctl(tap->fd, TUNSETVNETHDRSZ, &header_size) < 0)
        return error_set(error, "--net tap,ifname=%s: TUNSETVNETHDRSZ: %s", name,
                         strerror(errno));
    /* Until the guest says what it takes, the host sends whole frames. */
    if (ioctl(tap->fd, TUNSETOFFLOAD, 0ul) < 0)
        return error_set(error, "--net tap,ifname=%s: TUNSETOFFLOAD: %s", name,
                         strerror(errno));
    tap->rx_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (tap->rx_kick_fd < 0)
        return error_set(error, "--net tap,ifname=%s: eventfd: %s", name, strerror(errno));
    return tap_open_vhost(tap, error);
}

int net_tap_create(struct net_backend **backend, const struct net_config *config,
                   struct error *error)
{
    struct net_tap *tap = calloc(1, sizeof(*tap));
    if (!tap)
        return error_set(error, "--net tap: out of memory");
    tap->fd = tap->rx_kick_fd = -1;
    tap->vhost.fd = -1;
    tap->vhost_mode = config->vhost;
    memcpy(tap->ifname, config->ifname, sizeof(tap->ifname));
    tap->ifname[sizeof(tap->ifname) - 1] = '\0';
    tap->backend = (struct net_backend){
        .ops = &tap_ops,
        .vnet_hdr = true,
        /* The tap takes partial checksums and TCP segmentation from us; UFO is
         * left out (deprecated in Linux since 4.14). */
        .offloads = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 | NET_OFFLOAD_TSO_ECN,
    };
    tap->buffer = malloc(TAP_VNET_HDR_SIZE + NET_MAX_FRAME);
    if (!tap->buffer || tap_open(tap, error)) {
        if (!tap->buffer)
            error_set(error, "--net tap: out of memory");
        tap_destroy(&tap->backend);
        return -1;
    }
    *backend = &tap->backend;
    return 0;
}

int net_tap_fd(const struct net_backend *backend)
{
    return ((const struct net_tap *)backend)->fd;
}
