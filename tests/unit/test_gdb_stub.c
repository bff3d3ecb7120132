/* The GDB session against a fake two-vCPU target: the handshake, the target
 * description in pieces, threads, registers, memory with our int3s hidden,
 * software and hardware breakpoints, resuming (c, s, vCont), stops, Ctrl-C,
 * detach, kill, acknowledgements, and a debugger that goes away. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "control/gdb_stub.h"

#define CPUS 2
#define MEMORY_BASE 0x1000u
#define MEMORY_SIZE 0x4000u

struct fake_target {
    struct gdb_cpu_state cpus[CPUS];
    uint8_t memory[MEMORY_SIZE];
    struct gdb_hw_point points[GDB_MAX_HW_POINTS];
    unsigned point_count, set_debug_calls;
    bool software_breakpoints, fail_set_debug;
    enum gdb_run run[CPUS];
    unsigned resumes, interrupts, detaches, kills;
};

static unsigned fake_cpu_count(void *target)
{
    (void)target;
    return CPUS;
}

static int fake_get_state(void *target, unsigned cpu, struct gdb_cpu_state *state)
{
    *state = ((struct fake_target *)target)->cpus[cpu];
    return 0;
}

static int fake_set_state(void *target, unsigned cpu, const struct gdb_cpu_state *state)
{
    ((struct fake_target *)target)->cpus[cpu] = *state;
    return 0;
}

/* Memory at [MEMORY_BASE, MEMORY_BASE + MEMORY_SIZE): short at its end. */
static size_t fake_span(uint64_t address, size_t length)
{
    if (address < MEMORY_BASE || address >= MEMORY_BASE + MEMORY_SIZE)
        return 0;
    uint64_t left = MEMORY_BASE + MEMORY_SIZE - address;
    return length < left ? length : (size_t)left;
}

static size_t fake_read(void *target, unsigned cpu, uint64_t address, void *out, size_t length)
{
    (void)cpu;
    size_t done = fake_span(address, length);
    if (done)
        memcpy(out, ((struct fake_target *)target)->memory + (address - MEMORY_BASE), done);
    return done;
}

static size_t fake_write(void *target, unsigned cpu, uint64_t address, const void *data,
                         size_t length)
{
    (void)cpu;
    size_t done = fake_span(address, length);
    if (done)
        memcpy(((struct fake_target *)target)->memory + (address - MEMORY_BASE), data, done);
    return done;
}

static int fake_set_debug(void *target, const struct gdb_hw_point *points, unsigned count,
                          bool software)
{
    struct fake_target *fake = target;
    fake->set_debug_calls++;
    if (fake->fail_set_debug)
        return -1;
    memcpy(fake->points, points, count * sizeof(*points));
    fake->point_count = count;
    fake->software_breakpoints = software;
    return 0;
}

static void fake_resume(void *target, const enum gdb_run *run)
{
    struct fake_target *fake = target;
    memcpy(fake->run, run, sizeof(fake->run));
    fake->resumes++;
}

static void fake_interrupt(void *target)
{
    ((struct fake_target *)target)->interrupts++;
}

static void fake_detach(void *target)
{
    ((struct fake_target *)target)->detaches++;
}

static void fake_kill(void *target)
{
    ((struct fake_target *)target)->kills++;
}

static const struct gdb_target_ops fake_ops = {
    fake_cpu_count, fake_get_state, fake_set_state, fake_read,      fake_write,
    fake_set_debug, fake_resume,    fake_interrupt, fake_detach,    fake_kill,
};

/* What the stub sent, from the last take_output on. */
static uint8_t sent[65536];
static size_t sent_length;

static bool capture(void *opaque, const void *bytes, size_t length)
{
    (void)opaque;
    assert_true(sent_length + length <= sizeof(sent));
    memcpy(sent + sent_length, bytes, length);
    sent_length += length;
    return true;
}

static struct fake_target target;
static struct gdb_stub stub;
static char reply[GDB_PACKET_MAX + 1];
static size_t reply_length;
static unsigned acks; /* '+' seen in the last exchange */

static int setup(void **state)
{
    (void)state;
    memset(&target, 0, sizeof(target));
    for (unsigned i = 0; i < MEMORY_SIZE; i++)
        target.memory[i] = (uint8_t)(i * 7);
    target.cpus[0].regs.rax = 0x1111;
    target.cpus[1].regs.rax = 0x2222;
    target.cpus[0].regs.rip = MEMORY_BASE + 0x10;
    target.cpus[0].sregs.cs.selector = 0x10;
    gdb_stub_init(&stub, &fake_ops, &target, capture, NULL);
    sent_length = 0;
    return 0;
}

/* Feeds raw bytes; decodes what came back: acks counted, the last packet
 * into reply (NUL-terminated).  Returns how many packets came. */
static int feed_raw(const char *bytes, size_t length)
{
    sent_length = 0;
    gdb_stub_input(&stub, (const uint8_t *)bytes, length);
    struct gdb_reader reader;
    gdb_reader_init(&reader);
    int packets = 0;
    acks = 0;
    reply_length = 0;
    reply[0] = '\0';
    for (size_t i = 0; i < sent_length; i++) {
        enum gdb_input input = gdb_reader_feed(&reader, sent[i]);
        if (input == GDB_INPUT_ACK)
            acks++;
        assert_int_not_equal(input, GDB_INPUT_BAD_PACKET);
        if (input == GDB_INPUT_PACKET) {
            packets++;
            memcpy(reply, reader.data, reader.length + 1);
            reply_length = reader.length;
        }
    }
    return packets;
}

/* Sends one command, framed; returns the reply (exactly one packet). */
static const char *exchange_bytes(const void *payload, size_t length)
{
    uint8_t framed[GDB_ENCODED_MAX(GDB_PACKET_MAX)];
    size_t framed_length = gdb_packet_encode(payload, length, framed, sizeof(framed));
    assert_int_not_equal(framed_length, 0);
    assert_int_equal(feed_raw((const char *)framed, framed_length), 1);
    return reply;
}

static const char *exchange(const char *command)
{
    return exchange_bytes(command, strlen(command));
}

static void test_handshake_and_no_ack(void **state)
{
    (void)state;
    const char *answer = exchange("qSupported:multiprocess+;swbreak+;xmlRegisters=i386");
    assert_int_equal(acks, 1);
    assert_non_null(strstr(answer, "PacketSize=1000"));
    assert_non_null(strstr(answer, "qXfer:features:read+"));
    assert_non_null(strstr(answer, "swbreak+"));
    assert_string_equal(exchange("vMustReplyEmpty"), "");
    assert_string_equal(exchange("qTStatus"), "");
    assert_string_equal(exchange("qAttached"), "1");
    assert_string_equal(exchange("?"), "T05thread:1;");
    assert_string_equal(exchange("QStartNoAckMode"), "OK");
    assert_int_equal(acks, 1); /* that packet itself is still acknowledged */
    exchange("?");
    assert_int_equal(acks, 0);
}

static void test_acknowledgements(void **state)
{
    (void)state;
    /* A bad checksum: '-', and nothing done. */
    assert_int_equal(feed_raw("$?#00", 5), 0);
    assert_int_equal(sent_length, 1);
    assert_int_equal(sent[0], '-');
    /* '-' after a reply: the same reply again. */
    exchange("qC");
    assert_string_equal(reply, "QC1");
    assert_int_equal(feed_raw("-", 1), 1);
    assert_string_equal(reply, "QC1");
    assert_int_equal(feed_raw("+", 1), 0);
}

static void test_target_description_in_pieces(void **state)
{
    (void)state;
    size_t size;
    const char *xml = gdb_target_xml(&size);
    char assembled[16384];
    size_t at = 0;
    for (;;) {
        char request[80];
        snprintf(request, sizeof(request), "qXfer:features:read:target.xml:%zx,3e8", at);
        const char *answer = exchange(request);
        assert_true(answer[0] == 'm' || answer[0] == 'l');
        assert_true(reply_length - 1 <= 0x3e8);
        memcpy(assembled + at, answer + 1, reply_length - 1);
        at += reply_length - 1;
        if (answer[0] == 'l')
            break;
        assert_true(at < size);
    }
    assert_int_equal(at, size);
    assert_memory_equal(assembled, xml, size);
    char past[80];
    snprintf(past, sizeof(past), "qXfer:features:read:target.xml:%zx,10", size + 5);
    assert_string_equal(exchange(past), "l");
    assert_string_equal(exchange("qXfer:features:read:other.xml:0,10"), "");
    assert_string_equal(exchange("qXfer:auxv:read::0,10"), "");
    assert_string_equal(exchange("qXfer:features:read:target.xml:zz"), "E01");
}

static void test_threads(void **state)
{
    (void)state;
    assert_string_equal(exchange("qfThreadInfo"), "m1,2");
    assert_string_equal(exchange("qsThreadInfo"), "l");
    assert_string_equal(exchange("T2"), "OK");
    assert_string_equal(exchange("T3"), "E02");
    assert_string_equal(exchange("T0"), "E02");
    assert_string_equal(exchange("Hg3"), "E02");
    assert_string_equal(exchange("Hc3"), "E02");
    assert_string_equal(exchange("Hg2"), "OK");
    /* Registers are now vCPU 1's. */
    const char *answer = exchange("p0");
    assert_string_equal(answer, "2222000000000000");
    assert_string_equal(exchange("Hg0"), "OK"); /* any: stays where it is */
    assert_string_equal(exchange("p0"), "2222000000000000");
    assert_string_equal(exchange("Hg1"), "OK");
    assert_string_equal(exchange("p0"), "1111000000000000");
    /* Its name in `info threads`. */
    answer = exchange("qThreadExtraInfo,2");
    uint8_t name[16];
    assert_true(gdb_hex_decode(answer, 6, name));
    assert_memory_equal(name, "vCPU 1", 6);
    assert_string_equal(exchange("qThreadExtraInfo,9"), "E02");
}

static void test_registers(void **state)
{
    (void)state;
    const char *answer = exchange("g");
    assert_int_equal(reply_length, 2 * GDB_REGISTERS_BYTES);
    assert_memory_equal(answer, "1111000000000000", 16);
    /* P rax, then G with a changed rbx (as gdb does), then one with cs changed. */
    assert_string_equal(exchange("P0=efbeadde00000000"), "OK");
    assert_true(target.cpus[0].regs.rax == 0xdeadbeef);
    char all[2 * GDB_REGISTERS_BYTES + 2];
    all[0] = 'G';
    memcpy(all + 1, exchange("g"), 2 * GDB_REGISTERS_BYTES + 1);
    memcpy(all + 1 + 16, "0700000000000000", 16);
    assert_string_equal(exchange(all), "OK");
    assert_int_equal(target.cpus[0].regs.rbx, 7);
    memcpy(all + 1 + 2 * (17 * 8 + 4), "18", 2); /* cs */
    assert_string_equal(exchange(all), "E01");
    assert_int_equal(target.cpus[0].sregs.cs.selector, 0x10);
    assert_string_equal(exchange("p1000"), "E01");
    assert_string_equal(exchange("P0=00"), "E01"); /* the wrong size */
    assert_string_equal(exchange("Gzz"), "E01");
}

static void test_memory(void **state)
{
    (void)state;
    assert_string_equal(exchange("m1000,4"), "00070e15");
    /* Across the end: the part that is there.  Outside: an error. */
    assert_string_equal(exchange("m4ffe,4"), "f2f9");
    assert_string_equal(exchange("m5000,4"), "E14");
    assert_string_equal(exchange("m1000,0"), "");
    /* More than a reply holds: a shorter reply. */
    exchange("m1000,100000");
    assert_int_equal(reply_length, GDB_PACKET_MAX);
    assert_string_equal(exchange("M1002,2:abcd"), "OK");
    assert_int_equal(target.memory[2], 0xab);
    assert_int_equal(target.memory[3], 0xcd);
    assert_string_equal(exchange("M4fff,2:abcd"), "E14");
    assert_string_equal(exchange_bytes("X1004,3:$#}", 11), "OK");
    assert_memory_equal(target.memory + 4, "$#}", 3);
    assert_string_equal(exchange("X1004,0:"), "OK");
}

static void test_software_breakpoints(void **state)
{
    (void)state;
    uint8_t original = target.memory[0x20];
    assert_string_equal(exchange("Z0,1020,1"), "OK");
    assert_int_equal(target.memory[0x20], 0xcc);
    assert_true(target.software_breakpoints);
    assert_string_equal(exchange("Z0,1020,1"), "OK"); /* twice: still one */
    /* Reads see the guest's byte, not ours. */
    char expected[8];
    snprintf(expected, sizeof(expected), "%02x", original);
    assert_string_equal(exchange("m1020,1"), expected);
    /* A write over it changes what it hides. */
    assert_string_equal(exchange("M101f,3:112233"), "OK");
    assert_int_equal(target.memory[0x20], 0xcc);
    assert_string_equal(exchange("m1020,1"), "22");
    assert_string_equal(exchange("z0,1020,1"), "OK");
    assert_int_equal(target.memory[0x20], 0x22);
    assert_false(target.software_breakpoints);
    assert_string_equal(exchange("z0,1020,1"), "OK");
    /* Where nothing can be written, of the wrong kind, and past the table. */
    assert_string_equal(exchange("Z0,9000,1"), "E14");
    assert_string_equal(exchange("Z0,1020,2"), "E16");
    for (unsigned i = 0; i < GDB_MAX_BREAKPOINTS; i++) {
        char insert[40];
        snprintf(insert, sizeof(insert), "Z0,%x,1", MEMORY_BASE + 0x100 + i);
        assert_string_equal(exchange(insert), "OK");
    }
    assert_string_equal(exchange("Z0,1fff,1"), "E1c");
    /* The target refusing to stop on int3: the insert fails and leaves nothing. */
    setup(NULL);
    target.fail_set_debug = true;
    assert_string_equal(exchange("Z0,1020,1"), "E05");
    assert_int_equal(target.memory[0x20], (uint8_t)(0x20 * 7));
}

static void test_hardware_points(void **state)
{
    (void)state;
    assert_string_equal(exchange("Z1,ffffffff81000000,1"), "OK");
    assert_int_equal(target.point_count, 1);
    assert_int_equal(target.points[0].type, GDB_POINT_HARDWARE);
    assert_string_equal(exchange("Z2,2000,4"), "OK");
    assert_string_equal(exchange("Z4,3000,8"), "OK");
    assert_int_equal(target.point_count, 3);
    assert_int_equal(target.points[1].length, 4);
    assert_string_equal(exchange("Z2,2001,4"), "E16"); /* unaligned */
    assert_string_equal(exchange("Z2,2000,3"), "E16");
    assert_string_equal(exchange("Z3,2000,4"), ""); /* reads alone: not on x86 */
    assert_string_equal(exchange("Z2,4000,2"), "OK");
    assert_string_equal(exchange("Z2,5000,2"), "E1c"); /* four debug registers */
    assert_string_equal(exchange("z2,2000,4"), "OK");
    assert_int_equal(target.point_count, 3);
    assert_string_equal(exchange("Z2,5000,2"), "OK");
    target.fail_set_debug = true;
    assert_string_equal(exchange("z4,3000,8"), "E05");
}

/* A host whose KVM lets the guest take its own int3: Z0 goes in a debug
 * register, guest memory untouched, sharing the four with Z1-Z4. */
static void test_software_breakpoints_in_debug_registers(void **state)
{
    (void)state;
    stub.breakpoints_in_debug_registers = true;
    uint8_t original = target.memory[0x20];
    assert_string_equal(exchange("Z0,1020,1"), "OK");
    assert_int_equal(target.memory[0x20], original);
    assert_false(target.software_breakpoints);
    assert_int_equal(target.point_count, 1);
    assert_int_equal(target.points[0].type, GDB_POINT_SOFTWARE);
    assert_int_equal(target.points[0].address, 0x1020);
    assert_false(gdb_stub_has_breakpoint(&stub, 0x1020)); /* no int3 of ours there */
    assert_string_equal(exchange("Z0,1020,2"), "E16");
    assert_string_equal(exchange("Z1,1030,1"), "OK");
    assert_string_equal(exchange("Z2,2000,8"), "OK");
    assert_string_equal(exchange("Z0,1040,1"), "OK");
    assert_string_equal(exchange("Z0,1050,1"), "E1c");
    assert_string_equal(exchange("z0,1020,1"), "OK");
    assert_int_equal(target.point_count, 3);
    assert_string_equal(exchange("Z0,1050,1"), "OK");
    /* A stop there is told as a software breakpoint. */
    struct gdb_stop stop = {.reason = GDB_STOP_SW_BREAK, .cpu = 0, .signal = 5};
    uint8_t framed[32];
    size_t length = gdb_packet_encode("vCont;c", 7, framed, sizeof(framed));
    assert_int_equal(feed_raw((const char *)framed, length), 0);
    sent_length = 0;
    gdb_stub_stopped(&stub, &stop);
    assert_string_equal(exchange("?"), "T05thread:1;swbreak:;");
    /* Detach clears them all. */
    assert_string_equal(exchange("D"), "OK");
    assert_int_equal(target.point_count, 0);
}

/* gdb's `monitor CMD` (qRcmd,HEX): the reply is the output in hex. */
static const char *monitor(const char *command)
{
    char packet[160] = "qRcmd,";
    gdb_hex_encode((const uint8_t *)command, strlen(command), packet + 6);
    const char *hex = exchange(packet);
    static char text[GDB_PACKET_MAX / 2 + 1];
    size_t length = strlen(hex);
    if (length % 2 || !gdb_hex_decode(hex, length / 2, (uint8_t *)text))
        return hex; /* not output: an error */
    text[length / 2] = 0;
    return text;
}

static void test_monitor_commands(void **state)
{
    (void)state;
    assert_string_equal(exchange("Z0,1020,1"), "OK");
    assert_non_null(strstr(monitor("info"), "debugger: 1 software breakpoints (int3), 0 debug"));
    assert_non_null(strstr(monitor("help"), "monitor info"));
    assert_non_null(strstr(monitor("frobnicate"), "unknown monitor command \"frobnicate\""));
    assert_string_equal(exchange("qRcmd,696e666"), "E01");  /* odd hex */
    assert_string_equal(exchange("qRcmd,zz"), "E01");       /* not hex */
    char long_command[200] = "qRcmd,";
    memset(long_command + 6, '6', 150);
    long_command[156] = 0;
    assert_string_equal(exchange(long_command), "E01");     /* longer than any command */
}

static void test_has_breakpoint(void **state)
{
    (void)state;
    assert_false(gdb_stub_has_breakpoint(&stub, 0x1020));
    assert_string_equal(exchange("Z0,1020,1"), "OK");
    assert_true(gdb_stub_has_breakpoint(&stub, 0x1020));
    assert_false(gdb_stub_has_breakpoint(&stub, 0x1021));
    assert_string_equal(exchange("z0,1020,1"), "OK");
    assert_false(gdb_stub_has_breakpoint(&stub, 0x1020));
}

static void test_resume_and_stop(void **state)
{
    (void)state;
    assert_string_equal(exchange("vCont?"), "vCont;c;C;s;S;t");
    /* vCont: the first action naming a vCPU wins. */
    assert_int_equal(feed_raw("$vCont;s:2;c#00", 15), 0); /* bad checksum */
    uint8_t framed[64];
    size_t length = gdb_packet_encode("vCont;s:2;c", 11, framed, sizeof(framed));
    assert_int_equal(feed_raw((const char *)framed, length), 0); /* no reply until it stops */
    assert_int_equal(target.resumes, 1);
    assert_int_equal(target.run[0], GDB_RUN_CONTINUE);
    assert_int_equal(target.run[1], GDB_RUN_STEP);
    /* While it runs: Ctrl-C asks the target to stop; packets are refused. */
    assert_int_equal(feed_raw("\x03", 1), 0);
    assert_int_equal(target.interrupts, 1);
    assert_string_equal(exchange("g"), "E01");
    /* It stops: the reply, and '?' tells it again; registers are that vCPU's. */
    struct gdb_stop stop = {GDB_STOP_SW_BREAK, 1, 5, 0, 0};
    sent_length = 0;
    gdb_stub_stopped(&stub, &stop);
    assert_int_equal(feed_raw("", 0), 0);
    assert_string_equal(exchange("?"), "T05thread:2;swbreak:;");
    assert_string_equal(exchange("p0"), "2222000000000000");
    assert_string_equal(exchange("qC"), "QC2");
    /* c: all continue; s: only the current vCPU, at an address when given. */
    length = gdb_packet_encode("s1040", 5, framed, sizeof(framed));
    feed_raw((const char *)framed, length);
    assert_int_equal(target.run[0], GDB_RUN_STAY);
    assert_int_equal(target.run[1], GDB_RUN_STEP);
    assert_int_equal(target.cpus[1].regs.rip, 0x1040);
    stop = (struct gdb_stop){GDB_STOP_WATCH, 0, 5, GDB_POINT_WRITE_WATCH, 0x2000};
    gdb_stub_stopped(&stub, &stop);
    assert_string_equal(reply, "");
    sent_length = 0;
    gdb_stub_stopped(&stub, &stop); /* a second stop, unasked: no reply */
    assert_int_equal(sent_length, 0);
    assert_string_equal(exchange("?"), "T05thread:1;watch:2000;");
    length = gdb_packet_encode("c", 1, framed, sizeof(framed));
    feed_raw((const char *)framed, length);
    assert_int_equal(target.run[0], GDB_RUN_CONTINUE);
    assert_int_equal(target.run[1], GDB_RUN_CONTINUE);
    stop = (struct gdb_stop){GDB_STOP_SIGNAL, 0, 2, 0, 0};
    sent_length = 0;
    gdb_stub_stopped(&stub, &stop);
    assert_int_equal(target.resumes, 3);
    /* Nothing to run, or a thread that is not there. */
    assert_string_equal(exchange("vCont;t"), "T02thread:1;");
    assert_string_equal(exchange("vCont;c:5"), "E02");
    assert_string_equal(exchange("vCont;r1,2"), "E01");
    assert_int_equal(target.resumes, 3);
}

static void test_detach_and_kill(void **state)
{
    (void)state;
    exchange("Z0,1030,1");
    exchange("Z2,2000,4");
    assert_string_equal(exchange("D"), "OK");
    assert_int_equal(target.memory[0x30], (uint8_t)(0x30 * 7));
    assert_int_equal(target.point_count, 0);
    assert_false(target.software_breakpoints);
    assert_int_equal(target.detaches, 1);
    /* The session is over: nothing more is read. */
    assert_int_equal(feed_raw("$?#3f", 5), 0);
    assert_int_equal(sent_length, 0);

    setup(NULL);
    assert_int_equal(feed_raw("$k#6b", 5), 0); /* acknowledged, no reply */
    assert_int_equal(acks, 1);
    assert_int_equal(target.kills, 1);
    setup(NULL);
    assert_string_equal(exchange("vKill;1"), "OK");
    assert_int_equal(target.kills, 1);
}

static void test_debugger_goes_away(void **state)
{
    (void)state;
    /* Stopped: the points come out and the target runs on. */
    exchange("Z0,1030,1");
    gdb_stub_disconnected(&stub);
    assert_int_equal(target.memory[0x30], (uint8_t)(0x30 * 7));
    assert_int_equal(target.detaches, 1);
    /* Running: stopped first, the points taken out at the stop, let go. */
    setup(NULL);
    exchange("Z0,1030,1");
    uint8_t framed[16];
    size_t length = gdb_packet_encode("c", 1, framed, sizeof(framed));
    feed_raw((const char *)framed, length);
    gdb_stub_disconnected(&stub);
    assert_int_equal(target.interrupts, 1);
    assert_int_equal(target.memory[0x30], 0xcc);
    struct gdb_stop stop = {GDB_STOP_SIGNAL, 0, 2, 0, 0};
    sent_length = 0;
    gdb_stub_stopped(&stub, &stop);
    assert_int_equal(sent_length, 0);
    assert_int_equal(target.memory[0x30], (uint8_t)(0x30 * 7));
    assert_int_equal(target.detaches, 1);
    gdb_stub_disconnected(&stub); /* once is enough */
    assert_int_equal(target.detaches, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_handshake_and_no_ack, setup),
        cmocka_unit_test_setup(test_acknowledgements, setup),
        cmocka_unit_test_setup(test_target_description_in_pieces, setup),
        cmocka_unit_test_setup(test_threads, setup),
        cmocka_unit_test_setup(test_registers, setup),
        cmocka_unit_test_setup(test_memory, setup),
        cmocka_unit_test_setup(test_software_breakpoints, setup),
        cmocka_unit_test_setup(test_hardware_points, setup),
        cmocka_unit_test_setup(test_software_breakpoints_in_debug_registers, setup),
        cmocka_unit_test_setup(test_has_breakpoint, setup),
        cmocka_unit_test_setup(test_monitor_commands, setup),
        cmocka_unit_test_setup(test_resume_and_stop, setup),
        cmocka_unit_test_setup(test_detach_and_kill, setup),
        cmocka_unit_test_setup(test_debugger_goes_away, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
