/* virtio-net against rings built by hand in guest memory and a fake back
 * end that records what it is sent and can say EAGAIN: the features and
 * config space offered with and without a vnet_hdr back end, transmit (the
 * header stripped or checked and kept, EAGAIN and tx_ready, the budget),
 * receive (one chain, merged buffers, too few buffers and the refusal, too
 * big, the receive filter, offloads), every control command and the
 * malformed ones, the link, reset, and bad input each way. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest_words.h"
#include "memory.h"
#include "virtio/net.h"
#include "virtio/queue.h"

#define MEMORY_SIZE (2u << 20)
#define QUEUE_SIZE 16
/* Each queue's rings: table, avail and used ring, room for 1024 entries. */
#define RX_RINGS 0x10000ull
#define TX_RINGS 0x20000ull
#define CTRL_RINGS 0x30000ull
#define AVAIL_OFFSET 0x4000ull
#define USED_OFFSET 0x6000ull
#define BUFFERS 0x40000ull

#define TAG_OFFSET 14 /* where a test frame carries its sequence number */

static const uint8_t our_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
static const uint8_t other_mac[6] = {0x52, 0x54, 0x00, 0x99, 0x99, 0x99};
static const uint8_t all_ones[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static const uint8_t mdns_mac[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
static const uint8_t ipv6_all_nodes[6] = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};

#define MAX_TAGS 1024

struct fake_backend {
    struct net_backend backend;
    unsigned sends;  /* frames taken */
    unsigned eagain; /* the next this many sends say EAGAIN */
    bool busy;       /* and while set, every send once busy_at frames went */
    unsigned busy_at;
    uint16_t tags[MAX_TAGS];
    uint8_t last[NET_MAX_FRAME + VIRTIO_NET_HDR_SIZE];
    size_t last_length;
    int last_iov_count;
    const void *last_iov_base; /* iov[0] of the last send */
    unsigned rx_ready_calls;
    unsigned set_offloads_calls, offloads;
    bool fail_offloads;
    /* serve_transmit (fake_threaded_ops): what the device handed over. */
    int serve_fd;
    void (*serve)(void *device);
};

struct ring {
    uint64_t base;
    uint16_t size;
    uint16_t avail_idx;
    uint16_t next_desc;
};

struct buffer_spec {
    uint64_t address;
    uint32_t length;
    bool writable;
};

struct fixture {
    uint8_t *host;
    struct guest_memory memory;
    struct fake_backend *fake;
    struct virtio_net *net;
    bool made;
    struct ring rings[3];
    uint64_t next_buffer;
    unsigned queue_interrupts, config_interrupts;
    uint8_t frame[NET_MAX_FRAME + 64];
};

/* --- the fake back end --------------------------------------------------- */

static struct fake_backend *fake_of(struct net_backend *backend)
{
    return (struct fake_backend *)backend;
}

static int fake_send(struct net_backend *backend, const struct iovec *iov, int count)
{
    struct fake_backend *fake = fake_of(backend);
    if (fake->busy && fake->sends == fake->busy_at) {
        errno = EAGAIN;
        return -1;
    }
    if (fake->eagain) {
        fake->eagain--;
        errno = EAGAIN;
        return -1;
    }
    size_t length = 0;
    for (int i = 0; i < count; i++) {
        assert_true(length + iov[i].iov_len <= sizeof(fake->last));
        memcpy(fake->last + length, iov[i].iov_base, iov[i].iov_len);
        length += iov[i].iov_len;
    }
    fake->last_length = length;
    fake->last_iov_count = count;
    fake->last_iov_base = count ? iov[0].iov_base : NULL;
    size_t tag = (backend->vnet_hdr ? VIRTIO_NET_HDR_SIZE : 0) + TAG_OFFSET;
    if (fake->sends < MAX_TAGS && length >= tag + 2)
        memcpy(&fake->tags[fake->sends], fake->last + tag, 2);
    fake->sends++;
    return 0;
}

static void fake_rx_ready(struct net_backend *backend)
{
    fake_of(backend)->rx_ready_calls++;
}

static int fake_set_rx_offloads(struct net_backend *backend, unsigned offloads, struct error *error)
{
    struct fake_backend *fake = fake_of(backend);
    fake->set_offloads_calls++;
    if (fake->fail_offloads)
        return error_set(error, "refused");
    fake->offloads = offloads;
    return 0;
}

static const struct net_backend_ops fake_ops = {
    .kind = "fake",
    .send = fake_send,
    .rx_ready = fake_rx_ready,
    .set_rx_offloads = fake_set_rx_offloads,
};

static bool fake_serve_transmit(struct net_backend *backend, int notify_fd,
                                void (*serve)(void *device))
{
    fake_of(backend)->serve_fd = notify_fd;
    fake_of(backend)->serve = serve;
    return true;
}

/* A back end with a thread of its own, which serves the transmit queue. */
static const struct net_backend_ops fake_threaded_ops = {
    .kind = "fake",
    .send = fake_send,
    .serve_transmit = fake_serve_transmit,
    .rx_ready = fake_rx_ready,
};

/* --- guest memory and rings ---------------------------------------------- */

static uint64_t alloc(struct fixture *fixture, uint32_t length)
{
    uint64_t address = fixture->next_buffer;
    fixture->next_buffer = (address + length + 15) & ~15ull;
    assert_true(fixture->next_buffer <= MEMORY_SIZE);
    return address;
}

/* Links the buffers as the next free descriptors and makes the chain
 * available; returns its head. */
static uint16_t post(struct fixture *fixture, unsigned queue, const struct buffer_spec *buffers,
                     unsigned count)
{
    struct ring *ring = &fixture->rings[queue];
    uint16_t head = ring->next_desc;
    for (unsigned i = 0; i < count; i++) {
        uint16_t index = ring->next_desc;
        ring->next_desc = (uint16_t)((index + 1) % ring->size);
        uint16_t flags = (uint16_t)((buffers[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
                                    (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0));
        struct virtq_desc desc = {buffers[i].address, buffers[i].length, flags, ring->next_desc};
        memcpy(fixture->host + ring->base + 16ull * index, &desc, sizeof(desc));
    }
    guest_put16(fixture->host,
                ring->base + AVAIL_OFFSET + 4 + 2ull * (ring->avail_idx % ring->size), head);
    ring->avail_idx++;
    guest_put16(fixture->host, ring->base + AVAIL_OFFSET + 2, ring->avail_idx);
    return head;
}

/* A chain virtq_pop refuses (its next descriptor is outside the table),
 * made available with the head's flags given. */
static void post_broken(struct fixture *fixture, unsigned queue, uint64_t address, uint16_t flags)
{
    struct ring *ring = &fixture->rings[queue];
    struct virtq_desc broken = {address, 100, (uint16_t)(flags | VIRTQ_DESC_F_NEXT), 0xffff};
    memcpy(fixture->host + ring->base + 16ull * ring->next_desc, &broken, sizeof(broken));
    guest_put16(fixture->host,
                ring->base + AVAIL_OFFSET + 4 + 2ull * (ring->avail_idx % ring->size),
                ring->next_desc);
    ring->avail_idx++;
    ring->next_desc = (uint16_t)((ring->next_desc + 1) % ring->size);
    guest_put16(fixture->host, ring->base + AVAIL_OFFSET + 2, ring->avail_idx);
}

static uint16_t used_idx(const struct fixture *fixture, unsigned queue)
{
    return guest_get16(fixture->host, fixture->rings[queue].base + USED_OFFSET + 2);
}

static uint32_t used_id(const struct fixture *fixture, unsigned queue, unsigned slot)
{
    const struct ring *ring = &fixture->rings[queue];
    return guest_get32(fixture->host, ring->base + USED_OFFSET + 4 + 8ull * (slot % ring->size));
}

static uint32_t used_length(const struct fixture *fixture, unsigned queue, unsigned slot)
{
    const struct ring *ring = &fixture->rings[queue];
    return guest_get32(fixture->host, ring->base + USED_OFFSET + 8 + 8ull * (slot % ring->size));
}

static uint16_t avail_event(const struct fixture *fixture, unsigned queue)
{
    const struct ring *ring = &fixture->rings[queue];
    return guest_get16(fixture->host, ring->base + USED_OFFSET + 4 + 8ull * ring->size);
}

/* --- the device ------------------------------------------------------------ */

static void count_interrupt(void *transport, uint16_t vector, bool config_change)
{
    (void)vector;
    struct fixture *fixture = transport;
    if (config_change)
        fixture->config_interrupts++;
    else
        fixture->queue_interrupts++;
}

static void destroy_net(struct fixture *fixture)
{
    if (fixture->made)
        virtio_net_destroy(fixture->net);
    fixture->made = false;
}

static void make_net(struct fixture *fixture, bool vnet_hdr, unsigned offloads)
{
    destroy_net(fixture);
    memset(fixture->fake, 0, sizeof(*fixture->fake));
    fixture->fake->backend.ops = &fake_ops;
    fixture->fake->backend.vnet_hdr = vnet_hdr;
    fixture->fake->backend.offloads = offloads;
    struct error error = {{0}};
    if (virtio_net_init(fixture->net, &fixture->memory, 0, our_mac, &fixture->fake->backend,
                        &error))
        fail_msg("%s", error.message);
    fixture->made = true;
    fixture->net->device.interrupt = count_interrupt;
    fixture->net->device.transport = fixture;
}

/* Reads (and so clears) a queue's notify eventfd: how often it was kicked. */
static uint64_t kicks(struct fixture *fixture, unsigned queue)
{
    uint64_t count = 0;
    if (read(fixture->net->device.notify_fd[queue], &count, sizeof(count)) < 0)
        assert_int_equal(errno, EAGAIN);
    return count;
}

/* The driver's bring-up: features, rings (tx_size entries for the transmit
 * queue, QUEUE_SIZE for the others), DRIVER_OK. */
static void start_sized(struct fixture *fixture, uint64_t features, uint16_t tx_size)
{
    struct virtio_device *device = &fixture->net->device;
    virtio_device_set_status(device, 0); /* a driver starts from a reset */
    memset(fixture->host, 0, BUFFERS);
    fixture->next_buffer = BUFFERS;
    fixture->queue_interrupts = fixture->config_interrupts = 0;
    static const uint64_t bases[3] = {RX_RINGS, TX_RINGS, CTRL_RINGS};
    device->driver_features = features | VIRTIO_F_VERSION_1;
    virtio_device_set_status(device, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                         VIRTIO_STATUS_FEATURES_OK);
    assert_true(device->status & VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < 3; q++) {
        uint16_t size = q == VIRTIO_NET_TX_QUEUE ? tx_size : QUEUE_SIZE;
        fixture->rings[q] = (struct ring){bases[q], size, 0, 0};
        device->queues[q].size = size;
        device->queues[q].desc_address = bases[q];
        device->queues[q].avail_address = bases[q] + AVAIL_OFFSET;
        device->queues[q].used_address = bases[q] + USED_OFFSET;
        virtio_device_enable_queue(device, q);
        assert_true(device->queues[q].started);
    }
    virtio_device_set_status(device, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                         VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(device->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET),
                     VIRTIO_STATUS_DRIVER_OK);
    for (unsigned q = 0; q < 3; q++)
        kicks(fixture, q); /* DRIVER_OK kicked every queue */
}

static void start(struct fixture *fixture, uint64_t features)
{
    start_sized(fixture, features, QUEUE_SIZE);
}

/* A notification, as the event loop delivers it: with the lock held. */
static void notify(struct fixture *fixture, unsigned queue)
{
    struct virtio_device *device = &fixture->net->device;
    pthread_mutex_lock(&device->lock);
    device->ops->queue_notify(device, queue);
    pthread_mutex_unlock(&device->lock);
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    if (!fixture)
        return -1;
    fixture->host = calloc(1, MEMORY_SIZE);
    fixture->fake = calloc(1, sizeof(*fixture->fake));
    fixture->net = calloc(1, sizeof(*fixture->net));
    if (!fixture->host || !fixture->fake || !fixture->net)
        return -1;
    guest_memory_init_over(&fixture->memory, fixture->host, MEMORY_SIZE);
    make_net(fixture, false, 0);
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    destroy_net(fixture);
    free(fixture->net);
    free(fixture->fake);
    free(fixture->host);
    free(fixture);
    return 0;
}

/* --- frames ------------------------------------------------------------------ */

static uint8_t pattern(size_t i)
{
    return (uint8_t)(i * 7 + 3);
}

/* An Ethernet frame of length bytes to destination, carrying tag. */
static void make_frame(uint8_t *frame, const uint8_t destination[6], size_t length, uint16_t tag)
{
    for (size_t i = 0; i < length; i++)
        frame[i] = pattern(i);
    memcpy(frame, destination, 6);
    memcpy(frame + 6, other_mac, 6);
    frame[12] = 0x08;
    frame[13] = 0x00;
    if (length >= TAG_OFFSET + 2)
        memcpy(frame + TAG_OFFSET, &tag, 2);
}

/* Header and frame into guest memory, cut into buffers at the offsets
 * given (ascending, inside the chain); posted on the transmit queue. */
static uint16_t post_tx(struct fixture *fixture, const struct virtio_net_hdr_v1 *header,
                        const uint8_t *frame, size_t length, const uint32_t *cuts,
                        unsigned cut_count)
{
    uint32_t total = (uint32_t)(VIRTIO_NET_HDR_SIZE + length);
    uint64_t address = alloc(fixture, total + 16u * (cut_count + 1));
    struct buffer_spec buffers[16];
    uint32_t from = 0;
    uint64_t at = address;
    for (unsigned i = 0; i <= cut_count; i++) {
        uint32_t to = i < cut_count ? cuts[i] : total;
        buffers[i] = (struct buffer_spec){at, to - from, false};
        for (uint32_t b = from; b < to; b++)
            fixture->host[at + b - from] = b < VIRTIO_NET_HDR_SIZE ? ((const uint8_t *)header)[b]
                                                                   : frame[b - VIRTIO_NET_HDR_SIZE];
        at += to - from + 16; /* a gap, so that the pieces are not contiguous */
        from = to;
    }
    return post(fixture, VIRTIO_NET_TX_QUEUE, buffers, cut_count + 1);
}

static uint16_t post_simple_tx(struct fixture *fixture, size_t length, uint16_t tag)
{
    struct virtio_net_hdr_v1 header = {0};
    make_frame(fixture->frame, other_mac, length, tag);
    return post_tx(fixture, &header, fixture->frame, length, NULL, 0);
}

/* Receive buffers: count chains of one writable buffer each. */
static uint64_t post_rx(struct fixture *fixture, unsigned count, uint32_t length)
{
    uint64_t first = 0;
    for (unsigned i = 0; i < count; i++) {
        struct buffer_spec buffer = {alloc(fixture, length), length, true};
        memset(fixture->host + buffer.address, 0xee, length);
        if (i == 0)
            first = buffer.address;
        post(fixture, VIRTIO_NET_RX_QUEUE, &buffer, 1);
    }
    return first;
}

/* Gives the device bytes cut into pieces roughly equal pieces. */
static bool receive(struct fixture *fixture, const uint8_t *bytes, size_t length, unsigned pieces)
{
    struct iovec iov[8];
    size_t step = length / pieces, at = 0;
    for (unsigned i = 0; i < pieces; i++) {
        size_t take = i + 1 < pieces ? step : length - at;
        iov[i] = (struct iovec){(uint8_t *)bytes + at, take};
        at += take;
    }
    return virtio_net_receive(fixture->net, iov, (int)pieces);
}

static bool receive_frame(struct fixture *fixture, const uint8_t destination[6], size_t length)
{
    make_frame(fixture->frame, destination, length, 0);
    return receive(fixture, fixture->frame, length, 2);
}

/* What the guest got in a receive buffer at address: the header, then the
 * frame's first bytes. */
static struct virtio_net_hdr_v1 header_at(const struct fixture *fixture, uint64_t address)
{
    struct virtio_net_hdr_v1 header;
    memcpy(&header, fixture->host + address, sizeof(header));
    return header;
}

/* --- control commands ---------------------------------------------------- */

#define NO_ACK 0xee

/* A command through the control queue; returns the ack byte. */
static uint8_t control(struct fixture *fixture, uint8_t class, uint8_t command, const void *data,
                       size_t length)
{
    uint64_t address = alloc(fixture, (uint32_t)(2 + length + 1));
    fixture->host[address] = class;
    fixture->host[address + 1] = command;
    if (length)
        memcpy(fixture->host + address + 2, data, length);
    fixture->host[address + 2 + length] = NO_ACK;
    struct buffer_spec buffers[] = {
        {address, (uint32_t)(2 + length), false},
        {address + 2 + length, 1, true},
    };
    uint16_t before = used_idx(fixture, VIRTIO_NET_CTRL_QUEUE);
    post(fixture, VIRTIO_NET_CTRL_QUEUE, buffers, 2);
    notify(fixture, VIRTIO_NET_CTRL_QUEUE);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_CTRL_QUEUE), (uint16_t)(before + 1));
    assert_int_equal(used_length(fixture, VIRTIO_NET_CTRL_QUEUE, before), 1);
    return fixture->host[address + 2 + length];
}

static uint8_t control_rx(struct fixture *fixture, uint8_t command, uint8_t on)
{
    return control(fixture, VIRTIO_NET_CTRL_RX, command, &on, 1);
}

/* MAC_TABLE_SET with the given unicast and multicast addresses. */
static uint8_t set_tables(struct fixture *fixture, const uint8_t (*unicast)[6], uint32_t uni_count,
                          const uint8_t (*multicast)[6], uint32_t multi_count)
{
    static uint8_t data[8 + 2 * 6 * 128];
    size_t length = 0;
    memcpy(data + length, &uni_count, 4);
    length += 4;
    if (uni_count)
        memcpy(data + length, unicast, 6ull * uni_count);
    length += 6ull * uni_count;
    memcpy(data + length, &multi_count, 4);
    length += 4;
    if (multi_count)
        memcpy(data + length, multicast, 6ull * multi_count);
    length += 6ull * multi_count;
    return control(fixture, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, data, length);
}

#define BASIC_FEATURES                                                                             \
    (VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_RX |        \
     VIRTIO_NET_F_CTRL_RX_EXTRA | VIRTIO_NET_F_CTRL_MAC_ADDR)
#define HOST_OFFLOADS                                                                              \
    (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN | \
     VIRTIO_NET_F_HOST_UFO)
#define GUEST_OFFLOADS                                                                             \
    (VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 |                 \
     VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_GUEST_UFO)
#define ALL_OFFLOADS                                                                               \
    (NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 | NET_OFFLOAD_TSO_ECN | NET_OFFLOAD_UFO)

/* --- features and config space ------------------------------------------- */

static void test_features_without_vnet_hdr(void **state)
{
    struct fixture *fixture = *state;
    /* A back end without the header gets no offloads, whatever it says. */
    make_net(fixture, false, ALL_OFFLOADS);
    uint64_t features = fixture->net->device.device_features;
    uint64_t expected = BASIC_FEATURES | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_SPEED_DUPLEX;
    assert_int_equal(features & expected, expected);
    assert_true(features & VIRTIO_F_VERSION_1);
    assert_false(features & (HOST_OFFLOADS | GUEST_OFFLOADS | VIRTIO_NET_F_CTRL_GUEST_OFFLOADS));
    /* Not implemented, so never offered. */
    assert_false(features & (VIRTIO_NET_F_MQ | VIRTIO_NET_F_CTRL_VLAN |
                             VIRTIO_NET_F_GUEST_ANNOUNCE | VIRTIO_NET_F_MTU));
    const struct virtio_device_ops *ops = fixture->net->device.ops;
    assert_int_equal(ops->device_id, 1);
    assert_int_equal(ops->queue_count, 3);
    assert_int_equal(ops->queue_max_size, 256);
    /* The back end knows where to deliver and whom to wake. */
    assert_ptr_equal(fixture->fake->backend.port.device, fixture->net);
    assert_ptr_equal(fixture->fake->backend.port.receive, virtio_net_receive);
    assert_ptr_equal(fixture->fake->backend.tx_ready, virtio_net_tx_ready);
}

static void test_features_with_vnet_hdr(void **state)
{
    struct fixture *fixture = *state;
    make_net(fixture, true, ALL_OFFLOADS);
    uint64_t features = fixture->net->device.device_features;
    assert_int_equal(features & HOST_OFFLOADS, HOST_OFFLOADS);
    assert_int_equal(features & GUEST_OFFLOADS, GUEST_OFFLOADS);
    assert_true(features & VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);

    /* Segmentation without partial checksums is nothing (5.1.3.1). */
    make_net(fixture, true, NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6);
    features = fixture->net->device.device_features;
    assert_false(features & HOST_OFFLOADS);
    assert_int_equal(features & GUEST_OFFLOADS, GUEST_OFFLOADS);
    /* Checksums only. */
    make_net(fixture, true, NET_OFFLOAD_CSUM);
    features = fixture->net->device.device_features;
    assert_int_equal(features & HOST_OFFLOADS, VIRTIO_NET_F_CSUM);
    /* ECN without a segmentation to apply it to. */
    make_net(fixture, true, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO_ECN | NET_OFFLOAD_UFO);
    features = fixture->net->device.device_features;
    assert_int_equal(features & HOST_OFFLOADS, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_UFO);
    make_net(fixture, true, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO6 | NET_OFFLOAD_TSO_ECN);
    features = fixture->net->device.device_features;
    assert_int_equal(features & HOST_OFFLOADS,
                     VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN);
}

static void test_config_space(void **state)
{
    struct fixture *fixture = *state;
    const struct virtio_device *device = &fixture->net->device;
    const uint8_t *config = device->config;
    assert_ptr_equal(config, fixture->net->config);
    assert_int_equal(device->config_size, 24);
    assert_memory_equal(config + 0, our_mac, 6);
    uint16_t value16;
    memcpy(&value16, config + 6, 2);
    assert_int_equal(value16, VIRTIO_NET_S_LINK_UP);
    memcpy(&value16, config + 8, 2);
    assert_int_equal(value16, 1); /* max_virtqueue_pairs */
    memcpy(&value16, config + 10, 2);
    assert_int_equal(value16, 1500);
    uint32_t speed;
    memcpy(&speed, config + 12, 4);
    assert_int_equal(speed, 10000);
    assert_int_equal(config[16], 1); /* full duplex */
    for (unsigned i = 17; i < 24; i++)
        assert_int_equal(config[i], 0); /* no RSS */
}

static void test_init_errors(void **state)
{
    struct fixture *fixture = *state;
    destroy_net(fixture);
    static const uint8_t multicast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    static const uint8_t zero[6];
    struct error error = {{0}};
    assert_int_equal(virtio_net_init(fixture->net, &fixture->memory, 3, multicast,
                                     &fixture->fake->backend, &error),
                     -1);
    assert_non_null(strstr(error.message, "virtio-net eth3"));
    assert_non_null(strstr(error.message, "01:00:5e:00:00:01"));
    assert_int_equal(
        virtio_net_init(fixture->net, &fixture->memory, 0, zero, &fixture->fake->backend, &error),
        -1);
    assert_non_null(strstr(error.message, "unicast"));
    assert_int_equal(virtio_net_init(fixture->net, &fixture->memory, 1, our_mac, NULL, &error), -1);
    assert_non_null(strstr(error.message, "eth1"));
    make_net(fixture, false, 0);
    assert_string_equal(fixture->net->name, "eth0");
}

/* --- the link ---------------------------------------------------------------- */

static void test_link(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_net *net = fixture->net;
    /* Before the driver runs: the status changes, no interrupt. */
    uint8_t generation = net->device.config_generation;
    virtio_net_set_link(net, false);
    assert_int_equal(net->config[6], 0);
    assert_int_equal(fixture->config_interrupts, 0);
    assert_int_not_equal(net->device.config_generation, generation);
    virtio_net_set_link(net, true);

    start(fixture, BASIC_FEATURES);
    virtio_net_set_link(net, false);
    assert_int_equal(net->config[6], 0);
    assert_int_equal(fixture->config_interrupts, 1);
    virtio_net_set_link(net, false); /* no change, no interrupt */
    assert_int_equal(fixture->config_interrupts, 1);

    /* Down: frames go neither way, and nothing is left pending. */
    post_rx(fixture, 2, 2048);
    assert_true(receive_frame(fixture, our_mac, 100));
    assert_int_equal(net->stats.rx_link_down, 1);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 0);
    post_simple_tx(fixture, 60, 1);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fixture->fake->sends, 0);
    assert_int_equal(net->stats.tx_link_down, 1);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), 1); /* completed: dropped */

    virtio_net_set_link(net, true);
    assert_int_equal(net->config[6], VIRTIO_NET_S_LINK_UP);
    assert_int_equal(fixture->config_interrupts, 2);
    assert_true(receive_frame(fixture, our_mac, 100));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 1);
    post_simple_tx(fixture, 60, 2);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fixture->fake->sends, 1);
}

/* --- transmit ------------------------------------------------------------------ */

static void test_tx_split_header_stripped(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    struct virtio_net_hdr_v1 header = {0};
    make_frame(fixture->frame, other_mac, 60, 7);
    /* The header in two pieces, the second shared with the frame's start. */
    static const uint32_t cuts[] = {5, 12 + 20, 12 + 21};
    uint16_t head = post_tx(fixture, &header, fixture->frame, 60, cuts, 3);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    struct fake_backend *fake = fixture->fake;
    assert_int_equal(fake->sends, 1);
    assert_int_equal(fake->last_length, 60);
    assert_memory_equal(fake->last, fixture->frame, 60);
    assert_int_equal(fake->last_iov_count, 3); /* no copy: the guest's buffers */
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), 1);
    assert_int_equal(used_id(fixture, VIRTIO_NET_TX_QUEUE, 0), head);
    assert_int_equal(used_length(fixture, VIRTIO_NET_TX_QUEUE, 0), 0);
    assert_int_equal(fixture->queue_interrupts, 1);
    assert_int_equal(fixture->net->stats.tx_frames, 1);
    assert_int_equal(fixture->net->stats.tx_bytes, 60);
}

/* A back end that serves the transmit queue in its thread gets the queue's
 * eventfd, and the event loop leaves that queue alone; its serve drains the
 * notification and sends what the driver posted. */
static void test_tx_served_by_back_end_thread(void **state)
{
    struct fixture *fixture = *state;
    struct fake_backend *fake = fixture->fake;
    assert_int_equal(fixture->net->device.queues_served_elsewhere, 0); /* fake_ops: the loop */
    destroy_net(fixture);
    memset(fake, 0, sizeof(*fake));
    fake->backend.ops = &fake_threaded_ops;
    struct error error = {{0}};
    if (virtio_net_init(fixture->net, &fixture->memory, 0, our_mac, &fake->backend, &error))
        fail_msg("%s", error.message);
    fixture->made = true;
    fixture->net->device.interrupt = count_interrupt;
    fixture->net->device.transport = fixture;
    struct virtio_device *device = &fixture->net->device;
    assert_int_equal(device->queues_served_elsewhere, 1u << VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fake->serve_fd, device->notify_fd[VIRTIO_NET_TX_QUEUE]);
    assert_non_null(fake->serve);
    start(fixture, BASIC_FEATURES);
    uint16_t head = post_simple_tx(fixture, 60, 3);
    uint64_t one = 1;
    assert_int_equal(write(fake->serve_fd, &one, sizeof(one)), sizeof(one));
    fake->serve(fake->backend.port.device);
    assert_int_equal(fake->sends, 1);
    assert_int_equal(fake->tags[0], 3);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), 1);
    assert_int_equal(used_id(fixture, VIRTIO_NET_TX_QUEUE, 0), head);
    assert_int_equal(kicks(fixture, VIRTIO_NET_TX_QUEUE), 0); /* serve drained it */
}

static void test_tx_header_kept(void **state)
{
    struct fixture *fixture = *state;
    make_net(fixture, true, ALL_OFFLOADS);
    start(fixture, BASIC_FEATURES | VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
    struct virtio_net_hdr_v1 header = {
        VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 0};
    make_frame(fixture->frame, other_mac, 3000, 9);
    static const uint32_t cuts[] = {3, 12 + 54};
    post_tx(fixture, &header, fixture->frame, 3000, cuts, 2);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    struct fake_backend *fake = fixture->fake;
    assert_int_equal(fake->sends, 1);
    assert_int_equal(fake->last_length, 12 + 3000);
    assert_memory_equal(fake->last, &header, 12);
    assert_memory_equal(fake->last + 12, fixture->frame, 3000);
    /* The header is the device's checked copy, not the guest's buffer. */
    assert_ptr_equal(fake->last_iov_base, &fixture->net->tx_header);
    assert_int_equal(fake->last_iov_count, 1 + 2);
}

/* Sends one frame with header; returns whether the back end got it, and
 * the header it got in *seen. */
static bool send_with_header(struct fixture *fixture, struct virtio_net_hdr_v1 header,
                             size_t length, struct virtio_net_hdr_v1 *seen)
{
    unsigned before = fixture->fake->sends;
    uint16_t used_before = used_idx(fixture, VIRTIO_NET_TX_QUEUE);
    make_frame(fixture->frame, other_mac, length, 0);
    post_tx(fixture, &header, fixture->frame, length, NULL, 0);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    /* Sent or dropped, the chain is done. */
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), (uint16_t)(used_before + 1));
    if (seen && fixture->fake->sends != before)
        memcpy(seen, fixture->fake->last, sizeof(*seen));
    return fixture->fake->sends != before;
}

static void test_tx_header_sanitised(void **state)
{
    struct fixture *fixture = *state;
    make_net(fixture, true, ALL_OFFLOADS);
    start(fixture,
          BASIC_FEATURES | VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_UFO);
    struct virtio_net_hdr_v1 seen;
    /* Receive-only flags, num_buffers, fields of an offload not asked for,
     * hdr_len past the frame: cleaned. */
    struct virtio_net_hdr_v1 messy = {0xff, VIRTIO_NET_HDR_GSO_NONE, 9999, 77, 34, 16, 0x1234};
    assert_true(send_with_header(fixture, messy, 100, &seen));
    struct virtio_net_hdr_v1 clean = {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 100, 0, 34, 16, 0};
    assert_memory_equal(&seen, &clean, sizeof(seen));
    struct virtio_net_hdr_v1 no_csum = {VIRTIO_NET_HDR_F_DATA_VALID, 0, 14, 0, 34, 16, 3};
    assert_true(send_with_header(fixture, no_csum, 100, &seen));
    struct virtio_net_hdr_v1 plain = {0, 0, 14, 0, 0, 0, 0};
    assert_memory_equal(&seen, &plain, sizeof(seen));
    /* The checksum's last byte is the frame's last byte: fine; one more is not. */
    struct virtio_net_hdr_v1 edge = {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 90, 8, 0};
    assert_true(send_with_header(fixture, edge, 100, NULL));
    edge.csum_offset = 9;
    assert_false(send_with_header(fixture, edge, 100, NULL));
    edge = (struct virtio_net_hdr_v1){VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 0xffff, 0xffff, 0};
    assert_false(send_with_header(fixture, edge, 100, NULL));

    /* GSO: the negotiated types with a segment size, nothing else. */
    struct virtio_net_hdr_v1 tso = {
        VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 0};
    assert_true(send_with_header(fixture, tso, 3000, &seen));
    assert_memory_equal(&seen, &tso, sizeof(seen));
    struct virtio_net_hdr_v1 bad = tso;
    bad.gso_size = 0;
    assert_false(send_with_header(fixture, bad, 3000, NULL));
    bad = tso;
    bad.gso_type = VIRTIO_NET_HDR_GSO_TCPV6; /* not negotiated */
    assert_false(send_with_header(fixture, bad, 3000, NULL));
    bad.gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN; /* ECN not negotiated */
    assert_false(send_with_header(fixture, bad, 3000, NULL));
    static const uint8_t unknown_types[] = {2, 5, 6, 0x7f, 0xff, VIRTIO_NET_HDR_GSO_ECN};
    for (size_t i = 0; i < sizeof(unknown_types); i++) {
        bad.gso_type = unknown_types[i];
        assert_false(send_with_header(fixture, bad, 3000, NULL));
    }
    bad = tso;
    bad.gso_type = VIRTIO_NET_HDR_GSO_UDP;
    assert_true(send_with_header(fixture, bad, 3000, NULL));
    assert_int_equal(fixture->net->stats.tx_bad_header, 2 + 3 + sizeof(unknown_types));

    /* A driver that negotiated no checksum offload cannot ask for one. */
    start(fixture, BASIC_FEATURES);
    assert_false(send_with_header(fixture, clean, 100, NULL));
    assert_false(send_with_header(fixture, tso, 3000, NULL));
    assert_true(send_with_header(fixture, plain, 100, NULL));
}

static void test_tx_header_stripped_refuses_offloads(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    /* No back end to do them: such frames are dropped, and done with. */
    struct virtio_net_hdr_v1 csum = {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16, 0};
    assert_false(send_with_header(fixture, csum, 100, NULL));
    struct virtio_net_hdr_v1 tso = {
        VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 54, 1448, 34, 16, 0};
    assert_false(send_with_header(fixture, tso, 3000, NULL));
    tso.flags = 0;
    assert_false(send_with_header(fixture, tso, 3000, NULL));
    assert_int_equal(fixture->net->stats.tx_bad_header, 3);
    /* Harmless fields go: the frame is what the back end gets. */
    struct virtio_net_hdr_v1 harmless = {VIRTIO_NET_HDR_F_DATA_VALID, 0, 40, 0, 5, 5, 9};
    assert_true(send_with_header(fixture, harmless, 100, NULL));
    assert_int_equal(fixture->fake->last_length, 100);
}

static void test_tx_eagain_then_resume(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    struct virtio_net *net = fixture->net;
    struct fake_backend *fake = fixture->fake;
    uint16_t heads[3];
    for (uint16_t i = 0; i < 3; i++)
        heads[i] = post_simple_tx(fixture, 60, (uint16_t)(100 + i));
    /* Busy from the first frame: nothing completed, the chain stays. */
    fake->eagain = 2;
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fake->sends, 0);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), 0);
    assert_int_equal(net->device.queues[VIRTIO_NET_TX_QUEUE].last_avail_idx, 0);
    assert_int_equal(net->stats.tx_busy, 1);
    assert_int_equal(fixture->queue_interrupts, 0);
    assert_int_equal(kicks(fixture, VIRTIO_NET_TX_QUEUE), 0);
    /* A guest notification meanwhile: still busy, still kept. */
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), 0);
    assert_int_equal(net->stats.tx_busy, 2);
    /* The back end is ready: it kicks the queue; the loop serves it. */
    fake->backend.tx_ready(fake->backend.port.device);
    assert_int_equal(kicks(fixture, VIRTIO_NET_TX_QUEUE), 1);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fake->sends, 3);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(fake->tags[i], 100 + i); /* in order, none lost */
        assert_int_equal(used_id(fixture, VIRTIO_NET_TX_QUEUE, i), heads[i]);
    }
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), 3);
    assert_int_equal(fixture->queue_interrupts, 1);
    assert_int_equal(net->stats.tx_frames, 3);
}

/* The back end refuses after taking some: the rest waits, in order. */
static void test_tx_eagain_mid_run(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    struct fake_backend *fake = fixture->fake;
    for (uint16_t i = 0; i < 5; i++)
        post_simple_tx(fixture, 60, (uint16_t)(10 + i));
    fake->busy = true;
    fake->busy_at = 2;
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fake->sends, 2);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), 2);
    assert_int_equal(fixture->queue_interrupts, 1); /* for the two that went */
    assert_int_equal(fixture->net->device.queues[VIRTIO_NET_TX_QUEUE].last_avail_idx, 2);
    fake->busy = false;
    virtio_net_tx_ready(fixture->net);
    assert_int_equal(kicks(fixture, VIRTIO_NET_TX_QUEUE), 1);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fake->sends, 5);
    for (unsigned i = 0; i < 5; i++)
        assert_int_equal(fake->tags[i], 10 + i);
}

static void test_tx_budget(void **state)
{
    struct fixture *fixture = *state;
    /* A ring larger than a driver could make, so that more than one turn's
     * worth is waiting at once. */
    start_sized(fixture, BASIC_FEATURES, 512);
    for (uint16_t i = 0; i < 300; i++) {
        make_frame(fixture->frame, other_mac, 60, i);
        struct virtio_net_hdr_v1 header = {0};
        post_tx(fixture, &header, fixture->frame, 60, NULL, 0);
    }
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fixture->fake->sends, VIRTIO_NET_TX_BUDGET);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), VIRTIO_NET_TX_BUDGET);
    assert_int_equal(fixture->queue_interrupts, 1);
    /* It asked the loop to come back. */
    assert_int_equal(kicks(fixture, VIRTIO_NET_TX_QUEUE), 1);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fixture->fake->sends, 300);
    assert_int_equal(kicks(fixture, VIRTIO_NET_TX_QUEUE), 0);
    for (unsigned i = 0; i < 300; i++)
        assert_int_equal(fixture->fake->tags[i], i);
}

static void test_tx_ready_without_queue(void **state)
{
    struct fixture *fixture = *state;
    /* Before the driver set anything up: a kick the loop will ignore. */
    fixture->fake->backend.tx_ready(fixture->fake->backend.port.device);
    assert_int_equal(kicks(fixture, VIRTIO_NET_TX_QUEUE), 1);
    notify(fixture, VIRTIO_NET_TX_QUEUE); /* as if it had not checked: nothing to do */
    assert_int_equal(fixture->fake->sends, 0);
}

static void test_tx_bad_input(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    struct virtio_net *net = fixture->net;
    uint64_t address = alloc(fixture, 0x20000);
    memset(fixture->host + address, 0, 0x20000);
    /* Shorter than the header; the header alone; a runt; all writable;
     * bigger than any frame; a chain virtq_pop refuses. */
    struct buffer_spec short_header = {address, 11, false};
    struct buffer_spec header_only = {address, 12, false};
    struct buffer_spec runt = {address, 12 + 13, false};
    struct buffer_spec writable = {address, 100, true};
    struct buffer_spec huge[] = {{address, 0x10000, false}, {address, 12 + 14 + 5, false}};
    post(fixture, VIRTIO_NET_TX_QUEUE, &short_header, 1);
    post(fixture, VIRTIO_NET_TX_QUEUE, &header_only, 1);
    post(fixture, VIRTIO_NET_TX_QUEUE, &runt, 1);
    post(fixture, VIRTIO_NET_TX_QUEUE, &writable, 1);
    post(fixture, VIRTIO_NET_TX_QUEUE, huge, 2);
    post_broken(fixture, VIRTIO_NET_TX_QUEUE, address, 0);
    /* And a good one after them all. */
    post_simple_tx(fixture, 60, 5);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fixture->fake->sends, 1);
    assert_int_equal(fixture->fake->tags[0], 5);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_TX_QUEUE), 7);
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(used_length(fixture, VIRTIO_NET_TX_QUEUE, i), 0);
    assert_int_equal(net->stats.tx_bad_chain, 3);
    assert_int_equal(net->stats.tx_bad_size, 3);
    assert_int_equal(net->stats.tx_frames, 1);
    assert_false(net->device.status & VIRTIO_STATUS_NEEDS_RESET);
}

/* --- receive ------------------------------------------------------------------- */

static void test_rx_one_chain(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    /* As Linux's big-packet buffers: the header in a descriptor of its own. */
    uint64_t header_address = alloc(fixture, 12), data = alloc(fixture, 2000);
    memset(fixture->host + header_address, 0xee, 12);
    memset(fixture->host + data, 0xee, 2000);
    struct buffer_spec buffers[] = {{header_address, 12, true}, {data, 2000, true}};
    uint16_t head = post(fixture, VIRTIO_NET_RX_QUEUE, buffers, 2);
    make_frame(fixture->frame, our_mac, 100, 0);
    assert_true(receive(fixture, fixture->frame, 100, 3));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 1);
    assert_int_equal(used_id(fixture, VIRTIO_NET_RX_QUEUE, 0), head);
    assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, 0), 112);
    /* A plain header: only num_buffers, which is 1 without MRG_RXBUF. */
    struct virtio_net_hdr_v1 expected = {0, 0, 0, 0, 0, 0, 1};
    struct virtio_net_hdr_v1 header = header_at(fixture, header_address);
    assert_memory_equal(&header, &expected, 12);
    assert_memory_equal(fixture->host + data, fixture->frame, 100);
    assert_int_equal(fixture->host[data + 100], 0xee);
    assert_int_equal(fixture->queue_interrupts, 1);
    assert_int_equal(fixture->net->stats.rx_frames, 1);
    assert_int_equal(fixture->net->stats.rx_bytes, 100);
}

static void test_rx_merged_buffers(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES | VIRTIO_NET_F_MRG_RXBUF);
    uint64_t first = post_rx(fixture, 4, 1000);
    make_frame(fixture->frame, our_mac, 2500, 0);
    assert_true(receive(fixture, fixture->frame, 2500, 4));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 3);
    static const uint32_t lengths[] = {1000, 1000, 512};
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(used_id(fixture, VIRTIO_NET_RX_QUEUE, i), i);
        assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, i), lengths[i]);
    }
    struct virtio_net_hdr_v1 header = header_at(fixture, first);
    assert_int_equal(header.num_buffers, 3);
    assert_int_equal(header.flags, 0);
    assert_int_equal(header.gso_type, 0);
    /* The frame, reassembled from the three buffers (1008 bytes apart). */
    assert_memory_equal(fixture->host + first + 12, fixture->frame, 988);
    assert_memory_equal(fixture->host + first + 1008, fixture->frame + 988, 1000);
    assert_memory_equal(fixture->host + first + 2016, fixture->frame + 1988, 512);
    assert_int_equal(fixture->host[first + 2016 + 512], 0xee);
    assert_int_equal(fixture->queue_interrupts, 1); /* one per frame */
    /* The fourth buffer takes the next frame whole. */
    assert_true(receive_frame(fixture, our_mac, 200));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 4);
    assert_int_equal(header_at(fixture, first + 3024).num_buffers, 1);
}

static void test_rx_too_few_buffers(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_F_EVENT_IDX);
    struct virtio_net *net = fixture->net;
    uint64_t first = post_rx(fixture, 2, 1000);
    make_frame(fixture->frame, our_mac, 2500, 0);
    assert_false(receive(fixture, fixture->frame, 2500, 1));
    /* Nothing used, both chains back on the ring, the refusal noted. */
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 0);
    assert_int_equal(net->device.queues[VIRTIO_NET_RX_QUEUE].last_avail_idx, 0);
    assert_true(net->rx_refused);
    assert_int_equal(net->stats.rx_no_buffers, 1);
    assert_int_equal(fixture->queue_interrupts, 0);
    /* The driver is asked to notify once it adds past the buffers seen. */
    assert_int_equal(avail_event(fixture, VIRTIO_NET_RX_QUEUE), 2);
    assert_int_equal(fixture->fake->rx_ready_calls, 0);

    /* A third buffer and its notification: the back end may try again. */
    post_rx(fixture, 1, 1000);
    notify(fixture, VIRTIO_NET_RX_QUEUE);
    assert_int_equal(fixture->fake->rx_ready_calls, 1);
    assert_false(net->rx_refused);
    notify(fixture, VIRTIO_NET_RX_QUEUE); /* only once per refusal */
    assert_int_equal(fixture->fake->rx_ready_calls, 1);
    assert_true(receive(fixture, fixture->frame, 2500, 1));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 3);
    assert_int_equal(header_at(fixture, first).num_buffers, 3);
    assert_memory_equal(fixture->host + first + 12, fixture->frame, 988);

    /* An empty ring without MRG_RXBUF: refused as well. */
    start(fixture, BASIC_FEATURES);
    assert_false(receive_frame(fixture, our_mac, 60));
    assert_true(net->rx_refused);
    post_rx(fixture, 1, 2048);
    notify(fixture, VIRTIO_NET_RX_QUEUE);
    assert_int_equal(fixture->fake->rx_ready_calls, 2);
    assert_true(receive_frame(fixture, our_mac, 60));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 1);
}

static void test_rx_too_big(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    struct virtio_net *net = fixture->net;
    uint64_t buffer = post_rx(fixture, 1, 500);
    /* Without MRG_RXBUF one chain must hold it all: dropped, buffer kept. */
    assert_true(receive_frame(fixture, our_mac, 500 - 12 + 1));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 0);
    assert_int_equal(net->device.queues[VIRTIO_NET_RX_QUEUE].last_avail_idx, 0);
    assert_int_equal(net->stats.rx_too_big, 1);
    assert_false(net->rx_refused);
    assert_true(receive_frame(fixture, our_mac, 500 - 12));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 1);
    assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, 0), 500);
    assert_int_equal(header_at(fixture, buffer).num_buffers, 1);

    /* With it: a frame bigger than the whole ring is dropped, not waited for. */
    start(fixture, BASIC_FEATURES | VIRTIO_NET_F_MRG_RXBUF);
    post_rx(fixture, QUEUE_SIZE, 100);
    assert_true(receive_frame(fixture, our_mac, 2000));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 0);
    assert_int_equal(net->device.queues[VIRTIO_NET_RX_QUEUE].last_avail_idx, 0);
    assert_int_equal(net->stats.rx_too_big, 2);
    assert_true(receive_frame(fixture, our_mac, QUEUE_SIZE * 100 - 12));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), QUEUE_SIZE);
}

static void test_rx_bad_frames(void **state)
{
    struct fixture *fixture = *state;
    struct virtio_net *net = fixture->net;
    /* Before the driver runs. */
    assert_true(receive_frame(fixture, our_mac, 60));
    assert_int_equal(net->stats.rx_not_ready, 1);

    start(fixture, BASIC_FEATURES | VIRTIO_NET_F_MRG_RXBUF);
    post_rx(fixture, 4, 2048);
    uint8_t *big = calloc(1, NET_MAX_FRAME + 1);
    assert_non_null(big);
    memcpy(big, our_mac, 6);
    assert_true(receive(fixture, big, NET_MAX_FRAME + 1, 3));
    free(big);
    assert_true(receive_frame(fixture, our_mac, 13));
    assert_true(receive(fixture, fixture->frame, 0, 1));
    assert_true(virtio_net_receive(net, NULL, 0));
    assert_true(virtio_net_receive(net, NULL, -1));
    assert_int_equal(net->stats.rx_bad_size, 5);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 0);
    /* A frame just inside the limits, either way. */
    assert_true(receive_frame(fixture, our_mac, 14));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 1);

    /* With the back end's header: the header does not count as frame. */
    make_net(fixture, true, 0);
    net = fixture->net;
    start(fixture, BASIC_FEATURES);
    post_rx(fixture, 2, 2048);
    uint8_t bytes[12 + 14] = {0};
    memcpy(bytes + 12, our_mac, 6);
    assert_true(receive(fixture, bytes, 12 + 13, 1));
    assert_int_equal(net->stats.rx_bad_size, 1);
    assert_true(receive(fixture, bytes, 12 + 14, 2));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 1);
    assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, 0), 12 + 14);

    /* A device the driver reset, or whose receive queue is not running. */
    net->device.queues[VIRTIO_NET_RX_QUEUE].started = false;
    assert_true(receive(fixture, bytes, sizeof(bytes), 1));
    assert_int_equal(net->stats.rx_not_ready, 1);
}

static void test_rx_bad_chains(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    struct virtio_net *net = fixture->net;
    /* Room for less than the header; only a device-readable buffer. */
    struct buffer_spec tiny = {alloc(fixture, 8), 8, true};
    struct buffer_spec readable = {alloc(fixture, 100), 100, false};
    post(fixture, VIRTIO_NET_RX_QUEUE, &tiny, 1);
    post(fixture, VIRTIO_NET_RX_QUEUE, &readable, 1);
    post_rx(fixture, 1, 2048);
    assert_true(receive_frame(fixture, our_mac, 60));
    assert_true(receive_frame(fixture, our_mac, 60));
    assert_int_equal(net->stats.rx_bad_chain, 2);
    assert_true(receive_frame(fixture, our_mac, 60));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 3);
    assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, 0), 0);
    assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, 1), 0);
    assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, 2), 72);
    assert_int_equal(net->stats.rx_frames, 1);

    /* Merged: a bad chain after a good one; both go back empty, the frame is
     * dropped, and the next frame starts afresh. */
    start(fixture, BASIC_FEATURES | VIRTIO_NET_F_MRG_RXBUF);
    post_rx(fixture, 1, 100);
    post_broken(fixture, VIRTIO_NET_RX_QUEUE, alloc(fixture, 100), VIRTQ_DESC_F_WRITE);
    post_rx(fixture, 1, 2048);
    assert_true(receive_frame(fixture, our_mac, 500));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 2);
    assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, 0), 0);
    assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, 1), 0);
    assert_int_equal(net->stats.rx_bad_chain, 3);
    assert_true(receive_frame(fixture, our_mac, 500));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 3);
    assert_int_equal(used_length(fixture, VIRTIO_NET_RX_QUEUE, 2), 512);
    assert_false(net->device.status & VIRTIO_STATUS_NEEDS_RESET);

    /* A broken avail ring: the device needs a reset and takes nothing. */
    const struct ring *ring = &fixture->rings[VIRTIO_NET_RX_QUEUE];
    guest_put16(fixture->host, ring->base + AVAIL_OFFSET + 2, (uint16_t)(ring->avail_idx + 100));
    assert_true(receive_frame(fixture, our_mac, 60));
    assert_true(net->device.status & VIRTIO_STATUS_NEEDS_RESET);
    assert_true(receive_frame(fixture, our_mac, 60));
    assert_int_equal(net->stats.rx_not_ready, 1);
}

static void test_rx_offloads(void **state)
{
    struct fixture *fixture = *state;
    make_net(fixture, true, ALL_OFFLOADS);
    struct virtio_net *net = fixture->net;
    start(fixture, BASIC_FEATURES | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_GUEST_CSUM |
                       VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6);
    /* At DRIVER_OK the back end learnt what the guest takes. */
    assert_int_equal(fixture->fake->set_offloads_calls, 1);
    assert_int_equal(fixture->fake->offloads,
                     NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6);
    assert_int_equal(net->rx_offloads, fixture->fake->offloads);
    uint64_t first = post_rx(fixture, 8, 4096);

    uint8_t *bytes = fixture->frame;
    uint8_t flags = VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
    struct virtio_net_hdr_v1 tso = {flags, VIRTIO_NET_HDR_GSO_TCPV4, 66, 1448, 34, 16, 0x5555};
    memcpy(bytes, &tso, 12);
    make_frame(bytes + 12, our_mac, 6000, 0);
    assert_true(receive(fixture, bytes, 12 + 6000, 3));
    struct virtio_net_hdr_v1 header = header_at(fixture, first);
    tso.num_buffers = 2; /* 6012 bytes in 4096-byte buffers */
    assert_memory_equal(&header, &tso, 12);
    assert_memory_equal(fixture->host + first + 12, bytes + 12, 4096 - 12);

    /* An offload the guest did not take: dropped. */
    struct virtio_net_hdr_v1 ufo = {
        VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP, 42, 1400, 34, 6, 0};
    memcpy(bytes, &ufo, 12);
    assert_true(receive(fixture, bytes, 12 + 3000, 1));
    struct virtio_net_hdr_v1 ecn = tso;
    ecn.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
    memcpy(bytes, &ecn, 12);
    assert_true(receive(fixture, bytes, 12 + 3000, 1));
    assert_int_equal(net->stats.rx_bad_header, 2);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 2);

    /* A driver without checksum offloads: DATA_VALID means nothing to it,
     * NEEDS_CSUM would be a broken frame. */
    start(fixture, BASIC_FEATURES);
    assert_int_equal(fixture->fake->offloads, 0);
    first = post_rx(fixture, 2, 4096);
    struct virtio_net_hdr_v1 valid = {VIRTIO_NET_HDR_F_DATA_VALID, 0, 0, 0, 0, 0, 0};
    memcpy(bytes, &valid, 12);
    assert_true(receive(fixture, bytes, 12 + 100, 1));
    assert_int_equal(header_at(fixture, first).flags, 0);
    assert_int_equal(header_at(fixture, first).num_buffers, 1);
    struct virtio_net_hdr_v1 partial = {VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 0, 0, 34, 16, 0};
    memcpy(bytes, &partial, 12);
    assert_true(receive(fixture, bytes, 12 + 100, 1));
    assert_int_equal(net->stats.rx_bad_header, 3);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 1);

    /* A back end that cannot: the device keeps checking against what it had. */
    fixture->fake->fail_offloads = true;
    start(fixture, BASIC_FEATURES | VIRTIO_NET_F_GUEST_CSUM);
    assert_int_equal(net->rx_offloads, 0);
}

/* --- the receive filter ---------------------------------------------------- */

static bool delivered(struct fixture *fixture, const uint8_t destination[6])
{
    uint16_t before = used_idx(fixture, VIRTIO_NET_RX_QUEUE);
    uint64_t filtered = fixture->net->stats.rx_filtered;
    assert_true(receive_frame(fixture, destination, 60));
    bool got = used_idx(fixture, VIRTIO_NET_RX_QUEUE) != before;
    assert_int_equal(fixture->net->stats.rx_filtered, filtered + !got);
    return got;
}

static void test_rx_filter(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    post_rx(fixture, QUEUE_SIZE, 128);
    /* Before the driver sets a filter: everything. */
    assert_true(delivered(fixture, other_mac));
    /* What Linux sends when the interface comes up: promisc off, allmulti
     * off, its multicast list (IPv6 all-nodes among it). */
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_ALLMULTI, 0), VIRTIO_NET_OK);
    assert_int_equal(set_tables(fixture, NULL, 0, &ipv6_all_nodes, 1), VIRTIO_NET_OK);
    assert_true(delivered(fixture, our_mac));
    assert_true(delivered(fixture, all_ones));
    assert_true(delivered(fixture, ipv6_all_nodes));
    assert_false(delivered(fixture, other_mac));
    assert_false(delivered(fixture, mdns_mac));
    /* All multicast. */
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK);
    assert_true(delivered(fixture, mdns_mac));
    assert_false(delivered(fixture, other_mac));
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_ALLMULTI, 0), VIRTIO_NET_OK);
    /* A second unicast address in the table. */
    assert_int_equal(set_tables(fixture, &other_mac, 1, &mdns_mac, 1), VIRTIO_NET_OK);
    assert_true(delivered(fixture, other_mac));
    assert_true(delivered(fixture, mdns_mac));
    assert_false(delivered(fixture, ipv6_all_nodes)); /* replaced */
    /* Promiscuous. */
    assert_int_equal(set_tables(fixture, NULL, 0, NULL, 0), VIRTIO_NET_OK);
    assert_false(delivered(fixture, other_mac));
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_PROMISC, 1), VIRTIO_NET_OK);
    assert_true(delivered(fixture, other_mac));
    assert_true(delivered(fixture, mdns_mac));
}

/* A running device with receive buffers and its filter on (promiscuous
 * mode off, as Linux sets it first). */
static void start_filtering(struct fixture *fixture)
{
    start(fixture, BASIC_FEATURES);
    post_rx(fixture, QUEUE_SIZE, 128);
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
}

static void test_rx_filter_extra(void **state)
{
    struct fixture *fixture = *state;
    start_filtering(fixture);
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_NOBCAST, 1), VIRTIO_NET_OK);
    assert_false(delivered(fixture, all_ones));
    assert_true(delivered(fixture, our_mac));
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_NOUNI, 1), VIRTIO_NET_OK);
    assert_false(delivered(fixture, our_mac));
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_NOUNI, 0), VIRTIO_NET_OK);
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_ALLUNI, 1), VIRTIO_NET_OK);
    assert_true(delivered(fixture, other_mac));
    assert_int_equal(set_tables(fixture, NULL, 0, &mdns_mac, 1), VIRTIO_NET_OK);
    assert_true(delivered(fixture, mdns_mac));
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_NOMULTI, 1), VIRTIO_NET_OK);
    assert_false(delivered(fixture, mdns_mac));
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK);
    assert_false(delivered(fixture, mdns_mac)); /* nomulti wins */
    /* Promiscuous overrides them all. */
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_PROMISC, 1), VIRTIO_NET_OK);
    assert_true(delivered(fixture, all_ones));
    assert_true(delivered(fixture, mdns_mac));
}

static void test_rx_filter_overflow(void **state)
{
    struct fixture *fixture = *state;
    start_filtering(fixture);
    /* More addresses than the table holds: all of that kind pass. */
    static uint8_t many[VIRTIO_NET_MAC_TABLE_ENTRIES + 1][6];
    for (unsigned i = 0; i < VIRTIO_NET_MAC_TABLE_ENTRIES + 1; i++) {
        static const uint8_t base[6] = {0x02, 0, 0, 0, 0, 0};
        memcpy(many[i], base, 6);
        many[i][5] = (uint8_t)i;
    }
    assert_int_equal(set_tables(fixture, many, VIRTIO_NET_MAC_TABLE_ENTRIES, NULL, 0),
                     VIRTIO_NET_OK);
    assert_false(fixture->net->filter.unicast_overflow);
    assert_false(delivered(fixture, other_mac));
    uint8_t listed[6] = {0x02, 0, 0, 0, 0, 63};
    assert_true(delivered(fixture, listed));
    assert_int_equal(set_tables(fixture, many, VIRTIO_NET_MAC_TABLE_ENTRIES + 1, NULL, 0),
                     VIRTIO_NET_OK);
    assert_true(fixture->net->filter.unicast_overflow);
    assert_true(delivered(fixture, other_mac));
    assert_false(delivered(fixture, mdns_mac));
    for (unsigned i = 0; i < VIRTIO_NET_MAC_TABLE_ENTRIES + 1; i++)
        many[i][0] = 0x01;
    assert_int_equal(set_tables(fixture, NULL, 0, many, VIRTIO_NET_MAC_TABLE_ENTRIES + 1),
                     VIRTIO_NET_OK);
    assert_true(delivered(fixture, mdns_mac));
    assert_false(delivered(fixture, other_mac));
}

/* --- control commands ------------------------------------------------------ */

static void test_control_rx_commands(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    struct virtio_net_filter *filter = &fixture->net->filter;
    static const struct {
        uint8_t command;
        size_t field;
    } modes[] = {
        {VIRTIO_NET_CTRL_RX_PROMISC, offsetof(struct virtio_net_filter, promisc)},
        {VIRTIO_NET_CTRL_RX_ALLMULTI, offsetof(struct virtio_net_filter, allmulti)},
        {VIRTIO_NET_CTRL_RX_ALLUNI, offsetof(struct virtio_net_filter, alluni)},
        {VIRTIO_NET_CTRL_RX_NOMULTI, offsetof(struct virtio_net_filter, nomulti)},
        {VIRTIO_NET_CTRL_RX_NOUNI, offsetof(struct virtio_net_filter, nouni)},
        {VIRTIO_NET_CTRL_RX_NOBCAST, offsetof(struct virtio_net_filter, nobcast)},
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        bool *field = (bool *)((uint8_t *)filter + modes[i].field);
        assert_int_equal(control_rx(fixture, modes[i].command, 1), VIRTIO_NET_OK);
        assert_true(*field);
        assert_int_equal(control_rx(fixture, modes[i].command, 0), VIRTIO_NET_OK);
        assert_false(*field);
        /* Not 0 or 1; no byte; two bytes. */
        assert_int_equal(control_rx(fixture, modes[i].command, 2), VIRTIO_NET_ERR);
        assert_int_equal(control(fixture, VIRTIO_NET_CTRL_RX, modes[i].command, NULL, 0),
                         VIRTIO_NET_ERR);
        static const uint8_t two[2] = {1, 1};
        assert_int_equal(control(fixture, VIRTIO_NET_CTRL_RX, modes[i].command, two, 2),
                         VIRTIO_NET_ERR);
        assert_false(*field);
    }
    assert_int_equal(control_rx(fixture, 6, 1), VIRTIO_NET_ERR);
    assert_int_equal(control_rx(fixture, 0xff, 1), VIRTIO_NET_ERR);
    assert_int_equal(fixture->net->stats.ctrl_errors, 6 * 3 + 2);

    /* Without CTRL_RX_EXTRA only the first two exist; without CTRL_RX none. */
    start(fixture, BASIC_FEATURES & ~VIRTIO_NET_F_CTRL_RX_EXTRA);
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK);
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_NOBCAST, 1), VIRTIO_NET_ERR);
    assert_false(filter->nobcast);
    start(fixture, VIRTIO_NET_F_CTRL_VQ);
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_ERR);
    assert_true(filter->promisc);
}

static void test_control_mac_table(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    struct virtio_net_filter *filter = &fixture->net->filter;
    static const uint8_t multicast[3][6] = {
        {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01},
        {0x33, 0x33, 0x00, 0x00, 0x00, 0x01},
        {0x33, 0x33, 0xff, 0x12, 0x34, 0x56},
    };
    static const uint8_t unicast[2][6] = {{0x02, 1, 2, 3, 4, 5}, {0x02, 6, 7, 8, 9, 10}};
    assert_int_equal(set_tables(fixture, unicast, 2, multicast, 3), VIRTIO_NET_OK);
    assert_int_equal(filter->unicast_count, 2);
    assert_int_equal(filter->multicast_count, 3);
    assert_memory_equal(filter->unicast, unicast, sizeof(unicast));
    assert_memory_equal(filter->multicast, multicast, sizeof(multicast));

    /* Malformed tables change nothing. */
    uint8_t data[4 + 12 + 4 + 18 + 1];
    uint32_t two = 2, three = 3, lots = 0x80000000u;
    memcpy(data, &two, 4);
    memcpy(data + 4, unicast, 12);
    memcpy(data + 16, &three, 4);
    memcpy(data + 20, multicast, 18);
    data[38] = 0;
    struct virtio_net_filter before = *filter;
    /* One byte too many; one too few; no multicast table; a count beyond
     * the data, a huge one; nothing at all. */
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, 0, data, 39), VIRTIO_NET_ERR);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, 0, data, 37), VIRTIO_NET_ERR);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, 0, data, 16), VIRTIO_NET_ERR);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, 0, data, 18), VIRTIO_NET_ERR);
    memcpy(data, &lots, 4);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, 0, data, 38), VIRTIO_NET_ERR);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, 0, data, 3), VIRTIO_NET_ERR);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, 0, NULL, 0), VIRTIO_NET_ERR);
    assert_memory_equal(filter, &before, sizeof(before));
    /* An empty pair of tables is fine. */
    assert_int_equal(set_tables(fixture, NULL, 0, NULL, 0), VIRTIO_NET_OK);
    assert_int_equal(filter->unicast_count + filter->multicast_count, 0);
    /* Not without CTRL_RX. */
    start(fixture, VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_MAC_ADDR);
    assert_int_equal(set_tables(fixture, unicast, 2, multicast, 3), VIRTIO_NET_ERR);
}

static void test_control_mac_addr(void **state)
{
    struct fixture *fixture = *state;
    start_filtering(fixture);
    struct virtio_net *net = fixture->net;
    static const uint8_t new_mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    assert_int_equal(
        control(fixture, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, 6),
        VIRTIO_NET_OK);
    assert_memory_equal(net->config, new_mac, 6);
    assert_true(delivered(fixture, new_mac));
    assert_false(delivered(fixture, our_mac));
    /* Short, long, multicast, zero: refused, address kept. */
    assert_int_equal(
        control(fixture, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, our_mac, 5),
        VIRTIO_NET_ERR);
    static const uint8_t seven[7] = {0x02, 1, 2, 3, 4, 5, 6};
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, seven, 7),
                     VIRTIO_NET_ERR);
    assert_int_equal(
        control(fixture, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mdns_mac, 6),
        VIRTIO_NET_ERR);
    static const uint8_t zero[6];
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, zero, 6),
                     VIRTIO_NET_ERR);
    assert_memory_equal(net->config, new_mac, 6);
    /* Not without CTRL_MAC_ADDR. */
    start(fixture, BASIC_FEATURES & ~VIRTIO_NET_F_CTRL_MAC_ADDR);
    assert_memory_equal(net->config, our_mac, 6); /* the reset restored it */
    assert_int_equal(
        control(fixture, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, 6),
        VIRTIO_NET_ERR);
    assert_memory_equal(net->config, our_mac, 6);
}

static void test_control_guest_offloads(void **state)
{
    struct fixture *fixture = *state;
    make_net(fixture, true, ALL_OFFLOADS);
    struct virtio_net *net = fixture->net;
    struct fake_backend *fake = fixture->fake;
    uint64_t features = BASIC_FEATURES | VIRTIO_NET_F_CTRL_GUEST_OFFLOADS |
                        VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6;
    start(fixture, features);
    assert_int_equal(fake->offloads, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6);
    /* As Linux turns off receive coalescing: checksums stay. */
    uint64_t wanted = VIRTIO_NET_F_GUEST_CSUM;
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
                             VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &wanted, 8),
                     VIRTIO_NET_OK);
    assert_int_equal(fake->offloads, NET_OFFLOAD_CSUM);
    assert_int_equal(net->rx_offloads, NET_OFFLOAD_CSUM);
    /* As it does for XDP: none. */
    wanted = 0;
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
                             VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &wanted, 8),
                     VIRTIO_NET_OK);
    assert_int_equal(net->rx_offloads, 0);
    /* Only negotiated ones; eight bytes exactly; a back end that refuses. */
    wanted = VIRTIO_NET_F_GUEST_UFO;
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
                             VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &wanted, 8),
                     VIRTIO_NET_ERR);
    wanted = VIRTIO_NET_F_MRG_RXBUF;
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
                             VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &wanted, 8),
                     VIRTIO_NET_ERR);
    wanted = VIRTIO_NET_F_GUEST_CSUM;
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
                             VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &wanted, 4),
                     VIRTIO_NET_ERR);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_GUEST_OFFLOADS, 1, &wanted, 8),
                     VIRTIO_NET_ERR);
    fake->fail_offloads = true;
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
                             VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &wanted, 8),
                     VIRTIO_NET_ERR);
    assert_int_equal(net->rx_offloads, 0);
    fake->fail_offloads = false;
    /* Not without the feature. */
    start(fixture, features & ~VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_GUEST_OFFLOADS,
                             VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET, &wanted, 8),
                     VIRTIO_NET_ERR);
}

static void test_control_unknown_and_malformed(void **state)
{
    struct fixture *fixture = *state;
    start(fixture, BASIC_FEATURES);
    /* Classes not offered (VLAN, ANNOUNCE, MQ, notification coalescing),
     * unknown classes and commands. */
    static const uint8_t classes[] = {2, 3, 4, 6, 7, 0x80, 0xff};
    uint8_t data[8] = {0};
    for (size_t i = 0; i < sizeof(classes); i++)
        for (uint8_t command = 0; command < 3; command++)
            assert_int_equal(control(fixture, classes[i], command, data, 2), VIRTIO_NET_ERR);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_MAC, 2, data, 6), VIRTIO_NET_ERR);
    assert_int_equal(control(fixture, VIRTIO_NET_CTRL_GUEST_OFFLOADS, 0, data, 8),
                     VIRTIO_NET_ERR); /* no vnet_hdr back end: not offered */

    /* Shorter than class and command: one byte, none. */
    uint64_t address = alloc(fixture, 16);
    fixture->host[address + 8] = NO_ACK;
    struct buffer_spec one_byte[] = {{address, 1, false}, {address + 8, 1, true}};
    struct buffer_spec no_command[] = {{address + 8, 1, true}};
    post(fixture, VIRTIO_NET_CTRL_QUEUE, one_byte, 2);
    notify(fixture, VIRTIO_NET_CTRL_QUEUE);
    assert_int_equal(fixture->host[address + 8], VIRTIO_NET_ERR);
    fixture->host[address + 8] = NO_ACK;
    post(fixture, VIRTIO_NET_CTRL_QUEUE, no_command, 1);
    notify(fixture, VIRTIO_NET_CTRL_QUEUE);
    assert_int_equal(fixture->host[address + 8], VIRTIO_NET_ERR);
    /* No room for the answer: nothing written, completed with 0 bytes. */
    fixture->host[address] = VIRTIO_NET_CTRL_RX;
    fixture->host[address + 1] = VIRTIO_NET_CTRL_RX_PROMISC;
    fixture->host[address + 2] = 0;
    struct buffer_spec no_ack[] = {{address, 3, false}};
    uint16_t before = used_idx(fixture, VIRTIO_NET_CTRL_QUEUE);
    post(fixture, VIRTIO_NET_CTRL_QUEUE, no_ack, 1);
    notify(fixture, VIRTIO_NET_CTRL_QUEUE);
    assert_int_equal(used_idx(fixture, VIRTIO_NET_CTRL_QUEUE), (uint16_t)(before + 1));
    assert_int_equal(used_length(fixture, VIRTIO_NET_CTRL_QUEUE, before), 0);
    assert_true(fixture->net->filter.promisc);
    /* The command split over buffers is one command. */
    uint8_t split[3] = {VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 0};
    uint64_t pieces = alloc(fixture, 64);
    for (unsigned i = 0; i < 3; i++)
        fixture->host[pieces + 16 * i] = split[i];
    struct buffer_spec split_command[] = {{pieces, 1, false},
                                          {pieces + 16, 1, false},
                                          {pieces + 32, 1, false},
                                          {pieces + 48, 1, true}};
    post(fixture, VIRTIO_NET_CTRL_QUEUE, split_command, 4);
    notify(fixture, VIRTIO_NET_CTRL_QUEUE);
    assert_int_equal(fixture->host[pieces + 48], VIRTIO_NET_OK);
    assert_false(fixture->net->filter.promisc);
    assert_false(fixture->net->device.status & VIRTIO_STATUS_NEEDS_RESET);
}

/* --- reset --------------------------------------------------------------------- */

static void test_reset(void **state)
{
    struct fixture *fixture = *state;
    make_net(fixture, true, ALL_OFFLOADS);
    struct virtio_net *net = fixture->net;
    start(fixture, BASIC_FEATURES | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_MRG_RXBUF);
    static const uint8_t new_mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
    assert_int_equal(control_rx(fixture, VIRTIO_NET_CTRL_RX_NOBCAST, 1), VIRTIO_NET_OK);
    assert_int_equal(set_tables(fixture, &other_mac, 1, &mdns_mac, 1), VIRTIO_NET_OK);
    assert_int_equal(
        control(fixture, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, new_mac, 6),
        VIRTIO_NET_OK);
    /* A refused frame, and a transmit chain the back end is busy for. */
    uint8_t bytes[12 + 60] = {0};
    memcpy(bytes + 12, new_mac, 6);
    assert_false(receive(fixture, bytes, sizeof(bytes), 1));
    assert_true(net->rx_refused);
    fixture->fake->eagain = 1;
    post_simple_tx(fixture, 60, 1);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(net->device.queues[VIRTIO_NET_TX_QUEUE].last_avail_idx, 0);

    virtio_device_set_status(&net->device, 0);
    /* The filter lets everything through again, the address is the one
     * given at init, the back end holding a frame is told to go on. */
    struct virtio_net_filter fresh;
    memset(&fresh, 0, sizeof(fresh));
    fresh.promisc = true;
    assert_memory_equal(&net->filter, &fresh, sizeof(fresh));
    assert_memory_equal(net->config, our_mac, 6);
    assert_false(net->rx_refused);
    assert_int_equal(fixture->fake->rx_ready_calls, 1);
    assert_int_equal(net->rx_offloads, 0);
    assert_false(net->device.queues[VIRTIO_NET_TX_QUEUE].started);
    /* A stopped device drops what the back end offers. */
    assert_true(receive(fixture, bytes, sizeof(bytes), 1));
    assert_int_equal(net->stats.rx_not_ready, 1);
    /* The link is the host's: a reset does not change it. */
    assert_int_equal(net->config[6], VIRTIO_NET_S_LINK_UP);

    /* And it runs again from the start of fresh rings. */
    start(fixture, BASIC_FEATURES);
    post_rx(fixture, 1, 2048);
    assert_true(receive(fixture, bytes, sizeof(bytes), 1));
    assert_int_equal(used_idx(fixture, VIRTIO_NET_RX_QUEUE), 1);
    post_simple_tx(fixture, 60, 2);
    notify(fixture, VIRTIO_NET_TX_QUEUE);
    assert_int_equal(fixture->fake->sends, 1);
    assert_int_equal(fixture->fake->tags[0], 2);
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_features_without_vnet_hdr),
        TEST(test_features_with_vnet_hdr),
        TEST(test_config_space),
        TEST(test_init_errors),
        TEST(test_link),
        TEST(test_tx_split_header_stripped),
        TEST(test_tx_served_by_back_end_thread),
        TEST(test_tx_header_kept),
        TEST(test_tx_header_sanitised),
        TEST(test_tx_header_stripped_refuses_offloads),
        TEST(test_tx_eagain_then_resume),
        TEST(test_tx_eagain_mid_run),
        TEST(test_tx_budget),
        TEST(test_tx_ready_without_queue),
        TEST(test_tx_bad_input),
        TEST(test_rx_one_chain),
        TEST(test_rx_merged_buffers),
        TEST(test_rx_too_few_buffers),
        TEST(test_rx_too_big),
        TEST(test_rx_bad_frames),
        TEST(test_rx_bad_chains),
        TEST(test_rx_offloads),
        TEST(test_rx_filter),
        TEST(test_rx_filter_extra),
        TEST(test_rx_filter_overflow),
        TEST(test_control_rx_commands),
        TEST(test_control_mac_table),
        TEST(test_control_mac_addr),
        TEST(test_control_guest_offloads),
        TEST(test_control_unknown_and_malformed),
        TEST(test_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
