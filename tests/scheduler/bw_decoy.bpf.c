// SPDX-License-Identifier: GPL-2.0
/*
 * bw_decoy: a BPF object that looks exactly like the demo scheduler's maps
 * from the outside, and is not a scheduler.
 *
 * It shares bw_common.bpf.h with bw_demo, so every global and map has the
 * same name and BTF type, and the loader opens it under the same libbpf
 * object name ("bw_demo"), so the kernel's map names are identical too
 * ("bw_demo.bss", "cpu_stats", "cpu_ctx_stor_ac", ...).  It is loaded before
 * the scheduler, so its maps get the lower ids.  Nothing ties it to
 * sched_ext: its only program is a BPF_PROG_TYPE_SYSCALL program that the
 * loader runs with BPF_PROG_TEST_RUN to stamp recognisable values.
 *
 * Decoy values: every number starts with 0xdec0 where the field is wide
 * enough, and the small fields take values the demo never shows (mode
 * BW_MODE_DECOY, positive gauges where the demo's are negative).  Only
 * stats.ticks and data_counter move (+1 per loader sample), so a reader
 * latched on the decoy sees "live" counters in the wrong range.
 */
#define BW_INIT_DATA_MAGIC 0xdec0
#define BW_INIT_DATA_COUNTER 0xdec0dec0ULL
#define BW_INIT_RO_SLICE_NS 0xdec0ULL
#include "bw_common.bpf.h"

#define BW_DECOY_IDENT 0xdec0dec0dec0dec0ULL
#define BW_DECOY_BASE 0xdec0000000ULL

SEC("syscall")
int bw_decoy_fill(void *ctx)
{
	u32 i, zero = 0;

	if (stats.ticks == 0) {
		stats.ops.enqueues = BW_DECOY_BASE + 1;
		stats.ops.dispatches = BW_DECOY_BASE + 2;
		stats.ops.select_cpus = BW_DECOY_BASE + 3;
		stats.ops.direct = BW_DECOY_BASE + 4;
		stats.ops.inits = BW_DECOY_BASE + 5;
		stats.ticks = BW_DECOY_BASE;
		stats.runs = BW_DECOY_BASE + 6;

		state.gauge = 0xdec0;
		state.fixed_neg = 0xdec1;
		state.neg16 = 0x0dec;
		state.neg8 = 0x5e;
		state.small = 0xde;
		state.enabled = false;
		state.mode = BW_MODE_DECOY;
		state.word = 0xdec0dec1dec2dec3ULL;
		state.bits.ver_major = 13;
		state.bits.ver_minor = 0x3c;
		state.bits.neg_bits = 12;
		state.bits.tick_mod = 0x2d;
		state.bits.armed = 0;
		state.drift = 0xdec0;

		ident = BW_DECOY_IDENT;
		exit_kind = 0xdec0;

		/* Unrolled, with the key in its own variable: a loop counter
		 * whose address is passed to a helper loses its bounds in the
		 * verifier. */
#pragma clang loop unroll(full)
		for (i = 0; i < BW_NR_SLOTS; i++) {
			u32 key = i;
			struct bw_slot *slot = bpf_map_lookup_elem(&slots, &key);

			if (!slot)
				continue;
			slot->id = 0xdec0 + i;
			slot->weight = 0xdec0;
			slot->hits = BW_DECOY_BASE + i;
			slot->delta = 0xdec0;
			slot->pad = 0xdec0;
		}
#pragma clang loop unroll(full)
		for (i = 0; i < BW_MAX_CPUS; i++) {
			u32 key = i;
			struct bw_ctx_acc *acc =
				bpf_map_lookup_elem(&cpu_ctx_stor_acc, &key);

			if (!acc)
				continue;
			acc->switches = BW_DECOY_BASE + i;
			acc->last_pid = 0xdec0;
			acc->cpu = 0xdec0;
		}
	}

	/* Only this CPU's slot is reachable from here: the loader stamps the
	 * per-CPU map for every CPU from user space. */
	if (bpf_map_lookup_elem(&cpu_stats, &zero) == NULL)
		return 1;

	/* Reading .data and .rodata here puts those maps in the program's
	 * used_maps as well, as they are in the scheduler's. */
	if (data_magic != BW_INIT_DATA_MAGIC || ro_slice_ns != BW_INIT_RO_SLICE_NS)
		return 2;

	stats.ticks++;
	data_counter++;
	return 0;
}
