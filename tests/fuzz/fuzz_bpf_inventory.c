/* SPDX-License-Identifier: MIT */
/*
 * The BPF inventory over a fuzzed slab: a synthetic guest kernel (the unit
 * tests' util_kernel) with the demo scheduler loaded and attached, whose
 * struct bpf_map of the .bss map, struct btf of the object and the
 * STRUCT_OPS map are overwritten with the input before every scan, then
 * the scan, the object BTF of every object it found and the cheap change
 * checks — as bpfwatchd does on a guest.  The memory is restored after.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bpf_inventory.h"
#include "guest_ram.h"
#include "kernel.h"
#include "util_kernel.h"

#define FN_BASE 0xffffffffc0100000ULL
/* Bytes of each struct overwritten: at most to the end of its page (one piece of the file). */
#define REGION 512

struct region {
	uint8_t *host;		/* the bytes in the RAM file */
	size_t len;
	uint8_t saved[REGION];
};

static struct test_kernel *tk;
static struct bw_bpf_layout layout;
static struct region regions[3];

static void region_at(struct region *r, uint64_t va)
{
	uint64_t gpa, off;

	if (bw_kernel_translate(tk->k, va, &gpa, NULL) < 0 ||
	    bw_ram_locate(tk->bw_ram, gpa, 1, &off, NULL) < 0)
		abort();
	r->len = 4096 - (va & 4095);
	if (r->len > REGION)
		r->len = REGION;
	r->host = tk->ram + off;
	memcpy(r->saved, r->host, r->len);
}

/* The unit tests' builders report through check: they run as one check test. */
START_TEST(build_guest)
{
	struct tk_opts opts = { .nr_cpus = 4, .scx = TK_SCX_ROOT };
	struct bw_error err = { 0 };
	struct tk_object o;

	tk = tk_new(&opts);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_BASE, &o);
	tk_attach(tk, &o.ops);
	ck_assert_int_eq(bw_bpf_layout_init(tk->k, &layout, &err), 0);
	region_at(&regions[0], o.bss.addr);
	region_at(&regions[1], o.btf);
	region_at(&regions[2], o.ops.addr);
}
END_TEST

static void setup(void)
{
	Suite *s = suite_create("fuzz");
	TCase *tc = tcase_create("setup");
	SRunner *r;

	tcase_add_test(tc, build_guest);
	suite_add_tcase(s, tc);
	r = srunner_create(s);
	srunner_set_fork_status(r, CK_NOFORK);
	srunner_run_all(r, CK_SILENT);
	if (srunner_ntests_failed(r) || !tk)
		abort();
	srunner_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_bpf_inventory *inv = NULL;
	struct bw_error err = { 0 };
	bool changed;

	if (!tk)
		setup();
	/* The input over the three regions in turn, as far as it goes. */
	for (int i = 0; i < 3 && size; i++) {
		size_t n = size < regions[i].len ? size : regions[i].len;

		memcpy(regions[i].host, data, n);
		data += n;
		size -= n;
	}
	bw_kernel_flush_translations(tk->k);
	if (bw_bpf_inventory_scan(tk->k, &layout, &inv, &err) == 0) {
		for (unsigned int ob = 0; ob < inv->nobjects; ob++)
			bw_bpf_object_btf(tk->k, &layout, inv, ob, &err);
		bw_bpf_inventory_changed(tk->k, &layout, inv, &changed, &err);
		bw_bpf_inventory_free(inv);
	}
	for (int i = 0; i < 3; i++)
		memcpy(regions[i].host, regions[i].saved, regions[i].len);
	return 0;
}
