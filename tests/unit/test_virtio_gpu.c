/* virtio-gpu 2D: requests built by hand in guest memory and taken off a
 * ring with virtq_pop, as the device takes them, then given to the control
 * or cursor handler.  The good path a Linux driver takes (display info,
 * create, attach backing, set scanout, transfer, flush, unref) with the
 * pixels the output receives, every format's conversion, and every way a
 * command can be wrong: each bad command gets its exact error response and
 * the output hears nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "virtio/gpu.h"
#include "virtio/queue.h"

#define MEMORY_SIZE (4u << 20)
#define DESC_TABLE 0x1000ull
#define AVAIL_RING 0x2000ull
#define USED_RING 0x3000ull
#define REQUEST 0x10000ull
#define EXTRA 0x20000ull /* a second readable buffer (backing entries) */
#define RESPONSE 0x80000ull
#define BACKING 0x100000ull
#define QUEUE_SIZE 16
#define UNTOUCHED 0xee /* what the response buffer holds before the device writes */

#define CMD_GET_DISPLAY_INFO 0x0100
#define CMD_RESOURCE_CREATE_2D 0x0101
#define CMD_RESOURCE_UNREF 0x0102
#define CMD_SET_SCANOUT 0x0103
#define CMD_RESOURCE_FLUSH 0x0104
#define CMD_TRANSFER_TO_HOST_2D 0x0105
#define CMD_RESOURCE_ATTACH_BACKING 0x0106
#define CMD_RESOURCE_DETACH_BACKING 0x0107
#define CMD_GET_CAPSET_INFO 0x0108
#define CMD_UPDATE_CURSOR 0x0300
#define CMD_MOVE_CURSOR 0x0301
#define OK_NODATA 0x1100
#define OK_DISPLAY_INFO 0x1101
#define ERR_UNSPEC 0x1200
#define ERR_OUT_OF_MEMORY 0x1201
#define ERR_INVALID_SCANOUT_ID 0x1202
#define ERR_INVALID_RESOURCE_ID 0x1203
#define ERR_INVALID_PARAMETER 0x1205
#define FLAG_FENCE 1

#define B8G8R8A8 1
#define B8G8R8X8 2
#define A8R8G8B8 3
#define X8R8G8B8 4
#define R8G8B8A8 67
#define X8B8G8R8 68
#define A8B8G8R8 121
#define R8G8B8X8 134

#define QUEUE_CONTROL 0
#define QUEUE_CURSOR 1

struct __attribute__((packed)) header {
    uint32_t type, flags;
    uint64_t fence_id;
    uint32_t ctx_id;
    uint8_t ring_idx, padding[3];
};

struct __attribute__((packed)) rect {
    uint32_t x, y, width, height;
};

struct __attribute__((packed)) create_2d {
    struct header header;
    uint32_t resource_id, format, width, height;
};

struct __attribute__((packed)) resource_id {
    struct header header;
    uint32_t resource_id, padding;
};

struct __attribute__((packed)) set_scanout {
    struct header header;
    struct rect rect;
    uint32_t scanout_id, resource_id;
};

struct __attribute__((packed)) flush {
    struct header header;
    struct rect rect;
    uint32_t resource_id, padding;
};

struct __attribute__((packed)) transfer {
    struct header header;
    struct rect rect;
    uint64_t offset;
    uint32_t resource_id, padding;
};

struct __attribute__((packed)) attach {
    struct header header;
    uint32_t resource_id, entry_count;
};

struct __attribute__((packed)) mem_entry {
    uint64_t address;
    uint32_t length, padding;
};

struct __attribute__((packed)) cursor {
    struct header header;
    uint32_t scanout_id, x, y, padding;
    uint32_t resource_id, hot_x, hot_y, padding2;
};

#define DISPLAY_INFO_SIZE (24 + 16 * 24)

/* What the output was told. */
struct recorder {
    int resizes;
    uint32_t width, height;
    int updates;
    uint32_t x, y, w, h, stride;
    uint32_t pixels[64 * 64]; /* the last update, rows packed */
};

struct fixture {
    uint8_t *host;
    struct guest_memory memory;
    struct virtio_gpu *gpu;
    struct virtq queue;
    struct virtq_chain chain;
    uint16_t avail_idx;
    struct recorder output;
    uint32_t written; /* by the last command */
    unsigned turns;   /* the handler's calls it took */
};

static void record_resize(void *opaque, uint32_t width, uint32_t height)
{
    struct recorder *recorder = opaque;
    recorder->resizes++;
    recorder->width = width;
    recorder->height = height;
}

static void record_update(void *opaque, const uint8_t *pixels, uint32_t stride, uint32_t x,
                          uint32_t y, uint32_t width, uint32_t height)
{
    struct recorder *recorder = opaque;
    recorder->updates++;
    recorder->x = x;
    recorder->y = y;
    recorder->w = width;
    recorder->h = height;
    recorder->stride = stride;
    /* Inside the scanout, as promised. */
    assert_true((uint64_t)x + width <= recorder->width);
    assert_true((uint64_t)y + height <= recorder->height);
    if ((uint64_t)width * height <= 64 * 64)
        for (uint32_t row = 0; row < height; row++)
            memcpy(recorder->pixels + row * width, pixels + (uint64_t)row * stride, width * 4);
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    if (!fixture)
        return -1;
    fixture->host = calloc(1, MEMORY_SIZE);
    fixture->gpu = calloc(1, sizeof(*fixture->gpu));
    if (!fixture->host || !fixture->gpu)
        return -1;
    guest_memory_init_over(&fixture->memory, fixture->host, MEMORY_SIZE);
    fixture->queue.size = QUEUE_SIZE;
    fixture->queue.desc_address = DESC_TABLE;
    fixture->queue.avail_address = AVAIL_RING;
    fixture->queue.used_address = USED_RING;
    if (virtq_start(&fixture->queue, &fixture->memory))
        return -1;
    struct virtio_gpu_output output = {&fixture->output, record_resize, record_update};
    struct error error;
    if (virtio_gpu_init(fixture->gpu, &fixture->memory, 0, 0, &output, &error))
        return -1;
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    virtio_gpu_destroy(fixture->gpu);
    free(fixture->gpu);
    free(fixture->host);
    free(fixture);
    return 0;
}

struct part {
    uint64_t address;
    uint32_t length;
    bool writable;
};

/* Links the parts as descriptors 0..count-1, makes the chain available,
 * pops it as the device would, and hands it to the queue's handler. */
static uint32_t submit(struct fixture *fixture, unsigned queue, const struct part *parts,
                       unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        uint16_t flags = (uint16_t)((parts[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0));
        struct virtq_desc desc = {parts[i].address, parts[i].length, flags, (uint16_t)(i + 1)};
        memcpy(fixture->host + DESC_TABLE + 16 * i, &desc, sizeof(desc));
    }
    uint16_t head = 0;
    memcpy(fixture->host + AVAIL_RING + 4 + 2 * (fixture->avail_idx % QUEUE_SIZE), &head, 2);
    fixture->avail_idx++;
    memcpy(fixture->host + AVAIL_RING + 2, &fixture->avail_idx, 2);
    enum virtq_error error;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), 1);
    struct virtio_device *device = &fixture->gpu->device;
    /* A request too big for one turn is taken again, as the device core
     * does, until it is done. */
    fixture->turns = 0;
    do {
        fixture->written = queue == QUEUE_CONTROL
                               ? virtio_gpu_handle_control(device, &fixture->chain)
                               : virtio_gpu_handle_cursor(device, &fixture->chain);
        fixture->turns++;
        assert_true(fixture->turns <= 64);
    } while (fixture->written == VIRTIO_HANDLE_LATER);
    assert_true(fixture->written <= fixture->chain.writable_bytes);
    return fixture->written;
}

static struct header *response(struct fixture *fixture)
{
    return (struct header *)(fixture->host + RESPONSE);
}

/* One command of length bytes with a response buffer of response_length
 * bytes; returns the response type (0 when nothing was written). */
static uint32_t command_sized(struct fixture *fixture, unsigned queue, const void *request,
                              uint32_t length, uint32_t response_length)
{
    memcpy(fixture->host + REQUEST, request, length);
    memset(fixture->host + RESPONSE, UNTOUCHED, DISPLAY_INFO_SIZE + 64);
    struct part parts[] = {{REQUEST, length, false}, {RESPONSE, response_length, true}};
    if (!submit(fixture, queue, parts, response_length ? 2 : 1))
        return 0;
    return response(fixture)->type;
}

static uint32_t command(struct fixture *fixture, const void *request, uint32_t length)
{
    uint32_t type = command_sized(fixture, QUEUE_CONTROL, request, length, 24);
    assert_int_equal(fixture->written, 24);
    return type;
}

static uint32_t create(struct fixture *fixture, uint32_t id, uint32_t format, uint32_t width,
                       uint32_t height)
{
    struct create_2d request = {{CMD_RESOURCE_CREATE_2D}, id, format, width, height};
    return command(fixture, &request, sizeof(request));
}

static uint32_t unref(struct fixture *fixture, uint32_t id)
{
    struct resource_id request = {{CMD_RESOURCE_UNREF}, id, 0};
    return command(fixture, &request, sizeof(request));
}

/* ATTACH_BACKING with the entries in a second readable buffer, as Linux
 * sends them. */
static uint32_t attach(struct fixture *fixture, uint32_t id, const struct mem_entry *entries,
                       uint32_t count)
{
    struct attach request = {{CMD_RESOURCE_ATTACH_BACKING}, id, count};
    memcpy(fixture->host + REQUEST, &request, sizeof(request));
    memcpy(fixture->host + EXTRA, entries, count * sizeof(*entries));
    memset(fixture->host + RESPONSE, UNTOUCHED, 24);
    struct part parts[] = {{REQUEST, sizeof(request), false},
                           {EXTRA, (uint32_t)(count * sizeof(*entries)), false},
                           {RESPONSE, 24, true}};
    if (count)
        submit(fixture, QUEUE_CONTROL, parts, 3);
    else
        submit(fixture, QUEUE_CONTROL, (struct part[]){parts[0], parts[2]}, 2);
    assert_int_equal(fixture->written, 24);
    return response(fixture)->type;
}

/* The backing of a width x height resource in one piece at BACKING. */
static uint32_t attach_simple(struct fixture *fixture, uint32_t id, uint32_t bytes)
{
    struct mem_entry entry = {BACKING, bytes, 0};
    return attach(fixture, id, &entry, 1);
}

static uint32_t detach(struct fixture *fixture, uint32_t id)
{
    struct resource_id request = {{CMD_RESOURCE_DETACH_BACKING}, id, 0};
    return command(fixture, &request, sizeof(request));
}

static uint32_t set_scanout(struct fixture *fixture, uint32_t scanout, uint32_t id, uint32_t x,
                            uint32_t y, uint32_t width, uint32_t height)
{
    struct set_scanout request = {{CMD_SET_SCANOUT}, {x, y, width, height}, scanout, id};
    return command(fixture, &request, sizeof(request));
}

static uint32_t transfer(struct fixture *fixture, uint32_t id, uint32_t x, uint32_t y,
                         uint32_t width, uint32_t height, uint64_t offset)
{
    struct transfer request = {{CMD_TRANSFER_TO_HOST_2D}, {x, y, width, height}, offset, id, 0};
    return command(fixture, &request, sizeof(request));
}

static uint32_t flush(struct fixture *fixture, uint32_t id, uint32_t x, uint32_t y,
                      uint32_t width, uint32_t height)
{
    struct flush request = {{CMD_RESOURCE_FLUSH}, {x, y, width, height}, id, 0};
    return command(fixture, &request, sizeof(request));
}

/* Guest pixel (x, y) of a B8G8R8X8 picture: bytes B, G, R, X all distinct. */
static uint32_t picture(uint32_t x, uint32_t y)
{
    return 0xa5000000u | (y * 16 + x) << 16 | (x * 3 + 1) << 8 | (y * 5 + 2);
}

static void draw_picture(struct fixture *fixture, uint64_t address, uint32_t width,
                         uint32_t height)
{
    for (uint32_t y = 0; y < height; y++)
        for (uint32_t x = 0; x < width; x++) {
            uint32_t pixel = picture(x, y);
            memcpy(fixture->host + address + 4 * (y * width + x), &pixel, 4);
        }
}

/* An 8x4 B8G8R8X8 resource 1 with backing, shown on the scanout. */
static void make_screen(struct fixture *fixture)
{
    assert_int_equal(create(fixture, 1, B8G8R8X8, 8, 4), OK_NODATA);
    assert_int_equal(attach_simple(fixture, 1, 8 * 4 * 4), OK_NODATA);
    assert_int_equal(set_scanout(fixture, 0, 1, 0, 0, 8, 4), OK_NODATA);
    fixture->output.resizes = fixture->output.updates = 0;
}

static void assert_nothing_shown(struct fixture *fixture)
{
    assert_int_equal(fixture->output.resizes, 0);
    assert_int_equal(fixture->output.updates, 0);
}

/* --- the device and its config ---------------------------------------------- */

static void test_config(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_gpu *gpu = fixture->gpu;
    uint32_t words[4];
    memcpy(words, gpu->config, sizeof(words));
    assert_int_equal(words[0], 0); /* events_read */
    assert_int_equal(words[1], 0); /* events_clear */
    assert_int_equal(words[2], 1); /* num_scanouts */
    assert_int_equal(words[3], 0); /* num_capsets */
    assert_int_equal(gpu->device.config_size, 16);
    assert_int_equal(gpu->device.ops->device_id, 16);
    assert_int_equal(gpu->device.ops->queue_count, 2);
    /* No VIRGL, no EDID: only the transport's bits. */
    assert_int_equal(gpu->device.device_features & 0xffffff, 0);

    /* events_clear clears bits of events_read and reads back as zero. */
    uint32_t events = 3;
    memcpy(gpu->config, &events, 4);
    uint32_t clear = 1;
    gpu->device.ops->config_write(&gpu->device, 4, &clear, 4);
    memcpy(words, gpu->config, sizeof(words));
    assert_int_equal(words[0], 2);
    assert_int_equal(words[1], 0);
    /* The rest of config space is read-only. */
    uint32_t junk = 0xffffffff;
    gpu->device.ops->config_write(&gpu->device, 8, &junk, 4);
    gpu->device.ops->config_write(&gpu->device, 0, &junk, 4);
    memcpy(words, gpu->config, sizeof(words));
    assert_int_equal(words[0], 2);
    assert_int_equal(words[2], 1);
}

static void test_init_sizes(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_gpu *gpu = calloc(1, sizeof(*gpu));
    assert_non_null(gpu);
    struct error error;
    assert_int_equal(virtio_gpu_init(gpu, &fixture->memory, 640, 480, NULL, &error), 0);
    assert_int_equal(gpu->width, 640);
    assert_int_equal(gpu->height, 480);
    virtio_gpu_destroy(gpu);
    assert_int_equal(virtio_gpu_init(gpu, &fixture->memory, 16385, 480, NULL, &error), -1);
    assert_non_null(strstr(error.message, "16385x480"));
    assert_int_equal(virtio_gpu_init(gpu, &fixture->memory, 640, 0, NULL, &error), -1);
    free(gpu);
}

static void test_display_info(void **state)
{
    struct fixture *fixture = *state;
    struct header request = {CMD_GET_DISPLAY_INFO};
    assert_int_equal(command_sized(fixture, QUEUE_CONTROL, &request, sizeof(request),
                                   DISPLAY_INFO_SIZE),
                     OK_DISPLAY_INFO);
    assert_int_equal(fixture->written, DISPLAY_INFO_SIZE);
    uint32_t mode[6];
    memcpy(mode, fixture->host + RESPONSE + 24, sizeof(mode));
    assert_int_equal(mode[0], 0);
    assert_int_equal(mode[1], 0);
    assert_int_equal(mode[2], 1024);
    assert_int_equal(mode[3], 768);
    assert_int_equal(mode[4], 1); /* enabled */
    assert_int_equal(mode[5], 0);
    for (unsigned i = 24 + 24; i < DISPLAY_INFO_SIZE; i++)
        assert_int_equal(fixture->host[RESPONSE + i], 0);
    assert_int_equal(fixture->host[RESPONSE + DISPLAY_INFO_SIZE], UNTOUCHED);
}

/* --- the good path ---------------------------------------------------------- */

static void test_linux_path(void **state)
{
    struct fixture *fixture = *state;
    struct recorder *output = &fixture->output;
    assert_false(virtio_gpu_scanout_was_set(fixture->gpu));
    assert_int_equal(create(fixture, 7, B8G8R8X8, 8, 4), OK_NODATA);
    /* Backing in pieces whose lengths are not whole pixels, out of order in
     * guest memory: a pixel straddles two entries. */
    struct mem_entry entries[] = {
        {BACKING + 0x1000, 22, 0},
        {BACKING, 0, 0}, /* empty: harmless */
        {BACKING + 0x3000, 50, 0},
        {BACKING + 0x2000, 56, 0},
    };
    assert_int_equal(attach(fixture, 7, entries, 4), OK_NODATA);
    assert_int_equal(set_scanout(fixture, 0, 7, 0, 0, 8, 4), OK_NODATA);
    assert_true(virtio_gpu_scanout_was_set(fixture->gpu));
    assert_int_equal(output->resizes, 1);
    assert_int_equal(output->width, 8);
    assert_int_equal(output->height, 4);
    /* The new scanout is shown whole: still black. */
    assert_int_equal(output->updates, 1);
    assert_int_equal(output->w, 8);
    assert_int_equal(output->h, 4);
    assert_int_equal(output->pixels[0], 0);

    /* The guest draws into its copy, scattered as the entries say. */
    uint8_t flat[8 * 4 * 4];
    for (uint32_t y = 0; y < 4; y++)
        for (uint32_t x = 0; x < 8; x++) {
            uint32_t pixel = picture(x, y);
            memcpy(flat + 4 * (y * 8 + x), &pixel, 4);
        }
    memcpy(fixture->host + BACKING + 0x1000, flat, 22);
    memcpy(fixture->host + BACKING + 0x3000, flat + 22, 50);
    memcpy(fixture->host + BACKING + 0x2000, flat + 72, 56);
    assert_int_equal(transfer(fixture, 7, 0, 0, 8, 4, 0), OK_NODATA);
    assert_int_equal(output->updates, 1); /* a transfer shows nothing */
    assert_int_equal(flush(fixture, 7, 0, 0, 8, 4), OK_NODATA);
    assert_int_equal(output->updates, 2);
    assert_int_equal(output->x, 0);
    assert_int_equal(output->y, 0);
    assert_int_equal(output->w, 8);
    assert_int_equal(output->h, 4);
    assert_int_equal(output->stride, 32);
    for (uint32_t y = 0; y < 4; y++)
        for (uint32_t x = 0; x < 8; x++)
            assert_int_equal(output->pixels[y * 8 + x], picture(x, y) & 0x00ffffff);

    /* Setting the same scanout again (a page flip) shows it, no resize. */
    assert_int_equal(set_scanout(fixture, 0, 7, 0, 0, 8, 4), OK_NODATA);
    assert_int_equal(output->resizes, 1);
    assert_int_equal(output->updates, 3);

    /* Unref of the resource on the scanout turns the scanout off. */
    assert_int_equal(unref(fixture, 7), OK_NODATA);
    assert_int_equal(output->resizes, 2);
    assert_int_equal(output->width, 0);
    assert_int_equal(flush(fixture, 7, 0, 0, 8, 4), ERR_INVALID_RESOURCE_ID);
    /* The id is free again. */
    assert_int_equal(create(fixture, 7, B8G8R8X8, 2, 2), OK_NODATA);
}

static void test_partial_transfer_and_flush(void **state)
{
    struct fixture *fixture = *state;
    struct recorder *output = &fixture->output;
    make_screen(fixture);
    draw_picture(fixture, BACKING, 8, 4);
    /* Linux's offset for a rectangle: where its first pixel is. */
    assert_int_equal(transfer(fixture, 1, 2, 1, 3, 2, 1 * 32 + 2 * 4), OK_NODATA);
    assert_int_equal(flush(fixture, 1, 0, 0, 8, 4), OK_NODATA);
    for (uint32_t y = 0; y < 4; y++)
        for (uint32_t x = 0; x < 8; x++) {
            bool inside = x >= 2 && x < 5 && y >= 1 && y < 3;
            assert_int_equal(output->pixels[y * 8 + x], inside ? picture(x, y) & 0xffffff : 0);
        }
    /* A flush of part of it: only that part, in scanout coordinates. */
    assert_int_equal(flush(fixture, 1, 3, 2, 2, 1), OK_NODATA);
    assert_int_equal(output->updates, 2);
    assert_int_equal(output->x, 3);
    assert_int_equal(output->y, 2);
    assert_int_equal(output->w, 2);
    assert_int_equal(output->h, 1);
    assert_int_equal(output->stride, 32);
    assert_int_equal(output->pixels[0], picture(3, 2) & 0xffffff);
    assert_int_equal(output->pixels[1], picture(4, 2) & 0xffffff);
    /* An empty flush or transfer does nothing, successfully. */
    assert_int_equal(flush(fixture, 1, 8, 4, 0, 0), OK_NODATA);
    assert_int_equal(transfer(fixture, 1, 0, 0, 0, 0, 0), OK_NODATA);
    assert_int_equal(output->updates, 2);
}

static void test_scanout_part_of_resource(void **state)
{
    struct fixture *fixture = *state;
    struct recorder *output = &fixture->output;
    assert_int_equal(create(fixture, 1, B8G8R8X8, 8, 4), OK_NODATA);
    assert_int_equal(attach_simple(fixture, 1, 8 * 4 * 4), OK_NODATA);
    draw_picture(fixture, BACKING, 8, 4);
    assert_int_equal(transfer(fixture, 1, 0, 0, 8, 4, 0), OK_NODATA);
    /* The scanout shows 4x2 pixels from (2, 1). */
    assert_int_equal(set_scanout(fixture, 0, 1, 2, 1, 4, 2), OK_NODATA);
    assert_int_equal(output->width, 4);
    assert_int_equal(output->height, 2);
    assert_int_equal(output->updates, 1);
    assert_int_equal(output->pixels[0], picture(2, 1) & 0xffffff);
    /* A flush of the whole resource is clipped to the scanout. */
    assert_int_equal(flush(fixture, 1, 0, 0, 8, 4), OK_NODATA);
    assert_int_equal(output->updates, 2);
    assert_int_equal(output->x, 0);
    assert_int_equal(output->y, 0);
    assert_int_equal(output->w, 4);
    assert_int_equal(output->h, 2);
    for (uint32_t y = 0; y < 2; y++)
        for (uint32_t x = 0; x < 4; x++)
            assert_int_equal(output->pixels[y * 4 + x], picture(x + 2, y + 1) & 0xffffff);
    /* One that overlaps a corner: only the overlap. */
    assert_int_equal(flush(fixture, 1, 5, 2, 3, 2), OK_NODATA);
    assert_int_equal(output->updates, 3);
    assert_int_equal(output->x, 3);
    assert_int_equal(output->y, 1);
    assert_int_equal(output->w, 1);
    assert_int_equal(output->h, 1);
    assert_int_equal(output->pixels[0], picture(5, 2) & 0xffffff);
    /* One outside the scanout: nothing. */
    assert_int_equal(flush(fixture, 1, 0, 0, 2, 4), OK_NODATA);
    assert_int_equal(flush(fixture, 1, 6, 0, 2, 4), OK_NODATA);
    assert_int_equal(output->updates, 3);
    /* A resource not on the scanout is flushed without a word to the output. */
    assert_int_equal(create(fixture, 2, B8G8R8X8, 8, 4), OK_NODATA);
    assert_int_equal(flush(fixture, 2, 0, 0, 8, 4), OK_NODATA);
    assert_int_equal(output->updates, 3);
    /* Resource 0 turns the scanout off. */
    assert_int_equal(set_scanout(fixture, 0, 0, 0, 0, 0, 0), OK_NODATA);
    assert_int_equal(output->resizes, 2);
    assert_int_equal(output->width, 0);
    assert_int_equal(flush(fixture, 1, 0, 0, 8, 4), OK_NODATA);
    assert_int_equal(output->updates, 3);
}

static void test_formats(void **state)
{
    struct fixture *fixture = *state;
    /* Bytes in guest memory for red 0x11, green 0x22, blue 0x33, other 0x44. */
    static const struct {
        uint32_t format;
        uint8_t bytes[4];
    } formats[] = {
        {B8G8R8A8, {0x33, 0x22, 0x11, 0x44}}, {B8G8R8X8, {0x33, 0x22, 0x11, 0x44}},
        {A8R8G8B8, {0x44, 0x11, 0x22, 0x33}}, {X8R8G8B8, {0x44, 0x11, 0x22, 0x33}},
        {R8G8B8A8, {0x11, 0x22, 0x33, 0x44}}, {R8G8B8X8, {0x11, 0x22, 0x33, 0x44}},
        {A8B8G8R8, {0x44, 0x33, 0x22, 0x11}}, {X8B8G8R8, {0x44, 0x33, 0x22, 0x11}},
    };
    for (uint32_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        uint32_t id = 10 + i;
        assert_int_equal(create(fixture, id, formats[i].format, 2, 1), OK_NODATA);
        struct mem_entry entry = {BACKING + 0x100 * i, 8, 0};
        assert_int_equal(attach(fixture, id, &entry, 1), OK_NODATA);
        memcpy(fixture->host + BACKING + 0x100 * i, formats[i].bytes, 4);
        memcpy(fixture->host + BACKING + 0x100 * i + 4, formats[i].bytes, 4);
        assert_int_equal(transfer(fixture, id, 0, 0, 2, 1, 0), OK_NODATA);
        assert_int_equal(set_scanout(fixture, 0, id, 0, 0, 2, 1), OK_NODATA);
        assert_int_equal(fixture->output.w, 2);
        assert_int_equal(fixture->output.pixels[0], 0x00112233);
        assert_int_equal(fixture->output.pixels[1], 0x00112233);
    }
}

static void test_fence_echoed(void **state)
{
    struct fixture *fixture = *state;
    struct create_2d request = {
        {CMD_RESOURCE_CREATE_2D, FLAG_FENCE, 0x1122334455667788ull, 7}, 1, B8G8R8X8, 4, 4};
    assert_int_equal(command(fixture, &request, sizeof(request)), OK_NODATA);
    struct header *reply = response(fixture);
    assert_int_equal(reply->flags, FLAG_FENCE);
    assert_int_equal(reply->fence_id, 0x1122334455667788ull);
    assert_int_equal(reply->ctx_id, 7);
    /* On an error too: the fence still completes. */
    assert_int_equal(command(fixture, &request, sizeof(request)), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(reply->flags, FLAG_FENCE);
    assert_int_equal(reply->fence_id, 0x1122334455667788ull);
    /* Without the flag, no fence in the answer. */
    request.header.flags = 0;
    request.resource_id = 2;
    assert_int_equal(command(fixture, &request, sizeof(request)), OK_NODATA);
    assert_int_equal(reply->flags, 0);
    assert_int_equal(reply->fence_id, 0);
    assert_int_equal(reply->ctx_id, 0);
}

/* --- bad commands ------------------------------------------------------------- */

static void test_unknown_and_short_commands(void **state)
{
    struct fixture *fixture = *state;
    make_screen(fixture);
    struct header unknown = {0x999};
    assert_int_equal(command(fixture, &unknown, sizeof(unknown)), ERR_UNSPEC);
    struct header capset = {CMD_GET_CAPSET_INFO}; /* 3D: not ours */
    assert_int_equal(command(fixture, &capset, sizeof(capset)), ERR_UNSPEC);
    struct cursor cursor = {{CMD_MOVE_CURSOR}};
    assert_int_equal(command(fixture, &cursor, sizeof(cursor)), ERR_UNSPEC); /* wrong queue */
    /* A header cut short. */
    assert_int_equal(command(fixture, &unknown, 10), ERR_UNSPEC);
    /* A command cut short does nothing. */
    struct create_2d create_request = {{CMD_RESOURCE_CREATE_2D}, 5, B8G8R8X8, 4, 4};
    assert_int_equal(command(fixture, &create_request, sizeof(create_request) - 1), ERR_UNSPEC);
    assert_int_equal(unref(fixture, 5), ERR_INVALID_RESOURCE_ID);
    struct flush flush_request = {{CMD_RESOURCE_FLUSH}, {0, 0, 8, 4}, 1, 0};
    assert_int_equal(command(fixture, &flush_request, 30), ERR_UNSPEC);
    assert_nothing_shown(fixture);
    /* A request with no response buffer at all: nothing written. */
    assert_int_equal(command_sized(fixture, QUEUE_CONTROL, &create_request,
                                   sizeof(create_request), 0),
                     0);
    assert_int_equal(unref(fixture, 5), ERR_INVALID_RESOURCE_ID); /* and not run */
}

static void test_short_response_buffer(void **state)
{
    struct fixture *fixture = *state;
    make_screen(fixture);
    struct header request = {CMD_GET_DISPLAY_INFO};
    /* Room for a header only: an error, in the header. */
    assert_int_equal(command_sized(fixture, QUEUE_CONTROL, &request, sizeof(request), 24),
                     ERR_UNSPEC);
    assert_int_equal(fixture->written, 24);
    assert_int_equal(fixture->host[RESPONSE + 24], UNTOUCHED);
    assert_int_equal(command_sized(fixture, QUEUE_CONTROL, &request, sizeof(request),
                                   DISPLAY_INFO_SIZE - 1),
                     ERR_UNSPEC);
    /* Not even that: nothing written. */
    assert_int_equal(command_sized(fixture, QUEUE_CONTROL, &request, sizeof(request), 23), 0);
    assert_int_equal(fixture->written, 0);
    assert_int_equal(fixture->host[RESPONSE], UNTOUCHED);
    /* A command that does not fit its answer is not run. */
    struct flush flush_request = {{CMD_RESOURCE_FLUSH}, {0, 0, 8, 4}, 1, 0};
    assert_int_equal(command_sized(fixture, QUEUE_CONTROL, &flush_request,
                                   sizeof(flush_request), 8),
                     0);
    struct create_2d create_request = {{CMD_RESOURCE_CREATE_2D}, 5, B8G8R8X8, 4, 4};
    assert_int_equal(command_sized(fixture, QUEUE_CONTROL, &create_request,
                                   sizeof(create_request), 16),
                     0);
    assert_int_equal(unref(fixture, 5), ERR_INVALID_RESOURCE_ID);
    assert_nothing_shown(fixture);
}

static void test_create_errors(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(create(fixture, 0, B8G8R8X8, 4, 4), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(create(fixture, 1, B8G8R8X8, 4, 4), OK_NODATA);
    assert_int_equal(create(fixture, 1, B8G8R8X8, 4, 4), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(create(fixture, 2, 0, 4, 4), ERR_INVALID_PARAMETER);
    assert_int_equal(create(fixture, 2, 5, 4, 4), ERR_INVALID_PARAMETER);
    assert_int_equal(create(fixture, 2, 0xffffffff, 4, 4), ERR_INVALID_PARAMETER);
    assert_int_equal(create(fixture, 2, B8G8R8X8, 0, 4), ERR_INVALID_PARAMETER);
    assert_int_equal(create(fixture, 2, B8G8R8X8, 4, 0), ERR_INVALID_PARAMETER);
    assert_int_equal(create(fixture, 2, B8G8R8X8, 16385, 1), ERR_INVALID_PARAMETER);
    assert_int_equal(create(fixture, 2, B8G8R8X8, 1, 16385), ERR_INVALID_PARAMETER);
    assert_int_equal(create(fixture, 2, B8G8R8X8, 0xffffffff, 0xffffffff),
                     ERR_INVALID_PARAMETER);
    /* 1 GiB is more than the total allowed. */
    assert_int_equal(create(fixture, 2, B8G8R8X8, 16384, 16384), ERR_OUT_OF_MEMORY);
    assert_int_equal(fixture->gpu->resource_count, 1);
    assert_int_equal(fixture->gpu->total_bytes, 4 * 4 * 4);
    assert_nothing_shown(fixture);
}

static void test_total_bytes_cap(void **state)
{
    struct fixture *fixture = *state;
    /* Two of 128 MiB fill the budget less resource 1's 64 bytes. */
    assert_int_equal(create(fixture, 1, B8G8R8X8, 4, 4), OK_NODATA);
    assert_int_equal(create(fixture, 2, B8G8R8X8, 8192, 4096), OK_NODATA);
    assert_int_equal(create(fixture, 3, B8G8R8X8, 8192, 4096), ERR_OUT_OF_MEMORY);
    assert_int_equal(create(fixture, 3, B8G8R8X8, 8192, 4095), OK_NODATA);
    assert_int_equal(create(fixture, 4, B8G8R8X8, 8192, 1), ERR_OUT_OF_MEMORY);
    /* Freed bytes can be used again. */
    assert_int_equal(unref(fixture, 2), OK_NODATA);
    assert_int_equal(create(fixture, 4, B8G8R8X8, 8192, 4096), OK_NODATA);
    assert_int_equal(unref(fixture, 1), OK_NODATA);
    assert_int_equal(unref(fixture, 3), OK_NODATA);
    assert_int_equal(unref(fixture, 4), OK_NODATA);
    assert_int_equal(fixture->gpu->total_bytes, 0);
}

static void test_resource_count_cap(void **state)
{
    struct fixture *fixture = *state;
    for (uint32_t id = 1; id <= VIRTIO_GPU_MAX_RESOURCES; id++)
        assert_int_equal(create(fixture, id, B8G8R8X8, 1, 1), OK_NODATA);
    assert_int_equal(create(fixture, 0x10000, B8G8R8X8, 1, 1), ERR_OUT_OF_MEMORY);
    assert_int_equal(unref(fixture, 100), OK_NODATA);
    assert_int_equal(create(fixture, 0x10000, B8G8R8X8, 1, 1), OK_NODATA);
    assert_int_equal(unref(fixture, 0x10000), OK_NODATA);
    assert_int_equal(unref(fixture, 1), OK_NODATA);
    assert_int_equal(unref(fixture, VIRTIO_GPU_MAX_RESOURCES), OK_NODATA);
    assert_int_equal(fixture->gpu->resource_count, VIRTIO_GPU_MAX_RESOURCES - 3);
}

static void test_unref_errors(void **state)
{
    struct fixture *fixture = *state;
    make_screen(fixture);
    assert_int_equal(unref(fixture, 0), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(unref(fixture, 2), ERR_INVALID_RESOURCE_ID);
    assert_nothing_shown(fixture);
}

static void test_attach_errors(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(create(fixture, 1, B8G8R8X8, 8, 4), OK_NODATA);
    struct mem_entry good = {BACKING, 128, 0};
    assert_int_equal(attach(fixture, 2, &good, 1), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(attach(fixture, 0, &good, 1), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(attach(fixture, 1, &good, 0), ERR_INVALID_PARAMETER);
    /* Entries outside guest memory, straddling its end, or wrapping. */
    struct mem_entry outside[][2] = {
        {{BACKING, 64, 0}, {MEMORY_SIZE, 64, 0}},
        {{BACKING, 64, 0}, {MEMORY_SIZE - 32, 64, 0}},
        {{0xffffffffffffffc0ull, 0x80, 0}, {BACKING, 64, 0}},
        {{BACKING, 64, 0}, {0x100000000ull, 64, 0}},
    };
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++)
        assert_int_equal(attach(fixture, 1, outside[i], 2), ERR_INVALID_PARAMETER);
    /* Only empty entries: no backing. */
    struct mem_entry empty = {BACKING, 0, 0};
    assert_int_equal(attach(fixture, 1, &empty, 1), ERR_INVALID_PARAMETER);
    /* Nothing was attached by the failures. */
    assert_int_equal(fixture->gpu->total_backing_entries, 0);
    assert_int_equal(transfer(fixture, 1, 0, 0, 8, 4, 0), ERR_UNSPEC);
    /* More entries announced than sent. */
    struct attach request = {{CMD_RESOURCE_ATTACH_BACKING}, 1, 3};
    memcpy(fixture->host + REQUEST, &request, sizeof(request));
    memcpy(fixture->host + REQUEST + sizeof(request), &good, sizeof(good));
    assert_int_equal(command(fixture, &request, sizeof(request)), ERR_UNSPEC);
    struct part parts[] = {{REQUEST, sizeof(request) + 2 * sizeof(good), false},
                           {RESPONSE, 24, true}};
    submit(fixture, QUEUE_CONTROL, parts, 2);
    assert_int_equal(response(fixture)->type, ERR_UNSPEC);
    /* Too many entries, whatever is sent. */
    request.entry_count = VIRTIO_GPU_MAX_BACKING_ENTRIES + 1;
    assert_int_equal(command(fixture, &request, sizeof(request)), ERR_INVALID_PARAMETER);
    request.entry_count = 0xffffffff;
    assert_int_equal(command(fixture, &request, sizeof(request)), ERR_INVALID_PARAMETER);
    /* In the same buffer as the command is fine. */
    request.entry_count = 1;
    memcpy(fixture->host + REQUEST, &request, sizeof(request));
    parts[0].length = sizeof(request) + sizeof(good);
    submit(fixture, QUEUE_CONTROL, parts, 2);
    assert_int_equal(response(fixture)->type, OK_NODATA);
    /* A second attach is refused; the first stays. */
    assert_int_equal(attach(fixture, 1, &good, 1), ERR_UNSPEC);
    assert_int_equal(fixture->gpu->total_backing_entries, 1);
    assert_int_equal(transfer(fixture, 1, 0, 0, 8, 4, 0), OK_NODATA);
}

static void test_backing_entries_cap(void **state)
{
    struct fixture *fixture = *state;
    /* Every entry the same page: it is the count that is capped. */
    static struct mem_entry entries[VIRTIO_GPU_MAX_BACKING_ENTRIES];
    for (uint32_t i = 0; i < VIRTIO_GPU_MAX_BACKING_ENTRIES; i++)
        entries[i] = (struct mem_entry){BACKING, 4096, 0};
    uint32_t full = VIRTIO_GPU_MAX_TOTAL_BACKING_ENTRIES / VIRTIO_GPU_MAX_BACKING_ENTRIES;
    for (uint32_t id = 1; id <= full + 1; id++) {
        assert_int_equal(create(fixture, id, B8G8R8X8, 4, 4), OK_NODATA);
        assert_int_equal(attach(fixture, id, entries, VIRTIO_GPU_MAX_BACKING_ENTRIES),
                         id <= full ? OK_NODATA : ERR_OUT_OF_MEMORY);
    }
    assert_int_equal(detach(fixture, 1), OK_NODATA);
    assert_int_equal(attach(fixture, full + 1, entries, VIRTIO_GPU_MAX_BACKING_ENTRIES),
                     OK_NODATA);
    /* Unref gives entries back too. */
    assert_int_equal(unref(fixture, 2), OK_NODATA);
    assert_int_equal(fixture->gpu->total_backing_entries,
                     (uint64_t)(full - 1) * VIRTIO_GPU_MAX_BACKING_ENTRIES);
}

static void test_detach(void **state)
{
    struct fixture *fixture = *state;
    make_screen(fixture);
    assert_int_equal(detach(fixture, 2), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(detach(fixture, 0), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(detach(fixture, 1), OK_NODATA);
    assert_int_equal(detach(fixture, 1), ERR_UNSPEC);
    /* Missing backing: transfer fails, flush still shows what is there. */
    assert_int_equal(transfer(fixture, 1, 0, 0, 8, 4, 0), ERR_UNSPEC);
    assert_int_equal(fixture->output.updates, 0);
    assert_int_equal(flush(fixture, 1, 0, 0, 8, 4), OK_NODATA);
    assert_int_equal(fixture->output.updates, 1);
    assert_int_equal(attach_simple(fixture, 1, 128), OK_NODATA);
    assert_int_equal(transfer(fixture, 1, 0, 0, 8, 4, 0), OK_NODATA);
}

static void test_set_scanout_errors(void **state)
{
    struct fixture *fixture = *state;
    make_screen(fixture);
    assert_int_equal(set_scanout(fixture, 1, 1, 0, 0, 8, 4), ERR_INVALID_SCANOUT_ID);
    assert_int_equal(set_scanout(fixture, 16, 0, 0, 0, 0, 0), ERR_INVALID_SCANOUT_ID);
    assert_int_equal(set_scanout(fixture, 0xffffffff, 1, 0, 0, 8, 4), ERR_INVALID_SCANOUT_ID);
    assert_int_equal(set_scanout(fixture, 0, 2, 0, 0, 8, 4), ERR_INVALID_RESOURCE_ID);
    static const struct rect bad[] = {
        {0, 0, 9, 4},          {0, 0, 8, 5},          {1, 0, 8, 4},
        {0, 1, 8, 4},          {8, 0, 1, 1},          {0, 0, 0, 4},
        {0, 0, 8, 0},          {0xffffffff, 0, 2, 4}, {0, 0xfffffffe, 8, 4},
        {4, 0, 0xfffffffc, 4}, {0, 0, 0xffffffff, 0xffffffff},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            set_scanout(fixture, 0, 1, bad[i].x, bad[i].y, bad[i].width, bad[i].height),
            ERR_INVALID_PARAMETER);
    assert_nothing_shown(fixture);
    /* The scanout is as it was. */
    assert_int_equal(fixture->gpu->scanout.resource_id, 1);
    assert_int_equal(fixture->gpu->scanout.width, 8);
}

/* A 16 MiB transfer is done in pieces of a turn each (8 MiB or 2 ms), the same
 * chain taken again in between, with every row in place at the end.  The
 * backing is 1024 entries over one 16 KiB row of guest memory. */
static void test_big_transfer_takes_turns(void **state)
{
    struct fixture *fixture = *state;
    const uint32_t width = 4096, height = 1024, row_bytes = width * 4;
    static struct mem_entry entries[1024];
    for (uint32_t i = 0; i < height; i++)
        entries[i] = (struct mem_entry){BACKING, row_bytes, 0};
    draw_picture(fixture, BACKING, width, 1);
    assert_int_equal(create(fixture, 1, B8G8R8X8, width, height), OK_NODATA);
    assert_int_equal(attach(fixture, 1, entries, height), OK_NODATA);
    assert_int_equal(transfer(fixture, 1, 0, 0, width, height, 0), OK_NODATA);
    /* At most 8 MiB a turn, and at most 2 ms: two turns or more. */
    print_message("a 16 MiB transfer took %u turns\n", fixture->turns);
    assert_true(fixture->turns >= 2);
    const uint32_t *pixels = (const uint32_t *)fixture->gpu->resources[0]->pixels;
    for (uint32_t y = 0; y < height; y += 511)
        for (uint32_t x = 0; x < width; x += 1365)
            assert_int_equal(pixels[y * width + x], picture(x, 0) & 0xffffff);
    assert_int_equal(pixels[(height - 1) * width + width - 1], picture(width - 1, 0) & 0xffffff);
    assert_false(fixture->gpu->transfer_in_progress.active);
    /* A small one after it takes one turn. */
    assert_int_equal(transfer(fixture, 1, 0, 0, 16, 16, 0), OK_NODATA);
    assert_int_equal(fixture->turns, 1);
}

static void test_transfer_errors(void **state)
{
    struct fixture *fixture = *state;
    make_screen(fixture);
    draw_picture(fixture, BACKING, 8, 4);
    assert_int_equal(transfer(fixture, 2, 0, 0, 8, 4, 0), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(transfer(fixture, 0, 0, 0, 8, 4, 0), ERR_INVALID_RESOURCE_ID);
    static const struct rect bad[] = {
        {0, 0, 9, 4}, {0, 0, 8, 5}, {1, 0, 8, 4}, {0xffffffff, 0, 2, 1}, {0, 0xffffffff, 1, 2},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            transfer(fixture, 1, bad[i].x, bad[i].y, bad[i].width, bad[i].height, 0),
            ERR_INVALID_PARAMETER);
    /* Offsets that read past the 128 bytes of backing, or wrap. */
    assert_int_equal(transfer(fixture, 1, 0, 0, 8, 4, 4), ERR_INVALID_PARAMETER);
    assert_int_equal(transfer(fixture, 1, 0, 3, 8, 1, 97), ERR_INVALID_PARAMETER);
    assert_int_equal(transfer(fixture, 1, 0, 0, 1, 1, 128), ERR_INVALID_PARAMETER);
    assert_int_equal(transfer(fixture, 1, 0, 0, 1, 1, 0xffffffffffffffffull),
                     ERR_INVALID_PARAMETER);
    assert_int_equal(transfer(fixture, 1, 0, 0, 1, 1, 0xfffffffffffffffcull),
                     ERR_INVALID_PARAMETER);
    /* The last pixel of the backing is fine. */
    assert_int_equal(transfer(fixture, 1, 0, 0, 1, 1, 124), OK_NODATA);
    assert_int_equal(transfer(fixture, 1, 0, 3, 8, 1, 96), OK_NODATA);
    /* Nothing shown, and only those two transfers reached the pixels. */
    assert_nothing_shown(fixture);
    assert_int_equal(flush(fixture, 1, 0, 0, 8, 4), OK_NODATA);
    for (uint32_t y = 0; y < 4; y++)
        for (uint32_t x = 0; x < 8; x++) {
            uint32_t expected = y == 3 ? picture(x, 3) : 0;
            if (x == 0 && y == 0)
                expected = picture(7, 3);
            assert_int_equal(fixture->output.pixels[y * 8 + x], expected & 0xffffff);
        }
}

static void test_flush_errors(void **state)
{
    struct fixture *fixture = *state;
    make_screen(fixture);
    assert_int_equal(flush(fixture, 2, 0, 0, 8, 4), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(flush(fixture, 0, 0, 0, 8, 4), ERR_INVALID_RESOURCE_ID);
    assert_int_equal(flush(fixture, 1, 0, 0, 9, 4), ERR_INVALID_PARAMETER);
    assert_int_equal(flush(fixture, 1, 0, 0, 8, 5), ERR_INVALID_PARAMETER);
    assert_int_equal(flush(fixture, 1, 7, 0, 2, 1), ERR_INVALID_PARAMETER);
    assert_int_equal(flush(fixture, 1, 0xffffffff, 0, 2, 1), ERR_INVALID_PARAMETER);
    assert_int_equal(flush(fixture, 1, 0, 0xfffffffd, 1, 4), ERR_INVALID_PARAMETER);
    assert_nothing_shown(fixture);
}

static void test_cursor_queue(void **state)
{
    struct fixture *fixture = *state;
    make_screen(fixture);
    assert_int_equal(create(fixture, 2, B8G8R8A8, 64, 64), OK_NODATA);
    /* As Linux sends it: no response buffer. */
    struct cursor update = {{CMD_UPDATE_CURSOR}, 0, 10, 20, 0, 2, 3, 4, 0};
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &update, sizeof(update), 0), 0);
    assert_int_equal(fixture->gpu->cursor.resource_id, 2);
    assert_int_equal(fixture->gpu->cursor.hot_x, 3);
    assert_int_equal(fixture->gpu->cursor.x, 10);
    /* With one, the answer. */
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &update, sizeof(update), 24),
                     OK_NODATA);
    struct cursor move = {{CMD_MOVE_CURSOR}, 0, 30, 40, 0, 99, 0, 0, 0};
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &move, sizeof(move), 24), OK_NODATA);
    assert_int_equal(fixture->gpu->cursor.x, 30);
    assert_int_equal(fixture->gpu->cursor.y, 40);
    assert_int_equal(fixture->gpu->cursor.resource_id, 2); /* a move ignores it */
    /* Errors. */
    update.scanout_id = 1;
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &update, sizeof(update), 24),
                     ERR_INVALID_SCANOUT_ID);
    move.scanout_id = 5;
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &move, sizeof(move), 24),
                     ERR_INVALID_SCANOUT_ID);
    update.scanout_id = 0;
    update.resource_id = 9;
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &update, sizeof(update), 24),
                     ERR_INVALID_RESOURCE_ID);
    assert_int_equal(fixture->gpu->cursor.resource_id, 2);
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &update, sizeof(update) - 4, 24),
                     ERR_UNSPEC);
    struct header display = {CMD_GET_DISPLAY_INFO}; /* wrong queue */
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &display, sizeof(display),
                                   DISPLAY_INFO_SIZE),
                     ERR_UNSPEC);
    assert_int_equal(fixture->written, 24);
    /* Resource 0 hides it; unref of the cursor's resource does too. */
    update.resource_id = 0;
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &update, sizeof(update), 24),
                     OK_NODATA);
    assert_int_equal(fixture->gpu->cursor.resource_id, 0);
    update.resource_id = 2;
    assert_int_equal(command_sized(fixture, QUEUE_CURSOR, &update, sizeof(update), 24),
                     OK_NODATA);
    assert_int_equal(unref(fixture, 2), OK_NODATA);
    assert_int_equal(fixture->gpu->cursor.resource_id, 0);
    assert_nothing_shown(fixture);
}

static void test_reset_frees_everything(void **state)
{
    struct fixture *fixture = *state;
    make_screen(fixture);
    assert_int_equal(create(fixture, 2, B8G8R8X8, 16, 16), OK_NODATA);
    virtio_device_set_status(&fixture->gpu->device, 0);
    assert_int_equal(fixture->output.resizes, 1);
    assert_int_equal(fixture->output.width, 0);
    assert_int_equal(fixture->gpu->resource_count, 0);
    assert_int_equal(fixture->gpu->total_bytes, 0);
    assert_int_equal(fixture->gpu->total_backing_entries, 0);
    assert_int_equal(fixture->gpu->scanout.resource_id, 0);
    assert_int_equal(flush(fixture, 1, 0, 0, 8, 4), ERR_INVALID_RESOURCE_ID);
    /* Still "set once", for the never-set-a-scanout message. */
    assert_true(virtio_gpu_scanout_was_set(fixture->gpu));
    assert_int_equal(create(fixture, 1, B8G8R8X8, 8, 4), OK_NODATA);
}

/* Through the device's own queue serving: a chain on the control queue is
 * answered in the used ring, with its length. */
static void test_served_through_queue(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_device *device = &fixture->gpu->device;
    struct virtq *queue = &device->queues[QUEUE_CONTROL];
    queue->size = QUEUE_SIZE;
    queue->desc_address = DESC_TABLE;
    queue->avail_address = AVAIL_RING;
    queue->used_address = USED_RING;
    virtio_device_enable_queue(device, QUEUE_CONTROL);
    assert_true(queue->started);
    device->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
    struct header request = {CMD_GET_DISPLAY_INFO};
    memcpy(fixture->host + REQUEST, &request, sizeof(request));
    struct virtq_desc descs[] = {
        {REQUEST, sizeof(request), VIRTQ_DESC_F_NEXT, 1},
        {RESPONSE, DISPLAY_INFO_SIZE, VIRTQ_DESC_F_WRITE, 0},
    };
    memcpy(fixture->host + DESC_TABLE, descs, sizeof(descs));
    uint16_t head = 0, index = 1;
    memcpy(fixture->host + AVAIL_RING + 4, &head, 2);
    memcpy(fixture->host + AVAIL_RING + 2, &index, 2);
    device->ops->queue_notify(device, QUEUE_CONTROL);
    uint16_t used_index;
    uint32_t used[2];
    memcpy(&used_index, fixture->host + USED_RING + 2, 2);
    memcpy(used, fixture->host + USED_RING + 4, 8);
    assert_int_equal(used_index, 1);
    assert_int_equal(used[0], 0);
    assert_int_equal(used[1], DISPLAY_INFO_SIZE);
    assert_int_equal(response(fixture)->type, OK_DISPLAY_INFO);
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_config),
        TEST(test_init_sizes),
        TEST(test_display_info),
        TEST(test_linux_path),
        TEST(test_partial_transfer_and_flush),
        TEST(test_scanout_part_of_resource),
        TEST(test_formats),
        TEST(test_fence_echoed),
        TEST(test_unknown_and_short_commands),
        TEST(test_short_response_buffer),
        TEST(test_create_errors),
        TEST(test_total_bytes_cap),
        TEST(test_big_transfer_takes_turns),
        TEST(test_resource_count_cap),
        TEST(test_unref_errors),
        TEST(test_attach_errors),
        TEST(test_backing_entries_cap),
        TEST(test_detach),
        TEST(test_set_scanout_errors),
        TEST(test_transfer_errors),
        TEST(test_flush_errors),
        TEST(test_cursor_queue),
        TEST(test_reset_frees_everything),
        TEST(test_served_through_queue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
