/* One --share option, parsed:
 *   --share DIR[,tag=NAME][,ro]
 * DIR is everything before the first comma (a directory whose name has a
 * comma is given through a symlink or a parent).  The tag is what the guest
 * mounts (`mount -t virtiofs NAME /mnt`); it defaults to DIR's last
 * component, `root` for /.  The parser checks syntax only; whether DIR
 * exists and is a directory is the FUSE server's start-up check. */
#ifndef GUEST_FS_SHARE_CONFIG_H
#define GUEST_FS_SHARE_CONFIG_H

#include <limits.h>
#include <stdbool.h>

#include "error.h"

#define SHARE_MAX_SHARES 8
#define SHARE_TAG_MAX 36 /* virtio-fs config space's tag field */

struct share_config {
    char directory[PATH_MAX];
    char tag[SHARE_TAG_MAX + 1];
    bool read_only;
};

int share_config_parse(const char *text, struct share_config *share, struct error *error);

/* The same tag twice: the guest could mount only one of them.  -1 with the
 * error naming both options. */
int share_config_check_tags(const struct share_config *shares, int count, struct error *error);

#endif
