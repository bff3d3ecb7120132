#include "net/relay.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "net/worker.h"

#define RELAY_BUFFER 16384

/* Bytes one way: read from one socket only when empty, written to the other
 * until empty, so a slow reader slows the writer down (TCP's own pace). */
struct relay_pipe {
    size_t start, end;
    bool eof;  /* the source has sent all it will */
    bool shut; /* ...and the sink has been told (shutdown SHUT_WR) */
    uint8_t bytes[RELAY_BUFFER];
};

struct relay_listener {
    int fd;
    struct sockaddr_in target;
    char path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
};

struct relay_connection {
    int guest_fd; /* accepted from libslirp's connect() */
    int host_fd;  /* ours, to the host service */
    bool connecting;
    const struct relay_listener *listener;
    struct relay_pipe to_host, to_guest;
};

#define POLL_SLOTS (1 + NET_RELAY_MAX_LISTENERS + 2 * NET_RELAY_MAX_CONNECTIONS)

struct net_relay {
    struct net_worker worker;
    char directory[64];
    struct relay_listener listeners[NET_RELAY_MAX_LISTENERS];
    int listener_count;
    struct relay_connection *connections[NET_RELAY_MAX_CONNECTIONS];
    int connection_count;
    struct pollfd pollfds[POLL_SLOTS];
};

static void relay_run(void *opaque);

int net_relay_create(struct net_relay **relay_out, struct error *error)
{
    struct net_relay *relay = calloc(1, sizeof(*relay));
    if (!relay)
        return error_set(error, "out of memory");
    if (net_worker_init(&relay->worker, "guestfwd", relay_run, relay, error)) {
        free(relay);
        return -1;
    }
    /* TMPDIR when a socket path under it fits in sun_path, else /tmp. */
    const char *parent = getenv("TMPDIR");
    if (!parent || parent[0] != '/' || strlen(parent) > 40)
        parent = "/tmp";
    snprintf(relay->directory, sizeof(relay->directory), "%s/guest-net-XXXXXX", parent);
    if (!mkdtemp(relay->directory)) { /* mode 0700: our user's alone */
        error_set(error, "cannot make a directory in %s: %s", parent, strerror(errno));
        relay->directory[0] = '\0';
        net_relay_destroy(relay);
        return -1;
    }
    *relay_out = relay;
    return 0;
}

int net_relay_add(struct net_relay *relay, struct in_addr address, uint16_t port,
                  const char **path, struct error *error)
{
    if (relay->listener_count == NET_RELAY_MAX_LISTENERS)
        return error_set(error, "more than %d rules", NET_RELAY_MAX_LISTENERS);
    struct relay_listener *listener = &relay->listeners[relay->listener_count];
    struct sockaddr_un local = {.sun_family = AF_UNIX};
    snprintf(listener->path, sizeof(listener->path), "%s/%d", relay->directory,
             relay->listener_count);
    memcpy(local.sun_path, listener->path, sizeof(local.sun_path));
    listener->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener->fd < 0 || bind(listener->fd, (struct sockaddr *)&local, sizeof(local)) ||
        listen(listener->fd, SOMAXCONN)) {
        error_set(error, "%s: %s", listener->path, strerror(errno));
        if (listener->fd >= 0)
            close(listener->fd);
        unlink(listener->path);
        return -1;
    }
    listener->target = (struct sockaddr_in){
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = address};
    relay->listener_count++;
    *path = listener->path;
    return 0;
}

int net_relay_start(struct net_relay *relay, struct error *error)
{
    return net_worker_start(&relay->worker, error);
}

void net_relay_stop(struct net_relay *relay)
{
    net_worker_stop(&relay->worker);
}

static void connection_close(struct relay_connection *connection)
{
    close(connection->guest_fd);
    if (connection->host_fd >= 0)
        close(connection->host_fd);
    free(connection);
}

void net_relay_destroy(struct net_relay *relay)
{
    if (!relay)
        return;
    net_worker_destroy(&relay->worker);
    for (int i = 0; i < relay->connection_count; i++)
        connection_close(relay->connections[i]);
    for (int i = 0; i < relay->listener_count; i++) {
        close(relay->listeners[i].fd);
        unlink(relay->listeners[i].path);
    }
    if (relay->directory[0])
        rmdir(relay->directory);
    free(relay);
}

static void log_unreachable(const struct relay_listener *listener, int fault)
{
    char address[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &listener->target.sin_addr, address, sizeof(address));
    log_once("guestfwd to %s:%u: %s; the guest's connection is closed (logged once)", address,
             ntohs(listener->target.sin_port), strerror(fault));
}

/* A guest connection came in on listener: connect to its host service. */
static void connection_open(struct net_relay *relay, const struct relay_listener *listener,
                            int guest_fd)
{
    struct relay_connection *connection = NULL;
    if (relay->connection_count == NET_RELAY_MAX_CONNECTIONS) {
        log_once("guestfwd: more than %d connections at once; closing new ones (logged once)",
                 NET_RELAY_MAX_CONNECTIONS);
    } else if (!(connection = malloc(sizeof(*connection)))) {
        log_once("guestfwd: out of memory; closing new connections (logged once)");
    }
    if (!connection) {
        close(guest_fd);
        return;
    }
    connection->guest_fd = guest_fd;
    connection->listener = listener;
    connection->to_host = (struct relay_pipe){0};
    connection->to_guest = (struct relay_pipe){0};
    connection->host_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connection->connecting = true;
    if (connection->host_fd < 0 ||
        (connect(connection->host_fd, (const struct sockaddr *)&listener->target,
                 sizeof(listener->target)) &&
         errno != EINPROGRESS)) {
        log_unreachable(listener, errno);
        connection_close(connection);
        return;
    }
    relay->connections[relay->connection_count++] = connection;
}

static void accept_all(struct net_relay *relay, const struct relay_listener *listener)
{
    int fd;
    while ((fd = accept4(listener->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
        connection_open(relay, listener, fd);
}

/* One step of pipe from one socket to the other; -1 when the connection
 * has failed. */
static int pipe_pump(int from, int to, struct relay_pipe *pipe)
{
    if (pipe->start == pipe->end && !pipe->eof) {
        ssize_t got = read(from, pipe->bytes, sizeof(pipe->bytes));
        if (got > 0) {
            pipe->start = 0;
            pipe->end = (size_t)got;
        } else if (got == 0) {
            pipe->eof = true;
        } else if (errno != EAGAIN && errno != EINTR) {
            return -1;
        }
    }
    if (pipe->start < pipe->end) {
        ssize_t sent = send(to, pipe->bytes + pipe->start, pipe->end - pipe->start,
                            MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0)
            pipe->start += (size_t)sent;
        else if (sent < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
    }
    if (pipe->eof && pipe->start == pipe->end && !pipe->shut) {
        shutdown(to, SHUT_WR);
        pipe->shut = true;
    }
    return 0;
}

/* Whether the connection lives on after a step. */
static bool connection_step(struct relay_connection *connection)
{
    if (connection->connecting) {
        int fault = 0;
        socklen_t length = sizeof(fault);
        if (getsockopt(connection->host_fd, SOL_SOCKET, SO_ERROR, &fault, &length) || fault) {
            log_unreachable(connection->listener, fault ? fault : errno);
            return false;
        }
        connection->connecting = false;
    }
    if (pipe_pump(connection->guest_fd, connection->host_fd, &connection->to_host) ||
        pipe_pump(connection->host_fd, connection->guest_fd, &connection->to_guest))
        return false;
    return !(connection->to_host.shut && connection->to_guest.shut);
}

static short pipe_events(const struct relay_pipe *in, const struct relay_pipe *out)
{
    return (short)((in->start == in->end && !in->eof ? POLLIN : 0) |
                   (out->start < out->end ? POLLOUT : 0));
}

/* A socket asked for nothing is left out (fd -1): a hung-up one reports
 * POLLHUP whatever it is asked, and would wake the loop for ever while the
 * other side is still draining what it sent. */
static void poll_slot(struct pollfd *slot, int fd, short events)
{
    *slot = (struct pollfd){.fd = events ? fd : -1, .events = events};
}

static int fill_pollfds(struct net_relay *relay)
{
    int count = 0;
    relay->pollfds[count++] = (struct pollfd){.fd = relay->worker.wake_fd, .events = POLLIN};
    for (int i = 0; i < relay->listener_count; i++)
        relay->pollfds[count++] = (struct pollfd){.fd = relay->listeners[i].fd, .events = POLLIN};
    for (int i = 0; i < relay->connection_count; i++) {
        struct relay_connection *connection = relay->connections[i];
        bool open = !connection->connecting;
        poll_slot(&relay->pollfds[count++], connection->guest_fd,
                  open ? pipe_events(&connection->to_host, &connection->to_guest) : 0);
        poll_slot(&relay->pollfds[count++], connection->host_fd,
                  open ? pipe_events(&connection->to_guest, &connection->to_host) : POLLOUT);
    }
    return count;
}

static void step_connections(struct net_relay *relay)
{
    const struct pollfd *slots = &relay->pollfds[1 + relay->listener_count];
    int kept = 0;
    for (int i = 0; i < relay->connection_count; i++) {
        struct relay_connection *connection = relay->connections[i];
        bool live = true;
        if (slots[2 * i].revents || slots[2 * i + 1].revents)
            live = connection_step(connection);
        if (live)
            relay->connections[kept++] = connection;
        else
            connection_close(connection);
    }
    relay->connection_count = kept;
}

static void relay_run(void *opaque)
{
    struct net_relay *relay = opaque;
    while (!net_worker_stopping(&relay->worker)) {
        int count = fill_pollfds(relay);
        if (poll(relay->pollfds, (nfds_t)count, -1) < 0) {
            if (errno != EINTR)
                log_once("guestfwd: poll: %s", strerror(errno));
            continue;
        }
        if (relay->pollfds[0].revents)
            net_worker_woken(&relay->worker);
        /* Connections first: the pollfds after the listeners are theirs,
         * and accepting adds more. */
        step_connections(relay);
        for (int i = 0; i < relay->listener_count; i++)
            if (relay->pollfds[1 + i].revents)
                accept_all(relay, &relay->listeners[i]);
    }
}
