/* SPDX-License-Identifier: MIT */
#include "addr_set.h"

#include <errno.h>
#include <stdlib.h>

#define INITIAL_CAP 64

static size_t hash(uint64_t addr, size_t cap)
{
	/* Fibonacci hashing: aligned addresses differ in their middle bits. */
	return (size_t)((addr * 0x9e3779b97f4a7c15ULL) >> 32) & (cap - 1);
}

static void insert(uint64_t *slots, size_t cap, uint64_t addr)
{
	size_t i = hash(addr, cap);

	while (slots[i])
		i = (i + 1) & (cap - 1);
	slots[i] = addr;
}

static int grow(struct bw_addr_set *set)
{
	size_t cap = set->cap ? set->cap * 2 : INITIAL_CAP;
	uint64_t *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slots[i])
			insert(slots, cap, set->slots[i]);
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 0;
}

int bw_addr_set_add(struct bw_addr_set *set, uint64_t addr)
{
	size_t i;

	if (!addr)
		return -EINVAL;
	/* At most half full: probes stay short. */
	if ((set->n + 1) * 2 > set->cap && grow(set) < 0)
		return -ENOMEM;
	for (i = hash(addr, set->cap); set->slots[i]; i = (i + 1) & (set->cap - 1))
		if (set->slots[i] == addr)
			return 0;
	set->slots[i] = addr;
	set->n++;
	return 1;
}

void bw_addr_set_free(struct bw_addr_set *set)
{
	free(set->slots);
	set->slots = NULL;
	set->cap = set->n = 0;
}
