#include "memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "x86/layout.h"

static void guest_memory_layout(struct guest_memory *memory, uint8_t *host, uint64_t total_size)
{
    memset(memory, 0, sizeof(*memory));
    memory->host = host;
    memory->total_size = total_size;
    uint64_t low_size = total_size < LAYOUT_LOW_RAM_LIMIT ? total_size : LAYOUT_LOW_RAM_LIMIT;
    memory->regions[0] = (struct guest_memory_region){0, low_size, host};
    memory->region_count = 1;
    if (total_size > low_size) {
        memory->regions[1] = (struct guest_memory_region){LAYOUT_HIGH_RAM_START,
                                                          total_size - low_size, host + low_size};
        memory->region_count = 2;
    }
}

int guest_memory_create(struct guest_memory *memory, uint64_t total_size, struct error *error)
{
    /* 2 MiB-aligned, as the guest-physical layout is: a huge page of ours is
     * then a huge page of the guest's, which KVM maps with one 2 MiB nested
     * page.  Unaligned, the kernel (6.1) gives the mapping 4 KiB pages at
     * fault time and khugepaged collapses them later, under a running guest,
     * each collapse invalidating KVM's mappings of that range.  So map 2 MiB
     * more than needed and trim both ends. */
    uint64_t mapped_size = total_size + GUEST_MEMORY_ALIGNMENT;
    uint8_t *mapped = mmap(NULL, mapped_size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mapped == MAP_FAILED)
        return error_set(error, "cannot map %llu MiB of guest memory: %s",
                         (unsigned long long)(total_size >> 20), strerror(errno));
    uintptr_t start = ((uintptr_t)mapped + GUEST_MEMORY_ALIGNMENT - 1) &
                      ~(uintptr_t)(GUEST_MEMORY_ALIGNMENT - 1);
    uint8_t *host = (uint8_t *)start;
    if (host > mapped)
        munmap(mapped, (size_t)(host - mapped));
    uint8_t *end = host + total_size, *mapped_end = mapped + mapped_size;
    if (mapped_end > end)
        munmap(end, (size_t)(mapped_end - end));
    /* Transparent huge pages mean far fewer nested page faults while the
     * guest first touches its memory, which is most of a boot's exits. */
    madvise(host, total_size, MADV_HUGEPAGE);
    /* The guest's memory is the guest's: a core dump of the VMM (a crash
     * report) must not carry its secrets, nor gigabytes of them. */
    madvise(host, total_size, MADV_DONTDUMP);
    guest_memory_layout(memory, host, total_size);
    return 0;
}

void guest_memory_init_over(struct guest_memory *memory, uint8_t *host, uint64_t total_size)
{
    guest_memory_layout(memory, host, total_size);
}

void guest_memory_destroy(struct guest_memory *memory)
{
    if (memory->host)
        munmap(memory->host, memory->total_size);
    memset(memory, 0, sizeof(*memory));
}

void *guest_memory_ptr(const struct guest_memory *memory, uint64_t guest_address, uint64_t length)
{
    for (int i = 0; i < memory->region_count; i++) {
        const struct guest_memory_region *region = &memory->regions[i];
        if (guest_address < region->guest_address)
            continue;
        uint64_t offset = guest_address - region->guest_address;
        if (offset > region->size || length > region->size - offset)
            continue;
        return region->host + offset;
    }
    return NULL;
}

uint64_t guest_memory_low_end(const struct guest_memory *memory)
{
    return memory->region_count ? memory->regions[0].size : 0;
}
