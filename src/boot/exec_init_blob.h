/* The guest's /init for --exec (init/exec_init.c, built as build/exec-init),
 * embedded as data in build/guest and build/guest-asan by
 * init/exec_init_blob.c.  Only main.c may use these symbols: the library
 * objects (src/[...]/[...].c), which the unit tests, fuzzers and tools link,
 * have no copy, so main.c hands the bytes down (exec_image_config.init). */
#ifndef GUEST_BOOT_EXEC_INIT_BLOB_H
#define GUEST_BOOT_EXEC_INIT_BLOB_H

#include <stddef.h>

extern const unsigned char exec_init_start[];
extern const unsigned char exec_init_end[];

static inline size_t exec_init_size(void)
{
    return (size_t)(exec_init_end - exec_init_start);
}

#endif
