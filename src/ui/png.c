#include "ui/png.h"

#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libpng reports errors through a callback that must not return: it records
 * the message and jumps back to ui_png_write. */
struct ui_png_failure {
    jmp_buf jump;
    char message[200];
};

static void ui_png_on_error(png_structp png, png_const_charp message)
{
    struct ui_png_failure *failure = png_get_error_ptr(png);
    snprintf(failure->message, sizeof(failure->message), "%s", message);
    longjmp(failure->jump, 1);
}

static void ui_png_on_warning(png_structp png, png_const_charp message)
{
    (void)png;
    (void)message; /* warnings do not make a bad file */
}

/* Everything that touches libpng; the volatile locals survive the longjmp. */
static int ui_png_encode(FILE *file, const uint32_t *pixels, size_t stride, uint32_t width,
                         uint32_t height, struct ui_png_failure *failure)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, failure, ui_png_on_error,
                                              ui_png_on_warning);
    if (!png) {
        snprintf(failure->message, sizeof(failure->message), "out of memory");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    uint8_t *volatile row = malloc((size_t)width * 3);
    if (!info || !row) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(row);
        snprintf(failure->message, sizeof(failure->message), "out of memory");
        return -1;
    }
    if (setjmp(failure->jump)) {
        png_destroy_write_struct(&png, &info);
        free(row);
        return -1;
    }
    png_init_io(png, file);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    /* Screenshots are flat colours and text: fast compression does well,
     * and unfiltered rows cost nothing to write (or for a test to read). */
    png_set_compression_level(png, 3);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) {
        const uint32_t *line = (const uint32_t *)((const uint8_t *)pixels + y * stride);
        for (uint32_t x = 0; x < width; x++) {
            row[x * 3 + 0] = (uint8_t)(line[x] >> 16);
            row[x * 3 + 1] = (uint8_t)(line[x] >> 8);
            row[x * 3 + 2] = (uint8_t)line[x];
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return 0;
}

/* The file a picture is written to before it is renamed over path. */
static char *ui_png_temporary_path(const char *path)
{
    size_t size = strlen(path) + 16;
    char *temporary = malloc(size);
    if (temporary)
        snprintf(temporary, size, "%s.tmp%d", path, (int)getpid());
    return temporary;
}

int ui_png_check_path(const char *path, struct error *error)
{
    struct stat status;
    if (stat(path, &status) == 0 && S_ISDIR(status.st_mode))
        return error_set(error, "%s: is a directory", path);
    char *temporary = ui_png_temporary_path(path);
    if (!temporary)
        return error_set(error, "%s: out of memory", path);
    /* What the write will do, done once now: the same file created beside
     * path, then removed. */
    int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    int saved = errno;
    if (fd >= 0) {
        close(fd);
        unlink(temporary);
    }
    free(temporary);
    if (fd < 0)
        return error_set(error, "%s: cannot write there: %s", path, strerror(saved));
    return 0;
}

int ui_png_write(const char *path, const uint32_t *pixels, size_t stride, uint32_t width,
                 uint32_t height, struct error *error)
{
    if (width == 0 || height == 0)
        return error_set(error, "%s: there is no picture to write (the screen is 0x0)", path);
    char *temporary = ui_png_temporary_path(path);
    if (!temporary)
        return error_set(error, "%s: out of memory", path);
    FILE *file = fopen(temporary, "wbe"); /* close-on-exec, as every descriptor here */
    if (!file) {
        int saved = errno;
        free(temporary);
        return error_set(error, "%s: %s", path, strerror(saved));
    }
    struct ui_png_failure failure = {.message = ""};
    int result = ui_png_encode(file, pixels, stride, width, height, &failure);
    if (result < 0) {
        fclose(file);
        error_set(error, "%s: cannot write the PNG: %s", path, failure.message);
    } else {
        int failed = fflush(file) != 0 || ferror(file) ? (errno ? errno : EIO) : 0;
        if (fclose(file) != 0 && !failed)
            failed = errno;
        if (failed)
            result = error_set(error, "%s: %s", path, strerror(failed));
        else if (rename(temporary, path) < 0)
            result = error_set(error, "%s: %s", path, strerror(errno));
    }
    if (result < 0)
        unlink(temporary);
    free(temporary);
    return result;
}
