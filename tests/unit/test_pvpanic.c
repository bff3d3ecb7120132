/* pvpanic-pci as Linux's pvpanic-pci driver drives it: found on the bus by
 * its IDs, BAR 0 switched on, the register read for the events it takes,
 * then a panic written.  Bad accesses (other offsets, widths, unknown bits)
 * report nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "devices/pci.h"
#include "devices/pvpanic.h"

#define SLOT 1 /* the first slot after the host bridge */

struct fixture {
    struct pci_bus pci;
    struct bus pio, mmio;
    struct pvpanic device;
    uint8_t events[8];
    int event_count;
    uint32_t bar;
};

static void record_event(void *opaque, uint8_t events)
{
    struct fixture *fixture = opaque;
    if (fixture->event_count < 8)
        fixture->events[fixture->event_count] = events;
    fixture->event_count++;
}

static uint32_t config_read(struct fixture *fixture, unsigned offset, unsigned length)
{
    uint32_t value = 0;
    pci_config_read(&fixture->pci, SLOT, offset, &value, length);
    return value;
}

static void config_write(struct fixture *fixture, unsigned offset, uint32_t value,
                         unsigned length)
{
    pci_config_write(&fixture->pci, SLOT, offset, &value, length);
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    if (!fixture)
        return -1;
    fixture->pio.name = "pio";
    fixture->mmio.name = "mmio";
    struct error error;
    if (pci_bus_init(&fixture->pci, &fixture->pio, &fixture->mmio, &error))
        return -1;
    pvpanic_init(&fixture->device, record_event, fixture);
    if (pvpanic_plug(&fixture->device, &fixture->pci, &error))
        return -1;
    /* What the driver's probe does: memory decoding on. */
    fixture->bar = config_read(fixture, 0x10, 4) & ~0xfu;
    config_write(fixture, 0x04, 0x0002, 2);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    pci_bus_destroy(&fixture->pci);
    free(fixture);
    return 0;
}

static void test_identity(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(config_read(fixture, 0x00, 2), 0x1b36);
    assert_int_equal(config_read(fixture, 0x02, 2), 0x0011);
    assert_int_equal(config_read(fixture, 0x08, 4) >> 8, 0x088000); /* class 08 80 */
    /* BAR 0 is a 4 KiB memory BAR in the window. */
    assert_true(fixture->bar >= PCI_MMIO_WINDOW_START);
    assert_int_equal(fixture->bar & (PVPANIC_BAR_SIZE - 1), 0);
    uint32_t all_ones = 0xffffffff;
    pci_config_write(&fixture->pci, SLOT, 0x10, &all_ones, 4);
    assert_int_equal(config_read(fixture, 0x10, 4), ~(uint32_t)(PVPANIC_BAR_SIZE - 1));
}

static void test_register_reads_the_events_offered(void **state)
{
    struct fixture *fixture = *state;
    uint8_t byte = 0xff;
    assert_int_equal(bus_read(&fixture->mmio, fixture->bar, &byte, 1), 0);
    assert_int_equal(byte, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
    uint32_t word = 0xffffffff;
    assert_int_equal(bus_read(&fixture->mmio, fixture->bar, &word, 4), 0);
    assert_int_equal(word, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
    /* The rest of the BAR is zeros. */
    word = 0xffffffff;
    bus_read(&fixture->mmio, fixture->bar + 1, &word, 1);
    assert_int_equal(word & 0xff, 0);
    word = 0xffffffff;
    bus_read(&fixture->mmio, fixture->bar + PVPANIC_BAR_SIZE - 4, &word, 4);
    assert_int_equal(word, 0);
}

static void test_panic_is_reported(void **state)
{
    struct fixture *fixture = *state;
    uint8_t panicked = PVPANIC_PANICKED;
    assert_int_equal(bus_write(&fixture->mmio, fixture->bar, &panicked, 1), 0);
    assert_int_equal(fixture->event_count, 1);
    assert_int_equal(fixture->events[0], PVPANIC_PANICKED);
    uint8_t crash_loaded = PVPANIC_CRASH_LOADED;
    bus_write(&fixture->mmio, fixture->bar, &crash_loaded, 1);
    assert_int_equal(fixture->event_count, 2);
    assert_int_equal(fixture->events[1], PVPANIC_CRASH_LOADED);
    assert_int_equal(fixture->device.events_seen, PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);
}

static void test_bad_writes_report_nothing(void **state)
{
    struct fixture *fixture = *state;
    uint32_t panicked = PVPANIC_PANICKED;
    /* Elsewhere in the BAR. */
    bus_write(&fixture->mmio, fixture->bar + 1, &panicked, 1);
    bus_write(&fixture->mmio, fixture->bar + 4, &panicked, 4);
    bus_write(&fixture->mmio, fixture->bar + PVPANIC_BAR_SIZE - 1, &panicked, 1);
    /* No event bits, or only unknown ones. */
    uint8_t none = 0;
    bus_write(&fixture->mmio, fixture->bar, &none, 1);
    uint8_t unknown = 0xfc;
    bus_write(&fixture->mmio, fixture->bar, &unknown, 1);
    assert_int_equal(fixture->event_count, 0);
    /* Known bits among unknown ones still count, and only they are passed on. */
    uint8_t mixed = 0x81;
    bus_write(&fixture->mmio, fixture->bar, &mixed, 1);
    assert_int_equal(fixture->event_count, 1);
    assert_int_equal(fixture->events[0], PVPANIC_PANICKED);
}

static void test_nothing_while_decoding_is_off(void **state)
{
    struct fixture *fixture = *state;
    config_write(fixture, 0x04, 0, 2);
    uint8_t panicked = PVPANIC_PANICKED;
    bus_write(&fixture->mmio, fixture->bar, &panicked, 1);
    assert_int_equal(fixture->event_count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_register_reads_the_events_offered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_panic_is_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_writes_report_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_while_decoding_is_off, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
