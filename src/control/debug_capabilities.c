#include "control/debug_capabilities.h"

#include <linux/kvm.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define SCRATCH_SIZE 0x10000
#define SCRATCH_TSS 0xfffbd000ul /* KVM wants one for real mode on old VMX */
#define REPORT_PORT 0x80
#define CODE 0x100
#define WATCHED 0x180
#define STORE 0x1a0
#define DATA 0x1f0
#define BP_HANDLER 0x200
#define DB_HANDLER 0x300

enum probe_result { PROBE_FAILED, PROBE_EXITED_TO_US, PROBE_GUEST_TOOK_IT };

/* Runs the scratch vCPU from CODE until it exits to us with a debug exit
 * (the host did it) or reports on the port (the guest's own handler ran). */
static enum probe_result probe_run(int vcpu_fd, struct kvm_run *run, uint64_t start,
                                   uint32_t control, uint64_t dr0, uint64_t dr7)
{
    struct kvm_sregs sregs;
    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return PROBE_FAILED;
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
        return PROBE_FAILED;
    struct kvm_regs regs = {.rip = start, .rsp = 0x8000, .rflags = 2};
    if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return PROBE_FAILED;
    struct kvm_guest_debug debug = {.control = KVM_GUESTDBG_ENABLE | control};
    debug.arch.debugreg[0] = dr0;
    debug.arch.debugreg[7] = dr7;
    if (ioctl(vcpu_fd, KVM_SET_GUEST_DEBUG, &debug) < 0)
        return PROBE_FAILED;
    for (int exits = 0; exits < 16; exits++) {
        if (ioctl(vcpu_fd, KVM_RUN, 0) < 0)
            return PROBE_FAILED;
        if (run->exit_reason == KVM_EXIT_DEBUG)
            return PROBE_EXITED_TO_US;
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == REPORT_PORT)
            return PROBE_GUEST_TOOK_IT;
        if (run->exit_reason != KVM_EXIT_INTR)
            return PROBE_FAILED;
    }
    return PROBE_FAILED;
}

static void probe_write(uint8_t *memory, unsigned at, const uint8_t *code, size_t length)
{
    memcpy(memory + at, code, length);
}

struct debug_capabilities debug_capabilities_measure(int kvm_fd)
{
    struct debug_capabilities found = {false, true, true, true};
    int vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm_fd < 0)
        return found;
    int vcpu_fd = -1;
    struct kvm_run *run = MAP_FAILED;
    int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    uint8_t *memory =
        mmap(NULL, SCRATCH_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED || run_size <= 0)
        goto out;
    /* The real-mode interrupt table: #DB and #BP to handlers that say
     * which one the guest took (out 0x80) and halt. */
    const uint16_t vectors[][2] = {{1, DB_HANDLER}, {3, BP_HANDLER}};
    for (size_t i = 0; i < 2; i++) {
        memory[4 * vectors[i][0]] = (uint8_t)vectors[i][1];
        memory[4 * vectors[i][0] + 1] = (uint8_t)(vectors[i][1] >> 8);
    }
    static const uint8_t bp_handler[] = {0xb0, 0x03, 0xe6, REPORT_PORT, 0xf4}; /* mov al,3; out; hlt */
    static const uint8_t db_handler[] = {0xb0, 0x01, 0xe6, REPORT_PORT, 0xf4};
    /* int3; then a jump to WATCHED, where a nop sits under DR0. */
    static const uint8_t code[] = {0xcc, 0xeb, WATCHED - CODE - 3};
    static const uint8_t watched[] = {0x90, 0xb0, 0xaa, 0xe6, REPORT_PORT, 0xf4};
    /* mov %al, (DATA); then the same report. */
    static const uint8_t store[] = {0xa2, DATA & 0xff, DATA >> 8, 0xb0, 0xbb, 0xe6, REPORT_PORT,
                                    0xf4};
    probe_write(memory, BP_HANDLER, bp_handler, sizeof(bp_handler));
    probe_write(memory, DB_HANDLER, db_handler, sizeof(db_handler));
    probe_write(memory, CODE, code, sizeof(code));
    probe_write(memory, WATCHED, watched, sizeof(watched));
    probe_write(memory, STORE, store, sizeof(store));
    struct kvm_userspace_memory_region region = {
        .slot = 0, .memory_size = SCRATCH_SIZE, .userspace_addr = (uint64_t)(uintptr_t)memory};
    if (ioctl(vm_fd, KVM_SET_TSS_ADDR, SCRATCH_TSS) < 0 ||
        ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        goto out;
    vcpu_fd = ioctl(vm_fd, KVM_CREATE_VCPU, 0);
    if (vcpu_fd < 0)
        goto out;
    run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
    if (run == MAP_FAILED)
        goto out;
    enum probe_result software = probe_run(vcpu_fd, run, CODE, KVM_GUESTDBG_USE_SW_BP, 0, 0);
    /* The second run starts past the int3, which it must not meet again. */
    memory[CODE] = 0x90;
    /* DR7: G0, with RW0/LEN0 execute (00) or write (01), one byte. */
    enum probe_result hardware =
        probe_run(vcpu_fd, run, CODE, KVM_GUESTDBG_USE_HW_BP, WATCHED, 0x402);
    enum probe_result watch =
        probe_run(vcpu_fd, run, STORE, KVM_GUESTDBG_USE_HW_BP, DATA, 0x10402);
    if (software != PROBE_FAILED && hardware != PROBE_FAILED && watch != PROBE_FAILED) {
        found.measured = true;
        found.int3_intercepted = software == PROBE_EXITED_TO_US;
        found.debug_registers = hardware == PROBE_EXITED_TO_US;
        found.data_watchpoints = watch == PROBE_EXITED_TO_US;
    }
out:
    if (run != MAP_FAILED)
        munmap(run, (size_t)run_size);
    if (vcpu_fd >= 0)
        close(vcpu_fd);
    if (memory != MAP_FAILED)
        munmap(memory, SCRATCH_SIZE);
    close(vm_fd);
    return found;
}
