/* The user network's own code under a hostile guest: frames of any size and
 * content, in one piece or two, into the tx ring, with the device refusing
 * frames and calling rx_ready at any moment.  The back end is never started:
 * net_slirp_poll_once runs its loop's rounds here, so every run is the same.
 * restrict=on and no forwarding rules: slirp opens no host socket, so
 * nothing the fuzzer makes up leaves the process.
 *
 * Input: records of one op byte, then for a frame a 16-bit little-endian
 * length (up to 2047: larger than a slot, too) and its bytes, and for a
 * split frame one more byte, where to split.  What is checked is ours: the
 * EAGAIN rule, tx_ready owed, the drop counters, and a refusing device
 * being offered one frame until it says rx_ready. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/net_config.h"
#include "net/slirp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { OP_FRAME, OP_SPLIT_FRAME, OP_REFUSE, OP_RX_READY, OP_ROUND, OP_COUNT };

struct fake_device {
    bool refuse;
    int offers_refused; /* since the last rx_ready */
    int tx_ready_calls;
};

static bool device_receive(void *opaque, const struct iovec *iov, int count)
{
    struct fake_device *device = opaque;
    size_t length = 0;
    for (int i = 0; i < count; i++)
        length += iov[i].iov_len;
    if (length > NET_SLIRP_FRAME_MAX)
        abort();
    if (device->refuse && ++device->offers_refused > 1)
        abort(); /* offered again before rx_ready */
    return !device->refuse;
}

static void device_tx_ready(void *opaque)
{
    ((struct fake_device *)opaque)->tx_ready_calls++;
}

struct run {
    struct net_backend *backend;
    struct fake_device device;
    int queued;  /* frames taken since the last round */
    bool owed;   /* send said EAGAIN since the last round */
    uint64_t too_big;
    uint64_t fragments;
};

/* The back end's rule: IPv4 with MF or a fragment offset never reaches libslirp. */
static bool is_fragment(const uint8_t *bytes, size_t length)
{
    return length >= 22 && bytes[12] == 0x08 && bytes[13] == 0x00 &&
           ((bytes[20] << 8 | bytes[21]) & 0x3fff) != 0;
}

static void send_frame(struct run *run, const uint8_t *bytes, size_t length, size_t split)
{
    struct iovec iov[2] = {{(void *)bytes, split}, {(void *)(bytes + split), length - split}};
    int result = run->backend->ops->send(run->backend, split ? iov : iov + 1, split ? 2 : 1);
    if (length > NET_SLIRP_FRAME_MAX) {
        if (result != 0)
            abort(); /* dropped, but taken */
        run->too_big++;
    } else if (run->queued == NET_SLIRP_TX_SLOTS) {
        if (result != -1 || errno != EAGAIN)
            abort();
        run->owed = true;
    } else if (result != 0) {
        abort();
    } else if (is_fragment(bytes, length)) {
        run->fragments++; /* dropped before libslirp, not queued */
    } else {
        run->queued++;
    }
}

static void round_trip(struct run *run)
{
    int before = run->device.tx_ready_calls;
    net_slirp_poll_once(run->backend);
    if (run->owed && run->device.tx_ready_calls == before)
        abort(); /* EAGAIN, then room, and no tx_ready */
    run->owed = false;
    run->queued = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct net_config config;
    static bool parsed;
    struct error error;
    if (!parsed && net_config_parse("user,restrict=on", &config, &error))
        abort();
    parsed = true;
    struct run run = {0};
    if (net_slirp_create(&run.backend, &config, &error))
        abort();
    run.backend->port = (struct net_port){.receive = device_receive, .device = &run.device};
    run.backend->tx_ready = device_tx_ready;

    size_t at = 0;
    while (at < size) {
        uint8_t op = data[at++] % OP_COUNT;
        if (op == OP_FRAME || op == OP_SPLIT_FRAME) {
            size_t length = 0, split = 0;
            if (at + 2 <= size)
                length = (size_t)(data[at] | data[at + 1] << 8) & 2047;
            at += 2;
            if (op == OP_SPLIT_FRAME && at < size)
                split = data[at++];
            if (at > size)
                at = size;
            if (length > size - at)
                length = size - at;
            if (split > length)
                split = length;
            send_frame(&run, data + at, length, split);
            at += length;
        } else if (op == OP_REFUSE) {
            run.device.refuse = !run.device.refuse;
        } else if (op == OP_RX_READY) {
            run.device.offers_refused = 0;
            run.backend->ops->rx_ready(run.backend);
        } else {
            round_trip(&run);
        }
    }
    /* Drain: the device takes everything now. */
    run.device.refuse = false;
    run.device.offers_refused = 0;
    run.backend->ops->rx_ready(run.backend);
    round_trip(&run);

    struct net_slirp_counters counters;
    net_slirp_counters(run.backend, &counters);
    if (counters.tx_dropped != run.too_big + run.fragments ||
        counters.tx_fragments != run.fragments)
        abort();
    run.backend->ops->destroy(run.backend);
    return 0;
}
