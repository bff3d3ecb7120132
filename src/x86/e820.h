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

#endif
