#include "x86/smbios.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef GUEST_VERSION
#define GUEST_VERSION "0.1.0"
#endif

#define SMBIOS_ENTRY_POINT_LENGTH 24
#define SMBIOS_MAJOR 3
#define SMBIOS_MINOR 0
/* The structures start after the entry point, 16-byte aligned like it. */
#define SMBIOS_TABLE_OFFSET 32

#define TYPE_BIOS 0
#define TYPE_SYSTEM 1
#define TYPE_CHASSIS 3
#define TYPE_PROCESSOR 4
#define TYPE_MEMORY_ARRAY 16
#define TYPE_MEMORY_DEVICE 17
#define TYPE_BOOT_INFORMATION 32
#define TYPE_END 127

/* Formatted-area lengths of the versions of each structure written here. */
#define LENGTH_BIOS 0x18              /* 2.4+ */
#define LENGTH_SYSTEM 0x1b            /* 2.4+ */
#define LENGTH_CHASSIS 0x16           /* 2.7+, no contained elements */
#define LENGTH_PROCESSOR 0x30         /* 3.0 */
#define LENGTH_MEMORY_ARRAY 0x17      /* 2.7+ */
#define LENGTH_MEMORY_DEVICE 0x28     /* 2.8+ */
#define LENGTH_BOOT_INFORMATION 0x0b
#define LENGTH_END 4

#define HANDLE_NONE 0xffff
#define HANDLE_NOT_PROVIDED 0xfffe

/* Appends structures, each a formatted area then its strings, and remembers
 * running out of room instead of writing past it. */
struct smbios_writer {
    uint8_t *table;
    size_t size;
    size_t used;
    uint8_t strings; /* strings added to the current structure */
    bool full;
    uint16_t handle;
    uint8_t scratch[256]; /* where a structure that does not fit is filled, then dropped */
};

static uint8_t *smbios_begin(struct smbios_writer *writer, uint8_t type, uint8_t length)
{
    writer->strings = 0;
    if (writer->full || writer->size - writer->used < length) {
        writer->full = true;
        memset(writer->scratch, 0, sizeof(writer->scratch));
        return writer->scratch; /* the build fails */
    }
    uint8_t *formatted = writer->table + writer->used;
    memset(formatted, 0, length);
    formatted[0] = type;
    formatted[1] = length;
    formatted[2] = (uint8_t)writer->handle;
    formatted[3] = (uint8_t)(writer->handle >> 8);
    writer->handle++;
    writer->used += length;
    return formatted;
}

/* The string's number within its structure, or 0 ("none") for an empty one. */
static uint8_t smbios_add_string(struct smbios_writer *writer, const char *text)
{
    size_t length = strlen(text);
    if (length == 0 || writer->full)
        return 0;
    if (writer->size - writer->used < length + 1 + 1) { /* and the closing NUL */
        writer->full = true;
        return 0;
    }
    memcpy(writer->table + writer->used, text, length + 1);
    writer->used += length + 1;
    return ++writer->strings;
}

/* A structure's string set ends with an empty string: two NULs if it had none. */
static void smbios_end(struct smbios_writer *writer)
{
    size_t terminator = writer->strings ? 1 : 2;
    if (writer->full || writer->size - writer->used < terminator) {
        writer->full = true;
        return;
    }
    memset(writer->table + writer->used, 0, terminator);
    writer->used += terminator;
}

static void put16(uint8_t *at, uint16_t value)
{
    at[0] = (uint8_t)value;
    at[1] = (uint8_t)(value >> 8);
}

static void put32(uint8_t *at, uint32_t value)
{
    for (int i = 0; i < 4; i++)
        at[i] = (uint8_t)(value >> (8 * i));
}

static void put64(uint8_t *at, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        at[i] = (uint8_t)(value >> (8 * i));
}

static void smbios_write_bios(struct smbios_writer *writer)
{
    uint8_t *bios = smbios_begin(writer, TYPE_BIOS, LENGTH_BIOS);
    bios[0x04] = smbios_add_string(writer, SMBIOS_VENDOR);
    bios[0x05] = smbios_add_string(writer, GUEST_VERSION);
    put16(bios + 0x06, 0xf000); /* the BIOS segment, where the reset vector is */
    bios[0x08] = smbios_add_string(writer, "12/01/2026");
    bios[0x09] = 0;    /* a 64 KiB "ROM" */
    bios[0x0a] = 0x08; /* BIOS characteristics not supported: there is no BIOS to call */
    bios[0x12] = 0x01; /* ACPI */
    bios[0x13] = 0x10; /* a virtual machine */
    bios[0x14] = 0xff; /* no BIOS or embedded-controller release numbers */
    bios[0x15] = 0xff;
    bios[0x16] = 0xff;
    bios[0x17] = 0xff;
    smbios_end(writer);
}

/* The serial number is the UUID in its usual text form, so the two agree. */
static void smbios_format_uuid(const uint8_t uuid[16], char text[37])
{
    /* SMBIOS stores the first three fields little-endian. */
    snprintf(text, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             uuid[3], uuid[2], uuid[1], uuid[0], uuid[5], uuid[4], uuid[7], uuid[6], uuid[8],
             uuid[9], uuid[10], uuid[11], uuid[12], uuid[13], uuid[14], uuid[15]);
}

static void smbios_write_system(struct smbios_writer *writer, const struct smbios_machine *machine)
{
    char serial[37];
    smbios_format_uuid(machine->uuid, serial);
    uint8_t *system = smbios_begin(writer, TYPE_SYSTEM, LENGTH_SYSTEM);
    system[0x04] = smbios_add_string(writer, SMBIOS_VENDOR);
    system[0x05] = smbios_add_string(writer, SMBIOS_PRODUCT);
    system[0x06] = smbios_add_string(writer, GUEST_VERSION);
    system[0x07] = smbios_add_string(writer, serial);
    memcpy(system + 0x08, machine->uuid, 16);
    system[0x18] = 0x06; /* woken by the power switch: it was started */
    system[0x1a] = smbios_add_string(writer, "Virtual Machine");
    smbios_end(writer);
}

static void smbios_write_chassis(struct smbios_writer *writer)
{
    uint8_t *chassis = smbios_begin(writer, TYPE_CHASSIS, LENGTH_CHASSIS);
    chassis[0x04] = smbios_add_string(writer, SMBIOS_VENDOR);
    chassis[0x05] = 0x01; /* "other": no physical enclosure */
    chassis[0x09] = 0x03; /* boot-up, power supply and thermal states: safe */
    chassis[0x0a] = 0x03;
    chassis[0x0b] = 0x03;
    chassis[0x0c] = 0x03; /* no security status */
    smbios_end(writer);
}

/* One socket holding every vCPU, as CPUID describes them (N cores of one
 * package, one thread each). */
static void smbios_write_processor(struct smbios_writer *writer,
                                   const struct smbios_machine *machine)
{
    uint8_t *processor = smbios_begin(writer, TYPE_PROCESSOR, LENGTH_PROCESSOR);
    uint16_t cores = machine->cpu_count > 0xfffe ? 0xfffe : (uint16_t)machine->cpu_count;
    uint8_t cores_byte = cores > 0xfe ? 0xff : (uint8_t)cores; /* 0xff: see the 16-bit field */
    processor[0x04] = smbios_add_string(writer, "CPU 0");
    processor[0x05] = 0x03; /* central processor */
    processor[0x06] = 0xfe; /* family: in the 16-bit field */
    processor[0x07] = smbios_add_string(writer, SMBIOS_VENDOR);
    put32(processor + 0x08, machine->cpu_signature);
    put32(processor + 0x0c, machine->cpu_features);
    processor[0x10] = smbios_add_string(writer, machine->cpu_version ? machine->cpu_version : "");
    processor[0x18] = 0x41; /* socket populated, processor enabled */
    processor[0x19] = 0x01; /* upgrade: other */
    put16(processor + 0x1a, HANDLE_NONE); /* no cache structures */
    put16(processor + 0x1c, HANDLE_NONE);
    put16(processor + 0x1e, HANDLE_NONE);
    processor[0x23] = cores_byte;
    processor[0x24] = cores_byte;
    processor[0x25] = cores_byte;
    put16(processor + 0x26, 0x0004); /* 64-bit capable */
    put16(processor + 0x28, 0x0001); /* family: other */
    put16(processor + 0x2a, cores);
    put16(processor + 0x2c, cores);
    put16(processor + 0x2e, cores);
    smbios_end(writer);
}

/* One array holding one device with all of the guest's RAM. */
static void smbios_write_memory(struct smbios_writer *writer, const struct smbios_machine *machine)
{
    uint16_t array_handle = writer->handle;
    uint8_t *array = smbios_begin(writer, TYPE_MEMORY_ARRAY, LENGTH_MEMORY_ARRAY);
    uint64_t kib = machine->memory_size >> 10;
    array[0x04] = 0x01; /* location: other */
    array[0x05] = 0x03; /* system memory */
    array[0x06] = 0x03; /* no error correction */
    if (kib < 0x80000000ULL) {
        put32(array + 0x07, (uint32_t)kib);
    } else {
        put32(array + 0x07, 0x80000000); /* in the extended field, in bytes */
        put64(array + 0x0f, machine->memory_size);
    }
    put16(array + 0x0b, HANDLE_NOT_PROVIDED);
    put16(array + 0x0d, 1);
    smbios_end(writer);

    uint8_t *device = smbios_begin(writer, TYPE_MEMORY_DEVICE, LENGTH_MEMORY_DEVICE);
    uint64_t mib = machine->memory_size >> 20;
    put16(device + 0x04, array_handle);
    put16(device + 0x06, HANDLE_NOT_PROVIDED);
    put16(device + 0x08, 0xffff); /* widths unknown */
    put16(device + 0x0a, 0xffff);
    if (mib < 0x7fff) {
        put16(device + 0x0c, (uint16_t)mib);
    } else {
        put16(device + 0x0c, 0x7fff); /* in the extended field, in MiB */
        put32(device + 0x1c, mib > 0x7fffffff ? 0x7fffffff : (uint32_t)mib);
    }
    device[0x0e] = 0x09; /* a DIMM */
    device[0x10] = smbios_add_string(writer, "DIMM 0");
    device[0x12] = 0x07; /* RAM */
    put16(device + 0x13, 0x0002); /* type detail: other */
    device[0x17] = smbios_add_string(writer, SMBIOS_VENDOR);
    smbios_end(writer);
}

static void smbios_write_boot_information(struct smbios_writer *writer)
{
    /* All zero after the header: the boot had no errors. */
    smbios_begin(writer, TYPE_BOOT_INFORMATION, LENGTH_BOOT_INFORMATION);
    smbios_end(writer);
}

static uint8_t smbios_checksum(const uint8_t *bytes, size_t length)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < length; i++)
        sum = (uint8_t)(sum + bytes[i]);
    return (uint8_t)-sum;
}

int smbios_build(uint8_t *area, uint64_t area_address, size_t area_size,
                 const struct smbios_machine *machine, struct error *error)
{
    if (area_address % 16 || area_size <= SMBIOS_TABLE_OFFSET)
        return error_set(error, "no room for the SMBIOS tables");
    struct smbios_writer writer = {.table = area + SMBIOS_TABLE_OFFSET,
                                   .size = area_size - SMBIOS_TABLE_OFFSET};
    smbios_write_bios(&writer);
    smbios_write_system(&writer, machine);
    smbios_write_chassis(&writer);
    smbios_write_processor(&writer, machine);
    smbios_write_memory(&writer, machine);
    smbios_write_boot_information(&writer);
    smbios_begin(&writer, TYPE_END, LENGTH_END);
    smbios_end(&writer);
    if (writer.full)
        return error_set(error, "the SMBIOS tables do not fit in %zu bytes", area_size);

    uint8_t *entry = area;
    memset(entry, 0, SMBIOS_TABLE_OFFSET);
    memcpy(entry, "_SM3_", 5);
    entry[6] = SMBIOS_ENTRY_POINT_LENGTH;
    entry[7] = SMBIOS_MAJOR;
    entry[8] = SMBIOS_MINOR;
    entry[9] = 0;  /* docrev */
    entry[10] = 1; /* entry point revision: 3.0 */
    put32(entry + 12, (uint32_t)writer.used);
    put64(entry + 16, area_address + SMBIOS_TABLE_OFFSET);
    entry[5] = smbios_checksum(entry, SMBIOS_ENTRY_POINT_LENGTH);
    return 0;
}
