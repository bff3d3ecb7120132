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
    timeout 60 tail --pid=$pid -f /dev/null
    kill -KILL $pid 2>/dev/null
    wait $pid
    status=$?
    sed 's/^/    /' "$work/qmp.out"
    check "the client saw what it expected (status $client_status)" [ $client_status = 0 ]
    check "quit ended the VMM with status 5 (got $status)" [ $status = 5 ]
    check "the socket is gone" [ ! -e "$socket" ]
}
