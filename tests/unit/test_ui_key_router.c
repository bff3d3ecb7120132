/* Where keys go: the guest's keyboard, or the serial console's text view;
 * Alt+Esc switches and is never seen by the guest, and no key is left pressed
 * in the guest. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/input-event-codes.h>
#include <stdio.h>
#include <string.h>

#include "ui/key_router.h"

/* What the router did, as text: "+30" a press of key 30 to the guest, "-30"
 * its release, "[..]" console bytes (hex), "T" / "G" the text or guest view. */
struct record {
    char log[1024];
};

static void record_append(struct record *record, const char *text)
{
    strncat(record->log, text, sizeof(record->log) - strlen(record->log) - 1);
}

static void record_guest_key(void *opaque, uint16_t key, bool pressed)
{
    char text[16];
    snprintf(text, sizeof(text), "%c%u ", pressed ? '+' : '-', key);
    record_append(opaque, text);
}

static void record_console_bytes(void *opaque, const uint8_t *bytes, size_t length)
{
    record_append(opaque, "[");
    for (size_t i = 0; i < length; i++) {
        char text[4];
        snprintf(text, sizeof(text), "%02x", bytes[i]);
        record_append(opaque, text);
    }
    record_append(opaque, "] ");
}

static void record_show_text_view(void *opaque, bool shown)
{
    record_append(opaque, shown ? "T " : "G ");
}

static struct record record;
static struct key_router router;

static int set_up(void **state)
{
    (void)state;
    memset(&record, 0, sizeof(record));
    struct key_router_output output = {
        .opaque = &record,
        .guest_key = record_guest_key,
        .console_bytes = record_console_bytes,
        .show_text_view = record_show_text_view,
    };
    key_router_init(&router, &output);
    return 0;
}

static void press(uint16_t key)
{
    key_router_feed(&router, key, true);
}

static void release(uint16_t key)
{
    key_router_feed(&router, key, false);
}

static void expect(const char *log)
{
    assert_string_equal(record.log, log);
    record.log[0] = '\0';
}

static void test_guest_keys(void **state)
{
    (void)state;
    press(KEY_A);
    release(KEY_A);
    press(KEY_LEFTSHIFT);
    press(KEY_B);
    release(KEY_B);
    release(KEY_LEFTSHIFT);
    expect("+30 -30 +42 +48 -48 -42 ");
    /* Host auto-repeat is dropped: the guest repeats by itself. */
    press(KEY_C);
    press(KEY_C);
    press(KEY_C);
    release(KEY_C);
    expect("+46 -46 ");
    /* A release without its press (pressed before the window had focus). */
    release(KEY_D);
    expect("");
    /* Out of range. */
    press(0);
    press(KEY_MAX + 1);
    release(0xffff);
    expect("");
}

static void test_alt_escape_switches(void **state)
{
    (void)state;
    press(KEY_LEFTALT);
    press(KEY_ESC);
    /* The guest saw Alt go down: it sees it go up; it never sees the Esc. */
    expect("+56 -56 T ");
    release(KEY_ESC);
    release(KEY_LEFTALT);
    expect("");
    /* Text view: keys are typed bytes. */
    press(KEY_H);
    release(KEY_H);
    press(KEY_I);
    release(KEY_I);
    press(KEY_ENTER);
    release(KEY_ENTER);
    expect("[68] [69] [0d] ");
    /* And back, with the right Alt; the guest sees nothing of it. */
    press(KEY_RIGHTALT);
    press(KEY_ESC);
    release(KEY_ESC);
    release(KEY_RIGHTALT);
    expect("G ");
    press(KEY_A);
    release(KEY_A);
    expect("+30 -30 ");
}

static void test_escape_alone_and_repeats(void **state)
{
    (void)state;
    /* Esc without Alt is an ordinary key in both views. */
    press(KEY_ESC);
    release(KEY_ESC);
    expect("+1 -1 ");
    press(KEY_LEFTALT);
    press(KEY_ESC);
    /* Esc auto-repeat while Alt is held does not switch back and forth. */
    press(KEY_ESC);
    press(KEY_ESC);
    release(KEY_ESC);
    expect("+56 -56 T ");
    /* Alt still held, a second Esc: switches again. */
    press(KEY_ESC);
    release(KEY_ESC);
    release(KEY_LEFTALT);
    expect("G ");
    press(KEY_ESC);
    release(KEY_ESC);
    expect("+1 -1 ");
}

static void test_switch_releases_held_keys(void **state)
{
    (void)state;
    press(KEY_LEFTCTRL);
    press(KEY_W);
    press(KEY_LEFTALT);
    press(KEY_ESC);
    expect("+29 +17 +56 -17 -29 -56 T ");
    /* Their releases do not reach the guest a second time. */
    release(KEY_W);
    release(KEY_LEFTCTRL);
    release(KEY_ESC);
    release(KEY_LEFTALT);
    expect("");
}

static void test_text_view_modifiers(void **state)
{
    (void)state;
    press(KEY_LEFTALT);
    press(KEY_ESC);
    release(KEY_ESC);
    release(KEY_LEFTALT);
    expect("+56 -56 T ");
    press(KEY_LEFTSHIFT);
    press(KEY_1);
    release(KEY_1);
    release(KEY_LEFTSHIFT);
    press(KEY_RIGHTCTRL);
    press(KEY_C);
    release(KEY_C);
    release(KEY_RIGHTCTRL);
    press(KEY_UP);
    release(KEY_UP);
    press(KEY_BACKSPACE);
    release(KEY_BACKSPACE);
    press(KEY_LEFTALT);
    press(KEY_F);
    release(KEY_F);
    release(KEY_LEFTALT);
    expect("[21] [03] [1b5b41] [7f] [1b66] ");
    /* Caps Lock toggles the text view's own state. */
    press(KEY_CAPSLOCK);
    release(KEY_CAPSLOCK);
    press(KEY_Q);
    release(KEY_Q);
    press(KEY_CAPSLOCK);
    release(KEY_CAPSLOCK);
    press(KEY_Q);
    release(KEY_Q);
    expect("[51] [71] ");
    /* Auto-repeat types again, as in a terminal. */
    press(KEY_X);
    press(KEY_X);
    release(KEY_X);
    expect("[78] [78] ");
}

static void test_key_held_across_switch_back(void **state)
{
    (void)state;
    press(KEY_LEFTALT);
    press(KEY_ESC);
    release(KEY_ESC);
    release(KEY_LEFTALT);
    expect("+56 -56 T ");
    /* Shift pressed in the text view, still held when the guest's screen
     * comes back: the guest never saw it go down, so its release is dropped
     * too; the next key goes to the guest without Shift. */
    press(KEY_LEFTSHIFT);
    press(KEY_LEFTALT);
    press(KEY_ESC);
    release(KEY_ESC);
    release(KEY_LEFTALT);
    expect("G ");
    press(KEY_K);
    release(KEY_K);
    release(KEY_LEFTSHIFT);
    expect("+37 -37 ");
}

static void test_release_all(void **state)
{
    (void)state;
    press(KEY_LEFTSHIFT);
    press(KEY_A);
    key_router_release_all(&router);
    expect("+42 +30 -30 -42 ");
    release(KEY_A);
    release(KEY_LEFTSHIFT);
    key_router_release_all(&router);
    expect("");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_guest_keys, set_up),
        cmocka_unit_test_setup(test_alt_escape_switches, set_up),
        cmocka_unit_test_setup(test_escape_alone_and_repeats, set_up),
        cmocka_unit_test_setup(test_switch_releases_held_keys, set_up),
        cmocka_unit_test_setup(test_text_view_modifiers, set_up),
        cmocka_unit_test_setup(test_key_held_across_switch_back, set_up),
        cmocka_unit_test_setup(test_release_all, set_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
