# SPDX-License-Identifier: MIT
# Sourced by the system tests that boot a Debian 12 root with
# systemd-nspawn (no systemd on the host: --register=no --keep-unit).
#
#   nspawn_boot ROOT NAME LOG [nspawn options...]   boot; sets nspawn_pid and leader
#   nspawn_stop                                     power off (SIGTERM), then kill
#   ct TIMEOUT CMD...                               run CMD in the container, clean env

nspawn_pid= leader=

ct() {
    timeout "$1" nsenter -t "$leader" -a -- env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${@:2}"
}

# 0 once the container's systemd says running (degraded counts as a failure for the caller).
nspawn_boot() {
    local root=$1 name=$2 log=$3 state=
    shift 3
    systemd-nspawn --boot --quiet -D "$root" --machine="$name" --register=no --keep-unit \
        --console=pipe "$@" </dev/null >"$log" 2>&1 &
    nspawn_pid=$!
    # The container's PID 1 is nspawn's child once it runs systemd (an
    # intermediate child comes and goes before).
    for _ in $(seq 1 600); do
        leader=$(ps -o pid=,comm= --ppid "$nspawn_pid" 2>/dev/null |
            awk '$2 == "systemd" { print $1; exit }')
        [ -n "$leader" ] && state=$(ct 10 systemctl is-system-running 2>/dev/null)
        case $state in running|degraded) break ;; esac
        kill -0 "$nspawn_pid" 2>/dev/null || break
        sleep 0.1
    done
    nspawn_state=$state
    [ "$state" = running ]
}

nspawn_stop() {
    [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null || return 0
    kill -TERM "$nspawn_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$nspawn_pid" 2>/dev/null
    wait "$nspawn_pid" 2>/dev/null
}
