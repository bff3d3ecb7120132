/* tests/init/run's image maker: the --exec initramfs exactly as the VMM
 * builds it (src/boot/exec_image.c), unpacked into a directory through the
 * unit tests' reader (device nodes left out: a user namespace cannot make
 * them).
 *   exec-image-tree INIT DIR [-c COMMAND] [-d CWD] [-t ROOT_TAG] [-m MODULES_DIR]
 *                   [-s TAG:MOUNTPOINT[:ro]]...
 * PATH, HOME and TERM are this program's own, as guest passes the caller's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/exec_image.h"
#include "cpio_read.h"

#define MAX_SHARES 8

static struct cpio_read_archive parsed;

static int read_whole(const char *path, unsigned char **data, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return -1;
    size_t capacity = 1 << 20;
    *data = malloc(capacity);
    *size = 0;
    size_t count;
    while (*data && (count = fread(*data + *size, 1, capacity - *size, file)) > 0) {
        *size += count;
        if (*size == capacity)
            *data = realloc(*data, capacity *= 2);
    }
    fclose(file);
    return *data ? 0 : -1;
}

static int unpack(const char *dir, const struct initramfs *archive)
{
    if (cpio_read(archive->data, archive->size, &parsed)) {
        fprintf(stderr, "exec-image-tree: the archive does not read back: %s\n", parsed.problem);
        return -1;
    }
    char path[8192];
    for (size_t i = 0; i < parsed.count; i++) {
        const struct cpio_read_entry *entry = &parsed.entries[i];
        snprintf(path, sizeof(path), "%s/%s", dir, entry->name);
        int type = entry->mode & S_IFMT;
        if (type == S_IFDIR && mkdir(path, entry->mode & 07777) && errno != EEXIST)
            return perror(path), -1;
        if (type != S_IFREG)
            continue;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, entry->mode & 07777);
        if (fd < 0 || write(fd, entry->data, entry->size) != (ssize_t)entry->size || close(fd))
            return perror(path), -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct exec_share shares[MAX_SHARES];
    struct exec_image_config config = {
        .command = "", .cwd = "/", .path = getenv("PATH"), .home = getenv("HOME"),
        .term = getenv("TERM"), .shares = shares};
    int option;
    while ((option = getopt(argc, argv, "c:d:t:m:s:")) != -1) {
        switch (option) {
        case 'c': config.command = optarg; break;
        case 'd': config.cwd = optarg; break;
        case 't': config.root_tag = optarg; break;
        case 'm': config.modules_dir = optarg, config.modules_dir_given = true; break;
        case 's': {
            if (config.share_count == MAX_SHARES)
                return fprintf(stderr, "exec-image-tree: too many shares\n"), 2;
            struct exec_share *share = &shares[config.share_count++];
            share->tag = strtok(optarg, ":");
            share->mount_point = strtok(NULL, ":");
            const char *mode = strtok(NULL, ":");
            share->read_only = mode && strcmp(mode, "ro") == 0;
            if (!share->tag || !share->mount_point)
                return fprintf(stderr, "exec-image-tree: -s TAG:MOUNTPOINT[:ro]\n"), 2;
            break;
        }
        default: return 2;
        }
    }
    if (argc - optind != 2)
        return fprintf(stderr, "usage: exec-image-tree [OPTIONS] INIT DIR\n"), 2;
    unsigned char *init;
    if (read_whole(argv[optind], &init, &config.init_size))
        return perror(argv[optind]), 1;
    config.init = init;
    struct initramfs archive;
    struct error error;
    if (exec_image_build(&config, &archive, &error))
        return fprintf(stderr, "guest: %s\n", error.message), 1;
    int result = unpack(argv[optind + 1], &archive) ? 1 : 0;
    initramfs_free(&archive);
    free(init);
    return result;
}
