/* SPDX-License-Identifier: MIT */
/*
 * An address space is anything that can copy bytes at an address: guest
 * physical memory, the guest kernel's virtual memory, or a buffer built by
 * a unit test.  Decoders (kallsyms, page tables, xarrays, BPF structs) read
 * only through this interface, so each can be fed synthetic or hostile
 * memory without a guest.
 */
#ifndef BPFWATCH_ADDRSPACE_H
#define BPFWATCH_ADDRSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct bw_addrspace {
	/* Copy @len bytes at @addr into @buf: 0, or a negative errno with a message. */
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len, struct bw_error *err);
	void *ctx;
};

static inline int bw_as_read(const struct bw_addrspace *as, uint64_t addr, void *buf,
			     size_t len, struct bw_error *err)
{
	return as->read(as->ctx, addr, buf, len, err);
}

static inline int bw_as_read_u64(const struct bw_addrspace *as, uint64_t addr, uint64_t *out,
				 struct bw_error *err)
{
	return as->read(as->ctx, addr, out, sizeof(*out), err);
}

static inline int bw_as_read_u32(const struct bw_addrspace *as, uint64_t addr, uint32_t *out,
				 struct bw_error *err)
{
	return as->read(as->ctx, addr, out, sizeof(*out), err);
}

#endif
