/* SPDX-License-Identifier: MIT */
/*
 * x86-64 page tables as the guest kernel keeps them, walked from the top
 * table (init_top_pgt, a.k.a. swapper_pg_dir) to turn a kernel virtual
 * address into a guest physical address.
 *
 * The format (Intel SDM vol. 3 ch. 4.5; Documentation/arch/x86/x86_64/mm.rst;
 * KERNEL-FACTS.md section 3):
 *
 *   A table is one 4 KiB page of 512 little-endian 64-bit entries.  The VA
 *   is cut into 9-bit indices, one per level, and a 12-bit page offset:
 *
 *     5-level: PML5 56:48 | PML4 47:39 | PDPT 38:30 | PD 29:21 | PT 20:12 | 11:0
 *     4-level:              PML4 47:39 | PDPT 38:30 | PD 29:21 | PT 20:12 | 11:0
 *
 *   Kernel names: PML5 = pgd (5-level only), PML4 = p4d (the pgd when
 *   4-level folds p4d away), PDPT = pud, PD = pmd, PT = pte.  5-level
 *   paging (LA57) is in use when the guest reports
 *   NUMBER(pgtable_l5_enabled)=1 (arch/x86/kernel/vmcore_info_64.c); the
 *   table layout is the same at every level, only the extra top index
 *   differs.
 *
 *   Entry bits that matter here:
 *     bit 0        present; everything else is meaningless when clear
 *     bit 7 (PS)   in a PDPT entry: this entry maps a 1 GiB page;
 *                  in a PD entry: a 2 MiB page; reserved (must be 0) in
 *                  PML5/PML4 entries, so a set bit there is corrupt data
 *     bits 51:12   physical address of the next table or 4 KiB page
 *                  (mask 0x000ffffffffff000, the same as drgn's); for a
 *                  2 MiB page bits 51:21, for a 1 GiB page bits 51:30,
 *                  since bit 12 is then the PAT bit, not an address bit
 *     bit 63       NX, and bits 62:52 are software/protection-key bits:
 *                  all outside the address mask
 *   With AMD SME/SEV the encryption "C-bit" sits inside the address field;
 *   the guest exports it as NUMBER(sme_mask) and it is cleared before the
 *   address is used (the kernel's __sme_clr()).
 *
 *   A VA is canonical when bits 63:47 (4-level) or 63:56 (5-level) are all
 *   copies of the top translated bit; the CPU faults on anything else, so
 *   such a VA never maps memory.
 *
 * Guest memory is hostile: the walk always takes exactly `levels` steps or
 * fewer (a table pointing at itself just repeats itself for a bounded
 * number of reads), every entry read goes through the bounds-checked
 * physical address space, and the resulting address is not trusted either:
 * whoever reads it gets -EFAULT if it is not RAM.
 *
 * The cache holds one translation per 4 KiB page, direct-mapped on the VA
 * page number.  The low 12 bits of cache[].pa_page are free (it is page
 * aligned), so they carry the size of the page that mapped it and a hit
 * can still answer *page_size.
 */
#include "pagetable.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define PTE_PRESENT	(1ULL << 0)
#define PTE_PS		(1ULL << 7)
#define PTE_ADDR_MASK	0x000ffffffffff000ULL
#define PTE_ADDR_2M	0x000fffffffe00000ULL
#define PTE_ADDR_1G	0x000fffffc0000000ULL

#define PAGE_SHIFT	12
#define PAGE_4K		(1ULL << 12)
#define PAGE_2M		(1ULL << 21)
#define PAGE_1G		(1ULL << 30)
#define ENTRIES_SHIFT	9		/* 512 entries per table */
#define ENTRY_INDEX_MASK 0x1ffULL

/* Size codes kept in the low bits of cache[].pa_page. */
#define CACHE_SIZE_4K	1
#define CACHE_SIZE_2M	2
#define CACHE_SIZE_1G	3
#define CACHE_SIZE_MASK	0xfffULL

/* Level names, top (index 0 = PML5) to bottom, with their VA shift. */
static const struct {
	const char *name;
	unsigned int shift;
} level_info[5] = {
	{ "PML5", 48 },
	{ "PML4", 39 },
	{ "PDPT", 30 },
	{ "PD", 21 },
	{ "PT", 12 },
};

void bw_pt_flush(struct bw_pagetable *pt)
{
	memset(pt->cache, 0, sizeof(pt->cache));
}

void bw_pt_init(struct bw_pagetable *pt, struct bw_addrspace phys, uint64_t root, int levels,
		uint64_t sme_mask)
{
	pt->phys = phys;
	pt->root = root;
	pt->levels = levels;
	pt->sme_mask = sme_mask;
	bw_pt_flush(pt);
}

static bool is_canonical(uint64_t va, int levels)
{
	unsigned int top_bit = levels == 5 ? 56 : 47;
	int64_t sext = (int64_t)(va << (63 - top_bit)) >> (63 - top_bit);

	return (uint64_t)sext == va;
}

static unsigned int cache_slot(uint64_t va)
{
	return (unsigned int)((va >> PAGE_SHIFT) % BW_PT_CACHE_SLOTS);
}

static uint64_t size_of_code(uint64_t code)
{
	switch (code) {
	case CACHE_SIZE_2M: return PAGE_2M;
	case CACHE_SIZE_1G: return PAGE_1G;
	default: return PAGE_4K;
	}
}

static void cache_store(struct bw_pagetable *pt, uint64_t va, uint64_t pa, uint64_t size)
{
	uint64_t va_page = va & ~(PAGE_4K - 1);
	unsigned int slot = cache_slot(va);
	uint64_t code = size == PAGE_1G ? CACHE_SIZE_1G : size == PAGE_2M ? CACHE_SIZE_2M
									  : CACHE_SIZE_4K;

	if (va_page == 0)
		return;		/* 0 marks an empty slot */
	pt->cache[slot].va_page = va_page;
	pt->cache[slot].pa_page = (pa & ~(PAGE_4K - 1)) | code;
}

int bw_pt_translate(struct bw_pagetable *pt, uint64_t va, uint64_t *gpa, uint64_t *page_size,
		    struct bw_error *err)
{
	uint64_t va_page = va & ~(PAGE_4K - 1);
	unsigned int slot = cache_slot(va);
	uint64_t table, size = PAGE_4K, pa = 0;
	int first, r;

	if (pt->levels != 4 && pt->levels != 5)
		return bw_error_set(err, -EINVAL, "translating VA %#" PRIx64
				    ": %d-level paging is not x86-64 (4 or 5)", va, pt->levels);
	if (!is_canonical(va, pt->levels))
		return bw_error_set(err, -EFAULT, "translating VA %#" PRIx64
				    ": not canonical for %d-level paging", va, pt->levels);
	if (va_page != 0 && pt->cache[slot].va_page == va_page) {
		uint64_t entry = pt->cache[slot].pa_page;

		*gpa = (entry & ~CACHE_SIZE_MASK) | (va & (PAGE_4K - 1));
		if (page_size)
			*page_size = size_of_code(entry & CACHE_SIZE_MASK);
		return 0;
	}

	/*
	 * Exactly one entry per level, top to bottom: the walk cannot loop
	 * whatever the tables contain.
	 */
	table = pt->root & PTE_ADDR_MASK;
	first = 5 - pt->levels;
	for (int level = first; level < 5; level++) {
		const char *name = level_info[level].name;
		unsigned int shift = level_info[level].shift;
		uint64_t index = (va >> shift) & ENTRY_INDEX_MASK;
		uint64_t entry_gpa = table + index * 8;
		uint64_t entry;

		r = bw_as_read_u64(&pt->phys, entry_gpa, &entry, err);
		if (r < 0) {
			bw_error_prefix(err, "translating VA %#" PRIx64 ": reading %s entry %" PRIu64
					" at GPA %#" PRIx64, va, name, index, entry_gpa);
			return r;
		}
		if (!(entry & PTE_PRESENT))
			return bw_error_set(err, -EFAULT, "translating VA %#" PRIx64 ": %s entry %"
					    PRIu64 " at GPA %#" PRIx64 " is not present (%#" PRIx64 ")",
					    va, name, index, entry_gpa, entry);
		entry &= ~pt->sme_mask;
		if (entry & PTE_PS) {
			if (shift == 30) {
				size = PAGE_1G;
				pa = (entry & PTE_ADDR_1G) | (va & (PAGE_1G - 1));
				break;
			}
			if (shift == 21) {
				size = PAGE_2M;
				pa = (entry & PTE_ADDR_2M) | (va & (PAGE_2M - 1));
				break;
			}
			if (shift > 30)
				return bw_error_set(err, -EFAULT, "translating VA %#" PRIx64
						    ": %s entry %" PRIu64 " at GPA %#" PRIx64
						    " has the reserved PS bit set (%#" PRIx64 ")",
						    va, name, index, entry_gpa, entry);
			/* In a PT entry bit 7 is PAT, not a size: fall through to a 4K page. */
		}
		if (shift == PAGE_SHIFT) {
			pa = (entry & PTE_ADDR_MASK) | (va & (PAGE_4K - 1));
			break;
		}
		table = entry & PTE_ADDR_MASK;
	}

	cache_store(pt, va, pa, size);
	*gpa = pa;
	if (page_size)
		*page_size = size;
	return 0;
}
