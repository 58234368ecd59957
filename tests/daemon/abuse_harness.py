#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Clients that try to take the real bpfwatchd down, over its real socket,
on a synthetic 128-CPU guest (tests/tools/make_guest.c --live): local
socket only, every phase bounded in time.

Phases: 1,030 idle connections (the lockout); 300 clients that pipeline
requests and never read; 200 concurrent clients; 50 subscribers that never
read; a 10 MB line and an unclosed line; 10,000 connect/close cycles; then
a peer outside ControlUsers= sends reset.  Throughout: a fresh
`bpfwatchctl status` answers within 1 s, the daemon's RSS stays under
64 MiB, ticks keep at least 95 % of their rate; after the clients leave
the RSS comes back within 4 MiB of where it started.

Prints "ok   NAME" / "FAIL NAME: why" and "test_abuse: N passed, N failed".
Environment: as daemon_harness.py, plus BPFWATCHCTL and SANITIZE (1: the
daemon is an ASan build: its quarantine keeps freed memory and its code
runs several times slower, so the RSS, latency and tick-rate bounds are
checked in the normal build only, and the test says so; every request
must still be answered and no sanitizer may report).
"""

import errno
import json
import os
import resource
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import daemon_harness as dh  # noqa: E402

O = os.environ.get("O", ".")
BPFWATCHCTL = os.environ.get("BPFWATCHCTL") or os.path.join(O, "daemon", "bpfwatchctl")
SANITIZED = os.environ.get("SANITIZE") == "1"
INTERVAL_MS = 50
CPUS = 128
RSS_MAX_KB = 64 * 1024
RSS_RETURN_KB = 4 * 1024
FRESH_MAX_S = 1.0



def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect(path, blocking=True):
    """A connection; a full listen backlog makes a blocking connect wait, as a client would."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(True)
    s.connect(path)
    if blocking:
        s.settimeout(5)
    else:
        s.setblocking(False)
    return s


class Abuse:
    def __init__(self, h):
        self.h = h
        self.sock = h.p("a.sock")
        self.ram = h.p("guest.ram")
        self.watch_dir = h.p("watch.d")
        os.mkdir(self.watch_dir)
        dh.write(os.path.join(self.watch_dir, "w.watch"), dh.DEMO_WATCH)
        self.conf = h.p("a.conf")
        # The defaults, written out: what a production instance runs with.
        dh.write(self.conf, "[Clients]\nMaxClients=1024\nMaxClientsPerUser=256\n"
                 "IdleTimeoutSec=30\nBufferTotalMaxBytes=33554432\n")
        self.rss_peak = 0
        self.fresh_worst = 0.0
        self.fresh_failures = []

    # ---- measurements

    def status(self):
        """status over a blocking connection (a full backlog makes it wait, as clients do)."""
        c = connect(self.sock)
        try:
            c.sendall(b'{"cmd":"status"}\n')
            return json.loads(c.makefile("rb").readline())
        finally:
            c.close()

    def fresh(self, what):
        """A fresh bpfwatchctl status: answered within FRESH_MAX_S?"""
        t0 = time.monotonic()
        try:
            p = subprocess.run([BPFWATCHCTL, "-s", self.sock, "--timeout", "5", "--json",
                                "status"], capture_output=True, timeout=10)
            ok = p.returncode == 0 and json.loads(p.stdout).get("ok") is True
        except (subprocess.TimeoutExpired, ValueError):
            ok = False
        took = time.monotonic() - t0
        self.fresh_worst = max(self.fresh_worst, took)
        if not ok or took > FRESH_MAX_S:
            self.fresh_failures.append("%s: %s after %.2f s" % (what, "ok" if ok else "no answer",
                                                                 took))
        return ok and took <= FRESH_MAX_S

    def sample_rss(self):
        kb = rss_kb(self.daemon.proc.pid)
        self.rss_peak = max(self.rss_peak, kb)
        return kb

    def tick_window(self):
        st = self.status()
        return (st["ticks"], time.monotonic())

    def check_ticks(self, name, start):
        ticks, t = self.tick_window()
        expected = (t - start[1]) * 1000.0 / INTERVAL_MS
        got = ticks - start[0]
        st = self.status()
        if SANITIZED:
            print("skip %s: ticks %d of %.0f, not bounded under ASan (several times slower "
                  "code); the normal build checks it" % (name, got, expected), flush=True)
            return
        self.h.check("%s: ticks keep >= 95 %% of their rate (%d of %.0f)" % (name, got, expected),
                     got >= 0.95 * expected - 1, "%d ticks in %.1f s; tick_ns %s" % (
                         got, t - start[1], json.dumps(st.get("tick_ns"))))

    def check_rss(self, name):
        kb = self.sample_rss()
        if SANITIZED:
            print("skip %s: RSS %d KiB not bounded under ASan (its quarantine keeps freed "
                  "memory); the normal build checks it" % (name, kb), flush=True)
            return
        self.h.check("%s: RSS %d KiB (peak %d) stays under 64 MiB" % (name, kb, self.rss_peak),
                     self.rss_peak < RSS_MAX_KB)

    def hold(self, seconds, name, pump=None):
        """Keep the abuse on for @seconds: fresh status and RSS every 0.25 s."""
        end = time.monotonic() + seconds
        fresh_ok = True
        while time.monotonic() < end:
            if pump:
                pump()
            self.sample_rss()
            fresh_ok &= self.fresh(name)
            time.sleep(0.25)
        if SANITIZED:
            # Under ASan: answered at all (within 5 s), the 1 s bound is the normal build's.
            self.h.check("%s: a fresh bpfwatchctl status always answers (worst %.2f s; the 1 s "
                         "bound is checked in the normal build)" % (name, self.fresh_worst),
                         not any("no answer" in f for f in self.fresh_failures),
                         "; ".join(self.fresh_failures[-3:]))
            return
        self.h.check("%s: a fresh bpfwatchctl status answers within 1 s all along (worst "
                     "%.2f s)" % (name, self.fresh_worst), fresh_ok,
                     "; ".join(self.fresh_failures[-3:]))

    # ---- setup

    def start(self):
        h = self.h
        self.guest = dh.Guest(h, self.ram, "--cpus", str(CPUS), "--with-scheduler")
        self.daemon = dh.Daemon(h, "abuse", [
            "--config", self.conf, "--instance", "abuse", "--memory", self.ram,
            "--watch-dir", self.watch_dir, "--socket", self.sock,
            "--interval-ms", str(INTERVAL_MS)])
        st = dh.wait_until(lambda: self.status().get("state") == "sampling", 30)
        h.check("the daemon samples the 128-CPU guest", st, self.daemon.stderr()[-500:])
        time.sleep(1.0)
        self.rss_start = self.sample_rss()

    # ---- the phases

    def lockout(self):
        conns = []
        for _ in range(1030):
            try:
                conns.append(connect(self.sock))
            except OSError:
                break
        start = self.tick_window()
        self.hold(2.0, "1,030 idle connections")
        self.check_ticks("1,030 idle connections", start)
        for c in conns:
            c.close()
        self.check_rss("1,030 idle connections")

    def pipelines(self):
        line = b'{"cmd":"status"}\n' * 64
        conns = []
        for _ in range(300):
            try:
                conns.append(connect(self.sock, blocking=False))
            except OSError:
                break

        def pump():
            for c in conns:
                try:
                    c.send(line)
                except (BlockingIOError, OSError):
                    pass
        start = self.tick_window()
        self.hold(4.0, "300 pipelining clients that never read", pump)
        self.check_ticks("300 pipelining clients that never read", start)
        self.check_rss("300 pipelining clients that never read")
        # How many were dropped depends on how fast this machine lets them queue
        # (test_server's test_buffer_total checks the bound itself): said, not checked.
        print("     limits hit: %s" % json.dumps(self.status()["clients"].get("limit_hits")),
              flush=True)
        for c in conns:
            c.close()

    def concurrent(self):
        conns = []
        for _ in range(200):
            conns.append(connect(self.sock, blocking=False))
        for c in conns:
            c.send(b'{"cmd":"metrics"}\n')
        replies, bufs = 0, {c.fileno(): b"" for c in conns}
        end = time.monotonic() + 10
        pending = set(conns)
        while pending and time.monotonic() < end:
            r, _, _ = select.select(list(pending), [], [], 0.5)
            for c in r:
                try:
                    chunk = c.recv(1 << 16)
                except BlockingIOError:
                    continue
                bufs[c.fileno()] += chunk
                if b"\n" in bufs[c.fileno()] or not chunk:
                    pending.discard(c)
                    line = bufs[c.fileno()].split(b"\n", 1)[0]
                    try:
                        replies += json.loads(line).get("ok") is True
                    except ValueError:
                        pass
        self.h.check("200 concurrent clients: every one answered (%d)" % replies,
                     replies == 200)
        self.fresh("200 concurrent clients")
        for c in conns:
            c.close()

    def subscribers(self):
        conns = []
        for _ in range(50):
            c = connect(self.sock)
            c.sendall(b'{"cmd":"subscribe"}\n')
            conns.append(c)
        start = self.tick_window()
        self.hold(4.0, "50 subscribers that never read")
        self.check_ticks("50 subscribers that never read", start)
        self.check_rss("50 subscribers that never read")
        for c in conns:
            c.close()

    def long_lines(self):
        h = self.h
        c = connect(self.sock)
        chunk = b"x" * (1 << 20)
        c.settimeout(30)
        for _ in range(10):
            c.sendall(chunk)
        c.sendall(b"\n")
        r = json.loads(c.makefile("rb").readline())
        h.check("a 10 MB line: too_large, once", r.get("error") == "too_large", json.dumps(r))
        c.sendall(b'{"cmd":"status"}\n')
        f = c.makefile("rb")
        r = json.loads(f.readline())
        h.check("the connection still serves after the 10 MB line", r.get("ok") is True,
                json.dumps(r)[:200])
        c.close()
        u = connect(self.sock)
        u.sendall(b'{"cmd":"status",' + b" " * 60000)
        self.hold(1.0, "an unclosed line")
        self.check_rss("an unclosed line")
        u.close()

    def churn(self):
        t0 = time.monotonic()
        n = 0
        for i in range(10000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.sock)
                if i % 10 == 0:
                    s.send(b'{"cmd":"status"}\n')
                n += 1
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.ECONNREFUSED):
                    raise
            finally:
                s.close()
        self.h.check("10,000 connect/close cycles (%d connected in %.1f s)"
                     % (n, time.monotonic() - t0), n >= 9900)
        self.fresh("after 10,000 connect/close cycles")
        gone = dh.wait_until(lambda: self.status()["clients"]["connected"] == 1, 10)
        self.h.check("every cycled client is gone from the daemon", gone,
                     json.dumps(self.status()["clients"]))

    def recovered(self):
        h = self.h
        if SANITIZED:
            print("skip memory returns within 4 MiB: not bounded under ASan (quarantine)",
                  flush=True)
        else:
            back = dh.wait_until(lambda: self.sample_rss() <= self.rss_start + RSS_RETURN_KB, 10,
                                 0.25)
            h.check("memory returns within 4 MiB of the start after the clients leave "
                    "(%d KiB, start %d KiB)" % (rss_kb(self.daemon.proc.pid), self.rss_start),
                    back)
        h.check("the daemon is still running and sampling",
                self.daemon.proc.poll() is None and self.status().get("state") == "sampling")
        err = self.daemon.stderr()
        h.check("every limit hit was logged with the peer's pid and uid",
                "client limit" in err and " uid %d " % os.getuid() in err, err[-600:])
        h.check("no sanitizer report", "Sanitizer" not in err and "runtime error" not in err,
                err[-600:])

    def permissions(self):
        """A peer outside ControlUsers= is refused reset; reads are served."""
        h = self.h
        r = subprocess.run([BPFWATCHCTL, "-s", self.sock, "reset"], capture_output=True)
        h.check("the daemon's own user (default control list) may reset", r.returncode == 0,
                r.stderr.decode())
        sock = h.p("ro.sock")
        conf = h.p("ro.conf")
        other = 65534 if os.getuid() != 65534 else 65533
        dh.write(conf, "[Clients]\nControlUsers=%d\n" % other)
        d = dh.Daemon(h, "readonly", ["--config", conf, "--instance", "ro", "--memory",
                                      self.ram, "--watch-dir", self.watch_dir, "--socket", sock,
                                      "--interval-ms", str(INTERVAL_MS)])
        ok = dh.wait_until(lambda: dh.request(sock, {"cmd": "status"}).get("ok"), 10)
        h.check("a daemon with ControlUsers=%d answers status to anyone" % other, ok)
        for cmd in ("reset", "reload"):
            r = dh.request(sock, {"cmd": cmd})
            h.check("a peer outside ControlUsers= is refused %s: forbidden" % cmd,
                    r.get("ok") is False and r.get("error") == "forbidden", json.dumps(r))
        p = subprocess.run([BPFWATCHCTL, "-s", sock, "reset"], capture_output=True)
        h.check("bpfwatchctl reset from outside the list exits 1 naming forbidden",
                p.returncode == 1 and b"forbidden" in p.stderr, p.stderr.decode())
        d.stop()
        h.check("the refusal was logged with the peer's uid",
                "ControlUsers/ControlGroups" in d.stderr() and
                "uid %d" % os.getuid() in d.stderr(), d.stderr()[-400:])


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    h = dh.Harness()
    try:
        a = Abuse(h)
        a.start()
        a.lockout()
        a.pipelines()
        a.concurrent()
        a.subscribers()
        a.long_lines()
        a.churn()
        a.recovered()
        a.permissions()
    except Exception as e:  # noqa: BLE001 - any failure is reported, then cleanup runs
        import traceback
        h.check("the abuse run completes", False, "%s: %s\n%s" % (type(e).__name__, e,
                                                                  traceback.format_exc()))
    finally:
        h.cleanup()
    print("test_abuse: %d passed, %d failed" % (h.passed, h.failed))
    return 1 if h.failed else 0


if __name__ == "__main__":
    sys.exit(main())
