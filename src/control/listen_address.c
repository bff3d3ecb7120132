#include "control/listen_address.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_parse_port(const char *text, uint16_t *port)
{
    if (!*text || strlen(text) > 5)
        return -1;
    for (const char *c = text; *c; c++)
        if (*c < '0' || *c > '9')
            return -1;
    long value = strtol(text, NULL, 10);
    if (value < 1 || value > 65535)
        return -1;
    *port = (uint16_t)value;
    return 0;
}

int listen_address_parse(const char *text, struct listen_address *address, struct error *error)
{
    memset(address, 0, sizeof(*address));
    if (!strncmp(text, "unix:", 5)) {
        const char *path = text + 5;
        if (!*path)
            return error_set(error, "%s: a Unix socket needs a path (unix:PATH)", text);
        if (strlen(path) >= sizeof(address->path))
            return error_set(error, "%s: the socket path is longer than %zu bytes", text,
                             sizeof(address->path) - 1);
        address->is_unix = true;
        strcpy(address->path, path);
        return 0;
    }
    const char *rest = !strncmp(text, "tcp:", 4) ? text + 4 : text;
    /* The port is after the last colon; "[v6]:port" brackets an IPv6 host. */
    const char *colon = strrchr(rest, ':');
    const char *port_text = colon ? colon + 1 : rest;
    size_t host_length = colon ? (size_t)(colon - rest) : 0;
    const char *host = rest;
    if (host_length >= 2 && host[0] == '[' && host[host_length - 1] == ']') {
        host++;
        host_length -= 2;
    }
    if (listen_parse_port(port_text, &address->port))
        return error_set(error, "%s: expected [HOST:]PORT with a port from 1 to 65535, or "
                                "unix:PATH",
                         text);
    if (host_length >= sizeof(address->host))
        return error_set(error, "%s: host too long", text);
    if (host_length == 0) {
        strcpy(address->host, "127.0.0.1");
    } else {
        memcpy(address->host, host, host_length);
        address->host[host_length] = 0;
        struct in_addr v4;
        struct in6_addr v6;
        if (inet_pton(AF_INET, address->host, &v4) != 1 &&
            inet_pton(AF_INET6, address->host, &v6) != 1)
            return error_set(error, "%s: %s is not a numeric IPv4 or IPv6 address", text,
                             address->host);
    }
    return 0;
}

void listen_address_format(const struct listen_address *address, char *out, unsigned size)
{
    if (address->is_unix)
        snprintf(out, size, "unix:%s", address->path);
    else if (strchr(address->host, ':'))
        snprintf(out, size, "[%s]:%u", address->host, address->port);
    else
        snprintf(out, size, "%s:%u", address->host, address->port);
}

/* A socket file nobody listens on is left by a VMM that did not end
 * cleanly: it may go.  Anything else at the path stays, and is an error. */
static int listen_take_unix_path(const char *path, struct error *error)
{
    struct stat status;
    if (lstat(path, &status) < 0)
        return errno == ENOENT ? 0 : error_set(error, "%s: %s", path, strerror(errno));
    if (!S_ISSOCK(status.st_mode))
        return error_set(error, "%s: exists and is not a socket", path);
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return error_set(error, "socket: %s", strerror(errno));
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    strcpy(un.sun_path, path);
    int connected = connect(probe, (struct sockaddr *)&un, sizeof(un));
    close(probe);
    if (connected == 0)
        return error_set(error, "%s: another program listens on this socket", path);
    if (unlink(path) < 0)
        return error_set(error, "%s: %s", path, strerror(errno));
    return 0;
}

int listen_address_open(const struct listen_address *address, struct error *error)
{
    char name[LISTEN_ADDRESS_MAX_PATH + 16];
    listen_address_format(address, name, sizeof(name));
    int fd;
    if (address->is_unix) {
        if (listen_take_unix_path(address->path, error))
            return -1;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return error_set(error, "socket: %s", strerror(errno));
        struct sockaddr_un un = {.sun_family = AF_UNIX};
        strcpy(un.sun_path, address->path);
        if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
            error_set(error, "%s: %s", address->path, strerror(errno));
            close(fd);
            return -1;
        }
    } else {
        struct sockaddr_storage storage = {0};
        socklen_t length;
        int family;
        struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
        if (inet_pton(AF_INET, address->host, &v4->sin_addr) == 1) {
            family = v4->sin_family = AF_INET;
            v4->sin_port = htons(address->port);
            length = sizeof(*v4);
        } else if (inet_pton(AF_INET6, address->host, &v6->sin6_addr) == 1) {
            family = v6->sin6_family = AF_INET6;
            v6->sin6_port = htons(address->port);
            length = sizeof(*v6);
        } else {
            return error_set(error, "%s: not a numeric address", name);
        }
        fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            return error_set(error, "socket: %s", strerror(errno));
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&storage, length) < 0) {
            error_set(error, "%s: %s", name, strerror(errno));
            close(fd);
            return -1;
        }
    }
    if (listen(fd, 4) < 0) {
        error_set(error, "%s: listen: %s", name, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}
