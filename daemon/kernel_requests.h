/* SPDX-License-Identifier: MIT */
/*
 * The socket requests about the guest kernel's sched_ext health
 * (lib/scx_health.h): "exit", and the "sched_ext" part of status.
 */
#ifndef BPFWATCH_KERNEL_REQUESTS_H
#define BPFWATCH_KERNEL_REQUESTS_H

#include <jansson.h>

struct bw_scx_health;
struct bw_printk_ring;

/* Most records one dmesg reply carries; the client asks again from next_seq. */
#define KERNEL_DMESG_MAX_RECORDS 4096

/*
 * {"ok":true, "attached", "ops", "state", "exit": {...}|null} (see
 * bw_scx_health_exit_json), or not_ready naming @not_ready_state when no
 * kernel is being read (@health NULL and @not_ready_state given), or
 * not_ready saying the kernel metrics are off or unavailable.
 */
json_t *kernel_exit_reply(const struct bw_scx_health *health, const char *not_ready_state);

/*
 * {"cmd":"dmesg", "from_seq": N (default 0)} ->
 * {"ok":true, "records": [{"seq", "ts_nsec", "text"}...], "next_seq": N,
 *  "more": bool}: the guest kernel's log out of its memory (printk_ring.h),
 * oldest first, at most KERNEL_DMESG_MAX_RECORDS; not_ready as for exit.
 */
json_t *kernel_dmesg_reply(struct bw_printk_ring *log, const json_t *req,
			   const char *not_ready_state);

/* The status view of @health, or null when it cannot be built. */
json_t *kernel_health_status(const struct bw_scx_health *health);

#endif
