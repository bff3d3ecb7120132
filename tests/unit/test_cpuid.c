/* The guest's CPUID topology: N vCPUs as N cores of one package, each with
 * its own APIC id, written over a hand-made "supported" table. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "x86/cpuid.h"

#define SIGNIFICANT KVM_CPUID_FLAG_SIGNIFCANT_INDEX

static const struct kvm_cpuid_entry2 base_entries[] = {
    {.function = 0x0, .eax = 0x1f, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
    {.function = 0x1, .eax = 0x000906ea, .ebx = 0x12340800, .ecx = 0x7efafbff, .edx = 0x0fabfbff},
    /* Leaf 4: an L1 data cache and an L3, with the host's sharing bits set. */
    {.function = 0x4, .index = 0, .flags = SIGNIFICANT, .eax = 0xfc004121, .ebx = 0x01c0003f,
     .ecx = 0x3f, .edx = 0},
    {.function = 0x4, .index = 1, .flags = SIGNIFICANT, .eax = 0xfc03c163, .ebx = 0x03c0003f,
     .ecx = 0x3fff, .edx = 6},
    {.function = 0x4, .index = 2, .flags = SIGNIFICANT, .eax = 0, .ebx = 0, .ecx = 0, .edx = 0},
    /* The host's topology leaves, which must not leak through. */
    {.function = 0xb, .index = 0, .flags = SIGNIFICANT, .eax = 1, .ebx = 2, .ecx = 0x100,
     .edx = 7},
    {.function = 0xb, .index = 1, .flags = SIGNIFICANT, .eax = 5, .ebx = 12, .ecx = 0x201,
     .edx = 7},
    {.function = 0x1f, .index = 0, .flags = SIGNIFICANT, .eax = 1, .ebx = 2, .ecx = 0x100},
    {.function = 0x1f, .index = 1, .flags = SIGNIFICANT, .eax = 5, .ebx = 12, .ecx = 0x201},
    {.function = 0x80000000, .eax = 0x8000001e},
    {.function = 0x80000001, .ecx = 0x00000123, .edx = 0x2c100800},
    {.function = 0x80000008, .eax = 0x3030, .ecx = 0x0000f00f},
    {.function = 0x8000001e, .eax = 0x55, .ebx = 0x0107, .ecx = 0x0302},
};
#define BASE_COUNT (sizeof(base_entries) / sizeof(base_entries[0]))

static struct kvm_cpuid2 *make_table(size_t entries)
{
    struct kvm_cpuid2 *table =
        calloc(1, sizeof(*table) + entries * sizeof(struct kvm_cpuid_entry2));
    assert_non_null(table);
    return table;
}

static struct kvm_cpuid2 *make_base(void)
{
    struct kvm_cpuid2 *base = make_table(BASE_COUNT);
    base->nent = BASE_COUNT;
    memcpy(base->entries, base_entries, sizeof(base_entries));
    return base;
}

/* The entry the guest's CPUID instruction would see for (function, index). */
static const struct kvm_cpuid_entry2 *lookup(const struct kvm_cpuid2 *table, uint32_t function,
                                             uint32_t index)
{
    const struct kvm_cpuid_entry2 *found = NULL;
    for (uint32_t i = 0; i < table->nent; i++) {
        const struct kvm_cpuid_entry2 *entry = &table->entries[i];
        if (entry->function != function)
            continue;
        if ((entry->flags & SIGNIFICANT) && entry->index != index)
            continue;
        if (found)
            fail_msg("two entries for leaf 0x%x subleaf %u", function, index);
        found = entry;
    }
    return found;
}

static unsigned order(unsigned count)
{
    unsigned bits = 0;
    while ((1u << bits) < count)
        bits++;
    return bits;
}

static void vcpu_table(const struct kvm_cpuid2 *base, struct kvm_cpuid2 *table, int index,
                       int count, int tsc_deadline_timer)
{
    struct cpuid_platform platform = {.cpu_count = count,
                                      .tsc_deadline_timer = tsc_deadline_timer};
    cpuid_for_vcpu(base, table, index, &platform);
}

static void check_vcpu(const struct kvm_cpuid2 *base, int index, int count)
{
    struct kvm_cpuid2 *table = make_table(base->nent + CPUID_SPARE_ENTRIES);
    vcpu_table(base, table, index, count, 0);
    assert_true(table->nent <= base->nent + CPUID_SPARE_ENTRIES);

    /* Leaf 1: APIC id, logical processor count, HTT, hypervisor. */
    const struct kvm_cpuid_entry2 *leaf1 = lookup(table, 1, 0);
    assert_non_null(leaf1);
    assert_int_equal(leaf1->ebx >> 24, index);
    unsigned logical = 1u << order(count);
    assert_int_equal((leaf1->ebx >> 16) & 0xff, logical > 255 ? 255 : logical);
    assert_int_equal(leaf1->ebx & 0xffff, 0x0800); /* brand, CLFLUSH size kept */
    assert_int_equal(leaf1->eax, 0x000906ea);
    assert_true(leaf1->ecx & (1u << 31));
    assert_int_equal(leaf1->ecx & 0x7fffffff, 0x7efafbff); /* no TSC deadline unless asked */
    assert_int_equal(!!(leaf1->edx & (1u << 28)), count > 1);

    /* Leaf 4: cores per package and L3 sharing follow N; the type bits stay. */
    const struct kvm_cpuid_entry2 *l1d = lookup(table, 4, 0);
    const struct kvm_cpuid_entry2 *l3 = lookup(table, 4, 1);
    assert_non_null(l1d);
    assert_non_null(l3);
    assert_int_equal(l1d->eax & 0x3fff, 0x0121);
    assert_int_equal(l3->eax & 0x3fff, 0x0163);
    int cores_field = count - 1 > 63 ? 63 : count - 1; /* six bits */
    assert_int_equal(l1d->eax >> 26, cores_field);
    assert_int_equal(l3->eax >> 26, cores_field);
    assert_int_equal((l1d->eax >> 14) & 0xfff, 0);         /* L1: private to the core */
    assert_int_equal((l3->eax >> 14) & 0xfff, count - 1); /* L3: shared by all */
    assert_int_equal(l1d->ebx, 0x01c0003f);
    assert_int_equal(lookup(table, 4, 2)->eax, 0); /* the terminating subleaf untouched */

    /* Leaf 0xb: SMT level then core level, x2APIC id in EDX. */
    const struct kvm_cpuid_entry2 *smt = lookup(table, 0xb, 0);
    const struct kvm_cpuid_entry2 *core = lookup(table, 0xb, 1);
    const struct kvm_cpuid_entry2 *end = lookup(table, 0xb, 2);
    assert_non_null(smt);
    assert_non_null(core);
    assert_non_null(end);
    assert_int_equal(smt->eax & 0x1f, 0);
    assert_int_equal(smt->ebx & 0xffff, 1);
    assert_int_equal((smt->ecx >> 8) & 0xff, 1);
    assert_int_equal(smt->ecx & 0xff, 0);
    assert_int_equal(smt->edx, index);
    assert_int_equal(core->eax & 0x1f, order(count));
    assert_int_equal(core->ebx & 0xffff, count);
    assert_int_equal((core->ecx >> 8) & 0xff, 2);
    assert_int_equal(core->ecx & 0xff, 1);
    assert_int_equal(core->edx, index);
    assert_int_equal((end->ecx >> 8) & 0xff, 0); /* invalid level: the list ends */
    assert_int_equal(end->ebx & 0xffff, 0);
    assert_true(end->flags & SIGNIFICANT);

    /* Leaf 0x1f is gone, every subleaf of it. */
    for (uint32_t i = 0; i < table->nent; i++)
        assert_int_not_equal(table->entries[i].function, 0x1f);

    /* AMD: CMP_LEGACY, core count, extended APIC id. */
    const struct kvm_cpuid_entry2 *amd = lookup(table, 0x80000001, 0);
    assert_int_equal(!!(amd->ecx & 2), count > 1);
    assert_int_equal(amd->ecx & ~2u, 0x121);
    const struct kvm_cpuid_entry2 *sizes = lookup(table, 0x80000008, 0);
    assert_int_equal(sizes->ecx & 0xff, count - 1);
    assert_int_equal((sizes->ecx >> 12) & 0xf, order(count));
    assert_int_equal(sizes->ecx & 0xffff0f00, 0x00000000);
    assert_int_equal(sizes->eax, 0x3030);
    const struct kvm_cpuid_entry2 *topology = lookup(table, 0x8000001e, 0);
    assert_int_equal(topology->eax, index);
    assert_int_equal(topology->ebx & 0xff, index);
    assert_int_equal((topology->ebx >> 8) & 0xff, 0); /* one thread per core */

    /* Leaves the topology does not concern are copied as they are. */
    assert_memory_equal(lookup(table, 0, 0), &base_entries[0], sizeof(base_entries[0]));
    assert_memory_equal(lookup(table, 0x80000000, 0), &base_entries[9], sizeof(base_entries[0]));
    free(table);
}

static void test_topologies(void **state)
{
    (void)state;
    struct kvm_cpuid2 *base = make_base();
    static const int counts[] = {1, 2, 3, 4, 5, 8, 64, 255};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++)
        for (int index = 0; index < counts[c]; index++)
            check_vcpu(base, index, counts[c]);
    /* The base table is left as it was. */
    assert_int_equal(base->nent, BASE_COUNT);
    assert_memory_equal(base->entries, base_entries, sizeof(base_entries));
    free(base);
}

static void test_many_cpus_caps(void **state)
{
    (void)state;
    struct kvm_cpuid2 *base = make_base();
    struct kvm_cpuid2 *table = make_table(base->nent + CPUID_SPARE_ENTRIES);
    vcpu_table(base, table, 200, 255, 0);
    assert_int_equal((lookup(table, 1, 0)->ebx >> 16) & 0xff, 255);
    assert_int_equal(lookup(table, 4, 0)->eax >> 26, 63);
    assert_int_equal(lookup(table, 0xb, 1)->edx, 200);
    free(table);
    free(base);
}

/* A table without the host topology leaves: 0xb is added in the spare room. */
static void test_sparse_table(void **state)
{
    (void)state;
    struct kvm_cpuid2 *base = make_table(2);
    base->nent = 2;
    base->entries[0] = base_entries[0];
    base->entries[1] = base_entries[1];
    struct kvm_cpuid2 *table = make_table(base->nent + CPUID_SPARE_ENTRIES);
    vcpu_table(base, table, 2, 4, 0);
    assert_int_equal(table->nent, 5);
    assert_int_equal(lookup(table, 0xb, 0)->edx, 2);
    assert_int_equal(lookup(table, 0xb, 1)->ebx & 0xffff, 4);
    assert_null(lookup(table, 0x80000008, 0));
    assert_int_equal(lookup(table, 1, 0)->ebx >> 24, 2);
    free(table);
    free(base);
}

/* KVM's LAPIC has the TSC-deadline timer: leaf 1 ECX bit 24 says so. */
static void test_tsc_deadline_timer(void **state)
{
    (void)state;
    struct kvm_cpuid2 *base = make_base();
    struct kvm_cpuid2 *table = make_table(base->nent + CPUID_SPARE_ENTRIES);
    vcpu_table(base, table, 0, 2, 1);
    const struct kvm_cpuid_entry2 *leaf1 = lookup(table, 1, 0);
    assert_true(leaf1->ecx & (1u << 24));
    assert_true(leaf1->ecx & (1u << 31));
    assert_int_equal(leaf1->ecx & ~((1u << 24) | (1u << 31)), 0x7efafbff);
    vcpu_table(base, table, 1, 2, 0);
    assert_false(lookup(table, 1, 0)->ecx & (1u << 24));
    free(table);
    free(base);
}

/* The brand leaves carry the host's name, zero-padded, and the extended
 * maximum leaf covers them even where KVM's table stops short. */
static void check_brand(struct kvm_cpuid2 *base)
{
    char brand[CPUID_BRAND_LENGTH] = "Example CPU @ 3.00GHz";
    struct kvm_cpuid2 *table = make_table(base->nent + CPUID_SPARE_ENTRIES);
    struct cpuid_platform platform = {.cpu_count = 2, .brand = brand};
    cpuid_for_vcpu(base, table, 1, &platform);
    assert_true(table->nent <= base->nent + CPUID_SPARE_ENTRIES);
    char seen[CPUID_BRAND_LENGTH];
    for (unsigned leaf = 0; leaf < 3; leaf++) {
        const struct kvm_cpuid_entry2 *entry = lookup(table, 0x80000002 + leaf, 0);
        assert_non_null(entry);
        uint32_t words[4] = {entry->eax, entry->ebx, entry->ecx, entry->edx};
        memcpy(seen + leaf * 16, words, 16);
    }
    assert_memory_equal(seen, brand, CPUID_BRAND_LENGTH);
    const struct kvm_cpuid_entry2 *extended = lookup(table, 0x80000000, 0);
    assert_non_null(extended);
    assert_true(extended->eax >= 0x80000004);
    free(table);
}

static void test_brand_string(void **state)
{
    (void)state;
    struct kvm_cpuid2 *base = make_base();
    /* KVM's zeroed brand leaves are replaced, not duplicated (lookup fails on two). */
    struct kvm_cpuid2 *with_zeros = make_table(BASE_COUNT + 3);
    memcpy(with_zeros, base, sizeof(*base) + BASE_COUNT * sizeof(base->entries[0]));
    for (unsigned leaf = 0; leaf < 3; leaf++)
        with_zeros->entries[BASE_COUNT + leaf] =
            (struct kvm_cpuid_entry2){.function = 0x80000002 + leaf};
    with_zeros->nent = BASE_COUNT + 3;
    check_brand(base);
    check_brand(with_zeros);
    /* The maximum is kept where it is above the brand leaves. */
    struct kvm_cpuid2 *table = make_table(base->nent + CPUID_SPARE_ENTRIES);
    char brand[CPUID_BRAND_LENGTH] = "x";
    struct cpuid_platform platform = {.cpu_count = 1, .brand = brand};
    cpuid_for_vcpu(base, table, 0, &platform);
    assert_int_equal(lookup(table, 0x80000000, 0)->eax, 0x8000001e);
    /* Without a brand nothing is added. */
    platform.brand = NULL;
    cpuid_for_vcpu(base, table, 0, &platform);
    assert_null(lookup(table, 0x80000002, 0));
    free(table);
    free(with_zeros);

    /* A table whose extended leaves stop at 0x80000001 is raised to 4. */
    struct kvm_cpuid2 *short_table = make_table(2);
    short_table->nent = 2;
    short_table->entries[0] = base_entries[1];
    short_table->entries[1] = (struct kvm_cpuid_entry2){.function = 0x80000000, .eax = 0x80000001};
    check_brand(short_table);
    /* And one with no extended leaves at all gets the maximum leaf. */
    short_table->nent = 1;
    check_brand(short_table);
    free(short_table);
    free(base);
}

/* Leaf 1 keeps the MTRR bit (EDX 12): Linux reads the MTRRs we set at entry only if it is there. */
static void test_mtrr_feature_kept(void **state)
{
    (void)state;
    struct kvm_cpuid2 *base = make_base();
    struct kvm_cpuid2 *table = make_table(base->nent + CPUID_SPARE_ENTRIES);
    vcpu_table(base, table, 0, 1, 0);
    assert_true(lookup(table, 1, 0)->edx & (1u << 12));
    free(table);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topologies),
        cmocka_unit_test(test_many_cpus_caps),
        cmocka_unit_test(test_sparse_table),
        cmocka_unit_test(test_tsc_deadline_timer),
        cmocka_unit_test(test_brand_string),
        cmocka_unit_test(test_mtrr_feature_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
