/* A QMP session fed the input in pieces (the first byte says where to cut),
 * against a VM that stops at once: no crash or leak, every line sent is one
 * JSON object, and a stop's owed reply is paid before more is read. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum qmp_run_state state;

static enum qmp_run_state fuzz_run_state(void *opaque)
{
    (void)opaque;
    return state;
}

static const char *fuzz_stop(void *opaque)
{
    (void)opaque;
    state = QMP_PAUSED;
    return NULL;
}

static const char *fuzz_cont(void *opaque)
{
    (void)opaque;
    state = QMP_RUNNING;
    return NULL;
}

static void fuzz_nothing(void *opaque)
{
    (void)opaque;
}

static int fuzz_cpu_count(void *opaque)
{
    (void)opaque;
    return 3;
}

static void fuzz_cpu_info(void *opaque, int cpu, struct qmp_cpu_info *info)
{
    (void)opaque;
    info->index = cpu;
    info->thread_id = cpu;
}

static int fuzz_screendump(void *opaque, const char *path, char *error, size_t size)
{
    (void)opaque;
    if (strlen(path) % 2)
        snprintf(error, size, "%s: refused", path);
    return strlen(path) % 2 ? -1 : 0;
}

static void fuzz_disk_info(void *opaque, int disk, struct qmp_disk_info *info)
{
    (void)opaque;
    *info = (struct qmp_disk_info){disk ? "vdb" : "vda", "/disk.img", disk == 1};
}

static bool fuzz_balloon(void *opaque, unsigned long long bytes)
{
    (void)opaque;
    return bytes % 2;
}

static bool fuzz_query_balloon(void *opaque, unsigned long long *bytes)
{
    (void)opaque;
    *bytes = 1 << 30;
    return true;
}

static const struct qmp_target_ops fuzz_ops = {
    fuzz_run_state,  fuzz_stop,      fuzz_cont,    fuzz_nothing,       fuzz_nothing,
    fuzz_cpu_count,  fuzz_cpu_info,  fuzz_screendump, fuzz_cpu_count, fuzz_disk_info,
    fuzz_balloon,    fuzz_query_balloon, fuzz_nothing,
};

static bool fuzz_send(void *opaque, const char *line, size_t length)
{
    (void)opaque;
    if (length < 2 || line[length - 2] != '\r' || line[length - 1] != '\n')
        abort();
    struct json_tokener *tokener = json_tokener_new();
    struct json_object *object = json_tokener_parse_ex(tokener, line, (int)length - 2);
    if (!object || !json_object_is_type(object, json_type_object))
        abort();
    json_object_put(object);
    json_tokener_free(tokener);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t piece = (size_t)data[0] % 64 + 1;
    const char *text = (const char *)data + 1;
    size_t length = size - 1;
    struct qmp_session session;
    state = QMP_RUNNING;
    if (qmp_session_init(&session, &fuzz_ops, NULL, fuzz_send, NULL))
        return 0;
    qmp_session_greet(&session);
    /* Negotiated half the time, so the commands behind it run too. */
    if (data[0] & 0x80)
        qmp_session_input(&session, "{\"execute\":\"qmp_capabilities\"}", 30);
    char held[8192];
    size_t held_length = 0;
    for (size_t at = 0; at < length && !session.closed;) {
        size_t chunk = length - at < piece ? length - at : piece;
        /* What the session could not take (a reply owed) comes again. */
        if (held_length + chunk > sizeof(held))
            break;
        memcpy(held + held_length, text + at, chunk);
        held_length += chunk;
        at += chunk;
        size_t used = qmp_session_input(&session, held, held_length);
        if (qmp_session_waiting(&session))
            qmp_session_command_done(&session);
        memmove(held, held + used, held_length - used);
        held_length -= used;
    }
    qmp_session_event(&session, "SHUTDOWN", NULL);
    qmp_session_destroy(&session);
    return 0;
}
