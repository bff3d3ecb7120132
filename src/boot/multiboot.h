/* Multiboot (version 1, specification 0.6.96) kernels: the header in the
 * first 8 KiB, loaded from ELF program headers or from the header's own
 * address fields (the "a.out kludge"), entered in 32-bit protected mode with
 * a multiboot_info structure.  `-c` becomes the command line and `-r` the
 * first module. */
#ifndef GUEST_BOOT_MULTIBOOT_H
#define GUEST_BOOT_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"

#define MULTIBOOT_HEADER_MAGIC 0x1badb002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u /* in EAX at entry */
#define MULTIBOOT_SEARCH_LENGTH 8192
#define MULTIBOOT_MAX_SEGMENTS 16

/* Header flags.  Bits 0-15 are requirements a loader must meet or refuse. */
#define MULTIBOOT_FLAG_PAGE_ALIGN_MODULES (1u << 0)
#define MULTIBOOT_FLAG_MEMORY_INFO (1u << 1)
#define MULTIBOOT_FLAG_VIDEO_MODE (1u << 2)
#define MULTIBOOT_FLAG_ADDRESS_FIELDS (1u << 16)

/* multiboot_info flags: which fields are valid. */
#define MULTIBOOT_INFO_MEMORY (1u << 0)
#define MULTIBOOT_INFO_CMDLINE (1u << 2)
#define MULTIBOOT_INFO_MODULES (1u << 3)
#define MULTIBOOT_INFO_MEMORY_MAP (1u << 6)
#define MULTIBOOT_INFO_BOOT_LOADER_NAME (1u << 9)

struct multiboot_segment {
    uint64_t file_offset;
    uint64_t file_size;
    uint64_t physical_address;
    uint64_t memory_size; /* >= file_size; the rest is zeroed */
};

struct multiboot_info_parsed {
    uint32_t header_offset; /* where the header was found in the file */
    uint32_t header_flags;
    bool from_address_fields; /* a.out kludge rather than ELF */
    uint32_t entry;
    struct multiboot_segment segments[MULTIBOOT_MAX_SEGMENTS];
    int segment_count;
    uint64_t image_start; /* lowest physical address loaded */
    uint64_t image_end;   /* highest physical address loaded or zeroed */
};

/* True when a valid multiboot header (magic and checksum) lies in the
 * first 8 KiB, 4-byte aligned. */
bool multiboot_has_header(const uint8_t *image, size_t size);

/* Checks the header and how the image is to be loaded: every range inside
 * the file, every address below 4 GiB and clear of what the guest uses
 * (the multiboot_info page at 0x7000, the EBDA and BIOS area from 0x9fc00
 * to 1 MiB, the hole below 4 GiB); a kernel may load below 1 MiB. */
int multiboot_parse(const uint8_t *image, size_t size, struct multiboot_info_parsed *info,
                    struct error *error);

/* Loads the image and the module, writes multiboot_info, the memory map
 * and the command line (config->user_cmdline, after the kernel's name as
 * GRUB and QEMU do), and says where to enter. */
int multiboot_load(const struct multiboot_info_parsed *info, const struct boot_config *config,
                   const struct guest_memory *memory, struct boot_entry *entry,
                   struct error *error);

#endif
