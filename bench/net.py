#!/usr/bin/env python3
"""Network benchmark: guest against QEMU (q35, virtio-net-pci) on the same
kernel, initrd, root disk (read-only, with iperf3) and back end, on this
machine's /dev/kvm, N rounds each.

Each boot runs an iperf3 server and an echo server (busybox nc -e cat) in
the guest; from the host it measures TCP throughput host->guest and
guest->host (iperf3 -R) and the request/response rate of one byte each way
on one TCP connection (TCP_RR).  Back ends: user (libslirp in guest, slirp in
QEMU, both restrict=on, reached through hostfwd on 127.0.0.1) and tap (a tap
in this host with a link-local address; vhost-net on for both VMMs).

Prints medians of the rounds and the guest/QEMU ratio of each figure.
"""
import argparse
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import time

TAP = "gbench0"
TAP_HOST, TAP_GUEST = "169.254.88.1", "169.254.88.2"
IPERF_PORT, ECHO_PORT = 5201, 7
FORWARDED_IPERF, FORWARDED_ECHO = 15201, 15007


def guest_script(backend):
    if backend == "user":
        up = "net-up eth0"
    else:
        # Static, then wait until the kernel has the link up (as net-up does).
        up = (f"ip addr add {TAP_GUEST}/24 dev eth0; ip link set eth0 up; for i in $(seq 50); do "
              "[ $(cat /sys/class/net/eth0/operstate) = up ] && break; usleep 100000; done")
    return (f"{up}; iperf3 -s >/dev/null 2>&1 & nc -ll -p {ECHO_PORT} -e cat & "
            "sleep 1; echo bench-ready; sleep 100000")


def command(vmm, backend, args):
    cmdline = f'root=/dev/vda ro initcmd="{guest_script(backend)}"'
    if vmm == "guest":
        if backend == "user":
            net = (f"user,restrict=on,hostfwd=tcp:127.0.0.1:{FORWARDED_IPERF}-:{IPERF_PORT},"
                   f"hostfwd=tcp:127.0.0.1:{FORWARDED_ECHO}-:{ECHO_PORT}")
        else:
            net = f"tap,ifname={TAP},vhost=on"
        return [args.guest, "--memory", args.memory, "--net", net, "-r", args.initrd,
                "-b", args.rootfs + ",ro", "-c", cmdline, args.kernel]
    if backend == "user":
        netdev = (f"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{FORWARDED_IPERF}-:{IPERF_PORT},"
                  f"hostfwd=tcp:127.0.0.1:{FORWARDED_ECHO}-:{ECHO_PORT}")
    else:
        netdev = f"tap,id=n0,ifname={TAP},script=no,downscript=no,vhost=on"
    return ["qemu-system-x86_64", "-enable-kvm", "-M", "q35", "-cpu", "host", "-m", args.memory,
            "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
            "-drive", f"file={args.rootfs},if=virtio,format=raw,readonly=on",
            "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0", "-kernel", args.kernel,
            "-initrd", args.initrd, "-append",
            f"console=ttyS0,115200 io_delay=none panic=-1 {cmdline}"]


def peer(backend):
    """Where the host reaches the guest's iperf3 and echo servers."""
    if backend == "user":
        return ("127.0.0.1", FORWARDED_IPERF), ("127.0.0.1", FORWARDED_ECHO)
    return (TAP_GUEST, IPERF_PORT), (TAP_GUEST, ECHO_PORT)


def iperf(address, seconds, reverse):
    run = ["iperf3", "-c", address[0], "-p", str(address[1]), "-t", str(seconds), "-J"]
    if reverse:
        run.append("-R")
    result = subprocess.run(run, capture_output=True, timeout=seconds + 60)
    report = json.loads(result.stdout or b"{}")
    if "error" in report or "end" not in report:
        raise RuntimeError("iperf3: " + report.get("error", result.stderr.decode()[-200:]))
    return report["end"]["sum_received"]["bits_per_second"] / 1e6


def tcp_rr(address, transactions):
    with socket.create_connection(address, timeout=30) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sendall(b"x")  # the first exchange warms the path up
        connection.recv(1)
        started = time.monotonic()
        for _ in range(transactions):
            connection.sendall(b"x")
            if not connection.recv(1):
                raise RuntimeError("echo server closed the connection")
        return transactions / (time.monotonic() - started)


def tap(create):
    subprocess.run(["ip", "link", "del", TAP], capture_output=True)
    if create:
        for step in (["ip", "tuntap", "add", "dev", TAP, "mode", "tap"],
                     ["ip", "addr", "add", f"{TAP_HOST}/24", "dev", TAP],
                     ["ip", "link", "set", TAP, "up"]):
            subprocess.run(step, check=True)


def measure(vmm, backend, args):
    if backend == "tap":
        tap(True)
    # Unbuffered, so that select() below sees every byte not yet read.
    process = subprocess.Popen(command(vmm, backend, args), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        deadline = time.monotonic() + args.boot_timeout
        seen = b""
        # The whole line: the kernel's echo of its command line holds the word too, long
        # before the guest is up.
        while True:
            # A guest that hangs prints nothing: wait for output no longer than the deadline.
            left = deadline - time.monotonic()
            ready = select.select([process.stdout], [], [], max(left, 0))[0] if left > 0 else []
            line = process.stdout.readline() if ready else b""
            if not line or time.monotonic() > deadline:
                raise RuntimeError(f"{vmm} ({backend}) did not get ready: "
                                   + seen[-300:].decode(errors="replace"))
            if line.strip() == b"bench-ready":
                break
            seen += line
        iperf_address, echo_address = peer(backend)
        time.sleep(1)
        return {
            "host_to_guest_mbps": iperf(iperf_address, args.seconds, reverse=False),
            "guest_to_host_mbps": iperf(iperf_address, args.seconds, reverse=True),
            "tcp_rr_per_s": tcp_rr(echo_address, args.transactions),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if backend == "tap":
            tap(False)


FIGURES = (("host_to_guest_mbps", "host -> guest TCP", "Mbit/s"),
           ("guest_to_host_mbps", "guest -> host TCP", "Mbit/s"),
           ("tcp_rr_per_s", "TCP_RR (1 byte)", "trans/s"))


def report(rounds, backends):
    print(f"{'back end':<9} {'figure':<19} {'guest':>10} {'QEMU':>10} {'guest/QEMU':>11}  "
          f"({len(rounds)} rounds, medians)")
    for backend in backends:
        for key, name, unit in FIGURES:
            values = {vmm: [r[backend][vmm][key] for r in rounds if backend in r]
                      for vmm in ("guest", "qemu")}
            guest, qemu = (statistics.median(values[v]) for v in ("guest", "qemu"))
            print(f"{backend:<9} {name:<19} {guest:>10.1f} {qemu:>10.1f} {guest / qemu:>10.2f}x"
                  f"  {unit}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--initrd", required=True)
    parser.add_argument("--rootfs", required=True, help="ext2 root with iperf3 (read-only)")
    parser.add_argument("--guest", default="build/guest")
    parser.add_argument("--memory", default="512M")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="per iperf3 run")
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--boot-timeout", type=int, default=300)
    parser.add_argument("--backends", default="user,tap")
    parser.add_argument("--json-line", action="store_true",
                        help="print each round as a BENCH-JSON line (for bench/net)")
    parser.add_argument("--report", nargs="*", help="print the table of these JSON files")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if args.report is not None:
        report([json.load(open(path)) for path in args.report], backends)
        return
    rounds = []
    for number in range(1, args.runs + 1):
        result = {}
        for backend in backends:
            result[backend] = {}
            # Interleaved, so drift in a noisy host hits both VMMs alike.
            for vmm in ("guest", "qemu"):
                figures = measure(vmm, backend, args)
                result[backend][vmm] = figures
                print(f"round {number} {backend} {vmm}: " +
                      ", ".join(f"{k} {v:.1f}" for k, v in figures.items()), flush=True)
        rounds.append(result)
        if args.json_line:
            print("BENCH-JSON " + json.dumps(result), flush=True)
    if not args.json_line:
        report(rounds, backends)


if __name__ == "__main__":
    sys.exit(main())
