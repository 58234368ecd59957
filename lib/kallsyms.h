/* SPDX-License-Identifier: MIT */
/*
 * Decoding the kernel's compressed symbol table (kallsyms) out of guest
 * memory, given the table addresses VMCOREINFO exports (kernels >= 6.0).
 * See kallsyms.c for the format and its history.
 */
#ifndef BPFWATCH_KALLSYMS_H
#define BPFWATCH_KALLSYMS_H

#include <stdbool.h>
#include <stdint.h>

#include "addrspace.h"
#include "error.h"
#include "symtab.h"

enum bw_kallsyms_encoding {
	BW_KALLSYMS_ABSOLUTE,		/* kallsyms_addresses[] (< 6.11, !BASE_RELATIVE) */
	BW_KALLSYMS_BASE_RELATIVE,	/* relative_base + (u32)off (4.6 .. 7.0) */
	BW_KALLSYMS_ABSOLUTE_PERCPU,	/* off >= 0 absolute, else base - 1 - off (< 6.15) */
	BW_KALLSYMS_PLACE_RELATIVE,	/* &offsets[i] + (s32)off (7.0+) */
};

/* Kernel virtual addresses of the tables, 0 when VMCOREINFO lacks one. */
struct bw_kallsyms_tables {
	uint64_t num_syms;
	uint64_t names;
	uint64_t token_table;
	uint64_t token_index;
	uint64_t offsets;
	uint64_t relative_base;
	uint64_t addresses;
	uint64_t stext;		/* SYMBOL(_stext): picks the address encoding */
};

struct bw_kallsyms_info {
	enum bw_kallsyms_encoding encoding;
	bool long_names;	/* 2-byte name lengths (>= 6.1) */
	uint32_t count;
};

/*
 * Decode every symbol through @kva (kernel virtual address space) into a
 * new symbol table.  The name-length form and the address encoding are
 * chosen by what reproduces SYMBOL(_stext), never by version.
 */
int bw_kallsyms_load(const struct bw_addrspace *kva, const struct bw_kallsyms_tables *tables,
		     struct bw_symtab **out, struct bw_kallsyms_info *info, struct bw_error *err);

const char *bw_kallsyms_encoding_name(enum bw_kallsyms_encoding encoding);

#endif
