/* guest: command line -> a VM description -> run.  Every check of the
 * user's options and files happens here, before any guest code runs, and
 * each failure is one line on stderr: "guest: WHAT: what is wrong". */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/exec_init_blob.h"
#include "boot/file_guard.h"
#include "boot/linux.h"
#include "boot/multiboot.h"
#include "boot/pvh.h"
#include "boot/zircon.h"
#include "exec_mode.h"
#include "exit_status.h"
#include "machine.h"
#include "options.h"
#include "sandbox.h"
#include "ui/display.h"
#include "x86/acpi.h"

#ifndef GUEST_VERSION
#define GUEST_VERSION "0.1.0"
#endif

static int fail(const char *message)
{
    fprintf(stderr, "guest: %s\n", message);
    return GUEST_EXIT_ERROR;
}

/* Opens and maps a whole file read-only (the loaders parse headers from the
 * mapping and pread the bulk); files are checked to be regular and non-empty. */
static int map_file(const char *path, const char *role, struct boot_file *file,
                    struct error *error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return error_set(error, "%s: %s", path, strerror(errno));
    struct stat status;
    if (fstat(fd, &status) < 0) {
        close(fd);
        return error_set(error, "%s: %s", path, strerror(errno));
    }
    if (!S_ISREG(status.st_mode)) {
        close(fd);
        return error_set(error, "%s: not a regular file (a %s must be a file)", path, role);
    }
    if (status.st_size == 0) {
        close(fd);
        return error_set(error, "%s: empty file (a %s cannot be empty)", path, role);
    }
    void *data = mmap(NULL, (size_t)status.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data == MAP_FAILED) {
        int saved = errno;
        close(fd);
        return error_set(error, "%s: %s", path, strerror(saved));
    }
    *file = (struct boot_file){path, data, (size_t)status.st_size, true, fd};
    return 0;
}

enum kernel_kind { KERNEL_BZIMAGE, KERNEL_PVH_ELF, KERNEL_ZIRCON, KERNEL_MULTIBOOT };

struct kernel {
    enum kernel_kind kind;
    struct bzimage_info bzimage;
    struct pvh_info pvh;
    struct zbi_kernel_info zircon;
    struct multiboot_info_parsed multiboot;
};

static int kernel_inspect(const struct boot_file *file, struct kernel *kernel, struct error *error)
{
    struct error detail;
    if (bzimage_is_bzimage(file->data, file->size)) {
        kernel->kind = KERNEL_BZIMAGE;
        if (bzimage_parse(file->data, file->size, &kernel->bzimage, &detail))
            return error_set(error, "%s: %s", file->path, detail.message);
        return 0;
    }
    if (zircon_is_zbi(file->data, file->size)) {
        kernel->kind = KERNEL_ZIRCON;
        if (zircon_parse(file->data, file->size, &kernel->zircon, &detail))
            return error_set(error, "%s: %s", file->path, detail.message);
        return 0;
    }
    /* An ELF file boots through its PVH note; one without that note may
     * still be a multiboot kernel (as may a flat a.out-kludge image). */
    bool elf = elf_is_elf(file->data, file->size);
    if (elf && !pvh_parse(file->data, file->size, &kernel->pvh, &detail)) {
        kernel->kind = KERNEL_PVH_ELF;
        return 0;
    }
    if (multiboot_has_header(file->data, file->size)) {
        kernel->kind = KERNEL_MULTIBOOT;
        if (multiboot_parse(file->data, file->size, &kernel->multiboot, &detail))
            return error_set(error, "%s: %s", file->path, detail.message);
        return 0;
    }
    if (elf)
        return error_set(error, "%s: %s, and it has no multiboot header", file->path,
                         detail.message);
    return error_set(error, "%s: not a kernel guest can boot (not a Linux bzImage, an ELF "
                            "vmlinux with a PVH note, a Zircon ZBI or a multiboot kernel)",
                     file->path);
}

/* What the loaders need, for file_guard_run: the files stay mapped, and a
 * truncation under us is the file's error, not SIGBUS. */
struct guarded_step {
    const struct boot_file *file; /* the one parsed, for inspect and check */
    struct kernel *kernel;
    struct boot_config *config;
    const struct guest_memory *memory;
    struct boot_entry *entry;
    struct error *error;
};

static int guarded_inspect(void *opaque)
{
    struct guarded_step *step = opaque;
    return kernel_inspect(step->file, step->kernel, step->error);
}

static int guarded_zbi_check(void *opaque)
{
    struct guarded_step *step = opaque;
    size_t container_size;
    struct error detail;
    if (zbi_check(step->file->data, step->file->size, &container_size, &detail))
        return error_set(step->error, "%s: %s", step->file->path, detail.message);
    return 0;
}

static int guarded_load(void *opaque)
{
    struct guarded_step *step = opaque;
    const struct kernel *kernel = step->kernel;
    switch (kernel->kind) {
    case KERNEL_BZIMAGE:
        return bzimage_load(&kernel->bzimage, step->config, step->memory, step->entry,
                            step->error);
    case KERNEL_PVH_ELF:
        return pvh_load(&kernel->pvh, step->config, step->memory, step->entry, step->error);
    case KERNEL_ZIRCON:
        return zircon_load(&kernel->zircon, step->config, step->memory, step->entry,
                           step->error);
    case KERNEL_MULTIBOOT:
        return multiboot_load(&kernel->multiboot, step->config, step->memory, step->entry,
                              step->error);
    }
    return error_set(step->error, "%s: no loader for this kernel", step->config->kernel.path);
}

int main(int argc, char **argv)
{
    struct options options;
    struct error error = {{0}};
    if (options_parse(argc, argv, &options, &error)) {
        fprintf(stderr, "guest: %s\nTry 'guest --help'.\n", error.message);
        return GUEST_EXIT_ERROR;
    }
    if (options.show_help) {
        options_print_help("guest");
        return 0;
    }
    if (options.show_version) {
        printf("guest %s\n", GUEST_VERSION);
        return 0;
    }

    struct boot_config config = {0};
    struct kernel kernel;
    struct guarded_step step = {.kernel = &kernel, .config = &config, .error = &error};
    const struct boot_file *files[] = {&config.kernel, &config.initrd};
    if (map_file(options.kernel_path, "kernel", &config.kernel, &error))
        return fail(error.message);
    step.file = &config.kernel;
    if (file_guard_run(files, 1, guarded_inspect, &step, &error))
        return fail(error.message);
    if (options.initrd_path && map_file(options.initrd_path, "ramdisk", &config.initrd, &error))
        return fail(error.message);
    /* --exec: the initrd is made here, in memory (options.c refused -r). */
    static struct exec_mode exec_mode;
    bool exec = options.exec_command != NULL;
    if (exec) {
        if (exec_mode_prepare(&exec_mode, &options, exec_init_start, exec_init_size(), &error))
            return fail(error.message);
        config.initrd = (struct boot_file){"--exec's initramfs", exec_mode.archive.data,
                                           exec_mode.archive.size, false, -1};
    }
    step.file = &config.initrd;
    if (kernel.kind == KERNEL_ZIRCON && config.initrd.data &&
        file_guard_run(files, 2, guarded_zbi_check, &step, &error))
        return fail(error.message);
    config.user_cmdline = options.cmdline_given ? options.cmdline : NULL;

    static char cmdline[OPTIONS_MAX_CMDLINE + 256];
    /* --exec: the kernel's messages would bury the command's output; a -c
     * of the user's comes after (loglevel=7 brings them back). */
    static char exec_cmdline[OPTIONS_MAX_CMDLINE + 16];
    const char *user_cmdline = options.cmdline_given ? options.cmdline : NULL;
    if (exec) {
        snprintf(exec_cmdline, sizeof(exec_cmdline), "quiet%s%s", user_cmdline ? " " : "",
                 user_cmdline ? user_cmdline : "");
        user_cmdline = exec_cmdline;
    }
    if (linux_compose_cmdline_with_console(
            user_cmdline,
            options.virtio_console ? LINUX_VIRTIO_CONSOLE : LINUX_SERIAL_CONSOLE, cmdline,
            sizeof(cmdline)))
        return fail("-c: command line too long");
    config.cmdline = cmdline;

    int kvm_fd;
    if (vm_open_kvm(&kvm_fd, &error))
        return fail(error.message);
    int max_cpus = vm_max_cpus(kvm_fd);
    if (max_cpus > ACPI_MAX_CPUS)
        max_cpus = ACPI_MAX_CPUS;
    if (options.cpu_count > max_cpus) {
        snprintf(error.message, sizeof(error.message),
                 "--cpus %d: more than the %d vCPUs KVM allows here", options.cpu_count, max_cpus);
        return fail(error.message);
    }

    /* Terminating signals are taken by the main thread through a signalfd;
     * block them before any thread starts so every thread inherits that. */
    sigset_t terminating;
    sigemptyset(&terminating);
    sigaddset(&terminating, SIGINT);
    sigaddset(&terminating, SIGTERM);
    sigaddset(&terminating, SIGHUP);
    sigaddset(&terminating, SIGQUIT);
    /* SIGUSR1 asks for a screenshot; the event loop takes it (signalfd). */
    if (options.screenshot_path)
        sigaddset(&terminating, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &terminating, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!options.screenshot_path)
        signal(SIGUSR1, SIG_IGN); /* nothing to do for it; not a reason to die */

    /* Before the first thread (the display's may start now): the handler
     * that reports a forbidden call must be there when a filter is. */
    struct sandbox_user user = {0};
    if (options.user_spec) {
        if (sandbox_resolve_user(options.user_spec, &user, &error))
            return fail(error.message);
        sandbox_expect_user_change();
    }
    if (sandbox_prepare(options.sandbox, &error))
        return fail(error.message);

    struct machine_disk disks[OPTIONS_MAX_DISKS];
    for (int i = 0; i < options.disk_count; i++)
        disks[i] = (struct machine_disk){options.disks[i].path, options.disks[i].read_only};

    /* The display is opened before the VM exists, so a missing $DISPLAY or a
     * VNC port in use is one line on stderr, not a half-started guest. */
    struct display *display = NULL;
    if (options.graphics) {
        display = display_open(options.display_spec, options.display_width,
                               options.display_height, options.screenshot_path, &error);
        if (!display)
            return fail(error.message);
        if (strcmp(options.display_spec, "none") != 0)
            fprintf(stderr, "guest: display: %s\n", display_describe(display));
    }

    static struct machine machine;
    struct machine_config machine_config = {
        .memory_size = options.memory_size,
        .cpu_count = options.cpu_count,
        .disks = disks,
        .disk_count = options.disk_count,
        .nets = options.nets,
        .net_count = options.net_count,
        .shares = exec ? exec_mode.shares : options.shares,
        .share_count = exec ? exec_mode.share_count : options.share_count,
        .virtio_console = options.virtio_console,
        .balloon = options.balloon,
        .balloon_poll_seconds = options.balloon_poll_seconds,
        .balloon_pages_to_keep = options.balloon_pages_to_keep,
        .balloon_deflate_on_oom = options.balloon_deflate_on_oom,
        .display = display,
        .display_width = options.display_width,
        .display_height = options.display_height,
        .screenshot_path = options.screenshot_path,
        .debug_exit = options.debug_exit,
        .debug_exit_port = options.debug_exit_port,
        .exec_status = exec,
        .exec_status_port = OPTIONS_EXEC_STATUS_PORT,
        .test_devices = options.test_devices,
        .gdb_spec = options.gdb_spec,
        .qmp_spec = options.qmp_spec,
        .start_paused = options.paused,
    };
    if (machine_create(&machine, kvm_fd, &machine_config, &error))
        return fail(error.message);
    config.rsdp_address = machine.rsdp_address;

    struct boot_entry entry = {0};
    step.memory = &machine.vm.memory;
    step.entry = &entry;
    if (file_guard_run(files, 2, guarded_load, &step, &error))
        return fail(error.message);
    /* The files are in guest memory now; drop our mappings of them. */
    munmap((void *)config.kernel.data, config.kernel.size);
    close(config.kernel.fd);
    if (exec) {
        exec_mode_free(&exec_mode);
    } else if (config.initrd.data) {
        munmap((void *)config.initrd.data, config.initrd.size);
        close(config.initrd.fd);
    }
    /* Every file, socket and device is open: the VM runs as --user. */
    if (sandbox_change_user(&user, &error))
        return fail(error.message);

    int status = machine_run(&machine, &entry, &error);
    if (status < 0) {
        fail(error.message);
        status = GUEST_EXIT_ERROR;
    }
    /* --exec ends with the command's status, which only the init's write
     * gives: a guest that powered off without one did not run it to its end
     * (the init's own failures are statuses of their own, 125-127). */
    if (exec && status == 0 && !machine.exec_status.fired) {
        fprintf(stderr, "guest: --exec: the guest powered off without the command's status "
                        "(did its init run?)\n");
        status = GUEST_EXIT_EXEC_NO_STATUS;
    }
    /* After the run, before the devices go: the screenshot at exit shows
     * the guest's last picture. */
    display_close(display);
    machine_destroy(&machine);
    close(kvm_fd);
    return status;
}
