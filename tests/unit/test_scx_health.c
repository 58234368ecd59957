/* SPDX-License-Identifier: MIT */
/*
 * sched_ext health out of a synthetic kernel: the event counters summed over
 * synthetic per-CPU areas in each kernel layout (6.16 event_stats_cpu, 6.18
 * pcpu, 7.x pcpu with bypass_depth in scx_sched), runqueue gauges, the exit
 * record (taken, kept, cleared on the next attach, missed), stalled tasks
 * and wedged CPUs, the window rules, and guest memory that lies; and the
 * folded metrics as the daemon publishes them (OpenMetrics, the Prometheus
 * text through promtool when it is installed, scx_stats).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "openmetrics.h"
#include "scx_health.h"
#include "scx_stats.h"
#include "util_kernel.h"

#define FN_DEMO 0xffffffffc0100000ULL
#define NCPUS 4
#define MS 1000000ULL
#define HZ 250

struct fixture {
	struct test_kernel *tk;
	struct bw_scx_health *h;
	struct tk_map ops;
	uint64_t sched, pcpu, now, jiffies;
};

static uint64_t rq(struct fixture *f, uint32_t cpu)
{
	return f->tk->runqueues + f->tk->per_cpu_offset[cpu];
}

static void rq_put(struct fixture *f, uint32_t cpu, uint64_t off, uint64_t v, unsigned int w)
{
	tk_put(f->tk, rq(f, cpu) + off, v, w);
}

static void lists_empty(struct fixture *f)
{
	const struct tk_health_layout *l = &f->tk->hlay;

	for (uint32_t c = 0; c < NCPUS; c++) {
		uint64_t head = rq(f, c) + l->rq_scx + l->scx_runnable_list;

		tk_put(f->tk, head, head, 8);
		tk_put(f->tk, head + 8, head, 8);
	}
}

/* Attach a scheduler and give its scx_sched per-CPU counters. */
static void attach(struct fixture *f)
{
	const struct tk_health_layout *l = &f->tk->hlay;

	tk_attach(f->tk, &f->ops);
	f->sched = tk_get(f->tk, f->tk->scx_root, 8);
	f->pcpu = tk_percpu_alloc(f->tk, l->pcpu_size ? l->pcpu_size : 8 * l->nevents);
	tk_put(f->tk, f->sched + l->sched_events, f->pcpu, 8);
}

static uint64_t event_addr(struct fixture *f, uint32_t cpu, unsigned int i)
{
	return f->pcpu + f->tk->per_cpu_offset[cpu] + f->tk->hlay.pcpu_event_stats + 8 * i;
}

static void tick(struct fixture *f)
{
	struct bw_error err = { 0 };

	f->now += 100 * MS;
	f->jiffies += HZ / 10;
	tk_put(f->tk, f->tk->jiffies, f->jiffies, 8);
	ck_assert_msg(bw_scx_health_tick(f->h, f->now, (int64_t)f->now, &err) == 0, "%s", err.msg);
}

static void setup(struct fixture *f, enum tk_health h)
{
	struct bw_error err = { 0 };

	memset(f, 0, sizeof(*f));
	f->tk = tk_new(&(struct tk_opts){ .nr_cpus = NCPUS, .scx = TK_SCX_ROOT, .health = h });
	f->jiffies = 100000;
	f->now = 1000 * MS;
	lists_empty(f);
	f->ops = tk_add_struct_ops(f->tk, "bw_demo_ops", 0, "bw_demo", FN_DEMO);
	ck_assert_msg(bw_scx_health_new(f->tk->k, 2000, f->now, 0, &f->h, &err) == 0, "%s",
		      err.msg);
}

static void teardown(struct fixture *f)
{
	bw_scx_health_free(f->h);
	tk_free(f->tk);
}

static json_t *metrics(struct fixture *f)
{
	json_t *m = json_object();
	struct bw_error err = { 0 };

	ck_assert_msg(bw_scx_health_metrics_json(f->h, m, &err) == 0, "%s", err.msg);
	return m;
}

static json_t *status(struct fixture *f)
{
	json_t *st = NULL;

	ck_assert_int_eq(bw_scx_health_status_json(f->h, &st, NULL), 0);
	return st;
}

static json_t *exit_rec(struct fixture *f)
{
	json_t *x = NULL;

	ck_assert_int_eq(bw_scx_health_exit_json(f->h, &x, NULL), 0);
	return x;
}

static json_int_t mint(json_t *m, const char *key)
{
	json_t *v = json_object_get(m, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer metric", key);
	return json_integer_value(v);
}

static void check_events(enum tk_health h)
{
	struct fixture f;
	json_t *m, *st, *ev;
	char key[96];

	setup(&f, h);
	tick(&f);
	m = metrics(&f);
	/* Nothing attached: state read, no events, no ops. */
	ck_assert_str_eq(json_string_value(json_object_get(m, "sched_ext_state")), "disabled");
	ck_assert_int_eq(mint(m, "sched_ext_enabled"), 0);
	ck_assert_ptr_null(json_object_get(m, "sched_ext_ops"));
	ck_assert_ptr_null(json_object_get(m, "sched_ext_event_select_cpu_fallback"));
	json_decref(m);

	attach(&f);
	for (uint32_t c = 0; c < NCPUS; c++)
		for (unsigned int i = 0; i < f.tk->hlay.nevents; i++)
			tk_put(f.tk, event_addr(&f, c, i), 1000 * (i + 1) + c, 8);
	/* A negative per-CPU count (events are s64) and one near the top of s64. */
	tk_put(f.tk, event_addr(&f, 3, 0), (uint64_t)-5, 8);
	tk_put(f.tk, event_addr(&f, 1, 1), (uint64_t)INT64_MAX, 8);
	for (uint32_t c = 0; c < NCPUS; c++) {
		rq_put(&f, c, f.tk->hlay.rq_scx + f.tk->hlay.scx_nr_running, c + 1, 4);
		rq_put(&f, c, f.tk->hlay.rq_scx + f.tk->hlay.scx_dsq_nr, 2 * c, 4);
	}
	if (f.tk->bypass_depth)
		tk_put(f.tk, f.tk->bypass_depth, 1, 4);
	else
		tk_put(f.tk, f.sched + f.tk->hlay.sched_bypass, 1, 4);
	tick(&f);
	m = metrics(&f);
	st = status(&f);
	ev = json_object_get(st, "events");
	ck_assert_uint_eq(json_object_size(ev), f.tk->hlay.nevents);
	for (unsigned int i = 2; i < f.tk->hlay.nevents; i++) {
		char lower[64];
		const char *n = f.tk->hlay.event_names[i] + 7;
		json_int_t want = 4 * 1000 * (i + 1) + 0 + 1 + 2 + 3;

		for (size_t j = 0; j <= strlen(n); j++)
			lower[j] = (char)(n[j] >= 'A' && n[j] <= 'Z' ? n[j] - 'A' + 'a' : n[j]);
		snprintf(key, sizeof(key), "sched_ext_event_%s", lower);
		ck_assert_msg(mint(m, key) == want, "%s: %lld", key, (long long)mint(m, key));
		ck_assert_int_eq(json_integer_value(json_object_get(ev, lower)), want);
	}
	ck_assert_int_eq(mint(m, "sched_ext_event_select_cpu_fallback"), 1000 + 1001 + 1002 - 5);
	/* Beyond s64: the exact sum as a decimal string. */
	ck_assert_str_eq(json_string_value(json_object_get(m,
			 "sched_ext_event_dispatch_local_dsq_offline")), "9223372036854781812");
	ck_assert_int_eq(mint(m, "sched_ext_nr_running"), 1 + 2 + 3 + 4);
	ck_assert_int_eq(mint(m, "sched_ext_nr_running_max"), 4);
	ck_assert_int_eq(mint(m, "sched_ext_local_dsq_depth"), 0 + 2 + 4 + 6);
	ck_assert_int_eq(mint(m, "sched_ext_bypass_depth"), 1);
	ck_assert_int_eq(mint(m, "sched_ext_attaches"), 1);
	ck_assert_int_eq(mint(m, "sched_ext_enabled"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(m, "sched_ext_ops")), "bw_demo");
	ck_assert_str_eq(json_string_value(json_object_get(m, "sched_ext_state")), "enabled");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(st, "layout"), "events")),
			 h == TK_HEALTH_6_16 ? "event_stats_cpu" : "pcpu");
	json_decref(m);
	json_decref(st);

	/* A CPU whose counters do not translate: no event metric this tick, never a part sum. */
	bw_scx_health_reset(f.h, f.now, 0);
	tk_unmap(f.tk, event_addr(&f, 2, 0));
	tk_detach(f.tk);
	tick(&f);
	tk_attach(f.tk, &f.ops);
	tk_put(f.tk, tk_get(f.tk, f.tk->scx_root, 8) + f.tk->hlay.sched_events, f.pcpu, 8);
	tick(&f);
	m = metrics(&f);
	ck_assert_ptr_null(json_object_get(m, "sched_ext_event_select_cpu_fallback"));
	ck_assert_int_eq(mint(m, "sched_ext_nr_running"), 10);
	json_decref(m);
	teardown(&f);
}

START_TEST(test_events_6_16) { check_events(TK_HEALTH_6_16); }
END_TEST

START_TEST(test_events_6_18) { check_events(TK_HEALTH_6_18); }
END_TEST

START_TEST(test_events_7) { check_events(TK_HEALTH_7); }
END_TEST

static uint64_t put_string(struct fixture *f, const char *s)
{
	uint64_t va = tk_kmalloc(f->tk, strlen(s) + 1);

	tk_write(f->tk, va, s, strlen(s) + 1);
	return va;
}

/* The kernel's order: exit_kind, then the record's fields, kind last. */
static void kernel_exit(struct fixture *f, int32_t kind, const char *reason, const char *msg)
{
	const struct tk_health_layout *l = &f->tk->hlay;
	uint64_t ei = tk_kmalloc(f->tk, l->ei_size);

	tk_put(f->tk, f->sched + l->sched_exit_info, ei, 8);
	tk_put(f->tk, f->sched + l->sched_exit_kind, (uint32_t)kind, 4);
	tk_put(f->tk, ei + l->ei_code, 7, 8);
	tk_put(f->tk, ei + l->ei_msg, put_string(f, msg), 8);
	tk_put(f->tk, ei + l->ei_reason, put_string(f, reason), 8);
	tk_put(f->tk, ei + l->ei_dump, put_string(f, "line one\nline two"), 8);
	tk_put(f->tk, ei + l->ei_kind, (uint32_t)kind, 4);
}

START_TEST(test_exit_record)
{
	struct fixture f;
	json_t *x, *e, *m;

	setup(&f, TK_HEALTH_7);
	attach(&f);
	tick(&f);
	x = exit_rec(&f);
	ck_assert(json_is_true(json_object_get(x, "attached")));
	ck_assert(json_is_null(json_object_get(x, "exit")));
	json_decref(x);

	kernel_exit(&f, 1025, "scx_bpf_error", "bw_demo: boom");
	tick(&f);
	tk_detach(f.tk);
	tick(&f);
	x = exit_rec(&f);
	e = json_object_get(x, "exit");
	ck_assert(json_is_false(json_object_get(x, "attached")));
	ck_assert_int_eq(json_integer_value(json_object_get(e, "kind")), 1025);
	ck_assert_str_eq(json_string_value(json_object_get(e, "kind_name")), "SCX_EXIT_ERROR_BPF");
	ck_assert_str_eq(json_string_value(json_object_get(e, "reason")), "scx_bpf_error");
	ck_assert_str_eq(json_string_value(json_object_get(e, "msg")), "bw_demo: boom");
	ck_assert_str_eq(json_string_value(json_object_get(e, "dump")), "line one\nline two");
	ck_assert_str_eq(json_string_value(json_object_get(e, "ops")), "bw_demo");
	ck_assert_int_eq(json_integer_value(json_object_get(e, "code")), 7);
	ck_assert(json_is_false(json_object_get(e, "missed")));
	json_decref(x);
	m = metrics(&f);
	ck_assert_int_eq(mint(m, "sched_ext_exit_kind"), 1025);
	ck_assert_int_eq(mint(m, "sched_ext_exit_missed"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(m, "sched_ext_exit_reason")),
			 "scx_bpf_error");
	json_decref(m);

	/* A new scheduler still enabling: the last exit stays readable. */
	attach(&f);
	tk_put(f.tk, f.tk->scx_state, 0, 4);	/* SCX_ENABLING */
	tick(&f);
	x = exit_rec(&f);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x, "exit"), "kind")),
			 1025);
	json_decref(x);
	/* Enabled: it goes; a scheduler gone between two ticks is then a missed exit. */
	tk_put(f.tk, f.tk->scx_state, 1, 4);
	tick(&f);
	x = exit_rec(&f);
	ck_assert(json_is_null(json_object_get(x, "exit")));
	json_decref(x);
	tk_detach(f.tk);
	tick(&f);
	x = exit_rec(&f);
	e = json_object_get(x, "exit");
	ck_assert(json_is_true(json_object_get(e, "missed")));
	ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "missed_reason")));
	json_decref(x);
	m = metrics(&f);
	ck_assert_int_eq(mint(m, "sched_ext_exit_missed"), 1);
	ck_assert_int_eq(mint(m, "sched_ext_attaches"), 2);
	json_decref(m);

	/* A reset drops the window; the record itself stays for `exit`. */
	bw_scx_health_reset(f.h, f.now, 0);
	m = metrics(&f);
	ck_assert_uint_eq(json_object_size(m), 0);
	json_decref(m);
	x = exit_rec(&f);
	ck_assert(json_is_true(json_object_get(json_object_get(x, "exit"), "missed")));
	json_decref(x);
	teardown(&f);
}
END_TEST

/* Strings that never end, pointers to nowhere: bounded text or nothing. */
START_TEST(test_exit_record_garbage)
{
	struct fixture f;
	const struct tk_health_layout *l;
	uint64_t ei, big;
	json_t *x, *e;
	char *fill;

	setup(&f, TK_HEALTH_7);
	l = &f.tk->hlay;
	attach(&f);
	ei = tk_kmalloc(f.tk, l->ei_size);
	big = tk_kmalloc(f.tk, 8192);
	fill = malloc(8192);
	memset(fill, 'A', 8192);
	tk_write(f.tk, big, fill, 8192);
	free(fill);
	tk_put(f.tk, f.sched + l->sched_exit_info, ei, 8);
	tk_put(f.tk, f.sched + l->sched_exit_kind, 1024, 4);
	tk_put(f.tk, ei + l->ei_reason, big, 8);
	tk_put(f.tk, ei + l->ei_msg, 0xdead000000000000ULL, 8);
	tk_put(f.tk, ei + l->ei_dump, TK_VMALLOC_BASE + 0x7ff000, 8);
	tk_put(f.tk, ei + l->ei_kind, 99999, 4);
	tick(&f);
	x = exit_rec(&f);
	e = json_object_get(x, "exit");
	ck_assert_str_eq(json_string_value(json_object_get(e, "kind_name")), "unknown");
	ck_assert_uint_lt(strlen(json_string_value(json_object_get(e, "reason"))), 128);
	ck_assert_str_eq(json_string_value(json_object_get(e, "msg")), "");
	ck_assert(json_is_null(json_object_get(e, "dump")));
	json_decref(x);
	teardown(&f);
}
END_TEST

static uint64_t add_task(struct fixture *f, uint32_t cpu, int32_t pid, const char *comm,
			 uint64_t runnable_at, uint64_t prev_node)
{
	const struct tk_health_layout *l = &f->tk->hlay;
	uint64_t t = tk_kmalloc(f->tk, l->task_size), node = t + l->task_runnable_node;
	uint64_t head = rq(f, cpu) + l->rq_scx + l->scx_runnable_list;

	tk_put(f->tk, t + l->task_pid, (uint32_t)pid, 4);
	tk_write(f->tk, t + l->task_comm, comm, strlen(comm) + 1);
	tk_put(f->tk, t + l->task_runnable_at, runnable_at, 8);
	tk_put(f->tk, node, head, 8);
	tk_put(f->tk, prev_node ? prev_node : head, node, 8);
	return node;
}

START_TEST(test_stalls)
{
	struct fixture f;
	json_t *m, *st, *s0;
	uint64_t n1;

	setup(&f, TK_HEALTH_7);
	attach(&f);
	for (uint32_t c = 0; c < NCPUS; c++)
		rq_put(&f, c, f.tk->hlay.rq_scx + f.tk->hlay.scx_nr_running, 0, 4);
	/* HZ is measured first: a second of ticks. */
	for (int i = 0; i < 12; i++)
		tick(&f);
	st = status(&f);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "hz")), HZ);
	json_decref(st);
	/* CPU 2: one task waiting 3 s, then one waiting 10 ms (ordered by runnable_at). */
	n1 = add_task(&f, 2, 4242, "stuck", f.jiffies - 3 * HZ, 0);
	add_task(&f, 2, 4243, "fresh", f.jiffies, n1);
	rq_put(&f, 2, f.tk->hlay.rq_scx + f.tk->hlay.scx_nr_running, 2, 4);
	tick(&f);
	m = metrics(&f);
	st = status(&f);
	ck_assert_int_eq(mint(m, "sched_ext_stalled_tasks"), 1);
	ck_assert_int_eq(mint(m, "sched_ext_stalled_tasks_max"), 1);
	ck_assert_int_eq(mint(m, "sched_ext_stalls"), 1);
	s0 = json_array_get(json_object_get(st, "stalls"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(s0, "cpu")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(s0, "pid")), 4242);
	ck_assert_str_eq(json_string_value(json_object_get(s0, "comm")), "stuck");
	ck_assert_int_ge(json_integer_value(json_object_get(s0, "waiting_ms")), 3000);
	json_decref(m);
	json_decref(st);

	/* The runqueue clock of CPU 2 stands still for 2 s with tasks: wedged. */
	for (int i = 0; i < 21; i++)
		tick(&f);
	m = metrics(&f);
	ck_assert_int_eq(mint(m, "sched_ext_wedged_cpus"), 1);
	ck_assert_int_eq(mint(m, "sched_ext_stalls"), 1);	/* still the same stall */
	json_decref(m);

	/* A list that loops back on a stalled task: the walk is bounded. */
	tk_put(f.tk, n1, n1, 8);
	tick(&f);
	m = metrics(&f);
	ck_assert_int_le(mint(m, "sched_ext_stalled_tasks"), 32);
	ck_assert_int_ge(mint(m, "sched_ext_stalled_tasks"), 1);
	json_decref(m);
	/* A list pointing nowhere: no stalled task counted, no crash. */
	tk_put(f.tk, rq(&f, 2) + f.tk->hlay.rq_scx + f.tk->hlay.scx_runnable_list,
	       0xdead000000001000ULL, 8);
	tick(&f);
	m = metrics(&f);
	ck_assert_int_eq(mint(m, "sched_ext_stalled_tasks"), 0);
	json_decref(m);
	teardown(&f);
}
END_TEST

START_TEST(test_no_sched_ext)
{
	struct test_kernel *tk = tk_new(&(struct tk_opts){ .nr_cpus = 2, .scx = TK_SCX_NONE });
	struct bw_scx_health *h = NULL;
	struct bw_error err = { 0 };

	ck_assert_int_lt(bw_scx_health_new(tk->k, 0, 1, 0, &h, &err), 0);
	ck_assert_ptr_null(h);
	ck_assert_ptr_nonnull(strstr(err.msg, "sched_ext"));
	tk_free(tk);
}
END_TEST

START_TEST(test_key_prefix)
{
	ck_assert(bw_scx_health_key("sched_ext_enabled"));
	ck_assert(!bw_scx_health_key("sched_ex_enabled"));
	ck_assert(!bw_scx_health_key("bw_demo_runs"));
}
END_TEST

/* The Prometheus text through promtool's linter: 1 clean, 0 not, -1 no promtool. */
static int promtool_clean(const char *text, char *out, size_t len)
{
	char path[] = "/tmp/bw_health_prom.XXXXXX", cmd[128];
	FILE *f, *p;
	size_t n;
	int fd, st;

	if (system("command -v promtool >/dev/null 2>&1") != 0)
		return -1;
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	st = pclose(p);
	unlink(path);
	return st == 0 && n == 0;
}

static json_t *reply_of(void *m)
{
	return json_pack("{s:{}, s:O}", "window", "metrics", (json_t *)m);
}

static json_t *stats_of(void *m)
{
	json_t *reply = reply_of(m), *values = json_object();

	ck_assert_int_eq(scx_stats_health_values(values, reply), 0);
	json_decref(reply);
	return values;
}

static json_t *meta_of(void *h)
{
	json_t *fields = json_object();

	ck_assert_int_eq(scx_stats_health_fields(fields, h), 0);
	return fields;
}

/* One scx_stats request line answered from @src: its "resp", and the line in @line. */
static json_t *scx_ask(const struct scx_stats_source *src, const char *req, char **line)
{
	size_t len;
	json_t *env, *resp;

	*line = scx_stats_answer_line(src, req, strlen(req), &len);
	ck_assert_ptr_nonnull(*line);
	env = json_loads(*line, JSON_DECODE_INT_AS_REAL, NULL);
	ck_assert_msg(env, "%s", *line);
	ck_assert_int_eq(json_integer_value(json_object_get(env, "errno")), 0);
	resp = json_incref(json_object_get(json_object_get(env, "args"), "resp"));
	json_decref(env);
	return resp;
}

static double num(const json_t *o, const char *key)
{
	ck_assert_msg(json_is_number(json_object_get(o, key)), "%s is not a number", key);
	return json_number_value(json_object_get(o, key));
}

/* @needle in the rendering @t (printed whole on stderr when not: check cuts long messages). */
static void has(const char *t, const char *needle)
{
	if (!strstr(t, needle))
		fprintf(stderr, "----\n%s----\n", t);
	ck_assert_msg(strstr(t, needle), "not in the rendering: %s", needle);
}

START_TEST(test_published)
{
	struct fixture f;
	json_t *m, *reply, *top, *fields, *field;
	struct openmetrics_input in = { .vm = "vm1" };
	char *t, lint[4096];
	int clean;

	setup(&f, TK_HEALTH_7);
	attach(&f);
	for (uint32_t c = 0; c < NCPUS; c++) {
		tk_put(f.tk, event_addr(&f, c, 0), 10 + c, 8);
		rq_put(&f, c, f.tk->hlay.rq_scx + f.tk->hlay.scx_nr_running, c + 1, 4);
	}
	tk_put(f.tk, event_addr(&f, 1, 1), (uint64_t)INT64_MAX, 8);
	tk_put(f.tk, event_addr(&f, 2, 1), 10, 8);
	tick(&f);
	kernel_exit(&f, 1025, "scx_bpf_error", "bw_demo: \"boom\"\nat \\here");
	tick(&f);
	tk_detach(f.tk);
	tick(&f);
	m = metrics(&f);
	reply = reply_of(m);
	in.metrics = reply;

	t = openmetrics_render(&in, OPENMETRICS_1_0);
	ck_assert_ptr_nonnull(t);
	/* Counters, with # HELP naming the kernel structure. */
	has(t, "# TYPE sched_ext_attaches counter\n"
			     "sched_ext_attaches_total{vm=\"vm1\"} 1\n");
	has(t, "# HELP sched_ext_event_select_cpu_fallback the kernel's sched_ext "
			     "event counter (struct scx_event_stats member SCX_EV_<name>");
	has(t, "# TYPE sched_ext_event_select_cpu_fallback counter\n"
			     "sched_ext_event_select_cpu_fallback_total{vm=\"vm1\"} 46\n");
	has(t, "sched_ext_event_dispatch_local_dsq_offline_total{vm=\"vm1\"} "
			     "9223372036854775817\n");
	has(t, "# TYPE sched_ext_wedged_cpus gauge\nsched_ext_wedged_cpus{vm=\"vm1\"} 0\n");
	/* Gauges: the sums over CPUs and the per-CPU _avg/_max of the window. */
	has(t, "# HELP sched_ext_nr_running runnable sched_ext tasks (struct rq "
			     "scx.nr_running) summed over CPUs");
	has(t, "# TYPE sched_ext_nr_running gauge\n"
			     "sched_ext_nr_running{vm=\"vm1\"} ");
	has(t, "# TYPE sched_ext_nr_running_max gauge\n"
			     "sched_ext_nr_running_max{vm=\"vm1\"} 4\n");
	has(t, "# TYPE sched_ext_nr_running_avg gauge\n");
	has(t, "# TYPE sched_ext_exit_kind gauge\n"
			     "sched_ext_exit_kind{vm=\"vm1\"} 1025\n");
	has(t, "sched_ext_exit_code{vm=\"vm1\"} 7\n");
	/* Text as info families, escaped. */
	has(t, "# TYPE sched_ext_exit_kind_name info\nsched_ext_exit_kind_name_info"
			     "{vm=\"vm1\",value=\"SCX_EXIT_ERROR_BPF\"} 1\n");
	has(t, "sched_ext_exit_msg_info{vm=\"vm1\",value=\"bw_demo: \\\"boom\\\"\\n"
			     "at \\\\here\"} 1\n");
	has(t, "sched_ext_ops_info{vm=\"vm1\",value=\"bw_demo\"} 1\n");
	has(t, "# HELP sched_ext_state the kernel's sched_ext enable state");
	ck_assert_ptr_null(strstr(t, "sched_ext_state{"));
	free(t);

	/* The text format: counter and info families named by their samples; promtool-clean. */
	t = openmetrics_render(&in, OPENMETRICS_PROMETHEUS_TEXT);
	ck_assert_ptr_nonnull(t);
	has(t, "# TYPE sched_ext_attaches_total counter\n"
			     "sched_ext_attaches_total{vm=\"vm1\"} 1\n");
	has(t, "# TYPE sched_ext_exit_reason_info gauge\nsched_ext_exit_reason_info"
			     "{vm=\"vm1\",value=\"scx_bpf_error\"} 1\n");
	clean = promtool_clean(t, lint, sizeof(lint));
	if (clean < 0)
		fprintf(stderr, "test_published: promtool not installed (package prometheus, "
			"tests/deps.sh): the lint is not run here\n");
	else
		ck_assert_msg(clean == 1, "promtool check metrics: %s\n%s", lint, t);
	free(t);

	/* scx_stats: typed values and a field with a desc for each, before any reading too. */
	{
		const struct scx_stats_source src = { .metrics = stats_of, .meta_fields = meta_of,
						      .userdata = NULL };
		struct scx_stats_source live = src;
		json_t *stats;
		char *line;

		live.userdata = m;
		stats = scx_ask(&live, "{\"req\":\"stats\"}", &line);
		ck_assert(num(stats, "sched_ext_attaches") == 1);
		ck_assert(num(stats, "sched_ext_exit_kind") == 1025);
		ck_assert(num(stats, "sched_ext_event_select_cpu_fallback") == 46);
		ck_assert_msg(strstr(line, "\"sched_ext_nr_running_max\":4,") ||
			      strstr(line, "\"sched_ext_nr_running_max\":4}"), "%s", line);
		ck_assert(num(stats, "sched_ext_nr_running_avg") > 0);
		ck_assert_str_eq(json_string_value(json_object_get(stats, "sched_ext_exit_msg")),
				 "bw_demo: \"boom\"\nat \\here");
		ck_assert_str_eq(json_string_value(json_object_get(stats, "sched_ext_state")),
				 "disabled");
		/* Beyond int64: a bare u64 number on the wire. */
		ck_assert_msg(strstr(line, "\"sched_ext_event_dispatch_local_dsq_offline\":"
				     "9223372036854775817"), "%s", line);
		free(line);
		json_decref(stats);

		live.meta_fields = meta_of;
		live.userdata = f.h;
		top = scx_ask(&live, "{\"req\":\"stats_meta\"}", &line);
		free(line);
		fields = json_object_get(json_object_get(top, "top"), "fields");
		field = json_object_get(fields, "sched_ext_event_sub_rescue");
		ck_assert_str_eq(json_string_value(json_object_get(field, "datum")), "u64");
		ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(field, "desc")),
					     "scx_event_stats"));
		field = json_object_get(fields, "sched_ext_exit_code");
		ck_assert_str_eq(json_string_value(json_object_get(field, "datum")), "i64");
		field = json_object_get(fields, "sched_ext_nr_running_avg");
		ck_assert_str_eq(json_string_value(json_object_get(field, "datum")), "float");
		field = json_object_get(fields, "sched_ext_exit_reason");
		ck_assert_str_eq(json_string_value(json_object_get(field, "datum")), "string");
		ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(field, "desc")),
					     "scx_exit_info.reason"));
		json_decref(top);
		/* No guest yet: the fixed fields, no event counters. */
		top = scx_ask(&src, "{\"req\":\"stats_meta\"}", &line);
		free(line);
		fields = json_object_get(json_object_get(top, "top"), "fields");
		ck_assert_ptr_nonnull(json_object_get(fields, "sched_ext_enabled"));
		ck_assert_ptr_nonnull(json_object_get(fields, "sched_ext_exit_msg"));
		ck_assert_ptr_null(json_object_get(fields, "sched_ext_event_sub_rescue"));
		json_decref(top);
	}
	json_decref(reply);
	json_decref(m);
	teardown(&f);
}
END_TEST

static Suite *scx_health_suite(void)
{
	Suite *s = suite_create("scx_health");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_events_6_16);
	tcase_add_test(tc, test_events_6_18);
	tcase_add_test(tc, test_events_7);
	tcase_add_test(tc, test_exit_record);
	tcase_add_test(tc, test_exit_record_garbage);
	tcase_add_test(tc, test_stalls);
	tcase_add_test(tc, test_no_sched_ext);
	tcase_add_test(tc, test_key_prefix);
	tcase_add_test(tc, test_published);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(scx_health_suite)
