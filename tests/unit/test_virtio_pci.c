/* The virtio 1.x PCI transport as a Linux driver meets it: the capability
 * chain virtio_pci_modern walks, feature negotiation and queue set-up
 * through the common configuration, reset, MSI-X, the ISR, the
 * VIRTIO_PCI_CAP_PCI_CFG window, and whole requests through virtio-rng and
 * virtio-blk.  No KVM: notifications and interrupts are plain eventfds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bus.h"
#include "devices/pci.h"
#include "memory.h"
#include "virtio/blk.h"
#include "virtio/gpu.h"
#include "virtio/input.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "virtio/virtio.h"

#define MEMORY_SIZE (1u << 20)

/* Common configuration layout (virtio 1.x, 4.1.4.3). */
#define DEVICE_FEATURE_SELECT 0x00
#define DEVICE_FEATURE 0x04
#define DRIVER_FEATURE_SELECT 0x08
#define DRIVER_FEATURE 0x0c
#define CONFIG_MSIX_VECTOR 0x10
#define NUM_QUEUES 0x12
#define DEVICE_STATUS 0x14
#define CONFIG_GENERATION 0x15
#define QUEUE_SELECT 0x16
#define QUEUE_SIZE 0x18
#define QUEUE_MSIX_VECTOR 0x1a
#define QUEUE_ENABLE 0x1c
#define QUEUE_NOTIFY_OFF 0x1e
#define QUEUE_DESC 0x20
#define QUEUE_DRIVER 0x28
#define QUEUE_DEVICE 0x30

#define STATUS_DRIVER_READY                                                                    \
    (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK)

/* The fake device's own feature bits, one in each half. */
#define FAKE_FEATURE_LOW (1ull << 5)
#define FAKE_FEATURE_HIGH (1ull << 35)
#define FAKE_QUEUES 2
#define FAKE_QUEUE_MAX 16
#define FAKE_CONFIG_SIZE 8

/* Ring layout in guest memory for the request tests. */
#define DESC_TABLE 0x1000ull
#define AVAIL_RING 0x2000ull
#define USED_RING 0x3000ull
#define DATA 0x10000ull

struct fixture {
    uint8_t *host;
    struct guest_memory memory;
    struct bus pio, mmio;
    struct pci_bus pci;
    struct virtio_device device;
    struct virtio_pci transport;
    uint8_t config[FAKE_CONFIG_SIZE];
    int resets, driver_oks, notifies;
    int config_writes;
    unsigned last_config_offset, last_config_length;
    uint8_t last_config_data[8];
    bool fake_created, transport_created;
};

static void fake_queue_notify(struct virtio_device *device, unsigned queue)
{
    (void)queue;
    struct fixture *fixture = device->opaque;
    fixture->notifies++;
}

static void fake_config_write(struct virtio_device *device, unsigned offset, const void *data,
                              unsigned length)
{
    struct fixture *fixture = device->opaque;
    fixture->config_writes++;
    fixture->last_config_offset = offset;
    fixture->last_config_length = length;
    memcpy(fixture->last_config_data, data, length < 8 ? length : 8);
}

static void fake_reset(struct virtio_device *device)
{
    struct fixture *fixture = device->opaque;
    fixture->resets++;
}

static void fake_driver_ok(struct virtio_device *device)
{
    struct fixture *fixture = device->opaque;
    fixture->driver_oks++;
}

static const struct virtio_device_ops fake_ops = {
    .name = "virtio-fake",
    .device_id = VIRTIO_ID_CONSOLE,
    .queue_count = FAKE_QUEUES,
    .queue_max_size = FAKE_QUEUE_MAX,
    .queue_notify = fake_queue_notify,
    .config_write = fake_config_write,
    .reset = fake_reset,
    .driver_ok = fake_driver_ok,
};

/* Guest memory and a PCI bus with its port and memory ranges; no device. */
static int setup_bus(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    if (!fixture)
        return -1;
    fixture->host = calloc(1, MEMORY_SIZE);
    if (!fixture->host)
        return -1;
    guest_memory_init_over(&fixture->memory, fixture->host, MEMORY_SIZE);
    fixture->pio.name = "pio";
    fixture->mmio.name = "mmio";
    struct error error;
    if (pci_bus_init(&fixture->pci, &fixture->pio, &fixture->mmio, &error))
        return -1;
    *state = fixture;
    return 0;
}

static void plug(struct fixture *fixture, struct virtio_device *device)
{
    struct error error = {{0}};
    if (virtio_pci_create(&fixture->transport, device, &fixture->pci, NULL, &error))
        fail_msg("virtio_pci_create: %s", error.message);
    fixture->transport_created = true;
}

/* The bus with the fake device plugged in (slot 1). */
static int setup(void **state)
{
    if (setup_bus(state))
        return -1;
    struct fixture *fixture = *state;
    struct error error;
    memcpy(fixture->config, "\x01\x02\x03\x04\x05\x06\x07\x08", FAKE_CONFIG_SIZE);
    if (virtio_device_init(&fixture->device, &fake_ops, fixture, &fixture->memory,
                           fixture->config, FAKE_CONFIG_SIZE,
                           FAKE_FEATURE_LOW | FAKE_FEATURE_HIGH, &error))
        return -1;
    fixture->fake_created = true;
    plug(fixture, &fixture->device);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    if (fixture->transport_created)
        virtio_pci_destroy(&fixture->transport);
    if (fixture->fake_created)
        virtio_device_destroy(&fixture->device);
    pci_bus_destroy(&fixture->pci);
    free(fixture->host);
    free(fixture);
    return 0;
}

static uint64_t bar_read(struct fixture *fixture, uint64_t offset, unsigned length)
{
    uint64_t value = 0xdeadbeefdeadbeefull;
    virtio_pci_bar_read(&fixture->transport.function, 0, offset, &value, length);
    if (length < 8)
        value &= (1ull << (8 * length)) - 1;
    return value;
}

static void bar_write(struct fixture *fixture, uint64_t offset, uint64_t value, unsigned length)
{
    virtio_pci_bar_write(&fixture->transport.function, 0, offset, &value, length);
}

static uint32_t config_read(struct pci_bus *pci, unsigned offset, unsigned length)
{
    uint32_t value = 0;
    pci_config_read(pci, 1, offset, &value, length);
    return value;
}

static void config_write(struct pci_bus *pci, unsigned offset, uint32_t value, unsigned length)
{
    pci_config_write(pci, 1, offset, &value, length);
}

static uint8_t status(struct fixture *fixture)
{
    return (uint8_t)bar_read(fixture, DEVICE_STATUS, 1);
}

static void set_status(struct fixture *fixture, uint8_t value)
{
    bar_write(fixture, DEVICE_STATUS, value, 1);
}

/* What virtio_pci_modern writes: 32 bits at a time, select then value. */
static void accept_features(struct fixture *fixture, uint64_t features)
{
    bar_write(fixture, DRIVER_FEATURE_SELECT, 0, 4);
    bar_write(fixture, DRIVER_FEATURE, (uint32_t)features, 4);
    bar_write(fixture, DRIVER_FEATURE_SELECT, 1, 4);
    bar_write(fixture, DRIVER_FEATURE, (uint32_t)(features >> 32), 4);
}

static uint64_t offered_features(struct fixture *fixture)
{
    bar_write(fixture, DEVICE_FEATURE_SELECT, 0, 4);
    uint64_t low = bar_read(fixture, DEVICE_FEATURE, 4);
    bar_write(fixture, DEVICE_FEATURE_SELECT, 1, 4);
    return low | bar_read(fixture, DEVICE_FEATURE, 4) << 32;
}

static void write64_halves(struct fixture *fixture, uint64_t offset, uint64_t value)
{
    bar_write(fixture, offset, (uint32_t)value, 4);
    bar_write(fixture, offset + 4, (uint32_t)(value >> 32), 4);
}

static uint64_t eventfd_count(int fd)
{
    uint64_t count = 0;
    if (read(fd, &count, sizeof(count)) != sizeof(count))
        return 0;
    return count;
}

/* --- the PCI face ---------------------------------------------------------- */

struct found_capabilities {
    unsigned vendor_at[6]; /* by cfg_type; 0 = not found */
    int vendor_count[6];
    unsigned msix_at;
};

/* Walks the capability list as Linux's virtio_pci_find_capability does. */
static struct found_capabilities walk_capabilities(struct pci_bus *pci)
{
    struct found_capabilities found;
    memset(&found, 0, sizeof(found));
    assert_true(config_read(pci, 0x06, 2) & 0x0010);
    unsigned position = config_read(pci, 0x34, 1);
    for (int steps = 0; position; steps++) {
        assert_true(steps < 48);
        assert_true(position >= 0x40 && position <= 0xfc);
        assert_int_equal(position % 4, 0);
        uint8_t id = (uint8_t)config_read(pci, position, 1);
        if (id == 0x09) {
            uint8_t type = (uint8_t)config_read(pci, position + 3, 1);
            assert_in_range(type, 1, 5);
            found.vendor_at[type] = position;
            found.vendor_count[type]++;
        } else if (id == 0x11) {
            found.msix_at = position;
        }
        position = config_read(pci, position + 1, 1);
    }
    return found;
}

static void check_vendor_capability(struct pci_bus *pci, unsigned at, unsigned min_cap_length,
                                    uint32_t min_length)
{
    assert_true(config_read(pci, at + 2, 1) >= min_cap_length); /* cap_len */
    assert_int_equal(config_read(pci, at + 4, 1), 0);           /* BAR 0 */
    uint32_t offset = config_read(pci, at + 8, 4);
    uint32_t length = config_read(pci, at + 12, 4);
    assert_true(length >= min_length);
    assert_true((uint64_t)offset + length <= VIRTIO_PCI_BAR_SIZE);
}

static void test_pci_identity(void **state)
{
    struct fixture *fixture = *state;
    struct pci_bus *pci = &fixture->pci;
    assert_int_equal(config_read(pci, 0x00, 2), 0x1af4);
    assert_int_equal(config_read(pci, 0x02, 2), 0x1040 + VIRTIO_ID_CONSOLE);
    assert_int_equal(config_read(pci, 0x08, 1), 1); /* modern-only revision */
    assert_int_equal(config_read(pci, 0x09, 3), 0x078000);
    assert_int_equal(config_read(pci, 0x2c, 2), 0x1af4);
    assert_int_equal(config_read(pci, 0x0e, 1), 0);
    /* BAR 0 is 32 KiB of memory; no other BAR. */
    uint32_t bar0 = config_read(pci, 0x10, 4);
    assert_true(bar0 >= PCI_MMIO_WINDOW_START);
    config_write(pci, 0x10, 0xffffffff, 4);
    assert_int_equal(config_read(pci, 0x10, 4), (uint32_t)~(VIRTIO_PCI_BAR_SIZE - 1));
    config_write(pci, 0x10, bar0, 4);
    for (unsigned bar = 1; bar < 6; bar++) {
        config_write(pci, 0x10 + 4 * bar, 0xffffffff, 4);
        assert_int_equal(config_read(pci, 0x10 + 4 * bar, 4), 0);
    }
}

static void test_capability_chain(void **state)
{
    struct fixture *fixture = *state;
    struct pci_bus *pci = &fixture->pci;
    struct found_capabilities found = walk_capabilities(pci);
    for (int type = 1; type <= 5; type++)
        assert_int_equal(found.vendor_count[type], 1);
    check_vendor_capability(pci, found.vendor_at[1], 16, 0x38); /* common */
    check_vendor_capability(pci, found.vendor_at[2], 20, FAKE_QUEUES * 4); /* notify */
    check_vendor_capability(pci, found.vendor_at[3], 16, 1);               /* ISR */
    check_vendor_capability(pci, found.vendor_at[4], 16, FAKE_CONFIG_SIZE); /* device */
    assert_int_equal(config_read(pci, found.vendor_at[4] + 12, 4), FAKE_CONFIG_SIZE);
    /* Linux maps each queue's notify address as offset + notify_off * multiplier. */
    uint32_t multiplier = config_read(pci, found.vendor_at[2] + 16, 4);
    assert_int_equal(multiplier, VIRTIO_PCI_NOTIFY_MULTIPLIER);
    uint32_t notify_offset = config_read(pci, found.vendor_at[2] + 8, 4);
    uint32_t notify_length = config_read(pci, found.vendor_at[2] + 12, 4);
    for (unsigned queue = 0; queue < FAKE_QUEUES; queue++) {
        bar_write(fixture, QUEUE_SELECT, queue, 2);
        uint64_t notify_off = bar_read(fixture, QUEUE_NOTIFY_OFF, 2);
        assert_true(notify_off * multiplier + 2 <= notify_length);
        assert_true(notify_offset + notify_off * multiplier < VIRTIO_PCI_MSIX_TABLE_OFFSET);
    }
    /* The common config the capability names is where the registers are. */
    uint32_t common = config_read(pci, found.vendor_at[1] + 8, 4);
    assert_int_equal(bar_read(fixture, common + NUM_QUEUES, 2), FAKE_QUEUES);
    /* The PCI_CFG window capability is 20 bytes: the header and the data. */
    assert_int_equal(config_read(pci, found.vendor_at[5] + 2, 1), 20);

    /* MSI-X: one vector per queue and one for configuration changes. */
    assert_int_not_equal(found.msix_at, 0);
    uint16_t control = (uint16_t)config_read(pci, found.msix_at + 2, 2);
    assert_int_equal(control & 0x7ff, FAKE_QUEUES + 1 - 1);
    assert_int_equal(control & 0xc000, 0); /* disabled, not masked, at reset */
    uint32_t table = config_read(pci, found.msix_at + 4, 4);
    uint32_t pba = config_read(pci, found.msix_at + 8, 4);
    assert_int_equal(table & 7, 0); /* BIR: BAR 0 */
    assert_int_equal(pba & 7, 0);
    assert_int_equal(table & ~7u, VIRTIO_PCI_MSIX_TABLE_OFFSET);
    assert_int_equal(pba & ~7u, VIRTIO_PCI_MSIX_PBA_OFFSET);
    assert_true((table & ~7u) + 16 * (FAKE_QUEUES + 1) <= (pba & ~7u));
    assert_true((pba & ~7u) + 8 <= VIRTIO_PCI_BAR_SIZE);
    /* The capability bytes themselves are read-only, apart from MSI-X control. */
    config_write(pci, found.vendor_at[1] + 8, 0x1234, 4);
    assert_int_equal(config_read(pci, found.vendor_at[1] + 8, 4), common);
    config_write(pci, found.msix_at + 4, 0xffffffff, 4);
    assert_int_equal(config_read(pci, found.msix_at + 4, 4), table);
    config_write(pci, found.msix_at + 2, 0xffff, 2);
    assert_int_equal(config_read(pci, found.msix_at + 2, 2), (control & 0x7ff) | 0xc000);
}

static void test_rng_capabilities(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct virtio_rng *rng = calloc(1, sizeof(*rng));
    struct virtio_pci *transport = calloc(1, sizeof(*transport));
    assert_non_null(rng);
    assert_non_null(transport);
    assert_int_equal(virtio_rng_init(rng, &fixture->memory, &error), 0);
    struct pci_bus pci;
    assert_int_equal(pci_bus_init(&pci, NULL, NULL, &error), 0);
    assert_int_equal(virtio_pci_create(transport, &rng->device, &pci, NULL, &error), 0);
    assert_int_equal(config_read(&pci, 0x02, 2), 0x1044);
    assert_int_equal(config_read(&pci, 0x09, 3), 0x00ff00);
    struct found_capabilities found = walk_capabilities(&pci);
    /* No device-specific configuration, so no capability for one. */
    assert_int_equal(found.vendor_count[4], 0);
    assert_int_equal(found.vendor_count[1], 1);
    assert_int_equal(found.vendor_count[2], 1);
    assert_int_equal(found.vendor_count[3], 1);
    assert_int_equal(found.vendor_count[5], 1);
    assert_int_not_equal(found.msix_at, 0);
    assert_int_equal(config_read(&pci, found.msix_at + 2, 2) & 0x7ff, 1); /* 2 vectors */
    virtio_pci_destroy(transport);
    virtio_device_destroy(&rng->device);
    pci_bus_destroy(&pci);
    free(transport);
    free(rng);
}

/* The display and input devices say what they are: PCI device id 0x1040 +
 * the virtio id, and a class code Linux and lspci know. */
static void expect_identity(struct virtio_device *device, uint16_t device_id, uint32_t class_code,
                            uint32_t config_size)
{
    struct error error;
    struct virtio_pci *transport = calloc(1, sizeof(*transport));
    assert_non_null(transport);
    struct pci_bus pci;
    assert_int_equal(pci_bus_init(&pci, NULL, NULL, &error), 0);
    assert_int_equal(virtio_pci_create(transport, device, &pci, NULL, &error), 0);
    assert_int_equal(config_read(&pci, 0x02, 2), device_id);
    assert_int_equal(config_read(&pci, 0x09, 3), class_code);
    struct found_capabilities found = walk_capabilities(&pci);
    assert_int_equal(found.vendor_count[4], 1); /* device config */
    check_vendor_capability(&pci, found.vendor_at[4], 16, config_size);
    assert_int_equal(config_read(&pci, found.msix_at + 2, 2) & 0x7ff, 2); /* 3 vectors */
    virtio_pci_destroy(transport);
    pci_bus_destroy(&pci);
    free(transport);
}

static void test_gpu_and_input_identity(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct virtio_gpu *gpu = calloc(1, sizeof(*gpu));
    struct virtio_input *input = calloc(1, sizeof(*input));
    assert_non_null(gpu);
    assert_non_null(input);
    assert_int_equal(virtio_gpu_init(gpu, &fixture->memory, 0, 0, NULL, &error), 0);
    expect_identity(&gpu->device, 0x1050, 0x038000, VIRTIO_GPU_CONFIG_SIZE);
    virtio_gpu_destroy(gpu);
    assert_int_equal(
        virtio_input_init(input, VIRTIO_INPUT_KEYBOARD, &fixture->memory, 0, 0, &error), 0);
    expect_identity(&input->device, 0x1052, 0x098000, VIRTIO_INPUT_CONFIG_SIZE);
    virtio_input_destroy(input);
    free(input);
    free(gpu);
}

/* --- feature negotiation ----------------------------------------------------- */

static void test_device_features(void **state)
{
    struct fixture *fixture = *state;
    uint64_t expected = FAKE_FEATURE_LOW | FAKE_FEATURE_HIGH | VIRTIO_F_VERSION_1 |
                        VIRTIO_F_EVENT_IDX | VIRTIO_F_INDIRECT_DESC;
    assert_int_equal(offered_features(fixture), expected);
    assert_int_equal(bar_read(fixture, DEVICE_FEATURE_SELECT, 4), 1);
    /* Beyond the 64 bits we have: zeros. */
    bar_write(fixture, DEVICE_FEATURE_SELECT, 2, 4);
    assert_int_equal(bar_read(fixture, DEVICE_FEATURE, 4), 0);
    bar_write(fixture, DEVICE_FEATURE_SELECT, 0xffffffff, 4);
    assert_int_equal(bar_read(fixture, DEVICE_FEATURE, 4), 0);
    /* The feature word itself is read-only. */
    bar_write(fixture, DEVICE_FEATURE_SELECT, 0, 4);
    bar_write(fixture, DEVICE_FEATURE, 0xffffffff, 4);
    assert_int_equal(bar_read(fixture, DEVICE_FEATURE, 4), (uint32_t)expected);
    /* Narrow reads see the right bytes: bit 29 (EVENT_IDX) is in byte 3. */
    assert_int_equal(bar_read(fixture, DEVICE_FEATURE + 3, 1), (uint8_t)(expected >> 24));
}

static void test_feature_negotiation(void **state)
{
    struct fixture *fixture = *state;
    uint64_t wanted = VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX | FAKE_FEATURE_HIGH;
    set_status(fixture, 0);
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE);
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    accept_features(fixture, wanted);
    set_status(fixture, STATUS_DRIVER_READY);
    assert_int_equal(status(fixture), STATUS_DRIVER_READY);
    assert_int_equal(fixture->device.driver_features, wanted);
    bar_write(fixture, DRIVER_FEATURE_SELECT, 0, 4);
    assert_int_equal(bar_read(fixture, DRIVER_FEATURE, 4), (uint32_t)wanted);
    bar_write(fixture, DRIVER_FEATURE_SELECT, 1, 4);
    assert_int_equal(bar_read(fixture, DRIVER_FEATURE, 4), (uint32_t)(wanted >> 32));
    /* After FEATURES_OK the set is fixed. */
    accept_features(fixture, VIRTIO_F_VERSION_1);
    assert_int_equal(fixture->device.driver_features, wanted);
    set_status(fixture, STATUS_DRIVER_READY | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(fixture->driver_oks, 1);
    assert_int_equal(status(fixture), STATUS_DRIVER_READY | VIRTIO_STATUS_DRIVER_OK);
}

static void test_feature_not_offered(void **state)
{
    struct fixture *fixture = *state;
    static const uint64_t refused[] = {
        VIRTIO_F_VERSION_1 | (1ull << 3),  /* a bit we do not offer */
        VIRTIO_F_VERSION_1 | (1ull << 63), /* one in the high word */
        VIRTIO_F_EVENT_IDX,                /* a legacy driver: no VERSION_1 */
        0,
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        set_status(fixture, 0);
        set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
        accept_features(fixture, refused[i]);
        set_status(fixture, STATUS_DRIVER_READY);
        /* FEATURES_OK does not stick: the driver reads it back and gives up. */
        assert_int_equal(status(fixture), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    }
    /* Selects beyond the second word do not change anything. */
    set_status(fixture, 0);
    accept_features(fixture, VIRTIO_F_VERSION_1);
    bar_write(fixture, DRIVER_FEATURE_SELECT, 2, 4);
    bar_write(fixture, DRIVER_FEATURE, 0xffffffff, 4);
    assert_int_equal(bar_read(fixture, DRIVER_FEATURE, 4), 0);
    assert_int_equal(fixture->device.driver_features, VIRTIO_F_VERSION_1);
    /* NEEDS_RESET is the device's to set, never the driver's. */
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(status(fixture), VIRTIO_STATUS_ACKNOWLEDGE);
}

/* --- queues ------------------------------------------------------------------ */

static void test_queue_registers(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(bar_read(fixture, NUM_QUEUES, 2), FAKE_QUEUES);
    for (unsigned queue = 0; queue < FAKE_QUEUES; queue++) {
        bar_write(fixture, QUEUE_SELECT, queue, 2);
        assert_int_equal(bar_read(fixture, QUEUE_SELECT, 2), queue);
        assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), FAKE_QUEUE_MAX);
        assert_int_equal(bar_read(fixture, QUEUE_ENABLE, 2), 0);
        assert_int_equal(bar_read(fixture, QUEUE_NOTIFY_OFF, 2), queue);
        assert_int_equal(bar_read(fixture, QUEUE_MSIX_VECTOR, 2), VIRTIO_NO_VECTOR);
        assert_int_equal(bar_read(fixture, QUEUE_DESC, 8), 0);
    }
    /* A queue that does not exist has size 0, and writes to it go nowhere. */
    bar_write(fixture, QUEUE_SELECT, FAKE_QUEUES, 2);
    assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), 0);
    bar_write(fixture, QUEUE_SIZE, 4, 2);
    write64_halves(fixture, QUEUE_DESC, 0x1000);
    bar_write(fixture, QUEUE_MSIX_VECTOR, 0, 2);
    bar_write(fixture, QUEUE_ENABLE, 1, 2);
    assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), 0);
    assert_int_equal(bar_read(fixture, QUEUE_DESC, 8), 0);
    assert_int_equal(bar_read(fixture, QUEUE_ENABLE, 2), 0);
    bar_write(fixture, QUEUE_SELECT, 0xffff, 2);
    bar_write(fixture, QUEUE_ENABLE, 1, 2);
    assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), 0);
    for (unsigned queue = 0; queue < VIRTIO_MAX_QUEUES; queue++)
        assert_false(fixture->device.queues[queue].started);
}

static void test_queue_addresses_in_halves(void **state)
{
    struct fixture *fixture = *state;
    bar_write(fixture, QUEUE_SELECT, 1, 2);
    /* Linux's vp_iowrite64_twopart: low half, then high half. */
    write64_halves(fixture, QUEUE_DESC, 0x0000000123456000ull);
    write64_halves(fixture, QUEUE_DRIVER, 0xfedcba9876543210ull);
    write64_halves(fixture, QUEUE_DEVICE, 0x0000000800000004ull);
    assert_int_equal(bar_read(fixture, QUEUE_DESC, 4), 0x23456000);
    assert_int_equal(bar_read(fixture, QUEUE_DESC + 4, 4), 0x1);
    assert_int_equal(bar_read(fixture, QUEUE_DESC, 8), 0x0000000123456000ull);
    assert_int_equal(bar_read(fixture, QUEUE_DRIVER, 8), 0xfedcba9876543210ull);
    assert_int_equal(bar_read(fixture, QUEUE_DEVICE, 8), 0x0000000800000004ull);
    assert_int_equal(fixture->device.queues[1].desc_address, 0x0000000123456000ull);
    /* Each half alone leaves the other half as it was. */
    bar_write(fixture, QUEUE_DESC + 4, 0, 4);
    assert_int_equal(bar_read(fixture, QUEUE_DESC, 8), 0x23456000);
    bar_write(fixture, QUEUE_DRIVER, 0, 4);
    assert_int_equal(bar_read(fixture, QUEUE_DRIVER, 8), 0xfedcba9800000000ull);
    /* One 64-bit access works as well, and 16-bit pieces. */
    bar_write(fixture, QUEUE_DEVICE, 0x1122334455667788ull, 8);
    assert_int_equal(bar_read(fixture, QUEUE_DEVICE, 8), 0x1122334455667788ull);
    bar_write(fixture, QUEUE_DEVICE + 2, 0xabcd, 2);
    assert_int_equal(bar_read(fixture, QUEUE_DEVICE, 8), 0x11223344abcd7788ull);
    /* Queue 0 did not see any of it. */
    bar_write(fixture, QUEUE_SELECT, 0, 2);
    assert_int_equal(bar_read(fixture, QUEUE_DESC, 8), 0);
    assert_int_equal(bar_read(fixture, QUEUE_DRIVER, 8), 0);
}

static void test_queue_size_rules(void **state)
{
    struct fixture *fixture = *state;
    bar_write(fixture, QUEUE_SELECT, 0, 2);
    static const uint16_t refused[] = {0, 3, 12, FAKE_QUEUE_MAX + 1, 2 * FAKE_QUEUE_MAX,
                                       0x8000, 0xffff};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        bar_write(fixture, QUEUE_SIZE, refused[i], 2);
        assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), FAKE_QUEUE_MAX);
    }
    static const uint16_t accepted[] = {1, 2, 8, FAKE_QUEUE_MAX, 4};
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        bar_write(fixture, QUEUE_SIZE, accepted[i], 2);
        assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), accepted[i]);
    }
    bar_write(fixture, QUEUE_SIZE, 12, 2);
    assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), 4);
    assert_int_equal(fixture->device.queues[0].size, 4);
}

/* Points queue at rings in its own 16 KiB slice of the test layout. */
static void setup_queue(struct fixture *fixture, unsigned queue, uint16_t size)
{
    uint64_t slice = 0x4000ull * queue;
    bar_write(fixture, QUEUE_SELECT, queue, 2);
    bar_write(fixture, QUEUE_SIZE, size, 2);
    write64_halves(fixture, QUEUE_DESC, DESC_TABLE + slice);
    write64_halves(fixture, QUEUE_DRIVER, AVAIL_RING + slice);
    write64_halves(fixture, QUEUE_DEVICE, USED_RING + slice);
}

static void test_queue_enable(void **state)
{
    struct fixture *fixture = *state;
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    accept_features(fixture, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC);
    set_status(fixture, STATUS_DRIVER_READY);
    setup_queue(fixture, 0, 8);
    bar_write(fixture, QUEUE_ENABLE, 1, 2);
    assert_int_equal(bar_read(fixture, QUEUE_ENABLE, 2), 1);
    const struct virtq *queue = &fixture->device.queues[0];
    assert_true(queue->started);
    assert_int_equal(queue->size, 8);
    assert_true(queue->indirect);
    assert_false(queue->event_idx);
    assert_ptr_equal((void *)queue->desc, fixture->host + DESC_TABLE);
    assert_ptr_equal((void *)queue->avail, fixture->host + AVAIL_RING);
    assert_ptr_equal((void *)queue->used, fixture->host + USED_RING);
    /* An enabled queue's geometry is fixed. */
    bar_write(fixture, QUEUE_SIZE, 4, 2);
    write64_halves(fixture, QUEUE_DESC, 0x8000);
    bar_write(fixture, QUEUE_ENABLE, 0, 2);
    assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), 8);
    assert_int_equal(bar_read(fixture, QUEUE_DESC, 8), DESC_TABLE);
    assert_int_equal(bar_read(fixture, QUEUE_ENABLE, 2), 1);

    /* A queue enabled without a size write gets the largest size. */
    bar_write(fixture, QUEUE_SELECT, 1, 2);
    write64_halves(fixture, QUEUE_DESC, DESC_TABLE + 0x4000);
    write64_halves(fixture, QUEUE_DRIVER, AVAIL_RING + 0x4000);
    write64_halves(fixture, QUEUE_DEVICE, USED_RING + 0x4000);
    bar_write(fixture, QUEUE_ENABLE, 1, 2);
    assert_int_equal(bar_read(fixture, QUEUE_ENABLE, 2), 1);
    assert_int_equal(fixture->device.queues[1].size, FAKE_QUEUE_MAX);

    /* After DRIVER_OK nothing about queues changes any more. */
    set_status(fixture, STATUS_DRIVER_READY | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(fixture->driver_oks, 1);
    assert_int_equal(status(fixture) & VIRTIO_STATUS_NEEDS_RESET, 0);
    /* DRIVER_OK kicks every started queue once, for chains made available early. */
    assert_int_equal(eventfd_count(fixture->device.notify_fd[0]), 1);
    assert_int_equal(eventfd_count(fixture->device.notify_fd[1]), 1);
}

static void test_queue_settable_only_before_driver_ok(void **state)
{
    struct fixture *fixture = *state;
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    accept_features(fixture, VIRTIO_F_VERSION_1);
    set_status(fixture, STATUS_DRIVER_READY | VIRTIO_STATUS_DRIVER_OK);
    bar_write(fixture, QUEUE_SELECT, 1, 2);
    bar_write(fixture, QUEUE_SIZE, 4, 2);
    write64_halves(fixture, QUEUE_DESC, DESC_TABLE);
    assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), FAKE_QUEUE_MAX);
    assert_int_equal(bar_read(fixture, QUEUE_DESC, 8), 0);
}

static void test_queue_rings_outside_memory(void **state)
{
    struct fixture *fixture = *state;
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    accept_features(fixture, VIRTIO_F_VERSION_1);
    set_status(fixture, STATUS_DRIVER_READY);
    setup_queue(fixture, 0, 8);
    write64_halves(fixture, QUEUE_DEVICE, 0x100000000ull + USED_RING); /* above RAM */
    bar_write(fixture, QUEUE_ENABLE, 1, 2);
    assert_int_equal(bar_read(fixture, QUEUE_ENABLE, 2), 0);
    assert_true(status(fixture) & VIRTIO_STATUS_NEEDS_RESET);
    /* The driver's own bits survive; writing status does not clear NEEDS_RESET. */
    set_status(fixture, STATUS_DRIVER_READY | VIRTIO_STATUS_DRIVER_OK);
    assert_true(status(fixture) & VIRTIO_STATUS_NEEDS_RESET);
    /* Only a reset does. */
    set_status(fixture, 0);
    assert_int_equal(status(fixture), 0);

    /* Misaligned rings are refused the same way. */
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE);
    setup_queue(fixture, 1, 8);
    write64_halves(fixture, QUEUE_DESC, DESC_TABLE + 0x4008);
    bar_write(fixture, QUEUE_ENABLE, 1, 2);
    assert_int_equal(bar_read(fixture, QUEUE_ENABLE, 2), 0);
    assert_true(status(fixture) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_reset(void **state)
{
    struct fixture *fixture = *state;
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    accept_features(fixture, VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX);
    set_status(fixture, STATUS_DRIVER_READY);
    bar_write(fixture, CONFIG_MSIX_VECTOR, 0, 2);
    setup_queue(fixture, 0, 8);
    bar_write(fixture, QUEUE_MSIX_VECTOR, 1, 2);
    bar_write(fixture, QUEUE_ENABLE, 1, 2);
    setup_queue(fixture, 1, 4);
    set_status(fixture, STATUS_DRIVER_READY | VIRTIO_STATUS_DRIVER_OK);
    fixture->device.interrupt(fixture->device.transport, 0, true); /* sets the ISR */
    assert_int_equal(fixture->resets, 0);

    set_status(fixture, 0);
    assert_int_equal(fixture->resets, 1);
    assert_int_equal(status(fixture), 0);
    assert_int_equal(fixture->device.driver_features, 0);
    for (uint32_t select = 0; select < 2; select++) {
        bar_write(fixture, DRIVER_FEATURE_SELECT, select, 4);
        assert_int_equal(bar_read(fixture, DRIVER_FEATURE, 4), 0);
    }
    assert_int_equal(bar_read(fixture, CONFIG_MSIX_VECTOR, 2), VIRTIO_NO_VECTOR);
    for (unsigned queue = 0; queue < FAKE_QUEUES; queue++) {
        bar_write(fixture, QUEUE_SELECT, queue, 2);
        assert_int_equal(bar_read(fixture, QUEUE_SIZE, 2), FAKE_QUEUE_MAX);
        assert_int_equal(bar_read(fixture, QUEUE_ENABLE, 2), 0);
        assert_int_equal(bar_read(fixture, QUEUE_MSIX_VECTOR, 2), VIRTIO_NO_VECTOR);
        assert_int_equal(bar_read(fixture, QUEUE_DESC, 8), 0);
        assert_int_equal(bar_read(fixture, QUEUE_DRIVER, 8), 0);
        assert_int_equal(bar_read(fixture, QUEUE_DEVICE, 8), 0);
        assert_false(fixture->device.queues[queue].started);
    }
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_ISR_OFFSET, 1), 0);
    /* And the device comes up again as new. */
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    accept_features(fixture, VIRTIO_F_VERSION_1);
    set_status(fixture, STATUS_DRIVER_READY);
    assert_int_equal(status(fixture), STATUS_DRIVER_READY);
}

/* --- everything else in BAR 0 ---------------------------------------------- */

static void test_unknown_offsets_read_zero(void **state)
{
    struct fixture *fixture = *state;
    static const unsigned lengths[] = {1, 2, 4, 8};
    static const uint64_t offsets[] = {
        VIRTIO_PCI_COMMON_SIZE,          0x100,  0xffc, /* after the common config */
        VIRTIO_PCI_COMMON_SIZE - 2,                     /* crosses its end */
        VIRTIO_PCI_ISR_OFFSET + 1,       0x1800, 0x1ffc,
        VIRTIO_PCI_DEVICE_OFFSET + FAKE_CONFIG_SIZE, 0x2ff8,
        VIRTIO_PCI_NOTIFY_OFFSET,        0x3ff8, /* notify: write-only */
        VIRTIO_PCI_MSIX_TABLE_OFFSET + 16 * (FAKE_QUEUES + 1), 0x4ff8,
        VIRTIO_PCI_MSIX_PBA_OFFSET + 8,  0x6000, 0x7ff8,
    };
    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
        for (size_t j = 0; j < 4; j++)
            assert_int_equal(bar_read(fixture, offsets[i], lengths[j]), 0);
    /* Device config: a read crossing its end gets nothing. */
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_DEVICE_OFFSET + FAKE_CONFIG_SIZE - 2, 4), 0);
    /* Far beyond the BAR, and other BARs. */
    assert_int_equal(bar_read(fixture, 0xffffffffull, 1), 0);
    uint64_t value = 0x1234;
    virtio_pci_bar_read(&fixture->transport.function, 1, 0, &value, 8);
    assert_int_equal(value, 0);
    /* Writes there are harmless. */
    for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
        bar_write(fixture, offsets[i], 0xffffffffffffffffull, 8);
    virtio_pci_bar_write(&fixture->transport.function, 3, 0, &value, 8);
    assert_int_equal(status(fixture), 0);
    assert_int_equal(fixture->config_writes, 0);
}

static void test_read_only_common_fields(void **state)
{
    struct fixture *fixture = *state;
    bar_write(fixture, NUM_QUEUES, 0x55, 2);
    bar_write(fixture, CONFIG_GENERATION, 0x55, 1);
    bar_write(fixture, QUEUE_NOTIFY_OFF, 0x55, 2);
    assert_int_equal(bar_read(fixture, NUM_QUEUES, 2), FAKE_QUEUES);
    assert_int_equal(bar_read(fixture, CONFIG_GENERATION, 1), 0);
    assert_int_equal(bar_read(fixture, QUEUE_NOTIFY_OFF, 2), 0);
    /* A wide write over read-only and writable fields writes the writable
     * ones: config vector 1, num_queues 0 (ignored), status unchanged,
     * generation 0x55 (ignored), queue select 1. */
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE);
    bar_write(fixture, CONFIG_MSIX_VECTOR, 0x0001550100000001ull, 8);
    assert_int_equal(bar_read(fixture, CONFIG_MSIX_VECTOR, 2), 1);
    assert_int_equal(bar_read(fixture, NUM_QUEUES, 2), FAKE_QUEUES);
    assert_int_equal(status(fixture), VIRTIO_STATUS_ACKNOWLEDGE);
    assert_int_equal(bar_read(fixture, CONFIG_GENERATION, 1), 0);
    assert_int_equal(bar_read(fixture, QUEUE_SELECT, 2), 1);
    assert_int_equal(fixture->resets, 0);
}

static void test_device_config_space(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_DEVICE_OFFSET, 8), 0x0807060504030201ull);
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_DEVICE_OFFSET + 6, 2), 0x0807);
    bar_write(fixture, VIRTIO_PCI_DEVICE_OFFSET + 4, 0xaabbccdd, 4);
    assert_int_equal(fixture->config_writes, 1);
    assert_int_equal(fixture->last_config_offset, 4);
    assert_int_equal(fixture->last_config_length, 4);
    assert_memory_equal(fixture->last_config_data, "\xdd\xcc\xbb\xaa", 4);
    /* Past the config's end the device never hears of it. */
    bar_write(fixture, VIRTIO_PCI_DEVICE_OFFSET + 6, 0, 4);
    bar_write(fixture, VIRTIO_PCI_DEVICE_OFFSET + FAKE_CONFIG_SIZE, 0, 1);
    bar_write(fixture, VIRTIO_PCI_DEVICE_OFFSET + 0xfff, 0, 1);
    assert_int_equal(fixture->config_writes, 1);
}

static void test_notify_signals_queue(void **state)
{
    struct fixture *fixture = *state;
    bar_write(fixture, VIRTIO_PCI_NOTIFY_OFFSET + VIRTIO_PCI_NOTIFY_MULTIPLIER * 1, 1, 2);
    assert_int_equal(eventfd_count(fixture->device.notify_fd[0]), 0);
    assert_int_equal(eventfd_count(fixture->device.notify_fd[1]), 1);
    bar_write(fixture, VIRTIO_PCI_NOTIFY_OFFSET, 0, 2);
    bar_write(fixture, VIRTIO_PCI_NOTIFY_OFFSET, 0, 4);
    assert_int_equal(eventfd_count(fixture->device.notify_fd[0]), 2);
    /* Queues that do not exist: nothing, and no crash. */
    bar_write(fixture, VIRTIO_PCI_NOTIFY_OFFSET + VIRTIO_PCI_NOTIFY_MULTIPLIER * FAKE_QUEUES, 0,
              2);
    bar_write(fixture, VIRTIO_PCI_MSIX_TABLE_OFFSET - 2, 0, 2);
    assert_int_equal(eventfd_count(fixture->device.notify_fd[0]), 0);
    assert_int_equal(eventfd_count(fixture->device.notify_fd[1]), 0);
}

/* --- MSI-X and the ISR --------------------------------------------------------- */

static void test_msix_table(void **state)
{
    struct fixture *fixture = *state;
    uint64_t table = VIRTIO_PCI_MSIX_TABLE_OFFSET;
    /* Every entry starts masked. */
    for (unsigned vector = 0; vector <= FAKE_QUEUES; vector++)
        assert_int_equal(bar_read(fixture, table + 16 * vector + 12, 4), 1);
    bar_write(fixture, table + 0, 0xfee00000, 4);
    bar_write(fixture, table + 4, 0x00000001, 4);
    bar_write(fixture, table + 8, 0x4041, 4);
    bar_write(fixture, table + 12, 0, 4);
    assert_int_equal(bar_read(fixture, table + 0, 8), 0x00000001fee00000ull);
    assert_int_equal(bar_read(fixture, table + 8, 4), 0x4041);
    assert_int_equal(bar_read(fixture, table + 12, 4), 0);
    assert_int_equal(fixture->transport.msix_table[0].address_lo, 0xfee00000);
    /* 8-byte accesses: address, then data and control together. */
    bar_write(fixture, table + 16, 0x00000000fee01000ull, 8);
    bar_write(fixture, table + 24, 0x0000000100004142ull, 8);
    assert_int_equal(bar_read(fixture, table + 16, 8), 0xfee01000);
    assert_int_equal(bar_read(fixture, table + 24, 4), 0x4142);
    assert_int_equal(bar_read(fixture, table + 28, 4), 1);
    /* Narrow or misaligned writes are dropped. */
    bar_write(fixture, table + 32, 0xffff, 2);
    bar_write(fixture, table + 33, 0xffffffff, 4);
    bar_write(fixture, table + 36, 0xffffffffffffffffull, 8);
    assert_int_equal(bar_read(fixture, table + 32, 8), 0);
    assert_int_equal(bar_read(fixture, table + 40, 8), 0x0000000100000000ull);
    /* Past the last vector: nothing stored, zeros read. */
    uint64_t beyond = table + 16 * (FAKE_QUEUES + 1);
    bar_write(fixture, beyond, 0x12345678, 4);
    bar_write(fixture, beyond + 12, 0, 4);
    assert_int_equal(bar_read(fixture, beyond, 4), 0);
    assert_int_equal(bar_read(fixture, beyond + 12, 4), 0);
    assert_int_equal(bar_read(fixture, table + 16 * FAKE_QUEUES + 12, 8), 0); /* crosses the end */
}

static void test_vector_numbers(void **state)
{
    struct fixture *fixture = *state;
    bar_write(fixture, CONFIG_MSIX_VECTOR, FAKE_QUEUES, 2); /* the last one */
    assert_int_equal(bar_read(fixture, CONFIG_MSIX_VECTOR, 2), FAKE_QUEUES);
    /* One we do not have reads back as NO_VECTOR: the driver's cue (4.1.5.1.2). */
    bar_write(fixture, CONFIG_MSIX_VECTOR, FAKE_QUEUES + 1, 2);
    assert_int_equal(bar_read(fixture, CONFIG_MSIX_VECTOR, 2), VIRTIO_NO_VECTOR);
    bar_write(fixture, CONFIG_MSIX_VECTOR, 0x7ff, 2);
    assert_int_equal(bar_read(fixture, CONFIG_MSIX_VECTOR, 2), VIRTIO_NO_VECTOR);
    bar_write(fixture, CONFIG_MSIX_VECTOR, 0, 2);
    assert_int_equal(bar_read(fixture, CONFIG_MSIX_VECTOR, 2), 0);
    bar_write(fixture, CONFIG_MSIX_VECTOR, VIRTIO_NO_VECTOR, 2);
    assert_int_equal(bar_read(fixture, CONFIG_MSIX_VECTOR, 2), VIRTIO_NO_VECTOR);

    for (unsigned queue = 0; queue < FAKE_QUEUES; queue++) {
        bar_write(fixture, QUEUE_SELECT, queue, 2);
        bar_write(fixture, QUEUE_MSIX_VECTOR, queue + 1, 2);
        assert_int_equal(bar_read(fixture, QUEUE_MSIX_VECTOR, 2), queue + 1);
        assert_int_equal(fixture->device.queue_vector[queue], queue + 1);
    }
    bar_write(fixture, QUEUE_SELECT, 0, 2);
    bar_write(fixture, QUEUE_MSIX_VECTOR, FAKE_QUEUES + 1, 2);
    assert_int_equal(bar_read(fixture, QUEUE_MSIX_VECTOR, 2), VIRTIO_NO_VECTOR);
    bar_write(fixture, QUEUE_SELECT, 1, 2);
    assert_int_equal(bar_read(fixture, QUEUE_MSIX_VECTOR, 2), 2);
}

/* Gives every vector an eventfd so the test sees what fires. */
static void attach_vector_eventfds(struct fixture *fixture)
{
    for (unsigned vector = 0; vector <= FAKE_QUEUES; vector++) {
        fixture->transport.vector_fd[vector] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        assert_true(fixture->transport.vector_fd[vector] >= 0);
    }
}

static void set_msix_control(struct fixture *fixture, uint16_t control)
{
    unsigned msix = fixture->transport.msix_capability;
    uint16_t value = (uint16_t)(config_read(&fixture->pci, msix + 2, 2) & 0x7ff) | control;
    config_write(&fixture->pci, msix + 2, value, 2);
}

static uint64_t pending_bits(struct fixture *fixture)
{
    return bar_read(fixture, VIRTIO_PCI_MSIX_PBA_OFFSET, 8);
}

static void test_interrupts_msix_and_isr(void **state)
{
    struct fixture *fixture = *state;
    attach_vector_eventfds(fixture);
    int *fds = fixture->transport.vector_fd;
    struct virtio_device *device = &fixture->device;

    /* MSI-X off: only the ISR records it (we have no INTx). */
    device->interrupt(device->transport, 0, false);
    assert_int_equal(eventfd_count(fds[0]), 0);
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_ISR_OFFSET, 1), 1);
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_ISR_OFFSET, 1), 0); /* read clears it */
    device->interrupt(device->transport, 0, true);
    device->interrupt(device->transport, 1, false);
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_ISR_OFFSET, 4), 3);
    assert_int_equal(pending_bits(fixture), 0);

    /* Enabled, entry masked: pending until the driver unmasks it. */
    set_msix_control(fixture, 0x8000);
    device->interrupt(device->transport, 1, false);
    assert_int_equal(eventfd_count(fds[1]), 0);
    assert_int_equal(pending_bits(fixture), 1u << 1);
    bar_write(fixture, VIRTIO_PCI_MSIX_TABLE_OFFSET + 16 + 12, 0, 4);
    assert_int_equal(eventfd_count(fds[1]), 1);
    assert_int_equal(pending_bits(fixture), 0);
    /* Unmasked: straight through. */
    device->interrupt(device->transport, 1, false);
    device->interrupt(device->transport, 1, false);
    assert_int_equal(eventfd_count(fds[1]), 2);
    assert_int_equal(eventfd_count(fds[0]), 0);

    /* The function mask holds everything back; clearing it delivers. */
    set_msix_control(fixture, 0xc000);
    device->interrupt(device->transport, 1, false);
    assert_int_equal(eventfd_count(fds[1]), 0);
    assert_int_equal(pending_bits(fixture), 1u << 1);
    set_msix_control(fixture, 0x8000);
    assert_int_equal(eventfd_count(fds[1]), 1);
    assert_int_equal(pending_bits(fixture), 0);

    /* No vector, or one we do not have: nothing fires. */
    device->interrupt(device->transport, VIRTIO_NO_VECTOR, true);
    device->interrupt(device->transport, FAKE_QUEUES + 1, false);
    for (unsigned vector = 0; vector <= FAKE_QUEUES; vector++)
        assert_int_equal(eventfd_count(fds[vector]), 0);
    assert_int_equal(pending_bits(fixture), 0);

    /* Pending survives MSI-X being switched off, and fires when it is back. */
    bar_write(fixture, VIRTIO_PCI_MSIX_TABLE_OFFSET + 12, 1, 4); /* mask vector 0 */
    device->interrupt(device->transport, 0, true);
    assert_int_equal(pending_bits(fixture), 1);
    set_msix_control(fixture, 0);
    bar_write(fixture, VIRTIO_PCI_MSIX_TABLE_OFFSET + 12, 0, 4);
    assert_int_equal(eventfd_count(fds[0]), 0);
    set_msix_control(fixture, 0x8000);
    assert_int_equal(eventfd_count(fds[0]), 1);
}

static void test_queue_interrupt_uses_its_vector(void **state)
{
    struct fixture *fixture = *state;
    attach_vector_eventfds(fixture);
    set_msix_control(fixture, 0x8000);
    for (unsigned vector = 0; vector <= FAKE_QUEUES; vector++)
        bar_write(fixture, VIRTIO_PCI_MSIX_TABLE_OFFSET + 16 * vector + 12, 0, 4);
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    accept_features(fixture, VIRTIO_F_VERSION_1);
    set_status(fixture, STATUS_DRIVER_READY);
    bar_write(fixture, CONFIG_MSIX_VECTOR, 0, 2);
    setup_queue(fixture, 1, 8);
    bar_write(fixture, QUEUE_MSIX_VECTOR, 2, 2);
    bar_write(fixture, QUEUE_ENABLE, 1, 2);
    set_status(fixture, STATUS_DRIVER_READY | VIRTIO_STATUS_DRIVER_OK);

    virtio_device_interrupt_queue(&fixture->device, 1);
    assert_int_equal(eventfd_count(fixture->transport.vector_fd[2]), 1);
    virtio_device_config_changed(&fixture->device);
    assert_int_equal(eventfd_count(fixture->transport.vector_fd[0]), 1);
    assert_int_equal(bar_read(fixture, CONFIG_GENERATION, 1), 1);
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_ISR_OFFSET, 1), 3);
}

/* --- the PCI_CFG window ------------------------------------------------------ */

static void test_pci_cfg_window(void **state)
{
    struct fixture *fixture = *state;
    struct pci_bus *pci = &fixture->pci;
    unsigned cap = walk_capabilities(pci).vendor_at[5];
    assert_int_not_equal(cap, 0);
    /* Write one byte of device_status through the window. */
    config_write(pci, cap + 4, 0, 1);
    config_write(pci, cap + 8, DEVICE_STATUS, 4);
    config_write(pci, cap + 12, 1, 4);
    config_write(pci, cap + 16, VIRTIO_STATUS_ACKNOWLEDGE, 1);
    assert_int_equal(status(fixture), VIRTIO_STATUS_ACKNOWLEDGE);
    /* Read num_queues through it. */
    config_write(pci, cap + 8, NUM_QUEUES, 4);
    config_write(pci, cap + 12, 2, 4);
    assert_int_equal(config_read(pci, cap + 16, 2), FAKE_QUEUES);
    /* And four bytes: the device feature word the select picks. */
    bar_write(fixture, DEVICE_FEATURE_SELECT, 1, 4);
    config_write(pci, cap + 8, DEVICE_FEATURE, 4);
    config_write(pci, cap + 12, 4, 4);
    assert_int_equal(config_read(pci, cap + 16, 4),
                     (uint32_t)((FAKE_FEATURE_HIGH | VIRTIO_F_VERSION_1) >> 32));
    /* Lengths other than 1, 2 and 4, or another BAR: the window is shut. */
    config_write(pci, cap + 8, DEVICE_STATUS, 4);
    config_write(pci, cap + 12, 3, 4);
    config_write(pci, cap + 16, 0, 1);
    assert_int_equal(status(fixture), VIRTIO_STATUS_ACKNOWLEDGE);
    config_write(pci, cap + 12, 1, 4);
    config_write(pci, cap + 4, 2, 1);
    config_write(pci, cap + 16, 0, 1);
    assert_int_equal(status(fixture), VIRTIO_STATUS_ACKNOWLEDGE);
    /* An offset far outside the BAR reads nothing. */
    config_write(pci, cap + 4, 0, 1);
    config_write(pci, cap + 8, 0xfffffff0, 4);
    config_write(pci, cap + 12, 4, 4);
    assert_int_equal(config_read(pci, cap + 16, 4), 0);
    /* The type and length bytes of the capability stay read-only. */
    config_write(pci, cap + 2, 0xffff, 2);
    assert_int_equal(config_read(pci, cap + 2, 2), 0x0514);
}

static void test_bar_through_memory_window(void **state)
{
    struct fixture *fixture = *state;
    uint32_t bar0 = config_read(&fixture->pci, 0x10, 4);
    uint16_t value = 0;
    bus_read(&fixture->mmio, bar0 + NUM_QUEUES, &value, 2);
    assert_int_equal(value, 0xffff); /* not decoding yet */
    config_write(&fixture->pci, 0x04, 0x0006, 2);
    bus_read(&fixture->mmio, bar0 + NUM_QUEUES, &value, 2);
    assert_int_equal(value, FAKE_QUEUES);
    uint8_t acknowledge = VIRTIO_STATUS_ACKNOWLEDGE;
    bus_write(&fixture->mmio, bar0 + DEVICE_STATUS, &acknowledge, 1);
    assert_int_equal(status(fixture), VIRTIO_STATUS_ACKNOWLEDGE);
    bus_read(&fixture->mmio, bar0 + VIRTIO_PCI_DEVICE_OFFSET, &value, 2);
    assert_int_equal(value, 0x0201);
}

/* --- whole requests ---------------------------------------------------------- */

static void put_desc(uint8_t *host, unsigned index, uint64_t address, uint32_t length,
                     uint16_t flags, uint16_t next)
{
    struct virtq_desc desc = {address, length, flags, next};
    memcpy(host + DESC_TABLE + 16ull * index, &desc, sizeof(desc));
}

static void make_available(uint8_t *host, uint16_t size, uint16_t avail_idx, uint16_t head)
{
    uint16_t next_idx = (uint16_t)(avail_idx + 1);
    memcpy(host + AVAIL_RING + 4 + 2ull * (avail_idx & (size - 1)), &head, 2);
    memcpy(host + AVAIL_RING + 2, &next_idx, 2);
}

static uint16_t used_index(const uint8_t *host)
{
    uint16_t value;
    memcpy(&value, host + USED_RING + 2, 2);
    return value;
}

static void used_element(const uint8_t *host, unsigned slot, uint32_t *id, uint32_t *length)
{
    memcpy(id, host + USED_RING + 4 + 8ull * slot, 4);
    memcpy(length, host + USED_RING + 8 + 8ull * slot, 4);
}

/* The driver side of bringing a one-queue device up, as Linux orders it. */
static void driver_bring_up(struct fixture *fixture, uint64_t features, uint16_t size)
{
    set_status(fixture, 0);
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE);
    set_status(fixture, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    accept_features(fixture, features);
    set_status(fixture, STATUS_DRIVER_READY);
    assert_int_equal(status(fixture), STATUS_DRIVER_READY);
    bar_write(fixture, CONFIG_MSIX_VECTOR, 0, 2);
    setup_queue(fixture, 0, size);
    bar_write(fixture, QUEUE_MSIX_VECTOR, 1, 2);
    bar_write(fixture, QUEUE_ENABLE, 1, 2);
    set_status(fixture, STATUS_DRIVER_READY | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(status(fixture), STATUS_DRIVER_READY | VIRTIO_STATUS_DRIVER_OK);
}

/* What the device's serving thread does on a notification. */
static void serve(struct virtio_device *device)
{
    uint64_t count;
    while (read(device->notify_fd[0], &count, sizeof(count)) == sizeof(count))
        ;
    pthread_mutex_lock(&device->lock);
    device->ops->queue_notify(device, 0);
    pthread_mutex_unlock(&device->lock);
}

static void test_rng_request(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    struct virtio_rng *rng = calloc(1, sizeof(*rng));
    assert_non_null(rng);
    assert_int_equal(virtio_rng_init(rng, &fixture->memory, &error), 0);
    plug(fixture, &rng->device);
    driver_bring_up(fixture, VIRTIO_F_VERSION_1 | VIRTIO_F_EVENT_IDX, 8);
    assert_true(rng->device.queues[0].event_idx);

    uint8_t *host = fixture->host;
    put_desc(host, 0, DATA, 64, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    put_desc(host, 1, DATA + 0x100, 32, VIRTQ_DESC_F_WRITE, 0);
    put_desc(host, 2, DATA + 0x200, 16, 0, 0); /* nothing writable: 0 bytes */
    make_available(host, 8, 0, 0);
    make_available(host, 8, 1, 2);
    serve(&rng->device);
    assert_int_equal(used_index(host), 2);
    uint32_t id, length;
    used_element(host, 0, &id, &length);
    assert_int_equal(id, 0);
    assert_int_equal(length, 96);
    used_element(host, 1, &id, &length);
    assert_int_equal(id, 2);
    assert_int_equal(length, 0);
    /* 96 random bytes are not all zero (a 2^-768 chance). */
    int nonzero = 0;
    for (int i = 0; i < 64; i++)
        nonzero |= host[DATA + i] | (i < 32 ? host[DATA + 0x100 + i] : 0);
    assert_true(nonzero);
    /* With event idx, the device asks to be notified at the next avail index. */
    uint16_t avail_event;
    memcpy(&avail_event, host + USED_RING + 4 + 8 * 8, 2);
    assert_int_equal(avail_event, 2);
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_ISR_OFFSET, 1), 1);

    /* A looping chain is completed with 0 bytes and the queue carries on. */
    put_desc(host, 3, DATA, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
    put_desc(host, 4, DATA + 0x300, 8, VIRTQ_DESC_F_WRITE, 0);
    make_available(host, 8, 2, 3);
    make_available(host, 8, 3, 4);
    serve(&rng->device);
    assert_int_equal(used_index(host), 4);
    used_element(host, 2, &id, &length);
    assert_int_equal(id, 3);
    assert_int_equal(length, 0);
    used_element(host, 3, &id, &length);
    assert_int_equal(id, 4);
    assert_int_equal(length, 8);
    assert_int_equal(status(fixture) & VIRTIO_STATUS_NEEDS_RESET, 0);

    /* A head outside the table breaks the ring: NEEDS_RESET, nothing consumed. */
    make_available(host, 8, 4, 8);
    serve(&rng->device);
    assert_int_equal(used_index(host), 4);
    assert_true(status(fixture) & VIRTIO_STATUS_NEEDS_RESET);
    assert_int_equal(rng->device.config_generation, 1);
    virtio_device_destroy(&rng->device);
    free(rng);
}

static void test_blk_request(void **state)
{
    struct fixture *fixture = *state;
    struct error error;
    char path[] = "/tmp/test_virtio_pci-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t sector[512];
    for (int i = 0; i < 8; i++) { /* 8 sectors, each filled with its number */
        memset(sector, 'A' + i, sizeof(sector));
        assert_int_equal(write(fd, sector, sizeof(sector)), sizeof(sector));
    }
    close(fd);
    struct virtio_blk *blk = calloc(1, sizeof(*blk));
    assert_non_null(blk);
    assert_int_equal(virtio_blk_open(blk, path, false, 0, &error), 0);
    assert_int_equal(virtio_blk_init(blk, &fixture->memory, &error), 0);
    plug(fixture, &blk->device);
    /* Capacity in the device config, read through the BAR. */
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_DEVICE_OFFSET, 8), 8);
    driver_bring_up(fixture, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC, 16);

    /* Read sectors 2 and 3 (header, 1024 data bytes, status). */
    uint8_t *host = fixture->host;
    struct {
        uint32_t type, reserved;
        uint64_t sector;
    } header = {0 /* IN */, 0, 2};
    memcpy(host + DATA, &header, sizeof(header));
    host[DATA + 0x2000] = 0xee;
    put_desc(host, 0, DATA, 16, VIRTQ_DESC_F_NEXT, 1);
    put_desc(host, 1, DATA + 0x1000, 1024, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    put_desc(host, 2, DATA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
    make_available(host, 16, 0, 0);
    serve(&blk->device);
    assert_int_equal(used_index(host), 1);
    uint32_t id, length;
    used_element(host, 0, &id, &length);
    assert_int_equal(id, 0);
    assert_int_equal(length, 1025);
    assert_int_equal(host[DATA + 0x2000], 0); /* VIRTIO_BLK_S_OK */
    assert_int_equal(host[DATA + 0x1000], 'C');
    assert_int_equal(host[DATA + 0x1000 + 511], 'C');
    assert_int_equal(host[DATA + 0x1000 + 512], 'D');
    assert_int_equal(host[DATA + 0x1000 + 1023], 'D');

    /* Write sector 7 through an indirect table. */
    header = (typeof(header)){1 /* OUT */, 0, 7};
    memcpy(host + DATA + 0x3000, &header, sizeof(header));
    memset(host + DATA + 0x4000, 'z', 512);
    host[DATA + 0x5000] = 0xee;
    uint64_t table = DATA + 0x6000;
    struct virtq_desc indirect[3] = {
        {DATA + 0x3000, 16, VIRTQ_DESC_F_NEXT, 1},
        {DATA + 0x4000, 512, VIRTQ_DESC_F_NEXT, 2},
        {DATA + 0x5000, 1, VIRTQ_DESC_F_WRITE, 0},
    };
    memcpy(host + table, indirect, sizeof(indirect));
    put_desc(host, 5, table, sizeof(indirect), VIRTQ_DESC_F_INDIRECT, 0);
    make_available(host, 16, 1, 5);
    serve(&blk->device);
    assert_int_equal(used_index(host), 2);
    used_element(host, 1, &id, &length);
    assert_int_equal(id, 5);
    assert_int_equal(length, 1);
    assert_int_equal(host[DATA + 0x5000], 0);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, sector, 512, 7 * 512), 512);
    close(fd);
    for (int i = 0; i < 512; i++)
        assert_int_equal(sector[i], 'z');
    /* Both completions interrupted (no event idx, no NO_INTERRUPT flag). */
    assert_int_equal(bar_read(fixture, VIRTIO_PCI_ISR_OFFSET, 1), 1);

    virtio_device_destroy(&blk->device);
    virtio_blk_close(blk);
    unlink(path);
    free(blk);
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_pci_identity),
        TEST(test_capability_chain),
        TEST(test_rng_capabilities),
        TEST(test_device_features),
        TEST(test_feature_negotiation),
        TEST(test_feature_not_offered),
        TEST(test_queue_registers),
        TEST(test_queue_addresses_in_halves),
        TEST(test_queue_size_rules),
        TEST(test_queue_enable),
        TEST(test_queue_settable_only_before_driver_ok),
        TEST(test_queue_rings_outside_memory),
        TEST(test_reset),
        TEST(test_unknown_offsets_read_zero),
        TEST(test_read_only_common_fields),
        TEST(test_device_config_space),
        TEST(test_notify_signals_queue),
        TEST(test_msix_table),
        TEST(test_vector_numbers),
        TEST(test_interrupts_msix_and_isr),
        TEST(test_queue_interrupt_uses_its_vector),
        TEST(test_pci_cfg_window),
        TEST(test_bar_through_memory_window),
        cmocka_unit_test_setup_teardown(test_rng_request, setup_bus, teardown),
        cmocka_unit_test_setup_teardown(test_gpu_and_input_identity, setup_bus, teardown),
        cmocka_unit_test_setup_teardown(test_blk_request, setup_bus, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
