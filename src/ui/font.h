/* The bitmap font the display draws its own text with (the serial console's
 * text view, messages): printable ASCII, 8x8 glyphs drawn with every row
 * doubled into 8x16 cells, the shape of a PC text mode on a 640x400 screen. */
#ifndef GUEST_UI_FONT_H
#define GUEST_UI_FONT_H

#include <stddef.h>
#include <stdint.h>

#define FONT_CELL_WIDTH 8
#define FONT_CELL_HEIGHT 16

/* The 8 rows of a character's glyph, leftmost pixel in the top bit; a box for
 * anything outside printable ASCII. */
const uint8_t *font_glyph(uint8_t character);

/* Draws one cell with its top-left corner at (x, y) into an XRGB8888 image of
 * width x height pixels, `stride` pixels a row; clips at the image's edges. */
void font_draw_cell(uint32_t *pixels, size_t stride, uint32_t width, uint32_t height, uint32_t x,
                    uint32_t y, uint8_t character, uint32_t foreground, uint32_t background);

#endif
