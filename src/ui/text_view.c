#include "ui/text_view.h"

#include <stdlib.h>
#include <string.h>

#include "ui/font.h"

#define TEXT_VIEW_FOREGROUND 0x00c0c0c0u
#define TEXT_VIEW_BACKGROUND 0x00000000u
#define TEXT_VIEW_CURSOR 0x00e0e0e0u
#define TEXT_VIEW_TAB_STOP 8

static uint32_t text_view_clamp(uint32_t value, uint32_t max)
{
    return value < 1 ? 1 : value > max ? max : value;
}

static void text_view_mark_dirty(struct text_view *view, uint32_t first, uint32_t last)
{
    if (!view->dirty) {
        view->dirty = true;
        view->dirty_first = first;
        view->dirty_last = last;
        return;
    }
    if (first < view->dirty_first)
        view->dirty_first = first;
    if (last > view->dirty_last)
        view->dirty_last = last;
}

int text_view_init(struct text_view *view, uint32_t columns, uint32_t rows, struct error *error)
{
    memset(view, 0, sizeof(*view));
    return text_view_resize(view, columns, rows, error);
}

void text_view_destroy(struct text_view *view)
{
    free(view->cells);
    view->cells = NULL;
}

int text_view_resize(struct text_view *view, uint32_t columns, uint32_t rows, struct error *error)
{
    columns = text_view_clamp(columns, TEXT_VIEW_MAX_COLUMNS);
    rows = text_view_clamp(rows, TEXT_VIEW_MAX_ROWS);
    if (view->cells && columns == view->columns && rows == view->rows)
        return 0;
    uint8_t *cells = malloc((size_t)columns * rows);
    if (!cells)
        return error_set(error, "text view: out of memory for %ux%u characters", columns, rows);
    memset(cells, ' ', (size_t)columns * rows);
    uint32_t cursor_row = 0;
    if (view->cells) {
        /* Keep the rows that end at the cursor's: that is where the latest
         * text is. */
        uint32_t kept = view->cursor_row + 1 < rows ? view->cursor_row + 1 : rows;
        uint32_t from = view->cursor_row + 1 - kept;
        uint32_t width = columns < view->columns ? columns : view->columns;
        for (uint32_t row = 0; row < kept; row++)
            memcpy(cells + (size_t)row * columns, view->cells + (size_t)(from + row) * view->columns,
                   width);
        cursor_row = kept - 1;
    }
    free(view->cells);
    view->cells = cells;
    view->columns = columns;
    view->rows = rows;
    view->cursor_row = cursor_row;
    if (view->cursor_column >= columns)
        view->cursor_column = columns - 1;
    view->wrap_pending = false;
    text_view_mark_dirty(view, 0, rows - 1);
    return 0;
}

static void text_view_line_feed(struct text_view *view)
{
    text_view_mark_dirty(view, view->cursor_row, view->cursor_row); /* the cursor leaves it */
    if (view->cursor_row + 1 < view->rows) {
        view->cursor_row++;
        text_view_mark_dirty(view, view->cursor_row, view->cursor_row);
        return;
    }
    memmove(view->cells, view->cells + view->columns, (size_t)(view->rows - 1) * view->columns);
    memset(view->cells + (size_t)(view->rows - 1) * view->columns, ' ', view->columns);
    text_view_mark_dirty(view, 0, view->rows - 1);
}

static void text_view_put(struct text_view *view, uint8_t character)
{
    if (view->wrap_pending) {
        view->wrap_pending = false;
        view->cursor_column = 0;
        text_view_line_feed(view);
    }
    view->cells[(size_t)view->cursor_row * view->columns + view->cursor_column] = character;
    text_view_mark_dirty(view, view->cursor_row, view->cursor_row);
    /* Like a VT100, the cursor stays on the last column until the next
     * character, so a line of exactly the width followed by CR LF leaves no
     * empty line. */
    if (view->cursor_column + 1 < view->columns)
        view->cursor_column++;
    else
        view->wrap_pending = true;
}

static void text_view_control(struct text_view *view, uint8_t byte)
{
    switch (byte) {
    case '\r':
        view->cursor_column = 0;
        view->wrap_pending = false;
        break;
    case '\n':
    case '\v':
    case '\f':
        /* Line feed also returns the carriage: guests that print a bare \n
         * (boot loaders, small kernels) read right, and \r\n is unchanged. */
        view->cursor_column = 0;
        view->wrap_pending = false;
        text_view_line_feed(view);
        break;
    case '\b':
        view->wrap_pending = false; /* and moves back from the last column, as xterm does */
        if (view->cursor_column > 0)
            view->cursor_column--;
        break;
    case '\t': {
        uint32_t next = (view->cursor_column / TEXT_VIEW_TAB_STOP + 1) * TEXT_VIEW_TAB_STOP;
        view->cursor_column = next < view->columns ? next : view->columns - 1;
        break;
    }
    default:
        return; /* BEL, NUL and the rest show nothing */
    }
    text_view_mark_dirty(view, view->cursor_row, view->cursor_row);
}

static void text_view_feed(struct text_view *view, uint8_t byte)
{
    switch (view->parse) {
    case TEXT_VIEW_ESCAPE:
        view->parse = TEXT_VIEW_TEXT;
        if (byte == '[')
            view->parse = TEXT_VIEW_CSI;
        else if (byte == ']' || byte == 'P' || byte == 'X' || byte == '^' || byte == '_')
            view->parse = TEXT_VIEW_STRING;
        else if (byte >= 0x20 && byte <= 0x2f) /* ESC ( B, ESC # 8...: one more byte */
            view->parse = TEXT_VIEW_ESCAPE_ARGUMENT;
        else if (byte == 0x1b)
            view->parse = TEXT_VIEW_ESCAPE;
        else if (byte < 0x20)
            text_view_control(view, byte);
        return;
    case TEXT_VIEW_ESCAPE_ARGUMENT:
        view->parse = TEXT_VIEW_TEXT;
        return;
    case TEXT_VIEW_CSI:
        if (byte >= 0x40 && byte <= 0x7e) {
            view->parse = TEXT_VIEW_TEXT;
        } else if (byte == 0x1b) {
            view->parse = TEXT_VIEW_ESCAPE;
        } else if (byte == 0x18 || byte == 0x1a) { /* CAN, SUB: abandon the sequence */
            view->parse = TEXT_VIEW_TEXT;
        } else if (byte < 0x20) {
            text_view_control(view, byte); /* executed inside a sequence, as a VT100 does */
        }
        return; /* parameters and intermediates are dropped */
    case TEXT_VIEW_STRING:
        if (byte == 0x07 || byte == 0x18 || byte == 0x1a)
            view->parse = TEXT_VIEW_TEXT;
        else if (byte == 0x1b)
            view->parse = TEXT_VIEW_STRING_ESCAPE;
        return;
    case TEXT_VIEW_STRING_ESCAPE:
        view->parse = byte == '\\' ? TEXT_VIEW_TEXT : TEXT_VIEW_STRING;
        return;
    case TEXT_VIEW_TEXT:
        break;
    }
    if (byte == 0x1b)
        view->parse = TEXT_VIEW_ESCAPE;
    else if (byte < 0x20)
        text_view_control(view, byte);
    else if (byte < 0x7f)
        text_view_put(view, byte);
    else if (byte >= 0xc0)
        text_view_put(view, '?'); /* the first byte of a UTF-8 character: one cell for it */
    /* DEL and UTF-8 continuation bytes show nothing. */
}

void text_view_write(struct text_view *view, const uint8_t *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++)
        text_view_feed(view, bytes[i]);
}

uint8_t text_view_char_at(const struct text_view *view, uint32_t column, uint32_t row)
{
    if (column >= view->columns || row >= view->rows)
        return 0;
    return view->cells[(size_t)row * view->columns + column];
}

bool text_view_take_dirty(struct text_view *view, uint32_t *first_row, uint32_t *last_row)
{
    if (!view->dirty)
        return false;
    *first_row = view->dirty_first;
    *last_row = view->dirty_last;
    view->dirty = false;
    return true;
}

void text_view_draw(const struct text_view *view, uint32_t *pixels, size_t stride, uint32_t width,
                    uint32_t height, uint32_t first_row, uint32_t last_row)
{
    for (uint32_t row = first_row; row <= last_row && row < view->rows; row++) {
        uint32_t y = row * FONT_CELL_HEIGHT;
        if (y >= height)
            break;
        for (uint32_t column = 0; column < view->columns; column++)
            font_draw_cell(pixels, stride, width, height, column * FONT_CELL_WIDTH, y,
                           view->cells[(size_t)row * view->columns + column], TEXT_VIEW_FOREGROUND,
                           TEXT_VIEW_BACKGROUND);
        if (row == view->cursor_row) {
            uint32_t x = view->cursor_column * FONT_CELL_WIDTH;
            for (uint32_t line = FONT_CELL_HEIGHT - 2; line < FONT_CELL_HEIGHT; line++) {
                if (y + line >= height)
                    break;
                for (uint32_t dx = 0; dx < FONT_CELL_WIDTH && x + dx < width; dx++)
                    pixels[(size_t)(y + line) * stride + x + dx] = TEXT_VIEW_CURSOR;
            }
        }
    }
}
