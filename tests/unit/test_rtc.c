/* The CMOS RTC through its index/data ports: time in BCD or binary, the
 * status registers, and plain CMOS bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <time.h>

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
    rtc_init(&rtc);
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
    rtc_init(&rtc);
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
    rtc_init(&rtc);
    assert_int_equal(rtc_read(&rtc, 0x0d) & 0x80, 0x80); /* valid RAM and time */
    /* Register A never reports an update in progress, even if written so. */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(rtc_read(&rtc, 0x0a) & 0x80, 0);
    rtc_write(&rtc, 0x0a, 0xa6);
    assert_int_equal(rtc_read(&rtc, 0x0a), 0x26);
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
    rtc_init(&rtc);
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
    rtc_init(&rtc);
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
    rtc_init(&rtc);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bcd_by_default),
        cmocka_unit_test(test_binary_mode),
        cmocka_unit_test(test_status_registers),
        cmocka_unit_test(test_cmos_memory),
        cmocka_unit_test(test_time_registers_ignore_writes),
        cmocka_unit_test(test_index_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
