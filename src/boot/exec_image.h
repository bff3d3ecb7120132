/* The initramfs of `guest --exec`: the project's own init (init/exec_init.c)
 * and what it is to do, made in memory, with the kernel modules it needs
 * when the kernel has them as modules.  Layout (paths in the archive):
 *
 *   /init               the init program, 0755
 *   /dev/console        character device 5:1 (the kernel opens it for /init)
 *   /exec/command       the command for sh -c, byte for byte, no newline
 *                       added; empty: an interactive shell
 *   /exec/cwd           the directory to run it in, byte for byte
 *   /exec/env           KEY=VALUE lines: PATH, HOME, TERM, those given
 *   /exec/root-tag      the virtio-fs tag of the host's /, byte for byte
 *   /exec/shares        "TAG MOUNTPOINT" or "TAG MOUNTPOINT ro" lines
 *   /exec/modules       /modules/... paths, one a line, in load order
 *   /modules/PATH       each module, PATH as modules.dep names it
 *
 * Every /exec file is present, empty when there is nothing to say. */
#ifndef GUEST_BOOT_EXEC_IMAGE_H
#define GUEST_BOOT_EXEC_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "boot/initramfs.h"
#include "error.h"

#define EXEC_IMAGE_DEFAULT_ROOT_TAG "root"
/* The tag field of virtio-fs's configuration space. */
#define EXEC_IMAGE_TAG_MAX 36

/* A virtio-fs share mounted in the guest besides the root (--share). */
struct exec_share {
    const char *tag;
    const char *mount_point; /* absolute, in the guest */
    bool read_only;
};

struct exec_image_config {
    const void *init; /* the init program (an ELF file): the VMM's embedded copy */
    size_t init_size;
    const char *command; /* for sh -c; "" for an interactive shell */
    const char *cwd;     /* absolute */
    const char *path;    /* the caller's PATH, HOME and TERM; NULL leaves one out */
    const char *home;
    const char *term;
    const char *root_tag; /* NULL: EXEC_IMAGE_DEFAULT_ROOT_TAG */
    const struct exec_share *shares;
    size_t share_count;
    /* A kernel's lib/modules/RELEASE (modules.dep, modules.builtin), or NULL
     * for none.  Unless modules_dir_given, a directory without modules.dep
     * means a kernel with its drivers built in, and is skipped. */
    const char *modules_dir;
    bool modules_dir_given; /* named by the user: it must be a modules directory */
};

/* The modules the init loads, by module name, when they are not built in;
 * each with what modules.dep says it needs, loaded first. */
extern const char *const exec_image_modules[];
extern const size_t exec_image_module_count;

/* The default modules directory: "modules" beside kernel_path (where
 * scripts/mklinux.sh puts Debian's).  Returns 0, or -1 with error set. */
int exec_image_default_modules_dir(const char *kernel_path, char *out, size_t size,
                                   struct error *error);

/* Builds and finishes the archive into *archive (initialised here; free it
 * with initramfs_free).  Returns 0, or -1 with error set to one line naming
 * the setting or file at fault and *archive freed. */
int exec_image_build(const struct exec_image_config *config, struct initramfs *archive,
                     struct error *error);

#endif
