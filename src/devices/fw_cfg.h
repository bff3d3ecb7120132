/* QEMU's firmware configuration interface (fw_cfg), the port-I/O flavour of
 * a PC: a 16-bit selector at 0x510 picks an item, the 8-bit data port at
 * 0x511 reads it a byte at a time from offset 0.  Test kernels
 * (kvm-unit-tests among them) read the CPU count and the RAM size from it.
 * Read-only: writes to the data port are ignored, as QEMU has done since
 * 2.4.  The DMA interface (ID bit 1) is at 0x514: a big-endian 64-bit
 * register, written high half first, whose low half's write runs the
 * FWCfgDmaAccess descriptor at that guest-physical address (be32 control,
 * be32 length, be64 address): select (bit 3, key in bits 16-31), then read
 * (bit 1) into guest memory or skip (bit 2); a write (bit 4) fails, every
 * item being read-only.  The descriptor's control becomes 0, or the error
 * bit (0) when a guest address is not RAM.  Reading the register gives
 * "QEMU CFG".
 *
 * Items: the signature "QEMU" (0x0000), the ID (0x0001: traditional
 * interface only), the RAM size (0x0003, le64 bytes), the CPU count (0x0005,
 * le16), the most CPUs (0x000f, le16: the same, there is no hotplug) and the
 * file directory (0x0019: be32 count, then per file be32 size, be16
 * selector, be16 reserved and a 56-byte NUL-padded name), with the files
 *   etc/boot-cpus  le16 CPU count, as QEMU gives firmware;
 *   etc/e820       the memory map: le64 address, le64 length, le32 type
 *                  per entry, the table the boot protocols get.
 * Any other selector reads as 0, and so does every byte past an item's end. */
#ifndef GUEST_DEVICES_FW_CFG_H
#define GUEST_DEVICES_FW_CFG_H

#include <pthread.h>
#include <stdint.h>

#include "error.h"
#include "memory.h"

#define FW_CFG_PORT 0x510 /* selector; the data port follows */
#define FW_CFG_PORT_COUNT 2
#define FW_CFG_DMA_PORT 0x514
#define FW_CFG_DMA_PORT_COUNT 8

#define FW_CFG_DMA_ERROR 0x01u
#define FW_CFG_DMA_READ 0x02u
#define FW_CFG_DMA_SKIP 0x04u
#define FW_CFG_DMA_SELECT 0x08u
#define FW_CFG_DMA_WRITE 0x10u
#define FW_CFG_DMA_DESCRIPTOR_SIZE 16

#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_ID 0x0001
#define FW_CFG_RAM_SIZE 0x0003
#define FW_CFG_NB_CPUS 0x0005
#define FW_CFG_MAX_CPUS 0x000f
#define FW_CFG_FILE_DIR 0x0019
#define FW_CFG_FILE_FIRST 0x0020
/* Bit 14 asks for a writable item; bit 15 selects the architecture's own
 * items.  We have neither: bit 14 is ignored on reads, as QEMU does. */
#define FW_CFG_WRITE_CHANNEL 0x4000
#define FW_CFG_ARCH_LOCAL 0x8000

#define FW_CFG_FILE_NAME_SIZE 56
#define FW_CFG_FILE_ENTRY_SIZE 64
#define FW_CFG_MAX_FILES 8
#define FW_CFG_MAX_ITEMS (8 + FW_CFG_MAX_FILES)

struct fw_cfg_item {
    uint16_t key;
    uint32_t size;
    uint8_t *data; /* owned */
};

struct fw_cfg {
    /* One selector and offset for all vCPUs, as on a PC: a guest that reads
     * from two CPUs at once must serialise itself; the lock only keeps the
     * device's own state whole. */
    pthread_mutex_t lock;
    const struct guest_memory *memory; /* DMA goes through its checked translation */
    uint16_t selector;
    const struct fw_cfg_item *current; /* what selector names, found once per selection */
    uint32_t offset;
    uint32_t dma_address_high; /* the register's high half, until the low half's write */
    struct fw_cfg_item items[FW_CFG_MAX_ITEMS];
    int item_count;
    int file_count;
};

/* Builds the items from guest memory's layout (its size and e820 map) and
 * the CPU count. */
int fw_cfg_init(struct fw_cfg *fw_cfg, const struct guest_memory *memory, int cpu_count,
                struct error *error);
void fw_cfg_destroy(struct fw_cfg *fw_cfg);

/* The item a selector names (bit 14 ignored), or NULL. */
const struct fw_cfg_item *fw_cfg_find(const struct fw_cfg *fw_cfg, uint16_t selector);

/* Ports FW_CFG_PORT (offset 0, 16-bit selector writes) and FW_CFG_PORT + 1
 * (offset 1, 8-bit data reads).  Other sizes are ignored and logged once. */
void fw_cfg_port_read(void *fw_cfg, uint64_t offset, void *data, unsigned length);
void fw_cfg_port_write(void *fw_cfg, uint64_t offset, const void *data, unsigned length);

/* The DMA address register, FW_CFG_DMA_PORT (8 ports): 4-byte big-endian
 * writes at offset 0 (high half) and 4 (low half: runs the descriptor). */
void fw_cfg_dma_port_read(void *fw_cfg, uint64_t offset, void *data, unsigned length);
void fw_cfg_dma_port_write(void *fw_cfg, uint64_t offset, const void *data, unsigned length);

#endif
