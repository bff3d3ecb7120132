#include "devices/pci.h"

#include <string.h>

#define PCI_VENDOR_ID 0x00
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS 0x06
#define PCI_STATUS_CAPABILITIES 0x0010
#define PCI_REVISION 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYSTEM_VENDOR 0x2c
#define PCI_SUBSYSTEM_ID 0x2e
#define PCI_CAPABILITIES_POINTER 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_FIRST_CAPABILITY 0x40

#define CONFIG_ADDRESS_ENABLE 0x80000000u

void pci_function_init(struct pci_function *function, uint16_t vendor, uint16_t device,
                       uint32_t class_code, uint16_t subsystem_vendor, uint16_t subsystem_id)
{
    memset(function, 0, sizeof(*function));
    uint8_t *config = function->config;
    pci_put16(config + PCI_VENDOR_ID, vendor);
    pci_put16(config + PCI_VENDOR_ID + 2, device);
    pci_put32(config + PCI_REVISION, class_code << 8); /* revision 0 */
    pci_put16(config + PCI_SUBSYSTEM_VENDOR, subsystem_vendor);
    pci_put16(config + PCI_SUBSYSTEM_ID, subsystem_id);
    config[PCI_HEADER_TYPE] = 0;
    pci_put16(function->writable + PCI_COMMAND,
              PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    function->writable[PCI_INTERRUPT_LINE] = 0xff; /* scratch for the OS; we have no INTx */
    function->next_capability = PCI_FIRST_CAPABILITY;
}

void pci_function_add_bar(struct pci_function *function, int bar, uint32_t size)
{
    function->bar_size[bar] = size;
    /* 32-bit, non-prefetchable memory: the low four bits read as 0. */
    pci_put32(function->writable + PCI_BAR0 + 4 * bar, ~(size - 1) & ~0xfu);
}

unsigned pci_function_add_capability(struct pci_function *function, uint8_t id,
                                     unsigned length)
{
    unsigned offset = function->next_capability;
    if (length < 2 || offset + length > PCI_CONFIG_SIZE || offset < PCI_FIRST_CAPABILITY)
        return 0;
    uint8_t *config = function->config;
    /* Link it at the end of the list. */
    if (!(pci_get16(config + PCI_STATUS) & PCI_STATUS_CAPABILITIES)) {
        pci_put16(config + PCI_STATUS, PCI_STATUS_CAPABILITIES);
        config[PCI_CAPABILITIES_POINTER] = (uint8_t)offset;
    } else {
        unsigned last = config[PCI_CAPABILITIES_POINTER];
        while (config[last + 1])
            last = config[last + 1];
        config[last + 1] = (uint8_t)offset;
    }
    config[offset] = id;
    config[offset + 1] = 0;
    function->next_capability = (uint8_t)((offset + length + 3) & ~3u);
    if (offset + length + 3 >= PCI_CONFIG_SIZE)
        function->next_capability = 0; /* full */
    return offset;
}

/* Where BAR `bar` decodes given the current command register and BAR value. */
static uint64_t pci_bar_decode_address(const struct pci_function *function, int bar)
{
    if (!function->bar_size[bar] ||
        !(pci_get16(function->config + PCI_COMMAND) & PCI_COMMAND_MEMORY))
        return 0;
    uint64_t address = pci_get32(function->config + PCI_BAR0 + 4 * bar) & ~0xfull;
    /* Outside the window (e.g. while being sized) it decodes nothing we serve. */
    if (address < PCI_MMIO_WINDOW_START ||
        address + function->bar_size[bar] > PCI_MMIO_WINDOW_END)
        return 0;
    return address;
}

static void pci_update_bars(struct pci_function *function)
{
    for (int bar = 0; bar < PCI_BAR_COUNT; bar++) {
        uint64_t old_address = function->bar_address[bar];
        uint64_t new_address = pci_bar_decode_address(function, bar);
        if (old_address == new_address)
            continue;
        __atomic_store_n(&function->bar_address[bar], new_address, __ATOMIC_RELEASE);
        if (function->ops && function->ops->bar_moved)
            function->ops->bar_moved(function, bar, old_address, new_address);
    }
}

static struct pci_function *pci_function_at(struct pci_bus *pci, unsigned slot)
{
    return slot < PCI_MAX_DEVICES ? pci->functions[slot] : NULL;
}

void pci_config_read(struct pci_bus *pci, unsigned slot, unsigned offset, void *data,
                     unsigned length)
{
    memset(data, 0xff, length);
    if (offset >= PCI_CONFIG_SIZE || length > PCI_CONFIG_SIZE - offset)
        return;
    pthread_mutex_lock(&pci->lock);
    struct pci_function *function = pci_function_at(pci, slot);
    if (function) {
        if (function->ops && function->ops->config_read && offset + length > PCI_FIRST_CAPABILITY)
            function->ops->config_read(function, offset, length);
        memcpy(data, function->config + offset, length);
    }
    pthread_mutex_unlock(&pci->lock);
}

void pci_config_write(struct pci_bus *pci, unsigned slot, unsigned offset, const void *data,
                      unsigned length)
{
    if (offset >= PCI_CONFIG_SIZE || length > PCI_CONFIG_SIZE - offset)
        return;
    pthread_mutex_lock(&pci->lock);
    struct pci_function *function = pci_function_at(pci, slot);
    if (function) {
        const uint8_t *bytes = data;
        for (unsigned i = 0; i < length; i++) {
            uint8_t mask = function->writable[offset + i];
            uint8_t *byte = &function->config[offset + i];
            *byte = (uint8_t)((*byte & ~mask) | (bytes[i] & mask));
        }
        bool touches_bars = offset < PCI_BAR0 + 4 * PCI_BAR_COUNT &&
                            offset + length > PCI_COMMAND;
        if (touches_bars)
            pci_update_bars(function);
        if (function->ops && function->ops->config_write &&
            offset + length > PCI_FIRST_CAPABILITY)
            function->ops->config_write(function, offset, length);
    }
    pthread_mutex_unlock(&pci->lock);
}

/* Ports: 0xcf8 (a dword register) and 0xcfc..0xcff (the data window). */
static void pci_address_read(void *device, uint64_t offset, void *data, unsigned length)
{
    struct pci_bus *pci = device;
    if (offset != 0 || length != 4) {
        memset(data, 0xff, length);
        return;
    }
    uint32_t value = __atomic_load_n(&pci->config_address, __ATOMIC_RELAXED);
    memcpy(data, &value, 4);
}

static void pci_address_write(void *device, uint64_t offset, const void *data, unsigned length)
{
    struct pci_bus *pci = device;
    if (offset != 0 || length != 4)
        return;
    uint32_t value;
    memcpy(&value, data, 4);
    __atomic_store_n(&pci->config_address, value & 0x80fffffcu, __ATOMIC_RELAXED);
}

/* Decodes the address register: bus 0, function 0 only. */
static bool pci_decode_address(struct pci_bus *pci, uint64_t port_offset, unsigned length,
                               unsigned *slot, unsigned *offset)
{
    uint32_t address = __atomic_load_n(&pci->config_address, __ATOMIC_RELAXED);
    if (!(address & CONFIG_ADDRESS_ENABLE) || (address >> 16 & 0xff) != 0 ||
        (address >> 8 & 7) != 0 || port_offset + length > 4)
        return false;
    *slot = address >> 11 & 0x1f;
    *offset = (address & 0xfc) + (unsigned)port_offset;
    return true;
}

static void pci_data_read(void *device, uint64_t port_offset, void *data, unsigned length)
{
    unsigned slot, offset;
    if (!pci_decode_address(device, port_offset, length, &slot, &offset)) {
        memset(data, 0xff, length);
        return;
    }
    pci_config_read(device, slot, offset, data, length);
}

static void pci_data_write(void *device, uint64_t port_offset, const void *data, unsigned length)
{
    unsigned slot, offset;
    if (pci_decode_address(device, port_offset, length, &slot, &offset))
        pci_config_write(device, slot, offset, data, length);
}

/* The memory window: find the BAR that decodes this address now. */
static struct pci_function *pci_find_bar(struct pci_bus *pci, uint64_t address, unsigned length,
                                         int *bar, uint64_t *bar_offset)
{
    for (unsigned slot = 1; slot < PCI_MAX_DEVICES; slot++) {
        struct pci_function *function = pci->functions[slot];
        if (!function)
            continue;
        for (int i = 0; i < PCI_BAR_COUNT; i++) {
            uint64_t base = __atomic_load_n(&function->bar_address[i], __ATOMIC_ACQUIRE);
            if (base && address >= base && address + length <= base + function->bar_size[i]) {
                *bar = i;
                *bar_offset = address - base;
                return function;
            }
        }
    }
    return NULL;
}

static void pci_window_read(void *device, uint64_t offset, void *data, unsigned length)
{
    int bar;
    uint64_t bar_offset;
    struct pci_function *function =
        pci_find_bar(device, PCI_MMIO_WINDOW_START + offset, length, &bar, &bar_offset);
    if (!function || !function->ops->bar_read) {
        memset(data, 0xff, length);
        return;
    }
    function->ops->bar_read(function, bar, bar_offset, data, length);
}

static void pci_window_write(void *device, uint64_t offset, const void *data, unsigned length)
{
    int bar;
    uint64_t bar_offset;
    struct pci_function *function =
        pci_find_bar(device, PCI_MMIO_WINDOW_START + offset, length, &bar, &bar_offset);
    if (function && function->ops->bar_write)
        function->ops->bar_write(function, bar, bar_offset, data, length);
}

static const struct bus_ops pci_address_ops = {pci_address_read, pci_address_write};
static const struct bus_ops pci_data_ops = {pci_data_read, pci_data_write};
static const struct bus_ops pci_window_ops = {pci_window_read, pci_window_write};

int pci_bus_init(struct pci_bus *pci, struct bus *pio_bus, struct bus *mmio_bus,
                 struct error *error)
{
    memset(pci, 0, sizeof(*pci));
    pthread_mutex_init(&pci->lock, NULL);
    pci->next_bar_address = PCI_MMIO_WINDOW_START;
    /* The host bridge Linux's type-1 probe looks for (class 06 00 00). */
    pci_function_init(&pci->host_bridge, 0x1b36, 0x0008, 0x060000, 0x1af4, 0x1100);
    pci->functions[0] = &pci->host_bridge;
    if (pio_bus &&
        (bus_register(pio_bus, PCI_CONFIG_ADDRESS_PORT, 4, &pci_address_ops, pci, error) ||
         bus_register(pio_bus, PCI_CONFIG_DATA_PORT, 4, &pci_data_ops, pci, error)))
        return -1;
    if (mmio_bus && bus_register(mmio_bus, PCI_MMIO_WINDOW_START,
                                 PCI_MMIO_WINDOW_END - PCI_MMIO_WINDOW_START, &pci_window_ops,
                                 pci, error))
        return -1;
    return 0;
}

void pci_bus_destroy(struct pci_bus *pci)
{
    pthread_mutex_destroy(&pci->lock);
}

int pci_bus_plug(struct pci_bus *pci, struct pci_function *function, struct error *error)
{
    unsigned slot = 1;
    while (slot < PCI_MAX_DEVICES && pci->functions[slot])
        slot++;
    if (slot == PCI_MAX_DEVICES)
        return error_set(error, "PCI: no free slot (at most %d devices)", PCI_MAX_DEVICES - 1);
    for (int bar = 0; bar < PCI_BAR_COUNT; bar++) {
        uint32_t size = function->bar_size[bar];
        if (!size)
            continue;
        uint64_t address = (pci->next_bar_address + size - 1) & ~((uint64_t)size - 1);
        if (address + size > PCI_MMIO_WINDOW_END)
            return error_set(error, "PCI: memory window full");
        pci_put32(function->config + PCI_BAR0 + 4 * bar, (uint32_t)address);
        pci->next_bar_address = address + size;
    }
    pci->functions[slot] = function;
    return 0;
}
