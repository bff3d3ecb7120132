/* The CMOS RTC driven by a byte program on a clock the program moves: port
 * reads and writes and timer expiries, checking after every step that the
 * timer is off or at most a second ahead (nothing spins), that the IRQ line
 * is only ever pulsed, and that an interrupt comes only with IRQF up. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/rtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECOND 1000000000LL

static int64_t now;
static int irq_level;

static int64_t fake_clock(void *opaque)
{
    (void)opaque;
    return now;
}

static void record_irq(void *opaque, int level)
{
    (void)opaque;
    if (level == irq_level)
        abort(); /* a pulse: up, then down */
    irq_level = level;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct rtc rtc;
    now = 1796130000LL * SECOND;
    irq_level = 0;
    rtc_init(&rtc, record_irq, NULL);
    rtc_set_clock(&rtc, fake_clock, NULL);

    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        uint8_t argument = i < size ? data[i++] : 0;
        switch (op & 3) {
        case 0: {
            uint64_t value = 0;
            rtc_port_read(&rtc, op >> 7, &value, 1u << ((op >> 2) & 3));
            if (op >> 7 == 1 && rtc.index == 0x0c && (rtc.cmos[0x0c] & 0x80))
                abort(); /* reading C clears IRQF */
            break;
        }
        case 1: {
            uint8_t value[8] = {argument};
            rtc_port_write(&rtc, op >> 7, value, 1u << ((op >> 2) & 3));
            break;
        }
        case 2:
            /* Time passes: nanoseconds to minutes, by the argument's scale. */
            now += (int64_t)argument << ((op >> 2) & 31);
            break;
        default:
            if (rtc.deadline_ns && rtc.deadline_ns <= now) {
                rtc_timer_expired(&rtc);
                /* Re-armed in the future, never for now: no busy loop. */
                if (rtc.deadline_ns && rtc.deadline_ns <= now)
                    abort();
            }
            break;
        }
        if (rtc.deadline_ns > now + SECOND)
            abort(); /* never more than a second ahead: no event is missed */
        if (rtc.deadline_ns && (rtc.cmos[0x0c] & 0x80))
            abort(); /* no timer while an interrupt is pending */
        if (irq_level != 0 || rtc.index > 0x7f)
            abort();
    }
    rtc_destroy(&rtc);
    return 0;
}
