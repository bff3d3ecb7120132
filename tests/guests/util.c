/* What a hosted program would take from libc, CRC32, and the memory map. */
#include "probe.h"

/* The compiler may call these for struct copies and loops (see the
 * Makefile's -fno-tree-loop-distribute-patterns, which keeps it from
 * turning these very loops into calls to themselves). */
void *memset(void *destination, int value, size_t length)
{
    uint8_t *d = destination;
    while (length--)
        *d++ = (uint8_t)value;
    return destination;
}

void *memcpy(void *destination, const void *source, size_t length)
{
    uint8_t *d = destination;
    const uint8_t *s = source;
    while (length--)
        *d++ = *s++;
    return destination;
}

int memcmp(const void *a, const void *b, size_t length)
{
    const uint8_t *x = a, *y = b;
    for (; length; length--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xedb88320) as zlib, ZBI and
 * GPT use it: crc32_update(0, ...) gives the CRC of the bytes. Bitwise:
 * slow, but the probe checks kilobytes. */
uint32_t crc32_update(uint32_t crc, const void *data, size_t length)
{
    const uint8_t *p = data;
    crc = ~crc;
    while (length--) {
        crc ^= *p++;
        for (int bit = 0; bit < 8; bit++)
            crc = crc >> 1 ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

struct memory_range memory_map[MEMORY_MAP_MAX];
unsigned memory_map_count;

bool memory_map_add(uint64_t start, uint64_t length, uint32_t type)
{
    if (memory_map_count == MEMORY_MAP_MAX)
        return false;
    memory_map[memory_map_count++] = (struct memory_range){start, start + length, type};
    return true;
}

bool memory_map_read_multiboot(uint32_t address, uint32_t length)
{
    for (uint32_t offset = 0; offset + 4 <= length;) {
        const uint8_t *entry = phys_ptr(address + offset);
        uint32_t size = get32(entry);
        if (size < 20 || size > length - offset - 4) {
            fail("mmap entry at offset %u: size %u", offset, size);
            return false;
        }
        uint64_t start = get64(entry + 4), bytes = get64(entry + 12);
        uint32_t type = get32(entry + 20);
        probe_printf("mmap 0x%llx-0x%llx %u", U64(start), U64(start + bytes), type);
        if (!memory_map_add(start, bytes, type)) {
            fail("more than %u mmap entries", MEMORY_MAP_MAX);
            return false;
        }
        offset += size + 4;
    }
    return true;
}

bool memory_map_check_sane(const char *name)
{
    for (unsigned i = 0; i < memory_map_count; i++) {
        const struct memory_range *range = &memory_map[i];
        if (range->end <= range->start)
            return check(false, "%s entry %u empty or wrapping", name, i);
        if (i > 0 && range->start < memory_map[i - 1].end)
            return check(false, "%s entry %u (0x%llx) overlaps or is before the one before it",
                         name, i, U64(range->start));
    }
    return check(memory_map_count > 0, "%s sane: %u entries, sorted, non-overlapping", name,
                 memory_map_count);
}

bool memory_map_is_ram(uint64_t start, uint64_t end)
{
    /* Walk the entries in order, moving `start` past each RAM entry that
     * contains it; the map is sorted (checked separately). */
    for (unsigned i = 0; i < memory_map_count && start < end; i++) {
        const struct memory_range *range = &memory_map[i];
        if (range->type == 1 && range->start <= start && start < range->end)
            start = range->end;
    }
    return start >= end;
}
