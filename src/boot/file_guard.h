/* The kernel and ramdisk are mapped for parsing; a file that another process
 * truncates meanwhile turns the next read of a page past its new end into
 * SIGBUS, which would end the VMM without a word.  file_guard_run turns it
 * into the file's error instead. */
#ifndef GUEST_BOOT_FILE_GUARD_H
#define GUEST_BOOT_FILE_GUARD_H

#include "boot/boot.h"
#include "error.h"

/* Runs work(opaque) with SIGBUS on the mappings of files[0..count) (entries
 * with data == NULL are skipped) reported as "PATH: changed while being read
 * ..." in error and -1.  Otherwise returns what work returned.  For the main
 * thread during set-up: not reentrant, and no other thread may fault on
 * these mappings meanwhile. */
int file_guard_run(const struct boot_file *const *files, size_t count, int (*work)(void *opaque),
                   void *opaque, struct error *error);

#endif
