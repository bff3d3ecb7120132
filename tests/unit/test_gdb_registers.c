/* The GDB stub's registers: the description and the g layout agree, every
 * register reads back what was written, the x87 tag word converts both ways,
 * and writes that KVM could not honour are refused without changing a thing.
 * (gdb 13 itself took the description and showed these registers by name
 * when it was written; the integration tests check that against a guest.) */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "control/gdb_registers.h"

static const char *const expected_names[] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
    "r12", "r13", "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs",
    "st0", "st1", "st2", "st3", "st4", "st5", "st6", "st7", "fctrl", "fstat", "ftag",
    "fiseg", "fioff", "foseg", "fooff", "fop", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
    "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
    "xmm15", "mxcsr", "fs_base", "gs_base", "cr0", "cr2", "cr3", "cr4", "cr8", "efer",
    "k_gs_base",
};
#define EXPECTED_COUNT (sizeof(expected_names) / sizeof(expected_names[0]))

static void test_description_matches_layout(void **state)
{
    (void)state;
    assert_int_equal(gdb_register_count(), EXPECTED_COUNT);
    size_t total = 0;
    for (unsigned reg = 0; reg < gdb_register_count(); reg++)
        total += gdb_register_size(reg);
    assert_int_equal(total, GDB_REGISTERS_BYTES);
    assert_int_equal(gdb_register_size(gdb_register_count()), 0);

    size_t length;
    const char *xml = gdb_target_xml(&length);
    assert_int_equal(strlen(xml), length);
    assert_non_null(strstr(xml, "<architecture>i386:x86-64</architecture>"));
    assert_non_null(strstr(xml, "<feature name=\"org.gnu.gdb.i386.core\">"));
    assert_non_null(strstr(xml, "<feature name=\"org.gnu.gdb.i386.sse\">"));
    assert_true(!strcmp(xml + length - 9, "</target>"));
    /* Each register once, in g order, with its number and size. */
    const char *at = xml;
    for (unsigned reg = 0; reg < EXPECTED_COUNT; reg++) {
        char wanted[96];
        snprintf(wanted, sizeof(wanted), "<reg name=\"%s\" bitsize=\"%zu\"", expected_names[reg],
                 8 * gdb_register_size(reg));
        const char *found = strstr(at, wanted);
        if (!found)
            fail_msg("register %u (%s) missing or out of order", reg, expected_names[reg]);
        char number[32];
        snprintf(number, sizeof(number), "regnum=\"%u\"", reg);
        const char *end = strchr(found, '>');
        assert_non_null(end);
        assert_true(strstr(found, number) && strstr(found, number) < end);
        at = end;
    }
    assert_int_equal(gdb_target_xml(NULL), xml); /* built once */
}

static void fill(uint8_t *bytes, size_t size, uint8_t seed)
{
    for (size_t i = 0; i < size; i++)
        bytes[i] = (uint8_t)(seed * 31 + i * 7 + 1);
}

static void test_every_register_round_trips(void **state)
{
    (void)state;
    static const unsigned not_plain[] = {17, 18, 19, 20, 21, 22, 23, 32, 33, 34, 39};
    struct gdb_cpu_state cpu;
    memset(&cpu, 0, sizeof(cpu));
    for (unsigned reg = 0; reg < gdb_register_count(); reg++) {
        bool skip = false;
        for (size_t i = 0; i < sizeof(not_plain) / sizeof(not_plain[0]); i++)
            skip |= not_plain[i] == reg;
        if (skip)
            continue; /* eflags, selectors, 16-bit x87 words, ftag, fop: below */
        uint8_t value[GDB_REGISTER_MAX_BYTES], back[GDB_REGISTER_MAX_BYTES];
        size_t size = gdb_register_size(reg);
        fill(value, size, (uint8_t)reg);
        assert_true(gdb_register_write(&cpu, reg, value, size));
        assert_int_equal(gdb_register_read(&cpu, reg, back), size);
        if (memcmp(value, back, size))
            fail_msg("register %u (%s) did not read back", reg, expected_names[reg]);
    }
    /* And they are where KVM has them. */
    uint8_t value[8];
    fill(value, 8, 6);
    uint64_t rbp;
    memcpy(&rbp, value, 8);
    assert_true(cpu.regs.rbp == rbp);
    fill(value, 8, 61);
    uint64_t cr3;
    memcpy(&cr3, value, 8);
    assert_true(cpu.sregs.cr3 == cr3);
    assert_int_equal(cpu.fpu.xmm[5][0], (uint8_t)(45 * 31 + 1));
    assert_int_equal(cpu.fpu.fpr[2][9], (uint8_t)(26 * 31 + 63 + 1));
    /* The x87 pointers: fioff/fiseg are FIP's halves, fooff/foseg FDP's. */
    uint32_t half = 0x89abcdef;
    assert_true(gdb_register_write(&cpu, 36, (const uint8_t *)&half, 4));
    half = 0x01234567;
    assert_true(gdb_register_write(&cpu, 35, (const uint8_t *)&half, 4));
    assert_true(cpu.fpu.last_ip == 0x0123456789abcdefull);
}

static void test_special_registers(void **state)
{
    (void)state;
    struct gdb_cpu_state cpu;
    memset(&cpu, 0, sizeof(cpu));
    cpu.sregs.cs.selector = 0x10;
    uint8_t value[GDB_REGISTER_MAX_BYTES];
    /* eflags: bit 1 always set; 32 bits wide. */
    uint32_t flags = 0x200;
    assert_true(gdb_register_write(&cpu, 17, (const uint8_t *)&flags, 4));
    assert_int_equal(cpu.regs.rflags, 0x202);
    assert_false(gdb_register_write(&cpu, 17, (const uint8_t *)&flags, 8));
    /* A selector: only the value it has. */
    uint32_t selector = 0x10;
    assert_true(gdb_register_write(&cpu, 18, (const uint8_t *)&selector, 4));
    selector = 0x18;
    assert_false(gdb_register_write(&cpu, 18, (const uint8_t *)&selector, 4));
    assert_int_equal(cpu.sregs.cs.selector, 0x10);
    /* fctrl and fstat are 32 bits to gdb, 16 in the FPU. */
    uint32_t control = 0x1037f;
    assert_true(gdb_register_write(&cpu, 32, (const uint8_t *)&control, 4));
    assert_int_equal(cpu.fpu.fcw, 0x037f);
    assert_int_equal(gdb_register_read(&cpu, 32, value), 4);
    assert_memory_equal(value, "\x7f\x03\0\0", 4);
    /* fop keeps its 11 bits. */
    uint32_t opcode = 0xffff;
    assert_true(gdb_register_write(&cpu, 39, (const uint8_t *)&opcode, 4));
    assert_int_equal(cpu.fpu.last_opcode, 0x7ff);
    /* No such register; a wrong size. */
    assert_false(gdb_register_write(&cpu, gdb_register_count(), value, 8));
    assert_int_equal(gdb_register_read(&cpu, gdb_register_count(), value), 0);
    assert_false(gdb_register_write(&cpu, 0, value, 4));
}

static void test_x87_tag_word(void **state)
{
    (void)state;
    struct gdb_cpu_state cpu;
    memset(&cpu, 0, sizeof(cpu));
    uint8_t tag[4];
    assert_int_equal(gdb_register_read(&cpu, 34, tag), 4);
    assert_int_equal(tag[0] | tag[1] << 8, 0xffff); /* all empty */
    /* TOP = 6: ST(0) is physical 6, ST(1) physical 7, ST(2) physical 0. */
    cpu.fpu.fsw = 6 << 11;
    cpu.fpu.ftwx = 1u << 6 | 1u << 7 | 1u << 0;
    static const uint8_t one[10] = {0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f}; /* 1.0: valid */
    static const uint8_t nan[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0x7f}; /* special */
    memcpy(cpu.fpu.fpr[0], one, 10);
    memset(cpu.fpu.fpr[1], 0, 10); /* zero */
    memcpy(cpu.fpu.fpr[2], nan, 10);
    assert_int_equal(gdb_register_read(&cpu, 34, tag), 4);
    unsigned full = tag[0] | tag[1] << 8;
    assert_int_equal((full >> 12) & 3, 0); /* physical 6: 1.0 */
    assert_int_equal((full >> 14) & 3, 1); /* physical 7: zero */
    assert_int_equal(full & 3, 2);         /* physical 0: NaN */
    for (unsigned physical = 1; physical < 6; physical++)
        assert_int_equal((full >> (2 * physical)) & 3, 3);
    /* Written back: empty or not is all FXSAVE keeps. */
    uint32_t written = 0xfff0; /* physical 0 and 1 in use */
    assert_true(gdb_register_write(&cpu, 34, (const uint8_t *)&written, 4));
    assert_int_equal(cpu.fpu.ftwx, 0x03);
}

static void test_g_packet_all_or_nothing(void **state)
{
    (void)state;
    struct gdb_cpu_state cpu;
    memset(&cpu, 0, sizeof(cpu));
    cpu.regs.rip = 0xffffffff81000000ull;
    cpu.regs.rflags = 0x246;
    cpu.sregs.cs.selector = 0x10;
    cpu.sregs.ss.selector = 0x18;
    cpu.sregs.cr3 = 0x1000;
    cpu.fpu.ftwx = 0x81;
    uint8_t all[GDB_REGISTERS_BYTES];
    assert_int_equal(gdb_registers_read(&cpu, all), GDB_REGISTERS_BYTES);
    assert_true(all[16 * 8 + 7] == 0xff && all[16 * 8] == 0x00); /* rip after the GPRs */
    /* Read, change rax, write all: only rax changes. */
    struct gdb_cpu_state before = cpu;
    all[0] = 0x42;
    assert_true(gdb_registers_write(&cpu, all, sizeof(all)));
    assert_int_equal(cpu.regs.rax, 0x42);
    cpu.regs.rax = 0;
    assert_memory_equal(&cpu, &before, sizeof(cpu));
    /* A changed selector refuses the whole packet. */
    all[0] = 0x43;
    all[17 * 8 + 4] = 0x11; /* cs's low byte, after rip and eflags */
    assert_false(gdb_registers_write(&cpu, all, sizeof(all)));
    assert_int_equal(cpu.regs.rax, 0);
    assert_false(gdb_registers_write(&cpu, all, sizeof(all) - 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_description_matches_layout),
        cmocka_unit_test(test_every_register_round_trips),
        cmocka_unit_test(test_special_registers),
        cmocka_unit_test(test_x87_tag_word),
        cmocka_unit_test(test_g_packet_all_or_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
