/* SPDX-License-Identifier: MIT */
/*
 * The daemon's metrics as Prometheus reads them, in two dialects:
 *   - OpenMetrics 1.0 ({"cmd":"metrics","format":"openmetrics"}): a
 *     counter family "X" has samples "X_total", "# EOF" last;
 *   - the Prometheus text format 0.0.4 (TextfileDir= for node_exporter's
 *     textfile collector, {"format":"prometheus"}, and what promtool
 *     check metrics reads): the counter family is named "X_total" itself.
 *
 * Every sample carries vm="<instance>" (not "instance", which Prometheus
 * sets to the scrape target) and every family has # HELP.  Families:
 *
 *   per watch, K = <object prefix>_<label>, names made of [A-Za-z0-9_:]:
 *     scalar          K gauge: value at the last tick
 *     scalar-counter  K counter (K_total): value at the last tick
 *     percpu          K gauge{cpu="N"}: each CPU at the last tick
 *     percpu-counter  K counter{cpu="N"} (K_total): each CPU at the last tick
 *     run-level (the metrics window, as the JSON "metrics" reply):
 *       K_window_mean (scalar), K_window_last (scalar-counter),
 *       K_window_avg and K_window_max (percpu), K_window_last (percpu-counter:
 *       the sum over CPUs)
 *     text (a char[] leaf: its key is in the metrics reply's "text_keys"):
 *       K info family, one sample K_info{value="<last text>"} 1 instead of
 *       the families above (the text format has no info type: a gauge
 *       family K_info)
 *   health:
 *     bpfwatch_up, bpfwatch_build_info{version}, bpfwatch_state{state}
 *     (1 for the current state, 0 for the others), bpfwatch_ticks_total,
 *     bpfwatch_last_tick_timestamp_seconds, bpfwatch_window_start_timestamp_seconds,
 *     bpfwatch_watch_state{watch,state} (1 for each watch's state)
 *   sched_ext kernel health (scx_health.h), each sched_ext_* key of the
 *   metrics reply, # HELP from bw_scx_health_metric_of(): counters
 *   (attaches, stalls, event_<name>) as counter families, text as info
 *   families, the rest gauges; no per-CPU series (folded in lib)
 *
 * More kinds of families plug in as another entry of the renderer's
 * source table (openmetrics.c), written with the om_* helpers below.
 */
#ifndef BPFWATCH_OPENMETRICS_H
#define BPFWATCH_OPENMETRICS_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "error.h"
#include "watch.h"

enum openmetrics_dialect {
	OPENMETRICS_1_0,
	OPENMETRICS_PROMETHEUS_TEXT,	/* text format 0.0.4 */
};

/* What one rendering reads; any pointer may be NULL (then its families are left out). */
struct openmetrics_input {
	const char *vm;				/* the instance name */
	const char *state;			/* the service state now */
	const char *const *states;		/* every service state name */
	size_t nstates;
	uint64_t ticks;
	int64_t last_tick_wall_ns;		/* 0: no tick yet */
	const struct bw_watch_set *watches;
	const json_t *sample;			/* bw_engine_sample_json() */
	const json_t *status_watches;		/* bw_engine_status_json()'s "watches" */
	const json_t *metrics;			/* the metrics reply: {"window", "metrics"} */
};

/* Malloc'd text, NULL when out of memory. */
char *openmetrics_render(const struct openmetrics_input *in, enum openmetrics_dialect dialect);

/*
 * Refuse a watch set two of whose watches would export the same family or
 * sample name once labels are made into metric names ("a-b" and "a_b"):
 * -EEXIST naming both watches' places (file:line) and the name.
 */
int openmetrics_check_watch_set(const struct bw_watch_set *set, struct bw_error *err);

/* ---- writing families (for the sources in openmetrics.c) ---- */

enum om_type { OM_GAUGE, OM_COUNTER, OM_INFO };

struct om_writer {
	FILE *f;
	enum openmetrics_dialect dialect;
	const char *vm;
	char family[256];
	enum om_type type;
};

/* Start family @name (already a valid metric name) with a # HELP line. */
void om_family(struct om_writer *w, const char *name, enum om_type type, const char *help_fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * One sample of the current family: vm="…", then the label pairs
 * @labels[0]=@labels[1], … (NULL-terminated; may be NULL), then @value: a
 * JSON integer, real or decimal string (an exact integer beyond int64).
 */
void om_sample_json(struct om_writer *w, const char *const *labels, const json_t *value);
void om_sample_double(struct om_writer *w, const char *const *labels, double value);

/* @key as a metric name: characters outside [A-Za-z0-9_:] become '_', a leading digit gets '_'. */
void om_name(const char *key, char *buf, size_t len);

#endif
