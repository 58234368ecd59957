/* SPDX-License-Identifier: MIT */
/*
 * Page-table walks over guest physical memory made of the input: a header
 * (root, levels, SME mask, the addresses to translate), then the tables
 * at physical address 0.
 */
#include <stdint.h>

#include "fuzz_common.h"
#include "pagetable.h"

#define NVA 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct {
		uint64_t root;
		uint8_t levels;
		uint8_t pad[7];
		uint64_t sme_mask;
		uint64_t va[NVA];
	} h;
	static struct bw_pagetable pt;
	struct fuzz_mem m = { .base = 0 };
	struct bw_error err = { 0 };

	fuzz_take(&data, &size, &h, sizeof(h));
	m.bytes = data;
	m.size = size;
	bw_pt_init(&pt, fuzz_mem_as(&m), h.root, h.levels & 1 ? 5 : 4, h.sme_mask);
	/* Each address twice: the second goes through the translation cache. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < NVA; i++) {
			uint64_t gpa, page;

			bw_pt_translate(&pt, h.va[i], &gpa, &page, &err);
		}
	return 0;
}
