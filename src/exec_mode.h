/* `guest --exec COMMAND KERNEL`: what the option adds to the machine.  The
 * host's / shared read-only as tag "root" (the user's --share after it,
 * each mounted in the guest at its host path), an initramfs made in memory
 * with the project's init (init/exec_init.c) and the command, the kernel's
 * modules when it needs them, and the port the init reports the command's
 * status on.  main.c applies it; the options were checked against it. */
#ifndef GUEST_EXEC_MODE_H
#define GUEST_EXEC_MODE_H

#include <stddef.h>

#include "boot/initramfs.h"
#include "error.h"
#include "options.h"

struct exec_mode {
    struct share_config shares[SHARE_MAX_SHARES + 1]; /* the root first, then --share's */
    int share_count;
    struct initramfs archive; /* the initrd */
};

/* Builds it all from options; init is the init program's bytes (main.c
 * has the embedded copy).  Errors name the option or file at fault. */
int exec_mode_prepare(struct exec_mode *mode, const struct options *options, const void *init,
                      size_t init_size, struct error *error);
void exec_mode_free(struct exec_mode *mode);

#endif
