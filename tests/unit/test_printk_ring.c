/* SPDX-License-Identifier: MIT */
/*
 * The printk ring reader over a synthetic ring written the way
 * kernel/printk/printk_ringbuffer.c writes one: records that wrap the text
 * ring (a block that would straddle the end goes to data[0]), descriptor
 * ids that run past their 62-bit mask, old records recycled, and a ring
 * that lies: sizes beyond the bounds, an id range longer than the ring,
 * text lengths beyond their block, blocks of another record, garbage
 * pointers.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "printk_ring.h"
#include "util_kernel.h"

#define ID_MASK ((1ULL << 62) - 1)
#define FINALIZED 2ULL
#define REUSABLE 3ULL

struct ring {
	struct test_kernel *tk;
	const struct tk_printk_layout *l;
	uint64_t rb, descs, infos, data;
	unsigned int cb, sb;
	uint64_t head_id, tail_id, head_lpos, seq;
	bool dummy;		/* the tail is still the kernel's initial reusable descriptor */
};

static uint64_t desc_addr(struct ring *r, uint64_t id)
{
	return r->descs + (id & ((1ULL << r->cb) - 1)) * r->l->desc_size;
}

static uint64_t info_addr(struct ring *r, uint64_t id)
{
	return r->infos + (id & ((1ULL << r->cb) - 1)) * r->l->info_size;
}

static void ring_publish(struct ring *r)
{
	const struct tk_printk_layout *l = r->l;

	tk_put(r->tk, r->rb + l->desc_ring + l->dr_head, r->head_id, 8);
	tk_put(r->tk, r->rb + l->desc_ring + l->dr_tail, r->tail_id, 8);
}

static void ring_init(struct ring *r, struct test_kernel *tk, unsigned int cb, unsigned int sb,
		      uint64_t first_id)
{
	const struct tk_printk_layout *l = &tk->plog;

	memset(r, 0, sizeof(*r));
	r->tk = tk;
	r->l = l;
	r->cb = cb;
	r->sb = sb;
	r->rb = tk_kmalloc(tk, l->rb_size);
	r->descs = tk_kmalloc(tk, l->desc_size << cb);
	r->infos = tk_kmalloc(tk, l->info_size << cb);
	r->data = tk_kmalloc(tk, 1ULL << sb);
	/* As the kernel starts: head and tail on one reusable descriptor without data. */
	r->head_id = r->tail_id = (first_id - 1) & ID_MASK;
	r->seq = 100;
	r->dummy = true;
	tk_put(tk, desc_addr(r, r->head_id) + l->desc_sv, r->head_id | REUSABLE << 62, 8);
	tk_put(tk, desc_addr(r, r->head_id) + l->desc_begin, 1, 8);
	tk_put(tk, desc_addr(r, r->head_id) + l->desc_next, 1, 8);
	tk_put(tk, r->rb + l->desc_ring + l->dr_count_bits, cb, 4);
	tk_put(tk, r->rb + l->desc_ring + l->dr_descs, r->descs, 8);
	tk_put(tk, r->rb + l->desc_ring + l->dr_infos, r->infos, 8);
	tk_put(tk, r->rb + l->text_ring + l->tr_size_bits, sb, 4);
	tk_put(tk, r->rb + l->text_ring + l->tr_data, r->data, 8);
	tk_put(tk, tk->prb, r->rb, 8);
	ring_publish(r);
}

/* Drop the oldest record (the kernel makes its descriptor reusable). */
static void drop_tail(struct ring *r)
{
	uint64_t d = desc_addr(r, r->tail_id);

	tk_put(r->tk, d + r->l->desc_sv, r->tail_id | REUSABLE << 62, 8);
	r->tail_id = (r->tail_id + 1) & ID_MASK;
	r->dummy = false;
}

static void ring_write(struct ring *r, const char *text)
{
	const struct tk_printk_layout *l = r->l;
	uint64_t size = 1ULL << r->sb, len = strlen(text), blk = (8 + len + 7) & ~7ULL;
	uint64_t begin = r->head_lpos, next = begin + blk, at = begin & (size - 1);
	uint64_t id = (r->head_id + 1) & ID_MASK, d = desc_addr(r, id), info = info_addr(r, id);

	if (begin >> r->sb != next >> r->sb) {
		/* Wraps: the block starts the next wrap at data[0]. */
		next = ((next >> r->sb) << r->sb) + blk;
		at = 0;
	}
	/* Records whose text this overwrites, and the descriptor this reuses, go. */
	while (r->tail_id != id) {
		uint64_t tb = tk_get(r->tk, desc_addr(r, r->tail_id) + l->desc_begin, 8);

		if ((r->dummy && next > size) || (!r->dummy && next - tb > size) ||
		    ((id - r->tail_id) & ID_MASK) >= 1ULL << r->cb)
			drop_tail(r);
		else
			break;
	}
	tk_put(r->tk, r->data + at, id, 8);
	tk_write(r->tk, r->data + at + 8, text, len);
	tk_put(r->tk, d + l->desc_begin, begin, 8);
	tk_put(r->tk, d + l->desc_next, next, 8);
	tk_put(r->tk, info + l->info_seq, r->seq++, 8);
	tk_put(r->tk, info + l->info_ts, 1000000ULL * r->seq + 123456, 8);
	tk_put(r->tk, info + l->info_len, len, 2);
	tk_put(r->tk, d + l->desc_sv, id | FINALIZED << 62, 8);
	r->head_id = id;
	r->head_lpos = next;
	ring_publish(r);
}

struct got {
	unsigned int n;
	uint64_t seq[256];
	char text[256][64];
};

static int collect(void *ctx, const struct bw_printk_record *rec)
{
	struct got *g = ctx;

	ck_assert_uint_lt(g->n, 256);
	g->seq[g->n] = rec->seq;
	snprintf(g->text[g->n], sizeof(g->text[0]), "%.63s", rec->text);
	g->n++;
	return 0;
}

static struct bw_printk_ring *open_ring(struct test_kernel *tk)
{
	struct bw_printk_ring *pr = NULL;
	struct bw_error err = { 0 };

	ck_assert_msg(bw_printk_ring_open(tk->k, &pr, &err) == 0, "%s", err.msg);
	return pr;
}

static int read_all(struct bw_printk_ring *pr, uint64_t from, struct got *g, struct bw_error *err)
{
	memset(g, 0, sizeof(*g));
	return bw_printk_ring_read(pr, from, collect, g, err);
}

static void check_wrapping(uint64_t first_id)
{
	struct test_kernel *tk = tk_new(&(struct tk_opts){ .nr_cpus = 2, .printk = true });
	struct bw_printk_ring *pr = open_ring(tk);
	struct bw_error err = { 0 };
	struct ring r;
	struct got g;
	char text[64];
	uint64_t next;
	int n;

	/* 16 descriptors, 256 bytes of text: lengths 3..23 make blocks of 16..32 bytes. */
	ring_init(&r, tk, 4, 8, first_id);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), 0);
	for (int i = 0; i < 60; i++) {
		snprintf(text, sizeof(text), "line %d %.*s", i, i % 17, "abcdefghijklmnopq");
		ring_write(&r, text);
		n = read_all(pr, 0, &g, &err);
		ck_assert_msg(n > 0, "after %d: %s", i, err.msg);
		/* Oldest first, the newest last, every record the ring still holds. */
		ck_assert_str_eq(g.text[g.n - 1], text);
		ck_assert_uint_eq(g.seq[g.n - 1], 100 + (uint64_t)i);
		ck_assert_uint_eq(g.n, ((r.head_id - r.tail_id) & ID_MASK) + 1 - r.dummy);
		for (unsigned int k = 1; k < g.n; k++)
			ck_assert_uint_eq(g.seq[k], g.seq[k - 1] + 1);
	}
	/* From a seq on: only the newer ones. */
	n = read_all(pr, 155, &g, &err);
	ck_assert_int_eq(n, 5);
	ck_assert_uint_eq(g.seq[0], 155);
	ck_assert_int_eq(bw_printk_ring_next_seq(pr, &next, &err), 0);
	ck_assert_uint_eq(next, 160);
	bw_printk_ring_free(pr);
	tk_free(tk);
}

START_TEST(test_wrapping) { check_wrapping(1); }
END_TEST

/* Descriptor ids run past their 62-bit mask back to 0. */
START_TEST(test_id_wrap) { check_wrapping(ID_MASK - 20); }
END_TEST

START_TEST(test_lies)
{
	struct test_kernel *tk = tk_new(&(struct tk_opts){ .nr_cpus = 2, .printk = true });
	struct bw_printk_ring *pr = open_ring(tk);
	const struct tk_printk_layout *l = &tk->plog;
	struct bw_error err = { 0 };
	struct ring r;
	struct got g;
	uint64_t d;

	ring_init(&r, tk, 4, 8, 1);
	for (int i = 0; i < 8; i++)
		ring_write(&r, "hello");
	ck_assert_int_eq(read_all(pr, 0, &g, &err), 8);

	/* A text_len beyond its block: that record is skipped, the others read. */
	tk_put(tk, info_addr(&r, 3) + l->info_len, 200, 2);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), 7);
	tk_put(tk, info_addr(&r, 3) + l->info_len, 5, 2);
	/* A block that carries another record's id. */
	d = desc_addr(&r, 4);
	tk_put(tk, r.data + (tk_get(tk, d + l->desc_begin, 8) & 255), 99, 8);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), 7);
	/* begin/next that make no block: next before begin, a block larger than the ring. */
	d = desc_addr(&r, 5);
	tk_put(tk, d + l->desc_next, 3, 8);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), 6);
	tk_put(tk, d + l->desc_next, 1ULL << 40, 8);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), 6);
	/* A record not finalized (being written) is not read. */
	tk_put(tk, desc_addr(&r, 6) + l->desc_sv, 6 | 1ULL << 62, 8);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), 5);

	/* The ring itself lying: errors, not walks. */
	tk_put(tk, r.rb + l->desc_ring + l->dr_count_bits, 40, 4);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "descriptors"));
	tk_put(tk, r.rb + l->desc_ring + l->dr_count_bits, 4, 4);
	tk_put(tk, r.rb + l->text_ring + l->tr_size_bits, 60, 4);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), -EINVAL);
	tk_put(tk, r.rb + l->text_ring + l->tr_size_bits, 8, 4);
	/* An id range that loops round more than the ring holds. */
	tk_put(tk, r.rb + l->desc_ring + l->dr_tail, 9, 8);
	tk_put(tk, r.rb + l->desc_ring + l->dr_head, 8, 8);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "ids run"));
	ring_publish(&r);
	/* Arrays pointing nowhere: nothing read, no crash. */
	tk_put(tk, r.rb + l->desc_ring + l->dr_descs, 0xdead000000000000ULL, 8);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), 0);
	tk_put(tk, r.rb + l->desc_ring + l->dr_descs, r.descs, 8);
	tk_put(tk, r.rb + l->text_ring + l->tr_data, 0xdead000000000000ULL, 8);
	ck_assert_int_eq(read_all(pr, 0, &g, &err), 0);
	/* prb itself pointing nowhere: an error. */
	tk_put(tk, tk->prb, 0xdead000000000000ULL, 8);
	ck_assert_int_lt(read_all(pr, 0, &g, &err), 0);
	bw_printk_ring_free(pr);
	tk_free(tk);
}
END_TEST

START_TEST(test_no_ring)
{
	struct test_kernel *tk = tk_new(&(struct tk_opts){ .nr_cpus = 2 });
	struct bw_printk_ring *pr = NULL;
	struct bw_error err = { 0 };

	ck_assert_int_lt(bw_printk_ring_open(tk->k, &pr, &err), 0);
	ck_assert_ptr_null(pr);
	ck_assert_ptr_nonnull(strstr(err.msg, "printk ring"));
	tk_free(tk);
}
END_TEST

static Suite *printk_ring_suite(void)
{
	Suite *s = suite_create("printk_ring");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_wrapping);
	tcase_add_test(tc, test_id_wrap);
	tcase_add_test(tc, test_lies);
	tcase_add_test(tc, test_no_ring);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(printk_ring_suite)
