# The sandbox's tests (src/sandbox.c), sourced by run-all after gdb.sh (gdb_probe, wait_for_output).
# A forbidden system call is made for real, from inside a confined thread of a running VMM:
# gdb attaches to the VMM process (not to the guest) and calls socket(2) on the vCPU thread,
# as an attacker who had taken that thread over would.

# sandbox_inject_socket PID THREAD: gdb calls socket(AF_INET, SOCK_STREAM, 0) on the VMM's
# thread named THREAD; gdb passes the SIGSYS that may follow to the VMM's own handler.
sandbox_inject_socket() {
    timeout -k 5 60 gdb -nx -batch -p "$1" \
        -ex 'handle SIGSYS nostop noprint pass' \
        -ex "python
for thread in gdb.selected_inferior().threads():
    if thread.name == '$2':
        thread.switch()
        print('switched to', thread.name)
" \
        -ex 'print (int)socket(2, 1, 0)' >"$work/inject.out" 2>&1 </dev/null
}

# sandbox_threads_lacking PID PATTERN...: the names of PID's threads whose /proc status lacks
# a line matching one of the extended regular expressions (with the pattern's first word).
sandbox_threads_lacking() {
    local pid=$1 thread pattern
    shift
    for thread in /proc/$pid/task/*; do
        for pattern in "$@"; do
            grep -qE "$pattern" "$thread/status" || printf ' %s(%s)' "$(cat "$thread/comm")" "${pattern%%:*}"
        done
    done
}

# sandbox_stop_probe: SIGTERM ends the probe started by sandbox_start_probe with 143.
sandbox_stop_probe() {
    kill -TERM $guest_pid 2>/dev/null
    reap_guest $guest_pid
    check "SIGTERM ended it (status 143, got $status)" [ $status = 143 ]
}

# The guest spins long enough (the gdb probe without a debugger) for the injection.
sandbox_start_probe() {
    "$guest" "$@" "$gdb_probe" >"$out" 2>"$err" </dev/null &
    guest_pid=$!
    wait_for_output 'gdb probe: counter 3' $guest_pid 60
}

test_sandbox_forbidden_call_ends_vmm() {
    check "the probe ran" sandbox_start_probe
    check "the VMM has its threads named" \
        bash -c "cat /proc/$guest_pid/task/*/comm | grep -qx vcpu0"
    sandbox_inject_socket $guest_pid vcpu0
    check "gdb found the vCPU thread" grep -q 'switched to vcpu0' "$work/inject.out"
    reap_guest $guest_pid
    check "the VMM ended with the sandbox's status 8 (got $status)" [ $status = 8 ]
    check "the message names the thread and the call" \
        grep -q '^guest: sandbox: thread vcpu0 (vcpu) made a system call outside its allow-list: socket (41)' "$err"
    [ $current_ok = 1 ] || sed 's/^/    gdb| /' "$work/inject.out"
}

# --seccomp=log: the same call runs (a descriptor comes back) and the VM goes on.
test_sandbox_log_mode_lets_calls_run() {
    check "the probe ran" sandbox_start_probe --seccomp=log
    sandbox_inject_socket $guest_pid vcpu0
    check "socket(2) returned a descriptor" grep -qE '^\$1 = [0-9]+$' "$work/inject.out"
    check "the VMM still runs" kill -0 $guest_pid
    sandbox_stop_probe
    check "no sandbox message" bash -c "! grep -q 'guest: sandbox' '$err'"
    [ $current_ok = 1 ] || sed 's/^/    gdb| /' "$work/inject.out"
}

# --no-sandbox: no filter at all, which /proc says (Seccomp: 0 in every thread).
test_sandbox_off_and_on_in_proc() {
    check "the probe ran" sandbox_start_probe --no-sandbox
    check "no thread filtered with --no-sandbox" \
        bash -c "! grep -q '^Seccomp:[[:space:]]*2' /proc/$guest_pid/task/*/status"
    sandbox_stop_probe
    check "the probe ran (sandboxed)" sandbox_start_probe
    local lacking
    lacking=$(sandbox_threads_lacking $guest_pid '^Seccomp:[[:space:]]*2' \
        '^NoNewPrivs:[[:space:]]*1' '^CapEff:[[:space:]]*0*$')
    check "every thread filtered, no_new_privs, no capabilities (not:$lacking)" [ -z "$lacking" ]
    sandbox_stop_probe
}

# --user: started as root, the VM runs as nobody once its files are open: every thread's
# uid and gid, no capability left (the bounding set too), and the guest reads its disk.
test_sandbox_user_drops_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "    needs root to test --user (the test host runs as root)"
        current_ok=0
        return
    fi
    run_guest --user nobody -b "$zircon_gpt,ro" -r "$bootdata" "$zircon_probe"
    expect_probe_pass
    check "the disk read as nobody" grep -q "^probe: gpt ok" "$out"
    check "the probe ran" sandbox_start_probe --user nobody:nogroup
    local ids='[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534$' lacking
    lacking=$(sandbox_threads_lacking $guest_pid "^Uid:$ids" "^Gid:$ids" \
        '^CapEff:[[:space:]]*0*$' '^CapBnd:[[:space:]]*0*$')
    check "every thread is nobody:nogroup with no capabilities (not:$lacking)" [ -z "$lacking" ]
    sandbox_stop_probe
    expect_refusal '--user nosuchuser: no such user' --user nosuchuser "$zircon_probe"
    expect_refusal '--user 0: is root' --user 0 "$zircon_probe"
}
