/* One --net option, parsed: the back end and its settings.  QEMU's syntax,
 * which users know:
 *   --net user[,mac=MAC][,restrict=on|off][,hostfwd=RULE]...[,guestfwd=RULE]...
 *   --net tap,ifname=NAME[,mac=MAC][,vhost=on|off]
 * hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (host into guest)
 * guestfwd=tcp:GUESTADDR:GUESTPORT-tcp:HOSTADDR:HOSTPORT (a virtual address in
 * the guest's network to a host service).  The parser checks syntax only;
 * whether a port is free or a tap exists is the back end's start-up check. */
#ifndef GUEST_NET_NET_CONFIG_H
#define GUEST_NET_NET_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define NET_MAX_NICS 8
#define NET_MAX_FORWARDS 16
#define NET_IFNAME_MAX 16 /* IFNAMSIZ, with the NUL */

enum net_kind { NET_KIND_USER, NET_KIND_TAP };
enum net_vhost { NET_VHOST_AUTO, NET_VHOST_ON, NET_VHOST_OFF };

struct net_hostfwd {
    bool udp;
    struct in_addr host_address;  /* INADDR_ANY when left out */
    uint16_t host_port;
    struct in_addr guest_address; /* 0 when left out: the guest's DHCP address */
    uint16_t guest_port;
};

struct net_guestfwd {
    struct in_addr guest_address; /* in the guest's network (10.0.2.0/24) */
    uint16_t guest_port;
    struct in_addr host_address;
    uint16_t host_port;
};

struct net_config {
    enum net_kind kind;
    uint8_t mac[6];
    bool mac_given;
    /* user */
    bool restrict_guest; /* restrict=on */
    struct net_hostfwd hostfwds[NET_MAX_FORWARDS];
    int hostfwd_count;
    struct net_guestfwd guestfwds[NET_MAX_FORWARDS];
    int guestfwd_count;
    /* tap */
    char ifname[NET_IFNAME_MAX];
    enum net_vhost vhost;
};

/* Parses one --net value.  On a bad value returns -1 with error saying what
 * is wrong, naming the key ("--net user,hostfwd=tcp::x-:22: bad host port"). */
int net_config_parse(const char *text, struct net_config *config, struct error *error);

/* The MAC of NIC number index when none was given: locally administered,
 * unicast, stable from run to run, different per NIC (52:54:00:12:34:56+index
 * would collide with QEMU's guests on one bridge, so not that one). */
void net_config_default_mac(unsigned index, uint8_t mac[6]);

/* "52:54:00:12:34:56" into mac; -1 when it is not six hex pairs, or is a
 * multicast or all-zero address. */
int net_config_parse_mac(const char *text, uint8_t mac[6]);

#endif
