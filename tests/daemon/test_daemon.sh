#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The real bpfwatchd over its real socket on a synthetic guest RAM file
# (tests/tools/make_guest.c): states, every request, errors, many clients,
# subscribers, reload, SIGTERM and the state file, socket activation, bad
# configuration.  The checks are in daemon_harness.py; run_harness.sh finds
# the binaries, bounds the run in time and makes sure nothing is left
# behind.
exec "$(dirname "$0")/run_harness.sh" test_daemon daemon_harness.py 180
