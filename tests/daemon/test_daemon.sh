#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The real bpfwatchd over its real socket on a synthetic guest RAM file
# (tests/tools/make_guest.c): states, every request, errors, many clients,
# subscribers, reload, SIGTERM and the state file, socket activation, bad
# configuration.  The checks are in daemon_harness.py; this wrapper finds
# the binaries, bounds the run in time and makes sure nothing is left
# behind.
#
# Environment: O (bpfwatchd is $O/daemon/bpfwatchd, default .), B (the
# tool is $B/tests/tool_make_guest, default build), BPFWATCHD and
# TOOL_MAKE_GUEST override either path.
set -uo pipefail

cd "$(dirname "$0")/../.."
O=${O:-.}
B=${B:-build}
export O B
export BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
export TOOL_MAKE_GUEST=${TOOL_MAKE_GUEST:-$B/tests/tool_make_guest}
# The distribution's interpreter (what tests/deps.sh installs) starts faster than a shim.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

for bin in "$BPFWATCHD" "$TOOL_MAKE_GUEST"; do
    if [ ! -x "$bin" ]; then
        echo "test_daemon: $bin is not built"
        echo "test_daemon: 0 passed, 1 failed"
        exit 1
    fi
done

# The harness stops what it started on exit, on SIGTERM and (through
# PR_SET_PDEATHSIG) even when killed; the timeout is the last resort.
# Its files live in a directory this script removes whatever happens.
tmp=$(mktemp -d /tmp/bwd.XXXXXX) || exit 1
export BW_DAEMON_TEST_DIR=$tmp
harness=
cleanup() {
    [ -n "$harness" ] && kill "$harness" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
timeout --signal=TERM --kill-after=10 180 "$PY" tests/daemon/daemon_harness.py &
harness=$!
wait "$harness"
rc=$?
harness=
exit "$rc"
