/* A strict reader of "newc" cpio archives for the tests: what the kernel's
 * unpacker needs (magic, hex fields, 4-byte alignment of every header and
 * every file's data, a NUL-terminated name of the stated length, the
 * trailer last), checked independently of src/boot/initramfs.c. */
#ifndef GUEST_TEST_CPIO_READ_H
#define GUEST_TEST_CPIO_READ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CPIO_READ_MAX_ENTRIES 256

struct cpio_read_entry {
    char name[4096];
    uint32_t inode;
    uint32_t mode;
    uint32_t nlink;
    uint32_t uid;
    uint32_t gid;
    uint32_t rdev_major;
    uint32_t rdev_minor;
    uint32_t size;
    const uint8_t *data;
    size_t header_offset;
    size_t data_offset;
};

struct cpio_read_archive {
    struct cpio_read_entry entries[CPIO_READ_MAX_ENTRIES];
    size_t count; /* the trailer not counted */
    char problem[256];
};

static inline int cpio_read_hex(const uint8_t *text, uint32_t *value)
{
    uint32_t result = 0;
    for (int i = 0; i < 8; i++) {
        uint8_t c = text[i];
        uint32_t digit;
        if (c >= '0' && c <= '9')
            digit = (uint32_t)(c - '0');
        else if (c >= 'A' && c <= 'F')
            digit = (uint32_t)(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f')
            digit = (uint32_t)(c - 'a' + 10);
        else
            return -1;
        result = result << 4 | digit;
    }
    *value = result;
    return 0;
}

/* Returns 0 with archive filled, or -1 with archive->problem saying what and
 * where. */
static inline int cpio_read(const uint8_t *data, size_t size, struct cpio_read_archive *archive)
{
    memset(archive, 0, sizeof(*archive));
    size_t at = 0;
    for (;;) {
        if (at % 4)
            return snprintf(archive->problem, sizeof(archive->problem),
                            "header at %zu is not 4-byte aligned", at), -1;
        if (size - at < 110)
            return snprintf(archive->problem, sizeof(archive->problem),
                            "no trailer: %zu bytes left at %zu", size - at, at), -1;
        if (memcmp(data + at, "070701", 6) != 0)
            return snprintf(archive->problem, sizeof(archive->problem), "bad magic at %zu",
                            at), -1;
        uint32_t field[13];
        for (int i = 0; i < 13; i++)
            if (cpio_read_hex(data + at + 6 + 8 * i, &field[i]))
                return snprintf(archive->problem, sizeof(archive->problem),
                                "field %d at %zu is not hex", i, at), -1;
        uint32_t name_size = field[11];
        size_t name_at = at + 110;
        if (name_size == 0 || name_size > 4096 || name_size > size - name_at)
            return snprintf(archive->problem, sizeof(archive->problem),
                            "name size %u at %zu out of range", name_size, at), -1;
        if (data[name_at + name_size - 1] != 0 || memchr(data + name_at, 0, name_size - 1))
            return snprintf(archive->problem, sizeof(archive->problem),
                            "name at %zu is not one NUL-terminated string", at), -1;
        size_t data_at = (name_at + name_size + 3) & ~(size_t)3;
        for (size_t i = name_at + name_size; i < data_at && i < size; i++)
            if (data[i])
                return snprintf(archive->problem, sizeof(archive->problem),
                                "padding after the name at %zu is not zero", at), -1;
        if (data_at > size || field[6] > size - data_at)
            return snprintf(archive->problem, sizeof(archive->problem),
                            "data of entry at %zu runs past the end", at), -1;
        const char *name = (const char *)data + name_at;
        if (strcmp(name, "TRAILER!!!") == 0) {
            size_t end = (data_at + field[6] + 3) & ~(size_t)3;
            if (end != size)
                return snprintf(archive->problem, sizeof(archive->problem),
                                "%zu bytes after the trailer", size - end), -1;
            return 0;
        }
        if (archive->count == CPIO_READ_MAX_ENTRIES)
            return snprintf(archive->problem, sizeof(archive->problem), "too many entries"), -1;
        struct cpio_read_entry *entry = &archive->entries[archive->count++];
        memcpy(entry->name, name, name_size);
        entry->inode = field[0];
        entry->mode = field[1];
        entry->uid = field[2];
        entry->gid = field[3];
        entry->nlink = field[4];
        entry->size = field[6];
        entry->rdev_major = field[9];
        entry->rdev_minor = field[10];
        entry->data = data + data_at;
        entry->header_offset = at;
        entry->data_offset = data_at;
        size_t next = data_at + field[6];
        for (size_t i = next; i < ((next + 3) & ~(size_t)3); i++)
            if (i >= size || data[i])
                return snprintf(archive->problem, sizeof(archive->problem),
                                "padding after the data of %s is not zero", name), -1;
        at = (next + 3) & ~(size_t)3;
    }
}

/* The entry named name (as stored: no leading '/'), or NULL. */
static inline const struct cpio_read_entry *cpio_read_find(const struct cpio_read_archive *archive,
                                                           const char *name)
{
    for (size_t i = 0; i < archive->count; i++)
        if (strcmp(archive->entries[i].name, name) == 0)
            return &archive->entries[i];
    return NULL;
}

#endif
