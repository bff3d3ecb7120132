# The QMP control socket's test (--qmp, --paused), sourced by run-all: a Python client
# (tests/integration/qmp_client.py) drives the small kernel, whose shell prints a tick five
# times a second, through QEMU's protocol while a second client holds half a command; with a
# display (screendump), a read-only disk (query-block) and a balloon.

test_qmp_stop_cont_cpus_quit() {
    local socket=$work/qmp.sock script='i=0; while true; do echo tick=$i; i=$((i+1)); sleep 0.2; done'
    truncate -s 1M "$work/qmp-disk.img"
    "${vcpu_pin[@]}" "$guest" --cpus 2 --memory 512M -g --display=none -d \
        -b "$work/qmp-disk.img,ro" --qmp "unix:$socket" --paused -r "$initrd" \
        -c "initcmd=\"$script\"" "$small_kernel" >"$out" 2>"$err" </dev/null &
    local pid=$!
    for _ in $(seq 1 100); do [ -S "$socket" ] && break; sleep 0.1; done
    timeout -k 5 400 python3 tests/integration/qmp_client.py "$socket" "$out" 2 "$work" \
        >"$work/qmp.out" 2>&1
    local client_status=$?
    reap_guest $pid
    sed 's/^/    /' "$work/qmp.out"
    check "the client saw what it expected (status $client_status)" [ $client_status = 0 ]
    check "quit ended the VMM with status 5 (got $status)" [ $status = 5 ]
    check "the socket is gone" [ ! -e "$socket" ]
}

# system_powerdown presses the ACPI power button (a Generic Event Device notifying a PNP0C0C
# button): the small kernel's button driver sends KEY_POWER, which the guest's script waits
# for on the button's input device and answers with a poweroff.  POWERDOWN, then SHUTDOWN
# with the guest's own reason, and exit status 0.
test_qmp_system_powerdown() {
    local socket=$work/qmp.sock script
    script="ev=\$(grep -l 'Power Button' /sys/class/input/event*/device/name | cut -d/ -f5);"
    script+=" echo power-button=\$ev; dd if=/dev/input/\$ev of=/dev/null bs=24 count=1 2>/dev/null;"
    script+=" echo power-key"
    "$guest" --qmp "unix:$socket" -r "$initrd" -c "initcmd=\"$script\"" "$small_kernel" \
        >"$out" 2>"$err" </dev/null &
    local pid=$!
    wait_for_output '^power-button=event[0-9]' $pid "$boot_timeout"
    timeout -k 5 120 python3 - "$socket" >"$work/qmp.out" 2>&1 <<'PYTHON'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(60)
s.connect(sys.argv[1])
f = s.makefile("rwb", buffering=0)
def line():
    text = f.readline()
    return json.loads(text) if text else None
line()
f.write(b'{"execute": "qmp_capabilities"}\n')
line()
f.write(b'{"execute": "system_powerdown"}\n')
events = []
while True:
    message = line()
    if message is None:
        break
    if "event" in message:
        events.append(message["event"])
        print("qmp: event %s %s" % (message["event"], json.dumps(message.get("data"))))
    else:
        print("qmp: reply %s" % json.dumps(message))
sys.exit(0 if events[:1] == ["POWERDOWN"] and "SHUTDOWN" in events else 1)
PYTHON
    local client_status=$?
    reap_guest $pid
    sed 's/^/    /' "$work/qmp.out"
    grep -a '^power-' "$out" | sed 's/^/    /'
    check "the guest found its power button" grep -aq '^power-button=event[0-9]' "$out"
    check "POWERDOWN, then SHUTDOWN (client status $client_status)" [ $client_status = 0 ]
    check "the guest saw KEY_POWER" grep -aq '^power-key' "$out"
    check "and powered off: exit status 0 (got $status)" [ $status = 0 ]
    check "SHUTDOWN's reason is the guest's" grep -q '"reason": "guest-shutdown"' "$work/qmp.out"
}
