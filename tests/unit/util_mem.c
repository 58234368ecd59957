/* SPDX-License-Identifier: MIT */
#include "util_mem.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

struct test_mem *test_mem_new(void)
{
	struct test_mem *mem = calloc(1, sizeof(*mem));

	ck_assert_ptr_nonnull(mem);
	return mem;
}

void test_mem_free(struct test_mem *mem)
{
	if (!mem)
		return;
	for (unsigned int i = 0; i < mem->nranges; i++)
		free(mem->ranges[i].bytes);
	free(mem);
}

uint8_t *test_mem_add(struct test_mem *mem, uint64_t addr, size_t size)
{
	ck_assert_uint_lt(mem->nranges, TEST_MEM_MAX_RANGES);
	mem->ranges[mem->nranges].addr = addr;
	mem->ranges[mem->nranges].size = size;
	mem->ranges[mem->nranges].bytes = calloc(1, size ? size : 1);
	ck_assert_ptr_nonnull(mem->ranges[mem->nranges].bytes);
	return mem->ranges[mem->nranges++].bytes;
}

static uint8_t *find(struct test_mem *mem, uint64_t addr, size_t size)
{
	for (unsigned int i = 0; i < mem->nranges; i++) {
		uint64_t start = mem->ranges[i].addr;

		if (addr >= start && addr - start <= mem->ranges[i].size &&
		    size <= mem->ranges[i].size - (addr - start))
			return mem->ranges[i].bytes + (addr - start);
	}
	return NULL;
}

void *test_mem_at(struct test_mem *mem, uint64_t addr, size_t size)
{
	void *p = find(mem, addr, size);

	ck_assert_msg(p != NULL, "test memory has no %zu bytes at %#" PRIx64, size, addr);
	return p;
}

void test_mem_put_u64(struct test_mem *mem, uint64_t addr, uint64_t value)
{
	memcpy(test_mem_at(mem, addr, 8), &value, 8);
}

void test_mem_put_u32(struct test_mem *mem, uint64_t addr, uint32_t value)
{
	memcpy(test_mem_at(mem, addr, 4), &value, 4);
}

static int mem_read(void *ctx, uint64_t addr, void *buf, size_t len, struct bw_error *err)
{
	struct test_mem *mem = ctx;
	uint8_t *p;

	mem->reads++;
	p = find(mem, addr, len);
	if (!p)
		return bw_error_set(err, -EFAULT, "test memory: nothing at %#" PRIx64 " (+%zu)",
				    addr, len);
	memcpy(buf, p, len);
	return 0;
}

struct bw_addrspace test_mem_addrspace(struct test_mem *mem)
{
	return (struct bw_addrspace){ .read = mem_read, .ctx = mem };
}

void test_fill_random(void *buf, size_t len, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}
