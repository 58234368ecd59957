/* SPDX-License-Identifier: MIT */
/*
 * Opening a guest: its RAM backends, the machine layout and the kernel
 * model together, because only the kernel model can tell whether a
 * layout (and an order of backends) is the one QEMU uses.
 *
 * With a layout given, it is used as is.  Without one, q35, pc and flat
 * are tried in that order, and for backends found in a QEMU process (whose
 * node order the process does not show) each order of up to
 * BW_GUEST_MAX_PERMUTED backends, and the first under which the kernel
 * model is consistent is kept: VMCOREINFO found, kallsyms decoded,
 * page_offset_base read, and every CPU's per-CPU area reads back its own
 * offset (kernel.h percpu_checked / percpu_bad).  When none is consistent
 * the model with the fewest bad CPUs is kept, and the watches that need
 * the missing memory are errors (engine.h).
 *
 * With QEMU's own description of its memory (@qemu: QMP query-memdev and
 * "info mtree -f", qemu_mtree.h) nothing is guessed: the layout is the one
 * QEMU prints, over the backends matched to its memdevs by size (backends
 * of equal size are tried in each order, checked as above), and private
 * RAM is the mappings of the sizes QEMU names.
 */
#ifndef BPFWATCH_GUEST_OPEN_H
#define BPFWATCH_GUEST_OPEN_H

#include <stdbool.h>

#include "error.h"
#include "guest_ram.h"
#include "kernel.h"
#include "qemu_mtree.h"
#include "ram_layout.h"

#define BW_GUEST_MAX_PERMUTED 3

struct bw_guest_choice {
	char layout[32];	/* "q35", "pc", "flat", "explicit" */
	char layout_why[BW_ERROR_MSG_MAX];
	char backends_why[256];
	bool memory_opened;	/* on failure: the RAM opened, the kernel did not */
};

struct bw_guest_qemu {
	struct bw_qemu_memdevs memdevs;
	struct bw_mtree mtree;
};

/* @layout NULL or BW_LAYOUT_AUTO: choose it; @qemu may be NULL. */
int bw_guest_open(const struct bw_ram_source *source, const struct bw_layout_spec *layout,
		  const struct bw_guest_qemu *qemu, const struct bw_kernel_files *files,
		  struct bw_ram **ram,
		  struct bw_kernel **kernel, struct bw_guest_choice *choice, struct bw_error *err);

#endif
