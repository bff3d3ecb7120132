/* Errors below main.c are returned, not printed: a function that fails fills a
 * struct error with one human-readable line and returns -1; main.c prints it. */
#ifndef GUEST_ERROR_H
#define GUEST_ERROR_H

#include <stdarg.h>
#include <stdio.h>

struct error {
    char message[512];
};

__attribute__((format(printf, 2, 3))) static inline int error_set(struct error *error,
                                                                   const char *format, ...)
{
    if (error) {
        va_list args;
        va_start(args, format);
        vsnprintf(error->message, sizeof(error->message), format, args);
        va_end(args);
    }
    return -1;
}

#endif
