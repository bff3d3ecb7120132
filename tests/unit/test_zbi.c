/* ZBI and seed-era bootdata containers: the checker on good and broken
 * images (one field at a time), the iterator, the kernel parser, the writer,
 * and BOOTFS images. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "boot/bootfs.h"
#include "boot/zbi.h"

#define KERNEL_CODE_SIZE 24
/* Where the code after zbi_kernel lands: container header, kernel header. */
#define KERNEL_CODE_ADDRESS (ZBI_X64_KERNEL_LOAD_ADDRESS + 32 + 32 + 16)
#define LEGACY_CODE_ADDRESS (ZBI_X64_KERNEL_LOAD_ADDRESS + 16 + 16 + 16)

static uint8_t image[16384];
static size_t used;

static void assert_error_mentions(const struct error *error, const char *text)
{
    if (!strstr(error->message, text))
        fail_msg("error \"%s\" does not mention \"%s\"", error->message, text);
}

static void put32(size_t offset, uint32_t value)
{
    memcpy(image + offset, &value, sizeof(value));
}

static uint32_t get32(size_t offset)
{
    uint32_t value;
    memcpy(&value, image + offset, sizeof(value));
    return value;
}

static void put64(size_t offset, uint64_t value)
{
    memcpy(image + offset, &value, sizeof(value));
}

static void expect_check_ok(size_t size, size_t expected_container_size)
{
    struct error error = {{0}};
    size_t container_size = 0;
    if (zbi_check(image, size, &container_size, &error))
        fail_msg("rejected: %s", error.message);
    assert_int_equal(container_size, expected_container_size);
}

static void expect_check_error(size_t size, const char *mentions)
{
    struct error error = {{0}};
    size_t container_size = 12345;
    if (zbi_check(image, size, &container_size, &error) != -1)
        fail_msg("accepted; expected an error mentioning \"%s\"", mentions);
    assert_error_mentions(&error, mentions);
    assert_int_equal(container_size, 12345);
}

static void append(uint32_t type, uint32_t extra, uint32_t flags, const void *payload,
                   uint32_t length)
{
    struct error error = {{0}};
    if (zbi_append(image, sizeof(image), &used, type, extra, flags, payload, length, &error))
        fail_msg("append failed: %s", error.message);
}

static void start_container(void)
{
    struct error error = {{0}};
    memset(image, 0xee, sizeof(image));
    assert_int_equal(zbi_init_container(image, sizeof(image), &used, &error), 0);
    assert_int_equal(used, 32);
}

static void start_legacy_container(void)
{
    struct error error = {{0}};
    memset(image, 0xee, sizeof(image));
    assert_int_equal(zbi_init_legacy_container(image, sizeof(image), &used, &error), 0);
    assert_int_equal(used, 16);
}

static void append_kernel(uint64_t entry, uint64_t reserve)
{
    uint8_t payload[sizeof(struct zbi_kernel) + KERNEL_CODE_SIZE];
    struct zbi_kernel kernel = {entry, reserve};
    memcpy(payload, &kernel, sizeof(kernel));
    memset(payload + sizeof(kernel), 0x90, KERNEL_CODE_SIZE);
    append(ZBI_TYPE_KERNEL_X64, 0, 0, payload, sizeof(payload));
}

/* Kernel, command line, a 3-byte item with a CRC: items at 0x20, 0x68 and
 * 0x98, payloads at 0x40, 0x88 and 0xb8; 0xc0 bytes. */
static void build_kernel_image(void)
{
    start_container();
    append_kernel(KERNEL_CODE_ADDRESS, 0x10000);
    append(ZBI_TYPE_CMDLINE, 0, 0, "console=x", 10);
    append(ZBI_TYPE_STORAGE_RAMDISK, 3, ZBI_FLAG_CRC32, "abc", 3);
}

/* A seed-era container: a 16-byte item, an extended one, and an extended
 * one with the era's CRC (over header, extension and payload). */
static size_t build_legacy_image(void)
{
    memset(image, 0, sizeof(image));
    put32(0, ZBI_TYPE_CONTAINER);
    put32(8, ZBI_CONTAINER_MAGIC);
    /* 0x10: 16-byte CMDL "hi" */
    put32(0x10, ZBI_TYPE_CMDLINE);
    put32(0x14, 3);
    memcpy(image + 0x20, "hi", 3);
    /* 0x28: extended RSDP */
    put32(0x28, ZBI_TYPE_ACPI_RSDP);
    put32(0x2c, 8);
    put32(0x34, ZBI_FLAG_VERSION);
    put32(0x40, ZBI_ITEM_MAGIC);
    put32(0x44, ZBI_ITEM_NO_CRC32);
    put64(0x48, 0xe0000);
    /* 0x50: extended RDSK with CRC32 */
    put32(0x50, ZBI_TYPE_STORAGE_RAMDISK);
    put32(0x54, 5);
    put32(0x58, 5);
    put32(0x5c, ZBI_FLAG_VERSION | ZBI_FLAG_CRC32);
    put32(0x68, ZBI_ITEM_MAGIC);
    memcpy(image + 0x70, "disk!", 5);
    uint32_t crc = zbi_crc32(zbi_crc32(0, image + 0x50, 32), image + 0x70, 5);
    put32(0x6c, crc);
    put32(4, 0x78 - 16);
    return 0x78;
}

static void test_crc32_vectors(void **state)
{
    (void)state;
    assert_int_equal(zbi_crc32(0, "123456789", 9), 0xcbf43926);
    assert_int_equal(zbi_crc32(0, "", 0), 0);
    assert_int_equal(zbi_crc32(0, NULL, 0), 0);
    assert_int_equal(zbi_crc32(0, "a", 1), 0xe8b7be43);
    static const char fox[] = "The quick brown fox jumps over the lazy dog";
    assert_int_equal(zbi_crc32(0, fox, strlen(fox)), 0x414fa339);
    /* Continuing a CRC gives the CRC of the whole, as zlib's does. */
    assert_int_equal(zbi_crc32(zbi_crc32(0, "1234", 4), "56789", 5), 0xcbf43926);
    uint8_t zeros[32] = {0};
    assert_int_equal(zbi_crc32(0, zeros, sizeof(zeros)), 0x190a55ad);
}

static void test_type_name(void **state)
{
    (void)state;
    char name[16];
    assert_string_equal(zbi_type_name(ZBI_TYPE_KERNEL_X64, name), "KRNL");
    assert_string_equal(zbi_type_name(ZBI_TYPE_CMDLINE, name), "CMDL");
    assert_string_equal(zbi_type_name(ZBI_TYPE_CONTAINER, name), "BOOT");
    assert_string_equal(zbi_type_name(ZBI_TYPE_E820_TABLE, name), "E820");
    assert_string_equal(zbi_type_name(ZBI_TYPE_STORAGE_BOOTFS, name), "BFSB");
    assert_string_equal(zbi_type_name(ZBI_TYPE_FRAMEBUFFER, name), "SWFB");
    assert_string_equal(zbi_type_name(ZBI_TYPE_KERNEL_PREFIX, name), "0x004e524b");
    assert_string_equal(zbi_type_name(0x20202020, name), "0x20202020");
    assert_string_equal(zbi_type_name(0xffffffff, name), "0xffffffff");
    assert_int_equal(zbi_header_size(0), 16);
    assert_int_equal(zbi_header_size(ZBI_FLAG_VERSION | ZBI_FLAG_CRC32), 32);
    assert_int_equal(ZBI_ALIGN((size_t)0x100000001ULL), 0x100000008ULL);
    assert_int_equal(ZBI_ALIGN(0u), 0);
    assert_int_equal(ZBI_ALIGN(8u), 8);
}

static void test_check_good_zbi(void **state)
{
    (void)state;
    build_kernel_image();
    assert_int_equal(used, 0xc0);
    expect_check_ok(used, used);
    /* Bytes after the container are the caller's business. */
    expect_check_ok(used + 100, used);
    assert_int_equal(get32(4), used - 32);

    struct zbi_iterator it;
    struct zbi_header header;
    const uint8_t *payload;
    size_t offset;
    zbi_iterator_init(&it, image, used);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 1);
    assert_int_equal(offset, 0x20);
    assert_int_equal(header.type, ZBI_TYPE_KERNEL_X64);
    assert_int_equal(header.length, 16 + KERNEL_CODE_SIZE);
    assert_int_equal(header.flags, ZBI_FLAG_VERSION);
    assert_int_equal(header.magic, ZBI_ITEM_MAGIC);
    assert_int_equal(header.crc32, ZBI_ITEM_NO_CRC32);
    assert_ptr_equal(payload, image + 0x40);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 1);
    assert_int_equal(offset, 0x68);
    assert_int_equal(header.type, ZBI_TYPE_CMDLINE);
    assert_string_equal((const char *)payload, "console=x");
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 1);
    assert_int_equal(offset, 0x98);
    assert_int_equal(header.type, ZBI_TYPE_STORAGE_RAMDISK);
    assert_int_equal(header.extra, 3);
    assert_int_equal(header.flags, ZBI_FLAG_VERSION | ZBI_FLAG_CRC32);
    assert_int_equal(header.crc32, zbi_crc32(0, "abc", 3));
    assert_memory_equal(payload, "abc", 3);
    /* Padding is zeros. */
    assert_memory_equal(payload + 3, "\0\0\0\0\0", 5);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 0);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 0);

    /* An empty container is a valid (ramdisk) container. */
    start_container();
    expect_check_ok(used, 32);
    zbi_iterator_init(&it, image, used);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 0);
}

static void test_check_good_legacy(void **state)
{
    (void)state;
    size_t size = build_legacy_image();
    expect_check_ok(size, size);
    expect_check_ok(size + 16, size);

    struct zbi_iterator it;
    struct zbi_header header;
    const uint8_t *payload;
    size_t offset;
    zbi_iterator_init(&it, image, size);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 1);
    assert_int_equal(offset, 0x10);
    assert_int_equal(header.type, ZBI_TYPE_CMDLINE);
    assert_int_equal(header.length, 3);
    assert_int_equal(header.magic, 0); /* a 16-byte header has none */
    assert_ptr_equal(payload, image + 0x20);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 1);
    assert_int_equal(offset, 0x28);
    assert_int_equal(header.type, ZBI_TYPE_ACPI_RSDP);
    assert_int_equal(header.magic, ZBI_ITEM_MAGIC);
    assert_ptr_equal(payload, image + 0x48);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 1);
    assert_int_equal(offset, 0x50);
    assert_int_equal(header.type, ZBI_TYPE_STORAGE_RAMDISK);
    assert_int_equal(zbi_item_crc32(image, &header, payload), header.crc32);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 0);

    /* The writer makes the same kind of container. */
    start_legacy_container();
    append(ZBI_TYPE_CMDLINE, 0, 0, "hi", 3);
    append(ZBI_TYPE_ACPI_RSDP, 0, ZBI_FLAG_VERSION, "12345678", 8);
    assert_int_equal(used, 16 + 16 + 8 + 16 + 8);
    assert_int_equal(get32(12), 0);
    assert_int_equal(get32(40 + 12), 0); /* VERSION dropped: 16-byte headers */
    assert_int_equal(get32(4), used - 16);
    expect_check_ok(used, used);
}

static void test_check_bad_container(void **state)
{
    (void)state;
    build_kernel_image();
    expect_check_error(0, "truncated");
    expect_check_error(15, "truncated");
    expect_check_error(31, "truncated");
    expect_check_error(used - 8, "truncated");

    build_kernel_image();
    put32(0, ZBI_TYPE_CMDLINE);
    expect_check_error(used, "not a ZBI container");
    build_kernel_image();
    put32(8, 0x868cf7e7);
    expect_check_error(used, "container magic");
    build_kernel_image();
    put32(24, 0);
    expect_check_error(used, "item magic");
    build_kernel_image();
    put32(12, ZBI_FLAG_VERSION | ZBI_FLAG_CRC32);
    expect_check_error(used, "CRC32 flag");
    build_kernel_image();
    put32(28, 0);
    expect_check_error(used, "crc32");
    build_kernel_image();
    put32(4, get32(4) - 4);
    expect_check_error(used, "multiple of 8");
    build_kernel_image();
    put32(4, get32(4) + 8);
    expect_check_error(used, "truncated");

    size_t size = build_legacy_image();
    put32(12, 1);
    expect_check_error(size, "flags");
}

static void test_check_bad_items(void **state)
{
    (void)state;
    /* Missing VERSION in a ZBI container. */
    build_kernel_image();
    put32(0x68 + 12, 0);
    expect_check_error(used, "item 2 (CMDL) at offset 0x68: flags 0x00000000 lack the VERSION");
    build_kernel_image();
    put32(0x68 + 24, 0x12345678);
    expect_check_error(used, "item 2 (CMDL) at offset 0x68: bad item magic");
    build_kernel_image();
    put32(0x68 + 28, 0);
    expect_check_error(used, "crc32 0x00000000 without the CRC32 flag");

    /* An item longer than the container. */
    build_kernel_image();
    put32(0x98 + 4, 9);
    expect_check_error(used, "item 3 (RDSK) at offset 0x98: length 9 runs past the end");
    build_kernel_image();
    put32(0x20 + 4, 0xffffffff);
    expect_check_error(used, "item 1 (KRNL) at offset 0x20: length 4294967295 runs past");

    /* An item header crossing the end: the container ends 8 bytes (then
     * 16, short of a 32-byte header) into it. */
    build_kernel_image();
    put32(4, 0x98 + 8 - 32);
    expect_check_error(used, "item 3 at offset 0x98: header crosses the end");
    build_kernel_image();
    put32(4, 0x98 + 16 - 32);
    expect_check_error(used, "item 3 (RDSK) at offset 0x98: header crosses the end");

    /* CRC mismatch: the payload, then the recorded CRC. */
    build_kernel_image();
    image[0xb8] = 'x';
    expect_check_error(used, "item 3 (RDSK) at offset 0x98: CRC32 mismatch");
    build_kernel_image();
    put32(0x98 + 28, get32(0x98 + 28) ^ 1);
    expect_check_error(used, "CRC32 mismatch");
    /* The CRC covers the payload, not the padding. */
    build_kernel_image();
    image[0xb8 + 5] = 'x';
    expect_check_ok(used, used);

    /* Seed-era items: CRC32 on a 16-byte header, a bad extension. */
    size_t size = build_legacy_image();
    put32(0x10 + 12, ZBI_FLAG_CRC32);
    expect_check_error(size, "item 1 (CMDL) at offset 0x10: CRC32 flag on a 16-byte");
    size = build_legacy_image();
    put32(0x40, 0);
    expect_check_error(size, "item 2 (RSDP) at offset 0x28: bad item magic");
    size = build_legacy_image();
    put32(0x44, 0);
    expect_check_error(size, "without the CRC32 flag");
    size = build_legacy_image();
    image[0x72] = '?';
    expect_check_error(size, "item 3 (RDSK) at offset 0x50: CRC32 mismatch");
    /* The era's CRC covers the header: changing extra breaks it. */
    size = build_legacy_image();
    put32(0x58, 6);
    expect_check_error(size, "CRC32 mismatch");
    /* A payload-only CRC is not that era's. */
    size = build_legacy_image();
    put32(0x6c, zbi_crc32(0, "disk!", 5));
    expect_check_error(size, "CRC32 mismatch");
    /* A seed-era container ending 8 bytes into an item header. */
    size = build_legacy_image();
    put32(4, 0x50 + 8 - 16);
    expect_check_error(size, "item 3 at offset 0x50: header crosses the end");
    size = build_legacy_image();
    put32(4, 0x50 + 16 - 16);
    expect_check_error(size, "item 3 (RDSK) at offset 0x50: header crosses the end");
}

static void expect_kernel_error(size_t size, const char *mentions)
{
    struct error error = {{0}};
    struct zbi_kernel_info info;
    if (zbi_parse_kernel(image, size, &info, &error) != -1)
        fail_msg("kernel accepted; expected an error mentioning \"%s\"", mentions);
    assert_error_mentions(&error, mentions);
}

static void expect_kernel_ok(size_t size, struct zbi_kernel_info *info)
{
    struct error error = {{0}};
    if (zbi_parse_kernel(image, size, info, &error))
        fail_msg("kernel rejected: %s", error.message);
}

static void test_parse_kernel(void **state)
{
    (void)state;
    struct zbi_kernel_info info;
    build_kernel_image();
    expect_kernel_ok(used + 64, &info);
    assert_int_equal(info.entry, KERNEL_CODE_ADDRESS);
    assert_int_equal(info.reserve_memory_size, 0x10000);
    assert_int_equal(info.kernel_size, 32 + 32 + 16 + KERNEL_CODE_SIZE);
    assert_int_equal(info.container_size, used);
    assert_int_equal(info.first_item_after_kernel, 0x68);

    /* A kernel alone; entry at the last byte; a reserve of exactly 1 GiB. */
    start_container();
    append_kernel(KERNEL_CODE_ADDRESS + KERNEL_CODE_SIZE - 1, 1ULL << 30);
    expect_kernel_ok(used, &info);
    assert_int_equal(info.first_item_after_kernel, info.container_size);
    assert_int_equal(info.reserve_memory_size, 1ULL << 30);

    /* A kernel whose payload is not a multiple of 8. */
    start_container();
    uint8_t payload[16 + 3] = {0};
    struct zbi_kernel kernel = {KERNEL_CODE_ADDRESS + 2, 0};
    memcpy(payload, &kernel, sizeof(kernel));
    append(ZBI_TYPE_KERNEL_X64, 0, ZBI_FLAG_CRC32, payload, sizeof(payload));
    append(ZBI_TYPE_CMDLINE, 0, 0, "a", 2);
    expect_kernel_ok(used, &info);
    assert_int_equal(info.kernel_size, 32 + 32 + 19);
    assert_int_equal(info.first_item_after_kernel, 32 + 32 + 24);

    /* The seed era's 16-byte headers: the image starts 32 bytes earlier. */
    start_legacy_container();
    append_kernel(LEGACY_CODE_ADDRESS, 0);
    append(ZBI_TYPE_CMDLINE, 0, 0, "a", 2);
    expect_kernel_ok(used, &info);
    assert_int_equal(info.entry, LEGACY_CODE_ADDRESS);
    assert_int_equal(info.kernel_size, 16 + 16 + 16 + KERNEL_CODE_SIZE);
    assert_int_equal(info.first_item_after_kernel, 16 + 16 + 16 + KERNEL_CODE_SIZE);
    start_legacy_container();
    append_kernel(LEGACY_CODE_ADDRESS - 1, 0);
    expect_kernel_error(used, "outside the kernel image [0x100030, 0x100048)");
}

static void test_parse_kernel_bad(void **state)
{
    (void)state;
    /* Not a container at all. */
    memset(image, 0, 64);
    expect_kernel_error(64, "not a ZBI container");
    /* Zero items. */
    start_container();
    expect_kernel_error(used, "empty");
    /* First item not a kernel. */
    start_container();
    append(ZBI_TYPE_CMDLINE, 0, 0, "a", 2);
    append_kernel(KERNEL_CODE_ADDRESS + 40, 0);
    expect_kernel_error(used, "the first item is CMDL, not a kernel");
    /* Other machines' kernels, by name. */
    build_kernel_image();
    put32(0x20, ZBI_TYPE_KERNEL_ARM64);
    expect_kernel_error(used, "ARM64");
    build_kernel_image();
    put32(0x20, ZBI_TYPE_KERNEL_RISCV64);
    expect_kernel_error(used, "RISC-V");
    build_kernel_image();
    put32(0x20, 0x584e524b);
    expect_kernel_error(used, "another machine (KRNX)");
    /* A payload shorter than zbi_kernel. */
    start_container();
    append(ZBI_TYPE_KERNEL_X64, 0, 0, "fifteen bytes!", 15);
    expect_kernel_error(used, "shorter");
    /* A payload of just zbi_kernel: nothing for the entry to point at. */
    start_container();
    struct zbi_kernel kernel = {KERNEL_CODE_ADDRESS, 0};
    append(ZBI_TYPE_KERNEL_X64, 0, 0, &kernel, sizeof(kernel));
    expect_kernel_error(used, "outside");
    /* Entry before the code (inside zbi_kernel), at its end, far away. */
    start_container();
    append_kernel(KERNEL_CODE_ADDRESS - 1, 0);
    expect_kernel_error(used, "kernel entry 0x10004f is outside the kernel image [0x100050, "
                              "0x100068)");
    start_container();
    append_kernel(KERNEL_CODE_ADDRESS + KERNEL_CODE_SIZE, 0);
    expect_kernel_error(used, "outside");
    start_container();
    append_kernel(0, 0);
    expect_kernel_error(used, "outside");
    start_container();
    append_kernel(UINT64_MAX, 0);
    expect_kernel_error(used, "outside");
    /* A huge reserve. */
    start_container();
    append_kernel(KERNEL_CODE_ADDRESS, (1ULL << 30) + 1);
    expect_kernel_error(used, "1 GiB");
    start_container();
    append_kernel(KERNEL_CODE_ADDRESS, UINT64_MAX);
    expect_kernel_error(used, "1 GiB");
    /* A broken item after the kernel fails the whole image. */
    build_kernel_image();
    image[0xb8] ^= 1;
    expect_kernel_error(used, "CRC32 mismatch");
}

static void test_writer_limits(void **state)
{
    (void)state;
    struct error error = {{0}};
    uint8_t small[64];
    size_t small_used = 99;
    assert_int_equal(zbi_init_container(small, 31, &small_used, &error), -1);
    assert_error_mentions(&error, "no room");
    assert_int_equal(small_used, 99);
    assert_int_equal(zbi_init_legacy_container(small, 15, &small_used, &error), -1);

    /* An item that does not fit changes nothing; one that fits exactly does. */
    assert_int_equal(zbi_init_container(small, sizeof(small), &small_used, &error), 0);
    uint8_t before[64];
    memcpy(before, small, sizeof(small));
    assert_int_equal(zbi_append(small, sizeof(small), &small_used, ZBI_TYPE_CMDLINE, 0, 0,
                                "123456789", 9, &error),
                     -1);
    assert_error_mentions(&error, "no room for a CMDL item of 9 bytes");
    assert_int_equal(small_used, 32);
    assert_memory_equal(small, before, sizeof(small));
    assert_int_equal(zbi_append(small, sizeof(small), &small_used, ZBI_TYPE_CMDLINE, 0, 0,
                                "12345678", 0, &error),
                     0);
    assert_int_equal(small_used, 64);
    assert_int_equal(zbi_append(small, sizeof(small), &small_used, ZBI_TYPE_CMDLINE, 0, 0, "", 0,
                                &error),
                     -1);
    size_t checked;
    assert_int_equal(zbi_check(small, small_used, &checked, &error), 0);
    assert_int_equal(checked, 64);

    /* The 4 GiB limit, without 4 GiB: only the container header is read
     * before the check fails. */
    start_container();
    size_t huge_used = 32 + 0xfffffff8ULL;
    assert_int_equal(zbi_append(image, SIZE_MAX / 2, &huge_used, ZBI_TYPE_CMDLINE, 0, 0, "a", 1,
                                &error),
                     -1);
    assert_error_mentions(&error, "4 GiB");
    assert_int_equal(huge_used, 32 + 0xfffffff8ULL);

    /* Not a container; used past capacity; CRC32 in a seed-era container. */
    memset(image, 0, 64);
    used = 32;
    assert_int_equal(zbi_append(image, sizeof(image), &used, ZBI_TYPE_CMDLINE, 0, 0, "a", 1,
                                &error),
                     -1);
    assert_error_mentions(&error, "no container");
    start_container();
    used = sizeof(image) + 8;
    assert_int_equal(zbi_append(image, sizeof(image), &used, ZBI_TYPE_CMDLINE, 0, 0, "a", 1,
                                &error),
                     -1);
    start_legacy_container();
    assert_int_equal(zbi_append(image, sizeof(image), &used, ZBI_TYPE_CMDLINE, 0, ZBI_FLAG_CRC32,
                                "a", 1, &error),
                     -1);
    assert_error_mentions(&error, "CRC32");
    assert_int_equal(used, 16);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    uint8_t payloads[24][24];
    start_container();
    for (uint32_t i = 0; i < 24; i++) {
        memset(payloads[i], (int)(0x41 + i), sizeof(payloads[i]));
        append(0x41414100 + i, i * 3, (i & 1) ? ZBI_FLAG_CRC32 : 0, payloads[i], i);
    }
    expect_check_ok(used, used);
    struct zbi_iterator it;
    struct zbi_header header;
    const uint8_t *payload;
    size_t offset;
    size_t expected_offset = 32;
    zbi_iterator_init(&it, image, used);
    for (uint32_t i = 0; i < 24; i++) {
        assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 1);
        assert_int_equal(offset, expected_offset);
        assert_int_equal(header.type, 0x41414100 + i);
        assert_int_equal(header.length, i);
        assert_int_equal(header.extra, i * 3);
        assert_int_equal(header.flags, ZBI_FLAG_VERSION | ((i & 1) ? ZBI_FLAG_CRC32 : 0));
        assert_int_equal(header.crc32, (i & 1) ? zbi_crc32(0, payloads[i], i) : ZBI_ITEM_NO_CRC32);
        assert_memory_equal(payload, payloads[i], i);
        for (size_t pad = i; pad < ZBI_ALIGN(i); pad++)
            assert_int_equal(payload[pad], 0);
        expected_offset += 32 + ZBI_ALIGN(i);
    }
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 0);
    assert_int_equal(expected_offset, used);
}

/* The iterator stays in bounds on bytes nobody checked. */
static void test_iterator_unchecked(void **state)
{
    (void)state;
    build_kernel_image();
    put32(0x68 + 4, 0x7fffffff);
    struct zbi_iterator it;
    struct zbi_header header;
    const uint8_t *payload;
    size_t offset;
    zbi_iterator_init(&it, image, used);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 1);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 0);
    zbi_iterator_init(&it, image, 20);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 0);
    zbi_iterator_init(&it, image, 3);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 0);
    build_kernel_image();
    zbi_iterator_init(&it, image, 0x68 + 20);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 1);
    assert_int_equal(zbi_iterator_next(&it, &header, &payload, &offset), 0);
}

/* --- BOOTFS --- */

static uint8_t bootfs[5 * 4096];
static size_t bootfs_size;

/* Two files: etc/motd (0x1000), bin/x (0x2000); directory at 0x10. */
static void build_bootfs(void)
{
    static const struct bootfs_input files[] = {
        {"bin/x", "\x7f" "ELF", 4},
        {"etc/motd", "hello\n", 6},
        {"empty", "", 0},
    };
    struct error error = {{0}};
    assert_int_equal(bootfs_layout(files, 3, &bootfs_size, &error), 0);
    assert_int_equal(bootfs_size, 3 * 4096);
    memset(bootfs, 0xee, sizeof(bootfs));
    assert_int_equal(bootfs_write(files, 3, bootfs, bootfs_size, &error), 0);
}

static void bootfs_put32(size_t offset, uint32_t value)
{
    memcpy(bootfs + offset, &value, sizeof(value));
}

static void expect_bootfs_error(size_t size, const char *mentions)
{
    struct error error = {{0}};
    size_t count;
    if (bootfs_check(bootfs, size, &count, &error) != -1)
        fail_msg("bootfs accepted; expected an error mentioning \"%s\"", mentions);
    assert_error_mentions(&error, mentions);
}

static void test_bootfs_round_trip(void **state)
{
    (void)state;
    build_bootfs();
    struct error error = {{0}};
    size_t count = 0;
    if (bootfs_check(bootfs, bootfs_size, &count, &error))
        fail_msg("bootfs rejected: %s", error.message);
    assert_int_equal(count, 3);
    /* Entries: 12 + 6 -> 20, 12 + 9 -> 24, 12 + 6 -> 20. */
    uint32_t dirsize;
    memcpy(&dirsize, bootfs + 4, 4);
    assert_int_equal(dirsize, 64);

    struct bootfs_iterator it;
    struct bootfs_file file;
    bootfs_iterator_init(&it, bootfs, bootfs_size);
    assert_int_equal(bootfs_iterator_next(&it, &file), 1);
    assert_string_equal(file.name, "bin/x");
    assert_int_equal(file.data_offset, 0x1000);
    assert_int_equal(file.data_length, 4);
    assert_memory_equal(file.data, "\x7f" "ELF", 4);
    assert_int_equal(file.data[4], 0);
    assert_int_equal(bootfs_iterator_next(&it, &file), 1);
    assert_string_equal(file.name, "etc/motd");
    assert_int_equal(file.data_offset, 0x2000);
    assert_memory_equal(file.data, "hello\n", 6);
    assert_int_equal(bootfs_iterator_next(&it, &file), 1);
    assert_string_equal(file.name, "empty");
    assert_int_equal(file.data_length, 0);
    assert_int_equal(bootfs_iterator_next(&it, &file), 0);

    /* Inside a ZBI, found through the iterator. */
    start_container();
    append(ZBI_TYPE_STORAGE_BOOTFS, (uint32_t)bootfs_size, ZBI_FLAG_CRC32, bootfs,
           (uint32_t)bootfs_size);
    expect_check_ok(used, used);

    /* No files at all. */
    assert_int_equal(bootfs_layout(NULL, 0, &bootfs_size, &error), 0);
    assert_int_equal(bootfs_size, 4096);
    assert_int_equal(bootfs_write(NULL, 0, bootfs, bootfs_size, &error), 0);
    assert_int_equal(bootfs_check(bootfs, bootfs_size, &count, &error), 0);
    assert_int_equal(count, 0);
}

static void test_bootfs_bad(void **state)
{
    (void)state;
    build_bootfs();
    expect_bootfs_error(15, "truncated");
    bootfs_put32(0, 0xa56d3ff8);
    expect_bootfs_error(bootfs_size, "bad magic");
    build_bootfs();
    bootfs_put32(4, (uint32_t)bootfs_size);
    expect_bootfs_error(bootfs_size, "runs past the end of the image");
    build_bootfs();
    bootfs_put32(4, 64 - 4); /* the last entry cut short */
    expect_bootfs_error(bootfs_size, "entry 3 at offset 0x3c crosses the end of the directory");
    build_bootfs();
    bootfs_put32(4, 64 + 8); /* a partial entry after the last */
    expect_bootfs_error(bootfs_size, "entry 4");

    static const struct {
        uint32_t name_length;
        char name[8];
        const char *mentions;
    } names[] = {
        {0, "", "name length 0"},
        {1, "", "name length 1"},
        {257, "x", "name length 257"},
        {6, "bin/xy", "not NUL-terminated"},
        {6, "b\0n/x", "a NUL inside"},
        {6, "/bin/", "absolute"},
        {6, "../ab", "\"..\""},
        {6, "a/../", "\"..\""},
        {6, "bin/.", "\".\""},
        {6, "bin//", "empty path component"},
        {6, "a//bc", "empty path component"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        build_bootfs();
        bootfs_put32(0x10, names[i].name_length);
        memcpy(bootfs + 0x10 + 12, names[i].name, 6);
        expect_bootfs_error(bootfs_size, names[i].mentions);
    }

    build_bootfs();
    bootfs_put32(0x10 + 8, 0x1001);
    expect_bootfs_error(bootfs_size, "bin/x: data offset 0x1001 is not a multiple of 4096");
    build_bootfs();
    bootfs_put32(0x10 + 8, 0x3000);
    expect_bootfs_error(bootfs_size, "runs past the end");
    build_bootfs();
    bootfs_put32(0x10 + 4, 0x2001);
    expect_bootfs_error(bootfs_size, "runs past the end");
    build_bootfs();
    bootfs_put32(0x10 + 8, 0xfffff000);
    bootfs_put32(0x10 + 4, 0x2000);
    expect_bootfs_error(bootfs_size, "runs past the end");
    build_bootfs();
    bootfs_put32(0x10 + 8, 0);
    expect_bootfs_error(bootfs_size, "overlaps the directory");
    /* Control characters in a name do not reach the message. */
    build_bootfs();
    memcpy(bootfs + 0x10 + 12, "\x1b[2J", 4);
    bootfs_put32(0x10 + 8, 0);
    struct error error = {{0}};
    size_t count;
    assert_int_equal(bootfs_check(bootfs, bootfs_size, &count, &error), -1);
    assert_null(strchr(error.message, '\x1b'));

    /* The writer refuses the names the checker would. */
    static const char *const bad_names[] = {"", "/abs", "a/../b", "a//b", "dir/", "."};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        struct bootfs_input file = {bad_names[i], "x", 1};
        size_t size;
        assert_int_equal(bootfs_layout(&file, 1, &size, &error), -1);
    }
    char long_name[257];
    memset(long_name, 'n', 256);
    long_name[256] = '\0';
    struct bootfs_input file = {long_name, "x", 1};
    size_t size;
    assert_int_equal(bootfs_layout(&file, 1, &size, &error), -1);
    assert_error_mentions(&error, "longer than 255");
    long_name[255] = '\0';
    assert_int_equal(bootfs_layout(&file, 1, &size, &error), 0);
    /* Files totalling over 4 GiB. */
    struct bootfs_input big[2] = {{"a", "", UINT32_MAX}, {"b", "", UINT32_MAX}};
    assert_int_equal(bootfs_layout(big, 2, &size, &error), -1);
    assert_error_mentions(&error, "4 GiB");
    /* Too small a buffer. */
    build_bootfs();
    static const struct bootfs_input one = {"a", "x", 1};
    assert_int_equal(bootfs_write(&one, 1, bootfs, 4096, &error), -1);
}

/* Items copied in behind a container (as the Zircon loader does with the
 * ones that followed a kernel) are covered once its size is set, in either
 * era's header. */
static void test_set_container_size(void **state)
{
    (void)state;
    for (int legacy = 0; legacy < 2; legacy++) {
        static uint8_t source[256], target[512];
        size_t source_used = 0, target_used = 0, size;
        struct error error;
        assert_int_equal(legacy ? zbi_init_legacy_container(source, sizeof(source), &source_used,
                                                            &error)
                                : zbi_init_container(source, sizeof(source), &source_used, &error),
                         0);
        assert_int_equal(zbi_append(source, sizeof(source), &source_used, ZBI_TYPE_CMDLINE, 0, 0,
                                    "copied", 7, &error),
                         0);
        assert_int_equal(legacy ? zbi_init_legacy_container(target, sizeof(target), &target_used,
                                                            &error)
                                : zbi_init_container(target, sizeof(target), &target_used, &error),
                         0);
        size_t header = legacy ? 16 : 32;
        memcpy(target + target_used, source + header, source_used - header);
        target_used += source_used - header;
        zbi_set_container_size(target, target_used);
        if (zbi_check(target, sizeof(target), &size, &error))
            fail_msg("%s container rejected: %s", legacy ? "seed-era" : "ZBI", error.message);
        assert_int_equal(size, target_used);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_vectors),
        cmocka_unit_test(test_type_name),
        cmocka_unit_test(test_check_good_zbi),
        cmocka_unit_test(test_check_good_legacy),
        cmocka_unit_test(test_check_bad_container),
        cmocka_unit_test(test_check_bad_items),
        cmocka_unit_test(test_parse_kernel),
        cmocka_unit_test(test_parse_kernel_bad),
        cmocka_unit_test(test_writer_limits),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_iterator_unchecked),
        cmocka_unit_test(test_bootfs_round_trip),
        cmocka_unit_test(test_bootfs_bad),
        cmocka_unit_test(test_set_container_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
