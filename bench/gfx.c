/* Full-screen update rate through guest's graphics path, without a VM: what a
 * guest's "transfer the whole 1024x768 frame, then flush it" costs the VMM,
 * from the virtio-gpu command handler through to a display back end.
 *
 *   build/bench-gfx [SECONDS]
 *
 * Each frame the "guest" changes every pixel of its backing (so nothing can
 * be skipped), then sends TRANSFER_TO_HOST_2D and RESOURCE_FLUSH of the whole
 * scanout, as Linux's virtio_gpu driver does for a full-screen damage.  Runs
 * with the headless back end (--display=none), then with the VNC back end
 * with a libvncclient client connected and taking every update, and prints
 * flushes per second for each (and the frames the client received). */
#include <pthread.h>
#include <rfb/rfbclient.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memory.h"
#include "ui/display.h"
#include "virtio/gpu.h"

#define WIDTH 1024
#define HEIGHT 768
#define FRAME_BYTES (WIDTH * HEIGHT * 4)
#define MEMORY_SIZE (16u << 20)
#define BACKING 0x100000u
#define REQUEST 0x1000u
#define ENTRIES 0x2000u
#define RESPONSE 0x3000u

struct __attribute__((packed)) header {
    uint32_t type, flags;
    uint64_t fence_id;
    uint32_t ctx_id;
    uint8_t ring_idx, padding[3];
};
struct __attribute__((packed)) rect {
    uint32_t x, y, width, height;
};

static uint8_t *memory_host;
static struct virtio_gpu gpu;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One command: its bytes (and extra readable bytes) at REQUEST, a response
 * buffer; returns the response type. */
static uint32_t command(const void *request, size_t length, const void *extra, size_t extra_length)
{
    struct virtq_chain chain = {0};
    memcpy(memory_host + REQUEST, request, length);
    chain.buffers[0] = (struct virtq_buffer){memory_host + REQUEST, (uint32_t)length};
    chain.readable_count = 1;
    chain.readable_bytes = length;
    if (extra) {
        memcpy(memory_host + ENTRIES, extra, extra_length);
        chain.buffers[1] = (struct virtq_buffer){memory_host + ENTRIES, (uint32_t)extra_length};
        chain.readable_count = 2;
        chain.readable_bytes += extra_length;
    }
    chain.buffers[chain.readable_count] = (struct virtq_buffer){memory_host + RESPONSE, 24};
    chain.writable_count = 1;
    chain.writable_bytes = 24;
    pthread_mutex_lock(&gpu.device.lock);
    virtio_gpu_handle_control(&gpu.device, &chain);
    pthread_mutex_unlock(&gpu.device.lock);
    struct header response;
    memcpy(&response, memory_host + RESPONSE, sizeof(response));
    return response.type;
}

static void expect_ok(uint32_t type, const char *what)
{
    if (type != 0x1100) {
        fprintf(stderr, "bench-gfx: %s failed: response 0x%x\n", what, type);
        exit(1);
    }
}

static void gpu_resize(void *display, uint32_t width, uint32_t height)
{
    display_resize(display, width, height);
}

static void gpu_update(void *display, const uint8_t *pixels, uint32_t stride, uint32_t x,
                       uint32_t y, uint32_t width, uint32_t height)
{
    display_update(display, pixels, stride, x, y, width, height);
}

static void set_up_scanout(void)
{
    struct {
        struct header header;
        uint32_t resource_id, format, width, height;
    } __attribute__((packed)) create = {{0x0101, 0, 0, 0, 0, {0}}, 1, 2, WIDTH, HEIGHT};
    expect_ok(command(&create, sizeof(create), NULL, 0), "RESOURCE_CREATE_2D");
    struct {
        struct header header;
        uint32_t resource_id, entry_count;
    } __attribute__((packed)) attach = {{0x0106, 0, 0, 0, 0, {0}}, 1, 1};
    struct {
        uint64_t address;
        uint32_t length, padding;
    } __attribute__((packed)) entry = {BACKING, FRAME_BYTES, 0};
    expect_ok(command(&attach, sizeof(attach), &entry, sizeof(entry)), "ATTACH_BACKING");
    struct {
        struct header header;
        struct rect rect;
        uint32_t scanout_id, resource_id;
    } __attribute__((packed)) scanout = {{0x0103, 0, 0, 0, 0, {0}}, {0, 0, WIDTH, HEIGHT}, 0, 1};
    expect_ok(command(&scanout, sizeof(scanout), NULL, 0), "SET_SCANOUT");
}

/* Frames for `seconds`: the guest draws, transfers, flushes. */
static double run_frames(double seconds, unsigned *frames_out)
{
    struct {
        struct header header;
        struct rect rect;
        uint64_t offset;
        uint32_t resource_id, padding;
    } __attribute__((packed)) transfer = {{0x0105, 0, 0, 0, 0, {0}}, {0, 0, WIDTH, HEIGHT}, 0, 1, 0};
    struct {
        struct header header;
        struct rect rect;
        uint32_t resource_id, padding;
    } __attribute__((packed)) flush = {{0x0104, 0, 0, 0, 0, {0}}, {0, 0, WIDTH, HEIGHT}, 1, 0};
    unsigned frames = 0;
    double start = now(), end = start + seconds;
    while (now() < end) {
        memset(memory_host + BACKING, (int)(frames * 37 + 1), FRAME_BYTES); /* the guest draws */
        expect_ok(command(&transfer, sizeof(transfer), NULL, 0), "TRANSFER_TO_HOST_2D");
        expect_ok(command(&flush, sizeof(flush), NULL, 0), "RESOURCE_FLUSH");
        frames++;
    }
    *frames_out = frames;
    return frames / (now() - start);
}

static atomic_bool client_stop;
static atomic_uint client_updates;

static void client_quiet(const char *format, ...)
{
    (void)format;
}

static void client_got_update(rfbClient *client, int x, int y, int w, int h)
{
    (void)client, (void)x, (void)y, (void)w, (void)h;
}

static void client_finished(rfbClient *client)
{
    (void)client;
    atomic_fetch_add(&client_updates, 1);
}

static void *client_thread(void *opaque)
{
    rfbClient *client = opaque;
    while (!atomic_load(&client_stop)) {
        int ready = WaitForMessage(client, 100000);
        if (ready < 0 || (ready > 0 && !HandleRFBServerMessage(client)))
            break;
    }
    return NULL;
}

static struct display *open_display(const char *spec)
{
    struct error error;
    struct display *display = display_open(spec, WIDTH, HEIGHT, NULL, &error);
    if (!display) {
        fprintf(stderr, "bench-gfx: %s\n", error.message);
        exit(1);
    }
    const struct display_input_sink sink = {0};
    if (display_start(display, &sink, &error)) {
        fprintf(stderr, "bench-gfx: %s\n", error.message);
        exit(1);
    }
    return display;
}

static void attach_gpu(struct display *display)
{
    struct guest_memory memory;
    guest_memory_init_over(&memory, memory_host, MEMORY_SIZE);
    static struct guest_memory kept;
    kept = memory;
    const struct virtio_gpu_output output = {display, gpu_resize, gpu_update};
    struct error error;
    if (virtio_gpu_init(&gpu, &kept, WIDTH, HEIGHT, &output, &error)) {
        fprintf(stderr, "bench-gfx: %s\n", error.message);
        exit(1);
    }
    set_up_scanout();
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    signal(SIGPIPE, SIG_IGN);
    memory_host = calloc(1, MEMORY_SIZE);
    if (!memory_host)
        return 1;

    unsigned frames;
    struct display *none = open_display("none");
    attach_gpu(none);
    double none_rate = run_frames(seconds, &frames);
    printf("none: %u full-screen flushes of %dx%d in %.1f s: %.0f flushes/s (%.0f MiB/s)\n",
           frames, WIDTH, HEIGHT, seconds, none_rate, none_rate * FRAME_BYTES / 1048576.0);
    virtio_gpu_destroy(&gpu);
    display_close(none);

    struct display *vnc = open_display("vnc");
    attach_gpu(vnc);
    char host[64];
    int port;
    if (sscanf(display_describe(vnc), "VNC server on %63[^:]:%d", host, &port) != 2) {
        fprintf(stderr, "bench-gfx: cannot tell the VNC address from \"%s\"\n",
                display_describe(vnc));
        return 1;
    }
    rfbClientLog = client_quiet;
    rfbClientErr = client_quiet;
    rfbClient *client = rfbGetClient(8, 3, 4);
    client->serverHost = strdup(host);
    client->serverPort = port;
    client->GotFrameBufferUpdate = client_got_update;
    client->FinishedFrameBufferUpdate = client_finished;
    client->appData.encodingsString = "raw"; /* loopback: raw is what costs least */
    int client_argc = 1;
    char *client_argv[] = {argv[0], NULL};
    if (!rfbInitClient(client, &client_argc, client_argv)) {
        fprintf(stderr, "bench-gfx: cannot connect to %s:%d\n", host, port);
        return 1;
    }
    pthread_t thread;
    pthread_create(&thread, NULL, client_thread, client);
    double vnc_rate = run_frames(seconds, &frames);
    unsigned received = atomic_load(&client_updates);
    atomic_store(&client_stop, true);
    pthread_join(thread, NULL);
    printf("vnc:  %u full-screen flushes in %.1f s: %.0f flushes/s; the client received %u "
           "updates (%.0f/s)\n",
           frames, seconds, vnc_rate, received, received / seconds);
    rfbClientCleanup(client);
    virtio_gpu_destroy(&gpu);
    display_close(vnc);
    free(memory_host);
    return 0;
}
