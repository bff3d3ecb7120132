/* Per-thread seccomp allow-lists (sandbox.h).
 *
 * Why SECCOMP_RET_TRAP and a handler rather than SECCOMP_RET_KILL_PROCESS:
 * a kill leaves the user with "Bad system call" and a raw terminal, and the
 * thread and the call are then only in the audit log.  The trap's handler
 * writes one line naming both, gives the terminal back and ends the process;
 * the forbidden call itself never runs either way.  A compromised thread
 * gains nothing by blocking or catching SIGSYS: the kernel unblocks it (and
 * resets its handler) when it is blocked, and a caught SIGSYS still skips the
 * call.
 *
 * The lists are written from what the code calls (and checked by running
 * every test under them; --seccomp=log finds what a new feature needs).
 * Common to all: memory management without PROT_EXEC (no thread but the SDL
 * one maps code after set-up), futexes, signals to this process only, clocks,
 * reads and writes on descriptors the thread already holds, and the terminal
 * restore that every exit path does.  clone3 fails with ENOSYS everywhere,
 * so a library that starts a thread takes glibc's clone fallback, whose flags
 * the filter can see. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <linux/capability.h>
#include <linux/kvm.h>
#include <linux/vhost.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "console.h"
#include "exit_status.h"
#include "log.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZED 1
#endif
#endif
#ifndef SANDBOX_SANITIZED
#define SANDBOX_SANITIZED 0
#endif

static enum sandbox_mode current_mode = SANDBOX_OFF;
static pid_t process_id;
static bool user_change_coming, user_changed;
static bool guest_page_flush;

/* What the SIGSYS handler prints: set before the filter, read in the handler. */
static __thread char thread_name[16] = "?";
static __thread enum sandbox_role thread_role = SANDBOX_MAIN;

/* System call names, resolved once before any filter: the handler may run
 * inside malloc (a forbidden mmap), so it must not allocate. */
#define SANDBOX_MAX_SYSCALL 512
static const char *syscall_names[SANDBOX_MAX_SYSCALL];

static const char *const role_names[SANDBOX_ROLE_COUNT] = {
    [SANDBOX_MAIN] = "main",     [SANDBOX_VCPU] = "vcpu", [SANDBOX_EVENT_LOOP] = "event loop",
    [SANDBOX_DISK] = "disk",     [SANDBOX_NET] = "net",   [SANDBOX_VNC] = "vnc",
    [SANDBOX_SDL] = "sdl",       [SANDBOX_SHARE] = "share",
};

const char *sandbox_role_name(enum sandbox_role role)
{
    return role < SANDBOX_ROLE_COUNT ? role_names[role] : "?";
}

enum sandbox_mode sandbox_mode(void)
{
    return current_mode;
}

void sandbox_allow_guest_page_flush(void)
{
    guest_page_flush = true;
}

/* --- the violation report: async-signal-safe, no stdio, no malloc --- */

struct line {
    char text[320];
    size_t length;
};

static void line_add(struct line *line, const char *text)
{
    while (*text && line->length < sizeof(line->text) - 1)
        line->text[line->length++] = *text++;
}

static void line_add_number(struct line *line, unsigned long value, unsigned base)
{
    char digits[24];
    int count = 0;
    do {
        digits[count++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value);
    if (base == 16)
        line_add(line, "0x");
    while (count > 0 && line->length < sizeof(line->text) - 1)
        line->text[line->length++] = digits[--count];
}

static void sandbox_violation(int signal_number, siginfo_t *info, void *context)
{
    (void)signal_number;
    int number = info->si_syscall;
    struct line line = {.length = 0};
    line_add(&line, "guest: sandbox: thread ");
    line_add(&line, thread_name);
    line_add(&line, " (");
    line_add(&line, sandbox_role_name(thread_role));
    line_add(&line, ") made a system call outside its allow-list: ");
    line_add(&line, number >= 0 && number < SANDBOX_MAX_SYSCALL && syscall_names[number]
                        ? syscall_names[number]
                        : "unknown");
    line_add(&line, " (");
    line_add_number(&line, (unsigned long)number, 10);
    line_add(&line, ")");
    if (number == SYS_ioctl && context) {
        const ucontext_t *user = context;
        line_add(&line, " request ");
        line_add_number(&line, (unsigned long)user->uc_mcontext.gregs[REG_RSI] & 0xffffffffu, 16);
    }
    line_add(&line, "; the VMM stops (--seccomp=log lets such calls run and logs them)\n");
    ssize_t written = write(STDERR_FILENO, line.text, line.length);
    (void)written;
    console_restore_terminal();
    _exit(GUEST_EXIT_SANDBOX);
}

int sandbox_prepare(enum sandbox_mode mode, struct error *error)
{
    current_mode = mode;
    if (mode == SANDBOX_OFF)
        return 0;
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
        return error_set(error, "sandbox: this kernel has no seccomp (CONFIG_SECCOMP); "
                                "--no-sandbox runs without it");
    process_id = getpid();
    /* glibc reads /etc/localtime the first time any time conversion runs,
     * gmtime_r included (the RTC's, on a vCPU thread): now, while files may
     * still be opened. */
    tzset();
    for (int number = 0; number < SANDBOX_MAX_SYSCALL; number++) {
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, number);
        syscall_names[number] = name; /* kept for the process's life */
    }
    struct sigaction action = {.sa_sigaction = sandbox_violation, .sa_flags = SA_SIGINFO};
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGSYS, &action, NULL) < 0)
        return error_set(error, "sandbox: sigaction: %s", strerror(errno));
    return 0;
}

/* This thread's bounding set emptied.  EPERM (no CAP_SETPCAP: not root, or
 * the user switched already) and EINVAL (a capability this kernel lacks)
 * leave nothing to drop. */
static int sandbox_empty_bounding_set(void)
{
    for (int capability = 0; capability <= CAP_LAST_CAP; capability++)
        if (prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) < 0 && errno != EINVAL &&
            errno != EPERM)
            return -1;
    return 0;
}

/* --- the user --- */

static bool parse_id(const char *text, unsigned long *id)
{
    if (!*text || strspn(text, "0123456789") != strlen(text) || strlen(text) > 9)
        return false;
    *id = strtoul(text, NULL, 10);
    return true;
}

int sandbox_resolve_user(const char *spec, struct sandbox_user *user, struct error *error)
{
    char name[256];
    if (strlen(spec) >= sizeof(name))
        return error_set(error, "--user: too long");
    strcpy(name, spec);
    char *group = strchr(name, ':');
    if (group)
        *group++ = '\0';
    if (!*name || (group && !*group))
        return error_set(error, "--user %s: not USER or USER:GROUP", spec);
    char buffer[4096];
    unsigned long id;
    struct passwd entry, *found = NULL;
    if (parse_id(name, &id)) {
        user->uid = (uid_t)id;
        getpwuid_r(user->uid, &entry, buffer, sizeof(buffer), &found);
    } else {
        getpwnam_r(name, &entry, buffer, sizeof(buffer), &found);
        if (!found)
            return error_set(error, "--user %s: no such user", spec);
        user->uid = found->pw_uid;
    }
    if (group) {
        struct group group_entry, *group_found = NULL;
        if (parse_id(group, &id)) {
            user->gid = (gid_t)id;
        } else {
            getgrnam_r(group, &group_entry, buffer, sizeof(buffer), &group_found);
            if (!group_found)
                return error_set(error, "--user %s: no such group", spec);
            user->gid = group_found->gr_gid;
        }
    } else if (found) {
        user->gid = found->pw_gid;
    } else {
        return error_set(error, "--user %s: a user id with no passwd entry needs its group "
                                "(--user %s:GROUP)",
                         spec, spec);
    }
    if (user->uid == 0)
        return error_set(error, "--user %s: is root, which keeps every privilege", spec);
    user->given = true;
    return 0;
}

void sandbox_expect_user_change(void)
{
    user_change_coming = true;
}

int sandbox_change_user(const struct sandbox_user *user, struct error *error)
{
    if (!user->given)
        return 0;
    /* The bounding set first, while CAP_SETPCAP is still there: the threads
     * started from here on inherit it empty. */
    sandbox_empty_bounding_set();
    /* glibc makes each of these calls in every thread of the process. */
    if (setgroups(1, &user->gid) < 0 && !(errno == EPERM && getegid() == user->gid))
        return error_set(error, "--user: cannot set the groups: %s", strerror(errno));
    if (setresgid(user->gid, user->gid, user->gid) < 0)
        return error_set(error, "--user: cannot become group %u: %s", (unsigned)user->gid,
                         strerror(errno));
    if (setresuid(user->uid, user->uid, user->uid) < 0)
        return error_set(error, "--user: cannot become user %u: %s", (unsigned)user->uid,
                         strerror(errno));
    uid_t real, effective, saved;
    if (getresuid(&real, &effective, &saved) < 0 || real != user->uid ||
        effective != user->uid || saved != user->uid)
        return error_set(error, "--user: still not user %u after setresuid", (unsigned)user->uid);
    user_changed = true;
    return 0;
}

/* --- capabilities --- */

/* This thread's capabilities go, bounding set included: nothing after set-up
 * needs a privilege (the files, the tap and /dev/kvm are open already).
 * Capabilities are per thread, like filters, so each thread drops its own. */
static int sandbox_drop_capabilities(void)
{
    if (sandbox_empty_bounding_set() < 0)
        return -1;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    return (int)syscall(SYS_capset, &header, data);
}

/* --- the filters --- */

struct filter {
    scmp_filter_ctx context;
    int failed; /* the first rule libseccomp refused */
};

static void allow(struct filter *filter, int number)
{
    int status = seccomp_rule_add(filter->context, SCMP_ACT_ALLOW, number, 0);
    if (status && status != -EEXIST && !filter->failed)
        filter->failed = status;
}

static void allow_if(struct filter *filter, int number, struct scmp_arg_cmp condition)
{
    int status = seccomp_rule_add(filter->context, SCMP_ACT_ALLOW, number, 1, condition);
    if (status && status != -EEXIST && !filter->failed)
        filter->failed = status;
}

static void allow_if2(struct filter *filter, int number, struct scmp_arg_cmp first,
                      struct scmp_arg_cmp second)
{
    int status = seccomp_rule_add(filter->context, SCMP_ACT_ALLOW, number, 2, first, second);
    if (status && status != -EEXIST && !filter->failed)
        filter->failed = status;
}

static void refuse(struct filter *filter, int number, int error_number)
{
    int status = seccomp_rule_add(filter->context, SCMP_ACT_ERRNO(error_number), number, 0);
    if (status && status != -EEXIST && !filter->failed)
        filter->failed = status;
}

static void allow_calls(struct filter *filter, const int *numbers, size_t count)
{
    for (size_t i = 0; i < count; i++)
        allow(filter, numbers[i]);
}

#define ALLOW_CALLS(filter, list) allow_calls(filter, list, sizeof(list) / sizeof(list[0]))

/* The kernel reads an ioctl's request as 32 bits; compare only those. */
static void allow_ioctls(struct filter *filter, const unsigned long *requests, size_t count)
{
    for (size_t i = 0; i < count; i++)
        allow_if(filter, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, requests[i]));
}

#define ALLOW_IOCTLS(filter, list) allow_ioctls(filter, list, sizeof(list) / sizeof(list[0]))

/* What a running VM asks of KVM (and of vhost and tun, whose rings follow
 * the guest's driver): the vCPU's own state, interrupts, doorbells, the
 * clock across a pause.  Creating VMs, vCPUs or memory slots is not here. */
static const unsigned long running_vm_ioctls[] = {
    KVM_RUN,           KVM_GET_REGS,       KVM_SET_REGS,       KVM_GET_SREGS,
    KVM_SET_SREGS,     KVM_GET_FPU,        KVM_SET_FPU,        KVM_GET_MSRS,
    KVM_SET_MSRS,      KVM_TRANSLATE,      KVM_SET_GUEST_DEBUG, KVM_KVMCLOCK_CTRL,
    KVM_GET_MP_STATE,  KVM_GET_VCPU_EVENTS, KVM_CHECK_EXTENSION, KVM_IRQ_LINE,
    KVM_IRQ_LINE_STATUS, KVM_IRQFD,        KVM_IOEVENTFD,      KVM_SET_GSI_ROUTING,
    KVM_SIGNAL_MSI,    KVM_GET_CLOCK,      KVM_SET_CLOCK,      VHOST_GET_FEATURES,
    VHOST_SET_FEATURES, VHOST_SET_MEM_TABLE, VHOST_SET_VRING_NUM, VHOST_SET_VRING_BASE,
    VHOST_GET_VRING_BASE, VHOST_SET_VRING_ADDR, VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL,
    VHOST_NET_SET_BACKEND, TUNSETOFFLOAD,
};

static void allow_common(struct filter *filter, bool maps_code)
{
    static const int calls[] = {
        SCMP_SYS(read),          SCMP_SYS(write),        SCMP_SYS(readv),
        SCMP_SYS(writev),        SCMP_SYS(close),        SCMP_SYS(futex),
        SCMP_SYS(rt_sigreturn),  SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
        SCMP_SYS(restart_syscall), SCMP_SYS(exit),       SCMP_SYS(exit_group),
        SCMP_SYS(madvise),       SCMP_SYS(munmap),       SCMP_SYS(brk),
        SCMP_SYS(mremap),        SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres),
        SCMP_SYS(gettimeofday),  SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
        SCMP_SYS(sched_yield),   SCMP_SYS(getpid),       SCMP_SYS(gettid),
        SCMP_SYS(getrandom),     SCMP_SYS(fstat),        SCMP_SYS(sigaltstack),
        SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
        /* Waking the SDL window (SDL_PushEvent) flushes Xlib's socket from
         * whichever thread has news for the screen, a vCPU's UART too; Xlib
         * polls when the socket is full. */
        SCMP_SYS(poll),          SCMP_SYS(ppoll),
    };
    ALLOW_CALLS(filter, calls);
    if (maps_code) {
        allow(filter, SCMP_SYS(mmap));
        allow(filter, SCMP_SYS(mprotect));
    } else {
        allow_if(filter, SCMP_SYS(mmap), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
        allow_if(filter, SCMP_SYS(mprotect), SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    }
    /* glibc's fstat is fstatat(fd, "", AT_EMPTY_PATH): a descriptor, no path. */
    allow_if(filter, SCMP_SYS(newfstatat), SCMP_A3(SCMP_CMP_EQ, AT_EMPTY_PATH));
    /* Signals only to this process's own threads (vCPU kicks, raise). */
    allow_if(filter, SCMP_SYS(tgkill), SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)process_id));
    /* isatty on any descriptor; the terminal's settings back on stdin. */
    allow_if(filter, SCMP_SYS(ioctl), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TCGETS));
    static const unsigned long terminal_sets[] = {TCSETS, TCSETSW, TCSETSF};
    for (size_t i = 0; i < 3; i++)
        allow_if2(filter, SCMP_SYS(ioctl), SCMP_A0(SCMP_CMP_EQ, STDIN_FILENO),
                  SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, terminal_sets[i]));
    refuse(filter, SCMP_SYS(clone3), ENOSYS);
}

/* LeakSanitizer's check at exit, in the main thread of the test build
 * (build/guest-asan) only: it reads /proc, stops the threads with ptrace
 * from a helper it clones, and symbolizes what it found.  The other threads
 * get no such extras, so the tests see their lists as shipped; an ASan report
 * in one of them is cut short at its first file access (by this sandbox's
 * own message): --no-sandbox gives the whole report. */
static void allow_leak_check(struct filter *filter)
{
    allow_if(filter, SCMP_SYS(openat), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY));
    allow_if(filter, SCMP_SYS(open), SCMP_A1(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY));
    static const int calls[] = {
        SCMP_SYS(readlink),  SCMP_SYS(readlinkat), SCMP_SYS(getdents64), SCMP_SYS(getdents),
        SCMP_SYS(prctl),     SCMP_SYS(sched_getaffinity), SCMP_SYS(prlimit64),
        SCMP_SYS(getrlimit), SCMP_SYS(uname),      SCMP_SYS(lseek),     SCMP_SYS(pread64),
        SCMP_SYS(newfstatat), SCMP_SYS(stat),      SCMP_SYS(lstat),     SCMP_SYS(access),
        SCMP_SYS(clone),     SCMP_SYS(ptrace),     SCMP_SYS(wait4),     SCMP_SYS(waitid),
        SCMP_SYS(kill),      SCMP_SYS(getppid),
    };
    ALLOW_CALLS(filter, calls);
}

static void allow_waiting(struct filter *filter)
{
    static const int calls[] = {
        SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
        SCMP_SYS(timerfd_settime),
        SCMP_SYS(timerfd_gettime),
    };
    ALLOW_CALLS(filter, calls);
}

/* Writing a picture (a screenshot, QMP's screendump): a new file next to the
 * target, renamed over it.  Write-only: no thread opens a file to read. */
static void allow_writing_pictures(struct filter *filter)
{
    allow_if(filter, SCMP_SYS(openat), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_WRONLY));
    static const int calls[] = {SCMP_SYS(rename), SCMP_SYS(renameat), SCMP_SYS(renameat2),
                                SCMP_SYS(unlink), SCMP_SYS(unlinkat)};
    ALLOW_CALLS(filter, calls);
}

/* What typed keys and pointer moves do on their way in: the UART's and the
 * virtio devices' interrupts. */
static const unsigned long input_ioctls[] = {KVM_IRQ_LINE, KVM_IRQ_LINE_STATUS, KVM_SIGNAL_MSI};

/* Talking over sockets the thread was handed or accepted. */
static void allow_connected_sockets(struct filter *filter)
{
    static const int calls[] = {
        SCMP_SYS(accept4),     SCMP_SYS(accept),      SCMP_SYS(recvfrom),
        SCMP_SYS(sendto),      SCMP_SYS(recvmsg),     SCMP_SYS(sendmsg),
        SCMP_SYS(shutdown),    SCMP_SYS(getsockopt),  SCMP_SYS(setsockopt),
        SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(fcntl),
    };
    ALLOW_CALLS(filter, calls);
    static const unsigned long requests[] = {FIONREAD, FIONBIO};
    ALLOW_IOCTLS(filter, requests);
}

/* A display back end: its sockets (the VNC clients, the X server), and the
 * input it hands the guest. */
static void allow_display(struct filter *filter)
{
    allow_waiting(filter);
    allow_connected_sockets(filter);
    allow(filter, SCMP_SYS(select));
    allow(filter, SCMP_SYS(pselect6));
    ALLOW_IOCTLS(filter, input_ioctls);
}

static void allow_role(struct filter *filter, enum sandbox_role role)
{
    switch (role) {
    case SANDBOX_VCPU:
        /* Device registers are handled on the vCPU that trapped: they raise
         * interrupts, (un)register doorbells, arm the RTC's timer and
         * rewatch queues; a pause parks here. */
        ALLOW_IOCTLS(filter, running_vm_ioctls);
        if (guest_page_flush) /* a test mode: mapping code stays refused */
            allow_if(filter, SCMP_SYS(mprotect),
                     SCMP_A2(SCMP_CMP_EQ, PROT_READ | PROT_WRITE | PROT_EXEC));
        allow(filter, SCMP_SYS(epoll_ctl));
        allow(filter, SCMP_SYS(timerfd_settime));
        allow(filter, SCMP_SYS(timerfd_gettime));
        break;
    case SANDBOX_EVENT_LOOP:
        ALLOW_IOCTLS(filter, running_vm_ioctls);
        allow_waiting(filter);
        allow_connected_sockets(filter);
        allow_writing_pictures(filter);
        break;
    case SANDBOX_MAIN:
        /* The end: the SIGQUIT report reads vCPUs, the back ends let go of
         * vhost, the exit's screenshot is written, sockets are unlinked. */
        ALLOW_IOCTLS(filter, running_vm_ioctls);
        allow_waiting(filter);
        allow_connected_sockets(filter);
        allow_writing_pictures(filter);
        allow(filter, SCMP_SYS(rmdir)); /* guestfwd's socket directory */
        if (SANDBOX_SANITIZED)
            allow_leak_check(filter);
        break;
    case SANDBOX_DISK: {
        allow_waiting(filter);
        static const int calls[] = {
            SCMP_SYS(preadv),  SCMP_SYS(pwritev),   SCMP_SYS(pread64), SCMP_SYS(pwrite64),
            SCMP_SYS(fdatasync), SCMP_SYS(fsync),   SCMP_SYS(fallocate),
        };
        ALLOW_CALLS(filter, calls);
        break;
    }
    case SANDBOX_SHARE: {
        /* The FUSE server (test_fuse_server holds it to exactly these): every
         * call is relative to a descriptor it holds for a node inside the
         * share (fs/fuse_server.c says how that keeps the guest inside);
         * seccomp cannot check paths, so the calls are the file system's, and
         * the server is what holds the line.  No sockets, no exec, no ioctl. */
        allow_waiting(filter);
        static const int calls[] = {
            SCMP_SYS(openat),     SCMP_SYS(openat2),    SCMP_SYS(newfstatat),
            SCMP_SYS(fstatfs),    SCMP_SYS(getdents64), SCMP_SYS(lseek),
            SCMP_SYS(preadv),     SCMP_SYS(pwritev),    SCMP_SYS(fsync),
            SCMP_SYS(fdatasync),  SCMP_SYS(fallocate),  SCMP_SYS(ftruncate),
            SCMP_SYS(fchmod),     SCMP_SYS(fchmodat),   SCMP_SYS(fchownat),
            SCMP_SYS(utimensat),  SCMP_SYS(faccessat2), SCMP_SYS(readlinkat),
            SCMP_SYS(symlinkat),  SCMP_SYS(linkat),     SCMP_SYS(mknodat),
            SCMP_SYS(mkdirat),    SCMP_SYS(unlinkat),   SCMP_SYS(renameat2),
            SCMP_SYS(getxattr),   SCMP_SYS(setxattr),   SCMP_SYS(listxattr),
            SCMP_SYS(removexattr),
        };
        ALLOW_CALLS(filter, calls);
        allow_if(filter, SCMP_SYS(fcntl), SCMP_A1(SCMP_CMP_EQ, F_SETFL));
        break;
    }
    case SANDBOX_NET:
        /* User-mode networking opens the guest's connections itself, and
         * libslirp rereads /etc/resolv.conf for its DNS proxy. */
        allow_waiting(filter);
        allow_connected_sockets(filter);
        allow_if(filter, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_INET));
        allow_if(filter, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_INET6));
        allow_if(filter, SCMP_SYS(socket), SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
        static const int connection_calls[] = {SCMP_SYS(connect), SCMP_SYS(bind),
                                               SCMP_SYS(listen)};
        ALLOW_CALLS(filter, connection_calls);
        allow_if(filter, SCMP_SYS(openat), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY));
        break;
    case SANDBOX_VNC:
        allow_display(filter);
        break;
    case SANDBOX_SDL:
        /* The window system's client libraries: a socket to the server,
         * shared memory with it, and threads and code of their own. */
        allow_display(filter);
        /* Xlib reads its compose tables and glibc its character-set
         * converters at the first key press, long after set-up. */
        allow_if(filter, SCMP_SYS(openat), SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE, O_RDONLY));
        allow_if(filter, SCMP_SYS(clone), SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
        static const int window_system_calls[] = {
            SCMP_SYS(lseek),    SCMP_SYS(newfstatat), SCMP_SYS(sysinfo),  SCMP_SYS(shmget),
            SCMP_SYS(shmat),    SCMP_SYS(shmdt),      SCMP_SYS(shmctl),   SCMP_SYS(memfd_create),
            SCMP_SYS(ftruncate), SCMP_SYS(eventfd2),  SCMP_SYS(pipe2),    SCMP_SYS(prctl),
            SCMP_SYS(uname),    SCMP_SYS(getuid),     SCMP_SYS(geteuid),
            SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_setaffinity), SCMP_SYS(set_tid_address),
        };
        ALLOW_CALLS(filter, window_system_calls);
        /* glibc's setxid broadcast reaches this thread too. */
        static const int user_change_calls[] = {SCMP_SYS(setgroups), SCMP_SYS(setresgid),
                                                SCMP_SYS(setresuid)};
        if (user_change_coming)
            ALLOW_CALLS(filter, user_change_calls);
        break;
    case SANDBOX_ROLE_COUNT:
        break;
    }
}

static void sandbox_fatal(const char *what, int error_number)
{
    log_message("sandbox: thread %s (%s): %s: %s; --no-sandbox runs without the sandbox",
                thread_name, sandbox_role_name(thread_role), what, strerror(error_number));
    console_restore_terminal();
    _exit(GUEST_EXIT_ERROR);
}

void sandbox_enter(enum sandbox_role role, const char *name)
{
    thread_role = role;
    if (name) {
        strncpy(thread_name, name, sizeof(thread_name) - 1);
        thread_name[sizeof(thread_name) - 1] = '\0';
        pthread_setname_np(pthread_self(), thread_name);
    } else { /* the main thread keeps the process's name */
        prctl(PR_GET_NAME, thread_name, 0, 0, 0);
    }
    if (current_mode == SANDBOX_OFF)
        return;
    /* A thread confined before --user takes effect keeps its capabilities
     * until then: glibc has every thread make the switch, and aborts when
     * one cannot (setresgid needs CAP_SETGID).  The switch to a user other
     * than root clears them in every thread. */
    if (!(user_change_coming && !user_changed) && sandbox_drop_capabilities() < 0)
        sandbox_fatal("dropping capabilities", errno);
    struct filter filter = {
        seccomp_init(current_mode == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP), 0};
    if (!filter.context)
        sandbox_fatal("seccomp_init", ENOMEM);
    allow_common(&filter, role == SANDBOX_SDL);
    allow_role(&filter, role);
    if (filter.failed)
        sandbox_fatal("a filter rule", -filter.failed);
    int status = seccomp_load(filter.context); /* sets no_new_privs too */
    seccomp_release(filter.context);
    if (status)
        sandbox_fatal("loading the filter", -status);
}
