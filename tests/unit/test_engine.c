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
#include <string.h>
#include <time.h>

#include "engine.h"
#include "util_kernel.h"

#define FN_DEMO 0xffffffffc0100000ULL
#define FN_DECOY 0xffffffffc0200000ULL
#define FN_NEW 0xffffffffc0300000ULL
#define SEC 1000000000ULL
#define T0 (10 * SEC)

#define W(m, f, a, l) { .map_suffix = (m), .field = (f), .agg = (a), .label = (l) }
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
	watch_state(e, "percpu_on_array", "error", "needs a percpu_array map");
	watch_state(e, "scalar_on_percpu", "error", "needs an array map");
	watch_state(e, "struct_ops", "error", "struct_ops map");
	watch_state(e, "slot2", "resolved", NULL);
	watch_state(e, "slot4", "error", "has 4 entries");
	watch_state(e, "slotx", "error", "element index");
	watch_state(e, "slot1", "error", "element index");
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
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(engine_suite)
