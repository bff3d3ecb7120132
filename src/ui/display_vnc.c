/* The guest's screen as a VNC server (libvncserver).
 *
 * The display listens itself, on TCP or on a Unix socket (Debian 12's
 * libvncserver 0.9.14 cannot listen on Unix sockets), and hands each accepted
 * connection to libvncserver.  All libvncserver calls happen on one thread of
 * ours, around poll(): guest updates only wake it, and it copies what changed
 * into the framebuffer it serves.  The default address is 127.0.0.1 on the
 * first free port from 5900 to 5999: never reachable from the network unless
 * asked for, and several guests can run at once without choosing ports. */
#include "ui/display_backend.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <rfb/rfb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sandbox.h"
#include "ui/keymap.h"

#define DISPLAY_VNC_DEFAULT_HOST "127.0.0.1"
#define DISPLAY_VNC_FIRST_PORT 5900
#define DISPLAY_VNC_LAST_PORT 5999
#define DISPLAY_VNC_BACKLOG 8

struct display_vnc {
    struct display *display;
    rfbScreenInfoPtr screen;
    int listen_fd;
    char *unix_path; /* removed on close */
    int wake_fd;
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool closing; /* no more input to the machine, even a key's release */
    /* The framebuffer served: the frame with red in the low byte, libvncserver's
     * native layout, so that clients' colour translation stays right across
     * resizes. */
    uint32_t *framebuffer;
    uint32_t width, height;
    /* With password-file=FILE: the password (VNC authentication), as
     * libvncserver's list check wants it: NULL-terminated. */
    char *passwords[2];
};

/* libvncserver prints to stderr by default; below main.c nothing prints. */
static void display_vnc_log_nothing(const char *format, ...)
{
    (void)format;
}

/* Is the socket bound to a loopback address (127/8, ::1, or IPv4's loopback
 * as an IPv6 mapped address)?  Anything else reaches other machines. */
static bool display_vnc_on_loopback(int fd)
{
    struct sockaddr_storage bound;
    socklen_t length = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &length) < 0)
        return false;
    if (bound.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&bound;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (bound.ss_family == AF_INET6) {
        const struct in6_addr *in6 = &((const struct sockaddr_in6 *)&bound)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(in6) ||
               (IN6_IS_ADDR_V4MAPPED(in6) && in6->s6_addr[12] == 127);
    }
    return false;
}

static int display_vnc_listen_inet(const char *host, const char *port, bool try_next_ports,
                                   char *address, size_t address_size, struct error *error)
{
    char port_text[8];
    unsigned port_number = (unsigned)atoi(port);
    unsigned last_port = try_next_ports ? DISPLAY_VNC_LAST_PORT : port_number;
    int last_errno = 0;
    for (; port_number <= last_port; port_number++) {
        snprintf(port_text, sizeof(port_text), "%u", port_number);
        struct addrinfo hints = {
            .ai_family = AF_UNSPEC,
            .ai_socktype = SOCK_STREAM,
            .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
        };
        struct addrinfo *addresses;
        int status = getaddrinfo(host && *host ? host : NULL, port_text, &hints, &addresses);
        if (status != 0)
            return error_set(error, "vnc: %s: %s", host && *host ? host : "*",
                             gai_strerror(status));
        for (struct addrinfo *candidate = addresses; candidate; candidate = candidate->ai_next) {
            int fd = socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC,
                            candidate->ai_protocol);
            if (fd < 0) {
                last_errno = errno;
                continue;
            }
            /* Only so that a restarted guest can take its port back at once
             * (TIME_WAIT); Linux still refuses a second listener. */
            int one = 1;
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 &&
                listen(fd, DISPLAY_VNC_BACKLOG) == 0) {
                char numeric[64]; /* an IPv6 address with its scope */
                if (getnameinfo(candidate->ai_addr, candidate->ai_addrlen, numeric,
                                sizeof(numeric), NULL, 0, NI_NUMERICHOST) != 0)
                    snprintf(numeric, sizeof(numeric), "?");
                snprintf(address, address_size,
                         candidate->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", numeric,
                         port_number);
                freeaddrinfo(addresses);
                return fd;
            }
            last_errno = errno;
            close(fd);
        }
        freeaddrinfo(addresses);
        if (last_errno != EADDRINUSE)
            break;
    }
    if (try_next_ports && last_errno == EADDRINUSE)
        return error_set(error, "vnc: every port from %u to %u on %s is in use",
                         DISPLAY_VNC_FIRST_PORT, DISPLAY_VNC_LAST_PORT, host);
    return error_set(error, "vnc: cannot listen on %s:%s: %s", host && *host ? host : "*", port,
                     strerror(last_errno));
}

static int display_vnc_listen_unix(const char *path, struct error *error)
{
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(address.sun_path))
        return error_set(error, "vnc: unix:%s: the path is too long for a socket (at most %zu)",
                         path, sizeof(address.sun_path) - 1);
    strcpy(address.sun_path, path);
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return error_set(error, "vnc: socket: %s", strerror(errno));
        if (bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0) {
            if (listen(fd, DISPLAY_VNC_BACKLOG) == 0)
                return fd;
            int saved = errno;
            close(fd);
            unlink(path);
            return error_set(error, "vnc: unix:%s: %s", path, strerror(saved));
        }
        int saved = errno;
        close(fd);
        if (saved != EADDRINUSE || attempt > 0)
            return error_set(error, "vnc: unix:%s: %s", path, strerror(saved));
        /* A socket file is there: in use if something answers on it, stale
         * (left by a server that died) if nothing does.  Never remove
         * anything but a socket. */
        struct stat status;
        if (lstat(path, &status) < 0 || !S_ISSOCK(status.st_mode))
            return error_set(error, "vnc: unix:%s: the path exists and is not a socket", path);
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe < 0)
            return error_set(error, "vnc: socket: %s", strerror(errno));
        int connected = connect(probe, (struct sockaddr *)&address, sizeof(address));
        int connect_errno = errno;
        close(probe);
        if (connected == 0 || connect_errno != ECONNREFUSED)
            return error_set(error, "vnc: unix:%s: in use by another server", path);
        unlink(path);
    }
    return error_set(error, "vnc: unix:%s: cannot listen", path);
}

/* options: NULL, "HOST:PORT", "[V6]:PORT", ":PORT" or "unix:PATH". */
static int display_vnc_listen(struct display_vnc *vnc, const char *options, char *description,
                              size_t description_size, struct error *error)
{
    char address[80];
    if (!options) {
        char first_port[8];
        snprintf(first_port, sizeof(first_port), "%u", DISPLAY_VNC_FIRST_PORT);
        int fd = display_vnc_listen_inet(DISPLAY_VNC_DEFAULT_HOST, first_port, true, address,
                                         sizeof(address), error);
        if (fd < 0)
            return -1;
        snprintf(description, description_size, "VNC server on %s", address);
        return fd;
    }
    if (strncmp(options, "unix:", 5) == 0) {
        const char *path = options + 5;
        if (!*path)
            return error_set(error, "vnc=unix:PATH: the path is missing");
        int fd = display_vnc_listen_unix(path, error);
        if (fd < 0)
            return -1;
        if (!(vnc->unix_path = strdup(path))) {
            close(fd);
            unlink(path);
            return error_set(error, "vnc: out of memory");
        }
        snprintf(description, description_size, "VNC server on unix:%s", path);
        return fd;
    }
    const char *colon = strrchr(options, ':');
    if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
        atoi(colon + 1) < 1 || atoi(colon + 1) > 65535)
        return error_set(error, "vnc=%s: expected HOST:PORT (a port from 1 to 65535) or unix:PATH",
                         options);
    size_t host_length = (size_t)(colon - options);
    const char *host = options;
    if (host_length >= 2 && options[0] == '[' && options[host_length - 1] == ']') {
        host++;
        host_length -= 2;
    }
    char host_text[NI_MAXHOST];
    if (host_length >= sizeof(host_text))
        return error_set(error, "vnc=%s: the host is too long", options);
    memcpy(host_text, host, host_length);
    host_text[host_length] = '\0';
    int fd = display_vnc_listen_inet(host_text, colon + 1, false, address, sizeof(address),
                                     error);
    if (fd < 0)
        return -1;
    /* VNC without a password lets anyone who reaches the port type into the
     * guest: off loopback that is the network, so it takes a password. */
    if (!vnc->passwords[0] && !display_vnc_on_loopback(fd)) {
        close(fd);
        return error_set(error,
                         "vnc=%s: not a loopback address: a VNC server others can reach needs "
                         "password-file=FILE (or listen on unix:PATH, or 127.0.0.1 and tunnel)",
                         options);
    }
    snprintf(description, description_size, "VNC server on %s", address);
    return fd;
}

static void display_vnc_on_key(rfbBool down, rfbKeySym keysym, rfbClientPtr client)
{
    struct display_vnc *vnc = client->screen->screenData;
    if (atomic_load(&vnc->closing))
        return;
    display_input_key(vnc->display, keymap_from_x11_keysym(keysym), down);
}

static void display_vnc_on_pointer(int button_mask, int x, int y, rfbClientPtr client)
{
    struct display_vnc *vnc = client->screen->screenData;
    if (atomic_load(&vnc->closing) || x < 0 || y < 0)
        return;
    /* RFB numbers buttons left, middle, right; the sink wants 1 left, 2
     * right, 4 middle.  Buttons 4 and 5 (the wheel) have nowhere to go. */
    unsigned buttons = (button_mask & 1 ? 1u : 0) | (button_mask & 4 ? 2u : 0) |
                       (button_mask & 2 ? 4u : 0);
    display_input_pointer(vnc->display, (uint32_t)x, (uint32_t)y, vnc->width, vnc->height,
                          buttons);
}

static void display_vnc_on_client_gone(rfbClientPtr client)
{
    struct display_vnc *vnc = client->screen->screenData;
    if (!atomic_load(&vnc->closing))
        display_input_release_keys(vnc->display);
}

static enum rfbNewClientAction display_vnc_on_new_client(rfbClientPtr client)
{
    client->clientGoneHook = display_vnc_on_client_gone;
    return RFB_CLIENT_ACCEPT;
}

static void display_vnc_convert(struct display_vnc *vnc, const struct display_frame *frame)
{
    for (uint32_t row = frame->y; row < frame->y + frame->damage_height; row++) {
        const uint32_t *from = frame->pixels + (size_t)row * frame->stride + frame->x;
        uint32_t *to = vnc->framebuffer + (size_t)row * vnc->width + frame->x;
        for (uint32_t column = 0; column < frame->damage_width; column++) {
            uint32_t pixel = from[column];
            to[column] = (pixel >> 16 & 0xff) | (pixel & 0xff00) | (pixel & 0xff) << 16;
        }
    }
}

/* Copies what changed into the served framebuffer; false if out of memory. */
static bool display_vnc_take_frame(struct display_vnc *vnc, bool first)
{
    struct display_frame frame;
    display_frame_acquire(vnc->display, &frame);
    bool resized = first || frame.resized || frame.width != vnc->width ||
                   frame.height != vnc->height;
    uint32_t *old = NULL;
    if (resized) {
        uint32_t *framebuffer = malloc((size_t)frame.width * frame.height * 4);
        if (!framebuffer) {
            display_frame_release(vnc->display);
            return false;
        }
        old = vnc->framebuffer;
        vnc->framebuffer = framebuffer;
        vnc->width = frame.width;
        vnc->height = frame.height;
        frame.x = frame.y = 0;
        frame.damage_width = frame.width;
        frame.damage_height = frame.height;
        frame.damaged = true;
    }
    if (frame.damaged)
        display_vnc_convert(vnc, &frame);
    display_frame_release(vnc->display);
    if (first)
        return true;
    if (resized) {
        /* Clients that support it get a desktop-size update; the rest keep
         * the old size and see the top-left of the new picture. */
        rfbNewFramebuffer(vnc->screen, (char *)vnc->framebuffer, (int)vnc->width,
                          (int)vnc->height, 8, 3, 4);
        free(old);
    } else if (frame.damaged) {
        rfbMarkRectAsModified(vnc->screen, (int)frame.x, (int)frame.y,
                              (int)(frame.x + frame.damage_width),
                              (int)(frame.y + frame.damage_height));
    }
    return true;
}

static void display_vnc_accept(struct display_vnc *vnc)
{
    int fd = accept4(vnc->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    /* libvncserver watches its clients with select(). */
    if (fd >= FD_SETSIZE) {
        close(fd);
        return;
    }
    rfbNewClient(vnc->screen, fd); /* closes the socket itself if it fails */
}

static void *display_vnc_run(void *opaque)
{
    struct display_vnc *vnc = opaque;
    struct pollfd fds[FD_SETSIZE + 2];
    sandbox_enter(SANDBOX_VNC, "vnc");
    while (!atomic_load(&vnc->stop)) {
        nfds_t count = 0;
        fds[count++] = (struct pollfd){.fd = vnc->wake_fd, .events = POLLIN};
        fds[count++] = (struct pollfd){.fd = vnc->listen_fd, .events = POLLIN};
        for (int fd = 0; fd <= vnc->screen->maxFd && fd < FD_SETSIZE; fd++)
            if (FD_ISSET(fd, &vnc->screen->allFds))
                fds[count++] = (struct pollfd){.fd = fd, .events = POLLIN};
        /* The timeout only bounds how long a lost wake-up could matter. */
        if (poll(fds, count, 1000) < 0 && errno != EINTR)
            break;
        if (fds[0].revents) {
            uint64_t value;
            if (read(vnc->wake_fd, &value, sizeof(value)) < 0 && errno != EAGAIN)
                break;
        }
        if (fds[1].revents & POLLIN)
            display_vnc_accept(vnc);
        display_vnc_take_frame(vnc, false);
        /* Handles the clients' messages and, with deferUpdateTime 0, sends
         * the updates they asked for at once. */
        rfbProcessEvents(vnc->screen, 0);
    }
    return NULL;
}

static void display_vnc_free(struct display_vnc *vnc)
{
    if (vnc->screen) {
        rfbShutdownServer(vnc->screen, TRUE);
        rfbScreenCleanup(vnc->screen);
    }
    if (vnc->listen_fd >= 0)
        close(vnc->listen_fd);
    if (vnc->unix_path) {
        unlink(vnc->unix_path);
        free(vnc->unix_path);
    }
    if (vnc->wake_fd >= 0)
        close(vnc->wake_fd);
    free(vnc->framebuffer);
    if (vnc->passwords[0]) {
        explicit_bzero(vnc->passwords[0], strlen(vnc->passwords[0]));
        free(vnc->passwords[0]);
    }
    free(vnc);
}

/* password-file=FILE: the password is the file's first line (VNC
 * authentication uses its first 8 bytes; the rest is not checked, which the
 * README says).  Read now, before the VM starts, so that a bad file is the
 * option's error. */
static int display_vnc_read_password(struct display_vnc *vnc, const char *path,
                                     struct error *error)
{
    FILE *file = fopen(path, "re");
    if (!file)
        return error_set(error, "vnc: %s: %s", path, strerror(errno));
    char line[256];
    bool got = fgets(line, sizeof(line), file) != NULL;
    fclose(file);
    if (got)
        line[strcspn(line, "\r\n")] = '\0';
    if (!got || !line[0]) {
        explicit_bzero(line, sizeof(line));
        return error_set(error, "vnc: %s: no password on its first line", path);
    }
    free(vnc->passwords[0]);
    vnc->passwords[0] = strdup(line);
    explicit_bzero(line, sizeof(line));
    if (!vnc->passwords[0])
        return error_set(error, "vnc: out of memory");
    return 0;
}

static int display_vnc_parse_options(struct display_vnc *vnc, const char *options,
                                     struct error *error)
{
    static const char password_file[] = "password-file=";
    if (strncmp(options, password_file, sizeof(password_file) - 1) || strchr(options, ','))
        return error_set(error, "vnc: unknown option '%s' (expected password-file=FILE)",
                         options);
    const char *path = options + sizeof(password_file) - 1;
    if (!*path)
        return error_set(error, "vnc: password-file=: the file is missing");
    return display_vnc_read_password(vnc, path, error);
}

static int display_vnc_open(struct display *display, const char *options, void **backend,
                            struct error *error)
{
    struct display_vnc *vnc = calloc(1, sizeof(*vnc));
    if (!vnc)
        return error_set(error, "vnc: out of memory");
    vnc->display = display;
    vnc->listen_fd = -1;
    vnc->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (vnc->wake_fd < 0) {
        error_set(error, "vnc: eventfd: %s", strerror(errno));
        goto fail;
    }
    /* The address, then options after a comma (the one known:
     * password-file=FILE). */
    char address[300] = "";
    const char *listen_options = NULL;
    if (options) {
        /* Not the first comma: a socket's path may hold one. */
        const char *comma = strstr(options, ",password-file=");
        if (!comma && strncmp(options, "unix:", 5) && strchr(options, ','))
            comma = strchr(options, ','); /* an unknown option, said so below */
        size_t length = comma ? (size_t)(comma - options) : strlen(options);
        if (length >= sizeof(address)) {
            error_set(error, "vnc=%s: the address is too long", options);
            goto fail;
        }
        memcpy(address, options, length);
        address[length] = '\0';
        /* Nothing before the options: the default address; nothing at all
         * ("vnc="): an address is missing, which listening says. */
        listen_options = length || !comma ? address : NULL;
        if (comma && display_vnc_parse_options(vnc, comma + 1, error) < 0)
            goto fail;
    }
    char description[200];
    vnc->listen_fd =
        display_vnc_listen(vnc, listen_options, description, sizeof(description), error);
    if (vnc->listen_fd < 0 || vnc->listen_fd >= FD_SETSIZE) {
        if (vnc->listen_fd >= FD_SETSIZE)
            error_set(error, "vnc: too many files open");
        goto fail;
    }
    display_set_description(display, description);

    rfbLog = display_vnc_log_nothing;
    rfbErr = display_vnc_log_nothing;
    if (!display_vnc_take_frame(vnc, true)) {
        error_set(error, "vnc: out of memory");
        goto fail;
    }
    int argc = 1;
    char *argv[] = {"guest", NULL};
    vnc->screen = rfbGetScreen(&argc, argv, (int)vnc->width, (int)vnc->height, 8, 3, 4);
    if (!vnc->screen) {
        error_set(error, "vnc: cannot set up the server");
        goto fail;
    }
    vnc->screen->screenData = vnc;
    vnc->screen->frameBuffer = (char *)vnc->framebuffer;
    vnc->screen->desktopName = "guest";
    /* We listen ourselves: no TCP, IPv6 or HTTP listener of libvncserver's. */
    vnc->screen->autoPort = FALSE;
    vnc->screen->port = 0;
    vnc->screen->ipv6port = 0;
    vnc->screen->httpPort = 0;
    vnc->screen->httpDir = NULL;
    /* Signals are main.c's, which ignores SIGPIPE already. */
    vnc->screen->ignoreSIGPIPE = FALSE;
    vnc->screen->alwaysShared = TRUE;
    vnc->screen->deferUpdateTime = 0;
    /* The guest draws its own pointer: no cursor of libvncserver's over it. */
    vnc->screen->cursor = NULL;
    vnc->screen->kbdAddEvent = display_vnc_on_key;
    vnc->screen->ptrAddEvent = display_vnc_on_pointer;
    vnc->screen->newClientHook = display_vnc_on_new_client;
    if (vnc->passwords[0]) {
        vnc->screen->authPasswdData = vnc->passwords;
        vnc->screen->passwordCheck = rfbCheckPasswordByList;
    }
    rfbInitServer(vnc->screen);
    *backend = vnc;
    return 0;

fail:
    display_vnc_free(vnc);
    return -1;
}

static int display_vnc_start(void *backend, struct error *error)
{
    struct display_vnc *vnc = backend;
    int status = pthread_create(&vnc->thread, NULL, display_vnc_run, vnc);
    if (status != 0)
        return error_set(error, "vnc: cannot start its thread: %s", strerror(status));
    vnc->thread_started = true;
    return 0;
}

static void display_vnc_wake(void *backend)
{
    struct display_vnc *vnc = backend;
    uint64_t one = 1;
    /* A full counter (EAGAIN) is already a wake-up. */
    if (write(vnc->wake_fd, &one, sizeof(one)) < 0) {
    }
}

static void display_vnc_close(void *backend)
{
    struct display_vnc *vnc = backend;
    atomic_store(&vnc->closing, true);
    atomic_store(&vnc->stop, true);
    if (vnc->thread_started) {
        display_vnc_wake(vnc);
        pthread_join(vnc->thread, NULL);
    }
    display_vnc_free(vnc);
}

const struct display_backend_ops display_vnc_ops = {
    .open = display_vnc_open,
    .start = display_vnc_start,
    .wake = display_vnc_wake,
    .close = display_vnc_close,
};
