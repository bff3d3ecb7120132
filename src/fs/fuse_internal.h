/* What the FUSE server's files share (inside src/fs): the server, one request
 * as it is being answered, and the helpers every operation uses to take its
 * arguments, reach the host and write its reply. */
#ifndef GUEST_FS_FUSE_INTERNAL_H
#define GUEST_FS_FUSE_INTERNAL_H

#include <limits.h>
#include <linux/fuse.h>
#include <linux/limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "fs/fuse_nodes.h"
#include "fs/fuse_server.h"

/* The attribute and entry timeouts given to the guest: short, because the
 * host may change the directory under it. */
#define FUSE_TIMEOUT_SECONDS 1

/* The largest arguments a request may carry besides WRITE's data: SETXATTR's
 * value (64 KiB at most) with its name, or SYMLINK's two strings. */
#define FUSE_XATTR_MAX (64u * 1024)
#define FUSE_ARGS_MAX (FUSE_XATTR_MAX + 1024u)
/* READLINK's text, GETXATTR's value, LISTXATTR's list, READDIR's host entries. */
#define FUSE_SCRATCH_SIZE FUSE_XATTR_MAX
#define FUSE_IOV_MAX 1024 /* IOV_MAX: what one preadv/pwritev takes */

struct fuse_server {
    int proc_fd; /* /proc/self/fd, where a node's O_PATH descriptor is reopened */
    bool read_only;
    bool initialized; /* INIT answered; DESTROY and reset clear it */
    struct fuse_nodes nodes;
    struct fuse_handles handles;
    /* Per-request scratch: no allocation while serving. */
    struct iovec iov[FUSE_IOV_MAX];
    uint8_t args[FUSE_ARGS_MAX];
    uint8_t scratch[FUSE_SCRATCH_SIZE];
};

struct fuse_request {
    struct fuse_in_header header; /* copied out of guest memory, checked */
    /* The arguments, copied into server->args (WRITE: only struct fuse_write_in). */
    const uint8_t *args;
    uint32_t args_size;
    uint32_t args_taken; /* how far fuse_take has read */
    /* WRITE's data, left in guest memory: in's bytes [data_offset, + data_size). */
    const struct iovec *in;
    int in_count;
    uint64_t data_offset, data_size;
    /* The reply body goes after struct fuse_out_header; room: the bytes it may take. */
    const struct iovec *out;
    int out_count;
    uint64_t room;
    struct fuse_node *node; /* the header's nodeid, for operations on a node */
};

/* --- arguments --- */

/* The next size bytes of the arguments, or -EINVAL when fewer are left. */
int fuse_take(struct fuse_request *request, void *data, uint32_t size);
/* A NUL-terminated string of 1..max bytes, or -EINVAL (-ENAMETOOLONG when longer). */
int fuse_take_string(struct fuse_request *request, const char **string, uint32_t max);
/* A name in a directory: one path component, not "." or ".." (-EINVAL otherwise). */
int fuse_take_name(struct fuse_request *request, const char **name);
/* The bytes not taken yet. */
uint32_t fuse_args_left(const struct fuse_request *request);
const uint8_t *fuse_args_rest(const struct fuse_request *request);

/* --- replies --- */

/* Writes size bytes of the reply body at offset; -ERANGE past its room. */
int fuse_reply_at(struct fuse_request *request, uint64_t offset, const void *data,
                  uint64_t size);
/* The body is exactly data: returns size (the body length) or -ERANGE. */
int fuse_reply(struct fuse_request *request, const void *data, uint32_t size);
/* iovecs in server->iov for buffers' bytes [offset, offset + length); the
 * count, or -EINVAL when the buffers are shorter or need more than IOV_MAX. */
int fuse_iov_slice(struct fuse_server *server, const struct iovec *buffers, int count,
                   uint64_t offset, uint64_t length);

/* --- the host --- */

/* openat2 of one name in dir_fd, beneath it, following no link of any kind;
 * O_CLOEXEC and O_NOFOLLOW are added.  A descriptor or a negative errno. */
int fuse_open_beneath(int dir_fd, const char *name, int flags, mode_t mode);
/* Opens the inode node holds (not a symlink) for I/O through /proc/self/fd. */
int fuse_reopen(const struct fuse_server *server, const struct fuse_node *node, int flags);
/* "/proc/self/fd/N" for the path-only calls (xattrs) that have no *at form. */
void fuse_proc_path(const struct fuse_node *node, char *path, size_t size);
/* "N", the node's name in server->proc_fd. */
void fuse_proc_name(int fd, char *name, size_t size);
int fuse_stat_fd(int fd, struct stat *st);

/* The permission bits a guest may set: never set-user-ID or set-group-ID on
 * a file (the host would run it with the VMM's ids); a directory keeps
 * set-group-ID (its files' group) and the sticky bit. */
mode_t fuse_allowed_mode(mode_t type, uint32_t mode);
/* The same for a new inode, the request's umask applied. */
mode_t fuse_creation_mode(mode_t type, uint32_t mode, uint32_t umask);

/* The mode to give an inode just made with mode made, the guest having
 * asked for wanted: its permission bits, which the VMM's umask may have
 * cut, and the special bits the host chose. */
mode_t fuse_restored_mode(mode_t made, mode_t wanted);

void fuse_fill_attr(struct fuse_attr *attr, const struct stat *st);
void fuse_fill_entry(struct fuse_entry_out *entry, uint64_t id, const struct stat *st);
/* Looks name up in dir_fd: the node (one more lookup) and its entry. */
int fuse_lookup_entry(struct fuse_server *server, int dir_fd, const char *name,
                      struct fuse_entry_out *entry);
/* The entry for the inode fd holds (any kind of descriptor; it stays the caller's). */
int fuse_entry_of_fd(struct fuse_server *server, int fd, struct fuse_entry_out *entry);

/* --- operations: each returns the reply body's length or a negative errno --- */

int fuse_op_lookup(struct fuse_server *server, struct fuse_request *request);
int fuse_op_getattr(struct fuse_server *server, struct fuse_request *request);
int fuse_op_setattr(struct fuse_server *server, struct fuse_request *request);
int fuse_op_readlink(struct fuse_server *server, struct fuse_request *request);
int fuse_op_symlink(struct fuse_server *server, struct fuse_request *request);
int fuse_op_mknod(struct fuse_server *server, struct fuse_request *request);
int fuse_op_mkdir(struct fuse_server *server, struct fuse_request *request);
int fuse_op_unlink(struct fuse_server *server, struct fuse_request *request);
int fuse_op_rmdir(struct fuse_server *server, struct fuse_request *request);
int fuse_op_rename(struct fuse_server *server, struct fuse_request *request);
int fuse_op_rename2(struct fuse_server *server, struct fuse_request *request);
int fuse_op_link(struct fuse_server *server, struct fuse_request *request);
int fuse_op_statfs(struct fuse_server *server, struct fuse_request *request);
int fuse_op_access(struct fuse_server *server, struct fuse_request *request);
int fuse_op_setxattr(struct fuse_server *server, struct fuse_request *request);
int fuse_op_getxattr(struct fuse_server *server, struct fuse_request *request);
int fuse_op_listxattr(struct fuse_server *server, struct fuse_request *request);
int fuse_op_removexattr(struct fuse_server *server, struct fuse_request *request);

int fuse_op_open(struct fuse_server *server, struct fuse_request *request);
int fuse_op_create(struct fuse_server *server, struct fuse_request *request);
int fuse_op_read(struct fuse_server *server, struct fuse_request *request);
int fuse_op_write(struct fuse_server *server, struct fuse_request *request);
int fuse_op_release(struct fuse_server *server, struct fuse_request *request);
int fuse_op_flush(struct fuse_server *server, struct fuse_request *request);
int fuse_op_fsync(struct fuse_server *server, struct fuse_request *request);
int fuse_op_fallocate(struct fuse_server *server, struct fuse_request *request);
int fuse_op_lseek(struct fuse_server *server, struct fuse_request *request);
int fuse_op_opendir(struct fuse_server *server, struct fuse_request *request);
int fuse_op_readdir(struct fuse_server *server, struct fuse_request *request);
int fuse_op_readdirplus(struct fuse_server *server, struct fuse_request *request);
int fuse_op_releasedir(struct fuse_server *server, struct fuse_request *request);
int fuse_op_fsyncdir(struct fuse_server *server, struct fuse_request *request);

#endif
