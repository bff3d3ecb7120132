#include "virtio/console.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define VIRTIO_CONSOLE_F_EMERG_WRITE (1ull << 2)
#define CONFIG_EMERG_WR 8

static void virtio_console_write_out(struct virtio_console *console, const uint8_t *bytes,
                                     size_t count)
{
    while (count > 0) {
        ssize_t done = write(console->output_fd, bytes, count);
        if (done < 0 && errno == EINTR) {
            if (console->abandon_output && atomic_load(console->abandon_output))
                return; /* stopping: nobody drains the output, and the guest goes */
            continue;
        }
        if (done <= 0) {
            log_once("virtio-console: output: %s", strerror(errno));
            return; /* the guest's output has nowhere to go; drop it */
        }
        bytes += done;
        count -= (size_t)done;
    }
}

static void virtio_console_resume_input(struct virtio_console *console)
{
    if (console->input_paused && console->guest_ready &&
        console->input_count < VIRTIO_CONSOLE_INPUT_CAPACITY / 2) {
        console->input_paused = false;
        if (console->input_flow)
            console->input_flow(console->input_flow_opaque, true);
    }
}

uint32_t virtio_console_transmit(struct virtio_device *device, struct virtq_chain *chain)
{
    struct virtio_console *console = device->opaque;
    for (unsigned i = 0; i < chain->readable_count; i++)
        virtio_console_write_out(console, chain->buffers[i].host, chain->buffers[i].length);
    if (chain->readable_bytes && !console->guest_ready) {
        console->guest_ready = true;
        virtio_console_resume_input(console);
    }
    return 0;
}

/* Moves buffered input into the guest's receive buffers (device lock held). */
static void virtio_console_deliver(struct virtio_console *console)
{
    struct virtio_device *device = &console->device;
    struct virtq *queue = &device->queues[VIRTIO_CONSOLE_RECEIVE_QUEUE];
    bool pushed = false;
    while (console->input_count > 0 && console->guest_ready &&
           (device->status & VIRTIO_STATUS_DRIVER_OK) &&
           !(device->status & VIRTIO_STATUS_NEEDS_RESET)) {
        enum virtq_error error;
        int result = virtq_pop(queue, &console->chain, &error);
        if (result == 0)
            break; /* no buffers: the input waits for the guest */
        if (result < 0 && console->chain.head == UINT16_MAX) {
            virtio_device_needs_reset(device, virtq_error_text(error));
            break;
        }
        uint32_t written = 0;
        if (result > 0) {
            /* Copy the FIFO, which may wrap, into the chain. */
            while (console->input_count > 0 && written < console->chain.writable_bytes) {
                size_t run = VIRTIO_CONSOLE_INPUT_CAPACITY - console->input_head;
                if (run > console->input_count)
                    run = console->input_count;
                uint64_t copied = virtq_chain_write(&console->chain, written,
                                                    console->input + console->input_head, run);
                written += (uint32_t)copied;
                console->input_head = (console->input_head + copied) % VIRTIO_CONSOLE_INPUT_CAPACITY;
                console->input_count -= copied;
                if (copied < run)
                    break;
            }
        } else {
            log_once("virtio-console: bad receive buffer: %s", virtq_error_text(error));
        }
        virtq_push(queue, console->chain.head, written);
        pushed = true;
    }
    if (pushed)
        virtio_device_interrupt_queue(device, VIRTIO_CONSOLE_RECEIVE_QUEUE);
    virtio_console_resume_input(console);
}

size_t virtio_console_input_room(void *opaque)
{
    struct virtio_console *console = opaque;
    pthread_mutex_lock(&console->device.lock);
    size_t room = VIRTIO_CONSOLE_INPUT_CAPACITY - console->input_count;
    /* Until the guest's hvc0 is up, typed input waits on the host side. */
    if (!console->guest_ready || !(console->device.status & VIRTIO_STATUS_DRIVER_OK))
        room = 0;
    if (room == 0 && !console->input_paused) {
        console->input_paused = true;
        if (console->input_flow)
            console->input_flow(console->input_flow_opaque, false);
    }
    pthread_mutex_unlock(&console->device.lock);
    return room;
}

size_t virtio_console_receive(void *opaque, const uint8_t *bytes, size_t count)
{
    struct virtio_console *console = opaque;
    pthread_mutex_lock(&console->device.lock);
    size_t taken = 0;
    while (taken < count && console->input_count < VIRTIO_CONSOLE_INPUT_CAPACITY) {
        size_t tail = (console->input_head + console->input_count) % VIRTIO_CONSOLE_INPUT_CAPACITY;
        console->input[tail] = bytes[taken++];
        console->input_count++;
    }
    virtio_console_deliver(console);
    pthread_mutex_unlock(&console->device.lock);
    return taken;
}

static void virtio_console_queue_notify(struct virtio_device *device, unsigned queue)
{
    struct virtio_console *console = device->opaque;
    if (queue == VIRTIO_CONSOLE_TRANSMIT_QUEUE)
        virtio_device_serve_queue(device, queue, &console->chain, virtio_console_transmit);
    else
        virtio_console_deliver(console); /* new receive buffers */
}

static void virtio_console_reset(struct virtio_device *device)
{
    struct virtio_console *console = device->opaque;
    console->input_head = console->input_count = 0;
    console->guest_ready = false;
}

/* An emergency write: one character through config space, no queues. */
static void virtio_console_config_write(struct virtio_device *device, unsigned offset,
                                        const void *data, unsigned length)
{
    struct virtio_console *console = device->opaque;
    if (offset == CONFIG_EMERG_WR && length >= 1)
        virtio_console_write_out(console, data, 1);
}

static const struct virtio_device_ops virtio_console_ops = {
    .name = "virtio-console",
    .device_id = VIRTIO_ID_CONSOLE,
    .queue_count = 2,
    .queue_max_size = 128,
    .queue_notify = virtio_console_queue_notify,
    .config_write = virtio_console_config_write,
    .reset = virtio_console_reset,
};

int virtio_console_init(struct virtio_console *console, const struct guest_memory *memory,
                        int output_fd, struct error *error)
{
    memset(console, 0, sizeof(*console));
    console->output_fd = output_fd;
    return virtio_device_init(&console->device, &virtio_console_ops, console, memory,
                              console->config, sizeof(console->config),
                              VIRTIO_CONSOLE_F_EMERG_WRITE, error);
}
