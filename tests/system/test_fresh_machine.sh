#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's two commands on a fresh Debian 12 machine: a fresh copy of
# the cached root (tests/system/build-root.sh) booted with systemd-nspawn,
# a clean clone of this repository's HEAD, and there, on their first run,
# `make demo` and `make check-unit` (after installing make itself, which
# the commands assume).  Each needs to pass as it is: nothing is built or
# installed in the container beforehand.  Needs root and the network to
# the Debian archive (tests/deps.sh inside the container installs the
# build and test packages with apt-get, make demo fetches the guest kernel).
#
# The transcript of both commands is kept in $B/test-logs/fresh-machine.log.
set -uo pipefail

cd "$(dirname "$0")/../.."
top=$PWD
B=${B:-build}
CACHE=${BW_CACHE:-$HOME/.cache/bpfwatch}
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
finish() {
    echo "test_fresh_machine: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit
}

if [ "${SANITIZE:-}" = 1 ]; then
    # It builds its own clone without sanitizers: once per CI run is enough.
    echo "skip the fresh-machine test runs in the normal pass only (it builds its own clone, no SANITIZE build of ours is used)"
    pass "skipped under SANITIZE=1 (covered by the normal pass)"
    finish
fi
if [ "$(id -u)" -ne 0 ]; then
    fail "needs root (systemd-nspawn); CI runs as root"
    finish
fi

t0=$(date +%s)
root_cache=$(tests/system/build-root.sh "$CACHE") || { fail "cannot build the Debian 12 root"; finish; }
. tests/system/nspawn.sh
tmp=$(mktemp -d /tmp/bwfresh.XXXXXX) || exit 1
cleanup() {
    nspawn_stop
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

root=$tmp/root
cp -a --reflink=auto "$root_cache" "$root"
rm -f "$root/.complete"
git clone --quiet --no-local "$top" "$root/root/bpfwatch" || { fail "git clone"; finish; }
echo "# clean clone of $(git -C "$root/root/bpfwatch" log -1 --format='%h %s')"

nspawn_boot "$root" "bwfresh-$$" "$tmp/console.log" --resolv-conf=copy-host ||
    { fail "the container did not boot ($nspawn_state)"; finish; }
pass "a fresh Debian 12 container booted"

log=$B/test-logs/fresh-machine.log
mkdir -p "$(dirname "$log")"
: >"$log"
run() { # name, timeout, shell command
    local start rc
    start=$(date +%s)
    echo "# $1" >>"$log"
    echo "root@fresh:~/bpfwatch# $3" >>"$log"
    ct "$2" bash -c "cd /root/bpfwatch && $3" >>"$log" 2>&1
    rc=$?
    echo "# exit $rc after $(( $(date +%s) - start )) s" >>"$log"
    if [ $rc -eq 0 ]; then
        pass "$1: exit 0 ($(( $(date +%s) - start )) s)"
    else
        fail "$1: exit $rc; the end of its transcript:"
        tail -n 30 "$log" | sed 's/^/    /'
    fi
    return $rc
}
run "install make, which the README's commands assume" 600 \
    "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends make" ||
    finish
run "make demo, first run on the fresh machine" 1800 "make demo" || finish
run "make check-unit, first run after it" 1200 "make check-unit"
grep -E '^(ok|FAIL) |passed, [0-9]+ failed' "$log" | tail -n 12 | sed 's/^/    /'
echo "# transcript in $log; took $(( $(date +%s) - t0 )) s"
finish
