#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bpfwatchd's scx_stats side against a client held to the scx_stats
# crate's message shapes and types (tests/daemon/scx_stats_client.py), on a
# synthetic guest (tests/tools/make_guest.c).
set -uo pipefail

cd "$(dirname "$0")/../.."
export O=${O:-.} B=${B:-build}
export BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
export TOOL_MAKE_GUEST=${TOOL_MAKE_GUEST:-$B/tests/tool_make_guest}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/bwscx.XXXXXX) || exit 1
export BW_DAEMON_TEST_DIR=$tmp
trap 'rm -rf "$tmp"' EXIT
timeout --signal=TERM --kill-after=10 120 "$PY" tests/daemon/scx_stats_client.py
