/* Guest physical memory: one anonymous host mapping split into at most two
 * guest-physical regions (below the PCI hole and above 4 GiB).  Every access
 * a device or loader makes to guest memory goes through guest_memory_ptr(),
 * the one bounds-checked translation. */
#ifndef GUEST_MEMORY_H
#define GUEST_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define GUEST_MEMORY_MAX_REGIONS 2

struct guest_memory_region {
    uint64_t guest_address;
    uint64_t size;
    uint8_t *host;
};

struct guest_memory {
    uint8_t *host;       /* the whole mapping */
    uint64_t total_size; /* bytes of guest RAM */
    struct guest_memory_region regions[GUEST_MEMORY_MAX_REGIONS];
    int region_count;
};

/* Guest RAM starts on a 2 MiB boundary of the VMM's address space. */
#define GUEST_MEMORY_ALIGNMENT (2u << 20)

/* Lays out total_size bytes of RAM around the x86 hole below 4 GiB and maps
 * it (anonymous, not yet touched, 2 MiB-aligned).  Returns 0 or -1 with
 * error set. */
int guest_memory_create(struct guest_memory *memory, uint64_t total_size, struct error *error);

/* Same layout over caller-provided host memory (used by unit tests and fuzzers). */
void guest_memory_init_over(struct guest_memory *memory, uint8_t *host, uint64_t total_size);

void guest_memory_destroy(struct guest_memory *memory);

/* The host pointer for [guest_address, guest_address + length), or NULL if any
 * byte of that range is not guest RAM or the range wraps. */
void *guest_memory_ptr(const struct guest_memory *memory, uint64_t guest_address,
                       uint64_t length);

/* End of the RAM region that starts at 0 (the "low" memory the boot
 * protocols can reach with 32-bit addresses). */
uint64_t guest_memory_low_end(const struct guest_memory *memory);

#endif
