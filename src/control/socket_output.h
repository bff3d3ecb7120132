/* What a control socket's peer has not taken yet (a debugger, a QMP
 * client): replies are appended whole and sent as far as the socket takes
 * them, never blocking the event loop.  A peer that stops reading fills the
 * buffer, and its owner drops it. */
#ifndef GUEST_CONTROL_SOCKET_OUTPUT_H
#define GUEST_CONTROL_SOCKET_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct socket_output {
    uint8_t *bytes; /* capacity bytes, the owner's */
    size_t capacity;
    size_t length;
};

/* Appends bytes and sends what the socket takes; false, with nothing
 * appended, when they do not fit. */
bool socket_output_send(struct socket_output *output, int fd, const void *bytes, size_t length);
/* Sends what the socket takes of what is waiting. */
void socket_output_flush(struct socket_output *output, int fd);

#endif
