#include "devices/pvpanic.h"

#include <string.h>

#include "log.h"

/* PCI class 08 80: a system peripheral of no particular kind, as the
 * device is on other VMMs. */
#define PCI_CLASS_SYSTEM_OTHER 0x088000u
#define PVPANIC_REGISTER 0

static struct pvpanic *pvpanic_of(struct pci_function *function)
{
    return function->opaque;
}

/* The register reads as the events the device takes, at any width; the rest
 * of the BAR reads as zeros. */
static void pvpanic_bar_read(struct pci_function *function, int bar, uint64_t offset, void *data,
                             unsigned length)
{
    (void)function;
    memset(data, 0, length);
    if (bar == 0 && offset == PVPANIC_REGISTER && length > 0)
        *(uint8_t *)data = PVPANIC_EVENTS;
}

static void pvpanic_bar_write(struct pci_function *function, int bar, uint64_t offset,
                              const void *data, unsigned length)
{
    struct pvpanic *device = pvpanic_of(function);
    if (bar != 0 || offset != PVPANIC_REGISTER || length == 0)
        return;
    uint8_t written = *(const uint8_t *)data;
    uint8_t events = written & PVPANIC_EVENTS;
    if (written & ~PVPANIC_EVENTS)
        log_once("pvpanic: the guest wrote unknown event bits 0x%02x (ignored)",
                 written & ~PVPANIC_EVENTS);
    if (!events)
        return;
    device->events_seen |= events;
    if (device->event)
        device->event(device->opaque, events);
}

static const struct pci_function_ops pvpanic_ops = {
    .bar_read = pvpanic_bar_read,
    .bar_write = pvpanic_bar_write,
};

void pvpanic_init(struct pvpanic *device, void (*event)(void *opaque, uint8_t events),
                  void *opaque)
{
    memset(device, 0, sizeof(*device));
    pci_function_init(&device->function, PVPANIC_PCI_VENDOR, PVPANIC_PCI_DEVICE,
                      PCI_CLASS_SYSTEM_OTHER, PVPANIC_PCI_VENDOR, PVPANIC_PCI_DEVICE);
    pci_function_add_bar(&device->function, 0, PVPANIC_BAR_SIZE);
    device->function.ops = &pvpanic_ops;
    device->function.opaque = device;
    device->event = event;
    device->opaque = opaque;
}

int pvpanic_plug(struct pvpanic *device, struct pci_bus *pci, struct error *error)
{
    return pci_bus_plug(pci, &device->function, error);
}
