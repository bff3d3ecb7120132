/* The FUSE server's core: creation, the request loop's one step (copy the
 * header and arguments out of guest memory, check them, dispatch, write the
 * reply header), INIT and the requests about the tables themselves (FORGET,
 * BATCH_FORGET, DESTROY), and the helpers the operations share. */
#include "fs/fuse_server.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/fuse_internal.h"
#include "log.h"

/* The oldest protocol we answer: virtio-fs came with 7.31 (Linux 5.4), and
 * every structure's full size is assumed from there on. */
#define FUSE_OLDEST_MINOR 31
#define GUEST_PAGE_SIZE 4096u

/* What INIT offers the driver when it asks: no locks (the guest keeps its
 * own), no writeback cache or kept page cache (the host may change files),
 * no ".." lookups, so no export support. */
#define FUSE_SERVER_FLAGS                                                                      \
    (FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | FUSE_AUTO_INVAL_DATA |          \
     FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES)

/* --- guest buffers --------------------------------------------------------- */

static uint64_t iov_total(const struct iovec *iov, int count)
{
    uint64_t total = 0;
    for (int i = 0; i < count; i++) {
        if (iov[i].iov_len > UINT64_MAX - total)
            return UINT64_MAX;
        total += iov[i].iov_len;
    }
    return total;
}

/* Copies [offset, offset + length) of the buffers into data; returns the bytes copied. */
/* Copies between data and iovec bytes [offset, offset + length), into the
 * iovec when to_iov is set; returns how many bytes there were room for. */
static uint64_t iov_copy(const struct iovec *iov, int count, uint64_t offset, uint8_t *data,
                         uint64_t length, bool to_iov)
{
    uint64_t copied = 0;
    for (int i = 0; i < count && copied < length; i++) {
        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        uint64_t take = iov[i].iov_len - offset;
        if (take > length - copied)
            take = length - copied;
        uint8_t *base = (uint8_t *)iov[i].iov_base + offset;
        if (to_iov)
            memcpy(base, data + copied, take);
        else
            memcpy(data + copied, base, take);
        copied += take;
        offset = 0;
    }
    return copied;
}

static uint64_t iov_gather(const struct iovec *iov, int count, uint64_t offset, void *data,
                           uint64_t length)
{
    return iov_copy(iov, count, offset, data, length, false);
}

static uint64_t iov_scatter(const struct iovec *iov, int count, uint64_t offset,
                            const void *data, uint64_t length)
{
    /* Only read from data when copying into the iovec. */
    return iov_copy(iov, count, offset, (uint8_t *)(uintptr_t)data, length, true);
}

int fuse_iov_slice(struct fuse_server *server, const struct iovec *buffers, int count,
                   uint64_t offset, uint64_t length)
{
    int used = 0;
    for (int i = 0; i < count && length; i++) {
        if (offset >= buffers[i].iov_len) {
            offset -= buffers[i].iov_len;
            continue;
        }
        if (used == FUSE_IOV_MAX)
            return -EINVAL;
        uint64_t take = buffers[i].iov_len - offset;
        if (take > length)
            take = length;
        server->iov[used++] = (struct iovec){(uint8_t *)buffers[i].iov_base + offset, take};
        length -= take;
        offset = 0;
    }
    return length ? -EINVAL : used;
}

/* --- arguments ------------------------------------------------------------- */

uint32_t fuse_args_left(const struct fuse_request *request)
{
    return request->args_size - request->args_taken;
}

const uint8_t *fuse_args_rest(const struct fuse_request *request)
{
    return request->args + request->args_taken;
}

int fuse_take(struct fuse_request *request, void *data, uint32_t size)
{
    if (fuse_args_left(request) < size)
        return -EINVAL;
    memcpy(data, fuse_args_rest(request), size);
    request->args_taken += size;
    return 0;
}

int fuse_take_string(struct fuse_request *request, const char **string, uint32_t max)
{
    uint32_t left = fuse_args_left(request);
    const char *start = (const char *)fuse_args_rest(request);
    const char *end = memchr(start, '\0', left < max + 1 ? left : max + 1);
    if (!end)
        return left > max ? -ENAMETOOLONG : -EINVAL;
    if (end == start)
        return -EINVAL;
    *string = start;
    request->args_taken += (uint32_t)(end - start) + 1;
    return 0;
}

int fuse_take_name(struct fuse_request *request, const char **name)
{
    int error = fuse_take_string(request, name, NAME_MAX);
    if (error)
        return error;
    if (strchr(*name, '/') || !strcmp(*name, ".") || !strcmp(*name, ".."))
        return -EINVAL;
    return 0;
}

/* --- replies --------------------------------------------------------------- */

int fuse_reply_at(struct fuse_request *request, uint64_t offset, const void *data, uint64_t size)
{
    if (offset > request->room || size > request->room - offset)
        return -ERANGE;
    iov_scatter(request->out, request->out_count, sizeof(struct fuse_out_header) + offset, data,
                size);
    return 0;
}

int fuse_reply(struct fuse_request *request, const void *data, uint32_t size)
{
    int error = fuse_reply_at(request, 0, data, size);
    return error ? error : (int)size;
}

/* --- the host -------------------------------------------------------------- */

int fuse_open_beneath(int dir_fd, const char *name, int flags, mode_t mode)
{
    struct open_how how = {
        .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
        .mode = (flags & O_CREAT) ? mode : 0,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS,
    };
    /* EAGAIN: a rename elsewhere raced the walk; it cannot repeat for long. */
    for (int attempt = 0; attempt < 8; attempt++) {
        long fd = syscall(SYS_openat2, dir_fd, name, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN && errno != EINTR)
            break;
    }
    return -errno;
}

void fuse_proc_name(int fd, char *name, size_t size)
{
    snprintf(name, size, "%d", fd);
}

void fuse_proc_path(const struct fuse_node *node, char *path, size_t size)
{
    snprintf(path, size, "/proc/self/fd/%d", node->fd);
}

int fuse_reopen(const struct fuse_server *server, const struct fuse_node *node, int flags)
{
    /* The magic link leads to the inode itself, wherever it has been renamed
     * to; the caller checked it is not a symlink, which it would not follow
     * anyway (ELOOP). */
    char name[16];
    fuse_proc_name(node->fd, name, sizeof(name));
    int fd = openat(server->proc_fd, name, flags | O_CLOEXEC | O_NOCTTY);
    return fd < 0 ? -errno : fd;
}

int fuse_stat_fd(int fd, struct stat *st)
{
    return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ? -errno : 0;
}

mode_t fuse_allowed_mode(mode_t type, uint32_t mode)
{
    mode_t bits = mode & 07777;
    return S_ISDIR(type) ? bits & ~(mode_t)S_ISUID : bits & ~(mode_t)(S_ISUID | S_ISGID);
}

mode_t fuse_creation_mode(mode_t type, uint32_t mode, uint32_t umask)
{
    return fuse_allowed_mode(type, mode & ~(umask & 0777));
}

mode_t fuse_restored_mode(mode_t made, mode_t wanted)
{
    return (made & 07000) | (wanted & 0777);
}

void fuse_fill_attr(struct fuse_attr *attr, const struct stat *st)
{
    unsigned major = major(st->st_rdev), minor = minor(st->st_rdev);
    *attr = (struct fuse_attr){
        .ino = st->st_ino,
        .size = (uint64_t)st->st_size,
        .blocks = (uint64_t)st->st_blocks,
        .atime = (uint64_t)st->st_atim.tv_sec,
        .mtime = (uint64_t)st->st_mtim.tv_sec,
        .ctime = (uint64_t)st->st_ctim.tv_sec,
        .atimensec = (uint32_t)st->st_atim.tv_nsec,
        .mtimensec = (uint32_t)st->st_mtim.tv_nsec,
        .ctimensec = (uint32_t)st->st_ctim.tv_nsec,
        .mode = st->st_mode,
        .nlink = st->st_nlink > UINT32_MAX ? UINT32_MAX : (uint32_t)st->st_nlink,
        .uid = st->st_uid,
        .gid = st->st_gid,
        /* The kernel's encoding (new_encode_dev), not glibc's. */
        .rdev = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12),
        .blksize = (uint32_t)st->st_blksize,
    };
}

void fuse_fill_entry(struct fuse_entry_out *entry, uint64_t id, const struct stat *st)
{
    *entry = (struct fuse_entry_out){
        .nodeid = id,
        .entry_valid = FUSE_TIMEOUT_SECONDS,
        .attr_valid = FUSE_TIMEOUT_SECONDS,
    };
    fuse_fill_attr(&entry->attr, st);
}

int fuse_lookup_entry(struct fuse_server *server, int dir_fd, const char *name,
                      struct fuse_entry_out *entry)
{
    int fd = fuse_open_beneath(dir_fd, name, O_PATH, 0);
    if (fd < 0)
        return fd;
    struct stat st;
    int error = fuse_stat_fd(fd, &st);
    if (error) {
        close(fd);
        return error;
    }
    uint64_t id;
    error = fuse_nodes_add_lookup(&server->nodes, fd, &st, &id);
    if (error)
        return error;
    fuse_fill_entry(entry, id, &st);
    return 0;
}

int fuse_entry_of_fd(struct fuse_server *server, int fd, struct fuse_entry_out *entry)
{
    struct stat st;
    int error = fuse_stat_fd(fd, &st);
    if (error)
        return error;
    /* The node holds its own O_PATH descriptor of the same inode. */
    char name[16];
    fuse_proc_name(fd, name, sizeof(name));
    int path_fd = openat(server->proc_fd, name, O_PATH | O_CLOEXEC);
    if (path_fd < 0)
        return -errno;
    uint64_t id;
    error = fuse_nodes_add_lookup(&server->nodes, path_fd, &st, &id);
    if (error)
        return error;
    fuse_fill_entry(entry, id, &st);
    return 0;
}

/* --- INIT, FORGET, DESTROY ------------------------------------------------- */

static int op_init(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_init_in in = {0};
    uint32_t size = fuse_args_left(request);
    if (size < 16) /* major, minor, max_readahead, flags: every version's */
        return -EINVAL;
    fuse_take(request, &in, size < sizeof(in) ? size : sizeof(in));
    struct fuse_init_out out = {.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION};
    /* A newer major: say ours, and the driver asks again in it. */
    if (in.major > FUSE_KERNEL_VERSION)
        return fuse_reply(request, &out, sizeof(out));
    if (server->initialized)
        return -EPROTO;
    if (in.major < FUSE_KERNEL_VERSION || in.minor < FUSE_OLDEST_MINOR) {
        log_once("file server: the guest's FUSE %u.%u is too old (7.%d or later is served)",
                 in.major, in.minor, FUSE_OLDEST_MINOR);
        return -EPROTO;
    }
    if (in.minor < out.minor)
        out.minor = in.minor;
    out.max_readahead = in.max_readahead < FUSE_SERVER_MAX_IO ? in.max_readahead
                                                              : FUSE_SERVER_MAX_IO;
    out.flags = in.flags & FUSE_SERVER_FLAGS;
    out.max_write = FUSE_SERVER_MAX_IO;
    out.time_gran = 1;
    out.max_pages = FUSE_SERVER_MAX_IO / GUEST_PAGE_SIZE;
    int written = fuse_reply(request, &out, sizeof(out));
    if (written > 0)
        server->initialized = true;
    return written;
}

static int op_forget(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_forget_in in;
    if (fuse_take(request, &in, sizeof(in)) == 0)
        fuse_nodes_forget(&server->nodes, request->header.nodeid, in.nlookup);
    return 0;
}

/* The entries stay in guest memory: each is copied once, then used. */
static int op_batch_forget(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_batch_forget_in in;
    if (fuse_take(request, &in, sizeof(in)))
        return 0;
    uint64_t present = request->data_size / sizeof(struct fuse_forget_one);
    uint64_t count = in.count < present ? in.count : present;
    for (uint64_t i = 0; i < count; i++) {
        struct fuse_forget_one one;
        iov_gather(request->in, request->in_count,
                   request->data_offset + i * sizeof(one), &one, sizeof(one));
        fuse_nodes_forget(&server->nodes, one.nodeid, one.nlookup);
    }
    return 0;
}

static int op_destroy(struct fuse_server *server, struct fuse_request *request)
{
    (void)request;
    fuse_server_reset(server);
    return 0;
}

static int op_interrupt(struct fuse_server *server, struct fuse_request *request)
{
    /* Every request is answered before the next is read: none to interrupt. */
    (void)server;
    (void)request;
    return 0;
}

/* --- dispatch -------------------------------------------------------------- */

enum {
    NEEDS_NODE = 1, /* the header's nodeid must be a node: ESTALE otherwise */
    MODIFIES = 2,   /* EROFS on a read-only share */
    NO_REPLY = 4,
    DATA_IN_GUEST = 8, /* only the fixed struct is copied; the rest is read in place */
};

struct fuse_operation {
    int (*serve)(struct fuse_server *server, struct fuse_request *request);
    uint16_t reply; /* fixed reply body bytes: room checked before anything is done */
    uint16_t copied; /* DATA_IN_GUEST: the fixed struct's size */
    uint8_t flags;
};

#define ENTRY sizeof(struct fuse_entry_out)
static const struct fuse_operation operations[] = {
    [FUSE_LOOKUP] = {fuse_op_lookup, ENTRY, 0, NEEDS_NODE},
    [FUSE_FORGET] = {op_forget, 0, 0, NO_REPLY},
    [FUSE_GETATTR] = {fuse_op_getattr, sizeof(struct fuse_attr_out), 0, NEEDS_NODE},
    [FUSE_SETATTR] = {fuse_op_setattr, sizeof(struct fuse_attr_out), 0, NEEDS_NODE | MODIFIES},
    [FUSE_READLINK] = {fuse_op_readlink, 0, 0, NEEDS_NODE},
    [FUSE_SYMLINK] = {fuse_op_symlink, ENTRY, 0, NEEDS_NODE | MODIFIES},
    [FUSE_MKNOD] = {fuse_op_mknod, ENTRY, 0, NEEDS_NODE | MODIFIES},
    [FUSE_MKDIR] = {fuse_op_mkdir, ENTRY, 0, NEEDS_NODE | MODIFIES},
    [FUSE_UNLINK] = {fuse_op_unlink, 0, 0, NEEDS_NODE | MODIFIES},
    [FUSE_RMDIR] = {fuse_op_rmdir, 0, 0, NEEDS_NODE | MODIFIES},
    [FUSE_RENAME] = {fuse_op_rename, 0, 0, NEEDS_NODE | MODIFIES},
    [FUSE_LINK] = {fuse_op_link, ENTRY, 0, NEEDS_NODE | MODIFIES},
    [FUSE_OPEN] = {fuse_op_open, sizeof(struct fuse_open_out), 0, NEEDS_NODE},
    [FUSE_READ] = {fuse_op_read, 0, 0, 0},
    [FUSE_WRITE] = {fuse_op_write, sizeof(struct fuse_write_out), sizeof(struct fuse_write_in),
                    MODIFIES | DATA_IN_GUEST},
    [FUSE_STATFS] = {fuse_op_statfs, sizeof(struct fuse_statfs_out), 0, NEEDS_NODE},
    [FUSE_RELEASE] = {fuse_op_release, 0, 0, 0},
    [FUSE_FSYNC] = {fuse_op_fsync, 0, 0, 0},
    [FUSE_SETXATTR] = {fuse_op_setxattr, 0, 0, NEEDS_NODE | MODIFIES},
    [FUSE_GETXATTR] = {fuse_op_getxattr, 0, 0, NEEDS_NODE},
    [FUSE_LISTXATTR] = {fuse_op_listxattr, 0, 0, NEEDS_NODE},
    [FUSE_REMOVEXATTR] = {fuse_op_removexattr, 0, 0, NEEDS_NODE | MODIFIES},
    [FUSE_FLUSH] = {fuse_op_flush, 0, 0, 0},
    [FUSE_INIT] = {op_init, sizeof(struct fuse_init_out), 0, 0},
    [FUSE_OPENDIR] = {fuse_op_opendir, sizeof(struct fuse_open_out), 0, NEEDS_NODE},
    [FUSE_READDIR] = {fuse_op_readdir, 0, 0, 0},
    [FUSE_RELEASEDIR] = {fuse_op_releasedir, 0, 0, 0},
    [FUSE_FSYNCDIR] = {fuse_op_fsyncdir, 0, 0, 0},
    [FUSE_ACCESS] = {fuse_op_access, 0, 0, NEEDS_NODE},
    [FUSE_CREATE] = {fuse_op_create, ENTRY + sizeof(struct fuse_open_out), 0,
                     NEEDS_NODE | MODIFIES},
    [FUSE_INTERRUPT] = {op_interrupt, 0, 0, NO_REPLY},
    [FUSE_DESTROY] = {op_destroy, 0, 0, 0},
    [FUSE_BATCH_FORGET] = {op_batch_forget, 0, sizeof(struct fuse_batch_forget_in),
                           NO_REPLY | DATA_IN_GUEST},
    [FUSE_FALLOCATE] = {fuse_op_fallocate, 0, 0, MODIFIES},
    [FUSE_READDIRPLUS] = {fuse_op_readdirplus, 0, 0, 0},
    [FUSE_RENAME2] = {fuse_op_rename2, 0, 0, NEEDS_NODE | MODIFIES},
    [FUSE_LSEEK] = {fuse_op_lseek, sizeof(struct fuse_lseek_out), 0, 0},
};
#undef ENTRY

static const struct fuse_operation *find_operation(uint32_t opcode)
{
    if (opcode >= sizeof(operations) / sizeof(operations[0]) || !operations[opcode].serve)
        return NULL;
    return &operations[opcode];
}

/* Copies what the operation reads into server->args, once. */
static int copy_arguments(struct fuse_server *server, struct fuse_request *request,
                          const struct fuse_operation *operation, uint64_t payload)
{
    uint64_t copy = payload;
    if (operation->flags & DATA_IN_GUEST && copy > operation->copied)
        copy = operation->copied;
    if (copy > FUSE_ARGS_MAX)
        return -EINVAL;
    uint64_t start = sizeof(struct fuse_in_header);
    iov_gather(request->in, request->in_count, start, server->args, copy);
    request->args = server->args;
    request->args_size = (uint32_t)copy;
    request->data_offset = start + copy;
    request->data_size = payload - copy;
    return 0;
}

static int serve(struct fuse_server *server, struct fuse_request *request,
                 const struct fuse_operation *operation, uint64_t in_bytes)
{
    const struct fuse_in_header *header = &request->header;
    if (header->len < sizeof(*header) || header->len > in_bytes)
        return -EINVAL;
    /* Extensions (a security context) follow the arguments; none was negotiated. */
    uint64_t payload = header->len - sizeof(*header);
    uint64_t extensions = (uint64_t)header->total_extlen * 8;
    if (extensions > payload)
        return -EINVAL;
    payload -= extensions;
    if (!operation)
        return -ENOSYS;
    if (!server->initialized && header->opcode != FUSE_INIT)
        return -EIO;
    if (request->room < operation->reply)
        return -EINVAL;
    int error = copy_arguments(server, request, operation, payload);
    if (error)
        return error;
    if (operation->flags & MODIFIES && server->read_only)
        return -EROFS;
    if (operation->flags & NEEDS_NODE) {
        request->node = fuse_nodes_get(&server->nodes, header->nodeid);
        if (!request->node)
            return -ESTALE;
    }
    return operation->serve(server, request);
}

uint32_t fuse_server_handle(struct fuse_server *server, const struct iovec *in, int in_count,
                            const struct iovec *out, int out_count)
{
    struct fuse_request request = {
        .in = in,
        .in_count = in_count > 0 ? in_count : 0,
        .out = out,
        .out_count = out_count > 0 ? out_count : 0,
    };
    uint64_t in_bytes = iov_total(in, request.in_count);
    uint64_t out_bytes = iov_total(out, request.out_count);
    if (in_bytes < sizeof(request.header))
        return 0;
    iov_gather(in, request.in_count, 0, &request.header, sizeof(request.header));
    const struct fuse_operation *operation = find_operation(request.header.opcode);
    bool replies = !operation || !(operation->flags & NO_REPLY);
    if (replies && out_bytes < sizeof(struct fuse_out_header))
        return 0;
    if (replies) {
        uint64_t room = out_bytes - sizeof(struct fuse_out_header);
        /* A reply's length is 32 bits; READ's data never needs more than this. */
        request.room = room < 16u * FUSE_SERVER_MAX_IO ? room : 16u * FUSE_SERVER_MAX_IO;
    }
    int result = serve(server, &request, operation, in_bytes);
    if (!replies)
        return 0;
    struct fuse_out_header reply = {
        .len = (uint32_t)sizeof(reply) + (result > 0 ? (uint32_t)result : 0),
        .error = result < 0 ? result : 0,
        .unique = request.header.unique,
    };
    iov_scatter(request.out, request.out_count, 0, &reply, sizeof(reply));
    return reply.len;
}

/* --- creation -------------------------------------------------------------- */

/* Each node and each open file holds a descriptor: both tables fit in the
 * process's limit, raised as far as it goes, with room left for the rest of
 * the VMM (a quarter of it, at most 1024). */
static void descriptor_budget(uint32_t *max_nodes, uint32_t *max_handles)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0)
        limit.rlim_cur = limit.rlim_max = 1024;
    if (limit.rlim_cur < limit.rlim_max) {
        struct rlimit raised = {limit.rlim_max, limit.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            limit.rlim_cur = limit.rlim_max;
    }
    uint64_t total = limit.rlim_cur == RLIM_INFINITY ? UINT32_MAX : limit.rlim_cur;
    uint64_t reserve = total / 4 < 1024 ? total / 4 : 1024;
    uint64_t budget = total - reserve;
    uint64_t handles = budget / 8;
    handles = handles < 1 ? 1 : handles > FUSE_SERVER_MAX_HANDLES ? FUSE_SERVER_MAX_HANDLES
                                                                  : handles;
    uint64_t nodes = budget > handles ? budget - handles : 1;
    nodes = nodes > FUSE_SERVER_MAX_NODES ? FUSE_SERVER_MAX_NODES : nodes;
    *max_nodes = (uint32_t)nodes;
    *max_handles = (uint32_t)handles;
}

static int open_root(const char *directory, struct stat *st, struct error *error)
{
    int fd = open(directory, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return error_set(error, "%s: %s", directory,
                         errno == ENOTDIR ? "not a directory" : strerror(errno));
    if (fstat(fd, st) != 0 || !S_ISDIR(st->st_mode)) {
        close(fd);
        return error_set(error, "%s: not a directory", directory);
    }
    /* openat2 (Linux 5.6) is what keeps every name beneath the share. */
    int probe = fuse_open_beneath(fd, ".", O_PATH, 0);
    if (probe < 0) {
        close(fd);
        return error_set(error, "%s: %s", directory,
                         probe == -ENOSYS ? "openat2 is missing (Linux 5.6 or later needed)"
                                          : strerror(-probe));
    }
    close(probe);
    return fd;
}

static int open_proc_fd(struct error *error)
{
    int fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return error_set(error, "/proc/self/fd: %s", strerror(errno));
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0 || fs.f_type != PROC_SUPER_MAGIC) {
        close(fd);
        return error_set(error, "/proc/self/fd: not procfs (the share's files are reopened "
                                "through it)");
    }
    return fd;
}

int fuse_server_create(struct fuse_server **result, const char *directory, bool read_only,
                       struct error *error)
{
    *result = NULL;
    struct stat root;
    int root_fd = open_root(directory, &root, error);
    if (root_fd < 0)
        return -1;
    int proc_fd = open_proc_fd(error);
    if (proc_fd < 0) {
        close(root_fd);
        return -1;
    }
    struct fuse_server *server = calloc(1, sizeof(*server));
    uint32_t max_nodes, max_handles;
    descriptor_budget(&max_nodes, &max_handles);
    if (!server || fuse_nodes_init(&server->nodes, root_fd, &root, max_nodes) < 0) {
        free(server);
        close(root_fd);
        close(proc_fd);
        return error_set(error, "%s: out of memory for the file server", directory);
    }
    if (fuse_handles_init(&server->handles, max_handles) < 0) {
        fuse_nodes_destroy(&server->nodes);
        free(server);
        close(proc_fd);
        return error_set(error, "%s: out of memory for the file server", directory);
    }
    server->proc_fd = proc_fd;
    server->read_only = read_only;
    *result = server;
    return 0;
}

void fuse_server_destroy(struct fuse_server *server)
{
    if (!server)
        return;
    fuse_handles_destroy(&server->handles);
    fuse_nodes_destroy(&server->nodes);
    close(server->proc_fd);
    free(server);
}

void fuse_server_reset(struct fuse_server *server)
{
    fuse_handles_release_all(&server->handles);
    fuse_nodes_forget_all(&server->nodes);
    server->initialized = false;
}

void fuse_server_set_limits(struct fuse_server *server, uint32_t max_nodes, uint32_t max_handles)
{
    if (max_nodes >= 1 && max_nodes < server->nodes.limit)
        server->nodes.limit = max_nodes;
    if (max_handles >= 1 && max_handles < server->handles.limit)
        server->handles.limit = max_handles;
}
