#include "devices/test_devices.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

#define PAGE_SIZE 4096u

void test_devices_init(struct test_devices *devices, const struct guest_memory *memory,
                       void (*set_irq)(void *, unsigned, int), void *irq_opaque)
{
    memset(devices, 0, sizeof(*devices));
    pthread_mutex_init(&devices->lock, NULL);
    devices->memory = memory;
    devices->set_irq = set_irq;
    devices->irq_opaque = irq_opaque;
}

void test_devices_destroy(struct test_devices *devices)
{
    pthread_mutex_destroy(&devices->lock);
}

/* The bus hands only accesses that fit the 4-port range, so offset +
 * length <= 4: the access covers register bytes offset .. offset+length-1. */
void test_devices_scratch_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    struct test_devices *devices = opaque;
    memset(data, 0, length);
    if (offset + length > TEST_DEVICES_PORT_WIDTH)
        return;
    pthread_mutex_lock(&devices->lock);
    uint32_t value = devices->scratch;
    pthread_mutex_unlock(&devices->lock);
    uint8_t bytes[4];
    for (unsigned i = 0; i < 4; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
    memcpy(data, bytes + offset, length);
}

void test_devices_scratch_write(void *opaque, uint64_t offset, const void *data,
                                unsigned length)
{
    struct test_devices *devices = opaque;
    if (offset + length > TEST_DEVICES_PORT_WIDTH)
        return;
    const uint8_t *bytes = data;
    pthread_mutex_lock(&devices->lock);
    for (unsigned i = 0; i < length; i++) {
        unsigned shift = 8 * (unsigned)(offset + i);
        devices->scratch = (devices->scratch & ~(0xffu << shift)) | (uint32_t)bytes[i] << shift;
    }
    pthread_mutex_unlock(&devices->lock);
}

/* QEMU revokes and restores the page's protection, which makes KVM drop
 * its mapping (the MMU notifier) while the contents stay.  PROT_NONE would
 * fault a disk or display thread that touches the page meanwhile, so we
 * toggle execute permission instead: the page stays readable and writable
 * throughout, and the change of protection still invalidates KVM's
 * mapping of it. */
void test_devices_flush_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct test_devices *devices = opaque;
    if (offset != 0 || length != 4) {
        log_once("test devices: a %u-byte write at page-flush port 0x%x ignored (4 bytes at "
                 "0x%x flush)",
                 length, (unsigned)(TEST_DEVICES_FLUSH_PORT + offset), TEST_DEVICES_FLUSH_PORT);
        return;
    }
    uint32_t address;
    memcpy(&address, data, sizeof(address));
    uint64_t page = address & ~(uint64_t)(PAGE_SIZE - 1);
    uint8_t *host = guest_memory_ptr(devices->memory, page, PAGE_SIZE);
    if (!host) {
        log_once("test devices: page flush of 0x%llx: not guest RAM",
                 (unsigned long long)page);
        return;
    }
    if (mprotect(host, PAGE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC) ||
        mprotect(host, PAGE_SIZE, PROT_READ | PROT_WRITE))
        log_once("test devices: page flush of 0x%llx: mprotect: %s", (unsigned long long)page,
                 strerror(errno));
}

void test_devices_irq_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct test_devices *devices = opaque;
    if (length != 1 || offset >= TEST_DEVICES_IRQ_LINES) {
        log_once("test devices: a %u-byte write at IRQ-line port 0x%x ignored (1 byte sets a "
                 "line)",
                 length, (unsigned)(TEST_DEVICES_IRQ_PORT + offset));
        return;
    }
    devices->set_irq(devices->irq_opaque, (unsigned)offset, *(const uint8_t *)data != 0);
}

void test_devices_mmio_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    struct test_devices *devices = opaque;
    memset(data, 0, length);
    if (offset > TEST_DEVICES_MMIO_SIZE || length > TEST_DEVICES_MMIO_SIZE - offset)
        return;
    pthread_mutex_lock(&devices->lock);
    memcpy(data, devices->mmio + offset, length);
    pthread_mutex_unlock(&devices->lock);
}

void test_devices_mmio_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct test_devices *devices = opaque;
    if (offset > TEST_DEVICES_MMIO_SIZE || length > TEST_DEVICES_MMIO_SIZE - offset)
        return;
    pthread_mutex_lock(&devices->lock);
    memcpy(devices->mmio + offset, data, length);
    pthread_mutex_unlock(&devices->lock);
}
