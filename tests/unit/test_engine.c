/* SPDX-License-Identifier: MIT */
/*
 * The watch engine on a synthetic guest kernel: watches pending until a
 * scheduler attaches, exact decoding of every leaf kind, per-CPU values in
 * vmalloc chunks, the four folds, the decoy never read, Object= pins,
 * scheduler replacement and freed maps, and the JSON views.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "field_path.h"
#include "util_kernel.h"

#define FN_DEMO 0xffffffffc0100000ULL
#define FN_DECOY 0xffffffffc0200000ULL
#define FN_NEW 0xffffffffc0300000ULL
#define SEC 1000000000ULL
#define T0 (10 * SEC)

#define W(m, f, a, l) { .map_suffix = (m), .field = (f), .agg = (a), .label = (l) }
#define WT(m, f, a, l, t) { .map_suffix = (m), .field = (f), .agg = (a), .label = (l), .type = (t) }
#define WTO(m, f, a, l, t, o) { .map_suffix = (m), .field = (f), .agg = (a), .label = (l), \
				.type = (t), .has_offset = true, .offset = (o) }
#define WA(m, f, a, l, x) { .map_suffix = (m), .field = (f), .agg = (a), .label = (l), .across = (x) }
#define WTA(m, f, a, l, t, x) { .map_suffix = (m), .field = (f), .agg = (a), .label = (l), \
				.type = (t), .across = (x) }
#define WPIN(m, f, a, l, o) { .map_suffix = (m), .field = (f), .agg = (a), .label = (l), .object = (o) }

#define SET(...) tk_watch_set((const struct bw_watch[]){ __VA_ARGS__ }, \
			  sizeof((const struct bw_watch[]){ __VA_ARGS__ }) / sizeof(struct bw_watch))

static struct bw_engine *engine(struct test_kernel *tk, struct bw_watch_set *set)
{
	struct bw_engine *e = NULL;
	struct bw_error err = { 0 };

	ck_assert_msg(bw_engine_new(tk->k, set, T0, 1700000000LL * (int64_t)SEC, &e, &err) == 0,
		      "%s", err.msg);
	bw_watch_set_free(set);	/* the engine keeps its own copy */
	return e;
}

static void tick(struct bw_engine *e, uint64_t mono)
{
	struct bw_error err = { 0 };

	ck_assert_msg(bw_engine_tick(e, mono, (int64_t)mono + 1700000000LL * (int64_t)SEC,
				     &err) == 0, "%s", err.msg);
}

static json_t *view(struct bw_engine *e, char which)
{
	struct bw_error err = { 0 };
	json_t *doc = NULL;
	int r;

	switch (which) {
	case 's': r = bw_engine_status_json(e, &doc, &err); break;
	case 'm': r = bw_engine_maps_json(e, &doc, &err); break;
	case 'S': r = bw_engine_sample_json(e, &doc, &err); break;
	default: r = bw_engine_metrics_json(e, &doc, &err); break;
	}
	ck_assert_msg(r == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(doc);
	return doc;
}

static json_t *find_watch(json_t *doc, const char *label)
{
	json_t *w;
	size_t i;

	json_array_foreach(json_object_get(doc, "watches"), i, w) {
		const char *l = json_string_value(json_object_get(w, "label"));

		if (l && !strcmp(l, label))
			return w;
	}
	ck_abort_msg("no watch \"%s\" in the view", label);
	return NULL;
}

/* State and reason of a watch, from status. */
static void watch_state(struct bw_engine *e, const char *label, const char *state,
			const char *reason_part)
{
	json_t *doc = view(e, 's'), *w = find_watch(doc, label);
	const char *s = json_string_value(json_object_get(w, "state"));
	const char *reason = json_string_value(json_object_get(w, "reason"));

	ck_assert_msg(!strcmp(s, state), "watch %s is %s (%s), expected %s", label, s,
		      reason ? reason : "", state);
	if (reason_part)
		ck_assert_msg(reason && strstr(reason, reason_part), "watch %s: reason \"%s\" "
			      "lacks \"%s\"", label, reason ? reason : "(none)", reason_part);
	json_decref(doc);
}

static json_int_t sample_int(struct bw_engine *e, const char *label)
{
	json_t *doc = view(e, 'S'), *w = find_watch(doc, label), *v = json_object_get(w, "value");
	json_int_t r;

	ck_assert_msg(json_is_integer(v), "watch %s: no integer value (%s)", label,
		      json_string_value(json_object_get(w, "error")) ?:
		      json_string_value(json_object_get(w, "reason")) ?: "?");
	r = json_integer_value(v);
	json_decref(doc);
	return r;
}

static json_t *metric(struct bw_engine *e, const char *key, json_t **doc)
{
	*doc = view(e, 'M');
	return json_object_get(json_object_get(*doc, "metrics"), key);
}

static json_int_t metric_int(struct bw_engine *e, const char *key)
{
	json_t *doc, *v = metric(e, key, &doc);
	json_int_t r;

	ck_assert_msg(json_is_integer(v), "metric %s is not an integer", key);
	r = json_integer_value(v);
	json_decref(doc);
	return r;
}

static double metric_real(struct bw_engine *e, const char *key)
{
	json_t *doc, *v = metric(e, key, &doc);
	double r;

	ck_assert_msg(json_is_real(v), "metric %s is not a real", key);
	r = json_real_value(v);
	json_decref(doc);
	return r;
}

static bool metric_absent(struct bw_engine *e, const char *key)
{
	json_t *doc, *v = metric(e, key, &doc);
	bool absent = v == NULL;

	json_decref(doc);
	return absent;
}

static struct test_kernel *boot(enum tk_scx_mode mode)
{
	return tk_new(&(struct tk_opts){ .nr_cpus = 4, .scx = mode });
}

static uint64_t bss(struct test_kernel *tk, const struct tk_object *o, uint64_t off)
{
	return tk_elem(tk, &o->bss, 0) + off;
}

START_TEST(test_pending_then_resolved)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W(".bss", "state.gauge", BW_AGG_SCALAR, "gauge")));
	struct bw_engine_summary sum;
	struct tk_object o;
	json_t *doc;

	bw_engine_summary(e, &sum);
	ck_assert_int_eq(sum.state, BW_ENGINE_STARTING);
	tick(e, T0 + SEC);
	bw_engine_summary(e, &sum);
	ck_assert_int_eq(sum.state, BW_ENGINE_NO_SCHEDULER);
	ck_assert_uint_eq(sum.pending, 1);
	watch_state(e, "gauge", "pending", "no active sched_ext scheduler");
	doc = view(e, 'S');
	ck_assert_ptr_nonnull(json_object_get(find_watch(doc, "gauge"), "reason"));
	ck_assert_ptr_null(json_object_get(find_watch(doc, "gauge"), "value"));
	json_decref(doc);
	ck_assert(metric_absent(e, "bw_demo_gauge"));

	/* Maps appear, but no scheduler yet: still pending. */
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tick(e, T0 + 2 * SEC);
	watch_state(e, "gauge", "pending", "no active sched_ext scheduler");

	tk_put(tk, bss(tk, &o, TK_STATE_GAUGE), (uint32_t)-1, 4);
	tk_attach(tk, &o.ops);
	tick(e, T0 + 3 * SEC);
	bw_engine_summary(e, &sum);
	ck_assert_int_eq(sum.state, BW_ENGINE_SAMPLING);
	ck_assert_str_eq(sum.ops_name, "bw_demo");
	ck_assert_str_eq(sum.object, "bw_demo");
	ck_assert_uint_eq(sum.resolved, 1);
	watch_state(e, "gauge", "resolved", NULL);
	ck_assert_int_eq(sample_int(e, "gauge"), -1);
	ck_assert(metric_real(e, "bw_demo_gauge") == -1.0);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/*
 * The values an ops.init has not written yet never reach a fold: while
 * scx_root is set but the enable state is not "enabled" nothing is sampled,
 * so a gauge set by init folds to exactly its value.
 */
START_TEST(test_no_sample_before_enabled)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W(".bss", "state.gauge", BW_AGG_SCALAR, "gauge")));
	struct bw_engine_summary sum;
	struct tk_object o;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	tk_put(tk, tk->scx_state, 0, 4);		/* SCX_ENABLING: init not run */
	tick(e, T0 + SEC);
	tick(e, T0 + 2 * SEC);
	bw_engine_summary(e, &sum);
	ck_assert_int_eq(sum.state, BW_ENGINE_NO_SCHEDULER);
	watch_state(e, "gauge", "pending", "being enabled");
	ck_assert(metric_absent(e, "bw_demo_gauge"));

	tk_put(tk, bss(tk, &o, TK_STATE_GAUGE), (uint32_t)-5, 4);	/* what init writes */
	tk_put(tk, tk->scx_state, 1, 4);		/* SCX_ENABLED */
	tick(e, T0 + 3 * SEC);
	tick(e, T0 + 4 * SEC);
	bw_engine_summary(e, &sum);
	ck_assert_int_eq(sum.state, BW_ENGINE_SAMPLING);
	ck_assert(metric_real(e, "bw_demo_gauge") == -5.0);

	/* Disabling: sampling stops before ops.exit changes anything. */
	tk_put(tk, tk->scx_state, 2, 4);
	tick(e, T0 + 5 * SEC);
	tk_put(tk, bss(tk, &o, TK_STATE_GAUGE), 0, 4);
	tick(e, T0 + 6 * SEC);
	watch_state(e, "gauge", "pending", "being enabled or disabled");
	ck_assert(metric_real(e, "bw_demo_gauge") == -5.0);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_decode_exact)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		W(".bss", "state.gauge", BW_AGG_SCALAR_COUNTER, "gauge"),
		W(".bss", "state.fixed_neg", BW_AGG_SCALAR_COUNTER, "fixed_neg"),
		W(".bss", "state.neg16", BW_AGG_SCALAR_COUNTER, "neg16"),
		W(".bss", "state.neg8", BW_AGG_SCALAR_COUNTER, "neg8"),
		W(".bss", "state.small", BW_AGG_SCALAR_COUNTER, "small"),
		W(".bss", "state.enabled", BW_AGG_SCALAR_COUNTER, "enabled"),
		W(".bss", "state.mode", BW_AGG_SCALAR_COUNTER, "mode"),
		W(".bss", "state.word", BW_AGG_SCALAR_COUNTER, "word"),
		W(".bss", "state.lo", BW_AGG_SCALAR_COUNTER, "lo"),
		W(".bss", "state.hi", BW_AGG_SCALAR_COUNTER, "hi"),
		W(".bss", "state.bits.ver_major", BW_AGG_SCALAR_COUNTER, "ver_major"),
		W(".bss", "state.bits.ver_minor", BW_AGG_SCALAR_COUNTER, "ver_minor"),
		W(".bss", "state.bits.neg_bits", BW_AGG_SCALAR_COUNTER, "neg_bits"),
		W(".bss", "state.bits.tick_mod", BW_AGG_SCALAR_COUNTER, "tick_mod"),
		W(".bss", "state.bits.armed", BW_AGG_SCALAR_COUNTER, "armed"),
		W(".bss", "state.drift", BW_AGG_SCALAR_COUNTER, "drift"),
		W(".bss", "ident", BW_AGG_SCALAR_COUNTER, "ident"),
		W("bss", "stats.ops.enqueues", BW_AGG_SCALAR_COUNTER, "enqueues")));
	struct tk_object o;
	uint32_t bits = 7u | 42u << 4 | 29u << 10 | 45u << 15 | 1u << 21;	/* neg_bits -3 = 0b11101 */
	json_t *doc, *w, *res;
	char ident[32];

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_put(tk, bss(tk, &o, TK_STATE_GAUGE), (uint32_t)-1, 4);
	tk_put(tk, bss(tk, &o, TK_STATE_FIXED_NEG), (uint32_t)-5, 4);
	tk_put(tk, bss(tk, &o, TK_STATE_NEG16), (uint16_t)-1234, 2);
	tk_put(tk, bss(tk, &o, TK_STATE_NEG8), (uint8_t)-7, 1);
	tk_put(tk, bss(tk, &o, TK_STATE_SMALL), 200, 1);
	tk_put(tk, bss(tk, &o, TK_STATE_ENABLED), 1, 1);
	tk_put(tk, bss(tk, &o, TK_STATE_MODE), 3, 4);
	tk_put(tk, bss(tk, &o, TK_STATE_WORD), 0xb0b0ULL << 32 | 1, 8);
	tk_put(tk, bss(tk, &o, TK_STATE_BITS), bits, 4);
	tk_put(tk, bss(tk, &o, TK_STATE_DRIFT), (uint64_t)INT64_MIN, 8);
	tk_put(tk, bss(tk, &o, TK_BSS_IDENT), 0xb0d3b0d3c0ffee01ULL, 8);
	tk_put(tk, bss(tk, &o, TK_BSS_ENQUEUES), 1000, 8);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);

	ck_assert_int_eq(sample_int(e, "gauge"), -1);
	ck_assert_int_eq(sample_int(e, "fixed_neg"), -5);
	ck_assert_int_eq(sample_int(e, "neg16"), -1234);
	ck_assert_int_eq(sample_int(e, "neg8"), -7);
	ck_assert_int_eq(sample_int(e, "small"), 200);
	ck_assert_int_eq(sample_int(e, "enabled"), 1);
	ck_assert_int_eq(sample_int(e, "mode"), 3);
	ck_assert_int_eq(sample_int(e, "word"), (json_int_t)(0xb0b0ULL << 32 | 1));
	ck_assert_int_eq(sample_int(e, "lo"), 1);
	ck_assert_int_eq(sample_int(e, "hi"), 0xb0b0);
	ck_assert_int_eq(sample_int(e, "ver_major"), 7);
	ck_assert_int_eq(sample_int(e, "ver_minor"), 42);
	ck_assert_int_eq(sample_int(e, "neg_bits"), -3);
	ck_assert_int_eq(sample_int(e, "tick_mod"), 45);
	ck_assert_int_eq(sample_int(e, "armed"), 1);
	ck_assert(sample_int(e, "drift") == INT64_MIN);
	ck_assert_int_eq(sample_int(e, "enqueues"), 1000);
	/* A u64 above INT64_MAX stays exact: a decimal string. */
	snprintf(ident, sizeof(ident), "%" PRIu64, (uint64_t)0xb0d3b0d3c0ffee01ULL);
	doc = view(e, 'S');
	ck_assert_str_eq(json_string_value(json_object_get(find_watch(doc, "ident"), "value")),
			 ident);
	json_decref(doc);
	doc = view(e, 'M');
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "metrics"),
							   "bw_demo_ident")), ident);
	json_decref(doc);
	ck_assert_int_eq(metric_int(e, "bw_demo_neg_bits"), -3);
	ck_assert(metric_int(e, "bw_demo_drift") == INT64_MIN);

	/* The resolution of a signed bitfield, as status shows it. */
	doc = view(e, 's');
	w = find_watch(doc, "neg_bits");
	res = json_object_get(w, "resolution");
	ck_assert_str_eq(json_string_value(json_object_get(res, "kind")), "bitfield");
	ck_assert(json_is_true(json_object_get(res, "signed")));
	ck_assert_int_eq(json_integer_value(json_object_get(res, "offset")), TK_STATE_BITS + 1);
	ck_assert_int_eq(json_integer_value(json_object_get(res, "width")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res, "bitfield"),
							    "bit_offset")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(res, "bitfield"),
							    "bit_size")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(res, "map_id")), o.bss.id);
	ck_assert_str_eq(json_string_value(json_object_get(res, "map_name")), "bw_demo.bss");
	ck_assert_str_eq(json_string_value(json_object_get(res, "map_type")), "array");
	ck_assert(json_is_true(json_object_get(res, "aligned")));
	ck_assert_ptr_null(json_object_get(w, "reason"));
	res = json_object_get(find_watch(doc, "enabled"), "resolution");
	ck_assert_str_eq(json_string_value(json_object_get(res, "kind")), "bool");
	ck_assert(json_is_null(json_object_get(res, "bitfield")));
	json_decref(doc);

	/* A bool holding 2 is torn or corrupt: that read fails, nothing is folded. */
	tk_put(tk, bss(tk, &o, TK_STATE_ENABLED), 2, 1);
	tick(e, T0 + 2 * SEC);
	doc = view(e, 'S');
	w = find_watch(doc, "enabled");
	ck_assert_ptr_null(json_object_get(w, "value"));
	ck_assert_msg(strstr(json_string_value(json_object_get(w, "error")), "bool") != NULL,
		      "%s", json_string_value(json_object_get(w, "error")));
	json_decref(doc);
	ck_assert_int_eq(metric_int(e, "bw_demo_enabled"), 1);	/* the last good read */
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_percpu_vmalloc_chunks)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		W("cpu_stats", "runs", BW_AGG_PERCPU_COUNTER, "runs"),
		W("cpu_stats", "gauge", BW_AGG_PERCPU, "pgauge")));
	struct tk_object o;
	json_t *doc, *vals;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	for (uint32_t c = 0; c < 4; c++) {
		uint64_t va = tk_percpu_elem(tk, &o.cpu_stats, 0, c);

		/* Every CPU's copy lives in vmalloc space, not the direct map. */
		ck_assert_uint_ge(va, TK_VMALLOC_BASE);
		ck_assert_uint_lt(va, TK_VMALLOC_BASE + (1ULL << 40));
		tk_put(tk, va + 0, 100 + c, 8);
		tk_put(tk, va + 8, (uint64_t)((int64_t)c - 2), 8);
	}
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	doc = view(e, 'S');
	vals = json_object_get(find_watch(doc, "runs"), "values");
	ck_assert_uint_eq(json_object_size(vals), 4);
	for (uint32_t c = 0; c < 4; c++) {
		char k[4];

		snprintf(k, sizeof(k), "%u", c);
		ck_assert_int_eq(json_integer_value(json_object_get(vals, k)), 100 + c);
	}
	vals = json_object_get(find_watch(doc, "pgauge"), "values");
	ck_assert_int_eq(json_integer_value(json_object_get(vals, "0")), -2);
	ck_assert_int_eq(json_integer_value(json_object_get(vals, "3")), 1);
	json_decref(doc);
	ck_assert_int_eq(metric_int(e, "bw_demo_runs"), 406);
	ck_assert(metric_real(e, "bw_demo_pgauge_avg") == -0.5);
	ck_assert_int_eq(metric_int(e, "bw_demo_pgauge_max"), 1);

	/* The gauge moves: avg over every (tick, CPU), max of any single reading. */
	for (uint32_t c = 0; c < 4; c++)
		tk_put(tk, tk_percpu_elem(tk, &o.cpu_stats, 0, c) + 8, 10, 8);
	tick(e, T0 + 2 * SEC);
	ck_assert(metric_real(e, "bw_demo_pgauge_avg") == (-2 - 1 + 0 + 1 + 40) / 8.0);
	ck_assert_int_eq(metric_int(e, "bw_demo_pgauge_max"), 10);
	bw_engine_free(e);

	/*
	 * A second scheduler whose CPU 2 chunk page is not mapped: the watch is
	 * an error naming CPU 2, and there is no metric from the other three.
	 */
	{
		struct tk_object n;

		e = engine(tk, SET(W("cpu_stats", "runs", BW_AGG_PERCPU_COUNTER, "runs")));
		tk_load_demo(tk, "bw_demo", "bw_demo", FN_NEW, &n);
		for (uint32_t c = 0; c < 4; c++)
			tk_put(tk, tk_percpu_elem(tk, &n.cpu_stats, 0, c), 1000 + c, 8);
		tk_unmap(tk, tk_percpu_elem(tk, &n.cpu_stats, 0, 2));
		tk_detach(tk);
		tk_attach(tk, &n.ops);
		tick(e, T0 + 3 * SEC);
		ck_assert(metric_absent(e, "bw_demo_runs"));
		doc = view(e, 's');
		{
			json_t *w = find_watch(doc, "runs");
			const char *reason = json_string_value(json_object_get(w, "reason"));

			ck_assert_str_eq(json_string_value(json_object_get(w, "state")), "error");
			ck_assert_msg(reason && strstr(reason, "1 of 4 CPUs") && strstr(reason, "CPU 2"),
				      "%s", reason ? reason : "(null)");
		}
		json_decref(doc);
		bw_engine_free(e);
	}
	tk_free(tk);
}
END_TEST

START_TEST(test_folds)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		W(".bss", "stats.ops.enqueues", BW_AGG_SCALAR_COUNTER, "enq"),
		W(".bss", "state.gauge", BW_AGG_SCALAR, "gauge"),
		W("cpu_stats", "ticks", BW_AGG_PERCPU_COUNTER, "ticks")));
	struct tk_object o;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	tk_put(tk, bss(tk, &o, TK_BSS_ENQUEUES), 5, 8);
	tk_put(tk, bss(tk, &o, TK_STATE_GAUGE), (uint32_t)-1, 4);
	for (uint32_t c = 0; c < 4; c++)
		tk_put(tk, tk_percpu_elem(tk, &o.cpu_stats, 0, c) + 16, 1, 8);
	tick(e, T0 + SEC);
	tk_put(tk, bss(tk, &o, TK_BSS_ENQUEUES), 9, 8);
	tk_put(tk, bss(tk, &o, TK_STATE_GAUGE), 4, 4);
	for (uint32_t c = 0; c < 4; c++)
		tk_put(tk, tk_percpu_elem(tk, &o.cpu_stats, 0, c) + 16, 10 * (c + 1), 8);
	tick(e, T0 + 2 * SEC);
	ck_assert_int_eq(metric_int(e, "bw_demo_enq"), 9);
	ck_assert(metric_real(e, "bw_demo_gauge") == 1.5);
	ck_assert_int_eq(metric_int(e, "bw_demo_ticks"), 100);
	/* A new window: nothing sampled yet, so no key at all. */
	bw_engine_reset(e, T0 + 3 * SEC, 0);
	ck_assert(metric_absent(e, "bw_demo_enq"));
	tick(e, T0 + 4 * SEC);
	ck_assert_int_eq(metric_int(e, "bw_demo_enq"), 9);
	ck_assert(metric_real(e, "bw_demo_gauge") == 4.0);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_resolution_errors)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		W("s", "x", BW_AGG_SCALAR, "ambiguous"),
		W("nosuchmap", "x", BW_AGG_SCALAR, "nomap"),
		W(".bss", "state.nope", BW_AGG_SCALAR, "nomember"),
		W(".bss", "state", BW_AGG_SCALAR, "structleaf"),
		W("slots", "id", BW_AGG_PERCPU, "percpu_on_array"),
		W("cpu_stats", "runs", BW_AGG_SCALAR, "scalar_on_percpu"),
		W("bw_demo_ops", "x", BW_AGG_SCALAR, "struct_ops"),
		W("slots", "[2].hits", BW_AGG_SCALAR_COUNTER, "slot2"),
		W("slots", "[4].hits", BW_AGG_SCALAR, "slot4"),
		W("slots", "[x].hits", BW_AGG_SCALAR, "slotx"),
		W("slots", "[1]", BW_AGG_SCALAR, "slot1"),
		W("acc", "[3].switches", BW_AGG_SCALAR_COUNTER, "acc3"),
		W("cpu_ctx_stor_ac", "[5].cpu", BW_AGG_SCALAR_COUNTER, "acc5")));
	struct tk_object o;
	struct bw_engine_summary sum;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_put(tk, tk_elem(tk, &o.slots, 2) + 8, 222, 8);
	tk_put(tk, tk_elem(tk, &o.ctx_acc, 3), 33, 8);
	tk_put(tk, tk_elem(tk, &o.ctx_acc, 5) + 12, (uint32_t)-1, 4);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	/* Every map ending in "s", named in full. */
	watch_state(e, "ambiguous", "error", "matches 4 maps");
	watch_state(e, "ambiguous", "error", "\"cpu_stats\"");
	watch_state(e, "ambiguous", "error", "\"slots\"");
	watch_state(e, "ambiguous", "error", "\"bw_demo.bss\"");
	watch_state(e, "ambiguous", "error", "\"bw_demo_ops\"");
	watch_state(e, "nomap", "pending", "no map ending in \"nosuchmap\" in object \"bw_demo\"");
	watch_state(e, "nomember", "error", "nope");
	watch_state(e, "structleaf", "error", "state");
	watch_state(e, "percpu_on_array", "error", "needs a per-CPU map");
	watch_state(e, "scalar_on_percpu", "error", "needs a map that is not per-CPU");
	watch_state(e, "struct_ops", "error", "struct_ops map");
	watch_state(e, "slot2", "resolved", NULL);
	watch_state(e, "slot4", "error", "has 4 entries");
	watch_state(e, "slotx", "error", "an element is");
	watch_state(e, "slot1", "error", "name a member");
	/* "acc" matches only through the full name "cpu_ctx_stor_acc". */
	watch_state(e, "acc3", "resolved", NULL);
	watch_state(e, "acc5", "resolved", NULL);
	ck_assert_int_eq(sample_int(e, "slot2"), 222);
	ck_assert_int_eq(sample_int(e, "acc3"), 33);
	ck_assert_int_eq(sample_int(e, "acc5"), -1);
	bw_engine_summary(e, &sum);
	ck_assert_uint_eq(sum.resolved, 3);
	ck_assert_uint_eq(sum.pending, 1);
	ck_assert_uint_eq(sum.errors, 9);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/* The decoy has the same object name, map names and ops name, and other values. */
START_TEST(test_decoy_never_read)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		W(".bss", "state.gauge", BW_AGG_SCALAR_COUNTER, "gauge"),
		W("cpu_stats", "runs", BW_AGG_PERCPU_COUNTER, "runs"),
		W("acc", "[3].switches", BW_AGG_SCALAR_COUNTER, "sw3"),
		W(".data", "data_magic", BW_AGG_SCALAR_COUNTER, "magic")));
	struct tk_object decoy, demo;
	json_t *doc, *vals, *res, *m;
	size_t i;
	char btf[32];

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DECOY, &decoy);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &demo);
	tk_put(tk, bss(tk, &decoy, TK_STATE_GAUGE), 0xdec0, 4);
	tk_put(tk, bss(tk, &demo, TK_STATE_GAUGE), (uint32_t)-5, 4);
	tk_put(tk, tk_elem(tk, &decoy.data, 0) + TK_DATA_MAGIC, 0xdec0, 8);
	tk_put(tk, tk_elem(tk, &demo.data, 0) + TK_DATA_MAGIC, 0xb0f0, 8);
	tk_put(tk, tk_elem(tk, &decoy.ctx_acc, 3), 0xdec0000003ULL, 8);
	tk_put(tk, tk_elem(tk, &demo.ctx_acc, 3), 33, 8);
	for (uint32_t c = 0; c < 4; c++) {
		tk_put(tk, tk_percpu_elem(tk, &decoy.cpu_stats, 0, c), 0xdec0000000ULL + c, 8);
		tk_put(tk, tk_percpu_elem(tk, &demo.cpu_stats, 0, c), c + 1, 8);
	}
	tk_attach(tk, &demo.ops);
	for (uint64_t t = 1; t <= 3; t++)
		tick(e, T0 + t * SEC);
	ck_assert_int_eq(sample_int(e, "gauge"), -5);
	ck_assert_int_eq(sample_int(e, "sw3"), 33);
	ck_assert_int_eq(sample_int(e, "magic"), 0xb0f0);
	ck_assert_int_eq(metric_int(e, "bw_demo_runs"), 1 + 2 + 3 + 4);
	doc = view(e, 'S');
	vals = json_object_get(find_watch(doc, "runs"), "values");
	ck_assert_int_eq(json_integer_value(json_object_get(vals, "2")), 3);
	json_decref(doc);
	/* Every resolution points into the demo object. */
	snprintf(btf, sizeof(btf), "0x%" PRIx64, (uint64_t)demo.btf);
	doc = view(e, 's');
	json_array_foreach(json_object_get(doc, "watches"), i, m) {
		res = json_object_get(m, "resolution");
		ck_assert_str_eq(json_string_value(json_object_get(res, "object_btf")), btf);
	}
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "scheduler"),
							   "object_btf")), btf);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "scheduler"),
							    "struct_ops_map_id")), demo.ops.id);
	json_decref(doc);
	/* The maps view marks only the demo's maps active. */
	doc = view(e, 'm');
	json_array_foreach(json_object_get(doc, "maps"), i, m) {
		const char *ob = json_string_value(json_object_get(m, "object_btf"));

		ck_assert(json_is_true(json_object_get(m, "active")) == (ob && !strcmp(ob, btf)));
	}
	json_decref(doc);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/*
 * Maps declared with bare key_size/value_size have no BTF: they join the
 * active object through its programs' used_maps, never the decoy's maps.
 */
START_TEST(test_maps_by_programs)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		WT("rq_counts", "[0]", BW_AGG_PERCPU_COUNTER, "local", BW_TYPE_U64),
		WTO("rq_counts", "[1]", BW_AGG_PERCPU_COUNTER, "global_lo", BW_TYPE_U32, 0),
		WTO("rq_counts", "[1]", BW_AGG_PERCPU_COUNTER, "global_hi", BW_TYPE_U32, 4),
		W("rq_counts", "[0]", BW_AGG_PERCPU_COUNTER, "untyped"),
		WT("rq_counts", "[0].x", BW_AGG_PERCPU_COUNTER, "member", BW_TYPE_U64),
		WTO("rq_counts", "[0]", BW_AGG_PERCPU_COUNTER, "beyond", BW_TYPE_U64, 4),
		WT("orphan", "[0]", BW_AGG_SCALAR, "orphan", BW_TYPE_U64),
		WT("decoy_only", "[0]", BW_AGG_SCALAR, "decoy_only", BW_TYPE_U64),
		WT("totals", "[2]", BW_AGG_SCALAR_COUNTER, "count2", BW_TYPE_U64),
		W("totals", "[3]", BW_AGG_SCALAR_COUNTER, "count3"),
		WT("totals", "[1]", BW_AGG_SCALAR, "count_s64", BW_TYPE_S64),
		WT(".bss", "state.gauge", BW_AGG_SCALAR, "gauge_s32", BW_TYPE_S32),
		WT(".bss", "state.gauge", BW_AGG_SCALAR, "gauge_u64", BW_TYPE_U64),
		WTO(".bss", "state.gauge", BW_AGG_SCALAR, "gauge_off", BW_TYPE_S32, 4)));
	struct tk_object demo, decoy;
	struct tk_demo_btf d;
	struct tk_map stats, decoy_stats, orphan, counts, decoy_only;
	const struct tk_map_spec nobtf = { .name = "rq_counts", .type = TK_MAP_PERCPU_ARRAY,
					   .key_size = 4, .value_size = 8, .max_entries = 2 };
	json_t *doc, *m, *sched;
	size_t i;
	int u64;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DECOY, &decoy);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &demo);
	stats = tk_add_map(tk, &nobtf);
	decoy_stats = tk_add_map(tk, &nobtf);
	orphan = tk_add_map(tk, &(struct tk_map_spec){ .name = "orphan", .type = TK_MAP_ARRAY,
			    .key_size = 4, .value_size = 8, .max_entries = 1 });
	decoy_only = tk_add_map(tk, &(struct tk_map_spec){ .name = "decoy_only", .type = TK_MAP_ARRAY,
		   .key_size = 4, .value_size = 8, .max_entries = 1 });
	/* An ARRAY of bare u64 with BTF (scx_flatcg's stats). */
	tk_demo_btf_new(&d);
	u64 = btf__find_by_name_kind(d.btf, "u64", BTF_KIND_TYPEDEF);
	ck_assert_int_gt(u64, 0);
	btf__free(d.btf);
	counts = tk_add_map(tk, &(struct tk_map_spec){ .name = "totals", .type = TK_MAP_ARRAY,
			    .key_size = 4, .value_size = 8, .max_entries = 4, .btf = demo.btf,
			    .btf_value_type_id = (uint32_t)u64 });
	for (uint32_t c = 0; c < 4; c++) {
		tk_put(tk, tk_percpu_elem(tk, &stats, 0, c), 10 + c, 8);
		tk_put(tk, tk_percpu_elem(tk, &stats, 1, c), ((uint64_t)(c + 1) << 32) | (100 + c), 8);
		tk_put(tk, tk_percpu_elem(tk, &decoy_stats, 0, c), 0xdec0, 8);
	}
	tk_put(tk, tk_elem(tk, &counts, 1), (uint64_t)-7, 8);
	tk_put(tk, tk_elem(tk, &counts, 2), 5000000, 8);
	tk_put(tk, tk_elem(tk, &counts, 3), 77, 8);
	tk_put(tk, bss(tk, &demo, TK_STATE_GAUGE), (uint32_t)-5, 4);
	/* enqueue uses .bss and stats; dispatch stats again and the decoy's .bss. */
	tk_add_prog(tk, &demo.ops, 1, (const uint64_t[]){ demo.bss.addr, stats.addr }, 2, NULL);
	tk_add_prog(tk, &demo.ops, 3, (const uint64_t[]){ stats.addr, decoy.bss.addr }, 2, NULL);
	/* The decoy's programs use its own stats and decoy_only. */
	tk_add_prog(tk, &decoy.ops, 1, (const uint64_t[]){ decoy_stats.addr, decoy_only.addr },
		    2, NULL);
	tk_add_prog(tk, &decoy.ops, 3, (const uint64_t[]){ decoy_stats.addr }, 1, NULL);
	/* A program of no struct_ops map. */
	tk_add_prog(tk, NULL, 0, (const uint64_t[]){ orphan.addr }, 1, NULL);
	tk_attach(tk, &demo.ops);
	tick(e, T0 + SEC);
	tick(e, T0 + 2 * SEC);
	watch_state(e, "local", "resolved", NULL);
	ck_assert_int_eq(metric_int(e, "bw_demo_local"), 10 + 11 + 12 + 13);
	ck_assert_int_eq(metric_int(e, "bw_demo_global_lo"), 100 + 101 + 102 + 103);
	ck_assert_int_eq(metric_int(e, "bw_demo_global_hi"), 1 + 2 + 3 + 4);
	watch_state(e, "untyped", "error", "has no BTF");
	watch_state(e, "untyped", "error", "Type=");
	watch_state(e, "member", "error", "member path");
	watch_state(e, "beyond", "error", "value");
	/* A map no program of the scheduler uses, and one only the decoy uses. */
	watch_state(e, "orphan", "pending", "no map ending in \"orphan\"");
	watch_state(e, "decoy_only", "pending", "no map ending in \"decoy_only\"");
	ck_assert_int_eq(metric_int(e, "bw_demo_count2"), 5000000);
	ck_assert_int_eq(metric_int(e, "bw_demo_count3"), 77);
	watch_state(e, "count_s64", "error", "disagrees");
	watch_state(e, "gauge_s32", "resolved", NULL);
	ck_assert_int_eq(sample_int(e, "gauge_s32"), -5);
	watch_state(e, "gauge_u64", "error", "Type=u64 disagrees");
	watch_state(e, "gauge_off", "error", "Offset=4 disagrees");
	/* The maps view: stats joined by programs, the decoy's stats in no object. */
	doc = view(e, 'm');
	json_array_foreach(json_object_get(doc, "maps"), i, m) {
		json_int_t id = json_integer_value(json_object_get(m, "id"));
		const char *by = json_string_value(json_object_get(m, "joined_by"));

		if (id == stats.id) {
			ck_assert(json_is_true(json_object_get(m, "active")));
			ck_assert_str_eq(by, "programs");
		} else if (id == decoy_stats.id || id == orphan.id) {
			ck_assert(json_is_false(json_object_get(m, "active")));
			ck_assert(json_is_null(json_object_get(m, "object")));
		} else if (id == decoy.bss.id) {
			ck_assert(json_is_false(json_object_get(m, "active")));
			ck_assert_str_eq(by, "btf");
		}
	}
	sched = json_object_get(doc, "scheduler");
	ck_assert_int_eq(json_integer_value(json_object_get(sched, "programs")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(sched, "maps_by_programs")), 1);
	json_decref(doc);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/* A program that does not read as one, and garbage in used_maps, tie nothing. */
START_TEST(test_program_garbage)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		WT("rq_counts", "[0]", BW_AGG_PERCPU_COUNTER, "local", BW_TYPE_U64)));
	struct tk_object demo;
	struct tk_map stats;
	uint64_t aux;
	uint32_t id;
	json_t *doc, *sched;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &demo);
	stats = tk_add_map(tk, &(struct tk_map_spec){ .name = "rq_counts",
			   .type = TK_MAP_PERCPU_ARRAY, .key_size = 4, .value_size = 8,
			   .max_entries = 2 });
	id = tk_add_prog(tk, &demo.ops, 1, (const uint64_t[]){ stats.addr }, 1, &aux);
	/* A used_map_cnt beyond any verifier's limit. */
	tk_put(tk, aux + tk->lay.aux_used_map_cnt, 0x7fffffff, 4);
	tk_attach(tk, &demo.ops);
	tick(e, T0 + SEC);
	watch_state(e, "local", "pending", "no map ending in \"rq_counts\"");
	doc = view(e, 's');
	sched = json_object_get(doc, "scheduler");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(sched,
				     "programs_problem")), "live program"));
	json_decref(doc);
	/* An aux whose id is not the program's: not that program. */
	tk_put(tk, aux + tk->lay.aux_used_map_cnt, 1, 4);
	tk_put(tk, aux + tk->lay.aux_id, id + 1, 4);
	tick(e, T0 + 3 * SEC);
	watch_state(e, "local", "pending", "no map ending in \"rq_counts\"");
	/* used_maps pointing outside guest RAM. */
	tk_put(tk, aux + tk->lay.aux_id, id, 4);
	tk_put(tk, aux + tk->lay.aux_used_maps, 0xffffc9ff00000000ULL, 8);
	tick(e, T0 + 5 * SEC);
	watch_state(e, "local", "pending", "no map ending in \"rq_counts\"");
	/* Repaired: the map joins. */
	tk_put(tk, aux + tk->lay.aux_used_maps, tk_kmalloc(tk, 8), 8);
	tk_put(tk, tk_get(tk, aux + tk->lay.aux_used_maps, 8), stats.addr, 8);
	tick(e, T0 + 7 * SEC);
	watch_state(e, "local", "resolved", NULL);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

static const char *sample_text(struct bw_engine *e, const char *label, char *buf, size_t len)
{
	json_t *doc = view(e, 'S'), *w = find_watch(doc, label), *v = json_object_get(w, "value");

	ck_assert_msg(json_is_string(v), "watch %s: no text value (%s)", label,
		      json_string_value(json_object_get(w, "error")) ?:
		      json_string_value(json_object_get(w, "reason")) ?: "?");
	snprintf(buf, len, "%s", json_string_value(v));
	json_decref(doc);
	return buf;
}

static const char *sample_error(struct bw_engine *e, const char *label, char *buf, size_t len)
{
	json_t *doc = view(e, 'S'), *w = find_watch(doc, label);
	const char *m = json_string_value(json_object_get(w, "error"));

	snprintf(buf, len, "%s", m ? m : "");
	json_decref(doc);
	return buf;
}

/* "[*]" over an ARRAY of structs, an ARRAY of bare u64 and a PERCPU_ARRAY without BTF. */
START_TEST(test_all_elements)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		WA("slots", "[*].hits", BW_AGG_SCALAR_COUNTER, "hits_sum", BW_ACROSS_SUM),
		WA("slots", "[*].delta", BW_AGG_SCALAR_COUNTER, "delta_min", BW_ACROSS_MIN),
		WA("slots", "[*].delta", BW_AGG_SCALAR_COUNTER, "delta_max", BW_ACROSS_MAX),
		WA("slots", "[*].hits", BW_AGG_SCALAR_COUNTER, "slot_count", BW_ACROSS_COUNT),
		WA("slots", "[*].delta", BW_AGG_SCALAR_COUNTER, "delta_avg", BW_ACROSS_AVG),
		WA("slots", "[*].delta", BW_AGG_SCALAR, "delta_avg_mean", BW_ACROSS_AVG),
		WA("totals", "[*]", BW_AGG_SCALAR_COUNTER, "totals", BW_ACROSS_SUM),
		WTA("rq_counts", "[*]", BW_AGG_SCALAR_COUNTER, "rq_sum", BW_TYPE_U64, BW_ACROSS_SUM),
		WTA("rq_counts", "[*]", BW_AGG_SCALAR_COUNTER, "rq_n", BW_TYPE_U64, BW_ACROSS_COUNT),
		WA("cpu_stats", "[*].gauge", BW_AGG_SCALAR, "gauge_max", BW_ACROSS_MAX)));
	struct tk_object o;
	struct tk_demo_btf d;
	struct tk_map rq, totals;
	int u64;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_demo_btf_new(&d);
	u64 = btf__find_by_name_kind(d.btf, "u64", BTF_KIND_TYPEDEF);
	btf__free(d.btf);
	totals = tk_add_map(tk, &(struct tk_map_spec){ .name = "totals", .type = TK_MAP_ARRAY,
			    .key_size = 4, .value_size = 8, .max_entries = 3, .btf = o.btf,
			    .btf_value_type_id = (uint32_t)u64 });
	rq = tk_add_map(tk, &(struct tk_map_spec){ .name = "rq_counts",
			.type = TK_MAP_PERCPU_ARRAY, .key_size = 4, .value_size = 8,
			.max_entries = 2 });
	tk_add_prog(tk, &o.ops, 1, (const uint64_t[]){ rq.addr }, 1, NULL);
	for (uint32_t i = 0; i < TK_NR_SLOTS; i++) {
		tk_put(tk, tk_elem(tk, &o.slots, i) + 8, 1000 * (i + 1), 8);
		tk_put(tk, tk_elem(tk, &o.slots, i) + 16, (uint32_t)(int32_t)(3 - 2 * (int)i), 4);
	}
	/* deltas 3, 1, -1, -3: avg 0; sum of hits 10000 */
	tk_put(tk, tk_elem(tk, &totals, 0), UINT64_MAX, 8);
	tk_put(tk, tk_elem(tk, &totals, 1), 2, 8);
	tk_put(tk, tk_elem(tk, &totals, 2), 3, 8);
	for (uint32_t c = 0; c < 4; c++) {
		tk_put(tk, tk_percpu_elem(tk, &rq, 0, c), c + 1, 8);
		tk_put(tk, tk_percpu_elem(tk, &rq, 1, c), 10 * (c + 1), 8);
		tk_put(tk, tk_percpu_elem(tk, &o.cpu_stats, 0, c) + 8, (uint64_t)(int64_t)((int)c * 7 - 9),
		       8);
	}
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	ck_assert_int_eq(metric_int(e, "bw_demo_hits_sum"), 10000);
	ck_assert_int_eq(metric_int(e, "bw_demo_delta_min"), -3);
	ck_assert_int_eq(metric_int(e, "bw_demo_delta_max"), 3);
	ck_assert_int_eq(metric_int(e, "bw_demo_slot_count"), TK_NR_SLOTS);
	ck_assert(metric_real(e, "bw_demo_delta_avg") == 0.0);
	/* A u64 sum beyond 64 bits is no reading, never a wrapped number. */
	ck_assert(metric_absent(e, "bw_demo_totals"));
	ck_assert_int_eq(metric_int(e, "bw_demo_rq_sum"), 1 + 2 + 3 + 4 + 10 + 20 + 30 + 40);
	ck_assert_int_eq(metric_int(e, "bw_demo_rq_n"), 8);
	watch_state(e, "gauge_max", "resolved", NULL);
	ck_assert_msg(metric_real(e, "bw_demo_gauge_max") == 12.0, "%g", metric_real(e, "bw_demo_gauge_max"));
	tk_put(tk, tk_elem(tk, &totals, 0), 1, 8);
	tk_put(tk, tk_elem(tk, &o.slots, 0) + 16, 11, 4);	/* deltas 11, 1, -1, -3: avg 2 */
	tick(e, T0 + 2 * SEC);
	ck_assert_int_eq(metric_int(e, "bw_demo_totals"), 6);
	ck_assert(metric_real(e, "bw_demo_delta_avg") == 2.0);
	ck_assert(metric_real(e, "bw_demo_delta_avg_mean") == 1.0);
	ck_assert_int_eq(metric_int(e, "bw_demo_delta_max"), 11);
	ck_assert_int_eq(sample_int(e, "slot_count"), TK_NR_SLOTS);
	/* One unreadable copy fails the whole reading: no partial sums. */
	tk_unmap(tk, tk_percpu_elem(tk, &rq, 1, 2));
	tick(e, T0 + 3 * SEC);
	ck_assert_int_eq(metric_int(e, "bw_demo_rq_sum"), 110);	/* the last reading stays */
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/* HASH, PERCPU_HASH and LRU_HASH: every live entry, one entry by key, entries coming and going. */
START_TEST(test_hash_maps)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		WA("tasks", "[*].hits", BW_AGG_SCALAR_COUNTER, "hits_sum", BW_ACROSS_SUM),
		WA("tasks", "[*].hits", BW_AGG_SCALAR_COUNTER, "live", BW_ACROSS_COUNT),
		WA("tasks", "[*].delta", BW_AGG_SCALAR_COUNTER, "delta_min", BW_ACROSS_MIN),
		W("tasks", "[7].hits", BW_AGG_SCALAR_COUNTER, "hits7"),
		W("tasks", "[0x3e8].delta", BW_AGG_SCALAR_COUNTER, "d1000"),
		W("tasks", "[9].hits", BW_AGG_SCALAR_COUNTER, "hits9"),
		W("tasks", "hits", BW_AGG_SCALAR_COUNTER, "nokey"),
		W("tasks", "[4294967296].hits", BW_AGG_SCALAR_COUNTER, "bigkey"),
		WA("cgrp", "[*]", BW_AGG_SCALAR_COUNTER, "cg_sum", BW_ACROSS_SUM),
		WA("cgrp", "[*]", BW_AGG_SCALAR_COUNTER, "cg_n", BW_ACROSS_COUNT),
		W("cgrp", "[5]", BW_AGG_PERCPU_COUNTER, "cg5"),
		W("cgrp", "[5]", BW_AGG_SCALAR_COUNTER, "cg5_scalar"),
		WA("lru", "[*].hits", BW_AGG_SCALAR_COUNTER, "lru_max", BW_ACROSS_MAX),
		WA("lru", "[*].hits", BW_AGG_SCALAR_COUNTER, "lru_avg", BW_ACROSS_AVG)));
	struct tk_object o;
	struct tk_demo_btf d;
	struct tk_hash tasks, cgrp, lru;
	uint64_t e7, e1000, e5;
	int u64;
	char buf[BW_ERROR_MSG_MAX];

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_demo_btf_new(&d);
	u64 = btf__find_by_name_kind(d.btf, "u64", BTF_KIND_TYPEDEF);
	btf__free(d.btf);
	/* tasks: kmalloc'd buckets and elements; cgrp: vmalloc'd, per-CPU values. */
	tasks = tk_add_hash(tk, &(struct tk_map_spec){ .name = "tasks", .type = TK_MAP_HASH,
			    .key_size = 4, .value_size = 24, .max_entries = 8, .btf = o.btf,
			    .btf_value_type_id = (uint32_t)d.slot });
	cgrp = tk_add_hash(tk, &(struct tk_map_spec){ .name = "cgrp", .type = TK_MAP_PERCPU_HASH,
			   .key_size = 8, .value_size = 8, .max_entries = 16, .btf = o.btf,
			   .btf_value_type_id = (uint32_t)u64, .vmalloc = true,
			   .flags = 1 /* BPF_F_NO_PREALLOC: every entry read alone */ });
	lru = tk_add_hash(tk, &(struct tk_map_spec){ .name = "lru", .type = TK_MAP_LRU_HASH,
			  .key_size = 2, .value_size = 24, .max_entries = 4, .btf = o.btf,
			  .btf_value_type_id = (uint32_t)d.slot });
	e7 = tk_hash_insert(tk, &tasks, 7);
	e1000 = tk_hash_insert(tk, &tasks, 1000);
	tk_put(tk, tk_hash_value(tk, &tasks, tk_hash_insert(tk, &tasks, 15), 0) + 8, 5, 8);
	tk_put(tk, tk_hash_value(tk, &tasks, e7, 0) + 8, 70, 8);
	tk_put(tk, tk_hash_value(tk, &tasks, e1000, 0) + 8, 1000, 8);
	tk_put(tk, tk_hash_value(tk, &tasks, e1000, 0) + 16, (uint32_t)-12, 4);
	e5 = tk_hash_insert(tk, &cgrp, 5);
	tk_hash_insert(tk, &cgrp, 21);
	for (uint32_t c = 0; c < 4; c++)
		tk_put(tk, tk_hash_value(tk, &cgrp, e5, c), 100 + c, 8);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	ck_assert_int_eq(metric_int(e, "bw_demo_hits_sum"), 70 + 1000 + 5);
	ck_assert_int_eq(metric_int(e, "bw_demo_live"), 3);	/* 7 and 15 share a bucket */
	ck_assert_int_eq(metric_int(e, "bw_demo_delta_min"), -12);
	ck_assert_int_eq(metric_int(e, "bw_demo_hits7"), 70);
	ck_assert_int_eq(metric_int(e, "bw_demo_d1000"), -12);
	/* An absent key: no reading, never a 0. */
	ck_assert(metric_absent(e, "bw_demo_hits9"));
	ck_assert_ptr_nonnull(strstr(sample_error(e, "hits9", buf, sizeof(buf)), "not in the map"));
	watch_state(e, "nokey", "error", "name an entry by its key");
	watch_state(e, "bigkey", "error", "does not fit the 4-byte keys");
	ck_assert_int_eq(metric_int(e, "bw_demo_cg_sum"), 100 + 101 + 102 + 103);
	ck_assert_int_eq(metric_int(e, "bw_demo_cg_n"), 8);	/* 2 entries x 4 CPUs */
	ck_assert_int_eq(metric_int(e, "bw_demo_cg5"), 406);
	watch_state(e, "cg5_scalar", "error", "needs a map that is not per-CPU");
	/* An empty table: count 0 and sum 0 are readings, max and avg are not. */
	watch_state(e, "lru_max", "resolved", NULL);
	ck_assert(metric_absent(e, "bw_demo_lru_max"));
	ck_assert(metric_absent(e, "bw_demo_lru_avg"));
	/* Entries come and go. */
	tk_hash_delete(tk, &tasks, 7);
	tk_hash_insert(tk, &tasks, 9);
	tk_put(tk, tk_hash_value(tk, &lru, tk_hash_insert(tk, &lru, 3), 0) + 8, 33, 8);
	tk_put(tk, tk_hash_value(tk, &lru, tk_hash_insert(tk, &lru, 4), 0) + 8, 44, 8);
	tick(e, T0 + 2 * SEC);
	ck_assert_int_eq(metric_int(e, "bw_demo_live"), 3);
	ck_assert_int_eq(metric_int(e, "bw_demo_hits_sum"), 1000 + 5);
	ck_assert_int_eq(metric_int(e, "bw_demo_hits7"), 70);	/* the last reading it had */
	ck_assert_ptr_nonnull(strstr(sample_error(e, "hits7", buf, sizeof(buf)), "not in the map"));
	ck_assert_int_eq(metric_int(e, "bw_demo_hits9"), 0);	/* now there, and 0 */
	ck_assert_int_eq(metric_int(e, "bw_demo_lru_max"), 44);
	ck_assert(metric_real(e, "bw_demo_lru_avg") == 38.5);
	free(tasks.free);
	free(cgrp.free);
	free(lru.free);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/* Hostile hash tables: loops, pointers outside RAM, lying bucket counts, overfull chains. */
START_TEST(test_hash_garbage)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		WA("tasks", "[*].hits", BW_AGG_SCALAR_COUNTER, "live", BW_ACROSS_COUNT),
		WA("liar", "[*].hits", BW_AGG_SCALAR_COUNTER, "liar", BW_ACROSS_COUNT)));
	struct tk_object o;
	struct tk_demo_btf d;
	struct tk_hash tasks, liar;
	uint64_t a, b, c, bucket;
	char buf[BW_ERROR_MSG_MAX];

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_demo_btf_new(&d);
	btf__free(d.btf);
	tasks = tk_add_hash(tk, &(struct tk_map_spec){ .name = "tasks", .type = TK_MAP_HASH,
			    .key_size = 4, .value_size = 24, .max_entries = 4, .btf = o.btf,
			    .btf_value_type_id = (uint32_t)d.slot });
	liar = tk_add_hash(tk, &(struct tk_map_spec){ .name = "liar", .type = TK_MAP_HASH,
			   .key_size = 4, .value_size = 24, .max_entries = 4, .btf = o.btf,
			   .btf_value_type_id = (uint32_t)d.slot });
	/* n_buckets must be roundup_pow_of_two(max_entries): 4, not 4096. */
	tk_put(tk, liar.map.addr + tk->lay.htab_n_buckets, 4096, 4);
	a = tk_hash_insert(tk, &tasks, 1);
	b = tk_hash_insert(tk, &tasks, 5);	/* bucket 1: b -> a -> nulls(1) */
	c = tk_hash_insert(tk, &tasks, 2);
	bucket = tasks.buckets + 16;
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	ck_assert_int_eq(metric_int(e, "bw_demo_live"), 3);
	watch_state(e, "liar", "error", "4096 buckets, but the kernel makes 4");
	/* a -> b -> a: a loop, named as one. */
	tk_put(tk, a, b, 8);
	tick(e, T0 + 2 * SEC);
	ck_assert_ptr_nonnull(strstr(sample_error(e, "live", buf, sizeof(buf)), "loops"));
	ck_assert_int_eq(metric_int(e, "bw_demo_live"), 3);	/* the last good reading */
	/* A chain leaving guest RAM. */
	tk_put(tk, a, TK_PAGE_OFFSET_BASE + (512ULL << 20), 8);
	tick(e, T0 + 3 * SEC);
	ck_assert_ptr_nonnull(strstr(sample_error(e, "live", buf, sizeof(buf)), "entry at"));
	/* A pointer that is no kernel address at all. */
	tk_put(tk, a, 0x1000, 8);
	tick(e, T0 + 4 * SEC);
	ck_assert_ptr_nonnull(strstr(sample_error(e, "live", buf, sizeof(buf)),
				     "not a kernel address"));
	/* More entries than max_entries: a long chain of distinct entries. */
	{
		uint64_t f1 = tk_kmalloc(tk, 64), f2 = tk_kmalloc(tk, 64);

		tk_put(tk, a, c, 8);
		tk_put(tk, c, f1, 8);
		tk_put(tk, f1, f2, 8);
		tk_put(tk, f2, (1ULL << 1) | 1, 8);
	}
	tick(e, T0 + 5 * SEC);
	ck_assert_ptr_nonnull(strstr(sample_error(e, "live", buf, sizeof(buf)),
				     "more than its 4 entries"));
	/* A chain ending in another bucket's marker: walked again, then refused. */
	tk_put(tk, c, (2ULL << 1) | 1, 8);
	tk_put(tk, a, (3ULL << 1) | 1, 8);
	tick(e, T0 + 6 * SEC);
	ck_assert_ptr_nonnull(strstr(sample_error(e, "live", buf, sizeof(buf)), "moved"));
	/* Repaired. */
	tk_put(tk, a, (1ULL << 1) | 1, 8);
	tick(e, T0 + 7 * SEC);
	ck_assert_int_eq(sample_int(e, "live"), 3);
	(void)bucket;
	free(tasks.free);
	free(liar.free);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/* char[N] leaves: text, escaped, bounded, the last value kept. */
START_TEST(test_text_leaves)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		W("names", "[0].name", BW_AGG_SCALAR_COUNTER, "name0"),
		W("names", "[1].name", BW_AGG_SCALAR_COUNTER, "name1"),
		W("tags", "[0].tag", BW_AGG_SCALAR_COUNTER, "tag"),
		W("names", "[0].name", BW_AGG_SCALAR, "name_mean"),
		WA("names", "[*].name", BW_AGG_SCALAR_COUNTER, "name_all", BW_ACROSS_MAX)));
	struct btf *b = test_btf_new();
	int u32 = test_btf_u32(b), u64 = test_btf_u64(b), chr = test_btf_char(b), named, tagged;
	uint64_t btf;
	struct tk_map ops, names, tags;
	json_t *doc, *m, *keys;
	char buf[BW_FIELD_TEXT_OUT_MAX];

	named = test_btf_struct(b, "bw_named", 24, (struct test_btf_field[]){
		TEST_BTF_FIELD("n", u64, 0), TEST_BTF_FIELD("name", test_btf_array(b, chr, 16), 8),
		TEST_BTF_END });
	tagged = test_btf_struct(b, "bw_tagged", 8, (struct test_btf_field[]){
		TEST_BTF_FIELD("tag", test_btf_array(b, chr, 4), 0), TEST_BTF_FIELD("n", u32, 4),
		TEST_BTF_END });
	btf = tk_load_btf(tk, b, false);
	btf__free(b);
	names = tk_add_map(tk, &(struct tk_map_spec){ .name = "names", .type = TK_MAP_ARRAY,
			   .key_size = 4, .value_size = 24, .max_entries = 2, .btf = btf,
			   .btf_value_type_id = (uint32_t)named, .vmalloc = true });
	tags = tk_add_map(tk, &(struct tk_map_spec){ .name = "tags", .type = TK_MAP_ARRAY,
			  .key_size = 4, .value_size = 8, .max_entries = 1, .btf = btf,
			  .btf_value_type_id = (uint32_t)tagged });
	ops = tk_add_struct_ops(tk, "named_ops", btf, "named", FN_NEW);
	tk_write(tk, tk_elem(tk, &names, 0) + 8, "layer-\xc3\xa9\\x", 10);
	/* No NUL in all 16 bytes, invalid UTF-8 inside. */
	tk_write(tk, tk_elem(tk, &names, 1) + 8, "ab\xff\xc3(\n0123456789a", 16);
	tk_write(tk, tk_elem(tk, &tags, 0), "abcd", 4);
	tk_put(tk, tk_elem(tk, &tags, 0) + 4, 0x41414141, 4);	/* "AAAA" right after: not read */
	tk_attach(tk, &ops);
	tick(e, T0 + SEC);
	ck_assert_str_eq(sample_text(e, "name0", buf, sizeof(buf)), "layer-\xc3\xa9\\\\x");
	ck_assert_str_eq(sample_text(e, "name1", buf, sizeof(buf)),
			 "ab\\xff\\xc3(\\x0a0123456789");
	ck_assert_str_eq(sample_text(e, "tag", buf, sizeof(buf)), "abcd");
	watch_state(e, "name_mean", "error", "is text");
	watch_state(e, "name_all", "error", "is text");
	tk_write(tk, tk_elem(tk, &names, 0) + 8, "second\0", 7);
	tick(e, T0 + 2 * SEC);
	doc = view(e, 'M');
	m = json_object_get(doc, "metrics");
	ck_assert_str_eq(json_string_value(json_object_get(m, "named_ops_name0")), "second");
	ck_assert_str_eq(json_string_value(json_object_get(m, "named_ops_tag")), "abcd");
	keys = json_object_get(doc, "text_keys");
	ck_assert_uint_eq(json_array_size(keys), 3);
	json_decref(doc);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_object_pin)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		WPIN(".bss", "state.gauge", BW_AGG_SCALAR_COUNTER, "other_gauge", "other"),
		WPIN(".bss", "state.gauge", BW_AGG_SCALAR_COUNTER, "demo_gauge", "bw_demo"),
		W(".bss", "state.gauge", BW_AGG_SCALAR_COUNTER, "active_gauge")));
	struct tk_object demo, other, twin;
	char a[32], b[32];

	tk_load_demo(tk, "bw_demo", NULL, 0, &demo);
	tk_load_demo(tk, "other", NULL, 0, &other);
	tk_put(tk, bss(tk, &demo, TK_STATE_GAUGE), 11, 4);
	tk_put(tk, bss(tk, &other, TK_STATE_GAUGE), 22, 4);
	tick(e, T0 + SEC);
	/* No scheduler: pinned watches read, unpinned ones wait. */
	watch_state(e, "other_gauge", "resolved", NULL);
	watch_state(e, "demo_gauge", "resolved", NULL);
	watch_state(e, "active_gauge", "pending", "no active sched_ext scheduler");
	ck_assert_int_eq(sample_int(e, "other_gauge"), 22);
	ck_assert_int_eq(sample_int(e, "demo_gauge"), 11);
	ck_assert_int_eq(metric_int(e, "other_other_gauge"), 22);
	ck_assert_int_eq(metric_int(e, "bw_demo_demo_gauge"), 11);

	/* A second object with the prefix "bw_demo": the pin is ambiguous. */
	tk_load_demo(tk, "bw_demo", NULL, 0, &twin);
	tick(e, T0 + 2 * SEC);
	snprintf(a, sizeof(a), "BTF 0x%" PRIx64, demo.btf);
	snprintf(b, sizeof(b), "BTF 0x%" PRIx64, twin.btf);
	watch_state(e, "demo_gauge", "error", "2 BPF objects have prefix \"bw_demo\"");
	watch_state(e, "demo_gauge", "error", a);
	watch_state(e, "demo_gauge", "error", b);
	watch_state(e, "other_gauge", "resolved", NULL);
	/* No such prefix. */
	bw_engine_free(e);
	e = engine(tk, SET(WPIN(".bss", "state.gauge", BW_AGG_SCALAR, "g", "absent")));
	tick(e, T0 + SEC);
	watch_state(e, "g", "pending", "no BPF object with prefix \"absent\"");
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_scheduler_replaced)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		W(".bss", "state.gauge", BW_AGG_SCALAR_COUNTER, "gauge"),
		W("cpu_stats", "runs", BW_AGG_PERCPU_COUNTER, "runs")));
	struct tk_object a, b;
	struct bw_engine_summary sum;
	json_t *doc;
	uint64_t scans;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &a);
	tk_put(tk, bss(tk, &a, TK_STATE_GAUGE), 1, 4);
	for (uint32_t c = 0; c < 4; c++)
		tk_put(tk, tk_percpu_elem(tk, &a.cpu_stats, 0, c), 1, 8);
	tk_attach(tk, &a.ops);
	tick(e, T0 + SEC);
	ck_assert_int_eq(sample_int(e, "gauge"), 1);
	ck_assert_int_eq(metric_int(e, "bw_demo_runs"), 4);
	bw_engine_summary(e, &sum);
	scans = sum.scans;
	tick(e, T0 + SEC + 1000);
	bw_engine_summary(e, &sum);
	ck_assert_uint_eq(sum.scans, scans);	/* nothing changed: no re-scan */

	/* Restart: a new instance with new maps and a new scx_sched. */
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_NEW, &b);
	tk_put(tk, bss(tk, &b, TK_STATE_GAUGE), 7, 4);
	for (uint32_t c = 0; c < 4; c++)
		tk_put(tk, tk_percpu_elem(tk, &b.cpu_stats, 0, c), 5, 8);
	tk_detach(tk);
	tk_attach(tk, &b.ops);
	tick(e, T0 + 2 * SEC);
	bw_engine_summary(e, &sum);
	ck_assert_uint_gt(sum.scans, scans);
	ck_assert_int_eq(sample_int(e, "gauge"), 7);
	ck_assert_int_eq(metric_int(e, "bw_demo_runs"), 20);
	doc = view(e, 's');
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(
		find_watch(doc, "gauge"), "resolution"), "map_id")), b.bss.id);
	json_decref(doc);
	/* The old instance's memory changes; nothing of it is read any more. */
	tk_put(tk, bss(tk, &a, TK_STATE_GAUGE), 999, 4);
	tick(e, T0 + 3 * SEC);
	ck_assert_int_eq(sample_int(e, "gauge"), 7);

	/* Detached: pending again, the window keeps what was sampled. */
	tk_detach(tk);
	tick(e, T0 + 4 * SEC);
	watch_state(e, "gauge", "pending", "no active sched_ext scheduler");
	ck_assert_int_eq(metric_int(e, "bw_demo_gauge"), 7);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_old_kernels)
{
	enum tk_scx_mode modes[] = { TK_SCX_OPS_6_15, TK_SCX_OPS_6_12 };

	for (size_t i = 0; i < 2; i++) {
		struct test_kernel *tk = boot(modes[i]);
		struct bw_engine *e = engine(tk, SET(W(".bss", "state.gauge", BW_AGG_SCALAR_COUNTER,
						       "gauge")));
		struct tk_object decoy, demo;

		tk_load_demo(tk, "bw_demo", "bw_demo", FN_DECOY, &decoy);
		tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &demo);
		tk_put(tk, bss(tk, &decoy, TK_STATE_GAUGE), 0xdec0, 4);
		tk_put(tk, bss(tk, &demo, TK_STATE_GAUGE), 42, 4);
		tick(e, T0 + SEC);
		watch_state(e, "gauge", "pending", "no active sched_ext scheduler");
		tk_attach(tk, &demo.ops);
		tick(e, T0 + 2 * SEC);
		ck_assert_int_eq(sample_int(e, "gauge"), 42);
		/* Switched to the decoy between two ticks: the enable state is the same. */
		tk_detach(tk);
		tk_attach(tk, &decoy.ops);
		tick(e, T0 + 2 * SEC + 1000);
		ck_assert_int_eq(sample_int(e, "gauge"), 0xdec0);
		bw_engine_free(e);
		tk_free(tk);
	}
}
END_TEST

START_TEST(test_no_sched_ext_kernel)
{
	struct test_kernel *tk = boot(TK_SCX_NONE);
	struct bw_engine *e = engine(tk, SET(
		W(".bss", "state.gauge", BW_AGG_SCALAR_COUNTER, "gauge"),
		WPIN(".bss", "state.gauge", BW_AGG_SCALAR_COUNTER, "pinned", "bw_demo")));
	struct tk_object o;

	tk_load_demo(tk, "bw_demo", NULL, 0, &o);
	tk_put(tk, bss(tk, &o, TK_STATE_GAUGE), 5, 4);
	tick(e, T0 + SEC);
	watch_state(e, "gauge", "pending", "has no sched_ext");
	watch_state(e, "pinned", "resolved", NULL);
	ck_assert_int_eq(sample_int(e, "pinned"), 5);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_map_freed)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W("slots", "[1].hits", BW_AGG_SCALAR_COUNTER, "hits")));
	struct tk_object o;
	struct bw_engine_summary sum;
	uint64_t scans;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_put(tk, tk_elem(tk, &o.slots, 1) + 8, 77, 8);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	ck_assert_int_eq(sample_int(e, "hits"), 77);
	bw_engine_summary(e, &sum);
	scans = sum.scans;
	/* Freed: no change marker moves, but its id does. */
	tk_free_map(tk, &o.slots);
	tick(e, T0 + SEC + 1000);
	bw_engine_summary(e, &sum);
	ck_assert_uint_eq(sum.scans, scans + 1);
	watch_state(e, "hits", "pending", "no map ending in \"slots\"");
	ck_assert_int_eq(metric_int(e, "bw_demo_hits"), 77);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/*
 * A guest that moves map_idr.idr_next on every tick (1 ms apart for 2 s)
 * cannot make every tick re-scan: a burst, then ten a second.  New maps
 * alone leave what is resolved right, so every tick still samples.
 */
START_TEST(test_rescans_paced)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W("slots", "[1].hits", BW_AGG_SCALAR_COUNTER, "hits")));
	uint64_t next = tk->map_idr + tk->idr.lay.idr_next;
	struct bw_engine_summary sum;
	struct tk_object o;
	uint64_t first;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_put(tk, tk_elem(tk, &o.slots, 1) + 8, 5, 8);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	bw_engine_summary(e, &sum);
	first = sum.scans;
	for (uint64_t i = 1; i <= 2000; i++) {
		tk_put(tk, next, (uint32_t)(1000 + i), 4);
		tk_put(tk, tk_elem(tk, &o.slots, 1) + 8, 5 + i, 8);
		tick(e, T0 + SEC + i * 1000000);
		ck_assert_int_eq(sample_int(e, "hits"), (json_int_t)(5 + i));
	}
	bw_engine_summary(e, &sum);
	ck_assert_uint_le(sum.scans - first, BW_ENGINE_RESCAN_BURST + 20 + 1);
	ck_assert_uint_ge(sum.scans_deferred, 2000 - BW_ENGINE_RESCAN_BURST - 21);
	ck_assert_ptr_null(sum.degraded);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/*
 * While re-scans are held back, a map in use that is freed is not read:
 * the tick has no sample for it rather than a number from freed memory.
 */
START_TEST(test_paced_rescan_never_reads_freed)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W("slots", "[1].hits", BW_AGG_SCALAR_COUNTER, "hits")));
	uint64_t next = tk->map_idr + tk->idr.lay.idr_next;
	struct tk_object o;
	uint64_t t = T0 + SEC;
	json_t *doc;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_put(tk, tk_elem(tk, &o.slots, 1) + 8, 9, 8);
	tk_attach(tk, &o.ops);
	tick(e, t);
	/* Use up the burst. */
	for (uint32_t i = 0; i < BW_ENGINE_RESCAN_BURST + 1; i++) {
		tk_put(tk, next, 5000 + i, 4);
		tick(e, ++t);
	}
	tk_free_map(tk, &o.slots);
	tick(e, ++t);
	doc = view(e, 'S');
	ck_assert_ptr_null(json_object_get(find_watch(doc, "hits"), "value"));
	json_decref(doc);
	/* A re-scan comes by the next token and finds the map gone. */
	tick(e, t + BW_ENGINE_RESCAN_MIN_NS);
	watch_state(e, "hits", "pending", "no map ending in \"slots\"");
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/* A node of map_idr's xarray in the test kernel's direct map. */
static uint64_t dag_node(struct test_kernel *tk, unsigned int shift, unsigned int offset)
{
	const struct test_btf_xa *l = &tk->idr.lay;
	uint64_t node = tk_kmalloc(tk, l->node_size);

	tk_put(tk, node + l->node_shift, shift, 1);
	tk_put(tk, node + l->node_offset, offset, 1);
	return node;
}

/*
 * The hostile guest of the report: map_idr's nodes form a DAG (193 nodes:
 * slot k of every node of a level points at node k of the next, 266,305
 * visits for a walk that does not notice), and idr_next moves on every
 * tick.  The walk stops at the second visit, re-scans are paced: ticks
 * stay cheap (mean at most 1 ms) and the state says why nothing is read.
 */
START_TEST(test_hostile_idr_dag)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W("slots", "[1].hits", BW_AGG_SCALAR_COUNTER, "hits")));
	const struct test_btf_xa *l = &tk->idr.lay;
	uint64_t next = tk->map_idr + l->idr_next, level[4][64], root, total_ns = 0;
	struct bw_engine_summary sum;
	struct tk_object o;
	const int nticks = 200;

	ck_assert_uint_eq(l->chunk_shift, 6);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	root = dag_node(tk, 18, 0);
	for (unsigned int lv = 0; lv < 3; lv++)
		for (unsigned int k = 0; k < 64; k++)
			level[lv][k] = dag_node(tk, 12 - 6 * lv, k);
	for (unsigned int k = 0; k < 64; k++)
		tk_put(tk, root + l->node_slots + 8 * k, level[0][k] | 2, 8);
	for (unsigned int lv = 0; lv < 2; lv++)
		for (unsigned int n = 0; n < 64; n++)
			for (unsigned int k = 0; k < 64; k++)
				tk_put(tk, level[lv][n] + l->node_slots + 8 * k,
				       level[lv + 1][k] | 2, 8);
	tk_put(tk, tk->map_idr + l->idr_rt + l->xa_head, root | 2, 8);
	for (int i = 1; i <= nticks; i++) {
		struct timespec t0, t1;

		tk_put(tk, next, 7000 + (uint32_t)i, 4);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		tick(e, T0 + SEC + (uint64_t)i * 1000000);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		total_ns += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000ULL +
			    (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	}
	ck_assert_msg(total_ns / nticks <= 1000000, "tick mean %" PRIu64 " ns", total_ns / nticks);
	bw_engine_summary(e, &sum);
	ck_assert_int_eq(sum.state, BW_ENGINE_ERROR);
	ck_assert_msg(sum.message && strstr(sum.message, "graph, not a tree"), "%s",
		      sum.message ? sum.message : "(no message)");
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_retry_interval)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W("ts", "runs", BW_AGG_PERCPU_COUNTER, "runs")));
	struct tk_object o;
	struct bw_engine_summary sum;
	uint64_t scans;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	for (uint32_t c = 0; c < 4; c++)
		tk_put(tk, tk_percpu_elem(tk, &o.cpu_stats, 0, c), 2, 8);
	tick(e, T0 + SEC);
	watch_state(e, "runs", "error", "matches 2 maps");
	bw_engine_summary(e, &sum);
	scans = sum.scans;
	/* Freeing "slots" moves no marker: only the periodic retry notices it. */
	tk_free_map(tk, &o.slots);
	tick(e, T0 + SEC + BW_ENGINE_RETRY_NS / 2);
	bw_engine_summary(e, &sum);
	ck_assert_uint_eq(sum.scans, scans);
	watch_state(e, "runs", "error", "matches 2 maps");
	tick(e, T0 + SEC + BW_ENGINE_RETRY_NS);
	bw_engine_summary(e, &sum);
	ck_assert_uint_eq(sum.scans, scans + 1);
	watch_state(e, "runs", "resolved", NULL);
	ck_assert_int_eq(metric_int(e, "bw_demo_runs"), 8);
	/* All resolved: no more periodic scans. */
	tick(e, T0 + 5 * SEC);
	bw_engine_summary(e, &sum);
	ck_assert_uint_eq(sum.scans, scans + 1);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_unaligned_leaf)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W(".data", "odd", BW_AGG_SCALAR_COUNTER, "odd")));
	struct tk_object o;
	json_t *doc, *w;
	uint64_t va;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	va = tk_elem(tk, &o.data, 0) + TK_DATA_ODD;
	ck_assert_uint_eq((va + 2) % 4096, 0);	/* two bytes on each page */
	tk_put(tk, va, 0xdeadbeef, 4);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	ck_assert_int_eq(sample_int(e, "odd"), 0xdeadbeef);
	doc = view(e, 's');
	w = find_watch(doc, "odd");
	ck_assert(json_is_false(json_object_get(json_object_get(w, "resolution"), "aligned")));
	ck_assert_ptr_nonnull(json_object_get(w, "note"));
	json_decref(doc);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_set_watches)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W(".bss", "state.gauge", BW_AGG_SCALAR, "gauge")));
	struct bw_watch_set *set;
	struct bw_error err = { 0 };
	struct tk_object o;
	json_t *doc;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_put(tk, bss(tk, &o, TK_STATE_GAUGE), 3, 4);
	tk_put(tk, bss(tk, &o, TK_BSS_ENQUEUES), 12, 8);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	ck_assert(metric_real(e, "bw_demo_gauge") == 3.0);

	set = SET(W(".bss", "stats.ops.enqueues", BW_AGG_SCALAR_COUNTER, "enq"));
	ck_assert_msg(bw_engine_set_watches(e, set, T0 + 2 * SEC, 0, &err) == 0, "%s", err.msg);
	bw_watch_set_free(set);
	/* A new window and a new set. */
	ck_assert(metric_absent(e, "bw_demo_gauge"));
	ck_assert(metric_absent(e, "bw_demo_enq"));
	watch_state(e, "enq", "pending", "not resolved yet");
	tick(e, T0 + 3 * SEC);
	ck_assert_int_eq(metric_int(e, "bw_demo_enq"), 12);
	doc = view(e, 's');
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "watches")), 1);
	json_decref(doc);

	ck_assert_int_eq(bw_engine_set_watches(e, NULL, T0 + 4 * SEC, 0, &err), 0);
	tick(e, T0 + 5 * SEC);
	doc = view(e, 'S');
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "watches")), 0);
	json_decref(doc);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_time_backwards)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, NULL);
	struct bw_error err = { 0 };

	tick(e, T0 + 2 * SEC);
	ck_assert_int_eq(bw_engine_tick(e, T0 + SEC, 0, &err), -EINVAL);
	ck_assert_int_eq(bw_engine_tick(e, T0 - SEC, 0, &err), -EINVAL);
	tick(e, T0 + 2 * SEC);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_json_views)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		W(".bss", "state.gauge", BW_AGG_SCALAR, "gauge"),
		W("cpu_stats", "gauge", BW_AGG_PERCPU, "pgauge")));
	struct tk_object o;
	json_t *doc, *w, *sched, *m, *keys;
	size_t i, found = 0;

	doc = view(e, 'm');
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "maps")), 0);
	ck_assert(json_is_string(json_object_get(doc, "error")));
	json_decref(doc);
	doc = view(e, 's');
	ck_assert_str_eq(json_string_value(json_object_get(doc, "state")), "starting");
	ck_assert(json_is_null(json_object_get(doc, "last_tick")));
	json_decref(doc);

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);

	doc = view(e, 's');
	ck_assert_str_eq(json_string_value(json_object_get(doc, "state")), "sampling");
	ck_assert(json_is_null(json_object_get(doc, "message")));
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "ticks")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "scans")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "last_tick"),
							    "mono_ns")), T0 + SEC);
	sched = json_object_get(doc, "scheduler");
	ck_assert_str_eq(json_string_value(json_object_get(sched, "ops_name")), "bw_demo");
	ck_assert_str_eq(json_string_value(json_object_get(sched, "object")), "bw_demo");
	ck_assert_int_eq(json_integer_value(json_object_get(sched, "struct_ops_map_id")),
			 o.ops.id);
	ck_assert(json_is_string(json_object_get(sched, "scx_root")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "inventory"),
							    "maps")), 6);
	w = find_watch(doc, "pgauge");
	ck_assert_str_eq(json_string_value(json_object_get(w, "map")), "cpu_stats");
	ck_assert_str_eq(json_string_value(json_object_get(w, "aggregate")), "percpu");
	keys = json_object_get(w, "keys");
	ck_assert_uint_eq(json_array_size(keys), 2);
	ck_assert_str_eq(json_string_value(json_array_get(keys, 0)), "bw_demo_pgauge_avg");
	ck_assert_str_eq(json_string_value(json_array_get(keys, 1)), "bw_demo_pgauge_max");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(w, "resolution"),
							   "map_type")), "percpu_array");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(w, "resolution"),
							    "cpus")), 4);
	json_decref(doc);

	doc = view(e, 'm');
	ck_assert(json_is_null(json_object_get(doc, "error")));
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "maps")), 6);
	json_array_foreach(json_object_get(doc, "maps"), i, m) {
		ck_assert(json_is_true(json_object_get(m, "active")));
		ck_assert_str_eq(json_string_value(json_object_get(m, "object")), "bw_demo");
		if (json_integer_value(json_object_get(m, "id")) == o.ctx_acc.id) {
			ck_assert_str_eq(json_string_value(json_object_get(m, "name")),
					 "cpu_ctx_stor_ac");
			ck_assert_str_eq(json_string_value(json_object_get(m, "full_name")),
					 "cpu_ctx_stor_acc");
			ck_assert_str_eq(json_string_value(json_object_get(m, "type")), "array");
			ck_assert_int_eq(json_integer_value(json_object_get(m, "max_entries")),
					 TK_MAX_CTX);
			ck_assert_int_eq(json_integer_value(json_object_get(m, "value_size")), 16);
			found++;
		}
	}
	ck_assert_uint_eq(found, 1);
	ck_assert_uint_eq(json_array_size(json_object_get(doc, "objects")), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(
		json_object_get(doc, "objects"), 0), "map_ids")), 6);
	json_decref(doc);

	doc = view(e, 'S');
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "seq")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "object")), "bw_demo");
	ck_assert_uint_eq(json_object_size(json_object_get(find_watch(doc, "pgauge"), "values")),
			  4);
	json_decref(doc);

	doc = view(e, 'M');
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "window"),
							    "ticks")), 1);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(doc, "metrics"), "bw_demo_gauge"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(doc, "metrics"),
					      "bw_demo_pgauge_max"));
	json_decref(doc);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_garbage_guest)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(W(".bss", "state.gauge", BW_AGG_SCALAR, "gauge")));
	struct bw_engine_summary sum;
	struct tk_object o;
	uint64_t head, saved;
	json_t *doc;

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	head = test_xa_head_addr(&tk->idr);
	saved = tk_get(tk, head, 8);
	tk_put(tk, head, (TK_VMALLOC_BASE + 0x7000000) | 2, 8);
	tick(e, T0 + SEC);	/* a state, not a failure */
	bw_engine_summary(e, &sum);
	ck_assert_int_eq(sum.state, BW_ENGINE_ERROR);
	ck_assert_ptr_nonnull(strstr(sum.message, "map_idr"));
	watch_state(e, "gauge", "error", "BPF maps are not known");
	doc = view(e, 's');
	ck_assert_str_eq(json_string_value(json_object_get(doc, "state")), "error");
	json_decref(doc);
	doc = view(e, 'm');
	ck_assert(json_is_string(json_object_get(doc, "error")));
	json_decref(doc);
	/* Repaired: retried after the interval, not before. */
	tk_put(tk, head, saved, 8);
	tick(e, T0 + SEC + 1000);
	bw_engine_summary(e, &sum);
	ck_assert_int_eq(sum.state, BW_ENGINE_ERROR);
	tick(e, T0 + 2 * SEC + 1000);
	bw_engine_summary(e, &sum);
	ck_assert_int_eq(sum.state, BW_ENGINE_SAMPLING);
	watch_state(e, "gauge", "resolved", NULL);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/* Garbage written over the maps, the per-CPU pointers and the scheduler while ticking. */
START_TEST(test_fuzz_ticks)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_engine *e = engine(tk, SET(
		W(".bss", "state.gauge", BW_AGG_SCALAR, "gauge"),
		W(".bss", "state.enabled", BW_AGG_SCALAR_COUNTER, "enabled"),
		W("cpu_stats", "runs", BW_AGG_PERCPU_COUNTER, "runs"),
		W("acc", "[7].cpu", BW_AGG_SCALAR, "cpu7")));
	struct tk_object o;
	uint64_t targets[5], sched;
	uint8_t saved[5][320];
	time_t start = time(NULL);

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	sched = tk_get(tk, tk->scx_root, 8);
	targets[0] = o.bss.addr;
	targets[1] = o.cpu_stats.addr;
	targets[2] = o.ctx_acc.addr;
	targets[3] = sched;
	targets[4] = o.ops.addr + tk->lay.sops_kvalue;
	for (int i = 0; i < 5; i++)
		tk_read(tk, targets[i], saved[i], sizeof(saved[i]));
	for (uint64_t round = 1; round <= 400; round++) {
		uint8_t junk[320];
		struct bw_engine_summary sum;
		int t = (int)(round % 5);

		memcpy(junk, saved[t], sizeof(junk));
		test_fill_random(junk + round % 64, 16 + round % 128, round);
		tk_write(tk, targets[t], junk, sizeof(junk));
		tick(e, T0 + round * SEC / 2);
		bw_engine_summary(e, &sum);
		ck_assert_uint_le(sum.resolved, 4);
		if (round % 50 == 0) {
			json_decref(view(e, 's'));
			json_decref(view(e, 'm'));
			json_decref(view(e, 'S'));
			json_decref(view(e, 'M'));
		}
		tk_write(tk, targets[t], saved[t], sizeof(saved[t]));
	}
	/* Repaired, everything resolves again. */
	tick(e, T0 + 300 * SEC);
	watch_state(e, "runs", "resolved", NULL);
	ck_assert_int_lt(time(NULL) - start, 30);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

/* Many ticks with nothing changing: no scan, every watch read each tick. */
START_TEST(test_quiet_ticks)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_watch ws[65];
	char labels[65][16];
	struct bw_watch_set *set;
	struct bw_engine *e;
	struct bw_engine_summary sum;
	struct tk_object o;
	struct timespec a, b;
	const int ticks = 2000;
	double ns;

	for (int i = 0; i < 64; i++) {
		snprintf(labels[i], sizeof(labels[i]), "g%d", i);
		ws[i] = (struct bw_watch)W(".bss", i % 2 ? "state.gauge" : "state.bits.neg_bits",
					   BW_AGG_SCALAR, labels[i]);
	}
	ws[64] = (struct bw_watch)W("cpu_stats", "runs", BW_AGG_PERCPU_COUNTER, "runs");
	set = tk_watch_set(ws, 65);
	e = engine(tk, set);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_put(tk, bss(tk, &o, TK_STATE_GAUGE), (uint32_t)-9, 4);
	tk_attach(tk, &o.ops);
	tick(e, T0 + SEC);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int t = 1; t <= ticks; t++)
		tick(e, T0 + SEC + (uint64_t)t * 1000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	bw_engine_summary(e, &sum);
	ck_assert_uint_eq(sum.scans, 1);
	ck_assert_uint_eq(sum.resolved, 65);
	ck_assert_uint_eq(sum.ticks, (uint64_t)ticks + 1);
	ck_assert_int_eq(sample_int(e, "g1"), -9);
	ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / ticks;
	fprintf(stderr, "test_quiet_ticks: %.0f ns per tick (64 scalar + 1 percpu x 4 CPUs)\n", ns);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pending_then_resolved);
	tcase_add_test(tc, test_no_sample_before_enabled);
	tcase_add_test(tc, test_decode_exact);
	tcase_add_test(tc, test_percpu_vmalloc_chunks);
	tcase_add_test(tc, test_folds);
	tcase_add_test(tc, test_resolution_errors);
	tcase_add_test(tc, test_decoy_never_read);
	tcase_add_test(tc, test_maps_by_programs);
	tcase_add_test(tc, test_program_garbage);
	tcase_add_test(tc, test_all_elements);
	tcase_add_test(tc, test_hash_maps);
	tcase_add_test(tc, test_hash_garbage);
	tcase_add_test(tc, test_text_leaves);
	tcase_add_test(tc, test_object_pin);
	tcase_add_test(tc, test_scheduler_replaced);
	tcase_add_test(tc, test_old_kernels);
	tcase_add_test(tc, test_no_sched_ext_kernel);
	tcase_add_test(tc, test_map_freed);
	tcase_add_test(tc, test_retry_interval);
	tcase_add_test(tc, test_unaligned_leaf);
	tcase_add_test(tc, test_set_watches);
	tcase_add_test(tc, test_time_backwards);
	tcase_add_test(tc, test_json_views);
	tcase_add_test(tc, test_garbage_guest);
	tcase_add_test(tc, test_fuzz_ticks);
	tcase_add_test(tc, test_quiet_ticks);
	tcase_add_test(tc, test_rescans_paced);
	tcase_add_test(tc, test_hostile_idr_dag);
	tcase_add_test(tc, test_paced_rescan_never_reads_freed);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(engine_suite)
