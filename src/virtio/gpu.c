#include "virtio/gpu.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define QUEUE_CONTROL 0
#define QUEUE_CURSOR 1

/* Config space offsets (5.7.4). */
#define CONFIG_EVENTS_READ 0
#define CONFIG_EVENTS_CLEAR 4
#define CONFIG_NUM_SCANOUTS 8
#define CONFIG_NUM_CAPSETS 12

#define VIRTIO_GPU_FLAG_FENCE 1u

enum {
    CMD_GET_DISPLAY_INFO = 0x0100,
    CMD_RESOURCE_CREATE_2D,
    CMD_RESOURCE_UNREF,
    CMD_SET_SCANOUT,
    CMD_RESOURCE_FLUSH,
    CMD_TRANSFER_TO_HOST_2D,
    CMD_RESOURCE_ATTACH_BACKING,
    CMD_RESOURCE_DETACH_BACKING,
    CMD_UPDATE_CURSOR = 0x0300,
    CMD_MOVE_CURSOR,

    RESP_OK_NODATA = 0x1100,
    RESP_OK_DISPLAY_INFO,

    RESP_ERR_UNSPEC = 0x1200,
    RESP_ERR_OUT_OF_MEMORY,
    RESP_ERR_INVALID_SCANOUT_ID,
    RESP_ERR_INVALID_RESOURCE_ID,
    RESP_ERR_INVALID_CONTEXT_ID,
    RESP_ERR_INVALID_PARAMETER,
};

/* Formats are named by their bytes in memory, first byte first. */
enum {
    FORMAT_B8G8R8A8 = 1,
    FORMAT_B8G8R8X8 = 2,
    FORMAT_A8R8G8B8 = 3,
    FORMAT_X8R8G8B8 = 4,
    FORMAT_R8G8B8A8 = 67,
    FORMAT_X8B8G8R8 = 68,
    FORMAT_A8B8G8R8 = 121,
    FORMAT_R8G8B8X8 = 134,
};

#define MAX_SCANOUTS 16 /* entries in a display info response */

struct __attribute__((packed)) gpu_header {
    uint32_t type;
    uint32_t flags;
    uint64_t fence_id;
    uint32_t ctx_id;
    uint8_t ring_idx;
    uint8_t padding[3];
};

struct __attribute__((packed)) gpu_rect {
    uint32_t x, y, width, height;
};

struct __attribute__((packed)) gpu_resource_create_2d {
    struct gpu_header header;
    uint32_t resource_id, format, width, height;
};

/* UNREF and DETACH_BACKING. */
struct __attribute__((packed)) gpu_resource_id {
    struct gpu_header header;
    uint32_t resource_id, padding;
};

struct __attribute__((packed)) gpu_set_scanout {
    struct gpu_header header;
    struct gpu_rect rect;
    uint32_t scanout_id, resource_id;
};

struct __attribute__((packed)) gpu_resource_flush {
    struct gpu_header header;
    struct gpu_rect rect;
    uint32_t resource_id, padding;
};

struct __attribute__((packed)) gpu_transfer_to_host_2d {
    struct gpu_header header;
    struct gpu_rect rect;
    uint64_t offset;
    uint32_t resource_id, padding;
};
_Static_assert(sizeof(struct gpu_transfer_to_host_2d) <=
                   sizeof(((struct virtio_gpu *)0)->transfer_in_progress.request),
               "a transfer in progress keeps its request");

/* What a transfer copies in one turn of the control queue: at most 8 MiB
 * and VIRTIO_TURN_NS (8 MiB is some 4 ms here, far more in the nested test
 * host or under a sanitizer); and the answer of a command that is not done
 * yet (not a virtio code). */
#define TRANSFER_TURN_BYTES (8u << 20)
#define RESP_LATER UINT32_MAX

struct __attribute__((packed)) gpu_attach_backing {
    struct gpu_header header;
    uint32_t resource_id, entry_count;
};

struct __attribute__((packed)) gpu_mem_entry {
    uint64_t address;
    uint32_t length, padding;
};

/* UPDATE_CURSOR and MOVE_CURSOR share one layout. */
struct __attribute__((packed)) gpu_update_cursor {
    struct gpu_header header;
    uint32_t scanout_id, x, y, padding;
    uint32_t resource_id, hot_x, hot_y, padding2;
};

struct __attribute__((packed)) gpu_display_info {
    struct gpu_header header;
    struct __attribute__((packed)) {
        struct gpu_rect rect;
        uint32_t enabled, flags;
    } modes[MAX_SCANOUTS];
};

union gpu_request {
    struct gpu_header header;
    struct gpu_resource_create_2d create;
    struct gpu_resource_id resource;
    struct gpu_set_scanout set_scanout;
    struct gpu_resource_flush flush;
    struct gpu_transfer_to_host_2d transfer;
    struct gpu_attach_backing attach;
    struct gpu_update_cursor cursor;
};

union gpu_response {
    struct gpu_header header;
    struct gpu_display_info display_info;
};

/* A command: how many bytes its request and its response have, and what it
 * does (returns the response type; may fill the response's body). */
struct gpu_command {
    uint32_t type;
    uint32_t request_size;
    uint32_t response_size;
    uint32_t (*run)(struct virtio_gpu *gpu, const struct virtq_chain *chain,
                    const union gpu_request *request, union gpu_response *response);
};

/* --- resources -------------------------------------------------------------- */

static struct virtio_gpu_resource *virtio_gpu_find(struct virtio_gpu *gpu, uint32_t id)
{
    if (id == 0)
        return NULL;
    for (uint32_t i = 0; i < gpu->resource_count; i++)
        if (gpu->resources[i]->id == id)
            return gpu->resources[i];
    return NULL;
}

static bool virtio_gpu_format_known(uint32_t format)
{
    switch (format) {
    case FORMAT_B8G8R8A8:
    case FORMAT_B8G8R8X8:
    case FORMAT_A8R8G8B8:
    case FORMAT_X8R8G8B8:
    case FORMAT_R8G8B8A8:
    case FORMAT_X8B8G8R8:
    case FORMAT_A8B8G8R8:
    case FORMAT_R8G8B8X8:
        return true;
    }
    return false;
}

/* Is the rectangle inside the resource?  64-bit sums: no wrap-around. */
static bool virtio_gpu_rect_inside(const struct gpu_rect *rect,
                                   const struct virtio_gpu_resource *resource)
{
    return (uint64_t)rect->x + rect->width <= resource->width &&
           (uint64_t)rect->y + rect->height <= resource->height;
}

static void virtio_gpu_free_backing(struct virtio_gpu *gpu, struct virtio_gpu_resource *resource)
{
    gpu->total_backing_entries -= resource->backing_count;
    free(resource->backing);
    resource->backing = NULL;
    resource->backing_count = 0;
    resource->backing_bytes = 0;
}

static void virtio_gpu_output_resize(struct virtio_gpu *gpu, uint32_t width, uint32_t height)
{
    if (gpu->output.resize)
        gpu->output.resize(gpu->output.opaque, width, height);
}

/* Shows the part of rect (resource coordinates) that is on the scanout. */
static void virtio_gpu_output_update(struct virtio_gpu *gpu,
                                     const struct virtio_gpu_resource *resource,
                                     const struct gpu_rect *rect)
{
    const struct virtio_gpu_scanout *scanout = &gpu->scanout;
    uint64_t left = rect->x > scanout->x ? rect->x : scanout->x;
    uint64_t top = rect->y > scanout->y ? rect->y : scanout->y;
    uint64_t right = (uint64_t)rect->x + rect->width;
    uint64_t bottom = (uint64_t)rect->y + rect->height;
    if (right > (uint64_t)scanout->x + scanout->width)
        right = (uint64_t)scanout->x + scanout->width;
    if (bottom > (uint64_t)scanout->y + scanout->height)
        bottom = (uint64_t)scanout->y + scanout->height;
    if (left >= right || top >= bottom || !gpu->output.update)
        return;
    uint32_t stride = resource->width * 4;
    gpu->output.update(gpu->output.opaque, resource->pixels + top * stride + left * 4, stride,
                       (uint32_t)(left - scanout->x), (uint32_t)(top - scanout->y),
                       (uint32_t)(right - left), (uint32_t)(bottom - top));
}

static void virtio_gpu_disable_scanout(struct virtio_gpu *gpu)
{
    if (gpu->scanout.resource_id)
        virtio_gpu_output_resize(gpu, 0, 0);
    memset(&gpu->scanout, 0, sizeof(gpu->scanout));
}

static void virtio_gpu_free_resource(struct virtio_gpu *gpu, uint32_t index)
{
    struct virtio_gpu_resource *resource = gpu->resources[index];
    virtio_gpu_free_backing(gpu, resource);
    gpu->total_bytes -= (uint64_t)resource->width * resource->height * 4;
    free(resource->pixels);
    free(resource);
    gpu->resources[index] = gpu->resources[--gpu->resource_count];
    gpu->resources[gpu->resource_count] = NULL;
}

static void virtio_gpu_free_resources(struct virtio_gpu *gpu)
{
    while (gpu->resource_count)
        virtio_gpu_free_resource(gpu, gpu->resource_count - 1);
}

/* --- pixel formats ------------------------------------------------------------ */

/* Rewrites count pixels in place from the resource's format to 0x00RRGGBB.
 * Words are read and written with memcpy: rows have no alignment promise. */
static void virtio_gpu_convert(uint8_t *pixels, uint32_t count, uint32_t format)
{
    for (uint32_t i = 0; i < count; i++) {
        uint32_t word;
        memcpy(&word, pixels + 4 * i, 4); /* little-endian: byte 0 is bits 0-7 */
        switch (format) {
        case FORMAT_B8G8R8A8:
        case FORMAT_B8G8R8X8: /* already B, G, R */
            word &= 0x00ffffff;
            break;
        case FORMAT_A8R8G8B8:
        case FORMAT_X8R8G8B8: /* bytes X, R, G, B */
            word = __builtin_bswap32(word) & 0x00ffffff;
            break;
        case FORMAT_R8G8B8A8:
        case FORMAT_R8G8B8X8: /* bytes R, G, B, X */
            word = (word & 0xff) << 16 | (word & 0xff00) | (word >> 16 & 0xff);
            break;
        case FORMAT_A8B8G8R8:
        case FORMAT_X8B8G8R8: /* bytes X, B, G, R */
            word >>= 8;
            break;
        }
        memcpy(pixels + 4 * i, &word, 4);
    }
}

/* --- commands ----------------------------------------------------------------- */

static uint32_t virtio_gpu_get_display_info(struct virtio_gpu *gpu,
                                            const struct virtq_chain *chain,
                                            const union gpu_request *request,
                                            union gpu_response *response)
{
    (void)chain;
    (void)request;
    response->display_info.modes[0].rect.width = gpu->width;
    response->display_info.modes[0].rect.height = gpu->height;
    response->display_info.modes[0].enabled = 1;
    return RESP_OK_DISPLAY_INFO;
}

static uint32_t virtio_gpu_resource_create_2d(struct virtio_gpu *gpu,
                                              const struct virtq_chain *chain,
                                              const union gpu_request *request,
                                              union gpu_response *response)
{
    (void)chain;
    (void)response;
    const struct gpu_resource_create_2d *create = &request->create;
    if (create->resource_id == 0 || virtio_gpu_find(gpu, create->resource_id)) {
        log_once("virtio-gpu: resource id %u is 0 or already taken", create->resource_id);
        return RESP_ERR_INVALID_RESOURCE_ID;
    }
    if (!virtio_gpu_format_known(create->format) || create->width == 0 ||
        create->height == 0 || create->width > VIRTIO_GPU_MAX_SIDE ||
        create->height > VIRTIO_GPU_MAX_SIDE) {
        log_once("virtio-gpu: cannot create a %ux%u resource of format %u", create->width,
                 create->height, create->format);
        return RESP_ERR_INVALID_PARAMETER;
    }
    uint64_t bytes = (uint64_t)create->width * create->height * 4;
    if (gpu->resource_count >= VIRTIO_GPU_MAX_RESOURCES ||
        bytes > VIRTIO_GPU_MAX_TOTAL_BYTES - gpu->total_bytes) {
        log_once("virtio-gpu: resources would take more than %llu MiB or %u resources",
                 VIRTIO_GPU_MAX_TOTAL_BYTES >> 20, VIRTIO_GPU_MAX_RESOURCES);
        return RESP_ERR_OUT_OF_MEMORY;
    }
    struct virtio_gpu_resource *resource = calloc(1, sizeof(*resource));
    uint8_t *pixels = calloc(1, bytes);
    if (!resource || !pixels) {
        log_once("virtio-gpu: out of host memory for a %ux%u resource", create->width,
                 create->height);
        free(resource);
        free(pixels);
        return RESP_ERR_OUT_OF_MEMORY;
    }
    resource->id = create->resource_id;
    resource->format = create->format;
    resource->width = create->width;
    resource->height = create->height;
    resource->pixels = pixels;
    gpu->resources[gpu->resource_count++] = resource;
    gpu->total_bytes += bytes;
    return RESP_OK_NODATA;
}

static struct virtio_gpu_resource *virtio_gpu_find_or_log(struct virtio_gpu *gpu, uint32_t id)
{
    struct virtio_gpu_resource *resource = virtio_gpu_find(gpu, id);
    if (!resource)
        log_once("virtio-gpu: no resource %u", id);
    return resource;
}

static uint32_t virtio_gpu_resource_unref(struct virtio_gpu *gpu, const struct virtq_chain *chain,
                                          const union gpu_request *request,
                                          union gpu_response *response)
{
    (void)chain;
    (void)response;
    uint32_t id = request->resource.resource_id;
    if (!virtio_gpu_find_or_log(gpu, id))
        return RESP_ERR_INVALID_RESOURCE_ID;
    /* Its pixels go away, so nothing may still point at them. */
    if (gpu->scanout.resource_id == id)
        virtio_gpu_disable_scanout(gpu);
    if (gpu->cursor.resource_id == id)
        gpu->cursor.resource_id = 0;
    for (uint32_t i = 0; i < gpu->resource_count; i++) {
        if (gpu->resources[i]->id == id) {
            virtio_gpu_free_resource(gpu, i);
            break;
        }
    }
    return RESP_OK_NODATA;
}

/* The entries are translated now, once: the guest memory map never changes
 * while the VM runs, so the host pointers stay valid until detach or unref
 * (a ballooned page reads as zeros, which is harmless), a bad address fails
 * the command that brought it, and the transfer loop does no lookups. */
static uint32_t virtio_gpu_attach_backing(struct virtio_gpu *gpu, const struct virtq_chain *chain,
                                          const union gpu_request *request,
                                          union gpu_response *response)
{
    (void)response;
    const struct gpu_attach_backing *attach = &request->attach;
    struct virtio_gpu_resource *resource = virtio_gpu_find_or_log(gpu, attach->resource_id);
    if (!resource)
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (resource->backing_count) {
        log_once("virtio-gpu: resource %u already has backing", attach->resource_id);
        return RESP_ERR_UNSPEC;
    }
    uint32_t count = attach->entry_count;
    if (count == 0 || count > VIRTIO_GPU_MAX_BACKING_ENTRIES) {
        log_once("virtio-gpu: %u backing entries (1 to %u allowed)", count,
                 VIRTIO_GPU_MAX_BACKING_ENTRIES);
        return RESP_ERR_INVALID_PARAMETER;
    }
    if (count > VIRTIO_GPU_MAX_TOTAL_BACKING_ENTRIES - gpu->total_backing_entries) {
        log_once("virtio-gpu: more than %u backing entries in all resources",
                 VIRTIO_GPU_MAX_TOTAL_BACKING_ENTRIES);
        return RESP_ERR_OUT_OF_MEMORY;
    }
    if (chain->readable_bytes < sizeof(*attach) + (uint64_t)count * sizeof(struct gpu_mem_entry)) {
        log_once("virtio-gpu: attach backing announces more entries than it carries");
        return RESP_ERR_UNSPEC;
    }
    struct virtio_gpu_backing *backing = calloc(count, sizeof(*backing));
    if (!backing) {
        log_once("virtio-gpu: out of host memory for backing entries");
        return RESP_ERR_OUT_OF_MEMORY;
    }
    /* Read in batches: each chain read walks the buffers from the start. */
    struct gpu_mem_entry entries[64];
    uint32_t stored = 0;
    uint64_t bytes = 0;
    for (uint32_t first = 0; first < count; first += 64) {
        uint32_t batch = count - first < 64 ? count - first : 64;
        virtq_chain_read(chain, sizeof(*attach) + (uint64_t)first * sizeof(entries[0]), entries,
                         batch * sizeof(entries[0]));
        for (uint32_t i = 0; i < batch; i++) {
            if (entries[i].length == 0)
                continue;
            void *host = guest_memory_ptr(gpu->device.memory, entries[i].address,
                                          entries[i].length);
            if (!host) {
                log_once("virtio-gpu: backing at 0x%llx (%u bytes) is not guest memory",
                         (unsigned long long)entries[i].address, entries[i].length);
                free(backing);
                return RESP_ERR_INVALID_PARAMETER;
            }
            backing[stored++] = (struct virtio_gpu_backing){host, entries[i].length};
            bytes += entries[i].length;
        }
    }
    if (stored == 0) {
        log_once("virtio-gpu: backing of resource %u has no bytes", attach->resource_id);
        free(backing);
        return RESP_ERR_INVALID_PARAMETER;
    }
    resource->backing = backing;
    resource->backing_count = stored;
    resource->backing_bytes = bytes;
    gpu->total_backing_entries += stored;
    return RESP_OK_NODATA;
}

static uint32_t virtio_gpu_detach_backing(struct virtio_gpu *gpu, const struct virtq_chain *chain,
                                          const union gpu_request *request,
                                          union gpu_response *response)
{
    (void)chain;
    (void)response;
    struct virtio_gpu_resource *resource =
        virtio_gpu_find_or_log(gpu, request->resource.resource_id);
    if (!resource)
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (!resource->backing_count) {
        log_once("virtio-gpu: detaching backing that resource %u does not have", resource->id);
        return RESP_ERR_UNSPEC;
    }
    virtio_gpu_free_backing(gpu, resource);
    return RESP_OK_NODATA;
}

static uint32_t virtio_gpu_set_scanout(struct virtio_gpu *gpu, const struct virtq_chain *chain,
                                       const union gpu_request *request,
                                       union gpu_response *response)
{
    (void)chain;
    (void)response;
    const struct gpu_set_scanout *set = &request->set_scanout;
    if (set->scanout_id != 0) {
        log_once("virtio-gpu: no scanout %u", set->scanout_id);
        return RESP_ERR_INVALID_SCANOUT_ID;
    }
    if (set->resource_id == 0) {
        virtio_gpu_disable_scanout(gpu);
        return RESP_OK_NODATA;
    }
    struct virtio_gpu_resource *resource = virtio_gpu_find_or_log(gpu, set->resource_id);
    if (!resource)
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (set->rect.width == 0 || set->rect.height == 0 ||
        !virtio_gpu_rect_inside(&set->rect, resource)) {
        log_once("virtio-gpu: scanout rectangle %ux%u+%u+%u is not inside resource %u",
                 set->rect.width, set->rect.height, set->rect.x, set->rect.y, resource->id);
        return RESP_ERR_INVALID_PARAMETER;
    }
    struct virtio_gpu_scanout old = gpu->scanout;
    gpu->scanout = (struct virtio_gpu_scanout){resource->id, set->rect.x, set->rect.y,
                                               set->rect.width, set->rect.height};
    __atomic_store_n(&gpu->scanout_was_set, true, __ATOMIC_RELAXED);
    if (!old.resource_id || old.width != set->rect.width || old.height != set->rect.height)
        virtio_gpu_output_resize(gpu, set->rect.width, set->rect.height);
    /* The scanout shows other pixels now (a page flip, or a new mode): all
     * of them are news to the output. */
    virtio_gpu_output_update(gpu, resource, &set->rect);
    return RESP_OK_NODATA;
}

static uint32_t virtio_gpu_resource_flush(struct virtio_gpu *gpu, const struct virtq_chain *chain,
                                          const union gpu_request *request,
                                          union gpu_response *response)
{
    (void)chain;
    (void)response;
    const struct gpu_resource_flush *flush = &request->flush;
    struct virtio_gpu_resource *resource = virtio_gpu_find_or_log(gpu, flush->resource_id);
    if (!resource)
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (!virtio_gpu_rect_inside(&flush->rect, resource)) {
        log_once("virtio-gpu: flush rectangle %ux%u+%u+%u is not inside resource %u",
                 flush->rect.width, flush->rect.height, flush->rect.x, flush->rect.y,
                 resource->id);
        return RESP_ERR_INVALID_PARAMETER;
    }
    if (gpu->scanout.resource_id == resource->id)
        virtio_gpu_output_update(gpu, resource, &flush->rect);
    return RESP_OK_NODATA;
}

/* Copies length bytes at backing offset position into destination.  The
 * caller checked that the backing holds them; *entry and *entry_start are
 * a cursor that only moves forward, since rows are copied in order. */
static void virtio_gpu_gather(const struct virtio_gpu_resource *resource, uint32_t *entry,
                              uint64_t *entry_start, uint64_t position, uint8_t *destination,
                              uint64_t length)
{
    while (length && *entry < resource->backing_count) {
        const struct virtio_gpu_backing *piece = &resource->backing[*entry];
        if (position >= *entry_start + piece->length) {
            *entry_start += piece->length;
            ++*entry;
            continue;
        }
        uint64_t offset = position - *entry_start;
        uint64_t take = piece->length - offset;
        if (take > length)
            take = length;
        memcpy(destination, piece->host + offset, take);
        destination += take;
        position += take;
        length -= take;
    }
}

static uint32_t virtio_gpu_transfer_to_host_2d(struct virtio_gpu *gpu,
                                               const struct virtq_chain *chain,
                                               const union gpu_request *request,
                                               union gpu_response *response)
{
    (void)chain;
    (void)response;
    const struct gpu_transfer_to_host_2d *transfer = &request->transfer;
    const struct gpu_rect *rect = &transfer->rect;
    struct virtio_gpu_resource *resource = virtio_gpu_find_or_log(gpu, transfer->resource_id);
    if (!resource)
        return RESP_ERR_INVALID_RESOURCE_ID;
    if (!virtio_gpu_rect_inside(rect, resource)) {
        log_once("virtio-gpu: transfer rectangle %ux%u+%u+%u is not inside resource %u",
                 rect->width, rect->height, rect->x, rect->y, resource->id);
        return RESP_ERR_INVALID_PARAMETER;
    }
    if (!resource->backing_count) {
        log_once("virtio-gpu: transfer to resource %u, which has no backing", resource->id);
        return RESP_ERR_UNSPEC;
    }
    if (rect->width == 0 || rect->height == 0)
        return RESP_OK_NODATA;
    /* Row r of the rectangle is at offset + r * stride in the backing, as
     * the pixels lie in the guest's copy of the resource.  Small numbers
     * (sides are at most 16384), so only the offset can overflow. */
    uint64_t stride = (uint64_t)resource->width * 4;
    uint64_t row_bytes = (uint64_t)rect->width * 4;
    uint64_t span = stride * (rect->height - 1) + row_bytes;
    if (transfer->offset > resource->backing_bytes ||
        span > resource->backing_bytes - transfer->offset) {
        log_once("virtio-gpu: transfer at offset %llu reads past the %llu bytes of backing",
                 (unsigned long long)transfer->offset,
                 (unsigned long long)resource->backing_bytes);
        return RESP_ERR_INVALID_PARAMETER;
    }
    /* A big transfer (up to the 256 MiB cap) is done TRANSFER_TURN_BYTES at a
     * time, one piece a turn of the queue, so that it never holds the event
     * loop (terminal input, other devices, a stop) for long.  The same chain
     * with the same request goes on where the last piece stopped; anything
     * else starts afresh. */
    uint32_t row = 0;
    if (gpu->transfer_in_progress.active && gpu->transfer_in_progress.head == chain->head &&
        !memcmp(gpu->transfer_in_progress.request, transfer, sizeof(*transfer)))
        row = gpu->transfer_in_progress.next_row;
    gpu->transfer_in_progress.active = false;
    uint64_t budget = TRANSFER_TURN_BYTES, deadline = virtio_now_ns() + VIRTIO_TURN_NS;
    uint32_t entry = 0;
    uint64_t entry_start = 0;
    for (uint32_t done = 0; row < rect->height; row++, done++) {
        /* The time is looked at every 16 rows (at most 1 MiB). */
        if (budget < row_bytes || (done % 16 == 15 && virtio_now_ns() >= deadline)) {
            gpu->transfer_in_progress.active = true;
            gpu->transfer_in_progress.head = chain->head;
            memcpy(gpu->transfer_in_progress.request, transfer, sizeof(*transfer));
            gpu->transfer_in_progress.next_row = row;
            return RESP_LATER;
        }
        budget -= row_bytes;
        uint8_t *destination = resource->pixels + (rect->y + row) * stride + rect->x * 4ull;
        virtio_gpu_gather(resource, &entry, &entry_start, transfer->offset + row * stride,
                          destination, row_bytes);
        virtio_gpu_convert(destination, rect->width, resource->format);
    }
    return RESP_OK_NODATA;
}

static uint32_t virtio_gpu_update_cursor(struct virtio_gpu *gpu, const struct virtq_chain *chain,
                                         const union gpu_request *request,
                                         union gpu_response *response)
{
    (void)chain;
    (void)response;
    const struct gpu_update_cursor *cursor = &request->cursor;
    if (cursor->scanout_id != 0) {
        log_once("virtio-gpu: cursor on scanout %u, which does not exist", cursor->scanout_id);
        return RESP_ERR_INVALID_SCANOUT_ID;
    }
    if (cursor->header.type == CMD_UPDATE_CURSOR) {
        if (cursor->resource_id && !virtio_gpu_find_or_log(gpu, cursor->resource_id))
            return RESP_ERR_INVALID_RESOURCE_ID;
        gpu->cursor.resource_id = cursor->resource_id;
        gpu->cursor.hot_x = cursor->hot_x;
        gpu->cursor.hot_y = cursor->hot_y;
    }
    gpu->cursor.x = cursor->x;
    gpu->cursor.y = cursor->y;
    return RESP_OK_NODATA;
}

static const struct gpu_command control_commands[] = {
    {CMD_GET_DISPLAY_INFO, sizeof(struct gpu_header), sizeof(struct gpu_display_info),
     virtio_gpu_get_display_info},
    {CMD_RESOURCE_CREATE_2D, sizeof(struct gpu_resource_create_2d), sizeof(struct gpu_header),
     virtio_gpu_resource_create_2d},
    {CMD_RESOURCE_UNREF, sizeof(struct gpu_resource_id), sizeof(struct gpu_header),
     virtio_gpu_resource_unref},
    {CMD_SET_SCANOUT, sizeof(struct gpu_set_scanout), sizeof(struct gpu_header),
     virtio_gpu_set_scanout},
    {CMD_RESOURCE_FLUSH, sizeof(struct gpu_resource_flush), sizeof(struct gpu_header),
     virtio_gpu_resource_flush},
    {CMD_TRANSFER_TO_HOST_2D, sizeof(struct gpu_transfer_to_host_2d), sizeof(struct gpu_header),
     virtio_gpu_transfer_to_host_2d},
    {CMD_RESOURCE_ATTACH_BACKING, sizeof(struct gpu_attach_backing), sizeof(struct gpu_header),
     virtio_gpu_attach_backing},
    {CMD_RESOURCE_DETACH_BACKING, sizeof(struct gpu_resource_id), sizeof(struct gpu_header),
     virtio_gpu_detach_backing},
};

static const struct gpu_command cursor_commands[] = {
    {CMD_UPDATE_CURSOR, sizeof(struct gpu_update_cursor), sizeof(struct gpu_header),
     virtio_gpu_update_cursor},
    {CMD_MOVE_CURSOR, sizeof(struct gpu_update_cursor), sizeof(struct gpu_header),
     virtio_gpu_update_cursor},
};

/* Writes the response header (and body) for request; a fenced command is
 * complete when we answer, so its fence is echoed at once. */
static uint32_t virtio_gpu_respond(const struct virtq_chain *chain,
                                   const struct gpu_header *request, union gpu_response *response,
                                   uint32_t type, uint32_t size)
{
    response->header.type = type;
    if (request->flags & VIRTIO_GPU_FLAG_FENCE) {
        response->header.flags = VIRTIO_GPU_FLAG_FENCE;
        response->header.fence_id = request->fence_id;
        response->header.ctx_id = request->ctx_id;
    }
    return (uint32_t)virtq_chain_write(chain, 0, response, size);
}

/* One request on either queue.  The control queue must give room for the
 * whole response; the cursor queue's responses are optional (Linux sends
 * cursor commands without a response buffer), so there a command runs
 * whatever room there is and is answered when the header fits. */
static uint32_t virtio_gpu_handle(struct virtio_gpu *gpu, struct virtq_chain *chain,
                                  const struct gpu_command *commands, size_t command_count,
                                  bool response_optional)
{
    union gpu_request request;
    union gpu_response response;
    memset(&request, 0, sizeof(request));
    memset(&response, 0, sizeof(response));
    const uint32_t header_size = sizeof(struct gpu_header);
    bool header_fits = chain->writable_bytes >= header_size;
    if (chain->readable_bytes < header_size) {
        log_once("virtio-gpu: request shorter than its header");
        /* No header to echo: the zeroed one stands in. */
        return header_fits ? virtio_gpu_respond(chain, &request.header, &response,
                                                RESP_ERR_UNSPEC, header_size)
                           : 0;
    }
    virtq_chain_read(chain, 0, &request.header, header_size);
    const struct gpu_command *command = NULL;
    for (size_t i = 0; i < command_count; i++)
        if (commands[i].type == request.header.type)
            command = &commands[i];
    if (!command) {
        log_once("virtio-gpu: unknown command 0x%x (or on the wrong queue)",
                 request.header.type);
        return header_fits ? virtio_gpu_respond(chain, &request.header, &response,
                                                RESP_ERR_UNSPEC, header_size)
                           : 0;
    }
    if (chain->writable_bytes < command->response_size && !response_optional) {
        log_once("virtio-gpu: response buffer of %llu bytes for a %u-byte response",
                 (unsigned long long)chain->writable_bytes, command->response_size);
        return header_fits ? virtio_gpu_respond(chain, &request.header, &response,
                                                RESP_ERR_UNSPEC, header_size)
                           : 0;
    }
    uint32_t type;
    if (chain->readable_bytes < command->request_size) {
        log_once("virtio-gpu: command 0x%x shorter than %u bytes", request.header.type,
                 command->request_size);
        type = RESP_ERR_UNSPEC;
    } else {
        virtq_chain_read(chain, 0, &request, command->request_size);
        type = command->run(gpu, chain, &request, &response);
        if (type == RESP_LATER)
            return VIRTIO_HANDLE_LATER;
    }
    /* Errors carry only the header. */
    uint32_t size = type == RESP_OK_DISPLAY_INFO ? command->response_size : header_size;
    if (chain->writable_bytes < size)
        return 0; /* only on the cursor queue: no room for an answer */
    return virtio_gpu_respond(chain, &request.header, &response, type, size);
}

uint32_t virtio_gpu_handle_control(struct virtio_device *device, struct virtq_chain *chain)
{
    return virtio_gpu_handle(device->opaque, chain, control_commands,
                             sizeof(control_commands) / sizeof(control_commands[0]), false);
}

uint32_t virtio_gpu_handle_cursor(struct virtio_device *device, struct virtq_chain *chain)
{
    return virtio_gpu_handle(device->opaque, chain, cursor_commands,
                             sizeof(cursor_commands) / sizeof(cursor_commands[0]), true);
}

/* --- the device --------------------------------------------------------------- */

static void virtio_gpu_queue_notify(struct virtio_device *device, unsigned queue)
{
    struct virtio_gpu *gpu = device->opaque;
    virtio_device_serve_queue(device, queue, &gpu->chain,
                              queue == QUEUE_CONTROL ? virtio_gpu_handle_control
                                                     : virtio_gpu_handle_cursor);
}

/* Writing bits to events_clear clears them in events_read. */
static void virtio_gpu_config_write(struct virtio_device *device, unsigned offset,
                                    const void *data, unsigned length)
{
    struct virtio_gpu *gpu = device->opaque;
    uint8_t clear[4] = {0};
    for (unsigned i = 0; i < length; i++)
        if (offset + i >= CONFIG_EVENTS_CLEAR && offset + i < CONFIG_EVENTS_CLEAR + 4)
            clear[offset + i - CONFIG_EVENTS_CLEAR] = ((const uint8_t *)data)[i];
    for (unsigned i = 0; i < 4; i++)
        gpu->config[CONFIG_EVENTS_READ + i] &= (uint8_t)~clear[i];
}

static void virtio_gpu_reset(struct virtio_device *device)
{
    struct virtio_gpu *gpu = device->opaque;
    virtio_gpu_disable_scanout(gpu);
    virtio_gpu_free_resources(gpu);
    memset(&gpu->cursor, 0, sizeof(gpu->cursor));
    memset(gpu->config + CONFIG_EVENTS_READ, 0, 4);
    gpu->transfer_in_progress.active = false;
}

static const struct virtio_device_ops virtio_gpu_ops = {
    .name = "virtio-gpu",
    .device_id = VIRTIO_ID_GPU,
    .queue_count = 2,
    .queue_max_size = VIRTIO_GPU_QUEUE_SIZE,
    .queue_notify = virtio_gpu_queue_notify,
    .config_write = virtio_gpu_config_write,
    .reset = virtio_gpu_reset,
};

int virtio_gpu_init(struct virtio_gpu *gpu, const struct guest_memory *memory, uint32_t width,
                    uint32_t height, const struct virtio_gpu_output *output, struct error *error)
{
    memset(gpu, 0, sizeof(*gpu));
    if (width == 0 && height == 0) {
        width = VIRTIO_GPU_DEFAULT_WIDTH;
        height = VIRTIO_GPU_DEFAULT_HEIGHT;
    }
    if (width == 0 || height == 0 || width > VIRTIO_GPU_MAX_SIDE ||
        height > VIRTIO_GPU_MAX_SIDE)
        return error_set(error, "virtio-gpu: display size %ux%u (1 to %u pixels a side)", width,
                         height, VIRTIO_GPU_MAX_SIDE);
    gpu->width = width;
    gpu->height = height;
    if (output)
        gpu->output = *output;
    uint32_t scanouts = 1;
    memcpy(gpu->config + CONFIG_NUM_SCANOUTS, &scanouts, 4);
    /* num_capsets stays 0: no 3D. */
    return virtio_device_init(&gpu->device, &virtio_gpu_ops, gpu, memory, gpu->config,
                              sizeof(gpu->config), 0, error);
}

void virtio_gpu_destroy(struct virtio_gpu *gpu)
{
    virtio_gpu_free_resources(gpu);
    virtio_device_destroy(&gpu->device);
}

bool virtio_gpu_scanout_was_set(const struct virtio_gpu *gpu)
{
    return __atomic_load_n(&gpu->scanout_was_set, __ATOMIC_RELAXED);
}
