/* Where a control socket listens (--gdb, later --qmp): "unix:PATH", or
 * "[tcp:][HOST:]PORT" (QEMU's "tcp::1234" habit included).  A TCP socket
 * without a host listens on 127.0.0.1 only: a debugger or a control client
 * may do anything to the VM, so nothing is open to the network unless asked. */
#ifndef GUEST_CONTROL_LISTEN_ADDRESS_H
#define GUEST_CONTROL_LISTEN_ADDRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define LISTEN_ADDRESS_MAX_PATH 108 /* sun_path */
#define LISTEN_ADDRESS_MAX_HOST 64

struct listen_address {
    bool is_unix;
    char path[LISTEN_ADDRESS_MAX_PATH];
    char host[LISTEN_ADDRESS_MAX_HOST]; /* a numeric IPv4 or IPv6 address */
    uint16_t port;
};

/* Parses text; on a bad one returns -1 with error saying what is wrong. */
int listen_address_parse(const char *text, struct listen_address *address, struct error *error);

/* A listening, non-blocking, close-on-exec socket there.  A Unix socket's
 * path is taken over only when it is a stale socket (nobody listens). */
int listen_address_open(const struct listen_address *address, struct error *error);

/* "unix:PATH" or "HOST:PORT", for messages. */
void listen_address_format(const struct listen_address *address, char *out, unsigned size);

#endif
