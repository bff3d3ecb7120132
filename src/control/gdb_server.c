#include "control/gdb_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

/* Once, at start: what a debugger will be refused on this host, so that a
 * refused breakpoint is no surprise.  Nothing on real hardware. */
static void gdb_server_say_what_host_lacks(const struct debug_capabilities *host)
{
    const struct {
        bool fires;
        const char *what;
    } kinds[] = {{host->int3_intercepted, "an int3"},
                 {host->debug_registers, "a debug-register breakpoint"},
                 {host->data_watchpoints, "a watchpoint"}};
    char lacks[128] = "";
    size_t at = 0;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!kinds[i].fires)
            at += (size_t)snprintf(lacks + at, sizeof(lacks) - at, "%s %s",
                                   at ? ", nor at" : "", kinds[i].what);
    if (!at)
        return;
    const char *breakpoints =
        host->int3_intercepted  ? "software breakpoints work"
        : host->debug_registers ? "software breakpoints go in the debug registers (at most 4 "
                                  "breakpoints and watchpoints together)"
                                : "breakpoints are refused";
    log_message("gdb: this host's KVM does not stop a guest at%s (a host without hardware "
                "virtualization, or itself a VM on an emulated CPU?): %s; %s; stepping and "
                "Ctrl-C work",
                lacks, breakpoints,
                host->data_watchpoints ? "watchpoints work" : "watchpoints are refused");
}

int gdb_server_open(struct gdb_server *server, const char *spec, struct vm *vm,
                    struct error *error)
{
    memset(server, 0, sizeof(*server));
    server->vm = vm;
    server->listen_fd = server->client_fd = -1;
    server->output = (struct socket_output){server->output_bytes, sizeof(server->output_bytes), 0};
    if (listen_address_parse(spec, &server->address, error))
        return -1;
    server->listen_fd = listen_address_open(&server->address, error);
    if (server->listen_fd < 0)
        return -1;
    gdb_target_init(&server->target, vm);
    return 0;
}

static void gdb_server_drop_client(struct gdb_server *server)
{
    if (server->client_fd < 0)
        return;
    event_loop_forget(server->loop, &server->client_source);
    close(server->client_fd);
    server->client_fd = -1;
    server->output.length = 0;
    server->attaching = false;
    /* The session lives on until the target is back to running without
     * our int3s in it (gdb_stub_disconnected may have to stop it first). */
    if (server->has_session)
        gdb_stub_disconnected(&server->stub);
}

static void gdb_server_watch_client(struct gdb_server *server)
{
    uint32_t events = server->attaching ? 0 : EPOLLIN;
    if (server->output.length)
        events |= EPOLLOUT;
    event_loop_rewatch(server->loop, &server->client_source, events);
}

static bool gdb_server_send(void *opaque, const void *bytes, size_t length)
{
    struct gdb_server *server = opaque;
    if (server->client_fd < 0)
        return false;
    bool was_empty = server->output.length == 0;
    if (!socket_output_send(&server->output, server->client_fd, bytes, length)) {
        log_message("gdb: the debugger does not read its replies; dropping it");
        gdb_server_drop_client(server);
        return false;
    }
    if (was_empty && server->output.length)
        gdb_server_watch_client(server);
    return true;
}

static void gdb_server_client_ready(struct event_source *source, uint32_t events)
{
    struct gdb_server *server = source->opaque;
    if (events & EPOLLOUT) {
        socket_output_flush(&server->output, server->client_fd);
        if (!server->output.length)
            gdb_server_watch_client(server);
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    uint8_t bytes[4096];
    ssize_t got = recv(server->client_fd, bytes, sizeof(bytes), MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (got <= 0) {
        gdb_server_drop_client(server);
        return;
    }
    gdb_stub_input(&server->stub, bytes, (size_t)got);
    if (server->stub.finished && server->client_fd >= 0 && server->target.killed)
        gdb_server_drop_client(server);
}

static void gdb_server_accept(struct event_source *source, uint32_t events)
{
    (void)events;
    struct gdb_server *server = source->opaque;
    int fd = accept4(server->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    /* One debugger at a time; and a session whose debugger left is over
     * only once its target runs again without our breakpoints. */
    if (server->client_fd >= 0 || (server->has_session && !server->stub.finished)) {
        static const char busy[] = "$E10#a6"; /* the protocol has no better word */
        if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            log_once("gdb: %s", strerror(errno));
        close(fd);
        return;
    }
    server->client_fd = fd;
    server->client_source = (struct event_source){fd, gdb_server_client_ready, server};
    server->attaching = true;
    if (event_loop_watch(server->loop, &server->client_source, 0)) {
        close(fd);
        server->client_fd = -1;
        return;
    }
    gdb_stub_init(&server->stub, &gdb_target_ops, &server->target, gdb_server_send, server);
    server->stub.breakpoints_in_debug_registers =
        !server->target.host.int3_intercepted && server->target.host.debug_registers;
    server->has_session = true;
    vm_pause(server->vm); /* gdb starts from a stopped target: read it once stopped */
}

void gdb_server_vm_paused(struct gdb_server *server)
{
    if (!vm_is_paused(server->vm))
        return; /* resumed since */
    if (server->attaching) {
        gdb_target_forget_stops(&server->target);
        server->attaching = false;
        gdb_server_watch_client(server);
        return;
    }
    bool session = server->has_session && !server->stub.finished;
    if (server->has_session && (server->stub.running || server->stub.lost)) {
        struct gdb_stop stop;
        if (gdb_target_classify_stop(&server->target, &server->stub, &stop))
            gdb_stub_stopped(&server->stub, &stop);
    } else if (!session && gdb_target_forget_stops(&server->target)) {
        /* Stopped for nobody: a vCPU met a breakpoint just as the debugger
         * took it out and left (its rip is still at the instruction).  A
         * pause of anyone else's (--paused, the control socket) stays. */
        vm_resume(server->vm, NULL);
    }
}

const char *gdb_server_holds_vm(void *opaque)
{
    struct gdb_server *server = opaque;
    return server->has_session && !server->stub.finished
               ? "a debugger is attached: it stops and continues the VM"
               : NULL;
}

int gdb_server_start(struct gdb_server *server, struct event_loop *loop, struct error *error)
{
    server->loop = loop;
    server->listen_source = (struct event_source){server->listen_fd, gdb_server_accept, server};
    if (event_loop_watch(loop, &server->listen_source, EPOLLIN))
        return error_set(error, "cannot watch the gdb socket");
    /* Said once the VM is sure to run, not before another option's error. */
    gdb_server_say_what_host_lacks(&server->target.host);
    char name[LISTEN_ADDRESS_MAX_PATH + 16];
    listen_address_format(&server->address, name, sizeof(name));
    log_message("gdb: waiting for a debugger on %s", name);
    return 0;
}

void gdb_server_close(struct gdb_server *server)
{
    if (server->client_fd >= 0)
        close(server->client_fd);
    if (server->listen_fd >= 0) {
        close(server->listen_fd);
        if (server->address.is_unix)
            unlink(server->address.path);
    }
    server->client_fd = server->listen_fd = -1;
}
