/* Key translation for the display: the host's key events (SDL scancodes, the
 * X11 keysyms a VNC client sends) into Linux KEY_ codes, which is what the
 * guest's virtio-input keyboard reports, and Linux keys into the bytes a
 * terminal would send, for typing into the serial console's text view.
 *
 * Keysyms are characters, not keys: they are mapped back to the key of a US
 * layout that types them (both '1' and '!' are KEY_1; the client sends the
 * Shift itself), so a guest with a US keymap sees the keys the user pressed. */
#ifndef GUEST_UI_KEYMAP_H
#define GUEST_UI_KEYMAP_H

#include <stddef.h>
#include <stdint.h>

/* Modifier state for keymap_console_bytes. */
#define KEYMAP_SHIFT 0x1u
#define KEYMAP_CTRL 0x2u
#define KEYMAP_ALT 0x4u
#define KEYMAP_CAPS_LOCK 0x8u

/* The most bytes one key types (Alt + an escape sequence). */
#define KEYMAP_CONSOLE_BYTES_MAX 8

/* 0 (KEY_RESERVED) for a key the guest keyboard does not have. */
uint16_t keymap_from_sdl_scancode(unsigned scancode);
uint16_t keymap_from_x11_keysym(uint32_t keysym);

/* What a US-layout terminal sends for a press of `key` with `modifiers`;
 * returns the count (0 for keys that type nothing, such as Shift). */
size_t keymap_console_bytes(uint16_t key, unsigned modifiers,
                            uint8_t bytes[KEYMAP_CONSOLE_BYTES_MAX]);

#endif
