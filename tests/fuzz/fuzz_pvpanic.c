/* pvpanic-pci on the PCI bus, driven by the byte program of fuzz_virtio_pci
 * (op byte: bits 0-2 0 BAR read, 1 BAR write, 2 config read, 3 config write,
 * others skip; bits 3-4 the access size 1, 2, 4, 8; BAR ops take 2 bytes of
 * offset, config ops a slot byte and an offset byte; writes take the value).
 * After every step: only offered events were ever reported, none empty, and
 * no access crashed or read uninitialised bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "devices/pci.h"
#include "devices/pvpanic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t reported;
static unsigned report_count;

static void record_event(void *opaque, uint8_t events)
{
    (void)opaque;
    if (events == 0 || (events & ~PVPANIC_EVENTS))
        abort();
    reported |= events;
    report_count++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bus pio, mmio;
    static struct pci_bus pci;
    static struct pvpanic device;
    memset(&pio, 0, sizeof(pio));
    memset(&mmio, 0, sizeof(mmio));
    pio.name = "pio";
    mmio.name = "mmio";
    reported = 0;
    report_count = 0;
    struct error error;
    pvpanic_init(&device, record_event, NULL);
    if (pci_bus_init(&pci, &pio, &mmio, &error) || pvpanic_plug(&device, &pci, &error)) {
        fprintf(stderr, "%s\n", error.message);
        abort();
    }
    size_t next = 0;
#define TAKE() (next < size ? data[next++] : 0)
    while (next < size) {
        uint8_t op = TAKE();
        unsigned length = 1u << ((op >> 3) & 3);
        uint8_t buffer[8];
        uint64_t value = 0;
        switch (op & 7) {
        case 0:
        case 1: {
            uint16_t offset = TAKE();
            offset |= (uint16_t)(TAKE() << 8);
            uint64_t bar = pci_get32(device.function.config + 0x10) & ~0xfull;
            if (op & 1) {
                for (unsigned i = 0; i < length; i++)
                    value |= (uint64_t)TAKE() << (8 * i);
                memcpy(buffer, &value, sizeof(buffer));
                bus_write(&mmio, bar + offset, buffer, length);
            } else {
                memset(buffer, 0xa5, sizeof(buffer));
                /* Inside the BAR, only the register reads as non-zero. */
                if (bus_read(&mmio, bar + offset, buffer, length) == 0 &&
                    device.function.bar_address[0] && offset + length <= PVPANIC_BAR_SIZE)
                    for (unsigned i = 0; i < length; i++)
                        if (buffer[i] != (offset + i == 0 ? PVPANIC_EVENTS : 0))
                            abort();
            }
            break;
        }
        case 2:
        case 3: {
            unsigned slot = TAKE() & 31, offset = TAKE();
            uint32_t address = 0x80000000u | slot << 11 | (offset & 0xfc);
            unsigned port_length = length > 4 ? 4 : length;
            bus_write(&pio, PCI_CONFIG_ADDRESS_PORT, &address, 4);
            if (op & 1) {
                for (unsigned i = 0; i < length; i++)
                    value |= (uint64_t)TAKE() << (8 * i);
                memcpy(buffer, &value, sizeof(buffer));
                bus_write(&pio, PCI_CONFIG_DATA_PORT + (offset & 3), buffer, port_length);
            } else {
                bus_read(&pio, PCI_CONFIG_DATA_PORT + (offset & 3), buffer, port_length);
            }
            break;
        }
        default:
            break;
        }
        if (device.events_seen != reported || (reported & ~PVPANIC_EVENTS))
            abort();
    }
#undef TAKE
    pci_bus_destroy(&pci);
    return 0;
}
