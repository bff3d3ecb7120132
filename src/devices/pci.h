/* PCI bus 0 behind a host bridge, reached through configuration mechanism
 * #1 (ports 0xcf8/0xcfc), as Linux probes it.  Functions have 256-byte
 * configuration spaces and 32-bit memory BARs placed in the window below
 * the IOAPIC; the guest may move them, and the bus dispatches BAR accesses
 * to wherever they currently are. */
#ifndef GUEST_DEVICES_PCI_H
#define GUEST_DEVICES_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "error.h"
#include "x86/layout.h"

#define PCI_CONFIG_ADDRESS_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
#define PCI_MAX_DEVICES 32 /* slot 0 is the host bridge */
#define PCI_CONFIG_SIZE 256
#define PCI_BAR_COUNT 6

/* The 32-bit memory window for BARs (described to the guest in the DSDT). */
#define PCI_MMIO_WINDOW_START ((uint64_t)LAYOUT_PCI_MMIO_START)
#define PCI_MMIO_WINDOW_END ((uint64_t)LAYOUT_PCI_MMIO_END)

struct pci_function;

struct pci_function_ops {
    /* Access to a memory BAR; offset is relative to the BAR. */
    void (*bar_read)(struct pci_function *function, int bar, uint64_t offset, void *data,
                     unsigned length);
    void (*bar_write)(struct pci_function *function, int bar, uint64_t offset,
                      const void *data, unsigned length);
    /* A BAR moved or memory decoding was switched on or off (address 0 = off).
     * Called with the bus lock held, from a vCPU thread. */
    void (*bar_moved)(struct pci_function *function, int bar, uint64_t old_address,
                      uint64_t new_address);
    /* Before a read of capability bytes (offset >= 0x40): refresh them. */
    void (*config_read)(struct pci_function *function, unsigned offset, unsigned length);
    /* Configuration space writes the bus does not handle itself (capabilities). */
    void (*config_write)(struct pci_function *function, unsigned offset, unsigned length);
};

struct pci_function {
    uint8_t config[PCI_CONFIG_SIZE];
    /* Bits of each config byte the guest may write (the rest are read-only). */
    uint8_t writable[PCI_CONFIG_SIZE];
    uint32_t bar_size[PCI_BAR_COUNT]; /* 0 = no BAR; a power of two >= 4096 */
    uint64_t bar_address[PCI_BAR_COUNT]; /* where it decodes now, 0 if it does not */
    const struct pci_function_ops *ops;
    void *opaque;
    uint8_t next_capability; /* where the next capability goes */
};

struct pci_bus {
    pthread_mutex_t lock;
    uint32_t config_address;
    struct pci_function *functions[PCI_MAX_DEVICES];
    struct pci_function host_bridge;
    uint64_t next_bar_address;
};

int pci_bus_init(struct pci_bus *pci, struct bus *pio_bus, struct bus *mmio_bus,
                 struct error *error);
void pci_bus_destroy(struct pci_bus *pci);

/* Fills the header of a type-0 function. */
void pci_function_init(struct pci_function *function, uint16_t vendor, uint16_t device,
                       uint32_t class_code, uint16_t subsystem_vendor, uint16_t subsystem_id);

/* Gives the function a memory BAR of size bytes (placed at plug time). */
void pci_function_add_bar(struct pci_function *function, int bar, uint32_t size);

/* Appends a capability of length bytes (id, next pointer, then the rest);
 * returns its offset in config space, or 0 if it does not fit. */
unsigned pci_function_add_capability(struct pci_function *function, uint8_t id,
                                     unsigned length);

/* Plugs the function into the next free slot and places its BARs. */
int pci_bus_plug(struct pci_bus *pci, struct pci_function *function, struct error *error);

/* Configuration space access by (slot, offset) as the ports do it; exposed
 * for the unit tests and the fuzzer. */
void pci_config_read(struct pci_bus *pci, unsigned slot, unsigned offset, void *data,
                     unsigned length);
void pci_config_write(struct pci_bus *pci, unsigned slot, unsigned offset, const void *data,
                      unsigned length);

/* Little-endian helpers for config space. */
static inline void pci_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void pci_put32(uint8_t *p, uint32_t v)
{
    pci_put16(p, (uint16_t)v);
    pci_put16(p + 2, (uint16_t)(v >> 16));
}
static inline uint16_t pci_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t pci_get32(const uint8_t *p)
{
    return pci_get16(p) | (uint32_t)pci_get16(p + 2) << 16;
}

#endif
