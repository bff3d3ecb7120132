#include "event_loop.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sandbox.h"

int event_loop_init(struct event_loop *loop, struct error *error)
{
    memset(loop, 0, sizeof(*loop));
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->epoll_fd < 0 || loop->wake_fd < 0)
        return error_set(error, "event loop: %s", strerror(errno));
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &event) < 0)
        return error_set(error, "event loop: %s", strerror(errno));
    return 0;
}

int event_loop_watch(struct event_loop *loop, struct event_source *source, uint32_t events)
{
    struct epoll_event event = {.events = events, .data.ptr = source};
    return epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, source->fd, &event);
}

int event_loop_rewatch(struct event_loop *loop, struct event_source *source, uint32_t events)
{
    struct epoll_event event = {.events = events, .data.ptr = source};
    return epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, source->fd, &event);
}

void event_loop_forget(struct event_loop *loop, struct event_source *source)
{
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, source->fd, NULL);
}

static void *event_loop_thread(void *opaque)
{
    struct event_loop *loop = opaque;
    struct epoll_event events[16];
    sandbox_enter(SANDBOX_EVENT_LOOP, "event-loop");
    while (!__atomic_load_n(&loop->stop, __ATOMIC_ACQUIRE)) {
        int count = epoll_wait(loop->epoll_fd, events, 16, -1);
        if (count < 0) {
            if (errno == EINTR)
                continue;
            log_message("event loop: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < count; i++) {
            struct event_source *source = events[i].data.ptr;
            if (source)
                source->handler(source, events[i].events);
        }
    }
    return NULL;
}

int event_loop_start(struct event_loop *loop, struct error *error)
{
    int status = pthread_create(&loop->thread, NULL, event_loop_thread, loop);
    if (status)
        return error_set(error, "cannot start the event loop thread: %s", strerror(status));
    loop->running = true;
    return 0;
}

void event_loop_stop(struct event_loop *loop)
{
    event_loop_stop_interrupting(loop, 0);
}

void event_loop_stop_interrupting(struct event_loop *loop, int signal_number)
{
    if (!loop->running)
        return;
    __atomic_store_n(&loop->stop, true, __ATOMIC_RELEASE);
    uint64_t one = 1;
    if (write(loop->wake_fd, &one, sizeof(one)) < 0)
        log_message("event loop: wake: %s", strerror(errno));
    /* A handler may be blocked in a write to a terminal or pipe nobody
     * drains (the guest's console output): the signal makes that write fail
     * with EINTR, and the writer gives up once it sees the VM stopping.
     * Sent again every 10 ms, since one that lands just before the write
     * begins is lost. */
    while (signal_number) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_nsec += 10000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        if (pthread_timedjoin_np(loop->thread, NULL, &deadline) != ETIMEDOUT) {
            loop->running = false;
            return;
        }
        pthread_kill(loop->thread, signal_number);
    }
    pthread_join(loop->thread, NULL);
    loop->running = false;
}

void event_loop_destroy(struct event_loop *loop)
{
    event_loop_stop(loop);
    if (loop->epoll_fd >= 0)
        close(loop->epoll_fd);
    if (loop->wake_fd >= 0)
        close(loop->wake_fd);
    loop->epoll_fd = loop->wake_fd = -1;
}
