#include "virtio/balloon.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

#define VIRTIO_BALLOON_F_STATS_VQ (1ull << 1)
#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM (1ull << 2)

#define QUEUE_INFLATE 0
#define QUEUE_DEFLATE 1
#define QUEUE_STATS 2

#define CONFIG_NUM_PAGES 0
#define CONFIG_ACTUAL 4

/* Linux sends at most 256 page numbers a request, and some ten statistics.
 * Past these bounds a request is a guest's attempt to hold the event loop
 * (each page number may cost an madvise): the rest is not read.  Leaving
 * pages unreleased is always allowed: a balloon is a request, not a
 * promise. */
#define MAX_PAGES_PER_REQUEST 4096
#define MAX_STATS 64

#define STAT_MEMFREE 4
#define STAT_AVAILABLE 6

struct __attribute__((packed)) virtio_balloon_stat {
    uint16_t tag;
    uint64_t value;
};

uint32_t virtio_balloon_target(uint32_t current_pages, uint64_t available_bytes,
                               uint32_t pages_to_keep, uint32_t guest_pages)
{
    /* Pages in the balloon are not available to the guest, so available
     * counts only what is outside it: move the balloon by the difference. */
    int64_t available_pages = (int64_t)(available_bytes / VIRTIO_BALLOON_PAGE_SIZE);
    int64_t target = (int64_t)current_pages + available_pages - (int64_t)pages_to_keep;
    if (target < 0)
        target = 0;
    if (target > guest_pages)
        target = guest_pages;
    return (uint32_t)target;
}

static uint32_t virtio_balloon_config_u32(const struct virtio_balloon *balloon, unsigned offset)
{
    uint32_t value;
    memcpy(&value, balloon->config + offset, 4);
    return value;
}

/* Releases count pages starting at guest page pfn, if all are guest RAM. */
static void virtio_balloon_release(struct virtio_balloon *balloon, uint64_t pfn, uint64_t count)
{
    void *host = guest_memory_ptr(balloon->device.memory, pfn * VIRTIO_BALLOON_PAGE_SIZE,
                                  count * VIRTIO_BALLOON_PAGE_SIZE);
    if (!host) {
        log_once("virtio-balloon: page 0x%llx is not guest memory", (unsigned long long)pfn);
        return;
    }
    if (madvise(host, count * VIRTIO_BALLOON_PAGE_SIZE, MADV_DONTNEED) < 0) {
        log_once("virtio-balloon: madvise: %s", strerror(errno));
        return;
    }
    balloon->pages_released += count;
}

uint32_t virtio_balloon_inflate(struct virtio_device *device, struct virtq_chain *chain)
{
    struct virtio_balloon *balloon = device->opaque;
    uint64_t bytes = chain->readable_bytes;
    if (bytes > MAX_PAGES_PER_REQUEST * 4ull) {
        log_once("virtio-balloon: a request of %llu pages: only the first %u are released",
                 (unsigned long long)(bytes / 4), MAX_PAGES_PER_REQUEST);
        bytes = MAX_PAGES_PER_REQUEST * 4ull;
    }
    /* An madvise that gives back a page the guest used costs the host an
     * invalidation in KVM's page tables: from some microseconds to half a
     * millisecond (PVM), so a request is released VIRTIO_TURN_NS at a time,
     * going on where it stopped when the same chain comes back. */
    uint64_t offset = 0;
    if (balloon->inflate_in_progress.active && balloon->inflate_in_progress.head == chain->head &&
        balloon->inflate_in_progress.bytes == bytes)
        offset = balloon->inflate_in_progress.offset;
    balloon->inflate_in_progress.active = false;
    uint64_t deadline = virtio_now_ns() + VIRTIO_TURN_NS;
    /* Runs of consecutive page numbers go to madvise together. */
    uint64_t run_start = 0, run_length = 0;
    for (; offset + 4 <= bytes; offset += 4) {
        uint32_t pfn;
        virtq_chain_read(chain, offset, &pfn, 4);
        if (run_length && pfn == run_start + run_length) {
            run_length++;
            continue;
        }
        if (run_length) {
            virtio_balloon_release(balloon, run_start, run_length);
            if (virtio_now_ns() >= deadline) {
                balloon->inflate_in_progress.active = true;
                balloon->inflate_in_progress.head = chain->head;
                balloon->inflate_in_progress.bytes = bytes;
                balloon->inflate_in_progress.offset = offset; /* pfn: not released yet */
                return VIRTIO_HANDLE_LATER;
            }
        }
        run_start = pfn;
        run_length = 1;
    }
    if (run_length)
        virtio_balloon_release(balloon, run_start, run_length);
    return 0;
}

/* Deflated pages need nothing: touching them faults fresh zero pages in. */
static uint32_t virtio_balloon_deflate(struct virtio_device *device, struct virtq_chain *chain)
{
    (void)device;
    (void)chain;
    return 0;
}

static void virtio_balloon_set_target(struct virtio_balloon *balloon, uint32_t target)
{
    if (virtio_balloon_config_u32(balloon, CONFIG_NUM_PAGES) == target)
        return;
    memcpy(balloon->config + CONFIG_NUM_PAGES, &target, 4);
    virtio_device_config_changed(&balloon->device);
}

/* The driver (re)filled its stats buffer: read it, resize, keep the chain. */
static void virtio_balloon_take_stats(struct virtio_balloon *balloon)
{
    struct virtio_device *device = &balloon->device;
    struct virtq *queue = &device->queues[QUEUE_STATS];
    enum virtq_error error;
    int result;
    /* A driver keeps one buffer here; one that keeps adding gets a ring's
     * worth a turn, then waits for the loop's next. */
    unsigned taken;
    for (taken = 0;
         taken < queue->size && (result = virtq_pop(queue, &balloon->chain, &error)) != 0;
         taken++) {
        if (result < 0 && balloon->chain.head == UINT16_MAX) {
            virtio_device_needs_reset(device, virtq_error_text(error));
            return;
        }
        if (balloon->stats_chain_held) {
            /* A second buffer while we hold one: give the old one back. */
            virtq_push(queue, balloon->stats_head, 0);
            virtio_device_interrupt_queue(device, QUEUE_STATS);
        }
        balloon->stats_chain_held = true;
        balloon->stats_head = balloon->chain.head;
        if (result < 0)
            continue;
        uint64_t available = UINT64_MAX, free_bytes = UINT64_MAX;
        struct virtio_balloon_stat stat;
        uint64_t bytes = balloon->chain.readable_bytes;
        if (bytes > MAX_STATS * sizeof(stat))
            bytes = MAX_STATS * sizeof(stat);
        for (uint64_t offset = 0; offset + sizeof(stat) <= bytes; offset += sizeof(stat)) {
            virtq_chain_read(&balloon->chain, offset, &stat, sizeof(stat));
            if (stat.tag == STAT_AVAILABLE)
                available = stat.value;
            else if (stat.tag == STAT_MEMFREE)
                free_bytes = stat.value;
        }
        if (available == UINT64_MAX)
            available = free_bytes;
        if (available == UINT64_MAX || !balloon->poll_seconds)
            continue;
        uint32_t current = virtio_balloon_config_u32(balloon, CONFIG_ACTUAL);
        virtio_balloon_set_target(balloon, virtio_balloon_target(current, available,
                                                                 balloon->pages_to_keep,
                                                                 balloon->guest_pages));
    }
    if (taken == queue->size && virtq_has_available(queue))
        virtio_device_kick(device, QUEUE_STATS); /* the rest on the loop's next turn */
}

static void virtio_balloon_queue_notify(struct virtio_device *device, unsigned queue)
{
    struct virtio_balloon *balloon = device->opaque;
    if (queue == QUEUE_INFLATE)
        virtio_device_serve_queue(device, queue, &balloon->chain, virtio_balloon_inflate);
    else if (queue == QUEUE_DEFLATE)
        virtio_device_serve_queue(device, queue, &balloon->chain, virtio_balloon_deflate);
    else
        virtio_balloon_take_stats(balloon);
}

/* Every poll_seconds: hand the stats buffer back, which asks for new stats. */
static void virtio_balloon_on_timer(struct event_source *source, uint32_t events)
{
    (void)events;
    struct virtio_balloon *balloon = source->opaque;
    uint64_t expirations;
    if (read(source->fd, &expirations, sizeof(expirations)) < 0)
        return;
    struct virtio_device *device = &balloon->device;
    pthread_mutex_lock(&device->lock);
    if (balloon->stats_chain_held && (device->status & VIRTIO_STATUS_DRIVER_OK) &&
        !(device->status & VIRTIO_STATUS_NEEDS_RESET)) {
        balloon->stats_chain_held = false;
        virtq_push(&device->queues[QUEUE_STATS], balloon->stats_head, 0);
        virtio_device_interrupt_queue(device, QUEUE_STATS);
    }
    pthread_mutex_unlock(&device->lock);
}

static void virtio_balloon_config_write(struct virtio_device *device, unsigned offset,
                                        const void *data, unsigned length)
{
    struct virtio_balloon *balloon = device->opaque;
    /* Only "actual" is the driver's to write. */
    if (offset >= CONFIG_ACTUAL && offset + length <= CONFIG_ACTUAL + 4) {
        memcpy(balloon->config + offset, data, length);
        uint64_t one = 1;
        if (balloon->size_event.fd >= 0 && write(balloon->size_event.fd, &one, sizeof(one)) < 0)
            log_once("virtio-balloon: size event: %s", strerror(errno));
    }
}

static void virtio_balloon_reset(struct virtio_device *device)
{
    struct virtio_balloon *balloon = device->opaque;
    balloon->stats_chain_held = false;
    balloon->inflate_in_progress.active = false;
    memset(balloon->config + CONFIG_ACTUAL, 0, 4);
}

static const struct virtio_device_ops virtio_balloon_ops = {
    .name = "virtio-balloon",
    .device_id = VIRTIO_ID_BALLOON,
    .queue_count = 3,
    .queue_max_size = 128,
    .queue_notify = virtio_balloon_queue_notify,
    .config_write = virtio_balloon_config_write,
    .reset = virtio_balloon_reset,
};

int virtio_balloon_init(struct virtio_balloon *balloon, const struct guest_memory *memory,
                        unsigned poll_seconds, uint32_t pages_to_keep, bool deflate_on_oom,
                        struct error *error)
{
    memset(balloon, 0, sizeof(*balloon));
    balloon->poll_seconds = poll_seconds;
    balloon->pages_to_keep = pages_to_keep;
    balloon->guest_pages = (uint32_t)(memory->total_size / VIRTIO_BALLOON_PAGE_SIZE);
    balloon->timer.fd = -1;
    balloon->size_event.fd = -1;
    balloon->size_reported = memory->total_size;
    uint64_t features = VIRTIO_BALLOON_F_STATS_VQ;
    if (deflate_on_oom)
        features |= VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
    return virtio_device_init(&balloon->device, &virtio_balloon_ops, balloon, memory,
                              balloon->config, sizeof(balloon->config), features, error);
}

int virtio_balloon_start(struct virtio_balloon *balloon, struct event_loop *loop,
                         struct error *error)
{
    if (virtio_device_start(&balloon->device, loop, false, error))
        return -1;
    if (!balloon->poll_seconds)
        return 0;
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (fd < 0)
        return error_set(error, "virtio-balloon: timerfd: %s", strerror(errno));
    struct itimerspec period = {{(time_t)balloon->poll_seconds, 0},
                                {(time_t)balloon->poll_seconds, 0}};
    timerfd_settime(fd, 0, &period, NULL);
    balloon->timer = (struct event_source){fd, virtio_balloon_on_timer, balloon};
    if (event_loop_watch(loop, &balloon->timer, EPOLLIN))
        return error_set(error, "virtio-balloon: cannot watch its timer: %s", strerror(errno));
    return 0;
}

void virtio_balloon_destroy(struct virtio_balloon *balloon)
{
    if (balloon->timer.fd >= 0)
        close(balloon->timer.fd);
    if (balloon->size_event.fd >= 0)
        close(balloon->size_event.fd);
    virtio_device_destroy(&balloon->device);
}

void virtio_balloon_request(struct virtio_balloon *balloon, uint64_t guest_bytes)
{
    uint64_t keep_pages = guest_bytes / VIRTIO_BALLOON_PAGE_SIZE;
    uint32_t target = keep_pages >= balloon->guest_pages
                          ? 0
                          : (uint32_t)(balloon->guest_pages - keep_pages);
    pthread_mutex_lock(&balloon->device.lock);
    virtio_balloon_set_target(balloon, target);
    pthread_mutex_unlock(&balloon->device.lock);
}

uint64_t virtio_balloon_guest_bytes(struct virtio_balloon *balloon)
{
    pthread_mutex_lock(&balloon->device.lock);
    uint32_t actual = virtio_balloon_config_u32(balloon, CONFIG_ACTUAL);
    pthread_mutex_unlock(&balloon->device.lock);
    uint32_t kept = actual < balloon->guest_pages ? balloon->guest_pages - actual : 0;
    return (uint64_t)kept * VIRTIO_BALLOON_PAGE_SIZE;
}

static void virtio_balloon_size_reported(struct event_source *source, uint32_t events)
{
    (void)events;
    struct virtio_balloon *balloon = source->opaque;
    uint64_t count;
    if (read(source->fd, &count, sizeof(count)) < 0)
        return;
    uint64_t bytes = virtio_balloon_guest_bytes(balloon);
    if (bytes == balloon->size_reported)
        return;
    balloon->size_reported = bytes;
    balloon->size_changed(balloon->size_changed_opaque, bytes);
}

int virtio_balloon_watch_size(struct virtio_balloon *balloon, struct event_loop *loop,
                              void (*changed)(void *opaque, uint64_t guest_bytes), void *opaque,
                              struct error *error)
{
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return error_set(error, "virtio-balloon: eventfd: %s", strerror(errno));
    balloon->size_changed = changed;
    balloon->size_changed_opaque = opaque;
    balloon->size_event = (struct event_source){fd, virtio_balloon_size_reported, balloon};
    if (event_loop_watch(loop, &balloon->size_event, EPOLLIN))
        return error_set(error, "virtio-balloon: cannot watch its size: %s", strerror(errno));
    return 0;
}
