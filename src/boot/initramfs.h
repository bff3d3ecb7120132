/* An initramfs written in memory: a cpio archive in the "newc" format the
 * kernel unpacks into its rootfs (Documentation/driver-api/early-userspace/
 * buffer-format.rst).  Each entry is a 110-byte ASCII header ("070701" and
 * thirteen 8-digit hex fields), the NUL-terminated name padded so that the
 * data starts 4-byte aligned, then the data padded to 4 bytes; the archive
 * ends with an entry named "TRAILER!!!".
 *
 * The kernel neither makes a file's missing parent directories nor says why
 * it skipped an entry, so the writer adds each missing parent (mode 0755)
 * itself and refuses what the kernel would drop: a name longer than it takes,
 * "." or ".." components, the same name twice. */
#ifndef GUEST_BOOT_INITRAMFS_H
#define GUEST_BOOT_INITRAMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The whole archive, by default: it is held in the VMM's memory and then in
 * the guest's, where it must fit beside the kernel. */
#define INITRAMFS_DEFAULT_LIMIT ((size_t)512 << 20)
/* The kernel skips an entry whose name, with its NUL, is over PATH_MAX. */
#define INITRAMFS_NAME_MAX 4095

struct initramfs_name {
    char *name;
    bool directory;
};

struct initramfs {
    uint8_t *data; /* malloc'd; the archive is data[0, size) */
    size_t size;
    size_t capacity;
    size_t limit;  /* no entry may take size past this; settable after init */
    uint32_t next_inode;
    bool finished; /* the trailer is written: nothing more may be added */
    /* Every name added (without the leading '/'), for parents and duplicates:
     * a linear list, since an archive built here has tens of entries. */
    struct initramfs_name *names;
    size_t name_count;
    size_t name_capacity;
};

/* An empty archive with limit INITRAMFS_DEFAULT_LIMIT; allocates nothing. */
void initramfs_init(struct initramfs *archive);

/* Frees the buffer and the names; the archive is empty again. */
void initramfs_free(struct initramfs *archive);

/* Paths are absolute or relative to the archive's root alike ("/init" and
 * "init" are the same entry).  The permission bits of mode are kept (07777);
 * the type comes from the call.  Each returns 0, or -1 with error set to
 * "PATH: ..." (the archive is unchanged then). */
int initramfs_add_directory(struct initramfs *archive, const char *path, uint32_t mode,
                            struct error *error);

int initramfs_add_file(struct initramfs *archive, const char *path, uint32_t mode,
                       const void *data, size_t size, struct error *error);

/* The bytes of the regular file host_path; errors name host_path when it
 * cannot be read. */
int initramfs_add_host_file(struct initramfs *archive, const char *path, uint32_t mode,
                            const char *host_path, struct error *error);

/* A character device node (S_IFCHR) with device number major:minor: the
 * kernel opens /dev/console before it runs /init, so the archive has one. */
int initramfs_add_char_device(struct initramfs *archive, const char *path, uint32_t mode,
                              uint32_t major, uint32_t minor, struct error *error);

/* Writes the trailer.  Afterwards data[0, size) is the archive to load. */
int initramfs_finish(struct initramfs *archive, struct error *error);

#endif
