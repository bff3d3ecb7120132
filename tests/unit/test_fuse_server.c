/* The FUSE server over a scratch directory under /tmp, with requests built
 * by hand as the guest's kernel sends them: INIT, lookups and attributes,
 * I/O, everything that makes, renames and removes entries, directory
 * listings, statfs, xattrs, a read-only share; then the guest as an
 * attacker (names that climb or hold slashes, symlinks out of the share,
 * renames under a lookup, stale ids and handles, huge sizes, short
 * buffers), with a sibling "outside" directory holding a secret that must
 * stay unread and unchanged.  Every test ends with the descriptor count it
 * started with. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fuse_nodes.h"
#include "fs/fuse_server.h"

#define BUFFER_SIZE (FUSE_SERVER_MAX_IO + 64 * 1024)
#define CANARY 0xee
#define CANARY_BYTES 4096
#define SECRET "the secret outside the share\n"
#define FILE_TEXT "hello, world\n"

struct fixture {
    char base[64];
    char share[128];
    char outside[128];
    struct fuse_server *server;
    bool read_only;
    int descriptors; /* before the server was made */
    uint8_t *in;
    size_t in_length;
    uint8_t *out;
    size_t out_size; /* what the next request offers for its reply */
    uint64_t unique;
    char outside_before[8192];
};

/* --- the scratch tree -------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void make_path(char *path, size_t size, const char *directory, const char *name)
{
    snprintf(path, size, "%s/%s", directory, name);
}

/* Names, kinds, sizes, modes, times and contents under directory, in one string. */
static void describe_tree(const char *directory, char *out, size_t size)
{
    DIR *dir = opendir(directory);
    assert_non_null(dir);
    struct dirent *entry;
    char names[64][256];
    int count = 0;
    while ((entry = readdir(dir)) && count < 64)
        if (strcmp(entry->d_name, ".") && strcmp(entry->d_name, ".."))
            snprintf(names[count++], sizeof(names[0]), "%s", entry->d_name);
    closedir(dir);
    qsort(names, (size_t)count, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
    for (int i = 0; i < count; i++) {
        char path[512];
        make_path(path, sizeof(path), directory, names[i]);
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s %o %lld %lld.%ld %lu;", names[i], st.st_mode,
                 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                 (unsigned long)st.st_nlink);
        if (S_ISREG(st.st_mode)) {
            char data[256] = {0};
            int fd = open(path, O_RDONLY);
            assert_true(fd >= 0);
            assert_true(read(fd, data, sizeof(data) - 1) >= 0);
            close(fd);
            used = strlen(out);
            snprintf(out + used, size - used, "[%s]", data);
        } else if (S_ISDIR(st.st_mode)) {
            describe_tree(path, out, size);
        }
    }
}

static void check_outside_unchanged(struct fixture *fixture)
{
    char now[sizeof(fixture->outside_before)] = "";
    describe_tree(fixture->outside, now, sizeof(now));
    assert_string_equal(now, fixture->outside_before);
}

static int descriptor_count(void)
{
    int count = 0;
    DIR *dir = opendir("/proc/self/fd");
    assert_non_null(dir);
    while (readdir(dir))
        count++;
    closedir(dir);
    return count;
}

/* share/: file, dir/inner, dir/sub/, escape -> ../outside/secret, root -> /,
 * away -> the outside directory by its absolute path; outside/: secret. */
static void make_tree(struct fixture *fixture)
{
    char path[512];
    snprintf(fixture->base, sizeof(fixture->base), "/tmp/test_fuse_server-XXXXXX");
    assert_non_null(mkdtemp(fixture->base));
    make_path(fixture->share, sizeof(fixture->share), fixture->base, "share");
    make_path(fixture->outside, sizeof(fixture->outside), fixture->base, "outside");
    assert_int_equal(mkdir(fixture->share, 0755), 0);
    assert_int_equal(mkdir(fixture->outside, 0755), 0);
    make_path(path, sizeof(path), fixture->outside, "secret");
    write_file(path, SECRET);
    make_path(path, sizeof(path), fixture->share, "file");
    write_file(path, FILE_TEXT);
    make_path(path, sizeof(path), fixture->share, "dir");
    assert_int_equal(mkdir(path, 0755), 0);
    make_path(path, sizeof(path), fixture->share, "dir/inner");
    write_file(path, "inner\n");
    make_path(path, sizeof(path), fixture->share, "dir/sub");
    assert_int_equal(mkdir(path, 0755), 0);
    make_path(path, sizeof(path), fixture->share, "escape");
    assert_int_equal(symlink("../outside/secret", path), 0);
    make_path(path, sizeof(path), fixture->share, "root");
    assert_int_equal(symlink("/", path), 0);
    make_path(path, sizeof(path), fixture->share, "away");
    assert_int_equal(symlink(fixture->outside, path), 0);
    describe_tree(fixture->outside, fixture->outside_before, sizeof(fixture->outside_before));
}

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st))
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        struct dirent *entry;
        while (dir && (entry = readdir(dir))) {
            if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
                continue;
            char child[512];
            make_path(child, sizeof(child), path, entry->d_name);
            remove_tree(child);
        }
        if (dir)
            closedir(dir);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void start_server(struct fixture *fixture, bool read_only)
{
    struct error error = {{0}};
    if (fuse_server_create(&fixture->server, fixture->share, read_only, &error))
        fail_msg("fuse_server_create: %s", error.message);
    fixture->read_only = read_only;
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    if (!fixture)
        return -1;
    fixture->in = calloc(1, BUFFER_SIZE);
    fixture->out = calloc(1, BUFFER_SIZE + CANARY_BYTES);
    if (!fixture->in || !fixture->out)
        return -1;
    make_tree(fixture);
    fixture->descriptors = descriptor_count();
    start_server(fixture, false);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    fuse_server_destroy(fixture->server);
    int descriptors = descriptor_count();
    check_outside_unchanged(fixture);
    remove_tree(fixture->base);
    free(fixture->in);
    free(fixture->out);
    int expected = fixture->descriptors;
    free(fixture);
    assert_int_equal(descriptors, expected); /* nothing leaked */
    return 0;
}

/* --- building requests ------------------------------------------------------- */

static void begin(struct fixture *fixture, uint32_t opcode, uint64_t node)
{
    struct fuse_in_header header = {
        .opcode = opcode,
        .unique = ++fixture->unique,
        .nodeid = node,
        .uid = 12345, /* not who acts: the VMM's own ids do */
        .gid = 12345,
        .pid = 1,
    };
    memcpy(fixture->in, &header, sizeof(header));
    fixture->in_length = sizeof(header);
    fixture->out_size = BUFFER_SIZE;
}

static void add(struct fixture *fixture, const void *data, size_t size)
{
    assert_true(fixture->in_length + size <= BUFFER_SIZE);
    memcpy(fixture->in + fixture->in_length, data, size);
    fixture->in_length += size;
}

static void add_string(struct fixture *fixture, const char *string)
{
    add(fixture, string, strlen(string) + 1);
}

static const struct fuse_out_header *reply_header(const struct fixture *fixture)
{
    return (const struct fuse_out_header *)fixture->out;
}

static const void *reply_body(const struct fixture *fixture)
{
    return fixture->out + sizeof(struct fuse_out_header);
}

static uint32_t body_length(const struct fixture *fixture)
{
    return reply_header(fixture)->len - (uint32_t)sizeof(struct fuse_out_header);
}

/* Sends what begin() and add() built, its header's len as built unless
 * len_override; checks the reply's header and that nothing past the offered
 * out buffer was written.  Returns the bytes written. */
static uint32_t send_with_length(struct fixture *fixture, uint32_t length)
{
    memcpy(fixture->in, &length, sizeof(length));
    memset(fixture->out + fixture->out_size, CANARY, CANARY_BYTES);
    struct iovec in = {fixture->in, fixture->in_length};
    struct iovec out = {fixture->out, fixture->out_size};
    uint32_t written = fuse_server_handle(fixture->server, &in, 1, &out, 1);
    assert_true(written <= fixture->out_size);
    for (size_t i = 0; i < CANARY_BYTES; i++)
        assert_int_equal(fixture->out[fixture->out_size + i], CANARY);
    if (written) {
        assert_true(written >= sizeof(struct fuse_out_header));
        assert_int_equal(reply_header(fixture)->len, written);
        assert_int_equal(reply_header(fixture)->unique, fixture->unique);
        if (reply_header(fixture)->error)
            assert_int_equal(written, sizeof(struct fuse_out_header));
    }
    return written;
}

static uint32_t send(struct fixture *fixture)
{
    return send_with_length(fixture, (uint32_t)fixture->in_length);
}

/* Sends and returns the reply's error (0 or a negative errno). */
static int call(struct fixture *fixture)
{
    uint32_t written = send(fixture);
    assert_true(written >= sizeof(struct fuse_out_header));
    return reply_header(fixture)->error;
}

/* --- requests ------------------------------------------------------------------ */

static int init_with(struct fixture *fixture, uint32_t major, uint32_t minor, uint32_t flags,
                     struct fuse_init_out *out)
{
    begin(fixture, FUSE_INIT, 0);
    struct fuse_init_in in = {.major = major, .minor = minor, .max_readahead = 128 * 1024,
                              .flags = flags};
    add(fixture, &in, sizeof(in));
    int error = call(fixture);
    if (!error && out) {
        assert_int_equal(body_length(fixture), sizeof(*out));
        memcpy(out, reply_body(fixture), sizeof(*out));
    }
    return error;
}

static void init(struct fixture *fixture)
{
    assert_int_equal(init_with(fixture, 7, 38, 0xffffffffu, NULL), 0);
}

static int lookup(struct fixture *fixture, uint64_t parent, const char *name,
                  struct fuse_entry_out *entry)
{
    begin(fixture, FUSE_LOOKUP, parent);
    add_string(fixture, name);
    int error = call(fixture);
    if (!error) {
        assert_int_equal(body_length(fixture), sizeof(*entry));
        if (entry)
            memcpy(entry, reply_body(fixture), sizeof(*entry));
    }
    return error;
}

static uint64_t lookup_id(struct fixture *fixture, uint64_t parent, const char *name)
{
    struct fuse_entry_out entry;
    assert_int_equal(lookup(fixture, parent, name, &entry), 0);
    assert_true(entry.nodeid > 1);
    return entry.nodeid;
}

static void forget(struct fixture *fixture, uint64_t node, uint64_t count)
{
    begin(fixture, FUSE_FORGET, node);
    struct fuse_forget_in in = {count};
    add(fixture, &in, sizeof(in));
    assert_int_equal(send(fixture), 0);
}

static int getattr(struct fixture *fixture, uint64_t node, struct fuse_attr *attr)
{
    begin(fixture, FUSE_GETATTR, node);
    struct fuse_getattr_in in = {0};
    add(fixture, &in, sizeof(in));
    int error = call(fixture);
    if (!error) {
        struct fuse_attr_out out;
        assert_int_equal(body_length(fixture), sizeof(out));
        memcpy(&out, reply_body(fixture), sizeof(out));
        if (attr)
            *attr = out.attr;
    }
    return error;
}

static int open_node(struct fixture *fixture, uint32_t opcode, uint64_t node, uint32_t flags,
                     uint64_t *fh)
{
    begin(fixture, opcode, node);
    struct fuse_open_in in = {.flags = flags};
    add(fixture, &in, sizeof(in));
    int error = call(fixture);
    if (!error) {
        struct fuse_open_out out;
        assert_int_equal(body_length(fixture), sizeof(out));
        memcpy(&out, reply_body(fixture), sizeof(out));
        *fh = out.fh;
    }
    return error;
}

static uint64_t open_file(struct fixture *fixture, uint64_t node, uint32_t flags)
{
    uint64_t fh = 0;
    assert_int_equal(open_node(fixture, FUSE_OPEN, node, flags, &fh), 0);
    return fh;
}

static int release(struct fixture *fixture, uint32_t opcode, uint64_t fh)
{
    begin(fixture, opcode, 0);
    struct fuse_release_in in = {.fh = fh};
    add(fixture, &in, sizeof(in));
    return call(fixture);
}

/* READ (or READDIR, READDIRPLUS: the same arguments); returns the bytes or an error. */
static int read_request(struct fixture *fixture, uint32_t opcode, uint64_t fh, uint64_t offset,
                        uint32_t size)
{
    begin(fixture, opcode, 1);
    struct fuse_read_in in = {.fh = fh, .offset = offset, .size = size};
    add(fixture, &in, sizeof(in));
    int error = call(fixture);
    return error ? error : (int)body_length(fixture);
}

static int write_request(struct fixture *fixture, uint64_t fh, uint64_t offset, const void *data,
                         uint32_t size)
{
    begin(fixture, FUSE_WRITE, 1);
    struct fuse_write_in in = {.fh = fh, .offset = offset, .size = size};
    add(fixture, &in, sizeof(in));
    add(fixture, data, size);
    int error = call(fixture);
    if (error)
        return error;
    struct fuse_write_out out;
    assert_int_equal(body_length(fixture), sizeof(out));
    memcpy(&out, reply_body(fixture), sizeof(out));
    return (int)out.size;
}

static int create(struct fixture *fixture, uint64_t parent, const char *name, uint32_t flags,
                  uint32_t mode, uint32_t umask, struct fuse_entry_out *entry, uint64_t *fh)
{
    begin(fixture, FUSE_CREATE, parent);
    struct fuse_create_in in = {.flags = flags, .mode = mode, .umask = umask};
    add(fixture, &in, sizeof(in));
    add_string(fixture, name);
    int error = call(fixture);
    if (!error) {
        struct {
            struct fuse_entry_out entry;
            struct fuse_open_out open;
        } out;
        assert_int_equal(body_length(fixture), sizeof(out));
        memcpy(&out, reply_body(fixture), sizeof(out));
        if (entry)
            *entry = out.entry;
        if (fh)
            *fh = out.open.fh;
    }
    return error;
}

static int mkdir_request(struct fixture *fixture, uint64_t parent, const char *name,
                         uint32_t mode, uint32_t umask, struct fuse_entry_out *entry)
{
    begin(fixture, FUSE_MKDIR, parent);
    struct fuse_mkdir_in in = {.mode = mode, .umask = umask};
    add(fixture, &in, sizeof(in));
    add_string(fixture, name);
    int error = call(fixture);
    if (!error && entry)
        memcpy(entry, reply_body(fixture), sizeof(*entry));
    return error;
}

static int mknod_request(struct fixture *fixture, uint64_t parent, const char *name,
                         uint32_t mode, uint32_t rdev, struct fuse_entry_out *entry)
{
    begin(fixture, FUSE_MKNOD, parent);
    struct fuse_mknod_in in = {.mode = mode, .rdev = rdev};
    add(fixture, &in, sizeof(in));
    add_string(fixture, name);
    int error = call(fixture);
    if (!error && entry)
        memcpy(entry, reply_body(fixture), sizeof(*entry));
    return error;
}

static int symlink_request(struct fixture *fixture, uint64_t parent, const char *name,
                           const char *target, struct fuse_entry_out *entry)
{
    begin(fixture, FUSE_SYMLINK, parent);
    add_string(fixture, name);
    add_string(fixture, target);
    int error = call(fixture);
    if (!error && entry)
        memcpy(entry, reply_body(fixture), sizeof(*entry));
    return error;
}

static int link_request(struct fixture *fixture, uint64_t node, uint64_t parent,
                        const char *name, struct fuse_entry_out *entry)
{
    begin(fixture, FUSE_LINK, parent);
    struct fuse_link_in in = {node};
    add(fixture, &in, sizeof(in));
    add_string(fixture, name);
    int error = call(fixture);
    if (!error && entry)
        memcpy(entry, reply_body(fixture), sizeof(*entry));
    return error;
}

static int remove_request(struct fixture *fixture, uint32_t opcode, uint64_t parent,
                          const char *name)
{
    begin(fixture, opcode, parent);
    add_string(fixture, name);
    return call(fixture);
}

static int rename_request(struct fixture *fixture, uint64_t parent, const char *name,
                          uint64_t new_parent, const char *new_name, uint32_t flags)
{
    if (flags == UINT32_MAX) {
        begin(fixture, FUSE_RENAME, parent);
        struct fuse_rename_in in = {new_parent};
        add(fixture, &in, sizeof(in));
    } else {
        begin(fixture, FUSE_RENAME2, parent);
        struct fuse_rename2_in in = {.newdir = new_parent, .flags = flags};
        add(fixture, &in, sizeof(in));
    }
    add_string(fixture, name);
    add_string(fixture, new_name);
    return call(fixture);
}

static int readlink_request(struct fixture *fixture, uint64_t node, char *text, size_t size)
{
    begin(fixture, FUSE_READLINK, node);
    int error = call(fixture);
    if (error)
        return error;
    uint32_t length = body_length(fixture);
    assert_true(length < size);
    memcpy(text, reply_body(fixture), length);
    text[length] = '\0';
    return (int)length;
}

static int setattr_request(struct fixture *fixture, uint64_t node,
                           const struct fuse_setattr_in *in, struct fuse_attr *attr)
{
    begin(fixture, FUSE_SETATTR, node);
    add(fixture, in, sizeof(*in));
    int error = call(fixture);
    if (!error && attr) {
        struct fuse_attr_out out;
        assert_int_equal(body_length(fixture), sizeof(out));
        memcpy(&out, reply_body(fixture), sizeof(out));
        *attr = out.attr;
    }
    return error;
}

static void host_path(const struct fixture *fixture, const char *name, char *path, size_t size)
{
    make_path(path, size, fixture->share, name);
}

static bool host_exists(const struct fixture *fixture, const char *name)
{
    char path[512];
    struct stat st;
    host_path(fixture, name, path, sizeof(path));
    return lstat(path, &st) == 0;
}

static void host_stat(const struct fixture *fixture, const char *name, struct stat *st)
{
    char path[512];
    host_path(fixture, name, path, sizeof(path));
    assert_int_equal(lstat(path, st), 0);
}

static void host_read(const struct fixture *fixture, const char *name, char *data, size_t size)
{
    char path[512];
    host_path(fixture, name, path, sizeof(path));
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t length = read(fd, data, size - 1);
    assert_true(length >= 0);
    data[length] = '\0';
    close(fd);
}

/* --- creation and INIT ---------------------------------------------------------- */

static void test_create_errors(void **state)
{
    struct fixture *fixture = *state;
    struct fuse_server *server = (struct fuse_server *)1;
    struct error error = {{0}};
    char path[512];
    host_path(fixture, "missing", path, sizeof(path));
    assert_int_equal(fuse_server_create(&server, path, false, &error), -1);
    assert_null(server);
    assert_non_null(strstr(error.message, path));
    assert_non_null(strstr(error.message, "No such file"));

    host_path(fixture, "file", path, sizeof(path));
    assert_int_equal(fuse_server_create(&server, path, true, &error), -1);
    char expected[600];
    snprintf(expected, sizeof(expected), "%s: not a directory", path);
    assert_string_equal(error.message, expected);

    /* A symlink to a directory is the user's choice of share: followed. */
    host_path(fixture, "dir", path, sizeof(path));
    assert_int_equal(fuse_server_create(&server, path, true, &error), 0);
    fuse_server_destroy(server);
}

static void test_init(void **state)
{
    struct fixture *fixture = *state;
    /* Nothing is served before INIT. */
    struct fuse_entry_out entry;
    assert_int_equal(lookup(fixture, 1, "file", &entry), -EIO);

    /* A newer major: the server says its own, and waits for another INIT. */
    struct fuse_init_out out;
    assert_int_equal(init_with(fixture, 8, 0, 0, &out), 0);
    assert_int_equal(out.major, 7);
    assert_int_equal(lookup(fixture, 1, "file", &entry), -EIO);
    assert_int_equal(init_with(fixture, 6, 40, 0, NULL), -EPROTO);
    assert_int_equal(init_with(fixture, 7, 30, 0, NULL), -EPROTO); /* older than virtio-fs */

    uint32_t wanted = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS |
                      FUSE_READDIRPLUS_AUTO | FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES |
                      FUSE_POSIX_LOCKS | FUSE_WRITEBACK_CACHE | FUSE_EXPORT_SUPPORT;
    assert_int_equal(init_with(fixture, 7, 36, wanted, &out), 0);
    assert_int_equal(out.major, 7);
    assert_int_equal(out.minor, 36); /* the driver's, being older */
    assert_true(out.flags & FUSE_ASYNC_READ);
    assert_true(out.flags & FUSE_BIG_WRITES);
    assert_true(out.flags & FUSE_DO_READDIRPLUS);
    assert_true(out.flags & FUSE_MAX_PAGES);
    assert_false(out.flags & ~wanted); /* nothing the driver did not offer */
    assert_false(out.flags & (FUSE_POSIX_LOCKS | FUSE_WRITEBACK_CACHE | FUSE_EXPORT_SUPPORT));
    assert_int_equal(out.max_write, FUSE_SERVER_MAX_IO);
    assert_int_equal(out.max_pages, FUSE_SERVER_MAX_IO / 4096);
    assert_true(out.max_readahead <= 128 * 1024);
    assert_int_equal(lookup(fixture, 1, "file", &entry), 0);
    assert_int_equal(init_with(fixture, 7, 38, 0, NULL), -EPROTO); /* once */

    /* A newer minor gets ours; DESTROY ends the session. */
    begin(fixture, FUSE_DESTROY, 0);
    assert_int_equal(call(fixture), 0);
    assert_int_equal(lookup(fixture, 1, "file", &entry), -EIO);
    assert_int_equal(init_with(fixture, 7, 99, 0, &out), 0);
    assert_int_equal(out.minor, FUSE_KERNEL_MINOR_VERSION);
    assert_int_equal(out.flags, 0);

    /* Before 7.36, fuse_init_in was 16 bytes. */
    fuse_server_reset(fixture->server);
    begin(fixture, FUSE_INIT, 0);
    uint32_t old[4] = {7, 31, 65536, FUSE_ASYNC_READ};
    add(fixture, old, sizeof(old));
    assert_int_equal(call(fixture), 0);
    memcpy(&out, reply_body(fixture), sizeof(out));
    assert_int_equal(out.minor, 31);
    assert_int_equal(out.flags, FUSE_ASYNC_READ);
}

/* --- lookups, attributes, I/O ---------------------------------------------------- */

static void test_lookup_and_getattr(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    struct fuse_entry_out entry, again;
    assert_int_equal(lookup(fixture, 1, "file", &entry), 0);
    struct stat st;
    host_stat(fixture, "file", &st);
    assert_true(entry.nodeid > 1);
    assert_int_equal(entry.attr.ino, st.st_ino);
    assert_int_equal(entry.attr.size, strlen(FILE_TEXT));
    assert_int_equal(entry.attr.mode, st.st_mode);
    assert_int_equal(entry.attr.nlink, 1);
    assert_int_equal(entry.attr.uid, st.st_uid);
    assert_int_equal(entry.attr.mtime, st.st_mtim.tv_sec);
    assert_int_equal(entry.attr.mtimensec, st.st_mtim.tv_nsec);
    assert_true(entry.entry_valid >= 1 && entry.attr_valid >= 1);
    /* The same inode is the same node, counted twice. */
    assert_int_equal(lookup(fixture, 1, "file", &again), 0);
    assert_int_equal(again.nodeid, entry.nodeid);
    forget(fixture, entry.nodeid, 1);
    struct fuse_attr attr;
    assert_int_equal(getattr(fixture, entry.nodeid, &attr), 0);
    assert_int_equal(attr.ino, st.st_ino);
    forget(fixture, entry.nodeid, 1);
    assert_int_equal(getattr(fixture, entry.nodeid, &attr), -ESTALE);
    /* A new lookup gives a new id: the old one stays stale. */
    uint64_t id = lookup_id(fixture, 1, "file");
    assert_int_not_equal(id, entry.nodeid);
    assert_int_equal(getattr(fixture, entry.nodeid, &attr), -ESTALE);

    uint64_t dir = lookup_id(fixture, 1, "dir");
    assert_int_equal(lookup(fixture, dir, "inner", &entry), 0);
    assert_true(S_ISREG(entry.attr.mode));
    assert_int_equal(lookup(fixture, dir, "missing", &entry), -ENOENT);
    assert_int_equal(lookup(fixture, id, "x", &entry), -ENOTDIR);
    assert_int_equal(getattr(fixture, 1, &attr), 0);
    assert_true(S_ISDIR(attr.mode));
    struct stat root;
    assert_int_equal(stat(fixture->share, &root), 0);
    assert_int_equal(attr.ino, root.st_ino);
    /* The root is never forgotten. */
    forget(fixture, 1, 1000);
    assert_int_equal(getattr(fixture, 1, &attr), 0);
}

static void test_read_and_write(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    uint64_t file = lookup_id(fixture, 1, "file");
    uint64_t fh = open_file(fixture, file, O_RDONLY);
    assert_int_equal(read_request(fixture, FUSE_READ, fh, 0, 4096), strlen(FILE_TEXT));
    assert_memory_equal(reply_body(fixture), FILE_TEXT, strlen(FILE_TEXT));
    assert_int_equal(read_request(fixture, FUSE_READ, fh, 7, 5), 5);
    assert_memory_equal(reply_body(fixture), "world", 5);
    assert_int_equal(read_request(fixture, FUSE_READ, fh, 1000, 10), 0);
    /* A read-only handle does not write. */
    assert_int_equal(write_request(fixture, fh, 0, "x", 1), -EBADF);
    begin(fixture, FUSE_FLUSH, file);
    struct fuse_flush_in flush = {.fh = fh};
    add(fixture, &flush, sizeof(flush));
    assert_int_equal(call(fixture), 0);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
    assert_int_equal(read_request(fixture, FUSE_READ, fh, 0, 10), -EBADF);

    fh = open_file(fixture, file, O_RDWR);
    static uint8_t big[FUSE_SERVER_MAX_IO];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + i / 4096);
    assert_int_equal(write_request(fixture, fh, 4, big, sizeof(big)), sizeof(big));
    begin(fixture, FUSE_FSYNC, file);
    struct fuse_fsync_in sync = {.fh = fh, .fsync_flags = FUSE_FSYNC_FDATASYNC};
    add(fixture, &sync, sizeof(sync));
    assert_int_equal(call(fixture), 0);
    assert_int_equal(read_request(fixture, FUSE_READ, fh, 0, FUSE_SERVER_MAX_IO),
                     FUSE_SERVER_MAX_IO);
    assert_memory_equal(reply_body(fixture), "hell", 4);
    assert_memory_equal((const uint8_t *)reply_body(fixture) + 4, big, sizeof(big) - 4);

    /* The reply split over many small buffers, the header across two. */
    begin(fixture, FUSE_READ, 1);
    struct fuse_read_in in = {.fh = fh, .offset = 4, .size = 1000};
    add(fixture, &in, sizeof(in));
    memcpy(fixture->in, &(uint32_t){(uint32_t)fixture->in_length}, 4);
    struct iovec in_iov[] = {{fixture->in, 3}, {fixture->in + 3, fixture->in_length - 3}};
    struct iovec out_iov[200];
    for (int i = 0; i < 200; i++)
        out_iov[i] = (struct iovec){fixture->out + i * 16, 7};
    uint32_t written = fuse_server_handle(fixture->server, in_iov, 2, out_iov, 200);
    assert_int_equal(written, 16 + 1000);
    uint8_t gathered[1100];
    for (size_t i = 0; i < written; i++)
        gathered[i] = fixture->out[(i / 7) * 16 + i % 7];
    assert_int_equal(((struct fuse_out_header *)gathered)->error, 0);
    assert_memory_equal(gathered + 16, big, 1000);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);

    /* O_TRUNC and O_APPEND reach the host. */
    fh = open_file(fixture, file, O_WRONLY | O_TRUNC | O_APPEND);
    struct stat st;
    host_stat(fixture, "file", &st);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(write_request(fixture, fh, 100, "ab", 2), 2);
    assert_int_equal(write_request(fixture, fh, 0, "cd", 2), 2);
    char text[64];
    host_read(fixture, "file", text, sizeof(text));
    assert_string_equal(text, "abcd");
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
}

static void test_fallocate_and_lseek(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    uint64_t fh;
    struct fuse_entry_out entry;
    assert_int_equal(create(fixture, 1, "sparse", O_RDWR, 0644, 0, &entry, &fh), 0);
    begin(fixture, FUSE_FALLOCATE, entry.nodeid);
    struct fuse_fallocate_in allocate = {.fh = fh, .offset = 0, .length = 1 << 20};
    add(fixture, &allocate, sizeof(allocate));
    assert_int_equal(call(fixture), 0);
    struct stat st;
    host_stat(fixture, "sparse", &st);
    assert_int_equal(st.st_size, 1 << 20);
    begin(fixture, FUSE_FALLOCATE, entry.nodeid);
    allocate = (struct fuse_fallocate_in){.fh = fh, .length = 4096, .mode = 0x08 /* collapse */};
    add(fixture, &allocate, sizeof(allocate));
    assert_int_equal(call(fixture), -EOPNOTSUPP);

    begin(fixture, FUSE_LSEEK, entry.nodeid);
    struct fuse_lseek_in seek = {.fh = fh, .offset = 0, .whence = SEEK_DATA};
    add(fixture, &seek, sizeof(seek));
    int error = call(fixture);
    assert_true(error == 0 || error == -ENXIO);
    begin(fixture, FUSE_LSEEK, entry.nodeid);
    seek.whence = SEEK_SET;
    add(fixture, &seek, sizeof(seek));
    assert_int_equal(call(fixture), -EINVAL);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
}

/* --- making, renaming, removing ---------------------------------------------------- */

static void test_create_and_mkdir(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    struct fuse_entry_out entry;
    uint64_t fh;
    /* The guest's umask, not the VMM's, decides: 0775 & ~002. */
    mode_t old_umask = umask(022);
    assert_int_equal(create(fixture, 1, "new", O_RDWR, S_IFREG | 0777, 002, &entry, &fh), 0);
    struct stat st;
    host_stat(fixture, "new", &st);
    assert_int_equal(st.st_mode, S_IFREG | 0775);
    assert_int_equal(entry.attr.mode, S_IFREG | 0775);
    assert_int_equal(entry.attr.ino, st.st_ino);
    assert_int_equal(write_request(fixture, fh, 0, "made", 4), 4);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
    /* Looked up by CREATE already: the same node. */
    assert_int_equal(lookup_id(fixture, 1, "new"), entry.nodeid);
    /* O_EXCL on an existing file; without it, the file is opened as it is. */
    assert_int_equal(create(fixture, 1, "new", O_RDWR | O_EXCL, 0600, 0, NULL, NULL), -EEXIST);
    assert_int_equal(create(fixture, 1, "new", O_RDONLY, 0600, 0, NULL, &fh), 0);
    host_stat(fixture, "new", &st);
    assert_int_equal(st.st_mode, S_IFREG | 0775);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
    assert_int_equal(create(fixture, 1, "dir", O_RDONLY, 0600, 0, NULL, NULL), -EISDIR);

    /* No set-user-ID or set-group-ID file; a directory keeps its set-group-ID. */
    assert_int_equal(create(fixture, 1, "suid", O_RDWR, 06755, 0, NULL, &fh), 0);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
    host_stat(fixture, "suid", &st);
    assert_int_equal(st.st_mode, S_IFREG | 0755);
    /* mkdir(2) takes no set-group-ID from the mode: a directory inherits it. */
    assert_int_equal(mkdir_request(fixture, 1, "made", 02777, 0, &entry), 0);
    host_stat(fixture, "made", &st);
    assert_int_equal(st.st_mode, S_IFDIR | 0777);
    assert_true(S_ISDIR(entry.attr.mode));
    struct fuse_setattr_in setgid = {.valid = FATTR_MODE, .mode = S_IFDIR | 02775};
    struct fuse_attr attr;
    assert_int_equal(setattr_request(fixture, entry.nodeid, &setgid, &attr), 0);
    assert_int_equal(attr.mode, S_IFDIR | 02775);
    assert_int_equal(mkdir_request(fixture, entry.nodeid, "inherits", 0750, 0, NULL), 0);
    host_stat(fixture, "made/inherits", &st);
    assert_int_equal(st.st_mode, S_IFDIR | 02750); /* kept, though not asked for */
    setgid.mode = S_IFDIR | 0777;
    assert_int_equal(setattr_request(fixture, entry.nodeid, &setgid, &attr), 0);
    assert_int_equal(mkdir_request(fixture, 1, "made", 0777, 0, NULL), -EEXIST);
    assert_int_equal(mkdir_request(fixture, entry.nodeid, "deeper", 0700, 022, NULL), 0);
    assert_true(host_exists(fixture, "made/deeper"));

    assert_int_equal(mknod_request(fixture, 1, "fifo", S_IFIFO | 0644, 0, &entry), 0);
    assert_true(S_ISFIFO(entry.attr.mode));
    /* Opening it would block the device thread: refused. */
    assert_int_equal(open_node(fixture, FUSE_OPEN, entry.nodeid, O_RDONLY, &fh), -EPERM);
    assert_int_equal(mknod_request(fixture, 1, "plain", S_IFREG | 0600, 0, &entry), 0);
    assert_true(S_ISREG(entry.attr.mode));
    assert_int_equal(mknod_request(fixture, 1, "socket", S_IFSOCK | 0600, 0, NULL), 0);
    assert_int_equal(mknod_request(fixture, 1, "null", S_IFCHR | 0666, makedev(1, 3), NULL),
                     -EPERM);
    assert_int_equal(mknod_request(fixture, 1, "disk", S_IFBLK | 0666, makedev(8, 0), NULL),
                     -EPERM);
    assert_int_equal(mknod_request(fixture, 1, "d", S_IFDIR | 0755, 0, NULL), -EINVAL);
    assert_false(host_exists(fixture, "null"));
    assert_false(host_exists(fixture, "disk"));
    umask(old_umask);
}

static void test_links_and_renames(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    struct fuse_entry_out entry;
    uint64_t file = lookup_id(fixture, 1, "file");
    uint64_t dir = lookup_id(fixture, 1, "dir");

    assert_int_equal(symlink_request(fixture, dir, "link", "../file", &entry), 0);
    assert_true(S_ISLNK(entry.attr.mode));
    char text[256];
    assert_int_equal(readlink_request(fixture, entry.nodeid, text, sizeof(text)), 7);
    assert_string_equal(text, "../file");
    assert_int_equal(readlink_request(fixture, file, text, sizeof(text)), -EINVAL);

    assert_int_equal(link_request(fixture, file, dir, "hard", &entry), 0);
    assert_int_equal(entry.nodeid, file); /* the same inode */
    assert_int_equal(entry.attr.nlink, 2);
    assert_int_equal(link_request(fixture, dir, 1, "dirlink", NULL), -EPERM);
    /* A hard link of a symlink links the symlink, not its target. */
    uint64_t escape = lookup_id(fixture, 1, "escape");
    assert_int_equal(link_request(fixture, escape, 1, "escape2", &entry), 0);
    assert_true(S_ISLNK(entry.attr.mode));

    assert_int_equal(rename_request(fixture, 1, "file", dir, "moved", UINT32_MAX), 0);
    assert_false(host_exists(fixture, "file"));
    assert_true(host_exists(fixture, "dir/moved"));
    struct fuse_attr attr;
    assert_int_equal(getattr(fixture, file, &attr), 0); /* the node follows the inode */
    assert_int_equal(rename_request(fixture, dir, "moved", 1, "dir", RENAME_NOREPLACE),
                     -EEXIST);
    assert_int_equal(rename_request(fixture, dir, "moved", dir, "inner", RENAME_EXCHANGE), 0);
    host_read(fixture, "dir/moved", text, sizeof(text));
    assert_string_equal(text, "inner\n");
    assert_int_equal(rename_request(fixture, dir, "moved", dir, "x", RENAME_WHITEOUT), -EINVAL);
    assert_int_equal(rename_request(fixture, dir, "moved", 999, "x", 0), -ESTALE);
    assert_int_equal(rename_request(fixture, dir, "moved", file, "x", 0), -ENOTDIR);

    assert_int_equal(remove_request(fixture, FUSE_UNLINK, dir, "hard"), 0);
    assert_int_equal(remove_request(fixture, FUSE_UNLINK, dir, "hard"), -ENOENT);
    assert_int_equal(remove_request(fixture, FUSE_RMDIR, dir, "sub"), 0);
    assert_false(host_exists(fixture, "dir/sub"));
    assert_int_equal(remove_request(fixture, FUSE_RMDIR, 1, "dir"), -ENOTEMPTY);
    assert_int_equal(remove_request(fixture, FUSE_UNLINK, 1, "dir"), -EISDIR);
    /* Removing a symlink removes the link only. */
    assert_int_equal(remove_request(fixture, FUSE_UNLINK, 1, "escape"), 0);
}

/* --- listings -------------------------------------------------------------------- */

struct listed {
    char name[256];
    uint64_t ino, off, node;
    uint32_t type;
};

/* Parses a READDIR (plus: READDIRPLUS) reply into entries; returns their count. */
static int parse_listing(const struct fixture *fixture, bool plus, struct listed *entries,
                         int max)
{
    const uint8_t *body = reply_body(fixture);
    uint32_t length = body_length(fixture), at = 0;
    int count = 0;
    while (at < length) {
        assert_true(count < max);
        struct listed *entry = &entries[count++];
        struct fuse_entry_out out = {0};
        if (plus) {
            memcpy(&out, body + at, sizeof(out));
            at += sizeof(out);
        }
        struct fuse_dirent dirent;
        memcpy(&dirent, body + at, FUSE_NAME_OFFSET);
        assert_true(dirent.namelen > 0 && dirent.namelen <= 255);
        memcpy(entry->name, body + at + FUSE_NAME_OFFSET, dirent.namelen);
        entry->name[dirent.namelen] = '\0';
        assert_null(strchr(entry->name, '/'));
        entry->ino = dirent.ino;
        entry->off = dirent.off;
        entry->type = dirent.type;
        entry->node = out.nodeid;
        if (plus && out.nodeid)
            assert_int_equal(out.attr.ino, dirent.ino);
        at += FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + dirent.namelen);
    }
    assert_int_equal(at, length);
    return count;
}

/* Lists the directory in replies of size bytes; returns the entry count. */
static int list_directory(struct fixture *fixture, uint64_t node, bool plus, uint32_t size,
                          struct listed *entries, int max)
{
    uint64_t fh;
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, node, O_RDONLY | O_DIRECTORY, &fh), 0);
    int count = 0;
    uint64_t offset = 0;
    for (int pages = 0; pages < 100; pages++) {
        int length = read_request(fixture, plus ? FUSE_READDIRPLUS : FUSE_READDIR, fh, offset,
                                  size);
        assert_true(length >= 0);
        if (length == 0)
            break;
        int got = parse_listing(fixture, plus, entries + count, max - count);
        assert_true(got > 0);
        count += got;
        offset = entries[count - 1].off;
    }
    begin(fixture, FUSE_FSYNCDIR, node);
    struct fuse_fsync_in sync = {.fh = fh};
    add(fixture, &sync, sizeof(sync));
    assert_int_equal(call(fixture), 0);
    assert_int_equal(release(fixture, FUSE_RELEASEDIR, fh), 0);
    return count;
}

static const struct listed *find_listed(const struct listed *entries, int count,
                                        const char *name)
{
    const struct listed *found = NULL;
    for (int i = 0; i < count; i++)
        if (!strcmp(entries[i].name, name)) {
            assert_null(found); /* listed once */
            found = &entries[i];
        }
    return found;
}

static void test_readdir(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    static const char *const names[] = {".", "..", "file", "dir", "escape", "root", "away"};
    struct listed entries[64];
    struct stat root;
    assert_int_equal(stat(fixture->share, &root), 0);
    /* Whole pages, and replies with room for one entry at a time. */
    uint32_t sizes[] = {4096, 40};
    for (int s = 0; s < 2; s++) {
        int count = list_directory(fixture, 1, false, sizes[s], entries, 64);
        assert_int_equal(count, 7);
        for (int i = 0; i < 7; i++)
            assert_non_null(find_listed(entries, count, names[i]));
        const struct listed *dir = find_listed(entries, count, "dir");
        assert_int_equal(dir->type, DT_DIR);
        assert_int_equal(find_listed(entries, count, "escape")->type, DT_LNK);
        assert_int_equal(find_listed(entries, count, "file")->type, DT_REG);
        /* What is above the share is not told, not even its inode number. */
        assert_int_equal(find_listed(entries, count, "..")->ino, root.st_ino);
    }
    /* A reply too small for any entry is empty. */
    uint64_t fh;
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, 1, O_RDONLY, &fh), 0);
    assert_int_equal(read_request(fixture, FUSE_READDIR, fh, 0, 20), 0);
    assert_int_equal(release(fixture, FUSE_RELEASEDIR, fh), 0);
}

static void test_readdirplus(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    struct listed entries[64];
    for (int round = 0; round < 2; round++) {
        uint32_t size = round ? 200 : 8192;
        int count = list_directory(fixture, 1, true, size, entries, 64);
        assert_int_equal(count, 7);
        /* "." and ".." get no node: the kernel would not count them. */
        assert_int_equal(find_listed(entries, count, ".")->node, 0);
        assert_int_equal(find_listed(entries, count, "..")->node, 0);
        const struct listed *file = find_listed(entries, count, "file");
        assert_true(file->node > 1);
        /* Each entry sent is one lookup: the same node as LOOKUP's. */
        assert_int_equal(lookup_id(fixture, 1, "file"), file->node);
        const struct listed *escape = find_listed(entries, count, "escape");
        assert_int_equal(escape->type, DT_LNK);
    }
    /* Two listings and two lookups: four to forget before the node goes. */
    uint64_t file = lookup_id(fixture, 1, "file");
    forget(fixture, file, 4);
    struct fuse_attr attr;
    assert_int_equal(getattr(fixture, file, &attr), 0);
    forget(fixture, file, 1);
    assert_int_equal(getattr(fixture, file, &attr), -ESTALE);

    /* Another directory's "..": a real parent, inside the share. */
    uint64_t dir = lookup_id(fixture, 1, "dir");
    int count = list_directory(fixture, dir, true, 4096, entries, 64);
    assert_int_equal(count, 4);
}

/* --- attributes, statfs, access, xattrs -------------------------------------------- */

static void test_setattr(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    uint64_t file = lookup_id(fixture, 1, "file");
    struct fuse_attr attr;
    struct fuse_setattr_in in = {.valid = FATTR_SIZE, .size = 5};
    assert_int_equal(setattr_request(fixture, file, &in, &attr), 0);
    assert_int_equal(attr.size, 5);
    struct stat st;
    host_stat(fixture, "file", &st);
    assert_int_equal(st.st_size, 5);
    /* Through an open handle (ftruncate), which must be this node's. */
    uint64_t fh = open_file(fixture, file, O_RDWR);
    in = (struct fuse_setattr_in){.valid = FATTR_SIZE | FATTR_FH, .fh = fh, .size = 2};
    assert_int_equal(setattr_request(fixture, file, &in, &attr), 0);
    assert_int_equal(attr.size, 2);
    uint64_t dir = lookup_id(fixture, 1, "dir");
    uint64_t inner = lookup_id(fixture, dir, "inner");
    assert_int_equal(setattr_request(fixture, inner, &in, NULL), -EBADF);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
    in.valid = FATTR_SIZE;
    assert_int_equal(setattr_request(fixture, dir, &in, NULL), -EISDIR);

    in = (struct fuse_setattr_in){.valid = FATTR_MODE, .mode = S_IFREG | 04711};
    assert_int_equal(setattr_request(fixture, file, &in, &attr), 0);
    assert_int_equal(attr.mode, S_IFREG | 0711); /* no set-user-ID */
    host_stat(fixture, "file", &st);
    assert_int_equal(st.st_mode, S_IFREG | 0711);

    in = (struct fuse_setattr_in){.valid = FATTR_ATIME | FATTR_MTIME,
                                  .atime = 1000000000,
                                  .atimensec = 5,
                                  .mtime = 1234567890,
                                  .mtimensec = 987654321};
    assert_int_equal(setattr_request(fixture, file, &in, &attr), 0);
    assert_int_equal(attr.mtime, 1234567890);
    assert_int_equal(attr.mtimensec, 987654321);
    host_stat(fixture, "file", &st);
    assert_int_equal(st.st_atim.tv_sec, 1000000000);
    assert_int_equal(st.st_mtim.tv_sec, 1234567890);
    in = (struct fuse_setattr_in){.valid = FATTR_MTIME | FATTR_MTIME_NOW};
    assert_int_equal(setattr_request(fixture, file, &in, &attr), 0);
    assert_true(attr.mtime > 1234567890);
    host_stat(fixture, "file", &st);
    assert_int_equal(st.st_atim.tv_sec, 1000000000); /* not asked for: kept */

    in = (struct fuse_setattr_in){.valid = FATTR_UID | FATTR_GID, .uid = getuid(),
                                  .gid = getgid()};
    assert_int_equal(setattr_request(fixture, file, &in, &attr), 0);
    assert_int_equal(attr.uid, getuid());

    /* A symlink's own times change; its target is not touched. */
    uint64_t escape = lookup_id(fixture, 1, "escape");
    in = (struct fuse_setattr_in){.valid = FATTR_MTIME, .mtime = 42};
    assert_int_equal(setattr_request(fixture, escape, &in, &attr), 0);
    assert_int_equal(attr.mtime, 42);
    in = (struct fuse_setattr_in){.valid = FATTR_MODE, .mode = 0777};
    assert_int_equal(setattr_request(fixture, escape, &in, NULL), -EOPNOTSUPP);
    in = (struct fuse_setattr_in){.valid = FATTR_SIZE, .size = 0};
    assert_int_equal(setattr_request(fixture, escape, &in, NULL), -EINVAL);
}

static void test_statfs_and_access(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    begin(fixture, FUSE_STATFS, 1);
    assert_int_equal(call(fixture), 0);
    struct fuse_statfs_out out;
    assert_int_equal(body_length(fixture), sizeof(out));
    memcpy(&out, reply_body(fixture), sizeof(out));
    assert_true(out.st.blocks > 0);
    assert_true(out.st.bsize > 0);
    assert_int_equal(out.st.namelen, 255);

    uint64_t file = lookup_id(fixture, 1, "file");
    begin(fixture, FUSE_ACCESS, file);
    struct fuse_access_in access = {.mask = R_OK | W_OK};
    add(fixture, &access, sizeof(access));
    assert_int_equal(call(fixture), 0);
    begin(fixture, FUSE_ACCESS, file);
    access.mask = 0x80;
    add(fixture, &access, sizeof(access));
    assert_int_equal(call(fixture), -EINVAL);
}

static int setxattr_request(struct fixture *fixture, uint64_t node, const char *name,
                            const char *value, uint32_t flags)
{
    begin(fixture, FUSE_SETXATTR, node);
    uint32_t in[2] = {(uint32_t)strlen(value), flags};
    add(fixture, in, sizeof(in));
    add_string(fixture, name);
    add(fixture, value, strlen(value));
    return call(fixture);
}

static int getxattr_request(struct fixture *fixture, uint32_t opcode, uint64_t node,
                            const char *name, uint32_t size)
{
    begin(fixture, opcode, node);
    struct fuse_getxattr_in in = {.size = size};
    add(fixture, &in, sizeof(in));
    if (name)
        add_string(fixture, name);
    int error = call(fixture);
    if (error)
        return error;
    if (size == 0) {
        struct fuse_getxattr_out out;
        assert_int_equal(body_length(fixture), sizeof(out));
        memcpy(&out, reply_body(fixture), sizeof(out));
        return (int)out.size;
    }
    return (int)body_length(fixture);
}

static void test_xattr(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    uint64_t file = lookup_id(fixture, 1, "file");
    int error = setxattr_request(fixture, file, "user.colour", "blue", 0);
    if (error == -ENOTSUP || error == -EOPNOTSUPP) {
        /* The host file system keeps no user xattrs: only that is allowed. */
        assert_int_equal(getxattr_request(fixture, FUSE_GETXATTR, file, "user.colour", 0),
                         error);
        skip();
    }
    assert_int_equal(error, 0);
    char host[32] = {0};
    char path[512];
    host_path(fixture, "file", path, sizeof(path));
    assert_int_equal(getxattr(path, "user.colour", host, sizeof(host)), 4);
    assert_string_equal(host, "blue");
    assert_int_equal(getxattr_request(fixture, FUSE_GETXATTR, file, "user.colour", 0), 4);
    assert_int_equal(getxattr_request(fixture, FUSE_GETXATTR, file, "user.colour", 64), 4);
    assert_memory_equal(reply_body(fixture), "blue", 4);
    assert_int_equal(getxattr_request(fixture, FUSE_GETXATTR, file, "user.colour", 2), -ERANGE);
    assert_int_equal(setxattr_request(fixture, file, "user.colour", "red", XATTR_CREATE),
                     -EEXIST);
    assert_int_equal(getxattr_request(fixture, FUSE_LISTXATTR, file, NULL, 0),
                     (int)sizeof("user.colour"));
    assert_int_equal(getxattr_request(fixture, FUSE_LISTXATTR, file, NULL, 100),
                     (int)sizeof("user.colour"));
    assert_memory_equal(reply_body(fixture), "user.colour", sizeof("user.colour"));
    /* Namespaces that would hand host privileges to the guest. */
    assert_int_equal(setxattr_request(fixture, file, "security.capability", "x", 0), -EPERM);
    assert_int_equal(setxattr_request(fixture, file, "trusted.x", "x", 0), -EPERM);
    assert_int_equal(setxattr_request(fixture, file, "system.posix_acl_access", "x", 0),
                     -EPERM);
    begin(fixture, FUSE_REMOVEXATTR, file);
    add_string(fixture, "user.colour");
    assert_int_equal(call(fixture), 0);
    assert_int_equal(getxattr_request(fixture, FUSE_GETXATTR, file, "user.colour", 0),
                     -ENODATA);
    /* A symlink's xattrs are its own, never its target's. */
    uint64_t escape = lookup_id(fixture, 1, "escape");
    assert_int_equal(getxattr_request(fixture, FUSE_LISTXATTR, escape, NULL, 0), 0);
    assert_true(setxattr_request(fixture, escape, "user.x", "y", 0) < 0);
}

/* --- a read-only share --------------------------------------------------------------- */

static void test_read_only(void **state)
{
    struct fixture *fixture = *state;
    fuse_server_destroy(fixture->server);
    start_server(fixture, true);
    char before[8192] = "";
    describe_tree(fixture->share, before, sizeof(before));
    init(fixture);
    uint64_t file = lookup_id(fixture, 1, "file");
    uint64_t dir = lookup_id(fixture, 1, "dir");
    uint64_t fh;
    assert_int_equal(open_node(fixture, FUSE_OPEN, file, O_WRONLY, &fh), -EROFS);
    assert_int_equal(open_node(fixture, FUSE_OPEN, file, O_RDWR, &fh), -EROFS);
    assert_int_equal(open_node(fixture, FUSE_OPEN, file, O_RDONLY | O_TRUNC, &fh), -EROFS);
    fh = open_file(fixture, file, O_RDONLY | O_APPEND);
    assert_int_equal(read_request(fixture, FUSE_READ, fh, 0, 100), strlen(FILE_TEXT));
    assert_int_equal(write_request(fixture, fh, 0, "x", 1), -EROFS);
    begin(fixture, FUSE_FALLOCATE, file);
    struct fuse_fallocate_in allocate = {.fh = fh, .length = 4096};
    add(fixture, &allocate, sizeof(allocate));
    assert_int_equal(call(fixture), -EROFS);
    assert_int_equal(create(fixture, 1, "new", O_RDWR, 0644, 0, NULL, NULL), -EROFS);
    assert_int_equal(create(fixture, 1, "new", O_RDONLY, 0644, 0, NULL, NULL), -EROFS);
    assert_int_equal(mkdir_request(fixture, 1, "new", 0755, 0, NULL), -EROFS);
    assert_int_equal(mknod_request(fixture, 1, "new", S_IFIFO | 0644, 0, NULL), -EROFS);
    assert_int_equal(symlink_request(fixture, 1, "new", "file", NULL), -EROFS);
    assert_int_equal(link_request(fixture, file, 1, "new", NULL), -EROFS);
    assert_int_equal(remove_request(fixture, FUSE_UNLINK, 1, "file"), -EROFS);
    assert_int_equal(remove_request(fixture, FUSE_RMDIR, dir, "sub"), -EROFS);
    assert_int_equal(rename_request(fixture, 1, "file", 1, "other", UINT32_MAX), -EROFS);
    assert_int_equal(rename_request(fixture, 1, "file", 1, "other", 0), -EROFS);
    struct fuse_setattr_in in = {.valid = FATTR_SIZE, .size = 0};
    assert_int_equal(setattr_request(fixture, file, &in, NULL), -EROFS);
    in = (struct fuse_setattr_in){.valid = FATTR_MODE, .mode = 0600};
    assert_int_equal(setattr_request(fixture, file, &in, NULL), -EROFS);
    in = (struct fuse_setattr_in){.valid = FATTR_MTIME | FATTR_MTIME_NOW};
    assert_int_equal(setattr_request(fixture, file, &in, NULL), -EROFS);
    assert_int_equal(setxattr_request(fixture, file, "user.x", "y", 0), -EROFS);
    begin(fixture, FUSE_REMOVEXATTR, file);
    add_string(fixture, "user.x");
    assert_int_equal(call(fixture), -EROFS);
    begin(fixture, FUSE_ACCESS, file);
    struct fuse_access_in access = {.mask = W_OK};
    add(fixture, &access, sizeof(access));
    assert_int_equal(call(fixture), -EROFS);
    begin(fixture, FUSE_ACCESS, file);
    access.mask = R_OK;
    add(fixture, &access, sizeof(access));
    assert_int_equal(call(fixture), 0);
    /* Reading still works, listings too. */
    struct listed entries[16];
    assert_int_equal(list_directory(fixture, 1, true, 4096, entries, 16), 7);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
    char after[8192] = "";
    describe_tree(fixture->share, after, sizeof(after));
    assert_string_equal(after, before);
}

/* --- the guest as attacker ---------------------------------------------------------- */

/* Every operation that takes a name, with a bad one (bytes, length: may lack a NUL). */
static void expect_name_refused(struct fixture *fixture, const char *bytes, size_t length,
                                int expected)
{
    static const uint32_t opcodes[] = {FUSE_LOOKUP, FUSE_CREATE, FUSE_MKDIR, FUSE_MKNOD,
                                       FUSE_SYMLINK, FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME,
                                       FUSE_LINK};
    uint64_t file = lookup_id(fixture, 1, "file");
    for (size_t i = 0; i < sizeof(opcodes) / sizeof(opcodes[0]); i++) {
        uint32_t opcode = opcodes[i];
        begin(fixture, opcode, 1);
        uint8_t fixed[16] = {0};
        struct fuse_create_in create_in = {.flags = O_RDWR, .mode = 0644};
        struct fuse_mknod_in mknod_in = {.mode = S_IFREG | 0644};
        uint64_t other = opcode == FUSE_LINK ? file : 1;
        if (opcode == FUSE_CREATE)
            add(fixture, &create_in, sizeof(create_in));
        else if (opcode == FUSE_MKNOD)
            add(fixture, &mknod_in, sizeof(mknod_in));
        else if (opcode == FUSE_MKDIR)
            add(fixture, fixed, sizeof(struct fuse_mkdir_in));
        else if (opcode == FUSE_RENAME || opcode == FUSE_LINK)
            add(fixture, &other, sizeof(other));
        add(fixture, bytes, length);
        if (opcode == FUSE_SYMLINK && length && bytes[length - 1] == '\0')
            add_string(fixture, "file");
        int error = call(fixture);
        if (error != expected)
            fail_msg("opcode %u with name \"%.*s\" (%zu bytes): %d, not %d", opcode,
                     (int)(length > 40 ? 40 : length), bytes, length, error, expected);
        /* RENAME with a good first name and the bad one second. */
    }
    begin(fixture, FUSE_RENAME, 1);
    add(fixture, &(uint64_t){1}, 8);
    add_string(fixture, "file");
    add(fixture, bytes, length);
    assert_int_equal(call(fixture), expected);
    forget(fixture, file, 1);
    check_outside_unchanged(fixture);
}

static void test_escape_names(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    expect_name_refused(fixture, "..", 3, -EINVAL);
    expect_name_refused(fixture, ".", 2, -EINVAL);
    expect_name_refused(fixture, "dir/inner", 10, -EINVAL);
    expect_name_refused(fixture, "../outside/secret", 18, -EINVAL);
    expect_name_refused(fixture, "/etc", 5, -EINVAL);
    expect_name_refused(fixture, "", 1, -EINVAL);
    expect_name_refused(fixture, "file", 4, -EINVAL); /* no NUL */
    expect_name_refused(fixture, "", 0, -EINVAL);     /* nothing at all */
    char long_name[300];
    memset(long_name, 'a', sizeof(long_name));
    long_name[256] = '\0';
    expect_name_refused(fixture, long_name, 257, -ENAMETOOLONG);
    expect_name_refused(fixture, long_name, 256, -ENAMETOOLONG); /* and no NUL */
    long_name[255] = '\0';
    struct fuse_entry_out entry;
    assert_int_equal(lookup(fixture, 1, long_name, &entry), -ENOENT); /* 255 is a name */
    /* A NUL inside the name ends it: "dir" is what is looked up. */
    begin(fixture, FUSE_LOOKUP, 1);
    add(fixture, "dir\0/../..", 11);
    assert_int_equal(call(fixture), 0);
    /* The root's parent is not reachable by name. */
    assert_int_equal(lookup(fixture, 1, "..", &entry), -EINVAL);
    char listing[8192] = "";
    describe_tree(fixture->share, listing, sizeof(listing));
    assert_null(strstr(listing, "aaaa"));
}

static void test_escape_symlinks(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    struct fuse_entry_out entry;
    /* A symlink to the secret is a symlink node, never the secret. */
    assert_int_equal(lookup(fixture, 1, "escape", &entry), 0);
    assert_true(S_ISLNK(entry.attr.mode));
    assert_int_equal(entry.attr.size, strlen("../outside/secret"));
    uint64_t escape = entry.nodeid;
    uint64_t fh;
    assert_int_equal(open_node(fixture, FUSE_OPEN, escape, O_RDONLY, &fh), -ELOOP);
    assert_int_equal(open_node(fixture, FUSE_OPEN, escape, O_RDWR | O_TRUNC, &fh), -ELOOP);
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, escape, O_RDONLY, &fh), -ENOTDIR);
    char text[256];
    assert_int_equal(readlink_request(fixture, escape, text, sizeof(text)), 17);
    assert_string_equal(text, "../outside/secret");
    assert_null(strstr(text, "secret outside"));
    /* A CREATE over it does not write through it. */
    assert_int_equal(create(fixture, 1, "escape", O_RDWR | O_TRUNC, 0644, 0, NULL, NULL),
                     -ELOOP);
    struct fuse_setattr_in truncate = {.valid = FATTR_SIZE, .size = 0};
    assert_int_equal(setattr_request(fixture, escape, &truncate, NULL), -EINVAL);

    /* A symlink to / is no directory to look up in, list or make things in. */
    assert_int_equal(lookup(fixture, 1, "root", &entry), 0);
    uint64_t root = entry.nodeid;
    assert_true(S_ISLNK(entry.attr.mode));
    assert_int_equal(lookup(fixture, root, "etc", &entry), -ENOTDIR);
    assert_int_equal(lookup(fixture, root, "tmp", &entry), -ENOTDIR);
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, root, O_RDONLY, &fh), -ENOTDIR);
    assert_int_equal(create(fixture, root, "x", O_RDWR, 0644, 0, NULL, NULL), -ENOTDIR);
    assert_int_equal(mkdir_request(fixture, root, "x", 0755, 0, NULL), -ENOTDIR);
    assert_int_equal(symlink_request(fixture, root, "x", "y", NULL), -ENOTDIR);
    assert_int_equal(remove_request(fixture, FUSE_UNLINK, root, "x"), -ENOTDIR);
    assert_int_equal(rename_request(fixture, 1, "file", root, "x", 0), -ENOTDIR);
    begin(fixture, FUSE_STATFS, root);
    assert_int_equal(call(fixture), 0); /* the symlink's own file system: the share's */

    /* An absolute symlink to the outside directory: the same. */
    uint64_t away = lookup_id(fixture, 1, "away");
    assert_int_equal(lookup(fixture, away, "secret", &entry), -ENOTDIR);
    uint64_t file = lookup_id(fixture, 1, "file");
    assert_int_equal(link_request(fixture, file, away, "stolen", NULL), -ENOTDIR);

    /* A symlink made by the guest to the outside: only text. */
    assert_int_equal(symlink_request(fixture, 1, "mine", "../outside/secret", &entry), 0);
    assert_int_equal(open_node(fixture, FUSE_OPEN, entry.nodeid, O_RDONLY, &fh), -ELOOP);
    assert_int_equal(getxattr_request(fixture, FUSE_GETXATTR, entry.nodeid, "user.x", 0) < 0,
                     true);
    check_outside_unchanged(fixture);
}

struct renamer {
    char from[512], to[512];
    atomic_bool stop;
    unsigned renames;
};

static void *rename_back_and_forth(void *opaque)
{
    struct renamer *renamer = opaque;
    while (!atomic_load(&renamer->stop)) {
        if (rename(renamer->from, renamer->to) == 0)
            renamer->renames++;
        if (rename(renamer->to, renamer->from) == 0)
            renamer->renames++;
    }
    return NULL;
}

static void test_escape_rename_races(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    uint64_t dir = lookup_id(fixture, 1, "dir");
    struct stat inner;
    host_stat(fixture, "dir/inner", &inner);

    /* The guest moves the directory; a lookup through its node still finds its files. */
    assert_int_equal(rename_request(fixture, 1, "dir", 1, "renamed", 0), 0);
    struct fuse_entry_out entry;
    assert_int_equal(lookup(fixture, dir, "inner", &entry), 0);
    assert_int_equal(entry.attr.ino, inner.st_ino);
    assert_int_equal(rename_request(fixture, 1, "renamed", 1, "dir", 0), 0);

    /* The host moves it (and a directory inside it) back and forth all the while. */
    struct renamer renamer = {0};
    host_path(fixture, "dir", renamer.from, sizeof(renamer.from));
    host_path(fixture, "elsewhere", renamer.to, sizeof(renamer.to));
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, rename_back_and_forth, &renamer), 0);
    int found = 0, missing = 0;
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(lookup(fixture, dir, "inner", &entry), 0);
        assert_int_equal(entry.attr.ino, inner.st_ino);
        forget(fixture, entry.nodeid, 1);
        int error = lookup(fixture, 1, "dir", &entry);
        assert_true(error == 0 || error == -ENOENT);
        if (error == 0) {
            found++;
            assert_int_equal(entry.nodeid, dir);
            forget(fixture, dir, 1);
            /* Through the name just looked up, whichever directory it is now. */
            assert_int_equal(lookup(fixture, entry.nodeid, "sub", &entry), 0);
            forget(fixture, entry.nodeid, 1);
        } else {
            missing++;
        }
    }
    atomic_store(&renamer.stop, true);
    pthread_join(thread, NULL);
    assert_true(found + missing == 3000);
    struct fuse_attr attr;
    assert_int_equal(getattr(fixture, dir, &attr), 0);
    check_outside_unchanged(fixture);
}

static void test_escape_stale_ids_and_handles(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    static const uint64_t never[] = {0, 2, 12345, (1ull << 32) | 1, (1ull << 32) | 2,
                                     UINT64_MAX, 1ull << 63};
    struct fuse_attr attr;
    struct fuse_entry_out entry;
    uint64_t fh;
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
        assert_int_equal(getattr(fixture, never[i], &attr), -ESTALE);
        assert_int_equal(lookup(fixture, never[i], "file", &entry), -ESTALE);
        assert_int_equal(open_node(fixture, FUSE_OPEN, never[i], O_RDONLY, &fh), -ESTALE);
        assert_int_equal(link_request(fixture, never[i], 1, "x", NULL), -ESTALE);
        assert_int_equal(rename_request(fixture, 1, "file", never[i], "x", 0), -ESTALE);
        forget(fixture, never[i], 1); /* ignored */
        assert_int_equal(read_request(fixture, FUSE_READ, never[i], 0, 10), -EBADF);
        assert_int_equal(read_request(fixture, FUSE_READDIR, never[i], 0, 4096), -EBADF);
        assert_int_equal(release(fixture, FUSE_RELEASE, never[i]), -EBADF);
    }
    uint64_t file = lookup_id(fixture, 1, "file");
    forget(fixture, file, 1);
    assert_int_equal(getattr(fixture, file, &attr), -ESTALE);
    assert_int_equal(open_node(fixture, FUSE_OPEN, file, O_RDONLY, &fh), -ESTALE);

    /* A handle is of one kind. */
    file = lookup_id(fixture, 1, "file");
    uint64_t file_fh = open_file(fixture, file, O_RDWR);
    uint64_t dir_fh;
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, 1, O_RDONLY, &dir_fh), 0);
    assert_int_equal(read_request(fixture, FUSE_READ, dir_fh, 0, 10), -EBADF);
    assert_int_equal(write_request(fixture, dir_fh, 0, "x", 1), -EBADF);
    assert_int_equal(read_request(fixture, FUSE_READDIR, file_fh, 0, 4096), -EBADF);
    assert_int_equal(read_request(fixture, FUSE_READDIRPLUS, file_fh, 0, 4096), -EBADF);
    assert_int_equal(release(fixture, FUSE_RELEASE, dir_fh), -EBADF);
    assert_int_equal(release(fixture, FUSE_RELEASEDIR, file_fh), -EBADF);
    struct fuse_setattr_in in = {.valid = FATTR_SIZE | FATTR_FH, .fh = dir_fh};
    assert_int_equal(setattr_request(fixture, file, &in, NULL), -EBADF);
    /* The same slot with another generation is another handle. */
    assert_int_equal(read_request(fixture, FUSE_READ, file_fh + (1ull << 32), 0, 10), -EBADF);
    assert_int_equal(release(fixture, FUSE_RELEASE, file_fh), 0);
    assert_int_equal(release(fixture, FUSE_RELEASE, file_fh), -EBADF);
    assert_int_equal(write_request(fixture, file_fh, 0, "x", 1), -EBADF);
    uint64_t again = open_file(fixture, file, O_RDONLY);
    assert_int_not_equal(again, file_fh); /* a released fh is never given again */
    /* A directory is not opened as a file, nor a file as a directory. */
    uint64_t dir = lookup_id(fixture, 1, "dir");
    assert_int_equal(open_node(fixture, FUSE_OPEN, dir, O_RDONLY, &fh), -EISDIR);
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, file, O_RDONLY, &fh), -ENOTDIR);
    /* Handles left open and nodes never forgotten: closed by destroy (teardown counts). */
    check_outside_unchanged(fixture);
}

static void test_escape_huge_sizes(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    uint64_t file = lookup_id(fixture, 1, "file");
    uint64_t fh = open_file(fixture, file, O_RDWR);
    assert_int_equal(read_request(fixture, FUSE_READ, fh, 0, FUSE_SERVER_MAX_IO + 1), -EINVAL);
    assert_int_equal(read_request(fixture, FUSE_READ, fh, 0, UINT32_MAX), -EINVAL);
    assert_int_equal(read_request(fixture, FUSE_READ, fh, UINT64_MAX, 10), -EINVAL);
    assert_true(read_request(fixture, FUSE_READ, fh, INT64_MAX, 10) <= 0);
    /* WRITE's size beyond its data, beyond max_write, at offsets past any file. */
    begin(fixture, FUSE_WRITE, file);
    struct fuse_write_in in = {.fh = fh, .size = 100};
    add(fixture, &in, sizeof(in));
    add(fixture, "short", 5);
    assert_int_equal(call(fixture), -EINVAL);
    begin(fixture, FUSE_WRITE, file);
    in.size = FUSE_SERVER_MAX_IO + 1;
    add(fixture, &in, sizeof(in));
    assert_int_equal(call(fixture), -EINVAL);
    assert_int_equal(write_request(fixture, fh, UINT64_MAX, "x", 1), -EINVAL);
    assert_true(write_request(fixture, fh, INT64_MAX, "x", 1) < 0);
    begin(fixture, FUSE_FALLOCATE, file);
    struct fuse_fallocate_in allocate = {.fh = fh, .offset = INT64_MAX, .length = INT64_MAX};
    add(fixture, &allocate, sizeof(allocate));
    assert_int_equal(call(fixture), -EFBIG);
    begin(fixture, FUSE_FALLOCATE, file);
    allocate = (struct fuse_fallocate_in){.fh = fh, .offset = UINT64_MAX, .length = 1};
    add(fixture, &allocate, sizeof(allocate));
    assert_int_equal(call(fixture), -EINVAL);
    struct fuse_setattr_in truncate = {.valid = FATTR_SIZE, .size = UINT64_MAX};
    assert_int_equal(setattr_request(fixture, file, &truncate, NULL), -EINVAL);
    begin(fixture, FUSE_LSEEK, file);
    struct fuse_lseek_in seek = {.fh = fh, .offset = UINT64_MAX, .whence = SEEK_DATA};
    add(fixture, &seek, sizeof(seek));
    assert_int_equal(call(fixture), -EINVAL);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
    struct stat st;
    host_stat(fixture, "file", &st);
    assert_int_equal(st.st_size, strlen(FILE_TEXT));

    /* A listing from a huge offset, and with a huge size: bounded by the reply room. */
    uint64_t dir_fh;
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, 1, O_RDONLY, &dir_fh), 0);
    assert_int_equal(read_request(fixture, FUSE_READDIR, dir_fh, UINT64_MAX, 4096), -EINVAL);
    int length = read_request(fixture, FUSE_READDIR, dir_fh, INT64_MAX, 4096);
    assert_true(length >= 0 || length == -EINVAL);
    assert_int_equal(release(fixture, FUSE_RELEASEDIR, dir_fh), 0);
    /* (Not the same handle: ext4 keeps one first read at its end-of-directory
     * cookie stuck there, even after a seek back to 0.) */
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, 1, O_RDONLY, &dir_fh), 0);
    assert_true(read_request(fixture, FUSE_READDIRPLUS, dir_fh, 0, UINT32_MAX) > 0);
    assert_int_equal(release(fixture, FUSE_RELEASEDIR, dir_fh), 0);

    /* Long xattr values and symlink targets. */
    begin(fixture, FUSE_SETXATTR, file);
    uint32_t xattr[2] = {UINT32_MAX, 0};
    add(fixture, xattr, sizeof(xattr));
    add_string(fixture, "user.big");
    assert_int_equal(call(fixture), -E2BIG);
    begin(fixture, FUSE_SETXATTR, file);
    xattr[0] = 1000;
    add(fixture, xattr, sizeof(xattr));
    add_string(fixture, "user.big");
    add(fixture, "short", 5);
    assert_int_equal(call(fixture), -EINVAL);
    static char target[5000];
    memset(target, 'x', sizeof(target) - 1);
    assert_int_equal(symlink_request(fixture, 1, "long", target, NULL), -ENAMETOOLONG);
    assert_int_equal(getxattr_request(fixture, FUSE_GETXATTR, file, "user.none", UINT32_MAX),
                     -ENODATA);
    check_outside_unchanged(fixture);
}

static void test_escape_short_buffers(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    uint64_t file = lookup_id(fixture, 1, "file");
    /* In shorter than a header: nothing to answer. */
    begin(fixture, FUSE_GETATTR, 1);
    struct iovec in = {fixture->in, sizeof(struct fuse_in_header) - 1};
    struct iovec out = {fixture->out, 4096};
    assert_int_equal(fuse_server_handle(fixture->server, &in, 1, &out, 1), 0);
    assert_int_equal(fuse_server_handle(fixture->server, NULL, 0, &out, 1), 0);
    assert_int_equal(fuse_server_handle(fixture->server, &in, -5, &out, 1), 0);
    /* The header's len beyond the buffers, or below a header. */
    begin(fixture, FUSE_LOOKUP, 1);
    add_string(fixture, "file");
    assert_int_equal(send_with_length(fixture, (uint32_t)fixture->in_length + 1), 16);
    assert_int_equal(reply_header(fixture)->error, -EINVAL);
    assert_int_equal(send_with_length(fixture, UINT32_MAX), 16);
    assert_int_equal(reply_header(fixture)->error, -EINVAL);
    assert_int_equal(send_with_length(fixture, 39), 16);
    assert_int_equal(reply_header(fixture)->error, -EINVAL);
    /* len shorter than the buffers: the rest is not read, so the name is unterminated. */
    assert_int_equal(send_with_length(fixture, (uint32_t)fixture->in_length - 1), 16);
    assert_int_equal(reply_header(fixture)->error, -EINVAL);
    /* Arguments cut short. */
    begin(fixture, FUSE_GETATTR, file);
    add(fixture, "abc", 3);
    assert_int_equal(call(fixture), -EINVAL);
    begin(fixture, FUSE_READ, file);
    assert_int_equal(call(fixture), -EINVAL);
    /* An extension length beyond the arguments. */
    begin(fixture, FUSE_LOOKUP, 1);
    add_string(fixture, "file");
    ((struct fuse_in_header *)fixture->in)->total_extlen = 100;
    assert_int_equal(call(fixture), -EINVAL);

    /* No room for a reply header: nothing written; for the reply: an error. */
    begin(fixture, FUSE_GETATTR, file);
    add(fixture, &(struct fuse_getattr_in){0}, sizeof(struct fuse_getattr_in));
    fixture->out_size = 15;
    assert_int_equal(send(fixture), 0);
    fixture->out_size = 16 + sizeof(struct fuse_attr_out) - 1;
    assert_int_equal(call(fixture), -EINVAL);
    begin(fixture, FUSE_LOOKUP, 1);
    add_string(fixture, "dir");
    fixture->out_size = 100;
    assert_int_equal(call(fixture), -EINVAL);
    /* ...before anything was done: CREATE made no file, took no handle. */
    begin(fixture, FUSE_CREATE, 1);
    add(fixture, &(struct fuse_create_in){.flags = O_RDWR, .mode = 0644},
        sizeof(struct fuse_create_in));
    add_string(fixture, "created");
    fixture->out_size = 16 + sizeof(struct fuse_entry_out);
    assert_int_equal(call(fixture), -EINVAL);
    assert_false(host_exists(fixture, "created"));

    /* READ with less room than asked: refused, nothing past the buffer written. */
    uint64_t fh = open_file(fixture, file, O_RDONLY);
    begin(fixture, FUSE_READ, file);
    struct fuse_read_in read_in = {.fh = fh, .size = 4096};
    add(fixture, &read_in, sizeof(read_in));
    fixture->out_size = 16 + 5;
    assert_int_equal(call(fixture), -EINVAL);
    /* READDIR and READLINK fit what room there is. */
    uint64_t dir_fh;
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, 1, O_RDONLY, &dir_fh), 0);
    begin(fixture, FUSE_READDIRPLUS, 1);
    read_in = (struct fuse_read_in){.fh = dir_fh, .size = 4096};
    add(fixture, &read_in, sizeof(read_in));
    fixture->out_size = 16 + 200;
    assert_int_equal(call(fixture), 0);
    assert_true(body_length(fixture) > 0 && body_length(fixture) <= 200);
    uint64_t escape = lookup_id(fixture, 1, "escape");
    begin(fixture, FUSE_READLINK, escape);
    fixture->out_size = 16 + 3;
    assert_int_equal(call(fixture), 0);
    assert_int_equal(body_length(fixture), 3);
    assert_int_equal(release(fixture, FUSE_RELEASE, fh), 0);
    assert_int_equal(release(fixture, FUSE_RELEASEDIR, dir_fh), 0);

    /* Opcodes nobody implements here. */
    static const uint32_t unknown[] = {0, 7, 19, FUSE_GETLK, FUSE_SETLK, FUSE_BMAP, FUSE_IOCTL,
                                       FUSE_POLL, FUSE_COPY_FILE_RANGE, FUSE_SETUPMAPPING,
                                       FUSE_SYNCFS, FUSE_TMPFILE, 52, CUSE_INIT, UINT32_MAX};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        begin(fixture, unknown[i], 1);
        add(fixture, fixture->out, 64);
        assert_int_equal(call(fixture), -ENOSYS);
    }
    /* No reply to INTERRUPT, FORGET, BATCH_FORGET, even malformed ones. */
    begin(fixture, FUSE_INTERRUPT, 0);
    add(fixture, &(uint64_t){1}, 8);
    assert_int_equal(send(fixture), 0);
    begin(fixture, FUSE_FORGET, file);
    assert_int_equal(send(fixture), 0);
    struct fuse_attr attr;
    assert_int_equal(getattr(fixture, file, &attr), 0);
    check_outside_unchanged(fixture);
}

static void test_batch_forget(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    uint64_t file = lookup_id(fixture, 1, "file");
    uint64_t dir = lookup_id(fixture, 1, "dir");
    lookup_id(fixture, 1, "dir");
    /* A count far beyond the entries there are: only those are read. */
    begin(fixture, FUSE_BATCH_FORGET, 0);
    struct fuse_batch_forget_in in = {.count = 1000000};
    add(fixture, &in, sizeof(in));
    struct fuse_forget_one ones[] = {{file, 1}, {dir, 1}, {12345, 7}, {1, 100}};
    add(fixture, ones, sizeof(ones));
    add(fixture, "partial", 7); /* and a torn last one */
    assert_int_equal(send(fixture), 0);
    struct fuse_attr attr;
    assert_int_equal(getattr(fixture, file, &attr), -ESTALE);
    assert_int_equal(getattr(fixture, dir, &attr), 0); /* looked up twice */
    assert_int_equal(getattr(fixture, 1, &attr), 0);
    /* A count below them: only that many. */
    begin(fixture, FUSE_BATCH_FORGET, 0);
    in.count = 0;
    add(fixture, &in, sizeof(in));
    add(fixture, &ones[1], sizeof(ones[1]));
    assert_int_equal(send(fixture), 0);
    assert_int_equal(getattr(fixture, dir, &attr), 0);
    begin(fixture, FUSE_BATCH_FORGET, 0);
    in.count = 1;
    add(fixture, &in, sizeof(in));
    add(fixture, &ones[1], sizeof(ones[1]));
    assert_int_equal(send(fixture), 0);
    assert_int_equal(getattr(fixture, dir, &attr), -ESTALE);
}

/* --- bounds, reset, descriptors ------------------------------------------------------- */

static void test_tables_full(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    fuse_server_set_limits(fixture->server, 3, 2);
    struct fuse_entry_out entry;
    uint64_t file = lookup_id(fixture, 1, "file");
    uint64_t dir = lookup_id(fixture, 1, "dir");
    assert_int_equal(lookup(fixture, 1, "escape", &entry), -ENFILE);
    assert_int_equal(lookup_id(fixture, 1, "file"), file); /* known ones still */
    assert_int_equal(mkdir_request(fixture, 1, "new", 0755, 0, NULL), -ENFILE);
    assert_int_equal(symlink_request(fixture, 1, "new", "x", NULL), -ENFILE);
    assert_false(host_exists(fixture, "new")); /* nothing made that could not be given */
    struct listed entries[16];
    int count = list_directory(fixture, 1, true, 4096, entries, 16);
    assert_int_equal(count, 7);
    assert_int_equal(find_listed(entries, count, "escape")->node, 0);
    assert_int_equal(find_listed(entries, count, "dir")->node, dir);
    forget(fixture, dir, 100);
    assert_int_equal(lookup(fixture, 1, "escape", &entry), 0);

    uint64_t a = open_file(fixture, file, O_RDONLY);
    uint64_t b = open_file(fixture, file, O_RDONLY);
    uint64_t fh;
    assert_int_equal(open_node(fixture, FUSE_OPEN, file, O_RDONLY, &fh), -ENFILE);
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, 1, O_RDONLY, &fh), -ENFILE);
    assert_int_equal(create(fixture, 1, "new", O_RDWR, 0644, 0, NULL, NULL), -ENFILE);
    assert_int_equal(release(fixture, FUSE_RELEASE, a), 0);
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, 1, O_RDONLY, &fh), 0);
    assert_int_equal(release(fixture, FUSE_RELEASE, b), 0);
    assert_int_equal(release(fixture, FUSE_RELEASEDIR, fh), 0);
}

static void test_reset(void **state)
{
    struct fixture *fixture = *state;
    init(fixture);
    uint64_t file = lookup_id(fixture, 1, "file");
    uint64_t fh = open_file(fixture, file, O_RDONLY);
    fuse_server_reset(fixture->server);
    struct fuse_attr attr;
    assert_int_equal(getattr(fixture, 1, &attr), -EIO);
    init(fixture);
    assert_int_equal(getattr(fixture, file, &attr), -ESTALE);
    assert_int_equal(read_request(fixture, FUSE_READ, fh, 0, 10), -EBADF);
    assert_int_equal(getattr(fixture, 1, &attr), 0);
    assert_int_not_equal(lookup_id(fixture, 1, "file"), file);
}

static void test_no_descriptor_leaks(void **state)
{
    struct fixture *fixture = *state;
    fuse_server_destroy(fixture->server);
    int before = descriptor_count();
    start_server(fixture, false);
    init(fixture);
    uint64_t file = lookup_id(fixture, 1, "file");
    open_file(fixture, file, O_RDWR);
    uint64_t fh;
    create(fixture, 1, "new", O_RDWR, 0644, 0, NULL, &fh);
    assert_int_equal(open_node(fixture, FUSE_OPENDIR, 1, O_RDONLY, &fh), 0);
    struct listed entries[16];
    list_directory(fixture, 1, true, 4096, entries, 16);
    assert_true(descriptor_count() > before);
    fuse_server_destroy(fixture->server);
    assert_int_equal(descriptor_count(), before);
    /* Failed creations keep none either. */
    struct fuse_server *server;
    struct error error;
    assert_int_equal(fuse_server_create(&server, "/nonexistent-share", false, &error), -1);
    assert_int_equal(fuse_server_create(&server, "/proc/self/status", false, &error), -1);
    assert_int_equal(descriptor_count(), before);
    start_server(fixture, false);
}

/* The table alone: one inode number on two devices is two nodes. */
static void test_nodes_keyed_by_device_and_inode(void **state)
{
    (void)state;
    int root_fd = open("/", O_PATH | O_CLOEXEC);
    struct stat root = {.st_mode = S_IFDIR, .st_dev = 1, .st_ino = 2};
    struct fuse_nodes nodes;
    assert_int_equal(fuse_nodes_init(&nodes, root_fd, &root, 1000), 0);
    uint64_t ids[200];
    for (int i = 0; i < 200; i++) {
        struct stat st = {.st_mode = S_IFREG, .st_dev = (dev_t)(i % 2 + 1), .st_ino = 5 + i / 2};
        assert_int_equal(fuse_nodes_add_lookup(&nodes, open("/", O_PATH | O_CLOEXEC), &st,
                                               &ids[i]),
                         0);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ids[j], ids[i]);
        assert_int_not_equal(ids[i], FUSE_ROOT_ID);
    }
    struct stat again = {.st_mode = S_IFREG, .st_dev = 2, .st_ino = 5};
    uint64_t id;
    assert_int_equal(fuse_nodes_add_lookup(&nodes, open("/", O_PATH | O_CLOEXEC), &again, &id),
                     0);
    assert_int_equal(id, ids[1]);
    assert_int_equal(fuse_nodes_get(&nodes, id)->lookups, 2);
    /* The root's (dev, ino) is the root. */
    assert_int_equal(fuse_nodes_add_lookup(&nodes, open("/", O_PATH | O_CLOEXEC), &root, &id),
                     0);
    assert_int_equal(id, FUSE_ROOT_ID);
    for (int i = 0; i < 200; i++)
        fuse_nodes_forget(&nodes, ids[i], UINT64_MAX);
    assert_int_equal(nodes.used, 1);
    fuse_nodes_destroy(&nodes);
}

/* A mount inside the share (as root, in a child's own mount namespace, with
 * a server made there: descriptors opened before see the old mounts). */
static void test_share_spanning_file_systems(void **state)
{
    struct fixture *fixture = *state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        char mount_point[512];
        host_path(fixture, "dir/sub", mount_point, sizeof(mount_point));
        if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
            mount("scratch", mount_point, "tmpfs", 0, "size=1m"))
            _exit(77);
        char path[600];
        snprintf(path, sizeof(path), "%s/on-tmpfs", mount_point);
        close(open(path, O_WRONLY | O_CREAT, 0644));
        start_server(fixture, false);
        init(fixture);
        uint64_t dir = lookup_id(fixture, 1, "dir");
        struct fuse_entry_out sub, on_tmpfs, inner;
        int errors[3] = {lookup(fixture, dir, "sub", &sub),
                         lookup(fixture, sub.nodeid, "on-tmpfs", &on_tmpfs),
                         lookup(fixture, dir, "inner", &inner)};
        if (errors[0] || errors[1] || errors[2]) {
            fprintf(stderr, "lookups in the mounted share: %d %d %d\n", errors[0], errors[1],
                    errors[2]);
            _exit(1);
        }
        struct stat mounted;
        stat(mount_point, &mounted);
        if (sub.attr.ino != mounted.st_ino || on_tmpfs.nodeid == inner.nodeid ||
            on_tmpfs.nodeid == sub.nodeid || sub.nodeid == dir)
            _exit(2);
        /* Listed across the mount too. */
        struct listed entries[8];
        if (list_directory(fixture, sub.nodeid, true, 4096, entries, 8) != 3)
            _exit(3);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip(); /* no privilege to mount here */
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- the system calls ---------------------------------------------------------------- */

/* What the server asks the kernel for while it serves (fuse_server_create's
 * open of the share and /proc/self/fd, fstatfs and prlimit64 come before):
 * the device thread's seccomp list is made from this one. */
static const int server_calls[] = {
    SCMP_SYS(openat2),    SCMP_SYS(openat),     SCMP_SYS(close),      SCMP_SYS(newfstatat),
    SCMP_SYS(fstatfs),    SCMP_SYS(getdents64), SCMP_SYS(lseek),      SCMP_SYS(preadv),
    SCMP_SYS(pwritev),    SCMP_SYS(fsync),      SCMP_SYS(fdatasync),  SCMP_SYS(fallocate),
    SCMP_SYS(ftruncate),  SCMP_SYS(fcntl),      SCMP_SYS(fchmod),     SCMP_SYS(fchmodat),
    SCMP_SYS(fchownat),   SCMP_SYS(utimensat),  SCMP_SYS(faccessat2), SCMP_SYS(readlinkat),
    SCMP_SYS(symlinkat),  SCMP_SYS(linkat),     SCMP_SYS(mknodat),    SCMP_SYS(mkdirat),
    SCMP_SYS(unlinkat),   SCMP_SYS(renameat2),  SCMP_SYS(getxattr),   SCMP_SYS(setxattr),
    SCMP_SYS(listxattr),  SCMP_SYS(removexattr),
};
/* Memory (the node table grows), and what reports a failure here. */
static const int runtime_calls[] = {
    SCMP_SYS(mmap),  SCMP_SYS(munmap), SCMP_SYS(mremap),       SCMP_SYS(madvise),
    SCMP_SYS(brk),   SCMP_SYS(futex),  SCMP_SYS(rt_sigreturn), SCMP_SYS(write),
    SCMP_SYS(exit_group),
};

static void report_forbidden_call(int signal_number, siginfo_t *info, void *context)
{
    (void)signal_number;
    (void)context;
    char line[64];
    int length = snprintf(line, sizeof(line), "the server made system call %d\n",
                          info->si_syscall);
    (void)!write(STDERR_FILENO, line, (size_t)length);
    syscall(SYS_exit_group, 90);
}

static void confine_to_server_calls(void)
{
    struct sigaction action = {.sa_sigaction = report_forbidden_call, .sa_flags = SA_SIGINFO};
    sigaction(SIGSYS, &action, NULL);
    scmp_filter_ctx filter = seccomp_init(SCMP_ACT_TRAP);
    if (!filter)
        _exit(91);
    for (size_t i = 0; i < sizeof(server_calls) / sizeof(server_calls[0]); i++)
        seccomp_rule_add(filter, SCMP_ACT_ALLOW, server_calls[i], 0);
    for (size_t i = 0; i < sizeof(runtime_calls) / sizeof(runtime_calls[0]); i++)
        seccomp_rule_add(filter, SCMP_ACT_ALLOW, runtime_calls[i], 0);
    if (seccomp_load(filter))
        _exit(92);
    seccomp_release(filter);
}

/* Every operation, once at least, with only those calls allowed: a failure
 * is reported with the calls there are (no cmocka: its longjmp makes more). */
#define EXPECT(condition)                                                                      \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            char line_[64];                                                                    \
            int length_ = snprintf(line_, sizeof(line_), "line %d failed\n", __LINE__);       \
            (void)!write(STDERR_FILENO, line_, (size_t)length_);                               \
            syscall(SYS_exit_group, 93);                                                       \
        }                                                                                      \
    } while (0)

static void serve_everything(struct fixture *fixture, uid_t uid, gid_t gid)
{
    init(fixture);
    struct fuse_entry_out entry;
    EXPECT(lookup(fixture, 1, "file", &entry) == 0);
    uint64_t file = entry.nodeid;
    EXPECT(lookup(fixture, 1, "dir", &entry) == 0);
    uint64_t dir = entry.nodeid;
    EXPECT(lookup(fixture, 1, "escape", &entry) == 0);
    uint64_t escape = entry.nodeid;
    struct fuse_attr attr;
    EXPECT(getattr(fixture, file, &attr) == 0);
    struct fuse_setattr_in setattr = {.valid = FATTR_MODE | FATTR_UID | FATTR_GID | FATTR_SIZE |
                                               FATTR_ATIME | FATTR_MTIME_NOW,
                                      .mode = 0644, .uid = uid, .gid = gid, .size = 5};
    EXPECT(setattr_request(fixture, file, &setattr, NULL) == 0);
    uint64_t fh;
    EXPECT(open_node(fixture, FUSE_OPEN, file, O_RDWR, &fh) == 0);
    EXPECT(write_request(fixture, fh, 0, "hello", 5) == 5);
    EXPECT(read_request(fixture, FUSE_READ, fh, 0, 100) == 5);
    setattr = (struct fuse_setattr_in){.valid = FATTR_SIZE | FATTR_FH, .fh = fh, .size = 3};
    EXPECT(setattr_request(fixture, file, &setattr, NULL) == 0);
    begin(fixture, FUSE_FSYNC, file);
    add(fixture, &(struct fuse_fsync_in){.fh = fh}, sizeof(struct fuse_fsync_in));
    EXPECT(call(fixture) == 0);
    begin(fixture, FUSE_FSYNC, file);
    add(fixture, &(struct fuse_fsync_in){.fh = fh, .fsync_flags = FUSE_FSYNC_FDATASYNC},
        sizeof(struct fuse_fsync_in));
    EXPECT(call(fixture) == 0);
    begin(fixture, FUSE_FALLOCATE, file);
    add(fixture, &(struct fuse_fallocate_in){.fh = fh, .length = 8192},
        sizeof(struct fuse_fallocate_in));
    EXPECT(call(fixture) == 0);
    begin(fixture, FUSE_LSEEK, file);
    add(fixture, &(struct fuse_lseek_in){.fh = fh, .whence = SEEK_HOLE},
        sizeof(struct fuse_lseek_in));
    EXPECT(call(fixture) == 0);
    begin(fixture, FUSE_FLUSH, file);
    add(fixture, &(struct fuse_flush_in){.fh = fh}, sizeof(struct fuse_flush_in));
    EXPECT(call(fixture) == 0);
    EXPECT(release(fixture, FUSE_RELEASE, fh) == 0);
    EXPECT(create(fixture, 1, "new", O_RDWR, 0777, 0, NULL, &fh) == 0); /* with a fchmod */
    EXPECT(release(fixture, FUSE_RELEASE, fh) == 0);
    EXPECT(mkdir_request(fixture, 1, "made", 0777, 0, NULL) == 0); /* and a fchmodat */
    EXPECT(mknod_request(fixture, 1, "fifo", S_IFIFO | 0666, 0, NULL) == 0);
    EXPECT(symlink_request(fixture, dir, "link", "../file", &entry) == 0);
    char text[64];
    EXPECT(readlink_request(fixture, entry.nodeid, text, sizeof(text)) == 7);
    EXPECT(link_request(fixture, file, dir, "hard", NULL) == 0);
    EXPECT(rename_request(fixture, 1, "new", dir, "renamed", UINT32_MAX) == 0);
    EXPECT(rename_request(fixture, dir, "renamed", dir, "hard", RENAME_EXCHANGE) == 0);
    EXPECT(remove_request(fixture, FUSE_UNLINK, dir, "hard") == 0);
    EXPECT(remove_request(fixture, FUSE_RMDIR, 1, "made") == 0);
    struct listed entries[16];
    EXPECT(list_directory(fixture, 1, false, 4096, entries, 16) > 0);
    EXPECT(list_directory(fixture, 1, true, 4096, entries, 16) > 0);
    begin(fixture, FUSE_STATFS, 1);
    EXPECT(call(fixture) == 0);
    begin(fixture, FUSE_ACCESS, file);
    add(fixture, &(struct fuse_access_in){.mask = R_OK}, sizeof(struct fuse_access_in));
    EXPECT(call(fixture) == 0);
    int error = setxattr_request(fixture, file, "user.a", "b", 0);
    EXPECT(error == 0 || error == -EOPNOTSUPP);
    getxattr_request(fixture, FUSE_GETXATTR, file, "user.a", 64);
    EXPECT(getxattr_request(fixture, FUSE_LISTXATTR, file, NULL, 64) >= 0);
    begin(fixture, FUSE_REMOVEXATTR, file);
    add_string(fixture, "user.a");
    call(fixture);
    EXPECT(open_node(fixture, FUSE_OPEN, escape, O_RDONLY, &fh) == -ELOOP);
    for (int i = 0; i < 100; i++) { /* the node table grows */
        char name[16];
        snprintf(name, sizeof(name), "many%d", i);
        EXPECT(mknod_request(fixture, dir, name, S_IFREG | 0600, 0, NULL) == 0);
    }
    forget(fixture, file, 1);
    begin(fixture, FUSE_DESTROY, 0);
    EXPECT(call(fixture) == 0);
    fuse_server_reset(fixture->server);
    fuse_server_destroy(fixture->server);
}

static void test_system_calls_are_the_listed_ones(void **state)
{
    struct fixture *fixture = *state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* A server of its own: the parent's would reopen the parent's descriptors. */
        uid_t uid = getuid();
        gid_t gid = getgid();
        start_server(fixture, false);
        confine_to_server_calls();
        serve_everything(fixture, uid, gid);
        /* Straight out: the sanitizers' exit work (leak checks) is not the server's. */
        syscall(SYS_exit_group, 0);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    if (!WIFEXITED(status))
        fail_msg("the confined server died of signal %d", WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_create_errors),
        TEST(test_init),
        TEST(test_lookup_and_getattr),
        TEST(test_read_and_write),
        TEST(test_fallocate_and_lseek),
        TEST(test_create_and_mkdir),
        TEST(test_links_and_renames),
        TEST(test_readdir),
        TEST(test_readdirplus),
        TEST(test_setattr),
        TEST(test_statfs_and_access),
        TEST(test_xattr),
        TEST(test_read_only),
        TEST(test_escape_names),
        TEST(test_escape_symlinks),
        TEST(test_escape_rename_races),
        TEST(test_escape_stale_ids_and_handles),
        TEST(test_escape_huge_sizes),
        TEST(test_escape_short_buffers),
        TEST(test_batch_forget),
        TEST(test_tables_full),
        TEST(test_reset),
        TEST(test_no_descriptor_leaks),
        TEST(test_nodes_keyed_by_device_and_inode),
        TEST(test_share_spanning_file_systems),
        TEST(test_system_calls_are_the_listed_ones),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
