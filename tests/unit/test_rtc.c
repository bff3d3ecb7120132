/* The CMOS RTC through its index/data ports: time in BCD or binary, the
 * status registers, and plain CMOS bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>
#include <string.h>

#include "devices/rtc.h"

static uint8_t rtc_read(struct rtc *rtc, uint8_t index)
{
    uint8_t value = 0;
    rtc_port_write(rtc, 0, &index, 1);
    rtc_port_read(rtc, 1, &value, 1);
    return value;
}

static void rtc_write(struct rtc *rtc, uint8_t index, uint8_t value)
{
    rtc_port_write(rtc, 0, &index, 1);
    rtc_port_write(rtc, 1, &value, 1);
}

static int from_bcd(uint8_t value)
{
    assert_true((value & 0x0f) <= 9);
    assert_true((value >> 4) <= 9);
    return (value >> 4) * 10 + (value & 0x0f);
}

/* Reads the clock until two reads agree on the minute, so a test running
 * across a minute boundary still compares like with like. */
static void read_time(struct rtc *rtc, int *hours, int *minutes, int *seconds, int binary)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        uint8_t m1 = rtc_read(rtc, 0x02);
        uint8_t h = rtc_read(rtc, 0x04);
        uint8_t s = rtc_read(rtc, 0x00);
        uint8_t m2 = rtc_read(rtc, 0x02);
        if (m1 != m2)
            continue;
        *hours = binary ? h : from_bcd(h);
        *minutes = binary ? m1 : from_bcd(m1);
        *seconds = binary ? s : from_bcd(s);
        return;
    }
    fail_msg("clock kept changing minute");
}

static void test_bcd_by_default(void **state)
{
    (void)state;
    struct rtc rtc;
    rtc_init(&rtc, NULL, NULL);
    assert_int_equal(rtc_read(&rtc, 0x0b) & 0x06, 0x02); /* 24-hour, BCD */
    int hours, minutes, seconds;
    read_time(&rtc, &hours, &minutes, &seconds, 0);
    assert_in_range(hours, 0, 23);
    assert_in_range(minutes, 0, 59);
    assert_in_range(seconds, 0, 59);

    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    int rtc_minute_of_day = hours * 60 + minutes;
    int host_minute_of_day = utc.tm_hour * 60 + utc.tm_min;
    int difference = (host_minute_of_day - rtc_minute_of_day + 1440) % 1440;
    assert_true(difference <= 1); /* UTC, not local time */

    assert_in_range(from_bcd(rtc_read(&rtc, 0x06)), 1, 7);  /* weekday */
    assert_in_range(from_bcd(rtc_read(&rtc, 0x07)), 1, 31); /* day */
    assert_in_range(from_bcd(rtc_read(&rtc, 0x08)), 1, 12); /* month */
    assert_int_equal(from_bcd(rtc_read(&rtc, 0x09)), utc.tm_year % 100);
    assert_int_equal(from_bcd(rtc_read(&rtc, 0x32)), (utc.tm_year + 1900) / 100);
}

static void test_binary_mode(void **state)
{
    (void)state;
    struct rtc rtc;
    rtc_init(&rtc, NULL, NULL);
    rtc_write(&rtc, 0x0b, 0x06); /* 24-hour, binary */
    assert_int_equal(rtc_read(&rtc, 0x0b), 0x06);
    int hours, minutes, seconds;
    read_time(&rtc, &hours, &minutes, &seconds, 1);
    assert_in_range(hours, 0, 23);
    assert_in_range(minutes, 0, 59);
    assert_in_range(seconds, 0, 59);
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    assert_int_equal(rtc_read(&rtc, 0x09), utc.tm_year % 100);
    assert_int_equal(rtc_read(&rtc, 0x32), (utc.tm_year + 1900) / 100);
    assert_in_range(rtc_read(&rtc, 0x08), 1, 12);

    /* 12-hour binary mode: 1..12 with bit 7 for PM. */
    rtc_write(&rtc, 0x0b, 0x04);
    uint8_t hour12 = rtc_read(&rtc, 0x04);
    assert_in_range(hour12 & 0x7f, 1, 12);
}

static void test_status_registers(void **state)
{
    (void)state;
    struct rtc rtc;
    rtc_init(&rtc, NULL, NULL);
    assert_int_equal(rtc_read(&rtc, 0x0d) & 0x80, 0x80); /* valid RAM and time */
    /* UIP (bit 7 of A) is the chip's, not the guest's. */
    rtc_write(&rtc, 0x0a, 0xa6);
    assert_int_equal(rtc_read(&rtc, 0x0a) & 0x7f, 0x26);
    assert_int_equal(rtc.cmos[0x0a], 0x26);
    /* C and D are read-only. */
    rtc_write(&rtc, 0x0d, 0x00);
    assert_int_equal(rtc_read(&rtc, 0x0d) & 0x80, 0x80);
    rtc_write(&rtc, 0x0c, 0xf0);
    assert_int_equal(rtc_read(&rtc, 0x0c), 0);
}

static void test_cmos_memory(void **state)
{
    (void)state;
    struct rtc rtc;
    rtc_init(&rtc, NULL, NULL);
    rtc_write(&rtc, 0x40, 0x5a);
    rtc_write(&rtc, 0x7f, 0xa5);
    rtc_write(&rtc, 0x0e, 0x11);
    assert_int_equal(rtc_read(&rtc, 0x40), 0x5a);
    assert_int_equal(rtc_read(&rtc, 0x7f), 0xa5);
    assert_int_equal(rtc_read(&rtc, 0x0e), 0x11);
    assert_int_equal(rtc_read(&rtc, 0x41), 0x00);
}

static void test_time_registers_ignore_writes(void **state)
{
    (void)state;
    struct rtc rtc;
    rtc_init(&rtc, NULL, NULL);
    static const uint8_t time_registers[] = {0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32};
    for (size_t i = 0; i < sizeof(time_registers); i++) {
        rtc_write(&rtc, time_registers[i], 0xee);
        assert_int_equal(rtc.cmos[time_registers[i]], 0);
        /* 0xee is not BCD: the clock still reads as the host's time. */
        assert_int_not_equal(rtc_read(&rtc, time_registers[i]), 0xee);
    }
}

static void test_index_port(void **state)
{
    (void)state;
    struct rtc rtc;
    rtc_init(&rtc, NULL, NULL);
    rtc_write(&rtc, 0x50, 0x77);
    /* Bit 7 of the index is the NMI mask, not part of the address. */
    assert_int_equal(rtc_read(&rtc, 0x80 | 0x50), 0x77);
    rtc_write(&rtc, 0x80 | 0x51, 0x66);
    assert_int_equal(rtc_read(&rtc, 0x51), 0x66);
    assert_int_equal(rtc.index, 0x51);
    /* The index port reads as open bus. */
    uint8_t value = 0;
    rtc_port_read(&rtc, 0, &value, 1);
    assert_int_equal(value, 0xff);
    /* Reads of more than a byte fill the rest with zeros. */
    uint32_t wide = 0xffffffff;
    uint8_t index = 0x50;
    rtc_port_write(&rtc, 0, &index, 1);
    rtc_port_read(&rtc, 1, &wide, 4);
    assert_int_equal(wide, 0x77);
}

/* --- interrupts, on a clock the test moves ------------------------------ */

#define SECOND 1000000000LL
#define MILLISECOND 1000000LL

struct fake {
    int64_t now;
    int edges;
    int level;
};

static int64_t fake_clock(void *opaque) { return ((struct fake *)opaque)->now; }

static void fake_irq(void *opaque, int level)
{
    struct fake *fake = opaque;
    if (level && !fake->level)
        fake->edges++;
    fake->level = level;
}

/* 2026-12-01 13:00:00 UTC plus offset_ns. */
static void fake_rtc(struct rtc *rtc, struct fake *fake, int64_t offset_ns)
{
    struct tm when = {.tm_year = 126, .tm_mon = 11, .tm_mday = 1, .tm_hour = 13};
    memset(fake, 0, sizeof(*fake));
    fake->now = (int64_t)timegm(&when) * SECOND + offset_ns;
    rtc_init(rtc, fake_irq, fake);
    rtc_set_clock(rtc, fake_clock, fake);
}

/* Moves the clock to `to`, running the timer at each deadline on the way, as
 * the event loop would. */
static void run_until(struct rtc *rtc, struct fake *fake, int64_t to)
{
    while (rtc->deadline_ns && rtc->deadline_ns <= to) {
        assert_true(rtc->deadline_ns > fake->now - SECOND); /* never in the past */
        fake->now = rtc->deadline_ns;
        rtc_timer_expired(rtc);
    }
    fake->now = to;
}

static void test_update_in_progress(void **state)
{
    (void)state;
    struct rtc rtc;
    struct fake fake;
    fake_rtc(&rtc, &fake, 500 * MILLISECOND);
    assert_int_equal(rtc_read(&rtc, 0x0a), 0x26);
    fake.now += 499 * MILLISECOND + 800000; /* 200 us before the update */
    assert_int_equal(rtc_read(&rtc, 0x0a), 0xa6);
    assert_int_equal(from_bcd(rtc_read(&rtc, 0x00)), 0); /* not yet updated */
    fake.now += 200000;
    assert_int_equal(rtc_read(&rtc, 0x0a), 0x26);
    assert_int_equal(from_bcd(rtc_read(&rtc, 0x00)), 1);
    /* Halted (SET), nothing is in progress. */
    fake.now += 999 * MILLISECOND + 900000;
    rtc_write(&rtc, 0x0b, 0x82);
    assert_int_equal(rtc_read(&rtc, 0x0a), 0x26);
}

/* A guest that polls: UF comes at each second boundary, with no interrupt
 * enabled, no IRQF and no timer; reading C clears it. */
static void test_update_flag_polled(void **state)
{
    (void)state;
    struct rtc rtc;
    struct fake fake;
    fake_rtc(&rtc, &fake, 100 * MILLISECOND);
    rtc_write(&rtc, 0x0a, 0x20); /* no periodic flag in the way */
    fake.now += 800 * MILLISECOND;
    assert_int_equal(rtc_read(&rtc, 0x0c), 0);
    fake.now += 200 * MILLISECOND;
    assert_int_equal(rtc_read(&rtc, 0x0c), 0x10);
    assert_int_equal(rtc_read(&rtc, 0x0c), 0);
    assert_int_equal(rtc.deadline_ns, 0);
    assert_int_equal(fake.edges, 0);
    /* Many seconds unread: still one UF. */
    fake.now += 100 * SECOND;
    assert_int_equal(rtc_read(&rtc, 0x0c), 0x10);
}

static void test_update_ended_interrupt(void **state)
{
    (void)state;
    struct rtc rtc;
    struct fake fake;
    fake_rtc(&rtc, &fake, 300 * MILLISECOND);
    int64_t start = fake.now;
    rtc_write(&rtc, 0x0a, 0x20); /* no periodic flag in the way */
    rtc_write(&rtc, 0x0b, 0x12); /* UIE, 24-hour */
    assert_int_equal(rtc.deadline_ns, start - 300 * MILLISECOND + SECOND);
    run_until(&rtc, &fake, start + 800 * MILLISECOND);
    assert_int_equal(fake.edges, 1);
    assert_int_equal(fake.level, 0); /* a pulse: an edge on ISA IRQ 8 */
    /* Pending until C is read: no timer, no second interrupt. */
    assert_int_equal(rtc.deadline_ns, 0);
    fake.now += 3 * SECOND;
    assert_int_equal(fake.edges, 1);
    assert_int_equal(rtc_read(&rtc, 0x0c), 0x90);
    assert_true(rtc.deadline_ns > fake.now && rtc.deadline_ns <= fake.now + SECOND);
    run_until(&rtc, &fake, fake.now + SECOND);
    assert_int_equal(fake.edges, 2);
    assert_int_equal(rtc_read(&rtc, 0x0c), 0x90);
    /* UIE off: the timer stops. */
    rtc_write(&rtc, 0x0b, 0x02);
    assert_int_equal(rtc.deadline_ns, 0);
    /* UIE on with UF already up: the interrupt comes at once. */
    fake.now += SECOND;
    rtc_write(&rtc, 0x0b, 0x12);
    assert_int_equal(fake.edges, 3);
}

/* Reads C once a second until AF shows; returns the seconds it took. */
static int seconds_until_alarm(struct rtc *rtc, struct fake *fake, int limit)
{
    for (int second = 1; second <= limit; second++) {
        run_until(rtc, fake, fake->now + SECOND);
        uint8_t flags = rtc_read(rtc, 0x0c);
        assert_true(flags & 0x10);
        if (flags & 0x20)
            return second;
    }
    return -1;
}

static void test_alarm(void **state)
{
    (void)state;
    struct rtc rtc;
    struct fake fake;
    fake_rtc(&rtc, &fake, 0); /* 13:00:00 */
    rtc_write(&rtc, 0x0a, 0x20); /* no periodic flag in the way */
    rtc_write(&rtc, 0x01, 0x05);
    rtc_write(&rtc, 0x03, 0x00);
    rtc_write(&rtc, 0x05, 0x13);
    rtc_write(&rtc, 0x0b, 0x22); /* AIE */
    assert_int_equal(seconds_until_alarm(&rtc, &fake, 10), 5);
    assert_int_equal(fake.edges, 1);
    /* Past the alarm time it does not come again today. */
    assert_int_equal(seconds_until_alarm(&rtc, &fake, 70), -1);
    /* "Don't care" hours and minutes: every minute at :30. */
    rtc_write(&rtc, 0x05, 0xff);
    rtc_write(&rtc, 0x03, 0xc0);
    rtc_write(&rtc, 0x01, 0x30);
    int first = seconds_until_alarm(&rtc, &fake, 61);
    assert_true(first > 0);
    assert_int_equal(from_bcd(rtc_read(&rtc, 0x00)), 30);
    assert_int_equal(seconds_until_alarm(&rtc, &fake, 61), 60);
    /* All don't care: every second. */
    rtc_write(&rtc, 0x01, 0xc0);
    assert_int_equal(seconds_until_alarm(&rtc, &fake, 2), 1);
    assert_int_equal(seconds_until_alarm(&rtc, &fake, 2), 1);
    /* A guest that polls with AIE off still sees AF. */
    rtc_write(&rtc, 0x0b, 0x02);
    int edges = fake.edges;
    fake.now += SECOND;
    assert_int_equal(rtc_read(&rtc, 0x0c), 0x30);
    assert_int_equal(fake.edges, edges);
}

/* Alarms compare in the guest's format: binary and 12-hour here. */
static void test_alarm_binary_12_hour(void **state)
{
    (void)state;
    struct rtc rtc;
    struct fake fake;
    fake_rtc(&rtc, &fake, 0); /* 13:00:00, 1 PM */
    rtc_write(&rtc, 0x0b, 0x24); /* binary, 12-hour, AIE */
    rtc_write(&rtc, 0x01, 3);
    rtc_write(&rtc, 0x03, 0);
    rtc_write(&rtc, 0x05, 0x01); /* 1 AM: not now */
    assert_int_equal(seconds_until_alarm(&rtc, &fake, 5), -1);
    rtc_write(&rtc, 0x01, 8);
    rtc_write(&rtc, 0x05, 0x81); /* 1 PM */
    assert_int_equal(seconds_until_alarm(&rtc, &fake, 5), 3);
}

static void test_periodic(void **state)
{
    (void)state;
    struct rtc rtc;
    struct fake fake;
    fake_rtc(&rtc, &fake, 100 * MILLISECOND);
    /* The default rate (6, 1024 Hz) is flagged for a guest that polls. */
    fake.now += 2 * MILLISECOND;
    assert_int_equal(rtc_read(&rtc, 0x0c) & 0x40, 0x40);
    rtc_write(&rtc, 0x0a, 0x2f); /* rate 15: 2 Hz */
    assert_int_equal(rtc_read(&rtc, 0x0c), 0);
    rtc_write(&rtc, 0x0b, 0x42); /* PIE */
    int64_t base = fake.now - 102 * MILLISECOND;
    assert_int_equal(rtc.deadline_ns, base + 500 * MILLISECOND);
    run_until(&rtc, &fake, base + 600 * MILLISECOND);
    assert_int_equal(fake.edges, 1);
    assert_int_equal(rtc_read(&rtc, 0x0c), 0xc0);
    assert_int_equal(rtc.deadline_ns, base + SECOND);
    /* Rate 3: 8192 Hz, the period 2^2 cycles of 32768 Hz (122.07 us). */
    rtc_write(&rtc, 0x0a, 0x23);
    assert_true(rtc.deadline_ns > fake.now && rtc.deadline_ns <= fake.now + 122071);
    /* Rates 1 and 2 are 256 and 128 Hz. */
    rtc_write(&rtc, 0x0a, 0x21);
    assert_true(rtc.deadline_ns > fake.now && rtc.deadline_ns <= fake.now + 3906250);
    assert_true(rtc.deadline_ns - fake.now > 122071);
    /* Rate 0: no periodic interrupt, no timer. */
    rtc_write(&rtc, 0x0a, 0x20);
    assert_int_equal(rtc.deadline_ns, 0);
}

static void test_set_halts_updates(void **state)
{
    (void)state;
    struct rtc rtc;
    struct fake fake;
    fake_rtc(&rtc, &fake, 500 * MILLISECOND);
    rtc_write(&rtc, 0x0b, 0x12); /* UIE */
    rtc_write(&rtc, 0x0b, 0x92); /* SET: clears UIE */
    assert_int_equal(rtc_read(&rtc, 0x0b), 0x82);
    assert_int_equal(rtc.deadline_ns, 0);
    uint8_t seconds = rtc_read(&rtc, 0x00);
    fake.now += 3 * SECOND;
    assert_int_equal(rtc_read(&rtc, 0x00), seconds);
    assert_int_equal(rtc_read(&rtc, 0x0c), 0);
    rtc_write(&rtc, 0x0b, 0x12);
    assert_int_equal(from_bcd(rtc_read(&rtc, 0x00)), 3);
    assert_int_equal(rtc_read(&rtc, 0x0c), 0); /* nothing flagged for the halt */
    assert_true(rtc.deadline_ns > fake.now);
    /* A divider in reset halts too. */
    rtc_write(&rtc, 0x0a, 0x76);
    assert_int_equal(rtc.deadline_ns, 0);
    fake.now += 2 * SECOND;
    assert_int_equal(rtc_read(&rtc, 0x0c), 0);
    rtc_write(&rtc, 0x0a, 0x26);
    assert_true(rtc.deadline_ns > fake.now);
}

/* Whatever a guest writes, the timer is off or within a second ahead, so
 * the VMM never spins, and the IRQ line always ends low. */
static void test_garbage_never_spins(void **state)
{
    (void)state;
    struct rtc rtc;
    struct fake fake;
    fake_rtc(&rtc, &fake, 0);
    uint32_t seed = 12345;
    for (int i = 0; i < 200000; i++) {
        seed = seed * 1103515245 + 12345;
        uint8_t index = (uint8_t)(seed >> 8);
        uint8_t value = (uint8_t)(seed >> 16);
        if (seed & 0x80000000u)
            rtc_write(&rtc, index, value);
        else
            (void)rtc_read(&rtc, index);
        fake.now += (seed >> 20) * 1000;
        if (rtc.deadline_ns && rtc.deadline_ns <= fake.now)
            rtc_timer_expired(&rtc);
        assert_true(rtc.deadline_ns == 0 ||
                    (rtc.deadline_ns > fake.now && rtc.deadline_ns <= fake.now + SECOND));
        assert_int_equal(fake.level, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bcd_by_default),
        cmocka_unit_test(test_binary_mode),
        cmocka_unit_test(test_status_registers),
        cmocka_unit_test(test_cmos_memory),
        cmocka_unit_test(test_time_registers_ignore_writes),
        cmocka_unit_test(test_index_port),
        cmocka_unit_test(test_update_in_progress),
        cmocka_unit_test(test_update_flag_polled),
        cmocka_unit_test(test_update_ended_interrupt),
        cmocka_unit_test(test_alarm),
        cmocka_unit_test(test_alarm_binary_12_hour),
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_set_halts_updates),
        cmocka_unit_test(test_garbage_never_spins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
