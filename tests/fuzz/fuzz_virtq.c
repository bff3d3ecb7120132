/* The split virtqueue walker against guest memory the input fills: the
 * rings, descriptor tables and buffers are whatever the bytes say.  Every
 * chain is popped and pushed until the ring is empty or broken, and each
 * accepted chain is checked against an independent walk of the same
 * descriptors: bounded, readable before writable, every buffer inside
 * guest memory.
 *
 * Input: three control bytes, then guest memory from address 0.
 *   byte 0: bits 0-2 log2 of the queue size (1..128), bit 3 indirect
 *           descriptors negotiated, bit 4 event idx, bit 5 the device writes
 *           into the writable buffers (which may alias the rings), bit 6
 *           rings at the top of memory, bit 7 rings misaligned there
 *   bytes 1-2: the starting avail/used index (to cross 65535) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "virtio/queue.h"

#define MEMORY_SIZE 0x4000
#define CONTROL_BYTES 3
/* Default layout: room for the largest queue (128). */
#define DESC_TABLE 0x0000
#define AVAIL_RING 0x0800
#define USED_RING 0x0a00

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *host;
static struct guest_memory memory;

static struct virtq_desc read_desc(uint64_t address)
{
    struct virtq_desc desc;
    memcpy(&desc, host + address, sizeof(desc));
    return desc;
}

/* The buffers an accepted chain must consist of, found by following the
 * descriptors with no policy at all: readable/writable as flagged, empty
 * ones skipped.  Returns 0 if the walk does not end (then the walker
 * should not have accepted it). */
struct expected_buffer {
    uint64_t address;
    uint32_t length;
    bool writable;
};

static int reference_walk(const struct virtq *queue, uint16_t head, struct expected_buffer *out,
                          unsigned *count)
{
    *count = 0;
    uint64_t table = queue->desc_address;
    unsigned entries = queue->size;
    unsigned index = head;
    bool indirect = false;
    for (unsigned steps = 0; steps < 4096; steps++) {
        if (index >= entries)
            return 0;
        struct virtq_desc desc = read_desc(table + 16ull * index);
        if (desc.flags & VIRTQ_DESC_F_INDIRECT) {
            if (indirect)
                return 0;
            indirect = true;
            table = desc.address;
            entries = desc.length / 16;
            if (table >= MEMORY_SIZE || desc.length > MEMORY_SIZE - table)
                return 0;
            index = 0;
            continue;
        }
        if (desc.length) {
            if (*count >= VIRTQ_MAX_CHAIN_BUFFERS)
                return 0;
            out[(*count)++] =
                (struct expected_buffer){desc.address, desc.length, desc.flags & VIRTQ_DESC_F_WRITE};
        }
        if (!(desc.flags & VIRTQ_DESC_F_NEXT))
            return 1;
        index = desc.next;
    }
    return 0;
}

static void check_chain(const struct virtq *queue, const struct virtq_chain *chain)
{
    static struct expected_buffer expected[VIRTQ_MAX_CHAIN_BUFFERS];
    unsigned total = chain->readable_count + chain->writable_count;
    if (chain->head >= queue->size || total > VIRTQ_MAX_CHAIN_BUFFERS)
        abort();
    uint64_t readable = 0, writable = 0;
    for (unsigned i = 0; i < total; i++) {
        const struct virtq_buffer *buffer = &chain->buffers[i];
        uint8_t *start = buffer->host;
        if (buffer->length == 0 || start < host || start >= host + MEMORY_SIZE ||
            buffer->length > (uint64_t)(host + MEMORY_SIZE - start))
            abort(); /* outside guest memory */
        if (i < chain->readable_count)
            readable += buffer->length;
        else
            writable += buffer->length;
    }
    if (readable != chain->readable_bytes || writable != chain->writable_bytes ||
        readable + writable > VIRTQ_MAX_CHAIN_BYTES)
        abort();

    unsigned count;
    if (!reference_walk(queue, chain->head, expected, &count))
        abort(); /* accepted a chain that does not end */
    if (count != total)
        abort();
    bool seen_writable = false;
    for (unsigned i = 0; i < count; i++) {
        if (expected[i].writable)
            seen_writable = true;
        else if (seen_writable)
            abort(); /* readable after writable */
        if (expected[i].writable != (i >= chain->readable_count) ||
            chain->buffers[i].host != host + expected[i].address ||
            chain->buffers[i].length != expected[i].length)
            abort();
    }

    /* The copy helpers stay inside the chain. */
    static uint8_t scratch[MEMORY_SIZE + 64];
    uint64_t want = readable < sizeof(scratch) ? readable : sizeof(scratch);
    if (virtq_chain_read(chain, 0, scratch, want) != want)
        abort();
    if (virtq_chain_read(chain, readable, scratch, 1) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!host) {
        host = malloc(MEMORY_SIZE);
        if (!host)
            abort();
        guest_memory_init_over(&memory, host, MEMORY_SIZE);
    }
    if (size < CONTROL_BYTES)
        return 0;
    uint8_t control = data[0];
    uint16_t start_index = (uint16_t)(data[1] | data[2] << 8);
    memset(host, 0, MEMORY_SIZE);
    size_t image = size - CONTROL_BYTES < MEMORY_SIZE ? size - CONTROL_BYTES : MEMORY_SIZE;
    memcpy(host, data + CONTROL_BYTES, image);

    struct virtq queue;
    virtq_reset(&queue);
    queue.size = (uint16_t)(1u << (control & 7));
    queue.indirect = control & 8;
    queue.event_idx = control & 16;
    bool device_writes = control & 32;
    if (control & 64) {
        /* Packed against the end of memory: exactly fits, or (bit 7) not aligned. */
        uint64_t used_bytes = 6 + 8ull * queue.size, avail_bytes = 6 + 2ull * queue.size;
        queue.used_address = (MEMORY_SIZE - used_bytes) & ~3ull;
        queue.avail_address = (queue.used_address - avail_bytes) & ~1ull;
        queue.desc_address = (queue.avail_address - 16ull * queue.size) & ~15ull;
        if (control & 128)
            queue.used_address += 2;
    } else {
        queue.desc_address = DESC_TABLE;
        queue.avail_address = AVAIL_RING;
        queue.used_address = USED_RING;
    }
    if (virtq_start(&queue, &memory)) {
        if (!(control & 128))
            abort(); /* a layout that fits and is aligned must start */
        return 0;
    }
    if (queue.desc != (void *)(host + queue.desc_address))
        abort();
    queue.last_avail_idx = queue.used_idx = start_index;

    static struct virtq_chain chain;
    static const uint8_t zeros[MEMORY_SIZE];
    unsigned pops = 0, accepted = 0;
    for (;;) {
        enum virtq_error error = VIRTQ_OK;
        int result = virtq_pop(&queue, &chain, &error);
        if (result == 0) {
            if (error != VIRTQ_OK)
                abort();
            /* What a device does before sleeping: maybe more came meanwhile. */
            if (!virtq_enable_notification(&queue))
                break;
            continue;
        }
        if (++pops > 65536)
            abort(); /* the ring cannot supply more than this without writes */
        if (result < 0) {
            if (error == VIRTQ_OK)
                abort();
            if (chain.head == UINT16_MAX) {
                if (error != VIRTQ_ERROR_AVAIL_INDEX && error != VIRTQ_ERROR_HEAD)
                    abort();
                break; /* the ring is broken: a device would need a reset */
            }
            if (chain.head >= queue.size || chain.readable_count || chain.writable_count)
                abort();
            virtq_push(&queue, chain.head, 0);
            continue;
        }
        if (result != 1 || error != VIRTQ_OK)
            abort();
        accepted++;
        check_chain(&queue, &chain);
        uint64_t written = 0;
        if (device_writes)
            written = virtq_chain_write(&chain, 0, zeros,
                                        chain.writable_bytes < sizeof(zeros)
                                            ? chain.writable_bytes
                                            : sizeof(zeros));
        if (written > chain.writable_bytes)
            abort();
        virtq_push(&queue, chain.head, (uint32_t)written);
        uint16_t used_idx;
        memcpy(&used_idx, host + queue.used_address + 2, 2);
        if (used_idx != queue.used_idx)
            abort();
        virtq_should_interrupt(&queue);
    }
    /* Without device writes nothing but the used ring changed, so no more
     * chains than the ring held could come out. */
    if (!device_writes && pops > queue.size)
        abort();
    (void)accepted;
    return 0;
}
