/* The PC probe: what kernel test suites expect of QEMU's PC, checked from a
 * 32-bit multiboot kernel linked at 0x8000 (below 1 MiB).
 *   - its own image loaded whole below 1 MiB;
 *   - fw_cfg: the signature, the ID, the CPU count, the RAM size against
 *     the multiboot memory map, the file directory, etc/boot-cpus and
 *     etc/e820 (against the map), reads past the end and unknown selectors,
 *     and the same items again through the DMA interface;
 *   - every other CPU woken with INIT/SIPI/SIPI through the local APIC into
 *     a real-mode trampoline, and counted: as many as fw_cfg says, each
 *     local APIC ID once;
 *   - with "testdev" on the command line, pc-testdev: the scratch ports at
 *     every width, the page-flush port, an IRQ line through the IOAPIC to
 *     an interrupt (IRR, remote IRR, the handler, EOI), the scratch MMIO;
 *   - with "exit=V" (and "exit-port=P", "exit-width=1|2|4"), the verdict
 *     PASS ends the VM through the debug-exit port with V, instead of an
 *     ACPI poweroff; a failure still resets (exit status 3).
 * README.md lists the lines. */
#include "probe.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u
#define INFO_FLAGS 0
#define INFO_CMDLINE_ADDR 16
#define INFO_MMAP_LENGTH 44
#define INFO_MMAP_ADDR 48
#define INFO_CMDLINE (1u << 2)
#define INFO_MMAP (1u << 6)
#define ONE_MIB 0x100000u

/* fw_cfg's port interface. */
#define FW_CFG_SELECTOR 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_ID 0x0001
#define FW_CFG_RAM_SIZE 0x0003
#define FW_CFG_NB_CPUS 0x0005
#define FW_CFG_MAX_CPUS 0x000f
#define FW_CFG_FILE_DIR 0x0019
#define FW_CFG_DMA_PORT 0x514
#define FW_CFG_DMA_ERROR 0x01u
#define FW_CFG_DMA_READ 0x02u
#define FW_CFG_DMA_SELECT 0x08u

/* Local APIC (xAPIC, at its reset base) and IOAPIC registers. */
#define LAPIC_BASE 0xfee00000u
#define LAPIC_ID 0x020
#define LAPIC_TPR 0x080
#define LAPIC_SVR 0x0f0
#define LAPIC_ISR 0x100
#define LAPIC_IRR 0x200
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_MASKED (1u << 16)
#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_ASSERT (1u << 14)
#define ICR_DELIVERY_PENDING (1u << 12)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define IOAPIC_BASE 0xfec00000u
#define IOAPIC_REDIRECTION(pin) (0x10 + 2 * (pin))
#define IOAPIC_MASKED (1u << 16)
#define IOAPIC_LEVEL (1u << 15)
#define IOAPIC_REMOTE_IRR (1u << 14)

/* pc-testdev and the debug-exit port. */
#define TESTDEV_SCRATCH 0xe0
#define TESTDEV_FLUSH 0xe4
#define TESTDEV_SCRATCH_BYTES 0xe8
#define TESTDEV_IRQ_BASE 0x2000
#define TESTDEV_MMIO 0xff000000u
#define TESTDEV_MMIO_SIZE 0x10000u
#define TEST_IRQ_LINE 10 /* nothing else of a PC's uses it here */
#define TEST_VECTOR 0x40
#define SPURIOUS_VECTOR 0xff
#define DEBUG_EXIT_DEFAULT_PORT 0xf4

#define MAX_CPUS 64

/* From pc_probe.ld and pc_start32.S. */
extern char __image_start[], __image_end[], _end[], probe_trampoline[];
extern const volatile uint64_t probe_tail_marker;
void probe_irq_entry(void);
void probe_spurious_entry(void);
#define PROBE_TAIL_VALUE 0x444e452d45424f52ULL /* "ROBE-END" */

/* Shared with the trampoline and the interrupt stubs. */
volatile uint32_t probe_cpus_started;
volatile uint32_t probe_cpus_seen[MAX_CPUS / 32];
volatile uint32_t probe_irq_count, probe_spurious_count;
volatile uint32_t probe_irq_port;

void pc_probe_main(uint32_t magic, uint32_t info_address);

/* --- small helpers ---------------------------------------------------------- */

static uint32_t lapic_read(uint32_t reg) { return mmio_read32(LAPIC_BASE + reg); }
static void lapic_write(uint32_t reg, uint32_t value) { mmio_write32(LAPIC_BASE + reg, value); }

static uint32_t ioapic_read(uint32_t reg)
{
    mmio_write32(IOAPIC_BASE, reg);
    return mmio_read32(IOAPIC_BASE + 0x10);
}

static void ioapic_write(uint32_t reg, uint32_t value)
{
    mmio_write32(IOAPIC_BASE, reg);
    mmio_write32(IOAPIC_BASE + 0x10, value);
}

static bool lapic_vector_bit(uint32_t base, unsigned vector)
{
    return lapic_read(base + (vector / 32) * 0x10) >> (vector % 32) & 1;
}

static void delay_cycles(uint64_t cycles)
{
    uint64_t start = rdtsc();
    while (rdtsc() - start < cycles)
        __asm__ volatile("pause");
}

/* The CMOS clock's seconds: a wall-clock timeout that does not depend on
 * how fast the TSC runs under nested virtualization. */
static uint8_t rtc_seconds(void)
{
    outb(0x70, 0x00);
    return inb(0x71);
}

/* Waits until *value reaches target or about `seconds` seconds pass. */
static bool wait_for(volatile uint32_t *value, uint32_t target, unsigned seconds)
{
    uint8_t last = rtc_seconds();
    unsigned ticks = 0;
    while (*value < target && ticks <= seconds) {
        delay_cycles(100000);
        uint8_t now = rtc_seconds();
        if (now != last) {
            last = now;
            ticks++;
        }
    }
    return *value >= target;
}

static size_t string_length(const char *text)
{
    size_t length = 0;
    while (text[length])
        length++;
    return length;
}

static bool strings_equal(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* "key=value" on the command line (decimal or 0x hex); false if absent. */
static bool cmdline_number(const char *cmdline, const char *key, uint32_t *value)
{
    size_t key_length = string_length(key);
    for (const char *p = cmdline; p && *p; p++) {
        if ((p != cmdline && p[-1] != ' ') || memcmp(p, key, key_length) || p[key_length] != '=')
            continue;
        const char *digits = p + key_length + 1;
        uint32_t base = 10, result = 0;
        if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
            base = 16;
            digits += 2;
        }
        for (; *digits && *digits != ' '; digits++) {
            char c = *digits;
            uint32_t digit = c >= '0' && c <= '9'   ? (uint32_t)(c - '0')
                             : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
                             : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10)
                                                    : 99;
            if (digit >= base)
                return false;
            result = result * base + digit;
        }
        *value = result;
        return true;
    }
    return false;
}

static bool cmdline_word(const char *cmdline, const char *word)
{
    size_t length = string_length(word);
    for (const char *p = cmdline; p && *p; p++)
        if ((p == cmdline || p[-1] == ' ') && !memcmp(p, word, length) &&
            (p[length] == ' ' || p[length] == 0))
            return true;
    return false;
}

/* --- the image and the memory map --------------------------------------------- */

static void check_image(void)
{
    uint32_t start = (uint32_t)(uintptr_t)__image_start, end = (uint32_t)(uintptr_t)_end;
    probe_printf("image 0x%x-0x%x trampoline 0x%x", start, end,
                 (unsigned)(uintptr_t)probe_trampoline);
    check(end <= ONE_MIB, "kernel linked below 1 MiB");
    check(probe_tail_marker == PROBE_TAIL_VALUE, "kernel image loaded whole: 0x%x-0x%x", start,
          (unsigned)(uintptr_t)__image_end);
}

static void read_memory_map(const uint8_t *info)
{
    if (!check(get32(info + INFO_FLAGS) & INFO_MMAP, "memory map given (flag 6)"))
        return;
    uint32_t length = get32(info + INFO_MMAP_LENGTH), address = get32(info + INFO_MMAP_ADDR);
    if (!memory_map_read_multiboot(address, length))
        return;
    memory_map_check_sane("mmap");
    check(memory_map_is_ram((uintptr_t)__image_start, (uintptr_t)_end),
          "mmap RAM covers the kernel below 1 MiB");
}

/* --- fw_cfg -------------------------------------------------------------------- */

static void fw_cfg_select(uint16_t key)
{
    outw(FW_CFG_SELECTOR, key);
}

static void fw_cfg_read(void *buffer, uint32_t length)
{
    uint8_t *bytes = buffer;
    for (uint32_t i = 0; i < length; i++)
        bytes[i] = inb(FW_CFG_DATA);
}

static uint64_t fw_cfg_read_le(uint16_t key, unsigned length)
{
    uint8_t bytes[8] = {0};
    fw_cfg_select(key);
    fw_cfg_read(bytes, length);
    uint64_t value = 0;
    for (unsigned i = 0; i < length; i++)
        value |= (uint64_t)bytes[i] << (8 * i);
    return value;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

struct fw_cfg_file {
    uint32_t size;
    uint16_t select;
    char name[57];
};

/* Finds a file in the directory; false if it is not there. */
static bool fw_cfg_find_file(const char *name, struct fw_cfg_file *found)
{
    uint8_t count_bytes[4];
    fw_cfg_select(FW_CFG_FILE_DIR);
    fw_cfg_read(count_bytes, 4);
    uint32_t count = be32(count_bytes);
    for (uint32_t i = 0; i < count && i < 256; i++) {
        uint8_t entry[64];
        fw_cfg_read(entry, sizeof(entry));
        memcpy(found->name, entry + 8, 56);
        found->name[56] = 0;
        found->size = be32(entry);
        found->select = (uint16_t)(entry[4] << 8 | entry[5]);
        if (strings_equal(found->name, name))
            return true;
    }
    return false;
}

static uint32_t bswap32(uint32_t value)
{
    return value >> 24 | (value >> 8 & 0xff00) | (value << 8 & 0xff0000) | value << 24;
}

static struct {
    uint32_t control, length, address_high, address_low; /* big-endian */
} dma_descriptor __attribute__((aligned(16)));

/* One DMA read of `length` bytes of item `key` into buffer; returns the
 * descriptor's control afterwards (0: done). */
static uint32_t fw_cfg_dma_read(uint16_t key, void *buffer, uint32_t length)
{
    dma_descriptor.control = bswap32((uint32_t)key << 16 | FW_CFG_DMA_SELECT | FW_CFG_DMA_READ);
    dma_descriptor.length = bswap32(length);
    dma_descriptor.address_high = 0;
    dma_descriptor.address_low = bswap32((uint32_t)(uintptr_t)buffer);
    memory_barrier();
    outl(FW_CFG_DMA_PORT, 0);
    outl(FW_CFG_DMA_PORT + 4, bswap32((uint32_t)(uintptr_t)&dma_descriptor));
    memory_barrier();
    return bswap32(dma_descriptor.control);
}

static uint8_t dma_buffer[512];

static void check_fw_cfg_dma(uint32_t id, const struct fw_cfg_file *e820)
{
    if (!check(id & 2, "fw_cfg DMA interface offered (id bit 1)"))
        return;
    uint32_t high = bswap32(inl(FW_CFG_DMA_PORT)), low = bswap32(inl(FW_CFG_DMA_PORT + 4));
    check(high == 0x51454d55 && low == 0x20434647, "fw_cfg DMA register reads \"QEMU CFG\"");
    memset(dma_buffer, 0xee, sizeof(dma_buffer));
    uint32_t control = fw_cfg_dma_read(FW_CFG_SIGNATURE, dma_buffer, 6);
    check(control == 0 && !memcmp(dma_buffer, "QEMU\0\0", 6) && dma_buffer[6] == 0xee,
          "fw_cfg DMA read of the signature, zeros past its end (control 0x%x)", control);
    uint32_t cpus = 0;
    control = fw_cfg_dma_read(FW_CFG_NB_CPUS, &cpus, 2);
    probe_printf("fw_cfg DMA cpus %u", cpus);
    if (e820 && e820->size <= sizeof(dma_buffer)) {
        control = fw_cfg_dma_read(e820->select, dma_buffer, e820->size);
        bool same = control == 0 && e820->size / 20 == memory_map_count;
        for (uint32_t i = 0; same && i < memory_map_count; i++) {
            const uint8_t *entry = dma_buffer + 20 * i;
            same = get64(entry) == memory_map[i].start &&
                   get64(entry) + get64(entry + 8) == memory_map[i].end &&
                   get32(entry + 16) == memory_map[i].type;
        }
        check(same, "fw_cfg DMA read of etc/e820 is the memory map");
    }
    /* A target that is not RAM fails with the error bit, and harms nothing. */
    control = fw_cfg_dma_read(FW_CFG_SIGNATURE, phys_ptr(0xfec00000u), 4);
    check(control == FW_CFG_DMA_ERROR, "fw_cfg DMA to the IOAPIC's page fails (control 0x%x)",
          control);
}

/* Returns the CPU count fw_cfg gives (0 when fw_cfg is missing). */
static uint32_t check_fw_cfg(void)
{
    char signature[5] = {0};
    fw_cfg_select(FW_CFG_SIGNATURE);
    fw_cfg_read(signature, 4);
    if (!check(!memcmp(signature, "QEMU", 4), "fw_cfg signature \"%s\"", printable(signature, 4)))
        return 0;
    uint32_t id = (uint32_t)fw_cfg_read_le(FW_CFG_ID, 4);
    check(id & 1, "fw_cfg id 0x%x: traditional interface", id);
    uint32_t cpus = (uint32_t)fw_cfg_read_le(FW_CFG_NB_CPUS, 2);
    uint32_t max_cpus = (uint32_t)fw_cfg_read_le(FW_CFG_MAX_CPUS, 2);
    uint64_t ram = fw_cfg_read_le(FW_CFG_RAM_SIZE, 8);
    probe_printf("fw_cfg cpus %u max %u", cpus, max_cpus);
    probe_printf("fw_cfg ram 0x%llx", U64(ram));
    check(cpus >= 1 && cpus <= MAX_CPUS && max_cpus >= cpus, "fw_cfg cpu counts sane");

    /* The RAM size is the memory map's RAM plus what the BIOS area holds
     * back below 1 MiB (at most 1 MiB). */
    uint64_t mapped = 0;
    for (unsigned i = 0; i < memory_map_count; i++)
        if (memory_map[i].type == 1)
            mapped += memory_map[i].end - memory_map[i].start;
    check(ram >= mapped && ram - mapped <= ONE_MIB,
          "fw_cfg ram size matches the memory map (0x%llx of RAM mapped)", U64(mapped));

    /* The directory, then each file. */
    uint8_t count_bytes[4];
    fw_cfg_select(FW_CFG_FILE_DIR);
    fw_cfg_read(count_bytes, 4);
    uint32_t count = be32(count_bytes);
    probe_printf("fw_cfg files %u", count);
    check(count >= 1 && count <= 64, "fw_cfg directory has files");
    for (uint32_t i = 0; i < count && i < 64; i++) {
        uint8_t entry[64];
        fw_cfg_read(entry, sizeof(entry));
        char name[57];
        memcpy(name, entry + 8, 56);
        name[56] = 0;
        probe_printf("fw_cfg file \"%s\" size %u select 0x%x", printable(name, 56), be32(entry),
                     entry[4] << 8 | entry[5]);
    }

    struct fw_cfg_file file;
    if (check(fw_cfg_find_file("etc/boot-cpus", &file) && file.size == 2,
              "fw_cfg etc/boot-cpus, 2 bytes")) {
        uint32_t boot_cpus = (uint32_t)fw_cfg_read_le(file.select, 2);
        check(boot_cpus == cpus, "etc/boot-cpus %u is the CPU count", boot_cpus);
        /* Past the item's end the data port reads 0. */
        uint8_t past[4];
        fw_cfg_read(past, sizeof(past));
        check(!past[0] && !past[1] && !past[2] && !past[3], "fw_cfg reads 0 past an item's end");
    }
    struct fw_cfg_file e820;
    bool have_e820 = fw_cfg_find_file("etc/e820", &e820);
    file = e820;
    if (check(have_e820 && file.size % 20 == 0, "fw_cfg etc/e820, 20-byte entries")) {
        fw_cfg_select(file.select);
        bool same = file.size / 20 == memory_map_count;
        for (uint32_t i = 0; i < file.size / 20 && i < memory_map_count; i++) {
            uint8_t entry[20];
            fw_cfg_read(entry, sizeof(entry));
            uint64_t start = get64(entry), length = get64(entry + 8);
            uint32_t type = get32(entry + 16);
            same = same && start == memory_map[i].start &&
                   start + length == memory_map[i].end && type == memory_map[i].type;
        }
        check(same, "etc/e820 is the multiboot memory map (%u entries)", file.size / 20);
    }
    /* A selector nothing answers to reads as 0. */
    check(fw_cfg_read_le(0x7fff, 8) == 0, "fw_cfg unknown selector reads 0");
    check_fw_cfg_dma(id, have_e820 ? &e820 : NULL);
    return cpus;
}

/* --- INIT/SIPI/SIPI -------------------------------------------------------------- */

static void lapic_send_ipi(uint32_t command)
{
    lapic_write(LAPIC_ICR_HIGH, 0);
    lapic_write(LAPIC_ICR_LOW, command);
    for (unsigned i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LOW) & ICR_DELIVERY_PENDING); i++)
        __asm__ volatile("pause");
}

static void check_cpus(uint32_t cpus)
{
    uint32_t self = lapic_read(LAPIC_ID) >> 24;
    probe_printf("boot cpu apic id %u", self);
    uint32_t vector = (uint32_t)(uintptr_t)probe_trampoline >> 12;
    /* The universal start-up sequence: INIT, 10 ms, SIPI, 200 us, SIPI, to
     * every CPU but this one. */
    lapic_send_ipi(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT);
    delay_cycles(20000000);
    lapic_send_ipi(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_STARTUP | vector);
    delay_cycles(400000);
    lapic_send_ipi(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_STARTUP | vector);
    uint32_t others = cpus ? cpus - 1 : 0;
    wait_for(&probe_cpus_started, others, 20);
    /* Give a CPU too many a moment to show up too. */
    delay_cycles(20000000);
    uint32_t started = probe_cpus_started;
    probe_printf("cpus started %u of %u", started + 1, cpus);
    check(started == others, "every other CPU ran the trampoline (%u)", started);
    bool ids_right = !(probe_cpus_seen[self / 32] >> (self % 32) & 1);
    unsigned seen = 0;
    for (unsigned id = 0; id < MAX_CPUS; id++)
        if (probe_cpus_seen[id / 32] >> (id % 32) & 1)
            seen++;
    check(ids_right && seen == started, "each started CPU has its own local APIC ID");
}

/* --- pc-testdev -------------------------------------------------------------------- */

static void check_scratch_ports(void)
{
    outl(TESTDEV_SCRATCH, 0x12345678);
    bool ok = inl(TESTDEV_SCRATCH) == 0x12345678 && inb(TESTDEV_SCRATCH + 1) == 0x56 &&
              inw(TESTDEV_SCRATCH + 2) == 0x1234;
    outw(TESTDEV_SCRATCH + 2, 0xabcd);
    ok = ok && inl(TESTDEV_SCRATCH) == 0xabcd5678;
    outb(TESTDEV_SCRATCH + 1, 0x99);
    ok = ok && inl(TESTDEV_SCRATCH) == 0xabcd9978;
    check(ok, "testdev scratch port 0xe0, 1/2/4-byte accesses");
    /* 0xe8 is the same register through byte-wide ports. */
    outb(TESTDEV_SCRATCH_BYTES + 3, 0x01);
    ok = inl(TESTDEV_SCRATCH) == 0x01cd9978 && inb(TESTDEV_SCRATCH_BYTES) == 0x78;
    outl(TESTDEV_SCRATCH_BYTES, 0xcafef00d);
    ok = ok && inl(TESTDEV_SCRATCH) == 0xcafef00d && inw(TESTDEV_SCRATCH_BYTES + 2) == 0xcafe;
    check(ok, "testdev scratch port 0xe8 is the same register");
}

static uint8_t flush_page[4096] __attribute__((aligned(4096)));

static void check_page_flush(void)
{
    for (unsigned i = 0; i < sizeof(flush_page); i++)
        flush_page[i] = (uint8_t)(i * 13 + 1);
    outl(TESTDEV_FLUSH, (uint32_t)(uintptr_t)flush_page);
    bool kept = true;
    for (unsigned i = 0; i < sizeof(flush_page); i++)
        kept = kept && flush_page[i] == (uint8_t)(i * 13 + 1);
    flush_page[100] = 0x77;
    check(kept && flush_page[100] == 0x77, "testdev page flush keeps the page's bytes");
}

static struct __attribute__((packed)) {
    uint32_t low, high;
} idt[256] __attribute__((aligned(8)));

static void idt_set(unsigned vector, void (*handler)(void))
{
    uint32_t address = (uint32_t)(uintptr_t)handler;
    idt[vector].low = 0x08u << 16 | (address & 0xffff);
    idt[vector].high = (address & 0xffff0000u) | 0x8e00; /* present, 32-bit interrupt gate */
}

static void check_irq_line(void)
{
    /* Only the IOAPIC delivers: the 8259s and the local APIC's LINT0
     * (virtual wire to the 8259s) are masked. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    lapic_write(LAPIC_LVT_LINT0, lapic_read(LAPIC_LVT_LINT0) | LAPIC_LVT_MASKED);
    lapic_write(LAPIC_SVR, 0x100 | SPURIOUS_VECTOR);
    lapic_write(LAPIC_TPR, 0);
    idt_set(TEST_VECTOR, probe_irq_entry);
    idt_set(SPURIOUS_VECTOR, probe_spurious_entry);
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } descriptor = {sizeof(idt) - 1, (uint32_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(descriptor));

    uint16_t port = TESTDEV_IRQ_BASE + TEST_IRQ_LINE;
    probe_irq_port = port;
    uint32_t entry = IOAPIC_REDIRECTION(TEST_IRQ_LINE);
    uint32_t apic_id = lapic_read(LAPIC_ID) >> 24;
    ioapic_write(entry + 1, apic_id << 24);

    /* Masked: a raised and lowered line leaves nothing behind. */
    ioapic_write(entry, IOAPIC_MASKED | IOAPIC_LEVEL | TEST_VECTOR);
    outb(port, 1);
    outb(port, 0);
    ioapic_write(entry, IOAPIC_LEVEL | TEST_VECTOR);
    bool quiet = !(ioapic_read(entry) & IOAPIC_REMOTE_IRR) &&
                 !lapic_vector_bit(LAPIC_IRR, TEST_VECTOR);
    check(quiet, "testdev IRQ %u lowered: nothing pending", TEST_IRQ_LINE);

    /* Raised with interrupts off: the IOAPIC has delivered (remote IRR) and
     * the local APIC holds it (IRR). */
    outb(port, 1);
    bool pending = (ioapic_read(entry) & IOAPIC_REMOTE_IRR) &&
                   lapic_vector_bit(LAPIC_IRR, TEST_VECTOR);
    check(pending, "testdev IRQ %u raised: IOAPIC remote IRR and local APIC IRR set",
          TEST_IRQ_LINE);
    /* Interrupts on: the handler runs once, lowers the line, EOIs. */
    __asm__ volatile("sti");
    wait_for(&probe_irq_count, 1, 5);
    delay_cycles(2000000);
    __asm__ volatile("cli");
    uint32_t count = probe_irq_count;
    check(count == 1, "testdev IRQ %u delivered vector 0x%x once (%u)", TEST_IRQ_LINE,
          TEST_VECTOR, count);
    bool done = !(ioapic_read(entry) & IOAPIC_REMOTE_IRR) &&
                !lapic_vector_bit(LAPIC_ISR, TEST_VECTOR) &&
                !lapic_vector_bit(LAPIC_IRR, TEST_VECTOR);
    check(done, "after EOI: remote IRR, ISR and IRR clear");
    ioapic_write(entry, IOAPIC_MASKED | IOAPIC_LEVEL | TEST_VECTOR);
}

static void check_scratch_mmio(void)
{
    volatile uint32_t *words = phys_ptr(TESTDEV_MMIO);
    volatile uint16_t *halves = phys_ptr(TESTDEV_MMIO);
    volatile uint8_t *bytes = phys_ptr(TESTDEV_MMIO);
    for (uint32_t offset = 0; offset < TESTDEV_MMIO_SIZE; offset += 64)
        words[offset / 4] = offset * 2654435761u;
    bool same = true;
    for (uint32_t offset = 0; offset < TESTDEV_MMIO_SIZE; offset += 64)
        same = same && words[offset / 4] == offset * 2654435761u;
    check(same, "testdev scratch MMIO holds what was written (every 64th byte of 64 KiB)");
    /* A 2-byte write into the upper half of a word leaves its lower half. */
    words[1] = 0x11223344;
    halves[3] = 0xa5b6;
    bytes[TESTDEV_MMIO_SIZE - 1] = 0x5a;
    check(bytes[4] == 0x44 && bytes[7] == 0xa5 && halves[2] == 0x3344 &&
              words[1] == 0xa5b63344 && bytes[6] == 0xb6 && bytes[TESTDEV_MMIO_SIZE - 1] == 0x5a,
          "testdev scratch MMIO, 1/2/4-byte accesses");
    /* And it is 64 KiB: the next byte belongs to nothing. */
    check(*(volatile uint32_t *)phys_ptr(TESTDEV_MMIO + TESTDEV_MMIO_SIZE) == 0xffffffffu,
          "nothing past the scratch MMIO's 64 KiB");
}

static void check_test_devices(void)
{
    /* Without the device the port reads as all ones. */
    outl(TESTDEV_SCRATCH, 0);
    if (!check(inl(TESTDEV_SCRATCH) == 0, "testdev present at 0xe0"))
        return;
    check_scratch_ports();
    check_page_flush();
    check_irq_line();
    check_scratch_mmio();
}

/* --- the end ------------------------------------------------------------------------ */

static void debug_exit(uint16_t port, uint32_t width, uint32_t value)
{
    probe_printf("debug-exit 0x%x to port 0x%x, %u bytes", value, port, width);
    port_write_width(port, width, value);
    delay_cycles(200000000);
    fail("the debug-exit write did not end the VM");
}

void pc_probe_main(uint32_t magic, uint32_t info_address)
{
    probe_printf("protocol multiboot pc");
    check(magic == MULTIBOOT_BOOTLOADER_MAGIC, "EAX 0x%x is the multiboot magic", magic);
    check_image();
    const char *cmdline = "";
    if (magic == MULTIBOOT_BOOTLOADER_MAGIC && info_address) {
        const uint8_t *info = phys_ptr(info_address);
        if (get32(info + INFO_FLAGS) & INFO_CMDLINE)
            cmdline = phys_ptr(get32(info + INFO_CMDLINE_ADDR));
        probe_printf("cmdline \"%s\"", printable(cmdline, 4096));
        read_memory_map(info);
    }
    uint32_t cpus = check_fw_cfg();
    check_cpus(cpus);
    if (cmdline_word(cmdline, "testdev"))
        check_test_devices();

    uint32_t value, port = DEBUG_EXIT_DEFAULT_PORT, width = 4;
    if (cmdline_number(cmdline, "exit", &value) && probe_failures() == 0) {
        cmdline_number(cmdline, "exit-port", &port);
        cmdline_number(cmdline, "exit-width", &width);
        probe_printf("PASS");
        debug_exit((uint16_t)port, width, value);
    }
    probe_finish();
}
