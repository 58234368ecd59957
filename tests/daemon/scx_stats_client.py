#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A client of bpfwatchd's scx_stats side that holds the daemon to the
message shapes of sched-ext/scx's scx_stats crate (rust/scx_stats:
StatsRequest {req, args: map of strings}, StatsResponse {errno: i32,
args: {"resp": value}}, StatsMeta {name, top?, desc?, fields: {NAME:
{"datum": KIND, "desc"?}}}), and to the types a serde client derives from
stats_meta: "u64" an integer in [0, 2^64), "i64" in [-2^63, 2^63), "float"
a number, "string" a string.  One connection reads stats_meta once, as
scx's scxstats_to_openmetrics.py does, before the guest exists, and uses
it for every later stats reply.

Uses daemon_harness.py's processes and connections; prints "ok"/"FAIL"
lines and "test_scx_stats: N passed, N failed".
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_harness as dh  # noqa: E402

KINDS = {"i64", "u64", "float", "string"}
# The built-in kernel metrics ([Kernel] Metrics=yes, the default), with their
# kinds and a word of the kernel structure each desc must name; the event
# counters (sched_ext_event_*) come from the guest kernel's BTF.
HEALTH = {
    "sched_ext_enabled": ("u64", "scx_root"), "sched_ext_state": ("string", "scx_enable_state"),
    "sched_ext_ops": ("string", "sched_ext_ops"), "sched_ext_attaches": ("u64", "scx_sched"),
    "sched_ext_bypass_depth": ("i64", "bypass_depth"),
    "sched_ext_nr_running": ("u64", "nr_running"), "sched_ext_nr_running_avg": ("float", "nr_running"),
    "sched_ext_nr_running_max": ("u64", "nr_running"),
    "sched_ext_local_dsq_depth": ("u64", "local_dsq"),
    "sched_ext_local_dsq_depth_avg": ("float", "local_dsq"),
    "sched_ext_local_dsq_depth_max": ("u64", "local_dsq"),
    "sched_ext_stalled_tasks": ("u64", "runnable_list"),
    "sched_ext_stalled_tasks_avg": ("float", "runnable_list"),
    "sched_ext_stalled_tasks_max": ("u64", "runnable_list"),
    "sched_ext_stalls": ("u64", "runnable_list"), "sched_ext_wedged_cpus": ("u64", "rq->clock"),
    "sched_ext_exit_kind": ("i64", "scx_exit_info.kind"),
    "sched_ext_exit_kind_name": ("string", "scx_exit_kind"),
    "sched_ext_exit_code": ("i64", "scx_exit_info.exit_code"),
    "sched_ext_exit_reason": ("string", "scx_exit_info.reason"),
    "sched_ext_exit_msg": ("string", "scx_exit_info.msg"), "sched_ext_exit_missed": ("u64", "exit"),
}


def watch_part(fields):
    return {k: v for k, v in fields.items() if not k.startswith("sched_ext_")}


def health_ok(fields):
    """The kernel metrics' fields of stats_meta, each of its kind and naming what it reads."""
    bad = {k: fields.get(k) for k, (kind, word) in HEALTH.items()
           if fields.get(k, {}).get("datum") != kind or word not in fields[k].get("desc", "")}
    extra = {k for k in fields if k.startswith("sched_ext_") and k not in HEALTH and
             not (k.startswith("sched_ext_event_") and fields[k]["datum"] == "u64" and
                  "scx_event_stats" in fields[k]["desc"])}
    return not bad and not extra, "%s %s" % (json.dumps(bad)[:400], sorted(extra))


def typed_ok(kind, v):
    if kind == "u64":
        return type(v) is int and 0 <= v < 1 << 64
    if kind == "i64":
        return type(v) is int and -(1 << 63) <= v < 1 << 63
    if kind == "float":
        return type(v) in (int, float)
    return type(v) is str


def envelope_ok(r):
    return (isinstance(r, dict) and set(r) == {"errno", "args"} and type(r["errno"]) is int and
            isinstance(r["args"], dict) and set(r["args"]) == {"resp"})


def meta_fields(h, r, when):
    """The top struct's fields of a stats_meta reply, after checking its shapes."""
    ok = envelope_ok(r) and r["errno"] == 0 and isinstance(r["args"]["resp"], dict)
    tops = [s for s in (r["args"]["resp"].values() if ok else []) if s.get("top") == "true"]
    good = ok and len(tops) == 1 and tops[0].get("name") == "top" and all(
        isinstance(s, dict) and isinstance(s.get("name"), str) and
        isinstance(s.get("fields"), dict) for s in r["args"]["resp"].values())
    fields = tops[0]["fields"] if good else {}
    good = good and all(
        isinstance(f, dict) and f.get("datum") in KINDS and isinstance(f.get("desc"), str) and
        f["desc"] and set(f) <= {"datum", "desc", "user"} for f in fields.values())
    h.check("stats_meta %s: the crate's StatsMeta shapes, one top struct, a desc per field" % when,
            good, json.dumps(r)[:600])
    return fields


def main():
    h = dh.Harness()
    try:
        watch_dir = h.p("watch.d")
        os.mkdir(watch_dir)
        dh.write(os.path.join(watch_dir, "demo.watch"), dh.DEMO_WATCH)
        sock, ram, conf = h.p("d.sock"), h.p("guest.ram"), h.p("scx.conf")
        # A TextfileDir that cannot be written: logged once, not once a second.
        dh.write(conf, "[Metrics]\nTextfileDir=%s\n" % h.p("no-such-dir"))
        daemon = dh.Daemon(h, "scx", ["--config", conf, "--memory", ram, "--watch-dir", watch_dir,
                                      "--socket", sock, "--interval-ms", "20", "--instance", "scx"])
        dh.wait_until(lambda: os.path.exists(sock), 10)
        conn = dh.Conn(sock)
        h.conns.append(conn)

        # Before the guest exists: complete, from the watch set.
        before = meta_fields(h, conn.request({"req": "stats_meta", "args": {}}), "before the guest")
        labels = set()
        for line in dh.DEMO_WATCH.splitlines():
            if line.startswith("Label="):
                labels.add(line[6:])
        want = set()
        for line in dh.DEMO_WATCH.split("[Watch]")[1:]:
            kv = dict(l.split("=", 1) for l in line.splitlines() if "=" in l)
            want |= ({kv["Label"] + "_avg", kv["Label"] + "_max"} if kv["Aggregate"] == "percpu"
                     else {kv["Label"]})
        h.check("stats_meta before the first sample names every metric of the watch set",
                set(watch_part(before)) == want, "%s vs %s" % (sorted(before), sorted(want)))
        h.check("stats_meta before the first sample: every sched_ext_* kernel metric, typed, "
                "its desc naming the kernel structure", *health_ok(before))
        r = conn.request({"req": "stats", "args": {}})
        h.check("stats before the guest: errno 0, an empty top struct",
                envelope_ok(r) and r["errno"] == 0 and r["args"]["resp"] == {}, json.dumps(r))

        guest = dh.Guest(h, ram, "--with-scheduler")
        truth = guest.truth["scheduler"]
        got = dh.wait_until(lambda: (lambda r: r if set(watch_part(before)) <= set(r["args"]["resp"])
                                     else None)(conn.request({"req": "stats"})), 20)
        resp = got["args"]["resp"] if got else {}
        h.check("stats once sampled: every watch field of stats_meta, nothing stats_meta lacks",
                got is not None and set(watch_part(resp)) == set(watch_part(before)) and
                set(resp) <= set(before), json.dumps(got)[:600])
        bad = {k: v for k, v in resp.items() if not typed_ok(before[k]["datum"], v)}
        h.check("stats: every value has the type stats_meta declared (no u64 as a string)",
                resp and not bad, json.dumps(bad)[:400])
        h.check("stats: a u64 above 2^63 is that JSON number",
                resp.get("ident") == truth["ident"] and truth["ident"] >= 1 << 63 and
                before.get("ident", {}).get("datum") == "u64",
                "%r vs %r" % (resp.get("ident"), truth["ident"]))
        h.check("stats: a signed value", resp.get("fixed_neg") == truth["fixed_neg"],
                "%r vs %r" % (resp.get("fixed_neg"), truth["fixed_neg"]))
        after = meta_fields(h, conn.request({"req": "stats_meta"}), "after the first sample")
        h.check("stats_meta after the first sample: the same watch fields, the kernel ones "
                "still there", set(watch_part(after)) == set(watch_part(before)) and
                health_ok(after)[0], "%s vs %s" % (sorted(after), sorted(before)))

        # Errors: the envelope with errno EINVAL (22) and a message, as the crate answers.
        for name, line in (("a blank line", b"\n"), ("bad JSON", b"{nope\n"),
                           ("a JSON array", b"[1]\n"), ("no req", b'{"args":{}}\n'),
                           ("an unknown request", b'{"req":"bogus"}\n'),
                           ("an unknown target", b'{"req":"stats","args":{"target":"x"}}\n'),
                           ("args not strings", b'{"req":"stats","args":{"target":1}}\n')):
            conn.send(line)
            r = conn.reply()
            h.check("error for %s: errno 22 in the scx envelope" % name,
                    envelope_ok(r) and r["errno"] == 22 and isinstance(r["args"]["resp"], str),
                    json.dumps(r))
        r = conn.request({"req": "stats"})
        h.check("the connection still serves stats after the errors",
                envelope_ok(r) and r["errno"] == 0 and r["args"]["resp"].get("ident") ==
                truth["ident"], json.dumps(r)[:300])
        # Three textfile periods (1 s each) of sampling, counted in ticks of 20 ms.
        dh.wait_until(lambda: dh.request(sock, {"cmd": "status"}).get("ticks", 0) >= 160, 20,
                      interval=0.2)
        tf_lines = [l for l in daemon.stderr().splitlines() if "TextfileDir:" in l]
        h.check("a TextfileDir that cannot be written is logged once, not every second",
                len(tf_lines) == 1, repr(tf_lines))
        guest.stop()
        rc = daemon.stop()
        h.check("the daemon stops cleanly", rc == 0, "exit %s: %s" % (rc, daemon.stderr()[-800:]))

        # [Kernel] Metrics=no: no kernel metric in stats_meta.
        conf_off, sock_off = h.p("off.conf"), h.p("off.sock")
        dh.write(conf_off, "[Kernel]\nMetrics=no\n")
        daemon = dh.Daemon(h, "scx-off", ["--config", conf_off, "--memory", ram, "--watch-dir",
                                          watch_dir, "--socket", sock_off, "--interval-ms", "20",
                                          "--instance", "scx-off"])
        dh.wait_until(lambda: os.path.exists(sock_off), 10)
        conn = dh.Conn(sock_off)
        h.conns.append(conn)
        off = meta_fields(h, conn.request({"req": "stats_meta"}), "with [Kernel] Metrics=no")
        h.check("stats_meta with [Kernel] Metrics=no: the watch fields only",
                set(off) == want, sorted(off))
        rc = daemon.stop()
        h.check("the daemon with Metrics=no stops cleanly", rc == 0, "exit %s" % rc)
    except Exception as e:
        h.check("the test ran to its end", False, "%s: %s" % (type(e).__name__, e))
    finally:
        h.cleanup()
    print("test_scx_stats: %d passed, %d failed" % (h.passed, h.failed))
    return 0 if h.failed == 0 and h.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
