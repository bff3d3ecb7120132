#include "control/qmp.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#ifndef GUEST_VERSION
#define GUEST_VERSION "0"
#endif

int qmp_session_init(struct qmp_session *session, const struct qmp_target_ops *ops, void *target,
                     bool (*send)(void *opaque, const char *line, size_t length),
                     void *send_opaque)
{
    memset(session, 0, sizeof(*session));
    session->ops = ops;
    session->target = target;
    session->send = send;
    session->send_opaque = send_opaque;
    /* Nesting is bounded so a client's [[[[... cannot run the parser deep. */
    session->tokener = json_tokener_new_ex(64);
    if (!session->tokener)
        return -1;
    /* Valid UTF-8 only.  Not json-c's strict mode: that refuses a second
     * object after the first in one read, which clients do send. */
    json_tokener_set_flags(session->tokener, JSON_TOKENER_VALIDATE_UTF8);
    return 0;
}

void qmp_session_destroy(struct qmp_session *session)
{
    if (session->tokener)
        json_tokener_free(session->tokener);
    json_object_put(session->waiting_id);
    session->tokener = NULL;
    session->waiting_id = NULL;
}

static void qmp_send_object(struct qmp_session *session, struct json_object *object)
{
    size_t length;
    const char *text = json_object_to_json_string_length(
        object, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &length);
    char line[QMP_MAX_INPUT];
    if (length + 2 > sizeof(line)) {
        json_object_put(object);
        return; /* no reply of ours is that big */
    }
    memcpy(line, text, length);
    line[length++] = '\r';
    line[length++] = '\n';
    session->send(session->send_opaque, line, length);
    json_object_put(object);
}

/* {"return": value, "id": id}: both taken. */
static void qmp_reply(struct qmp_session *session, struct json_object *value,
                      struct json_object *id)
{
    struct json_object *reply = json_object_new_object();
    json_object_object_add(reply, "return", value ? value : json_object_new_object());
    if (id)
        json_object_object_add(reply, "id", id);
    qmp_send_object(session, reply);
}

/* {"error": {"class": ..., "desc": ...}, "id": id}: id taken. */
static void qmp_error(struct qmp_session *session, const char *class, const char *desc,
                      struct json_object *id)
{
    struct json_object *error = json_object_new_object();
    json_object_object_add(error, "class", json_object_new_string(class));
    json_object_object_add(error, "desc", json_object_new_string(desc));
    struct json_object *reply = json_object_new_object();
    json_object_object_add(reply, "error", error);
    if (id)
        json_object_object_add(reply, "id", id);
    qmp_send_object(session, reply);
}

/* What the greeting and query-version say: QEMU's shape, our name.  Not
 * QEMU, so no QEMU version: 0.0.0, and the package names guest. */
static struct json_object *qmp_version(void)
{
    struct json_object *qemu = json_object_new_object();
    json_object_object_add(qemu, "micro", json_object_new_int(0));
    json_object_object_add(qemu, "minor", json_object_new_int(0));
    json_object_object_add(qemu, "major", json_object_new_int(0));
    struct json_object *version = json_object_new_object();
    json_object_object_add(version, "qemu", qemu);
    json_object_object_add(version, "package", json_object_new_string("guest " GUEST_VERSION));
    return version;
}

void qmp_session_greet(struct qmp_session *session)
{
    struct json_object *qmp = json_object_new_object();
    json_object_object_add(qmp, "version", qmp_version());
    json_object_object_add(qmp, "capabilities", json_object_new_array());
    struct json_object *greeting = json_object_new_object();
    json_object_object_add(greeting, "QMP", qmp);
    qmp_send_object(session, greeting);
}

/* --- commands ------------------------------------------------------------------ */

/* What a command does: a value to return, an error, or a reply the target
 * owes (stop). */
struct qmp_result {
    struct json_object *value;
    const char *error_class, *error;
    char error_text[160];
    bool deferred;
};

static const char *qmp_state_name(enum qmp_run_state state)
{
    return state == QMP_RUNNING ? "running" : state == QMP_PAUSED ? "paused" : "shutdown";
}

static void qmp_query_status(struct qmp_session *session, struct json_object *arguments,
                             struct qmp_result *result)
{
    (void)arguments;
    enum qmp_run_state state = session->ops->run_state(session->target);
    result->value = json_object_new_object();
    json_object_object_add(result->value, "status", json_object_new_string(qmp_state_name(state)));
    json_object_object_add(result->value, "singlestep", json_object_new_boolean(0));
    json_object_object_add(result->value, "running", json_object_new_boolean(state == QMP_RUNNING));
}

static void qmp_stop(struct qmp_session *session, struct json_object *arguments,
                     struct qmp_result *result)
{
    (void)arguments;
    result->error = session->ops->stop(session->target);
    result->deferred = !result->error;
}

static void qmp_cont(struct qmp_session *session, struct json_object *arguments,
                     struct qmp_result *result)
{
    (void)arguments;
    result->error = session->ops->cont(session->target);
}

static void qmp_quit(struct qmp_session *session, struct json_object *arguments,
                     struct qmp_result *result)
{
    (void)arguments;
    (void)result;
    session->closed = true; /* the reply goes, then nothing more is read */
}

static void qmp_system_reset(struct qmp_session *session, struct json_object *arguments,
                             struct qmp_result *result)
{
    (void)arguments;
    (void)result;
    session->ops->reset(session->target);
}

/* The power button: the guest decides what it means (Linux's button driver
 * sends KEY_POWER; systemd-logind powers off). */
static void qmp_system_powerdown(struct qmp_session *session, struct json_object *arguments,
                                 struct qmp_result *result)
{
    (void)arguments;
    (void)result;
    session->ops->powerdown(session->target);
}

static void qmp_query_version(struct qmp_session *session, struct json_object *arguments,
                              struct qmp_result *result)
{
    (void)session;
    (void)arguments;
    result->value = qmp_version();
}

static void qmp_query_cpus_fast(struct qmp_session *session, struct json_object *arguments,
                                struct qmp_result *result)
{
    (void)arguments;
    result->value = json_object_new_array();
    int count = session->ops->cpu_count(session->target);
    for (int cpu = 0; cpu < count; cpu++) {
        struct qmp_cpu_info info = {cpu, 0};
        session->ops->cpu_info(session->target, cpu, &info);
        struct json_object *props = json_object_new_object();
        json_object_object_add(props, "core-id", json_object_new_int(0));
        json_object_object_add(props, "thread-id", json_object_new_int(0));
        json_object_object_add(props, "node-id", json_object_new_int(0));
        json_object_object_add(props, "socket-id", json_object_new_int(cpu));
        char path[64];
        snprintf(path, sizeof(path), "/machine/unattached/device[%d]", cpu);
        struct json_object *entry = json_object_new_object();
        json_object_object_add(entry, "cpu-index", json_object_new_int(info.index));
        json_object_object_add(entry, "qom-path", json_object_new_string(path));
        json_object_object_add(entry, "thread-id", json_object_new_int64(info.thread_id));
        json_object_object_add(entry, "props", props);
        json_object_object_add(entry, "target", json_object_new_string("x86_64"));
        json_object_array_add(result->value, entry);
    }
}

static void qmp_query_commands(struct qmp_session *session, struct json_object *arguments,
                               struct qmp_result *result);

/* A member of arguments of the given type, or NULL with the error set. */
static struct json_object *qmp_argument(struct json_object *arguments, const char *name,
                                        enum json_type type, struct qmp_result *result)
{
    struct json_object *value;
    if (!arguments || !json_object_object_get_ex(arguments, name, &value)) {
        snprintf(result->error_text, sizeof(result->error_text), "Parameter '%s' is missing",
                 name);
        result->error = result->error_text;
        return NULL;
    }
    if (!json_object_is_type(value, type)) {
        snprintf(result->error_text, sizeof(result->error_text),
                 "Invalid parameter type for '%s', expected: %s", name, json_type_to_name(type));
        result->error = result->error_text;
        return NULL;
    }
    return value;
}

static void qmp_screendump(struct qmp_session *session, struct json_object *arguments,
                           struct qmp_result *result)
{
    struct json_object *filename = qmp_argument(arguments, "filename", json_type_string, result);
    if (!filename)
        return;
    struct json_object *format;
    if (json_object_object_get_ex(arguments, "format", &format) &&
        strcmp(json_object_get_string(format), "png")) {
        result->error = "only format 'png' is written";
        return;
    }
    if (session->ops->screendump(session->target, json_object_get_string(filename),
                                 result->error_text, sizeof(result->error_text)))
        result->error = result->error_text;
}

static void qmp_query_block(struct qmp_session *session, struct json_object *arguments,
                            struct qmp_result *result)
{
    (void)arguments;
    result->value = json_object_new_array();
    for (int i = 0; i < session->ops->disk_count(session->target); i++) {
        struct qmp_disk_info disk = {0};
        session->ops->disk_info(session->target, i, &disk);
        struct json_object *inserted = json_object_new_object();
        json_object_object_add(inserted, "file", json_object_new_string(disk.path));
        json_object_object_add(inserted, "ro", json_object_new_boolean(disk.read_only));
        json_object_object_add(inserted, "drv", json_object_new_string("raw"));
        struct json_object *entry = json_object_new_object();
        json_object_object_add(entry, "device", json_object_new_string(disk.name));
        json_object_object_add(entry, "qdev", json_object_new_string(disk.name));
        json_object_object_add(entry, "locked", json_object_new_boolean(0));
        json_object_object_add(entry, "removable", json_object_new_boolean(0));
        json_object_object_add(entry, "type", json_object_new_string("unknown"));
        json_object_object_add(entry, "inserted", inserted);
        json_object_array_add(result->value, entry);
    }
}

static void qmp_balloon(struct qmp_session *session, struct json_object *arguments,
                        struct qmp_result *result)
{
    struct json_object *value = qmp_argument(arguments, "value", json_type_int, result);
    if (!value)
        return;
    int64_t bytes = json_object_get_int64(value);
    if (bytes <= 0) {
        result->error = "Parameter 'value' expects a size above zero";
        return;
    }
    if (!session->ops->balloon(session->target, (unsigned long long)bytes)) {
        result->error_class = "DeviceNotActive";
        result->error = "No balloon device has been activated (guest -m or -d adds one)";
    }
}

static void qmp_query_balloon(struct qmp_session *session, struct json_object *arguments,
                              struct qmp_result *result)
{
    (void)arguments;
    unsigned long long bytes;
    if (!session->ops->query_balloon(session->target, &bytes)) {
        result->error_class = "DeviceNotActive";
        result->error = "No balloon device has been activated (guest -m or -d adds one)";
        return;
    }
    result->value = json_object_new_object();
    json_object_object_add(result->value, "actual", json_object_new_int64((int64_t)bytes));
}

/* The human monitor, as far as scripts use it. */
static void qmp_human_monitor_command(struct qmp_session *session, struct json_object *arguments,
                                      struct qmp_result *result)
{
    struct json_object *line;
    if (!json_object_object_get_ex(arguments, "command-line", &line) ||
        !json_object_is_type(line, json_type_string)) {
        result->error = "Parameter 'command-line' is missing";
        return;
    }
    const char *text = json_object_get_string(line);
    char output[256];
    if (!strcmp(text, "info status")) {
        snprintf(output, sizeof(output), "VM status: %s\r\n",
                 qmp_state_name(session->ops->run_state(session->target)));
    } else if (!strcmp(text, "info version")) {
        snprintf(output, sizeof(output), "guest %s\r\n", GUEST_VERSION);
    } else if (!strcmp(text, "info cpus")) {
        size_t at = 0;
        output[0] = 0;
        for (int cpu = 0; cpu < session->ops->cpu_count(session->target) && at < 200; cpu++) {
            struct qmp_cpu_info info = {cpu, 0};
            session->ops->cpu_info(session->target, cpu, &info);
            at += (size_t)snprintf(output + at, sizeof(output) - at, "%s CPU #%d: thread_id=%ld\r\n",
                                   cpu == 0 ? "*" : " ", cpu, info.thread_id);
        }
    } else {
        snprintf(output, sizeof(output), "unknown command: '%.60s' (info status, info version "
                                         "and info cpus are known)\r\n",
                 text);
    }
    result->value = json_object_new_string(output);
}

static void qmp_capabilities(struct qmp_session *session, struct json_object *arguments,
                             struct qmp_result *result);

static const struct qmp_command {
    const char *name;
    void (*run)(struct qmp_session *session, struct json_object *arguments,
                struct qmp_result *result);
} qmp_commands[] = {
    {"qmp_capabilities", qmp_capabilities},
    {"query-status", qmp_query_status},
    {"stop", qmp_stop},
    {"cont", qmp_cont},
    {"system_reset", qmp_system_reset},
    {"system_powerdown", qmp_system_powerdown},
    {"quit", qmp_quit},
    {"query-cpus-fast", qmp_query_cpus_fast},
    {"query-version", qmp_query_version},
    {"query-commands", qmp_query_commands},
    {"human-monitor-command", qmp_human_monitor_command},
    {"screendump", qmp_screendump},
    {"query-block", qmp_query_block},
    {"balloon", qmp_balloon},
    {"query-balloon", qmp_query_balloon},
};
#define QMP_COMMAND_COUNT (sizeof(qmp_commands) / sizeof(qmp_commands[0]))

static void qmp_query_commands(struct qmp_session *session, struct json_object *arguments,
                               struct qmp_result *result)
{
    (void)session;
    (void)arguments;
    result->value = json_object_new_array();
    for (size_t i = 0; i < QMP_COMMAND_COUNT; i++) {
        struct json_object *entry = json_object_new_object();
        json_object_object_add(entry, "name", json_object_new_string(qmp_commands[i].name));
        json_object_array_add(result->value, entry);
    }
}

static void qmp_capabilities(struct qmp_session *session, struct json_object *arguments,
                             struct qmp_result *result)
{
    struct json_object *enable;
    if (session->negotiated) {
        result->error_class = "CommandNotFound";
        result->error = "Capabilities negotiation is already complete, command ignored";
        return;
    }
    if (arguments && json_object_object_get_ex(arguments, "enable", &enable) &&
        (!json_object_is_type(enable, json_type_array) || json_object_array_length(enable) > 0)) {
        result->error = "no capabilities are offered (the greeting's list is empty)";
        return;
    }
    session->negotiated = true;
}

/* One object from the client: checked as QEMU checks it, then run. */
static void qmp_handle(struct qmp_session *session, struct json_object *request)
{
    if (!json_object_is_type(request, json_type_object)) {
        qmp_error(session, "GenericError", "QMP input must be a JSON object", NULL);
        return;
    }
    struct json_object *id = NULL, *name = NULL, *arguments = NULL;
    json_object_object_foreach(request, key, value)
    {
        if (!strcmp(key, "execute")) {
            name = value;
        } else if (!strcmp(key, "id")) {
            id = value;
        } else if (!strcmp(key, "arguments")) {
            arguments = value;
        } else {
            char text[160];
            snprintf(text, sizeof(text), "QMP input member '%.64s' is unexpected", key);
            qmp_error(session, "GenericError", text, json_object_get(id));
            return;
        }
    }
    json_object_get(id); /* ours from here: every path below hands it on */
    if (!name) {
        qmp_error(session, "GenericError", "QMP input lacks member 'execute'", id);
        return;
    }
    if (!json_object_is_type(name, json_type_string)) {
        qmp_error(session, "GenericError", "QMP input member 'execute' must be a string", id);
        return;
    }
    if (arguments && !json_object_is_type(arguments, json_type_object)) {
        qmp_error(session, "GenericError", "QMP input member 'arguments' must be an object", id);
        return;
    }
    const char *command_name = json_object_get_string(name);
    const struct qmp_command *command = NULL;
    for (size_t i = 0; i < QMP_COMMAND_COUNT; i++)
        if (!strcmp(qmp_commands[i].name, command_name))
            command = &qmp_commands[i];
    if (!session->negotiated && (!command || command->run != qmp_capabilities)) {
        qmp_error(session, "CommandNotFound",
                  "Expecting capabilities negotiation with 'qmp_capabilities'", id);
        return;
    }
    if (!command) {
        char text[160];
        snprintf(text, sizeof(text), "The command %.64s has not been found", command_name);
        qmp_error(session, "CommandNotFound", text, id);
        return;
    }
    struct qmp_result result = {0};
    command->run(session, arguments, &result);
    if (result.error) {
        qmp_error(session, result.error_class ? result.error_class : "GenericError", result.error,
                  id);
    } else if (result.deferred) {
        session->waiting = true;
        session->waiting_id = id;
    } else {
        qmp_reply(session, result.value, id);
    }
    if (session->closed && !strcmp(command_name, "quit"))
        session->ops->quit(session->target); /* after its reply, as QEMU does */
}

/* --- input -------------------------------------------------------------------- */

size_t qmp_session_input(struct qmp_session *session, const char *bytes, size_t length)
{
    size_t at = 0;
    if (session->skipping_line) {
        const char *newline = memchr(bytes, '\n', length);
        if (!newline)
            return length;
        at = (size_t)(newline - bytes) + 1;
        session->skipping_line = false;
    }
    while (at < length && !session->waiting && !session->closed) {
        /* Whitespace between objects is nobody's business. */
        if (session->object_bytes == 0 && (bytes[at] == ' ' || bytes[at] == '\n' ||
                                           bytes[at] == '\r' || bytes[at] == '\t')) {
            at++;
            continue;
        }
        size_t chunk = length - at;
        if (chunk > 4096)
            chunk = 4096;
        struct json_object *object = json_tokener_parse_ex(session->tokener, bytes + at, (int)chunk);
        enum json_tokener_error error = json_tokener_get_error(session->tokener);
        size_t used = json_tokener_get_parse_end(session->tokener);
        if (used == 0 && error != json_tokener_success)
            used = 1; /* never stand still on a byte */
        at += used;
        session->object_bytes += used;
        if (object) {
            session->object_bytes = 0;
            qmp_handle(session, object);
            json_object_put(object);
        } else if (error == json_tokener_continue && session->object_bytes <= QMP_MAX_INPUT) {
            continue; /* half an object: the rest comes later */
        } else {
            char text[160];
            snprintf(text, sizeof(text), "JSON parse error, %s",
                     error == json_tokener_continue ? "an object longer than 64 KiB"
                                                    : json_tokener_error_desc(error));
            qmp_error(session, "GenericError", text, NULL);
            json_tokener_reset(session->tokener);
            session->object_bytes = 0;
            /* Start again after the line that went wrong: one error for it,
             * however it is cut into reads. */
            const char *newline = memchr(bytes + at, '\n', length - at);
            at = newline ? (size_t)(newline - bytes) + 1 : length;
            session->skipping_line = !newline;
        }
    }
    return at;
}

bool qmp_session_waiting(const struct qmp_session *session)
{
    return session->waiting;
}

void qmp_session_command_done(struct qmp_session *session)
{
    if (!session->waiting)
        return;
    session->waiting = false;
    qmp_reply(session, NULL, session->waiting_id);
    session->waiting_id = NULL;
}

void qmp_session_event(struct qmp_session *session, const char *name, struct json_object *data)
{
    if (!session->negotiated)
        return;
    struct timeval now;
    gettimeofday(&now, NULL);
    struct json_object *timestamp = json_object_new_object();
    json_object_object_add(timestamp, "seconds", json_object_new_int64(now.tv_sec));
    json_object_object_add(timestamp, "microseconds", json_object_new_int64(now.tv_usec));
    struct json_object *event = json_object_new_object();
    json_object_object_add(event, "event", json_object_new_string(name));
    if (data)
        json_object_object_add(event, "data", json_object_get(data));
    json_object_object_add(event, "timestamp", timestamp);
    qmp_send_object(session, event);
}
