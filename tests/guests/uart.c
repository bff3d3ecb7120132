/* Output on the 16550 UART at 0x3f8, and the verdict at the end. */
#include "probe.h"

#define COM1 0x3f8
#define COM1_LINE_STATUS (COM1 + 5)
#define LINE_STATUS_THR_EMPTY 0x20
/* Our VMM's ACPI hardware-reduced sleep control and reset registers. */
#define ACPI_SLEEP_CONTROL_PORT 0x600
#define ACPI_SLEEP_S5 (0x20 | 5 << 2) /* SLP_EN | SLP_TYP 5 */
#define ACPI_RESET_PORT 0x602
#define ACPI_RESET_VALUE 0x01

static unsigned failures;

static void uart_putc(char c)
{
    /* Bounded: a UART that never drains must not hang the verdict. */
    for (unsigned tries = 0; tries < 1000000; tries++)
        if (inb(COM1_LINE_STATUS) & LINE_STATUS_THR_EMPTY)
            break;
    outb(COM1, (uint8_t)c);
}

static void uart_puts(const char *text)
{
    while (*text)
        uart_putc(*text++);
}

/* value / divisor for a small divisor without libgcc's 64-bit division,
 * which the 32-bit build does not have. */
static uint64_t divide_small(uint64_t value, uint32_t divisor, uint32_t *remainder)
{
    uint64_t quotient = 0;
    uint32_t rest = 0;
    for (int bit = 63; bit >= 0; bit--) {
        rest = rest << 1 | (uint32_t)(value >> bit & 1);
        if (rest >= divisor) {
            rest -= divisor;
            quotient |= 1ULL << bit;
        }
    }
    *remainder = rest;
    return quotient;
}

static void print_number(uint64_t value, uint32_t base, bool upper, unsigned width, char pad)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char text[24];
    unsigned length = 0;
    do {
        uint32_t digit;
        value = divide_small(value, base, &digit);
        text[length++] = digits[digit];
    } while (value);
    while (width > length) {
        uart_putc(pad);
        width--;
    }
    while (length)
        uart_putc(text[--length]);
}

static void print_formatted(const char *format, va_list args)
{
    for (; *format; format++) {
        if (*format != '%') {
            uart_putc(*format);
            continue;
        }
        format++;
        char pad = ' ';
        unsigned width = 0;
        bool wide = false;
        if (*format == '0') {
            pad = '0';
            format++;
        }
        while (*format >= '0' && *format <= '9')
            width = width * 10 + (unsigned)(*format++ - '0');
        if (format[0] == 'l' && format[1] == 'l') {
            wide = true;
            format += 2;
        }
        switch (*format) {
        case 'c':
            uart_putc((char)va_arg(args, int));
            break;
        case 's':
            uart_puts(va_arg(args, const char *));
            break;
        case 'd': {
            int64_t value = wide ? va_arg(args, long long) : va_arg(args, int);
            if (value < 0) {
                uart_putc('-');
                value = -value;
            }
            print_number((uint64_t)value, 10, false, width, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t value =
                wide ? va_arg(args, unsigned long long) : va_arg(args, unsigned int);
            print_number(value, *format == 'u' ? 10 : 16, *format == 'X', width, pad);
            break;
        }
        case '%':
            uart_putc('%');
            break;
        default:
            uart_puts("<bad format>");
            return;
        }
    }
}

void probe_printf(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    uart_puts("probe: ");
    print_formatted(format, args);
    uart_putc('\n');
    va_end(args);
}

bool check(bool passed, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    uart_puts(passed ? "probe: " : "probe: FAIL: ");
    print_formatted(format, args);
    uart_puts(passed ? ": ok\n" : "\n");
    va_end(args);
    if (!passed)
        failures++;
    return passed;
}

void fail(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    uart_puts("probe: FAIL: ");
    print_formatted(format, args);
    uart_putc('\n');
    va_end(args);
    failures++;
}

const char *printable(const char *text, size_t max_length)
{
    static char buffer[1024];
    size_t length = 0;
    for (; length < max_length && length < sizeof(buffer) - 4 && text[length]; length++) {
        char c = text[length];
        buffer[length] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? c : '?';
    }
    if (length < max_length && text[length]) {
        memcpy(buffer + length, "...", 3);
        length += 3;
    }
    buffer[length] = 0;
    return buffer;
}

void uart_vprintf_line(const char *prefix, const char *format, va_list args)
{
    uart_puts(prefix);
    print_formatted(format, args);
    uart_putc('\n');
}

unsigned probe_failures(void)
{
    return failures;
}

void probe_finish(void)
{
    if (failures == 0) {
        probe_printf("PASS");
        outb(ACPI_SLEEP_CONTROL_PORT, ACPI_SLEEP_S5);
    } else {
        probe_printf("FAILED %u checks", failures);
        outb(ACPI_RESET_PORT, ACPI_RESET_VALUE);
    }
    for (;;)
        __asm__ volatile("cli; hlt");
}
