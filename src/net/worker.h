/* A network back end's own thread: the libslirp loop, the guestfwd relay.
 * Each sleeps in poll() with wake_fd (an eventfd) among its fds; other
 * threads write to it to hand over work or to stop it.  The thread blocks
 * SIGPIPE: a peer that has gone away makes a write fail with EPIPE there,
 * never kills the process, whatever the embedding program does with the
 * signal. */
#ifndef GUEST_NET_WORKER_H
#define GUEST_NET_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "error.h"

struct net_worker {
    const char *name; /* for messages and the thread's name */
    int wake_fd;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    void (*run)(void *opaque); /* returns when net_worker_stopping() */
    void *opaque;
};

int net_worker_init(struct net_worker *worker, const char *name, void (*run)(void *opaque),
                    void *opaque, struct error *error);
int net_worker_start(struct net_worker *worker, struct error *error);
/* Makes the thread's poll() return (from any thread, any number of times). */
void net_worker_wake(struct net_worker *worker);
/* In the thread, after poll(): consumes the wake-ups. */
void net_worker_woken(struct net_worker *worker);
bool net_worker_stopping(struct net_worker *worker);
/* Asks the thread to stop and joins it: it stops at its next poll() return,
 * which the wake-up makes immediate (idempotent; start may follow). */
void net_worker_stop(struct net_worker *worker);
/* Stops, and closes wake_fd. */
void net_worker_destroy(struct net_worker *worker);

#endif
