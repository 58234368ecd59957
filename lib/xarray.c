/* SPDX-License-Identifier: MIT */
/*
 * Walking a Linux XArray and an IDR in guest memory.
 *
 * The XArray (include/linux/xarray.h, lib/xarray.c) replaced the radix
 * tree's own structs in v4.20 (f8d5d0cc145c "xarray: Add definition of
 * struct xarray"; the radix tree API and the IDR kept working on top of
 * it, so "struct radix_tree_root" is "struct xarray" and
 * "struct radix_tree_node" is "struct xa_node").  Its layout:
 *
 *   struct xarray { spinlock_t xa_lock; gfp_t xa_flags; void *xa_head; };
 *   struct xa_node {
 *           unsigned char shift, offset, count, nr_values;
 *           struct xa_node *parent; struct xarray *array;
 *           union { struct list_head private_list; struct rcu_head rcu_head; };
 *           void *slots[XA_CHUNK_SIZE];
 *           union { unsigned long tags[3][..]; unsigned long marks[3][..]; };
 *   };
 *
 * XA_CHUNK_SIZE is 1 << XA_CHUNK_SHIFT: 64 slots, or 16 when the kernel is
 * built with CONFIG_BASE_SMALL.  We take it from the length of the slots
 * array in BTF, never from a constant.
 *
 * Every slot, and xa_head, holds an entry whose low two bits say what it is:
 *
 *   00  a pointer the user stored (here a struct bpf_map * or bpf_prog *),
 *       or NULL for "nothing at this index";
 *   x1  a value entry (an integer the user stored with xa_mk_value()),
 *       not a pointer: skipped;
 *   10  an internal entry, (v << 2) | 2:
 *         v = 0 .. XA_CHUNK_SIZE-2  sibling: the slot belongs to a
 *                                   multi-index entry starting in slot v
 *                                   (CONFIG_XARRAY_MULTI); skipped;
 *         v = 256 (0x402)           retry: a node being freed or a slot
 *                                   being moved; the kernel's lockless
 *                                   readers restart.  We skip it and count
 *                                   it so a caller can walk again;
 *         v = 257 (0x406)           zero: an index reserved with no entry
 *                                   (xa_reserve, xa_alloc of NULL); skipped;
 *         entry > 4096              a node: struct xa_node at entry - 2;
 *         v = -4095 .. -1           errors, returned by the API and never
 *                                   stored in a tree.
 *
 * A tree holding only index 0 keeps that entry in xa_head itself;
 * otherwise xa_head points at the root node.  A node with shift s has its
 * slot k cover the indices base + (k << s) .. base + ((k + 1) << s) - 1; a
 * node with shift 0 is a leaf whose slots are entries, and each child of a
 * node with shift s has shift s - XA_CHUNK_SHIFT and records in "offset"
 * which slot of its parent it hangs from (lib/xarray.c xas_alloc,
 * xas_expand).  A pointer entry in a slot with shift > 0 is a multi-index
 * entry; like xa_for_each() we report it once, at its first index.
 *
 * struct idr (include/linux/idr.h) is { struct radix_tree_root idr_rt;
 * unsigned int idr_base; unsigned int idr_next; }: an id is the xarray
 * index plus idr_base (v4.16, 6ce711f27500 "idr: Make 1-based IDRs more
 * efficient": map_idr and prog_idr start ids at 1 but index 0 is used),
 * and idr_next is where idr_alloc_cyclic() looks next (v4.11, 0a835c4f090a
 * "Reimplement IDR and IDA using the radix tree").
 *
 * The guest changes the tree while we read it (nodes are freed through
 * RCU and reused), and its memory may hold anything, so the walk trusts
 * nothing it reads: a node pointer must be an aligned kernel address; the
 * root's shift must be a multiple of XA_CHUNK_SHIFT that keeps indices in
 * 64 bits; every child's shift must be exactly its parent's minus
 * XA_CHUNK_SHIFT and its offset the slot it was found in.  A strictly
 * decreasing shift makes a cycle (a slot pointing back at an ancestor)
 * impossible to follow more than max-depth levels, and BW_XA_MAX_NODES
 * bounds a node reached from many parents.
 */
#include "xarray.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "addr_set.h"
#include "btf_layout.h"

/*
 * Lowest kernel-half address with 5-level paging (57-bit virtual
 * addresses, direct map at ff11000000000000); it also admits every 4-level
 * kernel address (from ffff800000000000).  An xa_node is slab memory in the
 * direct map, so anything below is garbage.
 */
#define KERNEL_VA_MIN 0xff00000000000000ULL
/* Slab objects are at least 8-byte aligned (ARCH_SLAB_MINALIGN). */
#define NODE_ALIGN 8

/* include/linux/xarray.h encodings. */
#define XA_INTERNAL_TAG 2ULL			/* low bits 10 */
#define XA_NODE_MIN 4096ULL			/* xa_is_node(): internal and > 4096 */
#define XA_RETRY_ENTRY ((256ULL << 2) | 2)	/* 0x402 */
#define XA_ZERO_ENTRY ((257ULL << 2) | 2)	/* 0x406 */
#define XA_MAX_ERRNO 4095ULL			/* errors are internal(-4095 .. -1) */
#define XA_ERROR_MIN (((0ULL - XA_MAX_ERRNO) << 2) | 2)

/*
 * Slot counts the walker accepts: kernels use XA_CHUNK_SHIFT 6 (4 with
 * CONFIG_BASE_SMALL).  Anything from 4 to 256 slots is handled exactly; the
 * bounds keep the depth at most 32 levels and a node read at most 2 KiB of
 * slots, whatever a hostile BTF says.
 */
#define XA_MIN_CHUNK_SHIFT 2
#define XA_MAX_CHUNK_SHIFT 8
/*
 * A node is read whole, from its start to the end of its slots, in one
 * read: 552 bytes on a 7.3 kernel.  A layout asking for more than a page is
 * not an xa_node.
 */
#define NODE_READ_MAX 4096

enum entry_kind {
	ENTRY_NULL,
	ENTRY_POINTER,
	ENTRY_VALUE,
	ENTRY_SIBLING,
	ENTRY_RETRY,
	ENTRY_ZERO,
	ENTRY_NODE,
	ENTRY_BAD,	/* an error or an internal value the kernel never stores */
};

static enum entry_kind classify(uint64_t e, uint32_t chunk_size)
{
	if (!e)
		return ENTRY_NULL;
	if (e & 1)
		return ENTRY_VALUE;
	if ((e & 3) != XA_INTERNAL_TAG)
		return ENTRY_POINTER;
	if (e >= XA_ERROR_MIN)
		return ENTRY_BAD;
	if (e > XA_NODE_MIN)
		return ENTRY_NODE;
	if (e == XA_RETRY_ENTRY)
		return ENTRY_RETRY;
	if (e == XA_ZERO_ENTRY)
		return ENTRY_ZERO;
	if ((e >> 2) < chunk_size - 1)
		return ENTRY_SIBLING;
	return ENTRY_BAD;
}

/* Byte offset and checked size of one member, for the layout. */
static int layout_member(const struct btf *btf, const char *s, const char *m,
			 uint64_t want_size, uint64_t *off, uint32_t *type_id,
			 struct bw_error *err)
{
	uint64_t size;
	int ret = bw_btf_member_offset(btf, s, m, off, type_id, &size, err);

	if (ret < 0) {
		bw_error_prefix(err, "xarray layout from BTF");
		return ret;
	}
	if (want_size && size != want_size)
		return bw_error_set(err, -EINVAL, "xarray layout from BTF: %s.%s is %" PRIu64
				    " bytes, expected %" PRIu64, s, m, size, want_size);
	return 0;
}

/*
 * Typedefs and qualifiers followed before giving up: real types use a few,
 * libbpf's own resolver stops at 32, and a hostile BTF may loop.
 */
#define QUALIFIER_CHAIN_MAX 32

static const struct btf_type *skip_qualifiers(const struct btf *btf, uint32_t id, uint32_t *out)
{
	for (int i = 0; i < QUALIFIER_CHAIN_MAX; i++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!t)
			return NULL;
		if (!btf_is_typedef(t) && !btf_is_mod(t)) {
			if (out)
				*out = id;
			return t;
		}
		id = t->type;
	}
	return NULL;
}

static int check_layout(const struct bw_xa_layout *l, size_t *node_bytes, struct bw_error *err)
{
	uint64_t end;

	if (l->chunk_shift < XA_MIN_CHUNK_SHIFT || l->chunk_shift > XA_MAX_CHUNK_SHIFT ||
	    l->chunk_size != 1u << l->chunk_shift)
		return bw_error_set(err, -EINVAL, "xarray layout: %" PRIu32 " slots per node "
				    "(shift %" PRIu32 "): expected a power of two from %d to %d",
				    l->chunk_size, l->chunk_shift, 1 << XA_MIN_CHUNK_SHIFT,
				    1 << XA_MAX_CHUNK_SHIFT);
	end = l->node_slots + (uint64_t)l->chunk_size * 8;
	if (l->node_shift + 1 > end)
		end = l->node_shift + 1;
	if (l->node_offset + 1 > end)
		end = l->node_offset + 1;
	if (l->node_slots > NODE_READ_MAX || end > NODE_READ_MAX)
		return bw_error_set(err, -EINVAL, "xarray layout: an xa_node of %" PRIu64
				    " bytes up to the end of its slots; at most %d expected",
				    end, NODE_READ_MAX);
	*node_bytes = (size_t)end;
	return 0;
}

int bw_xa_layout_from_btf(const struct btf *btf, struct bw_xa_layout *layout,
			  struct bw_error *err)
{
	struct bw_xa_layout l = { 0 };
	const struct btf_type *t, *elem;
	const struct btf_array *arr;
	uint32_t slots_type, rt_type, elem_id, n;
	int xarray_id, ret;
	__s64 elem_size;
	size_t node_bytes;

	if (!btf || !layout)
		return bw_error_set(err, -EINVAL, "xarray layout from BTF: no BTF given");
	if ((ret = layout_member(btf, "xarray", "xa_head", 8, &l.xa_head, NULL, err)) < 0 ||
	    (ret = layout_member(btf, "xa_node", "shift", 1, &l.node_shift, NULL, err)) < 0 ||
	    (ret = layout_member(btf, "xa_node", "offset", 1, &l.node_offset, NULL, err)) < 0 ||
	    (ret = layout_member(btf, "xa_node", "slots", 0, &l.node_slots, &slots_type, err)) < 0 ||
	    (ret = layout_member(btf, "idr", "idr_rt", 0, &l.idr_rt, &rt_type, err)) < 0 ||
	    (ret = layout_member(btf, "idr", "idr_base", 4, &l.idr_base, NULL, err)) < 0 ||
	    (ret = layout_member(btf, "idr", "idr_next", 4, &l.idr_next, NULL, err)) < 0)
		return ret;

	t = skip_qualifiers(btf, slots_type, NULL);
	if (!t || !btf_is_array(t))
		return bw_error_set(err, -EINVAL, "xarray layout from BTF: xa_node.slots is not "
				    "an array");
	arr = btf_array(t);
	n = arr->nelems;
	elem = skip_qualifiers(btf, arr->type, &elem_id);
	elem_size = elem ? btf__resolve_size(btf, elem_id) : -EINVAL;
	if (!elem || !btf_is_ptr(elem) || elem_size != 8)
		return bw_error_set(err, -EINVAL, "xarray layout from BTF: xa_node.slots is not "
				    "an array of 8-byte pointers");
	l.chunk_size = n;
	l.chunk_shift = 0;
	while (l.chunk_shift < 31 && (1u << l.chunk_shift) < n)
		l.chunk_shift++;

	xarray_id = bw_btf_struct_id(btf, "xarray", err);
	if (xarray_id < 0)
		return xarray_id;
	if (!skip_qualifiers(btf, rt_type, &rt_type) || rt_type != (uint32_t)xarray_id)
		return bw_error_set(err, -EINVAL, "xarray layout from BTF: idr.idr_rt is not a "
				    "struct xarray");

	ret = check_layout(&l, &node_bytes, err);
	if (ret < 0)
		return ret;
	*layout = l;
	return 0;
}

struct walk {
	const struct bw_addrspace *as;
	const struct bw_xa_layout *l;
	bw_xa_entry_fn fn;
	void *ctx;
	const char *what;	/* "xarray" or "idr", for messages */
	uint64_t root;		/* its address, for messages */
	uint64_t id_base;	/* added to every index */
	unsigned int max_shift;	/* largest root shift that keeps indices in 64 bits */
	unsigned int levels;	/* max_shift / chunk_shift + 1 */
	size_t node_bytes;
	uint8_t *buf;		/* node_bytes per level */
	struct bw_addr_set seen;	/* nodes read: a tree reaches each once */
	struct bw_xa_walk_stats st;
	struct bw_error *err;
};

static int report(struct walk *w, uint64_t index, uint64_t entry)
{
	uint64_t id = index + w->id_base;

	if (id < index)
		return bw_error_set(w->err, -ERANGE, "%s at %#" PRIx64 ": index %#" PRIx64
				    " + idr_base %" PRIu64 " overflows", w->what, w->root,
				    index, w->id_base);
	w->st.entries++;
	return w->fn(w->ctx, id, entry);
}

/*
 * Visit the node that @entry points at, found in slot @slot of @parent
 * (parent 0: xa_head).  A child must have @expect_shift; its indices start
 * at @base.  @level (0 at the root) picks this node's buffer.
 */
static int visit(struct walk *w, uint64_t entry, uint64_t parent, unsigned int slot,
		 unsigned int expect_shift, uint64_t base, unsigned int level)
{
	const struct bw_xa_layout *l = w->l;
	uint64_t node = entry - XA_INTERNAL_TAG;
	char from[64];
	unsigned int shift, offset;
	uint8_t *buf;
	int ret;

	if (parent)
		snprintf(from, sizeof(from), "slot %u of node %#" PRIx64, slot, parent);
	else
		snprintf(from, sizeof(from), "xa_head");
	if (node < KERNEL_VA_MIN || node % NODE_ALIGN)
		return bw_error_set(w->err, -EINVAL, "%s at %#" PRIx64 ": %s points at node %#"
				    PRIx64 ", which is not an aligned kernel address", w->what,
				    w->root, from, node);
	if (level >= w->levels)
		return bw_error_set(w->err, -ELOOP, "%s at %#" PRIx64 ": node %#" PRIx64
				    " (%s) is deeper than %u levels", w->what, w->root, node,
				    from, w->levels);
	if (w->st.nodes >= BW_XA_MAX_NODES)
		return bw_error_set(w->err, -E2BIG, "%s at %#" PRIx64 ": more than %u nodes "
				    "(a node reached from many parents?), stopped at node %#"
				    PRIx64, w->what, w->root, BW_XA_MAX_NODES, node);
	ret = bw_addr_set_add(&w->seen, node);
	if (ret < 0)
		return bw_error_set(w->err, ret, "%s at %#" PRIx64 ": no memory to track visited "
				    "nodes", w->what, w->root);
	if (ret == 0)
		return bw_error_set(w->err, -ELOOP, "%s at %#" PRIx64 ": node %#" PRIx64 " (%s) "
				    "was already reached from another slot: the nodes form a "
				    "graph, not a tree (%" PRIu64 " nodes and %" PRIu64 " entries "
				    "seen)", w->what, w->root, node, from, w->st.nodes,
				    w->st.entries);
	w->st.nodes++;

	buf = w->buf + (size_t)level * w->node_bytes;
	ret = bw_as_read(w->as, node, buf, w->node_bytes, w->err);
	if (ret < 0) {
		bw_error_prefix(w->err, "%s at %#" PRIx64 ": reading node %#" PRIx64 " (%s)",
				w->what, w->root, node, from);
		return ret;
	}
	shift = buf[l->node_shift];
	offset = buf[l->node_offset];
	if (!parent) {
		if (shift % l->chunk_shift || shift > w->max_shift)
			return bw_error_set(w->err, -EINVAL, "%s at %#" PRIx64 ": root node %#"
					    PRIx64 " has shift %u; expected a multiple of %" PRIu32
					    " up to %u", w->what, w->root, node, shift,
					    l->chunk_shift, w->max_shift);
	} else {
		if (shift != expect_shift)
			return bw_error_set(w->err, -EINVAL, "%s at %#" PRIx64 ": node %#" PRIx64
					    " (%s) has shift %u; its parent's shift minus %"
					    PRIu32 " is %u", w->what, w->root, node, from, shift,
					    l->chunk_shift, expect_shift);
		if (offset != slot)
			return bw_error_set(w->err, -EINVAL, "%s at %#" PRIx64 ": node %#" PRIx64
					    " (%s) records offset %u: it does not belong there",
					    w->what, w->root, node, from, offset);
	}

	for (unsigned int k = 0; k < l->chunk_size; k++) {
		uint64_t e, step, index;

		memcpy(&e, buf + l->node_slots + (size_t)k * 8, sizeof(e));
		if (!e)
			continue;
		step = (uint64_t)k << shift;
		index = base + step;
		if (step >> shift != k || index < base)
			return bw_error_set(w->err, -EINVAL, "%s at %#" PRIx64 ": slot %u of node %#"
					    PRIx64 " (shift %u) lies beyond index 2^64", w->what,
					    w->root, k, node, shift);
		switch (classify(e, l->chunk_size)) {
		case ENTRY_NULL:
			break;
		case ENTRY_POINTER:
			ret = report(w, index, e);
			if (ret)
				return ret;
			break;
		case ENTRY_VALUE:
		case ENTRY_ZERO:
		case ENTRY_SIBLING:
			w->st.skipped++;
			break;
		case ENTRY_RETRY:
			w->st.retries++;
			break;
		case ENTRY_NODE:
			if (shift == 0)
				return bw_error_set(w->err, -EINVAL, "%s at %#" PRIx64 ": leaf node %#"
						    PRIx64 " (shift 0) holds node pointer %#" PRIx64
						    " in slot %u", w->what, w->root, node, e, k);
			ret = visit(w, e, node, k, shift - l->chunk_shift, index, level + 1);
			if (ret)
				return ret;
			break;
		case ENTRY_BAD:
			return bw_error_set(w->err, -EINVAL, "%s at %#" PRIx64 ": slot %u of node %#"
					    PRIx64 " holds internal entry %#" PRIx64 ", which the "
					    "kernel never stores in a tree", w->what, w->root, k,
					    node, e);
		}
	}
	return 0;
}

static int walk_xarray(struct walk *w, uint64_t xa_addr)
{
	const struct bw_xa_layout *l = w->l;
	uint64_t head;
	int ret;

	ret = bw_as_read_u64(w->as, xa_addr + l->xa_head, &head, w->err);
	if (ret < 0) {
		bw_error_prefix(w->err, "%s at %#" PRIx64 ": reading xa_head", w->what, w->root);
		return ret;
	}
	switch (classify(head, l->chunk_size)) {
	case ENTRY_NULL:
		return 0;
	case ENTRY_POINTER:
		return report(w, 0, head);
	case ENTRY_VALUE:
	case ENTRY_ZERO:
		w->st.skipped++;
		return 0;
	case ENTRY_RETRY:
		w->st.retries++;
		return 0;
	case ENTRY_NODE:
		break;
	case ENTRY_SIBLING:
	case ENTRY_BAD:
		return bw_error_set(w->err, -EINVAL, "%s at %#" PRIx64 ": xa_head holds internal "
				    "entry %#" PRIx64 ", which the kernel never stores there",
				    w->what, w->root, head);
	}

	w->buf = calloc(w->levels, w->node_bytes);
	if (!w->buf)
		return bw_error_set(w->err, -ENOMEM, "%s at %#" PRIx64 ": no memory for %u "
				    "node buffers", w->what, w->root, w->levels);
	ret = visit(w, head, 0, 0, 0, 0, 0);
	free(w->buf);
	w->buf = NULL;
	bw_addr_set_free(&w->seen);
	return ret;
}

static int walk_init(struct walk *w, const struct bw_addrspace *as,
		     const struct bw_xa_layout *l, bw_xa_entry_fn fn, void *ctx,
		     const char *what, uint64_t root, struct bw_error *err)
{
	int ret;

	memset(w, 0, sizeof(*w));
	w->as = as;
	w->l = l;
	w->fn = fn;
	w->ctx = ctx;
	w->what = what;
	w->root = root;
	w->err = err;
	if (!as || !l || !fn)
		return bw_error_set(err, -EINVAL, "walking the %s at %#" PRIx64 ": no address "
				    "space, layout or callback", what, root);
	ret = check_layout(l, &w->node_bytes, err);
	if (ret < 0)
		return ret;
	/* The largest multiple of the chunk shift below 64. */
	w->max_shift = (63 / l->chunk_shift) * l->chunk_shift;
	w->levels = w->max_shift / l->chunk_shift + 1;
	return 0;
}

int bw_xa_walk(const struct bw_addrspace *as, const struct bw_xa_layout *layout,
	       uint64_t xa_addr, bw_xa_entry_fn fn, void *ctx,
	       struct bw_xa_walk_stats *stats, struct bw_error *err)
{
	struct walk w;
	int ret;

	ret = walk_init(&w, as, layout, fn, ctx, "xarray", xa_addr, err);
	if (ret == 0)
		ret = walk_xarray(&w, xa_addr);
	if (stats)
		*stats = w.st;
	return ret;
}

int bw_idr_walk(const struct bw_addrspace *as, const struct bw_xa_layout *layout,
		uint64_t idr_addr, bw_xa_entry_fn fn, void *ctx,
		struct bw_xa_walk_stats *stats, struct bw_error *err)
{
	struct walk w;
	uint32_t base;
	int ret;

	ret = walk_init(&w, as, layout, fn, ctx, "idr", idr_addr, err);
	if (ret == 0) {
		ret = bw_as_read_u32(as, idr_addr + layout->idr_base, &base, err);
		if (ret < 0)
			bw_error_prefix(err, "idr at %#" PRIx64 ": reading idr_base", idr_addr);
	}
	if (ret == 0) {
		w.id_base = base;
		ret = walk_xarray(&w, idr_addr + layout->idr_rt);
	}
	if (stats)
		*stats = w.st;
	return ret;
}

int bw_idr_next(const struct bw_addrspace *as, const struct bw_xa_layout *layout,
		uint64_t idr_addr, uint32_t *next, struct bw_error *err)
{
	int ret;

	if (!as || !layout || !next)
		return bw_error_set(err, -EINVAL, "reading idr_next of the idr at %#" PRIx64
				    ": no address space, layout or output", idr_addr);
	ret = bw_as_read_u32(as, idr_addr + layout->idr_next, next, err);
	if (ret < 0)
		bw_error_prefix(err, "idr at %#" PRIx64 ": reading idr_next", idr_addr);
	return ret;
}
