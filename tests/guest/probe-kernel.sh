#!/usr/bin/env bash
# Boot a Debian kernel package in the test guest and show what it says
# about itself: the BWTRUTH lines and the whole VMCOREINFO text.  Not part
# of `make check`; for finding out what bpfwatchd can expect from a kernel
# (which VMCOREINFO keys, whether KALLSYMS_ALL data symbols such as map_idr
# are in kallsyms).
#
# usage: probe-kernel.sh [SUITE PACKAGE [RAM]]
#   probe-kernel.sh                                     the default test kernel
#   probe-kernel.sh bookworm linux-image-6.1.0-50-cloud-amd64
# Output: stdout, and tests/guest/out/probe-PACKAGE.{truth,vmcoreinfo,log}.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${1:-trixie-backports}
pkg=${2:-linux-binary-7.3.4+deb13-cloud-amd64}
ram=${3:-1G}
out=$here/out
mkdir -p "$out"

source "$here/lib.sh"
kernel=$("$here/fetch-kernel.sh" "$suite" "$pkg")
"$here/build-initramfs.sh" "$out/initramfs-probe.cpio.gz"
bw_guest_start probe "$ram" "$kernel" "$out/initramfs-probe.cpio.gz" bw.dump_vmcoreinfo
ok=0
bw_guest_wait_ready probe 180 || ok=$?
log=$(bw_guest_log probe)
tr -d '\r' <"$log" >"$out/probe-$pkg.log"
bw_guest_truth probe >"$out/probe-$pkg.truth"
sed -n 's/^.*BWVMCOREINFO //p' "$out/probe-$pkg.log" >"$out/probe-$pkg.vmcoreinfo"
bw_guest_stop probe
[ "$ok" -eq 0 ] || exit 1

echo "== $pkg: truth"
cat "$out/probe-$pkg.truth"
echo "== $pkg: VMCOREINFO"
cat "$out/probe-$pkg.vmcoreinfo"
