#!/usr/bin/env bash
# End to end: bpfwatchd as the long-running service, against real guests
# running the project's demo sched_ext scheduler, driven through its socket
# with bpfwatchctl.
#
# The daemon starts first, with --memory naming a path where no RAM is yet:
# a symlink in a scratch directory that this script points at a guest's
# RAM file (tests/guest/lib.sh names those itself; the daemon follows the
# link when it opens the path).  Then:
#   1. no guest: the daemon waits for memory and answers;
#   2. a guest boots and its loader attaches bw_demo: the daemon locates the
#      kernel and the scheduler and reaches "sampling" by itself; status,
#      metrics, get, wait and assert give the values the demo scheduler
#      keeps and the exit codes bpfwatchctl documents;
#   3. a subscriber that never reads does not slow the ticks (10/s at
#      --interval-ms 100);
#   4. the guest is killed and its RAM file removed: the daemon goes back
#      to waiting for memory, keeps answering and keeps the last metrics;
#   5. a new guest (the kernel placed elsewhere by KASLR) appears at the
#      same path: the daemon finds it and samples again by itself;
#   6. SIGTERM: exit 0, the final metrics in the state file, socket gone.
# The bpfwatchctl session (commands and their output) is saved to
# tests/guest/out/bpfwatchctl-session.txt.
#
# Env: O (where bpfwatchd and bpfwatchctl live, default .), B (build dir
#      for the guest scheduler, default build), BPFWATCHD, BPFWATCHCTL
#      (default $O/daemon/...; without a built bpfwatchctl,
#      tests/e2e/daemon_guest_client.py stands in), BPFWATCH_CACHE.
# shellcheck source-path=SCRIPTDIR/../guest
# "COND && ok ... || fail ..." is if-then-else here: ok never fails (SC2015);
# the transcript shows $SOCK and $STATE as written (SC2016).
# shellcheck disable=SC2015,SC2016,SC2001
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
O=${O:-.}
B=${B:-build}
BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
BPFWATCHCTL=${BPFWATCHCTL:-$O/daemon/bpfwatchctl}
out=$root/tests/guest/out
sched=$root/$B/guest-scheduler
helper=$root/tests/e2e/daemon_guest_client.py
transcript=$out/bpfwatchctl-session.txt
report=$out/report-daemon-guest.txt
dlog=$out/daemon-guest-bpfwatchd.log
interval_ms=100
# From QEMU's start to the demo scheduler attached is ~30 s under TCG; the
# daemon then needs at most its kernel back-off (5 s) and a tick.  A
# sanitizer build scans the RAM a few times slower.
sampling_timeout=180
# Health checks run once a second once sampling: the RAM file's removal is
# seen within about that.
gone_timeout=15
socket_timeout=20
exit_timeout=20
rate_seconds=5

# shellcheck source=lib.sh
source "$root/tests/guest/lib.sh"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bw-daemon-guest.XXXXXX")
sock=$scratch/bpfwatchd.sock
ram_link=$scratch/guest.ram
state_file=$scratch/state.json
dpid=
subpid=
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    local pid
    for pid in $subpid $dpid; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for id in daemon1 daemon2; do
        [ -z "${BW_GUEST_RUNDIR:-}" ] || [ ! -f "$(bw_guest_log "$id")" ] ||
            tr -d '\r' <"$(bw_guest_log "$id")" >"$out/serial-daemon-guest-$id.log"
    done
    bw_guest_stop_all
    rm -rf "$scratch"
}
trap cleanup EXIT

mkdir -p "$out"
: >"$report"
passed=0
failed=0
ok() {
    echo "ok $*" | tee -a "$report"
    passed=$((passed + 1))
}
fail() {
    echo "FAIL $*" | tee -a "$report"
    failed=$((failed + 1))
}

if [ ! -x "$BPFWATCHD" ]; then
    echo "test_daemon_guest: $BPFWATCHD is not built (run make, or set O or BPFWATCHD)" >&2
    exit 1
fi
py=$(bw_python)
if [ -x "$BPFWATCHCTL" ]; then
    ctl_cmd=("$BPFWATCHCTL")
else
    echo "test_daemon_guest: $BPFWATCHCTL is not built: $helper stands in for it"
    ctl_cmd=("$py" "$helper" ctl)
fi

# ---- the client, with and without the transcript ---------------------------

# quote ARG: ARG as a reader would type it in a shell.
quote() {
    if [[ $1 =~ ^[A-Za-z0-9_./=:,+-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "$1"; fi
}
note() { printf '\n# %s\n' "$*" >>"$transcript"; }
# ctl ARGS...: bpfwatchctl -s SOCK ARGS, recorded in the transcript; stdout
# in $ctl_out, stderr in $ctl_err, exit code in $ctl_rc.
ctl() {
    local a errf=$scratch/ctl.err
    ctl_rc=0
    ctl_out=$("${ctl_cmd[@]}" -s "$sock" "$@" 2>"$errf") || ctl_rc=$?
    ctl_err=$(cat "$errf")
    {
        printf '$ bpfwatchctl -s $SOCK'
        for a in "$@"; do printf ' %s' "$(quote "$a")"; done
        printf '\n'
        [ -z "$ctl_out" ] || printf '%s\n' "$ctl_out"
        [ -z "$ctl_err" ] || printf '%s\n' "$ctl_err"
        printf '[exit %s]\n' "$ctl_rc"
    } >>"$transcript"
}
# ctlq ARGS...: the same, unrecorded, stdout only.
ctlq() { "${ctl_cmd[@]}" -s "$sock" "$@" 2>/dev/null; }
# status_field PATH...: fields of the daemon's status reply (empty if none).
status_field() { ctlq --json status | "$py" "$helper" field "$@" 2>/dev/null || true; }
metrics_field() { ctlq --json metrics | "$py" "$helper" field "$@" 2>/dev/null || true; }

# expect_rc WANT WHAT: the last ctl's exit code is WANT.
expect_rc() {
    if [ "$ctl_rc" -eq "$1" ]; then
        ok "$2 (exit $ctl_rc)"
    else
        fail "$2: exit $ctl_rc, expected $1"
        { sed 's/^/  out: /' <<<"$ctl_out"; sed 's/^/  err: /' <<<"$ctl_err"; } | head -n 20
    fi
}

# wait_state STATE TIMEOUT_S: poll the daemon's state until it is STATE;
# $states_seen lists the states passed through, in order.
wait_state() {
    local want=$1 timeout=$2 start=$SECONDS st last=
    states_seen=
    while :; do
        st=$(status_field state)
        if [ -n "$st" ] && [ "$st" != "$last" ]; then
            states_seen="${states_seen:+$states_seen -> }$st"
            last=$st
        fi
        [ "$st" = "$want" ] && return 0
        [ $((SECONDS - start)) -lt "$timeout" ] || return 1
        kill -0 "$dpid" 2>/dev/null || return 1
        sleep 0.25
    done
}

# boot_guest ID OK_TEXT FAIL_TEXT NOTE: start a guest with the demo
# scheduler, point the daemon's memory path at its RAM file and wait until
# the daemon samples it by itself.  Reports "OK_TEXT N s after QEMU
# started" or "FAIL_TEXT after N s", and notes "NOTE; the daemon went ...".
boot_guest() {
    local t0
    bw_guest_start "$1" 1G "$kernel" "$initrd"
    ln -sfn "$(bw_guest_mem "$1")" "$ram_link"
    t0=$SECONDS
    if wait_state sampling "$sampling_timeout"; then
        ok "$2 $((SECONDS - t0)) s after QEMU started ($states_seen)"
    else
        fail "$3 after $((SECONDS - t0)) s ($states_seen)"
        bw_guest_wait_ready "$1" 1 || true
        sed 's/^/  bpfwatchd: /' "$dlog" | tail -n 20
    fi
    note "$4; the daemon went $states_seen"
}

# ---- the guest -----------------------------------------------------------------

t_start=$SECONDS
echo "== building the demo scheduler and the guest"
initrd=$out/initramfs-daemon-guest.cpio.gz
bw_build_demo_guest test_daemon_guest "$sched" "$out/daemon-guest-build.log" "$initrd" || exit 1
kernel=$BW_KERNEL

# ---- 1. the daemon, before any guest ---------------------------------------------

{
    echo "# bpfwatchd as a service against a QEMU guest running the demo sched_ext scheduler"
    echo "# (tests/e2e/test_daemon_guest.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ))."
    echo "# The daemon was started before the guest existed:"
    echo "#   bpfwatchd --memory \$RAM --socket \$SOCK --watch-dir conf/demo.watch.d \\"
    echo "#             --interval-ms $interval_ms --state-file \$STATE"
    echo "# \$RAM is a symlink to the guest's RAM file (QEMU memory-backend-file, share=on)."
} >"$transcript"

echo "== bpfwatchd, no guest yet"
"$BPFWATCHD" --memory "$ram_link" --socket "$sock" --watch-dir conf/demo.watch.d \
    --interval-ms "$interval_ms" --state-file "$state_file" 2>"$dlog" &
dpid=$!
start=$SECONDS
until ctlq status >/dev/null; do
    if ! kill -0 "$dpid" 2>/dev/null || [ $((SECONDS - start)) -ge "$socket_timeout" ]; then
        fail "bpfwatchd did not answer on $sock within $socket_timeout s"
        sed 's/^/  bpfwatchd: /' "$dlog" | tail -n 20
        echo "test_daemon_guest: $passed passed, $failed failed"
        exit 1
    fi
    sleep 0.1
done
ok "bpfwatchd answers on its socket"

note "no guest yet"
ctl status
expect_rc 0 "status without a guest"
st=$(status_field state)
[ "$st" = waiting-for-memory ] && ok "state before the guest: $st" ||
    fail "state before the guest: '$st', expected waiting-for-memory"
ctl sample
expect_rc 1 "sample without a guest is refused (not_ready)"

# ---- 2. the first guest -----------------------------------------------------------

echo "== guest 1 boots (1G, 2 vCPUs, demo scheduler)"
boot_guest daemon1 "sampling by itself" "no sampling" \
    "guest 1 booted and bw_demo attached"
mem1=$(bw_guest_mem daemon1)
kaslr1=$(status_field kernel.kaslr_offset)
pob1=$(status_field kernel.page_offset_base)

ctl status
expect_rc 0 "status"
grep -q sampling <<<"$ctl_out" && ok "status says sampling" || fail "status does not say sampling"
grep -q bw_demo <<<"$ctl_out" && ok "status names the scheduler bw_demo" ||
    fail "status does not name bw_demo"
ctl wait bw_demo_enqueues --timeout 30
expect_rc 0 "wait bw_demo_enqueues --timeout 30"
ctl metrics
expect_rc 0 "metrics"
grep -q bw_demo_runs <<<"$ctl_out" && ok "metrics list bw_demo_runs" || fail "metrics lack bw_demo_runs"
ctl get bw_demo_runs
expect_rc 0 "get bw_demo_runs"
[[ $ctl_out =~ ^[0-9]+$ ]] && ok "bw_demo_runs is a count: $ctl_out" ||
    fail "get bw_demo_runs printed '$ctl_out'"
ctl assert 'bw_demo_fixed_neg == -5' 'bw_demo_mode == 3' 'bw_demo_runs > 0'
expect_rc 0 "assert fixed_neg == -5, mode == 3, runs > 0"
ctl assert 'bw_demo_mode == 4'
expect_rc 1 "a failing assert"
ctl get nosuchkey
expect_rc 1 "get of an absent key"
ctl assert 'bw_demo_mode =='
expect_rc 2 "an assert that does not parse"
ctl subscribe --count 3
expect_rc 0 "subscribe --count 3"
n=$(grep -c 'fixed_neg=-5' <<<"$ctl_out" || true)
[ "$n" -eq 3 ] && ok "subscribe printed 3 samples with fixed_neg=-5" ||
    fail "subscribe printed $n samples with fixed_neg=-5, expected 3"
ctl sample
expect_rc 0 "sample"
read -r s_tick s_fixed s_cpu0 s_cpu1 < <(ctlq --json sample |
    "$py" "$helper" field tick values.fixed_neg.value values.cpu_runs.cpus.0 values.cpu_runs.cpus.1 |
    paste -sd ' ') || true
[[ $s_tick =~ ^[0-9]+$ && $s_fixed == -5 && $s_cpu0 =~ ^[0-9]+$ && $s_cpu1 =~ ^[0-9]+$ ]] &&
    ok "sample: tick $s_tick, fixed_neg $s_fixed, cpu_runs per CPU $s_cpu0 $s_cpu1" ||
    fail "sample: tick '$s_tick', fixed_neg '$s_fixed', cpu_runs '$s_cpu0' '$s_cpu1'"
ctl maps
expect_rc 0 "maps"

# ---- 3. a subscriber that never reads ---------------------------------------------

echo "== a subscriber that never reads, $rate_seconds s"
"$py" "$helper" stalled-subscriber "$sock" >"$scratch/sub.out" 2>&1 &
subpid=$!
start=$SECONDS
until grep -q subscribed "$scratch/sub.out" 2>/dev/null; do
    if ! kill -0 "$subpid" 2>/dev/null || [ $((SECONDS - start)) -ge 10 ]; then
        break
    fi
    sleep 0.05
done
r=$("$py" "$helper" rate "$sock" "$rate_seconds" || true)
read -r nticks secs rate subs_a subs_b dropped < <(
    "$py" "$helper" field ticks seconds rate subscribers.0 subscribers.1 dropped_subscribers \
        <<<"${r:-"{}"}" 2>/dev/null | paste -sd ' ') || true
expected=$((1000 / interval_ms))
note "a subscriber that connected and never reads: $nticks ticks in $secs s ($rate/s)," \
    "subscribers $subs_a then $subs_b, dropped $dropped"
[ "$subs_a" = 1 ] && [ "$subs_b" = 1 ] && ok "the stalled subscriber is connected throughout" ||
    fail "subscribers while stalled: '$subs_a' then '$subs_b', expected 1"
if "$py" -c "import sys; sys.exit(not (0.9 * $expected <= float('$rate') <= 1.05 * $expected))" 2>/dev/null; then
    ok "ticks keep their rate with a stalled subscriber: $nticks in $secs s ($rate/s)"
else
    fail "tick rate with a stalled subscriber: '$rate'/s ($nticks ticks in $secs s), expected $expected/s"
fi
kill -TERM "$subpid" 2>/dev/null || true
wait "$subpid" 2>/dev/null || true
subpid=

# ---- 4. the guest goes away ---------------------------------------------------------

echo "== guest 1 is killed"
runs1=$(metrics_field metrics.bw_demo_runs)
bw_guest_stop daemon1
[ ! -e "$mem1" ] && ok "guest 1's RAM file is removed" || fail "guest 1's RAM file $mem1 is still there"
t0=$SECONDS
if wait_state waiting-for-memory "$gone_timeout"; then
    ok "waiting for memory $((SECONDS - t0)) s after the guest was killed"
else
    fail "state after the guest was killed: $states_seen, expected waiting-for-memory"
fi
note "guest 1 was killed (QEMU stopped, its RAM file removed)"
ctl status
expect_rc 0 "status with the guest gone"
[ "$(status_field kernel)" = null ] && ok "no kernel in status once the guest is gone" ||
    fail "status still shows a kernel"
ctl get bw_demo_fixed_neg
[ "$ctl_rc" -eq 0 ] && [ "$ctl_out" = -5 ] && ok "the last metrics are kept: bw_demo_fixed_neg $ctl_out" ||
    fail "metrics after the guest went: get bw_demo_fixed_neg exit $ctl_rc, '$ctl_out'"
runs_kept=$(metrics_field metrics.bw_demo_runs)
"$py" -c "import sys; sys.exit(not (int('$runs_kept') >= int('$runs1')))" 2>/dev/null &&
    ok "kept bw_demo_runs $runs_kept (>= $runs1 read before the kill)" ||
    fail "kept bw_demo_runs '$runs_kept', read '$runs1' before the kill"
ctl sample
expect_rc 1 "sample with the guest gone is refused (not_ready)"

# ---- 5. a new guest at the same path ---------------------------------------------------

echo "== guest 2 boots at the same memory path"
boot_guest daemon2 "sampling again by itself" "no sampling of guest 2" \
    "guest 2 (a new boot, same memory path) booted"
mem2=$(bw_guest_mem daemon2)
kaslr2=$(status_field kernel.kaslr_offset)
pob2=$(status_field kernel.page_offset_base)
# KASLR picks the kernel's text slot and the direct map's base independently
# at each boot: both equal again is a chance of about one in 10^5.
if [ -n "$kaslr2" ] && [ "$kaslr2" != null ] &&
    { [ "$kaslr1" != "$kaslr2" ] || [ "$pob1" != "$pob2" ]; }; then
    ok "the new kernel was found where it is now: kaslr_offset $kaslr1 -> $kaslr2, page_offset_base $pob1 -> $pob2"
else
    fail "kernel placement: kaslr_offset $kaslr1 -> $kaslr2, page_offset_base $pob1 -> $pob2"
fi
ctl status
expect_rc 0 "status of guest 2"
ctl wait bw_demo_enqueues --timeout 30
expect_rc 0 "wait bw_demo_enqueues on guest 2"
w1=$(metrics_field window.ticks)
sleep 1
w2=$(metrics_field window.ticks)
[ -n "$w1" ] && [ -n "$w2" ] && [ "$w2" != null ] && [ "$w2" -gt "$w1" ] &&
    ok "metrics flow again: window ticks $w1 -> $w2" || fail "window ticks $w1 -> $w2"
ctl assert 'bw_demo_fixed_neg == -5' 'bw_demo_mode == 3' 'bw_demo_runs > 0'
expect_rc 0 "assert on guest 2"
ctl metrics
expect_rc 0 "metrics of guest 2"

# ---- 6. SIGTERM ------------------------------------------------------------------------

echo "== SIGTERM"
kill -TERM "$dpid"
start=$SECONDS
while kill -0 "$dpid" 2>/dev/null && [ $((SECONDS - start)) -lt "$exit_timeout" ]; do
    sleep 0.1
done
rc=0
if kill -0 "$dpid" 2>/dev/null; then
    fail "bpfwatchd still running $exit_timeout s after SIGTERM"
    kill -KILL "$dpid" 2>/dev/null || true
fi
wait "$dpid" || rc=$?
dpid=
[ "$rc" -eq 0 ] && ok "bpfwatchd exits 0 on SIGTERM" || fail "bpfwatchd exit code $rc on SIGTERM"
[ ! -e "$sock" ] && ok "the socket is removed" || fail "the socket $sock is left behind"
if [ -s "$state_file" ] &&
    "$py" - "$state_file" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
m = doc["metrics"]
assert doc["ok"] is True and doc["window"]["ticks"] > 0, doc.get("window")
assert m["bw_demo_fixed_neg"] == -5 and m["bw_demo_mode"] == 3, m
assert int(m["bw_demo_runs"]) > 0, m
EOF
then
    ok "the state file holds the final metrics"
else
    fail "state file $state_file: missing or without the final metrics"
fi
{
    note "SIGTERM: bpfwatchd exited $rc and wrote its final metrics to \$STATE:"
    echo '$ cat $STATE'
    cat "$state_file" 2>/dev/null || true
    echo
} >>"$transcript"

# The guests' RAM files go with the guests; a sanitizer report ends the run badly.
bw_guest_stop daemon2
[ ! -e "$mem2" ] && ok "no RAM file left" || fail "guest 2's RAM file $mem2 is still there"
if grep -qE 'Sanitizer|runtime error' "$dlog"; then
    fail "bpfwatchd's log has a sanitizer report ($dlog)"
    grep -E -A5 'Sanitizer|runtime error' "$dlog" | head -n 20
else
    ok "no sanitizer report in bpfwatchd's log"
fi
echo "test_daemon_guest: $((SECONDS - t_start)) s"
echo "test_daemon_guest: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
