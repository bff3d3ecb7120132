/* PCI bus 0 through configuration mechanism #1: the host bridge Linux's
 * probe looks for, empty slots, BAR sizing and moving, read-only header
 * bytes, capability lists, and the memory window's dispatch to BARs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "devices/pci.h"

#define ADDRESS_ENABLE 0x80000000u

struct bar_move {
    int bar;
    uint64_t old_address, new_address;
};

/* A function that records what the bus asks of it. */
struct fake_function {
    struct pci_function function;
    struct bar_move moves[32];
    int move_count;
    int config_reads, config_writes;
    unsigned last_config_offset, last_config_length;
    int bar_reads, bar_writes;
    int last_bar;
    uint64_t last_bar_offset;
    unsigned last_bar_length;
    uint8_t last_written[8];
};

struct fixture {
    struct pci_bus pci;
    struct bus pio, mmio;
    struct fake_function fakes[PCI_MAX_DEVICES + 1];
};

static struct fake_function *fake_of(struct pci_function *function)
{
    return function->opaque;
}

static void fake_bar_read(struct pci_function *function, int bar, uint64_t offset, void *data,
                          unsigned length)
{
    struct fake_function *fake = fake_of(function);
    fake->bar_reads++;
    fake->last_bar = bar;
    fake->last_bar_offset = offset;
    fake->last_bar_length = length;
    memset(data, 0x5a, length);
}

static void fake_bar_write(struct pci_function *function, int bar, uint64_t offset,
                           const void *data, unsigned length)
{
    struct fake_function *fake = fake_of(function);
    fake->bar_writes++;
    fake->last_bar = bar;
    fake->last_bar_offset = offset;
    fake->last_bar_length = length;
    memcpy(fake->last_written, data, length < 8 ? length : 8);
}

static void fake_bar_moved(struct pci_function *function, int bar, uint64_t old_address,
                           uint64_t new_address)
{
    struct fake_function *fake = fake_of(function);
    if (fake->move_count < 32)
        fake->moves[fake->move_count] = (struct bar_move){bar, old_address, new_address};
    fake->move_count++;
}

static void fake_config_read(struct pci_function *function, unsigned offset, unsigned length)
{
    struct fake_function *fake = fake_of(function);
    fake->config_reads++;
    fake->last_config_offset = offset;
    fake->last_config_length = length;
}

static void fake_config_write(struct pci_function *function, unsigned offset, unsigned length)
{
    struct fake_function *fake = fake_of(function);
    fake->config_writes++;
    fake->last_config_offset = offset;
    fake->last_config_length = length;
}

static const struct pci_function_ops fake_ops = {
    .bar_read = fake_bar_read,
    .bar_write = fake_bar_write,
    .bar_moved = fake_bar_moved,
    .config_read = fake_config_read,
    .config_write = fake_config_write,
};

static struct fake_function *make_fake(struct fixture *fixture, int index)
{
    struct fake_function *fake = &fixture->fakes[index];
    memset(fake, 0, sizeof(*fake));
    pci_function_init(&fake->function, 0x1af4, (uint16_t)(0x1000 + index), 0x018000, 0x1af4,
                      0x0002);
    fake->function.ops = &fake_ops;
    fake->function.opaque = fake;
    return fake;
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

static uint32_t config_read(struct fixture *fixture, unsigned slot, unsigned offset,
                            unsigned length)
{
    uint32_t value = 0;
    pci_config_read(&fixture->pci, slot, offset, &value, length);
    return value;
}

static void config_write(struct fixture *fixture, unsigned slot, unsigned offset, uint32_t value,
                         unsigned length)
{
    pci_config_write(&fixture->pci, slot, offset, &value, length);
}

static void set_address(struct fixture *fixture, uint32_t address)
{
    assert_int_equal(bus_write(&fixture->pio, PCI_CONFIG_ADDRESS_PORT, &address, 4), 0);
}

/* What a driver does: address register, then the data window. */
static uint32_t port_read(struct fixture *fixture, unsigned slot, unsigned offset,
                          unsigned length)
{
    set_address(fixture, ADDRESS_ENABLE | slot << 11 | (offset & 0xfc));
    uint32_t value = 0;
    bus_read(&fixture->pio, PCI_CONFIG_DATA_PORT + (offset & 3), &value, length);
    return value;
}

static void port_write(struct fixture *fixture, unsigned slot, unsigned offset, uint32_t value,
                       unsigned length)
{
    set_address(fixture, ADDRESS_ENABLE | slot << 11 | (offset & 0xfc));
    bus_write(&fixture->pio, PCI_CONFIG_DATA_PORT + (offset & 3), &value, length);
}

static void test_host_bridge(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(config_read(fixture, 0, 0x00, 2), 0x1b36);
    assert_int_equal(config_read(fixture, 0, 0x02, 2), 0x0008);
    /* Class 06 00 00 (host bridge) above revision 0: what Linux's
     * pci_sanity_check looks for on slot 0. */
    assert_int_equal(config_read(fixture, 0, 0x08, 4), 0x06000000);
    assert_int_equal(config_read(fixture, 0, 0x0a, 2), 0x0600);
    assert_int_equal(config_read(fixture, 0, 0x0e, 1), 0); /* header type 0, one function */
    assert_int_equal(port_read(fixture, 0, 0x00, 4), 0x00081b36);
    assert_int_equal(port_read(fixture, 0, 0x0a, 2), 0x0600);
    assert_int_equal(port_read(fixture, 0, 0x0b, 1), 0x06);
    /* No BARs: sizing them reads back 0. */
    config_write(fixture, 0, 0x10, 0xffffffff, 4);
    assert_int_equal(config_read(fixture, 0, 0x10, 4), 0);
}

static void test_missing_slots_read_all_ones(void **state)
{
    struct fixture *fixture = *state;
    for (unsigned slot = 1; slot < PCI_MAX_DEVICES; slot++) {
        assert_int_equal(config_read(fixture, slot, 0, 4), 0xffffffff);
        assert_int_equal(config_read(fixture, slot, 0x0e, 1), 0xff);
        assert_int_equal(config_read(fixture, slot, 0x40, 2), 0xffff);
        assert_int_equal(port_read(fixture, slot, 0, 4), 0xffffffff);
        config_write(fixture, slot, 0x04, 0x0002, 2); /* dropped, no crash */
    }
    static const unsigned beyond[] = {PCI_MAX_DEVICES, 100, 0xffffffffu};
    for (size_t i = 0; i < sizeof(beyond) / sizeof(beyond[0]); i++) {
        assert_int_equal(config_read(fixture, beyond[i], 0, 4), 0xffffffff);
        config_write(fixture, beyond[i], 0x04, 0x0002, 2);
    }
}

static void test_address_register(void **state)
{
    struct fixture *fixture = *state;
    uint32_t value = 0;
    /* Linux's pci_check_type1: a byte write to 0xcfb must not disturb the
     * dword register, which reads back what was written. */
    uint8_t byte = 0x01;
    set_address(fixture, 0);
    bus_write(&fixture->pio, PCI_CONFIG_ADDRESS_PORT + 3, &byte, 1);
    bus_read(&fixture->pio, PCI_CONFIG_ADDRESS_PORT, &value, 4);
    assert_int_equal(value, 0);
    set_address(fixture, ADDRESS_ENABLE);
    bus_read(&fixture->pio, PCI_CONFIG_ADDRESS_PORT, &value, 4);
    assert_int_equal(value, ADDRESS_ENABLE);
    /* Reserved bits 24..30 and the low two bits read as zero. */
    set_address(fixture, 0xffffffff);
    bus_read(&fixture->pio, PCI_CONFIG_ADDRESS_PORT, &value, 4);
    assert_int_equal(value, 0x80fffffc);
    /* Narrow accesses to the address register: ignored, read as ones. */
    uint16_t narrow = 0;
    bus_read(&fixture->pio, PCI_CONFIG_ADDRESS_PORT, &narrow, 2);
    assert_int_equal(narrow, 0xffff);
    narrow = 0x1234;
    bus_write(&fixture->pio, PCI_CONFIG_ADDRESS_PORT, &narrow, 2);
    bus_read(&fixture->pio, PCI_CONFIG_ADDRESS_PORT, &value, 4);
    assert_int_equal(value, 0x80fffffc);
}

static void test_data_window_decoding(void **state)
{
    struct fixture *fixture = *state;
    uint32_t value;
    /* Enable bit clear: nothing answers. */
    set_address(fixture, 0);
    value = 0;
    bus_read(&fixture->pio, PCI_CONFIG_DATA_PORT, &value, 4);
    assert_int_equal(value, 0xffffffff);
    /* Bus 1 and function 1 do not exist. */
    set_address(fixture, ADDRESS_ENABLE | 1 << 16);
    bus_read(&fixture->pio, PCI_CONFIG_DATA_PORT, &value, 4);
    assert_int_equal(value, 0xffffffff);
    set_address(fixture, ADDRESS_ENABLE | 1 << 8);
    bus_read(&fixture->pio, PCI_CONFIG_DATA_PORT, &value, 4);
    assert_int_equal(value, 0xffffffff);
    /* Byte and word reads inside the window pick their bytes. */
    set_address(fixture, ADDRESS_ENABLE);
    uint8_t byte = 0;
    bus_read(&fixture->pio, PCI_CONFIG_DATA_PORT + 2, &byte, 1);
    assert_int_equal(byte, 0x08);
    uint16_t word = 0;
    bus_read(&fixture->pio, PCI_CONFIG_DATA_PORT + 2, &word, 2);
    assert_int_equal(word, 0x0008);
    /* An access crossing the end of the window is nobody's. */
    value = 0;
    assert_int_equal(bus_read(&fixture->pio, PCI_CONFIG_DATA_PORT + 2, &value, 4), -1);
    assert_int_equal(value, 0xffffffff);
}

static void test_plug_places_bars(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct fake_function *first = make_fake(fixture, 0);
    pci_function_add_bar(&first->function, 0, 0x4000);
    pci_function_add_bar(&first->function, 1, 0x1000);
    pci_function_add_bar(&first->function, 2, 0x100000);
    struct fake_function *second = make_fake(fixture, 1);
    pci_function_add_bar(&second->function, 0, 0x8000);
    assert_int_equal(pci_bus_plug(&fixture->pci, &first->function, &error), 0);
    assert_int_equal(pci_bus_plug(&fixture->pci, &second->function, &error), 0);
    assert_int_equal(config_read(fixture, 1, 0, 2), 0x1af4);
    assert_int_equal(config_read(fixture, 1, 2, 2), 0x1000);
    assert_int_equal(config_read(fixture, 2, 2, 2), 0x1001);

    struct {
        unsigned slot, bar;
        uint32_t size;
    } bars[] = {{1, 0, 0x4000}, {1, 1, 0x1000}, {1, 2, 0x100000}, {2, 0, 0x8000}};
    for (size_t i = 0; i < 4; i++) {
        uint32_t address = config_read(fixture, bars[i].slot, 0x10 + 4 * bars[i].bar, 4);
        assert_int_equal(address & (bars[i].size - 1), 0); /* naturally aligned */
        assert_true(address >= PCI_MMIO_WINDOW_START);
        assert_true(address + (uint64_t)bars[i].size <= PCI_MMIO_WINDOW_END);
        for (size_t j = 0; j < i; j++) { /* no overlaps */
            uint32_t other = config_read(fixture, bars[j].slot, 0x10 + 4 * bars[j].bar, 4);
            assert_true(address + bars[i].size <= other || other + bars[j].size <= address);
        }
    }
    assert_int_equal(config_read(fixture, 1, 0x10 + 4 * 3, 4), 0); /* no BAR 3 */
    /* Decoding is off until the driver says: nothing moved yet. */
    assert_int_equal(first->move_count, 0);
    assert_int_equal(first->function.bar_address[0], 0);
}

static void test_bar_sizing(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct fake_function *fake = make_fake(fixture, 0);
    pci_function_add_bar(&fake->function, 0, 0x4000);
    pci_function_add_bar(&fake->function, 5, 0x1000);
    assert_int_equal(pci_bus_plug(&fixture->pci, &fake->function, &error), 0);
    uint32_t original = config_read(fixture, 1, 0x10, 4);

    /* Linux's __pci_read_base: write all ones, read the size mask back. */
    port_write(fixture, 1, 0x10, 0xffffffff, 4);
    assert_int_equal(port_read(fixture, 1, 0x10, 4), 0xffffc000);
    config_write(fixture, 1, 0x24, 0xffffffff, 4);
    assert_int_equal(config_read(fixture, 1, 0x24, 4), 0xfffff000);
    for (unsigned bar = 1; bar < 5; bar++) { /* no BAR: all zeros */
        config_write(fixture, 1, 0x10 + 4 * bar, 0xffffffff, 4);
        assert_int_equal(config_read(fixture, 1, 0x10 + 4 * bar, 4), 0);
    }
    /* Low bits (type: 32-bit memory, not prefetchable) stay zero. */
    config_write(fixture, 1, 0x10, 0x12345678, 4);
    assert_int_equal(config_read(fixture, 1, 0x10, 4), 0x12344000);
    config_write(fixture, 1, 0x10, original, 4);
    assert_int_equal(config_read(fixture, 1, 0x10, 4), original);
    /* Byte writes to a BAR work too (bytes 1..3 carry the address). */
    config_write(fixture, 1, 0x13, 0xd0, 1);
    assert_int_equal(config_read(fixture, 1, 0x10, 4), (original & 0x00ffffff) | 0xd0000000);
    assert_int_equal(fake->move_count, 0); /* decoding was off all along */
}

static void expect_move(const struct fake_function *fake, int index, int bar, uint64_t old_address,
                        uint64_t new_address)
{
    assert_true(index < fake->move_count);
    assert_int_equal(fake->moves[index].bar, bar);
    assert_int_equal(fake->moves[index].old_address, old_address);
    assert_int_equal(fake->moves[index].new_address, new_address);
}

static void test_bar_moves_while_decoding(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct fake_function *fake = make_fake(fixture, 0);
    pci_function_add_bar(&fake->function, 0, 0x4000);
    pci_function_add_bar(&fake->function, 2, 0x1000);
    assert_int_equal(pci_bus_plug(&fixture->pci, &fake->function, &error), 0);
    uint32_t bar0 = config_read(fixture, 1, 0x10, 4);
    uint32_t bar2 = config_read(fixture, 1, 0x18, 4);

    /* Bus master alone does not decode memory. */
    config_write(fixture, 1, 0x04, 0x0004, 2);
    assert_int_equal(fake->move_count, 0);
    /* Memory decoding on: both BARs appear where they are. */
    config_write(fixture, 1, 0x04, 0x0006, 2);
    assert_int_equal(fake->move_count, 2);
    expect_move(fake, 0, 0, 0, bar0);
    expect_move(fake, 1, 2, 0, bar2);
    assert_int_equal(fake->function.bar_address[0], bar0);
    /* Rewriting the same command changes nothing. */
    config_write(fixture, 1, 0x04, 0x0006, 2);
    assert_int_equal(fake->move_count, 2);

    /* Moving BAR 0 inside the window. */
    uint32_t moved = 0xd0000000;
    config_write(fixture, 1, 0x10, moved, 4);
    assert_int_equal(fake->move_count, 3);
    expect_move(fake, 2, 0, bar0, moved);
    /* Sizing while decoding: it decodes nothing we serve meanwhile. */
    config_write(fixture, 1, 0x10, 0xffffffff, 4);
    expect_move(fake, 3, 0, moved, 0);
    config_write(fixture, 1, 0x10, moved, 4);
    expect_move(fake, 4, 0, 0, moved);
    /* Below the window (guest RAM): not served. */
    config_write(fixture, 1, 0x10, 0x10000000, 4);
    expect_move(fake, 5, 0, moved, 0);
    /* At the IOAPIC, past the window: not served either. */
    config_write(fixture, 1, 0x10, (uint32_t)PCI_MMIO_WINDOW_END, 4);
    assert_int_equal(fake->move_count, 6);
    config_write(fixture, 1, 0x10, bar0, 4);
    expect_move(fake, 6, 0, 0, bar0);

    /* Decoding off: every BAR disappears. */
    config_write(fixture, 1, 0x04, 0x0004, 2);
    assert_int_equal(fake->move_count, 9);
    expect_move(fake, 7, 0, bar0, 0);
    expect_move(fake, 8, 2, bar2, 0);
    /* Moving while off is silent; turning decoding on reports the new place. */
    config_write(fixture, 1, 0x18, 0xe0000000, 4);
    assert_int_equal(fake->move_count, 9);
    config_write(fixture, 1, 0x04, 0x0002, 2);
    expect_move(fake, 9, 0, 0, bar0);
    expect_move(fake, 10, 2, 0, 0xe0000000);
    /* A dword write spanning command and status turns decoding off too. */
    config_write(fixture, 1, 0x04, 0xffff0000, 4);
    assert_int_equal(fake->move_count, 13);
}

static void test_read_only_bytes(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct fake_function *fake = make_fake(fixture, 0);
    pci_function_add_bar(&fake->function, 0, 0x1000);
    pci_function_add_capability(&fake->function, 0x09, 8);
    assert_int_equal(pci_bus_plug(&fixture->pci, &fake->function, &error), 0);
    uint8_t before[PCI_CONFIG_SIZE];
    memcpy(before, fake->function.config, sizeof(before));

    static const unsigned read_only[] = {0x00, 0x08, 0x0c, 0x28, 0x2c, 0x30, 0x34, 0x38};
    for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
        port_write(fixture, 1, read_only[i], 0xffffffff, 4);
    config_write(fixture, 1, 0x06, 0xffff, 2);     /* status */
    config_write(fixture, 1, 0x3d, 0xff, 1);       /* interrupt pin: we have none */
    config_write(fixture, 1, 0x40, 0xffffffff, 4); /* capability id and next */
    assert_memory_equal(fake->function.config, before, 0x04);
    assert_memory_equal(fake->function.config + 0x06, before + 0x06, 0x10 - 0x06);
    assert_memory_equal(fake->function.config + 0x28, before + 0x28, 0x3c - 0x28);
    assert_memory_equal(fake->function.config + 0x3d, before + 0x3d, PCI_CONFIG_SIZE - 0x3d);
    assert_int_equal(config_read(fixture, 1, 0x00, 4), 0x10001af4);
    assert_int_equal(config_read(fixture, 1, 0x08, 4), 0x01800000);

    /* Command: memory, bus master and INTx disable only. */
    config_write(fixture, 1, 0x04, 0xffff, 2);
    assert_int_equal(config_read(fixture, 1, 0x04, 2), 0x0406);
    /* Interrupt line: the OS's scratch byte. */
    config_write(fixture, 1, 0x3c, 0xab, 1);
    assert_int_equal(config_read(fixture, 1, 0x3c, 1), 0xab);
    /* The host bridge's identity cannot be changed either. */
    config_write(fixture, 0, 0x00, 0, 4);
    config_write(fixture, 0, 0x08, 0, 4);
    assert_int_equal(config_read(fixture, 0, 0x00, 4), 0x00081b36);
    assert_int_equal(config_read(fixture, 0, 0x08, 4), 0x06000000);
}

static void test_capability_list(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct fake_function *fake = make_fake(fixture, 0);
    struct pci_function *function = &fake->function;
    assert_int_equal(config_read(fixture, 1, 0x06, 2), 0xffff); /* not plugged yet */
    assert_int_equal(pci_function_add_capability(function, 0x09, 1), 0); /* too short */
    static const struct {
        uint8_t id;
        unsigned length, offset;
    } caps[] = {{0x09, 16, 0x40}, {0x11, 12, 0x50}, {0x05, 10, 0x5c}, {0x09, 20, 0x68}};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(pci_function_add_capability(function, caps[i].id, caps[i].length),
                         caps[i].offset);
    assert_int_equal(pci_function_add_capability(function, 0x09, 200), 0); /* does not fit */
    assert_int_equal(pci_bus_plug(&fixture->pci, function, &error), 0);

    /* Walk the list as Linux's pci_find_capability does. */
    assert_true(config_read(fixture, 1, 0x06, 2) & 0x0010);
    unsigned position = config_read(fixture, 1, 0x34, 1);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(position, caps[i].offset);
        assert_int_equal(config_read(fixture, 1, position, 1), caps[i].id);
        position = config_read(fixture, 1, position + 1, 1);
    }
    assert_int_equal(position, 0);
    assert_true(fake->config_reads > 0); /* capability reads are announced */
}

static void test_capabilities_until_full(void **state)
{
    struct fixture *fixture = *state;
    struct pci_function *function = &make_fake(fixture, 0)->function;
    unsigned count = 0, last = 0, offset;
    while ((offset = pci_function_add_capability(function, 0x09, 12)) != 0) {
        assert_true(offset >= 0x40 && offset + 12 <= PCI_CONFIG_SIZE);
        assert_int_equal(offset % 4, 0);
        assert_true(offset > last);
        last = offset;
        count++;
        assert_true(count <= 16);
    }
    assert_int_equal(count, (PCI_CONFIG_SIZE - 0x40) / 12);
    /* Full means full: even a tiny one is refused now. */
    assert_int_equal(pci_function_add_capability(function, 0x09, 2), 0);
    /* The list stays well formed: walking it ends at the last one. */
    unsigned position = function->config[0x34], steps = 0;
    while (function->config[position + 1]) {
        position = function->config[position + 1];
        assert_true(++steps < 64);
    }
    assert_int_equal(position, last);
}

static void test_out_of_range_config(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct fake_function *fake = make_fake(fixture, 0);
    /* Make the last dword writable to see that a crossing write lands nowhere. */
    memset(fake->function.writable + 0xfc, 0xff, 4);
    assert_int_equal(pci_bus_plug(&fixture->pci, &fake->function, &error), 0);
    uint8_t before[PCI_CONFIG_SIZE];
    memcpy(before, fake->function.config, sizeof(before));

    uint8_t bytes[8];
    memset(bytes, 0, sizeof(bytes));
    pci_config_read(&fixture->pci, 1, 0xfe, bytes, 4);
    assert_memory_equal(bytes, "\xff\xff\xff\xff", 4);
    pci_config_read(&fixture->pci, 1, 0x100, bytes, 1);
    assert_int_equal(bytes[0], 0xff);
    pci_config_read(&fixture->pci, 1, 0xffffffff, bytes, 2);
    assert_memory_equal(bytes, "\xff\xff", 2);
    pci_config_read(&fixture->pci, 1, 0xfc, bytes, 8);
    assert_memory_equal(bytes, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);

    memset(bytes, 0x77, sizeof(bytes));
    pci_config_write(&fixture->pci, 1, 0xfe, bytes, 4);
    pci_config_write(&fixture->pci, 1, 0xfc, bytes, 8);
    pci_config_write(&fixture->pci, 1, 0x100, bytes, 1);
    pci_config_write(&fixture->pci, 1, 0xfffffffe, bytes, 4);
    assert_memory_equal(fake->function.config, before, sizeof(before));
    assert_int_equal(fake->config_writes, 0);
    /* The last dword itself is fine. */
    pci_config_write(&fixture->pci, 1, 0xfc, bytes, 4);
    assert_int_equal(config_read(fixture, 1, 0xfc, 4), 0x77777777);
}

static void test_config_hooks(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct fake_function *fake = make_fake(fixture, 0);
    assert_int_equal(pci_bus_plug(&fixture->pci, &fake->function, &error), 0);
    config_read(fixture, 1, 0x00, 4);
    config_read(fixture, 1, 0x3c, 4);
    assert_int_equal(fake->config_reads, 0); /* the header is the bus's own */
    config_read(fixture, 1, 0x3e, 4);
    assert_int_equal(fake->config_reads, 1);
    config_read(fixture, 1, 0x80, 2);
    assert_int_equal(fake->config_reads, 2);
    assert_int_equal(fake->last_config_offset, 0x80);
    assert_int_equal(fake->last_config_length, 2);

    config_write(fixture, 1, 0x3c, 0x12, 1);
    assert_int_equal(fake->config_writes, 0);
    config_write(fixture, 1, 0x90, 0x12345678, 4);
    assert_int_equal(fake->config_writes, 1);
    assert_int_equal(fake->last_config_offset, 0x90);
    assert_int_equal(fake->last_config_length, 4);
}

static void test_memory_window_dispatch(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct fake_function *fake = make_fake(fixture, 0);
    pci_function_add_bar(&fake->function, 0, 0x1000);
    pci_function_add_bar(&fake->function, 1, 0x4000);
    assert_int_equal(pci_bus_plug(&fixture->pci, &fake->function, &error), 0);
    uint32_t bar1 = config_read(fixture, 1, 0x14, 4);

    /* Not decoding yet: all ones, and the function never hears of it. */
    uint32_t value = 0;
    bus_read(&fixture->mmio, bar1 + 0x10, &value, 4);
    assert_int_equal(value, 0xffffffff);
    bus_write(&fixture->mmio, bar1 + 0x10, &value, 4);
    assert_int_equal(fake->bar_reads + fake->bar_writes, 0);

    config_write(fixture, 1, 0x04, 0x0002, 2);
    bus_read(&fixture->mmio, bar1 + 0x10, &value, 4);
    assert_int_equal(value, 0x5a5a5a5a);
    assert_int_equal(fake->last_bar, 1);
    assert_int_equal(fake->last_bar_offset, 0x10);
    assert_int_equal(fake->last_bar_length, 4);
    uint64_t wide = 0x0102030405060708ull;
    bus_write(&fixture->mmio, bar1 + 0x3ff8, &wide, 8);
    assert_int_equal(fake->bar_writes, 1);
    assert_int_equal(fake->last_bar_offset, 0x3ff8);
    assert_memory_equal(fake->last_written, &wide, 8);
    /* An access running past the BAR's end is not the BAR's. */
    value = 0;
    bus_read(&fixture->mmio, bar1 + 0x3ffe, &value, 4);
    assert_int_equal(value, 0xffffffff);
    assert_int_equal(fake->bar_reads, 1);

    /* After a move the old place is empty and the new one answers. */
    config_write(fixture, 1, 0x14, 0xf0000000, 4);
    bus_read(&fixture->mmio, bar1 + 0x10, &value, 4);
    assert_int_equal(value, 0xffffffff);
    bus_read(&fixture->mmio, 0xf0000020, &value, 4);
    assert_int_equal(value, 0x5a5a5a5a);
    assert_int_equal(fake->last_bar_offset, 0x20);
}

static void test_slots_and_window_run_out(void **state)
{
    struct fixture *fixture = *state;
    struct error error = {{0}};
    for (int i = 0; i < PCI_MAX_DEVICES - 1; i++)
        assert_int_equal(pci_bus_plug(&fixture->pci, &make_fake(fixture, i)->function, &error),
                         0);
    assert_int_equal(
        pci_bus_plug(&fixture->pci, &make_fake(fixture, PCI_MAX_DEVICES)->function, &error),
        -1);
    assert_non_null(strstr(error.message, "slot"));
    assert_int_equal(config_read(fixture, PCI_MAX_DEVICES - 1, 2, 2), 0x1000 + 30);

    /* A fresh bus: two 512 MiB BARs cannot both fit below the IOAPIC. */
    pci_bus_destroy(&fixture->pci);
    assert_int_equal(pci_bus_init(&fixture->pci, NULL, NULL, &error), 0);
    struct fake_function *big = make_fake(fixture, 0);
    pci_function_add_bar(&big->function, 0, 0x20000000);
    assert_int_equal(pci_bus_plug(&fixture->pci, &big->function, &error), 0);
    assert_int_equal(config_read(fixture, 1, 0x10, 4), PCI_MMIO_WINDOW_START);
    struct fake_function *bigger = make_fake(fixture, 1);
    pci_function_add_bar(&bigger->function, 0, 0x20000000);
    error.message[0] = 0;
    assert_int_equal(pci_bus_plug(&fixture->pci, &bigger->function, &error), -1);
    assert_non_null(strstr(error.message, "window"));
    assert_int_equal(config_read(fixture, 2, 0, 4), 0xffffffff); /* not plugged */
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_host_bridge),
        TEST(test_missing_slots_read_all_ones),
        TEST(test_address_register),
        TEST(test_data_window_decoding),
        TEST(test_plug_places_bars),
        TEST(test_bar_sizing),
        TEST(test_bar_moves_while_decoding),
        TEST(test_read_only_bytes),
        TEST(test_capability_list),
        TEST(test_capabilities_until_full),
        TEST(test_out_of_range_config),
        TEST(test_config_hooks),
        TEST(test_memory_window_dispatch),
        TEST(test_slots_and_window_run_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
