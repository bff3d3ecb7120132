/* ZBI containers.  What zbi_check accepts:
 *
 * A ZBI (the container header has ZBI_FLAG_VERSION): 32-byte headers
 * throughout.  The container's header has the item magic, no CRC32 flag
 * and ZBI_ITEM_NO_CRC32; every item has the VERSION flag and the item magic;
 * with the CRC32 flag its crc32 is that of its payload, without it crc32 is
 * ZBI_ITEM_NO_CRC32.  This is also the late-2017 "bootdata v2", whose
 * required BOOTDATA_FLAG_V2 is the same bit.
 *
 * Seed-era bootdata (the container header lacks that bit): the container
 * header is 16 bytes and its flags are 0, as the 2017 Magenta/Zircon
 * hypervisor demanded.  Each item's header is 16 bytes (no magic, no crc)
 * unless the item's own flags have the bit, then called BOOTDATA_FLAG_EXTRA:
 * a 16-byte extension then completes the header (the same 32 bytes as a
 * ZBI header) and its magic must be the item magic.  An extended item with
 * the CRC32 flag has, as that era defined it, the CRC of its 16-byte header,
 * its extension with crc32 zeroed, and its payload; without the flag crc32
 * is ZBI_ITEM_NO_CRC32.  A 16-byte item cannot have the CRC32 flag.
 *
 * Both: the type and extra of the container header are checked, its length
 * is a multiple of 8 and within the bytes given, and every item's header,
 * payload and padding lie inside it. */
#include "boot/zbi.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define ONE_GIB (1ULL << 30)

/* CRC-32 four bits at a time: a 64-byte table and no initialisation. */
static const uint32_t crc32_nibble_table[16] = {
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
};

uint32_t zbi_crc32(uint32_t crc, const void *data, size_t length)
{
    const uint8_t *bytes = data;
    crc = ~crc;
    for (size_t i = 0; i < length; i++) {
        crc ^= bytes[i];
        crc = (crc >> 4) ^ crc32_nibble_table[crc & 15];
        crc = (crc >> 4) ^ crc32_nibble_table[crc & 15];
    }
    return ~crc;
}

size_t zbi_header_size(uint32_t flags)
{
    return (flags & ZBI_FLAG_VERSION) ? sizeof(struct zbi_header) : ZBI_LEGACY_HEADER_SIZE;
}

/* Reads a header of header_size bytes (16 or 32); the caller has checked
 * that they are there. */
static void header_read(const uint8_t *at, size_t header_size, struct zbi_header *header)
{
    memset(header, 0, sizeof(*header));
    memcpy(header, at, header_size);
}

static uint32_t flags_at(const uint8_t *header)
{
    uint32_t flags;
    memcpy(&flags, header + offsetof(struct zbi_header, flags), sizeof(flags));
    return flags;
}

const char *zbi_type_name(uint32_t type, char out[16])
{
    bool printable = true;
    for (int i = 0; i < 4; i++) {
        unsigned c = (type >> (8 * i)) & 0xff;
        if (c < 0x21 || c > 0x7e)
            printable = false;
        out[i] = (char)c;
    }
    if (printable)
        out[4] = '\0';
    else
        snprintf(out, 16, "0x%08x", type);
    return out;
}

uint32_t zbi_item_crc32(const uint8_t *container, const struct zbi_header *header,
                        const uint8_t *payload)
{
    if (flags_at(container) & ZBI_FLAG_VERSION)
        return zbi_crc32(0, payload, header->length);
    struct zbi_header copy = *header;
    copy.crc32 = 0;
    return zbi_crc32(zbi_crc32(0, &copy, sizeof(copy)), payload, header->length);
}

static int check_container_header(const uint8_t *data, size_t size, struct zbi_header *container,
                                  struct error *error)
{
    if (size < ZBI_LEGACY_HEADER_SIZE)
        return error_set(error, "truncated: %zu bytes, too short for a ZBI container header",
                         size);
    header_read(data, ZBI_LEGACY_HEADER_SIZE, container);
    char name[16];
    if (container->type != ZBI_TYPE_CONTAINER)
        return error_set(error, "not a ZBI container: type %s, expected BOOT",
                         zbi_type_name(container->type, name));
    if (container->extra != ZBI_CONTAINER_MAGIC)
        return error_set(error, "bad container magic 0x%08x in extra (expected 0x%08x)",
                         container->extra, ZBI_CONTAINER_MAGIC);
    size_t header_size = zbi_header_size(container->flags);
    if (header_size == ZBI_LEGACY_HEADER_SIZE) {
        if (container->flags != 0)
            return error_set(error, "seed-era container header with flags 0x%08x (expected 0)",
                             container->flags);
    } else {
        if (size < header_size)
            return error_set(error, "truncated: %zu bytes, too short for a ZBI container header",
                             size);
        header_read(data, header_size, container);
        if (container->magic != ZBI_ITEM_MAGIC)
            return error_set(error, "bad item magic 0x%08x in the container header (expected "
                                    "0x%08x)",
                             container->magic, ZBI_ITEM_MAGIC);
        if (container->flags & ZBI_FLAG_CRC32)
            return error_set(error, "the container header has the CRC32 flag");
        if (container->crc32 != ZBI_ITEM_NO_CRC32)
            return error_set(error, "container header crc32 0x%08x without the CRC32 flag "
                                    "(expected 0x%08x)",
                             container->crc32, ZBI_ITEM_NO_CRC32);
    }
    if (container->length % ZBI_ALIGNMENT)
        return error_set(error, "container length %u is not a multiple of %u", container->length,
                         ZBI_ALIGNMENT);
    if (container->length > size - header_size)
        return error_set(error, "truncated: the container header says %zu bytes, there are %zu",
                         header_size + container->length, size);
    return 0;
}

/* Checks the item whose header starts at data[offset], with `left` bytes of
 * the container from there; sets *item_size to its header, payload and
 * padding. */
static int check_item(const uint8_t *data, size_t offset, size_t left, bool legacy_container,
                      unsigned index, size_t *item_size, struct error *error)
{
    if (left < ZBI_LEGACY_HEADER_SIZE)
        return error_set(error, "item %u at offset 0x%zx: header crosses the end of the container",
                         index, offset);
    const uint8_t *at = data + offset;
    size_t header_size = zbi_header_size(flags_at(at));
    struct zbi_header header;
    header_read(at, ZBI_LEGACY_HEADER_SIZE, &header);
    char name[16];
    zbi_type_name(header.type, name);
    if (!legacy_container && header_size != sizeof(struct zbi_header))
        return error_set(error, "item %u (%s) at offset 0x%zx: flags 0x%08x lack the VERSION flag",
                         index, name, offset, header.flags);
    if (left < header_size)
        return error_set(error, "item %u (%s) at offset 0x%zx: header crosses the end of the "
                                "container",
                         index, name, offset);
    header_read(at, header_size, &header);
    if (header_size == sizeof(struct zbi_header)) {
        if (header.magic != ZBI_ITEM_MAGIC)
            return error_set(error, "item %u (%s) at offset 0x%zx: bad item magic 0x%08x "
                                    "(expected 0x%08x)",
                             index, name, offset, header.magic, ZBI_ITEM_MAGIC);
        if (!(header.flags & ZBI_FLAG_CRC32) && header.crc32 != ZBI_ITEM_NO_CRC32)
            return error_set(error, "item %u (%s) at offset 0x%zx: crc32 0x%08x without the "
                                    "CRC32 flag (expected 0x%08x)",
                             index, name, offset, header.crc32, ZBI_ITEM_NO_CRC32);
    } else if (header.flags & ZBI_FLAG_CRC32) {
        return error_set(error, "item %u (%s) at offset 0x%zx: CRC32 flag on a 16-byte "
                                "seed-era header, which has no crc32 field",
                         index, name, offset);
    }
    /* left and header_size are multiples of 8, so a payload that fits has
     * room for its padding too. */
    if (header.length > left - header_size)
        return error_set(error, "item %u (%s) at offset 0x%zx: length %u runs past the end of "
                                "the container (%zu bytes left)",
                         index, name, offset, header.length, left - header_size);
    if (header.flags & ZBI_FLAG_CRC32) {
        uint32_t crc = zbi_item_crc32(data, &header, at + header_size);
        if (crc != header.crc32)
            return error_set(error, "item %u (%s) at offset 0x%zx: CRC32 mismatch: the header "
                                    "says 0x%08x, the payload's is 0x%08x",
                             index, name, offset, header.crc32, crc);
    }
    *item_size = header_size + ZBI_ALIGN((size_t)header.length);
    return 0;
}

int zbi_check(const uint8_t *data, size_t size, size_t *container_size, struct error *error)
{
    struct zbi_header container;
    if (check_container_header(data, size, &container, error))
        return -1;
    size_t header_size = zbi_header_size(container.flags);
    size_t end = header_size + container.length;
    bool legacy = header_size == ZBI_LEGACY_HEADER_SIZE;
    unsigned index = 1;
    for (size_t offset = header_size; offset < end; index++) {
        size_t item_size = 0;
        if (check_item(data, offset, end - offset, legacy, index, &item_size, error))
            return -1;
        offset += item_size;
    }
    *container_size = end;
    return 0;
}

void zbi_iterator_init(struct zbi_iterator *it, const uint8_t *data, size_t container_size)
{
    it->data = data;
    it->end = container_size;
    it->offset = container_size;
    if (container_size >= ZBI_LEGACY_HEADER_SIZE) {
        size_t header_size = zbi_header_size(flags_at(data));
        if (container_size >= header_size)
            it->offset = header_size;
    }
}

int zbi_iterator_next(struct zbi_iterator *it, struct zbi_header *header,
                      const uint8_t **payload, size_t *item_offset)
{
    if (it->offset >= it->end || it->end - it->offset < ZBI_LEGACY_HEADER_SIZE)
        return 0;
    size_t left = it->end - it->offset;
    const uint8_t *at = it->data + it->offset;
    size_t header_size = zbi_header_size(flags_at(at));
    struct zbi_header read;
    if (left < header_size)
        goto stop;
    header_read(at, header_size, &read);
    if (read.length > left - header_size)
        goto stop;
    *header = read;
    *payload = at + header_size;
    *item_offset = it->offset;
    size_t item_size = header_size + ZBI_ALIGN((size_t)read.length);
    it->offset = item_size > left ? it->end : it->offset + item_size;
    return 1;
stop:
    it->offset = it->end;
    return 0;
}

int zbi_parse_kernel(const uint8_t *data, size_t size, struct zbi_kernel_info *info,
                     struct error *error)
{
    size_t container_size;
    if (zbi_check(data, size, &container_size, error))
        return -1;
    struct zbi_iterator it;
    zbi_iterator_init(&it, data, container_size);
    struct zbi_header header;
    const uint8_t *payload;
    size_t offset;
    if (!zbi_iterator_next(&it, &header, &payload, &offset))
        return error_set(error, "the container is empty: no kernel item");
    char name[16];
    zbi_type_name(header.type, name);
    if (header.type != ZBI_TYPE_KERNEL_X64) {
        if (header.type == ZBI_TYPE_KERNEL_ARM64)
            return error_set(error, "an ARM64 kernel (KRN8), not an x86-64 one (KRNL)");
        if (header.type == ZBI_TYPE_KERNEL_RISCV64)
            return error_set(error, "a RISC-V kernel (KRNV), not an x86-64 one (KRNL)");
        if (ZBI_IS_KERNEL_TYPE(header.type))
            return error_set(error, "a kernel for another machine (%s), not an x86-64 one (KRNL)",
                             name);
        return error_set(error, "the first item is %s, not a kernel (KRNL): a ramdisk container?",
                         name);
    }
    struct zbi_kernel kernel;
    if (header.length < sizeof(kernel))
        return error_set(error, "kernel item: payload of %u bytes, shorter than its %zu-byte "
                                "entry and reserve header",
                         header.length, sizeof(kernel));
    memcpy(&kernel, payload, sizeof(kernel));
    size_t image_start = (size_t)(payload - data) + sizeof(kernel);
    size_t kernel_size = (size_t)(payload - data) + header.length;
    uint64_t first = ZBI_X64_KERNEL_LOAD_ADDRESS + image_start;
    uint64_t end = ZBI_X64_KERNEL_LOAD_ADDRESS + kernel_size;
    if (kernel.entry < first || kernel.entry >= end)
        return error_set(error, "kernel entry 0x%llx is outside the kernel image [0x%llx, 0x%llx)",
                         (unsigned long long)kernel.entry, (unsigned long long)first,
                         (unsigned long long)end);
    if (kernel.reserve_memory_size > ONE_GIB)
        return error_set(error, "kernel asks for %llu bytes of scratch memory (more than 1 GiB)",
                         (unsigned long long)kernel.reserve_memory_size);
    info->entry = kernel.entry;
    info->reserve_memory_size = kernel.reserve_memory_size;
    info->kernel_size = kernel_size;
    info->container_size = container_size;
    info->first_item_after_kernel = ZBI_ALIGN(kernel_size);
    return 0;
}

static int init_container(uint8_t *buffer, size_t capacity, size_t *used, uint32_t flags,
                          struct error *error)
{
    struct zbi_header header = {
        .type = ZBI_TYPE_CONTAINER,
        .extra = ZBI_CONTAINER_MAGIC,
        .flags = flags,
        .magic = ZBI_ITEM_MAGIC,
        .crc32 = ZBI_ITEM_NO_CRC32,
    };
    size_t header_size = zbi_header_size(flags);
    if (capacity < header_size)
        return error_set(error, "no room for a container header: %zu bytes", capacity);
    memcpy(buffer, &header, header_size);
    *used = header_size;
    return 0;
}

int zbi_init_container(uint8_t *buffer, size_t capacity, size_t *used, struct error *error)
{
    return init_container(buffer, capacity, used, ZBI_FLAG_VERSION, error);
}

int zbi_init_legacy_container(uint8_t *buffer, size_t capacity, size_t *used,
                              struct error *error)
{
    return init_container(buffer, capacity, used, 0, error);
}

int zbi_append(uint8_t *buffer, size_t capacity, size_t *used, uint32_t type, uint32_t extra,
               uint32_t flags, const void *payload, uint32_t length, struct error *error)
{
    char name[16];
    zbi_type_name(type, name);
    struct zbi_header container;
    if (*used > capacity || *used < ZBI_LEGACY_HEADER_SIZE)
        return error_set(error, "adding %s: the buffer holds no container", name);
    header_read(buffer, ZBI_LEGACY_HEADER_SIZE, &container);
    size_t container_header_size = zbi_header_size(container.flags);
    if (container.type != ZBI_TYPE_CONTAINER || *used < container_header_size ||
        (*used - container_header_size) % ZBI_ALIGNMENT)
        return error_set(error, "adding %s: the buffer holds no container", name);
    bool legacy = container_header_size == ZBI_LEGACY_HEADER_SIZE;
    if (legacy && (flags & ZBI_FLAG_CRC32))
        return error_set(error, "adding %s: a seed-era container has no room for a CRC32", name);

    struct zbi_header header = {
        .type = type,
        .length = length,
        .extra = extra,
        .flags = legacy ? flags & ~ZBI_FLAG_VERSION : flags | ZBI_FLAG_VERSION,
        .magic = ZBI_ITEM_MAGIC,
        .crc32 = ZBI_ITEM_NO_CRC32,
    };
    size_t header_size = zbi_header_size(header.flags);
    size_t item_size = header_size + ZBI_ALIGN((size_t)length);
    if (item_size > capacity - *used)
        return error_set(error, "no room for a %s item of %u bytes: %zu of %zu bytes used", name,
                         length, *used, capacity);
    if (*used - container_header_size + item_size > UINT32_MAX)
        return error_set(error, "adding %s: the container would pass 4 GiB", name);
    if (flags & ZBI_FLAG_CRC32)
        header.crc32 = zbi_crc32(0, payload, length);

    uint8_t *at = buffer + *used;
    memcpy(at, &header, header_size);
    if (length)
        memmove(at + header_size, payload, length);
    memset(at + header_size + length, 0, item_size - header_size - length);
    *used += item_size;
    zbi_set_container_size(buffer, *used);
    return 0;
}

void zbi_set_container_size(uint8_t *buffer, size_t size)
{
    struct zbi_header container;
    header_read(buffer, ZBI_LEGACY_HEADER_SIZE, &container);
    container.length = (uint32_t)(size - zbi_header_size(container.flags));
    memcpy(buffer, &container, ZBI_LEGACY_HEADER_SIZE);
}
