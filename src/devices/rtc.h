/* The CMOS real-time clock (ports 0x70/0x71): reports the host's current
 * time in UTC, with the 128 bytes of CMOS memory behind it, and interrupts
 * on ISA IRQ 8 as a PC's MC146818 does: update-ended (once a second),
 * alarm (seconds/minutes/hours with "don't care" values) and periodic
 * (register A's rate), flagged in register C until it is read.
 *
 * Flags are worked out from the host clock when register C is read, so a
 * guest that polls needs no timer; a timerfd on the event loop wakes only
 * while an interrupt is enabled and none is pending, to raise the next one
 * on time.  Nothing runs on a vCPU thread but the register accesses. */
#ifndef GUEST_DEVICES_RTC_H
#define GUEST_DEVICES_RTC_H

#include <pthread.h>
#include <stdint.h>

#include "error.h"
#include "event_loop.h"

#define RTC_PORT 0x70
#define RTC_PORT_COUNT 2
#define RTC_IRQ 8

struct rtc {
    pthread_mutex_t lock;
    uint8_t index;
    uint8_t cmos[128];
    /* Raises (1) and lowers (0) IRQ 8; an interrupt is one pulse, an edge. */
    void (*set_irq)(void *opaque, int level);
    void *irq_opaque;
    /* Nanoseconds since the epoch; the host's CLOCK_REALTIME unless a test
     * gives its own. */
    int64_t (*clock)(void *opaque);
    void *clock_opaque;
    int64_t flags_until_ns;  /* register C holds the events up to this time */
    int64_t halted_at_ns;    /* the time the registers show while SET halts updates */
    int64_t deadline_ns;     /* when the timer fires next; 0: disarmed */
    int timer_fd;            /* -1 until rtc_start (unit tests run without) */
    struct event_source timer_source;
};

void rtc_init(struct rtc *rtc, void (*set_irq)(void *opaque, int level), void *irq_opaque);
/* Replaces the host clock (unit tests); register C starts empty from its now. */
void rtc_set_clock(struct rtc *rtc, int64_t (*clock)(void *opaque), void *opaque);
/* Creates the timer and watches it on loop. */
int rtc_start(struct rtc *rtc, struct event_loop *loop, struct error *error);
void rtc_destroy(struct rtc *rtc);
/* What the timer does when it fires: brings register C up to now and
 * interrupts if an enabled event happened.  Public for the unit tests. */
void rtc_timer_expired(struct rtc *rtc);

void rtc_port_read(void *rtc, uint64_t offset, void *data, unsigned length);
void rtc_port_write(void *rtc, uint64_t offset, const void *data, unsigned length);

#endif
