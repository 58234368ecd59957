/* SPDX-License-Identifier: MIT */
/*
 * Where guest-physical addresses live in the file that backs guest RAM.
 *
 * QEMU's x86 machines put the first part of the RAM backend at GPA 0
 * ("ram-below-4g") and the rest at 4 GiB ("ram-above-4g"); the split point
 * follows the machine's own rule (hw/i386/pc_q35.c, hw/i386/pc_piix.c):
 *   q35: below = 2 GiB if RAM >= 2.75 GiB else 2.75 GiB, capped by
 *        max-ram-below-4g (default 4 GiB); all RAM below when it fits.
 *   pc:  below = max-ram-below-4g (default 3.5 GiB), cut to 3 GiB when RAM
 *        does not fit below (gigabyte alignment of current machine types).
 *   flat: the file is GPA 0 onward, one region.
 * Anything else (AMD guests whose high RAM moves to 1 TiB, NUMA splits) is
 * given as an explicit list "gpa:size@offset,...".
 */
#ifndef BPFWATCH_RAM_LAYOUT_H
#define BPFWATCH_RAM_LAYOUT_H

#include <stdint.h>

#include "error.h"

#define BW_LAYOUT_MAX_REGIONS 16
#define BW_GIB (1ULL << 30)

struct bw_ram_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset;	/* in the backing file */
};

enum bw_layout_kind {
	BW_LAYOUT_Q35,
	BW_LAYOUT_PC,
	BW_LAYOUT_FLAT,
	BW_LAYOUT_EXPLICIT,
	BW_LAYOUT_AUTO,		/* chosen against the kernel model (guest_open.h) */
};

/* A parsed --layout / Layout= value, before the RAM size is known. */
struct bw_layout_spec {
	enum bw_layout_kind kind;
	uint64_t max_ram_below_4g;	/* 0: the machine's default */
	unsigned int nregions;		/* BW_LAYOUT_EXPLICIT only */
	struct bw_ram_region regions[BW_LAYOUT_MAX_REGIONS];
};

/* The layout applied to one RAM file: regions sorted by GPA. */
struct bw_layout {
	unsigned int nregions;
	struct bw_ram_region regions[BW_LAYOUT_MAX_REGIONS];
};

/*
 * Parse "auto", "q35", "pc", "flat" (each optionally ",max-ram-below-4g=SIZE"), or
 * "GPA:SIZE@OFFSET[,GPA:SIZE@OFFSET...]".  Numbers take 0x hex or decimal
 * with an optional K/M/G/T suffix.
 */
int bw_layout_parse(const char *text, struct bw_layout_spec *spec, struct bw_error *err);

/* Compute the regions for a RAM file of @file_size bytes and check them against it. */
int bw_layout_apply(const struct bw_layout_spec *spec, uint64_t file_size,
		    struct bw_layout *layout, struct bw_error *err);

const char *bw_layout_kind_name(enum bw_layout_kind kind);

#endif
