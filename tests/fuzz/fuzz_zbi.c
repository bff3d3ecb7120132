/* The ZBI and BOOTFS readers on any bytes: zbi_check, the iterator (on
 * checked and on unchecked containers), zbi_parse_kernel and, for each
 * BOOTFS item, bootfs_check and its iterator; every result is checked to
 * lie inside the input.  Then the writer: the input becomes an item of a
 * fresh container, which must check and read back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bootfs.h"
#include "boot/zbi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_bootfs(const uint8_t *image, size_t size, int checked)
{
    struct bootfs_iterator it;
    struct bootfs_file file;
    size_t seen = 0;
    bootfs_iterator_init(&it, image, size);
    while (bootfs_iterator_next(&it, &file)) {
        const uint8_t *name = (const uint8_t *)file.name;
        size_t name_length = strlen(file.name);
        if (name < image || name + name_length >= image + size ||
            file.data != image + file.data_offset || file.data_offset > size ||
            file.data_length > size - file.data_offset)
            abort();
        if (checked && (name_length == 0 || name_length > 255 || file.name[0] == '/' ||
                        file.data_offset % ZBI_BOOTFS_PAGE_SIZE))
            abort();
        if (++seen > size / sizeof(struct zbi_bootfs_dirent))
            abort();
    }
}

static void walk_items(const uint8_t *data, size_t size, size_t container_size, int checked)
{
    struct zbi_iterator it;
    struct zbi_header header;
    const uint8_t *payload;
    size_t offset;
    size_t previous_end = 16;
    size_t count = 0;
    zbi_iterator_init(&it, data, container_size);
    while (zbi_iterator_next(&it, &header, &payload, &offset)) {
        if (offset < previous_end || offset >= container_size || payload <= data + offset ||
            payload > data + container_size || header.length > container_size ||
            (size_t)(payload - data) > container_size - header.length)
            abort();
        previous_end = (size_t)(payload - data) + header.length;
        if (++count > container_size / 16)
            abort();
        if (checked && (header.flags & ZBI_FLAG_CRC32) &&
            zbi_item_crc32(data, &header, payload) != header.crc32)
            abort();
        if (header.type == ZBI_TYPE_STORAGE_BOOTFS) {
            struct error error;
            size_t files;
            int valid = bootfs_check(payload, header.length, &files, &error) == 0;
            walk_bootfs(payload, header.length, valid);
        }
    }
    (void)size;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct error error;
    size_t container_size;
    if (zbi_check(data, size, &container_size, &error) == 0) {
        if (container_size > size || container_size < 16)
            abort();
        walk_items(data, size, container_size, 1);
    } else {
        walk_items(data, size, size, 0);
    }

    struct zbi_kernel_info info;
    if (zbi_parse_kernel(data, size, &info, &error) == 0) {
        if (info.kernel_size > info.container_size || info.container_size > size ||
            info.first_item_after_kernel > info.container_size ||
            info.entry < ZBI_X64_KERNEL_LOAD_ADDRESS ||
            info.entry >= ZBI_X64_KERNEL_LOAD_ADDRESS + info.kernel_size ||
            info.reserve_memory_size > (1ULL << 30))
            abort();
    }

    /* The input as the payload of an item, CRC32 or not by its first byte. */
    static uint8_t *buffer;
    enum { CAPACITY = 1 << 20 };
    if (!buffer && !(buffer = malloc(CAPACITY)))
        abort();
    size_t used;
    uint32_t flags = size && (data[0] & 1) ? ZBI_FLAG_CRC32 : 0;
    int legacy = size && (data[0] & 2) && !flags;
    if ((legacy ? zbi_init_legacy_container : zbi_init_container)(buffer, CAPACITY, &used, &error))
        abort();
    int appended = zbi_append(buffer, CAPACITY, &used, ZBI_TYPE_STORAGE_RAMDISK, 0, flags, data,
                              (uint32_t)size, &error) == 0;
    size_t header_size = legacy ? 16 : 32;
    if (appended != (header_size + ZBI_ALIGN(size) <= CAPACITY - header_size))
        abort();
    size_t checked_size;
    if (zbi_check(buffer, used, &checked_size, &error) || checked_size != used)
        abort();
    if (appended) {
        struct zbi_iterator it;
        struct zbi_header header;
        const uint8_t *payload;
        size_t offset;
        zbi_iterator_init(&it, buffer, used);
        if (!zbi_iterator_next(&it, &header, &payload, &offset) || header.length != size ||
            (size && memcmp(payload, data, size)) ||
            zbi_iterator_next(&it, &header, &payload, &offset))
            abort();
    }
    return 0;
}
