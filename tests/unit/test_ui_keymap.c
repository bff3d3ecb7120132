/* Key translation: SDL scancodes and X11 keysyms to Linux keys, and Linux
 * keys to what a terminal sends. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <SDL_scancode.h>
#include <linux/input-event-codes.h>
#include <rfb/keysym.h>
#include <string.h>

#include "ui/keymap.h"

static void test_sdl_scancodes(void **state)
{
    (void)state;
    static const struct {
        unsigned scancode;
        uint16_t key;
    } cases[] = {
        {SDL_SCANCODE_A, KEY_A},
        {SDL_SCANCODE_Q, KEY_Q},
        {SDL_SCANCODE_Z, KEY_Z},
        {SDL_SCANCODE_1, KEY_1},
        {SDL_SCANCODE_0, KEY_0},
        {SDL_SCANCODE_RETURN, KEY_ENTER},
        {SDL_SCANCODE_ESCAPE, KEY_ESC},
        {SDL_SCANCODE_BACKSPACE, KEY_BACKSPACE},
        {SDL_SCANCODE_TAB, KEY_TAB},
        {SDL_SCANCODE_SPACE, KEY_SPACE},
        {SDL_SCANCODE_GRAVE, KEY_GRAVE},
        {SDL_SCANCODE_PERIOD, KEY_DOT},
        {SDL_SCANCODE_F1, KEY_F1},
        {SDL_SCANCODE_F12, KEY_F12},
        {SDL_SCANCODE_F13, KEY_F13},
        {SDL_SCANCODE_UP, KEY_UP},
        {SDL_SCANCODE_PAGEDOWN, KEY_PAGEDOWN},
        {SDL_SCANCODE_KP_ENTER, KEY_KPENTER},
        {SDL_SCANCODE_KP_0, KEY_KP0},
        {SDL_SCANCODE_LCTRL, KEY_LEFTCTRL},
        {SDL_SCANCODE_RALT, KEY_RIGHTALT},
        {SDL_SCANCODE_LGUI, KEY_LEFTMETA},
        {SDL_SCANCODE_NONUSBACKSLASH, KEY_102ND},
        {SDL_SCANCODE_PRINTSCREEN, KEY_SYSRQ},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(keymap_from_sdl_scancode(cases[i].scancode), cases[i].key);
    assert_int_equal(keymap_from_sdl_scancode(SDL_SCANCODE_UNKNOWN), 0);
    assert_int_equal(keymap_from_sdl_scancode(SDL_NUM_SCANCODES), 0);
    assert_int_equal(keymap_from_sdl_scancode(100000), 0);
}

/* Every letter and digit scancode gives a distinct key. */
static void test_sdl_scancodes_distinct(void **state)
{
    (void)state;
    uint8_t seen[KEY_MAX + 1] = {0};
    for (unsigned scancode = SDL_SCANCODE_A; scancode <= SDL_SCANCODE_0; scancode++) {
        uint16_t key = keymap_from_sdl_scancode(scancode);
        assert_true(key != 0);
        assert_int_equal(seen[key], 0);
        seen[key] = 1;
    }
}

static void test_x11_keysyms(void **state)
{
    (void)state;
    static const struct {
        uint32_t keysym;
        uint16_t key;
    } cases[] = {
        {XK_a, KEY_A},          {XK_A, KEY_A},           {XK_m, KEY_M},
        {XK_Z, KEY_Z},          {XK_1, KEY_1},           {XK_exclam, KEY_1},
        {XK_at, KEY_2},         {XK_0, KEY_0},           {XK_parenright, KEY_0},
        {XK_asterisk, KEY_8},   {XK_minus, KEY_MINUS},   {XK_underscore, KEY_MINUS},
        {XK_plus, KEY_EQUAL},   {XK_braceleft, KEY_LEFTBRACE}, {XK_bar, KEY_BACKSLASH},
        {XK_colon, KEY_SEMICOLON}, {XK_quotedbl, KEY_APOSTROPHE}, {XK_asciitilde, KEY_GRAVE},
        {XK_less, KEY_COMMA},   {XK_greater, KEY_DOT},   {XK_question, KEY_SLASH},
        {XK_space, KEY_SPACE},  {XK_Return, KEY_ENTER},  {XK_Escape, KEY_ESC},
        {XK_BackSpace, KEY_BACKSPACE}, {XK_Tab, KEY_TAB}, {XK_ISO_Left_Tab, KEY_TAB},
        {XK_Left, KEY_LEFT},    {XK_Page_Up, KEY_PAGEUP}, {XK_Delete, KEY_DELETE},
        {XK_F1, KEY_F1},        {XK_F10, KEY_F10},       {XK_F11, KEY_F11},
        {XK_F24, KEY_F24},      {XK_Shift_L, KEY_LEFTSHIFT}, {XK_Control_R, KEY_RIGHTCTRL},
        {XK_Alt_L, KEY_LEFTALT}, {XK_Meta_L, KEY_LEFTALT}, {XK_Super_L, KEY_LEFTMETA},
        {XK_ISO_Level3_Shift, KEY_RIGHTALT}, {XK_KP_5, KEY_KP5}, {XK_KP_Begin, KEY_KP5},
        {XK_KP_Enter, KEY_KPENTER}, {XK_KP_Add, KEY_KPPLUS}, {XK_KP_Decimal, KEY_KPDOT},
        {XK_Caps_Lock, KEY_CAPSLOCK},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (keymap_from_x11_keysym(cases[i].keysym) != cases[i].key)
            fail_msg("keysym 0x%x: %u, expected %u", cases[i].keysym,
                     keymap_from_x11_keysym(cases[i].keysym), cases[i].key);
    }
    /* Characters no US key types, and unknown keysyms. */
    assert_int_equal(keymap_from_x11_keysym(XK_eacute), 0);
    assert_int_equal(keymap_from_x11_keysym(0x1000000 + 0x263a), 0);
    assert_int_equal(keymap_from_x11_keysym(0), 0);
    assert_int_equal(keymap_from_x11_keysym(0xffffffff), 0);
}

/* Typing each printable character through its keysym's key (with Shift
 * when the keysym is the shifted one) gives the character back. */
static void test_keysym_round_trip(void **state)
{
    (void)state;
    static const char unshifted[] = "abcdefghijklmnopqrstuvwxyz0123456789-=[]\\;',./` ";
    static const char shifted[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ)!@#$%^&*(_+{}|:\"<>?~";
    uint8_t bytes[KEYMAP_CONSOLE_BYTES_MAX];
    for (const char *c = unshifted; *c; c++) {
        uint16_t key = keymap_from_x11_keysym((uint8_t)*c);
        assert_int_equal(keymap_console_bytes(key, 0, bytes), 1);
        assert_int_equal(bytes[0], (uint8_t)*c);
    }
    for (const char *c = shifted; *c; c++) {
        uint16_t key = keymap_from_x11_keysym((uint8_t)*c);
        assert_int_equal(keymap_console_bytes(key, KEYMAP_SHIFT, bytes), 1);
        if (bytes[0] != (uint8_t)*c)
            fail_msg("'%c' typed '%c'", *c, bytes[0]);
    }
}

static void expect_bytes(uint16_t key, unsigned modifiers, const char *expected, size_t length)
{
    uint8_t bytes[KEYMAP_CONSOLE_BYTES_MAX];
    memset(bytes, 0xee, sizeof(bytes));
    size_t count = keymap_console_bytes(key, modifiers, bytes);
    if (count != length || memcmp(bytes, expected, length) != 0)
        fail_msg("key %u modifiers %u: %zu bytes, expected %zu", key, modifiers, count, length);
}

static void test_console_bytes(void **state)
{
    (void)state;
    expect_bytes(KEY_A, 0, "a", 1);
    expect_bytes(KEY_A, KEYMAP_SHIFT, "A", 1);
    expect_bytes(KEY_A, KEYMAP_CAPS_LOCK, "A", 1);
    expect_bytes(KEY_A, KEYMAP_CAPS_LOCK | KEYMAP_SHIFT, "a", 1);
    expect_bytes(KEY_1, KEYMAP_CAPS_LOCK, "1", 1); /* Caps Lock is for letters */
    expect_bytes(KEY_ENTER, 0, "\r", 1);
    expect_bytes(KEY_KPENTER, 0, "\r", 1);
    expect_bytes(KEY_BACKSPACE, 0, "\x7f", 1);
    expect_bytes(KEY_BACKSPACE, KEYMAP_CTRL, "\x08", 1);
    expect_bytes(KEY_TAB, 0, "\t", 1);
    expect_bytes(KEY_TAB, KEYMAP_SHIFT, "\x1b[Z", 3);
    expect_bytes(KEY_ESC, 0, "\x1b", 1);
    expect_bytes(KEY_SPACE, 0, " ", 1);
    expect_bytes(KEY_UP, 0, "\x1b[A", 3);
    expect_bytes(KEY_DOWN, 0, "\x1b[B", 3);
    expect_bytes(KEY_RIGHT, 0, "\x1b[C", 3);
    expect_bytes(KEY_LEFT, 0, "\x1b[D", 3);
    expect_bytes(KEY_HOME, 0, "\x1b[H", 3);
    expect_bytes(KEY_DELETE, 0, "\x1b[3~", 4);
    expect_bytes(KEY_F1, 0, "\x1bOP", 3);
    expect_bytes(KEY_F12, 0, "\x1b[24~", 5);
    expect_bytes(KEY_KP7, 0, "7", 1);
    expect_bytes(KEY_KPASTERISK, 0, "*", 1);
    /* Control characters. */
    expect_bytes(KEY_C, KEYMAP_CTRL, "\x03", 1);
    expect_bytes(KEY_A, KEYMAP_CTRL, "\x01", 1);
    expect_bytes(KEY_Z, KEYMAP_CTRL | KEYMAP_SHIFT, "\x1a", 1);
    expect_bytes(KEY_D, KEYMAP_CTRL | KEYMAP_CAPS_LOCK, "\x04", 1);
    expect_bytes(KEY_SPACE, KEYMAP_CTRL, "\x00", 1);
    expect_bytes(KEY_2, KEYMAP_CTRL | KEYMAP_SHIFT, "\x00", 1);
    expect_bytes(KEY_LEFTBRACE, KEYMAP_CTRL, "\x1b", 1);
    expect_bytes(KEY_BACKSLASH, KEYMAP_CTRL, "\x1c", 1);
    expect_bytes(KEY_RIGHTBRACE, KEYMAP_CTRL, "\x1d", 1);
    expect_bytes(KEY_6, KEYMAP_CTRL | KEYMAP_SHIFT, "\x1e", 1);
    expect_bytes(KEY_MINUS, KEYMAP_CTRL | KEYMAP_SHIFT, "\x1f", 1);
    /* Alt prefixes ESC. */
    expect_bytes(KEY_X, KEYMAP_ALT, "\x1bx", 2);
    expect_bytes(KEY_B, KEYMAP_ALT | KEYMAP_CTRL, "\x1b\x02", 2);
    expect_bytes(KEY_LEFT, KEYMAP_ALT, "\x1b\x1b[D", 4);
    /* Keys that type nothing. */
    expect_bytes(KEY_LEFTSHIFT, 0, "", 0);
    expect_bytes(KEY_LEFTALT, KEYMAP_ALT, "", 0);
    expect_bytes(KEY_CAPSLOCK, 0, "", 0);
    expect_bytes(KEY_F24, 0, "", 0);
    expect_bytes(0, 0, "", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdl_scancodes),
        cmocka_unit_test(test_sdl_scancodes_distinct),
        cmocka_unit_test(test_x11_keysyms),
        cmocka_unit_test(test_keysym_round_trip),
        cmocka_unit_test(test_console_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
