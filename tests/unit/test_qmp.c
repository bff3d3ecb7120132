/* The QMP session against a fake VM: the greeting, negotiation first, each
 * command's reply shape, ids echoed whatever their type, a stop whose reply
 * waits for the VM, events only after negotiation, and every way a client's
 * input can be wrong: bad JSON, half objects, non-objects, unknown members,
 * wrong types, an object too long, deep nesting.  The session goes on after
 * each. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/qmp.h"

struct fake_vm {
    enum qmp_run_state state;
    const char *refuse; /* stop and cont refused with this */
    unsigned stops, conts, quits, resets;
};

static enum qmp_run_state fake_run_state(void *opaque)
{
    return ((struct fake_vm *)opaque)->state;
}

static const char *fake_stop(void *opaque)
{
    struct fake_vm *vm = opaque;
    vm->stops++;
    return vm->refuse;
}

static const char *fake_cont(void *opaque)
{
    struct fake_vm *vm = opaque;
    vm->conts++;
    if (!vm->refuse)
        vm->state = QMP_RUNNING;
    return vm->refuse;
}

static void fake_quit(void *opaque)
{
    ((struct fake_vm *)opaque)->quits++;
}

static void fake_reset(void *opaque)
{
    ((struct fake_vm *)opaque)->resets++;
}

static int fake_cpu_count(void *opaque)
{
    (void)opaque;
    return 2;
}

static void fake_cpu_info(void *opaque, int cpu, struct qmp_cpu_info *info)
{
    (void)opaque;
    info->index = cpu;
    info->thread_id = 1000 + cpu;
}

static char screendump_path[64];
static unsigned long long balloon_bytes;
static bool has_balloon;

static int fake_screendump(void *opaque, const char *path, char *error, size_t size)
{
    (void)opaque;
    if (!strcmp(path, "/nonexistent/x.png")) {
        snprintf(error, size, "%s: No such file or directory", path);
        return -1;
    }
    snprintf(screendump_path, sizeof(screendump_path), "%s", path);
    return 0;
}

static int fake_disk_count(void *opaque)
{
    (void)opaque;
    return 2;
}

static void fake_disk_info(void *opaque, int disk, struct qmp_disk_info *info)
{
    (void)opaque;
    *info = (struct qmp_disk_info){disk ? "vdb" : "vda", disk ? "/b.img" : "/a.img", disk == 1};
}

static bool fake_balloon(void *opaque, unsigned long long bytes)
{
    (void)opaque;
    balloon_bytes = bytes;
    return has_balloon;
}

static bool fake_query_balloon(void *opaque, unsigned long long *bytes)
{
    (void)opaque;
    *bytes = balloon_bytes;
    return has_balloon;
}

static unsigned powerdowns;

static void fake_powerdown(void *opaque)
{
    (void)opaque;
    powerdowns++;
}

static const struct qmp_target_ops fake_ops = {
    fake_run_state, fake_stop,       fake_cont,      fake_quit,    fake_reset,
    fake_cpu_count, fake_cpu_info,   fake_screendump, fake_disk_count, fake_disk_info,
    fake_balloon,   fake_query_balloon, fake_powerdown,
};

static char sent[1 << 20];
static size_t sent_length;
static unsigned lines_sent;

static bool capture(void *opaque, const char *line, size_t length)
{
    (void)opaque;
    assert_true(sent_length + length < sizeof(sent));
    assert_true(length >= 2 && line[length - 2] == '\r' && line[length - 1] == '\n');
    memcpy(sent + sent_length, line, length);
    sent_length += length;
    sent[sent_length] = 0;
    lines_sent++;
    return true;
}

static struct fake_vm vm;
static struct qmp_session session;
static struct json_object *last; /* the last line sent, parsed */

static int setup(void **state)
{
    (void)state;
    memset(&vm, 0, sizeof(vm));
    assert_int_equal(qmp_session_init(&session, &fake_ops, &vm, capture, NULL), 0);
    sent_length = 0;
    lines_sent = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    qmp_session_destroy(&session);
    json_object_put(last);
    last = NULL;
    return 0;
}

/* Feeds text; returns the last line sent in response, parsed (owned here). */
static struct json_object *send_text(const char *text)
{
    sent_length = 0;
    lines_sent = 0;
    sent[0] = 0;
    qmp_session_input(&session, text, strlen(text));
    json_object_put(last);
    last = NULL;
    if (!sent_length)
        return NULL;
    char *start = sent, *end;
    while ((end = strstr(start, "\r\n")) && end[2])
        start = end + 2;
    last = json_tokener_parse(start);
    assert_non_null(last);
    return last;
}

static const char *member_string(struct json_object *object, const char *path1, const char *path2)
{
    struct json_object *a, *b;
    if (!json_object_object_get_ex(object, path1, &a))
        return NULL;
    if (!path2)
        return json_object_get_string(a);
    if (!json_object_object_get_ex(a, path2, &b))
        return NULL;
    return json_object_get_string(b);
}

static void negotiate(void)
{
    struct json_object *reply = send_text("{\"execute\": \"qmp_capabilities\"}\n");
    assert_non_null(reply);
    assert_non_null(member_string(reply, "return", NULL));
}

static void assert_error(struct json_object *reply, const char *class, const char *mentions)
{
    assert_non_null(reply);
    const char *got_class = member_string(reply, "error", "class");
    const char *desc = member_string(reply, "error", "desc");
    if (!got_class || strcmp(got_class, class) || !desc || !strstr(desc, mentions))
        fail_msg("expected %s mentioning \"%s\", got %s", class, mentions,
                 json_object_to_json_string(reply));
}

static void test_greeting_and_negotiation(void **state)
{
    (void)state;
    qmp_session_greet(&session);
    struct json_object *greeting = json_tokener_parse(sent);
    assert_non_null(greeting);
    struct json_object *qmp, *version, *capabilities;
    assert_true(json_object_object_get_ex(greeting, "QMP", &qmp));
    assert_true(json_object_object_get_ex(qmp, "version", &version));
    assert_true(json_object_object_get_ex(qmp, "capabilities", &capabilities));
    assert_true(json_object_is_type(capabilities, json_type_array));
    json_object_put(greeting);
    /* Nothing but qmp_capabilities first; events wait for it too. */
    assert_error(send_text("{\"execute\": \"query-status\"}"), "CommandNotFound",
                 "qmp_capabilities");
    sent_length = 0;
    qmp_session_event(&session, "STOP", NULL);
    assert_int_equal(sent_length, 0);
    assert_error(send_text("{\"execute\": \"qmp_capabilities\", \"arguments\": {\"enable\": "
                           "[\"oob\"]}}"),
                 "GenericError", "no capabilities");
    negotiate();
    assert_error(send_text("{\"execute\": \"qmp_capabilities\"}"), "CommandNotFound",
                 "already complete");
    sent_length = 0;
    qmp_session_event(&session, "STOP", NULL);
    struct json_object *event = json_tokener_parse(sent);
    assert_string_equal(member_string(event, "event", NULL), "STOP");
    assert_non_null(member_string(event, "timestamp", "seconds"));
    assert_non_null(member_string(event, "timestamp", "microseconds"));
    json_object_put(event);
}

static void test_commands(void **state)
{
    (void)state;
    negotiate();
    struct json_object *reply = send_text("{\"execute\": \"query-status\", \"id\": 7}");
    assert_string_equal(member_string(reply, "return", "status"), "running");
    assert_string_equal(member_string(reply, "return", "running"), "true");
    assert_string_equal(member_string(reply, "id", NULL), "7");
    vm.state = QMP_PAUSED;
    reply = send_text("{\"execute\": \"query-status\"}");
    assert_string_equal(member_string(reply, "return", "status"), "paused");
    /* Ids come back as they were sent, whatever they are. */
    reply = send_text("{\"id\": {\"a\": [1, \"b\"]}, \"execute\": \"cont\"}");
    assert_int_equal(vm.conts, 1);
    assert_string_equal(json_object_to_json_string_ext(json_object_object_get(reply, "id"),
                                                       JSON_C_TO_STRING_PLAIN),
                        "{\"a\":[1,\"b\"]}");
    reply = send_text("{\"execute\": \"query-cpus-fast\"}");
    struct json_object *cpus = json_object_object_get(reply, "return");
    assert_int_equal(json_object_array_length(cpus), 2);
    assert_string_equal(member_string(json_object_array_get_idx(cpus, 1), "thread-id", NULL),
                        "1001");
    assert_string_equal(member_string(json_object_array_get_idx(cpus, 1), "target", NULL),
                        "x86_64");
    reply = send_text("{\"execute\": \"query-version\"}");
    assert_non_null(member_string(reply, "return", "qemu"));
    assert_non_null(strstr(member_string(reply, "return", "package"), "guest"));
    reply = send_text("{\"execute\": \"query-commands\"}");
    assert_non_null(strstr(json_object_to_json_string(reply), "\"human-monitor-command\""));
    reply = send_text("{\"execute\": \"human-monitor-command\", \"arguments\": "
                      "{\"command-line\": \"info status\"}}");
    assert_string_equal(member_string(reply, "return", NULL), "VM status: running\r\n");
    reply = send_text("{\"execute\": \"human-monitor-command\", \"arguments\": {}}");
    assert_error(reply, "GenericError", "command-line");
    reply = send_text("{\"execute\": \"system_reset\"}");
    assert_int_equal(vm.resets, 1);
    reply = send_text("{\"execute\": \"system_powerdown\"}");
    assert_non_null(json_object_object_get(reply, "return"));
    assert_int_equal(powerdowns, 1);
    assert_error(send_text("{\"execute\": \"frobnicate\"}"), "CommandNotFound", "frobnicate");
    /* quit: its reply, then the VM is told, and nothing more is read. */
    reply = send_text("{\"execute\": \"quit\"}{\"execute\": \"cont\"}");
    assert_non_null(json_object_object_get(reply, "return"));
    assert_int_equal(vm.quits, 1);
    assert_int_equal(vm.conts, 1);
}

static void test_stop_waits_for_the_vm(void **state)
{
    (void)state;
    negotiate();
    /* The reply is owed until the VM has stopped; what follows waits. */
    const char *text = "{\"execute\": \"stop\", \"id\": \"s\"}\n{\"execute\": \"query-status\"}";
    sent_length = 0;
    size_t used = qmp_session_input(&session, text, strlen(text));
    assert_int_equal(vm.stops, 1);
    assert_int_equal(sent_length, 0);
    assert_true(qmp_session_waiting(&session));
    assert_true(used < strlen(text));
    vm.state = QMP_PAUSED;
    qmp_session_command_done(&session);
    assert_non_null(strstr(sent, "\"return\":{},\"id\":\"s\""));
    struct json_object *reply = send_text(text + used);
    assert_string_equal(member_string(reply, "return", "status"), "paused");
    /* Refused (a debugger holds the VM): an error, nothing owed. */
    vm.refuse = "a debugger is attached";
    assert_error(send_text("{\"execute\": \"stop\"}"), "GenericError", "debugger");
    assert_false(qmp_session_waiting(&session));
    assert_error(send_text("{\"execute\": \"cont\"}"), "GenericError", "debugger");
    qmp_session_command_done(&session); /* nothing owed: nothing sent */
}

static void test_device_commands(void **state)
{
    (void)state;
    negotiate();
    struct json_object *reply =
        send_text("{\"execute\": \"screendump\", \"arguments\": {\"filename\": \"/tmp/s.png\"}}");
    assert_non_null(json_object_object_get(reply, "return"));
    assert_string_equal(screendump_path, "/tmp/s.png");
    assert_error(send_text("{\"execute\": \"screendump\", \"arguments\": {\"filename\": "
                           "\"/nonexistent/x.png\"}}"),
                 "GenericError", "No such file");
    assert_error(send_text("{\"execute\": \"screendump\"}"), "GenericError",
                 "Parameter 'filename' is missing");
    assert_error(send_text("{\"execute\": \"screendump\", \"arguments\": {\"filename\": 5}}"),
                 "GenericError", "expected: string");
    assert_error(send_text("{\"execute\": \"screendump\", \"arguments\": {\"filename\": "
                           "\"/tmp/s.ppm\", \"format\": \"ppm\"}}"),
                 "GenericError", "png");
    reply = send_text("{\"execute\": \"query-block\"}");
    struct json_object *disks = json_object_object_get(reply, "return");
    assert_int_equal(json_object_array_length(disks), 2);
    struct json_object *second = json_object_array_get_idx(disks, 1);
    assert_string_equal(member_string(second, "device", NULL), "vdb");
    assert_string_equal(member_string(second, "inserted", "file"), "/b.img");
    assert_string_equal(member_string(second, "inserted", "ro"), "true");
    /* The balloon: absent, then there. */
    assert_error(send_text("{\"execute\": \"query-balloon\"}"), "DeviceNotActive", "balloon");
    assert_error(send_text("{\"execute\": \"balloon\", \"arguments\": {\"value\": 1024}}"),
                 "DeviceNotActive", "balloon");
    has_balloon = true;
    reply = send_text("{\"execute\": \"balloon\", \"arguments\": {\"value\": 536870912}}");
    assert_non_null(json_object_object_get(reply, "return"));
    assert_int_equal(balloon_bytes, 536870912);
    reply = send_text("{\"execute\": \"query-balloon\"}");
    assert_string_equal(member_string(reply, "return", "actual"), "536870912");
    assert_error(send_text("{\"execute\": \"balloon\", \"arguments\": {\"value\": -1}}"),
                 "GenericError", "above zero");
    assert_error(send_text("{\"execute\": \"balloon\", \"arguments\": {\"value\": \"1G\"}}"),
                 "GenericError", "expected: int");
    has_balloon = false;
}

static void test_bad_input(void **state)
{
    (void)state;
    negotiate();
    static const struct {
        const char *text, *mentions;
    } bad[] = {
        {"{bad json}\n", "JSON parse error"},
        {"[1, 2]\n", "must be a JSON object"},
        {"\"text\"\n", "must be a JSON object"},
        {"{\"execute\": \"query-status\", \"bogus\": 1}", "'bogus' is unexpected"},
        {"{\"arguments\": {}}", "lacks member 'execute'"},
        {"{\"execute\": 5}", "'execute' must be a string"},
        {"{\"execute\": \"query-status\", \"arguments\": [1]}", "'arguments' must be an object"},
        {"{\"execute\": \"qu\xff\xfe" "ery\"}\n", "JSON parse error"}, /* not UTF-8 */
        {"}\n", "JSON parse error"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_error(send_text(bad[i].text), "GenericError", bad[i].mentions);
        /* And the session goes on. */
        struct json_object *reply = send_text("{\"execute\": \"query-status\"}");
        assert_non_null(json_object_object_get(reply, "return"));
    }
    /* Half an object, then the rest. */
    assert_null(send_text("{\"execute\": \"query-"));
    struct json_object *reply = send_text("status\"}");
    assert_non_null(json_object_object_get(reply, "return"));
    /* A line of garbage costs that line only, however it is cut. */
    reply = send_text("{\"execute\" \"x\"} more garbage here\n{\"execute\": \"query-status\"}");
    assert_int_equal(lines_sent, 2);
    assert_non_null(strstr(sent, "JSON parse error"));
    assert_non_null(json_object_object_get(reply, "return"));
    /* Deep nesting and an endless object are refused, not followed. */
    char deep[400];
    memset(deep, '[', sizeof(deep) - 2);
    deep[sizeof(deep) - 2] = '\n';
    deep[sizeof(deep) - 1] = 0;
    assert_error(send_text(deep), "GenericError", "JSON parse error");
    assert_non_null(json_object_object_get(send_text("{\"execute\": \"query-status\"}"), "return"));
    char *endless = malloc(QMP_MAX_INPUT + 100);
    strcpy(endless, "{\"execute\": \"");
    memset(endless + strlen(endless), 'a', QMP_MAX_INPUT);
    endless[QMP_MAX_INPUT + 13] = 0;
    assert_error(send_text(endless), "GenericError", "longer than");
    free(endless);
    assert_null(send_text("aaaa\"}, still the same line\n")); /* dropped, no second error */
    reply = send_text("{\"execute\": \"query-status\"}");
    assert_non_null(json_object_object_get(reply, "return")); /* ...and it goes on */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_greeting_and_negotiation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_waits_for_the_vm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
