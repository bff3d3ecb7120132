#include "boot/pvh.h"

#include <elf.h>
#include <string.h>

#include "x86/e820.h"
#include "x86/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578
#define MAX_PROGRAM_HEADERS 64

struct __attribute__((packed)) hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t module_count;
    uint64_t module_list_address;
    uint64_t cmdline_address;
    uint64_t rsdp_address;
    uint64_t memmap_address;
    uint32_t memmap_entries;
    uint32_t reserved;
};

struct __attribute__((packed)) hvm_module {
    uint64_t address;
    uint64_t size;
    uint64_t cmdline_address;
    uint64_t reserved;
};

struct __attribute__((packed)) hvm_memmap_entry {
    uint64_t address;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

bool elf_is_elf(const uint8_t *image, size_t size)
{
    return size >= SELFMAG && memcmp(image, ELFMAG, SELFMAG) == 0;
}

/* Walks the notes in [start, start + length) looking for the PVH entry. */
static int pvh_find_entry_note(const uint8_t *notes, uint64_t length, uint64_t *entry)
{
    uint64_t offset = 0;
    while (length - offset >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr header;
        memcpy(&header, notes + offset, sizeof(header));
        offset += sizeof(header);
        uint64_t name_space = ((uint64_t)header.n_namesz + 3) & ~3ULL;
        uint64_t desc_space = ((uint64_t)header.n_descsz + 3) & ~3ULL;
        if (name_space > length - offset || desc_space > length - offset - name_space)
            return -1; /* a note that runs past its segment: malformed */
        const uint8_t *name = notes + offset;
        const uint8_t *desc = notes + offset + name_space;
        if (header.n_type == XEN_ELFNOTE_PHYS32_ENTRY && header.n_namesz == 4 &&
            memcmp(name, "Xen", 4) == 0) {
            if (header.n_descsz == 4) {
                uint32_t value;
                memcpy(&value, desc, 4);
                *entry = value;
            } else if (header.n_descsz == 8) {
                memcpy(entry, desc, 8);
            } else {
                return -1;
            }
            return 1;
        }
        offset += name_space + desc_space;
    }
    return 0;
}

int pvh_parse(const uint8_t *image, size_t size, struct pvh_info *info, struct error *error)
{
    memset(info, 0, sizeof(*info));
    if (!elf_is_elf(image, size))
        return error_set(error, "not an ELF file");
    if (size < sizeof(Elf64_Ehdr))
        return error_set(error, "truncated ELF header (%zu bytes)", size);
    Elf64_Ehdr header;
    memcpy(&header, image, sizeof(header));
    if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB)
        return error_set(error, "not a 64-bit little-endian ELF kernel");
    if (header.e_machine != EM_X86_64)
        return error_set(error, "ELF kernel is not for x86-64 (e_machine %u)", header.e_machine);
    if (header.e_type != ET_EXEC)
        return error_set(error, "ELF file is not an executable (e_type %u)", header.e_type);
    if (header.e_phentsize != sizeof(Elf64_Phdr) || header.e_phnum == 0 ||
        header.e_phnum > MAX_PROGRAM_HEADERS)
        return error_set(error, "ELF program header table is malformed (%u entries of %u bytes)",
                         header.e_phnum, header.e_phentsize);
    if (header.e_phoff > size || (uint64_t)header.e_phnum * sizeof(Elf64_Phdr) > size - header.e_phoff)
        return error_set(error, "truncated: ELF program headers lie past the end of the file");

    bool found_entry = false;
    for (unsigned i = 0; i < header.e_phnum; i++) {
        Elf64_Phdr program;
        memcpy(&program, image + header.e_phoff + i * sizeof(Elf64_Phdr), sizeof(program));
        if (program.p_type != PT_LOAD && program.p_type != PT_NOTE)
            continue;
        if (program.p_offset > size || program.p_filesz > size - program.p_offset)
            return error_set(error, "truncated: ELF segment %u lies past the end of the file", i);
        if (program.p_type == PT_NOTE) {
            int found = pvh_find_entry_note(image + program.p_offset, program.p_filesz,
                                            &info->entry);
            if (found < 0)
                return error_set(error, "ELF note segment %u is malformed", i);
            found_entry |= found > 0;
            continue;
        }
        if (program.p_memsz == 0)
            continue;
        if (info->segment_count == PVH_MAX_SEGMENTS)
            return error_set(error, "ELF kernel has more than %d loadable segments",
                             PVH_MAX_SEGMENTS);
        if (program.p_filesz > program.p_memsz)
            return error_set(error, "ELF segment %u has more file bytes than memory bytes", i);
        if (program.p_paddr < LAYOUT_HIGH_MEMORY_START ||
            program.p_paddr >= LAYOUT_LOW_RAM_LIMIT ||
            program.p_memsz > LAYOUT_LOW_RAM_LIMIT - program.p_paddr)
            return error_set(error, "ELF segment %u at physical 0x%llx (+0x%llx) is outside "
                                    "1 MiB..3 GiB",
                             i, (unsigned long long)program.p_paddr,
                             (unsigned long long)program.p_memsz);
        info->segments[info->segment_count++] = (struct pvh_segment){
            program.p_offset, program.p_filesz, program.p_paddr, program.p_memsz};
        if (program.p_paddr + program.p_memsz > info->image_end)
            info->image_end = program.p_paddr + program.p_memsz;
    }
    if (!found_entry)
        return error_set(error, "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); "
                                "was it built with CONFIG_PVH?");
    if (info->segment_count == 0)
        return error_set(error, "ELF kernel has no loadable segments");
    bool entry_inside = false;
    for (int i = 0; i < info->segment_count; i++) {
        const struct pvh_segment *segment = &info->segments[i];
        if (info->entry >= segment->physical_address &&
            info->entry - segment->physical_address < segment->file_size)
            entry_inside = true;
    }
    if (!entry_inside)
        return error_set(error, "PVH entry point 0x%llx is outside the kernel's segments",
                         (unsigned long long)info->entry);
    return 0;
}

int pvh_load(const struct pvh_info *info, const struct boot_config *config,
             const struct guest_memory *memory, struct boot_entry *entry, struct error *error)
{
    const char *kernel_path = config->kernel.path;
    if (info->image_end > guest_memory_low_end(memory))
        return error_set(error, "%s: guest memory is too small: the kernel needs %llu MiB; "
                                "raise --memory",
                         kernel_path, (unsigned long long)((info->image_end + (1 << 20) - 1) >> 20));
    for (int i = 0; i < info->segment_count; i++) {
        const struct pvh_segment *segment = &info->segments[i];
        uint8_t *destination =
            guest_memory_ptr(memory, segment->physical_address, segment->memory_size);
        if (!destination)
            return error_set(error, "%s: segment at 0x%llx is outside guest memory", kernel_path,
                             (unsigned long long)segment->physical_address);
        if (boot_copy_file_to_guest(memory, segment->physical_address, &config->kernel,
                                    segment->file_offset, segment->file_size, error))
            return -1;
        memset(destination + segment->file_size, 0, segment->memory_size - segment->file_size);
    }

    size_t cmdline_length = strlen(config->cmdline);
    if (cmdline_length >= LAYOUT_CMDLINE_MAX)
        return error_set(error, "command line of %zu bytes is too long", cmdline_length);
    if (boot_copy_to_guest(memory, LAYOUT_CMDLINE, config->cmdline, cmdline_length + 1,
                           "command line", error))
        return -1;

    struct hvm_start_info start = {
        .magic = HVM_START_MAGIC,
        .version = 1, /* version 1 carries the memory map */
        .cmdline_address = LAYOUT_CMDLINE,
        .rsdp_address = config->rsdp_address,
        .memmap_address = LAYOUT_PVH_MEMMAP,
    };
    if (config->initrd.data) {
        uint64_t initrd_address;
        if (boot_place_initrd(memory, info->image_end, LAYOUT_LOW_RAM_LIMIT, config->initrd.size,
                              config->initrd.path, &initrd_address, error))
            return -1;
        if (boot_copy_file_to_guest(memory, initrd_address, &config->initrd, 0,
                                    config->initrd.size, error))
            return -1;
        struct hvm_module module = {.address = initrd_address, .size = config->initrd.size};
        if (boot_copy_to_guest(memory, LAYOUT_PVH_MODULES, &module, sizeof(module),
                               "PVH module list", error))
            return -1;
        start.module_count = 1;
        start.module_list_address = LAYOUT_PVH_MODULES;
    }

    struct e820_entry map[E820_MAX_ENTRIES];
    int count = e820_build(memory, map);
    for (int i = 0; i < count; i++) {
        struct hvm_memmap_entry item = {map[i].address, map[i].size, map[i].type, 0};
        if (boot_copy_to_guest(memory, LAYOUT_PVH_MEMMAP + i * sizeof(item), &item, sizeof(item),
                               "PVH memory map", error))
            return -1;
    }
    start.memmap_entries = (uint32_t)count;
    if (boot_copy_to_guest(memory, LAYOUT_PVH_START_INFO, &start, sizeof(start),
                           "PVH start info", error))
        return -1;

    entry->mode = BOOT_CPU_MODE_PROTECTED_32;
    entry->instruction_pointer = info->entry;
    entry->rbx = LAYOUT_PVH_START_INFO;
    entry->rsi = 0;
    return 0;
}
