#!/usr/bin/env bash
# `make demo`: boot the demo guest (Debian 7.3.4 kernel, the project's demo
# sched_ext scheduler and a decoy object) under QEMU, and show what
# bpfwatchd reads from its RAM from the outside: the kernel it finds, the
# BPF maps, and the demo watch set (conf/demo.watch.d/bw_demo.watch) sampled
# and folded into run-level metrics.  Leaves no process or RAM file behind.
#
# Env: O (where bpfwatchd lives), BW_DEMO_RAM (default 1G).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
O=${O:-.}
B=${B:-build}
BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
ram=${BW_DEMO_RAM:-1G}
sched=$root/$B/guest-scheduler

# shellcheck source=guest/lib.sh
source "$root/tests/guest/lib.sh"

echo "== building the demo scheduler and the guest"
bash tests/scheduler/build.sh "$sched" >/dev/null
eval "$(tests/guest/build-guest.sh "$sched/bw_loader=/bin/bw_loader" "$sched/scenario=/scenario")"

echo "== booting the guest ($ram RAM, 2 vCPUs, QEMU TCG, RAM in a shared file)"
bw_guest_start demo "$ram" "$KERNEL" "$INITRAMFS"
bw_guest_wait_ready demo 120
mem=$(bw_guest_mem demo)
log=$(bw_guest_log demo)
for _ in $(seq 1 120); do
    grep -q 'BWGUEST-EVENT attached' "$log" && break
    sleep 0.5
done
grep -q 'BWGUEST-EVENT attached' "$log" || { echo "the demo scheduler did not attach" >&2; tail -n 30 "$log" >&2; exit 1; }
echo "guest RAM: $mem; the guest says: $(grep -m1 -o 'BWGUEST-EVENT attached.*' "$log" | tr -d '\r')"

echo
echo "== bpfwatchd --inspect kernel"
"$BPFWATCHD" --inspect kernel --memory "$mem"
echo
echo "== bpfwatchd --inspect maps"
"$BPFWATCHD" --inspect maps --memory "$mem"
echo
echo "== bpfwatchd --inspect sample (conf/demo.watch.d/bw_demo.watch, 10 ticks of 200 ms)"
"$BPFWATCHD" --inspect sample --memory "$mem" --watch-dir conf/demo.watch.d --samples 10 --interval-ms 200
