/* The tap back end (--net tap,ifname=NAME): frames go to and come from an
 * existing tap interface of the host, with virtio-net headers
 * (IFF_VNET_HDR), so checksum and segmentation offloads pass through in both
 * directions.  Served on the machine's event loop. */
#ifndef GUEST_NET_TAP_H
#define GUEST_NET_TAP_H

#include "error.h"
#include "net/backend.h"
#include "net/net_config.h"

/* Opens config->ifname: it must exist and be a tap the caller may attach to
 * (its owner, or CAP_NET_ADMIN).  Errors name the option and the fault. */
int net_tap_create(struct net_backend **backend, const struct net_config *config,
                   struct error *error);

/* The tap's descriptor, for vhost-net's back end (VHOST_NET_SET_BACKEND). */
int net_tap_fd(const struct net_backend *backend);

#endif
