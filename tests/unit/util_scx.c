/* SPDX-License-Identifier: MIT */
/*
 * The kernel structures of sched_ext health in a synthetic kernel BTF
 * (util_kernel.h, enum tk_health): struct scx_sched with its exit record
 * and per-CPU event counters laid out as 6.16, 6.18 or 7.x have them, and
 * struct rq / scx_rq / task_struct with the members the stall check reads.
 * Offsets are unlike the real kernel's on purpose: they must come from BTF.
 */
#include <check.h>

#include "util_kernel.h"

static const char *const events_6_16[] = {
	"SCX_EV_SELECT_CPU_FALLBACK", "SCX_EV_DISPATCH_LOCAL_DSQ_OFFLINE",
	"SCX_EV_DISPATCH_KEEP_LAST", "SCX_EV_ENQ_SKIP_EXITING",
	"SCX_EV_ENQ_SKIP_MIGRATION_DISABLED", "SCX_EV_REFILL_SLICE_DFL",
	"SCX_EV_BYPASS_DURATION", "SCX_EV_BYPASS_DISPATCH", "SCX_EV_BYPASS_ACTIVATE",
};
/* 7.x added events in the middle and at the end. */
static const char *const events_7[] = {
	"SCX_EV_SELECT_CPU_FALLBACK", "SCX_EV_DISPATCH_LOCAL_DSQ_OFFLINE",
	"SCX_EV_DISPATCH_KEEP_LAST", "SCX_EV_ENQ_SKIP_EXITING",
	"SCX_EV_ENQ_SKIP_MIGRATION_DISABLED", "SCX_EV_REENQ_IMMED", "SCX_EV_REFILL_SLICE_DFL",
	"SCX_EV_BYPASS_DURATION", "SCX_EV_BYPASS_DISPATCH", "SCX_EV_BYPASS_ACTIVATE",
	"SCX_EV_INSERT_NOT_OWNED", "SCX_EV_SUB_RESCUE",
};

void tk_health_btf(struct btf *btf, enum tk_health h, int ops_type, int has_op_type,
		   struct tk_health_layout *l)
{
	int s32 = test_btf_s32(btf), s64 = test_btf_s64(btf), u32 = test_btf_u32(btf);
	int u64 = test_btf_u64(btf), ulong = test_btf_ulong(btf), chr = test_btf_char(btf);
	int cp = test_btf_ptr(btf, chr), comm = test_btf_array(btf, chr, 16);
	int atomic, kind, ei, ei_ptr, ev, pcpu, list, dsq, scx_rq, see;
	struct test_btf_field f[TK_HEALTH_EVENTS_MAX + 1];
	const char *const *names = h == TK_HEALTH_7 ? events_7 : events_6_16;

	memset(l, 0, sizeof(*l));
	l->nevents = h == TK_HEALTH_7 ? 12 : 9;
	for (unsigned int i = 0; i < l->nevents; i++) {
		l->event_names[i] = names[i];
		f[i] = (struct test_btf_field)TEST_BTF_FIELD(names[i], s64, 8 * i);
	}
	f[l->nevents] = (struct test_btf_field)TEST_BTF_END;
	ev = test_btf_struct(btf, "scx_event_stats", 8 * l->nevents, f);

	kind = btf__add_enum(btf, "scx_exit_kind", 4);
	ck_assert_int_gt(kind, 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "SCX_EXIT_NONE", 0), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "SCX_EXIT_DONE", 1), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "SCX_EXIT_UNREG", 64), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "SCX_EXIT_ERROR", 1024), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "SCX_EXIT_ERROR_BPF", 1025), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "SCX_EXIT_ERROR_STALL", 1026), 0);

	ei = test_btf_struct(btf, "scx_exit_info", 72, (struct test_btf_field[]){
		TEST_BTF_FIELD("kind", kind, 0), TEST_BTF_FIELD("exit_cpu", s32, 4),
		TEST_BTF_FIELD("exit_code", s64, 8), TEST_BTF_FIELD("flags", u64, 16),
		TEST_BTF_FIELD("reason", cp, 24), TEST_BTF_FIELD("bt", test_btf_ptr(btf, ulong), 32),
		TEST_BTF_FIELD("bt_len", u32, 40), TEST_BTF_FIELD("msg", cp, 48),
		TEST_BTF_FIELD("dump", cp, 56), TEST_BTF_END });
	l->ei_size = 72;
	l->ei_kind = 0;
	l->ei_code = 8;
	l->ei_reason = 24;
	l->ei_msg = 48;
	l->ei_dump = 56;
	ei_ptr = test_btf_ptr(btf, ei);
	atomic = test_btf_struct(btf, "atomic_t", 4, (struct test_btf_field[]){
		TEST_BTF_FIELD("counter", s32, 0), TEST_BTF_END });

	l->sched_size = 512;
	l->sched_exit_kind = 400;
	l->sched_exit_info = 408;
	l->sched_events = 336;
	if (h == TK_HEALTH_6_16) {
		test_btf_struct(btf, "scx_sched", 512, (struct test_btf_field[]){
			TEST_BTF_FIELD("has_op", has_op_type, 0), TEST_BTF_FIELD("ops", ops_type, 64),
			TEST_BTF_FIELD("event_stats_cpu", test_btf_ptr(btf, ev), 336),
			TEST_BTF_FIELD("exit_kind", atomic, 400),
			TEST_BTF_FIELD("exit_info", ei_ptr, 408), TEST_BTF_END });
	} else {
		l->pcpu_event_stats = h == TK_HEALTH_7 ? 128 : 0;
		l->pcpu_size = l->pcpu_event_stats + 8 * l->nevents + 64;
		pcpu = test_btf_struct(btf, "scx_sched_pcpu", (uint32_t)l->pcpu_size,
				       (struct test_btf_field[]){
			TEST_BTF_FIELD("flags", u64, h == TK_HEALTH_7 ? 8 : l->pcpu_size - 8),
			TEST_BTF_FIELD("event_stats", ev, l->pcpu_event_stats), TEST_BTF_END });
		if (h == TK_HEALTH_7)
			l->sched_bypass = 352;
		test_btf_struct(btf, "scx_sched", 512, h == TK_HEALTH_7 ?
			(struct test_btf_field[]){
			TEST_BTF_FIELD("has_op", has_op_type, 0), TEST_BTF_FIELD("ops", ops_type, 64),
			TEST_BTF_FIELD("pcpu", test_btf_ptr(btf, pcpu), 336),
			TEST_BTF_FIELD("bypass_depth", s32, 352),
			TEST_BTF_FIELD("exit_kind", atomic, 400),
			TEST_BTF_FIELD("exit_info", ei_ptr, 408), TEST_BTF_END } :
			(struct test_btf_field[]){
			TEST_BTF_FIELD("has_op", has_op_type, 0), TEST_BTF_FIELD("ops", ops_type, 64),
			TEST_BTF_FIELD("pcpu", test_btf_ptr(btf, pcpu), 336),
			TEST_BTF_FIELD("exit_kind", atomic, 400),
			TEST_BTF_FIELD("exit_info", ei_ptr, 408), TEST_BTF_END });
	}

	/* struct list_head: the pointers take the next ids. */
	list = test_btf_struct(btf, "list_head", 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("next", test_btf_ptr(btf, (int)btf__type_cnt(btf) + 2), 0),
		TEST_BTF_FIELD("prev", test_btf_ptr(btf, (int)btf__type_cnt(btf) + 1), 8),
		TEST_BTF_END });
	dsq = test_btf_struct(btf, "scx_dispatch_q", 96, (struct test_btf_field[]){
		TEST_BTF_FIELD("list", list, 8), TEST_BTF_FIELD("nr", u32, 40),
		TEST_BTF_FIELD("id", u64, 48), TEST_BTF_END });
	scx_rq = test_btf_struct(btf, "scx_rq", 256, (struct test_btf_field[]){
		TEST_BTF_FIELD("local_dsq", dsq, 0), TEST_BTF_FIELD("runnable_list", list, 112),
		TEST_BTF_FIELD("nr_running", u32, 148), TEST_BTF_FIELD("clock", u64, 160),
		TEST_BTF_END });
	test_btf_struct(btf, "rq", 1024, (struct test_btf_field[]){
		TEST_BTF_FIELD("nr_running", u32, 4), TEST_BTF_FIELD("clock", u64, 24),
		TEST_BTF_FIELD("scx", scx_rq, 512), TEST_BTF_END });
	l->rq_size = 1024;
	l->rq_clock = 24;
	l->rq_scx = 512;
	l->scx_dsq_nr = 40;
	l->scx_runnable_list = 112;
	l->scx_nr_running = 148;
	see = test_btf_struct(btf, "sched_ext_entity", 128, (struct test_btf_field[]){
		TEST_BTF_FIELD("runnable_node", list, 40),
		TEST_BTF_FIELD("runnable_at", ulong, 56), TEST_BTF_END });
	test_btf_struct(btf, "task_struct", 2048, (struct test_btf_field[]){
		TEST_BTF_FIELD("pid", s32, 1100), TEST_BTF_FIELD("comm", comm, 1500),
		TEST_BTF_FIELD("scx", see, 640), TEST_BTF_END });
	l->task_size = 2048;
	l->task_pid = 1100;
	l->task_comm = 1500;
	l->task_runnable_node = 640 + 40;
	l->task_runnable_at = 640 + 56;
}
