/* A GDB remote session: the debugger's bytes in, replies out, and the
 * target (the VM) driven through a small interface, so that the protocol is
 * tested without KVM.  One session per connected debugger; the caller feeds
 * it what the socket gives (gdb_stub_input) and tells it when the target
 * stops on its own (gdb_stub_stopped), from one thread.
 *
 * Threads, as gdb sees them, are the vCPUs: thread id = vCPU index + 1.
 * While the debugger holds the target stopped every vCPU is stopped. */
#ifndef GUEST_CONTROL_GDB_STUB_H
#define GUEST_CONTROL_GDB_STUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/gdb_packet.h"
#include "control/gdb_registers.h"

#define GDB_MAX_BREAKPOINTS 64
#define GDB_MAX_CPUS 64

/* What each vCPU does when the target resumes. */
enum gdb_run { GDB_RUN_STAY, GDB_RUN_CONTINUE, GDB_RUN_STEP };

/* A hardware breakpoint or watchpoint (debug registers): type is
 * GDB_POINT_HARDWARE or a watch type; length 1, 2, 4 or 8.  Or
 * GDB_POINT_SOFTWARE: the debugger's Z0 in a debug register (see
 * breakpoints_in_debug_registers), stopped at as a software breakpoint. */
struct gdb_hw_point {
    unsigned type;
    uint64_t address;
    unsigned length;
};
#define GDB_MAX_HW_POINTS 4

/* Why the target stopped. */
enum gdb_stop_reason {
    GDB_STOP_SIGNAL,   /* an interrupt (signal 2) or anything else */
    GDB_STOP_STEP,     /* a single step finished (signal 5) */
    GDB_STOP_SW_BREAK, /* an int3 of ours; the pc is at the int3 (signal 5) */
    GDB_STOP_HW_BREAK, /* a debug-register breakpoint (signal 5) */
    GDB_STOP_WATCH,    /* a watchpoint: type and data address (signal 5) */
};

struct gdb_stop {
    enum gdb_stop_reason reason;
    unsigned cpu;
    uint8_t signal;
    unsigned watch_type; /* GDB_POINT_*_WATCH */
    uint64_t watch_address;
};

struct gdb_target_ops {
    unsigned (*cpu_count)(void *target);
    int (*get_state)(void *target, unsigned cpu, struct gdb_cpu_state *state);
    int (*set_state)(void *target, unsigned cpu, const struct gdb_cpu_state *state);
    /* Guest-virtual memory as cpu sees it: returns the bytes done from the
     * start, fewer at the first page that is not mapped or not RAM. */
    size_t (*read_memory)(void *target, unsigned cpu, uint64_t address, void *out, size_t length);
    size_t (*write_memory)(void *target, unsigned cpu, uint64_t address, const void *data,
                           size_t length);
    /* The debug registers every vCPU gets (the whole set each time), and
     * whether software breakpoints (int3) are to stop the VM. */
    int (*set_debug)(void *target, const struct gdb_hw_point *points, unsigned count,
                     bool software_breakpoints);
    /* Resumes the stopped target: run[cpu] for each vCPU.  The target calls
     * gdb_stub_stopped when it stops again. */
    void (*resume)(void *target, const enum gdb_run *run);
    /* Stops a running target (the debugger's Ctrl-C); it then reports the
     * stop with gdb_stub_stopped. */
    void (*interrupt)(void *target);
    /* The debugger detached (the target runs on) or killed it (the VM ends). */
    void (*detach)(void *target);
    void (*kill)(void *target);
    /* For `monitor info`: a few lines about the target (may be NULL). */
    void (*describe)(void *target, char *out, size_t size);
};

struct gdb_stub {
    const struct gdb_target_ops *ops;
    void *target;
    /* Sends bytes to the debugger; false when the connection is gone. */
    bool (*send)(void *opaque, const void *bytes, size_t length);
    void *send_opaque;

    struct gdb_reader reader;
    bool no_ack;   /* QStartNoAckMode */
    bool running;  /* resumed, no stop reported since */
    bool finished; /* detached or killed: the session is over */
    bool lost;     /* the debugger went away while the target ran */
    /* Z0 served by a debug register (GDB_POINT_SOFTWARE in hw_points), on
     * a host whose KVM does not pass a guest's int3 to us. */
    bool breakpoints_in_debug_registers;
    unsigned cpu_g; /* Hg: registers and memory (index) */
    int64_t thread_c; /* Hc: what c and s resume */
    struct gdb_stop stop; /* the last stop, for '?' */

    struct {
        uint64_t address;
        unsigned cpu;  /* whose address space it was written in */
        uint8_t saved; /* the byte int3 replaced */
    } breakpoints[GDB_MAX_BREAKPOINTS];
    unsigned breakpoint_count;
    struct gdb_hw_point hw_points[GDB_MAX_HW_POINTS];
    unsigned hw_point_count;

    uint8_t reply[GDB_PACKET_MAX + 1];
    uint8_t framed[GDB_ENCODED_MAX(GDB_PACKET_MAX)];
    size_t framed_length; /* the last packet sent, for a '-' */
};

/* A session with the target stopped (as --paused, or after the VM was
 * stopped for the debugger), stop reported as SIGTRAP on vCPU 0 when asked. */
void gdb_stub_init(struct gdb_stub *stub, const struct gdb_target_ops *ops, void *target,
                   bool (*send)(void *opaque, const void *bytes, size_t length),
                   void *send_opaque);
/* Bytes from the debugger. */
void gdb_stub_input(struct gdb_stub *stub, const uint8_t *bytes, size_t length);
/* The target stopped (every vCPU): sends the stop reply. */
void gdb_stub_stopped(struct gdb_stub *stub, const struct gdb_stop *stop);
/* Whether address holds one of the debugger's int3s (a #BP there is the
 * debugger's; elsewhere it is the guest's own). */
bool gdb_stub_has_breakpoint(const struct gdb_stub *stub, uint64_t address);
/* The debugger went away: software breakpoints come out of guest memory,
 * debug registers are cleared, and the target runs on (a running target is
 * stopped for that first, and let go at its stop). */
void gdb_stub_disconnected(struct gdb_stub *stub);

#endif
