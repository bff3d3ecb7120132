/* A 16550A UART (COM1: port 0x3f8, IRQ 4) with FIFOs and interrupts. Output
 * goes to a file descriptor; input is pushed in by the console. */
#ifndef GUEST_DEVICES_UART_H
#define GUEST_DEVICES_UART_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_COM1_PORT 0x3f8
#define UART_COM1_IRQ 4
#define UART_PORT_COUNT 8
#define UART_INPUT_CAPACITY 4096

struct uart {
    pthread_mutex_t lock;
    /* Raises or lowers the interrupt line; called with the lock held. */
    void (*set_irq)(void *opaque, int level);
    void *irq_opaque;
    /* Flow control towards the input's source: accept=false when the UART
     * cannot take input (full, or the guest not listening), accept=true when
     * it can again.  Called with the lock held, so a pause and the resume
     * after it can never be seen in the wrong order. */
    void (*input_flow)(void *opaque, bool accept);
    void *input_flow_opaque;
    int output_fd;
    /* Optional: set when the VM is stopping.  A write to an output nobody
     * drains blocks; the stop's kick interrupts it, and then the byte is
     * dropped rather than retried, so the vCPU can go. */
    const atomic_bool *abandon_output;
    /* Optional: also sees every byte the guest transmits (the display's text
     * view of the serial console).  Called with the lock held. */
    void (*output_tap)(void *opaque, const uint8_t *bytes, size_t length);
    void *output_tap_opaque;

    uint8_t ier, iir_fifo_bits, fcr, lcr, mcr, lsr, msr, scr, dll, dlm;
    bool thr_interrupt_pending;
    int irq_level;
    bool input_paused;

    uint8_t input[UART_INPUT_CAPACITY];
    size_t input_head, input_count;
};

void uart_init(struct uart *uart, int output_fd, void (*set_irq)(void *, int), void *irq_opaque);

/* Port accesses at offset 0..7 from the base. */
void uart_port_read(void *uart, uint64_t offset, void *data, unsigned length);
void uart_port_write(void *uart, uint64_t offset, const void *data, unsigned length);

/* Bytes of input the UART can take now: none until the guest enables
 * receive interrupts, and none while the buffer is full.  A 0 pauses the
 * source through input_flow, which resumes it when there is room. */
size_t uart_input_room(struct uart *uart);

/* Queues received bytes (at most the room; returns how many were taken). */
size_t uart_receive(struct uart *uart, const uint8_t *bytes, size_t count);

#endif
