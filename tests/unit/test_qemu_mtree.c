/* SPDX-License-Identifier: MIT */
/*
 * QEMU's memory map from "info mtree -f" text: the texts QEMU 7.2 prints
 * for a q35 guest with two NUMA memdevs and a pc guest with 4 GiB of its
 * own RAM, the layouts they give over backends found by size, and garbage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "qemu_mtree.h"
#include "util_mem.h"

#define GIB (1ULL << 30)

/* q35 -m 6G, memory-backend-memfd m0 and m1 of 3G each, one NUMA node each. */
static const char q35_numa[] =
	"FlatView #0\n"
	" AS \"cpu-smm-1\", root: memory\n"
	" Root memory region: memory\n"
	"  0000000000000000-00000000000bffff (prio 0, ram): m0\n"
	"  0000000000100000-000000007fffffff (prio 0, ram): smram-bogus @0000000000100000\n"
	"\n"
	"FlatView #1\n"
	" AS \"mch\", root: bus master container\n"
	" Root memory region: (none)\n"
	"  No rendered FlatView\n"
	"\n"
	"FlatView #3\n"
	" AS \"memory\", root: system\n"
	" AS \"cpu-memory-0\", root: system\n"
	" Root memory region: system\n"
	"  0000000000000000-00000000000bffff (prio 0, ram): m0\n"
	"  00000000000c0000-00000000000dffff (prio 1, rom): pc.rom\n"
	"  00000000000e0000-00000000000fffff (prio 0, rom): pc.bios @0000000000020000\n"
	"  0000000000100000-000000007fffffff (prio 0, ram): m0 @0000000000100000\n"
	"  00000000fd000000-00000000fdffffff (prio 1, ram): vga.vram\n"
	"  00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic\n"
	"  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"
	"  0000000100000000-000000013fffffff (prio 0, ram): m0 @0000000080000000\n"
	"  0000000140000000-00000001ffffffff (prio 0, ram): m1 KVM\n"
	"\n"
	"FlatView #4\n"
	" AS \"cpu-smm-0\", root: memory\n"
	"  0000000000000000-00000000000bffff (prio 0, ram): m0\n";

static const char pc_4g[] =
	"FlatView #0\n"
	" AS \"memory\", root: system\n"
	" Root memory region: system\n"
	"  0000000000000000-00000000000bffff (prio 0, ram): pc.ram\n"
	"  00000000000c0000-00000000000dffff (prio 1, rom): pc.rom\n"
	"  0000000000100000-00000000bfffffff (prio 0, ram): pc.ram @0000000000100000\n"
	"  0000000100000000-000000013fffffff (prio 0, ram): pc.ram @00000000c0000000\n";

static void parse_ok(const char *text, struct bw_mtree *m)
{
	struct bw_error err;

	ck_assert_msg(bw_mtree_parse(text, strlen(text), m, &err) == 0, "%s", err.msg);
}

START_TEST(test_parse_q35_numa)
{
	struct bw_mtree m;

	parse_ok(q35_numa, &m);
	/* Only the view of "memory", only RAM, video RAM included (left out later). */
	ck_assert_uint_eq(m.n, 5);
	ck_assert_str_eq(m.p[0].name, "m0");
	ck_assert_uint_eq(m.p[0].gpa, 0);
	ck_assert_uint_eq(m.p[0].size, 0xc0000);
	ck_assert_uint_eq(m.p[1].offset, 0x100000);
	ck_assert_uint_eq(m.p[1].size, 0x80000000 - 0x100000);
	ck_assert_str_eq(m.p[2].name, "vga.vram");
	ck_assert_uint_eq(m.p[3].gpa, 4 * GIB);
	ck_assert_uint_eq(m.p[3].offset, 2 * GIB);
	ck_assert_str_eq(m.p[4].name, "m1");
	ck_assert_uint_eq(m.p[4].gpa, 5 * GIB);
	ck_assert_uint_eq(m.p[4].size, 3 * GIB);
}
END_TEST

START_TEST(test_layout_q35_numa)
{
	struct bw_mtree m;
	struct bw_qemu_memdevs md = { .n = 2, .id = { "m1", "m0" }, .size = { 3 * GIB, 3 * GIB } };
	uint64_t sizes[2] = { 3 * GIB, 3 * GIB };
	char names[2][BW_MEMDEV_NAME_MAX];
	struct bw_layout_spec spec;
	struct bw_layout layout;
	struct bw_error err;

	parse_ok(q35_numa, &m);
	ck_assert_msg(bw_mtree_layout(&m, &md, sizes, 2, &spec, names, &err) == 0, "%s", err.msg);
	/* The order the map names them, not query-memdev's. */
	ck_assert_str_eq(names[0], "m0");
	ck_assert_str_eq(names[1], "m1");
	ck_assert_int_eq(spec.kind, BW_LAYOUT_EXPLICIT);
	ck_assert_uint_eq(spec.nregions, 4);	/* vga.vram left out */
	ck_assert_uint_eq(spec.regions[2].gpa, 4 * GIB);
	ck_assert_uint_eq(spec.regions[2].offset, 2 * GIB);
	ck_assert_uint_eq(spec.regions[3].gpa, 5 * GIB);
	ck_assert_uint_eq(spec.regions[3].offset, 3 * GIB);
	ck_assert_msg(bw_layout_apply(&spec, 6 * GIB, &layout, &err) == 0, "%s", err.msg);

	/* A backend of a size QEMU does not have. */
	sizes[1] = 2 * GIB;
	ck_assert_int_eq(bw_mtree_layout(&m, &md, sizes, 2, &spec, NULL, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "RAM backend 2"));
	/* Fewer backends than QEMU has. */
	ck_assert_int_eq(bw_mtree_layout(&m, &md, sizes, 1, &spec, NULL, &err), -EINVAL);
}
END_TEST

/* The monitor's own line ends. */
START_TEST(test_parse_crlf)
{
	static const char text[] =
		"FlatView #0\r\n AS \"memory\", root: system\r\n"
		"  0000000000000000-00000000000bffff (prio 0, ram): m0\r\n"
		"  0000000100000000-000000013fffffff (prio 0, ram): m1 @0000000000001000 \r\n";
	struct bw_mtree m;

	parse_ok(text, &m);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_str_eq(m.p[0].name, "m0");
	ck_assert_str_eq(m.p[1].name, "m1");
	ck_assert_uint_eq(m.p[1].offset, 0x1000);
}
END_TEST

START_TEST(test_layout_pc_4g)
{
	struct bw_mtree m;
	struct bw_qemu_memdevs md = { .n = 1, .id = { "pc.ram" }, .size = { 4 * GIB } };
	uint64_t size = 4 * GIB;
	struct bw_layout_spec spec;
	struct bw_error err;

	parse_ok(pc_4g, &m);
	ck_assert_msg(bw_mtree_layout(&m, &md, &size, 1, &spec, NULL, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(spec.nregions, 3);
	ck_assert_uint_eq(spec.regions[1].gpa, 0x100000);
	ck_assert_uint_eq(spec.regions[1].offset, 0x100000);
	ck_assert_uint_eq(spec.regions[2].gpa, 4 * GIB);
	ck_assert_uint_eq(spec.regions[2].offset, 3 * GIB);	/* pc: 3 GiB below 4G */
	ck_assert_uint_eq(spec.regions[2].size, GIB);

	/* A piece that lies outside its backend. */
	m.p[2].offset = 4 * GIB;
	ck_assert_int_eq(bw_mtree_layout(&m, &md, &size, 1, &spec, NULL, &err), -ERANGE);
}
END_TEST

START_TEST(test_parse_garbage)
{
	static const struct { const char *text; int code; const char *says; } cases[] = {
		{ "", -ENOENT, "no flat view" },
		{ "garbage\n\x01\x02\n", -ENOENT, "no flat view" },
		{ "FlatView #0\n AS \"io\", root: io\n  0-f (prio 0, ram): x\n", -ENOENT,
		  "no flat view" },
		{ "FlatView #0\n AS \"memory\", root: system\n", -ENOENT, "no RAM" },
		{ "FlatView #0\n AS \"memory\", root: system\n"
		  "  0000000000000000-00000000000bffff (prio 0, ram): \n", -EINVAL, "does not parse" },
		{ "FlatView #0\n AS \"memory\", root: system\n"
		  "  00000000000bffff-0000000000000000 (prio 0, ram): m0\n", -EINVAL, "does not parse" },
		{ "FlatView #0\n AS \"memory\", root: system\n"
		  "  0000000000000000-00000000000bffff (prio 0, ram): m0 @zz\n", -EINVAL,
		  "does not parse" },
		{ "FlatView #0\n AS \"memory\", root: system\n"
		  "  0000000000000000-ffffffffffffffff (prio 0, ram): m0\n", -EINVAL, "does not parse" },
		{ "FlatView #0\n AS \"memory\", root: system\n"
		  "  00000000000000000-00000000000bffff (prio 0, ram): m0\n", -ENOENT, "no RAM" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bw_mtree m;
		struct bw_error err;

		bw_error_clear(&err);
		ck_assert_msg(bw_mtree_parse(cases[i].text, strlen(cases[i].text), &m, &err) ==
			      cases[i].code, "case %zu: %s", i, err.msg);
		ck_assert_msg(strstr(err.msg, cases[i].says), "case %zu: \"%s\"", i, err.msg);
	}
}
END_TEST

/* More RAM pieces than fit, and random bytes: an error or a bounded result, never a crash. */
START_TEST(test_parse_bounds)
{
	static char text[1 << 16];
	size_t len = (size_t)snprintf(text, sizeof(text), "FlatView #0\n AS \"memory\", root: system\n");
	struct bw_mtree m;
	struct bw_error err;

	for (unsigned int i = 0; i <= BW_MTREE_MAX_PIECES; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"  %016x-%016x (prio 0, ram): m0 @%016x\n", i << 20,
					(i << 20) + 0xfff, i << 20);
	ck_assert_int_eq(bw_mtree_parse(text, len, &m, &err), -E2BIG);
	for (uint64_t seed = 1; seed <= 64; seed++) {
		test_fill_random(text, sizeof(text), seed);
		memcpy(text, "FlatView #0\n AS \"memory\",", 25);
		if (bw_mtree_parse(text, sizeof(text), &m, &err) == 0)
			ck_assert_uint_le(m.n, BW_MTREE_MAX_PIECES);
	}
}
END_TEST

static Suite *qemu_mtree_suite(void)
{
	Suite *s = suite_create("qemu_mtree");
	TCase *tc = tcase_create("mtree");

	tcase_add_test(tc, test_parse_q35_numa);
	tcase_add_test(tc, test_layout_q35_numa);
	tcase_add_test(tc, test_parse_crlf);
	tcase_add_test(tc, test_layout_pc_4g);
	tcase_add_test(tc, test_parse_garbage);
	tcase_add_test(tc, test_parse_bounds);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(qemu_mtree_suite)
