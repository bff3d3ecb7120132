#include "virtio/fs.h"

#include <stdio.h>
#include <string.h>

#include "fs/fuse_server.h"
#include "sandbox.h"

/* Queue 0 carries FORGET, BATCH_FORGET and INTERRUPT, which the driver must
 * get through while the request queues are full; no notification queue
 * (VIRTIO_FS_F_NOTIFICATION is not offered). */
#define VIRTIO_FS_HIPRIO_QUEUE 0
#define CONFIG_TAG 0
#define CONFIG_NUM_REQUEST_QUEUES VIRTIO_FS_TAG_BYTES

const char *virtio_fs_tag_problem(const char *tag)
{
    size_t length = strlen(tag);
    if (length == 0)
        return "the tag is empty";
    if (length > VIRTIO_FS_TAG_BYTES)
        return "the tag is longer than 36 bytes";
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)tag[i] <= ' ' || tag[i] == 0x7f || tag[i] == ',')
            return "the tag has a space, a comma or a control character";
    return NULL;
}

/* The chain's two halves as the server takes them: what the driver wrote
 * (the request) and where the reply goes.  Both point into guest memory. */
static int virtio_fs_iovecs(const struct virtq_chain *chain, unsigned first, unsigned count,
                            struct iovec *iov)
{
    for (unsigned i = 0; i < count; i++)
        iov[i] = (struct iovec){chain->buffers[first + i].host, chain->buffers[first + i].length};
    return (int)count;
}

uint32_t virtio_fs_handle_request(struct virtio_device *device, struct virtq_chain *chain)
{
    struct virtio_fs *fs = device->opaque;
    int in_count = virtio_fs_iovecs(chain, 0, chain->readable_count, fs->in);
    int out_count = virtio_fs_iovecs(chain, chain->readable_count, chain->writable_count, fs->out);
    return fuse_server_handle(fs->server, fs->in, in_count, fs->out, out_count);
}

static void virtio_fs_queue_notify(struct virtio_device *device, unsigned queue)
{
    struct virtio_fs *fs = device->opaque;
    virtio_device_serve_queue(device, queue, &fs->chain, virtio_fs_handle_request);
}

/* A reset forgets the driver's nodes and open files: a new driver starts
 * with INIT and knows none of them.  The core waits for a request in
 * progress before it resets, so the serving thread is not in the server. */
static void virtio_fs_reset(struct virtio_device *device)
{
    struct virtio_fs *fs = device->opaque;
    fuse_server_reset(fs->server);
}

static const struct virtio_device_ops virtio_fs_ops = {
    .name = "virtio-fs",
    .device_id = VIRTIO_ID_FS,
    .queue_count = 1 + VIRTIO_FS_REQUEST_QUEUES,
    .queue_max_size = VIRTIO_FS_QUEUE_SIZE,
    .queue_notify = virtio_fs_queue_notify,
    .reset = virtio_fs_reset,
    .thread_role = SANDBOX_SHARE,
};

int virtio_fs_init(struct virtio_fs *fs, const struct guest_memory *memory, const char *directory,
                   const char *tag, bool read_only, struct error *error)
{
    memset(fs, 0, sizeof(*fs));
    const char *problem = virtio_fs_tag_problem(tag);
    if (problem)
        return error_set(error, "--share %s: tag %s: %s", directory, tag, problem);
    snprintf(fs->tag, sizeof(fs->tag), "%s", tag);
    fs->directory = directory;
    if (fuse_server_create(&fs->server, directory, read_only, error))
        return -1;
    memcpy(fs->config + CONFIG_TAG, tag, strlen(tag)); /* NUL-padded, not terminated at 36 */
    uint32_t queues = VIRTIO_FS_REQUEST_QUEUES;
    memcpy(fs->config + CONFIG_NUM_REQUEST_QUEUES, &queues, 4); /* little-endian host */
    if (virtio_device_init(&fs->device, &virtio_fs_ops, fs, memory, fs->config,
                           sizeof(fs->config), 0, error)) {
        virtio_device_destroy(&fs->device); /* the eventfds made before the failure */
        fuse_server_destroy(fs->server);
        fs->server = NULL;
        return -1;
    }
    return 0;
}

void virtio_fs_destroy(struct virtio_fs *fs)
{
    virtio_device_destroy(&fs->device);
    if (fs->server)
        fuse_server_destroy(fs->server);
    fs->server = NULL;
}
