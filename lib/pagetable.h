/* SPDX-License-Identifier: MIT */
/*
 * x86-64 kernel virtual -> guest physical translation by walking the page
 * tables from init_top_pgt (the kernel's PGD), 4- or 5-level, with 1 GiB
 * and 2 MiB pages.  See pagetable.c for the entry format.
 */
#ifndef BPFWATCH_PAGETABLE_H
#define BPFWATCH_PAGETABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "addrspace.h"
#include "error.h"

#define BW_PT_CACHE_SLOTS 256

struct bw_pagetable {
	struct bw_addrspace phys;	/* guest physical memory */
	uint64_t root;			/* GPA of the top-level table */
	int levels;			/* 4 or 5 */
	uint64_t sme_mask;		/* AMD SME C-bit, cleared from entries */
	/* Translations per 4 KiB page (direct-mapped); flushed by bw_pt_flush(). */
	struct {
		uint64_t va_page;	/* 0 = empty (VA 0 is never a kernel address) */
		uint64_t pa_page;
	} cache[BW_PT_CACHE_SLOTS];
};

void bw_pt_init(struct bw_pagetable *pt, struct bw_addrspace phys, uint64_t root, int levels,
		uint64_t sme_mask);
void bw_pt_flush(struct bw_pagetable *pt);

/*
 * Translate @va.  On success *gpa is its guest physical address and
 * *page_size (optional) the size of the page that maps it (4K, 2M, 1G).
 * -EFAULT with a message for a non-canonical VA or a non-present entry.
 */
int bw_pt_translate(struct bw_pagetable *pt, uint64_t va, uint64_t *gpa, uint64_t *page_size,
		    struct bw_error *err);

#endif
