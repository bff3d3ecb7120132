/* The kernel the GDB stub's test debugs (tests/integration/gdb_session.sh):
 * 64-bit code with symbols (build/guests/gdb-probe.elf), booted as a ZBI so
 * that the VMM enters it with paging on.  It calls a function three times,
 * each call storing into a variable (a breakpoint, a step and a watchpoint
 * have something to find), keeps a string behind a pointer (memory reads),
 * then spins until the debugger clears probe_keep_spinning (a break-in finds
 * it running), and powers off with "probe: PASS".  That flag is initialised
 * data, not .bss, so that a debugger may clear it before start64.S zeroes
 * .bss. */
#include "probe.h"

const char *volatile probe_message = "hello from the gdb probe";
volatile uint64_t probe_counter;
volatile uint32_t probe_keep_spinning = 1;
volatile uint64_t probe_spins;

void gdb_probe_main(uint64_t container_address, uint64_t rflags);

__attribute__((noinline)) void probe_count(uint64_t value)
{
    probe_counter = value;
    __asm__ volatile("" ::: "memory");
}

void gdb_probe_main(uint64_t container_address, uint64_t rflags)
{
    (void)container_address;
    (void)rflags;
    probe_printf("gdb probe: started");
    for (uint64_t i = 1; i <= 3; i++)
        probe_count(i);
    probe_printf("gdb probe: counter %llu", U64(probe_counter));
    /* Some 10^10 rounds, minutes at least, in case nobody ever says stop. */
    while (probe_keep_spinning && probe_spins < 10000000000ull)
        probe_spins++;
    check(probe_keep_spinning == 0, "the debugger ended the spin (probe_keep_spinning %u)",
          probe_keep_spinning);
    probe_finish();
}
