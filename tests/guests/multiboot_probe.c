/* The multiboot (0.6.96) protocol, entered from start32.S: EAX holds
 * 0x2BADB002, EBX the physical address of the multiboot information, in
 * 32-bit protected mode with paging off, flat segments and interrupts off. */
#include "probe.h"

#include "boot/zbi_format.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u
#define CR0_PE 0x1u
#define CR0_PG 0x80000000u
#define EFLAGS_IF 0x200u
#define EFLAGS_VM 0x20000u
#define KERNEL_START 0x100000u

/* multiboot_info.flags */
#define INFO_MEMORY (1u << 0)
#define INFO_CMDLINE (1u << 2)
#define INFO_MODULES (1u << 3)
#define INFO_MMAP (1u << 6)
#define INFO_LOADER_NAME (1u << 9)

/* Offsets in multiboot_info. */
#define INFO_FLAGS 0
#define INFO_MEM_LOWER 4
#define INFO_MEM_UPPER 8
#define INFO_CMDLINE_ADDR 16
#define INFO_MODS_COUNT 20
#define INFO_MODS_ADDR 24
#define INFO_MMAP_LENGTH 44
#define INFO_MMAP_ADDR 48
#define INFO_LOADER_NAME_ADDR 64
#define INFO_SIZE 68 /* through boot_loader_name */

/* From multiboot.ld and start32.S. */
extern char _start[], __image_end[], _end[];
extern const volatile uint64_t probe_tail_marker;
#define PROBE_TAIL_VALUE 0x444e452d45424f52ULL /* "ROBE-END" */
static volatile uint32_t a20_probe;

void multiboot_probe_main(uint32_t magic, uint32_t info_address, uint32_t eflags,
                          uint32_t bss_was_dirty);

static void check_cpu_state(uint32_t eflags)
{
    uint32_t cr0;
    uint16_t cs, ds, es, fs, gs, ss;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    __asm__ volatile("mov %%ds, %0" : "=r"(ds));
    __asm__ volatile("mov %%es, %0" : "=r"(es));
    __asm__ volatile("mov %%fs, %0" : "=r"(fs));
    __asm__ volatile("mov %%gs, %0" : "=r"(gs));
    __asm__ volatile("mov %%ss, %0" : "=r"(ss));
    check((cr0 & CR0_PE) && !(cr0 & CR0_PG), "CR0.PE set, CR0.PG clear (cr0 0x%x)", cr0);
    check(!(eflags & (EFLAGS_IF | EFLAGS_VM)), "EFLAGS.IF and VM clear (eflags 0x%x)", eflags);
    probe_printf("segments cs 0x%x ds 0x%x es 0x%x fs 0x%x gs 0x%x ss 0x%x", cs, ds, es, fs, gs,
                 ss);
    /* With A20 masked, address bit 20 reads as 0: our variable (between 1
     * and 2 MiB) would alias one 1 MiB lower. */
    volatile uint32_t *alias = phys_ptr((uintptr_t)&a20_probe & ~0x100000u);
    uint32_t before = *alias;
    a20_probe = before + 0x5a5a5a5a;
    check(*alias == before, "A20 enabled");
}

static void check_image(uint32_t bss_was_dirty)
{
    check(probe_tail_marker == PROBE_TAIL_VALUE, "kernel image loaded whole: 0x%x-0x%x",
          KERNEL_START, (unsigned)(uintptr_t)__image_end);
    check(!bss_was_dirty, "bss zeroed by the boot loader: 0x%x-0x%x",
          (unsigned)(uintptr_t)__image_end, (unsigned)(uintptr_t)_end);
}

static bool overlaps_kernel(uint32_t start, uint32_t end)
{
    return start < (uintptr_t)_end && end > KERNEL_START;
}

static void check_memory_map(const uint8_t *info)
{
    if (!check(get32(info + INFO_FLAGS) & INFO_MMAP, "memory map given (flag 6)"))
        return;
    uint32_t length = get32(info + INFO_MMAP_LENGTH), address = get32(info + INFO_MMAP_ADDR);
    probe_printf("mmap at 0x%x length %u", address, length);
    if (!memory_map_read_multiboot(address, length))
        return;
    memory_map_check_sane("mmap");
    check(memory_map_is_ram(KERNEL_START, (uintptr_t)_end), "mmap RAM covers the kernel 0x%x-0x%x",
          KERNEL_START, (unsigned)(uintptr_t)_end);
}

static void check_modules(const uint8_t *info)
{
    uint32_t count = get32(info + INFO_MODS_COUNT), list = get32(info + INFO_MODS_ADDR);
    probe_printf("modules %u at 0x%x", count, list);
    for (uint32_t i = 0; i < count && i < 64; i++) {
        const uint8_t *module = phys_ptr(list + 16 * i);
        uint32_t start = get32(module), end = get32(module + 4), string = get32(module + 8);
        probe_printf("module 0x%x-0x%x \"%s\"", start, end,
                     string ? printable(phys_ptr(string), 256) : "");
        check(start <= end && start % PAGE_SIZE == 0 && memory_map_is_ram(start, end) &&
                  !overlaps_kernel(start, end),
              "module %u page-aligned, in RAM, clear of the kernel", i);
        if (end - start >= sizeof(struct zbi_header) &&
            get32(phys_ptr(start)) == ZBI_TYPE_CONTAINER &&
            get32(phys_ptr(start + 8)) == ZBI_CONTAINER_MAGIC) {
            probe_printf("module is a ZBI container");
            struct zbi_found found;
            zbi_walk(phys_ptr(start), end - start, &found);
        }
    }
}

void multiboot_probe_main(uint32_t magic, uint32_t info_address, uint32_t eflags,
                          uint32_t bss_was_dirty)
{
    probe_printf("protocol multiboot");
    check(magic == MULTIBOOT_BOOTLOADER_MAGIC, "EAX 0x%x is the multiboot magic", magic);
    check_cpu_state(eflags);
    check_image(bss_was_dirty);

    if (check(magic == MULTIBOOT_BOOTLOADER_MAGIC && info_address != 0 &&
                  !overlaps_kernel(info_address, info_address + INFO_SIZE),
              "multiboot info at 0x%x, clear of the kernel", info_address)) {
        const uint8_t *info = phys_ptr(info_address);
        uint32_t flags = get32(info + INFO_FLAGS);
        probe_printf("info flags 0x%x", flags);
        if (check(flags & INFO_MEMORY, "memory info given (flag 0)"))
            probe_printf("mem_lower %u KiB mem_upper %u KiB", get32(info + INFO_MEM_LOWER),
                         get32(info + INFO_MEM_UPPER));
        if (flags & INFO_CMDLINE)
            probe_printf("cmdline \"%s\"",
                         printable(phys_ptr(get32(info + INFO_CMDLINE_ADDR)), 4096));
        else
            probe_printf("no cmdline");
        if (flags & INFO_LOADER_NAME)
            probe_printf("boot loader \"%s\"",
                         printable(phys_ptr(get32(info + INFO_LOADER_NAME_ADDR)), 256));
        check_memory_map(info);
        if (flags & INFO_MODULES)
            check_modules(info);
        else
            probe_printf("modules none");
    }

    uint64_t rsdp = acpi_find_rsdp();
    if (check(rsdp != 0, "RSDP found in 0xe0000-0xfffff"))
        acpi_check_rsdp(rsdp);
    probe_pci_and_disk();
    probe_finish();
}
