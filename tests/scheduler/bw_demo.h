/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by the demo scheduler (bw_demo.bpf.c), the decoy object
 * (bw_decoy.bpf.c) and the guest-side loader (bw_loader.c).
 *
 * Both BPF objects declare globals and maps of exactly these types under
 * exactly the same names, and both are loaded with the libbpf object name
 * "bw_demo", so the guest kernel holds two sets of maps called
 * "bw_demo.bss", "bw_demo.data", "bw_demo.rodata", "cpu_stats", "slots" and
 * "cpu_ctx_stor_ac" (the kernel keeps 15 of the 16 characters of
 * "cpu_ctx_stor_acc").  Only the set that belongs to the attached
 * struct_ops scheduler is the right one; the decoy's values sit in
 * recognisable ranges (0xdec0...) so reading the wrong set shows at once.
 *
 * The layout deliberately covers every leaf kind a watch can name: u8..u64,
 * s8..s64 (negative values), bool behind a typedef, an enum, a signed and
 * unsigned bitfield, an anonymous union holding an anonymous struct, and
 * nested named/anonymous structs.  The integer types are the kernel's
 * typedef chains (u64 -> __u64 -> unsigned long long) as vmlinux.h gives
 * them, so a reader must look through typedefs.
 */
#ifndef BW_DEMO_H
#define BW_DEMO_H

#ifndef __VMLINUX_H__
/* User space: the loader includes the generated skeletons, whose section
 * structs name these types. */
#include <linux/types.h>
#include <stdbool.h>
typedef __u8 u8;
typedef __s8 s8;
typedef __s16 s16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;
#endif

/* Custom FIFO dispatch queue of the demo; ids with bit 63 clear are free for
 * BPF schedulers (SCX_DSQ_FLAG_BUILTIN is bit 63). */
#define BW_DSQ_ID 0x42

/* Entries of the "slots" array map, and of "cpu_ctx_stor_acc" (one per CPU
 * id below the cap; CPUs past it are not accounted). */
#define BW_NR_SLOTS 4
#define BW_MAX_CPUS 8

enum bw_mode {
	BW_MODE_OFF = 0,
	BW_MODE_FIFO = 3,
	BW_MODE_DECOY = 9,
};

/* .bss "stats": monotonically increasing counters (atomic adds). */
struct bw_stats {
	struct {
		u64 enqueues;     /* ops.enqueue calls */
		u64 dispatches;   /* ops.dispatch calls */
		u64 select_cpus;  /* ops.select_cpu calls */
		u64 direct;       /* select_cpu inserted straight to SCX_DSQ_LOCAL */
		u64 inits;        /* ops.init_task calls */
	} ops;
	u64 ticks;                /* ops.tick calls */
	u64 runs;                 /* ops.running calls */
};

/* .bss "state".bits: static fields and one changing field in one word. */
struct bw_bits {
	u32 ver_major : 4;        /* 7 */
	u32 ver_minor : 6;        /* 42 */
	s32 neg_bits : 5;         /* -3, signed bitfield */
	u32 tick_mod : 6;         /* stats.ticks % 64 at the last tick */
	u32 armed : 1;            /* 1 */
	u32 : 10;
};

/* .bss "state": gauges, statics and every small leaf kind. */
struct bw_state {
	s32 gauge;                /* (ticks % 21) - 10: oscillates in [-10, 10] */
	s32 fixed_neg;            /* -5 */
	s16 neg16;                /* -1234 */
	s8 neg8;                  /* -7 */
	u8 small;                 /* 200 */
	bool enabled;             /* true once ops.init ran */
	enum bw_mode mode;        /* BW_MODE_FIFO */
	union {
		u64 word;             /* hi << 32 | lo */
		struct {
			u32 lo;           /* (u32)ticks */
			u32 hi;           /* 0xb0b0 */
		};
	};
	struct bw_bits bits;
	s64 drift;                /* -(s64)ticks: decreases, always <= 0 */
};

/* Value of the per-CPU array "cpu_stats" (one entry, key 0). */
struct bw_cpu_stat {
	u64 runs;                 /* ops.running on this CPU */
	s64 gauge;                /* (runs % 11) - 5 */
	u64 ticks;                /* ops.tick on this CPU */
};

/* Value of the array "slots" (BW_NR_SLOTS entries). */
struct bw_slot {
	u32 id;                   /* index + 1 */
	u32 weight;               /* 100 * (index + 1) */
	u64 hits;                 /* enqueues of tasks with pid % BW_NR_SLOTS == index */
	s32 delta;                /* -10 * (index + 1) */
	u32 pad;                  /* 0 */
};

/* Value of the array "cpu_ctx_stor_acc" (BW_MAX_CPUS entries, key = CPU). */
struct bw_ctx_acc {
	u64 switches;             /* ops.running on this CPU */
	u32 last_pid;             /* pid of the task that ran last */
	s32 cpu;                  /* the key, set on first use; -1 before */
};

/* ---- map kinds: maps without BTF, bare values, hash maps, text ---- */

/* Keys of "task_hits" that stay (one per slot) and that come and go. */
#define BW_TASK_KEYS 4
#define BW_CHURN_BASE 100          /* keys 100..107: one added or deleted per tick */
#define BW_CHURN_KEYS 8
/* Decoy-only "task_hits" keys: its live count (4 + 16) is outside the demo's [4, 12]. */
#define BW_DECOY_EXTRA_BASE 5000
#define BW_DECOY_EXTRA_KEYS 16
#define BW_CPU_CHURN_BASE 1000     /* "cpu_hits" keys 1000..1003, the same way */
#define BW_CPU_CHURN_KEYS 4
/* .bss "phase": "tick-N", N the last digit of stats.ticks */
#define BW_PHASE_LEN 16

/* Value of the hash map "task_hits" (key u32). */
struct bw_hval {
	u64 hits;                 /* stable keys: enqueues of pid % 4 == key; churn keys: 0 */
	u32 tag;                  /* key * 3 */
	u32 pad;
};

/*
 * Value of the demo's array "bw_control" (one entry), written by the loader
 * to make the scheduler fail on purpose: BW_CTL_ERROR calls scx_bpf_error()
 * with fmt and seq from the next tick or dispatch on; BW_CTL_STALL stops
 * dispatching (and direct dispatch from select_cpu), so runnable tasks wait
 * until the kernel's watchdog ejects the scheduler.
 */
#define BW_CTL_RUN 0
#define BW_CTL_ERROR 1
#define BW_CTL_STALL 2
#define BW_CTL_FMT_LEN 64
/* ops.timeout_ms: the kernel's watchdog ejects a stalled demo after this long. */
#define BW_TIMEOUT_MS 10000

struct bw_control {
	u32 cmd;
	u32 pad;
	u64 seq;                  /* printed in the error message */
	char fmt[BW_CTL_FMT_LEN]; /* the error's format, one %llu for seq */
};

#endif /* BW_DEMO_H */
