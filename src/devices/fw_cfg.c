#include "devices/fw_cfg.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "x86/e820.h"

#define FW_CFG_ID_TRADITIONAL 0x1u
#define FW_CFG_ID_DMA 0x2u
/* What the DMA address register reads as, byte by byte. */
static const char dma_signature[FW_CFG_DMA_PORT_COUNT] = {'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G'};

static void put_le(uint8_t *bytes, uint64_t value, unsigned length)
{
    for (unsigned i = 0; i < length; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
}

static void put_be(uint8_t *bytes, uint64_t value, unsigned length)
{
    for (unsigned i = 0; i < length; i++)
        bytes[i] = (uint8_t)(value >> (8 * (length - 1 - i)));
}

static int fw_cfg_add(struct fw_cfg *fw_cfg, uint16_t key, const void *bytes, uint32_t size,
                      struct error *error)
{
    if (fw_cfg->item_count == FW_CFG_MAX_ITEMS)
        return error_set(error, "fw_cfg: more than %d items", FW_CFG_MAX_ITEMS);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return error_set(error, "fw_cfg: out of memory");
    memcpy(copy, bytes, size);
    fw_cfg->items[fw_cfg->item_count++] = (struct fw_cfg_item){key, size, copy};
    return 0;
}

static int fw_cfg_add_le(struct fw_cfg *fw_cfg, uint16_t key, uint64_t value, unsigned length,
                         struct error *error)
{
    uint8_t bytes[8];
    put_le(bytes, value, length);
    return fw_cfg_add(fw_cfg, key, bytes, length, error);
}

/* Files get selectors from FW_CFG_FILE_FIRST in the order they are added;
 * callers add them sorted by name, as QEMU lists its directory. */
static int fw_cfg_add_file(struct fw_cfg *fw_cfg, const char *name, const void *bytes,
                           uint32_t size, struct error *error)
{
    if (fw_cfg->file_count == FW_CFG_MAX_FILES || strlen(name) >= FW_CFG_FILE_NAME_SIZE)
        return error_set(error, "fw_cfg: no room for the file %s", name);
    return fw_cfg_add(fw_cfg, (uint16_t)(FW_CFG_FILE_FIRST + fw_cfg->file_count++), bytes, size,
                      error);
}

static int fw_cfg_add_directory(struct fw_cfg *fw_cfg, const char *const *names,
                                struct error *error)
{
    uint8_t directory[4 + FW_CFG_MAX_FILES * FW_CFG_FILE_ENTRY_SIZE];
    memset(directory, 0, sizeof(directory));
    put_be(directory, (uint32_t)fw_cfg->file_count, 4);
    for (int i = 0; i < fw_cfg->file_count; i++) {
        const struct fw_cfg_item *file = fw_cfg_find(fw_cfg, (uint16_t)(FW_CFG_FILE_FIRST + i));
        uint8_t *entry = directory + 4 + i * FW_CFG_FILE_ENTRY_SIZE;
        put_be(entry, file->size, 4);
        put_be(entry + 4, file->key, 2);
        /* entry + 6: two reserved bytes, zero */
        memcpy(entry + 8, names[i], strlen(names[i]));
    }
    return fw_cfg_add(fw_cfg, FW_CFG_FILE_DIR, directory,
                      (uint32_t)(4 + fw_cfg->file_count * FW_CFG_FILE_ENTRY_SIZE), error);
}

static void fw_cfg_select(struct fw_cfg *fw_cfg, uint16_t selector);

int fw_cfg_init(struct fw_cfg *fw_cfg, const struct guest_memory *memory, int cpu_count,
                struct error *error)
{
    memset(fw_cfg, 0, sizeof(*fw_cfg));
    pthread_mutex_init(&fw_cfg->lock, NULL);
    fw_cfg->memory = memory;
    struct e820_entry map[E820_MAX_ENTRIES];
    int map_count = e820_build(memory, map);
    uint8_t e820[E820_MAX_ENTRIES * E820_BIOS_ENTRY_SIZE];
    e820_write_bios_table(map, map_count, e820);
    uint8_t boot_cpus[2];
    put_le(boot_cpus, (uint64_t)cpu_count, 2);
    static const char *const file_names[] = {"etc/boot-cpus", "etc/e820"};

    if (fw_cfg_add(fw_cfg, FW_CFG_SIGNATURE, "QEMU", 4, error) ||
        fw_cfg_add_le(fw_cfg, FW_CFG_ID, FW_CFG_ID_TRADITIONAL | FW_CFG_ID_DMA, 4, error) ||
        fw_cfg_add_le(fw_cfg, FW_CFG_RAM_SIZE, memory->total_size, 8, error) ||
        fw_cfg_add_le(fw_cfg, FW_CFG_NB_CPUS, (uint64_t)cpu_count, 2, error) ||
        fw_cfg_add_le(fw_cfg, FW_CFG_MAX_CPUS, (uint64_t)cpu_count, 2, error) ||
        fw_cfg_add_file(fw_cfg, file_names[0], boot_cpus, sizeof(boot_cpus), error) ||
        fw_cfg_add_file(fw_cfg, file_names[1], e820,
                        (uint32_t)(map_count * E820_BIOS_ENTRY_SIZE), error) ||
        fw_cfg_add_directory(fw_cfg, file_names, error)) {
        fw_cfg_destroy(fw_cfg);
        return -1;
    }
    fw_cfg_select(fw_cfg, FW_CFG_SIGNATURE); /* selector 0, as at reset */
    return 0;
}

/* The lock held (or not yet shared): a new selection starts at offset 0. */
static void fw_cfg_select(struct fw_cfg *fw_cfg, uint16_t selector)
{
    fw_cfg->selector = selector;
    fw_cfg->current = fw_cfg_find(fw_cfg, selector);
    fw_cfg->offset = 0;
}

void fw_cfg_destroy(struct fw_cfg *fw_cfg)
{
    for (int i = 0; i < fw_cfg->item_count; i++)
        free(fw_cfg->items[i].data);
    fw_cfg->item_count = fw_cfg->file_count = 0;
    pthread_mutex_destroy(&fw_cfg->lock);
}

const struct fw_cfg_item *fw_cfg_find(const struct fw_cfg *fw_cfg, uint16_t selector)
{
    uint16_t key = selector & (uint16_t)~FW_CFG_WRITE_CHANNEL;
    for (int i = 0; i < fw_cfg->item_count; i++)
        if (fw_cfg->items[i].key == key)
            return &fw_cfg->items[i];
    return NULL;
}

void fw_cfg_port_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    struct fw_cfg *fw_cfg = opaque;
    uint8_t *bytes = data;
    memset(data, 0, length);
    if (offset != 1 || length != 1) {
        /* The selector is write-only; reads of it give 0. */
        if (offset == 1)
            log_once("fw_cfg: a %u-byte read of the data port (it is 8 bits wide)", length);
        return;
    }
    pthread_mutex_lock(&fw_cfg->lock);
    const struct fw_cfg_item *item = fw_cfg->current;
    /* Past the end, and for an unknown selector, the port reads 0; the offset
     * stops there so that it can never wrap back into the item. */
    if (item && fw_cfg->offset < item->size)
        bytes[0] = item->data[fw_cfg->offset++];
    pthread_mutex_unlock(&fw_cfg->lock);
}

void fw_cfg_port_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct fw_cfg *fw_cfg = opaque;
    if (offset == 1) {
        log_once("fw_cfg: a write to the data port ignored (every item is read-only)");
        return;
    }
    if (length != 2) {
        log_once("fw_cfg: a %u-byte write of the selector ignored (it is 16 bits wide)",
                 length);
        return;
    }
    const uint8_t *bytes = data;
    pthread_mutex_lock(&fw_cfg->lock);
    fw_cfg_select(fw_cfg, (uint16_t)(bytes[0] | bytes[1] << 8));
    pthread_mutex_unlock(&fw_cfg->lock);
}

static uint64_t get_be(const uint8_t *bytes, unsigned length)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < length; i++)
        value = value << 8 | bytes[i];
    return value;
}

/* One transfer of the current item at the current offset, with the lock
 * held: true when it succeeded. */
static bool fw_cfg_dma_transfer(struct fw_cfg *fw_cfg, uint32_t control, uint32_t length,
                                uint64_t address)
{
    const struct fw_cfg_item *item = fw_cfg->current;
    uint32_t size = item ? item->size : 0;
    uint32_t available = fw_cfg->offset < size ? size - fw_cfg->offset : 0;
    uint32_t taken = length < available ? length : available;
    if (control & FW_CFG_DMA_READ) {
        uint8_t *destination = guest_memory_ptr(fw_cfg->memory, address, length);
        if (!destination) {
            log_once("fw_cfg: DMA read of %u bytes to 0x%llx: not guest RAM", length,
                     (unsigned long long)address);
            return false;
        }
        /* As through the data port: bytes past the item's end are 0. */
        if (taken)
            memcpy(destination, item->data + fw_cfg->offset, taken);
        memset(destination + taken, 0, length - taken);
        fw_cfg->offset += taken;
        return true;
    }
    if (control & FW_CFG_DMA_WRITE) {
        log_once("fw_cfg: DMA write refused (every item is read-only)");
        return false;
    }
    if (control & FW_CFG_DMA_SKIP)
        fw_cfg->offset += taken;
    return true;
}

/* Runs the descriptor at address; its control field says how it went. */
static void fw_cfg_dma_run(struct fw_cfg *fw_cfg, uint64_t address)
{
    uint8_t *descriptor = guest_memory_ptr(fw_cfg->memory, address, FW_CFG_DMA_DESCRIPTOR_SIZE);
    if (!descriptor) {
        log_once("fw_cfg: DMA descriptor at 0x%llx is not in guest RAM",
                 (unsigned long long)address);
        return;
    }
    /* One copy, so that another vCPU rewriting it cannot change what is
     * checked after the check. */
    uint8_t copy[FW_CFG_DMA_DESCRIPTOR_SIZE];
    memcpy(copy, descriptor, sizeof(copy));
    uint32_t control = (uint32_t)get_be(copy, 4);
    uint32_t length = (uint32_t)get_be(copy + 4, 4);
    uint64_t target = get_be(copy + 8, 8);
    if (control & FW_CFG_DMA_SELECT)
        fw_cfg_select(fw_cfg, (uint16_t)(control >> 16));
    bool done = fw_cfg_dma_transfer(fw_cfg, control, length, target);
    put_be(descriptor, done ? 0 : FW_CFG_DMA_ERROR, 4);
}

void fw_cfg_dma_port_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    (void)opaque;
    /* The bus hands only accesses inside the 8 ports. */
    memset(data, 0, length);
    if (offset + length <= FW_CFG_DMA_PORT_COUNT)
        memcpy(data, &dma_signature[offset], length);
}

void fw_cfg_dma_port_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct fw_cfg *fw_cfg = opaque;
    if (length != 4 || (offset != 0 && offset != 4)) {
        log_once("fw_cfg: a %u-byte write at DMA port 0x%x ignored (4-byte halves at 0x%x and "
                 "0x%x)",
                 length, (unsigned)(FW_CFG_DMA_PORT + offset), FW_CFG_DMA_PORT,
                 FW_CFG_DMA_PORT + 4);
        return;
    }
    uint32_t half = (uint32_t)get_be(data, 4);
    pthread_mutex_lock(&fw_cfg->lock);
    if (offset == 0) {
        fw_cfg->dma_address_high = half;
    } else {
        uint64_t address = (uint64_t)fw_cfg->dma_address_high << 32 | half;
        /* The register reads 0 after an operation: the next one starts
         * from a clear high half. */
        fw_cfg->dma_address_high = 0;
        fw_cfg_dma_run(fw_cfg, address);
    }
    pthread_mutex_unlock(&fw_cfg->lock);
}
