#!/bin/sh
# shellcheck shell=dash # busybox ash, which has "local" as dash does
# /init of the bpfwatch test guest: busybox only, no disk, no modules.
#
# It prints on the serial console what the guest kernel says about itself,
# one "BWTRUTH <key> <value>..." line per fact, then "BWTRUTH ready".  The
# end-to-end tests compare what bpfwatchd finds from the outside, in the raw
# guest RAM, with these lines.  Sources, all read as root inside the guest:
#   /proc/kallsyms         symbol addresses (root sees the real, relocated ones)
#   /sys/kernel/btf/vmlinux  the kernel's BTF (its size)
#   /sys/kernel/vmcoreinfo   physical address and size of the VMCOREINFO ELF note
#   /proc/kcore            an ELF view of kernel memory; used for the values of
#                          variables (page_offset_base, phys_base,
#                          __per_cpu_offset[], nr_cpu_ids) and for the
#                          VMCOREINFO text itself
# A fact that cannot be had is announced as "BWTRUTH no<key> <why>" so the
# test knows it was not checked rather than silently skipping it.
#
# Then /scenario (if present and executable) runs in the background, and
# PID 1 idles forever: if it exited the kernel would panic, and with
# panic=-1 and QEMU's -no-reboot the guest would be gone.

export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

truth() { echo "BWTRUTH $*"; }
hex() { printf '0x%016x' "$1"; }

# The firmware leaves escape sequences on the console's current line.
echo

truth uname "$(uname -r)"
truth nproc "$(nproc)"
if [ -r /sys/kernel/btf/vmlinux ]; then
    truth btf_size "$(wc -c < /sys/kernel/btf/vmlinux)"
else
    truth nobtf_size "no /sys/kernel/btf/vmlinux"
fi

# The symbols bpfwatchd resolves, plus two used below.  Module symbols have
# a 4th field ([module]) and are not wanted.
SYMS="_text map_idr prog_idr __per_cpu_offset nr_cpu_ids page_offset_base init_top_pgt __start_BTF __stop_BTF scx_root"
awk -v want="$SYMS phys_base vmcoreinfo_data" '
    BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) need[w[i]] = 1 }
    NF == 3 && ($3 in need) { print $3, $1, $2 }' /proc/kallsyms > /tmp/syms
truth kallsyms_lines "$(wc -l < /proc/kallsyms)"
for s in $SYMS; do
    line=$(grep -m1 "^$s " /tmp/syms)
    if [ -n "$line" ]; then
        # shellcheck disable=SC2086 # split into name, address, type
        set -- $line
        truth sym "$1" "0x$2" "$3"
    else
        truth nosym "$s"
    fi
done
# symaddr NAME: the symbol's address as a shell number, or failure.
symaddr() {
    local a
    a=$(awk -v s="$1" '$1 == s { print $2; exit }' /tmp/syms)
    [ -n "$a" ] && echo $((0x$a))
}

# VMCOREINFO note: "<phys addr> <size>" in hex without 0x.
if [ -r /sys/kernel/vmcoreinfo ]; then
    read -r vci_pa vci_size < /sys/kernel/vmcoreinfo
    vci_pa=${vci_pa#0x}; vci_size=${vci_size#0x}
    truth vmcoreinfo "$(hex $((0x$vci_pa)))" "$(printf '0x%x' $((0x$vci_size)))"
else
    truth novmcoreinfo "no /sys/kernel/vmcoreinfo"
fi

# ---- /proc/kcore ---------------------------------------------------------
# kcore is an ELF64 core file.  Each PT_LOAD program header maps a range of
# kernel virtual addresses (p_vaddr, p_filesz) to a file offset (p_offset);
# for direct-map RAM p_paddr is the physical address (p_vaddr - p_paddr is
# then page_offset_base), for the kernel image it is __pa_symbol(_text),
# and for the other ranges (vmalloc, vmemmap, modules) it is -1.
# Offsets are huge (the file is sparse) but od seeks, so each read is cheap.
KC=/proc/kcore
od_at() { od -v -An "-t$1" -j "$2" -N "$3" "$KC" 2>/dev/null; }
SEGS=""
kcore_load() {
    [ -r "$KC" ] || return 1
    local phoff phnum i b t
    [ "$(od_at x1 0 4 | tr -d ' \n')" = 7f454c46 ] || return 1
    phoff=$((0x$(od_at x8 32 8 | tr -d ' \n')))
    phnum=$(od_at u2 56 2 | tr -d ' \n')
    [ -n "$phnum" ] || return 1
    i=0
    while [ "$i" -lt "$phnum" ]; do
        b=$((phoff + i * 56))
        t=$(od_at u4 "$b" 4 | tr -d ' \n')
        if [ "$t" = 1 ]; then
            # p_offset p_vaddr p_paddr p_filesz
            # shellcheck disable=SC2046 # four words
            set -- $(od_at x8 $((b + 8)) 32)
            SEGS="$SEGS $1:$2:$3:$4"
        fi
        i=$((i + 1))
    done
    [ -n "$SEGS" ]
}
# kva2off VA: the kcore file offset of a kernel virtual address.  Kernel
# addresses all lie in the upper half, so differences fit a signed 64-bit
# shell number.
kva2off() {
    local s o v p z r d
    for s in $SEGS; do
        o=${s%%:*}; r=${s#*:}; v=${r%%:*}; r=${r#*:}; p=${r%%:*}; z=${r#*:}
        d=$(($1 - 0x$v))
        if [ $((d >= 0 && d < 0x$z)) = 1 ]; then
            echo $((0x$o + d))
            return 0
        fi
    done
    return 1
}
# kread64 VA / kread32 VA: a kernel variable's value (as a shell number).
kread64() { local o; o=$(kva2off "$1") || return 1; o=$(od_at x8 "$o" 8 | tr -d ' \n'); [ -n "$o" ] && echo $((0x$o)); }
kread32() { local o; o=$(kva2off "$1") || return 1; o=$(od_at u4 "$o" 4 | tr -d ' \n'); [ -n "$o" ] && echo "$o"; }

if kcore_load; then
    # page_offset_base from the direct-map segments, to cross-check the
    # variable's value.
    pob_seg=""
    for s in $SEGS; do
        r=${s#*:}; v=${r%%:*}; r=${r#*:}; p=${r%%:*}
        [ "$p" = ffffffffffffffff ] && continue
        [ $((0x$v < 0xffffffff80000000)) = 1 ] || continue
        pob_seg=$((0x$v - 0x$p))
        break
    done

    if a=$(symaddr page_offset_base) && pob=$(kread64 "$a"); then
        truth page_offset_base_value "$(hex "$pob")"
        if [ -n "$pob_seg" ] && [ "$pob_seg" != "$pob" ]; then
            truth warn "kcore RAM segment says page_offset_base $(hex "$pob_seg")"
        fi
    elif [ -n "$pob_seg" ]; then
        pob=$pob_seg
        truth page_offset_base_value "$(hex "$pob")"
    else
        pob=""
        truth nopage_offset_base_value "neither the variable nor a kcore RAM segment"
    fi

    if a=$(symaddr phys_base) && v=$(kread64 "$a"); then
        truth phys_base "$(hex "$v")"
    else
        truth nophys_base "phys_base not readable through kcore"
    fi

    if a=$(symaddr nr_cpu_ids) && nr=$(kread32 "$a"); then
        truth nr_cpu_ids_value "$nr"
        if a=$(symaddr __per_cpu_offset); then
            i=0
            while [ "$i" -lt "$nr" ] && [ "$i" -lt 64 ]; do
                v=$(kread64 $((a + 8 * i))) || break
                truth per_cpu_offset "$i" "$(hex "$v")"
                i=$((i + 1))
            done
        fi
    else
        truth nonr_cpu_ids_value "nr_cpu_ids not readable through kcore"
    fi

    if [ -n "$pob" ] && a=$(symaddr vmcoreinfo_data) && v=$(kread64 "$a") && [ "$v" != 0 ]; then
        truth vmcoreinfo_data "$(hex $((v - pob)))"
    fi

    # The VMCOREINFO text, read out of the note the way a dump tool would:
    # 12-byte Elf64_Nhdr (namesz, descsz, type), the name "VMCOREINFO\0"
    # padded to 4 bytes, then descsz bytes of "KEY=value\n" lines.
    if [ -n "$pob" ] && [ -n "${vci_pa:-}" ] && o=$(kva2off $((pob + 0x$vci_pa))); then
        # shellcheck disable=SC2046 # three words
        set -- $(od_at u4 "$o" 12)
        namesz=${1:-0}; descsz=${2:-0}
        if [ "$descsz" -gt 0 ] && [ "$descsz" -le 65536 ]; then
            dd if="$KC" of=/tmp/vmcoreinfo bs=1 skip=$((o + 12 + (namesz + 3) / 4 * 4)) count="$descsz" 2>/dev/null
            truth vmcoreinfo_text_size "$(wc -c < /tmp/vmcoreinfo)"
            v=$(sed -n 's/^OSRELEASE=//p' /tmp/vmcoreinfo)
            [ -n "$v" ] && truth vmcoreinfo_osrelease "$v"
            v=$(sed -n 's/^KERNELOFFSET=//p' /tmp/vmcoreinfo)
            [ -n "$v" ] && truth vmcoreinfo_kerneloffset "$(hex $((0x$v)))"
            v=$(sed -n 's/^NUMBER(phys_base)=//p' /tmp/vmcoreinfo)
            [ -n "$v" ] && truth vmcoreinfo_phys_base "$(hex "$v")"
            v=$(sed -n 's/^NUMBER(pgtable_l5_enabled)=//p' /tmp/vmcoreinfo)
            [ -n "$v" ] && truth vmcoreinfo_pgtable_l5_enabled "$v"
            v=$(sed -n 's/^SYMBOL(kallsyms_num_syms)=//p' /tmp/vmcoreinfo)
            if [ -n "$v" ] && n=$(kread32 $((0x$v))); then
                truth kallsyms_num_syms "$n"
            else
                truth nokallsyms_num_syms "no SYMBOL(kallsyms_num_syms) in VMCOREINFO"
            fi
            if grep -q 'bw.dump_vmcoreinfo' /proc/cmdline; then
                sed 's/^/BWVMCOREINFO /' /tmp/vmcoreinfo
            fi
            # The copy sits page-aligned in the rootfs page cache and would
            # be one more "OSRELEASE=" page for bpfwatchd's scan to find:
            # wipe it in place before it is freed.
            dd if=/dev/zero of=/tmp/vmcoreinfo bs="$descsz" count=1 conv=notrunc 2>/dev/null
            rm -f /tmp/vmcoreinfo
        else
            truth novmcoreinfo_text "note header says descsz=$descsz"
        fi
    fi
else
    truth nokcore "/proc/kcore is missing or unreadable"
fi

truth ready

if [ -x /scenario ]; then
    ( /scenario; echo "BWTRUTH scenario_exit $?" ) &
fi

while :; do
    sleep 3600
done
