/* The ACPI root pointer and the root table it names. */
#include "probe.h"

#define RSDP_V1_SIZE 20
#define RSDP_V2_SIZE 36
#define SDT_HEADER_SIZE 36

static uint8_t byte_sum(const uint8_t *p, uint32_t length)
{
    uint8_t sum = 0;
    while (length--)
        sum = (uint8_t)(sum + *p++);
    return sum;
}

static bool check_root_table(uint64_t address, const char *signature)
{
    if (!check(address != 0 && phys_reachable(address, SDT_HEADER_SIZE),
               "%s at 0x%llx below 4 GiB", signature, U64(address)))
        return false;
    const uint8_t *table = phys_ptr(address);
    if (memcmp(table, signature, 4) != 0) {
        fail("%s at 0x%llx: signature \"%s\"", signature, U64(address),
             printable((const char *)table, 4));
        return false;
    }
    uint32_t length = get32(table + 4);
    if (length < SDT_HEADER_SIZE || !phys_reachable(address, length)) {
        fail("%s at 0x%llx: length %u", signature, U64(address), length);
        return false;
    }
    return check(byte_sum(table, length) == 0, "%s at 0x%llx: %u bytes, checksum", signature,
                 U64(address), length);
}

bool acpi_check_rsdp(uint64_t address)
{
    if (address == 0 || !phys_reachable(address, RSDP_V2_SIZE)) {
        fail("rsdp address 0x%llx", U64(address));
        return false;
    }
    const uint8_t *rsdp = phys_ptr(address);
    if (memcmp(rsdp, "RSD PTR ", 8) != 0) {
        fail("rsdp at 0x%llx: no \"RSD PTR \" signature", U64(address));
        return false;
    }
    uint8_t revision = rsdp[15];
    probe_printf("rsdp at 0x%llx revision %u oem \"%s\"", U64(address), revision,
                 printable((const char *)rsdp + 9, 6));
    bool ok = check(byte_sum(rsdp, RSDP_V1_SIZE) == 0, "rsdp checksum");
    if (revision >= 2) {
        uint32_t length = get32(rsdp + 20);
        ok &= check(length >= RSDP_V2_SIZE && byte_sum(rsdp, RSDP_V2_SIZE) == 0,
                    "rsdp extended checksum (length %u)", length);
        uint64_t xsdt = get64(rsdp + 24);
        ok &= xsdt ? check_root_table(xsdt, "XSDT") : check_root_table(get32(rsdp + 16), "RSDT");
    } else {
        ok &= check_root_table(get32(rsdp + 16), "RSDT");
    }
    if (ok)
        probe_printf("rsdp ok");
    return ok;
}

uint64_t acpi_find_rsdp(void)
{
    for (uint32_t address = 0xe0000; address < 0x100000; address += 16)
        if (memcmp(phys_ptr(address), "RSD PTR ", 8) == 0)
            return address;
    return 0;
}
