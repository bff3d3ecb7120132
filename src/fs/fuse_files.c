/* The FUSE operations on open files and directories: each open is a handle
 * holding its own host descriptor, opened from the node through
 * /proc/self/fd with the guest's flags cut to the harmless ones; READ and
 * WRITE move data straight between that descriptor and guest memory. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs/fuse_internal.h"

/* The open flags a guest may pass on: no O_CREAT, O_PATH, O_TMPFILE,
 * O_DIRECTORY or O_NOFOLLOW games (the node says what the inode is), no
 * O_DIRECT (guest buffers need not be aligned), no O_NOATIME. */
#define GUEST_OPEN_FLAGS (O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC)

static int open_flags(const struct fuse_server *server, uint32_t guest, int *flags)
{
    int access = (int)guest & O_ACCMODE;
    if (access == O_ACCMODE)
        return -EINVAL;
    *flags = (int)guest & GUEST_OPEN_FLAGS;
    if (server->read_only) {
        if (access != O_RDONLY || *flags & O_TRUNC)
            return -EROFS;
        *flags &= ~O_APPEND;
    }
    return 0;
}

/* Only regular files are opened for I/O: a FIFO or device could block the
 * device thread or reach host hardware (the guest's kernel never asks: it
 * keeps such inodes to itself). */
static int openable_file(const struct fuse_node *node)
{
    if (S_ISREG(node->type))
        return 0;
    return S_ISLNK(node->type) ? -ELOOP : S_ISDIR(node->type) ? -EISDIR : -EPERM;
}

int fuse_op_open(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_open_in in;
    int flags;
    int error = fuse_take(request, &in, sizeof(in));
    if (!error)
        error = openable_file(request->node);
    if (!error)
        error = open_flags(server, in.flags, &flags);
    if (error)
        return error;
    if (fuse_handles_full(&server->handles))
        return -ENFILE;
    int fd = fuse_reopen(server, request->node, flags);
    if (fd < 0)
        return fd;
    struct fuse_open_out out = {
        .fh = fuse_handles_add(&server->handles, fd, FUSE_HANDLE_FILE, request->header.nodeid,
                               false),
    };
    return fuse_reply(request, &out, sizeof(out));
}

/* Opens name in dir_fd as CREATE asks: a new file with the permissions bits,
 * or (without O_EXCL) the regular file already there. */
static int create_file(int dir_fd, const char *name, int flags, bool exclusive, mode_t bits)
{
    /* O_NONBLOCK: a FIFO put there meanwhile must not block us; O_EXCL first
     * tells whether the file is ours to give the mode. */
    int fd = fuse_open_beneath(dir_fd, name, flags | O_CREAT | O_EXCL | O_NONBLOCK, bits);
    bool created = fd >= 0;
    if (fd == -EEXIST && !exclusive)
        fd = fuse_open_beneath(dir_fd, name, flags | O_NONBLOCK, 0);
    if (fd < 0)
        return fd;
    struct stat st;
    int error = fuse_stat_fd(fd, &st);
    if (!error && !S_ISREG(st.st_mode))
        error = S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
    if (!error && fcntl(fd, F_SETFL, flags & O_APPEND) < 0)
        error = -errno;
    if (error) {
        close(fd);
        return error;
    }
    /* The VMM's umask may have taken bits the guest's own umask left. */
    mode_t mode = fuse_restored_mode(st.st_mode, bits);
    if (created && mode != (st.st_mode & 07777))
        (void)fchmod(fd, mode);
    return fd;
}

int fuse_op_create(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_create_in in;
    const char *name;
    int flags;
    int error = fuse_take(request, &in, sizeof(in));
    if (!error)
        error = fuse_take_name(request, &name);
    if (!error)
        error = S_ISDIR(request->node->type) ? 0 : -ENOTDIR;
    if (!error)
        error = open_flags(server, in.flags, &flags);
    if (error)
        return error;
    if (fuse_handles_full(&server->handles) || fuse_nodes_full(&server->nodes))
        return -ENFILE;
    mode_t bits = fuse_creation_mode(S_IFREG, in.mode, in.umask);
    int fd = create_file(request->node->fd, name, flags, in.flags & O_EXCL, bits);
    if (fd < 0)
        return fd;
    struct {
        struct fuse_entry_out entry;
        struct fuse_open_out open;
    } out = {0};
    if ((error = fuse_entry_of_fd(server, fd, &out.entry))) {
        close(fd);
        return error;
    }
    out.open.fh = fuse_handles_add(&server->handles, fd, FUSE_HANDLE_FILE, out.entry.nodeid,
                                   false);
    if (!out.open.fh) { /* cannot be: checked above, and nothing took one since */
        fuse_nodes_forget(&server->nodes, out.entry.nodeid, 1);
        return -ENFILE;
    }
    return fuse_reply(request, &out, sizeof(out));
}

static struct fuse_handle *file_handle(struct fuse_server *server, uint64_t fh)
{
    return fuse_handles_get(&server->handles, fh, FUSE_HANDLE_FILE);
}

/* Drops done bytes from the front of iov; returns the iovecs left. */
static int iov_advance(struct iovec **iov, int count, uint64_t done)
{
    while (count > 0 && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        count--;
    }
    if (count > 0) {
        (*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
    return count;
}

/* preadv or pwritev until done, the end of the file, or an error: the bytes
 * moved, or a negative errno when none were. */
static int64_t transfer(struct fuse_server *server, int fd, int count, uint64_t offset,
                        bool write)
{
    struct iovec *iov = server->iov;
    int64_t moved = 0;
    while (count > 0) {
        ssize_t done = write ? pwritev(fd, iov, count, (off_t)(offset + (uint64_t)moved))
                             : preadv(fd, iov, count, (off_t)(offset + (uint64_t)moved));
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return moved ? moved : -errno;
        if (done == 0)
            break;
        moved += done;
        count = iov_advance(&iov, count, (uint64_t)done);
    }
    return moved;
}

int fuse_op_read(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_read_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    const struct fuse_handle *handle = file_handle(server, in.fh);
    if (!handle)
        return -EBADF;
    /* A short read would be taken for the end of the file: refuse instead. */
    if (in.size > FUSE_SERVER_MAX_IO || in.size > request->room || in.offset > INT64_MAX)
        return -EINVAL;
    int count = fuse_iov_slice(server, request->out, request->out_count,
                               sizeof(struct fuse_out_header), in.size);
    if (count < 0)
        return count;
    return (int)transfer(server, handle->fd, count, in.offset, false);
}

int fuse_op_write(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_write_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    const struct fuse_handle *handle = file_handle(server, in.fh);
    if (!handle)
        return -EBADF;
    if (in.size > FUSE_SERVER_MAX_IO || in.size > request->data_size || in.offset > INT64_MAX)
        return -EINVAL;
    /* The data is written from guest memory as it is: a guest changing it
     * meanwhile changes only what it writes. */
    int count = fuse_iov_slice(server, request->in, request->in_count, request->data_offset,
                               in.size);
    if (count < 0)
        return count;
    int64_t written = transfer(server, handle->fd, count, in.offset, true);
    if (written < 0)
        return (int)written;
    struct fuse_write_out out = {.size = (uint32_t)written};
    return fuse_reply(request, &out, sizeof(out));
}

static int release(struct fuse_server *server, struct fuse_request *request,
                   enum fuse_handle_kind kind)
{
    struct fuse_release_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    struct fuse_handle *handle = fuse_handles_get(&server->handles, in.fh, kind);
    if (!handle)
        return -EBADF;
    fuse_handles_release(&server->handles, handle);
    return 0;
}

int fuse_op_release(struct fuse_server *server, struct fuse_request *request)
{
    return release(server, request, FUSE_HANDLE_FILE);
}

int fuse_op_releasedir(struct fuse_server *server, struct fuse_request *request)
{
    return release(server, request, FUSE_HANDLE_DIRECTORY);
}

int fuse_op_flush(struct fuse_server *server, struct fuse_request *request)
{
    /* Written data is already the host's; there are no locks to drop. */
    struct fuse_flush_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    return file_handle(server, in.fh) ? 0 : -EBADF;
}

static int sync_handle(struct fuse_server *server, struct fuse_request *request,
                       enum fuse_handle_kind kind)
{
    struct fuse_fsync_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    const struct fuse_handle *handle = fuse_handles_get(&server->handles, in.fh, kind);
    if (!handle)
        return -EBADF;
    int result = in.fsync_flags & FUSE_FSYNC_FDATASYNC ? fdatasync(handle->fd)
                                                       : fsync(handle->fd);
    return result ? -errno : 0;
}

int fuse_op_fsync(struct fuse_server *server, struct fuse_request *request)
{
    return sync_handle(server, request, FUSE_HANDLE_FILE);
}

int fuse_op_fsyncdir(struct fuse_server *server, struct fuse_request *request)
{
    return sync_handle(server, request, FUSE_HANDLE_DIRECTORY);
}

int fuse_op_fallocate(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_fallocate_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    const struct fuse_handle *handle = file_handle(server, in.fh);
    if (!handle)
        return -EBADF;
    /* What the guest's kernel passes on; the rest (collapse, insert, unshare) too. */
    if (in.mode & ~(uint32_t)(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
        return -EOPNOTSUPP;
    if (in.offset > INT64_MAX || in.length > INT64_MAX)
        return -EINVAL;
    if (in.length > INT64_MAX - in.offset)
        return -EFBIG;
    if (fallocate(handle->fd, (int)in.mode, (off_t)in.offset, (off_t)in.length))
        return -errno;
    return 0;
}

int fuse_op_lseek(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_lseek_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    const struct fuse_handle *handle = file_handle(server, in.fh);
    if (!handle)
        return -EBADF;
    /* The kernel answers the other whences itself; reads use explicit offsets. */
    if ((in.whence != SEEK_DATA && in.whence != SEEK_HOLE) || in.offset > INT64_MAX)
        return -EINVAL;
    off_t offset = lseek(handle->fd, (off_t)in.offset, (int)in.whence);
    if (offset < 0)
        return -errno;
    struct fuse_lseek_out out = {.offset = (uint64_t)offset};
    return fuse_reply(request, &out, sizeof(out));
}

/* --- directories ----------------------------------------------------------- */

int fuse_op_opendir(struct fuse_server *server, struct fuse_request *request)
{
    struct fuse_open_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    if (!S_ISDIR(request->node->type))
        return -ENOTDIR;
    if (fuse_handles_full(&server->handles))
        return -ENFILE;
    int fd = fuse_reopen(server, request->node, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return fd;
    uint64_t node = request->header.nodeid;
    struct fuse_open_out out = {
        .fh = fuse_handles_add(&server->handles, fd, FUSE_HANDLE_DIRECTORY, node,
                               node == FUSE_ROOT_ID),
    };
    return fuse_reply(request, &out, sizeof(out));
}

/* One host entry, as getdents64 gives it. */
struct host_entry {
    uint64_t ino;
    uint64_t next; /* the offset after it: the guest's cookie to go on from */
    uint8_t type;
    const char *name; /* NUL-terminated inside the scratch buffer */
    uint32_t length;
};

struct listing {
    struct fuse_server *server;
    struct fuse_request *request;
    const struct fuse_handle *handle;
    uint64_t size; /* the reply's bound */
    uint64_t used;
};

static bool is_dot_or_dot_dot(const struct host_entry *entry)
{
    return !strcmp(entry->name, ".") || !strcmp(entry->name, "..");
}

/* Writes the dirent and its padding at used + offset. */
static void put_dirent(struct listing *listing, uint64_t offset, const struct host_entry *entry,
                       uint64_t ino, uint32_t type, uint32_t record)
{
    static const uint8_t zeros[8];
    struct fuse_dirent dirent = {
        .ino = ino, .off = entry->next, .namelen = entry->length, .type = type};
    uint64_t at = listing->used + offset;
    fuse_reply_at(listing->request, at, &dirent, FUSE_NAME_OFFSET);
    fuse_reply_at(listing->request, at + FUSE_NAME_OFFSET, entry->name, entry->length);
    uint64_t end = offset + FUSE_NAME_OFFSET + entry->length;
    fuse_reply_at(listing->request, listing->used + end, zeros, record - end);
}

/* The root's ".." is the root itself: what is above the share is not told. */
static uint64_t shown_ino(const struct listing *listing, const struct host_entry *entry)
{
    if (listing->handle->root && !strcmp(entry->name, ".."))
        return listing->server->nodes.slots[0].ino;
    return entry->ino;
}

/* Each returns false when the entry does not fit (the listing is full). */
static bool add_entry(struct listing *listing, const struct host_entry *entry)
{
    uint32_t record = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + entry->length);
    if (record > listing->size - listing->used)
        return false;
    put_dirent(listing, 0, entry, shown_ino(listing, entry), entry->type, record);
    listing->used += record;
    return true;
}

static bool add_entry_plus(struct listing *listing, const struct host_entry *entry)
{
    uint32_t record = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS + entry->length);
    if (record > listing->size - listing->used)
        return false;
    /* Only what fits is looked up: every node id sent is one lookup. "." and
     * ".." get none (the kernel links neither), nor does a failed lookup. */
    struct fuse_entry_out out = {0};
    int error = is_dot_or_dot_dot(entry)
                    ? -EPERM
                    : fuse_lookup_entry(listing->server, listing->handle->fd, entry->name, &out);
    if (error == -ENOENT)
        return true; /* gone since getdents: left out */
    if (error) {
        out = (struct fuse_entry_out){0};
        out.attr.ino = shown_ino(listing, entry);
        out.attr.mode = (uint32_t)entry->type << 12;
    }
    fuse_reply_at(listing->request, listing->used, &out, sizeof(out));
    put_dirent(listing, sizeof(out), entry, out.attr.ino, (out.attr.mode & S_IFMT) >> 12,
               record);
    listing->used += record;
    return true;
}

/* The next entry of getdents64's bytes at *at; false at the end or on a
 * malformed record (the rest of the batch is dropped). */
static bool next_host_entry(const uint8_t *bytes, long length, long *at, struct host_entry *entry)
{
    enum { HEADER = 19 }; /* d_ino, d_off, d_reclen, d_type */
    if (length - *at < HEADER + 1)
        return false;
    const uint8_t *record = bytes + *at;
    uint16_t reclen;
    memcpy(&entry->ino, record, 8);
    memcpy(&entry->next, record + 8, 8);
    memcpy(&reclen, record + 16, 2);
    entry->type = record[18];
    if (reclen < HEADER + 1 || reclen > length - *at)
        return false;
    *at += reclen;
    entry->name = (const char *)record + HEADER;
    size_t room = reclen - HEADER;
    size_t name_length = strnlen(entry->name, room);
    entry->length = name_length < room ? (uint32_t)name_length : 0; /* unterminated: skipped */
    return true;
}

static int read_directory(struct fuse_server *server, struct fuse_request *request, bool plus)
{
    struct fuse_read_in in;
    int error = fuse_take(request, &in, sizeof(in));
    if (error)
        return error;
    const struct fuse_handle *handle =
        fuse_handles_get(&server->handles, in.fh, FUSE_HANDLE_DIRECTORY);
    if (!handle)
        return -EBADF;
    if (in.offset > INT64_MAX)
        return -EINVAL;
    struct listing listing = {server, request, handle, in.size, 0};
    if (listing.size > request->room)
        listing.size = request->room;
    if (listing.size > FUSE_SCRATCH_SIZE)
        listing.size = FUSE_SCRATCH_SIZE;
    /* The guest's offset is a cookie the host gave: seeking to it each time
     * resumes after the last entry sent, whatever was read beyond it. */
    if (lseek(handle->fd, (off_t)in.offset, SEEK_SET) < 0)
        return -errno;
    size_t batch = listing.size < 1024 ? 1024 : listing.size;
    bool full = false;
    for (int batches = 0; batches < 64 && !full; batches++) {
        long length = syscall(SYS_getdents64, handle->fd, server->scratch, batch);
        if (length < 0)
            return listing.used ? (int)listing.used : -errno;
        if (length == 0)
            break;
        struct host_entry entry;
        for (long at = 0; !full && next_host_entry(server->scratch, length, &at, &entry);) {
            if (entry.length == 0 || entry.length > NAME_MAX)
                continue;
            full = !(plus ? add_entry_plus(&listing, &entry) : add_entry(&listing, &entry));
        }
    }
    return (int)listing.used;
}

int fuse_op_readdir(struct fuse_server *server, struct fuse_request *request)
{
    return read_directory(server, request, false);
}

int fuse_op_readdirplus(struct fuse_server *server, struct fuse_request *request)
{
    return read_directory(server, request, true);
}
