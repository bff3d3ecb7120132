/* The FUSE operations on names and inodes: lookups, attributes, what makes,
 * removes and renames entries, statfs, access and extended attributes.
 * Names are single components in a directory node's descriptor (*at calls
 * and openat2), so no host path is ever walked; an inode is reached through
 * its node's O_PATH descriptor (AT_EMPTY_PATH) or, where a call needs a
 * path or a real open, through /proc/self/fd, which lands on the inode
 * itself and follows no symlink further. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fuse_internal.h"

static int directory_node(const struct fuse_node *node)
{
    return S_ISDIR(node->type) ? 0 : -ENOTDIR;
}

/* Where a new entry is to be made in node: nothing is made that could not be
 * given to the guest. */
static int can_make_entry(const struct fuse_server *server, const struct fuse_node *node)
{
    if (!S_ISDIR(node->type))
        return -ENOTDIR;
    return fuse_nodes_full(&server->nodes) ? -ENFILE : 0;
}

static int chmod_node(const struct fuse_server *server, const struct fuse_node *node,
                      mode_t bits)
{
    char name[16];
    fuse_proc_name(node->fd, name, sizeof(name));
    return fchmodat(server->proc_fd, name, bits, 0) ? -errno : 0;
}

static int reply_entry(struct fuse_request *request, const struct fuse_entry_out *entry)
{
    return fuse_reply(request, entry, sizeof(*entry));
}

int fuse_op_lookup(struct fuse_server *server, struct fuse_request *request)
{
    const char *name;
    int error = fuse_take_name(request, &name);
    if (!error)
        error = directory_node(request->node);
    struct fuse_entry_out entry;
    if (!error)
        error = fuse_lookup_entry(server, request->node->fd, name, &entry);
    return error ? error : reply_entry(request, &entry);
}

/* After MKNOD or MKDIR made name: its entry, with the permissions the guest
 * asked for where the VMM's umask took some away (the special bits stay the
 * host's: a set-group-ID directory's is inherited, not asked for). */
static int created_entry(struct fuse_server *server, struct fuse_request *request, int dir_fd,
                         const char *name, mode_t wanted)
{
    struct fuse_entry_out entry;
    int error = fuse_lookup_entry(server, dir_fd, name, &entry);
    if (error)
        return error;
    const struct fuse_node *node = fuse_nodes_get(&server->nodes, entry.nodeid);
    mode_t mode = fuse_restored_mode(entry.attr.mode, wanted);
    if (node && mode != (entry.attr.mode & 07777) && chmod_node(server, node, mode) == 0) {
        struct stat st;
        if (fuse_stat_fd(node->fd, &st) == 0)
            fuse_fill_attr(&entry.attr, &st);
    }
    return reply_entry(request, &entry);
}

int fuse_op_mknod(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_mknod_in in;
    const char *name;
    int error = fuse_take(request, &in, sizeof(in));
    if (!error)
        error = fuse_take_name(request, &name);
    if (!error)
        error = can_make_entry(server, request->node);
    if (error)
        return error;
    mode_t type = in.mode & S_IFMT;
    if (type == 0)
        type = S_IFREG;
    if (type == S_IFCHR || type == S_IFBLK)
        return -EPERM; /* a device node would open the host's device */
    if (type != S_IFREG && type != S_IFIFO && type != S_IFSOCK)
        return -EINVAL;
    mode_t bits = fuse_creation_mode(type, in.mode, in.umask);
    int dir_fd = request->node->fd;
    if (mknodat(dir_fd, name, type | bits, 0))
        return -errno;
    return created_entry(server, request, dir_fd, name, bits);
}

int fuse_op_mkdir(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_mkdir_in in;
    const char *name;
    int error = fuse_take(request, &in, sizeof(in));
    if (!error)
        error = fuse_take_name(request, &name);
    if (!error)
        error = can_make_entry(server, request->node);
    if (error)
        return error;
    mode_t bits = fuse_creation_mode(S_IFDIR, in.mode, in.umask);
    int dir_fd = request->node->fd;
    if (mkdirat(dir_fd, name, bits))
        return -errno;
    return created_entry(server, request, dir_fd, name, bits);
}

int fuse_op_symlink(struct fuse_server *server, struct fuse_request *request)
{
    const char *name, *target;
    int error = fuse_take_name(request, &name);
    if (!error)
        error = fuse_take_string(request, &target, PATH_MAX - 1);
    if (!error)
        error = can_make_entry(server, request->node);
    if (error)
        return error;
    /* The target is only text: nothing here ever follows it. */
    int dir_fd = request->node->fd;
    if (symlinkat(target, dir_fd, name))
        return -errno;
    struct fuse_entry_out entry;
    error = fuse_lookup_entry(server, dir_fd, name, &entry);
    return error ? error : reply_entry(request, &entry);
}

int fuse_op_link(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_link_in in;
    const char *name;
    int error = fuse_take(request, &in, sizeof(in));
    if (!error)
        error = fuse_take_name(request, &name);
    if (!error)
        error = directory_node(request->node);
    if (error)
        return error;
    const struct fuse_node *target = fuse_nodes_get(&server->nodes, in.oldnodeid);
    if (!target)
        return -ESTALE;
    if (S_ISDIR(target->type))
        return -EPERM;
    /* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the magic link does not,
     * and links the inode itself (a symlink too, not what it points to). */
    char target_name[16];
    fuse_proc_name(target->fd, target_name, sizeof(target_name));
    int dir_fd = request->node->fd;
    if (linkat(server->proc_fd, target_name, dir_fd, name, AT_SYMLINK_FOLLOW))
        return -errno;
    struct fuse_entry_out entry;
    error = fuse_lookup_entry(server, dir_fd, name, &entry);
    return error ? error : reply_entry(request, &entry);
}

static int remove_entry(struct fuse_request *request, int flags)
{
    const char *name;
    int error = fuse_take_name(request, &name);
    if (!error)
        error = directory_node(request->node);
    if (error)
        return error;
    return unlinkat(request->node->fd, name, flags) ? -errno : 0;
}

int fuse_op_unlink(struct fuse_server *server, struct fuse_request *request)
{
    (void)server;
    return remove_entry(request, 0);
}

int fuse_op_rmdir(struct fuse_server *server, struct fuse_request *request)
{
    (void)server;
    return remove_entry(request, AT_REMOVEDIR);
}

static int rename_entry(struct fuse_server *server, struct fuse_request *request,
                        uint64_t new_dir_id, unsigned flags)
{
    const char *old_name, *new_name;
    int error = fuse_take_name(request, &old_name);
    if (!error)
        error = fuse_take_name(request, &new_name);
    if (!error)
        error = directory_node(request->node);
    if (error)
        return error;
    const struct fuse_node *new_dir = fuse_nodes_get(&server->nodes, new_dir_id);
    if (!new_dir)
        return -ESTALE;
    if ((error = directory_node(new_dir)))
        return error;
    /* The system call itself: glibc's renameat2 makes plain renames renameat,
     * one more call for the device thread's seccomp list. */
    if (syscall(SYS_renameat2, request->node->fd, old_name, new_dir->fd, new_name, flags))
        return -errno;
    return 0;
}

int fuse_op_rename(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_rename_in in;
    int error = fuse_take(request, &in, sizeof(in));
    return error ? error : rename_entry(server, request, in.newdir, 0);
}

int fuse_op_rename2(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_rename2_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    /* RENAME_WHITEOUT makes a device node: refused with the rest. */
    if (in.flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
        return -EINVAL;
    return rename_entry(server, request, in.newdir, in.flags);
}

int fuse_op_readlink(struct fuse_server *server, struct fuse_request *request)
{
    if (!S_ISLNK(request->node->type))
        return -EINVAL;
    ssize_t length = readlinkat(request->node->fd, "", (char *)server->scratch, PATH_MAX);
    if (length < 0)
        return -errno;
    /* As readlink(2), the text is cut to the room there is. */
    if ((uint64_t)length > request->room)
        length = (ssize_t)request->room;
    return fuse_reply(request, server->scratch, (uint32_t)length);
}

/* --- attributes ------------------------------------------------------------ */

static int reply_attributes(struct fuse_request *request)
{
    struct stat st;
    int error = fuse_stat_fd(request->node->fd, &st);
    if (error)
        return error;
    struct fuse_attr_out out = {.attr_valid = FUSE_TIMEOUT_SECONDS};
    fuse_fill_attr(&out.attr, &st);
    return fuse_reply(request, &out, sizeof(out));
}

int fuse_op_getattr(struct fuse_server *server, struct fuse_request *request)
{
    (void)server;
    struct fuse_getattr_in in;
    int error = fuse_take(request, &in, sizeof(in));
    /* The node's descriptor is the same inode as any handle's: fh is not needed. */
    return error ? error : reply_attributes(request);
}

static int set_size(struct fuse_server *server, struct fuse_request *request,
                    const struct fuse_setattr_in *in)
{
    const struct fuse_node *node = request->node;
    if (S_ISDIR(node->type))
        return -EISDIR;
    if (!S_ISREG(node->type) || in->size > INT64_MAX)
        return -EINVAL;
    if (in->valid & FATTR_FH) {
        const struct fuse_handle *handle =
            fuse_handles_get(&server->handles, in->fh, FUSE_HANDLE_FILE);
        if (!handle || handle->node != request->header.nodeid)
            return -EBADF;
        return ftruncate(handle->fd, (off_t)in->size) ? -errno : 0;
    }
    int fd = fuse_reopen(server, node, O_WRONLY);
    if (fd < 0)
        return fd;
    int error = ftruncate(fd, (off_t)in->size) ? -errno : 0;
    close(fd);
    return error;
}

static struct timespec time_to_set(uint32_t valid, uint32_t set, uint32_t now, uint64_t seconds,
                                   uint32_t nanoseconds)
{
    if (valid & now)
        return (struct timespec){0, UTIME_NOW};
    if (valid & set)
        return (struct timespec){(time_t)seconds, nanoseconds};
    return (struct timespec){0, UTIME_OMIT};
}

int fuse_op_setattr(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_setattr_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    const struct fuse_node *node = request->node;
    if (in.valid & FATTR_MODE) {
        /* Linux has no mode on a symlink; the magic link would not follow it. */
        if (S_ISLNK(node->type))
            return -EOPNOTSUPP;
        if ((error = chmod_node(server, node, fuse_allowed_mode(node->type, in.mode))))
            return error;
    }
    if (in.valid & (FATTR_UID | FATTR_GID)) {
        uid_t uid = in.valid & FATTR_UID ? in.uid : (uid_t)-1;
        gid_t gid = in.valid & FATTR_GID ? in.gid : (gid_t)-1;
        if (fchownat(node->fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
            return -errno;
    }
    if (in.valid & FATTR_SIZE && (error = set_size(server, request, &in)))
        return error;
    uint32_t times = FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW | FATTR_MTIME_NOW;
    if (in.valid & times) {
        struct timespec set[2] = {
            time_to_set(in.valid, FATTR_ATIME, FATTR_ATIME_NOW, in.atime, in.atimensec),
            time_to_set(in.valid, FATTR_MTIME, FATTR_MTIME_NOW, in.mtime, in.mtimensec),
        };
        if (utimensat(node->fd, "", set, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
            return -errno;
    }
    return reply_attributes(request);
}

int fuse_op_statfs(struct fuse_server *server, struct fuse_request *request)
{
    (void)server;
    struct statfs fs;
    if (fstatfs(request->node->fd, &fs))
        return -errno;
    struct fuse_statfs_out out = {.st = {
                                      .blocks = fs.f_blocks,
                                      .bfree = fs.f_bfree,
                                      .bavail = fs.f_bavail,
                                      .files = fs.f_files,
                                      .ffree = fs.f_ffree,
                                      .bsize = (uint32_t)fs.f_bsize,
                                      .namelen = (uint32_t)fs.f_namelen,
                                      .frsize = (uint32_t)fs.f_frsize,
                                  }};
    return fuse_reply(request, &out, sizeof(out));
}

int fuse_op_access(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_access_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    if (in.mask & ~(uint32_t)(R_OK | W_OK | X_OK))
        return -EINVAL;
    if (server->read_only && in.mask & W_OK)
        return -EROFS;
    /* The VMM's own permissions: the request's uid is not who acts. */
    if (faccessat(request->node->fd, "", (int)in.mask,
                  AT_EMPTY_PATH | AT_EACCESS | AT_SYMLINK_NOFOLLOW))
        return -errno;
    return 0;
}

/* --- extended attributes --------------------------------------------------- */

/* The guest may change only its own namespace: trusted.*, security.* (file
 * capabilities) and ACLs would hand host privileges or ids to it. */
static int changeable_xattr(const char *name)
{
    return strncmp(name, "user.", 5) == 0 ? 0 : -EPERM;
}

int fuse_op_setxattr(struct fuse_server *server, struct fuse_request *request)
{
    (void)server;
    /* Without FUSE_SETXATTR_EXT the driver sends the old 8-byte header. */
    struct {
        uint32_t size, flags;
    } in;
    const char *name;
    int error = fuse_take(request, &in, sizeof(in));
    if (!error)
        error = fuse_take_string(request, &name, XATTR_NAME_MAX);
    if (error)
        return error;
    if (in.size > FUSE_XATTR_MAX)
        return -E2BIG;
    if (in.size > fuse_args_left(request) || in.flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE))
        return -EINVAL;
    if ((error = changeable_xattr(name)))
        return error;
    char path[32];
    fuse_proc_path(request->node, path, sizeof(path));
    if (setxattr(path, name, fuse_args_rest(request), in.size, (int)in.flags))
        return -errno;
    return 0;
}

/* GETXATTR and LISTXATTR: size 0 asks how long the value is. */
static int reply_xattr_bytes(struct fuse_server *server, struct fuse_request *request,
                             uint32_t asked, const char *name)
{
    char path[32];
    fuse_proc_path(request->node, path, sizeof(path));
    if (asked == 0) {
        ssize_t length = name ? getxattr(path, name, NULL, 0) : listxattr(path, NULL, 0);
        if (length < 0)
            return -errno;
        struct fuse_getxattr_out out = {.size = (uint32_t)length};
        return fuse_reply(request, &out, sizeof(out));
    }
    uint64_t room = asked < FUSE_SCRATCH_SIZE ? asked : FUSE_SCRATCH_SIZE;
    if (room > request->room)
        room = request->room;
    char *value = (char *)server->scratch;
    ssize_t length = name ? getxattr(path, name, value, room) : listxattr(path, value, room);
    if (length < 0)
        return -errno;
    return fuse_reply(request, value, (uint32_t)length);
}

int fuse_op_getxattr(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_getxattr_in in;
    const char *name;
    int error = fuse_take(request, &in, sizeof(in));
    if (!error)
        error = fuse_take_string(request, &name, XATTR_NAME_MAX);
    return error ? error : reply_xattr_bytes(server, request, in.size, name);
}

int fuse_op_listxattr(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_getxattr_in in;
    int error = fuse_take(request, &in, sizeof(in));
    return error ? error : reply_xattr_bytes(server, request, in.size, NULL);
}

int fuse_op_removexattr(struct fuse_server *server, struct fuse_request *request)
{
    (void)server;
    const char *name;
    int error = fuse_take_string(request, &name, XATTR_NAME_MAX);
    if (!error)
        error = changeable_xattr(name);
    if (error)
        return error;
    char path[32];
    fuse_proc_path(request->node, path, sizeof(path));
    return removexattr(path, name) ? -errno : 0;
}
