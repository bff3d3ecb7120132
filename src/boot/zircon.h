/* Zircon on x86-64: a kernel ZBI (or seed-era bootdata) image, whose first
 * item is the kernel, loaded at 1 MiB; a second container built behind it
 * from the user's ramdisk container (-r), any items that followed the
 * kernel in its own file, and items describing the machine (command line,
 * E820 memory map, ACPI RSDP, the serial port); entered in 64-bit mode with
 * %rsi holding that container's physical address. */
#ifndef GUEST_BOOT_ZIRCON_H
#define GUEST_BOOT_ZIRCON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "boot/zbi.h"

/* What the original tool put before the user's command line. */
#define ZIRCON_CMDLINE_PREFIX "TERM=uart"

/* True when the file starts with a ZBI container header: it is then a
 * Zircon image, and any problem in it is reported as such. */
bool zircon_is_zbi(const uint8_t *image, size_t size);

int zircon_parse(const uint8_t *image, size_t size, struct zbi_kernel_info *info,
                 struct error *error);

int zircon_load(const struct zbi_kernel_info *info, const struct boot_config *config,
                const struct guest_memory *memory, struct boot_entry *entry, struct error *error);

#endif
