#include "exec_mode.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/exec_image.h"

int exec_mode_prepare(struct exec_mode *mode, const struct options *options, const void *init,
                      size_t init_size, struct error *error)
{
    memset(mode, 0, sizeof(*mode));
    if (options->share_count + 1 > (int)(sizeof(mode->shares) / sizeof(mode->shares[0])))
        return error_set(error, "--exec: too many --share options");
    struct share_config *root = &mode->shares[mode->share_count++];
    snprintf(root->directory, sizeof(root->directory), "/");
    snprintf(root->tag, sizeof(root->tag), "%s", OPTIONS_EXEC_ROOT_TAG);
    root->read_only = true;

    /* Each --share is mounted where it is on the host, so the command sees
     * the same paths, writable where the share is. */
    static char mount_points[SHARE_MAX_SHARES][PATH_MAX];
    struct exec_share shares[SHARE_MAX_SHARES];
    for (int i = 0; i < options->share_count; i++) {
        const struct share_config *share = &options->shares[i];
        mode->shares[mode->share_count++] = *share;
        if (!realpath(share->directory, mount_points[i]))
            return error_set(error, "--share %s: %s", share->directory, strerror(errno));
        if (!strcmp(mount_points[i], "/"))
            return error_set(error, "--share %s: with --exec the host's / is already shared",
                             share->directory);
        shares[i] = (struct exec_share){share->tag, mount_points[i], share->read_only};
    }

    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd)))
        return error_set(error, "--exec: the current directory: %s", strerror(errno));
    char modules[PATH_MAX];
    bool modules_given = options->modules_dir != NULL;
    if (modules_given)
        snprintf(modules, sizeof(modules), "%s", options->modules_dir);
    else if (exec_image_default_modules_dir(options->kernel_path, modules, sizeof(modules),
                                            error))
        return -1;
    struct exec_image_config image = {
        .init = init,
        .init_size = init_size,
        .command = options->exec_command,
        .cwd = cwd,
        .path = getenv("PATH"),
        .home = getenv("HOME"),
        .term = getenv("TERM"),
        .root_tag = OPTIONS_EXEC_ROOT_TAG,
        .shares = shares,
        .share_count = (size_t)options->share_count,
        .modules_dir = modules,
        .modules_dir_given = modules_given,
    };
    return exec_image_build(&image, &mode->archive, error);
}

void exec_mode_free(struct exec_mode *mode)
{
    initramfs_free(&mode->archive);
}
