#include "boot/boot.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define PAGE_SIZE 4096ULL

int boot_place_initrd(const struct guest_memory *memory, uint64_t lowest, uint64_t limit,
                      uint64_t initrd_size, const char *initrd_path, uint64_t *address,
                      struct error *error)
{
    uint64_t top = guest_memory_low_end(memory);
    if (limit < top)
        top = limit;
    top &= ~(PAGE_SIZE - 1);
    lowest = (lowest + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    if (initrd_size > top || top - initrd_size < lowest)
        return error_set(error,
                         "%s: initrd of %llu MiB does not fit in guest memory above the "
                         "kernel (%llu MiB free below %llu MiB); raise --memory",
                         initrd_path, (unsigned long long)(initrd_size >> 20),
                         (unsigned long long)(top > lowest ? (top - lowest) >> 20 : 0),
                         (unsigned long long)(top >> 20));
    *address = (top - initrd_size) & ~(PAGE_SIZE - 1);
    return 0;
}

int boot_copy_to_guest(const struct guest_memory *memory, uint64_t guest_address,
                       const void *bytes, size_t length, const char *what, struct error *error)
{
    void *destination = guest_memory_ptr(memory, guest_address, length);
    if (!destination)
        return error_set(error, "%s: %zu bytes at guest address 0x%llx are outside guest memory",
                         what, length, (unsigned long long)guest_address);
    memcpy(destination, bytes, length);
    return 0;
}

int boot_copy_file_to_guest(const struct guest_memory *memory, uint64_t guest_address,
                            const struct boot_file *file, size_t offset, size_t length,
                            struct error *error)
{
    uint8_t *destination = guest_memory_ptr(memory, guest_address, length);
    if (!destination)
        return error_set(error, "%s: %zu bytes at guest address 0x%llx are outside guest memory",
                         file->path, length, (unsigned long long)guest_address);
    if (!file->read_from_fd) {
        memcpy(destination, file->data + offset, length);
        return 0;
    }
    size_t done = 0;
    while (done < length) {
        ssize_t count = pread(file->fd, destination + done, length - done, (off_t)(offset + done));
        if (count < 0 && errno == EINTR)
            continue;
        if (count <= 0)
            return error_set(error, "%s: %s", file->path,
                             count < 0 ? strerror(errno) : "file shrank while loading");
        done += (size_t)count;
    }
    return 0;
}
