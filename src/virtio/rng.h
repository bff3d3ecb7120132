/* virtio-rng (virtio spec 5.4): entropy for the guest from getrandom(2). */
#ifndef GUEST_VIRTIO_RNG_H
#define GUEST_VIRTIO_RNG_H

#include "virtio/virtio.h"

struct virtio_rng {
    struct virtio_device device;
    struct virtq_chain chain;
};

int virtio_rng_init(struct virtio_rng *rng, const struct guest_memory *memory,
                    struct error *error);

/* Fills one request; returns the bytes written.  Exposed for tests. */
uint32_t virtio_rng_handle_request(struct virtio_device *device, struct virtq_chain *chain);

#endif
