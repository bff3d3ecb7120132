#include "boot/multiboot.h"

#include <elf.h>
#include <string.h>

#include "x86/e820.h"
#include "x86/layout.h"

#define FOUR_GIB 0x100000000ULL
#define MAX_PROGRAM_HEADERS 64
/* Requirement bits (0-15) this loader meets; any other is refused, as the
 * specification asks of a loader that cannot honour one. */
#define SUPPORTED_REQUIREMENTS (MULTIBOOT_FLAG_PAGE_ALIGN_MODULES | MULTIBOOT_FLAG_MEMORY_INFO)
#define LOADER_NAME "guest"

struct __attribute__((packed)) multiboot_header {
    uint32_t magic;
    uint32_t flags;
    uint32_t checksum;
    /* Valid with MULTIBOOT_FLAG_ADDRESS_FIELDS. */
    uint32_t header_addr;
    uint32_t load_addr;
    uint32_t load_end_addr;
    uint32_t bss_end_addr;
    uint32_t entry_addr;
};

/* multiboot_info as the specification lays it out (with the framebuffer
 * fields of 0.6.96, left zero). */
struct __attribute__((packed)) multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;
    uint32_t mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
    uint32_t mods_count;
    uint32_t mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length;
    uint32_t mmap_addr;
    uint32_t drives_length;
    uint32_t drives_addr;
    uint32_t config_table;
    uint32_t boot_loader_name;
    uint32_t apm_table;
    uint32_t vbe[4];
    uint8_t framebuffer[28];
};
_Static_assert(sizeof(struct multiboot_info) == 116, "multiboot_info layout");

struct __attribute__((packed)) multiboot_module {
    uint32_t mod_start;
    uint32_t mod_end; /* exclusive */
    uint32_t string;
    uint32_t reserved;
};

struct __attribute__((packed)) multiboot_mmap_entry {
    uint32_t size; /* of the rest of the entry: 20 */
    uint64_t address;
    uint64_t length;
    uint32_t type;
};

static int multiboot_find_header(const uint8_t *image, size_t size, struct multiboot_header *found,
                                 uint32_t *found_offset)
{
    size_t limit = size < MULTIBOOT_SEARCH_LENGTH ? size : MULTIBOOT_SEARCH_LENGTH;
    for (size_t offset = 0; offset + 12 <= limit; offset += 4) {
        uint32_t words[3];
        memcpy(words, image + offset, sizeof(words));
        if (words[0] != MULTIBOOT_HEADER_MAGIC || (uint32_t)(words[0] + words[1] + words[2]) != 0)
            continue;
        memset(found, 0, sizeof(*found));
        size_t available = size - offset < sizeof(*found) ? size - offset : sizeof(*found);
        memcpy(found, image + offset, available);
        *found_offset = (uint32_t)offset;
        return 1;
    }
    return 0;
}

bool multiboot_has_header(const uint8_t *image, size_t size)
{
    struct multiboot_header header;
    uint32_t offset;
    return multiboot_find_header(image, size, &header, &offset);
}

/* What a multiboot kernel may not load over: only what the guest really
 * uses.  It is entered in 32-bit mode with paging off, so the 64-bit boot
 * page tables (0x9000-0xefff) are free to overwrite, and so is the boot GDT
 * (the specification tells the kernel not to rely on it).  The command line
 * (LAYOUT_CMDLINE, as long as it is) is checked at load time, when its
 * length is known; the module goes above the kernel and 1 MiB. */
static const struct {
    uint64_t start, end;
    const char *what;
} reserved[] = {
    {LAYOUT_MULTIBOOT_INFO, LAYOUT_MULTIBOOT_LOADER_NAME + sizeof(LOADER_NAME),
     "the multiboot_info, module list, memory map and loader name that guest writes"},
    {LAYOUT_EBDA_START, LAYOUT_HIGH_MEMORY_START,
     "the EBDA, the legacy video hole and the BIOS area with the ACPI tables"},
    {LAYOUT_LOW_RAM_LIMIT, FOUR_GIB, "the hole below 4 GiB (PCI, IOAPIC, local APICs)"},
};

static int add_segment(struct multiboot_info_parsed *info, uint64_t file_offset,
                       uint64_t file_size, uint64_t physical_address, uint64_t memory_size,
                       size_t image_size, struct error *error)
{
    if (info->segment_count == MULTIBOOT_MAX_SEGMENTS)
        return error_set(error, "more than %d loadable segments", MULTIBOOT_MAX_SEGMENTS);
    if (file_size > memory_size)
        return error_set(error, "a segment has more file bytes (%llu) than memory bytes (%llu)",
                         (unsigned long long)file_size, (unsigned long long)memory_size);
    if (file_offset > image_size || file_size > image_size - file_offset)
        return error_set(error, "a segment's bytes (offset %llu, %llu bytes) run past the end "
                                "of the file",
                         (unsigned long long)file_offset, (unsigned long long)file_size);
    if (physical_address >= FOUR_GIB || memory_size > FOUR_GIB - physical_address)
        return error_set(error, "a segment at 0x%llx (%llu bytes) reaches past 4 GiB",
                         (unsigned long long)physical_address, (unsigned long long)memory_size);
    uint64_t end = physical_address + memory_size;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (physical_address < reserved[i].end && reserved[i].start < end)
            return error_set(error, "a segment at 0x%llx-0x%llx overlaps %s (0x%llx-0x%llx)",
                             (unsigned long long)physical_address, (unsigned long long)end,
                             reserved[i].what, (unsigned long long)reserved[i].start,
                             (unsigned long long)reserved[i].end);
    info->segments[info->segment_count++] = (struct multiboot_segment){
        file_offset, file_size, physical_address, memory_size};
    if (info->segment_count == 1 || physical_address < info->image_start)
        info->image_start = physical_address;
    if (physical_address + memory_size > info->image_end)
        info->image_end = physical_address + memory_size;
    return 0;
}

/* The a.out kludge: the header says where the file goes. */
static int parse_address_fields(const struct multiboot_header *header, uint32_t header_offset,
                                size_t size, struct multiboot_info_parsed *info,
                                struct error *error)
{
    if (size - header_offset < sizeof(*header))
        return error_set(error, "the multiboot header's address fields run past the end of "
                                "the file");
    if (header->load_addr > header->header_addr ||
        header->header_addr - header->load_addr > header_offset)
        return error_set(error, "multiboot load_addr 0x%x and header_addr 0x%x put the load "
                                "before the start of the file",
                         header->load_addr, header->header_addr);
    uint64_t file_offset = header_offset - (header->header_addr - header->load_addr);
    uint64_t file_size = size - file_offset;
    if (header->load_end_addr) {
        if (header->load_end_addr < header->load_addr)
            return error_set(error, "multiboot load_end_addr 0x%x is below load_addr 0x%x",
                             header->load_end_addr, header->load_addr);
        if ((uint64_t)header->load_end_addr - header->load_addr > file_size)
            return error_set(error, "multiboot load_end_addr 0x%x asks for more bytes than the "
                                    "file has",
                             header->load_end_addr);
        file_size = (uint64_t)header->load_end_addr - header->load_addr;
    }
    uint64_t memory_size = file_size;
    if (header->bss_end_addr) {
        if (header->bss_end_addr < header->load_addr + file_size)
            return error_set(error, "multiboot bss_end_addr 0x%x is below the end of the load",
                             header->bss_end_addr);
        memory_size = (uint64_t)header->bss_end_addr - header->load_addr;
    }
    info->from_address_fields = true;
    info->entry = header->entry_addr;
    return add_segment(info, file_offset, file_size, header->load_addr, memory_size, size, error);
}

/* ELF32 or ELF64 program headers; segments load at their physical address. */
static int parse_elf(const uint8_t *image, size_t size, struct multiboot_info_parsed *info,
                     struct error *error)
{
    if (size < EI_NIDENT || memcmp(image, ELFMAG, SELFMAG) != 0)
        return error_set(error, "multiboot header without address fields (flag 16), and the "
                                "file is not ELF");
    bool is64 = image[EI_CLASS] == ELFCLASS64;
    if ((!is64 && image[EI_CLASS] != ELFCLASS32) || image[EI_DATA] != ELFDATA2LSB)
        return error_set(error, "not a little-endian ELF32 or ELF64 file");
    uint64_t entry, program_offset;
    unsigned program_count, program_entry_size, machine, type;
    if (is64) {
        Elf64_Ehdr header;
        if (size < sizeof(header))
            return error_set(error, "ELF header truncated");
        memcpy(&header, image, sizeof(header));
        entry = header.e_entry, program_offset = header.e_phoff;
        program_count = header.e_phnum, program_entry_size = header.e_phentsize;
        machine = header.e_machine, type = header.e_type;
    } else {
        Elf32_Ehdr header;
        if (size < sizeof(header))
            return error_set(error, "ELF header truncated");
        memcpy(&header, image, sizeof(header));
        entry = header.e_entry, program_offset = header.e_phoff;
        program_count = header.e_phnum, program_entry_size = header.e_phentsize;
        machine = header.e_machine, type = header.e_type;
    }
    if (machine != (is64 ? EM_X86_64 : EM_386) || type != ET_EXEC)
        return error_set(error, "not an x86 ELF executable");
    size_t expected_entry_size = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    if (program_entry_size != expected_entry_size || program_count == 0 ||
        program_count > MAX_PROGRAM_HEADERS || program_offset > size ||
        (uint64_t)program_count * program_entry_size > size - program_offset)
        return error_set(error, "bad ELF program header table");

    bool entry_found = false;
    uint64_t entry_physical = entry;
    for (unsigned i = 0; i < program_count; i++) {
        const uint8_t *raw = image + program_offset + (uint64_t)i * program_entry_size;
        uint64_t p_type, offset, virtual_address, physical_address, file_size, memory_size;
        if (is64) {
            Elf64_Phdr program;
            memcpy(&program, raw, sizeof(program));
            p_type = program.p_type, offset = program.p_offset, virtual_address = program.p_vaddr;
            physical_address = program.p_paddr, file_size = program.p_filesz;
            memory_size = program.p_memsz;
        } else {
            Elf32_Phdr program;
            memcpy(&program, raw, sizeof(program));
            p_type = program.p_type, offset = program.p_offset, virtual_address = program.p_vaddr;
            physical_address = program.p_paddr, file_size = program.p_filesz;
            memory_size = program.p_memsz;
        }
        if (p_type != PT_LOAD || memory_size == 0)
            continue;
        if (add_segment(info, offset, file_size, physical_address, memory_size, size, error))
            return -1;
        /* A kernel linked high gives a virtual entry; with paging off it
         * runs at the physical address of the same byte. */
        if (!entry_found && entry >= virtual_address && entry - virtual_address < memory_size) {
            entry_physical = physical_address + (entry - virtual_address);
            entry_found = true;
        }
    }
    if (info->segment_count == 0)
        return error_set(error, "ELF file has no loadable segment");
    if (entry_physical >= FOUR_GIB)
        return error_set(error, "ELF entry 0x%llx is not a 32-bit address",
                         (unsigned long long)entry_physical);
    info->entry = (uint32_t)entry_physical;
    return 0;
}

int multiboot_parse(const uint8_t *image, size_t size, struct multiboot_info_parsed *info,
                    struct error *error)
{
    memset(info, 0, sizeof(*info));
    struct multiboot_header header;
    if (!multiboot_find_header(image, size, &header, &info->header_offset))
        return error_set(error, "no multiboot header (magic 0x%08x with a valid checksum) in the "
                                "first %d bytes",
                         MULTIBOOT_HEADER_MAGIC, MULTIBOOT_SEARCH_LENGTH);
    info->header_flags = header.flags;
    uint32_t unmet = header.flags & 0xffffu & ~SUPPORTED_REQUIREMENTS;
    if (unmet & MULTIBOOT_FLAG_VIDEO_MODE)
        return error_set(error, "the multiboot header asks for a video mode (flag 2), which "
                                "guest does not set up");
    if (unmet)
        return error_set(error, "the multiboot header requires flags 0x%x, which guest does not "
                                "know",
                         unmet);
    int parsed = header.flags & MULTIBOOT_FLAG_ADDRESS_FIELDS
                     ? parse_address_fields(&header, info->header_offset, size, info, error)
                     : parse_elf(image, size, info, error);
    if (parsed)
        return -1;
    bool entry_inside = false;
    for (int i = 0; i < info->segment_count; i++) {
        const struct multiboot_segment *segment = &info->segments[i];
        if (info->entry >= segment->physical_address &&
            info->entry - segment->physical_address < segment->file_size)
            entry_inside = true;
    }
    if (!entry_inside)
        return error_set(error, "multiboot entry 0x%x is outside the loaded image", info->entry);
    return 0;
}

static int multiboot_write_memory_map(const struct guest_memory *memory,
                                      struct multiboot_info *boot_info, struct error *error)
{
    struct e820_entry map[E820_MAX_ENTRIES];
    int count = e820_build(memory, map);
    for (int i = 0; i < count; i++) {
        struct multiboot_mmap_entry item = {sizeof(item) - sizeof(item.size), map[i].address,
                                            map[i].size, map[i].type};
        if (boot_copy_to_guest(memory, LAYOUT_MULTIBOOT_MEMORY_MAP + i * sizeof(item), &item,
                               sizeof(item), "multiboot memory map", error))
            return -1;
    }
    boot_info->mmap_addr = LAYOUT_MULTIBOOT_MEMORY_MAP;
    boot_info->mmap_length = (uint32_t)(count * sizeof(struct multiboot_mmap_entry));
    boot_info->flags |= MULTIBOOT_INFO_MEMORY_MAP;

    /* mem_lower and mem_upper: KiB of RAM below 640 KiB, and from 1 MiB to
     * the first hole. */
    uint64_t low_end = guest_memory_low_end(memory);
    uint64_t conventional_end = low_end < LAYOUT_EBDA_START ? low_end : LAYOUT_EBDA_START;
    boot_info->mem_lower = (uint32_t)(conventional_end >> 10);
    boot_info->mem_upper =
        low_end > LAYOUT_HIGH_MEMORY_START ? (uint32_t)((low_end - LAYOUT_HIGH_MEMORY_START) >> 10)
                                           : 0;
    boot_info->flags |= MULTIBOOT_INFO_MEMORY;
    return 0;
}

int multiboot_load(const struct multiboot_info_parsed *info, const struct boot_config *config,
                   const struct guest_memory *memory, struct boot_entry *entry,
                   struct error *error)
{
    const char *kernel_path = config->kernel.path;
    for (int i = 0; i < info->segment_count; i++) {
        const struct multiboot_segment *segment = &info->segments[i];
        uint8_t *destination =
            guest_memory_ptr(memory, segment->physical_address, segment->memory_size);
        if (!destination)
            return error_set(error, "%s: %llu bytes at 0x%llx are outside guest memory; raise "
                                    "--memory",
                             kernel_path, (unsigned long long)segment->memory_size,
                             (unsigned long long)segment->physical_address);
        if (boot_copy_file_to_guest(memory, segment->physical_address, &config->kernel,
                                    segment->file_offset, segment->file_size, error))
            return -1;
        memset(destination + segment->file_size, 0, segment->memory_size - segment->file_size);
    }

    struct multiboot_info boot_info = {0};

    /* The command line starts with the kernel's name, as GRUB and QEMU
     * give it; the module's string (its file name) follows it. */
    const char *user = config->user_cmdline;
    size_t kernel_length = strlen(kernel_path);
    size_t user_length = user ? strlen(user) : 0;
    size_t module_length = config->initrd.data ? strlen(config->initrd.path) : 0;
    size_t needed = kernel_length + 1 + user_length + 1 + module_length + 1;
    if (needed > LAYOUT_CMDLINE_MAX)
        return error_set(error, "command line of %zu bytes is too long", needed);
    /* A kernel linked low may reach the command line's page. */
    for (int i = 0; i < info->segment_count; i++) {
        const struct multiboot_segment *segment = &info->segments[i];
        if (segment->physical_address < LAYOUT_CMDLINE + needed &&
            LAYOUT_CMDLINE < segment->physical_address + segment->memory_size)
            return error_set(error, "%s: a segment at 0x%llx-0x%llx overlaps the command line "
                                    "guest writes at 0x%x-0x%llx",
                             kernel_path, (unsigned long long)segment->physical_address,
                             (unsigned long long)(segment->physical_address +
                                                  segment->memory_size),
                             LAYOUT_CMDLINE, (unsigned long long)(LAYOUT_CMDLINE + needed));
    }
    char *cmdline = guest_memory_ptr(memory, LAYOUT_CMDLINE, needed);
    if (!cmdline)
        return error_set(error, "no guest memory for the command line");
    memcpy(cmdline, kernel_path, kernel_length);
    size_t cmdline_length = kernel_length;
    if (user_length) {
        cmdline[cmdline_length++] = ' ';
        memcpy(cmdline + cmdline_length, user, user_length);
        cmdline_length += user_length;
    }
    cmdline[cmdline_length] = '\0';
    boot_info.cmdline = LAYOUT_CMDLINE;
    boot_info.flags |= MULTIBOOT_INFO_CMDLINE;

    if (config->initrd.data) {
        uint64_t module_address;
        /* Above the kernel, and above 1 MiB for a kernel linked low: the
         * areas below are the loader's and the BIOS's. */
        uint64_t lowest = info->image_end > LAYOUT_HIGH_MEMORY_START ? info->image_end
                                                                     : LAYOUT_HIGH_MEMORY_START;
        if (boot_place_initrd(memory, lowest, LAYOUT_LOW_RAM_LIMIT, config->initrd.size,
                              config->initrd.path, &module_address, error) ||
            boot_copy_file_to_guest(memory, module_address, &config->initrd, 0,
                                    config->initrd.size, error))
            return -1;
        uint64_t string_address = LAYOUT_CMDLINE + cmdline_length + 1;
        memcpy(cmdline + cmdline_length + 1, config->initrd.path, module_length + 1);
        struct multiboot_module module = {(uint32_t)module_address,
                                          (uint32_t)(module_address + config->initrd.size),
                                          (uint32_t)string_address, 0};
        if (boot_copy_to_guest(memory, LAYOUT_MULTIBOOT_MODULES, &module, sizeof(module),
                               "multiboot module list", error))
            return -1;
        boot_info.mods_count = 1;
        boot_info.mods_addr = LAYOUT_MULTIBOOT_MODULES;
        boot_info.flags |= MULTIBOOT_INFO_MODULES;
    }

    if (multiboot_write_memory_map(memory, &boot_info, error) ||
        boot_copy_to_guest(memory, LAYOUT_MULTIBOOT_LOADER_NAME, LOADER_NAME,
                           sizeof(LOADER_NAME), "multiboot loader name", error))
        return -1;
    boot_info.boot_loader_name = LAYOUT_MULTIBOOT_LOADER_NAME;
    boot_info.flags |= MULTIBOOT_INFO_BOOT_LOADER_NAME;
    if (boot_copy_to_guest(memory, LAYOUT_MULTIBOOT_INFO, &boot_info, sizeof(boot_info),
                           "multiboot_info", error))
        return -1;

    *entry = (struct boot_entry){.mode = BOOT_CPU_MODE_PROTECTED_32,
                                 .instruction_pointer = info->entry,
                                 .rax = MULTIBOOT_BOOTLOADER_MAGIC,
                                 .rbx = LAYOUT_MULTIBOOT_INFO};
    return 0;
}
