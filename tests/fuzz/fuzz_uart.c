/* The 16550A driven by a byte program: port reads and writes, received
 * bytes, and room queries, with invariants checked after every step. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/uart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int irq_level;

static void record_irq(void *opaque, int level)
{
    (void)opaque;
    if (level == irq_level)
        abort(); /* the line only ever reports changes */
    irq_level = level;
}

static void note_room(void *opaque, bool accept)
{
    (void)opaque;
    (void)accept;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int null_fd = -2;
    if (null_fd == -2)
        null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    static struct uart uart;
    irq_level = 0;
    uart_init(&uart, null_fd, record_irq, NULL);
    uart.input_flow = note_room;

    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        uint8_t argument = i < size ? data[i++] : 0;
        switch (op & 3) {
        case 0: {
            uint64_t value = 0;
            uart_port_read(&uart, argument & 7, &value, 1u << ((op >> 2) & 3));
            break;
        }
        case 1: {
            uint8_t value[8] = {i < size ? data[i++] : 0};
            uart_port_write(&uart, argument & 7, value, 1u << ((op >> 2) & 3));
            break;
        }
        case 2: {
            /* Receive argument bytes (repeated from the input), up to a lot. */
            size_t count = (size_t)argument << ((op >> 2) & 7);
            static uint8_t bytes[255 << 7];
            for (size_t j = 0; j < count; j++)
                bytes[j] = data[(i + j) % size];
            /* uart_input_room() is flow control (0 until the guest listens);
             * the FIFO itself bounds what uart_receive() takes. */
            size_t room = uart_input_room(&uart);
            size_t free_space = UART_INPUT_CAPACITY - uart.input_count;
            size_t taken = uart_receive(&uart, bytes, count);
            if (taken > count || taken > free_space || room > free_space)
                abort();
            break;
        }
        default:
            if (uart_input_room(&uart) > UART_INPUT_CAPACITY)
                abort();
            break;
        }
        if (uart.input_count > UART_INPUT_CAPACITY || uart.input_head >= UART_INPUT_CAPACITY)
            abort();
        if (!!(uart.lsr & 0x01) != (uart.input_count > 0))
            abort(); /* data ready exactly when there is input */
        if (uart.irq_level != irq_level)
            abort();
    }
    pthread_mutex_destroy(&uart.lock);
    return 0;
}
