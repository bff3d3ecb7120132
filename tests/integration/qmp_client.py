#!/usr/bin/env python3
"""The QMP test's client (tests/integration/qmp.sh): drives a guest booted with --paused and
--qmp unix:SOCKET whose console (OUTPUT) prints tick=N five times a second, and says what it
saw, one "qmp: ..." line per step; exits 1 at the first expectation that fails."""
import json
import re
import socket
import sys
import time

sock_path, output_path, cpus, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
memory = 512 << 20  # the guest's --memory


def fail(text):
    print("qmp: FAIL: " + text)
    sys.exit(1)


def ticks():
    with open(output_path, errors="replace") as f:
        found = re.findall(r"^tick=(\d+)", f.read(), re.M)
    return int(found[-1]) if found else -1


class Client:
    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(sock_path)
        self.buffer = b""
        self.events = []

    def line(self):
        while b"\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def reply(self):
        while True:
            message = self.line()
            if message is None:
                fail("the connection closed while a reply was owed")
            if "event" in message:
                self.events.append(message["event"])
                continue
            return message

    def send(self, raw):
        self.sock.sendall(raw.encode())

    def execute(self, name, arguments=None, **extra):
        request = {"execute": name}
        if arguments is not None:
            request["arguments"] = arguments
        request.update(extra)
        self.send(json.dumps(request) + "\n")
        return self.reply()


def status(client):
    return client.execute("query-status")["return"]["status"]


def wait_for(predicate, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


client = Client()
greeting = client.line()
if "QMP" not in greeting or greeting["QMP"].get("capabilities") != []:
    fail("greeting %r" % greeting)
print("qmp: greeting %s" % json.dumps(greeting["QMP"]["version"]))
if client.execute("query-status").get("error", {}).get("class") != "CommandNotFound":
    fail("a command before qmp_capabilities was not refused")
if client.execute("qmp_capabilities", id="neg") != {"return": {}, "id": "neg"}:
    fail("qmp_capabilities")
# --paused: nothing ran yet.
time.sleep(1)
if status(client) != "paused" or ticks() != -1:
    fail("--paused: status %s, guest ticked %d" % (status(client), ticks()))
print("qmp: paused at start, the guest silent")

# A second client, at once: half a command and then nothing; the first is not held up.
idle = Client()
idle.line()
idle.send('{"execute": "qmp_capabil')

if client.execute("cont") != {"return": {}}:
    fail("cont")
if not wait_for(lambda: ticks() >= 3, 240):
    fail("the guest never ticked after cont (status %s)" % status(client))
if status(client) != "running":
    fail("status after cont: %s" % status(client))
print("qmp: cont: running, tick %d" % ticks())

reply = client.execute("stop", id=[1, {"a": None}])
if reply != {"return": {}, "id": [1, {"a": None}]}:
    fail("stop: %r" % reply)
if status(client) != "paused":
    fail("status after stop: %s" % status(client))
stopped_at = ticks()
time.sleep(2)
if ticks() != stopped_at:
    fail("the guest ticked while stopped: %d -> %d" % (stopped_at, ticks()))
hmp = client.execute("human-monitor-command", {"command-line": "info status"})
if hmp.get("return") != "VM status: paused\r\n":
    fail("info status: %r" % hmp)
print("qmp: stop: paused, the guest still at tick %d for 2 s; info status: paused" % stopped_at)

if client.execute("cont") != {"return": {}}:
    fail("cont after stop")
if not wait_for(lambda: ticks() > stopped_at + 2, 60):
    fail("no ticks after the second cont")
print("qmp: cont again: the guest ticks on (tick %d)" % ticks())
if "STOP" not in client.events or client.events.count("RESUME") < 2:
    fail("events STOP and RESUME: saw %r" % client.events)
print("qmp: events: %s" % " ".join(client.events))

cpus_fast = client.execute("query-cpus-fast")["return"]
if len(cpus_fast) != cpus or any(not cpu.get("thread-id") for cpu in cpus_fast):
    fail("query-cpus-fast: %r" % cpus_fast)
print("qmp: query-cpus-fast: %d vCPUs, threads %s" %
      (len(cpus_fast), " ".join(str(cpu["thread-id"]) for cpu in cpus_fast)))

png = work + "/screen.png"
reply = client.execute("screendump", {"filename": png})
with open(png, "rb") as f:
    magic = f.read(8)
if reply != {"return": {}} or magic != b"\x89PNG\r\n\x1a\n":
    fail("screendump: %r, file starts %r" % (reply, magic))
reply = client.execute("screendump", {"filename": "/nonexistent/dir/x.png"})
if reply.get("error", {}).get("class") != "GenericError":
    fail("screendump to nowhere: %r" % reply)
print("qmp: screendump: a PNG; to a missing directory: %s" % reply["error"]["desc"])

disks = client.execute("query-block")["return"]
if len(disks) != 1 or disks[0]["device"] != "vda" or disks[0]["inserted"]["ro"] is not True:
    fail("query-block: %r" % disks)
print("qmp: query-block: %s %s ro=%s" % (disks[0]["device"], disks[0]["inserted"]["file"],
                                          disks[0]["inserted"]["ro"]))

before = client.execute("query-balloon")["return"]["actual"]
target = 256 << 20
if client.execute("balloon", {"value": target}) != {"return": {}}:
    fail("balloon")
if not wait_for(lambda: client.execute("query-balloon")["return"]["actual"] <= target + (4 << 20),
                120):
    fail("the balloon never got the guest down to %d MiB (at %d MiB)" %
         (target >> 20, client.execute("query-balloon")["return"]["actual"] >> 20))
after = client.execute("query-balloon")["return"]["actual"]
print("qmp: balloon: the guest had %d MiB, asked for %d MiB, has %d MiB" %
      (before >> 20, target >> 20, after >> 20))
if before != memory:
    fail("query-balloon before: %d, not all of the guest's %d" % (before, memory))
client.execute("query-status")  # any BALLOON_CHANGE sent by now is read with its reply
if "BALLOON_CHANGE" not in client.events:
    fail("no BALLOON_CHANGE event: saw %r" % client.events)

client.send("{this is not json}\n")
if "JSON parse error" not in client.reply().get("error", {}).get("desc", ""):
    fail("bad JSON got no parse error")
if status(client) != "running":
    fail("the session after bad JSON")
print("qmp: bad JSON: an error, and the session goes on")

for _ in range(3):  # one after another, each going away in the middle of a command
    other = Client()
    other.line()
    if other.execute("qmp_capabilities") != {"return": {}}:
        fail("a later client's negotiation")
    other.send('{"execute": "query-st')
    other.sock.close()
if status(client) != "running":
    fail("the first client after three others came and went")
print("qmp: three more clients, one after another, each gone mid-command; the first goes on")

names = [c["name"] for c in client.execute("query-commands")["return"]]
for name in ("query-status", "stop", "cont", "quit", "query-cpus-fast", "screendump", "system_powerdown",
             "query-block", "balloon", "query-balloon"):
    if name not in names:
        fail("query-commands lacks %s" % name)

if client.execute("quit") != {"return": {}}:
    fail("quit")
while True:
    message = client.line()
    if message is None:
        break
    if message.get("event") == "SHUTDOWN":
        print("qmp: SHUTDOWN %s" % json.dumps(message.get("data")))
        client.events.append("SHUTDOWN")
if "SHUTDOWN" not in client.events:
    fail("no SHUTDOWN event before the socket closed")
print("qmp: quit: the VMM ended and closed the socket")
