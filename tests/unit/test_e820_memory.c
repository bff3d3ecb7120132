/* The guest memory layout: the e820 map for several sizes, and the one
 * bounds-checked translation, guest_memory_ptr. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "memory.h"
#include "x86/e820.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* guest_memory_init_over only records the pointer; these tests never touch
 * the bytes, so a fake host base stands in for gigabytes of RAM. */
static uint8_t *const fake_host = (uint8_t *)0x100000000000ull;

static void check_map(uint64_t size)
{
    struct guest_memory memory;
    guest_memory_init_over(&memory, fake_host, size);
    struct e820_entry entries[E820_MAX_ENTRIES];
    int count = e820_build(&memory, entries);
    assert_in_range(count, 1, E820_MAX_ENTRIES);

    uint64_t ram = 0;
    int ebda_reserved = 0, bios_reserved = 0, above_4g = 0;
    for (int i = 0; i < count; i++) {
        const struct e820_entry *entry = &entries[i];
        assert_true(entry->size > 0);
        assert_true(entry->address + entry->size > entry->address);
        if (i > 0) /* ascending, no overlaps */
            assert_true(entries[i - 1].address + entries[i - 1].size <= entry->address);
        if (entry->type == E820_RAM) {
            ram += entry->size;
            /* RAM never reaches into the legacy hole or the 3..4 GiB gap. */
            assert_true(entry->address + entry->size <= 0xa0000 || entry->address >= MiB);
            assert_true(entry->address + entry->size <= 3 * GiB || entry->address >= 4 * GiB);
            if (entry->address >= 4 * GiB) {
                assert_int_equal(entry->address, 4 * GiB);
                above_4g++;
            }
        } else {
            assert_int_equal(entry->type, E820_RESERVED);
            if (entry->address == 0x9fc00 && entry->size == 0x400)
                ebda_reserved++;
            if (entry->address == 0xe0000 && entry->size == 0x20000)
                bios_reserved++;
        }
    }
    /* All of RAM but the 1 KiB EBDA and the 384 KiB between 640 KiB and
     * 1 MiB (VGA, option ROMs, the BIOS area with the ACPI tables). */
    assert_int_equal(ram, size - (MiB - 0x9fc00));
    assert_int_equal(ebda_reserved, 1);
    assert_int_equal(bios_reserved, 1);
    assert_int_equal(above_4g, size > 3 * GiB ? 1 : 0);
    assert_int_equal(entries[0].address, 0);
    assert_int_equal(entries[0].size, 0x9fc00);
    assert_int_equal(entries[0].type, E820_RAM);
    if (size > 3 * GiB) {
        assert_int_equal(entries[count - 1].address, 4 * GiB);
        assert_int_equal(entries[count - 1].size, size - 3 * GiB);
    } else {
        assert_int_equal(entries[count - 1].address + entries[count - 1].size, size);
    }
}

static void test_e820_sizes(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {16 * MiB, 64 * MiB, GiB, 3 * GiB - 4096, 3 * GiB,
                                     3 * GiB + MiB, 4 * GiB, 8 * GiB, 1ULL << 40};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
        check_map(sizes[i]);
}

static void test_e820_exact_entries(void **state)
{
    (void)state;
    struct guest_memory memory;
    guest_memory_init_over(&memory, fake_host, 8 * GiB);
    struct e820_entry entries[E820_MAX_ENTRIES];
    assert_int_equal(e820_build(&memory, entries), 5);
    static const struct e820_entry expected[] = {
        {0, 0x9fc00, E820_RAM},
        {0x9fc00, 0x400, E820_RESERVED},
        {0xe0000, 0x20000, E820_RESERVED},
        {MiB, 3 * GiB - MiB, E820_RAM},
        {4 * GiB, 5 * GiB, E820_RAM},
    };
    for (int i = 0; i < 5; i++) {
        assert_int_equal(entries[i].address, expected[i].address);
        assert_int_equal(entries[i].size, expected[i].size);
        assert_int_equal(entries[i].type, expected[i].type);
    }
}

static void test_memory_regions(void **state)
{
    (void)state;
    struct guest_memory memory;
    guest_memory_init_over(&memory, fake_host, GiB);
    assert_int_equal(memory.region_count, 1);
    assert_int_equal(guest_memory_low_end(&memory), GiB);
    assert_int_equal(memory.total_size, GiB);

    guest_memory_init_over(&memory, fake_host, 3 * GiB);
    assert_int_equal(memory.region_count, 1);

    guest_memory_init_over(&memory, fake_host, 8 * GiB);
    assert_int_equal(memory.region_count, 2);
    assert_int_equal(guest_memory_low_end(&memory), 3 * GiB);
    assert_int_equal(memory.regions[1].guest_address, 4 * GiB);
    assert_int_equal(memory.regions[1].size, 5 * GiB);
    assert_ptr_equal(memory.regions[1].host, fake_host + 3 * GiB);

    struct guest_memory empty = {0};
    assert_int_equal(guest_memory_low_end(&empty), 0);
    assert_null(guest_memory_ptr(&empty, 0, 1));
}

static void test_ptr_low_only(void **state)
{
    (void)state;
    struct guest_memory memory;
    guest_memory_init_over(&memory, fake_host, 64 * MiB);
    assert_ptr_equal(guest_memory_ptr(&memory, 0, 1), fake_host);
    assert_ptr_equal(guest_memory_ptr(&memory, 0x7000, 4096), fake_host + 0x7000);
    assert_ptr_equal(guest_memory_ptr(&memory, 0, 64 * MiB), fake_host);
    assert_ptr_equal(guest_memory_ptr(&memory, 64 * MiB - 1, 1), fake_host + 64 * MiB - 1);
    /* A zero-length range at the very end names no byte outside RAM. */
    assert_ptr_equal(guest_memory_ptr(&memory, 64 * MiB, 0), fake_host + 64 * MiB);

    assert_null(guest_memory_ptr(&memory, 64 * MiB, 1));
    assert_null(guest_memory_ptr(&memory, 64 * MiB - 1, 2));
    assert_null(guest_memory_ptr(&memory, 0, 64 * MiB + 1));
    assert_null(guest_memory_ptr(&memory, 64 * MiB + 1, 0));
    assert_null(guest_memory_ptr(&memory, 4 * GiB, 1));
    /* Ranges that wrap around the address space. */
    assert_null(guest_memory_ptr(&memory, UINT64_MAX, 1));
    assert_null(guest_memory_ptr(&memory, UINT64_MAX, 2));
    assert_null(guest_memory_ptr(&memory, UINT64_MAX - 15, 32));
    assert_null(guest_memory_ptr(&memory, 16, UINT64_MAX));
    assert_null(guest_memory_ptr(&memory, 16, UINT64_MAX - 15));
    assert_null(guest_memory_ptr(&memory, 0, UINT64_MAX));
}

static void test_ptr_with_hole(void **state)
{
    (void)state;
    struct guest_memory memory;
    guest_memory_init_over(&memory, fake_host, 8 * GiB);
    uint64_t high_size = 5 * GiB;
    assert_ptr_equal(guest_memory_ptr(&memory, 3 * GiB - 1, 1), fake_host + 3 * GiB - 1);
    assert_ptr_equal(guest_memory_ptr(&memory, 4 * GiB, 1), fake_host + 3 * GiB);
    assert_ptr_equal(guest_memory_ptr(&memory, 4 * GiB + high_size - 8, 8),
                     fake_host + 8 * GiB - 8);
    assert_ptr_equal(guest_memory_ptr(&memory, 4 * GiB, high_size), fake_host + 3 * GiB);

    /* Anything touching the 3..4 GiB hole, even though the host bytes are adjacent. */
    assert_null(guest_memory_ptr(&memory, 3 * GiB - 1, 2));
    assert_null(guest_memory_ptr(&memory, 3 * GiB, 1));
    assert_null(guest_memory_ptr(&memory, 0xfec00000, 4));
    assert_null(guest_memory_ptr(&memory, 4 * GiB - 1, 1));
    assert_null(guest_memory_ptr(&memory, 4 * GiB - 1, 2));
    assert_null(guest_memory_ptr(&memory, 3 * GiB - 4096, GiB + 8192));
    assert_null(guest_memory_ptr(&memory, 0, 8 * GiB));
    assert_null(guest_memory_ptr(&memory, 0xd0000000, 1)); /* inside the hole */
    /* Past the high region's end, and wrapping. */
    assert_null(guest_memory_ptr(&memory, 9 * GiB, 1));
    assert_null(guest_memory_ptr(&memory, 4 * GiB + high_size - 8, 9));
    assert_null(guest_memory_ptr(&memory, UINT64_MAX - 4096, 8192));
    assert_null(guest_memory_ptr(&memory, 4 * GiB, UINT64_MAX));
}

/* Guest RAM is 2 MiB-aligned in our address space, whatever its size, and
 * every byte of it is mapped and writable (nothing trimmed too much). */
static void test_create_is_2mib_aligned(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {16ull << 20, (64ull << 20) + 4096, 1ull << 30};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct guest_memory memory;
        struct error error;
        assert_int_equal(guest_memory_create(&memory, sizes[i], &error), 0);
        assert_int_equal((uintptr_t)memory.host % GUEST_MEMORY_ALIGNMENT, 0);
        uint8_t *first = guest_memory_ptr(&memory, 0, 1);
        uint8_t *last = guest_memory_ptr(&memory, sizes[i] - 1, 1);
        assert_non_null(first);
        assert_non_null(last);
        *first = 1;
        *last = 2;
        assert_int_equal(*first + *last, 3);
        guest_memory_destroy(&memory);
    }
}

/* The BIOS layout: 20 packed little-endian bytes an entry. */
static void test_bios_table_layout(void **state)
{
    (void)state;
    const struct e820_entry entries[2] = {{0x0102030405060708ull, 0x1112131415161718ull, 0x21222324},
                                          {0x100000, 0x3ff00000, E820_RAM}};
    uint8_t out[2 * E820_BIOS_ENTRY_SIZE + 1];
    memset(out, 0xee, sizeof(out));
    e820_write_bios_table(entries, 2, out);
    static const uint8_t first[20] = {8, 7, 6, 5, 4, 3, 2, 1, 0x18, 0x17, 0x16, 0x15, 0x14,
                                      0x13, 0x12, 0x11, 0x24, 0x23, 0x22, 0x21};
    assert_memory_equal(out, first, 20);
    static const uint8_t second[20] = {0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0,
                                       1, 0, 0, 0};
    assert_memory_equal(out + 20, second, 20);
    assert_int_equal(out[40], 0xee); /* nothing past the table */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e820_sizes),
        cmocka_unit_test(test_e820_exact_entries),
        cmocka_unit_test(test_memory_regions),
        cmocka_unit_test(test_ptr_low_only),
        cmocka_unit_test(test_ptr_with_hole),
        cmocka_unit_test(test_create_is_2mib_aligned),
        cmocka_unit_test(test_bios_table_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
