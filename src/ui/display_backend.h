/* Between the display's core (display.c: the surfaces, the text view, the
 * keys' routing) and its back ends (display_none.c, display_sdl.c,
 * display_vnc.c).  A back end shows frames the core composes and feeds the
 * user's input back to it; it never sees the guest's surface directly. */
#ifndef GUEST_UI_DISPLAY_BACKEND_H
#define GUEST_UI_DISPLAY_BACKEND_H

#include "ui/display.h"

struct display_backend_ops {
    /* options: the spec's part after "vnc=" (NULL when there is none). */
    int (*open)(struct display *display, const char *options, void **backend,
                struct error *error);
    int (*start)(void *backend, struct error *error);
    /* The frame changed: from any thread, possibly before start and often;
     * it must not block. */
    void (*wake)(void *backend);
    /* Stops the back end's threads and frees it. */
    void (*close)(void *backend);
};

extern const struct display_backend_ops display_none_ops;
extern const struct display_backend_ops display_sdl_ops;
extern const struct display_backend_ops display_vnc_ops;

/* What the back end shows: the composed view (the guest's screen with any
 * message over it, or the text view), XRGB8888. */
struct display_frame {
    const uint32_t *pixels; /* `stride` pixels a row */
    size_t stride;
    uint32_t width, height;
    bool resized; /* the size changed since the last frame: take all of it */
    bool damaged; /* x, y, damage_width, damage_height changed (all of it if resized) */
    uint32_t x, y, damage_width, damage_height;
};

/* Composes what changed and locks the frame: the pixels stay valid and
 * unchanged until display_frame_release, which forgets the damage.  Keep the
 * time in between short: the guest's updates wait for it. */
void display_frame_acquire(struct display *display, struct display_frame *frame);
void display_frame_release(struct display *display);

/* A copy of the frame (malloc'd; the caller frees it), for screenshots and
 * tests. */
int display_frame_copy(struct display *display, uint32_t **pixels, uint32_t *width,
                       uint32_t *height, struct error *error);

/* The user's input, from the back end's thread (one thread per display). */
void display_input_key(struct display *display, uint16_t linux_key_code, bool pressed);
/* Keys held on the host will not see their releases (focus lost, client gone). */
void display_input_release_keys(struct display *display);
/* (x, y) in the frame of frame_width x frame_height the user saw. */
void display_input_pointer(struct display *display, uint32_t x, uint32_t y, uint32_t frame_width,
                           uint32_t frame_height, unsigned buttons);
void display_input_quit(struct display *display);

/* For display_describe; set by the back end's open. */
void display_set_description(struct display *display, const char *description);

#endif
