/* A network back end: where a virtio-net device's frames go, and where the
 * frames for the guest come from.  The device (virtio/net.c) knows nothing of
 * slirp or tap; a back end knows nothing of virtqueues.
 *
 * Frames are Ethernet frames.  When backend->vnet_hdr is set they begin, both
 * ways, with a struct virtio_net_hdr_v1 (12 bytes: flags, gso_type, hdr_len,
 * gso_size, csum_start, csum_offset, num_buffers) as a tap with IFF_VNET_HDR
 * takes them; otherwise they are bare frames and the device does what the
 * header would have asked for (or offers the guest no offloads).
 *
 * Threads: a back end calls port.receive from a thread of its choosing (the
 * event loop, or a thread of its own); the device takes its own lock there.
 * ops->send is called with the device lock held, from the thread that serves
 * the device's transmit queue (the event loop, or the back end's own thread
 * after ops->serve_transmit); it must not call port.receive itself (queue
 * what it has to answer, and answer after send returns). */
#ifndef GUEST_NET_BACKEND_H
#define GUEST_NET_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "event_loop.h"
#include "memory.h"
#include "net/vhost_net.h"

/* Offloads, as a tap's TUNSETOFFLOAD names them (TUN_F_*): what a back end can
 * take in frames from the guest, and what the guest said it can take. */
#define NET_OFFLOAD_CSUM 0x01 /* partial checksums (VIRTIO_NET_HDR_F_NEEDS_CSUM) */
#define NET_OFFLOAD_TSO4 0x02
#define NET_OFFLOAD_TSO6 0x04
#define NET_OFFLOAD_TSO_ECN 0x08
#define NET_OFFLOAD_UFO 0x10

/* The largest frame either way: a 64 KiB GSO frame plus its Ethernet header. */
#define NET_MAX_FRAME (65536 + 14 + 4)

struct net_backend;

/* The device's side, which the back end calls. */
struct net_port {
    /* One frame for the guest.  Returns true when the frame was taken (or
     * dropped for good: a frame too big, a device that is not running), false
     * when the guest has no receive buffers now: the back end keeps the frame
     * and offers it again after ops->rx_ready. */
    bool (*receive)(void *device, const struct iovec *iov, int count);
    void *device;
};

struct net_backend_ops {
    const char *kind; /* "user", "tap": for messages */
    /* Starts the back end's I/O: in loop, or in a thread of its own. */
    int (*start)(struct net_backend *backend, struct event_loop *loop, struct error *error);
    /* One frame from the guest.  Returns 0 when taken (or dropped: logged
     * once), -1 with errno EAGAIN when the back end cannot take it now: the
     * device keeps the frame and the rest of its transmit queue until the back
     * end calls backend->tx_ready.  The back end is done with iov when it
     * returns: the chain goes back to the guest at once. */
    int (*send)(struct net_backend *backend, const struct iovec *iov, int count);
    /* Optional, for a back end with a thread of its own (not with vhost):
     * that thread serves the transmit queue, so that a guest's frame reaches
     * the back end without waking the event loop first.  notify_fd is the
     * queue's notification eventfd: the thread watches it and, when it is
     * readable, calls serve(port.device), which drains it and calls ops->send
     * (in that thread) for each frame.  Called once, before ops->start;
     * returns true when the back end took the queue (the event loop then
     * leaves it alone), false when it did not. */
    bool (*serve_transmit)(struct net_backend *backend, int notify_fd, void (*serve)(void *device));
    /* The guest has posted receive buffers after receive returned false (or
     * reset the device).  Called with the device lock held, from the loop or
     * a vCPU thread: the back end must not call port.receive from here, only
     * arrange for its own thread to. */
    void (*rx_ready)(struct net_backend *backend);
    /* Optional: the guest negotiated these NET_OFFLOAD_* for frames it
     * receives (a tap passes them to TUNSETOFFLOAD).  Called with the device
     * lock held, from a vCPU thread (DRIVER_OK) or the loop. */
    int (*set_rx_offloads)(struct net_backend *backend, unsigned offloads, struct error *error);
    /* Optional (a tap with vhost-net): the host kernel serves the receive
     * and transmit queues itself.  Called at DRIVER_OK, from a vCPU thread
     * with the device lock held, with the rings as the driver set them and
     * the features it accepted.  Returns 0 when the kernel took them (the
     * device leaves those two queues alone until vhost_stop), -1 when the
     * device's own path serves them (the back end has said why, once). */
    int (*vhost_start)(struct net_backend *backend, const struct guest_memory *memory,
                       uint64_t features, const struct vhost_net_ring rings[VHOST_NET_RING_COUNT]);
    /* The device is being reset: take the rings back from the kernel. */
    void (*vhost_stop)(struct net_backend *backend);
    /* Stops the I/O started by start (idempotent). */
    void (*stop)(struct net_backend *backend, struct event_loop *loop);
    void (*destroy)(struct net_backend *backend);
};

struct net_backend {
    const struct net_backend_ops *ops;
    bool vnet_hdr;     /* frames both ways begin with a virtio_net_hdr_v1 */
    unsigned offloads; /* NET_OFFLOAD_* the back end takes in frames from the guest */
    struct net_port port; /* set by the device before ops->start */
    /* Set by the device: the back end that returned EAGAIN from send calls it
     * (from any thread) when it can take frames again. */
    void (*tx_ready)(void *device);
};

struct net_config;

/* The back end a --net option names (user: slirp.c, tap: tap.c), not yet
 * started.  Start-up checks (a port in use, a missing tap) fail here, with
 * the option named in error. */
int net_backend_create(const struct net_config *config, struct net_backend **backend,
                       struct error *error);

#endif
