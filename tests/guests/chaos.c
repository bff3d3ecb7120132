/* The chaos guest: a freestanding kernel that attacks every device the VMM
 * gives it for N seconds, from a seed, while it keeps one well-behaved path
 * (a disk it never attacks, and the UART) working and checked.  The VMM must
 * survive it: tests/integration/chaos.sh runs it under build/guest-asan.
 *
 * A 32-bit multiboot kernel (chaos_start.S, multiboot.ld): paging off, so
 * physical addresses are pointers, and every BAR this VMM places is 32-bit,
 * below 4 GiB.  Interrupts stay off for the whole run: everything is polled,
 * so an MSI a device raises (even to a vector we never set up) changes
 * nothing.  tests/guests/README.md lists the command line and the lines.
 *
 * What a device may write (a writable buffer, a DMA target) is only ever in
 * the pool (the arena at the top of RAM, but for its slabs and top MiB), in
 * low memory, or outside RAM; what it reads as descriptors or page numbers
 * only ever what this guest wrote there: never this image, which is the
 * attacker and must outlive the attack (safe_address, desc_store, the
 * balloon's words). */
#include "probe.h"

#define ARENA_SIZE (32u << 20)
/* The arena's top MiB: what the balloon reads (its rings and page lists).
 * No device is ever given it as writable and no page list names it, so a
 * page list never turns into random page numbers (which could name this
 * image's pages: the balloon would then discard our own code). */
#define PROTECTED_SIZE (1u << 20)
/* Its top quarter: the page lists themselves, which hold only words that
 * make page numbers a balloon may be given (pool pages, low memory, outside
 * RAM) at any byte offset (balloon_words_choose).  Below them, the
 * balloon's rings: what it may write (its used rings) and its descriptor
 * tables, never read as page lists. */
#define LISTS_SIZE (256u << 10)
#define SLAB_SIZE (512u << 10) /* per device: its queues' rings and tables */
/* Per queue in a slab: its descriptor table (+0), avail ring (+0x4000), used
 * ring (+0x5000), indirect tables (+0x8000) and the flood's requests
 * (+0xc000).  No device may write a slab but for its used rings: what a
 * device reads as descriptors is only ever a table we wrote, never what a
 * device (or fw_cfg, or the VMM at boot) left in memory, which can hold
 * addresses of this image (the multiboot memory map's 0x100000, an e820
 * table).  Request headers go to the pool: junk there is just a bad
 * request. */
#define QUEUE_AREA (64u << 10)
#define AREA_TABLES 0x8000u
#define AREA_HEADERS 0xc000u
#define MAX_DEVICES 24
#define MAX_QUEUES 8
/* Low memory is disposable once the command line is read, but for its first
 * 64 KiB: zeroed at the start and never given to a device to write, since a
 * queue enabled before its addresses are set has its rings at 0, where a
 * device would read its descriptors from. */
#define LOW_MEMORY_START 0x10000u
#define LOW_MEMORY_END 0x9f000u

#define COM1 0x3f8
#define LINE_STATUS (COM1 + 5)
#define LINE_STATUS_DATA_READY 0x01
#define LINE_STATUS_THR_EMPTY 0x20

#define PCI_ADDRESS_PORT 0xcf8
#define PCI_DATA_PORT 0xcfc
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_BUS_MASTER 0x4
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11
#define PCI_WINDOW_START 0xc0000000u
#define PCI_WINDOW_END 0xfec00000u

#define VIRTIO_VENDOR 0x1af4
#define PVPANIC_ID (0x0011u << 16 | 0x1b36u)

enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4, CAP_PCI_CFG = 5 };
enum {
    COMMON_DEVICE_FEATURE_SELECT = 0x00,
    COMMON_DEVICE_FEATURE = 0x04,
    COMMON_DRIVER_FEATURE_SELECT = 0x08,
    COMMON_DRIVER_FEATURE = 0x0c,
    COMMON_CONFIG_MSIX_VECTOR = 0x10,
    COMMON_NUM_QUEUES = 0x12,
    COMMON_DEVICE_STATUS = 0x14,
    COMMON_CONFIG_GENERATION = 0x15,
    COMMON_QUEUE_SELECT = 0x16,
    COMMON_QUEUE_SIZE = 0x18,
    COMMON_QUEUE_MSIX_VECTOR = 0x1a,
    COMMON_QUEUE_ENABLE = 0x1c,
    COMMON_QUEUE_NOTIFY_OFF = 0x1e,
    COMMON_QUEUE_DESC = 0x20,
    COMMON_QUEUE_DRIVER = 0x28,
    COMMON_QUEUE_DEVICE = 0x30,
    COMMON_SIZE = 0x38,
};
#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8

#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define DESC_F_INDIRECT 4
#define F_INDIRECT_DESC (1u << 28)
#define F_EVENT_IDX (1u << 29)
#define F_VERSION_1_HIGH 1u

enum {
    ID_NET = 1,
    ID_BLOCK = 2,
    ID_CONSOLE = 3,
    ID_RNG = 4,
    ID_BALLOON = 5,
    ID_GPU = 16,
    ID_INPUT = 18,
};

/* --- output ---------------------------------------------------------------- */

static void say(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    uart_vprintf_line("chaos: ", format, args);
    va_end(args);
}

static unsigned failures;

static void say_fail(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void say_fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    uart_vprintf_line("chaos: FAIL: ", format, args);
    va_end(args);
    failures++;
}

__attribute__((noreturn)) static void power_off(void)
{
    outb(0x600, 0x20 | 5 << 2); /* ACPI S5 (SLP_EN | SLP_TYP 5): exit status 0 */
    for (;;)
        __asm__ volatile("cli; hlt");
}

__attribute__((noreturn)) static void reset(void)
{
    outb(0x602, 0x01); /* ACPI reset: exit status 3, a failed run */
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* --- exceptions (chaos_start.S) -------------------------------------------- */

struct chaos_frame {
    uint32_t edi, esi, ebp, esp, ebx, edx, ecx, eax;
    uint32_t vector, error_code, eip, cs, eflags;
};

extern const uint8_t chaos_exception_stubs[];
extern void chaos_other_vector(void);
volatile uint32_t chaos_nmi_count, chaos_other_vector_count;
void chaos_exception(struct chaos_frame *frame);

void chaos_exception(struct chaos_frame *frame)
{
    uint32_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    say_fail("exception %u error 0x%x at eip 0x%x (cr2 0x%x, eax 0x%x): the guest died", frame->vector,
             frame->error_code, frame->eip, cr2, frame->eax);
    reset();
}

static uint64_t idt[256] __attribute__((aligned(8)));

static void idt_install(void)
{
    for (unsigned vector = 0; vector < 256; vector++) {
        uint32_t handler = vector < 32 ? (uint32_t)(uintptr_t)(chaos_exception_stubs + 16 * vector)
                                       : (uint32_t)(uintptr_t)chaos_other_vector;
        /* A 32-bit interrupt gate, present, DPL 0, selector 0x08. */
        idt[vector] = (uint64_t)(handler & 0xffff) | 0x08u << 16 | (uint64_t)0x8e00 << 32 |
                      (uint64_t)(handler >> 16) << 48;
    }
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } descriptor = {sizeof(idt) - 1, (uint32_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(descriptor));
}

/* --- the seeded generator (splitmix64) ------------------------------------- */

static uint64_t rng_state;

static uint64_t random64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t random32(void)
{
    return (uint32_t)(random64() >> 32);
}

/* Uniform in [0, bound) without a 64-bit division (none in the 32-bit
 * build); bound 0 gives 0. */
static uint32_t below(uint32_t bound)
{
    return (uint32_t)(((uint64_t)random32() * bound) >> 32);
}

static bool chance(unsigned percent)
{
    return below(100) < percent;
}

/* The values that find bugs: edges of every width, then anything. */
static uint32_t interesting32(void)
{
    static const uint32_t values[] = {0,          1,          2,          3,          4,
                                      7,          8,          15,         16,         0x3f,
                                      0x40,       0x7f,       0x80,       0xff,       0x100,
                                      0x1ff,      0x200,      0x3ff,      0x400,      0x401,
                                      0xfff,      0x1000,     0x7fff,     0x8000,     0xfffe,
                                      0xffff,     0x10000,    0x7fffffff, 0x80000000, 0xfffffffe,
                                      0xffffffff, 0xffff0000, 0x00ff00ff};
    if (chance(40))
        return random32();
    return values[below(sizeof(values) / sizeof(values[0]))];
}

static uint64_t interesting64(void)
{
    if (chance(20))
        return random64();
    if (chance(15))
        return (uint64_t)interesting32() << 32 | interesting32();
    return interesting32();
}

/* --- time: the TSC, calibrated against the RTC's periodic flag ------------ */

static uint64_t tsc_per_ms = 1000000; /* until calibrated: a 1 GHz guess */

static uint8_t cmos_read(uint8_t index)
{
    outb(0x70, index);
    return inb(0x71);
}

/* elapsed / divisor for a small divisor, without libgcc's 64-bit division. */
static uint64_t divide(uint64_t value, uint32_t divisor)
{
    uint64_t quotient = 0;
    for (int bit = 63; bit >= 0; bit--)
        if ((quotient | 1ull << bit) * divisor <= value && !((quotient | 1ull << bit) >> 40))
            quotient |= 1ull << bit;
    return quotient;
}

static void tsc_calibrate(void)
{
    /* Rate 10: a periodic flag (register C bit 6) every 1/64 s, which a
     * read of register C clears.  Four periods from an edge: 62.5 ms. */
    outb(0x70, 0x0a);
    outb(0x71, 0x2a);
    cmos_read(0x0c);
    uint64_t start = 0, limit = rdtsc();
    unsigned edges = 0;
    while (edges < 5 && rdtsc() - limit < (1ull << 36)) {
        if (cmos_read(0x0c) & 0x40) {
            if (edges++ == 0)
                start = rdtsc();
        }
    }
    uint64_t elapsed = rdtsc() - start;
    outb(0x70, 0x0a);
    outb(0x71, 0x26); /* the usual 1024 Hz */
    if (edges == 5 && elapsed > 1000000) {
        tsc_per_ms = divide(elapsed * 2, 125); /* elapsed / 62.5 */
        return;
    }
    say("the RTC's periodic flag did not come: assuming a 1 GHz TSC");
}

static uint64_t now_ms(void)
{
    uint64_t t = rdtsc(), ms = 0;
    /* t / tsc_per_ms by shift-and-subtract: no 64-bit division here. */
    uint64_t divisor = tsc_per_ms;
    int shift = 0;
    while (!(divisor >> 63) && (divisor << 1) <= t) {
        divisor <<= 1;
        shift++;
    }
    for (; shift >= 0; shift--, divisor >>= 1)
        if (t >= divisor) {
            t -= divisor;
            ms |= 1ull << shift;
        }
    return ms;
}

/* --- register access --------------------------------------------------------- */

static uint32_t pci_address(unsigned slot, unsigned offset)
{
    return 0x80000000u | slot << 11 | (offset & 0xfc);
}

static uint32_t pci_read32(unsigned slot, unsigned offset)
{
    outl(PCI_ADDRESS_PORT, pci_address(slot, offset));
    return inl(PCI_DATA_PORT);
}

static void pci_write32(unsigned slot, unsigned offset, uint32_t value)
{
    outl(PCI_ADDRESS_PORT, pci_address(slot, offset));
    outl(PCI_DATA_PORT, value);
}

static void pci_write16(unsigned slot, unsigned offset, uint16_t value)
{
    outl(PCI_ADDRESS_PORT, pci_address(slot, offset));
    outw((uint16_t)(PCI_DATA_PORT + (offset & 2)), value);
}

static void pci_write_width(unsigned slot, unsigned offset, unsigned width, uint32_t value)
{
    outl(PCI_ADDRESS_PORT, pci_address(slot, offset));
    port_write_width((uint16_t)(PCI_DATA_PORT + (offset & 3)), width, value);
}

static uint32_t pci_read_width(unsigned slot, unsigned offset, unsigned width)
{
    outl(PCI_ADDRESS_PORT, pci_address(slot, offset));
    return port_read_width((uint16_t)(PCI_DATA_PORT + (offset & 3)), width);
}

static void write_width(uint32_t address, unsigned width, uint32_t value)
{
    if (width == 1)
        mmio_write8(address, (uint8_t)value);
    else if (width == 2)
        mmio_write16(address, (uint16_t)value);
    else
        mmio_write32(address, value);
}

static uint32_t read_width(uint32_t address, unsigned width)
{
    return width == 1 ? mmio_read8(address) : width == 2 ? mmio_read16(address)
                                                        : mmio_read32(address);
}

static unsigned random_width(void)
{
    return 1u << below(3);
}

/* --- what the machine has ---------------------------------------------------- */

struct device {
    unsigned slot;
    unsigned type; /* virtio device id */
    const char *name;
    uint32_t bar0, bar0_size;
    uint32_t common, notify, isr, config;
    uint32_t config_length, notify_multiplier, notify_length;
    unsigned cfg_cap, msix_cap;
    uint32_t msix_table, pba;
    unsigned msix_vectors;
    unsigned queue_count;
    uint16_t queue_max[MAX_QUEUES];
    uint32_t features[2];
    uint32_t slab;
    bool check_disk;
};

static struct device devices[MAX_DEVICES];
static unsigned device_count;
static unsigned attackable[MAX_DEVICES]; /* indexes into devices */
static unsigned attackable_count;
static struct device *check_disk;
static uint32_t pvpanic_bar; /* its register ends the VM: sanitized */
static unsigned pvpanic_slot;
static uint32_t ram_top, arena, pool, pool_end, protected_area, lists;

static struct {
    uint64_t seed;
    uint32_t seconds;
    bool flood;
    bool echo_only; /* flood mode with no queue filled: the timings' baseline */
    bool verbose;
    bool no_second_cpu;
    uint32_t check_every;
    char skip[256];
    char skip_devices[128];
} options = {.seconds = 10, .check_every = 16};

static void watch(const char *where);

static const char *virtio_name(unsigned type)
{
    switch (type) {
    case ID_NET: return "net";
    case ID_BLOCK: return "blk";
    case ID_CONSOLE: return "console";
    case ID_RNG: return "rng";
    case ID_BALLOON: return "balloon";
    case ID_GPU: return "gpu";
    case ID_INPUT: return "input";
    default: return "virtio";
    }
}

/* Is `word` one of the comma-separated words in `list`? */
static bool listed(const char *list, const char *word)
{
    size_t length = 0;
    while (word[length])
        length++;
    for (const char *p = list; *p;) {
        const char *end = p;
        while (*end && *end != ',')
            end++;
        if ((size_t)(end - p) == length && memcmp(p, word, length) == 0)
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

/* --- the command line ----------------------------------------------------- */

static uint64_t parse_number(const char *p, const char **end)
{
    uint64_t value = 0;
    unsigned base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (;; p++) {
        unsigned digit;
        if (*p >= '0' && *p <= '9')
            digit = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            digit = (unsigned)(*p - 'a' + 10);
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            digit = (unsigned)(*p - 'A' + 10);
        else
            break;
        value = value * base + digit;
    }
    *end = p;
    return value;
}

static bool starts_with(const char *text, const char *prefix)
{
    while (*prefix)
        if (*text++ != *prefix++)
            return false;
    return true;
}

static void copy_word(char *destination, size_t size, const char *source)
{
    size_t i = 0;
    for (; i + 1 < size && source[i] && source[i] != ' '; i++)
        destination[i] = source[i];
    destination[i] = 0;
}

static bool parse_command_line(const char *line)
{
    bool seeded = false;
    for (const char *p = line; *p;) {
        while (*p == ' ')
            p++;
        const char *end = p;
        if (starts_with(p, "chaos.seed=")) {
            options.seed = parse_number(p + 11, &end);
            seeded = true;
        } else if (starts_with(p, "chaos.seconds=")) {
            options.seconds = (uint32_t)parse_number(p + 14, &end);
        } else if (starts_with(p, "chaos.check=")) {
            options.check_every = (uint32_t)parse_number(p + 12, &end);
        } else if (starts_with(p, "chaos.mode=flood")) {
            options.flood = true;
        } else if (starts_with(p, "chaos.mode=echo")) {
            options.flood = options.echo_only = true; /* the flood's baseline: no queue */
        } else if (starts_with(p, "chaos.verbose=1")) {
            options.verbose = true;
        } else if (starts_with(p, "chaos.smp=0")) {
            options.no_second_cpu = true;

        } else if (starts_with(p, "chaos.skip=")) {
            copy_word(options.skip, sizeof(options.skip), p + 11);
        } else if (starts_with(p, "chaos.skipdev=")) {
            copy_word(options.skip_devices, sizeof(options.skip_devices), p + 14);
        }
        while (*end && *end != ' ')
            end++;
        p = end;
    }
    if (options.check_every == 0)
        options.check_every = 1;
    return seeded;
}

/* --- discovery --------------------------------------------------------------- */

static void discover_virtio(struct device *device)
{
    unsigned slot = device->slot;
    unsigned offset = pci_read32(slot, 0x34) & 0xfc;
    for (unsigned count = 0; offset && count < 48; count++) {
        uint32_t header = pci_read32(slot, offset);
        uint8_t id = header & 0xff, type = header >> 24 & 0xff;
        if (id == PCI_CAP_VENDOR) {
            uint32_t bar_offset = pci_read32(slot, offset + 8);
            uint32_t length = pci_read32(slot, offset + 12);
            uint32_t address = device->bar0 + bar_offset;
            if (type == CAP_COMMON)
                device->common = address;
            else if (type == CAP_NOTIFY) {
                device->notify = address;
                device->notify_length = length;
                device->notify_multiplier = pci_read32(slot, offset + 16);
            } else if (type == CAP_ISR)
                device->isr = address;
            else if (type == CAP_DEVICE) {
                device->config = address;
                device->config_length = length;
            } else if (type == CAP_PCI_CFG)
                device->cfg_cap = offset;
        } else if (id == PCI_CAP_MSIX) {
            device->msix_cap = offset;
            device->msix_vectors = (header >> 16 & 0x7ff) + 1;
            device->msix_table = device->bar0 + (pci_read32(slot, offset + 4) & ~7u);
            device->pba = device->bar0 + (pci_read32(slot, offset + 8) & ~7u);
        }
        offset = header >> 8 & 0xfc;
    }
    if (device->common) {
        device->queue_count = mmio_read16(device->common + COMMON_NUM_QUEUES);
        if (device->queue_count > MAX_QUEUES)
            device->queue_count = MAX_QUEUES;
        for (unsigned q = 0; q < device->queue_count; q++) {
            mmio_write16(device->common + COMMON_QUEUE_SELECT, (uint16_t)q);
            device->queue_max[q] = mmio_read16(device->common + COMMON_QUEUE_SIZE);
        }
        for (unsigned word = 0; word < 2; word++) {
            mmio_write32(device->common + COMMON_DEVICE_FEATURE_SELECT, word);
            device->features[word] = mmio_read32(device->common + COMMON_DEVICE_FEATURE);
        }
    }
}

static void discover(void)
{
    unsigned blk_count = 0;
    for (unsigned slot = 0; slot < 32 && device_count < MAX_DEVICES - 1; slot++) {
        uint32_t id = pci_read32(slot, 0);
        if ((id & 0xffff) == 0xffff)
            continue;
        uint32_t bar = pci_read32(slot, 0x10);
        if (id == PVPANIC_ID) {
            pvpanic_bar = bar & ~0xfu;
            pvpanic_slot = slot;
        }
        uint16_t device_id = (uint16_t)(id >> 16);
        say("pci 00:%02x.0 %04x:%04x bar0 0x%x", slot, id & 0xffff, device_id, bar);
        if ((id & 0xffff) != VIRTIO_VENDOR || device_id < 0x1040 || device_id > 0x107f)
            continue;
        struct device *device = &devices[device_count];
        device->slot = slot;
        device->type = device_id - 0x1040u;
        device->name = virtio_name(device->type);
        device->bar0 = bar & ~0xfu;
        /* Its size, by the standard sizing write (the BAR stops decoding
         * while it reads back the mask). */
        pci_write32(slot, 0x10, 0xffffffff);
        device->bar0_size = ~(pci_read32(slot, 0x10) & ~0xfu) + 1;
        pci_write32(slot, 0x10, bar);
        pci_write16(slot, 0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER);
        discover_virtio(device);
        if (device->type == ID_BLOCK)
            blk_count++;
        device_count++;
    }
    /* The well-behaved device: the last disk, when there are two or more. */
    if (blk_count >= 2)
        for (unsigned i = device_count; i-- > 0;)
            if (devices[i].type == ID_BLOCK) {
                check_disk = &devices[i];
                check_disk->check_disk = true;
                break;
            }
    for (unsigned i = 0; i < device_count; i++) {
        struct device *device = &devices[i];
        device->slab = arena + i * SLAB_SIZE;
        say("device %u %s slot %u bar0 0x%x size 0x%x queues %u features 0x%08x%08x msix %u%s", i,
            device->name, device->slot, device->bar0, device->bar0_size, device->queue_count,
            device->features[1], device->features[0], device->msix_vectors,
            device->check_disk ? " (the well-behaved disk: not attacked)" : "");
        if (!device->check_disk && device->common && device->notify &&
            !listed(options.skip_devices, device->name))
            attackable[attackable_count++] = i;
    }
}

/* Puts back what an attack may have moved: every attacked function's BAR 0
 * and its command register, so the next attack finds its registers where
 * discovery saw them. */
static void restore_pci(void)
{
    for (unsigned i = 0; i < device_count; i++) {
        struct device *device = &devices[i];
        if (device->check_disk)
            continue;
        pci_write32(device->slot, 0x10, device->bar0);
        pci_write16(device->slot, 0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER);
    }
    if (pvpanic_bar) {
        pci_write32(pvpanic_slot, 0x10, pvpanic_bar);
        pci_write16(pvpanic_slot, 0x04, PCI_COMMAND_MEMORY);
    }
}

/* --- addresses the devices are given ---------------------------------------- */

/* An address for a buffer of `length` bytes the device may write (or read):
 * in the pool, in low memory, straddling the end of RAM, or outside RAM. */
static uint64_t pick_address(uint32_t length, bool for_balloon)
{
    unsigned kind = below(100);
    if (for_balloon) {
        /* Only what the balloon may read as page numbers: the lists, or
         * nothing at all (outside RAM, or straddling its end, where the
         * lists are). */
        if (kind < 80) {
            uint32_t room = length < LISTS_SIZE ? LISTS_SIZE - length : 0;
            return lists + (below(room / 4 + 1) * 4);
        }
        switch (below(5)) {
        case 0: return ram_top;
        case 1: return ram_top - 1 - below(16);
        case 2: return (uint64_t)ram_top + below(1u << 20);
        case 3: return 0xfffffffffffff000ull + below(4096);
        default: return 1ull << (32 + below(31));
        }
    }
    if (kind < 65) {
        uint32_t size = pool_end - pool;
        uint32_t room = length < size ? size - length : 0;
        uint32_t offset = below(room + 1);
        if (chance(50))
            offset &= ~0xfffu;
        return pool + offset;
    }
    if (kind < 75 && length <= LOW_MEMORY_END - LOW_MEMORY_START)
        return LOW_MEMORY_START + below(LOW_MEMORY_END - LOW_MEMORY_START - length + 1);
    if (kind < 82 && length <= pool_end - pool)
        return pool_end - length; /* ending where the pool does */
    switch (below(8)) {
    case 0: return ram_top;
    case 1: return ram_top - 1 - below(16);
    case 2: return (uint64_t)ram_top + below(1u << 20);
    case 3: return PCI_WINDOW_START + below(PCI_WINDOW_END - PCI_WINDOW_START);
    case 4: return 0xfee00000u;
    case 5: return 0xfffffffffffff000ull + below(4096);
    case 6: return 1ull << (32 + below(31));
    default: {
        /* Anything, but never RAM we did not give out (this image). */
        uint64_t address = interesting64();
        if (address < ram_top && !(address >= LOW_MEMORY_START && address < LOW_MEMORY_END) &&
        !(address >= pool && address < pool_end))
            address += ram_top;
        return address;
    }
    }
}

struct desc {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};

/* Where a buffer of a descriptor may be, whatever its flags say now (they
 * change under the device): all of it in low memory or in the pool, or
 * outside RAM, or straddling RAM's end from the arena (which the VMM must
 * refuse whole); the balloon's only in the lists.  Anything else is moved: a
 * length changed under an address in low memory would otherwise reach this
 * image.  Only an indirect descriptor names a slab (one of our tables). */
static uint64_t safe_address(uint64_t address, uint32_t length, bool for_balloon)
{
    uint64_t end = address + length;
    if (address >= ram_top)
        return address;
    if (end > ram_top && address >= (for_balloon ? lists : arena))
        return address;
    if (for_balloon ? address >= lists && end <= ram_top
                    : ((address >= LOW_MEMORY_START && end <= LOW_MEMORY_END) ||
                       (address >= pool && end <= pool_end)))
        return address;
    if (for_balloon)
        return length <= LISTS_SIZE ? ram_top - length : (uint64_t)ram_top + address;
    return length <= pool_end - pool ? pool_end - length : (uint64_t)ram_top + address;
}

static void desc_make_safe(struct desc *d, bool for_balloon)
{
    if (d->flags & DESC_F_INDIRECT)
        return; /* ours: it names a table in the slab, and keeps it */
    d->address = safe_address(d->address, d->length, for_balloon);
}

/* An atomic 8-byte store in the 32-bit build: lock cmpxchg8b. */
static void store64(volatile uint64_t *p, uint64_t value)
{
    uint64_t old = *p;
    for (;;) {
        uint64_t seen = __sync_val_compare_and_swap(p, old, value);
        if (seen == old)
            return;
        old = seen;
    }
}

/* Stores a descriptor the device may be reading at this moment, as 8-byte
 * halves (atomic: cmpxchg8b), through a harmless middle (length 0,
 * readable, direct), so that no mix of old and new fields the device can
 * see is a buffer it may write outside where we allow. */
static void desc_store(volatile struct desc *slot, struct desc d, bool for_balloon)
{
    desc_make_safe(&d, for_balloon);
    volatile uint64_t *halves = (volatile uint64_t *)slot;
    uint64_t neutral = (uint64_t)d.next << 48;
    uint64_t rest = d.length | (uint64_t)d.flags << 32 | (uint64_t)d.next << 48;
    store64(&halves[1], neutral);
    store64(&halves[0], d.address);
    store64(&halves[1], rest);
}

static struct desc desc_load(volatile struct desc *slot)
{
    volatile uint64_t *halves = (volatile uint64_t *)slot;
    uint64_t rest = halves[1];
    return (struct desc){halves[0], (uint32_t)rest, (uint16_t)(rest >> 32), (uint16_t)(rest >> 48)};
}

static uint32_t pick_length(void)
{
    switch (below(12)) {
    case 0: return 0;
    case 1: return 1 + below(15);
    case 2: return 16 + below(64);
    case 3: return 512;
    case 4: return 4096;
    case 5: return 1 + below(65536);
    case 6: return 1u << (12 + below(12));
    case 7: return 0xffffffff;
    case 8: return 0x80000000u;
    case 9: return interesting32();
    default: return 1 + below(4096);
    }
}

/* --- virtqueues -------------------------------------------------------------- */


struct queue {
    struct device *device;
    unsigned index;
    uint16_t size;       /* what we wrote (may be refused) */
    uint16_t ring_size;  /* what we lay the rings out for */
    uint32_t desc, avail, used;
    uint16_t avail_idx, last_used;
    uint32_t tables, tables_size, table_offset;    /* indirect tables */
    uint32_t headers, headers_size, header_offset; /* balloon page lists */
    uint32_t flood_area;
    bool balloon_safe;
};

static uint32_t queue_area(const struct device *device, unsigned q)
{
    /* The balloon's rings live in the protected area, one place per queue
     * (q 3 and up, which it has not, share those of q % 3). */
    if (device->type == ID_BALLOON)
        return protected_area + (q % 3) * 0x40000u;
    return device->slab + (q % MAX_QUEUES) * QUEUE_AREA;
}

static void notify_queue(struct device *device, unsigned q)
{
    uint32_t address = device->notify + q * device->notify_multiplier;
    if (q * device->notify_multiplier + 2 <= device->notify_length)
        mmio_write16(address, (uint16_t)q);
}

/* The longest a reset and a well-behaved read took: a vCPU kept waiting on
 * a register is the VMM's liveness too. */
static uint32_t longest_reset_ms, longest_check_ms;

static void device_reset(struct device *device)
{
    uint64_t began = now_ms();
    mmio_write8(device->common + COMMON_DEVICE_STATUS, 0);
    /* A reset waits for a request in progress; the status reads 0 once it
     * is done (4.1.4.3.2).  Bounded: a device that never comes back is a
     * finding, reported by the caller's checks, not a hang of ours. */
    uint64_t start = now_ms();
    while (mmio_read8(device->common + COMMON_DEVICE_STATUS) != 0) {
        if (now_ms() - start > 2000) {
            say_fail("%s at slot %u: reset not done after 2 s", device->name, device->slot);
            return;
        }
    }
    if (now_ms() - began > longest_reset_ms)
        longest_reset_ms = (uint32_t)(now_ms() - began);
}

/* Drives the status machine to FEATURES_OK with `features` (two words). */
static void device_negotiate(struct device *device, uint32_t low, uint32_t high)
{
    device_reset(device);
    mmio_write8(device->common + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE);
    mmio_write8(device->common + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    mmio_write32(device->common + COMMON_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(device->common + COMMON_DRIVER_FEATURE, low);
    mmio_write32(device->common + COMMON_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(device->common + COMMON_DRIVER_FEATURE, high);
    mmio_write8(device->common + COMMON_DEVICE_STATUS,
           STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
}

static void features_for_attack(const struct device *device, uint32_t *low, uint32_t *high)
{
    *low = device->features[0];
    *high = device->features[1];
    if (chance(70))
        *low &= random32() | F_INDIRECT_DESC;
    if (chance(10))
        *low = random32();
    if (chance(5))
        *high = random32();
    if (chance(5))
        *high &= ~F_VERSION_1_HIGH;
}

/* Sets up queue q of device for an attack: rings normally laid out, or
 * not (misaligned, overlapping, outside RAM, the wrong size). */
static void queue_setup(struct queue *queue, struct device *device, unsigned q, bool well_formed)
{
    queue->device = device;
    queue->index = q;
    uint16_t max = q < device->queue_count ? device->queue_max[q] : 256;
    if (max == 0 || max > 1024)
        max = 256;
    queue->size = max;
    if (!well_formed) {
        switch (below(10)) {
        case 0: queue->size = 0; break;
        case 1: queue->size = 1; break;
        case 2: queue->size = (uint16_t)(1 + below(max)); break; /* likely not a power of 2 */
        case 3: queue->size = (uint16_t)(max * 2); break;
        case 4: queue->size = 0xffff; break;
        case 5: queue->size = (uint16_t)(1u << below(11)); break;
        default: break;
        }
    }
    queue->ring_size = queue->size && queue->size <= 1024 ? queue->size : max;
    if (queue->ring_size > 1024)
        queue->ring_size = 1024;
    uint32_t area = queue_area(device, q);
    /* The balloon's inflate and deflate queues read page numbers: their
     * requests are written in the lists, and their descriptors only ever
     * name the lists (or no RAM at all).  Its statistics queue reads
     * anything: its requests go to the device's slab like any other's. */
    queue->balloon_safe = device->type == ID_BALLOON && q % 3 != 2;
    queue->desc = area;
    queue->avail = area + 0x4000;
    queue->used = area + 0x5000;
    /* Tables and headers in the slab (the balloon's, whose rings are not
     * there, has room for them); the balloon's page lists in the lists. */
    uint32_t slab_area = device->slab + (q % MAX_QUEUES) * QUEUE_AREA;
    queue->tables = slab_area + AREA_TABLES;
    queue->tables_size = AREA_HEADERS - AREA_TABLES;
    queue->headers = queue->balloon_safe ? lists : slab_area + AREA_HEADERS;
    queue->headers_size = queue->balloon_safe ? LISTS_SIZE : QUEUE_AREA - AREA_HEADERS;
    queue->flood_area = slab_area + AREA_HEADERS;
    queue->table_offset = queue->header_offset = 0;
    uint64_t desc = queue->desc, avail = queue->avail, used = queue->used;
    /* Rings that overlap each other: never for the balloon, whose
     * descriptors the device's used entries (small numbers) would turn into
     * page lists in low memory, nor the avail ring over a table (our ring
     * entries would become addresses in this image). */
    if (!well_formed && chance(30) && device->type != ID_BALLOON) {
        switch (below(8)) {
        case 0: desc += 1 + below(15); break;                 /* misaligned */
        case 1: avail = used; break;                          /* overlapping */
        case 2: used = desc + 8 * below(queue->ring_size); break;
        case 3: used = ram_top - 8; break;                    /* straddling */
        case 4: desc = (uint64_t)ram_top + 0x1000; break;     /* outside */
        case 5: used = PCI_WINDOW_START; break;
        case 6: avail = 0xfffffffffffffff0ull; break;
        default: used = (uint64_t)1 << 40; break;
        }
    }
    queue->avail_idx = 0;
    queue->last_used = 0;
    memset((void *)(uintptr_t)queue->desc, 0, 16u * queue->ring_size);
    memset((void *)(uintptr_t)queue->avail, 0, 6u + 2u * queue->ring_size);
    memset((void *)(uintptr_t)queue->used, 0, 6u + 8u * queue->ring_size);
    uint32_t common = device->common;
    mmio_write16(common + COMMON_QUEUE_SELECT, (uint16_t)q);
    mmio_write16(common + COMMON_QUEUE_SIZE, queue->size);
    mmio_write64(common + COMMON_QUEUE_DESC, desc);
    mmio_write64(common + COMMON_QUEUE_DRIVER, avail);
    mmio_write64(common + COMMON_QUEUE_DEVICE, used);
    mmio_write16(common + COMMON_QUEUE_MSIX_VECTOR, chance(80) ? (uint16_t)q : (uint16_t)interesting32());
    mmio_write16(common + COMMON_QUEUE_ENABLE, 1);
}

static void queue_publish(struct queue *queue, uint16_t head)
{
    volatile uint16_t *avail = (volatile uint16_t *)(uintptr_t)queue->avail;
    avail[2 + queue->avail_idx % queue->ring_size] = head;
    memory_barrier();
    queue->avail_idx++;
    avail[1] = queue->avail_idx;
    memory_barrier();
}

static uint16_t queue_used_index(const struct queue *queue)
{
    return ((volatile uint16_t *)(uintptr_t)queue->used)[1];
}

/* --- requests: each device's header, right or wrong ------------------------- */

/* The next header or table of a queue, round its area: what comes back is
 * overwritten later in the attack, under the device (only ever by a header
 * or table of ours). */
static uint8_t *take(uint32_t base, uint32_t size, uint32_t *offset, uint32_t bytes)
{
    if (*offset + bytes > size)
        *offset = 0;
    uint8_t *p = (uint8_t *)(uintptr_t)(base + *offset);
    *offset += (bytes + 15) & ~15u;
    return p;
}

/* A response buffer, or a header: in the pool, which devices may write. */
static uint32_t take_response(void)
{
    return (pool + below((pool_end - pool - 4096) >> 4) * 16);
}

static uint8_t *take_header(struct queue *queue)
{
    if (!queue->balloon_safe)
        return (uint8_t *)(uintptr_t)take_response();
    return take(queue->headers, queue->headers_size, &queue->header_offset, 512);
}

static volatile struct desc *take_table(struct queue *queue)
{
    return (volatile struct desc *)take(queue->tables, queue->tables_size, &queue->table_offset,
                                        16 * 16);
}


static void fill_random(uint8_t *p, uint32_t length)
{
    for (uint32_t i = 0; i < length; i += 4) {
        uint32_t value = random32();
        for (uint32_t j = 0; j < 4 && i + j < length; j++)
            p[i + j] = (uint8_t)(value >> 8 * j);
    }
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Page numbers a balloon may be given.  The device reads a request's
 * buffers as one stream of bytes, and buffers of odd lengths shift it: page
 * number 1 read three bytes late is 0x100, this image's first page.  So the
 * lists hold only a few words whose bytes, taken four at a time in any
 * order, always make a safe page number (the pool, low memory, or no RAM):
 * balloon_words_choose checks every such tuple. */
static uint32_t balloon_words[3];
static unsigned balloon_word_count;

static bool page_safe(uint32_t page)
{
    uint64_t address = (uint64_t)page << 12;
    return address >= ram_top || address < LOW_MEMORY_END || (address >= pool && address < pool_end);
}

static bool words_safe(const uint32_t *words, unsigned count)
{
    uint8_t bytes[12];
    unsigned n = 0;
    for (unsigned w = 0; w < count; w++)
        for (unsigned b = 0; b < 4; b++)
            bytes[n++] = (uint8_t)(words[w] >> 8 * b);
    for (unsigned i = 0; i < n * n * n * n; i++) {
        unsigned k = i;
        uint32_t page = 0;
        for (unsigned b = 0; b < 4; b++, k /= n)
            page |= (uint32_t)bytes[k % n] << 8 * b;
        if (!page_safe(page))
            return false;
    }
    return true;
}

static void balloon_words_choose(void)
{
    /* A pool page whose low byte is 0, page 0, and no page at all. */
    uint32_t pool_page = ((pool >> 12) + 255) & ~255u;
    const uint32_t choices[][3] = {{pool_page, 0, 0xffffffff}, {pool_page, 0, 0}, {0xffffffff, 0, 0}};
    for (unsigned c = 0; c < 3; c++) {
        unsigned count = c == 2 ? 1 : c == 1 ? 2 : 3;
        if (words_safe(choices[c], count)) {
            memcpy(balloon_words, choices[c], sizeof(balloon_words));
            balloon_word_count = count;
            return;
        }
    }
}

static uint32_t balloon_page_number(void)
{
    return balloon_words[below(balloon_word_count)];
}

static void fill_balloon_pages(uint8_t *p, uint32_t length)
{
    for (uint32_t i = 0; i + 4 <= length; i += 4)
        put32(p + i, balloon_page_number());
}

/* A GPU command: the types the device knows, with resource ids that make
 * sequences meet (create, attach, transfer, scan out, flush, unref) and
 * sizes and rectangles at the edges. */
static uint32_t gpu_command(uint8_t *p, bool cursor)
{
    static const uint32_t types[] = {0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x106,
                                     0x107, 0x108, 0x109, 0x10a, 0x10b, 0x10c, 0x10d};
    uint32_t type = cursor ? 0x300 + below(2) : types[below(14)];
    if (chance(5))
        type = interesting32();
    memset(p, 0, 128);
    put32(p, type);
    put32(p + 4, chance(30) ? 1 : (chance(10) ? interesting32() : 0)); /* flags: fence */
    put64(p + 8, random64());
    uint32_t resource = chance(80) ? 1 + below(4) : interesting32();
    uint32_t width = chance(60) ? 1u << below(13) : interesting32();
    uint32_t height = chance(60) ? 1u << below(13) : interesting32();
    uint8_t *body = p + 24;
    switch (type) {
    case 0x101: /* RESOURCE_CREATE_2D: id, format, width, height */
        put32(body, resource);
        put32(body + 4, chance(80) ? 1 + below(4) : interesting32());
        put32(body + 8, width);
        put32(body + 12, height);
        return 40;
    case 0x103: /* SET_SCANOUT: rect, scanout, resource */
    case 0x104: /* RESOURCE_FLUSH: rect, resource */
    case 0x105: /* TRANSFER_TO_HOST_2D: rect, offset, resource */
        for (unsigned i = 0; i < 4; i++)
            put32(body + 4 * i, chance(50) ? below(2048) : interesting32());
        if (type == 0x103) {
            put32(body + 16, chance(80) ? 0 : interesting32());
            put32(body + 20, chance(10) ? 0 : resource);
            return 48;
        }
        if (type == 0x104) {
            put32(body + 16, resource);
            return 48;
        }
        put64(body + 16, chance(50) ? 0 : interesting64());
        put32(body + 24, resource);
        return 56;
    case 0x106: { /* ATTACH_BACKING: id, nr_entries, then entries */
        uint32_t entries = chance(70) ? 1 + below(4) : interesting32();
        put32(body, resource);
        put32(body + 4, entries);
        unsigned written = entries < 4 ? entries : 4;
        for (unsigned i = 0; i < written; i++) {
            uint32_t length = chance(60) ? 1u << (12 + below(12)) : pick_length();
            put64(body + 8 + 16 * i, pick_address(length, false));
            put32(body + 16 + 16 * i, length);
        }
        return 32 + 16 * written;
    }
    case 0x300:
    case 0x301: /* UPDATE/MOVE_CURSOR: pos {scanout, x, y}, resource, hot x, y */
        put32(body, chance(80) ? 0 : interesting32());
        put32(body + 4, interesting32());
        put32(body + 8, interesting32());
        put32(body + 16, resource);
        put32(body + 20, interesting32());
        put32(body + 24, interesting32());
        return 56;
    default:
        put32(body, resource);
        fill_random(body + 4, 28);
        return 24 + (chance(80) ? 8 : below(104));
    }
}

/* Frames the user network answers, so that its answers come back into the
 * receive queue's buffers (whatever state they are in): an ARP request
 * for the gateway, or a DHCP discover.  p: after the virtio_net_hdr. */
static uint32_t net_frame_answered(uint8_t *p)
{
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xc4, 0xa0, 0x05};
    memset(p, 0xff, 6);
    memcpy(p + 6, mac, 6);
    if (chance(50)) {
        p[12] = 0x08, p[13] = 0x06; /* ARP: who has 10.0.2.2, tell 10.0.2.15 */
        static const uint8_t arp[8] = {0, 1, 8, 0, 6, 4, 0, 1};
        memcpy(p + 14, arp, 8);
        memcpy(p + 22, mac, 6);
        static const uint8_t addresses[14] = {10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2};
        memcpy(p + 28, addresses, 14);
        return 42;
    }
    /* IPv4 0.0.0.0:68 -> 255.255.255.255:67, UDP without a checksum, BOOTP. */
    p[12] = 0x08, p[13] = 0x00;
    uint8_t *ip = p + 14, *udp = ip + 20, *bootp = udp + 8;
    uint32_t bootp_length = 240 + 4;
    memset(ip, 0, 20 + 8 + bootp_length);
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)__builtin_bswap16((uint16_t)(20 + 8 + bootp_length)));
    ip[8] = 64;
    ip[9] = 17;
    memset(ip + 16, 0xff, 4);
    uint32_t sum = 0;
    for (unsigned i = 0; i < 20; i += 2)
        sum += (uint32_t)ip[i] << 8 | ip[i + 1];
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = (uint8_t)(~sum >> 8);
    ip[11] = (uint8_t)~sum;
    udp[1] = 68;
    udp[3] = 67;
    put16(udp + 4, (uint16_t)__builtin_bswap16((uint16_t)(8 + bootp_length)));
    bootp[0] = 1, bootp[1] = 1, bootp[2] = 6;
    put32(bootp + 4, random32());
    memcpy(bootp + 28, mac, 6);
    bootp[236] = 0x63, bootp[237] = 0x82, bootp[238] = 0x53, bootp[239] = 0x63;
    bootp[240] = 53, bootp[241] = 1, bootp[242] = 1, bootp[243] = 0xff; /* DISCOVER */
    return 14 + 20 + 8 + bootp_length;
}

/* The device-readable header of a request to queue q of device, in p (at
 * least 400 bytes); returns its length. */
static uint32_t request_header(struct queue *queue, uint8_t *p)
{
    struct device *device = queue->device;
    unsigned q = queue->index;
    switch (device->type) {
    case ID_BLOCK: {
        static const uint32_t types[] = {0, 1, 4, 8, 11, 13};
        put32(p, chance(90) ? types[below(6)] : interesting32());
        put32(p + 4, chance(90) ? 0 : random32());
        put64(p + 8, chance(70) ? below(4096) : interesting64());
        /* Discard and write-zeroes segments follow for those types. */
        for (unsigned i = 0; i < 4; i++) {
            put64(p + 16 + 16 * i, chance(60) ? below(4096) : interesting64());
            put32(p + 24 + 16 * i, chance(60) ? below(64) : interesting32());
            put32(p + 28 + 16 * i, chance(80) ? below(2) : interesting32());
        }
        return chance(70) ? 16 : below(80);
    }
    case ID_GPU: return gpu_command(p, q == 1);
    case ID_BALLOON: {
        uint32_t length = 4 * (1 + below(64));
        if (q == 2) {
            for (uint32_t i = 0; i + 10 <= 200; i += 10) {
                put16(p + i, chance(80) ? (uint16_t)below(12) : (uint16_t)interesting32());
                put64(p + i + 2, interesting64());
            }
            return chance(70) ? 10 * (1 + below(20)) : below(200);
        }
        fill_balloon_pages(p, length);
        return length;
    }
    case ID_NET:
        if (q == 2) { /* control: class, command, data */
            p[0] = chance(80) ? (uint8_t)below(6) : (uint8_t)random32();
            p[1] = chance(80) ? (uint8_t)below(6) : (uint8_t)random32();
            fill_random(p + 2, 62);
            return chance(60) ? 2 + below(16) : below(64);
        }
        /* tx: a virtio_net_hdr, then a frame. */
        p[0] = chance(60) ? (uint8_t)below(8) : (uint8_t)random32();
        p[1] = chance(60) ? (uint8_t)(below(5) | (chance(20) ? 0x80 : 0)) : (uint8_t)random32();
        put16(p + 2, (uint16_t)interesting32()); /* hdr_len */
        put16(p + 4, (uint16_t)interesting32()); /* gso_size */
        put16(p + 6, chance(50) ? (uint16_t)below(64) : (uint16_t)interesting32());
        put16(p + 8, chance(50) ? (uint16_t)below(32) : (uint16_t)interesting32());
        put16(p + 10, (uint16_t)interesting32());
        fill_random(p + 12, 244);
        if (chance(30)) {
            memset(p, 0, 12);
            return 12 + net_frame_answered(p + 12);
        }
        /* Often a plausible Ethernet header: broadcast, IPv4 or ARP. */
        if (chance(50)) {
            memset(p + 12, 0xff, 6);
            p[24] = 0x08;
            p[25] = chance(50) ? 0x00 : 0x06;
            p[26] = 0x45;
        }
        return chance(50) ? 12 + below(244) : below(256);
    case ID_INPUT: /* status: type, code, value */
        for (unsigned i = 0; i < 8; i++) {
            put16(p + 8 * i, chance(70) ? (uint16_t)below(0x20) : (uint16_t)interesting32());
            put16(p + 8 * i + 2, (uint16_t)interesting32());
            put32(p + 8 * i + 4, interesting32());
        }
        return chance(70) ? 8 * (1 + below(8)) : below(64);
    case ID_CONSOLE:
        /* Output reaches the VMM's stdout: NUL bytes only, which the
         * tests drop, so the log's lines stay whole. */
        memset(p, 0, 256);
        return 1 + below(256);
    default:
        fill_random(p, 256);
        return below(256);
    }
}

/* Does this queue take device-writable buffers (an answer)?  Most do. */
static bool queue_wants_writable(const struct queue *queue)
{
    struct device *device = queue->device;
    switch (device->type) {
    case ID_BALLOON: return false;
    case ID_NET: return queue->index != 1;
    case ID_CONSOLE: return queue->index == 0;
    case ID_INPUT: return queue->index == 0;
    default: return true;
    }
}

static bool queue_wants_readable(const struct queue *queue)
{
    struct device *device = queue->device;
    switch (device->type) {
    case ID_RNG: return false;
    case ID_NET: return queue->index != 0;
    case ID_CONSOLE: return queue->index == 1;
    case ID_INPUT: return queue->index == 1;
    default: return true;
    }
}

/* A descriptor for a buffer: the right kind, or sometimes the wrong one. */
static void desc_buffer(struct queue *queue, struct desc *d, bool writable)
{
    uint32_t length = pick_length();
    if (queue->balloon_safe && !writable && length > LISTS_SIZE && chance(80))
        length = 4 * below(4096);
    d->address = pick_address(length, queue->balloon_safe);
    d->length = length;
    d->flags = writable ? DESC_F_WRITE : 0;
    /* A readable buffer for the balloon must never be writable: it is what
     * another request reads as page numbers. */
    if (chance(3) && !queue->balloon_safe)
        d->flags ^= DESC_F_WRITE;
}

/* Builds a chain at `head` in table `table` (of `size` entries): a request
 * the device understands, or one of the shapes that must be refused. */
/* A request as a driver would make it: the header, the data buffer of the
 * requests that take one, room for the answer.  So that the device gets
 * past its checks to the work, which the rest of the attack then changes
 * under it. */
static void build_good_chain(struct queue *queue, volatile struct desc *table, uint16_t size,
                             uint16_t head)
{
    struct device *device = queue->device;
    struct desc chain[3];
    unsigned n = 0;
    uint32_t answer = 0;
    if (queue_wants_readable(queue)) {
        uint8_t *header = take_header(queue);
        chain[n++] = (struct desc){(uint32_t)(uintptr_t)header, request_header(queue, header), 0, 0};
        if (device->type == ID_BLOCK) {
            uint32_t type = get32(header);
            chain[0].length = type == 11 || type == 13 ? 32 : 16;
            if (type <= 1 || type == 8) /* IN, OUT, GET_ID: a data buffer */
                chain[n++] = (struct desc){take_response(), type == 8 ? 20 : 512 * (1 + below(8)),
                                           type == 1 ? 0 : DESC_F_WRITE, 0};
            answer = 1;
        } else if (device->type == ID_GPU) {
            answer = get32(header) == 0x100 ? 408 : 24;
        } else if (device->type == ID_NET && queue->index == 2) {
            answer = 1;
        } else if (queue_wants_writable(queue)) {
            answer = 64;
        }
    } else {
        switch (device->type) {
        case ID_NET: answer = 2048; break;
        case ID_INPUT: answer = 8 * (1 + below(4)); break;
        case ID_CONSOLE: answer = 256; break;
        default: answer = 4096; break;
        }
    }
    if (answer && !queue->balloon_safe)
        chain[n++] = (struct desc){take_response(), answer, DESC_F_WRITE, 0};
    uint16_t index = head;
    for (unsigned i = 0; i < n; i++) {
        uint16_t next = (uint16_t)((index + 1) % size);
        if (i + 1 < n) {
            chain[i].flags |= DESC_F_NEXT;
            chain[i].next = next;
        }
        desc_store(&table[index], chain[i], queue->balloon_safe);
        index = next;
    }
}

static void build_chain(struct queue *queue, volatile struct desc *table, uint16_t size,
                        uint16_t head, unsigned depth)
{
    unsigned shape = below(100);
    if (shape >= 65 && depth == 0) {
        build_good_chain(queue, table, size, head);
        return;
    }
    uint16_t index = head;
    unsigned length = 1 + below(chance(80) ? 4 : 40);
    if (shape >= 90 && shape < 94)
        length = size + 1 + below(size + 1); /* longer than the table */
    for (unsigned i = 0; i < length; i++) {
        struct desc d = {0};
        bool last = i + 1 == length;
        if (i == 0 && queue_wants_readable(queue)) {
            uint8_t *header = take_header(queue);
            d.address = (uint32_t)(uintptr_t)header;
            d.length = request_header(queue, header);
            if (chance(5))
                d.length = pick_length(); /* past the header, into whatever follows */
            if (queue->balloon_safe && d.length > 0x400)
                d.length = 0x400;
        } else if (last && queue_wants_writable(queue) && chance(80)) {
            /* A status byte or response: often right where it should be. */
            d.address = take_response();
            d.length = chance(70) ? (chance(50) ? 1 : 24 + below(400)) : pick_length();
            d.flags = DESC_F_WRITE;
            if (d.length > 512 && chance(80))
                d.length = 512;
        } else {
            desc_buffer(queue, &d, queue_wants_writable(queue) && (i > 0 || chance(30)));
        }
        if (queue->balloon_safe)
            d.flags &= (uint16_t)~DESC_F_WRITE;
        if (!last) {
            d.flags |= DESC_F_NEXT;
            d.next = (uint16_t)((index + 1) % size);
        }
        /* The shapes: a loop back, a next outside the table, an indirect
         * table (nested, looping, empty, misshapen), overlapping buffers. */
        if (shape < 8 && i == length - 1) {
            d.flags |= DESC_F_NEXT;
            d.next = chance(50) ? head : (uint16_t)below(size);
        } else if (shape < 12 && chance(30)) {
            d.flags |= DESC_F_NEXT;
            d.next = (uint16_t)(size + below(0x10000 - size));
        } else if (shape < 24 && i == 0 && depth < 2 && !queue->balloon_safe) {
            uint32_t entries = 1 + below(16);
            volatile struct desc *indirect = take_table(queue);
            for (uint16_t e = 0; e < 16; e++)
                desc_store(&indirect[e], (struct desc){0}, false);
            build_chain(queue, indirect, (uint16_t)entries, 0, depth + 1);
            d.address = (uint32_t)(uintptr_t)indirect;
            d.length = 16 * entries;
            d.flags = DESC_F_INDIRECT | (chance(10) ? DESC_F_NEXT : 0) |
                      (chance(10) ? DESC_F_WRITE : 0);
            switch (below(8)) {
            case 0: d.length = 0; break;
            case 1: d.length = 16 * entries + 1 + below(15); break; /* not a multiple */
            case 2: d.length = 0xfffffff0; break;
            case 3: d.address = ram_top - 8; break;
            default: break;
            }
            length = 1;
            last = true;
            if (!(d.flags & DESC_F_NEXT))
                d.next = 0;
        } else if (shape < 30 && i > 0 && !queue->balloon_safe) {
            struct desc previous = desc_load(&table[(index + size - 1) % size]);
            d.address = previous.address + below(16); /* overlapping the one before */
        }
        desc_store(&table[index], d, queue->balloon_safe);
        if (last)
            break;
        index = (uint16_t)((index + 1) % size);
    }
}

/* Scribbles on the rings while the device works on them: descriptors,
 * avail entries and index, the used ring the device owns. */
static void mutate_rings(struct queue *queue)
{
    volatile struct desc *table = (volatile struct desc *)(uintptr_t)queue->desc;
    volatile uint16_t *avail = (volatile uint16_t *)(uintptr_t)queue->avail;
    volatile uint16_t *used = (volatile uint16_t *)(uintptr_t)queue->used;
    uint16_t size = queue->ring_size;
    uint16_t i = (uint16_t)below(size);
    struct desc d = desc_load(&table[i]);
    /* An indirect descriptor keeps its table and its length (a longer one
     * would reach past what we wrote); only its next and NEXT change. */
    bool indirect = d.flags & DESC_F_INDIRECT;
    switch (below(8)) {
    case 0:
        if (!indirect)
            d.length = pick_length();
        break;
    case 1:
        if (indirect || queue->balloon_safe)
            d.flags = (uint16_t)(d.flags ^ DESC_F_NEXT);
        else
            d.flags = (uint16_t)(d.flags ^ (1u << below(2))); /* NEXT or WRITE */
        break;
    case 2: d.next = chance(50) ? (uint16_t)below(size) : (uint16_t)random32(); break;
    case 3:
        if (!indirect) {
            struct desc other = {0};
            desc_buffer(queue, &other, queue_wants_writable(queue));
            d.address = other.address;
        }
        break;
    case 4: avail[2 + i] = chance(70) ? (uint16_t)below(size) : (uint16_t)random32(); return;
    case 5:
        avail[1] = (uint16_t)(queue->avail_idx + (chance(50) ? below(3) : random32()));
        return;
    case 6: used[1 + 2 * below(size) + 1] = (uint16_t)random32(); return;
    default: build_chain(queue, table, size, i, 0); return;
    }
    if (queue->balloon_safe)
        d.flags &= (uint16_t)~(DESC_F_WRITE | DESC_F_INDIRECT);
    desc_store(&table[i], d, queue->balloon_safe);
}

/* --- the second CPU ------------------------------------------------------------ */

/* With two vCPUs, the second one races the first at the registers of the
 * device a virtqueue attack is at: status, queue select, size and enable,
 * notifications, features, vectors, the ISR and the configuration, while
 * the first changes the rings and the device works on them.  Only MMIO to
 * that device's common, notify, ISR and device configuration: no ports
 * (0xcf8/0xcfc from two CPUs would send the first one's configuration
 * writes, sanitized, to the second one's offsets), no ring addresses (a
 * queue enabled before they are set has them at 0, where the first 64 KiB
 * hold zeros).  Its own generator: which of its writes land when is
 * timing, so a run with two CPUs is not repeated exactly by its seed. */
extern const uint8_t chaos_trampoline[], chaos_trampoline_end[];
static volatile uint32_t ap_started;
static struct device *volatile ap_target;
static volatile uint32_t ap_busy;
static volatile uint32_t ap_operations;
void chaos_ap_main(void);

static uint32_t ap_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (uint32_t)(x >> 32);
}

static void ap_poke(struct device *device, uint64_t *state)
{
    uint32_t r = ap_random(state), value = ap_random(state);
    uint32_t common = device->common;
    switch (r % 12) {
    case 0:
        mmio_write8(common + COMMON_DEVICE_STATUS,
               r & 0x100 ? 0 : (uint8_t)(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK |
                                         STATUS_DRIVER_OK));
        break;
    case 1: mmio_write8(common + COMMON_DEVICE_STATUS, (uint8_t)value); break;
    case 2: mmio_write16(common + COMMON_QUEUE_SELECT, (uint16_t)(value % (MAX_QUEUES + 2))); break;
    case 3: mmio_write16(common + COMMON_QUEUE_ENABLE, (uint16_t)(value & 1 ? 1 : value)); break;
    case 4: mmio_write16(common + COMMON_QUEUE_SIZE, (uint16_t)(1u << (value % 12))); break;
    case 5:
        if ((value % 16) * device->notify_multiplier + 2 <= device->notify_length + 8)
            mmio_write16(device->notify + (value % 16) * device->notify_multiplier, (uint16_t)value);
        break;
    case 6: mmio_read8(device->isr); break;
    case 7: mmio_read8(common + COMMON_CONFIG_GENERATION); break;
    case 8:
        if (device->config_length)
            mmio_read32(device->config + (value % device->config_length & ~3u));
        break;
    case 9:
        mmio_write32(common + COMMON_DRIVER_FEATURE_SELECT, value & 1);
        mmio_write32(common + COMMON_DRIVER_FEATURE, ap_random(state));
        break;
    case 10:
        mmio_write16(common + (value & 1 ? COMMON_CONFIG_MSIX_VECTOR : COMMON_QUEUE_MSIX_VECTOR),
                (uint16_t)(value >> 1));
        break;
    default: mmio_read32(common + (value % COMMON_SIZE & ~3u)); break;
    }
}

void chaos_ap_main(void)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } descriptor = {sizeof(idt) - 1, (uint32_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(descriptor));
    uint64_t state = options.seed ^ 0x5bd1e9955bd1e995ull;
    if (!state)
        state = 1;
    ap_started = 1;
    for (;;) {
        /* Busy first, then the target: with the first CPU's target first,
         * then busy, one of the two always sees the other (ap_stop). */
        ap_busy = 1;
        memory_barrier();
        struct device *device = ap_target;
        if (device) {
            for (unsigned i = 0; i < 8; i++)
                ap_poke(device, &state);
            ap_operations++;
        }
        ap_busy = 0;
        memory_barrier();
        if (!device)
            for (unsigned i = 0; i < 64; i++)
                __asm__ volatile("pause");
    }
}

static void ap_attack(struct device *device)
{
    /* Not the balloon: its queue select and enable are the first CPU's
     * alone (see attack_common). */
    if (ap_started && device->type != ID_BALLOON)
        ap_target = device;
}

/* The second CPU leaves the device alone before the first resets it (a
 * reset that the other CPU undoes at once would never read back 0). */
static void ap_stop(void)
{
    if (!ap_started)
        return;
    ap_target = NULL;
    memory_barrier();
    uint64_t start = now_ms();
    while (ap_busy && now_ms() - start < 1000)
        __asm__ volatile("pause");
}

static uint16_t fw_cfg_cpu_count(void)
{
    outw(0x510, 0x05); /* FW_CFG_NB_CPUS */
    return (uint16_t)(inb(0x511) | inb(0x511) << 8);
}

static void wait_ms(unsigned ms)
{
    uint64_t start = now_ms();
    while (now_ms() - start < ms)
        __asm__ volatile("pause");
}

/* INIT, SIPI, SIPI to local APIC 1, with the trampoline at 0x8000. */
static void start_second_cpu(void)
{
    unsigned cpus = fw_cfg_cpu_count();
    if (cpus < 2 || options.no_second_cpu)
        return;
    uint32_t size = (uint32_t)(chaos_trampoline_end - chaos_trampoline);
    memcpy((void *)(uintptr_t)0x8000, chaos_trampoline, size);
    const uint32_t icr_low = 0xfee00300, icr_high = 0xfee00310;
    mmio_write32(icr_high, 1u << 24);
    mmio_write32(icr_low, 0x00004500); /* INIT, assert */
    wait_ms(10);
    for (unsigned sipi = 0; sipi < 2 && !ap_started; sipi++) {
        mmio_write32(icr_high, 1u << 24);
        mmio_write32(icr_low, 0x00004600 | 0x08); /* STARTUP at page 0x8 */
        wait_ms(2);
    }
    uint64_t start = now_ms();
    while (!ap_started && now_ms() - start < 1000)
        __asm__ volatile("pause");
    say(ap_started ? "second cpu started: it races the first at the registers"
                   : "second cpu did not start (of %u)", cpus);
}

/* --- the attacks ------------------------------------------------------------- */

/* Where a descriptor table may be said to lie: one of the device's own
 * (any queue's: we wrote every entry), or nowhere in RAM. */
static uint64_t table_address(const struct device *device)
{
    /* The balloon's: only the inflate and deflate queues' tables, whose
     * descriptors name only the lists; its statistics queue's name the
     * pool, whose contents an inflate queue would take for page numbers
     * (a small number of a response, 0x100, is this image's first page). */
    if (chance(80))
        return queue_area(device, device->type == ID_BALLOON ? below(2) : below(MAX_QUEUES));
    return (uint64_t)ram_top << below(8);
}

/* What the current attack is at, for the verbose lines. */
static struct device *attack_target;

static struct device *pick_device(void)
{
    attack_target = &devices[attackable[below(attackable_count)]];
    return attack_target;
}

/* The virtqueue attack: a device set up (well or badly), a queue filled with
 * good and bad chains, the rings changed under the device while it works,
 * and something rude done mid-request: a reset, a queue re-enabled, the
 * features renegotiated, the BAR switched off. */
static void attack_virtqueue(void)
{
    struct device *device = pick_device();
    unsigned q = device->queue_count && chance(95) ? below(device->queue_count)
                                                   : below(MAX_QUEUES);
    uint32_t low, high;
    features_for_attack(device, &low, &high);
    device_negotiate(device, low, high);
    struct queue queue;
    bool well_formed = chance(75);
    queue_setup(&queue, device, q, well_formed);
    if (options.verbose)
        say("  %s queue %u size %u%s, features 0x%08x%08x", device->name, q, queue.size,
            well_formed ? "" : " (rings misshapen or not)", high, low);
    struct queue other;
    bool second = false;
    if (device->type == ID_NET && q == 1 && chance(80)) {
        /* The receive queue too, with buffers of every kind, for the
         * answers to what we send. */
        queue_setup(&other, device, 0, chance(80));
        second = true;
    } else if (chance(20) && device->queue_count > 1) {
        /* A second queue too: requests on both. */
        queue_setup(&other, device, (q + 1) % device->queue_count, true);
        second = true;
    }
    watch("after the queue set-up");
    mmio_write8(device->common + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER |
                                                      STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    watch("after DRIVER_OK");
    volatile struct desc *table = (volatile struct desc *)(uintptr_t)queue.desc;
    unsigned requests = 1 + below(chance(70) ? 8 : queue.ring_size);
    uint16_t head = 0;
    for (unsigned r = 0; r < requests; r++) {
        build_chain(&queue, table, queue.ring_size, head, 0);
        queue_publish(&queue, chance(95) ? head : (uint16_t)random32());
        watch("after a request");
        head = (uint16_t)((head + 1 + below(4)) % queue.ring_size);
    }
    if (chance(5)) {
        /* The available index runs far ahead of what was published. */
        queue.avail_idx = (uint16_t)(queue.avail_idx + queue.ring_size + below(0x8000));
        ((volatile uint16_t *)(uintptr_t)queue.avail)[1] = queue.avail_idx;
    }
    if (second) {
        volatile struct desc *other_table = (volatile struct desc *)(uintptr_t)other.desc;
        unsigned count = 1 + below(other.ring_size);
        for (unsigned r = 0; r < count; r++) {
            build_chain(&other, other_table, other.ring_size, (uint16_t)(r % other.ring_size), 0);
            queue_publish(&other, (uint16_t)(r % other.ring_size));
        }
        notify_queue(device, other.index);
    }
    notify_queue(device, q);
    ap_attack(device);
    if (options.verbose)
        say("  %u requests published%s", requests, second ? ", and a second queue's" : "");
    unsigned rounds = below(chance(50) ? 8 : 200);
    for (unsigned round = 0; round < rounds; round++) {
        mutate_rings(&queue);
        if (chance(20))
            notify_queue(device, chance(90) ? q : below(16));
        if (chance(2)) {
            switch (below(7)) {
            case 0: mmio_write8(device->common + COMMON_DEVICE_STATUS, 0); break; /* reset mid-request */
            case 6: { /* the BAR moved away under the device, a notify there, and back */
                uint32_t away = PCI_WINDOW_START + (below((PCI_WINDOW_END - PCI_WINDOW_START) >> 15) << 15);
                pci_write32(device->slot, 0x10, away);
                if (chance(50))
                    mmio_write16(away + (device->notify - device->bar0) + q * device->notify_multiplier,
                            (uint16_t)q);
                pci_write32(device->slot, 0x10, device->bar0);
                notify_queue(device, q);
                break;
            }
            case 1:
                mmio_write16(device->common + COMMON_QUEUE_SELECT, (uint16_t)q); /* see attack_common */
                mmio_write16(device->common + COMMON_QUEUE_ENABLE, (uint16_t)interesting32());
                break;
            case 2:
                mmio_write32(device->common + COMMON_DRIVER_FEATURE_SELECT, below(3));
                mmio_write32(device->common + COMMON_DRIVER_FEATURE, random32());
                mmio_write8(device->common + COMMON_DEVICE_STATUS,
                       (uint8_t)(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK |
                                 (chance(50) ? STATUS_DRIVER_OK : 0)));
                break;
            case 3: /* memory decoding off and on under the device */
                pci_write16(device->slot, 0x04, PCI_COMMAND_BUS_MASTER);
                notify_queue(device, q);
                pci_write16(device->slot, 0x04, PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER);
                break;
            case 4: mmio_write8(device->common + COMMON_DEVICE_STATUS, (uint8_t)random32()); break;
            default: /* the queue re-set while enabled */
                mmio_write16(device->common + COMMON_QUEUE_SELECT, (uint16_t)q);
                mmio_write16(device->common + COMMON_QUEUE_SIZE, (uint16_t)interesting32());
                mmio_write64(device->common + COMMON_QUEUE_DESC, table_address(device));
                break;
            }
        }
    }
    /* Give the device a moment (bounded) to answer what it can. */
    uint64_t start = now_ms();
    /* (No random numbers drawn in here: how long it waits must not change
     * what the seed does next.) */
    bool reset_after = chance(90);
    while (queue_used_index(&queue) != queue.avail_idx && now_ms() - start < 2)
        __asm__ volatile("pause");
    ap_stop();
    if (reset_after)
        device_reset(device);
}

/* Random and boundary values to every common configuration register, at
 * every width and alignment, within and just past the structure. */
static void attack_common(void)
{
    struct device *device = pick_device();
    unsigned count = 1 + below(32);
    for (unsigned i = 0; i < count; i++) {
        unsigned offset = below(COMMON_SIZE + 8), width = random_width();
        if (chance(50)) {
            read_width(device->common + offset, width);
            continue;
        }
        uint32_t value = interesting32();
        if (offset + width > COMMON_QUEUE_DESC && offset < COMMON_SIZE) {
            /* A ring address: one of ours, so a ring never lies where a
             * device could be told to write into this image. */
            uint64_t address = pick_address(0x8000, false);
            if (device->type != ID_BALLOON && chance(20))
                address = interesting64();
            /* The balloon's rings stay where queue_setup put them: one of
             * its tables anywhere else could be read as page lists. */
            if (device->type == ID_BALLOON && address < ram_top)
                address = (uint64_t)ram_top << below(8);
            /* Writes of addresses in RAM but outside the arena could make a
             * device read its ring from this image: bits from the address. */
            if (device->type != ID_BALLOON && address < ram_top &&
                !(address >= pool && address < pool_end) &&
                !(address >= LOW_MEMORY_START && address < LOW_MEMORY_END))
                address = pool;
            offset = COMMON_QUEUE_DESC + 8 * below(3) + 4 * below(2);
            if (offset < COMMON_QUEUE_DRIVER)
                address = table_address(device);
            value = (offset & 4) ? (uint32_t)(address >> 32) : (uint32_t)address;
            width = 4;
        }
        /* A balloon queue enabled before its addresses are set reads its
         * rings at 0, where other devices' used rings (at 0 for the same
         * reason) hold small numbers, 0x100 among them: page lists naming
         * this image.  Its queues are enabled only by queue_setup. */
        if (device->type == ID_BALLOON && offset < COMMON_QUEUE_ENABLE + 2 &&
            offset + width > COMMON_QUEUE_ENABLE)
            continue;
        write_width(device->common + offset, width, value);
    }
    if (chance(50))
        device_reset(device);
}

/* FEATURES_OK renegotiation: features written after FEATURES_OK, FEATURES_OK
 * cleared and set again, DRIVER_OK without it, selects out of range. */
static void attack_features(void)
{
    struct device *device = pick_device();
    uint32_t common = device->common;
    device_negotiate(device, device->features[0], device->features[1]);
    unsigned count = 1 + below(16);
    for (unsigned i = 0; i < count; i++) {
        switch (below(6)) {
        case 0: mmio_write32(common + COMMON_DRIVER_FEATURE_SELECT, interesting32()); break;
        case 1: mmio_write32(common + COMMON_DRIVER_FEATURE, interesting32()); break;
        case 2: mmio_write32(common + COMMON_DEVICE_FEATURE_SELECT, interesting32()); break;
        case 3: mmio_read32(common + COMMON_DEVICE_FEATURE); break;
        case 4: mmio_write8(common + COMMON_DEVICE_STATUS, (uint8_t)(below(16) | (chance(10) ? 0xc0 : 0))); break;
        default: mmio_read8(common + COMMON_DEVICE_STATUS); break;
        }
    }
    if (chance(30)) {
        /* DRIVER_OK with queues half set up, then the same queue again. */
        struct queue queue;
        queue_setup(&queue, device, below(device->queue_count ? device->queue_count : 1), chance(50));
        mmio_write8(common + COMMON_DEVICE_STATUS, (uint8_t)(STATUS_ACKNOWLEDGE | STATUS_DRIVER |
                                                        STATUS_DRIVER_OK));
        notify_queue(device, queue.index);
        queue_setup(&queue, device, queue.index, true);
    }
    device_reset(device);
}

/* The ISR, the device configuration (within, across and past its end) and
 * the configuration generation. */
static void attack_device_config(void)
{
    struct device *device = pick_device();
    unsigned count = 1 + below(32);
    for (unsigned i = 0; i < count; i++) {
        unsigned width = random_width();
        switch (below(5)) {
        case 0: mmio_read8(device->isr); break;
        case 1: write_width(device->isr + below(8), width, interesting32()); break;
        case 2: mmio_read8(device->common + COMMON_CONFIG_GENERATION); break;
        case 3:
            read_width(device->config + below(device->config_length + 16), width);
            break;
        default: {
            unsigned offset = chance(80) ? below(device->config_length + 8) : below(0x1000 - 4);
            write_width(device->config + offset, width, interesting32());
            break;
        }
        }
    }
}

/* Notifications: every queue the device has and many it has not, at every
 * width, while its queues are enabled or not. */
static void attack_notify(void)
{
    struct device *device = pick_device();
    unsigned count = 1 + below(64);
    for (unsigned i = 0; i < count; i++) {
        unsigned offset = chance(70) ? 4 * below(16) : below(0x1000 - 4);
        write_width(device->notify + offset, random_width(), interesting32());
        if (chance(10))
            read_width(device->notify + offset, random_width());
    }
}

/* MSI-X: the table (always with a fixed or lowest-priority delivery mode:
 * an NMI, SMI or INIT to our own CPU would end this guest, not test the
 * VMM), the PBA, the capability's enable and mask, vectors for the config
 * and the queues, in and out of range. */
static uint32_t msix_safe_data(uint32_t data)
{
    return data & ~0x600u; /* delivery mode 0 (fixed) or 1 (lowest priority) */
}

static void attack_msix(void)
{
    struct device *device = pick_device();
    if (!device->msix_cap)
        return;
    unsigned count = 1 + below(32);
    for (unsigned i = 0; i < count; i++) {
        uint32_t entry = device->msix_table + 16 * below(device->msix_vectors + 2);
        switch (below(8)) {
        case 0: mmio_write32(entry, chance(80) ? 0xfee00000u | below(0x100000) : interesting32()); break;
        case 1: mmio_write32(entry + 4, chance(80) ? 0 : interesting32()); break;
        case 2: mmio_write32(entry + 8, msix_safe_data(interesting32())); break;
        case 3: mmio_write32(entry + 12, interesting32()); break;
        case 4: read_width(device->pba + below(16), random_width()); break;
        case 5: write_width(device->pba + below(16), random_width(), interesting32()); break;
        case 6: {
            uint16_t control = (uint16_t)(below(4) << 14);
            pci_write16(device->slot, device->msix_cap + 2, control);
            break;
        }
        default:
            mmio_write16(device->common + (chance(50) ? COMMON_CONFIG_MSIX_VECTOR : COMMON_QUEUE_MSIX_VECTOR),
                    chance(70) ? (uint16_t)below(device->msix_vectors + 2) : (uint16_t)interesting32());
            if (chance(30))
                mmio_write16(device->common + COMMON_QUEUE_SELECT, (uint16_t)below(MAX_QUEUES + 2));
            break;
        }
        /* Unaligned and odd-sized table accesses, refused or not. */
        if (chance(5))
            write_width(device->msix_table + 1 + below(14), chance(50) ? 1 : 2, interesting32());
    }
}

/* Is config offset `offset` of width `width` inside the device's
 * VIRTIO_PCI_CAP_PCI_CFG capability?  Its window writes into the BAR (the
 * MSI-X table included): only attack_cfg_window drives it, sanitized. */
static bool in_cfg_window(const struct device *device, unsigned offset, unsigned width)
{
    return device && device->cfg_cap && offset < device->cfg_cap + 20 &&
           device->cfg_cap < offset + width;
}

static struct device *device_at_slot(unsigned slot)
{
    for (unsigned i = 0; i < device_count; i++)
        if (devices[i].slot == slot)
            return &devices[i];
    return NULL;
}

/* PCI configuration space: reads of every function and slot at every width,
 * writes of boundary values to the header and capabilities (not the
 * well-behaved disk's), BAR sizing, BARs moved (onto each other, outside
 * the window) with accesses at both places, memory decoding switched. */
static void attack_pci_config(void)
{
    unsigned count = 1 + below(32);
    for (unsigned i = 0; i < count; i++) {
        unsigned slot = chance(80) ? devices[attackable[below(attackable_count)]].slot : below(32);
        struct device *device = device_at_slot(slot);
        if (device && device->check_disk)
            continue;
        unsigned width = random_width();
        unsigned offset = below(256) & ~(width - 1);
        if (chance(5))
            offset = below(256); /* misaligned: how does the data port split it? */
        if (chance(40)) {
            pci_read_width(slot, offset, width);
            continue;
        }
        if (in_cfg_window(device, offset, width))
            continue;
        if (slot == pvpanic_slot && offset >= 0x10 && offset < 0x14 && chance(50))
            continue;
        switch (below(4)) {
        case 0: /* BAR sizing */
            pci_write32(slot, 0x10, 0xffffffff);
            pci_read32(slot, 0x10);
            break;
        case 1: { /* a move, and accesses at the new and the old place */
            struct device *other = &devices[below(device_count)];
            uint32_t address = chance(50) ? other->bar0
                                          : PCI_WINDOW_START + (below((PCI_WINDOW_END - PCI_WINDOW_START) >> 15) << 15);
            if (chance(10))
                address = interesting32() & ~0xfu;
            pci_write32(slot, 0x10, address);
            if (device && device != other && !other->check_disk) {
                mmio_read32(address + below(0x40));
                mmio_read8(address + 0x1000);
            }
            if (device)
                notify_queue(device, below(4));
            break;
        }
        case 2:
            pci_write16(slot, 0x04, (uint16_t)interesting32());
            if (device)
                notify_queue(device, 0);
            break;
        default: pci_write_width(slot, offset, width, interesting32()); break;
        }
    }
    /* Read the whole space of an attacked function: capability pointers
     * may have been changed where they are writable. */
    struct device *device = pick_device();
    for (unsigned offset = 0; offset < 256; offset += 4)
        pci_read32(device->slot, offset);
}

/* The VIRTIO_PCI_CAP_PCI_CFG window: bar, offset and length of every kind,
 * then reads and writes of its data. */
static void attack_cfg_window(void)
{
    struct device *device = pick_device();
    unsigned cap = device->cfg_cap;
    if (!cap)
        return;
    unsigned count = 1 + below(16);
    for (unsigned i = 0; i < count; i++) {
        uint8_t bar = chance(80) ? 0 : (uint8_t)interesting32();
        uint32_t offset = chance(70) ? below(0x8000) : interesting32();
        uint32_t length = chance(70) ? 1u << below(3) : interesting32();
        uint32_t data = interesting32();
        /* A write that would land in the MSI-X table (through the window)
         * has its data sanitized; a write to any other register is raw. */
        if (offset >= device->msix_table - device->bar0 &&
            offset < device->msix_table - device->bar0 + 0x1000) {
            if ((offset & 15) >= 8 && (offset & 15) < 12)
                data = msix_safe_data(data);
            else if ((offset & 15) != 12 && (offset & 15) >= 4)
                data &= 0;
            if ((offset & 3) != 0)
                offset &= ~3u; /* the data field written whole */
        }
        pci_write_width(device->slot, cap + 4, 1, bar);
        pci_write32(device->slot, cap + 8, offset);
        pci_write32(device->slot, cap + 12, length);
        if (chance(50))
            pci_read_width(device->slot, cap + 16, random_width());
        else
            pci_write32(device->slot, cap + 16, data);
    }
    /* Leave the window pointing nowhere. */
    pci_write_width(device->slot, cap + 4, 1, 0xff);
}

static bool port_excluded(uint16_t port)
{
    return (port >= 0x3f8 && port <= 0x3ff) ||   /* our UART */
           (port >= 0x600 && port <= 0x60f) ||   /* ACPI sleep and reset */
           port == 0x64 ||                       /* i8042: 0xfe resets */
           port == 0xcf9 ||                      /* PC reset control */
           (port >= 0xcf8 && port <= 0xcff) ||   /* PCI: attack_pci_config does it, sanitized */
           (port >= 0xf4 && port <= 0xf7) ||     /* debug-exit's default */
           (port >= 0x501 && port <= 0x504) ||   /* debug-exit's other usual place */
           (port >= 0x514 && port <= 0x51b) ||   /* fw_cfg DMA: attack_fw_cfg, sanitized */
           port == 0x92;                         /* fast reset (port A) */
}

/* Random and boundary values to I/O ports: the legacy devices (PIC, PIT,
 * RTC, i8042 data, fw_cfg) and nothing at all, everywhere but what ends
 * the VM or is ours. */
static void attack_ports(void)
{
    static const uint16_t known[] = {0x20, 0x21, 0x40, 0x41, 0x42, 0x43, 0x60, 0x61, 0x70, 0x71,
                                     0x80, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x510, 0x511, 0x2f8, 0xe9, 0x402};
    unsigned count = 1 + below(64);
    for (unsigned i = 0; i < count; i++) {
        uint16_t port = chance(60) ? (uint16_t)(known[below(sizeof(known) / 2)] + below(2))
                                   : (uint16_t)random32();
        unsigned width = random_width();
        bool skip = false;
        for (unsigned b = 0; b < width; b++)
            skip |= port_excluded((uint16_t)(port + b));
        if (skip)
            continue;
        if (chance(50))
            port_read_width(port, width);
        else
            port_write_width(port, width, interesting32());
    }
}

/* fw_cfg: selectors and data reads, then DMA with its control structure in
 * the pool and targets of every kind (straddling RAM's end, outside it). */
static void attack_fw_cfg(void)
{
    unsigned count = 1 + below(16);
    for (unsigned i = 0; i < count; i++) {
        outw(0x510, chance(70) ? (uint16_t)below(0x40) : (uint16_t)interesting32());
        unsigned reads = below(64);
        for (unsigned r = 0; r < reads; r++)
            inb(0x511);
        if (chance(30)) {
            /* The control structure in the last slab, which no device
             * writes: a device's junk there would be a DMA to anywhere. */
            uint8_t *control =
                (uint8_t *)(uintptr_t)(arena + (MAX_DEVICES - 1) * SLAB_SIZE + 16 * below(64));
            uint32_t length = pick_length();
            uint32_t bits = chance(70) ? (1u << below(5)) | (chance(50) ? (below(0x40) << 16) | 8 : 0)
                                       : interesting32();
            /* Big-endian fields: control, length, address. */
            uint32_t be_bits = __builtin_bswap32(bits), be_length = __builtin_bswap32(length);
            uint64_t target = safe_address(pick_address(length, false), length, false);
            memcpy(control, &be_bits, 4);
            memcpy(control + 4, &be_length, 4);
            uint64_t be_target = __builtin_bswap64(target);
            memcpy(control + 8, &be_target, 8);
            /* The control structure elsewhere: only outside RAM (in RAM it
             * would be whatever lies there, a DMA to anywhere). */
            uint64_t where = (uint32_t)(uintptr_t)control;
            if (chance(10)) {
                where = pick_address(16, false);
                if (where < ram_top)
                    where = ram_top - below(8);
            }
            outl(0x514, __builtin_bswap32((uint32_t)(where >> 32)));
            outl(0x518, __builtin_bswap32((uint32_t)where));
        }
    }
}

/* Random MMIO over the PCI window: the BARs (at any offset, width and
 * alignment, straddling their ends) and the holes between them, but not
 * the MSI-X tables (attack_msix does those, sanitized), nor pvpanic's
 * panic bit, nor the well-behaved disk. */
static void attack_mmio(void)
{
    unsigned count = 1 + below(64);
    for (unsigned i = 0; i < count; i++) {
        uint32_t address;
        if (chance(80)) {
            struct device *device = pick_device();
            address = device->bar0 + (chance(90) ? below(device->bar0_size + 8) : device->bar0_size - below(4));
        } else if (chance(50) && pvpanic_bar) {
            address = pvpanic_bar + below(4096 + 8);
        } else {
            address = PCI_WINDOW_START + below(PCI_WINDOW_END - PCI_WINDOW_START - 8);
        }
        unsigned width = random_width();
        bool skip = false;
        for (unsigned d = 0; d < device_count; d++) {
            struct device *device = &devices[d];
            uint32_t start = device->check_disk ? device->bar0 : device->msix_table;
            uint32_t end = device->check_disk ? device->bar0 + device->bar0_size : device->msix_table + 0x1000;
            if (start && address < end && address + width > start)
                skip = true;
        }
        if (skip)
            continue;
        if (chance(50)) {
            read_width(address, width);
            continue;
        }
        uint32_t value = interesting32();
        /* PANICKED would end the VM, as it should; KVM splits an access
         * that crosses a page into two, so the register may be any byte of
         * one that ends in pvpanic's BAR. */
        if (pvpanic_bar && address <= pvpanic_bar && address + width > pvpanic_bar)
            value &= ~(1u << 8 * (pvpanic_bar - address));
        write_width(address, width, value);
    }
}

struct attack {
    const char *name;
    void (*run)(void);
    unsigned weight;
};

static const struct attack attacks[] = {
    {"virtqueue", attack_virtqueue, 40}, {"common", attack_common, 8},
    {"features", attack_features, 6},    {"config", attack_device_config, 6},
    {"notify", attack_notify, 6},        {"msix", attack_msix, 6},
    {"pci", attack_pci_config, 6},       {"cfgwindow", attack_cfg_window, 4},
    {"ports", attack_ports, 6},          {"fwcfg", attack_fw_cfg, 3},
    {"mmio", attack_mmio, 8},
};
#define ATTACK_COUNT (sizeof(attacks) / sizeof(attacks[0]))

/* --- the well-behaved disk --------------------------------------------------- */

#define CHECK_QUEUE_SIZE 8
static struct desc check_desc[CHECK_QUEUE_SIZE] __attribute__((aligned(4096)));
static uint16_t check_avail[3 + CHECK_QUEUE_SIZE] __attribute__((aligned(4096)));
static uint16_t check_used[3 + 4 * CHECK_QUEUE_SIZE] __attribute__((aligned(4096)));
static struct {
    uint32_t type, reserved;
    uint64_t sector;
} check_request __attribute__((aligned(16)));
static uint8_t check_data[4096] __attribute__((aligned(4096)));
static volatile uint8_t check_status;
static uint16_t check_avail_idx, check_last_used;
static uint64_t check_capacity;
static unsigned checks_ok;

static bool check_disk_init(void)
{
    struct device *disk = check_disk;
    device_negotiate(disk, 0, F_VERSION_1_HIGH);
    if (!(mmio_read8(disk->common + COMMON_DEVICE_STATUS) & STATUS_FEATURES_OK)) {
        say_fail("the well-behaved disk refused FEATURES_OK");
        return false;
    }
    mmio_write16(disk->common + COMMON_QUEUE_SELECT, 0);
    mmio_write16(disk->common + COMMON_QUEUE_SIZE, CHECK_QUEUE_SIZE);
    mmio_write64(disk->common + COMMON_QUEUE_DESC, (uint32_t)(uintptr_t)check_desc);
    mmio_write64(disk->common + COMMON_QUEUE_DRIVER, (uint32_t)(uintptr_t)check_avail);
    mmio_write64(disk->common + COMMON_QUEUE_DEVICE, (uint32_t)(uintptr_t)check_used);
    mmio_write16(disk->common + COMMON_QUEUE_ENABLE, 1);
    mmio_write8(disk->common + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER |
                                                    STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    check_capacity = mmio_read32(disk->config) | (uint64_t)mmio_read32(disk->config + 4) << 32;
    say("well-behaved disk: %llu sectors", U64(check_capacity));
    return check_capacity >= 8;
}

/* What the test wrote into the well-behaved disk's sector s at offset i. */
static uint8_t check_pattern(uint32_t sector, uint32_t i)
{
    return (uint8_t)(sector * 7 + i * 13 + (sector >> 8) + 0x5a);
}

static bool check_read(uint32_t sector)
{
    struct device *disk = check_disk;
    check_request.type = 0; /* IN */
    check_request.reserved = 0;
    check_request.sector = sector;
    check_status = 0xff;
    memset(check_data, 0, 512);
    check_desc[0] = (struct desc){(uint32_t)(uintptr_t)&check_request, 16, DESC_F_NEXT, 1};
    check_desc[1] = (struct desc){(uint32_t)(uintptr_t)check_data, 512, DESC_F_WRITE | DESC_F_NEXT, 2};
    check_desc[2] = (struct desc){(uint32_t)(uintptr_t)&check_status, 1, DESC_F_WRITE, 0};
    volatile uint16_t *avail = check_avail;
    avail[2 + check_avail_idx % CHECK_QUEUE_SIZE] = 0;
    memory_barrier();
    avail[1] = ++check_avail_idx;
    memory_barrier();
    mmio_write16(disk->notify, 0);
    uint64_t start = now_ms();
    volatile uint16_t *used = check_used;
    while (used[1] == check_last_used) {
        if (now_ms() - start > 5000) {
            say_fail("check: the well-behaved disk did not answer a read of sector %u in 5 s", sector);
            return false;
        }
        __asm__ volatile("pause");
    }
    memory_barrier();
    check_last_used++;
    if (now_ms() - start > longest_check_ms)
        longest_check_ms = (uint32_t)(now_ms() - start);
    if (check_status != 0) {
        say_fail("check: the well-behaved disk's read of sector %u has status %u", sector,
                 check_status);
        return false;
    }
    for (uint32_t i = 0; i < 512; i++)
        if (check_data[i] != check_pattern(sector, i)) {
            say_fail("check: sector %u byte %u is 0x%02x, not 0x%02x", sector, i, check_data[i],
                     check_pattern(sector, i));
            return false;
        }
    return true;
}

static void check_well_behaved(unsigned number)
{
    if (!check_disk)
        return;
    /* Its own generator: the checks must not shift the attacks' sequence
     * when they are made more or less often. */
    uint32_t sector = (uint32_t)(number * 2654435761u) % (uint32_t)(check_capacity < 0x10000 ? check_capacity : 0x10000);
    if (check_read(sector)) {
        checks_ok++;
        say("check %u ok (sector %u)", number, sector);
    }
}

/* --- flood mode -------------------------------------------------------------- */

/* One queue kept full of expensive requests, re-posted as they complete,
 * while every byte that comes in on the UART goes straight back out: the
 * test measures from outside how long an echo and a stop take. */
struct flood {
    struct queue queue;
    bool active;
};

static void echo_uart(void)
{
    while (inb(LINE_STATUS) & LINE_STATUS_DATA_READY) {
        uint8_t byte = inb(COM1);
        for (unsigned tries = 0; tries < 100000 && !(inb(LINE_STATUS) & LINE_STATUS_THR_EMPTY); tries++)
            ;
        outb(COM1, byte);
    }
}

static bool flood_setup(struct flood *flood, struct device *device)
{
    unsigned q;
    switch (device->type) {
    case ID_BALLOON: q = 0; break;
    case ID_RNG: q = 0; break;
    case ID_GPU: q = 0; break;
    default: return false;
    }
    device_negotiate(device, device->features[0] & F_INDIRECT_DESC, F_VERSION_1_HIGH);
    struct queue *queue = &flood->queue;
    queue_setup(queue, device, q, true);
    mmio_write8(device->common + COMMON_DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER |
                                                      STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    volatile struct desc *table = (volatile struct desc *)(uintptr_t)queue->desc;
    uint16_t size = queue->ring_size;
    if (device->type == ID_BALLOON) {
        /* Every chain: 16 page lists of 4096 page numbers each (runs of
         * pool pages, wrapping inside it): 65536 pages a request. */
        for (unsigned l = 0; l < 4; l++)
            for (uint32_t i = 0; i < 4096; i++)
                ((volatile uint32_t *)(uintptr_t)(lists + 16384 * l))[i] =
                    (pool >> 12) + (l * 4096 + i) % ((pool_end - pool) >> 12);
        uint16_t chain_length = size / 8 ? (uint16_t)(size / 8) : 1;
        for (uint16_t i = 0; i < size; i++)
            table[i] = (struct desc){lists + 16384 * (i % 4), 16384,
                                     (uint16_t)((i + 1) % chain_length ? DESC_F_NEXT : 0),
                                     (uint16_t)((i + 1) % size)};
        for (uint16_t head = 0; head < size; head += chain_length)
            queue_publish(queue, head);
    } else if (device->type == ID_RNG) {
        /* 64 MiB a request: 16 buffers of 4 MiB, all the same pool range. */
        for (uint16_t i = 0; i < size; i++)
            table[i] = (struct desc){pool, 4u << 20, DESC_F_WRITE | ((i + 1) % 16 ? DESC_F_NEXT : 0),
                                     (uint16_t)((i + 1) % size)};
        for (uint16_t head = 0; head < size; head += 16)
            queue_publish(queue, head);
    } else {
        /* A 4096x4096 resource backed by the pool (16 MiB, four times),
         * then TRANSFER_TO_HOST_2D of all of it, over and over. */
        uint8_t *commands = (uint8_t *)(uintptr_t)queue->flood_area;
        uint8_t *response = (uint8_t *)(uintptr_t)(pool_end - 4096);
        memset(commands, 0, 0x400);
        put32(commands, 0x101);
        put32(commands + 24, 1);
        put32(commands + 28, 1); /* B8G8R8A8 */
        put32(commands + 32, 4096);
        put32(commands + 36, 4096);
        uint8_t *attach = commands + 0x100;
        put32(attach, 0x106);
        put32(attach + 24, 1);
        put32(attach + 28, 4);
        for (unsigned e = 0; e < 4; e++) {
            put64(attach + 32 + 16 * e, pool);
            put32(attach + 40 + 16 * e, 16u << 20);
        }
        uint8_t *transfer = commands + 0x200;
        put32(transfer, 0x105);
        put32(transfer + 32, 4096);
        put32(transfer + 36, 4096);
        put32(transfer + 48, 1);
        for (uint16_t i = 0; i < size; i += 2) {
            uint8_t *command = i == 0 ? commands : i == 2 ? attach : transfer;
            uint32_t length = i == 0 ? 40 : i == 2 ? 96 : 56;
            table[i] = (struct desc){(uint32_t)(uintptr_t)command, length, DESC_F_NEXT, (uint16_t)(i + 1)};
            table[i + 1] = (struct desc){(uint32_t)(uintptr_t)response, 24, DESC_F_WRITE, 0};
            queue_publish(queue, i);
        }
    }
    notify_queue(device, q);
    flood->active = true;
    say("flood: %s queue %u full (%u entries)", device->name, q, size);
    return true;
}

/* Puts every completed chain back: the ring stays full. */
static void flood_refill(struct flood *flood)
{
    struct queue *queue = &flood->queue;
    volatile uint32_t *used = (volatile uint32_t *)(uintptr_t)(queue->used + 4);
    uint16_t used_index = queue_used_index(queue);
    bool any = false;
    while (queue->last_used != used_index) {
        uint32_t id = used[2 * (queue->last_used % queue->ring_size)];
        queue->last_used++;
        /* The GPU's create and attach need doing once; after them, only
         * transfers are put back. */
        if (queue->device->type == ID_GPU && id < 4)
            id = 4;
        queue_publish(queue, (uint16_t)(id % queue->ring_size));
        any = true;
        echo_uart();
    }
    if (any)
        notify_queue(queue->device, queue->index);
}

static void flood_run(void)
{
    static struct flood floods[MAX_DEVICES];
    unsigned active = 0;
    for (unsigned i = 0; i < attackable_count && !options.echo_only; i++)
        if (flood_setup(&floods[i], &devices[attackable[i]]))
            active++;
    /* The VMM passes input on only to a UART whose receive interrupt is
     * on (as Linux's driver has it); with interrupts off in the CPU, the
     * interrupt is never taken and the bytes are polled. */
    outb(COM1 + 1, 0x01);
    say("flood running: %u queues; echoing the UART", active);
    uint64_t deadline = now_ms() + (uint64_t)options.seconds * 1000;
    /* No heartbeat here: every byte of output after "flood running" is an
     * echo, which is what the test counts. */
    while (now_ms() < deadline) {
        echo_uart();
        for (unsigned i = 0; i < attackable_count; i++)
            if (floods[i].active) {
                flood_refill(&floods[i]);
                echo_uart();
            }
    }
    for (unsigned i = 0; i < attackable_count; i++)
        if (floods[i].active)
            device_reset(floods[i].queue.device);
    say("flood done");
}

/* --- this image, watched ------------------------------------------------------ */

/* The image's code, read-only data and data do not change once the run has
 * started (and the IDT with them): a sum over them after each attack tells
 * a device that wrote into the attacker (the VMM's bug, or a path this
 * guest failed to keep away from it) from a bug of ours, and names the
 * attack, before the damage runs into the code. */
extern const uint8_t __image_start[], __image_end[];

/* In verbose runs, the image's first page (entry, stubs, GDT) is compared
 * with a copy at points inside the attacks too, to name the step that
 * changed it. */
static uint8_t first_page_copy[4096];

static void watch(const char *where)
{
    if (!options.verbose)
        return;
    const volatile uint8_t *page = (const volatile uint8_t *)__image_start;
    for (unsigned i = 0; i < 4096; i++)
        if (page[i] != first_page_copy[i]) {
            say_fail("%s: the image's first page changed at offset 0x%x (0x%02x, was 0x%02x)",
                     where, i, page[i], first_page_copy[i]);
            reset();
        }
}

static uint32_t image_sum(void)
{
    uint32_t sum = 0x811c9dc5;
    for (const uint32_t *p = (const uint32_t *)__image_start; p < (const uint32_t *)__image_end; p++)
        sum = (sum ^ *p) * 0x01000193;
    for (unsigned i = 0; i < 256; i++)
        sum = (sum ^ (uint32_t)idt[i] ^ (uint32_t)(idt[i] >> 32)) * 0x01000193;
    return sum;
}

/* --- main ------------------------------------------------------------------- */

static void read_memory_map(uint32_t info)
{
    uint32_t flags = get32(phys_ptr(info));
    if (!(flags & (1u << 6)))
        return;
    uint32_t length = get32(phys_ptr(info + 44)), address = get32(phys_ptr(info + 48));
    for (uint32_t offset = 0; offset + 24 <= length;) {
        const uint8_t *entry = phys_ptr(address + offset);
        uint32_t size = get32(entry);
        uint64_t start = get64(entry + 4), bytes = get64(entry + 12);
        if (get32(entry + 20) == 1 && start + bytes <= FOUR_GIB && start + bytes > ram_top &&
            bytes >= 2 * ARENA_SIZE)
            ram_top = (uint32_t)(start + bytes);
        offset += size + 4;
    }
}

void chaos_main(uint32_t magic, uint32_t info);

void chaos_main(uint32_t magic, uint32_t info)
{
    idt_install();
    static char command_line[1024];
    if (magic == 0x2badb002 && (get32(phys_ptr(info)) & (1u << 2))) {
        const char *line = phys_ptr(get32(phys_ptr(info + 16)));
        size_t i = 0;
        for (; i + 1 < sizeof(command_line) && line[i]; i++)
            command_line[i] = line[i];
        command_line[i] = 0;
    }
    bool seeded = parse_command_line(command_line);
    tsc_calibrate();
    if (!seeded)
        options.seed = rdtsc() ^ (rdtsc() << 29);
    rng_state = options.seed;
    say("seed %llu", U64(options.seed));
    say("seconds %u mode %s tsc %llu per ms", options.seconds, options.echo_only ? "echo" : options.flood ? "flood" : "attack",
        U64(tsc_per_ms));
    if (magic == 0x2badb002)
        read_memory_map(info);
    /* The boot structures there (the multiboot memory map names 0x100000)
     * go: see LOW_MEMORY_START.  By rep stos, since a C store through
     * address 0 is undefined. */
    uint32_t destination = 0, words = LOW_MEMORY_START / 4;
    __asm__ volatile("rep stosl" : "+D"(destination), "+c"(words) : "a"(0) : "memory");
    if (ram_top < 4 * ARENA_SIZE) {
        say_fail("no RAM for the arena (top of RAM 0x%x); give the VM 128 MiB or more", ram_top);
        reset();
    }
    arena = ram_top - ARENA_SIZE;
    pool = arena + MAX_DEVICES * SLAB_SIZE;
    protected_area = ram_top - PROTECTED_SIZE;
    lists = ram_top - LISTS_SIZE;
    pool_end = protected_area;
    /* The lists start out as page numbers a balloon may be given. */
    balloon_words_choose();
    fill_balloon_pages((uint8_t *)(uintptr_t)lists, LISTS_SIZE);
    say("arena 0x%x-0x%x pool 0x%x-0x%x", arena, ram_top, pool, pool_end);
    discover();
    if (attackable_count == 0) {
        say_fail("no virtio device to attack");
        reset();
    }
    if (check_disk && !check_disk_init())
        reset();
    start_second_cpu();
    if (options.flood) {
        flood_run();
        restore_pci();
        check_well_behaved(0);
    } else {
        unsigned weights = 0;
        for (unsigned a = 0; a < ATTACK_COUNT; a++)
            if (!listed(options.skip, attacks[a].name))
                weights += attacks[a].weight;
        if (weights == 0) {
            say_fail("every attack skipped");
            reset();
        }
        uint32_t image_expected = image_sum();
        memcpy(first_page_copy, __image_start, 4096);
        uint64_t start = now_ms(), deadline = start + (uint64_t)options.seconds * 1000;
        uint64_t last_heartbeat = start;
        unsigned long long count = 0;
        unsigned checks = 0, since_check = 0;
        while (now_ms() < deadline) {
            unsigned pick = below(weights);
            const struct attack *attack = attacks;
            for (unsigned a = 0; a < ATTACK_COUNT; a++) {
                if (listed(options.skip, attacks[a].name))
                    continue;
                if (pick < attacks[a].weight) {
                    attack = &attacks[a];
                    break;
                }
                pick -= attacks[a].weight;
            }
            uint64_t attack_start = now_ms();
            if (options.verbose)
                say("attack %llu %s", count, attack->name);
            attack->run();
            if (image_sum() != image_expected) {
                say_fail("attack %llu (%s on %s at slot %u) changed this image's code or data: "
                         "something wrote into the guest's own memory", count, attack->name,
                         attack_target ? attack_target->name : "-",
                         attack_target ? attack_target->slot : 0);
                break;
            }
            if (options.verbose)
                say("attack %llu took %u ms (%s at slot %u)", count,
                    (unsigned)(now_ms() - attack_start), attack_target ? attack_target->name : "-",
                    attack_target ? attack_target->slot : 0);
            attack_target = NULL;
            restore_pci();
            count++;
            if (++since_check == options.check_every) {
                since_check = 0;
                check_well_behaved(++checks);
            }
            if (now_ms() - last_heartbeat >= 1000) {
                last_heartbeat = now_ms();
                say("heartbeat %u s, %llu attacks", (unsigned)(last_heartbeat - start) / 1000, count);
            }
            if (failures)
                break;
        }
        for (unsigned i = 0; i < attackable_count; i++)
            device_reset(&devices[attackable[i]]);
        check_well_behaved(++checks);
        if (!failures)
            say("survived %u seconds, %llu attacks, %u checks ok", options.seconds, count, checks_ok);
    }
    if (ap_started)
        say("second cpu: %u rounds of register writes", ap_operations);
    say("longest reset %u ms, longest well-behaved read %u ms", longest_reset_ms, longest_check_ms);
    if (chaos_nmi_count || chaos_other_vector_count)
        say("nmis %u, other vectors %u", chaos_nmi_count, chaos_other_vector_count);
    if (failures) {
        say("FAILED %u", failures);
        reset();
    }
    say("PASS");
    power_off();
}
