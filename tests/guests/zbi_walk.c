/* Walks a ZBI container: the one a Zircon boot loader hands over, or one
 * that arrives as a multiboot module. */
#include "probe.h"

#include "boot/zbi_format.h"

static const struct {
    uint32_t type;
    const char *name;
} type_names[] = {
    {ZBI_TYPE_CONTAINER, "CONTAINER"},
    {ZBI_TYPE_KERNEL_X64, "KERNEL_X64"},
    {ZBI_TYPE_KERNEL_ARM64, "KERNEL_ARM64"},
    {ZBI_TYPE_KERNEL_RISCV64, "KERNEL_RISCV64"},
    {ZBI_TYPE_DISCARD, "DISCARD"},
    {ZBI_TYPE_STORAGE_RAMDISK, "RAMDISK"},
    {ZBI_TYPE_STORAGE_BOOTFS, "BOOTFS"},
    {ZBI_TYPE_CMDLINE, "CMDLINE"},
    {ZBI_TYPE_CRASHLOG, "CRASHLOG"},
    {ZBI_TYPE_NVRAM, "NVRAM"},
    {ZBI_TYPE_PLATFORM_ID, "PLATFORM_ID"},
    {ZBI_TYPE_MEM_CONFIG, "MEM_CONFIG"},
    {ZBI_TYPE_KERNEL_DRIVER, "KERNEL_DRIVER"},
    {ZBI_TYPE_ACPI_RSDP, "ACPI_RSDP"},
    {ZBI_TYPE_SMBIOS, "SMBIOS"},
    {ZBI_TYPE_EFI_MEMORY_MAP, "EFI_MEMORY_MAP"},
    {ZBI_TYPE_EFI_SYSTEM_TABLE, "EFI_SYSTEM_TABLE"},
    {ZBI_TYPE_E820_TABLE, "E820_TABLE"},
    {ZBI_TYPE_DEBUG_UART, "DEBUG_UART"},
    {ZBI_TYPE_FRAMEBUFFER, "FRAMEBUFFER"},
};

static const char *type_name(uint32_t type)
{
    static char hex[11];
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
        if (type_names[i].type == type)
            return type_names[i].name;
    hex[0] = '0';
    hex[1] = 'x';
    for (int i = 0; i < 8; i++)
        hex[2 + i] = digits[type >> (28 - 4 * i) & 0xf];
    hex[10] = 0;
    return hex;
}

/* Lists the files of an uncompressed BOOTFS payload. */
static void bootfs_list(const uint8_t *payload, uint32_t length)
{
    struct zbi_bootfs_header header;
    if (length < sizeof(header)) {
        fail("bootfs: %u bytes, shorter than its header", length);
        return;
    }
    memcpy(&header, payload, sizeof(header));
    if (header.magic != ZBI_BOOTFS_MAGIC || header.dirsize > length - sizeof(header)) {
        fail("bootfs: magic 0x%08x, directory %u bytes of %u", header.magic, header.dirsize,
             length);
        return;
    }
    uint32_t offset = sizeof(header), end = sizeof(header) + header.dirsize;
    unsigned files = 0;
    while (offset < end) {
        struct zbi_bootfs_dirent entry;
        if (end - offset < sizeof(entry)) {
            fail("bootfs: directory entry %u truncated", files);
            return;
        }
        memcpy(&entry, payload + offset, sizeof(entry));
        const char *name = (const char *)payload + offset + sizeof(entry);
        if (entry.name_len < 2 || entry.name_len > ZBI_BOOTFS_MAX_NAME_LENGTH ||
            ZBI_BOOTFS_DIRENT_SIZE(entry.name_len) > end - offset ||
            name[entry.name_len - 1] != 0) {
            fail("bootfs: directory entry %u: name length %u", files, entry.name_len);
            return;
        }
        if (entry.data_off % ZBI_BOOTFS_PAGE_SIZE || entry.data_off > length ||
            entry.data_len > length - entry.data_off) {
            fail("bootfs: %s: %u bytes at offset 0x%x, outside the payload or not page-aligned",
                 printable(name, entry.name_len), entry.data_len, entry.data_off);
            return;
        }
        probe_printf("bootfs %s %u", printable(name, entry.name_len), entry.data_len);
        offset += ZBI_BOOTFS_DIRENT_SIZE(entry.name_len);
        files++;
    }
    check(true, "bootfs directory: %u files", files);
}

static void item_contents(const struct zbi_header *item, const uint8_t *payload,
                          struct zbi_found *found)
{
    switch (item->type) {
    case ZBI_TYPE_CMDLINE:
        found->cmdline_count++;
        found->cmdline = (const char *)payload;
        found->cmdline_length = item->length;
        probe_printf("cmdline \"%s\"", printable(found->cmdline, item->length));
        check(item->length > 0 && payload[item->length - 1] == 0, "cmdline NUL-terminated");
        break;
    case ZBI_TYPE_E820_TABLE:
        found->e820_count++;
        found->e820 = payload;
        found->e820_length = item->length;
        break;
    case ZBI_TYPE_ACPI_RSDP:
        if (check(item->length >= 8, "ACPI_RSDP payload holds an address (%u bytes)",
                  item->length)) {
            found->rsdp_count++;
            found->rsdp = get64(payload);
        }
        break;
    case ZBI_TYPE_KERNEL_DRIVER:
        if (item->extra == ZBI_KERNEL_DRIVER_I8250_PIO_UART &&
            item->length >= sizeof(struct zbi_dcfg_simple_pio)) {
            struct zbi_dcfg_simple_pio uart;
            memcpy(&uart, payload, sizeof(uart));
            probe_printf("kernel driver i8250 pio uart base 0x%x irq %u", uart.base, uart.irq);
            found->uart_count++;
            found->uart_base = uart.base;
        } else {
            probe_printf("kernel driver 0x%08x len %u", item->extra, item->length);
        }
        break;
    case ZBI_TYPE_STORAGE_BOOTFS:
        if (item->flags & ZBI_FLAG_STORAGE_COMPRESSED)
            probe_printf("bootfs compressed (%u bytes uncompressed): not listed", item->extra);
        else
            bootfs_list(payload, item->length);
        break;
    default:
        if (ZBI_IS_KERNEL_TYPE(item->type))
            found->kernel_count++;
        break;
    }
}

uint64_t zbi_walk(const uint8_t *container, uint64_t room, struct zbi_found *found)
{
    struct zbi_header header;
    memset(found, 0, sizeof(*found));
    if (room < sizeof(header)) {
        fail("container: %llu bytes, shorter than its header", U64(room));
        return 0;
    }
    memcpy(&header, container, sizeof(header));
    bool valid = header.type == ZBI_TYPE_CONTAINER && header.extra == ZBI_CONTAINER_MAGIC &&
                 (header.flags & ZBI_FLAG_VERSION) && header.magic == ZBI_ITEM_MAGIC &&
                 header.length % ZBI_ALIGNMENT == 0 && header.length <= room - sizeof(header);
    if (!check(valid, "container at 0x%llx: type 0x%08x extra 0x%08x flags 0x%x magic 0x%08x "
                      "length %u",
               U64((uintptr_t)container), header.type, header.extra, header.flags, header.magic,
               header.length))
        return 0;

    uint64_t end = sizeof(header) + (uint64_t)header.length;
    uint64_t offset = sizeof(header);
    while (offset < end) {
        struct zbi_header item;
        if (end - offset < sizeof(item)) {
            fail("item at offset %llu: header runs past the container's end", U64(offset));
            break;
        }
        memcpy(&item, container + offset, sizeof(item));
        const uint8_t *payload = container + offset + sizeof(item);
        const char *name = type_name(item.type);
        if (item.magic != ZBI_ITEM_MAGIC || !(item.flags & ZBI_FLAG_VERSION) ||
            item.length > end - offset - sizeof(item)) {
            fail("item %s len %u at offset %llu: magic 0x%08x flags 0x%x, or longer than the "
                 "container",
                 name, item.length, U64(offset), item.magic, item.flags);
            break;
        }
        if (item.flags & ZBI_FLAG_CRC32) {
            uint32_t crc = crc32(payload, item.length);
            if (crc == item.crc32)
                probe_printf("item %s len %u crc32 ok", name, item.length);
            else
                fail("item %s len %u crc32 0x%08x, computed 0x%08x", name, item.length,
                     item.crc32, crc);
        } else {
            probe_printf("item %s len %u", name, item.length);
        }
        item_contents(&item, payload, found);
        offset += sizeof(item) + ZBI_ALIGN((uint64_t)item.length);
    }
    return end;
}
