/* SPDX-License-Identifier: MIT */
/*
 * The XArray/IDR walker over guest memory made of the input: a header
 * (the layout the kernel BTF would give, the idr's address), then the
 * memory at FUZZ_BASE.  Every entry reported must be a pointer entry, in
 * increasing index order, and a walk reads each node at most once.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "xarray.h"

struct seen {
	uint64_t last;
	uint64_t n;
};

static int on_entry(void *ctx, uint64_t index, uint64_t entry)
{
	struct seen *s = ctx;

	if ((entry & 3) != 0 || !entry || (s->n && index <= s->last))
		abort();
	s->last = index;
	s->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct {
		uint8_t shift_choice;	/* XA_CHUNK_SHIFT 4 or 6, like the kernel's two choices */
		uint8_t idr;		/* walk as an idr (with idr_base) or a bare xarray */
		uint8_t pad[6];
		uint64_t root;		/* the struct idr / struct xarray */
	} h;
	struct bw_xa_layout l = {
		.xa_head = 8, .node_shift = 0, .node_offset = 1, .node_slots = 40,
		.idr_rt = 0, .idr_base = 16, .idr_next = 20,
	};
	struct fuzz_mem m = { .base = FUZZ_BASE };
	struct bw_xa_walk_stats st;
	struct bw_error err = { 0 };
	struct seen s = { 0 };
	struct bw_addrspace as;
	uint32_t next;

	fuzz_take(&data, &size, &h, sizeof(h));
	l.chunk_shift = h.shift_choice & 1 ? 4 : 6;
	l.chunk_size = 1u << l.chunk_shift;
	m.bytes = data;
	m.size = size;
	as = fuzz_mem_as(&m);
	if (h.idr & 1) {
		bw_idr_walk(&as, &l, h.root, on_entry, &s, &st, &err);
		bw_idr_next(&as, &l, h.root, &next, &err);
	} else {
		bw_xa_walk(&as, &l, h.root, on_entry, &s, &st, &err);
	}
	/* One read per node and one for the head (two for an idr): never a node twice. */
	if (m.reads > st.nodes + 3)
		abort();
	return 0;
}
