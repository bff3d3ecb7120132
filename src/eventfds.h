/* KVM's eventfd wiring, so device work does not bounce through vCPU threads:
 * a guest write to a notify address signals an eventfd (ioeventfd), and an
 * eventfd raises a guest interrupt (irqfd) through a GSI whose MSI route the
 * guest programs.  KVM_SET_GSI_ROUTING replaces the whole table, so the
 * table, with KVM's default IOAPIC/PIC routes, is kept here. */
#ifndef GUEST_EVENTFDS_H
#define GUEST_EVENTFDS_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdint.h>

#include "error.h"

#define EVENTFDS_MAX_ROUTES 256
#define EVENTFDS_FIRST_MSI_GSI 24 /* GSIs 0..23 are the IOAPIC's pins */

struct eventfds {
    int vm_fd;
    pthread_mutex_t lock;
    unsigned next_gsi;
    unsigned notify_length; /* 0 (any) where KVM allows it, else 2 (virtio's 16-bit notify) */
    struct kvm_irq_routing *routing; /* room for EVENTFDS_MAX_ROUTES entries */
};

int eventfds_init(struct eventfds *eventfds, int vm_fd, struct error *error);
void eventfds_destroy(struct eventfds *eventfds);

/* A new GSI for MSI use, with fd (an eventfd) attached as its irqfd; the
 * interrupt goes nowhere until eventfds_route_msi() gives it a route. */
int eventfds_add_msi_irqfd(struct eventfds *eventfds, int fd, unsigned *gsi, struct error *error);

/* Points gsi at an MSI message; returns -1 (errno) if KVM refuses it. */
int eventfds_route_msi(struct eventfds *eventfds, unsigned gsi, uint64_t address, uint32_t data);

/* Guest writes to address (MMIO) signal fd; or undo that. */
int eventfds_ioeventfd(struct eventfds *eventfds, uint64_t address, int fd, int assign);

#endif
