/* The --net parser: every form it takes, and every way a value can be wrong,
 * each refusal saying which item and why. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net/net_config.h"

static uint32_t ip(const char *text)
{
    struct in_addr address;
    assert_int_equal(inet_pton(AF_INET, text, &address), 1);
    return address.s_addr;
}

static void parse_ok(const char *text, struct net_config *config)
{
    struct error error = {{0}};
    if (net_config_parse(text, config, &error) != 0)
        fail_msg("--net %s refused: %s", text, error.message);
}

static void assert_refused(const char *text, const char *mentions)
{
    struct net_config config;
    struct error error = {{0}};
    if (net_config_parse(text, &config, &error) != -1)
        fail_msg("--net %s accepted", text);
    if (!strstr(error.message, mentions))
        fail_msg("--net %s: error \"%s\" does not mention \"%s\"", text, error.message, mentions);
    if (strncmp(error.message, "--net ", 6) != 0 || strchr(error.message, '\n'))
        fail_msg("error \"%s\" is not one line naming --net", error.message);
}

struct refusal {
    const char *value;
    const char *mentions;
};

/* Each value after prefix ("user,hostfwd="): refused, the message quoting
 * the item and mentioning the fault. */
static void assert_values_refused(const char *prefix, const struct refusal *bad, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        char text[128];
        snprintf(text, sizeof(text), "%s%s", prefix, bad[i].value);
        assert_refused(text, bad[i].mentions);
        assert_refused(text, strchr(text, ',') + 1);
    }
}

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static void test_user_defaults(void **state)
{
    (void)state;
    struct net_config config;
    memset(&config, 0xa5, sizeof(config)); /* the parser must clear everything */
    parse_ok("user", &config);
    assert_int_equal(config.kind, NET_KIND_USER);
    assert_false(config.mac_given);
    assert_false(config.restrict_guest);
    assert_int_equal(config.hostfwd_count, 0);
    assert_int_equal(config.guestfwd_count, 0);
    assert_string_equal(config.ifname, "");
    assert_int_equal(config.vhost, NET_VHOST_AUTO);
}

static void test_restrict_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool on;
    } cases[] = {
        {"user,restrict=on", true},
        {"user,restrict=yes", true},
        {"user,restrict=off", false},
        {"user,restrict=no", false},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        struct net_config config;
        parse_ok(cases[i].text, &config);
        assert_int_equal(config.restrict_guest, cases[i].on);
    }
    assert_refused("user,restrict=maybe", "\"maybe\" is not on or off");
    assert_refused("user,restrict=ON", "is not on or off");
    assert_refused("user,restrict=1", "is not on or off");
}

static void test_mac(void **state)
{
    (void)state;
    struct net_config config;
    parse_ok("user,mac=52:54:00:AB:cd:01", &config);
    assert_true(config.mac_given);
    static const uint8_t expected[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0x01};
    assert_memory_equal(config.mac, expected, 6);
    parse_ok("tap,mac=02:00:00:00:00:01,ifname=tap0", &config);
    assert_true(config.mac_given);
    assert_int_equal(config.mac[0], 0x02);
    assert_int_equal(config.mac[5], 0x01);

    static const struct refusal bad[] = {
        {"52:54:00:12:34", "is not a MAC address"},
        {"52:54:00:12:34:5g", "is not a MAC address"},
        {"52-54-00-12-34-56", "is not a MAC address"},
        {"52:54:00:12:34:567", "is not a MAC address"},
        {"5:54:00:12:34:56:", "is not a MAC address"},
        {"525400123456", "is not a MAC address"},
        {" 52:54:00:12:34:5", "is not a MAC address"},
        {"01:00:5e:00:00:01", "multicast"},
        {"ff:ff:ff:ff:ff:ff", "multicast"},
        {"00:00:00:00:00:00", "all zeros"},
    };
    assert_values_refused("user,mac=", bad, COUNT(bad));
    for (size_t i = 0; i < COUNT(bad); i++) {
        uint8_t mac[6] = {1, 2, 3, 4, 5, 6};
        assert_int_equal(net_config_parse_mac(bad[i].value, mac), -1);
        static const uint8_t untouched[6] = {1, 2, 3, 4, 5, 6};
        assert_memory_equal(mac, untouched, 6);
    }
    uint8_t mac[6];
    assert_int_equal(net_config_parse_mac("0a:1B:2c:3D:4e:5F", mac), 0);
    static const uint8_t parsed[6] = {0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f};
    assert_memory_equal(mac, parsed, 6);
    assert_refused("user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57", "mac given twice");
}

static void test_default_mac(void **state)
{
    (void)state;
    uint8_t first[6], again[6], other[6];
    net_config_default_mac(0, first);
    net_config_default_mac(0, again);
    assert_memory_equal(first, again, 6); /* stable */
    for (unsigned index = 0; index < 300; index++) {
        uint8_t mac[6];
        net_config_default_mac(index, mac);
        assert_int_equal(mac[0] & 0x01, 0); /* unicast */
        assert_int_equal(mac[0] & 0x02, 0x02); /* locally administered */
        assert_false(mac[0] == 0x52 && mac[1] == 0x54 && mac[2] == 0x00); /* not QEMU's */
        for (unsigned earlier = 0; earlier < index; earlier++) {
            net_config_default_mac(earlier, other);
            assert_memory_not_equal(mac, other, 6);
        }
        char text[18];
        snprintf(text, sizeof(text), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2],
                 mac[3], mac[4], mac[5]);
        assert_int_equal(net_config_parse_mac(text, other), 0);
        assert_memory_equal(mac, other, 6);
    }
}

static void test_hostfwd_accepted(void **state)
{
    (void)state;
    static const struct {
        const char *rule;
        bool udp;
        const char *host_address;
        uint16_t host_port;
        const char *guest_address;
        uint16_t guest_port;
    } cases[] = {
        {"tcp::2222-:22", false, "0.0.0.0", 2222, "0.0.0.0", 22},
        {"::2222-:22", false, "0.0.0.0", 2222, "0.0.0.0", 22}, /* protocol left out: tcp */
        {"udp:127.0.0.1:5353-10.0.2.15:53", true, "127.0.0.1", 5353, "10.0.2.15", 53},
        {"tcp::0-:22", false, "0.0.0.0", 0, "0.0.0.0", 22}, /* host port 0, as QEMU */
        {"tcp:192.168.1.1:65535-10.0.2.100:1", false, "192.168.1.1", 65535, "10.0.2.100", 1},
        {"tcp::8080-10.0.2.254:80", false, "0.0.0.0", 8080, "10.0.2.254", 80},
        {"tcp::1-10.0.2.1:80", false, "0.0.0.0", 1, "10.0.2.1", 80},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        char text[128];
        snprintf(text, sizeof(text), "user,hostfwd=%s", cases[i].rule);
        struct net_config config;
        parse_ok(text, &config);
        assert_int_equal(config.hostfwd_count, 1);
        const struct net_hostfwd *rule = &config.hostfwds[0];
        assert_int_equal(rule->udp, cases[i].udp);
        assert_int_equal(rule->host_address.s_addr, ip(cases[i].host_address));
        assert_int_equal(rule->host_port, cases[i].host_port);
        assert_int_equal(rule->guest_address.s_addr, ip(cases[i].guest_address));
        assert_int_equal(rule->guest_port, cases[i].guest_port);
    }
}

static void test_hostfwd_refused(void **state)
{
    (void)state;
    /* The message in full once: item, then fault. */
    struct net_config config;
    struct error error;
    assert_int_equal(net_config_parse("user,hostfwd=tcp::x-:22", &config, &error), -1);
    assert_string_equal(error.message, "--net user,hostfwd=tcp::x-:22: \"x\" is not a port");
    assert_int_equal(net_config_parse("user,restrict=on,hostfwd=tcp::x-:22", &config, &error), -1);
    assert_string_equal(error.message, "--net user,hostfwd=tcp::x-:22: \"x\" is not a port");

    static const struct refusal bad[] = {
        {"tcp::2222-:0", "\"0\" is not a port"},
        {"tcp::65536-:22", "\"65536\" is not a port"},
        {"tcp::2222-:99999", "\"99999\" is not a port"},
        {"tcp::022-:22", "\"022\" is not a port"},
        {"tcp::+22-:22", "\"+22\" is not a port"},
        {"tcp:: 22-:22", "\" 22\" is not a port"},
        {"tcp::0x16-:22", "\"0x16\" is not a port"},
        {"tcp::-:22", "\"\" is not a port"},
        {"tcp::2222-:", "\"\" is not a port"},
        {"tcp::2222-:22x", "\"22x\" is not a port"},
        {"sctp::22-:22", "\"sctp\" is not tcp or udp"},
        {"TCP::22-:22", "\"TCP\" is not tcp or udp"},
        {"tcp:1.2.3:22-:22", "\"1.2.3\" is not an IPv4 address"},
        {"tcp:localhost:22-:22", "\"localhost\" is not an IPv4 address"},
        {"tcp:127.1:22-:22", "\"127.1\" is not an IPv4 address"},
        {"tcp:::1:22-:22", "is not a port"},
        {"tcp::2222-fec0::15:22", "is not an IPv4 address"},
        {"tcp::2222-192.168.1.5:22", "192.168.1.5 is not in the guest network 10.0.2.0/24"},
        {"tcp::2222-10.0.3.15:22", "not in the guest network"},
        {"tcp::2222-10.0.2.2:22", "10.0.2.2 is the gateway"},
        {"tcp::2222-10.0.2.3:22", "10.0.2.3 is the DNS relay"},
        {"tcp::2222-10.0.2.0:22", "is not a host address"},
        {"tcp::2222-10.0.2.255:22", "is not a host address"},
        {"tcp::2222:22", "not [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"},
        {"tcp", "not [tcp|udp]:"},
        {"tcp::2222-22", "\"22\" is not [GUESTADDR]:GUESTPORT"},
        {"tcp:2222-:22", "\"2222\" is not [HOSTADDR]:HOSTPORT"},
    };
    assert_values_refused("user,hostfwd=", bad, COUNT(bad));
}

/* "user,KEY=RULE,KEY=RULE..." with count rules, the ports counting up. */
static const char *many_rules(const char *key, int count)
{
    static char text[4096];
    size_t used = (size_t)snprintf(text, sizeof(text), "user,restrict=on");
    for (int i = 0; i < count; i++) {
        if (strcmp(key, "hostfwd") == 0)
            used += (size_t)snprintf(text + used, sizeof(text) - used,
                                     ",hostfwd=tcp::%d-:22", 10000 + i);
        else
            used += (size_t)snprintf(text + used, sizeof(text) - used,
                                     ",guestfwd=tcp:10.0.2.100:%d-tcp:127.0.0.1:80", 1 + i);
    }
    return text;
}

static void test_rule_limits(void **state)
{
    (void)state;
    struct net_config config;
    parse_ok(many_rules("hostfwd", NET_MAX_FORWARDS), &config);
    assert_int_equal(config.hostfwd_count, NET_MAX_FORWARDS);
    assert_int_equal(config.hostfwds[NET_MAX_FORWARDS - 1].host_port,
                     10000 + NET_MAX_FORWARDS - 1);
    assert_refused(many_rules("hostfwd", NET_MAX_FORWARDS + 1), "more than 16 hostfwd rules");
    parse_ok(many_rules("guestfwd", NET_MAX_FORWARDS), &config);
    assert_int_equal(config.guestfwd_count, NET_MAX_FORWARDS);
    assert_refused(many_rules("guestfwd", NET_MAX_FORWARDS + 1), "more than 16 guestfwd rules");
}

static void test_guestfwd_accepted(void **state)
{
    (void)state;
    struct net_config config;
    parse_ok("user,restrict=on,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8080", &config);
    assert_true(config.restrict_guest);
    assert_int_equal(config.guestfwd_count, 1);
    assert_int_equal(config.guestfwds[0].guest_address.s_addr, ip("10.0.2.100"));
    assert_int_equal(config.guestfwds[0].guest_port, 80);
    assert_int_equal(config.guestfwds[0].host_address.s_addr, ip("127.0.0.1"));
    assert_int_equal(config.guestfwds[0].host_port, 8080);

    /* The protocol left out (QEMU's "[tcp]:"), the edges of the allowed
     * addresses, the same guest port on two addresses. */
    parse_ok("user,guestfwd=:10.0.2.4:1-tcp:192.0.2.1:65535,"
             "guestfwd=tcp:10.0.2.14:80-tcp:127.0.0.1:80,"
             "guestfwd=tcp:10.0.2.31:80-tcp:127.0.0.1:80,"
             "guestfwd=tcp:10.0.2.1:80-tcp:127.0.0.1:80",
             &config);
    assert_int_equal(config.guestfwd_count, 4);
    assert_int_equal(config.guestfwds[0].guest_address.s_addr, ip("10.0.2.4"));
    assert_int_equal(config.guestfwds[0].host_port, 65535);
}

static void test_guestfwd_refused(void **state)
{
    (void)state;
    static const struct refusal bad[] = {
        {"tcp:10.0.2.100:80", "not [tcp]:GUESTADDR:GUESTPORT-tcp:HOSTADDR:HOSTPORT"},
        {"10.0.2.100:80-tcp:127.0.0.1:80", "not [tcp]:GUESTADDR:GUESTPORT-tcp:HOSTADDR:HOSTPORT"},
        {"udp:10.0.2.100:80-tcp:127.0.0.1:80", "guestfwd forwards tcp only"},
        {"tcp:10.0.2.100:80-udp:127.0.0.1:80", "\"udp:127.0.0.1:80\" is not tcp:HOSTADDR:HOSTPORT"},
        {"tcp:10.0.2.100:80-127.0.0.1:80", "is not tcp:HOSTADDR:HOSTPORT"},
        {"tcp:10.0.2.100:80-cmd:nc 1 2", "is not tcp:HOSTADDR:HOSTPORT"},
        {"tcp::80-tcp:127.0.0.1:80", "\":80\" has no address (GUESTADDR:GUESTPORT)"},
        {"tcp:10.0.2.100-tcp:127.0.0.1:80", "\"10.0.2.100\" is not GUESTADDR:GUESTPORT"},
        {"tcp:10.0.2.100:80-tcp::80", "\":80\" has no address (HOSTADDR:HOSTPORT)"},
        {"tcp:10.0.2.100:80-tcp:127.0.0.1", "\"127.0.0.1\" is not HOSTADDR:HOSTPORT"},
        {"tcp:10.0.2.2:80-tcp:127.0.0.1:80", "10.0.2.2 is the gateway"},
        {"tcp:10.0.2.3:53-tcp:127.0.0.1:53", "10.0.2.3 is the DNS relay"},
        {"tcp:10.0.2.15:80-tcp:127.0.0.1:80", "10.0.2.15 is in the guest's DHCP range"},
        {"tcp:10.0.2.30:80-tcp:127.0.0.1:80", "10.0.2.30 is in the guest's DHCP range"},
        {"tcp:10.0.2.0:80-tcp:127.0.0.1:80", "is not a host address"},
        {"tcp:10.0.2.255:80-tcp:127.0.0.1:80", "is not a host address"},
        {"tcp:10.0.3.100:80-tcp:127.0.0.1:80", "not in the guest network"},
        {"tcp:127.0.0.1:80-tcp:127.0.0.1:80", "not in the guest network"},
        {"tcp:10.0.2.100:0-tcp:127.0.0.1:80", "\"0\" is not a port"},
        {"tcp:10.0.2.100:80-tcp:127.0.0.1:0", "\"0\" is not a port"},
        {"tcp:10.0.2.100:x-tcp:127.0.0.1:80", "\"x\" is not a port"},
        {"tcp:10.0.2.100:80-tcp:127.0.0.1:x", "\"x\" is not a port"},
        {"tcp:10.0.2.x:80-tcp:127.0.0.1:80", "\"10.0.2.x\" is not an IPv4 address"},
        {"tcp:10.0.2.100:80-tcp:host:80", "\"host\" is not an IPv4 address"},
        {"tcp:10.0.2.100:80-tcp:0.0.0.0:80", "host address 0.0.0.0 is not one to connect to"},
        {"tcp:10.0.2.100:80-tcp:224.0.0.1:80", "is not one to connect to"},
        {"tcp:10.0.2.100:80-tcp:255.255.255.255:80", "is not one to connect to"},
    };
    assert_values_refused("user,guestfwd=", bad, COUNT(bad));
    assert_refused("user,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:80,"
                   "guestfwd=:10.0.2.100:80-tcp:127.0.0.1:81",
                   "10.0.2.100:80 is forwarded twice");
}

static void test_tap(void **state)
{
    (void)state;
    struct net_config config;
    memset(&config, 0x5a, sizeof(config));
    parse_ok("tap,ifname=tap0", &config);
    assert_int_equal(config.kind, NET_KIND_TAP);
    assert_string_equal(config.ifname, "tap0");
    assert_int_equal(config.vhost, NET_VHOST_AUTO);
    assert_false(config.mac_given);
    assert_false(config.restrict_guest);
    assert_int_equal(config.hostfwd_count, 0);
    assert_int_equal(config.guestfwd_count, 0);

    parse_ok("tap,vhost=on,ifname=guest-tap.1", &config);
    assert_int_equal(config.vhost, NET_VHOST_ON);
    assert_string_equal(config.ifname, "guest-tap.1");
    parse_ok("tap,ifname=tap0,vhost=off,mac=02:00:00:00:00:02", &config);
    assert_int_equal(config.vhost, NET_VHOST_OFF);
    assert_true(config.mac_given);
    parse_ok("tap,ifname=0123456789abcde", &config); /* 15 characters: IFNAMSIZ - 1 */
    assert_string_equal(config.ifname, "0123456789abcde");

    assert_refused("tap", "--net tap: tap needs ifname=NAME");
    assert_refused("tap,vhost=on", "tap needs ifname=NAME");
    assert_refused("tap,ifname=", "empty value for ifname");
    assert_refused("tap,ifname=0123456789abcdef", "interface name longer than 15 characters");
    assert_refused("tap,ifname=a/b", "\"a/b\" is not an interface name");
    assert_refused("tap,ifname=a:b", "is not an interface name");
    assert_refused("tap,ifname=a b", "is not an interface name");
    assert_refused("tap,ifname=a\tb", "is not an interface name");
    assert_refused("tap,ifname=.", "is not an interface name");
    assert_refused("tap,ifname=..", "is not an interface name");
    assert_refused("tap,ifname=a,ifname=b", "ifname given twice");
    assert_refused("tap,ifname=a,vhost=auto", "\"auto\" is not on or off");
    assert_refused("tap,ifname=a,vhost=on,vhost=off", "vhost given twice");
}

static void test_keys_and_kinds(void **state)
{
    (void)state;
    assert_refused("", "needs a back end first (user or tap)");
    assert_refused(",restrict=on", "needs a back end first");
    assert_refused("foo", "--net foo: \"foo\" is not a network back end (user or tap)");
    assert_refused("User", "\"User\" is not a network back end");
    assert_refused("socket,listen=:1234", "\"socket\" is not a network back end");
    assert_refused("user,foo=1",
                   "--net user,foo=1: unknown key \"foo\" "
                   "(user takes mac, restrict, hostfwd, guestfwd)");
    assert_refused("tap,ifname=t,net=10.0.0.0/8", "unknown key \"net\" (tap takes mac, ifname, vhost)");
    assert_refused("user,ifname=tap0", "--net user,ifname=tap0: ifname is for --net tap, not user");
    assert_refused("user,vhost=on", "vhost is for --net tap, not user");
    assert_refused("tap,ifname=t,restrict=on", "restrict is for --net user, not tap");
    assert_refused("tap,ifname=t,hostfwd=tcp::2222-:22", "hostfwd is for --net user, not tap");
    assert_refused("tap,ifname=t,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:80",
                   "guestfwd is for --net user, not tap");
    assert_refused("user,restrict=on,restrict=off", "restrict given twice");
    assert_refused("user,mac=", "--net user,mac=: empty value for mac");
    assert_refused("user,hostfwd=", "empty value for hostfwd");
    assert_refused("user,guestfwd=", "empty value for guestfwd");
    assert_refused("user,restrict", "restrict needs a value (restrict=...)");
    assert_refused("user,", "--net user,: an empty item");
    assert_refused("user,,restrict=on", "an empty item");
    assert_refused("user,restrict=on,", "an empty item");
    assert_refused("user,=on", "unknown key \"\"");
    assert_refused("user,restrict=on=off", "\"on=off\" is not on or off");
    /* Control characters in a quoted value do not break the line. */
    assert_refused("user,mac=52:54:00:12:34:5\n", "--net user,mac=52:54:00:12:34:5?: \"52:54");
    assert_refused("tap\r", "\"tap?\" is not a network back end");
}

static void test_long_items_are_cut(void **state)
{
    (void)state;
    static char text[3000];
    int used = snprintf(text, sizeof(text), "user,hostfwd=tcp::22-:");
    memset(text + used, '9', sizeof(text) - (size_t)used - 1);
    struct net_config config;
    struct error error;
    assert_int_equal(net_config_parse(text, &config, &error), -1);
    /* The quote is cut; the fault still ends the line. */
    assert_non_null(strstr(error.message, "...: \""));
    assert_non_null(strstr(error.message, "is not a port"));
    memset(text, 'u', sizeof(text) - 1);
    assert_int_equal(net_config_parse(text, &config, &error), -1);
    assert_non_null(strstr(error.message, "is not a network back end"));
}

static void test_everything_together(void **state)
{
    (void)state;
    struct net_config config;
    parse_ok("user,mac=02:00:00:00:00:09,restrict=yes,hostfwd=tcp::2222-:22,"
             "guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8080,hostfwd=udp::5353-10.0.2.15:53",
             &config);
    assert_true(config.mac_given);
    assert_true(config.restrict_guest);
    assert_int_equal(config.hostfwd_count, 2);
    assert_false(config.hostfwds[0].udp);
    assert_true(config.hostfwds[1].udp);
    assert_int_equal(config.hostfwds[1].guest_address.s_addr, ip("10.0.2.15"));
    assert_int_equal(config.guestfwd_count, 1);
    assert_string_equal(config.ifname, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_defaults),     cmocka_unit_test(test_restrict_values),
        cmocka_unit_test(test_mac),               cmocka_unit_test(test_default_mac),
        cmocka_unit_test(test_hostfwd_accepted),  cmocka_unit_test(test_hostfwd_refused),
        cmocka_unit_test(test_rule_limits),       cmocka_unit_test(test_guestfwd_accepted),
        cmocka_unit_test(test_guestfwd_refused),  cmocka_unit_test(test_tap),
        cmocka_unit_test(test_keys_and_kinds),    cmocka_unit_test(test_long_items_are_cut),
        cmocka_unit_test(test_everything_together),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
