/* Port-I/O and MMIO dispatch: devices register address ranges with read and
 * write callbacks.  Ranges are registered before the vCPUs start and never
 * change after, so lookups take no lock. */
#ifndef GUEST_BUS_H
#define GUEST_BUS_H

#include <stdint.h>

#include "error.h"

struct bus_ops {
    /* offset is relative to the range's base; length is 1, 2, 4 or 8 */
    void (*read)(void *device, uint64_t offset, void *data, unsigned length);
    void (*write)(void *device, uint64_t offset, const void *data, unsigned length);
};

#define BUS_MAX_RANGES 32

struct bus_range {
    uint64_t base;
    uint64_t length;
    const struct bus_ops *ops;
    void *device;
};

struct bus {
    const char *name;
    struct bus_range ranges[BUS_MAX_RANGES];
    int count;
};

int bus_register(struct bus *bus, uint64_t base, uint64_t length, const struct bus_ops *ops,
                 void *device, struct error *error);

/* Dispatch an access.  An access no device claims reads as all ones and its
 * writes are dropped, as on a PC bus; returns 0 if a device claimed it. */
int bus_read(const struct bus *bus, uint64_t address, void *data, unsigned length);
int bus_write(const struct bus *bus, uint64_t address, const void *data, unsigned length);

#endif
