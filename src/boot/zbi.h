/* Reading, checking and writing ZBI containers (and seed-era bootdata
 * ones): everything here is safe on hostile bytes.  The layout is in
 * boot/zbi_format.h; what counts as valid is described above zbi_check in
 * zbi.c. */
#ifndef GUEST_BOOT_ZBI_H
#define GUEST_BOOT_ZBI_H

#include <stddef.h>
#include <stdint.h>

#include "boot/zbi_format.h"
#include "error.h"

/* CRC-32 (IEEE, reflected, as zlib's crc32): zbi_crc32(0, data, n), and
 * zbi_crc32(previous, more, m) to continue. */
uint32_t zbi_crc32(uint32_t crc, const void *data, size_t length);

/* 32 when flags has ZBI_FLAG_VERSION, else 16 (a seed-era header).  Tells
 * the size of a container's own header too. */
size_t zbi_header_size(uint32_t flags);

/* Checks a container at data[0..size): its header, then every item.  Bytes
 * after the container are allowed (the caller decides).  On success
 * *container_size is the container header's size (32, or 16 for a seed-era
 * container) plus its length.  Errors name the item (1 is the first), its
 * offset and what is wrong. */
int zbi_check(const uint8_t *data, size_t size, size_t *container_size, struct error *error);

/* The crc32 that an item with the CRC32 flag must carry: that of its
 * payload, or for an extended item in a seed-era container, that of its
 * header with crc32 zeroed and its payload.  container is the container's
 * first byte, whose header tells its era. */
uint32_t zbi_item_crc32(const uint8_t *container, const struct zbi_header *header,
                        const uint8_t *payload);

struct zbi_iterator {
    const uint8_t *data;
    size_t end;
    size_t offset;
};

void zbi_iterator_init(struct zbi_iterator *it, const uint8_t *data, size_t container_size);

/* Meant for a checked container, though it never reads out of bounds on any
 * bytes: returns 1 with the item's header copied to *header (a 16-byte
 * header's missing fields read as zero), *payload pointing at its payload
 * and *item_offset its header's offset; 0 at the end. */
int zbi_iterator_next(struct zbi_iterator *it, struct zbi_header *header, const uint8_t **payload,
                      size_t *item_offset);

struct zbi_kernel_info {
    uint64_t entry;                 /* absolute physical address */
    uint64_t reserve_memory_size;   /* scratch the kernel needs right after its image */
    size_t kernel_size;             /* container header + kernel item header + payload: to load */
    size_t container_size;          /* the whole checked container */
    size_t first_item_after_kernel; /* ZBI_ALIGN(kernel_size), == container_size when none */
};

/* A bootable x86-64 kernel image: a checked container whose first item is
 * KERNEL_X64 with a struct zbi_kernel, its entry inside the kernel image
 * after that struct, loaded at ZBI_X64_KERNEL_LOAD_ADDRESS, and a reserve of
 * at most 1 GiB.  Other kernels (ARM64, RISC-V) are rejected by name. */
int zbi_parse_kernel(const uint8_t *data, size_t size, struct zbi_kernel_info *info,
                     struct error *error);

/* Writer.  buffer holds (or will hold) a container in capacity bytes; *used
 * is its current size. */
int zbi_init_container(uint8_t *buffer, size_t capacity, size_t *used, struct error *error);

/* A seed-era container (16-byte headers, flags 0), for kernels that predate
 * the ZBI; zbi_append then writes 16-byte item headers into it. */
int zbi_init_legacy_container(uint8_t *buffer, size_t capacity, size_t *used, struct error *error);

/* Appends an item (header with VERSION|flags, the payload, zero padding to
 * 8), computing crc32 when flags has ZBI_FLAG_CRC32, and updates the
 * container header's length.  In a seed-era container the header is the
 * 16-byte one, and CRC32 is refused (it has no field for it).  Fails with
 * no change if the item does not fit in capacity or the container would
 * pass 4 GiB. */
int zbi_append(uint8_t *buffer, size_t capacity, size_t *used, uint32_t type, uint32_t extra,
               uint32_t flags, const void *payload, uint32_t length, struct error *error);

/* The container at buffer now spans size bytes (its header included), for a
 * caller that copied checked items in after it: sets the header's length,
 * whichever era's header it has. */
void zbi_set_container_size(uint8_t *buffer, size_t size);

/* Printable name of a type: its four characters when they are printable
 * ASCII ("CMDL", "KRNL"), else "0x%08x".  out holds at least 16 bytes. */
const char *zbi_type_name(uint32_t type, char out[16]);

#endif
