/* The --exec initramfs: the /exec files the init reads, and the modules
 * it loads, resolved from a fake modules directory made in /tmp (closure,
 * load order, built-ins skipped, a directory that is not one).  The
 * archive is read back with tests/unit/cpio_read.h. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/exec_image.h"
#include "cpio_read.h"

static struct cpio_read_archive parsed;
static char moddir[64];
static const char fake_init[] = "\x7f" "ELF fake init";

static void assert_error_mentions(const struct error *error, const char *text)
{
    if (!strstr(error->message, text))
        fail_msg("error \"%s\" does not mention \"%s\"", error->message, text);
}

static void write_file(const char *relative, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", moddir, relative);
    for (char *slash = strchr(path + strlen(moddir) + 1, '/'); slash;
         slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
    }
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static int make_moddir(void **state)
{
    (void)state;
    strcpy(moddir, "/tmp/test_exec_image.XXXXXX");
    return mkdtemp(moddir) ? 0 : -1;
}

static int remove_moddir(void **state)
{
    (void)state;
    return nftw(moddir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Debian's shape: virtio and virtio_ring are modules, every module's line
 * lists its whole closure, the one to load last first. */
static void write_debian_like_modules(void)
{
    write_file("modules.dep",
               "kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko "
               "kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n"
               "kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n"
               "kernel/net/unrelated.ko: kernel/drivers/virtio/virtio.ko\n"
               "kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko\n"
               "kernel/drivers/virtio/virtio_ring.ko:\n"
               "\n"
               "kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko kernel/drivers/virtio/virtio.ko "
               "kernel/drivers/virtio/virtio_ring.ko\n"
               "kernel/fs/fuse/fuse.ko:\n"
               "kernel/fs/overlayfs/overlay.ko:\n"
               "kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko "
               "kernel/drivers/virtio/virtio_ring.ko\n");
    write_file("modules.builtin", "kernel/drivers/block/virtio_blk.ko\nkernel/lib/crc32.ko\n");
    static const char *const kos[] = {
        "kernel/drivers/virtio/virtio_pci.ko", "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
        "kernel/net/unrelated.ko",             "kernel/drivers/virtio/virtio.ko",
        "kernel/drivers/virtio/virtio_ring.ko", "kernel/fs/fuse/virtiofs.ko",
        "kernel/fs/fuse/fuse.ko",              "kernel/fs/overlayfs/overlay.ko",
        "kernel/drivers/char/virtio_console.ko"};
    for (size_t i = 0; i < sizeof(kos) / sizeof(kos[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "module %s", kos[i]);
        write_file(kos[i], text);
    }
}

static struct exec_image_config base_config(void)
{
    return (struct exec_image_config){
        .init = fake_init,
        .init_size = sizeof(fake_init) - 1,
        .command = "make -C src && echo done",
        .cwd = "/home/user/project",
        .path = "/usr/local/bin:/usr/bin:/bin",
        .home = "/home/user",
        .term = "xterm-256color",
    };
}

/* The last archive built: parsed points into it. */
static struct initramfs built;

static void build(const struct exec_image_config *config)
{
    struct error error = {{0}};
    initramfs_free(&built);
    if (exec_image_build(config, &built, &error))
        fail_msg("exec_image_build: %s", error.message);
    if (cpio_read(built.data, built.size, &parsed))
        fail_msg("archive does not read back: %s", parsed.problem);
}

static int free_built(void **state)
{
    (void)state;
    initramfs_free(&built);
    return 0;
}

static void expect_build_error(const struct exec_image_config *config, const char *message)
{
    struct initramfs archive;
    struct error error = {{0}};
    if (exec_image_build(config, &archive, &error) != -1)
        fail_msg("built; expected \"%s\"", message);
    assert_error_mentions(&error, message);
    assert_null(archive.data);
}

/* The file's bytes as a string (they hold no NUL here). */
static const char *contents(const char *name)
{
    static char text[4096];
    const struct cpio_read_entry *entry = cpio_read_find(&parsed, name);
    if (!entry)
        fail_msg("%s is not in the archive", name);
    assert_int_equal(entry->mode, 0100644);
    assert_true(entry->size < sizeof(text));
    memcpy(text, entry->data, entry->size);
    text[entry->size] = '\0';
    return text;
}

static void test_exec_files(void **state)
{
    (void)state;
    struct exec_share shares[] = {{"data", "/mnt/data", false}, {"ref", "/srv/ref", true}};
    struct exec_image_config config = base_config();
    config.shares = shares;
    config.share_count = 2;
    build(&config);

    const struct cpio_read_entry *init = cpio_read_find(&parsed, "init");
    assert_non_null(init);
    assert_int_equal(init->mode, 0100755);
    assert_int_equal(init->size, sizeof(fake_init) - 1);
    assert_memory_equal(init->data, fake_init, sizeof(fake_init) - 1);
    const struct cpio_read_entry *console = cpio_read_find(&parsed, "dev/console");
    assert_non_null(console);
    assert_int_equal(console->mode, 020600);
    assert_int_equal(console->rdev_major, 5);
    assert_int_equal(console->rdev_minor, 1);
    assert_int_equal(cpio_read_find(&parsed, "exec")->mode, 040755);

    assert_string_equal(contents("exec/command"), "make -C src && echo done");
    assert_string_equal(contents("exec/cwd"), "/home/user/project");
    assert_string_equal(contents("exec/env"), "PATH=/usr/local/bin:/usr/bin:/bin\n"
                                              "HOME=/home/user\n"
                                              "TERM=xterm-256color\n");
    assert_string_equal(contents("exec/root-tag"), "root");
    assert_string_equal(contents("exec/shares"), "data /mnt/data\nref /srv/ref ro\n");
    /* No modules directory: nothing to load. */
    assert_string_equal(contents("exec/modules"), "");
    assert_null(cpio_read_find(&parsed, "modules"));
    assert_int_equal(parsed.count, 10);
}

static void test_empty_settings(void **state)
{
    (void)state;
    struct exec_image_config config = base_config();
    config.command = "";
    config.path = NULL;
    config.term = NULL;
    config.root_tag = "hostroot";
    config.cwd = "/";
    build(&config);
    assert_string_equal(contents("exec/command"), "");
    assert_string_equal(contents("exec/cwd"), "/");
    assert_string_equal(contents("exec/env"), "HOME=/home/user\n");
    assert_string_equal(contents("exec/root-tag"), "hostroot");
    assert_string_equal(contents("exec/shares"), "");
    /* A command is taken byte for byte, newlines and quotes included. */
    config.command = "for i in 1 2; do\n  echo \"$i\"\ndone\n";
    build(&config);
    assert_string_equal(contents("exec/command"), "for i in 1 2; do\n  echo \"$i\"\ndone\n");
}

static void test_bad_settings(void **state)
{
    (void)state;
    struct exec_image_config config = base_config();
    config.cwd = "relative/dir";
    expect_build_error(&config, "--exec: working directory \"relative/dir\" is not an absolute");
    config = base_config();
    config.home = "/home/a\nb";
    expect_build_error(&config, "--exec: HOME has a newline");
    config = base_config();
    config.root_tag = "";
    expect_build_error(&config, "root tag \"\": a virtio-fs tag is 1 to 36 bytes");
    config.root_tag = "0123456789012345678901234567890123456";
    expect_build_error(&config, "is 1 to 36 bytes");
    config.root_tag = "two words";
    expect_build_error(&config, "root tag \"two words\": spaces");

    struct exec_share share = {"data", "mnt", false};
    config = base_config();
    config.shares = &share;
    config.share_count = 1;
    expect_build_error(&config, "share data: mount point \"mnt\" is not an absolute path");
    share.mount_point = "/";
    expect_build_error(&config, "mount point \"/\" is not an absolute path below /");
    share.mount_point = "/my dir";
    expect_build_error(&config, "share data: mount point \"/my dir\" has spaces");
    share = (struct exec_share){"a\tb", "/mnt", true};
    expect_build_error(&config, "share tag \"a\tb\": spaces");

    config = base_config();
    config.init = "#!/bin/sh\n";
    config.init_size = 10;
    expect_build_error(&config, "the embedded init is not an ELF program");
    config.init = NULL;
    config.init_size = 0;
    expect_build_error(&config, "not an ELF program (0 bytes)");
}

static void test_module_closure_and_order(void **state)
{
    (void)state;
    write_debian_like_modules();
    struct exec_image_config config = base_config();
    config.modules_dir = moddir;
    config.modules_dir_given = true;
    build(&config);
    assert_string_equal(contents("exec/modules"),
                        "/modules/kernel/drivers/virtio/virtio_ring.ko\n"
                        "/modules/kernel/drivers/virtio/virtio.ko\n"
                        "/modules/kernel/drivers/virtio/virtio_pci_modern_dev.ko\n"
                        "/modules/kernel/drivers/virtio/virtio_pci.ko\n"
                        "/modules/kernel/fs/fuse/fuse.ko\n"
                        "/modules/kernel/fs/fuse/virtiofs.ko\n"
                        "/modules/kernel/fs/overlayfs/overlay.ko\n"
                        "/modules/kernel/drivers/char/virtio_console.ko\n");
    /* Each file is the module's bytes; nothing else of the directory. */
    assert_string_equal(contents("modules/kernel/fs/fuse/virtiofs.ko"),
                        "module kernel/fs/fuse/virtiofs.ko");
    assert_string_equal(contents("modules/kernel/drivers/virtio/virtio_ring.ko"),
                        "module kernel/drivers/virtio/virtio_ring.ko");
    assert_null(cpio_read_find(&parsed, "modules/kernel/net/unrelated.ko"));
    assert_null(cpio_read_find(&parsed, "modules/modules.dep"));
    assert_null(cpio_read_find(&parsed, "modules/kernel/drivers/block/virtio_blk.ko"));
    assert_int_equal(cpio_read_find(&parsed, "modules/kernel/fs")->mode, 040755);
}

/* Only direct dependencies listed (a hand-made directory), '-' in a file
 * name, a compressed module, no modules.builtin. */
static void test_hand_made_modules(void **state)
{
    (void)state;
    write_file("modules.dep", "virtio-pci.ko: virtio.ko\n"
                              "virtio.ko: ring.ko\n"
                              "ring.ko:\n"
                              "extra/overlay.ko.xz:\n"
                              "fs/virtiofs.ko: fs/fuse.ko virtio.ko\n"
                              "fs/fuse.ko:\n");
    static const char *const kos[] = {"virtio-pci.ko", "virtio.ko", "ring.ko",
                                      "extra/overlay.ko.xz", "fs/virtiofs.ko", "fs/fuse.ko"};
    for (size_t i = 0; i < sizeof(kos) / sizeof(kos[0]); i++)
        write_file(kos[i], kos[i]);
    struct exec_image_config config = base_config();
    config.modules_dir = moddir;
    build(&config);
    assert_string_equal(contents("exec/modules"), "/modules/ring.ko\n"
                                                  "/modules/virtio.ko\n"
                                                  "/modules/virtio-pci.ko\n"
                                                  "/modules/fs/fuse.ko\n"
                                                  "/modules/fs/virtiofs.ko\n"
                                                  "/modules/extra/overlay.ko.xz\n");
    assert_string_equal(contents("modules/extra/overlay.ko.xz"), "extra/overlay.ko.xz");
}

static void test_all_built_in(void **state)
{
    (void)state;
    write_file("modules.dep", "kernel/net/unrelated.ko:\n");
    write_file("modules.builtin", "kernel/drivers/virtio/virtio_pci.ko\n"
                                  "kernel/fs/fuse/virtiofs.ko\n"
                                  "kernel/fs/overlayfs/overlay.ko\n"
                                  "kernel/drivers/char/virtio_console.ko\n"
                                  "kernel/drivers/block/virtio_blk.ko\n");
    struct exec_image_config config = base_config();
    config.modules_dir = moddir;
    config.modules_dir_given = true;
    build(&config);
    assert_string_equal(contents("exec/modules"), "");
    assert_null(cpio_read_find(&parsed, "modules"));
}

static void test_not_a_modules_directory(void **state)
{
    (void)state;
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", moddir);
    struct exec_image_config config = base_config();
    config.modules_dir = missing;
    config.modules_dir_given = true;
    char message[256];
    snprintf(message, sizeof(message), "%s: not a modules directory (no modules.dep)", missing);
    expect_build_error(&config, message);
    /* A directory without modules.dep is not one either. */
    config.modules_dir = moddir;
    snprintf(message, sizeof(message), "%s: not a modules directory (no modules.dep)", moddir);
    expect_build_error(&config, message);
    /* Nor is a file. */
    write_file("file", "x");
    char file[128];
    snprintf(file, sizeof(file), "%s/file", moddir);
    config.modules_dir = file;
    expect_build_error(&config, "/file: not a modules directory (no modules.dep)");

    /* The default directory beside a kernel with its drivers built in. */
    config.modules_dir = missing;
    config.modules_dir_given = false;
    build(&config);
    assert_string_equal(contents("exec/modules"), "");
}

static void test_broken_modules_directory(void **state)
{
    (void)state;
    write_file("modules.dep", "kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko\n");
    struct exec_image_config config = base_config();
    config.modules_dir = moddir;
    /* Broken is an error even when the directory is only the default. */
    expect_build_error(&config, "/modules.dep: kernel/fs/fuse/virtiofs.ko needs "
                                "kernel/fs/fuse/fuse.ko, which has no line of its own");
    write_file("modules.dep", "kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko\n"
                              "kernel/fs/fuse/fuse.ko:\n");
    write_file("kernel/fs/fuse/fuse.ko", "fuse");
    char message[256];
    snprintf(message, sizeof(message), "%s/kernel/fs/fuse/virtiofs.ko: No such file or directory",
             moddir);
    expect_build_error(&config, message);
    write_file("modules.dep", "virtiofs.ko\n");
    expect_build_error(&config, "/modules.dep: line 1 is not \"MODULE: DEPENDENCIES\"");
    /* A cycle ends; each module comes once. */
    write_file("modules.dep", "a/virtiofs.ko: b/fuse.ko\nb/fuse.ko: a/virtiofs.ko\n");
    write_file("a/virtiofs.ko", "a");
    write_file("b/fuse.ko", "b");
    build(&config);
    assert_string_equal(contents("exec/modules"), "/modules/b/fuse.ko\n/modules/a/virtiofs.ko\n");
}

/* Against the Debian kernel's own directory, when scripts/mklinux.sh has
 * unpacked it here. */
static void test_debian_modules(void **state)
{
    (void)state;
    const char *home = getenv("HOME");
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/.cache/guest/linux/modules", home ? home : "/");
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
        skip();
        return;
    }
    struct exec_image_config config = base_config();
    config.modules_dir = dir;
    config.modules_dir_given = true;
    build(&config);
    const char *list = contents("exec/modules");
    const char *ring = strstr(list, "/virtio_ring.ko\n");
    const char *virtio = strstr(list, "/virtio.ko\n");
    const char *pci = strstr(list, "/virtio_pci.ko\n");
    const char *fuse = strstr(list, "/fuse.ko\n");
    const char *virtiofs = strstr(list, "/virtiofs.ko\n");
    assert_non_null(ring);
    assert_non_null(virtio);
    assert_non_null(pci);
    assert_non_null(fuse);
    assert_non_null(virtiofs);
    assert_true(ring < virtio && virtio < pci && fuse < virtiofs && virtio < virtiofs);
    assert_non_null(strstr(list, "/modules/kernel/fs/overlayfs/overlay.ko\n"));
}

static void test_default_modules_dir(void **state)
{
    (void)state;
    char out[64];
    struct error error = {{0}};
    assert_int_equal(exec_image_default_modules_dir("/home/u/.cache/guest/linux/vmlinuz", out,
                                                    sizeof(out), &error),
                     0);
    assert_string_equal(out, "/home/u/.cache/guest/linux/modules");
    assert_int_equal(exec_image_default_modules_dir("vmlinuz", out, sizeof(out), &error), 0);
    assert_string_equal(out, "modules");
    assert_int_equal(exec_image_default_modules_dir("/bzImage", out, sizeof(out), &error), 0);
    assert_string_equal(out, "/modules");
    assert_int_equal(exec_image_default_modules_dir("/a/very/long/path/to/a/kernel/image/bzImage",
                                                    out, 16, &error),
                     -1);
    assert_error_mentions(&error, "bzImage: path too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_files),
        cmocka_unit_test(test_empty_settings),
        cmocka_unit_test(test_bad_settings),
        cmocka_unit_test_setup_teardown(test_module_closure_and_order, make_moddir,
                                        remove_moddir),
        cmocka_unit_test_setup_teardown(test_hand_made_modules, make_moddir, remove_moddir),
        cmocka_unit_test_setup_teardown(test_all_built_in, make_moddir, remove_moddir),
        cmocka_unit_test_setup_teardown(test_not_a_modules_directory, make_moddir,
                                        remove_moddir),
        cmocka_unit_test_setup_teardown(test_broken_modules_directory, make_moddir,
                                        remove_moddir),
        cmocka_unit_test(test_debian_modules),
        cmocka_unit_test(test_default_modules_dir),
    };
    return cmocka_run_group_tests(tests, NULL, free_built);
}
