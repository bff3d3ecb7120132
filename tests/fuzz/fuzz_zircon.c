/* The Zircon loader on any kernel and ramdisk bytes: the input is a 16-bit
 * kernel length, the kernel, then the ramdisk.  What parses is loaded into
 * guest memory of a size the kernel's length picks; the container handed to
 * the kernel must then be valid, page-aligned and clear of the kernel. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/zircon.h"
#include "memory.h"

#define HOST_SIZE (32ULL << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *host;
    if (!host) {
        host = calloc(1, HOST_SIZE);
        if (!host)
            abort();
    }
    if (size < 2)
        return 0;
    size_t kernel_size = (size_t)data[0] | (size_t)data[1] << 8;
    if (kernel_size == 0 || kernel_size > size - 2)
        return 0;
    const uint8_t *kernel = data + 2;
    const uint8_t *ramdisk = kernel + kernel_size;
    size_t ramdisk_size = size - 2 - kernel_size;

    struct zbi_kernel_info info;
    struct error error;
    if (!zircon_is_zbi(kernel, kernel_size) ||
        zircon_parse(kernel, kernel_size, &info, &error))
        return 0;
    if (info.kernel_size > info.container_size || info.container_size > kernel_size ||
        info.first_item_after_kernel > info.container_size ||
        info.entry < ZBI_X64_KERNEL_LOAD_ADDRESS ||
        info.entry >= ZBI_X64_KERNEL_LOAD_ADDRESS + info.kernel_size)
        abort();

    struct guest_memory memory;
    guest_memory_init_over(&memory, host, (kernel_size & 1) ? HOST_SIZE : 4ULL << 20);
    struct boot_config config = {
        .kernel = {"fuzz-kernel", kernel, kernel_size},
        .initrd = {"fuzz-ramdisk", ramdisk_size ? ramdisk : NULL, ramdisk_size},
        .user_cmdline = (kernel_size & 2) ? "hello" : NULL,
        .rsdp_address = 0xe0000,
    };
    struct boot_entry entry;
    if (zircon_load(&info, &config, &memory, &entry, &error))
        return 0;
    size_t container_size;
    if (entry.rsi % 4096 || entry.rsi < ZBI_X64_KERNEL_LOAD_ADDRESS + info.kernel_size +
                                              info.reserve_memory_size ||
        entry.rsi >= memory.total_size || entry.instruction_pointer != info.entry ||
        zbi_check(host + entry.rsi, memory.total_size - entry.rsi, &container_size, &error))
        abort();
    return 0;
}
