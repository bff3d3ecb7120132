/* exec-init: the /init of `guest --exec`, in the initramfs the VMM builds
 * (src/boot/exec_image.h describes it).  As PID 1 it loads the modules
 * listed in /exec/modules, mounts the host's / (virtio-fs) read-only with a
 * tmpfs overlay over it so that writes vanish at exit, switches to it, runs
 * /exec/command with sh -c in /exec/cwd, reaps every process until that
 * command ends, and hands its status to the VMM with one byte written to
 * I/O port 0xf4.
 *
 * A static program of its own (gcc -static), since the guest has no libc
 * until the host's / is mounted.  Quiet unless something fails; what fails
 * is said on the console as "exec-init: ..." and the boot goes on when it
 * can.  When the command cannot be run at all the status says so:
 * 125 for the set-up (no root), 126 and 127 for /bin/sh as the shell says. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <linux/module.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define STATUS_PORT 0xf4
#define STATUS_SETUP_FAILED 125
#define STATUS_CANNOT_EXECUTE 126
#define STATUS_NOT_FOUND 127
#define ROOT_MOUNT "/newroot"
#define OVERLAY_MOUNT "/merged"
#define OVERLAY_SCRATCH "/overlay" /* the tmpfs holding the overlay's upper and work dirs */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define MAX_ENV 64
#define MAX_PARTS 8

/* What /exec/ says; read before the initramfs is left behind. */
struct settings {
    char *command;
    char *cwd;
    char *env[MAX_ENV + 2];
    char *root_tag;
    char *shares;  /* lines "TAG MOUNTPOINT [ro]" */
    char *modules; /* lines of paths */
};

/* One line on the console: "exec-init: " and the parts, NULL-terminated. */
static void say_parts(const char *const *parts)
{
    struct iovec iov[MAX_PARTS + 2];
    int count = 0;
    iov[count++] = (struct iovec){(void *)"exec-init: ", 11};
    for (; *parts && count <= MAX_PARTS; parts++)
        iov[count++] = (struct iovec){(void *)*parts, strlen(*parts)};
    iov[count++] = (struct iovec){(void *)"\n", 1};
    /* Nothing to do if the console itself fails. */
    if (writev(STDERR_FILENO, iov, count) < 0)
        return;
}

#define say(...) say_parts((const char *const[]){__VA_ARGS__, NULL})

/* "exec-init: WHAT OBJECT: the error" from errno. */
static void fail(const char *what, const char *object)
{
    say(what, " ", object, ": ", strerror(errno));
}

static void pause_ms(long ms)
{
    struct timespec delay = {0, ms * 1000000L};
    while (nanosleep(&delay, &delay) && errno == EINTR)
        ;
}

/* The console for stdio (devtmpfs's, once it is mounted): the kernel's
 * initial one comes from the archive's /dev/console, or is missing. */
static void open_console(void)
{
    int fd = open("/dev/console", O_RDWR | O_NOCTTY);
    if (fd < 0) {
        fail("cannot open", "/dev/console");
        return;
    }
    for (int target = 0; target <= 2; target++)
        if (fd != target && dup2(fd, target) < 0)
            fail("cannot use /dev/console as", target == 0 ? "stdin" : "stdout or stderr");
    if (fd > 2)
        close(fd);
}

static int make_dir(const char *path, mode_t mode)
{
    return mkdir(path, mode) && errno != EEXIST ? -1 : 0;
}

/* mount(2), said when it fails. */
static int mount_at(const char *source, const char *target, const char *type,
                    unsigned long flags, const char *options)
{
    if (mount(source, target, type, flags, options) == 0)
        return 0;
    say("cannot mount ", type ? type : source, " on ", target, ": ", strerror(errno));
    return -1;
}

static void mount_early(void)
{
    static const struct {
        const char *type, *target;
        unsigned long flags;
        const char *options;
    } mounts[] = {
        {"proc", "/proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
        {"sysfs", "/sys", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL},
        {"devtmpfs", "/dev", MS_NOSUID, "mode=0755"},
    };
    for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
        if (make_dir(mounts[i].target, 0755))
            fail("cannot make", mounts[i].target);
        mount_at(mounts[i].type, mounts[i].target, mounts[i].type, mounts[i].flags,
                 mounts[i].options);
    }
}

/* The whole file, NUL-terminated, or NULL (said, unless it is only
 * missing and optional). */
static char *read_file(const char *path, bool required)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (required || errno != ENOENT)
            fail("cannot open", path);
        return NULL;
    }
    size_t size = 0, capacity = 0;
    char *text = NULL;
    for (;;) {
        if (size + 1 >= capacity) {
            capacity = capacity ? capacity * 2 : 256;
            char *bigger = realloc(text, capacity);
            if (!bigger) {
                errno = ENOMEM;
                goto failed;
            }
            text = bigger;
        }
        ssize_t count = read(fd, text + size, capacity - 1 - size);
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0)
            goto failed;
        if (count == 0)
            break;
        size += (size_t)count;
    }
    close(fd);
    text[size] = '\0';
    return text;
failed:
    fail("cannot read", path); /* before free and close can change errno */
    free(text);
    close(fd);
    return NULL;
}

/* The line starting at *cursor, NUL-terminated in place; NULL at the end. */
static char *next_line(char **cursor)
{
    char *line = *cursor;
    if (!line || !*line)
        return NULL;
    char *end = strchrnul(line, '\n');
    *cursor = *end ? end + 1 : end;
    *end = '\0';
    return line;
}

/* /exec/env: KEY=VALUE lines; PATH gets a default when it has none, since
 * sh finds nothing without it. */
static void read_env(struct settings *settings)
{
    char *cursor = read_file("/exec/env", false), *line;
    size_t count = 0;
    bool have_path = false;
    while ((line = next_line(&cursor)) != NULL) {
        if (!strchr(line, '=') || line[0] == '=')
            continue;
        if (count == MAX_ENV) {
            say("/exec/env: more than 64 variables; the rest are left out");
            break;
        }
        have_path |= strncmp(line, "PATH=", 5) == 0;
        settings->env[count++] = line;
    }
    if (!have_path)
        settings->env[count++] = "PATH=" DEFAULT_PATH;
    settings->env[count] = NULL;
}

static void strip_newline(char *text)
{
    size_t length = text ? strlen(text) : 0;
    if (length && text[length - 1] == '\n')
        text[length - 1] = '\0';
}

static int read_settings(struct settings *settings)
{
    memset(settings, 0, sizeof(*settings));
    settings->command = read_file("/exec/command", true);
    if (!settings->command)
        return -1;
    settings->cwd = read_file("/exec/cwd", false);
    if (!settings->cwd || !*settings->cwd)
        settings->cwd = "/";
    settings->root_tag = read_file("/exec/root-tag", false);
    strip_newline(settings->root_tag);
    if (!settings->root_tag || !*settings->root_tag)
        settings->root_tag = "root";
    settings->shares = read_file("/exec/shares", false);
    settings->modules = read_file("/exec/modules", false);
    read_env(settings);
    return 0;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t length = strlen(text), suffix_length = strlen(suffix);
    return length >= suffix_length && strcmp(text + length - suffix_length, suffix) == 0;
}

/* finit_module(2) of each listed module, in order: one that is there
 * already is fine; one that fails is said, and the boot goes on (what needs
 * it fails later and says so). */
static void load_modules(char *list)
{
    char *line;
    while ((line = next_line(&list)) != NULL) {
        if (!*line)
            continue;
        int fd = open(line, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fail("cannot open module", line);
            continue;
        }
        /* The kernel decompresses a module itself when it can (5.17 on). */
        int flags = ends_with(line, ".xz") || ends_with(line, ".zst") || ends_with(line, ".gz")
                        ? MODULE_INIT_COMPRESSED_FILE
                        : 0;
        if (syscall(SYS_finit_module, fd, "", flags) && errno != EEXIST)
            fail("cannot load module", line);
        close(fd);
    }
}

/* A virtio-fs tag mounted at target.  Retried for half a second in case
 * the device is still being probed; then said, with the likely cause. */
static int mount_virtiofs(const char *tag, const char *target, unsigned long flags)
{
    for (int attempt = 0;; attempt++) {
        if (mount(tag, target, "virtiofs", flags, NULL) == 0)
            return 0;
        if (attempt == 10 || (errno != ENODEV && errno != EINVAL && errno != ENOENT))
            break;
        pause_ms(50);
    }
    const char *why = errno == ENODEV   ? " (the kernel has no virtiofs, built in or loaded)"
                      : errno == EINVAL ? " (no virtio-fs device has that tag)"
                                        : "";
    say("cannot mount virtio-fs tag ", tag, " on ", target, ": ", strerror(errno), why);
    return -1;
}

/* Writes land in a tmpfs over the read-only root and vanish with the VM.
 * Returns the overlay's mount point, or NULL without overlayfs (quietly
 * when the kernel has none: the fallback is the documented behaviour). */
static const char *mount_overlay(void)
{
    if (make_dir(OVERLAY_SCRATCH, 0755) || make_dir(OVERLAY_MOUNT, 0755)) {
        fail("cannot make the overlay's directories under", "/");
        return NULL;
    }
    if (mount_at("tmpfs", OVERLAY_SCRATCH, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755"))
        return NULL;
    if (make_dir(OVERLAY_SCRATCH "/upper", 0755) || make_dir(OVERLAY_SCRATCH "/work", 0755)) {
        fail("cannot make the overlay's directories in", OVERLAY_SCRATCH);
        return NULL;
    }
    static const char options[] = "lowerdir=" ROOT_MOUNT ",upperdir=" OVERLAY_SCRATCH
                                  "/upper,workdir=" OVERLAY_SCRATCH "/work";
    if (mount("overlay", OVERLAY_MOUNT, "overlay", 0, options) == 0)
        return OVERLAY_MOUNT;
    if (errno != ENODEV)
        say("cannot mount an overlay on ", ROOT_MOUNT, ": ", strerror(errno),
            "; / stays read-only, with tmpfs on /tmp, /run and /var/tmp");
    return NULL;
}

/* root + path, or NULL (said) when it does not fit. */
static const char *in_root(const char *root, const char *path, char *out, size_t size)
{
    size_t root_length = strlen(root), path_length = strlen(path);
    if (root_length + path_length >= size) {
        say(path, ": path too long");
        return NULL;
    }
    memcpy(out, root, root_length);
    memcpy(out + root_length, path, path_length + 1);
    return out;
}

/* Without an overlay, only the usual scratch directories take writes.  One
 * the host does not have is skipped. */
static void mount_scratch_dirs(const char *root)
{
    static const struct {
        const char *path, *options;
    } dirs[] = {{"/tmp", "mode=1777"}, {"/run", "mode=0755"}, {"/var/tmp", "mode=1777"}};
    char target[PATH_MAX];
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        if (!in_root(root, dirs[i].path, target, sizeof(target)))
            continue;
        struct stat st;
        if (stat(target, &st) || !S_ISDIR(st.st_mode))
            continue;
        mount_at("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, dirs[i].options);
    }
}

/* mkdir -p inside the new root (writable only through the overlay). */
static int make_dirs(char *path)
{
    for (char *slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        int result = make_dir(path, 0755);
        *slash = '/';
        if (result)
            return -1;
    }
    return make_dir(path, 0755);
}

/* The initramfs's /proc, /sys and /dev move into the new root (the console
 * stays open on them), then the pseudo-terminals and POSIX shared memory. */
static void mount_system(const char *root)
{
    static const char *const moved[] = {"/proc", "/sys", "/dev"};
    char target[PATH_MAX];
    for (size_t i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
        if (!in_root(root, moved[i], target, sizeof(target)))
            continue;
        if (make_dir(target, 0755))
            fail("cannot make", target);
        else
            mount_at(moved[i], target, NULL, MS_MOVE, NULL);
    }
    /* gid 5 is the tty group of Debian and the other distributions. */
    if (in_root(root, "/dev/pts", target, sizeof(target)) && make_dir(target, 0755) == 0)
        mount_at("devpts", target, "devpts", MS_NOSUID | MS_NOEXEC,
                 "gid=5,mode=620,ptmxmode=666");
    if (in_root(root, "/dev/shm", target, sizeof(target)) && make_dir(target, 01777) == 0)
        mount_at("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

/* /exec/shares: "TAG MOUNTPOINT" or "TAG MOUNTPOINT ro", each mounted in the
 * new root; one that fails is said and skipped. */
static void mount_shares(const char *root, char *list)
{
    char *line, target[PATH_MAX];
    while ((line = next_line(&list)) != NULL) {
        char *save = NULL;
        const char *tag = strtok_r(line, " \t", &save);
        const char *point = strtok_r(NULL, " \t", &save);
        const char *option = strtok_r(NULL, " \t", &save);
        if (!tag)
            continue;
        if (!point || point[0] != '/' || (option && strcmp(option, "ro") != 0)) {
            say("/exec/shares: cannot read the line for tag ", tag);
            continue;
        }
        if (!in_root(root, point, target, sizeof(target)))
            continue;
        if (make_dirs(target)) {
            fail("cannot make the mount point", point);
            continue;
        }
        mount_virtiofs(tag, target, option ? MS_RDONLY : 0);
    }
}

/* The host's / from virtio-fs, made writable where it can be.  Returns the
 * new root's path, or NULL when there is none. */
static const char *mount_root(const struct settings *settings)
{
    if (make_dir(ROOT_MOUNT, 0755)) {
        fail("cannot make", ROOT_MOUNT);
        return NULL;
    }
    if (mount_virtiofs(settings->root_tag, ROOT_MOUNT, MS_RDONLY))
        return NULL;
    const char *root = mount_overlay();
    if (!root) {
        root = ROOT_MOUNT;
        mount_scratch_dirs(root);
    }
    return root;
}

/* The new root becomes / (the initramfs stays underneath, unreachable). */
static int switch_root(const char *root)
{
    if (chdir(root)) {
        fail("cannot enter", root);
        return -1;
    }
    if (mount(root, "/", NULL, MS_MOVE, NULL)) {
        fail("cannot move to /:", root);
        return -1;
    }
    if (chroot(".") || chdir("/")) {
        fail("cannot change root to", root);
        return -1;
    }
    return 0;
}

/* The child: its own session with the console as controlling terminal, so
 * that ^C reaches the command and an interactive shell has job control. */
static void exec_command(const struct settings *settings)
{
    if (setsid() < 0)
        fail("cannot start a session for", "the command");
    else if (ioctl(STDIN_FILENO, TIOCSCTTY, 1) < 0)
        fail("cannot make the console the controlling terminal of", "the command");
    if (chdir(settings->cwd)) {
        say("cannot enter ", settings->cwd, ": ", strerror(errno), "; running in /");
        if (chdir("/"))
            fail("cannot enter", "/");
    }
    char *const command_argv[] = {"sh", "-c", settings->command, NULL};
    char *const shell_argv[] = {"sh", "-i", NULL};
    execve("/bin/sh", *settings->command ? command_argv : shell_argv, settings->env);
    int error = errno;
    fail("cannot run", "/bin/sh");
    _exit(error == ENOENT ? STATUS_NOT_FOUND : STATUS_CANNOT_EXECUTE);
}

/* The command's status as a shell gives it: its exit code, or 128 plus the
 * signal that ended it. */
static int status_of(int wait_status)
{
    if (WIFEXITED(wait_status))
        return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status))
        return 128 + WTERMSIG(wait_status);
    return STATUS_SETUP_FAILED;
}

/* Runs the command and reaps every process (orphans are ours as PID 1)
 * until the command's own process ends. */
static int run_command(const struct settings *settings)
{
    pid_t child = fork();
    if (child < 0) {
        fail("cannot fork for", "the command");
        return STATUS_SETUP_FAILED;
    }
    if (child == 0)
        exec_command(settings);
    for (;;) {
        int wait_status;
        pid_t pid = wait(&wait_status);
        if (pid == child)
            return status_of(wait_status);
        if (pid < 0 && errno != EINTR) {
            fail("cannot wait for", "the command");
            return STATUS_SETUP_FAILED;
        }
    }
}

/* The status to the VMM, which ends the VM with it at the port write;
 * power-off is the fallback when the port cannot be reached.  PID 1 that
 * returns makes the kernel panic, which ends the VM too (panic=-1). */
static int power_off(int status)
{
    /* What the command left running goes first (it would be cut off by the
     * power-off anyway), so that nothing refills the console while it
     * drains: its last output is still in the UART's buffer otherwise. */
    kill(-1, SIGKILL);
    tcdrain(STDOUT_FILENO);
    sync();
    if (ioperm(STATUS_PORT, 1, 1) == 0)
        outb((unsigned char)status, STATUS_PORT);
    else
        fail("cannot report the exit status at", "port 0xf4");
    reboot(RB_POWER_OFF);
    fail("cannot power off", "the guest");
    return status;
}

int main(void)
{
    if (getpid() != 1) {
        say("this is the guest's /init for guest --exec; it runs only as PID 1");
        return 2;
    }
    mount_early();
    open_console();
    struct settings settings;
    if (read_settings(&settings))
        return power_off(STATUS_SETUP_FAILED);
    load_modules(settings.modules);
    const char *root = mount_root(&settings);
    if (!root)
        return power_off(STATUS_SETUP_FAILED);
    mount_system(root);
    mount_shares(root, settings.shares);
    if (switch_root(root))
        return power_off(STATUS_SETUP_FAILED);
    return power_off(run_command(&settings));
}
