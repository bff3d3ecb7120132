/* Little-endian words in a test's fake guest memory (host is guest address
 * 0), for the tests that build virtqueue rings by hand and read back what
 * the device wrote. */
#ifndef GUEST_TESTS_GUEST_WORDS_H
#define GUEST_TESTS_GUEST_WORDS_H

#include <stdint.h>
#include <string.h>

static inline void guest_put16(uint8_t *host, uint64_t address, uint16_t value)
{
    memcpy(host + address, &value, 2);
}

static inline uint16_t guest_get16(const uint8_t *host, uint64_t address)
{
    uint16_t value;
    memcpy(&value, host + address, 2);
    return value;
}

static inline uint32_t guest_get32(const uint8_t *host, uint64_t address)
{
    uint32_t value;
    memcpy(&value, host + address, 4);
    return value;
}

#endif
