/* A QMP session (QEMU's machine protocol), without sockets: the client's
 * bytes in, JSON replies and events out, and the VM driven through a small
 * interface, so that the protocol is tested without KVM.  One session per
 * connected client, all from one thread.
 *
 * The protocol: a greeting ({"QMP": {"version": ..., "capabilities": []}}),
 * then the client's {"execute": "qmp_capabilities"}; after that any command
 * as {"execute": NAME, "arguments": {...}, "id": ANY}, answered with
 * {"return": ...} or {"error": {"class": ..., "desc": ...}}, the id echoed.
 * Events ({"event": NAME, "data": ..., "timestamp": ...}) go to every
 * session past negotiation.  Bad JSON gets an error reply and the session
 * carries on with the next object. */
#ifndef GUEST_CONTROL_QMP_H
#define GUEST_CONTROL_QMP_H

#include <stdbool.h>
#include <stddef.h>

struct json_object;
struct json_tokener;

/* The VM as QMP sees it. */
enum qmp_run_state { QMP_RUNNING, QMP_PAUSED, QMP_SHUTDOWN };

struct qmp_cpu_info {
    int index;
    long thread_id;
};

struct qmp_disk_info {
    const char *name; /* vda, ... */
    const char *path;
    bool read_only;
};

struct qmp_target_ops {
    enum qmp_run_state (*run_state)(void *target);
    /* stop: pause every vCPU; the session's reply waits for
     * qmp_session_command_done (a pause takes a moment).  Returns an
     * error text, or NULL when it is under way. */
    const char *(*stop)(void *target);
    /* cont: run again; an error text, or NULL. */
    const char *(*cont)(void *target);
    void (*quit)(void *target);
    void (*reset)(void *target);
    int (*cpu_count)(void *target);
    void (*cpu_info)(void *target, int cpu, struct qmp_cpu_info *info);
    /* A PNG of the display at path: 0, or -1 with why in error. */
    int (*screendump)(void *target, const char *path, char *error, size_t size);
    int (*disk_count)(void *target);
    void (*disk_info)(void *target, int disk, struct qmp_disk_info *info);
    /* The balloon: false when there is none. */
    bool (*balloon)(void *target, unsigned long long guest_bytes);
    bool (*query_balloon)(void *target, unsigned long long *guest_bytes);
    /* The ACPI power button, pressed. */
    void (*powerdown)(void *target);
};

#define QMP_MAX_INPUT (64 * 1024) /* one command's JSON, at most */

struct qmp_session {
    const struct qmp_target_ops *ops;
    void *target;
    /* Sends one line to the client; false when it is gone. */
    bool (*send)(void *opaque, const char *line, size_t length);
    void *send_opaque;
    struct json_tokener *tokener;
    bool negotiated;
    bool waiting;             /* a reply is owed once the target is done */
    struct json_object *waiting_id; /* that command's id, or NULL */
    size_t object_bytes;      /* of the object being read */
    bool skipping_line;       /* after bad input: up to the next newline */
    bool closed;              /* quit: nothing more is read */
};

/* Returns -1 without memory for the parser. */
int qmp_session_init(struct qmp_session *session, const struct qmp_target_ops *ops, void *target,
                     bool (*send)(void *opaque, const char *line, size_t length),
                     void *send_opaque);
void qmp_session_destroy(struct qmp_session *session);
/* The greeting, sent when the client connects. */
void qmp_session_greet(struct qmp_session *session);
/* Bytes from the client.  While a reply is owed (qmp_session_waiting)
 * nothing is read: the caller feeds what is left after command_done. */
size_t qmp_session_input(struct qmp_session *session, const char *bytes, size_t length);
bool qmp_session_waiting(const struct qmp_session *session);
/* The target finished what a command started (the stop): the reply goes. */
void qmp_session_command_done(struct qmp_session *session);
/* An event, to this session if it is past negotiation; data may be NULL.
 * The data is not taken. */
void qmp_session_event(struct qmp_session *session, const char *name, struct json_object *data);

#endif
