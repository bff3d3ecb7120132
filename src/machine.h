/* The x86 PC the guest sees: a VM plus its platform devices (UART, RTC,
 * ACPI power and reset, 8042 reset), the console, and the event loop. */
#ifndef GUEST_MACHINE_H
#define GUEST_MACHINE_H

#include "console.h"
#include "control/gdb_server.h"
#include "control/qmp_server.h"
#include "devices/debug_exit.h"
#include "devices/fw_cfg.h"
#include "devices/pci.h"
#include "devices/power.h"
#include "devices/pvpanic.h"
#include "devices/rtc.h"
#include "devices/test_devices.h"
#include "devices/uart.h"
#include "event_loop.h"
#include "eventfds.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/fs.h"
#include "fs/share_config.h"
#include "virtio/gpu.h"
#include "virtio/input.h"
#include "virtio/net.h"
#include "net/backend.h"
#include "net/net_config.h"
#include "ui/display.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "vm.h"

#define MACHINE_MAX_DISKS 16

struct machine_disk {
    const char *path;
    bool read_only;
};

/* What the machine has: built from the command line by main.c, turned into
 * devices by machine_create(), which opens and checks every file and back
 * end itself, before any guest code runs. */
struct machine_config {
    uint64_t memory_size;
    int cpu_count;
    const struct machine_disk *disks; /* vda, vdb, ... */
    int disk_count;
    const struct net_config *nets; /* --net, in order: eth0, eth1, ... */
    int net_count;
    const struct share_config *shares; /* --share, in order */
    int share_count;
    bool virtio_console; /* the terminal drives hvc0 instead of ttyS0 */
    bool balloon;
    unsigned balloon_poll_seconds;
    uint32_t balloon_pages_to_keep;
    bool balloon_deflate_on_oom;
    /* -g: virtio-gpu, keyboard and tablet, shown on this display (opened,
     * not started), NULL without -g. */
    struct display *display;
    uint32_t display_width, display_height;
    const char *screenshot_path; /* written on SIGUSR1 too */
    bool debug_exit; /* isa-debug-exit at debug_exit_port */
    uint16_t debug_exit_port;
    /* --exec: the init writes the command's status, one byte, to this port
     * (struct debug_exit with exact set). */
    bool exec_status;
    uint16_t exec_status_port;
    bool test_devices; /* pc-testdev */
    const char *gdb_spec; /* --gdb: where the GDB stub listens, or NULL */
    const char *qmp_spec; /* --qmp: where the QMP socket listens, or NULL */
    bool start_paused;    /* --paused: no vCPU runs until a debugger or QMP says so */
};

struct machine {
    struct vm vm;
    struct event_loop loop;
    struct uart uart;
    struct rtc rtc;
    struct power power;
    struct fw_cfg fw_cfg;
    struct debug_exit debug_exit;
    struct debug_exit exec_status;
    bool has_test_devices;
    struct test_devices test_devices;
    struct console console;
    uint64_t rsdp_address;
    struct pci_bus pci;
    struct pvpanic pvpanic;
    struct eventfds eventfds;
    struct virtio_rng rng;
    struct virtio_pci rng_transport;
    struct virtio_blk disks[MACHINE_MAX_DISKS];
    int disk_count;  /* opened */
    int disks_ready; /* virtio devices made of them */
    struct virtio_pci disk_transports[MACHINE_MAX_DISKS];
    struct machine_nic {
        struct net_backend *backend;
        struct virtio_net net;
        struct virtio_pci transport;
        bool started; /* the back end's I/O runs */
    } nics[NET_MAX_NICS];
    int nic_count;
    struct machine_share {
        struct virtio_fs fs;
        struct virtio_pci transport;
        bool ready; /* device made (destroy it) */
    } shares[SHARE_MAX_SHARES];
    int share_count;
    bool has_virtio_console;
    struct virtio_console virtio_console;
    struct virtio_pci virtio_console_transport;
    bool has_balloon;
    struct virtio_balloon balloon;
    struct virtio_pci balloon_transport;
    struct display *display; /* graphics on when set */
    struct virtio_gpu gpu;
    struct virtio_pci gpu_transport;
    struct virtio_input keyboard, tablet;
    struct virtio_pci keyboard_transport, tablet_transport;
    const char *screenshot_path;
    int screenshot_signal_fd;
    struct event_source screenshot_source;
    bool has_gdb;
    bool start_paused;
    struct gdb_server gdb;
    bool has_qmp;
    struct qmp_server qmp;
    struct event_source paused_source; /* the VM's "every vCPU parked" */
};

/* Creates the VM with its devices and ACPI tables; loads nothing yet. */
int machine_create(struct machine *machine, int kvm_fd, const struct machine_config *config,
                   struct error *error);

/* Connects the console, starts the event loop and runs until the guest ends. */
int machine_run(struct machine *machine, const struct boot_entry *entry, struct error *error);

void machine_destroy(struct machine *machine);

#endif
