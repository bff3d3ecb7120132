/* isa-debug-exit: the status a write gives, the widths it takes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "devices/debug_exit.h"

struct stops {
    int count;
    int status;
};

static void record_stop(void *opaque, int exit_status)
{
    struct stops *stops = opaque;
    stops->count++;
    stops->status = exit_status;
}

static void test_status_formula(void **state)
{
    (void)state;
    assert_int_equal(debug_exit_status(0), 1);
    assert_int_equal(debug_exit_status(1), 3);
    assert_int_equal(debug_exit_status(0x2a), 0x55);
    assert_int_equal(debug_exit_status(0x7f), 0xff);
    /* A process status has 8 bits: bit 7 of V and up are lost. */
    assert_int_equal(debug_exit_status(0x80), 1);
    assert_int_equal(debug_exit_status(0xffffffff), 0xff);
    assert_int_equal(debug_exit_status(0x12345681), 3);
}

static void test_write_widths(void **state)
{
    (void)state;
    struct stops stops = {0};
    struct debug_exit device = {record_stop, &stops};
    uint8_t one = 0x10;
    debug_exit_port_write(&device, 0, &one, 1);
    assert_int_equal(stops.count, 1);
    assert_int_equal(stops.status, 0x21);
    uint16_t two = 0x0105; /* V = 0x105: (0x20b) & 0xff */
    debug_exit_port_write(&device, 0, &two, 2);
    assert_int_equal(stops.count, 2);
    assert_int_equal(stops.status, 0x0b);
    uint32_t four = 0x00000033;
    debug_exit_port_write(&device, 0, &four, 4);
    assert_int_equal(stops.status, 0x67);
    /* Any of the four ports, as QEMU's device. */
    debug_exit_port_write(&device, 3, &one, 1);
    assert_int_equal(stops.count, 4);
    assert_int_equal(stops.status, 0x21);
}

static void test_odd_widths_ignored(void **state)
{
    (void)state;
    struct stops stops = {0};
    struct debug_exit device = {record_stop, &stops};
    uint64_t value = 5;
    debug_exit_port_write(&device, 0, &value, 8);
    debug_exit_port_write(&device, 0, &value, 3);
    debug_exit_port_write(&device, 0, &value, 0);
    assert_int_equal(stops.count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_formula),
        cmocka_unit_test(test_write_widths),
        cmocka_unit_test(test_odd_widths_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
