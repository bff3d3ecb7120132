/* virtio-input (virtio spec 5.8): a keyboard or an absolute pointer (a
 * tablet) whose events come from the display back end.  The guest learns
 * what the device is through config space (name, ids, event bitmaps, axis
 * ranges) and posts 8-byte buffers on the event queue that we fill; it
 * reports LED state on the status queue, which we take and ignore.
 *
 * Events go out in groups ending with EV_SYN: a group is written only when
 * the driver has posted buffers for all of it, so the guest never sees half
 * a frame; otherwise the whole group is dropped. */
#ifndef GUEST_VIRTIO_INPUT_H
#define GUEST_VIRTIO_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "virtio/virtio.h"

/* select, subsel, size, 5 reserved bytes, then a 128-byte union (5.8.4). */
#define VIRTIO_INPUT_CONFIG_SIZE 136
#define VIRTIO_INPUT_QUEUE_SIZE 64
/* The largest group: ABS_X, ABS_Y, three buttons, SYN. */
#define VIRTIO_INPUT_MAX_GROUP 8
#define VIRTIO_INPUT_EVENT_SIZE 8
/* The tablet's range when none is given: the default display. */
#define VIRTIO_INPUT_DEFAULT_WIDTH 1024
#define VIRTIO_INPUT_DEFAULT_HEIGHT 768

enum virtio_input_kind { VIRTIO_INPUT_KEYBOARD, VIRTIO_INPUT_TABLET };

/* Buttons for virtio_input_pointer. */
#define VIRTIO_INPUT_BUTTON_LEFT 1u
#define VIRTIO_INPUT_BUTTON_RIGHT 2u
#define VIRTIO_INPUT_BUTTON_MIDDLE 4u

/* An event buffer taken off the event queue and not yet returned: where its
 * 8 bytes go (at most one piece per byte, however the driver split them). */
struct virtio_input_held {
    uint16_t head;
    unsigned piece_count;
    struct {
        uint8_t *host;
        uint32_t length;
    } pieces[VIRTIO_INPUT_EVENT_SIZE];
};

struct virtio_input {
    struct virtio_device device;
    enum virtio_input_kind kind;
    uint8_t config[VIRTIO_INPUT_CONFIG_SIZE];
    uint32_t max_x, max_y; /* the tablet's axes run from 0 to these */

    /* The tablet state the guest last received (valid when known). */
    bool pointer_known;
    uint32_t x, y;
    unsigned buttons;

    /* Buffers taken for a group that could not be completed: used first by
     * the next group, forgotten at reset. */
    struct virtio_input_held held[VIRTIO_INPUT_MAX_GROUP];
    unsigned held_count;
    struct virtq_chain chain; /* scratch, under the device lock */
};

/* A keyboard or a tablet over memory.  abs_width x abs_height is the
 * tablet's range in pixels (0 x 0: the default); the keyboard ignores it. */
int virtio_input_init(struct virtio_input *input, enum virtio_input_kind kind,
                      const struct guest_memory *memory, uint32_t abs_width, uint32_t abs_height,
                      struct error *error);
void virtio_input_destroy(struct virtio_input *input);

/* For the display thread (any thread but a vCPU's holding the lock).
 * Queues one key press/release (Linux KEY_* code) followed by EV_SYN.
 * Returns false when the event was dropped: the driver is not ready, has no
 * buffers (logged once), or the device has no such key. */
bool virtio_input_key(struct virtio_input *input, uint16_t code, bool pressed);

/* Absolute position (clamped to the axis range) and button state bitmask
 * (1 left, 2 right, 4 middle), followed by SYN; only changed values are
 * sent.  Returns false when the group was dropped (or on a keyboard). */
bool virtio_input_pointer(struct virtio_input *input, uint32_t x, uint32_t y, unsigned buttons);

#endif
