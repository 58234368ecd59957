/* SPDX-License-Identifier: MIT */
/*
 * The printk ring buffer (printk_ring.h), as kernel/printk/printk_ringbuffer.h
 * lays it out since 5.10 (896fbe20b4e2 "printk: use the lockless
 * ringbuffer"); the same on 6.16 to 7.3:
 *
 *   struct printk_ringbuffer *prb          (the symbol; &printk_rb_static or
 *                                            the dynamic one after boot)
 *     desc_ring:  count_bits, descs[1 << count_bits], infos[1 << count_bits],
 *                 head_id, tail_id         (atomic_long_t)
 *     text_data_ring: size_bits, data[1 << size_bits]
 *   struct prb_desc { atomic_long_t state_var;
 *                     struct prb_data_blk_lpos { begin, next } text_blk_lpos; }
 *   struct printk_info { u64 seq; u64 ts_nsec; u16 text_len; ... }
 *
 * A descriptor's state_var holds its id in the low 62 bits and its state in
 * the top two (reserved 0, committed 1, finalized 2, reusable 3); ids run
 * from tail_id to head_id and index the arrays modulo their size.  A text
 * block at logical position lpos starts with the unsigned long id of its
 * descriptor; it sits at data[lpos & (size - 1)], unless it would wrap, in
 * which case it is at data[0] and "next" is on the following wrap.  An odd
 * begin (FAILED_LPOS, EMPTY_LINE_LPOS) means no data.
 *
 * Nothing the guest says is taken on trust: count_bits and size_bits are
 * bounded (RING_*_BITS_MAX), the id walk is bounded by the ring size, a
 * block must lie inside the data array and carry its descriptor's id, a
 * text_len must fit its block and LOG_LINE_MAX, and a descriptor is read
 * again after its text to catch one recycled under us.
 */
#include "printk_ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "btf_layout.h"
#include "kernel.h"

/* CONFIG_LOG_BUF_SHIFT is at most 25 (32 MiB); descriptors are one per 32 bytes of it. */
#define RING_SIZE_BITS_MAX 25
#define RING_COUNT_BITS_MAX 25
#define DESC_STATE_SHIFT 62
#define DESC_ID_MASK ((1ULL << DESC_STATE_SHIFT) - 1)
#define DESC_FINALIZED 2
#define BLK_ID_SIZE 8

struct bw_printk_ring {
	struct bw_kernel *k;
	uint64_t prb_sym;
	uint64_t count_bits, descs, infos, head_id, tail_id;	/* offsets in the ring */
	uint64_t size_bits, data;
	uint64_t desc_size, desc_sv, desc_begin, desc_next;
	uint64_t info_size, info_seq, info_ts, info_len;
};

static int member(const struct btf *btf, const char *s, const char *m, uint64_t *o,
		  struct bw_error *err)
{
	return bw_btf_member_offset(btf, s, m, o, NULL, NULL, err);
}

int bw_printk_ring_open(struct bw_kernel *k, struct bw_printk_ring **out, struct bw_error *err)
{
	const struct btf *btf = bw_kernel_btf(k);
	struct bw_printk_ring *r = calloc(1, sizeof(*r));
	uint64_t dr, tr;
	int e;

	*out = NULL;
	if (!r)
		return bw_error_set(err, -ENOMEM, "printk ring: out of memory");
	r->k = k;
	if ((e = bw_kernel_symbol(k, "prb", &r->prb_sym, err)) < 0 ||
	    (e = member(btf, "struct printk_ringbuffer", "desc_ring", &dr, err)) < 0 ||
	    (e = member(btf, "struct printk_ringbuffer", "text_data_ring", &tr, err)) < 0 ||
	    (e = member(btf, "struct prb_desc_ring", "count_bits", &r->count_bits, err)) < 0 ||
	    (e = member(btf, "struct prb_desc_ring", "descs", &r->descs, err)) < 0 ||
	    (e = member(btf, "struct prb_desc_ring", "infos", &r->infos, err)) < 0 ||
	    (e = member(btf, "struct prb_desc_ring", "head_id", &r->head_id, err)) < 0 ||
	    (e = member(btf, "struct prb_desc_ring", "tail_id", &r->tail_id, err)) < 0 ||
	    (e = member(btf, "struct prb_data_ring", "size_bits", &r->size_bits, err)) < 0 ||
	    (e = member(btf, "struct prb_data_ring", "data", &r->data, err)) < 0 ||
	    (e = bw_btf_struct_size(btf, "struct prb_desc", &r->desc_size, err)) < 0 ||
	    (e = member(btf, "struct prb_desc", "state_var", &r->desc_sv, err)) < 0 ||
	    (e = member(btf, "struct prb_desc", "text_blk_lpos.begin", &r->desc_begin, err)) < 0 ||
	    (e = member(btf, "struct prb_desc", "text_blk_lpos.next", &r->desc_next, err)) < 0 ||
	    (e = bw_btf_struct_size(btf, "struct printk_info", &r->info_size, err)) < 0 ||
	    (e = member(btf, "struct printk_info", "seq", &r->info_seq, err)) < 0 ||
	    (e = member(btf, "struct printk_info", "ts_nsec", &r->info_ts, err)) < 0 ||
	    (e = member(btf, "struct printk_info", "text_len", &r->info_len, err)) < 0) {
		free(r);
		return bw_error_prefix(err, "the kernel's printk ring");
	}
	r->count_bits += dr;
	r->descs += dr;
	r->infos += dr;
	r->head_id += dr;
	r->tail_id += dr;
	r->size_bits += tr;
	r->data += tr;
	if (r->desc_size < 24 || r->desc_size > 256 || r->info_size < 24 || r->info_size > 1024) {
		uint64_t ds = r->desc_size, is = r->info_size;

		free(r);
		return bw_error_set(err, -EINVAL, "the kernel's printk ring: struct prb_desc of %"
				    PRIu64 " bytes, printk_info of %" PRIu64 ": not a printk ring",
				    ds, is);
	}
	*out = r;
	return 0;
}

void bw_printk_ring_free(struct bw_printk_ring *r)
{
	free(r);
}

struct ring_now {
	uint64_t descs, infos, data, head, tail;
	uint32_t count_bits, size_bits;
};

static int ring_now(struct bw_printk_ring *r, struct ring_now *n, struct bw_error *err)
{
	uint64_t rb;
	int e;

	memset(n, 0, sizeof(*n));
	if ((e = bw_kernel_read(r->k, r->prb_sym, &rb, 8, err)) < 0 ||
	    (e = bw_kernel_read(r->k, rb + r->count_bits, &n->count_bits, 4, err)) < 0 ||
	    (e = bw_kernel_read(r->k, rb + r->descs, &n->descs, 8, err)) < 0 ||
	    (e = bw_kernel_read(r->k, rb + r->infos, &n->infos, 8, err)) < 0 ||
	    (e = bw_kernel_read(r->k, rb + r->head_id, &n->head, 8, err)) < 0 ||
	    (e = bw_kernel_read(r->k, rb + r->tail_id, &n->tail, 8, err)) < 0 ||
	    (e = bw_kernel_read(r->k, rb + r->size_bits, &n->size_bits, 4, err)) < 0 ||
	    (e = bw_kernel_read(r->k, rb + r->data, &n->data, 8, err)) < 0)
		return bw_error_prefix(err, "reading the printk ring");
	if (n->count_bits == 0 || n->count_bits > RING_COUNT_BITS_MAX ||
	    n->size_bits < 4 || n->size_bits > RING_SIZE_BITS_MAX)
		return bw_error_set(err, -EINVAL, "the printk ring claims 2^%u descriptors and 2^%u "
				    "bytes of text (at most 2^%d and 2^%d)", n->count_bits,
				    n->size_bits, RING_COUNT_BITS_MAX, RING_SIZE_BITS_MAX);
	n->head &= DESC_ID_MASK;
	n->tail &= DESC_ID_MASK;
	if (((n->head - n->tail) & DESC_ID_MASK) >= 1ULL << n->count_bits)
		return bw_error_set(err, -EINVAL, "the printk ring's ids run from %#" PRIx64 " to %#"
				    PRIx64 ", more than its %llu descriptors", n->tail, n->head,
				    1ULL << n->count_bits);
	return 0;
}

/* One record by id; 1 when it is there and finalized, 0 when skipped. */
static int read_record(struct bw_printk_ring *r, const struct ring_now *n, uint64_t id,
		       struct bw_printk_record *rec)
{
	uint64_t idx = id & ((1ULL << n->count_bits) - 1);
	uint64_t d = n->descs + idx * r->desc_size, info = n->infos + idx * r->info_size;
	uint64_t size = 1ULL << n->size_bits, sv, sv2, begin, next, blk, blk_size, blk_id;
	uint16_t len;

	if (bw_kernel_read(r->k, d + r->desc_sv, &sv, 8, NULL) < 0 ||
	    (sv & DESC_ID_MASK) != id || sv >> DESC_STATE_SHIFT != DESC_FINALIZED ||
	    bw_kernel_read(r->k, d + r->desc_begin, &begin, 8, NULL) < 0 ||
	    bw_kernel_read(r->k, d + r->desc_next, &next, 8, NULL) < 0 ||
	    bw_kernel_read(r->k, info + r->info_seq, &rec->seq, 8, NULL) < 0 ||
	    bw_kernel_read(r->k, info + r->info_ts, &rec->ts_nsec, 8, NULL) < 0 ||
	    bw_kernel_read(r->k, info + r->info_len, &len, 2, NULL) < 0)
		return 0;
	rec->len = 0;
	rec->text[0] = '\0';
	if (!(begin & 1) && len) {
		if (next - begin > size || next <= begin)
			return 0;
		if (begin >> n->size_bits == next >> n->size_bits) {
			blk = begin & (size - 1);
			blk_size = next - begin;
		} else if ((begin + size) >> n->size_bits == next >> n->size_bits) {
			/* Wrapped: the block starts the data array again, on the next wrap. */
			blk = 0;
			blk_size = next & (size - 1);
		} else {
			return 0;
		}
		if (blk_size < BLK_ID_SIZE || blk + blk_size > size ||
		    len > blk_size - BLK_ID_SIZE || len > BW_PRINTK_TEXT_MAX)
			return 0;
		if (bw_kernel_read(r->k, n->data + blk, &blk_id, 8, NULL) < 0 ||
		    (blk_id & DESC_ID_MASK) != id ||
		    bw_kernel_read(r->k, n->data + blk + BLK_ID_SIZE, rec->text, len, NULL) < 0)
			return 0;
		rec->len = len;
		rec->text[len] = '\0';
	}
	/* Still the same finalized record: not recycled while we copied it. */
	if (bw_kernel_read(r->k, d + r->desc_sv, &sv2, 8, NULL) < 0 || sv2 != sv)
		return 0;
	return 1;
}

int bw_printk_ring_read(struct bw_printk_ring *r, uint64_t from_seq,
			int (*fn)(void *ctx, const struct bw_printk_record *rec), void *ctx,
			struct bw_error *err)
{
	struct bw_printk_record *rec = malloc(sizeof(*rec));
	struct ring_now n;
	uint64_t id, steps = 0, last_seq = 0;
	int e, given = 0;

	if (!rec)
		return bw_error_set(err, -ENOMEM, "printk ring: out of memory");
	e = ring_now(r, &n, err);
	if (e < 0) {
		free(rec);
		return e;
	}
	/* tail..head inclusive, at most the ring's size (checked in ring_now). */
	for (id = n.tail;; id = (id + 1) & DESC_ID_MASK) {
		if (++steps > 1ULL << n.count_bits)
			break;
		if (read_record(r, &n, id, rec) == 1 && rec->seq >= from_seq &&
		    (given == 0 || rec->seq > last_seq)) {
			last_seq = rec->seq;
			given++;
			if (fn(ctx, rec))
				break;
		}
		if (id == n.head)
			break;
	}
	free(rec);
	return given;
}

int bw_printk_ring_next_seq(struct bw_printk_ring *r, uint64_t *seq, struct bw_error *err)
{
	struct ring_now n;
	uint64_t idx, s;
	int e = ring_now(r, &n, err);

	if (e < 0)
		return e;
	idx = n.head & ((1ULL << n.count_bits) - 1);
	e = bw_kernel_read(r->k, n.infos + idx * r->info_size + r->info_seq, &s, 8, err);
	if (e < 0)
		return bw_error_prefix(err, "reading the newest printk record");
	*seq = s + 1;
	return 0;
}
