#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_harness.sh NAME HARNESS.py SECONDS: run a Python harness of the real
# bpfwatchd (tests/daemon/) with the binaries found, bounded in time, in a
# scratch directory removed whatever happens.  The harness stops what it
# started on exit, on SIGTERM and (PR_SET_PDEATHSIG) even when killed; the
# timeout is the last resort.
#
# Environment: O (bpfwatchd and bpfwatchctl are in $O/daemon, default .),
# B (the tool is $B/tests/tool_make_guest, default build); BPFWATCHD,
# BPFWATCHCTL and TOOL_MAKE_GUEST override each path.
set -uo pipefail

name=$1 harness=$2 seconds=$3
cd "$(dirname "$0")/../.."
O=${O:-.}
B=${B:-build}
export O B
export BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
export BPFWATCHCTL=${BPFWATCHCTL:-$O/daemon/bpfwatchctl}
export TOOL_MAKE_GUEST=${TOOL_MAKE_GUEST:-$B/tests/tool_make_guest}
# The distribution's interpreter (what tests/deps.sh installs) starts faster than a shim.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

for bin in "$BPFWATCHD" "$BPFWATCHCTL" "$TOOL_MAKE_GUEST"; do
    if [ ! -x "$bin" ]; then
        echo "$name: $bin is not built"
        echo "$name: 0 passed, 1 failed"
        exit 1
    fi
done

tmp=$(mktemp -d "/tmp/bw-$name.XXXXXX") || exit 1
export BW_DAEMON_TEST_DIR=$tmp
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
timeout --signal=TERM --kill-after=10 "$seconds" "$PY" "tests/daemon/$harness" &
pid=$!
wait "$pid"
rc=$?
pid=
exit "$rc"
