#!/usr/bin/env bash
# Extract the kernel's own BTF (the .BTF section of vmlinux) from a bzImage.
#
# A bzImage is the real-mode setup code ((setup_sects + 1) * 512 bytes; a
# setup_sects of 0 means 4) followed by the protected-mode part, which holds
# the compressed vmlinux.  Boot protocol 2.08+ (Documentation/arch/x86/boot.rst)
# records where that payload sits: payload_offset (u32 at 0x248, relative to
# the protected-mode part) and payload_length (u32 at 0x24c).  The kernel's
# zstd rule (scripts/Makefile.lib, cmd_zstd22) appends the uncompressed size
# as 4 little-endian bytes after the zstd frame, so those are dropped before
# decompressing.  Kernels without the header fields, or packed with another
# compressor, are rejected with a message rather than guessed at.
#
# usage: extract-btf.sh VMLINUZ OUT.btf [OUT.vmlinux]
# Writes the raw BTF blob to OUT.btf; with a third argument also keeps the
# decompressed ELF there.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: extract-btf.sh VMLINUZ OUT.btf [OUT.vmlinux]" >&2; exit 2; }
vmlinuz=$1; out=$2; keep_elf=${3:-}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$vmlinuz" "$tmp/payload.zst" <<'PY'
import struct, sys

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# The zstd rule appends the decompressed size (u32) after the frame.
SIZE_TRAILER = 4

src, dst = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
def fail(msg):
    sys.exit("extract-btf: %s: %s" % (src, msg))
if len(data) < 0x250 or data[0x202:0x206] != b"HdrS":
    fail("not a bzImage (no HdrS setup header)")
version = struct.unpack_from("<H", data, 0x206)[0]
if version < 0x208:
    fail("boot protocol %#x has no payload_offset/payload_length (needs 2.08+)" % version)
setup_sects = data[0x1f1] or 4
offset, length = struct.unpack_from("<II", data, 0x248)
start = (setup_sects + 1) * 512 + offset
if length <= SIZE_TRAILER or start + length > len(data):
    fail("payload [%d, +%d) lies outside the %d-byte file" % (start, length, len(data)))
if data[start:start + 4] != ZSTD_MAGIC:
    fail("payload is not zstd (starts with %s)" % data[start:start + 4].hex())
open(dst, "wb").write(data[start:start + length - SIZE_TRAILER])
PY

zstd -q -d -f "$tmp/payload.zst" -o "$tmp/vmlinux"
objcopy -O binary --only-section=.BTF "$tmp/vmlinux" "$tmp/btf"
# A BTF blob starts with magic 0xeb9f, little endian on x86.
[ "$(head -c2 "$tmp/btf" | od -An -tx1 | tr -d ' \n')" = "9feb" ] || {
    echo "extract-btf: $vmlinuz: the decompressed kernel has no usable .BTF section" >&2; exit 1; }
chmod 0644 "$tmp/btf"
mv "$tmp/btf" "$out"
if [ -n "$keep_elf" ]; then mv "$tmp/vmlinux" "$keep_elf"; fi
