/* A FUSE server over a host directory: what a virtio-fs device
 * (Documentation/filesystems/virtiofs.rst) answers its driver with.  The
 * protocol is <linux/fuse.h>'s; the guest's kernel is the client.
 *
 * The guest is not trusted.  Every request is copied out of guest memory
 * before it is looked at, and every host access is made relative to an
 * O_PATH descriptor the server holds for a node inside the share, one path
 * component at a time, without following symbolic links: nothing outside
 * the directory can be read, written, created or learnt through it.  The
 * server acts with the VMM's own credentials (uids in requests are ignored)
 * and never sets the set-user-ID or set-group-ID bit on a file.  Node ids,
 * file handles and the memory each request needs are bounded. */
#ifndef GUEST_FS_FUSE_SERVER_H
#define GUEST_FS_FUSE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"

/* The most data one READ or WRITE moves (max_write and max_pages in INIT). */
#define FUSE_SERVER_MAX_IO (1u << 20)
/* Bounds at most (each also fits what RLIMIT_NOFILE allows). */
#define FUSE_SERVER_MAX_NODES (1u << 20)
#define FUSE_SERVER_MAX_HANDLES 4096u

struct fuse_server; /* opaque */

/* Serves directory, which must exist and be a directory (errors name it:
 * "DIR: not a directory").  read_only: every modifying request fails with
 * EROFS and nothing is opened for writing.  Raises RLIMIT_NOFILE's soft limit
 * to the hard one: nodes and open files each hold a descriptor.  The server
 * belongs to this process: it reopens inodes through this process's
 * /proc/self/fd, so a forked child must make its own.
 *
 * While serving it makes only these system calls (test_fuse_server holds it
 * to them under seccomp): openat2 openat close newfstatat fstatfs getdents64
 * lseek preadv pwritev fsync fdatasync fallocate ftruncate fcntl(F_SETFL)
 * fchmod fchmodat fchownat utimensat faccessat2 readlinkat symlinkat linkat
 * mknodat mkdirat unlinkat renameat2 getxattr setxattr listxattr removexattr,
 * and malloc's (mmap munmap mremap madvise brk futex).  Creation adds
 * prlimit64; no ioctl at all. */
int fuse_server_create(struct fuse_server **server, const char *directory, bool read_only,
                       struct error *error);
void fuse_server_destroy(struct fuse_server *server);

/* Serves one request.  in: the driver's readable buffers (struct
 * fuse_in_header, the arguments, and for WRITE the data); out: its writable
 * buffers (struct fuse_out_header and the reply; READ data goes straight into
 * them).  Returns the bytes written to out: 0 when the request takes no reply
 * (FORGET, BATCH_FORGET, INTERRUPT) or cannot be answered (in shorter than a
 * header, out shorter than a reply header).  A request that cannot be parsed
 * gets an error reply.  Called from one thread at a time. */
uint32_t fuse_server_handle(struct fuse_server *server, const struct iovec *in, int in_count,
                            const struct iovec *out, int out_count);

/* The driver reset the device: forgets every node and open file, as after
 * DESTROY; the next request must be INIT. */
void fuse_server_reset(struct fuse_server *server);

/* Lowers the bounds on nodes (the root included) and open handles: for tests
 * that fill the tables.  Bounds already below are kept. */
void fuse_server_set_limits(struct fuse_server *server, uint32_t max_nodes, uint32_t max_handles);

#endif
