/* pvh_parse on any bytes; what parses is loaded into guest memory whose
 * size the input's last byte chooses.  Segments may ask for up to 3 GiB: the
 * load must then fail cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/pvh.h"
#include "memory.h"

#define HOST_SIZE (64ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *host;
    static uint8_t initrd[2 * 4096 + 5];
    if (!host) {
        host = calloc(1, HOST_SIZE);
        if (!host)
            abort();
        memset(initrd, 0x2e, sizeof(initrd));
    }

    struct pvh_info info;
    struct error error;
    if (pvh_parse(data, size, &info, &error))
        return 0;
    if (info.segment_count < 1 || info.segment_count > PVH_MAX_SEGMENTS)
        abort();
    for (int i = 0; i < info.segment_count; i++) {
        const struct pvh_segment *segment = &info.segments[i];
        if (segment->file_offset > size || segment->file_size > size - segment->file_offset ||
            segment->file_size > segment->memory_size ||
            segment->physical_address + segment->memory_size > info.image_end ||
            info.image_end > 0xc0000000ULL)
            abort();
    }

    static const uint64_t memory_sizes[] = {16ULL << 20, 32ULL << 20, HOST_SIZE};
    uint8_t choice = data[size - 1];
    struct guest_memory memory;
    guest_memory_init_over(&memory, host, memory_sizes[choice % 3]);
    struct boot_config config = {
        .kernel = {"fuzz", data, size},
        .initrd = {"initrd", (choice & 4) ? initrd : NULL, (choice & 4) ? sizeof(initrd) : 0},
        .cmdline = "console=ttyS0",
        .rsdp_address = 0xe0000,
    };
    struct boot_entry entry;
    if (pvh_load(&info, &config, &memory, &entry, &error) == 0) {
        if (entry.instruction_pointer != info.entry || entry.rbx != 0x6000 ||
            info.image_end > memory.total_size)
            abort();
    }
    return 0;
}
