/* The port-I/O and MMIO bus: registration rules and dispatch. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "bus.h"

struct fake_device {
    uint64_t last_offset;
    unsigned last_length;
    uint8_t written[8];
    int reads, writes;
    uint8_t fill;
};

static void fake_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    struct fake_device *device = opaque;
    device->last_offset = offset;
    device->last_length = length;
    device->reads++;
    for (unsigned i = 0; i < length; i++)
        ((uint8_t *)data)[i] = (uint8_t)(device->fill + offset + i);
}

static void fake_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct fake_device *device = opaque;
    device->last_offset = offset;
    device->last_length = length;
    device->writes++;
    memcpy(device->written, data, length);
}

static const struct bus_ops fake_ops = {fake_read, fake_write};
static const struct bus_ops write_only_ops = {NULL, fake_write};
static const struct bus_ops read_only_ops = {fake_read, NULL};

static void test_register_rules(void **state)
{
    (void)state;
    struct bus bus = {.name = "pio"};
    struct fake_device device = {0};
    struct error error = {{0}};
    assert_int_equal(bus_register(&bus, 0x3f8, 8, &fake_ops, &device, &error), 0);
    assert_int_equal(bus_register(&bus, 0x70, 2, &fake_ops, &device, &error), 0);

    /* Overlaps at either end, inside, and around. */
    static const struct {
        uint64_t base, length;
    } overlapping[] = {
        {0x3f8, 8}, {0x3f0, 9}, {0x3ff, 1}, {0x3fa, 2}, {0x300, 0x200}, {0x71, 1}, {0, 0x100},
    };
    for (size_t i = 0; i < sizeof(overlapping) / sizeof(overlapping[0]); i++) {
        memset(&error, 0, sizeof(error));
        assert_int_equal(bus_register(&bus, overlapping[i].base, overlapping[i].length,
                                      &fake_ops, &device, &error),
                         -1);
        assert_non_null(strstr(error.message, "overlaps"));
        assert_non_null(strstr(error.message, "pio"));
    }
    /* Adjacent ranges are fine. */
    assert_int_equal(bus_register(&bus, 0x3f0, 8, &fake_ops, &device, &error), 0);
    assert_int_equal(bus_register(&bus, 0x400, 1, &fake_ops, &device, &error), 0);
    assert_int_equal(bus_register(&bus, 0x72, 2, &fake_ops, &device, &error), 0);

    /* Empty and wrapping ranges. */
    assert_int_equal(bus_register(&bus, 0x1000, 0, &fake_ops, &device, &error), -1);
    assert_non_null(strstr(error.message, "empty or wrapping"));
    assert_int_equal(bus_register(&bus, UINT64_MAX, 2, &fake_ops, &device, &error), -1);
    assert_int_equal(bus_register(&bus, UINT64_MAX - 15, 17, &fake_ops, &device, &error), -1);
    assert_int_equal(bus_register(&bus, 1, UINT64_MAX, &fake_ops, &device, &error), -1);
    assert_int_equal(bus.count, 5);
}

static void test_register_capacity(void **state)
{
    (void)state;
    struct bus bus = {.name = "mmio"};
    struct fake_device device = {0};
    struct error error = {{0}};
    for (int i = 0; i < BUS_MAX_RANGES; i++)
        assert_int_equal(bus_register(&bus, 0x1000 * (uint64_t)i, 0x10, &fake_ops, &device,
                                      &error),
                         0);
    assert_int_equal(bus_register(&bus, 0x100000, 0x10, &fake_ops, &device, &error), -1);
    assert_non_null(strstr(error.message, "too many"));
    assert_int_equal(bus.count, BUS_MAX_RANGES);
}

static void test_dispatch(void **state)
{
    (void)state;
    struct bus bus = {.name = "pio"};
    struct fake_device uart = {.fill = 0x10}, rtc = {.fill = 0x80};
    struct error error = {{0}};
    assert_int_equal(bus_register(&bus, 0x3f8, 8, &fake_ops, &uart, &error), 0);
    assert_int_equal(bus_register(&bus, 0x70, 2, &fake_ops, &rtc, &error), 0);

    uint8_t byte = 0;
    assert_int_equal(bus_read(&bus, 0x3fd, &byte, 1), 0);
    assert_int_equal(uart.last_offset, 5);
    assert_int_equal(uart.last_length, 1);
    assert_int_equal(byte, 0x15);
    assert_int_equal(rtc.reads, 0);

    uint16_t word = 0;
    assert_int_equal(bus_read(&bus, 0x70, &word, 2), 0);
    assert_int_equal(rtc.last_offset, 0);
    assert_int_equal(rtc.last_length, 2);
    assert_int_equal(word, 0x8180);

    uint32_t value = 0xdeadbeef;
    assert_int_equal(bus_write(&bus, 0x3fc, &value, 4), 0); /* offsets 4..7: inside */
    assert_int_equal(uart.last_offset, 4);
    assert_int_equal(uart.last_length, 4);
    assert_memory_equal(uart.written, &value, 4);
    uint64_t wide = 0;
    assert_int_equal(bus_read(&bus, 0x3f8, &wide, 8), 0);
    assert_int_equal(uart.last_length, 8);
}

static void test_unclaimed(void **state)
{
    (void)state;
    struct bus bus = {.name = "pio"};
    struct fake_device device = {0};
    struct error error = {{0}};
    assert_int_equal(bus_register(&bus, 0x3f8, 8, &fake_ops, &device, &error), 0);

    uint32_t value = 0;
    assert_int_equal(bus_read(&bus, 0x80, &value, 4), -1);
    assert_int_equal(value, 0xffffffff);
    uint8_t byte = 0;
    assert_int_equal(bus_read(&bus, 0x3f7, &byte, 1), -1);
    assert_int_equal(byte, 0xff);
    assert_int_equal(bus_read(&bus, 0x400, &byte, 1), -1);
    assert_int_equal(bus_write(&bus, 0x80, &value, 1), -1);

    /* Accesses straddling the start or end of a range belong to nobody. */
    value = 0;
    assert_int_equal(bus_read(&bus, 0x3fe, &value, 4), -1);
    assert_int_equal(value, 0xffffffff);
    assert_int_equal(bus_read(&bus, 0x3f6, &value, 4), -1);
    uint16_t word = 0x1234;
    assert_int_equal(bus_write(&bus, 0x3ff, &word, 2), -1);
    assert_int_equal(device.reads, 0);
    assert_int_equal(device.writes, 0);

    /* A huge address does not wrap into a range. */
    assert_int_equal(bus_read(&bus, UINT64_MAX, &byte, 1), -1);
    uint64_t wide = 0;
    assert_int_equal(bus_read(&bus, UINT64_MAX - 3, &wide, 8), -1);
    assert_int_equal(wide, UINT64_MAX);
}

static void test_missing_callbacks(void **state)
{
    (void)state;
    struct bus bus = {.name = "pio"};
    struct fake_device device = {0};
    struct error error = {{0}};
    assert_int_equal(bus_register(&bus, 0x600, 1, &write_only_ops, &device, &error), 0);
    assert_int_equal(bus_register(&bus, 0x601, 1, &read_only_ops, &device, &error), 0);
    uint8_t byte = 0;
    /* Claimed, but no read callback: all ones, and still claimed. */
    assert_int_equal(bus_read(&bus, 0x600, &byte, 1), 0);
    assert_int_equal(byte, 0xff);
    byte = 5;
    assert_int_equal(bus_write(&bus, 0x600, &byte, 1), 0);
    assert_int_equal(device.writes, 1);
    assert_int_equal(device.written[0], 5);
    /* No write callback: dropped, claimed. */
    assert_int_equal(bus_write(&bus, 0x601, &byte, 1), 0);
    assert_int_equal(device.writes, 1);
    assert_int_equal(bus_read(&bus, 0x601, &byte, 1), 0);
    assert_int_equal(device.reads, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register_rules),
        cmocka_unit_test(test_register_capacity),
        cmocka_unit_test(test_dispatch),
        cmocka_unit_test(test_unclaimed),
        cmocka_unit_test(test_missing_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
