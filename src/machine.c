#include "machine.h"

#include <string.h>
#include <unistd.h>

#include "exit_status.h"
#include "x86/acpi.h"
#include "x86/cpu_state.h"
#include "x86/firmware.h"
#include "x86/layout.h"

static void machine_set_uart_irq(void *opaque, int level)
{
    struct machine *machine = opaque;
    vm_set_irq_line(&machine->vm, UART_COM1_IRQ, level);
}

static void machine_stop(void *opaque, int exit_status)
{
    struct machine *machine = opaque;
    vm_request_stop(&machine->vm, exit_status);
}

static void machine_quit(void *opaque)
{
    machine_stop(opaque, GUEST_EXIT_QUIT);
}

static const struct bus_ops uart_ops = {uart_port_read, uart_port_write};
static const struct bus_ops rtc_ops = {rtc_port_read, rtc_port_write};
static const struct bus_ops acpi_power_ops = {power_acpi_read, power_acpi_write};
static const struct bus_ops i8042_data_ops = {power_i8042_read, NULL};
static const struct bus_ops i8042_command_ops = {power_i8042_read, power_i8042_command_write};

int machine_create(struct machine *machine, int kvm_fd, uint64_t memory_size, int cpu_count,
                   struct error *error)
{
    memset(machine, 0, sizeof(*machine));
    machine->loop.epoll_fd = machine->loop.wake_fd = -1;
    if (vm_create(&machine->vm, kvm_fd, memory_size, cpu_count, error))
        return -1;
    if (event_loop_init(&machine->loop, error))
        return -1;

    uart_init(&machine->uart, STDOUT_FILENO, machine_set_uart_irq, machine);
    rtc_init(&machine->rtc);
    machine->power = (struct power){machine_stop, machine};

    struct bus *pio = &machine->vm.pio_bus;
    if (bus_register(pio, UART_COM1_PORT, UART_PORT_COUNT, &uart_ops, &machine->uart, error) ||
        bus_register(pio, RTC_PORT, RTC_PORT_COUNT, &rtc_ops, &machine->rtc, error) ||
        bus_register(pio, LAYOUT_ACPI_SLEEP_CONTROL_PORT, 3, &acpi_power_ops, &machine->power,
                     error) ||
        bus_register(pio, I8042_DATA_PORT, 1, &i8042_data_ops, &machine->power, error) ||
        bus_register(pio, I8042_COMMAND_PORT, 1, &i8042_command_ops, &machine->power, error))
        return -1;

    uint8_t *acpi_area = guest_memory_ptr(&machine->vm.memory, LAYOUT_ACPI_START,
                                          LAYOUT_ACPI_TABLES_END - LAYOUT_ACPI_START);
    if (!acpi_area)
        return error_set(error, "guest memory too small for the ACPI tables");
    if (acpi_build_tables(acpi_area, LAYOUT_ACPI_START,
                          LAYOUT_ACPI_TABLES_END - LAYOUT_ACPI_START, cpu_count,
                          &machine->rsdp_address, error))
        return -1;
    if (firmware_write_reset_vector(&machine->vm.memory, error))
        return -1;
    return cpu_state_write_boot_tables(&machine->vm.memory, error);
}

int machine_run(struct machine *machine, const struct boot_entry *entry, struct error *error)
{
    if (console_start(&machine->console, &machine->loop, &machine->uart, machine_quit, machine,
                      error))
        return -1;
    if (event_loop_start(&machine->loop, error))
        return -1;
    console_enter_raw_mode();
    int status = vm_run(&machine->vm, entry, error);
    event_loop_stop(&machine->loop);
    console_restore_terminal();
    return status;
}

void machine_destroy(struct machine *machine)
{
    event_loop_destroy(&machine->loop);
    vm_destroy(&machine->vm);
}
