/* zbi: builds, lists and checks Zircon boot images (ZBI, and the seed-era
 * bootdata containers), and extracts their items.  The host-side companion
 * of the Zircon loader; the format code is src/boot/zbi.c and bootfs.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/bootfs.h"
#include "boot/zbi.h"

#define MAX_ITEM_LENGTH ((size_t)UINT32_MAX)

static void usage(FILE *out)
{
    fprintf(out,
            "usage: zbi -o OUT [--kernel-x64 FLAT --entry ADDR [--reserve BYTES]]\n"
            "           [--cmdline TEXT]... [--ramdisk FILE]... [--bootfs DIR]...\n"
            "           [--item TYPE:FILE]... [--crc] [--legacy]\n"
            "       zbi -t FILE\n"
            "       zbi -x DIR FILE\n"
            "Builds, lists and checks Zircon boot images (ZBI containers, and the seed-era\n"
            "bootdata ones with 16-byte headers).\n"
            "  -o, --output OUT     write a container holding the items below, the kernel first\n"
            "                       and the others in the order given\n"
            "  --kernel-x64 FLAT    an x86-64 kernel item: FLAT is a flat binary loaded right\n"
            "                       after the item's 16-byte entry/reserve header, i.e. at\n"
            "                       physical 0x100000 + 80 (0x100000 + 48 with --legacy)\n"
            "  --entry ADDR         the kernel's absolute physical entry address\n"
            "  --reserve BYTES      scratch memory the kernel needs after its image (K, M, G\n"
            "                       suffixes: KiB, MiB, GiB); default 0\n"
            "  --cmdline TEXT       a command line item (CMDL)\n"
            "  --ramdisk FILE       a RAM disk item (RDSK)\n"
            "  --bootfs DIR         a BOOTFS item (BFSB) of the regular files under DIR, named\n"
            "                       by their paths relative to DIR\n"
            "  --item TYPE:FILE     an item of TYPE (four characters such as CMDL, or 0xHEX)\n"
            "                       holding FILE\n"
            "  --crc                give every item a CRC32\n"
            "  --legacy             write a seed-era bootdata container (16-byte headers, no\n"
            "                       CRC32), for kernels older than the ZBI\n"
            "  -t, --list FILE      check FILE and list its items (and bootfs files); exits 1\n"
            "                       with the first problem\n"
            "  -x, --extract DIR FILE\n"
            "                       check FILE and write each item's payload to\n"
            "                       DIR/NNN-TYPE.bin, and a bootfs's files under\n"
            "                       DIR/NNN-bootfs/\n"
            "  -h, --help           this help\n"
            "Errors: one line, \"zbi: FILE: what is wrong\", exit status 1 (2 for usage).\n");
}

__attribute__((noreturn)) static void fail(const char *what, const char *message)
{
    fprintf(stderr, "zbi: %s: %s\n", what, message);
    exit(1);
}

__attribute__((noreturn)) static void fail_usage(const char *message)
{
    fprintf(stderr, "zbi: %s (zbi --help for usage)\n", message);
    exit(2);
}

static void *checked_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        fail("memory", strerror(ENOMEM));
    return p;
}

/* The whole of a regular file, at most 4 GiB (an item's limit). */
static uint8_t *file_read_at(int dir_fd, const char *path, const char *shown, size_t *size)
{
    int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st))
        fail(shown, strerror(errno));
    if (!S_ISREG(st.st_mode))
        fail(shown, "not a regular file");
    if ((uint64_t)st.st_size > MAX_ITEM_LENGTH)
        fail(shown, "larger than 4 GiB, more than an item holds");
    uint8_t *data = checked_malloc((size_t)st.st_size);
    size_t done = 0;
    while (done < (size_t)st.st_size) {
        ssize_t n = read(fd, data + done, (size_t)st.st_size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(shown, strerror(errno));
        if (n == 0)
            fail(shown, "shrank while being read");
        done += (size_t)n;
    }
    close(fd);
    *size = done;
    return data;
}

static uint8_t *file_read(const char *path, size_t *size)
{
    return file_read_at(AT_FDCWD, path, path, size);
}

static void file_write_at(int dir_fd, const char *path, const char *shown, const void *data,
                          size_t size)
{
    int fd = openat(dir_fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        fail(shown, strerror(errno));
    const uint8_t *bytes = data;
    while (size) {
        ssize_t n = write(fd, bytes, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail(shown, strerror(errno));
        bytes += n;
        size -= (size_t)n;
    }
    if (close(fd))
        fail(shown, strerror(errno));
}

/* Names from an image go to the terminal: no control characters. */
static void print_sanitized(const char *text)
{
    for (; *text; text++) {
        unsigned char c = (unsigned char)*text;
        putchar(c < 0x20 || c == 0x7f ? '?' : c);
    }
}

/* --- Building ----------------------------------------------------------- */

struct item_spec {
    uint32_t type;
    uint32_t extra;
    const char *source; /* for messages */
    uint8_t *payload;
    size_t length;
};

struct item_list {
    struct item_spec *items;
    size_t count;
    size_t allocated;
};

static void item_list_add(struct item_list *list, uint32_t type, uint32_t extra,
                          const char *source, uint8_t *payload, size_t length)
{
    if (length > MAX_ITEM_LENGTH)
        fail(source, "larger than 4 GiB, more than an item holds");
    if (list->count == list->allocated) {
        list->allocated = list->allocated ? 2 * list->allocated : 8;
        list->items = realloc(list->items, list->allocated * sizeof(*list->items));
        if (!list->items)
            fail("memory", strerror(ENOMEM));
    }
    list->items[list->count++] = (struct item_spec){type, extra, source, payload, length};
}

struct bootfs_collection {
    struct bootfs_input *files;
    size_t count;
    size_t allocated;
};

static int compare_inputs(const void *a, const void *b)
{
    return strcmp(((const struct bootfs_input *)a)->name, ((const struct bootfs_input *)b)->name);
}

/* Adds the regular files under dir_fd (shown as `shown`, named with prefix)
 * to the collection; symbolic links to regular files count as files, those
 * to directories are not followed (no loops). */
static void bootfs_collect(struct bootfs_collection *collection, int dir_fd, const char *shown,
                           const char *prefix)
{
    DIR *dir = fdopendir(dir_fd);
    if (!dir)
        fail(shown, strerror(errno));
    struct dirent *entry;
    while ((errno = 0, entry = readdir(dir))) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, ".."))
            continue;
        char *name;
        char *path;
        if (asprintf(&name, "%s%s", prefix, entry->d_name) < 0 ||
            asprintf(&path, "%s/%s", shown, entry->d_name) < 0)
            fail("memory", strerror(ENOMEM));
        struct stat link;
        struct stat target;
        if (fstatat(dirfd(dir), entry->d_name, &link, AT_SYMLINK_NOFOLLOW))
            fail(path, strerror(errno));
        if (S_ISDIR(link.st_mode)) {
            int sub = openat(dirfd(dir), entry->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            char *sub_prefix;
            if (sub < 0)
                fail(path, strerror(errno));
            if (asprintf(&sub_prefix, "%s/", name) < 0)
                fail("memory", strerror(ENOMEM));
            bootfs_collect(collection, sub, path, sub_prefix);
            free(sub_prefix);
            free(name);
            free(path);
            continue;
        }
        if (!S_ISREG(link.st_mode) &&
            !(S_ISLNK(link.st_mode) && !fstatat(dirfd(dir), entry->d_name, &target, 0) &&
              S_ISREG(target.st_mode))) {
            free(name);
            free(path);
            continue;
        }
        if (collection->count == collection->allocated) {
            collection->allocated = collection->allocated ? 2 * collection->allocated : 16;
            collection->files =
                realloc(collection->files, collection->allocated * sizeof(*collection->files));
            if (!collection->files)
                fail("memory", strerror(ENOMEM));
        }
        size_t length;
        uint8_t *data = file_read_at(dirfd(dir), entry->d_name, path, &length);
        collection->files[collection->count++] =
            (struct bootfs_input){name, data, (uint32_t)length};
        free(path);
    }
    if (errno)
        fail(shown, strerror(errno));
    closedir(dir);
}

static uint8_t *bootfs_build(const char *directory, size_t *size)
{
    int fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fail(directory, strerror(errno));
    struct bootfs_collection collection = {0};
    bootfs_collect(&collection, fd, directory, "");
    qsort(collection.files, collection.count, sizeof(*collection.files), compare_inputs);
    struct error error;
    size_t image_size;
    if (bootfs_layout(collection.files, collection.count, &image_size, &error))
        fail(directory, error.message);
    uint8_t *image = checked_malloc(image_size);
    if (bootfs_write(collection.files, collection.count, image, image_size, &error))
        fail(directory, error.message);
    for (size_t i = 0; i < collection.count; i++) {
        free((void *)collection.files[i].name);
        free((void *)collection.files[i].data);
    }
    free(collection.files);
    *size = image_size;
    return image;
}

/* TYPE:FILE with TYPE four characters or 0xHEX. */
static uint32_t parse_item_type(const char *argument, const char **file)
{
    const char *colon = strchr(argument, ':');
    if (!colon || !colon[1])
        fail_usage("--item wants TYPE:FILE");
    *file = colon + 1;
    if (!strncmp(argument, "0x", 2) || !strncmp(argument, "0X", 2)) {
        char *end;
        errno = 0;
        unsigned long long value = strtoull(argument + 2, &end, 16);
        if (end == argument + 2 || end != colon || errno || value > UINT32_MAX)
            fail_usage("--item: TYPE is four characters or 0x and at most eight hex digits");
        return (uint32_t)value;
    }
    if (colon - argument != 4)
        fail_usage("--item: TYPE is four characters or 0x and at most eight hex digits");
    uint32_t type = 0;
    for (int i = 0; i < 4; i++)
        type |= (uint32_t)(unsigned char)argument[i] << (8 * i);
    return type;
}

static uint64_t parse_number(const char *option, const char *text, bool allow_suffix)
{
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 0);
    unsigned shift = 0;
    if (allow_suffix && *end && !end[1]) {
        shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
        if (shift)
            end++;
    }
    if (end == text || *end || errno || strchr(text, '-') || (value << shift) >> shift != value) {
        char message[128];
        snprintf(message, sizeof(message), "%s: \"%.64s\" is not a number", option, text);
        fail_usage(message);
    }
    return value << shift;
}

struct build_options {
    const char *output;
    const char *kernel;
    uint64_t entry;
    bool have_entry;
    uint64_t reserve;
    bool crc;
    bool legacy;
};

static int build(const struct build_options *options, struct item_list *list)
{
    struct item_list ordered = {0};
    if (options->kernel) {
        size_t flat_size;
        uint8_t *flat = file_read(options->kernel, &flat_size);
        struct zbi_kernel header = {options->entry, options->reserve};
        if (flat_size > MAX_ITEM_LENGTH - sizeof(header))
            fail(options->kernel, "larger than 4 GiB, more than an item holds");
        uint8_t *payload = checked_malloc(sizeof(header) + flat_size);
        memcpy(payload, &header, sizeof(header));
        memcpy(payload + sizeof(header), flat, flat_size);
        free(flat);
        item_list_add(&ordered, ZBI_TYPE_KERNEL_X64, 0, options->kernel, payload,
                      sizeof(header) + flat_size);
    }
    for (size_t i = 0; i < list->count; i++) {
        const struct item_spec *item = &list->items[i];
        item_list_add(&ordered, item->type, item->extra, item->source, item->payload,
                      item->length);
    }

    size_t capacity = sizeof(struct zbi_header);
    for (size_t i = 0; i < ordered.count; i++) {
        capacity += sizeof(struct zbi_header) + ZBI_ALIGN(ordered.items[i].length);
        if (capacity > sizeof(struct zbi_header) + (size_t)UINT32_MAX)
            fail(options->output, "the container would pass 4 GiB");
    }
    uint8_t *buffer = checked_malloc(capacity);
    size_t used;
    struct error error;
    if ((options->legacy ? zbi_init_legacy_container : zbi_init_container)(buffer, capacity,
                                                                          &used, &error))
        fail(options->output, error.message);
    uint32_t flags = options->crc ? ZBI_FLAG_CRC32 : 0;
    for (size_t i = 0; i < ordered.count; i++) {
        const struct item_spec *item = &ordered.items[i];
        if (zbi_append(buffer, capacity, &used, item->type, item->extra, flags, item->payload,
                       (uint32_t)item->length, &error))
            fail(item->source, error.message);
    }
    if (options->kernel && zbi_parse_kernel(buffer, used, &(struct zbi_kernel_info){0}, &error))
        fail(options->kernel, error.message);
    size_t checked;
    if (zbi_check(buffer, used, &checked, &error) || checked != used)
        fail(options->output, error.message); /* a bug here, not in the input */
    file_write_at(AT_FDCWD, options->output, options->output, buffer, used);
    for (size_t i = 0; i < ordered.count; i++)
        free(ordered.items[i].payload);
    free(ordered.items);
    free(buffer);
    return 0;
}

/* --- Listing ------------------------------------------------------------ */

static void fail_item(const char *path, unsigned index, const struct zbi_header *header,
                      size_t offset, const char *message)
{
    char name[16];
    char line[700];
    snprintf(line, sizeof(line), "item %u (%s) at offset 0x%zx: %s", index,
             zbi_type_name(header->type, name), offset, message);
    fail(path, line);
}

static void list_bootfs(const char *path, unsigned index, const struct zbi_header *header,
                        size_t offset, const uint8_t *payload)
{
    if (header->flags & ZBI_FLAG_STORAGE_COMPRESSED) {
        printf("             bootfs compressed (%u bytes uncompressed): files not listed\n",
               header->extra);
        return;
    }
    struct error error;
    size_t count;
    if (bootfs_check(payload, header->length, &count, &error))
        fail_item(path, index, header, offset, error.message);
    struct bootfs_iterator it;
    struct bootfs_file file;
    bootfs_iterator_init(&it, payload, header->length);
    while (bootfs_iterator_next(&it, &file)) {
        printf("             bootfs ");
        print_sanitized(file.name);
        printf(" (%" PRIu32 " bytes at 0x%" PRIx32 ")\n", file.data_length, file.data_offset);
    }
}

/* The container's extent by its header alone, to walk a container that
 * zbi_check rejected up to where it can be walked; 0 when it is no
 * container at all. */
static size_t declared_size(const uint8_t *data, size_t size)
{
    struct zbi_header header;
    if (size < ZBI_LEGACY_HEADER_SIZE)
        return 0;
    memcpy(&header, data, ZBI_LEGACY_HEADER_SIZE);
    size_t header_size = zbi_header_size(header.flags);
    if (header.type != ZBI_TYPE_CONTAINER || header.extra != ZBI_CONTAINER_MAGIC ||
        size < header_size)
        return 0;
    return header.length > size - header_size ? size : header_size + header.length;
}

static int list(const char *path)
{
    size_t size;
    uint8_t *data = file_read(path, &size);
    struct error error;
    size_t container_size;
    bool valid = zbi_check(data, size, &container_size, &error) == 0;
    if (!valid && declared_size(data, size) == 0)
        fail(path, error.message);
    if (!valid)
        container_size = declared_size(data, size);
    struct zbi_header container;
    memcpy(&container, data, ZBI_LEGACY_HEADER_SIZE);
    bool legacy = zbi_header_size(container.flags) == ZBI_LEGACY_HEADER_SIZE;
    printf("%s: %s container, %zu bytes\n", path, legacy ? "seed-era bootdata" : "ZBI",
           container_size);
    printf("  offset     type       length     extra      flags      crc\n");

    struct zbi_iterator it;
    struct zbi_header header;
    const uint8_t *payload;
    size_t offset;
    unsigned index = 0;
    zbi_iterator_init(&it, data, container_size);
    while (zbi_iterator_next(&it, &header, &payload, &offset)) {
        index++;
        char name[16];
        const char *crc = "none";
        if (header.flags & ZBI_FLAG_CRC32)
            crc = zbi_item_crc32(data, &header, payload) == header.crc32 ? "ok" : "BAD";
        printf("  0x%08zx %-10s 0x%08x 0x%08x 0x%08x %s\n", offset,
               zbi_type_name(header.type, name), header.length, header.extra, header.flags, crc);
        if (!valid)
            continue;
        if (index == 1 && header.type == ZBI_TYPE_KERNEL_X64) {
            struct zbi_kernel_info info;
            if (zbi_parse_kernel(data, size, &info, &error))
                fail(path, error.message);
            printf("             kernel entry 0x%" PRIx64 ", reserve 0x%" PRIx64
                   " bytes, %zu bytes to load at 0x%llx\n",
                   info.entry, info.reserve_memory_size, info.kernel_size,
                   ZBI_X64_KERNEL_LOAD_ADDRESS);
        }
        if (header.type == ZBI_TYPE_STORAGE_BOOTFS)
            list_bootfs(path, index, &header, offset, payload);
    }
    if (!valid)
        fail(path, error.message);
    if (container_size < size)
        printf("%s: %zu bytes after the container\n", path, size - container_size);
    free(data);
    return 0;
}

/* --- Extracting --------------------------------------------------------- */

/* A type name that is safe in a file name, else its hex. */
static const char *file_type_name(uint32_t type, char out[16])
{
    zbi_type_name(type, out);
    for (const char *c = out; *c; c++)
        if (!(*c >= 'A' && *c <= 'Z') && !(*c >= 'a' && *c <= 'z') && !(*c >= '0' && *c <= '9') &&
            *c != '_')
            return (snprintf(out, 16, "0x%08x", type), out);
    return out;
}

/* Creates the directories leading to name (relative, checked) under dir_fd. */
static void make_parents(int dir_fd, const char *name, const char *shown)
{
    char *copy = strdup(name);
    if (!copy)
        fail("memory", strerror(ENOMEM));
    for (char *slash = strchr(copy, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdirat(dir_fd, copy, 0755) && errno != EEXIST)
            fail(shown, strerror(errno));
        *slash = '/';
    }
    free(copy);
}

static void extract_bootfs(const char *path, int dir_fd, const char *directory,
                           const struct zbi_header *header, unsigned index, size_t offset,
                           const uint8_t *payload)
{
    struct error error;
    size_t count;
    if (bootfs_check(payload, header->length, &count, &error))
        fail_item(path, index, header, offset, error.message);
    char sub[32];
    snprintf(sub, sizeof(sub), "%03u-bootfs", index);
    char *shown;
    if (asprintf(&shown, "%s/%s", directory, sub) < 0)
        fail("memory", strerror(ENOMEM));
    if (mkdirat(dir_fd, sub, 0755) && errno != EEXIST)
        fail(shown, strerror(errno));
    int sub_fd = openat(dir_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub_fd < 0)
        fail(shown, strerror(errno));
    struct bootfs_iterator it;
    struct bootfs_file file;
    bootfs_iterator_init(&it, payload, header->length);
    while (bootfs_iterator_next(&it, &file)) {
        char *file_shown;
        if (asprintf(&file_shown, "%s/%s", shown, file.name) < 0)
            fail("memory", strerror(ENOMEM));
        make_parents(sub_fd, file.name, file_shown);
        file_write_at(sub_fd, file.name, file_shown, file.data, file.data_length);
        free(file_shown);
    }
    close(sub_fd);
    free(shown);
}

static int extract(const char *directory, const char *path)
{
    size_t size;
    uint8_t *data = file_read(path, &size);
    struct error error;
    size_t container_size;
    if (zbi_check(data, size, &container_size, &error))
        fail(path, error.message);
    if (mkdir(directory, 0755) && errno != EEXIST)
        fail(directory, strerror(errno));
    int dir_fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0)
        fail(directory, strerror(errno));

    struct zbi_iterator it;
    struct zbi_header header;
    const uint8_t *payload;
    size_t offset;
    unsigned index = 0;
    zbi_iterator_init(&it, data, container_size);
    while (zbi_iterator_next(&it, &header, &payload, &offset)) {
        index++;
        char name[16];
        char file[48];
        char *shown;
        snprintf(file, sizeof(file), "%03u-%s.bin", index, file_type_name(header.type, name));
        if (asprintf(&shown, "%s/%s", directory, file) < 0)
            fail("memory", strerror(ENOMEM));
        file_write_at(dir_fd, file, shown, payload, header.length);
        free(shown);
        if (header.type == ZBI_TYPE_STORAGE_BOOTFS &&
            !(header.flags & ZBI_FLAG_STORAGE_COMPRESSED))
            extract_bootfs(path, dir_fd, directory, &header, index, offset, payload);
    }
    close(dir_fd);
    free(data);
    return 0;
}

/* --- Command line ------------------------------------------------------- */

enum {
    OPTION_KERNEL_X64 = 0x100,
    OPTION_ENTRY,
    OPTION_RESERVE,
    OPTION_CMDLINE,
    OPTION_RAMDISK,
    OPTION_BOOTFS,
    OPTION_ITEM,
    OPTION_CRC,
    OPTION_LEGACY,
};

int main(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"output", required_argument, NULL, 'o'},
        {"list", no_argument, NULL, 't'},
        {"extract", required_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {"kernel-x64", required_argument, NULL, OPTION_KERNEL_X64},
        {"entry", required_argument, NULL, OPTION_ENTRY},
        {"reserve", required_argument, NULL, OPTION_RESERVE},
        {"cmdline", required_argument, NULL, OPTION_CMDLINE},
        {"ramdisk", required_argument, NULL, OPTION_RAMDISK},
        {"bootfs", required_argument, NULL, OPTION_BOOTFS},
        {"item", required_argument, NULL, OPTION_ITEM},
        {"crc", no_argument, NULL, OPTION_CRC},
        {"legacy", no_argument, NULL, OPTION_LEGACY},
        {NULL, 0, NULL, 0},
    };
    struct build_options build_options = {0};
    struct item_list items = {0};
    bool list_mode = false;
    bool have_reserve = false;
    const char *extract_directory = NULL;
    int option;
    while ((option = getopt_long(argc, argv, "o:tx:h", long_options, NULL)) != -1) {
        switch (option) {
        case 'o':
            build_options.output = optarg;
            break;
        case 't':
            list_mode = true;
            break;
        case 'x':
            extract_directory = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case OPTION_KERNEL_X64:
            if (build_options.kernel)
                fail_usage("only one --kernel-x64");
            build_options.kernel = optarg;
            break;
        case OPTION_ENTRY:
            build_options.entry = parse_number("--entry", optarg, false);
            build_options.have_entry = true;
            break;
        case OPTION_RESERVE:
            build_options.reserve = parse_number("--reserve", optarg, true);
            have_reserve = true;
            break;
        case OPTION_CMDLINE: {
            size_t length = strlen(optarg) + 1;
            uint8_t *text = checked_malloc(length);
            memcpy(text, optarg, length);
            item_list_add(&items, ZBI_TYPE_CMDLINE, 0, "--cmdline", text, length);
            break;
        }
        case OPTION_RAMDISK: {
            size_t length;
            uint8_t *data = file_read(optarg, &length);
            item_list_add(&items, ZBI_TYPE_STORAGE_RAMDISK, (uint32_t)length, optarg, data,
                          length);
            break;
        }
        case OPTION_BOOTFS: {
            size_t length;
            uint8_t *data = bootfs_build(optarg, &length);
            item_list_add(&items, ZBI_TYPE_STORAGE_BOOTFS, (uint32_t)length, optarg, data,
                          length);
            break;
        }
        case OPTION_ITEM: {
            const char *file;
            uint32_t type = parse_item_type(optarg, &file);
            size_t length;
            uint8_t *data = file_read(file, &length);
            item_list_add(&items, type, 0, file, data, length);
            break;
        }
        case OPTION_CRC:
            build_options.crc = true;
            break;
        case OPTION_LEGACY:
            build_options.legacy = true;
            break;
        default:
            fprintf(stderr, "zbi: zbi --help for usage\n");
            return 2;
        }
    }
    int modes = (build_options.output != NULL) + list_mode + (extract_directory != NULL);
    if (modes != 1)
        fail_usage("give one of -o OUT, -t FILE and -x DIR FILE");
    if (list_mode || extract_directory) {
        if (optind != argc - 1)
            fail_usage(list_mode ? "-t wants one FILE" : "-x wants DIR and one FILE");
        if (items.count || build_options.kernel || build_options.have_entry || have_reserve ||
            build_options.crc || build_options.legacy)
            fail_usage("item options go with -o");
        return list_mode ? list(argv[optind]) : extract(extract_directory, argv[optind]);
    }
    if (optind != argc)
        fail_usage("unexpected arguments after the options");
    if (build_options.kernel && !build_options.have_entry)
        fail_usage("--kernel-x64 wants --entry ADDR");
    if (!build_options.kernel && (build_options.have_entry || have_reserve))
        fail_usage("--entry and --reserve go with --kernel-x64");
    if (build_options.legacy && build_options.crc)
        fail_usage("--legacy containers have no CRC32 field: drop --crc");
    int status = build(&build_options, &items);
    free(items.items);
    return status;
}
