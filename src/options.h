/* The command line: the seed tool's short options, GNU long options for the rest. */
#ifndef GUEST_OPTIONS_H
#define GUEST_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "fs/share_config.h"
#include "net/net_config.h"
#include "sandbox.h"

#define OPTIONS_DEFAULT_MEMORY (1ULL << 30)
#define OPTIONS_MIN_MEMORY (16ULL << 20)
#define OPTIONS_MAX_MEMORY (1ULL << 40)
#define OPTIONS_MAX_CMDLINE 4096
#define OPTIONS_MAX_DISKS 16
#define OPTIONS_DEFAULT_BALLOON_PAGES_TO_KEEP 1024

#define OPTIONS_MAX_PATH 4096
#define OPTIONS_DEFAULT_DISPLAY_WIDTH 1024
#define OPTIONS_DEFAULT_DISPLAY_HEIGHT 768
#define OPTIONS_MAX_DISPLAY_SIDE 8192
#define OPTIONS_DEFAULT_DEBUG_EXIT_PORT 0xf4
#define OPTIONS_MAX_DEBUG_EXIT_PORT 0xfffc /* four ports, all below 0x10000 */
/* --exec: the tag of the host's / and the port its init writes the command's
 * status to (one byte: the status itself). */
#define OPTIONS_EXEC_ROOT_TAG "root"
#define OPTIONS_EXEC_STATUS_PORT 0xf4

struct disk_option {
    char path[OPTIONS_MAX_PATH];
    bool read_only; /* ",ro" after the file name */
};

struct options {
    const char *kernel_path;
    const char *initrd_path;
    char cmdline[OPTIONS_MAX_CMDLINE]; /* the user's -c strings, joined by spaces */
    bool cmdline_given;
    struct disk_option disks[OPTIONS_MAX_DISKS]; /* -b, in order: vda, vdb, ... */
    int disk_count;
    struct net_config nets[NET_MAX_NICS]; /* --net, in order: eth0, eth1, ... */
    int net_count;
    struct share_config shares[SHARE_MAX_SHARES]; /* --share, in order */
    int share_count;
    uint64_t memory_size;
    int cpu_count;
    bool virtio_console; /* --console=virtio: the terminal is the guest's hvc0 */
    /* virtio-balloon, present when -m or -d is given (the seed tool's options). */
    bool balloon;
    unsigned balloon_poll_seconds; /* -m */
    uint32_t balloon_pages_to_keep; /* -p, default 1024 */
    bool balloon_deflate_on_oom;    /* -d */
    /* -g: virtio-gpu with a virtio-input keyboard and tablet, shown by a
     * display back end (--display=sdl|vnc[=ADDR]|none, default sdl). */
    bool graphics;
    const char *display_spec;
    uint32_t display_width, display_height; /* --display-size, default 1024x768 */
    const char *screenshot_path;            /* --screenshot FILE.png */
    /* --debug-exit[=PORT]: a guest's write of V to PORT (default 0xf4) ends
     * the VMM with status (V << 1) | 1; --test-devices implies it at 0xf4. */
    bool debug_exit;
    uint16_t debug_exit_port;
    /* --test-devices: QEMU's pc-testdev (scratch ports, page flush, IRQ
     * lines, scratch MMIO) for kernel test suites. */
    bool test_devices;
    /* --gdb ADDRESS: the GDB stub listens there; --paused: no vCPU runs
     * until the debugger continues. */
    const char *gdb_spec;
    const char *qmp_spec; /* --qmp ADDRESS: the QMP control socket */
    bool paused;
    /* --exec COMMAND ("" for a shell) and --modules DIR; NULL when absent. */
    const char *exec_command;
    const char *modules_dir;
    enum sandbox_mode sandbox; /* --no-sandbox, --seccomp=kill|log */
    const char *user_spec;     /* --user USER[:GROUP] */
    bool show_help;
    bool show_version;
};

/* Parses argv.  On a bad option returns -1 with error naming it. */
int options_parse(int argc, char **argv, struct options *options, struct error *error);

/* "512M", "1G", "262144K", "1073741824B"; a bare number is MiB, as QEMU's -m. */
int options_parse_size(const char *text, uint64_t *bytes);

void options_print_help(const char *program);

#endif
