#!/usr/bin/env bash
# End to end: bpfwatchd on guests whose RAM is given to QEMU the ways people
# run it, each compared with the guest's own truth (`--inspect kernel`
# against /proc/kallsyms and /proc/kcore, the watch engine against the
# values the guest reads through bpf()), by tests/e2e/test_watch_engine.sh
# with several readers per guest.  Three guests:
#   numa-file   q35, 2 GiB in two NUMA nodes, each a memory-backend-file:
#               read with both files, and with --memory-pid; and with only
#               node 0's file, which must give no number that is not whole
#               (booted with nokaslr so that the kernel image is in node 0
#               and a kernel model can be built from it);
#   numa-memfd  q35, 6 GiB in two memfd nodes (node 0 straddles the 4 GiB
#               split): --memory-pid with no --layout (q35 chosen), and
#               with --qmp (QEMU's own memory map);
#   private     pc, 4 GiB of QEMU's own private RAM (no memory option):
#               --memory-pid (process_vm_readv) with no --layout (pc
#               chosen), and with --qmp.
# Each line of the output of a guest's run ends in its seconds.
#
# Env: as tests/e2e/test_watch_engine.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
passed=0
failed=0
rc_all=0

# run TAG VAR=VALUE...: one guest through test_watch_engine.sh.
run() {
    local tag=$1 t0=$SECONDS rc=0 log
    shift
    log=$root/tests/guest/out/guest-memory-$tag.txt
    mkdir -p "$(dirname "$log")"
    env BW_E2E_TAG="$tag" "$@" bash tests/e2e/test_watch_engine.sh >"$log" 2>&1 || rc=$?
    cat "$log"
    passed=$((passed + $(grep -c '^ok ' "$log" || true)))
    failed=$((failed + $(grep -c '^FAIL ' "$log" || true)))
    [ "$rc" -eq 0 ] || rc_all=1
    echo "guest $tag: exit $rc after $((SECONDS - t0)) s"
}

run numa-file BW_E2E_GUEST_MEMORY=numa-file BW_E2E_GUEST_RAM=2G BW_E2E_GUEST_ARGS=nokaslr \
    "BW_E2E_READERS=files=--memory @MEM0@ --memory @MEM1@;pid=--memory-pid @PID@" \
    "BW_E2E_READER_CHECK=files=shared mapping,q35,2;pid=shared mapping,q35,2" \
    "BW_E2E_PARTIAL_READERS=node0=--memory @MEM0@"
run numa-memfd BW_E2E_GUEST_MEMORY=numa-memfd BW_E2E_GUEST_RAM=6G \
    "BW_E2E_READERS=pid=--memory-pid @PID@;qmp=--memory-pid @PID@ --qmp @QMP@" \
    "BW_E2E_READER_CHECK=pid=shared mapping,q35,2;qmp=shared mapping,qemu,2"
run private BW_E2E_GUEST_MEMORY=private BW_E2E_GUEST_MACHINE=pc BW_E2E_GUEST_RAM=4G \
    "BW_E2E_READERS=pid=--memory-pid @PID@;qmp=--memory-pid @PID@ --qmp @QMP@" \
    "BW_E2E_READER_CHECK=pid=process_vm_readv,pc,1;qmp=process_vm_readv,qemu,1"

echo "test_guest_memory: $passed passed, $failed failed"
[ "$rc_all" -eq 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
