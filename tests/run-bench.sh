#!/usr/bin/env bash
# Benchmarks (`make bench`): figures and ratios, never pass/fail timing.
#
#  1. Time from opening a guest's RAM to a complete kernel model, on real
#     Debian 7.3.4 guests of 1 GiB, 3 GiB and 4 GiB booted under QEMU (their
#     RAM files are mostly holes, as a freshly booted guest's are), and on
#     a 4 GiB guest with QEMU's own private RAM, read with process_vm_readv.
#  2. Every tests/bench/bench_* program: synthetic guests up to 4 GiB,
#     sparse and dense (every page written: the worst case for the scan),
#     and the per-tick cost of watches.
#
# Env: B (build dir of the bench binaries), BW_BENCH_REAL=0 skips part 1.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
B=${B:-build}
out=$root/tests/guest/out
mkdir -p "$out"

if [ "${BW_BENCH_REAL:-1}" != 0 ]; then
    # shellcheck source=guest/lib.sh
    source "$root/tests/guest/lib.sh"
    kernel=$(tests/guest/fetch-kernel.sh)
    initrd=$out/initramfs-bench.cpio.gz
    tests/guest/build-initramfs.sh "$initrd"
    echo "== real guests (Debian 7.3.4 cloud kernel, q35, KASLR on)"
    for ram in 1G 3G 4G; do
        bw_guest_start "bench$ram" "$ram" "$kernel" "$initrd"
        bw_guest_wait_ready "bench$ram" 120
        "$B/tests/bench_kernel_open" "$(bw_guest_mem "bench$ram")" q35 5 "real guest $ram"
        bw_guest_stop "bench$ram"
    done
    BW_GUEST_MEMORY=private BW_GUEST_MACHINE=pc bw_guest_start benchpriv 4G "$kernel" "$initrd"
    bw_guest_wait_ready benchpriv 120
    "$B/tests/bench_kernel_open" "pid:$(bw_guest_pid benchpriv)" pc 5 "real guest 4G, private RAM"
    bw_guest_stop benchpriv
    # The daemon's sampling rate and CPU use at 10 Hz and 1 kHz with the demo watch set.
    B="$B" tests/bench/daemon_rate.sh
    # The kernel and BTF of the real guest make the synthetic bench realistic.
    btf=$out/bench-vmlinux.btf
    if [ ! -s "$btf" ]; then
        tests/scheduler/extract-btf.sh "$kernel" "$btf" >/dev/null
    fi
    export BW_BENCH_BTF=$btf
fi

for bench in "$B"/tests/bench_*; do
    [ -x "$bench" ] || continue
    [ "$(basename "$bench")" = bench_kernel_open ] && continue
    echo "== $(basename "$bench")"
    "$bench"
done
