/* The Zircon boot image (ZBI) format, and the 2017 "bootdata" format it grew
 * out of, as data structures.  Freestanding: only <stdint.h>, so that the
 * test kernels in tests/guests can include it too.  All fields are
 * little-endian.
 *
 * Sources: Fuchsia's zircon/boot/image.h (2018) and sdk/lib/zbi-format
 * (zbi.h, kernel.h, driver-config.h, graphics.h, memory.h,
 * internal/bootfs.h), and the bootdata.h headers of Magenta/Zircon in 2017.
 *
 * A container is a header (type ZBI_TYPE_CONTAINER, extra
 * ZBI_CONTAINER_MAGIC, length = the bytes after the header, a multiple of 8)
 * followed by items: a header, `length` bytes of payload, zero padding to a
 * multiple of 8.
 *
 * Header size: a header is 32 bytes when its flags have ZBI_FLAG_VERSION and
 * 16 bytes (type, length, extra, flags only) when they do not.  The 16-byte
 * form is the seed-era bootdata_t; the same bit was first the "EXTRA" flag
 * announcing the 16 bytes that complete today's header, then the required
 * "V2" flag, then ZBI_FLAG_VERSION.  src/boot/zbi.c says which combinations
 * are accepted. */
#ifndef GUEST_BOOT_ZBI_FORMAT_H
#define GUEST_BOOT_ZBI_FORMAT_H

#include <stdint.h>

struct zbi_header {
    uint32_t type;
    uint32_t length; /* payload bytes, without this header or the padding */
    uint32_t extra;  /* type-specific */
    uint32_t flags;
    uint32_t reserved0;
    uint32_t reserved1;
    uint32_t magic; /* ZBI_ITEM_MAGIC */
    uint32_t crc32; /* of the payload with ZBI_FLAG_CRC32, else ZBI_ITEM_NO_CRC32 */
};
_Static_assert(sizeof(struct zbi_header) == 32, "ZBI header is 32 bytes");

/* The seed-era header: the first four fields of struct zbi_header. */
#define ZBI_LEGACY_HEADER_SIZE 16u

#define ZBI_ALIGNMENT 8u
/* Division rather than a mask: ~(ZBI_ALIGNMENT - 1) would be a 32-bit mask
 * that clears the high half of a 64-bit n. */
#define ZBI_ALIGN(n) (((n) + (ZBI_ALIGNMENT - 1)) / ZBI_ALIGNMENT * ZBI_ALIGNMENT)

#define ZBI_CONTAINER_MAGIC 0x868cf7e6u /* low word of sha256("bootdata") */
#define ZBI_ITEM_MAGIC 0xb5781729u      /* low word of sha256("bootitem") */
#define ZBI_ITEM_NO_CRC32 0x4a87e8d6u   /* ~ZBI_ITEM_MAGIC */

#define ZBI_FLAG_VERSION 0x00010000u
#define ZBI_FLAG_CRC32 0x00020000u
/* STORAGE_* items: the payload is compressed; extra is the uncompressed size. */
#define ZBI_FLAG_STORAGE_COMPRESSED 0x00000001u

/* Item types: four ASCII characters, little-endian. */
#define ZBI_TYPE_CONTAINER 0x544f4f42u /* BOOT */

#define ZBI_TYPE_KERNEL_PREFIX 0x004e524bu /* KRN\0 */
#define ZBI_TYPE_KERNEL_MASK 0x00ffffffu
#define ZBI_TYPE_KERNEL_X64 0x4c4e524bu     /* KRNL */
#define ZBI_TYPE_KERNEL_ARM64 0x384e524bu   /* KRN8 */
#define ZBI_TYPE_KERNEL_RISCV64 0x564e524bu /* KRNV */
#define ZBI_IS_KERNEL_TYPE(type) (((type) & ZBI_TYPE_KERNEL_MASK) == ZBI_TYPE_KERNEL_PREFIX)

#define ZBI_TYPE_DISCARD 0x50494b53u          /* SKIP */
#define ZBI_TYPE_STORAGE_RAMDISK 0x4b534452u  /* RDSK */
#define ZBI_TYPE_STORAGE_BOOTFS 0x42534642u   /* BFSB */
#define ZBI_TYPE_CMDLINE 0x4c444d43u          /* CMDL: NUL-terminated UTF-8 */
#define ZBI_TYPE_CRASHLOG 0x4d4f4f42u         /* BOOM */
#define ZBI_TYPE_NVRAM 0x4c4c564eu            /* NVLL: struct zbi_nvram */
#define ZBI_TYPE_PLATFORM_ID 0x44494c50u      /* PLID: struct zbi_platform_id */
#define ZBI_TYPE_MEM_CONFIG 0x434d454du       /* MEMC */
#define ZBI_TYPE_KERNEL_DRIVER 0x5652444bu    /* KDRV: extra is a ZBI_KERNEL_DRIVER_* */
#define ZBI_TYPE_ACPI_RSDP 0x50445352u        /* RSDP: uint64_t physical address */
#define ZBI_TYPE_SMBIOS 0x49424d53u           /* SMBI: uint64_t physical address */
#define ZBI_TYPE_EFI_MEMORY_MAP 0x4d494645u   /* EFIM */
#define ZBI_TYPE_EFI_SYSTEM_TABLE 0x53494645u /* EFIS: uint64_t physical address */
#define ZBI_TYPE_E820_TABLE 0x30323845u       /* E820: struct zbi_e820_entry[] */
#define ZBI_TYPE_DEBUG_UART 0x54524155u       /* UART: the seed era's serial port item */
#define ZBI_TYPE_FRAMEBUFFER 0x42465753u      /* SWFB: struct zbi_framebuffer */

/* x86-64: the kernel image (container header, kernel item header, payload)
 * is loaded at this physical address; zbi_kernel.entry is absolute. */
#define ZBI_X64_KERNEL_LOAD_ADDRESS 0x100000ULL

/* The start of a KERNEL_* payload; the kernel image follows it. */
struct zbi_kernel {
    uint64_t entry;
    uint64_t reserve_memory_size; /* scratch needed right after the image */
};
_Static_assert(sizeof(struct zbi_kernel) == 16, "zbi_kernel_t is 16 bytes");

/* One E820 entry, packed: 20 bytes each, as the kernel reads them. */
struct __attribute__((packed)) zbi_e820_entry {
    uint64_t paddr;
    uint64_t length;
    uint32_t type;
};
_Static_assert(sizeof(struct zbi_e820_entry) == 20, "e820entry_t is 20 bytes");
#define ZBI_E820_RAM 1u
#define ZBI_E820_RESERVED 2u

/* KERNEL_DRIVER kinds (zbi_header.extra). */
#define ZBI_KERNEL_DRIVER_I8250_PIO_UART 0x30353238u    /* 8250 */
#define ZBI_KERNEL_DRIVER_I8250_MMIO32_UART 0x4d353238u /* 825M */
#define ZBI_KERNEL_DRIVER_I8250_MMIO8_UART 0x42353238u  /* 825B */

/* Payload of ZBI_KERNEL_DRIVER_I8250_PIO_UART. */
struct zbi_dcfg_simple_pio {
    uint16_t base;
    uint16_t reserved;
    uint32_t irq;
};
_Static_assert(sizeof(struct zbi_dcfg_simple_pio) == 8, "zbi_dcfg_simple_pio_t is 8 bytes");

/* Payload of the MMIO UART kinds. */
struct zbi_dcfg_simple {
    uint64_t mmio_phys;
    uint32_t irq;
    uint32_t reserved;
};
_Static_assert(sizeof(struct zbi_dcfg_simple) == 16, "zbi_dcfg_simple_t is 16 bytes");

struct zbi_framebuffer {
    uint64_t base; /* physical address */
    uint32_t width;
    uint32_t height;
    uint32_t stride; /* in pixels */
    uint32_t format; /* ZBI_PIXEL_FORMAT_*: bits 23:16 are the bytes per pixel */
};
_Static_assert(sizeof(struct zbi_framebuffer) == 24, "zbi_swfb_t is 24 bytes");
#define ZBI_PIXEL_FORMAT_NONE 0x00000000u
#define ZBI_PIXEL_FORMAT_RGB_565 0x00020001u
#define ZBI_PIXEL_FORMAT_RGB_332 0x00010002u
#define ZBI_PIXEL_FORMAT_RGB_2220 0x00010003u
#define ZBI_PIXEL_FORMAT_ARGB_8888 0x00040004u
#define ZBI_PIXEL_FORMAT_RGB_X888 0x00040005u
#define ZBI_PIXEL_FORMAT_MONO_8 0x00010007u

#define ZBI_BOARD_NAME_LENGTH 32
struct zbi_platform_id {
    uint32_t vid;
    uint32_t pid;
    char board_name[ZBI_BOARD_NAME_LENGTH];
};
_Static_assert(sizeof(struct zbi_platform_id) == 40, "zbi_platform_id_t is 40 bytes");

struct zbi_nvram {
    uint64_t base;
    uint64_t length;
};

/* BOOTFS, the payload of STORAGE_BOOTFS (when not compressed): a header,
 * directory entries (each 4-byte aligned), then the files' data, each at an
 * offset from the start of the payload that is a multiple of the page size
 * and padded with zeros to a page. */
#define ZBI_BOOTFS_MAGIC 0xa56d3ff9u /* low word of sha256("bootfs") */
#define ZBI_BOOTFS_PAGE_SIZE 4096u
#define ZBI_BOOTFS_PAGE_ALIGN(n)                                                                   \
    (((n) + (ZBI_BOOTFS_PAGE_SIZE - 1)) / ZBI_BOOTFS_PAGE_SIZE * ZBI_BOOTFS_PAGE_SIZE)
/* name_len counts the terminating NUL: 2 to 256. */
#define ZBI_BOOTFS_MAX_NAME_LENGTH 256u

struct zbi_bootfs_header {
    uint32_t magic;
    uint32_t dirsize; /* bytes of directory entries after this header */
    uint32_t reserved0;
    uint32_t reserved1;
};
_Static_assert(sizeof(struct zbi_bootfs_header) == 16, "bootfs header is 16 bytes");

struct zbi_bootfs_dirent {
    uint32_t name_len; /* with the NUL, without the padding */
    uint32_t data_len;
    uint32_t data_off; /* from the start of the BOOTFS payload */
    char name[];
};
_Static_assert(sizeof(struct zbi_bootfs_dirent) == 12, "bootfs dirent header is 12 bytes");
#define ZBI_BOOTFS_DIRENT_SIZE(name_len)                                                           \
    ((sizeof(struct zbi_bootfs_dirent) + (name_len) + 3) / 4 * 4)

#endif
