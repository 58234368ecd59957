#!/usr/bin/env bash
# End to end: the built-in sched_ext health metrics of bpfwatchd (no watch
# file) against what real guests report themselves, on every Debian kernel
# with sched_ext the fixture fetches.
#
# One guest per kernel.  Its loader attaches the demo scheduler, and a few
# seconds after each attach tells it to call scx_bpf_error(); once the
# kernel has thrown it out the loader attaches it again, EJECTIONS times in
# all, and in the last cycle the demo instead stops dispatching, so the
# kernel's watchdog ejects it for a stall (ops.timeout_ms 10000).  bpfwatchd
# (default [Kernel] settings: StallMSec=2000) watches throughout; a poller
# takes its "exit" and status replies with the console offsets around them,
# and tests/e2e/scx_health_client.py compares them with the guest's own
# readings of /sys/kernel/sched_ext (state, root/ops, root/events) and with
# the kernel's "disabled" log lines; `bpfwatchctl dmesg` must hold every
# kernel line of the console.  The `bpfwatchctl exit` of the last
# error and of the stall are saved in tests/guest/out/scx-health-exit-*.txt.
#
# Env: O (where bpfwatchd and bpfwatchctl live, default .), B (build dir,
#      default build), BW_SCX_KERNELS (override the kernel list: lines of
#      "SUITE PACKAGE EJECTIONS"), BPFWATCH_CACHE.
# shellcheck source-path=SCRIPTDIR/../guest
# shellcheck disable=SC2015
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
O=${O:-.}
B=${B:-build}
BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
BPFWATCHCTL=${BPFWATCHCTL:-$O/daemon/bpfwatchctl}
out=$root/tests/guest/out
client=$root/tests/e2e/scx_health_client.py
report=$out/report-scx-health.txt
# The 20-ejection run on the newest kernel; three (two errors, a stall) on the others.
kernels=${BW_SCX_KERNELS:-"trixie-backports linux-binary-7.3.4+deb13-cloud-amd64 20
trixie-backports linux-image-6.18.15+deb13-cloud-amd64 3
trixie-backports linux-image-6.16.12+deb13-cloud-amd64 3"}
# Attaching under TCG takes a few seconds (load, verify, init every task);
# a stall takes up to 1.5 timeouts to eject.
cycle_timeout=40
boot_timeout=180

# shellcheck source=lib.sh
source "$root/tests/guest/lib.sh"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bw-scx-health.XXXXXX")
dpid=
cleanup() {
    [ -z "$dpid" ] || { kill -KILL "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; }
    bw_guest_stop_all
    rm -rf "$scratch"
}
trap cleanup EXIT

mkdir -p "$out"
: >"$report"
passed=0
failed=0
ok() { echo "ok $*" | tee -a "$report"; passed=$((passed + 1)); }
fail() { echo "FAIL $*" | tee -a "$report"; failed=$((failed + 1)); }
py=$(bw_python)
t_all=$SECONDS

while read -r suite pkg ejections; do
    [ -n "$suite" ] || continue
    t0=$SECONDS
    ver=${pkg#linux-*-}
    ver=${ver%%+*}
    echo "== $ver: $pkg ($ejections ejections)"
    vmlinuz=$("$root/tests/guest/fetch-kernel.sh" "$suite" "$pkg" | tail -n1)
    sched=$root/$B/guest-scheduler-$ver
    initrd=$out/initramfs-scx-health-$ver.cpio.gz
    if ! bash tests/scheduler/build.sh --vmlinuz "$vmlinuz" "$sched" >"$out/scx-health-build-$ver.log" 2>&1 ||
        ! tests/guest/build-initramfs.sh "$initrd" "$sched/bw_loader=/bin/bw_loader" \
            "$sched/scenario=/scenario" >/dev/null; then
        fail "$ver: building the guest failed ($out/scx-health-build-$ver.log)"
        continue
    fi
    id=scx-$ver
    bw_guest_start "$id" 1G "$vmlinuz" "$initrd" ignore_loglevel \
        "bwloader=--sched,--no-maps,--interval-ms,250,--error-after,3,--stall-after,3,--eject-cycles,$ejections"
    sock=$scratch/$ver.sock
    "$BPFWATCHD" --memory "$(bw_guest_mem "$id")" --socket "$sock" --interval-ms 100 \
        2>"$out/scx-health-bpfwatchd-$ver.log" &
    dpid=$!
    console=$(bw_guest_log "$id")
    if ! bw_guest_wait_log "$id" "BWGUEST-EVENT attached" "$boot_timeout"; then
        fail "$ver: the demo scheduler never attached"
    else
        "$py" "$client" poll "$sock" "$console" "$out/scx-health-readings-$ver.jsonl" \
            "BWGUEST-EVENT ejections $ejections" $((ejections * cycle_timeout)) &
        ppid=$!
        # The first scx_bpf_error() ejection, as bpfwatchctl shows it.
        if bw_guest_wait_log "$id" "BWGUEST-EVENT ejected" "$cycle_timeout"; then
            "$BPFWATCHCTL" -s "$sock" exit >"$out/scx-health-exit-error-$ver.txt" 2>&1 && rc=0 || rc=$?
            echo "[exit $rc]" >>"$out/scx-health-exit-error-$ver.txt"
            [ "$rc" -eq 1 ] && grep -q SCX_EXIT_ERROR_BPF "$out/scx-health-exit-error-$ver.txt" &&
                ok "$ver: bpfwatchctl exit after scx_bpf_error(): exit 1, SCX_EXIT_ERROR_BPF" ||
                fail "$ver: bpfwatchctl exit after scx_bpf_error(): exit $rc: $(head -c 400 "$out/scx-health-exit-error-$ver.txt")"
        fi
        if wait "$ppid"; then
            ok "$ver: the guest went through $ejections ejections"
        else
            fail "$ver: the guest did not finish $ejections ejections"
        fi
        "$BPFWATCHCTL" -s "$sock" exit >"$out/scx-health-exit-stall-$ver.txt" 2>&1 && rc=0 || rc=$?
        echo "[exit $rc]" >>"$out/scx-health-exit-stall-$ver.txt"
        [ "$rc" -eq 1 ] && grep -q SCX_EXIT_ERROR_STALL "$out/scx-health-exit-stall-$ver.txt" &&
            ok "$ver: bpfwatchctl exit after the stall: exit 1, SCX_EXIT_ERROR_STALL" ||
            fail "$ver: bpfwatchctl exit after the stall: exit $rc: $(head -c 400 "$out/scx-health-exit-stall-$ver.txt")"
        "$BPFWATCHCTL" -s "$sock" --json metrics >"$scratch/$ver.metrics.json" || true
        # The kernel log out of guest memory, against the console.
        sleep 1
        "$BPFWATCHCTL" -s "$sock" --json dmesg >"$scratch/$ver.dmesg.jsonl" 2>&1 || true
        "$BPFWATCHCTL" -s "$sock" dmesg >"$out/scx-health-dmesg-$ver.txt" 2>&1 || true
        tr -d '\r' <"$console" >"$scratch/$ver.console"
        "$py" "$client" dmesg "$scratch/$ver.console" "$scratch/$ver.dmesg.jsonl" \
            >>"$scratch/$ver.report" || true
        "$py" - "$scratch/$ver.metrics.json" "$ejections" <<'EOF' >>"$scratch/$ver.report" || true
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
n = int(sys.argv[2])
want = {"sched_ext_attaches": n, "sched_ext_exit_kind_name": "SCX_EXIT_ERROR_STALL", "sched_ext_exit_missed": 0}
bad = {k: m.get(k) for k, v in want.items() if m.get(k) != v}
if not bad and int(m.get("sched_ext_stalls", 0)) >= 1 and "sched_ext_nr_running" in m:
    print(f"ok metrics: attaches {n}, stalls {m['sched_ext_stalls']}, exit kind name "
          f"{m['sched_ext_exit_kind_name']}, state {m.get('sched_ext_state')}, "
          f"{sum(1 for k in m if k.startswith('sched_ext_event_'))} event counters")
else:
    print(f"FAIL metrics: {bad}, stalls {m.get('sched_ext_stalls')}")
EOF
    fi
    # The raw console for the comparison: the readings' offsets are into it as QEMU wrote it.
    cp "$console" "$scratch/$ver.raw"
    tr -d '\r' <"$console" >"$out/serial-scx-health-$ver.log"
    kill -TERM "$dpid" 2>/dev/null || true
    wait "$dpid" 2>/dev/null || true
    dpid=
    bw_guest_stop "$id"
    if [ -f "$out/scx-health-readings-$ver.jsonl" ]; then
        bw_run_compare "$py" "$client" "$scratch/$ver.cmp" compare "$scratch/$ver.raw" \
            "$out/scx-health-readings-$ver.jsonl" "$ejections" 1
        cat "$scratch/$ver.cmp" >>"$scratch/$ver.report"
    fi
    if [ -f "$scratch/$ver.report" ]; then
        sed "s/^\(ok\|FAIL\) /\1 $ver: /" "$scratch/$ver.report" | tee -a "$report"
        bw_tally "$scratch/$ver.report"
    fi
    if grep -qE 'Sanitizer|runtime error' "$out/scx-health-bpfwatchd-$ver.log"; then
        fail "$ver: sanitizer report in bpfwatchd's log"
    fi
    echo "test_scx_health: $ver took $((SECONDS - t0)) s"
done <<<"$kernels"

echo "test_scx_health: $((SECONDS - t_all)) s"
echo "test_scx_health: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
