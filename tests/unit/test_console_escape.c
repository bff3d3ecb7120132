/* The console's escape keys: Ctrl-A x quits, Ctrl-A h helps, Ctrl-A Ctrl-A
 * sends one Ctrl-A, anything else passes through. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "console.h"

/* Feeds bytes; collects what goes to the guest and the last non-NONE result. */
static enum console_escape_result feed(struct console_escape *escape, const char *input,
                                       size_t length, uint8_t *to_guest, size_t *to_guest_count)
{
    enum console_escape_result last = CONSOLE_ESCAPE_NONE;
    *to_guest_count = 0;
    for (size_t i = 0; i < length; i++) {
        uint8_t out[2] = {0xee, 0xee};
        size_t count = 99;
        enum console_escape_result result =
            console_escape_feed(escape, (uint8_t)input[i], out, &count);
        assert_true(count <= 2);
        memcpy(to_guest + *to_guest_count, out, count);
        *to_guest_count += count;
        if (result != CONSOLE_ESCAPE_NONE)
            last = result;
    }
    return last;
}

static void test_plain_bytes(void **state)
{
    (void)state;
    struct console_escape escape = {0};
    uint8_t out[64];
    size_t count;
    const char input[] = "ls -l\r\x03\x1b[A\x7f\x00\xff";
    assert_int_equal(feed(&escape, input, sizeof(input) - 1, out, &count), CONSOLE_ESCAPE_NONE);
    assert_int_equal(count, sizeof(input) - 1);
    assert_memory_equal(out, input, count);
}

static void test_quit_and_help(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t count;
    static const struct {
        const char *keys;
        enum console_escape_result result;
    } cases[] = {
        {"\x01x", CONSOLE_ESCAPE_QUIT}, {"\x01X", CONSOLE_ESCAPE_QUIT},
        {"\x01h", CONSOLE_ESCAPE_HELP}, {"\x01H", CONSOLE_ESCAPE_HELP},
        {"\x01?", CONSOLE_ESCAPE_HELP},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct console_escape escape = {0};
        assert_int_equal(feed(&escape, cases[i].keys, 2, out, &count), cases[i].result);
        assert_int_equal(count, 0);
        assert_false(escape.after_escape);
    }
    /* The escape key alone sends nothing yet. */
    struct console_escape escape = {0};
    assert_int_equal(feed(&escape, "\x01", 1, out, &count), CONSOLE_ESCAPE_NONE);
    assert_int_equal(count, 0);
    assert_true(escape.after_escape);
    /* Text around a help request passes through. */
    escape = (struct console_escape){0};
    assert_int_equal(feed(&escape, "ab\x01hcd", 6, out, &count), CONSOLE_ESCAPE_HELP);
    assert_int_equal(count, 4);
    assert_memory_equal(out, "abcd", 4);
}

static void test_escape_escape(void **state)
{
    (void)state;
    struct console_escape escape = {0};
    uint8_t out[64];
    size_t count;
    assert_int_equal(feed(&escape, "\x01\x01", 2, out, &count), CONSOLE_ESCAPE_NONE);
    assert_int_equal(count, 1);
    assert_int_equal(out[0], 0x01);
    assert_false(escape.after_escape);
    /* Four Ctrl-As send two; the state machine does not re-arm on the sent one. */
    assert_int_equal(feed(&escape, "\x01\x01\x01\x01", 4, out, &count), CONSOLE_ESCAPE_NONE);
    assert_int_equal(count, 2);
    assert_memory_equal(out, "\x01\x01", 2);
    /* Ctrl-A Ctrl-A x: a literal Ctrl-A, then x; no quit. */
    assert_int_equal(feed(&escape, "\x01\x01x", 3, out, &count), CONSOLE_ESCAPE_NONE);
    assert_int_equal(count, 2);
    assert_memory_equal(out, "\x01x", 2);
}

static void test_unknown_after_escape(void **state)
{
    (void)state;
    struct console_escape escape = {0};
    uint8_t out[64];
    size_t count;
    assert_int_equal(feed(&escape, "\x01z", 2, out, &count), CONSOLE_ESCAPE_NONE);
    assert_int_equal(count, 2);
    assert_memory_equal(out, "\x01z", 2);
    assert_int_equal(feed(&escape, "\x01\x00", 2, out, &count), CONSOLE_ESCAPE_NONE);
    assert_int_equal(count, 2);
    assert_memory_equal(out, "\x01\x00", 2);
    /* Then back to normal. */
    assert_int_equal(feed(&escape, "q", 1, out, &count), CONSOLE_ESCAPE_NONE);
    assert_int_equal(count, 1);
    assert_int_equal(out[0], 'q');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_bytes),
        cmocka_unit_test(test_quit_and_help),
        cmocka_unit_test(test_escape_escape),
        cmocka_unit_test(test_unknown_after_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
