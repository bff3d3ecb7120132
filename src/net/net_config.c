/* The --net parser (net_config.h).  The value is read in place, item by item
 * (KIND,KEY=VALUE,...), so that an error can quote the one item at fault:
 *   --net user,hostfwd=tcp::x-:22: "x" is not a port
 *
 * Choices where QEMU's syntax leaves room:
 *  - Ports are decimal, without a sign or a leading zero (QEMU's strtol with
 *    base 0 would read "022" as 18, a surprise not worth copying).  A hostfwd
 *    host port may be 0, as QEMU allows: the kernel picks a free port.
 *  - Addresses are dotted quads (inet_pton), not inet_aton's "127.1" forms.
 *  - A forwarding rule's guest address must be a host of 10.0.2.0/24 that is
 *    not the network's own machinery: not .0 or .255, not the gateway .2, not
 *    the DNS relay .3.  A guestfwd address is a virtual server in that
 *    network, so it must also stay out of the DHCP pool (.15 to .30), which
 *    is where guests live.
 *  - restrict= and vhost= take on, off, yes or no. */
#include "net/net_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/user_network.h"

/* Quoted items are cut to this many characters in messages, and values
 * quoted in a fault to half that, so the fault always fits in struct error. */
#define QUOTE_MAX 200

/* A piece of the text, not NUL-terminated; printed with "%.*s", SLICE(s). */
struct slice {
    const char *start;
    size_t length;
};
#define SLICE(s) (int)((s).length > QUOTE_MAX / 2 ? QUOTE_MAX / 2 : (s).length), (s).start

struct parser {
    struct net_config *config;
    struct error *error;
    const char *kind_name;
    struct slice item; /* the KEY=VALUE being parsed */
    unsigned given;    /* bit per keys[] entry: for "given twice" */
};

/* error_set, then control characters out: a value quoted in the message
 * may hold a newline, and an error is one line. */
__attribute__((format(printf, 2, 3))) static int net_error(struct error *error,
                                                           const char *format, ...)
{
    if (!error)
        return -1;
    va_list args;
    va_start(args, format);
    vsnprintf(error->message, sizeof(error->message), format, args);
    va_end(args);
    for (char *c = error->message; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return -1;
}

__attribute__((format(printf, 2, 3))) static int item_error(const struct parser *parser,
                                                            const char *format, ...)
{
    char fault[256];
    va_list args;
    va_start(args, format);
    vsnprintf(fault, sizeof(fault), format, args);
    va_end(args);
    int length = parser->item.length > QUOTE_MAX ? QUOTE_MAX : (int)parser->item.length;
    return net_error(parser->error, "--net %s,%.*s%s: %s", parser->kind_name, length,
                     parser->item.start, length < (int)parser->item.length ? "..." : "", fault);
}

static bool slice_equals(struct slice slice, const char *word)
{
    return slice.length == strlen(word) && memcmp(slice.start, word, slice.length) == 0;
}

/* Splits at the first separator; false when there is none. */
static bool slice_split(struct slice slice, char separator, struct slice *before,
                        struct slice *after)
{
    const char *at = memchr(slice.start, separator, slice.length);
    if (!at)
        return false;
    *before = (struct slice){slice.start, (size_t)(at - slice.start)};
    *after = (struct slice){at + 1, slice.length - (size_t)(at - slice.start) - 1};
    return true;
}

static int parse_address(struct slice text, struct in_addr *address)
{
    char copy[INET_ADDRSTRLEN];
    if (text.length >= sizeof(copy))
        return -1;
    memcpy(copy, text.start, text.length);
    copy[text.length] = '\0';
    return inet_pton(AF_INET, copy, address) == 1 ? 0 : -1;
}

static int parse_port(struct slice text, bool zero_allowed, uint16_t *port)
{
    if (text.length == 0 || text.length > 5 || (text.start[0] == '0' && text.length > 1))
        return -1;
    unsigned value = 0;
    for (size_t i = 0; i < text.length; i++) {
        if (text.start[i] < '0' || text.start[i] > '9')
            return -1;
        value = value * 10 + (unsigned)(text.start[i] - '0');
    }
    if (value > 65535 || (value == 0 && !zero_allowed))
        return -1;
    *port = (uint16_t)value;
    return 0;
}

/* ADDRESS:PORT as form names it ("[HOSTADDR]:HOSTPORT"); the address may be
 * left out when address_optional (INADDR_ANY then). */
static int parse_endpoint(const struct parser *parser, struct slice text, const char *form,
                          bool address_optional, bool port_zero_allowed,
                          struct in_addr *address, uint16_t *port)
{
    struct slice address_text, port_text;
    if (!slice_split(text, ':', &address_text, &port_text))
        return item_error(parser, "\"%.*s\" is not %s", SLICE(text), form);
    address->s_addr = htonl(INADDR_ANY);
    if (address_text.length == 0 && !address_optional)
        return item_error(parser, "\"%.*s\" has no address (%s)", SLICE(text), form);
    if (address_text.length > 0 && parse_address(address_text, address) != 0)
        return item_error(parser, "\"%.*s\" is not an IPv4 address", SLICE(address_text));
    if (parse_port(port_text, port_zero_allowed, port) != 0)
        return item_error(parser, "\"%.*s\" is not a port", SLICE(port_text));
    return 0;
}

/* Why address cannot be a forwarding rule's guest side, or NULL. */
static const char *guest_address_fault(struct in_addr address, bool virtual_server)
{
    uint32_t host_order = ntohl(address.s_addr);
    if ((host_order & NET_USER_NETMASK) != NET_USER_NETWORK)
        return "is not in the guest network " NET_USER_NETWORK_TEXT;
    if (host_order == NET_USER_NETWORK || host_order == (NET_USER_NETWORK | ~NET_USER_NETMASK))
        return "is not a host address of " NET_USER_NETWORK_TEXT;
    if (host_order == NET_USER_HOST)
        return "is the gateway (the VMM itself)";
    if (host_order == NET_USER_DNS)
        return "is the DNS relay";
    if (virtual_server && host_order - NET_USER_DHCP_START < NET_USER_DHCP_COUNT)
        return "is in the guest's DHCP range 10.0.2.15 to 10.0.2.30";
    return NULL;
}

static int check_guest_address(const struct parser *parser, struct in_addr address,
                               bool virtual_server)
{
    const char *fault = guest_address_fault(address, virtual_server);
    if (!fault)
        return 0;
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &address, text, sizeof(text));
    return item_error(parser, "guest address %s %s", text, fault);
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
static int parse_hostfwd(struct parser *parser, struct slice value)
{
    struct net_config *config = parser->config;
    if (config->hostfwd_count == NET_MAX_FORWARDS)
        return item_error(parser, "more than %d hostfwd rules", NET_MAX_FORWARDS);
    struct slice protocol, rest, host, guest;
    if (!slice_split(value, ':', &protocol, &rest) || !slice_split(rest, '-', &host, &guest))
        return item_error(parser, "not [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT");
    struct net_hostfwd rule = {0};
    if (slice_equals(protocol, "udp"))
        rule.udp = true;
    else if (protocol.length > 0 && !slice_equals(protocol, "tcp"))
        return item_error(parser, "\"%.*s\" is not tcp or udp", SLICE(protocol));
    if (parse_endpoint(parser, host, "[HOSTADDR]:HOSTPORT", true, true, &rule.host_address, &rule.host_port) ||
        parse_endpoint(parser, guest, "[GUESTADDR]:GUESTPORT", true, false, &rule.guest_address,
                       &rule.guest_port))
        return -1;
    if (rule.guest_address.s_addr != htonl(INADDR_ANY) &&
        check_guest_address(parser, rule.guest_address, false))
        return -1;
    config->hostfwds[config->hostfwd_count++] = rule;
    return 0;
}

/* [tcp]:GUESTADDR:GUESTPORT-tcp:HOSTADDR:HOSTPORT */
static int parse_guestfwd(struct parser *parser, struct slice value)
{
    struct net_config *config = parser->config;
    if (config->guestfwd_count == NET_MAX_FORWARDS)
        return item_error(parser, "more than %d guestfwd rules", NET_MAX_FORWARDS);
    struct slice guest, host, protocol, guest_endpoint, host_protocol, host_endpoint;
    if (!slice_split(value, '-', &guest, &host) ||
        !slice_split(guest, ':', &protocol, &guest_endpoint) ||
        !slice_split(host, ':', &host_protocol, &host_endpoint))
        return item_error(parser, "not [tcp]:GUESTADDR:GUESTPORT-tcp:HOSTADDR:HOSTPORT");
    if (slice_equals(protocol, "udp"))
        return item_error(parser, "guestfwd forwards tcp only");
    if (protocol.length > 0 && !slice_equals(protocol, "tcp"))
        return item_error(parser, "not [tcp]:GUESTADDR:GUESTPORT-tcp:HOSTADDR:HOSTPORT");
    if (!slice_equals(host_protocol, "tcp"))
        return item_error(parser, "\"%.*s\" is not tcp:HOSTADDR:HOSTPORT", SLICE(host));
    struct net_guestfwd rule;
    if (parse_endpoint(parser, guest_endpoint, "GUESTADDR:GUESTPORT", false, false, &rule.guest_address,
                       &rule.guest_port) ||
        check_guest_address(parser, rule.guest_address, true) ||
        parse_endpoint(parser, host_endpoint, "HOSTADDR:HOSTPORT", false, false, &rule.host_address,
                       &rule.host_port))
        return -1;
    uint32_t host_order = ntohl(rule.host_address.s_addr);
    if (host_order == INADDR_ANY || host_order == INADDR_BROADCAST || IN_MULTICAST(host_order)) {
        char address[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &rule.host_address, address, sizeof(address));
        return item_error(parser, "host address %s is not one to connect to", address);
    }
    for (int i = 0; i < config->guestfwd_count; i++)
        if (config->guestfwds[i].guest_address.s_addr == rule.guest_address.s_addr &&
            config->guestfwds[i].guest_port == rule.guest_port)
            return item_error(parser, "%.*s is forwarded twice", SLICE(guest_endpoint));
    config->guestfwds[config->guestfwd_count++] = rule;
    return 0;
}

/* Why text is not a MAC for a NIC, or NULL (mac then holds it). */
static const char *mac_fault(const char *text, size_t length, uint8_t mac[6])
{
    static const char not_mac[] = "is not a MAC address (six hex pairs: 02:00:00:00:00:01)";
    if (length != 17)
        return not_mac;
    uint8_t bytes[6];
    for (int i = 0; i < 6; i++) {
        const char *pair = text + 3 * i;
        if (!isxdigit((unsigned char)pair[0]) || !isxdigit((unsigned char)pair[1]) ||
            (i < 5 && pair[2] != ':'))
            return not_mac;
        char hex[3] = {pair[0], pair[1], '\0'};
        bytes[i] = (uint8_t)strtoul(hex, NULL, 16);
    }
    if (bytes[0] & 0x01)
        return "is a multicast address";
    if (!(bytes[0] | bytes[1] | bytes[2] | bytes[3] | bytes[4] | bytes[5]))
        return "is all zeros";
    memcpy(mac, bytes, 6);
    return NULL;
}

int net_config_parse_mac(const char *text, uint8_t mac[6])
{
    return mac_fault(text, strlen(text), mac) ? -1 : 0;
}

/* 02:67:75:65:XX:YY: locally administered (0x02) unicast, "gue" after it,
 * and the NIC's index.  Stable from run to run, as QEMU's 52:54:00:12:34:56
 * is, so two VMs bridged on one tap network need mac= for all but one. */
void net_config_default_mac(unsigned index, uint8_t mac[6])
{
    static const uint8_t prefix[4] = {0x02, 0x67, 0x75, 0x65};
    memcpy(mac, prefix, sizeof(prefix));
    mac[4] = (uint8_t)(index >> 8);
    mac[5] = (uint8_t)index;
}

static int parse_mac_value(struct parser *parser, struct slice value)
{
    const char *fault = mac_fault(value.start, value.length, parser->config->mac);
    if (fault)
        return item_error(parser, "\"%.*s\" %s", SLICE(value), fault);
    parser->config->mac_given = true;
    return 0;
}

static int parse_switch(const struct parser *parser, struct slice value, bool *on)
{
    if (slice_equals(value, "on") || slice_equals(value, "yes"))
        *on = true;
    else if (slice_equals(value, "off") || slice_equals(value, "no"))
        *on = false;
    else
        return item_error(parser, "\"%.*s\" is not on or off", SLICE(value));
    return 0;
}

static int parse_restrict(struct parser *parser, struct slice value)
{
    return parse_switch(parser, value, &parser->config->restrict_guest);
}

static int parse_vhost(struct parser *parser, struct slice value)
{
    bool on;
    if (parse_switch(parser, value, &on))
        return -1;
    parser->config->vhost = on ? NET_VHOST_ON : NET_VHOST_OFF;
    return 0;
}

/* Linux's own rule for device names (dev_valid_name): no '/', ':' or white
 * space, not "." or "..", at most IFNAMSIZ - 1 bytes. */
static int parse_ifname(struct parser *parser, struct slice value)
{
    if (value.length >= NET_IFNAME_MAX)
        return item_error(parser, "interface name longer than %d characters",
                          NET_IFNAME_MAX - 1);
    if (slice_equals(value, ".") || slice_equals(value, ".."))
        return item_error(parser, "\"%.*s\" is not an interface name", SLICE(value));
    for (size_t i = 0; i < value.length; i++) {
        unsigned char c = (unsigned char)value.start[i];
        if (c == '/' || c == ':' || isspace(c) || !isprint(c))
            return item_error(parser, "\"%.*s\" is not an interface name", SLICE(value));
    }
    memcpy(parser->config->ifname, value.start, value.length);
    parser->config->ifname[value.length] = '\0';
    return 0;
}

#define KIND_BIT(kind) (1u << (kind))

static const struct net_key {
    const char *name;
    unsigned kinds; /* KIND_BIT()s it is for */
    bool repeatable;
    int (*parse)(struct parser *parser, struct slice value);
} keys[] = {
    {"mac", KIND_BIT(NET_KIND_USER) | KIND_BIT(NET_KIND_TAP), false, parse_mac_value},
    {"restrict", KIND_BIT(NET_KIND_USER), false, parse_restrict},
    {"hostfwd", KIND_BIT(NET_KIND_USER), true, parse_hostfwd},
    {"guestfwd", KIND_BIT(NET_KIND_USER), true, parse_guestfwd},
    {"ifname", KIND_BIT(NET_KIND_TAP), false, parse_ifname},
    {"vhost", KIND_BIT(NET_KIND_TAP), false, parse_vhost},
};
#define KEY_COUNT (sizeof(keys) / sizeof(keys[0]))

static const char *const kind_names[] = {[NET_KIND_USER] = "user", [NET_KIND_TAP] = "tap"};

/* "mac, restrict, hostfwd, guestfwd": the keys a kind takes, for messages. */
static void list_keys(enum net_kind kind, char *list, size_t size)
{
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (keys[i].kinds & KIND_BIT(kind))
            used += (size_t)snprintf(list + used, size - used, "%s%s", used ? ", " : "",
                                     keys[i].name);
}

static int parse_item(struct parser *parser)
{
    struct slice key, value;
    bool has_value = slice_split(parser->item, '=', &key, &value);
    if (!has_value)
        key = parser->item;
    if (key.length == 0 && !has_value)
        return item_error(parser, "an empty item (a stray comma?)");
    size_t index = 0;
    while (index < KEY_COUNT && !slice_equals(key, keys[index].name))
        index++;
    enum net_kind kind = parser->config->kind;
    if (index == KEY_COUNT) {
        char list[128];
        list_keys(kind, list, sizeof(list));
        return item_error(parser, "unknown key \"%.*s\" (%s takes %s)", SLICE(key),
                          kind_names[kind], list);
    }
    const struct net_key *entry = &keys[index];
    if (!(entry->kinds & KIND_BIT(kind)))
        return item_error(parser, "%s is for --net %s, not %s", entry->name,
                          kind_names[kind == NET_KIND_USER ? NET_KIND_TAP : NET_KIND_USER],
                          kind_names[kind]);
    if (!has_value)
        return item_error(parser, "%s needs a value (%s=...)", entry->name, entry->name);
    if (value.length == 0)
        return item_error(parser, "empty value for %s", entry->name);
    if (!entry->repeatable && (parser->given & (1u << index)))
        return item_error(parser, "%s given twice", entry->name);
    parser->given |= 1u << index;
    return entry->parse(parser, value);
}

int net_config_parse(const char *text, struct net_config *config, struct error *error)
{
    memset(config, 0, sizeof(*config));
    config->vhost = NET_VHOST_AUTO;
    struct slice rest = {text, strlen(text)};
    struct slice kind = rest;
    bool more = slice_split(rest, ',', &kind, &rest);
    if (kind.length == 0)
        return net_error(error, "--net %.*s: needs a back end first (user or tap)", QUOTE_MAX,
                         text);
    if (slice_equals(kind, "user"))
        config->kind = NET_KIND_USER;
    else if (slice_equals(kind, "tap"))
        config->kind = NET_KIND_TAP;
    else
        return net_error(error, "--net %.*s: \"%.*s\" is not a network back end (user or tap)",
                         QUOTE_MAX, text, SLICE(kind));

    struct parser parser = {config, error, kind_names[config->kind], {NULL, 0}, 0};
    while (more) {
        parser.item = rest;
        more = slice_split(rest, ',', &parser.item, &rest);
        if (parse_item(&parser))
            return -1;
    }
    if (config->kind == NET_KIND_TAP && config->ifname[0] == '\0')
        return net_error(error, "--net %.*s: tap needs ifname=NAME", QUOTE_MAX, text);
    return 0;
}
