#include "control/socket_output.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

void socket_output_flush(struct socket_output *output, int fd)
{
    while (output->length) {
        ssize_t sent = send(fd, output->bytes, output->length, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            break;
        memmove(output->bytes, output->bytes + sent, output->length - (size_t)sent);
        output->length -= (size_t)sent;
    }
}

bool socket_output_send(struct socket_output *output, int fd, const void *bytes, size_t length)
{
    if (length > output->capacity - output->length)
        return false;
    memcpy(output->bytes + output->length, bytes, length);
    output->length += length;
    socket_output_flush(output, fd);
    return true;
}
