/* SPDX-License-Identifier: MIT */
/*
 * The BTF blob check done before libbpf parses guest BTF: a good blob
 * written by libbpf's own writer passes (and so does a split one over it),
 * and each header field, section bound and type record made wrong is
 * refused with a message naming it.
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>
#include <linux/btf.h>

#include "btf_check.h"
#include "util_btf.h"
#include "util_mem.h"

/* A small kernel-like BTF: ints, typedefs, a struct, an array, a pointer, an enum, a func. */
static struct btf *sample_btf(void)
{
	struct btf *btf = test_btf_new();
	int u32 = test_btf_u32(btf), u64 = test_btf_u64(btf), arr, fp;
	const struct test_btf_field f[] = {
		TEST_BTF_FIELD("a", u32, 0), TEST_BTF_FIELD("b", u64, 8), TEST_BTF_END,
	};
	int s = test_btf_struct(btf, "pair", 16, f);

	arr = test_btf_array(btf, s, 4);
	ck_assert_int_gt(arr, 0);
	ck_assert_int_gt(test_btf_ptr(btf, s), 0);
	ck_assert_int_gt(btf__add_enum(btf, "colour", 4), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "RED", 1), 0);
	fp = btf__add_func_proto(btf, u32);
	ck_assert_int_gt(fp, 0);
	ck_assert_int_eq(btf__add_func_param(btf, "x", u64), 0);
	ck_assert_int_gt(btf__add_func(btf, "f", BTF_FUNC_GLOBAL, fp), 0);
	return btf;
}

struct blob {
	uint8_t *p;
	size_t size;
	struct btf_header *h;
};

static struct blob copy_raw(const struct btf *btf, size_t room)
{
	struct blob b;
	uint32_t size;
	const void *raw = btf__raw_data(btf, &size);

	ck_assert_ptr_nonnull(raw);
	b.size = size;
	b.p = calloc(1, size + room);
	memcpy(b.p, raw, size);
	b.h = (struct btf_header *)b.p;
	return b;
}

static void expect_refused(const struct blob *b, const char *want)
{
	struct bw_error err = { 0 };
	int r = bw_btf_check(b->p, b->size, NULL, &err);

	ck_assert_msg(r == -EINVAL || r == -E2BIG, "accepted (%d), expected \"%s\"", r, want);
	ck_assert_msg(strstr(err.msg, want) != NULL, "\"%s\" lacks \"%s\"", err.msg, want);
}

START_TEST(test_good_blobs_pass)
{
	struct btf *btf = sample_btf(), *split;
	struct bw_error err = { 0 };
	struct blob b = copy_raw(btf, 0);
	const void *raw;
	uint32_t size;

	ck_assert_msg(bw_btf_check(b.p, b.size, NULL, &err) == 0, "%s", err.msg);
	/* A BPF object's split BTF over it: ids and strings continue the base's. */
	split = btf__new_empty_split(btf);
	ck_assert_ptr_nonnull(split);
	ck_assert_int_gt(btf__add_typedef(split, "pair_t", 3), 0);
	ck_assert_int_gt(btf__add_ptr(split, btf__type_cnt(split) - 1), 0);
	raw = btf__raw_data(split, &size);
	ck_assert_msg(bw_btf_check(raw, size, btf, &err) == 0, "%s", err.msg);
	/* Without its base the same blob names types and strings it does not have. */
	ck_assert_int_eq(bw_btf_check(raw, size, NULL, &err), -EINVAL);
	btf__free(split);
	free(b.p);
	btf__free(btf);
}
END_TEST

/* Every header field wrong, one at a time. */
START_TEST(test_header_fields)
{
	struct btf *btf = sample_btf();
	struct blob b = copy_raw(btf, 8);
	struct btf_header good = *b.h;

	b.h->magic = 0x9feb;
	expect_refused(&b, "magic 0x9feb");
	*b.h = good;
	b.h->version = 2;
	expect_refused(&b, "version 2");
	*b.h = good;
	b.h->flags = 1;
	expect_refused(&b, "flags 0x1");
	*b.h = good;
	/* What Debian's libbpf 1.1 accepts and then hands out misaligned types for. */
	for (uint32_t bad = 25; bad < 28; bad++) {
		b.h->hdr_len = bad;
		expect_refused(&b, "hdr_len");
	}
	b.h->hdr_len = 20;
	expect_refused(&b, "hdr_len 20 is not a multiple of 4 from 24");
	b.h->hdr_len = (uint32_t)b.size + 4;
	expect_refused(&b, "hdr_len");
	*b.h = good;
	/* A longer header is fine only when the bytes this reader does not know are zero. */
	memmove(b.p + 28, b.p + 24, b.size - 24);
	memset(b.p + 24, 0, 4);
	b.size += 4;
	b.h->hdr_len = 28;
	ck_assert_int_eq(bw_btf_check(b.p, b.size, NULL, NULL), 0);
	b.p[25] = 7;
	expect_refused(&b, "header byte 25 is 0x7");
	b.p[25] = 0;
	b.size -= 4;
	memmove(b.p + 24, b.p + 28, b.size - 24);
	*b.h = good;

	b.h->type_off = 2;
	expect_refused(&b, "type section at 2");
	*b.h = good;
	b.h->type_len = good.type_len - 2;
	expect_refused(&b, "not 4-aligned");
	*b.h = good;
	b.h->type_len = UINT32_MAX - 3;
	expect_refused(&b, "type section");
	*b.h = good;
	b.h->str_off = UINT32_MAX;
	expect_refused(&b, "string section");
	*b.h = good;
	b.h->str_len = 0;
	expect_refused(&b, "is empty");
	*b.h = good;
	b.h->str_len = good.str_len + 1;
	expect_refused(&b, "string section");
	*b.h = good;
	b.h->str_off = good.type_off + 4;
	expect_refused(&b, "overlap");
	*b.h = good;
	b.p[good.hdr_len + good.str_off + good.str_len - 1] = 'x';
	expect_refused(&b, "does not end in NUL");
	b.p[good.hdr_len + good.str_off + good.str_len - 1] = 0;
	b.p[good.hdr_len + good.str_off] = 'x';
	expect_refused(&b, "first string is not the empty string");
	b.p[good.hdr_len + good.str_off] = 0;
	ck_assert_int_eq(bw_btf_check(b.p, b.size, NULL, NULL), 0);
	expect_refused(&(struct blob){ b.p, 23, b.h }, "shorter than its 24-byte header");
	free(b.p);
	btf__free(btf);
}
END_TEST

/* The first type record of the blob. */
static struct btf_type *first_type(struct blob *b)
{
	return (struct btf_type *)(b->p + b->h->hdr_len + b->h->type_off);
}

START_TEST(test_type_records)
{
	struct btf *btf = sample_btf();
	struct blob b = copy_raw(btf, 0);
	struct btf_type *t = first_type(&b), saved = *t;
	uint32_t ntypes = btf__type_cnt(btf);
	/* Type 3 is struct pair (u32 -> __u32 -> unsigned int are 1..). */
	int pair = btf__find_by_name_kind(btf, "pair", BTF_KIND_STRUCT);
	struct btf_type *ps;
	uint32_t off = 0;

	t->info = (31u << 24);
	expect_refused(&b, "kind 31 is not one this reader knows");
	*t = saved;
	t->name_off = b.h->str_len + 5;
	expect_refused(&b, "name offset");
	*t = saved;

	/* Find struct pair's record to break its members. */
	for (int id = 1; id < pair; id++) {
		const struct btf_type *x = btf__type_by_id(btf, (uint32_t)id);

		off += (uint32_t)sizeof(*x);
		switch (btf_kind(x)) {
		case BTF_KIND_INT: off += 4; break;
		case BTF_KIND_STRUCT: case BTF_KIND_UNION: off += btf_vlen(x) * 12u; break;
		default: break;
		}
	}
	ps = (struct btf_type *)((uint8_t *)first_type(&b) + off);
	ck_assert_uint_eq(btf_kind(ps), BTF_KIND_STRUCT);
	saved = *ps;
	ps->info = (ps->info & ~0xffffu) | 0xffff;
	expect_refused(&b, "65535 records");
	*ps = saved;
	((struct btf_member *)(ps + 1))[1].type = ntypes + 10;
	expect_refused(&b, "refers to type");
	free(b.p);
	btf__free(btf);
}
END_TEST

/* Random bytes behind a good header: never a crash, and an error with a message. */
START_TEST(test_random_records)
{
	struct btf *btf = sample_btf();
	struct blob b = copy_raw(btf, 0);
	uint8_t *types = b.p + b.h->hdr_len + b.h->type_off;
	struct bw_error err;

	for (uint64_t seed = 1; seed <= 500; seed++) {
		struct blob r = copy_raw(btf, 0);

		test_fill_random(r.p + r.h->hdr_len + r.h->type_off, r.h->type_len, seed);
		err.msg[0] = '\0';
		if (bw_btf_check(r.p, r.size, NULL, &err) < 0)
			ck_assert_uint_gt(strlen(err.msg), 0);
		free(r.p);
	}
	(void)types;
	free(b.p);
	btf__free(btf);
}
END_TEST

static Suite *btf_check_suite(void)
{
	Suite *s = suite_create("btf_check");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_good_blobs_pass);
	tcase_add_test(tc, test_header_fields);
	tcase_add_test(tc, test_type_records);
	tcase_add_test(tc, test_random_records);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(btf_check_suite)
