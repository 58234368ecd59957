/* SPDX-License-Identifier: MIT */
/*
 * The kernel model built by bw_kernel_open() on synthetic guests
 * (util_guest.h) that hold a whole kernel the way Linux 7.x leaves it in
 * RAM: every value it reports is compared with the guest's truth, for both
 * kallsyms address encodings, 4- and 5-level paging, the flat and q35
 * layouts (with structures above the 4 GiB split), a rebooted guest that
 * still holds its previous kernel, and the System.map + BTF files path.
 * Then broken and hostile guests, each of which must give an error in
 * bounded time.
 */
#include <bpf/btf.h>
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest_ram.h"
#include "kernel.h"
#include "pagetable.h"
#include "util_guest.h"
#include "util_mem.h"

#define PAGE 4096ULL
#define MIB (1ULL << 20)
#define GIB BW_GIB
/* Generous for ASan builds; a sane open takes milliseconds. */
#define BOUNDED_MS 10000.0

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static struct test_guest *make_guest(const struct test_guest_opts *opts)
{
	struct bw_error err = { 0 };
	struct test_guest *g = NULL;
	int r = test_guest_create(opts, &g, &err);

	ck_assert_msg(r == 0, "building the synthetic guest: %s", err.msg);
	return g;
}

struct session {
	struct bw_ram *ram;
	struct bw_kernel *k;
	struct bw_kernel_info info;
	struct bw_error err;
	double ms;
	int r;
};

/* bw_kernel_open on @g; the outcome is in @s (r, err, k, info, ms). */
static void open_model(const struct test_guest *g, const struct bw_kernel_files *files,
		       struct session *s)
{
	double start;

	memset(s, 0, sizeof(*s));
	s->r = test_guest_open_ram(g, &s->ram, &s->err);
	ck_assert_msg(s->r == 0, "opening guest RAM: %s", s->err.msg);
	start = now_ms();
	s->r = bw_kernel_open(s->ram, files, &s->k, &s->err);
	s->ms = now_ms() - start;
	if (s->r == 0)
		bw_kernel_get_info(s->k, &s->info);
	else
		ck_assert_ptr_null(s->k);
}

static void close_model(struct session *s)
{
	bw_kernel_free(s->k);
	bw_ram_close(s->ram);
	s->k = NULL;
	s->ram = NULL;
}

static void expect_model(const struct test_guest *g, const struct bw_kernel_files *files,
			 struct session *s)
{
	open_model(g, files, s);
	ck_assert_msg(s->r == 0, "bw_kernel_open: %s", s->err.msg);
}

/* An error, its code and a piece of its message, in bounded time. */
static void expect_error(const struct test_guest *g, const struct bw_kernel_files *files,
			 int code, const char *needle)
{
	struct session s;

	open_model(g, files, &s);
	ck_assert_msg(s.r < 0, "bw_kernel_open accepted a broken guest");
	if (code)
		ck_assert_msg(s.r == code, "error %d, expected %d: %s", s.r, code, s.err.msg);
	ck_assert_int_eq(s.err.code, s.r);
	ck_assert_msg(strlen(s.err.msg) > 0, "an error without a message");
	if (needle)
		ck_assert_msg(strstr(s.err.msg, needle), "\"%s\" not in \"%s\"", needle, s.err.msg);
	ck_assert_msg(s.ms < BOUNDED_MS, "took %.0f ms", s.ms);
	close_model(&s);
}

static uint64_t symbol(struct bw_kernel *k, const char *name)
{
	struct bw_error err = { 0 };
	uint64_t addr = 0;

	ck_assert_msg(bw_kernel_symbol(k, name, &addr, &err) == 0, "%s", err.msg);
	return addr;
}

static void read_ok(struct bw_kernel *k, uint64_t va, void *buf, size_t len)
{
	struct bw_error err = { 0 };
	int r = bw_kernel_read(k, va, buf, len, &err);

	ck_assert_msg(r == 0, "reading %zu bytes at %#" PRIx64 ": %s", len, va, err.msg);
}

/* A few filler symbols, spread over the table. */
static void check_fillers(const struct test_guest_kernel *t, struct bw_kernel *k, bool data_too)
{
	uint32_t n = t->nr_filler_syms;
	uint32_t picks[] = { 0, 1, 2, n / 3, n / 2, n - n / 6, n - 2, n - 1 };

	for (size_t i = 0; i < sizeof(picks) / sizeof(picks[0]) && n > 0; i++) {
		const struct bw_symbol *sym;
		char name[128], type;
		uint64_t addr;

		if (picks[i] >= n)
			continue;
		test_guest_filler(t, picks[i], name, sizeof(name), &addr, &type);
		sym = bw_symtab_lookup(bw_kernel_symtab(k), name);
		if (!data_too && type != 't' && type != 'T') {
			ck_assert_msg(sym == NULL, "%s should not be there", name);
			continue;
		}
		ck_assert_msg(sym != NULL, "filler %u (%s) missing", picks[i], name);
		ck_assert_uint_eq(sym->addr, addr);
		ck_assert_int_eq(sym->type, type);
	}
}

/* What the truth says the model must say, and reads through each kind of mapping. */
static void check_model(struct test_guest *g, const struct test_guest_kernel *t,
			const struct session *s, bool from_files)
{
	struct bw_kernel *k = s->k;
	const struct bw_kernel_info *info = &s->info;
	uint8_t buf[TEST_GUEST_VMALLOC_PAGES * PAGE];
	char banner[15], text[4097];
	uint64_t jiffies = 0, ptr = 0, gpa = 0;
	struct bw_error err = { 0 };

	ck_assert_int_eq(info->source, from_files ? BW_KERNEL_FROM_FILES : BW_KERNEL_FROM_VMCOREINFO);
	ck_assert_str_eq(info->release, t->release);
	ck_assert_uint_eq(info->kaslr_offset, t->kaslr_offset);
	ck_assert_uint_eq(info->phys_base, t->phys_base);
	ck_assert_uint_eq(info->page_offset_base, t->page_offset_base);
	ck_assert_int_eq(info->paging_levels, t->paging_levels);
	ck_assert_uint_eq(info->nr_cpu_ids, t->nr_cpu_ids);
	ck_assert_uint_eq(bw_kernel_nr_cpu_ids(k), t->nr_cpu_ids);
	ck_assert_uint_eq(info->btf_size, t->btf_size);
	if (from_files) {
		ck_assert_uint_eq(info->kallsyms_count, t->nsyms + t->nr_filler_syms);
		ck_assert_ptr_null(info->kallsyms_encoding);
	} else {
		ck_assert_uint_eq(info->kallsyms_count, t->kallsyms_count);
		ck_assert_str_eq(info->kallsyms_encoding, t->encoding == TEST_GUEST_PLACE_RELATIVE ?
				 "place-relative" : "base-relative");
		ck_assert_msg(info->vmcoreinfo_gpa == t->vmcoreinfo_gpa ||
			      info->vmcoreinfo_gpa == t->vmcoreinfo_note_gpa,
			      "VMCOREINFO at %#" PRIx64, info->vmcoreinfo_gpa);
	}
	for (uint32_t cpu = 0; cpu < t->nr_cpu_ids; cpu++)
		ck_assert_uint_eq(bw_kernel_per_cpu_offset(k, cpu), t->per_cpu_offset[cpu]);
	ck_assert_uint_eq(bw_kernel_per_cpu_offset(k, t->nr_cpu_ids), 0);

	for (size_t i = 0; i < t->nsyms; i++) {
		const struct bw_symbol *sym = bw_symtab_lookup(bw_kernel_symtab(k), t->syms[i].name);

		ck_assert_msg(sym != NULL, "symbol %s missing", t->syms[i].name);
		ck_assert_msg(sym->addr == t->syms[i].addr, "%s at %#" PRIx64 ", expected %#" PRIx64,
			      t->syms[i].name, sym->addr, t->syms[i].addr);
		ck_assert_int_eq(sym->type, t->syms[i].type);
	}
	ck_assert_uint_eq(symbol(k, "_text"), t->text);
	ck_assert_uint_eq(symbol(k, "_end"), t->end);
	ck_assert_uint_eq(symbol(k, "__start_BTF"), t->btf_start);
	ck_assert_uint_eq(symbol(k, "__stop_BTF") - symbol(k, "__start_BTF"), t->btf_size);
	ck_assert_int_eq(bw_kernel_symbol(k, "no_such_symbol", &ptr, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "no_such_symbol"));
	check_fillers(t, k, true);
	if (t->btf_size < 4096)	/* the writer-built BTF */
		ck_assert_int_gt(btf__find_by_name_kind(bw_kernel_btf(k), "uts_namespace",
							BTF_KIND_STRUCT), 0);
	ck_assert_int_gt(btf__type_cnt(bw_kernel_btf(k)), 1);

	/* Text mapping: linux_banner and jiffies_64 in the image. */
	read_ok(k, symbol(k, "linux_banner"), banner, sizeof(banner) - 1);
	banner[sizeof(banner) - 1] = '\0';
	ck_assert_str_eq(banner, "Linux version ");
	read_ok(k, symbol(k, "jiffies_64"), &jiffies, 8);
	ck_assert_uint_ge(jiffies, t->jiffies);
	ck_assert_int_eq(bw_kernel_translate(k, t->text + 0x1234, &gpa, &err), 0);
	ck_assert_uint_eq(gpa, t->image_gpa + 0x1234);

	/* Direct map: the VMCOREINFO page through the kernel's own pointer, per-CPU units. */
	if (t->vmcoreinfo_gpa) {
		read_ok(k, symbol(k, "vmcoreinfo_data"), &ptr, 8);
		ck_assert_uint_eq(ptr, t->page_offset_base + t->vmcoreinfo_gpa);
		read_ok(k, ptr, text, t->vmcoreinfo_len);
		text[t->vmcoreinfo_len] = '\0';
		ck_assert_str_eq(text, t->vmcoreinfo);
		ck_assert_int_eq(bw_kernel_translate(k, ptr, &gpa, &err), 0);
		ck_assert_uint_eq(gpa, t->vmcoreinfo_gpa);
	}
	for (uint32_t cpu = 0; cpu < t->nr_cpu_ids; cpu++) {
		uint64_t off = bw_kernel_per_cpu_offset(k, cpu), this_off = 0;
		uint32_t number = UINT32_MAX;

		read_ok(k, symbol(k, "cpu_number") + off, &number, 4);
		ck_assert_uint_eq(number, cpu);
		read_ok(k, symbol(k, "this_cpu_off") + off, &this_off, 8);
		ck_assert_uint_eq(this_off, off);
	}

	/* Page walk: four 4 KiB pages, out of order in RAM, across two page tables. */
	read_ok(k, t->vmalloc_va, buf, sizeof(buf));
	for (int i = 0; i < TEST_GUEST_VMALLOC_PAGES; i++) {
		ck_assert_msg(memcmp(buf + PAGE * i, test_guest_gpa(g, t->vmalloc_gpa[i], PAGE), PAGE)
			      == 0, "vmalloc page %d read wrong bytes", i);
		ck_assert_int_eq(bw_kernel_translate(k, t->vmalloc_va + PAGE * i + 8, &gpa, &err), 0);
		ck_assert_uint_eq(gpa, t->vmalloc_gpa[i] + 8);
	}
	/* An unaligned read straddling pages 1 and 2 (the 2 MiB boundary). */
	read_ok(k, t->vmalloc_va + 2 * PAGE - 100, buf, 200);
	ck_assert_int_eq(memcmp(buf, (uint8_t *)test_guest_gpa(g, t->vmalloc_gpa[1], PAGE) + PAGE - 100,
				100), 0);
	ck_assert_int_eq(memcmp(buf + 100, test_guest_gpa(g, t->vmalloc_gpa[2], 100), 100), 0);
	/* Past the vmalloc area nothing is mapped. */
	ck_assert_int_eq(bw_kernel_read(k, t->vmalloc_va + 8 * PAGE, buf, 8, &err), -EFAULT);
}

/* ------------------------------------------------------------ discovery */

START_TEST(test_default_guest)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;
	const struct bw_symbol *long_sym;

	test_guest_opts_init(&o);
	g = make_guest(&o);
	/* The brief's KASLR example: _text 0xffffffff96400000, phys_base 0xcc00000. */
	ck_assert_uint_eq(g->live.text, 0xffffffff96400000ULL);
	ck_assert_uint_eq(g->live.phys_base, 0xcc00000ULL);
	ck_assert_uint_eq(g->live.page_offset_base, 0xffff9a0000000000ULL);
	expect_model(g, NULL, &s);
	check_model(g, &g->live, &s, false);
	/* The Rust-style name needs a 2-byte length record. */
	long_sym = bw_symtab_lookup(bw_kernel_symtab(s.k), g->live.syms[3].name);
	ck_assert_ptr_nonnull(long_sym);
	ck_assert_uint_gt(strlen(long_sym->name), 127);
	ck_assert_uint_eq(long_sym->addr, g->live.text + 0x2000);
	close_model(&s);
	test_guest_destroy(g);
}
END_TEST

/* Both encodings x both paging depths x flat / q35-with-everything-above-4G. */
START_TEST(test_matrix)
{
	for (int i = 0; i < 8; i++) {
		struct test_guest_opts o;
		struct test_guest *g;
		struct session s;
		bool high = i & 4;

		test_guest_opts_init(&o);
		o.encoding = i & 1 ? TEST_GUEST_BASE_RELATIVE : TEST_GUEST_PLACE_RELATIVE;
		o.paging_levels = i & 2 ? 5 : 4;
		o.nr_cpus = 3 + (uint32_t)i;
		o.seed = 100 + (uint64_t)i;
		if (high) {
			o.layout = TEST_GUEST_Q35;
			o.ram_size = 6 * GIB;
			/* _text at PA 4.5 GiB, in the part of RAM QEMU maps above 4 GiB. */
			o.live.phys_base = 0x120000000ULL - (0xffffffff96400000ULL -
							     TEST_GUEST_START_KERNEL_MAP);
		}
		g = make_guest(&o);
		if (high) {
			ck_assert_uint_eq(g->layout.nregions, 2);
			ck_assert_uint_eq(g->live.image_gpa, 0x120000000ULL);
			ck_assert_uint_ge(g->live.heap_gpa, 4 * GIB);
			ck_assert_uint_ge(g->live.vmcoreinfo_gpa, 4 * GIB);
			ck_assert_uint_ge(g->live.vmalloc_gpa[0], 4 * GIB);
		}
		if (o.paging_levels == 5)
			ck_assert_uint_eq(g->live.page_offset_base >> 56, 0xff);
		expect_model(g, NULL, &s);
		check_model(g, &g->live, &s, false);
		close_model(&s);
		test_guest_destroy(g);
	}
}
END_TEST

/* q35 with 4 GiB: the image below the split, the page-allocator memory above it. */
START_TEST(test_q35_split)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;

	test_guest_opts_init(&o);
	o.layout = TEST_GUEST_Q35;
	o.ram_size = 4 * GIB;
	o.nr_cpus = 64;
	g = make_guest(&o);
	ck_assert_uint_lt(g->live.image_gpa + g->live.mapped_size, 2 * GIB);
	ck_assert_uint_ge(g->live.heap_gpa, 4 * GIB);
	expect_model(g, NULL, &s);
	check_model(g, &g->live, &s, false);
	close_model(&s);
	test_guest_destroy(g);
}
END_TEST

/* A real kernel's scale: ~200,000 symbols, 512 CPUs. */
START_TEST(test_scale)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;

	test_guest_opts_init(&o);
	o.nr_filler_syms = 200000;
	o.nr_cpus = 512;
	o.fill_text = true;
	g = make_guest(&o);
	ck_assert_uint_eq(g->live.kallsyms_count, 200000 + g->live.nsyms);
	expect_model(g, NULL, &s);
	check_model(g, &g->live, &s, false);
	ck_assert_uint_eq(bw_symtab_count(bw_kernel_symtab(s.k)), 200000 + g->live.nsyms);
	close_model(&s);
	test_guest_destroy(g);
}
END_TEST

/* Every page written: holes cannot help the VMCOREINFO scan. */
START_TEST(test_dense)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;

	test_guest_opts_init(&o);
	o.ram_size = 512 * MIB;
	o.dense = true;
	o.nr_cpus = 2;
	g = make_guest(&o);
	/* 512 MiB has no room at phys_base 0xcc00000: the image moved, phys_base with it. */
	ck_assert_uint_lt(g->live.image_gpa, 512 * MIB);
	expect_model(g, NULL, &s);
	check_model(g, &g->live, &s, false);
	close_model(&s);
	test_guest_destroy(g);
}
END_TEST

/*
 * With CONFIG_PCI_P2PDMA the direct-map region keeps its full 64 TiB and
 * vmalloc starts beyond it; the default guest has it ~11 TiB up instead.
 */
START_TEST(test_vmalloc_far)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;

	test_guest_opts_init(&o);
	o.live.vmalloc_base = 0xffff9a0000000000ULL + (70ULL << 40);
	g = make_guest(&o);
	expect_model(g, NULL, &s);
	check_model(g, &g->live, &s, false);
	close_model(&s);
	test_guest_destroy(g);
}
END_TEST

/* The synthetic page tables agree with the text-mapping and direct-map formulas. */
START_TEST(test_guest_page_tables)
{
	for (int levels = 4; levels <= 5; levels++) {
		struct test_guest_opts o;
		struct test_guest *g;
		struct bw_ram *ram;
		struct bw_pagetable pt;
		struct bw_error err = { 0 };
		uint64_t gpa, size;
		const struct test_guest_kernel *t;

		test_guest_opts_init(&o);
		o.paging_levels = levels;
		o.layout = TEST_GUEST_Q35;
		o.ram_size = 3 * GIB;
		g = make_guest(&o);
		t = &g->live;
		ck_assert_int_eq(test_guest_open_ram(g, &ram, &err), 0);
		bw_pt_init(&pt, bw_ram_addrspace(ram), t->pgd_gpa, levels, 0);
		ck_assert_msg(bw_pt_translate(&pt, t->text + 0x123456, &gpa, &size, &err) == 0, "%s",
			      err.msg);
		ck_assert_uint_eq(gpa, t->image_gpa + 0x123456);
		ck_assert_uint_eq(size, 2 * MIB);
		ck_assert_int_eq(bw_pt_translate(&pt, t->end - 1, &gpa, &size, &err), 0);
		ck_assert_uint_eq(gpa, t->image_gpa + (t->end - 1 - t->text));
		ck_assert_int_eq(bw_pt_translate(&pt, t->page_offset_base + 4 * GIB + 77, &gpa, &size,
						 &err), 0);
		ck_assert_uint_eq(gpa, 4 * GIB + 77);
		ck_assert_uint_eq(size, GIB);
		/* The q35 hole between 2 and 4 GiB is not mapped. */
		ck_assert_int_eq(bw_pt_translate(&pt, t->page_offset_base + 3 * GIB, &gpa, &size,
						 &err), -EFAULT);
		ck_assert_int_eq(bw_pt_translate(&pt, t->vmalloc_va + PAGE + 5, &gpa, &size, &err), 0);
		ck_assert_uint_eq(gpa, t->vmalloc_gpa[1] + 5);
		ck_assert_uint_eq(size, PAGE);
		bw_ram_close(ram);
		test_guest_destroy(g);
	}
}
END_TEST

/* Reads go through the translation cache; a flush sees remapped pages. */
START_TEST(test_flush_translations)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;
	uint64_t before = 0, after = 0, pte_gpa = 0, pte = 0, target;

	test_guest_opts_init(&o);
	g = make_guest(&o);
	expect_model(g, NULL, &s);
	read_ok(s.k, g->live.vmalloc_va, &before, 8);
	ck_assert_int_eq(memcmp(&before, test_guest_gpa(g, g->live.vmalloc_gpa[0], 8), 8), 0);
	/* Find the PTE of the first vmalloc page by walking down to its table. */
	{
		uint64_t table = g->live.pgd_gpa, va = g->live.vmalloc_va;

		for (unsigned int shift = 39; shift >= 12; shift -= 9) {
			pte_gpa = table + ((va >> shift) & 511) * 8;
			memcpy(&pte, test_guest_gpa(g, pte_gpa, 8), 8);
			table = pte & 0x000ffffffffff000ULL;
		}
	}
	target = g->live.vmalloc_gpa[3];
	pte = (pte & ~0x000ffffffffff000ULL) | target;
	memcpy(test_guest_gpa(g, pte_gpa, 8), &pte, 8);
	bw_kernel_flush_translations(s.k);
	read_ok(s.k, g->live.vmalloc_va, &after, 8);
	ck_assert_int_eq(memcmp(&after, test_guest_gpa(g, target, 8), 8), 0);
	ck_assert_uint_ne(before, after);
	close_model(&s);
	test_guest_destroy(g);
}
END_TEST

/* ------------------------------------------------------------ rebooted guest */

static void stale_case(bool stale_first, int levels, enum test_guest_encoding enc)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;
	uint64_t j0;

	test_guest_opts_init(&o);
	o.stale = true;
	o.stale_first = stale_first;
	o.paging_levels = levels;
	o.encoding = enc;
	o.layout = TEST_GUEST_Q35;
	o.ram_size = 3 * GIB;
	g = make_guest(&o);
	ck_assert(g->has_stale);
	ck_assert_str_ne(g->live.release, g->stale.release);
	ck_assert_uint_ne(g->live.kaslr_offset, g->stale.kaslr_offset);
	ck_assert_uint_ne(g->live.page_offset_base, g->stale.page_offset_base);
	if (stale_first)
		ck_assert_uint_lt(g->stale.vmcoreinfo_gpa, g->live.vmcoreinfo_gpa);
	else
		ck_assert_uint_gt(g->stale.vmcoreinfo_gpa, g->live.vmcoreinfo_gpa);
	j0 = test_guest_jiffies(g, &g->live);
	ck_assert_int_eq(test_guest_ticker_start(g, 1000), 0);
	expect_model(g, NULL, &s);
	test_guest_ticker_stop(g);
	ck_assert_uint_gt(test_guest_jiffies(g, &g->live), j0);
	ck_assert_uint_eq(test_guest_jiffies(g, &g->stale), g->stale.jiffies);
	check_model(g, &g->live, &s, false);
	close_model(&s);
	test_guest_destroy(g);
}

START_TEST(test_stale_kernel_scanned_last) { stale_case(false, 4, TEST_GUEST_PLACE_RELATIVE); }
END_TEST

START_TEST(test_stale_kernel_scanned_first) { stale_case(true, 5, TEST_GUEST_BASE_RELATIVE); }
END_TEST

/* Neither kernel ticks (a paused guest): still a complete model, quickly. */
START_TEST(test_stale_kernel_paused_guest)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;

	test_guest_opts_init(&o);
	o.stale = true;
	g = make_guest(&o);
	expect_model(g, NULL, &s);
	ck_assert_msg(s.ms < 2000, "took %.0f ms", s.ms);
	check_model(g, strcmp(s.info.release, g->live.release) == 0 ? &g->live : &g->stale, &s,
		    false);
	close_model(&s);
	test_guest_destroy(g);
}
END_TEST

/* ------------------------------------------------------------ files */

struct tmpdir {
	char dir[64];
	char map[96];
	char btf[96];
};

static void tmpdir_make(struct tmpdir *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/bw-test-kernel-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->dir));
	snprintf(t->map, sizeof(t->map), "%s/System.map", t->dir);
	snprintf(t->btf, sizeof(t->btf), "%s/vmlinux.btf", t->dir);
}

static void tmpdir_remove(struct tmpdir *t)
{
	unlink(t->map);
	unlink(t->btf);
	rmdir(t->dir);
}

static void write_files(const struct test_guest *g, const struct test_guest_kernel *k,
			struct tmpdir *t)
{
	struct bw_error err = { 0 };

	ck_assert_msg(test_guest_write_system_map(k, t->map, &err) == 0, "%s", err.msg);
	ck_assert_msg(test_guest_write_btf(g, t->btf, &err) == 0, "%s", err.msg);
}

/* System.map's link-time addresses slid by VMCOREINFO's KERNELOFFSET. */
START_TEST(test_files_system_map)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;
	struct tmpdir t;
	struct bw_kernel_files files = { 0 };

	test_guest_opts_init(&o);
	/* kallsyms without data symbols: the files are what makes this kernel readable. */
	o.no_data_symbols = true;
	g = make_guest(&o);
	expect_error(g, NULL, -ENOENT, "CONFIG_KALLSYMS_ALL");
	tmpdir_make(&t);
	write_files(g, &g->live, &t);
	files.system_map = t.map;
	files.btf = t.btf;
	expect_model(g, &files, &s);
	check_model(g, &g->live, &s, true);
	check_fillers(&g->live, s.k, true);
	close_model(&s);
	test_guest_destroy(g);
	tmpdir_remove(&t);
}
END_TEST

/* No VMCOREINFO at all: no KASLR allowed, the release comes from init_uts_ns. */
START_TEST(test_files_without_vmcoreinfo)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;
	struct tmpdir t;
	struct bw_kernel_files files = { 0 };

	test_guest_opts_init(&o);
	o.no_vmcoreinfo = true;
	o.live.kaslr_offset = 0;
	o.live.phys_base = 0;
	g = make_guest(&o);
	ck_assert_uint_eq(g->live.text, TEST_GUEST_DEFAULT_TEXT);
	ck_assert_uint_eq(g->live.image_gpa, 16 * MIB);
	expect_error(g, NULL, -ENOENT, "no VMCOREINFO");
	tmpdir_make(&t);
	write_files(g, &g->live, &t);
	files.system_map = t.map;
	files.btf = t.btf;
	expect_model(g, &files, &s);
	check_model(g, &g->live, &s, true);
	ck_assert_uint_eq(s.info.vmcoreinfo_gpa, 0);
	close_model(&s);
	test_guest_destroy(g);
	tmpdir_remove(&t);
}
END_TEST

/* A System.map of another build (off by 2 MiB): linux_banner gives it away. */
START_TEST(test_files_wrong_system_map)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct tmpdir t;
	struct bw_kernel_files files = { 0 };
	struct test_guest_kernel other;

	test_guest_opts_init(&o);
	g = make_guest(&o);
	tmpdir_make(&t);
	other = g->live;
	other.kaslr_offset -= 2 * MIB;	/* the map's addresses come out 2 MiB too high */
	write_files(g, &other, &t);
	files.system_map = t.map;
	files.btf = t.btf;
	expect_error(g, &files, -EINVAL, "linux_banner");
	files.btf = NULL;
	expect_error(g, &files, -EINVAL, "--btf");
	test_guest_destroy(g);
	tmpdir_remove(&t);
}
END_TEST

/* Files on a rebooted guest: the symbols must be slid for the running kernel. */
START_TEST(test_files_stale_kernel)
{
	struct test_guest_opts o;
	struct test_guest *g;
	struct session s;
	struct tmpdir t;
	struct bw_kernel_files files = { 0 };

	test_guest_opts_init(&o);
	o.stale = true;
	g = make_guest(&o);
	tmpdir_make(&t);
	write_files(g, &g->live, &t);
	files.system_map = t.map;
	files.btf = t.btf;
	ck_assert_int_eq(test_guest_ticker_start(g, 1000), 0);
	expect_model(g, &files, &s);
	test_guest_ticker_stop(g);
	check_model(g, &g->live, &s, true);
	close_model(&s);
	test_guest_destroy(g);
	tmpdir_remove(&t);
}
END_TEST

/* ------------------------------------------------------------ garbage */

static struct test_guest *default_guest(void)
{
	struct test_guest_opts o;

	test_guest_opts_init(&o);
	o.ram_size = 256 * MIB;
	return make_guest(&o);
}

static void scribble(struct test_guest *g, uint64_t gpa, size_t len, uint64_t seed)
{
	test_fill_random(test_guest_gpa(g, gpa, len), len, seed);
}

/* Rewrite both VMCOREINFO copies of @k with @text. */
static void rewrite_vmcoreinfo(struct test_guest *g, const struct test_guest_kernel *k,
			       const char *text)
{
	size_t len = strlen(text);
	uint32_t descsz = (uint32_t)len;

	memset(test_guest_gpa(g, k->vmcoreinfo_gpa, PAGE), 0, PAGE);
	memcpy(test_guest_gpa(g, k->vmcoreinfo_gpa, len), text, len);
	memcpy(test_guest_gpa(g, k->vmcoreinfo_note_gpa + 4, 4), &descsz, 4);
	memset(test_guest_gpa(g, k->vmcoreinfo_note_gpa + 24, 2 * PAGE - 24), 0, 2 * PAGE - 24);
	memcpy(test_guest_gpa(g, k->vmcoreinfo_note_gpa + 24, len), text, len);
}

/* @k's VMCOREINFO (as it is now) with the line starting @key replaced by @line. */
static void replace_vmcoreinfo_line(struct test_guest *g, const struct test_guest_kernel *k,
				    const char *key, const char *line)
{
	char now[4097], text[4097];
	const char *at, *nl;

	memcpy(now, test_guest_gpa(g, k->vmcoreinfo_gpa, PAGE), PAGE);
	now[PAGE] = '\0';
	at = strstr(now, key);
	ck_assert_ptr_nonnull(at);
	nl = strchr(at, '\n');
	ck_assert_ptr_nonnull(nl);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - now), now, line, nl);
	rewrite_vmcoreinfo(g, k, text);
}

static uint64_t gpa_of(const struct test_guest_kernel *k, uint64_t va)
{
	uint64_t gpa = 0;

	ck_assert_int_eq(test_guest_va_to_gpa(k, va, &gpa), 0);
	return gpa;
}

START_TEST(test_empty_ram)
{
	struct test_guest_opts o;
	struct test_guest *g;

	/* Never-touched RAM (all holes), then RAM written with zeros. */
	test_guest_opts_init(&o);
	o.ram_size = 64 * MIB;
	o.no_vmcoreinfo = true;
	g = make_guest(&o);
	ck_assert_int_eq(ftruncate(g->fd, 0), 0);
	ck_assert_int_eq(ftruncate(g->fd, (off_t)g->ram_size), 0);
	expect_error(g, NULL, -ENOENT, "VMCOREINFO");
	memset(g->map, 0, g->ram_size);
	expect_error(g, NULL, -ENOENT, "VMCOREINFO");
	test_guest_destroy(g);
}
END_TEST

START_TEST(test_no_vmcoreinfo_kallsyms)
{
	struct test_guest_opts o;
	struct test_guest *g;

	test_guest_opts_init(&o);
	o.ram_size = 256 * MIB;
	o.no_vmcoreinfo_kallsyms = true;
	g = make_guest(&o);
	expect_error(g, NULL, -ENOENT, "older than 6.0");
	test_guest_destroy(g);
}
END_TEST

START_TEST(test_garbage_kallsyms)
{
	struct test_guest *g = default_guest();
	const struct test_guest_kernel *t = &g->live;
	uint64_t names = gpa_of(t, t->kallsyms.names);
	uint32_t n;

	/* Random names: records fail to decode. */
	scribble(g, names, 64 * 1024, 1);
	expect_error(g, NULL, 0, "kallsyms");
	test_guest_destroy(g);

	/* Random token table and index. */
	g = default_guest();
	t = &g->live;
	scribble(g, gpa_of(t, t->kallsyms.token_table), 1024, 2);
	scribble(g, gpa_of(t, t->kallsyms.token_index), 512, 3);
	expect_error(g, NULL, 0, "kallsyms");

	/* Absurd symbol counts, huge and zero. */
	for (int i = 0; i < 3; i++) {
		n = i == 0 ? UINT32_MAX : i == 1 ? 0 : 999999;
		memcpy(test_guest_gpa(g, gpa_of(t, t->kallsyms.num_syms), 4), &n, 4);
		expect_error(g, NULL, 0, "kallsyms");
	}
	test_guest_destroy(g);

	/* Random offsets: no encoding reproduces SYMBOL(_stext). */
	g = default_guest();
	t = &g->live;
	scribble(g, gpa_of(t, t->kallsyms.offsets), 4 * t->kallsyms_count, 4);
	expect_error(g, NULL, -ENOENT, "_stext");
	test_guest_destroy(g);
}
END_TEST

START_TEST(test_without_kallsyms_all)
{
	struct test_guest_opts o;
	struct test_guest *g;

	test_guest_opts_init(&o);
	o.ram_size = 256 * MIB;
	o.no_data_symbols = true;
	o.encoding = TEST_GUEST_BASE_RELATIVE;
	g = make_guest(&o);
	expect_error(g, NULL, -ENOENT, "CONFIG_KALLSYMS_ALL");
	test_guest_destroy(g);
}
END_TEST

/* Every PGD entry points back at the PGD: the walk is bounded, the result the hardware's. */
START_TEST(test_self_referencing_page_tables)
{
	struct test_guest *g = default_guest();
	const struct test_guest_kernel *t = &g->live;
	uint64_t *pgd = test_guest_gpa(g, t->pgd_gpa, PAGE);
	uint8_t buf[2 * PAGE];
	struct bw_error err = { 0 };
	struct session s;
	double start;
	int r;

	for (int i = 0; i < 512; i++)
		pgd[i] = t->pgd_gpa | 0x63;
	expect_model(g, NULL, &s);	/* discovery reads the image by the text-mapping rule */
	check_fillers(t, s.k, true);
	start = now_ms();
	r = bw_kernel_read(s.k, t->vmalloc_va, buf, sizeof(buf), &err);
	ck_assert_msg(now_ms() - start < BOUNDED_MS, "walk took too long");
	/* PML4 -> itself as PDPT -> as PD -> as PT -> the PGD page itself. */
	ck_assert_msg(r == 0, "%s", err.msg);
	ck_assert_int_eq(memcmp(buf, pgd, PAGE), 0);
	ck_assert_int_eq(memcmp(buf + PAGE, pgd, PAGE), 0);

	/* The same loop with PS set: reserved at the top level, an error. */
	for (int i = 0; i < 512; i++)
		pgd[i] = t->pgd_gpa | 0xe3;
	bw_kernel_flush_translations(s.k);
	ck_assert_int_eq(bw_kernel_read(s.k, t->vmalloc_va, buf, 8, &err), -EFAULT);
	/* Entries pointing outside RAM. */
	for (int i = 0; i < 512; i++)
		pgd[i] = 0x000ffffffffff000ULL | 0x63;
	bw_kernel_flush_translations(s.k);
	ck_assert_int_eq(bw_kernel_read(s.k, t->vmalloc_va, buf, 8, &err), -EFAULT);
	close_model(&s);
	test_guest_destroy(g);
}
END_TEST

START_TEST(test_absurd_nr_cpu_ids)
{
	static const uint32_t bad[] = { 0, 8193, 0x7fffffff, UINT32_MAX };
	struct test_guest *g = default_guest();
	uint64_t va = test_guest_sym(&g->live, "nr_cpu_ids");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_guest_write_va(g, &g->live, va, &bad[i], 4);
		expect_error(g, NULL, -EINVAL, "nr_cpu_ids");
	}
	test_guest_destroy(g);
}
END_TEST

START_TEST(test_btf_range_reversed)
{
	struct test_guest_opts o;
	struct test_guest *g;

	test_guest_opts_init(&o);
	o.ram_size = 256 * MIB;
	o.overrides[0].name = "__stop_BTF";
	o.overrides[0].addr = 0xffffffff96400000ULL + 0x100;	/* below __start_BTF */
	g = make_guest(&o);
	ck_assert_uint_lt(test_guest_sym(&g->live, "__stop_BTF"),
			  test_guest_sym(&g->live, "__start_BTF"));
	expect_error(g, NULL, -EINVAL, "BTF range");
	test_guest_destroy(g);

	/* An absurdly large range. */
	test_guest_opts_init(&o);
	o.ram_size = 256 * MIB;
	o.overrides[0].name = "__stop_BTF";
	o.overrides[0].addr = 0xffffffff96400000ULL + (900ULL << 20);
	g = make_guest(&o);
	expect_error(g, NULL, -EINVAL, "BTF range");
	test_guest_destroy(g);
}
END_TEST

START_TEST(test_btf_garbage)
{
	struct test_guest *g = default_guest();
	const struct test_guest_kernel *t = &g->live;

	scribble(g, gpa_of(t, t->btf_start), t->btf_size, 5);
	expect_error(g, NULL, 0, "BTF");
	test_guest_destroy(g);
}
END_TEST

/*
 * The guest kernel's BTF with each header field wrong in turn, hdr_len
 * not a multiple of 4 among them (what libbpf 1.1 accepts and then hands
 * out misaligned types for): refused before libbpf parses it, naming the
 * field, in a SANITIZE=1 build without a sanitizer report.
 */
START_TEST(test_btf_header_fields)
{
	static const struct {
		size_t off, width;
		uint32_t value;
		const char *needle;
	} bad[] = {
		{ 0, 2, 0x9feb, "magic" }, { 2, 1, 2, "version 2" }, { 3, 1, 0x80, "flags 0x80" },
		{ 4, 4, 25, "hdr_len 25" }, { 4, 4, 26, "hdr_len 26" }, { 4, 4, 27, "hdr_len 27" },
		{ 4, 4, 20, "hdr_len 20" }, { 4, 4, 0x7fffffff, "hdr_len" },
		{ 8, 4, 2, "type section at 2" }, { 8, 4, 0xfffffff0, "type section" },
		{ 12, 4, 6, "not 4-aligned" }, { 12, 4, 0xfffffff0, "type section" },
		{ 16, 4, 0xfffffff0, "string section" }, { 20, 4, 0, "string section" },
		{ 20, 4, 0xfffffff0, "string section" },
	};
	struct test_guest *g = default_guest();
	const struct test_guest_kernel *t = &g->live;
	uint8_t *hdr = test_guest_gpa(g, gpa_of(t, t->btf_start), 24), saved[24];

	memcpy(saved, hdr, sizeof(saved));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(hdr + bad[i].off, &bad[i].value, bad[i].width);
		expect_error(g, NULL, 0, bad[i].needle);
		memcpy(hdr, saved, sizeof(saved));
	}
	/* Restored, the same guest opens. */
	{
		struct session s;

		expect_model(g, NULL, &s);
		close_model(&s);
	}
	test_guest_destroy(g);
}
END_TEST

START_TEST(test_page_offset_base_garbage)
{
	static const uint64_t bad[] = { 0, 0xffff9a0000001000ULL, 0x00007f0000000000ULL };
	struct test_guest *g = default_guest();
	uint64_t va = test_guest_sym(&g->live, "page_offset_base");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_guest_write_va(g, &g->live, va, &bad[i], 8);
		expect_error(g, NULL, -EINVAL, "page_offset_base");
	}
	test_guest_destroy(g);
}
END_TEST

/* VMCOREINFO that lies: phys_base or init_top_pgt pointing elsewhere. */
START_TEST(test_vmcoreinfo_lies)
{
	struct test_guest *g = default_guest();
	char line[128];

	snprintf(line, sizeof(line), "NUMBER(phys_base)=%" PRId64,
		 (int64_t)(g->live.phys_base + 2 * MIB));
	replace_vmcoreinfo_line(g, &g->live, "NUMBER(phys_base)=", line);
	expect_error(g, NULL, 0, NULL);
	test_guest_destroy(g);

	g = default_guest();
	replace_vmcoreinfo_line(g, &g->live, "NUMBER(phys_base)=", "NUMBER(phys_base)=-9223372036854775808");
	expect_error(g, NULL, 0, NULL);
	test_guest_destroy(g);

	g = default_guest();
	replace_vmcoreinfo_line(g, &g->live, "SYMBOL(init_top_pgt)=", "SYMBOL(init_top_pgt)=1000");
	replace_vmcoreinfo_line(g, &g->live, "SYMBOL(swapper_pg_dir)=", "SYMBOL(swapper_pg_dir)=1000");
	expect_error(g, NULL, -ERANGE, "init_top_pgt");
	test_guest_destroy(g);

	g = default_guest();
	replace_vmcoreinfo_line(g, &g->live, "SYMBOL(kallsyms_names)=",
				"SYMBOL(kallsyms_names)=fffffffffffffff0");
	expect_error(g, NULL, 0, "kallsyms");
	test_guest_destroy(g);
}
END_TEST

/* Only the VMCOREINFO pages survive: everything they point at is random. */
START_TEST(test_random_ram_but_vmcoreinfo)
{
	for (uint64_t seed = 1; seed <= 4; seed++) {
		struct test_guest *g = default_guest();
		struct bw_error err = { 0 };

		ck_assert_msg(test_guest_scramble(g, seed, &err) == 0, "%s", err.msg);
		expect_error(g, NULL, 0, NULL);
		test_guest_destroy(g);
	}
}
END_TEST

/* RAM that ends inside the kernel image. */
START_TEST(test_truncated_ram)
{
	struct test_guest_opts o;
	struct test_guest *g;

	test_guest_opts_init(&o);
	o.ram_size = 256 * MIB;
	o.live.heap_gpa = 32 * MIB;
	o.live.phys_base = 64 * MIB - (0xffffffff96400000ULL - TEST_GUEST_START_KERNEL_MAP);
	g = make_guest(&o);
	ck_assert_uint_eq(g->live.image_gpa, 64 * MIB);
	/* Cut RAM inside .data: kallsyms decodes, page_offset_base is gone. */
	ck_assert_int_eq(ftruncate(g->fd, (off_t)(gpa_of(&g->live, test_guest_sym(&g->live,
										    "_sdata")))), 0);
	expect_error(g, NULL, -EFAULT, "page_offset_base");
	/* Cut inside kallsyms_names. */
	ck_assert_int_eq(ftruncate(g->fd, (off_t)(gpa_of(&g->live, g->live.kallsyms.names) + 5000)),
			 0);
	expect_error(g, NULL, 0, "kallsyms");
	test_guest_destroy(g);
}
END_TEST

static Suite *kernel_suite(void)
{
	Suite *s = suite_create("kernel");
	TCase *discover = tcase_create("discover");
	TCase *reboot = tcase_create("reboot");
	TCase *files = tcase_create("files");
	TCase *garbage = tcase_create("garbage");

	tcase_set_timeout(discover, 120);
	tcase_add_test(discover, test_default_guest);
	tcase_add_test(discover, test_matrix);
	tcase_add_test(discover, test_q35_split);
	tcase_add_test(discover, test_scale);
	tcase_add_test(discover, test_dense);
	tcase_add_test(discover, test_vmalloc_far);
	tcase_add_test(discover, test_guest_page_tables);
	tcase_add_test(discover, test_flush_translations);
	suite_add_tcase(s, discover);

	tcase_set_timeout(reboot, 60);
	tcase_add_test(reboot, test_stale_kernel_scanned_last);
	tcase_add_test(reboot, test_stale_kernel_scanned_first);
	tcase_add_test(reboot, test_stale_kernel_paused_guest);
	suite_add_tcase(s, reboot);

	tcase_set_timeout(files, 60);
	tcase_add_test(files, test_files_system_map);
	tcase_add_test(files, test_files_without_vmcoreinfo);
	tcase_add_test(files, test_files_wrong_system_map);
	tcase_add_test(files, test_files_stale_kernel);
	suite_add_tcase(s, files);

	tcase_set_timeout(garbage, 120);
	tcase_add_test(garbage, test_empty_ram);
	tcase_add_test(garbage, test_no_vmcoreinfo_kallsyms);
	tcase_add_test(garbage, test_garbage_kallsyms);
	tcase_add_test(garbage, test_without_kallsyms_all);
	tcase_add_test(garbage, test_self_referencing_page_tables);
	tcase_add_test(garbage, test_absurd_nr_cpu_ids);
	tcase_add_test(garbage, test_btf_range_reversed);
	tcase_add_test(garbage, test_btf_garbage);
	tcase_add_test(garbage, test_btf_header_fields);
	tcase_add_test(garbage, test_page_offset_base_garbage);
	tcase_add_test(garbage, test_vmcoreinfo_lies);
	tcase_add_test(garbage, test_random_ram_but_vmcoreinfo);
	tcase_add_test(garbage, test_truncated_ram);
	suite_add_tcase(s, garbage);
	return s;
}

BW_TEST_MAIN(kernel_suite)
