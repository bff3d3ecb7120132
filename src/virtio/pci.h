/* The virtio 1.x PCI transport (virtio spec 4.1), modern only: one memory
 * BAR holding the common configuration, ISR, device configuration, notify
 * area and the MSI-X table; notifications through ioeventfd, interrupts
 * through MSI-X vectors backed by irqfds. */
#ifndef GUEST_VIRTIO_PCI_H
#define GUEST_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "devices/pci.h"
#include "error.h"
#include "eventfds.h"
#include "virtio/virtio.h"

#define VIRTIO_PCI_MAX_VECTORS (VIRTIO_MAX_QUEUES + 1)

/* BAR 0 layout. */
#define VIRTIO_PCI_COMMON_OFFSET 0x0000
#define VIRTIO_PCI_COMMON_SIZE 0x38
#define VIRTIO_PCI_ISR_OFFSET 0x1000
#define VIRTIO_PCI_DEVICE_OFFSET 0x2000
#define VIRTIO_PCI_DEVICE_SIZE 0x1000
#define VIRTIO_PCI_NOTIFY_OFFSET 0x3000
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4
#define VIRTIO_PCI_MSIX_TABLE_OFFSET 0x4000
#define VIRTIO_PCI_MSIX_PBA_OFFSET 0x5000
#define VIRTIO_PCI_BAR_SIZE 0x8000

struct virtio_pci_msix_entry {
    uint32_t address_lo, address_hi, data, control;
};

struct virtio_pci {
    struct pci_function function;
    struct virtio_device *device;
    struct eventfds *eventfds; /* NULL in unit tests: no KVM wiring */

    uint32_t device_feature_select;
    uint32_t driver_feature_select;
    uint16_t queue_select;
    uint8_t isr;

    /* MSI-X, guarded by msix_lock: device threads raise vectors while vCPU
     * threads program the table. */
    pthread_mutex_t msix_lock;
    unsigned vector_count;
    unsigned msix_capability; /* config offset */
    struct virtio_pci_msix_entry msix_table[VIRTIO_PCI_MAX_VECTORS];
    bool msix_pending[VIRTIO_PCI_MAX_VECTORS];
    int vector_fd[VIRTIO_PCI_MAX_VECTORS];
    unsigned vector_gsi[VIRTIO_PCI_MAX_VECTORS];
    unsigned pci_cfg_capability; /* config offset of VIRTIO_PCI_CAP_PCI_CFG */
};

/* Wraps device as a PCI function and plugs it into pci. */
int virtio_pci_create(struct virtio_pci *transport, struct virtio_device *device,
                      struct pci_bus *pci, struct eventfds *eventfds, struct error *error);
void virtio_pci_destroy(struct virtio_pci *transport);

/* BAR access, as the PCI bus calls it (exposed for tests and fuzzing). */
void virtio_pci_bar_read(struct pci_function *function, int bar, uint64_t offset, void *data,
                         unsigned length);
void virtio_pci_bar_write(struct pci_function *function, int bar, uint64_t offset,
                          const void *data, unsigned length);

#endif
