#include "devices/power.h"

#include <string.h>

#include "exit_status.h"
#include "x86/layout.h"

#define SLEEP_ENABLE 0x20
#define SLEEP_TYPE_SHIFT 2
#define SLEEP_TYPE_MASK 0x7
#define I8042_COMMAND_PULSE_RESET 0xfe

void power_acpi_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    (void)opaque;
    (void)offset;
    memset(data, 0, length); /* sleep status: never woken, never sleeping */
}

void power_acpi_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct power *power = opaque;
    uint8_t value = ((const uint8_t *)data)[0];
    (void)length;
    uint64_t port = LAYOUT_ACPI_SLEEP_CONTROL_PORT + offset;
    if (port == LAYOUT_ACPI_SLEEP_CONTROL_PORT && (value & SLEEP_ENABLE) &&
        ((value >> SLEEP_TYPE_SHIFT) & SLEEP_TYPE_MASK) == LAYOUT_ACPI_S5_SLEEP_TYPE)
        power->stop(power->opaque, GUEST_EXIT_POWEROFF);
    else if (port == LAYOUT_ACPI_RESET_PORT && value == LAYOUT_ACPI_RESET_VALUE)
        power->stop(power->opaque, GUEST_EXIT_REBOOT);
}

void power_i8042_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    (void)opaque;
    (void)offset;
    /* Status 0: no output byte waiting, input buffer empty, so a guest that
     * waits for the controller before sending the reset command goes on. */
    memset(data, 0, length);
}

void power_i8042_command_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct power *power = opaque;
    (void)offset;
    (void)length;
    if (((const uint8_t *)data)[0] == I8042_COMMAND_PULSE_RESET)
        power->stop(power->opaque, GUEST_EXIT_REBOOT);
}
