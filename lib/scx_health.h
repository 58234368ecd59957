/* SPDX-License-Identifier: MIT */
/*
 * sched_ext health, read from the guest kernel with no watch file: is a
 * scheduler attached, which one, the kernel's scx event counters, runnable
 * sched_ext tasks and local DSQ depth per CPU, bypass depth, stalled
 * runnable tasks and wedged CPUs, and the exit record the kernel writes
 * when it disables a scheduler.  A consumer of the kernel model beside the
 * watch engine: it reads the kernel's own structures, laid out from the
 * kernel's BTF, never a BPF map.  See scx_health.c for the structures and
 * how they changed across kernel versions.
 *
 * Metrics (keys "sched_ext_*", folded with the watch fold's window rules:
 * absent until read, dropped on reset):
 *   sched_ext_enabled, sched_ext_bypass_depth, sched_ext_event_<name>,
 *   sched_ext_attaches, sched_ext_stalls               last value (integer)
 *   sched_ext_nr_running, sched_ext_local_dsq_depth,
 *   sched_ext_stalled_tasks, sched_ext_wedged_cpus     sum over CPUs, last tick
 *   sched_ext_{nr_running,local_dsq_depth,stalled_tasks}_{avg,max}
 *                                                      per-CPU gauge (percpu fold)
 *   sched_ext_state, sched_ext_ops                     text, last read
 *   sched_ext_exit_kind, _exit_kind_name, _exit_code,
 *   _exit_reason, _exit_msg, _exit_missed              the exit record captured
 *                                                      in this window
 *
 * Single-threaded, like the engine; borrows the kernel model.
 */
#ifndef BPFWATCH_SCX_HEALTH_H
#define BPFWATCH_SCX_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

struct bw_kernel;
struct bw_scx_health;

/* The key prefix of every health metric; watch keys may not start with it. */
#define BW_SCX_HEALTH_PREFIX "sched_ext_"
/* The default of [Kernel] StallMSec=: a third of the kernel's default 30 s watchdog timeout would
 * be early, 2 s is what a CI run wants to hear about. */
#define BW_SCX_HEALTH_STALL_MS_DEFAULT 2000u

/*
 * The event counters are cumulative and there are 9 to 21 of them per CPU:
 * they are read at most once a second (and at once for a new scheduler),
 * which keeps a tick at a few loads per CPU; the runqueues, the exit record
 * and stalls are read every tick.
 */
#define BW_SCX_HEALTH_EVENTS_PERIOD_NS 1000000000ULL

int bw_scx_health_new(struct bw_kernel *k, uint32_t stall_ms, uint64_t mono_ns, int64_t wall_ns,
		      struct bw_scx_health **out, struct bw_error *err);
void bw_scx_health_free(struct bw_scx_health *h);

/*
 * One sample at @mono_ns.  Trouble in the guest is a state (status says
 * it), not an error: only a caller error or running out of memory fails.
 */
int bw_scx_health_tick(struct bw_scx_health *h, uint64_t mono_ns, int64_t wall_ns,
		       struct bw_error *err);
void bw_scx_health_reset(struct bw_scx_health *h, uint64_t mono_ns, int64_t wall_ns);

/* Add the window's health metrics to @metrics (a JSON object). */
int bw_scx_health_metrics_json(const struct bw_scx_health *h, json_t *metrics,
			       struct bw_error *err);

/*
 * The last exit record, whatever the window, kept until the next scheduler
 * is enabled:
 *   {"attached": bool, "ops": str|null, "state": str|null,
 *    "exit": null | {"ops", "kind", "kind_name", "code" (null from the log),
 *                    "reason", "msg", "dump", "missed": bool,
 *                    "missed_reason": str|null,
 *                    "source": "kernel"|"kernel log"|null (missed),
 *                    "mono_ns", "wall_ns"}}
 * An exit record is taken from the kernel's exit_info while the scheduler
 * is still scx_root; one that went too fast is looked up in the kernel's
 * log (printk_ring.h) for a few seconds; otherwise it says it was missed.
 */
int bw_scx_health_exit_json(const struct bw_scx_health *h, json_t **out, struct bw_error *err);

/*
 * What the kernel side looks like now:
 *   {"state", "ops", "enabled", "bypass_depth", "events": {name: N},
 *    "events_mono_ns": when they were read (CLOCK_MONOTONIC)|null,
 *    "hz": N|null, "stall_ms", "stalls": [{"cpu", "pid", "comm",
 *    "waiting_ms", "runnable_at"}], "wedged_cpus": [N], "problem": str|null,
 *    "layout": {"events": "pcpu"|"event_stats_cpu"|null, "bypass_depth":
 *    "scx_sched"|"global"|null}}
 */
int bw_scx_health_status_json(const struct bw_scx_health *h, json_t **out, struct bw_error *err);

/* What a health metric is, for the publishers (OpenMetrics, scx_stats). */
enum bw_scx_health_kind {
	BW_SCX_HEALTH_COUNTER,		/* an unsigned count that only grows within the window */
	BW_SCX_HEALTH_GAUGE,		/* an unsigned integer */
	BW_SCX_HEALTH_SIGNED,		/* a signed integer */
	BW_SCX_HEALTH_MEAN,		/* a real number */
	BW_SCX_HEALTH_TEXT,		/* a string */
};

struct bw_scx_health_metric {
	const char *key;		/* "sched_ext_..." */
	enum bw_scx_health_kind kind;
	const char *help;		/* what it is and which kernel structure it reads */
};

/* The description of the health metric @key (event counters included); false: not one. */
bool bw_scx_health_metric_of(const char *key, struct bw_scx_health_metric *out);

/*
 * Call @fn for every metric @h can publish, read or not: the fixed ones,
 * then one event counter per member of the kernel's struct
 * scx_event_stats (none with @h NULL).  @m and its strings live for the
 * call only.  Stops at and returns @fn's first negative result.
 */
int bw_scx_health_each_metric(const struct bw_scx_health *h,
			      int (*fn)(const struct bw_scx_health_metric *m, void *userdata),
			      void *userdata);

/* Is @key one of ours (starts with BW_SCX_HEALTH_PREFIX)? */
bool bw_scx_health_key(const char *key);

#endif
