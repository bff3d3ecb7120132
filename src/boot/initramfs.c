#include "boot/initramfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_SIZE 110
#define MODE_PERMISSIONS 07777u
#define TYPE_DIRECTORY 0040000u
#define TYPE_REGULAR 0100000u
#define TYPE_CHAR_DEVICE 0020000u
#define TRAILER_NAME "TRAILER!!!"
#define FIRST_CAPACITY ((size_t)64 << 10)

/* What one entry holds besides its name. */
struct entry {
    uint32_t mode; /* type and permissions */
    size_t size;
    uint32_t rdev_major;
    uint32_t rdev_minor;
    const void *data; /* size bytes, or NULL to read them from fd */
    int fd;
    const char *host_path; /* names fd in errors */
};

void initramfs_init(struct initramfs *archive)
{
    memset(archive, 0, sizeof(*archive));
    archive->limit = INITRAMFS_DEFAULT_LIMIT;
    archive->next_inode = 1; /* 0 is the trailer's, as cpio writes it */
}

void initramfs_free(struct initramfs *archive)
{
    for (size_t i = 0; i < archive->name_count; i++)
        free(archive->names[i].name);
    free(archive->names);
    free(archive->data);
    size_t limit = archive->limit;
    initramfs_init(archive);
    archive->limit = limit;
}

static size_t pad4(size_t n)
{
    return (4 - n % 4) % 4;
}

/* Bytes an entry takes: header, name with its NUL, padding, data, padding. */
static size_t entry_bytes(size_t name_length, size_t data_size)
{
    size_t head = HEADER_SIZE + name_length + 1;
    return head + pad4(head) + data_size + pad4(data_size);
}

static void describe_size(size_t bytes, char *out, size_t out_size)
{
    if (bytes % ((size_t)1 << 20) == 0)
        snprintf(out, out_size, "%zu MiB", bytes >> 20);
    else
        snprintf(out, out_size, "%zu bytes", bytes);
}

/* Room for extra more bytes, within the limit; the buffer grows by doubling
 * so that an archive of n bytes costs O(n) copying. */
static int reserve(struct initramfs *archive, size_t extra, const char *path,
                   struct error *error)
{
    if (archive->size > archive->limit || extra > archive->limit - archive->size) {
        char limit[32];
        describe_size(archive->limit, limit, sizeof(limit));
        return error_set(error, "%s: the initramfs would pass its limit of %s", path, limit);
    }
    size_t needed = archive->size + extra;
    if (needed <= archive->capacity)
        return 0;
    size_t capacity = archive->capacity ? archive->capacity : FIRST_CAPACITY;
    while (capacity < needed)
        capacity = capacity > SIZE_MAX / 2 ? needed : capacity * 2;
    if (capacity > archive->limit)
        capacity = archive->limit; /* needed is within it */
    uint8_t *data = realloc(archive->data, capacity);
    if (!data)
        return error_set(error, "%s: out of memory for a %zu-byte initramfs", path, capacity);
    archive->data = data;
    archive->capacity = capacity;
    return 0;
}

/* Checks path; *name is what the archive stores (no leading '/'). */
static int archive_name(const char *path, const char **name, struct error *error)
{
    const char *p = path;
    while (*p == '/')
        p++;
    if (!*p)
        return error_set(error, "%s: the archive's root is the kernel's, not an entry", path);
    size_t length = strlen(p);
    if (length > INITRAMFS_NAME_MAX)
        return error_set(error, "%.64s...: name of %zu bytes is longer than the kernel takes (%d)",
                         path, length, INITRAMFS_NAME_MAX);
    if (strcmp(p, TRAILER_NAME) == 0)
        return error_set(error, "%s: the name that ends the archive", path);
    *name = p;
    for (;;) {
        const char *end = strchrnul(p, '/');
        size_t part = (size_t)(end - p);
        if (part == 0 || (part == 1 && p[0] == '.') || (part == 2 && p[0] == '.' && p[1] == '.'))
            return error_set(error, "%s: empty, \".\" or \"..\" component in the name", path);
        if (!*end)
            return 0;
        p = end + 1;
    }
}

static const struct initramfs_name *find_name(const struct initramfs *archive, const char *name,
                                              size_t length)
{
    for (size_t i = 0; i < archive->name_count; i++)
        if (strncmp(archive->names[i].name, name, length) == 0 &&
            archive->names[i].name[length] == '\0')
            return &archive->names[i];
    return NULL;
}

static int remember_name(struct initramfs *archive, const char *name, size_t length,
                         bool directory, const char *path, struct error *error)
{
    if (archive->name_count == archive->name_capacity) {
        size_t capacity = archive->name_capacity ? archive->name_capacity * 2 : 32;
        struct initramfs_name *names = realloc(archive->names, capacity * sizeof(*names));
        if (!names)
            return error_set(error, "%s: out of memory", path);
        archive->names = names;
        archive->name_capacity = capacity;
    }
    char *copy = strndup(name, length);
    if (!copy)
        return error_set(error, "%s: out of memory", path);
    archive->names[archive->name_count++] = (struct initramfs_name){copy, directory};
    return 0;
}

static void put_hex(uint8_t *out, uint32_t value)
{
    static const char digits[] = "0123456789ABCDEF";
    for (int i = 7; i >= 0; i--, value >>= 4)
        out[i] = (uint8_t)digits[value & 0xf];
}

/* Reads size bytes of fd into out: a file that ends early has changed under
 * us, and a short archive entry would shift every entry after it. */
static int read_exactly(int fd, uint8_t *out, size_t size, const char *host_path,
                        struct error *error)
{
    size_t done = 0;
    while (done < size) {
        ssize_t count = read(fd, out + done, size - done);
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0)
            return error_set(error, "%s: %s", host_path, strerror(errno));
        if (count == 0)
            return error_set(error, "%s: file shrank while being read", host_path);
        done += (size_t)count;
    }
    return 0;
}

/* Writes one entry (its space reserved) at the end of the archive. */
static int write_entry(struct initramfs *archive, const char *name, size_t name_length,
                       const struct entry *entry, uint32_t inode, struct error *error)
{
    uint8_t *out = archive->data + archive->size;
    uint32_t fields[13] = {
        inode,
        entry->mode,
        0, /* uid: root's, whoever runs the VMM */
        0, /* gid */
        (entry->mode & ~MODE_PERMISSIONS) == TYPE_DIRECTORY ? 2 : 1,
        0, /* mtime: the same archive from the same inputs */
        (uint32_t)entry->size,
        0, 0, /* the device the file came from: none */
        entry->rdev_major,
        entry->rdev_minor,
        (uint32_t)name_length + 1,
        0, /* check: only used by the "070702" format */
    };
    memcpy(out, "070701", 6);
    for (int i = 0; i < 13; i++)
        put_hex(out + 6 + 8 * i, fields[i]);
    size_t at = HEADER_SIZE;
    memcpy(out + at, name, name_length);
    at += name_length;
    size_t zeros = 1 + pad4(HEADER_SIZE + name_length + 1);
    memset(out + at, 0, zeros);
    at += zeros;
    if (entry->data)
        memcpy(out + at, entry->data, entry->size);
    else if (read_exactly(entry->fd, out + at, entry->size, entry->host_path, error))
        return -1;
    at += entry->size;
    memset(out + at, 0, pad4(entry->size));
    archive->size += at + pad4(entry->size);
    return 0;
}

static const struct entry parent_entry = {TYPE_DIRECTORY | 0755, 0, 0, 0, "", -1, NULL};

/* The parents of name that the archive lacks, shortest first, with the space
 * they and the entry take: all checked before anything is written. */
static int add_missing_parents(struct initramfs *archive, const char *name, const char *path,
                               struct error *error)
{
    for (const char *slash = strchr(name, '/'); slash; slash = strchr(slash + 1, '/')) {
        size_t length = (size_t)(slash - name);
        const struct initramfs_name *parent = find_name(archive, name, length);
        if (parent && !parent->directory)
            return error_set(error, "%s: %.*s is a file in the archive, not a directory", path,
                             (int)length, name);
        if (parent)
            continue;
        if (reserve(archive, entry_bytes(length, 0), path, error) ||
            remember_name(archive, name, length, true, path, error) ||
            write_entry(archive, name, length, &parent_entry, archive->next_inode++, error))
            return -1;
    }
    return 0;
}

static int add_entry(struct initramfs *archive, const char *path, const struct entry *entry,
                     struct error *error)
{
    if (archive->finished)
        return error_set(error, "%s: the initramfs is already finished", path);
    const char *name = NULL;
    if (archive_name(path, &name, error))
        return -1;
    size_t length = strlen(name);
    if (find_name(archive, name, length))
        return error_set(error, "%s: already in the initramfs", path);
    if (entry->size > UINT32_MAX)
        return error_set(error, "%s: %zu bytes do not fit a cpio entry (4 GiB - 1 at most)",
                         path, entry->size);

    /* Undone on any failure, so that a failed call leaves the archive as it
     * was. */
    size_t old_size = archive->size, old_names = archive->name_count;
    uint32_t old_inode = archive->next_inode;
    bool directory = (entry->mode & ~MODE_PERMISSIONS) == TYPE_DIRECTORY;
    if (add_missing_parents(archive, name, path, error) ||
        reserve(archive, entry_bytes(length, entry->size), path, error) ||
        remember_name(archive, name, length, directory, path, error) ||
        write_entry(archive, name, length, entry, archive->next_inode++, error)) {
        while (archive->name_count > old_names)
            free(archive->names[--archive->name_count].name);
        archive->size = old_size;
        archive->next_inode = old_inode;
        return -1;
    }
    return 0;
}

int initramfs_add_directory(struct initramfs *archive, const char *path, uint32_t mode,
                            struct error *error)
{
    struct entry entry = {TYPE_DIRECTORY | (mode & MODE_PERMISSIONS), 0, 0, 0, "", -1, NULL};
    return add_entry(archive, path, &entry, error);
}

int initramfs_add_file(struct initramfs *archive, const char *path, uint32_t mode,
                       const void *data, size_t size, struct error *error)
{
    struct entry entry = {TYPE_REGULAR | (mode & MODE_PERMISSIONS), size, 0, 0,
                          data ? data : "", -1, NULL};
    return add_entry(archive, path, &entry, error);
}

int initramfs_add_char_device(struct initramfs *archive, const char *path, uint32_t mode,
                              uint32_t major, uint32_t minor, struct error *error)
{
    struct entry entry = {TYPE_CHAR_DEVICE | (mode & MODE_PERMISSIONS), 0, major, minor, "", -1,
                          NULL};
    return add_entry(archive, path, &entry, error);
}

int initramfs_add_host_file(struct initramfs *archive, const char *path, uint32_t mode,
                            const char *host_path, struct error *error)
{
    int fd = open(host_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return error_set(error, "%s: %s", host_path, strerror(errno));
    struct stat st;
    int result;
    if (fstat(fd, &st))
        result = error_set(error, "%s: %s", host_path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        result = error_set(error, "%s: not a regular file", host_path);
    else {
        struct entry entry = {TYPE_REGULAR | (mode & MODE_PERMISSIONS), (size_t)st.st_size, 0, 0,
                              NULL, fd, host_path};
        result = add_entry(archive, path, &entry, error);
    }
    close(fd);
    return result;
}

int initramfs_finish(struct initramfs *archive, struct error *error)
{
    if (archive->finished)
        return error_set(error, "initramfs: finished twice");
    static const struct entry trailer = {0, 0, 0, 0, "", -1, NULL};
    size_t length = strlen(TRAILER_NAME);
    if (reserve(archive, entry_bytes(length, 0), "initramfs", error) ||
        write_entry(archive, TRAILER_NAME, length, &trailer, 0, error))
        return -1;
    archive->finished = true;
    return 0;
}
