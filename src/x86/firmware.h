/* The little a PC's firmware must still do when there is no firmware: a
 * guest that "resets" by jumping to the BIOS entry at 0xf000:fff0 (Linux's
 * reboot fallback on a hardware-reduced platform tries EFI, then that) finds
 * code there that asks the ACPI reset register for a reboot. */
#ifndef GUEST_X86_FIRMWARE_H
#define GUEST_X86_FIRMWARE_H

#include "error.h"
#include "memory.h"

int firmware_write_reset_vector(const struct guest_memory *memory, struct error *error);

#endif
