/* SPDX-License-Identifier: MIT */
/*
 * QEMU's own word on where guest RAM lies: the text of the monitor command
 * "info mtree -f" (system/memory.c mtree_info_flatview()), which prints each
 * address space's flattened view as lines
 *     "  START-END (prio P, ram): NAME [@OFFSET] [KVM]"
 * with START/END inclusive guest-physical addresses in hex and OFFSET the
 * position inside the RAM region NAME (a memory backend's id, or the
 * machine's "pc.ram").  The view of the address space "memory" (the CPUs'
 * system memory) is the one that counts.  The text comes from a QMP
 * conversation (daemon/); this file only reads text, so unit tests feed it
 * synthetic and garbage texts.
 */
#ifndef BPFWATCH_QEMU_MTREE_H
#define BPFWATCH_QEMU_MTREE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "guest_ram.h"
#include "ram_layout.h"

#define BW_MTREE_MAX_PIECES 64
#define BW_MEMDEV_NAME_MAX 64

struct bw_mtree_piece {
	uint64_t gpa, size;
	uint64_t offset;			/* inside the region named */
	char name[BW_MEMDEV_NAME_MAX];
};

struct bw_mtree {
	unsigned int n;
	struct bw_mtree_piece p[BW_MTREE_MAX_PIECES];
};

/* The RAM pieces of address space "memory", in the order printed (by GPA). */
int bw_mtree_parse(const char *text, size_t len, struct bw_mtree *out, struct bw_error *err);

/* QEMU's memory backends (QMP query-memdev): ids and sizes. */
struct bw_qemu_memdevs {
	unsigned int n;
	char id[BW_RAM_MAX_BACKENDS][BW_MEMDEV_NAME_MAX];
	uint64_t size[BW_RAM_MAX_BACKENDS];
};

/*
 * The layout over backends concatenated with sizes @sizes[0..n): backend i
 * is the memdev of the same size not yet taken, in the order the mtree
 * first names them, and each RAM piece of a memdev becomes a region at
 * that backend's place in the concatenation.  Pieces of other RAM regions
 * (video RAM, ROMs) are not guest RAM for us and are left out.  Fails
 * when the sizes do not match the memdevs one to one.  @names (may be
 * NULL) gets each backend's memdev id.
 */
int bw_mtree_layout(const struct bw_mtree *mtree, const struct bw_qemu_memdevs *memdevs,
		    const uint64_t *sizes, unsigned int n, struct bw_layout_spec *spec,
		    char (*names)[BW_MEMDEV_NAME_MAX], struct bw_error *err);

#endif
