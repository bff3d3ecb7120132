#include "virtio/net.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Offloads: the feature a driver accepts for frames it sends (host) and the
 * one for frames it takes (guest), and the back end's name for both. */
static const struct {
    uint64_t host, guest;
    unsigned offload;
} virtio_net_offload_bits[] = {
    {VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, NET_OFFLOAD_CSUM},
    {VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_GUEST_TSO4, NET_OFFLOAD_TSO4},
    {VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_GUEST_TSO6, NET_OFFLOAD_TSO6},
    {VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_GUEST_ECN, NET_OFFLOAD_TSO_ECN},
    {VIRTIO_NET_F_HOST_UFO, VIRTIO_NET_F_GUEST_UFO, NET_OFFLOAD_UFO},
};
#define OFFLOAD_BIT_COUNT (sizeof(virtio_net_offload_bits) / sizeof(virtio_net_offload_bits[0]))

#define GUEST_OFFLOAD_FEATURES                                                                     \
    (VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4 | VIRTIO_NET_F_GUEST_TSO6 |                 \
     VIRTIO_NET_F_GUEST_ECN | VIRTIO_NET_F_GUEST_UFO)

static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void put_le16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2); /* x86 hosts only: little-endian already */
}

static void put_le32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* NET_OFFLOAD_* that the host (or the guest) feature bits in features name. */
static unsigned virtio_net_offloads_of(uint64_t features, bool guest)
{
    unsigned offloads = 0;
    for (size_t i = 0; i < OFFLOAD_BIT_COUNT; i++)
        if (features & (guest ? virtio_net_offload_bits[i].guest : virtio_net_offload_bits[i].host))
            offloads |= virtio_net_offload_bits[i].offload;
    return offloads;
}

static bool virtio_net_is_unicast(const uint8_t mac[6])
{
    static const uint8_t zero[6];
    return !(mac[0] & 1) && memcmp(mac, zero, 6) != 0;
}

/* What we offer.  Offloads only to a back end that takes the header: the
 * device itself computes no checksum and splits no segment. */
static uint64_t virtio_net_features(const struct net_backend *backend)
{
    uint64_t features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_MRG_RXBUF |
                        VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_RX | VIRTIO_NET_F_CTRL_RX_EXTRA |
                        VIRTIO_NET_F_CTRL_MAC_ADDR | VIRTIO_NET_F_SPEED_DUPLEX;
    if (!backend->vnet_hdr)
        return features;
    /* Frames to the guest carry only what it accepted: the back end is told
     * (set_rx_offloads), and receive checks. */
    features |= GUEST_OFFLOAD_FEATURES | VIRTIO_NET_F_CTRL_GUEST_OFFLOADS;
    /* Segmentation needs partial checksums, and ECN a segmentation (5.1.3.1). */
    unsigned offloads = backend->offloads;
    if (!(offloads & NET_OFFLOAD_CSUM))
        return features;
    if (!(offloads & (NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6)))
        offloads &= ~(unsigned)NET_OFFLOAD_TSO_ECN;
    for (size_t i = 0; i < OFFLOAD_BIT_COUNT; i++)
        if (offloads & virtio_net_offload_bits[i].offload)
            features |= virtio_net_offload_bits[i].host;
    return features;
}

/* Every frame, as after a reset, until the driver sets a filter. */
static void virtio_net_filter_reset(struct virtio_net_filter *filter)
{
    memset(filter, 0, sizeof(*filter));
    filter->promisc = true;
}

static bool virtio_net_in_table(const uint8_t table[][6], unsigned count, const uint8_t mac[6])
{
    for (unsigned i = 0; i < count; i++)
        if (!memcmp(table[i], mac, 6))
            return true;
    return false;
}

/* Does the receive filter let a frame for destination through? */
static bool virtio_net_accepts(const struct virtio_net *net, const uint8_t destination[6])
{
    const struct virtio_net_filter *filter = &net->filter;
    if (filter->promisc)
        return true;
    if (!memcmp(destination, broadcast, 6))
        return !filter->nobcast;
    if (destination[0] & 1) {
        if (filter->nomulti)
            return false;
        return filter->allmulti || filter->multicast_overflow ||
               virtio_net_in_table(filter->multicast, filter->multicast_count, destination);
    }
    if (filter->nouni)
        return false;
    return filter->alluni || filter->unicast_overflow ||
           !memcmp(destination, net->config + VIRTIO_NET_CONFIG_MAC, 6) ||
           virtio_net_in_table(filter->unicast, filter->unicast_count, destination);
}

/* May a frame with header go to (or come from) a driver that takes the
 * offloads given (NET_OFFLOAD_*)?  Only the GSO types the spec names, and a
 * segment size for those. */
static bool virtio_net_offloads_allow(const struct virtio_net_hdr_v1 *header, unsigned offloads)
{
    if ((header->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !(offloads & NET_OFFLOAD_CSUM))
        return false;
    unsigned needed;
    switch (header->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
    case VIRTIO_NET_HDR_GSO_NONE:
        return !(header->gso_type & VIRTIO_NET_HDR_GSO_ECN); /* ECN of no segmentation */
    case VIRTIO_NET_HDR_GSO_TCPV4:
        needed = NET_OFFLOAD_TSO4;
        break;
    case VIRTIO_NET_HDR_GSO_TCPV6:
        needed = NET_OFFLOAD_TSO6;
        break;
    case VIRTIO_NET_HDR_GSO_UDP:
        needed = NET_OFFLOAD_UFO;
        break;
    default:
        return false;
    }
    if (header->gso_type & VIRTIO_NET_HDR_GSO_ECN)
        needed |= NET_OFFLOAD_TSO_ECN;
    return header->gso_size != 0 && (offloads & needed) == needed;
}

/* A header from the driver, made safe for the back end: only what was
 * negotiated, offsets inside the frame of length bytes, nothing meant for
 * received frames.  False when the frame cannot go at all. */
static bool virtio_net_tx_header_ok(const struct virtio_net *net, struct virtio_net_hdr_v1 *header,
                                    uint64_t length)
{
    unsigned offloads = virtio_net_offloads_of(net->device.driver_features, false);
    if (!virtio_net_offloads_allow(header, offloads))
        return false;
    if (header->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        if ((uint64_t)header->csum_start + header->csum_offset + 2 > length)
            return false; /* the checksum would land outside the frame */
    } else {
        header->csum_start = header->csum_offset = 0;
    }
    header->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM; /* DATA_VALID, RSC_INFO: receive only */
    if (header->gso_type == VIRTIO_NET_HDR_GSO_NONE)
        header->gso_size = 0;
    if (header->hdr_len > length)
        header->hdr_len = (uint16_t)length;
    header->num_buffers = 0;
    return true;
}

/* A back end's header for the guest: only offloads the guest takes now. */
static bool virtio_net_rx_header_ok(const struct virtio_net *net, struct virtio_net_hdr_v1 *header)
{
    if (!virtio_net_offloads_allow(header, net->rx_offloads))
        return false;
    /* "Checksum already checked" is news only to a driver taking checksum
     * offloads; receive segment coalescing is not offered. */
    header->flags &= (net->rx_offloads & NET_OFFLOAD_CSUM)
                         ? (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID)
                         : 0;
    return true;
}

/* Tells the back end what the guest takes in frames now; false (and the
 * old state kept) when the back end refuses. */
static bool virtio_net_set_rx_offloads(struct virtio_net *net, unsigned offloads)
{
    struct net_backend *backend = net->backend;
    if (backend->vnet_hdr && backend->ops->set_rx_offloads) {
        struct error error = {{0}};
        if (backend->ops->set_rx_offloads(backend, offloads, &error)) {
            log_once("virtio-net %s: the %s back end cannot take offloads 0x%x: %s", net->name,
                     backend->ops->kind, offloads, error.message);
            return false;
        }
    }
    net->rx_offloads = offloads;
    return true;
}

/* --- receive: frames from the back end into the receive queue ------------- */

/* A frame as the back end gave it: the Ethernet frame is bytes [offset,
 * offset + length) of the iovec, after the back end's header if any. */
struct virtio_net_frame {
    const struct iovec *iov;
    int count;
    uint64_t offset, length;
    struct virtio_net_hdr_v1 header; /* what the guest gets, num_buffers aside */
};

enum virtio_net_fill { FILL_DONE, FILL_DROPPED, FILL_NO_BUFFERS };

/* Total bytes of the iovec, stopping early once past limit. */
static uint64_t virtio_net_iov_bytes(const struct iovec *iov, int count, uint64_t limit)
{
    uint64_t total = 0;
    for (int i = 0; i < count && total <= limit; i++)
        total += iov[i].iov_len;
    return total;
}

/* Copies iovec bytes [offset, offset + length) to the chain's writable
 * part at chain_offset (or, with no chain, to data); returns how many fit. */
static uint64_t virtio_net_copy_out(const struct iovec *iov, int count, uint64_t offset,
                                    uint64_t length, const struct virtq_chain *chain,
                                    uint64_t chain_offset, uint8_t *data)
{
    uint64_t done = 0;
    for (int i = 0; i < count && done < length; i++) {
        if (offset >= iov[i].iov_len) {
            offset -= iov[i].iov_len;
            continue;
        }
        uint64_t take = iov[i].iov_len - offset;
        if (take > length - done)
            take = length - done;
        const uint8_t *source = (const uint8_t *)iov[i].iov_base + offset;
        uint64_t copied = take;
        if (chain)
            copied = virtq_chain_write(chain, chain_offset + done, source, take);
        else
            memcpy(data + done, source, take);
        done += copied;
        if (copied < take)
            break; /* the chain is full */
        offset = 0;
    }
    return done;
}

/* Returns the first count chains of this frame to the driver unused (a bad
 * chain among them: the frame is dropped, the driver sees empty buffers). */
static void virtio_net_rx_discard(struct virtio_net *net, unsigned count)
{
    struct virtq *queue = &net->device.queues[VIRTIO_NET_RX_QUEUE];
    for (unsigned i = 0; i < count; i++)
        virtq_push(queue, net->rx_heads[i], 0);
    virtio_device_interrupt_queue(&net->device, VIRTIO_NET_RX_QUEUE);
}

/* Takes chains off the receive ring until header and frame fit, then
 * completes them all.  On FILL_NO_BUFFERS *taken chains are still out. */
static enum virtio_net_fill virtio_net_fill(struct virtio_net *net,
                                            const struct virtio_net_frame *frame, unsigned *taken)
{
    struct virtio_device *device = &net->device;
    struct virtq *queue = &device->queues[VIRTIO_NET_RX_QUEUE];
    bool merge = virtio_device_has(device, VIRTIO_NET_F_MRG_RXBUF);
    /* Without MRG_RXBUF one chain must hold it all (5.1.6.3.2). */
    unsigned limit = !merge                                ? 1
                     : queue->size < VIRTIO_NET_QUEUE_SIZE ? queue->size
                                                           : VIRTIO_NET_QUEUE_SIZE;
    uint64_t placed = 0;
    unsigned count = 0;
    while (placed < frame->length) {
        if (count == limit) {
            /* Too big for a buffer, or for the whole ring: the buffers go
             * back for the next frame. */
            virtq_unpop(queue, (uint16_t)count);
            net->stats.rx_too_big++;
            log_once("virtio-net %s: a frame of %llu bytes does not fit %s", net->name,
                     (unsigned long long)frame->length,
                     merge ? "the whole receive ring" : "a receive buffer (no MRG_RXBUF)");
            return FILL_DROPPED;
        }
        struct virtq_chain *chain = count == 0 ? &net->rx_first : &net->rx_next;
        enum virtq_error error;
        int result = virtq_pop(queue, chain, &error);
        if (result == 0) {
            *taken = count;
            return FILL_NO_BUFFERS;
        }
        if (result < 0 && chain->head == UINT16_MAX) {
            virtio_device_needs_reset(device, virtq_error_text(error));
            return FILL_DROPPED;
        }
        net->rx_heads[count] = chain->head;
        /* The first chain holds the header; every chain some of the frame. */
        uint64_t start = count == 0 ? VIRTIO_NET_HDR_SIZE : 0;
        if (result < 0 || chain->writable_bytes <= start) {
            virtio_net_rx_discard(net, count + 1);
            net->stats.rx_bad_chain++;
            log_once("virtio-net %s: bad receive buffer: %s", net->name,
                     result < 0 ? virtq_error_text(error) : "too small");
            return FILL_DROPPED;
        }
        uint64_t copied = virtio_net_copy_out(frame->iov, frame->count, frame->offset + placed,
                                              frame->length - placed, chain, start, NULL);
        placed += copied;
        net->rx_lengths[count++] = (uint32_t)(start + copied);
    }
    /* The header last, now that the number of buffers is known. */
    struct virtio_net_hdr_v1 header = frame->header;
    header.num_buffers = (uint16_t)count;
    virtq_chain_write(&net->rx_first, 0, &header, sizeof(header));
    for (unsigned i = 0; i < count; i++)
        virtq_push(queue, net->rx_heads[i], net->rx_lengths[i]);
    virtio_device_interrupt_queue(device, VIRTIO_NET_RX_QUEUE);
    net->stats.rx_frames++;
    net->stats.rx_bytes += frame->length;
    return FILL_DONE;
}

/* Delivers the frame, or leaves the ring as it was and returns false when
 * there are too few buffers. */
static bool virtio_net_deliver(struct virtio_net *net, const struct virtio_net_frame *frame)
{
    struct virtq *queue = &net->device.queues[VIRTIO_NET_RX_QUEUE];
    for (;;) {
        unsigned taken = 0;
        if (virtio_net_fill(net, frame, &taken) != FILL_NO_BUFFERS)
            return true;
        /* Ask for a notification while the index still stands past every
         * buffer seen (with event idx the driver notifies only once it
         * passes that), then give the chains back; buffers that came
         * meanwhile are tried at once. */
        bool more = virtq_enable_notification(queue);
        virtq_unpop(queue, (uint16_t)taken);
        if (!more)
            break;
    }
    net->rx_refused = true;
    net->stats.rx_no_buffers++;
    return false;
}

static bool virtio_net_rx_running(const struct virtio_device *device)
{
    return (device->status & VIRTIO_STATUS_DRIVER_OK) &&
           (device->status & VIRTIO_STATUS_FEATURES_OK) &&
           !(device->status & VIRTIO_STATUS_NEEDS_RESET) &&
           device->queues[VIRTIO_NET_RX_QUEUE].started;
}

/* Device lock held: checks the frame, then delivers it. */
static bool virtio_net_receive_locked(struct virtio_net *net, const struct iovec *iov, int count)
{
    if (!virtio_net_rx_running(&net->device) || net->vhost_running) {
        net->stats.rx_not_ready++;
        return true;
    }
    if (!net->link_up) {
        net->stats.rx_link_down++;
        return true;
    }
    struct virtio_net_frame frame = {iov, count > 0 ? count : 0, 0, 0, {0}};
    frame.offset = net->backend->vnet_hdr ? VIRTIO_NET_HDR_SIZE : 0;
    uint64_t total = virtio_net_iov_bytes(iov, frame.count, frame.offset + NET_MAX_FRAME);
    if (total < frame.offset + VIRTIO_NET_ETH_HEADER || total > frame.offset + NET_MAX_FRAME) {
        net->stats.rx_bad_size++;
        log_once("virtio-net %s: dropped a frame of %llu bytes%s from the %s back end", net->name,
                 (unsigned long long)total, frame.offset ? " with its header" : "",
                 net->backend->ops->kind);
        return true;
    }
    frame.length = total - frame.offset;
    if (frame.offset) {
        virtio_net_copy_out(iov, frame.count, 0, VIRTIO_NET_HDR_SIZE, NULL, 0,
                            (uint8_t *)&frame.header);
        if (!virtio_net_rx_header_ok(net, &frame.header)) {
            net->stats.rx_bad_header++;
            log_once("virtio-net %s: dropped a frame with offloads the guest does not take "
                     "(flags 0x%x, GSO type 0x%x)",
                     net->name, frame.header.flags, frame.header.gso_type);
            return true;
        }
    }
    uint8_t destination[6];
    virtio_net_copy_out(iov, frame.count, frame.offset, 6, NULL, 0, destination);
    if (!virtio_net_accepts(net, destination)) {
        net->stats.rx_filtered++;
        return true;
    }
    return virtio_net_deliver(net, &frame);
}

bool virtio_net_receive(void *opaque, const struct iovec *iov, int count)
{
    struct virtio_net *net = opaque;
    pthread_mutex_lock(&net->device.lock);
    bool taken = virtio_net_receive_locked(net, iov, count);
    pthread_mutex_unlock(&net->device.lock);
    return taken;
}

/* The driver posted receive buffers (or reset the device): a back end
 * holding a frame we refused may offer it again. */
static void virtio_net_rx_posted(struct virtio_net *net)
{
    if (!net->rx_refused)
        return;
    net->rx_refused = false;
    if (net->backend->ops->rx_ready)
        net->backend->ops->rx_ready(net->backend);
}

/* --- transmit: the transmit queue to the back end -------------------------- */

/* iovecs for the chain's readable bytes from offset on; returns the count. */
static int virtio_net_readable_iov(const struct virtq_chain *chain, uint64_t offset,
                                   struct iovec *iov)
{
    int count = 0;
    for (unsigned i = 0; i < chain->readable_count; i++) {
        const struct virtq_buffer *buffer = &chain->buffers[i];
        if (offset >= buffer->length) {
            offset -= buffer->length;
            continue;
        }
        iov[count++] = (struct iovec){(uint8_t *)buffer->host + offset, buffer->length - offset};
        offset = 0;
    }
    return count;
}

int virtio_net_transmit_chain(struct virtio_net *net, const struct virtq_chain *chain)
{
    struct virtio_net_stats *stats = &net->stats;
    if (chain->readable_bytes < VIRTIO_NET_HDR_SIZE) {
        stats->tx_bad_chain++;
        log_once("virtio-net %s: transmit buffer shorter than its header", net->name);
        return 0;
    }
    uint64_t length = chain->readable_bytes - VIRTIO_NET_HDR_SIZE;
    if (!net->link_up) {
        stats->tx_link_down++;
        return 0;
    }
    if (length < VIRTIO_NET_ETH_HEADER || length > NET_MAX_FRAME) {
        stats->tx_bad_size++;
        log_once("virtio-net %s: dropped a transmitted frame of %llu bytes", net->name,
                 (unsigned long long)length);
        return 0;
    }
    /* Read once into our memory: the back end sees what was checked, however
     * the guest changes its buffer meanwhile. */
    struct virtio_net_hdr_v1 header;
    virtq_chain_read(chain, 0, &header, sizeof(header));
    if (!virtio_net_tx_header_ok(net, &header, length)) {
        stats->tx_bad_header++;
        log_once("virtio-net %s: dropped a transmitted frame asking for offloads not "
                 "negotiated or outside the frame (flags 0x%x, GSO type 0x%x)",
                 net->name, header.flags, header.gso_type);
        return 0;
    }
    struct net_backend *backend = net->backend;
    int count = 0;
    if (backend->vnet_hdr) {
        net->tx_header = header;
        net->tx_iov[count++] = (struct iovec){&net->tx_header, sizeof(net->tx_header)};
    }
    count += virtio_net_readable_iov(chain, VIRTIO_NET_HDR_SIZE, net->tx_iov + count);
    errno = 0;
    int sent = backend->ops->send(backend, net->tx_iov, count);
    if (sent < 0 && errno == EAGAIN) {
        stats->tx_busy++;
        return -1;
    }
    if (sent == 0) {
        stats->tx_frames++;
        stats->tx_bytes += length;
    }
    return 0;
}

/* Makes the event loop serve queue again soon: writing its notify eventfd
 * is what a guest's notification does.  Safe from any thread, and before
 * the queue is running (the loop serves only a running queue). */
static void virtio_net_kick(struct virtio_net *net, unsigned queue)
{
    int fd = net->device.notify_fd[queue];
    uint64_t one = 1;
    /* EAGAIN: the counter is full, so a notification is pending anyway. */
    if (fd >= 0 && write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_once("virtio-net %s: kicking the transmit queue: %s", net->name, strerror(errno));
}

void virtio_net_tx_ready(void *opaque)
{
    virtio_net_kick(opaque, VIRTIO_NET_TX_QUEUE);
}

/* serve_transmit's serve: in the back end's thread, on a notification. */
static void virtio_net_transmit_notified(void *opaque)
{
    struct virtio_net *net = opaque;
    virtio_device_notified(&net->device, VIRTIO_NET_TX_QUEUE);
}

/* One turn on the transmit queue: until it is empty, the back end is busy
 * (the chain stays on the ring until tx_ready), or the budget is spent (the
 * queue is kicked again, so that other devices on the loop get their turn). */
static void virtio_net_transmit(struct virtio_net *net)
{
    struct virtio_device *device = &net->device;
    struct virtq *queue = &device->queues[VIRTIO_NET_TX_QUEUE];
    struct virtq_chain *chain = &net->chain;
    unsigned frames = 0;
    bool pushed = false;
    for (;;) {
        enum virtq_error error;
        int result;
        while ((result = virtq_pop(queue, chain, &error)) != 0) {
            if (result < 0 && chain->head == UINT16_MAX) {
                virtio_device_needs_reset(device, virtq_error_text(error));
                goto done;
            }
            if (result < 0) {
                net->stats.tx_bad_chain++;
                log_once("virtio-net %s: bad transmit chain: %s", net->name,
                         virtq_error_text(error));
            } else if (virtio_net_transmit_chain(net, chain) < 0) {
                virtq_unpop(queue, 1);
                goto done;
            }
            virtq_push(queue, chain->head, 0);
            pushed = true;
            if (++frames == VIRTIO_NET_TX_BUDGET) {
                virtio_net_kick(net, VIRTIO_NET_TX_QUEUE);
                goto done;
            }
        }
        if (!virtq_enable_notification(queue))
            break;
    }
done:
    if (pushed)
        virtio_device_interrupt_queue(device, VIRTIO_NET_TX_QUEUE);
}

/* --- control queue ---------------------------------------------------------- */

/* VIRTIO_NET_CTRL_RX: one byte, 0 or 1, sets a mode. */
static bool virtio_net_control_rx(struct virtio_net *net, uint8_t command,
                                  const struct virtq_chain *chain, uint64_t length)
{
    struct virtio_net_filter *filter = &net->filter;
    bool *modes[] = {&filter->promisc, &filter->allmulti, &filter->alluni,
                     &filter->nomulti, &filter->nouni,    &filter->nobcast};
    if (command >= sizeof(modes) / sizeof(modes[0]) || length != 1)
        return false;
    uint64_t needed =
        command <= VIRTIO_NET_CTRL_RX_ALLMULTI ? VIRTIO_NET_F_CTRL_RX : VIRTIO_NET_F_CTRL_RX_EXTRA;
    uint8_t on;
    virtq_chain_read(chain, 2, &on, 1);
    if (!virtio_device_has(&net->device, needed) || on > 1)
        return false;
    *modes[command] = on;
    return true;
}

/* One table of MAC_TABLE_SET at *offset: a 32-bit count, then that many
 * addresses, all before end.  More than fit: the table overflows. */
static bool virtio_net_read_table(const struct virtq_chain *chain, uint64_t *offset, uint64_t end,
                                  uint8_t table[][6], unsigned *count, bool *overflow)
{
    uint32_t entries;
    if (end - *offset < 4)
        return false;
    virtq_chain_read(chain, *offset, &entries, 4);
    *offset += 4;
    if (6ull * entries > end - *offset)
        return false;
    *overflow = entries > VIRTIO_NET_MAC_TABLE_ENTRIES;
    *count = *overflow ? VIRTIO_NET_MAC_TABLE_ENTRIES : entries;
    virtq_chain_read(chain, *offset, table, 6ull * *count);
    *offset += 6ull * entries;
    return true;
}

/* MAC_TABLE_SET: the unicast table, then the multicast one, nothing after;
 * all or nothing. */
static bool virtio_net_mac_table_set(struct virtio_net *net, const struct virtq_chain *chain,
                                     uint64_t length)
{
    if (!virtio_device_has(&net->device, VIRTIO_NET_F_CTRL_RX))
        return false;
    struct virtio_net_filter filter = net->filter;
    uint64_t offset = 2, end = 2 + length;
    if (!virtio_net_read_table(chain, &offset, end, filter.unicast, &filter.unicast_count,
                               &filter.unicast_overflow) ||
        !virtio_net_read_table(chain, &offset, end, filter.multicast, &filter.multicast_count,
                               &filter.multicast_overflow) ||
        offset != end)
        return false;
    net->filter = filter;
    return true;
}

/* MAC_ADDR_SET: the address config space shows and the filter takes. */
static bool virtio_net_mac_addr_set(struct virtio_net *net, const struct virtq_chain *chain,
                                    uint64_t length)
{
    uint8_t mac[6];
    if (!virtio_device_has(&net->device, VIRTIO_NET_F_CTRL_MAC_ADDR) || length != 6)
        return false;
    virtq_chain_read(chain, 2, mac, 6);
    if (!virtio_net_is_unicast(mac))
        return false;
    memcpy(net->config + VIRTIO_NET_CONFIG_MAC, mac, 6);
    return true;
}

/* GUEST_OFFLOADS_SET: 64 feature bits, only negotiated receive offloads. */
static bool virtio_net_guest_offloads_set(struct virtio_net *net, const struct virtq_chain *chain,
                                          uint64_t length)
{
    uint64_t wanted;
    struct virtio_device *device = &net->device;
    if (!virtio_device_has(device, VIRTIO_NET_F_CTRL_GUEST_OFFLOADS) || length != 8)
        return false;
    virtq_chain_read(chain, 2, &wanted, 8);
    if (wanted & ~(device->driver_features & GUEST_OFFLOAD_FEATURES))
        return false;
    return virtio_net_set_rx_offloads(net, virtio_net_offloads_of(wanted, true));
}

/* Carries out a command (class, command, then length bytes of data). */
static bool virtio_net_control(struct virtio_net *net, const struct virtq_chain *chain)
{
    uint8_t command[2];
    if (chain->readable_bytes < sizeof(command))
        return false;
    virtq_chain_read(chain, 0, command, sizeof(command));
    uint64_t length = chain->readable_bytes - sizeof(command);
    switch (command[0]) {
    case VIRTIO_NET_CTRL_RX:
        return virtio_net_control_rx(net, command[1], chain, length);
    case VIRTIO_NET_CTRL_MAC:
        if (command[1] == VIRTIO_NET_CTRL_MAC_TABLE_SET)
            return virtio_net_mac_table_set(net, chain, length);
        if (command[1] == VIRTIO_NET_CTRL_MAC_ADDR_SET)
            return virtio_net_mac_addr_set(net, chain, length);
        return false;
    case VIRTIO_NET_CTRL_GUEST_OFFLOADS:
        return command[1] == VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET &&
               virtio_net_guest_offloads_set(net, chain, length);
    }
    return false;
}

uint32_t virtio_net_handle_control(struct virtio_device *device, struct virtq_chain *chain)
{
    struct virtio_net *net = device->opaque;
    if (chain->writable_bytes < 1) {
        log_once("virtio-net %s: control command without room for its answer", net->name);
        return 0;
    }
    uint8_t ack = virtio_net_control(net, chain) ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
    if (ack != VIRTIO_NET_OK)
        net->stats.ctrl_errors++;
    virtq_chain_write(chain, 0, &ack, 1);
    return 1;
}

/* --- the device -------------------------------------------------------------- */

static void virtio_net_queue_notify(struct virtio_device *device, unsigned queue)
{
    struct virtio_net *net = device->opaque;
    if (net->vhost_running && queue != VIRTIO_NET_CTRL_QUEUE)
        return; /* the kernel serves it (a notification that was already on its way) */
    if (queue == VIRTIO_NET_RX_QUEUE)
        virtio_net_rx_posted(net);
    else if (queue == VIRTIO_NET_TX_QUEUE)
        virtio_net_transmit(net);
    else
        virtio_device_serve_queue(device, queue, &net->chain, virtio_net_handle_control);
}

/* Offers the receive and transmit queues to the back end's vhost-net, with
 * the queues' own eventfds: the ioeventfd as the kick, the vector's irqfd as
 * the call.  The event loop stops listening to those two queues meanwhile. */
static void virtio_net_start_vhost(struct virtio_net *net)
{
    struct virtio_device *device = &net->device;
    const struct net_backend_ops *ops = net->backend->ops;
    if (!ops->vhost_start || !device->interrupt_fd || !device->loop)
        return;
    static const unsigned queues[VHOST_NET_RING_COUNT] = {VIRTIO_NET_RX_QUEUE,
                                                           VIRTIO_NET_TX_QUEUE};
    struct vhost_net_ring rings[VHOST_NET_RING_COUNT];
    for (unsigned i = 0; i < VHOST_NET_RING_COUNT; i++) {
        const struct virtq *queue = &device->queues[queues[i]];
        int call_fd = device->interrupt_fd(device->transport, device->queue_vector[queues[i]]);
        if (!queue->started || call_fd < 0)
            return; /* no ring or no MSI-X vector: the user-space path serves it */
        rings[i] = (struct vhost_net_ring){queue->size,           (const volatile void *)queue->desc,
                                           queue->avail,          queue->used,
                                           queue->last_avail_idx, device->notify_fd[queues[i]],
                                           call_fd};
    }
    for (unsigned i = 0; i < VHOST_NET_RING_COUNT; i++)
        virtio_device_watch_queue(device, queues[i], false);
    if (ops->vhost_start(net->backend, device->memory, device->driver_features, rings) == 0) {
        net->vhost_running = true;
        return;
    }
    for (unsigned i = 0; i < VHOST_NET_RING_COUNT; i++)
        virtio_device_watch_queue(device, queues[i], true);
}

static void virtio_net_stop_vhost(struct virtio_net *net)
{
    if (!net->vhost_running)
        return;
    net->backend->ops->vhost_stop(net->backend);
    net->vhost_running = false;
    virtio_device_watch_queue(&net->device, VIRTIO_NET_RX_QUEUE, true);
    virtio_device_watch_queue(&net->device, VIRTIO_NET_TX_QUEUE, true);
}

/* The driver negotiated: the back end learns what the guest takes, and a
 * back end with vhost-net may take the queues. */
static void virtio_net_driver_ok(struct virtio_device *device)
{
    struct virtio_net *net = device->opaque;
    virtio_net_set_rx_offloads(net, virtio_net_offloads_of(device->driver_features, true));
    virtio_net_start_vhost(net);
}

/* Forgets what the driver set.  A back end holding a refused frame is told
 * to go on: it offers the frame again, and the stopped device drops it,
 * rather than the back end waiting for buffers that may never come. */
static void virtio_net_reset(struct virtio_device *device)
{
    struct virtio_net *net = device->opaque;
    virtio_net_stop_vhost(net);
    virtio_net_filter_reset(&net->filter);
    memcpy(net->config + VIRTIO_NET_CONFIG_MAC, net->mac, 6);
    net->rx_offloads = 0;
    virtio_net_rx_posted(net);
}

static const struct virtio_device_ops virtio_net_ops = {
    .name = "virtio-net",
    .device_id = VIRTIO_ID_NET,
    .queue_count = 3,
    .queue_max_size = VIRTIO_NET_QUEUE_SIZE,
    .queue_notify = virtio_net_queue_notify,
    .reset = virtio_net_reset,
    .driver_ok = virtio_net_driver_ok,
};

/* struct virtio_net_config.  The mtu field means something only with
 * VIRTIO_NET_F_MTU, which is not offered: the MTU is the network's (a tap on
 * a jumbo-frame bridge), and advising 1500 would make it the guest's limit. */
static void virtio_net_config_init(struct virtio_net *net)
{
    uint8_t *config = net->config;
    memcpy(config + VIRTIO_NET_CONFIG_MAC, net->mac, 6);
    put_le16(config + VIRTIO_NET_CONFIG_STATUS, VIRTIO_NET_S_LINK_UP);
    put_le16(config + VIRTIO_NET_CONFIG_MAX_PAIRS, 1);
    put_le16(config + VIRTIO_NET_CONFIG_MTU, VIRTIO_NET_DEFAULT_MTU);
    put_le32(config + VIRTIO_NET_CONFIG_SPEED, VIRTIO_NET_SPEED_MBPS);
    config[VIRTIO_NET_CONFIG_DUPLEX] = VIRTIO_NET_DUPLEX_FULL;
}

int virtio_net_init(struct virtio_net *net, const struct guest_memory *memory, unsigned index,
                    const uint8_t mac[6], struct net_backend *backend, struct error *error)
{
    memset(net, 0, sizeof(*net));
    snprintf(net->name, sizeof(net->name), "eth%u", index);
    if (!virtio_net_is_unicast(mac))
        return error_set(error,
                         "virtio-net %s: MAC %02x:%02x:%02x:%02x:%02x:%02x is not a unicast "
                         "address",
                         net->name, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    if (!backend || !backend->ops || !backend->ops->send)
        return error_set(error, "virtio-net %s: no back end", net->name);
    net->backend = backend;
    memcpy(net->mac, mac, 6);
    net->link_up = true;
    virtio_net_config_init(net);
    virtio_net_filter_reset(&net->filter);
    if (virtio_device_init(&net->device, &virtio_net_ops, net, memory, net->config,
                           sizeof(net->config), virtio_net_features(backend), error)) {
        virtio_device_destroy(&net->device); /* the eventfds made before the failure */
        return -1;
    }
    backend->port = (struct net_port){virtio_net_receive, net};
    backend->tx_ready = virtio_net_tx_ready;
    /* A back end with a thread of its own serves the transmit queue there:
     * from the guest's notification to the back end, one thread wakes, not two. */
    if (backend->ops->serve_transmit &&
        backend->ops->serve_transmit(backend, net->device.notify_fd[VIRTIO_NET_TX_QUEUE],
                                     virtio_net_transmit_notified))
        net->device.queues_served_elsewhere |= 1u << VIRTIO_NET_TX_QUEUE;
    return 0;
}

void virtio_net_set_link(struct virtio_net *net, bool up)
{
    struct virtio_device *device = &net->device;
    pthread_mutex_lock(&device->lock);
    if (net->link_up != up) {
        net->link_up = up;
        put_le16(net->config + VIRTIO_NET_CONFIG_STATUS, up ? VIRTIO_NET_S_LINK_UP : 0);
        /* A driver hears of it by interrupt once it runs; before that it
         * reads the status when it starts. */
        if (device->status & VIRTIO_STATUS_DRIVER_OK)
            virtio_device_config_changed(device);
        else
            device->config_generation++;
    }
    pthread_mutex_unlock(&device->lock);
}

void virtio_net_destroy(struct virtio_net *net)
{
    virtio_device_destroy(&net->device);
}
