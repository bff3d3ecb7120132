/* --net user on libslirp (net/slirp.h).  One thread owns the Slirp: it
 * polls slirp's sockets, the worker's eventfd and the device's transmit
 * notification (serve_transmit), runs slirp's timers, serves the transmit
 * queue into the tx ring and feeds slirp from there, and hands slirp's frames
 * to the device (port.receive), keeping those the device refuses in a backlog
 * until rx_ready.  The ring and the backlog are allocated once, at creation. */
#include "net/slirp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <libslirp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "net/relay.h"
#include "net/user_network.h"
#include "net/worker.h"

struct frame {
    uint16_t length;
    uint8_t bytes[NET_SLIRP_FRAME_MAX];
};

struct slirp_timer {
    SlirpTimerCb callback;
    void *opaque;
    int64_t expire_ms; /* on CLOCK_MONOTONIC; -1 when not armed */
    struct slirp_timer *next;
};

struct net_slirp {
    struct net_backend backend; /* first: the ops are given &backend */
    Slirp *slirp;
    struct net_worker worker;
    struct net_relay *relay; /* guestfwd's host side; NULL without rules */

    /* Frames from the guest: one producer (send, serialized by the device
     * lock), one consumer (the slirp thread).  Indices run freely; a slot is
     * index % NET_SLIRP_TX_SLOTS. */
    struct frame *tx_ring;
    int tx_notify_fd;           /* serve_transmit's; -1 when send comes from elsewhere */
    void (*tx_serve)(void *device);
    atomic_uint tx_head;    /* written by send only */
    atomic_uint tx_tail;    /* written by the slirp thread only */
    atomic_bool tx_blocked; /* send said EAGAIN: tx_ready is owed */
    atomic_bool tx_kicked;  /* a wake-up for the ring is on its way */

    /* Frames for the guest that port.receive refused, oldest first; the
     * slirp thread's alone. */
    struct frame *rx_backlog;
    unsigned rx_first, rx_count;
    atomic_bool rx_ready;

    atomic_ullong tx_dropped, rx_dropped;
    atomic_ullong tx_fragments; /* of tx_dropped: IPv4 fragments (is_ipv4_fragment) */

    /* The slirp thread's poll set, rebuilt every round; it grows (rarely)
     * with the number of slirp's sockets. */
    struct pollfd *pollfds;
    unsigned poll_count, poll_capacity;
    struct slirp_timer *timers;
};

static struct net_slirp *from_backend(const struct net_backend *backend)
{
    return (struct net_slirp *)backend;
}

static int64_t now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Guest to slirp. */

/* An IPv4 packet that is a fragment (more fragments follow, or an offset).
 * libslirp 4.7's reassembly (ip_reass) follows pointers it keeps inside the
 * fragments' own bytes: a guest's crafted fragment makes it dereference guest
 * data (found by fuzz_net_slirp).  So fragments never reach it.  Linux sends
 * TCP with DF and fits UDP to the MTU unless told otherwise; what is lost is
 * UDP datagrams larger than the link. */
static bool is_ipv4_fragment(const uint8_t *frame, size_t length)
{
    const size_t ethernet = 14, fragment_field = ethernet + 6;
    if (length < fragment_field + 2 || frame[12] != 0x08 || frame[13] != 0x00)
        return false;
    uint16_t field = (uint16_t)(frame[fragment_field] << 8 | frame[fragment_field + 1]);
    return (field & 0x3fff) != 0; /* MF, or a fragment offset */
}

/* True in a slirp thread while it serves the transmit queue: send needs no
 * wake-up then, as the same thread drains the ring next. */
static _Thread_local bool serving_transmit;

static int slirp_send(struct net_backend *backend, const struct iovec *iov, int count)
{
    struct net_slirp *s = from_backend(backend);
    size_t length = 0;
    for (int i = 0; i < count; i++)
        length += iov[i].iov_len;
    if (length > NET_SLIRP_FRAME_MAX) {
        atomic_fetch_add(&s->tx_dropped, 1);
        log_once("user network: a %zu-byte frame from the guest is over the %d-byte limit; "
                 "dropped (logged once)", length, NET_SLIRP_FRAME_MAX);
        return 0;
    }
    unsigned head = atomic_load_explicit(&s->tx_head, memory_order_relaxed);
    if (head - atomic_load(&s->tx_tail) == NET_SLIRP_TX_SLOTS) {
        /* Full.  Say tx_ready is owed, then look again: the thread may have
         * made room between the two, before it could see the flag.  (If it
         * did, the flag stays set and tx_ready comes once needlessly.) */
        atomic_store(&s->tx_blocked, true);
        if (head - atomic_load(&s->tx_tail) == NET_SLIRP_TX_SLOTS) {
            errno = EAGAIN;
            return -1;
        }
    }
    struct frame *frame = &s->tx_ring[head % NET_SLIRP_TX_SLOTS];
    size_t at = 0;
    for (int i = 0; i < count; i++) {
        if (iov[i].iov_len) /* an empty piece may have no base */
            memcpy(frame->bytes + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    if (is_ipv4_fragment(frame->bytes, length)) {
        atomic_fetch_add(&s->tx_dropped, 1);
        atomic_fetch_add(&s->tx_fragments, 1);
        log_once("user network: dropped an IPv4 fragment from the guest (libslirp 4.7 "
                 "reassembles fragments unsafely; logged once)");
        return 0;
    }
    frame->length = (uint16_t)length;
    atomic_store(&s->tx_head, head + 1);
    /* One wake-up per batch: the thread clears tx_kicked before it looks
     * at the ring, so the first frame after that wakes it again. */
    if (!serving_transmit && !atomic_exchange(&s->tx_kicked, true))
        net_worker_wake(&s->worker);
    return 0;
}

static bool slirp_serve_transmit(struct net_backend *backend, int notify_fd,
                                 void (*serve)(void *device))
{
    struct net_slirp *s = from_backend(backend);
    s->tx_notify_fd = notify_fd;
    s->tx_serve = serve;
    return true;
}

/* In the slirp thread: every frame queued so far into slirp. */
static void drain_tx(struct net_slirp *s)
{
    atomic_store(&s->tx_kicked, false);
    unsigned tail = atomic_load_explicit(&s->tx_tail, memory_order_relaxed);
    unsigned head = atomic_load(&s->tx_head);
    if (tail == head)
        return;
    for (; tail != head; tail++) {
        const struct frame *frame = &s->tx_ring[tail % NET_SLIRP_TX_SLOTS];
        slirp_input(s->slirp, frame->bytes, frame->length);
        atomic_store(&s->tx_tail, tail + 1);
    }
    if (atomic_exchange(&s->tx_blocked, false) && s->backend.tx_ready)
        s->backend.tx_ready(s->backend.port.device);
}

/* Slirp to guest, in the slirp thread. */

static bool offer(struct net_slirp *s, const void *bytes, size_t length)
{
    struct iovec iov = {.iov_base = (void *)bytes, .iov_len = length};
    return !s->backend.port.receive || s->backend.port.receive(s->backend.port.device, &iov, 1);
}

static void keep_for_later(struct net_slirp *s, const void *bytes, size_t length)
{
    if (s->rx_count == NET_SLIRP_RX_BACKLOG || length > NET_SLIRP_FRAME_MAX) {
        atomic_fetch_add(&s->rx_dropped, 1);
        log_once("user network: the guest is not taking frames; dropping some (TCP sends them "
                 "again; logged once)");
        return;
    }
    struct frame *frame = &s->rx_backlog[(s->rx_first + s->rx_count) % NET_SLIRP_RX_BACKLOG];
    memcpy(frame->bytes, bytes, length);
    frame->length = (uint16_t)length;
    s->rx_count++;
}

/* libslirp's send_packet: while frames wait in the backlog the new one
 * waits behind them, keeping the order. */
static ssize_t slirp_send_packet(const void *bytes, size_t length, void *opaque)
{
    struct net_slirp *s = opaque;
    if (s->rx_count > 0 || !offer(s, bytes, length))
        keep_for_later(s, bytes, length);
    return (ssize_t)length;
}

static void deliver_backlog(struct net_slirp *s)
{
    while (s->rx_count > 0) {
        const struct frame *frame = &s->rx_backlog[s->rx_first];
        if (!offer(s, frame->bytes, frame->length))
            return; /* the device calls rx_ready again */
        s->rx_first = (s->rx_first + 1) % NET_SLIRP_RX_BACKLOG;
        s->rx_count--;
    }
}

static void slirp_rx_ready(struct net_backend *backend)
{
    struct net_slirp *s = from_backend(backend);
    atomic_store(&s->rx_ready, true);
    net_worker_wake(&s->worker);
}

/* libslirp's other callbacks, all in the slirp thread (or in
 * net_slirp_create, before it starts). */

static void slirp_guest_error(const char *message, void *opaque)
{
    (void)opaque;
    log_once("user network: the guest: %s (logged once)", message);
}

static int64_t slirp_clock_get_ns(void *opaque)
{
    (void)opaque;
    return now_ns();
}

static void *slirp_timer_new(SlirpTimerCb callback, void *callback_opaque, void *opaque)
{
    struct net_slirp *s = opaque;
    struct slirp_timer *timer = calloc(1, sizeof(*timer));
    if (!timer)
        return NULL;
    *timer = (struct slirp_timer){callback, callback_opaque, -1, s->timers};
    s->timers = timer;
    return timer;
}

static void slirp_timer_free(void *timer, void *opaque)
{
    struct net_slirp *s = opaque;
    for (struct slirp_timer **link = &s->timers; *link; link = &(*link)->next)
        if (*link == timer) {
            *link = ((struct slirp_timer *)timer)->next;
            free(timer);
            return;
        }
}

static void slirp_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    if (timer)
        ((struct slirp_timer *)timer)->expire_ms = expire_ms;
}

/* The poll set is rebuilt every round, so there is nothing to register; but
 * libslirp 4.7 accept()s hostfwd connections without SOCK_CLOEXEC, and
 * registers every socket it opens: close-on-exec here, then. */
static void slirp_register_poll_fd(int fd, void *opaque)
{
    (void)opaque;
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC))
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static void slirp_unregister_poll_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

/* Only slirp_socket_recv users (callback guestfwds) need the kick. */
static void slirp_notify(void *opaque)
{
    (void)opaque;
}

static const SlirpCb slirp_callbacks = {
    .send_packet = slirp_send_packet,
    .guest_error = slirp_guest_error,
    .clock_get_ns = slirp_clock_get_ns,
    .timer_new = slirp_timer_new,
    .timer_free = slirp_timer_free,
    .timer_mod = slirp_timer_mod,
    .register_poll_fd = slirp_register_poll_fd,
    .unregister_poll_fd = slirp_unregister_poll_fd,
    .notify = slirp_notify,
};

/* The slirp thread. */

static int slirp_add_poll(int fd, int events, void *opaque)
{
    struct net_slirp *s = opaque;
    if (s->poll_count == s->poll_capacity) {
        unsigned capacity = s->poll_capacity * 2;
        struct pollfd *grown = realloc(s->pollfds, capacity * sizeof(*grown));
        if (!grown) {
            log_once("user network: out of memory for the poll set; some sockets wait");
            return -1; /* slirp skips the socket this round */
        }
        s->pollfds = grown;
        s->poll_capacity = capacity;
    }
    short wanted = (short)((events & SLIRP_POLL_IN ? POLLIN : 0) |
                           (events & SLIRP_POLL_OUT ? POLLOUT : 0) |
                           (events & SLIRP_POLL_PRI ? POLLPRI : 0));
    s->pollfds[s->poll_count] = (struct pollfd){.fd = fd, .events = wanted};
    return (int)s->poll_count++;
}

static int slirp_get_revents(int index, void *opaque)
{
    const struct net_slirp *s = opaque;
    short revents = s->pollfds[index].revents;
    return (revents & POLLIN ? SLIRP_POLL_IN : 0) | (revents & POLLOUT ? SLIRP_POLL_OUT : 0) |
           (revents & POLLPRI ? SLIRP_POLL_PRI : 0) | (revents & POLLERR ? SLIRP_POLL_ERR : 0) |
           (revents & POLLHUP ? SLIRP_POLL_HUP : 0);
}

/* poll()'s timeout: slirp's (ms, UINT32_MAX for none) or the next timer's. */
static int poll_timeout(const struct net_slirp *s, uint32_t slirp_ms)
{
    int64_t timeout = slirp_ms == UINT32_MAX ? -1 : (int64_t)slirp_ms;
    int64_t now_ms = now_ns() / 1000000;
    for (const struct slirp_timer *timer = s->timers; timer; timer = timer->next) {
        if (timer->expire_ms < 0)
            continue;
        int64_t wait = timer->expire_ms > now_ms ? timer->expire_ms - now_ms : 0;
        if (timeout < 0 || wait < timeout)
            timeout = wait;
    }
    return timeout > INT_MAX ? INT_MAX : (int)timeout;
}

static void run_timers(struct net_slirp *s)
{
    int64_t now_ms = now_ns() / 1000000;
    /* From the top after every callback: one may free or re-arm timers.
     * Bounded, against one re-armed in the past. */
    for (int fired = 0; fired < 16; fired++) {
        struct slirp_timer *timer = s->timers;
        while (timer && (timer->expire_ms < 0 || timer->expire_ms > now_ms))
            timer = timer->next;
        if (!timer)
            return;
        timer->expire_ms = -1;
        timer->callback(timer->opaque);
    }
}

/* One round of the loop: poll (waiting, when may_wait, for as long as slirp
 * and the timers allow), then everything that is ready. */
static void slirp_round(struct net_slirp *s, bool may_wait)
{
    uint32_t slirp_ms = UINT32_MAX;
    s->poll_count = 0;
    slirp_add_poll(s->worker.wake_fd, SLIRP_POLL_IN, s); /* index 0: capacity >= 2 */
    if (s->tx_notify_fd >= 0)
        slirp_add_poll(s->tx_notify_fd, SLIRP_POLL_IN, s); /* index 1 */
    slirp_pollfds_fill(s->slirp, &slirp_ms, slirp_add_poll, s);
    int ready = poll(s->pollfds, s->poll_count, may_wait ? poll_timeout(s, slirp_ms) : 0);
    if (ready > 0 && s->pollfds[0].revents)
        net_worker_woken(&s->worker);
    bool transmit = ready > 0 && s->tx_notify_fd >= 0 && s->pollfds[1].revents;
    /* The backlog before anything slirp makes now, which would queue behind
     * it: an rx_ready stands for the buffers posted before it, so a refusal
     * after it waits for the next one. */
    if (atomic_exchange(&s->rx_ready, false))
        deliver_backlog(s);
    slirp_pollfds_poll(s->slirp, ready < 0, slirp_get_revents, s);
    run_timers(s);
    /* The guest's frames into the ring under the device lock, then into
     * slirp without it: slirp's answers go to the device (its lock), and a
     * guestfwd connection's connect() may wait for the relay thread. */
    if (transmit) {
        serving_transmit = true;
        s->tx_serve(s->backend.port.device);
        serving_transmit = false;
    }
    drain_tx(s);
}

static void slirp_run(void *opaque)
{
    struct net_slirp *s = opaque;
    while (!net_worker_stopping(&s->worker))
        slirp_round(s, true);
}

void net_slirp_poll_once(struct net_backend *backend)
{
    slirp_round(from_backend(backend), false);
}

static int slirp_start(struct net_backend *backend, struct event_loop *loop, struct error *error)
{
    (void)loop; /* a thread of its own: slirp may not be called from two */
    struct net_slirp *s = from_backend(backend);
    if (s->relay && net_relay_start(s->relay, error))
        return -1;
    return net_worker_start(&s->worker, error);
}

static void slirp_stop(struct net_backend *backend, struct event_loop *loop)
{
    (void)loop;
    struct net_slirp *s = from_backend(backend);
    /* The slirp thread first: its connect() to a guestfwd socket is a
     * blocking one, which the relay thread must be there to accept. */
    net_worker_stop(&s->worker);
    if (s->relay)
        net_relay_stop(s->relay);
}

static void slirp_destroy(struct net_backend *backend)
{
    struct net_slirp *s = from_backend(backend);
    slirp_stop(backend, NULL);
    if (s->slirp)
        slirp_cleanup(s->slirp); /* the thread is gone: this thread may call it */
    net_relay_destroy(s->relay);
    net_worker_destroy(&s->worker);
    while (s->timers)
        slirp_timer_free(s->timers, s);
    free(s->pollfds);
    free(s->rx_backlog);
    free(s->tx_ring);
    free(s);
}

static const struct net_backend_ops slirp_ops = {
    .kind = "user",
    .start = slirp_start,
    .send = slirp_send,
    .serve_transmit = slirp_serve_transmit,
    .rx_ready = slirp_rx_ready,
    .stop = slirp_stop,
    .destroy = slirp_destroy,
};

void net_slirp_counters(const struct net_backend *backend, struct net_slirp_counters *counters)
{
    struct net_slirp *s = from_backend(backend);
    counters->tx_dropped = atomic_load(&s->tx_dropped);
    counters->tx_fragments = atomic_load(&s->tx_fragments);
    counters->rx_dropped = atomic_load(&s->rx_dropped);
}

/* Creation. */

/* libslirp's own messages (g_warning, g_critical: some a guest can cause
 * at will, such as an oversized DHCP request) go through log_once instead of
 * glib's default handler, so that a guest cannot flood the terminal. */
static void slirp_log(const gchar *domain, GLogLevelFlags level, const gchar *message,
                      gpointer unused)
{
    (void)domain;
    (void)unused;
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
        log_once("user network: libslirp: %s (its later messages are not shown)", message);
}

static void take_slirp_log(void)
{
    g_log_set_handler("Slirp", G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                      slirp_log, NULL);
}

static pthread_once_t slirp_log_taken = PTHREAD_ONCE_INIT;

static struct in_addr address(uint32_t host_order)
{
    return (struct in_addr){.s_addr = htonl(host_order)};
}

/* "ADDRESS" or "" for INADDR_ANY: the rule as it was written. */
static const char *rule_address(struct in_addr in, char text[INET_ADDRSTRLEN])
{
    if (in.s_addr == htonl(INADDR_ANY))
        return "";
    return inet_ntop(AF_INET, &in, text, INET_ADDRSTRLEN);
}

static int add_hostfwd(struct net_slirp *s, const struct net_hostfwd *rule, struct error *error)
{
    if (slirp_add_hostfwd(s->slirp, rule->udp, rule->host_address, rule->host_port,
                          rule->guest_address, rule->guest_port) == 0)
        return 0;
    int fault = errno;
    char host[INET_ADDRSTRLEN], guest[INET_ADDRSTRLEN];
    return error_set(error, "--net user,hostfwd=%s:%s:%u-%s:%u: host port %u: %s",
                     rule->udp ? "udp" : "tcp", rule_address(rule->host_address, host),
                     rule->host_port, rule_address(rule->guest_address, guest),
                     rule->guest_port, rule->host_port, strerror(fault));
}

/* The relay's listener for rule, and slirp's guestfwd to it. */
static int connect_guestfwd(struct net_slirp *s, const struct net_guestfwd *rule,
                            struct error *fault)
{
    const char *path;
    struct in_addr guest_address = rule->guest_address;
    if ((!s->relay && net_relay_create(&s->relay, fault)) ||
        net_relay_add(s->relay, rule->host_address, rule->host_port, &path, fault))
        return -1;
    if (slirp_add_unix(s->slirp, path, &guest_address, rule->guest_port) < 0)
        return error_set(fault, "libslirp refused the guest address");
    return 0;
}

static int add_guestfwd(struct net_slirp *s, const struct net_guestfwd *rule, struct error *error)
{
    struct error fault = {{0}};
    if (connect_guestfwd(s, rule, &fault) == 0)
        return 0;
    char guest[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN];
    return error_set(error, "--net user,guestfwd=tcp:%s:%u-tcp:%s:%u: %s",
                     inet_ntop(AF_INET, &rule->guest_address, guest, sizeof(guest)),
                     rule->guest_port,
                     inet_ntop(AF_INET, &rule->host_address, host, sizeof(host)),
                     rule->host_port, fault.message);
}

static int slirp_setup(struct net_slirp *s, const struct net_config *config, struct error *error)
{
    s->tx_ring = calloc(NET_SLIRP_TX_SLOTS, sizeof(*s->tx_ring));
    s->rx_backlog = calloc(NET_SLIRP_RX_BACKLOG, sizeof(*s->rx_backlog));
    s->poll_capacity = 64;
    s->pollfds = calloc(s->poll_capacity, sizeof(*s->pollfds));
    if (!s->tx_ring || !s->rx_backlog || !s->pollfds)
        return error_set(error, "--net user: out of memory");

    SlirpConfig slirp_config = {
        .version = 4,
        .restricted = config->restrict_guest,
        .in_enabled = true,
        .vnetwork = address(NET_USER_NETWORK),
        .vnetmask = address(NET_USER_NETMASK),
        .vhost = address(NET_USER_HOST),
        .in6_enabled = false,
        .vdhcp_start = address(NET_USER_DHCP_START),
        .vnameserver = address(NET_USER_DNS),
    };
    pthread_once(&slirp_log_taken, take_slirp_log); /* glib would stack handlers */
    s->slirp = slirp_new(&slirp_config, &slirp_callbacks, s);
    if (!s->slirp)
        return error_set(error, "--net user: libslirp refused its configuration");
    for (int i = 0; i < config->hostfwd_count; i++)
        if (add_hostfwd(s, &config->hostfwds[i], error))
            return -1;
    for (int i = 0; i < config->guestfwd_count; i++)
        if (add_guestfwd(s, &config->guestfwds[i], error))
            return -1;
    return 0;
}

int net_slirp_create(struct net_backend **backend, const struct net_config *config,
                     struct error *error)
{
    if (config->kind != NET_KIND_USER)
        return error_set(error, "--net: not a user network");
    struct net_slirp *s = calloc(1, sizeof(*s));
    if (!s)
        return error_set(error, "--net user: out of memory");
    s->backend = (struct net_backend){.ops = &slirp_ops, .vnet_hdr = false, .offloads = 0};
    s->tx_notify_fd = -1;
    if (net_worker_init(&s->worker, "slirp", slirp_run, s, error)) {
        free(s);
        return -1;
    }
    if (slirp_setup(s, config, error)) {
        slirp_destroy(&s->backend);
        return -1;
    }
    *backend = &s->backend;
    return 0;
}
