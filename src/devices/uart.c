#include "devices/uart.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Register offsets */
#define REG_DATA 0 /* RBR/THR, DLL when DLAB */
#define REG_IER 1  /* DLM when DLAB */
#define REG_IIR 2  /* FCR on write */
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define IER_RECEIVE 0x01
#define IER_TRANSMIT_EMPTY 0x02
#define IER_LINE_STATUS 0x04
#define IER_MODEM_STATUS 0x08

#define IIR_NO_INTERRUPT 0x01
#define IIR_MODEM_STATUS 0x00
#define IIR_TRANSMIT_EMPTY 0x02
#define IIR_RECEIVE_DATA 0x04
#define IIR_FIFO_ENABLED 0xc0

#define FCR_ENABLE 0x01
#define FCR_CLEAR_RECEIVE 0x02

#define LCR_DLAB 0x80

#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20
#define LSR_TRANSMITTER_EMPTY 0x40

#define MSR_DELTA_MASK 0x0f
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

void uart_init(struct uart *uart, int output_fd, void (*set_irq)(void *, int), void *irq_opaque)
{
    memset(uart, 0, sizeof(*uart));
    pthread_mutex_init(&uart->lock, NULL);
    uart->output_fd = output_fd;
    uart->set_irq = set_irq;
    uart->irq_opaque = irq_opaque;
    uart->lsr = LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
    /* The host side is always "connected": carrier and clear-to-send. */
    uart->msr = MSR_DCD | MSR_DSR | MSR_CTS;
    uart->mcr = MCR_OUT2;
}

/* The highest-priority pending interrupt, as IIR reports it. */
static uint8_t uart_pending_interrupt(const struct uart *uart)
{
    if ((uart->ier & IER_RECEIVE) && (uart->lsr & LSR_DATA_READY))
        return IIR_RECEIVE_DATA;
    if ((uart->ier & IER_TRANSMIT_EMPTY) && uart->thr_interrupt_pending)
        return IIR_TRANSMIT_EMPTY;
    if ((uart->ier & IER_MODEM_STATUS) && (uart->msr & MSR_DELTA_MASK))
        return IIR_MODEM_STATUS;
    return IIR_NO_INTERRUPT;
}

static void uart_update_irq(struct uart *uart)
{
    int level = uart_pending_interrupt(uart) != IIR_NO_INTERRUPT;
    if (level != uart->irq_level) {
        uart->irq_level = level;
        if (uart->set_irq)
            uart->set_irq(uart->irq_opaque, level);
    }
}

/* Lock held.  Tells a paused source it may send again. */
static void uart_resume_input(struct uart *uart)
{
    if (!uart->input_paused || !(uart->ier & IER_RECEIVE))
        return;
    uart->input_paused = false;
    if (uart->input_flow)
        uart->input_flow(uart->input_flow_opaque, true);
}

static void uart_push_input(struct uart *uart, uint8_t byte)
{
    if (uart->input_count == UART_INPUT_CAPACITY)
        return; /* overrun: the byte is lost, as on a real line */
    uart->input[(uart->input_head + uart->input_count) % UART_INPUT_CAPACITY] = byte;
    uart->input_count++;
    uart->lsr |= LSR_DATA_READY;
}

static void uart_transmit(struct uart *uart, uint8_t byte)
{
    if (uart->mcr & MCR_LOOP) {
        uart_push_input(uart, byte);
    } else if (uart->output_fd >= 0) {
        ssize_t written;
        do {
            written = write(uart->output_fd, &byte, 1);
        } while (written < 0 && errno == EINTR &&
                 !(uart->abandon_output && atomic_load(uart->abandon_output)));
        if (written < 0 && errno != EINTR)
            log_once("serial output: %s", strerror(errno));
        if (uart->output_tap)
            uart->output_tap(uart->output_tap_opaque, &byte, 1);
    }
    /* Transmission is instant: drop the THR-empty interrupt, then raise it
     * again, so an edge-triggered line sees a fresh edge per byte. */
    uart->thr_interrupt_pending = false;
    uart_update_irq(uart);
    uart->thr_interrupt_pending = true;
    uart_update_irq(uart);
}

static uint8_t uart_modem_status_in_loopback(const struct uart *uart)
{
    uint8_t status = uart->msr & MSR_DELTA_MASK;
    if (uart->mcr & MCR_RTS)
        status |= MSR_CTS;
    if (uart->mcr & MCR_DTR)
        status |= MSR_DSR;
    if (uart->mcr & MCR_OUT1)
        status |= MSR_RI;
    if (uart->mcr & MCR_OUT2)
        status |= MSR_DCD;
    return status;
}

static uint8_t uart_read_register(struct uart *uart, unsigned reg)
{
    switch (reg) {
    case REG_DATA: {
        if (uart->lcr & LCR_DLAB)
            return uart->dll;
        uint8_t byte = 0;
        if (uart->input_count) {
            byte = uart->input[uart->input_head];
            uart->input_head = (uart->input_head + 1) % UART_INPUT_CAPACITY;
            uart->input_count--;
            if (uart->input_count <= UART_INPUT_CAPACITY / 2)
                uart_resume_input(uart);
        }
        if (!uart->input_count)
            uart->lsr &= ~LSR_DATA_READY;
        uart_update_irq(uart);
        return byte;
    }
    case REG_IER:
        return (uart->lcr & LCR_DLAB) ? uart->dlm : uart->ier;
    case REG_IIR: {
        uint8_t pending = uart_pending_interrupt(uart);
        /* Reading IIR while it reports THR empty acknowledges that interrupt. */
        if (pending == IIR_TRANSMIT_EMPTY) {
            uart->thr_interrupt_pending = false;
            uart_update_irq(uart);
        }
        return pending | uart->iir_fifo_bits;
    }
    case REG_LCR:
        return uart->lcr;
    case REG_MCR:
        return uart->mcr;
    case REG_LSR:
        return uart->lsr;
    case REG_MSR: {
        uint8_t status = (uart->mcr & MCR_LOOP) ? uart_modem_status_in_loopback(uart) : uart->msr;
        uart->msr &= ~MSR_DELTA_MASK;
        uart_update_irq(uart);
        return status;
    }
    default:
        return uart->scr;
    }
}

static void uart_write_register(struct uart *uart, unsigned reg, uint8_t value)
{
    switch (reg) {
    case REG_DATA:
        if (uart->lcr & LCR_DLAB)
            uart->dll = value;
        else
            uart_transmit(uart, value);
        break;
    case REG_IER:
        if (uart->lcr & LCR_DLAB) {
            uart->dlm = value;
            break;
        }
        /* Enabling the THR-empty interrupt while the THR is empty raises it. */
        if (!(uart->ier & IER_TRANSMIT_EMPTY) && (value & IER_TRANSMIT_EMPTY))
            uart->thr_interrupt_pending = true;
        bool starts_listening = !(uart->ier & IER_RECEIVE) && (value & IER_RECEIVE);
        uart->ier = value & 0x0f;
        if (starts_listening)
            uart_resume_input(uart);
        uart_update_irq(uart);
        break;
    case REG_IIR:
        uart->fcr = value;
        uart->iir_fifo_bits = (value & FCR_ENABLE) ? IIR_FIFO_ENABLED : 0;
        if (value & FCR_CLEAR_RECEIVE) {
            uart->input_head = uart->input_count = 0;
            uart->lsr &= ~LSR_DATA_READY;
            /* Linux clears the FIFO when it opens the port: a console that
             * stopped reading because we were full must hear there is room. */
            uart_resume_input(uart);
        }
        uart_update_irq(uart);
        break;
    case REG_LCR:
        uart->lcr = value;
        break;
    case REG_MCR:
        uart->mcr = value & 0x1f;
        uart_update_irq(uart);
        break;
    case REG_LSR:
    case REG_MSR:
        break; /* read-only */
    default:
        uart->scr = value;
        break;
    }
}

void uart_port_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    struct uart *uart = opaque;
    memset(data, 0, length);
    pthread_mutex_lock(&uart->lock);
    ((uint8_t *)data)[0] = uart_read_register(uart, (unsigned)offset);
    pthread_mutex_unlock(&uart->lock);
}

void uart_port_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct uart *uart = opaque;
    (void)length; /* wider accesses write their low byte, as on an ISA bus */
    pthread_mutex_lock(&uart->lock);
    uart_write_register(uart, (unsigned)offset, ((const uint8_t *)data)[0]);
    pthread_mutex_unlock(&uart->lock);
}

size_t uart_input_room(struct uart *uart)
{
    pthread_mutex_lock(&uart->lock);
    size_t room = UART_INPUT_CAPACITY - uart->input_count;
    /* Until the guest's driver listens (receive interrupts on), input waits
     * on the host side: Linux clears the FIFO when it opens the port, which
     * would throw away anything typed or piped in before. */
    if (!(uart->ier & IER_RECEIVE))
        room = 0;
    if (room == 0 && !uart->input_paused) {
        uart->input_paused = true;
        if (uart->input_flow)
            uart->input_flow(uart->input_flow_opaque, false);
    }
    pthread_mutex_unlock(&uart->lock);
    return room;
}

size_t uart_receive(struct uart *uart, const uint8_t *bytes, size_t count)
{
    pthread_mutex_lock(&uart->lock);
    size_t taken = 0;
    while (taken < count && uart->input_count < UART_INPUT_CAPACITY)
        uart_push_input(uart, bytes[taken++]);
    uart_update_irq(uart);
    pthread_mutex_unlock(&uart->lock);
    return taken;
}
