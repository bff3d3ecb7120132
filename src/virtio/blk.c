#include "virtio/blk.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define SECTOR_SIZE 512ull

#define VIRTIO_BLK_F_SEG_MAX (1ull << 2)
#define VIRTIO_BLK_F_RO (1ull << 5)
#define VIRTIO_BLK_F_FLUSH (1ull << 9)
#define VIRTIO_BLK_F_DISCARD (1ull << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ull << 14)

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_WRITE_ZEROES_UNMAP 1u

/* Config space offsets (5.2.4). */
#define CONFIG_CAPACITY 0
#define CONFIG_SEG_MAX 12
#define CONFIG_MAX_DISCARD_SECTORS 36
#define CONFIG_MAX_DISCARD_SEG 40
#define CONFIG_DISCARD_SECTOR_ALIGNMENT 44
#define CONFIG_MAX_WRITE_ZEROES_SECTORS 48
#define CONFIG_MAX_WRITE_ZEROES_SEG 52
#define CONFIG_WRITE_ZEROES_MAY_UNMAP 56

/* Largest discard or write-zeroes range we accept in one segment. */
#define MAX_RANGE_SECTORS (1u << 22) /* 2 GiB */

struct __attribute__((packed)) virtio_blk_request_header {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

struct __attribute__((packed)) virtio_blk_range {
    uint64_t sector;
    uint32_t sectors;
    uint32_t flags;
};

static void put_le32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4); /* x86 hosts only: little-endian already */
}

/* Checks the opened image; returns -1 with error set (the caller closes). */
static int virtio_blk_check(struct virtio_blk *blk, const char *path, struct error *error)
{
    struct stat st;
    if (fstat(blk->fd, &st) < 0)
        return error_set(error, "%s: %s", path, strerror(errno));
    uint64_t bytes;
    if (S_ISREG(st.st_mode)) {
        bytes = (uint64_t)st.st_size;
        blk->can_discard = !blk->read_only;
    } else if (S_ISBLK(st.st_mode)) {
        if (ioctl(blk->fd, BLKGETSIZE64, &bytes) < 0)
            return error_set(error, "%s: cannot read the device size: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        return error_set(error, "%s: is a directory, not a disk image", path);
    } else {
        return error_set(error, "%s: not a regular file or block device", path);
    }
    if (bytes == 0)
        return error_set(error, "%s: disk image is empty", path);
    if (bytes % SECTOR_SIZE)
        return error_set(error, "%s: size %llu is not a multiple of 512 bytes", path,
                         (unsigned long long)bytes);
    /* Two writers corrupt an image; readers may share it. */
    if (flock(blk->fd, (blk->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
        return error_set(error, "%s: %s", path,
                         errno == EWOULDBLOCK
                             ? "locked: another guest (or another -b here) is using it"
                             : strerror(errno));
    blk->sectors = bytes / SECTOR_SIZE;
    return 0;
}

int virtio_blk_open(struct virtio_blk *blk, const char *path, bool read_only, unsigned index,
                    struct error *error)
{
    memset(blk, 0, sizeof(*blk));
    blk->fd = -1;
    blk->path = path;
    if (index >= 26)
        return error_set(error, "%s: too many disks (at most 26)", path);
    snprintf(blk->name, sizeof(blk->name), "vd%c", 'a' + index);
    /* A file the user may not write is a read-only disk, not an error. */
    if (!read_only && access(path, W_OK) != 0 && errno != ENOENT)
        read_only = true;
    blk->read_only = read_only;
    blk->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (blk->fd < 0 && errno == EISDIR)
        return error_set(error, "%s: is a directory, not a disk image", path);
    if (blk->fd < 0)
        return error_set(error, "%s: %s", path, strerror(errno));
    if (virtio_blk_check(blk, path, error)) {
        virtio_blk_close(blk);
        return -1;
    }
    /* The serial GET_ID returns: the file's name, as much as fits. */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t length = strlen(base);
    memcpy(blk->serial, base, length < sizeof(blk->serial) ? length : sizeof(blk->serial));
    return 0;
}

void virtio_blk_close(struct virtio_blk *blk)
{
    if (blk->fd >= 0)
        close(blk->fd);
    blk->fd = -1;
}

/* iovecs for bytes [offset, offset + length) of the chain's readable
 * (writable = false) or writable buffers; returns the iovec count. */
static int virtio_blk_iov(struct virtio_blk *blk, const struct virtq_chain *chain, bool writable,
                          uint64_t offset, uint64_t length)
{
    unsigned first = writable ? chain->readable_count : 0;
    unsigned end = writable ? chain->readable_count + chain->writable_count
                            : chain->readable_count;
    int count = 0;
    for (unsigned i = first; i < end && length; i++) {
        const struct virtq_buffer *buffer = &chain->buffers[i];
        if (offset >= buffer->length) {
            offset -= buffer->length;
            continue;
        }
        uint64_t take = buffer->length - offset;
        if (take > length)
            take = length;
        blk->iov[count++] = (struct iovec){(uint8_t *)buffer->host + offset, take};
        length -= take;
        offset = 0;
    }
    return count;
}

/* preadv/pwritev until done: short transfers and EINTR are retried. */
static int virtio_blk_transfer(struct virtio_blk *blk, int count, uint64_t position, bool write)
{
    struct iovec *iov = blk->iov;
    while (count > 0) {
        ssize_t done = write ? pwritev(blk->fd, iov, count, (off_t)position)
                             : preadv(blk->fd, iov, count, (off_t)position);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0)
            return -1;
        if (done == 0) {
            if (write)
                return -1;
            /* Past the end of a file that shrank under us: zeros. */
            for (int i = 0; i < count; i++)
                memset(iov[i].iov_base, 0, iov[i].iov_len);
            return 0;
        }
        position += (uint64_t)done;
        while (count > 0 && (uint64_t)done >= iov->iov_len) {
            done -= (ssize_t)iov->iov_len;
            iov++;
            count--;
        }
        if (count > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + done;
            iov->iov_len -= (size_t)done;
        }
    }
    return 0;
}

static bool virtio_blk_in_range(const struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
    uint64_t sectors = bytes / SECTOR_SIZE;
    return bytes % SECTOR_SIZE == 0 && sector <= blk->sectors && sectors <= blk->sectors - sector;
}

static uint8_t virtio_blk_zero_range(struct virtio_blk *blk, uint64_t sector, uint64_t sectors,
                                     bool unmap)
{
    off_t offset = (off_t)(sector * SECTOR_SIZE), length = (off_t)(sectors * SECTOR_SIZE);
    int mode = unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                     : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    if (fallocate(blk->fd, mode, offset, length) == 0)
        return VIRTIO_BLK_S_OK;
    if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
        return VIRTIO_BLK_S_IOERR;
    /* The file system cannot: write the zeros. */
    static const uint8_t zeros[64 * 1024];
    while (length > 0) {
        size_t chunk = length < (off_t)sizeof(zeros) ? (size_t)length : sizeof(zeros);
        ssize_t done = pwrite(blk->fd, zeros, chunk, offset);
        if (done < 0 && errno == EINTR)
            continue;
        if (done <= 0)
            return VIRTIO_BLK_S_IOERR;
        offset += done;
        length -= done;
    }
    return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: a list of ranges in the readable data. */
static uint8_t virtio_blk_ranges(struct virtio_blk *blk, const struct virtq_chain *chain,
                                 uint64_t data_bytes, uint32_t type)
{
    if (data_bytes == 0 || data_bytes % sizeof(struct virtio_blk_range) ||
        data_bytes / sizeof(struct virtio_blk_range) > 1)
        return VIRTIO_BLK_S_UNSUPP; /* we advertise one segment */
    struct virtio_blk_range range;
    virtq_chain_read(chain, sizeof(struct virtio_blk_request_header), &range, sizeof(range));
    if (range.sectors == 0 && virtio_blk_in_range(blk, range.sector, 0))
        return VIRTIO_BLK_S_OK; /* nothing to do */
    if (range.sectors > MAX_RANGE_SECTORS ||
        !virtio_blk_in_range(blk, range.sector, (uint64_t)range.sectors * SECTOR_SIZE))
        return VIRTIO_BLK_S_IOERR;
    if (type == VIRTIO_BLK_T_DISCARD) {
        if (range.flags)
            return VIRTIO_BLK_S_UNSUPP; /* reserved for discard */
        /* A discard is a hint; a file system without holes just keeps the data. */
        if (fallocate(blk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      (off_t)(range.sector * SECTOR_SIZE),
                      (off_t)((uint64_t)range.sectors * SECTOR_SIZE)) < 0 &&
            errno != EOPNOTSUPP)
            return VIRTIO_BLK_S_IOERR;
        return VIRTIO_BLK_S_OK;
    }
    if (range.flags & ~VIRTIO_BLK_WRITE_ZEROES_UNMAP)
        return VIRTIO_BLK_S_UNSUPP;
    return virtio_blk_zero_range(blk, range.sector, range.sectors,
                                 range.flags & VIRTIO_BLK_WRITE_ZEROES_UNMAP);
}

/* fdatasync, with its failure sticky: after the kernel reported a lost
 * write-back once, a second fdatasync succeeds though the data is gone. */
static bool virtio_blk_flush(struct virtio_blk *blk)
{
    if (blk->flush_failed)
        return false;
    if (fdatasync(blk->fd) == 0)
        return true;
    blk->flush_failed = true;
    log_message("%s: flush: %s; every later flush fails too (what it was to make durable may be "
                "lost)",
                blk->name, strerror(errno));
    return false;
}

uint32_t virtio_blk_handle_request(struct virtio_device *device, struct virtq_chain *chain)
{
    struct virtio_blk *blk = device->opaque;
    struct virtio_blk_request_header header;
    /* Every request has a 16-byte header to read and a status byte to write. */
    if (chain->readable_bytes < sizeof(header) || chain->writable_bytes < 1) {
        log_once("%s: request without a header or a status byte", blk->name);
        return 0;
    }
    virtq_chain_read(chain, 0, &header, sizeof(header));
    uint64_t status_offset = chain->writable_bytes - 1; /* last writable byte */
    uint64_t read_data = chain->readable_bytes - sizeof(header);
    uint8_t status = VIRTIO_BLK_S_OK;
    uint32_t written = 0; /* data bytes written for the driver, status excluded */

    switch (header.type) {
    case VIRTIO_BLK_T_IN: {
        uint64_t bytes = status_offset;
        if (!virtio_blk_in_range(blk, header.sector, bytes)) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        int count = virtio_blk_iov(blk, chain, true, 0, bytes);
        if (virtio_blk_transfer(blk, count, header.sector * SECTOR_SIZE, false) < 0) {
            log_once("%s: read: %s", blk->name, strerror(errno));
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        written = (uint32_t)bytes;
        break;
    }
    case VIRTIO_BLK_T_OUT: {
        if (blk->read_only || !virtio_blk_in_range(blk, header.sector, read_data)) {
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        int count = virtio_blk_iov(blk, chain, false, sizeof(header), read_data);
        if (virtio_blk_transfer(blk, count, header.sector * SECTOR_SIZE, true) < 0) {
            log_once("%s: write: %s", blk->name, strerror(errno));
            status = VIRTIO_BLK_S_IOERR;
            break;
        }
        /* A driver that declined F_FLUSH has no way to ask for durability:
         * it gets a write-through disk, every write on the disk before it
         * completes. */
        if (!virtio_device_has(device, VIRTIO_BLK_F_FLUSH)) {
            blk->writethrough_writes++;
            if (!virtio_blk_flush(blk))
                status = VIRTIO_BLK_S_IOERR;
        }
        break;
    }
    case VIRTIO_BLK_T_FLUSH:
        /* Data the guest flushed is on the disk before we say so. */
        if (!blk->read_only && !virtio_blk_flush(blk))
            status = VIRTIO_BLK_S_IOERR;
        break;
    case VIRTIO_BLK_T_GET_ID: {
        uint64_t room = status_offset < VIRTIO_BLK_ID_BYTES ? status_offset : VIRTIO_BLK_ID_BYTES;
        written = (uint32_t)virtq_chain_write(chain, 0, blk->serial, room);
        break;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        if (blk->read_only || !blk->can_discard)
            status = blk->read_only ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_UNSUPP;
        else
            status = virtio_blk_ranges(blk, chain, read_data, header.type);
        break;
    default:
        status = VIRTIO_BLK_S_UNSUPP;
        break;
    }
    virtq_chain_write(chain, status_offset, &status, 1);
    return written + 1;
}

static void virtio_blk_queue_notify(struct virtio_device *device, unsigned queue)
{
    struct virtio_blk *blk = device->opaque;
    virtio_device_serve_queue(device, queue, &blk->chain, virtio_blk_handle_request);
}

static const struct virtio_device_ops virtio_blk_ops = {
    .name = "virtio-blk",
    .device_id = VIRTIO_ID_BLOCK,
    .queue_count = 1,
    .queue_max_size = VIRTIO_BLK_QUEUE_SIZE,
    .queue_notify = virtio_blk_queue_notify,
    .thread_role = SANDBOX_DISK,
};

int virtio_blk_init(struct virtio_blk *blk, const struct guest_memory *memory,
                    struct error *error)
{
    uint64_t features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_FLUSH;
    if (blk->read_only)
        features |= VIRTIO_BLK_F_RO;
    if (blk->can_discard)
        features |= VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
    uint8_t *config = blk->config;
    memcpy(config + CONFIG_CAPACITY, &blk->sectors, 8);
    /* Two descriptors of every chain are the header and the status. */
    put_le32(config + CONFIG_SEG_MAX, VIRTIO_BLK_QUEUE_SIZE - 2);
    put_le32(config + CONFIG_MAX_DISCARD_SECTORS, MAX_RANGE_SECTORS);
    put_le32(config + CONFIG_MAX_DISCARD_SEG, 1);
    put_le32(config + CONFIG_DISCARD_SECTOR_ALIGNMENT, 8); /* 4 KiB: host pages */
    put_le32(config + CONFIG_MAX_WRITE_ZEROES_SECTORS, MAX_RANGE_SECTORS);
    put_le32(config + CONFIG_MAX_WRITE_ZEROES_SEG, 1);
    config[CONFIG_WRITE_ZEROES_MAY_UNMAP] = 1;
    return virtio_device_init(&blk->device, &virtio_blk_ops, blk, memory, blk->config,
                              sizeof(blk->config), features, error);
}
