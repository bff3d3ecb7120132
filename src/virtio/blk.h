/* virtio-blk (virtio spec 5.2): a disk backed by a host file. */
#ifndef GUEST_VIRTIO_BLK_H
#define GUEST_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "virtio/virtio.h"

#define VIRTIO_BLK_QUEUE_SIZE 256
#define VIRTIO_BLK_CONFIG_SIZE 60
#define VIRTIO_BLK_ID_BYTES 20

struct virtio_blk {
    struct virtio_device device;
    const char *path;
    char name[8]; /* vda, vdb, ... */
    int fd;
    bool read_only;
    bool can_discard; /* a regular file: holes can be punched */
    uint64_t sectors;
    /* A flush failed once: its data may be gone (the kernel reports a lost
     * write-back once, then forgets), so every later flush fails too. */
    bool flush_failed;
    uint64_t writethrough_writes; /* writes made durable for a driver without F_FLUSH */
    char serial[VIRTIO_BLK_ID_BYTES];
    uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
    /* Scratch for the serving thread: no allocation per request. */
    struct virtq_chain chain;
    struct iovec iov[VIRTQ_MAX_CHAIN_BUFFERS];
};

/* Opens path for the disk (read-only when asked, or when the user cannot
 * write it) and checks it; errors name the file.  index 0 is vda. */
int virtio_blk_open(struct virtio_blk *blk, const char *path, bool read_only, unsigned index,
                    struct error *error);

/* Makes it a virtio device over memory (after virtio_blk_open). */
int virtio_blk_init(struct virtio_blk *blk, const struct guest_memory *memory,
                    struct error *error);

void virtio_blk_close(struct virtio_blk *blk);

/* Serves one request chain; returns the bytes written into it.  Exposed
 * for unit tests and the fuzzer. */
uint32_t virtio_blk_handle_request(struct virtio_device *device, struct virtq_chain *chain);

#endif
