/* virtio-net on guest memory the input fills: control commands (chains off
 * the control ring, each to virtio_net_handle_control), the transmit queue
 * served as the event loop serves it (a back end that says EAGAIN now and
 * then, tx_ready, the budget's kicks), and frames from the input given to
 * port.receive, cut into pieces, onto the receive ring; the link may go
 * down in between, and the driver may reset at the end.  Descriptors point
 * anywhere, the rings included.
 *
 * Invariants:
 *   - control: the bytes reported written never exceed the chain's writable
 *     bytes, and memory changes only inside them;
 *   - transmit: every frame the back end gets lies in guest memory (or is
 *     the device's header copy), is 14 bytes to NET_MAX_FRAME long, and its
 *     header (vnet_hdr back end) asks only for negotiated offloads, with
 *     the checksum and hdr_len inside the frame and num_buffers 0; guest
 *     memory changes only in the transmit used ring;
 *   - receive: memory changes only inside the writable buffers of chains
 *     the driver made available (and the used ring); a refused frame leaves
 *     the ring as it was; a delivered one is written whole, header included
 *     with num_buffers counting its chains, each used length inside its
 *     chain.  Where a receive buffer overlaps what the device reads to find
 *     the buffers (rings, indirect tables), the device is still run, but
 *     only AddressSanitizer judges it.
 *
 * Input: control bytes, eight frame slices, then guest memory from 0.
 *   byte 0: bit 0 vnet_hdr back end, bit 1 MRG_RXBUF, bit 2 offloads (all
 *           the device offers), bit 3 event idx, bit 4 indirect
 *           descriptors, bit 5 the link goes down for the odd frames, bit 6
 *           a reset after all, bit 7 CTRL_RX_EXTRA and CTRL_MAC_ADDR too
 *   byte 1: bits 0-2 log2 of the queue sizes (1..64), bits 3-5 the number
 *           of frames (0..7)
 *   byte 2: send i says EAGAIN if bit (i % 8) is set
 *   byte 3: bits 0-1 + 1 pieces per frame
 *   bytes 4-6: where the pieces are cut, in 256ths of the frame (a cut
 *           before the one ahead of it makes an empty piece)
 *   then 8 x (u16 offset, u16 length): frame i is those bytes of the
 *   memory image as the input gave it (clamped to it). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory.h"
#include "virtio/net.h"
#include "virtio/queue.h"

#define MEMORY_SIZE 0x4000
#define CONTROL_BYTES 7
#define SLICES 8
#define HEADER_BYTES (CONTROL_BYTES + 4 * SLICES)
#define MAX_QUEUE 64
/* Each queue's rings, fixed: table, avail ring, used ring. */
#define RINGS_SIZE 0x0a00
#define AVAIL_OFFSET 0x400
#define USED_OFFSET 0x600

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *host, *before, *allowed;
static struct guest_memory memory;
static struct virtio_net net;
static struct net_backend backend;
static uint8_t control_byte, eagain_pattern, cuts[3];
static unsigned send_attempts;
static uint16_t queue_size;

static uint64_t rings_base(unsigned queue)
{
    return (uint64_t)queue * RINGS_SIZE;
}

static uint64_t used_bytes(void)
{
    return 6 + 8ull * queue_size;
}

/* --- transmit: the back end checks what it gets --------------------------- */

static bool in_guest_memory(const void *base, size_t length)
{
    const uint8_t *p = base;
    return p >= host && length <= MEMORY_SIZE && p + length <= host + MEMORY_SIZE;
}

static void check_tx_header(const struct virtio_net_hdr_v1 *header, uint64_t length)
{
    uint64_t features = net.device.driver_features;
    if (header->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM || header->num_buffers != 0 ||
        header->hdr_len > length)
        abort();
    if (header->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if (!(features & VIRTIO_NET_F_CSUM) ||
            (uint64_t)header->csum_start + header->csum_offset + 2 > length)
            abort();
    }
    uint64_t needed = 0;
    switch (header->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
    case VIRTIO_NET_HDR_GSO_NONE:
        if (header->gso_type != VIRTIO_NET_HDR_GSO_NONE || header->gso_size != 0)
            abort();
        return;
    case VIRTIO_NET_HDR_GSO_TCPV4:
        needed = VIRTIO_NET_F_HOST_TSO4;
        break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        needed = VIRTIO_NET_F_HOST_TSO6;
        break;
    case VIRTIO_NET_HDR_GSO_UDP:
        needed = VIRTIO_NET_F_HOST_UFO;
        break;
    default:
        abort();
    }
    if (header->gso_type & VIRTIO_NET_HDR_GSO_ECN)
        needed |= VIRTIO_NET_F_HOST_ECN;
    if ((features & needed) != needed || header->gso_size == 0)
        abort();
}

static int fuzz_send(struct net_backend *self, const struct iovec *iov, int count)
{
    if (eagain_pattern & (1u << (send_attempts++ % 8))) {
        errno = EAGAIN;
        return -1;
    }
    uint64_t total = 0;
    int first = 0;
    if (self->vnet_hdr) {
        if (count < 1 || iov[0].iov_base != &net.tx_header || iov[0].iov_len != 12)
            abort();
        first = 1;
    }
    for (int i = first; i < count; i++) {
        if (!in_guest_memory(iov[i].iov_base, iov[i].iov_len) || iov[i].iov_len == 0)
            abort();
        total += iov[i].iov_len;
    }
    if (total < VIRTIO_NET_ETH_HEADER || total > NET_MAX_FRAME)
        abort();
    if (self->vnet_hdr)
        check_tx_header(&net.tx_header, total);
    return 0;
}

static void fuzz_rx_ready(struct net_backend *self)
{
    (void)self;
}

static const struct net_backend_ops fuzz_ops = {
    .kind = "fuzz",
    .send = fuzz_send,
    .rx_ready = fuzz_rx_ready,
};

/* --- memory checks -------------------------------------------------------- */

static void allow(uint64_t address, uint64_t length)
{
    if (address < MEMORY_SIZE)
        memset(allowed + address, 1,
               length < MEMORY_SIZE - address ? length : MEMORY_SIZE - address);
}

static void allow_writable(const struct virtq_chain *chain)
{
    unsigned end = chain->readable_count + chain->writable_count;
    for (unsigned i = chain->readable_count; i < end; i++)
        allow((uint64_t)((uint8_t *)chain->buffers[i].host - host), chain->buffers[i].length);
}

/* Every changed byte since the snapshot must be allowed. */
static void check_changes(void)
{
    for (size_t word = 0; word < MEMORY_SIZE; word += 8) {
        if (!memcmp(host + word, before + word, 8))
            continue;
        for (size_t i = word; i < word + 8; i++)
            if (host[i] != before[i] && !allowed[i])
                abort();
    }
}

static void snapshot(void)
{
    memcpy(before, host, MEMORY_SIZE);
    memset(allowed, 0, MEMORY_SIZE);
}

/* --- the device ------------------------------------------------------------ */

static void notify(unsigned queue)
{
    struct virtio_device *device = &net.device;
    pthread_mutex_lock(&device->lock);
    if (device->status & VIRTIO_STATUS_DRIVER_OK)
        device->ops->queue_notify(device, queue);
    pthread_mutex_unlock(&device->lock);
}

static uint64_t kicks(unsigned queue)
{
    uint64_t count = 0;
    if (read(net.device.notify_fd[queue], &count, sizeof(count)) < 0)
        count = 0;
    return count;
}

static bool bring_up(void)
{
    struct virtio_device *device = &net.device;
    uint64_t features = VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS |
                        VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_RX | VIRTIO_NET_F_SPEED_DUPLEX;
    if (control_byte & 2)
        features |= VIRTIO_NET_F_MRG_RXBUF;
    if (control_byte & 4)
        features |= device->device_features &
                    (VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 |
                     VIRTIO_NET_F_HOST_ECN | VIRTIO_NET_F_HOST_UFO | VIRTIO_NET_F_GUEST_CSUM |
                     VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 | VIRTIO_NET_F_GUEST_ECN |
                     VIRTIO_NET_F_GUEST_UFO | VIRTIO_NET_F_CTRL_GUEST_OFFLOADS);
    if (control_byte & 8)
        features |= VIRTIO_F_EVENT_IDX;
    if (control_byte & 16)
        features |= VIRTIO_F_INDIRECT_DESC;
    if (control_byte & 128)
        features |= VIRTIO_NET_F_CTRL_RX_EXTRA | VIRTIO_NET_F_CTRL_MAC_ADDR;
    device->driver_features = features;
    uint8_t status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
    virtio_device_set_status(device, status);
    for (unsigned q = 0; q < 3; q++) {
        struct virtq *queue = &device->queues[q];
        queue->size = queue_size;
        queue->desc_address = rings_base(q);
        queue->avail_address = rings_base(q) + AVAIL_OFFSET;
        queue->used_address = rings_base(q) + USED_OFFSET;
        virtio_device_enable_queue(device, q);
    }
    virtio_device_set_status(device, status | VIRTIO_STATUS_DRIVER_OK);
    for (unsigned q = 0; q < 3; q++)
        kicks(q);
    return (device->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(device->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void run_control(void)
{
    struct virtq *queue = &net.device.queues[VIRTIO_NET_CTRL_QUEUE];
    static struct virtq_chain chain;
    for (unsigned pops = 0; pops < 2u * queue_size + 2; pops++) {
        enum virtq_error error;
        int result = virtq_pop(queue, &chain, &error);
        if (result == 0 || (result < 0 && chain.head == UINT16_MAX))
            break;
        uint32_t written = 0;
        if (result == 1) {
            snapshot();
            allow_writable(&chain);
            pthread_mutex_lock(&net.device.lock);
            written = virtio_net_handle_control(&net.device, &chain);
            pthread_mutex_unlock(&net.device.lock);
            if (written > chain.writable_bytes)
                abort();
            check_changes();
        }
        virtq_push(queue, chain.head, written);
    }
}

static void run_transmit(void)
{
    snapshot();
    allow(rings_base(VIRTIO_NET_TX_QUEUE) + USED_OFFSET, used_bytes());
    for (unsigned turn = 0; turn < 16; turn++) {
        uint64_t busy = net.stats.tx_busy;
        notify(VIRTIO_NET_TX_QUEUE);
        if (net.stats.tx_busy != busy)
            backend.tx_ready(backend.port.device); /* as the back end would, later */
        if (!kicks(VIRTIO_NET_TX_QUEUE))
            break;
    }
    check_changes();
}

/* --- receive ------------------------------------------------------------------ */

/* The chains the device can take now, found as it would find them. */
static struct virtq_chain shadow[MAX_QUEUE];
static unsigned shadow_count;
static bool aliased; /* a writable buffer overlaps what finding them reads */

static bool overlaps(const struct virtq_chain *chain, uint64_t address, uint64_t length)
{
    unsigned end = chain->readable_count + chain->writable_count;
    for (unsigned i = chain->readable_count; i < end; i++) {
        uint64_t start = (uint64_t)((uint8_t *)chain->buffers[i].host - host);
        if (start < address + length && address < start + chain->buffers[i].length)
            return true;
    }
    return false;
}

static void find_rx_chains(void)
{
    struct virtq copy = net.device.queues[VIRTIO_NET_RX_QUEUE];
    uint64_t rings = rings_base(VIRTIO_NET_RX_QUEUE);
    shadow_count = 0;
    aliased = false;
    /* The regions popping reads, and the used ring the device writes. */
    uint64_t regions[MAX_QUEUE + 3][2] = {
        {rings, 16ull * queue_size},
        {rings + AVAIL_OFFSET, 6 + 2ull * queue_size},
        {rings + USED_OFFSET, used_bytes()},
    };
    unsigned region_count = 3;
    while (shadow_count < queue_size) {
        uint16_t slot = copy.last_avail_idx & (queue_size - 1);
        uint16_t head = copy.avail[2 + slot];
        if (head < queue_size && (copy.desc[head].flags & VIRTQ_DESC_F_INDIRECT)) {
            regions[region_count][0] = copy.desc[head].address;
            regions[region_count++][1] = copy.desc[head].length;
        }
        enum virtq_error error;
        struct virtq_chain *chain = &shadow[shadow_count];
        int result = virtq_pop(&copy, chain, &error);
        if (result == 0 || (result < 0 && chain->head == UINT16_MAX))
            break;
        shadow_count++;
    }
    for (unsigned c = 0; c < shadow_count; c++)
        for (unsigned r = 0; r < region_count; r++)
            aliased |= overlaps(&shadow[c], regions[r][0], regions[r][1]);
}

/* Bytes [offset, offset + length) of a chain's writable part. */
static void read_writable(const struct virtq_chain *chain, uint64_t offset, uint8_t *data,
                          uint64_t length)
{
    unsigned end = chain->readable_count + chain->writable_count;
    for (unsigned i = chain->readable_count; i < end && length; i++) {
        const struct virtq_buffer *buffer = &chain->buffers[i];
        if (offset >= buffer->length) {
            offset -= buffer->length;
            continue;
        }
        uint64_t take = buffer->length - offset < length ? buffer->length - offset : length;
        memcpy(data, (uint8_t *)buffer->host + offset, take);
        data += take;
        length -= take;
        offset = 0;
    }
}

static uint32_t load32(uint64_t address)
{
    uint32_t value;
    memcpy(&value, host + address, 4);
    return value;
}

/* The used entries this frame added: its chains, in order, each within its
 * buffers; together the header and the frame, num_buffers their count. */
static void check_delivery(uint16_t used_before, uint64_t frame_length)
{
    uint64_t used = rings_base(VIRTIO_NET_RX_QUEUE) + USED_OFFSET;
    uint16_t added = (uint16_t)(net.device.queues[VIRTIO_NET_RX_QUEUE].used_idx - used_before);
    if (added == 0 || added > shadow_count)
        abort();
    if (!(net.device.driver_features & VIRTIO_NET_F_MRG_RXBUF) && added != 1)
        abort();
    uint64_t total = 0;
    for (uint16_t k = 0; k < added; k++) {
        uint64_t entry = used + 4 + 8ull * ((used_before + k) & (queue_size - 1));
        uint32_t length = load32(entry + 4);
        if (load32(entry) != shadow[k].head || length > shadow[k].writable_bytes)
            abort();
        total += length;
    }
    if (total != VIRTIO_NET_HDR_SIZE + frame_length)
        abort();
    struct virtio_net_hdr_v1 header;
    read_writable(&shadow[0], 0, (uint8_t *)&header, sizeof(header));
    if (header.num_buffers != added)
        abort();
}

static void receive_one(const uint8_t *frame, size_t length, unsigned pieces)
{
    struct iovec iov[4];
    size_t from = 0;
    for (unsigned i = 0; i < pieces; i++) {
        size_t to = i + 1 < pieces ? length * cuts[i] / 256 : length;
        if (to < from)
            to = from;
        iov[i] = (struct iovec){(uint8_t *)frame + from, to - from};
        from = to;
    }
    find_rx_chains();
    snapshot();
    for (unsigned c = 0; c < shadow_count; c++)
        allow_writable(&shadow[c]);
    allow(rings_base(VIRTIO_NET_RX_QUEUE) + USED_OFFSET, used_bytes());
    /* The device's own counters: the ring's memory starts as the input left it. */
    const struct virtq *queue = &net.device.queues[VIRTIO_NET_RX_QUEUE];
    uint16_t last_before = queue->last_avail_idx, used_before = queue->used_idx;
    uint64_t frames_before = net.stats.rx_frames;
    bool taken = virtio_net_receive(&net, iov, (int)pieces);
    if (aliased)
        return;
    check_changes();
    if (!taken) {
        if (queue->last_avail_idx != last_before || queue->used_idx != used_before ||
            !net.rx_refused)
            abort();
        return;
    }
    if (net.stats.rx_frames != frames_before)
        check_delivery(used_before, length - (backend.vnet_hdr ? VIRTIO_NET_HDR_SIZE : 0));
}

static void run_receive(const uint8_t *image, size_t image_size, const uint8_t *slices,
                        unsigned frames, unsigned pieces)
{
    static uint8_t frame[MEMORY_SIZE];
    for (unsigned i = 0; i < frames; i++) {
        size_t offset = slices[4 * i] | (size_t)slices[4 * i + 1] << 8;
        size_t length = slices[4 * i + 2] | (size_t)slices[4 * i + 3] << 8;
        if (offset > image_size)
            offset = image_size;
        if (length > image_size - offset)
            length = image_size - offset;
        memcpy(frame, image + offset, length);
        if ((control_byte & 32) && (i & 1))
            virtio_net_set_link(&net, false);
        receive_one(frame, length, pieces);
        virtio_net_set_link(&net, true);
        if (net.rx_refused)
            notify(VIRTIO_NET_RX_QUEUE);
    }
}

/* After a reset: the filter lets everything through, nothing is taken. */
static void run_reset(void)
{
    virtio_device_set_status(&net.device, 0);
    if (!net.filter.promisc || net.filter.unicast_count || net.filter.multicast_count ||
        net.rx_refused || net.rx_offloads || memcmp(net.config + VIRTIO_NET_CONFIG_MAC, net.mac, 6))
        abort();
    static const uint8_t frame[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct iovec iov = {(void *)frame, sizeof(frame)};
    snapshot();
    if (!virtio_net_receive(&net, &iov, 1))
        abort();
    check_changes();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!host) {
        host = malloc(MEMORY_SIZE);
        before = malloc(MEMORY_SIZE);
        allowed = malloc(MEMORY_SIZE);
        if (!host || !before || !allowed)
            abort();
        guest_memory_init_over(&memory, host, MEMORY_SIZE);
    }
    if (size < HEADER_BYTES)
        return 0;
    control_byte = data[0];
    queue_size = (uint16_t)(1u << ((data[1] & 7) < 6 ? (data[1] & 7) : 6));
    unsigned frames = (data[1] >> 3) & 7;
    eagain_pattern = data[2];
    unsigned pieces = (data[3] & 3) + 1;
    memcpy(cuts, data + 4, sizeof(cuts));
    send_attempts = 0;
    const uint8_t *image = data + HEADER_BYTES;
    size_t image_size = size - HEADER_BYTES < MEMORY_SIZE ? size - HEADER_BYTES : MEMORY_SIZE;
    memset(host, 0, MEMORY_SIZE);
    memcpy(host, image, image_size);

    backend = (struct net_backend){
        .ops = &fuzz_ops,
        .vnet_hdr = control_byte & 1,
        .offloads = NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 | NET_OFFLOAD_TSO_ECN |
                    NET_OFFLOAD_UFO,
    };
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
    struct error error;
    if (virtio_net_init(&net, &memory, 0, mac, &backend, &error)) {
        fprintf(stderr, "%s\n", error.message);
        abort();
    }
    if (bring_up()) {
        run_control();
        run_transmit();
        run_receive(image, image_size, data + CONTROL_BYTES, frames, pieces);
        if (control_byte & 64)
            run_reset();
    }
    virtio_net_destroy(&net);
    return 0;
}
