#include "virtio/rng.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "log.h"

/* One request is served at most this much, so a guest asking for a huge
 * buffer cannot hold the event loop; the driver asks again for more. */
#define VIRTIO_RNG_MAX_REQUEST (64u * 1024)

uint32_t virtio_rng_handle_request(struct virtio_device *device, struct virtq_chain *chain)
{
    (void)device;
    uint32_t written = 0;
    unsigned end = chain->readable_count + chain->writable_count;
    for (unsigned i = chain->readable_count; i < end && written < VIRTIO_RNG_MAX_REQUEST; i++) {
        uint32_t want = chain->buffers[i].length;
        if (want > VIRTIO_RNG_MAX_REQUEST - written)
            want = VIRTIO_RNG_MAX_REQUEST - written;
        uint8_t *host = chain->buffers[i].host;
        uint32_t done = 0;
        while (done < want) {
            ssize_t got = getrandom(host + done, want - done, 0);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                log_once("virtio-rng: getrandom: %s", strerror(errno));
                return written + done;
            }
            done += (uint32_t)got;
        }
        written += done;
    }
    return written;
}

static void virtio_rng_queue_notify(struct virtio_device *device, unsigned queue)
{
    struct virtio_rng *rng = device->opaque;
    virtio_device_serve_queue(device, queue, &rng->chain, virtio_rng_handle_request);
}

static const struct virtio_device_ops virtio_rng_ops = {
    .name = "virtio-rng",
    .device_id = VIRTIO_ID_RNG,
    .queue_count = 1,
    .queue_max_size = 64,
    .queue_notify = virtio_rng_queue_notify,
};

int virtio_rng_init(struct virtio_rng *rng, const struct guest_memory *memory,
                    struct error *error)
{
    return virtio_device_init(&rng->device, &virtio_rng_ops, rng, memory, NULL, 0, 0, error);
}
