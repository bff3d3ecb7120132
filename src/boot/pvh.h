/* The uncompressed vmlinux ELF entered through its PVH note
 * (XEN_ELFNOTE_PHYS32_ENTRY) with an hvm_start_info, skipping the
 * decompressor. */
#ifndef GUEST_BOOT_PVH_H
#define GUEST_BOOT_PVH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"

#define PVH_MAX_SEGMENTS 16

struct pvh_segment {
    uint64_t file_offset;
    uint64_t file_size;
    uint64_t physical_address;
    uint64_t memory_size;
};

struct pvh_info {
    uint64_t entry; /* 32-bit physical entry point from the note */
    struct pvh_segment segments[PVH_MAX_SEGMENTS];
    int segment_count;
    uint64_t image_end; /* highest physical address any segment reaches */
};

bool elf_is_elf(const uint8_t *image, size_t size);

/* Checks an ELF64 x86-64 executable and finds its PVH entry note. */
int pvh_parse(const uint8_t *image, size_t size, struct pvh_info *info, struct error *error);

int pvh_load(const struct pvh_info *info, const struct boot_config *config,
             const struct guest_memory *memory, struct boot_entry *entry, struct error *error);

#endif
