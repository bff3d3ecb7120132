#!/usr/bin/env python3
"""Measures, from outside, how the VMM answers while the chaos guest runs
(tests/guests/chaos.c; tests/integration/chaos.sh uses it):

    chaos_timing.py echo|stop SEED OUT ERR GUEST ARGS...

echo: the guest in flood mode keeps expensive rings full and echoes every
byte from the UART; each '#' written to the VMM's stdin must come back on
its stdout within 100 ms.  stop: the guest attacks; at a moment drawn from
SEED after its first heartbeat, SIGTERM must end the VMM (status 143)
within 1 s.  Both end with SIGTERM and check the stop.  The guest's output
goes to OUT, the VMM's stderr to ERR; the figures are printed, and the exit
status is 0 only when every one is within its bound.
"""
import os
import random
import select
import signal
import subprocess
import sys
import time

ECHO_LIMIT = 0.100
STOP_LIMIT = 1.0
PROBES = 20

mode, seed, out_path, err_path = sys.argv[1:5]
command = sys.argv[5:]
rng = random.Random(int(seed))
err = open(err_path, "wb")
process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
output = bytearray()
out = open(out_path, "wb")
ok = True


def read_some(seconds):
    """Reads what stdout has within seconds; False at end of file."""
    ready, _, _ = select.select([process.stdout], [], [], max(seconds, 0))
    if not ready:
        return True
    data = os.read(process.stdout.fileno(), 65536)
    if not data:
        return False
    output.extend(data)
    out.write(data)
    out.flush()
    return True


def wait_for(text, seconds):
    deadline = time.monotonic() + seconds
    while text not in output:
        left = deadline - time.monotonic()
        if left <= 0 or not read_some(min(left, 0.5)):
            return text in output
    return True


def finish(code):
    if process.poll() is None:
        process.kill()
        process.wait()
    out.close()
    sys.exit(code)


if mode == "echo":
    if not wait_for(b"chaos: flood running", 120):
        print("the guest never said 'flood running'")
        finish(1)
    # The rings are full now; give the device a moment to be busy with them.
    time.sleep(0.5)
    latencies = []
    for probe in range(PROBES):
        seen = output.count(b"#")
        sent = time.monotonic()
        process.stdin.write(b"#")
        process.stdin.flush()
        while output.count(b"#") == seen:
            left = sent + 5 - time.monotonic()
            if left <= 0 or not read_some(min(left, 0.05)):
                break
        if output.count(b"#") == seen:
            print(f"echo {probe}: no echo within 5 s")
            ok = False
            break
        latencies.append(time.monotonic() - sent)
        time.sleep(rng.uniform(0.02, 0.1))
    if latencies:
        latencies.sort()
        worst, median = latencies[-1], latencies[len(latencies) // 2]
        print(f"echo latency over {len(latencies)} bytes: median {median * 1000:.1f} ms, "
              f"max {worst * 1000:.1f} ms (limit {ECHO_LIMIT * 1000:.0f} ms)")
        if worst > ECHO_LIMIT:
            ok = False
elif mode == "stop":
    if not wait_for(b"chaos: heartbeat", 120):
        print("the guest never printed a heartbeat")
        finish(1)
    pause = rng.uniform(0.0, 2.0)
    end = time.monotonic() + pause
    while time.monotonic() < end and read_some(end - time.monotonic()):
        pass
    print(f"SIGTERM {pause:.2f} s after the first heartbeat")
else:
    print(f"unknown mode {mode}")
    finish(2)

if process.poll() is not None:
    print(f"the VMM had already ended (status {process.returncode})")
    finish(1)
sent = time.monotonic()
process.send_signal(signal.SIGTERM)
while process.poll() is None and time.monotonic() - sent < 10:
    read_some(0.01)
stopped = time.monotonic() - sent
if process.poll() is None:
    print(f"stop: the VMM did not end within 10 s of SIGTERM (limit {STOP_LIMIT:.0f} s)")
    finish(1)
for _ in range(1000):  # what was left in the pipe (bounded: never a hang)
    if not read_some(0.01):
        break
status = process.returncode
if status < 0:
    status = 128 - status
print(f"stop: exit status {status} {stopped * 1000:.0f} ms after SIGTERM "
      f"(limit {STOP_LIMIT * 1000:.0f} ms)")
if status != 143 or stopped > STOP_LIMIT:
    ok = False
finish(0 if ok else 1)
