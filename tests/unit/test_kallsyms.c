/* SPDX-License-Identifier: MIT */
/*
 * kallsyms decoding against tables this file compresses itself, in the
 * layout the kernel's scripts/kallsyms.c emits, for each of the four
 * address encodings and both name-length forms; then against broken and
 * hostile tables.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kallsyms.h"
#include "util_mem.h"

/* Kernel-like run-time addresses (a KASLR slide of 0x10000000). */
#define TEXT_VA 0xffffffff91000000ull	/* _text, also kallsyms_relative_base */
#define NAMES_VA 0xffffffff92000000ull	/* kallsyms_num_syms, then kallsyms_names */
#define TOKENS_VA 0xffffffff94000000ull	/* kallsyms_token_table, then _index */
#define OFFSETS_VA 0xffffffff94400000ull	/* kallsyms_offsets or kallsyms_addresses */
#define BASE_VA 0xffffffff94c00000ull	/* kallsyms_relative_base */
#define KSYM_NAME_LEN_TEST 512

/*
 * For the encoder's inner loops: check's ck_assert_* report each passing
 * check to the parent process, which for 200k symbols takes seconds.
 */
#define ENCODER_CHECK(cond)                                                   \
	do {                                                                  \
		if (!(cond))                                                  \
			ck_abort_msg("encoder: %s", #cond);                   \
	} while (0)

/* Multi-character tokens at byte values 0x80.., as the compressor would pick. */
static const char *const multi_tokens[] = {
	"per_cpu", "start", "text", "sym_", "map", "idr", "__", "_s",
	"T_", "t_", "D_", "d_", "B_", "b_", "R_", "r_",
};
#define NMULTI (sizeof(multi_tokens) / sizeof(multi_tokens[0]))

struct token_set {
	char *tok[256];
	uint8_t table[4096];
	size_t table_len;
	uint16_t index[256];
};

/* Printable bytes stand for themselves; unused byte values share one string. */
static void tokens_init(struct token_set *ts)
{
	static char single[256][2];
	uint16_t shared;

	memset(ts, 0, sizeof(*ts));
	for (int b = 0x21; b <= 0x7e; b++) {
		single[b][0] = (char)b;
		ts->tok[b] = single[b];
	}
	for (size_t i = 0; i < NMULTI; i++)
		ts->tok[0x80 + i] = (char *)multi_tokens[i];
	for (int b = 0; b < 256; b++) {
		if (!ts->tok[b])
			continue;
		ts->index[b] = (uint16_t)ts->table_len;
		memcpy(ts->table + ts->table_len, ts->tok[b], strlen(ts->tok[b]) + 1);
		ts->table_len += strlen(ts->tok[b]) + 1;
	}
	shared = ts->index['!'];
	for (int b = 0; b < 256; b++)
		if (!ts->tok[b])
			ts->index[b] = shared;
}

/* Greedy compression of "<type><name>": longest multi-char token, else the byte itself. */
static size_t compress(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s) {
		size_t best = 0;
		int best_b = -1;

		for (size_t i = 0; i < NMULTI; i++) {
			size_t l = strlen(multi_tokens[i]);

			if (l > best && strncmp(s, multi_tokens[i], l) == 0) {
				best = l;
				best_b = (int)(0x80 + i);
			}
		}
		if (best_b < 0) {
			ENCODER_CHECK(*s >= 0x21 && *s <= 0x7e);
			best_b = (uint8_t)*s;
			best = 1;
		}
		out[n++] = (uint8_t)best_b;
		s += best;
	}
	return n;
}

struct tsym {
	const char *name;
	char type;
	uint64_t addr;
	bool percpu;		/* a small absolute value under absolute-percpu */
};

static char long_name[201];

static struct tsym base_syms[] = {
	{ "fixed_percpu_data", 'D', 0x0, true },
	{ "runqueues", 'd', 0x2c000, true },
	{ "_text", 'T', TEXT_VA, false },
	{ "startup_64", 'T', TEXT_VA + 0x40, false },
	{ "_stext", 'T', TEXT_VA + 0x1000, false },
	{ "init_once", 't', TEXT_VA + 0x2000, false },
	{ "foo.llvm.4242", 't', TEXT_VA + 0x2100, false },
	{ long_name, 't', TEXT_VA + 0x2200, false },
	{ "init_once", 't', TEXT_VA + 0x3000, false },
	{ "_etext", 'T', TEXT_VA + 0x1000000, false },
	{ "__start_BTF", 'R', TEXT_VA + 0x1200000, false },
	{ "__stop_BTF", 'R', TEXT_VA + 0x1500000, false },
	{ "page_offset_base", 'D', TEXT_VA + 0x1600000, false },
	{ "__per_cpu_offset", 'D', TEXT_VA + 0x1600100, false },
	{ "map_idr", 'd', TEXT_VA + 0x1700000, false },
	{ "prog_idr", 'd', TEXT_VA + 0x1700020, false },
	{ "nr_cpu_ids", 'R', TEXT_VA + 0x1800000, false },
	{ "init_top_pgt", 'r', TEXT_VA + 0x1900000, false },
	{ "scx_root", 'b', TEXT_VA + 0x2000000, false },
	{ "_end", 'B', TEXT_VA + 0x2400000, false },
};
#define NBASE (sizeof(base_syms) / sizeof(base_syms[0]))

/* Where a symbol ends up under @enc: per-CPU symbols are small values only before 6.15. */
static uint64_t sym_addr(const struct tsym *s, enum bw_kallsyms_encoding enc)
{
	if (s->percpu && enc != BW_KALLSYMS_ABSOLUTE_PERCPU && enc != BW_KALLSYMS_ABSOLUTE)
		return TEXT_VA + 0x2800000 + s->addr;
	return s->addr;
}

struct layout {
	enum bw_kallsyms_encoding enc;
	bool long_form;
	size_t names_len;
	struct bw_kallsyms_tables tables;
};

static void init_long_name(void)
{
	/* 200 characters no multi-char token covers: 201 compressed bytes with the type. */
	memset(long_name, 'z', 200);
	long_name[200] = '\0';
}

/*
 * Lay out kallsyms for @syms in @mem.  The names range ends exactly where
 * the names end, as real memory might.
 */
static void build(struct test_mem *mem, const struct tsym *syms, size_t n,
		  enum bw_kallsyms_encoding enc, bool long_form, struct layout *out)
{
	struct token_set ts;
	size_t len = 0, cap = 0;
	uint8_t *names, *p;

	for (size_t i = 0; i < n; i++)
		cap += strlen(syms[i].name) + 3;	/* type, and up to 2 length bytes */
	names = malloc(cap);
	ck_assert_ptr_nonnull(names);
	tokens_init(&ts);
	for (size_t i = 0; i < n; i++) {
		char full[KSYM_NAME_LEN_TEST + 2];
		uint8_t rec[KSYM_NAME_LEN_TEST + 2];
		size_t l;

		snprintf(full, sizeof(full), "%c%s", syms[i].type, syms[i].name);
		l = compress(full, rec);
		if (long_form && l >= 0x80) {
			names[len++] = (uint8_t)(0x80 | (l & 0x7f));
			names[len++] = (uint8_t)(l >> 7);
		} else {
			ENCODER_CHECK(l <= 0xff);
			names[len++] = (uint8_t)l;
		}
		memcpy(names + len, rec, l);
		len += l;
	}

	memset(out, 0, sizeof(*out));
	out->enc = enc;
	out->long_form = long_form;
	out->names_len = len;
	p = test_mem_add(mem, NAMES_VA, 4 + len);
	memcpy(p, &(uint32_t){ (uint32_t)n }, 4);
	memcpy(p + 4, names, len);
	free(names);
	out->tables.num_syms = NAMES_VA;
	out->tables.names = NAMES_VA + 4;

	p = test_mem_add(mem, TOKENS_VA, 0x2000);
	memcpy(p, ts.table, ts.table_len);
	memcpy(p + 0x1000, ts.index, sizeof(ts.index));
	out->tables.token_table = TOKENS_VA;
	out->tables.token_index = TOKENS_VA + 0x1000;

	if (enc == BW_KALLSYMS_ABSOLUTE) {
		p = test_mem_add(mem, OFFSETS_VA, 8 * n);
		for (size_t i = 0; i < n; i++) {
			uint64_t a = sym_addr(&syms[i], enc);

			memcpy(p + 8 * i, &a, 8);
		}
		out->tables.addresses = OFFSETS_VA;
	} else {
		p = test_mem_add(mem, OFFSETS_VA, 4 * n);
		for (size_t i = 0; i < n; i++) {
			uint64_t a = sym_addr(&syms[i], enc);
			int64_t off = 0;

			switch (enc) {
			case BW_KALLSYMS_BASE_RELATIVE:
				ENCODER_CHECK(a >= TEXT_VA);
				off = (int64_t)(a - TEXT_VA);
				ENCODER_CHECK(off <= UINT32_MAX);
				break;
			case BW_KALLSYMS_ABSOLUTE_PERCPU:
				if (syms[i].percpu) {
					off = (int64_t)a;
					ENCODER_CHECK(off <= INT32_MAX);
				} else {
					off = (int64_t)(TEXT_VA - 1 - a);
					ENCODER_CHECK(off < 0 && off >= INT32_MIN);
				}
				break;
			case BW_KALLSYMS_PLACE_RELATIVE:
				off = (int64_t)(a - (OFFSETS_VA + 4 * i));
				ENCODER_CHECK(off >= INT32_MIN && off <= INT32_MAX);
				break;
			case BW_KALLSYMS_ABSOLUTE:
				break;
			}
			memcpy(p + 4 * i, &(uint32_t){ (uint32_t)off }, 4);
		}
		out->tables.offsets = OFFSETS_VA;
		if (enc != BW_KALLSYMS_PLACE_RELATIVE) {
			test_mem_add(mem, BASE_VA, 8);
			test_mem_put_u64(mem, BASE_VA, TEXT_VA);
			out->tables.relative_base = BASE_VA;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(syms[i].name, "_stext") == 0) {
			out->tables.stext = sym_addr(&syms[i], enc);
			break;
		}
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const enum bw_kallsyms_encoding all_encodings[] = {
	BW_KALLSYMS_ABSOLUTE, BW_KALLSYMS_BASE_RELATIVE,
	BW_KALLSYMS_ABSOLUTE_PERCPU, BW_KALLSYMS_PLACE_RELATIVE,
};

/* Loop index: encoding in bits 1.., name-length form in bit 0. */
START_TEST(test_every_encoding_and_length_form)
{
	enum bw_kallsyms_encoding enc = all_encodings[_i >> 1];
	bool long_form = _i & 1;
	struct test_mem *mem = test_mem_new();
	struct bw_addrspace as = test_mem_addrspace(mem);
	struct bw_kallsyms_info info = { 0 };
	struct bw_symtab *tab = NULL;
	struct bw_error err = { 0 };
	struct layout lay;
	int r;

	init_long_name();
	build(mem, base_syms, NBASE, enc, long_form, &lay);
	r = bw_kallsyms_load(&as, &lay.tables, &tab, &info, &err);
	ck_assert_msg(r == 0, "%s/%s: %s", bw_kallsyms_encoding_name(enc),
		      long_form ? "2-byte" : "1-byte", err.msg);
	ck_assert_ptr_nonnull(tab);
	ck_assert_int_eq(info.encoding, enc);
	ck_assert_int_eq(info.long_names, long_form);
	ck_assert_uint_eq(info.count, NBASE);
	ck_assert_uint_eq(bw_symtab_count(tab), NBASE);

	for (size_t i = 0; i < NBASE; i++) {
		const struct bw_symbol *s = bw_symtab_lookup(tab, base_syms[i].name);

		ck_assert_msg(s != NULL, "%s missing", base_syms[i].name);
		if (strcmp(base_syms[i].name, "init_once") == 0)
			continue;	/* duplicate: checked below */
		ck_assert_str_eq(s->name, base_syms[i].name);
		ck_assert_int_eq(s->type, base_syms[i].type);
		ck_assert_msg(s->addr == sym_addr(&base_syms[i], enc), "%s at %#" PRIx64,
			      s->name, s->addr);
	}
	/* Static duplicates: the first (lowest address) wins. */
	ck_assert_uint_eq(bw_symtab_lookup(tab, "init_once")->addr, TEXT_VA + 0x2000);
	/* ThinLTO suffix: found under the plain name too. */
	ck_assert_str_eq(bw_symtab_lookup(tab, "foo")->name, "foo.llvm.4242");
	ck_assert_uint_eq(strlen(bw_symtab_lookup(tab, long_name)->name), 200);
	ck_assert_ptr_null(bw_symtab_lookup(tab, "kallsyms_names"));
	bw_symtab_free(tab);
	test_mem_free(mem);
}
END_TEST

/* Without any record of 128+ compressed bytes both forms read alike. */
START_TEST(test_short_names_only)
{
	struct test_mem *mem = test_mem_new();
	struct bw_addrspace as = test_mem_addrspace(mem);
	struct bw_kallsyms_info info = { 0 };
	struct bw_symtab *tab = NULL;
	struct bw_error err = { 0 };
	struct layout lay;
	struct tsym syms[NBASE];
	size_t n = 0;

	init_long_name();
	for (size_t i = 0; i < NBASE; i++)
		if (base_syms[i].name != long_name)
			syms[n++] = base_syms[i];
	build(mem, syms, n, BW_KALLSYMS_PLACE_RELATIVE, true, &lay);
	ck_assert_int_eq(bw_kallsyms_load(&as, &lay.tables, &tab, &info, &err), 0);
	ck_assert_uint_eq(info.count, n);
	ck_assert(!info.long_names);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "_stext")->addr, TEXT_VA + 0x1000);
	bw_symtab_free(tab);
	test_mem_free(mem);
}
END_TEST

/* A kernel-sized table: many 64 KiB chunks of names, and the time it takes. */
START_TEST(test_large_table)
{
	const size_t n = 200000;
	struct test_mem *mem = test_mem_new();
	struct bw_addrspace as = test_mem_addrspace(mem);
	struct bw_kallsyms_info info = { 0 };
	struct tsym *syms = calloc(n, sizeof(*syms));
	char (*names)[64] = calloc(n, 64);
	struct bw_symtab *tab = NULL;
	struct bw_error err = { 0 };
	struct layout lay;
	double t0, ms;

	ck_assert_ptr_nonnull(syms);
	ck_assert_ptr_nonnull(names);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "%s_%zu_start_text_%zx",
			 i % 3 ? "sym_map_idr" : "per_cpu__handler", i, i * 2654435761u);
		syms[i] = (struct tsym){ names[i], "TtDdBbRr"[i % 8], TEXT_VA + 16 * i, false };
	}
	syms[1].name = "_stext";
	build(mem, syms, n, BW_KALLSYMS_PLACE_RELATIVE, true, &lay);
	ck_assert_uint_gt(lay.names_len, 20 * 65536);
	t0 = now_ms();
	ck_assert_msg(bw_kallsyms_load(&as, &lay.tables, &tab, &info, &err) == 0, "%s", err.msg);
	ms = now_ms() - t0;
	printf("kallsyms: %zu symbols (%zu bytes of names) decoded and indexed in %.1f ms, %lu reads\n",
	       n, lay.names_len, ms, mem->reads);
	/* Generous: the sanitizer build is several times slower. */
	ck_assert_double_lt(ms, 3000.0);
	ck_assert_uint_eq(info.count, n);
	for (size_t i = 0; i < n; i++) {
		const struct bw_symbol *s = bw_symtab_lookup(tab, syms[i].name);

		if (!s || s->addr != TEXT_VA + 16 * i || s->type != syms[i].type)
			ck_abort_msg("symbol %zu (%s) decoded wrong", i, syms[i].name);
	}
	/* Bulk reads, not one per record. */
	ck_assert_uint_lt(mem->reads, 1000);
	bw_symtab_free(tab);
	free(names);
	free(syms);
	test_mem_free(mem);
}
END_TEST

/* Load and expect failure, quickly, with a message containing @needle. */
static void expect_failure(struct test_mem *mem, const struct bw_kallsyms_tables *t,
			   const char *needle)
{
	struct bw_addrspace as = test_mem_addrspace(mem);
	struct bw_symtab *tab = (struct bw_symtab *)&tab;
	struct bw_error err = { 0 };
	double t0 = now_ms();
	int r;

	r = bw_kallsyms_load(&as, t, &tab, NULL, &err);
	ck_assert_msg(r < 0, "loaded garbage");
	ck_assert_int_eq(err.code, r);
	ck_assert_ptr_null(tab);
	ck_assert_msg(now_ms() - t0 < 5000, "took %.0f ms", now_ms() - t0);
	if (needle)
		ck_assert_msg(strstr(err.msg, needle), "message \"%s\" lacks \"%s\"", err.msg,
			      needle);
}

static struct test_mem *good_table(struct layout *lay, enum bw_kallsyms_encoding enc)
{
	struct test_mem *mem = test_mem_new();

	init_long_name();
	build(mem, base_syms, NBASE, enc, true, lay);
	return mem;
}

START_TEST(test_stext_mismatch)
{
	struct layout lay;
	struct test_mem *mem = good_table(&lay, BW_KALLSYMS_BASE_RELATIVE);

	lay.tables.stext += 0x1000;
	expect_failure(mem, &lay.tables, "no decoding reproduces SYMBOL(_stext)");
	test_mem_free(mem);
}
END_TEST

START_TEST(test_no_stext_symbol)
{
	struct test_mem *mem = test_mem_new();
	struct tsym syms[] = { { "_text", 'T', TEXT_VA, false }, { "_etext", 'T', TEXT_VA + 64, false } };
	struct layout lay;

	build(mem, syms, 2, BW_KALLSYMS_PLACE_RELATIVE, true, &lay);
	lay.tables.stext = TEXT_VA;
	expect_failure(mem, &lay.tables, "no symbol is named _stext");
	test_mem_free(mem);
}
END_TEST

START_TEST(test_missing_tables)
{
	struct layout lay;
	struct test_mem *mem = good_table(&lay, BW_KALLSYMS_PLACE_RELATIVE);
	struct bw_kallsyms_tables t = lay.tables;

	t.offsets = 0;
	expect_failure(mem, &t, "kallsyms_offsets");
	t = lay.tables;
	t.token_index = 0;
	expect_failure(mem, &t, "kallsyms_token_index");
	t = lay.tables;
	t.stext = 0;
	expect_failure(mem, &t, "_stext");
	/* Base-relative needs the base: without it only place-relative is tried. */
	test_mem_free(mem);
	mem = good_table(&lay, BW_KALLSYMS_BASE_RELATIVE);
	t = lay.tables;
	t.relative_base = 0;
	expect_failure(mem, &t, "place-relative gives");
	t = lay.tables;
	t.relative_base = 0xffffffff99000000ull;	/* not mapped */
	expect_failure(mem, &t, "kallsyms_relative_base");
	test_mem_free(mem);
}
END_TEST

START_TEST(test_absurd_num_syms)
{
	struct layout lay;
	struct test_mem *mem = good_table(&lay, BW_KALLSYMS_PLACE_RELATIVE);

	test_mem_put_u32(mem, NAMES_VA, 0xffffffffu);
	expect_failure(mem, &lay.tables, "kallsyms_num_syms is 4294967295");
	test_mem_put_u32(mem, NAMES_VA, 0);
	expect_failure(mem, &lay.tables, "kallsyms_num_syms is 0");
	/* More records than there are names: runs off the end of memory. */
	test_mem_put_u32(mem, NAMES_VA, NBASE + 1);
	expect_failure(mem, &lay.tables, "unreadable memory");
	/* Under the cap but far beyond the names: still stops at the end of memory. */
	test_mem_put_u32(mem, NAMES_VA, 999999);
	expect_failure(mem, &lay.tables, "unreadable memory");
	test_mem_free(mem);
}
END_TEST

START_TEST(test_token_index_past_table)
{
	struct layout lay;
	struct test_mem *mem = good_table(&lay, BW_KALLSYMS_PLACE_RELATIVE);
	uint16_t bad = 0xfff0;

	/* The token range is 8 KiB: offset 0xfff0 lies beyond it. */
	memcpy(test_mem_at(mem, TOKENS_VA + 0x1000 + 2 * 'a', 2), &bad, 2);
	expect_failure(mem, &lay.tables, "kallsyms_token_table");
	test_mem_free(mem);
}
END_TEST

START_TEST(test_token_without_end)
{
	struct layout lay;
	struct test_mem *mem = good_table(&lay, BW_KALLSYMS_PLACE_RELATIVE);
	uint8_t *table = test_mem_at(mem, TOKENS_VA, 0x2000);
	uint16_t last = 0x1ff0;

	/* Token 'a' starts 16 bytes before the memory ends and has no NUL. */
	memset(table + last, 'x', 16);
	memcpy(test_mem_at(mem, TOKENS_VA + 0x1000 + 2 * 'a', 2), &last, 2);
	expect_failure(mem, &lay.tables, "has no end");
	test_mem_free(mem);
}
END_TEST

START_TEST(test_names_truncated)
{
	struct layout lay;
	struct test_mem *full = good_table(&lay, BW_KALLSYMS_PLACE_RELATIVE);
	struct test_mem *mem = test_mem_new();

	/* The same tables, but memory ends 10 bytes before the last record does. */
	for (unsigned int i = 0; i < full->nranges; i++) {
		size_t size = full->ranges[i].size;
		uint8_t *p;

		if (full->ranges[i].addr == NAMES_VA)
			size -= 10;
		p = test_mem_add(mem, full->ranges[i].addr, size);
		memcpy(p, full->ranges[i].bytes, size);
	}
	expect_failure(mem, &lay.tables, "runs into unreadable memory");
	test_mem_free(mem);
	test_mem_free(full);
}
END_TEST

START_TEST(test_bad_records)
{
	struct layout lay;
	struct test_mem *mem = good_table(&lay, BW_KALLSYMS_PLACE_RELATIVE);
	uint8_t *names = test_mem_at(mem, NAMES_VA + 4, 1);
	uint8_t *table = test_mem_at(mem, TOKENS_VA, 0x2000);
	uint16_t *index = test_mem_at(mem, TOKENS_VA + 0x1000, 512);
	uint8_t saved[2] = { names[0], names[1] };

	/* An empty record. */
	names[0] = 0;
	expect_failure(mem, &lay.tables, "empty");
	/* A 2-byte length beyond KSYM_NAME_LEN (and 1-byte lengths that then desync). */
	names[0] = 0xff;
	names[1] = 0x7f;
	expect_failure(mem, &lay.tables, "KSYM_NAME_LEN");
	names[0] = saved[0];
	names[1] = saved[1];

	/* A name whose tokens expand past KSYM_NAME_LEN: make 'z' a 300-char token. */
	memset(table + 0x1800, 'z', 300);
	table[0x1800 + 300] = '\0';
	index['z'] = 0x1800;
	expect_failure(mem, &lay.tables, "more than KSYM_NAME_LEN");
	/* A control character in a name. */
	table[0x1800] = 'z';
	table[0x1801] = '\x01';
	table[0x1802] = '\0';
	expect_failure(mem, &lay.tables, "control or non-ASCII");
	/* A type that is not a letter: every name starts with a digit. */
	for (int c = 'A'; c <= 'Z'; c++)
		index[c] = index['7'];
	for (int c = 'a'; c <= 'z'; c++)
		index[c] = index['7'];
	for (int b = 0x80; b < 0x90; b++)
		index[b] = index['7'];
	expect_failure(mem, &lay.tables, "type letter");
	test_mem_free(mem);
}
END_TEST

/* Random bytes in every table, many seeds: an error each time, quickly. */
START_TEST(test_random_tables)
{
	for (uint64_t seed = 1; seed <= 64; seed++) {
		struct test_mem *mem = test_mem_new();
		struct bw_addrspace as = test_mem_addrspace(mem);
		struct bw_kallsyms_tables t = {
			.num_syms = NAMES_VA, .names = NAMES_VA + 4,
			.token_table = TOKENS_VA, .token_index = TOKENS_VA + 0x1000,
			.offsets = OFFSETS_VA, .relative_base = BASE_VA,
			.stext = TEXT_VA + 0x1000,
		};
		struct bw_symtab *tab = NULL;
		struct bw_error err = { 0 };
		double t0 = now_ms();
		uint8_t *p;
		int r;

		p = test_mem_add(mem, NAMES_VA, 256 * 1024);
		test_fill_random(p, 256 * 1024, seed);
		/* Half the seeds get a plausible count, so decoding really starts. */
		if (seed & 1)
			test_mem_put_u32(mem, NAMES_VA, (uint32_t)(seed * 1000));
		p = test_mem_add(mem, TOKENS_VA, 0x2000);
		test_fill_random(p, 0x2000, seed + 1000);
		if (seed & 2) {
			/* Short tokens, so records get past the length checks. */
			uint16_t *index = (uint16_t *)(p + 0x1000);

			for (int i = 0; i < 256; i++)
				index[i] = (uint16_t)(index[i] % 0x400);
			for (int i = 0; i < 0x1000; i += 4)
				p[i] = 0;
		}
		p = test_mem_add(mem, OFFSETS_VA, 64 * 1024);
		test_fill_random(p, 64 * 1024, seed + 2000);
		p = test_mem_add(mem, BASE_VA, 8);
		test_fill_random(p, 8, seed + 3000);

		r = bw_kallsyms_load(&as, &t, &tab, NULL, &err);
		ck_assert_msg(r < 0, "seed %" PRIu64 ": random tables loaded", seed);
		ck_assert_ptr_null(tab);
		ck_assert(err.msg[0] != '\0');
		ck_assert_msg(now_ms() - t0 < 2000, "seed %" PRIu64 ": %.0f ms", seed,
			      now_ms() - t0);
		test_mem_free(mem);
	}
}
END_TEST

/* Real tables with random bytes stamped over the names: never a crash. */
START_TEST(test_corrupted_names)
{
	for (uint64_t seed = 1; seed <= 64; seed++) {
		struct layout lay;
		struct test_mem *mem = good_table(&lay, all_encodings[seed % 4]);
		struct bw_addrspace as = test_mem_addrspace(mem);
		struct bw_symtab *tab = NULL;
		struct bw_error err = { 0 };
		uint8_t *names = test_mem_at(mem, NAMES_VA + 4, lay.names_len);
		size_t at = (seed * 7919) % lay.names_len;
		size_t len = lay.names_len - at < 8 ? lay.names_len - at : 8;
		int r;

		test_fill_random(names + at, len, seed);
		r = bw_kallsyms_load(&as, &lay.tables, &tab, NULL, &err);
		if (r == 0) {
			/* A stamp can land inside a name and keep it valid: still a full table. */
			ck_assert_uint_eq(bw_symtab_count(tab), NBASE);
			ck_assert_uint_eq(bw_symtab_lookup(tab, "_stext")->addr, lay.tables.stext);
			bw_symtab_free(tab);
		} else {
			ck_assert_ptr_null(tab);
			ck_assert(err.msg[0] != '\0');
		}
		test_mem_free(mem);
	}
}
END_TEST

START_TEST(test_encoding_names)
{
	ck_assert_str_eq(bw_kallsyms_encoding_name(BW_KALLSYMS_ABSOLUTE), "absolute");
	ck_assert_str_eq(bw_kallsyms_encoding_name(BW_KALLSYMS_BASE_RELATIVE), "base-relative");
	ck_assert_str_eq(bw_kallsyms_encoding_name(BW_KALLSYMS_ABSOLUTE_PERCPU),
			 "absolute-percpu");
	ck_assert_str_eq(bw_kallsyms_encoding_name(BW_KALLSYMS_PLACE_RELATIVE),
			 "place-relative");
	ck_assert_str_eq(bw_kallsyms_encoding_name((enum bw_kallsyms_encoding)42), "unknown");
}
END_TEST

static Suite *kallsyms_suite(void)
{
	Suite *s = suite_create("kallsyms");
	TCase *tc = tcase_create("decode");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_every_encoding_and_length_form, 0, 8);
	tcase_add_test(tc, test_short_names_only);
	tcase_add_test(tc, test_large_table);
	tcase_add_test(tc, test_stext_mismatch);
	tcase_add_test(tc, test_no_stext_symbol);
	tcase_add_test(tc, test_missing_tables);
	tcase_add_test(tc, test_absurd_num_syms);
	tcase_add_test(tc, test_token_index_past_table);
	tcase_add_test(tc, test_token_without_end);
	tcase_add_test(tc, test_names_truncated);
	tcase_add_test(tc, test_bad_records);
	tcase_add_test(tc, test_random_tables);
	tcase_add_test(tc, test_corrupted_names);
	tcase_add_test(tc, test_encoding_names);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(kallsyms_suite)
