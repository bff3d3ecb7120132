/* Reading a PNG back for the tests (libpng's simplified API): the pixels as
 * 0x00RRGGBB words, or NULL. */
#ifndef GUEST_TESTS_UI_PNG_READ_H
#define GUEST_TESTS_UI_PNG_READ_H

#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint32_t *ui_png_read(const char *path, uint32_t *width, uint32_t *height,
                                    png_byte *color_type)
{
    png_image image;
    memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, path))
        return NULL;
    /* What the file holds, before the conversion below. */
    *color_type = (image.format & PNG_FORMAT_FLAG_ALPHA)   ? PNG_COLOR_TYPE_RGB_ALPHA
                  : (image.format & PNG_FORMAT_FLAG_COLOR) ? PNG_COLOR_TYPE_RGB
                                                           : PNG_COLOR_TYPE_GRAY;
    image.format = PNG_FORMAT_RGB;
    uint8_t *rgb = malloc(PNG_IMAGE_SIZE(image));
    uint32_t *pixels = malloc((size_t)image.width * image.height * 4);
    if (!rgb || !pixels || !png_image_finish_read(&image, NULL, rgb, 0, NULL)) {
        png_image_free(&image);
        free(rgb);
        free(pixels);
        return NULL;
    }
    for (size_t i = 0; i < (size_t)image.width * image.height; i++)
        pixels[i] = (uint32_t)rgb[i * 3] << 16 | (uint32_t)rgb[i * 3 + 1] << 8 | rgb[i * 3 + 2];
    free(rgb);
    *width = image.width;
    *height = image.height;
    return pixels;
}

#endif
