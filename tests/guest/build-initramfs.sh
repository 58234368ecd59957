#!/usr/bin/env bash
# Build the test guest's initramfs: a static busybox, tests/guest/init.sh as
# /init, and any extra files.
#
# usage: build-initramfs.sh OUT.cpio.gz [FILE | FILE=/PATH_IN_GUEST]...
#   FILE           copied to /<basename of FILE> in the guest
#   FILE=/PATH     copied to /PATH (e.g. loader=/scenario for the hook /init runs)
# Env: BUSYBOX, the static busybox to use (default /bin/busybox, from the
# busybox-static package).
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: build-initramfs.sh OUT.cpio.gz [FILE[=/PATH]]..." >&2; exit 2; }
out=$1; shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bb=${BUSYBOX:-/bin/busybox}

[ -x "$bb" ] || { echo "build-initramfs: $bb not found (install busybox-static)" >&2; exit 1; }
# The guest has no shared libraries: a dynamically linked busybox would not start.
if LC_ALL=C readelf -lW "$bb" 2>/dev/null | grep -q 'program interpreter'; then
    echo "build-initramfs: $bb is dynamically linked; install busybox-static" >&2
    exit 1
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/bw-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,root}
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$here/init.sh" "$root/init"

for spec in "$@"; do
    src=${spec%%=*}
    if [ "$src" = "$spec" ]; then
        dest=/$(basename "$src")
    else
        dest=${spec#*=}
    fi
    case $dest in
        /*) ;;
        *) echo "build-initramfs: $spec: the guest path must be absolute" >&2; exit 2 ;;
    esac
    [ -f "$src" ] || { echo "build-initramfs: $src: no such file" >&2; exit 1; }
    mkdir -p "$root$(dirname "$dest")"
    cp -L "$src" "$root$dest"
done

mkdir -p "$(dirname "$out")"
# Files owned by root in the guest whoever builds it; sorted for a stable archive.
(cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --null --quiet -o -H newc -R 0:0) | gzip -n -6 > "$out.tmp"
mv "$out.tmp" "$out"
