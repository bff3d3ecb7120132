#include "boot/zircon.h"

#include <stddef.h>
#include <string.h>

#include "x86/e820.h"
#include "x86/layout.h"

#define PAGE_SIZE 4096ULL
#define COM1_PORT 0x3f8
#define COM1_IRQ 4

bool zircon_is_zbi(const uint8_t *image, size_t size)
{
    uint32_t type;
    if (size < sizeof(type))
        return false;
    memcpy(&type, image, sizeof(type));
    return type == ZBI_TYPE_CONTAINER;
}

int zircon_parse(const uint8_t *image, size_t size, struct zbi_kernel_info *info,
                 struct error *error)
{
    return zbi_parse_kernel(image, size, info, error);
}

static size_t item_space(size_t payload_length)
{
    return sizeof(struct zbi_header) + ZBI_ALIGN(payload_length);
}

int zircon_load(const struct zbi_kernel_info *info, const struct boot_config *config,
                const struct guest_memory *memory, struct boot_entry *entry, struct error *error)
{
    const char *kernel_path = config->kernel.path;
    uint64_t kernel_base = ZBI_X64_KERNEL_LOAD_ADDRESS;
    uint64_t scratch_end = kernel_base + info->kernel_size + info->reserve_memory_size;
    uint8_t *kernel = guest_memory_ptr(memory, kernel_base, scratch_end - kernel_base);
    if (!kernel)
        return error_set(error, "%s: the kernel and the %llu KiB it reserves do not fit in guest "
                                "memory; raise --memory",
                         kernel_path, (unsigned long long)(info->reserve_memory_size >> 10));
    if (boot_copy_file_to_guest(memory, kernel_base, &config->kernel, 0, info->kernel_size, error))
        return -1;
    /* The loaded image is the container header and the kernel item only:
     * say so in its header, since the items that followed move into the
     * container handed to the kernel. */
    uint32_t kernel_container_flags;
    memcpy(&kernel_container_flags, kernel + offsetof(struct zbi_header, flags),
           sizeof(kernel_container_flags));
    uint32_t kernel_items_length =
        (uint32_t)(ZBI_ALIGN(info->kernel_size) - zbi_header_size(kernel_container_flags));
    memcpy(kernel + offsetof(struct zbi_header, length), &kernel_items_length,
           sizeof(kernel_items_length));

    /* The command line, the memory map, the RSDP and the UART we add. */
    char cmdline[LAYOUT_CMDLINE_MAX];
    int cmdline_length = snprintf(cmdline, sizeof(cmdline), "%s%s%s", ZIRCON_CMDLINE_PREFIX,
                                  config->user_cmdline ? " " : "",
                                  config->user_cmdline ? config->user_cmdline : "");
    if (cmdline_length < 0 || (size_t)cmdline_length >= sizeof(cmdline))
        return error_set(error, "command line too long for the Zircon CMDLINE item");
    struct e820_entry map[E820_MAX_ENTRIES];
    int map_count = e820_build(memory, map);
    struct zbi_e820_entry zbi_map[E820_MAX_ENTRIES];
    for (int i = 0; i < map_count; i++)
        zbi_map[i] = (struct zbi_e820_entry){map[i].address, map[i].size, map[i].type};
    struct zbi_dcfg_simple_pio uart = {.base = COM1_PORT, .irq = COM1_IRQ};
    uint64_t rsdp = config->rsdp_address;

    size_t ramdisk_size = 0;
    if (config->initrd.data) {
        struct error detail;
        if (zbi_check(config->initrd.data, config->initrd.size, &ramdisk_size, &detail))
            return error_set(error, "%s: %s", config->initrd.path, detail.message);
    }
    size_t trailing_items = info->container_size - info->first_item_after_kernel;
    if (trailing_items && ramdisk_size) {
        /* Items are copied as they are, so both containers must be of one
         * era: seed-era bootdata headers are 16 bytes, ZBI ones 32. */
        uint32_t ramdisk_flags;
        memcpy(&ramdisk_flags, config->initrd.data + offsetof(struct zbi_header, flags),
               sizeof(ramdisk_flags));
        if (zbi_header_size(ramdisk_flags) != zbi_header_size(kernel_container_flags))
            return error_set(error, "%s: a %s container cannot take the items that follow the "
                                    "kernel in %s, a %s container",
                             config->initrd.path,
                             zbi_header_size(ramdisk_flags) == 16 ? "seed-era bootdata" : "ZBI",
                             kernel_path,
                             zbi_header_size(kernel_container_flags) == 16 ? "seed-era bootdata"
                                                                           : "ZBI");
    }
    /* Without a ramdisk the container is of the kernel's era. */
    size_t capacity = (ramdisk_size ? ramdisk_size : sizeof(struct zbi_header)) + trailing_items +
                      item_space((size_t)cmdline_length + 1) +
                      item_space(sizeof(struct zbi_e820_entry) * (size_t)map_count) +
                      item_space(sizeof(rsdp)) + item_space(sizeof(uart));
    if (capacity - sizeof(struct zbi_header) > UINT32_MAX)
        return error_set(error, "%s: boot items total over 4 GiB", config->initrd.path);

    uint64_t container_address = (scratch_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint8_t *container = guest_memory_ptr(memory, container_address, capacity);
    if (!container || container_address + capacity > guest_memory_low_end(memory))
        return error_set(error, "%s: the boot items (%zu KiB) do not fit in guest memory after "
                                "the kernel; raise --memory",
                         config->initrd.data ? config->initrd.path : kernel_path,
                         capacity >> 10);

    size_t used = 0;
    if (ramdisk_size) {
        if (boot_copy_file_to_guest(memory, container_address, &config->initrd, 0, ramdisk_size,
                                    error))
            return -1;
        used = ramdisk_size;
    } else if (zbi_header_size(kernel_container_flags) == 16
                   ? zbi_init_legacy_container(container, capacity, &used, error)
                   : zbi_init_container(container, capacity, &used, error)) {
        return -1;
    }
    /* Items that followed the kernel in its own file (a complete ZBI)
     * were checked with it; they are copied as they are. */
    if (trailing_items) {
        if (boot_copy_file_to_guest(memory, container_address + used, &config->kernel,
                                    info->first_item_after_kernel, trailing_items, error))
            return -1;
        used += trailing_items;
        zbi_set_container_size(container, used);
    }
    if (zbi_append(container, capacity, &used, ZBI_TYPE_CMDLINE, 0, 0, cmdline,
                   (uint32_t)cmdline_length + 1, error) ||
        zbi_append(container, capacity, &used, ZBI_TYPE_E820_TABLE, 0, 0, zbi_map,
                   (uint32_t)(sizeof(zbi_map[0]) * (size_t)map_count), error) ||
        zbi_append(container, capacity, &used, ZBI_TYPE_ACPI_RSDP, 0, 0, &rsdp, sizeof(rsdp),
                   error) ||
        zbi_append(container, capacity, &used, ZBI_TYPE_KERNEL_DRIVER,
                   ZBI_KERNEL_DRIVER_I8250_PIO_UART, 0, &uart, sizeof(uart), error))
        return -1;
    /* Check the bytes the guest will see, not the files as they were when
     * first read: they may have changed in between. */
    struct error detail;
    size_t final_size;
    if (zbi_check(container, used, &final_size, &detail) || final_size != used)
        return error_set(error, "%s: changed while loading: %s",
                         config->initrd.data ? config->initrd.path : kernel_path, detail.message);

    *entry = (struct boot_entry){.mode = BOOT_CPU_MODE_LONG_64,
                                 .instruction_pointer = info->entry,
                                 .rsi = container_address};
    return 0;
}
