#include "devices/debug_exit.h"

#include <string.h>

#include "log.h"

int debug_exit_status(uint32_t value)
{
    return (int)(((value << 1) | 1) & 0xff);
}

void debug_exit_port_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct debug_exit *debug_exit = opaque;
    (void)offset;
    if (length != 1 && length != 2 && length != 4) {
        log_once("debug-exit: a %u-byte write ignored (1, 2 or 4 bytes end the VM)", length);
        return;
    }
    /* Port I/O data is little-endian; a narrower write gives a smaller V. */
    uint32_t value = 0;
    memcpy(&value, data, length);
    debug_exit->fired = true;
    debug_exit->stop(debug_exit->opaque,
                     debug_exit->exact ? (int)(value & 0xff) : debug_exit_status(value));
}
