/* SPDX-License-Identifier: MIT */
/*
 * The bpfwatchd service: one guest, one socket, one sampling timer on
 * sd-event.  It walks through the states
 *
 *   waiting-for-memory -> locating-kernel -> waiting-for-scheduler -> sampling
 *
 * and back: the RAM file is missing or went away (QEMU stopped), the guest
 * kernel cannot be found yet (still booting) or changed (rebooted with a
 * new KASLR offset), no sched_ext scheduler is attached.  Each state is
 * retried with a backoff that costs next to nothing while nothing is
 * there; the socket answers in every state.
 */
#ifndef BPFWATCH_SERVICE_H
#define BPFWATCH_SERVICE_H

#include "config.h"

/* Run until SIGTERM/SIGINT; returns the process exit code. */
int service_run(struct daemon_config *cfg);

#endif
