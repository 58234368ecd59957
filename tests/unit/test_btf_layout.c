/* SPDX-License-Identifier: MIT */
/*
 * Struct layouts from BTF: member paths through anonymous members,
 * typedefs and qualifiers, errors that name what went wrong, enumerators,
 * BTF crafted to be hostile, and the real kernel BTF when one is at hand.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "btf_layout.h"
#include "util_btf.h"
#include "util_mem.h"

/* The real kernel BTF (/sys/kernel/btf/vmlinux of a 7.3.4 guest), not in CI. */
#define VMLINUX_BTF_DEFAULT "/tmp/vmlinux.btf"

/*
 * struct inner { u32 a; u64 b; };            typedef struct inner inner_t;
 * struct outer {
 *         u32 x;                                          0
 *         union {                                         8
 *                 struct { u16 p; u16 q; u32 r; };        8, 10, 12
 *                 u64 wide;                               8
 *         };
 *         const inner_t in;                               16
 *         struct inner *ptr;                              32
 *         char name[16];                                  40
 *         u32 flags:3, mode:4;                            bits 448, 451
 *         u32 tail;                                       60
 *         volatile u64 vol;                               64
 * };                                                      size 72
 */
struct fixture {
	struct btf *btf;
	int u32, u64, inner, inner_t, outer, const_inner_t, vol_u64;
};

static void build(struct fixture *f)
{
	struct btf *btf = test_btf_new();
	int u16, chr, anon_s, anon_u, ptr, name;

	f->btf = btf;
	f->u32 = test_btf_u32(btf);
	f->u64 = test_btf_u64(btf);
	u16 = test_btf_u16(btf);
	chr = test_btf_char(btf);
	f->inner = test_btf_struct(btf, "inner", 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("a", f->u32, 0),
		TEST_BTF_FIELD("b", f->u64, 8),
		TEST_BTF_END,
	});
	f->inner_t = test_btf_typedef(btf, "inner_t", f->inner);
	f->const_inner_t = btf__add_const(btf, f->inner_t);
	ck_assert_int_gt(f->const_inner_t, 0);
	f->vol_u64 = btf__add_volatile(btf, f->u64);
	ck_assert_int_gt(f->vol_u64, 0);
	anon_s = test_btf_struct(btf, NULL, 8, (struct test_btf_field[]){
		TEST_BTF_FIELD("p", u16, 0),
		TEST_BTF_FIELD("q", u16, 2),
		TEST_BTF_FIELD("r", f->u32, 4),
		TEST_BTF_END,
	});
	anon_u = test_btf_union(btf, NULL, 8, (struct test_btf_field[]){
		TEST_BTF_FIELD(NULL, anon_s, 0),
		TEST_BTF_FIELD("wide", f->u64, 0),
		TEST_BTF_END,
	});
	ptr = test_btf_ptr(btf, f->inner);
	name = test_btf_array(btf, chr, 16);
	f->outer = test_btf_struct(btf, "outer", 72, (struct test_btf_field[]){
		TEST_BTF_FIELD("x", f->u32, 0),
		TEST_BTF_FIELD(NULL, anon_u, 8),
		TEST_BTF_FIELD("in", f->const_inner_t, 16),
		TEST_BTF_FIELD("ptr", ptr, 32),
		TEST_BTF_FIELD("name", name, 40),
		TEST_BTF_BITFIELD("flags", f->u32, 448, 3),
		TEST_BTF_BITFIELD("mode", f->u32, 451, 4),
		TEST_BTF_FIELD("tail", f->u32, 60),
		TEST_BTF_FIELD("vol", f->vol_u64, 64),
		TEST_BTF_END,
	});
}

static void expect_member(const struct btf *btf, const char *s, const char *path,
			  uint64_t want_off, uint64_t want_size)
{
	struct bw_error err = { 0 };
	uint64_t off = ~0ull, size = ~0ull;
	uint32_t type = 0;
	int ret = bw_btf_member_offset(btf, s, path, &off, &type, &size, &err);

	ck_assert_msg(ret == 0, "%s.%s: %d %s", s, path, ret, err.msg);
	ck_assert_msg(off == want_off, "%s.%s: offset %llu, expected %llu", s, path,
		      (unsigned long long)off, (unsigned long long)want_off);
	ck_assert_msg(size == want_size, "%s.%s: size %llu, expected %llu", s, path,
		      (unsigned long long)size, (unsigned long long)want_size);
	ck_assert_uint_ne(type, 0);
}

/* The call fails with @code and a message containing @needle. */
static void expect_error(const struct btf *btf, const char *s, const char *path, int code,
			 const char *needle)
{
	struct bw_error err = { 0 };
	uint64_t off = 12345;
	int ret = bw_btf_member_offset(btf, s, path, &off, NULL, NULL, &err);

	ck_assert_msg(ret == code, "%s.%s: got %d (%s), expected %d", s, path, ret, err.msg,
		      code);
	ck_assert_int_eq(err.code, code);
	ck_assert_msg(strstr(err.msg, needle), "%s.%s: message \"%s\" lacks \"%s\"", s, path,
		      err.msg, needle);
	ck_assert_uint_eq(off, 12345);	/* outputs untouched on error */
	/* And the same without an error object. */
	ck_assert_int_eq(bw_btf_member_offset(btf, s, path, &off, NULL, NULL, NULL), code);
}

START_TEST(test_struct_lookup)
{
	struct fixture f;
	struct bw_error err = { 0 };
	uint64_t size = 0;

	build(&f);
	ck_assert_int_eq(bw_btf_struct_id(f.btf, "outer", &err), f.outer);
	ck_assert_int_eq(bw_btf_struct_id(f.btf, "struct outer", &err), f.outer);
	/* A typedef'd struct is found through its typedef name. */
	ck_assert_int_eq(bw_btf_struct_id(f.btf, "inner_t", &err), f.inner);
	ck_assert_int_eq(bw_btf_struct_size(f.btf, "outer", &size, &err), 0);
	ck_assert_uint_eq(size, 72);
	ck_assert_int_eq(bw_btf_struct_size(f.btf, "inner_t", &size, &err), 0);
	ck_assert_uint_eq(size, 16);

	ck_assert_int_eq(bw_btf_struct_id(f.btf, "union outer", &err), -ENOENT);
	ck_assert_int_eq(bw_btf_struct_id(f.btf, "nosuch", &err), -ENOENT);
	ck_assert_str_eq(err.msg, "no struct or union named \"nosuch\" in the BTF");
	ck_assert_int_eq(bw_btf_struct_size(f.btf, "nosuch", &size, NULL), -ENOENT);
	/* A typedef of something else is not a struct. */
	ck_assert_int_eq(bw_btf_struct_id(f.btf, "u32", &err), -ENOENT);
	ck_assert_str_eq(err.msg, "typedef u32 names an integer, not a struct or union");
	ck_assert_int_eq(bw_btf_struct_id(f.btf, "", &err), -EINVAL);
	ck_assert_int_eq(bw_btf_struct_id(f.btf, NULL, &err), -EINVAL);
	ck_assert_int_eq(bw_btf_struct_id(NULL, "outer", &err), -EINVAL);
	btf__free(f.btf);
}
END_TEST

START_TEST(test_member_paths)
{
	struct fixture f;
	uint32_t type = 0;
	uint64_t off = 0;

	build(&f);
	expect_member(f.btf, "outer", "x", 0, 4);
	/* Anonymous union and the anonymous struct inside it are transparent. */
	expect_member(f.btf, "outer", "p", 8, 2);
	expect_member(f.btf, "outer", "q", 10, 2);
	expect_member(f.btf, "outer", "r", 12, 4);
	expect_member(f.btf, "outer", "wide", 8, 8);
	/* Through a const typedef'd struct member. */
	expect_member(f.btf, "outer", "in", 16, 16);
	expect_member(f.btf, "outer", "in.a", 16, 4);
	expect_member(f.btf, "outer", "in.b", 24, 8);
	expect_member(f.btf, "struct outer", "in.b", 24, 8);
	expect_member(f.btf, "outer", "ptr", 32, 8);
	expect_member(f.btf, "outer", "name", 40, 16);
	expect_member(f.btf, "outer", "tail", 60, 4);
	expect_member(f.btf, "outer", "vol", 64, 8);
	/* The root may be named through its typedef. */
	expect_member(f.btf, "inner_t", "b", 8, 8);

	/* The type id comes back as declared, qualifiers kept. */
	ck_assert_int_eq(bw_btf_member_offset(f.btf, "outer", "in", &off, &type, NULL, NULL), 0);
	ck_assert_uint_eq(type, (uint32_t)f.const_inner_t);
	ck_assert_int_eq(bw_btf_member_offset(f.btf, "outer", "vol", NULL, &type, NULL, NULL), 0);
	ck_assert_uint_eq(type, (uint32_t)f.vol_u64);
	ck_assert_int_eq(bw_btf_member_offset(f.btf, "outer", "in.a", &off, &type, NULL, NULL), 0);
	ck_assert_uint_eq(type, (uint32_t)f.u32);
	btf__free(f.btf);
}
END_TEST

START_TEST(test_member_errors)
{
	struct fixture f;

	build(&f);
	expect_error(f.btf, "outer", "nme", -ENOENT, "struct outer has no member \"nme\"");
	expect_error(f.btf, "outer", "name.x", -EINVAL,
		     "outer.name is an array, not a struct: cannot take member \"x\"");
	expect_error(f.btf, "outer", "ptr.a", -EINVAL,
		     "outer.ptr is a pointer, not a struct: cannot take member \"a\"");
	expect_error(f.btf, "outer", "x.y", -EINVAL,
		     "outer.x is an integer, not a struct: cannot take member \"y\"");
	expect_error(f.btf, "outer", "in.zz", -ENOENT,
		     "outer.in (struct inner) has no member \"zz\"");
	expect_error(f.btf, "outer", "in.a.deeper", -EINVAL,
		     "outer.in.a is an integer, not a struct: cannot take member \"deeper\"");
	expect_error(f.btf, "outer", "flags", -EINVAL, "outer.flags is a bitfield");
	expect_error(f.btf, "outer", "mode", -EINVAL, "outer.mode is a bitfield");
	expect_error(f.btf, "outer", "in..a", -EINVAL, "has an empty segment");
	expect_error(f.btf, "outer", ".x", -EINVAL, "has an empty segment");
	expect_error(f.btf, "outer", "x.", -EINVAL, "has an empty segment");
	expect_error(f.btf, "outer", "", -EINVAL, "struct outer: empty member path");
	expect_error(f.btf, "nosuch", "x", -ENOENT, "no struct or union named \"nosuch\"");
	/* Anonymous members are searched, not named. */
	expect_error(f.btf, "outer", "p.q", -EINVAL, "outer.p is an integer");
	btf__free(f.btf);
}
END_TEST

START_TEST(test_forward_only)
{
	struct btf *btf = test_btf_new();
	struct bw_error err = { 0 };

	ck_assert_int_gt(btf__add_fwd(btf, "opaque", BTF_FWD_STRUCT), 0);
	ck_assert_int_eq(bw_btf_struct_id(btf, "opaque", &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "struct opaque is only declared"));
	btf__free(btf);
}
END_TEST

START_TEST(test_union_root)
{
	struct btf *btf = test_btf_new();
	int u = test_btf_union(btf, "both", 8, (struct test_btf_field[]){
		TEST_BTF_FIELD("lo", test_btf_u32(btf), 0),
		TEST_BTF_FIELD("all", test_btf_u64(btf), 0),
		TEST_BTF_END,
	});

	ck_assert_int_eq(bw_btf_struct_id(btf, "union both", NULL), u);
	ck_assert_int_eq(bw_btf_struct_id(btf, "struct both", NULL), -ENOENT);
	expect_member(btf, "both", "all", 0, 8);
	expect_member(btf, "both", "lo", 0, 4);
	btf__free(btf);
}
END_TEST

START_TEST(test_enum_values)
{
	struct btf *btf = test_btf_new();
	struct bw_error err = { 0 };
	int64_t v = 0;

	ck_assert_int_gt(btf__add_enum(btf, "bpf_map_type", 4), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "BPF_MAP_TYPE_UNSPEC", 0), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "BPF_MAP_TYPE_HASH", 1), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "BPF_MAP_TYPE_ARRAY", 2), 0);
	ck_assert_int_gt(btf__add_enum(btf, "signed_one", 4), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "NEG", -5), 0);
	ck_assert_int_gt(btf__add_enum(btf, NULL, 4), 0);
	ck_assert_int_eq(btf__add_enum_value(btf, "BIG_U32", 0xfffffff0LL), 0);
	ck_assert_int_gt(btf__add_enum64(btf, "wide", 8, false), 0);
	ck_assert_int_eq(btf__add_enum64_value(btf, "WIDE", 0x123456789ULL), 0);
	ck_assert_int_eq(btf__add_enum64_value(btf, "ALL_ONES", ~0ULL), 0);
	ck_assert_int_gt(btf__add_enum64(btf, "wide_signed", 8, true), 0);
	ck_assert_int_eq(btf__add_enum64_value(btf, "MINUS_SEVEN", (uint64_t)-7LL), 0);

	ck_assert_int_eq(bw_btf_enum_value(btf, "BPF_MAP_TYPE_ARRAY", &v, &err), 0);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(bw_btf_enum_value(btf, "BPF_MAP_TYPE_UNSPEC", &v, &err), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(bw_btf_enum_value(btf, "NEG", &v, &err), 0);
	ck_assert_int_eq(v, -5);
	/* An unsigned 32-bit enumerator is not sign-extended. */
	ck_assert_int_eq(bw_btf_enum_value(btf, "BIG_U32", &v, &err), 0);
	ck_assert_int_eq(v, 0xfffffff0LL);
	ck_assert_int_eq(bw_btf_enum_value(btf, "WIDE", &v, &err), 0);
	ck_assert_int_eq(v, 0x123456789LL);
	ck_assert_int_eq(bw_btf_enum_value(btf, "ALL_ONES", &v, &err), 0);
	ck_assert_uint_eq((uint64_t)v, ~0ULL);
	ck_assert_int_eq(bw_btf_enum_value(btf, "MINUS_SEVEN", &v, &err), 0);
	ck_assert_int_eq(v, -7);

	v = 99;
	ck_assert_int_eq(bw_btf_enum_value(btf, "BPF_MAP_TYPE_NOPE", &v, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "no enumerator \"BPF_MAP_TYPE_NOPE\" in any enum of the BTF");
	ck_assert_int_eq(v, 99);
	/* An enum's own name is not an enumerator. */
	ck_assert_int_eq(bw_btf_enum_value(btf, "bpf_map_type", &v, NULL), -ENOENT);
	ck_assert_int_eq(bw_btf_enum_value(btf, "", &v, NULL), -EINVAL);
	btf__free(btf);
}
END_TEST

/* ---- hand-made raw BTF: encodings the writer will not produce ---- */

#define KIND(k, vlen, kflag) (((uint32_t)(kflag) << 31) | ((uint32_t)(k) << 24) | (vlen))

/* Wrap @types and @strs in a BTF header and parse it with libbpf (NULL if rejected). */
static struct btf *raw_btf(const uint32_t *types, size_t types_len, const char *strs,
			   size_t strs_len)
{
	struct btf_header hdr = {
		.magic = BTF_MAGIC, .version = BTF_VERSION, .hdr_len = sizeof(hdr),
		.type_off = 0, .type_len = (uint32_t)types_len,
		.str_off = (uint32_t)types_len, .str_len = (uint32_t)strs_len,
	};
	size_t size = sizeof(hdr) + types_len + strs_len;
	uint8_t *blob = malloc(size);
	struct btf *btf;

	ck_assert_ptr_nonnull(blob);
	memcpy(blob, &hdr, sizeof(hdr));
	memcpy(blob + sizeof(hdr), types, types_len);
	memcpy(blob + sizeof(hdr) + types_len, strs, strs_len);
	btf = btf__new(blob, (uint32_t)size);
	free(blob);
	return btf;	/* libbpf copies the data */
}

/* Strings: 0 "", 1 "int", 5 "a", 7 "b", 9 "old", 13 "loop", 18 "self". */
static const char raw_strs[] = "\0int\0a\0b\0old\0loop\0self";

/*
 * The bitfield encoding from before the kind_flag: the member's INT type
 * carries the bit count.  [1] int, [2] int:3 (old-style), [3] struct old
 * { int:3 a; int b; } without kind_flag.
 */
START_TEST(test_old_style_bitfield)
{
	const uint32_t types[] = {
		1, KIND(BTF_KIND_INT, 0, 0), 4, (BTF_INT_SIGNED << 24) | 32,
		0, KIND(BTF_KIND_INT, 0, 0), 4, (BTF_INT_SIGNED << 24) | 3,
		9, KIND(BTF_KIND_STRUCT, 2, 0), 8,
			5, 2, 0,
			7, 1, 32,
	};
	struct btf *btf = raw_btf(types, sizeof(types), raw_strs, sizeof(raw_strs));
	struct bw_error err = { 0 };
	uint64_t off = 0;

	ck_assert_ptr_nonnull(btf);
	ck_assert_int_eq(bw_btf_member_offset(btf, "old", "a", &off, NULL, NULL, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "old.a is a bitfield"));
	expect_member(btf, "old", "b", 4, 4);
	btf__free(btf);
}
END_TEST

/*
 * Hostile BTF: [1] int; [2] typedef loop -> [3] -> [2]; [4] struct loop {
 * [2] a; }; [5] struct self { anonymous [5]; } (contains itself);
 * [6] struct old { [77] a; } (type id out of range).  libbpf 1.1 parses all
 * of these; every query must end with an error, not hang or crash.
 */
START_TEST(test_hostile_btf)
{
	const uint32_t types[] = {
		1, KIND(BTF_KIND_INT, 0, 0), 4, (BTF_INT_SIGNED << 24) | 32,
		13, KIND(BTF_KIND_TYPEDEF, 0, 0), 3,
		0, KIND(BTF_KIND_TYPEDEF, 0, 0), 2,
		13, KIND(BTF_KIND_STRUCT, 1, 0), 4,
			5, 2, 0,
		18, KIND(BTF_KIND_STRUCT, 1, 0), 4,
			0, 5, 0,
		9, KIND(BTF_KIND_STRUCT, 1, 0), 4,
			5, 77, 0,
	};
	struct btf *btf = raw_btf(types, sizeof(types), raw_strs, sizeof(raw_strs));
	struct bw_error err = { 0 };
	uint64_t off;
	int ret;

	if (!btf) {
		/* A stricter libbpf refusing it at parse time is fine too. */
		return;
	}
	/* The typedef chain loops: finding struct "loop" through it fails. */
	ret = bw_btf_member_offset(btf, "loop", "a.x", &off, NULL, NULL, &err);
	ck_assert_int_lt(ret, 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "typedefs/qualifiers in a row"));
	/* Sizing a looping type fails in libbpf, and we say so. */
	ret = bw_btf_member_offset(btf, "loop", "a", &off, NULL, NULL, &err);
	ck_assert_int_lt(ret, 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot compute the size"));
	/* A struct nested in itself anonymously: bounded search. */
	ret = bw_btf_member_offset(btf, "self", "nothing", &off, NULL, NULL, &err);
	ck_assert_int_eq(ret, -ELOOP);
	ck_assert_ptr_nonnull(strstr(err.msg, "nested more than"));
	/* A member whose type id does not exist. */
	ret = bw_btf_member_offset(btf, "old", "a.b", &off, NULL, NULL, &err);
	ck_assert_int_lt(ret, 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "does not exist"));
	ret = bw_btf_member_offset(btf, "old", "a", &off, NULL, NULL, &err);
	ck_assert_int_lt(ret, 0);
	btf__free(btf);
}
END_TEST

/* ---- the real thing ---- */

static void real_member(const struct btf *btf, const char *s, const char *m, uint64_t *off,
			uint64_t *size)
{
	struct bw_error err = { 0 };
	int ret = bw_btf_member_offset(btf, s, m, off, NULL, size, &err);

	ck_assert_msg(ret == 0, "%s.%s in the kernel BTF: %s", s, m, err.msg);
}

START_TEST(test_real_kernel_btf)
{
	const char *path = getenv("BW_TEST_VMLINUX_BTF");
	uint64_t off, size, off2, size2, xa_size, idr_size, map_size, arr_size;
	struct bw_error err = { 0 };
	uint32_t type;
	const struct btf_type *t;
	struct btf *btf;
	int64_t v;

	if (!path)
		path = VMLINUX_BTF_DEFAULT;
	btf = btf__parse_raw(path);
	if (!btf) {
		fprintf(stderr, "test_real_kernel_btf: skipped: no kernel BTF at %s (a copy of a "
			"guest's /sys/kernel/btf/vmlinux; set BW_TEST_VMLINUX_BTF to use another)\n",
			path);
		return;
	}

	/* struct idr starts with its xarray; idr_base and idr_next follow it. */
	ck_assert_int_eq(bw_btf_struct_size(btf, "xarray", &xa_size, &err), 0);
	ck_assert_int_eq(bw_btf_struct_size(btf, "idr", &idr_size, &err), 0);
	real_member(btf, "idr", "idr_rt", &off, &size);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(size, xa_size);
	real_member(btf, "idr", "idr_base", &off, &size);
	ck_assert_uint_eq(off, xa_size);
	ck_assert_uint_eq(size, 4);
	real_member(btf, "idr", "idr_next", &off, &size);
	ck_assert_uint_eq(off, xa_size + 4);
	ck_assert_uint_eq(idr_size, xa_size + 8);

	/* xa_head is the last word of struct xarray. */
	real_member(btf, "xarray", "xa_head", &off, &size);
	ck_assert_uint_eq(size, 8);
	ck_assert_uint_eq(off + 8, xa_size);

	/* xa_node: four bytes up front, 64 slots (not a BASE_SMALL kernel). */
	real_member(btf, "xa_node", "shift", &off, &size);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(size, 1);
	real_member(btf, "xa_node", "offset", &off, &size);
	ck_assert_uint_eq(off, 1);
	ck_assert_int_eq(bw_btf_member_offset(btf, "xa_node", "slots", &off, &type, &size, &err), 0);
	t = btf__type_by_id(btf, type);
	ck_assert_ptr_nonnull(t);
	ck_assert(btf_is_array(t));
	ck_assert_uint_eq(btf_array(t)->nelems, 64);
	ck_assert_uint_eq(size, 64 * 8);
	/* Anonymous unions on both sides of slots are transparent. */
	real_member(btf, "xa_node", "private_list", &off2, &size2);
	ck_assert_uint_lt(off2, off);
	real_member(btf, "xa_node", "marks", &off2, &size2);
	ck_assert_uint_eq(off2, off + size);

	/* struct bpf_map: the fields map discovery reads. */
	ck_assert_int_eq(bw_btf_struct_size(btf, "bpf_map", &map_size, &err), 0);
	real_member(btf, "bpf_map", "name", &off, &size);
	ck_assert_uint_eq(size, 16);	/* BPF_OBJ_NAME_LEN */
	ck_assert_uint_lt(off + size, map_size + 1);
	real_member(btf, "bpf_map", "id", &off, &size);
	ck_assert_uint_eq(size, 4);
	real_member(btf, "bpf_map", "map_type", &off, &size);
	ck_assert_uint_eq(size, 4);
	real_member(btf, "bpf_map", "btf", &off, &size);
	ck_assert_uint_eq(size, 8);
	/* bpf_array embeds the map first; its value array is the flexible tail. */
	ck_assert_int_eq(bw_btf_struct_size(btf, "bpf_array", &arr_size, &err), 0);
	real_member(btf, "bpf_array", "map", &off, &size);
	ck_assert_uint_eq(off, 0);
	ck_assert_uint_eq(size, map_size);
	real_member(btf, "bpf_array", "map.id", &off2, &size2);
	real_member(btf, "bpf_map", "id", &off, &size);
	ck_assert_uint_eq(off2, off);
	real_member(btf, "bpf_array", "value", &off, &size);
	ck_assert_uint_eq(off, arr_size);
	ck_assert_uint_eq(size, 0);
	real_member(btf, "bpf_array", "pptrs", &off2, &size2);
	ck_assert_uint_eq(off2, off);

	ck_assert_int_eq(bw_btf_member_offset(btf, "bpf_map", "nme", &off, NULL, NULL, &err),
			 -ENOENT);
	ck_assert_str_eq(err.msg, "struct bpf_map has no member \"nme\"");
	ck_assert_int_eq(bw_btf_member_offset(btf, "bpf_map", "name.x", &off, NULL, NULL, &err),
			 -EINVAL);
	ck_assert_str_eq(err.msg, "bpf_map.name is an array, not a struct: cannot take member "
			 "\"x\"");

	/* uapi enumerators, fixed forever. */
	ck_assert_int_eq(bw_btf_enum_value(btf, "BPF_MAP_TYPE_ARRAY", &v, &err), 0);
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(bw_btf_enum_value(btf, "BPF_MAP_TYPE_PERCPU_ARRAY", &v, &err), 0);
	ck_assert_int_eq(v, 6);
	ck_assert_int_eq(bw_btf_enum_value(btf, "BPF_MAP_TYPE_STRUCT_OPS", &v, &err), 0);
	ck_assert_int_eq(v, 26);
	btf__free(btf);
}
END_TEST

static Suite *btf_layout_suite(void)
{
	Suite *s = suite_create("btf_layout");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_struct_lookup);
	tcase_add_test(tc, test_member_paths);
	tcase_add_test(tc, test_member_errors);
	tcase_add_test(tc, test_forward_only);
	tcase_add_test(tc, test_union_root);
	tcase_add_test(tc, test_enum_values);
	tcase_add_test(tc, test_old_style_bitfield);
	tcase_add_test(tc, test_hostile_btf);
	tcase_add_test(tc, test_real_kernel_btf);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(btf_layout_suite)
