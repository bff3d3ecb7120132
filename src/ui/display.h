/* The guest's screen on the host: a window (SDL), a VNC server, or nothing
 * but screenshots.  The display keeps its own copy of the guest's scanout and
 * a text view of the serial console (Alt+Esc switches between the two), and
 * sends the user's keys and pointer back through a display_input_sink.
 *
 * Threads: display_resize and display_update come from the virtio-gpu
 * device's thread, display_console_output from the serial console's path;
 * each back end runs its own thread and calls the sink from it.  All of these
 * may run at once. */
#ifndef GUEST_UI_DISPLAY_H
#define GUEST_UI_DISPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Where user input goes; set by the machine.  Called from the display's
 * thread, never with the display's lock held; a member may be NULL. */
struct display_input_sink {
    void *opaque;
    /* The guest's keyboard (virtio-input): Linux KEY_ codes.  A key's release
     * comes only after its press; the display drops host auto-repeat (the
     * guest repeats keys itself). */
    void (*key)(void *opaque, uint16_t linux_key_code, bool pressed);
    /* Absolute, in guest-scanout pixels (0..width-1, 0..height-1); buttons:
     * 1 left, 2 right, 4 middle.  Not sent while the text view is shown or
     * while the guest has no scanout. */
    void (*pointer)(void *opaque, uint32_t x, uint32_t y, unsigned buttons);
    /* Typed text for the serial console, while the text view is shown: what a
     * terminal sends (Enter is '\r', Backspace 0x7f, arrows ESC [ A...). */
    void (*console_input)(void *opaque, const uint8_t *bytes, size_t length);
    /* The user asked to quit: the window was closed.  Optional. */
    void (*quit)(void *opaque);
};

struct display;

/* spec: "sdl", "vnc", "vnc=HOST:PORT", "vnc=unix:PATH", or "none".
 *   sdl   a window, or the whole screen through KMS on a bare console (SDL
 *         picks: $WAYLAND_DISPLAY, $DISPLAY, then KMS/DRM).
 *   vnc   a VNC server on 127.0.0.1, on the first free port from 5900 up to
 *         5999 (display :0 to :99), so that several guests can each have one
 *         without choosing ports; display_describe says which it got.
 *   vnc=HOST:PORT  exactly that address (HOST may be an IPv6 address in
 *         brackets; an empty HOST is every interface); fails if it is in use.
 *   vnc=unix:PATH  a Unix socket (a stale socket file left by a dead server is
 *         replaced; it is removed on close).
 *   none  nothing shown; display_screenshot still works.
 * width, height: the size shown until the guest sets a scanout (0: 1024x768).
 * screenshot_path (may be NULL): display_close writes a screenshot there.
 * Fails with one clear line (no $DISPLAY and no KMS for sdl, address in use
 * for vnc); called before the VM starts.  The sdl back end starts its thread
 * here, since SDL must be initialised on the thread that draws. */
struct display *display_open(const char *spec, uint32_t width, uint32_t height,
                             const char *screenshot_path, struct error *error);

/* Starts the back end's thread(s) and begins delivering input to `input`
 * (copied).  The process must ignore SIGPIPE (main.c does): the VNC server
 * writes to sockets that clients may have closed. */
int display_start(struct display *display, const struct display_input_sink *input,
                  struct error *error);

/* What the user connects to, for main.c to print: "VNC server on
 * 127.0.0.1:5901", "SDL window", "no display"... */
const char *display_describe(const struct display *display);

/* From the virtio-gpu device's thread: */
/* The guest's scanout size; 0x0: the guest shows nothing.  The new surface is
 * black until updated.  Sizes above 8192 on a side are clipped. */
void display_resize(struct display *display, uint32_t width, uint32_t height);
/* Copies a rectangle of the guest's picture in: `pixels` points at the
 * rectangle's top-left pixel (x, y) (not at the image's origin), rows are
 * `stride` bytes apart, each pixel a 32-bit little-endian 0x00RRGGBB word (the
 * top byte is ignored).  The pointer need only be valid during the call.  The
 * part outside the current scanout is dropped. */
void display_update(struct display *display, const uint8_t *pixels, uint32_t stride, uint32_t x,
                    uint32_t y, uint32_t width, uint32_t height);

/* From the serial console path: every byte the guest writes to its serial
 * console (so the text view can show it). */
void display_console_output(struct display *display, const uint8_t *bytes, size_t length);

/* A line shown in the display and kept until the guest sets a (non-zero)
 * scanout, e.g. "the guest never set a scanout: does its kernel have
 * virtio_gpu?"; a later call replaces it. */
void display_show_message(struct display *display, const char *message);

/* A PNG of what is shown now (the guest's screen or the text view).  Any
 * thread; the machine calls it when asked to (there is no key or signal for
 * it in the display). */
int display_screenshot(struct display *display, const char *path, struct error *error);

/* Stops the back end's threads; writes the screenshot file if one was asked
 * for (a failure to write it is logged: there is no one left to return it
 * to).  NULL is fine. */
void display_close(struct display *display);

#endif
