/* A GDB session fed the input as the debugger's bytes (or, when the first
 * byte is odd, as lines that the harness frames as packets with the right
 * checksum, so that the fuzzer reaches the commands), against a fake
 * two-vCPU target that stops whenever it is resumed: no crash, everything the
 * stub sends is well-formed ('+', '-' or packets with a right checksum), and
 * once the debugger goes away (without killing the VM) no int3 of ours is
 * left in memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/gdb_stub.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE 0x1000u
#define SIZE 0x2000u

static struct gdb_cpu_state cpus[2];
static uint8_t memory[SIZE], shadow[SIZE]; /* shadow: memory as the debugger wrote it */
static bool resumed, killed;
static struct gdb_reader output;

static unsigned count(void *t)
{
    (void)t;
    return 2;
}

static int get(void *t, unsigned cpu, struct gdb_cpu_state *s)
{
    (void)t;
    if (cpu >= 2)
        abort();
    *s = cpus[cpu];
    return 0;
}

static int set(void *t, unsigned cpu, const struct gdb_cpu_state *s)
{
    (void)t;
    if (cpu >= 2)
        abort();
    cpus[cpu] = *s;
    return 0;
}

static size_t span(uint64_t address, size_t length)
{
    if (address < BASE || address >= BASE + SIZE)
        return 0;
    return length < BASE + SIZE - address ? length : (size_t)(BASE + SIZE - address);
}

static size_t read_memory(void *t, unsigned cpu, uint64_t address, void *out, size_t length)
{
    (void)t;
    (void)cpu;
    size_t done = span(address, length);
    if (done)
        memcpy(out, memory + (address - BASE), done);
    return done;
}

static size_t write_memory(void *t, unsigned cpu, uint64_t address, const void *in,
                           size_t length)
{
    (void)t;
    (void)cpu;
    size_t done = span(address, length);
    if (done)
        memcpy(memory + (address - BASE), in, done);
    return done;
}

static int set_debug(void *t, const struct gdb_hw_point *p, unsigned n, bool sw)
{
    (void)t;
    (void)p;
    (void)sw;
    if (n > GDB_MAX_HW_POINTS)
        abort();
    return 0;
}

static void resume(void *t, const enum gdb_run *run)
{
    (void)t;
    (void)run;
    resumed = true;
}

static void nothing(void *t)
{
    (void)t;
}

static void kill_target(void *t)
{
    (void)t;
    killed = true; /* the VM ends: what is in its memory no longer matters */
}

static const struct gdb_target_ops ops = {count,     get,    set,     read_memory, write_memory,
                                          set_debug, resume, nothing, nothing,     kill_target};

static bool sink(void *opaque, const void *bytes, size_t length)
{
    (void)opaque;
    for (size_t i = 0; i < length; i++)
        if (gdb_reader_feed(&output, ((const uint8_t *)bytes)[i]) == GDB_INPUT_BAD_PACKET)
            abort();
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gdb_stub stub;
    memset(cpus, 0, sizeof(cpus));
    for (unsigned i = 0; i < SIZE; i++)
        memory[i] = (uint8_t)(i * 13 + 1);
    gdb_reader_init(&output);
    gdb_stub_init(&stub, &ops, NULL, sink, NULL);
    resumed = killed = false;
    /* In pieces, stopping the target after each piece that resumed it. */
    static uint8_t framed[GDB_ENCODED_MAX(GDB_PACKET_MAX)];
    bool frame = size > 0 && (data[0] & 1);
    for (size_t at = frame ? 1 : 0; at < size;) {
        size_t piece = size - at < 7 ? size - at : 7;
        if (frame) {
            const uint8_t *end = memchr(data + at, '\n', size - at);
            piece = end ? (size_t)(end - (data + at)) + 1 : size - at;
            size_t length = gdb_packet_encode(data + at, end ? piece - 1 : piece, framed,
                                              sizeof(framed));
            gdb_stub_input(&stub, framed, length);
        } else {
            gdb_stub_input(&stub, data + at, piece);
        }
        at += piece;
        if (resumed) {
            resumed = false;
            struct gdb_stop stop = {(enum gdb_stop_reason)(data[at - 1] % 5), data[at - 1] % 3,
                                    5, GDB_POINT_WRITE_WATCH, 0x1000};
            gdb_stub_stopped(&stub, &stop);
        }
    }
    /* What the memory must be once our int3s are out: as read through the
     * stub now (it hides them). */
    memcpy(shadow, memory, SIZE);
    for (unsigned i = 0; i < stub.breakpoint_count; i++) {
        uint64_t offset = stub.breakpoints[i].address - BASE;
        if (offset >= SIZE || memory[offset] != 0xcc)
            abort();
        shadow[offset] = stub.breakpoints[i].saved;
    }
    gdb_stub_disconnected(&stub);
    if (stub.running) {
        struct gdb_stop stop = {GDB_STOP_SIGNAL, 0, 2, 0, 0};
        gdb_stub_stopped(&stub, &stop);
    }
    if (!killed && memcmp(shadow, memory, SIZE))
        abort();
    return 0;
}
