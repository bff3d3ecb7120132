/* Small hand-made kernel images for the loader tests and the fuzz seeds: a
 * bzImage with a boot protocol 2.15 header, and an ELF64 vmlinux with a PVH
 * entry note.  Each builder writes a valid image that a test then breaks one
 * field at a time. */
#ifndef GUEST_TESTS_SYNTHETIC_IMAGES_H
#define GUEST_TESTS_SYNTHETIC_IMAGES_H

#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline void synthetic_put16(uint8_t *p, uint16_t value)
{
    memcpy(p, &value, 2);
}

static inline void synthetic_put32(uint8_t *p, uint32_t value)
{
    memcpy(p, &value, 4);
}

static inline void synthetic_put64(uint8_t *p, uint64_t value)
{
    memcpy(p, &value, 8);
}

static inline uint16_t synthetic_get16(const uint8_t *p)
{
    uint16_t value;
    memcpy(&value, p, 2);
    return value;
}

static inline uint32_t synthetic_get32(const uint8_t *p)
{
    uint32_t value;
    memcpy(&value, p, 4);
    return value;
}

static inline uint64_t synthetic_get64(const uint8_t *p)
{
    uint64_t value;
    memcpy(&value, p, 8);
    return value;
}

/* ---- bzImage ---------------------------------------------------------- */

#define SYNTHETIC_BZ_SETUP_SECTS 4
#define SYNTHETIC_BZ_SETUP_SIZE ((SYNTHETIC_BZ_SETUP_SECTS + 1) * 512)
#define SYNTHETIC_BZ_KERNEL_SIZE 8192
#define SYNTHETIC_BZ_SIZE (SYNTHETIC_BZ_SETUP_SIZE + SYNTHETIC_BZ_KERNEL_SIZE)
#define SYNTHETIC_BZ_INIT_SIZE 0x400000u
#define SYNTHETIC_BZ_PREF_ADDRESS 0x1000000ull
#define SYNTHETIC_BZ_INITRD_ADDR_MAX 0x7fffffffu
#define SYNTHETIC_BZ_CMDLINE_SIZE 2047u
#define SYNTHETIC_BZ_JUMP 0x66

/* The protected-mode kernel's bytes: a pattern that differs per offset. */
static inline uint8_t synthetic_kernel_byte(size_t offset)
{
    return (uint8_t)(offset * 7 + 3 + (offset >> 8));
}

/* Writes a valid bzImage of SYNTHETIC_BZ_SIZE bytes into image. */
static inline void synthetic_bzimage(uint8_t *image)
{
    memset(image, 0, SYNTHETIC_BZ_SIZE);
    for (size_t i = 0; i < 0x1f1; i++)
        image[i] = (uint8_t)(0xa0 ^ i); /* boot sector junk a loader must not care about */
    image[0x1f1] = SYNTHETIC_BZ_SETUP_SECTS;
    synthetic_put32(image + 0x1f4, SYNTHETIC_BZ_KERNEL_SIZE / 16); /* syssize */
    synthetic_put16(image + 0x1fe, 0xaa55);
    image[0x200] = 0xeb;
    image[0x201] = SYNTHETIC_BZ_JUMP;
    memcpy(image + 0x202, "HdrS", 4);
    synthetic_put16(image + 0x206, 0x020f);
    image[0x211] = 0x01 | 0x20; /* LOADED_HIGH, QUIET_FLAG */
    synthetic_put32(image + 0x22c, SYNTHETIC_BZ_INITRD_ADDR_MAX);
    synthetic_put32(image + 0x230, 0x200000); /* kernel_alignment */
    image[0x234] = 1;                          /* relocatable_kernel */
    synthetic_put16(image + 0x236, 0x01);      /* XLF_KERNEL_64 */
    synthetic_put32(image + 0x238, SYNTHETIC_BZ_CMDLINE_SIZE);
    synthetic_put64(image + 0x258, SYNTHETIC_BZ_PREF_ADDRESS);
    synthetic_put32(image + 0x260, SYNTHETIC_BZ_INIT_SIZE);
    for (size_t i = 0; i < SYNTHETIC_BZ_KERNEL_SIZE; i++)
        image[SYNTHETIC_BZ_SETUP_SIZE + i] = synthetic_kernel_byte(i);
}

/* ---- ELF64 vmlinux with a PVH note ----------------------------------- */

#define SYNTHETIC_ELF_PADDR0 0x1000000ull
#define SYNTHETIC_ELF_PADDR1 0x1200000ull
#define SYNTHETIC_ELF_OFFSET0 0x1000u
#define SYNTHETIC_ELF_FILESZ0 0x800u
#define SYNTHETIC_ELF_MEMSZ0 0x2000u
#define SYNTHETIC_ELF_OFFSET1 0x1800u
#define SYNTHETIC_ELF_FILESZ1 0x400u
#define SYNTHETIC_ELF_MEMSZ1 0x400u
#define SYNTHETIC_ELF_NOTE_OFFSET 0x200u
#define SYNTHETIC_ELF_ENTRY 0x1000100ull
#define SYNTHETIC_ELF_SIZE 0x1c00u

/* Offsets of the pieces, for tests that break them. */
#define SYNTHETIC_ELF_PHDR(i) (sizeof(Elf64_Ehdr) + (i) * sizeof(Elf64_Phdr))

struct synthetic_elf_options {
    int load_segments; /* 1 or 2 */
    int entry_desc_size; /* 4 or 8 */
    int gnu_note_first;  /* an unrelated note before the PVH one */
};

/* Writes a valid ELF of SYNTHETIC_ELF_SIZE bytes; returns the PT_NOTE's file size. */
static inline size_t synthetic_elf(uint8_t *image, const struct synthetic_elf_options *options)
{
    memset(image, 0, SYNTHETIC_ELF_SIZE);
    int load_segments = options->load_segments;
    Elf64_Ehdr header = {0};
    memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_EXEC;
    header.e_machine = EM_X86_64;
    header.e_version = EV_CURRENT;
    header.e_entry = 0xffffffff81000000ull; /* the virtual entry: not what PVH uses */
    header.e_phoff = sizeof(Elf64_Ehdr);
    header.e_ehsize = sizeof(Elf64_Ehdr);
    header.e_phentsize = sizeof(Elf64_Phdr);
    header.e_phnum = (Elf64_Half)(load_segments + 1);
    memcpy(image, &header, sizeof(header));

    /* Notes: optionally a GNU build-id-like note, then Xen's PHYS32_ENTRY. */
    size_t note = SYNTHETIC_ELF_NOTE_OFFSET;
    if (options->gnu_note_first) {
        Elf64_Nhdr gnu = {4, 20, 3};
        memcpy(image + note, &gnu, sizeof(gnu));
        memcpy(image + note + sizeof(gnu), "GNU", 4);
        memset(image + note + sizeof(gnu) + 4, 0x5a, 20);
        note += sizeof(gnu) + 4 + 20;
    }
    Elf64_Nhdr xen = {4, (Elf64_Word)options->entry_desc_size, 18};
    memcpy(image + note, &xen, sizeof(xen));
    memcpy(image + note + sizeof(xen), "Xen", 4);
    if (options->entry_desc_size == 4)
        synthetic_put32(image + note + sizeof(xen) + 4, (uint32_t)SYNTHETIC_ELF_ENTRY);
    else
        synthetic_put64(image + note + sizeof(xen) + 4, SYNTHETIC_ELF_ENTRY);
    note += sizeof(xen) + 4 + (((size_t)options->entry_desc_size + 3) & ~(size_t)3);
    size_t note_size = note - SYNTHETIC_ELF_NOTE_OFFSET;

    Elf64_Phdr load0 = {PT_LOAD, PF_R | PF_X, SYNTHETIC_ELF_OFFSET0, 0xffffffff81000000ull,
                        SYNTHETIC_ELF_PADDR0, SYNTHETIC_ELF_FILESZ0, SYNTHETIC_ELF_MEMSZ0,
                        0x200000};
    Elf64_Phdr load1 = {PT_LOAD, PF_R | PF_W, SYNTHETIC_ELF_OFFSET1, 0xffffffff81200000ull,
                        SYNTHETIC_ELF_PADDR1, SYNTHETIC_ELF_FILESZ1, SYNTHETIC_ELF_MEMSZ1,
                        0x200000};
    Elf64_Phdr notes = {PT_NOTE, PF_R, SYNTHETIC_ELF_NOTE_OFFSET, 0, 0, note_size, note_size, 4};
    memcpy(image + SYNTHETIC_ELF_PHDR(0), &load0, sizeof(load0));
    if (load_segments == 2)
        memcpy(image + SYNTHETIC_ELF_PHDR(1), &load1, sizeof(load1));
    memcpy(image + SYNTHETIC_ELF_PHDR(load_segments), &notes, sizeof(notes));

    for (size_t i = SYNTHETIC_ELF_OFFSET0; i < SYNTHETIC_ELF_SIZE; i++)
        image[i] = synthetic_kernel_byte(i);
    return note_size;
}

#endif
