/* The VNC display end to end, with no VM: a real libvncclient client connects
 * over TCP and over a Unix socket, checks the picture the display serves
 * (the guest's pattern, its resize, the text view) and sends keys and pointer
 * events that must reach the machine's input sink. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/input-event-codes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <rfb/keysym.h>
#include <rfb/rfbclient.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ui/display.h"
#include "ui/font.h"

#define PATTERN_WIDTH 100
#define PATTERN_HEIGHT 60

/* The machine's side: what reached the sink (from the display's thread). */
static struct {
    pthread_mutex_t lock;
    char keys[256];
    char console[64];
    size_t console_length;
    uint32_t pointer_x, pointer_y;
    unsigned pointer_buttons, pointer_count;
} sink_state = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void sink_key(void *opaque, uint16_t key, bool pressed)
{
    (void)opaque;
    char text[16];
    snprintf(text, sizeof(text), "%c%u ", pressed ? '+' : '-', key);
    pthread_mutex_lock(&sink_state.lock);
    strncat(sink_state.keys, text, sizeof(sink_state.keys) - strlen(sink_state.keys) - 1);
    pthread_mutex_unlock(&sink_state.lock);
}

static void sink_pointer(void *opaque, uint32_t x, uint32_t y, unsigned buttons)
{
    (void)opaque;
    pthread_mutex_lock(&sink_state.lock);
    sink_state.pointer_x = x;
    sink_state.pointer_y = y;
    sink_state.pointer_buttons = buttons;
    sink_state.pointer_count++;
    pthread_mutex_unlock(&sink_state.lock);
}

static void sink_console_input(void *opaque, const uint8_t *bytes, size_t length)
{
    (void)opaque;
    pthread_mutex_lock(&sink_state.lock);
    if (sink_state.console_length + length <= sizeof(sink_state.console)) {
        memcpy(sink_state.console + sink_state.console_length, bytes, length);
        sink_state.console_length += length;
    }
    pthread_mutex_unlock(&sink_state.lock);
}

static const struct display_input_sink sink = {
    .key = sink_key,
    .pointer = sink_pointer,
    .console_input = sink_console_input,
};

static void sink_reset(void)
{
    pthread_mutex_lock(&sink_state.lock);
    sink_state.keys[0] = '\0';
    sink_state.console_length = 0;
    sink_state.pointer_count = 0;
    pthread_mutex_unlock(&sink_state.lock);
}

static double now(void)
{
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

/* Waits up to 5 s for the sink's keys to read `expected`. */
static void expect_keys(const char *expected)
{
    double deadline = now() + 5;
    for (;;) {
        pthread_mutex_lock(&sink_state.lock);
        bool same = strcmp(sink_state.keys, expected) == 0;
        char seen[sizeof(sink_state.keys)];
        memcpy(seen, sink_state.keys, sizeof(seen));
        pthread_mutex_unlock(&sink_state.lock);
        if (same)
            return;
        if (now() > deadline)
            fail_msg("keys '%s', expected '%s'", seen, expected);
        usleep(10000);
    }
}

static uint32_t pattern_pixel(uint32_t x, uint32_t y)
{
    return (x * 2) << 16 | (y * 4) << 8 | ((x + y) & 0xff);
}

static void draw_pattern(struct display *display)
{
    display_resize(display, PATTERN_WIDTH, PATTERN_HEIGHT);
    static uint32_t pixels[PATTERN_WIDTH * PATTERN_HEIGHT];
    for (uint32_t y = 0; y < PATTERN_HEIGHT; y++)
        for (uint32_t x = 0; x < PATTERN_WIDTH; x++)
            pixels[y * PATTERN_WIDTH + x] = pattern_pixel(x, y);
    /* In two halves, as a guest's flushes would come. */
    display_update(display, (const uint8_t *)pixels, PATTERN_WIDTH * 4, 0, 0, PATTERN_WIDTH,
                   PATTERN_HEIGHT / 2);
    display_update(display, (const uint8_t *)(pixels + PATTERN_WIDTH * (PATTERN_HEIGHT / 2)),
                   PATTERN_WIDTH * 4, 0, PATTERN_HEIGHT / 2, PATTERN_WIDTH, PATTERN_HEIGHT / 2);
}

static void log_nothing(const char *format, ...)
{
    (void)format;
}

static rfbClient *client_connect(const char *host, int port)
{
    rfbClientLog = log_nothing;
    rfbClientErr = log_nothing;
    rfbClient *client = rfbGetClient(8, 3, 4); /* 32-bit pixels, red in the low byte */
    assert_non_null(client);
    client->canHandleNewFBSize = TRUE;
    /* Exact pixels: Tight's JPEG would only come close. */
    client->appData.enableJPEG = FALSE;
    free(client->serverHost);
    client->serverHost = strdup(host); /* a socket file's path connects to it */
    client->serverPort = port;
    if (!rfbInitClient(client, NULL, NULL)) /* frees the client when it fails */
        fail_msg("cannot connect to %s:%d", host, port);
    return client;
}

/* The client's copy of pixel (x, y) as 0x00RRGGBB. */
static uint32_t client_pixel(rfbClient *client, int x, int y)
{
    const uint8_t *bytes = client->frameBuffer + ((size_t)y * client->width + x) * 4;
    return (uint32_t)bytes[0] << 16 | (uint32_t)bytes[1] << 8 | bytes[2];
}

static bool client_shows_pattern(rfbClient *client)
{
    if (client->width != PATTERN_WIDTH || client->height != PATTERN_HEIGHT)
        return false;
    for (int y = 0; y < PATTERN_HEIGHT; y++)
        for (int x = 0; x < PATTERN_WIDTH; x++)
            if (client_pixel(client, x, y) != pattern_pixel((uint32_t)x, (uint32_t)y))
                return false;
    return true;
}

/* Whether the client's cell (column, row) shows `character` in the text view. */
static bool client_shows_character(rfbClient *client, int column, int row, uint8_t character)
{
    const uint8_t *glyph = font_glyph(character);
    for (int y = 0; y < FONT_CELL_HEIGHT - 2; y++)
        for (int x = 0; x < FONT_CELL_WIDTH; x++) {
            int px = column * FONT_CELL_WIDTH + x, py = row * FONT_CELL_HEIGHT + y;
            if (px >= client->width || py >= client->height)
                return false;
            bool lit = client_pixel(client, px, py) != 0;
            if (lit != ((glyph[y / 2] & (0x80 >> x)) != 0))
                return false;
        }
    return true;
}

/* Handles the server's messages until `done` holds, for up to 5 s. */
static void client_wait_for(rfbClient *client, bool (*done)(rfbClient *), const char *what)
{
    double deadline = now() + 5;
    while (!done(client)) {
        if (now() > deadline)
            fail_msg("the client never saw %s (it has %dx%d)", what, client->width,
                     client->height);
        int ready = WaitForMessage(client, 50000);
        assert_true(ready >= 0);
        if (ready > 0)
            assert_true(HandleRFBServerMessage(client));
    }
}

static bool client_shows_text(rfbClient *client)
{
    return client->width == PATTERN_WIDTH && client_shows_character(client, 0, 0, 'h') &&
           client_shows_character(client, 1, 0, 'i');
}

/* rfbClientCleanup leaves the framebuffer to its owner. */
static void client_close(rfbClient *client)
{
    free(client->frameBuffer);
    client->frameBuffer = NULL;
    rfbClientCleanup(client);
}

static void send_key(rfbClient *client, uint32_t keysym, bool down)
{
    assert_true(SendKeyEvent(client, keysym, down ? TRUE : FALSE));
}

/* The whole conversation, over whichever transport the client is on. */
static void exercise(struct display *display, rfbClient *client)
{
    sink_reset();
    draw_pattern(display);
    client_wait_for(client, client_shows_pattern, "the guest's pattern");

    /* Keys: keysyms become Linux keys; Shift+a arrives as Shift and A. */
    send_key(client, XK_a, true);
    send_key(client, XK_a, false);
    send_key(client, XK_Shift_L, true);
    send_key(client, XK_A, true);
    send_key(client, XK_A, false);
    send_key(client, XK_Shift_L, false);
    expect_keys("+30 -30 +42 +30 -30 -42 ");

    /* Pointer: RFB's right button (4) is the sink's 2. */
    assert_true(SendPointerEvent(client, 70, 20, rfbButton1Mask | rfbButton3Mask));
    double deadline = now() + 5;
    for (;;) {
        pthread_mutex_lock(&sink_state.lock);
        bool seen = sink_state.pointer_count > 0;
        uint32_t x = sink_state.pointer_x, y = sink_state.pointer_y;
        unsigned buttons = sink_state.pointer_buttons;
        pthread_mutex_unlock(&sink_state.lock);
        if (seen) {
            assert_int_equal(x, 70);
            assert_int_equal(y, 20);
            assert_int_equal(buttons, 1 | 2);
            break;
        }
        assert_true(now() < deadline);
        usleep(10000);
    }

    /* Alt+Esc shows the serial console; the guest sees only Alt go up. */
    sink_reset();
    display_console_output(display, (const uint8_t *)"hi\r\n", 4);
    send_key(client, XK_Alt_L, true);
    send_key(client, XK_Escape, true);
    send_key(client, XK_Escape, false);
    send_key(client, XK_Alt_L, false);
    expect_keys("+56 -56 ");
    client_wait_for(client, client_shows_text, "the text view");
    send_key(client, XK_l, true);
    send_key(client, XK_l, false);
    send_key(client, XK_Return, true);
    send_key(client, XK_Return, false);
    deadline = now() + 5;
    for (;;) {
        pthread_mutex_lock(&sink_state.lock);
        bool typed = sink_state.console_length == 2 && memcmp(sink_state.console, "l\r", 2) == 0;
        pthread_mutex_unlock(&sink_state.lock);
        if (typed)
            break;
        assert_true(now() < deadline);
        usleep(10000);
    }
    /* And back to the guest's screen. */
    send_key(client, XK_Alt_L, true);
    send_key(client, XK_Escape, true);
    send_key(client, XK_Escape, false);
    send_key(client, XK_Alt_L, false);
    client_wait_for(client, client_shows_pattern, "the guest's pattern again");
    expect_keys("+56 -56 ");
}

static void test_tcp_default_address(void **state)
{
    (void)state;
    struct error error;
    struct display *display = display_open("vnc", 320, 200, NULL, &error);
    if (!display)
        fail_msg("%s", error.message);
    /* "VNC server on 127.0.0.1:59xx" */
    const char *description = display_describe(display);
    const char *address = strstr(description, "127.0.0.1:");
    assert_non_null(address);
    int port = atoi(address + strlen("127.0.0.1:"));
    assert_true(port >= 5900 && port <= 5999);

    /* The same address, asked for explicitly, is in use. */
    char spec[64];
    snprintf(spec, sizeof(spec), "vnc=127.0.0.1:%d", port);
    assert_null(display_open(spec, 320, 200, NULL, &error));
    assert_non_null(strstr(error.message, "in use"));
    /* The default moves on to the next free port. */
    struct display *second = display_open("vnc", 320, 200, NULL, &error);
    assert_non_null(second);
    assert_string_not_equal(display_describe(second), description);
    display_close(second);

    assert_int_equal(display_start(display, &sink, &error), 0);
    rfbClient *client = client_connect("127.0.0.1", port);
    /* Before the guest draws, the initial size. */
    assert_int_equal(client->width, 320);
    assert_int_equal(client->height, 200);
    exercise(display, client);
    client_close(client);
    /* A client that went away leaves no key pressed: there was none. */
    expect_keys("+56 -56 ");
    display_close(display);
}

/* A port nothing listens on now (the kernel's choice). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    socklen_t length = sizeof(address);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&address, &length), 0);
    close(fd);
    return ntohs(address.sin_port);
}

static void test_tcp_explicit_address(void **state)
{
    (void)state;
    int port = free_port();
    char spec[64], expected[64];
    snprintf(spec, sizeof(spec), "vnc=127.0.0.1:%d", port);
    snprintf(expected, sizeof(expected), "VNC server on 127.0.0.1:%d", port);
    struct error error;
    struct display *display = display_open(spec, 64, 48, NULL, &error);
    if (!display)
        fail_msg("%s", error.message);
    assert_string_equal(display_describe(display), expected);
    assert_int_equal(display_start(display, &sink, &error), 0);
    rfbClient *client = client_connect("127.0.0.1", port);
    exercise(display, client);
    /* A second client shares the screen with the first. */
    rfbClient *second = client_connect("127.0.0.1", port);
    client_wait_for(second, client_shows_pattern, "the pattern, as a second client");
    client_close(second);
    client_close(client);
    display_close(display);
}

static void test_unix_socket(void **state)
{
    (void)state;
    char directory[] = "/tmp/test_display_vnc-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char path[64], spec[96];
    snprintf(path, sizeof(path), "%s/vnc.sock", directory);
    snprintf(spec, sizeof(spec), "vnc=unix:%s", path);

    /* A stale socket file (its server died) is replaced. */
    int stale = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
    assert_int_equal(bind(stale, (struct sockaddr *)&address, sizeof(address)), 0);
    close(stale);

    struct error error;
    struct display *display = display_open(spec, 64, 48, NULL, &error);
    if (!display)
        fail_msg("%s", error.message);
    assert_non_null(strstr(display_describe(display), path));
    /* A live one is not. */
    assert_null(display_open(spec, 64, 48, NULL, &error));
    assert_non_null(strstr(error.message, "in use"));

    assert_int_equal(display_start(display, &sink, &error), 0);
    rfbClient *client = client_connect(path, 0);
    exercise(display, client);

    /* A key held when the client goes away is released in the guest. */
    sink_reset();
    send_key(client, XK_Control_L, true);
    expect_keys("+29 ");
    client_close(client);
    expect_keys("+29 -29 ");
    display_close(display);
    struct stat status;
    assert_int_equal(stat(path, &status), -1); /* removed on close */

    /* Not a socket: left alone. */
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fclose(file);
    assert_null(display_open(spec, 64, 48, NULL, &error));
    assert_non_null(strstr(error.message, "not a socket"));
    assert_int_equal(stat(path, &status), 0);
    unlink(path);
    rmdir(directory);
}

static const char *client_password;

static char *give_password(rfbClient *client)
{
    (void)client;
    return strdup(client_password); /* libvncclient frees it */
}

/* A client with password, or NULL when the server refused it. */
static rfbClient *client_connect_with_password(const char *host, int port, const char *password)
{
    rfbClientLog = log_nothing;
    rfbClientErr = log_nothing;
    rfbClient *client = rfbGetClient(8, 3, 4);
    assert_non_null(client);
    client->canHandleNewFBSize = TRUE;
    client->appData.enableJPEG = FALSE;
    client_password = password;
    client->GetPassword = give_password;
    free(client->serverHost);
    client->serverHost = strdup(host);
    client->serverPort = port;
    return rfbInitClient(client, NULL, NULL) ? client : NULL;
}

/* password-file=FILE: VNC authentication with the file's first line; a
 * wrong password is refused; a server off loopback without one is refused
 * before it listens; a bad file or option is the option's error. */
static void test_password(void **state)
{
    (void)state;
    char directory[] = "/tmp/test_display_vnc-XXXXXX";
    assert_non_null(mkdtemp(directory));
    char file_path[64], spec[160];
    snprintf(file_path, sizeof(file_path), "%s/password", directory);
    FILE *file = fopen(file_path, "w");
    assert_non_null(file);
    fputs("sesame\nnot this line\n", file);
    fclose(file);
    int port = free_port();
    snprintf(spec, sizeof(spec), "vnc=127.0.0.1:%d,password-file=%s", port, file_path);
    struct error error;
    struct display *display = display_open(spec, 64, 48, NULL, &error);
    if (!display)
        fail_msg("%s", error.message);
    assert_int_equal(display_start(display, &sink, &error), 0);
    assert_null(client_connect_with_password("127.0.0.1", port, "wrong"));
    rfbClient *client = client_connect_with_password("127.0.0.1", port, "sesame");
    assert_non_null(client);
    exercise(display, client);
    client_close(client);
    display_close(display);

    /* Off loopback: refused without a password, before any socket is left. */
    snprintf(spec, sizeof(spec), "vnc=0.0.0.0:%d", free_port());
    assert_null(display_open(spec, 64, 48, NULL, &error));
    assert_non_null(strstr(error.message, "password-file=FILE"));
    snprintf(spec, sizeof(spec), "vnc=:%d", free_port());
    assert_null(display_open(spec, 64, 48, NULL, &error));
    assert_non_null(strstr(error.message, "not a loopback address"));
    /* Bad files and options. */
    snprintf(spec, sizeof(spec), "vnc,password-file=%s/missing", directory);
    assert_null(display_open(spec, 64, 48, NULL, &error));
    assert_non_null(strstr(error.message, "missing: No such file"));
    file = fopen(file_path, "w");
    assert_non_null(file);
    fputs("\n", file);
    fclose(file);
    snprintf(spec, sizeof(spec), "vnc,password-file=%s", file_path);
    assert_null(display_open(spec, 64, 48, NULL, &error));
    assert_non_null(strstr(error.message, "no password"));
    assert_null(display_open("vnc=127.0.0.1:5900,colour=blue", 64, 48, NULL, &error));
    assert_non_null(strstr(error.message, "unknown option 'colour=blue'"));
    unlink(file_path);
    rmdir(directory);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as main.c does */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_default_address),
        cmocka_unit_test(test_tcp_explicit_address),
        cmocka_unit_test(test_unix_socket),
        cmocka_unit_test(test_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
