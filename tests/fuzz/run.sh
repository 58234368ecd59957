#!/usr/bin/env bash
# Run every fuzz target (build-fuzz/fuzz/fuzz_*) for FUZZ_SECONDS each,
# one after the other, from the seeds make_seeds builds and the regression
# inputs kept in tests/fuzz/regressions/<target>/.  Any crash, leak,
# timeout, out-of-memory or sanitizer report fails the run; the input that
# caused it is copied into tests/fuzz/regressions/<target>/ so that
# `make check` replays it from then on.  One line per target: execs,
# coverage (libFuzzer's cov: edges), features, corpus size.
#
# Environment: FUZZ_SECONDS (default 30), FUZZ_TARGETS (optional space-
# separated list, default all), FUZZ_DIR (default build-fuzz).
set -uo pipefail

cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-30}
dir=${FUZZ_DIR:-build-fuzz}
seeds="$dir/seeds"
work="$dir/corpus"
logs="$dir/fuzz-logs"
mkdir -p "$work" "$logs"
rm -rf "$seeds"
"$dir/fuzz/make_seeds" "$seeds" || { echo "fuzz: make_seeds failed" >&2; exit 1; }

targets=${FUZZ_TARGETS:-$(cd "$dir/fuzz" && ls fuzz_* | tr '\n' ' ')}
failed=()
for t in $targets; do
    bin="$dir/fuzz/$t"
    [ -x "$bin" ] || { echo "fuzz: no target $bin" >&2; failed+=("$t"); continue; }
    mkdir -p "$work/$t" "$seeds/$t" "tests/fuzz/regressions/$t" "$logs/$t"
    log="$logs/$t.log"
    rm -f "$logs/$t"/*
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak or runaway allocation.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
        -print_final_stats=1 -artifact_prefix="$logs/$t/" \
        "$work/$t" "$seeds/$t" "tests/fuzz/regressions/$t" >"$log" 2>&1
    rc=$?
    stats=$(grep -E '^#[0-9]+' "$log" | tail -n1)
    execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    if [ "$rc" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: ' "$log"; then
        failed+=("$t")
        for a in "$logs/$t"/*; do
            [ -f "$a" ] && cp "$a" "tests/fuzz/regressions/$t/$(basename "$a")"
        done
        echo "FAIL $t (exit $rc): $(grep -m1 -E 'ERROR:|runtime error:' "$log")"
        grep -A12 -m1 -E 'ERROR:|runtime error:' "$log" | head -n 20
    else
        echo "ok   $t: ${execs:-?} execs in ${seconds} s; $stats"
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]} (inputs kept in tests/fuzz/regressions/)"
    exit 1
fi
echo "fuzz: ${targets// /, } clean"
