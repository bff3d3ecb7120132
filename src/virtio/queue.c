#include "virtio/queue.h"

#include <string.h>

/* Ring layout in 16-bit words: avail = flags, idx, ring[size], used_event;
 * used = flags, idx, ring[size] of 8 bytes each, avail_event. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 1
#define AVAIL_RING 2
#define USED_FLAGS 0
#define USED_IDX 1

static uint64_t virtq_avail_bytes(uint16_t size)
{
    return 6 + 2ull * size;
}

static uint64_t virtq_used_bytes(uint16_t size)
{
    return 6 + 8ull * size;
}

const char *virtq_error_text(enum virtq_error error)
{
    switch (error) {
    case VIRTQ_OK: return "no error";
    case VIRTQ_ERROR_AVAIL_INDEX: return "available index moved more than the queue size";
    case VIRTQ_ERROR_HEAD: return "chain head outside the descriptor table";
    case VIRTQ_ERROR_NEXT: return "next descriptor outside the table";
    case VIRTQ_ERROR_LOOP: return "descriptor chain loops";
    case VIRTQ_ERROR_TOO_LONG: return "descriptor chain too long";
    case VIRTQ_ERROR_ADDRESS: return "buffer outside guest memory";
    case VIRTQ_ERROR_ORDER: return "device-readable buffer after a writable one";
    case VIRTQ_ERROR_INDIRECT: return "bad indirect descriptor table";
    }
    return "unknown error";
}

/* Written only by the lock's holder, but read by a polling thread without
 * it (virtq_peek_available): stored atomically, so that read is no race. */
static void virtq_set_last_avail(struct virtq *queue, uint16_t index)
{
    __atomic_store_n(&queue->last_avail_idx, index, __ATOMIC_RELAXED);
}

int virtq_start(struct virtq *queue, const struct guest_memory *memory)
{
    uint16_t size = queue->size;
    if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
        return -1;
    /* Alignment from the spec (2.7): 16 for the table, 2 and 4 for the rings. */
    if ((queue->desc_address & 15) || (queue->avail_address & 1) || (queue->used_address & 3))
        return -1;
    void *desc = guest_memory_ptr(memory, queue->desc_address, 16ull * size);
    void *avail = guest_memory_ptr(memory, queue->avail_address, virtq_avail_bytes(size));
    void *used = guest_memory_ptr(memory, queue->used_address, virtq_used_bytes(size));
    if (!desc || !avail || !used)
        return -1;
    queue->memory = memory;
    queue->desc = desc;
    queue->used = used;
    virtq_set_last_avail(queue, 0);
    queue->used_idx = 0;
    queue->signalled_used_valid = false;
    queue->started = true;
    /* Last: a polling thread that sees the ring sees it whole. */
    __atomic_store_n(&queue->avail, (volatile uint16_t *)avail, __ATOMIC_RELEASE);
    return 0;
}

void virtq_reset(struct virtq *queue)
{
    /* The two fields virtq_peek_available reads without the lock are
     * cleared atomically (the ring first); the rest only the lock's
     * holders read. */
    __atomic_store_n(&queue->avail, NULL, __ATOMIC_RELEASE);
    virtq_set_last_avail(queue, 0);
    queue->size = 0;
    queue->desc_address = queue->avail_address = queue->used_address = 0;
    queue->event_idx = queue->indirect = queue->started = false;
    queue->memory = NULL;
    queue->desc = NULL;
    queue->used = NULL;
    queue->used_idx = queue->signalled_used = 0;
    queue->signalled_used_valid = false;
}

static uint16_t virtq_load16(volatile uint16_t *word)
{
    return __atomic_load_n(word, __ATOMIC_RELAXED);
}

static enum virtq_error virtq_add_buffer(const struct virtq *queue, struct virtq_chain *chain,
                                         const struct virtq_desc *desc)
{
    if (desc->length == 0)
        return VIRTQ_OK; /* nothing to transfer; harmless */
    unsigned count = chain->readable_count + chain->writable_count;
    if (count >= VIRTQ_MAX_CHAIN_BUFFERS)
        return VIRTQ_ERROR_TOO_LONG;
    if (chain->readable_bytes + chain->writable_bytes + desc->length > VIRTQ_MAX_CHAIN_BYTES)
        return VIRTQ_ERROR_TOO_LONG;
    void *host = guest_memory_ptr(queue->memory, desc->address, desc->length);
    if (!host)
        return VIRTQ_ERROR_ADDRESS;
    if (desc->flags & VIRTQ_DESC_F_WRITE) {
        chain->writable_count++;
        chain->writable_bytes += desc->length;
    } else {
        if (chain->writable_count)
            return VIRTQ_ERROR_ORDER;
        chain->readable_count++;
        chain->readable_bytes += desc->length;
    }
    chain->buffers[count] = (struct virtq_buffer){host, desc->length};
    return VIRTQ_OK;
}

/* Walks an indirect table: a chain of its own, inside the table only. */
static enum virtq_error virtq_walk_indirect(const struct virtq *queue, struct virtq_chain *chain,
                                            const struct virtq_desc *table_desc)
{
    if (!queue->indirect || (table_desc->flags & VIRTQ_DESC_F_NEXT) ||
        table_desc->length == 0 || table_desc->length % sizeof(struct virtq_desc) ||
        table_desc->length / sizeof(struct virtq_desc) > VIRTQ_MAX_CHAIN_BUFFERS)
        return VIRTQ_ERROR_INDIRECT;
    unsigned entries = table_desc->length / sizeof(struct virtq_desc);
    volatile struct virtq_desc *table =
        guest_memory_ptr(queue->memory, table_desc->address, table_desc->length);
    if (!table)
        return VIRTQ_ERROR_ADDRESS;
    unsigned index = 0;
    for (unsigned steps = 0;; steps++) {
        if (steps >= entries)
            return VIRTQ_ERROR_LOOP;
        struct virtq_desc desc = {table[index].address, table[index].length, table[index].flags,
                                  table[index].next};
        if (desc.flags & VIRTQ_DESC_F_INDIRECT)
            return VIRTQ_ERROR_INDIRECT; /* no nesting */
        enum virtq_error error = virtq_add_buffer(queue, chain, &desc);
        if (error)
            return error;
        if (!(desc.flags & VIRTQ_DESC_F_NEXT))
            return VIRTQ_OK;
        if (desc.next >= entries)
            return VIRTQ_ERROR_NEXT;
        index = desc.next;
    }
}

int virtq_pop(struct virtq *queue, struct virtq_chain *chain, enum virtq_error *error)
{
    *error = VIRTQ_OK;
    chain->head = UINT16_MAX;
    if (!queue->started)
        return 0;
    uint16_t avail_idx = virtq_load16(&queue->avail[AVAIL_IDX]);
    uint16_t pending = (uint16_t)(avail_idx - queue->last_avail_idx);
    if (pending == 0)
        return 0;
    if (pending > queue->size) {
        *error = VIRTQ_ERROR_AVAIL_INDEX;
        return -1;
    }
    /* The ring entry must be read after the index that published it. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    uint16_t head =
        virtq_load16(&queue->avail[AVAIL_RING + (queue->last_avail_idx & (queue->size - 1))]);
    if (head >= queue->size) {
        *error = VIRTQ_ERROR_HEAD;
        return -1;
    }
    virtq_set_last_avail(queue, (uint16_t)(queue->last_avail_idx + 1));
    chain->head = head;
    chain->readable_count = chain->writable_count = 0;
    chain->readable_bytes = chain->writable_bytes = 0;

    uint16_t index = head;
    for (unsigned steps = 0;; steps++) {
        enum virtq_error walk_error = VIRTQ_OK;
        if (steps >= queue->size) {
            walk_error = VIRTQ_ERROR_LOOP;
        } else {
            volatile struct virtq_desc *slot = &queue->desc[index];
            struct virtq_desc desc = {slot->address, slot->length, slot->flags, slot->next};
            if (desc.flags & VIRTQ_DESC_F_INDIRECT) {
                /* An indirect descriptor is the whole chain (2.7.5.3.1). */
                walk_error = steps == 0 ? virtq_walk_indirect(queue, chain, &desc)
                                        : VIRTQ_ERROR_INDIRECT;
                if (!walk_error)
                    return 1;
            } else {
                walk_error = virtq_add_buffer(queue, chain, &desc);
                if (!walk_error && !(desc.flags & VIRTQ_DESC_F_NEXT))
                    return 1;
                if (!walk_error && desc.next >= queue->size)
                    walk_error = VIRTQ_ERROR_NEXT;
                index = desc.next;
            }
        }
        if (walk_error) {
            chain->readable_count = chain->writable_count = 0;
            chain->readable_bytes = chain->writable_bytes = 0;
            *error = walk_error;
            return -1;
        }
    }
}

void virtq_unpop(struct virtq *queue, uint16_t count)
{
    if (queue->started)
        virtq_set_last_avail(queue, (uint16_t)(queue->last_avail_idx - count));
}

bool virtq_has_available(const struct virtq *queue)
{
    return queue->started && virtq_load16(&queue->avail[AVAIL_IDX]) != queue->last_avail_idx;
}

bool virtq_peek_available(const struct virtq *queue)
{
    /* Racing a reset or a start is harmless: both store the fields read
     * here atomically; a stale ring pointer still points into guest memory,
     * which stays mapped for the VM's life; and the caller looks again under
     * the lock before it acts. */
    volatile uint16_t *avail = __atomic_load_n(&queue->avail, __ATOMIC_ACQUIRE);
    if (!avail)
        return false;
    return virtq_load16(&avail[AVAIL_IDX]) !=
           __atomic_load_n(&queue->last_avail_idx, __ATOMIC_RELAXED);
}

void virtq_push(struct virtq *queue, uint16_t head, uint32_t written)
{
    if (!queue->started)
        return;
    volatile uint32_t *ring = (volatile uint32_t *)(queue->used + 2);
    unsigned slot = queue->used_idx & (queue->size - 1);
    ring[2 * slot] = head;
    ring[2 * slot + 1] = written;
    queue->used_idx++;
    /* The entry must be visible before the index that publishes it. */
    __atomic_store_n(&queue->used[USED_IDX], queue->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_interrupt(struct virtq *queue)
{
    if (!queue->started)
        return false;
    /* Our used idx store must be ordered before reading the driver's
     * suppression fields, or an interrupt can be lost (2.7.10). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!queue->event_idx)
        return !(virtq_load16(&queue->avail[AVAIL_FLAGS]) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    uint16_t old = queue->signalled_used, new = queue->used_idx;
    bool valid = queue->signalled_used_valid;
    queue->signalled_used = new;
    queue->signalled_used_valid = true;
    if (!valid)
        return true;
    uint16_t used_event = virtq_load16(&queue->avail[AVAIL_RING + queue->size]);
    /* The driver wants an interrupt when used idx passes used_event. */
    return (uint16_t)(new - used_event - 1) < (uint16_t)(new - old);
}

bool virtq_enable_notification(struct virtq *queue)
{
    if (!queue->started)
        return false;
    if (queue->event_idx) {
        volatile uint16_t *avail_event = queue->used + 2 + 4 * queue->size;
        __atomic_store_n(avail_event, queue->last_avail_idx, __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(&queue->used[USED_FLAGS], 0, __ATOMIC_RELAXED);
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return virtq_load16(&queue->avail[AVAIL_IDX]) != queue->last_avail_idx;
}

/* Copies between data and bytes [offset, offset + length) of buffers
 * [first, end) of the chain, in the direction asked. */
static uint64_t virtq_chain_copy(const struct virtq_chain *chain, unsigned first, unsigned end,
                                 uint64_t offset, uint8_t *data, uint64_t length,
                                 bool to_chain)
{
    uint64_t done = 0;
    for (unsigned i = first; i < end && done < length; i++) {
        const struct virtq_buffer *buffer = &chain->buffers[i];
        if (offset >= buffer->length) {
            offset -= buffer->length;
            continue;
        }
        uint64_t count = buffer->length - offset;
        if (count > length - done)
            count = length - done;
        uint8_t *host = (uint8_t *)buffer->host + offset;
        if (to_chain)
            memcpy(host, data + done, count);
        else
            memcpy(data + done, host, count);
        done += count;
        offset = 0;
    }
    return done;
}

uint64_t virtq_chain_read(const struct virtq_chain *chain, uint64_t offset, void *data,
                          uint64_t length)
{
    return virtq_chain_copy(chain, 0, chain->readable_count, offset, data, length, false);
}

uint64_t virtq_chain_write(const struct virtq_chain *chain, uint64_t offset, const void *data,
                           uint64_t length)
{
    /* The copy only reads data when to_chain is set. */
    return virtq_chain_copy(chain, chain->readable_count,
                            chain->readable_count + chain->writable_count, offset,
                            (uint8_t *)(uintptr_t)data, length, true);
}
