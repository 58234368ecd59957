/* SPDX-License-Identifier: MIT */
/*
 * What the fuzz targets share: guest memory made of the fuzzer's bytes.
 * An input for a memory target is a small header the target reads first
 * (addresses, counts), then the bytes of one flat range of guest memory
 * at FUZZ_BASE.  Reads outside the range fail the way unmapped guest
 * memory does, so every pointer the code follows is the fuzzer's to aim.
 */
#ifndef BPFWATCH_FUZZ_COMMON_H
#define BPFWATCH_FUZZ_COMMON_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrspace.h"

/* A direct-map kernel address: what xarray nodes and BPF structs look like. */
#define FUZZ_BASE 0xffff888100000000ULL

struct fuzz_mem {
	uint64_t base;
	const uint8_t *bytes;
	size_t size;
	uint64_t reads;
};

/* Take the next @n bytes of the input into @out (zero-filled past its end). */
static inline void fuzz_take(const uint8_t **data, size_t *size, void *out, size_t n)
{
	size_t k = *size < n ? *size : n;

	memset(out, 0, n);
	memcpy(out, *data, k);
	*data += k;
	*size -= k;
}

static inline int fuzz_mem_read(void *ctx, uint64_t addr, void *buf, size_t len,
				struct bw_error *err)
{
	struct fuzz_mem *m = ctx;

	m->reads++;
	if (addr < m->base || len > m->size || addr - m->base > m->size - len)
		return bw_error_set(err, -EFAULT, "fuzz memory: %zu bytes at %#llx not mapped", len,
				    (unsigned long long)addr);
	memcpy(buf, m->bytes + (addr - m->base), len);
	return 0;
}

static inline struct bw_addrspace fuzz_mem_as(struct fuzz_mem *m)
{
	return (struct bw_addrspace){ .read = fuzz_mem_read, .ctx = m };
}

/* A NUL-terminated copy of the input (libFuzzer's bytes are not terminated). */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif
