/* virtio-net (virtio spec 5.1): an Ethernet NIC whose frames go to and come
 * from a network back end (net/backend.h).  Modern only, so every frame
 * either way starts with a 12-byte struct virtio_net_hdr_v1.  One receive
 * queue, one transmit queue and a control queue for the receive filter and
 * the MAC address.
 *
 * Offloads (partial checksums, TSO/UFO) are offered only when the back end
 * takes the header as it is (backend->vnet_hdr): then a frame's header goes
 * through, checked, and otherwise the device strips it on transmit and
 * writes a plain one on receive.
 *
 * Threads: the transmit and control queues are served on the event loop
 * with the device lock held; frames for the guest arrive from the back end's
 * thread through port.receive, which takes the lock itself.  ops->send and
 * ops->rx_ready are called with the lock held, so neither may call
 * port.receive from inside; rx_ready comes from a vCPU thread too (at a
 * reset), and set_rx_offloads from one at DRIVER_OK (from the loop for the
 * control command).
 * ops->send must be done with its iovec when it returns: the chain goes
 * back to the guest at once, and the header copy is reused. */
#ifndef GUEST_VIRTIO_NET_H
#define GUEST_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "error.h"
#include "net/backend.h"
#include "virtio/virtio.h"

#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_RX_QUEUE 0
#define VIRTIO_NET_TX_QUEUE 1
#define VIRTIO_NET_CTRL_QUEUE 2
/* struct virtio_net_config up to and including the RSS fields (all zero). */
#define VIRTIO_NET_CONFIG_SIZE 24
#define VIRTIO_NET_HDR_SIZE 12
#define VIRTIO_NET_ETH_HEADER 14 /* destination, source, type: the shortest frame */
/* Addresses in each of the unicast and multicast filter tables; a driver
 * that sets more gets every frame of that kind, which is always allowed. */
#define VIRTIO_NET_MAC_TABLE_ENTRIES 64
/* Frames one transmit turn sends before it lets the event loop serve others. */
#define VIRTIO_NET_TX_BUDGET 256

/* Feature bits (5.1.3), as the device offers them. */
#define VIRTIO_NET_F_CSUM (1ull << 0)
#define VIRTIO_NET_F_GUEST_CSUM (1ull << 1)
#define VIRTIO_NET_F_CTRL_GUEST_OFFLOADS (1ull << 2)
#define VIRTIO_NET_F_MTU (1ull << 3)
#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_GUEST_TSO4 (1ull << 7)
#define VIRTIO_NET_F_GUEST_TSO6 (1ull << 8)
#define VIRTIO_NET_F_GUEST_ECN (1ull << 9)
#define VIRTIO_NET_F_GUEST_UFO (1ull << 10)
#define VIRTIO_NET_F_HOST_TSO4 (1ull << 11)
#define VIRTIO_NET_F_HOST_TSO6 (1ull << 12)
#define VIRTIO_NET_F_HOST_ECN (1ull << 13)
#define VIRTIO_NET_F_HOST_UFO (1ull << 14)
#define VIRTIO_NET_F_MRG_RXBUF (1ull << 15)
#define VIRTIO_NET_F_STATUS (1ull << 16)
#define VIRTIO_NET_F_CTRL_VQ (1ull << 17)
#define VIRTIO_NET_F_CTRL_RX (1ull << 18)
#define VIRTIO_NET_F_CTRL_VLAN (1ull << 19)
#define VIRTIO_NET_F_CTRL_RX_EXTRA (1ull << 20)
#define VIRTIO_NET_F_GUEST_ANNOUNCE (1ull << 21)
#define VIRTIO_NET_F_MQ (1ull << 22)
#define VIRTIO_NET_F_CTRL_MAC_ADDR (1ull << 23)
#define VIRTIO_NET_F_SPEED_DUPLEX (1ull << 63)

/* Config space (5.1.4). */
#define VIRTIO_NET_CONFIG_MAC 0
#define VIRTIO_NET_CONFIG_STATUS 6
#define VIRTIO_NET_CONFIG_MAX_PAIRS 8
#define VIRTIO_NET_CONFIG_MTU 10
#define VIRTIO_NET_CONFIG_SPEED 12
#define VIRTIO_NET_CONFIG_DUPLEX 16
#define VIRTIO_NET_S_LINK_UP 1
/* What the config space says (the link's speed is not enforced anywhere: it
 * is what ethtool shows, a 10 Gb/s full-duplex link). */
#define VIRTIO_NET_SPEED_MBPS 10000
#define VIRTIO_NET_DUPLEX_FULL 1
#define VIRTIO_NET_DEFAULT_MTU 1500

/* The frame header (5.1.6), little-endian like the rest of virtio 1.x. */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

struct __attribute__((packed)) virtio_net_hdr_v1 {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};

/* Control queue (5.1.6.5): class and command, data, then one ack byte. */
#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1
#define VIRTIO_NET_CTRL_RX 0
#define VIRTIO_NET_CTRL_RX_PROMISC 0
#define VIRTIO_NET_CTRL_RX_ALLMULTI 1
#define VIRTIO_NET_CTRL_RX_ALLUNI 2
#define VIRTIO_NET_CTRL_RX_NOMULTI 3
#define VIRTIO_NET_CTRL_RX_NOUNI 4
#define VIRTIO_NET_CTRL_RX_NOBCAST 5
#define VIRTIO_NET_CTRL_MAC 1
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0
#define VIRTIO_NET_CTRL_MAC_ADDR_SET 1
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS 5
#define VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET 0

/* Which frames the guest gets (the control queue's RX and MAC classes).
 * Until the driver says otherwise, every frame: a driver without CTRL_RX
 * never sets a filter, and Linux's first commands set promisc off with its
 * multicast list. */
struct virtio_net_filter {
    bool promisc, allmulti;
    bool alluni, nomulti, nouni, nobcast;      /* CTRL_RX_EXTRA */
    bool unicast_overflow, multicast_overflow; /* the driver set more than fit */
    unsigned unicast_count, multicast_count;
    uint8_t unicast[VIRTIO_NET_MAC_TABLE_ENTRIES][6];
    uint8_t multicast[VIRTIO_NET_MAC_TABLE_ENTRIES][6];
};

/* Frames (and their bytes, header excluded) each way, and what was dropped
 * for which reason.  Under the device lock; tests read them. */
struct virtio_net_stats {
    uint64_t tx_frames, tx_bytes; /* taken by the back end */
    uint64_t tx_bad_chain;        /* refused by virtq_pop, or shorter than the header */
    uint64_t tx_bad_size;         /* under 14 bytes or over NET_MAX_FRAME */
    uint64_t tx_bad_header;       /* an offload not negotiated, or fields outside the frame */
    uint64_t tx_link_down;        /* sent while the link was down */
    uint64_t tx_busy;             /* send said EAGAIN: the chain waits for tx_ready */
    uint64_t rx_frames, rx_bytes; /* written to the guest */
    uint64_t rx_not_ready;        /* the driver is not running, or the receive queue is off */
    uint64_t rx_link_down;
    uint64_t rx_bad_size;   /* under 14 bytes or over NET_MAX_FRAME */
    uint64_t rx_bad_header; /* a back end's offload the guest did not accept */
    uint64_t rx_filtered;   /* not for us by the receive filter */
    uint64_t rx_too_big;    /* does not fit one chain (no MRG_RXBUF) or the ring */
    uint64_t rx_bad_chain;  /* a receive buffer the device cannot use */
    uint64_t rx_no_buffers; /* receive said false: the back end keeps the frame */
    uint64_t ctrl_errors;   /* control commands answered VIRTIO_NET_ERR */
};

struct virtio_net {
    struct virtio_device device;
    char name[16]; /* eth0, eth1, ...: for messages */
    struct net_backend *backend;
    uint8_t mac[6];                         /* the address given at init; reset restores it */
    uint8_t config[VIRTIO_NET_CONFIG_SIZE]; /* mac here is the current one */
    bool link_up;
    struct virtio_net_filter filter;
    unsigned rx_offloads; /* NET_OFFLOAD_* the guest takes in frames now */
    bool rx_refused;      /* receive said false: rx_ready when buffers come */
    bool vhost_running;   /* the back end's vhost-net serves the receive and transmit queues */
    struct virtio_net_stats stats;

    /* Scratch, under the device lock: no allocation per frame.  The event
     * loop's queues (transmit, control) share chain; receive has its own
     * pair: the frame's first chain, whose header is written last, and the
     * one being filled. */
    struct virtq_chain chain;
    struct virtq_chain rx_first, rx_next;
    uint16_t rx_heads[VIRTIO_NET_QUEUE_SIZE];
    uint32_t rx_lengths[VIRTIO_NET_QUEUE_SIZE];
    struct virtio_net_hdr_v1 tx_header; /* the checked copy a vnet_hdr back end gets */
    struct iovec tx_iov[VIRTQ_MAX_CHAIN_BUFFERS + 1];
};

/* A NIC over memory with address mac, talking to backend: fills
 * backend->port and backend->tx_ready (before the caller calls ops->start).
 * index 0 is eth0 in messages ("virtio-net eth0: ...").  The link starts
 * up.  The caller creates the transport and starts the device on its event
 * loop (own_thread false).  On failure (a MAC that is not unicast, no back
 * end, no eventfds) there is nothing to destroy. */
int virtio_net_init(struct virtio_net *net, const struct guest_memory *memory, unsigned index,
                    const uint8_t mac[6], struct net_backend *backend, struct error *error);

/* The host side of the link: the config status bit and a config interrupt.
 * While it is down no frame goes either way.  Any thread but one holding the
 * device lock. */
void virtio_net_set_link(struct virtio_net *net, bool up);

/* After the back end is stopped: nothing may call port.receive or tx_ready. */
void virtio_net_destroy(struct virtio_net *net);

/* Per-frame entry points, exposed for unit tests and the fuzzer.
 * port.receive: one frame (with its header when backend->vnet_hdr) for the
 * guest; false when the receive ring has too few buffers now. */
bool virtio_net_receive(void *net, const struct iovec *iov, int count);

/* One transmit chain to the back end (device lock held): 0 when it is done
 * with (sent or dropped), -1 when the back end said EAGAIN and the chain
 * must stay on the ring. */
int virtio_net_transmit_chain(struct virtio_net *net, const struct virtq_chain *chain);

/* One control command; returns the bytes written (the ack), as
 * virtio_device_serve_queue wants. */
uint32_t virtio_net_handle_control(struct virtio_device *device, struct virtq_chain *chain);

/* backend->tx_ready (with port.device): kicks the transmit queue from any
 * thread. */
void virtio_net_tx_ready(void *net);

#endif
