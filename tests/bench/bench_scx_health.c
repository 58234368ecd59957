/* SPDX-License-Identifier: MIT */
/*
 * What the built-in sched_ext health metrics (lib/scx_health.h) add to a
 * tick, at 2, 64 and 256 CPUs.
 *
 * On a synthetic 7.x-shaped guest kernel (util_kernel.h, TK_HEALTH_7: 12
 * event counters per CPU in scx_sched.pcpu, runqueues, an attached
 * scheduler), in the steady state: nothing changes between ticks, no
 * task is stalled.  Each size is timed twice: the watch engine's tick with
 * no watches (the fixed cost a tick has today), and the health tick
 * (bw_scx_health_tick) alone, which runs beside it in the daemon; the
 * figure per CPU is the health tick's cost divided by the CPUs, set
 * against the target of 20 ns per CPU.  A third line has one runnable
 * (not stalled) task queued on every CPU: the stall check then reads the
 * first task's runnable_at on each CPU.
 *
 * Every figure is the median over batches of BATCH_TICKS ticks after a
 * warm-up; after timing, the health metrics must hold the sums the guest
 * has, or no figure is printed.  Figures only: the exit status is 0 unless
 * the synthetic guest could not be built or read correctly.
 *
 * Env: BW_BENCH_TICKS (timed ticks per figure, default 20000).
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "scx_health.h"
#include "util_kernel.h"

#define BATCH_TICKS 100
#define DEFAULT_TICKS 20000
#define MAX_TICKS 10000000
#define WARMUP_TICKS 2000
#define TARGET_NS_PER_CPU 20.0
#define FN_DEMO 0xffffffffc0100000ULL
#define TICK_NS 100000000ULL

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct subject {
	struct bw_engine *engine;
	struct bw_scx_health *health;
	uint64_t now;
};

static int one_tick(struct subject *s, bool health)
{
	struct bw_error err = { 0 };

	s->now += TICK_NS;
	if (health)
		return bw_scx_health_tick(s->health, s->now, (int64_t)s->now, &err);
	return bw_engine_tick(s->engine, s->now, (int64_t)s->now, &err);
}

/* Median ns per tick, or a negative value when a tick failed. */
static double time_ticks(struct subject *s, bool health, int batches)
{
	double *per = calloc((size_t)batches, sizeof(*per)), median;

	for (int i = 0; i < WARMUP_TICKS; i++)
		if (one_tick(s, health) < 0)
			return -1;
	for (int b = 0; b < batches; b++) {
		uint64_t t0 = mono();

		for (int i = 0; i < BATCH_TICKS; i++)
			if (one_tick(s, health) < 0) {
				free(per);
				return -1;
			}
		per[b] = (double)(mono() - t0) / BATCH_TICKS;
	}
	qsort(per, (size_t)batches, sizeof(*per), cmp_double);
	median = per[batches / 2];
	free(per);
	return median;
}

/* The health metrics hold what the guest has: nr_running and one event summed. */
static bool metrics_right(struct bw_scx_health *h, uint32_t ncpus)
{
	json_t *m = json_object();
	bool ok;

	ok = bw_scx_health_metrics_json(h, m, NULL) == 0 &&
	     json_integer_value(json_object_get(m, "sched_ext_nr_running")) == (json_int_t)ncpus &&
	     json_integer_value(json_object_get(m, "sched_ext_event_select_cpu_fallback")) ==
		     (json_int_t)(7 * ncpus) &&
	     json_integer_value(json_object_get(m, "sched_ext_enabled")) == 1;
	json_decref(m);
	return ok;
}

static int bench_size(uint32_t ncpus, int batches)
{
	struct test_kernel *tk = tk_new(&(struct tk_opts){ .nr_cpus = ncpus, .scx = TK_SCX_ROOT,
							    .health = TK_HEALTH_7 });
	const struct tk_health_layout *l = &tk->hlay;
	struct subject s = { .now = 1000000000ULL };
	struct bw_error err = { 0 };
	struct tk_map ops = tk_add_struct_ops(tk, "bw_demo_ops", 0, "bw_demo", FN_DEMO);
	uint64_t sched, pcpu;
	double empty, health, queued;
	int r = 0;

	tk_attach(tk, &ops);
	sched = tk_get(tk, tk->scx_root, 8);
	pcpu = tk_percpu_alloc(tk, l->pcpu_size);
	tk_put(tk, sched + l->sched_events, pcpu, 8);
	for (uint32_t c = 0; c < ncpus; c++) {
		uint64_t rq = tk->runqueues + tk->per_cpu_offset[c];
		uint64_t head = rq + l->rq_scx + l->scx_runnable_list;

		tk_put(tk, head, head, 8);
		tk_put(tk, rq + l->rq_scx + l->scx_nr_running, 1, 4);
		tk_put(tk, pcpu + tk->per_cpu_offset[c] + l->pcpu_event_stats, 7, 8);
	}
	if (bw_engine_new(tk->k, NULL, s.now, 0, &s.engine, &err) < 0 ||
	    bw_scx_health_new(tk->k, 2000, s.now, 0, &s.health, &err) < 0) {
		fprintf(stderr, "bench_scx_health: %s\n", err.msg);
		r = -1;
		goto out;
	}
	empty = time_ticks(&s, false, batches);
	health = time_ticks(&s, true, batches);
	if (empty < 0 || health < 0 || !metrics_right(s.health, ncpus)) {
		fprintf(stderr, "bench_scx_health: %u CPUs: a tick failed or read wrong values\n",
			ncpus);
		r = -1;
		goto out;
	}
	/* One queued, fresh task per CPU: the stall check reads its runnable_at. */
	for (uint32_t c = 0; c < ncpus; c++) {
		uint64_t rq = tk->runqueues + tk->per_cpu_offset[c];
		uint64_t head = rq + l->rq_scx + l->scx_runnable_list;
		uint64_t t = tk_kmalloc(tk, l->task_size);

		tk_put(tk, t + l->task_runnable_node, head, 8);
		tk_put(tk, t + l->task_runnable_at, ~0ULL >> 1, 8);	/* "now" for ever */
		tk_put(tk, head, t + l->task_runnable_node, 8);
	}
	tk_put(tk, tk->jiffies, ~0ULL >> 1, 8);
	queued = time_ticks(&s, true, batches);
	printf("%4u CPUs  engine tick (no watches) %7.0f ns   health tick %7.0f ns = %5.1f ns/CPU "
	       "(target <= %.0f: %s)   with a task queued per CPU %7.0f ns = %5.1f ns/CPU\n",
	       ncpus, empty, health, health / ncpus, TARGET_NS_PER_CPU,
	       health / ncpus <= TARGET_NS_PER_CPU ? "met" : "NOT met", queued, queued / ncpus);
out:
	bw_scx_health_free(s.health);
	bw_engine_free(s.engine);
	tk_free(tk);
	return r;
}

static int batches = DEFAULT_TICKS / BATCH_TICKS;

START_TEST(test_health_ticks)
{
	static const uint32_t sizes[] = { 2, 64, 256 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		ck_assert_int_eq(bench_size(sizes[i], batches), 0);
}
END_TEST

static Suite *bench_suite(void)
{
	Suite *s = suite_create("bench_scx_health");
	TCase *tc = tcase_create("ticks");

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_health_ticks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *env = getenv("BW_BENCH_TICKS");
	long ticks = env && *env ? strtol(env, NULL, 10) : DEFAULT_TICKS;
	SRunner *runner;
	int failed;

	if (ticks < BATCH_TICKS || ticks > MAX_TICKS) {
		fprintf(stderr, "BW_BENCH_TICKS: %s is not %d..%d\n", env, BATCH_TICKS, MAX_TICKS);
		return 1;
	}
	batches = (int)(ticks / BATCH_TICKS);
	printf("sched_ext health: median over %d batches of %d ticks after %d warm-up ticks\n",
	       batches, BATCH_TICKS, WARMUP_TICKS);
	fflush(stdout);
	/* In-process, as bench_engine: the test kernel's checks need a runner, timing no fork. */
	runner = srunner_create(bench_suite());
	srunner_set_fork_status(runner, CK_NOFORK);
	srunner_run_all(runner, CK_SILENT);
	failed = srunner_ntests_failed(runner);
	if (failed) {
		TestResult **res = srunner_failures(runner);

		for (int i = 0; i < failed; i++)
			fprintf(stderr, "bench_scx_health: %s:%d: %s\n", tr_lfile(res[i]),
				tr_lno(res[i]), tr_msg(res[i]));
		free(res);
	}
	srunner_free(runner);
	return failed ? 1 : 0;
}
