/* The bzImage loader: header checks on synthetic images, what lands in guest
 * memory, and the default command line. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/linux.h"
#include "memory.h"
#include "x86/e820.h"

#include "synthetic_images.h"

#define MEMORY_SIZE (64ULL << 20)
#define ZERO_PAGE 0x7000
#define CMDLINE_ADDRESS 0x20000
#define RSDP_ADDRESS 0xe0000

static uint8_t image[SYNTHETIC_BZ_SIZE + 4096];

static void assert_error_mentions(const struct error *error, const char *text)
{
    if (!strstr(error->message, text))
        fail_msg("error \"%s\" does not mention \"%s\"", error->message, text);
}

static int parse(size_t size, struct bzimage_info *info, struct error *error)
{
    memset(error, 0, sizeof(*error));
    return bzimage_parse(image, size, info, error);
}

static void expect_rejected(size_t size, const char *mentions)
{
    struct bzimage_info info;
    struct error error;
    if (parse(size, &info, &error) != -1)
        fail_msg("image of %zu bytes accepted; expected an error mentioning \"%s\"", size,
                 mentions);
    assert_error_mentions(&error, mentions);
}

static void test_parse_valid(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    assert_true(bzimage_is_bzimage(image, SYNTHETIC_BZ_SIZE));
    struct bzimage_info info;
    struct error error;
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE, &info, &error), 0);
    assert_int_equal(info.protocol_version, 0x020f);
    assert_int_equal(info.setup_size, SYNTHETIC_BZ_SETUP_SIZE);
    assert_int_equal(info.kernel_size, SYNTHETIC_BZ_KERNEL_SIZE);
    assert_int_equal(info.header_end, 0x202 + SYNTHETIC_BZ_JUMP);
    assert_int_equal(info.load_address, SYNTHETIC_BZ_PREF_ADDRESS);
    assert_int_equal(info.init_size, SYNTHETIC_BZ_INIT_SIZE);
    assert_int_equal(info.initrd_address_max, SYNTHETIC_BZ_INITRD_ADDR_MAX);
    assert_int_equal(info.cmdline_size, SYNTHETIC_BZ_CMDLINE_SIZE);
    assert_true(info.relocatable);
    assert_true(info.xloadflags & 1);
    assert_true(info.loadflags & 1);

    /* Trailing bytes after the kernel (signatures, padding) are allowed. */
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE + 4096, &info, &error), 0);
    assert_int_equal(info.kernel_size, SYNTHETIC_BZ_KERNEL_SIZE + 4096);
}

static void test_parse_field_variants(void **state)
{
    (void)state;
    struct bzimage_info info;
    struct error error;

    /* setup_sects 0 means 4. */
    synthetic_bzimage(image);
    image[0x1f1] = 0;
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE, &info, &error), 0);
    assert_int_equal(info.setup_size, 5 * 512);

    /* A larger setup: the kernel starts later in the file. */
    synthetic_bzimage(image);
    image[0x1f1] = 6;
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE + 1024, &info, &error), 0);
    assert_int_equal(info.setup_size, 7 * 512);
    assert_int_equal(info.kernel_size, SYNTHETIC_BZ_SIZE + 1024 - 7 * 512);

    /* initrd_addr_max 0 means the old default. */
    synthetic_bzimage(image);
    synthetic_put32(image + 0x22c, 0);
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE, &info, &error), 0);
    assert_int_equal(info.initrd_address_max, 0x37ffffff);

    /* A relocatable kernel's preferred address is rounded up to its alignment. */
    synthetic_bzimage(image);
    synthetic_put64(image + 0x258, 0x1100000);
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE, &info, &error), 0);
    assert_int_equal(info.load_address, 0x1200000);

    /* A non-relocatable kernel goes exactly where it asks, alignment unchecked. */
    synthetic_bzimage(image);
    image[0x234] = 0;
    synthetic_put64(image + 0x258, 0x1100000);
    synthetic_put32(image + 0x230, 0);
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE, &info, &error), 0);
    assert_int_equal(info.load_address, 0x1100000);
    assert_false(info.relocatable);

    /* The longest jump the header allows still lies inside the setup. */
    synthetic_bzimage(image);
    image[0x1f1] = 1;
    image[0x201] = 0xff;
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE, &info, &error), 0);
    assert_int_equal(info.header_end, 0x301);
    assert_int_equal(info.setup_size, 1024);
}

/* syssize is in paragraphs, rounded up: up to 15 bytes short of syssize * 16
 * is a whole kernel (Debian's memtest86+x64.bin is 8 short), 16 is not. */
static void test_parse_syssize_rounded_up(void **state)
{
    (void)state;
    struct bzimage_info info;
    struct error error;
    synthetic_bzimage(image);
    for (size_t short_by = 1; short_by <= 15; short_by++) {
        assert_int_equal(parse(SYNTHETIC_BZ_SIZE - short_by, &info, &error), 0);
        assert_int_equal(info.kernel_size, SYNTHETIC_BZ_KERNEL_SIZE - short_by);
    }
    expect_rejected(SYNTHETIC_BZ_SIZE - 16, "truncated");

    /* The same boundary for a kernel whose size is not a paragraph multiple:
     * syssize rounds 8185 bytes up to 512 paragraphs. */
    synthetic_put32(image + 0x1f4, (SYNTHETIC_BZ_KERNEL_SIZE - 7 + 15) / 16);
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE - 7, &info, &error), 0);
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE - 15, &info, &error), 0);
    expect_rejected(SYNTHETIC_BZ_SIZE - 16, "truncated");
}

static void test_parse_truncated(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    static const size_t sizes[] = {0, 1, 0x1ff, 0x205, 0x24f};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        expect_rejected(sizes[i], "too small");
    assert_false(bzimage_is_bzimage(image, 0x205));
    assert_true(bzimage_is_bzimage(image, 0x206));

    /* Header present, but the setup or the kernel body cut short. */
    expect_rejected(0x250, "truncated");
    expect_rejected(0x400, "truncated");
    expect_rejected(SYNTHETIC_BZ_SETUP_SIZE, "truncated");
    expect_rejected(SYNTHETIC_BZ_SETUP_SIZE + 1, "truncated");
    expect_rejected(SYNTHETIC_BZ_SETUP_SIZE + 16, "truncated");
    expect_rejected(SYNTHETIC_BZ_SIZE - 16, "truncated");
    expect_rejected(SYNTHETIC_BZ_SIZE - 17, "truncated");

    /* syssize says more than the file holds, or nothing at all. */
    synthetic_put32(image + 0x1f4, SYNTHETIC_BZ_KERNEL_SIZE / 16 + 1);
    expect_rejected(SYNTHETIC_BZ_SIZE, "truncated");
    synthetic_put32(image + 0x1f4, 0xffffffff);
    expect_rejected(SYNTHETIC_BZ_SIZE, "truncated");
    synthetic_put32(image + 0x1f4, 0);
    expect_rejected(SYNTHETIC_BZ_SIZE, "truncated");

    /* A setup that claims to be bigger than the whole file. */
    synthetic_bzimage(image);
    image[0x1f1] = 0xff;
    expect_rejected(SYNTHETIC_BZ_SIZE, "truncated");
}

static void test_parse_bad_magic(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    memcpy(image + 0x202, "HdrT", 4);
    assert_false(bzimage_is_bzimage(image, SYNTHETIC_BZ_SIZE));
    expect_rejected(SYNTHETIC_BZ_SIZE, "HdrS");

    synthetic_bzimage(image);
    synthetic_put16(image + 0x1fe, 0x55aa);
    expect_rejected(SYNTHETIC_BZ_SIZE, "0xaa55");
    synthetic_put16(image + 0x1fe, 0);
    expect_rejected(SYNTHETIC_BZ_SIZE, "boot flag");

    /* An ELF file is not a bzImage. */
    memset(image, 0, 0x300);
    memcpy(image, "\177ELF", 4);
    expect_rejected(SYNTHETIC_BZ_SIZE, "not a bzImage");
}

static void test_parse_old_protocol(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    synthetic_put16(image + 0x206, 0x0205);
    expect_rejected(SYNTHETIC_BZ_SIZE, "2.06");
    expect_rejected(SYNTHETIC_BZ_SIZE, "2.05");
    synthetic_put16(image + 0x206, 0x0100);
    expect_rejected(SYNTHETIC_BZ_SIZE, "2.06");

    /* 2.11 knows no xloadflags, so no 64-bit entry point, whatever the byte says. */
    synthetic_put16(image + 0x206, 0x020b);
    expect_rejected(SYNTHETIC_BZ_SIZE, "XLF_KERNEL_64");

    /* 2.12 is the first with the 64-bit entry. */
    synthetic_put16(image + 0x206, 0x020c);
    struct bzimage_info info;
    struct error error;
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE, &info, &error), 0);
}

static void test_parse_flags(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    image[0x211] = 0x20; /* QUIET only: a zImage */
    expect_rejected(SYNTHETIC_BZ_SIZE, "zImage");

    synthetic_bzimage(image);
    synthetic_put16(image + 0x236, 0x02); /* XLF_CAN_BE_LOADED_ABOVE_4G only */
    expect_rejected(SYNTHETIC_BZ_SIZE, "XLF_KERNEL_64");
}

static void test_parse_absurd_fields(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    synthetic_put32(image + 0x260, SYNTHETIC_BZ_KERNEL_SIZE - 1);
    expect_rejected(SYNTHETIC_BZ_SIZE, "init_size");
    synthetic_put32(image + 0x260, 0);
    expect_rejected(SYNTHETIC_BZ_SIZE, "init_size");
    synthetic_put32(image + 0x260, (1u << 30) + 1);
    expect_rejected(SYNTHETIC_BZ_SIZE, "init_size");
    synthetic_put32(image + 0x260, 0xffffffff);
    expect_rejected(SYNTHETIC_BZ_SIZE, "init_size");
    synthetic_put32(image + 0x260, 1u << 30); /* exactly 1 GiB: allowed */
    struct bzimage_info info;
    struct error error;
    assert_int_equal(parse(SYNTHETIC_BZ_SIZE, &info, &error), 0);

    synthetic_bzimage(image);
    synthetic_put32(image + 0x230, 0);
    expect_rejected(SYNTHETIC_BZ_SIZE, "kernel_alignment");
    synthetic_put32(image + 0x230, 0x300000);
    expect_rejected(SYNTHETIC_BZ_SIZE, "kernel_alignment");
    synthetic_put32(image + 0x230, 0xffffffff);
    expect_rejected(SYNTHETIC_BZ_SIZE, "kernel_alignment");

    synthetic_bzimage(image);
    synthetic_put64(image + 0x258, 0x80000);
    expect_rejected(SYNTHETIC_BZ_SIZE, "load address");
    synthetic_put64(image + 0x258, 0xc0000000);
    expect_rejected(SYNTHETIC_BZ_SIZE, "load address");
    synthetic_put64(image + 0x258, UINT64_MAX);
    expect_rejected(SYNTHETIC_BZ_SIZE, "load address");
}

/* ---- loading ---------------------------------------------------------- */

struct load_fixture {
    uint8_t *host;
    struct guest_memory memory;
    uint8_t *initrd;
    size_t initrd_size;
    struct boot_config config;
    struct bzimage_info info;
    struct boot_entry entry;
    struct error error;
};

static struct load_fixture *fixture_create(uint64_t memory_size, size_t initrd_size)
{
    struct load_fixture *fixture = calloc(1, sizeof(*fixture));
    assert_non_null(fixture);
    fixture->host = malloc(memory_size);
    assert_non_null(fixture->host);
    memset(fixture->host, 0xcc, memory_size); /* garbage the loader must overwrite */
    guest_memory_init_over(&fixture->memory, fixture->host, memory_size);
    if (initrd_size) {
        fixture->initrd = malloc(initrd_size);
        assert_non_null(fixture->initrd);
        for (size_t i = 0; i < initrd_size; i++)
            fixture->initrd[i] = (uint8_t)(i * 13 + 1);
        fixture->initrd_size = initrd_size;
    }
    fixture->config = (struct boot_config){
        .kernel = {"bzImage", image, SYNTHETIC_BZ_SIZE},
        .initrd = {"initrd.img", fixture->initrd, initrd_size},
        .cmdline = "console=ttyS0 root=/dev/vda",
        .rsdp_address = RSDP_ADDRESS,
    };
    return fixture;
}

static void fixture_destroy(struct load_fixture *fixture)
{
    free(fixture->host);
    free(fixture->initrd);
    free(fixture);
}

static int fixture_load(struct load_fixture *fixture)
{
    memset(&fixture->error, 0, sizeof(fixture->error));
    if (bzimage_parse(image, fixture->config.kernel.size, &fixture->info, &fixture->error))
        fail_msg("parse failed: %s", fixture->error.message);
    return bzimage_load(&fixture->info, &fixture->config, &fixture->memory, &fixture->entry,
                        &fixture->error);
}

static void test_load_zero_page(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    image[0x268] = 0x77; /* past header_end: must not be copied */
    image[0x100] = 0x42; /* boot sector: must not be copied */
    struct load_fixture *fixture = fixture_create(MEMORY_SIZE, 100000);
    if (fixture_load(fixture))
        fail_msg("load failed: %s", fixture->error.message);
    const uint8_t *zero_page = fixture->host + ZERO_PAGE;

    assert_int_equal(zero_page[0x210], 0xff); /* type_of_loader */
    assert_int_equal(zero_page[0x211], 0x01); /* LOADED_HIGH kept, QUIET dropped */
    assert_int_equal(synthetic_get32(zero_page + 0x228), CMDLINE_ADDRESS);
    assert_int_equal(synthetic_get64(zero_page + 0x70), RSDP_ADDRESS);
    assert_int_equal(synthetic_get32(zero_page + 0x23c), 0); /* hardware_subarch */
    /* The setup header is copied from 0x1f1 to header_end, the rest zeroed. */
    assert_int_equal(zero_page[0x1f1], SYNTHETIC_BZ_SETUP_SECTS);
    assert_memory_equal(zero_page + 0x202, "HdrS", 4);
    assert_int_equal(synthetic_get16(zero_page + 0x206), 0x020f);
    assert_int_equal(synthetic_get32(zero_page + 0x260), SYNTHETIC_BZ_INIT_SIZE);
    assert_int_equal(synthetic_get64(zero_page + 0x258), SYNTHETIC_BZ_PREF_ADDRESS);
    assert_int_equal(zero_page[0x268], 0);
    assert_int_equal(zero_page[0x100], 0);
    assert_int_equal(zero_page[0xfff], 0);

    /* The initrd. */
    uint32_t initrd_address = synthetic_get32(zero_page + 0x218);
    assert_int_equal(synthetic_get32(zero_page + 0x21c), 100000);
    assert_int_equal(synthetic_get32(zero_page + 0xc0), 0); /* ext_ramdisk_image */
    assert_int_equal(synthetic_get32(zero_page + 0xc4), 0);
    assert_int_equal(initrd_address % 4096, 0);
    assert_true(initrd_address >= SYNTHETIC_BZ_PREF_ADDRESS + SYNTHETIC_BZ_INIT_SIZE);
    assert_true((uint64_t)initrd_address + 100000 <= MEMORY_SIZE);
    assert_true((uint64_t)initrd_address + 100000 <= (uint64_t)SYNTHETIC_BZ_INITRD_ADDR_MAX + 1);
    assert_memory_equal(fixture->host + initrd_address, fixture->initrd, 100000);
    /* As high as it goes: the next page boundary above would not fit. */
    assert_true(initrd_address + 4096 + 100000 > MEMORY_SIZE);

    /* The e820 map, the same one e820_build makes. */
    struct e820_entry map[E820_MAX_ENTRIES];
    int count = e820_build(&fixture->memory, map);
    assert_int_equal(zero_page[0x1e8], count);
    assert_int_equal(count, 4);
    for (int i = 0; i < count; i++) {
        const uint8_t *slot = zero_page + 0x2d0 + i * 20;
        assert_int_equal(synthetic_get64(slot), map[i].address);
        assert_int_equal(synthetic_get64(slot + 8), map[i].size);
        assert_int_equal(synthetic_get32(slot + 16), map[i].type);
    }
    assert_int_equal(synthetic_get32(zero_page + 0x2d0 + count * 20 + 16), 0);

    /* The command line, NUL-terminated. */
    assert_string_equal((const char *)fixture->host + CMDLINE_ADDRESS,
                        "console=ttyS0 root=/dev/vda");

    /* The protected-mode kernel at the load address, and nothing past it. */
    assert_memory_equal(fixture->host + SYNTHETIC_BZ_PREF_ADDRESS, image + SYNTHETIC_BZ_SETUP_SIZE,
                        SYNTHETIC_BZ_KERNEL_SIZE);
    assert_int_equal(fixture->host[SYNTHETIC_BZ_PREF_ADDRESS + SYNTHETIC_BZ_KERNEL_SIZE], 0xcc);

    assert_int_equal(fixture->entry.mode, BOOT_CPU_MODE_LONG_64);
    assert_int_equal(fixture->entry.instruction_pointer, SYNTHETIC_BZ_PREF_ADDRESS + 0x200);
    assert_int_equal(fixture->entry.rsi, ZERO_PAGE);
    assert_int_equal(fixture->entry.rbx, 0);
    fixture_destroy(fixture);
}

static void test_load_without_initrd(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    struct load_fixture *fixture = fixture_create(MEMORY_SIZE, 0);
    if (fixture_load(fixture))
        fail_msg("load failed: %s", fixture->error.message);
    const uint8_t *zero_page = fixture->host + ZERO_PAGE;
    assert_int_equal(synthetic_get32(zero_page + 0x218), 0);
    assert_int_equal(synthetic_get32(zero_page + 0x21c), 0);
    /* The memory above the kernel is untouched. */
    assert_int_equal(fixture->host[MEMORY_SIZE - 1], 0xcc);
    fixture_destroy(fixture);
}

static void test_load_relocated_and_limited_initrd(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    synthetic_put64(image + 0x258, 0x1100000); /* rounds up to 0x1200000 */
    synthetic_put32(image + 0x22c, 0x1ffffff); /* initrd must end below 32 MiB */
    struct load_fixture *fixture = fixture_create(MEMORY_SIZE, 5000);
    if (fixture_load(fixture))
        fail_msg("load failed: %s", fixture->error.message);
    assert_int_equal(fixture->entry.instruction_pointer, 0x1200200);
    assert_memory_equal(fixture->host + 0x1200000, image + SYNTHETIC_BZ_SETUP_SIZE,
                        SYNTHETIC_BZ_KERNEL_SIZE);
    uint32_t initrd_address = synthetic_get32(fixture->host + ZERO_PAGE + 0x218);
    assert_int_equal(initrd_address % 4096, 0);
    assert_true(initrd_address >= 0x1200000 + SYNTHETIC_BZ_INIT_SIZE);
    assert_true(initrd_address + 5000 <= 0x2000000);
    assert_memory_equal(fixture->host + initrd_address, fixture->initrd, 5000);
    fixture_destroy(fixture);
}

static void test_load_memory_too_small(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    /* The kernel needs 16 MiB + 4 MiB; 16 MiB and 20 MiB - 1 page are short. */
    struct load_fixture *fixture = fixture_create(16ULL << 20, 0);
    assert_int_equal(fixture_load(fixture), -1);
    assert_error_mentions(&fixture->error, "bzImage");
    assert_error_mentions(&fixture->error, "too small");
    fixture_destroy(fixture);

    fixture = fixture_create((20ULL << 20) - 4096, 0);
    assert_int_equal(fixture_load(fixture), -1);
    assert_error_mentions(&fixture->error, "too small");
    fixture_destroy(fixture);

    /* Exactly enough. */
    fixture = fixture_create(20ULL << 20, 0);
    assert_int_equal(fixture_load(fixture), 0);
    fixture_destroy(fixture);

    /* A tiny memory: not even the zero page area is worth using. */
    fixture = fixture_create(64 << 10, 0);
    assert_int_equal(fixture_load(fixture), -1);
    fixture_destroy(fixture);
}

static void test_load_initrd_does_not_fit(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    /* 64 MiB RAM, the kernel up to 20 MiB: a 45 MiB initrd cannot fit. */
    struct load_fixture *fixture = fixture_create(MEMORY_SIZE, 45 << 20);
    assert_int_equal(fixture_load(fixture), -1);
    assert_error_mentions(&fixture->error, "initrd.img");
    assert_error_mentions(&fixture->error, "does not fit");
    fixture_destroy(fixture);

    /* 44 MiB fits exactly. */
    fixture = fixture_create(MEMORY_SIZE, 44 << 20);
    if (fixture_load(fixture))
        fail_msg("load failed: %s", fixture->error.message);
    assert_int_equal(synthetic_get32(fixture->host + ZERO_PAGE + 0x218), 20 << 20);
    fixture_destroy(fixture);

    /* initrd_addr_max below the end of the kernel leaves no room at all. */
    synthetic_put32(image + 0x22c, 0x13fffff);
    fixture = fixture_create(MEMORY_SIZE, 4096);
    assert_int_equal(fixture_load(fixture), -1);
    assert_error_mentions(&fixture->error, "initrd.img");
    fixture_destroy(fixture);
}

static void test_load_cmdline_limits(void **state)
{
    (void)state;
    synthetic_bzimage(image);
    synthetic_put32(image + 0x238, 10);
    struct load_fixture *fixture = fixture_create(MEMORY_SIZE, 0);
    fixture->config.cmdline = "0123456789"; /* exactly cmdline_size */
    assert_int_equal(fixture_load(fixture), 0);
    assert_string_equal((const char *)fixture->host + CMDLINE_ADDRESS, "0123456789");
    fixture->config.cmdline = "0123456789a";
    assert_int_equal(fixture_load(fixture), -1);
    assert_error_mentions(&fixture->error, "command line");
    assert_error_mentions(&fixture->error, "10");

    /* cmdline_size 0 means no limit from the kernel, but ours still holds. */
    synthetic_put32(image + 0x238, 0);
    char *huge = malloc(0x10000 + 1);
    assert_non_null(huge);
    memset(huge, 'x', 0x10000);
    huge[0x10000] = '\0';
    fixture->config.cmdline = huge;
    assert_int_equal(fixture_load(fixture), -1);
    assert_error_mentions(&fixture->error, "command line");
    huge[0xffff] = '\0';
    assert_int_equal(fixture_load(fixture), 0);
    assert_int_equal(strlen((const char *)fixture->host + CMDLINE_ADDRESS), 0xffff);
    free(huge);
    fixture_destroy(fixture);
}

/* ---- the command line ------------------------------------------------- */

static void test_compose_cmdline(void **state)
{
    (void)state;
    char out[512];
    assert_int_equal(linux_compose_cmdline(NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "console=ttyS0,115200 io_delay=none panic=-1");
    assert_int_equal(linux_compose_cmdline("", out, sizeof(out)), 0);
    assert_string_equal(out, "console=ttyS0,115200 io_delay=none panic=-1");

    assert_int_equal(linux_compose_cmdline("root=/dev/vda quiet", out, sizeof(out)), 0);
    assert_string_equal(out, "console=ttyS0,115200 io_delay=none panic=-1 root=/dev/vda quiet");

    /* The user's console= replaces ours, wherever it is. */
    assert_int_equal(linux_compose_cmdline("console=hvc0", out, sizeof(out)), 0);
    assert_string_equal(out, "io_delay=none panic=-1 console=hvc0");
    assert_int_equal(linux_compose_cmdline("quiet console=tty0", out, sizeof(out)), 0);
    assert_string_equal(out, "io_delay=none panic=-1 quiet console=tty0");

    /* Words that merely contain "console=" are not console options. */
    assert_int_equal(linux_compose_cmdline("netconsole=@/,@10.0.0.1/", out, sizeof(out)), 0);
    assert_string_equal(out, "console=ttyS0,115200 io_delay=none panic=-1 netconsole=@/,@10.0.0.1/");
    assert_int_equal(linux_compose_cmdline("earlyconsole=x", out, sizeof(out)), 0);
    assert_non_null(strstr(out, "console=ttyS0,115200"));
}

static void test_compose_cmdline_too_small(void **state)
{
    (void)state;
    const char *expected = "console=ttyS0,115200 io_delay=none panic=-1 root=/dev/vda";
    size_t length = strlen(expected);
    char out[128];
    assert_int_equal(linux_compose_cmdline("root=/dev/vda", out, length + 1), 0);
    assert_string_equal(out, expected);
    assert_int_equal(linux_compose_cmdline("root=/dev/vda", out, length), -1);
    assert_int_equal(linux_compose_cmdline("root=/dev/vda", out, 1), -1);
    assert_int_equal(linux_compose_cmdline(NULL, out, 10), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_field_variants),
        cmocka_unit_test(test_parse_truncated),
        cmocka_unit_test(test_parse_syssize_rounded_up),
        cmocka_unit_test(test_parse_bad_magic),
        cmocka_unit_test(test_parse_old_protocol),
        cmocka_unit_test(test_parse_flags),
        cmocka_unit_test(test_parse_absurd_fields),
        cmocka_unit_test(test_load_zero_page),
        cmocka_unit_test(test_load_without_initrd),
        cmocka_unit_test(test_load_relocated_and_limited_initrd),
        cmocka_unit_test(test_load_memory_too_small),
        cmocka_unit_test(test_load_initrd_does_not_fit),
        cmocka_unit_test(test_load_cmdline_limits),
        cmocka_unit_test(test_compose_cmdline),
        cmocka_unit_test(test_compose_cmdline_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
