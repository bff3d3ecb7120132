#!/usr/bin/env python3
"""Drives guest's serial console as a user would: waits for the guest's
shell, types a command and checks its result, then ends the VM and checks
the exit status.

    terminal.py GUEST KERNEL INITRD quit|sigterm|qmp-quit|gdb-kill|pipe

quit, sigterm, qmp-quit and gdb-kill run guest on a pseudo-terminal and end
it with Ctrl-A x, SIGTERM, QMP's quit or a debugger's kill, checking that the
terminal's mode comes back; pipe runs it on plain pipes and ends it with the
guest's poweroff.
"""
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time

guest, kernel, initrd, how = sys.argv[1:5]
timeout = float(os.environ.get("GUEST_BOOT_TIMEOUT", "300"))
control = os.path.join(tempfile.mkdtemp(), "control.sock")
extra = {"qmp-quit": ["--qmp", "unix:" + control],
         "gdb-kill": ["--gdb", "unix:" + control]}.get(how, [])

if how == "pipe":
    process = subprocess.Popen([guest, "-r", initrd, kernel], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    master = process.stdout.fileno()
    slave = None

    def type_text(text):
        process.stdin.write(text)
        process.stdin.flush()
else:
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    process = subprocess.Popen([guest, *extra, "-r", initrd, kernel], stdin=slave,
                               stdout=slave, stderr=slave, start_new_session=True)

    def type_text(text):
        os.write(master, text)
output = b""


def read_until(text, seconds):
    global output
    deadline = time.monotonic() + seconds
    while text not in output:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([master], [], [], min(left, 1.0))
        if ready:
            try:
                output += os.read(master, 4096)
            except OSError:
                return False
    return True


def fail(message):
    process.kill()
    sys.stdout.write(output[-1500:].decode(errors="replace") + "\n")
    print(f"terminal.py: FAIL: {message}")
    sys.exit(1)


if not read_until(b"guest-init: ready", timeout):
    fail("no init marker")
if not read_until(b"/ # ", 60):
    fail("no shell prompt")
type_text(b"echo typed-$((6*7))\r")
if not read_until(b"typed-42", 60):
    fail("the shell did not echo the typed command's result")
if how == "pipe":
    type_text(b"poweroff -f\r")
    expected = 0
elif how == "quit":
    type_text(b"\x01x")
    expected = 5
elif how in ("qmp-quit", "gdb-kill"):
    peer = socket.socket(socket.AF_UNIX)
    peer.settimeout(30)
    peer.connect(control)
    if how == "qmp-quit":
        peer.recv(4096)  # the greeting
        peer.sendall(b'{"execute": "qmp_capabilities"}\n{"execute": "quit"}\n')
        expected = 5
    else:
        peer.sendall(b"+$k#6b")  # gdb's kill packet
        expected = 7
else:
    os.kill(process.pid, signal.SIGTERM)
    expected = 128 + signal.SIGTERM
try:
    status = process.wait(timeout=60)
except subprocess.TimeoutExpired:
    fail("guest did not exit")
if status != expected:
    fail(f"exit status {status}, expected {expected}")
if slave is not None:
    after = termios.tcgetattr(slave)
    if after != before:
        fail(f"terminal mode not restored: {before} != {after}")
print(f"terminal.py: {how}: exit status {status}" + (", terminal restored" if slave else ""))
