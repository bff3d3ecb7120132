#include "boot/linux.h"

#include <stdio.h>
#include <string.h>

#include "x86/layout.h"

/* Offsets in the bzImage file and in struct boot_params (the zero page). */
#define SETUP_SECTS 0x1f1
#define SYSSIZE 0x1f4
#define BOOT_FLAG 0x1fe
#define JUMP_LENGTH 0x201
#define HEADER_MAGIC 0x202
#define VERSION 0x206
#define TYPE_OF_LOADER 0x210
#define LOADFLAGS 0x211
#define RAMDISK_IMAGE 0x218
#define RAMDISK_SIZE 0x21c
#define CMD_LINE_PTR 0x228
#define INITRD_ADDR_MAX 0x22c
#define KERNEL_ALIGNMENT 0x230
#define RELOCATABLE_KERNEL 0x234
#define XLOADFLAGS 0x236
#define CMDLINE_SIZE 0x238
#define HARDWARE_SUBARCH 0x23c
#define PREF_ADDRESS 0x258
#define INIT_SIZE 0x260

#define BP_ACPI_RSDP_ADDR 0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define BP_E820_TABLE_MAX 128
#define BP_SIZE 4096

#define LOADFLAG_LOADED_HIGH 0x01
#define LOADFLAG_QUIET 0x20
#define XLF_KERNEL_64 0x01

#define LEGACY_LOAD_ADDRESS 0x100000ULL
#define ENTRY_64_OFFSET 0x200
#define PROTOCOL_MINIMUM 0x0206
#define PROTOCOL_64BIT_ENTRY 0x020c
#define MAX_INIT_SIZE (1ULL << 30)

static uint16_t read16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t read32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t read64(const uint8_t *p)
{
    return read32(p) | (uint64_t)read32(p + 4) << 32;
}

static void write32(uint8_t *p, uint32_t value)
{
    memcpy(p, &value, 4);
}

bool bzimage_is_bzimage(const uint8_t *image, size_t size)
{
    return size >= HEADER_MAGIC + 4 && memcmp(image + HEADER_MAGIC, "HdrS", 4) == 0;
}

int bzimage_parse(const uint8_t *image, size_t size, struct bzimage_info *info,
                  struct error *error)
{
    memset(info, 0, sizeof(*info));
    if (size < 0x250)
        return error_set(error, "too small to be a bzImage (%zu bytes)", size);
    if (!bzimage_is_bzimage(image, size))
        return error_set(error, "not a bzImage: no \"HdrS\" boot protocol magic at 0x202");
    if (read16(image + BOOT_FLAG) != 0xaa55)
        return error_set(error, "not a bzImage: boot flag at 0x1fe is not 0xaa55");

    info->protocol_version = read16(image + VERSION);
    if (info->protocol_version < PROTOCOL_MINIMUM)
        return error_set(error, "boot protocol %u.%02u is older than 2.06, which guest needs",
                         info->protocol_version >> 8, info->protocol_version & 0xff);
    info->loadflags = image[LOADFLAGS];
    if (!(info->loadflags & LOADFLAG_LOADED_HIGH))
        return error_set(error, "a zImage (kernel loaded low) is not supported; use a bzImage");
    if (info->protocol_version >= PROTOCOL_64BIT_ENTRY)
        info->xloadflags = read16(image + XLOADFLAGS);
    if (!(info->xloadflags & XLF_KERNEL_64))
        return error_set(error, "kernel has no 64-bit entry point (XLF_KERNEL_64 not set, "
                                "boot protocol %u.%02u)",
                         info->protocol_version >> 8, info->protocol_version & 0xff);

    unsigned setup_sects = image[SETUP_SECTS] ? image[SETUP_SECTS] : 4;
    info->setup_size = (size_t)(setup_sects + 1) * 512;
    if (info->setup_size >= size)
        return error_set(error, "truncated: setup of %zu bytes but the file has %zu",
                         info->setup_size, size);
    info->kernel_size = size - info->setup_size;
    /* syssize counts 16-byte paragraphs, rounded up: a file up to 15 bytes
     * shorter than syssize * 16 holds the whole kernel (memtest86+ is one;
     * the missing tail is zeros, as guest RAM starts).  Shorter is cut. */
    uint64_t syssize_bytes = (uint64_t)read32(image + SYSSIZE) * 16;
    if (syssize_bytes == 0 || syssize_bytes > (uint64_t)info->kernel_size + 15)
        return error_set(error,
                         "truncated: header says the kernel is %llu bytes, file holds %zu",
                         (unsigned long long)syssize_bytes, info->kernel_size);

    info->header_end = HEADER_MAGIC + image[JUMP_LENGTH];
    if (info->header_end > info->setup_size || info->header_end > BP_SIZE)
        return error_set(error, "setup header length %zu is out of range", info->header_end);

    info->initrd_address_max = read32(image + INITRD_ADDR_MAX);
    if (info->initrd_address_max == 0)
        info->initrd_address_max = 0x37ffffff; /* the protocol's default before 2.03 */
    info->cmdline_size = read32(image + CMDLINE_SIZE);
    info->relocatable = image[RELOCATABLE_KERNEL] != 0;

    info->load_address = LEGACY_LOAD_ADDRESS;
    info->init_size = info->kernel_size;
    if (info->protocol_version >= 0x020a) {
        uint64_t preferred = read64(image + PREF_ADDRESS);
        uint32_t alignment = read32(image + KERNEL_ALIGNMENT);
        if (info->relocatable && (alignment == 0 || (alignment & (alignment - 1))))
            return error_set(error, "kernel_alignment 0x%x is not a power of two", alignment);
        if (preferred < LEGACY_LOAD_ADDRESS || preferred >= LAYOUT_LOW_RAM_LIMIT)
            return error_set(error, "preferred load address 0x%llx is out of range",
                             (unsigned long long)preferred);
        if (info->relocatable && (preferred & (alignment - 1)))
            preferred = (preferred + alignment - 1) & ~(uint64_t)(alignment - 1);
        info->load_address = preferred;
        info->init_size = read32(image + INIT_SIZE);
        if (info->init_size < info->kernel_size || info->init_size > MAX_INIT_SIZE)
            return error_set(error, "init_size %llu is absurd for a %zu-byte kernel",
                             (unsigned long long)info->init_size, info->kernel_size);
    }
    return 0;
}

int bzimage_load(const struct bzimage_info *info, const struct boot_config *config,
                 const struct guest_memory *memory, struct boot_entry *entry,
                 struct error *error)
{
    const char *kernel_path = config->kernel.path;
    uint64_t kernel_end = info->load_address + info->init_size;
    if (kernel_end > guest_memory_low_end(memory))
        return error_set(error, "%s: guest memory is too small: the kernel needs %llu MiB "
                                "(it boots at %llu MiB and needs %llu MiB there); raise --memory",
                         kernel_path, (unsigned long long)((kernel_end + (1 << 20) - 1) >> 20),
                         (unsigned long long)(info->load_address >> 20),
                         (unsigned long long)(info->init_size >> 20));

    size_t cmdline_length = strlen(config->cmdline);
    if (cmdline_length >= LAYOUT_CMDLINE_MAX ||
        (info->cmdline_size && cmdline_length > info->cmdline_size))
        return error_set(error, "%s: command line of %zu bytes is longer than the kernel's "
                                "limit of %u",
                         kernel_path, cmdline_length, info->cmdline_size);

    if (boot_copy_file_to_guest(memory, info->load_address, &config->kernel, info->setup_size,
                                info->kernel_size, error))
        return -1;
    if (boot_copy_to_guest(memory, LAYOUT_CMDLINE, config->cmdline, cmdline_length + 1,
                           "command line", error))
        return -1;

    uint8_t *zero_page = guest_memory_ptr(memory, LAYOUT_ZERO_PAGE, BP_SIZE);
    if (!zero_page)
        return error_set(error, "guest memory too small for the zero page");
    memset(zero_page, 0, BP_SIZE);
    memcpy(zero_page + SETUP_SECTS, config->kernel.data + SETUP_SECTS,
           info->header_end - SETUP_SECTS);
    zero_page[TYPE_OF_LOADER] = 0xff; /* "undefined" boot loader */
    zero_page[LOADFLAGS] = info->loadflags & ~LOADFLAG_QUIET;
    write32(zero_page + CMD_LINE_PTR, LAYOUT_CMDLINE);
    write32(zero_page + HARDWARE_SUBARCH, 0); /* a normal PC */

    if (config->initrd.data) {
        uint64_t initrd_address;
        if (boot_place_initrd(memory, kernel_end, (uint64_t)info->initrd_address_max + 1,
                              config->initrd.size, config->initrd.path, &initrd_address, error))
            return -1;
        if (boot_copy_file_to_guest(memory, initrd_address, &config->initrd, 0,
                                    config->initrd.size, error))
            return -1;
        write32(zero_page + RAMDISK_IMAGE, (uint32_t)initrd_address);
        write32(zero_page + RAMDISK_SIZE, (uint32_t)config->initrd.size);
        write32(zero_page + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_address >> 32));
        write32(zero_page + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)config->initrd.size >> 32));
    }

    memcpy(zero_page + BP_ACPI_RSDP_ADDR, &config->rsdp_address, 8);

    struct e820_entry map[E820_MAX_ENTRIES];
    int count = e820_build(memory, map);
    zero_page[BP_E820_ENTRIES] = (uint8_t)count;
    e820_write_bios_table(map, count, zero_page + BP_E820_TABLE);

    entry->mode = BOOT_CPU_MODE_LONG_64;
    entry->instruction_pointer = info->load_address + ENTRY_64_OFFSET;
    entry->rsi = LAYOUT_ZERO_PAGE;
    entry->rbx = 0;
    return 0;
}

static bool cmdline_has_option(const char *cmdline, const char *name)
{
    size_t length = strlen(name);
    for (const char *p = cmdline; (p = strstr(p, name)) != NULL; p += length)
        if (p == cmdline || p[-1] == ' ')
            return true;
    return false;
}

int linux_compose_cmdline_with_console(const char *user, const char *console, char *out,
                                       size_t size)
{
    /* io_delay=none: port 0x80 delays are pointless exits in a VM.
     * panic=-1: a panicking guest reboots at once, so the VMM ends instead of
     * hanging. */
    if (user && cmdline_has_option(user, "console="))
        console = "";
    int written = snprintf(out, size, "%s%sio_delay=none panic=-1%s%s", console,
                           *console ? " " : "", user && *user ? " " : "", user ? user : "");
    return written < 0 || (size_t)written >= size ? -1 : 0;
}

int linux_compose_cmdline(const char *user, char *out, size_t size)
{
    return linux_compose_cmdline_with_console(user, LINUX_SERIAL_CONSOLE, out, size);
}
