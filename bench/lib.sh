# Sourced by bench/boot, bench/blk and bench/net.
#
# nested_rounds NAME RUNS WORK COMMAND...: RUNS rounds of COMMAND --runs 1 --json-line, each
# in a fresh nested test host; each round's BENCH-JSON line goes to WORK/roundN.json. The test
# host's kernel sometimes goes down under its emulated SVM (while QEMU runs as an L2 monitor,
# above all): a round lost that way is run again, up to 3 times, and counted.
nested_rounds() {
    local name=$1 runs=$2 work=$3 round attempt lost=0
    shift 3
    for ((round = 1; round <= runs; round++)); do
        for attempt in 1 2 3; do
            echo "round $round of $runs (test host attempt $attempt)"
            tests/host/nested -- "$@" --runs 1 --json-line 2>&1 | tee "$work/log" |
                grep --line-buffered -v '^BENCH-JSON ' || true
            if grep -q '^BENCH-JSON ' "$work/log"; then
                sed -n 's/^BENCH-JSON //p' "$work/log" >"$work/round$round.json"
                break
            fi
            lost=$((lost + 1))
            echo "$name: round $round did not finish (the test host died?); running it again"
        done
        [ -f "$work/round$round.json" ] || { echo "$name: round $round failed 3 times" >&2; return 1; }
    done
    [ $lost = 0 ] || echo "$name: $lost rounds were run again"
}
