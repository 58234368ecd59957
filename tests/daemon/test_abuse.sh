#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Clients that try to take the real bpfwatchd down, on a synthetic 128-CPU
# guest: idle connections, pipelines that never read, many clients,
# subscribers that never read, huge and unclosed lines, connection churn,
# a peer outside the control list (checks in abuse_harness.py).  Local
# socket only; bounded in time; nothing left behind.
exec "$(dirname "$0")/run_harness.sh" test_abuse abuse_harness.py 240
