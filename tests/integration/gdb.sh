# The GDB stub's tests (--gdb, --paused), sourced by run-all after net.sh (wait_for_output,
# wait_for_file): Debian's gdb, in batch mode, debugs the gdb probe (tests/guests/gdb_probe.c),
# a 64-bit kernel with symbols.  What gdb prints is checked, and what the guest then does.

gdb_probe=build/guests/gdb-probe.zbi
gdb_probe_symbols=build/guests/gdb-probe.elf

# gdb_batch SCRIPT: gdb on the probe's symbols with SCRIPT; what it prints in $work/gdb.out,
# its pid in $work/gdb.pid (for a Ctrl-C).  SIGINT as the default: a job bash starts in the
# background has it ignored, and gdb keeps that, where the break-in test needs gdb's Ctrl-C.
gdb_batch() {
    rm -f "$work/gdb.pid"
    timeout -k 5 120 python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
with open(sys.argv[3], "w") as f:
    f.write("%d\n" % os.getpid())
os.execvp("gdb", ["gdb", "-nx", "-batch", "-x", sys.argv[1], sys.argv[2]])' \
        "$1" "$gdb_probe_symbols" "$work/gdb.pid" >"$work/gdb.out" 2>&1 </dev/null
}

# gdb_said PATTERN: gdb's output has a line matching it (extended regular expression).
gdb_said() {
    grep -qE "$1" "$work/gdb.out"
}

# gdb_try COMMAND: a gdb script line that runs COMMAND and says whether gdb refused it, so
# that a refusal (a breakpoint this host cannot fire) does not end the batch script.
gdb_try() {
    printf 'python\ntry:\n    gdb.execute("%s")\n    print("%s: done")\nexcept gdb.error as e:\n    print("%s: refused: " + str(e))\nend\n' "$1" "$1" "$1"
}

# --paused, then a whole session: two vCPUs as two threads, registers (control registers too)
# and a string behind a pointer, a step, a breakpoint met with the pc at it, a hardware
# watchpoint, a variable set, and a detach, after which the guest runs to its end.
#
# Which breakpoints a host fires is measured by the stub, which says on stderr what it will
# refuse (see src/control/debug_capabilities.h): the nested test host fires none (QEMU 7.2's
# TCG; QEMU's own gdbstub fares the same there), this machine's PVM fires debug-register
# breakpoints but no int3 and no watchpoint, real hardware fires all.  What the host fires
# must stop where it should; what it does not must be refused with a reason, the guest intact.
test_gdb_breakpoint_step_watch_detach() {
    local socket=$work/gdb.sock script=$work/session.gdb
    {
        cat <<GDB
set pagination off
set confirm off
target remote $socket
shell echo "printed-while-paused=\$(grep -c 'gdb probe' $out)"
info threads
print probe_message
monitor info
printf "cr0=0x%lx cr3=0x%lx\n", \$cr0, \$cr3
printf "pc-before-step=0x%lx\n", \$pc
stepi
printf "pc-after-step=0x%lx\n", \$pc
break probe_count
GDB
        gdb_try continue
        cat <<GDB
printf "pc-at-break=0x%lx\n", \$pc
delete
watch probe_counter
GDB
        gdb_try continue
        cat <<GDB
delete
set var probe_keep_spinning = 0
detach
GDB
    } >"$script"
    "${vcpu_pin[@]}" "$guest" --cpus 2 --gdb "unix:$socket" --paused "$gdb_probe" \
        >"$out" 2>"$err" </dev/null &
    local pid=$!
    for _ in $(seq 1 100); do [ -S "$socket" ] && break; sleep 0.1; done
    gdb_batch "$script"
    local gdb_status=$?
    reap_guest $pid
    sed 's/^/    gdb: /' "$work/gdb.out" | grep -vE '^    gdb: *$' | head -n 40
    grep '^guest: gdb: this host' "$err" | sed 's/^/    /'
    local before=$(sed -n 's/^pc-before-step=//p' "$work/gdb.out")
    local stepped=$(sed -n 's/^pc-after-step=//p' "$work/gdb.out")
    local break_at=$(sed -n 's/^Breakpoint 1 at \(0x[0-9a-f]*\).*/\1/p' "$work/gdb.out")
    local pc=$(sed -n 's/^pc-at-break=//p' "$work/gdb.out")
    local lacks=$(grep '^guest: gdb: this host' "$err")
    check "gdb ended well (status $gdb_status)" [ $gdb_status = 0 ]
    check "nothing ran before the debugger said so" gdb_said '^printed-while-paused=0$'
    check "two vCPUs, two threads" gdb_said '^ +2 +Thread 2 \(vCPU 1\)'
    check "the string behind probe_message" gdb_said '"hello from the gdb probe"'
    check "monitor info: the VM, stopped" gdb_said '^VM: 2 vCPUs, [0-9]+ MiB of RAM, stopped$'
    check "monitor info: what the host fires" gdb_said "^this host's KVM fires: int3 (yes|no),"
    check "cr0 with paging on, a cr3" gdb_said '^cr0=0x8[0-9a-f]{7} cr3=0x[1-9a-f]'
    check "stepi moved the pc (${before:-none} -> ${stepped:-none})" \
        [ -n "$stepped" -a "$stepped" != "$before" ]
    if [ -z "$lacks" ] || [[ $lacks == *"software breakpoints work"* ]] ||
        [[ $lacks == *"go in the debug registers"* ]]; then
        check "the breakpoint was met in probe_count(value=1)" \
            gdb_said '^(Thread 1 hit )?Breakpoint 1, probe_count \(value=(value@entry=)?1\)'
        check "the pc is at the breakpoint (${pc:-none} = ${break_at:-none})" \
            [ -n "$pc" -a "$pc" = "$break_at" ]
    else
        echo "    NOT VERIFIED ON THIS HOST: a breakpoint's stop (its KVM fires none; refused)"
        check "the breakpoint was refused, not left to crash the guest" \
            sh -c "grep -q '^Cannot insert breakpoint 1' '$work/gdb.out' &&
                   grep -q '^continue: refused' '$work/gdb.out'"
        check "the VMM said why" grep -q '^guest: gdb: software breakpoints refused' "$err"
    fi
    if [ -z "$lacks" ] || [[ $lacks == *"watchpoints work"* ]]; then
        check "a hardware watchpoint" gdb_said '^Hardware watchpoint 2: probe_counter'
        check "it fired: 0 became 1" sh -c "tr '\n' ' ' <'$work/gdb.out' | \
            grep -qE 'Hardware watchpoint 2: probe_counter +Old value = 0 +New value = 1'"
    else
        echo "    NOT VERIFIED ON THIS HOST: a watchpoint's stop (its KVM fires none; refused)"
        check "the watchpoint was refused" \
            sh -c "grep -q '^Could not insert hardware watchpoint 2' '$work/gdb.out' &&
                   grep -q '^continue: refused' '$work/gdb.out'"
        check "the VMM said why" grep -q '^guest: gdb: watchpoints refused' "$err"
    fi
    check "detached" gdb_said 'Inferior 1 \(Remote target\) detached'
    check "the guest ran to its end after the detach" grep -q '^probe: gdb probe: counter 3' "$out"
    check "and passed (probe_keep_spinning cleared by gdb)" grep -q '^probe: PASS' "$out"
    check "exit status 0 (got $status)" [ $status = 0 ]
    check "the socket is gone" [ ! -e "$socket" ]
}

# A debugger that attaches to a running guest stops it; the guest runs on at continue; gdb's
# Ctrl-C (SIGINT to gdb) breaks in; kill ends the VMM with status 7.  Over TCP on 127.0.0.1.
test_gdb_break_in_and_kill() {
    local port script=$work/break-in.gdb
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$script" <<GDB
set pagination off
set confirm off
target remote 127.0.0.1:$port
printf "spins-at-attach=%lu\n", probe_spins
shell sleep 1
printf "spins-while-attached=%lu\n", probe_spins
shell echo > $work/continuing
continue
printf "spins-at-break-in=%lu\n", probe_spins
info threads
kill
GDB
    "$guest" --gdb "$port" "$gdb_probe" >"$out" 2>"$err" </dev/null &
    local pid=$!
    wait_for_output '^probe: gdb probe: counter 3' $pid 60
    gdb_batch "$script" &
    local gdb_pid=$!
    wait_for_file "$work/continuing"
    sleep 2
    kill -INT "$(cat "$work/gdb.pid")"
    wait $gdb_pid
    local gdb_status=$?
    reap_guest $pid
    sed 's/^/    gdb: /' "$work/gdb.out" | grep -vE '^    gdb: *$' | head -n 30
    local at_attach=$(sed -n 's/^spins-at-attach=//p' "$work/gdb.out")
    local attached=$(sed -n 's/^spins-while-attached=//p' "$work/gdb.out")
    local broken_in=$(sed -n 's/^spins-at-break-in=//p' "$work/gdb.out")
    check "gdb ended well (status $gdb_status)" [ $gdb_status = 0 ]
    check "attached to a running guest (spins ${at_attach:-none})" [ "${at_attach:-0}" -gt 0 ]
    check "which stood still while attached (${at_attach:-none} = ${attached:-none})" \
        [ -n "$attached" -a "$attached" = "$at_attach" ]
    check "Ctrl-C broke in" gdb_said 'received signal SIGINT'
    check "the guest ran between (${attached:-none} < ${broken_in:-none})" \
        [ "${broken_in:-0}" -gt "${attached:-0}" ]
    check "kill ended the VMM with status 7 (got $status)" [ $status = 7 ]
    check "the guest never finished" sh -c "! grep -q '^probe: PASS' '$out'"
}
