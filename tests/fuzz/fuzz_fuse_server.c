/* The FUSE server under a hostile guest: a stream of requests, any bytes,
 * cut into buffers anywhere, with any reply room, against a fresh server
 * over a small tree (files, directories, a FIFO, symlinks to the outside)
 * rebuilt for every input.  Beside the share, an "outside" directory holds
 * a secret.  Checked after every request: nothing written past the reply
 * room or into the request, the reply header consistent (its len the bytes
 * returned, the request's unique, an error with no body, no reply where the
 * protocol has none).  After every input: the outside directory and the
 * secret unchanged (atime too: the secret's atime is older than its mtime,
 * so one read would move it), nothing made beside the share, and after
 * fuse_server_destroy no descriptor left open.  Any failure aborts.
 *
 * The tree lives on a 32 MiB tmpfs in the harness's own mount namespace
 * where it can make one (so FALLOCATE cannot fill the host's memory or
 * disk); elsewhere on /dev/shm or /tmp, with FALLOCATE lengths cut to 1 MiB.
 *
 * Input: one control byte, then records (at most 64):
 *   control: bit 0 a read-only share; bit 1 no INIT sent first (the harness
 *            sends 7.38 with every flag otherwise); bit 2 small tables
 *            (8 nodes, 4 handles)
 *   record:  u16 length, u16 reply room (0xff00 and above: 1 MiB + 16),
 *            u8 how, then length bytes of request (cut at the input's end):
 *            how bit 0 keeps the request's own len field (otherwise the
 *            harness writes the record's length there); bits 1-3 cut the
 *            request in two buffers at n/8 of it, bits 4-6 the reply room
 *            the same way (0: one buffer). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fuse_server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQUESTS 64
#define ROOM_MAX (FUSE_SERVER_MAX_IO + 16)
#define IN_MAX (64 * 1024)
#define CANARY 0xa5
#define CANARY_BYTES 64
#define SECRET "secret: not for the guest\n"

static char base[64], share[96], outside[96], secret[128];
static bool own_tmpfs;
static int base_fd = -1;
static char outside_state[1024];  /* the outside directory and the secret, described */
static uint8_t *in_buffer, *in_copy, *out_buffer;
static bool verbose; /* FUZZ_FUSE_VERBOSE=1: each request's opcode and answer on stderr */

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_fuse_server: %s\n", what);
    abort();
}

static int descriptor_count(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        fail("/proc/self/fd");
    int count = 0;
    while (readdir(dir))
        count++;
    closedir(dir);
    return count;
}

/* What each open descriptor is, on stderr: what leaked. */
static void list_descriptors(int before)
{
    fprintf(stderr, "fuzz_fuse_server: %d descriptors open, %d before:\n", descriptor_count(),
            before);
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *entry;
    while (dir && (entry = readdir(dir))) {
        char path[300], target[300] = "";
        snprintf(path, sizeof(path), "/proc/self/fd/%s", entry->d_name);
        ssize_t length = readlink(path, target, sizeof(target) - 1);
        target[length > 0 ? length : 0] = '\0';
        fprintf(stderr, "  %s -> %s\n", entry->d_name, target);
    }
    if (dir)
        closedir(dir);
}

/* A private tmpfs over base, where this process may have one. */
static bool mount_own_tmpfs(void)
{
    if (unshare(CLONE_NEWNS) != 0 && unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
        return false;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return false;
    return mount("fuzz_fuse_server", base, "tmpfs", MS_NOSUID | MS_NODEV, "size=32m,mode=0700") ==
           0;
}

static void describe(const char *path, char *out, size_t size)
{
    struct stat st;
    if (lstat(path, &st))
        fail("the outside directory is gone");
    size_t used = strlen(out);
    snprintf(out + used, size - used, "%s %o %u %u %lld %lu %lld.%ld %lld.%ld %lld.%ld;", path,
             st.st_mode, st.st_uid, st.st_gid, (long long)st.st_size, (unsigned long)st.st_nlink,
             (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec,
             st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

/* Listed without moving the directory's atime (we own it: O_NOATIME). */
static void list_names(const char *path, char *out, size_t size)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOATIME | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir)
        fail("a directory beside the share is gone");
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "<%s>", entry->d_name);
    }
    closedir(dir);
}

/* What must never change: base holds share and outside only, outside the
 * secret only, and the secret its text, times and links. */
static void describe_outside(char *out, size_t size)
{
    out[0] = '\0';
    describe(outside, out, size);
    describe(secret, out, size);
    list_names(base, out, size);
    list_names(outside, out, size);
}

static void check_outside(void)
{
    char now[sizeof(outside_state)];
    describe_outside(now, sizeof(now));
    if (strcmp(now, outside_state))
        fail("the outside directory changed");
    /* Reading it here moves no atime: opened with O_NOATIME (we own it). */
    char text[64] = {0};
    int fd = open(secret, O_RDONLY | O_NOATIME | O_CLOEXEC);
    if (fd < 0 || read(fd, text, sizeof(text) - 1) < 0 || strcmp(text, SECRET))
        fail("the secret changed");
    close(fd);
}

/* Removes everything in dir_fd, whatever the guest made of it. */
static void empty_directory(int dir_fd)
{
    for (int pass = 0; pass < 8; pass++) {
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
        if (!dir)
            fail("cannot list the share to empty it");
        bool removed = false;
        struct dirent *entry;
        while ((entry = readdir(dir))) {
            if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
                continue;
            removed = true;
            if (unlinkat(dir_fd, entry->d_name, 0) == 0)
                continue;
            int child = openat(dir_fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                          O_CLOEXEC);
            if (child < 0)
                continue;
            (void)fchmod(child, 0700);
            empty_directory(child);
            close(child);
            unlinkat(dir_fd, entry->d_name, AT_REMOVEDIR);
        }
        closedir(dir);
        if (!removed)
            return;
    }
    fail("the share does not empty");
}

static void make_file(int dir_fd, const char *name, const char *text, off_t size)
{
    int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
        (size && ftruncate(fd, size)))
        fail("cannot make the tree");
    close(fd);
}

/* share/: file, big (sparse, 128 KiB), dir/{inner, sub/}, fifo, link -> file,
 * escape -> ../outside/secret, root -> /, away -> outside (absolute). */
static void make_share(void)
{
    int fd = openat(base_fd, "share", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        fail("the share is gone");
    (void)fchmod(fd, 0755);
    (void)fchown(fd, getuid(), getgid());
    empty_directory(fd);
    make_file(fd, "file", "hello, world\n", 0);
    make_file(fd, "big", "start", 128 * 1024);
    fsetxattr(fd, "user.tag", "share", 5, 0); /* where the file system keeps them */
    if (mkdirat(fd, "dir", 0755) || mkdirat(fd, "dir/sub", 0755) || mkfifoat(fd, "fifo", 0644) ||
        symlinkat("file", fd, "link") || symlinkat("../outside/secret", fd, "escape") ||
        symlinkat("/", fd, "root") || symlinkat(outside, fd, "away"))
        fail("cannot make the tree");
    make_file(fd, "dir/inner", "inner\n", 0);
    close(fd);
}

static void make_outside(void)
{
    snprintf(share, sizeof(share), "%s/share", base);
    snprintf(outside, sizeof(outside), "%s/outside", base);
    snprintf(secret, sizeof(secret), "%s/secret", outside);
    if (mkdir(share, 0755) || mkdir(outside, 0755))
        fail("cannot make the tree");
    int fd = open(secret, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, SECRET, strlen(SECRET)) != (ssize_t)strlen(SECRET))
        fail("cannot make the secret");
    /* atime before mtime: a read of it (relatime) would set atime now. */
    struct timespec times[2] = {{1000000000, 0}, {1500000000, 0}};
    futimens(fd, times);
    close(fd);
    utimensat(AT_FDCWD, outside, times, 0); /* the same for the directory and a listing */
}

/* Leaves nothing behind on a normal exit (a crash keeps the tree to look at). */
static void remove_everything(void)
{
    if (own_tmpfs) {
        umount2(base, MNT_DETACH);
    } else {
        int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            empty_directory(fd);
            close(fd);
        }
    }
    rmdir(base);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_FUSE_VERBOSE") != NULL;
    const char *parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(base, sizeof(base), "%s/fuzz_fuse_server-XXXXXX", parent);
    if (!mkdtemp(base))
        fail("mkdtemp");
    own_tmpfs = mount_own_tmpfs();
    if (!own_tmpfs)
        fprintf(stderr, "fuzz_fuse_server: no tmpfs of its own; FALLOCATE lengths are cut\n");
    base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (base_fd < 0)
        fail("cannot open the base directory");
    make_outside();
    make_share();
    atexit(remove_everything);
    describe_outside(outside_state, sizeof(outside_state));
    in_buffer = malloc(IN_MAX);
    in_copy = malloc(IN_MAX);
    out_buffer = malloc(ROOM_MAX + CANARY_BYTES);
    if (!in_buffer || !in_copy || !out_buffer)
        fail("out of memory");
    return 0;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* One request: the checks that hold for any reply. */
static void serve(struct fuse_server *server, size_t length, size_t room, uint8_t how)
{
    if (!(how & 1) && length >= 4) {
        uint32_t len = (uint32_t)length;
        memcpy(in_buffer, &len, 4);
    }
    struct fuse_in_header header = {0};
    memcpy(&header, in_buffer, length < sizeof(header) ? length : sizeof(header));
    if (!own_tmpfs && header.opcode == FUSE_FALLOCATE &&
        length >= sizeof(header) + sizeof(struct fuse_fallocate_in)) {
        struct fuse_fallocate_in *in = (void *)(in_buffer + sizeof(header));
        uint64_t cut = in->length > (1 << 20) ? (1 << 20) : in->length;
        memcpy(&in->length, &cut, sizeof(cut));
    }
    memcpy(in_copy, in_buffer, length);
    size_t in_cut = length * ((how >> 1) & 7) / 8, out_cut = room * ((how >> 4) & 7) / 8;
    struct iovec in[2] = {{in_buffer, in_cut}, {in_buffer + in_cut, length - in_cut}};
    struct iovec out[2] = {{out_buffer, out_cut}, {out_buffer + out_cut, room - out_cut}};
    memset(out_buffer + room, CANARY, CANARY_BYTES);
    uint32_t written = fuse_server_handle(server, in_cut ? in : in + 1, in_cut ? 2 : 1,
                                          out_cut ? out : out + 1, out_cut ? 2 : 1);
    if (written > room)
        fail("reply longer than its room");
    for (size_t i = 0; i < CANARY_BYTES; i++)
        if (out_buffer[room + i] != CANARY)
            fail("wrote past the reply room");
    if (memcmp(in_copy, in_buffer, length))
        fail("wrote into the request");
    if (length < sizeof(header)) {
        if (written)
            fail("answered a request shorter than a header");
        return;
    }
    if (header.opcode == FUSE_FORGET || header.opcode == FUSE_BATCH_FORGET ||
        header.opcode == FUSE_INTERRUPT) {
        if (written)
            fail("answered a request that takes no reply");
        return;
    }
    if (!written) {
        if (room >= sizeof(struct fuse_out_header))
            fail("no reply though there was room for one");
        return;
    }
    struct fuse_out_header reply;
    memcpy(&reply, out_buffer, sizeof(reply));
    if (written < sizeof(reply) || reply.len != written || reply.unique != header.unique)
        fail("reply header wrong");
    if (reply.error > 0 || reply.error < -4095 || (reply.error && written != sizeof(reply)))
        fail("error reply wrong");
    if (verbose)
        fprintf(stderr, "opcode %u node %llu: error %d, %u bytes\n", header.opcode,
                (unsigned long long)header.nodeid, reply.error, written);
}

static void send_init(struct fuse_server *server)
{
    struct {
        struct fuse_in_header header;
        struct fuse_init_in init;
    } request = {
        .header = {.len = sizeof(request), .opcode = FUSE_INIT, .unique = 1},
        .init = {.major = 7, .minor = 38, .max_readahead = 1 << 17, .flags = 0xffffffffu,
                 .flags2 = 0xffffffffu},
    };
    memcpy(in_buffer, &request, sizeof(request));
    serve(server, sizeof(request), 4096, 1);
    struct fuse_out_header reply;
    memcpy(&reply, out_buffer, sizeof(reply));
    if (reply.error)
        fail("INIT refused");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t control = data[0];
    /* Counted here: libFuzzer opens descriptors of its own between inputs
     * (the symbolizer's pipes). */
    int descriptors = descriptor_count();
    struct fuse_server *server;
    struct error error;
    if (fuse_server_create(&server, share, control & 1, &error))
        fail(error.message);
    if (control & 4)
        fuse_server_set_limits(server, 8, 4);
    if (!(control & 2))
        send_init(server);
    size_t at = 1;
    for (int requests = 0; requests < MAX_REQUESTS && size - at >= 5; requests++) {
        size_t length = get16(data + at), room = get16(data + at + 2);
        uint8_t how = data[at + 4];
        at += 5;
        if (length > size - at)
            length = size - at;
        if (room >= 0xff00)
            room = ROOM_MAX;
        memcpy(in_buffer, data + at, length);
        at += length;
        serve(server, length, room, how);
    }
    fuse_server_destroy(server);
    if (descriptor_count() != descriptors) {
        list_descriptors(descriptors);
        fail("a descriptor leaked");
    }
    check_outside();
    make_share();
    return 0;
}
