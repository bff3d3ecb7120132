#include "bus.h"

#include <string.h>

int bus_register(struct bus *bus, uint64_t base, uint64_t length, const struct bus_ops *ops,
                 void *device, struct error *error)
{
    if (length == 0 || base + length < base)
        return error_set(error, "%s bus: empty or wrapping range at 0x%llx", bus->name,
                         (unsigned long long)base);
    for (int i = 0; i < bus->count; i++) {
        const struct bus_range *other = &bus->ranges[i];
        if (base < other->base + other->length && other->base < base + length)
            return error_set(error, "%s bus: range 0x%llx+0x%llx overlaps 0x%llx+0x%llx",
                             bus->name, (unsigned long long)base, (unsigned long long)length,
                             (unsigned long long)other->base, (unsigned long long)other->length);
    }
    if (bus->count == BUS_MAX_RANGES)
        return error_set(error, "%s bus: too many device ranges", bus->name);
    bus->ranges[bus->count++] = (struct bus_range){base, length, ops, device};
    return 0;
}

static const struct bus_range *bus_find(const struct bus *bus, uint64_t address, unsigned length)
{
    for (int i = 0; i < bus->count; i++) {
        const struct bus_range *range = &bus->ranges[i];
        if (address >= range->base && address - range->base < range->length &&
            length <= range->length - (address - range->base))
            return range;
    }
    return NULL;
}

int bus_read(const struct bus *bus, uint64_t address, void *data, unsigned length)
{
    const struct bus_range *range = bus_find(bus, address, length);
    if (!range || !range->ops->read) {
        memset(data, 0xff, length);
        return range ? 0 : -1;
    }
    range->ops->read(range->device, address - range->base, data, length);
    return 0;
}

int bus_write(const struct bus *bus, uint64_t address, const void *data, unsigned length)
{
    const struct bus_range *range = bus_find(bus, address, length);
    if (!range)
        return -1;
    if (range->ops->write)
        range->ops->write(range->device, address - range->base, data, length);
    return 0;
}
