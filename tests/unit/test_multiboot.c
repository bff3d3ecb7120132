/* The multiboot loader: header search and checks, the a.out-kludge and ELF
 * load paths on synthetic kernels, and the multiboot_info it leaves in
 * guest memory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "boot/multiboot.h"
#include "memory.h"
#include "x86/e820.h"

#define MEMORY_SIZE (64ULL << 20)
#define IMAGE_SIZE 0x3000
#define LOAD_ADDRESS 0x100000u
#define HEADER_OFFSET 0x40u
#define INFO_ADDRESS 0x7000
#define MODULES_ADDRESS 0x7100
#define MMAP_ADDRESS 0x7200
#define CMDLINE_ADDRESS 0x20000

static uint8_t image[IMAGE_SIZE];

static void put32(size_t offset, uint32_t value)
{
    memcpy(image + offset, &value, 4);
}

static void assert_error_mentions(const struct error *error, const char *text)
{
    if (!strstr(error->message, text))
        fail_msg("error \"%s\" does not mention \"%s\"", error->message, text);
}

/* A flat image whose header (at HEADER_OFFSET) gives load addresses. */
static void make_aout(uint32_t flags, uint32_t load_end, uint32_t bss_end, uint32_t entry)
{
    memset(image, 0x90, sizeof(image));
    uint32_t all_flags = flags | MULTIBOOT_FLAG_ADDRESS_FIELDS;
    put32(HEADER_OFFSET, MULTIBOOT_HEADER_MAGIC);
    put32(HEADER_OFFSET + 4, all_flags);
    put32(HEADER_OFFSET + 8, (uint32_t)(0u - MULTIBOOT_HEADER_MAGIC - all_flags));
    put32(HEADER_OFFSET + 12, LOAD_ADDRESS + HEADER_OFFSET); /* header_addr */
    put32(HEADER_OFFSET + 16, LOAD_ADDRESS);                 /* load_addr */
    put32(HEADER_OFFSET + 20, load_end);
    put32(HEADER_OFFSET + 24, bss_end);
    put32(HEADER_OFFSET + 28, entry);
}

/* An ELF32 executable with one PT_LOAD segment linked at vaddr, loaded at
 * paddr, and a multiboot header without address fields at offset 0x1000. */
static void make_elf32(uint32_t vaddr, uint32_t paddr, uint32_t entry)
{
    memset(image, 0, sizeof(image));
    Elf32_Ehdr header = {
        .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB, EV_CURRENT},
        .e_type = ET_EXEC,
        .e_machine = EM_386,
        .e_version = EV_CURRENT,
        .e_entry = entry,
        .e_phoff = sizeof(Elf32_Ehdr),
        .e_ehsize = sizeof(Elf32_Ehdr),
        .e_phentsize = sizeof(Elf32_Phdr),
        .e_phnum = 1,
    };
    memcpy(image, &header, sizeof(header));
    Elf32_Phdr program = {.p_type = PT_LOAD, .p_offset = 0x1000, .p_vaddr = vaddr,
                          .p_paddr = paddr, .p_filesz = 0x1000, .p_memsz = 0x3000,
                          .p_flags = PF_R | PF_X, .p_align = 0x1000};
    memcpy(image + sizeof(header), &program, sizeof(program));
    uint32_t flags = MULTIBOOT_FLAG_PAGE_ALIGN_MODULES | MULTIBOOT_FLAG_MEMORY_INFO;
    put32(0x1000, MULTIBOOT_HEADER_MAGIC);
    put32(0x1004, flags);
    put32(0x1008, (uint32_t)(0u - MULTIBOOT_HEADER_MAGIC - flags));
    for (size_t i = 0x100c; i < 0x2000; i++)
        image[i] = (uint8_t)i;
}

static void expect_rejected(size_t size, const char *mentions)
{
    struct multiboot_info_parsed info;
    struct error error = {{0}};
    if (multiboot_parse(image, size, &info, &error) != -1)
        fail_msg("image accepted; expected an error mentioning \"%s\"", mentions);
    assert_error_mentions(&error, mentions);
}

static void test_header_search(void **state)
{
    (void)state;
    make_aout(0, 0, 0, LOAD_ADDRESS + 0x100);
    assert_true(multiboot_has_header(image, sizeof(image)));
    /* A bad checksum is not a header. */
    put32(HEADER_OFFSET + 8, 0);
    assert_false(multiboot_has_header(image, sizeof(image)));
    expect_rejected(sizeof(image), "no multiboot header");
    /* Not 4-byte aligned: not found. */
    make_aout(0, 0, 0, LOAD_ADDRESS + 0x100);
    memmove(image + HEADER_OFFSET + 2, image + HEADER_OFFSET, 32);
    put32(HEADER_OFFSET, 0);
    assert_false(multiboot_has_header(image, sizeof(image)));
    /* Truncated before the whole header: not found, no over-read. */
    make_aout(0, 0, 0, LOAD_ADDRESS + 0x100);
    assert_false(multiboot_has_header(image, HEADER_OFFSET + 8));
    /* Past the first 8 KiB: not found. */
    static uint8_t big[0x4000];
    memset(big, 0, sizeof(big));
    uint32_t words[3] = {MULTIBOOT_HEADER_MAGIC, 0, 0u - MULTIBOOT_HEADER_MAGIC};
    memcpy(big + 0x2000, words, sizeof(words));
    assert_false(multiboot_has_header(big, sizeof(big)));
    memcpy(big + 0x1ff0, words, sizeof(words));
    assert_true(multiboot_has_header(big, sizeof(big)));
}

static void test_requirements(void **state)
{
    (void)state;
    make_aout(MULTIBOOT_FLAG_VIDEO_MODE, 0, 0, LOAD_ADDRESS + 0x100);
    expect_rejected(sizeof(image), "video mode");
    make_aout(1u << 5, 0, 0, LOAD_ADDRESS + 0x100);
    expect_rejected(sizeof(image), "requires flags 0x20");
    /* Optional bits above 15 other than 16 are ignored. */
    make_aout(1u << 20, 0, 0, LOAD_ADDRESS + 0x100);
    struct multiboot_info_parsed info;
    struct error error = {{0}};
    assert_int_equal(multiboot_parse(image, sizeof(image), &info, &error), 0);
}

static void test_aout_fields(void **state)
{
    (void)state;
    struct multiboot_info_parsed info;
    struct error error = {{0}};
    make_aout(MULTIBOOT_FLAG_MEMORY_INFO, LOAD_ADDRESS + 0x2000, LOAD_ADDRESS + 0x5000,
              LOAD_ADDRESS + 0x100);
    if (multiboot_parse(image, sizeof(image), &info, &error))
        fail_msg("rejected: %s", error.message);
    assert_true(info.from_address_fields);
    assert_int_equal(info.header_offset, HEADER_OFFSET);
    assert_int_equal(info.entry, LOAD_ADDRESS + 0x100);
    assert_int_equal(info.segment_count, 1);
    assert_int_equal(info.segments[0].file_offset, 0);
    assert_int_equal(info.segments[0].file_size, 0x2000);
    assert_int_equal(info.segments[0].memory_size, 0x5000);
    assert_int_equal(info.image_end, LOAD_ADDRESS + 0x5000);

    /* load_end 0: the rest of the file. */
    make_aout(0, 0, 0, LOAD_ADDRESS + 0x100);
    assert_int_equal(multiboot_parse(image, sizeof(image), &info, &error), 0);
    assert_int_equal(info.segments[0].file_size, sizeof(image));

    make_aout(0, LOAD_ADDRESS + 0x10000, 0, LOAD_ADDRESS + 0x100);
    expect_rejected(sizeof(image), "more bytes than the file has");
    make_aout(0, LOAD_ADDRESS - 1, 0, LOAD_ADDRESS + 0x100);
    expect_rejected(sizeof(image), "below load_addr");
    make_aout(0, LOAD_ADDRESS + 0x2000, LOAD_ADDRESS + 0x1000, LOAD_ADDRESS + 0x100);
    expect_rejected(sizeof(image), "bss_end_addr");
    make_aout(0, 0, 0, LOAD_ADDRESS + 0x10000);
    expect_rejected(sizeof(image), "entry 0x110000 is outside");
    /* header_addr - load_addr larger than the header's file offset. */
    make_aout(0, 0, 0, LOAD_ADDRESS + 0x100);
    put32(HEADER_OFFSET + 12, LOAD_ADDRESS + 0x1000);
    expect_rejected(sizeof(image), "before the start of the file");
    /* Below 1 MiB is allowed where the guest has nothing; past 4 GiB never. */
    make_aout(0, 0, 0, 0x1100);
    put32(HEADER_OFFSET + 12, 0x1000 + HEADER_OFFSET);
    put32(HEADER_OFFSET + 16, 0x1000);
    struct multiboot_info_parsed low;
    assert_int_equal(multiboot_parse(image, sizeof(image), &low, &error), 0);
    assert_int_equal(low.image_start, 0x1000);
    assert_int_equal(low.image_end, 0x1000 + sizeof(image));
    make_aout(0, 0, 0, 0x7100);
    put32(HEADER_OFFSET + 12, 0x7000 + HEADER_OFFSET);
    put32(HEADER_OFFSET + 16, 0x7000);
    expect_rejected(sizeof(image), "overlaps the multiboot_info");
    make_aout(0, 0, 0xffffff00u, LOAD_ADDRESS + 0x100);
    put32(HEADER_OFFSET + 12, 0xfffff000u + HEADER_OFFSET);
    put32(HEADER_OFFSET + 16, 0xfffff000u);
    put32(HEADER_OFFSET + 24, 0);
    put32(HEADER_OFFSET + 28, 0xfffff100u);
    expect_rejected(sizeof(image), "past 4 GiB");
    /* Address fields cut off by the end of the file. */
    make_aout(0, 0, 0, LOAD_ADDRESS + 0x100);
    expect_rejected(HEADER_OFFSET + 20, "run past the end");
}

static void test_elf(void **state)
{
    (void)state;
    struct multiboot_info_parsed info;
    struct error error = {{0}};
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS + 0x20);
    if (multiboot_parse(image, sizeof(image), &info, &error))
        fail_msg("rejected: %s", error.message);
    assert_false(info.from_address_fields);
    assert_int_equal(info.entry, LOAD_ADDRESS + 0x20);
    assert_int_equal(info.segments[0].physical_address, LOAD_ADDRESS);
    assert_int_equal(info.image_end, LOAD_ADDRESS + 0x3000);

    /* Linked high, loaded low: the entry is translated to its physical
     * address. */
    make_elf32(0xc0100000u, LOAD_ADDRESS, 0xc0100020u);
    assert_int_equal(multiboot_parse(image, sizeof(image), &info, &error), 0);
    assert_int_equal(info.entry, LOAD_ADDRESS + 0x20);

    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS + 0x2000); /* in bss */
    expect_rejected(sizeof(image), "outside the loaded image");
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS);
    image[EI_CLASS] = 7;
    expect_rejected(sizeof(image), "ELF32 or ELF64");
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS);
    ((Elf32_Ehdr *)image)->e_machine = EM_ARM;
    expect_rejected(sizeof(image), "not an x86 ELF executable");
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS);
    ((Elf32_Ehdr *)image)->e_phoff = 0xfffffff0u;
    expect_rejected(sizeof(image), "program header table");
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS);
    ((Elf32_Ehdr *)image)->e_phnum = 0;
    expect_rejected(sizeof(image), "program header table");
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS);
    ((Elf32_Phdr *)(image + sizeof(Elf32_Ehdr)))->p_filesz = 0x5000;
    expect_rejected(sizeof(image), "more file bytes");
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS);
    ((Elf32_Phdr *)(image + sizeof(Elf32_Ehdr)))->p_offset = 0x2800;
    expect_rejected(sizeof(image), "run past the end of the file");
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS);
    ((Elf32_Phdr *)(image + sizeof(Elf32_Ehdr)))->p_type = PT_NOTE;
    expect_rejected(sizeof(image), "no loadable segment");
    /* Not ELF and no address fields. */
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS);
    image[0] = 'X';
    expect_rejected(sizeof(image), "not ELF");
}

/* One ELF segment of `bytes` at paddr: accepted or refused, at the edges of
 * each area the guest uses. */
static int parse_segment_at(uint32_t paddr, uint32_t bytes, struct error *error)
{
    make_elf32(paddr, paddr, paddr);
    Elf32_Phdr *program = (Elf32_Phdr *)(image + sizeof(Elf32_Ehdr));
    program->p_memsz = bytes;
    program->p_filesz = bytes < 0x1000 ? bytes : 0x1000;
    struct multiboot_info_parsed info;
    memset(error, 0, sizeof(*error));
    return multiboot_parse(image, sizeof(image), &info, error);
}

static void test_below_1mib_boundaries(void **state)
{
    (void)state;
    struct error error;
    /* Up to the multiboot_info page, and from just past the loader name. */
    assert_int_equal(parse_segment_at(0x1000, 0x6000, &error), 0);
    assert_int_equal(parse_segment_at(0x1000, 0x6001, &error), -1);
    assert_error_mentions(&error, "overlaps the multiboot_info");
    assert_error_mentions(&error, "0x7000-0x7406");
    assert_int_equal(parse_segment_at(0x7405, 0x1000, &error), -1);
    assert_int_equal(parse_segment_at(0x7406, 0x1000, &error), 0);
    /* The 64-bit page tables' pages are free for a 32-bit kernel. */
    assert_int_equal(parse_segment_at(0x8000, 0x8000, &error), 0);
    /* Up to the EBDA; nothing in the legacy hole or the BIOS area. */
    assert_int_equal(parse_segment_at(0x9fc00 - 0x3000, 0x3000, &error), 0);
    assert_int_equal(parse_segment_at(0x9fc00 - 0x3000, 0x3001, &error), -1);
    assert_error_mentions(&error, "the EBDA");
    assert_int_equal(parse_segment_at(0xb8000, 0x1000, &error), -1);
    assert_int_equal(parse_segment_at(0xfffff, 0x1000, &error), -1);
    assert_int_equal(parse_segment_at(0x100000, 0x1000, &error), 0);
    /* A segment that spans the whole reserved area. */
    assert_int_equal(parse_segment_at(0x50000, 0x100000, &error), -1);
    /* The hole below 4 GiB. */
    assert_int_equal(parse_segment_at(0xc0000000u - 0x3000, 0x3000, &error), 0);
    assert_int_equal(parse_segment_at(0xc0000000u - 0x3000, 0x3001, &error), -1);
    assert_error_mentions(&error, "hole below 4 GiB");
    assert_int_equal(parse_segment_at(0xfee00000u, 0x1000, &error), -1);
}

/* A kernel linked at 0x8000 loads there; the module still goes above
 * 1 MiB, and a segment over the command line is refused at load. */
static void test_load_below_1mib(void **state)
{
    (void)state;
    struct guest_memory memory;
    uint8_t *host = calloc(1, MEMORY_SIZE);
    assert_non_null(host);
    guest_memory_init_over(&memory, host, MEMORY_SIZE);
    static uint8_t module[100];
    struct boot_config config = {
        .kernel = {"low.elf", image, sizeof(image)},
        .initrd = {"m", module, sizeof(module)},
    };
    struct multiboot_info_parsed info;
    struct boot_entry entry;
    struct error error = {{0}};

    make_elf32(0x8000, 0x8000, 0x8020);
    assert_int_equal(multiboot_parse(image, sizeof(image), &info, &error), 0);
    if (multiboot_load(&info, &config, &memory, &entry, &error))
        fail_msg("load failed: %s", error.message);
    assert_memory_equal(host + 0x8000, image + 0x1000, 0x1000);
    assert_int_equal(entry.instruction_pointer, 0x8020);
    uint32_t mod[2];
    memcpy(mod, host + MODULES_ADDRESS, sizeof(mod));
    assert_true(mod[0] >= 0x100000);

    /* The loader keeps 0x20000-0x2000b for the command line: "low.elf",
     * room for " " and -c, and the module's string "m". */
    make_elf32(0x1f000, 0x1f000, 0x1f000);
    assert_int_equal(multiboot_parse(image, sizeof(image), &info, &error), 0);
    assert_int_equal(multiboot_load(&info, &config, &memory, &entry, &error), -1);
    assert_error_mentions(&error, "overlaps the command line");
    make_elf32(0x2000b, 0x2000b, 0x2000b);
    assert_int_equal(multiboot_parse(image, sizeof(image), &info, &error), 0);
    assert_int_equal(multiboot_load(&info, &config, &memory, &entry, &error), 0);
    make_elf32(0x2000a, 0x2000a, 0x2000a);
    assert_int_equal(multiboot_parse(image, sizeof(image), &info, &error), 0);
    assert_int_equal(multiboot_load(&info, &config, &memory, &entry, &error), -1);
    /* A longer command line reaches further. */
    config.user_cmdline = "a longer command line";
    make_elf32(0x2000b, 0x2000b, 0x2000b);
    assert_int_equal(multiboot_parse(image, sizeof(image), &info, &error), 0);
    assert_int_equal(multiboot_load(&info, &config, &memory, &entry, &error), -1);
    assert_error_mentions(&error, "overlaps the command line");
    free(host);
}

struct __attribute__((packed)) mbi {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table;
    uint32_t boot_loader_name;
};

static void test_load(void **state)
{
    (void)state;
    make_elf32(LOAD_ADDRESS, LOAD_ADDRESS, LOAD_ADDRESS + 0x20);
    struct multiboot_info_parsed info;
    struct error error = {{0}};
    assert_int_equal(multiboot_parse(image, sizeof(image), &info, &error), 0);

    struct guest_memory memory;
    uint8_t *host = malloc(MEMORY_SIZE);
    assert_non_null(host);
    memset(host, 0xcc, MEMORY_SIZE);
    guest_memory_init_over(&memory, host, MEMORY_SIZE);
    static uint8_t module[5000];
    for (size_t i = 0; i < sizeof(module); i++)
        module[i] = (uint8_t)(i * 7);
    struct boot_config config = {
        .kernel = {"probe.elf", image, sizeof(image)},
        .initrd = {"bootdata.bin", module, sizeof(module)},
        .user_cmdline = "hello world",
    };
    struct boot_entry entry;
    if (multiboot_load(&info, &config, &memory, &entry, &error))
        fail_msg("load failed: %s", error.message);

    assert_memory_equal(host + LOAD_ADDRESS, image + 0x1000, 0x1000);
    for (size_t i = 0x1000; i < 0x3000; i++)
        assert_int_equal(host[LOAD_ADDRESS + i], 0);
    assert_int_equal(host[LOAD_ADDRESS + 0x3000], 0xcc);

    assert_int_equal(entry.mode, BOOT_CPU_MODE_PROTECTED_32);
    assert_int_equal(entry.instruction_pointer, LOAD_ADDRESS + 0x20);
    assert_int_equal(entry.rax, MULTIBOOT_BOOTLOADER_MAGIC);
    assert_int_equal(entry.rbx, INFO_ADDRESS);

    struct mbi mbi;
    memcpy(&mbi, host + INFO_ADDRESS, sizeof(mbi));
    assert_int_equal(mbi.flags, MULTIBOOT_INFO_MEMORY | MULTIBOOT_INFO_CMDLINE |
                                    MULTIBOOT_INFO_MODULES | MULTIBOOT_INFO_MEMORY_MAP |
                                    MULTIBOOT_INFO_BOOT_LOADER_NAME);
    assert_int_equal(mbi.mem_lower, 639);
    assert_int_equal(mbi.mem_upper, (MEMORY_SIZE - 0x100000) >> 10);
    assert_string_equal((const char *)host + mbi.cmdline, "probe.elf hello world");
    assert_string_equal((const char *)host + mbi.boot_loader_name, "guest");

    assert_int_equal(mbi.mods_count, 1);
    assert_int_equal(mbi.mods_addr, MODULES_ADDRESS);
    uint32_t mod[4];
    memcpy(mod, host + MODULES_ADDRESS, sizeof(mod));
    assert_int_equal(mod[0] % 4096, 0);
    assert_true(mod[0] >= info.image_end);
    assert_int_equal(mod[1] - mod[0], sizeof(module));
    assert_true(mod[1] <= MEMORY_SIZE);
    assert_memory_equal(host + mod[0], module, sizeof(module));
    assert_string_equal((const char *)host + mod[2], "bootdata.bin");

    struct e820_entry map[E820_MAX_ENTRIES];
    int count = e820_build(&memory, map);
    assert_int_equal(mbi.mmap_addr, MMAP_ADDRESS);
    assert_int_equal(mbi.mmap_length, count * 24);
    for (int i = 0; i < count; i++) {
        uint32_t size, type;
        uint64_t address, length;
        const uint8_t *item = host + MMAP_ADDRESS + i * 24;
        memcpy(&size, item, 4);
        memcpy(&address, item + 4, 8);
        memcpy(&length, item + 12, 8);
        memcpy(&type, item + 20, 4);
        assert_int_equal(size, 20);
        assert_int_equal(address, map[i].address);
        assert_int_equal(length, map[i].size);
        assert_int_equal(type, map[i].type);
    }

    /* Without -c or -r: the kernel's name alone, no modules. */
    config.user_cmdline = NULL;
    config.initrd = (struct boot_file){0};
    assert_int_equal(multiboot_load(&info, &config, &memory, &entry, &error), 0);
    memcpy(&mbi, host + INFO_ADDRESS, sizeof(mbi));
    assert_string_equal((const char *)host + mbi.cmdline, "probe.elf");
    assert_int_equal(mbi.flags & MULTIBOOT_INFO_MODULES, 0);
    assert_int_equal(mbi.mods_count, 0);

    /* A kernel that does not fit in guest memory. */
    struct guest_memory small;
    guest_memory_init_over(&small, host, 0x101000);
    assert_int_equal(multiboot_load(&info, &config, &small, &entry, &error), -1);
    assert_error_mentions(&error, "outside guest memory");
    free(host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_search), cmocka_unit_test(test_requirements),
        cmocka_unit_test(test_aout_fields),   cmocka_unit_test(test_elf),
        cmocka_unit_test(test_load),          cmocka_unit_test(test_below_1mib_boundaries),
        cmocka_unit_test(test_load_below_1mib),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
