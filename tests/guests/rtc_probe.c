/* The RTC probe: a multiboot kernel (entered from start32.S) that drives the
 * CMOS RTC as a PC's firmware and OS do, and checks its flags and its
 * interrupt on ISA IRQ 8: the update-ended flag polled, then the
 * update-ended, alarm and periodic interrupts, register C cleared on read,
 * and SET halting the clock.
 *
 * The interrupt is seen in the slave 8259's request register (IRR bit 0):
 * an edge on IRQ 8 sets it whether or not the line is masked, and with
 * interrupts off it stays set until an ICW1 resets the PIC, which the probe
 * does before each wait.  Waits are bounded by the RTC's own seconds. */
#include "probe.h"

#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define REG_SECONDS 0x00
#define REG_ALARM_SECONDS 0x01
#define REG_ALARM_MINUTES 0x03
#define REG_ALARM_HOURS 0x05
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d

#define A_UIP 0x80
#define A_NO_PERIODIC 0x20 /* 32.768 kHz divider, rate 0 */
#define A_2HZ 0x2f
#define A_8HZ 0x2d
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_24_HOUR 0x02
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define DONT_CARE 0xff

#define PIC_SLAVE_COMMAND 0xa0
#define PIC_SLAVE_DATA 0xa1

void multiboot_probe_main(uint32_t magic, uint32_t info_address, uint32_t eflags,
                          uint32_t bss_was_dirty);

static uint8_t cmos_read(uint8_t index)
{
    outb(CMOS_INDEX, index);
    return inb(CMOS_DATA);
}

static void cmos_write(uint8_t index, uint8_t value)
{
    outb(CMOS_INDEX, index);
    outb(CMOS_DATA, value);
}

static int from_bcd(uint8_t value) { return (value >> 4) * 10 + (value & 0x0f); }
static uint8_t to_bcd(int value) { return (uint8_t)((value / 10) << 4 | value % 10); }

static int rtc_seconds(void) { return from_bcd(cmos_read(REG_SECONDS)); }
static int seconds_since(int start) { return (rtc_seconds() - start + 60) % 60; }

/* ICW1..ICW4 (vectors 0x70, cascade on IRQ 2, 8086 mode), all masked: the
 * reset clears IRR, so a later IRR bit is a new edge. */
static void pic_slave_reset(void)
{
    outb(PIC_SLAVE_COMMAND, 0x11);
    outb(PIC_SLAVE_DATA, 0x70);
    outb(PIC_SLAVE_DATA, 0x02);
    outb(PIC_SLAVE_DATA, 0x01);
    outb(PIC_SLAVE_DATA, 0xff);
}

static bool irq8_requested(void)
{
    outb(PIC_SLAVE_COMMAND, 0x0a); /* OCW3: read IRR */
    return inb(PIC_SLAVE_COMMAND) & 1;
}

/* Waits up to `seconds` RTC seconds for an edge on IRQ 8. */
static bool wait_for_irq8(int seconds)
{
    int start = rtc_seconds();
    while (seconds_since(start) < seconds)
        if (irq8_requested())
            return true;
    return irq8_requested();
}

/* Reads register C until one of `wanted` shows (or `seconds` pass); returns
 * every flag seen. */
static uint8_t poll_register_c(uint8_t wanted, int seconds)
{
    uint8_t seen = 0;
    int start = rtc_seconds();
    while (!(seen & wanted) && seconds_since(start) < seconds)
        seen |= cmos_read(REG_C);
    return seen;
}

/* TSC ticks in one RTC second, between two second boundaries. */
static uint64_t tsc_per_second(void)
{
    int start = rtc_seconds();
    while (rtc_seconds() == start) {
    }
    uint64_t begin = rdtsc();
    start = rtc_seconds();
    while (rtc_seconds() == start) {
    }
    return rdtsc() - begin;
}

static void check_update_in_progress(void)
{
    /* UIP is up 244 us before each update; a few seconds of reads see it
     * unless each read takes longer than that (said so, not failed). */
    int start = rtc_seconds();
    uint32_t reads = 0;
    bool seen = false;
    while (!seen && seconds_since(start) < 4) {
        for (int i = 0; i < 64 && !seen; i++, reads++)
            seen = cmos_read(REG_A) & A_UIP;
    }
    probe_printf("rtc UIP %s after %u reads of register A", seen ? "seen" : "not seen", reads);
}

static void check_update_ended_polled(void)
{
    pic_slave_reset();
    (void)cmos_read(REG_C);
    uint8_t seen = poll_register_c(C_UF, 3);
    check(seen & C_UF, "rtc UF set at an update with every interrupt off (C 0x%x)", seen);
    check(!(seen & C_IRQF), "rtc no IRQF with every interrupt off");
    check(!irq8_requested(), "rtc no IRQ 8 with every interrupt off");
}

static void check_update_ended_interrupt(void)
{
    pic_slave_reset();
    (void)cmos_read(REG_C);
    cmos_write(REG_B, B_24_HOUR | B_UIE);
    check(wait_for_irq8(3), "rtc IRQ 8 for the update-ended interrupt (UIE)");
    uint8_t flags = cmos_read(REG_C);
    check((flags & (C_IRQF | C_UF)) == (C_IRQF | C_UF), "rtc C has IRQF and UF (0x%x)", flags);
    flags = cmos_read(REG_C);
    check(!(flags & C_IRQF), "rtc C cleared by the read (then 0x%x)", flags);
    /* After the acknowledgement the next second interrupts again. */
    pic_slave_reset();
    check(wait_for_irq8(3), "rtc IRQ 8 again the next second");
    cmos_write(REG_B, B_24_HOUR);
    (void)cmos_read(REG_C);
}

static void check_alarm_interrupt(void)
{
    pic_slave_reset();
    (void)cmos_read(REG_C);
    int alarm = (rtc_seconds() + 3) % 60;
    cmos_write(REG_ALARM_SECONDS, to_bcd(alarm));
    cmos_write(REG_ALARM_MINUTES, DONT_CARE);
    cmos_write(REG_ALARM_HOURS, DONT_CARE);
    cmos_write(REG_B, B_24_HOUR | B_AIE);
    bool came = wait_for_irq8(6);
    int at = rtc_seconds();
    check(came, "rtc IRQ 8 for the alarm (AIE)");
    check(came && at == alarm, "rtc the alarm for :%02d came at :%02d", alarm, at);
    uint8_t flags = cmos_read(REG_C);
    check((flags & (C_IRQF | C_AF)) == (C_IRQF | C_AF), "rtc C has IRQF and AF (0x%x)", flags);
    cmos_write(REG_B, B_24_HOUR);
    (void)cmos_read(REG_C);
}

static void check_periodic_interrupt(void)
{
    cmos_write(REG_A, A_2HZ);
    pic_slave_reset();
    (void)cmos_read(REG_C);
    cmos_write(REG_B, B_24_HOUR | B_PIE);
    check(wait_for_irq8(3), "rtc IRQ 8 for the periodic interrupt (PIE, 2 Hz)");
    uint8_t flags = cmos_read(REG_C);
    check((flags & (C_IRQF | C_PF)) == (C_IRQF | C_PF), "rtc C has IRQF and PF (0x%x)", flags);
    cmos_write(REG_B, B_24_HOUR);

    /* The rate: PF polled at 8 Hz, over two whole seconds. */
    cmos_write(REG_A, A_8HZ);
    int start = rtc_seconds();
    while (rtc_seconds() == start) {
    }
    start = rtc_seconds();
    (void)cmos_read(REG_C);
    unsigned periods = 0;
    while (seconds_since(start) < 2)
        if (cmos_read(REG_C) & C_PF)
            periods++;
    check(periods >= 14 && periods <= 17, "rtc %u periods of 8 Hz in 2 s", periods);
    cmos_write(REG_A, A_NO_PERIODIC);
    (void)cmos_read(REG_C);
}

static void check_set_halts_updates(uint64_t tsc_second)
{
    int before = rtc_seconds();
    cmos_write(REG_B, B_24_HOUR | B_SET);
    (void)cmos_read(REG_C);
    uint64_t begin = rdtsc();
    while (rdtsc() - begin < (tsc_second * 5) >> 1) {
    }
    int during = rtc_seconds();
    uint8_t flags = cmos_read(REG_C);
    cmos_write(REG_B, B_24_HOUR);
    int after = rtc_seconds();
    check(during == before, "rtc SET halts the clock (:%02d, then :%02d 2.5 s later)", before,
          during);
    check(!(flags & C_UF), "rtc no update while SET (C 0x%x)", flags);
    int advanced = (after - before + 60) % 60;
    check(advanced >= 2 && advanced <= 4, "rtc the clock goes on after SET (%d s)", advanced);
}

void multiboot_probe_main(uint32_t magic, uint32_t info_address, uint32_t eflags,
                          uint32_t bss_was_dirty)
{
    (void)info_address;
    (void)eflags;
    (void)bss_was_dirty;
    probe_printf("protocol multiboot rtc");
    check(magic == 0x2badb002u, "EAX 0x%x is the multiboot magic", magic);
    check(cmos_read(REG_D) & 0x80, "rtc register D says the time is valid");
    cmos_write(REG_A, A_NO_PERIODIC);
    cmos_write(REG_B, B_24_HOUR);
    (void)cmos_read(REG_C);
    uint64_t tsc_second = tsc_per_second();
    check_update_in_progress();
    check_update_ended_polled();
    check_update_ended_interrupt();
    check_alarm_interrupt();
    check_periodic_interrupt();
    check_set_halts_updates(tsc_second);
    cmos_write(REG_A, 0x26);
    probe_finish();
}
