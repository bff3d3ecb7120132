/* The 16550A: what a guest driver sees through the eight ports, the
 * interrupt line's edges, and the input buffer's flow control. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/uart.h"

#define THR 0
#define RBR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

struct irq_log {
    int levels[64];
    int count;
};

static void record_irq(void *opaque, int level)
{
    struct irq_log *log = opaque;
    if (log->count < 64)
        log->levels[log->count] = level;
    log->count++;
}

struct fixture {
    struct uart uart;
    struct irq_log irq;
    int pipe[2];
    int room_calls;
    int pause_calls;
};

static void count_room(void *opaque, bool accept)
{
    struct fixture *fixture = opaque;
    if (accept)
        fixture->room_calls++;
    else
        fixture->pause_calls++;
}

static int setup(void **state)
{
    struct fixture *fixture = calloc(1, sizeof(*fixture));
    if (!fixture || pipe2(fixture->pipe, O_NONBLOCK))
        return -1;
    uart_init(&fixture->uart, fixture->pipe[1], record_irq, &fixture->irq);
    fixture->uart.input_flow = count_room;
    fixture->uart.input_flow_opaque = fixture;
    *state = fixture;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fixture = *state;
    close(fixture->pipe[0]);
    close(fixture->pipe[1]);
    pthread_mutex_destroy(&fixture->uart.lock);
    free(fixture);
    return 0;
}

static uint8_t port_read(struct fixture *fixture, unsigned offset)
{
    uint8_t value = 0x5a;
    uart_port_read(&fixture->uart, offset, &value, 1);
    return value;
}

static void port_write(struct fixture *fixture, unsigned offset, uint8_t value)
{
    uart_port_write(&fixture->uart, offset, &value, 1);
}

/* Everything written to the pipe so far. */
static size_t drain_output(struct fixture *fixture, uint8_t *out, size_t size)
{
    ssize_t count = read(fixture->pipe[0], out, size);
    return count < 0 ? 0 : (size_t)count;
}

static int irq_level(const struct fixture *fixture)
{
    return fixture->irq.count ? fixture->irq.levels[fixture->irq.count - 1] : 0;
}

static void test_reset_state(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(port_read(fixture, IER), 0);
    assert_int_equal(port_read(fixture, IIR), 0x01); /* no interrupt, FIFOs off */
    assert_int_equal(port_read(fixture, LSR), 0x60); /* THRE | TEMT */
    assert_int_equal(port_read(fixture, MCR), 0x08); /* OUT2 */
    assert_int_equal(port_read(fixture, MSR) & 0xb0, 0xb0); /* DCD, DSR, CTS */
    assert_int_equal(port_read(fixture, RBR), 0); /* nothing received */
    assert_int_equal(fixture->irq.count, 0);
}

static void test_transmit(void **state)
{
    struct fixture *fixture = *state;
    const char *text = "hello\n";
    for (const char *p = text; *p; p++) {
        port_write(fixture, THR, (uint8_t)*p);
        assert_int_equal(port_read(fixture, LSR) & 0x60, 0x60);
    }
    uint8_t out[32];
    assert_int_equal(drain_output(fixture, out, sizeof(out)), 6);
    assert_memory_equal(out, text, 6);
    /* Without THRI enabled the line never moves. */
    assert_int_equal(fixture->irq.count, 0);

    /* A 4-byte access writes its low byte only. */
    uint32_t wide = 0x44434241;
    uart_port_write(&fixture->uart, THR, &wide, 4);
    assert_int_equal(drain_output(fixture, out, sizeof(out)), 1);
    assert_int_equal(out[0], 'A');
    uint32_t read_wide = 0xffffffff;
    uart_port_read(&fixture->uart, LSR, &read_wide, 4);
    assert_int_equal(read_wide, 0x60);
}

static void interrupted(int signal_number)
{
    (void)signal_number; /* only so that write(2) returns EINTR */
}

/* A blocked output and a stop: the stop's signal interrupts the write and
 * the byte goes, where before each EINTR was retried, for ever.  (Before
 * the fix this test never ends: the alarm's default action ends it.) */
static void test_blocked_output_abandoned_on_stop(void **state)
{
    struct fixture *fixture = *state;
    int blocking[2];
    assert_int_equal(pipe(blocking), 0);
    assert_int_equal(fcntl(blocking[1], F_SETFL, O_NONBLOCK), 0);
    char filler[4096] = {0};
    while (write(blocking[1], filler, sizeof(filler)) > 0) {
    }
    assert_int_equal(fcntl(blocking[1], F_SETFL, 0), 0); /* full, and blocking again */
    atomic_bool stopping = true;
    fixture->uart.output_fd = blocking[1];
    fixture->uart.abandon_output = &stopping;
    struct sigaction action = {.sa_handler = interrupted}, saved; /* no SA_RESTART */
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR2, &action, &saved);
    timer_t timer;
    struct sigevent event = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
    assert_int_equal(timer_create(CLOCK_MONOTONIC, &event, &timer), 0);
    struct itimerspec every = {{0, 50000000}, {0, 50000000}};
    assert_int_equal(timer_settime(timer, 0, &every, NULL), 0);
    alarm(10);
    port_write(fixture, THR, 'x'); /* blocks until the first signal */
    alarm(0);
    timer_delete(timer);
    sigaction(SIGUSR2, &saved, NULL);
    assert_int_equal(port_read(fixture, LSR) & 0x60, 0x60); /* the byte is gone */
    fixture->uart.output_fd = fixture->pipe[1];
    close(blocking[0]);
    close(blocking[1]);
}

static void test_transmit_interrupt(void **state)
{
    struct fixture *fixture = *state;
    port_write(fixture, IER, 0x02); /* THRI */
    assert_int_equal(fixture->irq.count, 1);
    assert_int_equal(irq_level(fixture), 1);
    assert_int_equal(port_read(fixture, IER), 0x02);

    /* IIR says "THR empty" once; reading it acknowledges and drops the line. */
    assert_int_equal(port_read(fixture, IIR), 0x02);
    assert_int_equal(irq_level(fixture), 0);
    assert_int_equal(port_read(fixture, IIR), 0x01);

    /* Each byte sent gives a fresh low-to-high edge. */
    for (int i = 0; i < 3; i++) {
        int before = fixture->irq.count;
        port_write(fixture, THR, (uint8_t)('a' + i));
        assert_int_equal(irq_level(fixture), 1);
        assert_true(fixture->irq.count > before);
        assert_int_equal(port_read(fixture, IIR), 0x02);
        assert_int_equal(irq_level(fixture), 0);
    }
    /* Without acknowledging, a second byte still produces a low-high pair. */
    port_write(fixture, THR, 'x');
    int before = fixture->irq.count;
    port_write(fixture, THR, 'y');
    assert_int_equal(fixture->irq.count, before + 2);
    assert_int_equal(fixture->irq.levels[before], 0);
    assert_int_equal(fixture->irq.levels[before + 1], 1);

    /* Disabling THRI drops the line. */
    port_write(fixture, IER, 0x00);
    assert_int_equal(irq_level(fixture), 0);
    assert_int_equal(port_read(fixture, IIR), 0x01);
    /* The IER keeps only its four defined bits. */
    port_write(fixture, IER, 0xf0);
    assert_int_equal(port_read(fixture, IER), 0x00);
    uint8_t out[32];
    assert_int_equal(drain_output(fixture, out, sizeof(out)), 5);
    assert_memory_equal(out, "abcxy", 5);
}

static void test_receive(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(uart_input_room(&fixture->uart), 0); /* the guest does not listen yet */
    assert_int_equal(uart_receive(&fixture->uart, (const uint8_t *)"abc", 3), 3);
    assert_int_equal(uart_input_room(&fixture->uart), 0);
    assert_int_equal(port_read(fixture, LSR) & 0x01, 0x01);
    assert_int_equal(port_read(fixture, IIR), 0x01); /* RX interrupt not enabled */
    assert_int_equal(fixture->irq.count, 0);

    port_write(fixture, IER, 0x01); /* RDI */
    assert_int_equal(irq_level(fixture), 1);
    assert_int_equal(uart_input_room(&fixture->uart), UART_INPUT_CAPACITY - 3);
    assert_int_equal(port_read(fixture, IIR), 0x04);
    assert_int_equal(port_read(fixture, IIR), 0x04); /* reading IIR does not clear RX */

    assert_int_equal(port_read(fixture, RBR), 'a');
    assert_int_equal(port_read(fixture, RBR), 'b');
    assert_int_equal(irq_level(fixture), 1);
    assert_int_equal(port_read(fixture, RBR), 'c');
    assert_int_equal(port_read(fixture, LSR) & 0x01, 0);
    assert_int_equal(irq_level(fixture), 0);
    assert_int_equal(port_read(fixture, IIR), 0x01);
    assert_int_equal(port_read(fixture, RBR), 0);

    /* Received data outranks THR empty. */
    port_write(fixture, IER, 0x03);
    assert_int_equal(uart_receive(&fixture->uart, (const uint8_t *)"z", 1), 1);
    assert_int_equal(port_read(fixture, IIR), 0x04);
    assert_int_equal(port_read(fixture, RBR), 'z');
    assert_int_equal(port_read(fixture, IIR), 0x02);
    assert_int_equal(port_read(fixture, IIR), 0x01);
}

static void test_input_capacity(void **state)
{
    struct fixture *fixture = *state;
    port_write(fixture, IER, 0x01); /* the guest listens */
    static uint8_t bytes[UART_INPUT_CAPACITY + 100];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (uint8_t)(i * 31);
    assert_int_equal(uart_receive(&fixture->uart, bytes, 1000), 1000);
    assert_int_equal(uart_receive(&fixture->uart, bytes + 1000, sizeof(bytes) - 1000),
                     UART_INPUT_CAPACITY - 1000);
    assert_int_equal(uart_input_room(&fixture->uart), 0);
    assert_int_equal(uart_receive(&fixture->uart, bytes, 10), 0);
    assert_int_equal(uart_receive(&fixture->uart, bytes, 0), 0);

    /* Bytes come back in order; the callback fires once, when half is free. */
    for (size_t i = 0; i < UART_INPUT_CAPACITY; i++) {
        assert_int_equal(port_read(fixture, RBR), bytes[i]);
        size_t left = UART_INPUT_CAPACITY - 1 - i;
        assert_int_equal(fixture->room_calls, left <= UART_INPUT_CAPACITY / 2 ? 1 : 0);
    }
    assert_int_equal(port_read(fixture, LSR) & 0x01, 0);
    assert_int_equal(uart_input_room(&fixture->uart), UART_INPUT_CAPACITY);

    /* The ring wraps: fill again from a non-zero head. */
    assert_int_equal(uart_receive(&fixture->uart, bytes, 5), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(port_read(fixture, RBR), bytes[i]);
    assert_int_equal(uart_receive(&fixture->uart, bytes + 7, UART_INPUT_CAPACITY),
                     UART_INPUT_CAPACITY);
    assert_int_equal(uart_input_room(&fixture->uart), 0); /* the source pauses once */
    assert_int_equal(uart_input_room(&fixture->uart), 0);
    assert_int_equal(fixture->pause_calls, 2);
    for (size_t i = 0; i < UART_INPUT_CAPACITY; i++)
        assert_int_equal(port_read(fixture, RBR), bytes[7 + i]);
    assert_int_equal(fixture->room_calls, 2);
}

static void test_input_room_after_console_saw_full(void **state)
{
    struct fixture *fixture = *state;
    port_write(fixture, IER, 0x01); /* the guest listens */
    static uint8_t bytes[UART_INPUT_CAPACITY];
    memset(bytes, 'q', sizeof(bytes));
    assert_int_equal(uart_receive(&fixture->uart, bytes, UART_INPUT_CAPACITY - 1),
                     UART_INPUT_CAPACITY - 1);
    /* Not full yet: draining gives no callback. */
    for (int i = 0; i < UART_INPUT_CAPACITY / 2; i++)
        port_read(fixture, RBR);
    assert_int_equal(fixture->room_calls, 0);
    /* Full, as the console finds when it asks for room. */
    assert_int_equal(uart_receive(&fixture->uart, bytes, UART_INPUT_CAPACITY),
                     UART_INPUT_CAPACITY / 2 + 1);
    assert_int_equal(uart_input_room(&fixture->uart), 0);
    for (int i = 0; i < UART_INPUT_CAPACITY / 2; i++)
        port_read(fixture, RBR);
    assert_int_equal(fixture->room_calls, 1);
}

/* The console stops reading its input when the UART is full and waits for
 * the input_room callback.  A guest that empties the buffer by clearing the
 * receive FIFO (Linux's 8250 driver does so whenever it opens the port) must
 * also wake the console, or input stalls for good. */
static void test_fifo_clear_reopens_input(void **state)
{
    struct fixture *fixture = *state;
    port_write(fixture, IER, 0x01); /* the guest listens */
    static uint8_t bytes[UART_INPUT_CAPACITY];
    memset(bytes, 'p', sizeof(bytes));
    assert_int_equal(uart_receive(&fixture->uart, bytes, UART_INPUT_CAPACITY),
                     UART_INPUT_CAPACITY);
    assert_int_equal(uart_input_room(&fixture->uart), 0); /* the console pauses */
    port_write(fixture, FCR, 0x07); /* enable FIFOs, clear receive and transmit */
    assert_int_equal(uart_input_room(&fixture->uart), UART_INPUT_CAPACITY);
    port_read(fixture, RBR); /* the guest polls an empty RBR */
    port_read(fixture, LSR);
    assert_int_equal(fixture->room_calls, 1);
}

/* Input typed or piped in before the guest's driver enables receive
 * interrupts stays on the host side, and the console hears when to send it. */
static void test_input_waits_until_guest_listens(void **state)
{
    struct fixture *fixture = *state;
    assert_int_equal(uart_input_room(&fixture->uart), 0);
    assert_int_equal(fixture->room_calls, 0);
    port_write(fixture, IER, 0x01);
    assert_int_equal(fixture->room_calls, 1);
    assert_int_equal(uart_input_room(&fixture->uart), UART_INPUT_CAPACITY);
    port_write(fixture, IER, 0x00);
    assert_int_equal(uart_input_room(&fixture->uart), 0);
}

static void test_fifo_control(void **state)
{
    struct fixture *fixture = *state;
    port_write(fixture, FCR, 0x01);
    assert_int_equal(port_read(fixture, IIR), 0xc1);
    port_write(fixture, IER, 0x02);
    assert_int_equal(port_read(fixture, IIR), 0xc2);
    port_write(fixture, IER, 0x00);
    port_write(fixture, FCR, 0x00);
    assert_int_equal(port_read(fixture, IIR), 0x01);

    /* Clearing the receive FIFO drops queued input and any RX interrupt. */
    port_write(fixture, IER, 0x01);
    assert_int_equal(uart_receive(&fixture->uart, (const uint8_t *)"junk", 4), 4);
    assert_int_equal(irq_level(fixture), 1);
    port_write(fixture, FCR, 0x03);
    assert_int_equal(port_read(fixture, LSR) & 0x01, 0);
    assert_int_equal(irq_level(fixture), 0);
    assert_int_equal(port_read(fixture, IIR), 0xc1);
    assert_int_equal(port_read(fixture, RBR), 0);
    assert_int_equal(uart_input_room(&fixture->uart), UART_INPUT_CAPACITY);
    /* New input after the clear arrives whole and in order. */
    assert_int_equal(uart_receive(&fixture->uart, (const uint8_t *)"ok", 2), 2);
    assert_int_equal(port_read(fixture, RBR), 'o');
    assert_int_equal(port_read(fixture, RBR), 'k');
}

static void test_divisor_latch(void **state)
{
    struct fixture *fixture = *state;
    port_write(fixture, IER, 0x01);
    port_write(fixture, LCR, 0x83); /* DLAB, 8N1 */
    assert_int_equal(port_read(fixture, LCR), 0x83);
    port_write(fixture, DLL, 0x01); /* 115200 baud */
    port_write(fixture, DLM, 0x00);
    assert_int_equal(port_read(fixture, DLL), 0x01);
    assert_int_equal(port_read(fixture, DLM), 0x00);
    port_write(fixture, DLM, 0x12);
    assert_int_equal(port_read(fixture, DLM), 0x12);
    /* Nothing was transmitted, IER unchanged. */
    uint8_t out[8];
    assert_int_equal(drain_output(fixture, out, sizeof(out)), 0);
    port_write(fixture, LCR, 0x03);
    assert_int_equal(port_read(fixture, IER), 0x01);
    port_write(fixture, LCR, 0x83);
    assert_int_equal(port_read(fixture, DLL), 0x01);
    assert_int_equal(port_read(fixture, DLM), 0x12);
    /* With DLAB set, received data stays queued. */
    port_write(fixture, LCR, 0x83);
    uart_receive(&fixture->uart, (const uint8_t *)"r", 1);
    assert_int_equal(port_read(fixture, DLL), 0x01);
    port_write(fixture, LCR, 0x03);
    assert_int_equal(port_read(fixture, RBR), 'r');
}

static void test_scratch_and_read_only(void **state)
{
    struct fixture *fixture = *state;
    for (unsigned value = 0; value < 256; value += 37) {
        port_write(fixture, SCR, (uint8_t)value);
        assert_int_equal(port_read(fixture, SCR), value);
    }
    port_write(fixture, LSR, 0x00);
    assert_int_equal(port_read(fixture, LSR), 0x60);
    uint8_t msr = port_read(fixture, MSR);
    port_write(fixture, MSR, 0x00);
    assert_int_equal(port_read(fixture, MSR), msr);
}

static void test_loopback(void **state)
{
    struct fixture *fixture = *state;
    port_write(fixture, MCR, 0x1f); /* loop with DTR, RTS, OUT1, OUT2 */
    assert_int_equal(port_read(fixture, MCR), 0x1f);
    assert_int_equal(port_read(fixture, MSR) & 0xf0, 0xf0);
    port_write(fixture, MCR, 0x10); /* loop, all outputs off */
    assert_int_equal(port_read(fixture, MSR) & 0xf0, 0x00);
    port_write(fixture, MCR, 0x11); /* DTR -> DSR */
    assert_int_equal(port_read(fixture, MSR) & 0xf0, 0x20);
    port_write(fixture, MCR, 0x12); /* RTS -> CTS */
    assert_int_equal(port_read(fixture, MSR) & 0xf0, 0x10);

    port_write(fixture, THR, 0xa5);
    port_write(fixture, THR, 0x3c);
    assert_int_equal(port_read(fixture, LSR) & 0x01, 0x01);
    assert_int_equal(port_read(fixture, RBR), 0xa5);
    assert_int_equal(port_read(fixture, RBR), 0x3c);
    assert_int_equal(port_read(fixture, LSR) & 0x01, 0);
    uint8_t out[8];
    assert_int_equal(drain_output(fixture, out, sizeof(out)), 0); /* nothing on the wire */

    /* Leaving loopback: MSR reports the host side again, bytes go out. */
    port_write(fixture, MCR, 0x0b);
    assert_int_equal(port_read(fixture, MSR) & 0xb0, 0xb0);
    port_write(fixture, THR, 'w');
    assert_int_equal(drain_output(fixture, out, sizeof(out)), 1);
    assert_int_equal(out[0], 'w');
}

static void test_no_output_fd(void **state)
{
    (void)state;
    struct uart uart;
    uart_init(&uart, -1, NULL, NULL);
    uint8_t byte = 'n';
    uart_port_write(&uart, THR, &byte, 1);
    byte = 0x02;
    uart_port_write(&uart, IER, &byte, 1); /* no set_irq: must not crash */
    uart_port_read(&uart, IIR, &byte, 1);
    assert_int_equal(byte, 0x02);
    pthread_mutex_destroy(&uart.lock);
}

int main(void)
{
#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        TEST(test_reset_state),
        TEST(test_transmit),
        TEST(test_transmit_interrupt),
        TEST(test_blocked_output_abandoned_on_stop),
        TEST(test_receive),
        TEST(test_input_capacity),
        TEST(test_input_room_after_console_saw_full),
        TEST(test_fifo_clear_reopens_input),
        TEST(test_fifo_control),
        TEST(test_input_waits_until_guest_listens),
        TEST(test_divisor_latch),
        TEST(test_scratch_and_read_only),
        TEST(test_loopback),
        cmocka_unit_test(test_no_output_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
