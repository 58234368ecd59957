/* SPDX-License-Identifier: MIT */
#include "util_btf.h"

#include <stdio.h>
#include <string.h>

struct btf *test_btf_new(void)
{
	struct btf *btf = btf__new_empty();

	ck_assert_ptr_nonnull(btf);
	return btf;
}

static int checked(int id, const char *what)
{
	ck_assert_msg(id > 0, "BTF writer: adding %s failed (%d)", what, id);
	return id;
}

int test_btf_int(struct btf *btf, const char *name, size_t bytes, bool is_signed)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_INT);

	if (id > 0)
		return id;
	return checked(btf__add_int(btf, name, bytes, is_signed ? BTF_INT_SIGNED : 0), name);
}

int test_btf_typedef(struct btf *btf, const char *name, int target)
{
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);

	if (id > 0)
		return id;
	return checked(btf__add_typedef(btf, name, target), name);
}

/* name -> __name -> base, the kernel's typedef chain for fixed-width ints. */
static int fixed_int(struct btf *btf, const char *name, const char *base, size_t bytes,
		     bool is_signed)
{
	char inner[16];
	int id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);

	if (id > 0)
		return id;
	snprintf(inner, sizeof(inner), "__%s", name);
	return test_btf_typedef(btf, name, test_btf_typedef(btf, inner,
					test_btf_int(btf, base, bytes, is_signed)));
}

int test_btf_u8(struct btf *btf) { return fixed_int(btf, "u8", "unsigned char", 1, false); }
int test_btf_u16(struct btf *btf) { return fixed_int(btf, "u16", "short unsigned int", 2, false); }
int test_btf_u32(struct btf *btf) { return fixed_int(btf, "u32", "unsigned int", 4, false); }
int test_btf_u64(struct btf *btf) { return fixed_int(btf, "u64", "long long unsigned int", 8, false); }
int test_btf_s32(struct btf *btf) { return fixed_int(btf, "s32", "int", 4, true); }
int test_btf_s64(struct btf *btf) { return fixed_int(btf, "s64", "long long int", 8, true); }
int test_btf_uint(struct btf *btf) { return test_btf_int(btf, "unsigned int", 4, false); }
int test_btf_ulong(struct btf *btf) { return test_btf_int(btf, "long unsigned int", 8, false); }
int test_btf_char(struct btf *btf) { return test_btf_int(btf, "char", 1, true); }

int test_btf_bool(struct btf *btf)
{
	int id = btf__find_by_name_kind(btf, "_Bool", BTF_KIND_INT);

	if (id > 0)
		return id;
	return checked(btf__add_int(btf, "_Bool", 1, BTF_INT_BOOL), "_Bool");
}

int test_btf_ptr(struct btf *btf, int target)
{
	return checked(btf__add_ptr(btf, target), "a pointer");
}

int test_btf_array(struct btf *btf, int elem, uint32_t nelems)
{
	/* The index type is irrelevant to layout; the kernel uses int. */
	return checked(btf__add_array(btf, test_btf_int(btf, "int", 4, true), elem, nelems),
		       "an array");
}

static int composite(struct btf *btf, bool is_union, const char *name, uint32_t size,
		     const struct test_btf_field *fields)
{
	int id = is_union ? btf__add_union(btf, name, size) : btf__add_struct(btf, name, size);

	checked(id, name ? name : "an anonymous struct/union");
	for (const struct test_btf_field *f = fields; f && f->type; f++) {
		const char *fname = f->name && *f->name ? f->name : NULL;
		int ret = btf__add_field(btf, fname, f->type, f->bit_offset, f->bitfield_bits);

		ck_assert_msg(ret == 0, "BTF writer: adding field %s to %s failed (%d)",
			      fname ? fname : "(anonymous)", name ? name : "(anonymous)", ret);
	}
	return id;
}

int test_btf_struct(struct btf *btf, const char *name, uint32_t size,
		    const struct test_btf_field *fields)
{
	return composite(btf, false, name, size, fields);
}

int test_btf_union(struct btf *btf, const char *name, uint32_t size,
		   const struct test_btf_field *fields)
{
	return composite(btf, true, name, size, fields);
}

/*
 * A pointer to the type that will be added right after it: how a struct
 * gets a pointer to itself, since its members must be added immediately
 * after the struct.  The caller asserts the struct got the expected id.
 */
static int ptr_to_next(struct btf *btf, int skip)
{
	int next = (int)btf__type_cnt(btf);

	return test_btf_ptr(btf, next + 1 + skip);
}

/* struct list_head { struct list_head *next, *prev; } */
static int add_list_head(struct btf *btf)
{
	int p = ptr_to_next(btf, 0);
	int id = test_btf_struct(btf, "list_head", 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("next", p, 0),
		TEST_BTF_FIELD("prev", p, 8),
		TEST_BTF_END,
	});

	ck_assert_int_eq(id, p + 1);
	return id;
}

/* struct callback_head { struct callback_head *next; void (*func)(struct callback_head *); } */
static int add_callback_head(struct btf *btf)
{
	int p = ptr_to_next(btf, 2);	/* the proto and its pointer come between */
	int proto = checked(btf__add_func_proto(btf, 0), "a function prototype");
	int fp, id;

	ck_assert_int_eq(btf__add_func_param(btf, NULL, p), 0);
	fp = test_btf_ptr(btf, proto);
	id = test_btf_struct(btf, "callback_head", 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("next", p, 0),
		TEST_BTF_FIELD("func", fp, 8),
		TEST_BTF_END,
	});
	ck_assert_int_eq(id, p + 3);
	return id;
}

/* spinlock_t as a non-debug x86_64 kernel has it: a 4-byte qspinlock. */
static int add_spinlock_t(struct btf *btf)
{
	int u8 = test_btf_u8(btf), u16 = test_btf_u16(btf);
	int counter = test_btf_struct(btf, NULL, 4, (struct test_btf_field[]){
		TEST_BTF_FIELD("counter", test_btf_int(btf, "int", 4, true), 0),
		TEST_BTF_END,
	});
	int atomic_t = test_btf_typedef(btf, "atomic_t", counter);
	int bytes = test_btf_struct(btf, NULL, 2, (struct test_btf_field[]){
		TEST_BTF_FIELD("locked", u8, 0),
		TEST_BTF_FIELD("pending", u8, 1),
		TEST_BTF_END,
	});
	int halves = test_btf_struct(btf, NULL, 4, (struct test_btf_field[]){
		TEST_BTF_FIELD("locked_pending", u16, 0),
		TEST_BTF_FIELD("tail", u16, 2),
		TEST_BTF_END,
	});
	int val = test_btf_union(btf, NULL, 4, (struct test_btf_field[]){
		TEST_BTF_FIELD("val", atomic_t, 0),
		TEST_BTF_FIELD(NULL, bytes, 0),
		TEST_BTF_FIELD(NULL, halves, 0),
		TEST_BTF_END,
	});
	int qspinlock = test_btf_struct(btf, "qspinlock", 4, (struct test_btf_field[]){
		TEST_BTF_FIELD(NULL, val, 0),
		TEST_BTF_END,
	});
	int arch = test_btf_typedef(btf, "arch_spinlock_t", qspinlock);
	int raw = test_btf_struct(btf, "raw_spinlock", 4, (struct test_btf_field[]){
		TEST_BTF_FIELD("raw_lock", arch, 0),
		TEST_BTF_END,
	});
	int rlock = test_btf_union(btf, NULL, 4, (struct test_btf_field[]){
		TEST_BTF_FIELD("rlock", raw, 0),
		TEST_BTF_END,
	});
	int spinlock = test_btf_struct(btf, "spinlock", 4, (struct test_btf_field[]){
		TEST_BTF_FIELD(NULL, rlock, 0),
		TEST_BTF_END,
	});

	return test_btf_typedef(btf, "spinlock_t", spinlock);
}

void test_btf_add_xarray(struct btf *btf, unsigned int chunk_shift, struct test_btf_xa *out)
{
	struct test_btf_xa x = { 0 };
	int uchar, uint, ulong, spinlock_t, list_head, callback_head, lists, slots, marks,
	    mark_union, parent;
	uint32_t mark_longs;

	ck_assert_uint_ge(chunk_shift, 1);
	ck_assert_uint_le(chunk_shift, 8);
	x.chunk_shift = chunk_shift;
	x.chunk_size = 1u << chunk_shift;
	mark_longs = (x.chunk_size + 63) / 64;	/* XA_MARK_LONGS */

	uchar = test_btf_int(btf, "unsigned char", 1, false);
	uint = test_btf_uint(btf);
	ulong = test_btf_ulong(btf);
	spinlock_t = add_spinlock_t(btf);

	x.xarray_size = 16;
	x.xa_head = 8;
	x.xarray_id = test_btf_struct(btf, "xarray", 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("xa_lock", spinlock_t, 0),
		TEST_BTF_FIELD("xa_flags", test_btf_typedef(btf, "gfp_t", uint), 4),
		TEST_BTF_FIELD("xa_head", test_btf_ptr(btf, 0), 8),
		TEST_BTF_END,
	});

	list_head = add_list_head(btf);
	callback_head = add_callback_head(btf);
	lists = test_btf_union(btf, NULL, 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("private_list", list_head, 0),
		TEST_BTF_FIELD("callback_head", callback_head, 0),
		TEST_BTF_END,
	});
	slots = test_btf_array(btf, test_btf_ptr(btf, 0), x.chunk_size);
	marks = test_btf_array(btf, test_btf_array(btf, ulong, mark_longs), 3);
	mark_union = test_btf_union(btf, NULL, 3 * mark_longs * 8, (struct test_btf_field[]){
		TEST_BTF_FIELD("tags", marks, 0),
		TEST_BTF_FIELD("marks", marks, 0),
		TEST_BTF_END,
	});

	x.node_shift = 0;
	x.node_offset = 1;
	x.node_count = 2;
	x.node_parent = 8;
	x.node_array = 16;
	x.node_slots = 40;
	x.node_marks = x.node_slots + 8ull * x.chunk_size;
	x.node_size = x.node_marks + 3ull * mark_longs * 8;
	{
		int array = test_btf_ptr(btf, x.xarray_id);

		parent = ptr_to_next(btf, 0);
		x.xa_node_id = test_btf_struct(btf, "xa_node", (uint32_t)x.node_size,
			(struct test_btf_field[]){
			TEST_BTF_FIELD("shift", uchar, 0),
			TEST_BTF_FIELD("offset", uchar, 1),
			TEST_BTF_FIELD("count", uchar, 2),
			TEST_BTF_FIELD("nr_values", uchar, 3),
			TEST_BTF_FIELD("parent", parent, 8),
			TEST_BTF_FIELD("array", array, 16),
			TEST_BTF_FIELD(NULL, lists, 24),
			TEST_BTF_FIELD("slots", slots, 40),
			TEST_BTF_FIELD(NULL, mark_union, (uint32_t)x.node_marks),
			TEST_BTF_END,
		});
		ck_assert_int_eq(x.xa_node_id, parent + 1);
	}

	x.idr_size = 24;
	x.idr_rt = 0;
	x.idr_base = 16;
	x.idr_next = 20;
	x.idr_id = test_btf_struct(btf, "idr", 24, (struct test_btf_field[]){
		TEST_BTF_FIELD("idr_rt", x.xarray_id, 0),
		TEST_BTF_FIELD("idr_base", uint, 16),
		TEST_BTF_FIELD("idr_next", uint, 20),
		TEST_BTF_END,
	});
	if (out)
		*out = x;
}

struct btf *test_btf_new_xarray(unsigned int chunk_shift, struct test_btf_xa *out)
{
	struct btf *btf = test_btf_new();

	test_btf_add_xarray(btf, chunk_shift, out);
	return btf;
}

/* ---- an xarray in test memory ---- */

static bool mem_has(struct test_mem *mem, uint64_t addr, size_t size)
{
	for (unsigned int i = 0; i < mem->nranges; i++) {
		uint64_t start = mem->ranges[i].addr;

		if (addr >= start && addr - start <= mem->ranges[i].size &&
		    size <= mem->ranges[i].size - (addr - start))
			return true;
	}
	return false;
}

static void ensure(struct test_mem *mem, uint64_t addr, size_t size)
{
	if (!mem_has(mem, addr, size))
		test_mem_add(mem, addr, size);
	memset(test_mem_at(mem, addr, size), 0, size);
}

static uint64_t get_u64(struct test_xa *xa, uint64_t addr)
{
	uint64_t v;

	memcpy(&v, test_mem_at(xa->mem, addr, 8), 8);
	return v;
}

static bool is_node(uint64_t e)
{
	return (e & 3) == 2 && e > 4096;
}

void test_xa_init(struct test_xa *xa, struct test_mem *mem, const struct test_btf_xa *lay,
		  uint64_t xa_addr, uint64_t arena, size_t max_nodes)
{
	memset(xa, 0, sizeof(*xa));
	xa->mem = mem;
	xa->lay = *lay;
	xa->xa_addr = xa_addr;
	xa->arena = arena;
	xa->max_nodes = max_nodes;
	ensure(mem, xa_addr, lay->xarray_size);
	if (max_nodes)
		ensure(mem, arena, max_nodes * lay->node_size);
}

void test_idr_init(struct test_xa *xa, struct test_mem *mem, const struct test_btf_xa *lay,
		   uint64_t idr_addr, uint32_t idr_base, uint32_t idr_next, uint64_t arena,
		   size_t max_nodes)
{
	ensure(mem, idr_addr, lay->idr_size);
	test_xa_init(xa, mem, lay, idr_addr + lay->idr_rt, arena, max_nodes);
	xa->idr_addr = idr_addr;
	xa->idr_base = idr_base;
	test_mem_put_u32(mem, idr_addr + lay->idr_base, idr_base);
	test_mem_put_u32(mem, idr_addr + lay->idr_next, idr_next);
}

uint64_t test_xa_head_addr(const struct test_xa *xa)
{
	return xa->xa_addr + xa->lay.xa_head;
}

uint64_t test_xa_slot_addr(const struct test_xa *xa, uint64_t node, unsigned int k)
{
	ck_assert_uint_lt(k, xa->lay.chunk_size);
	return node + xa->lay.node_slots + 8ull * k;
}

uint64_t test_xa_alloc_node(struct test_xa *xa, unsigned int shift, unsigned int offset,
			    uint64_t parent)
{
	uint64_t node;
	uint8_t *p;

	ck_assert_msg(xa->used < xa->max_nodes, "test xarray: node arena of %zu is full",
		      xa->max_nodes);
	node = xa->arena + xa->used++ * xa->lay.node_size;
	p = test_mem_at(xa->mem, node, xa->lay.node_size);
	memset(p, 0, xa->lay.node_size);
	p[xa->lay.node_shift] = (uint8_t)shift;
	p[xa->lay.node_offset] = (uint8_t)offset;
	test_mem_put_u64(xa->mem, node + xa->lay.node_parent, parent);
	test_mem_put_u64(xa->mem, node + xa->lay.node_array, xa->xa_addr);
	return node;
}

/* Write a slot and keep xa_node.count right, as the kernel does. */
static void set_slot(struct test_xa *xa, uint64_t node, unsigned int k, uint64_t entry)
{
	uint64_t addr = test_xa_slot_addr(xa, node, k);
	uint64_t old = get_u64(xa, addr);
	uint8_t *count = test_mem_at(xa->mem, node + xa->lay.node_count, 1);

	if (!old && entry)
		(*count)++;
	else if (old && !entry)
		(*count)--;
	test_mem_put_u64(xa->mem, addr, entry);
}

static unsigned int node_shift(struct test_xa *xa, uint64_t node)
{
	return *(uint8_t *)test_mem_at(xa->mem, node + xa->lay.node_shift, 1);
}

void test_xa_store(struct test_xa *xa, uint64_t index, uint64_t entry)
{
	const struct test_btf_xa *l = &xa->lay;
	uint64_t head_addr = test_xa_head_addr(xa);
	uint64_t head = get_u64(xa, head_addr);
	uint64_t node;
	unsigned int shift;

	if (!is_node(head)) {
		if (index == 0) {
			test_mem_put_u64(xa->mem, head_addr, entry);
			return;
		}
		/* A direct entry moves into slot 0 of the first node. */
		node = test_xa_alloc_node(xa, 0, 0, 0);
		if (head)
			set_slot(xa, node, 0, head);
		head = test_xa_mk_node(node);
		test_mem_put_u64(xa->mem, head_addr, head);
	}

	/* Grow at the top until the root covers @index (xas_expand). */
	node = head - 2;
	shift = node_shift(xa, node);
	while (shift + l->chunk_shift < 64 && (index >> shift) >= l->chunk_size) {
		uint64_t root = test_xa_alloc_node(xa, shift + l->chunk_shift, 0, 0);

		set_slot(xa, root, 0, test_xa_mk_node(node));
		test_mem_put_u64(xa->mem, node + l->node_parent, root);
		*(uint8_t *)test_mem_at(xa->mem, node + l->node_offset, 1) = 0;
		node = root;
		shift += l->chunk_shift;
		test_mem_put_u64(xa->mem, head_addr, test_xa_mk_node(node));
	}

	/* Walk down, adding missing nodes (xas_create). */
	for (;;) {
		unsigned int k;
		uint64_t child;

		shift = node_shift(xa, node);
		k = (unsigned int)((index >> shift) & (l->chunk_size - 1));
		if (shift == 0) {
			set_slot(xa, node, k, entry);
			return;
		}
		child = get_u64(xa, test_xa_slot_addr(xa, node, k));
		if (!child) {
			if (!entry)
				return;	/* nothing to remove */
			child = test_xa_mk_node(test_xa_alloc_node(xa, shift - l->chunk_shift,
								   k, node));
			set_slot(xa, node, k, child);
		}
		ck_assert_msg(is_node(child), "test xarray: slot %u of node %#llx holds %#llx, "
			      "not a node", k, (unsigned long long)node, (unsigned long long)child);
		node = child - 2;
	}
}

void test_idr_store(struct test_xa *xa, uint64_t id, uint64_t entry)
{
	ck_assert_uint_ge(id, xa->idr_base);
	test_xa_store(xa, id - xa->idr_base, entry);
}

uint64_t test_xa_node(struct test_xa *xa, uint64_t index, unsigned int shift)
{
	uint64_t head = get_u64(xa, test_xa_head_addr(xa));
	uint64_t node;

	if (!is_node(head))
		return 0;
	node = head - 2;
	if (node_shift(xa, node) + xa->lay.chunk_shift < 64 &&
	    (index >> node_shift(xa, node)) >= xa->lay.chunk_size)
		return 0;	/* beyond what the root covers */
	for (;;) {
		unsigned int s = node_shift(xa, node);
		uint64_t child;

		if (s == shift)
			return node;
		if (s < shift)
			return 0;
		child = get_u64(xa, test_xa_slot_addr(xa, node,
				(unsigned int)((index >> s) & (xa->lay.chunk_size - 1))));
		if (!is_node(child))
			return 0;
		node = child - 2;
	}
}
