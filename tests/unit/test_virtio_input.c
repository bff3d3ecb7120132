/* virtio-input keyboard and tablet: the config space a Linux driver reads
 * through select/subsel, and events delivered into buffers posted on a
 * hand-built event ring: in order, ending with SYN, a group dropped whole
 * when there are too few buffers, nothing when the driver is not ready or
 * after a reset, and the status queue taken and completed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "memory.h"
#include "virtio/input.h"
#include "virtio/queue.h"

#define MEMORY_SIZE (1u << 20)
#define DESC_TABLE 0x1000ull
#define AVAIL_RING 0x2000ull
#define USED_RING 0x3000ull
#define STATUS_DESC_TABLE 0x4000ull
#define STATUS_AVAIL_RING 0x5000ull
#define STATUS_USED_RING 0x6000ull
#define EVENTS 0x10000ull /* buffer k at EVENTS + 16 * k */
#define QUEUE_SIZE 16
#define UNTOUCHED 0xee

#define CFG_ID_NAME 0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS 0x11
#define CFG_ABS_INFO 0x12

#define EV_SYN 0
#define EV_KEY 1
#define EV_REL 2
#define EV_ABS 3
#define EV_LED 0x11
#define EV_REP 0x14
#define KEY_ESC 1
#define KEY_A 30
#define KEY_MICMUTE 248
#define BTN_LEFT 0x110
#define BTN_RIGHT 0x111
#define BTN_MIDDLE 0x112

struct event {
    uint16_t type, code;
    uint32_t value;
};

struct fixture {
    uint8_t *host;
    struct guest_memory memory;
    struct virtio_input *input;
    uint16_t avail_idx, used_seen;
    unsigned next_buffer;
    int interrupts;
};

static void count_interrupt(void *transport, uint16_t vector, bool config_change)
{
    (void)vector;
    struct fixture *fixture = transport;
    if (!config_change)
        fixture->interrupts++;
}

static void make_device(struct fixture *fixture, enum virtio_input_kind kind)
{
    struct error error;
    if (fixture->input->device.ops)
        virtio_input_destroy(fixture->input);
    if (virtio_input_init(fixture->input, kind, &fixture->memory, 1024, 768, &error))
        fail_msg("%s", error.message);
    struct virtio_device *device = &fixture->input->device;
    device->interrupt = count_interrupt;
    device->transport = fixture;
}

/* The driver's bring-up: both rings, then DRIVER_OK. */
static void start_device(struct fixture *fixture)
{
    struct virtio_device *device = &fixture->input->device;
    struct virtq *events = &device->queues[0], *status = &device->queues[1];
    events->size = status->size = QUEUE_SIZE;
    events->desc_address = DESC_TABLE;
    events->avail_address = AVAIL_RING;
    events->used_address = USED_RING;
    status->desc_address = STATUS_DESC_TABLE;
    status->avail_address = STATUS_AVAIL_RING;
    status->used_address = STATUS_USED_RING;
    virtio_device_enable_queue(device, 0);
    virtio_device_enable_queue(device, 1);
    assert_true(events->started && status->started);
    device->driver_features = VIRTIO_F_VERSION_1;
    virtio_device_set_status(device, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                         VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    assert_true(device->status & VIRTIO_STATUS_DRIVER_OK);
    memset(fixture->host + DESC_TABLE, 0, 0x6000);
    fixture->avail_idx = fixture->used_seen = 0;
    fixture->next_buffer = 0;
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    if (!fixture)
        return -1;
    fixture->host = calloc(1, MEMORY_SIZE);
    fixture->input = calloc(1, sizeof(*fixture->input));
    if (!fixture->host || !fixture->input)
        return -1;
    guest_memory_init_over(&fixture->memory, fixture->host, MEMORY_SIZE);
    make_device(fixture, VIRTIO_INPUT_KEYBOARD);
    start_device(fixture);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    virtio_input_destroy(fixture->input);
    free(fixture->input);
    free(fixture->host);
    free(fixture);
    return 0;
}

static void publish(struct fixture *fixture, uint16_t head)
{
    memcpy(fixture->host + AVAIL_RING + 4 + 2 * (fixture->avail_idx % QUEUE_SIZE), &head, 2);
    fixture->avail_idx++;
    memcpy(fixture->host + AVAIL_RING + 2, &fixture->avail_idx, 2);
}

/* Posts count 8-byte writable buffers, as Linux does; returns the first's number. */
static unsigned post_buffers(struct fixture *fixture, unsigned count)
{
    unsigned first = fixture->next_buffer;
    for (unsigned i = 0; i < count; i++) {
        unsigned k = fixture->next_buffer++;
        uint16_t slot = (uint16_t)(k % QUEUE_SIZE);
        memset(fixture->host + EVENTS + 16 * k, UNTOUCHED, 16);
        struct virtq_desc desc = {EVENTS + 16 * k, 8, VIRTQ_DESC_F_WRITE, 0};
        memcpy(fixture->host + DESC_TABLE + 16 * slot, &desc, sizeof(desc));
        publish(fixture, slot);
    }
    return first;
}

static uint16_t used_index(struct fixture *fixture)
{
    uint16_t index;
    memcpy(&index, fixture->host + USED_RING + 2, 2);
    return index;
}

/* The next completed buffer: its event, checking the used entry. */
static struct event next_event(struct fixture *fixture)
{
    assert_true(fixture->used_seen != used_index(fixture));
    uint32_t used[2];
    memcpy(used, fixture->host + USED_RING + 4 + 8 * (fixture->used_seen % QUEUE_SIZE), 8);
    fixture->used_seen++;
    assert_int_equal(used[1], 8);
    struct virtq_desc desc;
    memcpy(&desc, fixture->host + DESC_TABLE + 16 * used[0], sizeof(desc));
    struct event event;
    memcpy(&event, fixture->host + desc.address, sizeof(event));
    return event;
}

static void expect_event(struct fixture *fixture, uint16_t type, uint16_t code, uint32_t value)
{
    struct event event = next_event(fixture);
    assert_int_equal(event.type, type);
    assert_int_equal(event.code, code);
    assert_int_equal(event.value, value);
}

static void expect_no_more_events(struct fixture *fixture)
{
    assert_int_equal(used_index(fixture), fixture->used_seen);
}

/* --- config space ----------------------------------------------------------- */

/* Selects as the driver does (one byte each) and returns the size byte. */
static uint8_t config_select(struct fixture *fixture, uint8_t select, uint8_t subsel)
{
    struct virtio_device *device = &fixture->input->device;
    device->ops->config_write(device, 0, &select, 1);
    device->ops->config_write(device, 1, &subsel, 1);
    return fixture->input->config[2];
}

static const uint8_t *config_union(struct fixture *fixture)
{
    return fixture->input->config + 8;
}

static bool bitmap_has(const uint8_t *bitmap, unsigned bit)
{
    return bitmap[bit / 8] & (1u << (bit % 8));
}

static void assert_union_zero_from(struct fixture *fixture, unsigned from)
{
    for (unsigned i = from; i < 128; i++)
        assert_int_equal(config_union(fixture)[i], 0);
}

static void test_device_identity(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_device *device = &fixture->input->device;
    assert_int_equal(device->ops->device_id, 18);
    assert_int_equal(device->ops->queue_count, 2);
    assert_int_equal(device->config_size, 136);
    assert_int_equal(device->device_features & 0xffffff, 0);
}

static void test_keyboard_config(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(config_select(fixture, CFG_ID_NAME, 0), 14);
    assert_memory_equal(config_union(fixture), "guest keyboard", 14);
    assert_union_zero_from(fixture, 14);
    assert_true(config_select(fixture, CFG_ID_SERIAL, 0) > 0);
    assert_int_equal(config_select(fixture, CFG_ID_DEVIDS, 0), 8);
    uint16_t ids[4];
    memcpy(ids, config_union(fixture), 8);
    assert_int_equal(ids[0], 0x06); /* BUS_VIRTUAL */
    assert_int_equal(config_select(fixture, CFG_PROP_BITS, 0), 0);
    assert_union_zero_from(fixture, 0);

    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_KEY), 32);
    const uint8_t *bits = config_union(fixture);
    assert_false(bitmap_has(bits, 0));
    assert_true(bitmap_has(bits, KEY_ESC));
    assert_true(bitmap_has(bits, KEY_A));
    assert_true(bitmap_has(bits, KEY_MICMUTE));
    for (unsigned bit = 249; bit < 256; bit++)
        assert_false(bitmap_has(bits, bit));
    assert_union_zero_from(fixture, 32);
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_REP), 1);
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_LED), 1);
    assert_int_equal(config_union(fixture)[0], 0x07); /* num, caps, scroll lock */
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_ABS), 0);
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_REL), 0);
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_SYN), 0);
    assert_int_equal(config_select(fixture, CFG_ABS_INFO, 0), 0);
    assert_union_zero_from(fixture, 0);
}

static void test_tablet_config(void **state)
{
    struct fixture *fixture = *state;
    make_device(fixture, VIRTIO_INPUT_TABLET);
    assert_int_equal(config_select(fixture, CFG_ID_NAME, 0), 12);
    assert_memory_equal(config_union(fixture), "guest tablet", 12);
    assert_int_equal(config_select(fixture, CFG_PROP_BITS, 0), 0); /* not INPUT_PROP_DIRECT */
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_KEY), BTN_MIDDLE / 8 + 1);
    const uint8_t *bits = config_union(fixture);
    for (unsigned bit = 0; bit < 8 * (BTN_MIDDLE / 8 + 1); bit++)
        assert_int_equal(bitmap_has(bits, bit), bit >= BTN_LEFT && bit <= BTN_MIDDLE);
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_ABS), 1);
    assert_int_equal(config_union(fixture)[0], 0x03); /* ABS_X, ABS_Y */
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_REP), 0);
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_LED), 0);
    assert_int_equal(config_select(fixture, CFG_EV_BITS, EV_REL), 0);
    uint32_t info[5];
    assert_int_equal(config_select(fixture, CFG_ABS_INFO, 0), 20);
    memcpy(info, config_union(fixture), sizeof(info));
    assert_int_equal(info[0], 0);
    assert_int_equal(info[1], 1023);
    assert_int_equal(info[2], 0);
    assert_int_equal(info[3], 0);
    assert_int_equal(info[4], 0);
    assert_int_equal(config_select(fixture, CFG_ABS_INFO, 1), 20);
    memcpy(info, config_union(fixture), sizeof(info));
    assert_int_equal(info[1], 767);
    assert_int_equal(config_select(fixture, CFG_ABS_INFO, 2), 0);
    assert_union_zero_from(fixture, 0);
}

static void test_bad_selects(void **state)
{
    struct fixture *fixture = *state;
    static const uint8_t selects[][2] = {
        {0, 0}, {CFG_ID_NAME, 1}, {CFG_ID_SERIAL, 9}, {CFG_ID_DEVIDS, 1}, {0x04, 0},
        {0x13, 0}, {0x7f, 0}, {0xff, 0xff}, {CFG_EV_BITS, 0xff},
    };
    for (size_t i = 0; i < sizeof(selects) / sizeof(selects[0]); i++) {
        /* After an answer, so that a stale one would show. */
        assert_int_equal(config_select(fixture, CFG_ID_NAME, 0), 14);
        assert_int_equal(config_select(fixture, selects[i][0], selects[i][1]), 0);
        assert_union_zero_from(fixture, 0);
    }
    /* Only select and subsel are writable; one two-byte write sets both. */
    struct virtio_device *device = &fixture->input->device;
    uint8_t junk[136];
    memset(junk, 0x5a, sizeof(junk));
    device->ops->config_write(device, 2, junk, sizeof(junk) - 2);
    assert_int_equal(fixture->input->config[2], 0);
    assert_union_zero_from(fixture, 0);
    uint8_t both[2] = {CFG_EV_BITS, EV_LED};
    device->ops->config_write(device, 0, both, 2);
    assert_int_equal(fixture->input->config[2], 1);
    assert_int_equal(config_union(fixture)[0], 0x07);
    /* A reset clears the selection. */
    virtio_device_set_status(device, 0);
    assert_int_equal(fixture->input->config[0], 0);
    assert_int_equal(fixture->input->config[2], 0);
    assert_union_zero_from(fixture, 0);
}

/* --- events ------------------------------------------------------------------ */

static void test_key_events(void **state)
{
    struct fixture *fixture = *state;
    post_buffers(fixture, 6);
    assert_true(virtio_input_key(fixture->input, KEY_A, true));
    assert_int_equal(fixture->interrupts, 1);
    expect_event(fixture, EV_KEY, KEY_A, 1);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_no_more_events(fixture);
    assert_true(virtio_input_key(fixture->input, KEY_A, false));
    assert_true(virtio_input_key(fixture->input, KEY_MICMUTE, true));
    assert_int_equal(fixture->interrupts, 3);
    expect_event(fixture, EV_KEY, KEY_A, 0);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_event(fixture, EV_KEY, KEY_MICMUTE, 1);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_no_more_events(fixture);
    /* Buffers used: exactly 8 bytes written into each. */
    assert_int_equal(fixture->host[EVENTS + 8], UNTOUCHED);
    /* Keys the device does not have. */
    assert_false(virtio_input_key(fixture->input, 0, true));
    assert_false(virtio_input_key(fixture->input, KEY_MICMUTE + 1, true));
    assert_false(virtio_input_key(fixture->input, BTN_LEFT, true));
    assert_false(virtio_input_key(fixture->input, 0xffff, true));
    assert_false(virtio_input_pointer(fixture->input, 1, 1, 1));
    expect_no_more_events(fixture);
}

static void test_group_dropped_whole(void **state)
{
    struct fixture *fixture = *state;
    assert_false(virtio_input_key(fixture->input, KEY_A, true)); /* no buffers at all */
    post_buffers(fixture, 1);
    assert_false(virtio_input_key(fixture->input, KEY_A, true)); /* one: not enough */
    expect_no_more_events(fixture);
    assert_int_equal(fixture->interrupts, 0);
    /* The buffer taken is kept for the next group, not lost. */
    post_buffers(fixture, 1);
    assert_true(virtio_input_key(fixture->input, KEY_ESC, true));
    expect_event(fixture, EV_KEY, KEY_ESC, 1);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_no_more_events(fixture);
    /* The buffers went back in the order they were posted. */
    uint32_t used[2];
    memcpy(used, fixture->host + USED_RING + 4, 8);
    assert_int_equal(used[0], 0);
    memcpy(used, fixture->host + USED_RING + 12, 8);
    assert_int_equal(used[0], 1);
}

static void test_pointer_events(void **state)
{
    struct fixture *fixture = *state;
    make_device(fixture, VIRTIO_INPUT_TABLET);
    start_device(fixture);
    post_buffers(fixture, 16);
    /* The first report says everything. */
    assert_true(virtio_input_pointer(fixture->input, 100, 200, 0));
    expect_event(fixture, EV_ABS, 0, 100);
    expect_event(fixture, EV_ABS, 1, 200);
    expect_event(fixture, EV_KEY, BTN_LEFT, 0);
    expect_event(fixture, EV_KEY, BTN_RIGHT, 0);
    expect_event(fixture, EV_KEY, BTN_MIDDLE, 0);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_no_more_events(fixture);
    assert_int_equal(fixture->interrupts, 1);
    /* Then only what changed. */
    assert_true(virtio_input_pointer(fixture->input, 100, 201, VIRTIO_INPUT_BUTTON_LEFT));
    expect_event(fixture, EV_ABS, 1, 201);
    expect_event(fixture, EV_KEY, BTN_LEFT, 1);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_no_more_events(fixture);
    assert_true(virtio_input_pointer(fixture->input, 100, 201, VIRTIO_INPUT_BUTTON_LEFT | 8));
    expect_no_more_events(fixture); /* nothing changed: nothing sent */
    assert_int_equal(fixture->interrupts, 2);
    /* Clamped to the axes. */
    assert_true(virtio_input_pointer(fixture->input, 5000, 0xffffffff,
                                     VIRTIO_INPUT_BUTTON_LEFT | VIRTIO_INPUT_BUTTON_MIDDLE));
    expect_event(fixture, EV_ABS, 0, 1023);
    expect_event(fixture, EV_ABS, 1, 767);
    expect_event(fixture, EV_KEY, BTN_MIDDLE, 1);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_no_more_events(fixture);
    /* The tablet's buttons are keys too; keyboard keys are not. */
    assert_true(virtio_input_key(fixture->input, BTN_RIGHT, true));
    expect_event(fixture, EV_KEY, BTN_RIGHT, 1);
    expect_event(fixture, EV_SYN, 0, 0);
    assert_false(virtio_input_key(fixture->input, KEY_A, true));
}

static void test_pointer_group_dropped_whole(void **state)
{
    struct fixture *fixture = *state;
    make_device(fixture, VIRTIO_INPUT_TABLET);
    start_device(fixture);
    post_buffers(fixture, 5); /* one short of the first report's six */
    assert_false(virtio_input_pointer(fixture->input, 1, 2, 0));
    expect_no_more_events(fixture);
    /* The guest never saw it, so the next report is whole again. */
    post_buffers(fixture, 1);
    assert_true(virtio_input_pointer(fixture->input, 3, 2, 0));
    expect_event(fixture, EV_ABS, 0, 3);
    expect_event(fixture, EV_ABS, 1, 2);
    expect_event(fixture, EV_KEY, BTN_LEFT, 0);
    expect_event(fixture, EV_KEY, BTN_RIGHT, 0);
    expect_event(fixture, EV_KEY, BTN_MIDDLE, 0);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_no_more_events(fixture);
    /* And a dropped change is sent again with the next one. */
    post_buffers(fixture, 2);
    assert_false(virtio_input_pointer(fixture->input, 4, 5, 0)); /* X, Y, SYN: three */
    post_buffers(fixture, 1);
    assert_true(virtio_input_pointer(fixture->input, 4, 5, 0));
    expect_event(fixture, EV_ABS, 0, 4);
    expect_event(fixture, EV_ABS, 1, 5);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_no_more_events(fixture);
}

static void test_odd_buffers(void **state)
{
    struct fixture *fixture = *state;
    /* Too short, read-only, an event split 3 + 5 over two descriptors, a
     * buffer longer than an event. */
    struct virtq_desc descs[] = {
        {EVENTS, 4, VIRTQ_DESC_F_WRITE, 0},
        {EVENTS + 0x100, 8, 0, 0},
        {EVENTS + 0x200, 3, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3},
        {EVENTS + 0x300, 5, VIRTQ_DESC_F_WRITE, 0},
        {EVENTS + 0x400, 64, VIRTQ_DESC_F_WRITE, 0},
        {MEMORY_SIZE - 4, 8, VIRTQ_DESC_F_WRITE, 0}, /* outside memory */
    };
    memcpy(fixture->host + DESC_TABLE, descs, sizeof(descs));
    memset(fixture->host + EVENTS, UNTOUCHED, 0x500);
    static const uint16_t heads[] = {0, 5, 1, 2, 4};
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
        publish(fixture, heads[i]);
    assert_true(virtio_input_key(fixture->input, KEY_A, true));
    /* The three bad ones came back empty, untouched, in order. */
    uint32_t used[2];
    static const uint16_t returned[][2] = {{0, 0}, {5, 0}, {1, 0}, {2, 8}, {4, 8}};
    assert_int_equal(used_index(fixture), 5);
    for (unsigned i = 0; i < 5; i++) {
        memcpy(used, fixture->host + USED_RING + 4 + 8 * i, 8);
        assert_int_equal(used[0], returned[i][0]);
        assert_int_equal(used[1], returned[i][1]);
    }
    assert_int_equal(fixture->host[EVENTS], UNTOUCHED);
    assert_int_equal(fixture->host[EVENTS + 0x100], UNTOUCHED);
    struct event event;
    uint8_t split[8];
    memcpy(split, fixture->host + EVENTS + 0x200, 3);
    memcpy(split + 3, fixture->host + EVENTS + 0x300, 5);
    memcpy(&event, split, 8);
    assert_int_equal(event.type, EV_KEY);
    assert_int_equal(event.code, KEY_A);
    assert_int_equal(event.value, 1);
    assert_int_equal(fixture->host[EVENTS + 0x203], UNTOUCHED);
    memcpy(&event, fixture->host + EVENTS + 0x400, 8);
    assert_int_equal(event.type, EV_SYN);
    assert_int_equal(fixture->host[EVENTS + 0x408], UNTOUCHED);
}

static void test_not_ready(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_device *device = &fixture->input->device;
    post_buffers(fixture, 4);
    /* Before DRIVER_OK. */
    device->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
    assert_false(virtio_input_key(fixture->input, KEY_A, true));
    /* Broken. */
    device->status |= VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET;
    assert_false(virtio_input_key(fixture->input, KEY_A, true));
    expect_no_more_events(fixture);
    assert_int_equal(fixture->interrupts, 0);
    /* Reset: rings forgotten, held buffers too. */
    device->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
    virtio_device_set_status(device, 0);
    assert_false(virtio_input_key(fixture->input, KEY_A, true));
    assert_false(device->queues[0].started);
    /* A fresh bring-up works; the pointer state starts over too. */
    start_device(fixture);
    post_buffers(fixture, 2);
    assert_true(virtio_input_key(fixture->input, KEY_A, false));
    expect_event(fixture, EV_KEY, KEY_A, 0);
    expect_event(fixture, EV_SYN, 0, 0);
}

static void test_held_buffers_forgotten_at_reset(void **state)
{
    struct fixture *fixture = *state;
    post_buffers(fixture, 1);
    assert_false(virtio_input_key(fixture->input, KEY_A, true));
    assert_int_equal(fixture->input->held_count, 1);
    virtio_device_set_status(&fixture->input->device, 0);
    assert_int_equal(fixture->input->held_count, 0);
    start_device(fixture);
    post_buffers(fixture, 2);
    assert_true(virtio_input_key(fixture->input, KEY_A, true));
    expect_event(fixture, EV_KEY, KEY_A, 1);
    expect_event(fixture, EV_SYN, 0, 0);
    expect_no_more_events(fixture);
}

static void test_broken_event_ring(void **state)
{
    struct fixture *fixture = *state;
    /* A head outside the table: the device needs a reset, and says so. */
    publish(fixture, QUEUE_SIZE + 3);
    assert_false(virtio_input_key(fixture->input, KEY_A, true));
    assert_true(fixture->input->device.status & VIRTIO_STATUS_NEEDS_RESET);
    assert_false(virtio_input_key(fixture->input, KEY_A, true));
}

static void test_status_queue(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_device *device = &fixture->input->device;
    struct event led = {EV_LED, 1, 1}; /* caps lock on */
    memcpy(fixture->host + EVENTS, &led, sizeof(led));
    struct virtq_desc desc = {EVENTS, 8, 0, 0};
    memcpy(fixture->host + STATUS_DESC_TABLE, &desc, sizeof(desc));
    uint16_t head = 0, index = 1;
    memcpy(fixture->host + STATUS_AVAIL_RING + 4, &head, 2);
    memcpy(fixture->host + STATUS_AVAIL_RING + 2, &index, 2);
    device->ops->queue_notify(device, 1);
    uint16_t used_idx;
    uint32_t used[2];
    memcpy(&used_idx, fixture->host + STATUS_USED_RING + 2, 2);
    memcpy(used, fixture->host + STATUS_USED_RING + 4, 8);
    assert_int_equal(used_idx, 1);
    assert_int_equal(used[0], 0);
    assert_int_equal(used[1], 0);
    assert_int_equal(fixture->interrupts, 1);
    /* A notification on the event queue does nothing by itself. */
    post_buffers(fixture, 2);
    device->ops->queue_notify(device, 0);
    expect_no_more_events(fixture);
}

static void test_init_errors(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_input *input = calloc(1, sizeof(*input));
    assert_non_null(input);
    struct error error;
    assert_int_equal(virtio_input_init(input, VIRTIO_INPUT_TABLET, &fixture->memory, 0, 5,
                                       &error),
                     -1);
    assert_int_equal(virtio_input_init(input, (enum virtio_input_kind)7, &fixture->memory, 0,
                                       0, &error),
                     -1);
    /* 0 x 0: the default range. */
    assert_int_equal(virtio_input_init(input, VIRTIO_INPUT_TABLET, &fixture->memory, 0, 0,
                                       &error),
                     0);
    assert_int_equal(input->max_x, VIRTIO_INPUT_DEFAULT_WIDTH - 1);
    assert_int_equal(input->max_y, VIRTIO_INPUT_DEFAULT_HEIGHT - 1);
    virtio_input_destroy(input);
    free(input);
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_device_identity),
        TEST(test_keyboard_config),
        TEST(test_tablet_config),
        TEST(test_bad_selects),
        TEST(test_key_events),
        TEST(test_group_dropped_whole),
        TEST(test_pointer_events),
        TEST(test_pointer_group_dropped_whole),
        TEST(test_odd_buffers),
        TEST(test_not_ready),
        TEST(test_held_buffers_forgotten_at_reset),
        TEST(test_broken_event_ring),
        TEST(test_status_queue),
        TEST(test_init_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
