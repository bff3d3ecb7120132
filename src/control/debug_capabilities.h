/* What this host's KVM does for a debugger, measured rather than assumed:
 * whether an int3 in a guest comes to us (KVM_GUESTDBG_USE_SW_BP) and
 * whether a debug-register breakpoint fires (KVM_GUESTDBG_USE_HW_BP).
 * Real hardware does both.  A host that is itself a VM may not: QEMU's TCG
 * (Debian's 7.2) checks a nested guest's int3 against the INTn intercept
 * rather than the #BP one, so the guest takes its own #BP, and loads DR7 on
 * VMRUN without arming the breakpoints in it.  A breakpoint there would
 * crash the guest or never fire; the stub refuses it and says why.
 *
 * PVM (a KVM without hardware virtualization) fires execution breakpoints
 * in debug registers but neither int3 nor data watchpoints.
 *
 * The measure: a scratch VM of one vCPU in real mode runs an int3, an
 * instruction under a DR0 breakpoint, and a store under a DR0 watchpoint,
 * and each time either exits to us or takes the exception through its
 * interrupt table, which reports it on a port. */
#ifndef GUEST_CONTROL_DEBUG_CAPABILITIES_H
#define GUEST_CONTROL_DEBUG_CAPABILITIES_H

#include <stdbool.h>

struct debug_capabilities {
    bool measured;           /* false: KVM refused the scratch VM (then both are assumed) */
    bool int3_intercepted;   /* software breakpoints work */
    bool debug_registers;    /* hardware (execution) breakpoints work */
    bool data_watchpoints;   /* debug-register watchpoints on data work */
};

struct debug_capabilities debug_capabilities_measure(int kvm_fd);

#endif
