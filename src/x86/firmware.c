#include "x86/firmware.h"

#include "boot/boot.h"
#include "x86/layout.h"

int firmware_write_reset_vector(const struct guest_memory *memory, struct error *error)
{
    /* 16-bit real mode: mov al, RESET_VALUE; mov dx, RESET_PORT; out dx, al;
     * 1: hlt; jmp 1b */
    const uint8_t stub[] = {
        0xb0, LAYOUT_ACPI_RESET_VALUE,
        0xba, LAYOUT_ACPI_RESET_PORT & 0xff, LAYOUT_ACPI_RESET_PORT >> 8,
        0xee,
        0xf4,
        0xeb, 0xfd,
    };
    return boot_copy_to_guest(memory, LAYOUT_RESET_VECTOR, stub, sizeof(stub), "reset vector",
                              error);
}
