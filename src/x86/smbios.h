/* SMBIOS (DMI) tables, the firmware's description of the machine: who made
 * it, what it is, its processor and memory.  Linux, dmidecode and systemd
 * read them (/sys/class/dmi/id); without them Linux says "DMI not present
 * or invalid".  A 64-bit (SMBIOS 3.0) entry point in the BIOS area, where a
 * non-EFI Linux scans 0xf0000..0xfffff for it, and the structures after it. */
#ifndef GUEST_X86_SMBIOS_H
#define GUEST_X86_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SMBIOS_VENDOR "guest"
#define SMBIOS_PRODUCT "guest virtual machine"

struct smbios_machine {
    int cpu_count;
    uint64_t memory_size;   /* bytes of guest RAM */
    uint8_t uuid[16];       /* the system UUID, in SMBIOS byte order */
    uint32_t cpu_signature; /* CPUID leaf 1 EAX and EDX, for the processor ID */
    uint32_t cpu_features;
    const char *cpu_version; /* the processor's name (its brand string), or NULL */
};

/* Writes the entry point at area[0] (area_address must be 16-byte aligned)
 * and the structures after it; fails if they do not fit in area_size. */
int smbios_build(uint8_t *area, uint64_t area_address, size_t area_size,
                 const struct smbios_machine *machine, struct error *error);

#endif
