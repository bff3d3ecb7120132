/* The sandbox: once the VM is set up, each thread of the VMM may ask the
 * kernel only for what its job needs.  Every thread kind has its own seccomp
 * allow-list (system calls and, for ioctl, the request numbers), which the
 * thread loads itself after its set-up and before it touches the guest:
 * filters belong to threads, so a device thread's bug cannot reach what only
 * the vCPUs may do.  Loading one also sets no_new_privs and drops the
 * thread's capabilities.  A call outside the list ends the VMM with one line
 * naming the thread and the call (sandbox.c says why a trap, not a kill). */
#ifndef GUEST_SANDBOX_H
#define GUEST_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"

enum sandbox_mode {
    SANDBOX_OFF,     /* --no-sandbox: no filter, capabilities kept (debugging) */
    SANDBOX_ENFORCE, /* the default: a forbidden call ends the VMM */
    SANDBOX_LOG,     /* --seccomp=log: forbidden calls run, and the kernel logs them */
};

/* The thread kinds, each with its own allow-list. */
enum sandbox_role {
    SANDBOX_MAIN,       /* waits for the end, reports, tears down */
    SANDBOX_VCPU,       /* KVM_RUN and the device registers it traps to */
    SANDBOX_EVENT_LOOP, /* shared device queues, console, timers, GDB and QMP */
    SANDBOX_DISK,       /* one per disk: reads and writes its image */
    SANDBOX_SHARE,      /* one per --share: the FUSE server's host directory */
    SANDBOX_NET,        /* a NIC's back end: tap, or user-mode networking's sockets */
    SANDBOX_VNC,        /* the VNC server */
    SANDBOX_SDL,        /* the SDL window (X11/Wayland client libraries) */
    SANDBOX_ROLE_COUNT
};

/* Before any thread starts: checks that the kernel filters system calls,
 * installs the handler that reports a forbidden call.  With SANDBOX_OFF it
 * does nothing, and every later sandbox_enter only names the thread. */
int sandbox_prepare(enum sandbox_mode mode, struct error *error);

/* --user USER[:GROUP] (names or numbers; the group defaults to the user's
 * own).  Resolved before the VM is set up, so a bad name is the option's
 * error; sandbox_prepare must know it is coming (the SDL thread, confined
 * early, then takes part in the switch glibc makes in every thread). */
struct sandbox_user {
    bool given;
    uid_t uid;
    gid_t gid;
};
int sandbox_resolve_user(const char *spec, struct sandbox_user *user, struct error *error);
void sandbox_expect_user_change(void);

/* Becomes user for good (groups, then gid, then uid; all threads, as glibc
 * does it), once every file, socket and device is open. */
int sandbox_change_user(const struct sandbox_user *user, struct error *error);

enum sandbox_mode sandbox_mode(void);

/* --test-devices: pc-testdev's page flush toggles a guest page's execute
 * permission (test_devices.c says why) on the vCPU that asked, which the
 * vCPU list otherwise refuses.  Before the vCPU threads start. */
void sandbox_allow_guest_page_flush(void);

/* In the calling thread: names it (as ps and the report show it; NULL keeps
 * the name, for the main thread, whose name is the process's), drops its
 * capabilities and loads its role's filter.  A thread that cannot be
 * confined must not go on: this ends the VMM with a message. */
void sandbox_enter(enum sandbox_role role, const char *thread_name);

const char *sandbox_role_name(enum sandbox_role role);

#endif
