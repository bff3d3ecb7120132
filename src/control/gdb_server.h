/* --gdb: the socket a debugger connects to, and the session on it (one
 * debugger at a time; another is turned away while one is attached).  The
 * listening socket is opened before the VM starts, so a bad address or a
 * port in use is an error then; the rest runs on the event loop.
 *
 * A debugger that connects stops the VM (gdb expects a stopped target); one
 * that goes away, however it goes, leaves no int3 in guest memory and the VM
 * running. */
#ifndef GUEST_CONTROL_GDB_SERVER_H
#define GUEST_CONTROL_GDB_SERVER_H

#include "control/gdb_stub.h"
#include "control/gdb_target.h"
#include "control/listen_address.h"
#include "event_loop.h"
#include "vm.h"

#define GDB_SERVER_OUTPUT_MAX (64 * 1024)

struct gdb_server {
    struct vm *vm;
    struct event_loop *loop;
    struct listen_address address;
    int listen_fd;
    int client_fd;
    bool attaching; /* connected; the VM is being stopped for it */
    bool held_for_debugger; /* --paused: stopped until the first debugger continues */
    struct event_source listen_source, client_source, paused_source;
    struct gdb_target target;
    struct gdb_stub stub;
    bool has_session;
    /* Replies the socket did not take yet: a debugger that stops reading
     * is dropped when this fills, rather than stalling the event loop. */
    uint8_t output[GDB_SERVER_OUTPUT_MAX];
    size_t output_length;
};

int gdb_server_open(struct gdb_server *server, const char *spec, struct vm *vm,
                    struct error *error);
/* With start_paused (--paused), the VM stays stopped until a debugger lets
 * it go; otherwise a stop nobody asked for (a breakpoint hit as the
 * debugger detached) is let go at once. */
int gdb_server_start(struct gdb_server *server, struct event_loop *loop, bool start_paused,
                     struct error *error);
void gdb_server_close(struct gdb_server *server);

#endif
