#include "console.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"

static struct termios saved_terminal;
static volatile sig_atomic_t terminal_is_raw;

void console_restore_terminal(void)
{
    if (terminal_is_raw) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
        terminal_is_raw = 0;
    }
}

static void console_crash_handler(int signal_number)
{
    console_restore_terminal(); /* tcsetattr is async-signal-safe */
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

void console_enter_raw_mode(void)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_terminal) < 0)
        return;
    struct termios raw = saved_terminal;
    /* Raw input (no echo, no line editing, no signals from ^C: they belong to
     * the guest), but output processing stays on so our own messages keep
     * their line breaks. */
    raw.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    raw.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    raw.c_cflag &= ~(CSIZE | PARENB);
    raw.c_cflag |= CS8;
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) < 0)
        return;
    terminal_is_raw = 1;
    atexit(console_restore_terminal);
    static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        signal(crash_signals[i], console_crash_handler);
}

enum console_escape_result console_escape_feed(struct console_escape *escape, uint8_t byte,
                                               uint8_t out[2], size_t *out_count)
{
    *out_count = 0;
    if (!escape->after_escape) {
        if (byte == CONSOLE_ESCAPE_KEY) {
            escape->after_escape = true;
            return CONSOLE_ESCAPE_NONE;
        }
        out[(*out_count)++] = byte;
        return CONSOLE_ESCAPE_NONE;
    }
    escape->after_escape = false;
    switch (byte) {
    case 'x':
    case 'X':
        return CONSOLE_ESCAPE_QUIT;
    case 'h':
    case 'H':
    case '?':
        return CONSOLE_ESCAPE_HELP;
    case CONSOLE_ESCAPE_KEY:
        out[(*out_count)++] = CONSOLE_ESCAPE_KEY;
        return CONSOLE_ESCAPE_NONE;
    default:
        out[(*out_count)++] = CONSOLE_ESCAPE_KEY;
        out[(*out_count)++] = byte;
        return CONSOLE_ESCAPE_NONE;
    }
}

/* Called by the port under its lock (so pause and resume keep their order).
 * A paused input is taken out of epoll altogether: a pipe whose writer has
 * gone would otherwise report EPOLLHUP, and wake us, forever. */
void console_input_flow(void *opaque, bool accept)
{
    struct console *console = opaque;
    if (atomic_load(&console->input_closed))
        return;
    if (accept)
        event_loop_watch(console->loop, &console->input, EPOLLIN);
    else
        event_loop_forget(console->loop, &console->input);
}

static void console_on_input(struct event_source *source, uint32_t events)
{
    struct console *console = source->opaque;
    (void)events;
    size_t room = console->port.input_room(console->port.port);
    if (room == 0)
        return; /* paused: the port resumes us when the guest listens or drains */
    uint8_t buffer[256];
    if (room > sizeof(buffer) / 2)
        room = sizeof(buffer) / 2; /* each byte may expand to two */
    ssize_t count = read(source->fd, buffer, room);
    if (count < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (count <= 0) {
        /* End of input: the guest keeps running; there is just no more to type. */
        atomic_store(&console->input_closed, true);
        event_loop_forget(console->loop, source);
        return;
    }
    if (!console->interactive) {
        console->port.receive(console->port.port, buffer, (size_t)count);
        return;
    }
    uint8_t to_guest[512];
    size_t to_guest_count = 0;
    for (ssize_t i = 0; i < count; i++) {
        uint8_t out[2];
        size_t out_count;
        switch (console_escape_feed(&console->escape, buffer[i], out, &out_count)) {
        case CONSOLE_ESCAPE_QUIT:
            console->quit(console->quit_opaque);
            return;
        case CONSOLE_ESCAPE_HELP:
            fprintf(stderr, "\r\nguest: Ctrl-A x  quit    Ctrl-A Ctrl-A  send Ctrl-A    "
                            "Ctrl-A h  this help\r\n");
            break;
        case CONSOLE_ESCAPE_NONE:
            break;
        }
        memcpy(to_guest + to_guest_count, out, out_count);
        to_guest_count += out_count;
    }
    console->port.receive(console->port.port, to_guest, to_guest_count);
}

int console_start(struct console *console, struct event_loop *loop, struct console_port port,
                  void (*quit)(void *), void *quit_opaque, struct error *error)
{
    memset(console, 0, sizeof(*console));
    console->loop = loop;
    console->port = port;
    console->quit = quit;
    console->quit_opaque = quit_opaque;
    console->interactive = isatty(STDIN_FILENO);
    console->input = (struct event_source){STDIN_FILENO, console_on_input, console};
    if (event_loop_watch(loop, &console->input, EPOLLIN) < 0) {
        /* A regular file or /dev/null cannot be polled: no input, then. */
        if (errno == EPERM)
            return 0;
        return error_set(error, "standard input: %s", strerror(errno));
    }
    return 0;
}
