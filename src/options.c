#include "options.h"

#include "control/listen_address.h"
#include "devices/debug_exit.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPTION_MEMORY = 256,
    OPTION_CPUS,
    OPTION_VERSION,
    OPTION_CONSOLE,
    OPTION_DISPLAY,
    OPTION_DISPLAY_SIZE,
    OPTION_SCREENSHOT,
    OPTION_DEBUG_EXIT,
    OPTION_TEST_DEVICES,
    OPTION_NET,
    OPTION_GDB,
    OPTION_PAUSED,
    OPTION_QMP,
    OPTION_NO_SANDBOX,
    OPTION_SECCOMP,
    OPTION_USER,
    OPTION_SHARE,
    OPTION_EXEC,
    OPTION_MODULES
};

static const struct option long_options[] = {
    {"ramdisk", required_argument, NULL, 'r'}, {"initrd", required_argument, NULL, 'r'},
    {"cmdline", required_argument, NULL, 'c'}, {"block", required_argument, NULL, 'b'}, {"memory", required_argument, NULL, OPTION_MEMORY},
    {"cpus", required_argument, NULL, OPTION_CPUS}, {"console", required_argument, NULL, OPTION_CONSOLE}, {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPTION_VERSION}, {"graphics", no_argument, NULL, 'g'},
    {"display", required_argument, NULL, OPTION_DISPLAY},
    {"display-size", required_argument, NULL, OPTION_DISPLAY_SIZE},
    {"screenshot", required_argument, NULL, OPTION_SCREENSHOT},
    {"debug-exit", optional_argument, NULL, OPTION_DEBUG_EXIT},
    {"test-devices", no_argument, NULL, OPTION_TEST_DEVICES},
    {"net", required_argument, NULL, OPTION_NET},
    {"gdb", required_argument, NULL, OPTION_GDB},
    {"paused", no_argument, NULL, OPTION_PAUSED},
    {"qmp", required_argument, NULL, OPTION_QMP},
    {"no-sandbox", no_argument, NULL, OPTION_NO_SANDBOX},
    {"seccomp", required_argument, NULL, OPTION_SECCOMP},
    {"user", required_argument, NULL, OPTION_USER},
    {"share", required_argument, NULL, OPTION_SHARE},
    {"exec", required_argument, NULL, OPTION_EXEC},
    {"modules", required_argument, NULL, OPTION_MODULES}, {NULL, 0, NULL, 0},
};

int options_parse_size(const char *text, uint64_t *bytes)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno || end == text)
        return -1;
    unsigned shift;
    switch (toupper((unsigned char)*end)) {
    case '\0': shift = 20; break;
    case 'B': shift = 0; break;
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: return -1;
    }
    if (*end) {
        end++;
        if (shift && (*end == 'i' || *end == 'I'))
            end++;
        if (shift && (*end == 'B' || *end == 'b'))
            end++;
        if (*end)
            return -1;
    }
    if (value > (UINT64_MAX >> shift))
        return -1;
    *bytes = (uint64_t)value << shift;
    return 0;
}

static int options_parse_count(const char *text, int *count)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    long value = strtol(text, &end, 10);
    if (errno || *end || value > INT_MAX)
        return -1;
    *count = (int)value;
    return 0;
}

/* --exec makes its own initramfs, shares the host's / as tag "root" and
 * hears the command's status on port 0xf4: what would clash with that is
 * refused here, before anything starts. */
static int options_check_exec(const struct options *options, struct error *error)
{
    if (!options->exec_command) {
        if (options->modules_dir)
            return error_set(error, "--modules: only means something with --exec");
        return 0;
    }
    if (options->initrd_path)
        return error_set(error, "-r %s: --exec makes the initramfs itself", options->initrd_path);
    for (int i = 0; i < options->share_count; i++)
        if (!strcmp(options->shares[i].tag, OPTIONS_EXEC_ROOT_TAG))
            return error_set(error,
                             "--share %s: tag '%s' is --exec's (the host's /); give it another "
                             "with tag=NAME",
                             options->shares[i].directory, OPTIONS_EXEC_ROOT_TAG);
    if (options->debug_exit &&
        options->debug_exit_port < OPTIONS_EXEC_STATUS_PORT + DEBUG_EXIT_PORT_COUNT &&
        options->debug_exit_port + DEBUG_EXIT_PORT_COUNT > OPTIONS_EXEC_STATUS_PORT)
        return error_set(error,
                         "--debug-exit: port 0x%x is where --exec hears the command's status; "
                         "give it another (--debug-exit=PORT)",
                         options->debug_exit_port);
    return 0;
}

/* -b FILE[,ro|,rw]: the suffix is taken off only when it is one of those. */
static int options_add_disk(struct options *options, const char *text, struct error *error)
{
    if (options->disk_count == OPTIONS_MAX_DISKS)
        return error_set(error, "-b %s: too many disks (at most %d)", text, OPTIONS_MAX_DISKS);
    struct disk_option *disk = &options->disks[options->disk_count];
    size_t length = strlen(text);
    const char *comma = strrchr(text, ',');
    disk->read_only = false;
    if (comma && (!strcmp(comma, ",ro") || !strcmp(comma, ",rw"))) {
        disk->read_only = comma[1] == 'r' && comma[2] == 'o';
        length = (size_t)(comma - text);
    }
    if (length >= sizeof(disk->path))
        return error_set(error, "-b: file name too long");
    memcpy(disk->path, text, length);
    disk->path[length] = '\0';
    if (!disk->path[0])
        return error_set(error, "-b: no file name given");
    options->disk_count++;
    return 0;
}

static int options_append_cmdline(struct options *options, const char *text, struct error *error)
{
    size_t used = strlen(options->cmdline);
    size_t needed = used + (used ? 1 : 0) + strlen(text) + 1;
    if (needed > sizeof(options->cmdline))
        return error_set(error, "-c: command line longer than %d bytes", OPTIONS_MAX_CMDLINE - 1);
    if (used)
        options->cmdline[used++] = ' ';
    strcpy(options->cmdline + used, text);
    options->cmdline_given = true;
    return 0;
}

/* "WxH", each side 16 to OPTIONS_MAX_DISPLAY_SIDE pixels. */
static int options_parse_display_size(const char *text, uint32_t *width, uint32_t *height)
{
    char *end;
    errno = 0;
    unsigned long w = strtoul(text, &end, 10);
    if (end == text || (*end != 'x' && *end != 'X') || errno)
        return -1;
    const char *second = end + 1;
    unsigned long h = strtoul(second, &end, 10);
    if (end == second || *end || errno || w < 16 || h < 16 || w > OPTIONS_MAX_DISPLAY_SIDE ||
        h > OPTIONS_MAX_DISPLAY_SIDE)
        return -1;
    *width = (uint32_t)w;
    *height = (uint32_t)h;
    return 0;
}

/* An I/O port number, decimal or 0x hex, low enough for four ports. */
static int options_parse_port(const char *text, uint16_t *port)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long value = strtoul(text, &end, 0);
    if (errno || *end || value > OPTIONS_MAX_DEBUG_EXIT_PORT)
        return -1;
    *port = (uint16_t)value;
    return 0;
}

/* A control socket's address, checked now so a bad one is the option's
 * error; the socket itself is opened with the machine. */
static int options_check_listen_address(const char *option, const char *text,
                                        struct error *error)
{
    struct listen_address address;
    if (!listen_address_parse(text, &address, error))
        return 0;
    struct error detail = *error;
    return error_set(error, "%s %s", option, detail.message);
}

int options_parse(int argc, char **argv, struct options *options, struct error *error)
{
    memset(options, 0, sizeof(*options));
    options->memory_size = OPTIONS_DEFAULT_MEMORY;
    options->cpu_count = 1;
    options->balloon_pages_to_keep = OPTIONS_DEFAULT_BALLOON_PAGES_TO_KEEP;
    options->display_spec = "sdl";
    options->display_width = OPTIONS_DEFAULT_DISPLAY_WIDTH;
    options->display_height = OPTIONS_DEFAULT_DISPLAY_HEIGHT;
    options->debug_exit_port = OPTIONS_DEFAULT_DEBUG_EXIT_PORT;
    bool pages_given = false, display_size_given = false;
    bool no_sandbox = false, seccomp_given = false;
    options->sandbox = SANDBOX_ENFORCE;

    opterr = 0;
    optind = 0; /* full reset, so tests may parse repeatedly */
    int option;
    while ((option = getopt_long(argc, argv, ":r:c:b:m:p:dgh", long_options, NULL)) != -1) {
        switch (option) {
        case 'r':
            options->initrd_path = optarg;
            break;
        case 'b':
            if (options_add_disk(options, optarg, error))
                return -1;
            break;
        case 'c':
            if (options_append_cmdline(options, optarg, error))
                return -1;
            break;
        case OPTION_MEMORY:
            if (options_parse_size(optarg, &options->memory_size))
                return error_set(error, "--memory %s: not a size (try 512M or 2G)", optarg);
            if (options->memory_size < OPTIONS_MIN_MEMORY)
                return error_set(error, "--memory %s: less than the minimum of %llu MiB", optarg,
                                 OPTIONS_MIN_MEMORY >> 20);
            if (options->memory_size > OPTIONS_MAX_MEMORY)
                return error_set(error, "--memory %s: more than the maximum of %llu GiB", optarg,
                                 OPTIONS_MAX_MEMORY >> 30);
            if (options->memory_size & 0xfff)
                return error_set(error, "--memory %s: not a whole number of 4 KiB pages", optarg);
            break;
        case OPTION_CPUS:
            if (options_parse_count(optarg, &options->cpu_count))
                return error_set(error, "--cpus %s: not a number", optarg);
            if (options->cpu_count < 1)
                return error_set(error, "--cpus %s: a VM needs at least one vCPU", optarg);
            break;
        case 'm': {
            int seconds;
            if (options_parse_count(optarg, &seconds) || seconds < 1 || seconds > 86400)
                return error_set(error, "-m %s: not a number of seconds (1 to 86400)", optarg);
            options->balloon = true;
            options->balloon_poll_seconds = (unsigned)seconds;
            break;
        }
        case 'p': {
            int pages;
            if (options_parse_count(optarg, &pages))
                return error_set(error, "-p %s: not a number of pages", optarg);
            options->balloon_pages_to_keep = (uint32_t)pages;
            pages_given = true;
            break;
        }
        case 'd':
            options->balloon = true;
            options->balloon_deflate_on_oom = true;
            break;
        case OPTION_CONSOLE:
            if (!strcmp(optarg, "virtio"))
                options->virtio_console = true;
            else if (!strcmp(optarg, "serial"))
                options->virtio_console = false;
            else
                return error_set(error, "--console=%s: not a console (serial or virtio)", optarg);
            break;
        case 'g':
            options->graphics = true;
            break;
        case OPTION_DISPLAY:
            if (!*optarg)
                return error_set(error, "--display=: needs a display (sdl, vnc[=ADDRESS], none)");
            options->graphics = true;
            options->display_spec = optarg;
            break;
        case OPTION_DISPLAY_SIZE:
            if (options_parse_display_size(optarg, &options->display_width,
                                           &options->display_height))
                return error_set(error, "--display-size %s: not WIDTHxHEIGHT (16 to %d each, "
                                        "e.g. 1024x768)",
                                 optarg, OPTIONS_MAX_DISPLAY_SIDE);
            display_size_given = true;
            break;
        case OPTION_SCREENSHOT:
            if (!*optarg)
                return error_set(error, "--screenshot: needs a file name");
            options->screenshot_path = optarg;
            break;
        case OPTION_DEBUG_EXIT:
            if (optarg && options_parse_port(optarg, &options->debug_exit_port))
                return error_set(error, "--debug-exit=%s: not an I/O port (0 to 0x%x, e.g. "
                                        "0xf4)",
                                 optarg, OPTIONS_MAX_DEBUG_EXIT_PORT);
            options->debug_exit = true;
            break;
        case OPTION_TEST_DEVICES:
            /* The test suites that use pc-testdev end through isa-debug-exit
             * at 0xf4; an explicit --debug-exit=PORT keeps its port. */
            options->test_devices = true;
            options->debug_exit = true;
            break;
        case OPTION_NET:
            if (options->net_count == NET_MAX_NICS)
                return error_set(error, "--net %s: too many NICs (at most %d)", optarg,
                                 NET_MAX_NICS);
            if (net_config_parse(optarg, &options->nets[options->net_count], error))
                return -1;
            options->net_count++;
            break;
        case OPTION_SHARE:
            if (options->share_count == SHARE_MAX_SHARES)
                return error_set(error, "--share %s: too many shares (at most %d)", optarg,
                                 SHARE_MAX_SHARES);
            if (share_config_parse(optarg, &options->shares[options->share_count], error))
                return -1;
            options->share_count++;
            break;
        case OPTION_EXEC:
            options->exec_command = optarg; /* "" is an interactive shell */
            break;
        case OPTION_MODULES:
            if (!*optarg)
                return error_set(error, "--modules: needs a directory");
            options->modules_dir = optarg;
            break;
        case OPTION_GDB:
            if (options_check_listen_address("--gdb", optarg, error))
                return -1;
            options->gdb_spec = optarg;
            break;
        case OPTION_QMP:
            if (options_check_listen_address("--qmp", optarg, error))
                return -1;
            options->qmp_spec = optarg;
            break;
        case OPTION_NO_SANDBOX:
            no_sandbox = true;
            break;
        case OPTION_SECCOMP:
            if (strcmp(optarg, "kill") == 0)
                options->sandbox = SANDBOX_ENFORCE;
            else if (strcmp(optarg, "log") == 0)
                options->sandbox = SANDBOX_LOG;
            else
                return error_set(error, "--seccomp=%s: not a mode (kill or log)", optarg);
            seccomp_given = true;
            break;
        case OPTION_USER:
            if (!*optarg)
                return error_set(error, "--user: needs a user (USER or USER:GROUP)");
            options->user_spec = optarg;
            break;
        case OPTION_PAUSED:
            options->paused = true;
            break;
        case 'h':
            options->show_help = true;
            return 0;
        case OPTION_VERSION:
            options->show_version = true;
            return 0;
        /* For a long option getopt_long sets optopt to its value (0 when it is
         * unknown, ours when it lacks an argument): name it from argv then. */
        case ':':
            if (optopt > 0 && optopt < OPTION_MEMORY)
                return error_set(error, "-%c: needs an argument", optopt);
            return error_set(error, "%s: needs an argument", argv[optind - 1]);
        default:
            if (optopt > 0 && optopt < OPTION_MEMORY)
                return error_set(error, "-%c: unknown option", optopt);
            return error_set(error, "%s: unknown option", argv[optind - 1]);
        }
    }
    if ((display_size_given || options->screenshot_path) && !options->graphics)
        return error_set(error, "%s: only means something with -g or --display",
                         display_size_given ? "--display-size" : "--screenshot");
    if (options->paused && !options->gdb_spec && !options->qmp_spec)
        return error_set(error, "--paused: needs --gdb or --qmp, to start the VM with");
    if (share_config_check_tags(options->shares, options->share_count, error))
        return -1;
    if (options_check_exec(options, error))
        return -1;
    if (no_sandbox && seccomp_given)
        return error_set(error, "--seccomp: has no filter to apply with --no-sandbox");
    if (no_sandbox)
        options->sandbox = SANDBOX_OFF;
    if (pages_given && !options->balloon_poll_seconds)
        return error_set(error, "-p: only means something with -m (the balloon's polling)");
    if (optind >= argc)
        return error_set(error, "no kernel given (usage: guest [OPTIONS] KERNEL)");
    if (argc - optind > 1)
        return error_set(error, "%s: unexpected argument after the kernel %s", argv[optind + 1],
                         argv[optind]);
    options->kernel_path = argv[optind];
    return 0;
}

void options_print_help(const char *program)
{
    printf("Usage: %s [OPTIONS] KERNEL\n"
           "Boot KERNEL (a Linux bzImage, a vmlinux ELF with a PVH note, a Zircon ZBI or a\n"
           "multiboot kernel) in a KVM virtual machine with its serial console on this terminal.\n"
           "\n"
           "  -r, --ramdisk FILE  initial RAM disk (Linux initrd), Zircon bootdata/ZBI container,\n"
           "                      or a multiboot kernel's first module\n"
           "  -b, --block FILE[,ro]\n"
           "                      a virtio disk backed by FILE (repeat: vda, vdb, ...); read-only\n"
           "                      with ,ro or when FILE is not writable by you\n"
           "  -c, --cmdline TEXT  kernel command line, after the defaults (console=ttyS0,115200\n"
           "                      io_delay=none panic=-1); a console= of yours replaces ours;\n"
           "                      repeat -c to add more\n"
           "  -m SECONDS          virtio-balloon: read the guest's memory statistics every SECONDS\n"
           "                      and size the balloon so the guest keeps -p PAGES available\n"
           "  -p PAGES            unused 4 KiB pages the guest keeps with -m (default 1024)\n"
           "  -d                  virtio-balloon: the guest may deflate it when short of memory\n"
           "      --memory SIZE   guest memory, e.g. 512M or 2G (default 1G; a bare number is MiB)\n"
           "      --cpus N        number of vCPUs (default 1)\n"
           "      --console=serial|virtio\n"
           "                      the terminal is the guest's ttyS0 (default) or its hvc0\n"
           "                      (virtio-console; the default console= becomes hvc0)\n"
           "  -g, --graphics      a framebuffer (virtio-gpu) with a keyboard and a tablet\n"
           "                      (virtio-input), shown by --display; Alt+Esc switches the\n"
           "                      display between the guest's screen and the serial console\n"
           "      --display=sdl|vnc[=HOST:PORT|unix:PATH][,password-file=FILE]|none\n"
           "                      where -g shows the screen (default sdl; implies -g); vnc\n"
           "                      listens on 127.0.0.1 from port 5900 up; off loopback it\n"
           "                      needs password-file (VNC authentication, its first line)\n"
           "      --display-size WxH  the screen the guest is offered (default 1024x768)\n"
           "      --screenshot FILE   with -g: a PNG of the display at exit, and whenever\n"
           "                      the VMM gets SIGUSR1\n"
           "      --debug-exit[=PORT]\n"
           "                      a guest's write of V to PORT (default 0xf4) ends the VMM with\n"
           "                      exit status (V << 1) | 1, low 8 bits (QEMU's isa-debug-exit)\n"
           "      --test-devices  QEMU's pc-testdev for kernel test suites: scratch ports\n"
           "                      0xe0-0xeb, page flush at 0xe4, IRQ lines at 0x2000-0x2017,\n"
           "                      64 KiB of scratch MMIO at 0xff000000; implies --debug-exit\n"
           "      --net user[,hostfwd=RULE]...[,guestfwd=RULE]...[,restrict=on][,mac=MAC]\n"
           "                      a virtio NIC (repeat: eth0, eth1, ...) on user-mode networking:\n"
           "                      no privileges; NAT, DHCP (10.0.2.15), DNS at 10.0.2.3, the\n"
           "                      host at 10.0.2.2; hostfwd=tcp|udp:[HOSTADDR]:PORT-[GUESTADDR]:PORT\n"
           "                      into the guest, guestfwd=tcp:GUESTADDR:PORT-tcp:HOSTADDR:PORT\n"
           "                      out of it; restrict=on lets nothing out but guestfwd\n"
           "      --net tap,ifname=NAME[,vhost=on|off][,mac=MAC]\n"
           "                      a virtio NIC on an existing tap interface (vhost-net when it can)\n"
           "      --share DIR[,tag=NAME][,ro]\n"
           "                      the host directory DIR in the guest (virtio-fs; repeat for\n"
           "                      more): mount -t virtiofs NAME /mnt; NAME defaults to DIR's\n"
           "                      last component (root for /); ro refuses every change\n"
           "      --exec COMMAND  boot KERNEL on the host's own files (/ shared read-only, writes\n"
           "                      kept in memory), run COMMAND with sh -c in this directory, and\n"
           "                      exit with its status; --exec '' gives a shell\n"
           "      --modules DIR   with --exec: the kernel's modules (default: modules/ beside\n"
           "                      KERNEL), for virtio-fs and overlayfs when they are modules\n"
           "      --gdb [HOST:]PORT|unix:PATH\n"
           "                      a GDB remote stub for the guest kernel (gdb's target remote);\n"
           "                      one thread per vCPU; HOST defaults to 127.0.0.1\n"
           "      --qmp unix:PATH|[HOST:]PORT\n"
           "                      a QMP control socket (QEMU's protocol: query-status, stop,\n"
           "                      cont, quit, ...); HOST defaults to 127.0.0.1\n"
           "      --paused        no guest instruction runs until the debugger continues or a\n"
           "                      QMP client says cont (break at the kernel's first instruction)\n"
           "      --no-sandbox    no seccomp filters and no dropping of capabilities (for\n"
           "                      debugging the VMM; every thread is confined by default)\n"
           "      --seccomp=kill|log\n"
           "                      what a system call outside a thread's allow-list does: end\n"
           "                      the VMM with a message (kill, the default), or run and be\n"
           "                      logged by the kernel (log: finds what a new feature needs)\n"
           "      --user USER[:GROUP]\n"
           "                      started as root: become USER (and GROUP, or USER's own\n"
           "                      group) once the VM's files and devices are open\n"
           "  -h, --help          show this help\n"
           "      --version       show the version\n"
           "\n"
           "On a terminal, Ctrl-A x quits, Ctrl-A h shows the keys, Ctrl-A Ctrl-A sends Ctrl-A.\n"
           "SIGQUIT ends the VM after saying on stderr where each vCPU was (a hung guest).\n"
           "\n"
           "Exit status: 0 guest powered off; 1 bad option or file, or VMM failure; 3 guest\n"
           "rebooted; 4 KVM could not run the guest; 5 quit (Ctrl-A x, QMP quit); 6 the guest\n"
           "kernel panicked (pvpanic); 7 killed by the debugger; 8 a VMM thread made a system\n"
           "call its sandbox forbids; 128+N ended by signal N;\n"
           "with --debug-exit, (V << 1) | 1 when the guest wrote V to its port.\n",
           program);
}
