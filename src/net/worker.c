#include "net/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sandbox.h"

int net_worker_init(struct net_worker *worker, const char *name, void (*run)(void *opaque),
                    void *opaque, struct error *error)
{
    memset(worker, 0, sizeof(*worker));
    worker->name = name;
    worker->run = run;
    worker->opaque = opaque;
    atomic_init(&worker->stop, false);
    worker->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (worker->wake_fd < 0)
        return error_set(error, "%s: eventfd: %s", name, strerror(errno));
    return 0;
}

static void *worker_thread(void *opaque)
{
    struct net_worker *worker = opaque;
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, NULL);
    sandbox_enter(SANDBOX_NET, worker->name);
    worker->run(worker->opaque);
    return NULL;
}

int net_worker_start(struct net_worker *worker, struct error *error)
{
    if (worker->running)
        return 0;
    atomic_store(&worker->stop, false);
    int failed = pthread_create(&worker->thread, NULL, worker_thread, worker);
    if (failed)
        return error_set(error, "%s: cannot start its thread: %s", worker->name,
                         strerror(failed));
    worker->running = true;
    return 0;
}

void net_worker_wake(struct net_worker *worker)
{
    uint64_t one = 1;
    /* EAGAIN only when the counter is at its maximum: awake already. */
    if (write(worker->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        return;
}

void net_worker_woken(struct net_worker *worker)
{
    uint64_t count;
    if (read(worker->wake_fd, &count, sizeof(count)) < 0)
        return; /* EAGAIN: nobody woke us */
}

bool net_worker_stopping(struct net_worker *worker)
{
    return atomic_load(&worker->stop);
}

void net_worker_stop(struct net_worker *worker)
{
    if (!worker->running)
        return;
    atomic_store(&worker->stop, true);
    net_worker_wake(worker);
    pthread_join(worker->thread, NULL);
    worker->running = false;
}

void net_worker_destroy(struct net_worker *worker)
{
    net_worker_stop(worker);
    if (worker->wake_fd >= 0)
        close(worker->wake_fd);
    worker->wake_fd = -1;
}
