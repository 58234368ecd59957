#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Integration tests of the real bpfwatchd: the binary, over its real
socket, on a synthetic guest RAM file written by tests/tools/make_guest.c.

Every check prints "ok   NAME" or "FAIL NAME: why"; the last line is
"test_daemon: N passed, N failed" and the exit status is 1 on any failure.

What runs, in order (one temporary directory holds every file; every
process started here is stopped at the end, whatever happens):
  1. the main daemon (flags, and a config file for what only it can set:
     the socket's Mode=, TextfileDir=; WATCHDOG_USEC in its environment)
     starts before the guest RAM file exists: it answers in
     waiting-for-memory, READY=1 comes once the socket listens, STATUS=
     names each state; a RAM file without a kernel appears
     (locating-kernel), a guest's file replaces it with the scheduler
     loaded but not attached (waiting-for-scheduler), then attached
     (sampling);
  2. every request of the protocol, scx_stats' stats and stats_meta, the
     TextfileDir= file, and the error replies (bad_json, too_large, unknown_cmd, bad_args) on a
     connection that keeps working;
  3. 200 clients at once; a subscriber that reads and one that never
     does: the tick rate holds, the slow one is dropped, the other goes on;
  4. reload of a good and of a bad watch set, over the socket and by
     SIGHUP (RELOADING=1 + MONOTONIC_USEC=, then READY=1);
  5. the RAM file removed (back to waiting-for-memory) and recreated;
  6. WATCHDOG=1 pings all along; SIGTERM: STOPPING=1, exit 0, the state
     file replaced atomically with the metrics reply;
  7. socket activation through systemd-socket-activate;
  8. a bad config file and a bad watch drop-in at start: exit 2, file:line;
  9. no daemon of the run reported a sanitizer error (ASan/UBSan builds).

Environment: BPFWATCHD (default $O/daemon/bpfwatchd, O default "."),
TOOL_MAKE_GUEST (default $B/tests/tool_make_guest, B default "build"),
BW_DAEMON_WRAPPER (optional command prefix for the daemon, e.g. valgrind),
BW_DAEMON_TEST_DIR (an empty directory to work in; default a new one in
/tmp, removed at the end either way).
"""

import ctypes
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

O = os.environ.get("O", ".")
B = os.environ.get("B", "build")
BPFWATCHD = os.environ.get("BPFWATCHD") or os.path.join(O, "daemon", "bpfwatchd")
TOOL = os.environ.get("TOOL_MAKE_GUEST") or os.path.join(B, "tests", "tool_make_guest")
SOCKET_ACTIVATE = shutil.which("systemd-socket-activate") or "/usr/bin/systemd-socket-activate"

INTERVAL_MS = 20
# Enough CPUs that a sample line is large (a per-CPU watch lists every
# CPU): a subscriber that never reads then fills its queue in seconds.
GUEST_CPUS = 128
INSTANCE = "itest"
# The daemon pings WATCHDOG=1 every half of this.
WATCHDOG_USEC = 400000

DEMO_WATCH = """\
# the demo object's values (tests/tools/make_guest.c --live bumps them)
[Watch]
Map=.bss
Field=stats.ops.enqueues
Aggregate=scalar-counter
Label=enqueues

[Watch]
Map=.bss
Field=state.gauge
Aggregate=scalar
Label=gauge

[Watch]
Map=.bss
Field=state.fixed_neg
Aggregate=scalar
Label=fixed_neg

[Watch]
Map=cpu_stats
Field=runs
Aggregate=percpu-counter
Label=runs

[Watch]
Map=cpu_stats
Field=runs
Aggregate=percpu
Label=runs_pc

[Watch]
Map=.bss
Field=ident
Aggregate=scalar-counter
Label=ident
"""
# Where each [Watch] of DEMO_WATCH starts.
DEMO_LINES = {"enqueues": 2, "gauge": 8, "fixed_neg": 14, "runs": 20, "runs_pc": 26,
              "ident": 32}

BULK_LABELS = ["bulk%d" % i for i in range(6)]
BULK_WATCH = "".join(
    "[Watch]\nMap=cpu_stats\nField=ticks\nAggregate=percpu-counter\nLabel=%s\n\n" % label
    for label in BULK_LABELS)

EXTRA_WATCH = """\
[Watch]
Map=.bss
Field=stats.ops.dispatches
Aggregate=scalar-counter
Label=dispatches
"""

# Line 4 holds a key the drop-in format does not know.
BAD_WATCH = """\
[Watch]
Map=.bss
Field=stats.ticks
Bogus=1
Aggregate=scalar
Label=bad
"""

PR_SET_PDEATHSIG = 1


def die_with_parent():
    """Children get SIGKILL when this harness dies, even if it is killed."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def wait_until(fn, timeout, interval=0.02):
    """fn() until it returns something true, or None after timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        try:
            v = fn()
        except (OSError, ValueError):
            v = None
        if v:
            return v
        if time.monotonic() >= end:
            return None
        time.sleep(interval)


class Conn:
    """One client connection: JSON lines each way."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send(self, data):
        if not isinstance(data, (bytes, bytearray)):
            data = (json.dumps(data) + "\n").encode()
        self.sock.sendall(data)

    def readline(self, timeout=5.0):
        """The next line (bytes without its newline), or None at EOF."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply line within %.1f s" % timeout)
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def reply(self, timeout=5.0):
        line = self.readline(timeout)
        if line is None:
            raise ConnectionError("the daemon closed the connection")
        return json.loads(line)

    def request(self, obj, timeout=5.0):
        self.send(obj)
        return self.reply(timeout)

    def close(self):
        self.sock.close()


class Notify:
    """The NOTIFY_SOCKET the daemon reports to: every datagram, in order.

    A thread reads it all the time, as systemd does: sd_notify() blocks the
    sender once max_dgram_qlen (10) datagrams wait unread.
    """

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.lock = threading.Lock()
        self.msgs = []          # (monotonic time received, text)
        self.cursor = 0
        self.running = True
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while self.running:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.msgs.append((time.monotonic(), data.decode(errors="replace")))

    def texts(self):
        with self.lock:
            return [text for _, text in self.msgs]

    def wait(self, pred, timeout):
        """The first message from the cursor on that satisfies pred; the cursor moves past it."""
        end = time.monotonic() + timeout
        while True:
            texts = self.texts()
            for i in range(self.cursor, len(texts)):
                if pred(texts[i]):
                    self.cursor = i + 1
                    return texts[i]
            if time.monotonic() >= end:
                return None
            time.sleep(0.01)

    def skip_all(self):
        self.cursor = len(self.texts())

    def statuses(self):
        return [line[len("STATUS="):] for text in self.texts() for line in text.split("\n")
                if line.startswith("STATUS=")]

    def close(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


def has_line(text, line):
    return line in text.split("\n")


class Harness:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        # A short path: socket paths must fit sun_path (108 bytes).
        self.tmp = os.environ.get("BW_DAEMON_TEST_DIR") or tempfile.mkdtemp(prefix="bwd.",
                                                                            dir="/tmp")
        self.procs = []         # (Popen, kill the whole session?)
        self.conns = []

    # ---- results

    def check(self, name, cond, why=""):
        if cond:
            self.passed += 1
            print("ok   " + name, flush=True)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (name, why), flush=True)
        return bool(cond)

    def p(self, *parts):
        return os.path.join(self.tmp, *parts)

    # ---- processes

    def spawn(self, argv, session=False, **kw):
        proc = subprocess.Popen(argv, preexec_fn=None if session else die_with_parent,
                                start_new_session=session, **kw)
        self.procs.append((proc, session))
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=10.0):
        """Signal proc and reap it: its exit code, or None if it had to be killed."""
        if proc.poll() is None:
            try:
                proc.send_signal(sig)
            except ProcessLookupError:
                pass
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return None

    def cleanup(self):
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        for proc, session in self.procs:
            if proc.poll() is not None:
                continue
            try:
                if session:
                    os.killpg(proc.pid, signal.SIGTERM)
                else:
                    proc.terminate()
            except ProcessLookupError:
                pass
        for proc, session in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                try:
                    if session:
                        os.killpg(proc.pid, signal.SIGKILL)
                    else:
                        proc.kill()
                except ProcessLookupError:
                    pass
                proc.wait()
        for proc, session in self.procs:
            if session:
                # A child the launcher forked may outlive it: its group goes too.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class Guest:
    """tool_make_guest PATH ...: its truth line, and the process when --live."""

    def __init__(self, h, path, *opts, live=True):
        self.h = h
        argv = [TOOL, path] + list(opts) + (["--live"] if live else [])
        self.proc = h.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline() if r else b""
        if not line:
            err = b""
            if self.proc.poll() is not None:
                err = self.proc.stderr.read()
            raise RuntimeError("tool_make_guest gave no truth line: %s" % err.decode())
        self.truth = json.loads(line)
        if not live:
            self.proc.wait(10)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        self.h.stop(self.proc)


class Daemon:
    def __init__(self, h, name, args, env=None, launcher=None):
        self.h = h
        self.name = name
        self.out = h.p(name + ".out")
        self.err = h.p(name + ".err")
        full_env = dict(os.environ)
        full_env.update(env or {})
        wrapper = os.environ.get("BW_DAEMON_WRAPPER", "").split()
        argv = (launcher or []) + wrapper + [BPFWATCHD] + args
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = h.spawn(argv, session=bool(launcher), stdout=out, stderr=err,
                                env=full_env)

    def stderr(self):
        with open(self.err, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        return self.h.stop(self.proc, sig, timeout)


def request(path, obj, timeout=5.0):
    c = Conn(path, timeout)
    try:
        return c.request(obj, timeout)
    finally:
        c.close()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


# ------------------------------------------------------------------ the tests


class Suite:
    def __init__(self, h):
        self.h = h
        self.notify = Notify(h.p("notify.sock"))
        self.sock = h.p("d.sock")
        self.ram = h.p("guest.ram")
        self.watch_dir = h.p("watch.d")
        self.state_dir = h.p("state")
        self.state_file = os.path.join(self.state_dir, INSTANCE + ".state")
        self.textfile_dir = h.p("textfile")
        self.conf = h.p("main.conf")
        os.mkdir(self.watch_dir)
        os.mkdir(self.state_dir)
        os.mkdir(self.textfile_dir)
        # What only the config file can set; the flags give the rest.
        write(self.conf, "[Socket]\nMode=0600\n\n[Metrics]\nTextfileDir=%s\n"
              % self.textfile_dir)
        write(os.path.join(self.watch_dir, "demo.watch"), DEMO_WATCH)
        write(os.path.join(self.watch_dir, "e-bulk.watch"), BULK_WATCH)
        self.nwatches = len(DEMO_LINES) + len(BULK_LABELS)
        self.daemon = None
        self.guest = None

    def status(self):
        return request(self.sock, {"cmd": "status"})

    def wait_state(self, state, timeout, extra=None):
        def ok():
            st = self.status()
            return st if st.get("state") == state and (extra is None or extra(st)) else None
        return wait_until(ok, timeout)

    # ---- 1. start before the guest, then the guest appears

    def start(self):
        h = self.h
        self.started = time.monotonic()
        self.daemon = Daemon(h, "main", [
            "--config", self.conf, "--instance", INSTANCE, "--memory", self.ram,
            "--watch-dir", self.watch_dir, "--socket", self.sock,
            "--interval-ms", str(INTERVAL_MS), "--state-file", self.state_file,
        ], env={"NOTIFY_SOCKET": self.notify.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)})
        ready = self.notify.wait(lambda m: has_line(m, "READY=1"), 10)
        listening = False
        if ready:
            # The socket must already accept connections when READY=1 is sent.
            try:
                listening = request(self.sock, {"cmd": "status"}, 2).get("ok") is True
            except OSError:
                listening = False
        h.check("READY=1 arrives on NOTIFY_SOCKET", ready is not None,
                "nothing within 10 s; stderr: " + self.daemon.stderr())
        h.check("the socket answers as soon as READY=1 arrived", listening)
        mode = os.stat(self.sock).st_mode & 0o7777 if os.path.exists(self.sock) else None
        h.check("the socket gets Mode= of the config file", mode == 0o600, oct(mode or 0))
        st = wait_until(lambda: self.status(), 5) or {}
        h.check("status while the RAM file is missing: waiting-for-memory",
                st.get("state") == "waiting-for-memory" and st.get("kernel") is None and
                st.get("scheduler") is None and isinstance(st.get("reason"), str),
                json.dumps(st)[:400])
        h.check("status names the instance, the memory, the interval",
                st.get("instance") == INSTANCE and st.get("memory") == self.ram and
                st.get("interval_ms") == INTERVAL_MS, json.dumps(st)[:400])
        ws = st.get("watches") or []
        h.check("status lists every watch as pending before the guest is there",
                len(ws) == self.nwatches and all(w.get("state") == "pending" for w in ws),
                json.dumps(ws)[:400])
        h.check("STATUS= names waiting-for-memory",
                wait_until(lambda: any(s.startswith("waiting-for-memory")
                                       for s in self.notify.statuses()), 3),
                repr(self.notify.statuses()))
        r = request(self.sock, {"cmd": "sample"})
        h.check("sample before the guest: not_ready",
                r.get("ok") is False and r.get("error") == "not_ready", json.dumps(r))
        r = request(self.sock, {"cmd": "maps"})
        h.check("maps before the guest: not_ready",
                r.get("ok") is False and r.get("error") == "not_ready", json.dumps(r))
        r = request(self.sock, {"cmd": "metrics"})
        h.check("metrics before the guest: an empty window, no metric",
                r.get("ok") is True and r.get("metrics") == {} and
                r.get("window", {}).get("ticks") == 0, json.dumps(r))
        r = request(self.sock, {"cmd": "metrics", "format": "openmetrics"})
        h.check("openmetrics before the guest ends with # EOF",
                r.get("ok") is True and r.get("text", "").endswith("# EOF\n"), json.dumps(r))

    def guest_appears(self):
        h = self.h
        # QEMU made the file, the kernel is not up: all zeroes (and sparse).
        with open(self.ram, "wb") as f:
            f.truncate(256 << 20)
        st = self.wait_state("locating-kernel", 10,
                             lambda s: "VMCOREINFO" in (s.get("reason") or ""))
        h.check("a RAM file without a kernel yet: locating-kernel, saying why", st,
                json.dumps(self.status())[:400])
        # QEMU restarted: a new file replaces the old one (tool_make_guest renames it in).
        self.guest = Guest(h, self.ram, "--with-scheduler", "--detached",
                           "--cpus", str(GUEST_CPUS), "--kaslr", "0x2e00000")
        truth = self.guest.truth
        st = self.wait_state("waiting-for-scheduler", 10, lambda s: s.get("kernel"))
        h.check("the replaced RAM file is found by itself: waiting-for-scheduler", st,
                json.dumps(self.status())[:400])
        st = st or {}
        k = st.get("kernel") or {}
        h.check("status kernel matches the guest",
                k.get("release") == truth["release"] and
                k.get("kaslr_offset") == truth["kaslr_offset"] and
                k.get("phys_base") == truth["phys_base"] and
                k.get("page_offset_base") == truth["page_offset_base"] and
                k.get("nr_cpus") == GUEST_CPUS and k.get("paging_levels") == 4 and
                k.get("source") == "vmcoreinfo", "%s vs %s" % (json.dumps(k), json.dumps(truth)))
        h.check("waiting-for-scheduler says why",
                "sched_ext" in (st.get("reason") or "") and st.get("scheduler") is None,
                json.dumps(st.get("reason")))
        self.guest.signal(signal.SIGUSR1)           # attach
        st = self.wait_state("sampling", 10)
        h.check("the scheduler attaches: sampling", st, json.dumps(self.status())[:400])
        st = st or {}
        sch = st.get("scheduler") or {}
        want = truth["scheduler"]
        h.check("status scheduler matches the guest",
                sch.get("ops_name") == want["ops_name"] and sch.get("object") == want["object"]
                and sch.get("struct_ops_map_id") == want["struct_ops_map_id"], json.dumps(sch))
        seen = self.notify.statuses()
        for state in ("locating-kernel", "waiting-for-scheduler", "sampling"):
            h.check("STATUS= names " + state,
                    wait_until(lambda: any(s.startswith(state) for s in self.notify.statuses()),
                               3), repr(seen))

    # ---- 2. every request

    def requests(self):
        h = self.h
        truth = self.guest.truth["scheduler"]
        st = wait_until(lambda: (lambda s: s if all(w.get("state") == "resolved"
                                                   for w in s.get("watches", [])) else None)(
            self.status()), 5) or self.status()
        ws = {w.get("label"): w for w in st.get("watches", [])}
        h.check("status: every watch resolved, with its metric keys",
                len(ws) == self.nwatches and all(w.get("state") == "resolved" for w in ws.values())
                and ws.get("runs_pc", {}).get("keys") == ["bw_demo_runs_pc_avg",
                                                          "bw_demo_runs_pc_max"],
                json.dumps(st.get("watches"))[:600])
        h.check("status: the engine's state and the clients",
                st.get("engine") is not None and
                set(st.get("clients", {})) >= {"connected", "subscribers", "dropped_subscribers"},
                json.dumps({k: st.get(k) for k in ("engine", "clients")}))
        t0 = st.get("ticks", 0)
        time.sleep(0.3)
        st2 = self.status()
        h.check("status: ticks grow while sampling, tick_ns is measured",
                st2.get("ticks", 0) > t0 and st2.get("tick_ns", {}).get("max", 0) > 0 and
                st2.get("tick_ns", {}).get("mean", 0) > 0, json.dumps(st2.get("tick_ns")))

        m = request(self.sock, {"cmd": "metrics"})
        mm = m.get("metrics", {})
        h.check("metrics: the run-level values of the guest",
                m.get("ok") is True and isinstance(mm.get("bw_demo_enqueues"), int) and
                mm["bw_demo_enqueues"] > 0 and mm.get("bw_demo_fixed_neg") == truth["fixed_neg"]
                and mm.get("bw_demo_runs_pc_max", 0) >= mm.get("bw_demo_runs_pc_avg", 1) and
                isinstance(mm.get("bw_demo_runs"), int) and
                mm.get("bw_demo_ident") == str(truth["ident"]) and
                m.get("window", {}).get("ticks", 0) > 0 and
                m.get("window", {}).get("samples", 0) > 0, json.dumps(m)[:600])
        om = request(self.sock, {"cmd": "metrics", "format": "openmetrics"})
        text = om.get("text", "")
        lines = text.split("\n")
        types = [l.split()[2] for l in lines if l.startswith("# TYPE ")]
        helps = [l.split()[2] for l in lines if l.startswith("# HELP ")]
        h.check("metrics in OpenMetrics: format, HELP before every TYPE, # EOF last",
                om.get("ok") is True and om.get("format") == "openmetrics" and
                types and types == helps and text.endswith("# EOF\n"), text[-300:])
        h.check("OpenMetrics: a scalar-counter is a counter family with a _total sample",
                "# TYPE bw_demo_enqueues counter" in lines and
                any(l.startswith('bw_demo_enqueues_total{vm="%s"} ' % INSTANCE) for l in lines) and
                'bw_demo_ident_total{vm="%s"} %d' % (INSTANCE, truth["ident"]) in lines,
                text[:600])
        h.check("OpenMetrics: a gauge's current value, its window mean as its own family",
                'bw_demo_fixed_neg{vm="%s"} %d' % (INSTANCE, truth["fixed_neg"]) in lines and
                "# TYPE bw_demo_gauge gauge" in lines and
                "# TYPE bw_demo_gauge_window_mean gauge" in lines, text[:600])
        h.check("OpenMetrics: a per-CPU watch has one series per CPU with a cpu label",
                all(any(l.startswith('bw_demo_runs_pc{vm="%s",cpu="%d"} ' % (INSTANCE, c))
                        for l in lines) for c in range(GUEST_CPUS)) and
                all(any(l.startswith('bw_demo_runs_total{vm="%s",cpu="%d"} ' % (INSTANCE, c))
                        for l in lines) for c in range(GUEST_CPUS)), text[:600])
        h.check("OpenMetrics: health families (up, state, ticks, watch states)",
                'bpfwatch_up{vm="%s"} 1' % INSTANCE in lines and
                'bpfwatch_state{vm="%s",state="sampling"} 1' % INSTANCE in lines and
                'bpfwatch_state{vm="%s",state="locating-kernel"} 0' % INSTANCE in lines and
                "# TYPE bpfwatch_ticks counter" in lines and
                'bpfwatch_watch_state{vm="%s",watch="gauge",state="resolved"} 1' % INSTANCE in lines
                and not any("instance=" in l for l in lines), text[:600])
        pt = request(self.sock, {"cmd": "metrics", "format": "prometheus"})
        plines = pt.get("text", "").split("\n")
        h.check("metrics in the Prometheus text format: counter families named _total, no # EOF",
                pt.get("ok") is True and "# TYPE bw_demo_enqueues_total counter" in plines and
                "# EOF" not in plines, pt.get("text", "")[:300])
        r = request(self.sock, {"cmd": "metrics", "format": "xml"})
        h.check("metrics with an unknown format: bad_args",
                r.get("ok") is False and r.get("error") == "bad_args", json.dumps(r))

        s = request(self.sock, {"cmd": "sample"})
        sv = s.get("values") or {}
        runs = sv.get("runs", {}).get("cpus", {})
        h.check("sample: the last tick's raw values by label",
                s.get("ok") is True and isinstance(s.get("tick"), int) and s["tick"] > 0 and
                isinstance(s.get("time_ns"), int) and len(sv) == self.nwatches and
                sv.get("fixed_neg") == {"value": truth["fixed_neg"]} and
                sv.get("ident") == {"value": str(truth["ident"])} and
                isinstance(sv.get("enqueues", {}).get("value"), int), json.dumps(s)[:600])
        h.check("sample: a per-CPU watch lists every CPU's value",
                len(runs) == GUEST_CPUS and
                all(v > 0 and v % (int(c) + 1) == 0 for c, v in runs.items()),
                json.dumps(runs)[:300])

        mp = request(self.sock, {"cmd": "maps"})
        byname = {x.get("full_name"): x for x in mp.get("maps", [])}
        h.check("maps: every map of the guest with its id, type and object",
                mp.get("ok") is True and len(byname) == len(truth["maps"]) and
                all(byname.get(n, {}).get("id") == i for n, i in truth["maps"].items()) and
                byname["bw_demo.bss"].get("type") == "array" and
                byname["cpu_stats"].get("type") == "percpu_array" and
                byname["cpu_ctx_stor_acc"].get("name") == "cpu_ctx_stor_ac" and
                all(x.get("object") == "bw_demo" and x.get("active") is True
                    for x in byname.values()), json.dumps(mp)[:600])

        prom = os.path.join(self.textfile_dir, INSTANCE + ".prom")
        want = 'bw_demo_fixed_neg{vm="%s"} %d' % (INSTANCE, truth["fixed_neg"])
        # Written about once a second: the first one may predate the first sample.
        text = wait_until(lambda: (lambda t: t if want in t.split("\n") else None)(
            open(prom).read()), 3) or (open(prom).read() if os.path.exists(prom) else "")
        lines = text.split("\n")
        h.check("TextfileDir= gets <instance>.prom in the Prometheus text format",
                want in lines and "# TYPE bw_demo_enqueues_total counter" in lines and
                os.listdir(self.textfile_dir) == [INSTANCE + ".prom"],
                "%r in %r" % (text[-200:], os.listdir(self.textfile_dir)))

        wr = request(self.sock, {"cmd": "watches"})
        src = {w.get("label"): w.get("source") for w in wr.get("watches", [])}
        demo = os.path.join(self.watch_dir, "demo.watch")
        h.check("watches: the loaded set with each watch's file:line",
                wr.get("ok") is True and len(src) == self.nwatches and
                all(src.get(l) == "%s:%d" % (demo, n) for l, n in DEMO_LINES.items()),
                json.dumps(src)[:400])

        r = request(self.sock, {"req": "stats"})
        resp = (r.get("args") or {}).get("resp") or {}
        h.check("scx_stats stats: the run-level metrics by label, a u64 as a number",
                r.get("errno") == 0 and isinstance(resp.get("enqueues"), int) and
                resp.get("ident") == truth["ident"], json.dumps(r)[:400])
        r = request(self.sock, {"req": "stats_meta"})
        meta = (r.get("args") or {}).get("resp") or {}
        fields = {}
        for v in meta.values():
            fields.update(v.get("fields", {}))
        h.check("scx_stats stats_meta: a field per metric",
                r.get("errno") == 0 and "enqueues" in fields and
                "runs_pc_avg" in fields, json.dumps(r)[:400])

        before = request(self.sock, {"cmd": "metrics"}).get("window", {})
        time.sleep(0.2)
        r = request(self.sock, {"cmd": "reset"})
        after = request(self.sock, {"cmd": "metrics"}).get("window", {})
        h.check("reset starts a new window",
                r.get("ok") is True and after.get("start_wall_ns", 0) > before.get(
                    "start_wall_ns", 0) and after.get("ticks", 1 << 60) < before.get("ticks", 0),
                "%s -> %s" % (json.dumps(before), json.dumps(after)))

    def errors(self):
        h = self.h
        c = Conn(self.sock)
        self.h.conns.append(c)
        r = c.request(b"{\"cmd\": \"status\",,}\n")
        h.check("malformed JSON: bad_json", r.get("ok") is False and r.get("error") == "bad_json",
                json.dumps(r))
        h.check("the connection still answers after bad_json",
                c.request({"cmd": "status"}).get("state") == "sampling")
        c.send(b"{\"cmd\":\"" + b"x" * (1 << 20) + b"\"}\n")
        r = c.reply(10)
        h.check("a 1 MiB line: too_large", r.get("ok") is False and r.get("error") == "too_large",
                json.dumps(r)[:300])
        h.check("the same connection answers after too_large",
                c.request({"cmd": "status"}).get("state") == "sampling")
        r = c.request({"cmd": "frobnicate"})
        h.check("unknown command: unknown_cmd",
                r.get("ok") is False and r.get("error") == "unknown_cmd" and
                "frobnicate" in r.get("message", ""), json.dumps(r))
        for what, line in (("an array", b"[1,2]\n"), ("a string", b"\"status\"\n"),
                           ("a number cmd", b"{\"cmd\":5}\n"), ("an empty object", b"{}\n")):
            r = c.request(line)
            h.check("%s: bad_args" % what,
                    r.get("ok") is False and r.get("error") == "bad_args" and
                    isinstance(r.get("message"), str), json.dumps(r))
        c.send(b"\n  \r\n\t\n")
        r = c.request({"cmd": "status"})
        h.check("blank lines get no reply", r.get("state") == "sampling", json.dumps(r)[:200])
        r = c.request(b"[" * 100 + b"]" * 100 + b"\n")
        h.check("nesting 100 deep: bad_json", r.get("error") == "bad_json", json.dumps(r))
        h.check("the connection still works after every error",
                c.request({"cmd": "status"}).get("ok") is True)
        c.close()

    # ---- 3. many clients, subscribers

    def many_clients(self):
        h = self.h
        n = 200
        conns = []
        try:
            for _ in range(n):
                conns.append(Conn(self.sock, 10))
            for c in conns:
                c.send({"cmd": "status"})
            good = sum(1 for c in conns if c.reply(10).get("ok") is True)
        except (OSError, TimeoutError, ConnectionError, ValueError) as e:
            good = -1
            why = str(e)
        else:
            why = "%d of %d answered" % (good, n)
        h.check("200 clients connected at once all get their status", good == n, why)
        for c in conns:
            c.close()
        st = wait_until(lambda: (lambda s: s if s["clients"]["connected"] <= 2 else None)(
            self.status()), 5)
        h.check("the 200 clients are gone from status", st, json.dumps(self.status()["clients"]))

    def subscribers(self):
        h = self.h
        reader = Conn(self.sock)
        h.conns.append(reader)
        r = reader.request({"cmd": "subscribe"})
        h.check("subscribe: ok, subscribed", r.get("ok") is True and r.get("subscribed") is True,
                json.dumps(r))
        got = {"lines": 0, "seqs": [], "bad": 0, "stop": False, "eof": False}

        def read_loop():
            while not got["stop"]:
                try:
                    line = reader.readline(1.0)
                except TimeoutError:
                    continue
                except OSError:
                    got["eof"] = True
                    return
                if line is None:
                    got["eof"] = True
                    return
                try:
                    msg = json.loads(line)
                except ValueError:
                    got["bad"] += 1
                    continue
                if msg.get("ok") is True and isinstance(msg.get("tick"), int) and \
                        "values" in msg:
                    got["lines"] += 1
                    got["seqs"].append(msg["tick"])
                else:
                    got["bad"] += 1
        thread = threading.Thread(target=read_loop, daemon=True)
        thread.start()

        slow = Conn(self.sock)
        h.conns.append(slow)
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.send({"cmd": "subscribe"})           # and never read again

        st0 = self.status()
        t0 = time.monotonic()
        lines0 = got["lines"]
        time.sleep(3.0)
        st1 = self.status()
        elapsed = time.monotonic() - t0
        lines1 = got["lines"]
        ticks = st1["ticks"] - st0["ticks"]
        expected = elapsed * 1000 / INTERVAL_MS
        h.check("a subscriber that never reads does not slow the ticks (>= 70%% of %d ms)"
                % INTERVAL_MS, ticks >= 0.7 * expected,
                "%d ticks in %.2f s, expected about %.0f" % (ticks, elapsed, expected))
        h.check("the reading subscriber gets one sample line per tick",
                abs((lines1 - lines0) - ticks) <= max(3, ticks // 20) and got["bad"] == 0,
                "%d lines for %d ticks, %d bad" % (lines1 - lines0, ticks, got["bad"]))
        seqs = got["seqs"]
        h.check("sample lines come in tick order",
                all(b > a for a, b in zip(seqs, seqs[1:])), repr(seqs[:20]))
        st = wait_until(lambda: (lambda s: s if s["clients"]["dropped_subscribers"] >= 1
                                 else None)(self.status()), 15)
        h.check("the subscriber that never reads is dropped", st,
                json.dumps(self.status()["clients"]))
        closed = False
        try:
            end = time.monotonic() + 10
            while time.monotonic() < end:
                if slow.readline(5.0) is None:
                    closed = True
                    break
        except (OSError, TimeoutError):
            closed = isinstance(sys.exc_info()[1], ConnectionResetError)
        h.check("the dropped subscriber's connection is closed", closed)
        n0 = got["lines"]
        time.sleep(0.5)
        h.check("the reading subscriber keeps receiving after the drop",
                got["lines"] > n0 + 5 and not got["eof"], "%d -> %d" % (n0, got["lines"]))
        st = self.status()
        h.check("status counts the subscriber left", st["clients"]["subscribers"] == 1,
                json.dumps(st["clients"]))
        got["stop"] = True
        thread.join(3)
        reader.close()
        slow.close()

    # ---- 4. reload

    def reload(self):
        h = self.h
        extra = os.path.join(self.watch_dir, "f-extra.watch")
        write(extra, EXTRA_WATCH)
        r = request(self.sock, {"cmd": "reload"})
        h.check("reload of a good set: ok, the new count",
                r.get("ok") is True and r.get("watches") == self.nwatches + 1, json.dumps(r))
        src = {w["label"]: w["source"] for w in request(self.sock, {"cmd": "watches"})["watches"]}
        h.check("the reloaded set is listed", src.get("dispatches") == extra + ":1",
                json.dumps(src)[:300])
        st = wait_until(lambda: (lambda s: s if any(
            w["label"] == "dispatches" and w["state"] == "resolved" for w in s["watches"])
            else None)(self.status()), 5)
        h.check("the new watch resolves", st, json.dumps(self.status()["watches"])[:400])

        bad = os.path.join(self.watch_dir, "g-bad.watch")
        write(bad, BAD_WATCH)
        t0 = self.status()["ticks"]
        r = request(self.sock, {"cmd": "reload"})
        h.check("reload of a bad set: bad_args naming file:line",
                r.get("ok") is False and r.get("error") == "bad_args" and
                (bad + ":4") in r.get("message", ""), json.dumps(r))
        wr = request(self.sock, {"cmd": "watches"})
        h.check("after a refused reload the old set is still listed",
                len(wr.get("watches", [])) == self.nwatches + 1 and
                "bad" not in [w["label"] for w in wr["watches"]], json.dumps(wr)[:300])
        time.sleep(0.2)
        st = self.status()
        h.check("after a refused reload the old set still samples",
                st["state"] == "sampling" and st["ticks"] > t0 and
                all(w["state"] == "resolved" for w in st["watches"]), json.dumps(st)[:300])
        os.unlink(bad)

        os.unlink(extra)
        self.notify.skip_all()
        before = time.clock_gettime(time.CLOCK_MONOTONIC)
        self.daemon.proc.send_signal(signal.SIGHUP)
        msg = self.notify.wait(lambda m: has_line(m, "RELOADING=1"), 5)
        usec = None
        for line in (msg or "").split("\n"):
            if line.startswith("MONOTONIC_USEC="):
                usec = int(line.split("=", 1)[1])
        after = time.clock_gettime(time.CLOCK_MONOTONIC)
        h.check("SIGHUP: RELOADING=1 with MONOTONIC_USEC= of now",
                usec is not None and before * 1e6 - 1000 <= usec <= after * 1e6 + 1000,
                repr(msg))
        h.check("SIGHUP: READY=1 after RELOADING=1",
                self.notify.wait(lambda m: has_line(m, "READY=1"), 5) is not None,
                repr(self.notify.texts()[-3:]))
        n = len(request(self.sock, {"cmd": "watches"})["watches"])
        h.check("SIGHUP reloaded the set", n == self.nwatches, "%d watches" % n)

    # ---- 5. the RAM file goes and comes back

    def ram_goes(self):
        h = self.h
        os.unlink(self.ram)
        st = self.wait_state("waiting-for-memory", 6)
        h.check("the RAM file removed: back to waiting-for-memory", st,
                json.dumps(self.status())[:300])
        self.guest.stop()
        m = request(self.sock, {"cmd": "metrics"})
        h.check("metrics outlive the guest",
                m.get("ok") is True and "bw_demo_enqueues" in m.get("metrics", {}),
                json.dumps(m)[:300])
        self.guest = Guest(h, self.ram, "--with-scheduler", "--cpus", "4")
        st = self.wait_state("sampling", 10, lambda s: s["kernel"]["nr_cpus"] == 4)
        h.check("the RAM file recreated: sampling again", st, json.dumps(self.status())[:300])

    # ---- 6. SIGTERM

    def sigterm(self):
        h = self.h
        pings = sum(1 for m in self.notify.texts() if has_line(m, "WATCHDOG=1"))
        want = (time.monotonic() - self.started) / (WATCHDOG_USEC / 2e6)
        h.check("WATCHDOG=1 every WATCHDOG_USEC/2", pings >= 0.6 * want and pings <= want + 2,
                "%d pings, about %.0f expected" % (pings, want))
        write(self.state_file, "stale\n")
        ino = os.stat(self.state_file).st_ino
        self.notify.skip_all()
        self.daemon.proc.send_signal(signal.SIGTERM)
        h.check("SIGTERM: STOPPING=1",
                self.notify.wait(lambda m: has_line(m, "STOPPING=1"), 5) is not None)
        rc = self.daemon.stop(timeout=10)
        h.check("SIGTERM: exit code 0", rc == 0,
                "exit %s; stderr: %s" % (rc, self.daemon.stderr()[-2000:]))
        try:
            with open(self.state_file) as f:
                state = json.load(f)
        except (OSError, ValueError) as e:
            state = {"error": str(e)}
        h.check("the state file holds the metrics reply",
                state.get("ok") is True and "window" in state and
                "bw_demo_enqueues" in state.get("metrics", {}), json.dumps(state)[:300])
        h.check("the state file was replaced, not rewritten in place (atomic rename)",
                os.stat(self.state_file).st_ino != ino and
                os.listdir(self.state_dir) == [INSTANCE + ".state"],
                repr(os.listdir(self.state_dir)))
        h.check("the socket file is removed at exit", not os.path.exists(self.sock))
        h.check("the TextfileDir= file is removed at exit (no stale values for node_exporter)",
                os.listdir(self.textfile_dir) == [], repr(os.listdir(self.textfile_dir)))
        self.guest.stop()

    # ---- 7. socket activation

    def socket_activation(self):
        h = self.h
        if not os.access(SOCKET_ACTIVATE, os.X_OK):
            h.check("systemd-socket-activate is installed", False,
                    "%s is missing (Debian package systemd)" % SOCKET_ACTIVATE)
            return
        sa_sock = h.p("sa.sock")
        unused = h.p("unused.sock")
        self.guest = Guest(h, self.ram, "--with-scheduler", live=False)
        self.notify.skip_all()
        env = ["-E", "NOTIFY_SOCKET=" + self.notify.path]
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if var in os.environ:
                env += ["-E", "%s=%s" % (var, os.environ[var])]
        d = Daemon(h, "activated", [
            "--instance", "sa", "--memory", self.ram, "--watch-dir", self.watch_dir,
            "--socket", unused, "--interval-ms", str(INTERVAL_MS),
        ], launcher=[SOCKET_ACTIVATE, "-l", sa_sock] + env)
        listening = wait_until(lambda: os.path.exists(sa_sock), 5)
        h.check("systemd-socket-activate listens", listening, open(d.err).read())
        try:
            st = request(sa_sock, {"cmd": "status"}, 10)
        except (OSError, TimeoutError, ValueError) as e:
            st = {"error": str(e)}
        h.check("the activated daemon answers on the passed socket",
                st.get("ok") is True and st.get("instance") == "sa", json.dumps(st)[:300])
        h.check("the activated daemon sends READY=1",
                self.notify.wait(lambda m: has_line(m, "READY=1"), 5) is not None)
        h.check("the activated daemon makes no socket of its own", not os.path.exists(unused))
        st = wait_until(lambda: (lambda s: s if s["state"] == "sampling" else None)(
            request(sa_sock, {"cmd": "status"})), 10)
        h.check("the activated daemon samples", st, "")
        os.killpg(d.proc.pid, signal.SIGTERM)
        rc = d.stop(timeout=10)
        h.check("the activated daemon exits 0 on SIGTERM", rc == 0,
                "exit %s; stderr: %s" % (rc, d.stderr()[-2000:]))

    # ---- 8. bad configuration at start

    def bad_config(self):
        h = self.h
        conf = h.p("bad.conf")
        write(conf, "[Guest]\nMemory=%s\n\n[Sampling]\nIntervalMSec=20\nBogus=1\n" % self.ram)
        d = Daemon(h, "badconf", ["--config", conf, "--socket", h.p("bad1.sock")])
        rc = d.stop(sig=0, timeout=10)
        h.check("a config file with an unknown key: exit 2, naming file:line",
                rc == 2 and (conf + ":6") in d.stderr(), "exit %s; stderr: %s" % (rc, d.stderr()))
        bad_dir = h.p("bad.watch.d")
        os.mkdir(bad_dir)
        write(os.path.join(bad_dir, "x.watch"), BAD_WATCH)
        d = Daemon(h, "badwatch", ["--memory", self.ram, "--watch-dir", bad_dir,
                                   "--socket", h.p("bad2.sock")])
        rc = d.stop(sig=0, timeout=10)
        h.check("a bad watch drop-in at start: exit 2, naming file:line",
                rc == 2 and os.path.join(bad_dir, "x.watch:4") in d.stderr(),
                "exit %s; stderr: %s" % (rc, d.stderr()))
        clash_dir = h.p("clash.watch.d")
        os.mkdir(clash_dir)
        write(os.path.join(clash_dir, "a.watch"),
              "[Watch]\nMap=.bss\nField=state.gauge\nAggregate=scalar\nLabel=a-b\n")
        write(os.path.join(clash_dir, "b.watch"),
              "\n[Watch]\nMap=.bss\nField=state.gauge\nAggregate=scalar\nLabel=a_b\n")
        d = Daemon(h, "clash", ["--memory", self.ram, "--watch-dir", clash_dir,
                                "--socket", h.p("bad3.sock")])
        rc = d.stop(sig=0, timeout=10)
        h.check("labels that become the same metric name (a-b, a_b): exit 2 naming both files",
                rc == 2 and os.path.join(clash_dir, "a.watch:1") in d.stderr() and
                os.path.join(clash_dir, "b.watch:2") in d.stderr(),
                "exit %s; stderr: %s" % (rc, d.stderr()))
        h.check("a daemon refused at start leaves no socket",
                not os.path.exists(h.p("bad1.sock")) and not os.path.exists(h.p("bad2.sock")) and
                not os.path.exists(h.p("bad3.sock")))

    # ---- every daemon of the run

    def sanitizers(self):
        h = self.h
        bad = []
        for name in sorted(os.listdir(h.tmp)):
            if name.endswith(".err"):
                with open(h.p(name), errors="replace") as f:
                    text = f.read()
                if "Sanitizer" in text or "runtime error" in text:
                    bad.append("%s:\n%s" % (name, text[-2000:]))
        h.check("no daemon reported a sanitizer error", not bad, "\n".join(bad))


def main():
    for path in (BPFWATCHD, TOOL):
        if not os.access(path, os.X_OK):
            print("test_daemon: %s is not built" % path)
            print("test_daemon: 0 passed, 1 failed")
            return 1
    # SIGTERM (a timeout) and SIGINT unwind through the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    h = Harness()
    start = time.monotonic()
    try:
        s = Suite(h)
        try:
            for step in (s.start, s.guest_appears, s.requests, s.errors, s.many_clients,
                         s.subscribers, s.reload, s.ram_goes, s.sigterm, s.socket_activation,
                         s.bad_config, s.sanitizers):
                try:
                    step()
                except Exception as e:  # a broken step is a failure; the rest still runs
                    h.check(step.__name__ + " ran to its end", False,
                            "%s: %s" % (type(e).__name__, e))
                    if s.daemon:
                        print("  main daemon stderr (tail):\n" + s.daemon.stderr()[-3000:])
                    if step in (s.start, s.guest_appears):
                        break
        finally:
            s.notify.close()
    except (KeyboardInterrupt, SystemExit):
        h.check("the run was not interrupted", False, "stopped by a signal")
    finally:
        h.cleanup()
    print("took %.1f s" % (time.monotonic() - start))
    print("test_daemon: %d passed, %d failed" % (h.passed, h.failed))
    return 1 if h.failed else 0


if __name__ == "__main__":
    sys.exit(main())
