/* virtio-gpu (virtio spec 5.7), 2D only: the guest draws into resources
 * backed by its own pages, copies them to host buffers (TRANSFER_TO_HOST_2D)
 * and says which part changed (RESOURCE_FLUSH); the part of scanout 0's
 * resource that changed goes to a virtio_gpu_output, a display back end.
 *
 * Host buffers hold pixels in one canonical format, 32-bit little-endian
 * 0x00RRGGBB (bytes B, G, R, 0): TRANSFER_TO_HOST_2D converts, so a flush
 * hands the output a pointer straight into the resource with no copy and
 * no allocation.  There is no TRANSFER_FROM_HOST in 2D, so nothing ever
 * needs the guest's own format back. */
#ifndef GUEST_VIRTIO_GPU_H
#define GUEST_VIRTIO_GPU_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "virtio/virtio.h"

#define VIRTIO_GPU_CONFIG_SIZE 16
#define VIRTIO_GPU_QUEUE_SIZE 256
#define VIRTIO_GPU_DEFAULT_WIDTH 1024
#define VIRTIO_GPU_DEFAULT_HEIGHT 768

/* What a guest may make us allocate: every resource's host buffer is
 * width * height * 4 bytes, allocated when it is created. */
#define VIRTIO_GPU_MAX_SIDE 16384u
#define VIRTIO_GPU_MAX_TOTAL_BYTES (256ull << 20)
#define VIRTIO_GPU_MAX_RESOURCES 4096u
/* Backing: entries in one ATTACH_BACKING, and in all resources together
 * (16 bytes of host memory each). */
#define VIRTIO_GPU_MAX_BACKING_ENTRIES 16384u
#define VIRTIO_GPU_MAX_TOTAL_BACKING_ENTRIES (1u << 18)

/* The display side.  Both calls are made with the device lock held, from the
 * thread serving the device or, for a device reset, from a vCPU thread; an
 * output must not call back into the device. */
struct virtio_gpu_output {
    void *opaque;
    /* Scanout 0 now shows a width x height image, or nothing when width == 0
     * (disabled, or reset). */
    void (*resize)(void *opaque, uint32_t width, uint32_t height);
    /* These pixels changed: rows of 32-bit little-endian 0x00RRGGBB words
     * (bytes B,G,R,X), stride in bytes; the pointer is valid only during the
     * call (the output copies what it needs).  x,y,w,h are in scanout
     * coordinates and lie inside it. */
    void (*update)(void *opaque, const uint8_t *pixels, uint32_t stride, uint32_t x, uint32_t y,
                   uint32_t width, uint32_t height);
};

/* A piece of a resource's backing: guest pages, translated when attached. */
struct virtio_gpu_backing {
    uint8_t *host;
    uint64_t length;
};

struct virtio_gpu_resource {
    uint32_t id;
    uint32_t format;
    uint32_t width, height;
    uint8_t *pixels; /* width * height * 4 bytes, 0x00RRGGBB */
    struct virtio_gpu_backing *backing;
    uint32_t backing_count; /* 0: no backing attached */
    uint64_t backing_bytes;
};

struct virtio_gpu_scanout {
    uint32_t resource_id; /* 0: disabled */
    /* The part of the resource shown, in resource coordinates. */
    uint32_t x, y, width, height;
};

struct virtio_gpu_cursor {
    uint32_t resource_id; /* 0: hidden */
    uint32_t hot_x, hot_y;
    uint32_t x, y;
};

struct virtio_gpu {
    struct virtio_device device;
    uint8_t config[VIRTIO_GPU_CONFIG_SIZE]; /* events_read, events_clear, scanouts, capsets */
    uint32_t width, height;                 /* the one scanout's mode */
    struct virtio_gpu_output output;        /* callbacks may be NULL */

    struct virtio_gpu_resource *resources[VIRTIO_GPU_MAX_RESOURCES];
    uint32_t resource_count;
    uint64_t total_bytes;          /* host buffers of all resources */
    uint64_t total_backing_entries; /* backing entries of all resources */
    struct virtio_gpu_scanout scanout;
    struct virtio_gpu_cursor cursor;
    bool scanout_was_set; /* ever, across resets; read with __atomic */
    /* A transfer too big for one turn of the queue, done so far: the chain
     * with this head and these request bytes goes on at next_row. */
    struct {
        bool active;
        uint16_t head;
        uint8_t request[64]; /* the request as it came (56 bytes) */
        uint32_t next_row;
    } transfer_in_progress;

    struct virtq_chain chain; /* scratch for the serving thread */
};

/* A device showing one width x height scanout (0 x 0: the default size). */
int virtio_gpu_init(struct virtio_gpu *gpu, const struct guest_memory *memory, uint32_t width,
                    uint32_t height, const struct virtio_gpu_output *output,
                    struct error *error);

/* Frees the resources and the device. */
void virtio_gpu_destroy(struct virtio_gpu *gpu);

/* Has the guest ever shown a resource on the scanout?  (For "the guest never
 * set a scanout": any thread.) */
bool virtio_gpu_scanout_was_set(const struct virtio_gpu *gpu);

/* Serve one request of the control queue or the cursor queue; return the
 * bytes written into the chain.  Exposed for unit tests and the fuzzer. */
uint32_t virtio_gpu_handle_control(struct virtio_device *device, struct virtq_chain *chain);
uint32_t virtio_gpu_handle_cursor(struct virtio_device *device, struct virtq_chain *chain);

#endif
