/* The guest's screen in an SDL2 window, or on the whole screen of a bare
 * console through SDL's KMS/DRM driver (SDL chooses; no driver is forced).
 *
 * SDL wants its video calls on the thread that initialised it, so one thread
 * does them all, from SDL_Init to SDL_Quit: it starts in display_open (so that
 * a display that cannot open fails there) and waits in SDL_WaitEvent.  Guest
 * updates wake it with a user event, one at a time: the event is pushed only
 * when none is pending, and the thread takes everything changed since. */
#include "ui/display_backend.h"

#include <SDL.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"
#include "ui/keymap.h"

#define DISPLAY_SDL_FRAME_MS 8 /* at most 125 presents a second */
/* How long a change of the guest's screen may wait to be seen: the longest
 * the SDL thread sleeps without an event of its window (QEMU's SDL display
 * looks every 30 ms). */
#define DISPLAY_SDL_WAKE_MS 16

enum display_sdl_state {
    DISPLAY_SDL_STARTING,
    DISPLAY_SDL_RUNNING,
    DISPLAY_SDL_FAILED,
};

struct display_sdl {
    struct display *display;
    pthread_t thread;
    pthread_mutex_t lock; /* state, failure */
    pthread_cond_t changed;
    enum display_sdl_state state;
    char failure[300];
    atomic_bool stop;
    atomic_bool wake_pending;
    /* The thread's own: */
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;
    uint32_t width, height;
    unsigned buttons;
};

static void display_sdl_report(struct display_sdl *sdl, enum display_sdl_state state,
                               const char *failure)
{
    pthread_mutex_lock(&sdl->lock);
    sdl->state = state;
    if (failure)
        snprintf(sdl->failure, sizeof(sdl->failure), "%s", failure);
    pthread_cond_broadcast(&sdl->changed);
    pthread_mutex_unlock(&sdl->lock);
}

static bool display_sdl_create_texture(struct display_sdl *sdl, uint32_t width, uint32_t height)
{
    if (sdl->texture)
        SDL_DestroyTexture(sdl->texture);
    /* SDL_PIXELFORMAT_RGB888 is 32-bit words 0x00RRGGBB: the frame's layout. */
    sdl->texture = SDL_CreateTexture(sdl->renderer, SDL_PIXELFORMAT_RGB888,
                                     SDL_TEXTUREACCESS_STREAMING, (int)width, (int)height);
    if (!sdl->texture)
        return false;
    sdl->width = width;
    sdl->height = height;
    /* Scales the picture to the window, keeping its shape, and maps the mouse
     * back into frame pixels. */
    SDL_RenderSetLogicalSize(sdl->renderer, (int)width, (int)height);
    SDL_SetWindowSize(sdl->window, (int)width, (int)height);
    return true;
}

/* Takes what changed from the display; returns whether there is anything new
 * to present. */
static bool display_sdl_take_frame(struct display_sdl *sdl)
{
    struct display_frame frame;
    display_frame_acquire(sdl->display, &frame);
    bool changed = false;
    if (frame.resized || !sdl->texture || frame.width != sdl->width ||
        frame.height != sdl->height) {
        if (!display_sdl_create_texture(sdl, frame.width, frame.height)) {
            display_frame_release(sdl->display);
            return false;
        }
        frame.x = frame.y = 0;
        frame.damage_width = frame.width;
        frame.damage_height = frame.height;
        frame.damaged = true;
    }
    if (frame.damaged && frame.damage_width && frame.damage_height) {
        SDL_Rect rect = {(int)frame.x, (int)frame.y, (int)frame.damage_width,
                         (int)frame.damage_height};
        SDL_UpdateTexture(sdl->texture, &rect,
                          frame.pixels + (size_t)frame.y * frame.stride + frame.x,
                          (int)(frame.stride * 4));
        changed = true;
    }
    display_frame_release(sdl->display);
    return changed;
}

static void display_sdl_present(struct display_sdl *sdl)
{
    SDL_SetRenderDrawColor(sdl->renderer, 0, 0, 0, 255);
    SDL_RenderClear(sdl->renderer);
    SDL_RenderCopy(sdl->renderer, sdl->texture, NULL, NULL);
    SDL_RenderPresent(sdl->renderer);
}

static void display_sdl_pointer(struct display_sdl *sdl, Sint32 x, Sint32 y)
{
    /* Outside the picture (the letterbox bands) counts as its edge. */
    uint32_t clamped_x = x < 0 ? 0 : (uint32_t)x;
    uint32_t clamped_y = y < 0 ? 0 : (uint32_t)y;
    display_input_pointer(sdl->display, clamped_x, clamped_y, sdl->width, sdl->height,
                          sdl->buttons);
}

static unsigned display_sdl_button(Uint8 button)
{
    switch (button) {
    case SDL_BUTTON_LEFT:
        return 1;
    case SDL_BUTTON_RIGHT:
        return 2;
    case SDL_BUTTON_MIDDLE:
        return 4;
    default:
        return 0;
    }
}

/* Returns whether the window needs presenting again. */
static bool display_sdl_handle(struct display_sdl *sdl, const SDL_Event *event)
{
    switch (event->type) {
    case SDL_KEYDOWN:
    case SDL_KEYUP:
        display_input_key(sdl->display, keymap_from_sdl_scancode(event->key.keysym.scancode),
                          event->type == SDL_KEYDOWN);
        return false;
    case SDL_MOUSEMOTION:
        display_sdl_pointer(sdl, event->motion.x, event->motion.y);
        return false;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP: {
        unsigned button = display_sdl_button(event->button.button);
        if (event->type == SDL_MOUSEBUTTONDOWN)
            sdl->buttons |= button;
        else
            sdl->buttons &= ~button;
        display_sdl_pointer(sdl, event->button.x, event->button.y);
        return false;
    }
    case SDL_WINDOWEVENT:
        switch (event->window.event) {
        case SDL_WINDOWEVENT_FOCUS_LOST:
            /* The keys' releases go to another window now. */
            display_input_release_keys(sdl->display);
            sdl->buttons = 0;
            return false;
        case SDL_WINDOWEVENT_EXPOSED:
        case SDL_WINDOWEVENT_SIZE_CHANGED:
            return true;
        default:
            return false;
        }
    case SDL_QUIT:
        display_input_quit(sdl->display);
        return false;
    default:
        return false;
    }
}

static void display_sdl_shut_down(struct display_sdl *sdl)
{
    if (sdl->texture)
        SDL_DestroyTexture(sdl->texture);
    if (sdl->renderer)
        SDL_DestroyRenderer(sdl->renderer);
    if (sdl->window)
        SDL_DestroyWindow(sdl->window);
    SDL_Quit();
}

static void *display_sdl_run(void *opaque)
{
    struct display_sdl *sdl = opaque;
    char failure[sizeof(sdl->failure)];
    /* Signals belong to main.c. */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    /* SDL's own 2D renderer draws into shared memory with the X server (or
     * the compositor).  A GL renderer would load a driver that starts
     * threads of its own (Mesa's llvmpipe JIT, its shader cache) before this
     * thread is confined, where no filter of ours reaches them. */
    if (sandbox_mode() != SANDBOX_OFF) {
        SDL_SetHint(SDL_HINT_RENDER_DRIVER, "software");
        SDL_SetHint(SDL_HINT_FRAMEBUFFER_ACCELERATION, "0");
    }
    if (SDL_Init(SDL_INIT_VIDEO) < 0) {
        snprintf(failure, sizeof(failure),
                 "sdl: cannot open a display: %s (is there a $DISPLAY or $WAYLAND_DISPLAY, or "
                 "a KMS device this user may open?)",
                 SDL_GetError());
        SDL_Quit();
        display_sdl_report(sdl, DISPLAY_SDL_FAILED, failure);
        return NULL;
    }
    /* With no screen SDL falls back to drivers that show nothing; take them
     * only when asked for by name (SDL_VIDEODRIVER=offscreen runs the back
     * end headless, for tests). */
    const char *driver = SDL_GetCurrentVideoDriver();
    const char *asked = SDL_getenv("SDL_VIDEODRIVER");
    if (driver && (strcmp(driver, "offscreen") == 0 || strcmp(driver, "dummy") == 0) &&
        !(asked && *asked)) {
        SDL_Quit();
        display_sdl_report(sdl, DISPLAY_SDL_FAILED,
                           "sdl: no screen to show the guest on: no $DISPLAY or "
                           "$WAYLAND_DISPLAY, and no KMS device this user may open");
        return NULL;
    }
    struct display_frame frame;
    display_frame_acquire(sdl->display, &frame);
    uint32_t width = frame.width, height = frame.height;
    display_frame_release(sdl->display);
    sdl->window = SDL_CreateWindow("guest", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED,
                                   (int)width, (int)height, SDL_WINDOW_RESIZABLE);
    if (sdl->window) {
        sdl->renderer = SDL_CreateRenderer(sdl->window, -1, 0);
        if (!sdl->renderer)
            sdl->renderer = SDL_CreateRenderer(sdl->window, -1, SDL_RENDERER_SOFTWARE);
    }
    if (!sdl->window || !sdl->renderer ||
        !display_sdl_take_frame(sdl)) {
        snprintf(failure, sizeof(failure), "sdl: cannot open a window: %s", SDL_GetError());
        display_sdl_shut_down(sdl);
        display_sdl_report(sdl, DISPLAY_SDL_FAILED, failure);
        return NULL;
    }
    /* Keys, not text: no input method between the user and the guest. */
    SDL_StopTextInput();
    /* Connected and drawn once: from here on, the window system's socket. */
    sandbox_enter(SANDBOX_SDL, "sdl");
    display_sdl_present(sdl);
    display_sdl_report(sdl, DISPLAY_SDL_RUNNING, NULL);

    /* A guest that flushes thousands of times a second gets its texture
     * updated as often, but presented at most every DISPLAY_SDL_FRAME_MS.
     * (Not by vsync: some compositors block presenting into a hidden window,
     * and this thread must keep taking input.) */
    bool present_pending = false;
    Uint32 last_present = SDL_GetTicks();
    while (!atomic_load(&sdl->stop)) {
        int timeout = DISPLAY_SDL_WAKE_MS;
        if (present_pending) {
            Uint32 since = SDL_GetTicks() - last_present;
            timeout = since >= DISPLAY_SDL_FRAME_MS ? 0 : (int)(DISPLAY_SDL_FRAME_MS - since);
        }
        SDL_Event event;
        if (SDL_WaitEventTimeout(&event, timeout)) {
            present_pending |= display_sdl_handle(sdl, &event);
            while (!atomic_load(&sdl->stop) && SDL_PollEvent(&event))
                present_pending |= display_sdl_handle(sdl, &event);
        }
        /* Cleared before taking: a change after it wakes us again. */
        if (atomic_exchange(&sdl->wake_pending, false))
            present_pending |= display_sdl_take_frame(sdl);
        if (present_pending && SDL_GetTicks() - last_present >= DISPLAY_SDL_FRAME_MS) {
            display_sdl_present(sdl);
            last_present = SDL_GetTicks();
            present_pending = false;
        }
    }
    display_sdl_shut_down(sdl);
    return NULL;
}

static int display_sdl_open(struct display *display, const char *options, void **backend,
                            struct error *error)
{
    (void)options;
    struct display_sdl *sdl = calloc(1, sizeof(*sdl));
    if (!sdl)
        return error_set(error, "sdl: out of memory");
    sdl->display = display;
    sdl->state = DISPLAY_SDL_STARTING;
    pthread_mutex_init(&sdl->lock, NULL);
    pthread_cond_init(&sdl->changed, NULL);
    int status = pthread_create(&sdl->thread, NULL, display_sdl_run, sdl);
    if (status != 0) {
        error_set(error, "sdl: cannot start its thread: %s", strerror(status));
        goto fail;
    }
    pthread_mutex_lock(&sdl->lock);
    while (sdl->state == DISPLAY_SDL_STARTING)
        pthread_cond_wait(&sdl->changed, &sdl->lock);
    pthread_mutex_unlock(&sdl->lock);
    if (sdl->state == DISPLAY_SDL_FAILED) {
        pthread_join(sdl->thread, NULL);
        error_set(error, "%s", sdl->failure);
        goto fail;
    }
    display_set_description(display, "SDL window");
    *backend = sdl;
    return 0;

fail:
    pthread_cond_destroy(&sdl->changed);
    pthread_mutex_destroy(&sdl->lock);
    free(sdl);
    return -1;
}

static int display_sdl_start(void *backend, struct error *error)
{
    (void)backend; /* the thread runs since open; display_start let input through */
    (void)error;
    return 0;
}

/* A flag, which the SDL thread looks at every DISPLAY_SDL_WAKE_MS at most.
 * Not SDL_PushEvent: on X11 that flushes Xlib's connection, reads included,
 * from the calling thread, which may be a vCPU with the UART's output for
 * the text view; no thread but the SDL one talks to the window system. */
static void display_sdl_wake(void *backend)
{
    struct display_sdl *sdl = backend;
    atomic_store(&sdl->wake_pending, true);
}

static void display_sdl_close(void *backend)
{
    struct display_sdl *sdl = backend;
    atomic_store(&sdl->stop, true); /* seen within DISPLAY_SDL_WAKE_MS */
    pthread_join(sdl->thread, NULL);
    pthread_cond_destroy(&sdl->changed);
    pthread_mutex_destroy(&sdl->lock);
    free(sdl);
}

const struct display_backend_ops display_sdl_ops = {
    .open = display_sdl_open,
    .start = display_sdl_start,
    .wake = display_sdl_wake,
    .close = display_sdl_close,
};
