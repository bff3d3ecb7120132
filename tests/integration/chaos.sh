#!/bin/bash
# The chaos guest's tests (tests/guests/chaos.c): it attacks every device for a few seconds from
# a seed while a disk it never attacks is read and checked, and the VMM must survive: the guest's
# power-off (status 0), no AddressSanitizer or UBSan report, every check ok, and a stop honoured
# within 1 s at any moment.  Sourced by run-all (run_guest, check, $guest, $work); run on its own
# for the long runs of `make chaos`:
#   tests/integration/chaos.sh SECONDS [SEED]
# (with SEED one run of SECONDS; without, runs of $CHAOS_RUN_SECONDS (60) with fresh seeds until
# SECONDS are spent, each seed printed; the first failure ends it with the command that repeats it.)

chaos_probe=build/guests/chaos.elf
# Every kind of device the VMM has: entropy, two disks (the second the well-behaved one), a NIC
# (restricted: nothing leaves the VMM), the balloon, the GPU with keyboard and tablet.
# no_sanitizer_report: the VMM's stderr ($err) has no ASan, UBSan or LeakSanitizer report.
# (chaos_timing.py's quiet runs write theirs to $err.quiet, which is read too when it is there.)
no_sanitizer_report() {
    ! cat "$err" ${err_quiet:+"$err_quiet"} | grep -qE 'ERROR: AddressSanitizer|runtime error:|LeakSanitizer'
}

chaos_devices() {
    echo -b "$work/chaos-scratch.img" -b "$work/chaos-check.img" --net user,restrict=on \
        -m 1 -d -g --display=none
}

# chaos_images: the scratch disk the guest attacks, and the well-behaved disk with the pattern
# the guest checks (sector s, byte i: s*7 + i*13 + (s>>8) + 0x5a, as chaos.c's check_pattern).
chaos_images() {
    [ -f "$work/chaos-check.img" ] || python3 -c '
import sys
data = bytearray()
for s in range(2048):
    data += bytes((s * 7 + i * 13 + (s >> 8) + 0x5a) & 0xff for i in range(512))
open(sys.argv[1], "wb").write(data)' "$work/chaos-check.img"
    # Fresh for every run: what one seed wrote must not change what the next one reads.
    truncate -s 0 "$work/chaos-scratch.img" && truncate -s 1M "$work/chaos-scratch.img"
}

chaos_seed() { od -An -N4 -tu4 /dev/urandom | tr -d ' '; }

# chaos_verdict SEED: the checks of one finished attack run ($out, $err, $status).  The guest's
# virtio-console output is NUL bytes only (so its lines stay whole): they are dropped first.
chaos_verdict() {
    local seed=$1 clean=$work/chaos-clean
    tr -d '\000' <"$out" >"$clean"
    check "exit status 0, the guest's power-off (got $status)" [ "$status" = 0 ]
    check "the guest printed its seed" grep -q "^chaos: seed $seed\$" "$clean"
    check "no AddressSanitizer or UBSan report" no_sanitizer_report
    check "no FAIL line from the guest" bash -c "! grep -q '^chaos: FAIL' '$clean'"
    check "the well-behaved disk was checked (at least twice)" \
        [ "$(grep -c '^chaos: check [0-9]* ok' "$clean")" -ge 2 ]
    check "the guest survived to its end" grep -q '^chaos: survived .* checks ok$' "$clean"
    sed -n 's/^chaos: \(survived .*\)/    seed '"$seed"': \1/p; s/^chaos: \(longest .*\)/      \1/p' "$clean"
}

# chaos_run SEED SECONDS [EXTRA OPTIONS...]: one attack run; its verdict.
chaos_run() {
    local seed=$1 seconds=$2
    shift 2
    chaos_images
    # shellcheck disable=SC2046 # the device options are words
    run_guest --memory 128M $(chaos_devices) "$@" \
        -c "chaos.seed=$seed chaos.seconds=$seconds chaos.check=4${CHAOS_OPTIONS:+ $CHAOS_OPTIONS}" \
        "$chaos_probe"
    chaos_verdict "$seed"
    [ $current_ok = 1 ] || echo "    repeat it: $guest --memory 128M $(chaos_devices | sed "s|$work/|DIR/|g") $* -c 'chaos.seed=$seed chaos.seconds=$seconds chaos.check=4 chaos.verbose=1' $chaos_probe"
}

# A few seeds of a few seconds each, fresh every run (printed; CHAOS_SEEDS="1 2 3" repeats some),
# the second with the virtio console, the third with a second vCPU that races the first at the
# registers of the device under attack.
test_chaos_guest_attacks_every_device() {
    local seeds=${CHAOS_SEEDS:-"$(chaos_seed) $(chaos_seed) $(chaos_seed)"} seed n=0
    for seed in $seeds; do
        n=$((n + 1))
        case $n in
        2) chaos_run "$seed" 4 --console=virtio ;;
        3) chaos_run "$seed" 4 --cpus 2 ;;
        *) chaos_run "$seed" 4 ;;
        esac
        [ $current_ok = 1 ] || return
    done
}

# SIGTERM at a moment drawn from the seed, while the guest attacks with both its vCPUs: the VMM
# ends with 143 no more than 1 s later than it ends a quiet guest in the same run
# (chaos_timing.py measures both).
test_chaos_stop_within_a_second() {
    local seed=${CHAOS_STOP_SEED:-$(chaos_seed)} err_quiet=$err.quiet
    chaos_images
    # shellcheck disable=SC2046
    # (Pinned in the nested test host, as run_guest pins guests with several vCPUs.)
    timeout -k 5 240 "${vcpu_pin[@]}" python3 tests/integration/chaos_timing.py stop \
        "$seed" "$out" "$err" "$guest" --cpus 2 --memory 128M $(chaos_devices) -c "chaos.seed=$seed chaos.seconds=120" \
        "$chaos_probe" >"$work/chaos-timing" 2>&1
    status=$?
    sed 's/^/    /' "$work/chaos-timing"
    check "stopped with status 143, at most 1 s after the quiet guest's stop (seed $seed)" \
        [ $status = 0 ]
    check "the guest printed its seed" grep -aq "^chaos: seed $seed" "$out"
    check "no AddressSanitizer or UBSan report" no_sanitizer_report
}

# A hostile ring: the guest keeps the balloon's inflate queue, the GPU's control queue and the
# entropy queue full of expensive requests (page lists of 65536 pages, transfers of a 64 MiB
# resource, 64 MiB of entropy), re-posted as they complete, while it echoes the UART.  A byte on
# the VMM's stdin comes back at most 100 ms later than a quiet guest's slowest echo in the same
# run, and SIGTERM ends the VMM at most 1 s later than it ends the quiet one.
test_chaos_hostile_ring_keeps_console_and_stop() {
    local seed err_quiet=$err.quiet
    seed=$(chaos_seed)
    chaos_images
    # shellcheck disable=SC2046
    timeout -k 5 240 python3 tests/integration/chaos_timing.py echo "$seed" "$out" "$err" \
        "$guest" --memory 256M $(chaos_devices) \
        -c "chaos.seed=$seed chaos.seconds=120 chaos.mode=flood" "$chaos_probe" \
        >"$work/chaos-timing" 2>&1
    status=$?
    sed 's/^/    /' "$work/chaos-timing"
    check "no echo 100 ms slower, and no stop 1 s slower, than the quiet guest's" [ $status = 0 ]
    check "the guest filled three queues" grep -aq '^chaos: flood running: 3 queues' "$out"
    check "no AddressSanitizer or UBSan report" no_sanitizer_report
}

# `make chaos`: long runs, outside `make check`.
chaos_long() {
    local seconds=$1 seed=${2:-} left run cpus=2
    if [ -n "$seed" ]; then
        echo "chaos: seed $seed for $seconds s"
        chaos_run "$seed" "$seconds"
        return
    fi
    left=$seconds
    while [ "$left" -gt 0 ] && [ $current_ok = 1 ]; do
        run=${CHAOS_RUN_SECONDS:-60}
        [ "$run" -le "$left" ] || run=$left
        seed=$(chaos_seed)
        # Every other run with the second vCPU racing the first.
        cpus=$((cpus == 2 ? 1 : 2))
        echo "chaos: seed $seed for $run s, $cpus vCPU(s) ($left s left)"
        chaos_run "$seed" "$run" --cpus $cpus
        left=$((left - run))
    done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    # On its own: the helpers run-all would have given.
    set -u
    cd "$(dirname "$0")/../.." || exit 1
    guest=${GUEST_BINARY:-build/guest-asan}
    work=$(mktemp -d "${TMPDIR:-/tmp}/guest-chaos.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    out=$work/out err=$work/err status=0 current_ok=1 vcpu_pin=()
    seconds=${1:?usage: tests/integration/chaos.sh SECONDS [SEED]}
    boot_timeout=$((${CHAOS_RUN_SECONDS:-60} > seconds ? ${CHAOS_RUN_SECONDS:-60} + 120 : seconds + 120))
    check() {
        local what=$1
        shift
        if ! "$@"; then
            echo "    expected: $what"
            current_ok=0
        fi
    }
    run_guest() {
        timeout -s QUIT -k 5 "$boot_timeout" "$guest" "$@" >"$out" 2>"$err" </dev/null
        status=$?
    }
    for file in "$guest" "$chaos_probe"; do
        [ -f "$file" ] || { echo "chaos: $file is missing (make all)" >&2; exit 1; }
    done
    chaos_long "$seconds" "${2:-}"
    if [ $current_ok = 1 ]; then
        echo "chaos: PASS"
    else
        echo "    --- exit status $status; last lines of output:"
        tr -d '\000' <"$out" | tail -n 15 | sed 's/^/    | /'
        echo "    --- stderr:"
        tail -n 20 "$err" | sed 's/^/    ! /'
        echo "chaos: FAIL"
        exit 1
    fi
fi
