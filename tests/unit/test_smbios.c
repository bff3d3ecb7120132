/* The SMBIOS tables read back as a guest's dmi_scan would: the 64-bit entry
 * point and its checksum, then every structure's length, strings and handle,
 * up to the end-of-table structure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "x86/smbios.h"

#define AREA_ADDRESS 0xf0000
#define AREA_SIZE 4096

struct structure {
    const uint8_t *formatted;
    const char *strings[16];
    int string_count;
};

static uint16_t get16(const uint8_t *at) { return (uint16_t)(at[0] | at[1] << 8); }

static uint32_t get32(const uint8_t *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 |
           (uint32_t)at[3] << 24;
}

static uint64_t get64(const uint8_t *at) { return get32(at) | (uint64_t)get32(at + 4) << 32; }

/* Walks the table; checks what every structure must satisfy. */
static int parse(const uint8_t *area, struct structure *structures, int capacity)
{
    assert_memory_equal(area, "_SM3_", 5);
    uint8_t length = area[6];
    assert_int_equal(length, 24);
    uint8_t sum = 0;
    for (int i = 0; i < length; i++)
        sum = (uint8_t)(sum + area[i]);
    assert_int_equal(sum, 0);
    assert_int_equal(area[7], 3); /* SMBIOS 3.0 */
    assert_int_equal(area[8], 0);
    assert_int_equal(area[10], 1);
    uint32_t table_length = get32(area + 12);
    uint64_t table_address = get64(area + 16);
    assert_int_equal(table_address % 16, 0);
    assert_true(table_address >= AREA_ADDRESS + 24);
    assert_true(table_address - AREA_ADDRESS + table_length <= AREA_SIZE);

    const uint8_t *table = area + (table_address - AREA_ADDRESS);
    size_t offset = 0;
    int count = 0;
    uint16_t handles[64];
    for (;;) {
        assert_true(count < capacity);
        assert_true(offset + 4 <= table_length);
        const uint8_t *formatted = table + offset;
        assert_true(formatted[1] >= 4);
        assert_true(offset + formatted[1] + 2 <= table_length);
        struct structure *structure = &structures[count];
        memset(structure, 0, sizeof(*structure));
        structure->formatted = formatted;
        handles[count] = get16(formatted + 2);
        for (int i = 0; i < count; i++)
            assert_int_not_equal(handles[i], handles[count]);
        offset += formatted[1];
        /* Strings until an empty one; none at all is two NULs. */
        if (table[offset] == 0) {
            assert_int_equal(table[offset + 1], 0);
            offset += 2;
        } else {
            while (table[offset] != 0) {
                const char *text = (const char *)table + offset;
                size_t text_length = strnlen(text, table_length - offset);
                assert_true(offset + text_length < table_length);
                assert_true(structure->string_count < 16);
                structure->strings[structure->string_count++] = text;
                offset += text_length + 1;
            }
            offset++;
        }
        count++;
        if (formatted[0] == 127)
            break;
    }
    assert_int_equal(offset, table_length); /* the end structure ends the table */
    return count;
}

/* The string a formatted-area byte names, or NULL for 0 (none). */
static const char *string_at(const struct structure *structure, unsigned offset)
{
    uint8_t number = structure->formatted[offset];
    if (number == 0)
        return NULL;
    assert_true(number <= structure->string_count);
    return structure->strings[number - 1];
}

static const struct structure *find(const struct structure *structures, int count, uint8_t type)
{
    const struct structure *found = NULL;
    for (int i = 0; i < count; i++)
        if (structures[i].formatted[0] == type) {
            assert_null(found); /* one of each here */
            found = &structures[i];
        }
    assert_non_null(found);
    return found;
}

static struct smbios_machine machine(int cpus, uint64_t memory)
{
    struct smbios_machine description = {.cpu_count = cpus, .memory_size = memory,
                                         .cpu_signature = 0x000906ea,
                                         .cpu_features = 0x0fabfbff,
                                         .cpu_version = "Example CPU @ 3.00GHz"};
    for (int i = 0; i < 16; i++)
        description.uuid[i] = (uint8_t)(0x10 + i);
    return description;
}

static void test_structures(void **state)
{
    (void)state;
    static uint8_t area[AREA_SIZE];
    memset(area, 0xcc, sizeof(area));
    struct smbios_machine description = machine(2, 1ULL << 30);
    struct error error;
    assert_int_equal(smbios_build(area, AREA_ADDRESS, sizeof(area), &description, &error), 0);
    struct structure structures[32];
    int count = parse(area, structures, 32);
    assert_int_equal(count, 8);
    static const uint8_t types[] = {0, 1, 3, 4, 16, 17, 32, 127};
    for (int i = 0; i < count; i++)
        assert_int_equal(structures[i].formatted[0], types[i]);

    const struct structure *bios = find(structures, count, 0);
    assert_int_equal(bios->formatted[1], 0x18);
    assert_string_equal(string_at(bios, 0x04), SMBIOS_VENDOR);
    assert_non_null(string_at(bios, 0x05));
    assert_non_null(string_at(bios, 0x08)); /* release date, MM/DD/YYYY */
    assert_int_equal(strlen(string_at(bios, 0x08)), 10);

    const struct structure *system = find(structures, count, 1);
    assert_int_equal(system->formatted[1], 0x1b);
    assert_string_equal(string_at(system, 0x04), SMBIOS_VENDOR);
    assert_string_equal(string_at(system, 0x05), SMBIOS_PRODUCT);
    assert_memory_equal(system->formatted + 0x08, description.uuid, 16);
    /* The serial is the UUID as Linux prints product_uuid. */
    assert_string_equal(string_at(system, 0x07), "13121110-1514-1716-1819-1a1b1c1d1e1f");

    const struct structure *chassis = find(structures, count, 3);
    assert_string_equal(string_at(chassis, 0x04), SMBIOS_VENDOR);

    const struct structure *processor = find(structures, count, 4);
    assert_int_equal(processor->formatted[1], 0x30);
    assert_int_equal(get32(processor->formatted + 0x08), 0x000906ea);
    assert_int_equal(get32(processor->formatted + 0x0c), 0x0fabfbff);
    assert_string_equal(string_at(processor, 0x10), "Example CPU @ 3.00GHz");
    assert_int_equal(processor->formatted[0x23], 2);
    assert_int_equal(get16(processor->formatted + 0x2a), 2);

    const struct structure *array = find(structures, count, 16);
    assert_int_equal(get32(array->formatted + 0x07), 1 << 20); /* KiB */
    assert_int_equal(get16(array->formatted + 0x0d), 1);
    const struct structure *device = find(structures, count, 17);
    assert_int_equal(get16(device->formatted + 0x04), get16(array->formatted + 0x02));
    assert_int_equal(get16(device->formatted + 0x0c), 1024); /* MiB */
    assert_string_equal(string_at(device, 0x10), "DIMM 0");

    const struct structure *boot = find(structures, count, 32);
    assert_int_equal(boot->formatted[1], 0x0b);
    assert_int_equal(boot->formatted[0x0a], 0); /* no errors */
}

/* Sizes and counts past the short fields go into the extended ones. */
static void test_large_machine(void **state)
{
    (void)state;
    static uint8_t area[AREA_SIZE];
    struct smbios_machine description = machine(300, 4096ULL << 30); /* 4 TiB */
    description.cpu_version = NULL;
    struct error error;
    assert_int_equal(smbios_build(area, AREA_ADDRESS, sizeof(area), &description, &error), 0);
    struct structure structures[32];
    int count = parse(area, structures, 32);
    const struct structure *processor = find(structures, count, 4);
    assert_null(string_at(processor, 0x10));
    assert_int_equal(processor->formatted[0x23], 0xff);
    assert_int_equal(get16(processor->formatted + 0x2a), 300);
    const struct structure *array = find(structures, count, 16);
    assert_int_equal(get32(array->formatted + 0x07), 0x80000000);
    assert_int_equal(get64(array->formatted + 0x0f), 4096ULL << 30);
    const struct structure *device = find(structures, count, 17);
    assert_int_equal(get16(device->formatted + 0x0c), 0x7fff);
    assert_int_equal(get32(device->formatted + 0x1c), 4096 << 10);
}

/* Too small an area fails cleanly, writing nothing past its end. */
static void test_area_too_small(void **state)
{
    (void)state;
    struct smbios_machine description = machine(1, 256ULL << 20);
    struct error error;
    for (size_t size = 0; size < 400; size += 16) {
        uint8_t area[512];
        memset(area, 0xcc, sizeof(area));
        int result = smbios_build(area, AREA_ADDRESS, size, &description, &error);
        for (size_t i = size; i < sizeof(area); i++)
            assert_int_equal(area[i], 0xcc);
        if (result == 0) {
            struct structure structures[32];
            assert_int_equal(parse(area, structures, 32), 8);
        }
    }
    uint8_t area[64];
    assert_int_not_equal(smbios_build(area, AREA_ADDRESS, sizeof(area), &description, &error), 0);
    assert_int_not_equal(smbios_build(area, AREA_ADDRESS + 4, sizeof(area), &description, &error),
                         0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structures),
        cmocka_unit_test(test_large_machine),
        cmocka_unit_test(test_area_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
