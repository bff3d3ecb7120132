/* The display's core, through the "none" back end: copies of the guest's
 * updates clipped to its scanout, the message shown until the first scanout,
 * the text view that Alt+Esc switches to, pointer scaling, screenshots. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/input-event-codes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ui/display.h"
#include "ui/display_backend.h"
#include "ui/font.h"
#include "ui_png_read.h"

#define MESSAGE_BACKGROUND 0x00203050u

struct sink_record {
    char keys[256];
    char console[64];
    size_t console_length;
    uint32_t pointer_x, pointer_y;
    unsigned pointer_buttons;
    unsigned pointer_count;
    unsigned quit_count;
};

static void sink_key(void *opaque, uint16_t key, bool pressed)
{
    struct sink_record *record = opaque;
    char text[16];
    snprintf(text, sizeof(text), "%c%u ", pressed ? '+' : '-', key);
    strncat(record->keys, text, sizeof(record->keys) - strlen(record->keys) - 1);
}

static void sink_pointer(void *opaque, uint32_t x, uint32_t y, unsigned buttons)
{
    struct sink_record *record = opaque;
    record->pointer_x = x;
    record->pointer_y = y;
    record->pointer_buttons = buttons;
    record->pointer_count++;
}

static void sink_console_input(void *opaque, const uint8_t *bytes, size_t length)
{
    struct sink_record *record = opaque;
    assert_true(record->console_length + length <= sizeof(record->console));
    memcpy(record->console + record->console_length, bytes, length);
    record->console_length += length;
}

static void sink_quit(void *opaque)
{
    struct sink_record *record = opaque;
    record->quit_count++;
}

static struct sink_record record;

static struct display *open_started(uint32_t width, uint32_t height, const char *screenshot)
{
    struct error error;
    struct display *display = display_open("none", width, height, screenshot, &error);
    assert_non_null(display);
    memset(&record, 0, sizeof(record));
    struct display_input_sink sink = {
        .opaque = &record,
        .key = sink_key,
        .pointer = sink_pointer,
        .console_input = sink_console_input,
        .quit = sink_quit,
    };
    assert_int_equal(display_start(display, &sink, &error), 0);
    return display;
}

/* The frame as shown now; the caller frees it. */
static uint32_t *frame(struct display *display, uint32_t *width, uint32_t *height)
{
    uint32_t *pixels;
    struct error error;
    assert_int_equal(display_frame_copy(display, &pixels, width, height, &error), 0);
    return pixels;
}

static void fill(uint32_t *pixels, size_t count, uint32_t value)
{
    for (size_t i = 0; i < count; i++)
        pixels[i] = value;
}

static void test_update_clipping(void **state)
{
    (void)state;
    struct display *display = open_started(64, 48, NULL);
    uint32_t source[16 * 16];
    fill(source, 16 * 16, 0x00112233);
    /* Before the guest sets a scanout there is nothing to draw on. */
    display_update(display, (const uint8_t *)source, 16 * 4, 0, 0, 16, 16);
    uint32_t width, height;
    uint32_t *pixels = frame(display, &width, &height);
    assert_int_equal(width, 64);
    assert_int_equal(height, 48);
    for (size_t i = 0; i < 64 * 48; i++)
        assert_int_equal(pixels[i], 0);
    free(pixels);

    display_resize(display, 32, 16);
    /* pixels points at the rectangle's first pixel; rows are `stride` apart. */
    for (uint32_t i = 0; i < 16 * 16; i++)
        source[i] = 0x00010000u * (i / 16) + (i % 16);
    display_update(display, (const uint8_t *)source, 16 * 4, 2, 3, 4, 2);
    /* Partly outside: only the inside is copied. */
    display_update(display, (const uint8_t *)source, 16 * 4, 28, 12, 10, 10);
    /* Outside altogether, or empty: ignored. */
    display_update(display, (const uint8_t *)source, 16 * 4, 32, 0, 4, 4);
    display_update(display, (const uint8_t *)source, 16 * 4, 0, 16, 4, 4);
    display_update(display, (const uint8_t *)source, 16 * 4, 0xffffffffu, 0xffffffffu, 16, 16);
    display_update(display, (const uint8_t *)source, 16 * 4, 0, 0, 0, 5);
    pixels = frame(display, &width, &height);
    assert_int_equal(width, 32);
    assert_int_equal(height, 16);
    for (uint32_t y = 0; y < 16; y++)
        for (uint32_t x = 0; x < 32; x++) {
            uint32_t expected = 0;
            if (x >= 2 && x < 6 && y >= 3 && y < 5)
                expected = source[(y - 3) * 16 + (x - 2)];
            if (x >= 28 && y >= 12)
                expected = source[(y - 12) * 16 + (x - 28)];
            if (pixels[y * 32 + x] != expected)
                fail_msg("(%u,%u): %08x, expected %08x", x, y, pixels[y * 32 + x], expected);
        }
    free(pixels);
    display_close(display);
}

static void test_frame_damage(void **state)
{
    (void)state;
    struct display *display = open_started(64, 48, NULL);
    struct display_frame shown;
    display_frame_acquire(display, &shown);
    assert_true(shown.resized);
    display_frame_release(display);
    display_frame_acquire(display, &shown);
    assert_false(shown.resized);
    assert_false(shown.damaged);
    display_frame_release(display);

    display_resize(display, 40, 30);
    display_frame_acquire(display, &shown);
    assert_true(shown.resized);
    assert_int_equal(shown.width, 40);
    assert_int_equal(shown.height, 30);
    display_frame_release(display);
    uint32_t source[4] = {1, 2, 3, 4};
    display_update(display, (const uint8_t *)source, 8, 10, 10, 2, 2);
    display_update(display, (const uint8_t *)source, 8, 20, 5, 2, 2);
    display_frame_acquire(display, &shown);
    assert_false(shown.resized);
    assert_true(shown.damaged);
    assert_int_equal(shown.x, 10);
    assert_int_equal(shown.y, 5);
    assert_int_equal(shown.damage_width, 12);
    assert_int_equal(shown.damage_height, 7);
    assert_int_equal(shown.pixels[6 * shown.stride + 21], 4);
    assert_int_equal(shown.pixels[11 * shown.stride + 11], 4);
    display_frame_release(display);
    display_frame_acquire(display, &shown);
    assert_false(shown.damaged);
    display_frame_release(display);
    display_close(display);
}

static bool band_has_text(const uint32_t *pixels, uint32_t width)
{
    for (uint32_t y = 0; y < 2 * FONT_CELL_HEIGHT; y++)
        for (uint32_t x = 0; x < width; x++)
            if (pixels[y * width + x] != MESSAGE_BACKGROUND)
                return true;
    return false;
}

static void test_message_until_first_scanout(void **state)
{
    (void)state;
    struct display *display = open_started(320, 64, NULL);
    display_show_message(display, "the guest never set a scanout");
    uint32_t width, height;
    uint32_t *pixels = frame(display, &width, &height);
    assert_int_equal(width, 320);
    assert_int_equal(height, 64);
    assert_int_equal(pixels[0], MESSAGE_BACKGROUND);
    assert_true(band_has_text(pixels, width));
    free(pixels);

    /* A 0x0 scanout is no scanout: the message stays. */
    display_resize(display, 0, 0);
    pixels = frame(display, &width, &height);
    assert_int_equal(width, 320);
    assert_int_equal(pixels[0], MESSAGE_BACKGROUND);
    free(pixels);

    /* The first real scanout ends it. */
    display_resize(display, 100, 50);
    pixels = frame(display, &width, &height);
    assert_int_equal(width, 100);
    assert_int_equal(height, 50);
    for (size_t i = 0; i < 100 * 50; i++)
        assert_int_equal(pixels[i], 0);
    free(pixels);
    /* And it does not come back when the guest turns its scanout off. */
    display_resize(display, 0, 0);
    pixels = frame(display, &width, &height);
    assert_int_equal(width, 320);
    for (size_t i = 0; i < 320 * 64; i++)
        assert_int_equal(pixels[i], 0);
    free(pixels);

    /* A message while the guest shows something lies over its picture, and
     * is redrawn over the guest's later updates, until the next scanout. */
    display_resize(display, 200, 60);
    uint32_t white[200];
    fill(white, 200, 0x00ffffff);
    display_show_message(display, "first");
    display_show_message(display, "second, replacing it");
    for (uint32_t y = 0; y < 60; y++)
        display_update(display, (const uint8_t *)white, sizeof(white), 0, y, 200, 1);
    pixels = frame(display, &width, &height);
    assert_int_equal(pixels[0], MESSAGE_BACKGROUND);
    assert_int_equal(pixels[59 * 200 + 199], 0x00ffffff);
    free(pixels);
    display_resize(display, 200, 60);
    pixels = frame(display, &width, &height);
    assert_int_equal(pixels[0], 0);
    free(pixels);
    display_close(display);
}

/* Whether the cell at (column, row) of the frame shows `character`. */
static bool cell_shows(const uint32_t *pixels, uint32_t width, uint32_t column, uint32_t row,
                       uint8_t character)
{
    const uint8_t *glyph = font_glyph(character);
    for (uint32_t y = 0; y < FONT_CELL_HEIGHT - 2; y++) /* above the cursor's underline */
        for (uint32_t x = 0; x < FONT_CELL_WIDTH; x++) {
            uint32_t pixel =
                pixels[(row * FONT_CELL_HEIGHT + y) * width + column * FONT_CELL_WIDTH + x];
            if ((pixel != 0) != ((glyph[y / 2] & (0x80 >> x)) != 0))
                return false;
        }
    return true;
}

static void alt_escape(struct display *display)
{
    display_input_key(display, KEY_LEFTALT, true);
    display_input_key(display, KEY_ESC, true);
    display_input_key(display, KEY_ESC, false);
    display_input_key(display, KEY_LEFTALT, false);
}

static void test_text_view_switch(void **state)
{
    (void)state;
    struct display *display = open_started(160, 64, NULL);
    display_resize(display, 160, 64);
    uint32_t red[160];
    fill(red, 160, 0x00ff0000);
    for (uint32_t y = 0; y < 64; y++)
        display_update(display, (const uint8_t *)red, sizeof(red), 0, y, 160, 1);
    const char *printed = "\x1b[32mok\x1b[0m\r\n$ ";
    display_console_output(display, (const uint8_t *)printed, strlen(printed));

    alt_escape(display);
    assert_string_equal(record.keys, "+56 -56 ");
    uint32_t width, height;
    uint32_t *pixels = frame(display, &width, &height);
    assert_int_equal(width, 160);
    assert_true(cell_shows(pixels, width, 0, 0, 'o'));
    assert_true(cell_shows(pixels, width, 1, 0, 'k'));
    assert_true(cell_shows(pixels, width, 0, 1, '$'));
    free(pixels);

    /* Typing goes to the console, not the guest's keyboard. */
    display_input_key(display, KEY_L, true);
    display_input_key(display, KEY_L, false);
    display_input_key(display, KEY_ENTER, true);
    display_input_key(display, KEY_ENTER, false);
    assert_int_equal(record.console_length, 2);
    assert_memory_equal(record.console, "l\r", 2);
    assert_string_equal(record.keys, "+56 -56 ");
    /* What the guest prints now appears at once; its screen updates wait. */
    display_console_output(display, (const uint8_t *)"ls", 2);
    display_update(display, (const uint8_t *)red, sizeof(red), 0, 0, 160, 1);
    pixels = frame(display, &width, &height);
    assert_true(cell_shows(pixels, width, 2, 1, 'l'));
    assert_true(cell_shows(pixels, width, 3, 1, 's'));
    free(pixels);
    /* No pointer for the guest while the text is shown. */
    display_input_pointer(display, 5, 5, 160, 64, 1);
    assert_int_equal(record.pointer_count, 0);

    alt_escape(display);
    assert_string_equal(record.keys, "+56 -56 ");
    pixels = frame(display, &width, &height);
    for (size_t i = 0; i < 160 * 64; i++)
        assert_int_equal(pixels[i], 0x00ff0000);
    free(pixels);
    display_input_key(display, KEY_A, true);
    display_input_key(display, KEY_A, false);
    assert_string_equal(record.keys, "+56 -56 +30 -30 ");
    display_close(display);
}

static void test_text_view_without_scanout(void **state)
{
    (void)state;
    /* Before any scanout, the text view fills the initial size. */
    struct display *display = open_started(80 * FONT_CELL_WIDTH, 2 * FONT_CELL_HEIGHT, NULL);
    display_console_output(display, (const uint8_t *)"Linux version", 13);
    alt_escape(display);
    uint32_t width, height;
    uint32_t *pixels = frame(display, &width, &height);
    assert_int_equal(width, 640);
    assert_true(cell_shows(pixels, width, 0, 0, 'L'));
    assert_true(cell_shows(pixels, width, 6, 0, 'v'));
    free(pixels);
    /* A scanout of another size re-fits the grid and keeps the text. */
    display_resize(display, 320, 48);
    pixels = frame(display, &width, &height);
    assert_int_equal(width, 320);
    assert_true(cell_shows(pixels, width, 0, 0, 'L'));
    free(pixels);
    display_close(display);
}

static void test_pointer(void **state)
{
    (void)state;
    struct display *display = open_started(64, 48, NULL);
    /* No scanout: nowhere to point. */
    display_input_pointer(display, 1, 1, 64, 48, 1);
    assert_int_equal(record.pointer_count, 0);
    display_resize(display, 200, 100);
    display_input_pointer(display, 50, 25, 200, 100, 1);
    assert_int_equal(record.pointer_x, 50);
    assert_int_equal(record.pointer_y, 25);
    assert_int_equal(record.pointer_buttons, 1);
    /* A frame of another size (a client that has not caught up) is scaled. */
    display_input_pointer(display, 50, 25, 100, 50, 2 | 4);
    assert_int_equal(record.pointer_x, 100);
    assert_int_equal(record.pointer_y, 50);
    assert_int_equal(record.pointer_buttons, 6);
    display_input_pointer(display, 5000, 5000, 200, 100, 0);
    assert_int_equal(record.pointer_x, 199);
    assert_int_equal(record.pointer_y, 99);
    display_input_pointer(display, 1, 1, 0, 0, 0); /* no frame: ignored */
    assert_int_equal(record.pointer_count, 3);
    display_input_quit(display);
    assert_int_equal(record.quit_count, 1);
    display_close(display);
}

static void test_input_before_start(void **state)
{
    (void)state;
    struct error error;
    struct display *display = display_open("none", 64, 48, NULL, &error);
    assert_non_null(display);
    memset(&record, 0, sizeof(record));
    display_resize(display, 64, 48);
    display_input_key(display, KEY_A, true);
    display_input_pointer(display, 1, 1, 64, 48, 1);
    display_input_quit(display);
    display_input_release_keys(display);
    assert_string_equal(record.keys, "");
    assert_int_equal(record.pointer_count, 0);
    assert_int_equal(record.quit_count, 0);
    display_close(display);
}

static void test_screenshots(void **state)
{
    (void)state;
    char directory[] = "/tmp/test_ui_display-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char now[64], at_close[64];
    snprintf(now, sizeof(now), "%s/now.png", directory);
    snprintf(at_close, sizeof(at_close), "%s/close.png", directory);

    struct display *display = open_started(64, 48, at_close);
    assert_string_equal(display_describe(display), "no display (screenshots only)");
    display_resize(display, 30, 20);
    uint32_t source[30 * 20];
    for (uint32_t i = 0; i < 30 * 20; i++)
        source[i] = i * 0x010203u & 0xffffff;
    display_update(display, (const uint8_t *)source, 30 * 4, 0, 0, 30, 20);
    struct error error;
    assert_int_equal(display_screenshot(display, now, &error), 0);
    uint32_t width, height;
    png_byte color_type;
    uint32_t *read = ui_png_read(now, &width, &height, &color_type);
    assert_non_null(read);
    assert_int_equal(width, 30);
    assert_int_equal(height, 20);
    assert_memory_equal(read, source, sizeof(source));
    free(read);

    display_update(display, (const uint8_t *)source, 30 * 4, 0, 0, 1, 1);
    display_resize(display, 10, 5);
    display_close(display);
    read = ui_png_read(at_close, &width, &height, &color_type);
    assert_non_null(read);
    assert_int_equal(width, 10);
    assert_int_equal(height, 5);
    free(read);
    unlink(now);
    unlink(at_close);
    rmdir(directory);
}

static void test_open_errors(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        const char *message;
    } cases[] = {
        {"gtk", "unknown display 'gtk'"},
        {"", "unknown display ''"},
        {"vncx", "unknown display"},
        {"vnc=", "expected HOST:PORT"},
        {"vnc=localhost", "expected HOST:PORT"},
        {"vnc=127.0.0.1:", "expected HOST:PORT"},
        {"vnc=127.0.0.1:99999", "expected HOST:PORT"},
        {"vnc=127.0.0.1:59x", "expected HOST:PORT"},
        {"vnc=unix:", "path is missing"},
        {"vnc=unix:/tmp/no/such/dir/vnc.sock", "No such file"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct error error = {.message = ""};
        assert_null(display_open(cases[i].spec, 64, 48, NULL, &error));
        if (!strstr(error.message, cases[i].message))
            fail_msg("%s: '%s'", cases[i].spec, error.message);
    }
    struct error error;
    assert_null(display_open("none", 100000, 10, NULL, &error));
    assert_non_null(strstr(error.message, "at most"));
    display_close(NULL);
}

static void test_huge_scanout_is_clipped(void **state)
{
    (void)state;
    struct display *display = open_started(64, 48, NULL);
    display_resize(display, 1u << 31, 3);
    uint32_t width, height;
    uint32_t *pixels = frame(display, &width, &height);
    assert_int_equal(width, 8192);
    assert_int_equal(height, 3);
    free(pixels);
    display_close(display);
}

/* A guest's scanout far larger than the screen offered is clipped to 16 Mi
 * pixels, so the display's copies stay bounded; a screen that large asked
 * for by the user is kept whole. */
static void test_scanout_area_is_bounded(void **state)
{
    (void)state;
    struct display *display = open_started(64, 48, NULL);
    display_resize(display, 8192, 8192);
    uint32_t width, height;
    uint32_t *pixels = frame(display, &width, &height);
    assert_int_equal(width, 8192);
    assert_int_equal(height, 2048);
    free(pixels);
    display_resize(display, 4096, 4096); /* exactly the bound */
    pixels = frame(display, &width, &height);
    assert_int_equal(height, 4096);
    free(pixels);
    display_close(display);
    display = open_started(8192, 4096, NULL);
    display_resize(display, 8192, 4096);
    pixels = frame(display, &width, &height);
    assert_int_equal(width, 8192);
    assert_int_equal(height, 4096);
    free(pixels);
    display_close(display);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_clipping),
        cmocka_unit_test(test_frame_damage),
        cmocka_unit_test(test_message_until_first_scanout),
        cmocka_unit_test(test_text_view_switch),
        cmocka_unit_test(test_text_view_without_scanout),
        cmocka_unit_test(test_pointer),
        cmocka_unit_test(test_input_before_start),
        cmocka_unit_test(test_screenshots),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_huge_scanout_is_clipped),
        cmocka_unit_test(test_scanout_area_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
