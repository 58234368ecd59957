/* SPDX-License-Identifier: MIT */
/*
 * The fixed kernel-like base BTF the object-BTF fuzz mode lays its split
 * BTF over, shared by the target and the seed maker so their type ids and
 * string offsets agree.
 */
#ifndef BPFWATCH_FUZZ_BTF_BASE_H
#define BPFWATCH_FUZZ_BTF_BASE_H

#include <stdlib.h>

#include <bpf/btf.h>

static inline struct btf *fuzz_btf_base(void)
{
	struct btf *b = btf__new_empty();
	int u32, u64, s;

	if (!b)
		abort();
	u32 = btf__add_int(b, "unsigned int", 4, 0);
	u64 = btf__add_int(b, "long long unsigned int", 8, 0);
	btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	btf__add_int(b, "_Bool", 1, BTF_INT_BOOL);
	s = btf__add_struct(b, "kpair", 16);
	btf__add_field(b, "a", u32, 0, 0);
	btf__add_field(b, "b", u64, 64, 0);
	btf__add_typedef(b, "u32", u32);
	btf__add_typedef(b, "u64", u64);
	if (s < 0 || btf__type_cnt(b) != 8)
		abort();
	return b;
}

#endif
