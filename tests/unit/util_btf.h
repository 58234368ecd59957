/* SPDX-License-Identifier: MIT */
/*
 * Kernel-like BTF for unit tests, written with libbpf's BTF writer, and
 * guest memory laid out to match it: a decoder under test learns every
 * offset from this BTF exactly as it would from a guest kernel's, so a test
 * never hands it a hard-coded offset.
 *
 * Type helpers find a type again by name when it was already added, so
 * they can be called freely while building field lists.  Every helper
 * aborts the test (ck_assert) when the writer fails.
 */
#ifndef BPFWATCH_TEST_UTIL_BTF_H
#define BPFWATCH_TEST_UTIL_BTF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/btf.h>

#include "util_mem.h"

struct btf *test_btf_new(void);

/* Base types under their kernel spellings ("unsigned int", "long long unsigned int"). */
int test_btf_int(struct btf *btf, const char *name, size_t bytes, bool is_signed);
/* Kernel typedef chains: u8 -> __u8 -> unsigned char, and so on. */
int test_btf_u8(struct btf *btf);
int test_btf_u16(struct btf *btf);
int test_btf_u32(struct btf *btf);
int test_btf_u64(struct btf *btf);
int test_btf_s32(struct btf *btf);
int test_btf_s64(struct btf *btf);
int test_btf_uint(struct btf *btf);	/* unsigned int */
int test_btf_ulong(struct btf *btf);	/* long unsigned int */
int test_btf_char(struct btf *btf);	/* char */
int test_btf_bool(struct btf *btf);	/* _Bool */
/* Found again by name when present. */
int test_btf_typedef(struct btf *btf, const char *name, int target);
/* Always new.  @target 0 makes void *. */
int test_btf_ptr(struct btf *btf, int target);
int test_btf_array(struct btf *btf, int elem, uint32_t nelems);

/*
 * A struct or union member.  A NULL or "" name makes an anonymous member;
 * the list ends with TEST_BTF_END (type 0).
 */
struct test_btf_field {
	const char *name;
	int type;
	uint32_t bit_offset;
	uint32_t bitfield_bits;	/* 0: an ordinary member */
};

#define TEST_BTF_FIELD(name, type, byte_offset) { (name), (type), (byte_offset) * 8u, 0 }
#define TEST_BTF_BITFIELD(name, type, bit_offset, bits) { (name), (type), (bit_offset), (bits) }
#define TEST_BTF_END { NULL, 0, 0, 0 }

/*
 * Add struct/union @name (NULL: anonymous) of @size bytes with @fields.
 * The field types must exist already (they do when the list is a compound
 * literal of helper calls: arguments are evaluated first).
 */
int test_btf_struct(struct btf *btf, const char *name, uint32_t size,
		    const struct test_btf_field *fields);
int test_btf_union(struct btf *btf, const char *name, uint32_t size,
		   const struct test_btf_field *fields);

/*
 * struct xarray, struct xa_node and struct idr as a Linux 7.3 x86_64
 * kernel without lockdep lays them out (spinlock_t is the 4-byte qspinlock
 * with its anonymous unions; xa_node has its anonymous list_head /
 * callback_head union and tags/marks union).  The offsets below are what
 * was written, for tests to lay memory out and to check decoders against.
 */
struct test_btf_xa {
	int xarray_id, xa_node_id, idr_id;
	uint32_t chunk_shift;		/* XA_CHUNK_SHIFT */
	uint32_t chunk_size;		/* XA_CHUNK_SIZE */
	uint64_t xarray_size, xa_head;
	uint64_t node_size, node_shift, node_offset, node_count, node_parent, node_array,
		 node_slots, node_marks;
	uint64_t idr_size, idr_rt, idr_base, idr_next;
};

/* Add the types to @btf; @chunk_shift is 6, or 4 for CONFIG_BASE_SMALL. */
void test_btf_add_xarray(struct btf *btf, unsigned int chunk_shift, struct test_btf_xa *out);
/* A new BTF holding only them. */
struct btf *test_btf_new_xarray(unsigned int chunk_shift, struct test_btf_xa *out);

/* Entry encodings of include/linux/xarray.h. */
static inline uint64_t test_xa_mk_internal(uint64_t v) { return (v << 2) | 2; }
static inline uint64_t test_xa_mk_value(uint64_t v) { return (v << 1) | 1; }
static inline uint64_t test_xa_mk_node(uint64_t node) { return node | 2; }
#define TEST_XA_RETRY_ENTRY ((256ULL << 2) | 2)
#define TEST_XA_ZERO_ENTRY ((257ULL << 2) | 2)

/*
 * A real-format xarray (or idr) in test memory, grown the way lib/xarray.c
 * grows one: index 0 alone lives in xa_head; otherwise nodes are added as
 * needed, a new root taking the old one in slot 0 when an index does not
 * fit.  Nodes come from one arena at a kernel-like address.
 */
struct test_xa {
	struct test_mem *mem;
	struct test_btf_xa lay;
	uint64_t xa_addr;	/* the struct xarray (for an idr: its idr_rt) */
	uint64_t idr_addr;	/* 0 for a bare xarray */
	uint32_t idr_base;
	uint64_t arena;
	size_t max_nodes, used;
};

/*
 * A zeroed struct xarray at @xa_addr and room for @max_nodes nodes at
 * @arena.  Either range may already be test memory (a test laying out a
 * kernel .data section); otherwise it is added.
 */
void test_xa_init(struct test_xa *xa, struct test_mem *mem, const struct test_btf_xa *lay,
		  uint64_t xa_addr, uint64_t arena, size_t max_nodes);
/* The same for a struct idr at @idr_addr, with idr_base and idr_next set. */
void test_idr_init(struct test_xa *xa, struct test_mem *mem, const struct test_btf_xa *lay,
		   uint64_t idr_addr, uint32_t idr_base, uint32_t idr_next, uint64_t arena,
		   size_t max_nodes);
/* Store the raw @entry at @index (0 empties the slot; nodes stay). */
void test_xa_store(struct test_xa *xa, uint64_t index, uint64_t entry);
/* For an idr: store at id @id (index id - idr_base). */
void test_idr_store(struct test_xa *xa, uint64_t id, uint64_t entry);
/* The node with @shift on the path to @index, or 0. */
uint64_t test_xa_node(struct test_xa *xa, uint64_t index, unsigned int shift);
/* Address of slot @k of @node, and of xa_head: to corrupt a tree by hand. */
uint64_t test_xa_slot_addr(const struct test_xa *xa, uint64_t node, unsigned int k);
uint64_t test_xa_head_addr(const struct test_xa *xa);
/* Take a fresh zeroed node from the arena, with @shift and @offset set. */
uint64_t test_xa_alloc_node(struct test_xa *xa, unsigned int shift, unsigned int offset,
			    uint64_t parent);

#endif
