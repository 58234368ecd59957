/* SPDX-License-Identifier: MIT */
/* The fold engine: the four aggregations, exact integers, absence, windows. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fold.h"
#include "util_mem.h"

#define ck_assert_msg_has(err, needle) \
	ck_assert_msg(strstr((err)->msg, (needle)) != NULL, "message \"%s\" lacks \"%s\"", \
		      (err)->msg, (needle))

#define NS 1000000000ULL

/* Watches used by most tests, in this order. */
enum { W_GAUGE, W_COUNTER, W_PCPU, W_PCPU_COUNTER, W_PINNED, W_COUNT };

static struct bw_watch_set *make_set(void)
{
	static const struct {
		const char *label;
		enum bw_agg agg;
		const char *object;
	} defs[W_COUNT] = {
		[W_GAUGE] = { "gauge", BW_AGG_SCALAR, NULL },
		[W_COUNTER] = { "counter", BW_AGG_SCALAR_COUNTER, NULL },
		[W_PCPU] = { "lat", BW_AGG_PERCPU, NULL },
		[W_PCPU_COUNTER] = { "events", BW_AGG_PERCPU_COUNTER, NULL },
		[W_PINNED] = { "pinned", BW_AGG_SCALAR_COUNTER, "sysobj" },
	};
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_error err;
	unsigned int i;

	ck_assert_ptr_nonnull(set);
	for (i = 0; i < W_COUNT; i++) {
		struct bw_watch w = { .map_suffix = ".bss", .field = "f", .agg = defs[i].agg,
				      .label = defs[i].label, .object = defs[i].object,
				      .source_file = "t.watch", .source_line = 1 + 6 * i };

		ck_assert_msg(bw_watch_set_add(set, &w, &err) == 0, "%s", err.msg);
	}
	return set;
}

static struct bw_fold *make_fold(void)
{
	struct bw_watch_set *set = make_set();
	struct bw_fold *fold;
	struct bw_error err;

	ck_assert_msg(bw_fold_new(set, 5 * NS, 1700000000 * NS, &fold, &err) == 0, "%s", err.msg);
	bw_watch_set_free(set);	/* the fold keeps its own copies */
	return fold;
}

static json_t *metrics(struct bw_fold *fold)
{
	struct bw_error err;
	json_t *m;

	ck_assert_msg(bw_fold_metrics_json(fold, &m, &err) == 0, "%s", err.msg);
	ck_assert(json_is_object(m));
	return m;
}

/* The compact JSON text of the metrics, keys sorted. */
static char *metrics_text(struct bw_fold *fold)
{
	json_t *m = metrics(fold);
	char *s = json_dumps(m, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));

	json_decref(m);
	ck_assert_ptr_nonnull(s);
	return s;
}

static void tick(struct bw_fold *fold, const char *obj, uint64_t t)
{
	struct bw_error err;

	ck_assert_msg(bw_fold_tick(fold, obj, t, &err) == 0, "%s", err.msg);
}

static void feed(struct bw_fold *fold, size_t w, struct bw_fold_value v)
{
	struct bw_error err;

	ck_assert_msg(bw_fold_scalar(fold, w, v, &err) == 0, "%s", err.msg);
}

static void feed_cpus(struct bw_fold *fold, size_t w, const struct bw_fold_cpu_value *r, size_t n)
{
	struct bw_error err;

	ck_assert_msg(bw_fold_percpu(fold, w, r, n, &err) == 0, "%s", err.msg);
}

#define CPU_S(c, v) { .cpu = (c), .value = { .is_signed = true, .bits = (uint64_t)(int64_t)(v) } }
#define CPU_U(c, v) { .cpu = (c), .value = { .is_signed = false, .bits = (v) } }

START_TEST(test_scalar_mean)
{
	struct bw_fold *fold = make_fold();
	json_t *m;
	char *s;

	tick(fold, "scx_lavd", 6 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(1));
	tick(fold, "scx_lavd", 7 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(2));
	tick(fold, "scx_lavd", 8 * NS);
	ck_assert_int_eq(bw_fold_failure(fold, W_GAUGE, NULL), 0);	/* counts as nothing */
	tick(fold, "scx_lavd", 9 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(4));
	m = metrics(fold);
	ck_assert_uint_eq(json_object_size(m), 1);
	ck_assert(json_is_real(json_object_get(m, "scx_lavd_gauge")));
	ck_assert(json_real_value(json_object_get(m, "scx_lavd_gauge")) == 7.0 / 3.0);
	json_decref(m);

	/* Signed values keep their sign: mean of -1 and 2 is 0.5. */
	bw_fold_reset(fold, 10 * NS, 0);
	tick(fold, "scx_lavd", 10 * NS);
	feed(fold, W_GAUGE, bw_fold_s64(-1));
	tick(fold, "scx_lavd", 11 * NS);
	feed(fold, W_GAUGE, bw_fold_s64(2));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_gauge\":0.5}");
	free(s);

	/* A u64 far above INT64_MAX averages as unsigned, not as -1. */
	bw_fold_reset(fold, 12 * NS, 0);
	tick(fold, "scx_lavd", 12 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(UINT64_MAX));
	tick(fold, "scx_lavd", 13 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(UINT64_MAX - 2));
	m = metrics(fold);
	ck_assert(json_real_value(json_object_get(m, "scx_lavd_gauge")) == 18446744073709551614.0);
	json_decref(m);

	/* The mean of large values is exact when representable: (2^60+1 + 2^60+3)/2. */
	bw_fold_reset(fold, 14 * NS, 0);
	tick(fold, "scx_lavd", 14 * NS);
	feed(fold, W_GAUGE, bw_fold_s64((1LL << 52) + 1));
	tick(fold, "scx_lavd", 15 * NS);
	feed(fold, W_GAUGE, bw_fold_s64((1LL << 52) + 4));
	m = metrics(fold);
	ck_assert(json_real_value(json_object_get(m, "scx_lavd_gauge")) ==
		  (double)(1LL << 52) + 2.5);
	json_decref(m);
	bw_fold_free(fold);
}
END_TEST

START_TEST(test_scalar_counter_exact)
{
	struct bw_fold *fold = make_fold();
	json_t *m, *v;
	char *s;

	tick(fold, "scx_lavd", 6 * NS);
	feed(fold, W_COUNTER, bw_fold_u64(100));
	tick(fold, "scx_lavd", 7 * NS);
	feed(fold, W_COUNTER, bw_fold_u64(250));
	tick(fold, "scx_lavd", 8 * NS);
	ck_assert_int_eq(bw_fold_failure(fold, W_COUNTER, NULL), 0);
	m = metrics(fold);
	v = json_object_get(m, "scx_lavd_counter");
	ck_assert(json_is_integer(v));
	ck_assert_int_eq(json_integer_value(v), 250);	/* the last successful read */
	json_decref(m);

	/* An s32 -1, sign-extended by the reader, stays -1. */
	tick(fold, "scx_lavd", 9 * NS);
	feed(fold, W_COUNTER, bw_fold_s64((int32_t)0xffffffff));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_counter\":-1}");
	free(s);

	/* 2^53 + 1 is not a double, and stays exact. */
	tick(fold, "scx_lavd", 10 * NS);
	feed(fold, W_COUNTER, bw_fold_u64((1ULL << 53) + 1));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_counter\":9007199254740993}");
	free(s);

	/* INT64_MAX is still a JSON integer. */
	tick(fold, "scx_lavd", 11 * NS);
	feed(fold, W_COUNTER, bw_fold_u64(INT64_MAX));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_counter\":9223372036854775807}");
	free(s);

	/* Above it, a u64 is an exact decimal string. */
	tick(fold, "scx_lavd", 12 * NS);
	feed(fold, W_COUNTER, bw_fold_u64(UINT64_MAX));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_counter\":\"18446744073709551615\"}");
	free(s);
	tick(fold, "scx_lavd", 13 * NS);
	feed(fold, W_COUNTER, bw_fold_s64(INT64_MIN));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_counter\":-9223372036854775808}");
	free(s);
	bw_fold_free(fold);
}
END_TEST

START_TEST(test_percpu)
{
	struct bw_fold *fold = make_fold();
	struct bw_fold_cpu_value t1[] = { CPU_U(0, 1), CPU_U(1, 5) }, t2[] = { CPU_U(3, 3) };
	struct bw_fold_cpu_value neg[] = { CPU_S(0, -5), CPU_S(2, -3), CPU_S(1, -7) };
	struct bw_fold_watch_stats st;
	struct bw_metric *list;
	size_t n;
	json_t *m;
	char *s;

	tick(fold, "scx_lavd", 6 * NS);
	feed_cpus(fold, W_PCPU, t1, 2);
	tick(fold, "scx_lavd", 7 * NS);
	feed_cpus(fold, W_PCPU, t2, 1);
	tick(fold, "scx_lavd", 8 * NS);
	feed_cpus(fold, W_PCPU, NULL, 0);	/* no CPU read: nothing */
	s = metrics_text(fold);
	/* (1 + 5 + 3) / 3 readings, not / 2 ticks. */
	ck_assert_str_eq(s, "{\"scx_lavd_lat_avg\":3.0,\"scx_lavd_lat_max\":5}");
	free(s);
	ck_assert_int_eq(bw_fold_watch_stats(fold, W_PCPU, &st, NULL), 0);
	ck_assert_uint_eq(st.reads, 2);
	ck_assert_uint_eq(st.readings, 3);
	ck_assert_uint_eq(st.failures, 1);

	/* The C view: _avg then _max, with kinds. */
	ck_assert_int_eq(bw_fold_metrics(fold, &list, &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[0].key, "scx_lavd_lat_avg");
	ck_assert_int_eq(list[0].kind, BW_METRIC_REAL);
	ck_assert(list[0].real == 3.0);
	ck_assert_uint_eq(list[0].watch, W_PCPU);
	ck_assert_str_eq(list[1].key, "scx_lavd_lat_max");
	ck_assert_int_eq(list[1].kind, BW_METRIC_INTEGER);
	ck_assert(list[1].integer == 5);
	bw_metrics_free(list, n);

	/* All negative: the max is the largest negative, not 0. */
	bw_fold_reset(fold, 9 * NS, 0);
	tick(fold, "scx_lavd", 9 * NS);
	feed_cpus(fold, W_PCPU, neg, 3);
	m = metrics(fold);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "scx_lavd_lat_max")), -3);
	ck_assert(json_real_value(json_object_get(m, "scx_lavd_lat_avg")) == -5.0);
	json_decref(m);

	/* Mixed signedness compares by value: u64 2^63 beats s64 -1 and INT64_MAX. */
	{
		struct bw_fold_cpu_value mix[] = { CPU_S(0, -1), CPU_U(1, 1ULL << 63),
						   CPU_S(2, INT64_MAX) };

		tick(fold, "scx_lavd", 10 * NS);
		feed_cpus(fold, W_PCPU, mix, 3);
	}
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_lat_avg\":3.0744573456182584e18,"
			    "\"scx_lavd_lat_max\":\"9223372036854775808\"}");
	free(s);
	bw_fold_free(fold);
}
END_TEST

START_TEST(test_percpu_counter)
{
	struct bw_fold *fold = make_fold();
	struct bw_fold_cpu_value t1[] = { CPU_U(0, 10), CPU_U(1, 20) }, t3[] = { CPU_U(5, 7) };
	struct bw_fold_cpu_value big[] = { CPU_U(0, UINT64_MAX), CPU_U(1, UINT64_MAX),
					   CPU_U(2, UINT64_MAX) };
	struct bw_fold_cpu_value low[] = { CPU_S(0, INT64_MIN), CPU_S(7, INT64_MIN) };
	struct bw_fold_cpu_value edge[] = { CPU_U(0, (1ULL << 53) + 1), CPU_U(1, 2) };
	char *s;

	tick(fold, "scx_lavd", 6 * NS);
	feed_cpus(fold, W_PCPU_COUNTER, t1, 2);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_events\":30}");
	free(s);
	tick(fold, "scx_lavd", 7 * NS);
	feed_cpus(fold, W_PCPU_COUNTER, NULL, 0);	/* read nothing: the last sum stays */
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_events\":30}");
	free(s);
	tick(fold, "scx_lavd", 8 * NS);
	feed_cpus(fold, W_PCPU_COUNTER, t3, 1);	/* only CPU 5 read: its value alone */
	tick(fold, "scx_lavd", 9 * NS);
	ck_assert_int_eq(bw_fold_failure(fold, W_PCPU_COUNTER, NULL), 0);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_events\":7}");
	free(s);

	tick(fold, "scx_lavd", 10 * NS);
	feed_cpus(fold, W_PCPU_COUNTER, edge, 2);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_events\":9007199254740995}");
	free(s);

	/* Sums past 64 bits stay exact (as decimal strings). */
	tick(fold, "scx_lavd", 11 * NS);
	feed_cpus(fold, W_PCPU_COUNTER, big, 3);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_events\":\"55340232221128654845\"}");
	free(s);
	tick(fold, "scx_lavd", 12 * NS);
	feed_cpus(fold, W_PCPU_COUNTER, low, 2);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_events\":\"-18446744073709551616\"}");
	free(s);
	bw_fold_free(fold);
}
END_TEST

START_TEST(test_absent_never_zero)
{
	struct bw_fold *fold = make_fold();
	struct bw_fold_window win;
	struct bw_metric *list = (void *)1;
	size_t n = 9;
	char *s;

	/* Nothing fed: no keys at all. */
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{}");
	free(s);
	ck_assert_int_eq(bw_fold_metrics(fold, &list, &n, NULL), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(list);

	/* Only failures and empty per-CPU reads: still nothing. */
	tick(fold, "scx_lavd", 6 * NS);
	ck_assert_int_eq(bw_fold_failure(fold, W_GAUGE, NULL), 0);
	ck_assert_int_eq(bw_fold_failure(fold, W_COUNTER, NULL), 0);
	feed_cpus(fold, W_PCPU, NULL, 0);
	feed_cpus(fold, W_PCPU_COUNTER, NULL, 0);
	ck_assert_int_eq(bw_fold_failure(fold, W_PINNED, NULL), 0);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{}");
	free(s);

	/* A zero that was read is a real 0, and only that watch appears. */
	tick(fold, "scx_lavd", 7 * NS);
	feed(fold, W_COUNTER, bw_fold_u64(0));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_counter\":0}");
	free(s);
	bw_fold_window(fold, &win);
	ck_assert_uint_eq(win.ticks, 2);
	ck_assert_uint_eq(win.samples, 1);
	bw_fold_free(fold);
}
END_TEST

START_TEST(test_reset_and_window)
{
	struct bw_fold *fold = make_fold();
	struct bw_fold_window win;
	struct bw_error err;
	json_t *w;
	char *s;

	bw_fold_window(fold, &win);
	ck_assert_uint_eq(win.start_mono_ns, 5 * NS);
	ck_assert_int_eq(win.start_wall_ns, (int64_t)(1700000000 * NS));
	ck_assert_uint_eq(win.last_tick_mono_ns, 5 * NS);
	ck_assert_uint_eq(win.ticks, 0);
	ck_assert_uint_eq(win.samples, 0);
	ck_assert_ptr_null(win.object);

	/* A feed before any tick is a caller bug. */
	ck_assert_int_eq(bw_fold_scalar(fold, W_GAUGE, bw_fold_u64(1), &err), -EPROTO);
	ck_assert_msg_has(&err, "no tick begun");

	tick(fold, "scx_lavd", 6 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(10));
	feed(fold, W_PINNED, bw_fold_u64(3));
	tick(fold, "scx_lavd", 7 * NS + 500);
	feed(fold, W_GAUGE, bw_fold_u64(20));
	bw_fold_window(fold, &win);
	ck_assert_uint_eq(win.ticks, 2);
	ck_assert_uint_eq(win.samples, 3);
	ck_assert_str_eq(win.object, "scx_lavd");
	w = bw_fold_window_json(fold);
	s = json_dumps(w, JSON_SORT_KEYS | JSON_COMPACT);
	ck_assert_str_eq(s, "{\"duration_ns\":2000000500,\"object\":\"scx_lavd\","
			    "\"object_changes\":0,\"samples\":3,\"start_mono_ns\":5000000000,"
			    "\"start_wall_ns\":1700000000000000000,\"ticks\":2}");
	free(s);
	json_decref(w);

	bw_fold_reset(fold, 20 * NS, 1800000000 * NS);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{}");
	free(s);
	bw_fold_window(fold, &win);
	ck_assert_uint_eq(win.start_mono_ns, 20 * NS);
	ck_assert_int_eq(win.start_wall_ns, (int64_t)(1800000000 * NS));
	ck_assert_uint_eq(win.ticks, 0);
	ck_assert_uint_eq(win.samples, 0);
	ck_assert_ptr_null(win.object);
	/* The tick that was open before the reset is closed. */
	ck_assert_int_eq(bw_fold_scalar(fold, W_COUNTER, bw_fold_u64(1), &err), -EPROTO);
	/* Ticks may not go back before the window start. */
	ck_assert_int_eq(bw_fold_tick(fold, "scx_lavd", 19 * NS, &err), -EINVAL);
	ck_assert_msg_has(&err, "before the previous tick");
	tick(fold, "scx_lavd", 20 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(1));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_gauge\":1.0}");
	free(s);
	ck_assert_int_eq(bw_fold_tick(fold, "scx_lavd", 19 * NS, &err), -EINVAL);
	bw_fold_free(fold);
}
END_TEST

START_TEST(test_feed_errors)
{
	struct bw_fold *fold = make_fold();
	struct bw_fold_cpu_value dup[] = { CPU_U(1, 5), CPU_U(2, 5), CPU_U(1, 5) };
	struct bw_fold_cpu_value far[] = { CPU_U(0, 1), CPU_U(BW_FOLD_MAX_CPUS, 1) };
	struct bw_fold_cpu_value top[] = { CPU_U(BW_FOLD_MAX_CPUS - 1, 4) };
	struct bw_fold_cpu_value *many;
	struct bw_error err;
	char *s;

	tick(fold, "scx_lavd", 6 * NS);
	ck_assert_int_eq(bw_fold_scalar(fold, W_COUNT, bw_fold_u64(1), &err), -ERANGE);
	ck_assert_int_eq(bw_fold_failure(fold, (size_t)-1, &err), -ERANGE);
	ck_assert_int_eq(bw_fold_watch_stats(fold, W_COUNT, &(struct bw_fold_watch_stats){ 0 },
					     &err), -ERANGE);
	ck_assert_int_eq(bw_fold_scalar(fold, W_PCPU, bw_fold_u64(1), &err), -EINVAL);
	ck_assert_msg_has(&err, "a single-value feed for a percpu watch");
	ck_assert_int_eq(bw_fold_percpu(fold, W_GAUGE, top, 1, &err), -EINVAL);
	ck_assert_msg_has(&err, "a per-CPU feed for a scalar watch");
	ck_assert_int_eq(bw_fold_percpu(fold, W_PCPU, dup, 3, &err), -EINVAL);
	ck_assert_msg_has(&err, "CPU 1 read twice");
	ck_assert_int_eq(bw_fold_percpu(fold, W_PCPU, far, 2, &err), -EINVAL);
	ck_assert_msg_has(&err, "CPU 8192 out of range");
	many = calloc(BW_FOLD_MAX_CPUS + 1, sizeof(*many));
	ck_assert_int_eq(bw_fold_percpu(fold, W_PCPU_COUNTER, many, BW_FOLD_MAX_CPUS + 1, &err),
			 -EINVAL);
	/* Rejected feeds folded nothing and did not use up the tick. */
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{}");
	free(s);
	feed_cpus(fold, W_PCPU, top, 1);
	ck_assert_int_eq(bw_fold_percpu(fold, W_PCPU, top, 1, &err), -EALREADY);
	ck_assert_msg_has(&err, "already fed this tick");
	ck_assert_int_eq(bw_fold_failure(fold, W_PCPU, &err), -EALREADY);
	feed(fold, W_GAUGE, bw_fold_u64(2));
	ck_assert_int_eq(bw_fold_scalar(fold, W_GAUGE, bw_fold_u64(2), &err), -EALREADY);
	/* The full range of CPUs in one feed is fine. */
	for (uint32_t c = 0; c < BW_FOLD_MAX_CPUS; c++)
		many[c] = (struct bw_fold_cpu_value)CPU_U(c, 1);
	feed_cpus(fold, W_PCPU_COUNTER, many, BW_FOLD_MAX_CPUS);
	free(many);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_events\":8192,\"scx_lavd_gauge\":2.0,"
			    "\"scx_lavd_lat_avg\":4.0,\"scx_lavd_lat_max\":4}");
	free(s);

	/* The object prefix comes from the guest: refused unless it is a valid name. */
	ck_assert_int_eq(bw_fold_tick(fold, "bad\xff", 7 * NS, &err), -EINVAL);
	ck_assert_msg_has(&err, "beginning a tick: active object prefix: object");
	ck_assert_int_eq(bw_fold_tick(fold, "a.b", 7 * NS, &err), -EINVAL);
	ck_assert_int_eq(bw_fold_tick(fold, "sixteen_chars_xx", 7 * NS, &err), -EINVAL);
	ck_assert_int_eq(bw_fold_tick(fold, "", 7 * NS, &err), -EINVAL);
	/* ...and a refused tick changed nothing: the old tick is still open. */
	ck_assert_int_eq(bw_fold_scalar(fold, W_GAUGE, bw_fold_u64(2), &err), -EALREADY);
	feed(fold, W_COUNTER, bw_fold_u64(9));
	bw_fold_free(fold);
	bw_fold_free(NULL);
}
END_TEST

/*
 * Scheduler changes: a NULL prefix keeps the window; a new prefix drops the
 * unpinned watches' samples and keys them by the new prefix; pinned watches
 * and a restart under the same prefix keep everything.
 */
START_TEST(test_scheduler_change)
{
	struct bw_fold *fold = make_fold();
	struct bw_fold_cpu_value c1[] = { CPU_U(0, 40), CPU_U(1, 2) };
	struct bw_fold_watch_stats st;
	struct bw_fold_window win;
	struct bw_error err;
	char *s;

	tick(fold, "scx_lavd", 6 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(10));
	feed(fold, W_COUNTER, bw_fold_u64(1000));
	feed_cpus(fold, W_PCPU, c1, 2);
	feed(fold, W_PINNED, bw_fold_u64(77));

	/* The scheduler exits: ticks without an active object keep its metrics. */
	tick(fold, NULL, 7 * NS);
	ck_assert_int_eq(bw_fold_scalar(fold, W_GAUGE, bw_fold_u64(1), &err), -EINVAL);
	ck_assert_msg_has(&err, "no active object prefix this tick");
	feed(fold, W_PINNED, bw_fold_u64(78));	/* pinned watches need no active object */
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_counter\":1000,\"scx_lavd_gauge\":10.0,"
			    "\"scx_lavd_lat_avg\":21.0,\"scx_lavd_lat_max\":40,\"sysobj_pinned\":78}");
	free(s);

	/* The same scheduler restarts: gauges go on averaging, counters restart. */
	tick(fold, "scx_lavd", 8 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(20));
	feed(fold, W_COUNTER, bw_fold_u64(3));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_counter\":3,\"scx_lavd_gauge\":15.0,"
			    "\"scx_lavd_lat_avg\":21.0,\"scx_lavd_lat_max\":40,\"sysobj_pinned\":78}");
	free(s);
	bw_fold_window(fold, &win);
	ck_assert_uint_eq(win.object_changes, 0);

	/* Another scheduler: scx_lavd's samples go, scx_rusty's start; the pin stays. */
	tick(fold, "scx_rusty", 9 * NS);
	bw_fold_window(fold, &win);
	ck_assert_uint_eq(win.object_changes, 1);
	ck_assert_str_eq(win.object, "scx_rusty");
	ck_assert_uint_eq(win.ticks, 4);
	ck_assert_uint_eq(win.samples, 2);	/* the pinned watch's two reads */
	ck_assert_uint_eq(win.start_mono_ns, 5 * NS);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"sysobj_pinned\":78}");
	free(s);
	ck_assert_int_eq(bw_fold_watch_stats(fold, W_GAUGE, &st, NULL), 0);
	ck_assert_uint_eq(st.reads, 0);
	ck_assert_int_eq(bw_fold_watch_stats(fold, W_PINNED, &st, NULL), 0);
	ck_assert_uint_eq(st.reads, 2);
	feed(fold, W_GAUGE, bw_fold_u64(5));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_rusty_gauge\":5.0,\"sysobj_pinned\":78}");
	free(s);

	/* Switching back is another change: rusty's samples go too. */
	tick(fold, "scx_lavd", 10 * NS);
	feed(fold, W_COUNTER, bw_fold_u64(4));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"scx_lavd_counter\":4,\"sysobj_pinned\":78}");
	free(s);
	bw_fold_window(fold, &win);
	ck_assert_uint_eq(win.object_changes, 2);
	bw_fold_free(fold);
}
END_TEST

/* A pinned and an unpinned watch can meet on a key only at run time: refused, naming both. */
START_TEST(test_runtime_key_collision)
{
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_watch a = { .map_suffix = ".bss", .field = "f", .agg = BW_AGG_SCALAR_COUNTER,
			      .label = "b_c", .source_file = "x.watch", .source_line = 1 };
	struct bw_watch b = { .map_suffix = ".bss", .field = "f", .agg = BW_AGG_SCALAR_COUNTER,
			      .label = "c", .object = "a_b", .source_file = "y.watch",
			      .source_line = 4 };
	struct bw_fold *fold;
	struct bw_metric *list;
	struct bw_error err;
	json_t *m = (json_t *)1;
	size_t n;

	ck_assert_int_eq(bw_watch_set_add(set, &a, &err), 0);
	ck_assert_int_eq(bw_watch_set_add(set, &b, &err), 0);
	ck_assert_int_eq(bw_fold_new(set, 0, 0, &fold, &err), 0);
	bw_watch_set_free(set);
	tick(fold, "z", 1);
	feed(fold, 0, bw_fold_u64(1));
	feed(fold, 1, bw_fold_u64(2));
	ck_assert_int_eq(bw_fold_metrics(fold, &list, &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	bw_metrics_free(list, n);
	tick(fold, "a", 2);	/* a change: watch 0 dropped, fed again below */
	feed(fold, 0, bw_fold_u64(1));
	ck_assert_int_eq(bw_fold_metrics_json(fold, &m, &err), -EEXIST);
	ck_assert_ptr_null(m);
	ck_assert_str_eq(err.msg, "building metrics: key \"a_b_c\" is produced by watch \"b_c\" "
				  "(x.watch:1) and watch \"c\" (y.watch:4)");
	bw_fold_free(fold);
}
END_TEST

START_TEST(test_exact_integer_json)
{
	static const struct {
		__int128 v;
		const char *text;
	} cases[] = {
		{ 0, "0" },
		{ -1, "-1" },
		{ INT64_MAX, "9223372036854775807" },
		{ INT64_MIN, "-9223372036854775808" },
		{ (__int128)INT64_MAX + 1, "\"9223372036854775808\"" },
		{ (__int128)INT64_MIN - 1, "\"-9223372036854775809\"" },
		{ (__int128)UINT64_MAX, "\"18446744073709551615\"" },
		{ (__int128)(((unsigned __int128)1 << 127) - 1),
		  "\"170141183460469231731687303715884105727\"" },
		{ -(__int128)(((unsigned __int128)1 << 127) - 1) - 1,
		  "\"-170141183460469231731687303715884105728\"" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = bw_json_exact_integer(cases[i].v);
		char *s = json_dumps(j, JSON_ENCODE_ANY);

		ck_assert_str_eq(s, cases[i].text);
		free(s);
		json_decref(j);
	}
}
END_TEST

/* An empty set folds to nothing; a fold survives its set being freed. */
START_TEST(test_empty_set)
{
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_fold *fold;
	struct bw_error err;
	char *s;

	ck_assert_int_eq(bw_fold_new(set, 0, 0, &fold, &err), 0);
	bw_watch_set_free(set);
	tick(fold, "x", 0);
	ck_assert_int_eq(bw_fold_scalar(fold, 0, bw_fold_u64(1), &err), -ERANGE);
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{}");
	free(s);
	bw_fold_free(fold);
}
END_TEST

/*
 * Random feeds against an independent model: random values of both
 * signednesses, random CPU subsets and failures, random prefix changes and
 * resets; after each tick every metric must equal the model's.
 */
START_TEST(test_random_against_model)
{
	struct model {
		__int128 sum, max, last;
		uint64_t reads, readings;
	} mw[W_COUNT];
	struct bw_fold *fold = make_fold();
	struct bw_fold_cpu_value cpus[64];
	const char *prefixes[] = { "alpha", "beta", NULL };
	const char *active = NULL;
	uint64_t rnd[16], now = 5 * NS;
	unsigned int t, i;

	memset(mw, 0, sizeof(mw));
	for (t = 0; t < 3000; t++) {
		const char *obj;
		struct bw_metric *list;
		size_t n, k;

		test_fill_random(rnd, sizeof(rnd), 1000 + t);
		now += rnd[0] % NS;
		if (rnd[1] % 97 == 0) {
			bw_fold_reset(fold, now, 0);
			memset(mw, 0, sizeof(mw));
			active = NULL;
		}
		obj = prefixes[rnd[1] % 64 == 1 ? rnd[2] % 3 : (active ? (active[0] == 'b') : 0)];
		tick(fold, obj, now);
		if (obj && active && strcmp(obj, active) != 0)
			for (i = 0; i < W_COUNT; i++)
				if (i != W_PINNED)
					memset(&mw[i], 0, sizeof(mw[i]));
		if (obj)
			active = obj;
		for (i = 0; i < W_COUNT; i++) {
			uint64_t r = rnd[3 + i];
			bool sgn = r & 1;
			/* Values: small, huge, or negative; 1 in 8 a failure. */
			uint64_t bits = (r >> 8) % 3 == 0 ? (r >> 20) % 1000 : rnd[8 + i];
			struct bw_fold_value v = { .is_signed = sgn, .bits = bits };
			__int128 x = sgn ? (__int128)(int64_t)bits : (__int128)bits;

			if (i != W_PINNED && !obj)
				continue;
			if ((r >> 4) % 8 == 0) {
				ck_assert_int_eq(bw_fold_failure(fold, i, NULL), 0);
				continue;
			}
			if (i == W_GAUGE || i == W_COUNTER || i == W_PINNED) {
				feed(fold, i, v);
				mw[i].sum += x;
				mw[i].last = x;
				mw[i].reads++;
				continue;
			}
			/* A random subset of 64 CPUs, with per-CPU values. */
			{
				uint64_t mask = rnd[13] ^ (rnd[14] << i);
				size_t nc = 0;
				__int128 ts = 0;

				for (k = 0; k < 64; k++) {
					uint64_t vb;
					__int128 vx;

					if (!(mask & (1ULL << k)))
						continue;
					test_fill_random(&vb, sizeof(vb), (t << 8) ^ (k << 2) ^ i);
					if (k % 3 == 0)
						vb %= 100;
					cpus[nc] = (struct bw_fold_cpu_value){
						.cpu = (uint32_t)k * 7,
						.value = { .is_signed = sgn, .bits = vb },
					};
					vx = sgn ? (__int128)(int64_t)vb : (__int128)vb;
					if (mw[i].readings == 0 && nc == 0)
						mw[i].max = vx;
					else if (vx > mw[i].max)
						mw[i].max = vx;
					ts += vx;
					nc++;
				}
				feed_cpus(fold, i, cpus, nc);
				if (nc) {
					mw[i].sum += ts;
					mw[i].last = ts;
					mw[i].reads++;
					mw[i].readings += nc;
				}
			}
		}
		ck_assert_int_eq(bw_fold_metrics(fold, &list, &n, NULL), 0);
		k = 0;
		for (i = 0; i < W_COUNT; i++) {
			if (!mw[i].reads)
				continue;
			switch (i) {
			case W_GAUGE: {
				long double want = (long double)mw[i].sum / mw[i].reads;

				ck_assert_uint_lt(k, n);
				ck_assert_int_eq(list[k].kind, BW_METRIC_REAL);
				ck_assert_msg(fabsl(list[k].real - want) <= fabsl(want) * 1e-15L + 1e-9L,
					      "tick %u: mean %.17g want %.17Lg", t, list[k].real, want);
				k++;
				break;
			}
			case W_PCPU: {
				long double want = (long double)mw[i].sum / mw[i].readings;

				ck_assert_uint_lt(k + 1, n);
				ck_assert_msg(fabsl(list[k].real - want) <= fabsl(want) * 1e-15L + 1e-9L,
					      "tick %u: avg %.17g want %.17Lg", t, list[k].real, want);
				ck_assert(list[k + 1].integer == mw[i].max);
				k += 2;
				break;
			}
			default:
				ck_assert_uint_lt(k, n);
				ck_assert_int_eq(list[k].kind, BW_METRIC_INTEGER);
				ck_assert_msg(list[k].integer == mw[i].last, "tick %u watch %u", t, i);
				k++;
				break;
			}
		}
		ck_assert_uint_eq(k, n);
		bw_metrics_free(list, n);
	}
	bw_fold_free(fold);
}
END_TEST

/* Real readings (Across=avg) and text readings (char[] leaves). */
START_TEST(test_real_and_text)
{
	struct bw_fold *fold = make_fold();
	struct bw_error err;
	json_t *m, *keys;
	char *s;

	tick(fold, "obj", 6 * NS);
	ck_assert_int_eq(bw_fold_real(fold, W_GAUGE, 1.5, &err), 0);
	ck_assert_int_eq(bw_fold_text(fold, W_COUNTER, "tick-1", &err), 0);
	/* text keeps only the last value: not for a gauge */
	ck_assert_int_eq(bw_fold_text(fold, W_PINNED, "x", &err), 0);
	tick(fold, "obj", 7 * NS);
	ck_assert_int_eq(bw_fold_real(fold, W_GAUGE, 2.0, &err), 0);
	ck_assert_int_eq(bw_fold_text(fold, W_COUNTER, "tick-2", &err), 0);
	/* One form of value per window. */
	ck_assert_int_eq(bw_fold_text(fold, W_PINNED, "y", &err), 0);
	tick(fold, "obj", 8 * NS);
	ck_assert_int_eq(bw_fold_scalar(fold, W_GAUGE, bw_fold_u64(1), &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "integer value after real values"));
	ck_assert_int_eq(bw_fold_real(fold, W_COUNTER, 1.0, &err), -EINVAL);
	ck_assert_int_eq(bw_fold_real(fold, W_PINNED, NAN, &err), -EINVAL);
	ck_assert_int_eq(bw_fold_text(fold, W_GAUGE, "no", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "scalar-counter"));
	s = metrics_text(fold);
	ck_assert_str_eq(s, "{\"obj_counter\":\"tick-2\",\"obj_gauge\":1.75,\"sysobj_pinned\":\"y\"}");
	free(s);
	ck_assert_int_eq(bw_fold_text_keys_json(fold, &keys, &err), 0);
	s = json_dumps(keys, JSON_COMPACT);
	ck_assert_str_eq(s, "[\"obj_counter\",\"sysobj_pinned\"]");
	free(s);
	json_decref(keys);
	/* A reset forgets the form as well as the values. */
	bw_fold_reset(fold, 9 * NS, 1700000009 * NS);
	tick(fold, "obj", 10 * NS);
	feed(fold, W_GAUGE, bw_fold_u64(4));
	m = metrics(fold);
	ck_assert(json_is_real(json_object_get(m, "obj_gauge")));
	json_decref(m);
	bw_fold_free(fold);
}
END_TEST

static Suite *fold_suite(void)
{
	Suite *s = suite_create("fold");
	TCase *tc = tcase_create("fold");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_scalar_mean);
	tcase_add_test(tc, test_scalar_counter_exact);
	tcase_add_test(tc, test_percpu);
	tcase_add_test(tc, test_percpu_counter);
	tcase_add_test(tc, test_absent_never_zero);
	tcase_add_test(tc, test_reset_and_window);
	tcase_add_test(tc, test_feed_errors);
	tcase_add_test(tc, test_scheduler_change);
	tcase_add_test(tc, test_runtime_key_collision);
	tcase_add_test(tc, test_exact_integer_json);
	tcase_add_test(tc, test_empty_set);
	tcase_add_test(tc, test_real_and_text);
	tcase_add_test(tc, test_random_against_model);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(fold_suite)
