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
# The same script checks bpfwatchd on guests whose RAM is given another
# way (tests/e2e/test_guest_memory.sh): one guest serves several readers,
# each a way of naming its memory to bpfwatchd, and every phase is checked
# for each reader; a reader also gets `--inspect kernel` compared with the
# guest's own truth in gen0.  Partial readers (only part of the RAM) are
# checked in gen1 to give no number that is not whole.
#
# Env: BW_E2E_TAG (default watch-engine: the guest id and file prefix),
#      BW_E2E_GUEST_MEMORY, BW_E2E_GUEST_MACHINE (BW_GUEST_MEMORY and
#      BW_GUEST_MACHINE of tests/guest/lib.sh), BW_E2E_GUEST_RAM (1G),
#      BW_E2E_GUEST_ARGS (more kernel command-line words),
#      BW_E2E_READERS ("NAME=ARGS;NAME=ARGS", default "file=--memory @MEM0@";
#      @MEM0@, @MEM1@ are the guest's RAM files, @PID@ QEMU's pid, @QMP@ its
#      QMP socket), BW_E2E_READER_CHECK ("NAME=ACCESS,LAYOUT,BACKENDS;...":
#      what --inspect kernel must say about how it read the guest),
#      BW_E2E_PARTIAL_READERS (the same syntax as BW_E2E_READERS);
#      O (where bpfwatchd lives, default .), B (build dir for the guest
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
tag=${BW_E2E_TAG:-watch-engine}
readers_spec=${BW_E2E_READERS:-file=--memory @MEM0@}
partial_spec=${BW_E2E_PARTIAL_READERS:-}
reader_check=${BW_E2E_READER_CHECK:-}
IFS=';' read -r -a readers <<<"$readers_spec"
partials=()
[ -z "$partial_spec" ] || IFS=';' read -r -a partials <<<"$partial_spec"
nreaders=${#readers[@]}
# Each phase holds one maps and one sample run per reader.
attach_after=${BW_E2E_ATTACH_AFTER:-$((10 * nreaders))}
replace_after=${BW_E2E_REPLACE:-$((attach_after + 15 * nreaders + 10 * ${#partials[@]}))}
out=$root/tests/guest/out
sched=$root/$B/guest-scheduler
compare=$root/tests/e2e/compare_watch_engine.py
watch_dir=conf/demo.watch.d
watch_file=$watch_dir/bw_demo.watch
guest=$tag
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
    [ -z "$log" ] || [ ! -f "$log" ] || cp "$log" "$out/serial-$tag.log"
}
trap 'save_log; bw_guest_stop_all' EXIT

mkdir -p "$out"
rm -f "$out/$tag"-* "$out/report-$tag"-*
passed=0
failed=0
# fail NAME WHY: one failed check of this script's own.
fail() {
    local report=$out/report-$tag-$1.txt
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
bw_build_demo_guest test_watch_engine "$sched" "$out/$tag-build.log" "$initrd" || exit 1
kernel=$BW_KERNEL

# shellcheck disable=SC2086 # the extra kernel words are words
BW_GUEST_MEMORY=${BW_E2E_GUEST_MEMORY:-file} BW_GUEST_MACHINE=${BW_E2E_GUEST_MACHINE:-q35} \
    bw_guest_start "$guest" "${BW_E2E_GUEST_RAM:-1G}" "$kernel" "$initrd" \
    "bwloader=--attach-after,$attach_after,--replace,$replace_after" ${BW_E2E_GUEST_ARGS:-}
log=$(bw_guest_log "$guest")
mapfile -t mems < <(bw_guest_mem "$guest")

# reader_args SPEC: the bpfwatchd arguments of reader NAME=ARGS, one a line.
reader_args() {
    local args=${1#*=} word
    for word in $args; do
        word=${word//@MEM0@/${mems[0]:-}}
        word=${word//@MEM1@/${mems[1]:-}}
        word=${word//@PID@/$(bw_guest_pid "$guest")}
        word=${word//@QMP@/$(bw_guest_qmp "$guest")}
        printf '%s\n' "$word"
    done
}

# wait_log PATTERN TIMEOUT: until the guest prints PATTERN.
wait_log() { bw_guest_wait_log "$guest" "$@"; }

# run_inspect NAME WHAT [ARG...]: one bpfwatchd run; its stdout, stderr and
# exit code in $out/watch-engine-NAME.*, and the serial log's size before
# and after it in run_start and run_end.
run_start=0
run_end=0
reader=${readers[0]}
run_inspect() {
    local name=$1 what=$2 rc=0 t0=$SECONDS memargs
    shift 2
    mapfile -t memargs < <(reader_args "$reader")
    run_start=$(stat -c %s "$log")
    timeout "$inspect_timeout" "$BPFWATCHD" --inspect "$what" "${memargs[@]}" "$@" \
        >"$out/$tag-$name.json" 2>"$out/$tag-$name.stderr" || rc=$?
    run_end=$(stat -c %s "$log")
    echo "$rc" >"$out/$tag-$name.rc"
    echo "$run_start $run_end" >"$out/$tag-$name.offsets"
    echo "bpfwatchd --inspect $what ($name: ${memargs[*]}): exit $rc after $((SECONDS - t0)) s, serial log bytes $run_start..$run_end"
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
    local n
    for reader in "${readers[@]}"; do
        n=${reader%%=*}-gen$1-maps
        wait_settled "$1"
        run_inspect "$n" maps
        wait_bracket
        run_compare "$out/report-$tag-$n.txt" maps "$log" "$run_start" "$run_end" "$1" \
            "$out/$tag-$n.json" "$out/$tag-$n.stderr" "$(cat "$out/$tag-$n.rc")"
    done
}
phase_sample() {
    local n
    for reader in "${readers[@]}"; do
        n=${reader%%=*}-gen$1-sample
        wait_settled "$1"
        run_inspect "$n" sample --watch-dir "$watch_dir" --samples "$samples" \
            --interval-ms "$interval_ms"
        wait_bracket
        run_compare "$out/report-$tag-$n.txt" sample "$log" "$run_start" "$run_end" "$1" \
            "$watch_file" "$samples" "$out/$tag-$n.json" \
            "$out/$tag-$n.stderr" "$(cat "$out/$tag-$n.rc")"
    done
}
# phase_kernel: --inspect kernel of every reader against the guest's truth,
# and how it read the guest against BW_E2E_READER_CHECK.
phase_kernel() {
    local n check kpy=$root/tests/e2e/compare_inspect_kernel.py
    bw_guest_truth "$guest" >"$out/$tag-truth.txt"
    for reader in "${readers[@]}"; do
        n=${reader%%=*}-kernel
        run_inspect "$n" kernel
        if [ "$(cat "$out/$tag-$n.rc")" -ne 0 ]; then
            fail "$n" "bpfwatchd --inspect kernel ($n) exit $(cat "$out/$tag-$n.rc"): $(head -c 300 "$out/$tag-$n.stderr")"
            continue
        fi
        bw_run_compare "$py" "$kpy" "$out/report-$tag-$n.txt" kernel "$out/$tag-truth.txt" "$out/$tag-$n.json"
        check=$(tr ';' '\n' <<<"$reader_check" | sed -n "s/^${reader%%=*}=//p")
        if [ -n "$check" ]; then
            IFS=, read -r c_access c_layout c_backends <<<"$check"
            bw_run_compare "$py" "$kpy" "$out/report-$tag-$n-memory.txt" memory "$out/$tag-$n.json" \
                "$c_access" "$c_layout" "$c_backends"
            cat "$out/report-$tag-$n-memory.txt" >>"$out/report-$tag-$n.txt"
        fi
        cat "$out/report-$tag-$n.txt"
        bw_tally "$out/report-$tag-$n.txt"
    done
}
# phase_partial: the readers that have only part of the guest's RAM.
phase_partial() {
    local n kpy=$root/tests/e2e/compare_inspect_kernel.py
    for reader in "${partials[@]}"; do
        n=${reader%%=*}-kernel
        run_inspect "$n" kernel
        bw_run_compare "$py" "$kpy" "$out/report-$tag-$n.txt" partial "$(cat "$out/$tag-$n.rc")" \
            "$out/$tag-$n.json" "$out/$tag-$n.stderr"
        cat "$out/report-$tag-$n.txt"
        bw_tally "$out/report-$tag-$n.txt"
        n=${reader%%=*}-gen1-sample
        run_inspect "$n" sample --watch-dir "$watch_dir" --samples "$samples" \
            --interval-ms "$interval_ms"
        run_compare "$out/report-$tag-$n.txt" partial "$watch_file" "$out/$tag-$n.json" \
            "$out/$tag-$n.stderr" "$(cat "$out/$tag-$n.rc")"
    done
    reader=${readers[0]}
}

finish() {
    echo "total $((SECONDS - t_start)) s"
    echo "test_watch_engine ($tag): $passed passed, $failed failed"
    if [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]; then
        exit 0
    fi
    exit 1
}

echo "== booting the guest (${BW_E2E_GUEST_RAM:-1G} RAM, ${BW_E2E_GUEST_MEMORY:-file} memory, 2 vCPUs; bwloader=--attach-after,$attach_after,--replace,$replace_after)"
if ! bw_guest_wait_ready "$guest" "$boot_timeout" || ! wait_log 'BWGUEST-END' 60; then
    fail boot "the guest did not boot and start its loader"
    finish
fi

echo "== gen0: the decoy only, no scheduler attached"
echo "watch set: $watch_file, $(grep -c '^\[Watch\]' "$watch_file") watches"
phase_sample 0
phase_maps 0
[ "$nreaders" -eq 1 ] && [ -z "$reader_check" ] || phase_kernel

echo "== gen1: the demo scheduler attached"
if ! wait_log 'BWGUEST-EVENT attached' "$attach_timeout"; then
    fail attach "the guest never attached the demo scheduler"
    finish
fi
phase_maps 1
phase_sample 1
[ ${#partials[@]} -eq 0 ] || phase_partial

echo "== gen2: the demo scheduler replaced by a fresh instance"
if ! wait_log 'BWGUEST-EVENT replaced' "$replace_timeout"; then
    fail replace "the guest never replaced the demo scheduler"
    finish
fi
phase_maps 2
phase_sample 2
finish
