#include "ui/display.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ui/display_backend.h"
#include "ui/font.h"
#include "ui/key_router.h"
#include "ui/png.h"
#include "ui/text_view.h"

#define DISPLAY_DEFAULT_WIDTH 1024
#define DISPLAY_DEFAULT_HEIGHT 768
/* The guest picks the scanout's size: keep what it can make us allocate
 * bounded (8192x8192 is 256 MiB a copy). */
#define DISPLAY_MAX_SIDE 8192
/* The display keeps up to four copies of the scanout (the guest's surface,
 * the composed view, the VNC framebuffer or SDL texture, a screenshot being
 * written), on top of the GPU's own 256 MiB of resources.  A scanout larger
 * than the screen offered (--display-size) is clipped to this many pixels,
 * 64 MiB a copy (4096x4096, or 5K), so a guest cannot make those copies
 * multiply the GPU's cap; a larger screen asked for with --display-size is
 * the user's to pay for. */
#define DISPLAY_MAX_GUEST_PIXELS (16u << 20)
#define DISPLAY_MESSAGE_BACKGROUND 0x00203050u
#define DISPLAY_MESSAGE_FOREGROUND 0x00ffffffu
#define DISPLAY_MESSAGE_HINT 0x00a0b0c0u
#define DISPLAY_MESSAGE_HINT_TEXT "Alt+Esc: the serial console"

struct display_rect {
    uint32_t x, y, width, height;
};

struct display {
    const struct display_backend_ops *ops;
    void *backend;
    char *screenshot_path;
    char description[200];

    struct display_input_sink input;
    atomic_bool input_ready;
    struct key_router router; /* the back end's thread only */

    pthread_mutex_t lock; /* everything below */
    uint32_t initial_width, initial_height;
    /* The guest's scanout, as the guest drew it. */
    uint32_t *surface;
    uint32_t surface_width, surface_height;
    bool surface_damaged;
    struct display_rect surface_damage;
    struct text_view text;
    bool text_shown;
    char message[256];
    bool message_shown;
    bool message_stale;
    /* The composed view the back end shows. */
    uint32_t *view;
    uint32_t view_width, view_height;
    bool view_stale; /* compose all of it again */
    bool frame_resized;
    bool frame_damaged;
    struct display_rect frame_damage;
};

static void display_rect_add(bool *damaged, struct display_rect *into, struct display_rect rect)
{
    if (rect.width == 0 || rect.height == 0)
        return;
    if (!*damaged) {
        *damaged = true;
        *into = rect;
        return;
    }
    uint32_t left = rect.x < into->x ? rect.x : into->x;
    uint32_t top = rect.y < into->y ? rect.y : into->y;
    uint32_t right = rect.x + rect.width > into->x + into->width ? rect.x + rect.width
                                                                 : into->x + into->width;
    uint32_t bottom = rect.y + rect.height > into->y + into->height ? rect.y + rect.height
                                                                    : into->y + into->height;
    *into = (struct display_rect){left, top, right - left, bottom - top};
}

static void display_wake(struct display *display)
{
    display->ops->wake(display->backend);
}

/* The message's lines, wrapped to the view's width; returns the count. */
static size_t display_message_lines(const char *message, uint32_t columns, const char *lines[],
                                    size_t lengths[], size_t max_lines)
{
    size_t count = 0;
    const char *cursor = message;
    while (*cursor && count < max_lines) {
        size_t length = strcspn(cursor, "\n");
        if (length > columns)
            length = columns;
        lines[count] = cursor;
        lengths[count] = length;
        count++;
        cursor += length;
        if (*cursor == '\n')
            cursor++;
    }
    return count;
}

/* The message is a band across the top of the view, over whatever the
 * guest drew there. */
static struct display_rect display_draw_message_locked(struct display *display)
{
    uint32_t columns = display->view_width / FONT_CELL_WIDTH;
    if (columns < 3 || display->view_height < FONT_CELL_HEIGHT)
        return (struct display_rect){0, 0, 0, 0};
    columns -= 2;
    const char *lines[8];
    size_t lengths[8];
    size_t count = display_message_lines(display->message, columns, lines, lengths, 7);
    lines[count] = DISPLAY_MESSAGE_HINT_TEXT;
    lengths[count] = strlen(DISPLAY_MESSAGE_HINT_TEXT) < columns ? strlen(DISPLAY_MESSAGE_HINT_TEXT)
                                                                  : columns;
    count++;
    uint32_t height = (uint32_t)(count + 1) * FONT_CELL_HEIGHT;
    if (height > display->view_height)
        height = display->view_height;
    for (uint32_t y = 0; y < height; y++)
        for (uint32_t x = 0; x < display->view_width; x++)
            display->view[(size_t)y * display->view_width + x] = DISPLAY_MESSAGE_BACKGROUND;
    for (size_t line = 0; line < count; line++) {
        uint32_t colour =
            line + 1 == count ? DISPLAY_MESSAGE_HINT : DISPLAY_MESSAGE_FOREGROUND;
        for (size_t i = 0; i < lengths[line]; i++)
            font_draw_cell(display->view, display->view_width, display->view_width, height,
                           (uint32_t)(i + 1) * FONT_CELL_WIDTH,
                           FONT_CELL_HEIGHT / 2 + (uint32_t)line * FONT_CELL_HEIGHT,
                           (uint8_t)lines[line][i], colour, DISPLAY_MESSAGE_BACKGROUND);
    }
    return (struct display_rect){0, 0, display->view_width, height};
}

static void display_copy_surface_locked(struct display *display, struct display_rect rect)
{
    /* The view and the surface have the same size, unless allocating the
     * view failed: copy what both have. */
    uint32_t width = display->view_width < display->surface_width ? display->view_width
                                                                   : display->surface_width;
    uint32_t height = display->view_height < display->surface_height ? display->view_height
                                                                      : display->surface_height;
    if (rect.x >= width || rect.y >= height)
        return;
    if (rect.width > width - rect.x)
        rect.width = width - rect.x;
    if (rect.height > height - rect.y)
        rect.height = height - rect.y;
    for (uint32_t row = rect.y; row < rect.y + rect.height; row++)
        memcpy(display->view + (size_t)row * display->view_width + rect.x,
               display->surface + (size_t)row * display->surface_width + rect.x,
               (size_t)rect.width * 4);
}

/* Brings the view up to date with what changed, adding to the frame's
 * damage. */
static void display_compose_locked(struct display *display)
{
    uint32_t width = display->surface_width ? display->surface_width : display->initial_width;
    uint32_t height = display->surface_height ? display->surface_height : display->initial_height;
    if (width != display->view_width || height != display->view_height || !display->view) {
        uint32_t *view = malloc((size_t)width * height * 4);
        if (view) {
            free(display->view);
            display->view = view;
            display->view_width = width;
            display->view_height = height;
            display->frame_resized = true;
        } else {
            log_once("display: out of memory for a %ux%u screen: keeping the old size", width,
                     height);
        }
        struct error error;
        if (text_view_resize(&display->text, display->view_width / FONT_CELL_WIDTH,
                             display->view_height / FONT_CELL_HEIGHT, &error) < 0)
            log_once("display: %s", error.message);
        display->view_stale = true;
    }
    if (!display->view)
        return;
    struct display_rect all = {0, 0, display->view_width, display->view_height};
    if (display->view_stale) {
        display->view_stale = false;
        memset(display->view, 0, (size_t)display->view_width * display->view_height * 4);
        uint32_t first, last;
        if (display->text_shown) {
            text_view_take_dirty(&display->text, &first, &last);
            text_view_draw(&display->text, display->view, display->view_width,
                           display->view_width, display->view_height, 0,
                           display->text.rows - 1);
        } else {
            display->surface_damaged = false;
            if (display->surface)
                display_copy_surface_locked(display, all);
            if (display->message_shown)
                display_draw_message_locked(display);
            display->message_stale = false;
        }
        display_rect_add(&display->frame_damaged, &display->frame_damage, all);
        return;
    }
    if (display->text_shown) {
        uint32_t first, last;
        if (text_view_take_dirty(&display->text, &first, &last)) {
            text_view_draw(&display->text, display->view, display->view_width,
                           display->view_width, display->view_height, first, last);
            struct display_rect rows = {0, first * FONT_CELL_HEIGHT, display->view_width,
                                        (last - first + 1) * FONT_CELL_HEIGHT};
            if (rows.y < display->view_height) {
                if (rows.height > display->view_height - rows.y)
                    rows.height = display->view_height - rows.y;
                display_rect_add(&display->frame_damaged, &display->frame_damage, rows);
            }
        }
        return;
    }
    if (display->surface_damaged) {
        display->surface_damaged = false;
        display_copy_surface_locked(display, display->surface_damage);
        display_rect_add(&display->frame_damaged, &display->frame_damage,
                         display->surface_damage);
        if (display->message_shown)
            display->message_stale = true; /* the guest drew over it (or may have) */
    }
    if (display->message_shown && display->message_stale) {
        display->message_stale = false;
        display_rect_add(&display->frame_damaged, &display->frame_damage,
                         display_draw_message_locked(display));
    }
}

/* The key router's output: the machine's sink, or the view switch. */
static void display_route_guest_key(void *opaque, uint16_t key, bool pressed)
{
    struct display *display = opaque;
    if (display->input.key)
        display->input.key(display->input.opaque, key, pressed);
}

static void display_route_console_bytes(void *opaque, const uint8_t *bytes, size_t length)
{
    struct display *display = opaque;
    if (display->input.console_input)
        display->input.console_input(display->input.opaque, bytes, length);
}

static void display_route_show_text_view(void *opaque, bool shown)
{
    struct display *display = opaque;
    pthread_mutex_lock(&display->lock);
    display->text_shown = shown;
    display->view_stale = true;
    pthread_mutex_unlock(&display->lock);
    display_wake(display);
}

struct display *display_open(const char *spec, uint32_t width, uint32_t height,
                             const char *screenshot_path, struct error *error)
{
    const struct display_backend_ops *ops;
    const char *options = NULL;
    if (strcmp(spec, "none") == 0) {
        ops = &display_none_ops;
    } else if (strcmp(spec, "sdl") == 0) {
        ops = &display_sdl_ops;
    } else if (strcmp(spec, "vnc") == 0) {
        ops = &display_vnc_ops;
    } else if (strncmp(spec, "vnc=", 4) == 0 || strncmp(spec, "vnc,", 4) == 0) {
        ops = &display_vnc_ops;
        options = spec[3] == '=' ? spec + 4 : spec + 3; /* ",password-file=..." */
    } else {
        error_set(error,
                  "unknown display '%s' (expected sdl, vnc, vnc=HOST:PORT, vnc=unix:PATH or none)",
                  spec);
        return NULL;
    }
    if (width == 0 || height == 0) {
        width = DISPLAY_DEFAULT_WIDTH;
        height = DISPLAY_DEFAULT_HEIGHT;
    }
    if (width > DISPLAY_MAX_SIDE || height > DISPLAY_MAX_SIDE) {
        error_set(error, "display size %ux%u: at most %u pixels on a side", width, height,
                  DISPLAY_MAX_SIDE);
        return NULL;
    }

    if (screenshot_path && ui_png_check_path(screenshot_path, error) < 0)
        return NULL;

    struct display *display = calloc(1, sizeof(*display));
    if (!display) {
        error_set(error, "display: out of memory");
        return NULL;
    }
    display->ops = ops;
    display->initial_width = width;
    display->initial_height = height;
    display->view_stale = true;
    pthread_mutex_init(&display->lock, NULL);
    struct key_router_output route = {
        .opaque = display,
        .guest_key = display_route_guest_key,
        .console_bytes = display_route_console_bytes,
        .show_text_view = display_route_show_text_view,
    };
    key_router_init(&display->router, &route);
    if (screenshot_path && !(display->screenshot_path = strdup(screenshot_path))) {
        error_set(error, "display: out of memory");
        goto fail;
    }
    if (text_view_init(&display->text, width / FONT_CELL_WIDTH, height / FONT_CELL_HEIGHT,
                       error) < 0)
        goto fail;
    pthread_mutex_lock(&display->lock);
    display_compose_locked(display);
    pthread_mutex_unlock(&display->lock);
    if (!display->view) {
        error_set(error, "display: out of memory for a %ux%u screen", width, height);
        goto fail;
    }
    if (ops->open(display, options, &display->backend, error) < 0)
        goto fail;
    return display;

fail:
    text_view_destroy(&display->text);
    free(display->view);
    free(display->screenshot_path);
    pthread_mutex_destroy(&display->lock);
    free(display);
    return NULL;
}

int display_start(struct display *display, const struct display_input_sink *input,
                  struct error *error)
{
    display->input = *input;
    atomic_store_explicit(&display->input_ready, true, memory_order_release);
    return display->ops->start(display->backend, error);
}

const char *display_describe(const struct display *display)
{
    return display->description;
}

void display_set_description(struct display *display, const char *description)
{
    snprintf(display->description, sizeof(display->description), "%s", description);
}

void display_resize(struct display *display, uint32_t width, uint32_t height)
{
    if (width == 0 || height == 0)
        width = height = 0;
    if (width > DISPLAY_MAX_SIDE || height > DISPLAY_MAX_SIDE) {
        log_once("display: the guest's %ux%u scanout is clipped to at most %u on a side", width,
                 height, DISPLAY_MAX_SIDE);
        width = width > DISPLAY_MAX_SIDE ? DISPLAY_MAX_SIDE : width;
        height = height > DISPLAY_MAX_SIDE ? DISPLAY_MAX_SIDE : height;
    }
    uint64_t most = (uint64_t)display->initial_width * display->initial_height;
    if (most < DISPLAY_MAX_GUEST_PIXELS)
        most = DISPLAY_MAX_GUEST_PIXELS;
    if ((uint64_t)width * height > most) {
        log_once("display: the guest's %ux%u scanout is clipped to %llu pixels (the screen "
                 "offered is %ux%u)",
                 width, height, (unsigned long long)most, display->initial_width,
                 display->initial_height);
        height = (uint32_t)(most / width);
    }
    uint32_t *surface = NULL;
    if (width) {
        surface = calloc((size_t)width * height, 4); /* black until the guest draws */
        if (!surface) {
            log_once("display: out of memory for the guest's %ux%u scanout", width, height);
            width = height = 0;
        }
    }
    pthread_mutex_lock(&display->lock);
    free(display->surface);
    display->surface = surface;
    display->surface_width = width;
    display->surface_height = height;
    display->surface_damaged = false;
    if (width)
        display->message_shown = false; /* the guest has a screen: the message has served */
    display->view_stale = true;
    pthread_mutex_unlock(&display->lock);
    display_wake(display);
}

void display_update(struct display *display, const uint8_t *pixels, uint32_t stride, uint32_t x,
                    uint32_t y, uint32_t width, uint32_t height)
{
    pthread_mutex_lock(&display->lock);
    if (!display->surface || x >= display->surface_width || y >= display->surface_height ||
        width == 0 || height == 0) {
        pthread_mutex_unlock(&display->lock);
        return;
    }
    if (width > display->surface_width - x)
        width = display->surface_width - x;
    if (height > display->surface_height - y)
        height = display->surface_height - y;
    for (uint32_t row = 0; row < height; row++)
        memcpy(display->surface + (size_t)(y + row) * display->surface_width + x,
               pixels + (size_t)row * stride, (size_t)width * 4);
    display_rect_add(&display->surface_damaged, &display->surface_damage,
                     (struct display_rect){x, y, width, height});
    bool shown = !display->text_shown;
    pthread_mutex_unlock(&display->lock);
    if (shown)
        display_wake(display);
}

void display_console_output(struct display *display, const uint8_t *bytes, size_t length)
{
    pthread_mutex_lock(&display->lock);
    text_view_write(&display->text, bytes, length);
    bool shown = display->text_shown;
    pthread_mutex_unlock(&display->lock);
    if (shown)
        display_wake(display);
}

void display_show_message(struct display *display, const char *message)
{
    pthread_mutex_lock(&display->lock);
    snprintf(display->message, sizeof(display->message), "%s", message);
    display->message_shown = true;
    display->view_stale = true; /* a shorter message must not leave the old one's band */
    pthread_mutex_unlock(&display->lock);
    display_wake(display);
}

void display_frame_acquire(struct display *display, struct display_frame *frame)
{
    pthread_mutex_lock(&display->lock);
    display_compose_locked(display);
    *frame = (struct display_frame){
        .pixels = display->view,
        .stride = display->view_width,
        .width = display->view_width,
        .height = display->view_height,
        .resized = display->frame_resized,
        .damaged = display->frame_damaged || display->frame_resized,
        .x = display->frame_damage.x,
        .y = display->frame_damage.y,
        .damage_width = display->frame_damage.width,
        .damage_height = display->frame_damage.height,
    };
    if (display->frame_resized) {
        frame->x = frame->y = 0;
        frame->damage_width = display->view_width;
        frame->damage_height = display->view_height;
    }
}

void display_frame_release(struct display *display)
{
    display->frame_resized = false;
    display->frame_damaged = false;
    pthread_mutex_unlock(&display->lock);
}

int display_frame_copy(struct display *display, uint32_t **pixels, uint32_t *width,
                       uint32_t *height, struct error *error)
{
    pthread_mutex_lock(&display->lock);
    display_compose_locked(display);
    size_t size = (size_t)display->view_width * display->view_height * 4;
    uint32_t *copy = malloc(size ? size : 1);
    if (copy) {
        memcpy(copy, display->view, size);
        *width = display->view_width;
        *height = display->view_height;
    }
    pthread_mutex_unlock(&display->lock);
    if (!copy)
        return error_set(error, "screenshot: out of memory");
    *pixels = copy;
    return 0;
}

int display_screenshot(struct display *display, const char *path, struct error *error)
{
    uint32_t *pixels, width, height;
    if (display_frame_copy(display, &pixels, &width, &height, error) < 0)
        return -1;
    int result = ui_png_write(path, pixels, (size_t)width * 4, width, height, error);
    free(pixels);
    return result;
}

void display_input_key(struct display *display, uint16_t linux_key_code, bool pressed)
{
    if (!atomic_load_explicit(&display->input_ready, memory_order_acquire))
        return;
    key_router_feed(&display->router, linux_key_code, pressed);
}

void display_input_release_keys(struct display *display)
{
    if (!atomic_load_explicit(&display->input_ready, memory_order_acquire))
        return;
    key_router_release_all(&display->router);
}

void display_input_pointer(struct display *display, uint32_t x, uint32_t y, uint32_t frame_width,
                           uint32_t frame_height, unsigned buttons)
{
    if (!atomic_load_explicit(&display->input_ready, memory_order_acquire) ||
        !display->input.pointer || frame_width == 0 || frame_height == 0)
        return;
    pthread_mutex_lock(&display->lock);
    bool to_guest = !display->text_shown && display->surface_width != 0;
    uint32_t width = display->surface_width, height = display->surface_height;
    pthread_mutex_unlock(&display->lock);
    if (!to_guest)
        return;
    /* The frame the user pointed at may be older than the scanout's size. */
    uint64_t scaled_x = (uint64_t)x * width / frame_width;
    uint64_t scaled_y = (uint64_t)y * height / frame_height;
    x = scaled_x < width ? (uint32_t)scaled_x : width - 1;
    y = scaled_y < height ? (uint32_t)scaled_y : height - 1;
    display->input.pointer(display->input.opaque, x, y, buttons & 7);
}

void display_input_quit(struct display *display)
{
    if (atomic_load_explicit(&display->input_ready, memory_order_acquire) && display->input.quit)
        display->input.quit(display->input.opaque);
}

void display_close(struct display *display)
{
    if (!display)
        return;
    display->ops->close(display->backend);
    if (display->screenshot_path) {
        struct error error;
        if (display_screenshot(display, display->screenshot_path, &error) < 0)
            log_message("%s", error.message);
    }
    text_view_destroy(&display->text);
    free(display->surface);
    free(display->view);
    free(display->screenshot_path);
    pthread_mutex_destroy(&display->lock);
    free(display);
}
