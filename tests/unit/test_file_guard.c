/* A kernel or ramdisk truncated while it is mapped and parsed: the guard
 * turns the SIGBUS of reading past the new end into the file's error. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot/file_guard.h"

#define PAGE 4096

struct mapped {
    char path[64];
    struct boot_file file;
};

static void map_three_pages(struct mapped *mapped)
{
    snprintf(mapped->path, sizeof(mapped->path), "/tmp/test_file_guard-XXXXXX");
    int fd = mkstemp(mapped->path);
    assert_true(fd >= 0);
    uint8_t page[PAGE];
    memset(page, 0x5a, sizeof(page));
    for (int i = 0; i < 3; i++)
        assert_int_equal(write(fd, page, sizeof(page)), PAGE);
    void *data = mmap(NULL, 3 * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_true(data != MAP_FAILED);
    mapped->file = (struct boot_file){mapped->path, data, 3 * PAGE, true, fd};
}

static void unmap(struct mapped *mapped)
{
    munmap((void *)mapped->file.data, mapped->file.size);
    close(mapped->file.fd);
    unlink(mapped->path);
}

/* Reads the last page of the file it is given, as a parser walking items. */
static int read_last_page(void *opaque)
{
    const struct boot_file *file = opaque;
    volatile uint8_t byte = file->data[file->size - 1];
    return byte == 0x5a ? 7 : -1;
}

static void test_whole_file_reads_through(void **state)
{
    (void)state;
    struct mapped mapped;
    map_three_pages(&mapped);
    const struct boot_file *files[] = {&mapped.file};
    struct error error = {{0}};
    assert_int_equal(file_guard_run(files, 1, read_last_page, &mapped.file, &error), 7);
    unmap(&mapped);
}

static void test_truncated_file_is_an_error(void **state)
{
    (void)state;
    struct mapped mapped;
    map_three_pages(&mapped);
    assert_int_equal(ftruncate(mapped.file.fd, PAGE), 0); /* someone rewrote it */
    const struct boot_file *files[] = {&mapped.file};
    struct error error = {{0}};
    struct sigaction before, after;
    sigaction(SIGBUS, NULL, &before);
    assert_int_equal(file_guard_run(files, 1, read_last_page, &mapped.file, &error), -1);
    assert_non_null(strstr(error.message, mapped.path));
    assert_non_null(strstr(error.message, "changed while being read"));
    /* And the guard is gone afterwards: the handler before it is back. */
    sigaction(SIGBUS, NULL, &after);
    assert_true(after.sa_sigaction == before.sa_sigaction);
    unmap(&mapped);
}

/* Two files guarded, the second truncated: the message names the second. */
static void test_names_the_file_that_changed(void **state)
{
    (void)state;
    struct mapped kernel, ramdisk;
    map_three_pages(&kernel);
    map_three_pages(&ramdisk);
    assert_int_equal(ftruncate(ramdisk.file.fd, 0), 0);
    const struct boot_file *files[] = {&kernel.file, &ramdisk.file};
    struct error error = {{0}};
    assert_int_equal(file_guard_run(files, 2, read_last_page, &ramdisk.file, &error), -1);
    assert_non_null(strstr(error.message, ramdisk.path));
    assert_int_equal(file_guard_run(files, 2, read_last_page, &kernel.file, &error), 7);
    unmap(&kernel);
    unmap(&ramdisk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_file_reads_through),
        cmocka_unit_test(test_truncated_file_is_an_error),
        cmocka_unit_test(test_names_the_file_that_changed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
