/* The serial console as text on the display: a character grid that the
 * guest's console output is written into, the way a simple terminal would
 * show it.  Carriage return, line feed, backspace and tab move the cursor;
 * text scrolls up at the bottom; escape sequences (ESC [ ... final byte,
 * OSC strings, two- and three-byte escapes) are parsed and dropped rather
 * than interpreted, so colours and cursor games leave no garbage behind. */
#ifndef GUEST_UI_TEXT_VIEW_H
#define GUEST_UI_TEXT_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum text_view_parse {
    TEXT_VIEW_TEXT,
    TEXT_VIEW_ESCAPE,        /* after ESC */
    TEXT_VIEW_ESCAPE_ARGUMENT, /* ESC ( and the like: one more byte */
    TEXT_VIEW_CSI,           /* ESC [ parameters... final byte */
    TEXT_VIEW_STRING,        /* ESC ] (or P, X, ^, _) ... BEL or ESC \ */
    TEXT_VIEW_STRING_ESCAPE, /* ESC inside a string */
};

struct text_view {
    uint32_t columns, rows;
    uint8_t *cells; /* rows * columns characters, row by row; ' ' is empty */
    uint32_t cursor_column, cursor_row;
    bool wrap_pending; /* the last column was written: wrap before the next character */
    enum text_view_parse parse;
    /* Rows changed since text_view_take_dirty: [dirty_first, dirty_last]. */
    bool dirty;
    uint32_t dirty_first, dirty_last;
};

#define TEXT_VIEW_MAX_COLUMNS 1024
#define TEXT_VIEW_MAX_ROWS 512

int text_view_init(struct text_view *view, uint32_t columns, uint32_t rows, struct error *error);
void text_view_destroy(struct text_view *view);

/* Changes the grid's size (clamped to 1..MAX), keeping the bottom of the text
 * up to the cursor's row. */
int text_view_resize(struct text_view *view, uint32_t columns, uint32_t rows, struct error *error);

void text_view_write(struct text_view *view, const uint8_t *bytes, size_t length);

uint8_t text_view_char_at(const struct text_view *view, uint32_t column, uint32_t row);

/* Returns whether rows changed since the last call, and which. */
bool text_view_take_dirty(struct text_view *view, uint32_t *first_row, uint32_t *last_row);

/* Draws rows first_row..last_row into an XRGB8888 image with the font, the
 * cursor as an underline. */
void text_view_draw(const struct text_view *view, uint32_t *pixels, size_t stride, uint32_t width,
                    uint32_t height, uint32_t first_row, uint32_t last_row);

#endif
