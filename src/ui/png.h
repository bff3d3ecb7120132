/* Screenshots: an XRGB8888 image written as a PNG file (8-bit RGB). */
#ifndef GUEST_UI_PNG_H
#define GUEST_UI_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* pixels: height rows of width 32-bit words 0x00RRGGBB, `stride` bytes apart.
 * Writes to a temporary file beside path and renames it, so that a reader
 * never sees half a picture. */
int ui_png_write(const char *path, const uint32_t *pixels, size_t stride, uint32_t width,
                 uint32_t height, struct error *error);

/* Whether a picture could be written to path (its directory exists and
 * takes new files, and path is not a directory), checked before the VM
 * starts rather than at its end. */
int ui_png_check_path(const char *path, struct error *error);

#endif
