/* SPDX-License-Identifier: MIT */
/*
 * sched_ext health (scx_health.h) out of the kernel's own structures.
 *
 * What is read (kernel/sched/ext.c, ext_internal.h on 7.x; every offset from
 * the kernel's BTF, nothing hard-coded):
 *   - the attached scheduler and enable state through bw_scx_read()
 *     (bpf_inventory.c), the state's name from enum scx_enable_state
 *     (scx_ops_enable_state before 6.15) of the BTF, lowercased without its
 *     "SCX_" prefix as /sys/kernel/sched_ext/state prints it;
 *   - struct scx_sched *scx_root (6.16+; 48e126777386), and in it:
 *       exit_kind (atomic_t) and exit_info (struct scx_exit_info *): the
 *         kernel sets exit_kind first, then fills exit_info->{exit_code,
 *         msg} and last exit_info->kind and ->reason (scx_vexit()), then the
 *         dump (error irq work), then disables, clears scx_root and frees
 *         exit_info after an RCU grace period.  So a record is taken when
 *         exit_info->kind reads non-zero, and re-read every tick while that
 *         scx_sched is still scx_root (the dump fills in later);
 *       the event counters, per CPU: scx_sched.event_stats_cpu (a
 *         struct scx_event_stats __percpu *, 6.16-6.17.6) or
 *         scx_sched.pcpu->event_stats (struct scx_sched_pcpu __percpu *,
 *         6.18+ and 6.17.7+).  Every s64 member of struct scx_event_stats
 *         is one counter, named by the member without "SCX_EV_";
 *       bypass_depth: an s32 of scx_sched on 7.x, the global int
 *         scx_bypass_depth before;
 *   - the per-CPU struct rq runqueues: rq->scx.nr_running, the local DSQ's
 *     rq->scx.local_dsq.nr, rq->clock, and rq->scx.runnable_list, the list
 *     of runnable sched_ext tasks the kernel's watchdog walks
 *     (check_rq_for_timeouts()): each task's scx.runnable_node, with
 *     scx.runnable_at the jiffies when it became runnable.  Tasks are
 *     appended when they become runnable and leave the list when they run,
 *     so the list is ordered by runnable_at: the walk stops at the first
 *     task that has not waited StallMSec, and at STALL_WALK_MAX tasks;
 *   - jiffies_64, against which runnable_at is compared.  HZ is not in
 *     VMCOREINFO: it is measured (jiffies over host time, once a second of
 *     both has passed) and snapped to the configured values Linux offers.
 *
 * The per-tick fast path is one batch of loads (bw_ram_load_batch) from
 * file offsets found once per runqueue (static per-CPU memory) and once per
 * scx_sched (its per-CPU counters): four loads per CPU for the runqueue
 * every tick, and one per counter and CPU at most every
 * BW_SCX_HEALTH_EVENTS_PERIOD_NS (and on the first tick of a scheduler).  A tick where any of them fails feeds nothing: a sum
 * over part of the CPUs is a wrong number.
 */
#include "scx_health.h"

#include <bpf/btf.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf_inventory.h"
#include "btf_layout.h"
#include "fold.h"
#include "guest_ram.h"
#include "kernel.h"
#include "printk_ring.h"
#include "watch.h"

/* struct scx_event_stats has 9 members on 6.16 and 21 on 7.3; a BTF with more than this is not it. */
#define EVENTS_MAX 64
#define EVENT_NAME_MAX 48
/* Stalled tasks counted per CPU per tick: enough to say "many", cheap when a CPU is wedged. */
#define STALL_WALK_MAX 32
/* Stalled tasks named in status. */
#define STALL_NAMED_MAX 16
/* scx_exit_reason() strings are short; SCX_EXIT_MSG_LEN is 1024; exit_dump_len defaults to 32 KiB. */
#define EXIT_REASON_MAX 128
#define EXIT_MSG_MAX 1024
#define EXIT_DUMP_MAX 65536
/* enum value names kept for exit kinds and enable states. */
#define ENUM_NAMES_MAX 32
#define ENUM_NAME_MAX 32
#define TASK_COMM_LEN 16
/*
 * A missed exit is looked up in the kernel log every LOG_RETRY_NS for
 * LOG_WAIT_NS: the kernel logs it from its disable work, which may still be
 * running when scx_root is already gone.
 */
#define LOG_WAIT_NS (5 * 1000000000ULL)
#define LOG_RETRY_NS (250 * 1000000ULL)
#define NSEC_PER_SEC 1000000000ULL
/* A problem names what was read and carries the reader's message. */
#define PROBLEM_MAX (2 * BW_ERROR_MSG_MAX)

enum { G_NR_RUNNING, G_DSQ, G_STALLED, NGAUGES };
static const char *const gauge_labels[NGAUGES] = { "nr_running", "local_dsq_depth",
						   "stalled_tasks" };
/* Counter watches before the events, in this order. */
enum {
	C_ENABLED, C_BYPASS, C_ATTACHES, C_STALLS, C_WEDGED, C_NR_RUNNING, C_DSQ, C_STALLED,
	C_EXIT_KIND, C_EXIT_CODE, C_EXIT_MISSED, NFIXED
};
static const char *const counter_labels[NFIXED] = {
	"enabled", "bypass_depth", "attaches", "stalls", "wedged_cpus", "nr_running",
	"local_dsq_depth", "stalled_tasks", "exit_kind", "exit_code", "exit_missed",
};

struct enum_names {
	unsigned int n;
	int64_t value[ENUM_NAMES_MAX];
	char name[ENUM_NAMES_MAX][ENUM_NAME_MAX];
};

enum ev_mode { EV_NONE, EV_STATS_CPU, EV_PCPU };
enum bypass_mode { BYPASS_NONE, BYPASS_GLOBAL, BYPASS_SCHED };

struct hlayout {
	uint64_t jiffies;
	uint64_t runqueues;
	uint64_t rq_nr_running, rq_dsq_nr, rq_runnable_list, rq_clock;
	uint64_t task_runnable_node, task_runnable_at, task_pid, task_comm;
	bool has_exit;
	uint64_t sch_exit_kind, sch_exit_info;
	uint64_t ei_kind, ei_code, ei_reason, ei_msg, ei_dump;
	enum ev_mode ev;
	uint64_t sch_ev_ptr, pcpu_event_stats;
	unsigned int nevents;
	uint32_t ev_off[EVENTS_MAX];
	char ev_name[EVENTS_MAX][EVENT_NAME_MAX];
	enum bypass_mode bypass;
	uint64_t bypass_addr;		/* BYPASS_GLOBAL */
	uint64_t sch_bypass;		/* BYPASS_SCHED */
	struct enum_names states, exit_kinds;
	const char *state_prefix;	/* "SCX_" or "SCX_OPS_" */
};

struct exit_record {
	bool valid;
	bool missed;
	const char *missed_reason;
	const char *source;		/* "kernel" (its exit_info) or "kernel log" */
	bool from_log;			/* no exit code then */
	char ops[BW_SCX_NAME_LEN];
	int64_t kind;
	int64_t code;
	char reason[EXIT_REASON_MAX];
	char msg[EXIT_MSG_MAX];
	char *dump;			/* NULL when none */
	uint64_t mono_ns;
	int64_t wall_ns;
};

struct cpu_state {
	uint64_t clock, clock_changed_ns;
	bool stalled;			/* had stalled tasks at the last tick */
	bool wedged;
	uint32_t nr_running, dsq, nstalled;
};

struct stall_task {
	uint32_t cpu;
	int32_t pid;
	char comm[TASK_COMM_LEN];
	uint64_t runnable_at;
	uint64_t waiting_ms;
};

struct bw_scx_health {
	struct bw_kernel *k;
	struct bw_ram *ram;
	struct bw_bpf_layout bpf;
	struct hlayout l;
	uint32_t stall_ms;
	uint32_t ncpus;
	/* rq loads: 4 per CPU, always; event loads: nevents per CPU, per scx_sched. */
	struct bw_load *loads;
	uint64_t *vals;
	size_t nrq_loads, nloads;
	bool rq_ok;			/* every runqueue located */
	char rq_problem[PROBLEM_MAX];
	uint64_t *rq_addr;		/* struct rq * per CPU */
	uint64_t *list_head;		/* &rq->scx.runnable_list per CPU */
	struct cpu_state *cpus;
	struct bw_fold_cpu_value *readings;
	/* the attached scheduler as last seen */
	uint64_t root;
	bool events_ok;
	int64_t last_exit_kind;		/* scx_sched.exit_kind at the last look */
	char root_ops[BW_SCX_NAME_LEN];
	struct bw_scx_state scx;
	char state[ENUM_NAME_MAX];
	bool have_state;
	int64_t bypass_depth;
	bool have_bypass;
	__int128 event_sum[EVENTS_MAX];
	bool have_events;
	uint64_t events_next_ns;	/* when the counters are read next */
	/* HZ estimate */
	uint64_t hz0_mono, hz0_jiffies;
	uint32_t hz;
	uint64_t jiffies;
	struct stall_task stalls[STALL_NAMED_MAX];
	unsigned int nstall_named;
	uint32_t wedged;
	char problem[PROBLEM_MAX];
	/* the window */
	struct bw_watch_set *gset, *cset;
	struct bw_fold *gauges, *counters;
	uint64_t attaches, stall_events;
	bool win_state, win_ops, win_exit;
	char win_state_name[ENUM_NAME_MAX], win_ops_name[BW_SCX_NAME_LEN];
	struct exit_record exit;
	/* The kernel log, for exits the ticks did not catch (NULL: not readable). */
	struct bw_printk_ring *log;
	uint64_t attach_seq;		/* the log's next seq when the scheduler attached */
	bool log_search;
	uint64_t log_deadline_ns, log_next_try_ns;
	bool exit_clear_pending;	/* a new scheduler attached: drop the record once enabled */
	uint64_t events_mono_ns;	/* when the counters were last read */
};

/* ---- layout ---- */

static int enum_names_load(const struct btf *btf, const char *name, struct enum_names *out)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_ENUM);
	const struct btf_type *t;
	const struct btf_enum *e;

	out->n = 0;
	if (id < 0)
		return -ENOENT;
	t = btf__type_by_id(btf, id);
	e = btf_enum(t);
	for (unsigned int i = 0; i < btf_vlen(t) && out->n < ENUM_NAMES_MAX; i++) {
		const char *s = btf__name_by_offset(btf, e[i].name_off);

		if (!s)
			continue;
		out->value[out->n] = btf_kflag(t) ? (int64_t)e[i].val : (int64_t)(uint32_t)e[i].val;
		snprintf(out->name[out->n], ENUM_NAME_MAX, "%s", s);
		out->n++;
	}
	return 0;
}

static const char *enum_name(const struct enum_names *en, int64_t v)
{
	for (unsigned int i = 0; i < en->n; i++)
		if (en->value[i] == v)
			return en->name[i];
	return NULL;
}

static int off(const struct btf *btf, const char *s, const char *m, uint64_t *o,
	       struct bw_error *err)
{
	return bw_btf_member_offset(btf, s, m, o, NULL, NULL, err);
}

static bool has_member(const struct btf *btf, const char *s, const char *m, uint64_t *o)
{
	return bw_btf_member_offset(btf, s, m, o, NULL, NULL, NULL) == 0;
}

/* Every 8-byte integer member of struct scx_event_stats, in order. */
static int event_members(const struct btf *btf, struct hlayout *l, struct bw_error *err)
{
	int id = bw_btf_struct_id(btf, "struct scx_event_stats", err);
	const struct btf_type *t;
	const struct btf_member *m;

	if (id < 0)
		return id;
	t = btf__type_by_id(btf, id);
	m = btf_members(t);
	if (btf_vlen(t) > EVENTS_MAX)
		return bw_error_set(err, -E2BIG, "struct scx_event_stats has %u members, more than %d",
				    btf_vlen(t), EVENTS_MAX);
	l->nevents = 0;
	for (unsigned int i = 0; i < btf_vlen(t); i++) {
		const char *name = btf__name_by_offset(btf, m[i].name_off);
		uint32_t bit = btf_member_bit_offset(t, i);
		size_t len;

		if (!name || btf_member_bitfield_size(t, i) || bit % 64 ||
		    btf__resolve_size(btf, m[i].type) != 8 || bit / 8 + 8 > t->size)
			return bw_error_set(err, -EINVAL, "struct scx_event_stats member %u is not a "
					    "whole 8-byte counter", i);
		if (strncmp(name, "SCX_EV_", 7) == 0)
			name += 7;
		len = strlen(name);
		if (len == 0 || len >= EVENT_NAME_MAX)
			return bw_error_set(err, -EINVAL, "struct scx_event_stats member %u has a "
					    "name of %zu characters", i, len);
		for (size_t c = 0; c <= len; c++)
			l->ev_name[l->nevents][c] = (char)tolower((unsigned char)name[c]);
		l->ev_off[l->nevents++] = bit / 8;
	}
	return 0;
}

static int layout_init(struct bw_kernel *k, struct hlayout *l, struct bw_error *err)
{
	const struct btf *btf = bw_kernel_btf(k);
	uint64_t scx_off;
	int r;

	memset(l, 0, sizeof(*l));
	if (bw_kernel_symbol(k, "jiffies_64", &l->jiffies, NULL) < 0) {
		r = bw_kernel_symbol(k, "jiffies", &l->jiffies, err);
		if (r < 0)
			return r;
	}
	r = bw_kernel_symbol(k, "runqueues", &l->runqueues, err);
	if (r < 0)
		return r;
	if ((r = off(btf, "struct rq", "scx", &scx_off, err)) < 0 ||
	    (r = off(btf, "struct rq", "clock", &l->rq_clock, err)) < 0 ||
	    (r = off(btf, "struct scx_rq", "nr_running", &l->rq_nr_running, err)) < 0 ||
	    (r = off(btf, "struct scx_rq", "local_dsq.nr", &l->rq_dsq_nr, err)) < 0 ||
	    (r = off(btf, "struct scx_rq", "runnable_list", &l->rq_runnable_list, err)) < 0 ||
	    (r = off(btf, "struct task_struct", "scx.runnable_node", &l->task_runnable_node, err)) < 0 ||
	    (r = off(btf, "struct task_struct", "scx.runnable_at", &l->task_runnable_at, err)) < 0 ||
	    (r = off(btf, "struct task_struct", "pid", &l->task_pid, err)) < 0 ||
	    (r = off(btf, "struct task_struct", "comm", &l->task_comm, err)) < 0)
		return bw_error_prefix(err, "sched_ext runqueue layout");
	l->rq_nr_running += scx_off;
	l->rq_dsq_nr += scx_off;
	l->rq_runnable_list += scx_off;
	if (l->rq_nr_running % 4 || l->rq_dsq_nr % 4 || l->rq_clock % 8 || l->rq_runnable_list % 8)
		return bw_error_set(err, -EINVAL, "struct rq's sched_ext members are not aligned");

	if (enum_names_load(btf, "scx_enable_state", &l->states) == 0)
		l->state_prefix = "SCX_";
	else if (enum_names_load(btf, "scx_ops_enable_state", &l->states) == 0)
		l->state_prefix = "SCX_OPS_";
	enum_names_load(btf, "scx_exit_kind", &l->exit_kinds);

	/* 6.16+: the scheduler instance. */
	if (has_member(btf, "struct scx_sched", "exit_kind", &l->sch_exit_kind) &&
	    has_member(btf, "struct scx_sched", "exit_info", &l->sch_exit_info) &&
	    has_member(btf, "struct scx_exit_info", "kind", &l->ei_kind) &&
	    has_member(btf, "struct scx_exit_info", "exit_code", &l->ei_code) &&
	    has_member(btf, "struct scx_exit_info", "reason", &l->ei_reason) &&
	    has_member(btf, "struct scx_exit_info", "msg", &l->ei_msg) &&
	    has_member(btf, "struct scx_exit_info", "dump", &l->ei_dump))
		l->has_exit = true;
	if (has_member(btf, "struct scx_sched", "pcpu", &l->sch_ev_ptr) &&
	    has_member(btf, "struct scx_sched_pcpu", "event_stats", &l->pcpu_event_stats))
		l->ev = EV_PCPU;
	else if (has_member(btf, "struct scx_sched", "event_stats_cpu", &l->sch_ev_ptr))
		l->ev = EV_STATS_CPU;
	if (l->ev != EV_NONE) {
		r = event_members(btf, l, err);
		if (r < 0)
			return r;
	}
	if (has_member(btf, "struct scx_sched", "bypass_depth", &l->sch_bypass))
		l->bypass = BYPASS_SCHED;
	else if (bw_kernel_symbol(k, "scx_bypass_depth", &l->bypass_addr, NULL) == 0)
		l->bypass = BYPASS_GLOBAL;
	return 0;
}

/* ---- the window's folds ---- */

static int add_watch(struct bw_watch_set *set, const char *label, enum bw_agg agg,
		     struct bw_error *err)
{
	struct bw_watch w = { .map_suffix = "kernel", .field = label, .agg = agg, .label = label,
			      .object = "sched_ext" };

	return bw_watch_set_add(set, &w, err);
}

static int folds_new(struct bw_scx_health *h, uint64_t mono_ns, int64_t wall_ns,
		     struct bw_error *err)
{
	char label[EVENT_NAME_MAX + 8];
	int r = 0;

	h->gset = bw_watch_set_new();
	h->cset = bw_watch_set_new();
	if (!h->gset || !h->cset)
		return bw_error_set(err, -ENOMEM, "sched_ext health: out of memory");
	for (unsigned int i = 0; i < NGAUGES && r >= 0; i++)
		r = add_watch(h->gset, gauge_labels[i], BW_AGG_PERCPU, err);
	for (unsigned int i = 0; i < NFIXED && r >= 0; i++)
		r = add_watch(h->cset, counter_labels[i], BW_AGG_SCALAR_COUNTER, err);
	/* Sums over CPUs, made here in 128 bits (see feed_events). */
	for (unsigned int i = 0; i < h->l.nevents && r >= 0; i++) {
		snprintf(label, sizeof(label), "event_%s", h->l.ev_name[i]);
		r = add_watch(h->cset, label, BW_AGG_SCALAR_COUNTER, err);
	}
	if (r >= 0)
		r = bw_fold_new(h->gset, mono_ns, wall_ns, &h->gauges, err);
	if (r >= 0)
		r = bw_fold_new(h->cset, mono_ns, wall_ns, &h->counters, err);
	return r < 0 ? bw_error_prefix(err, "sched_ext health metrics") : 0;
}

/* ---- setup ---- */

static int locate(struct bw_scx_health *h, uint64_t va, unsigned int width, struct bw_load *ld,
		  struct bw_error *err)
{
	uint64_t gpa, o;
	int r;

	if (va % width)
		return bw_error_set(err, -EINVAL, "%#" PRIx64 " is not %u-byte aligned", va, width);
	r = bw_kernel_translate(h->k, va, &gpa, err);
	if (r >= 0)
		r = bw_ram_locate(h->ram, gpa, width, &o, err);
	if (r < 0)
		return r;
	if (o % width)
		return bw_error_set(err, -EINVAL, "%#" PRIx64 " is not aligned in the RAM file", va);
	ld->offset = o;
	ld->width = width;
	return 0;
}

static void locate_runqueues(struct bw_scx_health *h)
{
	struct bw_error e = { 0 };

	h->rq_ok = true;
	for (uint32_t c = 0; c < h->ncpus; c++) {
		uint64_t rq = h->l.runqueues + bw_kernel_per_cpu_offset(h->k, c);
		struct bw_load *ld = &h->loads[c * 4];

		h->rq_addr[c] = rq;
		h->list_head[c] = rq + h->l.rq_runnable_list;
		if (locate(h, rq + h->l.rq_nr_running, 4, &ld[0], &e) < 0 ||
		    locate(h, rq + h->l.rq_dsq_nr, 4, &ld[1], &e) < 0 ||
		    locate(h, rq + h->l.rq_clock, 8, &ld[2], &e) < 0 ||
		    locate(h, rq + h->l.rq_runnable_list, 8, &ld[3], &e) < 0) {
			snprintf(h->rq_problem, sizeof(h->rq_problem),
				 "CPU %u's runqueue at %#" PRIx64 " cannot be located: %s", c, rq, e.msg);
			h->rq_ok = false;
			return;
		}
	}
	h->nrq_loads = (size_t)h->ncpus * 4;
}

/* The per-CPU counters of the scx_sched at h->root; events_ok says whether they read. */
static void locate_events(struct bw_scx_health *h)
{
	struct bw_error e = { 0 };
	uint64_t base;

	h->events_ok = false;
	h->nloads = h->nrq_loads;
	if (h->l.ev == EV_NONE || !h->root)
		return;
	if (bw_kernel_read(h->k, h->root + h->l.sch_ev_ptr, &base, sizeof(base), &e) < 0 || !base) {
		snprintf(h->problem, sizeof(h->problem), "the scheduler's event counters are not "
			 "readable (%s)", base ? e.msg : "no per-CPU area");
		return;
	}
	if (h->l.ev == EV_PCPU)
		base += h->l.pcpu_event_stats;
	for (uint32_t c = 0; c < h->ncpus; c++) {
		uint64_t a = base + bw_kernel_per_cpu_offset(h->k, c);

		for (unsigned int i = 0; i < h->l.nevents; i++) {
			struct bw_load *ld = &h->loads[h->nrq_loads + (size_t)c * h->l.nevents + i];

			if (locate(h, a + h->l.ev_off[i], 8, ld, &e) < 0) {
				snprintf(h->problem, sizeof(h->problem), "CPU %u's event counters "
					 "cannot be located: %s", c, e.msg);
				return;
			}
		}
	}
	h->nloads = h->nrq_loads + (size_t)h->ncpus * h->l.nevents;
	h->events_ok = true;
}

int bw_scx_health_new(struct bw_kernel *k, uint32_t stall_ms, uint64_t mono_ns, int64_t wall_ns,
		      struct bw_scx_health **out, struct bw_error *err)
{
	struct bw_scx_health *h = calloc(1, sizeof(*h));
	int r;

	*out = NULL;
	if (!h)
		return bw_error_set(err, -ENOMEM, "sched_ext health: out of memory");
	h->k = k;
	h->ram = bw_kernel_ram(k);
	h->stall_ms = stall_ms ? stall_ms : BW_SCX_HEALTH_STALL_MS_DEFAULT;
	h->ncpus = bw_kernel_nr_cpu_ids(k);
	r = bw_bpf_layout_init(k, &h->bpf, err);
	if (r >= 0 && !h->bpf.has_scx)
		r = bw_error_set(err, -ENOENT, "the kernel has no sched_ext (no struct "
				 "sched_ext_ops in its BTF)");
	if (r >= 0)
		r = layout_init(k, &h->l, err);
	if (r >= 0 && (h->ncpus == 0 || h->ncpus > BW_FOLD_MAX_CPUS))
		r = bw_error_set(err, -EINVAL, "%u CPUs", h->ncpus);
	if (r >= 0) {
		h->loads = calloc((size_t)h->ncpus * (4 + h->l.nevents), sizeof(*h->loads));
		h->vals = calloc((size_t)h->ncpus * (4 + h->l.nevents), sizeof(*h->vals));
		h->rq_addr = calloc(h->ncpus, sizeof(*h->rq_addr));
		h->cpus = calloc(h->ncpus, sizeof(*h->cpus));
		/* Readings of every gauge at once; the events reuse the first row. */
		h->readings = calloc((size_t)NGAUGES * h->ncpus, sizeof(*h->readings));
		h->list_head = calloc(h->ncpus, sizeof(*h->list_head));
		if (!h->loads || !h->vals || !h->rq_addr || !h->cpus || !h->readings ||
		    !h->list_head)
			r = bw_error_set(err, -ENOMEM, "sched_ext health: out of memory");
	}
	if (r >= 0)
		r = folds_new(h, mono_ns, wall_ns, err);
	if (r < 0) {
		bw_scx_health_free(h);
		return r;
	}
	locate_runqueues(h);
	h->last_exit_kind = 0;
	/* Without a readable log, missed exits just stay missed. */
	if (bw_printk_ring_open(k, &h->log, NULL) < 0)
		h->log = NULL;
	*out = h;
	return 0;
}

void bw_scx_health_free(struct bw_scx_health *h)
{
	if (!h)
		return;
	bw_printk_ring_free(h->log);
	bw_fold_free(h->gauges);
	bw_fold_free(h->counters);
	bw_watch_set_free(h->gset);
	bw_watch_set_free(h->cset);
	free(h->exit.dump);
	free(h->loads);
	free(h->vals);
	free(h->rq_addr);
	free(h->list_head);
	free(h->cpus);
	free(h->readings);
	free(h);
}

void bw_scx_health_reset(struct bw_scx_health *h, uint64_t mono_ns, int64_t wall_ns)
{
	bw_fold_reset(h->gauges, mono_ns, wall_ns);
	bw_fold_reset(h->counters, mono_ns, wall_ns);
	h->attaches = 0;
	h->stall_events = 0;
	h->win_state = h->win_ops = h->win_exit = false;
}

/* ---- the exit record ---- */

/* A NUL-terminated string of at most @max - 1 bytes at @va, else -EINVAL. */
static int read_cstr(struct bw_scx_health *h, uint64_t va, char *buf, size_t max)
{
	size_t got = 0;

	buf[0] = '\0';
	if (!va)
		return 0;
	/* Page by page: a string may end just before an unmapped page. */
	while (got < max) {
		size_t n = 4096 - ((va + got) & 4095);

		if (n > max - got)
			n = max - got;
		if (bw_kernel_read(h->k, va + got, buf + got, n, NULL) < 0)
			return -EFAULT;
		if (memchr(buf + got, '\0', n))
			return 0;
		got += n;
	}
	buf[max - 1] = '\0';
	return -EINVAL;
}

static void exit_clear(struct exit_record *x)
{
	free(x->dump);
	memset(x, 0, sizeof(*x));
}

/* Read scx_root's exit_info; a record once its kind reads non-zero. */
static void exit_capture(struct bw_scx_health *h, uint64_t mono_ns, int64_t wall_ns)
{
	struct exit_record *x = &h->exit;
	uint64_t ei, reason = 0, msg = 0, dump = 0;
	int32_t kind = 0;
	int64_t code = 0;
	char *d;

	if (bw_kernel_read(h->k, h->root + h->l.sch_exit_info, &ei, sizeof(ei), NULL) < 0 || !ei ||
	    bw_kernel_read(h->k, ei + h->l.ei_kind, &kind, sizeof(kind), NULL) < 0 || kind == 0)
		return;
	if (bw_kernel_read(h->k, ei + h->l.ei_code, &code, sizeof(code), NULL) < 0 ||
	    bw_kernel_read(h->k, ei + h->l.ei_reason, &reason, sizeof(reason), NULL) < 0 ||
	    bw_kernel_read(h->k, ei + h->l.ei_msg, &msg, sizeof(msg), NULL) < 0 ||
	    bw_kernel_read(h->k, ei + h->l.ei_dump, &dump, sizeof(dump), NULL) < 0)
		return;
	if (!x->valid || x->missed || h->exit_clear_pending) {
		h->exit_clear_pending = false;
		exit_clear(x);
		x->mono_ns = mono_ns;
		x->wall_ns = wall_ns;
	}
	x->valid = true;
	x->missed = false;
	x->missed_reason = NULL;
	x->source = "kernel";
	memcpy(x->ops, h->root_ops, sizeof(x->ops));
	x->kind = kind;
	x->code = code;
	read_cstr(h, reason, x->reason, sizeof(x->reason));
	read_cstr(h, msg, x->msg, sizeof(x->msg));
	if (!dump)
		return;
	d = malloc(EXIT_DUMP_MAX);
	if (!d)
		return;
	if (read_cstr(h, dump, d, EXIT_DUMP_MAX) == -EFAULT || !d[0]) {
		free(d);
		return;
	}
	free(x->dump);
	x->dump = d;
}

/*
 * The kernel's own words for each exit kind (scx_exit_reason() since 6.12),
 * for an exit found only in its log.
 */
static const struct {
	const char *reason, *kind;
} log_reasons[] = {
	{ "unregistered from user space", "SCX_EXIT_UNREG" },
	{ "unregistered from BPF", "SCX_EXIT_UNREG_BPF" },
	{ "unregistered from the main kernel", "SCX_EXIT_UNREG_KERN" },
	{ "disabled by sysrq-S", "SCX_EXIT_SYSRQ" },
	{ "runtime error", "SCX_EXIT_ERROR" },
	{ "scx_bpf_error", "SCX_EXIT_ERROR_BPF" },
	{ "runnable task stall", "SCX_EXIT_ERROR_STALL" },
};

struct log_match {
	const char *ops;
	bool found, after_disable;
	char reason[EXIT_REASON_MAX];
	char msg[EXIT_MSG_MAX];
};

/* "sched_ext: BPF scheduler \"OPS\" disabled (REASON)" and then "sched_ext: OPS: MSG". */
static int log_line(void *ctx, const struct bw_printk_record *rec)
{
	static const char disabled[] = "sched_ext: BPF scheduler \"";
	struct log_match *m = ctx;
	size_t olen = strlen(m->ops);
	const char *t = rec->text;

	if (strncmp(t, disabled, sizeof(disabled) - 1) == 0 &&
	    strncmp(t + sizeof(disabled) - 1, m->ops, olen) == 0 &&
	    strncmp(t + sizeof(disabled) - 1 + olen, "\" disabled (", 12) == 0) {
		const char *r = t + sizeof(disabled) - 1 + olen + 12;
		size_t rlen = strlen(r);

		if (rlen == 0 || r[rlen - 1] != ')')
			return 0;
		snprintf(m->reason, sizeof(m->reason), "%.*s", (int)(rlen - 1), r);
		m->msg[0] = '\0';
		m->found = m->after_disable = true;
		return 0;
	}
	if (m->after_disable && strncmp(t, "sched_ext: ", 11) == 0 &&
	    strncmp(t + 11, m->ops, olen) == 0 && t[11 + olen] == ':' && t[12 + olen] == ' ') {
		snprintf(m->msg, sizeof(m->msg), "%s", t + 13 + olen);
		m->after_disable = false;
		return 0;
	}
	m->after_disable = false;
	return 0;
}

static int64_t enum_value(const struct enum_names *en, const char *name)
{
	for (unsigned int i = 0; i < en->n; i++)
		if (!strcmp(en->name[i], name))
			return en->value[i];
	return 0;
}

/* Look the missed exit up in the kernel log; stop looking once found or too late. */
static void log_search(struct bw_scx_health *h, uint64_t mono_ns)
{
	struct exit_record *x = &h->exit;
	struct log_match m = { .ops = x->ops };

	h->log_next_try_ns = mono_ns + LOG_RETRY_NS;
	if (!h->log || !x->ops[0] ||
	    bw_printk_ring_read(h->log, h->attach_seq, log_line, &m, NULL) < 0 || !m.found) {
		if (mono_ns >= h->log_deadline_ns)
			h->log_search = false;
		return;
	}
	h->log_search = false;
	x->missed = false;
	x->missed_reason = NULL;
	x->source = "kernel log";
	x->from_log = true;
	memcpy(x->reason, m.reason, sizeof(x->reason));
	memcpy(x->msg, m.msg, sizeof(x->msg));
	x->code = 0;
	for (size_t i = 0; i < sizeof(log_reasons) / sizeof(log_reasons[0]); i++)
		if (!strcmp(m.reason, log_reasons[i].reason))
			x->kind = enum_value(&h->l.exit_kinds, log_reasons[i].kind);
}

/* The scheduler at h->root is gone: keep what was taken, or look in the log. */
static void exit_finish(struct bw_scx_health *h, uint64_t mono_ns, int64_t wall_ns)
{
	struct exit_record *x = &h->exit;

	if (x->valid && !h->exit_clear_pending)
		return;
	h->exit_clear_pending = false;
	exit_clear(x);
	x->valid = true;
	x->missed = true;
	x->mono_ns = mono_ns;
	x->wall_ns = wall_ns;
	memcpy(x->ops, h->root_ops, sizeof(x->ops));
	x->kind = h->last_exit_kind;
	x->missed_reason = h->last_exit_kind ?
		"the scheduler was disabled and freed before its exit record could be read, "
		"and the kernel log does not have it" :
		"the scheduler went away between two samples, before the kernel's exit "
		"record could be read, and the kernel log does not have it";
	h->log_search = true;
	h->log_deadline_ns = mono_ns + LOG_WAIT_NS;
	log_search(h, mono_ns);
}

/* ---- per tick ---- */

static void hz_estimate(struct bw_scx_health *h, uint64_t mono_ns)
{
	static const uint32_t configs[] = { 100, 250, 300, 1000 };
	uint64_t dt, dj;
	double hz;

	if (h->hz)
		return;
	if (!h->hz0_mono || h->jiffies < h->hz0_jiffies) {
		h->hz0_mono = mono_ns;
		h->hz0_jiffies = h->jiffies;
		return;
	}
	dt = mono_ns - h->hz0_mono;
	dj = h->jiffies - h->hz0_jiffies;
	if (dt < NSEC_PER_SEC || dj < 100)
		return;
	hz = (double)dj * 1e9 / (double)dt;
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
		if (hz > configs[i] * 0.85 && hz < configs[i] * 1.15)
			h->hz = configs[i];
	if (!h->hz) {
		/* A guest far behind or ahead of the host: try again from here. */
		h->hz0_mono = mono_ns;
		h->hz0_jiffies = h->jiffies;
	}
}

/* Stalled tasks on CPU @c whose runnable list starts at @first; named ones go to h->stalls. */
static uint32_t cpu_stalls(struct bw_scx_health *h, uint32_t c, uint64_t first)
{
	uint64_t head = h->rq_addr[c] + h->l.rq_runnable_list, node = first;
	uint64_t limit = (uint64_t)h->stall_ms * h->hz / 1000;
	uint32_t n = 0;

	for (unsigned int step = 0; step < STALL_WALK_MAX && node != head; step++) {
		uint64_t task = node - h->l.task_runnable_node, at, next;

		if (bw_kernel_read(h->k, task + h->l.task_runnable_at, &at, sizeof(at), NULL) < 0 ||
		    bw_kernel_read(h->k, node, &next, sizeof(next), NULL) < 0)
			break;
		if (at > h->jiffies || h->jiffies - at <= limit)
			break;
		if (h->nstall_named < STALL_NAMED_MAX) {
			struct stall_task *s = &h->stalls[h->nstall_named];

			memset(s, 0, sizeof(*s));
			s->cpu = c;
			s->runnable_at = at;
			s->waiting_ms = (h->jiffies - at) * 1000 / h->hz;
			if (bw_kernel_read(h->k, task + h->l.task_pid, &s->pid, sizeof(s->pid), NULL) < 0)
				s->pid = -1;
			if (bw_kernel_read(h->k, task + h->l.task_comm, s->comm, sizeof(s->comm), NULL) < 0)
				s->comm[0] = '\0';
			s->comm[TASK_COMM_LEN - 1] = '\0';
			for (char *p = s->comm; *p; p++)
				if (*p < 0x20 || *p > 0x7e)
					*p = '?';
			h->nstall_named++;
		}
		n++;
		node = next;
	}
	return n;
}

/* The per-CPU gauges (_avg/_max) and their sums over CPUs (the plain keys). */
static int feed_gauges(struct bw_scx_health *h, const uint64_t sums[NGAUGES], unsigned int n,
		       struct bw_error *err)
{
	static const unsigned int slots[NGAUGES] = { C_NR_RUNNING, C_DSQ, C_STALLED };
	int r = 0;

	for (unsigned int g = 0; g < n && r >= 0; g++) {
		r = bw_fold_percpu(h->gauges, g, h->readings + (size_t)g * h->ncpus, h->ncpus, err);
		if (r >= 0)
			r = bw_fold_scalar(h->counters, slots[g], bw_fold_u64(sums[g]), err);
	}
	return r;
}

static int cpu_pass(struct bw_scx_health *h, uint64_t mono_ns, struct bw_error *err)
{
	uint64_t stall_limit_ns = (uint64_t)h->stall_ms * 1000000ULL, sums[NGAUGES] = { 0 };
	bool stall_check = h->hz && h->scx.enabled;
	struct bw_fold_cpu_value *nr = h->readings, *dsq = nr + h->ncpus, *st = dsq + h->ncpus;
	int r = 0;

	h->nstall_named = 0;
	h->wedged = 0;
	for (uint32_t c = 0; c < h->ncpus; c++) {
		const uint64_t *v = &h->vals[c * 4];
		struct cpu_state *cs = &h->cpus[c];
		uint32_t n = (uint32_t)v[0];

		cs->nr_running = n;
		cs->dsq = (uint32_t)v[1];
		nr[c] = (struct bw_fold_cpu_value){ c, bw_fold_u64(n) };
		dsq[c] = (struct bw_fold_cpu_value){ c, bw_fold_u64(cs->dsq) };
		sums[G_NR_RUNNING] += n;	/* at most 8192 u32 values */
		sums[G_DSQ] += cs->dsq;
		if (v[2] != cs->clock || !cs->clock_changed_ns || n == 0) {
			cs->clock = v[2];
			cs->clock_changed_ns = mono_ns;
		}
		/* Runnable sched_ext tasks and a runqueue clock that has stood still: wedged. */
		cs->wedged = h->scx.enabled && n > 0 && mono_ns - cs->clock_changed_ns >= stall_limit_ns;
		h->wedged += cs->wedged;
		cs->nstalled = stall_check && v[3] != h->list_head[c] && v[3] ?
			       cpu_stalls(h, c, v[3]) : 0;
		st[c] = (struct bw_fold_cpu_value){ c, bw_fold_u64(cs->nstalled) };
		sums[G_STALLED] += cs->nstalled;
		if (cs->nstalled && !cs->stalled)
			h->stall_events++;
		cs->stalled = cs->nstalled > 0;
	}
	r = feed_gauges(h, sums, stall_check ? NGAUGES : G_STALLED, err);
	if (r >= 0)
		r = bw_fold_scalar(h->counters, C_WEDGED, bw_fold_u64(h->wedged), err);
	if (r >= 0 && stall_check)
		r = bw_fold_scalar(h->counters, C_STALLS, bw_fold_u64(h->stall_events), err);
	return r;
}

/*
 * Each counter summed over CPUs in 128 bits, then folded as one exact
 * value: a sum outside what 64 bits hold (a guest's counters near 2^63 on
 * several CPUs) is not folded at all that tick, never cut; status still
 * shows it.
 */
static int feed_events(struct bw_scx_health *h, struct bw_error *err)
{
	const uint64_t *ev = &h->vals[h->nrq_loads];
	unsigned int n = h->l.nevents;
	int r = 0;

	for (unsigned int i = 0; i < n; i++)
		h->event_sum[i] = 0;
	for (uint32_t c = 0; c < h->ncpus; c++, ev += n)
		for (unsigned int i = 0; i < n; i++)
			h->event_sum[i] += (int64_t)ev[i];
	for (unsigned int i = 0; i < n && r >= 0; i++) {
		__int128 v = h->event_sum[i];

		if (v >= INT64_MIN && v <= INT64_MAX)
			r = bw_fold_scalar(h->counters, NFIXED + i, bw_fold_s64((int64_t)v), err);
		else if (v > 0 && v <= (__int128)UINT64_MAX)
			r = bw_fold_scalar(h->counters, NFIXED + i, bw_fold_u64((uint64_t)v), err);
		else
			r = bw_fold_failure(h->counters, NFIXED + i, err);
	}
	h->have_events = r >= 0;
	return r;
}

static void read_state_name(struct bw_scx_health *h)
{
	const char *n = h->scx.enable_state >= 0 ? enum_name(&h->l.states, h->scx.enable_state) : NULL;
	size_t plen = h->l.state_prefix ? strlen(h->l.state_prefix) : 0;

	h->have_state = n != NULL;
	if (!n)
		return;
	if (plen && strncmp(n, h->l.state_prefix, plen) == 0)
		n += plen;
	for (size_t i = 0; i < sizeof(h->state) - 1; i++) {
		h->state[i] = (char)tolower((unsigned char)n[i]);
		if (!n[i])
			break;
	}
	h->state[sizeof(h->state) - 1] = '\0';
}

/* scx_root changed (or its exit kind went back to 0: a new scx_sched at the old address). */
static void root_changed(struct bw_scx_health *h, uint64_t root, uint64_t mono_ns, int64_t wall_ns)
{
	if (h->root)
		exit_finish(h, mono_ns, wall_ns);
	h->root = root;
	h->last_exit_kind = 0;
	h->root_ops[0] = '\0';
	h->events_next_ns = 0;
	h->have_events = false;
	if (root) {
		/* A last look for the previous exit before its record goes. */
		if (h->log_search)
			log_search(h, h->log_deadline_ns);
		h->log_search = false;
		h->attaches++;
		/* The last exit stays readable until the new scheduler is enabled. */
		h->exit_clear_pending = true;
		bw_kernel_flush_translations(h->k);
		if (!h->log || bw_printk_ring_next_seq(h->log, &h->attach_seq, NULL) < 0)
			h->attach_seq = 0;
	}
	locate_events(h);
}

int bw_scx_health_tick(struct bw_scx_health *h, uint64_t mono_ns, int64_t wall_ns,
		       struct bw_error *err)
{
	struct bw_error e = { 0 };
	int32_t exit_kind = 0;
	size_t done;
	int r;

	h->problem[0] = '\0';
	r = bw_fold_tick(h->gauges, NULL, mono_ns, err);
	if (r >= 0)
		r = bw_fold_tick(h->counters, NULL, mono_ns, err);
	if (r < 0)
		return r;
	if (bw_scx_read(h->k, &h->bpf, &h->scx, &e) < 0) {
		snprintf(h->problem, sizeof(h->problem), "%s", e.msg);
		return 0;
	}
	read_state_name(h);
	if (h->have_state) {
		h->win_state = true;
		memcpy(h->win_state_name, h->state, sizeof(h->state));
	}
	if (h->scx.enabled) {
		h->win_ops = true;
		memcpy(h->win_ops_name, h->scx.ops_name, sizeof(h->win_ops_name));
	}
	if (h->bpf.scx_mode == BW_SCX_ROOT && h->l.has_exit) {
		uint64_t root = h->scx.root;

		if (root != h->root ||
		    (root && h->last_exit_kind != 0 &&
		     bw_kernel_read(h->k, root + h->l.sch_exit_kind, &exit_kind, sizeof(exit_kind),
				    NULL) == 0 && exit_kind == 0))
			root_changed(h, root, mono_ns, wall_ns);
		if (h->root && h->scx.enabled && !h->root_ops[0])
			memcpy(h->root_ops, h->scx.ops_name, sizeof(h->root_ops));
		if (h->root && bw_kernel_read(h->k, h->root + h->l.sch_exit_kind, &exit_kind,
					      sizeof(exit_kind), NULL) == 0 && exit_kind != 0) {
			h->last_exit_kind = exit_kind;
			exit_capture(h, mono_ns, wall_ns);
		}
	}
	if (h->exit_clear_pending && h->scx.enabled && h->scx.root == h->root) {
		h->exit_clear_pending = false;
		exit_clear(&h->exit);
	}
	if (h->log_search && mono_ns >= h->log_next_try_ns)
		log_search(h, mono_ns);
	r = bw_fold_scalar(h->counters, C_ENABLED, bw_fold_u64(h->scx.enabled), err);
	if (r >= 0)
		r = bw_fold_scalar(h->counters, C_ATTACHES, bw_fold_u64(h->attaches), err);
	if (r >= 0 && h->exit.valid) {
		h->win_exit = true;
		r = bw_fold_scalar(h->counters, C_EXIT_KIND, bw_fold_s64(h->exit.kind), err);
		if (r >= 0 && !h->exit.missed && !h->exit.from_log)
			r = bw_fold_scalar(h->counters, C_EXIT_CODE, bw_fold_s64(h->exit.code), err);
		if (r >= 0)
			r = bw_fold_scalar(h->counters, C_EXIT_MISSED, bw_fold_u64(h->exit.missed), err);
	}
	if (r < 0)
		return r;

	/* bypass depth */
	h->have_bypass = false;
	if (h->l.bypass != BYPASS_NONE) {
		int32_t d;
		uint64_t a = h->l.bypass == BYPASS_GLOBAL ? h->l.bypass_addr :
			     h->root ? h->root + h->l.sch_bypass : 0;

		if (a && bw_kernel_read(h->k, a, &d, sizeof(d), NULL) == 0) {
			h->have_bypass = true;
			h->bypass_depth = d;
			r = bw_fold_scalar(h->counters, C_BYPASS, bw_fold_s64(d), err);
			if (r < 0)
				return r;
		}
	}

	if (bw_kernel_read(h->k, h->l.jiffies, &h->jiffies, sizeof(h->jiffies), &e) < 0) {
		snprintf(h->problem, sizeof(h->problem), "reading jiffies: %s", e.msg);
		return 0;
	}
	hz_estimate(h, mono_ns);
	if (!h->rq_ok) {
		snprintf(h->problem, sizeof(h->problem), "%s", h->rq_problem);
		return 0;
	}
	{
		bool events = h->events_ok && h->scx.enabled && mono_ns >= h->events_next_ns;
		size_t n = events ? h->nloads : h->nrq_loads;

		if (bw_ram_load_batch(h->ram, h->loads, n, h->vals, &done, &e) < 0) {
			snprintf(h->problem, sizeof(h->problem), "reading the runqueues: %s", e.msg);
			return 0;
		}
		r = cpu_pass(h, mono_ns, err);
		if (r >= 0 && events) {
			h->events_next_ns = mono_ns + BW_SCX_HEALTH_EVENTS_PERIOD_NS;
			h->events_mono_ns = mono_ns;
			r = feed_events(h, err);
		} else if (!h->events_ok || !h->scx.enabled) {
			h->have_events = false;
		}
	}
	return r < 0 ? r : 0;
}

/* ---- views ---- */

bool bw_scx_health_key(const char *key)
{
	return strncmp(key, BW_SCX_HEALTH_PREFIX, strlen(BW_SCX_HEALTH_PREFIX)) == 0;
}

/* ---- what each metric is, for the publishers ---- */

#define RUNNABLE_LIST "rq->scx.runnable_list, each task's scx.runnable_at against jiffies"

static const struct bw_scx_health_metric fixed_metrics[] = {
	{ "sched_ext_enabled", BW_SCX_HEALTH_GAUGE,
	  "1 while a sched_ext scheduler is attached (scx_root and the enable state), 0 otherwise" },
	{ "sched_ext_state", BW_SCX_HEALTH_TEXT,
	  "the kernel's sched_ext enable state (enum scx_enable_state), as /sys/kernel/sched_ext/state" },
	{ "sched_ext_ops", BW_SCX_HEALTH_TEXT, "the attached scheduler's name (struct sched_ext_ops.name)" },
	{ "sched_ext_attaches", BW_SCX_HEALTH_COUNTER,
	  "schedulers attached in the metrics window (a new struct scx_sched in scx_root)" },
	{ "sched_ext_bypass_depth", BW_SCX_HEALTH_SIGNED,
	  "the kernel's scheduler bypass depth (scx_sched.bypass_depth, or scx_bypass_depth before 7.x)" },
	{ "sched_ext_nr_running", BW_SCX_HEALTH_GAUGE,
	  "runnable sched_ext tasks (struct rq scx.nr_running) summed over CPUs at the last tick" },
	{ "sched_ext_nr_running_avg", BW_SCX_HEALTH_MEAN,
	  "runnable sched_ext tasks per CPU (rq->scx.nr_running): mean over every tick and CPU of the window" },
	{ "sched_ext_nr_running_max", BW_SCX_HEALTH_GAUGE,
	  "runnable sched_ext tasks per CPU (rq->scx.nr_running): largest reading of the window" },
	{ "sched_ext_local_dsq_depth", BW_SCX_HEALTH_GAUGE,
	  "tasks in the CPUs' local DSQs (rq->scx.local_dsq.nr) summed over CPUs at the last tick" },
	{ "sched_ext_local_dsq_depth_avg", BW_SCX_HEALTH_MEAN,
	  "tasks in a CPU's local DSQ (rq->scx.local_dsq.nr): mean over every tick and CPU of the window" },
	{ "sched_ext_local_dsq_depth_max", BW_SCX_HEALTH_GAUGE,
	  "tasks in a CPU's local DSQ (rq->scx.local_dsq.nr): largest reading of the window" },
	{ "sched_ext_stalled_tasks", BW_SCX_HEALTH_GAUGE,
	  "runnable sched_ext tasks waiting longer than StallMSec= (" RUNNABLE_LIST
	  ") summed over CPUs at the last tick" },
	{ "sched_ext_stalled_tasks_avg", BW_SCX_HEALTH_MEAN,
	  "stalled sched_ext tasks per CPU (" RUNNABLE_LIST "): mean over every tick and CPU of the window" },
	{ "sched_ext_stalled_tasks_max", BW_SCX_HEALTH_GAUGE,
	  "stalled sched_ext tasks per CPU (" RUNNABLE_LIST "): largest reading of the window" },
	{ "sched_ext_stalls", BW_SCX_HEALTH_COUNTER,
	  "times in the metrics window a CPU went from no stalled task to some (" RUNNABLE_LIST ")" },
	{ "sched_ext_wedged_cpus", BW_SCX_HEALTH_GAUGE,
	  "CPUs with runnable sched_ext tasks whose runqueue clock (rq->clock) stopped advancing" },
	{ "sched_ext_exit_kind", BW_SCX_HEALTH_SIGNED,
	  "how the kernel disabled the scheduler (struct scx_exit_info.kind, enum scx_exit_kind)" },
	{ "sched_ext_exit_kind_name", BW_SCX_HEALTH_TEXT,
	  "the name of scx_exit_info.kind in enum scx_exit_kind, e.g. SCX_EXIT_ERROR_STALL" },
	{ "sched_ext_exit_code", BW_SCX_HEALTH_SIGNED, "the scheduler's exit code (scx_exit_info.exit_code)" },
	{ "sched_ext_exit_reason", BW_SCX_HEALTH_TEXT, "why the kernel disabled the scheduler (scx_exit_info.reason)" },
	{ "sched_ext_exit_msg", BW_SCX_HEALTH_TEXT, "the exit message (scx_exit_info.msg)" },
	{ "sched_ext_exit_missed", BW_SCX_HEALTH_GAUGE,
	  "1 when the scheduler was disabled and its exit record could not be read (kernel or kernel log)" },
};

#define EVENT_PREFIX BW_SCX_HEALTH_PREFIX "event_"
#define EVENT_HELP "the kernel's sched_ext event counter (struct scx_event_stats member SCX_EV_<name>, " \
		   "per CPU in scx_sched.pcpu or scx_sched.event_stats_cpu) summed over CPUs"

bool bw_scx_health_metric_of(const char *key, struct bw_scx_health_metric *out)
{
	for (size_t i = 0; i < sizeof(fixed_metrics) / sizeof(fixed_metrics[0]); i++) {
		if (!strcmp(key, fixed_metrics[i].key)) {
			*out = fixed_metrics[i];
			return true;
		}
	}
	if (strncmp(key, EVENT_PREFIX, strlen(EVENT_PREFIX)) || !key[strlen(EVENT_PREFIX)])
		return false;
	*out = (struct bw_scx_health_metric){ key, BW_SCX_HEALTH_COUNTER, EVENT_HELP };
	return true;
}

int bw_scx_health_each_metric(const struct bw_scx_health *h,
			      int (*fn)(const struct bw_scx_health_metric *m, void *userdata),
			      void *userdata)
{
	char key[sizeof(EVENT_PREFIX) + EVENT_NAME_MAX];
	int r = 0;

	for (size_t i = 0; i < sizeof(fixed_metrics) / sizeof(fixed_metrics[0]) && r >= 0; i++)
		r = fn(&fixed_metrics[i], userdata);
	for (unsigned int i = 0; h && i < h->l.nevents && r >= 0; i++) {
		snprintf(key, sizeof(key), EVENT_PREFIX "%s", h->l.ev_name[i]);
		r = fn(&(struct bw_scx_health_metric){ key, BW_SCX_HEALTH_COUNTER, EVENT_HELP },
		       userdata);
	}
	return r;
}

static int merge_fold(const struct bw_fold *fold, json_t *metrics, struct bw_error *err)
{
	json_t *m;
	int r = bw_fold_metrics_json(fold, &m, err);

	if (r < 0)
		return r;
	r = json_object_update(metrics, m) == 0 ? 0 :
	    bw_error_set(err, -ENOMEM, "sched_ext metrics: out of memory");
	json_decref(m);
	return r;
}

static int set_text(json_t *o, const char *key, const char *text, struct bw_error *err)
{
	if (json_object_set_new(o, key, json_string(text)) < 0)
		return bw_error_set(err, -ENOMEM, "sched_ext metrics: out of memory");
	return 0;
}

static const char *exit_kind_name(const struct bw_scx_health *h, int64_t kind)
{
	const char *n = enum_name(&h->l.exit_kinds, kind);

	return n ? n : "unknown";
}

int bw_scx_health_metrics_json(const struct bw_scx_health *h, json_t *metrics,
			       struct bw_error *err)
{
	int r = merge_fold(h->counters, metrics, err);

	if (r >= 0)
		r = merge_fold(h->gauges, metrics, err);
	if (r >= 0 && h->win_state)
		r = set_text(metrics, "sched_ext_state", h->win_state_name, err);
	if (r >= 0 && h->win_ops)
		r = set_text(metrics, "sched_ext_ops", h->win_ops_name, err);
	if (r >= 0 && h->win_exit && h->exit.valid) {
		r = set_text(metrics, "sched_ext_exit_kind_name",
			     h->exit.kind ? exit_kind_name(h, h->exit.kind) : "unknown", err);
		if (r >= 0 && !h->exit.missed)
			r = set_text(metrics, "sched_ext_exit_reason", h->exit.reason, err);
		if (r >= 0 && !h->exit.missed)
			r = set_text(metrics, "sched_ext_exit_msg", h->exit.msg, err);
	}
	return r;
}

static json_t *str_or_null(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

int bw_scx_health_exit_json(const struct bw_scx_health *h, json_t **out, struct bw_error *err)
{
	const struct exit_record *x = &h->exit;
	json_t *ex = json_null();

	if (x->valid)
		ex = json_pack("{s:o, s:I, s:s, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:I, s:I}",
			       "ops", str_or_null(x->ops), "kind", (json_int_t)x->kind,
			       "kind_name", x->kind ? exit_kind_name(h, x->kind) : "unknown",
			       "code", x->missed || x->from_log ? json_null() : json_integer(x->code),
			       "reason", x->missed ? json_null() : json_string(x->reason),
			       "msg", x->missed ? json_null() : json_string(x->msg),
			       "dump", str_or_null(x->dump), "missed", x->missed,
			       "missed_reason", str_or_null(x->missed_reason),
			       "source", str_or_null(x->missed ? NULL : x->source),
			       "mono_ns", (json_int_t)x->mono_ns, "wall_ns", (json_int_t)x->wall_ns);
	*out = ex ? json_pack("{s:b, s:o, s:o, s:o}", "attached", h->scx.enabled,
			      "ops", str_or_null(h->scx.enabled ? h->scx.ops_name : NULL),
			      "state", str_or_null(h->have_state ? h->state : NULL), "exit", ex) : NULL;
	return *out ? 0 : bw_error_set(err, -ENOMEM, "sched_ext exit record: out of memory");
}

int bw_scx_health_status_json(const struct bw_scx_health *h, json_t **out, struct bw_error *err)
{
	json_t *events = json_object(), *stalls = json_array(), *wedged = json_array();
	static const char *const ev_modes[] = { NULL, "event_stats_cpu", "pcpu" };
	static const char *const bypass_modes[] = { NULL, "global", "scx_sched" };

	*out = NULL;
	if (!events || !stalls || !wedged)
		goto oom;
	for (unsigned int i = 0; h->have_events && i < h->l.nevents; i++)
		if (json_object_set_new(events, h->l.ev_name[i], bw_json_exact_integer(h->event_sum[i])))
			goto oom;
	for (unsigned int i = 0; i < h->nstall_named; i++) {
		const struct stall_task *s = &h->stalls[i];

		if (json_array_append_new(stalls, json_pack("{s:I, s:i, s:s, s:I, s:I}", "cpu",
							    (json_int_t)s->cpu, "pid", s->pid,
							    "comm", s->comm, "waiting_ms",
							    (json_int_t)s->waiting_ms, "runnable_at",
							    (json_int_t)s->runnable_at)))
			goto oom;
	}
	for (uint32_t c = 0; c < h->ncpus; c++)
		if (h->cpus[c].wedged && json_array_append_new(wedged, json_integer(c)))
			goto oom;
	*out = json_pack("{s:o, s:o, s:b, s:o, s:O, s:o, s:o, s:I, s:O, s:O, s:o, s:{s:o, s:o}}",
			 "state", str_or_null(h->have_state ? h->state : NULL),
			 "ops", str_or_null(h->scx.enabled ? h->scx.ops_name : NULL),
			 "enabled", h->scx.enabled,
			 "bypass_depth", h->have_bypass ? json_integer(h->bypass_depth) : json_null(),
			 "events", events,
			 "events_mono_ns", h->have_events ? json_integer((json_int_t)h->events_mono_ns) :
			 json_null(),
			 "hz", h->hz ? json_integer(h->hz) : json_null(),
			 "stall_ms", (json_int_t)h->stall_ms, "stalls", stalls, "wedged_cpus", wedged,
			 "problem", str_or_null(h->problem),
			 "layout", "events", str_or_null(ev_modes[h->l.ev]),
			 "bypass_depth", str_or_null(bypass_modes[h->l.bypass]));
oom:
	json_decref(events);
	json_decref(stalls);
	json_decref(wedged);
	return *out ? 0 : bw_error_set(err, -ENOMEM, "sched_ext status: out of memory");
}
