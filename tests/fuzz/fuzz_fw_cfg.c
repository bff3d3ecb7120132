/* fw_cfg driven by a byte program of port accesses (selector writes of any
 * width, data reads and writes, selector reads, DMA descriptors anywhere in
 * or out of guest RAM), checked against the items after every step: a data
 * byte is the item's byte at the offset, or 0 past its end and for unknown
 * selectors; the offset never passes the end; a DMA read that reports
 * success left the item's bytes (then zeros) at its target. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/fw_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MEMORY_SIZE (2u << 20)

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* A descriptor at a guest address the input picks (some outside RAM), with
 * contents from the input, run through the two halves of the register. */
static void run_dma(struct fw_cfg *fw_cfg, uint8_t *host, const uint8_t *argument)
{
    uint32_t address = be32(argument) & 0x3fffffu;
    uint8_t descriptor[FW_CFG_DMA_DESCRIPTOR_SIZE];
    memcpy(descriptor, argument + 4, sizeof(descriptor));
    /* Keep most targets inside RAM so that reads get checked. */
    if (argument[4] & 0x80)
        memset(descriptor + 8, 0, 5), descriptor[13] &= 0x1f;
    bool in_ram = address + FW_CFG_DMA_DESCRIPTOR_SIZE <= MEMORY_SIZE;
    if (in_ram)
        memcpy(host + address, descriptor, sizeof(descriptor));
    uint32_t control = be32(descriptor), length = be32(descriptor + 4);
    uint64_t target = (uint64_t)be32(descriptor + 8) << 32 | be32(descriptor + 12);
    uint16_t selector = control & FW_CFG_DMA_SELECT ? (uint16_t)(control >> 16) : fw_cfg->selector;
    uint32_t offset = control & FW_CFG_DMA_SELECT ? 0 : fw_cfg->offset;
    const struct fw_cfg_item *item = fw_cfg_find(fw_cfg, selector);

    uint8_t high[4] = {0}, low[4] = {(uint8_t)(address >> 24), (uint8_t)(address >> 16),
                                     (uint8_t)(address >> 8), (uint8_t)address};
    fw_cfg_dma_port_write(fw_cfg, 0, high, 4);
    fw_cfg_dma_port_write(fw_cfg, 4, low, 4);
    if (!in_ram)
        return;
    uint32_t result = be32(host + address);
    if (result != 0 && result != FW_CFG_DMA_ERROR)
        abort();
    bool target_in_ram = target <= MEMORY_SIZE && length <= MEMORY_SIZE - target;
    if ((control & FW_CFG_DMA_READ) && (result == 0) != target_in_ram)
        abort();
    if ((control & FW_CFG_DMA_READ) && result == 0) {
        /* The descriptor's own bytes may lie inside the target: its control
         * was written last. */
        for (uint32_t i = 0; i < length; i++) {
            uint64_t at = target + i;
            if (at >= address && at < address + 4)
                continue;
            uint8_t expected = item && offset + (uint64_t)i < item->size ? item->data[offset + i] : 0;
            if (host[at] != expected)
                abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct guest_memory memory;
    static struct fw_cfg fw_cfg;
    static uint8_t *host;
    if (!host && !(host = calloc(1, MEMORY_SIZE)))
        abort();
    if (size < 2)
        return 0;
    /* The first byte is spare (it chose the memory size before DMA needed
     * real memory behind the guest's); the second the CPU count. */
    int cpus = data[1] + 1;
    guest_memory_init_over(&memory, host, MEMORY_SIZE);
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
        case 2: { /* DMA, or a data-port write or wide read: nothing changes */
            if (op & 0x20) {
                uint8_t dma[4 + FW_CFG_DMA_DESCRIPTOR_SIZE] = {0};
                memcpy(dma, argument, width);
                for (unsigned j = width; j < sizeof(dma) && i < size; j++)
                    dma[j] = data[i++];
                run_dma(&fw_cfg, host, dma);
                break;
            }
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
