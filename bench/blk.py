#!/usr/bin/env python3
"""Block benchmark: guest's virtio-blk against QEMU's virtio-blk-pci, on the
same kernel (built from linux-source, virtio built in), the same root image
and the same test disk file, on this machine's /dev/kvm.

Inside the guest, fio (from Debian's package, in the root image) runs four
jobs on the raw test disk /dev/vdb with O_DIRECT and libaio: sequential read
and write in 1 MiB blocks (MiB/s), random read and write in 4 KiB blocks
(IOPS).  Each VMM is run N times, alternating; the table has medians, min/max
and the ratio guest/QEMU (higher is better for guest).
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

JOBS = [  # name, fio rw, block size, iodepth, reported metric
    ("seq-read-1M", "read", "1M", 8, "MiB/s"),
    ("seq-write-1M", "write", "1M", 8, "MiB/s"),
    ("rand-read-4K", "randread", "4k", 32, "IOPS"),
    ("rand-write-4K", "randwrite", "4k", 32, "IOPS"),
]


def guest_script(seconds):
    """The shell command the guest runs: one terse fio line per job."""
    lines = []
    for name, rw, block_size, depth, _ in JOBS:
        lines.append(
            f"fio --name={name} --filename=/dev/vdb --direct=1 --ioengine=libaio "
            f"--rw={rw} --bs={block_size} --iodepth={depth} --runtime={seconds} "
            f"--ramp_time=1 --time_based --size=256M --output-format=terse "
            f"--terse-version=3 | sed s/^/FIO:/")
    return "; ".join(lines)


def parse_terse(output):
    """{job name: (read KiB/s, read IOPS, write KiB/s, write IOPS)} from terse v3 lines."""
    results = {}
    for line in output.splitlines():
        match = re.search(r"FIO:(3;.*)", line)
        if not match:
            continue
        fields = match.group(1).split(";")
        # terse v3: 3 jobname (1-based), 7/8 read bw KiB/s and IOPS, 48/49 write.
        results[fields[2]] = (float(fields[6]), float(fields[7]), float(fields[47]),
                              float(fields[48]))
    return results


def metric(name, values):
    for job_name, rw, _, _, unit in JOBS:
        if job_name == name:
            read_bw, read_iops, write_bw, write_iops = values
            writing = "write" in rw
            if unit == "MiB/s":
                return (write_bw if writing else read_bw) / 1024
            return write_iops if writing else read_iops
    raise KeyError(name)


def run_vmm(name, command, timeout):
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"  {name}: timed out after {timeout} s", flush=True)
        return None
    output = result.stdout.decode(errors="replace")
    results = parse_terse(output)
    if not results:
        print(f"  {name}: exit {result.returncode}, no fio results; last output:\n" +
              "\n".join(output.splitlines()[-15:]), flush=True)
        return None
    if len(results) != len(JOBS):
        # QEMU in the nested host sometimes loses the end of its serial
        # output; the jobs that did report still count.
        print(f"  {name}: exit {result.returncode}, fio results for {sorted(results)} only",
              flush=True)
    return {job: metric(job, values) for job, values in results.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--rootfs", required=True)
    parser.add_argument("--guest", default="build/guest")
    parser.add_argument("--qemu", default="qemu-system-x86_64")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="fio runtime per job")
    parser.add_argument("--disk-mib", type=int, default=512)
    parser.add_argument("--json-line", action="store_true",
                        help="also print the samples as one BENCH-JSON line (for bench/blk)")
    parser.add_argument("--report", nargs="+", metavar="FILE",
                        help="merge the samples in FILEs (from --json-line) and print the table")
    args = parser.parse_args()
    if args.report:
        samples = {}
        for path in args.report:
            with open(path) as file:
                for vmm, jobs in json.load(file).items():
                    for job, values in jobs.items():
                        samples.setdefault(vmm, {}).setdefault(job, []).extend(values)
        runs = max(len(values) for jobs in samples.values() for values in jobs.values())
        return report(samples, runs, args.seconds)

    work = tempfile.mkdtemp(prefix="bench-blk.")
    disk = os.path.join(work, "test.img")
    # A fully written file: reads hit data, not holes.
    subprocess.run(["dd", "if=/dev/urandom", f"of={disk}", "bs=1M", f"count={args.disk_mib}",
                    "status=none"], check=True)
    cmdline = f'root=/dev/vda ro init=/init initcmd="{guest_script(args.seconds)}"'
    if len(cmdline) > 2000:
        sys.exit("bench/blk: guest command line too long")
    commands = {
        "guest": [args.guest, "--memory", "1G", "-b", f"{args.rootfs},ro", "-b", disk,
                  "-c", cmdline, args.kernel],
        "qemu": [args.qemu, "-accel", "kvm", "-cpu", "host", "-M", "q35", "-m", "1G",
                 "-smp", "1", "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio",
                 "-kernel", args.kernel, "-append", "console=ttyS0 " + cmdline,
                 "-drive", f"file={args.rootfs},if=none,id=root,format=raw,readonly=on",
                 "-device", "virtio-blk-pci,drive=root",
                 "-drive", f"file={disk},if=none,id=test,format=raw",
                 "-device", "virtio-blk-pci,drive=test"],
    }
    # A healthy run takes a few seconds more than fio's time; in the nested
    # test host QEMU sometimes hangs, so a run that overstays is tried again.
    timeout = 60 + 3 * (args.seconds + 1) * len(JOBS)
    samples = {vmm: {job[0]: [] for job in JOBS} for vmm in commands}
    for run in range(1, args.runs + 1):
        for vmm, command in commands.items():
            result = None
            for attempt in (1, 2):
                print(f"run {run}/{args.runs}: {vmm}" + (" (again)" if attempt > 1 else ""),
                      flush=True)
                result = run_vmm(vmm, command, timeout)
                if result is not None:
                    break
            if result is None:
                continue
            for job, value in result.items():
                samples[vmm][job].append(value)
            print("  " + "  ".join(f"{job} {value:.0f}" for job, value in result.items()),
                  flush=True)
    subprocess.run(["rm", "-rf", work])
    if args.json_line:
        print("BENCH-JSON " + json.dumps(samples), flush=True)
    return report(samples, args.runs, args.seconds)


def report(samples, runs, seconds):
    print(f"\n{'job':<15}{'unit':<7}{'guest median (min-max)':<28}"
          f"{'qemu median (min-max)':<28}{'guest/qemu':>10}")
    failed = False
    for job, _, _, _, unit in JOBS:
        row = [f"{job:<15}{unit:<7}"]
        medians = {}
        for vmm in ("guest", "qemu"):
            values = samples.get(vmm, {}).get(job, [])
            if not values:
                row.append(f"{'no result':<28}")
                failed = True
                continue
            medians[vmm] = statistics.median(values)
            row.append(f"{medians[vmm]:<9.0f}({min(values):.0f}-{max(values):.0f})".ljust(28))
        ratio = (medians["guest"] / medians["qemu"]
                 if len(medians) == 2 and medians["qemu"] else None)
        row.append(f"{ratio:>10.2f}" if ratio is not None else f"{'-':>10}")
        print("".join(row))
    print(f"runs: {runs} per VMM; fio {seconds} s per job after 1 s ramp; "
          "target: guest/qemu >= 1.2 on each")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
