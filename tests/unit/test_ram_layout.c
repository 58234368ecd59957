/* SPDX-License-Identifier: MIT */
/*
 * Where guest-physical addresses sit in the RAM file: QEMU's q35 and pc
 * split rules (hw/i386/pc_q35.c, hw/i386/pc_piix.c) at and around their
 * thresholds, max-ram-below-4g, explicit region lists and bad specs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ram_layout.h"
#include "util_mem.h"

#define MIB (UINT64_C(1) << 20)
#define GIB BW_GIB

static void layout_of(const char *text, uint64_t file_size, struct bw_layout *layout)
{
	struct bw_layout_spec spec;
	struct bw_error err;

	bw_error_clear(&err);
	ck_assert_msg(bw_layout_parse(text, &spec, &err) == 0, "%s: %s", text, err.msg);
	ck_assert_msg(bw_layout_apply(&spec, file_size, layout, &err) == 0, "%s: %s", text, err.msg);
}

/* @below bytes at GPA 0 and, when @above, the rest at 4 GiB right after them in the file. */
static void expect_split(const char *text, uint64_t ram, uint64_t below, uint64_t above)
{
	struct bw_layout l;

	layout_of(text, ram, &l);
	ck_assert_uint_eq(below + above, ram);
	ck_assert_msg(l.nregions == (above ? 2u : 1u), "%s, %" PRIu64 " MiB: %u regions", text,
		      ram / MIB, l.nregions);
	ck_assert_uint_eq(l.regions[0].gpa, 0);
	ck_assert_msg(l.regions[0].size == below, "%s, %" PRIu64 " MiB: %" PRIu64 " MiB below 4G, "
		      "want %" PRIu64, text, ram / MIB, l.regions[0].size / MIB, below / MIB);
	ck_assert_uint_eq(l.regions[0].offset, 0);
	if (above) {
		ck_assert_uint_eq(l.regions[1].gpa, 4 * GIB);
		ck_assert_uint_eq(l.regions[1].size, above);
		ck_assert_uint_eq(l.regions[1].offset, below);
	}
}

START_TEST(test_q35)
{
	/* All RAM below 4G while it is under 2.75 GiB ... */
	expect_split("q35", 1 * GIB, 1 * GIB, 0);
	expect_split("q35", 2 * GIB, 2 * GIB, 0);
	expect_split("q35", 0xb0000000ULL - 4096, 0xb0000000ULL - 4096, 0);
	/* ... from exactly 2.75 GiB on, only the first 2 GiB. */
	expect_split("q35", 0xb0000000ULL, 2 * GIB, 0xb0000000ULL - 2 * GIB);
	expect_split("q35", 3 * GIB, 2 * GIB, 1 * GIB);
	expect_split("q35", 4 * GIB, 2 * GIB, 2 * GIB);
	expect_split("q35", 64 * GIB, 2 * GIB, 62 * GIB);
	expect_split("q35", 4096, 4096, 0);
}
END_TEST

START_TEST(test_q35_max_ram_below_4g)
{
	/* A lower limit is min(qemu's, the user's). */
	expect_split("q35,max-ram-below-4g=1G", 4 * GIB, 1 * GIB, 3 * GIB);
	expect_split("q35,max-ram-below-4g=1G", 1 * GIB, 1 * GIB, 0);
	expect_split("q35,max-ram-below-4g=1G", 512 * MIB, 512 * MIB, 0);
	expect_split("q35,max-ram-below-4g=2560M", 2600 * MIB, 2560 * MIB, 40 * MIB);
	/* A higher limit never raises q35's own. */
	expect_split("q35,max-ram-below-4g=3G", 2560 * MIB, 2560 * MIB, 0);
	expect_split("q35,max-ram-below-4g=4G", 4 * GIB, 2 * GIB, 2 * GIB);
	expect_split("q35,max-ram-below-4g=0x40000000", 2 * GIB, 1 * GIB, 1 * GIB);
}
END_TEST

START_TEST(test_pc)
{
	expect_split("pc", 1 * GIB, 1 * GIB, 0);
	expect_split("pc", 3 * GIB, 3 * GIB, 0);
	expect_split("pc", 0xe0000000ULL - 4096, 0xe0000000ULL - 4096, 0);
	/* From 3.5 GiB the split moves to the gigabyte-aligned 3 GiB. */
	expect_split("pc", 0xe0000000ULL, 3 * GIB, 512 * MIB);
	/* pc_piix.c: "qemu -M pc -m 4G (new default) -> 3072M low, 1024M high". */
	expect_split("pc", 4 * GIB, 3072 * MIB, 1024 * MIB);
	/* "qemu -M pc,max-ram-below-4g=2G -m 4G -> 2048M low, 2048M high". */
	expect_split("pc,max-ram-below-4g=2G", 4 * GIB, 2048 * MIB, 2048 * MIB);
	/* "qemu -M pc,max-ram-below-4g=4G -m 3968M -> 3968M low (=4G-128M)". */
	expect_split("pc,max-ram-below-4g=4G", 3968 * MIB, 3968 * MIB, 0);
	/* (The pc-1.7 example predates gigabyte alignment: not a current machine type.) */
	/* Raised to 4G but the RAM does not fit: gigabyte alignment cuts it back to 3G. */
	expect_split("pc,max-ram-below-4g=4G", 4 * GIB, 3 * GIB, 1 * GIB);
	expect_split("pc,max-ram-below-4g=3584M", 8 * GIB, 3 * GIB, 5 * GIB);
	/* A non-aligned lower limit is kept as is (QEMU only warns). */
	expect_split("pc,max-ram-below-4g=2560M", 4 * GIB, 2560 * MIB, 1536 * MIB);
}
END_TEST

START_TEST(test_flat)
{
	struct bw_layout l;

	layout_of("flat", 5 * GIB + 4096, &l);
	ck_assert_uint_eq(l.nregions, 1);
	ck_assert_uint_eq(l.regions[0].gpa, 0);
	ck_assert_uint_eq(l.regions[0].size, 5 * GIB + 4096);
	ck_assert_uint_eq(l.regions[0].offset, 0);
}
END_TEST

START_TEST(test_kind_names)
{
	struct bw_layout_spec spec;

	ck_assert_str_eq(bw_layout_kind_name(BW_LAYOUT_Q35), "q35");
	ck_assert_str_eq(bw_layout_kind_name(BW_LAYOUT_PC), "pc");
	ck_assert_str_eq(bw_layout_kind_name(BW_LAYOUT_FLAT), "flat");
	ck_assert_str_eq(bw_layout_kind_name(BW_LAYOUT_EXPLICIT), "explicit");
	ck_assert_int_eq(bw_layout_parse("q35", &spec, NULL), 0);
	ck_assert_int_eq(spec.kind, BW_LAYOUT_Q35);
	ck_assert_uint_eq(spec.max_ram_below_4g, 0);
	ck_assert_int_eq(bw_layout_parse("pc,max-ram-below-4g=2G", &spec, NULL), 0);
	ck_assert_int_eq(spec.kind, BW_LAYOUT_PC);
	ck_assert_uint_eq(spec.max_ram_below_4g, 2 * GIB);
	ck_assert_int_eq(bw_layout_parse("flat", &spec, NULL), 0);
	ck_assert_int_eq(spec.kind, BW_LAYOUT_FLAT);
}
END_TEST

START_TEST(test_explicit)
{
	struct bw_layout_spec spec;
	struct bw_layout l;
	struct bw_error err;

	/* An AMD guest with its high RAM moved to 1 TiB. */
	layout_of("0:2G@0,0x10000000000:2G@2G", 4 * GIB, &l);
	ck_assert_uint_eq(l.nregions, 2);
	ck_assert_uint_eq(l.regions[1].gpa, 1ULL << 40);
	ck_assert_uint_eq(l.regions[1].size, 2 * GIB);
	ck_assert_uint_eq(l.regions[1].offset, 2 * GIB);

	/* Given out of order, applied sorted by GPA. */
	layout_of("4G:1G@1G,0x100000:1M@0x200000,0:512K@0", 2 * GIB, &l);
	ck_assert_uint_eq(l.nregions, 3);
	ck_assert_uint_eq(l.regions[0].gpa, 0);
	ck_assert_uint_eq(l.regions[0].size, 512 * 1024);
	ck_assert_uint_eq(l.regions[1].gpa, MIB);
	ck_assert_uint_eq(l.regions[1].offset, 2 * MIB);
	ck_assert_uint_eq(l.regions[2].gpa, 4 * GIB);
	ck_assert_uint_eq(l.regions[2].offset, 1 * GIB);

	/* Suffixes K/M/G/T in both cases, hex and decimal. */
	ck_assert_int_eq(bw_layout_parse("1t:1k@0,2T:1K@1m,0x1000:4096@1M", &spec, &err), 0);
	ck_assert_uint_eq(spec.nregions, 3);
	ck_assert_uint_eq(spec.regions[0].gpa, 1ULL << 40);
	ck_assert_uint_eq(spec.regions[0].size, 1024);
	ck_assert_uint_eq(spec.regions[1].offset, MIB);
	ck_assert_uint_eq(spec.regions[2].gpa, 0x1000);
	ck_assert_uint_eq(spec.regions[2].size, 4096);

	/* Touching regions are fine; the whole file exactly is fine. */
	layout_of("0:1G@0,1G:1G@1G", 2 * GIB, &l);
	ck_assert_uint_eq(l.nregions, 2);

	/* As many regions as allowed. */
	{
		char text[1024];
		int pos = 0;

		for (int i = 0; i < BW_LAYOUT_MAX_REGIONS; i++)
			pos += snprintf(text + pos, sizeof(text) - (size_t)pos, "%s%dM:1M@%dM",
					i ? "," : "", 2 * i, i);
		layout_of(text, BW_LAYOUT_MAX_REGIONS * MIB, &l);
		ck_assert_uint_eq(l.nregions, BW_LAYOUT_MAX_REGIONS);
		pos += snprintf(text + pos, sizeof(text) - (size_t)pos, ",100M:1M@0");
		ck_assert_int_eq(bw_layout_parse(text, &spec, &err), -E2BIG);
	}
}
END_TEST

START_TEST(test_explicit_apply_errors)
{
	struct bw_layout_spec spec;
	struct bw_layout l;
	struct bw_error err;

	/* Overlapping in GPA, whatever the order given. */
	ck_assert_int_eq(bw_layout_parse("1G:1G@0,0:2G@1G", &spec, &err), 0);
	ck_assert_int_eq(bw_layout_apply(&spec, 4 * GIB, &l, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "overlap"));
	ck_assert_ptr_nonnull(strstr(err.msg, "0x40000000"));
	ck_assert_int_eq(bw_layout_parse("0:1G@0,0:1G@1G", &spec, &err), 0);
	ck_assert_int_eq(bw_layout_apply(&spec, 4 * GIB, &l, &err), -EINVAL);

	/* Past the end of the file. */
	ck_assert_int_eq(bw_layout_parse("0:2G@0,4G:2G@2G", &spec, &err), 0);
	ck_assert_int_eq(bw_layout_apply(&spec, 3 * GIB, &l, &err), -ERANGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "past the end"));
	ck_assert_ptr_nonnull(strstr(err.msg, "0x100000000"));
	ck_assert_int_eq(bw_layout_apply(&spec, 4 * GIB, &l, &err), 0);

	/* An empty file fits no layout. */
	ck_assert_int_eq(bw_layout_parse("q35", &spec, &err), 0);
	ck_assert_int_eq(bw_layout_apply(&spec, 0, &l, &err), -ENODATA);
	ck_assert_int_eq(bw_layout_parse("flat", &spec, &err), 0);
	ck_assert_int_eq(bw_layout_apply(&spec, 0, &l, &err), -ENODATA);
}
END_TEST

struct bad_spec {
	const char *text;
	int code;
	const char *says;
};

START_TEST(test_bad_specs)
{
	static const struct bad_spec cases[] = {
		{ "", -EINVAL, "expected auto, q35, pc, flat" },
		{ "q36", -EINVAL, "expected auto, q35, pc, flat" },
		{ "Q35", -EINVAL, "expected auto, q35, pc, flat" },
		{ "q35 ", -EINVAL, "expected auto, q35, pc, flat" },
		{ "q35,", -EINVAL, "max-ram-below-4g" },
		{ "q35,foo=1", -EINVAL, "max-ram-below-4g" },
		{ "q35,max-ram-below-4g=", -EINVAL, "max-ram-below-4g" },
		{ "q35,max-ram-below-4g=2X", -EINVAL, "max-ram-below-4g" },
		{ "q35,max-ram-below-4g=2G,", -EINVAL, "max-ram-below-4g" },
		{ "q35,max-ram-below-4g=-1", -EINVAL, "max-ram-below-4g" },
		{ "q35,max-ram-below-4g=5G", -ERANGE, "(0, 4G]" },
		{ "pc,max-ram-below-4g=0", -ERANGE, "(0, 4G]" },
		{ "flat,max-ram-below-4g=1G", -EINVAL, "after \"flat\"" },
		{ "0:1G", -EINVAL, "region \"0:1G\" is not GPA:SIZE@OFFSET" },
		{ "0:1G@0,x:1G@1G", -EINVAL, "region \"x:1G@1G\" is not GPA:SIZE@OFFSET" },
		{ "0:1G@0,4G:1G", -EINVAL, "region \"4G:1G\" is not GPA:SIZE@OFFSET" },
		{ "0:1G@0,4G-1G@1G", -EINVAL, "region \"4G-1G@1G\"" },
		{ "0:1G@0,,4G:1G@1G", -EINVAL, "region \"\"" },
		{ "0:1G@0 ", -EINVAL, "region \"0:1G@0 \"" },
		{ "0:1Q@0", -EINVAL, "region \"0:1Q@0\"" },
		{ "0:0@0", -EINVAL, "size 0" },
		{ "0:1G@0,4G:0@1G", -EINVAL, "region 2 has size 0" },
		{ "0xffffffffffffff00:1M@0", -ERANGE, "wraps around" },
		{ "0:1M@0xfffffffffffff000", -ERANGE, "wraps around" },
		{ "99999999999999999999:1M@0", -EINVAL, "region" },
		{ "0:0x1000000000000T@0", -EINVAL, "region" },
		{ "0:17179869184G@0", -EINVAL, "region" },
	};
	struct bw_layout_spec spec;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bw_error err;
		int r;

		bw_error_clear(&err);
		r = bw_layout_parse(cases[i].text, &spec, &err);
		ck_assert_msg(r == cases[i].code, "\"%s\": %d, want %d (%s)", cases[i].text, r,
			      cases[i].code, err.msg);
		ck_assert_msg(strstr(err.msg, cases[i].says), "\"%s\": \"%s\" does not say \"%s\"",
			      cases[i].text, err.msg, cases[i].says);
	}
}
END_TEST

/* Numbers are hex with 0x or decimal: a leading zero is not octal. */
START_TEST(test_leading_zero_is_decimal)
{
	struct bw_layout_spec spec;
	struct bw_error err;

	ck_assert_int_eq(bw_layout_parse("010:08@0", &spec, &err), 0);
	ck_assert_uint_eq(spec.regions[0].gpa, 10);
	ck_assert_uint_eq(spec.regions[0].size, 8);
	ck_assert_int_eq(bw_layout_parse("q35,max-ram-below-4g=02G", &spec, &err), 0);
	ck_assert_uint_eq(spec.max_ram_below_4g, 2 * GIB);
}
END_TEST

/* Random text: an answer (usually an error), never a crash. */
START_TEST(test_garbage_specs)
{
	static const char alphabet[] = "0123456789xXabcdefKMGTkmgt:@,q35pcflat=-max-ram-below-4g ";
	struct bw_layout_spec spec;
	struct bw_layout l;
	char text[64];

	for (uint64_t seed = 1; seed <= 20000; seed++) {
		uint8_t rnd[64];
		size_t n;
		struct bw_error err;

		test_fill_random(rnd, sizeof(rnd), seed);
		n = rnd[0] % (sizeof(text) - 1);
		for (size_t i = 0; i < n; i++)
			text[i] = alphabet[rnd[i + 1] % (sizeof(alphabet) - 1)];
		text[n] = '\0';
		bw_error_clear(&err);
		if (bw_layout_parse(text, &spec, &err) < 0) {
			ck_assert(err.msg[0] != '\0');
			continue;
		}
		ck_assert_uint_le(spec.nregions, BW_LAYOUT_MAX_REGIONS);
		if (bw_layout_apply(&spec, 8 * GIB, &l, &err) == 0) {
			for (unsigned int i = 0; i < l.nregions; i++) {
				ck_assert_uint_le(l.regions[i].offset + l.regions[i].size, 8 * GIB);
				if (i)
					ck_assert_uint_le(l.regions[i - 1].gpa + l.regions[i - 1].size,
							  l.regions[i].gpa);
			}
		}
	}
}
END_TEST

static Suite *ram_layout_suite(void)
{
	Suite *s = suite_create("ram_layout");
	TCase *tc = tcase_create("layout");

	tcase_add_test(tc, test_q35);
	tcase_add_test(tc, test_q35_max_ram_below_4g);
	tcase_add_test(tc, test_pc);
	tcase_add_test(tc, test_flat);
	tcase_add_test(tc, test_kind_names);
	tcase_add_test(tc, test_explicit);
	tcase_add_test(tc, test_explicit_apply_errors);
	tcase_add_test(tc, test_bad_specs);
	tcase_add_test(tc, test_leading_zero_is_decimal);
	tcase_add_test(tc, test_garbage_specs);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(ram_layout_suite)
