#include "boot/exec_image.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* virtio_pci brings virtio and virtio_ring with it; virtiofs brings fuse.
 * The console and disks are there for --console=virtio and --block. */
const char *const exec_image_modules[] = {"virtio_pci", "virtiofs", "overlay", "virtio_console",
                                          "virtio_blk"};
const size_t exec_image_module_count = sizeof(exec_image_modules) / sizeof(exec_image_modules[0]);

/* Debian's modules.dep is about 600 KiB; anything near this is not one. */
#define MODULES_TEXT_MAX ((size_t)64 << 20)
#define MODULE_NAME_MAX 64
#define CONSOLE_MAJOR 5
#define CONSOLE_MINOR 1

struct module {
    const char *path; /* as modules.dep names it, relative to the directory */
    const char *deps; /* what it needs, space-separated, the last to load first */
    bool visited;
};

/* modules.dep and modules.builtin, read and split in place. */
struct module_table {
    const char *dir;
    char *dep_text;
    char *builtin_text; /* NULL when the directory has none */
    struct module *modules;
    size_t count;
    const struct module **order; /* the load order found so far */
    size_t order_count;
};

/* Reads up to size bytes; *done is what the file held (less if it shrank). */
static int read_up_to(int fd, char *out, size_t size, size_t *done)
{
    *done = 0;
    while (*done < size) {
        ssize_t count = read(fd, out + *done, size - *done);
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0)
            return -1;
        if (count == 0)
            break;
        *done += (size_t)count;
    }
    return 0;
}

/* Reads the whole of path, NUL-terminated; *missing tells a file that is
 * not there from one that cannot be read. */
static int read_text(const char *path, char **text, bool *missing, struct error *error)
{
    *text = NULL;
    *missing = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *missing = errno == ENOENT || errno == ENOTDIR;
        return error_set(error, "%s: %s", path, strerror(errno));
    }
    struct stat st;
    size_t done;
    int result = -1;
    if (fstat(fd, &st))
        error_set(error, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        error_set(error, "%s: not a regular file", path);
    else if ((size_t)st.st_size > MODULES_TEXT_MAX)
        error_set(error, "%s: %lld bytes is too large for a module list", path,
                  (long long)st.st_size);
    else if (!(*text = malloc((size_t)st.st_size + 1)))
        error_set(error, "%s: out of memory", path);
    else if (read_up_to(fd, *text, (size_t)st.st_size, &done))
        error_set(error, "%s: %s", path, strerror(errno));
    else {
        (*text)[done] = '\0';
        result = 0;
    }
    if (result) {
        free(*text);
        *text = NULL;
    }
    close(fd);
    return result;
}

/* The module name of a path in modules.dep or modules.builtin: the file's
 * name without ".ko" and any compression suffix, '-' read as '_' (as
 * modprobe does).  Empty when it does not end in ".ko" or ".ko.*". */
static void module_name_of(const char *path, size_t length, char *out, size_t size)
{
    const char *base = path;
    for (size_t i = 0; i < length; i++)
        if (path[i] == '/')
            base = path + i + 1;
    size_t base_length = (size_t)(path + length - base);
    const char *ko = NULL;
    for (size_t i = 0; i + 3 <= base_length; i++)
        if (memcmp(base + i, ".ko", 3) == 0 && (i + 3 == base_length || base[i + 3] == '.'))
            ko = base + i;
    size_t name_length = ko ? (size_t)(ko - base) : 0;
    if (name_length >= size)
        name_length = 0;
    for (size_t i = 0; i < name_length; i++)
        out[i] = base[i] == '-' ? '_' : base[i];
    out[name_length] = '\0';
}

static bool is_named(const char *path, size_t length, const char *name)
{
    char found[MODULE_NAME_MAX];
    module_name_of(path, length, found, sizeof(found));
    return *found && strcmp(found, name) == 0;
}

static int parse_dep(struct module_table *table, const char *dep_path, struct error *error)
{
    size_t capacity = 0, line_number = 0;
    for (char *line = table->dep_text; *line;) {
        char *end = strchrnul(line, '\n');
        char *next = *end ? end + 1 : end;
        *end = '\0';
        line_number++;
        if (*line) {
            char *colon = strchr(line, ':');
            if (!colon || colon == line)
                return error_set(error, "%s: line %zu is not \"MODULE: DEPENDENCIES\"",
                                 dep_path, line_number);
            *colon = '\0';
            if (table->count == capacity) {
                capacity = capacity ? capacity * 2 : 1024;
                struct module *modules = realloc(table->modules, capacity * sizeof(*modules));
                if (!modules)
                    return error_set(error, "%s: out of memory", dep_path);
                table->modules = modules;
            }
            table->modules[table->count++] = (struct module){line, colon + 1, false};
        }
        line = next;
    }
    return 0;
}

static bool is_builtin(const struct module_table *table, const char *name)
{
    for (const char *line = table->builtin_text; line && *line;) {
        const char *end = strchrnul(line, '\n');
        if (is_named(line, (size_t)(end - line), name))
            return true;
        line = *end ? end + 1 : end;
    }
    return false;
}

static struct module *find_by_path(struct module_table *table, const char *path, size_t length)
{
    for (size_t i = 0; i < table->count; i++)
        if (strncmp(table->modules[i].path, path, length) == 0 &&
            table->modules[i].path[length] == '\0')
            return &table->modules[i];
    return NULL;
}

static struct module *find_by_name(struct module_table *table, const char *name)
{
    for (size_t i = 0; i < table->count; i++)
        if (is_named(table->modules[i].path, strlen(table->modules[i].path), name))
            return &table->modules[i];
    return NULL;
}

/* Puts module after everything it needs.  modules.dep lists a module's
 * dependencies with the one to load last first (modprobe loads them from
 * the end), so they are walked from the end; each is visited in turn, for
 * a hand-written modules.dep that lists only direct dependencies. */
static int visit(struct module_table *table, struct module *module, const char *dep_path,
                 struct error *error)
{
    if (module->visited)
        return 0;
    module->visited = true; /* before the dependencies: a cycle ends here */
    const char *start = module->deps, *p = start + strlen(start);
    while (p > start) {
        while (p > start && (p[-1] == ' ' || p[-1] == '\t'))
            p--;
        const char *end = p;
        while (p > start && p[-1] != ' ' && p[-1] != '\t')
            p--;
        if (p == end)
            break;
        struct module *dependency = find_by_path(table, p, (size_t)(end - p));
        if (!dependency)
            return error_set(error, "%s: %s needs %.*s, which has no line of its own",
                             dep_path, module->path, (int)(end - p), p);
        if (visit(table, dependency, dep_path, error))
            return -1;
    }
    table->order[table->order_count++] = module;
    return 0;
}

/* Reads the directory's lists and finds the load order of the modules
 * --exec needs.  *absent: it is not a modules directory (no modules.dep). */
static int resolve_modules(struct module_table *table, bool *absent, struct error *error)
{
    char path[PATH_MAX];
    bool missing;
    *absent = false;
    if ((size_t)snprintf(path, sizeof(path), "%s/modules.dep", table->dir) >= sizeof(path))
        return error_set(error, "%s: path too long", table->dir);
    if (read_text(path, &table->dep_text, &missing, error)) {
        *absent = missing;
        return -1;
    }
    if (parse_dep(table, path, error))
        return -1;
    char builtin_path[PATH_MAX];
    snprintf(builtin_path, sizeof(builtin_path), "%s/modules.builtin", table->dir);
    /* Only modules.dep makes a modules directory; without modules.builtin
     * every module named is looked for in modules.dep. */
    if (read_text(builtin_path, &table->builtin_text, &missing, error) && !missing)
        return -1;

    table->order = calloc(table->count ? table->count : 1, sizeof(*table->order));
    if (!table->order)
        return error_set(error, "%s: out of memory", path);
    for (size_t i = 0; i < exec_image_module_count; i++) {
        const char *name = exec_image_modules[i];
        if (is_builtin(table, name))
            continue;
        /* Neither built in nor a module: the kernel lacks it, which the
         * init's mount says when it matters. */
        struct module *module = find_by_name(table, name);
        if (module && visit(table, module, path, error))
            return -1;
    }
    return 0;
}

static void free_table(struct module_table *table)
{
    free(table->dep_text);
    free(table->builtin_text);
    free(table->modules);
    free(table->order);
}

/* Adds each module and /exec/modules, the list the init loads in order. */
static int add_modules(const struct exec_image_config *config, struct initramfs *archive,
                       struct error *error)
{
    struct module_table table = {.dir = config->modules_dir};
    char *list = NULL;
    size_t list_size = 0;
    FILE *out = open_memstream(&list, &list_size);
    if (!out)
        return error_set(error, "/exec/modules: out of memory");
    int result = -1;
    bool absent = false;
    if (config->modules_dir && resolve_modules(&table, &absent, error)) {
        if (!absent)
            goto done;
        if (config->modules_dir_given) {
            error_set(error, "%s: not a modules directory (no modules.dep)", config->modules_dir);
            goto done;
        }
        table.order_count = 0; /* a kernel with its drivers built in */
    }
    for (size_t i = 0; i < table.order_count; i++) {
        char host_path[PATH_MAX], archive_path[PATH_MAX];
        const char *path = table.order[i]->path;
        if ((size_t)snprintf(host_path, sizeof(host_path), "%s/%s", table.dir, path) >=
                sizeof(host_path) ||
            (size_t)snprintf(archive_path, sizeof(archive_path), "/modules/%s", path) >=
                sizeof(archive_path)) {
            error_set(error, "%s/%s: path too long", table.dir, path);
            goto done;
        }
        if (initramfs_add_host_file(archive, archive_path, 0644, host_path, error))
            goto done;
        fprintf(out, "%s\n", archive_path);
    }
    if (fclose(out)) {
        out = NULL;
        error_set(error, "/exec/modules: out of memory");
        goto done;
    }
    out = NULL;
    result = initramfs_add_file(archive, "/exec/modules", 0644, list, list_size, error);
done:
    if (out)
        fclose(out);
    free(list);
    free_table(&table);
    return result;
}

/* A tag or mount point goes in a line of words: no spaces or control
 * characters in it. */
static bool is_one_word(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

static int check_tag(const char *tag, const char *what, struct error *error)
{
    if (!*tag || strlen(tag) > EXEC_IMAGE_TAG_MAX)
        return error_set(error, "%s tag \"%s\": a virtio-fs tag is 1 to %d bytes", what, tag,
                         EXEC_IMAGE_TAG_MAX);
    if (!is_one_word(tag))
        return error_set(error, "%s tag \"%s\": spaces and control characters are not allowed",
                         what, tag);
    return 0;
}

static int check_share(const struct exec_share *share, struct error *error)
{
    if (check_tag(share->tag, "share", error))
        return -1;
    const char *point = share->mount_point;
    if (point[0] != '/' || !point[1])
        return error_set(error, "share %s: mount point \"%s\" is not an absolute path below /",
                         share->tag, point);
    if (!is_one_word(point))
        return error_set(error, "share %s: mount point \"%s\" has spaces or control characters",
                         share->tag, point);
    return 0;
}

static int check_config(const struct exec_image_config *config, struct error *error)
{
    if (config->init_size < 4 || memcmp(config->init, "\x7f" "ELF", 4) != 0)
        return error_set(error, "exec-init: the embedded init is not an ELF program "
                                "(%zu bytes)",
                         config->init_size);
    if (!config->cwd || config->cwd[0] != '/')
        return error_set(error, "--exec: working directory \"%s\" is not an absolute path",
                         config->cwd ? config->cwd : "");
    const char *const values[][2] = {
        {"PATH", config->path}, {"HOME", config->home}, {"TERM", config->term}};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        if (values[i][1] && strchr(values[i][1], '\n'))
            return error_set(error, "--exec: %s has a newline in it, which /exec/env cannot hold",
                             values[i][0]);
    if (config->root_tag && check_tag(config->root_tag, "root", error))
        return -1;
    for (size_t i = 0; i < config->share_count; i++)
        if (check_share(&config->shares[i], error))
            return -1;
    return 0;
}

static int add_text(struct initramfs *archive, const char *path, const char *text,
                    struct error *error)
{
    return initramfs_add_file(archive, path, 0644, text, strlen(text), error);
}

/* One of /exec's files of lines, written through a memory stream. */
static int add_lines(struct initramfs *archive, const char *path,
                     void (*write_lines)(FILE *out, const struct exec_image_config *config),
                     const struct exec_image_config *config, struct error *error)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return error_set(error, "%s: out of memory", path);
    write_lines(out, config);
    int result = fclose(out) ? error_set(error, "%s: out of memory", path)
                             : initramfs_add_file(archive, path, 0644, text, size, error);
    free(text);
    return result;
}

static void write_env(FILE *out, const struct exec_image_config *config)
{
    if (config->path)
        fprintf(out, "PATH=%s\n", config->path);
    if (config->home)
        fprintf(out, "HOME=%s\n", config->home);
    if (config->term)
        fprintf(out, "TERM=%s\n", config->term);
}

static void write_shares(FILE *out, const struct exec_image_config *config)
{
    for (size_t i = 0; i < config->share_count; i++) {
        const struct exec_share *share = &config->shares[i];
        fprintf(out, "%s %s%s\n", share->tag, share->mount_point, share->read_only ? " ro" : "");
    }
}

static int add_exec_files(const struct exec_image_config *config, struct initramfs *archive,
                          struct error *error)
{
    const char *tag = config->root_tag ? config->root_tag : EXEC_IMAGE_DEFAULT_ROOT_TAG;
    if (initramfs_add_directory(archive, "/exec", 0755, error) ||
        add_text(archive, "/exec/command", config->command ? config->command : "", error) ||
        add_text(archive, "/exec/cwd", config->cwd, error) ||
        add_lines(archive, "/exec/env", write_env, config, error) ||
        add_text(archive, "/exec/root-tag", tag, error) ||
        add_lines(archive, "/exec/shares", write_shares, config, error))
        return -1;
    return 0;
}

int exec_image_build(const struct exec_image_config *config, struct initramfs *archive,
                     struct error *error)
{
    initramfs_init(archive);
    if (check_config(config, error) ||
        initramfs_add_file(archive, "/init", 0755, config->init, config->init_size, error) ||
        initramfs_add_directory(archive, "/dev", 0755, error) ||
        initramfs_add_char_device(archive, "/dev/console", 0600, CONSOLE_MAJOR, CONSOLE_MINOR,
                                  error) ||
        add_exec_files(config, archive, error) || add_modules(config, archive, error) ||
        initramfs_finish(archive, error)) {
        initramfs_free(archive);
        return -1;
    }
    return 0;
}

int exec_image_default_modules_dir(const char *kernel_path, char *out, size_t size,
                                   struct error *error)
{
    const char *slash = strrchr(kernel_path, '/');
    int length = slash ? (int)(slash - kernel_path) + 1 : 0;
    int written = snprintf(out, size, "%.*smodules", length, kernel_path);
    if (written < 0 || (size_t)written >= size)
        return error_set(error, "%s: path too long", kernel_path);
    return 0;
}
