/* The PVH loader: ELF checks on synthetic vmlinux images, and the
 * hvm_start_info it leaves in guest memory. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "boot/pvh.h"
#include "memory.h"
#include "x86/e820.h"

#include "synthetic_images.h"

#define MEMORY_SIZE (64ULL << 20)
#define START_INFO 0x6000
#define MODULES 0x6100
#define MEMMAP 0x6200
#define CMDLINE_ADDRESS 0x20000

static uint8_t image[SYNTHETIC_ELF_SIZE + 64];
static const struct synthetic_elf_options two_segments = {2, 8, 1};

static void assert_error_mentions(const struct error *error, const char *text)
{
    if (!strstr(error->message, text))
        fail_msg("error \"%s\" does not mention \"%s\"", error->message, text);
}

static Elf64_Ehdr *header(void)
{
    return (Elf64_Ehdr *)image;
}

static Elf64_Phdr *program(int index)
{
    return (Elf64_Phdr *)(image + SYNTHETIC_ELF_PHDR(index));
}

static void expect_rejected_size(size_t size, const char *mentions)
{
    struct pvh_info info;
    struct error error = {{0}};
    if (pvh_parse(image, size, &info, &error) != -1)
        fail_msg("image accepted; expected an error mentioning \"%s\"", mentions);
    assert_error_mentions(&error, mentions);
}

static void expect_rejected(const char *mentions)
{
    expect_rejected_size(SYNTHETIC_ELF_SIZE, mentions);
}

static void expect_parsed(struct pvh_info *info)
{
    struct error error = {{0}};
    if (pvh_parse(image, SYNTHETIC_ELF_SIZE, info, &error))
        fail_msg("rejected: %s", error.message);
}

static void test_parse_valid(void **state)
{
    (void)state;
    static const struct synthetic_elf_options variants[] = {
        {1, 8, 0}, {1, 4, 0}, {2, 8, 1}, {2, 4, 1},
    };
    for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
        synthetic_elf(image, &variants[v]);
        assert_true(elf_is_elf(image, SYNTHETIC_ELF_SIZE));
        struct pvh_info info;
        expect_parsed(&info);
        assert_int_equal(info.entry, SYNTHETIC_ELF_ENTRY);
        assert_int_equal(info.segment_count, variants[v].load_segments);
        assert_int_equal(info.segments[0].file_offset, SYNTHETIC_ELF_OFFSET0);
        assert_int_equal(info.segments[0].file_size, SYNTHETIC_ELF_FILESZ0);
        assert_int_equal(info.segments[0].physical_address, SYNTHETIC_ELF_PADDR0);
        assert_int_equal(info.segments[0].memory_size, SYNTHETIC_ELF_MEMSZ0);
        if (variants[v].load_segments == 2) {
            assert_int_equal(info.segments[1].physical_address, SYNTHETIC_ELF_PADDR1);
            assert_int_equal(info.image_end, SYNTHETIC_ELF_PADDR1 + SYNTHETIC_ELF_MEMSZ1);
        } else {
            assert_int_equal(info.image_end, SYNTHETIC_ELF_PADDR0 + SYNTHETIC_ELF_MEMSZ0);
        }
    }

    /* Other program headers (GNU_STACK) and empty PT_LOADs are skipped. */
    synthetic_elf(image, &two_segments);
    program(1)->p_type = PT_GNU_STACK;
    struct pvh_info info;
    expect_parsed(&info);
    assert_int_equal(info.segment_count, 1);
    synthetic_elf(image, &two_segments);
    program(1)->p_memsz = 0;
    program(1)->p_filesz = 0;
    program(1)->p_paddr = 0; /* would be out of range if it counted */
    expect_parsed(&info);
    assert_int_equal(info.segment_count, 1);

    /* A segment ending exactly at 3 GiB is fine. */
    synthetic_elf(image, &two_segments);
    program(1)->p_paddr = 0xc0000000 - SYNTHETIC_ELF_MEMSZ1;
    expect_parsed(&info);
    assert_int_equal(info.image_end, 0xc0000000);
}

static void test_parse_not_elf(void **state)
{
    (void)state;
    synthetic_elf(image, &two_segments);
    image[1] = 'F';
    assert_false(elf_is_elf(image, SYNTHETIC_ELF_SIZE));
    expect_rejected("not an ELF");
    synthetic_elf(image, &two_segments);
    assert_false(elf_is_elf(image, 3));
    expect_rejected_size(0, "not an ELF");
    expect_rejected_size(3, "not an ELF");
    expect_rejected_size(4, "truncated");
    expect_rejected_size(sizeof(Elf64_Ehdr) - 1, "truncated");
    /* Header whole but the program headers cut off. */
    expect_rejected_size(sizeof(Elf64_Ehdr), "program headers");
    expect_rejected_size(SYNTHETIC_ELF_PHDR(3) - 1, "program headers");
    /* Program headers whole but the notes and segments cut off. */
    expect_rejected_size(SYNTHETIC_ELF_PHDR(3), "past the end");
    expect_rejected_size(SYNTHETIC_ELF_OFFSET1 + SYNTHETIC_ELF_FILESZ1 - 1, "past the end");
}

static void test_parse_wrong_kind(void **state)
{
    (void)state;
    synthetic_elf(image, &two_segments);
    image[EI_CLASS] = ELFCLASS32;
    expect_rejected("64-bit");
    synthetic_elf(image, &two_segments);
    image[EI_DATA] = ELFDATA2MSB;
    expect_rejected("little-endian");
    synthetic_elf(image, &two_segments);
    header()->e_machine = EM_386;
    expect_rejected("x86-64");
    header()->e_machine = EM_AARCH64;
    expect_rejected("x86-64");
    synthetic_elf(image, &two_segments);
    header()->e_type = ET_DYN;
    expect_rejected("not an executable");
    header()->e_type = ET_REL;
    expect_rejected("not an executable");
}

static void test_parse_program_header_table(void **state)
{
    (void)state;
    synthetic_elf(image, &two_segments);
    header()->e_phnum = 0;
    expect_rejected("program header");
    header()->e_phnum = 65;
    expect_rejected("program header");
    header()->e_phnum = 0xffff;
    expect_rejected("program header");
    synthetic_elf(image, &two_segments);
    header()->e_phentsize = sizeof(Elf64_Phdr) - 1;
    expect_rejected("program header");
    header()->e_phentsize = 32; /* an ELF32 size */
    expect_rejected("program header");

    synthetic_elf(image, &two_segments);
    header()->e_phoff = SYNTHETIC_ELF_SIZE + 1;
    expect_rejected("past the end");
    header()->e_phoff = UINT64_MAX;
    expect_rejected("past the end");
    header()->e_phoff = SYNTHETIC_ELF_SIZE - 2 * sizeof(Elf64_Phdr);
    expect_rejected("past the end");
    /* 64 headers would reach past the end of this small file. */
    synthetic_elf(image, &two_segments);
    header()->e_phoff = SYNTHETIC_ELF_SIZE - 63 * sizeof(Elf64_Phdr);
    header()->e_phnum = 64;
    expect_rejected("past the end");
}

static void test_parse_bad_segments(void **state)
{
    (void)state;
    synthetic_elf(image, &two_segments);
    program(1)->p_offset = SYNTHETIC_ELF_SIZE - SYNTHETIC_ELF_FILESZ1 + 1;
    expect_rejected("segment 1");
    program(1)->p_offset = UINT64_MAX;
    expect_rejected("past the end");
    synthetic_elf(image, &two_segments);
    program(1)->p_filesz = UINT64_MAX;
    program(1)->p_memsz = UINT64_MAX;
    expect_rejected("past the end");

    synthetic_elf(image, &two_segments);
    program(0)->p_memsz = SYNTHETIC_ELF_FILESZ0 - 1;
    expect_rejected("more file bytes");

    static const uint64_t bad_addresses[] = {0, 0xfffff, 0xc0000000, 0x100000000ull,
                                             0xffffffffffff0000ull};
    for (size_t i = 0; i < sizeof(bad_addresses) / sizeof(bad_addresses[0]); i++) {
        synthetic_elf(image, &two_segments);
        program(1)->p_paddr = bad_addresses[i];
        expect_rejected("outside 1 MiB..3 GiB");
    }
    /* Starts inside, runs past 3 GiB, or wraps. */
    synthetic_elf(image, &two_segments);
    program(1)->p_paddr = 0xc0000000 - SYNTHETIC_ELF_MEMSZ1 + 1;
    expect_rejected("outside 1 MiB..3 GiB");
    program(1)->p_paddr = 0x1000000;
    program(1)->p_memsz = UINT64_MAX - 0x800000;
    expect_rejected("outside 1 MiB..3 GiB");

    /* More than PVH_MAX_SEGMENTS loadable segments. */
    synthetic_elf(image, &two_segments);
    Elf64_Phdr load = *program(0);
    Elf64_Phdr note = *program(2);
    header()->e_phnum = PVH_MAX_SEGMENTS + 2;
    for (int i = 0; i < PVH_MAX_SEGMENTS + 1; i++)
        memcpy(image + SYNTHETIC_ELF_PHDR(i), &load, sizeof(load));
    memcpy(image + SYNTHETIC_ELF_PHDR(PVH_MAX_SEGMENTS + 1), &note, sizeof(note));
    /* The table now covers the note bytes at 0x200; the loop stops at the
     * 17th PT_LOAD before it reads the note. */
    assert_true(SYNTHETIC_ELF_PHDR(PVH_MAX_SEGMENTS + 2) <= SYNTHETIC_ELF_OFFSET0);
    expect_rejected("more than");
}

static void test_parse_notes(void **state)
{
    (void)state;
    struct synthetic_elf_options one_note = {2, 8, 0};
    /* The Xen note is at 0x200: namesz, descsz, type, "Xen\0", desc. */
    uint8_t *note = image + SYNTHETIC_ELF_NOTE_OFFSET;

    synthetic_elf(image, &one_note);
    synthetic_put32(note, 0x1000); /* namesz past the segment */
    expect_rejected("malformed");
    synthetic_put32(note, 0xffffffff);
    expect_rejected("malformed");
    synthetic_elf(image, &one_note);
    synthetic_put32(note + 4, 0x1000); /* descsz past the segment */
    expect_rejected("malformed");
    synthetic_put32(note + 4, 0xfffffffe);
    expect_rejected("malformed");
    synthetic_elf(image, &one_note);
    synthetic_put32(note + 4, 12); /* fits in the file, not in the segment */
    expect_rejected("malformed");

    /* Descriptor sizes other than 4 and 8. */
    synthetic_elf(image, &one_note);
    synthetic_put32(note + 4, 2);
    expect_rejected("malformed");
    synthetic_put32(note + 4, 0);
    expect_rejected("malformed");

    /* A PVH note whose segment is too short for even the header. */
    synthetic_elf(image, &one_note);
    program(2)->p_filesz = 11;
    expect_rejected("no PVH entry note");

    /* Not a PVH note: wrong type, wrong name, wrong name length. */
    synthetic_elf(image, &one_note);
    synthetic_put32(note + 8, 17);
    expect_rejected("no PVH entry note");
    synthetic_elf(image, &one_note);
    memcpy(note + 12, "Xem", 4);
    expect_rejected("no PVH entry note");
    synthetic_elf(image, &one_note);
    memcpy(note + 12, "XenX", 4);
    expect_rejected("no PVH entry note");
    /* No note segment at all. */
    synthetic_elf(image, &one_note);
    program(2)->p_type = PT_NULL;
    expect_rejected("no PVH entry note");
}

static void test_parse_entry_outside(void **state)
{
    (void)state;
    struct synthetic_elf_options one_note = {2, 8, 0};
    uint8_t *desc = image + SYNTHETIC_ELF_NOTE_OFFSET + sizeof(Elf64_Nhdr) + 4;
    static const uint64_t outside[] = {
        0,
        SYNTHETIC_ELF_PADDR0 - 1,
        SYNTHETIC_ELF_PADDR0 + SYNTHETIC_ELF_FILESZ0,     /* in the bss: not loaded code */
        SYNTHETIC_ELF_PADDR0 + SYNTHETIC_ELF_MEMSZ0,
        SYNTHETIC_ELF_PADDR1 + SYNTHETIC_ELF_FILESZ1,
        0x100000000ull + SYNTHETIC_ELF_PADDR0, /* high bits set in an 8-byte desc */
    };
    for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        synthetic_elf(image, &one_note);
        synthetic_put64(desc, outside[i]);
        expect_rejected("outside the kernel's segments");
    }
    /* The second segment's last file byte is inside. */
    synthetic_elf(image, &one_note);
    synthetic_put64(desc, SYNTHETIC_ELF_PADDR1 + SYNTHETIC_ELF_FILESZ1 - 1);
    struct pvh_info info;
    expect_parsed(&info);
    assert_int_equal(info.entry, SYNTHETIC_ELF_PADDR1 + SYNTHETIC_ELF_FILESZ1 - 1);

    /* No loadable segment at all. */
    synthetic_elf(image, &one_note);
    program(0)->p_type = PT_NULL;
    program(1)->p_type = PT_NULL;
    expect_rejected("no loadable segments");
}

/* ---- loading ---------------------------------------------------------- */

struct __attribute__((packed)) start_info {
    uint32_t magic, version, flags, module_count;
    uint64_t module_list_address, cmdline_address, rsdp_address, memmap_address;
    uint32_t memmap_entries, reserved;
};

struct __attribute__((packed)) module_entry {
    uint64_t address, size, cmdline_address, reserved;
};

struct __attribute__((packed)) memmap_entry {
    uint64_t address, size;
    uint32_t type, reserved;
};

static uint8_t *make_memory(struct guest_memory *memory, uint64_t size)
{
    uint8_t *host = malloc(size);
    assert_non_null(host);
    memset(host, 0xcc, size);
    guest_memory_init_over(memory, host, size);
    return host;
}

static void test_load(void **state)
{
    (void)state;
    synthetic_elf(image, &two_segments);
    struct pvh_info info;
    expect_parsed(&info);
    struct guest_memory memory;
    uint8_t *host = make_memory(&memory, MEMORY_SIZE);
    static uint8_t initrd[12345];
    for (size_t i = 0; i < sizeof(initrd); i++)
        initrd[i] = (uint8_t)(i ^ 0x5a);
    struct boot_config config = {
        .kernel = {"vmlinux", image, SYNTHETIC_ELF_SIZE},
        .initrd = {"initrd", initrd, sizeof(initrd)},
        .cmdline = "console=ttyS0 panic=-1",
        .rsdp_address = 0xe0000,
    };
    struct boot_entry entry;
    struct error error = {{0}};
    if (pvh_load(&info, &config, &memory, &entry, &error))
        fail_msg("load failed: %s", error.message);

    /* Segments: file bytes, then zeroed bss. */
    assert_memory_equal(host + SYNTHETIC_ELF_PADDR0, image + SYNTHETIC_ELF_OFFSET0,
                        SYNTHETIC_ELF_FILESZ0);
    for (size_t i = SYNTHETIC_ELF_FILESZ0; i < SYNTHETIC_ELF_MEMSZ0; i++)
        assert_int_equal(host[SYNTHETIC_ELF_PADDR0 + i], 0);
    assert_int_equal(host[SYNTHETIC_ELF_PADDR0 + SYNTHETIC_ELF_MEMSZ0], 0xcc);
    assert_memory_equal(host + SYNTHETIC_ELF_PADDR1, image + SYNTHETIC_ELF_OFFSET1,
                        SYNTHETIC_ELF_FILESZ1);
    assert_int_equal(host[SYNTHETIC_ELF_PADDR1 + SYNTHETIC_ELF_MEMSZ1], 0xcc);

    struct start_info start;
    memcpy(&start, host + START_INFO, sizeof(start));
    assert_int_equal(start.magic, 0x336ec578);
    assert_int_equal(start.version, 1);
    assert_int_equal(start.flags, 0);
    assert_int_equal(start.cmdline_address, CMDLINE_ADDRESS);
    assert_string_equal((const char *)host + CMDLINE_ADDRESS, "console=ttyS0 panic=-1");
    assert_int_equal(start.rsdp_address, 0xe0000);
    assert_int_equal(start.memmap_address, MEMMAP);

    struct e820_entry map[E820_MAX_ENTRIES];
    int count = e820_build(&memory, map);
    assert_int_equal(start.memmap_entries, count);
    for (int i = 0; i < count; i++) {
        struct memmap_entry item;
        memcpy(&item, host + MEMMAP + i * sizeof(item), sizeof(item));
        assert_int_equal(item.address, map[i].address);
        assert_int_equal(item.size, map[i].size);
        assert_int_equal(item.type, map[i].type);
        assert_int_equal(item.reserved, 0);
    }

    assert_int_equal(start.module_count, 1);
    assert_int_equal(start.module_list_address, MODULES);
    struct module_entry module;
    memcpy(&module, host + MODULES, sizeof(module));
    assert_int_equal(module.size, sizeof(initrd));
    assert_int_equal(module.cmdline_address, 0);
    assert_int_equal(module.address % 4096, 0);
    assert_true(module.address >= info.image_end);
    assert_true(module.address + sizeof(initrd) <= MEMORY_SIZE);
    assert_memory_equal(host + module.address, initrd, sizeof(initrd));

    assert_int_equal(entry.mode, BOOT_CPU_MODE_PROTECTED_32);
    assert_int_equal(entry.instruction_pointer, SYNTHETIC_ELF_ENTRY);
    assert_int_equal(entry.rbx, START_INFO);
    assert_int_equal(entry.rsi, 0);
    free(host);
}

static void test_load_without_initrd(void **state)
{
    (void)state;
    synthetic_elf(image, &(struct synthetic_elf_options){1, 4, 0});
    struct pvh_info info;
    expect_parsed(&info);
    struct guest_memory memory;
    uint8_t *host = make_memory(&memory, MEMORY_SIZE);
    struct boot_config config = {.kernel = {"vmlinux", image, SYNTHETIC_ELF_SIZE},
                                 .cmdline = ""};
    struct boot_entry entry;
    struct error error = {{0}};
    assert_int_equal(pvh_load(&info, &config, &memory, &entry, &error), 0);
    struct start_info start;
    memcpy(&start, host + START_INFO, sizeof(start));
    assert_int_equal(start.magic, 0x336ec578);
    assert_int_equal(start.module_count, 0);
    assert_int_equal(start.module_list_address, 0);
    assert_int_equal(host[CMDLINE_ADDRESS], 0);
    assert_int_equal(entry.instruction_pointer, SYNTHETIC_ELF_ENTRY);
    free(host);
}

static void test_load_memory_too_small(void **state)
{
    (void)state;
    synthetic_elf(image, &two_segments);
    struct pvh_info info;
    expect_parsed(&info);
    struct boot_config config = {.kernel = {"vmlinux", image, SYNTHETIC_ELF_SIZE},
                                 .cmdline = "x"};
    struct boot_entry entry;
    struct error error = {{0}};

    /* 16 MiB ends before the first segment. */
    struct guest_memory memory;
    uint8_t *host = make_memory(&memory, 16ULL << 20);
    assert_int_equal(pvh_load(&info, &config, &memory, &entry, &error), -1);
    assert_error_mentions(&error, "vmlinux");
    assert_error_mentions(&error, "too small");
    free(host);

    /* A segment near 3 GiB in 64 MiB of RAM. */
    synthetic_elf(image, &two_segments);
    program(1)->p_paddr = 0xbff00000;
    expect_parsed(&info);
    host = make_memory(&memory, MEMORY_SIZE);
    assert_int_equal(pvh_load(&info, &config, &memory, &entry, &error), -1);
    assert_error_mentions(&error, "too small");

    /* The initrd does not fit above the kernel. */
    synthetic_elf(image, &two_segments);
    expect_parsed(&info);
    config.initrd = (struct boot_file){"big.cpio", host, MEMORY_SIZE - 0x1000000};
    assert_int_equal(pvh_load(&info, &config, &memory, &entry, &error), -1);
    assert_error_mentions(&error, "big.cpio");
    free(host);

    /* A command line that does not fit its 64 KiB slot. */
    host = make_memory(&memory, MEMORY_SIZE);
    char *huge = malloc(0x10001);
    assert_non_null(huge);
    memset(huge, 'y', 0x10000);
    huge[0x10000] = '\0';
    config.initrd = (struct boot_file){0};
    config.cmdline = huge;
    assert_int_equal(pvh_load(&info, &config, &memory, &entry, &error), -1);
    assert_error_mentions(&error, "command line");
    free(huge);
    free(host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_not_elf),
        cmocka_unit_test(test_parse_wrong_kind),
        cmocka_unit_test(test_parse_program_header_table),
        cmocka_unit_test(test_parse_bad_segments),
        cmocka_unit_test(test_parse_notes),
        cmocka_unit_test(test_parse_entry_outside),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_without_initrd),
        cmocka_unit_test(test_load_memory_too_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
