/* virtio-fs (virtio spec 5.11): a host directory shared with the guest.  The
 * device carries FUSE requests; the FUSE server (fs/fuse_server.h) answers
 * them against the directory.  Its queues are served by a thread of its own
 * (the server's file I/O blocks), off the vCPU threads. */
#ifndef GUEST_VIRTIO_FS_H
#define GUEST_VIRTIO_FS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "virtio/virtio.h"

#define VIRTIO_ID_FS 26
#define VIRTIO_FS_TAG_BYTES 36 /* config space's tag field, NUL-padded */
/* Request queues offered beside the high-priority one.  Linux 6.1 sends
 * everything on the first; later kernels spread requests over them all. */
#define VIRTIO_FS_REQUEST_QUEUES 4
#define VIRTIO_FS_QUEUE_SIZE 256
#define VIRTIO_FS_CONFIG_SIZE (VIRTIO_FS_TAG_BYTES + 4)

struct fuse_server;

struct virtio_fs {
    struct virtio_device device;
    struct fuse_server *server; /* owned */
    const char *directory;      /* the caller's: for messages */
    char tag[VIRTIO_FS_TAG_BYTES + 1];
    uint8_t config[VIRTIO_FS_CONFIG_SIZE];
    /* Scratch for the serving thread: no allocation per request. */
    struct virtq_chain chain;
    struct iovec in[VIRTQ_MAX_CHAIN_BUFFERS], out[VIRTQ_MAX_CHAIN_BUFFERS];
};

/* Checks a share's tag: 1 to 36 bytes, no NUL, printable (Linux mounts it
 * by this name: `mount -t virtiofs TAG DIR`).  NULL when good, else why. */
const char *virtio_fs_tag_problem(const char *tag);

/* A device sharing directory under tag (read-only when asked); errors name
 * the directory.  Takes nothing over on failure. */
int virtio_fs_init(struct virtio_fs *fs, const struct guest_memory *memory, const char *directory,
                   const char *tag, bool read_only, struct error *error);
void virtio_fs_destroy(struct virtio_fs *fs);

/* Serves one request chain (exposed for unit tests and the fuzzer). */
uint32_t virtio_fs_handle_request(struct virtio_device *device, struct virtq_chain *chain);

#endif
