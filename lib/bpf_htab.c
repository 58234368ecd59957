/* SPDX-License-Identifier: MIT */
/*
 * BPF hash maps in guest memory (kernel/bpf/hashtab.c).
 *
 * struct bpf_htab embeds the struct bpf_map (map_idr holds &htab->map)
 * and keeps `struct bucket *buckets` and `u32 n_buckets`, which
 * htab_map_alloc() sets to roundup_pow_of_two(max_entries).  Each struct
 * bucket starts with a struct hlist_nulls_head { first }, and every entry
 * is a struct htab_elem whose hash_node (a struct hlist_nulls_node
 * { next, pprev }) links it into its bucket; the key follows at
 * offsetof(htab_elem, key) and the value at key + round_up(key_size, 8).
 * A per-CPU map (PERCPU_HASH, LRU_PERCPU_HASH) stores a __percpu pointer
 * there instead (htab_elem_get_ptr(); before 6.x the pointer sat at
 * key + key_size, the same place for the 8-byte-multiple keys of those
 * kernels' users).  LRU maps use the same buckets and elements.
 *
 * A "nulls" list ends in a marker with its low bit set instead of NULL:
 * INIT_HLIST_NULLS_HEAD(&buckets[i].head, i) makes bucket i's marker
 * (i << 1) | 1.  Entries are freed and reused under RCU while we read
 * without any lock, so a walk can follow an entry that moved into another
 * bucket; it then ends on that bucket's marker, and the kernel's own
 * lookups (lookup_nulls_elem_raw) retry.  We report -EAGAIN so the caller
 * can walk again.
 *
 * Bounds: a table holds at most max_entries live entries (alloc_htab_elem
 * refuses more), so a walk that meets more stops with -E2BIG; every chain
 * is also checked for a cycle with Brent's algorithm, so a loop is named as
 * one; every pointer must be a kernel address before it is followed.
 */
#include "bpf_htab.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "btf_layout.h"
#include "kernel.h"

#define KERNEL_VA_MIN 0xff00000000000000ULL
/* struct htab_elem is ~48 bytes before its key; a BTF claiming more than 1 KiB is wrong. */
#define ELEM_HEAD_MAX 1024
/* struct bucket is 16 bytes (head and a lock); debug builds make the lock bigger. */
#define BUCKET_SIZE_MAX 256
/* map_flags bit of a table whose elements are allocated one by one (uapi bpf.h). */
#define BPF_F_NO_PREALLOC 1u
/*
 * Largest elements area copied whole per walk: 16 MiB is a few
 * milliseconds of copying; a bigger table is read entry by entry.
 */
#define ELEMS_COPY_MAX (16ULL << 20)

static inline uint64_t get_le(const uint8_t *buf, uint64_t off, unsigned int width)
{
	uint64_t v = 0;

	if (width == 8)
		memcpy(&v, buf + off, 8);	/* one load */
	else
		memcpy(&v, buf + off, width);
	return v;
}

static int member(const struct btf *btf, const char *st, const char *m, uint64_t want,
		  uint64_t *off, struct bw_error *err)
{
	uint64_t size = 0;
	int r = bw_btf_member_offset(btf, st, m, off, NULL, &size, err);

	if (r < 0)
		return r;
	if (want && size != want)
		return bw_error_set(err, -EINVAL, "%s.%s is %" PRIu64 " bytes, expected %" PRIu64,
				    st, m, size, want);
	return 0;
}

int bw_htab_layout_init(const struct btf *btf, struct bw_htab_layout *l, struct bw_error *err)
{
	int r;

	memset(l, 0, sizeof(*l));
	if ((r = member(btf, "struct bpf_htab", "map", 0, &l->htab_map, err)) < 0 ||
	    (r = member(btf, "struct bpf_htab", "buckets", 8, &l->htab_buckets, err)) < 0 ||
	    (r = member(btf, "struct bpf_htab", "n_buckets", 4, &l->htab_n_buckets, err)) < 0 ||
	    (r = bw_btf_struct_size(btf, "struct bucket", &l->bucket_size, err)) < 0 ||
	    (r = member(btf, "struct bucket", "head", 0, &l->bucket_head, err)) < 0 ||
	    (r = member(btf, "struct hlist_nulls_head", "first", 8, &l->head_first, err)) < 0 ||
	    (r = member(btf, "struct hlist_nulls_node", "next", 8, &l->node_next, err)) < 0 ||
	    (r = member(btf, "struct htab_elem", "hash_node", 0, &l->elem_node, err)) < 0 ||
	    (r = member(btf, "struct htab_elem", "key", 0, &l->elem_key, err)) < 0)
		return bw_error_prefix(err, "hash map layout of the guest kernel");
	if (l->bucket_size < l->bucket_head + l->head_first + 8 || l->bucket_size > BUCKET_SIZE_MAX ||
	    l->elem_key > ELEM_HEAD_MAX || l->elem_node + l->node_next + 8 > l->elem_key)
		return bw_error_set(err, -EINVAL, "hash map layout of the guest kernel: struct "
				    "bucket (%" PRIu64 " bytes) or struct htab_elem (key at %" PRIu64
				    ") does not hold its fields", l->bucket_size, l->elem_key);
	l->ok = true;
	l->has_elems = member(btf, "struct bpf_htab", "elems", 8, &l->htab_elems, NULL) == 0 &&
		       member(btf, "struct bpf_htab", "elem_size", 4, &l->htab_elem_size, NULL) == 0;
	return 0;
}

static bool kernel_pointer(uint64_t v)
{
	return v >= KERNEL_VA_MIN && (v & 7) == 0;
}

int bw_htab_open(struct bw_kernel *k, const struct bw_htab_layout *l, uint64_t map_addr,
		 uint32_t max_entries, uint32_t key_size, uint32_t value_size, uint32_t map_flags,
		 bool percpu, struct bw_htab *out, struct bw_error *err)
{
	uint64_t htab = map_addr - l->htab_map, buckets = 0, want = 1;
	uint32_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	if (!l->ok)
		return bw_error_set(err, -ENOTSUP, "the guest kernel's BTF lacks the hash map structs");
	if (max_entries == 0 || max_entries > BW_HTAB_MAX_ENTRIES)
		return bw_error_set(err, -E2BIG, "a hash map of %u entries (at most %u are walked)",
				    max_entries, BW_HTAB_MAX_ENTRIES);
	if (key_size == 0)
		return bw_error_set(err, -EINVAL, "a hash map with 0-byte keys");
	r = bw_kernel_read(k, htab + l->htab_buckets, &buckets, 8, err);
	if (r == 0)
		r = bw_kernel_read(k, htab + l->htab_n_buckets, &n, 4, err);
	if (r < 0)
		return bw_error_prefix(err, "reading the hash table at %#" PRIx64, htab);
	while (want < max_entries)
		want <<= 1;
	if (n != want)
		return bw_error_set(err, -EINVAL, "hash table at %#" PRIx64 ": %u buckets, but the "
				    "kernel makes %" PRIu64 " for %u entries", htab, n, want,
				    max_entries);
	if (!kernel_pointer(buckets))
		return bw_error_set(err, -EFAULT, "hash table at %#" PRIx64 ": buckets pointer %#"
				    PRIx64 " is not a kernel address", htab, buckets);
	out->buckets = buckets;
	out->n_buckets = n;
	out->max_entries = max_entries;
	out->key_size = key_size;
	out->percpu = percpu;
	out->scratch_size = (uint64_t)n * l->bucket_size;
	if (l->has_elems && !(map_flags & BPF_F_NO_PREALLOC)) {
		uint64_t elems = 0, size = 0;
		uint32_t es = 0;

		/* htab_map_alloc(): elem_size = sizeof(htab_elem) + round_up(key_size, 8)
		 * + (percpu ? sizeof(void *) : round_up(value_size, 8)). */
		size = l->elem_key + (((uint64_t)key_size + 7) & ~7ULL) +
		       (percpu ? 8 : (((uint64_t)value_size + 7) & ~7ULL));
		if (bw_kernel_read(k, htab + l->htab_elems, &elems, 8, NULL) == 0 &&
		    bw_kernel_read(k, htab + l->htab_elem_size, &es, 4, NULL) == 0 &&
		    es == size && kernel_pointer(elems) &&
		    (uint64_t)es * max_entries <= ELEMS_COPY_MAX &&
		    elems <= UINT64_MAX - (uint64_t)es * max_entries) {
			out->elems = elems;
			out->elem_size = es;
			out->elems_bytes = (uint64_t)es * max_entries;
			out->scratch_size += out->elems_bytes;
		}
	}
	return 0;
}

long bw_htab_walk(struct bw_kernel *k, const struct bw_htab_layout *l, const struct bw_htab *h,
		  uint8_t *scratch, bw_htab_entry_fn fn, void *ctx, struct bw_error *err)
{
	uint64_t key_room = ((uint64_t)h->key_size + 7) & ~7ULL;
	uint64_t head = l->elem_key + key_room;	/* entry bytes up to its value */
	uint32_t kbytes = h->key_size < BW_HTAB_KEY_MAX ? h->key_size : BW_HTAB_KEY_MAX;
	uint64_t kmask = kbytes >= 8 ? UINT64_MAX : (1ULL << (8 * kbytes)) - 1;
	uint8_t entry[ELEM_HEAD_MAX + 8 + 8 + BW_HTAB_VALUE_READ_MAX];
	uint64_t len = head + (h->value_read <= BW_HTAB_VALUE_READ_MAX ? h->value_read : 0);
	long seen = 0;
	int r;

	if (len > sizeof(entry) || h->value_read > BW_HTAB_VALUE_READ_MAX)
		return bw_error_set(err, -EINVAL, "walking a hash map: %" PRIu64 "-byte entries "
				    "cannot be read", len);
	uint64_t bucket_bytes = (uint64_t)h->n_buckets * l->bucket_size;
	const uint8_t *elems = scratch + bucket_bytes;

	r = bw_kernel_read(k, h->buckets, scratch, bucket_bytes, err);
	if (r < 0)
		return bw_error_prefix(err, "reading %u hash buckets at %#" PRIx64, h->n_buckets,
				       h->buckets);
	if (h->elems_bytes) {
		r = bw_kernel_read(k, h->elems, scratch + bucket_bytes, h->elems_bytes, err);
		if (r < 0)
			return bw_error_prefix(err, "reading the hash elements at %#" PRIx64,
					       h->elems);
	}
	for (uint32_t i = 0; i < h->n_buckets; i++) {
		uint64_t p = get_le(scratch, (uint64_t)i * l->bucket_size + l->bucket_head +
				    l->head_first, 8);
		uint64_t saved = p, power = 1, steps = 0;

		while (!(p & 1)) {
			uint64_t elem = p - l->elem_node, next;
			const uint8_t *e;

			if (!kernel_pointer(p) || p < l->elem_node)
				return bw_error_set(err, -EFAULT, "hash bucket %u: entry pointer %#"
						    PRIx64 " is not a kernel address", i, p);
			if ((uint64_t)++seen > h->max_entries)
				return bw_error_set(err, -E2BIG, "hash table at %#" PRIx64 " holds more "
						    "than its %u entries (torn or corrupt)",
						    h->buckets, h->max_entries);
			/*
			 * Bytes inside the preallocated area are in the copy (an image of
			 * that guest memory, so any offset reads as the guest would);
			 * anything else is read on its own.
			 */
			if (h->elems_bytes && elem >= h->elems && len <= h->elems_bytes &&
			    elem - h->elems <= h->elems_bytes - len) {
				e = elems + (elem - h->elems);
			} else {
				r = bw_kernel_read(k, elem, entry, len, err);
				if (r < 0)
					return bw_error_prefix(err, "hash bucket %u: entry at %#"
							       PRIx64, i, elem);
				e = entry;
			}
			next = get_le(e, l->elem_node + l->node_next, 8);
			/* The key field is round_up(key_size, 8) bytes: one 8-byte load, masked. */
			r = fn(ctx, get_le(e, l->elem_key, 8) & kmask, elem + head, e + head, err);
			if (r < 0)
				return r;
			if (next == saved)
				return bw_error_set(err, -ELOOP, "hash bucket %u: its chain loops back "
						    "to the entry at %#" PRIx64, i, saved);
			/* Brent: move the reference point at every power of two steps. */
			if (++steps == power) {
				saved = next;
				power <<= 1;
				steps = 0;
			}
			p = next;
		}
		if (p >> 1 != i)
			return bw_error_set(err, -EAGAIN, "hash bucket %u ends in the marker of bucket "
					    "%" PRIu64 ": an entry moved during the walk", i, p >> 1);
	}
	return seen;
}
