/* QEMU's isa-debug-exit convention (--debug-exit[=PORT]): a guest's write of
 * V to the port ends the VMM with exit status (V << 1) | 1, so a test kernel
 * can report its verdict without a serial parser.  kvm-unit-tests and many
 * small-OS harnesses use port 0xf4, four ports wide. */
#ifndef GUEST_DEVICES_DEBUG_EXIT_H
#define GUEST_DEVICES_DEBUG_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#define DEBUG_EXIT_DEFAULT_PORT 0xf4
#define DEBUG_EXIT_PORT_COUNT 4

struct debug_exit {
    void (*stop)(void *opaque, int exit_status);
    void *opaque;
    /* --exec's status port: the byte written is the status itself (a
     * command's 0 must end the VMM with 0, which (V << 1) | 1 cannot). */
    bool exact;
    bool fired; /* a write came: the VM ended through this device */
};

/* The process status a write of value gives: the low 8 bits of (V << 1) | 1,
 * as a process status holds no more. */
int debug_exit_status(uint32_t value);

/* Ports PORT .. PORT + 3: a write of 1, 2 or 4 bytes at any of them stops
 * the VM; reads are not claimed (all ones, as QEMU's device has none). */
void debug_exit_port_write(void *debug_exit, uint64_t offset, const void *data, unsigned length);

#endif
