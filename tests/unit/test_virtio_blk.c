/* virtio-blk over a temporary file: opening and checking the image, and
 * virtio_blk_handle_request on chains built by hand in guest memory (and
 * taken off a ring with virtq_pop, as the device does): reads, writes,
 * flush, GET_ID, discard and write-zeroes, and every way a request can be
 * wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory.h"
#include "virtio/blk.h"
#include "virtio/queue.h"

#define MEMORY_SIZE (1u << 20)
#define DISK_SECTORS 16
#define SECTOR 512

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define NO_STATUS 0xee /* what the status byte holds before the device writes it */

#define F_FLUSH (1ull << 9)
#define F_RO (1ull << 5)
#define F_DISCARD (1ull << 13)
#define F_WRITE_ZEROES (1ull << 14)

#define DESC_TABLE 0x1000ull
#define AVAIL_RING 0x2000ull
#define USED_RING 0x3000ull
#define DATA 0x10000ull
#define QUEUE_SIZE 16

struct buffer_spec {
    uint64_t address;
    uint32_t length;
    bool writable;
};

struct fixture {
    char path[64];
    uint8_t *host;
    struct guest_memory memory;
    struct virtio_blk *blk;
    bool blk_open;
    struct virtq queue;
    struct virtq_chain chain;
    uint16_t avail_idx;
};

/* Byte i of sector s on the fresh disk: recognisable anywhere. */
static uint8_t pattern(unsigned sector, unsigned i)
{
    return (uint8_t)(sector * 37 + i * 7 + 1);
}

static void make_disk(const char *path, size_t sectors)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    uint8_t data[SECTOR];
    for (unsigned s = 0; s < sectors; s++) {
        for (unsigned i = 0; i < SECTOR; i++)
            data[i] = pattern(s, i);
        assert_int_equal(write(fd, data, SECTOR), SECTOR);
    }
    close(fd);
}

static void read_disk(struct fixture *fixture, unsigned sector, uint8_t *data)
{
    int fd = open(fixture->path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, data, SECTOR, (off_t)sector * SECTOR), SECTOR);
    close(fd);
}

static bool sector_is_original(struct fixture *fixture, unsigned sector)
{
    uint8_t data[SECTOR];
    read_disk(fixture, sector, data);
    for (unsigned i = 0; i < SECTOR; i++)
        if (data[i] != pattern(sector, i))
            return false;
    return true;
}

static bool sector_is_zero(struct fixture *fixture, unsigned sector)
{
    uint8_t data[SECTOR];
    read_disk(fixture, sector, data);
    for (unsigned i = 0; i < SECTOR; i++)
        if (data[i])
            return false;
    return true;
}

static void open_disk(struct fixture *fixture, bool read_only)
{
    struct error error = {{0}};
    if (fixture->blk_open) {
        virtio_device_destroy(&fixture->blk->device);
        virtio_blk_close(fixture->blk);
    }
    if (virtio_blk_open(fixture->blk, fixture->path, read_only, 0, &error) ||
        virtio_blk_init(fixture->blk, &fixture->memory, &error))
        fail_msg("opening the disk: %s", error.message);
    fixture->blk_open = true;
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    if (!fixture)
        return -1;
    snprintf(fixture->path, sizeof(fixture->path), "/tmp/test_virtio_blk-XXXXXX");
    int fd = mkstemp(fixture->path);
    if (fd < 0)
        return -1;
    close(fd);
    make_disk(fixture->path, DISK_SECTORS);
    fixture->host = calloc(1, MEMORY_SIZE);
    fixture->blk = calloc(1, sizeof(*fixture->blk));
    if (!fixture->host || !fixture->blk)
        return -1;
    guest_memory_init_over(&fixture->memory, fixture->host, MEMORY_SIZE);
    fixture->queue.size = QUEUE_SIZE;
    fixture->queue.desc_address = DESC_TABLE;
    fixture->queue.avail_address = AVAIL_RING;
    fixture->queue.used_address = USED_RING;
    fixture->queue.indirect = true;
    if (virtq_start(&fixture->queue, &fixture->memory))
        return -1;
    open_disk(fixture, false);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    if (fixture->blk_open) {
        virtio_device_destroy(&fixture->blk->device);
        virtio_blk_close(fixture->blk);
    }
    unlink(fixture->path);
    free(fixture->blk);
    free(fixture->host);
    free(fixture);
    return 0;
}

static void put_header(struct fixture *fixture, uint64_t address, uint32_t type, uint64_t sector)
{
    struct {
        uint32_t type, reserved;
        uint64_t sector;
    } header = {type, 0, sector};
    memcpy(fixture->host + address, &header, sizeof(header));
}

static void put_range(struct fixture *fixture, uint64_t address, uint64_t sector,
                      uint32_t sectors, uint32_t flags)
{
    struct {
        uint64_t sector;
        uint32_t sectors, flags;
    } range = {sector, sectors, flags};
    memcpy(fixture->host + address, &range, sizeof(range));
}

/* Links the buffers as descriptors 0..count-1, makes the chain available
 * and pops it, as the serving device would. */
static struct virtq_chain *make_chain(struct fixture *fixture, const struct buffer_spec *buffers,
                                      unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        uint16_t flags = (uint16_t)((buffers[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0));
        struct virtq_desc desc = {buffers[i].address, buffers[i].length, flags,
                                  (uint16_t)(i + 1)};
        memcpy(fixture->host + DESC_TABLE + 16 * i, &desc, sizeof(desc));
    }
    uint16_t head = 0;
    memcpy(fixture->host + AVAIL_RING + 4 + 2 * (fixture->avail_idx % QUEUE_SIZE), &head, 2);
    fixture->avail_idx++;
    memcpy(fixture->host + AVAIL_RING + 2, &fixture->avail_idx, 2);
    enum virtq_error error;
    assert_int_equal(virtq_pop(&fixture->queue, &fixture->chain, &error), 1);
    return &fixture->chain;
}

static uint32_t handle(struct fixture *fixture, struct virtq_chain *chain)
{
    return virtio_blk_handle_request(&fixture->blk->device, chain);
}

/* The usual three-part request: header, data, one status byte. */
static uint32_t simple_request(struct fixture *fixture, uint32_t type, uint64_t sector,
                               uint32_t data_length, bool data_writable)
{
    put_header(fixture, DATA, type, sector);
    fixture->host[DATA + 0x8000] = NO_STATUS;
    struct buffer_spec buffers[] = {
        {DATA, 16, false},
        {DATA + 0x1000, data_length, data_writable},
        {DATA + 0x8000, 1, true},
    };
    return handle(fixture, make_chain(fixture, buffers, 3));
}

static uint8_t simple_status(struct fixture *fixture)
{
    return fixture->host[DATA + 0x8000];
}

/* --- opening ---------------------------------------------------------------- */

static void expect_open_error(const char *path, bool read_only, const char *what)
{
    struct virtio_blk *blk = calloc(1, sizeof(*blk));
    assert_non_null(blk);
    struct error error = {{0}};
    assert_int_equal(virtio_blk_open(blk, path, read_only, 0, &error), -1);
    assert_non_null(strstr(error.message, path));
    if (what && !strstr(error.message, what))
        fail_msg("\"%s\" does not say \"%s\"", error.message, what);
    virtio_blk_close(blk);
    free(blk);
}

/* A scratch file of size bytes, beside the fixture's disk. */
static void make_sized_file(char *path, size_t path_size, off_t size)
{
    snprintf(path, path_size, "/tmp/test_virtio_blk-size-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, size), 0);
    close(fd);
}

static void test_open_errors(void **state)
{
    (void)state;
    expect_open_error("/tmp/test_virtio_blk-does-not-exist", false, "No such file");
    expect_open_error("/tmp/test_virtio_blk-does-not-exist", true, "No such file");
    expect_open_error("/tmp", true, "directory");
    expect_open_error("/tmp", false, "irectory"); /* open(O_RDWR) refuses it: EISDIR */

    static const struct {
        off_t size;
        const char *what;
    } bad_sizes[] = {{1000, "512"}, {0, "empty"}, {512 + 1, "512"}, {511, "512"}};
    for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        char path[64];
        make_sized_file(path, sizeof(path), bad_sizes[i].size);
        expect_open_error(path, false, bad_sizes[i].what);
        expect_open_error(path, true, bad_sizes[i].what);
        unlink(path);
    }

    char path[64];
    make_sized_file(path, sizeof(path), 4096);
    struct virtio_blk *blk = calloc(1, sizeof(*blk));
    struct error error = {{0}};
    assert_int_equal(virtio_blk_open(blk, path, false, 26, &error), -1);
    assert_non_null(strstr(error.message, path));
    virtio_blk_close(blk);
    assert_int_equal(virtio_blk_open(blk, path, false, 25, &error), 0);
    assert_string_equal(blk->name, "vdz");
    virtio_blk_close(blk);
    unlink(path);
    free(blk);
}

static int open_descriptor_count(void)
{
    int count = 0;
    DIR *directory = opendir("/proc/self/fd");
    assert_non_null(directory);
    while (readdir(directory))
        count++;
    closedir(directory);
    return count;
}

/* A failed open must not leave its descriptor behind: main.c reports the
 * error and gives up on the disk without calling virtio_blk_close(). */
static void test_open_failure_leaves_no_descriptor(void **state)
{
    (void)state;
    char path[64];
    make_sized_file(path, sizeof(path), 1000); /* opens, then fails the size check */
    struct virtio_blk *blk = calloc(1, sizeof(*blk));
    struct error error;
    int before = open_descriptor_count();
    assert_int_equal(virtio_blk_open(blk, path, false, 0, &error), -1);
    assert_int_equal(virtio_blk_open(blk, "/tmp", true, 0, &error), -1);
    int after = open_descriptor_count();
    /* Closed by hand, so that the rest of the run is not affected either way. */
    virtio_blk_close(blk);
    unlink(path);
    free(blk);
    assert_int_equal(after, before);
}

static int access_mode(const struct virtio_blk *blk)
{
    int flags = fcntl(blk->fd, F_GETFL);
    assert_true(flags >= 0);
    return flags & O_ACCMODE;
}

static void test_open_modes(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_blk *blk = fixture->blk;
    assert_int_equal(access_mode(blk), O_RDWR);
    assert_false(blk->read_only);
    assert_true(blk->can_discard);
    assert_int_equal(blk->sectors, DISK_SECTORS);
    assert_string_equal(blk->name, "vda");
    /* Writable disks offer discard and write-zeroes; none is read-only. */
    uint64_t features = blk->device.device_features;
    assert_true(features & F_FLUSH);
    assert_true(features & F_DISCARD);
    assert_true(features & F_WRITE_ZEROES);
    assert_false(features & F_RO);
    uint64_t capacity;
    memcpy(&capacity, blk->config, 8);
    assert_int_equal(capacity, DISK_SECTORS);
    assert_int_equal(blk->device.config_size, VIRTIO_BLK_CONFIG_SIZE);

    open_disk(fixture, true);
    assert_int_equal(access_mode(blk), O_RDONLY);
    assert_true(blk->read_only);
    assert_false(blk->can_discard);
    features = blk->device.device_features;
    assert_true(features & F_RO);
    assert_false(features & (F_DISCARD | F_WRITE_ZEROES));
    virtio_device_destroy(&blk->device);
    virtio_blk_close(blk);
    fixture->blk_open = false;

    struct error error;
    assert_int_equal(virtio_blk_open(blk, fixture->path, true, 3, &error), 0);
    assert_string_equal(blk->name, "vdd");
    virtio_blk_close(blk);
}

static uint32_t config32(const struct virtio_blk *blk, unsigned offset)
{
    uint32_t value;
    memcpy(&value, blk->config + offset, 4);
    return value;
}

static void test_config_layout(void **state)
{
    struct fixture *fixture = *state;
    const struct virtio_blk *blk = fixture->blk;
    /* struct virtio_blk_config (5.2.4) as Linux reads it. */
    uint64_t capacity;
    memcpy(&capacity, blk->config + 0, 8);
    assert_int_equal(capacity, DISK_SECTORS);
    assert_true(blk->device.device_features & (1ull << 2)); /* SEG_MAX */
    uint32_t seg_max = config32(blk, 12);
    assert_true(seg_max >= 1 && seg_max + 2 <= VIRTIO_BLK_QUEUE_SIZE);
    assert_true(config32(blk, 36) > 0);       /* max_discard_sectors */
    assert_int_equal(config32(blk, 40), 1);   /* max_discard_seg */
    assert_true(config32(blk, 44) > 0);       /* discard_sector_alignment */
    assert_int_equal(config32(blk, 48), config32(blk, 36)); /* max_write_zeroes_sectors */
    assert_int_equal(config32(blk, 52), 1);   /* max_write_zeroes_seg */
    assert_int_equal(blk->config[56], 1);     /* write_zeroes_may_unmap */
    assert_ptr_equal(blk->device.config, blk->config);
    assert_int_equal(blk->device.config_size, 60);
    assert_int_equal(blk->device.ops->device_id, 2);
    assert_int_equal(blk->device.ops->queue_count, 1);
    assert_int_equal(blk->device.ops->queue_max_size, VIRTIO_BLK_QUEUE_SIZE);
}

static void test_open_serial_is_file_name(void **state)
{
    struct fixture *fixture = *state;
    /* The fixture's name is longer than 20 bytes: cut to what there is room for. */
    const char *base = strrchr(fixture->path, '/') + 1;
    assert_true(strlen(base) > VIRTIO_BLK_ID_BYTES);
    assert_memory_equal(fixture->blk->serial, base, VIRTIO_BLK_ID_BYTES);

    /* A short name is padded with zeros. */
    char short_path[] = "/tmp/vdXXXXXX";
    int fd = mkstemp(short_path);
    assert_true(fd >= 0);
    close(fd);
    make_disk(short_path, 1);
    struct virtio_blk *blk = calloc(1, sizeof(*blk));
    struct error error;
    assert_int_equal(virtio_blk_open(blk, short_path, true, 1, &error), 0);
    assert_memory_equal(blk->serial, short_path + 5, 8);
    for (size_t i = 8; i < VIRTIO_BLK_ID_BYTES; i++)
        assert_int_equal(blk->serial[i], 0);
    virtio_blk_close(blk);
    unlink(short_path);
    free(blk);
}

static void test_open_locked(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_blk *second = calloc(1, sizeof(*second));
    struct error error = {{0}};
    /* The fixture holds it read-write: nobody else gets it, not even to read. */
    assert_int_equal(virtio_blk_open(second, fixture->path, false, 1, &error), -1);
    assert_non_null(strstr(error.message, fixture->path));
    assert_non_null(strstr(error.message, "locked"));
    virtio_blk_close(second);
    assert_int_equal(virtio_blk_open(second, fixture->path, true, 1, &error), -1);
    virtio_blk_close(second);

    /* Readers share. */
    virtio_device_destroy(&fixture->blk->device);
    virtio_blk_close(fixture->blk);
    fixture->blk_open = false;
    open_disk(fixture, true);
    assert_int_equal(virtio_blk_open(second, fixture->path, true, 1, &error), 0);
    virtio_blk_close(second);
    /* Once the writer is gone, a new one may come. */
    virtio_device_destroy(&fixture->blk->device);
    virtio_blk_close(fixture->blk);
    fixture->blk_open = false;
    assert_int_equal(virtio_blk_open(second, fixture->path, false, 1, &error), 0);
    virtio_blk_close(second);
    free(second);
}

/* --- requests --------------------------------------------------------------- */

static void test_read(void **state)
{
    struct fixture *fixture = *state;
    /* Two sectors into two buffers that split the first sector unevenly. */
    put_header(fixture, DATA, T_IN, 3);
    fixture->host[DATA + 0x8000] = NO_STATUS;
    struct buffer_spec buffers[] = {
        {DATA, 16, false},
        {DATA + 0x1000, 100, true},
        {DATA + 0x2000, 924, true},
        {DATA + 0x8000, 1, true},
    };
    assert_int_equal(handle(fixture, make_chain(fixture, buffers, 4)), 1024 + 1);
    assert_int_equal(simple_status(fixture), S_OK);
    for (unsigned i = 0; i < 100; i++)
        assert_int_equal(fixture->host[DATA + 0x1000 + i], pattern(3, i));
    for (unsigned i = 100; i < 512; i++)
        assert_int_equal(fixture->host[DATA + 0x2000 + i - 100], pattern(3, i));
    for (unsigned i = 0; i < 512; i++)
        assert_int_equal(fixture->host[DATA + 0x2000 + 412 + i], pattern(4, i));
    assert_int_equal(fixture->host[DATA + 0x1000 + 100], 0); /* nothing past the buffer */
}

static void test_read_last_sector_and_status_in_data_buffer(void **state)
{
    struct fixture *fixture = *state;
    /* One writable buffer for data and status: the status is its last byte. */
    put_header(fixture, DATA, T_IN, DISK_SECTORS - 1);
    fixture->host[DATA + 0x1000 + 512] = NO_STATUS;
    struct buffer_spec buffers[] = {{DATA, 16, false}, {DATA + 0x1000, 513, true}};
    assert_int_equal(handle(fixture, make_chain(fixture, buffers, 2)), 513);
    assert_int_equal(fixture->host[DATA + 0x1000 + 512], S_OK);
    assert_int_equal(fixture->host[DATA + 0x1000], pattern(DISK_SECTORS - 1, 0));
    assert_int_equal(fixture->host[DATA + 0x1000 + 511], pattern(DISK_SECTORS - 1, 511));
}

static void test_write(void **state)
{
    struct fixture *fixture = *state;
    /* The header and the first 200 data bytes share a buffer. */
    put_header(fixture, DATA, T_OUT, 5);
    memset(fixture->host + DATA + 16, 'w', 200);
    memset(fixture->host + DATA + 0x1000, 'x', 312 + 512);
    fixture->host[DATA + 0x8000] = NO_STATUS;
    struct buffer_spec buffers[] = {
        {DATA, 16 + 200, false},
        {DATA + 0x1000, 312 + 512, false},
        {DATA + 0x8000, 1, true},
    };
    assert_int_equal(handle(fixture, make_chain(fixture, buffers, 3)), 1);
    assert_int_equal(simple_status(fixture), S_OK);
    uint8_t data[SECTOR];
    read_disk(fixture, 5, data);
    for (unsigned i = 0; i < SECTOR; i++)
        assert_int_equal(data[i], i < 200 ? 'w' : 'x');
    read_disk(fixture, 6, data);
    for (unsigned i = 0; i < SECTOR; i++)
        assert_int_equal(data[i], 'x');
    assert_true(sector_is_original(fixture, 4));
    assert_true(sector_is_original(fixture, 7));

    /* And reading it back through the device gives the same bytes. */
    assert_int_equal(simple_request(fixture, T_IN, 5, 512, true), 513);
    assert_int_equal(fixture->host[DATA + 0x1000 + 199], 'w');
    assert_int_equal(fixture->host[DATA + 0x1000 + 200], 'x');
}

static void test_write_read_only(void **state)
{
    struct fixture *fixture = *state;
    open_disk(fixture, true);
    memset(fixture->host + DATA + 0x1000, 'w', 512);
    assert_int_equal(simple_request(fixture, T_OUT, 2, 512, false), 1);
    assert_int_equal(simple_status(fixture), S_IOERR);
    assert_true(sector_is_original(fixture, 2));
    /* Reads still work. */
    assert_int_equal(simple_request(fixture, T_IN, 2, 512, true), 513);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_int_equal(fixture->host[DATA + 0x1000], pattern(2, 0));
}

static void test_beyond_capacity(void **state)
{
    struct fixture *fixture = *state;
    memset(fixture->host + DATA + 0x1000, 0xaa, 1024);
    simple_request(fixture, T_IN, DISK_SECTORS - 1, 1024, true); /* one sector too many */
    assert_int_equal(simple_status(fixture), S_IOERR);
    assert_int_equal(fixture->host[DATA + 0x1000], 0xaa); /* nothing transferred */
    simple_request(fixture, T_IN, DISK_SECTORS, 512, true);
    assert_int_equal(simple_status(fixture), S_IOERR);
    simple_request(fixture, T_IN, UINT64_MAX, 512, true);
    assert_int_equal(simple_status(fixture), S_IOERR);
    /* sector * 512 wraps to a small number: must not pass as in range. */
    simple_request(fixture, T_IN, 1ull << 55, 512, true);
    assert_int_equal(simple_status(fixture), S_IOERR);
    simple_request(fixture, T_OUT, DISK_SECTORS - 1, 1024, false);
    assert_int_equal(simple_status(fixture), S_IOERR);
    simple_request(fixture, T_OUT, (1ull << 55) + 1, 512, false);
    assert_int_equal(simple_status(fixture), S_IOERR);
    for (unsigned s = 0; s < DISK_SECTORS; s++)
        assert_true(sector_is_original(fixture, s));
    struct stat st;
    assert_int_equal(stat(fixture->path, &st), 0);
    assert_int_equal(st.st_size, DISK_SECTORS * SECTOR);
}

static void test_partial_sector_lengths(void **state)
{
    struct fixture *fixture = *state;
    simple_request(fixture, T_IN, 0, 513, true);
    assert_int_equal(simple_status(fixture), S_IOERR);
    simple_request(fixture, T_IN, 0, 100, true);
    assert_int_equal(simple_status(fixture), S_IOERR);
    memset(fixture->host + DATA + 0x1000, 'w', 1000);
    simple_request(fixture, T_OUT, 0, 1000, false);
    assert_int_equal(simple_status(fixture), S_IOERR);
    assert_true(sector_is_original(fixture, 0));
    assert_true(sector_is_original(fixture, 1));
    /* Two writable status-ish bytes make the data 513 bytes: refused too. */
    put_header(fixture, DATA, T_IN, 0);
    struct buffer_spec buffers[] = {
        {DATA, 16, false}, {DATA + 0x1000, 512, true}, {DATA + 0x8000, 2, true}};
    fixture->host[DATA + 0x8001] = NO_STATUS;
    assert_int_equal(handle(fixture, make_chain(fixture, buffers, 3)), 1);
    assert_int_equal(fixture->host[DATA + 0x8001], S_IOERR); /* the last writable byte */
}

static void test_flush(void **state)
{
    struct fixture *fixture = *state;
    put_header(fixture, DATA, T_FLUSH, 0);
    fixture->host[DATA + 0x8000] = NO_STATUS;
    struct buffer_spec buffers[] = {{DATA, 16, false}, {DATA + 0x8000, 1, true}};
    assert_int_equal(handle(fixture, make_chain(fixture, buffers, 2)), 1);
    assert_int_equal(simple_status(fixture), S_OK);
    open_disk(fixture, true);
    fixture->host[DATA + 0x8000] = NO_STATUS;
    assert_int_equal(handle(fixture, make_chain(fixture, buffers, 2)), 1);
    assert_int_equal(simple_status(fixture), S_OK);
}

/* A flush that failed fails for good: the kernel reports a lost write-back
 * to one fdatasync only, so a retry's success would be a lie. */
static void test_failed_flush_is_sticky(void **state)
{
    struct fixture *fixture = *state;
    struct buffer_spec buffers[] = {{DATA, 16, false}, {DATA + 0x8000, 1, true}};
    int pipe_fds[2];
    assert_int_equal(pipe(pipe_fds), 0);
    int disk_fd = fixture->blk->fd;
    fixture->blk->fd = pipe_fds[0]; /* fdatasync on a pipe: EINVAL, a failing disk */
    put_header(fixture, DATA, T_FLUSH, 0);
    fixture->host[DATA + 0x8000] = NO_STATUS;
    assert_int_equal(handle(fixture, make_chain(fixture, buffers, 2)), 1);
    assert_int_equal(simple_status(fixture), S_IOERR);
    fixture->blk->fd = disk_fd; /* the disk "works" again */
    for (int i = 0; i < 2; i++) {
        put_header(fixture, DATA, T_FLUSH, 0);
        fixture->host[DATA + 0x8000] = NO_STATUS;
        assert_int_equal(handle(fixture, make_chain(fixture, buffers, 2)), 1);
        assert_int_equal(simple_status(fixture), S_IOERR);
    }
    close(pipe_fds[0]);
    close(pipe_fds[1]);
}

/* Without F_FLUSH the driver cannot ask for durability, so every write is
 * made durable before it completes; with F_FLUSH, writes wait for a flush. */
static void test_writethrough_without_flush_feature(void **state)
{
    struct fixture *fixture = *state;
    memset(fixture->host + DATA + 0x1000, 'a', 512);
    fixture->blk->device.driver_features = 0;
    assert_int_equal(simple_request(fixture, T_OUT, 3, 512, false), 1);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_int_equal(fixture->blk->writethrough_writes, 1);
    fixture->blk->device.driver_features = F_FLUSH;
    assert_int_equal(simple_request(fixture, T_OUT, 4, 512, false), 1);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_int_equal(fixture->blk->writethrough_writes, 1);
    /* A write-through write whose sync fails is an error, and stays one. */
    fixture->blk->device.driver_features = 0;
    fixture->blk->flush_failed = true;
    assert_int_equal(simple_request(fixture, T_OUT, 5, 512, false), 1);
    assert_int_equal(simple_status(fixture), S_IOERR);
}

static double seconds(clockid_t clock)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* A guest that rings the doorbell of an empty ring, again and again, soon
 * after each sleep of the disk's thread: before, each such ring grew the
 * polling window to its 1 ms ceiling and the thread spun through it, most
 * of a core for nothing.  Only rings that bring requests grow it now. */
static void test_empty_doorbells_cost_no_polling(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_device *device = &fixture->blk->device;
    struct virtq *queue = &device->queues[0];
    queue->size = QUEUE_SIZE;
    queue->desc_address = DESC_TABLE;
    queue->avail_address = AVAIL_RING;
    queue->used_address = USED_RING;
    assert_int_equal(virtq_start(queue, &fixture->memory), 0);
    device->driver_features = F_FLUSH;
    device->status = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
    struct error error = {{0}};
    assert_int_equal(virtio_device_start(device, NULL, true, &error), 0);
    clockid_t thread_clock;
    assert_int_equal(pthread_getcpuclockid(device->thread, &thread_clock), 0);
    double wall = seconds(CLOCK_MONOTONIC), cpu = seconds(thread_clock);
    for (int i = 0; i < 1000; i++) {
        uint64_t one = 1;
        assert_int_equal(write(device->notify_fd[0], &one, sizeof(one)), sizeof(one));
        usleep(400);
    }
    cpu = seconds(thread_clock) - cpu;
    wall = seconds(CLOCK_MONOTONIC) - wall;
    virtio_device_stop(device, NULL);
    print_message("disk thread: %.1f %% of a core over %.2f s of empty doorbells\n",
                  100 * cpu / wall, wall);
    if (cpu / wall > 0.10)
        fail_msg("the disk thread took %.0f %% of a core for rings without requests",
                 100 * cpu / wall);
}

static void test_get_id(void **state)
{
    struct fixture *fixture = *state;
    memset(fixture->host + DATA + 0x1000, 0x77, 64);
    assert_int_equal(simple_request(fixture, T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, true),
                     VIRTIO_BLK_ID_BYTES + 1);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_memory_equal(fixture->host + DATA + 0x1000, fixture->blk->serial,
                        VIRTIO_BLK_ID_BYTES);
    assert_int_equal(fixture->host[DATA + 0x1000 + VIRTIO_BLK_ID_BYTES], 0x77);
    /* A smaller buffer gets what fits; a larger one no more than 20 bytes. */
    memset(fixture->host + DATA + 0x1000, 0x77, 64);
    assert_int_equal(simple_request(fixture, T_GET_ID, 0, 8, true), 9);
    assert_memory_equal(fixture->host + DATA + 0x1000, fixture->blk->serial, 8);
    assert_int_equal(fixture->host[DATA + 0x1000 + 8], 0x77);
    memset(fixture->host + DATA + 0x1000, 0x77, 64);
    assert_int_equal(simple_request(fixture, T_GET_ID, 0, 64, true), VIRTIO_BLK_ID_BYTES + 1);
    assert_int_equal(fixture->host[DATA + 0x1000 + VIRTIO_BLK_ID_BYTES], 0x77);
    assert_int_equal(simple_status(fixture), S_OK);
}

static void test_unsupported_types(void **state)
{
    struct fixture *fixture = *state;
    static const uint32_t types[] = {2, 3, 5, 7, 9, 12, 14, 0x99, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        memset(fixture->host + DATA + 0x1000, 0x77, 512);
        assert_int_equal(simple_request(fixture, types[i], 0, 512, true), 1);
        assert_int_equal(simple_status(fixture), S_UNSUPP);
        assert_int_equal(fixture->host[DATA + 0x1000], 0x77);
    }
}

static void test_malformed_requests(void **state)
{
    struct fixture *fixture = *state;
    /* No writable byte at all: no status to give; nothing written. */
    put_header(fixture, DATA, T_IN, 0);
    struct buffer_spec no_status[] = {{DATA, 16, false}, {DATA + 0x1000, 512, false}};
    assert_int_equal(handle(fixture, make_chain(fixture, no_status, 2)), 0);
    assert_true(sector_is_original(fixture, 0));
    /* A header of 15 bytes. */
    put_header(fixture, DATA, T_OUT, 0);
    fixture->host[DATA + 0x8000] = NO_STATUS;
    struct buffer_spec short_header[] = {{DATA, 15, false}, {DATA + 0x8000, 1, true}};
    assert_int_equal(handle(fixture, make_chain(fixture, short_header, 2)), 0);
    assert_int_equal(simple_status(fixture), NO_STATUS);
    /* Nothing readable: the header is all writable. */
    struct buffer_spec all_writable[] = {{DATA, 16, true}, {DATA + 0x8000, 1, true}};
    assert_int_equal(handle(fixture, make_chain(fixture, all_writable, 2)), 0);
    /* An empty chain (only zero-length buffers). */
    struct buffer_spec empty[] = {{DATA, 0, false}, {DATA, 0, true}};
    assert_int_equal(handle(fixture, make_chain(fixture, empty, 2)), 0);
    for (unsigned s = 0; s < DISK_SECTORS; s++)
        assert_true(sector_is_original(fixture, s));
}

static void test_header_split_across_buffers(void **state)
{
    struct fixture *fixture = *state;
    put_header(fixture, DATA, T_IN, 7);
    memmove(fixture->host + DATA + 0x100, fixture->host + DATA + 8, 8);
    memset(fixture->host + DATA + 8, 0xff, 8); /* garbage between the halves */
    fixture->host[DATA + 0x8000] = NO_STATUS;
    struct buffer_spec buffers[] = {
        {DATA, 8, false},
        {DATA + 0x100, 3, false},
        {DATA + 0x103, 5, false},
        {DATA + 0x1000, 512, true},
        {DATA + 0x8000, 1, true},
    };
    assert_int_equal(handle(fixture, make_chain(fixture, buffers, 5)), 513);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_int_equal(fixture->host[DATA + 0x1000 + 5], pattern(7, 5));
}

/* DISCARD or WRITE_ZEROES of one range: header, range, status. */
static uint32_t range_request(struct fixture *fixture, uint32_t type, uint64_t sector,
                              uint32_t sectors, uint32_t flags)
{
    put_header(fixture, DATA, type, 0);
    put_range(fixture, DATA + 0x1000, sector, sectors, flags);
    fixture->host[DATA + 0x8000] = NO_STATUS;
    struct buffer_spec buffers[] = {
        {DATA, 16, false}, {DATA + 0x1000, 16, false}, {DATA + 0x8000, 1, true}};
    return handle(fixture, make_chain(fixture, buffers, 3));
}

static void test_write_zeroes(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(range_request(fixture, T_WRITE_ZEROES, 2, 3, 0), 1);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_true(sector_is_original(fixture, 1));
    for (unsigned s = 2; s < 5; s++)
        assert_true(sector_is_zero(fixture, s));
    assert_true(sector_is_original(fixture, 5));
    /* With the unmap flag (may punch a hole): zeros all the same. */
    assert_int_equal(range_request(fixture, T_WRITE_ZEROES, 8, 8, 1), 1);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_true(sector_is_original(fixture, 7));
    for (unsigned s = 8; s < 16; s++)
        assert_true(sector_is_zero(fixture, s));
    struct stat st;
    assert_int_equal(stat(fixture->path, &st), 0);
    assert_int_equal(st.st_size, DISK_SECTORS * SECTOR); /* never grows or shrinks */
    /* And through the device. */
    simple_request(fixture, T_IN, 3, 512, true);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_int_equal(fixture->host[DATA + 0x1000 + 100], 0);
}

static void test_discard(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(range_request(fixture, T_DISCARD, 8, 8, 0), 1);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_true(sector_is_original(fixture, 7));
    /* A regular file punches a hole: the range reads back as zeros. */
    for (unsigned s = 8; s < 16; s++)
        assert_true(sector_is_zero(fixture, s));
    struct stat st;
    assert_int_equal(stat(fixture->path, &st), 0);
    assert_int_equal(st.st_size, DISK_SECTORS * SECTOR);
    /* Through the device too. */
    simple_request(fixture, T_IN, 9, 512, true);
    assert_int_equal(simple_status(fixture), S_OK);
    assert_int_equal(fixture->host[DATA + 0x1000 + 9], 0);
}

static void test_bad_ranges(void **state)
{
    struct fixture *fixture = *state;
    range_request(fixture, T_WRITE_ZEROES, DISK_SECTORS - 1, 2, 0);
    assert_int_equal(simple_status(fixture), S_IOERR);
    range_request(fixture, T_DISCARD, DISK_SECTORS, 1, 0);
    assert_int_equal(simple_status(fixture), S_IOERR);
    range_request(fixture, T_DISCARD, UINT64_MAX, 1, 0);
    assert_int_equal(simple_status(fixture), S_IOERR);
    range_request(fixture, T_WRITE_ZEROES, 1ull << 55, 1, 0); /* * 512 wraps */
    assert_int_equal(simple_status(fixture), S_IOERR);
    range_request(fixture, T_WRITE_ZEROES, 0, UINT32_MAX, 0);
    assert_int_equal(simple_status(fixture), S_IOERR);
    /* Flags: unmap is reserved for discard; other bits for both. */
    range_request(fixture, T_DISCARD, 0, 1, 1);
    assert_int_equal(simple_status(fixture), S_UNSUPP);
    range_request(fixture, T_WRITE_ZEROES, 0, 1, 2);
    assert_int_equal(simple_status(fixture), S_UNSUPP);
    /* We advertise one segment: two ranges, or a partial one, are refused. */
    put_header(fixture, DATA, T_WRITE_ZEROES, 0);
    put_range(fixture, DATA + 0x1000, 0, 1, 0);
    put_range(fixture, DATA + 0x1010, 1, 1, 0);
    struct buffer_spec two[] = {
        {DATA, 16, false}, {DATA + 0x1000, 32, false}, {DATA + 0x8000, 1, true}};
    handle(fixture, make_chain(fixture, two, 3));
    assert_int_equal(simple_status(fixture), S_UNSUPP);
    struct buffer_spec partial[] = {
        {DATA, 16, false}, {DATA + 0x1000, 12, false}, {DATA + 0x8000, 1, true}};
    handle(fixture, make_chain(fixture, partial, 3));
    assert_int_equal(simple_status(fixture), S_UNSUPP);
    struct buffer_spec none[] = {{DATA, 16, false}, {DATA + 0x8000, 1, true}};
    handle(fixture, make_chain(fixture, none, 2));
    assert_int_equal(simple_status(fixture), S_UNSUPP);
    for (unsigned s = 0; s < DISK_SECTORS; s++)
        assert_true(sector_is_original(fixture, s));

    /* A read-only disk refuses both as I/O errors. */
    open_disk(fixture, true);
    range_request(fixture, T_WRITE_ZEROES, 0, 1, 0);
    assert_int_equal(simple_status(fixture), S_IOERR);
    range_request(fixture, T_DISCARD, 0, 1, 0);
    assert_int_equal(simple_status(fixture), S_IOERR);
    assert_true(sector_is_original(fixture, 0));
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_open_errors),
        TEST(test_open_modes),
        TEST(test_open_failure_leaves_no_descriptor),
        TEST(test_config_layout),
        TEST(test_open_serial_is_file_name),
        TEST(test_open_locked),
        TEST(test_read),
        TEST(test_read_last_sector_and_status_in_data_buffer),
        TEST(test_write),
        TEST(test_write_read_only),
        TEST(test_beyond_capacity),
        TEST(test_partial_sector_lengths),
        TEST(test_flush),
        TEST(test_failed_flush_is_sticky),
        TEST(test_writethrough_without_flush_feature),
        TEST(test_empty_doorbells_cost_no_polling),
        TEST(test_get_id),
        TEST(test_unsupported_types),
        TEST(test_malformed_requests),
        TEST(test_header_split_across_buffers),
        TEST(test_write_zeroes),
        TEST(test_discard),
        TEST(test_bad_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
