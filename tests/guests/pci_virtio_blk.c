/* PCI bus 0 through configuration mechanism #1, and a polled driver for a
 * modern (virtio 1.x) virtio-blk device: one queue, one request at a time.
 * The same code runs with paging off (32-bit) and identity-mapped (64-bit):
 * guest-physical addresses are the pointers' values. */
#include "probe.h"

#define PCI_ADDRESS_PORT 0xcf8
#define PCI_DATA_PORT 0xcfc
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_BUS_MASTER 0x4
#define PCI_STATUS_CAPABILITIES (0x10u << 16)
#define PCI_BAR0 0x10
#define PCI_CAPABILITIES 0x34
#define PCI_CAP_VENDOR 0x09

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_BLK_MODERN 0x1042

/* virtio_pci_cap.cfg_type */
#define VIRTIO_CAP_COMMON 1
#define VIRTIO_CAP_NOTIFY 2
#define VIRTIO_CAP_DEVICE 4

/* The common configuration structure (virtio 1.x, 4.1.4.3). */
#define COMMON_DEVICE_FEATURE_SELECT 0x00
#define COMMON_DEVICE_FEATURE 0x04
#define COMMON_DRIVER_FEATURE_SELECT 0x08
#define COMMON_DRIVER_FEATURE 0x0c
#define COMMON_NUM_QUEUES 0x12
#define COMMON_DEVICE_STATUS 0x14
#define COMMON_CONFIG_GENERATION 0x15
#define COMMON_QUEUE_SELECT 0x16
#define COMMON_QUEUE_SIZE 0x18
#define COMMON_QUEUE_ENABLE 0x1c
#define COMMON_QUEUE_NOTIFY_OFF 0x1e
#define COMMON_QUEUE_DESC 0x20
#define COMMON_QUEUE_DRIVER 0x28
#define COMMON_QUEUE_DEVICE 0x30

#define STATUS_ACKNOWLEDGE 1
#define STATUS_DRIVER 2
#define STATUS_DRIVER_OK 4
#define STATUS_FEATURES_OK 8

#define VIRTIO_F_VERSION_1_HIGH 1u /* bit 32: bit 0 of feature word 1 */

#define QUEUE_SIZE 8
#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define BLK_T_IN 0
#define BLK_S_OK 0
/* The bounded wait for a completion, in time-stamp counter ticks: seconds
 * at any plausible TSC rate. */
#define REQUEST_TIMEOUT_TICKS (1ULL << 34)

struct virtq_desc {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};

struct virtq_avail {
    uint16_t flags;
    uint16_t index;
    uint16_t ring[QUEUE_SIZE];
    uint16_t used_event;
};

struct virtq_used_element {
    uint32_t id;
    uint32_t length;
};

struct virtq_used {
    uint16_t flags;
    uint16_t index;
    struct virtq_used_element ring[QUEUE_SIZE];
    uint16_t avail_event;
};

struct blk_request {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

/* The queue and the request live in .bss, which is RAM the device can
 * reach at the same physical address. */
static struct virtq_desc descriptors[QUEUE_SIZE] __attribute__((aligned(4096)));
static struct virtq_avail avail __attribute__((aligned(4096)));
static struct virtq_used used __attribute__((aligned(4096)));
static struct blk_request request __attribute__((aligned(16)));
static uint8_t request_data[DISK_READ_MAX] __attribute__((aligned(4096)));
static volatile uint8_t request_status;

static struct {
    uintptr_t common, notify, device;
    uint16_t queue_size;
    uint16_t last_used;
} disk;

static uint32_t pci_read(unsigned device, unsigned offset)
{
    outl(PCI_ADDRESS_PORT, 0x80000000u | device << 11 | (offset & 0xfc));
    return inl(PCI_DATA_PORT);
}

static void pci_write(unsigned device, unsigned offset, uint32_t value)
{
    outl(PCI_ADDRESS_PORT, 0x80000000u | device << 11 | (offset & 0xfc));
    outl(PCI_DATA_PORT, value);
}

/* The address of a memory BAR, or 0 (with a FAIL line) when it is not an
 * assigned memory BAR we can reach. */
static uint64_t pci_bar_address(unsigned device, unsigned bar)
{
    if (bar > 5) {
        fail("virtio-blk capability names BAR %u", bar);
        return 0;
    }
    uint32_t low = pci_read(device, PCI_BAR0 + 4 * bar);
    uint64_t address = low & ~0xfu;
    if (low & 1) {
        fail("virtio-blk BAR %u is an I/O BAR (0x%x)", bar, low);
        return 0;
    }
    if ((low >> 1 & 3) == 2 && bar < 5)
        address |= (uint64_t)pci_read(device, PCI_BAR0 + 4 * (bar + 1)) << 32;
    /* One line per BAR, however many structures share it. */
    static unsigned checked;
    bool usable = address != 0 && phys_reachable(address, 4096);
    if (!usable || !(checked & 1u << bar))
        check(usable, "virtio-blk BAR %u at 0x%llx, assigned, below 4 GiB", bar, U64(address));
    checked |= 1u << bar;
    return usable ? address : 0;
}

/* Finds the common, notify and device configuration through the
 * vendor-specific capabilities. */
static bool virtio_find_structures(unsigned device, uint32_t *notify_multiplier)
{
    unsigned found = 0;
    unsigned offset = pci_read(device, PCI_CAPABILITIES) & 0xfc;
    for (unsigned count = 0; offset && count < 48; count++) {
        uint32_t header = pci_read(device, offset);
        uint8_t type = header >> 24 & 0xff;
        if ((header & 0xff) == PCI_CAP_VENDOR &&
            (type == VIRTIO_CAP_COMMON || type == VIRTIO_CAP_NOTIFY ||
             type == VIRTIO_CAP_DEVICE) &&
            !(found & 1u << type)) {
            unsigned bar = pci_read(device, offset + 4) & 0xff;
            uint32_t bar_offset = pci_read(device, offset + 8);
            uint32_t length = pci_read(device, offset + 12);
            uint64_t base = pci_bar_address(device, bar);
            if (!base)
                return false;
            uintptr_t address = (uintptr_t)(base + bar_offset);
            probe_printf("virtio-blk capability type %u bar %u offset 0x%x length 0x%x", type,
                         bar, bar_offset, length);
            if (type == VIRTIO_CAP_COMMON) {
                disk.common = address;
            } else if (type == VIRTIO_CAP_NOTIFY) {
                disk.notify = address;
                *notify_multiplier = pci_read(device, offset + 16);
            } else {
                disk.device = address;
            }
            found |= 1u << type;
        }
        offset = header >> 8 & 0xfc;
    }
    return check(found == (1u << VIRTIO_CAP_COMMON | 1u << VIRTIO_CAP_NOTIFY |
                           1u << VIRTIO_CAP_DEVICE),
                 "virtio-blk has common, notify and device configuration capabilities");
}

static uint8_t virtio_status(void)
{
    return mmio_read8(disk.common + COMMON_DEVICE_STATUS);
}

static void virtio_set_status(uint8_t status)
{
    mmio_write8(disk.common + COMMON_DEVICE_STATUS, status);
}

/* The virtio 1.x initialization sequence (3.1.1) with queue 0 set up. */
static bool virtio_blk_init(unsigned device)
{
    uint32_t notify_multiplier = 0;
    if (!virtio_find_structures(device, &notify_multiplier))
        return false;

    virtio_set_status(0);
    unsigned tries = 0;
    while (virtio_status() != 0 && tries < 1000000)
        tries++;
    if (!check(virtio_status() == 0, "virtio-blk reset"))
        return false;
    virtio_set_status(STATUS_ACKNOWLEDGE);
    virtio_set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER);

    mmio_write32(disk.common + COMMON_DEVICE_FEATURE_SELECT, 0);
    uint32_t features_low = mmio_read32(disk.common + COMMON_DEVICE_FEATURE);
    mmio_write32(disk.common + COMMON_DEVICE_FEATURE_SELECT, 1);
    uint32_t features_high = mmio_read32(disk.common + COMMON_DEVICE_FEATURE);
    if (!check(features_high & VIRTIO_F_VERSION_1_HIGH,
               "virtio-blk offers VIRTIO_F_VERSION_1 (features 0x%08x%08x)", features_high,
               features_low))
        return false;
    mmio_write32(disk.common + COMMON_DRIVER_FEATURE_SELECT, 0);
    mmio_write32(disk.common + COMMON_DRIVER_FEATURE, 0);
    mmio_write32(disk.common + COMMON_DRIVER_FEATURE_SELECT, 1);
    mmio_write32(disk.common + COMMON_DRIVER_FEATURE, VIRTIO_F_VERSION_1_HIGH);
    virtio_set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!check(virtio_status() & STATUS_FEATURES_OK, "virtio-blk FEATURES_OK stuck (status 0x%x)",
               virtio_status()))
        return false;

    uint16_t queues = mmio_read16(disk.common + COMMON_NUM_QUEUES);
    mmio_write16(disk.common + COMMON_QUEUE_SELECT, 0);
    uint16_t maximum = mmio_read16(disk.common + COMMON_QUEUE_SIZE);
    if (!check(queues >= 1 && maximum >= 1, "virtio-blk has queue 0 (%u queues, size %u)",
               queues, maximum))
        return false;
    /* A power of two no larger than the device's. */
    disk.queue_size = QUEUE_SIZE;
    while (disk.queue_size > maximum)
        disk.queue_size /= 2;
    mmio_write16(disk.common + COMMON_QUEUE_SIZE, disk.queue_size);
    mmio_write64(disk.common + COMMON_QUEUE_DESC, (uintptr_t)descriptors);
    mmio_write64(disk.common + COMMON_QUEUE_DRIVER, (uintptr_t)&avail);
    mmio_write64(disk.common + COMMON_QUEUE_DEVICE, (uintptr_t)&used);
    uint16_t notify_offset = mmio_read16(disk.common + COMMON_QUEUE_NOTIFY_OFF);
    disk.notify += (uintptr_t)notify_offset * notify_multiplier;
    mmio_write16(disk.common + COMMON_QUEUE_ENABLE, 1);
    virtio_set_status(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    return check(virtio_status() == (STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK |
                                     STATUS_DRIVER_OK),
                 "virtio-blk DRIVER_OK (status 0x%x, queue size %u, notify at 0x%llx)",
                 virtio_status(), disk.queue_size, U64(disk.notify));
}

static uint64_t virtio_blk_capacity(void)
{
    /* A consistent 64-bit read of two 32-bit halves (4.1.4.3.1). */
    for (unsigned tries = 0; tries < 100; tries++) {
        uint8_t generation = mmio_read8(disk.common + COMMON_CONFIG_GENERATION);
        uint64_t capacity = mmio_read32(disk.device) |
                            (uint64_t)mmio_read32(disk.device + 4) << 32;
        if (mmio_read8(disk.common + COMMON_CONFIG_GENERATION) == generation)
            return capacity;
    }
    return 0;
}

bool disk_read(uint64_t sector, unsigned count, void *buffer)
{
    uint32_t length = count * SECTOR_SIZE;
    if (count == 0 || length > DISK_READ_MAX)
        return false;
    request = (struct blk_request){.type = BLK_T_IN, .sector = sector};
    request_status = 0xff;
    descriptors[0] = (struct virtq_desc){(uintptr_t)&request, sizeof(request), DESC_F_NEXT, 1};
    descriptors[1] = (struct virtq_desc){(uintptr_t)request_data, length,
                                         DESC_F_WRITE | DESC_F_NEXT, 2};
    descriptors[2] = (struct virtq_desc){(uintptr_t)&request_status, 1, DESC_F_WRITE, 0};
    volatile struct virtq_avail *ring = &avail;
    ring->ring[ring->index % disk.queue_size] = 0;
    /* The descriptors and the ring entry before the index that publishes
     * them; the index before the notification. */
    memory_barrier();
    ring->index = (uint16_t)(ring->index + 1);
    memory_barrier();
    mmio_write16(disk.notify, 0);

    volatile struct virtq_used *done = &used;
    uint64_t start = rdtsc();
    while (done->index == disk.last_used) {
        if (rdtsc() - start > REQUEST_TIMEOUT_TICKS) {
            fail("virtio-blk read of sector %llu: no completion (timed out)", U64(sector));
            return false;
        }
        __asm__ volatile("pause");
    }
    /* The used entry and the data after the index that says they are there. */
    memory_barrier();
    struct virtq_used_element element = done->ring[disk.last_used % disk.queue_size];
    disk.last_used++;
    if (element.id != 0 || request_status != BLK_S_OK) {
        fail("virtio-blk read of sector %llu: id %u status %u", U64(sector), element.id,
             request_status);
        return false;
    }
    memcpy(buffer, request_data, length);
    return true;
}

void probe_pci_and_disk(void)
{
    int blk = -1;
    for (unsigned device = 0; device < 32; device++) {
        uint32_t id = pci_read(device, 0);
        if ((id & 0xffff) == 0xffff)
            continue;
        probe_printf("pci 00:%02x.0 %04x:%04x", device, id & 0xffff, id >> 16);
        if (id == (VIRTIO_BLK_MODERN << 16 | VIRTIO_VENDOR) && blk < 0)
            blk = (int)device;
    }
    if (blk < 0) {
        probe_printf("no disk");
        return;
    }
    unsigned device = (unsigned)blk;
    uint32_t command = pci_read(device, PCI_COMMAND);
    if (!check(command & PCI_STATUS_CAPABILITIES, "virtio-blk at 00:%02x.0 has capabilities",
               device))
        return;
    /* Status bits are write-one-to-clear: write zeros there. */
    pci_write(device, PCI_COMMAND,
              (command & 0xffff) | PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER);
    if (!virtio_blk_init(device))
        return;
    uint64_t capacity = virtio_blk_capacity();
    probe_printf("disk capacity %llu sectors", U64(capacity));
    gpt_check(capacity);
}
