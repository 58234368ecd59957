#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The units under a real systemd 252 as PID 1: a Debian 12 root
# (tests/system/build-root.sh, cached under ~/.cache/bpfwatch) booted with
# systemd-nspawn --boot, the project installed into it with `make install`,
# and a guest RAM file (the synthetic live guest of tests/tools/make_guest.c,
# on a tmpfs bound to the container's /dev/shm, readable through an ACL
# entry as bpfwatchd(8) says):
#   socket activation, READY=1 and STATUS=, the watchdog killing a hung
#   daemon and the restart, reload accepted and refused (the exit status of
#   `systemctl reload`), journal priorities, stop with the state file
#   written, the RAM file still there after stop and restart, the sandbox
#   letting the daemon read it, and `systemd-analyze security` <= 1.0 for
#   the unit and the --memory-pid drop-in.
# Needs root, systemd-nspawn (systemd-container), mmdebstrap and the network
# to the Debian archive the first time (tests/deps.sh installs the tools).
set -uo pipefail

cd "$(dirname "$0")/../.."
top=$PWD
B=${B:-build}
TOOL_MAKE_GUEST=${TOOL_MAKE_GUEST:-$B/tests/tool_make_guest}
CACHE=${BW_CACHE:-$HOME/.cache/bpfwatch}
MAX_EXPOSURE=1.0

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { # name, command...
    local name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}
finish() {
    echo "test_systemd_nspawn: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit
}

if [ "$(id -u)" -ne 0 ]; then
    fail "needs root (systemd-nspawn); CI runs as root"
    finish
fi
for tool in systemd-nspawn mmdebstrap nsenter; do
    command -v "$tool" >/dev/null || { fail "$tool not found (tests/deps.sh installs it)"; finish; }
done

t0=$(date +%s)
root_cache=$(tests/system/build-root.sh "$CACHE") || { fail "cannot build the Debian 12 root"; finish; }
echo "# root $root_cache ($(( $(date +%s) - t0 )) s)"

. tests/system/nspawn.sh
tmp=$(mktemp -d /tmp/bwns.XXXXXX) || exit 1
guest_pid=
cleanup() {
    nspawn_stop
    [ -n "$guest_pid" ] && kill "$guest_pid" 2>/dev/null
    wait 2>/dev/null
    mountpoint -q "$tmp/shm" && umount "$tmp/shm"
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

root=$tmp/root
cp -a --reflink=auto "$root_cache" "$root"
rm -f "$root/.complete"
# The build of the normal pass: a sanitizer build would need its runtime in the container.
if ! make -s install DESTDIR="$root" PREFIX=/usr SANITIZE= >"$tmp/install.log" 2>&1; then
    fail "make install DESTDIR=<root> PREFIX=/usr:"; sed 's/^/    /' "$tmp/install.log" | tail -20
    finish
fi
pass "make install DESTDIR=<root> PREFIX=/usr"

mkdir -p "$root/etc/bpfwatch/vm1.watch.d" "$root/etc/systemd/system/bpfwatchd@vm1.service.d" \
    "$root/etc/systemd/system/bpfwatchd@vm2.service.d"
printf '[Guest]\nMemory=/dev/shm/vm1.ram\n\n[Sampling]\nIntervalMSec=50\n' >"$root/etc/bpfwatch/vm1.conf"
cp "$root/etc/bpfwatch/vm1.conf" "$root/etc/bpfwatch/vm2.conf"
/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/daemon"); import daemon_harness as h; print(h.DEMO_WATCH, end="")' \
    >"$root/etc/bpfwatch/vm1.watch.d/demo.watch"
# A short watchdog, so the test does not wait the unit's 30 s for it; a
# SIGSTOPped daemon holds the watchdog's SIGABRT pending, so systemd kills
# it after TimeoutAbortSec= (default TimeoutStopSec=, 90 s).
printf '[Service]\nWatchdogSec=3s\nTimeoutAbortSec=2s\n' >"$root/etc/systemd/system/bpfwatchd@vm1.service.d/test-watchdog.conf"
cp "$root/usr/share/doc/bpfwatch/examples/memory-pid.conf.example" \
    "$root/etc/systemd/system/bpfwatchd@vm2.service.d/memory-pid.conf"

# The guest's RAM: a tmpfs (as /dev/shm is) bound over the container's /dev/shm.
mkdir -p "$tmp/shm"
mount -t tmpfs -o size=1G,mode=1777 tmpfs "$tmp/shm"
"$top/$TOOL_MAKE_GUEST" "$tmp/shm/vm1.ram" --with-scheduler --live --size 256M >"$tmp/truth" 2>"$tmp/guest.err" &
guest_pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/truth" ] && break; sleep 0.1; done
[ -s "$tmp/truth" ] || { fail "the synthetic guest did not start: $(cat "$tmp/guest.err")"; finish; }
chmod 0600 "$tmp/shm/vm1.ram"
ram_ino=$(stat -c %i "$tmp/shm/vm1.ram")

t1=$(date +%s)
if ! nspawn_boot "$root" "bw-$$" "$tmp/console.log" --bind="$tmp/shm:/dev/shm"; then
    fail "the container's systemd is not running ($nspawn_state):"
    { ct 10 systemctl --failed --no-pager; tail -n 20 "$tmp/console.log"; } 2>&1 | sed 's/^/    /'
    finish
fi
pass "Debian 12 booted under systemd-nspawn: $(ct 60 systemctl --version | head -n1) ($(( $(date +%s) - t1 )) s)"

ct 60 setfacl -m u:bpfwatch:r /dev/shm/vm1.ram
check "the RAM file: 0600 root, readable by user bpfwatch through an ACL entry only" \
    ct 60 runuser -u bpfwatch -- test -r /dev/shm/vm1.ram

ct 60 systemctl daemon-reload
ct 60 systemctl enable --now bpfwatchd@vm1.socket >/dev/null 2>&1
check "the socket listens, the service is not started yet" \
    test "$(ct 60 systemctl is-active bpfwatchd@vm1.socket)/$(ct 60 systemctl is-active bpfwatchd@vm1.service)" = active/inactive
out=$(ct 60 bpfwatchctl -i vm1 status 2>&1)
check "socket activation: the first client starts the service and gets its answer" \
    grep -q "state" <<<"$out"
check "READY=1: the service is active" test "$(ct 60 systemctl is-active bpfwatchd@vm1.service)" = active

status_text() { ct 60 systemctl show -P StatusText bpfwatchd@vm1.service; }
wait_status() { # text
    for _ in $(seq 1 200); do
        [[ $(status_text) == *"$1"* ]] && return 0
        sleep 0.1
    done
    return 1
}
check "STATUS=: sampling (the sandboxed daemon reads the RAM file)" wait_status sampling
echo "# systemctl status bpfwatchd@vm1.service:"
ct 60 systemctl status --no-pager --lines=8 bpfwatchd@vm1.service | sed 's/^/    /'
ct 60 bpfwatchctl -i vm1 wait bw_demo_enqueues --timeout 20 >/dev/null
check "bpfwatchctl in the container reads the guest's metrics" \
    ct 60 bpfwatchctl -i vm1 assert 'bw_demo_enqueues > 0'

# Reload: accepted, then refused (a bad drop-in) with a failing systemctl reload.
ct 60 systemctl reload bpfwatchd@vm1.service
check "systemctl reload with a good set: exit 0" test $? -eq 0
printf '[Watch]\nMap=.bss\nField=state.gauge\nAggregate=bogus\nLabel=bad\n' \
    >"$root/etc/bpfwatch/vm1.watch.d/z-bad.watch"
out=$(ct 60 systemctl reload bpfwatchd@vm1.service 2>&1)
rc=$?
check "systemctl reload with a refused set: exit $rc (non-zero)" test "$rc" -ne 0
check "the refused set keeps the old watches running" \
    test "$(ct 60 systemctl is-active bpfwatchd@vm1.service)" = active
journal_err=$(ct 60 journalctl -u bpfwatchd@vm1.service -p err -o cat --no-pager)
check "the refusal is in the journal at priority err, naming file:line" \
    grep -q "z-bad.watch:4" <<<"$journal_err"
journal_all=$(ct 60 journalctl -u bpfwatchd@vm1.service -o cat --no-pager)
check "journal lines do not repeat the program name" \
    bash -c '! grep -q "^bpfwatchd: " <<<"$1"' _ "$journal_all"
rm -f "$root/etc/bpfwatch/vm1.watch.d/z-bad.watch"
ct 60 systemctl reload bpfwatchd@vm1.service
check "systemctl reload after the fix: exit 0" test $? -eq 0

# Watchdog: a hung daemon is killed and restarted.
pid1=$(ct 60 systemctl show -P MainPID bpfwatchd@vm1.service)
restarts1=$(ct 60 systemctl show -P NRestarts bpfwatchd@vm1.service)
ct 60 /bin/sh -c "kill -STOP $pid1"
restarted=
for _ in $(seq 1 300); do
    pid2=$(ct 60 systemctl show -P MainPID bpfwatchd@vm1.service)
    if [ "$pid2" != "$pid1" ] && [ "$pid2" != 0 ] &&
        [ "$(ct 60 systemctl is-active bpfwatchd@vm1.service)" = active ]; then
        restarted=1; break
    fi
    sleep 0.1
done
check "watchdog: a stopped daemon is killed and restarted (MainPID $pid1 -> ${pid2:-?}, NRestarts $restarts1 -> $(ct 60 systemctl show -P NRestarts bpfwatchd@vm1.service))" \
    test -n "$restarted"
check "watchdog: the journal says so" \
    bash -c 'grep -qi "watchdog timeout" <<<"$1"' _ "$(ct 60 journalctl -u bpfwatchd@vm1.service -o cat --no-pager)"
check "after the restart: sampling again" wait_status sampling

# Stop: the state file is written; the RAM file survives every stop and restart.
ct 60 systemctl stop bpfwatchd@vm1.service
check "stop: the state file holds the final metrics" \
    grep -q '"bw_demo_enqueues"' "$root/var/lib/bpfwatch/vm1.json"
check "stop: the RAM file is still there (same inode), the guest still running" \
    test "$(stat -c %i "$tmp/shm/vm1.ram" 2>/dev/null)" = "$ram_ino" -a -d "/proc/$guest_pid"
ct 60 systemctl start bpfwatchd@vm1.service
check "start again: sampling" wait_status sampling
ct 60 systemctl restart bpfwatchd@vm1.service
check "restart: sampling" wait_status sampling
ct 60 systemctl stop bpfwatchd@vm1.service bpfwatchd@vm1.socket
check "after stop, restart and stop: the RAM file is still there" \
    test "$(stat -c %i "$tmp/shm/vm1.ram" 2>/dev/null)" = "$ram_ino"

exposure() { # label, unit
    local out value
    out=$(ct 60 systemd-analyze security --no-pager "$2" 2>&1)
    value=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p' <<<"$out")
    echo "# systemd-analyze security $2 (in the container):"
    sed 's/^/    /' <<<"$out"
    if [ -n "$value" ] && awk -v v="$value" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(v <= m) }'; then
        pass "systemd-analyze security $1: $value <= $MAX_EXPOSURE"
    else
        fail "systemd-analyze security $1: ${value:-no figure} > $MAX_EXPOSURE"
    fi
}
exposure "bpfwatchd@.service" bpfwatchd@vm1.service
exposure "bpfwatchd@.service + memory-pid drop-in" bpfwatchd@vm2.service

echo "# took $(( $(date +%s) - t0 )) s"
finish
