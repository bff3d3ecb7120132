#include "boot/file_guard.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>

#define FILE_GUARD_MAX 4

static struct {
    uintptr_t start, end;
    const char *path;
} guarded[FILE_GUARD_MAX];
static volatile sig_atomic_t guarded_count;
static const char *volatile faulted_path;
static sigjmp_buf fault_return;

static void file_guard_fault(int signal_number, siginfo_t *info, void *context)
{
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (sig_atomic_t i = 0; i < guarded_count; i++)
        if (address >= guarded[i].start && address < guarded[i].end) {
            faulted_path = guarded[i].path;
            siglongjmp(fault_return, 1);
        }
    /* Not one of ours: fault again with the default action, as before. */
    signal(signal_number, SIG_DFL);
}

int file_guard_run(const struct boot_file *const *files, size_t count, int (*work)(void *opaque),
                   void *opaque, struct error *error)
{
    guarded_count = 0;
    for (size_t i = 0; i < count && guarded_count < FILE_GUARD_MAX; i++) {
        if (!files[i] || !files[i]->data)
            continue;
        guarded[guarded_count].start = (uintptr_t)files[i]->data;
        guarded[guarded_count].end = (uintptr_t)files[i]->data + files[i]->size;
        guarded[guarded_count].path = files[i]->path;
        guarded_count++;
    }
    struct sigaction action = {.sa_sigaction = file_guard_fault, .sa_flags = SA_SIGINFO};
    struct sigaction saved;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &saved);
    int result;
    if (sigsetjmp(fault_return, 1) == 0) {
        result = work(opaque);
    } else {
        result = error_set(error, "%s: changed while being read (it is shorter than when it "
                                  "was opened; is something rewriting it?)",
                           faulted_path);
    }
    sigaction(SIGBUS, &saved, NULL);
    guarded_count = 0;
    return result;
}
