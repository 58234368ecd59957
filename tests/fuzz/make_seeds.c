/* SPDX-License-Identifier: MIT */
/*
 * Seeds for the fuzz targets, made by the unit tests' own builders: the
 * synthetic kernel BTF of util_guest, an IDR written by util_btf's xarray
 * writer, page tables, a split object BTF over the fuzz base BTF, and the
 * shipped config and watch files.  Usage: make_seeds OUTDIR (one
 * directory per target is made under it).  The builders report through
 * check, so the work runs as one check test.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <bpf/btf.h>

#include "fuzz_btf_base.h"
#include "fuzz_common.h"
#include "util_btf.h"
#include "util_guest.h"
#include "util_mem.h"

static const char *outdir;

static void put(const char *target, const char *name, const void *head, size_t hlen,
		const void *body, size_t blen)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	if (hlen)
		ck_assert_uint_eq(fwrite(head, 1, hlen, f), hlen);
	if (blen)
		ck_assert_uint_eq(fwrite(body, 1, blen, f), blen);
	ck_assert_int_eq(fclose(f), 0);
}

static void put_text(const char *target, const char *name, uint8_t mode, const char *text)
{
	put(target, name, &mode, mode == 0xff ? 0 : 1, text, strlen(text));
}

/* One seed per text, named PREFIX0, PREFIX1, ... */
static void put_texts(const char *target, const char *prefix, const char *const *texts, size_t n)
{
	char name[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%zu", prefix, i);
		put_text(target, name, 0xff, texts[i]);
	}
}

static void put_file(const char *target, const char *name, uint8_t mode, const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "rb");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(getdelim(&text, &len, '\0', f) > 0, 1);
	fclose(f);
	put_text(target, name, mode, text);
	free(text);
}

static void seed_btf(void)
{
	struct tk_layout lay;
	struct test_btf_xa xa;
	struct btf *base, *split;
	const void *raw;
	uint32_t size;
	uint8_t mode;
	void *data;
	size_t len;
	int u32, s, var, sec;

	test_guest_sched_btf(&data, &len, &lay, &xa);
	mode = 0;
	put("fuzz_btf", "kernel", &mode, 1, data, len);
	free(data);

	base = fuzz_btf_base();
	split = btf__new_empty_split(base);
	ck_assert_ptr_nonnull(split);
	u32 = 7;	/* "u32" of the base */
	s = btf__add_struct(split, "stats", 16);
	btf__add_field(split, "cnt", u32, 0, 0);
	btf__add_field(split, "nr_queued", btf__add_array(split, 1, u32, 2), 32, 0);
	var = btf__add_var(split, "state", BTF_VAR_GLOBAL_ALLOCATED, s);
	sec = btf__add_datasec(split, ".bss", 16);
	ck_assert_int_gt(sec, 0);
	btf__add_datasec_var_info(split, var, 0, 16);
	raw = btf__raw_data(split, &size);
	mode = 1;
	put("fuzz_btf", "object", &mode, 1, raw, size);
	btf__free(split);
	btf__free(base);
}

static void seed_xarray(void)
{
	struct {
		uint8_t shift_choice, idr, pad[6];
		uint64_t root;
	} h = { .shift_choice = 0, .idr = 1, .root = FUZZ_BASE };
	const size_t nodes = 16;
	struct test_btf_xa lay;
	struct btf *btf = test_btf_new_xarray(6, &lay);
	struct test_mem *mem = test_mem_new();
	struct test_xa xa;
	size_t size = 0x100 + nodes * lay.node_size;
	uint8_t *bytes = test_mem_add(mem, FUZZ_BASE, size);

	test_idr_init(&xa, mem, &lay, FUZZ_BASE, 1, 300, FUZZ_BASE + 0x100, nodes);
	for (uint64_t id = 1; id < 300; id += 7)
		test_idr_store(&xa, id, FUZZ_BASE + 0x40 + (id % 8) * 8);
	put("fuzz_xarray", "idr", &h, sizeof(h), bytes, size);
	test_mem_free(mem);
	btf__free(btf);
}

/* Four levels mapping a 4K, a 2M and a 1G page; tables at 0x1000.. of "physical" memory. */
static void seed_pagetable(void)
{
	struct {
		uint64_t root;
		uint8_t levels, pad[7];
		uint64_t sme_mask;
		uint64_t va[8];
	} h = { .root = 0x1000, .levels = 0, .va = { 0xffffffff81000000ULL, 0xffffffff81200123ULL,
						     0xffff888000001000ULL, 0x1000, 0 } };
	static uint64_t phys[0x6000 / 8];
	const uint64_t p = 1, rw = 2, ps = 0x80;

	memset(phys, 0, sizeof(phys));
	phys[0x1000 / 8 + 511] = 0x2000 | p | rw;		/* PML4[511] -> PDPT */
	phys[0x1000 / 8 + 273] = 0x5000 | p | rw;		/* PML4[273] -> PDPT (direct map) */
	phys[0x2000 / 8 + 510] = 0x3000 | p | rw;		/* PDPT[510] -> PD */
	phys[0x3000 / 8 + 8] = 0x4000 | p | rw;			/* PD[8] -> PT */
	phys[0x3000 / 8 + 9] = 0x200000 | p | rw | ps;		/* PD[9]: a 2M page */
	phys[0x4000 / 8 + 0] = 0x1000000 | p | rw;		/* PT[0]: a 4K page */
	phys[0x5000 / 8 + 0] = 0x0 | p | rw | ps;		/* PDPT[0]: a 1G page */
	put("fuzz_pagetable", "4level", &h, sizeof(h), phys, sizeof(phys));
	h.levels = 1;
	put("fuzz_pagetable", "5level", &h, sizeof(h), phys, sizeof(phys));
}

static void seed_text(void)
{
	static const char *const paths[] = {
		"state.gauge", "state.in[2].b", "state.lo", "gauge", "in[3].flags", "tail[15]",
		"state.in[1].mode", "wide", "state.in[0].a",
	};
	static const char *const exprs[] = {
		"x > 1", "a<=-5", "c == 18446744073709551615", "b != 0.5", "e>=1e3", "x==0x10",
	};
	static const char *const requests[] = {
		"{\"cmd\":\"status\"}\n",
		"{\"cmd\":\"reset\"}\n{\"cmd\":\"reload\"}\n",
		"{\"req\":\"stats\"}\n{\"req\":\"stats_meta\"}\n",
		"{\"cmd\":\"subscribe\"}\n{\"cmd\":\"status\",\"x\":[[[[1]]]]}\n",
		"{\"cmd\":1}\n{}\n[]\n\n  \r\n{\"cmd\":\"status\"",
	};
	static const char *const scx[] = {
		"{\"req\":\"stats\"}", "{\"req\":\"stats_meta\"}",
		"{\"req\":\"stats\",\"args\":{\"target\":\"top\"}}", "{\"req\":\"nope\",\"args\":1}",
	};
	static const char *const replies[] = {
		"{\"ok\":true,\"state\":\"sampling\",\"reason\":null,\"instance\":\"vm1\","
		"\"kernel\":{\"release\":\"7.3.4\",\"nr_cpus\":2},\"scheduler\":{\"ops_name\":\"x\"},"
		"\"ticks\":5,\"interval_ms\":100,\"tick_ns\":{\"last\":1,\"mean\":2,\"max\":3},"
		"\"watches\":[{\"label\":\"a\",\"state\":\"resolved\",\"keys\":[\"x_a\"]}],"
		"\"clients\":{\"connected\":1,\"subscribers\":0,\"dropped_subscribers\":0}}",
		"{\"ok\":true,\"window\":{\"duration_ns\":5,\"ticks\":2},\"metrics\":{\"x_a\":1,"
		"\"x_b\":\"18446744073709551615\",\"x_c\":0.5}}",
		"{\"ok\":true,\"tick\":3,\"time_ns\":1,\"values\":{\"a\":{\"value\":1},"
		"\"b\":{\"cpus\":{\"0\":1,\"1\":2}},\"c\":{\"error\":\"gone\\u001b[2J\"}}}",
		"{\"ok\":true,\"maps\":[{\"id\":1,\"name\":\"bss\",\"type\":\"array\",\"active\":true}]}",
		"{\"ok\":true,\"watches\":[{\"label\":\"a\",\"map\":\".bss\",\"field\":\"x\"}]}",
	};
	put_texts("fuzz_field_path", "path", paths, sizeof(paths) / sizeof(paths[0]));
	put_texts("fuzz_ctl_expr", "expr", exprs, sizeof(exprs) / sizeof(exprs[0]));
	put_texts("fuzz_request", "request", requests, sizeof(requests) / sizeof(requests[0]));
	put_texts("fuzz_scx_stats", "scx", scx, sizeof(scx) / sizeof(scx[0]));
	put_texts("fuzz_ctl_render", "reply", replies, sizeof(replies) / sizeof(replies[0]));
	put_file("fuzz_ini", "config", 0, "conf/bpfwatch.conf.example");
	put_file("fuzz_ini", "watch-lavd", 1, "conf/watch.d/scx_lavd.watch");
	put_file("fuzz_ini", "watch-demo", 1, "conf/demo.watch.d/bw_demo.watch");
	put_file("fuzz_vmcoreinfo", "debian", 0, "tests/data/vmcoreinfo-debian-7.3.4-cloud-amd64.txt");
	put_file("fuzz_vmcoreinfo", "page", 1, "tests/data/vmcoreinfo-debian-7.3.4-cloud-amd64.txt");
}

START_TEST(make_all)
{
	seed_btf();
	seed_xarray();
	seed_pagetable();
	seed_text();
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("seeds");
	TCase *tc = tcase_create("make");
	SRunner *r;
	int failed;

	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0755);
	tcase_add_test(tc, make_all);
	suite_add_tcase(s, tc);
	r = srunner_create(s);
	srunner_set_fork_status(r, CK_NOFORK);
	srunner_run_all(r, CK_SILENT);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? 1 : 0;
}
