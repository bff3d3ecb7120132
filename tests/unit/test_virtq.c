/* The split virtqueue, device side, against rings built by hand in guest
 * memory: the good paths a Linux driver takes, and the bad chains a hostile
 * guest can build (loops, indices out of range, overlong chains, buffers
 * outside RAM, bad indirect tables), each of which must fail cleanly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "guest_words.h"
#include "memory.h"
#include "virtio/queue.h"

#define MiB (1ull << 20)
#define MEMORY_SIZE MiB

/* Guest-physical layout of the test rings: room for the largest queue. */
#define DESC_TABLE 0x1000ull     /* 1024 * 16 bytes: up to 0x5000 */
#define AVAIL_RING 0x5000ull     /* 6 + 2 * 1024 bytes */
#define USED_RING 0x6000ull      /* 6 + 8 * 1024 bytes */
#define INDIRECT_TABLE 0x9000ull /* up to 0x3000 bytes */
#define DATA 0x10000ull

struct fixture {
    uint8_t *host;
    uint64_t memory_size;
    bool mapped; /* host came from mmap (the large-memory test), not calloc */
    struct guest_memory memory;
    struct virtq queue;
    struct virtq_chain chain;
    uint16_t avail_idx; /* the driver's next avail index */
};

static void put_desc(struct fixture *fixture, uint64_t table, unsigned index, uint64_t address,
                     uint32_t length, uint16_t flags, uint16_t next)
{
    struct virtq_desc desc = {address, length, flags, next};
    memcpy(fixture->host + table + 16ull * index, &desc, sizeof(desc));
}

/* The driver's side of making a chain available: ring entry, then index. */
static void offer(struct fixture *fixture, uint16_t head)
{
    uint16_t size = fixture->queue.size;
    guest_put16(fixture->host, AVAIL_RING + 4 + 2ull * (fixture->avail_idx & (size - 1)), head);
    fixture->avail_idx++;
    guest_put16(fixture->host, AVAIL_RING + 2, fixture->avail_idx);
}

static void set_used_event(struct fixture *fixture, uint16_t value)
{
    guest_put16(fixture->host, AVAIL_RING + 4 + 2ull * fixture->queue.size, value);
}

static uint16_t used_idx(const struct fixture *fixture)
{
    return guest_get16(fixture->host, USED_RING + 2);
}

static uint32_t used_id(const struct fixture *fixture, unsigned slot)
{
    return guest_get32(fixture->host, USED_RING + 4 + 8ull * slot);
}

static uint32_t used_length(const struct fixture *fixture, unsigned slot)
{
    return guest_get32(fixture->host, USED_RING + 4 + 8ull * slot + 4);
}

static void configure(struct fixture *fixture, uint16_t size, bool indirect, bool event_idx)
{
    virtq_reset(&fixture->queue);
    fixture->queue.size = size;
    fixture->queue.desc_address = DESC_TABLE;
    fixture->queue.avail_address = AVAIL_RING;
    fixture->queue.used_address = USED_RING;
    fixture->queue.indirect = indirect;
    fixture->queue.event_idx = event_idx;
}

static void start(struct fixture *fixture, uint16_t size, bool indirect, bool event_idx)
{
    configure(fixture, size, indirect, event_idx);
    /* A fresh driver: rings and tables zeroed. */
    memset(fixture->host + DESC_TABLE, 0, DATA - DESC_TABLE);
    fixture->avail_idx = 0;
    assert_int_equal(virtq_start(&fixture->queue, &fixture->memory), 0);
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    if (!fixture)
        return -1;
    fixture->memory_size = MEMORY_SIZE;
    fixture->host = calloc(1, MEMORY_SIZE);
    if (!fixture->host)
        return -1;
    guest_memory_init_over(&fixture->memory, fixture->host, MEMORY_SIZE);
    configure(fixture, 8, true, false);
    if (virtq_start(&fixture->queue, &fixture->memory))
        return -1;
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    if (fixture->mapped)
        munmap(fixture->host, fixture->memory_size);
    else
        free(fixture->host);
    free(fixture);
    return 0;
}

/* Pops and expects a refused chain whose head was consumed. */
static void expect_bad_chain(struct fixture *fixture, uint16_t head, enum virtq_error expected)
{
    enum virtq_error error = VIRTQ_OK;
    uint16_t before = fixture->queue.last_avail_idx;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), -1);
    assert_int_equal(error, expected);
    assert_int_equal(fixture->chain.head, head);
    assert_int_equal(fixture->chain.readable_count, 0);
    assert_int_equal(fixture->chain.writable_count, 0);
    assert_int_equal(fixture->chain.readable_bytes, 0);
    assert_int_equal(fixture->chain.writable_bytes, 0);
    assert_int_equal(fixture->queue.last_avail_idx, (uint16_t)(before + 1));
}

static void expect_good_chain(struct fixture *fixture, uint16_t head)
{
    enum virtq_error error = VIRTQ_ERROR_LOOP;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), 1);
    assert_int_equal(error, VIRTQ_OK);
    assert_int_equal(fixture->chain.head, head);
}

static void test_start_geometry(void **state)
{
    struct fixture *fixture = *state;
    struct virtq *queue = &fixture->queue;
    static const uint16_t bad_sizes[] = {0, 3, 6, 100, 1023, 2048, 0x8000, 0xffff};
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        configure(fixture, bad_sizes[i], true, false);
        assert_int_equal(virtq_start(queue, &fixture->memory), -1);
        assert_false(queue->started);
    }
    static const uint16_t good_sizes[] = {1, 2, 8, 256, VIRTQ_MAX_SIZE};
    for (size_t i = 0; i < sizeof(good_sizes) / sizeof(good_sizes[0]); i++) {
        configure(fixture, good_sizes[i], true, false);
        assert_int_equal(virtq_start(queue, &fixture->memory), 0);
        assert_true(queue->started);
        assert_ptr_equal((void *)queue->desc, fixture->host + DESC_TABLE);
        assert_ptr_equal((void *)queue->avail, fixture->host + AVAIL_RING);
        assert_ptr_equal((void *)queue->used, fixture->host + USED_RING);
    }

    /* Alignment (2.7): 16 for the table, 2 for avail, 4 for used. */
    configure(fixture, 8, true, false);
    queue->desc_address = DESC_TABLE + 8;
    assert_int_equal(virtq_start(queue, &fixture->memory), -1);
    configure(fixture, 8, true, false);
    queue->avail_address = AVAIL_RING + 1;
    assert_int_equal(virtq_start(queue, &fixture->memory), -1);
    configure(fixture, 8, true, false);
    queue->used_address = USED_RING + 2;
    assert_int_equal(virtq_start(queue, &fixture->memory), -1);
    configure(fixture, 8, true, false);
    queue->avail_address = AVAIL_RING + 2; /* 2-aligned is enough for avail */
    queue->used_address = USED_RING + 4;   /* and 4-aligned for used */
    assert_int_equal(virtq_start(queue, &fixture->memory), 0);

    /* Each ring must lie wholly in RAM: one byte short fails. */
    configure(fixture, 8, true, false);
    queue->desc_address = MEMORY_SIZE - 16 * 8;
    assert_int_equal(virtq_start(queue, &fixture->memory), 0);
    queue->desc_address = MEMORY_SIZE - 16 * 8 + 16;
    assert_int_equal(virtq_start(queue, &fixture->memory), -1);
    configure(fixture, 8, true, false);
    queue->avail_address = MEMORY_SIZE - (6 + 2 * 8);
    assert_int_equal(virtq_start(queue, &fixture->memory), 0);
    queue->avail_address = MEMORY_SIZE - (6 + 2 * 8) + 2;
    assert_int_equal(virtq_start(queue, &fixture->memory), -1);
    configure(fixture, 8, true, false);
    queue->used_address = MEMORY_SIZE - (6 + 8 * 8) - 2; /* 4-aligned, fits */
    assert_int_equal(virtq_start(queue, &fixture->memory), 0);
    queue->used_address = MEMORY_SIZE - (6 + 8 * 8) + 2;
    assert_int_equal(virtq_start(queue, &fixture->memory), -1);
    /* Addresses that wrap around 2^64 or sit far above RAM. */
    configure(fixture, 8, true, false);
    queue->desc_address = 0xfffffffffffffff0ull;
    assert_int_equal(virtq_start(queue, &fixture->memory), -1);
    configure(fixture, 8, true, false);
    queue->used_address = 0xfffffffffffffffcull;
    assert_int_equal(virtq_start(queue, &fixture->memory), -1);
    configure(fixture, 8, true, false);
    queue->avail_address = 1ull << 40;
    assert_int_equal(virtq_start(queue, &fixture->memory), -1);
}

static void test_not_started(void **state)
{
    struct fixture *fixture = *state;
    configure(fixture, 8, true, true);
    offer(fixture, 0);
    enum virtq_error error = VIRTQ_ERROR_LOOP;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), 0);
    assert_int_equal(error, VIRTQ_OK);
    virtq_push(&fixture->queue, 0, 1);
    assert_int_equal(used_idx(fixture), 0);
    assert_false(virtq_should_interrupt(&fixture->queue));
    assert_false(virtq_enable_notification(&fixture->queue));
}

static void test_empty_ring(void **state)
{
    struct fixture *fixture = *state;
    enum virtq_error error = VIRTQ_ERROR_LOOP;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), 0);
    assert_int_equal(error, VIRTQ_OK);
    assert_int_equal(fixture->chain.head, UINT16_MAX);
    assert_int_equal(fixture->queue.last_avail_idx, 0);
}

static void test_three_descriptor_chain(void **state)
{
    struct fixture *fixture = *state;
    /* As virtio-blk sends a read: header, data, status; linked out of order. */
    put_desc(fixture, DESC_TABLE, 3, DATA, 16, VIRTQ_DESC_F_NEXT, 6);
    put_desc(fixture, DESC_TABLE, 6, DATA + 0x1000, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
             1);
    put_desc(fixture, DESC_TABLE, 1, DATA + 0x3000, 1, VIRTQ_DESC_F_WRITE, 7 /* ignored */);
    offer(fixture, 3);
    expect_good_chain(fixture, 3);
    const struct virtq_chain *chain = &fixture->chain;
    assert_int_equal(chain->readable_count, 1);
    assert_int_equal(chain->writable_count, 2);
    assert_int_equal(chain->readable_bytes, 16);
    assert_int_equal(chain->writable_bytes, 4097);
    assert_ptr_equal(chain->buffers[0].host, fixture->host + DATA);
    assert_int_equal(chain->buffers[0].length, 16);
    assert_ptr_equal(chain->buffers[1].host, fixture->host + DATA + 0x1000);
    assert_int_equal(chain->buffers[1].length, 4096);
    assert_ptr_equal(chain->buffers[2].host, fixture->host + DATA + 0x3000);
    assert_int_equal(chain->buffers[2].length, 1);
    assert_int_equal(fixture->queue.last_avail_idx, 1);

    enum virtq_error error;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), 0);
}

static void test_single_and_all_readable_chains(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, DESC_TABLE, 0, DATA, 100, 0, 0);
    put_desc(fixture, DESC_TABLE, 1, DATA + 100, 7, VIRTQ_DESC_F_WRITE, 0);
    offer(fixture, 0);
    offer(fixture, 1);
    expect_good_chain(fixture, 0);
    assert_int_equal(fixture->chain.readable_count, 1);
    assert_int_equal(fixture->chain.writable_count, 0);
    expect_good_chain(fixture, 1);
    assert_int_equal(fixture->chain.readable_count, 0);
    assert_int_equal(fixture->chain.writable_count, 1);
    assert_int_equal(fixture->chain.writable_bytes, 7);
}

static void test_chain_through_whole_table(void **state)
{
    struct fixture *fixture = *state;
    /* Every descriptor once is not a loop. */
    for (unsigned i = 0; i < 8; i++)
        put_desc(fixture, DESC_TABLE, i, DATA + i, 1, i < 7 ? VIRTQ_DESC_F_NEXT : 0,
                 (uint16_t)(i + 1));
    offer(fixture, 0);
    expect_good_chain(fixture, 0);
    assert_int_equal(fixture->chain.readable_count, 8);
}

static void test_zero_length_descriptors(void **state)
{
    struct fixture *fixture = *state;
    /* Empty buffers carry nothing: skipped, even with an address outside RAM. */
    put_desc(fixture, DESC_TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
    put_desc(fixture, DESC_TABLE, 1, 0xfffffffffffff000ull, 0, VIRTQ_DESC_F_NEXT, 2);
    put_desc(fixture, DESC_TABLE, 2, DATA + 16, 1, VIRTQ_DESC_F_WRITE, 0);
    offer(fixture, 0);
    expect_good_chain(fixture, 0);
    assert_int_equal(fixture->chain.readable_count, 1);
    assert_int_equal(fixture->chain.writable_count, 1);
    assert_ptr_equal(fixture->chain.buffers[1].host, fixture->host + DATA + 16);
}

static void test_push_fills_used_ring(void **state)
{
    struct fixture *fixture = *state;
    for (uint16_t i = 0; i < 8; i++) {
        put_desc(fixture, DESC_TABLE, i, DATA + 512ull * i, 512, VIRTQ_DESC_F_WRITE, 0);
        offer(fixture, (uint16_t)(7 - i));
    }
    for (uint16_t i = 0; i < 8; i++) {
        expect_good_chain(fixture, (uint16_t)(7 - i));
        virtq_push(&fixture->queue, fixture->chain.head, 100u + i);
        assert_int_equal(used_idx(fixture), i + 1);
        assert_int_equal(used_id(fixture, i), 7 - i);
        assert_int_equal(used_length(fixture, i), 100 + i);
    }
    /* The ring wraps: the ninth completion lands in slot 0. */
    offer(fixture, 2);
    expect_good_chain(fixture, 2);
    virtq_push(&fixture->queue, 2, 4242);
    assert_int_equal(used_idx(fixture), 9);
    assert_int_equal(used_id(fixture, 0), 2);
    assert_int_equal(used_length(fixture, 0), 4242);
    assert_int_equal(used_id(fixture, 1), 6); /* untouched */
}

/* A device that took chains it cannot use yet gives them back: they come
 * again in the same order, and the used ring never hears of them. */
static void test_unpop(void **state)
{
    struct fixture *fixture = *state;
    for (uint16_t i = 0; i < 3; i++) {
        put_desc(fixture, DESC_TABLE, i, DATA + 0x100ull * i, 64, VIRTQ_DESC_F_WRITE, 0);
        offer(fixture, (uint16_t)(2 - i));
    }
    expect_good_chain(fixture, 2);
    expect_good_chain(fixture, 1);
    virtq_unpop(&fixture->queue, 2);
    assert_int_equal(fixture->queue.last_avail_idx, 0);
    assert_int_equal(used_idx(fixture), 0);
    assert_true(virtq_has_available(&fixture->queue));
    expect_good_chain(fixture, 2);
    virtq_push(&fixture->queue, 2, 10);
    expect_good_chain(fixture, 1);
    expect_good_chain(fixture, 0);
    virtq_unpop(&fixture->queue, 1);
    expect_good_chain(fixture, 0);
    enum virtq_error error;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), 0);
    assert_int_equal(used_idx(fixture), 1);
    assert_int_equal(used_id(fixture, 0), 2);

    /* Across the wrap of the 16-bit index. */
    fixture->queue.last_avail_idx = 0xffff;
    fixture->avail_idx = 0xffff;
    offer(fixture, 1);
    offer(fixture, 0);
    expect_good_chain(fixture, 1);
    expect_good_chain(fixture, 0);
    assert_int_equal(fixture->queue.last_avail_idx, 1);
    virtq_unpop(&fixture->queue, 2);
    assert_int_equal(fixture->queue.last_avail_idx, 0xffff);
    expect_good_chain(fixture, 1);

    /* A queue that is not running has nothing to give back. */
    configure(fixture, 8, true, false);
    virtq_unpop(&fixture->queue, 1);
    assert_int_equal(fixture->queue.last_avail_idx, 0);
}

static void test_index_wraparound(void **state)
{
    struct fixture *fixture = *state;
    /* Both 16-bit indices run over 65535 back to 0 mid-stream. */
    fixture->queue.last_avail_idx = 65534;
    fixture->queue.used_idx = 65534;
    fixture->avail_idx = 65534;
    guest_put16(fixture->host, AVAIL_RING + 2, 65534);
    for (uint16_t i = 0; i < 4; i++) {
        put_desc(fixture, DESC_TABLE, i, DATA + 64ull * i, 64, VIRTQ_DESC_F_WRITE, 0);
        offer(fixture, i);
    }
    assert_int_equal(guest_get16(fixture->host, AVAIL_RING + 2), 2); /* 65534 + 4, mod 2^16 */
    for (uint16_t i = 0; i < 4; i++) {
        expect_good_chain(fixture, i);
        virtq_push(&fixture->queue, i, 64);
    }
    assert_int_equal(fixture->queue.last_avail_idx, 2);
    assert_int_equal(used_idx(fixture), 2);
    /* 65534 and 65535 are slots 6 and 7 of a ring of 8; 0 and 1 follow. */
    assert_int_equal(used_id(fixture, 6), 0);
    assert_int_equal(used_id(fixture, 7), 1);
    assert_int_equal(used_id(fixture, 0), 2);
    assert_int_equal(used_id(fixture, 1), 3);
    enum virtq_error error;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), 0);
}

static void test_avail_index_jump(void **state)
{
    struct fixture *fixture = *state;
    for (unsigned i = 0; i < 8; i++)
        put_desc(fixture, DESC_TABLE, i, DATA, 1, 0, 0);
    /* A full ring (exactly size ahead) is fine... */
    guest_put16(fixture->host, AVAIL_RING + 2, 8);
    expect_good_chain(fixture, 0);
    /* ...more than size ahead cannot be: the ring is broken. */
    guest_put16(fixture->host, AVAIL_RING + 2, 1 + 8 + 1);
    enum virtq_error error = VIRTQ_OK;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), -1);
    assert_int_equal(error, VIRTQ_ERROR_AVAIL_INDEX);
    assert_int_equal(fixture->chain.head, UINT16_MAX);
    assert_int_equal(fixture->queue.last_avail_idx, 1);
    /* Going backwards looks like a jump of almost 2^16. */
    guest_put16(fixture->host, AVAIL_RING + 2, 0);
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), -1);
    assert_int_equal(error, VIRTQ_ERROR_AVAIL_INDEX);
}

static void test_head_out_of_range(void **state)
{
    struct fixture *fixture = *state;
    static const uint16_t bad_heads[] = {8, 9, 0x8000, 0xffff};
    for (size_t i = 0; i < sizeof(bad_heads) / sizeof(bad_heads[0]); i++) {
        start(fixture, 8, true, false);
        offer(fixture, bad_heads[i]);
        enum virtq_error error = VIRTQ_OK;
        assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), -1);
        assert_int_equal(error, VIRTQ_ERROR_HEAD);
        assert_int_equal(fixture->chain.head, UINT16_MAX); /* nothing to complete */
        assert_int_equal(fixture->queue.last_avail_idx, 0);
    }
}

static void test_next_out_of_range(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, DESC_TABLE, 2, DATA, 16, VIRTQ_DESC_F_NEXT, 8);
    put_desc(fixture, DESC_TABLE, 4, DATA, 16, VIRTQ_DESC_F_NEXT, 0xffff);
    offer(fixture, 2);
    offer(fixture, 4);
    expect_bad_chain(fixture, 2, VIRTQ_ERROR_NEXT);
    expect_bad_chain(fixture, 4, VIRTQ_ERROR_NEXT);
}

static void test_direct_loops(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, DESC_TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 0); /* itself */
    put_desc(fixture, DESC_TABLE, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
    put_desc(fixture, DESC_TABLE, 2, DATA, 16, VIRTQ_DESC_F_NEXT, 3);
    put_desc(fixture, DESC_TABLE, 3, DATA, 16, VIRTQ_DESC_F_NEXT, 1); /* 1 -> 2 -> 3 -> 1 */
    /* Zero-length descriptors add no buffers, so only the step count stops this one. */
    put_desc(fixture, DESC_TABLE, 5, 0, 0, VIRTQ_DESC_F_NEXT, 6);
    put_desc(fixture, DESC_TABLE, 6, 0, 0, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
    offer(fixture, 0);
    offer(fixture, 1);
    offer(fixture, 5);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_LOOP);
    expect_bad_chain(fixture, 1, VIRTQ_ERROR_LOOP);
    expect_bad_chain(fixture, 5, VIRTQ_ERROR_LOOP);
}

static void test_bad_chain_then_good_chain(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, DESC_TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
    put_desc(fixture, DESC_TABLE, 1, DATA, 16, 0, 0);
    offer(fixture, 0);
    offer(fixture, 1);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_LOOP);
    /* The caller completes the bad one with 0 bytes and goes on. */
    virtq_push(&fixture->queue, fixture->chain.head, 0);
    expect_good_chain(fixture, 1);
    assert_int_equal(fixture->chain.readable_count, 1);
    assert_int_equal(used_idx(fixture), 1);
    assert_int_equal(used_id(fixture, 0), 0);
    assert_int_equal(used_length(fixture, 0), 0);
}

static void test_chain_too_many_buffers(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, VIRTQ_MAX_SIZE, true, false);
    /* Descriptors 0..599 in a line: 600 buffers, more than the bound. */
    for (unsigned i = 0; i < 600; i++)
        put_desc(fixture, DESC_TABLE, i, DATA + i, 1, i < 599 ? VIRTQ_DESC_F_NEXT : 0,
                 (uint16_t)(i + 1));
    offer(fixture, 0);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_TOO_LONG);
    /* Exactly the bound is allowed: start 88 further in. */
    offer(fixture, 600 - VIRTQ_MAX_CHAIN_BUFFERS);
    expect_good_chain(fixture, 600 - VIRTQ_MAX_CHAIN_BUFFERS);
    assert_int_equal(fixture->chain.readable_count, VIRTQ_MAX_CHAIN_BUFFERS);
    assert_ptr_equal(fixture->chain.buffers[VIRTQ_MAX_CHAIN_BUFFERS - 1].host,
                     fixture->host + DATA + 599);
}

static void test_chain_too_many_bytes(void **state)
{
    struct fixture *fixture = *state;
    /* The byte bound must hold even where RAM would have the buffers: give
     * this test more guest memory than the bound (untouched, so cheap). */
    uint64_t size = VIRTQ_MAX_CHAIN_BYTES + 64 * MiB;
    uint8_t *big = mmap(NULL, size, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(big != MAP_FAILED);
    free(fixture->host);
    fixture->host = big;
    fixture->memory_size = size;
    fixture->mapped = true;
    guest_memory_init_over(&fixture->memory, big, size);
    start(fixture, 8, true, false);

    uint32_t half = VIRTQ_MAX_CHAIN_BYTES / 2;
    put_desc(fixture, DESC_TABLE, 0, DATA, half, VIRTQ_DESC_F_NEXT, 1);
    put_desc(fixture, DESC_TABLE, 1, DATA + half, half, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
             2);
    put_desc(fixture, DESC_TABLE, 2, DATA, 1, VIRTQ_DESC_F_WRITE, 0);
    offer(fixture, 0); /* the bound plus one byte */
    offer(fixture, 1); /* the last two: fine */
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_TOO_LONG);
    expect_good_chain(fixture, 1);
    assert_int_equal(fixture->chain.writable_bytes, half + 1ull);

    /* One descriptor of 4 GiB - 1 bytes: over the bound on its own. */
    put_desc(fixture, DESC_TABLE, 3, DATA, UINT32_MAX, 0, 0);
    offer(fixture, 3);
    expect_bad_chain(fixture, 3, VIRTQ_ERROR_TOO_LONG);
    /* Exactly the bound is allowed. */
    put_desc(fixture, DESC_TABLE, 4, DATA, VIRTQ_MAX_CHAIN_BYTES, 0, 0);
    offer(fixture, 4);
    expect_good_chain(fixture, 4);
    assert_int_equal(fixture->chain.readable_bytes, VIRTQ_MAX_CHAIN_BYTES);
}

static void test_buffer_outside_memory(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, DESC_TABLE, 0, MEMORY_SIZE - 16, 16, 0, 0); /* the last bytes: fine */
    put_desc(fixture, DESC_TABLE, 1, MEMORY_SIZE - 8, 16, 0, 0);  /* crosses the end */
    put_desc(fixture, DESC_TABLE, 2, MEMORY_SIZE, 1, 0, 0);
    put_desc(fixture, DESC_TABLE, 3, 0xfffffffffffffff8ull, 16, 0, 0); /* wraps 2^64 */
    put_desc(fixture, DESC_TABLE, 4, 0xffffffffffffffffull, 1, VIRTQ_DESC_F_WRITE, 0);
    put_desc(fixture, DESC_TABLE, 5, DATA, 16, VIRTQ_DESC_F_NEXT, 6);
    put_desc(fixture, DESC_TABLE, 6, 1ull << 33, 4096, VIRTQ_DESC_F_WRITE, 0);
    for (uint16_t head = 0; head < 7; head++)
        if (head != 6)
            offer(fixture, head);
    expect_good_chain(fixture, 0);
    assert_ptr_equal(fixture->chain.buffers[0].host, fixture->host + MEMORY_SIZE - 16);
    expect_bad_chain(fixture, 1, VIRTQ_ERROR_ADDRESS);
    expect_bad_chain(fixture, 2, VIRTQ_ERROR_ADDRESS);
    expect_bad_chain(fixture, 3, VIRTQ_ERROR_ADDRESS);
    expect_bad_chain(fixture, 4, VIRTQ_ERROR_ADDRESS);
    expect_bad_chain(fixture, 5, VIRTQ_ERROR_ADDRESS);
}

static void test_readable_after_writable(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, DESC_TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
    put_desc(fixture, DESC_TABLE, 1, DATA + 16, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
    put_desc(fixture, DESC_TABLE, 2, DATA + 32, 16, 0, 0);
    offer(fixture, 0);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_ORDER);
}

/* Descriptor index of the main table: the whole chain is the table at table. */
static void put_indirect_head(struct fixture *fixture, unsigned index, uint64_t table,
                              uint32_t length, uint16_t extra_flags)
{
    put_desc(fixture, DESC_TABLE, index, table, length, VIRTQ_DESC_F_INDIRECT | extra_flags, 0);
}

static void test_indirect_chain(void **state)
{
    struct fixture *fixture = *state;
    /* Linked out of table order: 0 -> 2 -> 1. */
    put_desc(fixture, INDIRECT_TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
    put_desc(fixture, INDIRECT_TABLE, 2, DATA + 0x100, 2048,
             VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    put_desc(fixture, INDIRECT_TABLE, 1, DATA + 0x1000, 1, VIRTQ_DESC_F_WRITE, 0);
    put_indirect_head(fixture, 5, INDIRECT_TABLE, 3 * 16, 0);
    offer(fixture, 5);
    expect_good_chain(fixture, 5);
    const struct virtq_chain *chain = &fixture->chain;
    assert_int_equal(chain->readable_count, 1);
    assert_int_equal(chain->writable_count, 2);
    assert_int_equal(chain->readable_bytes, 16);
    assert_int_equal(chain->writable_bytes, 2049);
    assert_ptr_equal(chain->buffers[0].host, fixture->host + DATA);
    assert_ptr_equal(chain->buffers[1].host, fixture->host + DATA + 0x100);
    assert_ptr_equal(chain->buffers[2].host, fixture->host + DATA + 0x1000);
    virtq_push(&fixture->queue, chain->head, 2049);
    assert_int_equal(used_id(fixture, 0), 5);
}

static void test_indirect_full_table(void **state)
{
    struct fixture *fixture = *state;
    /* The largest table allowed, every entry a buffer. */
    for (unsigned i = 0; i < VIRTQ_MAX_CHAIN_BUFFERS; i++)
        put_desc(fixture, INDIRECT_TABLE, i, DATA + i, 1,
                 i + 1 < VIRTQ_MAX_CHAIN_BUFFERS ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
    put_indirect_head(fixture, 0, INDIRECT_TABLE, 16 * VIRTQ_MAX_CHAIN_BUFFERS, 0);
    offer(fixture, 0);
    expect_good_chain(fixture, 0);
    assert_int_equal(fixture->chain.readable_count, VIRTQ_MAX_CHAIN_BUFFERS);
}

static void test_indirect_not_negotiated(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, 8, false, false);
    put_desc(fixture, INDIRECT_TABLE, 0, DATA, 16, 0, 0);
    put_indirect_head(fixture, 0, INDIRECT_TABLE, 16, 0);
    offer(fixture, 0);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_INDIRECT);
}

static void test_indirect_nested(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, INDIRECT_TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
    put_desc(fixture, INDIRECT_TABLE, 1, INDIRECT_TABLE, 32, VIRTQ_DESC_F_INDIRECT, 0);
    put_indirect_head(fixture, 0, INDIRECT_TABLE, 32, 0);
    offer(fixture, 0);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_INDIRECT);
}

static void test_indirect_with_next(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, INDIRECT_TABLE, 0, DATA, 16, 0, 0);
    put_desc(fixture, DESC_TABLE, 1, DATA, 1, VIRTQ_DESC_F_WRITE, 0);
    put_indirect_head(fixture, 0, INDIRECT_TABLE, 16, VIRTQ_DESC_F_NEXT);
    offer(fixture, 0);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_INDIRECT);
}

static void test_indirect_after_direct(void **state)
{
    struct fixture *fixture = *state;
    /* An indirect descriptor is a whole chain, never the tail of one. */
    put_desc(fixture, INDIRECT_TABLE, 0, DATA, 16, 0, 0);
    put_desc(fixture, DESC_TABLE, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
    put_indirect_head(fixture, 1, INDIRECT_TABLE, 16, 0);
    offer(fixture, 0);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_INDIRECT);
}

static void test_indirect_bad_tables(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, INDIRECT_TABLE, 0, DATA, 16, 0, 0);
    put_indirect_head(fixture, 0, INDIRECT_TABLE, 0, 0);
    put_indirect_head(fixture, 1, INDIRECT_TABLE, 40, 0); /* not a multiple of 16 */
    put_indirect_head(fixture, 2, INDIRECT_TABLE, 17, 0);
    put_indirect_head(fixture, 3, INDIRECT_TABLE, 16 * (VIRTQ_MAX_CHAIN_BUFFERS + 1), 0);
    put_indirect_head(fixture, 4, 0xfffffffffffffff0ull, 32, 0);  /* wraps */
    put_indirect_head(fixture, 5, MEMORY_SIZE - 16, 32, 0);        /* crosses the end */
    put_indirect_head(fixture, 6, 0xfffffffffffffff0ull, 0xfff0, 0); /* too big and wraps */
    for (uint16_t head = 0; head < 7; head++)
        offer(fixture, head);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_INDIRECT);
    expect_bad_chain(fixture, 1, VIRTQ_ERROR_INDIRECT);
    expect_bad_chain(fixture, 2, VIRTQ_ERROR_INDIRECT);
    expect_bad_chain(fixture, 3, VIRTQ_ERROR_INDIRECT);
    expect_bad_chain(fixture, 4, VIRTQ_ERROR_ADDRESS);
    expect_bad_chain(fixture, 5, VIRTQ_ERROR_ADDRESS);
    expect_bad_chain(fixture, 6, VIRTQ_ERROR_INDIRECT);
}

static void test_indirect_bad_entries(void **state)
{
    struct fixture *fixture = *state;
    uint64_t loop_table = INDIRECT_TABLE;
    uint64_t self_table = INDIRECT_TABLE + 0x100;
    uint64_t next_table = INDIRECT_TABLE + 0x200;
    uint64_t order_table = INDIRECT_TABLE + 0x300;
    uint64_t address_table = INDIRECT_TABLE + 0x400;
    /* A loop inside the table: 0 -> 1 -> 2 -> 0. */
    put_desc(fixture, loop_table, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
    put_desc(fixture, loop_table, 1, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
    put_desc(fixture, loop_table, 2, DATA, 16, VIRTQ_DESC_F_NEXT, 0);
    put_indirect_head(fixture, 0, loop_table, 3 * 16, 0);
    /* Zero-length entries pointing at themselves: only the step bound stops it. */
    put_desc(fixture, self_table, 0, 0, 0, VIRTQ_DESC_F_NEXT, 0);
    put_indirect_head(fixture, 1, self_table, 16, 0);
    /* next beyond the table, though inside the direct table's range. */
    put_desc(fixture, next_table, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 2);
    put_indirect_head(fixture, 2, next_table, 2 * 16, 0);
    put_desc(fixture, order_table, 0, DATA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
    put_desc(fixture, order_table, 1, DATA, 16, 0, 0);
    put_indirect_head(fixture, 3, order_table, 2 * 16, 0);
    put_desc(fixture, address_table, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
    put_desc(fixture, address_table, 1, MEMORY_SIZE - 1, 2, VIRTQ_DESC_F_WRITE, 0);
    put_indirect_head(fixture, 4, address_table, 2 * 16, 0);
    for (uint16_t head = 0; head < 5; head++)
        offer(fixture, head);
    expect_bad_chain(fixture, 0, VIRTQ_ERROR_LOOP);
    expect_bad_chain(fixture, 1, VIRTQ_ERROR_LOOP);
    expect_bad_chain(fixture, 2, VIRTQ_ERROR_NEXT);
    expect_bad_chain(fixture, 3, VIRTQ_ERROR_ORDER);
    expect_bad_chain(fixture, 4, VIRTQ_ERROR_ADDRESS);
}

static void test_interrupt_without_event_idx(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, DESC_TABLE, 0, DATA, 1, VIRTQ_DESC_F_WRITE, 0);
    offer(fixture, 0);
    expect_good_chain(fixture, 0);
    virtq_push(&fixture->queue, 0, 1);
    assert_true(virtq_should_interrupt(&fixture->queue));
    guest_put16(fixture->host, AVAIL_RING, VIRTQ_AVAIL_F_NO_INTERRUPT);
    assert_false(virtq_should_interrupt(&fixture->queue));
    /* Other flag bits do not suppress; used_event means nothing here. */
    guest_put16(fixture->host, AVAIL_RING, 0xfffe);
    set_used_event(fixture, 12345);
    assert_true(virtq_should_interrupt(&fixture->queue));
}

/* Pushes count completions, then asks whether to interrupt. */
static bool push_and_ask(struct fixture *fixture, unsigned count)
{
    for (unsigned i = 0; i < count; i++)
        virtq_push(&fixture->queue, 0, 0);
    return virtq_should_interrupt(&fixture->queue);
}

static void test_interrupt_with_event_idx(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, 8, true, true);
    /* NO_INTERRUPT is for drivers without event idx; ignored here. */
    guest_put16(fixture->host, AVAIL_RING, VIRTQ_AVAIL_F_NO_INTERRUPT);
    set_used_event(fixture, 0);
    /* The first push after start always interrupts: nothing signalled yet. */
    assert_true(push_and_ask(fixture, 1)); /* used idx 1 */

    /* Three more (used idx 1 -> 4): interrupt iff used_event is in [1, 4). */
    static const struct {
        uint16_t used_event;
        bool interrupt;
    } cases[] = {{0, false}, {1, true}, {2, true}, {3, true}, {4, false}, {100, false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        start(fixture, 8, true, true);
        assert_true(push_and_ask(fixture, 1));
        set_used_event(fixture, cases[i].used_event);
        assert_int_equal(push_and_ask(fixture, 3), cases[i].interrupt);
        /* Asking again with nothing new pushed never interrupts. */
        assert_false(virtq_should_interrupt(&fixture->queue));
    }

    /* A driver that keeps used_event just behind: one interrupt per push. */
    start(fixture, 8, true, true);
    for (uint16_t i = 0; i < 20; i++) {
        set_used_event(fixture, i);
        assert_true(push_and_ask(fixture, 1));
    }
    /* A driver that stopped moving used_event hears nothing more. */
    assert_false(push_and_ask(fixture, 5));
}

static void test_interrupt_event_idx_wraparound(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, 8, true, true);
    fixture->queue.used_idx = 65533;
    assert_true(push_and_ask(fixture, 1)); /* signalled at 65534 */
    set_used_event(fixture, 65535);        /* wants one when idx passes 65535 */
    assert_false(push_and_ask(fixture, 1)); /* 65535: not passed yet */
    assert_true(push_and_ask(fixture, 1));  /* 0: passed */
    set_used_event(fixture, 2);
    assert_false(push_and_ask(fixture, 2)); /* 2 */
    assert_true(push_and_ask(fixture, 5));  /* 7: passed 2 on the way */
}

static void test_enable_notification(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, 8, true, true);
    for (uint16_t i = 0; i < 3; i++) {
        put_desc(fixture, DESC_TABLE, i, DATA, 1, 0, 0);
        offer(fixture, i);
    }
    expect_good_chain(fixture, 0);
    expect_good_chain(fixture, 1);
    uint64_t avail_event = USED_RING + 4 + 8 * 8;
    guest_put16(fixture->host, avail_event, 0xbeef);
    /* One chain still waits: keep going. */
    assert_true(virtq_enable_notification(&fixture->queue));
    assert_int_equal(guest_get16(fixture->host, avail_event), 2);
    expect_good_chain(fixture, 2);
    assert_false(virtq_enable_notification(&fixture->queue));
    assert_int_equal(guest_get16(fixture->host, avail_event), 3);
    /* The event idx device leaves the used flags alone. */
    assert_int_equal(guest_get16(fixture->host, USED_RING), 0);

    /* Without event idx: the NO_NOTIFY flag is cleared instead. */
    start(fixture, 8, true, false);
    guest_put16(fixture->host, USED_RING, VIRTQ_USED_F_NO_NOTIFY);
    guest_put16(fixture->host, avail_event, 0xbeef);
    assert_false(virtq_enable_notification(&fixture->queue));
    assert_int_equal(guest_get16(fixture->host, USED_RING), 0);
    assert_int_equal(guest_get16(fixture->host, avail_event), 0xbeef);
    put_desc(fixture, DESC_TABLE, 0, DATA, 1, 0, 0);
    offer(fixture, 0);
    assert_true(virtq_enable_notification(&fixture->queue));
}

static void test_chain_read_write(void **state)
{
    struct fixture *fixture = *state;
    put_desc(fixture, DESC_TABLE, 0, DATA, 3, VIRTQ_DESC_F_NEXT, 1);
    put_desc(fixture, DESC_TABLE, 1, DATA + 0x100, 5, VIRTQ_DESC_F_NEXT, 2);
    put_desc(fixture, DESC_TABLE, 2, DATA + 0x200, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
    put_desc(fixture, DESC_TABLE, 3, DATA + 0x300, 4, VIRTQ_DESC_F_WRITE, 0);
    memcpy(fixture->host + DATA, "abc", 3);
    memcpy(fixture->host + DATA + 0x100, "defgh", 5);
    offer(fixture, 0);
    expect_good_chain(fixture, 0);
    const struct virtq_chain *chain = &fixture->chain;

    char text[16] = {0};
    assert_int_equal(virtq_chain_read(chain, 0, text, sizeof(text)), 8);
    assert_string_equal(text, "abcdefgh");
    memset(text, 0, sizeof(text));
    assert_int_equal(virtq_chain_read(chain, 2, text, 4), 4); /* across the boundary */
    assert_string_equal(text, "cdef");
    assert_int_equal(virtq_chain_read(chain, 8, text, 4), 0);
    assert_int_equal(virtq_chain_read(chain, 100, text, 4), 0);

    /* Writes go to the writable part only, and stop at its end. */
    assert_int_equal(virtq_chain_write(chain, 2, "WXYZ", 4), 4);
    assert_memory_equal(fixture->host + DATA + 0x202, "WX", 2);
    assert_memory_equal(fixture->host + DATA + 0x300, "YZ", 2);
    assert_int_equal(virtq_chain_write(chain, 6, "0123", 4), 2);
    assert_memory_equal(fixture->host + DATA + 0x302, "01", 2);
    assert_int_equal(fixture->host[DATA + 0x304], 0);
    assert_int_equal(virtq_chain_write(chain, 8, "x", 1), 0);
    assert_memory_equal(fixture->host + DATA, "abc", 3); /* readable part untouched */
}

static void test_error_text(void **state)
{
    (void)state;
    for (int error = VIRTQ_OK; error <= VIRTQ_ERROR_INDIRECT; error++) {
        const char *text = virtq_error_text((enum virtq_error)error);
        assert_non_null(text);
        assert_true(strlen(text) > 0);
    }
}

static void test_reset_forgets_everything(void **state)
{
    struct fixture *fixture = *state;
    fixture->queue.last_avail_idx = 5;
    virtq_reset(&fixture->queue);
    assert_false(fixture->queue.started);
    assert_int_equal(fixture->queue.size, 0);
    assert_int_equal(fixture->queue.desc_address, 0);
    assert_int_equal(fixture->queue.last_avail_idx, 0);
}

/* A disk thread polls the ring without the device lock (virtq_peek_available)
 * while a vCPU resets and restarts the queue under it.  The fields it reads
 * must be stored atomically, or that is a data race (which `make tsan` runs
 * this test to catch), and a reset ring must read as empty at once. */
struct peeker {
    const struct virtq *queue;
    atomic_bool stop;
    atomic_ulong peeks, seen;
};

static void *peek_until_stopped(void *opaque)
{
    struct peeker *peeker = opaque;
    while (!atomic_load(&peeker->stop)) {
        if (virtq_peek_available(peeker->queue))
            atomic_fetch_add(&peeker->seen, 1);
        atomic_fetch_add(&peeker->peeks, 1);
    }
    return NULL;
}

static void test_peek_races_reset(void **state)
{
    struct fixture *fixture = *state;
    struct peeker peeker = {.queue = &fixture->queue};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, peek_until_stopped, &peeker), 0);
    for (unsigned round = 0; round < 2000; round++) {
        configure(fixture, 8, false, false);
        /* The driver's index word is the one the peeker reads: the guest
         * (here, this thread) stores it atomically, as a CPU's store is. */
        uint16_t *avail_idx = (uint16_t *)(fixture->host + AVAIL_RING + 2);
        __atomic_store_n(avail_idx, 0, __ATOMIC_RELAXED);
        assert_int_equal(virtq_start(&fixture->queue, &fixture->memory), 0);
        put_desc(fixture, DESC_TABLE, 0, DATA, 16, 0, 0);
        guest_put16(fixture->host, AVAIL_RING + 4, 0);
        __atomic_store_n(avail_idx, 1, __ATOMIC_RELEASE);
        assert_true(virtq_peek_available(&fixture->queue));
        /* Let the peeker see a running ring now and then. */
        while (round % 64 == 0 && atomic_load(&peeker.seen) == 0)
            sched_yield();
        virtq_reset(&fixture->queue);
        assert_false(virtq_peek_available(&fixture->queue));
    }
    atomic_store(&peeker.stop, true);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_true(atomic_load(&peeker.peeks) > 0);
    assert_true(atomic_load(&peeker.seen) > 0);
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_start_geometry),
        TEST(test_not_started),
        TEST(test_empty_ring),
        TEST(test_three_descriptor_chain),
        TEST(test_single_and_all_readable_chains),
        TEST(test_chain_through_whole_table),
        TEST(test_zero_length_descriptors),
        TEST(test_push_fills_used_ring),
        TEST(test_unpop),
        TEST(test_index_wraparound),
        TEST(test_avail_index_jump),
        TEST(test_head_out_of_range),
        TEST(test_next_out_of_range),
        TEST(test_direct_loops),
        TEST(test_bad_chain_then_good_chain),
        TEST(test_chain_too_many_buffers),
        TEST(test_chain_too_many_bytes),
        TEST(test_buffer_outside_memory),
        TEST(test_readable_after_writable),
        TEST(test_indirect_chain),
        TEST(test_indirect_full_table),
        TEST(test_indirect_not_negotiated),
        TEST(test_indirect_nested),
        TEST(test_indirect_with_next),
        TEST(test_indirect_after_direct),
        TEST(test_indirect_bad_tables),
        TEST(test_indirect_bad_entries),
        TEST(test_interrupt_without_event_idx),
        TEST(test_interrupt_with_event_idx),
        TEST(test_interrupt_event_idx_wraparound),
        TEST(test_enable_notification),
        TEST(test_chain_read_write),
        TEST(test_error_text),
        TEST(test_reset_forgets_everything),
        TEST(test_peek_races_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
