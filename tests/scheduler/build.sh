#!/usr/bin/env bash
# Build the guest side of the end-to-end tests: the demo sched_ext scheduler,
# the decoy BPF object, and the static loader that carries both.
#
# usage: build.sh [--vmlinuz PATH | --btf PATH] OUTDIR
#
# Writes OUTDIR/bw_loader (static x86-64 binary, both BPF objects inside),
# OUTDIR/scenario (the guest's /scenario), and, for host-side tests that want
# to read their BTF, OUTDIR/bw_demo.bpf.o and OUTDIR/bw_decoy.bpf.o.
#
# The kernel types (vmlinux.h) come from the guest kernel's own BTF: from
# --btf, else from the bzImage given by --vmlinuz or $BW_VMLINUZ, else from
# the one tests/guest/fetch-kernel.sh prints (its last line of output).
#
# Debian 12's libbpf (1.1) cannot attach struct_ops through links, so libbpf
# 1.4 and a matching bpftool are taken from bookworm-backports through
# tests/guest/fetch-debs.sh and unpacked into the cache
# ($BPFWATCH_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/bpfwatch); the
# loader links that libbpf.a statically.  A second run with the same inputs
# does nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${BPFWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfwatch}

vmlinuz=${BW_VMLINUZ:-}
btf_in=
while [ $# -gt 0 ]; do
    case $1 in
    --vmlinuz) vmlinuz=$2; shift 2 ;;
    --btf) btf_in=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "build.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -eq 1 ] || { echo "usage: build.sh [--vmlinuz PATH | --btf PATH] OUTDIR" >&2; exit 2; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
work=$out/.build
mkdir -p "$work"

log() { echo "build.sh: $*" >&2; }

# --- Debian packages of this system -----------------------------------------
for cmd in clang llvm-strip gcc objcopy zstd python3 dpkg-deb; do
    if ! command -v "$cmd" >/dev/null; then
        log "$cmd missing; installing the project's Debian dependencies"
        bash "$repo/tests/deps.sh"
        break
    fi
done
multiarch=$(gcc -print-multiarch)
syslib=/usr/lib/$multiarch
for a in libelf.a libz.a; do
    [ -f "$syslib/$a" ] || { log "$syslib/$a missing; installing dependencies"; bash "$repo/tests/deps.sh"; break; }
done
static_libs=("$syslib/libelf.a" "$syslib/libz.a")
# libelf may be built with zstd section compression; linking it when unused costs nothing.
[ -f "$syslib/libzstd.a" ] && static_libs+=("$syslib/libzstd.a")

# --- libbpf 1.4+ and bpftool from bookworm-backports ------------------------
# Debian 12's libbpf 1.1 knows no SEC(".struct_ops.link"); 1.4 is what
# backports carries and what the loader was tested with.
LIBBPF_MIN_MAJOR=1 LIBBPF_MIN_MINOR=4
tools=$cache/bpf-toolchain
libbpf_ok() {
    local h=$tools/usr/include/bpf/libbpf_version.h maj min
    [ -x "$tools/usr/sbin/bpftool" ] && [ -f "$tools/usr/lib/$multiarch/libbpf.a" ] && [ -f "$h" ] || return 1
    maj=$(awk '/define LIBBPF_MAJOR_VERSION/ {print $3}' "$h")
    min=$(awk '/define LIBBPF_MINOR_VERSION/ {print $3}' "$h")
    [ "$maj" -gt "$LIBBPF_MIN_MAJOR" ] || { [ "$maj" -eq "$LIBBPF_MIN_MAJOR" ] && [ "$min" -ge "$LIBBPF_MIN_MINOR" ]; }
}
if ! libbpf_ok; then
    log "fetching libbpf and bpftool from bookworm-backports"
    mapfile -t debs < <(bash "$repo/tests/guest/fetch-debs.sh" "$cache" bookworm-backports libbpf-dev libbpf1 bpftool)
    rm -rf "$tools.new"
    mkdir -p "$tools.new"
    for d in "${debs[@]}"; do dpkg-deb -x "$d" "$tools.new"; done
    rm -rf "$tools"
    mv "$tools.new" "$tools"
    libbpf_ok || { log "the backports libbpf is older than $LIBBPF_MIN_MAJOR.$LIBBPF_MIN_MINOR"; exit 1; }
fi
bpftool=$tools/usr/sbin/bpftool
libbpf_a=$tools/usr/lib/$multiarch/libbpf.a
libbpf_inc=$tools/usr/include

# --- kernel BTF -> vmlinux.h -------------------------------------------------
if [ -z "$btf_in" ]; then
    if [ -z "$vmlinuz" ]; then
        [ -f "$repo/tests/guest/fetch-kernel.sh" ] || { log "no --vmlinuz/--btf given and tests/guest/fetch-kernel.sh is missing"; exit 1; }
        vmlinuz=$(bash "$repo/tests/guest/fetch-kernel.sh" | tail -n1)
    fi
    [ -f "$vmlinuz" ] || { log "kernel image '$vmlinuz' not found"; exit 1; }
    src_id=$(sha256sum < "$vmlinuz" | cut -d' ' -f1)
    if [ ! -f "$work/vmlinux.btf" ] || [ "$(cat "$work/vmlinux.btf.src" 2>/dev/null)" != "$src_id" ]; then
        log "extracting BTF from $vmlinuz"
        bash "$here/extract-btf.sh" "$vmlinuz" "$work/vmlinux.btf"
        echo "$src_id" > "$work/vmlinux.btf.src"
    fi
    btf=$work/vmlinux.btf
else
    btf=$btf_in
fi

# Everything the outputs depend on; unchanged inputs mean nothing to do.
stamp=$( { sha256sum < "$btf"; cat "$here"/bw_*.[chS] "$here/build.sh" "$here/scenario.sh";
           "$bpftool" version; clang --version; gcc --version; sha256sum < "$libbpf_a"; } | sha256sum | cut -d' ' -f1)
if [ -x "$out/bw_loader" ] && [ -x "$out/scenario" ] && [ "$(cat "$work/stamp" 2>/dev/null)" = "$stamp" ]; then
    log "up to date: $out/bw_loader"
    exit 0
fi

"$bpftool" btf dump file "$btf" format c > "$work/vmlinux.h.new"
mv "$work/vmlinux.h.new" "$work/vmlinux.h"

# --- BPF objects --------------------------------------------------------------
# -fms-extensions: kernels from 6.19 on embed tagged structs as anonymous
# members ("struct foo;" inside a struct), which vmlinux.h reproduces.
# -mcpu=v3: atomic fetch-and-add whose result is used.
# -Wno-unused-parameter: BPF_PROG() wraps every callback in a function
# taking the raw context, used or not.
# llvm-strip -g drops DWARF and keeps .BTF/.BTF.ext, which libbpf needs.
bpf_cflags=(-O2 -g -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -fms-extensions
            -Wno-microsoft-anon-tag -Wall -Wextra -Wno-unused-parameter -Werror
            -I"$work" -I"$libbpf_inc" -I"$here")
for o in bw_demo bw_decoy; do
    clang "${bpf_cflags[@]}" -c "$here/$o.bpf.c" -o "$work/$o.bpf.o"
    llvm-strip -g "$work/$o.bpf.o"
done

# --- static loader ------------------------------------------------------------
gcc -c "$here/bw_objs.S" -o "$work/bw_objs.o" \
    -DBW_DEMO_OBJ="\"$work/bw_demo.bpf.o\"" -DBW_DECOY_OBJ="\"$work/bw_decoy.bpf.o\""
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -I"$libbpf_inc" -I"$here" \
    -c "$here/bw_loader.c" -o "$work/bw_loader.o"
gcc -static -o "$work/bw_loader" "$work/bw_loader.o" "$work/bw_objs.o" \
    "$libbpf_a" "${static_libs[@]}"

install -m 0755 "$work/bw_loader" "$out/bw_loader"
install -m 0755 "$here/scenario.sh" "$out/scenario"
install -m 0644 "$work/bw_demo.bpf.o" "$work/bw_decoy.bpf.o" "$out/"
echo "$stamp" > "$work/stamp"
log "built $out/bw_loader and $out/scenario"
