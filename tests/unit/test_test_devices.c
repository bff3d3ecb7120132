/* pc-testdev: the scratch register through both port ranges and every
 * width, the IRQ-line ports, the page flush, the scratch MMIO, and the
 * accesses each refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/test_devices.h"

#define MEMORY_SIZE (16u << 20)

struct irq_event {
    unsigned line;
    int level;
};

struct fixture {
    struct guest_memory memory;
    uint8_t *host;
    struct test_devices devices;
    struct irq_event events[32];
    int event_count;
};

static void record_irq(void *opaque, unsigned line, int level)
{
    struct fixture *fixture = opaque;
    if (fixture->event_count < 32)
        fixture->events[fixture->event_count] = (struct irq_event){line, level};
    fixture->event_count++;
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    /* Real pages: the flush changes their protection. */
    fixture->host = mmap(NULL, MEMORY_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
    if (fixture->host == MAP_FAILED)
        return -1;
    guest_memory_init_over(&fixture->memory, fixture->host, MEMORY_SIZE);
    test_devices_init(&fixture->devices, &fixture->memory, record_irq, fixture);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    test_devices_destroy(&fixture->devices);
    munmap(fixture->host, MEMORY_SIZE);
    free(fixture);
    return 0;
}

static uint32_t scratch_read(struct test_devices *devices, unsigned offset, unsigned length)
{
    uint32_t value = 0xdeadbeef;
    test_devices_scratch_read(devices, offset, &value, length);
    return length == 4 ? value : value & ((1u << (8 * length)) - 1);
}

static void scratch_write(struct test_devices *devices, unsigned offset, uint32_t value,
                          unsigned length)
{
    test_devices_scratch_write(devices, offset, &value, length);
}

static void test_scratch_widths(void **state)
{
    struct fixture *fixture = *state;
    struct test_devices *devices = &fixture->devices;
    assert_int_equal(scratch_read(devices, 0, 4), 0);
    scratch_write(devices, 0, 0x12345678, 4);
    assert_int_equal(scratch_read(devices, 0, 4), 0x12345678);
    assert_int_equal(scratch_read(devices, 0, 1), 0x78);
    assert_int_equal(scratch_read(devices, 1, 1), 0x56);
    assert_int_equal(scratch_read(devices, 3, 1), 0x12);
    assert_int_equal(scratch_read(devices, 2, 2), 0x1234);
    assert_int_equal(scratch_read(devices, 1, 2), 0x3456);
    scratch_write(devices, 2, 0xabcd, 2);
    assert_int_equal(scratch_read(devices, 0, 4), 0xabcd5678);
    scratch_write(devices, 1, 0x99, 1);
    assert_int_equal(scratch_read(devices, 0, 4), 0xabcd9978);
    scratch_write(devices, 3, 0x01, 1);
    assert_int_equal(scratch_read(devices, 0, 4), 0x01cd9978);
}

static void test_scratch_out_of_range(void **state)
{
    struct fixture *fixture = *state;
    struct test_devices *devices = &fixture->devices;
    scratch_write(devices, 0, 0x11223344, 4);
    /* The bus never hands these, but the register must not spill over. */
    scratch_write(devices, 2, 0xffffffff, 4);
    scratch_write(devices, 4, 0xffffffff, 1);
    assert_int_equal(scratch_read(devices, 0, 4), 0x11223344);
    uint32_t value = 0xdeadbeef;
    test_devices_scratch_read(devices, 1, &value, 4);
    assert_int_equal(value, 0);
}

static void test_irq_lines(void **state)
{
    struct fixture *fixture = *state;
    struct test_devices *devices = &fixture->devices;
    uint8_t high = 1, low = 0, other = 0x80;
    test_devices_irq_write(devices, 10, &high, 1);
    test_devices_irq_write(devices, 10, &low, 1);
    test_devices_irq_write(devices, 0, &other, 1);
    test_devices_irq_write(devices, 23, &high, 1);
    assert_int_equal(fixture->event_count, 4);
    assert_int_equal(fixture->events[0].line, 10);
    assert_int_equal(fixture->events[0].level, 1);
    assert_int_equal(fixture->events[1].line, 10);
    assert_int_equal(fixture->events[1].level, 0);
    assert_int_equal(fixture->events[2].line, 0);
    assert_int_equal(fixture->events[2].level, 1); /* any non-zero byte raises */
    assert_int_equal(fixture->events[3].line, 23);
    /* Wider writes and lines past the IOAPIC's 24 are not lines. */
    uint32_t wide = 1;
    test_devices_irq_write(devices, 4, &wide, 2);
    test_devices_irq_write(devices, 4, &wide, 4);
    test_devices_irq_write(devices, 24, &high, 1);
    assert_int_equal(fixture->event_count, 4);
}

static void test_flush_keeps_contents(void **state)
{
    struct fixture *fixture = *state;
    struct test_devices *devices = &fixture->devices;
    memset(fixture->host + 0x5000, 0x5a, 4096);
    uint32_t address = 0x5123; /* inside the page: the page is flushed */
    test_devices_flush_write(devices, 0, &address, 4);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(fixture->host[0x5000 + i], 0x5a);
    /* Still writable afterwards. */
    fixture->host[0x5000] = 1;
    assert_int_equal(fixture->host[0x5000], 1);
}

static void test_flush_bad_accesses(void **state)
{
    struct fixture *fixture = *state;
    struct test_devices *devices = &fixture->devices;
    /* Outside guest RAM, and widths other than 4: logged, nothing done. */
    uint32_t outside = MEMORY_SIZE, top = 0xfffff000;
    test_devices_flush_write(devices, 0, &outside, 4);
    test_devices_flush_write(devices, 0, &top, 4);
    uint32_t address = 0x6000;
    test_devices_flush_write(devices, 0, &address, 2);
    test_devices_flush_write(devices, 0, &address, 1);
    test_devices_flush_write(devices, 1, &address, 1);
    fixture->host[0x6000] = 7;
    assert_int_equal(fixture->host[0x6000], 7);
}

static void test_mmio_scratch(void **state)
{
    struct fixture *fixture = *state;
    struct test_devices *devices = &fixture->devices;
    uint64_t value = 0;
    test_devices_mmio_read(devices, 0, &value, 8);
    assert_int_equal(value, 0);
    uint64_t pattern = 0x0123456789abcdefULL;
    test_devices_mmio_write(devices, 0x100, &pattern, 8);
    test_devices_mmio_read(devices, 0x100, &value, 8);
    assert_int_equal(value, pattern);
    uint32_t word = 0;
    test_devices_mmio_read(devices, 0x104, &word, 4);
    assert_int_equal(word, 0x01234567);
    uint16_t half = 0xbeef;
    test_devices_mmio_write(devices, 0x102, &half, 2);
    test_devices_mmio_read(devices, 0x100, &value, 8);
    assert_int_equal(value, 0x01234567beefcdefULL);
    uint8_t byte = 0x42, back = 0;
    test_devices_mmio_write(devices, TEST_DEVICES_MMIO_SIZE - 1, &byte, 1);
    test_devices_mmio_read(devices, TEST_DEVICES_MMIO_SIZE - 1, &back, 1);
    assert_int_equal(back, 0x42);
}

static void test_mmio_out_of_range(void **state)
{
    struct fixture *fixture = *state;
    struct test_devices *devices = &fixture->devices;
    uint64_t value = ~0ULL;
    test_devices_mmio_write(devices, TEST_DEVICES_MMIO_SIZE - 4, &value, 8);
    test_devices_mmio_write(devices, TEST_DEVICES_MMIO_SIZE, &value, 1);
    test_devices_mmio_write(devices, ~0ULL, &value, 8);
    uint32_t tail = 1;
    test_devices_mmio_read(devices, TEST_DEVICES_MMIO_SIZE - 4, &tail, 4);
    assert_int_equal(tail, 0);
    uint64_t read_back = 5;
    test_devices_mmio_read(devices, TEST_DEVICES_MMIO_SIZE - 4, &read_back, 8);
    assert_int_equal(read_back, 0);
    test_devices_mmio_read(devices, ~0ULL - 2, &read_back, 8);
    assert_int_equal(read_back, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scratch_widths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scratch_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_irq_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_keeps_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_bad_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmio_scratch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mmio_out_of_range, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
