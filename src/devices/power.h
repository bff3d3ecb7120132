/* Ways a guest ends: the ACPI hardware-reduced sleep control register (S5 =
 * poweroff), the ACPI reset register, and the 8042 keyboard controller's
 * reset command (the legacy reboot path).  Each ends the VM with its status. */
#ifndef GUEST_DEVICES_POWER_H
#define GUEST_DEVICES_POWER_H

#include <stdint.h>

#define I8042_DATA_PORT 0x60
#define I8042_COMMAND_PORT 0x64

/* The power button: a hardware-reduced platform has no fixed one, so the
 * DSDT describes a Generic Event Device (ACPI0013) on this interrupt, whose
 * _EVT notifies a PNP0C0C button; pressing it is an edge on the line. */
#define POWER_BUTTON_GSI 9

struct power {
    void (*stop)(void *opaque, int exit_status);
    void *opaque;
};

/* Ports LAYOUT_ACPI_SLEEP_CONTROL_PORT .. LAYOUT_ACPI_RESET_PORT (3 bytes). */
void power_acpi_read(void *power, uint64_t offset, void *data, unsigned length);
void power_acpi_write(void *power, uint64_t offset, const void *data, unsigned length);

/* The 8042 at 0x60 and 0x64 (each registered with length 1). */
void power_i8042_read(void *power, uint64_t offset, void *data, unsigned length);
void power_i8042_command_write(void *power, uint64_t offset, const void *data, unsigned length);

#endif
