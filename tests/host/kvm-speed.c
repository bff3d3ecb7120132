/* Measures how fast /dev/kvm runs guest code, so the test runner can tell
 * hardware virtualization (hundreds of millions of loop iterations a second)
 * from an emulating KVM such as PVM (a few million).  It runs a 64-bit ring-0
 * loop `1: inc rcx; jmp 1b` for a fixed wall time and reads rcx back.
 * Prints "<iterations per second> <verdict>" and exits 0 when the rate is
 * hardware-like, 1 when it is not, 2 when KVM cannot run the probe at all. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "boot/boot.h"
#include "memory.h"
#include "vm.h"
#include "x86/cpu_state.h"

#define PROBE_MEMORY (16ULL << 20)
#define PROBE_CODE 0x100000
#define HARDWARE_RATE 100e6 /* iterations/s: PVM manages ~2e6, hardware ~1e9 */

static void on_alarm(int signal_number)
{
    (void)signal_number;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    struct error error = {{0}};
    int kvm_fd;
    if (vm_open_kvm(&kvm_fd, &error)) {
        fprintf(stderr, "kvm-speed: %s\n", error.message);
        return 2;
    }
    struct vm vm;
    if (vm_create(&vm, kvm_fd, PROBE_MEMORY, 1, &error) ||
        cpu_state_write_boot_tables(&vm.memory, &error)) {
        fprintf(stderr, "kvm-speed: %s\n", error.message);
        return 2;
    }
    static const uint8_t loop[] = {0x48, 0xff, 0xc1, 0xeb, 0xfb}; /* inc rcx; jmp -5 */
    if (boot_copy_to_guest(&vm.memory, PROBE_CODE, loop, sizeof(loop), "probe", &error)) {
        fprintf(stderr, "kvm-speed: %s\n", error.message);
        return 2;
    }
    struct boot_entry entry = {BOOT_CPU_MODE_LONG_64, PROBE_CODE, 0, 0};
    if (cpu_state_set_boot(vm.vcpus[0].fd, &entry, &error)) {
        fprintf(stderr, "kvm-speed: %s\n", error.message);
        return 2;
    }

    struct sigaction action = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &action, NULL);
    timer_t timer;
    struct sigevent event = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM};
    event._sigev_un._tid = gettid();
    if (timer_create(CLOCK_MONOTONIC, &event, &timer) < 0) {
        fprintf(stderr, "kvm-speed: timer_create: %s\n", strerror(errno));
        return 2;
    }
    struct itimerspec when = {.it_value = {(time_t)seconds,
                                           (long)((seconds - (time_t)seconds) * 1e9)}};
    double start = now();
    timer_settime(timer, 0, &when, NULL);
    for (;;) {
        int result = ioctl(vm.vcpus[0].fd, KVM_RUN, 0);
        if (result < 0 && errno == EINTR)
            break;
        if (result < 0) {
            fprintf(stderr, "kvm-speed: KVM_RUN: %s\n", strerror(errno));
            return 2;
        }
        if (vm.vcpus[0].run->exit_reason != KVM_EXIT_INTR) {
            fprintf(stderr, "kvm-speed: probe exited with reason %u\n",
                    vm.vcpus[0].run->exit_reason);
            return 2;
        }
    }
    double elapsed = now() - start;
    struct kvm_regs regs;
    ioctl(vm.vcpus[0].fd, KVM_GET_REGS, &regs);
    double rate = regs.rcx / elapsed;
    int hardware = rate >= HARDWARE_RATE;
    printf("%.0f %s\n", rate, hardware ? "hardware" : "emulated");
    vm_destroy(&vm);
    return hardware ? 0 : 1;
}
