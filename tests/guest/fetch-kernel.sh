#!/usr/bin/env bash
# Fetch (once) and unpack a Debian kernel package for the test guest, and
# print the path of its vmlinuz.
#
# usage: fetch-kernel.sh [SUITE PACKAGE]
#   default: the sched_ext-capable Debian 7.3.4 cloud kernel from trixie-backports.
#   e.g.:    fetch-kernel.sh bookworm linux-image-6.1.0-37-cloud-amd64
#
# Cache: ${BPFWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfwatch}.  A second
# call finds the unpacked kernel and returns at once, without network.
# The cloud flavour has virtio and the 8250 serial console built in, so no
# modules are needed; only the image itself is used.
set -euo pipefail

suite=${1:-trixie-backports}
pkg=${2:-linux-binary-7.3.4+deb13-cloud-amd64}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${BPFWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfwatch}
unpacked="$cache/kernels/$pkg"

# find_vmlinuz DIR: the kernel image inside an unpacked package.  Newer
# packages (linux-binary-*) keep it beside the modules, older ones in /boot.
find_vmlinuz() {
    local f
    for f in "$1"/usr/lib/modules/*/vmlinuz "$1"/boot/vmlinuz-*; do
        [ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
    done
    return 1
}

if [ -e "$unpacked/.complete" ] && find_vmlinuz "$unpacked"; then
    exit 0
fi

deb=$("$here/fetch-debs.sh" "$cache/apt-$suite" "$suite" "$pkg")
mkdir -p "$cache/kernels"
tmp=$(mktemp -d "$cache/kernels/.unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
find_vmlinuz "$tmp" >/dev/null || { echo "fetch-kernel: $deb has no vmlinuz (looked in usr/lib/modules/*/ and boot/)" >&2; exit 1; }
touch "$tmp/.complete"
rm -rf "$unpacked"
mv "$tmp" "$unpacked"
trap - EXIT
find_vmlinuz "$unpacked"
