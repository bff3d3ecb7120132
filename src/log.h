/* Runtime messages from a running VM (a guest's bad request, a KVM failure):
 * one line on stderr, prefixed "guest: ". */
#ifndef GUEST_LOG_H
#define GUEST_LOG_H

#include <stdatomic.h>

__attribute__((format(printf, 1, 2))) void log_message(const char *format, ...);

/* Logs at most once per call site: a guest that repeats a bad request must
 * not flood the terminal. */
#define log_once(...)                                                                          \
    do {                                                                                       \
        static atomic_flag logged_ = ATOMIC_FLAG_INIT;                                         \
        if (!atomic_flag_test_and_set(&logged_))                                               \
            log_message(__VA_ARGS__);                                                          \
    } while (0)

#endif
