/* multiboot_parse on any bytes; what parses is loaded into guest memory
 * whose size the input's last byte chooses.  Segments may ask for up to
 * 4 GiB, and may sit below 1 MiB outside the areas the guest uses: the load
 * must then succeed or fail cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/multiboot.h"
#include "memory.h"

#define HOST_SIZE (64ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *host;
    static uint8_t module[2 * 4096 + 5];
    if (!host) {
        host = calloc(1, HOST_SIZE);
        if (!host)
            abort();
        memset(module, 0x2e, sizeof(module));
    }

    struct multiboot_info_parsed info;
    struct error error;
    bool has_header = multiboot_has_header(data, size);
    if (multiboot_parse(data, size, &info, &error))
        return 0;
    if (!has_header || info.segment_count < 1 || info.segment_count > MULTIBOOT_MAX_SEGMENTS)
        abort();
    /* What the loader and the BIOS area keep: no segment may reach it. */
    static const uint64_t kept[][2] = {{0x7000, 0x7406}, {0x9fc00, 0x100000},
                                       {0xc0000000ULL, 0x100000000ULL}};
    bool entry_inside = false;
    for (int i = 0; i < info.segment_count; i++) {
        const struct multiboot_segment *segment = &info.segments[i];
        for (int k = 0; k < 3; k++)
            if (segment->physical_address < kept[k][1] &&
                kept[k][0] < segment->physical_address + segment->memory_size)
                abort();
        if (segment->file_offset > size || segment->file_size > size - segment->file_offset ||
            segment->file_size > segment->memory_size ||
            segment->physical_address + segment->memory_size > info.image_end ||
            info.image_end > 0x100000000ULL)
            abort();
        if (info.entry >= segment->physical_address &&
            info.entry < segment->physical_address + segment->file_size)
            entry_inside = true;
    }
    if (!entry_inside)
        abort();

    static const uint64_t memory_sizes[] = {16ULL << 20, 32ULL << 20, HOST_SIZE};
    uint8_t choice = size ? data[size - 1] : 0;
    struct guest_memory memory;
    guest_memory_init_over(&memory, host, memory_sizes[choice % 3]);
    struct boot_config config = {
        .kernel = {"fuzz", data, size},
        .initrd = {"module", (choice & 4) ? module : NULL, (choice & 4) ? sizeof(module) : 0},
        .user_cmdline = (choice & 8) ? "hello" : NULL,
    };
    struct boot_entry entry;
    if (multiboot_load(&info, &config, &memory, &entry, &error) == 0) {
        if (entry.instruction_pointer != info.entry || entry.rbx != 0x7000 ||
            entry.rax != MULTIBOOT_BOOTLOADER_MAGIC || info.image_end > memory.total_size)
            abort();
        /* The module, when there is one, is above 1 MiB and the kernel. */
        if (config.initrd.data) {
            uint32_t start;
            memcpy(&start, host + 0x7100, 4);
            if (start < 0x100000 || start < info.image_end)
                abort();
        }
    }
    return 0;
}
