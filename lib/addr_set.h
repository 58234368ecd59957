/* SPDX-License-Identifier: MIT */
/*
 * A set of guest addresses a walker has visited.  Guest structures that
 * form a tree (xarray nodes) or a list must never reach a node twice; a
 * hostile guest that links one node from many parents turns a walk of a
 * few hundred nodes into hundreds of thousands of reads, or a cycle into
 * a loop.  The walker asks the set before reading a node and stops with
 * an error naming the node on the second visit.
 */
#ifndef BPFWATCH_ADDR_SET_H
#define BPFWATCH_ADDR_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bw_addr_set {
	uint64_t *slots;	/* open addressing; 0 is the empty slot (never a kernel address) */
	size_t cap;		/* a power of two, or 0 */
	size_t n;
};

#define BW_ADDR_SET_INIT { NULL, 0, 0 }

/*
 * Add @addr (non-zero): 1 when it was new, 0 when already there, -ENOMEM.
 */
int bw_addr_set_add(struct bw_addr_set *set, uint64_t addr);

void bw_addr_set_free(struct bw_addr_set *set);

#endif
