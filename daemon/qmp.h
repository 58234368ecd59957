/* SPDX-License-Identifier: MIT */
/*
 * Asking QEMU, over its QMP monitor socket, how the guest's memory is
 * built: query-memdev (the memory backends, with ids and sizes) and
 * human-monitor-command "info mtree -f" (where each lies in guest-physical
 * space).  Only these read-only queries are sent.  Bounded in time and in
 * the size of what QEMU answers: a QEMU that does not answer, or answers
 * garbage, is an error, never a hang.
 */
#ifndef BPFWATCH_QMP_H
#define BPFWATCH_QMP_H

#include "error.h"
#include "guest_open.h"

/* The whole conversation may take at most this long. */
#define QMP_TIMEOUT_MS 3000

int qmp_query_memory(const char *socket_path, struct bw_guest_qemu *out, struct bw_error *err);

#endif
