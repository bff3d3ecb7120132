/* One thread around epoll for everything asynchronous (terminal input now;
 * device queues and displays later).  Sources are owned by their devices, so
 * adding and dispatching allocate nothing. */
#ifndef GUEST_EVENT_LOOP_H
#define GUEST_EVENT_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct event_source {
    int fd;
    void (*handler)(struct event_source *source, uint32_t events);
    void *opaque;
};

struct event_loop {
    int epoll_fd;
    int wake_fd;
    pthread_t thread;
    bool running;
    bool stop;
};

int event_loop_init(struct event_loop *loop, struct error *error);
/* Watch source->fd for events (EPOLLIN...); 0 pauses it. */
int event_loop_watch(struct event_loop *loop, struct event_source *source, uint32_t events);
int event_loop_rewatch(struct event_loop *loop, struct event_source *source, uint32_t events);
void event_loop_forget(struct event_loop *loop, struct event_source *source);
int event_loop_start(struct event_loop *loop, struct error *error);
void event_loop_stop(struct event_loop *loop);
/* The same, and until the loop's thread has ended, signal_number is sent to
 * it every 10 ms (a handler installed without SA_RESTART makes a blocked
 * write fail with EINTR); 0 sends none. */
void event_loop_stop_interrupting(struct event_loop *loop, int signal_number);
void event_loop_destroy(struct event_loop *loop);

#endif
