/* SPDX-License-Identifier: MIT */
/*
 * The xarray / IDR walker over real-format trees built in test memory
 * from a BTF written like a 7.3 kernel's (util_btf), then over trees that
 * were tampered with.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/btf.h>

#include "xarray.h"
#include "util_btf.h"
#include "util_mem.h"

/* A static struct idr / xarray in kernel .data, nodes in the direct map. */
#define XA_ADDR 0xffffffff83a10000ULL
#define ARENA 0xffff888104000000ULL
#define UNMAPPED_NODE 0xffff888300000000ULL
#define ARENA_NODES 512

/* A fake struct bpf_map * for index @i: slab-like, low bits 00. */
static uint64_t ptr_for(uint64_t i)
{
	return 0xffff888200000000ULL + i * 0x140;
}

struct seen {
	size_t n, cap;
	uint64_t *index, *entry;
	size_t stop_after;	/* return 42 after this many, 0: never */
};

static int collect(void *ctx, uint64_t index, uint64_t entry)
{
	struct seen *s = ctx;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->index = realloc(s->index, s->cap * sizeof(*s->index));
		s->entry = realloc(s->entry, s->cap * sizeof(*s->entry));
		ck_assert_ptr_nonnull(s->index);
		ck_assert_ptr_nonnull(s->entry);
	}
	s->index[s->n] = index;
	s->entry[s->n] = entry;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 42 : 0;
}

static void seen_free(struct seen *s)
{
	free(s->index);
	free(s->entry);
	memset(s, 0, sizeof(*s));
}

struct env {
	struct btf *btf;
	struct test_btf_xa lay;
	struct bw_xa_layout xl;
	struct test_mem *mem;
	struct bw_addrspace as;
	struct test_xa xa;
	struct seen seen;
	struct bw_xa_walk_stats st;
	struct bw_error err;
};

/* An xarray (idr when @idr) whose layout the walker reads from BTF. */
static void env_init(struct env *e, unsigned int chunk_shift, bool idr, uint32_t idr_base)
{
	memset(e, 0, sizeof(*e));
	e->btf = test_btf_new_xarray(chunk_shift, &e->lay);
	ck_assert_int_eq(bw_xa_layout_from_btf(e->btf, &e->xl, &e->err), 0);
	e->mem = test_mem_new();
	e->as = test_mem_addrspace(e->mem);
	if (idr)
		test_idr_init(&e->xa, e->mem, &e->lay, XA_ADDR, idr_base, idr_base, ARENA,
			      ARENA_NODES);
	else
		test_xa_init(&e->xa, e->mem, &e->lay, XA_ADDR, ARENA, ARENA_NODES);
}

static void env_free(struct env *e)
{
	seen_free(&e->seen);
	test_mem_free(e->mem);
	btf__free(e->btf);
}

static int walk(struct env *e)
{
	seen_free(&e->seen);
	e->mem->reads = 0;
	bw_error_clear(&e->err);
	return bw_xa_walk(&e->as, &e->xl, XA_ADDR, collect, &e->seen, &e->st, &e->err);
}

static int walk_idr(struct env *e)
{
	seen_free(&e->seen);
	e->mem->reads = 0;
	bw_error_clear(&e->err);
	return bw_idr_walk(&e->as, &e->xl, XA_ADDR, collect, &e->seen, &e->st, &e->err);
}

/* Exactly these (index, ptr_for(index)) pairs, in this order. */
static void expect_indices(struct env *e, const uint64_t *want, size_t n)
{
	ck_assert_msg(e->seen.n == n, "walk reported %zu entries, expected %zu", e->seen.n, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(e->seen.index[i] == want[i], "entry %zu: index %#llx, expected %#llx",
			      i, (unsigned long long)e->seen.index[i],
			      (unsigned long long)want[i]);
		ck_assert_uint_eq(e->seen.entry[i], ptr_for(want[i]));
	}
	ck_assert_uint_eq(e->st.entries, n);
}

static void expect_walk_ok(struct env *e, int ret)
{
	ck_assert_msg(ret == 0, "walk failed: %d %s", ret, e->err.msg);
}

static void expect_walk_error(struct env *e, int ret, int code, const char *needle)
{
	ck_assert_msg(ret == code, "walk returned %d (%s), expected %d", ret, e->err.msg, code);
	ck_assert_int_eq(e->err.code, code);
	ck_assert_msg(strstr(e->err.msg, needle), "message \"%s\" lacks \"%s\"", e->err.msg,
		      needle);
}

static uint64_t head_node(struct env *e)
{
	uint64_t head;

	memcpy(&head, test_mem_at(e->mem, test_xa_head_addr(&e->xa), 8), 8);
	ck_assert_uint_eq(head & 3, 2);
	return head - 2;
}

static void put_slot(struct env *e, uint64_t node, unsigned int k, uint64_t entry)
{
	test_mem_put_u64(e->mem, test_xa_slot_addr(&e->xa, node, k), entry);
}

static void put_byte(struct env *e, uint64_t addr, uint8_t v)
{
	*(uint8_t *)test_mem_at(e->mem, addr, 1) = v;
}

START_TEST(test_layout_from_btf)
{
	for (unsigned int cs = 4; cs <= 6; cs += 2) {
		struct test_btf_xa lay;
		struct bw_xa_layout xl;
		struct bw_error err = { 0 };
		struct btf *btf = test_btf_new_xarray(cs, &lay);

		ck_assert_int_eq(bw_xa_layout_from_btf(btf, &xl, &err), 0);
		ck_assert_uint_eq(xl.xa_head, lay.xa_head);
		ck_assert_uint_eq(xl.node_shift, lay.node_shift);
		ck_assert_uint_eq(xl.node_offset, lay.node_offset);
		ck_assert_uint_eq(xl.node_slots, lay.node_slots);
		ck_assert_uint_eq(xl.chunk_size, 1u << cs);
		ck_assert_uint_eq(xl.chunk_shift, cs);
		ck_assert_uint_eq(xl.idr_rt, lay.idr_rt);
		ck_assert_uint_eq(xl.idr_base, lay.idr_base);
		ck_assert_uint_eq(xl.idr_next, lay.idr_next);
		/* The 7.3 values, as read from a real kernel's BTF. */
		ck_assert_uint_eq(xl.xa_head, 8);
		ck_assert_uint_eq(xl.node_slots, 40);
		ck_assert_uint_eq(xl.idr_base, 16);
		ck_assert_uint_eq(xl.idr_next, 20);
		btf__free(btf);
	}
}
END_TEST

/* The synthetic BTF matches a real 7.3.4 kernel's, when a copy is at hand. */
START_TEST(test_layout_matches_real_kernel)
{
	const char *path = getenv("BW_TEST_VMLINUX_BTF");
	struct bw_xa_layout real, synth;
	struct test_btf_xa lay;
	struct bw_error err = { 0 };
	struct btf *btf, *mine;
	const struct btf_type *t;

	if (!path)
		path = "/tmp/vmlinux.btf";
	btf = btf__parse_raw(path);
	if (!btf) {
		fprintf(stderr, "test_layout_matches_real_kernel: skipped: no kernel BTF at %s "
			"(set BW_TEST_VMLINUX_BTF to a copy of /sys/kernel/btf/vmlinux)\n", path);
		return;
	}
	mine = test_btf_new_xarray(6, &lay);
	ck_assert_msg(bw_xa_layout_from_btf(btf, &real, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(bw_xa_layout_from_btf(mine, &synth, &err), 0);
	ck_assert_mem_eq(&real, &synth, sizeof(real));
	t = btf__type_by_id(btf, btf__find_by_name_kind(btf, "xa_node", BTF_KIND_STRUCT));
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->size, lay.node_size);
	t = btf__type_by_id(btf, btf__find_by_name_kind(btf, "idr", BTF_KIND_STRUCT));
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->size, lay.idr_size);
	btf__free(mine);
	btf__free(btf);
}
END_TEST

START_TEST(test_layout_errors)
{
	struct bw_xa_layout xl;
	struct bw_error err = { 0 };
	struct btf *btf = test_btf_new();
	int u8 = test_btf_u8(btf), xarray;

	/* No xarray types at all. */
	ck_assert_int_eq(bw_xa_layout_from_btf(btf, &xl, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "no struct or union named \"xarray\""));

	/* xa_node.slots that is a pointer, not an array. */
	xarray = test_btf_struct(btf, "xarray", 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("xa_head", test_btf_ptr(btf, 0), 8),
		TEST_BTF_END,
	});
	test_btf_struct(btf, "xa_node", 48, (struct test_btf_field[]){
		TEST_BTF_FIELD("shift", u8, 0),
		TEST_BTF_FIELD("offset", u8, 1),
		TEST_BTF_FIELD("slots", test_btf_ptr(btf, 0), 40),
		TEST_BTF_END,
	});
	test_btf_struct(btf, "idr", 24, (struct test_btf_field[]){
		TEST_BTF_FIELD("idr_rt", xarray, 0),
		TEST_BTF_FIELD("idr_base", test_btf_u32(btf), 16),
		TEST_BTF_FIELD("idr_next", test_btf_u32(btf), 20),
		TEST_BTF_END,
	});
	ck_assert_int_eq(bw_xa_layout_from_btf(btf, &xl, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "xarray layout from BTF: xa_node.slots is not an array");
	btf__free(btf);

	/* shift wider than a byte. */
	btf = test_btf_new();
	test_btf_struct(btf, "xa_node", 48, (struct test_btf_field[]){
		TEST_BTF_FIELD("shift", test_btf_u32(btf), 0),
		TEST_BTF_END,
	});
	test_btf_struct(btf, "xarray", 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("xa_head", test_btf_ptr(btf, 0), 8),
		TEST_BTF_END,
	});
	ck_assert_int_eq(bw_xa_layout_from_btf(btf, &xl, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "xarray layout from BTF: xa_node.shift is 4 bytes, expected 1");
	ck_assert_int_eq(bw_xa_layout_from_btf(btf, &xl, NULL), -EINVAL);
	btf__free(btf);
}
END_TEST

START_TEST(test_empty)
{
	struct env e;

	env_init(&e, 6, false, 0);
	expect_walk_ok(&e, walk(&e));
	expect_indices(&e, NULL, 0);
	ck_assert_uint_eq(e.st.nodes, 0);
	ck_assert_uint_eq(e.mem->reads, 1);	/* xa_head only */
	env_free(&e);
}
END_TEST

START_TEST(test_single_at_zero_is_direct)
{
	struct env e;
	const uint64_t want[] = { 0 };
	uint64_t head;

	env_init(&e, 6, false, 0);
	test_xa_store(&e.xa, 0, ptr_for(0));
	memcpy(&head, test_mem_at(e.mem, test_xa_head_addr(&e.xa), 8), 8);
	ck_assert_uint_eq(head, ptr_for(0));
	expect_walk_ok(&e, walk(&e));
	expect_indices(&e, want, 1);
	ck_assert_uint_eq(e.st.nodes, 0);
	env_free(&e);
}
END_TEST

START_TEST(test_single_at_five_needs_node)
{
	struct env e;
	const uint64_t want[] = { 5 };

	env_init(&e, 6, false, 0);
	test_xa_store(&e.xa, 5, ptr_for(5));
	ck_assert_uint_eq(head_node(&e), ARENA);
	expect_walk_ok(&e, walk(&e));
	expect_indices(&e, want, 1);
	ck_assert_uint_eq(e.st.nodes, 1);
	ck_assert_uint_eq(e.mem->reads, 2);	/* head, one node read whole */
	env_free(&e);
}
END_TEST

START_TEST(test_dense_two_levels)
{
	struct env e;
	uint64_t want[200];

	env_init(&e, 6, false, 0);
	for (uint64_t i = 1; i <= 200; i++) {
		test_xa_store(&e.xa, i, ptr_for(i));
		want[i - 1] = i;
	}
	/* A root with shift 6 over four leaves. */
	ck_assert_uint_eq(*(uint8_t *)test_mem_at(e.mem, head_node(&e) + e.lay.node_shift, 1), 6);
	ck_assert_uint_eq(e.xa.used, 5);
	expect_walk_ok(&e, walk(&e));
	expect_indices(&e, want, 200);
	ck_assert_uint_eq(e.st.nodes, 5);
	ck_assert_uint_eq(e.mem->reads, 6);
	env_free(&e);
}
END_TEST

START_TEST(test_sparse_four_levels)
{
	struct env e;
	const uint64_t want[] = { 1, 70, 5000, 300000 };

	env_init(&e, 6, false, 0);
	/* Inserted out of order: the tree grows at the top twice. */
	test_xa_store(&e.xa, 5000, ptr_for(5000));
	test_xa_store(&e.xa, 1, ptr_for(1));
	test_xa_store(&e.xa, 300000, ptr_for(300000));
	test_xa_store(&e.xa, 70, ptr_for(70));
	/* 300000 >= 64^3: the root has shift 18, four levels. */
	ck_assert_uint_eq(*(uint8_t *)test_mem_at(e.mem, head_node(&e) + e.lay.node_shift, 1), 18);
	expect_walk_ok(&e, walk(&e));
	expect_indices(&e, want, 4);
	ck_assert_uint_eq(e.st.nodes, e.xa.used);
	env_free(&e);
}
END_TEST

START_TEST(test_removed_entries)
{
	struct env e;
	uint64_t want[100];
	size_t n = 0;

	env_init(&e, 6, false, 0);
	for (uint64_t i = 0; i < 130; i++)
		test_xa_store(&e.xa, i, ptr_for(i));
	for (uint64_t i = 10; i <= 20; i++)
		test_xa_store(&e.xa, i, 0);
	for (uint64_t i = 64; i < 128; i++)
		test_xa_store(&e.xa, i, 0);	/* a whole leaf left empty */
	test_xa_store(&e.xa, 0, 0);
	for (uint64_t i = 1; i < 130; i++)
		if (!(i >= 10 && i <= 20) && !(i >= 64 && i < 128))
			want[n++] = i;
	expect_walk_ok(&e, walk(&e));
	expect_indices(&e, want, n);
	ck_assert_uint_eq(e.st.nodes, 4);
	env_free(&e);
}
END_TEST

START_TEST(test_special_entries_skipped)
{
	struct env e;
	const uint64_t want[] = { 1, 6, 64, 4000 };

	env_init(&e, 6, false, 0);
	test_xa_store(&e.xa, 1, ptr_for(1));
	test_xa_store(&e.xa, 2, TEST_XA_RETRY_ENTRY);
	test_xa_store(&e.xa, 3, TEST_XA_ZERO_ENTRY);
	test_xa_store(&e.xa, 4, test_xa_mk_value(12345));
	test_xa_store(&e.xa, 5, test_xa_mk_internal(4));	/* sibling of slot 4 */
	test_xa_store(&e.xa, 6, ptr_for(6));
	test_xa_store(&e.xa, 7, test_xa_mk_value(0));
	test_xa_store(&e.xa, 8, 0x3);			/* value entry, tag bits 11 */
	test_xa_store(&e.xa, 4000, ptr_for(4000));
	/* A multi-index entry stored in the root (shift 6): reported once at 64. */
	put_slot(&e, head_node(&e), 1, ptr_for(64));
	expect_walk_ok(&e, walk(&e));
	expect_indices(&e, want, 4);
	ck_assert_uint_eq(e.st.retries, 1);
	ck_assert_uint_eq(e.st.skipped, 5);
	env_free(&e);
}
END_TEST

START_TEST(test_special_heads)
{
	const uint64_t heads[] = { TEST_XA_RETRY_ENTRY, TEST_XA_ZERO_ENTRY, 0x1234567 | 1 };
	struct env e;

	env_init(&e, 6, false, 0);
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), heads[i]);
		expect_walk_ok(&e, walk(&e));
		expect_indices(&e, NULL, 0);
		ck_assert_uint_eq(e.st.retries + e.st.skipped, 1);
	}
	/* A sibling in xa_head is never valid. */
	test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), test_xa_mk_internal(3));
	expect_walk_error(&e, walk(&e), -EINVAL, "xa_head holds internal entry 0xe");
	env_free(&e);
}
END_TEST

START_TEST(test_idr_ids)
{
	struct env e;
	const uint64_t ids[] = { 1, 2, 3, 64, 65, 1000 };
	struct seen *s = &e.seen;
	uint32_t next = 0;

	env_init(&e, 6, true, 1);
	for (size_t i = 0; i < 6; i++)
		test_idr_store(&e.xa, ids[i], ptr_for(ids[i]));
	/* id 1 sits at index 0, so 64 is index 63 and 65 the first of leaf 2. */
	ck_assert_uint_ne(test_xa_node(&e.xa, 63, 0), 0);
	ck_assert_uint_ne(test_xa_node(&e.xa, 64, 0), test_xa_node(&e.xa, 63, 0));
	expect_walk_ok(&e, walk_idr(&e));
	expect_indices(&e, ids, 6);
	/* The same tree as a bare xarray reports indices, not ids. */
	expect_walk_ok(&e, walk(&e));
	ck_assert_uint_eq(s->n, 6);
	for (size_t i = 0; i < 6; i++)
		ck_assert_uint_eq(s->index[i], ids[i] - 1);

	test_mem_put_u32(e.mem, XA_ADDR + e.lay.idr_next, 1001);
	ck_assert_int_eq(bw_idr_next(&e.as, &e.xl, XA_ADDR, &next, &e.err), 0);
	ck_assert_uint_eq(next, 1001);
	ck_assert_int_eq(bw_idr_next(&e.as, &e.xl, UNMAPPED_NODE, &next, &e.err), -EFAULT);
	ck_assert_ptr_nonnull(strstr(e.err.msg, "reading idr_next"));
	env_free(&e);
}
END_TEST

START_TEST(test_idr_base_zero_and_unreadable)
{
	struct env e;
	const uint64_t ids[] = { 0, 7 };

	env_init(&e, 6, true, 0);
	test_idr_store(&e.xa, 0, ptr_for(0));
	test_idr_store(&e.xa, 7, ptr_for(7));
	expect_walk_ok(&e, walk_idr(&e));
	expect_indices(&e, ids, 2);
	ck_assert_int_eq(bw_idr_walk(&e.as, &e.xl, UNMAPPED_NODE, collect, &e.seen, NULL,
				     &e.err), -EFAULT);
	ck_assert_ptr_nonnull(strstr(e.err.msg, "reading idr_base"));
	env_free(&e);
}
END_TEST

START_TEST(test_small_chunks_from_btf)
{
	struct env e;
	const uint64_t want[] = { 1, 15, 16, 255, 256, 70000 };

	/* CONFIG_BASE_SMALL: 16 slots per node, shift steps of 4. */
	env_init(&e, 4, false, 0);
	ck_assert_uint_eq(e.xl.chunk_size, 16);
	for (size_t i = 0; i < 6; i++)
		test_xa_store(&e.xa, want[i], ptr_for(want[i]));
	/* 70000 >= 16^4: root shift 16, five levels. */
	ck_assert_uint_eq(*(uint8_t *)test_mem_at(e.mem, head_node(&e) + e.lay.node_shift, 1), 16);
	expect_walk_ok(&e, walk(&e));
	expect_indices(&e, want, 6);
	ck_assert_uint_eq(e.st.nodes, e.xa.used);
	env_free(&e);
}
END_TEST

START_TEST(test_callback_stops_walk)
{
	struct env e;

	env_init(&e, 6, false, 0);
	for (uint64_t i = 1; i <= 100; i++)
		test_xa_store(&e.xa, i, ptr_for(i));
	e.seen.stop_after = 3;
	e.mem->reads = 0;
	ck_assert_int_eq(bw_xa_walk(&e.as, &e.xl, XA_ADDR, collect, &e.seen, &e.st, &e.err), 42);
	ck_assert_uint_eq(e.seen.n, 3);
	ck_assert_uint_eq(e.seen.index[2], 3);
	ck_assert_uint_eq(e.st.entries, 3);
	ck_assert_uint_eq(e.st.nodes, 2);	/* root and the first leaf only */
	env_free(&e);
}
END_TEST

/* ---- garbage ---- */

START_TEST(test_unmapped_node)
{
	struct env e;

	env_init(&e, 6, false, 0);
	test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), test_xa_mk_node(UNMAPPED_NODE));
	expect_walk_error(&e, walk(&e), -EFAULT, "reading node 0xffff888300000000 (xa_head)");
	ck_assert_ptr_nonnull(strstr(e.err.msg, "xarray at 0xffffffff83a10000"));

	/* The same one level down. */
	test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), 0);
	for (uint64_t i = 1; i <= 100; i++)
		test_xa_store(&e.xa, i, ptr_for(i));
	put_slot(&e, head_node(&e), 1, test_xa_mk_node(UNMAPPED_NODE));
	expect_walk_error(&e, walk(&e), -EFAULT, "(slot 1 of node 0xffff888104");
	/* Entries before the bad node were reported; the walk stopped there. */
	ck_assert_uint_eq(e.seen.n, 63);
	env_free(&e);
}
END_TEST

START_TEST(test_node_not_kernel_address)
{
	struct env e;

	env_init(&e, 6, false, 0);
	test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), test_xa_mk_node(0x7fffdeadb000ULL));
	expect_walk_error(&e, walk(&e), -EINVAL, "points at node 0x7fffdeadb000, which is not "
			  "an aligned kernel address");
	ck_assert_uint_eq(e.mem->reads, 1);
	/* Below the 5-level kernel half. */
	test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), test_xa_mk_node(0xfe00000000000000ULL));
	expect_walk_error(&e, walk(&e), -EINVAL, "not an aligned kernel address");
	/* Misaligned: ...04 | 2. */
	test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), ARENA + 4 + 2);
	expect_walk_error(&e, walk(&e), -EINVAL, "points at node 0xffff888104000004");
	env_free(&e);
}
END_TEST

START_TEST(test_slot_points_back_at_root)
{
	struct env e;
	uint64_t root, leaf;

	env_init(&e, 6, false, 0);
	for (uint64_t i = 1; i <= 200; i++)
		test_xa_store(&e.xa, i, ptr_for(i));
	root = head_node(&e);
	leaf = test_xa_node(&e.xa, 70, 0);
	ck_assert_uint_ne(leaf, 0);

	/* A leaf slot pointing at the root: a node pointer where entries live. */
	put_slot(&e, leaf, 9, test_xa_mk_node(root));
	expect_walk_error(&e, walk(&e), -EINVAL, "(shift 0) holds node pointer");
	ck_assert_uint_eq(e.mem->reads, 4);	/* head, root, two leaves */
	put_slot(&e, leaf, 9, ptr_for(73));

	/* The root pointing at itself: refused before it is read a second time. */
	put_slot(&e, root, 3, test_xa_mk_node(root));
	expect_walk_error(&e, walk(&e), -ELOOP, "(slot 3 of node 0xffff888104000240) was already "
			  "reached from another slot");
	ck_assert_uint_eq(e.mem->reads, 5);	/* head, root, the leaves of slots 0..2 */
	env_free(&e);
}
END_TEST

/*
 * A cycle ends at the first node reached again, before it is read twice;
 * the shift and offset checks stay as a second line (a loop through a
 * node with the wrong offset is refused by them).
 */
START_TEST(test_cycle_bounded_by_depth)
{
	struct env e;
	uint64_t a, b;

	env_init(&e, 6, false, 0);
	a = test_xa_alloc_node(&e.xa, 12, 0, 0);
	b = test_xa_alloc_node(&e.xa, 6, 0, a);
	put_slot(&e, a, 0, test_xa_mk_node(b));
	put_slot(&e, b, 0, test_xa_mk_node(a));	/* back at its parent */
	test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), test_xa_mk_node(a));
	expect_walk_error(&e, walk(&e), -ELOOP, "graph, not a tree (2 nodes and 0 entries seen)");
	ck_assert_uint_eq(e.st.nodes, 2);
	ck_assert_uint_eq(e.mem->reads, 3);

	/* The same loop through slot 0 of a node with the right shift but wrong offset. */
	put_slot(&e, a, 0, 0);
	put_slot(&e, a, 5, test_xa_mk_node(b));
	expect_walk_error(&e, walk(&e), -EINVAL, "records offset 0: it does not belong there");
	env_free(&e);
}
END_TEST

START_TEST(test_shift_does_not_decrease)
{
	struct env e;
	uint64_t root, child;

	env_init(&e, 6, false, 0);
	for (uint64_t i = 1; i <= 200; i++)
		test_xa_store(&e.xa, i, ptr_for(i));
	root = head_node(&e);
	child = test_xa_node(&e.xa, 130, 0);
	put_byte(&e, child + e.lay.node_shift, 6);	/* same as its parent */
	expect_walk_error(&e, walk(&e), -EINVAL, "has shift 6; its parent's shift minus 6 is 0");
	put_byte(&e, child + e.lay.node_shift, 0);

	/* Root shifts that are no multiple of 6, or beyond 64-bit indices. */
	put_byte(&e, root + e.lay.node_shift, 7);
	expect_walk_error(&e, walk(&e), -EINVAL, "has shift 7; expected a multiple of 6 up to 60");
	put_byte(&e, root + e.lay.node_shift, 66);
	expect_walk_error(&e, walk(&e), -EINVAL, "has shift 66");
	put_byte(&e, root + e.lay.node_shift, 6);
	expect_walk_ok(&e, walk(&e));
	ck_assert_uint_eq(e.seen.n, 200);
	env_free(&e);
}
END_TEST

START_TEST(test_bad_internal_and_overflow)
{
	struct env e;
	uint64_t root, leaf;

	env_init(&e, 6, false, 0);
	for (uint64_t i = 1; i <= 10; i++)
		test_xa_store(&e.xa, i, ptr_for(i));
	leaf = head_node(&e);
	put_slot(&e, leaf, 20, test_xa_mk_internal(100));
	expect_walk_error(&e, walk(&e), -EINVAL, "slot 20 of node 0xffff888104000000 holds "
			  "internal entry 0x192, which the kernel never stores");
	put_slot(&e, leaf, 20, test_xa_mk_internal((uint64_t)-12));	/* -ENOMEM as an entry */
	expect_walk_error(&e, walk(&e), -EINVAL, "internal entry 0xffffffffffffffd2");
	put_slot(&e, leaf, 20, 0);

	/* A root with shift 60: slots from 16 on would index past 2^64. */
	root = test_xa_alloc_node(&e.xa, 60, 0, 0);
	test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), test_xa_mk_node(root));
	put_slot(&e, root, 15, ptr_for(1));
	expect_walk_ok(&e, walk(&e));
	ck_assert_uint_eq(e.seen.n, 1);
	ck_assert_uint_eq(e.seen.index[0], 15ULL << 60);
	put_slot(&e, root, 16, ptr_for(2));
	expect_walk_error(&e, walk(&e), -EINVAL, "lies beyond index 2^64");
	env_free(&e);
}
END_TEST

START_TEST(test_random_nodes)
{
	int errors = 0, runs = 0;

	for (uint64_t seed = 1; seed <= 400; seed++) {
		struct env e;
		uint8_t *arena;
		int ret;

		env_init(&e, 6, false, 0);
		arena = test_mem_at(e.mem, ARENA, 9 * e.lay.node_size);
		test_fill_random(arena, 9 * e.lay.node_size, seed);
		if (seed % 2) {
			/* A random root. */
			test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), test_xa_mk_node(ARENA));
		} else {
			/* A sound root whose eight children are random bytes. */
			uint64_t root = ARENA + 8 * e.lay.node_size;

			memset(test_mem_at(e.mem, root, e.lay.node_size), 0, e.lay.node_size);
			put_byte(&e, root + e.lay.node_shift, 6);
			for (unsigned int k = 0; k < 8; k++)
				put_slot(&e, root, k, test_xa_mk_node(ARENA + k * e.lay.node_size));
			test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), test_xa_mk_node(root));
		}
		ret = walk(&e);
		runs++;
		if (ret < 0) {
			errors++;
			ck_assert_int_eq(e.err.code, ret);
			ck_assert_uint_gt(strlen(e.err.msg), 0);
		}
		/* Random slots never lead anywhere mapped but the arena itself. */
		ck_assert_uint_le(e.mem->reads, 10);
		ck_assert_uint_le(e.st.nodes, 9);
		env_free(&e);
	}
	/* A random node almost never passes the shift, offset and entry checks. */
	ck_assert_int_ge(errors, runs * 9 / 10);
}
END_TEST

/*
 * 64 nodes per level, each node's slot k pointing at node k of the next
 * level: every shift and offset is right, but 257 nodes in memory would
 * make 1 + 64 + 64^2 + 64^3 + 64^4 visits.  The second visit of a node
 * stops the walk, after fewer reads than there are nodes, naming it.
 */
START_TEST(test_dag_detected)
{
	struct env e;
	uint64_t root, level[4][64];
	char want[128];
	int ret;

	env_init(&e, 6, false, 0);
	root = test_xa_alloc_node(&e.xa, 24, 0, 0);
	for (unsigned int l = 0; l < 4; l++)
		for (unsigned int k = 0; k < 64; k++)
			level[l][k] = test_xa_alloc_node(&e.xa, 18 - 6 * l, k, 0);
	for (unsigned int k = 0; k < 64; k++)
		put_slot(&e, root, k, test_xa_mk_node(level[0][k]));
	for (unsigned int l = 0; l < 3; l++)
		for (unsigned int n = 0; n < 64; n++)
			for (unsigned int k = 0; k < 64; k++)
				put_slot(&e, level[l][n], k, test_xa_mk_node(level[l + 1][k]));
	put_slot(&e, level[3][5], 7, ptr_for(1));
	test_mem_put_u64(e.mem, test_xa_head_addr(&e.xa), test_xa_mk_node(root));

	ret = walk(&e);
	snprintf(want, sizeof(want), "node %#" PRIx64 " (slot 0 of node %#" PRIx64 ") was already "
		 "reached", level[3][0], level[2][1]);
	expect_walk_error(&e, ret, -ELOOP, want);
	ck_assert_ptr_nonnull(strstr(e.err.msg, "not a tree (69 nodes and 1 entries seen)"));
	/* Root, one node of levels 0..2, all 64 of level 3, then level 2's second node. */
	ck_assert_uint_eq(e.st.nodes, 69);
	ck_assert_uint_le(e.mem->reads, 71);
	env_free(&e);
}
END_TEST

START_TEST(test_bad_layout)
{
	struct env e;
	struct bw_xa_layout bad;

	env_init(&e, 6, false, 0);
	bad = e.xl;
	bad.chunk_size = 1000;
	expect_walk_error(&e, bw_xa_walk(&e.as, &bad, XA_ADDR, collect, &e.seen, NULL, &e.err),
			  -EINVAL, "slots per node");
	bad = e.xl;
	bad.chunk_size = 0;
	bad.chunk_shift = 0;
	expect_walk_error(&e, bw_xa_walk(&e.as, &bad, XA_ADDR, collect, &e.seen, NULL, &e.err),
			  -EINVAL, "slots per node");
	bad = e.xl;
	bad.node_slots = 1u << 20;
	expect_walk_error(&e, bw_xa_walk(&e.as, &bad, XA_ADDR, collect, &e.seen, NULL, &e.err),
			  -EINVAL, "at most 4096 expected");
	ck_assert_int_eq(bw_xa_walk(&e.as, &e.xl, XA_ADDR, NULL, NULL, NULL, NULL), -EINVAL);
	env_free(&e);
}
END_TEST

static Suite *xarray_suite(void)
{
	Suite *s = suite_create("xarray");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_layout_from_btf);
	tcase_add_test(tc, test_layout_matches_real_kernel);
	tcase_add_test(tc, test_layout_errors);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_single_at_zero_is_direct);
	tcase_add_test(tc, test_single_at_five_needs_node);
	tcase_add_test(tc, test_dense_two_levels);
	tcase_add_test(tc, test_sparse_four_levels);
	tcase_add_test(tc, test_removed_entries);
	tcase_add_test(tc, test_special_entries_skipped);
	tcase_add_test(tc, test_special_heads);
	tcase_add_test(tc, test_idr_ids);
	tcase_add_test(tc, test_idr_base_zero_and_unreadable);
	tcase_add_test(tc, test_small_chunks_from_btf);
	tcase_add_test(tc, test_callback_stops_walk);
	tcase_add_test(tc, test_unmapped_node);
	tcase_add_test(tc, test_node_not_kernel_address);
	tcase_add_test(tc, test_slot_points_back_at_root);
	tcase_add_test(tc, test_cycle_bounded_by_depth);
	tcase_add_test(tc, test_shift_does_not_decrease);
	tcase_add_test(tc, test_bad_internal_and_overflow);
	tcase_add_test(tc, test_random_nodes);
	tcase_add_test(tc, test_dag_detected);
	tcase_add_test(tc, test_bad_layout);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(xarray_suite)
