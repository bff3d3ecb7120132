/* The guest's physical memory map, as e820 entries (Linux zero page, PVH
 * memmap, Zircon E820 item: all use this table). */
#ifndef GUEST_X86_E820_H
#define GUEST_X86_E820_H

#include <stdint.h>

#include "memory.h"

#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3

#define E820_MAX_ENTRIES 8

struct e820_entry {
    uint64_t address;
    uint64_t size;
    uint32_t type;
};

/* Fills entries (room for E820_MAX_ENTRIES) from the guest's RAM layout and
 * returns how many were written, in ascending order, never overlapping. */
int e820_build(const struct guest_memory *memory, struct e820_entry *entries);

/* The BIOS's (INT 15h E820) layout of an entry: address, size, type, as 8,
 * 8 and 4 little-endian bytes, packed.  Linux's zero page and fw_cfg's
 * etc/e820 use it. */
#define E820_BIOS_ENTRY_SIZE 20

/* Writes count entries in that layout to out (count * 20 bytes). */
void e820_write_bios_table(const struct e820_entry *entries, int count, uint8_t *out);

#endif
