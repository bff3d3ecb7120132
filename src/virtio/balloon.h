/* virtio-balloon (virtio spec 5.5) with the seed tool's policy: every
 * poll_seconds the guest's memory statistics are read and the balloon is
 * sized so the guest keeps pages_to_keep pages available; pages the guest
 * gives back are returned to the host with madvise(MADV_DONTNEED). */
#ifndef GUEST_VIRTIO_BALLOON_H
#define GUEST_VIRTIO_BALLOON_H

#include "event_loop.h"
#include "virtio/virtio.h"

#define VIRTIO_BALLOON_CONFIG_SIZE 8
#define VIRTIO_BALLOON_PAGE_SIZE 4096u

struct virtio_balloon {
    struct virtio_device device;
    uint8_t config[VIRTIO_BALLOON_CONFIG_SIZE]; /* num_pages, actual */
    unsigned poll_seconds;                     /* 0: no polling */
    uint32_t pages_to_keep;
    uint32_t guest_pages; /* all of guest RAM, in balloon pages */
    /* The stats buffer the driver gave us; returning it asks for fresh stats. */
    bool stats_chain_held;
    uint16_t stats_head;
    uint64_t pages_released; /* for messages and tests */
    /* An inflate request released in several turns: the chain with this
     * head and length goes on at offset (bytes into its page numbers). */
    struct {
        bool active;
        uint16_t head;
        uint64_t bytes, offset;
    } inflate_in_progress;
    struct event_source timer;
    struct virtq_chain chain;
    /* Told on the loop's thread when the driver reports a new size
     * (virtio_balloon_watch_size). */
    struct event_source size_event;
    void (*size_changed)(void *opaque, uint64_t guest_bytes);
    void *size_changed_opaque;
    uint64_t size_reported;
};

/* deflate_on_oom: the guest may take pages back from the balloon when it
 * runs out of memory (VIRTIO_BALLOON_F_DEFLATE_ON_OOM). */
int virtio_balloon_init(struct virtio_balloon *balloon, const struct guest_memory *memory,
                        unsigned poll_seconds, uint32_t pages_to_keep, bool deflate_on_oom,
                        struct error *error);

/* Starts the polling timer in loop (if poll_seconds). */
int virtio_balloon_start(struct virtio_balloon *balloon, struct event_loop *loop,
                         struct error *error);
void virtio_balloon_destroy(struct virtio_balloon *balloon);

/* QMP's balloon: asks the guest to leave it guest_bytes of RAM (the rest
 * in the balloon); clamped to what the guest has.  With -m the policy sets
 * the size again at its next poll. */
void virtio_balloon_request(struct virtio_balloon *balloon, uint64_t guest_bytes);
/* The RAM the guest has now, as its driver reports the balloon's size. */
uint64_t virtio_balloon_guest_bytes(struct virtio_balloon *balloon);
/* changed(opaque, guest_bytes) on loop's thread whenever the driver reports
 * a size other than the last one told (QMP's BALLOON_CHANGE); the driver's
 * report comes on a vCPU thread, which only wakes the loop. */
int virtio_balloon_watch_size(struct virtio_balloon *balloon, struct event_loop *loop,
                              void (*changed)(void *opaque, uint64_t guest_bytes), void *opaque,
                              struct error *error);

/* The new balloon size for the stats the guest reported: pure policy,
 * exposed for tests.  available_bytes is MemAvailable (or MemFree). */
uint32_t virtio_balloon_target(uint32_t current_pages, uint64_t available_bytes,
                               uint32_t pages_to_keep, uint32_t guest_pages);

/* Serves an inflate chain (page numbers to release); exposed for tests.
 * Returns VIRTIO_HANDLE_LATER when the turn's time ran out first: the same
 * chain, handed in again, goes on where it stopped. */
uint32_t virtio_balloon_inflate(struct virtio_device *device, struct virtq_chain *chain);

#endif
