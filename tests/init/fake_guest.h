/* Forced into init/exec_init.c (-include) for tests/init/run, which runs
 * exec-init as PID 1 of a user namespace instead of a guest: the calls only
 * a guest can make go to tests/init/fake_guest.c.  The real headers come
 * first, so that their later #includes in exec_init.c change nothing and
 * only the calls are renamed. */
#ifndef GUEST_TEST_FAKE_GUEST_H
#define GUEST_TEST_FAKE_GUEST_H

#include <sys/io.h>
#include <sys/mount.h>

int fake_mount(const char *source, const char *target, const char *type, unsigned long flags,
               const void *data);
int fake_ioperm(unsigned long from, unsigned long count, int on);
void fake_outb(unsigned char value, unsigned short port);

#define mount fake_mount
#define ioperm fake_ioperm
#define outb fake_outb

#endif
