/* vhost-net: the host kernel moves a NIC's receive and transmit queues
 * between the guest's rings and a tap, so frames never pass through the VMM.
 * The VMM sets it up (the guest memory map, each ring's addresses, the kick
 * and call eventfds) once the driver has configured the device, and takes
 * the rings back on reset. */
#ifndef GUEST_NET_VHOST_NET_H
#define GUEST_NET_VHOST_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "memory.h"

/* The queues vhost-net serves: receiveq0 and transmitq0. */
#define VHOST_NET_RING_COUNT 2

struct vhost_net_ring {
    uint16_t size;
    const volatile void *desc, *avail, *used; /* the rings, in the VMM's mapping of guest RAM */
    uint16_t next_avail; /* the first available entry not yet taken */
    int kick_fd;         /* the guest's notifications (the queue's ioeventfd) */
    int call_fd;         /* the queue's interrupt (its vector's irqfd) */
};

struct vhost_net {
    int fd;
    uint64_t features; /* what this kernel's vhost-net can do */
    bool running;
};

/* Opens /dev/vhost-net and becomes its owner; error says why not (the caller
 * falls back to the user-space path, or fails with vhost=on). */
int vhost_net_open(struct vhost_net *vhost, struct error *error);

/* Hands the rings to the kernel with the tap as back end.  features: the
 * virtio features the driver accepted; only the ring layout's are passed on
 * (the offloads are the tap's business). */
int vhost_net_start(struct vhost_net *vhost, const struct guest_memory *memory, uint64_t features,
                    const struct vhost_net_ring rings[VHOST_NET_RING_COUNT], int tap_fd,
                    struct error *error);

/* Takes the rings back (the device is being reset). */
void vhost_net_stop(struct vhost_net *vhost);

void vhost_net_close(struct vhost_net *vhost);

#endif
