/* ACPI tables for a hardware-reduced platform: RSDP, XSDT, FADT (sleep
 * control/status and reset registers), MADT (local APICs, IOAPIC), DSDT (\_S5). */
#ifndef GUEST_X86_ACPI_H
#define GUEST_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ACPI_MAX_CPUS 255

/* Writes the tables into area, which the guest sees at area_guest_address
 * (area_size bytes), for cpu_count vCPUs with local APIC ids 0..cpu_count-1.
 * On success stores the RSDP's guest address and returns 0. */
int acpi_build_tables(uint8_t *area, uint64_t area_guest_address, size_t area_size,
                      int cpu_count, uint64_t *rsdp_guest_address, struct error *error);

/* The ACPI checksum rule: all bytes of a table sum to 0 mod 256. */
uint8_t acpi_checksum(const void *bytes, size_t length);

#endif
