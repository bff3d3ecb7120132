#include "ui/key_router.h"

#include <string.h>

#include "ui/keymap.h"

enum {
    KEY_ROUTER_HELD_LEFT_SHIFT = 1u << 0,
    KEY_ROUTER_HELD_RIGHT_SHIFT = 1u << 1,
    KEY_ROUTER_HELD_LEFT_CTRL = 1u << 2,
    KEY_ROUTER_HELD_RIGHT_CTRL = 1u << 3,
    KEY_ROUTER_HELD_LEFT_ALT = 1u << 4,
    KEY_ROUTER_HELD_RIGHT_ALT = 1u << 5,
};

void key_router_init(struct key_router *router, const struct key_router_output *output)
{
    memset(router, 0, sizeof(*router));
    router->output = *output;
}

static bool key_router_guest_holds(const struct key_router *router, uint16_t key)
{
    return router->guest_held[key / 8] & (1u << (key % 8));
}

static void key_router_set_guest_holds(struct key_router *router, uint16_t key, bool held)
{
    if (held)
        router->guest_held[key / 8] |= (uint8_t)(1u << (key % 8));
    else
        router->guest_held[key / 8] &= (uint8_t)~(1u << (key % 8));
}

static unsigned key_router_modifier_bit(uint16_t key)
{
    switch (key) {
    case KEY_LEFTSHIFT:
        return KEY_ROUTER_HELD_LEFT_SHIFT;
    case KEY_RIGHTSHIFT:
        return KEY_ROUTER_HELD_RIGHT_SHIFT;
    case KEY_LEFTCTRL:
        return KEY_ROUTER_HELD_LEFT_CTRL;
    case KEY_RIGHTCTRL:
        return KEY_ROUTER_HELD_RIGHT_CTRL;
    case KEY_LEFTALT:
        return KEY_ROUTER_HELD_LEFT_ALT;
    case KEY_RIGHTALT:
        return KEY_ROUTER_HELD_RIGHT_ALT;
    default:
        return 0;
    }
}

static unsigned key_router_keymap_modifiers(const struct key_router *router)
{
    unsigned modifiers = 0;
    if (router->held_modifiers & (KEY_ROUTER_HELD_LEFT_SHIFT | KEY_ROUTER_HELD_RIGHT_SHIFT))
        modifiers |= KEYMAP_SHIFT;
    if (router->held_modifiers & (KEY_ROUTER_HELD_LEFT_CTRL | KEY_ROUTER_HELD_RIGHT_CTRL))
        modifiers |= KEYMAP_CTRL;
    if (router->held_modifiers & (KEY_ROUTER_HELD_LEFT_ALT | KEY_ROUTER_HELD_RIGHT_ALT))
        modifiers |= KEYMAP_ALT;
    if (router->caps_lock)
        modifiers |= KEYMAP_CAPS_LOCK;
    return modifiers;
}

void key_router_release_all(struct key_router *router)
{
    for (unsigned key = 0; key <= KEY_MAX; key++) {
        if (key_router_guest_holds(router, (uint16_t)key)) {
            key_router_set_guest_holds(router, (uint16_t)key, false);
            router->output.guest_key(router->output.opaque, (uint16_t)key, false);
        }
    }
}

void key_router_feed(struct key_router *router, uint16_t key, bool pressed)
{
    if (key == 0 || key > KEY_MAX)
        return;
    unsigned modifier = key_router_modifier_bit(key);
    if (pressed)
        router->held_modifiers |= modifier;
    else
        router->held_modifiers &= ~modifier;

    if (key == KEY_ESC && router->escape_taken) {
        /* The Esc of an Alt+Esc: auto-repeats do not switch again. */
        if (!pressed)
            router->escape_taken = false;
        return;
    }
    if (key == KEY_ESC && pressed &&
        (router->held_modifiers & (KEY_ROUTER_HELD_LEFT_ALT | KEY_ROUTER_HELD_RIGHT_ALT))) {
        router->escape_taken = true;
        router->text_view = !router->text_view;
        /* Going to the text view, the guest must not keep the Alt (or
         * anything else) pressed; coming back, it has nothing pressed already
         * and the Alt's release, when it comes, is not passed on. */
        key_router_release_all(router);
        router->output.show_text_view(router->output.opaque, router->text_view);
        return;
    }

    if (!pressed) {
        if (key_router_guest_holds(router, key)) {
            key_router_set_guest_holds(router, key, false);
            router->output.guest_key(router->output.opaque, key, false);
        }
        return;
    }

    if (router->text_view) {
        if (key == KEY_CAPSLOCK) {
            router->caps_lock = !router->caps_lock;
            return;
        }
        uint8_t bytes[KEYMAP_CONSOLE_BYTES_MAX];
        size_t count = keymap_console_bytes(key, key_router_keymap_modifiers(router), bytes);
        if (count > 0)
            router->output.console_bytes(router->output.opaque, bytes, count);
        return;
    }

    /* The guest's input layer repeats held keys itself. */
    if (key_router_guest_holds(router, key))
        return;
    key_router_set_guest_holds(router, key, true);
    router->output.guest_key(router->output.opaque, key, true);
}
