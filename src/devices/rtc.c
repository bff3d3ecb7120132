#include "devices/rtc.h"

#include <string.h>
#include <time.h>

#define REG_SECONDS 0x00
#define REG_MINUTES 0x02
#define REG_HOURS 0x04
#define REG_WEEKDAY 0x06
#define REG_DAY 0x07
#define REG_MONTH 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

#define REG_A_DIVIDER_32KHZ 0x20
#define REG_A_RATE_1KHZ 0x06
#define REG_B_24_HOUR 0x02
#define REG_B_BINARY 0x04
#define REG_D_VALID 0x80

void rtc_init(struct rtc *rtc)
{
    memset(rtc, 0, sizeof(*rtc));
    pthread_mutex_init(&rtc->lock, NULL);
    rtc->cmos[REG_A] = REG_A_DIVIDER_32KHZ | REG_A_RATE_1KHZ;
    rtc->cmos[REG_B] = REG_B_24_HOUR;
    rtc->cmos[REG_D] = REG_D_VALID;
}

static uint8_t rtc_encode(const struct rtc *rtc, int value)
{
    if (rtc->cmos[REG_B] & REG_B_BINARY)
        return (uint8_t)value;
    return (uint8_t)((value / 10) << 4 | value % 10);
}

static uint8_t rtc_read_register(struct rtc *rtc, uint8_t index)
{
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    switch (index) {
    case REG_SECONDS:
        return rtc_encode(rtc, utc.tm_sec > 59 ? 59 : utc.tm_sec);
    case REG_MINUTES:
        return rtc_encode(rtc, utc.tm_min);
    case REG_HOURS:
        if (rtc->cmos[REG_B] & REG_B_24_HOUR)
            return rtc_encode(rtc, utc.tm_hour);
        /* 12-hour mode: 12, 1..11, with bit 7 for PM */
        return (uint8_t)(rtc_encode(rtc, (utc.tm_hour + 11) % 12 + 1) |
                         (utc.tm_hour >= 12 ? 0x80 : 0));
    case REG_WEEKDAY:
        return rtc_encode(rtc, utc.tm_wday + 1);
    case REG_DAY:
        return rtc_encode(rtc, utc.tm_mday);
    case REG_MONTH:
        return rtc_encode(rtc, utc.tm_mon + 1);
    case REG_YEAR:
        return rtc_encode(rtc, utc.tm_year % 100);
    case REG_CENTURY:
        return rtc_encode(rtc, (utc.tm_year + 1900) / 100);
    case REG_A:
        /* Never "update in progress": the values are read whole each time. */
        return rtc->cmos[REG_A] & 0x7f;
    case REG_C: {
        uint8_t flags = rtc->cmos[REG_C];
        rtc->cmos[REG_C] = 0; /* reading C acknowledges */
        return flags;
    }
    default:
        return rtc->cmos[index];
    }
}

void rtc_port_read(void *opaque, uint64_t offset, void *data, unsigned length)
{
    struct rtc *rtc = opaque;
    memset(data, 0, length);
    pthread_mutex_lock(&rtc->lock);
    ((uint8_t *)data)[0] = offset == 0 ? 0xff : rtc_read_register(rtc, rtc->index);
    pthread_mutex_unlock(&rtc->lock);
}

void rtc_port_write(void *opaque, uint64_t offset, const void *data, unsigned length)
{
    struct rtc *rtc = opaque;
    uint8_t value = ((const uint8_t *)data)[0];
    (void)length;
    pthread_mutex_lock(&rtc->lock);
    if (offset == 0) {
        rtc->index = value & 0x7f; /* bit 7 is the NMI mask */
    } else {
        switch (rtc->index) {
        case REG_SECONDS: case REG_MINUTES: case REG_HOURS: case REG_WEEKDAY:
        case REG_DAY: case REG_MONTH: case REG_YEAR: case REG_CENTURY:
        case REG_C: case REG_D:
            break; /* the clock follows the host; status registers are read-only */
        default:
            rtc->cmos[rtc->index] = value;
            break;
        }
    }
    pthread_mutex_unlock(&rtc->lock);
}
