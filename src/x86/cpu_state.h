/* The boot vCPU's starting state: GDT, identity page tables, segment and
 * control registers for the mode the kernel's boot protocol asks for. */
#ifndef GUEST_X86_CPU_STATE_H
#define GUEST_X86_CPU_STATE_H

#include "boot/boot.h"

/* Writes the boot GDT and the 4 GiB identity map into guest memory. */
int cpu_state_write_boot_tables(const struct guest_memory *memory, struct error *error);

/* Puts vcpu_fd into the entry state the boot protocol describes. */
int cpu_state_set_boot(int vcpu_fd, const struct boot_entry *entry, struct error *error);

/* IA32_MTRR_DEF_TYPE enabled with write-back as the default type, as
 * firmware leaves it: with MTRRs all off Linux also turns PAT off (no
 * write-combining). */
int cpu_state_set_mtrr_default(int vcpu_fd, struct error *error);

/* LINT0 as ExtINT and LINT1 as NMI, as firmware leaves a PC's local APIC. */
int cpu_state_set_local_apic_lints(int vcpu_fd, struct error *error);

#endif
