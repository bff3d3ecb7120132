#include "control/qmp_server.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exit_status.h"
#include "log.h"

/* --- the VM, as the sessions see it ------------------------------------------ */

static enum qmp_run_state server_run_state(void *opaque)
{
    struct qmp_server *server = opaque;
    if (atomic_load(&server->vm->stopping))
        return QMP_SHUTDOWN;
    return vm_is_paused(server->vm) ? QMP_PAUSED : QMP_RUNNING;
}

static const char *server_held(struct qmp_server *server)
{
    return server->held_by ? server->held_by(server->held_by_opaque) : NULL;
}

static const char *server_stop(void *opaque)
{
    struct qmp_server *server = opaque;
    const char *held = server_held(server);
    if (held)
        return held;
    vm_pause(server->vm); /* the reply goes once every vCPU has parked */
    return NULL;
}

static void server_tell_all(struct qmp_server *server, const char *event, struct json_object *data)
{
    for (int i = 0; i < QMP_SERVER_MAX_CLIENTS; i++)
        if (server->clients[i].fd >= 0)
            qmp_session_event(&server->clients[i].session, event, data);
}

static const char *server_cont(void *opaque)
{
    struct qmp_server *server = opaque;
    const char *held = server_held(server);
    if (held)
        return held;
    vm_resume(server->vm, NULL);
    if (server->stopped) {
        server->stopped = false;
        server_tell_all(server, "RESUME", NULL);
    }
    return NULL;
}

static void server_quit(void *opaque)
{
    struct qmp_server *server = opaque;
    vm_request_stop(server->vm, GUEST_EXIT_QUIT);
}

/* A PC's reset ends guest, as the guest's own reset does (status 3). */
static void server_reset(void *opaque)
{
    struct qmp_server *server = opaque;
    struct json_object *data = json_object_new_object();
    json_object_object_add(data, "guest", json_object_new_boolean(0));
    json_object_object_add(data, "reason", json_object_new_string("host-qmp-system-reset"));
    server_tell_all(server, "RESET", data);
    json_object_put(data);
    vm_request_stop(server->vm, GUEST_EXIT_REBOOT);
}

static int server_cpu_count(void *opaque)
{
    return ((struct qmp_server *)opaque)->vm->cpu_count;
}

static void server_cpu_info(void *opaque, int cpu, struct qmp_cpu_info *info)
{
    struct qmp_server *server = opaque;
    info->index = cpu;
    info->thread_id = atomic_load(&server->vm->vcpus[cpu].thread_id);
}

static int server_screendump(void *opaque, const char *path, char *error, size_t size)
{
    struct qmp_server *server = opaque;
    if (!server->devices.screendump) {
        snprintf(error, size, "there is no display (guest -g adds one)");
        return -1;
    }
    return server->devices.screendump(server->devices.opaque, path, error, size);
}

static int server_disk_count(void *opaque)
{
    struct qmp_server *server = opaque;
    return server->devices.disk_count ? server->devices.disk_count(server->devices.opaque) : 0;
}

static void server_disk_info(void *opaque, int disk, struct qmp_disk_info *info)
{
    struct qmp_server *server = opaque;
    server->devices.disk_info(server->devices.opaque, disk, info);
}

static bool server_balloon(void *opaque, unsigned long long guest_bytes)
{
    struct qmp_server *server = opaque;
    return server->devices.balloon &&
           server->devices.balloon(server->devices.opaque, guest_bytes);
}

static bool server_query_balloon(void *opaque, unsigned long long *guest_bytes)
{
    struct qmp_server *server = opaque;
    return server->devices.query_balloon &&
           server->devices.query_balloon(server->devices.opaque, guest_bytes);
}

static void server_powerdown(void *opaque)
{
    struct qmp_server *server = opaque;
    server_tell_all(server, "POWERDOWN", NULL);
    if (server->devices.power_button)
        server->devices.power_button(server->devices.opaque);
}

static const struct qmp_target_ops server_target_ops = {
    .run_state = server_run_state,
    .stop = server_stop,
    .cont = server_cont,
    .quit = server_quit,
    .reset = server_reset,
    .cpu_count = server_cpu_count,
    .cpu_info = server_cpu_info,
    .screendump = server_screendump,
    .disk_count = server_disk_count,
    .disk_info = server_disk_info,
    .balloon = server_balloon,
    .query_balloon = server_query_balloon,
    .powerdown = server_powerdown,
};

/* --- clients ---------------------------------------------------------------------- */

static void client_drop(struct qmp_client *client)
{
    if (client->fd < 0)
        return;
    event_loop_forget(client->server->loop, &client->source);
    close(client->fd);
    client->fd = -1;
    qmp_session_destroy(&client->session);
    free(client->output.bytes);
    client->output = (struct socket_output){0};
    client->pending_length = 0;
}

static void client_watch(struct qmp_client *client)
{
    uint32_t events = qmp_session_waiting(&client->session) || client->session.closed ? 0 : EPOLLIN;
    if (client->output.length)
        events |= EPOLLOUT;
    event_loop_rewatch(client->server->loop, &client->source, events);
}

static bool client_send(void *opaque, const char *line, size_t length)
{
    struct qmp_client *client = opaque;
    if (client->fd < 0)
        return false;
    if (!socket_output_send(&client->output, client->fd, line, length)) {
        /* It does not read what it is sent: it goes, nobody else waits. */
        log_message("qmp: a client does not read its replies; dropping it");
        client_drop(client);
        return false;
    }
    return true;
}

/* Feeds what was read; what a session could not take yet (it owes a
 * reply) waits in pending. */
static void client_feed(struct qmp_client *client, const char *bytes, size_t length)
{
    size_t used = qmp_session_input(&client->session, bytes, length);
    if (client->fd < 0)
        return;
    size_t left = length - used;
    if (left > sizeof(client->pending) - client->pending_length)
        left = sizeof(client->pending) - client->pending_length; /* a flood while waiting */
    memmove(client->pending + client->pending_length, bytes + used, left);
    client->pending_length += left;
    client_watch(client);
}

static void client_ready(struct event_source *source, uint32_t events)
{
    struct qmp_client *client = source->opaque;
    if (events & EPOLLOUT)
        socket_output_flush(&client->output, client->fd);
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        char bytes[4096];
        ssize_t got = recv(client->fd, bytes, sizeof(bytes), MSG_DONTWAIT);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (got <= 0) {
            client_drop(client);
            return;
        }
        client_feed(client, bytes, (size_t)got);
    }
    if (client->fd >= 0)
        client_watch(client);
}

static void server_accept(struct event_source *source, uint32_t events)
{
    (void)events;
    struct qmp_server *server = source->opaque;
    int fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    struct qmp_client *client = NULL;
    for (int i = 0; i < QMP_SERVER_MAX_CLIENTS && !client; i++)
        if (server->clients[i].fd < 0)
            client = &server->clients[i];
    if (!client) {
        static const char busy[] = "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                                   "\"too many QMP clients\"}}\r\n";
        if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            log_once("qmp: %s", strerror(errno));
        close(fd);
        return;
    }
    client->output = (struct socket_output){malloc(QMP_SERVER_OUTPUT_MAX), QMP_SERVER_OUTPUT_MAX, 0};
    if (!client->output.bytes ||
        qmp_session_init(&client->session, &server_target_ops, server, client_send, client)) {
        free(client->output.bytes);
        client->output = (struct socket_output){0};
        close(fd);
        return;
    }
    client->fd = fd;
    client->source = (struct event_source){fd, client_ready, client};
    if (event_loop_watch(server->loop, &client->source, EPOLLIN)) {
        close(fd);
        client->fd = -1;
        qmp_session_destroy(&client->session);
        free(client->output.bytes);
        client->output = (struct socket_output){0};
        return;
    }
    qmp_session_greet(&client->session);
    client_watch(client);
}

/* --- the server ------------------------------------------------------------------ */

int qmp_server_open(struct qmp_server *server, const char *spec, struct vm *vm,
                    struct error *error)
{
    memset(server, 0, sizeof(*server));
    server->vm = vm;
    server->listen_fd = -1;
    for (int i = 0; i < QMP_SERVER_MAX_CLIENTS; i++) {
        server->clients[i].fd = -1;
        server->clients[i].server = server;
    }
    if (listen_address_parse(spec, &server->address, error))
        return -1;
    server->listen_fd = listen_address_open(&server->address, error);
    return server->listen_fd < 0 ? -1 : 0;
}

int qmp_server_start(struct qmp_server *server, struct event_loop *loop, bool start_paused,
                     struct error *error)
{
    server->loop = loop;
    server->stopped = start_paused;
    server->listen_source = (struct event_source){server->listen_fd, server_accept, server};
    if (event_loop_watch(loop, &server->listen_source, EPOLLIN))
        return error_set(error, "cannot watch the QMP socket");
    return 0;
}

void qmp_server_vm_paused(struct qmp_server *server)
{
    if (!vm_is_paused(server->vm))
        return; /* resumed since */
    if (!server->stopped) { /* told before the stop's reply, as QEMU does */
        server->stopped = true;
        server_tell_all(server, "STOP", NULL);
    }
    for (int i = 0; i < QMP_SERVER_MAX_CLIENTS; i++) {
        struct qmp_client *client = &server->clients[i];
        if (client->fd < 0 || !qmp_session_waiting(&client->session))
            continue;
        qmp_session_command_done(&client->session);
        /* What came after the stop, read meanwhile. */
        char pending[sizeof(client->pending)];
        size_t length = client->pending_length;
        memcpy(pending, client->pending, length);
        client->pending_length = 0;
        if (client->fd >= 0)
            client_feed(client, pending, length);
    }
}

void qmp_server_balloon_changed(void *opaque, uint64_t guest_bytes)
{
    struct qmp_server *server = opaque;
    struct json_object *data = json_object_new_object();
    json_object_object_add(data, "actual", json_object_new_int64((int64_t)guest_bytes));
    server_tell_all(server, "BALLOON_CHANGE", data);
    json_object_put(data);
}

void qmp_server_vm_ending(struct qmp_server *server, int exit_status)
{
    const char *reason = exit_status == GUEST_EXIT_POWEROFF ? "guest-shutdown"
                         : exit_status == GUEST_EXIT_REBOOT ? "guest-reset"
                         : exit_status == GUEST_EXIT_QUIT   ? "host-qmp-quit"
                         : exit_status >= 128               ? "host-signal"
                                                            : "host-error";
    struct json_object *data = json_object_new_object();
    json_object_object_add(data, "guest", json_object_new_boolean(exit_status == GUEST_EXIT_POWEROFF ||
                                                                  exit_status == GUEST_EXIT_REBOOT));
    json_object_object_add(data, "reason", json_object_new_string(reason));
    server_tell_all(server, "SHUTDOWN", data);
    json_object_put(data);
}

void qmp_server_close(struct qmp_server *server)
{
    for (int i = 0; i < QMP_SERVER_MAX_CLIENTS; i++) {
        struct qmp_client *client = &server->clients[i];
        if (client->fd < 0)
            continue;
        /* The last events, as far as the socket takes them. */
        socket_output_flush(&client->output, client->fd);
        close(client->fd);
        client->fd = -1;
        qmp_session_destroy(&client->session);
        free(client->output.bytes);
        client->output = (struct socket_output){0};
    }
    if (server->listen_fd >= 0) {
        close(server->listen_fd);
        if (server->address.is_unix)
            unlink(server->address.path);
    }
    server->listen_fd = -1;
}
