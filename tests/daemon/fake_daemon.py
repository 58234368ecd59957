#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for bpfwatchd that serves canned replies over the socket
protocol of the README ("Socket protocol (as built)").  It exists only to
test bpfwatchctl: the real daemon has its own tests.

    fake_daemon.py --socket PATH [--ready-file PATH] [--mode MODE] ...
    fake_daemon.py --print CMD      # the exact reply line it would send

Modes make it misbehave on purpose:
  normal    answer every request per the protocol (default)
  hang      read requests, never answer
  noaccept  listen, never accept (connects succeed through the backlog)
  garbage   answer "this is not json"
  notobject answer a JSON array
  nook      answer a JSON object without "ok"
  close     close the connection without answering
  partial   send half a reply, then close
  huge      answer one line longer than the client's 64 MiB cap
  error     answer every request with an "internal" error
"""
import argparse
import json
import os
import socket
import socketserver
import sys
import threading
import time

START = time.monotonic()

METRICS = {
    "scx_demo_ticks": 1234,
    "scx_demo_lat_avg": 12.5,
    "scx_demo_lat_max": 40,
    "scx_demo_big": "18446744073709551615",
    "scx_demo_neg": -9223372036854775808,
    "scx_demo_p53": 9007199254740993,
    "scx_demo_zero": 0,
    "scx_demo_frac_avg": 0.1,
}

WATCHES = [
    {"label": "ticks", "map": ".bss", "field": "stats.ticks", "aggregate": "scalar-counter",
     "object": None, "source": "/etc/bpfwatch/watch.d/demo.watch:1"},
    {"label": "lat", "map": "cpu_ctx", "field": "lat_ns", "aggregate": "percpu",
     "object": None, "source": "/etc/bpfwatch/watch.d/demo.watch:7"},
    {"label": "later", "map": ".data", "field": "not_yet", "aggregate": "scalar",
     "object": None, "source": "/etc/bpfwatch/watch.d/demo.watch:13"},
    {"label": "broken", "map": ".bss", "field": "stats.nope", "aggregate": "scalar",
     "object": None, "source": "/etc/bpfwatch/watch.d/demo.watch:19"},
]

STATUS = {
    "ok": True,
    "state": "sampling",
    "reason": None,
    "instance": "fake",
    "memory": "/dev/shm/fake.ram",
    "kernel": {"release": "6.12.9-fake", "kaslr_offset": "0x1a000000",
               "phys_base": "0x2000000", "page_offset_base": "0xffff888000000000",
               "paging_levels": 4, "nr_cpus": 4, "source": "vmcoreinfo"},
    "scheduler": {"ops_name": "demo", "object": "scx_demo", "struct_ops_map_id": 42},
    "ticks": 1234,
    "interval_ms": 100,
    "tick_ns": {"last": 12000, "mean": 10500.5, "max": 40000},
    "watches": [
        {"label": "ticks", "map": ".bss", "field": "stats.ticks", "aggregate": "scalar-counter",
         "source": "/etc/bpfwatch/watch.d/demo.watch:1", "state": "resolved", "reason": None,
         "keys": ["scx_demo_ticks"]},
        {"label": "lat", "map": "cpu_ctx", "field": "lat_ns", "aggregate": "percpu",
         "source": "/etc/bpfwatch/watch.d/demo.watch:7", "state": "resolved", "reason": None,
         "keys": ["scx_demo_lat_avg", "scx_demo_lat_max"]},
        {"label": "later", "map": ".data", "field": "not_yet", "aggregate": "scalar",
         "source": "/etc/bpfwatch/watch.d/demo.watch:13", "state": "pending",
         "reason": "no map ending in \".data\" yet", "keys": []},
        {"label": "broken", "map": ".bss", "field": "stats.nope", "aggregate": "scalar",
         "source": "/etc/bpfwatch/watch.d/demo.watch:19", "state": "error",
         "reason": "no member \"nope\" in struct stats", "keys": []},
    ],
}

MAPS = [
    {"id": 7, "name": "scx_demo.bss", "full_name": "scx_demo.bss", "type": "array",
     "key_size": 4, "value_size": 64, "max_entries": 1, "flags": 1024, "object": "scx_demo",
     "active": True},
    {"id": 8, "name": "cpu_ctx_stor_ac", "full_name": "cpu_ctx_stor_acc",
     "type": "percpu_array", "key_size": 4, "value_size": 16, "max_entries": 1, "flags": 0,
     "object": "scx_demo", "active": True},
    {"id": 3, "name": "decoy.bss", "full_name": "", "type": "array", "key_size": 4,
     "value_size": 8, "max_entries": 1, "flags": 0, "object": "decoy", "active": False},
]


def sample(tick):
    return {
        "ok": True,
        "tick": tick,
        "time_ns": 1700000000000000000 + tick * 100000000,
        "values": {
            "ticks": {"value": tick},
            "lat": {"cpus": {"0": 10, "1": 20, "2": 30, "3": 40 + tick % 3}},
            "broken": {"error": "no member \"nope\" in struct stats"},
        },
    }


def line(obj):
    return json.dumps(obj, separators=(",", ":"))


class Fake:
    def __init__(self, opts):
        self.opts = opts
        self.appear = []
        for spec in opts.appear:
            kv, _, when = spec.rpartition("@")
            key, _, value = kv.partition("=")
            self.appear.append((key, json.loads(value), float(when)))
        self.log_lock = threading.Lock()

    def elapsed(self):
        return time.monotonic() - START

    def metrics(self):
        m = dict(METRICS)
        if self.opts.weird:
            m["scx_demo_weird"] = None
        for key, value, when in self.appear:
            if self.elapsed() >= when:
                m[key] = value
        return m

    def reply(self, req):
        """The reply object for a parsed request (subscribe handled apart)."""
        cmd = req.get("cmd") if isinstance(req, dict) else None
        if cmd == "status":
            return STATUS
        if cmd == "metrics":
            if self.opts.ready_after is not None and self.elapsed() < self.opts.ready_after:
                return {"ok": False, "error": "not_ready", "message": "no kernel located yet"}
            if req.get("format") == "openmetrics":
                text = "".join("# TYPE %s gauge\n%s %s\n" % (k, k, v)
                               for k, v in sorted(self.metrics().items())
                               if v is not None) + "# EOF\n"
                return {"ok": True, "format": "openmetrics", "text": text}
            return {"ok": True,
                    "window": {"start_wall_ns": 1700000000000000000, "duration_ns": 12300000000,
                               "ticks": 123, "samples": 456, "object": "scx_demo"},
                    "metrics": self.metrics()}
        if cmd == "sample":
            return sample(1234)
        if cmd == "maps":
            return {"ok": True, "maps": MAPS}
        if cmd == "watches":
            return {"ok": True, "watches": WATCHES}
        if cmd == "reset":
            return {"ok": True}
        if cmd == "reload":
            if self.opts.reload_fails:
                return {"ok": False, "error": "bad_args",
                        "message": "/etc/bpfwatch/watch.d/demo.watch:3: Aggregate=sum: unknown"}
            return {"ok": True, "watches": len(WATCHES)}
        if cmd is None:
            return {"ok": False, "error": "bad_args", "message": "no \"cmd\""}
        return {"ok": False, "error": "unknown_cmd", "message": "unknown command %r" % cmd}


def make_handler(fake):
    opts = fake.opts

    class Handler(socketserver.StreamRequestHandler):
        def send(self, text):
            self.wfile.write(text.encode() + b"\n")
            self.wfile.flush()

        def subscribe(self):
            self.send(line({"ok": True, "subscribed": True}))
            tick = 0
            while opts.sub_count is None or tick < opts.sub_count:
                time.sleep(opts.tick_ms / 1000.0)
                tick += 1
                self.send(line(sample(tick)))

        def handle(self):
            try:
                self.serve()
            except (BrokenPipeError, ConnectionResetError):
                pass

        def serve(self):
            mode = opts.mode
            if mode == "close":
                self.rfile.readline()
                return
            for raw in self.rfile:
                if opts.log:
                    with fake.log_lock, open(opts.log, "a") as f:
                        f.write(raw.decode(errors="replace"))
                try:
                    if mode == "hang":
                        time.sleep(3600)
                    elif mode == "garbage":
                        self.send("this is not json")
                    elif mode == "notobject":
                        self.send("[1,2,3]")
                    elif mode == "nook":
                        self.send(line({"metrics": {}}))
                    elif mode == "partial":
                        self.wfile.write(b'{"ok":tr')
                        self.wfile.flush()
                        return
                    elif mode == "huge":
                        pad = b"x" * ((64 << 20) + 1024)
                        self.wfile.write(b'{"ok":true,"pad":"' + pad + b'"}\n')
                        self.wfile.flush()
                    elif mode == "error":
                        self.send(line({"ok": False, "error": "internal",
                                        "message": "the fake says no"}))
                    else:
                        try:
                            req = json.loads(raw)
                        except ValueError:
                            self.send(line({"ok": False, "error": "bad_json",
                                            "message": "not JSON"}))
                            continue
                        if isinstance(req, dict) and req.get("cmd") == "subscribe":
                            self.subscribe()
                            return
                        self.send(line(fake.reply(req)))
                except (BrokenPipeError, ConnectionResetError):
                    return

    return Handler


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket")
    ap.add_argument("--ready-file")
    ap.add_argument("--mode", default="normal",
                    choices=["normal", "hang", "noaccept", "garbage", "notobject", "nook",
                             "close", "partial", "huge", "error"])
    ap.add_argument("--appear", action="append", default=[],
                    help="KEY=JSON@SECONDS: the metric shows up that long after start")
    ap.add_argument("--ready-after", type=float,
                    help="metrics answers not_ready until that many seconds after start")
    ap.add_argument("--start-after", type=float, default=0.0,
                    help="seconds to wait before the socket exists")
    ap.add_argument("--sub-count", type=int, help="samples per subscription, then hang up")
    ap.add_argument("--tick-ms", type=float, default=50.0)
    ap.add_argument("--reload-fails", action="store_true")
    ap.add_argument("--weird", action="store_true", help="add a metric whose value is null")
    ap.add_argument("--log", help="append every request line to this file")
    ap.add_argument("--print", dest="print_cmd",
                    help="print the reply line for this command and exit")
    opts = ap.parse_args()
    fake = Fake(opts)

    if opts.print_cmd:
        req = {"cmd": opts.print_cmd}
        if opts.print_cmd == "sample":
            print(line(sample(1234)))
        else:
            print(line(fake.reply(req)))
        return 0
    if not opts.socket:
        ap.error("--socket is required")

    time.sleep(opts.start_after)
    try:
        os.unlink(opts.socket)
    except FileNotFoundError:
        pass
    if opts.mode == "noaccept":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(opts.socket)
        s.listen(16)
        if opts.ready_file:
            open(opts.ready_file, "w").close()
        while True:
            time.sleep(3600)
    server = Server(opts.socket, make_handler(fake))
    if opts.ready_file:
        open(opts.ready_file, "w").close()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
