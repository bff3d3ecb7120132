/* The GDB remote protocol's packets: framing both ways (checksums, escapes,
 * acknowledgements, interrupts, packets cut off or too long) and the parse
 * of every command the stub acts on, with the malformed forms of each. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "control/gdb_packet.h"

static struct gdb_reader reader;

/* Feeds text; returns the last input that was not NONE (NONE if none). */
static enum gdb_input feed(const char *text, size_t length)
{
    enum gdb_input last = GDB_INPUT_NONE;
    for (size_t i = 0; i < length; i++) {
        enum gdb_input input = gdb_reader_feed(&reader, (uint8_t)text[i]);
        if (input != GDB_INPUT_NONE)
            last = input;
    }
    return last;
}

static enum gdb_input feed_string(const char *text)
{
    return feed(text, strlen(text));
}

/* The payload framed with its right checksum, as gdb sends it. */
static enum gdb_input feed_framed(const char *payload)
{
    uint8_t sum = 0;
    for (const char *p = payload; *p; p++)
        sum = (uint8_t)(sum + (uint8_t)*p);
    char framed[GDB_PACKET_MAX * 2 + 8];
    snprintf(framed, sizeof(framed), "$%s#%02x", payload, sum);
    return feed_string(framed);
}

static int setup(void **state)
{
    (void)state;
    gdb_reader_init(&reader);
    return 0;
}

static void test_reads_a_packet(void **state)
{
    (void)state;
    assert_int_equal(feed_string("$g#67"), GDB_INPUT_PACKET);
    assert_int_equal(reader.length, 1);
    assert_string_equal((const char *)reader.data, "g");
    /* Upper-case checksum digits too, and the next packet on the same reader. */
    assert_int_equal(feed_string("$qC#B4"), GDB_INPUT_PACKET);
    assert_string_equal((const char *)reader.data, "qC");
    assert_int_equal(feed_string("$#00"), GDB_INPUT_PACKET); /* empty */
    assert_int_equal(reader.length, 0);
}

static void test_acks_interrupts_and_noise(void **state)
{
    (void)state;
    assert_int_equal(gdb_reader_feed(&reader, '+'), GDB_INPUT_ACK);
    assert_int_equal(gdb_reader_feed(&reader, '-'), GDB_INPUT_NAK);
    assert_int_equal(gdb_reader_feed(&reader, 0x03), GDB_INPUT_INTERRUPT);
    /* Bytes between packets that mean nothing are skipped. */
    assert_int_equal(feed_string("hello\r\n#xx"), GDB_INPUT_NONE);
    assert_int_equal(feed_string("$?#3f"), GDB_INPUT_PACKET);
    /* Inside a packet, '+', '-' and 0x03 are data. */
    char text[] = "$a+-\x03#00";
    uint8_t sum = (uint8_t)('a' + '+' + '-' + 3);
    snprintf(text + 6, 3, "%02x", sum);
    assert_int_equal(feed(text, 8), GDB_INPUT_PACKET);
    assert_int_equal(reader.length, 4);
    assert_memory_equal(reader.data, "a+-\x03", 4);
}

static void test_bad_checksums(void **state)
{
    (void)state;
    assert_int_equal(feed_string("$g#68"), GDB_INPUT_BAD_PACKET);
    assert_int_equal(feed_string("$g#6"), GDB_INPUT_NONE);
    assert_int_equal(feed_string("z"), GDB_INPUT_BAD_PACKET); /* not a digit */
    assert_int_equal(feed_string("$g#x7"), GDB_INPUT_BAD_PACKET);
    /* And the reader is ready for the next one. */
    assert_int_equal(feed_string("$g#67"), GDB_INPUT_PACKET);
}

static void test_escapes(void **state)
{
    (void)state;
    /* X data with '#', '$', '}' and '*' escaped as gdb does: '}' then byte ^ 0x20.
     * The checksum covers the bytes as sent. */
    const char sent[] = "X0,4:}\x03}\x04}]}\x0a";
    uint8_t sum = 0;
    for (size_t i = 0; i < sizeof(sent) - 1; i++)
        sum = (uint8_t)(sum + (uint8_t)sent[i]);
    char framed[64];
    int length = snprintf(framed, sizeof(framed), "$%s#%02x", sent, sum);
    assert_int_equal(feed(framed, (size_t)length), GDB_INPUT_PACKET);
    assert_int_equal(reader.length, 9);
    assert_memory_equal(reader.data, "X0,4:#$}*", 9);
}

static void test_restart_and_overflow(void **state)
{
    (void)state;
    /* A packet cut off by the start of another: the second one counts. */
    assert_int_equal(feed_string("$m0,4$g#67"), GDB_INPUT_PACKET);
    assert_string_equal((const char *)reader.data, "g");
    /* Longer than GDB_PACKET_MAX: read to its end, refused, and the reader recovers. */
    static char big[GDB_PACKET_MAX + 4];
    memset(big, 'a', GDB_PACKET_MAX + 1);
    assert_int_equal(feed_framed(big), GDB_INPUT_BAD_PACKET);
    assert_int_equal(feed_string("$g#67"), GDB_INPUT_PACKET);
    big[GDB_PACKET_MAX] = '\0'; /* exactly the limit: taken */
    assert_int_equal(feed_framed(big), GDB_INPUT_PACKET);
    assert_int_equal(reader.length, GDB_PACKET_MAX);
    assert_int_equal(reader.data[GDB_PACKET_MAX], '\0');
    /* An escaped byte as the last one that fits, and one past it. */
    memcpy(big + GDB_PACKET_MAX - 1, "}\x03", 3);
    assert_int_equal(feed_framed(big), GDB_INPUT_PACKET);
    assert_int_equal(reader.length, GDB_PACKET_MAX);
    assert_int_equal(reader.data[GDB_PACKET_MAX - 1], '#');
    memcpy(big + GDB_PACKET_MAX - 1, "a}\x03", 4);
    assert_int_equal(feed_framed(big), GDB_INPUT_BAD_PACKET);
}

static void test_encode(void **state)
{
    (void)state;
    uint8_t out[64];
    size_t length = gdb_packet_encode("OK", 2, out, sizeof(out));
    assert_int_equal(length, 6);
    assert_memory_equal(out, "$OK#9a", 6);
    /* Escaped bytes, and the result reads back as the payload. */
    const uint8_t payload[] = {'#', '$', '}', '*', 0, 0xff};
    length = gdb_packet_encode(payload, sizeof(payload), out, sizeof(out));
    assert_int_equal(length, 1 + 6 + 4 + 3);
    gdb_reader_init(&reader);
    assert_int_equal(feed((const char *)out, length), GDB_INPUT_PACKET);
    assert_int_equal(reader.length, sizeof(payload));
    assert_memory_equal(reader.data, payload, sizeof(payload));
    /* Too small a buffer: nothing, whatever the size. */
    for (size_t capacity = 0; capacity < 1 + 6 + 4 + 3; capacity++)
        assert_int_equal(gdb_packet_encode(payload, sizeof(payload), out, capacity), 0);
    assert_int_equal(gdb_packet_encode("", 0, out, 4), 4);
    assert_memory_equal(out, "$#00", 4);
}

static void test_hex(void **state)
{
    (void)state;
    char text[8];
    const uint8_t bytes[] = {0x00, 0xab, 0x7f};
    gdb_hex_encode(bytes, 3, text);
    assert_memory_equal(text, "00ab7f", 6);
    uint8_t back[3];
    assert_true(gdb_hex_decode("00AB7f", 3, back));
    assert_memory_equal(back, bytes, 3);
    assert_false(gdb_hex_decode("0g", 1, back));
    assert_int_equal(gdb_hex_value('F'), 15);
    assert_int_equal(gdb_hex_value(':'), -1);
}

/* Parses text (copied: the parse decodes in place). */
static struct gdb_command command;
static char payload[GDB_PACKET_MAX + 1];

static enum gdb_command_kind parse(const char *text)
{
    size_t length = strlen(text);
    memcpy(payload, text, length + 1);
    gdb_command_parse((uint8_t *)payload, length, &command);
    return command.kind;
}

static void test_simple_commands(void **state)
{
    (void)state;
    assert_int_equal(parse("?"), GDB_COMMAND_HALT_REASON);
    assert_int_equal(parse("g"), GDB_COMMAND_READ_REGISTERS);
    assert_int_equal(parse("gx"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("k"), GDB_COMMAND_KILL);
    assert_int_equal(parse("vKill;1"), GDB_COMMAND_KILL);
    assert_int_equal(parse("D"), GDB_COMMAND_DETACH);
    assert_int_equal(parse("D;1"), GDB_COMMAND_DETACH);
    assert_int_equal(parse("D;"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse(""), GDB_COMMAND_UNSUPPORTED);
    assert_int_equal(parse("vMustReplyEmpty"), GDB_COMMAND_UNSUPPORTED);
    assert_int_equal(parse("!"), GDB_COMMAND_UNSUPPORTED);
    assert_int_equal(parse("\x01"), GDB_COMMAND_UNSUPPORTED);
}

static void test_registers(void **state)
{
    (void)state;
    assert_int_equal(parse("p10"), GDB_COMMAND_READ_REGISTER);
    assert_int_equal(command.reg, 16);
    assert_int_equal(parse("p"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("p10000"), GDB_COMMAND_MALFORMED); /* past any register */
    assert_int_equal(parse("p1x"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("P8=efbeadde00000000"), GDB_COMMAND_WRITE_REGISTER);
    assert_int_equal(command.reg, 8);
    assert_int_equal(command.data_length, 8);
    assert_memory_equal(command.data, "\xef\xbe\xad\xde\0\0\0\0", 8);
    assert_int_equal(parse("P8="), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("P8=abc"), GDB_COMMAND_MALFORMED); /* odd digits */
    assert_int_equal(parse("P8efbe"), GDB_COMMAND_MALFORMED);
    assert_null(command.data);
    assert_int_equal(parse("G0011"), GDB_COMMAND_WRITE_REGISTERS);
    assert_int_equal(command.data_length, 2);
    assert_memory_equal(command.data, "\x00\x11", 2);
    assert_int_equal(parse("G001"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("G00zz"), GDB_COMMAND_MALFORMED);
}

static void test_memory(void **state)
{
    (void)state;
    assert_int_equal(parse("mffffffff81000000,40"), GDB_COMMAND_READ_MEMORY);
    assert_true(command.address == 0xffffffff81000000ull);
    assert_int_equal(command.length, 0x40);
    assert_int_equal(parse("m10,"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("m,4"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("m10,4,"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("m10000000000000000,4"), GDB_COMMAND_MALFORMED); /* 17 digits */
    assert_int_equal(parse("M1000,2:cc90"), GDB_COMMAND_WRITE_MEMORY);
    assert_int_equal(command.address, 0x1000);
    assert_int_equal(command.data_length, 2);
    assert_memory_equal(command.data, "\xcc\x90", 2);
    assert_int_equal(parse("M1000,3:cc90"), GDB_COMMAND_MALFORMED); /* length and data differ */
    assert_int_equal(parse("M1000,ffffffffffffffff:cc"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("M1000,1cc"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("M1000,0:"), GDB_COMMAND_WRITE_MEMORY);
    assert_int_equal(command.data_length, 0);
    /* X: binary, as the reader left it (unescaped). */
    assert_int_equal(parse("X2000,3:a#b"), GDB_COMMAND_WRITE_MEMORY);
    assert_int_equal(command.address, 0x2000);
    assert_int_equal(command.data_length, 3);
    assert_memory_equal(command.data, "a#b", 3);
    assert_int_equal(parse("X2000,0:"), GDB_COMMAND_WRITE_MEMORY); /* gdb's probe for X */
    assert_int_equal(parse("X2000,4:abc"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("X2000,3"), GDB_COMMAND_MALFORMED);
}

static void test_points(void **state)
{
    (void)state;
    assert_int_equal(parse("Z0,ffffffff81234560,1"), GDB_COMMAND_INSERT_POINT);
    assert_int_equal(command.point, GDB_POINT_SOFTWARE);
    assert_true(command.address == 0xffffffff81234560ull);
    assert_int_equal(command.length, 1);
    assert_int_equal(parse("z2,1000,8"), GDB_COMMAND_REMOVE_POINT);
    assert_int_equal(command.point, GDB_POINT_WRITE_WATCH);
    assert_int_equal(command.length, 8);
    assert_int_equal(parse("Z4,1000,4;X2,1f"), GDB_COMMAND_INSERT_POINT); /* conditions ignored */
    assert_int_equal(parse("Z5,1000,1"), GDB_COMMAND_UNSUPPORTED);
    assert_int_equal(parse("Z0,1000"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("Z0,1000,1x"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("Z,1000,1"), GDB_COMMAND_MALFORMED);
}

static void test_threads(void **state)
{
    (void)state;
    assert_int_equal(parse("Hg2"), GDB_COMMAND_SET_THREAD);
    assert_int_equal(command.thread_op, 'g');
    assert_int_equal(command.thread, 2);
    assert_int_equal(parse("Hc-1"), GDB_COMMAND_SET_THREAD);
    assert_int_equal(command.thread, GDB_THREAD_ALL);
    assert_int_equal(parse("Hg0"), GDB_COMMAND_SET_THREAD);
    assert_int_equal(command.thread, GDB_THREAD_ANY);
    assert_int_equal(parse("Hgp1.3"), GDB_COMMAND_SET_THREAD);
    assert_int_equal(command.thread, 3);
    assert_int_equal(parse("Hgp1"), GDB_COMMAND_SET_THREAD);
    assert_int_equal(command.thread, GDB_THREAD_ALL);
    assert_int_equal(parse("Hx1"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("H"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("Hg-2"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("Hg100000000"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("Hgp1."), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("T1"), GDB_COMMAND_THREAD_ALIVE);
    assert_int_equal(command.thread, 1);
    assert_int_equal(parse("T"), GDB_COMMAND_MALFORMED);
}

static void test_resume(void **state)
{
    (void)state;
    assert_int_equal(parse("c"), GDB_COMMAND_CONTINUE);
    assert_false(command.has_address);
    assert_int_equal(parse("s1000"), GDB_COMMAND_STEP);
    assert_true(command.has_address);
    assert_int_equal(command.address, 0x1000);
    assert_int_equal(parse("C05"), GDB_COMMAND_CONTINUE);
    assert_int_equal(command.signal, 5);
    assert_false(command.has_address);
    assert_int_equal(parse("S0b;2000"), GDB_COMMAND_STEP);
    assert_int_equal(command.signal, 11);
    assert_int_equal(command.address, 0x2000);
    assert_int_equal(parse("C"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("C05;"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("C100"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("c10z"), GDB_COMMAND_MALFORMED);

    assert_int_equal(parse("vCont?"), GDB_COMMAND_VCONT_QUERY);
    assert_int_equal(parse("vCont;c"), GDB_COMMAND_VCONT);
    assert_int_equal(command.action_count, 1);
    assert_int_equal(command.actions[0].action, 'c');
    assert_int_equal(command.actions[0].thread, GDB_THREAD_ALL);
    assert_int_equal(parse("vCont;s:2;c"), GDB_COMMAND_VCONT);
    assert_int_equal(command.action_count, 2);
    assert_int_equal(command.actions[0].action, 's');
    assert_int_equal(command.actions[0].thread, 2);
    assert_int_equal(command.actions[1].action, 'c');
    assert_int_equal(parse("vCont;C0b:p1.1;t:-1"), GDB_COMMAND_VCONT);
    assert_int_equal(command.actions[0].action, 'c');
    assert_int_equal(command.actions[0].signal, 11);
    assert_int_equal(command.actions[0].thread, 1);
    assert_int_equal(command.actions[1].action, 't');
    assert_int_equal(parse("vCont"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("vCont;"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("vCont;x"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("vCont;r1000,2000"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("vCont;c:"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("vCont;C"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("vCont;c;c;c;c;c;c;c;c"), GDB_COMMAND_VCONT);
    assert_int_equal(parse("vCont;c;c;c;c;c;c;c;c;c"), GDB_COMMAND_MALFORMED);
    assert_int_equal(parse("vContx"), GDB_COMMAND_UNSUPPORTED);
}

static void test_queries(void **state)
{
    (void)state;
    assert_int_equal(parse("qSupported:multiprocess+;xmlRegisters=i386"), GDB_COMMAND_QUERY);
    assert_int_equal(command.query_length, 10);
    assert_memory_equal(command.query, "qSupported", 10);
    assert_string_equal(command.arguments, "multiprocess+;xmlRegisters=i386");
    assert_int_equal(parse("qXfer:features:read:target.xml:0,ffb"), GDB_COMMAND_QUERY);
    assert_memory_equal(command.query, "qXfer", 5);
    assert_int_equal(command.query_length, 5);
    assert_string_equal(command.arguments, "features:read:target.xml:0,ffb");
    assert_int_equal(parse("qRcmd,696e666f"), GDB_COMMAND_QUERY);
    assert_int_equal(command.query_length, 5);
    assert_string_equal(command.arguments, "696e666f");
    assert_int_equal(parse("qfThreadInfo"), GDB_COMMAND_QUERY);
    assert_int_equal(command.query_length, 12);
    assert_string_equal(command.arguments, "");
    assert_int_equal(parse("QStartNoAckMode"), GDB_COMMAND_QUERY);
    assert_int_equal(command.query_length, 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_reads_a_packet, setup),
        cmocka_unit_test_setup(test_acks_interrupts_and_noise, setup),
        cmocka_unit_test_setup(test_bad_checksums, setup),
        cmocka_unit_test_setup(test_escapes, setup),
        cmocka_unit_test_setup(test_restart_and_overflow, setup),
        cmocka_unit_test_setup(test_encode, setup),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_simple_commands),
        cmocka_unit_test(test_registers),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_points),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
