#!/usr/bin/env python3
"""Boot benchmark: guest against QEMU (microvm and q35) on the same kernel,
initrd and command line, on this machine's /dev/kvm, N runs each.

For every run it measures the wall time from launch to the marker line that
the initrd's /init prints ("guest-init: ready") and to the VMM's exit (the
guest powers off right after the marker), and the VMM's RSS overhead: its
resident memory minus the resident part of the guest-RAM mapping, sampled
while it runs, peak taken.  Prints medians, min/max and guest/QEMU ratios.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

MARKER = b"guest-init: ready"


def rss_overhead_kib(pid, guest_memory_bytes):
    """Total RSS minus the RSS of mappings at least as big as guest memory."""
    total = guest = 0
    try:
        with open(f"/proc/{pid}/smaps", "rb") as smaps:
            mapping_size = 0
            for line in smaps:
                first = line.split(None, 1)[0] if line.strip() else b""
                if not first.endswith(b":") and b"-" in first:  # a mapping's header line
                    start, end = first.split(b"-")
                    mapping_size = int(end, 16) - int(start, 16)
                elif line.startswith(b"Rss:"):
                    kib = int(line.split()[1])
                    total += kib
                    if mapping_size >= guest_memory_bytes:
                        guest += kib
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return total - guest


def run_once(command, guest_memory_bytes, timeout):
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            value = rss_overhead_kib(process.pid, guest_memory_bytes)
            if value is not None and value > peak[0]:
                peak[0] = value
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # A VMM that hangs silently must not hang the benchmark.
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    marker_time = None
    output = b""
    for line in process.stdout:
        output += line
        if marker_time is None and MARKER in line:
            marker_time = time.monotonic() - started
    status = process.wait()
    exit_time = time.monotonic() - started
    killer.cancel()
    done.set()
    sampler.join()
    error = process.stderr.read().decode(errors="replace")
    if marker_time is None or status != 0:
        tail = output[-600:].decode(errors="replace")
        if exit_time >= timeout:
            output += f"\n(killed after {timeout:.0f} s)".encode()
        raise RuntimeError(f"{command[0]} run failed (status {status}, marker "
                           f"{'seen' if marker_time else 'not seen'}):\n{tail}\n{error}")
    return marker_time, exit_time, peak[0]


def summarize(values):
    return statistics.median(values), min(values), max(values)


def report(results, failures, runs, memory, kernel, initrd, cmdline):
    print()
    print(f"boot benchmark: {runs} runs each, {memory} guest memory, 1 vCPU")
    print(f"kernel {kernel}\ninitrd {initrd}\ncmdline {cmdline}")
    header = f"{'VMM':14s} {'to marker (s) med [min-max]':>30s} {'to exit (s) med [min-max]':>30s} " \
             f"{'RSS overhead (MiB) med [min-max]':>34s}"
    print(header)
    if not all(results.values()):
        print("bench/boot: a VMM never booted; no table")
        return 1
    medians = {}
    for name, rows in results.items():
        marker = summarize([r[0] for r in rows])
        exit_time = summarize([r[1] for r in rows])
        rss = summarize([r[2] / 1024 for r in rows])
        medians[name] = (marker[0], exit_time[0], rss[0])
        print(f"{name:14s} {marker[0]:12.3f} [{marker[1]:.3f}-{marker[2]:.3f}]"
              f" {exit_time[0]:14.3f} [{exit_time[1]:.3f}-{exit_time[2]:.3f}]"
              f" {rss[0]:16.1f} [{rss[1]:.1f}-{rss[2]:.1f}]  ({len(rows)} runs)")
    print()
    for peer in ("qemu-microvm", "qemu-q35"):
        g, q = medians["guest"], medians[peer]
        print(f"guest/{peer}: to marker {g[0] / q[0]:.2f}x, to exit {g[1] / q[1]:.2f}x, "
              f"RSS overhead {g[2] / q[2]:.2f}x")
    print("targets: boot <= 0.70x qemu-microvm; RSS overhead <= 0.20x qemu's")
    for name, count in failures.items():
        if count:
            print(f"{name}: {count} runs FAILED (see above)")
    return 1 if any(failures.values()) else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kernel")
    parser.add_argument("--initrd")
    parser.add_argument("--guest", default="build/guest")
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    parser.add_argument("--memory", default="1G")
    parser.add_argument("--extra-cmdline", default="")
    parser.add_argument("--timeout", type=float, default=150)
    parser.add_argument("--json-line", action="store_true",
                        help="print the raw results as one line 'BENCH-JSON {...}' instead of a table")
    parser.add_argument("--report", nargs="+", metavar="FILE",
                        help="merge the JSON results in FILEs (from --json-line) and print the table")
    args = parser.parse_args()

    user = f'initcmd=true {args.extra_cmdline}'.strip()
    # The exact command line guest composes, given to QEMU too.
    cmdline = f"console=ttyS0,115200 io_delay=none panic=-1 {user}"
    if args.report:
        results, failures = {}, {}
        for path in args.report:
            with open(path) as file:
                part = json.load(file)
            for name, rows in part["results"].items():
                results.setdefault(name, []).extend(rows)
            for name, count in part["failures"].items():
                failures[name] = failures.get(name, 0) + count
        runs = max(len(rows) + failures.get(name, 0) for name, rows in results.items())
        return report(results, failures, runs, args.memory, args.kernel, args.initrd, cmdline)

    if not args.kernel or not args.initrd:
        parser.error("--kernel and --initrd are needed")
    memory_bytes = {"M": 1 << 20, "G": 1 << 30}[args.memory[-1]] * int(args.memory[:-1])
    qemu_common = [args.qemu, "-accel", "kvm", "-cpu", "host", "-m", args.memory, "-smp", "1",
                   "-nodefaults", "-no-user-config", "-nographic", "-serial", "stdio",
                   "-kernel", args.kernel, "-initrd", args.initrd, "-append", cmdline]
    vmms = {
        "guest": [args.guest, "--memory", args.memory, "-r", args.initrd, "-c", user,
                  args.kernel],
        # rtc=on: without an RTC the guest's rtc_cmos probe costs QEMU seconds;
        # compare against microvm at its best.
        "qemu-microvm": qemu_common[:1] + ["-M", "microvm,rtc=on"] + qemu_common[1:],
        "qemu-q35": qemu_common[:1] + ["-M", "q35"] + qemu_common[1:],
    }
    results = {name: [] for name in vmms}
    failures = {name: 0 for name in vmms}
    # Interleave the VMMs so drift in the machine's load hits all alike.
    for run in range(args.runs):
        for name, command in vmms.items():
            try:
                results[name].append(run_once(command, memory_bytes, args.timeout))
            except RuntimeError as error:
                failures[name] += 1
                print(f"  run {run + 1} {name:13s} FAILED: {error}", flush=True)
                continue
            marker, exit_time, rss = results[name][-1]
            print(f"  run {run + 1} {name:13s} marker {marker:7.3f} s  exit {exit_time:7.3f} s  "
                  f"RSS overhead {rss / 1024:7.1f} MiB", flush=True)
    if args.json_line:
        print("BENCH-JSON " + json.dumps({"results": results, "failures": failures}), flush=True)
        return 0
    return report(results, failures, args.runs, args.memory, args.kernel, args.initrd, cmdline)


if __name__ == "__main__":
    sys.exit(main())
