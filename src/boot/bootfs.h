/* BOOTFS images, the payload of a ZBI STORAGE_BOOTFS item (layout in
 * boot/zbi_format.h): checking and walking one from hostile bytes, and
 * writing one. */
#ifndef GUEST_BOOT_BOOTFS_H
#define GUEST_BOOT_BOOTFS_H

#include <stddef.h>
#include <stdint.h>

#include "boot/zbi_format.h"
#include "error.h"

struct bootfs_file {
    const char *name; /* NUL-terminated, inside the image */
    uint32_t data_offset;
    uint32_t data_length;
    const uint8_t *data; /* image + data_offset */
};

/* Checks an uncompressed image: the header, then every directory entry (a
 * NUL-terminated name of at most 255 characters that is a relative path
 * without empty, "." or ".." components; data at a page-aligned offset
 * after the directory and inside the image).  *file_count is the number of
 * entries.  Errors name the entry (1 is the first) and what is wrong. */
int bootfs_check(const uint8_t *image, size_t size, size_t *file_count, struct error *error);

struct bootfs_iterator {
    const uint8_t *image;
    size_t size;
    size_t offset;
    size_t directory_end;
};

void bootfs_iterator_init(struct bootfs_iterator *it, const uint8_t *image, size_t size);

/* Meant for a checked image, though it never reads out of bounds: returns 1
 * with the next entry in *file, 0 at the end. */
int bootfs_iterator_next(struct bootfs_iterator *it, struct bootfs_file *file);

/* A file to write. */
struct bootfs_input {
    const char *name; /* relative path, as bootfs_check wants it */
    const void *data;
    uint32_t length;
};

/* The size of the image bootfs_write makes of these files; fails on a bad
 * name or if the image would pass 4 GiB. */
int bootfs_layout(const struct bootfs_input *files, size_t count, size_t *image_size,
                  struct error *error);

/* Writes the image (image_size from bootfs_layout) with the entries in the
 * order given: the format wants them sorted by name, so sort first.  Files
 * follow the directory, each on its own pages, zero-padded. */
int bootfs_write(const struct bootfs_input *files, size_t count, uint8_t *image, size_t image_size,
                 struct error *error);

#endif
