/* The Zircon (ZBI) protocol on x86-64, entered from start64.S: what the
 * boot loader must have done (zircon/boot/image.h): the kernel ZBI loaded
 * at 1 MiB with reserve_memory_size bytes free after it, 64-bit mode with
 * physical memory identity-mapped, %rsi holding the page-aligned address of
 * a container it built with the machine's description. */
#include "probe.h"

#include "boot/zbi_format.h"

#define CR0_PE 0x1ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define MSR_EFER 0xc0000080u
#define EFER_LMA 0x400ULL
#define RFLAGS_IF 0x200ULL
#define E820_ENTRY_SIZE 20u

/* From zircon.ld and start64.S. */
extern char _start[], __image_end[], _end[];
extern const volatile uint64_t probe_tail_marker;
#define PROBE_TAIL_VALUE 0x444e452d45424f52ULL /* "ROBE-END" */

void zbi_probe_main(uint64_t container_address, uint64_t rflags);

static void check_cpu_state(uint64_t rflags)
{
    uint64_t cr0, cr4;
    uint32_t efer_low, efer_high;
    uint16_t cs;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("rdmsr" : "=a"(efer_low), "=d"(efer_high) : "c"(MSR_EFER));
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    uint64_t efer = (uint64_t)efer_high << 32 | efer_low;
    check((cr0 & (CR0_PE | CR0_PG)) == (CR0_PE | CR0_PG), "CR0.PE and CR0.PG set (cr0 0x%llx)",
          U64(cr0));
    check(cr4 & CR4_PAE, "CR4.PAE set (cr4 0x%llx)", U64(cr4));
    check(efer & EFER_LMA, "EFER.LMA set (efer 0x%llx)", U64(efer));
    check(!(rflags & RFLAGS_IF), "RFLAGS.IF clear (rflags 0x%llx)", U64(rflags));
    /* Running this code at all says CS is a 64-bit code segment. */
    check((cs & 3) == 0, "64-bit code segment at CPL 0 (cs 0x%x)", cs);
}

/* Our own kernel image as loaded at 1 MiB: where it ends and what it
 * reserved after itself. Returns the end of the reserved scratch memory. */
static uint64_t check_kernel_image(void)
{
    const uint8_t *base = phys_ptr(ZBI_X64_KERNEL_LOAD_ADDRESS);
    struct zbi_header container, kernel_item;
    struct zbi_kernel kernel;
    memcpy(&container, base, sizeof(container));
    memcpy(&kernel_item, base + sizeof(container), sizeof(kernel_item));
    memcpy(&kernel, base + 2 * sizeof(container), sizeof(kernel));
    uint64_t image_end =
        ZBI_X64_KERNEL_LOAD_ADDRESS + 2 * sizeof(struct zbi_header) + kernel_item.length;
    check(container.type == ZBI_TYPE_CONTAINER && kernel_item.type == ZBI_TYPE_KERNEL_X64,
          "kernel ZBI at 0x100000: container and KERNEL_X64 headers (0x%08x, 0x%08x)",
          container.type, kernel_item.type);
    check(kernel.entry == (uintptr_t)_start, "kernel entry 0x%llx is _start (0x%llx)",
          U64(kernel.entry), U64((uintptr_t)_start));
    check(image_end >= (uintptr_t)__image_end && probe_tail_marker == PROBE_TAIL_VALUE,
          "kernel image loaded whole: 0x100000-0x%llx, file ends at 0x%llx",
          U64(image_end), U64((uintptr_t)__image_end));
    check(image_end + kernel.reserve_memory_size >= (uintptr_t)_end,
          "reserve_memory_size 0x%llx covers bss and stack (to 0x%llx)",
          U64(kernel.reserve_memory_size), U64((uintptr_t)_end));
    return image_end + kernel.reserve_memory_size;
}

static void check_memory_map(const struct zbi_found *found, uint64_t kernel_end,
                             uint64_t container_address, uint64_t container_end)
{
    if (!check(found->e820_count == 1, "exactly one E820_TABLE item (found %u)",
               found->e820_count))
        return;
    if (!check(found->e820_length % E820_ENTRY_SIZE == 0 && found->e820_length > 0,
               "E820_TABLE length %u is a non-zero multiple of %u", found->e820_length,
               E820_ENTRY_SIZE))
        return;
    for (uint32_t at = 0; at < found->e820_length; at += E820_ENTRY_SIZE) {
        struct zbi_e820_entry entry;
        memcpy(&entry, found->e820 + at, sizeof(entry));
        probe_printf("e820 0x%llx-0x%llx %u", U64(entry.paddr), U64(entry.paddr + entry.length),
                     entry.type);
        if (!memory_map_add(entry.paddr, entry.length, entry.type)) {
            fail("more than %u e820 entries", MEMORY_MAP_MAX);
            break;
        }
    }
    memory_map_check_sane("e820");
    check(memory_map_is_ram(ZBI_X64_KERNEL_LOAD_ADDRESS, kernel_end),
          "e820 RAM covers the kernel and its reserve 0x100000-0x%llx", U64(kernel_end));
    check(memory_map_is_ram(container_address, container_end),
          "e820 RAM covers the container 0x%llx-0x%llx", U64(container_address),
          U64(container_end));
    check(container_end <= ZBI_X64_KERNEL_LOAD_ADDRESS || container_address >= kernel_end,
          "container 0x%llx-0x%llx clear of the kernel and its reserve 0x100000-0x%llx",
          U64(container_address), U64(container_end), U64(kernel_end));
}

void zbi_probe_main(uint64_t container_address, uint64_t rflags)
{
    probe_printf("protocol zbi");
    check_cpu_state(rflags);
    uint64_t kernel_end = check_kernel_image();

    if (check(container_address != 0 && container_address % PAGE_SIZE == 0 &&
                  phys_reachable(container_address, sizeof(struct zbi_header)),
              "rsi 0x%llx: nonzero, page-aligned, below 4 GiB", U64(container_address))) {
        struct zbi_found found;
        uint64_t size = zbi_walk(phys_ptr(container_address), FOUR_GIB - container_address,
                                 &found);
        if (size) {
            check(found.kernel_count == 0, "no kernel item in the boot loader's container");
            /* A ramdisk may bring command-line items of its own (Zircon
             * joins them); the boot loader's, with TERM=uart, comes last. */
            if (check(found.cmdline_count >= 1, "a CMDLINE item (found %u)",
                      found.cmdline_count))
                check(found.cmdline_length >= 9 && memcmp(found.cmdline, "TERM=uart", 9) == 0,
                      "the last CMDLINE item is the boot loader's (TERM=uart ...)");
            check_memory_map(&found, kernel_end, container_address, container_address + size);
            if (check(found.rsdp_count == 1, "exactly one ACPI_RSDP item (found %u)",
                      found.rsdp_count))
                acpi_check_rsdp(found.rsdp);
            check(found.uart_count == 1 && found.uart_base == 0x3f8,
                  "one i8250 PIO UART KERNEL_DRIVER item, base 0x3f8 (found %u, base 0x%x)",
                  found.uart_count, found.uart_base);
        }
    }
    probe_pci_and_disk();
    probe_finish();
}
