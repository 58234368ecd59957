/* SPDX-License-Identifier: MIT */
/*
 * kallsyms out of guest memory: the table addresses VMCOREINFO would give
 * (the first 64 bytes), then the memory they point into (at FUZZ_BASE).
 */
#include <stdint.h>

#include "fuzz_common.h"
#include "kallsyms.h"
#include "symtab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_kallsyms_tables t;
	struct bw_kallsyms_info info;
	struct bw_error err = { 0 };
	struct bw_symtab *tab = NULL;
	struct fuzz_mem m = { .base = FUZZ_BASE };
	struct bw_addrspace as;

	fuzz_take(&data, &size, &t, sizeof(t));
	m.bytes = data;
	m.size = size;
	as = fuzz_mem_as(&m);
	if (bw_kallsyms_load(&as, &t, &tab, &info, &err) == 0) {
		bw_symtab_lookup(tab, "_stext");
		bw_symtab_free(tab);
	}
	return 0;
}
