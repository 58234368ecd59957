#!/usr/bin/env bash
# End to end: the watch engine (`bpfwatchd --inspect maps` and `--inspect
# sample` with conf/demo.watch.d) against a real guest running the project's
# demo sched_ext scheduler next to a decoy object whose maps have the same
# names, compared with what the guest itself reads through bpf()
# (tests/scheduler/bw_loader.c prints its maps' ids and, every 500 ms, every
# field of every map on the serial console).
#
# One guest (1G, 2 vCPUs).  Its loader loads the decoy, attaches bw_demo
# --attach-after seconds later and replaces it with a fresh instance
# --replace seconds after that.  Three phases:
#   gen0  before the attach: no scheduler, every watch pending, no metric;
#   gen1  the first instance: the watches resolve to its maps, never the
#         decoy's, and the values agree with the guest's;
#   gen2  after the replace: the same against the new instance's maps.
# Each bpfwatchd run is bracketed by the guest samples just before and just
# after it (serial-log byte offsets; compare_watch_engine.py explains why
# the later one is the second sample printed after bpfwatchd exited):
# fixed values must equal the guest's, counters lie between the two, gauges
# within their documented ranges, and the folded metrics must follow from
# bpfwatchd's own samples.
#
# Env: O (where bpfwatchd lives, default .), B (build dir for the guest
#      scheduler, default build), BPFWATCHD (default $O/daemon/bpfwatchd),
#      BW_E2E_ATTACH_AFTER (default 10 s), BW_E2E_REPLACE (default 25 s):
#      the time each phase has for its runs (raise them on a slow machine),
#      BPFWATCH_CACHE (kernel and toolchain cache, see tests/guest/).
# Results, bpfwatchd's output and the raw serial log (the offsets in the
# reports refer to it) go to tests/guest/out/.
# shellcheck source-path=SCRIPTDIR/../guest
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
O=${O:-.}
B=${B:-build}
BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
attach_after=${BW_E2E_ATTACH_AFTER:-10}
replace_after=${BW_E2E_REPLACE:-25}
out=$root/tests/guest/out
sched=$root/$B/guest-scheduler
compare=$root/tests/e2e/compare_watch_engine.py
watch_dir=conf/demo.watch.d
watch_file=$watch_dir/bw_demo.watch
guest=watch-engine
samples=3
interval_ms=300
# One bpfwatchd run finds the kernel in 1 GiB of RAM and takes 3 samples:
# about a second, a few under ASan.
inspect_timeout=60
boot_timeout=120
# The attach runs ops.init_task for every task; under TCG that takes
# seconds.  A replace is a detach and an attach.
attach_timeout=$((attach_after + 90))
replace_timeout=$((replace_after + 90))
# The guest samples every 500 ms; the later bracket sample is at most two
# periods and a print away.
bracket_timeout=30

# shellcheck source=lib.sh
source "$root/tests/guest/lib.sh"
log=
# shellcheck disable=SC2317 # called from the EXIT trap
save_log() {
    [ -z "$log" ] || [ ! -f "$log" ] || cp "$log" "$out/serial-watch-engine.log"
}
trap 'save_log; bw_guest_stop_all' EXIT

mkdir -p "$out"
rm -f "$out"/watch-engine-* "$out"/report-watch-engine-*
passed=0
failed=0
# fail NAME WHY: one failed check of this script's own.
fail() {
    local report=$out/report-watch-engine-$1.txt
    echo "FAIL $2" >"$report"
    cat "$report"
    bw_tally "$report"
}

# run_compare REPORT ARGS...: the comparison's lines into REPORT, shown and
# tallied.
run_compare() {
    bw_run_compare "$py" "$compare" "$@"
    cat "$1"
    bw_tally "$1"
}

py=$(bw_python)

if [ ! -x "$BPFWATCHD" ]; then
    echo "test_watch_engine: $BPFWATCHD is not built (run make, or set O or BPFWATCHD)" >&2
    exit 1
fi

t_start=$SECONDS
echo "== building the demo scheduler and the guest"
initrd=$out/initramfs-watch-engine.cpio.gz
bw_build_demo_guest test_watch_engine "$sched" "$out/watch-engine-build.log" "$initrd" || exit 1
kernel=$BW_KERNEL

bw_guest_start "$guest" 1G "$kernel" "$initrd" \
    "bwloader=--attach-after,$attach_after,--replace,$replace_after"
log=$(bw_guest_log "$guest")
mem=$(bw_guest_mem "$guest")

# wait_log PATTERN TIMEOUT: until the guest prints PATTERN.
wait_log() { bw_guest_wait_log "$guest" "$@"; }

# run_inspect NAME WHAT [ARG...]: one bpfwatchd run; its stdout, stderr and
# exit code in $out/watch-engine-NAME.*, and the serial log's size before
# and after it in run_start and run_end.
run_start=0
run_end=0
run_inspect() {
    local name=$1 what=$2 rc=0 t0=$SECONDS
    shift 2
    run_start=$(stat -c %s "$log")
    timeout "$inspect_timeout" "$BPFWATCHD" --inspect "$what" --memory "$mem" "$@" \
        >"$out/watch-engine-$name.json" 2>"$out/watch-engine-$name.stderr" || rc=$?
    run_end=$(stat -c %s "$log")
    echo "$rc" >"$out/watch-engine-$name.rc"
    echo "$run_start $run_end" >"$out/watch-engine-$name.offsets"
    echo "bpfwatchd --inspect $what ($name): exit $rc after $((SECONDS - t0)) s, serial log bytes $run_start..$run_end"
}

# wait_bracket: until the guest sample after the last run is complete.
# Whether it came or not, the comparison says.
wait_bracket() {
    "$py" "$compare" bracket "$log" "$run_start" "$run_end" "$bracket_timeout" >/dev/null || true
}

# wait_settled GEN: until the guest has printed a whole sample taken with
# demo instance GEN attached (0: none), the earlier end of the next bracket.
wait_settled() {
    "$py" "$compare" settled "$log" "$1" "$bracket_timeout" || true
}

# phase_maps GEN, phase_sample GEN: the comparisons while demo instance GEN is
# attached (0: none yet).  Before the attach the sample goes first: the
# scheduler's arrival is the deadline.
phase_maps() {
    wait_settled "$1"
    run_inspect "gen$1-maps" maps
    wait_bracket
    run_compare "$out/report-watch-engine-gen$1-maps.txt" maps "$log" "$run_start" "$run_end" "$1" \
        "$out/watch-engine-gen$1-maps.json" "$out/watch-engine-gen$1-maps.stderr" \
        "$(cat "$out/watch-engine-gen$1-maps.rc")"
}
phase_sample() {
    wait_settled "$1"
    run_inspect "gen$1-sample" sample --watch-dir "$watch_dir" --samples "$samples" \
        --interval-ms "$interval_ms"
    wait_bracket
    run_compare "$out/report-watch-engine-gen$1-sample.txt" sample "$log" "$run_start" "$run_end" "$1" \
        "$watch_file" "$samples" "$out/watch-engine-gen$1-sample.json" \
        "$out/watch-engine-gen$1-sample.stderr" "$(cat "$out/watch-engine-gen$1-sample.rc")"
}

finish() {
    echo "total $((SECONDS - t_start)) s"
    echo "test_watch_engine: $passed passed, $failed failed"
    if [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then
        exit 0
    fi
    exit 1
}

echo "== booting the guest (1G RAM, 2 vCPUs; bwloader=--attach-after,$attach_after,--replace,$replace_after)"
if ! bw_guest_wait_ready "$guest" "$boot_timeout" || ! wait_log 'BWGUEST-END' 60; then
    fail boot "the guest did not boot and start its loader"
    finish
fi

echo "== gen0: the decoy only, no scheduler attached"
echo "watch set: $watch_file, $(grep -c '^\[Watch\]' "$watch_file") watches"
phase_sample 0
phase_maps 0

echo "== gen1: the demo scheduler attached"
if ! wait_log 'BWGUEST-EVENT attached' "$attach_timeout"; then
    fail attach "the guest never attached the demo scheduler"
    finish
fi
phase_maps 1
phase_sample 1

echo "== gen2: the demo scheduler replaced by a fresh instance"
if ! wait_log 'BWGUEST-EVENT replaced' "$replace_timeout"; then
    fail replace "the guest never replaced the demo scheduler"
    finish
fi
phase_maps 2
phase_sample 2
finish
