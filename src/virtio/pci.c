#include "virtio/pci.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

#define PCI_VENDOR_RED_HAT_VIRTIO 0x1af4
#define VIRTIO_PCI_DEVICE_ID_BASE 0x1040
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

#define MSIX_CONTROL_ENABLE 0x8000
#define MSIX_CONTROL_FUNCTION_MASK 0x4000
#define MSIX_ENTRY_MASKED 1u

/* Common configuration fields (4.1.4.3). */
enum {
    COMMON_DEVICE_FEATURE_SELECT = 0x00,
    COMMON_DEVICE_FEATURE = 0x04,
    COMMON_DRIVER_FEATURE_SELECT = 0x08,
    COMMON_DRIVER_FEATURE = 0x0c,
    COMMON_CONFIG_MSIX_VECTOR = 0x10,
    COMMON_NUM_QUEUES = 0x12,
    COMMON_DEVICE_STATUS = 0x14,
    COMMON_CONFIG_GENERATION = 0x15,
    COMMON_QUEUE_SELECT = 0x16,
    COMMON_QUEUE_SIZE = 0x18,
    COMMON_QUEUE_MSIX_VECTOR = 0x1a,
    COMMON_QUEUE_ENABLE = 0x1c,
    COMMON_QUEUE_NOTIFY_OFF = 0x1e,
    COMMON_QUEUE_DESC = 0x20,
    COMMON_QUEUE_DRIVER = 0x28,
    COMMON_QUEUE_DEVICE = 0x30,
};

static const struct {
    uint8_t offset, size;
} common_fields[] = {
    {COMMON_DEVICE_FEATURE_SELECT, 4}, {COMMON_DRIVER_FEATURE_SELECT, 4},
    {COMMON_DRIVER_FEATURE, 4},        {COMMON_CONFIG_MSIX_VECTOR, 2},
    {COMMON_DEVICE_STATUS, 1},         {COMMON_QUEUE_SELECT, 2},
    {COMMON_QUEUE_SIZE, 2},            {COMMON_QUEUE_MSIX_VECTOR, 2},
    {COMMON_QUEUE_ENABLE, 2},          {COMMON_QUEUE_DESC, 8},
    {COMMON_QUEUE_DRIVER, 8},          {COMMON_QUEUE_DEVICE, 8},
};

static struct virtio_pci *virtio_pci_of(struct pci_function *function)
{
    return function->opaque;
}

static uint16_t virtio_pci_msix_control(const struct virtio_pci *transport)
{
    const uint8_t *control = transport->function.config + transport->msix_capability + 2;
    return (uint16_t)(__atomic_load_n(&control[0], __ATOMIC_RELAXED) |
                      __atomic_load_n(&control[1], __ATOMIC_RELAXED) << 8);
}

/* --- MSI-X -------------------------------------------------------------- */

static bool virtio_pci_vector_masked(const struct virtio_pci *transport, unsigned vector)
{
    return (virtio_pci_msix_control(transport) & MSIX_CONTROL_FUNCTION_MASK) ||
           (transport->msix_table[vector].control & MSIX_ENTRY_MASKED);
}

static void virtio_pci_fire(struct virtio_pci *transport, unsigned vector)
{
    uint64_t one = 1;
    if (write(transport->vector_fd[vector], &one, sizeof(one)) < 0)
        log_once("virtio-pci: raising an interrupt: %s", strerror(errno));
}

/* Called with msix_lock held. */
static void virtio_pci_fire_pending(struct virtio_pci *transport)
{
    if (!(virtio_pci_msix_control(transport) & MSIX_CONTROL_ENABLE))
        return;
    for (unsigned vector = 0; vector < transport->vector_count; vector++) {
        if (transport->msix_pending[vector] && !virtio_pci_vector_masked(transport, vector)) {
            transport->msix_pending[vector] = false;
            virtio_pci_fire(transport, vector);
        }
    }
}

static void virtio_pci_interrupt(void *opaque, uint16_t vector, bool config_change)
{
    struct virtio_pci *transport = opaque;
    pthread_mutex_lock(&transport->msix_lock);
    transport->isr |= config_change ? 2 : 1;
    /* Without MSI-X there is no interrupt at all: we offer no INTx pin. */
    if ((virtio_pci_msix_control(transport) & MSIX_CONTROL_ENABLE) &&
        vector < transport->vector_count) {
        if (virtio_pci_vector_masked(transport, vector))
            transport->msix_pending[vector] = true;
        else
            virtio_pci_fire(transport, vector);
    }
    pthread_mutex_unlock(&transport->msix_lock);
}

/* A vector's irqfd, for vhost: KVM raises the MSI on each write.  (A masked
 * vector still fires that way; Linux masks virtio vectors only while it
 * tears them down.) */
static int virtio_pci_interrupt_fd(void *opaque, uint16_t vector)
{
    struct virtio_pci *transport = opaque;
    return vector < transport->vector_count ? transport->vector_fd[vector] : -1;
}

static void virtio_pci_msix_table_write(struct virtio_pci *transport, uint64_t offset,
                                        const void *data, unsigned length)
{
    if ((length != 4 && length != 8) || (offset & (length - 1)))
        return;
    unsigned vector = (unsigned)(offset / sizeof(struct virtio_pci_msix_entry));
    if (vector >= transport->vector_count)
        return;
    pthread_mutex_lock(&transport->msix_lock);
    struct virtio_pci_msix_entry *entry = &transport->msix_table[vector];
    memcpy((uint8_t *)entry + offset % sizeof(*entry), data, length);
    if (!(entry->control & MSIX_ENTRY_MASKED) && transport->eventfds) {
        uint64_t address = (uint64_t)entry->address_hi << 32 | entry->address_lo;
        if (eventfds_route_msi(transport->eventfds, transport->vector_gsi[vector], address,
                               entry->data))
            log_once("virtio-pci: KVM refused an MSI route: %s", strerror(errno));
    }
    virtio_pci_fire_pending(transport);
    pthread_mutex_unlock(&transport->msix_lock);
}

static void virtio_pci_msix_read(struct virtio_pci *transport, uint64_t offset, void *data,
                                 unsigned length)
{
    memset(data, 0, length);
    pthread_mutex_lock(&transport->msix_lock);
    if (offset < VIRTIO_PCI_MSIX_PBA_OFFSET - VIRTIO_PCI_MSIX_TABLE_OFFSET) {
        uint64_t size = transport->vector_count * sizeof(struct virtio_pci_msix_entry);
        if (offset < size && length <= size - offset)
            memcpy(data, (uint8_t *)transport->msix_table + offset, length);
    } else {
        uint64_t pba_offset =
            offset - (VIRTIO_PCI_MSIX_PBA_OFFSET - VIRTIO_PCI_MSIX_TABLE_OFFSET);
        uint64_t bits = 0;
        for (unsigned vector = 0; vector < transport->vector_count; vector++)
            if (transport->msix_pending[vector])
                bits |= 1ull << vector;
        if (pba_offset < 8 && length <= 8 - pba_offset)
            memcpy(data, (uint8_t *)&bits + pba_offset, length);
    }
    pthread_mutex_unlock(&transport->msix_lock);
}

/* --- common configuration ------------------------------------------------ */

/* The register file as the driver sees it now (device lock held). */
static void virtio_pci_common_snapshot(struct virtio_pci *transport, uint8_t *image)
{
    struct virtio_device *device = transport->device;
    memset(image, 0, VIRTIO_PCI_COMMON_SIZE);
    pci_put32(image + COMMON_DEVICE_FEATURE_SELECT, transport->device_feature_select);
    uint32_t features = 0;
    if (transport->device_feature_select < 2)
        features = (uint32_t)(device->device_features >> (32 * transport->device_feature_select));
    pci_put32(image + COMMON_DEVICE_FEATURE, features);
    pci_put32(image + COMMON_DRIVER_FEATURE_SELECT, transport->driver_feature_select);
    uint32_t accepted = 0;
    if (transport->driver_feature_select < 2)
        accepted = (uint32_t)(device->driver_features >> (32 * transport->driver_feature_select));
    pci_put32(image + COMMON_DRIVER_FEATURE, accepted);
    pci_put16(image + COMMON_CONFIG_MSIX_VECTOR, device->config_vector);
    pci_put16(image + COMMON_NUM_QUEUES, (uint16_t)device->ops->queue_count);
    image[COMMON_DEVICE_STATUS] = device->status;
    image[COMMON_CONFIG_GENERATION] = device->config_generation;
    pci_put16(image + COMMON_QUEUE_SELECT, transport->queue_select);
    unsigned queue = transport->queue_select;
    if (queue < device->ops->queue_count) {
        const struct virtq *q = &device->queues[queue];
        pci_put16(image + COMMON_QUEUE_SIZE, q->size ? q->size : device->ops->queue_max_size);
        pci_put16(image + COMMON_QUEUE_MSIX_VECTOR, device->queue_vector[queue]);
        pci_put16(image + COMMON_QUEUE_ENABLE, q->started);
        pci_put16(image + COMMON_QUEUE_NOTIFY_OFF, (uint16_t)queue);
        pci_put32(image + COMMON_QUEUE_DESC, (uint32_t)q->desc_address);
        pci_put32(image + COMMON_QUEUE_DESC + 4, (uint32_t)(q->desc_address >> 32));
        pci_put32(image + COMMON_QUEUE_DRIVER, (uint32_t)q->avail_address);
        pci_put32(image + COMMON_QUEUE_DRIVER + 4, (uint32_t)(q->avail_address >> 32));
        pci_put32(image + COMMON_QUEUE_DEVICE, (uint32_t)q->used_address);
        pci_put32(image + COMMON_QUEUE_DEVICE + 4, (uint32_t)(q->used_address >> 32));
    }
}

static uint16_t virtio_pci_checked_vector(const struct virtio_pci *transport, uint16_t vector)
{
    /* A vector we do not have reads back as NO_VECTOR (4.1.5.1.2). */
    return vector < transport->vector_count ? vector : VIRTIO_NO_VECTOR;
}

static void virtio_pci_common_apply(struct virtio_pci *transport, unsigned field,
                                    const uint8_t *image)
{
    struct virtio_device *device = transport->device;
    unsigned queue = transport->queue_select;
    struct virtq *q = queue < device->ops->queue_count ? &device->queues[queue] : NULL;
    bool queue_settable = q && !q->started && !(device->status & VIRTIO_STATUS_DRIVER_OK);
    uint64_t value64 = pci_get32(image + field) | (uint64_t)pci_get32(image + field + 4) << 32;
    switch (field) {
    case COMMON_DEVICE_FEATURE_SELECT:
        transport->device_feature_select = pci_get32(image + field);
        break;
    case COMMON_DRIVER_FEATURE_SELECT:
        transport->driver_feature_select = pci_get32(image + field);
        break;
    case COMMON_DRIVER_FEATURE:
        if (transport->driver_feature_select < 2 &&
            !(device->status & VIRTIO_STATUS_FEATURES_OK)) {
            unsigned shift = 32 * transport->driver_feature_select;
            device->driver_features &= ~(0xffffffffull << shift);
            device->driver_features |= (uint64_t)pci_get32(image + field) << shift;
        }
        break;
    case COMMON_CONFIG_MSIX_VECTOR:
        device->config_vector = virtio_pci_checked_vector(transport, pci_get16(image + field));
        break;
    case COMMON_DEVICE_STATUS:
        virtio_device_set_status(device, image[field]);
        if (image[field] == 0) {
            transport->isr = 0;
        }
        break;
    case COMMON_QUEUE_SELECT:
        transport->queue_select = pci_get16(image + field);
        break;
    case COMMON_QUEUE_SIZE: {
        uint16_t size = pci_get16(image + field);
        /* Split queues have power-of-two sizes up to what we offer. */
        if (queue_settable && size && size <= device->ops->queue_max_size &&
            !(size & (size - 1)))
            q->size = size;
        break;
    }
    case COMMON_QUEUE_MSIX_VECTOR:
        if (q)
            device->queue_vector[queue] =
                virtio_pci_checked_vector(transport, pci_get16(image + field));
        break;
    case COMMON_QUEUE_ENABLE:
        if (q && pci_get16(image + field) == 1 && !q->started) {
            if (!q->size)
                q->size = device->ops->queue_max_size;
            virtio_device_enable_queue(device, queue);
        }
        break;
    case COMMON_QUEUE_DESC:
        if (queue_settable)
            q->desc_address = value64;
        break;
    case COMMON_QUEUE_DRIVER:
        if (queue_settable)
            q->avail_address = value64;
        break;
    case COMMON_QUEUE_DEVICE:
        if (queue_settable)
            q->used_address = value64;
        break;
    }
}

static void virtio_pci_common_read(struct virtio_pci *transport, uint64_t offset, void *data,
                                   unsigned length)
{
    uint8_t image[VIRTIO_PCI_COMMON_SIZE];
    memset(data, 0, length);
    if (offset >= VIRTIO_PCI_COMMON_SIZE || length > VIRTIO_PCI_COMMON_SIZE - offset)
        return;
    pthread_mutex_lock(&transport->device->lock);
    virtio_pci_common_snapshot(transport, image);
    pthread_mutex_unlock(&transport->device->lock);
    memcpy(data, image + offset, length);
}

static void virtio_pci_common_write(struct virtio_pci *transport, uint64_t offset,
                                    const void *data, unsigned length)
{
    uint8_t image[VIRTIO_PCI_COMMON_SIZE];
    if (offset >= VIRTIO_PCI_COMMON_SIZE || length > VIRTIO_PCI_COMMON_SIZE - offset)
        return;
    pthread_mutex_lock(&transport->device->lock);
    virtio_pci_common_snapshot(transport, image);
    memcpy(image + offset, data, length);
    /* Apply every writable field the access touched; 64-bit addresses are
     * written as two 32-bit halves, each of which lands here. */
    for (size_t i = 0; i < sizeof(common_fields) / sizeof(common_fields[0]); i++) {
        unsigned field = common_fields[i].offset, size = common_fields[i].size;
        if (offset < field + size && field < offset + length)
            virtio_pci_common_apply(transport, field, image);
    }
    pthread_mutex_unlock(&transport->device->lock);
}

/* --- BAR dispatch -------------------------------------------------------- */

void virtio_pci_bar_read(struct pci_function *function, int bar, uint64_t offset, void *data,
                         unsigned length)
{
    struct virtio_pci *transport = virtio_pci_of(function);
    struct virtio_device *device = transport->device;
    memset(data, 0, length);
    if (bar != 0)
        return;
    if (offset < VIRTIO_PCI_ISR_OFFSET) {
        virtio_pci_common_read(transport, offset, data, length);
    } else if (offset == VIRTIO_PCI_ISR_OFFSET) {
        /* Reading the ISR acknowledges it. */
        pthread_mutex_lock(&transport->msix_lock);
        *(uint8_t *)data = transport->isr;
        transport->isr = 0;
        pthread_mutex_unlock(&transport->msix_lock);
    } else if (offset >= VIRTIO_PCI_DEVICE_OFFSET && offset < VIRTIO_PCI_NOTIFY_OFFSET) {
        uint64_t config_offset = offset - VIRTIO_PCI_DEVICE_OFFSET;
        pthread_mutex_lock(&device->lock);
        if (config_offset < device->config_size && length <= device->config_size - config_offset)
            memcpy(data, device->config + config_offset, length);
        pthread_mutex_unlock(&device->lock);
    } else if (offset >= VIRTIO_PCI_MSIX_TABLE_OFFSET) {
        virtio_pci_msix_read(transport, offset - VIRTIO_PCI_MSIX_TABLE_OFFSET, data, length);
    }
}

void virtio_pci_bar_write(struct pci_function *function, int bar, uint64_t offset,
                          const void *data, unsigned length)
{
    struct virtio_pci *transport = virtio_pci_of(function);
    struct virtio_device *device = transport->device;
    if (bar != 0)
        return;
    if (offset < VIRTIO_PCI_ISR_OFFSET) {
        virtio_pci_common_write(transport, offset, data, length);
    } else if (offset >= VIRTIO_PCI_DEVICE_OFFSET && offset < VIRTIO_PCI_NOTIFY_OFFSET) {
        uint64_t config_offset = offset - VIRTIO_PCI_DEVICE_OFFSET;
        pthread_mutex_lock(&device->lock);
        if (device->ops->config_write && config_offset < device->config_size &&
            length <= device->config_size - config_offset)
            device->ops->config_write(device, (unsigned)config_offset, data, length);
        pthread_mutex_unlock(&device->lock);
    } else if (offset >= VIRTIO_PCI_NOTIFY_OFFSET && offset < VIRTIO_PCI_MSIX_TABLE_OFFSET) {
        /* Only reached when KVM's ioeventfd is not in place. */
        uint64_t queue = (offset - VIRTIO_PCI_NOTIFY_OFFSET) / VIRTIO_PCI_NOTIFY_MULTIPLIER;
        uint64_t one = 1;
        if (queue < device->ops->queue_count &&
            write(device->notify_fd[queue], &one, sizeof(one)) < 0)
            log_once("%s: notify: %s", device->ops->name, strerror(errno));
    } else if (offset >= VIRTIO_PCI_MSIX_TABLE_OFFSET &&
               offset < VIRTIO_PCI_MSIX_PBA_OFFSET) {
        virtio_pci_msix_table_write(transport, offset - VIRTIO_PCI_MSIX_TABLE_OFFSET, data,
                                    length);
    }
}

/* Queue notifications go straight to the device's eventfds. */
static void virtio_pci_bar_moved(struct pci_function *function, int bar, uint64_t old_address,
                                 uint64_t new_address)
{
    struct virtio_pci *transport = virtio_pci_of(function);
    struct virtio_device *device = transport->device;
    if (bar != 0 || !transport->eventfds)
        return;
    for (unsigned q = 0; q < device->ops->queue_count; q++) {
        uint64_t notify = VIRTIO_PCI_NOTIFY_OFFSET + q * VIRTIO_PCI_NOTIFY_MULTIPLIER;
        if (old_address)
            eventfds_ioeventfd(transport->eventfds, old_address + notify, device->notify_fd[q],
                               0);
        if (new_address &&
            eventfds_ioeventfd(transport->eventfds, new_address + notify, device->notify_fd[q],
                               1))
            log_once("%s: KVM_IOEVENTFD: %s; notifications go through MMIO exits",
                     device->ops->name, strerror(errno));
    }
}

/* VIRTIO_PCI_CAP_PCI_CFG: a window into the BARs through config space. */
static bool virtio_pci_cfg_window(struct virtio_pci *transport, unsigned offset, unsigned length,
                                  uint32_t *bar_offset, uint32_t *window_length)
{
    unsigned cap = transport->pci_cfg_capability, data_offset = cap + 16;
    if (offset + length <= data_offset || offset >= data_offset + 4)
        return false;
    const uint8_t *config = transport->function.config;
    *bar_offset = pci_get32(config + cap + 8);
    *window_length = pci_get32(config + cap + 12);
    return config[cap + 4] == 0 &&
           (*window_length == 1 || *window_length == 2 || *window_length == 4);
}

static void virtio_pci_config_read(struct pci_function *function, unsigned offset,
                                   unsigned length)
{
    struct virtio_pci *transport = virtio_pci_of(function);
    uint32_t bar_offset, window_length;
    if (virtio_pci_cfg_window(transport, offset, length, &bar_offset, &window_length))
        virtio_pci_bar_read(function, 0, bar_offset,
                            function->config + transport->pci_cfg_capability + 16,
                            window_length);
}

static void virtio_pci_config_write(struct pci_function *function, unsigned offset,
                                    unsigned length)
{
    struct virtio_pci *transport = virtio_pci_of(function);
    uint32_t bar_offset, window_length;
    if (virtio_pci_cfg_window(transport, offset, length, &bar_offset, &window_length))
        virtio_pci_bar_write(function, 0, bar_offset,
                             function->config + transport->pci_cfg_capability + 16,
                             window_length);
    unsigned control = transport->msix_capability + 2;
    if (offset < control + 2 && control < offset + length) {
        pthread_mutex_lock(&transport->msix_lock);
        virtio_pci_fire_pending(transport);
        pthread_mutex_unlock(&transport->msix_lock);
    }
}

static const struct pci_function_ops virtio_pci_function_ops = {
    .bar_read = virtio_pci_bar_read,
    .bar_write = virtio_pci_bar_write,
    .bar_moved = virtio_pci_bar_moved,
    .config_read = virtio_pci_config_read,
    .config_write = virtio_pci_config_write,
};

static uint32_t virtio_pci_class_code(uint16_t device_id)
{
    switch (device_id) {
    case VIRTIO_ID_NET: return 0x020000;     /* ethernet */
    case VIRTIO_ID_BLOCK: return 0x018000;   /* other mass storage */
    case VIRTIO_ID_CONSOLE: return 0x078000; /* other communication */
    case VIRTIO_ID_GPU: return 0x038000;     /* other display */
    case VIRTIO_ID_INPUT: return 0x098000;   /* other input */
    default: return 0x00ff00;                /* unclassified */
    }
}

static int virtio_pci_add_cap(struct virtio_pci *transport, uint8_t type, unsigned length,
                              uint32_t offset, uint32_t size, unsigned *where)
{
    struct pci_function *function = &transport->function;
    unsigned cap = pci_function_add_capability(function, PCI_CAP_VENDOR, length);
    if (!cap)
        return -1;
    function->config[cap + 2] = (uint8_t)length;
    function->config[cap + 3] = type;
    function->config[cap + 4] = 0; /* BAR 0 */
    pci_put32(function->config + cap + 8, offset);
    pci_put32(function->config + cap + 12, size);
    if (where)
        *where = cap;
    return 0;
}

int virtio_pci_create(struct virtio_pci *transport, struct virtio_device *device,
                      struct pci_bus *pci, struct eventfds *eventfds, struct error *error)
{
    memset(transport, 0, sizeof(*transport));
    transport->device = device;
    transport->eventfds = eventfds;
    pthread_mutex_init(&transport->msix_lock, NULL);
    transport->vector_count = device->ops->queue_count + 1;
    for (unsigned v = 0; v < VIRTIO_PCI_MAX_VECTORS; v++)
        transport->vector_fd[v] = -1;

    struct pci_function *function = &transport->function;
    uint16_t id = device->ops->device_id;
    pci_function_init(function, PCI_VENDOR_RED_HAT_VIRTIO, VIRTIO_PCI_DEVICE_ID_BASE + id,
                      virtio_pci_class_code(id), PCI_VENDOR_RED_HAT_VIRTIO, 0x1100);
    function->config[0x08] = 1; /* revision 1: a modern-only device (4.1.2.1) */
    function->ops = &virtio_pci_function_ops;
    function->opaque = transport;
    pci_function_add_bar(function, 0, VIRTIO_PCI_BAR_SIZE);

    unsigned notify_cap = 0;
    if (virtio_pci_add_cap(transport, VIRTIO_PCI_CAP_COMMON_CFG, 16, VIRTIO_PCI_COMMON_OFFSET,
                           VIRTIO_PCI_COMMON_SIZE, NULL) ||
        virtio_pci_add_cap(transport, VIRTIO_PCI_CAP_ISR_CFG, 16, VIRTIO_PCI_ISR_OFFSET, 1,
                           NULL) ||
        (device->config_size &&
         virtio_pci_add_cap(transport, VIRTIO_PCI_CAP_DEVICE_CFG, 16, VIRTIO_PCI_DEVICE_OFFSET,
                            device->config_size, NULL)) ||
        virtio_pci_add_cap(transport, VIRTIO_PCI_CAP_NOTIFY_CFG, 20, VIRTIO_PCI_NOTIFY_OFFSET,
                           device->ops->queue_count * VIRTIO_PCI_NOTIFY_MULTIPLIER,
                           &notify_cap) ||
        virtio_pci_add_cap(transport, VIRTIO_PCI_CAP_PCI_CFG, 20, 0, 0,
                           &transport->pci_cfg_capability))
        return error_set(error, "%s: PCI capabilities do not fit", device->ops->name);
    pci_put32(function->config + notify_cap + 16, VIRTIO_PCI_NOTIFY_MULTIPLIER);
    /* The driver chooses the window: bar, offset, length and the data. */
    unsigned cfg = transport->pci_cfg_capability;
    function->writable[cfg + 4] = 0xff;
    memset(function->writable + cfg + 8, 0xff, 12);

    unsigned msix = pci_function_add_capability(function, PCI_CAP_MSIX, 12);
    if (!msix)
        return error_set(error, "%s: PCI capabilities do not fit", device->ops->name);
    transport->msix_capability = msix;
    pci_put16(function->config + msix + 2, (uint16_t)(transport->vector_count - 1));
    function->writable[msix + 3] = (MSIX_CONTROL_ENABLE | MSIX_CONTROL_FUNCTION_MASK) >> 8;
    pci_put32(function->config + msix + 4, VIRTIO_PCI_MSIX_TABLE_OFFSET); /* BIR 0 */
    pci_put32(function->config + msix + 8, VIRTIO_PCI_MSIX_PBA_OFFSET);
    for (unsigned v = 0; v < transport->vector_count; v++)
        transport->msix_table[v].control = MSIX_ENTRY_MASKED;

    if (eventfds) {
        for (unsigned v = 0; v < transport->vector_count; v++) {
            transport->vector_fd[v] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
            if (transport->vector_fd[v] < 0)
                return error_set(error, "%s: eventfd: %s", device->ops->name, strerror(errno));
            if (eventfds_add_msi_irqfd(eventfds, transport->vector_fd[v],
                                       &transport->vector_gsi[v], error))
                return -1;
        }
    }
    device->interrupt = virtio_pci_interrupt;
    device->interrupt_fd = virtio_pci_interrupt_fd;
    device->transport = transport;
    return pci_bus_plug(pci, function, error);
}

void virtio_pci_destroy(struct virtio_pci *transport)
{
    for (unsigned v = 0; v < VIRTIO_PCI_MAX_VECTORS; v++)
        if (transport->vector_fd[v] >= 0)
            close(transport->vector_fd[v]);
    pthread_mutex_destroy(&transport->msix_lock);
}
