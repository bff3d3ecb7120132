/* The guest's view of --net user: QEMU's user network, which guests' and
 * users' habits assume (ssh to localhost:2222 forwarded to 10.0.2.15:22).
 * Shared by the parser, which checks forwarding rules against it, and by the
 * slirp back end, which builds it.  Host byte order. */
#ifndef GUEST_NET_USER_NETWORK_H
#define GUEST_NET_USER_NETWORK_H

#define NET_USER_NETWORK 0x0a000200u /* 10.0.2.0 */
#define NET_USER_NETMASK 0xffffff00u /* /24 */
#define NET_USER_HOST 0x0a000202u    /* the gateway: the VMM itself */
#define NET_USER_DNS 0x0a000203u     /* libslirp's DNS relay */
#define NET_USER_DHCP_START 0x0a00020fu /* 10.0.2.15: the first (usually the only) lease */
#define NET_USER_DHCP_COUNT 16u         /* libslirp's pool: 10.0.2.15 to 10.0.2.30 */
#define NET_USER_NETWORK_TEXT "10.0.2.0/24"

#endif
