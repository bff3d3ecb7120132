/* Where things live in guest-physical memory.  One place, so the loaders, the
 * e820 map and the ACPI tables agree. */
#ifndef GUEST_X86_LAYOUT_H
#define GUEST_X86_LAYOUT_H

/* The boot GDT (null, code32, code64, data, tss) the vCPU starts with. */
#define LAYOUT_BOOT_GDT 0x500
#define LAYOUT_BOOT_GDT_CODE32_SELECTOR 0x08
#define LAYOUT_BOOT_GDT_CODE64_SELECTOR 0x10 /* __BOOT_CS of the Linux boot protocol */
#define LAYOUT_BOOT_GDT_DATA_SELECTOR 0x18   /* __BOOT_DS */
#define LAYOUT_BOOT_GDT_TSS_SELECTOR 0x20

/* PVH start info, its module list and its memory map. */
#define LAYOUT_PVH_START_INFO 0x6000
#define LAYOUT_PVH_MODULES 0x6100
#define LAYOUT_PVH_MEMMAP 0x6200 /* up to 128 entries of 24 bytes */

/* Linux zero page (struct boot_params). */
#define LAYOUT_ZERO_PAGE 0x7000

/* Multiboot: the same page, since a guest is booted by one protocol only:
 * multiboot_info, the module list, the memory map, the loader's name. */
#define LAYOUT_MULTIBOOT_INFO 0x7000
#define LAYOUT_MULTIBOOT_MODULES 0x7100
#define LAYOUT_MULTIBOOT_MEMORY_MAP 0x7200 /* E820_MAX_ENTRIES of 24 bytes */
#define LAYOUT_MULTIBOOT_LOADER_NAME 0x7400

/* Identity-mapping page tables for 64-bit entry: PML4, PDPT, 4 page directories of 2 MiB pages. */
#define LAYOUT_PML4 0x9000
#define LAYOUT_PDPT 0xa000
#define LAYOUT_PAGE_DIRECTORIES 0xb000 /* 4 pages: 0xb000..0xefff, maps 4 GiB */

/* Kernel command line. */
#define LAYOUT_CMDLINE 0x20000
#define LAYOUT_CMDLINE_MAX 0x10000

/* Top of conventional memory; the EBDA and the legacy hole follow. */
#define LAYOUT_EBDA_START 0x9fc00
#define LAYOUT_LEGACY_HOLE_START 0xa0000

/* ACPI tables, in the BIOS area where a legacy RSDP scan also finds them.
 * The whole BIOS area (0xe0000..1 MiB) is reserved in the e820 map. */
#define LAYOUT_ACPI_START 0xe0000
#define LAYOUT_ACPI_TABLES_END 0xf0000
#define LAYOUT_ACPI_END 0x100000
/* The SMBIOS entry point and structures, after the ACPI tables, where Linux
 * scans for the entry point (0xf0000..0xfffff, 16-byte steps). */
#define LAYOUT_SMBIOS_START 0xf0000
#define LAYOUT_SMBIOS_END 0xf1000
/* Where a real-mode jump to the BIOS reset entry (f000:fff0) lands. */
#define LAYOUT_RESET_VECTOR 0xffff0

#define LAYOUT_HIGH_MEMORY_START 0x100000ULL /* 1 MiB */

/* RAM below 4 GiB stops here; the rest goes above 4 GiB.  The gap holds
 * the IOAPIC, the local APICs and (later) PCI windows. */
#define LAYOUT_LOW_RAM_LIMIT 0xc0000000ULL
#define LAYOUT_HIGH_RAM_START 0x100000000ULL

/* PCI BARs are placed in [start, end): from the end of low RAM's limit
 * to the IOAPIC. */
#define LAYOUT_PCI_MMIO_START 0xc0000000U
#define LAYOUT_PCI_MMIO_END 0xfec00000U

#define LAYOUT_IOAPIC_ADDRESS 0xfec00000U
#define LAYOUT_LOCAL_APIC_ADDRESS 0xfee00000U

/* --test-devices: pc-testdev's 64 KiB of scratch MMIO, where QEMU puts it:
 * above the IOAPIC and the local APICs, below KVM's pages. */
#define LAYOUT_TEST_DEVICES_MMIO 0xff000000U

/* KVM on Intel needs three pages for real-mode emulation support. */
#define LAYOUT_KVM_TSS 0xfffbd000ULL
#define LAYOUT_KVM_IDENTITY_MAP 0xfffbc000ULL

/* I/O ports of the ACPI hardware-reduced sleep and reset registers. */
#define LAYOUT_ACPI_SLEEP_CONTROL_PORT 0x600
#define LAYOUT_ACPI_SLEEP_STATUS_PORT 0x601
#define LAYOUT_ACPI_RESET_PORT 0x602
#define LAYOUT_ACPI_RESET_VALUE 0x1
#define LAYOUT_ACPI_S5_SLEEP_TYPE 5

#endif
