#!/usr/bin/env python3
"""Host side of tests/e2e/test_scx_health.sh: watch bpfwatchd's sched_ext
health while the guest's demo scheduler is made to fail, then compare with
what the guest itself printed on its console.

  poll SOCKET CONSOLE OUT.jsonl DONE_PATTERN TIMEOUT_S
      Until the console shows DONE_PATTERN (or TIMEOUT_S): every ~150 ms an
      "exit" request, and a status reply taken after two fresh ticks, each
      written to OUT.jsonl with the console's size before and after it (so a
      reading can be placed between the guest's own samples).
  dmesg CONSOLE DMESG.jsonl
      Every kernel line the guest's console printed ("[seconds] text"; the
      guest runs with ignore_loglevel, so the console shows every record) is
      in bpfwatchd's dmesg replies (bpfwatchctl --json dmesg) with the same
      timestamp and text, in the same order, and every record of that span
      is on the console.
  compare CONSOLE OUT.jsonl EJECTIONS STALL(0|1)
      ok/FAIL lines:
        - state and ops name equal to /sys/kernel/sched_ext/{state,root/ops}
          whenever the guest read the same before and after the reading;
        - every event counter inside the guest's before/after readings of
          /sys/kernel/sched_ext/root/events;
        - one exit record per ejection, none missed, each with the reason and
          message of the kernel's own "disabled" lines on the console, kind
          SCX_EXIT_ERROR_BPF (or SCX_EXIT_ERROR_STALL for a stall);
        - with STALL: stalled tasks (CPU named) reported before the kernel's
          stall line appeared.
"""
import json
import os
import re
import socket
import sys
import time

REPLY_MAX = 64 << 20
MARKER = re.compile(r"(BWGUEST(?:-[A-Z]+)?) (.*)$")
DISABLED = re.compile(r'sched_ext: BPF scheduler "([^"]*)" disabled \((.*)\)\s*$')
MSG = re.compile(r"sched_ext: ([^:\s]+): (.*?)\s*$")


def request(path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
    buf = b""
    while b"\n" not in buf and len(buf) < REPLY_MAX:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
    s.close()
    return json.loads(buf.split(b"\n", 1)[0])


def size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def poll(sock, console, out, done, timeout):
    end = time.monotonic() + float(timeout)
    finished = False
    with open(out, "w") as f:
        while time.monotonic() < end:
            try:
                o1 = size(console)
                x = request(sock, "exit")
                f.write(json.dumps({"what": "exit", "o1": o1, "o2": size(console), "reply": x}) + "\n")
                # A reading taken after o1: two fresh ticks, and event counters read
                # after it too (they are read once a second; same clock as the daemon's).
                st = request(sock, "status")
                t0 = st.get("ticks", 0)
                o1 = size(console)
                t1 = time.monotonic_ns()
                wait_end = min(end, time.monotonic() + 3)
                while time.monotonic() < wait_end:
                    st = request(sock, "status")
                    h = st.get("sched_ext") or {}
                    fresh = h.get("events_mono_ns") is None or h["events_mono_ns"] >= t1
                    if st.get("ticks", 0) >= t0 + 2 and (fresh or not h.get("enabled")):
                        break
                    time.sleep(0.03)
                h = st.get("sched_ext") or {}
                if h.get("events_mono_ns") is not None and h["events_mono_ns"] < t1:
                    h["events"] = {}    # stale counters: not a reading of this span
                f.write(json.dumps({"what": "status", "o1": o1, "o2": size(console),
                                    "reply": st.get("sched_ext")}) + "\n")
                f.flush()
            except (OSError, ValueError) as e:
                f.write(json.dumps({"what": "error", "error": str(e)}) + "\n")
            if finished:
                return 0
            with open(console, "rb") as c:
                # One more round once the guest is done: the last exit is read too.
                finished = done.encode() in c.read()
            time.sleep(0.1)
    print(f"poll: no {done!r} on the console within {timeout} s", file=sys.stderr)
    return 1


class Guest:
    """The console's records, by byte offset."""

    def __init__(self, path):
        data = open(path, "rb").read()
        self.samples = {}
        self.disabled = []      # (offset, ops, reason, msg)
        off = 0
        lines = data.split(b"\n")
        for i, raw in enumerate(lines):
            nxt = off + len(raw) + 1
            line = raw.decode("utf-8", "replace").replace("\r", "")
            m = DISABLED.search(line)
            if m:
                msg = None
                for later in lines[i + 1:i + 4]:
                    mm = MSG.search(later.decode("utf-8", "replace").replace("\r", ""))
                    if mm and mm.group(1) == m.group(1):
                        msg = mm.group(2)
                        break
                self.disabled.append((off, m.group(1), m.group(2), msg))
            m = MARKER.search(line)
            if m:
                tag, words = m.group(1), m.group(2).split()
                try:
                    if tag == "BWGUEST-BEGIN":
                        self._s(int(words[0]))["begin"] = off
                    elif tag == "BWGUEST-END":
                        self._s(int(words[0]))["end"] = nxt
                    elif tag == "BWGUEST-STATE":
                        kv = dict(w.partition("=")[::2] for w in words[1:])
                        s = self._s(int(words[0]))
                        s["state"], s["ops"] = kv.get("state"), kv.get("ops")
                        s["gen"] = kv.get("demo_gen")
                    elif tag == "BWGUEST-SCXEV" and len(words) == 3:
                        name = words[1].lower()
                        if name.startswith("scx_ev_"):
                            name = name[7:]
                        self._s(int(words[0]))["events"][name] = int(words[2])
                except (ValueError, IndexError):
                    pass
            off = nxt

    def _s(self, seq):
        return self.samples.setdefault(seq, {"events": {}})

    def bracket(self, o1, o2):
        done = [s for s in self.samples.values() if "begin" in s and "end" in s]
        before = [s for s in done if s["end"] <= o1]
        before = max(before, key=lambda s: s["end"]) if before else None
        later = sorted((s for s in done if s["begin"] >= o2), key=lambda s: s["begin"])
        after = later[1] if len(later) >= 2 else None
        return before, after


def compare(console, readings, ejections, stall):
    g = Guest(console)
    recs = [json.loads(line) for line in open(readings)]
    fails = 0

    def ok(msg):
        print("ok " + msg)

    def fail(msg):
        nonlocal fails
        fails += 1
        print("FAIL " + msg)

    statuses = [r for r in recs if r["what"] == "status" and r.get("reply")]
    n_state = n_ev = n_ev_values = 0
    bad_state, bad_ev = [], []
    for r in statuses:
        before, after = g.bracket(r["o1"], r["o2"])
        if not before or not after:
            continue
        h = r["reply"]
        # The same scheduler instance before and after: nothing changed in between.
        same = before.get("gen") == after.get("gen")
        if same and before.get("state") == after.get("state") and before.get("ops") == after.get("ops"):
            n_state += 1
            want_ops = None if before.get("ops") in (None, "-", "") else before["ops"]
            if h.get("state") != before["state"] or (h.get("enabled") and h.get("ops") != want_ops):
                bad_state.append((before["state"], before.get("ops"), h.get("state"), h.get("ops")))
        ev = h.get("events") or {}
        if same and ev and before["events"] and after["events"] and before.get("state") == "enabled" \
                and after.get("state") == "enabled" and before.get("ops") == after.get("ops"):
            # A guest line broken by a kernel message on the console leaves a sample short.
            if not set(ev) <= set(before["events"]) or not set(ev) <= set(after["events"]):
                continue
            n_ev += 1
            for name, v in ev.items():
                lo, hi = before["events"].get(name), after["events"].get(name)
                n_ev_values += 1
                if not lo <= int(v) <= hi:
                    bad_ev.append((name, lo, v, hi))
            missing = set(before["events"]) - set(ev)
            if missing:
                bad_ev.append(("missing in bpfwatchd", sorted(missing)))
    if n_state and not bad_state:
        ok(f"state and ops equal to the guest's in {n_state} bracketed readings")
    else:
        fail(f"state/ops: {n_state} bracketed readings, mismatches {bad_state[:5]}")
    if n_ev and not bad_ev:
        ok(f"{n_ev_values} event counter readings ({n_ev} samples) inside the guest's before/after")
    else:
        fail(f"events: {n_ev} bracketed samples, problems {bad_ev[:5]}")

    # exit records: distinct by capture time
    seen, order = {}, []
    for r in recs:
        if r["what"] != "exit":
            continue
        x = (r.get("reply") or {}).get("exit")
        if not x:
            continue
        key = (x.get("mono_ns"), x.get("kind"))
        if key not in seen:
            order.append(key)
        seen[key] = x
    records = [seen[k] for k in order]
    missed = [x for x in records if x.get("missed")]
    kernel = g.disabled
    if len(kernel) == ejections:
        ok(f"the guest's kernel logged {ejections} disables")
    else:
        fail(f"the guest's kernel logged {len(kernel)} disables, expected {ejections}")
    if len(records) == ejections and not missed:
        ok(f"{len(records)} exit records, none missed")
    else:
        fail(f"{len(records)} exit records ({len(missed)} missed), expected {ejections}: "
             f"{[(x.get('kind_name'), x.get('missed_reason')) for x in missed][:3]}")
    bad = []
    for i, (x, k) in enumerate(zip(records, kernel)):
        _, ops, reason, msg = k
        want_kind = "SCX_EXIT_ERROR_STALL" if stall and i == ejections - 1 else "SCX_EXIT_ERROR_BPF"
        if x.get("ops") != ops or x.get("reason") != reason or (msg or "") != (x.get("msg") or "") \
                or x.get("kind_name") != want_kind:
            bad.append({"bpfwatchd": [x.get("ops"), x.get("kind_name"), x.get("reason"), x.get("msg")],
                        "kernel": [ops, want_kind, reason, msg]})
    from_log = sum(1 for x in records if x.get("source") == "kernel log")
    if records and not bad:
        ok(f"every exit record's ops, kind, reason and message equal the kernel's log "
           f"({len(records) - from_log} from the kernel's exit_info, {from_log} from its log) "
           f"(last: {records[-1].get('kind_name')} \"{records[-1].get('reason')}\" "
           f"\"{records[-1].get('msg')}\")")
    elif records:
        fail(f"exit records differ from the kernel's log: {bad[:3]}")

    if stall:
        stall_line = kernel[-1][0] if kernel else None
        first = None
        for r in statuses:
            if r["reply"].get("stalls"):
                first = r
                break
        if first and stall_line is not None and first["o2"] <= stall_line:
            cpus = sorted({s["cpu"] for s in first["reply"]["stalls"]})
            t = first["reply"]["stalls"][0]
            ok(f"stall reported before the kernel's watchdog ejected the scheduler: CPU {cpus}, "
               f"pid {t['pid']} ({t['comm']}) waiting {t['waiting_ms']} ms")
        else:
            fail(f"no stall reported before the kernel's stall exit (first report "
                 f"{first and first['o2']}, kernel line at {stall_line})")
    return 1 if fails else 0


KLINE = re.compile(r"\[\s*(\d+)\.(\d{6})\] (.*?)\s*$")


def dmesg(console, replies):
    recs = []
    for line in open(replies):
        doc = json.loads(line)
        if not doc.get("ok"):
            print(f"FAIL dmesg reply: {line[:300]}")
            return 1
        recs += doc["records"]
    # A record of several lines is printed line by line, each with its timestamp.
    got = [("%d.%06d" % (int(r["ts_nsec"]) // 10**9, int(r["ts_nsec"]) % 10**9 // 1000),
            line.rstrip()) for r in recs for line in r["text"].split("\n")]
    index = {g: i for i, g in enumerate(got)}
    want = []
    for raw in open(console, "rb").read().split(b"\n"):
        m = KLINE.search(raw.decode("utf-8", "replace").replace("\r", ""))
        if m:
            want.append(("%d.%s" % (int(m.group(1)), m.group(2)), m.group(3)))
    missing = [w for w in want if w not in index]
    order = [index[w] for w in want if w in index]
    # The other way: every record of the span reached the console (its first line).
    shown = set(want)
    extra = []
    if want:
        lo, hi = float(want[0][0]), float(want[-1][0])
        extra = [g for g in got if lo <= float(g[0]) <= hi
                 and g not in shown]
    if want and not missing and not extra and order == sorted(order):
        print(f"ok dmesg: all {len(want)} kernel lines of the console "
              f"({want[0][0]} s to {want[-1][0]} s) among the {len(got)} records read from "
              f"guest memory, same timestamps, texts and order")
        return 0
    print(f"FAIL dmesg: {len(want)} console lines, {len(missing)} not in the {len(got)} "
          f"records read: {missing[:3]}; {len(extra)} records of the span not on the console: "
          f"{extra[:3]}")
    return 1


def main(argv):
    if len(argv) >= 6 and argv[0] == "poll":
        return poll(argv[1], argv[2], argv[3], argv[4], argv[5])
    if len(argv) == 3 and argv[0] == "dmesg":
        return dmesg(argv[1], argv[2])
    if len(argv) == 5 and argv[0] == "compare":
        return compare(argv[1], argv[2], int(argv[3]), argv[4] == "1")
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
