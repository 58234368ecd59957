/* SPDX-License-Identifier: MIT */
/*
 * Synthetic memory for unit tests: a sparse set of byte ranges at chosen
 * addresses behind a struct bw_addrspace, so a decoder can be fed exactly
 * the guest structures a test lays out (or garbage) with no guest at all.
 */
#ifndef BPFWATCH_TEST_UTIL_MEM_H
#define BPFWATCH_TEST_UTIL_MEM_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "addrspace.h"

#define TEST_MEM_MAX_RANGES 64

struct test_mem {
	unsigned int nranges;
	struct {
		uint64_t addr;
		size_t size;
		uint8_t *bytes;
	} ranges[TEST_MEM_MAX_RANGES];
	unsigned long reads;	/* how many reads were served: bounds on walks */
};

struct test_mem *test_mem_new(void);
void test_mem_free(struct test_mem *mem);
/* Add a zeroed range and return its bytes. */
uint8_t *test_mem_add(struct test_mem *mem, uint64_t addr, size_t size);
/* Pointer to @size bytes at @addr inside one range (aborts the test otherwise). */
void *test_mem_at(struct test_mem *mem, uint64_t addr, size_t size);
void test_mem_put_u64(struct test_mem *mem, uint64_t addr, uint64_t value);
void test_mem_put_u32(struct test_mem *mem, uint64_t addr, uint32_t value);
struct bw_addrspace test_mem_addrspace(struct test_mem *mem);
/* Deterministic pseudo-random bytes. */
void test_fill_random(void *buf, size_t len, uint64_t seed);

/* Each test file ends with BW_TEST_MAIN(suite_function). */
#define BW_TEST_MAIN(make_suite)                                              \
	int main(void)                                                        \
	{                                                                     \
		SRunner *runner = srunner_create(make_suite());               \
		int failed;                                                   \
		srunner_run_all(runner, CK_NORMAL);                           \
		failed = srunner_ntests_failed(runner);                       \
		srunner_free(runner);                                         \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;                  \
	}

#endif
