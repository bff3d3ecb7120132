/* A virtio device, independent of its transport: feature negotiation, the
 * status state machine, its queues, and who serves them.  A concrete device
 * (blk.c, rng.c, ...) fills a struct virtio_device_ops and its config space;
 * the transport (virtio/pci.c) maps registers onto these fields.
 *
 * Threads: registers are written by vCPU threads; queues are served by the
 * machine's event loop, or by a worker thread of the device's own (for
 * blocking I/O).  device->lock is held for both; a device with a thread of
 * its own drops it while a request's handler runs (the I/O), so vCPUs using
 * its registers are not kept waiting, and a reset waits for that request to
 * finish: a reset never races a request in progress. */
#ifndef GUEST_VIRTIO_VIRTIO_H
#define GUEST_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "event_loop.h"
#include "memory.h"
#include "sandbox.h"
#include "virtio/queue.h"

#define VIRTIO_MAX_QUEUES 8
#define VIRTIO_NO_VECTOR 0xffff

#define VIRTIO_F_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_EVENT_IDX (1ull << 29)
#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_GPU 16
#define VIRTIO_ID_INPUT 18

struct virtio_device;

struct virtio_device_ops {
    const char *name; /* "virtio-blk": for messages */
    uint16_t device_id;
    unsigned queue_count;
    uint16_t queue_max_size;
    /* The driver may have made chains available on queue; called with the
     * device lock held, in the serving thread. */
    void (*queue_notify)(struct virtio_device *device, unsigned queue);
    /* Optional: the driver writes config space bytes at offset (already
     * bounds-checked against config_size); without it writes are ignored. */
    void (*config_write)(struct virtio_device *device, unsigned offset, const void *data,
                         unsigned length);
    /* Optional: the driver reset the device (queues are already cleared). */
    void (*reset)(struct virtio_device *device);
    /* Optional: DRIVER_OK was set. */
    void (*driver_ok)(struct virtio_device *device);
    /* A device served by a thread of its own: that thread's allow-list. */
    enum sandbox_role thread_role;
};

struct virtio_device {
    const struct virtio_device_ops *ops;
    void *opaque; /* the concrete device */
    const struct guest_memory *memory;
    pthread_mutex_t lock;

    uint64_t device_features; /* what we offer, transport bits included */
    uint64_t driver_features; /* what the driver accepted (valid after FEATURES_OK) */
    uint8_t status;
    uint8_t config_generation;
    uint8_t *config; /* device-specific config space, owned by the device */
    unsigned config_size;

    struct virtq queues[VIRTIO_MAX_QUEUES];
    uint16_t queue_vector[VIRTIO_MAX_QUEUES];
    uint16_t config_vector;
    bool ever_driver_ok; /* for the "never initialised" warning */
    bool failed_logged;

    /* Notifications: one eventfd per queue, signalled by KVM (ioeventfd). */
    int notify_fd[VIRTIO_MAX_QUEUES];
    struct event_source notify_source[VIRTIO_MAX_QUEUES];
    /* A request handled without the lock (own thread), and resets waiting
     * for it to finish (signalled on idle). */
    bool in_flight;
    unsigned reset_waiting;
    pthread_cond_t idle;
    /* Bit q: another thread watches queue q's notify_fd and calls
     * virtio_device_notified (a back end's thread), so the loop leaves it. */
    uint32_t queues_served_elsewhere;
    bool own_thread;
    /* Set while the device's own thread polls its rings: queues are drained
     * without asking the driver for notifications, which saves the driver's
     * notify exits while requests keep coming. */
    bool polling;
    int stop_fd;
    bool stopping; /* set (atomically) by virtio_device_stop */
    pthread_t thread;
    bool thread_started;

    /* Raising interrupts: set by the transport. */
    void (*interrupt)(void *transport, uint16_t vector, bool config_change);
    /* Optional: the eventfd that raises vector (an irqfd), for a queue served
     * outside the VMM (vhost); -1 when there is none. */
    int (*interrupt_fd)(void *transport, uint16_t vector);
    void *transport;
    /* The event loop that serves the queues (NULL with a thread of its own). */
    struct event_loop *loop;
};

/* Sets up the common part; features are the device's own bits (the core
 * adds VERSION_1, EVENT_IDX and INDIRECT_DESC). */
int virtio_device_init(struct virtio_device *device, const struct virtio_device_ops *ops,
                       void *opaque, const struct guest_memory *memory, uint8_t *config,
                       unsigned config_size, uint64_t features, struct error *error);
void virtio_device_destroy(struct virtio_device *device);

/* Starts serving the queues: in loop, or in a thread of the device's own. */
int virtio_device_start(struct virtio_device *device, struct event_loop *loop, bool own_thread,
                        struct error *error);
void virtio_device_stop(struct virtio_device *device, struct event_loop *loop);

/* Stops (false) or resumes (true) the event loop's serving of one queue's
 * notifications, for a queue that something else (vhost) serves meanwhile. */
int virtio_device_watch_queue(struct virtio_device *device, unsigned queue, bool watch);

/* queue's notify_fd was readable: drains it and serves the queue, device
 * lock taken here.  For whichever thread watches the eventfd. */
void virtio_device_notified(struct virtio_device *device, unsigned queue);

/* Register semantics the transport calls (device->lock held by the caller). */
void virtio_device_set_status(struct virtio_device *device, uint8_t status);
void virtio_device_enable_queue(struct virtio_device *device, unsigned queue);

/* Called by a device after pushing used chains on queue. */
void virtio_device_interrupt_queue(struct virtio_device *device, unsigned queue);
/* The device's config space changed (config interrupt). */
void virtio_device_config_changed(struct virtio_device *device);
/* The driver broke the rules: log once, set DEVICE_NEEDS_RESET, stop serving. */
void virtio_device_needs_reset(struct virtio_device *device, const char *why);

/* Serves queue until it is empty: pops each chain and hands it to handle,
 * which returns the number of bytes written to the chain.  Bad chains are
 * completed with 0 bytes and logged once; a broken ring sets NEEDS_RESET.
 * A handler that returns VIRTIO_HANDLE_LATER has not finished the request
 * (one too big for a turn): the chain is given back, untouched, and taken
 * again on the next turn, when the handler goes on where it stopped.
 * A turn is bounded (VIRTIO_TURN_REQUESTS requests, VIRTIO_TURN_NS): what
 * is left rings the queue's doorbell again, for the serving thread's next
 * turn, and a stop of that thread ends the turn between requests.
 * Interrupts as the driver asked.  chain is caller-provided scratch space. */
#define VIRTIO_HANDLE_LATER UINT32_MAX
/* How long one turn on a queue may take, for serve_queue and for handlers
 * that split a big request (VIRTIO_HANDLE_LATER): 2 ms keeps terminal input
 * and a stop well under the 100 ms a person notices, even behind a guest
 * that keeps its rings full. */
#define VIRTIO_TURN_NS 2000000
/* CLOCK_MONOTONIC in nanoseconds: for turn deadlines. */
uint64_t virtio_now_ns(void);
void virtio_device_serve_queue(struct virtio_device *device, unsigned queue,
                               struct virtq_chain *chain,
                               uint32_t (*handle)(struct virtio_device *device,
                                                  struct virtq_chain *chain));

/* Rings queue's own doorbell: its serving thread comes back to it on its
 * next turn, after whatever else was waiting (a turn that left work). */
void virtio_device_kick(struct virtio_device *device, unsigned queue);

static inline bool virtio_device_has(const struct virtio_device *device, uint64_t feature)
{
    return (device->driver_features & feature) != 0;
}

#endif
