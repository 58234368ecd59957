# shellcheck shell=bash
# Test guests under QEMU, for scripts that source this file (bash).
#
# A guest is a QEMU process (TCG, q35, 2 vCPUs) whose RAM is a shared file
# in /dev/shm, the file bpfwatchd reads.  Each guest has an ID chosen by the
# caller; everything about it lives in $BW_GUEST_RUNDIR/ID/.
#
#   bw_guest_start ID RAM KERNEL INITRD [CMDLINE_WORD...]
#       Start a guest in the background.  RAM is a size QEMU understands,
#       written as <N>G or <N>M (1G, 3G, 512M).  The kernel command line is
#       "console=ttyS0 quiet panic=-1" plus the extra words.  Must be called
#       from the main shell, not from a subshell or $(...): the guest dies
#       with the shell that started it.
#   bw_guest_wait_ready ID [TIMEOUT_S]
#       Wait for "BWTRUTH ready" on the serial console (default 120 s).  On
#       timeout or an early QEMU exit, print the console's tail and QEMU's
#       own messages to stderr and return 1.
#   bw_guest_truth ID     the guest's BWTRUTH lines without the prefix
#       How its RAM is given to QEMU follows BW_GUEST_MEMORY (read at the
#       call): "file" (default: one shared memory-backend-file), "private"
#       (no memory option at all: QEMU's own private RAM), "numa-file" or
#       "numa-memfd" (two NUMA nodes, each half of RAM in its own shared
#       file or memfd, CPU 0 on node 0 and CPU 1 on node 1).
#       BW_GUEST_MACHINE (default q35) is the machine type.
#   bw_guest_mem ID       path of the RAM file (numa-file: both, one a line)
#   bw_guest_pid ID       QEMU's process id
#   bw_guest_log ID       path of the serial console log
#   bw_guest_qmp ID       path of the QMP socket
#   bw_guest_stop ID      stop QEMU and remove the RAM file
#   bw_guest_stop_all     the same for every guest started here
#
# Sourcing installs an EXIT trap that calls bw_guest_stop_all (and INT and
# TERM traps that exit, which runs it), so no QEMU and no RAM file outlive
# the script.  A script that sets its own EXIT trap must call
# bw_guest_stop_all from it.  If the script is killed outright (SIGKILL),
# QEMU gets SIGKILL too (parent-death signal), and the RAM file and run
# directory are removed by the next bw_guest_start.
#
#
# For the scripts that run the demo sched_ext scheduler in a guest and
# compare bpfwatchd with it:
#
#   bw_python
#       Print the path of the python3 interpreter itself: a version
#       manager's shim in front of python3 can cost a second or more a call
#       on a loaded machine, and the guest does not wait.
#   bw_build_demo_guest WHO SCHED BUILD_LOG INITRD
#       Build the demo scheduler and its loader into SCHED (output in
#       BUILD_LOG; on failure its tail and "WHO: building the guest
#       scheduler failed" go to stderr), fetch the kernel into BW_KERNEL and
#       build INITRD with the loader as /bin/bw_loader and its scenario as
#       /scenario.  Returns 1 if any step failed.
#   bw_guest_wait_log ID PATTERN TIMEOUT_S
#       Wait until the console shows PATTERN (a fixed string).  Gives up
#       early, with the guest's last events on stderr, once the loader has
#       exited or the kernel panicked; returns 1 then and on timeout.
#   bw_tally REPORT
#       Add REPORT's "ok " and "FAIL " lines to the caller's $passed and
#       $failed.
#   bw_run_compare PY SCRIPT REPORT ARGS...
#       Run the comparison SCRIPT ARGS with the interpreter PY, its output
#       into REPORT.  A comparison that dies (a traceback) must not read as
#       a clean report: a non-zero exit without a FAIL line appends one.
#
# Env: QEMU (default qemu-system-x86_64).
#
# The accelerator is TCG with one host thread: hardware KVM is not usable
# on the machines this runs on, and with thread=multi the guest kernel
# oopses when a sched_ext scheduler attaches.

BW_GUEST_IDS=()
BW_GUEST_RUNDIR=${BW_GUEST_RUNDIR:-}
BW_GUEST_SHM_PREFIX=/dev/shm/bwguest-

BW__LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

bw__dir() { printf '%s/%s\n' "$BW_GUEST_RUNDIR" "$1"; }

# RAM files and run directories of earlier runs that were killed before
# they could clean up.  Their names carry the owning shell's PID: only those
# whose owner is gone are removed.
bw__sweep_stale() {
    local f pid
    for f in "$BW_GUEST_SHM_PREFIX"* "${TMPDIR:-/tmp}"/bwguest-*; do
        [ -e "$f" ] || continue
        pid=${f##*/bwguest-}; pid=${pid%%[-.]*}
        case $pid in ''|*[!0-9]*) continue ;; esac
        kill -0 "$pid" 2>/dev/null || rm -rf "$f"
    done
}

bw__ram_mib() {
    case ${1%[GgMm]} in ''|*[!0-9]*) return 1 ;; esac
    case $1 in
        *[Gg]) printf '%s\n' $(( ${1%[Gg]} * 1024 )) ;;
        *[Mm]) printf '%s\n' "${1%[Mm]}" ;;
        *) return 1 ;;
    esac
}

bw_guest_start() {
    local id=$1 ram=$2 kernel=$3 initrd=$4 mib avail dir mem
    shift 4
    case $id in ''|*/*|*[[:space:]]*) echo "bw_guest_start: bad guest id '$id'" >&2; return 2 ;; esac
    if ! mib=$(bw__ram_mib "$ram") || ! [ "$mib" -gt 0 ] 2>/dev/null; then
        echo "bw_guest_start: RAM size '$ram' is not <N>G or <N>M" >&2
        return 2
    fi
    [ -r "$kernel" ] || { echo "bw_guest_start: kernel $kernel not found" >&2; return 1; }
    [ -r "$initrd" ] || { echo "bw_guest_start: initramfs $initrd not found" >&2; return 1; }

    if [ -z "$BW_GUEST_RUNDIR" ]; then
        BW_GUEST_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/bwguest-$$.XXXXXX")
        BW__OWN_RUNDIR=1
    fi
    dir=$(bw__dir "$id")
    [ ! -e "$dir/pid" ] || { echo "bw_guest_start: guest '$id' is already running" >&2; return 1; }
    mkdir -p "$dir"

    bw__sweep_stale
    # A RAM file larger than the free space of /dev/shm would make QEMU die
    # of SIGBUS in the middle of the boot; say so up front instead.
    avail=$(df -Pk /dev/shm | awk 'NR == 2 { print int($4 / 1024) }')
    if [ -n "$avail" ] && [ "$avail" -lt "$mib" ]; then
        echo "bw_guest_start: /dev/shm has ${avail} MiB free, guest '$id' needs ${mib} MiB" >&2
        return 1
    fi
    mem="$BW_GUEST_SHM_PREFIX$$-$id-$RANDOM$RANDOM"
    local memargs=() half=$((mib / 2))
    case ${BW_GUEST_MEMORY:-file} in
        file)
            printf '%s\n' "$mem" > "$dir/mem"
            memargs=(-object "memory-backend-file,id=ram,size=$ram,mem-path=$mem,share=on"
                     -machine memory-backend=ram) ;;
        private)
            : > "$dir/mem"
            memargs=() ;;
        numa-file)
            printf '%s\n' "$mem-node0" "$mem-node1" > "$dir/mem"
            memargs=(-object "memory-backend-file,id=m0,size=${half}M,mem-path=$mem-node0,share=on"
                     -object "memory-backend-file,id=m1,size=${half}M,mem-path=$mem-node1,share=on"
                     -numa node,nodeid=0,memdev=m0,cpus=0 -numa node,nodeid=1,memdev=m1,cpus=1) ;;
        numa-memfd)
            : > "$dir/mem"
            memargs=(-object "memory-backend-memfd,id=m0,size=${half}M"
                     -object "memory-backend-memfd,id=m1,size=${half}M"
                     -numa node,nodeid=0,memdev=m0,cpus=0 -numa node,nodeid=1,memdev=m1,cpus=1) ;;
        *) echo "bw_guest_start: BW_GUEST_MEMORY='$BW_GUEST_MEMORY' is not file, private, numa-file or numa-memfd" >&2
           return 2 ;;
    esac
    : > "$dir/serial.log"

    setpriv --pdeathsig KILL -- "${QEMU:-qemu-system-x86_64}" \
        -accel tcg,thread=single -M "${BW_GUEST_MACHINE:-q35}" -smp 2 -m "$ram" \
        "${memargs[@]}" \
        -kernel "$kernel" -initrd "$initrd" \
        -append "console=ttyS0 quiet panic=-1${*:+ $*}" \
        -nodefaults -nographic -monitor none -serial "file:$dir/serial.log" \
        -qmp "unix:$dir/qmp.sock,server=on,wait=off" \
        -no-reboot </dev/null >"$dir/qemu.out" 2>&1 &
    echo $! > "$dir/pid"
    BW_GUEST_IDS+=("$id")
}

bw_guest_mem() { cat "$(bw__dir "$1")/mem"; }
bw_guest_pid() { cat "$(bw__dir "$1")/pid"; }
bw_guest_log() { printf '%s\n' "$(bw__dir "$1")/serial.log"; }
bw_guest_qmp() { printf '%s\n' "$(bw__dir "$1")/qmp.sock"; }

bw_guest_truth() {
    tr -d '\r' < "$(bw__dir "$1")/serial.log" | sed -n 's/^.*BWTRUTH //p'
}

bw__report_failure() {
    local id=$1 why=$2 dir
    dir=$(bw__dir "$id")
    {
        echo "guest '$id': $why; last lines of its console:"
        # Without the firmware's terminal escapes, which would garble the reader's terminal.
        tr -d '\r' < "$dir/serial.log" | sed -E 's/\x1b(\[[0-9;?]*[A-Za-z]|c)//g' |
            tail -n 40 | sed 's/^/  | /'
        if [ -s "$dir/qemu.out" ]; then
            echo "QEMU said:"
            sed 's/^/  | /' "$dir/qemu.out"
        fi
    } >&2
}

bw_guest_wait_ready() {
    local id=$1 timeout=${2:-120} dir pid start
    dir=$(bw__dir "$id")
    pid=$(cat "$dir/pid" 2>/dev/null) || { echo "bw_guest_wait_ready: guest '$id' was not started" >&2; return 1; }
    start=$SECONDS
    while :; do
        if grep -q 'BWTRUTH ready' "$dir/serial.log"; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            bw__report_failure "$id" "QEMU exited before the guest was ready"
            return 1
        fi
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            bw__report_failure "$id" "not ready after ${timeout} s"
            return 1
        fi
        sleep 0.2
    done
}

bw_guest_stop() {
    local id=$1 dir pid mem
    dir=$(bw__dir "$id")
    [ -d "$dir" ] || return 0
    pid=$(cat "$dir/pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        rm -f "$dir/pid"
    fi
    while IFS= read -r mem; do
        [ -z "$mem" ] || rm -f "$mem"
    done < <(cat "$dir/mem" 2>/dev/null || true)
}

bw_guest_stop_all() {
    local id
    for id in "${BW_GUEST_IDS[@]}"; do
        bw_guest_stop "$id"
    done
    BW_GUEST_IDS=()
    if [ -n "${BW__OWN_RUNDIR:-}" ] && [ -n "$BW_GUEST_RUNDIR" ]; then
        rm -rf "$BW_GUEST_RUNDIR"
        BW_GUEST_RUNDIR=""
        BW__OWN_RUNDIR=""
    fi
}

bw_python() { python3 -c 'import sys; print(sys.executable)'; }

# Every step is checked by hand: callers write "bw_build_demo_guest ... ||",
# under which set -e does not act inside the function.
bw_build_demo_guest() {
    local who=$1 sched=$2 build_log=$3 initrd=$4
    if ! bash "$BW__LIBDIR/../scheduler/build.sh" "$sched" >"$build_log" 2>&1; then
        tail -n 20 "$build_log" >&2
        echo "$who: building the guest scheduler failed" >&2
        return 1
    fi
    # shellcheck disable=SC2034 # read by the caller
    BW_KERNEL=$("$BW__LIBDIR/fetch-kernel.sh" | tail -n1) || return 1
    "$BW__LIBDIR/build-initramfs.sh" "$initrd" "$sched/bw_loader=/bin/bw_loader" \
        "$sched/scenario=/scenario" >/dev/null || return 1
}

bw_guest_wait_log() {
    local log pattern=$2 timeout=$3 start=$SECONDS
    log=$(bw_guest_log "$1")
    while ! grep -aq -- "$pattern" "$log"; do
        if grep -aqE 'BWGUEST-EVENT loader-exit|Kernel panic' "$log"; then
            echo "the guest stopped early:" >&2
            tr -d '\r' <"$log" | grep -aE 'BWGUEST-(ERROR|EVENT)|Kernel panic' | tail -n 10 >&2
            return 1
        fi
        if [ $((SECONDS - start)) -ge "$timeout" ]; then
            echo "no \"$pattern\" from the guest after $timeout s" >&2
            return 1
        fi
        sleep 0.2
    done
}

bw_tally() {
    passed=$((passed + $(grep -c '^ok ' "$1" || true)))
    failed=$((failed + $(grep -c '^FAIL ' "$1" || true)))
}

bw_run_compare() {
    local py=$1 script=$2 report=$3 rc=0
    shift 3
    "$py" "$script" "$@" >"$report" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$report"; then
        echo "FAIL ${script##*/} $1 exited $rc" >>"$report"
    fi
}

# INT and TERM only exit: bash then runs the EXIT trap, whether it is this
# one or the script's own.
trap 'bw_guest_stop_all' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
