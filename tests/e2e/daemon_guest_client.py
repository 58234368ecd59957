#!/usr/bin/env python3
"""Small socket-side helpers for tests/e2e/test_daemon_guest.sh and
tests/bench/daemon_rate.sh (the socket protocol is in the README, "Socket
protocol (as built)").

  field PATH...               read one JSON object on stdin, print the value
                              at each dotted PATH (e.g. kernel.kaslr_offset,
                              tick_ns.mean, clients.subscribers), one a line;
                              strings bare, null/absent as "null"
  rate SOCKET SECONDS [PID]   ticks per second over SECONDS from two status
                              replies (each timed where it was answered),
                              with PID the CPU use of that process over the
                              same span (utime+stime of /proc/PID/stat, % of
                              one core); one JSON object on stdout, with
                              tick_ns of both replies (tick_ns_before, tick_ns)
  stalled-subscriber SOCKET   subscribe, print "subscribed" once the daemon
                              acknowledged, then never read again until
                              SIGTERM: a client whose samples pile up
  ctl -s SOCKET [--json] [--timeout S] [--count N] COMMAND [ARGS]
                              stands in for bpfwatchctl where it is not
                              built: status metrics sample maps watches
                              reset reload subscribe, get KEY, wait KEY,
                              assert 'KEY OP N'...; the same exit codes
                              (0 ok, 1 no, 2 usage, 3 cannot reach)
"""
import json
import operator
import os
import signal
import socket
import sys
import time

EXIT_OK, EXIT_NO, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
# One reply line is at most this long (bpfwatchctl's own bound).
REPLY_MAX = 64 << 20
WAIT_POLL_S = 0.1
OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
       "==": operator.eq, "!=": operator.ne}


def field(paths):
    doc = json.load(sys.stdin)
    for path in paths:
        v = doc
        for part in path.split("."):
            if isinstance(v, list) and part.isdigit():
                v = v[int(part)] if int(part) < len(v) else None
            else:
                v = v.get(part) if isinstance(v, dict) else None
        if v is None:
            print("null")
        elif isinstance(v, str):
            print(v)
        else:
            print(json.dumps(v))
    return EXIT_OK


class Unreachable(Exception):
    pass


class Conn:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.buf = b""
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise Unreachable(f"cannot connect to {path}: {e.strerror or e}") from e

    def send(self, req):
        try:
            self.sock.sendall(json.dumps(req).encode() + b"\n")
        except OSError as e:
            raise Unreachable(f"sending the request: {e}") from e

    def reply(self):
        while b"\n" not in self.buf:
            if len(self.buf) > REPLY_MAX:
                raise Unreachable("reply longer than 64 MiB")
            try:
                chunk = self.sock.recv(65536)
            except OSError as e:
                raise Unreachable(f"reading the reply: {e}") from e
            if not chunk:
                raise Unreachable("the daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            doc = json.loads(line)
        except ValueError as e:
            raise Unreachable(f"reply is not JSON: {e}") from e
        if not isinstance(doc, dict) or "ok" not in doc:
            raise Unreachable("reply is not a JSON object with \"ok\"")
        return doc, line.decode(errors="replace")

    def close(self):
        self.sock.close()


def request(path, timeout, req):
    c = Conn(path, timeout)
    try:
        c.send(req)
        return c.reply()
    finally:
        c.close()


def number(v):
    """A metric as a Python number (u64 above 2^63 arrive as strings)."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return None
    return None


def text(v):
    """A metric or sample value as bpfwatchctl prints it: whole numbers without ".0"."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def sample_line(doc):
    """One sample on one line: tick N  label=value  label=[cpu0 cpu1]  label=error(...)."""
    parts = [f"tick {doc.get('tick')}"]
    for label, e in sorted(doc.get("values", {}).items()):
        if "error" in e:
            parts.append(f"{label}=error({e['error']})")
        elif "cpus" in e:
            cpus = sorted(e["cpus"].items(), key=lambda kv: int(kv[0]))
            parts.append(f"{label}=[{' '.join(text(v) for _, v in cpus)}]")
        else:
            parts.append(f"{label}={text(e.get('value'))}")
    return "  ".join(parts)


def parse_expr(expr):
    parts = expr.split()
    if len(parts) != 3 or parts[1] not in OPS:
        return None
    try:
        n = int(parts[2], 0)
    except ValueError:
        try:
            n = float(parts[2])
        except ValueError:
            return None
    return parts[0], parts[1], n


def error_reply(doc):
    print(f"bpfwatchctl: {doc.get('error')}: {doc.get('message')}", file=sys.stderr)
    return EXIT_NO


def ctl(argv):
    sock, as_json, timeout, count, pos = None, False, 5.0, 0, []
    it = iter(argv)
    for a in it:
        if a in ("-s", "--socket"):
            sock = next(it, None)
        elif a in ("-j", "--json"):
            as_json = True
        elif a in ("-t", "--timeout"):
            timeout = float(next(it, "5"))
        elif a in ("-n", "--count"):
            count = int(next(it, "0"))
        elif a.startswith("-") and len(a) > 1 and not pos:
            print(f"bpfwatchctl: unknown option {a}", file=sys.stderr)
            return EXIT_USAGE
        else:
            pos.append(a)
    if not sock or not pos:
        print("usage: ctl -s SOCKET [--json] [--timeout S] COMMAND [ARGS]", file=sys.stderr)
        return EXIT_USAGE
    cmd, args = pos[0], pos[1:]
    try:
        if cmd in ("status", "metrics", "sample", "maps", "watches", "reset", "reload"):
            doc, line = request(sock, timeout, {"cmd": cmd})
            print(line if as_json else json.dumps(doc, indent=1))
            return EXIT_OK if doc["ok"] is True else error_reply(doc)
        if cmd == "get" and len(args) == 1:
            doc, _ = request(sock, timeout, {"cmd": "metrics"})
            if doc["ok"] is not True:
                return error_reply(doc)
            if args[0] not in doc.get("metrics", {}):
                print(f"bpfwatchctl: {args[0]}: absent", file=sys.stderr)
                return EXIT_NO
            print(text(doc["metrics"][args[0]]))
            return EXIT_OK
        if cmd == "wait" and len(args) == 1:
            deadline = time.monotonic() + timeout
            last = None
            while True:
                try:
                    doc, _ = request(sock, max(deadline - time.monotonic(), WAIT_POLL_S),
                                     {"cmd": "metrics"})
                    last = None
                    if doc["ok"] is not True and doc.get("error") != "not_ready":
                        return error_reply(doc)
                    if doc["ok"] is True and args[0] in doc.get("metrics", {}):
                        print(text(doc["metrics"][args[0]]))
                        return EXIT_OK
                except Unreachable as e:
                    last = e
                if time.monotonic() >= deadline:
                    if last:
                        raise last
                    print(f"bpfwatchctl: {args[0]}: still absent after {timeout:g} s",
                          file=sys.stderr)
                    return EXIT_NO
                time.sleep(WAIT_POLL_S)
        if cmd == "assert" and args:
            exprs = [parse_expr(a) for a in args]
            if None in exprs:
                print("bpfwatchctl: assert: an expression is 'KEY OP NUMBER'", file=sys.stderr)
                return EXIT_USAGE
            doc, _ = request(sock, timeout, {"cmd": "metrics"})
            if doc["ok"] is not True:
                return error_reply(doc)
            all_hold = True
            for key, op, n in exprs:
                v = number(doc.get("metrics", {}).get(key))
                holds = v is not None and OPS[op](v, n)
                all_hold &= holds
                print(f"{'ok  ' if holds else 'FAIL'}  {key} {op} {n}  (value {v})")
            return EXIT_OK if all_hold else EXIT_NO
        if cmd == "subscribe" and not args:
            c = Conn(sock, timeout)
            try:
                c.send({"cmd": "subscribe"})
                seen = 0
                while not count or seen < count:
                    doc, line = c.reply()
                    if doc["ok"] is not True:
                        return error_reply(doc)
                    if "subscribed" in doc:
                        c.sock.settimeout(None)
                        continue
                    print(line if as_json else sample_line(doc), flush=True)
                    seen += 1
                return EXIT_OK
            finally:
                c.close()
    except Unreachable as e:
        print(f"bpfwatchctl: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(f"bpfwatchctl: bad command line: {' '.join(pos)}", file=sys.stderr)
    return EXIT_USAGE


def cpu_ticks(pid):
    """utime + stime of @pid in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def rate(path, seconds, pid):
    def status():
        t0 = time.monotonic()
        cpu = cpu_ticks(pid) if pid else 0
        doc, _ = request(path, 10, {"cmd": "status"})
        t1 = time.monotonic()
        if doc.get("ok") is not True:
            raise Unreachable(f"status refused: {doc}")
        return doc, (t0 + t1) / 2, cpu

    try:
        a, ta, ca = status()
        time.sleep(seconds)
        b, tb, cb = status()
    except (Unreachable, OSError, ValueError) as e:
        print(f"rate: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    elapsed = tb - ta
    ticks = b["ticks"] - a["ticks"]
    out = {
        "ticks": ticks, "seconds": round(elapsed, 3), "rate": round(ticks / elapsed, 2),
        "ticks_before": a["ticks"], "ticks_after": b["ticks"],
        "subscribers": [a.get("clients", {}).get("subscribers"),
                        b.get("clients", {}).get("subscribers")],
        "dropped_subscribers": b.get("clients", {}).get("dropped_subscribers"),
        "state": [a.get("state"), b.get("state")], "tick_ns": b.get("tick_ns"),
        "tick_ns_before": a.get("tick_ns"),
    }
    if pid:
        hz = os.sysconf("SC_CLK_TCK")
        out["cpu_percent"] = round((cb - ca) / hz / elapsed * 100, 2)
    print(json.dumps(out))
    return EXIT_OK


def stalled_subscriber(path):
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        c = Conn(path, 10)
        c.send({"cmd": "subscribe"})
        doc, _ = c.reply()
    except Unreachable as e:
        print(f"stalled-subscriber: {e}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if doc.get("ok") is not True or doc.get("subscribed") is not True:
        print(f"stalled-subscriber: not subscribed: {doc}", file=sys.stderr)
        return EXIT_NO
    print("subscribed", flush=True)
    # Never read again: the daemon's queue for this client only grows.
    while True:
        signal.pause()


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "field":
        return field(sys.argv[2:])
    if len(sys.argv) == 3 and sys.argv[1] == "stalled-subscriber":
        return stalled_subscriber(sys.argv[2])
    if len(sys.argv) in (4, 5) and sys.argv[1] == "rate":
        return rate(sys.argv[2], float(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) == 5 else 0)
    if len(sys.argv) >= 2 and sys.argv[1] == "ctl":
        return ctl(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
