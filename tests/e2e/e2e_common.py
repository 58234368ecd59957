"""What the end-to-end comparison scripts share: the report of ok/FAIL lines.

Each comparison prints one line per check: "ok" or "FAIL", the check's name,
the expected value (from the guest, or from where `side` says) and
bpfwatchd's value.  The shell scripts count those lines, so their shape is
the same for every comparison; only the column widths differ.
"""

import json

# A value bpfwatchd left out, told apart from a JSON null.
MISSING = object()


def show(v):
    if v is MISSING:
        return "<absent>"
    if isinstance(v, str):
        return v
    return json.dumps(v)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class Report:
    def __init__(self, prefix="", name_width=40, value_width=26):
        self.failed = 0
        self.passed = 0
        self.prefix = prefix
        self.name_width = name_width
        self.value_width = value_width

    def check(self, name, ok, guest, got, why="", side="guest"):
        """side names where the expected value comes from: the guest, or
        ("want") bpfwatchd's own samples, for folded metrics."""
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        line = "%-4s %-*s %5s=%-*s bpfwatchd=%s" % (
            "ok" if ok else "FAIL", self.name_width, self.prefix + name, side,
            self.value_width, show(guest), show(got))
        if why and not ok:
            line += "  (" + why + ")"
        print(line)

    def info(self, text):
        print("     " + self.prefix + text)
