/* --test-devices: QEMU's pc-testdev, which kernel test suites
 * (kvm-unit-tests) drive to check a VMM's emulation and interrupt routing:
 *   0xe0-0xe3  a 32-bit scratch register: 1, 2 and 4-byte accesses read and
 *              write its bytes from (port & 3) up;
 *   0xe4       page flush: a 4-byte write of a guest-physical address drops
 *              KVM's mapping of that page (its contents stay), so the guest's
 *              next access to it faults into KVM afresh;
 *   0xe8-0xeb  the same scratch register, through byte-wide ports;
 *   0x2000-0x2017  a 1-byte write to 0x2000 + N sets (non-zero) or clears
 *              (zero) interrupt line N of the IOAPIC (and, below 16, the PIC);
 *   0xff000000  64 KiB of scratch MMIO: reads give what was written.
 * Accesses of sizes these do not take are ignored and logged once. */
#ifndef GUEST_DEVICES_TEST_DEVICES_H
#define GUEST_DEVICES_TEST_DEVICES_H

#include <pthread.h>
#include <stdint.h>

#include "memory.h"

#define TEST_DEVICES_SCRATCH_PORT 0xe0
#define TEST_DEVICES_FLUSH_PORT 0xe4
#define TEST_DEVICES_SCRATCH_BYTE_PORT 0xe8
#define TEST_DEVICES_PORT_WIDTH 4
#define TEST_DEVICES_IRQ_PORT 0x2000
#define TEST_DEVICES_IRQ_LINES 24 /* the IOAPIC's pins */
#define TEST_DEVICES_MMIO_SIZE 0x10000

struct test_devices {
    pthread_mutex_t lock;
    const struct guest_memory *memory;
    void (*set_irq)(void *opaque, unsigned line, int level);
    void *irq_opaque;
    uint32_t scratch;
    uint8_t mmio[TEST_DEVICES_MMIO_SIZE];
};

void test_devices_init(struct test_devices *devices, const struct guest_memory *memory,
                       void (*set_irq)(void *, unsigned, int), void *irq_opaque);
void test_devices_destroy(struct test_devices *devices);

/* The scratch register, at 0xe0 and at 0xe8 (4 ports each). */
void test_devices_scratch_read(void *devices, uint64_t offset, void *data, unsigned length);
void test_devices_scratch_write(void *devices, uint64_t offset, const void *data,
                                unsigned length);
/* 0xe4 (4 ports; only a 4-byte write at 0xe4 flushes). */
void test_devices_flush_write(void *devices, uint64_t offset, const void *data, unsigned length);
/* 0x2000 (24 ports, write-only). */
void test_devices_irq_write(void *devices, uint64_t offset, const void *data, unsigned length);
/* The scratch MMIO window (TEST_DEVICES_MMIO_SIZE bytes). */
void test_devices_mmio_read(void *devices, uint64_t offset, void *data, unsigned length);
void test_devices_mmio_write(void *devices, uint64_t offset, const void *data, unsigned length);

#endif
