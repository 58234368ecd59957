#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bpfwatchd's metrics through Debian's promtool, node_exporter and
# Prometheus (packages from tests/deps.sh); checks in prometheus_check.py.
set -uo pipefail

cd "$(dirname "$0")/../.."
export O=${O:-.} B=${B:-build}
export BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
export TOOL_MAKE_GUEST=${TOOL_MAKE_GUEST:-$B/tests/tool_make_guest}
for tool in promtool prometheus prometheus-node-exporter; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL $tool not found (packages prometheus, prometheus-node-exporter: tests/deps.sh)"
        echo "test_prometheus: 0 passed, 1 failed"
        exit 1
    fi
done
tmp=$(mktemp -d /tmp/bwprom.XXXXXX) || exit 1
export BW_DAEMON_TEST_DIR=$tmp
trap 'rm -rf "$tmp"' EXIT
timeout --signal=TERM --kill-after=10 150 /usr/bin/python3 tests/system/prometheus_check.py
