/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the demo scheduler and the decoy share on the BPF side: the sched_ext
 * kfunc declarations, the struct_ops section macros, and the definitions of
 * every global and map.  Defining the globals and maps in one place is what
 * makes the decoy a faithful double: same variable names, same map names,
 * same BTF types.  Each object picks its own .data/.rodata initial values
 * through the BW_INIT_* macros before including this file.
 *
 * The kfunc names are those of Linux 6.13+ (scx_bpf_dsq_insert and
 * scx_bpf_dsq_move_to_local replaced scx_bpf_dispatch and scx_bpf_consume
 * there).  Prototypes must match the guest kernel's BTF argument for
 * argument, since libbpf checks them: they are the ones of the Debian 7.3
 * guest, whose kernel/sched/ext.c gives several kfuncs a hidden trailing
 * "aux" argument (the *_impl FUNCs in its BTF) that BPF callers never pass.
 */
#ifndef BW_COMMON_BPF_H
#define BW_COMMON_BPF_H

/* vmlinux.h from a recent bpftool also declares every kfunc; the few used
 * here are declared below so the objects do not depend on that. */
#define BPF_NO_KFUNC_PROTOTYPES
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bw_demo.h"

extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym;
extern s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu,
				  u64 wake_flags, bool *is_idle) __ksym;
extern void scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice,
			       u64 enq_flags) __ksym;
extern bool scx_bpf_dsq_move_to_local(u64 dsq_id) __ksym;

/* sched_ext callbacks are struct_ops programs; ops.init may sleep (it
 * creates a DSQ), so it goes in the sleepable section. */
#define BW_OPS(name, args...) SEC("struct_ops/" #name) BPF_PROG(name, ##args)
#define BW_OPS_SLEEPABLE(name, args...) \
	SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

#ifndef BW_INIT_DATA_MAGIC
#error "define BW_INIT_DATA_MAGIC, BW_INIT_DATA_COUNTER and BW_INIT_RO_SLICE_NS"
#endif

/* .bss */
struct bw_stats stats;
struct bw_state state;
u64 ident;                         /* set once: a per-object constant */
u32 exit_kind;                     /* scx_exit_info.kind seen by ops.exit */

/* .data */
u32 data_magic = BW_INIT_DATA_MAGIC;
u64 data_counter = BW_INIT_DATA_COUNTER;

/* .rodata (the loader sets ro_nr_cpus before loading) */
const volatile u32 ro_nr_cpus = 1;
const volatile u64 ro_slice_ns = BW_INIT_RO_SLICE_NS;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct bw_cpu_stat);
} cpu_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BW_NR_SLOTS);
	__type(key, u32);
	__type(value, struct bw_slot);
} slots SEC(".maps");

/* 16 characters: the kernel keeps "cpu_ctx_stor_ac". */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BW_MAX_CPUS);
	__type(key, u32);
	__type(value, struct bw_ctx_acc);
} cpu_ctx_stor_acc SEC(".maps");

/* ---- map kinds: maps without BTF, bare values, hash maps, text ---- */

/* .bss text, changed every tick */
char phase[BW_PHASE_LEN];

/* Declared with key_size/value_size only, as scx_simple's "stats": the
 * kernel keeps no BTF for it.  [0] local, [1] global dispatches. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u64));
	__uint(max_entries, 2);
} simple_stats SEC(".maps");

/* An array of bare u64, as scx_flatcg's "stats". */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} flat_counts SEC(".maps");

/* Hash maps the scheduler adds to and deletes from while it runs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, struct bw_hval);
} task_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, u64);
	__type(value, u64);
} cpu_hits SEC(".maps");

char _license[] SEC("license") = "GPL";

#endif /* BW_COMMON_BPF_H */
