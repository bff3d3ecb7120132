/* guestfwd's host side.  libslirp 4.7 can hand a guest's TCP connection to a
 * guestfwd address to a Unix socket path (slirp_add_unix): it connect()s to
 * the path afresh for every guest connection.  The relay listens on such
 * paths, in a private directory (mode 0700), and for every connection it
 * accepts opens a new TCP connection to the rule's host service and copies
 * bytes both ways, end of stream included.  So each guest connection gets a
 * host connection of its own; QEMU's guestfwd connects its chardev once, at
 * start-up, and serves one guest connection ever.
 *
 * A host service that cannot be reached costs only that guest connection: it
 * is closed (the guest sees its connection end), logged once.
 *
 * A thread of its own: libslirp's connect() to the path is a blocking one, so
 * the side that accepts must never be waiting on the slirp thread. */
#ifndef GUEST_NET_RELAY_H
#define GUEST_NET_RELAY_H

#include <netinet/in.h>
#include <stdint.h>

#include "error.h"

#define NET_RELAY_MAX_LISTENERS 16
#define NET_RELAY_MAX_CONNECTIONS 64 /* at once; more are closed as they come */

struct net_relay;

int net_relay_create(struct net_relay **relay, struct error *error);
/* A listener whose connections go to address:port.  *path is its socket's
 * path, for slirp_add_unix; it lives as long as the relay. */
int net_relay_add(struct net_relay *relay, struct in_addr address, uint16_t port,
                  const char **path, struct error *error);
int net_relay_start(struct net_relay *relay, struct error *error);
/* Joins the thread; connections stay open for a later start (idempotent). */
void net_relay_stop(struct net_relay *relay);
/* Stops, closes every connection, and removes the sockets and directory. */
void net_relay_destroy(struct net_relay *relay);

#endif
