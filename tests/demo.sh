#!/usr/bin/env bash
# `make demo`: the main job on a built-in default.  Boots the demo guest
# (Debian 7.3.4 kernel, the project's demo sched_ext scheduler and a decoy
# BPF object with the same names) under QEMU with its RAM in a shared file,
# runs bpfwatchd on that RAM with the demo watch set
# (conf/demo.watch.d/bw_demo.watch), shows the metrics live, then prints
# the run-level metrics and an assert a CI script would run.  Leaves no
# process or RAM file behind.
#
# Env: O (where the binaries live), B (build dir), BW_DEMO_RAM (1G),
#      BW_DEMO_SECONDS (how long the live view runs, 8).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
O=${O:-.}
B=${B:-build}
BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
BPFWATCHCTL=${BPFWATCHCTL:-$O/daemon/bpfwatchctl}
ram=${BW_DEMO_RAM:-1G}
seconds=${BW_DEMO_SECONDS:-8}
sched=$root/$B/guest-scheduler
run=$(mktemp -d "${TMPDIR:-/tmp}/bpfwatch-demo.XXXXXX")
sock=$run/demo.sock
daemon_pid=

# shellcheck source-path=SCRIPTDIR source=guest/lib.sh
source "$root/tests/guest/lib.sh"
cleanup() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    bw_guest_stop_all
    rm -rf "$run"
}
trap cleanup EXIT
ctl() { "$BPFWATCHCTL" -s "$sock" "$@"; }

echo "== building the demo scheduler and the guest"
initrd=$root/tests/guest/out/initramfs.cpio.gz
bw_build_demo_guest demo "$sched" "$run/build.log" "$initrd" || exit 1

echo "== starting bpfwatchd before the guest exists"
# The daemon watches a path of our choosing; the guest's RAM file appears
# there (a symlink) once QEMU has created it.
"$BPFWATCHD" --memory "$run/guest.ram" --socket "$sock" --watch-dir conf/demo.watch.d \
    --interval-ms 100 --state-file "$run/state.json" 2>"$run/bpfwatchd.log" &
daemon_pid=$!
ctl wait bw_demo_runs --timeout 0.1 >/dev/null 2>&1 || true
ctl status | head -n 3

echo
echo "== booting the guest ($ram RAM, 2 vCPUs, QEMU TCG, RAM in a shared file)"
bw_guest_start demo "$ram" "$BW_KERNEL" "$initrd"
ln -s "$(bw_guest_mem demo)" "$run/guest.ram"
bw_guest_wait_ready demo 120
echo "waiting for the demo scheduler to attach and bpfwatchd to find it..."
ctl wait bw_demo_runs --timeout 120 >/dev/null
ctl status

echo
echo "== live metrics (${seconds} s)"
if [ -t 1 ]; then
    timeout --foreground -s TERM "$seconds" "$BPFWATCHCTL" -s "$sock" top || true
else
    ctl subscribe --count $((seconds * 10)) | awk 'NR % 10 == 1'
fi

echo
echo "== run-level metrics"
ctl metrics
echo
echo "== a CI assertion"
echo "\$ bpfwatchctl assert 'bw_demo_runs > 0' 'bw_demo_fixed_neg == -5' 'bw_demo_cpu_gauge_max <= 5'"
ctl assert 'bw_demo_runs > 0' 'bw_demo_fixed_neg == -5' 'bw_demo_cpu_gauge_max <= 5'
echo
echo "== stopping: SIGTERM writes the final metrics to the state file"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_pid=
head -c 400 "$run/state.json"; echo " ..."
