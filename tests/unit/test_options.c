/* The command line: defaults, every option, and the ways it can be wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "options.h"

/* Parses a NULL-terminated list of arguments after the program name. */
static int parse_arguments(struct options *options, struct error *error, ...)
{
    static char *argv[64];
    int argc = 0;
    argv[argc++] = "guest";
    va_list args;
    va_start(args, error);
    const char *argument;
    while ((argument = va_arg(args, const char *)) != NULL)
        argv[argc++] = (char *)argument;
    va_end(args);
    argv[argc] = NULL;
    memset(error, 0, sizeof(*error));
    return options_parse(argc, argv, options, error);
}

#define PARSE(options, error, ...) parse_arguments(options, error, __VA_ARGS__, (const char *)NULL)

static void assert_error_mentions(const struct error *error, const char *text)
{
    if (!strstr(error->message, text))
        fail_msg("error \"%s\" does not mention \"%s\"", error->message, text);
}

static void test_defaults(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "vmlinuz"), 0);
    assert_string_equal(options.kernel_path, "vmlinuz");
    assert_null(options.initrd_path);
    assert_string_equal(options.cmdline, "");
    assert_false(options.cmdline_given);
    assert_int_equal(options.memory_size, 1ULL << 30);
    assert_int_equal(options.cpu_count, 1);
    assert_false(options.show_help);
    assert_false(options.show_version);
}

static void test_ramdisk_and_cmdline(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "-r", "initrd.img", "-c", "root=/dev/vda", "-c",
                           "quiet loglevel=3", "bzImage"),
                     0);
    assert_string_equal(options.initrd_path, "initrd.img");
    assert_string_equal(options.cmdline, "root=/dev/vda quiet loglevel=3");
    assert_true(options.cmdline_given);
    assert_string_equal(options.kernel_path, "bzImage");

    /* Long spellings, "=" forms, and the kernel before the options. */
    assert_int_equal(PARSE(&options, &error, "bzImage", "--initrd=a.cpio", "--cmdline", "x=1",
                           "--ramdisk", "b.cpio", "--cmdline=y=2"),
                     0);
    assert_string_equal(options.initrd_path, "b.cpio");
    assert_string_equal(options.cmdline, "x=1 y=2");
    assert_string_equal(options.kernel_path, "bzImage");

    /* An empty -c still counts as given. */
    assert_int_equal(PARSE(&options, &error, "-c", "", "k"), 0);
    assert_true(options.cmdline_given);
    assert_string_equal(options.cmdline, "");
}

static void test_cmdline_too_long(void **state)
{
    (void)state;
    static char half[OPTIONS_MAX_CMDLINE / 2 + 1];
    memset(half, 'a', sizeof(half) - 1);
    static char all[OPTIONS_MAX_CMDLINE];
    memset(all, 'b', sizeof(all) - 1); /* exactly the limit: 4095 characters */
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "-c", all, "k"), 0);
    assert_int_equal(strlen(options.cmdline), OPTIONS_MAX_CMDLINE - 1);
    assert_int_equal(PARSE(&options, &error, "-c", all, "-c", "x", "k"), -1);
    assert_error_mentions(&error, "-c");
    assert_int_equal(PARSE(&options, &error, "-c", half, "-c", half, "k"), -1);
    assert_error_mentions(&error, "longer than");
}

static void test_memory_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        uint64_t bytes;
    } good[] = {
        {"512M", 512ULL << 20},     {"2G", 2ULL << 30},         {"2g", 2ULL << 30},
        {"262144K", 256ULL << 20},  {"1073741824B", 1ULL << 30}, {"64", 64ULL << 20},
        {"16M", 16ULL << 20},       {"1GiB", 1ULL << 30},       {"1T", 1ULL << 40},
        {"3073M", 3073ULL << 20},   {"16388K", 16388ULL << 10},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct options options;
        struct error error;
        char argument[64];
        snprintf(argument, sizeof(argument), "--memory=%s", good[i].text);
        if (PARSE(&options, &error, argument, "k") != 0)
            fail_msg("--memory %s rejected: %s", good[i].text, error.message);
        assert_int_equal(options.memory_size, good[i].bytes);
    }
}

static void test_memory_rejected(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *mentions;
    } bad[] = {
        {"abc", "not a size"},
        {"10X", "not a size"},
        {"", "not a size"},
        {"-1G", "not a size"},
        {" 1G", "not a size"},
        {"1 G", "not a size"},
        {"1.5G", "not a size"},
        {"0x100M", "not a size"},
        {"99999999999999999999G", "not a size"},
        {"17179869184G", "not a size"}, /* 2^64 bytes: overflows after the shift */
        {"15M", "minimum"},
        {"0", "minimum"},
        {"16777215B", "minimum"},
        {"2T", "maximum"},
        {"16777217B", "4 KiB pages"},
        {"16385K", "4 KiB pages"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct options options;
        struct error error;
        if (PARSE(&options, &error, "--memory", bad[i].text, "k") != -1)
            fail_msg("--memory \"%s\" accepted as %llu bytes", bad[i].text,
                     (unsigned long long)options.memory_size);
        assert_error_mentions(&error, bad[i].mentions);
    }
}

static void test_parse_size_directly(void **state)
{
    (void)state;
    uint64_t bytes = 0;
    assert_int_equal(options_parse_size("1", &bytes), 0);
    assert_int_equal(bytes, 1ULL << 20);
    assert_int_equal(options_parse_size("0", &bytes), 0);
    assert_int_equal(bytes, 0);
    assert_int_equal(options_parse_size("7B", &bytes), 0);
    assert_int_equal(bytes, 7);
    assert_int_equal(options_parse_size("3k", &bytes), 0);
    assert_int_equal(bytes, 3072);
    assert_int_equal(options_parse_size("3KB", &bytes), 0);
    assert_int_equal(bytes, 3072);
    assert_int_equal(options_parse_size("3Kib", &bytes), 0);
    assert_int_equal(bytes, 3072);
    assert_int_equal(options_parse_size("5m", &bytes), 0);
    assert_int_equal(bytes, 5ULL << 20);
    assert_int_equal(options_parse_size("2t", &bytes), 0);
    assert_int_equal(bytes, 2ULL << 40);
    assert_int_equal(options_parse_size("18446744073709551615B", &bytes), 0);
    assert_int_equal(bytes, UINT64_MAX);
    assert_int_equal(options_parse_size("16777215T", &bytes), 0);
    assert_int_equal(bytes, 16777215ULL << 40);

    static const char *const bad[] = {
        "", "abc", "10X", "G", "-5", "+5", " 5", "5 ", "5GG", "5GiBB", "5Bi", "5BB", "5iB",
        "99999999999999999999", "18446744073709551616B", "16777216T", "17592186044416M",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bytes = 12345;
        if (options_parse_size(bad[i], &bytes) != -1)
            fail_msg("\"%s\" parsed as %llu", bad[i], (unsigned long long)bytes);
        assert_int_equal(bytes, 12345); /* untouched on failure */
    }
    assert_int_equal(options_parse_size(NULL, &bytes), -1);
}

static void test_cpus(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "--cpus", "4", "k"), 0);
    assert_int_equal(options.cpu_count, 4);
    assert_int_equal(PARSE(&options, &error, "--cpus=255", "k"), 0);
    assert_int_equal(options.cpu_count, 255);

    static const char *const bad[] = {"0", "-1", "abc", "", "4x", "1.5", " 2", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (PARSE(&options, &error, "--cpus", bad[i], "k") != -1)
            fail_msg("--cpus \"%s\" accepted as %d", bad[i], options.cpu_count);
        assert_error_mentions(&error, "--cpus");
    }
    assert_int_equal(PARSE(&options, &error, "--cpus", "0", "k"), -1);
    assert_error_mentions(&error, "at least one");
}

static void test_unknown_options(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "-x", "k"), -1);
    assert_error_mentions(&error, "-x");
    assert_error_mentions(&error, "unknown option");
    assert_int_equal(PARSE(&options, &error, "--bogus", "k"), -1);
    assert_error_mentions(&error, "--bogus");
    assert_error_mentions(&error, "unknown option");
    assert_int_equal(PARSE(&options, &error, "--bogus=1", "k"), -1);
    assert_error_mentions(&error, "unknown option");
    /* An unknown option after a good one is still caught. */
    assert_int_equal(PARSE(&options, &error, "--cpus", "2", "-Z", "k"), -1);
    assert_error_mentions(&error, "-Z");
}

static void test_missing_arguments(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "k", "-r"), -1);
    assert_error_mentions(&error, "-r");
    assert_error_mentions(&error, "needs an argument");
    assert_int_equal(PARSE(&options, &error, "k", "-c"), -1);
    assert_error_mentions(&error, "-c");
    assert_error_mentions(&error, "needs an argument");
    assert_int_equal(PARSE(&options, &error, "k", "--ramdisk"), -1);
    assert_error_mentions(&error, "needs an argument");
}

/* A long option whose val is not a character (--memory, --cpus) must still be
 * named when its argument is missing. */
static void test_missing_argument_of_long_only_option(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "k", "--memory"), -1);
    assert_error_mentions(&error, "needs an argument");
    assert_error_mentions(&error, "memory");
    assert_int_equal(PARSE(&options, &error, "k", "--cpus"), -1);
    assert_error_mentions(&error, "needs an argument");
    assert_error_mentions(&error, "cpus");
    /* Likewise an argument given to --version, which takes none. */
    assert_int_equal(PARSE(&options, &error, "k", "--version=1"), -1);
    assert_error_mentions(&error, "version");
}

static void test_kernel_count(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "--cpus", "2"), -1);
    assert_error_mentions(&error, "no kernel");
    assert_int_equal(parse_arguments(&options, &error, (const char *)NULL), -1);
    assert_error_mentions(&error, "no kernel");
    assert_int_equal(PARSE(&options, &error, "one", "two"), -1);
    assert_error_mentions(&error, "two");
    assert_error_mentions(&error, "one");
    /* "--" ends the options: a kernel file named like an option. */
    assert_int_equal(PARSE(&options, &error, "--", "-weird"), 0);
    assert_string_equal(options.kernel_path, "-weird");
}

static void test_help_and_version(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "--help"), 0);
    assert_true(options.show_help);
    assert_int_equal(PARSE(&options, &error, "-h"), 0);
    assert_true(options.show_help);
    /* --help wins over what follows, even a bad option. */
    assert_int_equal(PARSE(&options, &error, "-h", "--bogus"), 0);
    assert_true(options.show_help);
    assert_int_equal(PARSE(&options, &error, "--version"), 0);
    assert_true(options.show_version);
    assert_false(options.show_help);
}

static void test_reparse_starts_fresh(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "-c", "a", "--memory", "2G", "--cpus", "3", "k"), 0);
    assert_int_equal(PARSE(&options, &error, "k2"), 0);
    assert_string_equal(options.cmdline, "");
    assert_int_equal(options.memory_size, 1ULL << 30);
    assert_int_equal(options.cpu_count, 1);
    assert_string_equal(options.kernel_path, "k2");
}

static void test_disks(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "-b", "root.ext2", "--block", "data.img,ro", "-b",
                           "odd,name.img,rw", "-b", "keep,suffix", "bzImage"),
                     0);
    assert_int_equal(options.disk_count, 4);
    assert_string_equal(options.disks[0].path, "root.ext2");
    assert_false(options.disks[0].read_only);
    assert_string_equal(options.disks[1].path, "data.img");
    assert_true(options.disks[1].read_only);
    /* Only ",ro" and ",rw" are options; other commas belong to the name. */
    assert_string_equal(options.disks[2].path, "odd,name.img");
    assert_false(options.disks[2].read_only);
    assert_string_equal(options.disks[3].path, "keep,suffix");

    assert_int_equal(PARSE(&options, &error, "-b", ",ro", "bzImage"), -1);
    assert_error_mentions(&error, "-b: no file name");
}

static void test_too_many_disks(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    static char *argv[OPTIONS_MAX_DISKS * 2 + 8];
    int argc = 0;
    argv[argc++] = "guest";
    for (int i = 0; i <= OPTIONS_MAX_DISKS; i++) {
        argv[argc++] = "-b";
        argv[argc++] = "disk.img";
    }
    argv[argc++] = "bzImage";
    argv[argc] = NULL;
    assert_int_equal(options_parse(argc, argv, &options, &error), -1);
    assert_error_mentions(&error, "too many disks");
}

static void test_balloon_options(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "bzImage"), 0);
    assert_false(options.balloon);
    assert_int_equal(options.balloon_pages_to_keep, 1024);

    assert_int_equal(PARSE(&options, &error, "-m", "2", "-p", "4096", "bzImage"), 0);
    assert_true(options.balloon);
    assert_int_equal(options.balloon_poll_seconds, 2);
    assert_int_equal(options.balloon_pages_to_keep, 4096);
    assert_false(options.balloon_deflate_on_oom);

    assert_int_equal(PARSE(&options, &error, "-d", "bzImage"), 0);
    assert_true(options.balloon);
    assert_true(options.balloon_deflate_on_oom);
    assert_int_equal(options.balloon_poll_seconds, 0);

    assert_int_equal(PARSE(&options, &error, "-m", "0", "bzImage"), -1);
    assert_error_mentions(&error, "-m 0");
    assert_int_equal(PARSE(&options, &error, "-m", "soon", "bzImage"), -1);
    assert_error_mentions(&error, "-m soon");
    assert_int_equal(PARSE(&options, &error, "-m", "1", "-p", "-5", "bzImage"), -1);
    assert_error_mentions(&error, "-p -5");
    assert_int_equal(PARSE(&options, &error, "-p", "100", "bzImage"), -1);
    assert_error_mentions(&error, "only means something with -m");
}

static void test_console_option(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "bzImage"), 0);
    assert_false(options.virtio_console);
    assert_int_equal(PARSE(&options, &error, "--console=virtio", "bzImage"), 0);
    assert_true(options.virtio_console);
    assert_int_equal(PARSE(&options, &error, "--console", "serial", "bzImage"), 0);
    assert_false(options.virtio_console);
    assert_int_equal(PARSE(&options, &error, "--console=usb", "bzImage"), -1);
    assert_error_mentions(&error, "--console=usb");
}

static void test_graphics_options(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "bzImage"), 0);
    assert_false(options.graphics);
    assert_int_equal(PARSE(&options, &error, "-g", "bzImage"), 0);
    assert_true(options.graphics);
    assert_string_equal(options.display_spec, "sdl");
    assert_int_equal(options.display_width, 1024);
    assert_int_equal(options.display_height, 768);
    assert_null(options.screenshot_path);

    /* --display implies -g. */
    assert_int_equal(PARSE(&options, &error, "--display=vnc=unix:/tmp/s", "--display-size",
                           "800x600", "--screenshot", "out.png", "bzImage"),
                     0);
    assert_true(options.graphics);
    assert_string_equal(options.display_spec, "vnc=unix:/tmp/s");
    assert_int_equal(options.display_width, 800);
    assert_int_equal(options.display_height, 600);
    assert_string_equal(options.screenshot_path, "out.png");

    static const char *const bad_sizes[] = {"800", "x600", "800x", "800x600x", "15x600",
                                            "800x9000", "-800x600", "800 x600", "0x0"};
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        assert_int_equal(PARSE(&options, &error, "-g", "--display-size", bad_sizes[i], "bzImage"),
                         -1);
        assert_error_mentions(&error, "not WIDTHxHEIGHT");
    }
    assert_int_equal(PARSE(&options, &error, "--screenshot", "a.png", "bzImage"), -1);
    assert_error_mentions(&error, "--screenshot: only means something with -g");
    assert_int_equal(PARSE(&options, &error, "--display-size", "800x600", "bzImage"), -1);
    assert_error_mentions(&error, "--display-size: only means something with -g");
    assert_int_equal(PARSE(&options, &error, "--display=", "bzImage"), -1);
    assert_error_mentions(&error, "needs a display");
}

static void test_debug_exit_and_test_devices(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "k"), 0);
    assert_false(options.debug_exit);
    assert_false(options.test_devices);
    assert_int_equal(PARSE(&options, &error, "--debug-exit", "k"), 0);
    assert_true(options.debug_exit);
    assert_int_equal(options.debug_exit_port, 0xf4);
    assert_false(options.test_devices);
    assert_int_equal(PARSE(&options, &error, "--debug-exit=0x501", "k"), 0);
    assert_int_equal(options.debug_exit_port, 0x501);
    assert_int_equal(PARSE(&options, &error, "--debug-exit=80", "k"), 0);
    assert_int_equal(options.debug_exit_port, 80);
    assert_int_equal(PARSE(&options, &error, "--debug-exit=0xfffc", "k"), 0);
    assert_int_equal(options.debug_exit_port, 0xfffc);
    /* --test-devices implies the exit port at 0xf4, unless one was given. */
    assert_int_equal(PARSE(&options, &error, "--test-devices", "k"), 0);
    assert_true(options.test_devices);
    assert_true(options.debug_exit);
    assert_int_equal(options.debug_exit_port, 0xf4);
    assert_int_equal(PARSE(&options, &error, "--debug-exit=0x501", "--test-devices", "k"), 0);
    assert_int_equal(options.debug_exit_port, 0x501);
    assert_int_equal(PARSE(&options, &error, "--test-devices", "--debug-exit=0x501", "k"), 0);
    assert_int_equal(options.debug_exit_port, 0x501);
    assert_true(options.test_devices);

    static const char *const bad[] = {"--debug-exit=", "--debug-exit=0xfffd",
                                      "--debug-exit=0x10000", "--debug-exit=-1",
                                      "--debug-exit=port", "--debug-exit=0xf4x",
                                      "--debug-exit= 244", "--debug-exit=99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (PARSE(&options, &error, bad[i], "k") != -1)
            fail_msg("%s accepted as port 0x%x", bad[i], options.debug_exit_port);
        assert_error_mentions(&error, "--debug-exit=");
        assert_error_mentions(&error, "not an I/O port");
    }
    assert_int_equal(PARSE(&options, &error, "--test-devices=1", "k"), -1);
    assert_error_mentions(&error, "--test-devices");
}

static void test_gdb_and_paused(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "k"), 0);
    assert_null(options.gdb_spec);
    assert_false(options.paused);
    assert_int_equal(PARSE(&options, &error, "--gdb", "1234", "k"), 0);
    assert_string_equal(options.gdb_spec, "1234");
    assert_false(options.paused);
    assert_int_equal(PARSE(&options, &error, "--gdb", "unix:/tmp/g.sock", "--paused", "k"), 0);
    assert_string_equal(options.gdb_spec, "unix:/tmp/g.sock");
    assert_true(options.paused);
    assert_int_equal(PARSE(&options, &error, "--gdb=tcp::1234", "k"), 0);
    assert_null(options.qmp_spec);
    assert_int_equal(PARSE(&options, &error, "--qmp", "unix:/tmp/q.sock", "--paused", "k"), 0);
    assert_string_equal(options.qmp_spec, "unix:/tmp/q.sock");
    assert_true(options.paused);
    assert_int_equal(PARSE(&options, &error, "--qmp", "4444", "--gdb", "1234", "k"), 0);
    assert_int_equal(PARSE(&options, &error, "--qmp=unix:", "k"), -1);
    assert_error_mentions(&error, "--qmp ");
    assert_int_equal(PARSE(&options, &error, "--qmp", "example.org:1", "k"), -1);
    assert_error_mentions(&error, "numeric");
    /* Nothing could continue a paused VM without a debugger or QMP. */
    assert_int_equal(PARSE(&options, &error, "--paused", "k"), -1);
    assert_error_mentions(&error, "--paused");
    assert_error_mentions(&error, "--gdb");
    static const char *const bad[] = {"--gdb=", "--gdb=0", "--gdb=65536", "--gdb=port",
                                      "--gdb=unix:", "--gdb=localhost:1234", "--gdb=1.2.3:99"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (PARSE(&options, &error, bad[i], "k") != -1)
            fail_msg("%s accepted", bad[i]);
        assert_error_mentions(&error, "--gdb ");
    }
}

static void test_sandbox_options(void **state)
{
    (void)state;
    struct options options;
    struct error error;
    assert_int_equal(PARSE(&options, &error, "k"), 0);
    assert_int_equal(options.sandbox, SANDBOX_ENFORCE); /* on unless asked */
    assert_int_equal(PARSE(&options, &error, "--no-sandbox", "k"), 0);
    assert_int_equal(options.sandbox, SANDBOX_OFF);
    assert_int_equal(PARSE(&options, &error, "--seccomp=log", "k"), 0);
    assert_int_equal(options.sandbox, SANDBOX_LOG);
    assert_int_equal(PARSE(&options, &error, "--seccomp=kill", "k"), 0);
    assert_int_equal(options.sandbox, SANDBOX_ENFORCE);
    assert_int_equal(PARSE(&options, &error, "--seccomp=trace", "k"), -1);
    assert_error_mentions(&error, "--seccomp=trace");
    assert_int_equal(PARSE(&options, &error, "--seccomp=", "k"), -1);
    assert_error_mentions(&error, "--seccomp=");
    /* Contradictory: which one would the user get? */
    assert_int_equal(PARSE(&options, &error, "--no-sandbox", "--seccomp=log", "k"), -1);
    assert_error_mentions(&error, "--no-sandbox");
    assert_int_equal(PARSE(&options, &error, "--no-sandbox=1", "k"), -1);
    assert_null(options.user_spec);
    assert_int_equal(PARSE(&options, &error, "--user", "nobody:nogroup", "k"), 0);
    assert_string_equal(options.user_spec, "nobody:nogroup");
    assert_int_equal(PARSE(&options, &error, "--user=", "k"), -1);
    assert_error_mentions(&error, "--user");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_ramdisk_and_cmdline),
        cmocka_unit_test(test_cmdline_too_long),
        cmocka_unit_test(test_memory_sizes),
        cmocka_unit_test(test_memory_rejected),
        cmocka_unit_test(test_parse_size_directly),
        cmocka_unit_test(test_cpus),
        cmocka_unit_test(test_unknown_options),
        cmocka_unit_test(test_missing_arguments),
        cmocka_unit_test(test_missing_argument_of_long_only_option),
        cmocka_unit_test(test_kernel_count),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_reparse_starts_fresh),
        cmocka_unit_test(test_disks),
        cmocka_unit_test(test_too_many_disks),
        cmocka_unit_test(test_balloon_options),
        cmocka_unit_test(test_console_option),
        cmocka_unit_test(test_graphics_options),
        cmocka_unit_test(test_debug_exit_and_test_devices),
        cmocka_unit_test(test_gdb_and_paused),
        cmocka_unit_test(test_sandbox_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
