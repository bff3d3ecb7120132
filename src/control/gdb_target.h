/* The GDB stub's target: a struct vm, through KVM.  Registers through
 * KVM_GET/SET_REGS, SREGS, FPU and the kernel GS base MSR; memory at
 * guest-virtual addresses through KVM_TRANSLATE and the one checked guest
 * memory translation; breakpoints, watchpoints and single steps through
 * KVM_SET_GUEST_DEBUG; stopping and running through vm_pause/vm_resume.
 * Every call is made with the VM paused, from the thread that runs the stub
 * (the event loop), except gdb_target_ops.interrupt. */
#ifndef GUEST_CONTROL_GDB_TARGET_H
#define GUEST_CONTROL_GDB_TARGET_H

#include "control/debug_capabilities.h"
#include "control/gdb_stub.h"
#include "vm.h"

struct gdb_target {
    struct vm *vm;
    struct debug_capabilities host; /* what this host's KVM does, measured */
    uint32_t debug_control;   /* KVM_GUESTDBG_* every vCPU gets */
    uint64_t debug_registers[4];
    uint64_t dr7;
    struct gdb_hw_point points[GDB_MAX_HW_POINTS]; /* what debug_registers[i] holds */
    unsigned point_count;
    uint32_t step_flags; /* SINGLESTEP, and BLOCKIRQ where KVM has it */
    enum gdb_run last_run[GDB_MAX_CPUS];
    bool interrupted; /* the debugger's Ctrl-C asked for the coming stop */
    bool killed;
};

extern const struct gdb_target_ops gdb_target_ops;

/* Measures the host (a scratch VM, a few milliseconds). */
void gdb_target_init(struct gdb_target *target, struct vm *vm);

/* What a pause the target saw (every vCPU parked) means for the debugger:
 * true with stop filled in when it is to be reported; false when it was
 * only the guest's own int3 or debug trap (given back to the guest) and
 * the target has been resumed as before. */
bool gdb_target_classify_stop(struct gdb_target *target, const struct gdb_stub *stub,
                              struct gdb_stop *stop);

/* A debugger attaches to a VM stopped for it: what stopped it before is
 * not its business.  True when a debug exit was among it. */
bool gdb_target_forget_stops(struct gdb_target *target);

#endif
