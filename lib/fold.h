/* SPDX-License-Identifier: MIT */
/*
 * The fold engine: turns the per-tick reads of a watch set into run-level
 * metrics over a window.
 *
 * A window starts when the fold is created and on every bw_fold_reset().
 * Each tick the caller calls bw_fold_tick() once, then feeds each watch it
 * tried to read: one value (scalar kinds), a list of (cpu, value) readings
 * (percpu kinds; CPUs that could not be read are simply absent), or a
 * failure.  A watch that is not resolved is not fed at all.  Per watch:
 *
 *   scalar          mean of its successful reads               -> real
 *   scalar-counter  value of its last successful read          -> integer
 *   percpu          _avg: mean over every (tick, CPU) reading   -> real
 *                   _max: largest single reading                -> integer
 *   percpu-counter  sum over the CPUs read at the last tick
 *                   that read any                               -> integer
 *
 * A metric that was never sampled in the window has no key at all, never a
 * 0.  A failure, and a percpu feed with no readings, count as nothing.
 *
 * Exactness.  Values come in as 64-bit payloads with their signedness
 * (struct bw_fold_value), so an s32 of -1 sign-extended by the reader stays
 * -1 and a u64 of 2^64-1 stays 2^64-1.  Sums, maxima and last values are
 * kept in __int128: a percpu-counter sum of at most BW_FOLD_MAX_CPUS 64-bit
 * values always fits, so integer results are exact with no error case.  The
 * window sums behind means are also __int128 and checked: overflowing one
 * would take about 2^63 readings, and if it ever happened the feed fails
 * with -EOVERFLOW rather than folding a wrong mean.  A mean is computed as
 * quotient + remainder / count, so it is exact whenever the true mean is
 * representable as a double.
 *
 * JSON numbers.  jansson integers are 64-bit signed (json_int_t), and a
 * double is exact only up to 2^53.  So an integer result is a JSON integer
 * when it lies in [INT64_MIN, INT64_MAX], and otherwise (a u64 above
 * INT64_MAX, or a percpu-counter sum beyond 64 bits) a JSON *string* of its
 * exact decimal digits, e.g. "18446744073709551615".  Clients that compare
 * metrics must accept such a string as a number; nothing is ever rounded.
 * Means are JSON reals.
 *
 * Object prefix and scheduler changes.  Keys are "<obj>_<label>[_avg|_max]".
 * A pinned watch (Object=) always uses its pin.  Unpinned watches use the
 * active scheduler's object prefix, given to each bw_fold_tick():
 *   - a tick with a NULL prefix (no active scheduler) changes nothing: the
 *     window keeps the last object's samples, still keyed by its prefix, so
 *     metrics survive the scheduler's exit until the next reset;
 *   - a tick whose prefix differs from the window's current one drops the
 *     samples of every unpinned watch (they belong to another program and
 *     must not be averaged with, or reported under the name of, the new
 *     one) and from then on keys use the new prefix.  Window start, tick
 *     count and pinned watches are kept; bw_fold_window() counts the
 *     change;
 *   - a restart of the same scheduler (same prefix) keeps everything:
 *     gauges average across the restart, counters report the last value
 *     read, which comes from the new instance.
 * A full key can only repeat between a pinned and an unpinned watch whose
 * prefixes differ at run time (see watch.h); building the metrics then
 * fails with -EEXIST naming both watches instead of picking one.
 */
#ifndef BPFWATCH_FOLD_H
#define BPFWATCH_FOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "watch.h"

/*
 * Largest number of readings in one percpu feed and the bound on CPU
 * numbers: x86-64 CONFIG_NR_CPUS tops out at 8192 (MAXSMP), so nr_cpu_ids
 * never exceeds it.  It also keeps a percpu-counter sum within 77 bits.
 */
#define BW_FOLD_MAX_CPUS 8192

/*
 * Longest text value kept: a char[1024] (the longest text a scheduler
 * keeps, an exit message) with every byte escaped as \xNN.
 */
#define BW_FOLD_TEXT_MAX 4096

/* One value as read from the guest: a 64-bit payload and its signedness. */
struct bw_fold_value {
	bool is_signed;		/* bits is an int64_t (already sign-extended) */
	uint64_t bits;
};

static inline struct bw_fold_value bw_fold_s64(int64_t v)
{
	return (struct bw_fold_value){ .is_signed = true, .bits = (uint64_t)v };
}

static inline struct bw_fold_value bw_fold_u64(uint64_t v)
{
	return (struct bw_fold_value){ .is_signed = false, .bits = v };
}

struct bw_fold_cpu_value {
	uint32_t cpu;
	struct bw_fold_value value;
};

struct bw_fold;

/*
 * A fold for the watches of @set (indexed like the set), whose first window
 * starts at @mono_ns (CLOCK_MONOTONIC) / @wall_ns (CLOCK_REALTIME, ns since
 * the epoch).  The fold copies what it needs; @set may be freed afterwards.
 */
int bw_fold_new(const struct bw_watch_set *set, uint64_t mono_ns, int64_t wall_ns,
		struct bw_fold **out, struct bw_error *err);
void bw_fold_free(struct bw_fold *fold);

/* Start a new window: every sample, the tick count and the change count are dropped. */
void bw_fold_reset(struct bw_fold *fold, uint64_t mono_ns, int64_t wall_ns);

/*
 * Begin a tick at @mono_ns (not before the previous tick or the window
 * start: -EINVAL) with the active scheduler's object prefix @obj (NULL when
 * there is none; see the top of this file for what a change does).
 */
int bw_fold_tick(struct bw_fold *fold, const char *obj, uint64_t mono_ns, struct bw_error *err);

/*
 * Feed watch @watch for the current tick.  Each watch may be fed at most
 * once per tick (-EALREADY), only after bw_fold_tick() (-EPROTO), with the
 * feed matching its kind (-EINVAL), and an unpinned watch only during a
 * tick that has an object prefix (-EINVAL).  @watch out of range: -ERANGE.
 * bw_fold_percpu(): CPUs must be < BW_FOLD_MAX_CPUS and distinct (-EINVAL);
 * n == 0 is a tick that read no CPU and counts as nothing.
 * On error nothing is folded.
 */
int bw_fold_scalar(struct bw_fold *fold, size_t watch, struct bw_fold_value v,
		   struct bw_error *err);
int bw_fold_percpu(struct bw_fold *fold, size_t watch, const struct bw_fold_cpu_value *readings,
		   size_t n, struct bw_error *err);
/*
 * A real reading (an Across=avg mean) for a scalar or scalar-counter watch:
 * its metric is then a real (the mean, or the last reading).  A text
 * reading (a char[] leaf, already escaped, at most BW_FOLD_TEXT_MAX bytes)
 * only for scalar-counter: its metric is the last text (BW_METRIC_TEXT, a
 * JSON string).  A watch takes one form of value per window (-EINVAL).
 */
int bw_fold_real(struct bw_fold *fold, size_t watch, double v, struct bw_error *err);
int bw_fold_text(struct bw_fold *fold, size_t watch, const char *text, struct bw_error *err);
/* A read that failed this tick: counted in the stats, folded into nothing. */
int bw_fold_failure(struct bw_fold *fold, size_t watch, struct bw_error *err);

struct bw_fold_window {
	uint64_t start_mono_ns;
	int64_t start_wall_ns;
	uint64_t last_tick_mono_ns;	/* == start_mono_ns before the first tick */
	uint64_t ticks;			/* bw_fold_tick() calls in the window */
	uint64_t samples;		/* successful reads behind the current metrics:
					   the sum of every watch's stats.reads */
	uint64_t object_changes;	/* prefix changes that dropped samples */
	const char *object;		/* current prefix, NULL before the first one;
					   valid until the next tick/reset/free */
};

void bw_fold_window(const struct bw_fold *fold, struct bw_fold_window *out);

struct bw_fold_watch_stats {
	uint64_t reads;		/* successful reads folded (ticks) */
	uint64_t readings;	/* percpu: (tick, CPU) readings; scalar: == reads */
	uint64_t failures;	/* failed reads (and percpu feeds with no CPU) */
};

/* Counts since the window start (or since the last prefix change, unpinned watches). */
int bw_fold_watch_stats(const struct bw_fold *fold, size_t watch,
			struct bw_fold_watch_stats *out, struct bw_error *err);

enum bw_metric_kind {
	BW_METRIC_INTEGER,	/* exact: use .integer */
	BW_METRIC_REAL,		/* a mean: use .real */
	BW_METRIC_TEXT,		/* the last value of a text leaf: use .text */
};

struct bw_metric {
	char *key;		/* "<obj>_<label>[_avg|_max]" */
	size_t watch;		/* index in the watch set */
	enum bw_metric_kind kind;
	__int128 integer;
	double real;
	char *text;		/* BW_METRIC_TEXT, else NULL */
};

/*
 * The window's metrics, in watch order (a percpu watch gives _avg then
 * _max), only for watches that have samples.  *out is an array of *n
 * metrics to release with bw_metrics_free() (NULL when *n is 0).
 */
int bw_fold_metrics(const struct bw_fold *fold, struct bw_metric **out, size_t *n,
		    struct bw_error *err);
void bw_metrics_free(struct bw_metric *metrics, size_t n);

/*
 * A new JSON object {"<key>": number-or-decimal-string-or-text, ...} (see
 * above); which keys hold text (not a number spelled as a string) is
 * bw_fold_text_keys_json(): a new JSON array of those keys.
 */
int bw_fold_text_keys_json(const struct bw_fold *fold, json_t **out, struct bw_error *err);
int bw_fold_metrics_json(const struct bw_fold *fold, json_t **out, struct bw_error *err);

/*
 * {"start_mono_ns":N, "start_wall_ns":N, "duration_ns":N, "ticks":N,
 *  "samples":N, "object":"prefix"|null, "object_changes":N}, where
 * duration_ns runs from the window start to the last tick.  NULL when out of
 * memory.
 */
json_t *bw_fold_window_json(const struct bw_fold *fold);

/*
 * An exact integer as JSON: an integer when it fits json_int_t, else a
 * string of its decimal digits.  NULL when out of memory.
 */
json_t *bw_json_exact_integer(__int128 v);

#endif
