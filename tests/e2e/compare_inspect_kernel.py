#!/usr/bin/env python3
"""Compare `bpfwatchd --inspect kernel` with what the guest says about itself.

usage:
  compare_inspect_kernel.py kernel TRUTH_FILE JSON_FILE
      TRUTH_FILE: the guest's BWTRUTH lines without the prefix (see
      tests/guest/init.sh for each key); JSON_FILE: bpfwatchd's document.
  compare_inspect_kernel.py negative EXIT_CODE STDOUT_FILE STDERR_FILE
      bpfwatchd ran on memory without a kernel: it must fail cleanly with one
      sentence saying that VMCOREINFO was not found.

  compare_inspect_kernel.py memory JSON_FILE ACCESS LAYOUT BACKENDS
      how bpfwatchd read the guest: its access ("shared mapping" or
      "process_vm_readv"), the layout it chose, the number of RAM backends,
      and every CPU's per-CPU area read back.
  compare_inspect_kernel.py partial EXIT_CODE JSON_FILE STDERR_FILE
      bpfwatchd had only part of the guest's RAM: either no kernel model (an
      error naming memory that is not RAM) or one that says which per-CPU
      areas do not read back.

Prints one line per comparison ("ok" or "FAIL", name, the guest's value,
bpfwatchd's value) and exits 1 if any comparison failed.

Addresses in the document are strings ("0xffff...") because they exceed
2^53; numbers are JSON integers.  Addresses are compared modulo 2^64:
phys_base, for one, is negative when the virtual KASLR slide is larger than
the physical one, and the kernel prints it as a signed number.
"""

import json
import re
import sys

import e2e_common
from e2e_common import MISSING, is_int

U64 = 1 << 64
START_KERNEL_TEXT = 0xFFFFFFFF81000000  # _text without KASLR (PHYSICAL_START 16 MiB)
KALLSYMS_MIN = 100000  # distro kernels with KALLSYMS_ALL have 150k-200k symbols
SYMBOLS = ("_text", "map_idr", "prog_idr", "__per_cpu_offset", "nr_cpu_ids",
           "page_offset_base", "init_top_pgt", "__start_BTF", "__stop_BTF",
           "scx_root")
KEYS = ("release", "source", "kaslr_offset", "phys_base", "page_offset_base",
        "paging_levels", "nr_cpu_ids", "per_cpu_offset", "btf_size",
        "kallsyms_count", "kallsyms_encoding", "vmcoreinfo_gpa", "symbols")
# The Elf64_Nhdr (12 bytes) and the name "VMCOREINFO\0" padded to 12 bytes
# precede the text in the note.
NOTE_TEXT_OFFSET = 24


class Report(e2e_common.Report):
    def __init__(self):
        super().__init__(name_width=34, value_width=22)


def parse_truth(path):
    truth = {"sym": {}, "nosym": set(), "per_cpu_offset": {}}
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            key, args = words[0], words[1:]
            if key == "sym" and len(args) >= 2:
                truth["sym"].setdefault(args[0], int(args[1], 16))
            elif key == "nosym" and args:
                truth["nosym"].add(args[0])
            elif key == "per_cpu_offset" and len(args) == 2:
                truth["per_cpu_offset"][int(args[0])] = int(args[1], 16)
            else:
                truth[key] = args
    return truth


def t_int(truth, key, base=10):
    v = truth.get(key)
    if not v:
        return None
    return int(v[0], base)


def addr(v):
    """A document address: a "0x..." string of at most 16 hex digits."""
    if isinstance(v, str) and re.fullmatch(r"0x[0-9a-fA-F]{1,16}", v):
        return int(v, 16)
    return None


def compare_kernel(truth_path, json_path):
    r = Report()
    truth = parse_truth(truth_path)
    try:
        with open(json_path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        r.check("document is JSON", False, "a JSON object", str(e))
        return r
    if not isinstance(doc, dict):
        r.check("document is a JSON object", False, "object", type(doc).__name__)
        return r

    for k in KEYS:
        if k not in doc:
            r.check("has key " + k, False, "present", MISSING)

    def get(k):
        return doc.get(k, MISSING)

    def check_addr(name, want, got, why=""):
        a = addr(got)
        if got is MISSING:
            r.check(name, False, hex(want % U64), got, "absent")
        elif a is None:
            r.check(name, False, hex(want % U64), got, "not a \"0x...\" address string")
        else:
            r.check(name, a == want % U64, hex(want % U64), got, why)

    def check_num(name, want, got, why=""):
        if not is_int(got):
            r.check(name, False, want, got, "not a JSON integer")
        else:
            r.check(name, got == want, want, got, why)

    uname = truth.get("uname", [None])[0]
    r.check("release", uname is not None and get("release") == uname, uname, get("release"))
    if "vmcoreinfo_osrelease" in truth:
        r.check("release (VMCOREINFO text)", get("release") == truth["vmcoreinfo_osrelease"][0],
                truth["vmcoreinfo_osrelease"][0], get("release"))
    r.check("source", get("source") == "vmcoreinfo", "vmcoreinfo", get("source"))

    syms = truth["sym"]
    if "_text" in syms:
        check_addr("kaslr_offset", syms["_text"] - START_KERNEL_TEXT, get("kaslr_offset"),
                   "must be _text - 0xffffffff81000000")
    else:
        r.check("kaslr_offset", False, MISSING, get("kaslr_offset"), "guest has no _text")
    if "vmcoreinfo_kerneloffset" in truth:
        check_addr("kaslr_offset (KERNELOFFSET)", t_int(truth, "vmcoreinfo_kerneloffset", 16),
                   get("kaslr_offset"))

    if "phys_base" in truth:
        check_addr("phys_base", t_int(truth, "phys_base", 16), get("phys_base"))
    else:
        print("skip phys_base: the guest could not read it (%s)" % " ".join(truth.get("nophys_base", [])))

    if "page_offset_base_value" in truth:
        check_addr("page_offset_base", t_int(truth, "page_offset_base_value", 16),
                   get("page_offset_base"))
    else:
        print("skip page_offset_base: the guest could not read it")

    l5 = t_int(truth, "vmcoreinfo_pgtable_l5_enabled")
    check_num("paging_levels", 5 if l5 == 1 else 4, get("paging_levels"))

    nproc = t_int(truth, "nproc")
    check_num("nr_cpu_ids", nproc, get("nr_cpu_ids"), "must equal the guest's nproc")
    if "nr_cpu_ids_value" in truth:
        check_num("nr_cpu_ids (variable)", t_int(truth, "nr_cpu_ids_value"), get("nr_cpu_ids"))

    pco = get("per_cpu_offset")
    ncpu = t_int(truth, "nr_cpu_ids_value") or nproc
    if not isinstance(pco, list):
        r.check("per_cpu_offset", False, "array of %s" % ncpu, pco, "not an array")
    else:
        r.check("per_cpu_offset length", len(pco) == ncpu, ncpu, len(pco), "must equal nr_cpu_ids")
        for cpu, want in sorted(truth["per_cpu_offset"].items()):
            check_addr("per_cpu_offset[%d]" % cpu, want, pco[cpu] if cpu < len(pco) else MISSING)

    btf = t_int(truth, "btf_size")
    check_num("btf_size", btf, get("btf_size"), "must equal the size of /sys/kernel/btf/vmlinux")
    if "__start_BTF" in syms and "__stop_BTF" in syms:
        span = syms["__stop_BTF"] - syms["__start_BTF"]
        r.check("guest: __stop_BTF - __start_BTF", span == btf, btf, span,
                "the guest's own BTF size and symbols disagree")

    count = get("kallsyms_count")
    r.check("kallsyms_count > %d" % KALLSYMS_MIN, is_int(count) and count > KALLSYMS_MIN,
            "> %d" % KALLSYMS_MIN, count)
    if "kallsyms_num_syms" in truth:
        check_num("kallsyms_count", t_int(truth, "kallsyms_num_syms"), count,
                  "must equal kallsyms_num_syms")

    enc = get("kallsyms_encoding")
    major = int(uname.split(".")[0]) if uname and uname.split(".")[0].isdigit() else 0
    if major >= 7:
        # v7.0 removed kallsyms_relative_base: offsets are relative to their own entry.
        r.check("kallsyms_encoding", enc == "place-relative", "place-relative", enc)
    else:
        r.check("kallsyms_encoding", isinstance(enc, str) and enc != "", "a name", enc)

    if "vmcoreinfo" in truth:
        note = int(truth["vmcoreinfo"][0], 16)
        accepted = {note: "the note", note + NOTE_TEXT_OFFSET: "the note's text"}
        if "vmcoreinfo_data" in truth:
            accepted[t_int(truth, "vmcoreinfo_data", 16)] = "vmcoreinfo_data"
        got = addr(get("vmcoreinfo_gpa"))
        names = " or ".join("%s (%s)" % (hex(a), n) for a, n in sorted(accepted.items()))
        r.check("vmcoreinfo_gpa", got in accepted, names, get("vmcoreinfo_gpa"),
                "not the VMCOREINFO note nor the kernel's vmcoreinfo_data page")

    dsyms = get("symbols")
    if not isinstance(dsyms, dict):
        r.check("symbols", False, "an object", dsyms, "not an object")
        dsyms = {}
    for name in SYMBOLS:
        got = dsyms.get(name, MISSING)
        if name in syms:
            check_addr("symbols." + name, syms[name], got, "must equal /proc/kallsyms")
        elif name in truth["nosym"]:
            r.check("symbols." + name, got is MISSING or got is None, MISSING, got,
                    "the guest has no such symbol")
        else:
            r.check("symbols." + name, False, MISSING, got, "the guest printed nothing for it")
    return r


NOT_FOUND = re.compile(r"not\s+found|no\s+vmcoreinfo|(could|can)\s*not\s+find|cannot\s+find|did\s+not\s+find",
                       re.IGNORECASE)


def compare_negative(rc_text, stdout_path, stderr_path):
    r = Report()
    rc = int(rc_text)
    with open(stdout_path, errors="replace") as f:
        out = f.read()
    with open(stderr_path, errors="replace") as f:
        err = f.read()
    lines = [l for l in err.splitlines() if l.strip()]
    if rc == 124:
        r.check("exit code", False, "1..123", rc, "timed out")
    else:
        r.check("exit code", 0 < rc < 124, "1..123", rc,
                "0 means success, >= 128 a crash or a signal")
    r.check("stdout empty", out.strip() == "", "", out[:200].strip())
    bad = [l for l in lines if "Sanitizer" in l or "runtime error" in l]
    r.check("no sanitizer report", not bad, "", bad[:1])
    r.check("stderr is one line", len(lines) == 1, 1, len(lines))
    msg = lines[0] if lines else MISSING
    r.check("stderr says VMCOREINFO not found",
            bool(lines) and "VMCOREINFO" in lines[0] and NOT_FOUND.search(lines[0]) is not None,
            "VMCOREINFO ... not found", msg)
    return r


def compare_memory(json_path, access, layout, backends):
    r = e2e_common.Report("memory: ")
    try:
        with open(json_path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        r.check("document", False, "JSON", str(e))
        return r
    mem = doc.get("memory") or {}
    r.check("memory.access", mem.get("access") == access, access, mem.get("access", MISSING))
    r.check("memory.layout", mem.get("layout") == layout, layout, mem.get("layout", MISSING))
    r.check("memory.backends", mem.get("backends") == backends, backends,
            mem.get("backends", MISSING))
    r.check("memory.layout_why says why", "consistent" in (mem.get("layout_why") or ""),
            "...the kernel model is consistent...", mem.get("layout_why", MISSING))
    r.check("percpu_areas_checked", doc.get("percpu_areas_checked") == doc.get("nr_cpu_ids"),
            doc.get("nr_cpu_ids", MISSING), doc.get("percpu_areas_checked", MISSING))
    r.check("percpu_areas_bad", doc.get("percpu_areas_bad") == 0, 0,
            doc.get("percpu_areas_bad", MISSING))
    return r


def compare_partial(rc_text, json_path, stderr_path):
    r = e2e_common.Report("partial memory: ")
    with open(stderr_path, errors="replace") as f:
        err = f.read()
    if rc_text.strip() != "0":
        r.check("no kernel model: the error names memory that is not RAM",
                rc_text.strip() == "1" and "is not RAM" in err, "exit 1, ...is not RAM",
                "exit %s: %s" % (rc_text.strip(), err.strip()[:200]))
        return r
    with open(json_path) as f:
        doc = json.load(f)
    mem = doc.get("memory") or {}
    r.check("percpu_areas_bad", (doc.get("percpu_areas_bad") or 0) >= 1, ">= 1",
            doc.get("percpu_areas_bad", MISSING))
    r.check("memory.layout_why names the missing per-CPU area",
            "do not read back" in (mem.get("layout_why") or ""), "...do not read back...",
            mem.get("layout_why", MISSING))
    return r


def main(argv):
    if len(argv) == 4 and argv[1] == "kernel":
        r = compare_kernel(argv[2], argv[3])
    elif len(argv) == 6 and argv[1] == "memory":
        r = compare_memory(argv[2], argv[3], argv[4], int(argv[5]))
    elif len(argv) == 5 and argv[1] == "partial":
        r = compare_partial(argv[2], argv[3], argv[4])
    elif len(argv) == 5 and argv[1] == "negative":
        r = compare_negative(argv[2], argv[3], argv[4])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
