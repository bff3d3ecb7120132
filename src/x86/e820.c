#include "x86/e820.h"

#include "x86/layout.h"

static void e820_put_le(uint8_t *bytes, uint64_t value, unsigned length)
{
    for (unsigned i = 0; i < length; i++)
        bytes[i] = (uint8_t)(value >> (8 * i));
}

void e820_write_bios_table(const struct e820_entry *entries, int count, uint8_t *out)
{
    for (int i = 0; i < count; i++, out += E820_BIOS_ENTRY_SIZE) {
        e820_put_le(out, entries[i].address, 8);
        e820_put_le(out + 8, entries[i].size, 8);
        e820_put_le(out + 16, entries[i].type, 4);
    }
}

int e820_build(const struct guest_memory *memory, struct e820_entry *entries)
{
    int count = 0;
    uint64_t low_end = guest_memory_low_end(memory);

    /* Conventional memory up to the EBDA. */
    uint64_t conventional_end = low_end < LAYOUT_EBDA_START ? low_end : LAYOUT_EBDA_START;
    entries[count++] = (struct e820_entry){0, conventional_end, E820_RAM};
    if (low_end <= LAYOUT_EBDA_START)
        return count;

    /* The EBDA and the BIOS area where the ACPI tables live stay reserved so
     * the guest never reuses them. */
    entries[count++] = (struct e820_entry){LAYOUT_EBDA_START,
                                           LAYOUT_LEGACY_HOLE_START - LAYOUT_EBDA_START,
                                           E820_RESERVED};
    entries[count++] = (struct e820_entry){LAYOUT_ACPI_START,
                                           LAYOUT_ACPI_END - LAYOUT_ACPI_START, E820_RESERVED};
    if (low_end > LAYOUT_HIGH_MEMORY_START)
        entries[count++] = (struct e820_entry){LAYOUT_HIGH_MEMORY_START,
                                               low_end - LAYOUT_HIGH_MEMORY_START, E820_RAM};
    for (int i = 1; i < memory->region_count; i++)
        entries[count++] = (struct e820_entry){memory->regions[i].guest_address,
                                               memory->regions[i].size, E820_RAM};
    return count;
}
