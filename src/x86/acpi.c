#include "x86/acpi.h"

#include "devices/power.h"

#include <stdbool.h>
#include <string.h>

#include "x86/layout.h"

struct __attribute__((packed)) acpi_rsdp {
    char signature[8];
    uint8_t checksum;
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;
    uint8_t reserved[3];
};

struct __attribute__((packed)) acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
};

struct __attribute__((packed)) acpi_gas {
    uint8_t space_id; /* 1 = system I/O */
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size; /* 1 = byte */
    uint64_t address;
};

struct __attribute__((packed)) acpi_fadt {
    struct acpi_header header;
    uint32_t firmware_ctrl;
    uint32_t dsdt;
    uint8_t reserved0;
    uint8_t preferred_pm_profile;
    uint16_t sci_interrupt;
    uint32_t smi_command;
    uint8_t acpi_enable, acpi_disable, s4bios_request, pstate_control;
    uint32_t pm1a_event_block, pm1b_event_block, pm1a_control_block, pm1b_control_block;
    uint32_t pm2_control_block, pm_timer_block, gpe0_block, gpe1_block;
    uint8_t pm1_event_length, pm1_control_length, pm2_control_length, pm_timer_length;
    uint8_t gpe0_block_length, gpe1_block_length, gpe1_base, cstate_control;
    uint16_t c2_latency, c3_latency, flush_size, flush_stride;
    uint8_t duty_offset, duty_width, day_alarm, month_alarm, century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    struct acpi_gas reset_register;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_ctrl;
    uint64_t x_dsdt;
    struct acpi_gas x_pm1a_event_block, x_pm1b_event_block, x_pm1a_control_block;
    struct acpi_gas x_pm1b_control_block, x_pm2_control_block, x_pm_timer_block;
    struct acpi_gas x_gpe0_block, x_gpe1_block;
    struct acpi_gas sleep_control_register, sleep_status_register;
    uint64_t hypervisor_vendor_id;
};

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");
_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header is 36 bytes");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6 is 276 bytes");

struct __attribute__((packed)) acpi_madt_local_apic {
    uint8_t type, length, processor_id, apic_id;
    uint32_t flags;
};

struct __attribute__((packed)) acpi_madt_ioapic {
    uint8_t type, length, ioapic_id, reserved;
    uint32_t address, gsi_base;
};

struct __attribute__((packed)) acpi_madt_local_apic_nmi {
    uint8_t type, length, processor_id;
    uint16_t flags;
    uint8_t lint;
};

#define FADT_FLAG_WBINVD (1u << 0)
#define FADT_FLAG_RESET_REGISTER_SUPPORTED (1u << 10)
#define FADT_FLAG_HARDWARE_REDUCED (1u << 20)
#define FADT_BOOT_ARCH_NO_VGA (1u << 2)
#define FADT_BOOT_ARCH_NO_ASPM (1u << 4)

#define RTC_CENTURY_REGISTER 0x32

uint8_t acpi_checksum(const void *bytes, size_t length)
{
    const uint8_t *p = bytes;
    uint8_t sum = 0;
    for (size_t i = 0; i < length; i++)
        sum += p[i];
    return (uint8_t)-sum;
}

/* A bump allocator over the table area; tables are 16-byte aligned. */
struct acpi_builder {
    uint8_t *area;
    uint64_t guest_base;
    size_t size;
    size_t used;
};

static void *acpi_allocate(struct acpi_builder *builder, size_t length, uint64_t *guest_address)
{
    size_t start = (builder->used + 15) & ~(size_t)15;
    if (start > builder->size || length > builder->size - start)
        return NULL;
    builder->used = start + length;
    *guest_address = builder->guest_base + start;
    memset(builder->area + start, 0, length);
    return builder->area + start;
}

static void acpi_fill_header(struct acpi_header *header, const char *signature, uint32_t length,
                             uint8_t revision)
{
    memcpy(header->signature, signature, 4);
    header->length = length;
    header->revision = revision;
    memcpy(header->oem_id, "GUEST ", 6);
    memcpy(header->oem_table_id, "GUESTVMM", 8);
    header->oem_revision = 1;
    memcpy(header->creator_id, "GVMM", 4);
    header->creator_revision = 1;
}

static void acpi_seal(struct acpi_header *header)
{
    header->checksum = 0;
    header->checksum = acpi_checksum(header, header->length);
}

/* A little AML writer for the DSDT: fixed buffers, since the DSDT is small
 * and known; overflowing one is a programming error caught by the tests. */
struct aml {
    uint8_t bytes[512];
    size_t length;
    bool overflow;
};

static void aml_put(struct aml *aml, const void *bytes, size_t length)
{
    if (length > sizeof(aml->bytes) - aml->length) {
        aml->overflow = true;
        return;
    }
    memcpy(aml->bytes + aml->length, bytes, length);
    aml->length += length;
}

static void aml_byte(struct aml *aml, uint8_t byte)
{
    aml_put(aml, &byte, 1);
}

/* opcode(s), PkgLength (which counts itself), then body. */
static void aml_package(struct aml *aml, const uint8_t *opcode, size_t opcode_length,
                        const struct aml *body)
{
    aml_put(aml, opcode, opcode_length);
    size_t total = body->length + 1;
    if (total <= 63) {
        aml_byte(aml, (uint8_t)total);
    } else {
        total = body->length + 2; /* two-byte PkgLength, up to 4095 */
        aml_byte(aml, (uint8_t)(0x40 | (total & 0x0f)));
        aml_byte(aml, (uint8_t)(total >> 4));
    }
    aml_put(aml, body->bytes, body->length);
    aml->overflow |= body->overflow;
}

#define AML_NAME_OP 0x08
#define AML_SCOPE_OP 0x10
#define AML_BUFFER_OP 0x11
#define AML_PACKAGE_OP 0x12
#define AML_BYTE_PREFIX 0x0a
#define AML_DWORD_PREFIX 0x0c
#define AML_ONE_OP 0x01
#define AML_ZERO_OP 0x00

/* Name (name, EisaId (id)): id is the 4-byte compressed EISA id. */
static void aml_name_eisa_id(struct aml *aml, const char *name, const uint8_t eisa_id[4])
{
    aml_byte(aml, AML_NAME_OP);
    aml_put(aml, name, 4);
    aml_byte(aml, AML_DWORD_PREFIX);
    aml_put(aml, eisa_id, 4);
}

/* Name (_CRS, Buffer () { template }): a resource template of < 256 bytes. */
static void aml_name_resources(struct aml *aml, const uint8_t *template, uint8_t length)
{
    struct aml buffer = {.length = 0};
    aml_byte(&buffer, AML_BYTE_PREFIX);
    aml_byte(&buffer, length);
    aml_put(&buffer, template, length);
    aml_byte(aml, AML_NAME_OP);
    aml_put(aml, "_CRS", 4);
    static const uint8_t buffer_op[] = {AML_BUFFER_OP};
    aml_package(aml, buffer_op, 1, &buffer);
}

/* Name (_CRS, ResourceTemplate () { IO (Decode16, port, port, 1, count) IRQNoFlags () {irq} }) */
static void aml_name_io_irq_resources(struct aml *aml, uint16_t port, uint8_t count, unsigned irq)
{
    uint8_t template[] = {
        0x47, 0x01, (uint8_t)port, (uint8_t)(port >> 8), (uint8_t)port, (uint8_t)(port >> 8),
        0x01, count,                                                /* I/O port descriptor */
        0x22, (uint8_t)(1u << irq), (uint8_t)((1u << irq) >> 8),   /* IRQ, edge, active high */
        0x79, 0x00,                                                 /* end tag */
    };
    aml_name_resources(aml, template, sizeof(template));
}

static void put_le16(uint8_t *p, uint16_t value)
{
    p[0] = (uint8_t)value;
    p[1] = (uint8_t)(value >> 8);
}

static void put_le32(uint8_t *p, uint32_t value)
{
    put_le16(p, (uint16_t)value);
    put_le16(p + 2, (uint16_t)(value >> 16));
}

/* The PCI host bridge's _CRS: bus 0 only, its config ports, and the
 * 32-bit memory window the BARs live in. */
static void aml_name_pci_resources(struct aml *aml)
{
    uint8_t template[16 + 8 + 26 + 2] = {0};
    uint8_t *bus = template;          /* WordBusNumber (ResourceProducer, MinFixed, MaxFixed) */
    bus[0] = 0x88;
    put_le16(bus + 1, 13);
    bus[3] = 2;                       /* bus number range */
    bus[4] = 0x0c;                    /* min and max fixed, producer */
    put_le16(bus + 8, 0);             /* minimum */
    put_le16(bus + 10, 0);            /* maximum */
    put_le16(bus + 14, 1);            /* length */
    uint8_t *io = template + 16;      /* IO (Decode16, 0xcf8, 0xcf8, 1, 8) */
    io[0] = 0x47;
    io[1] = 0x01;
    put_le16(io + 2, 0xcf8);
    put_le16(io + 4, 0xcf8);
    io[6] = 1;
    io[7] = 8;
    uint8_t *memory = template + 24;  /* DWordMemory (producer, non-cacheable, read-write) */
    memory[0] = 0x87;
    put_le16(memory + 1, 23);
    memory[3] = 0;                    /* memory range */
    memory[4] = 0x0c;                 /* min and max fixed, producer */
    memory[5] = 0x01;                 /* read-write, non-cacheable */
    put_le32(memory + 10, LAYOUT_PCI_MMIO_START);
    put_le32(memory + 14, LAYOUT_PCI_MMIO_END - 1);
    put_le32(memory + 22, LAYOUT_PCI_MMIO_END - LAYOUT_PCI_MMIO_START);
    template[50] = 0x79;              /* end tag */
    aml_name_resources(aml, template, sizeof(template));
}

static void aml_device(struct aml *aml, const char *name, const struct aml *contents)
{
    struct aml body = {.length = 0};
    aml_put(&body, name, 4);
    aml_put(&body, contents->bytes, contents->length);
    body.overflow |= contents->overflow;
    static const uint8_t device_op[] = {0x5b, 0x82};
    aml_package(aml, device_op, 2, &body);
}

/* Device (PWRB) { _HID PNP0C0C }, and the Generic Event Device that
 * presses it:
 *   Device (GED0) {
 *     Name (_HID, "ACPI0013")
 *     Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Edge,
 *                                       ActiveHigh, Exclusive) { gsi } })
 *     Method (_EVT, 1) { Notify (\_SB_.PWRB, 0x80) }   (0x80: pressed)
 *   }
 * Linux's acpi_ged runs _EVT on the interrupt; its button driver then
 * sends KEY_POWER, which systemd-logind or acpid act on. */
static void acpi_power_button(struct aml *system_bus, unsigned gsi)
{
    static const uint8_t pnp0c0c[4] = {0x41, 0xd0, 0x0c, 0x0c};
    struct aml button = {.length = 0}, ged = {.length = 0}, method = {.length = 0};
    aml_name_eisa_id(&button, "_HID", pnp0c0c);
    aml_device(system_bus, "PWRB", &button);

    static const uint8_t hid[] = {AML_NAME_OP, '_', 'H', 'I', 'D', 0x0d,
                                  'A', 'C', 'P', 'I', '0', '0', '1', '3', 0x00};
    aml_put(&ged, hid, sizeof(hid));
    const uint8_t interrupt[] = {
        0x89, 0x06, 0x00,   /* extended interrupt descriptor, 6 bytes */
        0x03,               /* consumer, edge, active high, exclusive */
        0x01,               /* one interrupt */
        (uint8_t)gsi, (uint8_t)(gsi >> 8), (uint8_t)(gsi >> 16), (uint8_t)(gsi >> 24),
        0x79, 0x00,         /* end tag */
    };
    aml_name_resources(&ged, interrupt, sizeof(interrupt));
    static const uint8_t evt[] = {
        '_', 'E', 'V', 'T', 0x01,                     /* one argument, not serialized */
        0x86,                                         /* Notify */
        0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B', /* \ (root), two names: \_SB_.PWRB */
        AML_BYTE_PREFIX, 0x80,
    };
    aml_put(&method, evt, sizeof(evt));
    static const uint8_t method_op[] = {0x14};
    aml_package(&ged, method_op, 1, &method);
    aml_device(system_bus, "GED0", &ged);
}

/* The DSDT's AML:
 *   Name (_S5_, Package (4) { 5, 5, 0, 0 })  - the sleep type that means poweroff
 *   Scope (\_SB_) {
 *     Device (COM1) { _HID PNP0501, _UID 1, _CRS { IO 0x3f8/8, IRQ 4 } }
 *     Device (RTC_) { _HID PNP0B00, _CRS { IO 0x70/2, IRQ 8 } }
 *     Device (PCI0) { _HID PNP0A03, _UID 0, _CRS { bus 0, IO 0xcf8/8, the BAR window } }
 *     Device (PWRB), Device (GED0): the power button (acpi_power_button)
 *   }
 * Describing the UART and RTC matters on a hardware-reduced platform: Linux
 * then has no legacy PIC, so ISA IRQs 4 and 8 only get routed to the IOAPIC
 * through these resources. */
static int acpi_build_dsdt_aml(struct aml *aml)
{
    aml->length = 0;
    aml->overflow = false;
    struct aml s5 = {.length = 0};
    static const uint8_t s5_package[] = {0x04, AML_BYTE_PREFIX, LAYOUT_ACPI_S5_SLEEP_TYPE,
                                         AML_BYTE_PREFIX, LAYOUT_ACPI_S5_SLEEP_TYPE,
                                         AML_ZERO_OP, AML_ZERO_OP};
    aml_put(&s5, s5_package, sizeof(s5_package));
    aml_byte(aml, AML_NAME_OP);
    aml_put(aml, "_S5_", 4);
    static const uint8_t package_op[] = {AML_PACKAGE_OP};
    aml_package(aml, package_op, 1, &s5);

    static const uint8_t pnp0501[4] = {0x41, 0xd0, 0x05, 0x01};
    static const uint8_t pnp0b00[4] = {0x41, 0xd0, 0x0b, 0x00};
    static const uint8_t pnp0a03[4] = {0x41, 0xd0, 0x0a, 0x03};
    struct aml com1 = {.length = 0}, rtc = {.length = 0}, system_bus = {.length = 0};
    struct aml pci = {.length = 0};
    aml_name_eisa_id(&com1, "_HID", pnp0501);
    aml_byte(&com1, AML_NAME_OP);
    aml_put(&com1, "_UID", 4);
    aml_byte(&com1, AML_ONE_OP);
    aml_name_io_irq_resources(&com1, 0x3f8, 8, 4);
    aml_name_eisa_id(&rtc, "_HID", pnp0b00);
    aml_name_io_irq_resources(&rtc, 0x70, 2, 8);
    aml_name_eisa_id(&pci, "_HID", pnp0a03);
    aml_byte(&pci, AML_NAME_OP);
    aml_put(&pci, "_UID", 4);
    aml_byte(&pci, AML_ZERO_OP);
    aml_name_pci_resources(&pci);

    aml_put(&system_bus, "\\_SB_", 5);
    aml_device(&system_bus, "COM1", &com1);
    aml_device(&system_bus, "RTC_", &rtc);
    aml_device(&system_bus, "PCI0", &pci);
    acpi_power_button(&system_bus, POWER_BUTTON_GSI);
    static const uint8_t scope_op[] = {AML_SCOPE_OP};
    aml_package(aml, scope_op, 1, &system_bus);
    return aml->overflow ? -1 : 0;
}

static struct acpi_gas acpi_io_register(uint16_t port, uint8_t bits)
{
    return (struct acpi_gas){.space_id = 1, .bit_width = bits, .access_size = 1, .address = port};
}

int acpi_build_tables(uint8_t *area, uint64_t area_guest_address, size_t area_size,
                      int cpu_count, uint64_t *rsdp_guest_address, struct error *error)
{
    if (cpu_count < 1 || cpu_count > ACPI_MAX_CPUS)
        return error_set(error, "ACPI tables support 1 to %d CPUs, not %d", ACPI_MAX_CPUS,
                         cpu_count);
    struct acpi_builder builder = {area, area_guest_address, area_size, 0};
    uint64_t rsdp_address = 0, xsdt_address = 0, fadt_address = 0, madt_address = 0;
    uint64_t dsdt_address = 0;

    struct acpi_rsdp *rsdp = acpi_allocate(&builder, sizeof(*rsdp), &rsdp_address);
    size_t xsdt_length = sizeof(struct acpi_header) + 2 * sizeof(uint64_t);
    uint8_t *xsdt = acpi_allocate(&builder, xsdt_length, &xsdt_address);
    struct acpi_fadt *fadt = acpi_allocate(&builder, sizeof(*fadt), &fadt_address);
    static struct aml dsdt_aml; /* static: keeps 512 bytes off small thread stacks */
    if (acpi_build_dsdt_aml(&dsdt_aml))
        return error_set(error, "DSDT does not fit its AML buffer");
    size_t dsdt_length = sizeof(struct acpi_header) + dsdt_aml.length;
    uint8_t *dsdt = acpi_allocate(&builder, dsdt_length, &dsdt_address);
    size_t madt_length = sizeof(struct acpi_header) + 8 +
                         cpu_count * sizeof(struct acpi_madt_local_apic) +
                         sizeof(struct acpi_madt_ioapic) + sizeof(struct acpi_madt_local_apic_nmi);
    uint8_t *madt = acpi_allocate(&builder, madt_length, &madt_address);
    if (!rsdp || !xsdt || !fadt || !dsdt || !madt)
        return error_set(error, "ACPI tables do not fit in %zu bytes", area_size);

    /* DSDT */
    acpi_fill_header((struct acpi_header *)dsdt, "DSDT", dsdt_length, 2);
    memcpy(dsdt + sizeof(struct acpi_header), dsdt_aml.bytes, dsdt_aml.length);
    acpi_seal((struct acpi_header *)dsdt);

    /* FADT: hardware-reduced, so no PM1 blocks, no PM timer, no SCI needed;
     * poweroff goes through the sleep control register, reboot through the
     * reset register. */
    acpi_fill_header(&fadt->header, "FACP", sizeof(*fadt), 6);
    fadt->header.revision = 6;
    fadt->minor_version = 4;
    fadt->dsdt = (uint32_t)dsdt_address;
    fadt->x_dsdt = dsdt_address;
    fadt->century = RTC_CENTURY_REGISTER;
    /* No 8042 bit: Linux then skips probing a PS/2 controller we do not have
     * (the i8042 emulation only takes the reset command). */
    fadt->iapc_boot_arch = FADT_BOOT_ARCH_NO_VGA | FADT_BOOT_ARCH_NO_ASPM;
    fadt->flags =
        FADT_FLAG_WBINVD | FADT_FLAG_RESET_REGISTER_SUPPORTED | FADT_FLAG_HARDWARE_REDUCED;
    fadt->reset_register = acpi_io_register(LAYOUT_ACPI_RESET_PORT, 8);
    fadt->reset_value = LAYOUT_ACPI_RESET_VALUE;
    fadt->sleep_control_register = acpi_io_register(LAYOUT_ACPI_SLEEP_CONTROL_PORT, 8);
    fadt->sleep_status_register = acpi_io_register(LAYOUT_ACPI_SLEEP_STATUS_PORT, 8);
    memcpy(&fadt->hypervisor_vendor_id, "GUESTVMM", 8);
    acpi_seal(&fadt->header);

    /* MADT */
    acpi_fill_header((struct acpi_header *)madt, "APIC", madt_length, 5);
    uint8_t *cursor = madt + sizeof(struct acpi_header);
    uint32_t local_apic_address = LAYOUT_LOCAL_APIC_ADDRESS, madt_flags = 0;
    memcpy(cursor, &local_apic_address, 4);
    memcpy(cursor + 4, &madt_flags, 4);
    cursor += 8;
    for (int cpu = 0; cpu < cpu_count; cpu++) {
        struct acpi_madt_local_apic entry = {0, sizeof(entry), (uint8_t)cpu, (uint8_t)cpu, 1};
        memcpy(cursor, &entry, sizeof(entry));
        cursor += sizeof(entry);
    }
    struct acpi_madt_ioapic ioapic = {1, sizeof(ioapic), (uint8_t)cpu_count, 0,
                                      LAYOUT_IOAPIC_ADDRESS, 0};
    memcpy(cursor, &ioapic, sizeof(ioapic));
    cursor += sizeof(ioapic);
    /* LINT1 of every processor is the NMI line, as on PC hardware. */
    struct acpi_madt_local_apic_nmi nmi = {4, sizeof(nmi), 0xff, 0, 1};
    memcpy(cursor, &nmi, sizeof(nmi));
    acpi_seal((struct acpi_header *)madt);

    /* XSDT */
    acpi_fill_header((struct acpi_header *)xsdt, "XSDT", xsdt_length, 1);
    memcpy(xsdt + sizeof(struct acpi_header), &fadt_address, 8);
    memcpy(xsdt + sizeof(struct acpi_header) + 8, &madt_address, 8);
    acpi_seal((struct acpi_header *)xsdt);

    /* RSDP, revision 2: points at the XSDT only. */
    memcpy(rsdp->signature, "RSD PTR ", 8);
    memcpy(rsdp->oem_id, "GUEST ", 6);
    rsdp->revision = 2;
    rsdp->length = sizeof(*rsdp);
    rsdp->xsdt_address = xsdt_address;
    rsdp->checksum = acpi_checksum(rsdp, 20);
    rsdp->extended_checksum = acpi_checksum(rsdp, sizeof(*rsdp));

    *rsdp_guest_address = rsdp_address;
    return 0;
}
