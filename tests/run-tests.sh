#!/usr/bin/env bash
# Run every test suite: the unit tests (check), the daemon tests and the
# real-guest end-to-end tests.  Prints one line per suite and a closing
# "N passed, N failed" line; exits non-zero when anything failed.
#
# Environment: B (build dir of the test binaries: build or build-san),
# O (where bpfwatchd lives: . or build-san), BW_TESTS (optional glob filter),
# BW_SUITES (which suites: any of "unit daemon system e2e"; default all.
# `make check-unit` runs "unit daemon": no network, no root, no guest;
# "system" runs the programs under the real tools: Prometheus, node_exporter,
# systemd as PID 1 in a container).
set -uo pipefail

cd "$(dirname "$0")/.."
B=${B:-build}
O=${O:-.}
export B O BPFWATCHD="$O/daemon/bpfwatchd" BPFWATCHCTL="$O/daemon/bpfwatchctl"
export BW_TEST_DATA="$PWD/tests/data"
filter=${BW_TESTS:-*}
suites=" ${BW_SUITES:-unit daemon system e2e} "
suite_on() { [[ $suites == *" $1 "* ]]; }
passed=0 failed=0 failures=()
log_dir="$B/test-logs"
mkdir -p "$log_dir"

# check prints "100%: Checks: 7, Failures: 0, Errors: 0".
count_check_output() {
    local log=$1 line checks fails errors
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n1)
    [ -n "$line" ] || return 1
    checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
    fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
    errors=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + checks - fails - errors))
    failed=$((failed + fails + errors))
}

for bin in "$B"/tests/test_*; do
    suite_on unit || break
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    [[ $name == $filter ]] || continue
    log="$log_dir/$name.log"
    if "$bin" >"$log" 2>&1; then status=ok; else status=FAIL; fi
    if ! count_check_output "$log"; then
        status=FAIL; failed=$((failed + 1))
    fi
    if [ "$status" = FAIL ]; then
        failures+=("$name"); grep -E '(:[EF]:|ERROR|Sanitizer|runtime error)' "$log" | head -n 20
    fi
    printf '%-28s %s  (%s)\n' "$name" "$status" "$(grep -E '^[0-9]+%: Checks' "$log" | tail -n1)"
done

# The fuzz targets' seeds and kept regression inputs, replayed through this build.
if suite_on unit && [[ fuzz_replay == $filter ]] && [ -x "$B/tests/make_seeds" ]; then
    log="$log_dir/fuzz_replay.log"
    seeds="$B/fuzz-seeds"
    rm -rf "$seeds"
    status=ok
    if ! "$B/tests/make_seeds" "$seeds" >"$log" 2>&1; then status=FAIL; fi
    n=0
    for bin in "$B"/tests/replay_*; do
        t=fuzz_${bin##*/replay_}
        if ! "$bin" "$seeds/$t" "tests/fuzz/regressions/$t" >>"$log" 2>&1; then
            status=FAIL; echo "replay $t failed" >>"$log"
        fi
        n=$((n + 1))
    done
    if grep -qE 'Sanitizer|runtime error' "$log"; then status=FAIL; fi
    if [ "$status" = ok ] && [ "$n" -gt 0 ]; then
        passed=$((passed + 1))
    else
        status=FAIL; failed=$((failed + 1)); failures+=(fuzz_replay); tail -n 20 "$log"
    fi
    printf '%-28s %s  (%d targets, %s inputs)\n' fuzz_replay "$status" "$n" \
        "$(grep -oE 'replayed [0-9]+' "$log" | awk '{s += $2} END {print s + 0}')"
fi


scripts=()
suite_on daemon && scripts+=(tests/daemon/test_*.sh)
suite_on system && scripts+=(tests/system/test_*.sh)
suite_on e2e && scripts+=(tests/e2e/test_*.sh)
for script in "${scripts[@]}"; do
    [ -x "$script" ] || continue
    name=$(basename "$script" .sh)
    [[ $name == $filter ]] || continue
    log="$log_dir/$name.log"
    start=$(date +%s)
    if "$script" >"$log" 2>&1; then
        passed=$((passed + 1)); status=ok
    else
        failed=$((failed + 1)); status=FAIL; failures+=("$name")
        tail -n 40 "$log"
    fi
    printf '%-28s %s  (%ss, log %s)\n' "$name" "$status" "$(( $(date +%s) - start ))" "$log"
done

if [ ${#failures[@]} -gt 0 ]; then
    echo "failed: ${failures[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
