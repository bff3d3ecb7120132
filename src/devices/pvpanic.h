/* pvpanic, the PCI flavour (vendor 1b36, device 0011; Linux's pvpanic-pci
 * driver): a one-byte register at the start of BAR 0 through which a guest
 * kernel says it panicked.  Reading it tells the driver which events the
 * device takes; writing sets events.  The machine turns a panic into the
 * VMM's "guest panicked" exit status, so a test harness can tell a panic
 * from a reboot. */
#ifndef GUEST_DEVICES_PVPANIC_H
#define GUEST_DEVICES_PVPANIC_H

#include <stdint.h>

#include "devices/pci.h"
#include "error.h"

#define PVPANIC_PCI_VENDOR 0x1b36
#define PVPANIC_PCI_DEVICE 0x0011
#define PVPANIC_BAR_SIZE 4096

/* The event bits of the register (Linux's include/uapi/misc/pvpanic.h). */
#define PVPANIC_PANICKED 0x01     /* the kernel panicked */
#define PVPANIC_CRASH_LOADED 0x02 /* it panicked and is starting its kdump kernel */
#define PVPANIC_EVENTS (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED)

struct pvpanic {
    struct pci_function function;
    /* Called from a vCPU thread with the events the guest wrote (only
     * those the device offers, never 0). */
    void (*event)(void *opaque, uint8_t events);
    void *opaque;
    uint8_t events_seen; /* every event written so far */
};

void pvpanic_init(struct pvpanic *device, void (*event)(void *opaque, uint8_t events),
                  void *opaque);

/* Plugs it into the bus (the next free slot). */
int pvpanic_plug(struct pvpanic *device, struct pci_bus *pci, struct error *error);

#endif
