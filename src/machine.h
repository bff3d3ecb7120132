/* The x86 PC the guest sees: a VM plus its platform devices (UART, RTC,
 * ACPI power and reset, 8042 reset), the console, and the event loop. */
#ifndef GUEST_MACHINE_H
#define GUEST_MACHINE_H

#include "console.h"
#include "devices/power.h"
#include "devices/rtc.h"
#include "devices/uart.h"
#include "event_loop.h"
#include "vm.h"

struct machine {
    struct vm vm;
    struct event_loop loop;
    struct uart uart;
    struct rtc rtc;
    struct power power;
    struct console console;
    uint64_t rsdp_address;
};

/* Creates the VM with its devices and ACPI tables; loads nothing yet. */
int machine_create(struct machine *machine, int kvm_fd, uint64_t memory_size, int cpu_count,
                   struct error *error);

/* Connects the console, starts the event loop and runs until the guest ends. */
int machine_run(struct machine *machine, const struct boot_entry *entry, struct error *error);

void machine_destroy(struct machine *machine);

#endif
