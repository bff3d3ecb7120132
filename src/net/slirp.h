/* --net user: a network in the VMM (libslirp), QEMU's user network as guests
 * and users know it (net/user_network.h): 10.0.2.0/24, the gateway 10.0.2.2,
 * a DNS relay at 10.0.2.3, DHCP leases from 10.0.2.15.  IPv4 only: libslirp
 * 4.7's IPv6 has no restricted mode to speak of (external ICMPv6 is a
 * "not supported" g_critical per packet) and needs a router-advertisement
 * timer; guests fall back to IPv4.
 *
 * Frames are bare Ethernet frames both ways (vnet_hdr false, no offloads).
 *
 * Threads: libslirp is not thread-safe, so every call into it after
 * net_slirp_create is made on the back end's own thread (ops->start), which
 * polls slirp's sockets, runs its timers, and takes the guest's frames from
 * a ring that ops->send fills without calling into slirp.  port.receive is
 * called on that thread.  With guestfwd rules a second thread relays their
 * connections (net/relay.h).
 *
 * restrict=on is libslirp's restricted mode:
 *  - A TCP connection the guest opens is answered with a reset unless it is
 *    to a guestfwd address; the guest cannot reach the host's loopback
 *    (10.0.2.2) either.
 *  - Every UDP datagram from the guest is dropped but DHCP and TFTP (to
 *    10.0.2.2, which has no TFTP root here): no DNS, and a udp hostfwd is
 *    one-way, host to guest, since the guest's replies are UDP too.
 *  - ICMP echo to 10.0.2.2 and 10.0.2.3 is answered by slirp itself;
 *    elsewhere it is dropped.
 *  - DHCP offers carry no router and no DNS server.
 *  - ARP for 10.0.2.2, 10.0.2.3 and guestfwd addresses is answered.
 *  - tcp hostfwd and guestfwd work as without it. */
#ifndef GUEST_NET_SLIRP_H
#define GUEST_NET_SLIRP_H

#include <stdint.h>

#include "error.h"
#include "net/backend.h"
#include "net/net_config.h"

/* The largest frame either way: a 1500-byte MTU (libslirp's), the Ethernet
 * header, and room for an 802.1Q tag.  Larger frames are dropped. */
#define NET_SLIRP_FRAME_MAX 1518
/* Frames from the guest waiting for the slirp thread: send returns EAGAIN
 * when they are all taken. */
#define NET_SLIRP_TX_SLOTS 256
/* Frames for the guest kept while port.receive refuses them; more are
 * dropped (TCP resends them; counted in rx_dropped). */
#define NET_SLIRP_RX_BACKLOG 64

/* Sets up the user network of config (NET_KIND_USER): every hostfwd socket is
 * bound here, so a host port in use is an error before the VM starts
 * ("--net user,hostfwd=tcp::2222-:22: host port 2222: Address already in
 * use").  Nothing runs until ops->start. */
int net_slirp_create(struct net_backend **backend, const struct net_config *config,
                     struct error *error);

struct net_slirp_counters {
    uint64_t tx_dropped;   /* frames from the guest larger than NET_SLIRP_FRAME_MAX, or fragments */
    uint64_t tx_fragments; /* of those, IPv4 fragments (libslirp's reassembly is unsafe) */
    uint64_t rx_dropped; /* frames for the guest: backlog full, or too large */
};

/* For tests and diagnostics; from any thread. */
void net_slirp_counters(const struct net_backend *backend, struct net_slirp_counters *counters);

/* For tests and the fuzzer, on a back end that is not started: one round of
 * its thread's loop in the calling thread, without waiting. */
void net_slirp_poll_once(struct net_backend *backend);

#endif
