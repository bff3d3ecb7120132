/* virtio-blk requests from guest memory the input fills: chains come off a
 * ring with virtq_pop, as the device takes them, and go to
 * virtio_blk_handle_request on a small disk file (made once, in /dev/shm
 * where there is one, so that flushes are cheap).  Invariants: the bytes
 * reported written never exceed the chain's writable bytes, guest memory
 * changes only inside the chain's writable buffers, and the disk keeps its
 * size (the read-only one its contents too).
 *
 * Input: one control byte, then guest memory from address 0.
 *   byte 0: bit 0 the read-only disk, bit 1 indirect descriptors,
 *           bits 2-4 log2 of the queue size (1..128) */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory.h"
#include "virtio/blk.h"
#include "virtio/queue.h"

#define MEMORY_SIZE 0x4000
#define DISK_SECTORS 64
#define DESC_TABLE 0x0000
#define AVAIL_RING 0x0800
#define USED_RING 0x0a00

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *host, *before;
static struct guest_memory memory;
static struct virtio_blk disks[2]; /* read-write, read-only */

static void make_disk(struct virtio_blk *blk, bool read_only)
{
    char path[64];
    const char *directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof(path), "%s/fuzz_virtio_blk-XXXXXX", directory);
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    uint8_t sector[512];
    for (unsigned s = 0; s < DISK_SECTORS; s++) {
        memset(sector, (int)s, sizeof(sector));
        if (write(fd, sector, sizeof(sector)) != sizeof(sector))
            abort();
    }
    close(fd);
    struct error error;
    if (virtio_blk_open(blk, strdup(path), read_only, read_only, &error) ||
        virtio_blk_init(blk, &memory, &error)) {
        fprintf(stderr, "%s\n", error.message);
        abort();
    }
    /* The open descriptor keeps it alive; nothing is left behind. */
    unlink(path);
}

/* The disk never changes size, and the read-only one never changes at all. */
static void check_disk(const struct virtio_blk *blk)
{
    struct stat st;
    if (fstat(blk->fd, &st) || st.st_size != DISK_SECTORS * 512)
        abort();
    if (!blk->read_only)
        return;
    static uint8_t contents[DISK_SECTORS * 512];
    if (pread(blk->fd, contents, sizeof(contents), 0) != sizeof(contents))
        abort();
    for (size_t i = 0; i < sizeof(contents); i++)
        if (contents[i] != (uint8_t)(i / 512))
            abort();
}

/* Is [byte, byte + 1) inside one of the chain's writable buffers? */
static bool in_writable_buffer(const struct virtq_chain *chain, const uint8_t *byte)
{
    unsigned end = chain->readable_count + chain->writable_count;
    for (unsigned i = chain->readable_count; i < end; i++) {
        const uint8_t *start = chain->buffers[i].host;
        if (byte >= start && byte < start + chain->buffers[i].length)
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!host) {
        host = malloc(MEMORY_SIZE);
        before = malloc(MEMORY_SIZE);
        if (!host || !before)
            abort();
        guest_memory_init_over(&memory, host, MEMORY_SIZE);
        make_disk(&disks[0], false);
        make_disk(&disks[1], true);
    }
    if (size < 1)
        return 0;
    uint8_t control = data[0];
    struct virtio_blk *blk = &disks[control & 1];
    memset(host, 0, MEMORY_SIZE);
    size_t image = size - 1 < MEMORY_SIZE ? size - 1 : MEMORY_SIZE;
    memcpy(host, data + 1, image);

    struct virtq queue;
    virtq_reset(&queue);
    queue.size = (uint16_t)(1u << ((control >> 2) & 7));
    queue.indirect = control & 2;
    queue.desc_address = DESC_TABLE;
    queue.avail_address = AVAIL_RING;
    queue.used_address = USED_RING;
    if (virtq_start(&queue, &memory))
        abort();

    static struct virtq_chain chain;
    for (unsigned pops = 0; pops < 2u * queue.size + 2; pops++) {
        enum virtq_error error;
        int result = virtq_pop(&queue, &chain, &error);
        if (result == 0 || (result < 0 && chain.head == UINT16_MAX))
            break;
        uint32_t written = 0;
        if (result == 1) {
            memcpy(before, host, MEMORY_SIZE);
            written = virtio_blk_handle_request(&blk->device, &chain);
            if (written > chain.writable_bytes)
                abort();
            /* Word by word, then byte by byte where a word changed. */
            for (size_t word = 0; word < MEMORY_SIZE; word += 8) {
                if (!memcmp(host + word, before + word, 8))
                    continue;
                for (size_t i = word; i < word + 8; i++)
                    if (host[i] != before[i] && !in_writable_buffer(&chain, host + i))
                        abort(); /* wrote outside the chain */
            }
            check_disk(blk);
        }
        virtq_push(&queue, chain.head, written);
    }
    return 0;
}
