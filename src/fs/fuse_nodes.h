/* The FUSE server's tables (inside src/fs): nodes, the host inodes the guest
 * has looked up, each held by an O_PATH descriptor; and handles, the files
 * and directories it opened.  Ids given to the guest carry the slot and a
 * generation, so an id forgotten or released is refused, never reused for
 * another inode while the server lives. */
#ifndef GUEST_FS_FUSE_NODES_H
#define GUEST_FS_FUSE_NODES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct fuse_node {
    int fd;              /* O_PATH, or -1 where the slot is free */
    uint32_t generation; /* of the slot: bumped when it is freed */
    uint32_t next;       /* slot + 1 of the next in the hash chain, or the free list; 0 ends */
    mode_t type;         /* S_IFMT: fixed for the inode the descriptor holds */
    dev_t dev;
    ino_t ino;
    uint64_t lookups; /* the guest's count: LOOKUP and the like add one, FORGET subtracts */
};

struct fuse_nodes {
    struct fuse_node *slots; /* slot 0 is the root, id FUSE_ROOT_ID */
    uint32_t capacity;       /* slots allocated */
    uint32_t used;           /* slots holding a node */
    uint32_t limit;          /* nodes allowed at most */
    uint32_t free_list;      /* slot + 1, 0 when empty */
    uint32_t *buckets;       /* heads (slot + 1) of the (dev, ino) hash chains */
    uint32_t bucket_mask;    /* bucket count - 1: a power of two */
};

/* Takes root_fd (O_PATH, of the directory st describes) as node 1. */
int fuse_nodes_init(struct fuse_nodes *nodes, int root_fd, const struct stat *root,
                    uint32_t limit);
/* Closes every descriptor, the root's too. */
void fuse_nodes_destroy(struct fuse_nodes *nodes);

/* The node the guest calls id, or NULL (never given, or forgotten). */
struct fuse_node *fuse_nodes_get(const struct fuse_nodes *nodes, uint64_t id);
uint64_t fuse_nodes_id(const struct fuse_nodes *nodes, const struct fuse_node *node);

/* One more lookup of the inode fd (O_PATH) holds, st its fstat: the node
 * already there for (st_dev, st_ino), which keeps its descriptor (fd is
 * closed), or a new one that takes fd.  Returns 0 with *id set, or a
 * negative errno with fd closed: -ENFILE when the table is full.  The table
 * may move: pointers from fuse_nodes_get are stale afterwards. */
int fuse_nodes_add_lookup(struct fuse_nodes *nodes, int fd, const struct stat *st, uint64_t *id);

/* No new node can be added (a lookup of a known inode still works). */
bool fuse_nodes_full(const struct fuse_nodes *nodes);

/* The guest forgets count lookups of id; the node goes when none is left.
 * Unknown ids and the root are ignored. */
void fuse_nodes_forget(struct fuse_nodes *nodes, uint64_t id, uint64_t count);
/* Every node but the root goes. */
void fuse_nodes_forget_all(struct fuse_nodes *nodes);

enum fuse_handle_kind {
    FUSE_HANDLE_FREE,
    FUSE_HANDLE_FILE,
    FUSE_HANDLE_DIRECTORY,
};

struct fuse_handle {
    int fd;
    enum fuse_handle_kind kind;
    uint32_t generation;
    uint32_t next_free; /* slot + 1, 0 ends */
    uint64_t node;      /* the node id it was opened from */
    bool root;          /* a directory handle on the share's root */
};

struct fuse_handles {
    struct fuse_handle *slots;
    uint32_t capacity, used, limit;
    uint32_t free_list; /* slot + 1 */
};

int fuse_handles_init(struct fuse_handles *handles, uint32_t limit);
void fuse_handles_destroy(struct fuse_handles *handles);

bool fuse_handles_full(const struct fuse_handles *handles);
/* Takes fd: returns the new handle's fh, or 0 (fd closed) when full. */
uint64_t fuse_handles_add(struct fuse_handles *handles, int fd, enum fuse_handle_kind kind,
                          uint64_t node, bool root);
/* The open handle fh of that kind, or NULL. */
struct fuse_handle *fuse_handles_get(const struct fuse_handles *handles, uint64_t fh,
                                     enum fuse_handle_kind kind);
void fuse_handles_release(struct fuse_handles *handles, struct fuse_handle *handle);
void fuse_handles_release_all(struct fuse_handles *handles);

#endif
