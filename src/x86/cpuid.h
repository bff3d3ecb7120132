/* CPUID for the guest: what KVM supports, with the topology of N vCPUs
 * (one thread per core, N cores in one package) written in. */
#ifndef GUEST_X86_CPUID_H
#define GUEST_X86_CPUID_H

#include <linux/kvm.h>

#include "error.h"

/* Room left after KVM's entries for leaves the topology adds. */
#define CPUID_SPARE_ENTRIES 8

/* Reads KVM_GET_SUPPORTED_CPUID into a malloc'd table with spare room. */
struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd, struct error *error);

struct cpuid_platform {
    int cpu_count;
    /* KVM's local APIC implements the TSC-deadline timer
     * (KVM_CAP_TSC_DEADLINE_TIMER), which KVM_GET_SUPPORTED_CPUID leaves out. */
    int tsc_deadline_timer;
};

/* Copies base and rewrites it for vCPU cpu_index (its APIC id is cpu_index).
 * destination needs base->nent + CPUID_SPARE_ENTRIES entries. */
void cpuid_for_vcpu(const struct kvm_cpuid2 *base, struct kvm_cpuid2 *destination,
                    int cpu_index, const struct cpuid_platform *platform);

#endif
