/* The user's side of the serial console: the terminal (raw mode, restored on
 * every exit path) or plain pipes, and the escape keys (Ctrl-A x quits,
 * Ctrl-A h helps, Ctrl-A Ctrl-A sends Ctrl-A). */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event_loop.h"

#define CONSOLE_ESCAPE_KEY 0x01 /* Ctrl-A */

enum console_escape_result {
    CONSOLE_ESCAPE_NONE,
    CONSOLE_ESCAPE_QUIT,
    CONSOLE_ESCAPE_HELP,
};

/* The escape-key state machine, separate so it can be tested: feeds one input
 * byte, writes up to 2 bytes to pass to the guest into out, sets *out_count. */
struct console_escape {
    bool after_escape;
};
enum console_escape_result console_escape_feed(struct console_escape *escape, uint8_t byte,
                                               uint8_t out[2], size_t *out_count);

/* Where typed input goes: the UART, or virtio-console.  The port pauses and
 * resumes the console's input through console_input_flow(). */
struct console_port {
    size_t (*input_room)(void *port);
    size_t (*receive)(void *port, const uint8_t *bytes, size_t count);
    void *port;
};

struct console {
    struct event_source input;
    struct event_loop *loop;
    struct console_port port;
    struct console_escape escape;
    bool interactive; /* stdin is a terminal: raw mode and escape keys */
    atomic_bool input_closed;
    void (*quit)(void *opaque);
    void *quit_opaque;
};

/* Puts the terminal in raw mode when stdin is one; the original mode comes
 * back at exit, on a terminating signal, or on a crash. */
void console_enter_raw_mode(void);
void console_restore_terminal(void);

int console_start(struct console *console, struct event_loop *loop, struct console_port port,
                  void (*quit)(void *), void *quit_opaque, struct error *error);

/* The port's flow control: accept = false pauses reading the terminal until
 * the port calls this again with true.  Safe from any thread. */
void console_input_flow(void *console, bool accept);

#endif
