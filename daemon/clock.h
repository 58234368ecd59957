/* SPDX-License-Identifier: MIT */
/* The two clocks the daemon and its client read, in nanoseconds. */
#ifndef BPFWATCH_DAEMON_CLOCK_H
#define BPFWATCH_DAEMON_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC: intervals, deadlines, tick costs. */
uint64_t clock_mono_ns(void);
/* CLOCK_REALTIME: the wall-clock stamps of windows and samples. */
int64_t clock_wall_ns(void);

#endif
