#!/usr/bin/env python3
"""Measures, from outside, how the VMM answers while the chaos guest runs
(tests/guests/chaos.c; tests/integration/chaos.sh uses it):

    chaos_timing.py echo|stop SEED OUT ERR GUEST ARGS...

Every figure is taken twice in the same run: first with a quiet guest (the
same command with chaos.mode=echo: it only echoes the UART and attacks
nothing), then with the hostile one.  What is checked is what the attack
adds, so a loaded machine, which slows both alike, does not fail the test:

echo: the guest in flood mode keeps expensive rings full and echoes every
byte from the UART; a '#' written to the VMM's stdin must come back on its
stdout no more than 100 ms later than the quiet guest's slowest echo.
stop: the guest attacks; at a moment drawn from SEED after its first
heartbeat, SIGTERM must end the VMM (status 143) no more than 1 s later
than it ends the quiet one.  The echo run ends with SIGTERM too, and checks
that stop.  The guest's output goes to OUT, the VMM's stderr to ERR (the
quiet run's to OUT.quiet and ERR.quiet); the figures are printed, and the
exit status is 0 only when every one is within its bound.
"""
import os
import random
import select
import signal
import subprocess
import sys
import time

ECHO_ADDED_LIMIT = 0.100
STOP_ADDED_LIMIT = 1.0
PROBES = 20


class Run:
    """One VMM, its output collected as it comes."""

    def __init__(self, command, out_path, err_path):
        self.err = open(err_path, "wb")
        self.out = open(out_path, "wb")
        self.output = bytearray()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.err)

    def read_some(self, seconds):
        """Reads what stdout has within seconds; False at end of file."""
        ready, _, _ = select.select([self.process.stdout], [], [], max(seconds, 0))
        if not ready:
            return True
        data = os.read(self.process.stdout.fileno(), 65536)
        if not data:
            return False
        self.output.extend(data)
        self.out.write(data)
        self.out.flush()
        return True

    def wait_for(self, text, seconds):
        deadline = time.monotonic() + seconds
        while text not in self.output:
            left = deadline - time.monotonic()
            if left <= 0 or not self.read_some(min(left, 0.5)):
                return text in self.output
        return True

    def echo_latencies(self, rng):
        """Seconds from each '#' written to its echo; None when one never came."""
        latencies = []
        for probe in range(PROBES):
            seen = self.output.count(b"#")
            sent = time.monotonic()
            self.process.stdin.write(b"#")
            self.process.stdin.flush()
            while self.output.count(b"#") == seen:
                left = sent + 5 - time.monotonic()
                if left <= 0 or not self.read_some(min(left, 0.05)):
                    break
            if self.output.count(b"#") == seen:
                print(f"  echo {probe}: no echo within 5 s")
                return None
            latencies.append(time.monotonic() - sent)
            time.sleep(rng.uniform(0.02, 0.1))
        return sorted(latencies)

    def pause(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end and self.read_some(end - time.monotonic()):
            pass

    def stop(self):
        """SIGTERM; (exit status, seconds it took), or None if it never ended."""
        if self.process.poll() is not None:
            print(f"  the VMM had already ended (status {self.process.returncode})")
            return None
        sent = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        while self.process.poll() is None and time.monotonic() - sent < 10:
            self.read_some(0.01)
        stopped = time.monotonic() - sent
        if self.process.poll() is None:
            print("  the VMM did not end within 10 s of SIGTERM")
            return None
        for _ in range(1000):  # what was left in the pipe (bounded: never a hang)
            if not self.read_some(0.01):
                break
        status = self.process.returncode
        return (128 - status if status < 0 else status), stopped

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.out.close()
        self.err.close()


def quiet(command):
    """The same VMM and guest, with the guest only echoing (chaos.mode=echo)."""
    result = []
    for word in command:
        if "chaos.seed=" in word:
            word = " ".join(w for w in word.split() if not w.startswith("chaos.mode="))
            word += " chaos.mode=echo"
        result.append(word)
    return result


def measure(mode, label, command, out_path, err_path, rng, ready):
    """Runs one VMM, waiting for the guest to print ready first; (echo
    latencies or None, (status, stop seconds) or None)."""
    print(f"{label}:")
    run = Run(command, out_path, err_path)
    latencies = None
    try:
        if mode == "echo":
            if not run.wait_for(b"chaos: flood running", 120):
                print("  the guest never said 'flood running'")
                return None, None
            time.sleep(0.5)  # the rings are full now: let the device be busy with them
            latencies = run.echo_latencies(rng)
            if latencies is None:
                return None, None
            print(f"  echo latency over {len(latencies)} bytes: median "
                  f"{latencies[len(latencies) // 2] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")
        else:
            if not run.wait_for(ready, 120):
                print(f"  the guest never printed {ready.decode()!r}")
                return None, None
            pause = rng.uniform(0.0, 2.0)
            run.pause(pause)
            print(f"  SIGTERM {pause:.2f} s after {ready.decode()!r}")
        stopped = run.stop()
        if stopped:
            print(f"  stop: exit status {stopped[0]} {stopped[1] * 1000:.0f} ms after SIGTERM")
        return latencies, stopped
    finally:
        run.close()


def main():
    mode, seed, out_path, err_path = sys.argv[1:5]
    command = sys.argv[5:]
    if mode not in ("echo", "stop"):
        print(f"unknown mode {mode}")
        return 2
    base_echo, base_stop = measure(mode, "quiet guest (chaos.mode=echo)", quiet(command),
                                   out_path + ".quiet", err_path + ".quiet",
                                   random.Random(int(seed)), b"chaos: flood running")
    if base_stop is None or (mode == "echo" and base_echo is None):
        print("the quiet guest gave no baseline")
        return 1
    echo, stop = measure(mode, "hostile guest", command, out_path, err_path,
                         random.Random(int(seed)), b"chaos: heartbeat")
    ok = True
    if mode == "echo":
        if echo is None:
            return 1
        limit = base_echo[-1] + ECHO_ADDED_LIMIT
        added = echo[-1] - base_echo[-1]
        print(f"echo: slowest {echo[-1] * 1000:.1f} ms, {added * 1000:+.1f} ms on the quiet "
              f"guest's (limit {limit * 1000:.0f} ms: +{ECHO_ADDED_LIMIT * 1000:.0f} ms)")
        ok = echo[-1] <= limit
    if stop is None:
        return 1
    limit = base_stop[1] + STOP_ADDED_LIMIT
    print(f"stop: status {stop[0]} after {stop[1] * 1000:.0f} ms, "
          f"{(stop[1] - base_stop[1]) * 1000:+.0f} ms on the quiet guest's "
          f"(limit {limit * 1000:.0f} ms: +{STOP_ADDED_LIMIT * 1000:.0f} ms)")
    return 0 if ok and stop[0] == 143 and base_stop[0] == 143 and stop[1] <= limit else 1


sys.exit(main())
