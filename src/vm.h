/* A KVM virtual machine: memory, in-kernel interrupt controllers and PIT,
 * the buses, the vCPUs (one thread each), and how it stops. */
#ifndef GUEST_VM_H
#define GUEST_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"
#include "bus.h"
#include "error.h"
#include "memory.h"

struct vm;

/* Where a vCPU thread is, for the report a SIGQUIT asks for (a hung guest:
 * is a vCPU stuck in the VMM, or in the guest?).  Written by the vCPU's
 * own thread around each KVM_RUN, read by the main thread. */
enum vcpu_place { VCPU_NOT_STARTED, VCPU_IN_GUEST, VCPU_IN_EXIT, VCPU_PARKED };

struct vcpu {
    struct vm *vm;
    int index;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool thread_started;
    _Atomic int place;                /* enum vcpu_place */
    _Atomic uint64_t place_since_ns;  /* CLOCK_MONOTONIC_COARSE */
    _Atomic uint64_t exit_count;
    _Atomic uint32_t last_exit_reason;
    _Atomic uint64_t last_exit_address; /* the port or MMIO address of an I/O exit */
    _Atomic long thread_id; /* the vCPU thread's Linux thread id, once it runs */

    /* Pausing (under vm->pause_lock): held keeps this vCPU parked while the
     * others run (a debugger stepping one thread); the last debug exit
     * (breakpoint, single step, watchpoint) waits here for the controller. */
    bool held;
    bool parked;
    bool io_pending; /* an I/O exit KVM completes on the next KVM_RUN */
    bool has_debug_exit;
    struct kvm_debug_exit_arch debug_exit;
};

struct vm {
    int kvm_fd;
    int vm_fd;
    int vcpu_mmap_size;
    struct guest_memory memory;
    struct bus pio_bus;
    struct bus mmio_bus;
    int cpu_count;
    struct vcpu *vcpus;
    struct kvm_cpuid2 *supported_cpuid;
    char host_brand[48]; /* the host CPU's name, given to the guest's CPUID */
    bool has_host_brand;

    /* Stopping: the first request wins and sets the exit status. */
    atomic_bool stopping;
    int exit_status;
    int stop_event_fd; /* becomes readable once a stop is requested */

    /* Pausing, for a debugger or the control socket: every vCPU out of
     * KVM_RUN and parked; paused_event_fd becomes readable once all are.
     * The guest's clock stands still meanwhile. */
    pthread_mutex_t pause_lock;
    pthread_cond_t pause_changed;
    atomic_bool pause_requested;
    int parked_count;
    int paused_event_fd;
    bool clock_saved;
    struct kvm_clock_data paused_clock;
};

/* Largest vCPU count KVM allows on this host. */
int vm_max_cpus(int kvm_fd);

/* Opens /dev/kvm (or $GUEST_KVM_DEVICE), checks the API, and reports how
 * many vCPUs KVM allows. */
int vm_open_kvm(int *kvm_fd, struct error *error);

int vm_create(struct vm *vm, int kvm_fd, uint64_t memory_size, int cpu_count,
              struct error *error);
void vm_destroy(struct vm *vm);

/* Sets an ISA/IOAPIC interrupt line's level. */
void vm_set_irq_line(struct vm *vm, unsigned irq, int level);

/* Asks the VM to stop with exit_status; safe from any thread, first one wins. */
void vm_request_stop(struct vm *vm, int exit_status);

/* Asks every vCPU to park (safe from any thread, and again while pausing);
 * paused_event_fd is written once the last one has.  With start_paused
 * before vm_run, no guest instruction runs until vm_resume. */
void vm_pause(struct vm *vm);
/* Whether every vCPU is parked (the state of a paused VM may be read and
 * changed from another thread then). */
bool vm_is_paused(struct vm *vm);
/* Lets the vCPUs run again, all of them, or with hold[i] those that stay
 * parked; the guest's clock goes on from where it stood. */
void vm_resume(struct vm *vm, const bool *hold);
/* Takes cpu's debug exit recorded since the pause, if there is one. */
bool vm_take_debug_exit(struct vm *vm, int cpu, struct kvm_debug_exit_arch *exit);

/* Guest-virtual memory as cpu's page tables map it (KVM_TRANSLATE a page at
 * a time, then the checked guest memory map: never outside guest RAM), read
 * into read_into or written from write_from; returns the bytes done from
 * the start, fewer at the first page not mapped or not RAM.  The vCPU must
 * not be running (parked, or its thread stopped). */
size_t vm_access_virtual(struct vm *vm, int cpu, uint64_t address, void *read_into,
                         const void *write_from, size_t length);
/* KVM_MP_STATE_* as words. */
const char *vm_mp_state_name(uint32_t mp_state);

/* Puts the boot vCPU in the entry state, starts every vCPU thread, waits for
 * a stop (or a terminating signal in the blocked set), and returns the exit status. */
int vm_run(struct vm *vm, const struct boot_entry *entry, struct error *error);
/* The signal that kicks a vCPU out of KVM_RUN; its handler (installed by
 * vm_run, without SA_RESTART) does nothing, so sent to another thread after
 * vm_run it makes a blocked system call fail with EINTR. */
int vm_kick_signal(void);

#endif
