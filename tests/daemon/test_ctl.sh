#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bpfwatchctl against tests/daemon/fake_daemon.py: every command, the
# human and --json output, and the exit codes (0 ok, 1 no, 2 usage,
# 3 daemon unreachable or broken).  The fake serves canned replies and can
# be told to hang, send garbage, hang up, or answer too much.
#
# Environment: O (bpfwatchctl is $O/daemon/bpfwatchctl, default .).
set -uo pipefail

cd "$(dirname "$0")/../.."
O=${O:-.}
CTL="$O/daemon/bpfwatchctl"
# The distribution's interpreter (what tests/deps.sh installs) starts faster than a shim.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
FAKE="$PY tests/daemon/fake_daemon.py"
passed=0 failed=0

if [ ! -x "$CTL" ]; then
    echo "test_ctl: $CTL is not built"
    echo "test_ctl: 0 passed, 1 failed"
    exit 1
fi

tmp=$(mktemp -d /tmp/test_ctl.XXXXXX)
fakes=()
cleanup() {
    local p
    for p in "${fakes[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${fakes[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() {
    failed=$((failed + 1)); echo "FAIL $1: $2"
    echo "  exit $rc; stdout:"; sed -n '1,15s/^/    /p' "$tmp/out"
    echo "  stderr:"; sed -n '1,10s/^/    /p' "$tmp/err"
}

# start_fake NAME [fake options...]: serves $tmp/NAME.sock
start_fake() {
    local name=$1 i
    shift
    rm -f "$tmp/$name.ready"
    $FAKE --socket "$tmp/$name.sock" --ready-file "$tmp/$name.ready" "$@" &
    fakes+=($!)
    for i in $(seq 1 100); do
        [ -e "$tmp/$name.ready" ] && return 0
        sleep 0.05
    done
    echo "test_ctl: the fake daemon $name did not start"
    exit 1
}

now_ms() { date +%s%3N; }

# run ARGS...: run bpfwatchctl, keep stdout/stderr/exit code and the time taken.
run() {
    local t0
    t0=$(now_ms)
    "$CTL" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    took=$(( $(now_ms) - t0 ))
}

# expect NAME RC [STDOUT_ERE [STDERR_ERE]] -- ARGS...
expect() {
    local name=$1 want=$2 out_re="" err_re=""
    shift 2
    if [ "$1" != "--" ]; then out_re=$1; shift; fi
    if [ "$1" != "--" ]; then err_re=$1; shift; fi
    shift
    run "$@"
    if [ "$rc" != "$want" ]; then fail "$name" "exit $rc, wanted $want"; return; fi
    if [ -n "$out_re" ] && ! grep -Eq -- "$out_re" "$tmp/out"; then
        fail "$name" "stdout does not match /$out_re/"; return
    fi
    if [ -n "$err_re" ] && ! grep -Eq -- "$err_re" "$tmp/err"; then
        fail "$name" "stderr does not match /$err_re/"; return
    fi
    pass "$name"
}

# check NAME CONDITION_DESCRIPTION: pass when the last command of the caller succeeded.
check() { if [ "$2" = 0 ]; then pass "$1"; else fail "$1" "$3"; fi; }

# ---- usage errors: exit 2, nothing sent ----
expect help 0 'Exit status' -- --help
expect help-command 0 'assert EXPR' -- help
expect no-command 2 '' 'usage: bpfwatchctl' --
expect unknown-command 2 '' 'unknown command "frobnicate"' -- frobnicate
expect unknown-option 2 '' 'unknown option --frob' -- --frob status
expect socket-and-instance 2 '' '-s and -i' -- -s /tmp/x.sock -i vm1 status
expect get-no-key 2 '' 'exactly one KEY' -- -s "$tmp/none.sock" get
expect get-two-keys 2 '' 'exactly one KEY' -- -s "$tmp/none.sock" get a b
expect status-extra-arg 2 '' 'takes no arguments' -- -s "$tmp/none.sock" status now
expect assert-nothing 2 '' 'at least one' -- -s "$tmp/none.sock" assert
expect assert-bad-op 2 '' 'did you mean "=="' -- -s "$tmp/none.sock" assert 'x = 1'
expect assert-no-op 2 '' 'no comparison operator' -- -s "$tmp/none.sock" assert 'x 1'
expect assert-bad-number 2 '' 'is not a number' -- -s "$tmp/none.sock" assert 'x > 1O'
expect assert-one-bad-of-two 2 '' 'is not an operator' -- -s "$tmp/none.sock" assert 'x > 1' 'y >> 2'
expect timeout-not-number 2 '' '--timeout' -- --timeout soon status
expect timeout-zero 2 '' '--timeout' -- --timeout 0 status
expect timeout-missing-value 2 '' 'needs a value' -- status --timeout
expect count-wrong-command 2 '' '--count goes with subscribe' -- --count 3 status
expect interval-wrong-command 2 '' '--interval goes with top' -- --interval 1 status
expect openmetrics-wrong-command 2 '' '--openmetrics goes with metrics' -- --openmetrics status
expect bad-instance 2 '' 'instance' -- -i ../etc status
# Keys of wait and get obey assert's rules, and what is echoed is escaped and short.
esc_key=$(printf 'a\033]0;owned\007\033[31mb')
big_key=$(head -c 100000 /dev/zero | tr '\0' k)
expect wait-control-key 2 '' 'contains a control or non-ASCII byte' -- -s "$tmp/none.sock" wait "$esc_key"
! grep -q "$(printf '\033')" "$tmp/err"; check "wait-control-key: no raw ESC on stderr" $? "raw ESC echoed"
expect wait-huge-key 2 '' 'key of 100000 bytes; a metric key has at most 4096' -- -s "$tmp/none.sock" wait "$big_key"
[ "$(wc -c <"$tmp/err")" -lt 400 ]; check "wait-huge-key: the message is short" $? "$(wc -c <"$tmp/err") bytes"
expect wait-space-key 2 '' 'contains whitespace' -- -s "$tmp/none.sock" wait 'a b'
expect get-control-key 2 '' 'contains a control or non-ASCII byte' -- -s "$tmp/none.sock" get "$esc_key"
expect assert-huge-key 2 '' 'longer than 4096 characters' -- -s "$tmp/none.sock" assert "$big_key > 1"

# ---- no daemon: exit 3 ----
expect no-daemon 3 '' 'cannot connect to .*/none.sock' -- -s "$tmp/none.sock" status
expect no-daemon-get 3 '' 'cannot connect' -- -s "$tmp/none.sock" get x
expect no-daemon-assert 3 '' 'cannot connect' -- -s "$tmp/none.sock" assert 'x > 1'
expect no-instance 3 '' '/run/bpfwatch/no-such-instance-here.sock' -- -i no-such-instance-here status
expect no-daemon-wait 3 '' 'cannot connect' -- -s "$tmp/none.sock" wait x --timeout 0.3
touch "$tmp/notasocket"
expect not-a-socket 3 '' 'cannot connect' -- -s "$tmp/notasocket" status

# ---- a well-behaved daemon ----
log="$tmp/requests.log"
start_fake ok --log "$log" --appear 'scx_demo_late=77@0.6' --weird
S=(-s "$tmp/ok.sock")

expect status 0 '^state: +sampling' -- "${S[@]}" status
for want in 'kernel: +6\.12\.9-fake \(4 CPUs, 4-level paging' 'scheduler: +demo \(object scx_demo, struct_ops map 42\)' \
        'every 100 ms \(10/s\)' 'mean 10\.5 us' '2 resolved, 1 pending, 1 error' \
        '^later +scalar +pending .*no map ending in ".data" yet' \
        '^broken +scalar +error .*demo\.watch:19 +no member "nope" in struct stats' \
        '^lat +percpu +resolved +scx_demo_lat_avg,scx_demo_lat_max'; do
    grep -Eq -- "$want" "$tmp/out"; check "status shows /$want/" $? "missing"
done

for cmd in status metrics sample maps watches reset reload; do
    run "${S[@]}" --json "$cmd"
    $FAKE --weird --print "$cmd" >"$tmp/expected"
    if [ "$cmd" = metrics ]; then
        # the late key may or may not be there yet: compare without it
        $PY -c 'import json,sys; a=json.load(open(sys.argv[1])); a["metrics"].pop("scx_demo_late",None); print(json.dumps(a,separators=(",",":")))' "$tmp/out" >"$tmp/out2"
        cp "$tmp/out2" "$tmp/out"
    fi
    [ "$rc" = 0 ] && [ "$(wc -l <"$tmp/out")" = 1 ] && cmp -s "$tmp/out" "$tmp/expected"
    check "--json $cmd passes the reply line through" $? "differs from $(cat "$tmp/expected")"
done

expect metrics 0 '^scx_demo_big +18446744073709551615$' -- "${S[@]}" metrics
grep -Eq '^window: 12\.300 s, 123 ticks, 456 samples, object scx_demo$' "$tmp/out"
check "metrics window line" $? "no window line"
grep -Eq '^scx_demo_neg +-9223372036854775808$' "$tmp/out" && grep -Eq '^scx_demo_p53 +9007199254740993$' "$tmp/out" \
    && grep -Eq '^scx_demo_frac_avg +0\.1$' "$tmp/out" && grep -Eq '^scx_demo_weird +-$' "$tmp/out"
check "metrics values exact" $? "value column"
awk 'NR > 2 { print $1 }' "$tmp/out" >"$tmp/keys"
sort -c "$tmp/keys" 2>/dev/null && [ "$(wc -l <"$tmp/keys")" -ge 9 ]
check "metrics sorted by key" $? "$(tr '\n' ' ' <"$tmp/keys")"
expect metrics-openmetrics 0 '^# EOF$' -- "${S[@]}" metrics --openmetrics
expect sample 0 '^lat +cpu0 10  cpu1 20  cpu2 30  cpu3 41$' -- "${S[@]}" sample
grep -Eq '^broken +error: no member "nope" in struct stats$' "$tmp/out" && grep -Eq '^ticks +1234$' "$tmp/out"
check "sample scalar and error entries" $? "entries"
expect maps 0 '^ID +NAME +TYPE +KEY +VALUE +ENTRIES +FLAGS +OBJECT +ACTIVE$' -- "${S[@]}" maps
grep -Eq '^ 8 +cpu_ctx_stor_acc +percpu_array +4 +16 +1 +0 +scx_demo +yes$' "$tmp/out" \
    && grep -Eq '^ 3 +decoy\.bss .* +decoy +no$' "$tmp/out"
check "maps rows (full name, active)" $? "rows"
expect watches 0 '^lat +cpu_ctx +lat_ns +percpu +- +/etc/bpfwatch/watch\.d/demo\.watch:7$' -- "${S[@]}" watches
expect reset 0 'new window' -- "${S[@]}" reset
expect reload 0 '^reloaded: 4 watches$' -- "${S[@]}" reload

expect get-int 0 '^1234$' -- "${S[@]}" get scx_demo_ticks
expect get-real 0 '^12\.5$' -- "${S[@]}" get scx_demo_lat_avg
expect get-real-short 0 '^0\.1$' -- "${S[@]}" get scx_demo_frac_avg
expect get-u64-string 0 '^18446744073709551615$' -- "${S[@]}" get scx_demo_big
expect get-int64-min 0 '^-9223372036854775808$' -- "${S[@]}" get scx_demo_neg
expect get-json-u64-string 0 '^"18446744073709551615"$' -- "${S[@]}" --json get scx_demo_big
expect get-absent 1 '' 'scx_demo_nope: absent' -- "${S[@]}" get scx_demo_nope
[ ! -s "$tmp/out" ]; check "get absent prints nothing on stdout" $? "stdout not empty"
expect get-instance-path 0 '^1234$' -- --socket="$tmp/ok.sock" get scx_demo_ticks

# the fake has been up a while: scx_demo_late is there already, or comes
expect wait-present 0 '^1234$' -- "${S[@]}" wait scx_demo_ticks --timeout 2
expect wait-absent 1 '' 'scx_demo_never: still absent after 0\.5 s' -- "${S[@]}" wait scx_demo_never --timeout 0.5
[ "$took" -ge 450 ] && [ "$took" -lt 4000 ]; check "wait timeout takes about --timeout ($took ms)" $? "took $took ms"

start_fake late --appear 'scx_demo_late=77@0.5'
expect wait-appears 0 '^77$' -- -s "$tmp/late.sock" wait scx_demo_late --timeout 5
start_fake late2 --appear 'scx_demo_late=77@3'
expect get-before-it-appears 1 '' 'absent' -- -s "$tmp/late2.sock" get scx_demo_late

# a daemon whose socket appears only later: wait retries the connection
$FAKE --socket "$tmp/slow.sock" --start-after 0.6 &
fakes+=($!)
expect wait-daemon-starts 0 '^1234$' -- -s "$tmp/slow.sock" wait scx_demo_ticks --timeout 5

# assertions: exact integers, reals, spacing, every operator
expect assert-pass 0 '^ok    scx_demo_ticks > 0  \(value 1234\)$' -- "${S[@]}" assert 'scx_demo_ticks > 0' \
    'scx_demo_lat_avg<=12.5' 'scx_demo_lat_avg >=12.5' 'scx_demo_lat_avg< 13' 'scx_demo_lat_max == 40' \
    'scx_demo_lat_max != 41' 'scx_demo_big == 18446744073709551615' 'scx_demo_big > 18446744073709551614' \
    'scx_demo_p53 > 9007199254740992' 'scx_demo_p53 == 9007199254740993' \
    'scx_demo_neg == -9223372036854775808' 'scx_demo_neg < -9223372036854775807' \
    'scx_demo_ticks == 0x4d2' 'scx_demo_ticks == 1.234e3' 'scx_demo_lat_avg > 1e1' \
    '  scx_demo_zero   ==   0  ' 'scx_demo_zero>-1' 'scx_demo_frac_avg == 0.1'
[ "$(grep -c '^ok ' "$tmp/out")" = 18 ]; check "assert-pass prints every verdict" $? "count"
expect assert-exact-2p53 1 '^FAIL  scx_demo_p53 == 9007199254740992  \(value 9007199254740993\)$' -- \
    "${S[@]}" assert 'scx_demo_p53 == 9007199254740992'
expect assert-exact-u64 1 '^FAIL  scx_demo_big < 18446744073709551615  \(value 18446744073709551615\)$' -- \
    "${S[@]}" assert 'scx_demo_big < 18446744073709551615'
expect assert-real-vs-2p53 1 'FAIL' -- "${S[@]}" assert 'scx_demo_p53 <= 9007199254740992.0'
expect assert-absent 1 '^FAIL  scx_demo_nope > 0  \(absent\)$' -- "${S[@]}" assert 'scx_demo_nope > 0'
expect assert-not-number 1 '^FAIL  scx_demo_weird > 0  \(not a number: -\)$' -- "${S[@]}" assert 'scx_demo_weird > 0'
expect assert-mixed 1 '^FAIL  scx_demo_ticks < 1000' -- "${S[@]}" assert 'scx_demo_ticks > 1000' 'scx_demo_ticks < 1000'
grep -Eq '^ok    scx_demo_ticks > 1000' "$tmp/out"; check "assert-mixed also shows the pass" $? "no ok line"
expect assert-json 1 '' -- "${S[@]}" --json assert 'scx_demo_ticks > 1000' 'scx_demo_nope == 1' 'scx_demo_big==18446744073709551615'
$PY - "$tmp/out" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False, d
v = [(r["key"], r["op"], r["number"], r["verdict"], r["value"]) for r in d["results"]]
assert v == [("scx_demo_ticks", ">", "1000", "holds", 1234),
             ("scx_demo_nope", "==", "1", "absent", None),
             ("scx_demo_big", "==", "18446744073709551615", "holds", "18446744073709551615")], v
EOF
check "assert --json verdicts" $? "$(cat "$tmp/out")"

# what went over the wire: one compact JSON object per line
$PY - "$log" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no requests logged"
for l in lines:
    r = json.loads(l)
    assert isinstance(r, dict) and isinstance(r.get("cmd"), str), l
assert '{"cmd":"metrics"}' in lines and '{"cmd":"status"}' in lines, lines[:5]
assert '{"cmd":"metrics","format":"openmetrics"}' in lines
EOF
check "requests are one JSON object per line" $? "bad request log"

# subscribe
expect subscribe-count 0 '^tick 3  broken=error\(no member "nope" in struct stats\)  lat=\[10 20 30 40\]  ticks=3$' -- \
    "${S[@]}" subscribe --count 3
[ "$(wc -l <"$tmp/out")" = 3 ] && head -n1 "$tmp/out" | grep -q '^tick 1 '
check "subscribe prints one line per sample, ack skipped" $? "lines"
expect subscribe-json 0 '^\{"ok":true,"tick":2,' -- "${S[@]}" --json subscribe --count 2
[ "$(wc -l <"$tmp/out")" = 2 ]; check "subscribe --json: two lines" $? "lines"
start_fake hangup --sub-count 2
expect subscribe-daemon-goes 3 '^tick 2 ' 'closed the connection' -- -s "$tmp/hangup.sock" subscribe
# until_lines N: wait (at most 10 s) for $tmp/out to have N lines
until_lines() {
    local i
    for i in $(seq 1 200); do
        [ "$(wc -l <"$tmp/out")" -ge "$1" ] && return 0
        sleep 0.05
    done
    return 1
}
for sig in INT TERM HUP; do
    "$CTL" "${S[@]}" subscribe >"$tmp/out" 2>"$tmp/err" &
    sub=$!
    until_lines 2
    kill -"$sig" "$sub"
    wait "$sub"; rc=$?
    [ "$rc" = 0 ] && grep -q '^tick 2 ' "$tmp/out"; check "subscribe ends with 0 on SIG$sig" $? "exit $rc"
done

# top: one plain frame when stdout is not a terminal
expect top-no-tty 0 '^METRICS  \(window 12\.3 s, 456 samples\)$' -- "${S[@]}" top
grep -Eq 'cpu3 \[#{20}\] 41' "$tmp/out" && grep -Eq '^  cpu0 \[#{5} {15}\] 10' "$tmp/out" \
    && grep -q 'scheduler demo (object scx_demo)' "$tmp/out" && ! grep -q $'\033' "$tmp/out"
check "top frame: bars scaled to the largest CPU, no escape codes" $? "frame"
expect top-no-tty-no-daemon 3 '' 'cannot connect' -- -s "$tmp/none.sock" top

# top on a terminal: raw mode while running, restored on q and on SIGTERM
$PY - "$CTL" "$tmp/ok.sock" <<'EOF'
import fcntl, os, pty, select, signal, struct, sys, termios, time
ctl, sock = sys.argv[1], sys.argv[2]

def session(finish):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(ctl, [ctl, "-s", sock, "top", "--interval", "0.2"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    out, t0, raw_seen = b"", time.time(), False
    while time.time() - t0 < 5 and out.count(b"METRICS") < 2:
        if select.select([fd], [], [], 0.2)[0]:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
        lflag = termios.tcgetattr(fd)[3]
        raw_seen |= not (lflag & termios.ICANON) and not (lflag & termios.ECHO)
    assert out.count(b"METRICS") >= 2, "no refreshed frames: %r" % out[-300:]
    assert b"\x1b[?1049h" in out and b"cpu3 [" in out, out[:300]
    assert raw_seen, "terminal never in non-canonical no-echo mode"
    finish(pid, fd)
    t0 = time.time()
    while time.time() - t0 < 5:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if select.select([fd], [], [], 0.1)[0]:
            try:
                out += os.read(fd, 65536)
            except OSError:
                pass
    else:
        os.kill(pid, signal.SIGKILL)
        raise AssertionError("top did not exit")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    try:
        while select.select([fd], [], [], 0.1)[0]:
            out += os.read(fd, 65536)
    except OSError:
        pass
    assert out.rstrip(b"\r\n").endswith(b"\x1b[?25h\x1b[?1049l"), out[-60:]
    after = termios.tcgetattr(fd)[3]
    assert after & termios.ICANON and after & termios.ECHO, "terminal left in raw mode"
    os.close(fd)

session(lambda pid, fd: os.write(fd, b"q"))
session(lambda pid, fd: os.kill(pid, signal.SIGTERM))
EOF
check "top on a pty: refreshes, q and SIGTERM restore the terminal" $? "see above"

# ---- misbehaving daemons: exit 3 ----
start_fake garbage --mode garbage
expect garbage 3 '' 'broken reply .*not JSON.*"this is not json"' -- -s "$tmp/garbage.sock" status
expect garbage-json 3 '' 'not JSON' -- -s "$tmp/garbage.sock" --json status
[ ! -s "$tmp/out" ]; check "garbage is not passed through" $? "stdout not empty"
expect garbage-assert 3 '' 'not JSON' -- -s "$tmp/garbage.sock" assert 'x > 1'
expect garbage-wait 3 '' 'not JSON' -- -s "$tmp/garbage.sock" wait x --timeout 10
[ "$took" -lt 5000 ]; check "wait gives up on garbage at once ($took ms)" $? "took $took ms"
start_fake notobject --mode notobject
expect not-an-object 3 '' 'not a JSON object' -- -s "$tmp/notobject.sock" get x
start_fake nook --mode nook
expect no-ok-member 3 '' 'no boolean "ok"' -- -s "$tmp/nook.sock" metrics
start_fake close --mode close
expect hangs-up 3 '' 'closed the connection' -- -s "$tmp/close.sock" status
start_fake partial --mode partial
expect half-a-reply 3 '' 'in the middle of a reply' -- -s "$tmp/partial.sock" status
start_fake hang --mode hang
expect hangs 3 '' 'no reply from .* in time \(--timeout 0\.5 s\)' -- -s "$tmp/hang.sock" --timeout 0.5 status
[ "$took" -ge 450 ] && [ "$took" -lt 4000 ]; check "timeout honoured ($took ms)" $? "took $took ms"
expect hangs-wait 3 '' 'in time' -- -s "$tmp/hang.sock" wait x --timeout 0.5
[ "$took" -lt 4000 ]; check "wait on a hung daemon bounded ($took ms)" $? "took $took ms"
start_fake noaccept --mode noaccept
expect never-accepts 3 '' 'in time' -- -s "$tmp/noaccept.sock" --timeout 0.5 metrics
start_fake huge --mode huge
expect too-long 3 '' 'longer than 67108864 bytes' -- -s "$tmp/huge.sock" --timeout 20 status

# ---- error replies: exit 1 ----
start_fake error --mode error
expect error-reply 1 '' '^bpfwatchctl: internal: the fake says no$' -- -s "$tmp/error.sock" status
expect error-reply-json 1 '^\{"ok":false,"error":"internal","message":"the fake says no"\}$' 'internal' -- \
    -s "$tmp/error.sock" --json status
expect error-reply-get 1 '' 'internal: the fake says no' -- -s "$tmp/error.sock" get x
expect error-reply-assert 1 '' 'internal: the fake says no' -- -s "$tmp/error.sock" assert 'x > 1'
expect error-reply-wait 1 '' 'internal' -- -s "$tmp/error.sock" wait x --timeout 10
[ "$took" -lt 5000 ]; check "wait gives up on an error reply at once ($took ms)" $? "took $took ms"
expect error-reply-subscribe 1 '' 'internal' -- -s "$tmp/error.sock" subscribe
start_fake badreload --reload-fails
expect reload-refused 1 '' '^bpfwatchctl: bad_args: /etc/bpfwatch/watch\.d/demo\.watch:3: Aggregate=sum: unknown$' -- \
    -s "$tmp/badreload.sock" reload
start_fake notready --ready-after 2
expect not-ready-get 1 '' 'not_ready: no kernel located yet' -- -s "$tmp/notready.sock" get scx_demo_ticks
expect not-ready-wait 0 '^1234$' -- -s "$tmp/notready.sock" wait scx_demo_ticks --timeout 5

echo "test_ctl: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
