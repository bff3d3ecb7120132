#include "ui/keymap.h"

#include <SDL_scancode.h>
#include <linux/input-event-codes.h>
#include <rfb/keysym.h>
#include <stdbool.h>
#include <string.h>

#define ARRAY_SIZE(array) (sizeof(array) / sizeof((array)[0]))

/* SDL scancodes are USB HID keyboard usages: positions, not characters, which
 * is what the guest's keyboard wants too. */
static const uint16_t keymap_sdl_table[SDL_NUM_SCANCODES] = {
    [SDL_SCANCODE_A] = KEY_A,
    [SDL_SCANCODE_B] = KEY_B,
    [SDL_SCANCODE_C] = KEY_C,
    [SDL_SCANCODE_D] = KEY_D,
    [SDL_SCANCODE_E] = KEY_E,
    [SDL_SCANCODE_F] = KEY_F,
    [SDL_SCANCODE_G] = KEY_G,
    [SDL_SCANCODE_H] = KEY_H,
    [SDL_SCANCODE_I] = KEY_I,
    [SDL_SCANCODE_J] = KEY_J,
    [SDL_SCANCODE_K] = KEY_K,
    [SDL_SCANCODE_L] = KEY_L,
    [SDL_SCANCODE_M] = KEY_M,
    [SDL_SCANCODE_N] = KEY_N,
    [SDL_SCANCODE_O] = KEY_O,
    [SDL_SCANCODE_P] = KEY_P,
    [SDL_SCANCODE_Q] = KEY_Q,
    [SDL_SCANCODE_R] = KEY_R,
    [SDL_SCANCODE_S] = KEY_S,
    [SDL_SCANCODE_T] = KEY_T,
    [SDL_SCANCODE_U] = KEY_U,
    [SDL_SCANCODE_V] = KEY_V,
    [SDL_SCANCODE_W] = KEY_W,
    [SDL_SCANCODE_X] = KEY_X,
    [SDL_SCANCODE_Y] = KEY_Y,
    [SDL_SCANCODE_Z] = KEY_Z,
    [SDL_SCANCODE_1] = KEY_1,
    [SDL_SCANCODE_2] = KEY_2,
    [SDL_SCANCODE_3] = KEY_3,
    [SDL_SCANCODE_4] = KEY_4,
    [SDL_SCANCODE_5] = KEY_5,
    [SDL_SCANCODE_6] = KEY_6,
    [SDL_SCANCODE_7] = KEY_7,
    [SDL_SCANCODE_8] = KEY_8,
    [SDL_SCANCODE_9] = KEY_9,
    [SDL_SCANCODE_0] = KEY_0,
    [SDL_SCANCODE_RETURN] = KEY_ENTER,
    [SDL_SCANCODE_ESCAPE] = KEY_ESC,
    [SDL_SCANCODE_BACKSPACE] = KEY_BACKSPACE,
    [SDL_SCANCODE_TAB] = KEY_TAB,
    [SDL_SCANCODE_SPACE] = KEY_SPACE,
    [SDL_SCANCODE_MINUS] = KEY_MINUS,
    [SDL_SCANCODE_EQUALS] = KEY_EQUAL,
    [SDL_SCANCODE_LEFTBRACKET] = KEY_LEFTBRACE,
    [SDL_SCANCODE_RIGHTBRACKET] = KEY_RIGHTBRACE,
    [SDL_SCANCODE_BACKSLASH] = KEY_BACKSLASH,
    [SDL_SCANCODE_NONUSHASH] = KEY_BACKSLASH, /* the same key position on ISO boards */
    [SDL_SCANCODE_SEMICOLON] = KEY_SEMICOLON,
    [SDL_SCANCODE_APOSTROPHE] = KEY_APOSTROPHE,
    [SDL_SCANCODE_GRAVE] = KEY_GRAVE,
    [SDL_SCANCODE_COMMA] = KEY_COMMA,
    [SDL_SCANCODE_PERIOD] = KEY_DOT,
    [SDL_SCANCODE_SLASH] = KEY_SLASH,
    [SDL_SCANCODE_CAPSLOCK] = KEY_CAPSLOCK,
    [SDL_SCANCODE_F1] = KEY_F1,
    [SDL_SCANCODE_F2] = KEY_F2,
    [SDL_SCANCODE_F3] = KEY_F3,
    [SDL_SCANCODE_F4] = KEY_F4,
    [SDL_SCANCODE_F5] = KEY_F5,
    [SDL_SCANCODE_F6] = KEY_F6,
    [SDL_SCANCODE_F7] = KEY_F7,
    [SDL_SCANCODE_F8] = KEY_F8,
    [SDL_SCANCODE_F9] = KEY_F9,
    [SDL_SCANCODE_F10] = KEY_F10,
    [SDL_SCANCODE_F11] = KEY_F11,
    [SDL_SCANCODE_F12] = KEY_F12,
    [SDL_SCANCODE_PRINTSCREEN] = KEY_SYSRQ,
    [SDL_SCANCODE_SCROLLLOCK] = KEY_SCROLLLOCK,
    [SDL_SCANCODE_PAUSE] = KEY_PAUSE,
    [SDL_SCANCODE_INSERT] = KEY_INSERT,
    [SDL_SCANCODE_HOME] = KEY_HOME,
    [SDL_SCANCODE_PAGEUP] = KEY_PAGEUP,
    [SDL_SCANCODE_DELETE] = KEY_DELETE,
    [SDL_SCANCODE_END] = KEY_END,
    [SDL_SCANCODE_PAGEDOWN] = KEY_PAGEDOWN,
    [SDL_SCANCODE_RIGHT] = KEY_RIGHT,
    [SDL_SCANCODE_LEFT] = KEY_LEFT,
    [SDL_SCANCODE_DOWN] = KEY_DOWN,
    [SDL_SCANCODE_UP] = KEY_UP,
    [SDL_SCANCODE_NUMLOCKCLEAR] = KEY_NUMLOCK,
    [SDL_SCANCODE_KP_DIVIDE] = KEY_KPSLASH,
    [SDL_SCANCODE_KP_MULTIPLY] = KEY_KPASTERISK,
    [SDL_SCANCODE_KP_MINUS] = KEY_KPMINUS,
    [SDL_SCANCODE_KP_PLUS] = KEY_KPPLUS,
    [SDL_SCANCODE_KP_ENTER] = KEY_KPENTER,
    [SDL_SCANCODE_KP_1] = KEY_KP1,
    [SDL_SCANCODE_KP_2] = KEY_KP2,
    [SDL_SCANCODE_KP_3] = KEY_KP3,
    [SDL_SCANCODE_KP_4] = KEY_KP4,
    [SDL_SCANCODE_KP_5] = KEY_KP5,
    [SDL_SCANCODE_KP_6] = KEY_KP6,
    [SDL_SCANCODE_KP_7] = KEY_KP7,
    [SDL_SCANCODE_KP_8] = KEY_KP8,
    [SDL_SCANCODE_KP_9] = KEY_KP9,
    [SDL_SCANCODE_KP_0] = KEY_KP0,
    [SDL_SCANCODE_KP_PERIOD] = KEY_KPDOT,
    [SDL_SCANCODE_NONUSBACKSLASH] = KEY_102ND,
    [SDL_SCANCODE_APPLICATION] = KEY_COMPOSE,
    [SDL_SCANCODE_POWER] = KEY_POWER,
    [SDL_SCANCODE_KP_EQUALS] = KEY_KPEQUAL,
    [SDL_SCANCODE_F13] = KEY_F13,
    [SDL_SCANCODE_F14] = KEY_F14,
    [SDL_SCANCODE_F15] = KEY_F15,
    [SDL_SCANCODE_F16] = KEY_F16,
    [SDL_SCANCODE_F17] = KEY_F17,
    [SDL_SCANCODE_F18] = KEY_F18,
    [SDL_SCANCODE_F19] = KEY_F19,
    [SDL_SCANCODE_F20] = KEY_F20,
    [SDL_SCANCODE_F21] = KEY_F21,
    [SDL_SCANCODE_F22] = KEY_F22,
    [SDL_SCANCODE_F23] = KEY_F23,
    [SDL_SCANCODE_F24] = KEY_F24,
    [SDL_SCANCODE_MENU] = KEY_MENU,
    [SDL_SCANCODE_MUTE] = KEY_MUTE,
    [SDL_SCANCODE_VOLUMEUP] = KEY_VOLUMEUP,
    [SDL_SCANCODE_VOLUMEDOWN] = KEY_VOLUMEDOWN,
    [SDL_SCANCODE_KP_COMMA] = KEY_KPCOMMA,
    [SDL_SCANCODE_INTERNATIONAL1] = KEY_RO,
    [SDL_SCANCODE_INTERNATIONAL2] = KEY_KATAKANAHIRAGANA,
    [SDL_SCANCODE_INTERNATIONAL3] = KEY_YEN,
    [SDL_SCANCODE_INTERNATIONAL4] = KEY_HENKAN,
    [SDL_SCANCODE_INTERNATIONAL5] = KEY_MUHENKAN,
    [SDL_SCANCODE_LANG1] = KEY_HANGEUL,
    [SDL_SCANCODE_LANG2] = KEY_HANJA,
    [SDL_SCANCODE_LCTRL] = KEY_LEFTCTRL,
    [SDL_SCANCODE_LSHIFT] = KEY_LEFTSHIFT,
    [SDL_SCANCODE_LALT] = KEY_LEFTALT,
    [SDL_SCANCODE_LGUI] = KEY_LEFTMETA,
    [SDL_SCANCODE_RCTRL] = KEY_RIGHTCTRL,
    [SDL_SCANCODE_RSHIFT] = KEY_RIGHTSHIFT,
    [SDL_SCANCODE_RALT] = KEY_RIGHTALT,
    [SDL_SCANCODE_RGUI] = KEY_RIGHTMETA,
};

uint16_t keymap_from_sdl_scancode(unsigned scancode)
{
    return scancode < ARRAY_SIZE(keymap_sdl_table) ? keymap_sdl_table[scancode] : 0;
}

/* The letters' keys, 'a' to 'z' (Linux numbers keys by their place on the
 * board, so the letters are not in order). */
static const uint16_t keymap_letter_keys[26] = {
    KEY_A, KEY_B, KEY_C, KEY_D, KEY_E, KEY_F, KEY_G, KEY_H, KEY_I, KEY_J, KEY_K, KEY_L, KEY_M,
    KEY_N, KEY_O, KEY_P, KEY_Q, KEY_R, KEY_S, KEY_T, KEY_U, KEY_V, KEY_W, KEY_X, KEY_Y, KEY_Z,
};

/* The US layout: what each key types without and with Shift. */
struct keymap_typed {
    uint16_t key;
    char plain, shifted;
};
static const struct keymap_typed keymap_us_layout[] = {
    {KEY_1, '1', '!'},          {KEY_2, '2', '@'},         {KEY_3, '3', '#'},
    {KEY_4, '4', '$'},          {KEY_5, '5', '%'},         {KEY_6, '6', '^'},
    {KEY_7, '7', '&'},          {KEY_8, '8', '*'},         {KEY_9, '9', '('},
    {KEY_0, '0', ')'},          {KEY_MINUS, '-', '_'},     {KEY_EQUAL, '=', '+'},
    {KEY_LEFTBRACE, '[', '{'},  {KEY_RIGHTBRACE, ']', '}'}, {KEY_BACKSLASH, '\\', '|'},
    {KEY_SEMICOLON, ';', ':'},  {KEY_APOSTROPHE, '\'', '"'}, {KEY_GRAVE, '`', '~'},
    {KEY_COMMA, ',', '<'},      {KEY_DOT, '.', '>'},       {KEY_SLASH, '/', '?'},
    {KEY_SPACE, ' ', ' '},      {KEY_102ND, '\\', '|'},
    /* The keypad, as with Num Lock on. */
    {KEY_KP0, '0', '0'},        {KEY_KP1, '1', '1'},       {KEY_KP2, '2', '2'},
    {KEY_KP3, '3', '3'},        {KEY_KP4, '4', '4'},       {KEY_KP5, '5', '5'},
    {KEY_KP6, '6', '6'},        {KEY_KP7, '7', '7'},       {KEY_KP8, '8', '8'},
    {KEY_KP9, '9', '9'},        {KEY_KPDOT, '.', '.'},     {KEY_KPSLASH, '/', '/'},
    {KEY_KPASTERISK, '*', '*'}, {KEY_KPMINUS, '-', '-'},   {KEY_KPPLUS, '+', '+'},
    {KEY_KPEQUAL, '=', '='},    {KEY_KPCOMMA, ',', ','},
};

static const struct {
    uint32_t keysym;
    uint16_t key;
} keymap_x11_table[] = {
    {XK_Return, KEY_ENTER},
    {XK_Escape, KEY_ESC},
    {XK_BackSpace, KEY_BACKSPACE},
    {XK_Tab, KEY_TAB},
    {XK_ISO_Left_Tab, KEY_TAB}, /* Shift+Tab */
    {XK_Delete, KEY_DELETE},
    {XK_Insert, KEY_INSERT},
    {XK_Home, KEY_HOME},
    {XK_End, KEY_END},
    {XK_Page_Up, KEY_PAGEUP},
    {XK_Page_Down, KEY_PAGEDOWN},
    {XK_Left, KEY_LEFT},
    {XK_Right, KEY_RIGHT},
    {XK_Up, KEY_UP},
    {XK_Down, KEY_DOWN},
    {XK_Shift_L, KEY_LEFTSHIFT},
    {XK_Shift_R, KEY_RIGHTSHIFT},
    {XK_Control_L, KEY_LEFTCTRL},
    {XK_Control_R, KEY_RIGHTCTRL},
    {XK_Alt_L, KEY_LEFTALT},
    {XK_Alt_R, KEY_RIGHTALT},
    /* X servers report Alt as Meta in some keymaps (Shift+Alt, notably). */
    {XK_Meta_L, KEY_LEFTALT},
    {XK_Meta_R, KEY_RIGHTALT},
    {XK_ISO_Level3_Shift, KEY_RIGHTALT}, /* AltGr */
    {XK_Super_L, KEY_LEFTMETA},
    {XK_Super_R, KEY_RIGHTMETA},
    {XK_Menu, KEY_COMPOSE},
    {XK_Caps_Lock, KEY_CAPSLOCK},
    {XK_Num_Lock, KEY_NUMLOCK},
    {XK_Scroll_Lock, KEY_SCROLLLOCK},
    {XK_Print, KEY_SYSRQ},
    {XK_Sys_Req, KEY_SYSRQ},
    {XK_Pause, KEY_PAUSE},
    {XK_Break, KEY_PAUSE},
    {XK_KP_Enter, KEY_KPENTER},
    {XK_KP_Add, KEY_KPPLUS},
    {XK_KP_Subtract, KEY_KPMINUS},
    {XK_KP_Multiply, KEY_KPASTERISK},
    {XK_KP_Divide, KEY_KPSLASH},
    {XK_KP_Equal, KEY_KPEQUAL},
    {XK_KP_Separator, KEY_KPCOMMA},
    {XK_KP_Decimal, KEY_KPDOT},
    /* The keypad with Num Lock off sends the navigation keysyms. */
    {XK_KP_Delete, KEY_KPDOT},
    {XK_KP_Insert, KEY_KP0},
    {XK_KP_End, KEY_KP1},
    {XK_KP_Down, KEY_KP2},
    {XK_KP_Page_Down, KEY_KP3},
    {XK_KP_Left, KEY_KP4},
    {XK_KP_Begin, KEY_KP5},
    {XK_KP_Right, KEY_KP6},
    {XK_KP_Home, KEY_KP7},
    {XK_KP_Up, KEY_KP8},
    {XK_KP_Page_Up, KEY_KP9},
};

/* F1 to F24 are not contiguous in Linux either. */
static const uint16_t keymap_function_keys[24] = {
    KEY_F1,  KEY_F2,  KEY_F3,  KEY_F4,  KEY_F5,  KEY_F6,  KEY_F7,  KEY_F8,
    KEY_F9,  KEY_F10, KEY_F11, KEY_F12, KEY_F13, KEY_F14, KEY_F15, KEY_F16,
    KEY_F17, KEY_F18, KEY_F19, KEY_F20, KEY_F21, KEY_F22, KEY_F23, KEY_F24,
};

static const uint16_t keymap_keypad_digits[10] = {
    KEY_KP0, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP4, KEY_KP5, KEY_KP6, KEY_KP7, KEY_KP8, KEY_KP9,
};

uint16_t keymap_from_x11_keysym(uint32_t keysym)
{
    if (keysym >= XK_a && keysym <= XK_z)
        return keymap_letter_keys[keysym - XK_a];
    if (keysym >= XK_A && keysym <= XK_Z)
        return keymap_letter_keys[keysym - XK_A];
    if (keysym >= XK_F1 && keysym <= XK_F24)
        return keymap_function_keys[keysym - XK_F1];
    if (keysym >= XK_KP_0 && keysym <= XK_KP_9)
        return keymap_keypad_digits[keysym - XK_KP_0];
    /* Latin-1 keysyms are their characters: find the main-board key that
     * types the character (the keypad's entries come later in the table). */
    if (keysym > 0x20 && keysym < 0x7f) {
        for (size_t i = 0; i < ARRAY_SIZE(keymap_us_layout); i++)
            if (keymap_us_layout[i].plain == (char)keysym ||
                keymap_us_layout[i].shifted == (char)keysym)
                return keymap_us_layout[i].key;
        return 0;
    }
    if (keysym == XK_space)
        return KEY_SPACE;
    for (size_t i = 0; i < ARRAY_SIZE(keymap_x11_table); i++)
        if (keymap_x11_table[i].keysym == keysym)
            return keymap_x11_table[i].key;
    return 0;
}

/* Keys that send an escape sequence, as xterm does in its default mode. */
static const struct {
    uint16_t key;
    const char *sequence;
} keymap_sequences[] = {
    {KEY_UP, "\x1b[A"},      {KEY_DOWN, "\x1b[B"},     {KEY_RIGHT, "\x1b[C"},
    {KEY_LEFT, "\x1b[D"},    {KEY_HOME, "\x1b[H"},     {KEY_END, "\x1b[F"},
    {KEY_INSERT, "\x1b[2~"}, {KEY_DELETE, "\x1b[3~"},  {KEY_PAGEUP, "\x1b[5~"},
    {KEY_PAGEDOWN, "\x1b[6~"}, {KEY_F1, "\x1bOP"},     {KEY_F2, "\x1bOQ"},
    {KEY_F3, "\x1bOR"},      {KEY_F4, "\x1bOS"},       {KEY_F5, "\x1b[15~"},
    {KEY_F6, "\x1b[17~"},    {KEY_F7, "\x1b[18~"},     {KEY_F8, "\x1b[19~"},
    {KEY_F9, "\x1b[20~"},    {KEY_F10, "\x1b[21~"},    {KEY_F11, "\x1b[23~"},
    {KEY_F12, "\x1b[24~"},
};

/* The byte a key types before Alt is applied; -1 when it types none. */
static int keymap_console_byte(uint16_t key, unsigned modifiers)
{
    bool shift = modifiers & KEYMAP_SHIFT;
    bool ctrl = modifiers & KEYMAP_CTRL;
    for (size_t i = 0; i < ARRAY_SIZE(keymap_letter_keys); i++) {
        if (keymap_letter_keys[i] != key)
            continue;
        if (ctrl)
            return (int)i + 1; /* Ctrl-A is 0x01 */
        bool upper = shift != ((modifiers & KEYMAP_CAPS_LOCK) != 0);
        return (upper ? 'A' : 'a') + (int)i;
    }
    switch (key) {
    case KEY_ENTER:
    case KEY_KPENTER:
        return '\r';
    case KEY_BACKSPACE:
        return ctrl ? 0x08 : 0x7f; /* what Linux consoles and xterm send */
    case KEY_TAB:
        return '\t';
    case KEY_ESC:
        return 0x1b;
    default:
        break;
    }
    for (size_t i = 0; i < ARRAY_SIZE(keymap_us_layout); i++) {
        if (keymap_us_layout[i].key != key)
            continue;
        char typed = shift ? keymap_us_layout[i].shifted : keymap_us_layout[i].plain;
        if (!ctrl)
            return (unsigned char)typed;
        /* The control characters a terminal makes from the keys around the
         * letters (Ctrl-@ is NUL, Ctrl-[ is ESC...). */
        switch (typed) {
        case ' ':
        case '2':
        case '@':
            return 0x00;
        case '[':
        case '3':
            return 0x1b;
        case '\\':
        case '4':
            return 0x1c;
        case ']':
        case '5':
            return 0x1d;
        case '^':
        case '6':
            return 0x1e;
        case '-':
        case '_':
        case '7':
        case '/':
            return 0x1f;
        case '8':
        case '?':
            return 0x7f;
        default:
            return (unsigned char)typed;
        }
    }
    return -1;
}

size_t keymap_console_bytes(uint16_t key, unsigned modifiers,
                            uint8_t bytes[KEYMAP_CONSOLE_BYTES_MAX])
{
    size_t count = 0;
    /* Alt sends ESC before what the key types ("meta sends escape"). */
    if (modifiers & KEYMAP_ALT)
        bytes[count++] = 0x1b;
    if (key == KEY_TAB && (modifiers & KEYMAP_SHIFT)) {
        memcpy(bytes + count, "\x1b[Z", 3);
        return count + 3;
    }
    for (size_t i = 0; i < ARRAY_SIZE(keymap_sequences); i++) {
        if (keymap_sequences[i].key == key) {
            size_t length = strlen(keymap_sequences[i].sequence);
            memcpy(bytes + count, keymap_sequences[i].sequence, length);
            return count + length;
        }
    }
    int byte = keymap_console_byte(key, modifiers);
    if (byte < 0)
        return 0;
    bytes[count++] = (uint8_t)byte;
    return count;
}
