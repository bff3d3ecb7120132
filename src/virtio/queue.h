/* Split virtqueues (virtio 1.x, section 2.7): the device side.  The rings
 * live in guest memory and the guest may change them under our feet at any
 * time, so every index and descriptor is read once into a local, checked,
 * and every buffer is translated through guest_memory_ptr(). */
#ifndef GUEST_VIRTIO_QUEUE_H
#define GUEST_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "memory.h"

#define VIRTQ_MAX_SIZE 1024
/* Hard bounds on one chain, direct and indirect descriptors together. */
#define VIRTQ_MAX_CHAIN_BUFFERS 512
#define VIRTQ_MAX_CHAIN_BYTES (256u << 20)

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};

struct virtq {
    /* Set by the driver through the transport. */
    uint16_t size;
    uint64_t desc_address, avail_address, used_address;
    bool event_idx;       /* VIRTIO_F_EVENT_IDX negotiated */
    bool indirect;        /* VIRTIO_F_INDIRECT_DESC negotiated */

    /* Valid once virtq_start() succeeded. */
    bool started;
    const struct guest_memory *memory;
    volatile struct virtq_desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
    volatile uint16_t *used;  /* flags, idx, then ring of {u32 id, u32 len}, avail_event */
    uint16_t last_avail_idx;
    uint16_t used_idx;
    uint16_t signalled_used; /* used_idx at the last interrupt (event idx) */
    bool signalled_used_valid;
};

struct virtq_buffer {
    void *host;
    uint32_t length;
};

/* One request: device-readable buffers first, then device-writable ones. */
struct virtq_chain {
    uint16_t head;
    uint16_t readable_count;
    uint16_t writable_count;
    uint64_t readable_bytes;
    uint64_t writable_bytes;
    struct virtq_buffer buffers[VIRTQ_MAX_CHAIN_BUFFERS];
};

/* Why a chain was refused (also used as log text). */
enum virtq_error {
    VIRTQ_OK = 0,
    VIRTQ_ERROR_AVAIL_INDEX, /* avail idx ran more than size ahead */
    VIRTQ_ERROR_HEAD,        /* head index outside the table */
    VIRTQ_ERROR_NEXT,        /* next index outside the table */
    VIRTQ_ERROR_LOOP,        /* more descriptors than the table holds */
    VIRTQ_ERROR_TOO_LONG,    /* more buffers or bytes than the bounds */
    VIRTQ_ERROR_ADDRESS,     /* buffer not in guest RAM */
    VIRTQ_ERROR_ORDER,       /* device-readable buffer after a writable one */
    VIRTQ_ERROR_INDIRECT,    /* bad indirect table, nested, or not negotiated */
};

const char *virtq_error_text(enum virtq_error error);

/* Checks the geometry and translates the rings; -1 if a ring is not in
 * guest RAM, the size is not a power of two, or the rings are misaligned. */
int virtq_start(struct virtq *queue, const struct guest_memory *memory);

/* Forgets everything the driver set (device reset). */
void virtq_reset(struct virtq *queue);

/* Takes the next available chain.  Returns 1 with *chain filled, 0 when
 * the ring is empty, or -1 with *error set:
 *   - a bad chain whose head is valid is consumed (chain->head set, no
 *     buffers) so the caller can complete it with length 0 and go on;
 *   - a bad avail index or head makes the queue unusable (return -1 with
 *     chain->head = UINT16_MAX): the device needs a reset. */
int virtq_pop(struct virtq *queue, struct virtq_chain *chain, enum virtq_error *error);

/* Gives back the last count chains taken with virtq_pop and not pushed: the
 * next virtq_pop takes them again, in the same order.  For a device that took
 * chains it cannot use yet (a frame for the guest that needs more buffers
 * than there are, a back end that cannot take a frame now).  Nothing is
 * written to the rings; chains that virtq_pop refused must be pushed, not
 * given back. */
void virtq_unpop(struct virtq *queue, uint16_t count);

/* Has the driver made chains available that we have not taken? */
bool virtq_has_available(const struct virtq *queue);

/* The same, without the device lock, for a thread that polls: it may be
 * wrong while the queue is being reset, so a true answer must be confirmed
 * with virtq_has_available under the lock. */
bool virtq_peek_available(const struct virtq *queue);

/* Returns a chain to the driver with the number of bytes written into it. */
void virtq_push(struct virtq *queue, uint16_t head, uint32_t written);

/* After pushing: does the driver want an interrupt now? */
bool virtq_should_interrupt(struct virtq *queue);

/* Before sleeping: tells the driver where to notify next (event idx) and
 * returns true if more chains arrived meanwhile (the caller keeps going). */
bool virtq_enable_notification(struct virtq *queue);

/* Copies between a chain's buffers and flat memory (for small headers). */
uint64_t virtq_chain_read(const struct virtq_chain *chain, uint64_t offset, void *data,
                          uint64_t length);
uint64_t virtq_chain_write(const struct virtq_chain *chain, uint64_t offset, const void *data,
                           uint64_t length);

#endif
