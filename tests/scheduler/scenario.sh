#!/bin/sh
# /scenario of the end-to-end test guest: runs the guest-side loader.
#
# The host test chooses the loader's arguments on the kernel command line as
# bwloader=ARG,ARG,...  (commas stand for spaces, since one kernel parameter
# cannot hold a space), e.g.  bwloader=--replace,20,--duration,60
# Without it the loader runs with --sched until the guest is stopped.
#
# Expects bw_loader at /bin/bw_loader (BW_LOADER overrides) and the guest's
# /init to have mounted /proc and /sys.

loader=${BW_LOADER:-/bin/bw_loader}
args=--sched
# shellcheck disable=SC2013 # the command line is a list of words
for word in $(cat /proc/cmdline); do
	case $word in
	bwloader=*) args=$(echo "${word#bwloader=}" | tr , ' ') ;;
	esac
done

[ -d /sys/kernel ] || mount -t sysfs sys /sys

# A light, steady source of forks and wakeups, so the scheduler's counters
# move even on an otherwise idle guest.
(while :; do sleep 0.2; done) &
load=$!

# shellcheck disable=SC2086 # args is a word list on purpose
"$loader" $args
rc=$?
kill "$load" 2>/dev/null
echo "BWGUEST-EVENT loader-exit rc=$rc"
exit "$rc"
