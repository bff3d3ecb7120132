/* net_config_parse on the input as one --net value, and the MAC helpers on
 * it: no crash, and whatever is accepted is in range and terminated. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_config.h"
#include "net/user_network.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool in_user_network(struct in_addr address)
{
    uint32_t host_order = ntohl(address.s_addr);
    return (host_order & NET_USER_NETMASK) == NET_USER_NETWORK && host_order != NET_USER_HOST &&
           host_order != NET_USER_DNS && (host_order & ~NET_USER_NETMASK) != 0 &&
           (host_order & ~NET_USER_NETMASK) != 0xff;
}

static bool mac_usable(const uint8_t mac[6])
{
    return !(mac[0] & 0x01) && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

static void check_user(const struct net_config *config)
{
    if (config->hostfwd_count < 0 || config->hostfwd_count > NET_MAX_FORWARDS ||
        config->guestfwd_count < 0 || config->guestfwd_count > NET_MAX_FORWARDS ||
        config->ifname[0] != '\0' || config->vhost != NET_VHOST_AUTO)
        abort();
    for (int i = 0; i < config->hostfwd_count; i++) {
        const struct net_hostfwd *rule = &config->hostfwds[i];
        if (rule->guest_port == 0 ||
            (rule->guest_address.s_addr != 0 && !in_user_network(rule->guest_address)))
            abort();
    }
    for (int i = 0; i < config->guestfwd_count; i++) {
        const struct net_guestfwd *rule = &config->guestfwds[i];
        uint32_t guest = ntohl(rule->guest_address.s_addr);
        if (rule->guest_port == 0 || rule->host_port == 0 || rule->host_address.s_addr == 0 ||
            !in_user_network(rule->guest_address) ||
            guest - NET_USER_DHCP_START < NET_USER_DHCP_COUNT)
            abort();
        for (int j = 0; j < i; j++)
            if (config->guestfwds[j].guest_address.s_addr == rule->guest_address.s_addr &&
                config->guestfwds[j].guest_port == rule->guest_port)
                abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Up to a NUL, as a command-line argument ends. */
    char *text = strndup((const char *)data, size);
    if (!text)
        abort();

    struct net_config config;
    struct error error;
    memset(&error, 0, sizeof(error));
    if (net_config_parse(text, &config, &error) == 0) {
        if (config.mac_given && !mac_usable(config.mac))
            abort();
        if (strnlen(config.ifname, sizeof(config.ifname)) == sizeof(config.ifname))
            abort(); /* not terminated */
        if (config.kind == NET_KIND_USER)
            check_user(&config);
        else if (config.kind != NET_KIND_TAP || config.ifname[0] == '\0' ||
                 config.hostfwd_count || config.guestfwd_count || config.restrict_guest ||
                 (config.vhost != NET_VHOST_AUTO && config.vhost != NET_VHOST_ON &&
                  config.vhost != NET_VHOST_OFF))
            abort();
    } else if (strncmp(error.message, "--net ", 6) != 0 || strchr(error.message, '\n') ||
               strnlen(error.message, sizeof(error.message)) == sizeof(error.message)) {
        abort(); /* every failure is one line that says which option */
    }

    uint8_t mac[6];
    if (net_config_parse_mac(text, mac) == 0 && (strlen(text) != 17 || !mac_usable(mac)))
        abort();
    uint16_t index = size >= 2 ? (uint16_t)(data[0] | data[1] << 8) : 0;
    net_config_default_mac(index, mac);
    if (!mac_usable(mac) || !(mac[0] & 0x02))
        abort();
    free(text);
    return 0;
}
