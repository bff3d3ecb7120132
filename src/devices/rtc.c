#include "devices/rtc.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define REG_SECONDS 0x00
#define REG_ALARM_SECONDS 0x01
#define REG_MINUTES 0x02
#define REG_ALARM_MINUTES 0x03
#define REG_HOURS 0x04
#define REG_ALARM_HOURS 0x05
#define REG_WEEKDAY 0x06
#define REG_DAY 0x07
#define REG_MONTH 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

#define REG_A_UPDATE_IN_PROGRESS 0x80
#define REG_A_DIVIDER_MASK 0x70
#define REG_A_DIVIDER_32KHZ 0x20 /* the only divider setting under which a PC's RTC runs */
#define REG_A_RATE_MASK 0x0f
#define REG_A_RATE_1KHZ 0x06
#define REG_B_SET 0x80
#define REG_B_PERIODIC 0x40
#define REG_B_ALARM 0x20
#define REG_B_UPDATE_ENDED 0x10
#define REG_B_INTERRUPTS 0x70
#define REG_B_24_HOUR 0x02
#define REG_B_BINARY 0x04
#define REG_C_IRQF 0x80
#define REG_C_PERIODIC 0x40
#define REG_C_ALARM 0x20
#define REG_C_UPDATE_ENDED 0x10
#define REG_D_VALID 0x80

#define NS_PER_SECOND 1000000000LL
#define TIME_BASE_HZ 32768
/* UIP goes up this long before each update, so a reader that waits for it
 * to drop has the whole next second to read the time in. */
#define UPDATE_IN_PROGRESS_NS 244000
/* Events older than a day need not be looked at one second at a time: the
 * alarm registers repeat within a day. */
#define ALARM_SCAN_SECONDS 86400

static int64_t rtc_host_clock(void *opaque)
{
    (void)opaque;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * NS_PER_SECOND + now.tv_nsec;
}

void rtc_init(struct rtc *rtc, void (*set_irq)(void *opaque, int level), void *irq_opaque)
{
    memset(rtc, 0, sizeof(*rtc));
    pthread_mutex_init(&rtc->lock, NULL);
    rtc->cmos[REG_A] = REG_A_DIVIDER_32KHZ | REG_A_RATE_1KHZ;
    rtc->cmos[REG_B] = REG_B_24_HOUR;
    rtc->cmos[REG_D] = REG_D_VALID;
    rtc->set_irq = set_irq;
    rtc->irq_opaque = irq_opaque;
    rtc->timer_fd = -1;
    rtc_set_clock(rtc, rtc_host_clock, NULL);
}

void rtc_set_clock(struct rtc *rtc, int64_t (*clock)(void *opaque), void *opaque)
{
    rtc->clock = clock;
    rtc->clock_opaque = opaque;
    rtc->flags_until_ns = clock(opaque);
    rtc->cmos[REG_C] = 0;
}

static bool rtc_is_running(const struct rtc *rtc)
{
    return (rtc->cmos[REG_A] & REG_A_DIVIDER_MASK) == REG_A_DIVIDER_32KHZ &&
           !(rtc->cmos[REG_B] & REG_B_SET);
}

static uint8_t rtc_encode(const struct rtc *rtc, int value)
{
    if (rtc->cmos[REG_B] & REG_B_BINARY)
        return (uint8_t)value;
    return (uint8_t)((value / 10) << 4 | value % 10);
}

/* A time register's value for the time utc, in the guest's chosen format. */
static uint8_t rtc_time_register(const struct rtc *rtc, uint8_t index, const struct tm *utc)
{
    switch (index) {
    case REG_SECONDS:
        return rtc_encode(rtc, utc->tm_sec > 59 ? 59 : utc->tm_sec);
    case REG_MINUTES:
        return rtc_encode(rtc, utc->tm_min);
    case REG_HOURS:
        if (rtc->cmos[REG_B] & REG_B_24_HOUR)
            return rtc_encode(rtc, utc->tm_hour);
        /* 12-hour mode: 12, 1..11, with bit 7 for PM */
        return (uint8_t)(rtc_encode(rtc, (utc->tm_hour + 11) % 12 + 1) |
                         (utc->tm_hour >= 12 ? 0x80 : 0));
    case REG_WEEKDAY:
        return rtc_encode(rtc, utc->tm_wday + 1);
    case REG_DAY:
        return rtc_encode(rtc, utc->tm_mday);
    case REG_MONTH:
        return rtc_encode(rtc, utc->tm_mon + 1);
    case REG_YEAR:
        return rtc_encode(rtc, utc->tm_year % 100);
    default: /* REG_CENTURY */
        return rtc_encode(rtc, (utc->tm_year + 1900) / 100);
    }
}

static void rtc_time_at(int64_t seconds, struct tm *utc)
{
    time_t when = (time_t)seconds;
    gmtime_r(&when, utc);
}

/* Each alarm register matches its time register, or holds "don't care"
 * (0xc0..0xff); compared as encoded, as the chip does. */
static bool rtc_alarm_matches(const struct rtc *rtc, int64_t seconds)
{
    static const uint8_t pairs[3][2] = {{REG_ALARM_SECONDS, REG_SECONDS},
                                        {REG_ALARM_MINUTES, REG_MINUTES},
                                        {REG_ALARM_HOURS, REG_HOURS}};
    struct tm utc;
    rtc_time_at(seconds, &utc);
    for (int i = 0; i < 3; i++) {
        uint8_t alarm = rtc->cmos[pairs[i][0]];
        if ((alarm & 0xc0) == 0xc0)
            continue;
        if (alarm != rtc_time_register(rtc, pairs[i][1], &utc))
            return false;
    }
    return true;
}

/* The periodic interrupt's period in cycles of the 32.768 kHz time base
 * (rates 1 and 2 are 256 and 128 Hz, rate n from 3 up is 2^(n-1) cycles);
 * 0 when off. */
static int64_t rtc_periodic_cycles(const struct rtc *rtc)
{
    unsigned rate = rtc->cmos[REG_A] & REG_A_RATE_MASK;
    if (rate == 0)
        return 0;
    if (rate <= 2)
        return 1LL << (rate + 6);
    return 1LL << (rate - 1);
}

static int64_t rtc_cycles_at(int64_t ns)
{
    return ns / NS_PER_SECOND * TIME_BASE_HZ + ns % NS_PER_SECOND * TIME_BASE_HZ / NS_PER_SECOND;
}

/* The first nanosecond at or after a cycle boundary. */
static int64_t rtc_ns_at_cycle(int64_t cycles)
{
    return cycles / TIME_BASE_HZ * NS_PER_SECOND +
           (cycles % TIME_BASE_HZ * NS_PER_SECOND + TIME_BASE_HZ - 1) / TIME_BASE_HZ;
}

/* Puts in register C the events between the last look and now: an update
 * at each second boundary (and the alarm if one matched), and the periodic
 * flag if a period ended.  Flags are set whether or not their interrupts
 * are enabled, as the chip does for a guest that polls. */
static void rtc_update_flags(struct rtc *rtc, int64_t now)
{
    int64_t last = rtc->flags_until_ns;
    rtc->flags_until_ns = now;
    if (now <= last || !rtc_is_running(rtc))
        return; /* a host clock that stepped back starts again from now */
    uint8_t flags = 0;
    int64_t first = last / NS_PER_SECOND + 1, final = now / NS_PER_SECOND;
    if (final >= first) {
        flags |= REG_C_UPDATE_ENDED;
        if (final - first >= ALARM_SCAN_SECONDS)
            first = final - ALARM_SCAN_SECONDS + 1;
        for (int64_t second = first; second <= final; second++) {
            if (rtc_alarm_matches(rtc, second)) {
                flags |= REG_C_ALARM;
                break;
            }
        }
    }
    int64_t cycles = rtc_periodic_cycles(rtc);
    if (cycles && rtc_cycles_at(now) / cycles > rtc_cycles_at(last) / cycles)
        flags |= REG_C_PERIODIC;
    rtc->cmos[REG_C] |= flags;
}

/* IRQF follows the enabled flags; the interrupt is its rising edge.  It
 * stays up until register C is read, so no more interrupts come until the
 * guest has read C, as on a PC. */
static void rtc_update_irq(struct rtc *rtc)
{
    uint8_t flags = rtc->cmos[REG_C];
    if ((flags & REG_C_IRQF) || !(flags & rtc->cmos[REG_B] & REG_B_INTERRUPTS))
        return;
    rtc->cmos[REG_C] |= REG_C_IRQF;
    if (rtc->set_irq) {
        rtc->set_irq(rtc->irq_opaque, 1);
        rtc->set_irq(rtc->irq_opaque, 0);
    }
}

/* The timer runs only while an enabled interrupt can come: the next second
 * for update-ended and alarm, the next period for periodic; not while one
 * is pending (IRQF), not while the clock is halted. */
static void rtc_arm_timer(struct rtc *rtc, int64_t now)
{
    int64_t deadline = 0;
    uint8_t enabled = rtc->cmos[REG_B] & REG_B_INTERRUPTS;
    if (rtc_is_running(rtc) && !(rtc->cmos[REG_C] & REG_C_IRQF)) {
        if (enabled & (REG_B_UPDATE_ENDED | REG_B_ALARM))
            deadline = (now / NS_PER_SECOND + 1) * NS_PER_SECOND;
        int64_t cycles = rtc_periodic_cycles(rtc);
        if ((enabled & REG_B_PERIODIC) && cycles) {
            int64_t next = rtc_ns_at_cycle((rtc_cycles_at(now) / cycles + 1) * cycles);
            if (!deadline || next < deadline)
                deadline = next;
        }
    }
    if (deadline == rtc->deadline_ns)
        return;
    rtc->deadline_ns = deadline;
    if (rtc->timer_fd < 0)
        return;
    struct itimerspec when = {.it_value = {.tv_sec = deadline / NS_PER_SECOND,
                                           .tv_nsec = deadline % NS_PER_SECOND}};
    if (timerfd_settime(rtc->timer_fd, TFD_TIMER_ABSTIME, &when, NULL) < 0)
        log_once("rtc: timerfd_settime: %s", strerror(errno));
}

void rtc_timer_expired(struct rtc *rtc)
{
    pthread_mutex_lock(&rtc->lock);
    int64_t now = rtc->clock(rtc->clock_opaque);
    rtc_update_flags(rtc, now);
    rtc_update_irq(rtc);
    rtc->deadline_ns = 0; /* the timer is one-shot: it is disarmed now */
    rtc_arm_timer(rtc, now);
    pthread_mutex_unlock(&rtc->lock);
}

static void rtc_timer_fired(struct event_source *source, uint32_t events)
{
    (void)events;
    uint64_t expirations;
    if (read(source->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        log_once("rtc: timer read: %s", strerror(errno));
    rtc_timer_expired(source->opaque);
}

int rtc_start(struct rtc *rtc, struct event_loop *loop, struct error *error)
{
    rtc->timer_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
    if (rtc->timer_fd < 0)
        return error_set(error, "rtc: timerfd: %s", strerror(errno));
    rtc->timer_source = (struct event_source){rtc->timer_fd, rtc_timer_fired, rtc};
    if (event_loop_watch(loop, &rtc->timer_source, EPOLLIN))
        return error_set(error, "rtc: cannot watch its timer: %s", strerror(errno));
    pthread_mutex_lock(&rtc->lock);
    rtc->deadline_ns = 0;
    rtc_arm_timer(rtc, rtc->clock(rtc->clock_opaque));
    pthread_mutex_unlock(&rtc->lock);
    return 0;
}

void rtc_destroy(struct rtc *rtc)
{
    if (rtc->timer_fd >= 0)
        close(rtc->timer_fd);
    rtc->timer_fd = -1;
    pthread_mutex_destroy(&rtc->lock);
}

static uint8_t rtc_read_register(struct rtc *rtc, uint8_t index, int64_t now)
{
    switch (index) {
    case REG_SECONDS: case REG_MINUTES: case REG_HOURS: case REG_WEEKDAY:
    case REG_DAY: case REG_MONTH: case REG_YEAR: case REG_CENTURY: {
        /* SET stops the registers where they were, for a guest setting them. */
        int64_t shown = rtc->cmos[REG_B] & REG_B_SET ? rtc->halted_at_ns : now;
        struct tm utc;
        rtc_time_at(shown / NS_PER_SECOND, &utc);
        return rtc_time_register(rtc, index, &utc);
    }
    case REG_A: {
        bool updating = rtc_is_running(rtc) &&
                        now % NS_PER_SECOND >= NS_PER_SECOND - UPDATE_IN_PROGRESS_NS;
        return (uint8_t)((rtc->cmos[REG_A] & ~REG_A_UPDATE_IN_PROGRESS) |
                         (updating ? REG_A_UPDATE_IN_PROGRESS : 0));
    }
    case REG_C: {
        rtc_update_flags(rtc, now);
        uint8_t flags = rtc->cmos[REG_C];
        /* An event the timer has not got to yet still shows in IRQF; it is
         * acknowledged by this read, so it raises no interrupt after it. */
        if (flags & rtc->cmos[REG_B] & REG_B_INTERRUPTS)
            flags |= REG_C_IRQF;
        rtc->cmos[REG_C] = 0; /* reading C acknowledges */
        rtc_arm_timer(rtc, now);
        return flags;
    }
    default:
        return rtc->cmos[index];
    }
}

static void rtc_write_register(struct rtc *rtc, uint8_t index, uint8_t value, int64_t now)
{
    switch (index) {
    case REG_SECONDS: case REG_MINUTES: case REG_HOURS: case REG_WEEKDAY:
    case REG_DAY: case REG_MONTH: case REG_YEAR: case REG_CENTURY:
    case REG_C: case REG_D:
        break; /* the clock follows the host; status registers are read-only */
    case REG_A:
        rtc_update_flags(rtc, now); /* what happened at the old rate */
        rtc->cmos[REG_A] = value & ~REG_A_UPDATE_IN_PROGRESS;
        rtc_arm_timer(rtc, now);
        break;
    case REG_B:
        rtc_update_flags(rtc, now);
        if (value & REG_B_SET) {
            value &= (uint8_t)~REG_B_UPDATE_ENDED; /* SET clears UIE, as on the chip */
            if (!(rtc->cmos[REG_B] & REG_B_SET))
                rtc->halted_at_ns = now;
        }
        rtc->cmos[REG_B] = value;
        rtc_update_irq(rtc); /* enabling an interrupt whose flag is up raises it */
        rtc_arm_timer(rtc, now);
        break;
    default:
        rtc->cmos[index] = value;
        break;
    }
}

void rtc_port_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    struct rtc *rtc = opaque;
    memset(data, 0, length);
    pthread_mutex_lock(&rtc->lock);
    ((uint8_t *)data)[0] =
        offset == 0 ? 0xff : rtc_read_register(rtc, rtc->index, rtc->clock(rtc->clock_opaque));
    pthread_mutex_unlock(&rtc->lock);
}

void rtc_port_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct rtc *rtc = opaque;
    uint8_t value = ((const uint8_t *)data)[0];
    (void)length;
    pthread_mutex_lock(&rtc->lock);
    if (offset == 0)
        rtc->index = value & 0x7f; /* bit 7 is the NMI mask */
    else
        rtc_write_register(rtc, rtc->index, value, rtc->clock(rtc->clock_opaque));
    pthread_mutex_unlock(&rtc->lock);
}
