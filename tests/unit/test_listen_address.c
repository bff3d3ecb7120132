/* Where a control socket listens (--gdb): the forms it takes, the ones it
 * refuses, and the sockets it opens: loopback by default, a stale Unix
 * socket taken over, a live one or a plain file left alone. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/listen_address.h"

static struct listen_address parse_ok(const char *text)
{
    struct listen_address address;
    struct error error = {{0}};
    if (listen_address_parse(text, &address, &error))
        fail_msg("%s refused: %s", text, error.message);
    return address;
}

static void test_forms(void **state)
{
    (void)state;
    struct listen_address a = parse_ok("1234");
    assert_false(a.is_unix);
    assert_string_equal(a.host, "127.0.0.1"); /* never the network unless asked */
    assert_int_equal(a.port, 1234);
    a = parse_ok("tcp::1234");
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(a.port, 1234);
    a = parse_ok(":99");
    assert_string_equal(a.host, "127.0.0.1");
    a = parse_ok("0.0.0.0:65535");
    assert_string_equal(a.host, "0.0.0.0");
    assert_int_equal(a.port, 65535);
    a = parse_ok("tcp:127.0.0.2:1");
    assert_string_equal(a.host, "127.0.0.2");
    a = parse_ok("[::1]:4000");
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 4000);
    a = parse_ok("unix:/tmp/x.sock");
    assert_true(a.is_unix);
    assert_string_equal(a.path, "/tmp/x.sock");
    char text[160];
    listen_address_format(&a, text, sizeof(text));
    assert_string_equal(text, "unix:/tmp/x.sock");
    a = parse_ok("[::1]:4000");
    listen_address_format(&a, text, sizeof(text));
    assert_string_equal(text, "[::1]:4000");
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "0", "65536", "99999999", "port", "12a", "-1", "+5", " 1", "unix:", "tcp:",
        "localhost:1234", "1.2.3:5", "1.2.3.4:", "[::1]", "[::1:5", "::1:", ":",
        "1.2.3.4:5:6",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct listen_address address;
        struct error error = {{0}};
        if (listen_address_parse(bad[i], &address, &error) != -1)
            fail_msg("\"%s\" accepted", bad[i]);
        assert_non_null(strstr(error.message, bad[i]));
        assert_null(strchr(error.message, '\n'));
    }
    char long_path[200] = "unix:/";
    memset(long_path + 6, 'x', 150);
    long_path[156] = 0;
    struct listen_address address;
    struct error error = {{0}};
    assert_int_equal(listen_address_parse(long_path, &address, &error), -1);
    assert_non_null(strstr(error.message, "longer than"));
}

static void test_tcp_on_loopback(void **state)
{
    (void)state;
    struct listen_address address = parse_ok("tcp::1");
    address.port = 0; /* any free one, for the test */
    struct error error = {{0}};
    int fd = listen_address_open(&address, &error);
    if (fd < 0)
        fail_msg("%s", error.message);
    struct sockaddr_in bound;
    socklen_t length = sizeof(bound);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&bound, &length), 0);
    assert_int_equal(bound.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    /* The same port again is in use: said with the address. */
    address.port = ntohs(bound.sin_port);
    assert_int_equal(listen_address_open(&address, &error), -1);
    assert_non_null(strstr(error.message, "127.0.0.1:"));
    assert_non_null(strstr(error.message, "in use"));
    close(fd);
}

static void test_unix_paths(void **state)
{
    (void)state;
    char directory[] = "/tmp/listen-test.XXXXXX";
    assert_non_null(mkdtemp(directory));
    char text[128];
    snprintf(text, sizeof(text), "unix:%s/s", directory);
    struct listen_address address = parse_ok(text);
    struct error error = {{0}};
    int first = listen_address_open(&address, &error);
    assert_true(first >= 0);
    /* Someone listens there: not taken. */
    assert_int_equal(listen_address_open(&address, &error), -1);
    assert_non_null(strstr(error.message, "another program listens"));
    /* Left behind by a VMM that ended badly: taken over. */
    close(first);
    int second = listen_address_open(&address, &error);
    if (second < 0)
        fail_msg("stale socket not taken over: %s", error.message);
    close(second);
    unlink(address.path);
    /* A plain file is nobody's socket to replace. */
    FILE *file = fopen(address.path, "w");
    assert_non_null(file);
    fclose(file);
    assert_int_equal(listen_address_open(&address, &error), -1);
    assert_non_null(strstr(error.message, "not a socket"));
    struct stat status;
    assert_int_equal(stat(address.path, &status), 0);
    unlink(address.path);
    rmdir(directory);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_tcp_on_loopback),
        cmocka_unit_test(test_unix_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
