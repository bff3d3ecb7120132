/* The CMOS real-time clock (ports 0x70/0x71): reports the host's current
 * time in UTC, with the 128 bytes of CMOS memory behind it. */
#ifndef GUEST_DEVICES_RTC_H
#define GUEST_DEVICES_RTC_H

#include <pthread.h>
#include <stdint.h>

#define RTC_PORT 0x70
#define RTC_PORT_COUNT 2

struct rtc {
    pthread_mutex_t lock;
    uint8_t index;
    uint8_t cmos[128];
};

void rtc_init(struct rtc *rtc);
void rtc_port_read(void *rtc, uint64_t offset, void *data, unsigned length);
void rtc_port_write(void *rtc, uint64_t offset, const void *data, unsigned length);

#endif
