#include "x86/cpuid.h"

#include <cpuid.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_LEAF_FEATURES 0x1
#define CPUID_LEAF_CACHE 0x4
#define CPUID_LEAF_TOPOLOGY 0xb
#define CPUID_LEAF_TOPOLOGY_V2 0x1f
#define CPUID_LEAF_EXTENDED_MAX 0x80000000
#define CPUID_LEAF_AMD_FEATURES 0x80000001
#define CPUID_LEAF_BRAND_FIRST 0x80000002
#define CPUID_LEAF_BRAND_LAST 0x80000004
#define CPUID_LEAF_AMD_SIZES 0x80000008
#define CPUID_LEAF_AMD_TOPOLOGY 0x8000001e

#define FEATURE_EDX_HTT (1u << 28)
#define FEATURE_ECX_HYPERVISOR (1u << 31)
#define FEATURE_ECX_TSC_DEADLINE (1u << 24)
#define AMD_ECX_CMP_LEGACY (1u << 1)

#define TOPOLOGY_LEVEL_SMT 1
#define TOPOLOGY_LEVEL_CORE 2

struct kvm_cpuid2 *cpuid_get_supported(int kvm_fd, struct error *error)
{
    for (unsigned capacity = 64; capacity <= 4096; capacity *= 2) {
        struct kvm_cpuid2 *cpuid = calloc(1, sizeof(*cpuid) + (capacity + CPUID_SPARE_ENTRIES) *
                                                                  sizeof(struct kvm_cpuid_entry2));
        if (!cpuid) {
            error_set(error, "out of memory for CPUID");
            return NULL;
        }
        cpuid->nent = capacity;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
            return cpuid;
        int saved = errno;
        free(cpuid);
        if (saved != E2BIG) {
            error_set(error, "KVM_GET_SUPPORTED_CPUID: %s", strerror(saved));
            return NULL;
        }
    }
    error_set(error, "KVM_GET_SUPPORTED_CPUID: too many entries");
    return NULL;
}

static unsigned bits_for(unsigned count)
{
    unsigned bits = 0;
    while ((1u << bits) < count)
        bits++;
    return bits;
}

const struct kvm_cpuid_entry2 *cpuid_lookup(const struct kvm_cpuid2 *cpuid, uint32_t function,
                                            uint32_t index)
{
    for (uint32_t i = 0; i < cpuid->nent; i++)
        if (cpuid->entries[i].function == function &&
            (!(cpuid->entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
             cpuid->entries[i].index == index))
            return &cpuid->entries[i];
    return NULL;
}

/* The same, for the table being rewritten. */
static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *cpuid, uint32_t function,
                                           uint32_t index)
{
    return (struct kvm_cpuid_entry2 *)cpuid_lookup(cpuid, function, index);
}

static void cpuid_remove(struct kvm_cpuid2 *cpuid, uint32_t function)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < cpuid->nent; i++)
        if (cpuid->entries[i].function != function)
            cpuid->entries[kept++] = cpuid->entries[i];
    cpuid->nent = kept;
}

static void cpuid_write_topology_leaf(struct kvm_cpuid2 *cpuid, unsigned subleaf, uint32_t eax,
                                      uint32_t ebx, uint32_t ecx, uint32_t edx)
{
    struct kvm_cpuid_entry2 *entry = NULL;
    for (uint32_t i = 0; i < cpuid->nent; i++)
        if (cpuid->entries[i].function == CPUID_LEAF_TOPOLOGY && cpuid->entries[i].index == subleaf)
            entry = &cpuid->entries[i];
    if (!entry)
        entry = &cpuid->entries[cpuid->nent++];
    *entry = (struct kvm_cpuid_entry2){.function = CPUID_LEAF_TOPOLOGY, .index = subleaf,
                                       .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
                                       .eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx};
}

int cpuid_read_host_brand(char brand[CPUID_BRAND_LENGTH])
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(CPUID_LEAF_EXTENDED_MAX, &eax, &ebx, &ecx, &edx) ||
        eax < CPUID_LEAF_BRAND_LAST)
        return 0;
    for (unsigned leaf = 0; leaf < 3; leaf++) {
        uint32_t words[4];
        __cpuid(CPUID_LEAF_BRAND_FIRST + leaf, words[0], words[1], words[2], words[3]);
        memcpy(brand + leaf * 16, words, 16);
    }
    return brand[0] != 0;
}

/* A leaf without subleaves: rewritten in place, or appended. */
static void cpuid_write_leaf(struct kvm_cpuid2 *cpuid, uint32_t function, const uint32_t words[4])
{
    struct kvm_cpuid_entry2 *entry = cpuid_find(cpuid, function, 0);
    if (!entry)
        entry = &cpuid->entries[cpuid->nent++];
    *entry = (struct kvm_cpuid_entry2){.function = function, .eax = words[0], .ebx = words[1],
                                       .ecx = words[2], .edx = words[3]};
}

static void cpuid_write_brand(struct kvm_cpuid2 *cpuid, const char *brand)
{
    for (unsigned leaf = 0; leaf < 3; leaf++) {
        uint32_t words[4];
        memcpy(words, brand + leaf * 16, 16);
        cpuid_write_leaf(cpuid, CPUID_LEAF_BRAND_FIRST + leaf, words);
    }
    /* The guest reads the brand leaves only if the extended maximum covers them. */
    struct kvm_cpuid_entry2 *extended = cpuid_find(cpuid, CPUID_LEAF_EXTENDED_MAX, 0);
    if (extended) {
        if (extended->eax < CPUID_LEAF_BRAND_LAST)
            extended->eax = CPUID_LEAF_BRAND_LAST;
    } else {
        const uint32_t words[4] = {CPUID_LEAF_BRAND_LAST, 0, 0, 0};
        cpuid_write_leaf(cpuid, CPUID_LEAF_EXTENDED_MAX, words);
    }
}

void cpuid_for_vcpu(const struct kvm_cpuid2 *base, struct kvm_cpuid2 *cpuid, int cpu_index,
                    const struct cpuid_platform *platform)
{
    int cpu_count = platform->cpu_count;
    memcpy(cpuid, base, sizeof(*base) + base->nent * sizeof(base->entries[0]));
    uint32_t apic_id = (uint32_t)cpu_index;
    unsigned core_bits = bits_for((unsigned)cpu_count);

    struct kvm_cpuid_entry2 *features = cpuid_find(cpuid, CPUID_LEAF_FEATURES, 0);
    if (features) {
        uint32_t logical = 1u << core_bits;
        if (logical > 255)
            logical = 255;
        features->ebx = (features->ebx & 0xffff) | logical << 16 | apic_id << 24;
        if (cpu_count > 1)
            features->edx |= FEATURE_EDX_HTT;
        features->ecx |= FEATURE_ECX_HYPERVISOR;
        /* With the deadline timer Linux needs no legacy timer to calibrate
         * the local APIC timer against; a hardware-reduced PC has none. */
        if (platform->tsc_deadline_timer)
            features->ecx |= FEATURE_ECX_TSC_DEADLINE;
    }

    for (uint32_t i = 0; i < cpuid->nent; i++) {
        struct kvm_cpuid_entry2 *entry = &cpuid->entries[i];
        if (entry->function != CPUID_LEAF_CACHE || (entry->eax & 0x1f) == 0)
            continue;
        unsigned level = (entry->eax >> 5) & 7;
        uint32_t sharing = level >= 3 ? (uint32_t)cpu_count - 1 : 0;
        uint32_t cores = (uint32_t)cpu_count - 1 > 63 ? 63 : (uint32_t)cpu_count - 1;
        entry->eax = (entry->eax & 0x3fff) | (sharing & 0xfff) << 14 | cores << 26;
    }

    /* Extended topology: one thread per core, cpu_count cores. */
    cpuid_write_topology_leaf(cpuid, 0, 0, 1, 0 | TOPOLOGY_LEVEL_SMT << 8, apic_id);
    cpuid_write_topology_leaf(cpuid, 1, core_bits, (uint32_t)cpu_count,
                              1 | TOPOLOGY_LEVEL_CORE << 8, apic_id);
    cpuid_write_topology_leaf(cpuid, 2, 0, 0, 2, apic_id);
    /* Leaf 0x1f would repeat the host's topology; without it the guest reads 0xb. */
    cpuid_remove(cpuid, CPUID_LEAF_TOPOLOGY_V2);

    if (platform->brand)
        cpuid_write_brand(cpuid, platform->brand);

    struct kvm_cpuid_entry2 *amd_features = cpuid_find(cpuid, CPUID_LEAF_AMD_FEATURES, 0);
    if (amd_features) {
        if (cpu_count > 1)
            amd_features->ecx |= AMD_ECX_CMP_LEGACY;
        else
            amd_features->ecx &= ~AMD_ECX_CMP_LEGACY;
    }
    struct kvm_cpuid_entry2 *amd_sizes = cpuid_find(cpuid, CPUID_LEAF_AMD_SIZES, 0);
    if (amd_sizes)
        amd_sizes->ecx = (amd_sizes->ecx & ~0xf0ffu) | ((uint32_t)cpu_count - 1) | core_bits << 12;
    struct kvm_cpuid_entry2 *amd_topology = cpuid_find(cpuid, CPUID_LEAF_AMD_TOPOLOGY, 0);
    if (amd_topology) {
        amd_topology->eax = apic_id;
        amd_topology->ebx = apic_id & 0xff; /* core id; one thread per core */
        amd_topology->ecx = 0;              /* node 0, one node */
    }
}
