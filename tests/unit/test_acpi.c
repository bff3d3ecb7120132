/* The ACPI tables, read back the way a guest's ACPI code walks them: from the
 * RSDP through the XSDT to the FADT, DSDT and MADT. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "x86/acpi.h"

#define AREA_BASE 0xe0000ull
#define AREA_SIZE 0x20000u

static uint8_t area[AREA_SIZE];

static uint8_t byte_sum(const uint8_t *bytes, size_t length)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < length; i++)
        sum += bytes[i];
    return sum;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t value;
    memcpy(&value, p, 4);
    return value;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t value;
    memcpy(&value, p, 8);
    return value;
}

/* The table at a guest address, checked to lie in the area with a valid
 * header and checksum. */
static const uint8_t *table_at(uint64_t guest_address, const char *signature)
{
    assert_true(guest_address >= AREA_BASE);
    assert_true(guest_address + 36 <= AREA_BASE + AREA_SIZE);
    const uint8_t *table = area + (guest_address - AREA_BASE);
    assert_memory_equal(table, signature, 4);
    uint32_t length = get32(table + 4);
    assert_true(length >= 36);
    assert_true(guest_address + length <= AREA_BASE + AREA_SIZE);
    if (byte_sum(table, length) != 0)
        fail_msg("%s checksum does not sum to 0", signature);
    assert_memory_equal(table + 10, "GUEST ", 6); /* OEM id */
    return table;
}

static void build(int cpu_count)
{
    memset(area, 0xee, sizeof(area));
    uint64_t rsdp_address = 0;
    struct error error = {{0}};
    if (acpi_build_tables(area, AREA_BASE, sizeof(area), cpu_count, &rsdp_address, &error))
        fail_msg("acpi_build_tables(%d CPUs): %s", cpu_count, error.message);

    /* RSDP: 16-byte aligned in the BIOS area, where a legacy scan finds it. */
    assert_int_equal(rsdp_address % 16, 0);
    assert_true(rsdp_address >= AREA_BASE && rsdp_address + 36 <= AREA_BASE + AREA_SIZE);
    const uint8_t *rsdp = area + (rsdp_address - AREA_BASE);
    assert_memory_equal(rsdp, "RSD PTR ", 8);
    assert_int_equal(byte_sum(rsdp, 20), 0);
    assert_int_equal(byte_sum(rsdp, 36), 0);
    assert_int_equal(rsdp[15], 2); /* revision */
    assert_int_equal(get32(rsdp + 20), 36);

    /* XSDT: two entries, FADT then MADT. */
    const uint8_t *xsdt = table_at(get64(rsdp + 24), "XSDT");
    assert_int_equal(get32(xsdt + 4), 36 + 2 * 8);
    const uint8_t *fadt = table_at(get64(xsdt + 36), "FACP");
    const uint8_t *madt = table_at(get64(xsdt + 44), "APIC");

    /* FADT, revision 6.x, hardware-reduced. */
    assert_int_equal(get32(fadt + 4), 276);
    assert_int_equal(fadt[8], 6);
    uint32_t flags = get32(fadt + 112);
    assert_true(flags & (1u << 20)); /* HW_REDUCED_ACPI */
    assert_true(flags & (1u << 10)); /* RESET_REG_SUP */
    /* Reset register: system I/O port 0x602, value 1. */
    assert_int_equal(fadt[116], 1);
    assert_int_equal(fadt[117], 8);
    assert_int_equal(get64(fadt + 120), 0x602);
    assert_int_equal(fadt[128], 1);
    /* Sleep control and status registers. */
    assert_int_equal(fadt[244], 1);
    assert_int_equal(fadt[245], 8);
    assert_int_equal(get64(fadt + 248), 0x600);
    assert_int_equal(fadt[256], 1);
    assert_int_equal(get64(fadt + 260), 0x601);
    /* No PM1 blocks, no SCI: the guest must not rely on them. */
    assert_int_equal(get32(fadt + 64), 0);  /* PM1a_CNT_BLK */
    assert_int_equal(get32(fadt + 76), 0);  /* PM_TMR_BLK */

    /* DSDT through X_DSDT (and the 32-bit DSDT, which agrees). */
    uint64_t dsdt_address = get64(fadt + 140);
    assert_int_equal(get32(fadt + 40), dsdt_address);
    const uint8_t *dsdt = table_at(dsdt_address, "DSDT");
    uint32_t dsdt_length = get32(dsdt + 4);
    assert_true(dsdt_length > 36 + 5);
    assert_non_null(memmem(dsdt + 36, dsdt_length - 36, "_S5_", 4));
    /* NameOp before the name, and SLP_TYPa 5 in the package. */
    const uint8_t *s5 = memmem(dsdt + 36, dsdt_length - 36, "_S5_", 4);
    assert_int_equal(s5[-1], 0x08);
    assert_int_equal(s5[4], 0x12);
    /* The power button and the Generic Event Device that presses it. */
    assert_non_null(memmem(dsdt + 36, dsdt_length - 36, "PWRB", 4));
    assert_non_null(memmem(dsdt + 36, dsdt_length - 36, "ACPI0013", 8));
    assert_non_null(memmem(dsdt + 36, dsdt_length - 36, "_EVT", 4));
    static const uint8_t ged_interrupt[] = {0x89, 0x06, 0x00, 0x03, 0x01, 9, 0, 0, 0};
    assert_non_null(memmem(dsdt + 36, dsdt_length - 36, ged_interrupt, sizeof(ged_interrupt)));

    /* MADT: local APIC address, N enabled local APICs, one IOAPIC. */
    uint32_t madt_length = get32(madt + 4);
    assert_int_equal(get32(madt + 36), 0xfee00000);
    int local_apics = 0, ioapics = 0;
    size_t offset = 44;
    while (offset < madt_length) {
        const uint8_t *entry = madt + offset;
        uint8_t type = entry[0], length = entry[1];
        assert_true(length >= 2);
        assert_true(offset + length <= madt_length);
        if (type == 0) {
            assert_int_equal(length, 8);
            assert_int_equal(entry[2], local_apics); /* processor UID */
            assert_int_equal(entry[3], local_apics); /* APIC id */
            assert_int_equal(get32(entry + 4) & 1, 1); /* enabled */
            local_apics++;
        } else if (type == 1) {
            assert_int_equal(length, 12);
            assert_int_equal(get32(entry + 4), 0xfec00000);
            assert_int_equal(get32(entry + 8), 0); /* GSI base */
            ioapics++;
        } else {
            assert_int_equal(type, 4); /* local APIC NMI */
            assert_int_equal(length, 6);
        }
        offset += length;
    }
    assert_int_equal(offset, madt_length);
    assert_int_equal(local_apics, cpu_count);
    assert_int_equal(ioapics, 1);

    /* Tables do not overlap one another. */
    const uint8_t *tables[] = {rsdp, xsdt, fadt, dsdt, madt};
    size_t lengths[] = {36, get32(xsdt + 4), 276, dsdt_length, madt_length};
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            assert_true(tables[i] + lengths[i] <= tables[j] || tables[j] + lengths[j] <= tables[i]);
}

static void test_one_cpu(void **state)
{
    (void)state;
    build(1);
}

static void test_two_cpus(void **state)
{
    (void)state;
    build(2);
}

static void test_many_cpus(void **state)
{
    (void)state;
    build(7);
    build(255);
}

static void test_bad_cpu_counts(void **state)
{
    (void)state;
    uint64_t rsdp_address = 0x1234;
    struct error error = {{0}};
    assert_int_equal(acpi_build_tables(area, AREA_BASE, sizeof(area), 0, &rsdp_address, &error),
                     -1);
    assert_non_null(strstr(error.message, "0"));
    assert_int_equal(acpi_build_tables(area, AREA_BASE, sizeof(area), 256, &rsdp_address, &error),
                     -1);
    assert_non_null(strstr(error.message, "256"));
    assert_int_equal(acpi_build_tables(area, AREA_BASE, sizeof(area), -1, &rsdp_address, &error),
                     -1);
    assert_int_equal(rsdp_address, 0x1234);
}

static void test_area_too_small(void **state)
{
    (void)state;
    uint64_t rsdp_address = 0x1234;
    struct error error = {{0}};
    static const size_t sizes[] = {0, 1, 35, 36, 100, 300, 400};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        /* A heap buffer of exactly that size: ASan catches any write past it. */
        uint8_t *small = malloc(sizes[i] ? sizes[i] : 1);
        assert_non_null(small);
        assert_int_equal(acpi_build_tables(small, AREA_BASE, sizes[i], 1, &rsdp_address, &error),
                         -1);
        assert_non_null(strstr(error.message, "do not fit"));
        free(small);
    }
    /* 255 CPUs need a bigger MADT than a size that fits one CPU. */
    size_t fits_one = 0;
    for (size_t size = 400; size < 4096; size += 4) {
        uint8_t *buffer = malloc(size);
        int result = acpi_build_tables(buffer, AREA_BASE, size, 1, &rsdp_address, &error);
        free(buffer);
        if (result == 0) {
            fits_one = size;
            break;
        }
    }
    assert_true(fits_one > 0);
    uint8_t *buffer = malloc(fits_one);
    assert_int_equal(acpi_build_tables(buffer, AREA_BASE, fits_one, 255, &rsdp_address, &error),
                     -1);
    free(buffer);
    assert_int_equal(rsdp_address, AREA_BASE);
}

static void test_checksum(void **state)
{
    (void)state;
    assert_int_equal(acpi_checksum("", 0), 0);
    uint8_t bytes[] = {1, 2, 3, 0};
    bytes[3] = acpi_checksum(bytes, 3);
    assert_int_equal(bytes[3], 0xfa);
    assert_int_equal(byte_sum(bytes, 4), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_cpu),
        cmocka_unit_test(test_two_cpus),
        cmocka_unit_test(test_many_cpus),
        cmocka_unit_test(test_bad_cpu_counts),
        cmocka_unit_test(test_area_too_small),
        cmocka_unit_test(test_checksum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
