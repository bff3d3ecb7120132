/* virtio-gpu command sequences from guest memory the input fills: chains
 * come off a ring with virtq_pop, as the device takes them, and go to the
 * control or cursor handler of one device that starts each input freshly
 * reset.  Commands act on each other (create, attach, scanout, transfer,
 * flush, unref), and backing entries point anywhere, including at the
 * rings and the requests themselves.
 *
 * Invariants: the bytes reported written never exceed the chain's writable
 * bytes and are 0, a header (24) or a display info (408); a response has a
 * valid type; guest memory changes only inside the chain's writable
 * buffers; the device's accounting matches its resources and stays under
 * the caps; the scanout shows an existing resource and lies inside it; and
 * the output's update rectangles lie inside the scanout it was last told
 * about, with every row readable (AddressSanitizer checks the pointer).
 *
 * Input: two control bytes, then guest memory from address 0.
 *   byte 0: bits 0-2 log2 of the queue size (1..128), bit 3 indirect
 *           descriptors negotiated
 *   byte 1: chain i goes to the cursor queue's handler if bit (i % 8) is set */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "virtio/gpu.h"
#include "virtio/queue.h"

#define MEMORY_SIZE 0x8000
#define CONTROL_BYTES 2
#define DESC_TABLE 0x0000
#define AVAIL_RING 0x0800
#define USED_RING 0x0a00

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *host, *before;
static struct guest_memory memory;
static struct virtio_gpu gpu;

/* What the output was last told. */
static uint32_t shown_width, shown_height;

static void output_resize(void *opaque, uint32_t width, uint32_t height)
{
    (void)opaque;
    if ((width == 0) != (height == 0))
        abort();
    shown_width = width;
    shown_height = height;
}

static void output_update(void *opaque, const uint8_t *pixels, uint32_t stride, uint32_t x,
                          uint32_t y, uint32_t width, uint32_t height)
{
    (void)opaque;
    if (width == 0 || height == 0 || (uint64_t)x + width > shown_width ||
        (uint64_t)y + height > shown_height || stride < (uint64_t)width * 4)
        abort();
    /* The first and last byte of every row: out of bounds is ASan's to see. */
    for (uint32_t row = 0; row < height; row++) {
        const uint8_t *first = pixels + (uint64_t)row * stride;
        const uint8_t *last = first + (uint64_t)width * 4 - 1;
        /* Canonical 0x00RRGGBB: the fourth byte of each pixel is zero. */
        if (first[3] || *last)
            abort();
    }
}

static const struct virtio_gpu_output output = {NULL, output_resize, output_update};

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

/* The response type: the first 4 bytes of the writable buffers. */
static uint32_t response_type(const struct virtq_chain *chain)
{
    uint8_t bytes[4];
    unsigned got = 0, end = chain->readable_count + chain->writable_count;
    for (unsigned i = chain->readable_count; i < end && got < 4; i++)
        for (uint32_t j = 0; j < chain->buffers[i].length && got < 4; j++)
            bytes[got++] = ((const uint8_t *)chain->buffers[i].host)[j];
    if (got < 4)
        abort();
    return (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
           (uint32_t)bytes[3] << 24;
}

static void check_response(const struct virtq_chain *chain, uint32_t written)
{
    if (written > chain->writable_bytes)
        abort();
    if (written == 0)
        return;
    if (written != 24 && written != 24 + 16 * 24)
        abort();
    uint32_t type = response_type(chain);
    bool ok = type == 0x1100 || (type == 0x1101 && written == 24 + 16 * 24);
    bool error = type >= 0x1200 && type <= 0x1205 && type != 0x1204; /* no contexts in 2D */
    if (!ok && !error)
        abort();
    if (type == 0x1101 && written != 24 + 16 * 24)
        abort();
}

static void check_device(void)
{
    if (gpu.resource_count > VIRTIO_GPU_MAX_RESOURCES ||
        gpu.total_bytes > VIRTIO_GPU_MAX_TOTAL_BYTES ||
        gpu.total_backing_entries > VIRTIO_GPU_MAX_TOTAL_BACKING_ENTRIES)
        abort();
    uint64_t bytes = 0, entries = 0;
    const struct virtio_gpu_resource *shown = NULL;
    for (uint32_t i = 0; i < gpu.resource_count; i++) {
        const struct virtio_gpu_resource *resource = gpu.resources[i];
        if (resource->id == 0 || resource->width == 0 || resource->height == 0 ||
            resource->width > VIRTIO_GPU_MAX_SIDE || resource->height > VIRTIO_GPU_MAX_SIDE)
            abort();
        for (uint32_t j = 0; j < i; j++)
            if (gpu.resources[j]->id == resource->id)
                abort();
        bytes += (uint64_t)resource->width * resource->height * 4;
        entries += resource->backing_count;
        if (resource->id == gpu.scanout.resource_id)
            shown = resource;
    }
    if (bytes != gpu.total_bytes || entries != gpu.total_backing_entries)
        abort();
    if (gpu.scanout.resource_id) {
        if (!shown || gpu.scanout.width == 0 || gpu.scanout.height == 0 ||
            (uint64_t)gpu.scanout.x + gpu.scanout.width > shown->width ||
            (uint64_t)gpu.scanout.y + gpu.scanout.height > shown->height ||
            gpu.scanout.width != shown_width || gpu.scanout.height != shown_height)
            abort();
    } else if (shown_width) {
        abort(); /* the output still thinks something is shown */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!host) {
        host = malloc(MEMORY_SIZE);
        before = malloc(MEMORY_SIZE);
        if (!host || !before)
            abort();
        guest_memory_init_over(&memory, host, MEMORY_SIZE);
        struct error error;
        if (virtio_gpu_init(&gpu, &memory, 0, 0, &output, &error)) {
            fprintf(stderr, "%s\n", error.message);
            abort();
        }
    }
    /* Each input starts from a freshly reset device. */
    virtio_device_set_status(&gpu.device, 0);
    if (gpu.resource_count || shown_width)
        abort();
    if (size < CONTROL_BYTES)
        return 0;
    uint8_t control = data[0], cursor_mask = data[1];
    memset(host, 0, MEMORY_SIZE);
    size_t image = size - CONTROL_BYTES < MEMORY_SIZE ? size - CONTROL_BYTES : MEMORY_SIZE;
    memcpy(host, data + CONTROL_BYTES, image);

    struct virtq queue;
    virtq_reset(&queue);
    queue.size = (uint16_t)(1u << (control & 7));
    queue.indirect = control & 8;
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
            /* A transfer too big for a turn says so; the device core takes
             * the same chain again (at most 256 MiB / 8 MiB times). */
            unsigned rounds = 0;
            do {
                written = cursor_mask & (1u << (pops % 8))
                              ? virtio_gpu_handle_cursor(&gpu.device, &chain)
                              : virtio_gpu_handle_control(&gpu.device, &chain);
                if (++rounds > 64)
                    __builtin_trap(); /* a request that never finishes */
            } while (written == VIRTIO_HANDLE_LATER);
            check_response(&chain, written);
            for (size_t word = 0; word < MEMORY_SIZE; word += 8) {
                if (!memcmp(host + word, before + word, 8))
                    continue;
                for (size_t i = word; i < word + 8; i++)
                    if (host[i] != before[i] && !in_writable_buffer(&chain, host + i))
                        abort(); /* wrote outside the chain */
            }
            check_device();
        }
        virtq_push(&queue, chain.head, written);
    }
    return 0;
}
