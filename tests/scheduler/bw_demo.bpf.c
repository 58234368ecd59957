// SPDX-License-Identifier: GPL-2.0
/*
 * bw_demo: the project's own sched_ext scheduler, run inside the test guest
 * so the end-to-end tests have a scheduler whose every value is known.
 *
 * Scheduling is a plain global FIFO: a waking task whose previous CPU (or
 * another) is idle goes straight to that CPU's local DSQ from select_cpu;
 * every other task is queued on one custom DSQ (BW_DSQ_ID) and each CPU
 * pulls from it in ops.dispatch.  That is all sched_ext needs to keep every
 * task running, so the scheduler stays attached for as long as the test
 * wants.
 *
 * The rest is instrumentation with known semantics (see bw_demo.h): counters
 * only ever grow (atomic adds, so two CPUs never lose or roll back an
 * update), gauges move in known ranges, and the static fields hold fixed
 * values from ops.init on.  libbpf names this object "bw_demo" (the loader
 * passes the name explicitly), so its global sections become the maps
 * "bw_demo.bss", "bw_demo.data" and "bw_demo.rodata".
 */
#define BW_INIT_DATA_MAGIC 0xb0f0
#define BW_INIT_DATA_COUNTER 1
#define BW_INIT_RO_SLICE_NS 20000000ULL /* SCX_SLICE_DFL */
#include "bw_common.bpf.h"

#define BW_IDENT 0xb0d3b0d3c0ffee01ULL
#define BW_STATE_HI 0xb0b0

/* ---- test control: the loader asks the scheduler to fail (see bw_demo.h) ---- */

extern void scx_bpf_error_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym;

/* Only the demo has it: the decoy never fails on purpose. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct bw_control);
} bw_control SEC(".maps");

static u32 control_cmd(void)
{
	u32 zero = 0;
	struct bw_control *c = bpf_map_lookup_elem(&bw_control, &zero);

	return c ? c->cmd : BW_CTL_RUN;
}

/*
 * scx_bpf_error() is a macro over this kfunc.  The format comes with the
 * command (the loader writes it), so the demo's global sections stay those
 * the decoy mirrors.
 */
static void control_error(void)
{
	u32 zero = 0;
	struct bw_control *c = bpf_map_lookup_elem(&bw_control, &zero);
	unsigned long long data[1];

	if (!c)
		return;
	data[0] = c->seq;
	c->fmt[BW_CTL_FMT_LEN - 1] = '\0';
	scx_bpf_error_bstr(c->fmt, data, sizeof(data));
}

/* ---- end of test control ---- */

static void count_slot(const struct task_struct *p)
{
	u32 key = (u32)p->pid % BW_NR_SLOTS;
	struct bw_slot *slot = bpf_map_lookup_elem(&slots, &key);

	if (slot)
		__sync_fetch_and_add(&slot->hits, 1);
}

/* ---- map kinds: maps without BTF, bare values, hash maps, text ---- */

/* scx_simple's way: a per-CPU array without BTF, [0] local, [1] global. */
static void simple_stat_inc(u32 idx)
{
	u64 *cnt = bpf_map_lookup_elem(&simple_stats, &idx);

	if (cnt)
		(*cnt)++;
}

static void count_flat(u64 runs)
{
	u32 key = (u32)(runs % 4);
	u64 *cnt = bpf_map_lookup_elem(&flat_counts, &key);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
}

static void count_task_hit(const struct task_struct *p)
{
	u32 key = (u32)p->pid % BW_TASK_KEYS;
	struct bw_hval *v = bpf_map_lookup_elem(&task_hits, &key);

	if (v)
		__sync_fetch_and_add(&v->hits, 1);
}

static void count_cpu_hit(void)
{
	u64 key = 0, *v = bpf_map_lookup_elem(&cpu_hits, &key);

	if (v)
		(*v)++;		/* this CPU's copy only */
}

/* One churn key of each hash map appears or goes away per tick. */
static void churn(u64 t)
{
	u32 key = BW_CHURN_BASE + (u32)(t % BW_CHURN_KEYS);
	u64 ckey = BW_CPU_CHURN_BASE + t % BW_CPU_CHURN_KEYS, zero = 0;
	struct bw_hval v = { .hits = 0, .tag = key * 3 };

	if (bpf_map_lookup_elem(&task_hits, &key))
		bpf_map_delete_elem(&task_hits, &key);
	else
		bpf_map_update_elem(&task_hits, &key, &v, BPF_NOEXIST);
	if (bpf_map_lookup_elem(&cpu_hits, &ckey))
		bpf_map_delete_elem(&cpu_hits, &ckey);
	else
		bpf_map_update_elem(&cpu_hits, &ckey, &zero, BPF_NOEXIST);
}

static void map_kinds_init(void)
{
	u64 ckey = 0, zero = 0;
	u32 i;

#pragma clang loop unroll(full)
	for (i = 0; i < BW_TASK_KEYS; i++) {
		u32 key = i;
		struct bw_hval v = { .hits = 0, .tag = i * 3 };

		bpf_map_update_elem(&task_hits, &key, &v, BPF_ANY);
	}
	bpf_map_update_elem(&cpu_hits, &ckey, &zero, BPF_ANY);
	__builtin_memcpy(phase, "tick-0", 7);
}

s32 BW_OPS(bw_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	__sync_fetch_and_add(&stats.ops.select_cpus, 1);
	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle && control_cmd() != BW_CTL_STALL) {
		__sync_fetch_and_add(&stats.ops.direct, 1);
		simple_stat_inc(0);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, ro_slice_ns, 0);
	}
	return cpu;
}

void BW_OPS(bw_enqueue, struct task_struct *p, u64 enq_flags)
{
	__sync_fetch_and_add(&stats.ops.enqueues, 1);
	count_slot(p);
	simple_stat_inc(1);
	count_task_hit(p);
	scx_bpf_dsq_insert(p, BW_DSQ_ID, ro_slice_ns, enq_flags);
}

void BW_OPS(bw_dispatch, s32 cpu, struct task_struct *prev)
{
	__sync_fetch_and_add(&stats.ops.dispatches, 1);
	switch (control_cmd()) {
	case BW_CTL_STALL:
		return;		/* nothing runs: the kernel's watchdog must eject us */
	case BW_CTL_ERROR:
		control_error();
		return;
	}
	scx_bpf_dsq_move_to_local(BW_DSQ_ID);
}

void BW_OPS(bw_running, struct task_struct *p)
{
	u32 zero = 0, cpu = bpf_get_smp_processor_id();
	struct bw_cpu_stat *cs;
	struct bw_ctx_acc *acc;

	count_flat(__sync_fetch_and_add(&stats.runs, 1));
	count_cpu_hit();

	/* Per-CPU values are only ever written by their own CPU. */
	cs = bpf_map_lookup_elem(&cpu_stats, &zero);
	if (cs) {
		cs->runs++;
		cs->gauge = (s64)(cs->runs % 11) - 5;
	}
	acc = bpf_map_lookup_elem(&cpu_ctx_stor_acc, &cpu);
	if (acc) {
		acc->switches++;
		acc->last_pid = (u32)p->pid;
		acc->cpu = (s32)cpu;
	}
}

void BW_OPS(bw_tick, struct task_struct *p)
{
	u32 zero = 0;
	struct bw_cpu_stat *cs;
	u64 t = __sync_fetch_and_add(&stats.ticks, 1) + 1;

	state.gauge = (s32)(t % 21) - 10;
	state.word = ((u64)BW_STATE_HI << 32) | (u32)t;
	state.bits.tick_mod = t % 64;
	state.drift = -(s64)t;
	if (control_cmd() == BW_CTL_ERROR)
		control_error();
	__sync_fetch_and_add(&data_counter, 1);

	cs = bpf_map_lookup_elem(&cpu_stats, &zero);
	if (cs)
		cs->ticks++;
	phase[5] = '0' + (char)(t % 10);
	churn(t);
}

s32 BW_OPS(bw_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	__sync_fetch_and_add(&stats.ops.inits, 1);
	return 0;
}

s32 BW_OPS_SLEEPABLE(bw_init)
{
	u32 i;

	/* Unrolled, with the key in its own variable: a loop counter whose
	 * address is passed to a helper loses its bounds in the verifier. */
#pragma clang loop unroll(full)
	for (i = 0; i < BW_NR_SLOTS; i++) {
		u32 key = i;
		struct bw_slot *slot = bpf_map_lookup_elem(&slots, &key);

		if (!slot)
			continue;
		slot->id = i + 1;
		slot->weight = 100 * (i + 1);
		slot->delta = -10 * (s32)(i + 1);
	}
#pragma clang loop unroll(full)
	for (i = 0; i < BW_MAX_CPUS; i++) {
		u32 key = i;
		struct bw_ctx_acc *acc = bpf_map_lookup_elem(&cpu_ctx_stor_acc, &key);

		if (acc)
			acc->cpu = -1;
	}

	ident = BW_IDENT;
	state.fixed_neg = -5;
	state.neg16 = -1234;
	state.neg8 = -7;
	state.small = 200;
	state.mode = BW_MODE_FIFO;
	state.word = (u64)BW_STATE_HI << 32;
	state.bits.ver_major = 7;
	state.bits.ver_minor = 42;
	state.bits.neg_bits = -3;
	state.bits.armed = 1;
	state.enabled = true;
	map_kinds_init();

	return scx_bpf_create_dsq(BW_DSQ_ID, -1);
}

void BW_OPS(bw_exit, struct scx_exit_info *ei)
{
	exit_kind = ei->kind;
	state.enabled = false;
}

SEC(".struct_ops.link")
struct sched_ext_ops bw_demo_ops = {
	.select_cpu = (void *)bw_select_cpu,
	.enqueue = (void *)bw_enqueue,
	.dispatch = (void *)bw_dispatch,
	.running = (void *)bw_running,
	.tick = (void *)bw_tick,
	.init_task = (void *)bw_init_task,
	.init = (void *)bw_init,
	.exit = (void *)bw_exit,
	/* Short, so a stall test is ejected in seconds (the loader may override it). */
	.timeout_ms = BW_TIMEOUT_MS,
	.name = "bw_demo",
};
