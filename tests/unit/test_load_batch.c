/* SPDX-License-Identifier: MIT */
/*
 * Batched guarded loads (bw_ram_load_batch), the fold's in-order per-CPU
 * fast path, and the engine when guest RAM faults in the middle of a tick.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine.h"
#include "fold.h"
#include "guest_ram.h"
#include "util_kernel.h"

#define MIB (1ULL << 20)
#define SEC 1000000000ULL
static struct bw_error err_dummy;

static int memfd(uint64_t size)
{
	int fd = memfd_create("bw-batch", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static struct bw_ram *open_fd(int fd)
{
	struct bw_ram_source src = BW_RAM_SOURCE_INIT;
	struct bw_layout_spec spec;
	struct bw_ram *ram = NULL;
	struct bw_error err;

	src.fd = fd;
	ck_assert_int_eq(bw_layout_parse("flat", &spec, &err), 0);
	ck_assert_msg(bw_ram_open(&src, &spec, &ram, &err) == 0, "%s", err.msg);
	return ram;
}

START_TEST(test_batch_values_and_errors)
{
	int fd = memfd(MIB);
	uint64_t v = 0x1122334455667788ULL, out[8];
	struct bw_error err;
	struct bw_ram *ram;
	size_t done = 99;

	ck_assert_int_eq(pwrite(fd, &v, 8, 4096), 8);
	ram = open_fd(fd);
	struct bw_load ok[] = { { 4096, 8 }, { 4096, 4 }, { 4100, 4 }, { 4098, 2 }, { 4103, 1 },
				{ MIB - 8, 8 } };
	ck_assert_int_eq(bw_ram_load_batch(ram, ok, 6, out, &done, &err), 0);
	ck_assert_uint_eq(done, 6);
	ck_assert_uint_eq(out[0], v);
	ck_assert_uint_eq(out[1], 0x55667788);
	ck_assert_uint_eq(out[2], 0x11223344);
	ck_assert_uint_eq(out[3], 0x5566);
	ck_assert_uint_eq(out[4], 0x11);
	ck_assert_uint_eq(out[5], 0);
	ck_assert_int_eq(bw_ram_load_batch(ram, ok, 0, out, &done, &err), 0);
	ck_assert_uint_eq(done, 0);
	/* misaligned in the middle */
	struct bw_load mis[] = { { 4096, 8 }, { 4097, 2 }, { 4096, 8 } };
	out[1] = 77;
	ck_assert_int_eq(bw_ram_load_batch(ram, mis, 3, out, &done, &err), -EINVAL);
	ck_assert_uint_eq(done, 1);
	ck_assert_uint_eq(out[0], v);
	ck_assert_uint_eq(out[1], 77);
	ck_assert_ptr_nonnull(strstr(err.msg, "misaligned"));
	struct bw_load odd[] = { { 4096, 3 } }, zero[] = { { 4096, 0 } }, big[] = { { 4096, 16 } };
	ck_assert_int_eq(bw_ram_load_batch(ram, odd, 1, out, &done, &err), -EINVAL);
	ck_assert_int_eq(bw_ram_load_batch(ram, zero, 1, out, &done, &err), -EINVAL);
	ck_assert_int_eq(bw_ram_load_batch(ram, big, 1, out, &done, &err), -EINVAL);
	/* outside the file */
	struct bw_load outside[] = { { 0, 8 }, { MIB, 1 }, { MIB - 4, 8 }, { UINT64_MAX - 3, 8 } };
	for (int i = 1; i < 4; i++) {
		struct bw_load two[2] = { outside[0], outside[i] };
		ck_assert_int_eq(bw_ram_load_batch(ram, two, 2, out, &done, &err), -EFAULT);
		ck_assert_uint_eq(done, 1);
		ck_assert_ptr_nonnull(strstr(err.msg, "outside"));
	}
	ck_assert_int_eq(bw_ram_check(ram, &err), 0);
	bw_ram_close(ram);
	close(fd);
}
END_TEST

START_TEST(test_batch_sigbus)
{
	int fd = memfd(MIB);
	struct bw_load l[64];
	uint64_t out[64];
	struct bw_error err;
	struct bw_ram *ram[10];
	size_t done;

	for (int i = 0; i < 64; i++) {
		uint64_t v = 1000 + i;
		l[i] = (struct bw_load){ .offset = (uint64_t)i * 16384, .width = 8 };
		ck_assert_int_eq(pwrite(fd, &v, 8, (off_t)l[i].offset), 8);
	}
	for (int k = 0; k < 10; k++)
		ram[k] = open_fd(fd);
	ck_assert_int_eq(bw_ram_load_batch(ram[0], l, 64, out, &done, &err), 0);
	ck_assert_uint_eq(out[63], 1063);
	/* Cut the file at load 40: loads 0..39 are made, 40 faults (real SIGBUS). */
	ck_assert_int_eq(ftruncate(fd, 40 * 16384), 0);
	for (int k = 0; k < 10; k++) {
		memset(out, 0, sizeof(out));
		ck_assert_int_eq(bw_ram_load_batch(ram[k], l, 64, out, &done, &err), -EIO);
		ck_assert_uint_eq(done, 40);
		for (int i = 0; i < 40; i++)
			ck_assert_uint_eq(out[i], 1000 + (uint64_t)i);
		ck_assert_uint_eq(out[40], 0);
		ck_assert_ptr_nonnull(strstr(err.msg, "faulted reading 0xa0000"));
		/* sticky */
		ck_assert_int_eq(bw_ram_load_batch(ram[k], l, 3, out, &done, &err), -EIO);
		ck_assert_uint_eq(done, 0);
		ck_assert_int_eq(bw_ram_check(ram[k], &err), -EIO);
	}
	/* A fault outside any guard still kills (handler chains): not tested here. */
	for (int k = 0; k < 10; k++)
		bw_ram_close(ram[k]);
	close(fd);
}
END_TEST

static struct bw_fold *pfold(void)
{
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_fold *f;
	struct bw_error err;
	ck_assert_int_eq(bw_watch_set_add(set, &(struct bw_watch){ .map_suffix = "m", .field = "f",
			 .agg = BW_AGG_PERCPU, .label = "p" }, &err), 0);
	ck_assert_int_eq(bw_fold_new(set, 0, 0, &f, &err), 0);
	bw_watch_set_free(set);
	return f;
}

#define CV(c, v) { .cpu = (c), .value = { .is_signed = false, .bits = (v) } }

START_TEST(test_fold_order)
{
	struct bw_fold *f = pfold();
	struct bw_error err;
	struct bw_fold_watch_stats st;
	uint64_t t = 1;
	struct bw_fold_cpu_value inc[] = { CV(0, 1), CV(3, 9), CV(8191, 2) };
	struct bw_fold_cpu_value ooo[] = { CV(5, 1), CV(2, 1), CV(7, 1), CV(0, 1) };
	struct bw_fold_cpu_value d1[] = { CV(2, 1), CV(2, 1) };
	struct bw_fold_cpu_value d2[] = { CV(1, 1), CV(4, 1), CV(3, 1), CV(4, 1) };
	struct bw_fold_cpu_value d3[] = { CV(1, 1), CV(4, 1), CV(0, 1), CV(1, 1) };
	struct bw_fold_cpu_value d4[] = { CV(9, 1), CV(8, 1), CV(9, 1) };
	struct bw_fold_cpu_value *d[] = { d1, d2, d3, d4 };
	size_t dn[] = { 2, 4, 4, 3 };

	ck_assert_int_eq(bw_fold_tick(f, "o", t++, &err), 0);
	ck_assert_int_eq(bw_fold_percpu(f, 0, inc, 3, &err), 0);
	ck_assert_int_eq(bw_fold_tick(f, "o", t++, &err), 0);
	ck_assert_int_eq(bw_fold_percpu(f, 0, ooo, 4, &err), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(bw_fold_tick(f, "o", t++, &err), 0);
		ck_assert_int_eq(bw_fold_percpu(f, 0, d[i], dn[i], &err), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err.msg, "read twice"));
	}
	ck_assert_int_eq(bw_fold_watch_stats(f, 0, &st, &err), 0);
	ck_assert_uint_eq(st.reads, 2);
	ck_assert_uint_eq(st.readings, 7);
	bw_fold_free(f);
}
END_TEST

static uint64_t pa_of(struct test_kernel *tk, uint64_t va)
{
	uint64_t table = tk->pgd;

	if (va >= TK_PAGE_OFFSET_BASE && va < TK_PAGE_OFFSET_BASE + tk->ram_size)
		return va - TK_PAGE_OFFSET_BASE;
	for (int level = 3; level >= 0; level--) {
		uint64_t e = *(uint64_t *)(tk->ram + table + ((va >> (12 + 9 * level)) & 511) * 8);
		ck_assert(e & 1);
		if (level == 0)
			return (e & 0x000ffffffffff000ULL) | (va & 4095);
		table = e & 0x000ffffffffff000ULL;
	}
	return 0;
}

static json_t *sample(struct bw_engine *e, uint64_t *mono)
{
	struct bw_error err;
	json_t *doc;

	ck_assert_int_eq(bw_engine_tick(e, *mono += 1000, 0, &err), 0);
	ck_assert_int_eq(bw_engine_sample_json(e, &doc, &err), 0);
	return doc;
}

static struct bw_engine *eng(struct test_kernel *tk, const struct bw_watch *ws, size_t n)
{
	struct bw_watch_set *set = tk_watch_set(ws, n);
	struct bw_engine *e;
	struct bw_error err;

	ck_assert_int_eq(bw_engine_new(tk->k, set, 10 * SEC, 0, &e, &err), 0);
	bw_watch_set_free(set);
	return e;
}

/* The engine when the guest RAM file shrinks mid-batch: errors, no crash, right values before. */
START_TEST(test_engine_fault_percpu)
{
	struct test_kernel *tk = tk_new(&(struct tk_opts){ .nr_cpus = 64, .scx = TK_SCX_ROOT });
	struct tk_object o;
	struct bw_watch ws[] = { { .map_suffix = "cpu_stats", .field = "runs",
				   .agg = BW_AGG_PERCPU_COUNTER, .label = "runs" } };
	struct bw_engine *e;
	json_t *doc, *w, *vals, *v;
	uint64_t mono = 10 * SEC;
	const char *k;
	size_t nv;
	json_int_t failed;

	tk_load_demo(tk, "bw_demo", "bw_demo", 0xffffffffc0100000ULL, &o);
	tk_attach(tk, &o.ops);
	for (uint32_t c = 0; c < 64; c++)
		tk_put(tk, tk_percpu_elem(tk, &o.cpu_stats, 0, c), 500 + c, 8);
	e = eng(tk, ws, 1);
	doc = sample(e, &mono);
	ck_assert_uint_eq(json_object_size(json_object_get(json_array_get(json_object_get(doc, "watches"), 0), "values")), 64);
	json_decref(doc);
	ck_assert_int_eq(ftruncate(tk->fd, 41 << 20), 0);
	doc = sample(e, &mono);
	w = json_array_get(json_object_get(doc, "watches"), 0);
	vals = json_object_get(w, "values");
	failed = json_integer_value(json_object_get(w, "failed_cpus"));
	nv = json_object_size(vals);
	ck_assert_uint_eq(nv + (size_t)failed, 64);
	ck_assert_uint_gt(nv, 0);
	ck_assert_int_gt(failed, 0);
	json_object_foreach(vals, k, v) {
		ck_assert_int_eq(json_integer_value(v), 500 + atoi(k));
		ck_assert_int_lt(atoi(k), (int)nv);	/* the first CPUs, in order */
	}
	json_decref(doc);
	ck_assert_int_eq(bw_engine_metrics_json(e, &doc, &err_dummy), 0);
	json_decref(doc);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

START_TEST(test_engine_fault_scalar)
{
	struct test_kernel *tk = tk_new(&(struct tk_opts){ .nr_cpus = 4, .scx = TK_SCX_ROOT });
	struct tk_object o;
	struct bw_watch ws[] = {
		{ .map_suffix = "slots", .field = "[1].hits", .agg = BW_AGG_SCALAR, .label = "a" },
		{ .map_suffix = ".bss", .field = "state.gauge", .agg = BW_AGG_SCALAR, .label = "c" },
		{ .map_suffix = "slots", .field = "[2].hits", .agg = BW_AGG_SCALAR, .label = "b" },
		{ .map_suffix = "slots", .field = "[3].hits", .agg = BW_AGG_SCALAR, .label = "d" },
		{ .map_suffix = ".bss", .field = "state.enabled", .agg = BW_AGG_SCALAR, .label = "e" },
	};
	struct bw_engine *e;
	json_t *doc, *w;
	uint64_t mono = 10 * SEC;
	size_t i;

	tk_load_demo(tk, "bw_demo", "bw_demo", 0xffffffffc0100000ULL, &o);
	tk_attach(tk, &o.ops);
	for (uint32_t i2 = 0; i2 < 4; i2++)
		tk_put(tk, tk_elem(tk, &o.slots, i2) + 8, 100 + i2, 8);
	tk_put(tk, tk_elem(tk, &o.bss, 0) + TK_STATE_GAUGE, (uint32_t)-7, 4);
	tk_put(tk, tk_elem(tk, &o.bss, 0) + TK_STATE_ENABLED, 2, 1);	/* a bad bool */
	tk_put(tk, tk_elem(tk, &o.data, 0) + TK_DATA_ODD, 0xdeadbeef, 4);
	e = eng(tk, ws, sizeof(ws) / sizeof(ws[0]));
	doc = sample(e, &mono);
	w = json_object_get(doc, "watches");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(w, 0), "value")), 101);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(w, 1), "value")), -7);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(w, 2), "value")), 102);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(w, 3), "value")), 103);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_array_get(w, 4), "error")), "bool"));
	json_decref(doc);
	tk_put(tk, tk_elem(tk, &o.bss, 0) + TK_STATE_ENABLED, 1, 1);
	doc = sample(e, &mono);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(doc, "watches"), 4), "value")), 1);
	json_decref(doc);
	/* The slab stays, vmalloc pages go: slot a loads, c faults, the rest fail. */
	{
		uint64_t hdr = pa_of(tk, o.bss.addr), val = pa_of(tk, tk_elem(tk, &o.bss, 0));
		ck_assert_uint_lt(hdr, val);
		ck_assert_int_eq(ftruncate(tk->fd, (off_t)(val & ~4095ULL)), 0);
	}
	doc = sample(e, &mono);
	w = json_object_get(doc, "watches");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(w, 0), "value")), 101);
	for (i = 1; i < 5; i++)
		ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_array_get(w, i), "error")), "faulted"));
	json_decref(doc);
	bw_engine_free(e);
	tk_free(tk);
}
END_TEST

static Suite *s(void)
{
	Suite *su = suite_create("load_batch");
	TCase *tc = tcase_create("c");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_batch_values_and_errors);
	tcase_add_test(tc, test_batch_sigbus);
	tcase_add_test(tc, test_fold_order);
	tcase_add_test(tc, test_engine_fault_percpu);
	tcase_add_test(tc, test_engine_fault_scalar);
	suite_add_tcase(su, tc);
	return su;
}

BW_TEST_MAIN(s)
