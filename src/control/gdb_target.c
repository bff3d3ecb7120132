#include "control/gdb_target.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "exit_status.h"
#include "log.h"

#define MSR_KERNEL_GS_BASE 0xc0000102
#define DR6_BS (1u << 14)   /* the debug trap was a single step */
#define DR6_HIT_MASK 0xfu   /* B0-B3: which debug register matched */

void gdb_target_init(struct gdb_target *target, struct vm *vm)
{
    memset(target, 0, sizeof(*target));
    target->vm = vm;
    target->step_flags = KVM_GUESTDBG_SINGLESTEP;
    /* A step goes to the next instruction, not into a timer interrupt's
     * handler, where KVM can hold interrupts back (Linux 5.16). */
    int supported = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG2);
    if (supported > 0 && (supported & KVM_GUESTDBG_BLOCKIRQ))
        target->step_flags |= KVM_GUESTDBG_BLOCKIRQ;
    for (unsigned i = 0; i < GDB_MAX_CPUS; i++)
        target->last_run[i] = GDB_RUN_CONTINUE;
    target->host = debug_capabilities_measure(vm->kvm_fd);
}

static unsigned target_cpu_count(void *opaque)
{
    struct gdb_target *target = opaque;
    return (unsigned)target->vm->cpu_count;
}

static int target_vcpu_fd(struct gdb_target *target, unsigned cpu)
{
    return cpu < (unsigned)target->vm->cpu_count ? target->vm->vcpus[cpu].fd : -1;
}

/* One MSR for KVM_GET/SET_MSRS: the header and its one entry. */
union kernel_gs_base_msr {
    struct kvm_msrs msrs;
    uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
};

static union kernel_gs_base_msr target_kernel_gs_base_msr(uint64_t value)
{
    union kernel_gs_base_msr msr;
    memset(&msr, 0, sizeof(msr));
    msr.msrs.nmsrs = 1;
    msr.msrs.entries[0].index = MSR_KERNEL_GS_BASE;
    msr.msrs.entries[0].data = value;
    return msr;
}

static int target_get_state(void *opaque, unsigned cpu, struct gdb_cpu_state *state)
{
    struct gdb_target *target = opaque;
    int fd = target_vcpu_fd(target, cpu);
    union kernel_gs_base_msr msr = target_kernel_gs_base_msr(0);
    memset(state, 0, sizeof(*state));
    if (fd < 0 || ioctl(fd, KVM_GET_REGS, &state->regs) || ioctl(fd, KVM_GET_SREGS, &state->sregs) ||
        ioctl(fd, KVM_GET_FPU, &state->fpu))
        return -1;
    if (ioctl(fd, KVM_GET_MSRS, &msr.msrs) == 1)
        state->kernel_gs_base = msr.msrs.entries[0].data;
    return 0;
}

/* Only what changed goes back: KVM_SET_SREGS resets the vCPU's MMU
 * context, and there is no reason to pay that for a changed rip. */
static int target_set_state(void *opaque, unsigned cpu, const struct gdb_cpu_state *state)
{
    struct gdb_target *target = opaque;
    int fd = target_vcpu_fd(target, cpu);
    struct gdb_cpu_state now;
    if (target_get_state(opaque, cpu, &now))
        return -1;
    if (memcmp(&now.regs, &state->regs, sizeof(now.regs)) &&
        ioctl(fd, KVM_SET_REGS, &state->regs))
        return -1;
    if (memcmp(&now.sregs, &state->sregs, sizeof(now.sregs)) &&
        ioctl(fd, KVM_SET_SREGS, &state->sregs))
        return -1;
    if (memcmp(&now.fpu, &state->fpu, sizeof(now.fpu)) && ioctl(fd, KVM_SET_FPU, &state->fpu))
        return -1;
    if (now.kernel_gs_base != state->kernel_gs_base) {
        union kernel_gs_base_msr msr = target_kernel_gs_base_msr(state->kernel_gs_base);
        if (ioctl(fd, KVM_SET_MSRS, &msr.msrs) != 1)
            return -1;
    }
    return 0;
}

static size_t target_read_memory(void *opaque, unsigned cpu, uint64_t address, void *out,
                                 size_t length)
{
    struct gdb_target *target = opaque;
    return vm_access_virtual(target->vm, (int)cpu, address, out, NULL, length);
}

/* Kernel text is written although its pages are read-only to the guest:
 * that is what a debugger's breakpoint needs, as on real hardware's JTAG. */
static size_t target_write_memory(void *opaque, unsigned cpu, uint64_t address, const void *data,
                                  size_t length)
{
    struct gdb_target *target = opaque;
    return vm_access_virtual(target->vm, (int)cpu, address, NULL, data, length);
}

/* Applies the debug state to one vCPU, with a single step or not, and with
 * an exception for the guest itself to take first (0, 1 or 3). */
static int target_apply(struct gdb_target *target, unsigned cpu, bool step, unsigned inject)
{
    struct kvm_guest_debug debug = {.control = target->debug_control};
    if (step)
        debug.control |= target->step_flags;
    if (inject == 1)
        debug.control |= KVM_GUESTDBG_INJECT_DB;
    else if (inject == 3)
        debug.control |= KVM_GUESTDBG_INJECT_BP;
    if (debug.control)
        debug.control |= KVM_GUESTDBG_ENABLE;
    for (int i = 0; i < 4; i++)
        debug.arch.debugreg[i] = target->debug_registers[i];
    debug.arch.debugreg[7] = target->dr7;
    if (ioctl(target_vcpu_fd(target, cpu), KVM_SET_GUEST_DEBUG, &debug) < 0) {
        log_once("KVM_SET_GUEST_DEBUG on vCPU %u: %s", cpu, strerror(errno));
        return -1;
    }
    return 0;
}

/* DR7: a global enable bit per register, then its condition (execute,
 * write, read or write) and length (1, 2, 8, 4 bytes: 0, 1, 2, 3). */
static uint64_t target_dr7_bits(unsigned index, const struct gdb_hw_point *point)
{
    bool execute = point->type == GDB_POINT_HARDWARE || point->type == GDB_POINT_SOFTWARE;
    unsigned condition = execute                                ? 0
                         : point->type == GDB_POINT_WRITE_WATCH ? 1
                                                                : 3;
    unsigned length = execute                          ? 0
                      : point->length == 1             ? 0
                      : point->length == 2             ? 1
                      : point->length == 8             ? 2
                                                       : 3;
    return (2ull << (2 * index)) | ((uint64_t)(condition | length << 2) << (16 + 4 * index));
}

static int target_set_debug(void *opaque, const struct gdb_hw_point *points, unsigned count,
                            bool software_breakpoints)
{
    struct gdb_target *target = opaque;
    if (count > GDB_MAX_HW_POINTS)
        return -1;
    /* What this host cannot do is refused, not left to crash the guest
     * (an int3 it takes itself) or to never fire. */
    if (software_breakpoints && !target->host.int3_intercepted) {
        log_once("gdb: software breakpoints refused: this host's KVM lets the guest take its "
                 "own int3 instead of stopping (a host that is itself a VM, on an emulated CPU?)");
        return -1;
    }
    for (unsigned i = 0; i < count; i++) {
        bool execute = points[i].type == GDB_POINT_HARDWARE || points[i].type == GDB_POINT_SOFTWARE;
        if (execute && !target->host.debug_registers) {
            log_once("gdb: hardware breakpoints refused: this host's KVM does not fire a "
                     "guest's debug-register breakpoints (a host that is itself a VM, on an "
                     "emulated CPU?)");
            return -1;
        }
        if (!execute && !target->host.data_watchpoints) {
            log_once("gdb: watchpoints refused: this host's KVM does not fire a guest's "
                     "debug-register watchpoints");
            return -1;
        }
    }
    target->debug_control = (software_breakpoints ? KVM_GUESTDBG_USE_SW_BP : 0) |
                            (count ? KVM_GUESTDBG_USE_HW_BP : 0);
    target->dr7 = count ? 0x400 : 0; /* bit 10 reads as one */
    memset(target->debug_registers, 0, sizeof(target->debug_registers));
    for (unsigned i = 0; i < count; i++) {
        target->points[i] = points[i];
        target->debug_registers[i] = points[i].address;
        target->dr7 |= target_dr7_bits(i, &points[i]);
    }
    target->point_count = count;
    int failed = 0;
    for (unsigned cpu = 0; cpu < target_cpu_count(target); cpu++)
        failed |= target_apply(target, cpu, false, 0);
    return failed ? -1 : 0;
}

static void target_run(struct gdb_target *target, const enum gdb_run *run)
{
    bool hold[GDB_MAX_CPUS];
    unsigned count = target_cpu_count(target);
    for (unsigned cpu = 0; cpu < count && cpu < GDB_MAX_CPUS; cpu++) {
        target->last_run[cpu] = run[cpu];
        hold[cpu] = run[cpu] == GDB_RUN_STAY;
        target_apply(target, cpu, run[cpu] == GDB_RUN_STEP, 0);
    }
    target->interrupted = false;
    vm_resume(target->vm, hold);
}

static void target_resume(void *opaque, const enum gdb_run *run)
{
    target_run(opaque, run);
}

static void target_interrupt(void *opaque)
{
    struct gdb_target *target = opaque;
    target->interrupted = true;
    vm_pause(target->vm);
}

static void target_detach(void *opaque)
{
    struct gdb_target *target = opaque;
    enum gdb_run run[GDB_MAX_CPUS];
    for (unsigned cpu = 0; cpu < GDB_MAX_CPUS; cpu++)
        run[cpu] = GDB_RUN_CONTINUE;
    target_run(target, run);
}

static void target_kill(void *opaque)
{
    struct gdb_target *target = opaque;
    target->killed = true;
    vm_request_stop(target->vm, GUEST_EXIT_KILLED);
}

static void target_describe(void *opaque, char *out, size_t size)
{
    struct gdb_target *target = opaque;
    struct vm *vm = target->vm;
    const struct debug_capabilities *host = &target->host;
    size_t at = (size_t)snprintf(out, size, "VM: %d vCPUs, %llu MiB of RAM, %s\n", vm->cpu_count,
                                 (unsigned long long)(vm->memory.total_size >> 20),
                                 vm_is_paused(vm) ? "stopped" : "running");
    for (int cpu = 0; cpu < vm->cpu_count && at < size; cpu++) {
        struct kvm_regs regs;
        struct kvm_mp_state mp_state;
        if (ioctl(vm->vcpus[cpu].fd, KVM_GET_REGS, &regs) ||
            ioctl(vm->vcpus[cpu].fd, KVM_GET_MP_STATE, &mp_state))
            continue;
        at += (size_t)snprintf(out + at, size - at, "vCPU %d: rip 0x%llx, %s\n", cpu,
                               (unsigned long long)regs.rip, vm_mp_state_name(mp_state.mp_state));
    }
    if (at < size)
        snprintf(out + at, size - at,
                 "this host's KVM fires: int3 %s, debug-register breakpoints %s, watchpoints "
                 "%s%s\n",
                 host->int3_intercepted ? "yes" : "no", host->debug_registers ? "yes" : "no",
                 host->data_watchpoints ? "yes" : "no", host->measured ? "" : " (not measured)");
}

const struct gdb_target_ops gdb_target_ops = {
    .cpu_count = target_cpu_count,
    .get_state = target_get_state,
    .set_state = target_set_state,
    .read_memory = target_read_memory,
    .write_memory = target_write_memory,
    .set_debug = target_set_debug,
    .resume = target_resume,
    .interrupt = target_interrupt,
    .detach = target_detach,
    .kill = target_kill,
    .describe = target_describe,
};

/* One vCPU's debug exit, as the debugger would see it; false when it was
 * not ours (the guest's own int3, or its own debug registers' trap). */
static bool target_debug_exit_is_ours(struct gdb_target *target, const struct gdb_stub *stub,
                                      unsigned cpu, const struct kvm_debug_exit_arch *exit,
                                      struct gdb_stop *stop)
{
    *stop = (struct gdb_stop){.cpu = cpu, .signal = 5};
    if (exit->exception == 3) {
        stop->reason = GDB_STOP_SW_BREAK;
        return gdb_stub_has_breakpoint(stub, exit->pc);
    }
    if (exit->exception != 1)
        return false;
    uint64_t hits = exit->dr6 & DR6_HIT_MASK;
    for (unsigned i = 0; i < target->point_count; i++) {
        if (!(hits & (1u << i)))
            continue;
        if (target->points[i].type == GDB_POINT_SOFTWARE) {
            stop->reason = GDB_STOP_SW_BREAK;
        } else if (target->points[i].type == GDB_POINT_HARDWARE) {
            stop->reason = GDB_STOP_HW_BREAK;
        } else {
            stop->reason = GDB_STOP_WATCH;
            stop->watch_type = target->points[i].type;
            stop->watch_address = target->points[i].address;
        }
        return true;
    }
    if ((exit->dr6 & DR6_BS) && target->last_run[cpu] == GDB_RUN_STEP) {
        stop->reason = GDB_STOP_STEP;
        return true;
    }
    return false;
}

bool gdb_target_classify_stop(struct gdb_target *target, const struct gdb_stub *stub,
                              struct gdb_stop *stop)
{
    unsigned count = target_cpu_count(target);
    unsigned inject[GDB_MAX_CPUS] = {0};
    bool found = false, foreign = false;
    for (unsigned cpu = 0; cpu < count && cpu < GDB_MAX_CPUS; cpu++) {
        struct kvm_debug_exit_arch exit;
        struct gdb_stop this_stop;
        if (!vm_take_debug_exit(target->vm, (int)cpu, &exit))
            continue;
        if (target_debug_exit_is_ours(target, stub, cpu, &exit, &this_stop)) {
            /* In all-stop mode one stop is told; another vCPU's breakpoint
             * is met again when it runs on (its rip is still there). */
            if (!found)
                *stop = this_stop;
            found = true;
        } else {
            inject[cpu] = exit.exception == 3 ? 3 : 1;
            foreign = true;
        }
    }
    if (!found && target->interrupted) {
        *stop = (struct gdb_stop){.reason = GDB_STOP_SIGNAL, .cpu = 0, .signal = 2};
        found = true;
    }
    if (foreign) {
        /* KVM queues the exception at once: the guest takes it at its next
         * run, whether that is now or after the debugger's look. */
        for (unsigned cpu = 0; cpu < count && cpu < GDB_MAX_CPUS; cpu++)
            if (inject[cpu])
                target_apply(target, cpu, target->last_run[cpu] == GDB_RUN_STEP, inject[cpu]);
    }
    if (found)
        return true;
    target_run(target, target->last_run);
    return false;
}

bool gdb_target_forget_stops(struct gdb_target *target)
{
    struct kvm_debug_exit_arch exit;
    bool any = false;
    for (int cpu = 0; cpu < target->vm->cpu_count; cpu++)
        any |= vm_take_debug_exit(target->vm, cpu, &exit);
    target->interrupted = false;
    return any;
}
