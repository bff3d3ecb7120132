#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"
#include "virtio/virtio.h"

#define VIRTIO_CORE_FEATURES (VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX | VIRTIO_F_INDIRECT_DESC)

/* One turn on a queue serves at most this many requests (and VIRTIO_TURN_NS,
 * checked between requests), before the queue is rung again and the thread
 * goes back to everything else it serves.  A full ring of small requests
 * fits in a turn. */
#define VIRTIO_TURN_REQUESTS 256

uint64_t virtio_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}


int virtio_device_init(struct virtio_device *device, const struct virtio_device_ops *ops,
                       void *opaque, const struct guest_memory *memory, uint8_t *config,
                       unsigned config_size, uint64_t features, struct error *error)
{
    memset(device, 0, sizeof(*device));
    device->ops = ops;
    device->opaque = opaque;
    device->memory = memory;
    device->config = config;
    device->config_size = config_size;
    device->device_features = features | VIRTIO_CORE_FEATURES;
    device->config_vector = VIRTIO_NO_VECTOR;
    device->stop_fd = -1;
    pthread_mutex_init(&device->lock, NULL);
    pthread_cond_init(&device->idle, NULL);
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        device->notify_fd[q] = -1;
        device->queue_vector[q] = VIRTIO_NO_VECTOR;
    }
    if (ops->queue_count > VIRTIO_MAX_QUEUES)
        return error_set(error, "%s: too many queues", ops->name);
    for (unsigned q = 0; q < ops->queue_count; q++) {
        device->notify_fd[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (device->notify_fd[q] < 0)
            return error_set(error, "%s: eventfd: %s", ops->name, strerror(errno));
    }
    return 0;
}

void virtio_device_destroy(struct virtio_device *device)
{
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
        if (device->notify_fd[q] >= 0)
            close(device->notify_fd[q]);
    if (device->stop_fd >= 0)
        close(device->stop_fd);
    pthread_cond_destroy(&device->idle);
    pthread_mutex_destroy(&device->lock);
}

static void virtio_device_reset(struct virtio_device *device)
{
    /* A request being handled without the lock finishes first; the thread
     * that serves it takes no other meanwhile (virtio_device_serving). */
    device->reset_waiting++;
    while (device->in_flight)
        pthread_cond_wait(&device->idle, &device->lock);
    device->reset_waiting--;
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        virtq_reset(&device->queues[q]);
        device->queue_vector[q] = VIRTIO_NO_VECTOR;
    }
    device->config_vector = VIRTIO_NO_VECTOR;
    device->driver_features = 0;
    device->status = 0;
    if (device->ops->reset)
        device->ops->reset(device);
}

/* Kick every queue once: chains made available before DRIVER_OK (or while
 * a notification was not being listened to) are served now. */
static void virtio_device_kick_queues(struct virtio_device *device)
{
    uint64_t one = 1;
    for (unsigned q = 0; q < device->ops->queue_count; q++)
        if (device->queues[q].started && write(device->notify_fd[q], &one, sizeof(one)) < 0)
            log_once("%s: kicking a queue: %s", device->ops->name, strerror(errno));
}

void virtio_device_set_status(struct virtio_device *device, uint8_t status)
{
    if (status == 0) {
        virtio_device_reset(device);
        return;
    }
    uint8_t old = device->status;
    if ((status & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
        /* A driver may accept only what we offered, and must speak 1.x. */
        uint64_t accepted = device->driver_features;
        if ((accepted & ~device->device_features) || !(accepted & VIRTIO_F_VERSION_1)) {
            log_once("%s: driver accepted features we did not offer (0x%llx of 0x%llx)",
                     device->ops->name, (unsigned long long)accepted,
                     (unsigned long long)device->device_features);
            status &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
        }
    }
    /* NEEDS_RESET is ours to set, not the driver's. */
    device->status = (uint8_t)((status & ~VIRTIO_STATUS_NEEDS_RESET) |
                               (old & VIRTIO_STATUS_NEEDS_RESET));
    if ((status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
        if (!(device->status & VIRTIO_STATUS_FEATURES_OK)) {
            virtio_device_needs_reset(device, "driver set DRIVER_OK without FEATURES_OK");
            return;
        }
        device->ever_driver_ok = true;
        if (device->ops->driver_ok)
            device->ops->driver_ok(device);
        virtio_device_kick_queues(device);
    }
}

void virtio_device_enable_queue(struct virtio_device *device, unsigned queue)
{
    if (queue >= device->ops->queue_count)
        return;
    struct virtq *q = &device->queues[queue];
    if (q->started)
        return;
    q->event_idx = virtio_device_has(device, VIRTIO_F_EVENT_IDX);
    q->indirect = virtio_device_has(device, VIRTIO_F_INDIRECT_DESC);
    if (virtq_start(q, device->memory))
        virtio_device_needs_reset(device, "queue rings outside guest memory or misaligned");
}

void virtio_device_needs_reset(struct virtio_device *device, const char *why)
{
    if (!device->failed_logged) {
        device->failed_logged = true;
        log_message("%s: %s; the device needs a reset", device->ops->name, why);
    }
    if (device->status & VIRTIO_STATUS_NEEDS_RESET)
        return;
    device->status |= VIRTIO_STATUS_NEEDS_RESET;
    if (device->status & VIRTIO_STATUS_DRIVER_OK)
        virtio_device_config_changed(device);
}

void virtio_device_interrupt_queue(struct virtio_device *device, unsigned queue)
{
    if (virtq_should_interrupt(&device->queues[queue]) && device->interrupt)
        device->interrupt(device->transport, device->queue_vector[queue], false);
}

void virtio_device_config_changed(struct virtio_device *device)
{
    device->config_generation++;
    if (device->interrupt)
        device->interrupt(device->transport, device->config_vector, true);
}

static bool virtio_device_serving(const struct virtio_device *device, unsigned queue)
{
    /* FEATURES_OK too: without it driver_features were never checked. */
    return !device->reset_waiting && (device->status & VIRTIO_STATUS_DRIVER_OK) &&
           (device->status & VIRTIO_STATUS_FEATURES_OK) &&
           !(device->status & VIRTIO_STATUS_NEEDS_RESET) && device->queues[queue].started;
}

/* Is the thread that serves this device being asked to stop?  Checked
 * between requests, so that a stop never waits for a ring a guest keeps
 * full. */
static bool virtio_device_stopping(const struct virtio_device *device)
{
    return __atomic_load_n(&device->stopping, __ATOMIC_ACQUIRE) ||
           (device->loop && __atomic_load_n(&device->loop->stop, __ATOMIC_ACQUIRE));
}

void virtio_device_kick(struct virtio_device *device, unsigned queue)
{
    uint64_t one = 1;
    if (write(device->notify_fd[queue], &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_once("%s: kicking a queue: %s", device->ops->name, strerror(errno));
}

/* The handler runs without the device lock on a device with a thread of its
 * own (a disk: its requests block on I/O).  Registers stay the vCPUs' to use
 * meanwhile; only a reset waits, for the request to finish
 * (virtio_device_reset), so that nothing is pushed onto a reset ring. */
static uint32_t virtio_device_handle(struct virtio_device *device, struct virtq_chain *chain,
                                     uint32_t (*handle)(struct virtio_device *device,
                                                        struct virtq_chain *chain))
{
    if (!device->own_thread)
        return handle(device, chain);
    device->in_flight = true;
    pthread_mutex_unlock(&device->lock);
    uint32_t written = handle(device, chain);
    pthread_mutex_lock(&device->lock);
    device->in_flight = false;
    pthread_cond_broadcast(&device->idle);
    return written;
}

void virtio_device_serve_queue(struct virtio_device *device, unsigned queue,
                               struct virtq_chain *chain,
                               uint32_t (*handle)(struct virtio_device *device,
                                                  struct virtq_chain *chain))
{
    struct virtq *q = &device->queues[queue];
    bool pushed = false;
    unsigned served = 0;
    uint64_t deadline = virtio_now_ns() + VIRTIO_TURN_NS;
    for (;;) {
        enum virtq_error error;
        int result;
        while (virtio_device_serving(device, queue)) {
            /* One turn is bounded, in requests and in time: a guest that
             * keeps the ring full must not keep the thread from its other
             * queues, devices and terminal, nor from a stop. */
            if (virtio_device_stopping(device))
                goto done;
            if (served >= VIRTIO_TURN_REQUESTS || virtio_now_ns() >= deadline) {
                if (virtq_has_available(q)) {
                    virtio_device_kick(device, queue);
                    goto done;
                }
                /* Spent, but the ring is empty: the driver must still be
                 * told where to notify next (below), or with event index
                 * it never notifies again. */
                break;
            }
            if ((result = virtq_pop(q, chain, &error)) == 0)
                break;
            served++;
            if (result < 0 && chain->head == UINT16_MAX) {
                virtio_device_needs_reset(device, virtq_error_text(error));
                break;
            }
            uint32_t written = 0;
            if (result < 0)
                log_once("%s: bad request: %s", device->ops->name, virtq_error_text(error));
            else
                written = virtio_device_handle(device, chain, handle);
            if (written == VIRTIO_HANDLE_LATER) {
                virtq_unpop(q, 1);
                virtio_device_kick(device, queue);
                goto done;
            }
            virtq_push(q, chain->head, written);
            /* With event index the driver says which completion it wants an
             * interrupt for, so asking after each one costs nothing and lets
             * the guest start on finished requests while we do the rest. */
            if (q->event_idx)
                virtio_device_interrupt_queue(device, queue);
            else
                pushed = true;
        }
        if (device->polling || !virtio_device_serving(device, queue) ||
            !virtq_enable_notification(q))
            break;
    }
done:
    if (pushed)
        virtio_device_interrupt_queue(device, queue);
}

/* A notification: drain the eventfd, then let the device serve the queue. */
void virtio_device_notified(struct virtio_device *device, unsigned queue)
{
    uint64_t count;
    if (read(device->notify_fd[queue], &count, sizeof(count)) < 0 && errno != EAGAIN)
        log_once("%s: reading a queue notification: %s", device->ops->name, strerror(errno));
    pthread_mutex_lock(&device->lock);
    if (virtio_device_serving(device, queue))
        device->ops->queue_notify(device, queue);
    pthread_mutex_unlock(&device->lock);
}

static void virtio_device_loop_handler(struct event_source *source, uint32_t events)
{
    (void)events;
    struct virtio_device *device = source->opaque;
    virtio_device_notified(device, (unsigned)(source - device->notify_source));
}

/* After a burst of requests a device thread may keep looking at its rings
 * for a while, with notifications off, before it sleeps until the next
 * notification: each notification the driver need not send is a VM exit
 * saved.  How long is learnt, as KVM's halt polling does: the window grows
 * (from VIRTIO_POLL_MIN_NS, doubling, up to VIRTIO_POLL_MAX_NS) when a
 * notification came soon enough after the thread went to sleep that a
 * longer window would have caught it and it brought requests, and halves
 * when the next one came long after the window had closed or found the
 * rings empty.  A disk used now and then (a boot, a
 * lone fsync) never polls; one under steady load does.  The spin yields the
 * CPU on every turn, so on an overcommitted host it takes time only from
 * nobody.  The ceiling is 1 ms: in the nested test host, where a guest's
 * notification costs some 150 us, a 200 us ceiling never let the window
 * grow (4 KiB random reads 0.80x QEMU); 1 ms did (1.27x). */
#define VIRTIO_POLL_MIN_NS 10000
#define VIRTIO_POLL_MAX_NS 1000000

/* Serves what the driver makes available until window_ns pass without a
 * request; then turns notifications on (serving whatever slipped in).  The rings are watched without
 * the device lock, which is taken only when there is work: a vCPU that needs
 * the lock (a reset, a config read) is never kept waiting by a thread that
 * takes and drops it in a tight loop. */
static void virtio_device_poll(struct virtio_device *device, uint64_t window_ns)
{
    uint64_t deadline = virtio_now_ns() + window_ns;
    for (;;) {
        if (virtio_device_stopping(device))
            return;
        bool work = false;
        for (unsigned q = 0; q < device->ops->queue_count; q++)
            work |= virtq_peek_available(&device->queues[q]);
        if (work) {
            /* Chains on a queue we may not serve (a device that needs a
             * reset) are not work: they must not keep us spinning. */
            bool served = false;
            pthread_mutex_lock(&device->lock);
            for (unsigned q = 0; q < device->ops->queue_count; q++)
                if (virtio_device_serving(device, q) &&
                    virtq_has_available(&device->queues[q])) {
                    device->ops->queue_notify(device, q);
                    served = true;
                }
            pthread_mutex_unlock(&device->lock);
            if (served) {
                deadline = virtio_now_ns() + window_ns;
                continue;
            }
        }
        if (virtio_now_ns() < deadline) {
            sched_yield();
            continue;
        }
        bool more = false;
        pthread_mutex_lock(&device->lock);
        device->polling = false;
        for (unsigned q = 0; q < device->ops->queue_count; q++)
            if (virtio_device_serving(device, q) &&
                virtq_enable_notification(&device->queues[q])) {
                device->ops->queue_notify(device, q);
                more = true;
            }
        device->polling = more;
        pthread_mutex_unlock(&device->lock);
        if (!more)
            return;
        deadline = virtio_now_ns() + window_ns;
    }
}

static void *virtio_device_thread(void *opaque)
{
    struct virtio_device *device = opaque;
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) {
        log_message("%s: epoll_create1: %s", device->ops->name, strerror(errno));
        return NULL;
    }
    struct epoll_event event = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, device->stop_fd, &event);
    for (unsigned q = 0; q < device->ops->queue_count; q++) {
        event.data.u32 = q;
        epoll_ctl(epoll_fd, EPOLL_CTL_ADD, device->notify_fd[q], &event);
    }
    sandbox_enter(device->ops->thread_role, device->ops->name);
    uint64_t window_ns = 0, slept_at = virtio_now_ns();
    for (;;) {
        struct epoll_event ready[VIRTIO_MAX_QUEUES + 1];
        int count = epoll_wait(epoll_fd, ready, VIRTIO_MAX_QUEUES + 1, -1);
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0) {
            log_message("%s: epoll_wait: %s", device->ops->name, strerror(errno));
            break;
        }
        /* Only a doorbell that brought requests says a longer window would
         * have paid: a guest that rings on an empty ring (a hostile one, or
         * a confused driver) must not keep this thread spinning for free. */
        bool brought_work = false;
        for (int i = 0; i < count; i++)
            if (ready[i].data.u32 != UINT32_MAX &&
                virtq_peek_available(&device->queues[ready[i].data.u32]))
                brought_work = true;
        if (brought_work && virtio_now_ns() - slept_at <= VIRTIO_POLL_MAX_NS) {
            window_ns = window_ns ? window_ns * 2 : VIRTIO_POLL_MIN_NS;
            if (window_ns > VIRTIO_POLL_MAX_NS)
                window_ns = VIRTIO_POLL_MAX_NS;
        } else if (window_ns) {
            window_ns /= 2;
            if (window_ns < VIRTIO_POLL_MIN_NS)
                window_ns = 0;
        }
        bool stop = false;
        pthread_mutex_lock(&device->lock);
        device->polling = window_ns != 0;
        pthread_mutex_unlock(&device->lock);
        for (int i = 0; i < count; i++) {
            if (ready[i].data.u32 == UINT32_MAX)
                stop = true;
            else
                virtio_device_notified(device, ready[i].data.u32);
        }
        if (stop)
            break;
        if (window_ns && brought_work)
            virtio_device_poll(device, window_ns);
        slept_at = virtio_now_ns();
    }
    close(epoll_fd);
    return NULL;
}

int virtio_device_start(struct virtio_device *device, struct event_loop *loop, bool own_thread,
                        struct error *error)
{
    device->own_thread = own_thread;
    if (own_thread) {
        device->stop_fd = eventfd(0, EFD_CLOEXEC);
        if (device->stop_fd < 0)
            return error_set(error, "%s: eventfd: %s", device->ops->name, strerror(errno));
        int result = pthread_create(&device->thread, NULL, virtio_device_thread, device);
        if (result)
            return error_set(error, "%s: thread: %s", device->ops->name, strerror(result));
        device->thread_started = true;
        return 0;
    }
    device->loop = loop;
    for (unsigned q = 0; q < device->ops->queue_count; q++) {
        device->notify_source[q] =
            (struct event_source){device->notify_fd[q], virtio_device_loop_handler, device};
        /* Registered either way, so that watch_queue may turn it on later. */
        uint32_t events = device->queues_served_elsewhere & (1u << q) ? 0 : EPOLLIN;
        if (event_loop_watch(loop, &device->notify_source[q], events))
            return error_set(error, "%s: cannot watch its queues: %s", device->ops->name,
                             strerror(errno));
    }
    return 0;
}

void virtio_device_stop(struct virtio_device *device, struct event_loop *loop)
{
    if (device->thread_started) {
        uint64_t one = 1;
        __atomic_store_n(&device->stopping, true, __ATOMIC_RELEASE);
        if (write(device->stop_fd, &one, sizeof(one)) == sizeof(one))
            pthread_join(device->thread, NULL);
        device->thread_started = false;
    } else if (loop) {
        for (unsigned q = 0; q < device->ops->queue_count; q++)
            if (device->notify_source[q].handler)
                event_loop_forget(loop, &device->notify_source[q]);
    }
}

int virtio_device_watch_queue(struct virtio_device *device, unsigned queue, bool watch)
{
    if (!device->loop || queue >= device->ops->queue_count)
        return -1;
    return event_loop_rewatch(device->loop, &device->notify_source[queue], watch ? EPOLLIN : 0);
}
