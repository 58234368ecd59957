/* SPDX-License-Identifier: MIT */
/*
 * The guest kernel's log: its printk ring buffer (kernel/printk/
 * printk_ringbuffer.h, 5.10+) read out of guest memory, for the moments the
 * guest console is gone or the guest is hung.  Layout from the kernel's BTF
 * and the symbol prb; every length, index and id read from the guest is
 * checked against the ring's own bounds.  See printk_ring.c.
 */
#ifndef BPFWATCH_PRINTK_RING_H
#define BPFWATCH_PRINTK_RING_H

#include <stdint.h>

#include "error.h"

struct bw_kernel;
struct bw_printk_ring;

/* LOG_LINE_MAX is 1024 less the prefix: no record text is longer. */
#define BW_PRINTK_TEXT_MAX 1024

struct bw_printk_record {
	uint64_t seq;
	uint64_t ts_nsec;		/* local_clock() when it was logged */
	uint16_t len;			/* bytes in text, without the NUL */
	char text[BW_PRINTK_TEXT_MAX + 1];
};

int bw_printk_ring_open(struct bw_kernel *k, struct bw_printk_ring **out, struct bw_error *err);
void bw_printk_ring_free(struct bw_printk_ring *r);

/*
 * Call @fn for each finalized record with seq >= @from_seq, oldest first,
 * until it returns non-zero.  Records being written or recycled while they
 * are read are skipped.  Returns the records given to @fn, or a negative
 * errno when the ring itself does not read or does not make sense (-EIO,
 * -EINVAL with a message).
 */
int bw_printk_ring_read(struct bw_printk_ring *r, uint64_t from_seq,
			int (*fn)(void *ctx, const struct bw_printk_record *rec), void *ctx,
			struct bw_error *err);

/* The seq the next record will get (the newest one's + 1). */
int bw_printk_ring_next_seq(struct bw_printk_ring *r, uint64_t *seq, struct bw_error *err);

#endif
