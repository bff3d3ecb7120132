/* fw_cfg driven by a byte program of port accesses (selector writes of any
 * width, data reads and writes, selector reads), checked against the items
 * after every step: a data byte is the item's byte at the offset, or 0 past
 * its end and for unknown selectors; the offset never passes the end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/fw_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_memory memory;
    static struct fw_cfg fw_cfg;
    if (size < 2)
        return 0;
    /* The first two bytes choose the machine: memory (16 MiB steps, some
     * above 4 GiB) and CPU count. */
    uint64_t memory_size = ((uint64_t)data[0] + 1) << 24;
    int cpus = data[1] + 1;
    guest_memory_init_over(&memory, (uint8_t *)(uintptr_t)0x1000, memory_size);
    if (fw_cfg_init(&fw_cfg, &memory, cpus, NULL))
        abort();
    size_t i = 2;
    while (i < size) {
        uint8_t op = data[i++];
        unsigned width = 1u << ((op >> 2) & 3);
        uint8_t argument[8] = {0};
        for (unsigned j = 0; j < 8 && i < size && j < width; j++)
            argument[j] = data[i++];
        switch (op & 3) {
        case 0: { /* selector write of `width` bytes */
            uint16_t before = fw_cfg.selector;
            fw_cfg_port_write(&fw_cfg, 0, argument, width);
            if (width == 2 && (fw_cfg.selector != (uint16_t)(argument[0] | argument[1] << 8) ||
                               fw_cfg.offset != 0))
                abort();
            if (width != 2 && fw_cfg.selector != before)
                abort();
            break;
        }
        case 1: { /* data reads, as many as the argument's first byte */
            for (unsigned n = 0; n <= argument[0]; n++) {
                const struct fw_cfg_item *item = fw_cfg_find(&fw_cfg, fw_cfg.selector);
                uint32_t offset = fw_cfg.offset;
                uint8_t expected = item && offset < item->size ? item->data[offset] : 0;
                uint8_t value = 0x55;
                fw_cfg_port_read(&fw_cfg, 1, &value, 1);
                if (value != expected)
                    abort();
            }
            break;
        }
        case 2: { /* a data-port write or wide read: nothing changes */
            uint16_t selector = fw_cfg.selector;
            uint32_t offset = fw_cfg.offset;
            uint8_t out[8];
            if (op & 0x10)
                fw_cfg_port_write(&fw_cfg, 1, argument, width);
            else if (width != 1)
                fw_cfg_port_read(&fw_cfg, 1, out, width);
            if (fw_cfg.selector != selector || fw_cfg.offset != offset)
                abort();
            break;
        }
        default: { /* selector read: zeros */
            uint8_t out[8];
            memset(out, 0xee, sizeof(out));
            fw_cfg_port_read(&fw_cfg, 0, out, width > 2 ? 2 : width);
            for (unsigned j = 0; j < (width > 2 ? 2 : width); j++)
                if (out[j])
                    abort();
            break;
        }
        }
        const struct fw_cfg_item *item = fw_cfg_find(&fw_cfg, fw_cfg.selector);
        if (item ? fw_cfg.offset > item->size : fw_cfg.offset != 0)
            abort();
    }
    fw_cfg_destroy(&fw_cfg);
    return 0;
}
