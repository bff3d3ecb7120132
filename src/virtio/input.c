#include "virtio/input.h"

#include <string.h>

#include "log.h"

#define QUEUE_EVENT 0
#define QUEUE_STATUS 1

/* Config space (5.8.4). */
#define CONFIG_SELECT 0
#define CONFIG_SUBSEL 1
#define CONFIG_SIZE 2
#define CONFIG_UNION 8
#define CONFIG_UNION_SIZE (VIRTIO_INPUT_CONFIG_SIZE - CONFIG_UNION)

#define CFG_ID_NAME 0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS 0x11
#define CFG_ABS_INFO 0x12

/* Linux evdev numbers (include/uapi/linux/input-event-codes.h). */
#define EV_SYN 0x00
#define EV_KEY 0x01
#define EV_ABS 0x03
#define EV_LED 0x11
#define EV_REP 0x14
#define SYN_REPORT 0
#define ABS_X 0
#define ABS_Y 1
#define LED_NUML 0
#define LED_SCROLLL 2
#define BTN_LEFT 0x110
#define BTN_RIGHT 0x111
#define BTN_MIDDLE 0x112
#define BUS_VIRTUAL 0x06
/* Keyboard keys: KEY_ESC up to KEY_MICMUTE, the keys a keyboard has;
 * beyond are buttons and remote-control codes. */
#define KEY_FIRST 1
#define KEY_LAST 248

struct __attribute__((packed)) input_event {
    uint16_t type;
    uint16_t code;
    uint32_t value;
};

/* --- config space ------------------------------------------------------------- */

static bool virtio_input_has_key(const struct virtio_input *input, unsigned code)
{
    if (input->kind == VIRTIO_INPUT_KEYBOARD)
        return code >= KEY_FIRST && code <= KEY_LAST;
    return code >= BTN_LEFT && code <= BTN_MIDDLE;
}

static void virtio_input_set_bit(uint8_t *config, unsigned bit)
{
    config[CONFIG_UNION + bit / 8] |= (uint8_t)(1u << (bit % 8));
    if (config[CONFIG_SIZE] < bit / 8 + 1)
        config[CONFIG_SIZE] = (uint8_t)(bit / 8 + 1);
}

static void virtio_input_put_string(uint8_t *config, const char *text)
{
    size_t length = strlen(text);
    memcpy(config + CONFIG_UNION, text, length); /* no NUL: size says where it ends */
    config[CONFIG_SIZE] = (uint8_t)length;
}

static void virtio_input_put32(uint8_t *config, unsigned offset, uint32_t value)
{
    memcpy(config + CONFIG_UNION + offset, &value, 4); /* x86: little-endian */
}

/* The event codes of type event_type this device sends (or takes, for LEDs). */
static void virtio_input_event_bits(struct virtio_input *input, unsigned event_type)
{
    uint8_t *config = input->config;
    bool keyboard = input->kind == VIRTIO_INPUT_KEYBOARD;
    switch (event_type) {
    case EV_KEY:
        for (unsigned code = 0; code <= BTN_MIDDLE; code++)
            if (virtio_input_has_key(input, code))
                virtio_input_set_bit(config, code);
        break;
    case EV_ABS:
        if (keyboard)
            break;
        virtio_input_set_bit(config, ABS_X);
        virtio_input_set_bit(config, ABS_Y);
        break;
    case EV_LED:
        /* Offered so the guest keeps its LED state; what it reports on the
         * status queue is taken and ignored. */
        if (keyboard)
            for (unsigned led = LED_NUML; led <= LED_SCROLLL; led++)
                virtio_input_set_bit(config, led);
        break;
    case EV_REP:
        /* A non-empty answer turns on the guest's own key repeat: we send
         * presses and releases only. */
        if (keyboard)
            config[CONFIG_SIZE] = 1;
        break;
    }
}

/* Fills size and the union for what select and subsel ask (5.8.5). */
static void virtio_input_select(struct virtio_input *input)
{
    uint8_t *config = input->config;
    uint8_t select = config[CONFIG_SELECT], subsel = config[CONFIG_SUBSEL];
    bool keyboard = input->kind == VIRTIO_INPUT_KEYBOARD;
    memset(config + CONFIG_SIZE, 0, VIRTIO_INPUT_CONFIG_SIZE - CONFIG_SIZE);
    switch (select) {
    case CFG_ID_NAME:
        if (subsel == 0)
            virtio_input_put_string(config, keyboard ? "guest keyboard" : "guest tablet");
        break;
    case CFG_ID_SERIAL:
        if (subsel == 0)
            virtio_input_put_string(config, keyboard ? "keyboard-0" : "tablet-0");
        break;
    case CFG_ID_DEVIDS:
        if (subsel == 0) {
            /* bustype, vendor, product, version */
            uint16_t ids[4] = {BUS_VIRTUAL, 0, keyboard ? 1 : 2, 1};
            memcpy(config + CONFIG_UNION, ids, sizeof(ids));
            config[CONFIG_SIZE] = sizeof(ids);
        }
        break;
    case CFG_PROP_BITS:
        /* None: in particular not INPUT_PROP_DIRECT, so the tablet moves a
         * pointer rather than acting as a touch screen. */
        break;
    case CFG_EV_BITS:
        virtio_input_event_bits(input, subsel);
        break;
    case CFG_ABS_INFO:
        if (!keyboard && (subsel == ABS_X || subsel == ABS_Y)) {
            /* min, max, fuzz, flat, res */
            virtio_input_put32(config, 0, 0);
            virtio_input_put32(config, 4, subsel == ABS_X ? input->max_x : input->max_y);
            config[CONFIG_SIZE] = 20;
        }
        break;
    }
}

static void virtio_input_config_write(struct virtio_device *device, unsigned offset,
                                      const void *data, unsigned length)
{
    struct virtio_input *input = device->opaque;
    /* Only select and subsel are the driver's; the rest is our answer. */
    for (unsigned i = 0; i < length; i++)
        if (offset + i == CONFIG_SELECT || offset + i == CONFIG_SUBSEL)
            input->config[offset + i] = ((const uint8_t *)data)[i];
    virtio_input_select(input);
}

/* --- events -------------------------------------------------------------------- */

static bool virtio_input_ready(const struct virtio_input *input)
{
    const struct virtio_device *device = &input->device;
    return (device->status & VIRTIO_STATUS_DRIVER_OK) &&
           (device->status & VIRTIO_STATUS_FEATURES_OK) &&
           !(device->status & VIRTIO_STATUS_NEEDS_RESET) && device->queues[QUEUE_EVENT].started;
}

/* Remembers where the first 8 writable bytes of the popped chain are. */
static void virtio_input_hold(struct virtio_input *input)
{
    const struct virtq_chain *chain = &input->chain;
    struct virtio_input_held *held = &input->held[input->held_count++];
    held->head = chain->head;
    held->piece_count = 0;
    uint32_t want = VIRTIO_INPUT_EVENT_SIZE;
    unsigned end = chain->readable_count + chain->writable_count;
    /* Empty buffers never reach a chain, so every piece takes at least a
     * byte and there are at most 8; the bound keeps that true regardless. */
    for (unsigned i = chain->readable_count;
         i < end && want && held->piece_count < VIRTIO_INPUT_EVENT_SIZE; i++) {
        uint32_t take = chain->buffers[i].length < want ? chain->buffers[i].length : want;
        held->pieces[held->piece_count].host = chain->buffers[i].host;
        held->pieces[held->piece_count].length = take;
        held->piece_count++;
        want -= take;
    }
}

static void virtio_input_write_event(const struct virtio_input_held *held,
                                     const struct input_event *event)
{
    const uint8_t *bytes = (const uint8_t *)event;
    for (unsigned i = 0; i < held->piece_count; i++) {
        memcpy(held->pieces[i].host, bytes, held->pieces[i].length);
        bytes += held->pieces[i].length;
    }
}

/* Takes event buffers until count are held; false if the driver has too few. */
static bool virtio_input_take_buffers(struct virtio_input *input, unsigned count, bool *pushed)
{
    struct virtio_device *device = &input->device;
    struct virtq *queue = &device->queues[QUEUE_EVENT];
    while (input->held_count < count) {
        enum virtq_error error;
        int result = virtq_pop(queue, &input->chain, &error);
        if (result == 0)
            return false;
        if (result < 0 && input->chain.head == UINT16_MAX) {
            virtio_device_needs_reset(device, virtq_error_text(error));
            return false;
        }
        if (result < 0 || input->chain.writable_bytes < VIRTIO_INPUT_EVENT_SIZE) {
            /* Unusable: give it back empty and look at the next one. */
            log_once("%s: event buffer unusable: %s", device->ops->name,
                     result < 0 ? virtq_error_text(error) : "fewer than 8 writable bytes");
            virtq_push(queue, input->chain.head, 0);
            *pushed = true;
            continue;
        }
        virtio_input_hold(input);
    }
    return true;
}

/* Sends events[0..count) as one group, or nothing.  Device lock held. */
static bool virtio_input_send(struct virtio_input *input, const struct input_event *events,
                              unsigned count)
{
    struct virtio_device *device = &input->device;
    if (!virtio_input_ready(input))
        return false; /* not set up yet, or being reset: nobody to tell */
    bool pushed = false;
    bool complete = virtio_input_take_buffers(input, count, &pushed);
    if (complete) {
        struct virtq *queue = &device->queues[QUEUE_EVENT];
        for (unsigned i = 0; i < count; i++) {
            virtio_input_write_event(&input->held[i], &events[i]);
            virtq_push(queue, input->held[i].head, VIRTIO_INPUT_EVENT_SIZE);
        }
        input->held_count -= count;
        memmove(input->held, input->held + count, input->held_count * sizeof(input->held[0]));
        pushed = true;
    } else if (virtio_input_ready(input)) {
        log_once("%s: the guest has no buffers for events; dropping them", device->ops->name);
    }
    if (pushed && virtio_input_ready(input))
        virtio_device_interrupt_queue(device, QUEUE_EVENT);
    return complete;
}

bool virtio_input_key(struct virtio_input *input, uint16_t code, bool pressed)
{
    if (!virtio_input_has_key(input, code)) {
        log_once("%s: no key %u on this device", input->device.ops->name, code);
        return false;
    }
    const struct input_event events[] = {
        {EV_KEY, code, pressed ? 1 : 0},
        {EV_SYN, SYN_REPORT, 0},
    };
    pthread_mutex_lock(&input->device.lock);
    bool sent = virtio_input_send(input, events, 2);
    pthread_mutex_unlock(&input->device.lock);
    return sent;
}

bool virtio_input_pointer(struct virtio_input *input, uint32_t x, uint32_t y, unsigned buttons)
{
    if (input->kind != VIRTIO_INPUT_TABLET)
        return false;
    static const struct {
        unsigned mask;
        uint16_t code;
    } button_codes[] = {
        {VIRTIO_INPUT_BUTTON_LEFT, BTN_LEFT},
        {VIRTIO_INPUT_BUTTON_RIGHT, BTN_RIGHT},
        {VIRTIO_INPUT_BUTTON_MIDDLE, BTN_MIDDLE},
    };
    if (x > input->max_x)
        x = input->max_x;
    if (y > input->max_y)
        y = input->max_y;
    buttons &= VIRTIO_INPUT_BUTTON_LEFT | VIRTIO_INPUT_BUTTON_RIGHT | VIRTIO_INPUT_BUTTON_MIDDLE;

    pthread_mutex_lock(&input->device.lock);
    struct input_event events[VIRTIO_INPUT_MAX_GROUP];
    unsigned count = 0;
    bool known = input->pointer_known;
    if (!known || x != input->x)
        events[count++] = (struct input_event){EV_ABS, ABS_X, x};
    if (!known || y != input->y)
        events[count++] = (struct input_event){EV_ABS, ABS_Y, y};
    for (unsigned i = 0; i < 3; i++) {
        unsigned mask = button_codes[i].mask;
        if (!known || (buttons & mask) != (input->buttons & mask))
            events[count++] = (struct input_event){EV_KEY, button_codes[i].code,
                                                   (buttons & mask) ? 1 : 0};
    }
    bool sent = true;
    if (count) {
        events[count++] = (struct input_event){EV_SYN, SYN_REPORT, 0};
        sent = virtio_input_send(input, events, count);
        /* A dropped group changed nothing the guest knows. */
        if (sent) {
            input->pointer_known = true;
            input->x = x;
            input->y = y;
            input->buttons = buttons;
        }
    }
    pthread_mutex_unlock(&input->device.lock);
    return sent;
}

/* LED changes from the guest: nothing to show them on. */
static uint32_t virtio_input_status(struct virtio_device *device, struct virtq_chain *chain)
{
    (void)device;
    (void)chain;
    return 0;
}

static void virtio_input_queue_notify(struct virtio_device *device, unsigned queue)
{
    struct virtio_input *input = device->opaque;
    /* Event buffers wait for events; only the status queue has work. */
    if (queue == QUEUE_STATUS)
        virtio_device_serve_queue(device, queue, &input->chain, virtio_input_status);
}

static void virtio_input_reset(struct virtio_device *device)
{
    struct virtio_input *input = device->opaque;
    /* The held buffers belonged to rings the driver just took back. */
    input->held_count = 0;
    input->pointer_known = false;
    input->config[CONFIG_SELECT] = 0;
    input->config[CONFIG_SUBSEL] = 0;
    virtio_input_select(input);
}

static const struct virtio_device_ops virtio_input_ops = {
    .name = "virtio-input",
    .device_id = VIRTIO_ID_INPUT,
    .queue_count = 2,
    .queue_max_size = VIRTIO_INPUT_QUEUE_SIZE,
    .queue_notify = virtio_input_queue_notify,
    .config_write = virtio_input_config_write,
    .reset = virtio_input_reset,
};

int virtio_input_init(struct virtio_input *input, enum virtio_input_kind kind,
                      const struct guest_memory *memory, uint32_t abs_width, uint32_t abs_height,
                      struct error *error)
{
    memset(input, 0, sizeof(*input));
    if (kind != VIRTIO_INPUT_KEYBOARD && kind != VIRTIO_INPUT_TABLET)
        return error_set(error, "virtio-input: unknown kind of device %d", (int)kind);
    if (abs_width == 0 && abs_height == 0) {
        abs_width = VIRTIO_INPUT_DEFAULT_WIDTH;
        abs_height = VIRTIO_INPUT_DEFAULT_HEIGHT;
    }
    if (abs_width == 0 || abs_height == 0)
        return error_set(error, "virtio-input: tablet range %ux%u", abs_width, abs_height);
    input->kind = kind;
    input->max_x = abs_width - 1;
    input->max_y = abs_height - 1;
    virtio_input_select(input);
    return virtio_device_init(&input->device, &virtio_input_ops, input, memory, input->config,
                              sizeof(input->config), 0, error);
}

void virtio_input_destroy(struct virtio_input *input)
{
    virtio_device_destroy(&input->device);
}
