#include "boot/bootfs.h"

#include <string.h>

#define HEADER_SIZE sizeof(struct zbi_bootfs_header)
#define DIRENT_SIZE sizeof(struct zbi_bootfs_dirent)

/* Names become paths when a tool extracts the files: no absolute paths, and
 * no components that would climb out of the extraction directory. */
static const char *name_problem(const char *name, size_t length)
{
    if (length == 0)
        return "an empty name";
    if (length > ZBI_BOOTFS_MAX_NAME_LENGTH - 1)
        return "a name longer than 255 bytes";
    if (memchr(name, '\0', length))
        return "a NUL inside the name";
    if (name[0] == '/')
        return "an absolute name";
    const char *component = name;
    const char *end = name + length;
    while (component <= end) {
        const char *slash = memchr(component, '/', (size_t)(end - component));
        size_t component_length = (size_t)((slash ? slash : end) - component);
        if (component_length == 0)
            return "an empty path component";
        if ((component_length == 1 && component[0] == '.') ||
            (component_length == 2 && component[0] == '.' && component[1] == '.'))
            return "a \".\" or \"..\" path component";
        if (!slash)
            break;
        component = slash + 1;
    }
    return NULL;
}

/* A name for an error message: hostile bytes must not reach a terminal as
 * control sequences. */
static const char *printable_name(const char *name, char out[72])
{
    size_t i = 0;
    for (; name[i] && i < 64; i++) {
        unsigned char c = (unsigned char)name[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    strcpy(out + i, name[i] ? "..." : "");
    return out;
}

static void dirent_read(const uint8_t *at, struct zbi_bootfs_dirent *dirent)
{
    memcpy(dirent, at, DIRENT_SIZE);
}

int bootfs_check(const uint8_t *image, size_t size, size_t *file_count, struct error *error)
{
    struct zbi_bootfs_header header;
    if (size < HEADER_SIZE)
        return error_set(error, "bootfs: truncated: %zu bytes, too short for its header", size);
    memcpy(&header, image, HEADER_SIZE);
    if (header.magic != ZBI_BOOTFS_MAGIC)
        return error_set(error, "bootfs: bad magic 0x%08x (expected 0x%08x)", header.magic,
                         ZBI_BOOTFS_MAGIC);
    if (header.dirsize > size - HEADER_SIZE)
        return error_set(error, "bootfs: directory of %u bytes runs past the end of the image "
                                "(%zu bytes)",
                         header.dirsize, size);
    size_t directory_end = HEADER_SIZE + header.dirsize;
    size_t count = 0;
    for (size_t offset = HEADER_SIZE; offset < directory_end;) {
        size_t index = count + 1;
        size_t left = directory_end - offset;
        struct zbi_bootfs_dirent dirent;
        if (left < DIRENT_SIZE)
            return error_set(error, "bootfs: entry %zu at offset 0x%zx crosses the end of the "
                                    "directory",
                             index, offset);
        dirent_read(image + offset, &dirent);
        if (dirent.name_len < 2 || dirent.name_len > ZBI_BOOTFS_MAX_NAME_LENGTH)
            return error_set(error, "bootfs: entry %zu at offset 0x%zx: name length %u (2 to %u "
                                    "with the NUL)",
                             index, offset, dirent.name_len, ZBI_BOOTFS_MAX_NAME_LENGTH);
        size_t entry_size = ZBI_BOOTFS_DIRENT_SIZE((size_t)dirent.name_len);
        if (entry_size > left)
            return error_set(error, "bootfs: entry %zu at offset 0x%zx crosses the end of the "
                                    "directory",
                             index, offset);
        const char *name = (const char *)image + offset + DIRENT_SIZE;
        if (name[dirent.name_len - 1] != '\0')
            return error_set(error, "bootfs: entry %zu at offset 0x%zx: name not NUL-terminated",
                             index, offset);
        const char *problem = name_problem(name, dirent.name_len - 1);
        if (problem)
            return error_set(error, "bootfs: entry %zu at offset 0x%zx: %s", index, offset,
                             problem);
        char shown[72];
        printable_name(name, shown);
        if (dirent.data_off % ZBI_BOOTFS_PAGE_SIZE)
            return error_set(error, "bootfs: %s: data offset 0x%x is not a multiple of %u", shown,
                             dirent.data_off, ZBI_BOOTFS_PAGE_SIZE);
        if (dirent.data_off > size || dirent.data_len > size - dirent.data_off)
            return error_set(error, "bootfs: %s: data [0x%x, +%u) runs past the end of the image "
                                    "(%zu bytes)",
                             shown, dirent.data_off, dirent.data_len, size);
        if (dirent.data_len && dirent.data_off < directory_end)
            return error_set(error, "bootfs: %s: data at 0x%x overlaps the directory", shown,
                             dirent.data_off);
        offset += entry_size;
        count++;
    }
    *file_count = count;
    return 0;
}

void bootfs_iterator_init(struct bootfs_iterator *it, const uint8_t *image, size_t size)
{
    struct zbi_bootfs_header header;
    it->image = image;
    it->size = size;
    it->offset = HEADER_SIZE;
    it->directory_end = 0;
    if (size < HEADER_SIZE)
        return;
    memcpy(&header, image, HEADER_SIZE);
    if (header.dirsize <= size - HEADER_SIZE)
        it->directory_end = HEADER_SIZE + header.dirsize;
}

int bootfs_iterator_next(struct bootfs_iterator *it, struct bootfs_file *file)
{
    if (it->offset >= it->directory_end || it->directory_end - it->offset < DIRENT_SIZE)
        return 0;
    struct zbi_bootfs_dirent dirent;
    dirent_read(it->image + it->offset, &dirent);
    size_t entry_size = ZBI_BOOTFS_DIRENT_SIZE((size_t)dirent.name_len);
    const char *name = (const char *)it->image + it->offset + DIRENT_SIZE;
    if (dirent.name_len == 0 || entry_size > it->directory_end - it->offset ||
        name[dirent.name_len - 1] != '\0' || dirent.data_off > it->size ||
        dirent.data_len > it->size - dirent.data_off) {
        it->offset = it->directory_end;
        return 0;
    }
    file->name = name;
    file->data_offset = dirent.data_off;
    file->data_length = dirent.data_len;
    file->data = it->image + dirent.data_off;
    it->offset += entry_size;
    return 1;
}

int bootfs_layout(const struct bootfs_input *files, size_t count, size_t *image_size,
                  struct error *error)
{
    size_t directory_end = HEADER_SIZE;
    for (size_t i = 0; i < count; i++) {
        const char *problem = name_problem(files[i].name, strlen(files[i].name));
        if (problem)
            return error_set(error, "bootfs: \"%s\": %s", files[i].name, problem);
        directory_end += ZBI_BOOTFS_DIRENT_SIZE(strlen(files[i].name) + 1);
        if (directory_end > UINT32_MAX)
            return error_set(error, "bootfs: the directory would pass 4 GiB");
    }
    /* Each step adds under 4 GiB + 4 KiB to a total kept at or under 4 GiB:
     * no size_t overflow on the way. */
    size_t total = ZBI_BOOTFS_PAGE_ALIGN(directory_end);
    for (size_t i = 0; i < count; i++) {
        total += ZBI_BOOTFS_PAGE_ALIGN((size_t)files[i].length);
        if (total > UINT32_MAX)
            return error_set(error, "bootfs: the image would pass 4 GiB at %s", files[i].name);
    }
    *image_size = total;
    return 0;
}

int bootfs_write(const struct bootfs_input *files, size_t count, uint8_t *image,
                 size_t image_size, struct error *error)
{
    size_t needed;
    if (bootfs_layout(files, count, &needed, error))
        return -1;
    if (image_size < needed)
        return error_set(error, "bootfs: %zu bytes given for an image of %zu", image_size,
                         needed);
    memset(image, 0, image_size);
    size_t directory_end = HEADER_SIZE;
    for (size_t i = 0; i < count; i++)
        directory_end += ZBI_BOOTFS_DIRENT_SIZE(strlen(files[i].name) + 1);
    struct zbi_bootfs_header header = {
        .magic = ZBI_BOOTFS_MAGIC,
        .dirsize = (uint32_t)(directory_end - HEADER_SIZE),
    };
    memcpy(image, &header, HEADER_SIZE);
    size_t entry = HEADER_SIZE;
    size_t data = ZBI_BOOTFS_PAGE_ALIGN(directory_end);
    for (size_t i = 0; i < count; i++) {
        size_t name_length = strlen(files[i].name) + 1;
        struct zbi_bootfs_dirent dirent = {
            .name_len = (uint32_t)name_length,
            .data_len = files[i].length,
            .data_off = (uint32_t)data,
        };
        memcpy(image + entry, &dirent, DIRENT_SIZE);
        memcpy(image + entry + DIRENT_SIZE, files[i].name, name_length);
        if (files[i].length)
            memcpy(image + data, files[i].data, files[i].length);
        entry += ZBI_BOOTFS_DIRENT_SIZE(name_length);
        data += ZBI_BOOTFS_PAGE_ALIGN((size_t)files[i].length);
    }
    return 0;
}
