#include "machine.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "exit_status.h"
#include "log.h"
#include "sandbox.h"
#include "x86/acpi.h"
#include "x86/cpu_state.h"
#include "x86/cpuid.h"
#include "x86/firmware.h"
#include "x86/layout.h"
#include "x86/smbios.h"

static void machine_set_uart_irq(void *opaque, int level)
{
    struct machine *machine = opaque;
    vm_set_irq_line(&machine->vm, UART_COM1_IRQ, level);
}

static void machine_set_rtc_irq(void *opaque, int level)
{
    struct machine *machine = opaque;
    vm_set_irq_line(&machine->vm, RTC_IRQ, level);
}

static void machine_set_test_irq(void *opaque, unsigned line, int level)
{
    struct machine *machine = opaque;
    vm_set_irq_line(&machine->vm, line, level);
}

static void machine_stop(void *opaque, int exit_status)
{
    struct machine *machine = opaque;
    vm_request_stop(&machine->vm, exit_status);
}

static size_t machine_uart_input_room(void *uart)
{
    return uart_input_room(uart);
}

static size_t machine_uart_receive(void *uart, const uint8_t *bytes, size_t count)
{
    return uart_receive(uart, bytes, count);
}

static void machine_quit(void *opaque)
{
    machine_stop(opaque, GUEST_EXIT_QUIT);
}

/* The display shows what virtio-gpu puts on its scanout. */
static void machine_gpu_resize(void *display, uint32_t width, uint32_t height)
{
    display_resize(display, width, height);
}

static void machine_gpu_update(void *display, const uint8_t *pixels, uint32_t stride, uint32_t x,
                               uint32_t y, uint32_t width, uint32_t height)
{
    display_update(display, pixels, stride, x, y, width, height);
}

/* And the display's keys and pointer go to virtio-input; text typed while
 * it shows the serial console goes to the UART. */
static void machine_display_key(void *opaque, uint16_t code, bool pressed)
{
    struct machine *machine = opaque;
    virtio_input_key(&machine->keyboard, code, pressed);
}

static void machine_display_pointer(void *opaque, uint32_t x, uint32_t y, unsigned buttons)
{
    struct machine *machine = opaque;
    virtio_input_pointer(&machine->tablet, x, y, buttons);
}

static void machine_display_console_input(void *opaque, const uint8_t *bytes, size_t length)
{
    struct machine *machine = opaque;
    if (machine->has_virtio_console) {
        virtio_console_receive(&machine->virtio_console, bytes, length);
        return;
    }
    if (uart_receive(&machine->uart, bytes, length) < length)
        log_once("display: typed text dropped: the serial port's input is full");
}

static void machine_uart_output_tap(void *display, const uint8_t *bytes, size_t length)
{
    display_console_output(display, bytes, length);
}

/* SIGUSR1 asks for a screenshot (--screenshot FILE). */
static void machine_screenshot_requested(struct event_source *source, uint32_t events)
{
    (void)events;
    struct machine *machine = source->opaque;
    struct signalfd_siginfo info;
    while (read(source->fd, &info, sizeof(info)) == sizeof(info)) {
        struct error error;
        if (display_screenshot(machine->display, machine->screenshot_path, &error))
            log_message("%s", error.message);
    }
}

/* The guest kernel's pvpanic driver reports a panic before the kernel
 * reboots (panic=-1): end with the panic status, which the reboot that
 * follows cannot replace (the first stop wins). */
static void machine_guest_panicked(void *opaque, uint8_t events)
{
    struct machine *machine = opaque;
    if (events & PVPANIC_PANICKED) {
        log_once("the guest kernel panicked (pvpanic); exit status %d", GUEST_EXIT_PANIC);
        machine_stop(machine, GUEST_EXIT_PANIC);
    } else if (events & PVPANIC_CRASH_LOADED) {
        log_once("the guest kernel panicked and starts its crash (kdump) kernel (pvpanic)");
    }
}

static const struct bus_ops uart_ops = {uart_port_read, uart_port_write};
static const struct bus_ops rtc_ops = {rtc_port_read, rtc_port_write};
static const struct bus_ops acpi_power_ops = {power_acpi_read, power_acpi_write};
static const struct bus_ops i8042_data_ops = {power_i8042_read, NULL};
static const struct bus_ops i8042_command_ops = {power_i8042_read, power_i8042_command_write};
static const struct bus_ops fw_cfg_ops = {fw_cfg_port_read, fw_cfg_port_write};
static const struct bus_ops fw_cfg_dma_ops = {fw_cfg_dma_port_read, fw_cfg_dma_port_write};
static const struct bus_ops debug_exit_ops = {NULL, debug_exit_port_write};
static const struct bus_ops test_scratch_ops = {test_devices_scratch_read,
                                                test_devices_scratch_write};
static const struct bus_ops test_flush_ops = {NULL, test_devices_flush_write};
static const struct bus_ops test_irq_ops = {NULL, test_devices_irq_write};
static const struct bus_ops test_mmio_ops = {test_devices_mmio_read, test_devices_mmio_write};

_Static_assert(LAYOUT_TEST_DEVICES_MMIO >= LAYOUT_LOCAL_APIC_ADDRESS + 0x100000 &&
                   LAYOUT_TEST_DEVICES_MMIO + TEST_DEVICES_MMIO_SIZE <= LAYOUT_KVM_IDENTITY_MAP,
               "the test devices' MMIO lies clear of the APICs and KVM's pages");
_Static_assert(LAYOUT_TEST_DEVICES_MMIO >= LAYOUT_PCI_MMIO_END, "and of the PCI window");

/* QEMU's PC always has fw_cfg, and test kernels read it unasked (the CPU
 * count, the RAM size), so it is always there: read-only, on ports that
 * nothing else claims; its DMA touches guest memory only through the
 * checked translation.  The debug-exit port and
 * pc-testdev change what a guest can do to the VMM (end it, raise any
 * interrupt line), so they are there only when asked for. */
static int machine_create_test_support(struct machine *machine,
                                       const struct machine_config *config, struct error *error)
{
    struct bus *pio = &machine->vm.pio_bus;
    if (fw_cfg_init(&machine->fw_cfg, &machine->vm.memory, config->cpu_count, error) ||
        bus_register(pio, FW_CFG_PORT, FW_CFG_PORT_COUNT, &fw_cfg_ops, &machine->fw_cfg, error) ||
        bus_register(pio, FW_CFG_DMA_PORT, FW_CFG_DMA_PORT_COUNT, &fw_cfg_dma_ops,
                     &machine->fw_cfg, error))
        return -1;
    if (config->test_devices) {
        test_devices_init(&machine->test_devices, &machine->vm.memory, machine_set_test_irq,
                          machine);
        machine->has_test_devices = true;
        sandbox_allow_guest_page_flush();
        struct test_devices *devices = &machine->test_devices;
        if (bus_register(pio, TEST_DEVICES_SCRATCH_PORT, TEST_DEVICES_PORT_WIDTH,
                         &test_scratch_ops, devices, error) ||
            bus_register(pio, TEST_DEVICES_FLUSH_PORT, TEST_DEVICES_PORT_WIDTH, &test_flush_ops,
                         devices, error) ||
            bus_register(pio, TEST_DEVICES_SCRATCH_BYTE_PORT, TEST_DEVICES_PORT_WIDTH,
                         &test_scratch_ops, devices, error) ||
            bus_register(pio, TEST_DEVICES_IRQ_PORT, TEST_DEVICES_IRQ_LINES, &test_irq_ops,
                         devices, error) ||
            bus_register(&machine->vm.mmio_bus, LAYOUT_TEST_DEVICES_MMIO, TEST_DEVICES_MMIO_SIZE,
                         &test_mmio_ops, devices, error))
            return -1;
    }
    if (config->debug_exit) {
        machine->debug_exit = (struct debug_exit){machine_stop, machine};
        struct error detail;
        if (bus_register(pio, config->debug_exit_port, DEBUG_EXIT_PORT_COUNT, &debug_exit_ops,
                         &machine->debug_exit, &detail))
            return error_set(error, "--debug-exit: ports 0x%x-0x%x: %s", config->debug_exit_port,
                             config->debug_exit_port + DEBUG_EXIT_PORT_COUNT - 1,
                             detail.message);
    }
    if (config->exec_status) {
        machine->exec_status = (struct debug_exit){machine_stop, machine, .exact = true};
        struct error detail;
        if (bus_register(pio, config->exec_status_port, DEBUG_EXIT_PORT_COUNT, &debug_exit_ops,
                         &machine->exec_status, &detail))
            return error_set(error, "--exec: status port 0x%x: %s", config->exec_status_port,
                             detail.message);
    }
    return 0;
}

/* The NICs, after the disks on PCI, so Linux names them eth0, eth1, ... in the
 * order of the --net options.  Each back end is made here, before any guest
 * code runs, so a port in use or a missing tap is an error at start-up. */
static int machine_create_nics(struct machine *machine, const struct machine_config *config,
                               struct error *error)
{
    if (config->net_count > NET_MAX_NICS)
        return error_set(error, "--net: too many NICs (at most %d)", NET_MAX_NICS);
    for (int i = 0; i < config->net_count; i++) {
        const struct net_config *net_config = &config->nets[i];
        struct machine_nic *nic = &machine->nics[i];
        uint8_t mac[6];
        if (net_config->mac_given)
            memcpy(mac, net_config->mac, sizeof(mac));
        else
            net_config_default_mac((unsigned)i, mac);
        if (net_backend_create(net_config, &nic->backend, error))
            return -1;
        machine->nic_count = i + 1;
        if (virtio_net_init(&nic->net, &machine->vm.memory, (unsigned)i, mac, nic->backend,
                            error) ||
            virtio_pci_create(&nic->transport, &nic->net.device, &machine->pci,
                              &machine->eventfds, error))
            return -1;
    }
    return 0;
}

/* The shared directories, after the NICs.  Each FUSE server opens its
 * directory here, so a missing one is an error before any guest code runs. */
static int machine_create_shares(struct machine *machine, const struct machine_config *config,
                                 struct error *error)
{
    if (config->share_count > SHARE_MAX_SHARES)
        return error_set(error, "--share: too many shares (at most %d)", SHARE_MAX_SHARES);
    for (int i = 0; i < config->share_count; i++) {
        const struct share_config *share = &config->shares[i];
        struct machine_share *device = &machine->shares[i];
        if (virtio_fs_init(&device->fs, &machine->vm.memory, share->directory, share->tag,
                           share->read_only, error))
            return -1;
        device->ready = true;
        machine->share_count = i + 1;
        if (virtio_pci_create(&device->transport, &device->fs.device, &machine->pci,
                              &machine->eventfds, error))
            return -1;
    }
    return 0;
}

/* The virtio devices on PCI: entropy always, then the disks in order. */
static int machine_create_virtio(struct machine *machine, const struct machine_config *config,
                                 struct error *error)
{
    struct vm *vm = &machine->vm;
    if (pci_bus_init(&machine->pci, &vm->pio_bus, &vm->mmio_bus, error) ||
        eventfds_init(&machine->eventfds, vm->vm_fd, error))
        return -1;
    if (virtio_rng_init(&machine->rng, &vm->memory, error) ||
        virtio_pci_create(&machine->rng_transport, &machine->rng.device, &machine->pci,
                          &machine->eventfds, error))
        return -1;
    for (int i = 0; i < machine->disk_count; i++) {
        struct virtio_blk *disk = &machine->disks[i];
        if (virtio_blk_init(disk, &vm->memory, error) ||
            virtio_pci_create(&machine->disk_transports[i], &disk->device, &machine->pci,
                              &machine->eventfds, error))
            return -1;
        machine->disks_ready = i + 1;
    }
    if (machine_create_nics(machine, config, error))
        return -1;
    if (machine_create_shares(machine, config, error))
        return -1;
    if (config->virtio_console) {
        if (virtio_console_init(&machine->virtio_console, &vm->memory, STDOUT_FILENO, error) ||
            virtio_pci_create(&machine->virtio_console_transport,
                              &machine->virtio_console.device, &machine->pci,
                              &machine->eventfds, error))
            return -1;
        machine->virtio_console.abandon_output = &vm->stopping;
        machine->has_virtio_console = true;
    }
    if (config->balloon) {
        if (virtio_balloon_init(&machine->balloon, &vm->memory, config->balloon_poll_seconds,
                                config->balloon_pages_to_keep, config->balloon_deflate_on_oom,
                                error) ||
            virtio_pci_create(&machine->balloon_transport, &machine->balloon.device,
                              &machine->pci, &machine->eventfds, error))
            return -1;
        machine->has_balloon = true;
    }
    if (config->display) {
        const struct virtio_gpu_output output = {config->display, machine_gpu_resize,
                                                 machine_gpu_update};
        machine->display = config->display;
        if (virtio_gpu_init(&machine->gpu, &vm->memory, config->display_width,
                            config->display_height, &output, error) ||
            virtio_pci_create(&machine->gpu_transport, &machine->gpu.device, &machine->pci,
                              &machine->eventfds, error) ||
            virtio_input_init(&machine->keyboard, VIRTIO_INPUT_KEYBOARD, &vm->memory, 0, 0,
                              error) ||
            virtio_pci_create(&machine->keyboard_transport, &machine->keyboard.device,
                              &machine->pci, &machine->eventfds, error) ||
            virtio_input_init(&machine->tablet, VIRTIO_INPUT_TABLET, &vm->memory,
                              config->display_width, config->display_height, error) ||
            virtio_pci_create(&machine->tablet_transport, &machine->tablet.device,
                              &machine->pci, &machine->eventfds, error))
            return -1;
        machine->uart.output_tap = machine_uart_output_tap;
        machine->uart.output_tap_opaque = config->display;
        machine->screenshot_path = config->screenshot_path;
    }
    /* Last, so that it moves none of the virtio devices' slots. */
    pvpanic_init(&machine->pvpanic, machine_guest_panicked, machine);
    return pvpanic_plug(&machine->pvpanic, &machine->pci, error);
}

/* The SMBIOS tables describe the machine as its CPUID does: the signature
 * and name the guest's CPUID reports, and a fresh UUID per run. */
static int machine_write_smbios(struct machine *machine, const struct machine_config *config,
                                struct error *error)
{
    struct vm *vm = &machine->vm;
    struct smbios_machine description = {.cpu_count = config->cpu_count,
                                         .memory_size = config->memory_size};
    const struct kvm_cpuid_entry2 *signature = cpuid_lookup(vm->supported_cpuid, 1, 0);
    if (signature) {
        description.cpu_signature = signature->eax;
        description.cpu_features = signature->edx;
    }
    char name[sizeof(vm->host_brand) + 1] = "";
    if (vm->has_host_brand) {
        memcpy(name, vm->host_brand, sizeof(vm->host_brand));
        const char *start = name;
        while (*start == ' ')
            start++;
        description.cpu_version = start;
    }
    if (getrandom(description.uuid, sizeof(description.uuid), 0) != sizeof(description.uuid))
        return error_set(error, "getrandom: %s", strerror(errno));
    description.uuid[7] = (uint8_t)((description.uuid[7] & 0x0f) | 0x40); /* version 4 */
    description.uuid[8] = (uint8_t)((description.uuid[8] & 0x3f) | 0x80); /* RFC 4122 */
    uint8_t *area = guest_memory_ptr(&vm->memory, LAYOUT_SMBIOS_START,
                                     LAYOUT_SMBIOS_END - LAYOUT_SMBIOS_START);
    if (!area)
        return error_set(error, "guest memory too small for the SMBIOS tables");
    return smbios_build(area, LAYOUT_SMBIOS_START, LAYOUT_SMBIOS_END - LAYOUT_SMBIOS_START,
                        &description, error);
}

/* What QMP asks of the devices, on the event loop's thread. */
static int machine_qmp_screendump(void *opaque, const char *path, char *message, size_t size)
{
    struct machine *machine = opaque;
    if (!machine->display) {
        snprintf(message, size, "there is no display (guest -g adds one)");
        return -1;
    }
    struct error error;
    if (display_screenshot(machine->display, path, &error)) {
        snprintf(message, size, "%s", error.message);
        return -1;
    }
    return 0;
}

static int machine_qmp_disk_count(void *opaque)
{
    return ((struct machine *)opaque)->disk_count;
}

static void machine_qmp_disk_info(void *opaque, int disk, struct qmp_disk_info *info)
{
    const struct virtio_blk *blk = &((struct machine *)opaque)->disks[disk];
    *info = (struct qmp_disk_info){blk->name, blk->path, blk->read_only};
}

static bool machine_qmp_balloon(void *opaque, unsigned long long guest_bytes)
{
    struct machine *machine = opaque;
    if (!machine->has_balloon)
        return false;
    virtio_balloon_request(&machine->balloon, guest_bytes);
    return true;
}

static bool machine_qmp_query_balloon(void *opaque, unsigned long long *guest_bytes)
{
    struct machine *machine = opaque;
    if (!machine->has_balloon)
        return false;
    *guest_bytes = virtio_balloon_guest_bytes(&machine->balloon);
    return true;
}

/* An edge on the GED's line: its _EVT notifies the power button. */
static void machine_press_power_button(void *opaque)
{
    struct machine *machine = opaque;
    vm_set_irq_line(&machine->vm, POWER_BUTTON_GSI, 1);
    vm_set_irq_line(&machine->vm, POWER_BUTTON_GSI, 0);
}

int machine_create(struct machine *machine, int kvm_fd, const struct machine_config *config,
                   struct error *error)
{
    uint64_t memory_size = config->memory_size;
    int cpu_count = config->cpu_count;
    memset(machine, 0, sizeof(*machine));
    machine->loop.epoll_fd = machine->loop.wake_fd = -1;
    machine->screenshot_signal_fd = -1;
    /* The disks first: a missing or locked image is the user's error, said
     * before anything of the VM exists. */
    if (config->disk_count > MACHINE_MAX_DISKS)
        return error_set(error, "too many disks (at most %d)", MACHINE_MAX_DISKS);
    for (int i = 0; i < config->disk_count; i++) {
        if (virtio_blk_open(&machine->disks[i], config->disks[i].path,
                            config->disks[i].read_only, (unsigned)i, error))
            return -1;
        machine->disk_count = i + 1;
    }
    if (vm_create(&machine->vm, kvm_fd, memory_size, cpu_count, error))
        return -1;
    if (event_loop_init(&machine->loop, error))
        return -1;
    /* The debugger's socket before any guest code: a port in use is said now. */
    if (config->gdb_spec) {
        if (gdb_server_open(&machine->gdb, config->gdb_spec, &machine->vm, error)) {
            struct error detail = *error;
            return error_set(error, "--gdb %s", detail.message);
        }
        machine->has_gdb = true;
    }
    if (config->qmp_spec) {
        if (qmp_server_open(&machine->qmp, config->qmp_spec, &machine->vm, error)) {
            struct error detail = *error;
            return error_set(error, "--qmp %s", detail.message);
        }
        machine->has_qmp = true;
        machine->qmp.devices = (struct qmp_devices){
            .opaque = machine,
            .screendump = machine_qmp_screendump,
            .disk_count = machine_qmp_disk_count,
            .disk_info = machine_qmp_disk_info,
            .balloon = machine_qmp_balloon,
            .query_balloon = machine_qmp_query_balloon,
            .power_button = machine_press_power_button,
        };
        if (machine->has_gdb) {
            machine->qmp.held_by = gdb_server_holds_vm;
            machine->qmp.held_by_opaque = &machine->gdb;
        }
    }
    machine->start_paused = config->start_paused;

    uart_init(&machine->uart, STDOUT_FILENO, machine_set_uart_irq, machine);
    machine->uart.abandon_output = &machine->vm.stopping;
    rtc_init(&machine->rtc, machine_set_rtc_irq, machine);
    machine->power = (struct power){machine_stop, machine};

    struct bus *pio = &machine->vm.pio_bus;
    if (bus_register(pio, UART_COM1_PORT, UART_PORT_COUNT, &uart_ops, &machine->uart, error) ||
        bus_register(pio, RTC_PORT, RTC_PORT_COUNT, &rtc_ops, &machine->rtc, error) ||
        bus_register(pio, LAYOUT_ACPI_SLEEP_CONTROL_PORT, 3, &acpi_power_ops, &machine->power,
                     error) ||
        bus_register(pio, I8042_DATA_PORT, 1, &i8042_data_ops, &machine->power, error) ||
        bus_register(pio, I8042_COMMAND_PORT, 1, &i8042_command_ops, &machine->power, error))
        return -1;
    /* After the PCI host bridge: a --debug-exit port that collides with
     * any device is named as the option's fault. */
    if (machine_create_virtio(machine, config, error) ||
        machine_create_test_support(machine, config, error))
        return -1;

    uint8_t *acpi_area = guest_memory_ptr(&machine->vm.memory, LAYOUT_ACPI_START,
                                          LAYOUT_ACPI_TABLES_END - LAYOUT_ACPI_START);
    if (!acpi_area)
        return error_set(error, "guest memory too small for the ACPI tables");
    if (acpi_build_tables(acpi_area, LAYOUT_ACPI_START,
                          LAYOUT_ACPI_TABLES_END - LAYOUT_ACPI_START, cpu_count,
                          &machine->rsdp_address, error))
        return -1;
    if (machine_write_smbios(machine, config, error))
        return -1;
    if (firmware_write_reset_vector(&machine->vm.memory, error))
        return -1;
    return cpu_state_write_boot_tables(&machine->vm.memory, error);
}

/* A disk the user asked for that the guest never drove is almost always a
 * kernel without the driver: say so, once, at the end. */
static void machine_report_unused_devices(struct machine *machine)
{
    for (int i = 0; i < machine->disk_count; i++) {
        struct virtio_blk *disk = &machine->disks[i];
        if (!disk->device.ever_driver_ok)
            log_message("%s (%s): the guest never initialised this disk; does its kernel have "
                        "virtio_blk and virtio_pci (built in, or loaded from the initrd)?",
                        disk->name, disk->path);
    }
    for (int i = 0; i < machine->nic_count; i++)
        if (!machine->nics[i].net.device.ever_driver_ok)
            log_message("virtio-net eth%d: the guest never initialised this NIC; does its kernel "
                        "have virtio_net and virtio_pci (built in, or loaded from the initrd)?",
                        i);
    if (machine->has_balloon && !machine->balloon.device.ever_driver_ok)
        log_message("virtio-balloon: the guest never initialised it; does its kernel have "
                    "virtio_balloon (built in, or loaded from the initrd)?");
    if (machine->display && !virtio_gpu_scanout_was_set(&machine->gpu))
        log_message("virtio-gpu: the guest never showed anything on its screen; does its kernel "
                    "have virtio_gpu (built in, or loaded from the initrd), and a console= or "
                    "program that uses it?");
    if (machine->has_virtio_console && !machine->virtio_console.device.ever_driver_ok)
        log_message("virtio-console: the guest never initialised it; does its kernel have "
                    "virtio_console (built in, or loaded from the initrd)?");
    for (int i = 0; i < machine->share_count; i++)
        if (!machine->shares[i].fs.device.ever_driver_ok)
            log_message("virtio-fs %s (%s): the guest never initialised this share; does its "
                        "kernel have virtiofs and virtio_pci (built in, or loaded from the "
                        "initrd)?",
                        machine->shares[i].fs.tag, machine->shares[i].fs.directory);
}

/* SIGQUIT, after the vCPUs' report: what each NIC moved and dropped, for a
 * guest whose network seems dead. */
static void machine_report_nics(struct machine *machine)
{
    for (int i = 0; i < machine->nic_count; i++) {
        struct virtio_net *net = &machine->nics[i].net;
        pthread_mutex_lock(&net->device.lock);
        const struct virtio_net_stats stats = net->stats;
        bool vhost = net->vhost_running;
        uint8_t status = net->device.status;
        pthread_mutex_unlock(&net->device.lock);
        log_message("virtio-net eth%d (%s%s, status 0x%x): rx %llu frames, dropped %llu not "
                    "ready, %llu filtered, %llu bad size, %llu bad header, %llu too big, %llu "
                    "bad chain, %llu refused for want of buffers; tx %llu frames, dropped %llu "
                    "bad chain, %llu bad size, %llu bad header, %llu link down, %llu busy",
                    i, machine->nics[i].backend->ops->kind, vhost ? ", vhost-net" : "", status,
                    (unsigned long long)stats.rx_frames, (unsigned long long)stats.rx_not_ready,
                    (unsigned long long)stats.rx_filtered, (unsigned long long)stats.rx_bad_size,
                    (unsigned long long)stats.rx_bad_header,
                    (unsigned long long)stats.rx_too_big, (unsigned long long)stats.rx_bad_chain,
                    (unsigned long long)stats.rx_no_buffers, (unsigned long long)stats.tx_frames,
                    (unsigned long long)stats.tx_bad_chain, (unsigned long long)stats.tx_bad_size,
                    (unsigned long long)stats.tx_bad_header,
                    (unsigned long long)stats.tx_link_down, (unsigned long long)stats.tx_busy);
    }
}

static int machine_start_display(struct machine *machine, struct error *error)
{
    if (virtio_device_start(&machine->gpu.device, &machine->loop, false, error) ||
        virtio_device_start(&machine->keyboard.device, &machine->loop, false, error) ||
        virtio_device_start(&machine->tablet.device, &machine->loop, false, error))
        return -1;
    if (machine->screenshot_path) {
        sigset_t usr1;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        machine->screenshot_signal_fd = signalfd(-1, &usr1, SFD_CLOEXEC | SFD_NONBLOCK);
        if (machine->screenshot_signal_fd < 0)
            return error_set(error, "signalfd: %s", strerror(errno));
        machine->screenshot_source = (struct event_source){
            machine->screenshot_signal_fd, machine_screenshot_requested, machine};
        if (event_loop_watch(&machine->loop, &machine->screenshot_source, EPOLLIN))
            return error_set(error, "cannot watch for SIGUSR1");
    }
    /* Until the guest shows something, the display says what it waits for
     * rather than staying black. */
    display_show_message(machine->display,
                         "Waiting for the guest to show something: if this stays, its kernel "
                         "lacks virtio_gpu (built in or loaded from the initrd).");
    const struct display_input_sink sink = {machine, machine_display_key, machine_display_pointer,
                                            machine_display_console_input, machine_quit};
    return display_start(machine->display, &sink, error);
}

/* Every vCPU has parked: the debugger first (it may let a stop that was
 * not its own go at once), then the control socket. */
static void machine_vm_paused(struct event_source *source, uint32_t events)
{
    (void)events;
    struct machine *machine = source->opaque;
    uint64_t count;
    if (read(machine->vm.paused_event_fd, &count, sizeof(count)) < 0)
        return;
    if (machine->has_gdb)
        gdb_server_vm_paused(&machine->gdb);
    if (machine->has_qmp)
        qmp_server_vm_paused(&machine->qmp);
}

int machine_run(struct machine *machine, const struct boot_entry *entry, struct error *error)
{
    /* Typed input goes to the UART, or to hvc0 with --console=virtio. */
    struct console_port port = {machine_uart_input_room, machine_uart_receive, &machine->uart};
    if (machine->has_virtio_console)
        port = (struct console_port){virtio_console_input_room, virtio_console_receive,
                                     &machine->virtio_console};
    if (console_start(&machine->console, &machine->loop, port, machine_quit, machine, error))
        return -1;
    if (machine->has_virtio_console) {
        machine->virtio_console.input_flow = console_input_flow;
        machine->virtio_console.input_flow_opaque = &machine->console;
        if (virtio_device_start(&machine->virtio_console.device, &machine->loop, false, error))
            return -1;
    } else {
        machine->uart.input_flow = console_input_flow;
        machine->uart.input_flow_opaque = &machine->console;
    }
    if (rtc_start(&machine->rtc, &machine->loop, error))
        return -1;
    /* Disks do blocking I/O, so each gets a thread; the rest share the loop. */
    if (virtio_device_start(&machine->rng.device, &machine->loop, false, error))
        return -1;
    if (machine->has_balloon && virtio_balloon_start(&machine->balloon, &machine->loop, error))
        return -1;
    for (int i = 0; i < machine->disk_count; i++)
        if (virtio_device_start(&machine->disks[i].device, &machine->loop, true, error))
            return -1;
    /* A FUSE server's file I/O blocks as a disk's does. */
    for (int i = 0; i < machine->share_count; i++)
        if (virtio_device_start(&machine->shares[i].fs.device, &machine->loop, true, error))
            return -1;
    for (int i = 0; i < machine->nic_count; i++) {
        struct machine_nic *nic = &machine->nics[i];
        if (virtio_device_start(&nic->net.device, &machine->loop, false, error) ||
            nic->backend->ops->start(nic->backend, &machine->loop, error))
            return -1;
        nic->started = true;
    }
    if (machine->display && machine_start_display(machine, error))
        return -1;
    if (machine->has_gdb && gdb_server_start(&machine->gdb, &machine->loop, error))
        return -1;
    if (machine->has_qmp &&
        qmp_server_start(&machine->qmp, &machine->loop, machine->start_paused, error))
        return -1;
    if (machine->has_qmp && machine->has_balloon &&
        virtio_balloon_watch_size(&machine->balloon, &machine->loop, qmp_server_balloon_changed,
                                  &machine->qmp, error))
        return -1;
    if (machine->has_gdb || machine->has_qmp) {
        machine->paused_source =
            (struct event_source){machine->vm.paused_event_fd, machine_vm_paused, machine};
        if (event_loop_watch(&machine->loop, &machine->paused_source, EPOLLIN))
            return error_set(error, "cannot watch for the VM's pauses");
    }
    if (machine->start_paused)
        vm_pause(&machine->vm);
    if (event_loop_start(&machine->loop, error))
        return -1;
    console_enter_raw_mode();
    int status = vm_run(&machine->vm, entry, error);
    /* The loop may be blocked writing the guest's virtio-console output to a
     * stdout nobody reads: the vCPUs' kick interrupts that write too. */
    event_loop_stop_interrupting(&machine->loop, vm_kick_signal());
    if (machine->has_qmp && status >= 0)
        qmp_server_vm_ending(&machine->qmp, status);
    if (status == 128 + SIGQUIT)
        machine_report_nics(machine);
    for (int i = 0; i < machine->nic_count; i++)
        if (machine->nics[i].started)
            machine->nics[i].backend->ops->stop(machine->nics[i].backend, &machine->loop);
    for (int i = 0; i < machine->disk_count; i++)
        virtio_device_stop(&machine->disks[i].device, NULL);
    for (int i = 0; i < machine->share_count; i++)
        virtio_device_stop(&machine->shares[i].fs.device, NULL);
    console_restore_terminal();
    machine_report_unused_devices(machine);
    return status;
}

void machine_destroy(struct machine *machine)
{
    for (int i = 0; i < machine->nic_count; i++) {
        struct machine_nic *nic = &machine->nics[i];
        if (nic->transport.device)
            virtio_pci_destroy(&nic->transport);
        if (nic->net.device.ops)
            virtio_net_destroy(&nic->net);
        nic->backend->ops->destroy(nic->backend);
    }
    for (int i = 0; i < machine->share_count; i++) {
        struct machine_share *share = &machine->shares[i];
        if (share->transport.device)
            virtio_pci_destroy(&share->transport);
        if (share->ready)
            virtio_fs_destroy(&share->fs);
    }
    for (int i = 0; i < machine->disks_ready; i++) {
        virtio_pci_destroy(&machine->disk_transports[i]);
        virtio_device_destroy(&machine->disks[i].device);
    }
    for (int i = 0; i < machine->disk_count; i++)
        virtio_blk_close(&machine->disks[i]);
    if (machine->has_balloon) {
        virtio_pci_destroy(&machine->balloon_transport);
        virtio_balloon_destroy(&machine->balloon);
    }
    if (machine->has_virtio_console) {
        virtio_pci_destroy(&machine->virtio_console_transport);
        virtio_device_destroy(&machine->virtio_console.device);
    }
    if (machine->display) {
        virtio_pci_destroy(&machine->tablet_transport);
        virtio_input_destroy(&machine->tablet);
        virtio_pci_destroy(&machine->keyboard_transport);
        virtio_input_destroy(&machine->keyboard);
        virtio_pci_destroy(&machine->gpu_transport);
        virtio_gpu_destroy(&machine->gpu);
    }
    if (machine->screenshot_signal_fd >= 0)
        close(machine->screenshot_signal_fd);
    if (machine->has_gdb)
        gdb_server_close(&machine->gdb);
    if (machine->has_qmp)
        qmp_server_close(&machine->qmp);
    if (machine->rng_transport.device) {
        virtio_pci_destroy(&machine->rng_transport);
        virtio_device_destroy(&machine->rng.device);
    }
    if (machine->eventfds.routing)
        eventfds_destroy(&machine->eventfds);
    if (machine->has_test_devices)
        test_devices_destroy(&machine->test_devices);
    fw_cfg_destroy(&machine->fw_cfg);
    event_loop_destroy(&machine->loop);
    if (machine->rtc.clock) /* initialised */
        rtc_destroy(&machine->rtc);
    vm_destroy(&machine->vm);
}
