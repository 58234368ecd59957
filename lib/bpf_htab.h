/* SPDX-License-Identifier: MIT */
/*
 * Reading a BPF hash map (HASH, PERCPU_HASH, LRU_HASH, LRU_PERCPU_HASH)
 * out of guest memory, beside the array reader of the inventory: its
 * buckets are walked entry by entry, bounded and with every pointer
 * checked, and each live entry's key and value address handed to a
 * callback.  Every offset comes from the kernel's BTF.  See bpf_htab.c for
 * the kernel structures and how a lockless walk stays correct.
 */
#ifndef BPFWATCH_BPF_HTAB_H
#define BPFWATCH_BPF_HTAB_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct btf;
struct bw_kernel;

/*
 * Most entries a walked hash map may hold: each costs one read per tick;
 * 1 Mi entries is far above a scheduler's per-task or per-cgroup tables
 * (pid_max is 4 Mi, but sched_ext keeps per-task data in task storage).
 */
#define BW_HTAB_MAX_ENTRIES (1u << 20)
/* Longest key compared: every map key a watch names is an integer of 1..8 bytes. */
#define BW_HTAB_KEY_MAX 8

/* Most value bytes read with an entry (a watch's leaf sits in the first ones). */
#define BW_HTAB_VALUE_READ_MAX 256

/* Offsets of the kernel's hash table structs, from its BTF. */
struct bw_htab_layout {
	bool ok;			/* all found: hash maps can be read */
	uint64_t htab_map;		/* offsetof(struct bpf_htab, map) */
	uint64_t htab_buckets;		/* struct bucket * */
	uint64_t htab_n_buckets;	/* u32 */
	uint64_t bucket_size;		/* sizeof(struct bucket) */
	uint64_t bucket_head;		/* offsetof(struct bucket, head): a hlist_nulls_head */
	uint64_t head_first;		/* offsetof(struct hlist_nulls_head, first) */
	uint64_t node_next;		/* offsetof(struct hlist_nulls_node, next) */
	uint64_t elem_node;		/* offsetof(struct htab_elem, hash_node) */
	uint64_t elem_key;		/* offsetof(struct htab_elem, key) */
	/* Preallocated elements (optional: without them every entry is read alone). */
	bool has_elems;
	uint64_t htab_elems;		/* void *elems */
	uint64_t htab_elem_size;	/* u32 elem_size */
};

/* Fill @l from the kernel BTF; l->ok false (and a message) when something is missing. */
int bw_htab_layout_init(const struct btf *btf, struct bw_htab_layout *l, struct bw_error *err);

/* One hash map as a walk needs it; bw_htab_open() fills it. */
struct bw_htab {
	uint64_t buckets;		/* VA of buckets[0] */
	uint32_t n_buckets;
	uint32_t max_entries, key_size;
	bool percpu;			/* values are per-CPU pointers */
	uint64_t scratch_size;		/* bytes the walk's scratch needs: buckets, then elements */
	/*
	 * A preallocated table keeps every element in one area (htab->elems,
	 * max_entries x elem_size): a walk copies it whole, once, and follows
	 * the chains in the copy; 0 when the table is not preallocated.
	 */
	uint64_t elems, elems_bytes;
	uint32_t elem_size;
	/*
	 * Bytes of each entry's value read along with its key (set by the
	 * caller, at most BW_HTAB_VALUE_READ_MAX): the leaf a watch wants,
	 * or the per-CPU pointer, comes with the entry in one read.
	 */
	uint32_t value_read;
};

/*
 * Read and check the hash table behind the struct bpf_map at @map_addr:
 * its buckets pointer (a kernel address), and n_buckets, which the kernel
 * sets to roundup_pow_of_two(max_entries) (htab_map_alloc), so anything
 * else is refused.  Without BPF_F_NO_PREALLOC in @map_flags, the elements
 * area is used when its elem_size is the one the kernel computes.  @key_size is the map's (1..BW_HTAB_KEY_MAX or more:
 * only keys up to that size can be compared).
 */
int bw_htab_open(struct bw_kernel *k, const struct bw_htab_layout *l, uint64_t map_addr,
		 uint32_t max_entries, uint32_t key_size, uint32_t value_size, uint32_t map_flags,
		 bool percpu, struct bw_htab *out, struct bw_error *err);

/*
 * Called for each live entry: @key its first min(key_size, BW_HTAB_KEY_MAX)
 * bytes, zero-padded, as a little-endian integer; @value the VA of its
 * value and @bytes its first h->value_read bytes (for a per-CPU map the
 * value is a per-CPU pointer: read it from @bytes).  A negative return
 * stops the walk with that error (the callback sets @err).
 */
typedef int (*bw_htab_entry_fn)(void *ctx, uint64_t key, uint64_t value, const uint8_t *bytes,
				struct bw_error *err);

/*
 * Walk every bucket of @h once.  @scratch holds @h->scratch_size bytes
 * (allocated once by the caller, so a walk allocates nothing).  Returns
 * the number of entries seen, or a negative errno with a message:
 *   -EFAULT  unreadable buckets or entry, or an entry pointer that is not
 *            a kernel address;
 *   -ELOOP   a chain that comes back on itself;
 *   -E2BIG   more entries than max_entries (a torn or hostile table);
 *   -EAGAIN  a chain that ends in another bucket's end marker: an entry
 *            moved while it was walked (the kernel's own lookups retry);
 *            the caller may walk again.
 */
long bw_htab_walk(struct bw_kernel *k, const struct bw_htab_layout *l, const struct bw_htab *h,
		  uint8_t *scratch, bw_htab_entry_fn fn, void *ctx, struct bw_error *err);

#endif
