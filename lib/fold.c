/* SPDX-License-Identifier: MIT */
#include "fold.h"

#include <errno.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for "file:line" or "watch \"label\"" in messages. */
#define PLACE_MAX 192
/* Decimal digits of a 128-bit integer (39) plus sign and NUL. */
#define INT128_DEC_MAX 41

struct fold_watch {
	char *label;
	char *object;		/* Object= pin, NULL when none */
	char *place;		/* for messages */
	enum bw_agg agg;
	uint64_t fed_tick;	/* tick sequence number of the last feed, 0: none */
	uint64_t reads, readings, failures;
	__int128 sum;		/* scalar, percpu: sum of every reading */
	__int128 max;		/* percpu: largest reading */
	__int128 last;		/* counters: last read value / last tick's sum */
	/* Fed with reals (an Across=avg reading) instead of integers. */
	bool real;
	double rsum, rlast;
	/* A text leaf: its last value; the buffer stays across windows. */
	bool is_text;
	char *text;
	size_t text_cap;
};

struct bw_fold {
	size_t n;
	struct fold_watch *w;
	uint64_t start_mono_ns;
	int64_t start_wall_ns;
	uint64_t last_mono_ns;
	uint64_t ticks;
	uint64_t object_changes;
	/* Counts every tick ever begun, across resets, so a feed recorded in an
	 * older window can never look like a feed of the current tick. */
	uint64_t tick_seq;
	bool in_tick;		/* a tick was begun in this window */
	bool tick_has_object;	/* the current tick has an active object prefix */
	char *object;		/* the window's current prefix, NULL before the first */
};

static __int128 value_wide(struct bw_fold_value v)
{
	return v.is_signed ? (__int128)(int64_t)v.bits : (__int128)v.bits;
}

static void watch_drop_samples(struct fold_watch *fw)
{
	fw->reads = fw->readings = fw->failures = 0;
	fw->sum = fw->max = fw->last = 0;
	fw->real = fw->is_text = false;
	fw->rsum = fw->rlast = 0;
}

int bw_fold_new(const struct bw_watch_set *set, uint64_t mono_ns, int64_t wall_ns,
		struct bw_fold **out, struct bw_error *err)
{
	struct bw_fold *fold;
	size_t i, n = bw_watch_set_count(set);

	*out = NULL;
	fold = calloc(1, sizeof(*fold));
	if (!fold)
		return bw_error_set(err, -ENOMEM, "creating the fold: out of memory");
	fold->w = calloc(n ? n : 1, sizeof(*fold->w));
	if (!fold->w) {
		free(fold);
		return bw_error_set(err, -ENOMEM, "creating the fold for %zu watches: out of memory",
				    n);
	}
	fold->n = n;
	for (i = 0; i < n; i++) {
		const struct bw_watch *w = bw_watch_set_get(set, i);
		struct fold_watch *fw = &fold->w[i];
		char place[PLACE_MAX];

		fw->agg = w->agg;
		fw->label = strdup(w->label);
		fw->object = w->object ? strdup(w->object) : NULL;
		fw->place = strdup(bw_watch_place(w, place, sizeof(place)));
		if (!fw->label || !fw->place || (w->object && !fw->object)) {
			bw_fold_free(fold);
			return bw_error_set(err, -ENOMEM, "creating the fold: out of memory");
		}
	}
	bw_fold_reset(fold, mono_ns, wall_ns);
	*out = fold;
	return 0;
}

void bw_fold_free(struct bw_fold *fold)
{
	size_t i;

	if (!fold)
		return;
	for (i = 0; i < fold->n; i++) {
		free(fold->w[i].label);
		free(fold->w[i].object);
		free(fold->w[i].place);
		free(fold->w[i].text);
	}
	free(fold->w);
	free(fold->object);
	free(fold);
}

void bw_fold_reset(struct bw_fold *fold, uint64_t mono_ns, int64_t wall_ns)
{
	size_t i;

	for (i = 0; i < fold->n; i++)
		watch_drop_samples(&fold->w[i]);
	fold->start_mono_ns = fold->last_mono_ns = mono_ns;
	fold->start_wall_ns = wall_ns;
	fold->ticks = 0;
	fold->object_changes = 0;
	fold->in_tick = false;
	fold->tick_has_object = false;
	free(fold->object);
	fold->object = NULL;
}

int bw_fold_tick(struct bw_fold *fold, const char *obj, uint64_t mono_ns, struct bw_error *err)
{
	char *copy = NULL;
	size_t i;
	int r;

	if (mono_ns < fold->last_mono_ns)
		return bw_error_set(err, -EINVAL,
				    "beginning a tick at %llu ns: before the previous tick or window "
				    "start (%llu ns)", (unsigned long long)mono_ns,
				    (unsigned long long)fold->last_mono_ns);
	/* The prefix comes out of guest memory: it becomes part of JSON keys. */
	if (obj) {
		r = bw_watch_check_object(obj, err);
		if (r < 0)
			return bw_error_prefix(err, "beginning a tick: active object prefix");
		if (!fold->object || strcmp(fold->object, obj) != 0) {
			copy = strdup(obj);
			if (!copy)
				return bw_error_set(err, -ENOMEM, "beginning a tick: out of memory");
		}
	}
	if (copy) {
		if (fold->object) {
			for (i = 0; i < fold->n; i++)
				if (!fold->w[i].object)
					watch_drop_samples(&fold->w[i]);
			fold->object_changes++;
		}
		free(fold->object);
		fold->object = copy;
	}
	fold->tick_seq++;
	fold->ticks++;
	fold->last_mono_ns = mono_ns;
	fold->in_tick = true;
	fold->tick_has_object = obj != NULL;
	return 0;
}

enum feed_kind { FEED_ANY, FEED_SCALAR, FEED_PERCPU };

static int feed_form(struct fold_watch *fw, bool real, bool text, struct bw_error *err);

/* Checks every feed shares; on success the watch may be folded this tick. */
static int feed_check(struct bw_fold *fold, size_t watch, enum feed_kind kind,
		      struct bw_error *err, struct fold_watch **out)
{
	struct fold_watch *fw;

	if (watch >= fold->n)
		return bw_error_set(err, -ERANGE, "folding watch %zu: only %zu watches", watch,
				    fold->n);
	fw = &fold->w[watch];
	if (!fold->in_tick)
		return bw_error_set(err, -EPROTO, "folding watch \"%s\": no tick begun in this window",
				    fw->label);
	if (fw->fed_tick == fold->tick_seq)
		return bw_error_set(err, -EALREADY, "folding watch \"%s\": already fed this tick",
				    fw->label);
	if (kind != FEED_ANY && (kind == FEED_PERCPU) != (bool)bw_agg_is_percpu(fw->agg))
		return bw_error_set(err, -EINVAL, "folding watch \"%s\": a %s feed for a %s watch",
				    fw->label, kind == FEED_PERCPU ? "per-CPU" : "single-value",
				    bw_agg_name(fw->agg));
	if (!fw->object && !fold->tick_has_object)
		return bw_error_set(err, -EINVAL,
				    "folding watch \"%s\": no active object prefix this tick and no "
				    "Object= pin", fw->label);
	*out = fw;
	return 0;
}

int bw_fold_scalar(struct bw_fold *fold, size_t watch, struct bw_fold_value v,
		   struct bw_error *err)
{
	struct fold_watch *fw;
	__int128 x = value_wide(v), sum;
	int r;

	r = feed_check(fold, watch, FEED_SCALAR, err, &fw);
	if (r < 0)
		return r;
	r = feed_form(fw, false, false, err);
	if (r < 0)
		return r;
	if (fw->agg == BW_AGG_SCALAR) {
		if (__builtin_add_overflow(fw->sum, x, &sum))
			return bw_error_set(err, -EOVERFLOW,
					    "folding watch \"%s\": the window's sum left 128 bits",
					    fw->label);
		fw->sum = sum;
	} else {
		fw->last = x;
	}
	fw->fed_tick = fold->tick_seq;
	fw->reads++;
	fw->readings++;
	return 0;
}

/* A watch is fed one kind of value for a whole window. */
static int feed_form(struct fold_watch *fw, bool real, bool text, struct bw_error *err)
{
	static const char *const forms[] = { "integer", "real", "text" };
	unsigned int had = fw->is_text ? 2 : fw->real, now = text ? 2 : real;

	if (fw->reads && had != now)
		return bw_error_set(err, -EINVAL, "folding watch \"%s\": a %s value after %s "
				    "values in the same window", fw->label, forms[now], forms[had]);
	fw->real = real;
	fw->is_text = text;
	return 0;
}

int bw_fold_real(struct bw_fold *fold, size_t watch, double v, struct bw_error *err)
{
	struct fold_watch *fw;
	int r;

	r = feed_check(fold, watch, FEED_SCALAR, err, &fw);
	if (r < 0)
		return r;
	if (!isfinite(v))
		return bw_error_set(err, -EINVAL, "folding watch \"%s\": a reading that is not a "
				    "finite number", fw->label);
	r = feed_form(fw, true, false, err);
	if (r < 0)
		return r;
	if (fw->agg == BW_AGG_SCALAR)
		fw->rsum += v;
	else
		fw->rlast = v;
	fw->fed_tick = fold->tick_seq;
	fw->reads++;
	fw->readings++;
	return 0;
}

int bw_fold_text(struct bw_fold *fold, size_t watch, const char *text, struct bw_error *err)
{
	struct fold_watch *fw;
	size_t len = strnlen(text, BW_FOLD_TEXT_MAX + 1);
	int r;

	r = feed_check(fold, watch, FEED_SCALAR, err, &fw);
	if (r < 0)
		return r;
	if (fw->agg != BW_AGG_SCALAR_COUNTER)
		return bw_error_set(err, -EINVAL, "folding watch \"%s\": text keeps only its last "
				    "value, which is the scalar-counter aggregation, not %s",
				    fw->label, bw_agg_name(fw->agg));
	if (len > BW_FOLD_TEXT_MAX)
		return bw_error_set(err, -E2BIG, "folding watch \"%s\": text longer than %d bytes",
				    fw->label, BW_FOLD_TEXT_MAX);
	r = feed_form(fw, false, true, err);
	if (r < 0)
		return r;
	if (fw->text_cap < len + 1) {
		/* Grown once to the longest value seen, then reused every tick. */
		char *t = realloc(fw->text, len + 1);

		if (!t)
			return bw_error_set(err, -ENOMEM, "folding watch \"%s\": out of memory",
					    fw->label);
		fw->text = t;
		fw->text_cap = len + 1;
	}
	memcpy(fw->text, text, len + 1);
	fw->fed_tick = fold->tick_seq;
	fw->reads++;
	fw->readings++;
	return 0;
}

int bw_fold_percpu(struct bw_fold *fold, size_t watch, const struct bw_fold_cpu_value *readings,
		   size_t n, struct bw_error *err)
{
	uint64_t seen[BW_FOLD_MAX_CPUS / 64];
	bool use_seen = false;
	struct fold_watch *fw;
	__int128 tick_sum = 0, tick_max = 0, sum;
	size_t i;
	int r;

	r = feed_check(fold, watch, FEED_PERCPU, err, &fw);
	if (r < 0)
		return r;
	if (n > BW_FOLD_MAX_CPUS)
		return bw_error_set(err, -EINVAL, "folding watch \"%s\": %zu readings, more than %d CPUs",
				    fw->label, n, BW_FOLD_MAX_CPUS);
	/*
	 * CPUs in increasing order (as a sampler walking CPU by CPU gives them)
	 * are distinct by that alone; the bitmap of CPUs seen, whose clearing
	 * would cost as much as a small feed, is built only when a reading
	 * comes out of order, from the readings before it.
	 */
	for (i = 0; i < n; i++) {
		uint32_t cpu = readings[i].cpu;
		__int128 x = value_wide(readings[i].value);

		if (cpu >= BW_FOLD_MAX_CPUS)
			return bw_error_set(err, -EINVAL, "folding watch \"%s\": CPU %u out of range",
					    fw->label, cpu);
		if (!use_seen && i > 0 && cpu <= readings[i - 1].cpu) {
			memset(seen, 0, sizeof(seen));
			for (size_t j = 0; j < i; j++)
				seen[readings[j].cpu / 64] |= 1ULL << (readings[j].cpu % 64);
			use_seen = true;
		}
		if (use_seen) {
			if (seen[cpu / 64] & (1ULL << (cpu % 64)))
				return bw_error_set(err, -EINVAL, "folding watch \"%s\": CPU %u read "
						    "twice", fw->label, cpu);
			seen[cpu / 64] |= 1ULL << (cpu % 64);
		}
		/* At most 8192 values of 65 bits: cannot overflow. */
		tick_sum += x;
		if (i == 0 || x > tick_max)
			tick_max = x;
	}
	if (n == 0) {
		fw->fed_tick = fold->tick_seq;
		fw->failures++;
		return 0;
	}
	if (fw->agg == BW_AGG_PERCPU) {
		if (__builtin_add_overflow(fw->sum, tick_sum, &sum))
			return bw_error_set(err, -EOVERFLOW,
					    "folding watch \"%s\": the window's sum left 128 bits",
					    fw->label);
		fw->sum = sum;
		if (fw->reads == 0 || tick_max > fw->max)
			fw->max = tick_max;
	} else {
		fw->last = tick_sum;
	}
	fw->fed_tick = fold->tick_seq;
	fw->reads++;
	fw->readings += n;
	return 0;
}

int bw_fold_failure(struct bw_fold *fold, size_t watch, struct bw_error *err)
{
	struct fold_watch *fw;
	int r;

	r = feed_check(fold, watch, FEED_ANY, err, &fw);
	if (r < 0)
		return r;
	fw->fed_tick = fold->tick_seq;
	fw->failures++;
	return 0;
}

void bw_fold_window(const struct bw_fold *fold, struct bw_fold_window *out)
{
	size_t i;

	*out = (struct bw_fold_window){
		.start_mono_ns = fold->start_mono_ns,
		.start_wall_ns = fold->start_wall_ns,
		.last_tick_mono_ns = fold->last_mono_ns,
		.ticks = fold->ticks,
		.object_changes = fold->object_changes,
		.object = fold->object,
	};
	for (i = 0; i < fold->n; i++)
		out->samples += fold->w[i].reads;
}

int bw_fold_watch_stats(const struct bw_fold *fold, size_t watch,
			struct bw_fold_watch_stats *out, struct bw_error *err)
{
	const struct fold_watch *fw;

	if (watch >= fold->n)
		return bw_error_set(err, -ERANGE, "stats of watch %zu: only %zu watches", watch,
				    fold->n);
	fw = &fold->w[watch];
	*out = (struct bw_fold_watch_stats){
		.reads = fw->reads,
		.readings = fw->readings,
		.failures = fw->failures,
	};
	return 0;
}

/*
 * sum / count as a double, split into quotient and remainder so that the
 * integer part is not rounded through a 128-bit-to-double conversion of the
 * whole sum: exact whenever the mean itself is representable.
 */
static double mean(__int128 sum, uint64_t count)
{
	__int128 c = (__int128)count, q = sum / c, r = sum % c;

	return (double)q + (double)r / (double)count;
}

void bw_metrics_free(struct bw_metric *metrics, size_t n)
{
	size_t i;

	if (!metrics)
		return;
	for (i = 0; i < n; i++) {
		free(metrics[i].key);
		free(metrics[i].text);
	}
	free(metrics);
}

static int key_cmp(const void *a, const void *b)
{
	const struct bw_metric *const *ma = a, *const *mb = b;

	return strcmp((*ma)->key, (*mb)->key);
}

/* Refuse two metrics with one key (a pinned and an unpinned watch meeting at run time). */
static int check_keys_unique(const struct bw_fold *fold, struct bw_metric *m, size_t n,
			     struct bw_error *err)
{
	const struct bw_metric **sorted;
	size_t i;
	int r = 0;

	if (n < 2)
		return 0;
	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return bw_error_set(err, -ENOMEM, "building metrics: out of memory");
	for (i = 0; i < n; i++)
		sorted[i] = &m[i];
	qsort(sorted, n, sizeof(*sorted), key_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0) {
			const struct fold_watch *a = &fold->w[sorted[i - 1]->watch];
			const struct fold_watch *b = &fold->w[sorted[i]->watch];

			r = bw_error_set(err, -EEXIST,
					 "building metrics: key \"%s\" is produced by watch \"%s\" "
					 "(%s) and watch \"%s\" (%s)", sorted[i]->key, a->label,
					 a->place, b->label, b->place);
			break;
		}
	}
	free(sorted);
	return r;
}

int bw_fold_metrics(const struct bw_fold *fold, struct bw_metric **out, size_t *n,
		    struct bw_error *err)
{
	struct bw_metric *m;
	size_t i, count = 0;
	int r;

	*out = NULL;
	*n = 0;
	m = calloc(fold->n ? fold->n * BW_WATCH_MAX_KEYS : 1, sizeof(*m));
	if (!m)
		return bw_error_set(err, -ENOMEM, "building metrics: out of memory");
	for (i = 0; i < fold->n; i++) {
		const struct fold_watch *fw = &fold->w[i];
		struct bw_watch w = { .agg = fw->agg, .label = fw->label, .object = fw->object };
		char *keys[BW_WATCH_MAX_KEYS];
		unsigned int k, nkeys;

		if (!fw->reads)
			continue;
		r = bw_watch_keys(&w, fold->object, keys, &nkeys, err);
		if (r < 0) {
			bw_metrics_free(m, count);
			return r;
		}
		for (k = 0; k < nkeys; k++) {
			struct bw_metric *mk = &m[count++];

			mk->key = keys[k];
			mk->watch = i;
			if (fw->is_text) {
				mk->kind = BW_METRIC_TEXT;
				mk->text = strdup(fw->text);
				if (!mk->text) {
					bw_metrics_free(m, count);
					return bw_error_set(err, -ENOMEM, "building metrics: out of "
							    "memory");
				}
				continue;
			}
			if (fw->real) {
				mk->kind = BW_METRIC_REAL;
				mk->real = fw->agg == BW_AGG_SCALAR ? fw->rsum / (double)fw->reads :
								      fw->rlast;
				continue;
			}
			switch (fw->agg) {
			case BW_AGG_SCALAR:
				mk->kind = BW_METRIC_REAL;
				mk->real = mean(fw->sum, fw->reads);
				break;
			case BW_AGG_PERCPU:
				if (k == 0) {
					mk->kind = BW_METRIC_REAL;
					mk->real = mean(fw->sum, fw->readings);
				} else {
					mk->kind = BW_METRIC_INTEGER;
					mk->integer = fw->max;
				}
				break;
			case BW_AGG_SCALAR_COUNTER:
			case BW_AGG_PERCPU_COUNTER:
				mk->kind = BW_METRIC_INTEGER;
				mk->integer = fw->last;
				break;
			}
		}
	}
	r = check_keys_unique(fold, m, count, err);
	if (r < 0 || count == 0) {
		bw_metrics_free(m, count);
		return r;
	}
	*out = m;
	*n = count;
	return 0;
}

json_t *bw_json_exact_integer(__int128 v)
{
	char buf[INT128_DEC_MAX], *p = buf + sizeof(buf) - 1;
	unsigned __int128 mag;

	if (v >= INT64_MIN && v <= INT64_MAX)
		return json_integer((json_int_t)v);
	mag = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
	*p = '\0';
	do {
		*--p = (char)('0' + (int)(mag % 10));
		mag /= 10;
	} while (mag);
	if (v < 0)
		*--p = '-';
	return json_string(p);
}

int bw_fold_text_keys_json(const struct bw_fold *fold, json_t **out, struct bw_error *err)
{
	struct bw_metric *m;
	json_t *a;
	size_t i, n;
	int r;

	*out = NULL;
	r = bw_fold_metrics(fold, &m, &n, err);
	if (r < 0)
		return r;
	a = json_array();
	for (i = 0; a && i < n; i++)
		if (m[i].kind == BW_METRIC_TEXT && json_array_append_new(a, json_string(m[i].key)) < 0) {
			json_decref(a);
			a = NULL;
		}
	bw_metrics_free(m, n);
	if (!a)
		return bw_error_set(err, -ENOMEM, "building the text keys: out of memory");
	*out = a;
	return 0;
}

int bw_fold_metrics_json(const struct bw_fold *fold, json_t **out, struct bw_error *err)
{
	struct bw_metric *m;
	json_t *obj;
	size_t i, n;
	int r;

	*out = NULL;
	r = bw_fold_metrics(fold, &m, &n, err);
	if (r < 0)
		return r;
	obj = json_object();
	if (!obj)
		goto nomem;
	for (i = 0; i < n; i++) {
		json_t *v = m[i].kind == BW_METRIC_REAL ? json_real(m[i].real) :
			    m[i].kind == BW_METRIC_TEXT ? json_string(m[i].text) :
			    bw_json_exact_integer(m[i].integer);

		if (json_object_set_new(obj, m[i].key, v) < 0)
			goto nomem;
	}
	bw_metrics_free(m, n);
	*out = obj;
	return 0;
nomem:
	json_decref(obj);
	bw_metrics_free(m, n);
	return bw_error_set(err, -ENOMEM, "building metrics JSON: out of memory");
}

json_t *bw_fold_window_json(const struct bw_fold *fold)
{
	struct bw_fold_window w;
	json_t *o;

	bw_fold_window(fold, &w);
	o = json_object();
	if (!o)
		return NULL;
	if (json_object_set_new(o, "start_mono_ns", bw_json_exact_integer(w.start_mono_ns)) ||
	    json_object_set_new(o, "start_wall_ns", bw_json_exact_integer(w.start_wall_ns)) ||
	    json_object_set_new(o, "duration_ns",
				bw_json_exact_integer(w.last_tick_mono_ns - w.start_mono_ns)) ||
	    json_object_set_new(o, "ticks", bw_json_exact_integer(w.ticks)) ||
	    json_object_set_new(o, "samples", bw_json_exact_integer(w.samples)) ||
	    json_object_set_new(o, "object", w.object ? json_string(w.object) : json_null()) ||
	    json_object_set_new(o, "object_changes", bw_json_exact_integer(w.object_changes))) {
		json_decref(o);
		return NULL;
	}
	return o;
}
