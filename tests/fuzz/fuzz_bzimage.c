/* bzimage_parse on any bytes; what parses is loaded into guest memory whose
 * size, and the initrd's, the input's last bytes choose. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/linux.h"
#include "memory.h"

#define HOST_SIZE (64ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *host;
    static uint8_t initrd[3 * 4096 + 17];
    if (!host) {
        host = calloc(1, HOST_SIZE);
        if (!host)
            abort();
        memset(initrd, 0x1d, sizeof(initrd));
    }

    struct bzimage_info info;
    struct error error;
    if (bzimage_parse(data, size, &info, &error))
        return 0;
    /* A parsed image is at least a setup plus one kernel byte. */
    if (info.setup_size + info.kernel_size != size || info.kernel_size == 0 ||
        info.init_size < info.kernel_size || info.header_end > info.setup_size)
        abort();

    static const uint64_t memory_sizes[] = {16ULL << 20, 20ULL << 20, 33ULL << 20, HOST_SIZE};
    uint8_t choice = data[size - 1];
    struct guest_memory memory;
    guest_memory_init_over(&memory, host, memory_sizes[choice & 3]);
    size_t initrd_size = (choice >> 2) & 3 ? sizeof(initrd) >> (((choice >> 2) & 3) - 1) : 0;
    struct boot_config config = {
        .kernel = {"fuzz", data, size},
        .initrd = {"initrd", initrd_size ? initrd : NULL, initrd_size},
        .cmdline = (choice & 0x10) ? "console=ttyS0 root=/dev/vda rw" : "",
        .rsdp_address = 0xe0000,
    };
    struct boot_entry entry;
    if (bzimage_load(&info, &config, &memory, &entry, &error) == 0) {
        if (entry.instruction_pointer != info.load_address + 0x200 || entry.rsi != 0x7000)
            abort();
        if (info.load_address + info.init_size > memory.total_size)
            abort();
    }
    return 0;
}
