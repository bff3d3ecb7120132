/* The user network back end (libslirp) with a fake guest on the other side:
 * frames built by hand go in through ops->send, and what slirp answers is
 * recorded by a fake port.  All host traffic stays on 127.0.0.1, and every
 * test that can runs with restrict=on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <glib.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/net_config.h"
#include "net/relay.h"
#include "net/slirp.h"
#include "net_frames.h"

#define WAIT_MS 5000
#define KEPT_FRAMES 512
#define GUEST_ISN 1000u

/* The device side: records every frame it takes. */
struct fake_guest {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct {
        size_t length;
        uint8_t bytes[NET_FRAME_MAX];
    } frames[KEPT_FRAMES];
    int count;
    bool refuse;   /* receive returns false */
    int refusals;  /* how often it did */
    int tx_ready_calls;
    /* serve_transmit: the eventfd, what serve sends, and where it ran. */
    int notify_fd;
    struct net_backend *backend;
    int serve_calls;
    pthread_t serve_thread;
};

static bool fake_receive(void *device, const struct iovec *iov, int count)
{
    struct fake_guest *guest = device;
    pthread_mutex_lock(&guest->lock);
    bool taken = !guest->refuse;
    if (!taken) {
        guest->refusals++;
    } else if (guest->count < KEPT_FRAMES) {
        size_t length = 0;
        for (int i = 0; i < count && length + iov[i].iov_len <= NET_FRAME_MAX; i++) {
            memcpy(guest->frames[guest->count].bytes + length, iov[i].iov_base, iov[i].iov_len);
            length += iov[i].iov_len;
        }
        guest->frames[guest->count++].length = length;
    }
    pthread_cond_broadcast(&guest->changed);
    pthread_mutex_unlock(&guest->lock);
    return taken;
}

static void fake_tx_ready(void *device)
{
    struct fake_guest *guest = device;
    pthread_mutex_lock(&guest->lock);
    guest->tx_ready_calls++;
    pthread_cond_broadcast(&guest->changed);
    pthread_mutex_unlock(&guest->lock);
}

static struct timespec deadline_after(int ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += ms / 1000;
    deadline.tv_nsec += (long)(ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    return deadline;
}

/* Whether condition (over guest, under its lock) holds within WAIT_MS. */
#define GUEST_WAIT(guest, condition)                                                          \
    ({                                                                                        \
        struct timespec deadline_ = deadline_after(WAIT_MS);                                  \
        pthread_mutex_lock(&(guest)->lock);                                                   \
        while (!(condition) && pthread_cond_timedwait(&(guest)->changed, &(guest)->lock,      \
                                                      &deadline_) != ETIMEDOUT)               \
            ;                                                                                 \
        bool met_ = (condition);                                                              \
        pthread_mutex_unlock(&(guest)->lock);                                                 \
        met_;                                                                                 \
    })

static struct fake_guest *guest_new(void)
{
    struct fake_guest *guest = calloc(1, sizeof(*guest));
    assert_non_null(guest);
    pthread_mutex_init(&guest->lock, NULL);
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&guest->changed, &attributes);
    pthread_condattr_destroy(&attributes);
    return guest;
}

static void guest_free(struct fake_guest *guest)
{
    pthread_cond_destroy(&guest->changed);
    pthread_mutex_destroy(&guest->lock);
    free(guest);
}

typedef bool (*frame_match)(const uint8_t *frame, size_t length, const void *argument);

/* The first frame from *next on that matches, waiting WAIT_MS for it; *next
 * moves past it.  NULL when none came. */
static const uint8_t *wait_frame(struct fake_guest *guest, int *next, frame_match match,
                                 const void *argument, size_t *length)
{
    struct timespec deadline = deadline_after(WAIT_MS);
    pthread_mutex_lock(&guest->lock);
    for (;;) {
        for (; *next < guest->count; (*next)++) {
            if (match(guest->frames[*next].bytes, guest->frames[*next].length, argument)) {
                const uint8_t *frame = guest->frames[*next].bytes;
                if (length)
                    *length = guest->frames[*next].length;
                (*next)++;
                pthread_mutex_unlock(&guest->lock);
                return frame; /* kept frames are never written again */
            }
        }
        if (pthread_cond_timedwait(&guest->changed, &guest->lock, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&guest->lock);
            return NULL;
        }
    }
}

/* Whether any frame so far matches. */
static bool any_frame(struct fake_guest *guest, frame_match match, const void *argument)
{
    pthread_mutex_lock(&guest->lock);
    bool found = false;
    for (int i = 0; i < guest->count && !found; i++)
        found = match(guest->frames[i].bytes, guest->frames[i].length, argument);
    pthread_mutex_unlock(&guest->lock);
    return found;
}

static struct net_backend *user_network(const char *text, struct fake_guest *guest)
{
    struct net_config config;
    struct error error;
    if (net_config_parse(text, &config, &error))
        fail_msg("%s", error.message);
    struct net_backend *backend;
    if (net_slirp_create(&backend, &config, &error))
        fail_msg("%s", error.message);
    assert_string_equal(backend->ops->kind, "user");
    assert_false(backend->vnet_hdr);
    assert_int_equal(backend->offloads, 0);
    backend->port = (struct net_port){.receive = fake_receive, .device = guest};
    backend->tx_ready = fake_tx_ready;
    return backend;
}

static void start(struct net_backend *backend)
{
    struct error error;
    /* No event loop: the back end runs in a thread of its own. */
    if (backend->ops->start(backend, NULL, &error))
        fail_msg("%s", error.message);
}

static struct net_backend *started_network(const char *text, struct fake_guest *guest)
{
    struct net_backend *backend = user_network(text, guest);
    start(backend);
    return backend;
}

static void close_network(struct net_backend *backend)
{
    backend->ops->stop(backend, NULL);
    backend->ops->destroy(backend);
}

static void send_frame(struct net_backend *backend, const uint8_t *frame, size_t length)
{
    struct iovec iov = {.iov_base = (void *)frame, .iov_len = length};
    assert_int_equal(backend->ops->send(backend, &iov, 1), 0);
}

/* Frame matchers. */

static bool is_arp_reply(const uint8_t *frame, size_t length, const void *argument)
{
    const uint32_t *sender = argument;
    const uint8_t *arp = frame + NET_FRAME_ETH;
    return net_frame_type(frame, length) == 0x0806 && length >= NET_FRAME_ETH + 28 &&
           net_frame_get16(arp + 6) == 2 && net_frame_get32(arp + 14) == *sender &&
           memcmp(arp + 18, net_frame_guest_mac, 6) == 0 &&
           memcmp(frame, net_frame_guest_mac, 6) == 0;
}

struct tcp_expect {
    uint16_t guest_port; /* the segment goes to 10.0.2.15:guest_port */
    uint8_t flags;       /* all of these are set */
    bool data;           /* and it carries data */
};

static bool is_tcp(const uint8_t *frame, size_t length, const void *argument)
{
    const struct tcp_expect *expect = argument;
    struct net_frame_tcp_info tcp;
    return net_frame_read_tcp(frame, length, &tcp) &&
           tcp.destination == net_frame_ip(NET_FRAME_GUEST_IP) &&
           tcp.destination_port == expect->guest_port &&
           (tcp.flags & expect->flags) == expect->flags && (!expect->data || tcp.length > 0);
}

static struct net_frame_tcp_info wait_tcp(struct fake_guest *guest, int *next, uint16_t port,
                                          uint8_t flags, bool data)
{
    struct tcp_expect expect = {port, flags, data};
    size_t length;
    const uint8_t *frame = wait_frame(guest, next, is_tcp, &expect, &length);
    if (!frame)
        fail_msg("no TCP segment to port %u with flags 0x%x%s", port, flags,
                 data ? " and data" : "");
    struct net_frame_tcp_info tcp;
    net_frame_read_tcp(frame, length, &tcp);
    return tcp;
}

/* An ARP request for 10.0.2.2, answered: slirp has then also learnt the
 * guest's MAC, and has handled every frame sent before. */
static void arp_round_trip(struct net_backend *backend, struct fake_guest *guest, int *next)
{
    uint8_t frame[NET_FRAME_MAX];
    uint32_t gateway = net_frame_ip("10.0.2.2");
    send_frame(backend, frame, net_frame_arp_request(frame, gateway));
    if (!wait_frame(guest, next, is_arp_reply, &gateway, NULL))
        fail_msg("no ARP reply from 10.0.2.2");
}

/* The guest opens a TCP connection from port to destination:destination_port;
 * returns slirp's next sequence number. */
static uint32_t guest_connect(struct net_backend *backend, struct fake_guest *guest, int *next,
                              uint16_t port, uint32_t destination, uint16_t destination_port)
{
    uint8_t frame[NET_FRAME_MAX];
    send_frame(backend, frame,
               net_frame_tcp(frame, port, destination, destination_port, GUEST_ISN, 0, TCP_SYN,
                             NULL, 0));
    struct net_frame_tcp_info syn_ack = wait_tcp(guest, next, port, TCP_SYN | TCP_ACK, false);
    assert_int_equal(syn_ack.ack, GUEST_ISN + 1);
    assert_int_equal(syn_ack.source, destination);
    send_frame(backend, frame,
               net_frame_tcp(frame, port, destination, destination_port, GUEST_ISN + 1,
                             syn_ack.seq + 1, TCP_ACK, NULL, 0));
    return syn_ack.seq + 1;
}

/* Host sockets, all on 127.0.0.1. */

static struct sockaddr_in loopback(uint16_t port)
{
    return (struct sockaddr_in){
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
}

static int bound_socket(int type, uint16_t *port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in address = loopback(0);
    socklen_t length = sizeof(address);
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    *port = ntohs(address.sin_port);
    if (type == SOCK_STREAM)
        assert_int_equal(listen(fd, 128), 0);
    return fd;
}

/* A port nothing listens on (now). */
static uint16_t free_port(void)
{
    uint16_t port;
    close(bound_socket(SOCK_STREAM, &port));
    return port;
}

static int accept_within(int listener, int ms)
{
    struct pollfd ready = {.fd = listener, .events = POLLIN};
    if (poll(&ready, 1, ms) != 1)
        return -1;
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

static bool readable_within(int fd, int ms)
{
    struct pollfd ready = {.fd = fd, .events = POLLIN};
    return poll(&ready, 1, ms) == 1;
}

#define FD_LIMIT 1024

/* Which descriptors are open now. */
static int open_fds(bool open[FD_LIMIT])
{
    int count = 0;
    memset(open, 0, FD_LIMIT);
    DIR *fds = opendir("/proc/self/fd");
    assert_non_null(fds);
    struct dirent *entry;
    while ((entry = readdir(fds))) {
        int fd = atoi(entry->d_name);
        if (entry->d_name[0] != '.' && fd != dirfd(fds) && fd < FD_LIMIT) {
            open[fd] = true;
            count++;
        }
    }
    closedir(fds);
    return count;
}

/* Every descriptor opened since before is close-on-exec (those inherited
 * from whoever runs the test need not be). */
static void assert_new_fds_cloexec(const bool before[FD_LIMIT])
{
    bool now[FD_LIMIT];
    open_fds(now);
    for (int fd = 0; fd < FD_LIMIT; fd++)
        if (now[fd] && !before[fd] && !(fcntl(fd, F_GETFD) & FD_CLOEXEC))
            fail_msg("fd %d is not close-on-exec", fd);
}

/* libslirp's glib warnings (some a guest can cause at will) come out as
 * one log_once line, not one line each.  First in the list: log_once is once
 * per process. */
static void test_libslirp_messages_logged_once(void **state)
{
    (void)state;
    struct fake_guest *guest = guest_new();
    struct net_backend *backend = user_network("user,restrict=on", guest);
    FILE *captured = tmpfile();
    assert_non_null(captured);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(captured), STDERR_FILENO);
    g_log("Slirp", G_LOG_LEVEL_WARNING, "first %d", 1);
    g_log("Slirp", G_LOG_LEVEL_CRITICAL, "second %d", 2);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char text[512] = "";
    rewind(captured);
    size_t length = fread(text, 1, sizeof(text) - 1, captured);
    text[length] = '\0';
    fclose(captured);
    assert_non_null(strstr(text, "guest: user network: libslirp: first 1"));
    assert_null(strstr(text, "second"));
    backend->ops->destroy(backend);
    guest_free(guest);
}

static void test_arp(void **state)
{
    (void)state;
    struct fake_guest *guest = guest_new();
    struct net_backend *backend = started_network("user,restrict=on", guest);
    int next = 0;
    uint8_t frame[NET_FRAME_MAX];
    /* Nobody is at 10.0.2.77: no answer, and it comes before .3's. */
    send_frame(backend, frame, net_frame_arp_request(frame, net_frame_ip("10.0.2.77")));
    uint32_t dns = net_frame_ip("10.0.2.3");
    send_frame(backend, frame, net_frame_arp_request(frame, dns));
    size_t length;
    const uint8_t *reply = wait_frame(guest, &next, is_arp_reply, &dns, &length);
    assert_non_null(reply);
    assert_memory_equal(reply + NET_FRAME_ETH + 8, "\x52\x55\x0a\x00\x02\x03", 6);
    uint32_t nobody = net_frame_ip("10.0.2.77");
    assert_false(any_frame(guest, is_arp_reply, &nobody));

    arp_round_trip(backend, guest, &next);
    int from = 0;
    uint32_t gateway = net_frame_ip("10.0.2.2");
    reply = wait_frame(guest, &from, is_arp_reply, &gateway, &length);
    assert_memory_equal(reply + 6, net_frame_slirp_mac, 6);
    assert_memory_equal(reply + NET_FRAME_ETH + 8, net_frame_slirp_mac, 6);
    close_network(backend);
    guest_free(guest);
}

static bool is_dhcp_offer(const uint8_t *frame, size_t length, const void *argument)
{
    const uint32_t *xid = argument;
    size_t payload;
    const uint8_t *udp = net_frame_ip_payload(frame, length, 17, &payload);
    if (!udp || payload < NET_FRAME_UDP + DHCP_FIXED + 4 || net_frame_get16(udp) != 67 ||
        net_frame_get16(udp + 2) != 68)
        return false;
    const uint8_t *bootp = udp + NET_FRAME_UDP;
    return bootp[0] == 2 && net_frame_get32(bootp + 4) == *xid;
}

/* The value of DHCP option code in the options of bootp, or NULL. */
static const uint8_t *dhcp_option(const uint8_t *bootp, size_t length, uint8_t code)
{
    for (size_t at = DHCP_FIXED + 4; at + 2 <= length && bootp[at] != 255;) {
        if (bootp[at] == 0) {
            at++;
            continue;
        }
        if (bootp[at] == code && at + 2 + bootp[at + 1] <= length)
            return bootp + at + 2;
        at += 2 + (size_t)bootp[at + 1];
    }
    return NULL;
}

static void check_dhcp_offer(const char *text, bool restricted)
{
    struct fake_guest *guest = guest_new();
    struct net_backend *backend = started_network(text, guest);
    uint8_t frame[NET_FRAME_MAX];
    uint32_t xid = 0x12345678;
    send_frame(backend, frame, net_frame_dhcp_discover(frame, xid));
    int next = 0;
    size_t length, payload;
    const uint8_t *offer = wait_frame(guest, &next, is_dhcp_offer, &xid, &length);
    if (!offer)
        fail_msg("no DHCPOFFER");
    const uint8_t *bootp = net_frame_ip_payload(offer, length, 17, &payload) + NET_FRAME_UDP;
    payload -= NET_FRAME_UDP;
    assert_int_equal(net_frame_get32(bootp + 16), net_frame_ip("10.0.2.15")); /* yiaddr */
    assert_memory_equal(bootp + 28, net_frame_guest_mac, 6);
    const uint8_t *type = dhcp_option(bootp, payload, 53);
    assert_non_null(type);
    assert_int_equal(type[0], DHCP_OFFER);
    const uint8_t *mask = dhcp_option(bootp, payload, 1);
    assert_non_null(mask);
    assert_int_equal(net_frame_get32(mask), 0xffffff00);
    const uint8_t *router = dhcp_option(bootp, payload, 3);
    const uint8_t *dns = dhcp_option(bootp, payload, 6);
    if (restricted) {
        /* Nowhere to route to, no DNS: libslirp's restricted mode. */
        assert_null(router);
        assert_null(dns);
    } else {
        assert_non_null(router);
        assert_int_equal(net_frame_get32(router), net_frame_ip("10.0.2.2"));
        assert_non_null(dns);
        assert_int_equal(net_frame_get32(dns), net_frame_ip("10.0.2.3"));
    }
    close_network(backend);
    guest_free(guest);
}

static void test_dhcp_offer(void **state)
{
    (void)state;
    check_dhcp_offer("user,restrict=on", true);
    check_dhcp_offer("user", false); /* answered in the VMM: nothing leaves it */
}

/* A guest on the network of text, and host sockets on 127.0.0.1 for it to
 * try to reach: a TCP listener and a UDP socket. */
struct probe {
    struct fake_guest *guest;
    struct net_backend *backend;
    int next; /* the first frame not yet looked at */
    int listener, datagrams;
    uint16_t tcp_port, udp_port;
};

static void probe_open(struct probe *probe, const char *text)
{
    probe->listener = bound_socket(SOCK_STREAM, &probe->tcp_port);
    probe->datagrams = bound_socket(SOCK_DGRAM, &probe->udp_port);
    probe->guest = guest_new();
    probe->backend = started_network(text, probe->guest);
    probe->next = 0;
    arp_round_trip(probe->backend, probe->guest, &probe->next);
}

static void probe_close(struct probe *probe)
{
    close_network(probe->backend);
    guest_free(probe->guest);
    close(probe->listener);
    close(probe->datagrams);
}

static void probe_send_tcp_syn(struct probe *probe, uint16_t port, uint32_t target)
{
    uint8_t frame[NET_FRAME_MAX];
    send_frame(probe->backend, frame,
               net_frame_tcp(frame, port, target, probe->tcp_port, GUEST_ISN, 0, TCP_SYN, NULL,
                             0));
}

static void probe_send_udp(struct probe *probe, uint16_t port, uint32_t target)
{
    uint8_t frame[NET_FRAME_MAX];
    send_frame(probe->backend, frame,
               net_frame_udp(frame, net_frame_slirp_mac, net_frame_ip(NET_FRAME_GUEST_IP), port,
                             target, probe->udp_port, "out", 3));
}

/* The guest tries, from behind restrict=on, TCP and UDP to 127.0.0.1 both
 * directly and as 10.0.2.2 (the host's loopback, unrestricted). */
static void test_restricted_guest_reaches_nothing(void **state)
{
    (void)state;
    struct probe probe;
    probe_open(&probe, "user,restrict=on");
    static const char *const targets[] = {"10.0.2.2", "127.0.0.1"};
    for (size_t i = 0; i < 2; i++) {
        uint32_t target = net_frame_ip(targets[i]);
        uint16_t port = (uint16_t)(40000 + i);
        probe_send_tcp_syn(&probe, port, target);
        struct net_frame_tcp_info reset = wait_tcp(probe.guest, &probe.next, port, TCP_RST, false);
        assert_int_equal(reset.source, target);
        assert_int_equal(reset.ack, GUEST_ISN + 1);
        probe_send_udp(&probe, port, target);
    }
    /* slirp handles frames in order: after this answer the UDP is done with,
     * and a connect() would have been started. */
    arp_round_trip(probe.backend, probe.guest, &probe.next);
    assert_int_equal(accept_within(probe.listener, 300), -1);
    assert_false(readable_within(probe.datagrams, 0));
    probe_close(&probe);
}

/* The same without restrict=on reaches the sockets: the test above would
 * see a leak.  10.0.2.2 is the host's loopback, so nothing leaves the host. */
static void test_unrestricted_guest_reaches_host_loopback(void **state)
{
    (void)state;
    struct probe probe;
    probe_open(&probe, "user");
    uint32_t gateway = net_frame_ip("10.0.2.2");
    probe_send_tcp_syn(&probe, 40000, gateway);
    int connection = accept_within(probe.listener, WAIT_MS);
    assert_true(connection >= 0);
    probe_send_udp(&probe, 40001, gateway);
    assert_true(readable_within(probe.datagrams, WAIT_MS));
    char bytes[8];
    assert_int_equal(recv(probe.datagrams, bytes, sizeof(bytes), 0), 3);
    assert_memory_equal(bytes, "out", 3);
    close(connection);
    probe_close(&probe);
}

static void test_hostfwd_reaches_guest(void **state)
{
    (void)state;
    uint16_t host_port = free_port();
    char text[128];
    snprintf(text, sizeof(text), "user,restrict=on,hostfwd=tcp:127.0.0.1:%u-:2222", host_port);
    bool before[FD_LIMIT];
    open_fds(before);
    struct fake_guest *guest = guest_new();
    struct net_backend *backend = started_network(text, guest);
    int next = 0;
    arp_round_trip(backend, guest, &next);

    int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = loopback(host_port);
    assert_int_equal(connect(client, (struct sockaddr *)&address, sizeof(address)), 0);
    /* slirp accepted on the host, and now calls the guest. */
    struct tcp_expect syn = {2222, TCP_SYN, false};
    size_t length;
    const uint8_t *frame = wait_frame(guest, &next, is_tcp, &syn, &length);
    if (!frame)
        fail_msg("no SYN for 10.0.2.15:2222");
    struct net_frame_tcp_info call;
    net_frame_read_tcp(frame, length, &call);
    assert_int_equal(call.flags & (TCP_SYN | TCP_ACK), TCP_SYN);
    assert_int_equal(call.destination, net_frame_ip("10.0.2.15"));
    assert_memory_equal(frame, net_frame_guest_mac, 6);

    /* The guest answers (the SYN's source is whom it answers); then bytes
     * from the host client reach it. */
    uint8_t answer[NET_FRAME_MAX];
    size_t size = net_frame_tcp(answer, 2222, call.source, call.source_port, GUEST_ISN,
                                call.seq + 1, TCP_SYN | TCP_ACK, NULL, 0);
    send_frame(backend, answer, size);
    assert_int_equal(send(client, "ping", 4, MSG_NOSIGNAL), 4);
    struct net_frame_tcp_info reply = wait_tcp(guest, &next, 2222, TCP_ACK, true);
    assert_int_equal(reply.length, 4);
    assert_memory_equal(reply.data, "ping", 4);
    /* slirp's accepted socket too (libslirp accepts without SOCK_CLOEXEC). */
    assert_new_fds_cloexec(before);
    close_network(backend);
    guest_free(guest);
    close(client);
}

static void check_port_in_use(const char *rule_format, int type)
{
    uint16_t port;
    int holder = bound_socket(type, &port);
    char rule[64], text[128], expected[192];
    snprintf(rule, sizeof(rule), rule_format, port);
    snprintf(text, sizeof(text), "user,restrict=on,hostfwd=%s", rule);
    snprintf(expected, sizeof(expected),
             "--net user,hostfwd=%s: host port %u: Address already in use", rule, port);
    struct net_config config;
    struct error error;
    assert_int_equal(net_config_parse(text, &config, &error), 0);
    struct net_backend *backend = NULL;
    assert_int_equal(net_slirp_create(&backend, &config, &error), -1);
    assert_string_equal(error.message, expected);
    close(holder);
}

static void test_hostfwd_port_in_use(void **state)
{
    (void)state;
    check_port_in_use("tcp::%u-:22", SOCK_STREAM);
    check_port_in_use("tcp:127.0.0.1:%u-10.0.2.15:22", SOCK_STREAM);
    check_port_in_use("udp:127.0.0.1:%u-:53", SOCK_DGRAM);
}

/* A started network whose guestfwd takes 10.0.2.100:8080 to a host service
 * on 127.0.0.1, slirp knowing the guest's MAC. */
struct forwarded {
    struct fake_guest *guest;
    struct net_backend *backend;
    int next;        /* the first frame not yet looked at */
    int service;     /* the service's listener; -1 when nothing listens */
    uint32_t server; /* 10.0.2.100 */
};

static void forwarded_open(struct forwarded *forwarded, bool listening)
{
    uint16_t port;
    forwarded->service = listening ? bound_socket(SOCK_STREAM, &port) : -1;
    if (!listening)
        port = free_port();
    char text[128];
    snprintf(text, sizeof(text), "user,restrict=on,guestfwd=tcp:10.0.2.100:8080-tcp:127.0.0.1:%u",
             port);
    forwarded->guest = guest_new();
    forwarded->backend = started_network(text, forwarded->guest);
    forwarded->next = 0;
    forwarded->server = net_frame_ip("10.0.2.100");
    arp_round_trip(forwarded->backend, forwarded->guest, &forwarded->next);
}

static void forwarded_close(struct forwarded *forwarded)
{
    close_network(forwarded->backend);
    guest_free(forwarded->guest);
    if (forwarded->service >= 0)
        close(forwarded->service);
}

/* The guest connects from port to 10.0.2.100:8080; slirp's next seq. */
static uint32_t forwarded_connect(struct forwarded *forwarded, uint16_t port)
{
    return guest_connect(forwarded->backend, forwarded->guest, &forwarded->next, port,
                         forwarded->server, 8080);
}

static void test_guestfwd_connection_per_guest_connection(void **state)
{
    (void)state;
    struct forwarded f;
    forwarded_open(&f, true);
    /* slirp answers ARP for a guestfwd address. */
    uint8_t frame[NET_FRAME_MAX];
    send_frame(f.backend, frame, net_frame_arp_request(frame, f.server));
    assert_non_null(wait_frame(f.guest, &f.next, is_arp_reply, &f.server, NULL));

    /* Two guest connections, two host connections. */
    uint32_t first_seq = forwarded_connect(&f, 40001);
    int first = accept_within(f.service, WAIT_MS);
    assert_true(first >= 0);
    forwarded_connect(&f, 40002);
    int second = accept_within(f.service, WAIT_MS);
    assert_true(second >= 0);

    /* Bytes both ways on the first. */
    assert_int_equal(send(first, "hello", 5, MSG_NOSIGNAL), 5);
    struct net_frame_tcp_info data = wait_tcp(f.guest, &f.next, 40001, TCP_ACK, true);
    assert_int_equal(data.seq, first_seq);
    assert_int_equal(data.length, 5);
    assert_memory_equal(data.data, "hello", 5);
    send_frame(f.backend, frame,
               net_frame_tcp(frame, 40001, f.server, 8080, GUEST_ISN + 1, first_seq + 5,
                             TCP_ACK | TCP_PSH, "world", 5));
    assert_true(readable_within(first, WAIT_MS));
    char bytes[8];
    assert_int_equal(recv(first, bytes, sizeof(bytes), 0), 5);
    assert_memory_equal(bytes, "world", 5);

    /* The service ends the second: the guest's connection ends too. */
    close(second);
    wait_tcp(f.guest, &f.next, 40002, TCP_FIN, false);
    close(first);
    forwarded_close(&f);
}

static void test_guestfwd_service_unreachable(void **state)
{
    (void)state;
    struct forwarded f;
    forwarded_open(&f, false);
    /* Twice: the first failure does not spoil the rule. */
    for (uint16_t port = 40001; port <= 40002; port++) {
        forwarded_connect(&f, port);
        wait_tcp(f.guest, &f.next, port, TCP_FIN, false);
    }
    arp_round_trip(f.backend, f.guest, &f.next); /* and the network still runs */
    forwarded_close(&f);
}

static bool is_fin_to(const uint8_t *frame, size_t length, const void *argument)
{
    struct tcp_expect expect = {*(const uint16_t *)argument, TCP_FIN, false};
    return is_tcp(frame, length, &expect);
}

/* The relay serves NET_RELAY_MAX_CONNECTIONS at once; the next guest
 * connection is closed, the others live on. */
static void test_guestfwd_connection_limit(void **state)
{
    (void)state;
    struct forwarded f;
    forwarded_open(&f, true);
    enum { LIMIT = NET_RELAY_MAX_CONNECTIONS };
    int accepted[LIMIT];
    for (int i = 0; i < LIMIT; i++) {
        forwarded_connect(&f, (uint16_t)(41000 + i));
        accepted[i] = accept_within(f.service, WAIT_MS);
        assert_true(accepted[i] >= 0);
    }
    uint16_t over = 41000 + LIMIT;
    forwarded_connect(&f, over);
    wait_tcp(f.guest, &f.next, over, TCP_FIN, false);
    arp_round_trip(f.backend, f.guest, &f.next);
    for (uint16_t port = 41000; port < over; port++)
        if (any_frame(f.guest, is_fin_to, &port))
            fail_msg("connection from port %u closed", port);
    assert_int_equal(accept_within(f.service, 0), -1);
    for (int i = 0; i < LIMIT; i++)
        close(accepted[i]);
    forwarded_close(&f);
}

static void test_tx_ring_full(void **state)
{
    (void)state;
    struct fake_guest *guest = guest_new();
    struct net_backend *backend = user_network("user,restrict=on", guest);
    /* Not started: nothing drains the ring.  A frame of a local
     * experimental EtherType, which slirp ignores. */
    uint8_t frame[60] = {0};
    net_frame_ethernet(frame, net_frame_slirp_mac, 0x88b5);
    for (int i = 0; i < NET_SLIRP_TX_SLOTS; i++)
        send_frame(backend, frame, sizeof(frame));
    struct iovec iov = {.iov_base = frame, .iov_len = sizeof(frame)};
    errno = 0;
    assert_int_equal(backend->ops->send(backend, &iov, 1), -1);
    assert_int_equal(errno, EAGAIN);
    /* A frame over the limit is dropped (taken), full ring or not. */
    static uint8_t huge[NET_SLIRP_FRAME_MAX + 1];
    struct iovec too_big = {.iov_base = huge, .iov_len = sizeof(huge)};
    assert_int_equal(backend->ops->send(backend, &too_big, 1), 0);
    struct net_slirp_counters counters;
    net_slirp_counters(backend, &counters);
    assert_int_equal(counters.tx_dropped, 1);
    assert_int_equal(guest->tx_ready_calls, 0);

    start(backend);
    assert_true(GUEST_WAIT(guest, guest->tx_ready_calls >= 1));
    /* Room again; an ARP request in three pieces is one frame. */
    uint8_t arp[NET_FRAME_MAX];
    size_t length = net_frame_arp_request(arp, net_frame_ip("10.0.2.2"));
    struct iovec pieces[3] = {{arp, 5}, {arp + 5, 20}, {arp + 25, length - 25}};
    assert_int_equal(backend->ops->send(backend, pieces, 3), 0);
    int next = 0;
    uint32_t gateway = net_frame_ip("10.0.2.2");
    assert_non_null(wait_frame(guest, &next, is_arp_reply, &gateway, NULL));
    close_network(backend);
    guest_free(guest);
}

/* serve_transmit's serve, as the device's: drains the notification, then
 * sends an ARP request for the gateway (in the back end's thread). */
static void fake_serve(void *device)
{
    struct fake_guest *guest = device;
    uint64_t count;
    assert_int_equal(read(guest->notify_fd, &count, sizeof(count)), sizeof(count));
    uint8_t frame[NET_FRAME_MAX];
    send_frame(guest->backend, frame, net_frame_arp_request(frame, net_frame_ip("10.0.2.2")));
    pthread_mutex_lock(&guest->lock);
    guest->serve_calls++;
    guest->serve_thread = pthread_self();
    pthread_cond_broadcast(&guest->changed);
    pthread_mutex_unlock(&guest->lock);
}

/* With serve_transmit the slirp thread watches the transmit queue's eventfd
 * and serves it itself: one serve per notification, and what it sends is
 * answered without another wake-up. */
static void test_serve_transmit_in_slirp_thread(void **state)
{
    (void)state;
    struct fake_guest *guest = guest_new();
    guest->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true(guest->notify_fd >= 0);
    guest->backend = user_network("user,restrict=on", guest);
    assert_true(guest->backend->ops->serve_transmit(guest->backend, guest->notify_fd, fake_serve));
    start(guest->backend);
    int next = 0;
    uint32_t gateway = net_frame_ip("10.0.2.2");
    for (int round = 1; round <= 3; round++) {
        uint64_t one = 1;
        assert_int_equal(write(guest->notify_fd, &one, sizeof(one)), sizeof(one));
        assert_non_null(wait_frame(guest, &next, is_arp_reply, &gateway, NULL));
        assert_true(GUEST_WAIT(guest, guest->serve_calls == round));
    }
    usleep(50 * 1000); /* no notification, no serve */
    pthread_mutex_lock(&guest->lock);
    assert_int_equal(guest->serve_calls, 3);
    assert_false(pthread_equal(guest->serve_thread, pthread_self()));
    pthread_mutex_unlock(&guest->lock);
    close_network(guest->backend);
    close(guest->notify_fd);
    guest_free(guest);
}

/* IPv4 fragments never reach libslirp: its reassembly dereferenced bytes of
 * this one (fuzz_net_slirp found it; protocol 0, offset 48, from the guest
 * to the gateway), and any fragment is dropped and counted. */
static void test_ipv4_fragments_dropped(void **state)
{
    (void)state;
    struct fake_guest *guest = guest_new();
    struct net_backend *backend = user_network("user,restrict=on", guest);
    start(backend);
    static const uint8_t crafted[54] = {
        0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x02, 0x67, 0x75, 0x65, 0x00, 0x00, 0x08, 0x00,
        0x45, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x06, 0x40, 0x00, 0x62, 0xc0, 0x0a, 0x00,
        0x02, 0x0f, 0x0a, 0x00, 0x02, 0x02, 0x9c, 0x40, 0x00, 0x16, 0x00, 0x00, 0x36, 0x00,
        0x52, 0x55, 0x0a, 0x00, 0x02, 0x02, 0x02, 0x67, 0x75, 0x65, 0x00, 0x00};
    uint8_t more_fragments[54];
    memcpy(more_fragments, crafted, sizeof(more_fragments));
    more_fragments[20] = 0x20; /* MF, offset 0 */
    more_fragments[21] = 0x00;
    for (int i = 0; i < 3; i++) {
        send_frame(backend, crafted, sizeof(crafted));
        send_frame(backend, more_fragments, sizeof(more_fragments));
    }
    /* Still alive and answering: an ARP for the gateway gets its reply. */
    uint8_t arp[NET_FRAME_MAX];
    size_t length = net_frame_arp_request(arp, net_frame_ip("10.0.2.2"));
    send_frame(backend, arp, length);
    int next = 0;
    uint32_t gateway = net_frame_ip("10.0.2.2");
    assert_non_null(wait_frame(guest, &next, is_arp_reply, &gateway, NULL));
    struct net_slirp_counters counters;
    net_slirp_counters(backend, &counters);
    assert_int_equal(counters.tx_fragments, 6);
    assert_int_equal(counters.tx_dropped, 6);
    close_network(backend);
    guest_free(guest);
}

static bool is_any_arp_reply(const uint8_t *frame, size_t length, const void *argument)
{
    (void)argument;
    return net_frame_type(frame, length) == 0x0806 && net_frame_get16(frame + 20) == 2;
}

static void test_rx_backlog(void **state)
{
    (void)state;
    struct fake_guest *guest = guest_new();
    struct net_backend *backend = started_network("user,restrict=on", guest);
    guest->refuse = true;
    uint8_t frame[NET_FRAME_MAX];
    static const char *const order[] = {"10.0.2.2", "10.0.2.3", "10.0.2.2"};
    for (int i = 0; i < 3; i++)
        send_frame(backend, frame, net_frame_arp_request(frame, net_frame_ip(order[i])));
    assert_true(GUEST_WAIT(guest, guest->refusals == 1));
    usleep(100 * 1000);
    /* Offered once: the others wait behind the refused one. */
    pthread_mutex_lock(&guest->lock);
    assert_int_equal(guest->refusals, 1);
    assert_int_equal(guest->count, 0);
    guest->refuse = false;
    pthread_mutex_unlock(&guest->lock);
    backend->ops->rx_ready(backend);
    assert_true(GUEST_WAIT(guest, guest->count == 3));
    for (int i = 0; i < 3; i++)
        assert_int_equal(net_frame_get32(guest->frames[i].bytes + NET_FRAME_ETH + 14),
                         net_frame_ip(order[i]));

    /* More than the backlog holds: the rest are dropped and counted. */
    pthread_mutex_lock(&guest->lock);
    guest->refuse = true;
    pthread_mutex_unlock(&guest->lock);
    for (int i = 0; i < NET_SLIRP_RX_BACKLOG + 5; i++)
        send_frame(backend, frame, net_frame_arp_request(frame, net_frame_ip("10.0.2.2")));
    struct net_slirp_counters counters = {0};
    for (int waited = 0; waited < WAIT_MS && counters.rx_dropped < 5; waited += 10) {
        usleep(10 * 1000);
        net_slirp_counters(backend, &counters);
    }
    assert_int_equal(counters.rx_dropped, 5);
    pthread_mutex_lock(&guest->lock);
    guest->refuse = false;
    pthread_mutex_unlock(&guest->lock);
    backend->ops->rx_ready(backend);
    assert_true(GUEST_WAIT(guest, guest->count == 3 + NET_SLIRP_RX_BACKLOG));
    usleep(50 * 1000); /* nothing more comes */
    pthread_mutex_lock(&guest->lock);
    assert_int_equal(guest->count, 3 + NET_SLIRP_RX_BACKLOG);
    for (int i = 0; i < guest->count; i++)
        assert_true(is_any_arp_reply(guest->frames[i].bytes, guest->frames[i].length, NULL));
    pthread_mutex_unlock(&guest->lock);
    close_network(backend);
    guest_free(guest);
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void test_stop_start_and_leaks(void **state)
{
    (void)state;
    char directory[] = "/tmp/test-net-slirp-XXXXXX";
    assert_non_null(mkdtemp(directory));
    setenv("TMPDIR", directory, 1);
    bool before[FD_LIMIT], after[FD_LIMIT];
    int count = open_fds(before);
    struct fake_guest *guest = guest_new();
    char text[160];
    snprintf(text, sizeof(text),
             "user,restrict=on,hostfwd=tcp:127.0.0.1:%u-:22,"
             "guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:%u",
             free_port(), free_port());
    struct net_backend *backend = user_network(text, guest);
    assert_new_fds_cloexec(before);
    start(backend);
    int next = 0;
    arp_round_trip(backend, guest, &next);
    assert_new_fds_cloexec(before);

    /* A stop is prompt, and the network runs again after a start. */
    struct timespec since;
    clock_gettime(CLOCK_MONOTONIC, &since);
    backend->ops->stop(backend, NULL);
    assert_true(elapsed_ms(&since) < 1000);
    backend->ops->stop(backend, NULL); /* idempotent */
    start(backend);
    arp_round_trip(backend, guest, &next);
    close_network(backend);

    /* Destroyed without a start, too. */
    backend = user_network(text, guest);
    backend->ops->destroy(backend);
    guest_free(guest);
    assert_int_equal(open_fds(after), count);
    assert_memory_equal(after, before, FD_LIMIT);
    assert_int_equal(rmdir(directory), 0); /* empty: the relay's sockets are gone */
    unsetenv("TMPDIR");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libslirp_messages_logged_once),
        cmocka_unit_test(test_arp),
        cmocka_unit_test(test_dhcp_offer),
        cmocka_unit_test(test_restricted_guest_reaches_nothing),
        cmocka_unit_test(test_unrestricted_guest_reaches_host_loopback),
        cmocka_unit_test(test_hostfwd_reaches_guest),
        cmocka_unit_test(test_hostfwd_port_in_use),
        cmocka_unit_test(test_guestfwd_connection_per_guest_connection),
        cmocka_unit_test(test_guestfwd_service_unreachable),
        cmocka_unit_test(test_guestfwd_connection_limit),
        cmocka_unit_test(test_tx_ring_full),
        cmocka_unit_test(test_serve_transmit_in_slirp_thread),
        cmocka_unit_test(test_ipv4_fragments_dropped),
        cmocka_unit_test(test_rx_backlog),
        cmocka_unit_test(test_stop_start_and_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
