/* SPDX-License-Identifier: MIT */
/*
 * Walking a Linux XArray, and the IDR built on one, in guest kernel memory:
 * the tables that hold every BPF map (map_idr) and program (prog_idr).
 * The tree is walked node by node, so only present entries cost reads; no
 * id is probed.  Every offset comes from the guest kernel's BTF.
 */
#ifndef BPFWATCH_XARRAY_H
#define BPFWATCH_XARRAY_H

#include <stdint.h>

#include "addrspace.h"
#include "error.h"

struct btf;

/*
 * At most this many xa_nodes are read in one walk.  A map or program IDR
 * holds at most tens of thousands of objects (each costs the guest kernel
 * memory and an fd or a pin), a few hundred nodes; 1 << 20 nodes would
 * index 64 Mi entries in 576 MiB of nodes.  A walk of garbage (a node
 * referenced from many parents) stops here, after a bounded number of
 * reads, with -E2BIG.
 */
#define BW_XA_MAX_NODES (1u << 20)

/* Where the walker looks, from the guest kernel's BTF. */
struct bw_xa_layout {
	uint64_t xa_head;	/* offsetof(struct xarray, xa_head) */
	uint64_t node_shift;	/* offsetof(struct xa_node, shift), 1 byte */
	uint64_t node_offset;	/* offsetof(struct xa_node, offset), 1 byte */
	uint64_t node_slots;	/* offsetof(struct xa_node, slots) */
	uint32_t chunk_size;	/* XA_CHUNK_SIZE: elements of xa_node.slots */
	uint32_t chunk_shift;	/* XA_CHUNK_SHIFT: log2(chunk_size) */
	uint64_t idr_rt;	/* offsetof(struct idr, idr_rt), a struct xarray */
	uint64_t idr_base;	/* offsetof(struct idr, idr_base), 4 bytes */
	uint64_t idr_next;	/* offsetof(struct idr, idr_next), 4 bytes */
};

/*
 * Fill @layout from struct xarray, struct xa_node and struct idr in @btf.
 * Checks the widths the walker relies on (8-byte slots and head, 1-byte
 * shift/offset, 4-byte idr_base/idr_next) and that the slots array length
 * is a power of two the walker supports.
 */
int bw_xa_layout_from_btf(const struct btf *btf, struct bw_xa_layout *layout,
			  struct bw_error *err);

/*
 * Called for each present pointer entry (low two bits 00, non-NULL), in
 * increasing index order.  @entry is the raw guest value: a kernel pointer
 * the caller must still validate before following.  A non-zero return
 * stops the walk, which then returns that value.
 */
typedef int (*bw_xa_entry_fn)(void *ctx, uint64_t index, uint64_t entry);

/* What a walk saw; filled as far as it got, even on error. */
struct bw_xa_walk_stats {
	uint64_t nodes;		/* xa_nodes read */
	uint64_t entries;	/* pointer entries passed to the callback */
	uint64_t retries;	/* retry entries: the tree changed under the walk */
	uint64_t skipped;	/* value, zero and sibling entries, not reported */
};

/*
 * Walk the struct xarray at kernel virtual address @xa_addr through @as.
 * Returns 0 when every entry was visited, the callback's value when it
 * stopped the walk, or a negative errno with a message naming the xarray
 * and the bad node or entry (unreadable memory, a node pointer that is not
 * a kernel address, a shift or offset that does not fit the tree, an
 * internal entry the kernel never stores, more than BW_XA_MAX_NODES
 * nodes).  Value, zero and sibling entries are skipped; retry entries are
 * skipped and counted in @stats (may be NULL): a caller wanting an exact
 * snapshot walks again when stats->retries != 0.
 */
int bw_xa_walk(const struct bw_addrspace *as, const struct bw_xa_layout *layout,
	       uint64_t xa_addr, bw_xa_entry_fn fn, void *ctx,
	       struct bw_xa_walk_stats *stats, struct bw_error *err);

/*
 * The same over the struct idr at @idr_addr: the index passed to @fn is
 * the id, xarray index + idr_base.
 */
int bw_idr_walk(const struct bw_addrspace *as, const struct bw_xa_layout *layout,
		uint64_t idr_addr, bw_xa_entry_fn fn, void *ctx,
		struct bw_xa_walk_stats *stats, struct bw_error *err);

/*
 * idr_next of the struct idr at @idr_addr: where the next cyclic
 * allocation starts searching.  It moves each time an id is allocated
 * cyclically (bpf_map_alloc_id and bpf_prog_alloc_id do), not when one is
 * freed, so an unchanged value is a one-read hint that no map or program
 * was added since the last walk.
 */
int bw_idr_next(const struct bw_addrspace *as, const struct bw_xa_layout *layout,
		uint64_t idr_addr, uint32_t *next, struct bw_error *err);

#endif
