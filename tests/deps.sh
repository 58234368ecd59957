#!/usr/bin/env bash
# Install the Debian packages that building and testing bpfwatch need,
# only those that are missing (so a second `make check` costs nothing).
set -euo pipefail

packages=(
    build-essential pkg-config
    libbpf-dev libelf-dev libsystemd-dev libjansson-dev check zlib1g-dev libzstd-dev
    clang llvm libclang-rt-14-dev
    qemu-system-x86 busybox-static cpio zstd
    python3 systemd man-db groff-base
    prometheus prometheus-node-exporter python3-prometheus-client
    systemd-container mmdebstrap
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
else
    sudo=
fi
echo "deps: installing ${missing[*]}" >&2
$sudo apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
