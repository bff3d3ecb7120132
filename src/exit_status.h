/* How the VMM's exit status reports the guest's end (documented in README). */
#ifndef GUEST_EXIT_STATUS_H
#define GUEST_EXIT_STATUS_H

enum guest_exit_status {
    GUEST_EXIT_POWEROFF = 0, /* the guest powered off */
    GUEST_EXIT_ERROR = 1,    /* bad option or file, or the VMM could not run the VM */
    GUEST_EXIT_REBOOT = 3,   /* the guest rebooted (reset register, 8042, triple fault) */
    GUEST_EXIT_CRASH = 4,    /* KVM could not run the guest (internal error, failed entry) */
    GUEST_EXIT_QUIT = 5,     /* the user quit with the escape keys (Ctrl-A x) */
    GUEST_EXIT_PANIC = 6,    /* the guest kernel said it panicked (pvpanic) */
    GUEST_EXIT_KILLED = 7,   /* a debugger killed the VM (gdb's kill) */
    GUEST_EXIT_SANDBOX = 8,  /* a VMM thread made a system call its sandbox forbids */
    /* --exec: the command's status is the VMM's; 125 when the guest ended
     * without giving one (as the init's own set-up failures do) */
    GUEST_EXIT_EXEC_NO_STATUS = 125,
    /* 128 + N: ended by signal N (SIGTERM, SIGINT, SIGHUP) */
};

#endif
