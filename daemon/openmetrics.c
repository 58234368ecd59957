/* SPDX-License-Identifier: MIT */
#include "openmetrics.h"

#include "scx_health.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define OM_NAME_MAX 256

void om_name(const char *key, char *buf, size_t len)
{
	size_t o = 0;

	if (!len)
		return;
	if (isdigit((unsigned char)key[0]) && o + 1 < len)
		buf[o++] = '_';
	for (const char *p = key; *p && o + 1 < len; p++)
		buf[o++] = isalnum((unsigned char)*p) || *p == '_' || *p == ':' ? *p : '_';
	buf[o] = '\0';
}

/* Text of a # HELP line: backslash and newline escaped. */
static void put_help_text(FILE *f, const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
}

/* A label value: backslash, quote and newline escaped. */
static void put_label_value(FILE *f, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
}

void om_family(struct om_writer *w, const char *name, enum om_type type, const char *help_fmt, ...)
{
	/* The text format names a counter (or info) family by its sample name. */
	bool text = w->dialect == OPENMETRICS_PROMETHEUS_TEXT;
	const char *total = type == OM_COUNTER && text ? "_total" : type == OM_INFO && text ?
			    "_info" : "";
	const char *tname = type == OM_COUNTER ? "counter" : type == OM_INFO && !text ? "info" :
			    "gauge";
	char help[1024];
	va_list ap;

	snprintf(w->family, sizeof(w->family), "%s", name);
	w->type = type;
	va_start(ap, help_fmt);
	vsnprintf(help, sizeof(help), help_fmt, ap);
	va_end(ap);
	fprintf(w->f, "# HELP %s%s ", name, total);
	put_help_text(w->f, help);
	fprintf(w->f, "\n# TYPE %s%s %s\n", name, total, tname);
}

static void put_sample_head(struct om_writer *w, const char *const *labels)
{
	fprintf(w->f, "%s%s{vm=\"", w->family, w->type == OM_COUNTER ? "_total" :
						w->type == OM_INFO ? "_info" : "");
	put_label_value(w->f, w->vm ? w->vm : "");
	fputc('"', w->f);
	for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
		fprintf(w->f, ",%s=\"", labels[i]);
		put_label_value(w->f, labels[i + 1]);
		fputc('"', w->f);
	}
	fputs("} ", w->f);
}

void om_sample_double(struct om_writer *w, const char *const *labels, double value)
{
	put_sample_head(w, labels);
	fprintf(w->f, "%.17g\n", value);
}

void om_sample_json(struct om_writer *w, const char *const *labels, const json_t *value)
{
	put_sample_head(w, labels);
	if (json_is_integer(value))
		fprintf(w->f, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(value));
	else if (json_is_real(value))
		fprintf(w->f, "%.17g\n", json_real_value(value));
	else if (json_is_string(value))	/* an exact integer beyond int64 */
		fprintf(w->f, "%s\n", json_string_value(value));
	else
		fputs("NaN\n", w->f);
}

/* ---- watch families ---------------------------------------------------- */

enum watch_reading { CURRENT, WINDOW };

struct watch_family {
	const char *suffix;		/* after K */
	enum om_type type;
	enum watch_reading reading;
	const char *fold_suffix;	/* WINDOW: the fold key's suffix (watch.h) */
	const char *what;
};

#define WATCH_FAMILIES_MAX 3

static const struct watch_family watch_families[][WATCH_FAMILIES_MAX] = {
	[BW_AGG_SCALAR] = {
		{ "", OM_GAUGE, CURRENT, NULL, "value at the last tick" },
		{ "_window_mean", OM_GAUGE, WINDOW, "", "mean over the metrics window" },
	},
	[BW_AGG_SCALAR_COUNTER] = {
		{ "", OM_COUNTER, CURRENT, NULL, "value at the last tick" },
		{ "_window_last", OM_GAUGE, WINDOW, "", "value at the last read of the metrics window" },
	},
	[BW_AGG_PERCPU] = {
		{ "", OM_GAUGE, CURRENT, NULL, "each CPU's value at the last tick" },
		{ "_window_avg", OM_GAUGE, WINDOW, "_avg", "mean over every tick and CPU of the metrics window" },
		{ "_window_max", OM_GAUGE, WINDOW, "_max", "largest single reading of the metrics window" },
	},
	[BW_AGG_PERCPU_COUNTER] = {
		{ "", OM_COUNTER, CURRENT, NULL, "each CPU's value at the last tick" },
		{ "_window_last", OM_GAUGE, WINDOW, "", "sum over the CPUs at the last read of the metrics window" },
	},
};

static size_t watch_family_count(enum bw_agg agg)
{
	size_t n = 0;

	while (n < WATCH_FAMILIES_MAX && watch_families[agg][n].what)
		n++;
	return n;
}

/* The sample entry of @label (the engine lists watches in set order: try @i first). */
static const json_t *sample_of(const json_t *sample, size_t i, const char *label)
{
	const json_t *watches = json_object_get(sample, "watches"), *w;
	size_t j;

	w = json_array_get(watches, i);
	if (w && !strcmp(json_string_value(json_object_get(w, "label")) ?: "", label))
		return w;
	json_array_foreach((json_t *)watches, j, w)
		if (!strcmp(json_string_value(json_object_get(w, "label")) ?: "", label))
			return w;
	return NULL;
}

static void put_watch_family(struct om_writer *w, const struct openmetrics_input *in,
			     const struct bw_watch *watch, size_t index, const struct watch_family *fam)
{
	const char *cur_obj = json_string_value(json_object_get(in->sample, "object"));
	const char *win_obj = json_string_value(json_object_get(json_object_get(in->metrics, "window"),
								 "object"));
	const char *prefix = watch->object ? watch->object : fam->reading == CURRENT ? cur_obj : win_obj;
	char key[OM_NAME_MAX], name[OM_NAME_MAX + 32], place[BW_ERROR_MSG_MAX];
	const json_t *reading = NULL, *value, *cpus = NULL;

	if (!prefix)
		return;
	snprintf(key, sizeof(key), "%s_%s", prefix, watch->label);
	if (fam->reading == CURRENT) {
		reading = sample_of(in->sample, index, watch->label);
		value = json_object_get(reading, "value");
		cpus = json_object_get(reading, "values");
		if (!value && !json_is_object(cpus))
			return;
	} else {
		char fold_key[OM_NAME_MAX + 8];

		snprintf(fold_key, sizeof(fold_key), "%s%s", key, fam->fold_suffix);
		value = json_object_get(json_object_get(in->metrics, "metrics"), fold_key);
		if (!value)
			return;
	}
	om_name(key, name, OM_NAME_MAX);
	strcat(name, fam->suffix);
	om_family(w, name, fam->type, "%s of map %s field %s (%s, %s): %s", watch->label,
		  watch->map_suffix, watch->field, bw_agg_name(watch->agg),
		  bw_watch_place(watch, place, sizeof(place)), fam->what);
	if (json_is_object(cpus)) {
		const char *cpu;
		json_t *v;

		json_object_foreach((json_t *)cpus, cpu, v) {
			const char *labels[] = { "cpu", cpu, NULL };

			om_sample_json(w, labels, v);
		}
	} else {
		om_sample_json(w, NULL, value);
	}
}

/* A text watch (its window key among the metrics reply's "text_keys"): one info sample. */
static bool put_text_family(struct om_writer *w, const struct openmetrics_input *in,
			    const struct bw_watch *watch, size_t index)
{
	const char *win_obj = json_string_value(json_object_get(json_object_get(in->metrics, "window"),
								 "object"));
	const char *prefix = watch->object ? watch->object : win_obj;
	const json_t *keys = json_object_get(in->metrics, "text_keys"), *k, *value;
	char key[OM_NAME_MAX], name[OM_NAME_MAX], place[BW_ERROR_MSG_MAX];
	bool is_text = false;
	size_t i;

	if (!prefix)
		return false;
	snprintf(key, sizeof(key), "%s_%s", prefix, watch->label);
	json_array_foreach((json_t *)keys, i, k)
		is_text |= json_is_string(k) && !strcmp(json_string_value(k), key);
	if (!is_text)
		return false;
	value = json_object_get(sample_of(in->sample, index, watch->label), "value");
	if (!json_is_string(value))
		value = json_object_get(json_object_get(in->metrics, "metrics"), key);
	if (json_is_string(value)) {
		const char *labels[] = { "value", json_string_value(value), NULL };

		om_name(key, name, sizeof(name));
		om_family(w, name, OM_INFO, "%s of map %s field %s (%s): the last text read",
			  watch->label, watch->map_suffix, watch->field,
			  bw_watch_place(watch, place, sizeof(place)));
		om_sample_double(w, labels, 1);
	}
	return true;
}

static void put_watches(struct om_writer *w, const struct openmetrics_input *in)
{
	size_t n = in->watches ? bw_watch_set_count(in->watches) : 0;

	for (size_t i = 0; i < n; i++) {
		const struct bw_watch *watch = bw_watch_set_get(in->watches, i);

		if (put_text_family(w, in, watch, i))
			continue;

		for (size_t f = 0; f < watch_family_count(watch->agg); f++)
			put_watch_family(w, in, watch, i, &watch_families[watch->agg][f]);
	}
}

/* ---- health families ----------------------------------------------------- */

static void put_health(struct om_writer *w, const struct openmetrics_input *in)
{
	const json_t *window = json_object_get(in->metrics, "window"), *ws;
	static const char *const watch_states[] = { "pending", "resolved", "error" };
	const char *build[] = { "version", BW_VERSION, NULL };
	size_t i;

	om_family(w, "bpfwatch_up", OM_GAUGE,
		  "1 while bpfwatchd runs for this guest (the textfile goes when it stops)");
	om_sample_double(w, NULL, 1);
	om_family(w, "bpfwatch_build_info", OM_GAUGE, "bpfwatchd's version");
	om_sample_double(w, build, 1);
	if (in->state) {
		om_family(w, "bpfwatch_state", OM_GAUGE,
			  "the daemon's state: 1 for the current one, 0 for the others");
		for (i = 0; i < in->nstates; i++) {
			const char *labels[] = { "state", in->states[i], NULL };

			om_sample_double(w, labels, !strcmp(in->states[i], in->state));
		}
	}
	om_family(w, "bpfwatch_ticks", OM_COUNTER, "sampling ticks since the daemon started");
	om_sample_double(w, NULL, (double)in->ticks);
	if (in->last_tick_wall_ns) {
		om_family(w, "bpfwatch_last_tick_timestamp_seconds", OM_GAUGE,
			  "wall-clock time of the last sampling tick");
		om_sample_double(w, NULL, (double)in->last_tick_wall_ns / 1e9);
	}
	if (json_integer_value(json_object_get(window, "start_wall_ns"))) {
		om_family(w, "bpfwatch_window_start_timestamp_seconds", OM_GAUGE,
			  "wall-clock time the metrics window started (start, reset, reload, new boot)");
		om_sample_double(w, NULL,
				 (double)json_integer_value(json_object_get(window, "start_wall_ns")) / 1e9);
	}
	if (json_array_size(in->status_watches)) {
		om_family(w, "bpfwatch_watch_state", OM_GAUGE,
			  "each watch's state: 1 for the current one (pending, resolved, error), 0 for the others");
		json_array_foreach((json_t *)in->status_watches, i, ws) {
			const char *label = json_string_value(json_object_get(ws, "label"));
			const char *state = json_string_value(json_object_get(ws, "state"));

			if (!label || !state)
				continue;
			for (size_t s = 0; s < sizeof(watch_states) / sizeof(watch_states[0]); s++) {
				const char *labels[] = { "watch", label, "state", watch_states[s], NULL };

				om_sample_double(w, labels, !strcmp(state, watch_states[s]));
			}
		}
	}
}

/* ---- sched_ext kernel health families (scx_health.h) ---------------------- */

/*
 * Each sched_ext_* key of the metrics reply: counters as counter families,
 * text as info families, the rest gauges.  The per-CPU readings are folded
 * in lib (sums, _avg, _max): there is no per-CPU series here.
 */
static void put_sched_ext(struct om_writer *w, const struct openmetrics_input *in)
{
	static const enum om_type types[] = {
		[BW_SCX_HEALTH_COUNTER] = OM_COUNTER, [BW_SCX_HEALTH_GAUGE] = OM_GAUGE,
		[BW_SCX_HEALTH_SIGNED] = OM_GAUGE, [BW_SCX_HEALTH_MEAN] = OM_GAUGE,
		[BW_SCX_HEALTH_TEXT] = OM_INFO,
	};
	const json_t *metrics = json_object_get(in->metrics, "metrics"), *v;
	struct bw_scx_health_metric m;
	char name[OM_NAME_MAX];
	const char *key;

	json_object_foreach((json_t *)metrics, key, v) {
		bool text;

		if (!bw_scx_health_key(key) || !bw_scx_health_metric_of(key, &m))
			continue;
		text = m.kind == BW_SCX_HEALTH_TEXT;
		/* A number's string form is an exact integer beyond int64. */
		if (text ? !json_is_string(v) : !json_is_number(v) && !json_is_string(v))
			continue;
		om_name(key, name, sizeof(name));
		om_family(w, name, types[m.kind], "%s", m.help);
		if (text) {
			const char *labels[] = { "value", json_string_value(v), NULL };

			om_sample_double(w, labels, 1);
		} else {
			om_sample_json(w, NULL, v);
		}
	}
}

/* Every kind of family, in output order: a new kind is one more entry. */
static void (*const sources[])(struct om_writer *, const struct openmetrics_input *) = {
	put_health,
	put_watches,
	put_sched_ext,
};

char *openmetrics_render(const struct openmetrics_input *in, enum openmetrics_dialect dialect)
{
	struct om_writer w = { .dialect = dialect, .vm = in->vm };
	char *text = NULL;
	size_t size = 0;

	w.f = open_memstream(&text, &size);
	if (!w.f)
		return NULL;
	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		sources[i](&w, in);
	if (dialect == OPENMETRICS_1_0)
		fputs("# EOF\n", w.f);
	if (fclose(w.f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- names that collide after mangling ------------------------------------- */

struct exported_name {
	char name[OM_NAME_MAX + 40];	/* "p:" pinned full name or "u:" name after the prefix */
	size_t watch;
};

static int compare_names(const void *a, const void *b)
{
	const struct exported_name *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->watch < y->watch ? -1 : x->watch > y->watch;
}

/*
 * Unpinned watches share the object prefix at run time, so their names
 * collide exactly when what follows the prefix does; pinned ones carry
 * their own prefix.
 */
int openmetrics_check_watch_set(const struct bw_watch_set *set, struct bw_error *err)
{
	size_t n = bw_watch_set_count(set), total = 0, k = 0;
	struct exported_name *names;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		const struct bw_watch *w = bw_watch_set_get(set, i);

		total += 2 * watch_family_count(w->agg);
	}
	names = calloc(total ? total : 1, sizeof(*names));
	if (!names)
		return bw_error_set(err, -ENOMEM, "out of memory checking metric names");
	for (size_t i = 0; i < n; i++) {
		const struct bw_watch *w = bw_watch_set_get(set, i);
		char key[OM_NAME_MAX], base[OM_NAME_MAX];

		snprintf(key, sizeof(key), "%s%s%s", w->object ? w->object : "", w->object ? "_" : "",
			 w->label);
		om_name(key, base, sizeof(base));
		for (size_t f = 0; f < watch_family_count(w->agg); f++) {
			const struct watch_family *fam = &watch_families[w->agg][f];

			snprintf(names[k].name, sizeof(names[k].name), "%c:%s%s", w->object ? 'p' : 'u',
				 base, fam->suffix);
			names[k++].watch = i;
			if (fam->type == OM_COUNTER) {
				snprintf(names[k].name, sizeof(names[k].name), "%c:%s%s_total",
					 w->object ? 'p' : 'u', base, fam->suffix);
				names[k++].watch = i;
			}
		}
	}
	qsort(names, k, sizeof(*names), compare_names);
	for (size_t i = 1; i < k && r == 0; i++) {
		char a[BW_ERROR_MSG_MAX], b[BW_ERROR_MSG_MAX];
		const struct bw_watch *x, *y;

		if (strcmp(names[i - 1].name, names[i].name) || names[i - 1].watch == names[i].watch)
			continue;
		x = bw_watch_set_get(set, names[i - 1].watch);
		y = bw_watch_set_get(set, names[i].watch);
		r = bw_error_set(err, -EEXIST,
				 "%s: label \"%s\" and %s: label \"%s\" both export the metric name "
				 "\"%s%s\" (characters outside [A-Za-z0-9_:] become '_')",
				 bw_watch_place(x, a, sizeof(a)), x->label, bw_watch_place(y, b, sizeof(b)),
				 y->label, names[i].name[0] == 'u' ? "<object>_" : "", names[i].name + 2);
	}
	free(names);
	return r;
}
