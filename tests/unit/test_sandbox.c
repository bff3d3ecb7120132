/* The sandbox's filters, loaded for real in forked children: each role's
 * list loads and lets its job's calls through, a forbidden call ends the
 * process with status 8 and a line naming the thread and the call, and log
 * mode lets the same call run. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exit_status.h"
#include "sandbox.h"

enum probe_call {
    CALL_EXECVE,
    CALL_EXEC_MAPPING,
    CALL_KVM_CREATE_VM,
    CALL_SOCKETPAIR,
    CALL_GMTIME,
};

struct outcome {
    int status; /* the exit status, or -1 when the child died of a signal */
    char message[1024];
};

/* In a child: confine this thread as ROLE, show that ordinary work still
 * goes (a pipe, memory, a pread), then make CALL.  Exit 0 when it returned. */
static void child(enum sandbox_mode mode, enum sandbox_role role, enum probe_call call)
{
    struct error error;
    if (sandbox_prepare(mode, &error))
        _exit(100);
    int pipe_fds[2];
    if (pipe(pipe_fds) < 0)
        _exit(101);
    int file = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    char name[16];
    snprintf(name, sizeof(name), "t-%s", sandbox_role_name(role));
    sandbox_enter(role, name);
    /* The job's own calls. */
    if (write(pipe_fds[1], "x", 1) != 1)
        _exit(102);
    char byte;
    if (read(pipe_fds[0], &byte, 1) != 1)
        _exit(103);
    void *memory = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        _exit(104);
    munmap(memory, 1 << 20);
    if (role == SANDBOX_DISK && pread(file, &byte, 1, 0) != 1)
        _exit(105);
    switch (call) {
    case CALL_EXECVE: {
        char *const argv[] = {"true", NULL};
        execve("/bin/true", argv, NULL);
        _exit(106); /* execve failed without the sandbox stopping it */
    }
    case CALL_EXEC_MAPPING:
        memory = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        _exit(memory == MAP_FAILED ? 107 : 0);
    case CALL_KVM_CREATE_VM:
        ioctl(file, KVM_CREATE_VM, 0); /* not /dev/kvm: ENOTTY when allowed */
        _exit(0);
    case CALL_GMTIME: { /* the RTC's conversion, on a vCPU thread */
        time_t now = time(NULL);
        struct tm utc;
        _exit(gmtime_r(&now, &utc) ? 0 : 110);
    }
    case CALL_SOCKETPAIR: {
        int pair[2];
        _exit(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0 ? 0 : 108);
    }
    }
    _exit(109);
}

static struct outcome run_child(enum sandbox_mode mode, enum sandbox_role role,
                                enum probe_call call)
{
    struct outcome outcome = {.status = -1};
    int messages[2];
    assert_int_equal(pipe(messages), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(messages[0]);
        dup2(messages[1], STDERR_FILENO);
        child(mode, role, call);
    }
    close(messages[1]);
    size_t length = 0;
    ssize_t got;
    while ((got = read(messages[0], outcome.message + length,
                       sizeof(outcome.message) - 1 - length)) > 0)
        length += (size_t)got;
    close(messages[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status))
        outcome.status = WEXITSTATUS(status);
    return outcome;
}

static void assert_stopped(const struct outcome *outcome, const char *thread, const char *call)
{
    if (outcome->status != GUEST_EXIT_SANDBOX)
        fail_msg("status %d, not the sandbox's %d; stderr: %s", outcome->status,
                 GUEST_EXIT_SANDBOX, outcome->message);
    char expected[128];
    snprintf(expected, sizeof(expected), "guest: sandbox: thread %s", thread);
    if (!strstr(outcome->message, expected) || !strstr(outcome->message, call))
        fail_msg("the message does not name %s and %s: %s", thread, call, outcome->message);
}

/* No role may start another program. */
static void test_every_role_refuses_execve(void **state)
{
    (void)state;
    for (int role = 0; role < SANDBOX_ROLE_COUNT; role++) {
        struct outcome outcome = run_child(SANDBOX_ENFORCE, role, CALL_EXECVE);
        char thread[32];
        snprintf(thread, sizeof(thread), "t-%s (%s)", sandbox_role_name(role),
                 sandbox_role_name(role));
        assert_stopped(&outcome, thread, "execve (59)");
    }
}

/* New code in memory: only the SDL thread's libraries may map it. */
static void test_exec_mappings_only_for_sdl(void **state)
{
    (void)state;
    struct outcome outcome = run_child(SANDBOX_ENFORCE, SANDBOX_VCPU, CALL_EXEC_MAPPING);
    assert_stopped(&outcome, "t-vcpu", "mmap (9)");
    outcome = run_child(SANDBOX_ENFORCE, SANDBOX_DISK, CALL_EXEC_MAPPING);
    assert_stopped(&outcome, "t-disk", "mmap (9)");
    outcome = run_child(SANDBOX_ENFORCE, SANDBOX_SDL, CALL_EXEC_MAPPING);
    assert_int_equal(outcome.status, 0);
}

/* ioctl is filtered by request: a VM's running requests, not a new VM. */
static void test_ioctl_request_named(void **state)
{
    (void)state;
    struct outcome outcome = run_child(SANDBOX_ENFORCE, SANDBOX_VCPU, CALL_KVM_CREATE_VM);
    assert_stopped(&outcome, "t-vcpu", "ioctl (16) request 0xae01");
}

/* glibc opens /etc/localtime on its first time conversion, gmtime_r's too:
 * that happened on a vCPU thread (the RTC) after its filter, in the
 * shipped build, and ended the VM; sandbox_prepare does it first now. */
static void test_first_time_conversion_after_the_filter(void **state)
{
    (void)state;
    struct outcome outcome = run_child(SANDBOX_ENFORCE, SANDBOX_VCPU, CALL_GMTIME);
    if (outcome.status != 0)
        fail_msg("status %d; stderr: %s", outcome.status, outcome.message);
}

/* --seccomp=log: the call runs; the kernel logs it. */
static void test_log_mode_lets_the_call_run(void **state)
{
    (void)state;
    struct outcome outcome = run_child(SANDBOX_LOG, SANDBOX_DISK, CALL_SOCKETPAIR);
    if (outcome.status != 0)
        fail_msg("status %d; stderr: %s", outcome.status, outcome.message);
    outcome = run_child(SANDBOX_ENFORCE, SANDBOX_DISK, CALL_SOCKETPAIR);
    assert_stopped(&outcome, "t-disk", "socketpair");
}

/* --no-sandbox: nothing is filtered. */
static void test_off_filters_nothing(void **state)
{
    (void)state;
    struct outcome outcome = run_child(SANDBOX_OFF, SANDBOX_VCPU, CALL_EXEC_MAPPING);
    assert_int_equal(outcome.status, 0);
    outcome = run_child(SANDBOX_OFF, SANDBOX_VCPU, CALL_SOCKETPAIR);
    assert_int_equal(outcome.status, 0);
}

/* --user's names and numbers, and what it refuses before any VM exists. */
static void test_user_resolution(void **state)
{
    (void)state;
    struct sandbox_user user = {0};
    struct error error = {{0}};
    assert_int_equal(sandbox_resolve_user("nobody", &user, &error), 0);
    assert_true(user.given);
    assert_int_equal(user.uid, 65534);
    assert_int_equal(user.gid, 65534); /* nobody's own group */
    assert_int_equal(sandbox_resolve_user("nobody:0", &user, &error), 0);
    assert_int_equal(user.gid, 0);
    assert_int_equal(sandbox_resolve_user("4321:1234", &user, &error), 0);
    assert_int_equal(user.uid, 4321);
    assert_int_equal(user.gid, 1234);
    static const struct {
        const char *spec, *says;
    } bad[] = {
        {"nosuchuser-here", "no such user"},
        {"nobody:nosuchgroup-here", "no such group"},
        {"0", "is root"},
        {"root", "is root"},
        {"4321", "needs its group"},
        {":1", "not USER"},
        {"nobody:", "not USER"},
        {"99999999999", "no such user"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sandbox_user refused = {0};
        if (sandbox_resolve_user(bad[i].spec, &refused, &error) != -1)
            fail_msg("--user %s accepted", bad[i].spec);
        if (!strstr(error.message, bad[i].says))
            fail_msg("--user %s: \"%s\" does not say \"%s\"", bad[i].spec, error.message,
                     bad[i].says);
        assert_false(refused.given);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_role_refuses_execve),
        cmocka_unit_test(test_exec_mappings_only_for_sdl),
        cmocka_unit_test(test_ioctl_request_named),
        cmocka_unit_test(test_log_mode_lets_the_call_run),
        cmocka_unit_test(test_off_filters_nothing),
        cmocka_unit_test(test_user_resolution),
        cmocka_unit_test(test_first_time_conversion_after_the_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
