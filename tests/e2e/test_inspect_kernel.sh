#!/usr/bin/env bash
# End to end: `bpfwatchd --inspect kernel` against a real Debian kernel
# booted under QEMU, compared with what the guest itself reads from
# /proc/kallsyms, /sys/kernel/btf/vmlinux, /sys/kernel/vmcoreinfo and
# /proc/kcore (tests/guest/init.sh prints those as BWTRUTH lines).
#
# Two RAM sizes: 1G keeps all RAM below 4 GiB; 3G on q35 puts the first
# 2 GiB below 4 GiB and the rest from 4 GiB up, so guest physical addresses
# and file offsets differ there.  Then two files without a kernel (zeros,
# random bytes), on which bpfwatchd must fail and say VMCOREINFO was not found.
#
# Env: O (build output dir, default .; build-san under SANITIZE=1),
#      BPFWATCHD (default $O/daemon/bpfwatchd),
#      BW_E2E_RAM_SIZES (default "1G 3G"),
#      BPFWATCH_CACHE (kernel download cache, see tests/guest/fetch-kernel.sh).
# Results, guest logs and bpfwatchd's output go to tests/guest/out/.
# shellcheck source-path=SCRIPTDIR/../guest
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
O=${O:-.}
BPFWATCHD=${BPFWATCHD:-$O/daemon/bpfwatchd}
ram_sizes=${BW_E2E_RAM_SIZES:-1G 3G}
out=$root/tests/guest/out
compare=$root/tests/e2e/compare_inspect_kernel.py
# bpfwatchd scans all of guest RAM once; even a sanitizer build of it has
# no reason to take longer than this for 3 GiB.
inspect_timeout=120

# shellcheck source=lib.sh
source "$root/tests/guest/lib.sh"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/bw-e2e.XXXXXX")
trap 'bw_guest_stop_all; rm -rf "$scratch"' EXIT

mkdir -p "$out"
passed=0
failed=0
py=$(bw_python)
# run_compare REPORT ARGS...: the comparison's lines into REPORT.
run_compare() { bw_run_compare "$py" "$compare" "$@"; }

if [ ! -x "$BPFWATCHD" ]; then
    echo "test_inspect_kernel: $BPFWATCHD is not built (run make, or set O or BPFWATCHD)" >&2
    exit 1
fi

kernel=$(tests/guest/fetch-kernel.sh)
initrd=$out/initramfs-inspect-kernel.cpio.gz
tests/guest/build-initramfs.sh "$initrd"

# Boot every guest first: each is one host thread, and they boot while the
# others are being inspected.
for ram in $ram_sizes; do
    bw_guest_start "$ram" "$ram" "$kernel" "$initrd"
done

# run_inspect NAME MEMORY: bpfwatchd's stdout, stderr and exit code in $out.
run_inspect() {
    local name=$1 mem=$2 rc=0 t0=$SECONDS
    timeout "$inspect_timeout" "$BPFWATCHD" --inspect kernel --memory "$mem" --layout q35 \
        >"$out/inspect-kernel-$name.json" 2>"$out/inspect-kernel-$name.stderr" || rc=$?
    echo "$rc" >"$out/inspect-kernel-$name.rc"
    echo "bpfwatchd --inspect kernel ($name): exit $rc after $((SECONDS - t0)) s"
    return 0
}

for ram in $ram_sizes; do
    echo "== guest with $ram RAM"
    t0=$SECONDS
    if ! bw_guest_wait_ready "$ram" 120; then
        tr -d '\r' <"$(bw_guest_log "$ram")" >"$out/serial-$ram.log"
        echo "FAIL guest $ram did not boot" >"$out/report-$ram.txt"
        bw_tally "$out/report-$ram.txt"
        continue
    fi
    echo "guest ready after $((SECONDS - t0)) s more"
    bw_guest_truth "$ram" >"$out/truth-$ram.txt"
    run_inspect "$ram" "$(bw_guest_mem "$ram")"
    tr -d '\r' <"$(bw_guest_log "$ram")" >"$out/serial-$ram.log"
    bw_guest_stop "$ram"
    rc=$(cat "$out/inspect-kernel-$ram.rc")
    if [ "$rc" -ne 0 ]; then
        {
            echo "FAIL bpfwatchd exit code $rc"
            sed 's/^/  stderr: /' "$out/inspect-kernel-$ram.stderr" | head -n 20
        } >"$out/report-$ram.txt"
    else
        run_compare "$out/report-$ram.txt" kernel "$out/truth-$ram.txt" "$out/inspect-kernel-$ram.json"
    fi
    cat "$out/report-$ram.txt"
    bw_tally "$out/report-$ram.txt"
done

# Memory without a kernel in it.
truncate -s 64M "$scratch/zeros"
head -c 64M /dev/urandom >"$scratch/random"
for name in zeros random; do
    echo "== no kernel: 64 MiB of $name"
    run_inspect "$name" "$scratch/$name"
    run_compare "$out/report-$name.txt" negative "$(cat "$out/inspect-kernel-$name.rc")" \
        "$out/inspect-kernel-$name.json" "$out/inspect-kernel-$name.stderr"
    cat "$out/report-$name.txt"
    bw_tally "$out/report-$name.txt"
    rm -f "$scratch/$name"
done

echo "test_inspect_kernel: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
