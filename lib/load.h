/* SPDX-License-Identifier: MIT */
/*
 * One untorn load of a batch, shared by the guarded copy (fault_guard.h)
 * and the guest RAM reader's public batch API (guest_ram.h).
 */
#ifndef BPFWATCH_LOAD_H
#define BPFWATCH_LOAD_H

#include <stdint.h>

/* @width (1, 2, 4 or 8) bytes at @offset from the batch's base. */
struct bw_load {
	uint64_t offset;
	uint32_t width;
};

#endif
