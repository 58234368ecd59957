#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A Debian 12 root with systemd for systemd-nspawn --boot, made once with
# mmdebstrap (apt, from the machine's own Debian archive URIs) and cached:
#
#   build-root.sh CACHE_DIR     prints the path of the root
#
# The cached root is never booted itself: tests copy it (cp --reflink) so
# every run starts from the same fresh system.  Its name carries a hash of
# the package list, so a changed list makes a new root.
set -euo pipefail

cache=${1:?usage: build-root.sh CACHE_DIR}
packages=(systemd systemd-sysv dbus libbpf1 libelf1 libjansson4 libsystemd0 acl)
key=$(printf '%s\n' bookworm "${packages[@]}" | sha256sum | cut -c1-12)
root=$cache/nspawn/bookworm-$key
if [ -e "$root/.complete" ]; then
    printf '%s\n' "$root"
    exit 0
fi

mirror=$(awk '/^URIs:/ {u=$2} /^Suites:/ && u!="" && $0 !~ /security/ {print u; exit}' \
    /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
    mirror=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "build-root: no Debian archive URI in the system's apt sources" >&2; exit 1; }

tmp=$root.tmp.$$
rm -rf "$tmp"
mkdir -p "$(dirname "$root")"
trap 'rm -rf "$tmp"' EXIT
include=$(IFS=,; echo "${packages[*]}")
mmdebstrap --quiet --variant=minbase --include="$include" bookworm "$tmp" "$mirror" >&2
# A root password is not needed: the tests drive it with systemd-run/machinectl shell.
touch "$tmp/.complete"
rm -rf "$root"
mv "$tmp" "$root"
trap - EXIT
printf '%s\n' "$root"
