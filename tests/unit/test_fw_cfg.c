/* fw_cfg as a guest driver reads it: the selector, the byte-wide data port,
 * every item's contents, and what bad accesses give. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "devices/fw_cfg.h"
#include "x86/e820.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

struct fixture {
    struct guest_memory memory;
    struct fw_cfg fw_cfg;
};

/* fw_cfg only reads the layout, never the bytes: no host memory needed. */
static int setup_with(void **state, uint64_t memory_size, int cpus)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    guest_memory_init_over(&fixture->memory, (uint8_t *)(uintptr_t)0x1000, memory_size);
    struct error error;
    if (fw_cfg_init(&fixture->fw_cfg, &fixture->memory, cpus, &error)) {
        free(fixture);
        return -1;
    }
    *state = fixture;
    return 0;
}

static int setup(void **state) { return setup_with(state, 256 * MiB, 3); }
static int setup_big(void **state) { return setup_with(state, 4 * GiB, 1); }

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    fw_cfg_destroy(&fixture->fw_cfg);
    free(fixture);
    return 0;
}

static void select_item(struct fw_cfg *fw_cfg, uint16_t key)
{
    uint8_t bytes[2] = {(uint8_t)key, (uint8_t)(key >> 8)};
    fw_cfg_port_write(fw_cfg, 0, bytes, 2);
}

static uint8_t read_byte(struct fw_cfg *fw_cfg)
{
    uint8_t value = 0xaa;
    fw_cfg_port_read(fw_cfg, 1, &value, 1);
    return value;
}

static void read_bytes(struct fw_cfg *fw_cfg, uint16_t key, uint8_t *out, size_t length)
{
    select_item(fw_cfg, key);
    for (size_t i = 0; i < length; i++)
        out[i] = read_byte(fw_cfg);
}

static uint64_t read_le(struct fw_cfg *fw_cfg, uint16_t key, unsigned length)
{
    uint8_t bytes[8];
    read_bytes(fw_cfg, key, bytes, length);
    uint64_t value = 0;
    for (unsigned i = 0; i < length; i++)
        value |= (uint64_t)bytes[i] << (8 * i);
    return value;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void test_signature_and_id(void **state)
{
    struct fixture *fixture = *state;
    uint8_t signature[4];
    read_bytes(&fixture->fw_cfg, FW_CFG_SIGNATURE, signature, 4);
    assert_memory_equal(signature, "QEMU", 4);
    /* The traditional interface and DMA. */
    assert_int_equal(read_le(&fixture->fw_cfg, FW_CFG_ID, 4), 3);
    /* Selecting again starts from offset 0. */
    select_item(&fixture->fw_cfg, FW_CFG_SIGNATURE);
    assert_int_equal(read_byte(&fixture->fw_cfg), 'Q');
    assert_int_equal(read_byte(&fixture->fw_cfg), 'E');
    select_item(&fixture->fw_cfg, FW_CFG_SIGNATURE);
    assert_int_equal(read_byte(&fixture->fw_cfg), 'Q');
}

static void test_sizes_and_cpus(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(read_le(&fixture->fw_cfg, FW_CFG_RAM_SIZE, 8), 256 * MiB);
    assert_int_equal(read_le(&fixture->fw_cfg, FW_CFG_NB_CPUS, 2), 3);
    assert_int_equal(read_le(&fixture->fw_cfg, FW_CFG_MAX_CPUS, 2), 3);
}

static void test_ram_size_counts_memory_above_4g(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(read_le(&fixture->fw_cfg, FW_CFG_RAM_SIZE, 8), 4 * GiB);
    assert_int_equal(read_le(&fixture->fw_cfg, FW_CFG_NB_CPUS, 2), 1);
}

/* Walks the directory as a driver does and checks each file's selector. */
static void test_file_directory(void **state)
{
    struct fixture *fixture = *state;
    struct fw_cfg *fw_cfg = &fixture->fw_cfg;
    uint8_t count_bytes[4];
    read_bytes(fw_cfg, FW_CFG_FILE_DIR, count_bytes, 4);
    uint32_t count = be32(count_bytes);
    assert_int_equal(count, 2);
    uint8_t entries[2][64];
    for (uint32_t i = 0; i < count; i++)
        for (int j = 0; j < 64; j++)
            entries[i][j] = read_byte(fw_cfg);
    /* Then the directory's end: zeros. */
    assert_int_equal(read_byte(fw_cfg), 0);

    assert_string_equal((const char *)entries[0] + 8, "etc/boot-cpus");
    assert_string_equal((const char *)entries[1] + 8, "etc/e820");
    for (uint32_t i = 0; i < count; i++) {
        uint16_t select = (uint16_t)(entries[i][4] << 8 | entries[i][5]);
        assert_true(select >= FW_CFG_FILE_FIRST);
        assert_int_equal(entries[i][6] | entries[i][7], 0); /* reserved */
        for (int j = 8 + (int)strlen((const char *)entries[i] + 8); j < 64; j++)
            assert_int_equal(entries[i][j], 0);
        const struct fw_cfg_item *item = fw_cfg_find(fw_cfg, select);
        assert_non_null(item);
        assert_int_equal(item->size, be32(entries[i]));
    }
    uint16_t boot_cpus = (uint16_t)(entries[0][4] << 8 | entries[0][5]);
    assert_int_equal(read_le(fw_cfg, boot_cpus, 2), 3);

    /* etc/e820 is the e820 map, 20 bytes an entry. */
    uint16_t e820_select = (uint16_t)(entries[1][4] << 8 | entries[1][5]);
    struct e820_entry map[E820_MAX_ENTRIES];
    int map_count = e820_build(&fixture->memory, map);
    assert_int_equal(be32(entries[1]), (uint32_t)map_count * 20);
    select_item(fw_cfg, e820_select);
    for (int i = 0; i < map_count; i++) {
        uint8_t bytes[20];
        for (int j = 0; j < 20; j++)
            bytes[j] = read_byte(fw_cfg);
        uint64_t address = 0, size = 0;
        for (int j = 0; j < 8; j++) {
            address |= (uint64_t)bytes[j] << (8 * j);
            size |= (uint64_t)bytes[8 + j] << (8 * j);
        }
        uint32_t type = bytes[16] | bytes[17] << 8 | bytes[18] << 16 | (uint32_t)bytes[19] << 24;
        assert_int_equal(address, map[i].address);
        assert_int_equal(size, map[i].size);
        assert_int_equal(type, map[i].type);
    }
    assert_int_equal(read_byte(fw_cfg), 0);
}

static void test_reads_past_the_end_are_zero(void **state)
{
    struct fixture *fixture = *state;
    struct fw_cfg *fw_cfg = &fixture->fw_cfg;
    select_item(fw_cfg, FW_CFG_SIGNATURE);
    for (int i = 0; i < 4; i++)
        read_byte(fw_cfg);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(read_byte(fw_cfg), 0);
    /* The offset stopped at the end: the item does not come round again. */
    assert_int_equal(fw_cfg->offset, 4);
}

static void test_unknown_selectors_read_zero(void **state)
{
    struct fixture *fixture = *state;
    struct fw_cfg *fw_cfg = &fixture->fw_cfg;
    static const uint16_t unknown[] = {0x0002, 0x0004, 0x0006, 0x0010, 0x0018, 0x001a,
                                       0x0022, 0x00ff, 0x3fff, 0x8000, 0x8003, 0xffff};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_null(fw_cfg_find(fw_cfg, unknown[i]));
        select_item(fw_cfg, unknown[i]);
        for (int j = 0; j < 8; j++)
            assert_int_equal(read_byte(fw_cfg), 0);
    }
    /* Bit 14 (write channel) is ignored on reads: 0x4000 is the signature. */
    select_item(fw_cfg, FW_CFG_WRITE_CHANNEL | FW_CFG_SIGNATURE);
    assert_int_equal(read_byte(fw_cfg), 'Q');
    /* The architecture's items (bit 15) are another table, empty here. */
    select_item(fw_cfg, FW_CFG_ARCH_LOCAL | FW_CFG_SIGNATURE);
    assert_int_equal(read_byte(fw_cfg), 0);
}

static void test_odd_sizes_and_writes_ignored(void **state)
{
    struct fixture *fixture = *state;
    struct fw_cfg *fw_cfg = &fixture->fw_cfg;
    select_item(fw_cfg, FW_CFG_SIGNATURE);
    assert_int_equal(read_byte(fw_cfg), 'Q');
    /* A 1-byte selector write is not a selection. */
    uint8_t one = FW_CFG_NB_CPUS;
    fw_cfg_port_write(fw_cfg, 0, &one, 1);
    assert_int_equal(read_byte(fw_cfg), 'E');
    /* Writes to the data port change nothing. */
    uint8_t junk[4] = {1, 2, 3, 4};
    fw_cfg_port_write(fw_cfg, 1, junk, 1);
    assert_int_equal(read_byte(fw_cfg), 'M');
    /* The selector reads as 0, whatever the width, and moves nothing. */
    uint8_t wide[4] = {0xff, 0xff, 0xff, 0xff};
    fw_cfg_port_read(fw_cfg, 0, wide, 2);
    assert_int_equal(wide[0] | wide[1], 0);
    fw_cfg_port_read(fw_cfg, 0, wide, 1);
    assert_int_equal(wide[0], 0);
    assert_int_equal(read_byte(fw_cfg), 'U');
    select_item(fw_cfg, FW_CFG_SIGNATURE);
    /* A wider read of the data port gives 0 and does not advance. */
    uint8_t two[2] = {0xff, 0xff};
    fw_cfg_port_read(fw_cfg, 1, two, 2);
    assert_int_equal(two[0] | two[1], 0);
    assert_int_equal(read_byte(fw_cfg), 'Q');
}

/* --- DMA: over real host memory, as the descriptor and its target are
 * guest RAM. */

#define DMA_MEMORY_SIZE (16u << 20)
#define DESCRIPTOR 0x3000u
#define BUFFER 0x5000u

struct dma_fixture {
    struct guest_memory memory;
    uint8_t *host;
    struct fw_cfg fw_cfg;
};

static int dma_setup(void **state)
{
    struct dma_fixture *fixture = calloc(1, sizeof(*fixture));
    fixture->host = calloc(1, DMA_MEMORY_SIZE);
    guest_memory_init_over(&fixture->memory, fixture->host, DMA_MEMORY_SIZE);
    if (fw_cfg_init(&fixture->fw_cfg, &fixture->memory, 2, NULL))
        return -1;
    *state = fixture;
    return 0;
}

static int dma_teardown(void **state)
{
    struct dma_fixture *fixture = *state;
    fw_cfg_destroy(&fixture->fw_cfg);
    free(fixture->host);
    free(fixture);
    return 0;
}

static void put_be32(uint8_t *b, uint32_t value)
{
    b[0] = (uint8_t)(value >> 24), b[1] = (uint8_t)(value >> 16);
    b[2] = (uint8_t)(value >> 8), b[3] = (uint8_t)value;
}

static void write_descriptor(struct dma_fixture *fixture, uint64_t at, uint32_t control,
                             uint32_t length, uint64_t address)
{
    uint8_t *d = fixture->host + at;
    put_be32(d, control);
    put_be32(d + 4, length);
    put_be32(d + 8, (uint32_t)(address >> 32));
    put_be32(d + 12, (uint32_t)address);
}

/* The guest's two outl()s of the big-endian halves; the low one runs it. */
static void dma_kick(struct fw_cfg *fw_cfg, uint64_t descriptor)
{
    uint8_t high[4], low[4];
    put_be32(high, (uint32_t)(descriptor >> 32));
    put_be32(low, (uint32_t)descriptor);
    fw_cfg_dma_port_write(fw_cfg, 0, high, 4);
    fw_cfg_dma_port_write(fw_cfg, 4, low, 4);
}

static uint32_t control_after(struct dma_fixture *fixture, uint64_t at)
{
    return be32(fixture->host + at);
}

static void test_dma_select_and_read(void **state)
{
    struct dma_fixture *fixture = *state;
    memset(fixture->host + BUFFER, 0xee, 16);
    write_descriptor(fixture, DESCRIPTOR,
                     (uint32_t)FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 8,
                     BUFFER);
    dma_kick(&fixture->fw_cfg, DESCRIPTOR);
    assert_int_equal(control_after(fixture, DESCRIPTOR), 0);
    /* Four bytes of the item, then zeros past its end; nothing beyond. */
    assert_memory_equal(fixture->host + BUFFER, "QEMU\0\0\0\0", 8);
    assert_int_equal(fixture->host[BUFFER + 8], 0xee);

    /* Without select it goes on from the offset the port reads left. */
    select_item(&fixture->fw_cfg, FW_CFG_NB_CPUS);
    assert_int_equal(read_byte(&fixture->fw_cfg), 2);
    write_descriptor(fixture, DESCRIPTOR, FW_CFG_DMA_READ, 1, BUFFER);
    fixture->host[BUFFER] = 0xee;
    dma_kick(&fixture->fw_cfg, DESCRIPTOR);
    assert_int_equal(fixture->host[BUFFER], 0);
    assert_int_equal(control_after(fixture, DESCRIPTOR), 0);
}

static void test_dma_skip_then_read(void **state)
{
    struct dma_fixture *fixture = *state;
    write_descriptor(fixture, DESCRIPTOR,
                     (uint32_t)FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_SKIP, 2,
                     0);
    dma_kick(&fixture->fw_cfg, DESCRIPTOR);
    assert_int_equal(control_after(fixture, DESCRIPTOR), 0);
    assert_int_equal(read_byte(&fixture->fw_cfg), 'M');
    /* A skip past the end stops at it. */
    write_descriptor(fixture, DESCRIPTOR, FW_CFG_DMA_SKIP, 0xffffffffu, 0);
    dma_kick(&fixture->fw_cfg, DESCRIPTOR);
    assert_int_equal(fixture->fw_cfg.offset, 4);
    assert_int_equal(read_byte(&fixture->fw_cfg), 0);
}

static void test_dma_errors(void **state)
{
    struct dma_fixture *fixture = *state;
    /* Writes: every item is read-only. */
    write_descriptor(fixture, DESCRIPTOR,
                     (uint32_t)FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_WRITE, 4,
                     BUFFER);
    dma_kick(&fixture->fw_cfg, DESCRIPTOR);
    assert_int_equal(control_after(fixture, DESCRIPTOR), FW_CFG_DMA_ERROR);
    select_item(&fixture->fw_cfg, FW_CFG_SIGNATURE);
    assert_int_equal(read_byte(&fixture->fw_cfg), 'Q');

    /* A target outside RAM, one that runs past its end, one that wraps. */
    static const struct {
        uint64_t address;
        uint32_t length;
    } bad[] = {{DMA_MEMORY_SIZE, 1},
               {DMA_MEMORY_SIZE - 4, 8},
               {0xfffffffffffffffcULL, 8},
               {0xfec00000u, 4},
               {0, 0xffffffffu}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_descriptor(fixture, DESCRIPTOR,
                         (uint32_t)FW_CFG_FILE_DIR << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ,
                         bad[i].length, bad[i].address);
        dma_kick(&fixture->fw_cfg, DESCRIPTOR);
        assert_int_equal(control_after(fixture, DESCRIPTOR), FW_CFG_DMA_ERROR);
    }
    /* The last bytes of RAM are fine. */
    write_descriptor(fixture, DESCRIPTOR,
                     (uint32_t)FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 4,
                     DMA_MEMORY_SIZE - 4);
    dma_kick(&fixture->fw_cfg, DESCRIPTOR);
    assert_int_equal(control_after(fixture, DESCRIPTOR), 0);
    assert_memory_equal(fixture->host + DMA_MEMORY_SIZE - 4, "QEMU", 4);
}

static void test_dma_descriptor_outside_ram(void **state)
{
    struct dma_fixture *fixture = *state;
    /* Nowhere to report: nothing happens, nothing is written. */
    select_item(&fixture->fw_cfg, FW_CFG_SIGNATURE);
    uint8_t before[32];
    memcpy(before, fixture->host + DMA_MEMORY_SIZE - 32, 32);
    dma_kick(&fixture->fw_cfg, DMA_MEMORY_SIZE - 8); /* descriptor straddles the end */
    dma_kick(&fixture->fw_cfg, DMA_MEMORY_SIZE);
    dma_kick(&fixture->fw_cfg, 0xfffffffffffffff8ULL);
    dma_kick(&fixture->fw_cfg, 0x100000000ULL); /* the high half counts */
    assert_memory_equal(fixture->host + DMA_MEMORY_SIZE - 32, before, 32);
    assert_int_equal(read_byte(&fixture->fw_cfg), 'Q');
}

static void test_dma_register(void **state)
{
    struct dma_fixture *fixture = *state;
    /* Reading it gives "QEMU CFG" in big-endian order, at any width. */
    uint8_t bytes[8];
    fw_cfg_dma_port_read(&fixture->fw_cfg, 0, bytes, 4);
    fw_cfg_dma_port_read(&fixture->fw_cfg, 4, bytes + 4, 4);
    assert_memory_equal(bytes, "QEMU CFG", 8);
    fw_cfg_dma_port_read(&fixture->fw_cfg, 5, bytes, 2);
    assert_memory_equal(bytes, "CF", 2);
    /* The high half is cleared by an operation. */
    uint8_t high[4];
    put_be32(high, 1);
    fw_cfg_dma_port_write(&fixture->fw_cfg, 0, high, 4);
    write_descriptor(fixture, DESCRIPTOR,
                     (uint32_t)FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 4,
                     BUFFER);
    uint8_t low[4];
    put_be32(low, DESCRIPTOR);
    fw_cfg_dma_port_write(&fixture->fw_cfg, 4, low, 4); /* 0x1_00003000: not RAM */
    assert_int_equal(control_after(fixture, DESCRIPTOR), FW_CFG_DMA_SELECT | FW_CFG_DMA_READ);
    fw_cfg_dma_port_write(&fixture->fw_cfg, 4, low, 4); /* high half 0 again */
    assert_int_equal(control_after(fixture, DESCRIPTOR), 0);
    /* Other widths and offsets do nothing. */
    write_descriptor(fixture, DESCRIPTOR,
                     (uint32_t)FW_CFG_SIGNATURE << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ, 4,
                     BUFFER);
    uint8_t one = 0;
    fw_cfg_dma_port_write(&fixture->fw_cfg, 4, low, 2);
    fw_cfg_dma_port_write(&fixture->fw_cfg, 7, &one, 1);
    fw_cfg_dma_port_write(&fixture->fw_cfg, 2, low, 4);
    assert_int_not_equal(control_after(fixture, DESCRIPTOR), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signature_and_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizes_and_cpus, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ram_size_counts_memory_above_4g, setup_big,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_past_the_end_are_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_selectors_read_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_odd_sizes_and_writes_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dma_select_and_read, dma_setup, dma_teardown),
        cmocka_unit_test_setup_teardown(test_dma_skip_then_read, dma_setup, dma_teardown),
        cmocka_unit_test_setup_teardown(test_dma_errors, dma_setup, dma_teardown),
        cmocka_unit_test_setup_teardown(test_dma_descriptor_outside_ram, dma_setup,
                                        dma_teardown),
        cmocka_unit_test_setup_teardown(test_dma_register, dma_setup, dma_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
