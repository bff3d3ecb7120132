/* pc-testdev driven by a byte program of accesses at any offset and width
 * (the scratch ports, the page flush, the IRQ-line ports, the scratch MMIO),
 * against a model: the scratch register and the MMIO hold what was last
 * written, IRQ lines are only ever 0..23 with level 0 or 1, and a flush
 * leaves guest memory as it was. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/test_devices.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEMORY_SIZE (1u << 20)

static void check_irq(void *opaque, unsigned line, int level)
{
    (void)opaque;
    if (line >= TEST_DEVICES_IRQ_LINES || (level != 0 && level != 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *host;
    static struct guest_memory memory;
    static struct test_devices devices;
    static uint8_t model_mmio[TEST_DEVICES_MMIO_SIZE];
    if (!host) {
        host = mmap(NULL, MEMORY_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                    0);
        if (host == MAP_FAILED)
            abort();
        for (unsigned i = 0; i < MEMORY_SIZE; i++)
            host[i] = (uint8_t)(i * 7);
        guest_memory_init_over(&memory, host, MEMORY_SIZE);
    }
    test_devices_init(&devices, &memory, check_irq, NULL);
    memset(model_mmio, 0, sizeof(model_mmio));
    uint8_t model_scratch[4] = {0};

    size_t i = 0;
    while (i + 3 <= size) {
        uint8_t op = data[i];
        uint16_t offset = (uint16_t)(data[i + 1] | data[i + 2] << 8);
        i += 3;
        unsigned width = 1u << ((op >> 3) & 3);
        uint8_t value[8] = {0};
        for (unsigned j = 0; j < width && i < size; j++)
            value[j] = data[i++];
        uint8_t out[8];
        switch (op & 7) {
        case 0: /* scratch write, as the bus hands it (inside the 4 ports) */
            if ((offset & 3) + width <= 4) {
                test_devices_scratch_write(&devices, offset & 3, value, width);
                memcpy(model_scratch + (offset & 3), value, width);
            } else {
                test_devices_scratch_write(&devices, offset & 3, value, width);
            }
            break;
        case 1:
            test_devices_scratch_read(&devices, offset & 3, out, width);
            if ((offset & 3) + width <= 4 && memcmp(out, model_scratch + (offset & 3), width))
                abort();
            break;
        case 2:
            test_devices_irq_write(&devices, offset & 0x1f, value, width);
            break;
        case 3: {
            uint32_t address;
            memcpy(&address, value, 4);
            test_devices_flush_write(&devices, offset & 3, value, width);
            /* Any page it may have touched still holds its bytes. */
            uint32_t page = address & ~0xfffu;
            if (page < MEMORY_SIZE)
                for (unsigned j = 0; j < 4096; j += 512)
                    if (host[page + j] != (uint8_t)((page + j) * 7))
                        abort();
            break;
        }
        case 4:
        case 5:
            test_devices_mmio_write(&devices, offset, value, width);
            if ((uint32_t)offset + width <= TEST_DEVICES_MMIO_SIZE)
                memcpy(model_mmio + offset, value, width);
            break;
        default:
            memset(out, 0xee, sizeof(out));
            test_devices_mmio_read(&devices, offset, out, width);
            if ((uint32_t)offset + width <= TEST_DEVICES_MMIO_SIZE &&
                memcmp(out, model_mmio + offset, width))
                abort();
            break;
        }
    }
    test_devices_destroy(&devices);
    return 0;
}
