#!/usr/bin/env bash
# Prepare the test guest: fetch the kernel (cached) and build the initramfs
# in tests/guest/out/.  Prints two lines, KERNEL=<vmlinuz> and
# INITRAMFS=<cpio.gz>, for scripts to eval or read.
#
# usage: build-guest.sh [FILE | FILE=/PATH_IN_GUEST]...
#   extra files for the initramfs, as for build-initramfs.sh (for example
#   a loader as /scenario, which the guest's /init runs once it is ready).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kernel=$("$here/fetch-kernel.sh")
initrd=$here/out/initramfs.cpio.gz
"$here/build-initramfs.sh" "$initrd" "$@"
printf 'KERNEL=%s\nINITRAMFS=%s\n' "$kernel" "$initrd"
