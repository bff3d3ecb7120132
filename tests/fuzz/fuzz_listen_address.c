/* listen_address_parse on the input as one --gdb value: no crash, and
 * whatever is accepted is a terminated path, or a numeric host with a port
 * in range (never a name to resolve). */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/listen_address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;
    struct listen_address address;
    struct error error;
    if (listen_address_parse(text, &address, &error) == 0) {
        if (address.is_unix) {
            if (!memchr(address.path, 0, sizeof(address.path)) || !address.path[0])
                abort();
        } else {
            unsigned char bytes[16];
            if (address.port == 0 || !memchr(address.host, 0, sizeof(address.host)) ||
                (inet_pton(AF_INET, address.host, bytes) != 1 &&
                 inet_pton(AF_INET6, address.host, bytes) != 1))
                abort();
        }
        char formatted[LISTEN_ADDRESS_MAX_PATH + 16];
        listen_address_format(&address, formatted, sizeof(formatted));
    } else if (!memchr(error.message, 0, sizeof(error.message))) {
        abort();
    }
    free(text);
    return 0;
}
