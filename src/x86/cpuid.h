/* CPUID for the guest: what KVM supports, with the topology of N vCPUs
 * (one thread per core, N cores in one package) written in. */
#ifndef GUEST_X86_CPUID_H
#define GUEST_X86_CPUID_H

#include <linux/kvm.h>

#include <stdint.h>

#include "error.h"

/* Room left after KVM's entries for leaves the topology adds. */
#define CPUID_SPARE_ENTRIES 12

/* The entry for leaf function (subleaf index, where it has subleaves), or
 * NULL. */
const struct kvm_cpuid_entry2 *cpuid_lookup(const struct kvm_cpuid2 *cpuid, uint32_t function,
                                            uint32_t index);

/* Reads KVM_GET_SUPPORTED_CPUID into a malloc'd table with spare room. */
struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd, struct error *error);

struct cpuid_platform {
    int cpu_count;
    /* KVM's local APIC implements the TSC-deadline timer
     * (KVM_CAP_TSC_DEADLINE_TIMER), which KVM_GET_SUPPORTED_CPUID leaves out. */
    int tsc_deadline_timer;
    /* The 48-byte processor brand string for leaves 0x80000002..4, or NULL.
     * KVM_GET_SUPPORTED_CPUID zeroes those leaves, and Linux then names the
     * CPU by family/model ("17/01") in /proc/cpuinfo. */
    const char *brand;
};

#define CPUID_BRAND_LENGTH 48

/* The host CPU's brand string (CPUID 0x80000002..4); 0 when it has none. */
int cpuid_read_host_brand(char brand[CPUID_BRAND_LENGTH]);

/* Copies base and rewrites it for vCPU cpu_index (its APIC id is cpu_index).
 * destination needs base->nent + CPUID_SPARE_ENTRIES entries. */
void cpuid_for_vcpu(const struct kvm_cpuid2 *base, struct kvm_cpuid2 *destination,
                    int cpu_index, const struct cpuid_platform *platform);

#endif
