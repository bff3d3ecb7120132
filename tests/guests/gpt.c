/* The GUID partition table at LBA 1 of the disk (UEFI 2.x, chapter 5). */
#include "probe.h"

#define GPT_HEADER_MIN_SIZE 92
#define GPT_ENTRY_NAME_OFFSET 56
#define GPT_ENTRY_NAME_UNITS 36
/* More than any disk the tests make; keeps a corrupt header from having us
 * read a whole disk. */
#define GPT_ARRAY_MAX (1u << 20)

static uint8_t sectors[DISK_READ_MAX];

/* The canonical text form: the first three fields are little-endian. */
static const char *guid_text(const uint8_t *guid)
{
    static char text[37];
    static const char digits[] = "0123456789ABCDEF";
    static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
    unsigned length = 0;
    for (unsigned i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[length++] = '-';
        text[length++] = digits[guid[order[i]] >> 4];
        text[length++] = digits[guid[order[i]] & 0xf];
    }
    text[length] = 0;
    return text;
}

static bool guid_is_zero(const uint8_t *guid)
{
    for (unsigned i = 0; i < 16; i++)
        if (guid[i])
            return false;
    return true;
}

struct gpt_array {
    uint64_t lba;
    uint32_t count, entry_size;
};

/* Reads the entry array; counts the used entries and returns the array's
 * CRC32, printing each used entry when `print` is set. False when a read
 * failed. */
static bool gpt_walk_array(const struct gpt_array *array, bool print, uint32_t *crc,
                           unsigned *used)
{
    uint32_t total = array->count * array->entry_size;
    unsigned index = 0;
    *crc = 0;
    *used = 0;
    for (uint32_t offset = 0; offset < total; offset += DISK_READ_MAX) {
        uint32_t chunk = total - offset < DISK_READ_MAX ? total - offset : DISK_READ_MAX;
        unsigned count = (chunk + SECTOR_SIZE - 1) / SECTOR_SIZE;
        if (!disk_read(array->lba + offset / SECTOR_SIZE, count, sectors))
            return false;
        *crc = crc32_update(*crc, sectors, chunk);
        /* entry_size is a power of two from 128 to DISK_READ_MAX: entries
         * never straddle chunks. */
        for (uint32_t at = 0; at < chunk; at += array->entry_size, index++) {
            const uint8_t *entry = sectors + at;
            if (guid_is_zero(entry))
                continue;
            ++*used;
            if (!print)
                continue;
            char name[GPT_ENTRY_NAME_UNITS + 1];
            unsigned length = 0;
            for (; length < GPT_ENTRY_NAME_UNITS; length++) {
                uint16_t unit = get16(entry + GPT_ENTRY_NAME_OFFSET + 2 * length);
                if (unit == 0)
                    break;
                name[length] = unit < 0x80 ? (char)unit : '?';
            }
            name[length] = 0;
            probe_printf("gpt partition %u type %s name \"%s\" lba %llu-%llu", index + 1,
                         guid_text(entry), printable(name, sizeof(name)),
                         U64(get64(entry + 32)), U64(get64(entry + 40)));
        }
    }
    return true;
}

void gpt_check(uint64_t capacity)
{
    if (!disk_read(1, 1, sectors))
        return;
    if (memcmp(sectors, "EFI PART", 8) != 0) {
        fail("gpt: no \"EFI PART\" signature at LBA 1");
        return;
    }
    uint32_t header_size = get32(sectors + 12);
    if (header_size < GPT_HEADER_MIN_SIZE || header_size > SECTOR_SIZE) {
        fail("gpt header size %u", header_size);
        return;
    }
    uint32_t stored_crc = get32(sectors + 16);
    memset(sectors + 16, 0, 4);
    uint32_t header_crc = crc32(sectors, header_size);
    if (header_crc != stored_crc) {
        fail("gpt header crc32 0x%08x, computed 0x%08x", stored_crc, header_crc);
        return;
    }
    uint64_t my_lba = get64(sectors + 24);
    struct gpt_array array = {get64(sectors + 72), get32(sectors + 80), get32(sectors + 84)};
    uint32_t array_crc = get32(sectors + 88);
    bool entry_size_ok = array.entry_size >= 128 && array.entry_size <= DISK_READ_MAX &&
                         !(array.entry_size & (array.entry_size - 1));
    if (my_lba != 1 || !entry_size_ok || array.count == 0 ||
        array.count > GPT_ARRAY_MAX / array.entry_size || array.lba < 2 ||
        array.lba >= capacity) {
        fail("gpt header: my_lba %llu, %u entries of %u bytes at LBA %llu", U64(my_lba),
             array.count, array.entry_size, U64(array.lba));
        return;
    }
    uint32_t crc;
    unsigned used;
    if (!gpt_walk_array(&array, false, &crc, &used))
        return;
    if (crc != array_crc) {
        fail("gpt partition array crc32 0x%08x, computed 0x%08x", array_crc, crc);
        return;
    }
    probe_printf("gpt ok, %u partitions", used);
    gpt_walk_array(&array, true, &crc, &used);
}
