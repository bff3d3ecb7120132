/* Test tooling: a VNC client that types.  Connects to guest's VNC display and
 * sends what the arguments say, in order, then waits a little for the server
 * to take it and disconnects.
 *
 *   vnc-type HOST:PORT ACTION...
 *     text:STRING    each character pressed and released (ASCII; '\n' is Return)
 *     key:0xKEYSYM   one X keysym pressed and released
 *     down:0xKEYSYM  pressed only        up:0xKEYSYM  released only
 *     click:X,Y      the left button pressed and released at (X, Y)
 *     sleep:MS       a pause
 *     frame:FILE     the whole frame as the server sends it now, written as a
 *                    binary PPM (P6) for tests/integration/png_region.py
 * Exit status 0 when connected and everything was sent, 1 otherwise. */
#include <rfb/rfbclient.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void quiet(const char *format, ...)
{
    (void)format;
}

static void pause_ms(long ms)
{
    struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

/* Lets the server's messages (framebuffer updates) be read, so its socket
 * never fills while we send. */
static bool drain(rfbClient *client, int ms)
{
    int ready = WaitForMessage(client, (unsigned)ms * 1000);
    if (ready < 0)
        return false;
    if (ready > 0 && !HandleRFBServerMessage(client))
        return false;
    return true;
}

static bool send_key(rfbClient *client, uint32_t keysym, int down)
{
    return SendKeyEvent(client, keysym, down ? TRUE : FALSE) && drain(client, 20);
}

static uint32_t keysym_of(char c)
{
    if (c == '\n' || c == '\r')
        return 0xff0d; /* Return */
    return (unsigned char)c; /* Latin-1 keysyms are the characters */
}

/* Asks for the whole frame (not incremental), takes what the server sends
 * for a while, and writes the client's copy of it.  libvncclient's frame is
 * 32 bits a pixel with red in the lowest byte (rfbGetClient(8, 3, 4)). */
static bool save_frame(rfbClient *client, const char *path)
{
    if (!SendFramebufferUpdateRequest(client, 0, 0, client->width, client->height, FALSE))
        return false;
    for (int waited = 0; waited < 1000; waited += 50)
        if (!drain(client, 50))
            return false;
    FILE *file = fopen(path, "wb");
    if (!file) {
        perror(path);
        return false;
    }
    fprintf(file, "P6\n%d %d\n255\n", client->width, client->height);
    const uint8_t *pixel = client->frameBuffer;
    for (long i = 0; i < (long)client->width * client->height; i++, pixel += 4)
        fwrite(pixel, 1, 3, file);
    return fclose(file) == 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST:PORT ACTION...\n", argv[0]);
        return 1;
    }
    char host[256];
    snprintf(host, sizeof(host), "%s", argv[1]);
    char *colon = strrchr(host, ':');
    if (!colon) {
        fprintf(stderr, "vnc-type: %s: not HOST:PORT\n", argv[1]);
        return 1;
    }
    *colon = '\0';
    int port = atoi(colon + 1);

    rfbClientLog = quiet;
    rfbClientErr = quiet;
    rfbClient *client = rfbGetClient(8, 3, 4);
    client->serverHost = strdup(host);
    client->serverPort = port;
    int client_argc = 1;
    char *client_argv[] = {argv[0], NULL};
    if (!rfbInitClient(client, &client_argc, client_argv)) {
        fprintf(stderr, "vnc-type: cannot connect to %s\n", argv[1]);
        return 1; /* rfbInitClient freed the client */
    }
    bool ok = drain(client, 200);
    for (int i = 2; ok && i < argc; i++) {
        const char *action = argv[i];
        if (!strncmp(action, "text:", 5)) {
            for (const char *c = action + 5; ok && *c; c++) {
                bool shifted = (*c >= 'A' && *c <= 'Z') || strchr("!\"#$%&()*+:<>?@^_{|}~", *c);
                if (shifted)
                    ok = send_key(client, 0xffe1, 1); /* Shift_L */
                ok = ok && send_key(client, keysym_of(*c), 1) && send_key(client, keysym_of(*c), 0);
                if (shifted)
                    ok = ok && send_key(client, 0xffe1, 0);
            }
        } else if (!strncmp(action, "key:", 4)) {
            uint32_t keysym = (uint32_t)strtoul(action + 4, NULL, 0);
            ok = send_key(client, keysym, 1) && send_key(client, keysym, 0);
        } else if (!strncmp(action, "down:", 5)) {
            ok = send_key(client, (uint32_t)strtoul(action + 5, NULL, 0), 1);
        } else if (!strncmp(action, "up:", 3)) {
            ok = send_key(client, (uint32_t)strtoul(action + 3, NULL, 0), 0);
        } else if (!strncmp(action, "click:", 6)) {
            int x, y;
            if (sscanf(action + 6, "%d,%d", &x, &y) != 2) {
                fprintf(stderr, "vnc-type: %s: not click:X,Y\n", action);
                ok = false;
                break;
            }
            ok = SendPointerEvent(client, x, y, rfbButton1Mask) && drain(client, 20) &&
                 SendPointerEvent(client, x, y, 0) && drain(client, 20);
        } else if (!strncmp(action, "frame:", 6)) {
            ok = save_frame(client, action + 6);
        } else if (!strncmp(action, "sleep:", 6)) {
            long ms = strtol(action + 6, NULL, 10);
            for (long waited = 0; ok && waited < ms; waited += 50)
                ok = drain(client, 50);
        } else {
            fprintf(stderr, "vnc-type: %s: unknown action\n", action);
            ok = false;
        }
    }
    pause_ms(200);
    rfbClientCleanup(client);
    if (!ok)
        fprintf(stderr, "vnc-type: the connection failed while sending\n");
    return ok ? 0 : 1;
}
