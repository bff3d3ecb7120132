/* Linux on x86: the bzImage boot protocol (Documentation/arch/x86/boot.rst),
 * entered at the 64-bit entry point, and the default command line. */
#ifndef GUEST_BOOT_LINUX_H
#define GUEST_BOOT_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "x86/e820.h"

struct bzimage_info {
    uint16_t protocol_version; /* e.g. 0x020f */
    uint8_t loadflags;
    uint16_t xloadflags;
    size_t setup_size;    /* bytes before the protected-mode kernel */
    size_t kernel_size;   /* bytes of protected-mode kernel in the file */
    size_t header_end;    /* end of the setup header to copy into the zero page */
    uint64_t load_address;
    uint64_t init_size; /* memory the kernel needs from load_address while booting */
    uint32_t initrd_address_max;
    uint32_t cmdline_size; /* longest command line, without the NUL */
    bool relocatable;
};

/* True when the image carries the bzImage header magic. */
bool bzimage_is_bzimage(const uint8_t *image, size_t size);

/* Checks the setup header; fills info or returns -1 with a message that
 * names what is wrong (the caller prefixes the file name). */
int bzimage_parse(const uint8_t *image, size_t size, struct bzimage_info *info,
                  struct error *error);

/* Loads the kernel and initrd, writes the zero page and command line, and
 * says where to enter. */
int bzimage_load(const struct bzimage_info *info, const struct boot_config *config,
                 const struct guest_memory *memory, struct boot_entry *entry,
                 struct error *error);

/* The command line the guest gets: our serial-console defaults, then the
 * user's; a user console= replaces our console settings.  Returns -1 if it
 * does not fit in size bytes. */
int linux_compose_cmdline(const char *user, char *out, size_t size);

#define LINUX_SERIAL_CONSOLE "console=ttyS0,115200"
#define LINUX_VIRTIO_CONSOLE "console=hvc0"
/* The same with another default console= (e.g. LINUX_VIRTIO_CONSOLE). */
int linux_compose_cmdline_with_console(const char *user, const char *console, char *out,
                                       size_t size);

#endif
