/* The SDL display with no screen: SDL's offscreen driver, asked for by name,
 * runs the back end's thread, window, renderer and event loop; events pushed
 * into SDL's queue stand for the user. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <SDL.h>
#include <linux/input-event-codes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ui/display.h"
#include "ui/display_backend.h"

static struct {
    pthread_mutex_t lock;
    char keys[256];
    char console[64];
    size_t console_length;
    unsigned quit_count;
} sink_state = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void sink_key(void *opaque, uint16_t key, bool pressed)
{
    (void)opaque;
    char text[16];
    snprintf(text, sizeof(text), "%c%u ", pressed ? '+' : '-', key);
    pthread_mutex_lock(&sink_state.lock);
    strncat(sink_state.keys, text, sizeof(sink_state.keys) - strlen(sink_state.keys) - 1);
    pthread_mutex_unlock(&sink_state.lock);
}

static void sink_console_input(void *opaque, const uint8_t *bytes, size_t length)
{
    (void)opaque;
    pthread_mutex_lock(&sink_state.lock);
    if (sink_state.console_length + length <= sizeof(sink_state.console)) {
        memcpy(sink_state.console + sink_state.console_length, bytes, length);
        sink_state.console_length += length;
    }
    pthread_mutex_unlock(&sink_state.lock);
}

static void sink_quit(void *opaque)
{
    (void)opaque;
    pthread_mutex_lock(&sink_state.lock);
    sink_state.quit_count++;
    pthread_mutex_unlock(&sink_state.lock);
}

static double now(void)
{
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

/* Waits up to 5 s for the sink to have seen `keys`, `console` and `quits`. */
static void expect_sink(const char *keys, const char *console, unsigned quits)
{
    double deadline = now() + 5;
    for (;;) {
        pthread_mutex_lock(&sink_state.lock);
        bool same = strcmp(sink_state.keys, keys) == 0 &&
                    sink_state.console_length == strlen(console) &&
                    memcmp(sink_state.console, console, sink_state.console_length) == 0 &&
                    sink_state.quit_count == quits;
        char seen[sizeof(sink_state.keys)];
        memcpy(seen, sink_state.keys, sizeof(seen));
        pthread_mutex_unlock(&sink_state.lock);
        if (same)
            return;
        if (now() > deadline)
            fail_msg("keys '%s', expected '%s'", seen, keys);
        usleep(10000);
    }
}

static void push_key(SDL_Scancode scancode, bool down)
{
    SDL_Event event = {.type = down ? SDL_KEYDOWN : SDL_KEYUP};
    event.key.state = down ? SDL_PRESSED : SDL_RELEASED;
    event.key.keysym.scancode = scancode;
    assert_int_equal(SDL_PushEvent(&event), 1);
}

static void test_offscreen(void **state)
{
    (void)state;
    setenv("SDL_VIDEODRIVER", "offscreen", 1);
    /* SDL reads hints from the environment: no GL (not for the renderer, not
     * behind the window's surface), whose libraries SDL unloads with
     * allocations LeakSanitizer cannot name. */
    setenv("SDL_RENDER_DRIVER", "software", 1);
    setenv("SDL_FRAMEBUFFER_ACCELERATION", "0", 1);
    struct error error;
    struct display *display = display_open("sdl", 320, 200, NULL, &error);
    if (!display)
        fail_msg("%s", error.message);
    assert_string_equal(display_describe(display), "SDL window");
    struct display_input_sink sink = {
        .key = sink_key,
        .console_input = sink_console_input,
        .quit = sink_quit,
    };
    assert_int_equal(display_start(display, &sink, &error), 0);

    /* The guest draws, resizes, prints, while the thread presents. */
    static uint32_t pixels[64 * 40];
    for (int frame = 0; frame < 20; frame++) {
        uint32_t width = 32 + (uint32_t)frame, height = 16 + (uint32_t)frame;
        display_resize(display, width, height);
        for (size_t i = 0; i < 64 * 40; i++)
            pixels[i] = (uint32_t)(i * 0x10101 * (size_t)frame);
        display_update(display, (const uint8_t *)pixels, 64 * 4, 0, 0, width, height);
        display_console_output(display, (const uint8_t *)"line\r\n", 6);
        usleep(2000);
    }
    struct display_frame shown;
    display_frame_acquire(display, &shown);
    assert_int_equal(shown.width, 51);
    assert_int_equal(shown.height, 35);
    display_frame_release(display);

    /* Keys from SDL reach the guest; Alt+Esc switches to the console. */
    push_key(SDL_SCANCODE_A, true);
    push_key(SDL_SCANCODE_A, false);
    expect_sink("+30 -30 ", "", 0);
    push_key(SDL_SCANCODE_LALT, true);
    push_key(SDL_SCANCODE_ESCAPE, true);
    push_key(SDL_SCANCODE_ESCAPE, false);
    push_key(SDL_SCANCODE_LALT, false);
    push_key(SDL_SCANCODE_L, true);
    push_key(SDL_SCANCODE_L, false);
    push_key(SDL_SCANCODE_RETURN, true);
    push_key(SDL_SCANCODE_RETURN, false);
    expect_sink("+30 -30 +56 -56 ", "l\r", 0);

    /* Closing the window asks the machine to quit. */
    SDL_Event quit = {.type = SDL_QUIT};
    assert_int_equal(SDL_PushEvent(&quit), 1);
    expect_sink("+30 -30 +56 -56 ", "l\r", 1);
    display_close(display);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offscreen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
