/* Ethernet frames built by hand, as a guest on the user network would send
 * them (ARP, DHCP, TCP, UDP over IPv4), and readers for the frames that come
 * back: for the slirp back end's tests and its fuzz seeds.  Every builder
 * writes into frame (NET_FRAME_MAX bytes) and returns the frame's length. */
#ifndef GUEST_TESTS_NET_FRAMES_H
#define GUEST_TESTS_NET_FRAMES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NET_FRAME_MAX 1518
#define NET_FRAME_ETH 14
#define NET_FRAME_IP 20 /* our IPv4 headers have no options */
#define NET_FRAME_TCP 20
#define NET_FRAME_UDP 8

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* The fake guest: net_config_default_mac(0), and its DHCP address. */
static const uint8_t net_frame_guest_mac[6] = {0x02, 0x67, 0x75, 0x65, 0x00, 0x00};
#define NET_FRAME_GUEST_IP "10.0.2.15"
/* libslirp answers for every address of the network as 52:55:0a:00:02:02. */
static const uint8_t net_frame_slirp_mac[6] = {0x52, 0x55, 0x0a, 0x00, 0x02, 0x02};

static inline void net_frame_put16(uint8_t *p, uint16_t value)
{
    p[0] = (uint8_t)(value >> 8);
    p[1] = (uint8_t)value;
}

static inline uint16_t net_frame_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t net_frame_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void net_frame_put32(uint8_t *p, uint32_t value)
{
    net_frame_put16(p, (uint16_t)(value >> 16));
    net_frame_put16(p + 2, (uint16_t)value);
}

/* The Internet checksum's running sum over bytes. */
static inline uint32_t net_frame_sum(uint32_t sum, const uint8_t *bytes, size_t length)
{
    for (size_t i = 0; i + 1 < length; i += 2)
        sum += net_frame_get16(bytes + i);
    if (length & 1)
        sum += (uint32_t)bytes[length - 1] << 8;
    return sum;
}

static inline uint16_t net_frame_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static inline uint32_t net_frame_ip(const char *text)
{
    struct in_addr address;
    inet_pton(AF_INET, text, &address);
    return ntohl(address.s_addr);
}

static inline void net_frame_ethernet(uint8_t *frame, const uint8_t destination[6],
                                      uint16_t type)
{
    memcpy(frame, destination, 6);
    memcpy(frame + 6, net_frame_guest_mac, 6);
    net_frame_put16(frame + 12, type);
}

/* Ethernet and IPv4 headers for payload bytes of protocol. */
static inline void net_frame_ipv4(uint8_t *frame, const uint8_t destination_mac[6],
                                  uint8_t protocol, uint32_t source, uint32_t destination,
                                  size_t payload)
{
    net_frame_ethernet(frame, destination_mac, 0x0800);
    uint8_t *ip = frame + NET_FRAME_ETH;
    memset(ip, 0, NET_FRAME_IP);
    ip[0] = 0x45;
    net_frame_put16(ip + 2, (uint16_t)(NET_FRAME_IP + payload));
    ip[8] = 64; /* TTL */
    ip[9] = protocol;
    net_frame_put32(ip + 12, source);
    net_frame_put32(ip + 16, destination);
    net_frame_put16(ip + 10, net_frame_fold(net_frame_sum(0, ip, NET_FRAME_IP)));
}

/* ARP request from the guest (10.0.2.15) for target. */
static inline size_t net_frame_arp_request(uint8_t *frame, uint32_t target)
{
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    net_frame_ethernet(frame, broadcast, 0x0806);
    uint8_t *arp = frame + NET_FRAME_ETH;
    net_frame_put16(arp, 1);          /* Ethernet */
    net_frame_put16(arp + 2, 0x0800); /* IPv4 */
    arp[4] = 6;
    arp[5] = 4;
    net_frame_put16(arp + 6, 1); /* request */
    memcpy(arp + 8, net_frame_guest_mac, 6);
    net_frame_put32(arp + 14, net_frame_ip(NET_FRAME_GUEST_IP));
    memset(arp + 18, 0, 6);
    net_frame_put32(arp + 24, target);
    memset(arp + 28, 0, 14); /* padding to Ethernet's 60-byte minimum */
    return NET_FRAME_ETH + 28 + 18;
}

/* TCP segment from 10.0.2.15:source_port to destination:destination_port. */
static inline size_t net_frame_tcp(uint8_t *frame, uint16_t source_port, uint32_t destination,
                                   uint16_t destination_port, uint32_t seq, uint32_t ack,
                                   uint8_t flags, const void *data, size_t length)
{
    uint32_t source = net_frame_ip(NET_FRAME_GUEST_IP);
    net_frame_ipv4(frame, net_frame_slirp_mac, 6, source, destination, NET_FRAME_TCP + length);
    uint8_t *tcp = frame + NET_FRAME_ETH + NET_FRAME_IP;
    memset(tcp, 0, NET_FRAME_TCP);
    net_frame_put16(tcp, source_port);
    net_frame_put16(tcp + 2, destination_port);
    net_frame_put32(tcp + 4, seq);
    net_frame_put32(tcp + 8, ack);
    tcp[12] = (NET_FRAME_TCP / 4) << 4;
    tcp[13] = flags;
    net_frame_put16(tcp + 14, 65535); /* window */
    if (length)
        memcpy(tcp + NET_FRAME_TCP, data, length);
    uint8_t pseudo[12];
    net_frame_put32(pseudo, source);
    net_frame_put32(pseudo + 4, destination);
    pseudo[8] = 0;
    pseudo[9] = 6;
    net_frame_put16(pseudo + 10, (uint16_t)(NET_FRAME_TCP + length));
    uint32_t sum = net_frame_sum(net_frame_sum(0, pseudo, sizeof(pseudo)), tcp,
                                 NET_FRAME_TCP + length);
    net_frame_put16(tcp + 16, net_frame_fold(sum));
    return NET_FRAME_ETH + NET_FRAME_IP + NET_FRAME_TCP + length;
}

/* UDP datagram from source:source_port (no checksum: allowed in IPv4). */
static inline size_t net_frame_udp(uint8_t *frame, const uint8_t destination_mac[6],
                                   uint32_t source, uint16_t source_port, uint32_t destination,
                                   uint16_t destination_port, const void *data, size_t length)
{
    net_frame_ipv4(frame, destination_mac, 17, source, destination, NET_FRAME_UDP + length);
    uint8_t *udp = frame + NET_FRAME_ETH + NET_FRAME_IP;
    net_frame_put16(udp, source_port);
    net_frame_put16(udp + 2, destination_port);
    net_frame_put16(udp + 4, (uint16_t)(NET_FRAME_UDP + length));
    net_frame_put16(udp + 6, 0);
    if (length)
        memcpy(udp + NET_FRAME_UDP, data, length);
    return NET_FRAME_ETH + NET_FRAME_IP + NET_FRAME_UDP + length;
}

#define DHCP_FIXED 236      /* BOOTP's header, before the options */
#define DHCP_OPTIONS 312    /* the options area every client sends in full */
#define DHCP_DISCOVER 1
#define DHCP_OFFER 2

/* DHCPDISCOVER from the fake guest, broadcast. */
static inline size_t net_frame_dhcp_discover(uint8_t *frame, uint32_t xid)
{
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint8_t bootp[DHCP_FIXED + DHCP_OPTIONS];
    memset(bootp, 0, sizeof(bootp));
    bootp[0] = 1; /* BOOTREQUEST */
    bootp[1] = 1; /* Ethernet */
    bootp[2] = 6;
    net_frame_put32(bootp + 4, xid);
    memcpy(bootp + 28, net_frame_guest_mac, 6);
    uint8_t *option = bootp + DHCP_FIXED;
    static const uint8_t options[] = {99, 130, 83, 99, 53, 1, DHCP_DISCOVER, 255};
    memcpy(option, options, sizeof(options));
    return net_frame_udp(frame, broadcast, 0, 68, 0xffffffff, 67, bootp, sizeof(bootp));
}

/* Readers.  Each checks the length it reads within. */

static inline uint16_t net_frame_type(const uint8_t *frame, size_t length)
{
    return length >= NET_FRAME_ETH ? net_frame_get16(frame + 12) : 0;
}

/* The IPv4 payload of protocol, or NULL; *payload gets its length. */
static inline const uint8_t *net_frame_ip_payload(const uint8_t *frame, size_t length,
                                                  uint8_t protocol, size_t *payload)
{
    if (net_frame_type(frame, length) != 0x0800 || length < NET_FRAME_ETH + NET_FRAME_IP)
        return NULL;
    const uint8_t *ip = frame + NET_FRAME_ETH;
    size_t header = (size_t)(ip[0] & 0x0f) * 4, total = net_frame_get16(ip + 2);
    if (ip[9] != protocol || header < NET_FRAME_IP || total < header ||
        NET_FRAME_ETH + total > length)
        return NULL;
    *payload = total - header;
    return ip + header;
}

static inline uint32_t net_frame_ip_source(const uint8_t *frame)
{
    return net_frame_get32(frame + NET_FRAME_ETH + 12);
}

static inline uint32_t net_frame_ip_destination(const uint8_t *frame)
{
    return net_frame_get32(frame + NET_FRAME_ETH + 16);
}

struct net_frame_tcp_info {
    uint32_t source, destination;
    uint16_t source_port, destination_port;
    uint32_t seq, ack;
    uint8_t flags;
    const uint8_t *data;
    size_t length;
};

static inline bool net_frame_read_tcp(const uint8_t *frame, size_t length,
                                      struct net_frame_tcp_info *info)
{
    size_t payload;
    const uint8_t *tcp = net_frame_ip_payload(frame, length, 6, &payload);
    if (!tcp || payload < NET_FRAME_TCP || (size_t)(tcp[12] >> 4) * 4 > payload)
        return false;
    size_t header = (size_t)(tcp[12] >> 4) * 4;
    *info = (struct net_frame_tcp_info){
        net_frame_ip_source(frame), net_frame_ip_destination(frame), net_frame_get16(tcp),
        net_frame_get16(tcp + 2), net_frame_get32(tcp + 4), net_frame_get32(tcp + 8),
        tcp[13], tcp + header, payload - header};
    return true;
}

#endif
