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
#include "control/socket_output.h"
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
    struct event_source listen_source, client_source;
    struct gdb_target target;
    struct gdb_stub stub;
    bool has_session;
    /* Replies the socket did not take yet: a debugger that stops reading
     * is dropped when this fills, rather than stalling the event loop. */
    uint8_t output_bytes[GDB_SERVER_OUTPUT_MAX];
    struct socket_output output;
};

int gdb_server_open(struct gdb_server *server, const char *spec, struct vm *vm,
                    struct error *error);
int gdb_server_start(struct gdb_server *server, struct event_loop *loop, struct error *error);
/* Every vCPU parked (vm->paused_event_fd, which the machine watches): for
 * the debugger that is attaching, the session begins; for a running
 * session, the target stopped. */
void gdb_server_vm_paused(struct gdb_server *server);
/* While a debugger is attached, it alone stops and runs the VM: a reason
 * to give a control client that asks, or NULL. */
const char *gdb_server_holds_vm(void *server);
void gdb_server_close(struct gdb_server *server);

#endif
