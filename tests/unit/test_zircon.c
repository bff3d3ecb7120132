/* The Zircon loader: what it leaves in guest memory for a synthetic kernel
 * ZBI and ramdisk container, and how it refuses what does not fit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "boot/zircon.h"
#include "memory.h"
#include "x86/e820.h"

#define MEMORY_SIZE (64ULL << 20)
#define KERNEL_BASE 0x100000ULL
#define IMAGE_BYTES 256
#define RESERVE 0x20000ULL

static uint8_t kernel[4096];
static size_t kernel_size;
static uint8_t ramdisk[4096];
static size_t ramdisk_size;
static uint8_t *host;
static struct guest_memory memory;

static void assert_error_mentions(const struct error *error, const char *text)
{
    if (!strstr(error->message, text))
        fail_msg("error \"%s\" does not mention \"%s\"", error->message, text);
}

/* A kernel ZBI: the kernel item (zbi_kernel, then IMAGE_BYTES of code) and,
 * when trailing is set, one more item after it. */
static void make_kernel(bool legacy, bool trailing)
{
    struct error error;
    kernel_size = 0;
    assert_int_equal(legacy ? zbi_init_legacy_container(kernel, sizeof(kernel), &kernel_size,
                                                        &error)
                            : zbi_init_container(kernel, sizeof(kernel), &kernel_size, &error),
                     0);
    uint8_t payload[sizeof(struct zbi_kernel) + IMAGE_BYTES];
    size_t headers = legacy ? 16 + 16 + 16 : 32 + 32 + 16;
    struct zbi_kernel header = {KERNEL_BASE + headers + 0x10, RESERVE};
    memcpy(payload, &header, sizeof(header));
    for (size_t i = 0; i < IMAGE_BYTES; i++)
        payload[sizeof(header) + i] = (uint8_t)(i * 3 + 1);
    assert_int_equal(zbi_append(kernel, sizeof(kernel), &kernel_size, ZBI_TYPE_KERNEL_X64, 0, 0,
                                payload, sizeof(payload), &error),
                     0);
    if (trailing)
        assert_int_equal(zbi_append(kernel, sizeof(kernel), &kernel_size, ZBI_TYPE_CMDLINE, 0, 0,
                                    "from-kernel", 12, &error),
                         0);
}

static void make_ramdisk(bool legacy)
{
    struct error error;
    ramdisk_size = 0;
    assert_int_equal(legacy ? zbi_init_legacy_container(ramdisk, sizeof(ramdisk), &ramdisk_size,
                                                        &error)
                            : zbi_init_container(ramdisk, sizeof(ramdisk), &ramdisk_size, &error),
                     0);
    static uint8_t disk[1000];
    memset(disk, 0x5a, sizeof(disk));
    assert_int_equal(zbi_append(ramdisk, sizeof(ramdisk), &ramdisk_size,
                                ZBI_TYPE_STORAGE_RAMDISK, 0, legacy ? 0 : ZBI_FLAG_CRC32, disk,
                                sizeof(disk), &error),
                     0);
}

static int setup(void **state)
{
    (void)state;
    host = malloc(MEMORY_SIZE);
    assert_non_null(host);
    memset(host, 0xcc, MEMORY_SIZE);
    guest_memory_init_over(&memory, host, MEMORY_SIZE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(host);
    return 0;
}

static int load(const char *cmdline, bool with_ramdisk, struct zbi_kernel_info *info,
                struct boot_entry *entry, struct error *error)
{
    if (zircon_parse(kernel, kernel_size, info, error))
        fail_msg("kernel rejected: %s", error->message);
    struct boot_config config = {
        .kernel = {"zircon.zbi", kernel, kernel_size},
        .initrd = {"bootdata.bin", with_ramdisk ? ramdisk : NULL,
                   with_ramdisk ? ramdisk_size : 0},
        .user_cmdline = cmdline,
        .rsdp_address = 0xe0000,
    };
    return zircon_load(info, &config, &memory, entry, error);
}

/* Walks the container at rsi and returns its items' types in order. */
static int container_types(uint64_t address, uint32_t *types, const uint8_t **payloads,
                           uint32_t *lengths, int room)
{
    const uint8_t *container = host + address;
    size_t size;
    struct error error;
    if (zbi_check(container, MEMORY_SIZE - address, &size, &error))
        fail_msg("container at rsi is invalid: %s", error.message);
    struct zbi_iterator it;
    zbi_iterator_init(&it, container, size);
    struct zbi_header header;
    const uint8_t *payload;
    size_t offset;
    int count = 0;
    while (count < room && zbi_iterator_next(&it, &header, &payload, &offset)) {
        types[count] = header.type;
        payloads[count] = payload;
        lengths[count] = header.length;
        count++;
    }
    return count;
}

static void test_load_with_ramdisk(void **state)
{
    (void)state;
    make_kernel(false, true);
    make_ramdisk(false);
    struct zbi_kernel_info info;
    struct boot_entry entry;
    struct error error = {{0}};
    if (load("hello zircon", true, &info, &entry, &error))
        fail_msg("load failed: %s", error.message);

    /* The kernel: at 1 MiB, its container now covering the kernel item. */
    assert_memory_equal(host + KERNEL_BASE + 32, kernel + 32, info.kernel_size - 32);
    struct zbi_header loaded;
    memcpy(&loaded, host + KERNEL_BASE, sizeof(loaded));
    assert_int_equal(loaded.type, ZBI_TYPE_CONTAINER);
    assert_int_equal(loaded.length, ZBI_ALIGN(info.kernel_size) - 32);

    assert_int_equal(entry.mode, BOOT_CPU_MODE_LONG_64);
    assert_int_equal(entry.instruction_pointer, KERNEL_BASE + 32 + 32 + 16 + 0x10);
    assert_int_equal(entry.rsi % 4096, 0);
    assert_true(entry.rsi >= KERNEL_BASE + info.kernel_size + RESERVE);

    uint32_t types[16], lengths[16];
    const uint8_t *payloads[16];
    int count = container_types(entry.rsi, types, payloads, lengths, 16);
    assert_int_equal(count, 6);
    assert_int_equal(types[0], ZBI_TYPE_STORAGE_RAMDISK);
    assert_int_equal(lengths[0], 1000);
    assert_int_equal(types[1], ZBI_TYPE_CMDLINE);
    assert_string_equal((const char *)payloads[1], "from-kernel");
    assert_int_equal(types[2], ZBI_TYPE_CMDLINE);
    assert_string_equal((const char *)payloads[2], "TERM=uart hello zircon");
    assert_int_equal(types[3], ZBI_TYPE_E820_TABLE);
    struct e820_entry map[E820_MAX_ENTRIES];
    int map_count = e820_build(&memory, map);
    assert_int_equal(lengths[3], map_count * sizeof(struct zbi_e820_entry));
    for (int i = 0; i < map_count; i++) {
        struct zbi_e820_entry item;
        memcpy(&item, payloads[3] + i * sizeof(item), sizeof(item));
        assert_int_equal(item.paddr, map[i].address);
        assert_int_equal(item.length, map[i].size);
        assert_int_equal(item.type, map[i].type);
    }
    assert_int_equal(types[4], ZBI_TYPE_ACPI_RSDP);
    uint64_t rsdp;
    memcpy(&rsdp, payloads[4], sizeof(rsdp));
    assert_int_equal(rsdp, 0xe0000);
    assert_int_equal(types[5], ZBI_TYPE_KERNEL_DRIVER);
    struct zbi_dcfg_simple_pio uart;
    memcpy(&uart, payloads[5], sizeof(uart));
    assert_int_equal(uart.base, 0x3f8);
    assert_int_equal(uart.irq, 4);
}

static void test_load_without_ramdisk_or_cmdline(void **state)
{
    (void)state;
    make_kernel(false, false);
    struct zbi_kernel_info info;
    struct boot_entry entry;
    struct error error = {{0}};
    if (load(NULL, false, &info, &entry, &error))
        fail_msg("load failed: %s", error.message);
    uint32_t types[16], lengths[16];
    const uint8_t *payloads[16];
    int count = container_types(entry.rsi, types, payloads, lengths, 16);
    assert_int_equal(count, 4);
    assert_int_equal(types[0], ZBI_TYPE_CMDLINE);
    assert_string_equal((const char *)payloads[0], "TERM=uart");
}

static void test_legacy_kernel_and_ramdisk(void **state)
{
    (void)state;
    make_kernel(true, true);
    make_ramdisk(true);
    struct zbi_kernel_info info;
    struct boot_entry entry;
    struct error error = {{0}};
    if (load("x", true, &info, &entry, &error))
        fail_msg("load failed: %s", error.message);
    struct zbi_header loaded;
    memcpy(&loaded, host + KERNEL_BASE, 16);
    assert_int_equal(loaded.length, ZBI_ALIGN(info.kernel_size) - 16);
    assert_int_equal(entry.instruction_pointer, KERNEL_BASE + 16 + 16 + 16 + 0x10);
    uint32_t types[16], lengths[16];
    const uint8_t *payloads[16];
    assert_int_equal(container_types(entry.rsi, types, payloads, lengths, 16), 6);
    assert_int_equal(types[0], ZBI_TYPE_STORAGE_RAMDISK);

    /* Items of one era cannot be copied into a container of the other. */
    make_ramdisk(false);
    assert_int_equal(load("x", true, &info, &entry, &error), -1);
    assert_error_mentions(&error, "cannot take the items");
}

static void test_refusals(void **state)
{
    (void)state;
    struct zbi_kernel_info info;
    struct boot_entry entry;
    struct error error = {{0}};

    /* A ramdisk that is not a container. */
    make_kernel(false, false);
    make_ramdisk(false);
    ramdisk[0] ^= 1;
    assert_int_equal(load(NULL, true, &info, &entry, &error), -1);
    assert_error_mentions(&error, "bootdata.bin: ");

    /* A reserve that guest memory cannot hold. */
    make_kernel(false, false);
    struct zbi_kernel header;
    memcpy(&header, kernel + 64, sizeof(header));
    header.reserve_memory_size = 512ULL << 20;
    memcpy(kernel + 64, &header, sizeof(header));
    assert_int_equal(load(NULL, false, &info, &entry, &error), -1);
    assert_error_mentions(&error, "raise --memory");

    /* A ramdisk too big to fit after the kernel. */
    make_kernel(false, false);
    struct guest_memory small;
    guest_memory_init_over(&small, host, 0x140000);
    assert_int_equal(zircon_parse(kernel, kernel_size, &info, &error), 0);
    static uint8_t big[0x80000];
    size_t big_size = 0;
    assert_int_equal(zbi_init_container(big, sizeof(big), &big_size, &error), 0);
    assert_int_equal(zbi_append(big, sizeof(big), &big_size, ZBI_TYPE_STORAGE_RAMDISK, 0, 0, big,
                                0x40000, &error),
                     0);
    struct boot_config config = {.kernel = {"zircon.zbi", kernel, kernel_size},
                                 .initrd = {"big.bin", big, big_size}};
    assert_int_equal(zircon_load(&info, &config, &small, &entry, &error), -1);
    assert_error_mentions(&error, "big.bin: the boot items");

    /* Not a ZBI at all, or not a kernel. */
    assert_false(zircon_is_zbi((const uint8_t *)"MZ..", 4));
    make_ramdisk(false);
    assert_true(zircon_is_zbi(ramdisk, ramdisk_size));
    assert_int_equal(zircon_parse(ramdisk, ramdisk_size, &info, &error), -1);
    assert_error_mentions(&error, "not a kernel");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_with_ramdisk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_without_ramdisk_or_cmdline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_kernel_and_ramdisk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
