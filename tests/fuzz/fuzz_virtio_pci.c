/* A virtio-rng device on the PCI bus, driven by a byte program of
 * configuration-space and BAR accesses (sizes 1, 2, 4 and 8 at any offset),
 * guest memory writes (to build rings) and queue services, as a hostile
 * driver might issue them.  No KVM: no eventfds for notifications or
 * interrupts.  After every step the transport's rules must hold: features
 * only as offered once FEATURES_OK is set, queue sizes powers of two within
 * the maximum, vectors within the table or NO_VECTOR, a reset device clean.
 *
 * Program: an op byte, then its operands.
 *   op bits 0-2: 0 BAR read, 1 BAR write, 2 config read, 3 config write
 *                (through ports 0xcf8/0xcfc), 4 memory write, 5 serve the
 *                queue, 6 common-config write at a field boundary, 7 reset
 *   op bits 3-4: access size 1, 2, 4, 8
 *   BAR ops: 2 bytes of offset (bit 15 set: + 0x8000, past the BAR);
 *   config ops: 1 byte of slot (low 5 bits), 1 byte of offset;
 *   memory write: 2 bytes of address; writes take size value bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "devices/pci.h"
#include "memory.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "virtio/virtio.h"

#define MEMORY_SIZE 0x10000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct program {
    const uint8_t *data;
    size_t size, next;
};

static uint8_t take(struct program *program)
{
    return program->next < program->size ? program->data[program->next++] : 0;
}

static uint64_t take_value(struct program *program, unsigned length)
{
    uint64_t value = 0;
    for (unsigned i = 0; i < length; i++)
        value |= (uint64_t)take(program) << (8 * i);
    return value;
}

static bool is_power_of_two(unsigned value)
{
    return value && !(value & (value - 1));
}

static void check_rules(const struct virtio_device *device, const struct virtio_pci *transport)
{
    if (device->status & VIRTIO_STATUS_FEATURES_OK) {
        if ((device->driver_features & ~device->device_features) ||
            !(device->driver_features & VIRTIO_F_VERSION_1))
            abort();
    }
    for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
        const struct virtq *queue = &device->queues[q];
        if (q >= device->ops->queue_count) {
            if (queue->started || queue->size || device->queue_vector[q] != VIRTIO_NO_VECTOR)
                abort();
            continue;
        }
        if (queue->size && (!is_power_of_two(queue->size) ||
                            queue->size > device->ops->queue_max_size))
            abort();
        if (queue->started && !queue->size)
            abort();
        if (device->queue_vector[q] != VIRTIO_NO_VECTOR &&
            device->queue_vector[q] >= transport->vector_count)
            abort();
    }
    if (device->config_vector != VIRTIO_NO_VECTOR &&
        device->config_vector >= transport->vector_count)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t *host;
    static struct guest_memory memory;
    if (!host) {
        host = malloc(MEMORY_SIZE);
        if (!host)
            abort();
        guest_memory_init_over(&memory, host, MEMORY_SIZE);
    }
    memset(host, 0, MEMORY_SIZE);

    static struct bus pio, mmio;
    static struct pci_bus pci;
    static struct virtio_rng rng;
    static struct virtio_pci transport;
    memset(&pio, 0, sizeof(pio));
    memset(&mmio, 0, sizeof(mmio));
    pio.name = "pio";
    mmio.name = "mmio";
    struct error error;
    if (pci_bus_init(&pci, &pio, &mmio, &error) || virtio_rng_init(&rng, &memory, &error) ||
        virtio_pci_create(&transport, &rng.device, &pci, NULL, &error)) {
        fprintf(stderr, "%s\n", error.message);
        abort();
    }
    struct virtio_device *device = &rng.device;

    struct program program = {data, size, 0};
    while (program.next < program.size) {
        uint8_t op = take(&program);
        unsigned length = 1u << ((op >> 3) & 3);
        uint8_t buffer[8];
        memset(buffer, 0xa5, sizeof(buffer));
        switch (op & 7) {
        case 0:
        case 1: {
            uint16_t offset = (uint16_t)take_value(&program, 2);
            uint64_t bar = pci_get32(transport.function.config + 0x10) & ~0xfull;
            uint64_t address = bar + (offset & 0x7fff) + (offset & 0x8000 ? 0x8000 : 0);
            if (op & 1) {
                uint64_t value = take_value(&program, length);
                memcpy(buffer, &value, length);
                bus_write(&mmio, address, buffer, length);
            } else {
                bus_read(&mmio, address, buffer, length);
            }
            break;
        }
        case 2:
        case 3: {
            unsigned slot = take(&program) & 31;
            unsigned offset = take(&program);
            uint32_t address = 0x80000000u | slot << 11 | (offset & 0xfc);
            bus_write(&pio, PCI_CONFIG_ADDRESS_PORT, &address, 4);
            /* 8-byte port accesses do not exist; they are split as two. */
            unsigned port_length = length > 4 ? 4 : length;
            if (op & 1) {
                uint64_t value = take_value(&program, length);
                memcpy(buffer, &value, length);
                bus_write(&pio, PCI_CONFIG_DATA_PORT + (offset & 3), buffer, port_length);
            } else {
                bus_read(&pio, PCI_CONFIG_DATA_PORT + (offset & 3), buffer, port_length);
            }
            break;
        }
        case 4: {
            uint16_t address = (uint16_t)take_value(&program, 2);
            uint64_t value = take_value(&program, length);
            if (address + length <= MEMORY_SIZE)
                memcpy(host + address, &value, length);
            break;
        }
        case 5: {
            /* What the serving thread does when notified. */
            pthread_mutex_lock(&device->lock);
            if ((device->status & VIRTIO_STATUS_DRIVER_OK) &&
                !(device->status & VIRTIO_STATUS_NEEDS_RESET) && device->queues[0].started)
                device->ops->queue_notify(device, 0);
            pthread_mutex_unlock(&device->lock);
            break;
        }
        case 6: {
            /* Common config fields are 2- or 4-byte aligned; aim at them. */
            uint8_t field = (uint8_t)((take(&program) % (VIRTIO_PCI_COMMON_SIZE / 2)) * 2);
            uint64_t value = take_value(&program, length);
            virtio_pci_bar_write(&transport.function, 0, field, &value, length);
            break;
        }
        default: {
            uint8_t zero = 0;
            virtio_pci_bar_write(&transport.function, 0, 0x14, &zero, 1);
            /* A reset forgets the features and every queue. */
            if (device->status != 0 || device->driver_features ||
                device->config_vector != VIRTIO_NO_VECTOR)
                abort();
            for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
                if (device->queues[q].started || device->queues[q].size ||
                    device->queue_vector[q] != VIRTIO_NO_VECTOR)
                    abort();
            break;
        }
        }
        check_rules(device, &transport);
    }

    virtio_pci_destroy(&transport);
    virtio_device_destroy(device);
    pci_bus_destroy(&pci);
    return 0;
}
