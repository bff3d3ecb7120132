/* What exec-init's guest-only calls do under tests/init/run:
 *   virtio-fs tag T     a bind mount of the directory $EXEC_INIT_TEST_TAG_T (unknown tag:
 *                       EINVAL, as virtio-fs answers), remounted read-only when asked
 *   devtmpfs            a tmpfs with the harness's /dev/null bound on its null (a user
 *                       namespace may neither mount devtmpfs nor make device nodes)
 *   devpts              without gid=5, which the namespace has not mapped
 *   overlay             as asked, or ENODEV with EXEC_INIT_TEST_NO_OVERLAY set (a kernel
 *                       without overlayfs)
 *   port 0xf4           the status byte, printed, becomes PID 1's exit status, which ends
 *                       the namespace as the write ends the VM */
#include "fake_guest.h"

#undef mount
#undef ioperm
#undef outb

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static int real_mount(const char *source, const char *target, const char *type,
                      unsigned long flags, const void *data)
{
    return (int)syscall(SYS_mount, source, target, type, flags, data);
}

/* A read-only remount of a bind mount must keep the flags the namespace's
 * owner locked (nosuid, nodev, ...), or it is refused. */
static unsigned long kept_flags(const char *target)
{
    struct statvfs st;
    if (statvfs(target, &st))
        return 0;
    static const struct {
        unsigned long st, ms;
    } map[] = {{ST_NOSUID, MS_NOSUID},     {ST_NODEV, MS_NODEV},
               {ST_NOEXEC, MS_NOEXEC},     {ST_NOATIME, MS_NOATIME},
               {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME}};
    unsigned long flags = 0;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (st.f_flag & map[i].st)
            flags |= map[i].ms;
    return flags;
}

static int fake_virtiofs(const char *tag, const char *target, unsigned long flags)
{
    char name[128];
    snprintf(name, sizeof(name), "EXEC_INIT_TEST_TAG_%s", tag);
    const char *dir = getenv(name);
    if (!dir) {
        errno = EINVAL;
        return -1;
    }
    if (real_mount(dir, target, NULL, MS_BIND, NULL))
        return -1;
    if (!(flags & MS_RDONLY))
        return 0;
    return real_mount(NULL, target, NULL,
                      MS_REMOUNT | MS_BIND | MS_RDONLY | kept_flags(target), NULL);
}

/* tests/init/run binds its /dev/null on /.null before it starts the init. */
static int fake_devtmpfs(const char *target, unsigned long flags)
{
    char null[256];
    snprintf(null, sizeof(null), "%s/null", target);
    if (real_mount("tmpfs", target, "tmpfs", flags, "mode=0755"))
        return -1;
    int fd = open(null, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    close(fd);
    return real_mount("/.null", null, NULL, MS_BIND, NULL);
}

int fake_mount(const char *source, const char *target, const char *type, unsigned long flags,
               const void *data)
{
    if (type && strcmp(type, "virtiofs") == 0)
        return fake_virtiofs(source, target, flags);
    if (type && strcmp(type, "devtmpfs") == 0)
        return fake_devtmpfs(target, flags);
    if (type && strcmp(type, "devpts") == 0)
        data = "mode=620,ptmxmode=666";
    if (type && strcmp(type, "overlay") == 0 && getenv("EXEC_INIT_TEST_NO_OVERLAY")) {
        errno = ENODEV;
        return -1;
    }
    return real_mount(source, target, type, flags, data);
}

int fake_ioperm(unsigned long from, unsigned long count, int on)
{
    (void)from, (void)count, (void)on;
    return 0;
}

void fake_outb(unsigned char value, unsigned short port)
{
    dprintf(STDERR_FILENO, "exec-init-test: port 0x%x: %u\n", port, value);
    _exit(value);
}
