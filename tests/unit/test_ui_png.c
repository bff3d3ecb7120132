/* Screenshots: XRGB8888 written as an 8-bit RGB PNG, read back with libpng. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ui/png.h"
#include "ui_png_read.h"

static char directory[64];
static char path[128];

static int set_up(void **state)
{
    (void)state;
    snprintf(directory, sizeof(directory), "/tmp/test_ui_png-XXXXXX");
    assert_non_null(mkdtemp(directory));
    snprintf(path, sizeof(path), "%s/shot.png", directory);
    return 0;
}

static int tear_down(void **state)
{
    (void)state;
    unlink(path);
    rmdir(directory);
    return 0;
}

static void test_round_trip(void **state)
{
    (void)state;
    /* An odd size, a stride wider than the rows, and junk in the X byte. */
    enum { WIDTH = 37, HEIGHT = 23, STRIDE_PIXELS = 41 };
    uint32_t *pixels = malloc(STRIDE_PIXELS * HEIGHT * 4);
    assert_non_null(pixels);
    for (uint32_t y = 0; y < HEIGHT; y++)
        for (uint32_t x = 0; x < STRIDE_PIXELS; x++)
            pixels[y * STRIDE_PIXELS + x] =
                0xab000000u | (x * 7 & 0xff) << 16 | (y * 11 & 0xff) << 8 | ((x ^ y) * 5 & 0xff);
    struct error error;
    assert_int_equal(ui_png_write(path, pixels, STRIDE_PIXELS * 4, WIDTH, HEIGHT, &error), 0);

    uint32_t width, height;
    png_byte color_type;
    uint32_t *read = ui_png_read(path, &width, &height, &color_type);
    assert_non_null(read);
    assert_int_equal(width, WIDTH);
    assert_int_equal(height, HEIGHT);
    assert_int_equal(color_type, PNG_COLOR_TYPE_RGB);
    for (uint32_t y = 0; y < HEIGHT; y++)
        for (uint32_t x = 0; x < WIDTH; x++)
            assert_int_equal(read[y * WIDTH + x], pixels[y * STRIDE_PIXELS + x] & 0xffffff);
    free(read);
    free(pixels);
    /* No temporary file is left beside it. */
    char command[200];
    snprintf(command, sizeof(command), "test $(ls %s | wc -l) = 1", directory);
    assert_int_equal(system(command), 0);
}

static void test_errors(void **state)
{
    (void)state;
    uint32_t pixel = 0;
    struct error error;
    char bad[200];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/shot.png", directory);
    assert_int_equal(ui_png_write(bad, &pixel, 4, 1, 1, &error), -1);
    assert_non_null(strstr(error.message, "No such file"));
    assert_non_null(strstr(error.message, bad));
    assert_int_equal(ui_png_write(path, &pixel, 4, 0, 0, &error), -1);
    assert_non_null(strstr(error.message, "0x0"));
    struct stat status;
    assert_int_equal(stat(path, &status), -1);
}

/* --screenshot is checked before the VM starts: a missing directory, a
 * directory as the file, a directory that takes no new files. */
static void test_check_path(void **state)
{
    (void)state;
    struct error error;
    assert_int_equal(ui_png_check_path(path, &error), 0);
    /* The check leaves nothing behind. */
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(rmdir(directory), 0);
    assert_int_equal(mkdir(directory, 0700), 0);

    char missing[192];
    snprintf(missing, sizeof(missing), "%s/no-such-dir/shot.png", directory);
    assert_int_equal(ui_png_check_path(missing, &error), -1);
    assert_non_null(strstr(error.message, "no-such-dir/shot.png: cannot write there: No such file"));

    assert_int_equal(ui_png_check_path(directory, &error), -1);
    assert_non_null(strstr(error.message, "is a directory"));

    /* An existing picture is fine: it is replaced at the end. */
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fclose(file);
    assert_int_equal(ui_png_check_path(path, &error), 0);
    unlink(path);

    if (geteuid() != 0) { /* root writes anywhere */
        assert_int_equal(chmod(directory, 0500), 0);
        assert_int_equal(ui_png_check_path(path, &error), -1);
        assert_non_null(strstr(error.message, "Permission denied"));
        chmod(directory, 0700);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_errors, set_up, tear_down),
        cmocka_unit_test_setup_teardown(test_check_path, set_up, tear_down),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
