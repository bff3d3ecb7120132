/* What every kernel loader gets and produces: the files and settings to load,
 * and the CPU state to start the boot vCPU in. */
#ifndef GUEST_BOOT_BOOT_H
#define GUEST_BOOT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "memory.h"

struct boot_file {
    const char *path; /* for messages */
    const uint8_t *data; /* the whole file, for parsing (only headers get touched) */
    size_t size;
    /* When set, bulk copies into guest memory read from fd instead of data:
     * pread leaves no file pages mapped in the VMM, so they never count in
     * its resident memory. */
    bool read_from_fd;
    int fd;
};

struct boot_config {
    struct boot_file kernel;
    struct boot_file initrd; /* data == NULL when there is none */
    const char *cmdline;     /* Linux: final command line, as the guest will see it */
    const char *user_cmdline; /* what -c said, NULL when absent (Zircon, multiboot) */
    uint64_t rsdp_address;   /* guest-physical ACPI RSDP */
};

enum boot_cpu_mode {
    BOOT_CPU_MODE_LONG_64,     /* 64-bit, paging on, identity page tables */
    BOOT_CPU_MODE_PROTECTED_32 /* 32-bit flat protected mode, paging off */
};

struct boot_entry {
    enum boot_cpu_mode mode;
    uint64_t instruction_pointer;
    uint64_t rax;
    uint64_t rsi;
    uint64_t rbx;
};

/* Chooses where an initrd of initrd_size bytes goes: as high as possible
 * below limit (exclusive) and the end of low RAM, page aligned, and at or
 * above lowest.  Returns 0 with *address set, or -1 with error set. */
int boot_place_initrd(const struct guest_memory *memory, uint64_t lowest, uint64_t limit,
                      uint64_t initrd_size, const char *initrd_path, uint64_t *address,
                      struct error *error);

/* Copies file bytes [offset, offset + length) to guest_address, through the
 * checked path.  The caller has checked the range lies inside the file. */
int boot_copy_file_to_guest(const struct guest_memory *memory, uint64_t guest_address,
                            const struct boot_file *file, size_t offset, size_t length,
                            struct error *error);

/* Copies bytes into guest memory through the checked path. */
int boot_copy_to_guest(const struct guest_memory *memory, uint64_t guest_address,
                       const void *bytes, size_t length, const char *what, struct error *error);

#endif
