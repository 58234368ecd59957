#!/usr/bin/env python3
"""Compare `bpfwatchd --inspect maps|sample` with what the test guest reads itself.

usage:
  compare_watch_engine.py bracket LOG START END [WAIT_S]
      Which guest samples bracket a bpfwatchd run that began when the serial
      log LOG was START bytes long and ended when it was END bytes long.
      Prints "before=SEQ after=SEQ" and exits 0; exits 3 while the later
      sample is not complete in the log yet (after waiting up to WAIT_S
      seconds for it), 1 when there is no earlier one.
  compare_watch_engine.py settled LOG GEN [WAIT_S]
      Exits 0 once the log holds a complete guest sample taken while demo
      instance GEN was attached (GEN 0: none was), 3 if there is none after
      WAIT_S seconds: a run's earlier bracket sample must show the state the
      run is checked against.
  compare_watch_engine.py sample LOG START END GEN WATCH_FILE NSAMPLES JSON STDERR RC
  compare_watch_engine.py maps   LOG START END GEN JSON STDERR RC
      bpfwatchd's document JSON (its stderr in STDERR, exit code RC) from a
      run between log offsets START and END, while demo instance GEN was the
      attached scheduler (GEN 0: before the demo scheduler attached).
      WATCH_FILE is the watch set given to bpfwatchd, NSAMPLES its --samples.
  compare_watch_engine.py partial WATCH_FILE JSON STDERR RC
      a reader that has only part of the guest's RAM: no kernel model, or
      every watch whose memory is missing an error with no metric.

Prints one line per comparison ("ok" or "FAIL", name, the guest's value,
bpfwatchd's value) and exits 1 if any comparison failed.

The guest's side is the loader's output on the serial console
(tests/scheduler/bw_loader.c): BWGUEST-MAP lines give every map's id, and a
sample every 500 ms gives every field of every map, read through bpf().

Bracketing.  bpfwatchd's reads happen between its start and its exit; the
guest's samples happen at their own pace.  A guest sample whose END line was
already in the log when bpfwatchd started was read before any of
bpfwatchd's reads ("before").  The other end needs care: the loader prints
a whole sample in one write after reading it, and the bytes reach the log
a little later, so the first sample whose BEGIN line shows up after
bpfwatchd exited may still have been read while bpfwatchd was reading.  The
one after it cannot: it starts a full sampling period after the previous
sample was written.  That one is "after".  Counters only grow, so each of
bpfwatchd's values must lie in [before, after].

Integers read from the guest are JSON integers when they fit int64, else
decimal strings (a u64 above 2^63): both are compared as integers, and the
representation itself is checked.
"""

import json
import re
import sys
import time

from e2e_common import MISSING, Report, is_int, show

OPS_NAME = "bw_demo"
OBJECT = "bw_demo"
OPS_MAP = "bw_demo_ops"
PENDING_REASON = "no active sched_ext scheduler"
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# How often the waiting modes re-read the log: a tenth of the guest's
# sampling period.
POLL_S = 0.05
# Means are computed by bpfwatchd in __int128 and divided once; a few ulps
# of double rounding is all that may separate them from Python's.
MEAN_TOLERANCE = 1e-9

# What each label of conf/demo.watch.d/bw_demo.watch is, per
# tests/scheduler/bw_demo.h: a value fixed for the life of the instance, a
# counter that only grows, or a gauge within a documented range.  A label
# without an entry here fails: the test must learn what to expect of it.
EXPECT = {
    "enqueues": ("counter",),
    "dispatches": ("counter",),
    "runs": ("counter",),
    "gauge": ("gauge", -10, 10),        # (ticks % 21) - 10
    "fixed_neg": ("static",),
    "neg16": ("static",),
    "neg8": ("static",),
    "enabled": ("static",),
    "mode": ("static",),
    "neg_bits": ("static",),
    "hi": ("static",),
    "ident": ("static",),
    "data_magic": ("static",),
    "slice_ns": ("static",),
    "cpu_runs": ("counter",),
    "cpu_gauge": ("gauge", -5, 5),      # (runs % 11) - 5
    "slot2_weight": ("static",),
    "cpu0_switches": ("counter",),
}

# The map kinds of the same file (maps without BTF, bare values, [*] with
# Across=, hash maps by key and in full, text): read by check_kind().
# "counter": each reading lies between the guest's readings before and
# after (sums, min and max over counters only grow); "range": within
# [lo, hi]; "absent_or": the entry is absent or holds this value (never a
# 0 for an absent key); "text": matches the pattern.
KINDS = {
    "local": ("counter",),
    "global": ("counter",),
    "simple_sum": ("counter",),
    "flat2": ("counter",),
    "flat_sum": ("counter",),
    "flat_min": ("counter",),
    "flat_max": ("counter",),
    "flat_n": ("range", 4, 4),
    "flat_avg": ("counter",),
    "task_hits_sum": ("counter",),
    "task_live": ("range", 4, 12),      # 4 stable keys and up to 8 churn keys
    "task2_hits": ("counter",),
    "churn103_tag": ("absent_or", 309),
    "cpu_hits0": ("counter",),
    "cpu_hits_sum": ("counter",),
    "phase": ("text", r"tick-[0-9]"),
}
ABSENT = "not in the map"

SANITIZER = re.compile(r"Sanitizer|runtime error:|LeakSanitizer")
MARKER = re.compile(r"(BWGUEST(?:-[A-Z]+)?) (.*)$")


def exact(v):
    """(integer, representation ok) for a value bpfwatchd prints exactly.

    A JSON integer must lie in int64; beyond it the value must be a string
    of its decimal digits, and such a string must not hold an int64.
    """
    if is_int(v):
        return v, INT64_MIN <= v <= INT64_MAX
    if isinstance(v, str) and re.fullmatch(r"-?[0-9]+", v):
        n = int(v)
        return n, not (INT64_MIN <= n <= INT64_MAX)
    return None, False


# ---- the guest's serial log ------------------------------------------------

class Sample:
    def __init__(self, seq):
        self.seq = seq
        self.begin = None       # offset of its BEGIN line
        self.end = None         # offset just past its END line
        self.state = None
        self.ops = None
        self.gen = None
        self.values = {}        # (obj, map, path, key, cpu) -> int


class GuestLog:
    """The loader's records with their byte offsets in the raw serial log."""

    def __init__(self, path):
        with open(path, "rb") as f:
            data = f.read()
        self.maps = []          # dicts: obj, gen, name, id, kname, type, ...; off
        self.events = []        # (offset, words)
        self.samples = {}       # seq -> Sample
        off = 0
        while off < len(data):
            nl = data.find(b"\n", off)
            if nl < 0:
                break           # a line still being written
            line = data[off:nl].decode("utf-8", "replace").replace("\r", "")
            self._line(line, off, nl + 1)
            off = nl + 1

    def _sample(self, seq):
        s = self.samples.get(seq)
        if s is None:
            s = self.samples[seq] = Sample(seq)
        return s

    def _line(self, line, off, next_off):
        m = MARKER.search(line)
        if not m:
            return
        tag, words = m.group(1), m.group(2).split()
        try:
            if tag == "BWGUEST-MAP" and len(words) >= 4:
                rec = {"obj": words[0], "gen": int(words[1]), "name": words[2], "off": off}
                for w in words[3:]:
                    k, _, v = w.partition("=")
                    rec[k] = v if k == "kname" else int(v)
                self.maps.append(rec)
            elif tag == "BWGUEST-EVENT":
                self.events.append((off, words))
            elif tag == "BWGUEST-BEGIN" and words:
                self._sample(int(words[0])).begin = off
            elif tag == "BWGUEST-END" and words:
                self._sample(int(words[0])).end = next_off
            elif tag == "BWGUEST-STATE" and words:
                s = self._sample(int(words[0]))
                kv = dict(w.partition("=")[::2] for w in words[1:])
                s.state, s.ops = kv.get("state"), kv.get("ops")
                s.gen = int(kv["demo_gen"]) if "demo_gen" in kv else None
            elif tag == "BWGUEST" and len(words) >= 5:
                seq, obj, mapname, path = int(words[0]), words[1], words[2], words[3]
                key = cpu = None
                for w in words[4:-1]:
                    if re.fullmatch(r"key[0-9]+", w):
                        key = int(w[3:])
                    elif re.fullmatch(r"cpu[0-9]+", w):
                        cpu = int(w[3:])
                    else:
                        return  # something else got into the line
                self._sample(seq).values[(obj, mapname, path, key, cpu)] = int(words[-1])
        except ValueError:
            pass                # a line broken by a kernel message: not a record

    def bracket(self, start, end):
        """(before, after, why) as described at the top of this file."""
        done = [s for s in self.samples.values() if s.begin is not None and s.end is not None]
        before = [s for s in done if s.end <= start]
        before = max(before, key=lambda s: s.end) if before else None
        later = sorted((s for s in self.samples.values()
                        if s.begin is not None and s.begin >= end), key=lambda s: s.begin)
        after = later[1] if len(later) >= 2 and later[1].end is not None else None
        return before, after

    def demo_maps(self, gen):
        return [m for m in self.maps if m["obj"] == "demo" and m["gen"] == gen]

    def decoy_maps(self):
        return [m for m in self.maps if m["obj"] == "decoy"]

    def event_offsets(self, word):
        return [off for off, words in self.events if words and words[0] == word]


# ---- the watch file ----------------------------------------------------------

def parse_watch_file(path):
    """The [Watch] sections in file order, as dicts of their keys."""
    watches, cur = [], None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith(";"):
                continue
            if line.startswith("["):
                cur = {} if line == "[Watch]" else None
                if cur is not None:
                    watches.append(cur)
                continue
            if cur is not None and "=" in line:
                k, _, v = line.partition("=")
                cur[k.strip()] = v.strip()
    return watches


def watch_target(w, maps):
    """Where the guest prints watch w: (map record, path, key, percpu) or a reason."""
    suffix = w.get("Map", "")
    field = w.get("Field", "")
    hits = [m for m in maps if m["name"].endswith(suffix) or m.get("kname", "").endswith(suffix)]
    if len(hits) != 1:
        return "%d guest maps end with %r" % (len(hits), suffix)
    m = hits[0]
    key = None
    mm = re.fullmatch(r"\[([0-9]+)\]\.(.*)", field)
    if mm:
        key, field = int(mm.group(1)), mm.group(2)
    elif m.get("max_entries", 1) > 1:
        key = 0
    if m.get("max_entries", 1) <= 1:
        key = None              # the loader prints key<K> only for several entries
    percpu = w.get("Aggregate", "").startswith("percpu")
    return m, field, key, percpu


def parse_selector(field):
    """("all"|"key"|"elem", key, path) of a watch field; path "-" for the whole value."""
    m = re.fullmatch(r"\[(\*|0x[0-9a-fA-F]+|[0-9]+)\](?:\.(.*))?", field)
    if not m:
        return "elem", None, field
    path = m.group(2) or "-"
    if m.group(1) == "*":
        return "all", None, path
    return "key", int(m.group(1), 0), path


def across(op, vals):
    if op == "count":
        return len(vals)
    if op == "sum":
        return sum(vals)
    if not vals:
        return None
    if op == "min":
        return min(vals)
    if op == "max":
        return max(vals)
    return sum(vals) / len(vals)


def guest_text(s, obj, mapname, path):
    """A char[] field from its per-element lines, up to the first NUL."""
    out = bytearray()
    for i in range(4096):
        v = s.values.get((obj, mapname, "%s[%d]" % (path, i), None, None), MISSING)
        if v is MISSING:
            break
        out.append(v & 0xff)
    return out.split(b"\0")[0].decode("utf-8", "backslashreplace")


def guest_reading(s, obj, w, gmap):
    """The guest's own value for watch w in sample s: a number, {cpu: number},
    a text, or None (no such entry)."""
    sel, key, path = parse_selector(w.get("Field", ""))
    name = gmap["name"]
    if "text" == KINDS[w["Label"]][0]:
        return guest_text(s, obj, name, path)
    if sel == "all":
        vals = [v for (o, m, p, _k, _c), v in s.values.items()
                if o == obj and m == name and p == path]
        return across(w.get("Across"), vals)
    if key is None:
        key = 0
    if gmap.get("max_entries", 1) <= 1 and gmap.get("type") not in (1, 5):
        key = None
    if w.get("Aggregate", "").startswith("percpu"):
        cpus = {c: v for (o, m, p, k, c), v in s.values.items()
                if o == obj and m == name and p == path and k == key and c is not None}
        return cpus or None
    return s.values.get((obj, name, path, key, None))


def check_kind(r, w, st, samples, before, after, demo, decoy_ids, mvals):
    """One watch of KINDS: resolution, every reading against the guest's, the metric.
    Returns (metric keys it must have, readings folded)."""
    label = w["Label"]
    kind = KINDS[label]
    hits = [m for m in demo if m["name"].endswith(w.get("Map", "")) or
            m.get("kname", "").endswith(w.get("Map", ""))]
    if len(hits) != 1:
        r.check("watch %s" % label, False, "one guest map", "%d maps" % len(hits))
        return [], 0
    gmap = hits[0]
    res = st.get("resolution") or {}
    mid = res.get("map_id", MISSING)
    r.check("%s resolution" % label, st.get("state") == "resolved" and mid == gmap["id"]
            and res.get("object") == OBJECT,
            "map %d %s" % (gmap["id"], gmap["name"]),
            "%s map %s %s" % (st.get("state"), show(mid), st.get("reason") or ""),
            "that is the decoy's " + decoy_ids[mid] if mid in decoy_ids else "")
    percpu = w.get("Aggregate", "").startswith("percpu")
    b, a = guest_reading(before, "demo", w, gmap), guest_reading(after, "demo", w, gmap)
    d = guest_reading(before, "decoy", w, gmap) if kind[0] != "text" else None
    got, problems, absent = [], [], 0
    for s in samples:
        hv = host_watch(s, label) or {}
        if percpu:
            vals = hv.get("values")
            if not isinstance(vals, dict) or "error" in hv:
                problems.append("seq %s: %s" % (s.get("seq"), hv))
                continue
            got.append({int(c): exact(v)[0] for c, v in vals.items()})
        elif "value" in hv:
            got.append(hv["value"])
        elif kind[0] == "absent_or" and ABSENT in str(hv.get("error")):
            absent += 1
        else:
            problems.append("seq %s: %s" % (s.get("seq"), hv))
    r.check("%s read in every sample" % label, not problems, "%d samples" % len(samples),
            "; ".join(problems[:2]) or "%d samples" % len(samples))
    gshow = ",".join(json.dumps(x, sort_keys=True) for x in got) + \
        (" (absent %d)" % absent if absent else "")
    k = kind[0]
    if k == "counter" and percpu:
        ok = isinstance(b, dict) and isinstance(a, dict) and all(
            sorted(x) == sorted(b) and all(b[c] <= x[c] <= a.get(c, -1) for c in x) for x in got)
        r.check(label, ok, "per CPU %s..%s" % (b, a), gshow)
    elif k == "counter":
        nums = [x for x in got if isinstance(x, (int, float)) and not isinstance(x, bool)]
        ok = b is not None and a is not None and len(nums) == len(got) and \
            all(b - 1e-9 <= x <= a + 1e-9 for x in nums) and \
            all(x <= y for x, y in zip(nums, nums[1:]))
        r.check(label, ok, "%s..%s" % (b, a), gshow)
    elif k == "range":
        r.check(label, all(kind[1] <= x <= kind[2] for x in got) and
                b is not None and kind[1] <= b <= kind[2],
                "in [%d, %d] (guest %s, %s)" % (kind[1], kind[2], b, a), gshow)
    elif k == "absent_or":
        r.check(label, all(x == kind[1] for x in got) and b in (None, kind[1]),
                "absent or %d (guest %s, %s)" % (kind[1], b, a), gshow,
                "an absent key must be no reading, never 0")
    elif k == "text":
        r.check(label, got and all(isinstance(x, str) and re.fullmatch(kind[1], x) for x in got)
                and re.fullmatch(kind[1], b or "") is not None,
                "%s (guest %r, %r)" % (kind[1], b, a), gshow)
    if d is not None and d not in (b, a) and not percpu:
        r.check(label + " is not the decoy's", d not in got, "!= %s" % d, gshow,
                "read the decoy's map")
    if not got:
        return [], 0
    key = "%s_%s" % (OBJECT, label)
    last = got[-1]
    have = mvals.get(key, MISSING)
    if percpu:
        want = sum(last.values())
        r.check("metric " + key, exact(have)[0] == want, want, have,
                "must be the sum over CPUs of the last sample", "want")
    elif isinstance(last, float):
        r.check("metric " + key, isinstance(have, float) and
                abs(have - last) <= MEAN_TOLERANCE * max(1.0, abs(last)), last, have,
                "must be the last sample's value", "want")
    elif isinstance(last, str):
        r.check("metric " + key, have == last, last, have,
                "must be the last sample's text", "want")
    else:
        r.check("metric " + key, exact(have) == (last, True), last, have,
                "must be the last sample's value, exact", "want")
    return [key], len(got)


def expected_keys(w):
    label = w.get("Label", "")
    if w.get("Aggregate") == "percpu":
        return ["%s_%s_avg" % (OBJECT, label), "%s_%s_max" % (OBJECT, label)]
    return ["%s_%s" % (OBJECT, label)]


# ---- bpfwatchd's run -----------------------------------------------------------

def load_run(r, json_path, stderr_path, rc_text):
    """bpfwatchd's document, or None after reporting why there is none."""
    rc = int(rc_text)
    with open(stderr_path, errors="replace") as f:
        err = f.read()
    bad = [l for l in err.splitlines() if SANITIZER.search(l)]
    r.check("no sanitizer report", not bad, "", bad[0] if bad else "")
    for l in err.splitlines()[:5]:
        r.info("stderr: " + l)
    r.check("exit code", rc == 0, 0, rc, "timed out" if rc == 124 else "")
    if rc != 0:
        return None
    try:
        with open(json_path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        r.check("document is JSON", False, "a JSON object", str(e))
        return None
    if not isinstance(doc, dict):
        r.check("document is a JSON object", False, "object", type(doc).__name__)
        return None
    return doc


def check_timing(r, log, start, end, gen):
    """Did the guest keep demo instance gen attached (gen 0: none) all along?

    When it did not, bpfwatchd saw something else than what it is compared
    with: the caller compares nothing more (one FAIL, not a cascade).
    """
    attached = log.event_offsets("attached")
    changes = sorted(log.event_offsets("detached") + log.event_offsets("ejected"))
    if gen == 0:
        early = [m for m in log.maps if m["obj"] == "demo" and m["off"] < end]
        r.check("no demo scheduler loaded during the run", not early, "none",
                "%d demo map lines" % len(early),
                "the guest attached too early: raise BW_E2E_ATTACH_AFTER")
        return not early
    ok = len([a for a in attached if a < start]) == gen
    since = attached[gen - 1] if len(attached) >= gen else None
    moved = [c for c in changes if since is not None and since < c < end]
    r.check("demo instance %d attached all along" % gen, ok and not moved,
            "attached #%d before the run, no change" % gen,
            "%d attaches before, %d changes during" % (len([a for a in attached if a < start]),
                                                       len(moved)),
            "the run overlapped an attach or a detach: raise BW_E2E_REPLACE")
    return ok and not moved


def check_bracket(r, log, start, end, gen):
    """The guest samples around the run, both taken in the state the run is
    checked against; None after reporting that they are not, or not there."""
    before, after = log.bracket(start, end)
    if before is None or after is None:
        r.check("guest samples around the run", False, "before and after", MISSING,
                "no guest sample %s the run" % ("before" if before is None else "after"))
        return None
    ok = True
    for name, s in (("before", before), ("after", after)):
        ok &= guest_state_is(s, gen)
        r.check("guest sample %s (seq %d)" % (name, s.seq), guest_state_is(s, gen),
                "state=%s demo_gen=%d" % ("enabled ops=" + OPS_NAME if gen else "disabled", gen),
                "state=%s ops=%s demo_gen=%s" % (s.state, s.ops, s.gen),
                "the guest changed state around the run: raise BW_E2E_ATTACH_AFTER "
                "or BW_E2E_REPLACE" if s is after else "the run began before the guest settled")
    if not ok:
        r.info("the guest's state moved around the run: nothing else compared")
        return None
    return before, after


def map_summary(name, kname, type_id, key_size, value_size, max_entries, active):
    return "%s/%s t%s %s/%s/%s %s" % (kname, name, type_id, key_size, value_size,
                                      max_entries, "active" if active else "inactive")


def compare_maps(log, start, end, gen, json_path, stderr_path, rc_text):
    r = Report("gen%d maps: " % gen)
    doc = load_run(r, json_path, stderr_path, rc_text)
    if not check_timing(r, log, start, end, gen) or \
            check_bracket(r, log, start, end, gen) is None or doc is None:
        return r
    r.check("error", doc.get("error", MISSING) is None, None, doc.get("error", MISSING))
    want_state = "sampling" if gen else "no_scheduler"
    r.check("state", doc.get("state") == want_state, want_state, doc.get("state", MISSING))

    demo = log.demo_maps(gen) if gen else []
    decoy = log.decoy_maps()
    hmaps = doc.get("maps")
    if not isinstance(hmaps, list):
        r.check("maps", False, "an array", hmaps)
        return r
    by_id = {m.get("id"): m for m in hmaps if isinstance(m, dict)}

    sched = doc.get("scheduler", MISSING)
    if gen == 0:
        r.check("scheduler", sched is None, None, sched)
    elif not isinstance(sched, dict):
        r.check("scheduler", False, "an object", sched)
    else:
        ops = [m for m in demo if m["name"] == OPS_MAP]
        want_id = ops[0]["id"] if ops else MISSING
        r.check("scheduler.ops_name", sched.get("ops_name") == OPS_NAME, OPS_NAME,
                sched.get("ops_name", MISSING))
        r.check("scheduler.object", sched.get("object") == OBJECT, OBJECT,
                sched.get("object", MISSING))
        r.check("scheduler.struct_ops_map_id", sched.get("struct_ops_map_id") == want_id,
                want_id, sched.get("struct_ops_map_id", MISSING),
                "must be the id of this instance's " + OPS_MAP)
        r.check("scheduler.problem", sched.get("problem") is None, None,
                sched.get("problem", MISSING))
        r.check("scheduler.enable_state", isinstance(sched.get("enable_state"), int),
                "the kernel's enable state (read, so the enabled gate is in use)",
                sched.get("enable_state", MISSING))
        if ops and ops[0]["id"] in by_id:
            r.check("scheduler.object_btf", sched.get("object_btf") ==
                    by_id[ops[0]["id"]].get("object_btf"),
                    by_id[ops[0]["id"]].get("object_btf"), sched.get("object_btf", MISSING),
                    "must be the BTF of the struct_ops map's object")

    for obj, gmaps in (("demo", demo), ("decoy", decoy)):
        for g in gmaps:
            want = map_summary(g["name"], g["kname"], g["type"], g["key_size"],
                               g["value_size"], g["max_entries"], obj == "demo" and gen > 0)
            h = by_id.get(g["id"])
            if h is None:
                r.check("map %d (%s %s)" % (g["id"], obj, g["name"]), False, want, MISSING)
                continue
            got = map_summary(h.get("full_name"), h.get("name"), h.get("type_id"),
                              h.get("key_size"), h.get("value_size"), h.get("max_entries"),
                              h.get("active") is True)
            # A map without BTF belongs to the demo through its programs, to no object
            # for the decoy, whose programs are never followed.
            nobtf = g.get("btf_id") == 0 and g["type"] != 26
            want_obj = OBJECT if obj == "demo" or not nobtf else None
            want_by = ("programs" if nobtf else "btf") if want_obj else None
            r.check("map %d (%s %s)" % (g["id"], obj, g["name"]),
                    got == want and h.get("object") == want_obj and
                    h.get("joined_by", MISSING) == want_by, want, got,
                    "" if got != want else "object %r joined by %r, not %r by %r" % (
                        h.get("object"), h.get("joined_by"), want_obj, want_by))
            if g["kname"] != g["name"]:
                r.check("full_name of %s (%s)" % (g["kname"], obj), h.get("full_name") == g["name"],
                        g["name"], h.get("full_name", MISSING))

    # The previous instances' maps are freed by now; one still listed must
    # at least not be taken for the active scheduler's.
    for old in range(1, gen):
        for g in log.demo_maps(old):
            h = by_id.get(g["id"])
            r.check("old map %d (demo %d %s)" % (g["id"], old, g["name"]),
                    h is None or h.get("active") is False, "gone or inactive",
                    "gone" if h is None else "active=%s" % json.dumps(h.get("active")))

    known = {g["id"] for g in demo + decoy}
    active = sorted(m.get("id") for m in hmaps if isinstance(m, dict) and m.get("active") is True)
    r.check("active maps", active == sorted(g["id"] for g in demo),
            sorted(g["id"] for g in demo), active)
    strangers = sorted(i for i in by_id if i not in known
                       and not any(i == g["id"] for o in range(1, gen) for g in log.demo_maps(o)))
    r.check("no maps the guest did not create", not strangers, [], strangers)

    objs = doc.get("objects")
    if isinstance(objs, list):
        act = [o for o in objs if isinstance(o, dict) and o.get("active") is True]
        want_ids = sorted(g["id"] for g in demo)
        got_ids = [sorted(o.get("map_ids") or []) for o in act]
        r.check("active object's map_ids", got_ids == ([want_ids] if gen else []),
                [want_ids] if gen else [], got_ids)
    else:
        r.check("objects", False, "an array", objs)
    return r


def host_watch(sample, label):
    for w in sample.get("watches") or []:
        if isinstance(w, dict) and w.get("label") == label:
            return w
    return None


def guest_state_is(s, gen):
    """Was guest sample s taken with demo instance gen attached (0: none)?"""
    if gen == 0:
        return s.state == "disabled" and s.gen == 0
    return s.state == "enabled" and s.ops == OPS_NAME and s.gen == gen


def compare_sample(log, start, end, gen, watch_path, nsamples, json_path, stderr_path, rc_text):
    r = Report("gen%d sample: " % gen)
    watches = parse_watch_file(watch_path)
    labels = [w.get("Label") for w in watches]
    doc = load_run(r, json_path, stderr_path, rc_text)
    if not check_timing(r, log, start, end, gen):
        return r
    bracket = check_bracket(r, log, start, end, gen)
    if bracket is None or doc is None:
        return r
    before, after = bracket
    status, samples, metrics = (doc.get(k, MISSING) for k in ("status", "samples", "metrics"))
    if not isinstance(status, dict) or not isinstance(samples, list) or not isinstance(metrics, dict):
        r.check("document has status, samples, metrics", False, "objects", list(doc))
        return r
    hw = status.get("watches") or []
    r.check("watch labels (in file order)", [w.get("label") for w in hw] == labels,
            labels, [w.get("label") for w in hw])
    r.check("samples taken", len(samples) == nsamples, nsamples, len(samples))
    window = metrics.get("window") or {}
    mvals = metrics.get("metrics")
    if not isinstance(mvals, dict):
        r.check("metrics.metrics", False, "an object", mvals)
        mvals = {}

    if gen == 0:
        r.check("status.state", status.get("state") == "no_scheduler", "no_scheduler",
                status.get("state", MISSING))
        r.check("status.scheduler", status.get("scheduler") is None, None,
                status.get("scheduler", MISSING))
        for w in hw:
            got = "%s: %s keys=%s" % (w.get("state"), w.get("reason"), json.dumps(w.get("keys")))
            r.check("watch %s" % w.get("label"),
                    w.get("state") == "pending" and w.get("reason") == PENDING_REASON
                    and w.get("keys") == [],
                    "pending: %s keys=[]" % PENDING_REASON, got)
        for s in samples:
            bad = [w.get("label") for w in s.get("watches") or []
                   if w.get("state") != "pending" or w.get("reason") != PENDING_REASON
                   or "value" in w or "values" in w]
            r.check("sample %s" % s.get("seq"),
                    s.get("state") == "no_scheduler" and s.get("object") is None and not bad
                    and len(s.get("watches") or []) == len(labels),
                    "no_scheduler, every watch pending",
                    "%s object=%s, not pending: %s" % (s.get("state"), s.get("object"), bad))
        r.check("metrics (none sampled)", mvals == {}, {}, mvals)
        r.check("window.samples", window.get("samples") == 0, 0, window.get("samples", MISSING))
        r.check("window.object", window.get("object") is None, None,
                window.get("object", MISSING))
        return r

    r.check("status.state", status.get("state") == "sampling", "sampling",
            status.get("state", MISSING))
    sched = status.get("scheduler") or {}
    ops = [m for m in log.demo_maps(gen) if m["name"] == OPS_MAP]
    r.check("status.scheduler.struct_ops_map_id",
            bool(ops) and sched.get("struct_ops_map_id") == ops[0]["id"],
            ops[0]["id"] if ops else MISSING, sched.get("struct_ops_map_id", MISSING))
    for s in samples:
        r.check("sample %s state" % s.get("seq"),
                s.get("state") == "sampling" and s.get("object") == OBJECT,
                "sampling " + OBJECT, "%s %s" % (s.get("state"), s.get("object")))

    demo = log.demo_maps(gen)
    decoy = log.decoy_maps()
    decoy_ids = {m["id"]: m["name"] for m in decoy}
    r.info("guest samples: before seq %d, after seq %d; guest demo %d map ids %s"
           % (before.seq, after.seq, gen, {m["name"]: m["id"] for m in demo}))
    want_metric_keys = []
    folded = 0
    for w, st in zip(watches, hw):
        label = w.get("Label")
        if label in KINDS:
            keys, n = check_kind(r, w, st, samples, before, after, demo, decoy_ids, mvals)
            want_metric_keys += keys
            folded += n
            continue
        folded += len(samples)
        exp = EXPECT.get(label)
        if exp is None:
            r.check("watch %s" % label, False, "a known label", label,
                    "add it to EXPECT in compare_watch_engine.py")
            continue
        tgt = watch_target(w, demo)
        if isinstance(tgt, str):
            r.check("watch %s" % label, False, "one guest map", tgt)
            continue
        gmap, path, key, percpu = tgt
        want_metric_keys += expected_keys(w)

        # Status: resolved to this instance's map, keys named after the object.
        res = st.get("resolution") or {}
        mid = res.get("map_id", MISSING)
        why = ""
        if mid in decoy_ids:
            why = "that is the decoy's " + decoy_ids[mid]
        r.check("%s resolution" % label,
                st.get("state") == "resolved" and mid == gmap["id"] and
                res.get("object") == OBJECT and res.get("index", 0) == (key or 0),
                "map %d %s [%d]" % (gmap["id"], gmap["name"], key or 0),
                "%s map %s %s [%s]" % (st.get("state"), show(mid), res.get("map_full_name"),
                                       res.get("index")) +
                ("" if st.get("state") == "resolved" else ": " + str(st.get("reason"))), why)
        r.check("%s keys" % label, st.get("keys") == expected_keys(w), expected_keys(w),
                st.get("keys", MISSING))

        # The guest's values at both ends, per CPU for percpu watches.
        def gval(s, obj, cpu):
            return s.values.get((obj, gmap["name"], path, key, cpu), MISSING)

        cpus = sorted({k[4] for k in before.values
                       if k[0] == "demo" and k[1] == gmap["name"] and k[2] == path
                       and k[3] == key}) if percpu else [None]
        if percpu and (not cpus or None in cpus):
            r.check("%s guest CPUs" % label, False, "per-CPU lines", cpus)
            continue

        # bpfwatchd's values, sample by sample: {cpu: [int, ...]}.
        host = {c: [] for c in cpus}
        problems = []
        for s in samples:
            hv = host_watch(s, label)
            if hv is None or hv.get("state") != "resolved":
                problems.append("seq %s: %s" % (s.get("seq"), hv))
                continue
            if percpu:
                vals = hv.get("values")
                if not isinstance(vals, dict) or "failed_cpus" in hv or "error" in hv:
                    problems.append("seq %s: %s" % (s.get("seq"), hv))
                    continue
                if sorted(vals) != sorted(str(c) for c in cpus):
                    problems.append("seq %s: CPUs %s, guest has %s" % (s.get("seq"),
                                                                      sorted(vals), cpus))
                items = [(int(c), v) for c, v in vals.items() if re.fullmatch(r"[0-9]+", c)]
            else:
                items = [(None, hv.get("value", MISSING))]
            for c, v in items:
                n, rep_ok = exact(v)
                if n is None or not rep_ok:
                    problems.append("seq %s: %s is not exact (an integer within int64, else "
                                    "a decimal string)" % (s.get("seq"), json.dumps(v)))
                elif c in host:
                    host[c].append(n)
        r.check("%s read in every sample" % label, not problems, "%d samples" % len(samples),
                "; ".join(problems[:3]) or "%d samples" % len(samples))
        if problems:
            continue

        for c in cpus:
            name = label + ("" if c is None else " cpu%d" % c)
            b, a = gval(before, "demo", c), gval(after, "demo", c)
            d = gval(before, "decoy", c)
            got = host[c]
            gshow = ",".join(str(x) for x in got)
            if b is MISSING or a is MISSING:
                r.check(name, False, "guest lines for %s %s" % (gmap["name"], path), MISSING,
                        "the guest printed no value")
                continue
            kind = exp[0]
            if kind == "static":
                r.check(name, b == a and all(x == b for x in got), b, gshow,
                        "" if b == a else "the guest's own value changed: %d then %d" % (b, a))
            elif kind == "counter":
                mono = all(x <= y for x, y in zip(got, got[1:]))
                r.check(name, b <= a and mono and all(b <= x <= a for x in got),
                        "%d..%d" % (b, a), gshow,
                        "outside the guest's bracket" if mono else "went down between samples")
            else:
                lo, hi = exp[1], exp[2]
                r.check(name, all(lo <= x <= hi for x in got), "in [%d, %d]" % (lo, hi), gshow)
            # Where the decoy's value could not be the demo's, no reading may equal it.
            if d is not MISSING and d not in (b, a):
                r.check(name + " is not the decoy's", d not in got, "!= %d" % d, gshow,
                        "read the decoy's map")

        # The folded metric(s) from bpfwatchd's own samples.
        agg = w.get("Aggregate")
        keys = expected_keys(w)
        if agg == "scalar-counter":
            want = host[None][-1]
            n, rep_ok = exact(mvals.get(keys[0], MISSING))
            r.check("metric " + keys[0], n == want and rep_ok, want, mvals.get(keys[0], MISSING),
                    "must be the last sample's value, exact", "want")
        elif agg == "scalar":
            want = sum(host[None]) / len(host[None])
            got = mvals.get(keys[0], MISSING)
            r.check("metric " + keys[0], isinstance(got, (int, float)) and not isinstance(got, bool)
                    and abs(got - want) <= MEAN_TOLERANCE * max(1.0, abs(want)),
                    want, got, "must be the mean of the samples", "want")
        elif agg == "percpu-counter":
            want = sum(host[c][-1] for c in cpus)
            n, rep_ok = exact(mvals.get(keys[0], MISSING))
            r.check("metric " + keys[0], n == want and rep_ok, want, mvals.get(keys[0], MISSING),
                    "must be the sum over CPUs of the last sample", "want")
        elif agg == "percpu":
            allv = [x for c in cpus for x in host[c]]
            want_avg, want_max = sum(allv) / len(allv), max(allv)
            got = mvals.get(keys[0], MISSING)
            r.check("metric " + keys[0], isinstance(got, (int, float)) and not isinstance(got, bool)
                    and abs(got - want_avg) <= MEAN_TOLERANCE * max(1.0, abs(want_avg)),
                    want_avg, got, "must be the mean over samples and CPUs", "want")
            n, rep_ok = exact(mvals.get(keys[1], MISSING))
            r.check("metric " + keys[1], n == want_max and rep_ok, want_max,
                    mvals.get(keys[1], MISSING), "must be the largest reading", "want")

    r.check("metric keys", sorted(mvals) == sorted(want_metric_keys),
            len(want_metric_keys), sorted(set(mvals) ^ set(want_metric_keys)) or len(mvals),
            "keys missing or extra")
    r.check("window.ticks", window.get("ticks") == nsamples, nsamples,
            window.get("ticks", MISSING))
    r.check("window.samples", window.get("samples") == folded,
            folded, window.get("samples", MISSING),
            "one read per watch and tick (an absent hash key is none)")
    text_keys = ["%s_%s" % (OBJECT, w["Label"]) for w in watches
                 if KINDS.get(w.get("Label"), ("",))[0] == "text"]
    r.check("metrics.text_keys", sorted(metrics.get("text_keys") or []) == sorted(text_keys),
            text_keys, metrics.get("text_keys", MISSING), "the text metrics, by name")
    r.check("window.object", window.get("object") == OBJECT, OBJECT,
            window.get("object", MISSING))
    r.check("window.object_changes", window.get("object_changes") == 0, 0,
            window.get("object_changes", MISSING))
    return r


def poll(attempt, wait_s):
    """attempt() until it stops answering 3 ("not yet") or wait_s runs out."""
    deadline = time.monotonic() + wait_s
    while True:
        rc = attempt()
        if rc != 3 or time.monotonic() >= deadline:
            return rc
        time.sleep(POLL_S)


def compare_partial(gen, watch_path, json_path, stderr_path, rc_text):
    """A reader that has only part of the guest's RAM (one NUMA node's file):
    it fails without a kernel model, or every watch is either an error with
    a reason and no metric, or resolved; and the per-CPU watches, whose CPU 1
    copy lies in the missing node, are errors."""
    r = Report("gen%d partial: " % gen)
    watches = parse_watch_file(watch_path)
    rc = int(rc_text)
    with open(stderr_path, errors="replace") as f:
        err = f.read()
    if rc != 0:
        r.check("no kernel model: the error names memory that is not RAM",
                rc == 1 and "is not RAM" in err, "exit 1, ...is not RAM",
                "exit %d: %s" % (rc, err.strip()[:200]))
        return r
    doc = load_run(r, json_path, stderr_path, rc_text)
    if doc is None:
        return r
    status, samples, metrics = (doc.get(k) or {} for k in ("status", "samples", "metrics"))
    mvals = metrics.get("metrics") or {}
    by_label = {w.get("label"): w for w in status.get("watches") or []}
    for w in watches:
        label = w.get("Label")
        st = by_label.get(label) or {}
        keys = [k for k in expected_keys(w) if k in mvals]
        percpu = w.get("Aggregate", "").startswith("percpu")
        if percpu or st.get("state") != "resolved":
            # Its CPU 1 copy lies in the missing node; a map it needs may too.
            r.check("watch %s" % label,
                    st.get("state") == "error" and bool(st.get("reason")) and not keys,
                    "error with a reason, no metric",
                    "%s: %s, metrics %s" % (st.get("state"), st.get("reason"), keys))
        else:
            r.info("watch %s resolved: its memory is in the node given" % label)
    for smp in samples if isinstance(samples, list) else []:
        for sw in smp.get("watches") or []:
            w = next((x for x in watches if x.get("Label") == sw.get("label")), {})
            if w.get("Aggregate", "").startswith("percpu"):
                r.check("sample %s watch %s has no values" % (smp.get("seq"), sw.get("label")),
                        "values" not in sw and "value" not in sw, "no values",
                        sw.get("values", sw.get("value")))
    return r


def main(argv):
    try:
        if len(argv) in (5, 6) and argv[1] == "bracket":
            start, end = int(argv[3]), int(argv[4])

            def found():
                before, after = GuestLog(argv[2]).bracket(start, end)
                if before is None:
                    return 1
                if after is None:
                    return 3
                print("before=%d after=%d" % (before.seq, after.seq))
                return 0
            return poll(found, float(argv[5]) if len(argv) == 6 else 0)
        if len(argv) in (4, 5) and argv[1] == "settled":
            gen = int(argv[3])

            def settled():
                return 0 if any(s.end is not None and guest_state_is(s, gen)
                                for s in GuestLog(argv[2]).samples.values()) else 3
            return poll(settled, float(argv[4]) if len(argv) == 5 else 0)
        if len(argv) == 11 and argv[1] == "sample":
            r = compare_sample(GuestLog(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]),
                               argv[6], int(argv[7]), argv[8], argv[9], argv[10])
        elif len(argv) == 6 and argv[1] == "partial":
            r = compare_partial(1, argv[2], argv[3], argv[4], argv[5])
        elif len(argv) == 9 and argv[1] == "maps":
            r = compare_maps(GuestLog(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]),
                             argv[6], argv[7], argv[8])
        else:
            sys.stderr.write(__doc__)
            return 2
    except (OSError, ValueError) as e:
        print("FAIL compare_watch_engine.py: %s" % e)
        return 1
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
