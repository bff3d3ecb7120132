/* The protocol probe: a freestanding test kernel, built as a 64-bit Zircon
 * (ZBI) kernel and as a 32-bit multiboot kernel from the same code, that
 * checks what the boot loader handed it and says so on the serial port,
 * one line per finding. README.md lists the lines. */
#ifndef PROBE_H
#define PROBE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define U64(x) ((unsigned long long)(x))
#define PAGE_SIZE 4096u
#define FOUR_GIB 0x100000000ULL

/* --- port and memory-mapped I/O ------------------------------------------ */

static inline void outb(uint16_t port, uint8_t value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline void outl(uint16_t port, uint32_t value)
{
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t value)
{
    __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t value;
    __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline uint64_t rdtsc(void)
{
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t)high << 32 | low;
}

/* A port access of 1, 2 or 4 bytes. */
static inline void port_write_width(uint16_t port, unsigned width, uint32_t value)
{
    if (width == 1)
        outb(port, (uint8_t)value);
    else if (width == 2)
        outw(port, (uint16_t)value);
    else
        outl(port, value);
}

static inline uint32_t port_read_width(uint16_t port, unsigned width)
{
    return width == 1 ? inb(port) : width == 2 ? inw(port) : inl(port);
}

/* Device registers in memory (BARs below 4 GiB, reachable directly). */
static inline uint8_t mmio_read8(uintptr_t address)
{
    return *(volatile uint8_t *)address;
}

static inline uint16_t mmio_read16(uintptr_t address)
{
    return *(volatile uint16_t *)address;
}

static inline uint32_t mmio_read32(uintptr_t address)
{
    return *(volatile uint32_t *)address;
}

static inline void mmio_write8(uintptr_t address, uint8_t value)
{
    *(volatile uint8_t *)address = value;
}

static inline void mmio_write16(uintptr_t address, uint16_t value)
{
    *(volatile uint16_t *)address = value;
}

static inline void mmio_write32(uintptr_t address, uint32_t value)
{
    *(volatile uint32_t *)address = value;
}

/* 64-bit registers as two 32-bit halves, low first, as the virtio spec allows. */
static inline void mmio_write64(uintptr_t address, uint64_t value)
{
    mmio_write32(address, (uint32_t)value);
    mmio_write32(address + 4, (uint32_t)(value >> 32));
}

/* Ordering between our stores to shared memory and the device's view of
 * them (the virtio spec's memory barriers). */
static inline void memory_barrier(void)
{
    __sync_synchronize();
}

/* Physical memory is reachable directly below 4 GiB in both builds: paging
 * is off in the 32-bit one, the boot loader identity-maps 4 GiB for the
 * 64-bit one. */
static inline bool phys_reachable(uint64_t address, uint64_t length)
{
    return address < FOUR_GIB && length <= FOUR_GIB - address;
}

static inline void *phys_ptr(uint64_t address)
{
    return (void *)(uintptr_t)address;
}

static inline uint16_t get16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t get32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t get64(const void *p)
{
    return get32(p) | (uint64_t)get32((const uint8_t *)p + 4) << 32;
}

/* --- uart.c: output and the verdict -------------------------------------- */

/* "probe: " and the formatted text and a newline. Formats: %c %s %d %u %x
 * %X, with an optional 0 flag and width, and ll for 64-bit values. */
void probe_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* A check: "probe: TEXT: ok" when passed, "probe: FAIL: TEXT" otherwise
 * (counted). Returns passed. */
bool check(bool passed, const char *format, ...) __attribute__((format(printf, 2, 3)));
/* A failed check with its own text: "probe: FAIL: TEXT". */
void fail(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* PREFIX, the formatted text and a newline: for kernels with lines of their
 * own (the chaos guest's "chaos: "). */
void uart_vprintf_line(const char *prefix, const char *format, va_list args);
/* How many checks have failed so far. */
unsigned probe_failures(void);
/* "probe: PASS" and power off, or "probe: FAILED N checks" and reset. */
__attribute__((noreturn)) void probe_finish(void);
/* At most max_length bytes of text (up to a NUL), with anything but
 * printable ASCII (and the double quote and backslash) as '?', and "..."
 * after it when cut short, in a static buffer: one use per line. */
const char *printable(const char *text, size_t max_length);

/* --- util.c ---------------------------------------------------------------- */

void *memset(void *destination, int value, size_t length);
void *memcpy(void *destination, const void *source, size_t length);
int memcmp(const void *a, const void *b, size_t length);
uint32_t crc32_update(uint32_t crc, const void *data, size_t length);
static inline uint32_t crc32(const void *data, size_t length)
{
    return crc32_update(0, data, length);
}

/* The memory map the boot loader gave (E820 or multiboot mmap), sorted as
 * given. Type 1 is RAM in both. */
struct memory_range {
    uint64_t start, end; /* end exclusive */
    uint32_t type;
};
#define MEMORY_MAP_MAX 128
extern struct memory_range memory_map[MEMORY_MAP_MAX];
extern unsigned memory_map_count;
/* Adds an entry (printed by the caller); false when the table is full. */
bool memory_map_add(uint64_t start, uint64_t length, uint32_t type);
/* One check line: entries non-empty, sorted and non-overlapping. */
bool memory_map_check_sane(const char *name);
/* True when RAM entries (adjacent ones together) cover [start, end). */
bool memory_map_is_ram(uint64_t start, uint64_t end);
/* Reads a multiboot memory map (length bytes at guest-physical address:
 * size-prefixed entries), printing each entry; false (after a FAIL line)
 * when an entry is malformed or the table is full. */
bool memory_map_read_multiboot(uint32_t address, uint32_t length);

/* --- acpi.c ---------------------------------------------------------------- */

/* Checks the RSDP at address and the RSDT or XSDT it points to; prints
 * "probe: rsdp ok" or FAIL lines. */
bool acpi_check_rsdp(uint64_t address);
/* Scans 0xe0000-0xfffff on 16-byte boundaries for "RSD PTR "; 0 if none. */
uint64_t acpi_find_rsdp(void);

/* --- zbi_walk.c ------------------------------------------------------------ */

/* What a walk over a ZBI container found. */
struct zbi_found {
    unsigned cmdline_count;
    const char *cmdline; /* the last one */
    uint32_t cmdline_length;
    unsigned e820_count; /* items */
    const uint8_t *e820;
    uint32_t e820_length;
    unsigned rsdp_count;
    uint64_t rsdp;
    unsigned uart_count; /* i8250 PIO UART kernel drivers */
    uint16_t uart_base;
    unsigned kernel_count; /* KERNEL_* items */
};

/* Checks the container header at `container` (available bytes from there:
 * `room`), then every item: prints one line each and lists CMDLINE, E820,
 * KERNEL_DRIVER and BOOTFS payloads. Returns the container's size (header
 * and items), or 0 when the header is bad. */
uint64_t zbi_walk(const uint8_t *container, uint64_t room, struct zbi_found *found);

/* --- pci_virtio_blk.c and gpt.c -------------------------------------------- */

/* Lists PCI bus 0 and, when there is a virtio-blk device, drives it and
 * checks the GPT on it; "probe: no disk" without one. */
void probe_pci_and_disk(void);

#define SECTOR_SIZE 512u
/* Reads `count` sectors from `sector` into buffer; false (with a FAIL
 * line) on an error. At most DISK_READ_MAX bytes at once. */
#define DISK_READ_MAX 4096u
bool disk_read(uint64_t sector, unsigned count, void *buffer);
/* Checks the GPT through disk_read; the disk has `capacity` sectors. */
void gpt_check(uint64_t capacity);

#endif
