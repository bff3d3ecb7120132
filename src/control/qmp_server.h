/* --qmp: the control socket, QEMU's QMP on it (src/control/qmp.c), for
 * several clients at once.  Opened before the VM starts (a bad address or a
 * port in use is an error then); run on the event loop.  A client that
 * sends garbage, half a command or nothing, or that stops reading, costs
 * only its own session: nothing here blocks. */
#ifndef GUEST_CONTROL_QMP_SERVER_H
#define GUEST_CONTROL_QMP_SERVER_H

#include "control/listen_address.h"
#include "control/qmp.h"
#include "control/socket_output.h"
#include "event_loop.h"
#include "vm.h"

#define QMP_SERVER_MAX_CLIENTS 8
#define QMP_SERVER_OUTPUT_MAX (256 * 1024)

struct qmp_server;

struct qmp_client {
    struct qmp_server *server;
    int fd;
    struct event_source source;
    struct qmp_session session;
    /* Bytes read but not yet parsed: held while a reply is owed. */
    char pending[4096];
    size_t pending_length;
    struct socket_output output; /* QMP_SERVER_OUTPUT_MAX bytes, allocated at accept */
};

struct qmp_server {
    struct vm *vm;
    struct event_loop *loop;
    struct listen_address address;
    int listen_fd;
    struct event_source listen_source;
    struct qmp_client clients[QMP_SERVER_MAX_CLIENTS];
    bool stopped; /* as the clients were last told (STOP / RESUME) */
    /* The machine's devices, for screendump, query-block and balloon
     * (set by the machine; any may be NULL: "not there"). */
    struct qmp_devices {
        void *opaque;
        int (*screendump)(void *opaque, const char *path, char *error, size_t size);
        int (*disk_count)(void *opaque);
        void (*disk_info)(void *opaque, int disk, struct qmp_disk_info *info);
        bool (*balloon)(void *opaque, unsigned long long guest_bytes);
        bool (*query_balloon)(void *opaque, unsigned long long *guest_bytes);
        void (*power_button)(void *opaque);
    } devices;
    /* Whether something else (a debugger) holds the VM: stop and cont are
     * then refused, with this text. */
    const char *(*held_by)(void *opaque);
    void *held_by_opaque;
};

int qmp_server_open(struct qmp_server *server, const char *spec, struct vm *vm,
                    struct error *error);
int qmp_server_start(struct qmp_server *server, struct event_loop *loop, bool start_paused,
                     struct error *error);
/* Every vCPU parked (vm->paused_event_fd): a stop's reply goes, STOP is told. */
void qmp_server_vm_paused(struct qmp_server *server);
/* The guest's balloon driver reports a new size: BALLOON_CHANGE. */
void qmp_server_balloon_changed(void *server, uint64_t guest_bytes);
/* The VM is ending (guest poweroff, reset, quit): SHUTDOWN to every client. */
void qmp_server_vm_ending(struct qmp_server *server, int exit_status);
void qmp_server_close(struct qmp_server *server);

#endif
