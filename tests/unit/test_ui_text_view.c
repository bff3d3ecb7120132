/* The serial console's text view: a character grid fed with what the guest
 * prints, control characters obeyed, escape sequences dropped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ui/font.h"
#include "ui/text_view.h"

static struct text_view view;

static void write_text(const char *text)
{
    text_view_write(&view, (const uint8_t *)text, strlen(text));
}

/* Row `row` with trailing blanks removed. */
static const char *row_text(uint32_t row)
{
    static char text[TEXT_VIEW_MAX_COLUMNS + 1];
    uint32_t length = 0;
    for (uint32_t column = 0; column < view.columns; column++)
        text[length++] = (char)text_view_char_at(&view, column, row);
    while (length > 0 && text[length - 1] == ' ')
        length--;
    text[length] = '\0';
    return text;
}

static int set_up(void **state)
{
    (void)state;
    struct error error;
    assert_int_equal(text_view_init(&view, 20, 4, &error), 0);
    return 0;
}

static int tear_down(void **state)
{
    (void)state;
    text_view_destroy(&view);
    return 0;
}

static void test_lines(void **state)
{
    (void)state;
    write_text("hello\r\nworld");
    assert_string_equal(row_text(0), "hello");
    assert_string_equal(row_text(1), "world");
    assert_int_equal(view.cursor_row, 1);
    assert_int_equal(view.cursor_column, 5);
    /* A bare line feed starts the line too. */
    write_text("\nnext");
    assert_string_equal(row_text(2), "next");
    /* Carriage return overwrites. */
    write_text("\rN");
    assert_string_equal(row_text(2), "Next");
}

static void test_backspace_and_tab(void **state)
{
    (void)state;
    write_text("abc\b\bX");
    assert_string_equal(row_text(0), "aXc");
    write_text("\b\b\b\b\b\bY"); /* stops at the left edge */
    assert_string_equal(row_text(0), "YXc");
    write_text("\r\n\tT");
    assert_string_equal(row_text(1), "        T");
    write_text("\r\nab\tT\tU");
    assert_string_equal(row_text(2), "ab      T       U");
    /* A tab near the right edge stops at the last column. */
    write_text("\r\n0123456789012345678\tZ");
    assert_string_equal(row_text(3), "0123456789012345678Z");
}

static void test_scrolling(void **state)
{
    (void)state;
    write_text("one\r\ntwo\r\nthree\r\nfour\r\nfive\r\nsix");
    assert_string_equal(row_text(0), "three");
    assert_string_equal(row_text(1), "four");
    assert_string_equal(row_text(2), "five");
    assert_string_equal(row_text(3), "six");
    assert_int_equal(view.cursor_row, 3);
}

static void test_wrapping(void **state)
{
    (void)state;
    /* Exactly the width, then CR LF: no empty line in between. */
    write_text("01234567890123456789\r\nnext");
    assert_string_equal(row_text(0), "01234567890123456789");
    assert_string_equal(row_text(1), "next");
    /* Longer than the width wraps. */
    write_text("\r\nABCDEFGHIJKLMNOPQRSTUVWXYZ");
    assert_string_equal(row_text(2), "ABCDEFGHIJKLMNOPQRST");
    assert_string_equal(row_text(3), "UVWXYZ");
}

static void test_escape_sequences_dropped(void **state)
{
    (void)state;
    /* Colours, cursor moves, private modes, charset designation, a title. */
    write_text("\x1b[1;32mgreen\x1b[0m \x1b[2J\x1b[Hok\x1b[?25l\x1b(B!\x1b]0;title\x07.");
    assert_string_equal(row_text(0), "green ok!.");
    /* OSC ended by ESC \, a two-byte escape, an escape split across writes. */
    write_text("\r\n\x1b]2;x\x1b\\a\x1b" "7b\x1b[");
    write_text("3");
    write_text("1mc");
    assert_string_equal(row_text(1), "abc");
    /* Control characters inside a sequence still act; CAN abandons one. */
    write_text("\r\n\x1b[1\r\n;2mX\x1b[12\x18Y");
    assert_string_equal(row_text(2), "");
    assert_string_equal(row_text(3), "XY");
}

static void test_other_bytes(void **state)
{
    (void)state;
    /* UTF-8 characters take one cell each; NUL, BEL and DEL show nothing. */
    write_text("a\xc3\xa9" "b\xe2\x82\xac" "c");
    write_text("\x07\x7f");
    uint8_t nul = 0;
    text_view_write(&view, &nul, 1);
    write_text("d");
    assert_string_equal(row_text(0), "a?b?cd");
}

static void test_dirty_rows(void **state)
{
    (void)state;
    uint32_t first, last;
    assert_true(text_view_take_dirty(&view, &first, &last)); /* new: all of it */
    assert_int_equal(first, 0);
    assert_int_equal(last, 3);
    assert_false(text_view_take_dirty(&view, &first, &last));
    write_text("x\r\n\r\ny");
    assert_true(text_view_take_dirty(&view, &first, &last));
    assert_int_equal(first, 0);
    assert_int_equal(last, 2);
    write_text("\r\n\r\n"); /* scrolls */
    assert_true(text_view_take_dirty(&view, &first, &last));
    assert_int_equal(first, 0);
    assert_int_equal(last, 3);
}

static void test_resize_keeps_the_latest(void **state)
{
    (void)state;
    struct error error;
    write_text("one\r\ntwo\r\nthree\r\nfour");
    assert_int_equal(text_view_resize(&view, 3, 2, &error), 0);
    assert_string_equal(row_text(0), "thr");
    assert_string_equal(row_text(1), "fou");
    assert_int_equal(view.cursor_row, 1);
    assert_int_equal(view.cursor_column, 2);
    assert_int_equal(text_view_resize(&view, 30, 10, &error), 0);
    assert_string_equal(row_text(0), "thr");
    assert_string_equal(row_text(1), "fou");
    write_text("X");
    assert_string_equal(row_text(1), "foX");
    /* Sizes are clamped. */
    assert_int_equal(text_view_resize(&view, 0, 0, &error), 0);
    assert_int_equal(view.columns, 1);
    assert_int_equal(view.rows, 1);
    write_text("abc\r\n\b\t");
    assert_int_equal(text_view_resize(&view, 100000, 100000, &error), 0);
    assert_int_equal(view.columns, TEXT_VIEW_MAX_COLUMNS);
    assert_int_equal(view.rows, TEXT_VIEW_MAX_ROWS);
}

static void test_draw(void **state)
{
    (void)state;
    write_text("A");
    uint32_t width = 20 * FONT_CELL_WIDTH, height = 4 * FONT_CELL_HEIGHT;
    uint32_t *pixels = calloc((size_t)width * height, 4);
    assert_non_null(pixels);
    for (size_t i = 0; i < (size_t)width * height; i++)
        pixels[i] = 0x123456;
    text_view_draw(&view, pixels, width, width, height, 0, view.rows - 1);
    /* The 'A' cell has lit and dark pixels, and its rows come in pairs. */
    const uint8_t *glyph = font_glyph('A');
    for (uint32_t y = 0; y < FONT_CELL_HEIGHT; y++)
        for (uint32_t x = 0; x < FONT_CELL_WIDTH; x++) {
            bool lit = glyph[y / 2] & (0x80 >> x);
            assert_int_equal(pixels[(size_t)y * width + x] != 0, lit);
        }
    /* A blank cell is background; the cursor (column 1) is an underline. */
    assert_int_equal(pixels[(size_t)5 * width + 3 * FONT_CELL_WIDTH], 0);
    assert_int_not_equal(pixels[(size_t)(FONT_CELL_HEIGHT - 1) * width + FONT_CELL_WIDTH], 0);
    assert_int_equal(pixels[(size_t)(FONT_CELL_HEIGHT - 4) * width + FONT_CELL_WIDTH], 0);
    /* Drawing into a smaller picture clips. */
    text_view_draw(&view, pixels, width, 5, 7, 0, view.rows - 1);
    free(pixels);
}

static void test_font_covers_ascii(void **state)
{
    (void)state;
    /* Every printable character has its own glyph, and only space is empty. */
    const uint8_t *unknown = font_glyph(0x01);
    for (unsigned c = 0x20; c < 0x7f; c++) {
        const uint8_t *glyph = font_glyph((uint8_t)c);
        assert_ptr_not_equal(glyph, unknown);
        unsigned lit = 0;
        for (int row = 0; row < 8; row++)
            lit |= glyph[row];
        assert_int_equal(lit != 0, c != ' ');
        for (unsigned other = 0x21; other < c; other++)
            assert_memory_not_equal(glyph, font_glyph((uint8_t)other), 8);
    }
    assert_ptr_equal(font_glyph(0x7f), unknown);
    assert_ptr_equal(font_glyph(0xff), unknown);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lines, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_backspace_and_tab, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_scrolling, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_wrapping, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_escape_sequences_dropped, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_other_bytes, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_dirty_rows, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_resize_keeps_the_latest, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_draw, set_up, tear_down),
        cmocka_unit_test(test_font_covers_ascii),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
