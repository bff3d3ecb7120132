#include "fs/fuse_nodes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An id is (generation << 32) | (slot + 1): node 1 is slot 0's first. */
#define ID_SLOT(id) ((uint32_t)(id)-1u)
#define ID_GENERATION(id) ((uint32_t)((id) >> 32))
#define MAKE_ID(slot, generation) (((uint64_t)(generation) << 32) | ((uint64_t)(slot) + 1u))

#define FIRST_CAPACITY 64u

static uint32_t node_hash(const struct fuse_nodes *nodes, dev_t dev, ino_t ino)
{
    uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 17) ^ ((uint64_t)dev >> 47)) *
                 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & nodes->bucket_mask;
}

static void link_into_bucket(struct fuse_nodes *nodes, uint32_t slot)
{
    struct fuse_node *node = &nodes->slots[slot];
    uint32_t bucket = node_hash(nodes, node->dev, node->ino);
    node->next = nodes->buckets[bucket];
    nodes->buckets[bucket] = slot + 1;
}

static void unlink_from_bucket(struct fuse_nodes *nodes, uint32_t slot)
{
    struct fuse_node *node = &nodes->slots[slot];
    uint32_t *link = &nodes->buckets[node_hash(nodes, node->dev, node->ino)];
    while (*link && *link != slot + 1)
        link = &nodes->slots[*link - 1].next;
    if (*link)
        *link = node->next;
}

/* Free slots from first to capacity go on the free list, lowest first. */
static void free_new_slots(struct fuse_nodes *nodes, uint32_t first)
{
    for (uint32_t slot = nodes->capacity; slot-- > first;) {
        nodes->slots[slot] = (struct fuse_node){.fd = -1, .next = nodes->free_list};
        nodes->free_list = slot + 1;
    }
}

/* Enough buckets for every slot: chains stay short without a load check. */
static int rehash(struct fuse_nodes *nodes)
{
    uint32_t count = 1;
    while (count < nodes->capacity)
        count <<= 1;
    uint32_t *buckets = calloc(count, sizeof(*buckets));
    if (!buckets)
        return -ENOMEM;
    free(nodes->buckets);
    nodes->buckets = buckets;
    nodes->bucket_mask = count - 1;
    for (uint32_t slot = 0; slot < nodes->capacity; slot++)
        if (nodes->slots[slot].fd >= 0)
            link_into_bucket(nodes, slot);
    return 0;
}

static int grow(struct fuse_nodes *nodes)
{
    if (nodes->capacity >= nodes->limit)
        return -ENFILE;
    uint32_t capacity = nodes->capacity * 2;
    if (capacity > nodes->limit || capacity < nodes->capacity)
        capacity = nodes->limit;
    struct fuse_node *slots = realloc(nodes->slots, capacity * sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    uint32_t first = nodes->capacity;
    nodes->slots = slots;
    nodes->capacity = capacity;
    free_new_slots(nodes, first);
    return rehash(nodes);
}

int fuse_nodes_init(struct fuse_nodes *nodes, int root_fd, const struct stat *root,
                    uint32_t limit)
{
    memset(nodes, 0, sizeof(*nodes));
    nodes->limit = limit < 1 ? 1 : limit;
    nodes->capacity = nodes->limit < FIRST_CAPACITY ? nodes->limit : FIRST_CAPACITY;
    nodes->slots = calloc(nodes->capacity, sizeof(*nodes->slots));
    if (!nodes->slots)
        return -ENOMEM;
    free_new_slots(nodes, 1);
    nodes->slots[0] = (struct fuse_node){
        .fd = root_fd, .type = root->st_mode & S_IFMT, .dev = root->st_dev, .ino = root->st_ino};
    nodes->used = 1;
    if (rehash(nodes) < 0) {
        free(nodes->slots);
        nodes->slots = NULL;
        return -ENOMEM;
    }
    return 0;
}

void fuse_nodes_destroy(struct fuse_nodes *nodes)
{
    fuse_nodes_forget_all(nodes);
    if (nodes->slots && nodes->slots[0].fd >= 0)
        close(nodes->slots[0].fd);
    free(nodes->slots);
    free(nodes->buckets);
    memset(nodes, 0, sizeof(*nodes));
}

struct fuse_node *fuse_nodes_get(const struct fuse_nodes *nodes, uint64_t id)
{
    uint32_t slot = ID_SLOT(id);
    if ((uint32_t)id == 0 || slot >= nodes->capacity)
        return NULL;
    struct fuse_node *node = &nodes->slots[slot];
    if (node->fd < 0 || node->generation != ID_GENERATION(id))
        return NULL;
    return node;
}

uint64_t fuse_nodes_id(const struct fuse_nodes *nodes, const struct fuse_node *node)
{
    uint32_t slot = (uint32_t)(node - nodes->slots);
    return MAKE_ID(slot, node->generation);
}

bool fuse_nodes_full(const struct fuse_nodes *nodes)
{
    return nodes->used >= nodes->limit;
}

static struct fuse_node *find(const struct fuse_nodes *nodes, dev_t dev, ino_t ino)
{
    for (uint32_t link = nodes->buckets[node_hash(nodes, dev, ino)]; link;) {
        struct fuse_node *node = &nodes->slots[link - 1];
        if (node->dev == dev && node->ino == ino)
            return node;
        link = node->next;
    }
    return NULL;
}

int fuse_nodes_add_lookup(struct fuse_nodes *nodes, int fd, const struct stat *st, uint64_t *id)
{
    struct fuse_node *node = find(nodes, st->st_dev, st->st_ino);
    if (node) {
        close(fd);
        if (node->lookups < UINT64_MAX)
            node->lookups++;
        *id = fuse_nodes_id(nodes, node);
        return 0;
    }
    if (fuse_nodes_full(nodes)) {
        close(fd);
        return -ENFILE;
    }
    if (!nodes->free_list) {
        int error = grow(nodes);
        if (error < 0 || !nodes->free_list) {
            close(fd);
            return error < 0 ? error : -ENFILE;
        }
    }
    uint32_t slot = nodes->free_list - 1;
    node = &nodes->slots[slot];
    nodes->free_list = node->next;
    node->fd = fd;
    node->type = st->st_mode & S_IFMT;
    node->dev = st->st_dev;
    node->ino = st->st_ino;
    node->lookups = 1;
    link_into_bucket(nodes, slot);
    nodes->used++;
    *id = MAKE_ID(slot, node->generation);
    return 0;
}

static void free_node(struct fuse_nodes *nodes, uint32_t slot)
{
    struct fuse_node *node = &nodes->slots[slot];
    unlink_from_bucket(nodes, slot);
    close(node->fd);
    node->fd = -1;
    node->lookups = 0;
    nodes->used--;
    /* A slot whose generation wrapped would give an old id again: retired. */
    if (++node->generation == 0)
        return;
    node->next = nodes->free_list;
    nodes->free_list = slot + 1;
}

void fuse_nodes_forget(struct fuse_nodes *nodes, uint64_t id, uint64_t count)
{
    struct fuse_node *node = fuse_nodes_get(nodes, id);
    if (!node || node == &nodes->slots[0] || count == 0)
        return;
    if (count < node->lookups)
        node->lookups -= count;
    else
        free_node(nodes, ID_SLOT(id));
}

void fuse_nodes_forget_all(struct fuse_nodes *nodes)
{
    for (uint32_t slot = 1; slot < nodes->capacity; slot++)
        if (nodes->slots[slot].fd >= 0)
            free_node(nodes, slot);
    if (nodes->capacity)
        nodes->slots[0].lookups = 0;
}

/* --- handles ------------------------------------------------------------- */

int fuse_handles_init(struct fuse_handles *handles, uint32_t limit)
{
    memset(handles, 0, sizeof(*handles));
    handles->limit = handles->capacity = limit < 1 ? 1 : limit;
    handles->slots = calloc(handles->capacity, sizeof(*handles->slots));
    if (!handles->slots)
        return -ENOMEM;
    for (uint32_t slot = handles->capacity; slot-- > 0;) {
        handles->slots[slot] = (struct fuse_handle){.fd = -1, .next_free = handles->free_list};
        handles->free_list = slot + 1;
    }
    return 0;
}

void fuse_handles_destroy(struct fuse_handles *handles)
{
    fuse_handles_release_all(handles);
    free(handles->slots);
    memset(handles, 0, sizeof(*handles));
}

bool fuse_handles_full(const struct fuse_handles *handles)
{
    return handles->used >= handles->limit || !handles->free_list;
}

uint64_t fuse_handles_add(struct fuse_handles *handles, int fd, enum fuse_handle_kind kind,
                          uint64_t node, bool root)
{
    if (fuse_handles_full(handles)) {
        close(fd);
        return 0;
    }
    uint32_t slot = handles->free_list - 1;
    struct fuse_handle *handle = &handles->slots[slot];
    handles->free_list = handle->next_free;
    handle->fd = fd;
    handle->kind = kind;
    handle->node = node;
    handle->root = root;
    handles->used++;
    return MAKE_ID(slot, handle->generation);
}

struct fuse_handle *fuse_handles_get(const struct fuse_handles *handles, uint64_t fh,
                                     enum fuse_handle_kind kind)
{
    uint32_t slot = ID_SLOT(fh);
    if ((uint32_t)fh == 0 || slot >= handles->capacity)
        return NULL;
    struct fuse_handle *handle = &handles->slots[slot];
    if (handle->kind != kind || kind == FUSE_HANDLE_FREE ||
        handle->generation != ID_GENERATION(fh))
        return NULL;
    return handle;
}

void fuse_handles_release(struct fuse_handles *handles, struct fuse_handle *handle)
{
    close(handle->fd);
    handle->fd = -1;
    handle->kind = FUSE_HANDLE_FREE;
    handles->used--;
    if (++handle->generation == 0)
        return; /* retired, as a node slot */
    handle->next_free = handles->free_list;
    handles->free_list = (uint32_t)(handle - handles->slots) + 1;
}

void fuse_handles_release_all(struct fuse_handles *handles)
{
    for (uint32_t slot = 0; slot < handles->capacity; slot++)
        if (handles->slots[slot].kind != FUSE_HANDLE_FREE)
            fuse_handles_release(handles, &handles->slots[slot]);
}
