#include "eventfds.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

/* KVM's default routes for an in-kernel irqchip: GSI n is IOAPIC pin n, and
 * GSIs below 16 are also the PIC's pins. */
static void eventfds_add_default_routes(struct kvm_irq_routing *routing)
{
    for (unsigned gsi = 0; gsi < EVENTFDS_FIRST_MSI_GSI; gsi++) {
        if (gsi < 16) {
            struct kvm_irq_routing_entry *pic = &routing->entries[routing->nr++];
            pic->gsi = gsi;
            pic->type = KVM_IRQ_ROUTING_IRQCHIP;
            pic->u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
            pic->u.irqchip.pin = gsi % 8;
        }
        struct kvm_irq_routing_entry *ioapic = &routing->entries[routing->nr++];
        ioapic->gsi = gsi;
        ioapic->type = KVM_IRQ_ROUTING_IRQCHIP;
        ioapic->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
        ioapic->u.irqchip.pin = gsi;
    }
}

int eventfds_init(struct eventfds *eventfds, int vm_fd, struct error *error)
{
    memset(eventfds, 0, sizeof(*eventfds));
    eventfds->vm_fd = vm_fd;
    eventfds->next_gsi = EVENTFDS_FIRST_MSI_GSI;
    eventfds->notify_length =
        ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0 ? 0 : 2;
    pthread_mutex_init(&eventfds->lock, NULL);
    eventfds->routing = calloc(1, sizeof(*eventfds->routing) +
                                      EVENTFDS_MAX_ROUTES * sizeof(struct kvm_irq_routing_entry));
    if (!eventfds->routing)
        return error_set(error, "out of memory");
    eventfds_add_default_routes(eventfds->routing);
    return 0;
}

void eventfds_destroy(struct eventfds *eventfds)
{
    free(eventfds->routing);
    eventfds->routing = NULL;
    pthread_mutex_destroy(&eventfds->lock);
}

int eventfds_add_msi_irqfd(struct eventfds *eventfds, int fd, unsigned *gsi, struct error *error)
{
    pthread_mutex_lock(&eventfds->lock);
    unsigned new_gsi = eventfds->next_gsi;
    bool full = eventfds->routing->nr >= EVENTFDS_MAX_ROUTES;
    if (!full)
        eventfds->next_gsi++;
    pthread_mutex_unlock(&eventfds->lock);
    if (full)
        return error_set(error, "too many MSI vectors");
    struct kvm_irqfd irqfd = {.fd = (uint32_t)fd, .gsi = new_gsi};
    if (ioctl(eventfds->vm_fd, KVM_IRQFD, &irqfd) < 0)
        return error_set(error, "KVM_IRQFD: %s", strerror(errno));
    *gsi = new_gsi;
    return 0;
}

int eventfds_route_msi(struct eventfds *eventfds, unsigned gsi, uint64_t address, uint32_t data)
{
    pthread_mutex_lock(&eventfds->lock);
    struct kvm_irq_routing *routing = eventfds->routing;
    struct kvm_irq_routing_entry *entry = NULL;
    for (unsigned i = 0; i < routing->nr; i++)
        if (routing->entries[i].gsi == gsi && routing->entries[i].type == KVM_IRQ_ROUTING_MSI)
            entry = &routing->entries[i];
    if (!entry && routing->nr < EVENTFDS_MAX_ROUTES) {
        entry = &routing->entries[routing->nr++];
        memset(entry, 0, sizeof(*entry));
        entry->gsi = gsi;
        entry->type = KVM_IRQ_ROUTING_MSI;
    }
    int result = -1;
    if (entry) {
        entry->u.msi.address_lo = (uint32_t)address;
        entry->u.msi.address_hi = (uint32_t)(address >> 32);
        entry->u.msi.data = data;
        result = ioctl(eventfds->vm_fd, KVM_SET_GSI_ROUTING, routing) < 0 ? -1 : 0;
    } else {
        errno = ENOSPC;
    }
    pthread_mutex_unlock(&eventfds->lock);
    return result;
}

int eventfds_ioeventfd(struct eventfds *eventfds, uint64_t address, int fd, int assign)
{
    struct kvm_ioeventfd ioeventfd = {
        .addr = address,
        .len = eventfds->notify_length,
        .fd = fd,
        .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
    };
    return ioctl(eventfds->vm_fd, KVM_IOEVENTFD, &ioeventfd) < 0 ? -1 : 0;
}
