#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "exit_status.h"
#include "log.h"
#include "sandbox.h"
#include "x86/cpu_state.h"
#include "x86/cpuid.h"
#include "x86/layout.h"

#define KVM_API_EXPECTED 12
/* A real-time signal of the VMM's own, unblocked in vCPU threads: SIGUSR1
 * is the user's (a screenshot with --screenshot), blocked in every thread
 * for its signalfd, and a kick that cannot arrive leaves a vCPU in KVM_RUN
 * through a stop. */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)

int vm_max_cpus(int kvm_fd)
{
    int max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max <= 0)
        max = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    if (max <= 0)
        max = 4; /* the documented floor when neither capability answers */
    return max;
}

int vm_open_kvm(int *kvm_fd, struct error *error)
{
    const char *path = getenv("GUEST_KVM_DEVICE");
    if (!path || !*path)
        path = "/dev/kvm";
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return error_set(error, "%s: %s%s", path, strerror(errno),
                         errno == ENOENT ? " (is KVM available and its module loaded?)" : "");
    int version = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_EXPECTED) {
        close(fd);
        return error_set(error, "%s: KVM API version %d, expected %d", path, version,
                         KVM_API_EXPECTED);
    }
    static const struct {
        int capability;
        const char *name;
    } required[] = {
        {KVM_CAP_IRQCHIP, "in-kernel irqchip"},      {KVM_CAP_PIT2, "in-kernel PIT"},
        {KVM_CAP_USER_MEMORY, "user memory"},        {KVM_CAP_IMMEDIATE_EXIT, "immediate exit"},
        {KVM_CAP_EXT_CPUID, "KVM_GET_SUPPORTED_CPUID"}, {KVM_CAP_SET_TSS_ADDR, "TSS address"},
        {KVM_CAP_IRQFD, "irqfd"},                    {KVM_CAP_IOEVENTFD, "ioeventfd"},
        {KVM_CAP_IRQ_ROUTING, "interrupt routing"},
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (ioctl(fd, KVM_CHECK_EXTENSION, required[i].capability) <= 0) {
            close(fd);
            return error_set(error, "%s: KVM lacks %s support", path, required[i].name);
        }
    }
    *kvm_fd = fd;
    return 0;
}

static int vcpu_create(struct vm *vm, struct vcpu *vcpu, int index, struct kvm_cpuid2 *cpuid,
                       struct error *error)
{
    vcpu->vm = vm;
    vcpu->index = index;
    vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, index);
    if (vcpu->fd < 0)
        return error_set(error, "KVM_CREATE_VCPU %d: %s", index, strerror(errno));
    vcpu->run = mmap(NULL, vm->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
    if (vcpu->run == MAP_FAILED) {
        vcpu->run = NULL;
        return error_set(error, "mmap of vCPU %d state: %s", index, strerror(errno));
    }
    struct cpuid_platform platform = {
        .cpu_count = vm->cpu_count,
        .tsc_deadline_timer =
            ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0,
        .brand = vm->has_host_brand ? vm->host_brand : NULL,
    };
    cpuid_for_vcpu(vm->supported_cpuid, cpuid, index, &platform);
    if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
        return error_set(error, "KVM_SET_CPUID2 on vCPU %d: %s", index, strerror(errno));
    /* Every vCPU, the APs Linux wakes later included: KVM keeps MSRs across
     * INIT, and Linux wants the MTRRs of all CPUs to agree. */
    if (cpu_state_set_mtrr_default(vcpu->fd, error))
        return -1;
    return cpu_state_set_local_apic_lints(vcpu->fd, error);
}

int vm_create(struct vm *vm, int kvm_fd, uint64_t memory_size, int cpu_count, struct error *error)
{
    memset(vm, 0, sizeof(*vm));
    vm->kvm_fd = kvm_fd;
    vm->vm_fd = -1;
    vm->stop_event_fd = -1;
    vm->cpu_count = cpu_count;
    vm->pio_bus.name = "port I/O";
    vm->mmio_bus.name = "MMIO";

    vm->paused_event_fd = -1;
    pthread_mutex_init(&vm->pause_lock, NULL);
    pthread_cond_init(&vm->pause_changed, NULL);
    vm->stop_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    vm->paused_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (vm->stop_event_fd < 0 || vm->paused_event_fd < 0)
        return error_set(error, "eventfd: %s", strerror(errno));
    vm->vcpu_mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->vcpu_mmap_size <= 0)
        return error_set(error, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
    vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        return error_set(error, "KVM_CREATE_VM: %s", strerror(errno));
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0)
        return error_set(error, "KVM_SET_TSS_ADDR: %s", strerror(errno));
    uint64_t identity_map = LAYOUT_KVM_IDENTITY_MAP;
    if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity_map) < 0 && errno != EINVAL &&
        errno != ENOTTY)
        return error_set(error, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
        return error_set(error, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
    struct kvm_pit_config pit = {.flags = 0};
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
        return error_set(error, "KVM_CREATE_PIT2: %s", strerror(errno));

    if (guest_memory_create(&vm->memory, memory_size, error))
        return -1;
    for (int slot = 0; slot < vm->memory.region_count; slot++) {
        const struct guest_memory_region *region = &vm->memory.regions[slot];
        struct kvm_userspace_memory_region kvm_region = {
            .slot = (uint32_t)slot,
            .guest_phys_addr = region->guest_address,
            .memory_size = region->size,
            .userspace_addr = (uint64_t)(uintptr_t)region->host,
        };
        if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kvm_region) < 0)
            return error_set(error, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
    }

    vm->supported_cpuid = cpuid_get_supported(kvm_fd, error);
    if (!vm->supported_cpuid)
        return -1;
    _Static_assert(sizeof(vm->host_brand) == CPUID_BRAND_LENGTH, "brand string size");
    vm->has_host_brand = cpuid_read_host_brand(vm->host_brand);
    struct kvm_cpuid2 *cpuid =
        calloc(1, sizeof(*cpuid) + (vm->supported_cpuid->nent + CPUID_SPARE_ENTRIES) *
                                       sizeof(struct kvm_cpuid_entry2));
    vm->vcpus = calloc((size_t)cpu_count, sizeof(*vm->vcpus));
    if (!cpuid || !vm->vcpus) {
        free(cpuid);
        return error_set(error, "out of memory for %d vCPUs", cpu_count);
    }
    for (int i = 0; i < cpu_count; i++)
        vm->vcpus[i].fd = -1;
    for (int i = 0; i < cpu_count; i++) {
        if (vcpu_create(vm, &vm->vcpus[i], i, cpuid, error)) {
            free(cpuid);
            return -1;
        }
    }
    free(cpuid);
    return 0;
}

void vm_destroy(struct vm *vm)
{
    for (int i = 0; vm->vcpus && i < vm->cpu_count; i++) {
        if (vm->vcpus[i].run)
            munmap(vm->vcpus[i].run, vm->vcpu_mmap_size);
        if (vm->vcpus[i].fd >= 0)
            close(vm->vcpus[i].fd);
    }
    free(vm->vcpus);
    free(vm->supported_cpuid);
    guest_memory_destroy(&vm->memory);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->stop_event_fd >= 0)
        close(vm->stop_event_fd);
    if (vm->paused_event_fd >= 0) {
        close(vm->paused_event_fd);
        pthread_cond_destroy(&vm->pause_changed);
        pthread_mutex_destroy(&vm->pause_lock);
    }
    vm->vcpus = NULL;
    vm->supported_cpuid = NULL;
    vm->vm_fd = vm->stop_event_fd = vm->paused_event_fd = -1;
}

void vm_set_irq_line(struct vm *vm, unsigned irq, int level)
{
    struct kvm_irq_level line = {.irq = irq, .level = (uint32_t)level};
    if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &line) < 0)
        log_once("KVM_IRQ_LINE %u: %s", irq, strerror(errno));
}

void vm_request_stop(struct vm *vm, int exit_status)
{
    bool expected = false;
    if (!atomic_compare_exchange_strong(&vm->stopping, &expected, true))
        return;
    vm->exit_status = exit_status;
    uint64_t one = 1;
    if (write(vm->stop_event_fd, &one, sizeof(one)) < 0)
        log_once("stop event: %s", strerror(errno));
}

/* The reset state a CPU is in after a shutdown when KVM has already
 * reinitialised it (AMD: the VMCB is set up afresh), so the registers say
 * nothing about where the guest was. */
static bool vcpu_is_in_reset_state(const struct kvm_regs *regs, const struct kvm_sregs *sregs)
{
    return regs->rip == 0xfff0 && sregs->cs.selector == 0xf000 && !(sregs->cr0 & 1);
}

static void vcpu_log_failure(struct vcpu *vcpu, const char *what)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) != 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) != 0)
        log_message("vCPU %d: %s", vcpu->index, what);
    else if (vcpu_is_in_reset_state(&regs, &sregs))
        log_message("vCPU %d: %s; KVM has already reset the CPU (rip=0xfff0, cs=0xf000), so "
                    "where the guest was is lost (on AMD, KVM reinitialises the VMCB after a "
                    "shutdown)",
                    vcpu->index, what);
    else
        log_message("vCPU %d: %s at rip=0x%llx (cs=0x%x cr0=0x%llx cr3=0x%llx efer=0x%llx)",
                    vcpu->index, what, (unsigned long long)regs.rip, sregs.cs.selector,
                    (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr3,
                    (unsigned long long)sregs.efer);
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
        if (run->io.direction == KVM_EXIT_IO_OUT)
            bus_write(&vcpu->vm->pio_bus, run->io.port, data, run->io.size);
        else
            bus_read(&vcpu->vm->pio_bus, run->io.port, data, run->io.size);
    }
}

static void vcpu_handle_mmio(struct vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    unsigned length = run->mmio.len > 8 ? 8 : run->mmio.len;
    if (run->mmio.is_write)
        bus_write(&vcpu->vm->mmio_bus, run->mmio.phys_addr, run->mmio.data, length);
    else
        bus_read(&vcpu->vm->mmio_bus, run->mmio.phys_addr, run->mmio.data, length);
}

/* The coarse clock: a few ms of resolution is plenty for a report in tenths
 * of seconds, and it is the cheapest read there is, on every exit. */
static uint64_t vcpu_now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* What the SIGQUIT report reads: one clock read and plain relaxed stores
 * per exit (the vCPU's own thread is the only writer, so no locked
 * instruction).  Re-entering the guest stores only the place: "in the
 * guest since" is then the time of the last exit, which differs from the
 * entry by the exit's handling, microseconds unless it was the exit that
 * got stuck, which the place says. */
static void vcpu_note_exit(struct vcpu *vcpu, uint64_t exit_count)
{
    const struct kvm_run *run = vcpu->run;
    uint64_t address = run->exit_reason == KVM_EXIT_IO     ? run->io.port
                       : run->exit_reason == KVM_EXIT_MMIO ? run->mmio.phys_addr
                                                           : 0;
    atomic_store_explicit(&vcpu->last_exit_reason, run->exit_reason, memory_order_relaxed);
    atomic_store_explicit(&vcpu->last_exit_address, address, memory_order_relaxed);
    atomic_store_explicit(&vcpu->exit_count, exit_count, memory_order_relaxed);
    atomic_store_explicit(&vcpu->place_since_ns, vcpu_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&vcpu->place, VCPU_IN_EXIT, memory_order_relaxed);
}

static void vcpu_handle_debug(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;
    pthread_mutex_lock(&vm->pause_lock);
    vcpu->debug_exit = vcpu->run->debug.arch;
    vcpu->has_debug_exit = true;
    pthread_mutex_unlock(&vm->pause_lock);
    vm_pause(vm); /* the debugger looks at a machine that stands still */
}

static void vcpu_handle_exit(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;
    struct kvm_run *run = vcpu->run;
    vcpu->io_pending = run->exit_reason == KVM_EXIT_IO || run->exit_reason == KVM_EXIT_MMIO;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        vcpu_handle_io(vcpu);
        break;
    case KVM_EXIT_MMIO:
        vcpu_handle_mmio(vcpu);
        break;
    case KVM_EXIT_DEBUG:
        vcpu_handle_debug(vcpu);
        break;
    case KVM_EXIT_SHUTDOWN:
        /* A triple fault: the last resort of Linux's reboot path, or a
         * guest that crashed hard.  A PC resets; say so, since the
         * latter is worth knowing. */
        vcpu_log_failure(vcpu, "triple fault (CPU shutdown); the machine resets");
        vm_request_stop(vm, GUEST_EXIT_REBOOT);
        break;
    case KVM_EXIT_SYSTEM_EVENT:
        vm_request_stop(vm, run->system_event.type == KVM_SYSTEM_EVENT_RESET
                                ? GUEST_EXIT_REBOOT
                                : GUEST_EXIT_POWEROFF);
        break;
    case KVM_EXIT_HLT:
        /* Only without an in-kernel LAPIC; treat as the CPU stopping for good. */
        vcpu_log_failure(vcpu, "halted with interrupts off");
        vm_request_stop(vm, GUEST_EXIT_CRASH);
        break;
    case KVM_EXIT_FAIL_ENTRY:
        vcpu_log_failure(vcpu, "KVM could not enter the guest");
        vm_request_stop(vm, GUEST_EXIT_CRASH);
        break;
    case KVM_EXIT_INTERNAL_ERROR: {
        char what[64];
        snprintf(what, sizeof(what), "KVM internal error %u", run->internal.suberror);
        vcpu_log_failure(vcpu, what);
        vm_request_stop(vm, GUEST_EXIT_CRASH);
        break;
    }
    case KVM_EXIT_INTR:
        break;
    default: {
        char what[64];
        snprintf(what, sizeof(what), "unexpected KVM exit %u", run->exit_reason);
        vcpu_log_failure(vcpu, what);
        vm_request_stop(vm, GUEST_EXIT_CRASH);
        break;
    }
    }
}

static void vm_say_paused(struct vm *vm)
{
    uint64_t one = 1;
    if (write(vm->paused_event_fd, &one, sizeof(one)) < 0)
        log_once("paused event: %s", strerror(errno));
}

/* The last vCPU to park stops the guest's clock and says the machine is
 * paused. */
static void vm_note_parked(struct vm *vm)
{
    if (++vm->parked_count < vm->cpu_count)
        return;
    if (!vm->clock_saved && ioctl(vm->vm_fd, KVM_GET_CLOCK, &vm->paused_clock) == 0)
        vm->clock_saved = true;
    vm_say_paused(vm);
}

/* Parks the vCPU while the VM is paused or the vCPU held.  An I/O exit's
 * completion (an IN's value into rax, rip past the instruction) is KVM's
 * on the next KVM_RUN: that is done first, without entering the guest, so
 * whoever reads the registers of the parked vCPU sees them as they are. */
static void vcpu_park(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;
    for (int round = 0; vcpu->io_pending && round < 16; round++) {
        vcpu->run->immediate_exit = 1;
        if (ioctl(vcpu->fd, KVM_RUN, 0) == 0)
            vcpu_handle_exit(vcpu); /* the rest of a string I/O */
        else
            vcpu->io_pending = false;
    }
    pthread_mutex_lock(&vm->pause_lock);
    while ((atomic_load(&vm->pause_requested) || vcpu->held) && !atomic_load(&vm->stopping)) {
        if (!vcpu->parked) {
            vcpu->parked = true;
            atomic_store_explicit(&vcpu->place_since_ns, vcpu_now_ns(), memory_order_relaxed);
            atomic_store_explicit(&vcpu->place, VCPU_PARKED, memory_order_relaxed);
            ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0); /* EINVAL without kvmclock: no matter */
            vm_note_parked(vm);
        }
        pthread_cond_wait(&vm->pause_changed, &vm->pause_lock);
    }
    if (vcpu->parked) {
        vcpu->parked = false;
        vm->parked_count--;
    }
    /* Cleared under the lock: a pause asked for later sets it again. */
    vcpu->run->immediate_exit = 0;
    pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *opaque)
{
    struct vcpu *vcpu = opaque;
    struct vm *vm = vcpu->vm;
    uint64_t exit_count = 0;
    char name[16];
    snprintf(name, sizeof(name), "vcpu%d", vcpu->index);
    sandbox_enter(SANDBOX_VCPU, name); /* before the guest's first instruction */
    atomic_store(&vcpu->thread_id, (long)gettid());
    atomic_store_explicit(&vcpu->place_since_ns, vcpu_now_ns(), memory_order_relaxed);
    while (!atomic_load(&vm->stopping)) {
        /* held changes only while this vCPU is parked, under the lock. */
        if (atomic_load_explicit(&vm->pause_requested, memory_order_relaxed) || vcpu->held) {
            vcpu_park(vcpu);
            continue;
        }
        atomic_store_explicit(&vcpu->place, VCPU_IN_GUEST, memory_order_relaxed);
        if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
            vcpu->io_pending = false; /* KVM finished it before it returned */
            if (errno == EINTR || errno == EAGAIN)
                continue;
            log_message("vCPU %d: KVM_RUN: %s", vcpu->index, strerror(errno));
            vm_request_stop(vm, GUEST_EXIT_CRASH);
            break;
        }
        vcpu_note_exit(vcpu, ++exit_count);
        vcpu_handle_exit(vcpu);
    }
    return NULL;
}

void vm_pause(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    atomic_store(&vm->pause_requested, true);
    for (int i = 0; i < vm->cpu_count; i++)
        vm->vcpus[i].run->immediate_exit = 1;
    bool already = vm->parked_count == vm->cpu_count;
    pthread_mutex_unlock(&vm->pause_lock);
    if (already) { /* the caller waits for the event all the same */
        vm_say_paused(vm);
        return;
    }
    for (int i = 0; i < vm->cpu_count; i++)
        if (vm->vcpus[i].thread_started && !pthread_equal(vm->vcpus[i].thread, pthread_self()))
            pthread_kill(vm->vcpus[i].thread, VCPU_KICK_SIGNAL);
}

bool vm_is_paused(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock);
    bool paused = vm->parked_count == vm->cpu_count;
    pthread_mutex_unlock(&vm->pause_lock);
    return paused;
}

void vm_resume(struct vm *vm, const bool *hold)
{
    pthread_mutex_lock(&vm->pause_lock);
    if (vm->clock_saved) {
        /* From where it stood: no jump by the time spent paused. */
        struct kvm_clock_data clock = {.clock = vm->paused_clock.clock};
        if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
            log_once("KVM_SET_CLOCK: %s", strerror(errno));
        vm->clock_saved = false;
    }
    for (int i = 0; i < vm->cpu_count; i++)
        vm->vcpus[i].held = hold ? hold[i] : false;
    atomic_store(&vm->pause_requested, false);
    pthread_cond_broadcast(&vm->pause_changed);
    pthread_mutex_unlock(&vm->pause_lock);
}

bool vm_take_debug_exit(struct vm *vm, int cpu, struct kvm_debug_exit_arch *exit)
{
    pthread_mutex_lock(&vm->pause_lock);
    struct vcpu *vcpu = &vm->vcpus[cpu];
    bool had = vcpu->has_debug_exit;
    if (had)
        *exit = vcpu->debug_exit;
    vcpu->has_debug_exit = false;
    pthread_mutex_unlock(&vm->pause_lock);
    return had;
}

int vm_kick_signal(void)
{
    return VCPU_KICK_SIGNAL;
}

static void vcpu_kick_handler(int signal_number)
{
    (void)signal_number; /* only here so KVM_RUN returns EINTR */
}

static const char *vcpu_exit_name(uint32_t reason, bool is_write)
{
    switch (reason) {
    case KVM_EXIT_IO: return is_write ? "port write" : "port read";
    case KVM_EXIT_MMIO: return is_write ? "MMIO write" : "MMIO read";
    case KVM_EXIT_INTR: return "signal";
    case KVM_EXIT_SHUTDOWN: return "shutdown";
    case KVM_EXIT_SYSTEM_EVENT: return "system event";
    default: return "other exit";
    }
}

/* SIGQUIT: where each vCPU thread is (in the guest, or in the VMM handling
 * an exit, and for how long), before the threads are stopped. */
static void vm_report_vcpu_places(struct vm *vm)
{
    uint64_t now = vcpu_now_ns();
    for (int i = 0; i < vm->cpu_count; i++) {
        struct vcpu *vcpu = &vm->vcpus[i];
        int place = atomic_load_explicit(&vcpu->place, memory_order_relaxed);
        uint64_t since = atomic_load_explicit(&vcpu->place_since_ns, memory_order_relaxed);
        double seconds = since && now > since ? (double)(now - since) / 1e9 : 0;
        uint32_t reason = atomic_load_explicit(&vcpu->last_exit_reason, memory_order_relaxed);
        uint64_t address = atomic_load_explicit(&vcpu->last_exit_address, memory_order_relaxed);
        unsigned long long exits = atomic_load_explicit(&vcpu->exit_count, memory_order_relaxed);
        /* The run structure's direction is the last exit's, good enough here. */
        bool is_write = reason == KVM_EXIT_IO     ? vcpu->run->io.direction == KVM_EXIT_IO_OUT
                        : reason == KVM_EXIT_MMIO ? vcpu->run->mmio.is_write
                                                  : false;
        if (place == VCPU_NOT_STARTED)
            log_message("vCPU %d: never ran", i);
        else if (place == VCPU_PARKED)
            log_message("vCPU %d: parked (the VM is paused, or a debugger holds it) for %.1f s, "
                        "after %llu exits",
                        i, seconds, exits);
        else
            log_message("vCPU %d: %s for %.1f s, after %llu exits (the last: %s at 0x%llx)", i,
                        place == VCPU_IN_GUEST ? "in the guest (KVM_RUN)"
                                               : "in the VMM, handling an exit",
                        seconds, exits, vcpu_exit_name(reason, is_write),
                        (unsigned long long)address);
    }
}

const char *vm_mp_state_name(uint32_t mp_state)
{
    static const char *const states[] = {"runnable", "uninitialized", "init received",
                                         "halted",   "SIPI received", "stopped"};
    return mp_state < 6 ? states[mp_state] : "in an odd state";
}

size_t vm_access_virtual(struct vm *vm, int cpu, uint64_t address, void *read_into,
                         const void *write_from, size_t length)
{
    const uint64_t page_size = 4096;
    size_t done = 0;
    while (cpu >= 0 && cpu < vm->cpu_count && done < length) {
        uint64_t linear = address + done;
        size_t chunk = page_size - (linear & (page_size - 1));
        if (chunk > length - done)
            chunk = length - done;
        struct kvm_translation translation = {.linear_address = linear};
        if (ioctl(vm->vcpus[cpu].fd, KVM_TRANSLATE, &translation) < 0 || !translation.valid)
            break;
        uint8_t *host = guest_memory_ptr(&vm->memory, translation.physical_address, chunk);
        if (!host)
            break;
        if (read_into)
            memcpy((uint8_t *)read_into + done, host, chunk);
        else
            memcpy(host, (const uint8_t *)write_from + done, chunk);
        done += chunk;
    }
    return done;
}

/* After the threads stopped: what each vCPU was doing in the guest. */
static void vm_report_vcpu_states(struct vm *vm)
{
    for (int i = 0; i < vm->cpu_count; i++) {
        struct vcpu *vcpu = &vm->vcpus[i];
        struct kvm_regs regs;
        struct kvm_sregs sregs;
        struct kvm_mp_state mp_state;
        if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) ||
            ioctl(vcpu->fd, KVM_GET_MP_STATE, &mp_state))
            continue;
        /* The instruction bytes there, through the vCPU's own page tables:
         * what a hung guest executes, without its symbols. */
        char code[16 * 3 + 1] = "not readable";
        uint8_t bytes[16];
        bool readable = vm_access_virtual(vm, i, regs.rip, bytes, NULL, 16) == 16;
        for (int b = 0; readable && b < 16; b++)
            snprintf(code + 3 * b, sizeof(code) - 3 * (size_t)b, "%02x%s", bytes[b],
                     b < 15 ? " " : "");
        log_message("vCPU %d: %s, rip=0x%llx rsp=0x%llx rflags=0x%llx (interrupts %s) "
                    "cr3=0x%llx; code at rip: %s",
                    i, vm_mp_state_name(mp_state.mp_state),
                    (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
                    (unsigned long long)regs.rflags, regs.rflags & 0x200 ? "on" : "off",
                    (unsigned long long)sregs.cr3, code);
        /* Paging on with the top-level table outside guest RAM is no state
         * this guest can have reached by itself: the registers are someone
         * else's.  Seen when the host is itself a VM whose emulated SVM
         * (QEMU TCG) hands a nested guest its hypervisor's registers. */
        const uint64_t cr0_pg = 1ull << 31;
        if ((sregs.cr0 & cr0_pg) && !guest_memory_ptr(&vm->memory, sregs.cr3 & ~0xfffull, 8))
            log_message("vCPU %d: lost state: cr3 0x%llx is outside guest RAM, so these are not "
                        "the guest's registers; the host's virtualization lost them (a nested "
                        "host whose emulated SVM or VMX is faulty), not a guest or VMM fault",
                        i, (unsigned long long)sregs.cr3);
    }
}

static void vm_kick_vcpus(struct vm *vm)
{
    pthread_mutex_lock(&vm->pause_lock); /* parked vCPUs see the stop */
    pthread_cond_broadcast(&vm->pause_changed);
    pthread_mutex_unlock(&vm->pause_lock);
    for (int i = 0; i < vm->cpu_count; i++) {
        struct vcpu *vcpu = &vm->vcpus[i];
        vcpu->run->immediate_exit = 1;
        if (vcpu->thread_started)
            pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
    }
}

int vm_run(struct vm *vm, const struct boot_entry *entry, struct error *error)
{
    /* First: the caller may send the kick to its other threads afterwards
     * (vm_kick_signal), whatever vm_run returns. */
    struct sigaction kick = {.sa_handler = vcpu_kick_handler};
    sigemptyset(&kick.sa_mask);
    sigaction(VCPU_KICK_SIGNAL, &kick, NULL);

    if (cpu_state_set_boot(vm->vcpus[0].fd, entry, error))
        return -1;

    /* The caller blocked the terminating signals before starting any thread;
     * they arrive here through a signalfd. */
    sigset_t terminating;
    sigemptyset(&terminating);
    sigaddset(&terminating, SIGINT);
    sigaddset(&terminating, SIGTERM);
    sigaddset(&terminating, SIGHUP);
    sigaddset(&terminating, SIGQUIT);
    int signal_fd = signalfd(-1, &terminating, SFD_CLOEXEC);
    if (signal_fd < 0)
        return error_set(error, "signalfd: %s", strerror(errno));

    for (int i = 0; i < vm->cpu_count; i++) {
        int status = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
        if (status) {
            error_set(error, "cannot start vCPU thread %d: %s", i, strerror(status));
            vm_request_stop(vm, GUEST_EXIT_ERROR);
            break;
        }
        vm->vcpus[i].thread_started = true;
    }
    /* Every thread is started: what is left here is waiting and the end. */
    sandbox_enter(SANDBOX_MAIN, NULL);

    bool quit_report = false;
    struct pollfd waits[2] = {{.fd = vm->stop_event_fd, .events = POLLIN},
                              {.fd = signal_fd, .events = POLLIN}};
    while (!atomic_load(&vm->stopping)) {
        if (poll(waits, 2, -1) < 0 && errno != EINTR)
            break;
        if (waits[1].revents & POLLIN) {
            struct signalfd_siginfo info;
            if (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
                if (info.ssi_signo == SIGQUIT) {
                    quit_report = true;
                    vm_report_vcpu_places(vm);
                }
                vm_request_stop(vm, 128 + (int)info.ssi_signo);
            }
        }
    }
    close(signal_fd);
    vm_kick_vcpus(vm);
    for (int i = 0; i < vm->cpu_count; i++)
        if (vm->vcpus[i].thread_started)
            pthread_join(vm->vcpus[i].thread, NULL);
    if (quit_report)
        vm_report_vcpu_states(vm);
    return vm->exit_status;
}
