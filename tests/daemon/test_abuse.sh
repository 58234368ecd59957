#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Clients that try to take the real bpfwatchd down, on a synthetic 128-CPU
# guest: idle connections, pipelines that never read, many clients,
# subscribers that never read, huge and unclosed lines, connection churn,
# a peer outside the control list (checks in abuse_harness.py).  Local
# socket only; bounded in time; nothing left behind.
set -uo pipefail

cd "$(dirname "$0")/../.."
O=${O:-.}
B=${B:-build}
export O B
export BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
export BPFWATCHCTL=${BPFWATCHCTL:-$O/daemon/bpfwatchctl}
export TOOL_MAKE_GUEST=${TOOL_MAKE_GUEST:-$B/tests/tool_make_guest}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3

for bin in "$BPFWATCHD" "$BPFWATCHCTL" "$TOOL_MAKE_GUEST"; do
    if [ ! -x "$bin" ]; then
        echo "test_abuse: $bin is not built"
        echo "test_abuse: 0 passed, 1 failed"
        exit 1
    fi
done

tmp=$(mktemp -d /tmp/bwa.XXXXXX) || exit 1
export BW_DAEMON_TEST_DIR=$tmp
harness=
cleanup() {
    [ -n "$harness" ] && kill "$harness" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
timeout --signal=TERM --kill-after=10 240 "$PY" tests/daemon/abuse_harness.py &
harness=$!
wait "$harness"
rc=$?
harness=
exit "$rc"
