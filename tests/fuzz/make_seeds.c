/* Writes the fuzzers' seed corpora: valid synthetic kernels (the same ones
 * the unit tests break field by field), typical command lines, and a UART
 * driver's usual register sequence, and ZBI and seed-era bootdata
 * containers (kernel, command line, bootfs, machine items).  Generated at fuzz time so that no binary
 * files live in the repository.  The virtio seeds are guest memory images
 * with rings built by hand (virtio-gpu's holding whole command sequences,
 * virtio-net's all three queues at once),
 * and a Linux driver's register sequence.  The FUSE server's are request
 * sequences a guest's kernel sends, against the harness's tree.
 * Usage: make_seeds DIRECTORY */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "net_frames.h"
#include "synthetic_images.h"
/* Only <stdint.h> inside: the seeds need the constants, not the library. */
#include "../../src/boot/zbi_format.h"

static const char *root;

static int write_seed(const char *corpus, const char *name, const void *bytes, size_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, corpus);
    if (mkdir(path, 0777) && errno != EEXIST) {
        perror(path);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, corpus, name);
    FILE *file = fopen(path, "wb");
    if (!file || fwrite(bytes, 1, size, file) != size || fclose(file)) {
        perror(path);
        return -1;
    }
    return 0;
}

/* corpus/PREFIX-INDEX */
static int write_numbered_seed(const char *corpus, const char *prefix, size_t index,
                               const void *bytes, size_t size)
{
    char name[32];
    snprintf(name, sizeof(name), "%s-%zu", prefix, index);
    return write_seed(corpus, name, bytes, size);
}

static int write_bzimage_seeds(void)
{
    static uint8_t image[SYNTHETIC_BZ_SIZE];
    synthetic_bzimage(image);
    /* The last byte picks the memory size and initrd in the harness; the
     * kernel's bytes are don't-care, so vary it. */
    int failed = 0;
    for (int choice = 0; choice < 4; choice++) {
        char name[32];
        image[SYNTHETIC_BZ_SIZE - 1] = (uint8_t)(choice * 0x15);
        snprintf(name, sizeof(name), "valid-%d", choice);
        failed |= write_seed("bzimage", name, image, sizeof(image));
    }
    synthetic_put16(image + 0x206, 0x020c);
    image[0x1f1] = 0;
    failed |= write_seed("bzimage", "protocol-2.12", image, sizeof(image));
    return failed;
}

static int write_pvh_seeds(void)
{
    static const struct synthetic_elf_options variants[] = {
        {1, 8, 0}, {1, 4, 0}, {2, 8, 1}, {2, 4, 1},
    };
    static uint8_t image[SYNTHETIC_ELF_SIZE];
    int failed = 0;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        synthetic_elf(image, &variants[i]);
        image[SYNTHETIC_ELF_SIZE - 1] = (uint8_t)(i * 5);
        char name[32];
        snprintf(name, sizeof(name), "valid-%zu", i);
        failed |= write_seed("pvh", name, image, sizeof(image));
    }
    return failed;
}

static int write_options_seeds(void)
{
    /* Arguments separated by NUL bytes, as the harness splits them. */
    static const char seeds[][128] = {
        "bzImage",
        "-r\0initrd.img\0-c\0root=/dev/vda\0-c\0quiet\0bzImage",
        "--memory\0" "512M\0--cpus\0" "4\0vmlinux",
        "--memory=2G\0--cpus=2\0--initrd=a\0--cmdline=console=hvc0\0k",
        "--help",
        "--version",
        "-x\0k",
        "k\0--memory",
        "1073741824B",
        "16KiB",
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        size_t length = sizeof(seeds[i]);
        while (length > 0 && seeds[i][length - 1] == '\0')
            length--;
        failed |= write_numbered_seed("options", "args", i, seeds[i], length);
    }
    return failed;
}

static int write_net_config_seeds(void)
{
    static const char *const seeds[] = {
        "user",
        "user,restrict=on,mac=02:67:75:65:00:01",
        "user,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-10.0.2.15:53",
        "user,restrict=yes,guestfwd=tcp:10.0.2.100:80-tcp:127.0.0.1:8080",
        "user,guestfwd=:10.0.2.4:1-tcp:192.0.2.1:65535,hostfwd=::0-10.0.2.100:1",
        "tap,ifname=tap0,vhost=on,mac=52:54:00:12:34:56",
        "tap,ifname=0123456789abcde,vhost=off",
        "user,hostfwd=tcp::x-:22",
        "user,ifname=tap0,,mac=",
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        failed |= write_numbered_seed("net_config", "value", i, seeds[i], strlen(seeds[i]));
    return failed;
}

static int write_qmp_seeds(void)
{
    static const char *const seeds[] = {
        "\x87{\"execute\":\"query-status\",\"id\":1}\n{\"execute\":\"stop\"}\n"
        "{\"execute\":\"query-status\"}\n{\"execute\":\"cont\"}\n",
        "\x05{\"execute\": \"qmp_capabilities\"}{\"execute\": \"query-cpus-fast\"}",
        "\x90{\"execute\": \"human-monitor-command\", \"arguments\": {\"command-line\": "
        "\"info status\"}, \"id\": [1, {\"a\": null}]}\r\n",
        "\x81{bad json}\n[1,2]\n{\"execute\":5}\n{\"execute\":\"x\",\"y\":1}\n",
        "\x82{\"execute\":\"query-commands\"}{\"execute\":\"query-version\"}"
        "{\"execute\":\"quit\"}{\"execute\":\"cont\"}",
        "\x83[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        failed |= write_numbered_seed("qmp", "session", i, seeds[i], strlen(seeds[i]));
    return failed;
}

static int write_listen_address_seeds(void)
{
    static const char *const seeds[] = {
        "1234", "tcp::1234", "127.0.0.1:1", "[::1]:65535", "unix:/tmp/gdb.sock",
        "0.0.0.0:99999", "unix:", "[fe80::1%eth0]:1", "tcp:localhost:1",
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
        failed |= write_numbered_seed("listen_address", "value", i, seeds[i], strlen(seeds[i]));
    return failed;
}

/* A GDB session as gdb 13 opens it (each command framed, with its checksum,
 * and acknowledged), then breakpoints, a watchpoint, memory, registers,
 * resuming, Ctrl-C and a detach. */
static const char *const gdb_session[] = {
    "qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vContSupported+",
    "vMustReplyEmpty", "QStartNoAckMode", "Hgp0.0", "qXfer:features:read:target.xml:0,ffb",
    "qXfer:features:read:target.xml:ffb,ffb", "qTStatus", "?", "qfThreadInfo", "qsThreadInfo",
    "qAttached:1", "qRcmd,696e666f", "qRcmd,7a", "Hc-1", "qC", "g", "p10", "P0=1122334455667788", "m1000,40",
    "M1008,4:cc90cc90", "X1010,3:abc", "Z0,1020,1", "Z1,1000,1", "Z2,1040,8", "Z3,1040,4",
    "vCont?", "vCont;s:p1.2;c:p1.-1", "qThreadExtraInfo,2", "T2", "z0,1020,1", "z2,1040,8",
    "c", "s1030", "G00", "D;1",
};

static size_t gdb_frame(uint8_t *out, const char *payload)
{
    size_t length = strlen(payload);
    unsigned sum = 0;
    out[0] = '$';
    memcpy(out + 1, payload, length);
    for (size_t i = 0; i < length; i++)
        sum += (uint8_t)payload[i];
    snprintf((char *)out + 1 + length, 4, "#%02x", sum & 0xff);
    return length + 4;
}

static int write_gdb_seeds(void)
{
    static uint8_t wire[8192], lines[4096];
    size_t used = 0, line_used = 0;
    lines[line_used++] = '1'; /* fuzz_gdb_stub: odd first byte, lines framed for it */
    for (size_t i = 0; i < sizeof(gdb_session) / sizeof(gdb_session[0]); i++) {
        used += gdb_frame(wire + used, gdb_session[i]);
        wire[used++] = '+';
        if (i == 30)
            wire[used++] = 0x03; /* Ctrl-C while it runs */
        size_t length = strlen(gdb_session[i]);
        memcpy(lines + line_used, gdb_session[i], length);
        line_used += length;
        lines[line_used++] = '\n';
    }
    static const char noise[] = "+-\x03$g#00junk$qC#b4";
    int failed = write_seed("gdb_packet", "session", wire, used);
    failed |= write_seed("gdb_packet", "bad-checksum-and-noise", noise, sizeof(noise) - 1);
    failed |= write_seed("gdb_stub", "session-raw", wire, used);
    failed |= write_seed("gdb_stub", "session-lines", lines, line_used);
    return failed;
}

/* fuzz_net_slirp's records: op 0 a frame (16-bit length, then its bytes), 2
 * the device refuses or takes frames from now on, 3 rx_ready, 4 a round. */
static size_t net_slirp_record(uint8_t *seed, size_t used, const uint8_t *frame, size_t length)
{
    seed[used] = 0;
    seed[used + 1] = (uint8_t)length;
    seed[used + 2] = (uint8_t)(length >> 8);
    memcpy(seed + used + 3, frame, length);
    return used + 3 + length;
}

static int write_net_slirp_seeds(void)
{
    static uint8_t seed[8 * (3 + NET_FRAME_MAX)];
    uint8_t frame[NET_FRAME_MAX];
    uint32_t gateway = net_frame_ip("10.0.2.2"), dns = net_frame_ip("10.0.2.3");
    size_t used = net_slirp_record(seed, 0, frame, net_frame_arp_request(frame, gateway));
    used = net_slirp_record(seed, used, frame, net_frame_dhcp_discover(frame, 1));
    seed[used++] = 4;
    int failed = write_seed("net_slirp", "arp-dhcp", seed, used);

    used = net_slirp_record(seed, 0, frame, net_frame_arp_request(frame, gateway));
    used = net_slirp_record(seed, used, frame,
                            net_frame_tcp(frame, 40000, gateway, 22, 1000, 0, TCP_SYN, NULL, 0));
    used = net_slirp_record(seed, used, frame,
                            net_frame_udp(frame, net_frame_slirp_mac,
                                          net_frame_ip(NET_FRAME_GUEST_IP), 40001, dns, 53,
                                          "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12));
    seed[used++] = 4;
    failed |= write_seed("net_slirp", "tcp-udp", seed, used);

    /* The device refusing: the backlog, then rx_ready. */
    seed[0] = 2;
    used = 1;
    for (int i = 0; i < 3; i++)
        used = net_slirp_record(seed, used, frame, net_frame_arp_request(frame, dns));
    seed[used++] = 4;
    seed[used++] = 2;
    seed[used++] = 3;
    seed[used++] = 4;
    failed |= write_seed("net_slirp", "backlog", seed, used);
    return failed;
}

static int write_rtc_seeds(void)
{
    /* Pairs of (op, argument): op low 2 bits 0 read, 1 write (argument the
     * value), 2 time passes (argument << op bits 2-6 nanoseconds), 3 the
     * timer; op bit 7 the port (0 index, 1 data). */
#define RTC_SELECT(index) 0x01, index
#define RTC_WRITE(value) 0x81, value
#define RTC_READ 0x80, 0
#define RTC_WAIT_SECOND (0x02 | 22 << 2), 0xff /* 255 << 22 ns: just over 1 s */
#define RTC_TIMER 0x03, 0
    static const uint8_t alarm_and_update[] = {
        RTC_SELECT(0x0c), RTC_READ,
        RTC_SELECT(0x01), RTC_WRITE(0xc0), RTC_SELECT(0x03), RTC_WRITE(0xff),
        RTC_SELECT(0x05), RTC_WRITE(0xff),
        RTC_SELECT(0x0b), RTC_WRITE(0x32), /* AIE | UIE */
        RTC_WAIT_SECOND, RTC_TIMER, RTC_SELECT(0x0c), RTC_READ,
        RTC_WAIT_SECOND, RTC_TIMER, RTC_SELECT(0x0c), RTC_READ,
        RTC_SELECT(0x0b), RTC_WRITE(0x82), /* SET */
        RTC_WAIT_SECOND, RTC_TIMER, RTC_SELECT(0x00), RTC_READ,
        RTC_SELECT(0x0b), RTC_WRITE(0x02),
    };
    static const uint8_t periodic[] = {
        RTC_SELECT(0x0a), RTC_WRITE(0x23), /* 8192 Hz */
        RTC_SELECT(0x0b), RTC_WRITE(0x46), /* PIE, binary */
        (0x02 | 10 << 2), 0x80, RTC_TIMER, RTC_SELECT(0x0c), RTC_READ,
        (0x02 | 10 << 2), 0x80, RTC_TIMER, RTC_SELECT(0x0a), RTC_READ,
        RTC_SELECT(0x0a), RTC_WRITE(0x2f), RTC_WAIT_SECOND, RTC_TIMER,
    };
#undef RTC_SELECT
#undef RTC_WRITE
#undef RTC_READ
#undef RTC_WAIT_SECOND
#undef RTC_TIMER
    return write_seed("rtc", "alarm-and-update", alarm_and_update, sizeof(alarm_and_update)) |
           write_seed("rtc", "periodic", periodic, sizeof(periodic));
}

static int write_uart_seeds(void)
{
    /* op byte: low 2 bits 0 read, 1 write, 2 receive, 3 room; then offset
     * (or count) and, for writes, the value. */
    static const uint8_t linux_probe[] = {
        0x01, 3, 0x83, /* LCR: DLAB */
        0x01, 0, 0x01, /* DLL */
        0x01, 1, 0x00, /* DLM */
        0x01, 3, 0x03, /* LCR: 8N1 */
        0x01, 2, 0x07, /* FCR: enable and clear */
        0x01, 4, 0x1f, /* MCR: loopback */
        0x00, 6,       /* MSR */
        0x01, 0, 0x5a, /* THR in loopback */
        0x00, 0,       /* RBR */
        0x01, 4, 0x0b, /* MCR: normal */
        0x01, 1, 0x03, /* IER: RDI | THRI */
        0x00, 2,       /* IIR */
        0x01, 0, 'h',  /* THR */
        0x02, 3,       /* receive 3 bytes */
        0x00, 2,       /* IIR */
        0x00, 5,       /* LSR */
        0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0,
        0x03, 0,       /* room */
    };
    static const uint8_t fill_and_drain[] = {
        0x1e, 0xff, /* receive 255 << 7 bytes: more than the buffer holds */
        0x03, 0,
        0x01, 2, 0x03, /* FCR: clear receive */
        0x03, 0,
        0x1e, 0xff,
        0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0,
    };
    return write_seed("uart", "linux-probe", linux_probe, sizeof(linux_probe)) |
           write_seed("uart", "fill-and-drain", fill_and_drain, sizeof(fill_and_drain));
}

/* --- virtio: rings built by hand in a guest memory image ------------------
 * The layouts below mirror the harnesses (tests/fuzz/fuzz_virtq.c,
 * fuzz_virtio_blk.c): descriptor table at 0, avail ring at 0x800, used ring
 * at 0xa00, buffers from 0x1000. */
#define SEED_DESC_TABLE 0x0000
#define SEED_AVAIL_RING 0x0800
#define SEED_DESC_F_NEXT 1
#define SEED_DESC_F_WRITE 2
#define SEED_DESC_F_INDIRECT 4

static void seed_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void seed_put32(uint8_t *p, uint32_t v)
{
    seed_put16(p, (uint16_t)v);
    seed_put16(p + 2, (uint16_t)(v >> 16));
}

static void seed_put64(uint8_t *p, uint64_t v)
{
    seed_put32(p, (uint32_t)v);
    seed_put32(p + 4, (uint32_t)(v >> 32));
}

/* memory is guest address 0 of the image. */
static void seed_desc(uint8_t *memory, uint32_t table, unsigned index, uint64_t address,
                      uint32_t length, uint16_t flags, uint16_t next)
{
    uint8_t *desc = memory + table + 16 * index;
    seed_put64(desc, address);
    seed_put32(desc + 8, length);
    seed_put16(desc + 12, flags);
    seed_put16(desc + 14, next);
}

/* Publishes heads in ring order from avail index first on the avail ring at
 * avail; returns the new index. */
static uint16_t seed_offer_at(uint8_t *memory, uint32_t avail, uint16_t queue_size, uint16_t first,
                              const uint16_t *heads, unsigned count)
{
    uint16_t index = first;
    for (unsigned i = 0; i < count; i++, index++)
        seed_put16(memory + avail + 4 + 2 * (index & (queue_size - 1)), heads[i]);
    seed_put16(memory + avail + 2, index);
    return index;
}

/* The same on the one ring most harnesses have, at SEED_AVAIL_RING. */
static uint16_t seed_offer(uint8_t *memory, uint16_t queue_size, uint16_t first,
                           const uint16_t *heads, unsigned count)
{
    return seed_offer_at(memory, SEED_AVAIL_RING, queue_size, first, heads, count);
}

/* A virtio-blk style chain (header, data, status) at head, head+1, head+2. */
static void seed_three_part_chain(uint8_t *memory, uint32_t table, unsigned head,
                                  uint64_t buffers)
{
    seed_desc(memory, table, head, buffers, 16, SEED_DESC_F_NEXT, (uint16_t)(head + 1));
    seed_desc(memory, table, head + 1, buffers + 0x100, 512,
              SEED_DESC_F_NEXT | SEED_DESC_F_WRITE, (uint16_t)(head + 2));
    seed_desc(memory, table, head + 2, buffers + 0x300, 1, SEED_DESC_F_WRITE, 0);
}

static int write_virtq_seeds(void)
{
    /* Three control bytes (see fuzz_virtq.c), then memory. */
    static uint8_t seed[3 + 0x1600];
    uint8_t *memory = seed + 3;
    int failed = 0;
    static const uint16_t heads[] = {0, 3, 4};

    /* A direct three-part chain, an indirect one, a single buffer; size 8,
     * indirect negotiated, the device writes into the buffers. */
    memset(seed, 0, sizeof(seed));
    seed[0] = 3 | 8 | 32;
    seed_three_part_chain(memory, SEED_DESC_TABLE, 0, 0x1000);
    seed_desc(memory, SEED_DESC_TABLE, 3, 0x1400, 48, SEED_DESC_F_INDIRECT, 0);
    seed_three_part_chain(memory, 0x1400, 0, 0x1000);
    seed_desc(memory, SEED_DESC_TABLE, 4, 0x1310, 64, SEED_DESC_F_WRITE, 0);
    seed_offer(memory, 8, 0, heads, 3);
    failed |= write_seed("virtq", "three-chains", seed, sizeof(seed));

    /* The same with event idx and the indices about to wrap past 65535. */
    seed[0] = 3 | 8 | 16;
    seed[1] = 0xfe;
    seed[2] = 0xff;
    seed_offer(memory, 8, 65534, heads, 3);
    seed_put16(memory + SEED_AVAIL_RING + 4 + 2 * 8, 65535); /* used_event */
    failed |= write_seed("virtq", "event-idx-wrap", seed, sizeof(seed));

    /* Bad chains around a good one, indirect not negotiated: a readable
     * buffer after a writable one, an indirect table, a loop, a next out
     * of range, a buffer beyond memory. */
    memset(seed, 0, sizeof(seed));
    seed[0] = 3;
    seed_desc(memory, SEED_DESC_TABLE, 0, 0x1000, 16, SEED_DESC_F_WRITE | SEED_DESC_F_NEXT, 1);
    seed_desc(memory, SEED_DESC_TABLE, 1, 0x1100, 16, 0, 0);
    seed_desc(memory, SEED_DESC_TABLE, 2, 0x1400, 32, SEED_DESC_F_INDIRECT, 0);
    seed_desc(memory, SEED_DESC_TABLE, 3, 0x1000, 16, SEED_DESC_F_NEXT, 3);
    seed_desc(memory, SEED_DESC_TABLE, 4, 0x1000, 64, 0, 0);
    seed_desc(memory, SEED_DESC_TABLE, 5, 0x1000, 16, SEED_DESC_F_NEXT, 9);
    seed_desc(memory, SEED_DESC_TABLE, 6, 0x3ff0, 32, SEED_DESC_F_WRITE, 0);
    static const uint16_t bad_heads[] = {0, 2, 3, 4, 5, 6};
    seed_offer(memory, 8, 0, bad_heads, 6);
    failed |= write_seed("virtq", "bad-chains", seed, sizeof(seed));
    return failed;
}

/* A virtio-blk request at head: header (type, sector), then the listed parts. */
static void seed_blk_header(uint8_t *memory, uint32_t address, uint32_t type, uint64_t sector)
{
    seed_put32(memory + address, type);
    seed_put32(memory + address + 4, 0);
    seed_put64(memory + address + 8, sector);
}

static int write_virtio_blk_seeds(void)
{
    /* One control byte (see fuzz_virtio_blk.c), then memory: a queue of 32
     * with indirect descriptors, and one request of every kind. */
    static uint8_t seed[1 + 0x1e00];
    uint8_t *memory = seed + 1;
    memset(seed, 0, sizeof(seed));
    seed[0] = 2 | 5 << 2;
    /* IN: sectors 3 and 4. */
    seed_blk_header(memory, 0x1000, 0, 3);
    seed_desc(memory, SEED_DESC_TABLE, 0, 0x1000, 16, SEED_DESC_F_NEXT, 1);
    seed_desc(memory, SEED_DESC_TABLE, 1, 0x1100, 1024, SEED_DESC_F_NEXT | SEED_DESC_F_WRITE, 2);
    seed_desc(memory, SEED_DESC_TABLE, 2, 0x1500, 1, SEED_DESC_F_WRITE, 0);
    /* OUT: sector 5. */
    seed_blk_header(memory, 0x1600, 1, 5);
    memset(memory + 0x1610, 'w', 512);
    seed_desc(memory, SEED_DESC_TABLE, 3, 0x1600, 16 + 512, SEED_DESC_F_NEXT, 4);
    seed_desc(memory, SEED_DESC_TABLE, 4, 0x1810, 1, SEED_DESC_F_WRITE, 0);
    /* FLUSH. */
    seed_blk_header(memory, 0x1820, 4, 0);
    seed_desc(memory, SEED_DESC_TABLE, 5, 0x1820, 16, SEED_DESC_F_NEXT, 6);
    seed_desc(memory, SEED_DESC_TABLE, 6, 0x1830, 1, SEED_DESC_F_WRITE, 0);
    /* GET_ID. */
    seed_blk_header(memory, 0x1840, 8, 0);
    seed_desc(memory, SEED_DESC_TABLE, 7, 0x1840, 16, SEED_DESC_F_NEXT, 8);
    seed_desc(memory, SEED_DESC_TABLE, 8, 0x1850, 21, SEED_DESC_F_WRITE, 0);
    /* WRITE_ZEROES of sectors 8..11, with unmap. */
    seed_blk_header(memory, 0x1880, 13, 0);
    seed_put64(memory + 0x1890, 8);
    seed_put32(memory + 0x1898, 4);
    seed_put32(memory + 0x189c, 1);
    seed_desc(memory, SEED_DESC_TABLE, 9, 0x1880, 32, SEED_DESC_F_NEXT, 10);
    seed_desc(memory, SEED_DESC_TABLE, 10, 0x18a0, 1, SEED_DESC_F_WRITE, 0);
    /* DISCARD of sectors 12 and 13. */
    seed_blk_header(memory, 0x18c0, 11, 0);
    seed_put64(memory + 0x18d0, 12);
    seed_put32(memory + 0x18d8, 2);
    seed_desc(memory, SEED_DESC_TABLE, 11, 0x18c0, 32, SEED_DESC_F_NEXT, 12);
    seed_desc(memory, SEED_DESC_TABLE, 12, 0x18e0, 1, SEED_DESC_F_WRITE, 0);
    /* IN of the last sector through an indirect table. */
    seed_blk_header(memory, 0x1900, 0, 63);
    seed_desc(memory, 0x1c00, 0, 0x1900, 16, SEED_DESC_F_NEXT, 1);
    seed_desc(memory, 0x1c00, 1, 0x1910, 512, SEED_DESC_F_NEXT | SEED_DESC_F_WRITE, 2);
    seed_desc(memory, 0x1c00, 2, 0x1b10, 1, SEED_DESC_F_WRITE, 0);
    seed_desc(memory, SEED_DESC_TABLE, 13, 0x1c00, 48, SEED_DESC_F_INDIRECT, 0);
    /* An unknown type, and a header too short. */
    seed_blk_header(memory, 0x1b20, 0x99, 0);
    seed_desc(memory, SEED_DESC_TABLE, 14, 0x1b20, 16, SEED_DESC_F_NEXT, 15);
    seed_desc(memory, SEED_DESC_TABLE, 15, 0x1b30, 1, SEED_DESC_F_WRITE, 0);
    seed_desc(memory, SEED_DESC_TABLE, 16, 0x1b40, 15, SEED_DESC_F_NEXT, 17);
    seed_desc(memory, SEED_DESC_TABLE, 17, 0x1b50, 1, SEED_DESC_F_WRITE, 0);
    static const uint16_t heads[] = {0, 3, 5, 7, 9, 11, 13, 14, 16};
    seed_offer(memory, 32, 0, heads, sizeof(heads) / sizeof(heads[0]));
    int failed = write_seed("virtio_blk", "every-request", seed, sizeof(seed));
    seed[0] |= 1; /* the read-only disk */
    failed |= write_seed("virtio_blk", "every-request-read-only", seed, sizeof(seed));
    return failed;
}

/* --- virtio-net (see fuzz_virtio_net.c) ---------------------------------------
 * Three rings of 16: receive at 0, transmit at 0xa00, control at 0x1400 (each
 * table, then avail at +0x400, used at +0x600); buffers from 0x1e00, and the
 * frames given to receive at 0x3000 in the image. */
#define NET_SEED_CONTROL 7
#define NET_SEED_HEADER (NET_SEED_CONTROL + 4 * 8)
#define NET_SEED_MEMORY 0x3800
#define NET_SEED_QUEUE 16
#define NET_RX_RINGS 0x0000
#define NET_TX_RINGS 0x0a00
#define NET_CTRL_RINGS 0x1400

/* A vnet header at p (little-endian, as the harness reads it). */
static void seed_net_header(uint8_t *p, uint8_t flags, uint8_t gso_type, uint16_t hdr_len,
                            uint16_t gso_size, uint16_t csum_start, uint16_t csum_offset)
{
    p[0] = flags;
    p[1] = gso_type;
    seed_put16(p + 2, hdr_len);
    seed_put16(p + 4, gso_size);
    seed_put16(p + 6, csum_start);
    seed_put16(p + 8, csum_offset);
    seed_put16(p + 10, 0);
}

/* An Ethernet frame of length bytes to destination at p. */
static void seed_net_frame(uint8_t *p, const uint8_t destination[6], unsigned length)
{
    static const uint8_t source[6] = {0x52, 0x54, 0x00, 0x99, 0x99, 0x99};
    for (unsigned i = 0; i < length; i++)
        p[i] = (uint8_t)(i * 7 + 3);
    memcpy(p, destination, 6);
    memcpy(p + 6, source, 6);
    p[12] = 0x08;
    p[13] = 0x00;
}

/* A control command at address: class, command, data; the ack after it. */
static void seed_net_command(uint8_t *memory, unsigned index, uint32_t address, uint8_t class,
                             uint8_t command, const uint8_t *data, unsigned length)
{
    memory[address] = class;
    memory[address + 1] = command;
    if (length)
        memcpy(memory + address + 2, data, length);
    seed_desc(memory, NET_CTRL_RINGS, index, address, 2 + length, SEED_DESC_F_NEXT,
              (uint16_t)(index + 1));
    seed_desc(memory, NET_CTRL_RINGS, index + 1, address + 2 + length, 1, SEED_DESC_F_WRITE, 0);
}

static void seed_net_transmit(uint8_t *memory)
{
    /* Header and frame in two buffers; one buffer with a TSO header; an
     * indirect chain; a buffer shorter than the header. */
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    seed_net_header(memory + 0x1e00, 0, 0, 0, 0, 0, 0);
    seed_net_frame(memory + 0x1e10, broadcast, 60);
    seed_desc(memory, NET_TX_RINGS, 0, 0x1e00, 12, SEED_DESC_F_NEXT, 1);
    seed_desc(memory, NET_TX_RINGS, 1, 0x1e10, 60, 0, 0);
    seed_net_header(memory + 0x1e60, 1, 1, 54, 100, 34, 16);
    seed_net_frame(memory + 0x1e6c, broadcast, 200);
    seed_desc(memory, NET_TX_RINGS, 2, 0x1e60, 12 + 200, 0, 0);
    seed_net_header(memory + 0x2040, 1, 0, 0, 0, 34, 6);
    seed_net_frame(memory + 0x2060, broadcast, 100);
    seed_desc(memory, 0x2000, 0, 0x2040, 12, SEED_DESC_F_NEXT, 1);
    seed_desc(memory, 0x2000, 1, 0x2060, 100, 0, 0);
    seed_desc(memory, NET_TX_RINGS, 3, 0x2000, 32, SEED_DESC_F_INDIRECT, 0);
    seed_desc(memory, NET_TX_RINGS, 4, 0x1f40, 8, 0, 0);
    static const uint16_t heads[] = {0, 2, 3, 4};
    seed_offer_at(memory, NET_TX_RINGS + 0x400, NET_SEED_QUEUE, 0, heads, 4);
}

static void seed_net_control(uint8_t *memory)
{
    /* Promiscuous off, all-multicast on, MAC tables, a new address, guest
     * offloads down to checksums, an unknown class. */
    static const uint8_t off[1] = {0}, on[1] = {1};
    static const uint8_t tables[20] = {1, 0, 0, 0, 0x02, 1,    2,    3, 4, 5,
                                       1, 0, 0, 0, 0x01, 0x00, 0x5e, 0, 0, 0xfb};
    static const uint8_t address[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    static const uint8_t offloads[8] = {2, 0, 0, 0, 0, 0, 0, 0};
    seed_net_command(memory, 0, 0x2100, 0, 0, off, 1);
    seed_net_command(memory, 2, 0x2110, 0, 1, on, 1);
    seed_net_command(memory, 4, 0x2120, 1, 0, tables, sizeof(tables));
    seed_net_command(memory, 6, 0x2150, 1, 1, address, sizeof(address));
    seed_net_command(memory, 8, 0x2160, 5, 0, offloads, sizeof(offloads));
    seed_net_command(memory, 10, 0x2170, 9, 0, NULL, 0);
    static const uint16_t heads[] = {0, 2, 4, 6, 8, 10};
    seed_offer_at(memory, NET_CTRL_RINGS + 0x400, NET_SEED_QUEUE, 0, heads, 6);
}

/* Six receive buffers of 256 bytes; frames to the broadcast, the new
 * address, the table's multicast address, and one too big for what is left. */
static void seed_net_receive(uint8_t *seed, unsigned skip)
{
    uint8_t *memory = seed + NET_SEED_HEADER;
    uint16_t heads[6];
    for (uint16_t i = 0; i < 6; i++) {
        seed_desc(memory, NET_RX_RINGS, i, 0x2200 + 0x100u * i, 256, SEED_DESC_F_WRITE, 0);
        heads[i] = i;
    }
    seed_offer_at(memory, NET_RX_RINGS + 0x400, NET_SEED_QUEUE, 0, heads, 6);
    static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t address[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    static const uint8_t multicast[6] = {0x01, 0x00, 0x5e, 0, 0, 0xfb};
    static const struct {
        uint16_t at, length;
        const uint8_t *destination;
        uint8_t flags;
    } frames[] = {
        {0x3000, 300, broadcast, 0},
        {0x3200, 100, address, 2},
        {0x3300, 60, multicast, 0},
        {0x3400, 1000, address, 0},
    };
    for (unsigned i = 0; i < 4; i++) {
        seed_net_header(memory + frames[i].at, frames[i].flags, 0, 0, 0, 0, 0);
        seed_net_frame(memory + frames[i].at + 12, frames[i].destination, frames[i].length);
        /* Without the back end's header the slice starts at the frame. */
        seed_put16(seed + NET_SEED_CONTROL + 4 * i, (uint16_t)(frames[i].at + skip));
        seed_put16(seed + NET_SEED_CONTROL + 4 * i + 2, (uint16_t)(frames[i].length + 12 - skip));
    }
}

static int write_virtio_net_seeds(void)
{
    static uint8_t seed[NET_SEED_HEADER + NET_SEED_MEMORY];
    uint8_t *memory = seed + NET_SEED_HEADER;
    int failed = 0;
    /* vnet_hdr back end, merged buffers, offloads, indirect, a reset and the
     * extra commands; queues of 16, 4 frames in 2 halves; the second send
     * busy. */
    memset(seed, 0, sizeof(seed));
    seed[0] = 1 | 2 | 4 | 16 | 64 | 128;
    seed[1] = 4 | 4 << 3;
    seed[2] = 0x02;
    seed[3] = 1;
    seed[4] = 0x80;
    seed_net_transmit(memory);
    seed_net_control(memory);
    seed_net_receive(seed, 0);
    failed |= write_seed("virtio_net", "offloads-merged", seed, sizeof(seed));
    /* The back end busy for every frame, and event idx. */
    seed[0] = 1 | 2 | 4 | 8 | 16 | 128;
    seed[2] = 0xff;
    failed |= write_seed("virtio_net", "backend-busy", seed, sizeof(seed));
    /* A bare back end, one chain per frame, the link down for odd frames,
     * frames in 3 uneven pieces. */
    memset(seed, 0, sizeof(seed));
    seed[0] = 8 | 32 | 128;
    seed[1] = 4 | 4 << 3;
    seed[3] = 2;
    seed[4] = 0x10; /* a short first piece, */
    seed[5] = 0x08; /* an empty second one */
    seed[6] = 0xf0;
    seed_net_transmit(memory);
    seed_net_control(memory);
    seed_net_receive(seed, 12);
    failed |= write_seed("virtio_net", "plain-single-chain", seed, sizeof(seed));
    return failed;
}

/* --- virtio-gpu: command sequences (see fuzz_virtio_gpu.c) ------------------
 * Queue of 128 at the usual places; each command is a request buffer (and,
 * for ATTACH_BACKING, its entries in a second one, as Linux sends them)
 * followed by a writable response buffer, packed from 0x1000. */
#define GPU_SEED_MEMORY 0x8000
#define GPU_SEED_QUEUE 128
#define GPU_SEED_PIXELS 0x4000 /* guest copies of resources */

enum {
    GPU_DISPLAY_INFO = 0x0100,
    GPU_CREATE_2D,
    GPU_UNREF,
    GPU_SET_SCANOUT,
    GPU_FLUSH,
    GPU_TRANSFER,
    GPU_ATTACH,
    GPU_DETACH,
    GPU_UPDATE_CURSOR = 0x0300,
    GPU_MOVE_CURSOR,
};

struct gpu_seed {
    uint8_t *memory;
    unsigned next_desc;
    uint32_t next_address;
    uint16_t heads[GPU_SEED_QUEUE];
    unsigned count;
};

static uint32_t gpu_seed_place(struct gpu_seed *seed, const uint8_t *bytes, uint32_t length)
{
    uint32_t address = seed->next_address;
    if (bytes)
        memcpy(seed->memory + address, bytes, length);
    seed->next_address = (address + length + 15) & ~15u;
    return address;
}

static void gpu_seed_desc(struct gpu_seed *seed, uint64_t address, uint32_t length,
                          uint16_t flags, bool last)
{
    unsigned index = seed->next_desc++;
    seed_desc(seed->memory, SEED_DESC_TABLE, index, address, length,
              (uint16_t)(flags | (last ? 0 : SEED_DESC_F_NEXT)), (uint16_t)(index + 1));
}

/* A command: header (type, flags, fence) and 32-bit fields; extra is a
 * second readable buffer; no response buffer when response_length is 0. */
static void gpu_seed_command(struct gpu_seed *seed, uint32_t type, uint32_t flags,
                             const uint32_t *fields, unsigned field_count, uint32_t length,
                             const uint8_t *extra, uint32_t extra_length,
                             uint32_t response_length)
{
    uint8_t request[128] = {0};
    seed_put32(request, type);
    seed_put32(request + 4, flags);
    seed_put64(request + 8, flags ? 0x100 + seed->count : 0);
    for (unsigned i = 0; i < field_count; i++)
        seed_put32(request + 24 + 4 * i, fields[i]);
    if (!length)
        length = 24 + 4 * field_count;
    seed->heads[seed->count++] = (uint16_t)seed->next_desc;
    uint32_t address = gpu_seed_place(seed, request, length);
    gpu_seed_desc(seed, address, length, 0, !extra_length && !response_length);
    if (extra_length) {
        address = gpu_seed_place(seed, extra, extra_length);
        gpu_seed_desc(seed, address, extra_length, 0, !response_length);
    }
    if (response_length) {
        address = gpu_seed_place(seed, NULL, response_length);
        gpu_seed_desc(seed, address, response_length, SEED_DESC_F_WRITE, true);
    }
}

#define GPU_FIELDS(...) (const uint32_t[]){__VA_ARGS__}, sizeof((const uint32_t[]){__VA_ARGS__}) / 4
#define GPU_COMMAND(seed, type, ...) \
    gpu_seed_command(seed, type, 0, GPU_FIELDS(__VA_ARGS__), 0, NULL, 0, 24)

static void gpu_seed_attach(struct gpu_seed *seed, uint32_t id, const uint64_t *entries,
                            unsigned count)
{
    uint8_t bytes[16 * 8] = {0};
    for (unsigned i = 0; i < count; i++) {
        seed_put64(bytes + 16 * i, entries[2 * i]);
        seed_put32(bytes + 16 * i + 8, (uint32_t)entries[2 * i + 1]);
    }
    gpu_seed_command(seed, GPU_ATTACH, 0, GPU_FIELDS(id, count), 0, bytes, 16 * count, 24);
}

static int gpu_seed_write(struct gpu_seed *seed, uint8_t *file, uint8_t cursor_mask,
                          const char *name)
{
    file[0] = 7; /* queue of 128, no indirect descriptors */
    file[1] = cursor_mask;
    if (seed->next_desc > GPU_SEED_QUEUE || seed->next_address > GPU_SEED_PIXELS) {
        fprintf(stderr, "virtio_gpu seed %s does not fit\n", name);
        return -1;
    }
    seed_offer(seed->memory, GPU_SEED_QUEUE, 0, seed->heads, seed->count);
    return write_seed("virtio_gpu", name, file, 2 + GPU_SEED_MEMORY);
}

static void gpu_seed_start(struct gpu_seed *seed, uint8_t *file)
{
    memset(file, 0, 2 + GPU_SEED_MEMORY);
    *seed = (struct gpu_seed){.memory = file + 2, .next_address = 0x1000};
    /* A picture for the transfers: every byte different nearby. */
    for (unsigned i = 0; i < 0x2000; i++)
        seed->memory[GPU_SEED_PIXELS + i] = (uint8_t)(i * 7 + i / 251);
}

static int write_virtio_gpu_seeds(void)
{
    static uint8_t file[2 + GPU_SEED_MEMORY];
    struct gpu_seed seed;
    int failed = 0;

    /* What Linux does: display info, a 16x16 framebuffer with two backing
     * pieces, scanout, transfer, flush, a cursor (chains 7 and 15 on the
     * cursor queue), partial updates, a panned scanout, and teardown. */
    gpu_seed_start(&seed, file);
    gpu_seed_command(&seed, GPU_DISPLAY_INFO, 0, NULL, 0, 0, NULL, 0, 24 + 16 * 24);
    GPU_COMMAND(&seed, GPU_CREATE_2D, 1, 2, 16, 16);
    gpu_seed_attach(&seed, 1, (const uint64_t[]){GPU_SEED_PIXELS, 512, GPU_SEED_PIXELS + 0x600,
                                                 512},
                    2);
    GPU_COMMAND(&seed, GPU_SET_SCANOUT, 0, 0, 16, 16, 0, 1);
    gpu_seed_command(&seed, GPU_TRANSFER, 1, GPU_FIELDS(0, 0, 16, 16, 0, 0, 1, 0), 0, NULL, 0,
                     24);
    GPU_COMMAND(&seed, GPU_FLUSH, 0, 0, 16, 16, 1, 0);
    GPU_COMMAND(&seed, GPU_CREATE_2D, 2, 1, 64, 64);
    gpu_seed_command(&seed, GPU_UPDATE_CURSOR, 0, GPU_FIELDS(0, 10, 20, 0, 2, 1, 1, 0), 0, NULL,
                     0, 0);
    GPU_COMMAND(&seed, GPU_TRANSFER, 2, 3, 5, 4, 3 * 64 + 2 * 4, 0, 1, 0);
    GPU_COMMAND(&seed, GPU_FLUSH, 2, 3, 5, 4, 1, 0);
    GPU_COMMAND(&seed, GPU_SET_SCANOUT, 4, 4, 8, 8, 0, 1);
    GPU_COMMAND(&seed, GPU_FLUSH, 0, 0, 16, 16, 1, 0);
    GPU_COMMAND(&seed, GPU_DETACH, 1, 0);
    GPU_COMMAND(&seed, GPU_SET_SCANOUT, 0, 0, 0, 0, 0, 0);
    GPU_COMMAND(&seed, GPU_UNREF, 1, 0);
    GPU_COMMAND(&seed, GPU_MOVE_CURSOR, 0, 30, 40, 0, 0, 0, 0, 0);
    failed |= gpu_seed_write(&seed, file, 0x80, "linux-bring-up");

    /* Every format through transfer, scanout and flush. */
    static const uint32_t formats[] = {1, 2, 3, 4, 67, 68, 121, 134};
    gpu_seed_start(&seed, file);
    for (unsigned i = 0; i < 8; i++) {
        uint32_t id = 10 + i;
        GPU_COMMAND(&seed, GPU_CREATE_2D, id, formats[i], 4, 4);
        gpu_seed_attach(&seed, id, (const uint64_t[]){GPU_SEED_PIXELS + 0x40 * i, 64}, 1);
        GPU_COMMAND(&seed, GPU_TRANSFER, 0, 0, 4, 4, 0, 0, id, 0);
        GPU_COMMAND(&seed, GPU_SET_SCANOUT, 0, 0, 4, 4, 0, id);
        GPU_COMMAND(&seed, GPU_FLUSH, 1, 1, 2, 2, id, 0);
    }
    failed |= gpu_seed_write(&seed, file, 0, "formats");

    /* Wrong in every way the device checks, around a good resource. */
    gpu_seed_start(&seed, file);
    GPU_COMMAND(&seed, GPU_CREATE_2D, 1, 2, 8, 8);
    gpu_seed_attach(&seed, 1, (const uint64_t[]){GPU_SEED_PIXELS, 256}, 1);
    GPU_COMMAND(&seed, 0x999, 0);                                           /* unknown */
    gpu_seed_command(&seed, GPU_CREATE_2D, 0, NULL, 0, 10, NULL, 0, 24);   /* short header */
    gpu_seed_command(&seed, GPU_CREATE_2D, 0, GPU_FIELDS(3, 2), 0, NULL, 0, 24); /* short */
    gpu_seed_command(&seed, GPU_DISPLAY_INFO, 0, NULL, 0, 0, NULL, 0, 24); /* short response */
    gpu_seed_command(&seed, GPU_FLUSH, 0, GPU_FIELDS(0, 0, 8, 8, 1, 0), 0, NULL, 0, 0);
    GPU_COMMAND(&seed, GPU_CREATE_2D, 0, 2, 8, 8);         /* id 0 */
    GPU_COMMAND(&seed, GPU_CREATE_2D, 1, 2, 8, 8);         /* duplicate */
    GPU_COMMAND(&seed, GPU_CREATE_2D, 2, 5, 8, 8);         /* format */
    GPU_COMMAND(&seed, GPU_CREATE_2D, 2, 2, 16384, 16384); /* too big */
    GPU_COMMAND(&seed, GPU_CREATE_2D, 3, 2, 0, 8);         /* empty */
    gpu_seed_attach(&seed, 9, (const uint64_t[]){GPU_SEED_PIXELS, 256}, 1);
    gpu_seed_attach(&seed, 1, (const uint64_t[]){GPU_SEED_PIXELS, 256}, 1); /* again */
    GPU_COMMAND(&seed, GPU_CREATE_2D, 4, 2, 8, 8);
    gpu_seed_attach(&seed, 4, (const uint64_t[]){GPU_SEED_MEMORY - 16, 256}, 1);
    GPU_COMMAND(&seed, GPU_ATTACH, 4, 20000);
    GPU_COMMAND(&seed, GPU_ATTACH, 4, 3);
    GPU_COMMAND(&seed, GPU_TRANSFER, 0, 0, 8, 8, 0, 0, 4, 0);    /* no backing */
    GPU_COMMAND(&seed, GPU_TRANSFER, 1, 0, 8, 8, 0, 0, 1, 0);    /* rect */
    GPU_COMMAND(&seed, GPU_TRANSFER, 0, 0, 8, 8, 4, 0, 1, 0);    /* past the backing */
    GPU_COMMAND(&seed, GPU_TRANSFER, 0, 0, 1, 1, ~0u, ~0u, 1, 0); /* wrapping offset */
    GPU_COMMAND(&seed, GPU_SET_SCANOUT, 0, 0, 9, 8, 0, 1);
    GPU_COMMAND(&seed, GPU_SET_SCANOUT, ~0u, 0, 2, 8, 0, 1);
    GPU_COMMAND(&seed, GPU_SET_SCANOUT, 0, 0, 8, 8, 3, 1);
    GPU_COMMAND(&seed, GPU_SET_SCANOUT, 0, 0, 8, 8, 0, 1);
    GPU_COMMAND(&seed, GPU_FLUSH, 0, 0, 8, 8, 7, 0);
    GPU_COMMAND(&seed, GPU_FLUSH, 4, 4, 8, 8, 1, 0);
    GPU_COMMAND(&seed, GPU_UPDATE_CURSOR, 0, 0, 0, 0, 1, 0, 0, 0); /* wrong queue */
    GPU_COMMAND(&seed, GPU_DETACH, 4, 0);
    GPU_COMMAND(&seed, GPU_UNREF, 9, 0);
    GPU_COMMAND(&seed, GPU_UNREF, 1, 0);
    failed |= gpu_seed_write(&seed, file, 0, "bad-commands");
    return failed;
}

/* fuzz_virtio_pci's byte program (see its header comment). */
struct pci_program {
    uint8_t bytes[2048];
    size_t length;
};

static void program_bytes(struct pci_program *program, uint64_t value, unsigned count)
{
    for (unsigned i = 0; i < count && program->length < sizeof(program->bytes); i++)
        program->bytes[program->length++] = (uint8_t)(value >> (8 * i));
}

static uint8_t size_code(unsigned length)
{
    return (uint8_t)((length == 8 ? 3 : length == 4 ? 2 : length == 2 ? 1 : 0) << 3);
}

static void bar_read(struct pci_program *program, uint16_t offset, unsigned length)
{
    program_bytes(program, 0 | size_code(length), 1);
    program_bytes(program, offset, 2);
}

static void bar_write(struct pci_program *program, uint16_t offset, uint64_t value,
                      unsigned length)
{
    program_bytes(program, 1 | size_code(length), 1);
    program_bytes(program, offset, 2);
    program_bytes(program, value, length);
}

static void config_read(struct pci_program *program, uint8_t slot, uint8_t offset,
                        unsigned length)
{
    program_bytes(program, 2 | size_code(length), 1);
    program_bytes(program, slot, 1);
    program_bytes(program, offset, 1);
}

static void config_write(struct pci_program *program, uint8_t slot, uint8_t offset,
                         uint64_t value, unsigned length)
{
    program_bytes(program, 3 | size_code(length), 1);
    program_bytes(program, slot, 1);
    program_bytes(program, offset, 1);
    program_bytes(program, value, length);
}

static void memory_write(struct pci_program *program, uint16_t address, uint64_t value,
                         unsigned length)
{
    program_bytes(program, 4 | size_code(length), 1);
    program_bytes(program, address, 2);
    program_bytes(program, value, length);
}

static void serve_queue(struct pci_program *program)
{
    program_bytes(program, 5, 1);
}

/* Linux's virtio_pci_modern bring-up of the rng, then one request. */
static void linux_bring_up(struct pci_program *program, uint32_t accepted_low)
{
    config_read(program, 0, 0x00, 4);
    config_read(program, 0, 0x0a, 2);
    config_read(program, 1, 0x00, 4);
    config_read(program, 1, 0x06, 2);
    config_read(program, 1, 0x34, 1);
    for (uint8_t cap = 0x40; cap < 0x94; cap += 4)
        config_read(program, 1, cap, 4);
    config_write(program, 1, 0x10, 0xffffffff, 4); /* size BAR 0 */
    config_read(program, 1, 0x10, 4);
    config_write(program, 1, 0x10, 0xc0000000, 4);
    config_write(program, 1, 0x04, 0x0006, 2); /* memory decoding, bus master */
    bar_write(program, 0x14, 0, 1);             /* reset */
    bar_write(program, 0x14, 1, 1);
    bar_write(program, 0x14, 3, 1);
    bar_write(program, 0x00, 0, 4);
    bar_read(program, 0x04, 4);
    bar_write(program, 0x00, 1, 4);
    bar_read(program, 0x04, 4);
    bar_write(program, 0x08, 0, 4);
    bar_write(program, 0x0c, accepted_low, 4);
    bar_write(program, 0x08, 1, 4);
    bar_write(program, 0x0c, 1, 4); /* VERSION_1 */
    bar_write(program, 0x14, 0x0b, 1);
    bar_read(program, 0x14, 1);
    for (uint16_t vector = 0; vector < 2; vector++) {
        bar_write(program, (uint16_t)(0x4000 + 16 * vector), 0xfee00000, 4);
        bar_write(program, (uint16_t)(0x4004 + 16 * vector), 0, 4);
        bar_write(program, (uint16_t)(0x4008 + 16 * vector), 0x41 + vector, 4);
        bar_write(program, (uint16_t)(0x400c + 16 * vector), 0, 4);
    }
    config_write(program, 1, 0x8a, 0x8001, 2); /* MSI-X enable */
    bar_write(program, 0x10, 0, 2);
    bar_read(program, 0x10, 2);
    bar_write(program, 0x16, 0, 2);
    bar_read(program, 0x18, 2);
    bar_write(program, 0x18, 8, 2);
    bar_write(program, 0x1a, 1, 2);
    bar_read(program, 0x1a, 2);
    bar_write(program, 0x20, 0x1000, 4);
    bar_write(program, 0x24, 0, 4);
    bar_write(program, 0x28, 0x2000, 4);
    bar_write(program, 0x2c, 0, 4);
    bar_write(program, 0x30, 0x3000, 4);
    bar_write(program, 0x34, 0, 4);
    bar_read(program, 0x1e, 2);
    bar_write(program, 0x1c, 1, 2);
    bar_write(program, 0x14, 0x0f, 1); /* DRIVER_OK */
    /* One 64-byte request: descriptor 0, avail ring entry 0, idx 1. */
    memory_write(program, 0x1000, 0x4000, 8);
    memory_write(program, 0x1008, 64 | (uint64_t)2 << 32, 8);
    memory_write(program, 0x2002, 1, 2);
    bar_write(program, 0x3000, 0, 2);
    serve_queue(program);
    bar_read(program, 0x1000, 1);
    bar_read(program, 0x5000, 8);
}

static int write_virtio_pci_seeds(void)
{
    static struct pci_program program;
    int failed = 0;

    memset(&program, 0, sizeof(program));
    linux_bring_up(&program, 0x30000000); /* EVENT_IDX, INDIRECT_DESC */
    program_bytes(&program, 7, 1);       /* reset */
    failed |= write_seed("virtio_pci", "linux-bring-up", program.bytes, program.length);

    /* A driver breaking the rules: features not offered, sizes that are not
     * powers of two, vectors we lack, rings outside memory, the PCI_CFG
     * window, and a BAR moved while decoding. */
    memset(&program, 0, sizeof(program));
    linux_bring_up(&program, 0xffffffff);
    bar_write(&program, 0x14, 0, 1);
    bar_write(&program, 0x14, 3, 1);
    bar_write(&program, 0x18, 3, 2);
    bar_write(&program, 0x18, 1000, 2);
    bar_write(&program, 0x10, 5, 2);
    bar_write(&program, 0x16, 7, 2);
    bar_write(&program, 0x1c, 1, 2);
    bar_write(&program, 0x16, 0, 2);
    bar_write(&program, 0x20, 0xfffff000, 8);
    bar_write(&program, 0x1c, 1, 2);
    bar_read(&program, 0x14, 1);
    config_write(&program, 1, 0x74 + 8, 0x14, 4); /* PCI_CFG window: device_status */
    config_write(&program, 1, 0x74 + 12, 1, 4);
    config_write(&program, 1, 0x74 + 16, 1, 1);
    config_read(&program, 1, 0x74 + 16, 4);
    config_write(&program, 1, 0x10, 0xd0000000, 4);
    bar_read(&program, 0x12, 2);
    config_write(&program, 1, 0x04, 0, 2);
    bar_read(&program, 0x12, 2);
    failed |= write_seed("virtio_pci", "hostile-driver", program.bytes, program.length);
    return failed;
}


/* --- ZBI: containers built byte by byte, as the format describes them ---- */
struct seed_zbi {
    uint8_t bytes[4 * 4096 + 1024];
    size_t used;
    size_t header_size; /* of the container: 32, or 16 in the seed era */
};

static uint32_t seed_crc32(const uint8_t *data, size_t length, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < length; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    return ~crc;
}

static void seed_zbi_start(struct seed_zbi *zbi, int legacy)
{
    memset(zbi, 0, sizeof(*zbi));
    zbi->header_size = legacy ? ZBI_LEGACY_HEADER_SIZE : sizeof(struct zbi_header);
    seed_put32(zbi->bytes, ZBI_TYPE_CONTAINER);
    seed_put32(zbi->bytes + 8, ZBI_CONTAINER_MAGIC);
    if (!legacy) {
        seed_put32(zbi->bytes + 12, ZBI_FLAG_VERSION);
        seed_put32(zbi->bytes + 24, ZBI_ITEM_MAGIC);
        seed_put32(zbi->bytes + 28, ZBI_ITEM_NO_CRC32);
    }
    zbi->used = zbi->header_size;
}

/* flags: ZBI_FLAG_VERSION for a 32-byte header, plus ZBI_FLAG_CRC32 for a
 * CRC (of the payload in a ZBI; of header and payload in the seed era). */
static void seed_zbi_add(struct seed_zbi *zbi, uint32_t type, uint32_t extra, uint32_t flags,
                         const void *payload, uint32_t length)
{
    uint8_t *at = zbi->bytes + zbi->used;
    size_t header_size = (flags & ZBI_FLAG_VERSION) ? 32 : 16;
    seed_put32(at, type);
    seed_put32(at + 4, length);
    seed_put32(at + 8, extra);
    seed_put32(at + 12, flags);
    memcpy(at + header_size, payload, length);
    if (header_size == 32) {
        seed_put32(at + 24, ZBI_ITEM_MAGIC);
        uint32_t crc = ZBI_ITEM_NO_CRC32;
        if ((flags & ZBI_FLAG_CRC32) && zbi->header_size == 32)
            crc = seed_crc32(payload, length, 0);
        else if (flags & ZBI_FLAG_CRC32)
            crc = seed_crc32(payload, length, seed_crc32(at, 32, 0));
        seed_put32(at + 28, crc);
    }
    zbi->used += header_size + ZBI_ALIGN((size_t)length);
    seed_put32(zbi->bytes + 4, (uint32_t)(zbi->used - zbi->header_size));
}

static void seed_zbi_add_kernel(struct seed_zbi *zbi, uint32_t flags)
{
    /* zbi_kernel, then "1: hlt; jmp 1b", entered at its first byte. */
    uint8_t payload[16 + 16] = {0};
    uint64_t code = ZBI_X64_KERNEL_LOAD_ADDRESS + zbi->header_size +
                    ((flags & ZBI_FLAG_VERSION) ? 32 : 16) + 16;
    seed_put64(payload, code);
    seed_put64(payload + 8, 0x10000);
    memcpy(payload + 16, "\xf4\xeb\xfd", 3);
    seed_zbi_add(zbi, ZBI_TYPE_KERNEL_X64, 0, flags, payload, sizeof(payload));
}

/* A BOOTFS image with etc/motd and bin/init, three pages. */
static uint32_t seed_bootfs(uint8_t *image)
{
    static const char *const names[] = {"bin/init", "etc/motd"};
    static const char *const contents[] = {"\x7f" "ELF", "made by make_seeds\n"};
    memset(image, 0, 3 * ZBI_BOOTFS_PAGE_SIZE);
    seed_put32(image, ZBI_BOOTFS_MAGIC);
    size_t entry = sizeof(struct zbi_bootfs_header);
    for (int i = 0; i < 2; i++) {
        uint32_t name_length = (uint32_t)strlen(names[i]) + 1;
        seed_put32(image + entry, name_length);
        seed_put32(image + entry + 4, (uint32_t)strlen(contents[i]));
        seed_put32(image + entry + 8, (uint32_t)((i + 1) * ZBI_BOOTFS_PAGE_SIZE));
        memcpy(image + entry + 12, names[i], name_length);
        memcpy(image + (i + 1) * ZBI_BOOTFS_PAGE_SIZE, contents[i], strlen(contents[i]));
        entry += ZBI_BOOTFS_DIRENT_SIZE(name_length);
    }
    seed_put32(image + 4, (uint32_t)(entry - sizeof(struct zbi_bootfs_header)));
    return 3 * ZBI_BOOTFS_PAGE_SIZE;
}

static int write_zbi_seeds(void)
{
    static struct seed_zbi zbi;
    static uint8_t bootfs[3 * ZBI_BOOTFS_PAGE_SIZE];
    static const char cmdline[] = "console=ttyS0 kernel.halt-on-panic=true";
    uint8_t e820[2 * 20] = {0};
    seed_put64(e820, 0);
    seed_put64(e820 + 8, 0x9f000);
    seed_put32(e820 + 16, ZBI_E820_RAM);
    seed_put64(e820 + 20, 0x100000);
    seed_put64(e820 + 28, 0x3f00000);
    seed_put32(e820 + 36, ZBI_E820_RAM);
    uint8_t uart[8] = {0};
    seed_put16(uart, 0x3f8);
    seed_put32(uart + 4, 4);
    uint8_t rsdp[8] = {0};
    seed_put64(rsdp, 0xe0000);
    int failed = 0;

    /* A complete ZBI: kernel, command line, bootfs, and what a boot loader adds. */
    uint32_t bootfs_size = seed_bootfs(bootfs);
    seed_zbi_start(&zbi, 0);
    seed_zbi_add_kernel(&zbi, ZBI_FLAG_VERSION);
    seed_zbi_add(&zbi, ZBI_TYPE_CMDLINE, 0, ZBI_FLAG_VERSION, cmdline, sizeof(cmdline));
    seed_zbi_add(&zbi, ZBI_TYPE_STORAGE_BOOTFS, bootfs_size, ZBI_FLAG_VERSION | ZBI_FLAG_CRC32,
                 bootfs, bootfs_size);
    seed_zbi_add(&zbi, ZBI_TYPE_E820_TABLE, 0, ZBI_FLAG_VERSION, e820, sizeof(e820));
    seed_zbi_add(&zbi, ZBI_TYPE_KERNEL_DRIVER, ZBI_KERNEL_DRIVER_I8250_PIO_UART,
                 ZBI_FLAG_VERSION, uart, sizeof(uart));
    failed |= write_seed("zbi", "kernel-bootfs", zbi.bytes, zbi.used);

    /* A ramdisk container: what -r gives. */
    seed_zbi_start(&zbi, 0);
    seed_zbi_add(&zbi, ZBI_TYPE_STORAGE_RAMDISK, 13, ZBI_FLAG_VERSION | ZBI_FLAG_CRC32,
                 "a small disk", 13);
    seed_zbi_add(&zbi, ZBI_TYPE_ACPI_RSDP, 0, ZBI_FLAG_VERSION, rsdp, sizeof(rsdp));
    seed_zbi_add(&zbi, ZBI_TYPE_PLATFORM_ID, 0, ZBI_FLAG_VERSION, "\1\0\0\0\2\0\0\0pc",
                 10);
    failed |= write_seed("zbi", "ramdisk", zbi.bytes, zbi.used);

    /* The seed era: 16-byte headers, and one extended item with its CRC. */
    seed_zbi_start(&zbi, 1);
    seed_zbi_add_kernel(&zbi, 0);
    seed_zbi_add(&zbi, ZBI_TYPE_CMDLINE, 0, 0, cmdline, sizeof(cmdline));
    seed_zbi_add(&zbi, ZBI_TYPE_E820_TABLE, 0, ZBI_FLAG_VERSION | ZBI_FLAG_CRC32, e820,
                 sizeof(e820));
    seed_zbi_add(&zbi, ZBI_TYPE_STORAGE_BOOTFS, bootfs_size, 0, bootfs, bootfs_size);
    failed |= write_seed("zbi", "legacy-kernel", zbi.bytes, zbi.used);
    return failed;
}

/* fuzz_zircon's input: a 16-bit kernel length, the kernel ZBI, then the
 * ramdisk container. */
static int write_zircon_seeds(void)
{
    static struct seed_zbi kernel, ramdisk;
    static uint8_t seed[sizeof(kernel.bytes) + sizeof(ramdisk.bytes) + 2];
    int failed = 0;
    for (int legacy = 0; legacy < 2; legacy++) {
        uint32_t version = legacy ? 0 : ZBI_FLAG_VERSION;
        seed_zbi_start(&kernel, legacy);
        seed_zbi_add_kernel(&kernel, version);
        seed_zbi_add(&kernel, ZBI_TYPE_CMDLINE, 0, version, "from-kernel", 12);
        seed_zbi_start(&ramdisk, legacy);
        seed_zbi_add(&ramdisk, ZBI_TYPE_STORAGE_RAMDISK, 13, version, "a small disk", 13);
        seed_put16(seed, (uint16_t)kernel.used);
        memcpy(seed + 2, kernel.bytes, kernel.used);
        memcpy(seed + 2 + kernel.used, ramdisk.bytes, ramdisk.used);
        failed |= write_seed("zircon", legacy ? "legacy" : "zbi", seed,
                             2 + kernel.used + ramdisk.used);
    }
    return failed;
}

/* Multiboot kernels: a flat image with address fields, and an ELF32 one. */
static int write_multiboot_seeds(void)
{
    static uint8_t image[0x3000];
    int failed = 0;
    memset(image, 0x90, sizeof(image));
    uint32_t flags = 0x10003; /* page-align modules, memory info, address fields */
    seed_put32(image + 0x40, 0x1badb002);
    seed_put32(image + 0x44, flags);
    seed_put32(image + 0x48, 0u - 0x1badb002u - flags);
    seed_put32(image + 0x4c, 0x100040); /* header_addr */
    seed_put32(image + 0x50, 0x100000); /* load_addr */
    seed_put32(image + 0x54, 0x102000); /* load_end_addr */
    seed_put32(image + 0x58, 0x105000); /* bss_end_addr */
    seed_put32(image + 0x5c, 0x100100); /* entry_addr */
    failed |= write_seed("multiboot", "aout", image, sizeof(image));

    memset(image, 0, sizeof(image));
    memcpy(image, "\x7f" "ELF\x01\x01\x01", 7);
    seed_put16(image + 16, 2);        /* ET_EXEC */
    seed_put16(image + 18, 3);        /* EM_386 */
    seed_put32(image + 20, 1);        /* EV_CURRENT */
    seed_put32(image + 24, 0x100020); /* e_entry */
    seed_put32(image + 28, 52);       /* e_phoff */
    seed_put16(image + 40, 52);       /* e_ehsize */
    seed_put16(image + 42, 32);       /* e_phentsize */
    seed_put16(image + 44, 1);        /* e_phnum */
    seed_put32(image + 52, 1);        /* PT_LOAD */
    seed_put32(image + 56, 0x1000);   /* p_offset */
    seed_put32(image + 60, 0x100000); /* p_vaddr */
    seed_put32(image + 64, 0x100000); /* p_paddr */
    seed_put32(image + 68, 0x1000);   /* p_filesz */
    seed_put32(image + 72, 0x3000);   /* p_memsz */
    seed_put32(image + 76, 5);        /* PF_R | PF_X */
    flags = 3;
    seed_put32(image + 0x1000, 0x1badb002);
    seed_put32(image + 0x1004, flags);
    seed_put32(image + 0x1008, 0u - 0x1badb002u - flags);
    image[sizeof(image) - 1] = 0x0d; /* the harness's choice byte: module, command line */
    failed |= write_seed("multiboot", "elf32", image, sizeof(image));
    return failed;
}

/* fuzz_pvpanic's program (the same ops): Linux's pvpanic-pci probe and a
 * panic, then a driver writing wherever it likes. */
static int write_pvpanic_seeds(void)
{
    static struct pci_program program;
    int failed = 0;
    memset(&program, 0, sizeof(program));
    config_read(&program, 1, 0x00, 4);
    config_write(&program, 1, 0x10, 0xffffffff, 4); /* size BAR 0 */
    config_read(&program, 1, 0x10, 4);
    config_write(&program, 1, 0x10, 0xc0000000, 4);
    config_write(&program, 1, 0x04, 0x0002, 2); /* memory decoding */
    bar_read(&program, 0, 1);                   /* the events it takes */
    bar_write(&program, 0, 1, 1);               /* panicked */
    failed |= write_seed("pvpanic", "linux-panic", program.bytes, program.length);

    memset(&program, 0, sizeof(program));
    config_write(&program, 1, 0x04, 0x0002, 2);
    bar_write(&program, 0, 0xfe, 1);
    bar_write(&program, 1, 1, 1);
    bar_write(&program, 0, 0x0302, 2);
    bar_read(&program, 0, 8);
    bar_write(&program, 0x0fff, 0xffffffffffffffffull, 8);
    config_write(&program, 1, 0x04, 0, 2);
    bar_write(&program, 0, 1, 1);
    failed |= write_seed("pvpanic", "bad-writes", program.bytes, program.length);
    return failed;
}

static int write_fw_cfg_seeds(void)
{
    /* 256 MiB, 2 CPUs; then: select (op 0x04: 2 bytes), read N bytes (op
     * 0x01), as a driver reads the signature, the CPU count and the
     * directory; then the wrong widths. */
    static const uint8_t driver[] = {
        15, 1,
        0x04, 0x00, 0x00, 0x01, 3,    /* signature */
        0x04, 0x05, 0x00, 0x01, 1,    /* CPU count */
        0x04, 0x03, 0x00, 0x01, 7,    /* RAM size */
        0x04, 0x19, 0x00, 0x01, 200,  /* directory */
        0x04, 0x21, 0x00, 0x01, 255,  /* etc/e820, past its end */
        0x00, 0x05, 0x01, 0,          /* 1-byte selector write */
        0x12, 9, 0x0a, 0x0b, 0x0c,    /* data write, 4 bytes */
        0x06, 0, 0,                   /* 2-byte data read */
        0x03, 0,                      /* selector read */
        0x04, 0x00, 0x40, 0x01, 3,    /* write channel bit */
        0x04, 0x03, 0x80, 0x01, 3,    /* arch-local */
        /* DMA (op 0x2a): descriptor address, then control, length, target.
         * Select the directory and read 100 bytes to 0x2000; skip 4; read
         * to a target past RAM; a write. */
        0x2a, 0x00, 0x00, 0x10, 0x00, 0x00, 0x19, 0x00, 0x0a, 0, 0, 0, 100,
        0, 0, 0, 0, 0, 0, 0x20, 0x00,
        0x2a, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 4,
        0, 0, 0, 0, 0, 0, 0, 0,
        0x2a, 0x00, 0x00, 0x10, 0x40, 0x00, 0x03, 0x00, 0x0a, 0, 0, 0, 8,
        0, 0, 0, 0, 0xff, 0xff, 0xf0, 0x00,
        0x2a, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x18, 0, 0, 0, 4,
        0, 0, 0, 0, 0, 0, 0x20, 0x00,
    };
    return write_seed("fw_cfg", "driver", driver, sizeof(driver));
}

static int write_test_devices_seeds(void)
{
    /* op (low 3 bits: 0 scratch write, 1 scratch read, 2 IRQ line, 3 flush,
     * 4/5 MMIO write, 6/7 MMIO read; bits 3-4 the width), 16-bit offset,
     * then the value. */
    static const uint8_t unit_test[] = {
        0x10, 0, 0, 0x78, 0x56, 0x34, 0x12, /* outl 0xe0 */
        0x11, 0, 0,                         /* inl */
        0x01, 1, 0,                         /* inb 0xe1 */
        0x08, 2, 0, 0xcd, 0xab,             /* outw 0xe2 */
        0x09, 3, 0,                         /* inw 0xe3: crosses */
        0x02, 10, 0, 1,                     /* IRQ 10 high */
        0x02, 10, 0, 0,                     /* low */
        0x0a, 4, 0, 1, 0,                   /* 2-byte IRQ write */
        0x13, 0, 0, 0x00, 0x30, 0x00, 0x00, /* flush 0x3000 */
        0x13, 0, 0, 0x00, 0xf0, 0xff, 0xff, /* flush outside RAM */
        0x1c, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, /* MMIO write 8 at 0x100 */
        0x16, 0x04, 0x01,                   /* MMIO read 4 at 0x104 */
        0x04, 0xff, 0xff, 0x42,             /* last byte */
        0x1e, 0xfc, 0xff,                   /* read 8 crossing the end */
    };
    return write_seed("test_devices", "unit-test", unit_test, sizeof(unit_test));
}

/* FUSE server requests (see fuzz_fuse_server.c): one control byte, then per
 * request u16 length, u16 reply room, u8 how (0: the harness writes len, one
 * buffer each way), and the request.  Node ids and file handles are what a
 * fresh server gives: 2, 3, ... in lookup order, fh 1, 2, ... */
struct fuse_seed {
    uint8_t bytes[4096];
    size_t used;
    uint64_t unique;
    size_t request; /* where the current request starts */
};

static void fuse_seed_put(struct fuse_seed *seed, const void *data, size_t size)
{
    if (seed->used + size > sizeof(seed->bytes))
        return;
    memcpy(seed->bytes + seed->used, data, size);
    seed->used += size;
}

/* Starts a request to node, its reply room room (how 0). */
static void fuse_seed_begin(struct fuse_seed *seed, uint32_t opcode, uint64_t node,
                            uint16_t room)
{
    uint8_t record[5] = {0, 0, (uint8_t)room, (uint8_t)(room >> 8), 0};
    fuse_seed_put(seed, record, sizeof(record));
    seed->request = seed->used;
    struct fuse_in_header header = {.opcode = opcode, .unique = ++seed->unique, .nodeid = node};
    fuse_seed_put(seed, &header, sizeof(header));
}

static void fuse_seed_string(struct fuse_seed *seed, const char *string)
{
    fuse_seed_put(seed, string, strlen(string) + 1);
}

/* Ends the request: its record length and header len. */
static void fuse_seed_end(struct fuse_seed *seed)
{
    uint32_t length = (uint32_t)(seed->used - seed->request);
    seed->bytes[seed->request - 5] = (uint8_t)length;
    seed->bytes[seed->request - 4] = (uint8_t)(length >> 8);
    memcpy(seed->bytes + seed->request, &length, 4);
}

static void fuse_seed_start(struct fuse_seed *seed, uint8_t control)
{
    memset(seed, 0, sizeof(*seed));
    seed->bytes[0] = control;
    seed->used = 1;
}

static void fuse_seed_lookup(struct fuse_seed *seed, uint64_t parent, const char *name)
{
    fuse_seed_begin(seed, FUSE_LOOKUP, parent, 4096);
    fuse_seed_string(seed, name);
    fuse_seed_end(seed);
}

static void fuse_seed_fh(struct fuse_seed *seed, uint32_t opcode, uint64_t node, uint64_t fh,
                         uint32_t size, uint16_t room)
{
    fuse_seed_begin(seed, opcode, node, room);
    struct fuse_read_in in = {.fh = fh, .size = size}; /* READ, READDIR; RELEASE's fh too */
    fuse_seed_put(seed, &in, opcode == FUSE_RELEASE || opcode == FUSE_RELEASEDIR
                                 ? sizeof(struct fuse_release_in)
                                 : sizeof(in));
    fuse_seed_end(seed);
}

static void fuse_seed_open(struct fuse_seed *seed, uint32_t opcode, uint64_t node,
                           uint32_t flags)
{
    fuse_seed_begin(seed, opcode, node, 4096);
    struct fuse_open_in in = {.flags = flags};
    fuse_seed_put(seed, &in, sizeof(in));
    fuse_seed_end(seed);
}

static int write_fuse_server_seed(const char *name, const struct fuse_seed *seed)
{
    return write_seed("fuse_server", name, seed->bytes, seed->used);
}

static int write_fuse_server_seeds(void)
{
    static struct fuse_seed seed;
    int failed = 0;

    /* INIT as Linux 6.1 sends it (control bit 1: the harness sends none). */
    fuse_seed_start(&seed, 2);
    fuse_seed_begin(&seed, FUSE_INIT, 0, 4096);
    struct fuse_init_in init = {.major = 7, .minor = 38, .max_readahead = 131072,
                                .flags = 0xfffffffbu, .flags2 = 0x3};
    fuse_seed_put(&seed, &init, sizeof(init));
    fuse_seed_end(&seed);
    fuse_seed_lookup(&seed, 1, "file");
    failed |= write_fuse_server_seed("init", &seed);

    /* LOOKUP, GETATTR, OPEN, READ, FLUSH, RELEASE: cat file. */
    fuse_seed_start(&seed, 0);
    fuse_seed_lookup(&seed, 1, "file");
    fuse_seed_begin(&seed, FUSE_GETATTR, 2, 4096);
    struct fuse_getattr_in getattr = {0};
    fuse_seed_put(&seed, &getattr, sizeof(getattr));
    fuse_seed_end(&seed);
    fuse_seed_open(&seed, FUSE_OPEN, 2, O_RDONLY);
    fuse_seed_fh(&seed, FUSE_READ, 2, 1, 4096, 4096 + 16);
    fuse_seed_begin(&seed, FUSE_FLUSH, 2, 64);
    struct fuse_flush_in flush = {.fh = 1};
    fuse_seed_put(&seed, &flush, sizeof(flush));
    fuse_seed_end(&seed);
    fuse_seed_fh(&seed, FUSE_RELEASE, 2, 1, 0, 64);
    fuse_seed_begin(&seed, FUSE_FORGET, 2, 0);
    struct fuse_forget_in forget = {1};
    fuse_seed_put(&seed, &forget, sizeof(forget));
    fuse_seed_end(&seed);
    failed |= write_fuse_server_seed("lookup-getattr-open-read", &seed);
    seed.bytes[0] = 1; /* the same on a read-only share */
    failed |= write_fuse_server_seed("lookup-getattr-open-read-read-only", &seed);

    /* CREATE, WRITE, SETATTR (truncate), FSYNC, RELEASE: echo > new. */
    fuse_seed_start(&seed, 0);
    fuse_seed_begin(&seed, FUSE_CREATE, 1, 4096);
    struct fuse_create_in create = {.flags = O_WRONLY | O_TRUNC, .mode = S_IFREG | 0644,
                                    .umask = 022};
    fuse_seed_put(&seed, &create, sizeof(create));
    fuse_seed_string(&seed, "new");
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_WRITE, 2, 64);
    struct fuse_write_in write_in = {.fh = 1, .size = 12};
    fuse_seed_put(&seed, &write_in, sizeof(write_in));
    fuse_seed_put(&seed, "written data", 12);
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_SETATTR, 2, 4096);
    struct fuse_setattr_in setattr = {.valid = FATTR_SIZE | FATTR_FH, .fh = 1, .size = 4};
    fuse_seed_put(&seed, &setattr, sizeof(setattr));
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_FSYNC, 2, 64);
    struct fuse_fsync_in fsync_in = {.fh = 1};
    fuse_seed_put(&seed, &fsync_in, sizeof(fsync_in));
    fuse_seed_end(&seed);
    fuse_seed_fh(&seed, FUSE_RELEASE, 2, 1, 0, 64);
    failed |= write_fuse_server_seed("create-write", &seed);

    /* OPENDIR, READDIRPLUS, READDIR from the start, RELEASEDIR: ls -l. */
    fuse_seed_start(&seed, 0);
    fuse_seed_open(&seed, FUSE_OPENDIR, 1, O_RDONLY | O_DIRECTORY);
    fuse_seed_fh(&seed, FUSE_READDIRPLUS, 1, 1, 4096, 4096 + 16);
    fuse_seed_fh(&seed, FUSE_READDIR, 1, 1, 4096, 4096 + 16);
    fuse_seed_fh(&seed, FUSE_RELEASEDIR, 1, 1, 0, 64);
    failed |= write_fuse_server_seed("readdirplus", &seed);

    /* RENAME into dir, RENAME2 exchanging, MKDIR, SYMLINK, LINK, UNLINK, RMDIR. */
    fuse_seed_start(&seed, 0);
    fuse_seed_lookup(&seed, 1, "dir"); /* node 2 */
    fuse_seed_begin(&seed, FUSE_RENAME, 1, 64);
    struct fuse_rename_in rename_in = {2};
    fuse_seed_put(&seed, &rename_in, sizeof(rename_in));
    fuse_seed_string(&seed, "file");
    fuse_seed_string(&seed, "moved");
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_RENAME2, 2, 64);
    struct fuse_rename2_in rename2 = {.newdir = 2, .flags = 2 /* RENAME_EXCHANGE */};
    fuse_seed_put(&seed, &rename2, sizeof(rename2));
    fuse_seed_string(&seed, "moved");
    fuse_seed_string(&seed, "inner");
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_MKDIR, 1, 4096); /* node 3 */
    struct fuse_mkdir_in mkdir_in = {.mode = 0755, .umask = 022};
    fuse_seed_put(&seed, &mkdir_in, sizeof(mkdir_in));
    fuse_seed_string(&seed, "made");
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_SYMLINK, 3, 4096); /* node 4 */
    fuse_seed_string(&seed, "up");
    fuse_seed_string(&seed, "../..");
    fuse_seed_end(&seed);
    fuse_seed_lookup(&seed, 2, "moved"); /* node 5 */
    fuse_seed_begin(&seed, FUSE_LINK, 3, 4096);
    struct fuse_link_in link_in = {5};
    fuse_seed_put(&seed, &link_in, sizeof(link_in));
    fuse_seed_string(&seed, "hard");
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_UNLINK, 3, 64);
    fuse_seed_string(&seed, "up");
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_RMDIR, 2, 64);
    fuse_seed_string(&seed, "sub");
    fuse_seed_end(&seed);
    failed |= write_fuse_server_seed("rename", &seed);

    /* The escapes: the symlink out, a name that climbs, READLINK, xattrs, STATFS. */
    fuse_seed_start(&seed, 0);
    fuse_seed_lookup(&seed, 1, "escape"); /* node 2 */
    fuse_seed_open(&seed, FUSE_OPEN, 2, O_RDONLY);
    fuse_seed_begin(&seed, FUSE_READLINK, 2, 4096);
    fuse_seed_end(&seed);
    fuse_seed_lookup(&seed, 1, "..");
    fuse_seed_lookup(&seed, 1, "root"); /* node 3 */
    fuse_seed_lookup(&seed, 3, "etc");
    fuse_seed_begin(&seed, FUSE_GETXATTR, 1, 4096);
    struct fuse_getxattr_in getxattr = {.size = 64};
    fuse_seed_put(&seed, &getxattr, sizeof(getxattr));
    fuse_seed_string(&seed, "user.tag");
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_SETXATTR, 1, 64);
    uint32_t setxattr[2] = {3, 0};
    fuse_seed_put(&seed, setxattr, sizeof(setxattr));
    fuse_seed_string(&seed, "user.new");
    fuse_seed_put(&seed, "abc", 3);
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_LISTXATTR, 1, 4096);
    fuse_seed_put(&seed, &getxattr, sizeof(getxattr));
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_STATFS, 1, 4096);
    fuse_seed_end(&seed);
    fuse_seed_begin(&seed, FUSE_BATCH_FORGET, 0, 0);
    struct fuse_batch_forget_in batch = {.count = 3};
    fuse_seed_put(&seed, &batch, sizeof(batch));
    struct fuse_forget_one ones[2] = {{2, 1}, {3, 1}};
    fuse_seed_put(&seed, ones, sizeof(ones));
    fuse_seed_end(&seed);
    failed |= write_fuse_server_seed("escapes", &seed);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0777) && errno != EEXIST) {
        perror(root);
        return 1;
    }
    int failed = write_bzimage_seeds() | write_pvh_seeds() | write_options_seeds() |
                 write_uart_seeds() | write_rtc_seeds() | write_virtq_seeds() | write_virtio_blk_seeds() |
                 write_virtio_net_seeds() |
                 write_virtio_gpu_seeds() | write_virtio_pci_seeds() | write_zbi_seeds() |
                 write_zircon_seeds() | write_multiboot_seeds() | write_pvpanic_seeds() |
                 write_fw_cfg_seeds() | write_test_devices_seeds() | write_net_config_seeds() |
                 write_net_slirp_seeds() | write_gdb_seeds() | write_listen_address_seeds() |
                 write_qmp_seeds() | write_fuse_server_seeds();
    return failed ? 1 : 0;
}
