#include "x86/cpu_state.h"

#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "x86/layout.h"

#define CR0_PE (1u << 0)
#define CR0_ET (1u << 4)
#define CR0_NE (1u << 5)
#define CR0_PG (1u << 31)
#define CR4_PAE (1u << 5)
#define EFER_LME (1u << 8)
#define EFER_LMA (1u << 10)

#define PAGE_PRESENT 0x1ULL
#define PAGE_WRITABLE 0x2ULL
#define PAGE_LARGE 0x80ULL

static const uint64_t boot_gdt[] = {
    0,                     /* null */
    0x00cf9b000000ffffULL, /* 0x08: 32-bit code, flat */
    0x00af9b000000ffffULL, /* 0x10: 64-bit code */
    0x00cf93000000ffffULL, /* 0x18: data, flat */
    0x00008b0000000067ULL, /* 0x20: TSS, busy, base 0, limit 0x67 */
    0,                     /* upper half of the TSS descriptor in long mode */
};

int cpu_state_write_boot_tables(const struct guest_memory *memory, struct error *error)
{
    if (boot_copy_to_guest(memory, LAYOUT_BOOT_GDT, boot_gdt, sizeof(boot_gdt), "boot GDT",
                           error))
        return -1;
    uint64_t *pml4 = guest_memory_ptr(memory, LAYOUT_PML4, 4096);
    uint64_t *pdpt = guest_memory_ptr(memory, LAYOUT_PDPT, 4096);
    uint64_t *directories = guest_memory_ptr(memory, LAYOUT_PAGE_DIRECTORIES, 4 * 4096);
    if (!pml4 || !pdpt || !directories)
        return error_set(error, "guest memory too small for boot page tables");
    memset(pml4, 0, 4096);
    memset(pdpt, 0, 4096);
    pml4[0] = LAYOUT_PDPT | PAGE_PRESENT | PAGE_WRITABLE;
    for (uint64_t gib = 0; gib < 4; gib++) {
        pdpt[gib] = (LAYOUT_PAGE_DIRECTORIES + gib * 4096) | PAGE_PRESENT | PAGE_WRITABLE;
        for (uint64_t entry = 0; entry < 512; entry++)
            directories[gib * 512 + entry] = (gib << 30 | entry << 21) | PAGE_PRESENT |
                                             PAGE_WRITABLE | PAGE_LARGE;
    }
    return 0;
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type, int long_mode, int big)
{
    return (struct kvm_segment){.base = 0, .limit = 0xffffffff, .selector = selector,
                                .type = type, .present = 1, .dpl = 0, .db = big, .s = 1,
                                .l = long_mode, .g = 1};
}

int cpu_state_set_boot(int vcpu_fd, const struct boot_entry *entry, struct error *error)
{
    struct kvm_sregs sregs;
    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return error_set(error, "KVM_GET_SREGS: %s", strerror(errno));

    int long_mode = entry->mode == BOOT_CPU_MODE_LONG_64;
    struct kvm_segment code =
        long_mode ? flat_segment(LAYOUT_BOOT_GDT_CODE64_SELECTOR, 0xb, 1, 0)
                  : flat_segment(LAYOUT_BOOT_GDT_CODE32_SELECTOR, 0xb, 0, 1);
    struct kvm_segment data = flat_segment(LAYOUT_BOOT_GDT_DATA_SELECTOR, 0x3, 0, 1);
    sregs.cs = code;
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
    /* A busy TSS: VMX refuses to enter with the reset-state 16-bit TR. */
    sregs.tr = (struct kvm_segment){.base = 0, .limit = 0x67,
                                    .selector = LAYOUT_BOOT_GDT_TSS_SELECTOR, .type = 0xb,
                                    .present = 1};
    sregs.gdt.base = LAYOUT_BOOT_GDT;
    sregs.gdt.limit = sizeof(boot_gdt) - 1;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;

    if (long_mode) {
        sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
        sregs.cr3 = LAYOUT_PML4;
        sregs.cr4 = CR4_PAE;
        sregs.efer = EFER_LME | EFER_LMA;
    } else {
        sregs.cr0 = CR0_PE | CR0_ET | CR0_NE;
        sregs.cr3 = 0;
        sregs.cr4 = 0;
        sregs.efer = 0;
    }
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
        return error_set(error, "KVM_SET_SREGS: %s", strerror(errno));

    struct kvm_regs regs = {.rflags = 0x2, .rip = entry->instruction_pointer,
                            .rax = entry->rax, .rsi = entry->rsi, .rbx = entry->rbx};
    if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return error_set(error, "KVM_SET_REGS: %s", strerror(errno));

    struct kvm_fpu fpu = {.fcw = 0x37f, .mxcsr = 0x1f80};
    if (ioctl(vcpu_fd, KVM_SET_FPU, &fpu) < 0)
        return error_set(error, "KVM_SET_FPU: %s", strerror(errno));
    return 0;
}

#define MSR_MTRR_DEF_TYPE 0x2ff
#define MTRR_DEF_TYPE_ENABLE (1u << 11)
#define MTRR_TYPE_WRITE_BACK 6

int cpu_state_set_mtrr_default(int vcpu_fd, struct error *error)
{
    union {
        struct kvm_msrs msrs;
        uint8_t bytes[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
    } buffer;
    memset(&buffer, 0, sizeof(buffer));
    buffer.msrs.nmsrs = 1;
    buffer.msrs.entries[0].index = MSR_MTRR_DEF_TYPE;
    buffer.msrs.entries[0].data = MTRR_DEF_TYPE_ENABLE | MTRR_TYPE_WRITE_BACK;
    int written = ioctl(vcpu_fd, KVM_SET_MSRS, &buffer.msrs);
    if (written < 0)
        return error_set(error, "KVM_SET_MSRS (MTRR default type): %s", strerror(errno));
    if (written != 1)
        return error_set(error, "KVM_SET_MSRS: KVM refused the MTRR default type");
    return 0;
}

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_DELIVERY_MODE_SHIFT 8
#define APIC_DELIVERY_NMI 4
#define APIC_DELIVERY_EXTINT 7

static void lapic_set_delivery_mode(struct kvm_lapic_state *lapic, int reg, uint32_t mode)
{
    uint32_t value;
    memcpy(&value, lapic->regs + reg, 4);
    value = (value & ~(7u << APIC_DELIVERY_MODE_SHIFT)) | mode << APIC_DELIVERY_MODE_SHIFT;
    memcpy(lapic->regs + reg, &value, 4);
}

int cpu_state_set_local_apic_lints(int vcpu_fd, struct error *error)
{
    struct kvm_lapic_state lapic;
    if (ioctl(vcpu_fd, KVM_GET_LAPIC, &lapic) < 0)
        return error_set(error, "KVM_GET_LAPIC: %s", strerror(errno));
    lapic_set_delivery_mode(&lapic, APIC_LVT0, APIC_DELIVERY_EXTINT);
    lapic_set_delivery_mode(&lapic, APIC_LVT1, APIC_DELIVERY_NMI);
    if (ioctl(vcpu_fd, KVM_SET_LAPIC, &lapic) < 0)
        return error_set(error, "KVM_SET_LAPIC: %s", strerror(errno));
    return 0;
}
