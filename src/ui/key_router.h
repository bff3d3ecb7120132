/* Where each key goes: to the guest's keyboard, or, while the serial
 * console's text view is shown, to the console as typed bytes.  Alt+Esc
 * switches between the two views and is never seen by the guest.
 *
 * The rule that keeps keys from sticking in the guest: a release reaches the
 * guest only when the guest has seen the press, and switching to the text view
 * releases every key the guest holds (the Alt of Alt+Esc among them).
 *
 * A pure state machine, driven by the back end's input thread, so that it can
 * be tested without a window or a VNC client. */
#ifndef GUEST_UI_KEY_ROUTER_H
#define GUEST_UI_KEY_ROUTER_H

#include <linux/input-event-codes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct key_router_output {
    void *opaque;
    void (*guest_key)(void *opaque, uint16_t key, bool pressed);
    void (*console_bytes)(void *opaque, const uint8_t *bytes, size_t length);
    void (*show_text_view)(void *opaque, bool shown);
};

struct key_router {
    struct key_router_output output;
    bool text_view;
    bool escape_taken;       /* the Esc of Alt+Esc is down: its repeats and release are ours */
    unsigned held_modifiers; /* KEY_ROUTER_HELD_* */
    bool caps_lock;          /* the text view's own; the guest keeps its own state */
    uint8_t guest_held[(KEY_MAX + 1 + 7) / 8];
};

void key_router_init(struct key_router *router, const struct key_router_output *output);

/* One key event from the user; `pressed` again without a release is the
 * host's auto-repeat. */
void key_router_feed(struct key_router *router, uint16_t key, bool pressed);

/* Releases every key the guest holds: the window lost the keyboard focus or
 * the VNC client went away, and the releases will never come. */
void key_router_release_all(struct key_router *router);

#endif
