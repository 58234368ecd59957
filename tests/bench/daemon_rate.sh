#!/usr/bin/env bash
# Benchmark: the sampling rate bpfwatchd achieves and the CPU it uses, as a
# service against the demo guest (1G, 2 vCPUs, the demo sched_ext
# scheduler) with the demo watch set (conf/demo.watch.d, 18 watches), at
# 10 Hz and at 1 kHz (--interval-ms 100 and 1).
#
# For each rate: start bpfwatchd on the guest's RAM, wait until it samples,
# then over BW_BENCH_DAEMON_SECONDS (default 10) take the ticks from two
# status replies and the daemon's utime+stime from /proc/PID/stat.  Prints
#   daemon 10 Hz: 10.0 ticks/s (100 in 10.0 s, 100 % of the asked rate), CPU 0.2 % of
#   one core; tick cost mean 40.0 us over the period (status since start: mean 60.0 us,
#   max 4000.0 us)
# The tick cost comes from status tick_ns: the mean over the period is
# worked out from the two replies' means and tick counts.
# Figures only: exits 0 unless it could not run.
#
# The guest is QEMU TCG: one host core runs it flat out, so on a 2-core
# machine the daemon shares the other core with everything else.
#
# Env: O (where bpfwatchd lives, default .), B (build dir for the guest
#      scheduler, default build), BPFWATCHD, BW_BENCH_DAEMON_SECONDS,
#      BPFWATCH_CACHE.
# shellcheck source-path=SCRIPTDIR/../guest
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
O=${O:-.}
B=${B:-build}
BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
seconds=${BW_BENCH_DAEMON_SECONDS:-10}
out=$root/tests/guest/out
sched=$root/$B/guest-scheduler
helper=$root/tests/e2e/daemon_guest_client.py
# The attach runs ops.init_task for every task: seconds under TCG.
attach_timeout=90
sampling_timeout=60

# shellcheck source=../guest/lib.sh
source "$root/tests/guest/lib.sh"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bw-daemon-rate.XXXXXX")
dpid=
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    if [ -n "$dpid" ]; then
        kill -KILL "$dpid" 2>/dev/null || true
        wait "$dpid" 2>/dev/null || true
    fi
    bw_guest_stop_all
    rm -rf "$scratch"
}
trap cleanup EXIT

if [ ! -x "$BPFWATCHD" ]; then
    echo "daemon_rate: $BPFWATCHD is not built (run make, or set O or BPFWATCHD)" >&2
    exit 1
fi
py=$(bw_python)
mkdir -p "$out"

initrd=$out/initramfs-daemon-rate.cpio.gz
bw_build_demo_guest daemon_rate "$sched" "$out/daemon-rate-build.log" "$initrd" || exit 1
kernel=$BW_KERNEL

bw_guest_start rate 1G "$kernel" "$initrd"
mem=$(bw_guest_mem rate)
log=$(bw_guest_log rate)
bw_guest_wait_ready rate 120 || { echo "daemon_rate: the guest did not boot" >&2; exit 1; }
if ! bw_guest_wait_log rate 'BWGUEST-EVENT attached' "$attach_timeout"; then
    echo "daemon_rate: the demo scheduler did not attach" >&2
    tr -d '\r' <"$log" | tail -n 20 >&2
    exit 1
fi

# measure HZ INTERVAL_MS: one bpfwatchd run, its figures on one line.
measure() {
    local hz=$1 interval=$2 sock=$scratch/bpfwatchd-$1.sock dlog=$out/daemon-rate-$1hz.log
    local st=
    "$BPFWATCHD" --memory "$mem" --socket "$sock" --watch-dir conf/demo.watch.d \
        --interval-ms "$interval" 2>"$dlog" &
    dpid=$!
    start=$SECONDS
    while [ "$st" != sampling ]; do
        if [ $((SECONDS - start)) -ge "$sampling_timeout" ] || ! kill -0 "$dpid" 2>/dev/null; then
            echo "daemon $hz Hz: not sampling after $((SECONDS - start)) s (state '$st'); see $dlog"
            kill -TERM "$dpid" 2>/dev/null || true
            wait "$dpid" 2>/dev/null || true
            dpid=
            return 1
        fi
        sleep 0.2
        st=$("$py" "$helper" ctl -s "$sock" --json status 2>/dev/null |
            "$py" "$helper" field state 2>/dev/null || true)
    done
    r=$("$py" "$helper" rate "$sock" "$seconds" "$dpid") || r=
    kill -TERM "$dpid" 2>/dev/null || true
    wait "$dpid" 2>/dev/null || true
    dpid=
    if [ -z "$r" ]; then
        echo "daemon $hz Hz: no figures (see $dlog)"
        return 1
    fi
    "$py" - "$hz" "$interval" "$r" <<'EOF'
import json, sys
hz, interval, r = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
a, b = r["tick_ns_before"], r["tick_ns"]
# status gives the mean over the daemon's life; the period's own mean
# leaves out the first ticks (watch resolution), which are far dearer.
period_mean = ((b["mean"] * r["ticks_after"] - a["mean"] * r["ticks_before"]) /
               max(r["ticks"], 1))
print(f"daemon {hz} Hz: {r['rate']:.1f} ticks/s ({r['ticks']} in {r['seconds']:.1f} s, "
      f"{100 * r['rate'] * interval / 1000:.0f} % of the asked rate), "
      f"CPU {r['cpu_percent']:.1f} % of one core; tick cost mean {period_mean / 1000:.1f} us "
      f"over the period (status since start: mean {b['mean'] / 1000:.1f} us, "
      f"max {b['max'] / 1000:.1f} us)")
EOF
}

echo "== bpfwatchd sampling rate and CPU (demo guest 1G, 2 vCPUs, 18 watches, ${seconds} s each;" \
    "host $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg))"
rc=0
measure 10 100 || rc=1
measure 1000 1 || rc=1
exit "$rc"
