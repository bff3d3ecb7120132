/* The in-memory initramfs writer: archives read back by an independent
 * reader (cpio_read.h), the exact bytes of a small one, parents added for
 * the kernel, and each refusal leaving the archive as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/initramfs.h"
#include "cpio_read.h"

static struct cpio_read_archive parsed;

static void assert_error_mentions(const struct error *error, const char *text)
{
    if (!strstr(error->message, text))
        fail_msg("error \"%s\" does not mention \"%s\"", error->message, text);
}

static void finish_and_parse(struct initramfs *archive)
{
    struct error error = {{0}};
    if (initramfs_finish(archive, &error))
        fail_msg("finish: %s", error.message);
    if (cpio_read(archive->data, archive->size, &parsed))
        fail_msg("archive does not read back: %s", parsed.problem);
}

static void add_file(struct initramfs *archive, const char *path, uint32_t mode, const char *text)
{
    struct error error = {{0}};
    if (initramfs_add_file(archive, path, mode, text, strlen(text), &error))
        fail_msg("add %s: %s", path, error.message);
}

static void test_entries_read_back(void **state)
{
    (void)state;
    struct initramfs archive;
    struct error error = {{0}};
    initramfs_init(&archive);
    assert_int_equal(initramfs_add_directory(&archive, "/exec", 0750, &error), 0);
    add_file(&archive, "/exec/command", 0644, "echo hi");
    add_file(&archive, "init", 04755, "\x7f" "ELF!");
    add_file(&archive, "/exec/empty", 0600, "");
    assert_int_equal(initramfs_add_char_device(&archive, "/dev/console", 0600, 5, 1, &error), 0);
    finish_and_parse(&archive);

    assert_int_equal(parsed.count, 6);
    static const char *const names[] = {"exec", "exec/command", "init", "exec/empty", "dev",
                                        "dev/console"};
    static const uint32_t modes[] = {040750, 0100644, 0104755, 0100600, 040755, 020600};
    static const uint32_t sizes[] = {0, 7, 5, 0, 0, 0};
    for (size_t i = 0; i < parsed.count; i++) {
        const struct cpio_read_entry *entry = &parsed.entries[i];
        assert_string_equal(entry->name, names[i]);
        assert_int_equal(entry->mode, modes[i]);
        assert_int_equal(entry->size, sizes[i]);
        assert_int_equal(entry->uid, 0);
        assert_int_equal(entry->gid, 0);
        assert_int_equal(entry->nlink, (entry->mode & 0170000) == 040000 ? 2 : 1);
        assert_int_equal(entry->header_offset % 4, 0);
        assert_int_equal(entry->data_offset % 4, 0);
        /* Distinct inodes: the kernel takes equal ones for hard links. */
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(entry->inode, parsed.entries[j].inode);
    }
    assert_memory_equal(parsed.entries[1].data, "echo hi", 7);
    assert_memory_equal(parsed.entries[2].data, "\x7f" "ELF!", 5);
    assert_int_equal(parsed.entries[5].rdev_major, 5);
    assert_int_equal(parsed.entries[5].rdev_minor, 1);
    assert_int_equal(archive.size % 4, 0);
    initramfs_free(&archive);
    assert_null(archive.data);
    assert_int_equal(archive.size, 0);
}

/* The bytes, written out by hand from the format's description. */
static void test_exact_bytes(void **state)
{
    (void)state;
    struct initramfs archive;
    initramfs_init(&archive);
    add_file(&archive, "/a", 0644, "xyz");
    struct error error = {{0}};
    assert_int_equal(initramfs_finish(&archive, &error), 0);
    static const char expected[] =
        "070701" "00000001" "000081A4" "00000000" "00000000" "00000001" "00000000"
        "00000003" "00000000" "00000000" "00000000" "00000000" "00000002" "00000000"
        "a\0" /* 110 + 2: aligned already */
        "xyz\0"
        "070701" "00000000" "00000000" "00000000" "00000000" "00000001" "00000000"
        "00000000" "00000000" "00000000" "00000000" "00000000" "0000000B" "00000000"
        "TRAILER!!!\0\0\0\0"; /* 110 + 11, padded to 124 */
    assert_int_equal(archive.size, sizeof(expected) - 1);
    assert_memory_equal(archive.data, expected, sizeof(expected) - 1);
    initramfs_free(&archive);
}

static void test_parents_are_added(void **state)
{
    (void)state;
    struct initramfs archive;
    struct error error = {{0}};
    initramfs_init(&archive);
    assert_int_equal(initramfs_add_directory(&archive, "modules", 0700, &error), 0);
    add_file(&archive, "/modules/kernel/fs/fuse/fuse.ko", 0644, "fuse");
    add_file(&archive, "/modules/kernel/fs/fuse/virtiofs.ko", 0644, "virtiofs");
    add_file(&archive, "/modules/kernel/drivers/virtio/virtio.ko", 0644, "virtio");
    finish_and_parse(&archive);
    static const char *const names[] = {
        "modules",
        "modules/kernel",
        "modules/kernel/fs",
        "modules/kernel/fs/fuse",
        "modules/kernel/fs/fuse/fuse.ko",
        "modules/kernel/fs/fuse/virtiofs.ko",
        "modules/kernel/drivers",
        "modules/kernel/drivers/virtio",
        "modules/kernel/drivers/virtio/virtio.ko",
    };
    assert_int_equal(parsed.count, sizeof(names) / sizeof(names[0]));
    for (size_t i = 0; i < parsed.count; i++)
        assert_string_equal(parsed.entries[i].name, names[i]);
    /* The one given keeps its mode; the ones made for the kernel get 0755. */
    assert_int_equal(parsed.entries[0].mode, 040700);
    assert_int_equal(parsed.entries[1].mode, 040755);
    assert_int_equal(parsed.entries[7].mode, 040755);
    initramfs_free(&archive);
}

static void expect_refused(struct initramfs *archive, const char *path, const char *mentions)
{
    struct error error = {{0}};
    size_t size = archive->size, names = archive->name_count;
    if (initramfs_add_file(archive, path, 0644, "x", 1, &error) != -1)
        fail_msg("%.40s accepted; expected an error mentioning \"%s\"", path, mentions);
    assert_error_mentions(&error, mentions);
    assert_int_equal(archive->size, size);
    assert_int_equal(archive->name_count, names);
}

static void test_bad_names(void **state)
{
    (void)state;
    struct initramfs archive;
    initramfs_init(&archive);
    add_file(&archive, "/etc/passwd", 0644, "root");

    expect_refused(&archive, "/", "root");
    expect_refused(&archive, "", "root");
    expect_refused(&archive, "a//b", "component");
    expect_refused(&archive, "a/./b", "component");
    expect_refused(&archive, "../b", "component");
    expect_refused(&archive, "a/..", "component");
    expect_refused(&archive, "dir/", "component");
    expect_refused(&archive, "TRAILER!!!", "ends the archive");
    expect_refused(&archive, "etc/passwd", "already in");
    expect_refused(&archive, "/etc", "already in");
    expect_refused(&archive, "/etc/passwd/x", "etc/passwd is a file");

    /* PATH_MAX with its NUL is the kernel's bound. */
    char *name = malloc(INITRAMFS_NAME_MAX + 2);
    assert_non_null(name);
    memset(name, 'n', INITRAMFS_NAME_MAX + 1);
    name[INITRAMFS_NAME_MAX + 1] = '\0';
    expect_refused(&archive, name, "longer than the kernel takes");
    name[INITRAMFS_NAME_MAX] = '\0';
    add_file(&archive, name, 0644, "longest");
    free(name);

    finish_and_parse(&archive);
    assert_int_equal(parsed.count, 3);
    assert_int_equal(strlen(parsed.entries[2].name), INITRAMFS_NAME_MAX);
    expect_refused(&archive, "late", "already finished");
    struct error error = {{0}};
    assert_int_equal(initramfs_finish(&archive, &error), -1);
    assert_error_mentions(&error, "finished twice");
    initramfs_free(&archive);
}

static void test_size_limit(void **state)
{
    (void)state;
    struct initramfs archive;
    struct error error = {{0}};
    initramfs_init(&archive);
    assert_int_equal(archive.limit, (size_t)512 << 20);
    /* Refused before a byte is read: data need not hold size bytes. */
    assert_int_equal(initramfs_add_file(&archive, "/huge", 0644, "x", archive.limit + 1, &error),
                     -1);
    assert_error_mentions(&error, "/huge: the initramfs would pass its limit of 512 MiB");
    assert_int_equal(archive.size, 0);

    archive.limit = 1024;
    add_file(&archive, "small", 0644, "12345");
    size_t size = archive.size;
    static uint8_t big[2000];
    assert_int_equal(initramfs_add_file(&archive, "big", 0644, big, sizeof(big), &error), -1);
    assert_error_mentions(&error, "big: the initramfs would pass its limit of 1024 bytes");
    /* Parents that fit but whose file does not are taken back too. */
    assert_int_equal(initramfs_add_file(&archive, "d1/d2/d3/big", 0644, big, 800, &error), -1);
    assert_int_equal(archive.size, size);
    assert_int_equal(archive.name_count, 1);
    /* Exactly up to the limit is fine, trailer included. */
    size_t trailer = 124;
    size_t room = archive.limit - archive.size - trailer - 112; /* header + 2-byte name */
    assert_int_equal(initramfs_add_file(&archive, "f", 0644, big, room, &error), 0);
    finish_and_parse(&archive);
    assert_int_equal(archive.size, archive.limit);
    assert_int_equal(parsed.count, 2);
    initramfs_free(&archive);
    assert_int_equal(archive.limit, 1024);

    /* No room left for the trailer is an error of its own. */
    initramfs_init(&archive);
    archive.limit = 235;
    add_file(&archive, "f", 0644, "");
    assert_int_equal(initramfs_finish(&archive, &error), -1);
    assert_error_mentions(&error, "initramfs: the initramfs would pass its limit");
    initramfs_free(&archive);
}

static void test_growth_keeps_data(void **state)
{
    (void)state;
    struct initramfs archive;
    initramfs_init(&archive);
    static uint8_t block[200000];
    for (size_t i = 0; i < sizeof(block); i++)
        block[i] = (uint8_t)(i * 7 + 3);
    struct error error = {{0}};
    char name[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "files/f%d", i);
        assert_int_equal(initramfs_add_file(&archive, name, 0644, block + i, 999, &error), 0);
    }
    assert_int_equal(initramfs_add_file(&archive, "block", 0644, block, sizeof(block), &error), 0);
    finish_and_parse(&archive);
    assert_int_equal(parsed.count, 102);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(parsed.entries[i + 1].size, 999);
        assert_memory_equal(parsed.entries[i + 1].data, block + i, 999);
    }
    assert_memory_equal(parsed.entries[101].data, block, sizeof(block));
    initramfs_free(&archive);
}

static void test_host_files(void **state)
{
    (void)state;
    char path[] = "/tmp/test_initramfs.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "from the host\n", 14), 14);
    close(fd);

    struct initramfs archive;
    struct error error = {{0}};
    initramfs_init(&archive);
    assert_int_equal(initramfs_add_host_file(&archive, "/lib/host.txt", 0640, path, &error), 0);
    assert_int_equal(initramfs_add_host_file(&archive, "/missing", 0644,
                                             "/tmp/test_initramfs.no-such-file", &error),
                     -1);
    assert_string_equal(error.message, "/tmp/test_initramfs.no-such-file: No such file or directory");
    assert_int_equal(initramfs_add_host_file(&archive, "/dir", 0644, "/tmp", &error), -1);
    assert_string_equal(error.message, "/tmp: not a regular file");
    /* The limit counts a host file's bytes before they are read. */
    archive.limit = archive.size + 132 + 10; /* "again": 116 + 16 */
    assert_int_equal(initramfs_add_host_file(&archive, "/again", 0644, path, &error), 0);
    assert_int_equal(initramfs_add_host_file(&archive, "/once-more", 0644, path, &error), -1);
    assert_error_mentions(&error, "/once-more: the initramfs would pass its limit");
    archive.limit = INITRAMFS_DEFAULT_LIMIT;
    finish_and_parse(&archive);
    unlink(path);

    assert_int_equal(parsed.count, 3);
    assert_string_equal(parsed.entries[1].name, "lib/host.txt");
    assert_int_equal(parsed.entries[1].mode, 0100640);
    assert_int_equal(parsed.entries[1].size, 14);
    assert_memory_equal(parsed.entries[1].data, "from the host\n", 14);
    assert_string_equal(parsed.entries[2].name, "again");
    initramfs_free(&archive);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_read_back),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_parents_are_added),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_growth_keeps_data),
        cmocka_unit_test(test_host_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
