/* virtio-console (virtio spec 5.3), one port, no multiport: the guest's
 * hvc0, as an alternative to the serial console.  Output goes to a host fd;
 * typed input is kept in a small FIFO until the guest posts receive buffers.
 *
 * Without the multiport feature there is no "port open" message, and Linux
 * drops input that arrives before its hvc console is set up.  hvc0 writes
 * only once it exists, so input is held until the guest's first output. */
#ifndef GUEST_VIRTIO_CONSOLE_H
#define GUEST_VIRTIO_CONSOLE_H

#include <stdatomic.h>

#include "virtio/virtio.h"

#define VIRTIO_CONSOLE_CONFIG_SIZE 12
#define VIRTIO_CONSOLE_INPUT_CAPACITY 4096
#define VIRTIO_CONSOLE_RECEIVE_QUEUE 0
#define VIRTIO_CONSOLE_TRANSMIT_QUEUE 1

struct virtio_console {
    struct virtio_device device;
    int output_fd;
    const atomic_bool *abandon_output; /* as the UART's: a stop drops blocked output */
    uint8_t config[VIRTIO_CONSOLE_CONFIG_SIZE];
    uint8_t input[VIRTIO_CONSOLE_INPUT_CAPACITY];
    size_t input_head, input_count;
    bool input_paused;
    bool guest_ready; /* the guest has written: its hvc0 exists */
    void (*input_flow)(void *opaque, bool accept); /* see console_input_flow() */
    void *input_flow_opaque;
    struct virtq_chain chain;
};

int virtio_console_init(struct virtio_console *console, const struct guest_memory *memory,
                        int output_fd, struct error *error);

/* The console_port interface: room for typed input, and taking it. */
size_t virtio_console_input_room(void *console);
size_t virtio_console_receive(void *console, const uint8_t *bytes, size_t count);

/* Writes a transmit chain's bytes to the output; returns 0 (nothing is
 * written into a transmit chain).  Exposed for tests. */
uint32_t virtio_console_transmit(struct virtio_device *device, struct virtq_chain *chain);

#endif
