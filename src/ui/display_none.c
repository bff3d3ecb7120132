/* No output: the guest's screen is kept only for screenshots (tests, and
 * machines without a screen that still want to see what the guest showed). */
#include "ui/display_backend.h"

static int display_none_open(struct display *display, const char *options, void **backend,
                             struct error *error)
{
    (void)options;
    (void)error;
    *backend = NULL;
    display_set_description(display, "no display (screenshots only)");
    return 0;
}

static int display_none_start(void *backend, struct error *error)
{
    (void)backend;
    (void)error;
    return 0;
}

static void display_none_wake(void *backend)
{
    (void)backend;
}

static void display_none_close(void *backend)
{
    (void)backend;
}

const struct display_backend_ops display_none_ops = {
    .open = display_none_open,
    .start = display_none_start,
    .wake = display_none_wake,
    .close = display_none_close,
};
