/* SPDX-License-Identifier: MIT */
/*
 * x86-64 page-table walks over tables laid out in synthetic guest physical
 * memory: 4- and 5-level, 4 KiB / 2 MiB / 1 GiB pages, the SME C-bit,
 * missing entries at each level, non-canonical addresses, tables that
 * point at themselves and tables full of garbage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "pagetable.h"
#include "util_mem.h"

#define P	(1ULL << 0)
#define RW	(1ULL << 1)
#define PS	(1ULL << 7)
#define PAT_BIG	(1ULL << 12)	/* PAT bit of a 2M/1G entry */
#define NX	(1ULL << 63)
#define ADDR	0x000ffffffffff000ULL

#define K4 0x1000ULL
#define M2 0x200000ULL
#define G1 0x40000000ULL

#define TABLES_GPA 0x100000ULL
#define TABLES_SIZE (1ULL << 20)	/* room for 256 tables */

/* Page tables in a test_mem, built the way the kernel builds them. */
struct builder {
	struct test_mem *mem;
	uint64_t next;		/* next free table */
	uint64_t root;
	int levels;
	uint64_t sme;		/* C-bit put into every entry */
};

static uint64_t new_table(struct builder *b)
{
	uint64_t t = b->next;

	ck_assert_uint_le(t + K4, TABLES_GPA + TABLES_SIZE);
	b->next += K4;
	return t;
}

static void builder_init(struct builder *b, int levels, uint64_t sme)
{
	memset(b, 0, sizeof(*b));
	b->mem = test_mem_new();
	test_mem_add(b->mem, TABLES_GPA, TABLES_SIZE);
	b->next = TABLES_GPA;
	b->levels = levels;
	b->sme = sme;
	b->root = new_table(b);
}

static uint64_t entry_gpa(uint64_t table, uint64_t va, unsigned int shift)
{
	return table + ((va >> shift) & 0x1ff) * 8;
}

/* The GPA of the entry for @va at the level of @shift (48, 39, 30, 21, 12). */
static uint64_t find_entry(struct builder *b, uint64_t va, unsigned int stop_shift)
{
	uint64_t table = b->root;

	for (unsigned int shift = b->levels == 5 ? 48 : 39;; shift -= 9) {
		uint64_t addr = entry_gpa(table, va, shift);
		uint64_t e;

		if (shift == stop_shift)
			return addr;
		memcpy(&e, test_mem_at(b->mem, addr, 8), 8);
		ck_assert_msg(e & P, "no table for %#" PRIx64 " at shift %u", va, shift);
		table = e & ADDR & ~b->sme;
	}
}

/* Map @va -> @pa with a page of @size, adding @leaf_extra bits to the leaf. */
static void map(struct builder *b, uint64_t va, uint64_t pa, uint64_t size, uint64_t leaf_extra)
{
	unsigned int leaf_shift = size == G1 ? 30 : size == M2 ? 21 : 12;
	uint64_t table = b->root;

	for (unsigned int shift = b->levels == 5 ? 48 : 39;; shift -= 9) {
		uint64_t addr = entry_gpa(table, va, shift);
		uint64_t e;

		if (shift == leaf_shift) {
			e = pa | P | RW | b->sme | leaf_extra | (size != K4 ? PS : 0);
			test_mem_put_u64(b->mem, addr, e);
			return;
		}
		memcpy(&e, test_mem_at(b->mem, addr, 8), 8);
		if (!(e & P)) {
			e = new_table(b) | P | RW | b->sme;
			test_mem_put_u64(b->mem, addr, e);
		}
		table = e & ADDR & ~b->sme;
	}
}

static void pt_for(struct bw_pagetable *pt, struct builder *b)
{
	bw_pt_init(pt, test_mem_addrspace(b->mem), b->root, b->levels, b->sme);
}

static void expect_translation(struct bw_pagetable *pt, uint64_t va, uint64_t want_pa,
			       uint64_t want_size)
{
	struct bw_error err;
	uint64_t pa = 0, size = 0;
	int r;

	bw_error_clear(&err);
	r = bw_pt_translate(pt, va, &pa, &size, &err);
	ck_assert_msg(r == 0, "VA %#" PRIx64 ": %d %s", va, r, err.msg);
	ck_assert_msg(pa == want_pa, "VA %#" PRIx64 " -> %#" PRIx64 ", want %#" PRIx64,
		      va, pa, want_pa);
	ck_assert_uint_eq(size, want_size);
}

/* The failure for @va names the VA and @what (a level phrase). */
static void expect_failure(struct bw_pagetable *pt, uint64_t va, int code, const char *what)
{
	struct bw_error err;
	char va_text[32];
	uint64_t pa = 0x1234;
	int r;

	bw_error_clear(&err);
	r = bw_pt_translate(pt, va, &pa, NULL, &err);
	ck_assert_int_eq(r, code);
	ck_assert_int_eq(err.code, code);
	ck_assert_uint_eq(pa, 0x1234);	/* untouched on failure */
	snprintf(va_text, sizeof(va_text), "%#" PRIx64, va);
	ck_assert_msg(strstr(err.msg, va_text), "message \"%s\" does not name %s", err.msg, va_text);
	ck_assert_msg(strstr(err.msg, what), "message \"%s\" does not say \"%s\"", err.msg, what);
}

START_TEST(test_4level_page_sizes)
{
	struct builder b;
	struct bw_pagetable pt;

	builder_init(&b, 4, 0);
	/* Direct map with 1 GiB pages, kernel text with 2 MiB pages, vmalloc with 4 KiB. */
	map(&b, 0xffff888000000000ULL, 0, G1, 0);
	map(&b, 0xffff888040000000ULL, G1, G1, NX);
	map(&b, 0xffffffff96400000ULL, 0x0cc00000ULL + 0x15400000ULL, M2, 0);
	map(&b, 0xffffc90000123000ULL, 0x7654000ULL, K4, NX);
	map(&b, 0xffffc90000124000ULL, 0x1000ULL, K4, PS);	/* bit 7 of a PTE is PAT */
	pt_for(&pt, &b);

	expect_translation(&pt, 0xffff888012345678ULL, 0x12345678ULL, G1);
	expect_translation(&pt, 0xffff888000000000ULL, 0, G1);
	expect_translation(&pt, 0xffff88807fffffffULL, 0x7fffffffULL, G1);
	expect_translation(&pt, 0xffffffff96512345ULL, 0x22112345ULL, M2);
	expect_translation(&pt, 0xffffc90000123abcULL, 0x7654abcULL, K4);
	expect_translation(&pt, 0xffffc90000124fffULL, 0x1fffULL, K4);
	/* Neighbours that were never mapped. */
	expect_failure(&pt, 0xffffc90000125000ULL, -EFAULT, ": PT entry 293");
	expect_failure(&pt, 0xffff888080000000ULL, -EFAULT, ": PDPT entry 2 ");
	test_mem_free(b.mem);
}
END_TEST

/* NX, software bits and the PAT bit of a big page never leak into the address. */
START_TEST(test_flag_bits_are_not_address)
{
	struct builder b;
	struct bw_pagetable pt;
	uint64_t high = NX | (0x7ffULL << 52);

	builder_init(&b, 4, 0);
	map(&b, 0xffffffff81000000ULL, 0x1000000ULL, M2, high | PAT_BIG | (1ULL << 8));
	map(&b, 0xffff888000000000ULL, 0x80000000ULL, G1, high | PAT_BIG);
	map(&b, 0xffffc90000000000ULL, 0x5000ULL, K4, high | (1ULL << 11) | (1ULL << 9));
	pt_for(&pt, &b);
	expect_translation(&pt, 0xffffffff81000010ULL, 0x1000010ULL, M2);
	expect_translation(&pt, 0xffff888000000010ULL, 0x80000010ULL, G1);
	expect_translation(&pt, 0xffffc90000000010ULL, 0x5010ULL, K4);
	test_mem_free(b.mem);
}
END_TEST

START_TEST(test_5level_page_sizes)
{
	struct builder b;
	struct bw_pagetable pt;

	builder_init(&b, 5, 0);
	map(&b, 0xff11000000000000ULL, 0, G1, 0);		/* 5-level direct map */
	map(&b, 0xffa0000000123000ULL, 0xabc000ULL, K4, 0);	/* 5-level vmalloc */
	map(&b, 0xffffffff81200000ULL, 0x1200000ULL, M2, 0);	/* kernel text */
	/* Above 2^47: canonical only with 5 levels. */
	map(&b, 0x0000800000000000ULL, 0x3000ULL, K4, 0);
	pt_for(&pt, &b);

	expect_translation(&pt, 0xff11000000abcdefULL, 0xabcdefULL, G1);
	expect_translation(&pt, 0xffa0000000123004ULL, 0xabc004ULL, K4);
	expect_translation(&pt, 0xffffffff81234567ULL, 0x1234567ULL, M2);
	expect_translation(&pt, 0x0000800000000008ULL, 0x3008ULL, K4);
	/* Same VA bits 47:0 under a different PML5 slot: not mapped there. */
	expect_failure(&pt, 0xff12000000abcdefULL, -EFAULT, ": PML5 entry");
	test_mem_free(b.mem);
}
END_TEST

START_TEST(test_sme_mask_cleared)
{
	const uint64_t cbit = 1ULL << 47;
	struct builder b;
	struct bw_pagetable pt;
	struct bw_error err;
	uint64_t pa;

	for (int levels = 4; levels <= 5; levels++) {
		builder_init(&b, levels, cbit);
		map(&b, 0xffffc90000001000ULL, 0x42000ULL, K4, 0);
		map(&b, 0xffffffff81000000ULL, 0x1000000ULL, M2, 0);
		map(&b, 0xffff888000000000ULL, 0, G1, 0);
		pt_for(&pt, &b);
		expect_translation(&pt, 0xffffc90000001010ULL, 0x42010ULL, K4);
		expect_translation(&pt, 0xffffffff81000020ULL, 0x1000020ULL, M2);
		expect_translation(&pt, 0xffff888000000030ULL, 0x30ULL, G1);

		/* Without the mask the C-bit is taken as an address: nothing is there. */
		bw_pt_init(&pt, test_mem_addrspace(b.mem), b.root, levels, 0);
		bw_error_clear(&err);
		ck_assert_int_lt(bw_pt_translate(&pt, 0xffffc90000001010ULL, &pa, NULL, &err), 0);
		ck_assert_ptr_nonnull(strstr(err.msg, "0xffffc90000001010"));
		test_mem_free(b.mem);
	}
}
END_TEST

/* Clear the present bit at each level in turn: the error names that level. */
START_TEST(test_not_present_each_level)
{
	static const struct { unsigned int shift; const char *what; } levels[] = {
		{ 48, ": PML5 entry" }, { 39, ": PML4 entry" }, { 30, ": PDPT entry" },
		{ 21, ": PD entry" }, { 12, ": PT entry" },
	};
	const uint64_t va = 0xffa0123456789abcULL;

	for (int nlevels = 4; nlevels <= 5; nlevels++) {
		for (size_t i = nlevels == 5 ? 0 : 1; i < 5; i++) {
			struct builder b;
			struct bw_pagetable pt;
			uint64_t vak = nlevels == 5 ? va : 0xffffc90123456abcULL;
			uint64_t addr, e;

			builder_init(&b, nlevels, 0);
			map(&b, vak, 0x9000ULL, K4, 0);
			pt_for(&pt, &b);
			expect_translation(&pt, vak, 0x9000ULL | (vak & 0xfff), K4);

			addr = find_entry(&b, vak, levels[i].shift);
			memcpy(&e, test_mem_at(b.mem, addr, 8), 8);
			test_mem_put_u64(b.mem, addr, e & ~P);
			/* The cache still answers until it is flushed ... */
			expect_translation(&pt, vak, 0x9000ULL | (vak & 0xfff), K4);
			bw_pt_flush(&pt);
			/* ... then the walk meets the missing entry. */
			expect_failure(&pt, vak, -EFAULT, levels[i].what);
			expect_failure(&pt, vak, -EFAULT, "not present");
			test_mem_free(b.mem);
		}
	}
}
END_TEST

START_TEST(test_non_canonical)
{
	static const uint64_t bad4[] = {
		0x0000800000000000ULL, 0xffff7fffffffffffULL, 0x8000000000000000ULL,
		0x7fffffffffffffffULL, 0x00ff000000000000ULL, 0xfffe888000000000ULL,
	};
	static const uint64_t bad5[] = {
		0x0100000000000000ULL, 0xfeffffffffffffffULL, 0x8000000000000000ULL,
		0x7fffffffffffffffULL, 0xfe00000000000000ULL,
	};
	struct builder b;
	struct bw_pagetable pt;

	builder_init(&b, 4, 0);
	pt_for(&pt, &b);
	for (size_t i = 0; i < sizeof(bad4) / sizeof(bad4[0]); i++) {
		unsigned long reads = b.mem->reads;

		expect_failure(&pt, bad4[i], -EFAULT, "not canonical");
		ck_assert_uint_eq(b.mem->reads, reads);	/* rejected before any read */
	}
	pt.levels = 5;
	for (size_t i = 0; i < sizeof(bad5) / sizeof(bad5[0]); i++)
		expect_failure(&pt, bad5[i], -EFAULT, "not canonical");
	/* The edges of the canonical halves are fine (they fail later, not present). */
	pt.levels = 4;
	expect_failure(&pt, 0x00007fffffffffffULL, -EFAULT, "not present");
	expect_failure(&pt, 0xffff800000000000ULL, -EFAULT, "not present");
	pt.levels = 5;
	expect_failure(&pt, 0x00ffffffffffffffULL, -EFAULT, "not present");
	expect_failure(&pt, 0xff00000000000000ULL, -EFAULT, "not present");
	test_mem_free(b.mem);
}
END_TEST

START_TEST(test_bad_levels_and_missing_memory)
{
	struct builder b;
	struct bw_pagetable pt;
	struct bw_error err;
	uint64_t pa;

	builder_init(&b, 4, 0);
	bw_pt_init(&pt, test_mem_addrspace(b.mem), b.root, 3, 0);
	ck_assert_int_eq(bw_pt_translate(&pt, 0xffffffff81000000ULL, &pa, NULL, &err), -EINVAL);
	bw_pt_init(&pt, test_mem_addrspace(b.mem), b.root, 6, 0);
	ck_assert_int_eq(bw_pt_translate(&pt, 0xffffffff81000000ULL, &pa, NULL, &err), -EINVAL);

	/* A root outside memory: the read error carries the VA and the level. */
	bw_pt_init(&pt, test_mem_addrspace(b.mem), 0x7000000000ULL, 4, 0);
	expect_failure(&pt, 0xffffffff81000000ULL, -EFAULT, "reading PML4 entry 511");

	/* A table entry pointing outside memory: the next level's read fails. */
	test_mem_put_u64(b.mem, b.root + 511 * 8, 0x7000000000ULL | P);
	bw_pt_init(&pt, test_mem_addrspace(b.mem), b.root, 4, 0);
	expect_failure(&pt, 0xffffffff81000000ULL, -EFAULT, "reading PDPT entry 510");

	/* PS in a PML4 entry is a reserved bit: corrupt, not a 512 GiB page. */
	test_mem_put_u64(b.mem, b.root + 511 * 8, 0x200000ULL | P | PS);
	expect_failure(&pt, 0xffffffff81000000ULL, -EFAULT, "reserved PS bit");
	test_mem_free(b.mem);
}
END_TEST

/* Every entry of the root points back at the root: the walk has a fixed depth. */
START_TEST(test_self_referencing_tables)
{
	struct builder b;
	struct bw_pagetable pt;
	struct bw_error err;

	for (int levels = 4; levels <= 5; levels++) {
		builder_init(&b, levels, 0);
		for (int i = 0; i < 512; i++)
			test_mem_put_u64(b.mem, b.root + (uint64_t)i * 8, b.root | P | RW);
		pt_for(&pt, &b);
		for (int i = 0; i < 1000; i++) {
			uint64_t va, pa = 0;
			unsigned long reads = b.mem->reads;

			test_fill_random(&va, sizeof(va), (uint64_t)i + 1);
			va = (uint64_t)((int64_t)(va << 16) >> 16);	/* canonical for both */
			bw_pt_flush(&pt);
			ck_assert_int_eq(bw_pt_translate(&pt, va, &pa, NULL, &err), 0);
			ck_assert_uint_eq(b.mem->reads - reads, (unsigned long)levels);
			/* Every level lands back in the root: the leaf is the root page. */
			ck_assert_uint_eq(pa, b.root | (va & 0xfff));
		}
		/* Two tables pointing at each other, with PS set: bounded again. */
		{
			uint64_t other = new_table(&b);
			uint64_t pa;

			for (int i = 0; i < 512; i++) {
				test_mem_put_u64(b.mem, b.root + (uint64_t)i * 8, other | P);
				test_mem_put_u64(b.mem, other + (uint64_t)i * 8, b.root | P | PS);
			}
			bw_pt_flush(&pt);
			unsigned long reads = b.mem->reads;
			int r = bw_pt_translate(&pt, 0xffffffff81000000ULL, &pa, NULL, &err);

			/* PML5 -> other; other's PS entry is reserved at PML4, a 1G page at PDPT. */
			if (levels == 5)
				ck_assert_int_eq(r, -EFAULT);
			else
				ck_assert_int_eq(r, 0);
			ck_assert_uint_le(b.mem->reads - reads, (unsigned long)levels);
		}
		test_mem_free(b.mem);
	}
}
END_TEST

/*
 * Tables full of random entries, three in four of them present and
 * pointing back into the table area so that walks go deep: 10,000 random VAs, never a crash, never more
 * than one read per level, and the cache agrees with the uncached walk.
 */
#define GARBAGE_VAS 10000

START_TEST(test_random_garbage_tables)
{
	static int rc[GARBAGE_VAS];
	static uint64_t pas[GARBAGE_VAS], sizes[GARBAGE_VAS], vas[GARBAGE_VAS];

	for (int levels = 4; levels <= 5; levels++) {
		struct test_mem *mem = test_mem_new();
		uint8_t *tables = test_mem_add(mem, TABLES_GPA, TABLES_SIZE);
		struct bw_pagetable pt;
		unsigned long reads;
		int ok = 0;

		test_fill_random(tables, TABLES_SIZE, 42 + (uint64_t)levels);
		for (size_t i = 0; i < TABLES_SIZE / 8; i++) {
			uint64_t e;

			if (i % 4 == 3)
				continue;	/* left fully random */
			memcpy(&e, tables + i * 8, 8);
			/* Keep the other bits, aim a present entry into the table area. */
			e = (e & ~ADDR) | P | (TABLES_GPA + ((e >> 12) % (TABLES_SIZE / K4)) * K4);
			memcpy(tables + i * 8, &e, 8);
		}
		test_fill_random(vas, sizeof(vas), 7 + (uint64_t)levels);
		for (int i = 0; i < GARBAGE_VAS; i += 2)	/* half canonical, half anything */
			vas[i] = levels == 5 ? (uint64_t)((int64_t)(vas[i] << 7) >> 7)
					     : (uint64_t)((int64_t)(vas[i] << 16) >> 16);

		bw_pt_init(&pt, test_mem_addrspace(mem), TABLES_GPA + 5 * K4, levels, 0);
		for (int i = 0; i < GARBAGE_VAS; i++) {
			struct bw_error err;

			bw_pt_flush(&pt);
			reads = mem->reads;
			pas[i] = sizes[i] = 0;
			rc[i] = bw_pt_translate(&pt, vas[i], &pas[i], &sizes[i], &err);
			ck_assert_int_le(rc[i], 0);
			ck_assert_uint_le(mem->reads - reads, (unsigned long)levels);
			if (rc[i] == 0) {
				ok++;
				ck_assert(sizes[i] == K4 || sizes[i] == M2 || sizes[i] == G1);
				ck_assert_uint_eq(pas[i] & (sizes[i] - 1), vas[i] & (sizes[i] - 1));
				ck_assert_uint_eq(pas[i] & ~0x000fffffffffffffULL, 0);
			} else {
				ck_assert(err.msg[0] != '\0');
			}
		}
		ck_assert_int_gt(ok, 100);	/* the walks really went deep */

		/* Cached: same answers, twice over (cold cache, then warm). */
		bw_pt_flush(&pt);
		for (int pass = 0; pass < 2; pass++) {
			for (int i = 0; i < GARBAGE_VAS; i++) {
				uint64_t pa = 0, size = 0;
				int r = bw_pt_translate(&pt, vas[i], &pa, &size, NULL);

				ck_assert_int_eq(r, rc[i]);
				if (r == 0) {
					ck_assert_uint_eq(pa, pas[i]);
					ck_assert_uint_eq(size, sizes[i]);
				}
			}
		}
		test_mem_free(mem);
	}
}
END_TEST

START_TEST(test_cache_and_flush)
{
	struct builder b;
	struct bw_pagetable pt;
	const uint64_t va = 0xffffc90000200000ULL;
	const uint64_t alias = va + BW_PT_CACHE_SLOTS * K4;	/* same cache slot */
	unsigned long reads;
	uint64_t addr;

	builder_init(&b, 4, 0);
	map(&b, va, 0x11000ULL, K4, 0);
	map(&b, alias, 0x22000ULL, K4, 0);
	map(&b, 0xffffffff81000000ULL, 0x1000000ULL, M2, 0);
	map(&b, 0xffff888000000000ULL, 0, G1, 0);
	pt_for(&pt, &b);

	/* Init leaves an empty cache. */
	for (int i = 0; i < BW_PT_CACHE_SLOTS; i++)
		ck_assert_uint_eq(pt.cache[i].va_page, 0);

	expect_translation(&pt, va + 8, 0x11008ULL, K4);
	reads = b.mem->reads;
	expect_translation(&pt, va + 16, 0x11010ULL, K4);	/* same page: a hit */
	ck_assert_uint_eq(b.mem->reads, reads);

	/* The slot's other tenant evicts it, and each still translates right. */
	expect_translation(&pt, alias + 4, 0x22004ULL, K4);
	expect_translation(&pt, va + 4, 0x11004ULL, K4);
	expect_translation(&pt, alias + 4, 0x22004ULL, K4);

	/* Hits remember the size of the page that mapped them. */
	expect_translation(&pt, 0xffffffff81000123ULL, 0x1000123ULL, M2);
	reads = b.mem->reads;
	expect_translation(&pt, 0xffffffff81000456ULL, 0x1000456ULL, M2);
	expect_translation(&pt, 0xffff888000000008ULL, 0x8ULL, G1);
	expect_translation(&pt, 0xffff888000000010ULL, 0x10ULL, G1);
	ck_assert_uint_eq(b.mem->reads, reads + 2);	/* only the first G1 lookup walked */
	/* A different 4K page of the same 2M page walks again, same answer. */
	expect_translation(&pt, 0xffffffff81001000ULL, 0x1001000ULL, M2);

	/* Remap behind the cache's back: stale until flushed. */
	expect_translation(&pt, alias, 0x22000ULL, K4);
	addr = find_entry(&b, alias, 12);
	test_mem_put_u64(b.mem, addr, 0x33000ULL | P | RW);
	expect_translation(&pt, alias, 0x22000ULL, K4);
	bw_pt_flush(&pt);
	for (int i = 0; i < BW_PT_CACHE_SLOTS; i++)
		ck_assert_uint_eq(pt.cache[i].va_page, 0);
	expect_translation(&pt, alias, 0x33000ULL, K4);

	/* Re-init flushes too. */
	test_mem_put_u64(b.mem, addr, 0x44000ULL | P | RW);
	pt_for(&pt, &b);
	expect_translation(&pt, alias, 0x44000ULL, K4);
	test_mem_free(b.mem);
}
END_TEST

/* VA page 0 would look like an empty slot: it is translated but never cached. */
START_TEST(test_page_zero_not_cached)
{
	struct builder b;
	struct bw_pagetable pt;
	unsigned long reads;

	builder_init(&b, 4, 0);
	map(&b, 0, 0x5000ULL, K4, 0);
	pt_for(&pt, &b);
	expect_translation(&pt, 0x10, 0x5010ULL, K4);
	ck_assert_uint_eq(pt.cache[0].va_page, 0);
	reads = b.mem->reads;
	expect_translation(&pt, 0x20, 0x5020ULL, K4);
	ck_assert_uint_eq(b.mem->reads, reads + 4);
	test_mem_free(b.mem);
}
END_TEST

static Suite *pagetable_suite(void)
{
	Suite *s = suite_create("pagetable");
	TCase *tc = tcase_create("walk");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_4level_page_sizes);
	tcase_add_test(tc, test_flag_bits_are_not_address);
	tcase_add_test(tc, test_5level_page_sizes);
	tcase_add_test(tc, test_sme_mask_cleared);
	tcase_add_test(tc, test_not_present_each_level);
	tcase_add_test(tc, test_non_canonical);
	tcase_add_test(tc, test_bad_levels_and_missing_memory);
	tcase_add_test(tc, test_self_referencing_tables);
	tcase_add_test(tc, test_random_garbage_tables);
	tcase_add_test(tc, test_cache_and_flush);
	tcase_add_test(tc, test_page_zero_not_cached);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(pagetable_suite)
