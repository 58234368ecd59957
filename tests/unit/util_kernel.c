/* SPDX-License-Identifier: MIT */
#include "util_kernel.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest_ram.h"
#include "ram_layout.h"
#include "symtab.h"

/*
 * Guest physical layout (64 MiB, one flat region):
 *   [1 MiB, 4 MiB)    page-table pages
 *   [18 MiB, 20 MiB)  the kernel image (TK_IMAGE_VA, text mapping + TK_PHYS_BASE)
 *   [24 MiB, 40 MiB)  slab: objects reached through the direct map
 *   [40 MiB, 64 MiB)  pages behind vmalloc areas and per-CPU chunks, handed
 *                     out in a scattered order so that consecutive virtual
 *                     pages are never consecutive physical pages
 */
#define RAM_SIZE	(64ULL << 20)
#define PT_POOL		(1ULL << 20)
#define PT_POOL_END	(4ULL << 20)
#define IMAGE_PA	(TK_IMAGE_VA - TK_START_KERNEL_MAP + TK_PHYS_BASE)
#define IMAGE_SIZE	(2ULL << 20)
#define SLAB_PA		(24ULL << 20)
#define SLAB_SIZE	(16ULL << 20)
#define VPOOL_PA	(40ULL << 20)
#define VPOOL_PAGES	((RAM_SIZE - VPOOL_PA) / PAGE)
#define PAGE		4096ULL
#define PTE_PRESENT	0x1ULL
#define PTE_PS		0x80ULL
#define PTE_FLAGS	0x63ULL		/* present, rw, accessed, dirty */
#define PTE_NX		(1ULL << 63)
#define PTE_ADDR	0x000ffffffffff000ULL
#define IDR_NODES	64

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* ---- physical memory and page tables ---- */

static uint64_t pt_alloc(struct test_kernel *tk)
{
	uint64_t pa = tk->pt_next;

	ck_assert_uint_lt(pa, PT_POOL_END);
	tk->pt_next += PAGE;
	memset(tk->ram + pa, 0, PAGE);
	return pa;
}

static uint64_t vpool_page(struct test_kernel *tk)
{
	/* 7 is coprime with the pool size (6144 pages): a permutation. */
	uint64_t idx = (tk->vpool_count * 7) % VPOOL_PAGES;

	ck_assert_uint_lt(tk->vpool_count, VPOOL_PAGES);
	tk->vpool_count++;
	memset(tk->ram + VPOOL_PA + idx * PAGE, 0, PAGE);
	return VPOOL_PA + idx * PAGE;
}

static uint64_t *entry(struct test_kernel *tk, uint64_t table, uint64_t va, int level)
{
	return (uint64_t *)(tk->ram + table + ((va >> (12 + 9 * level)) & 511) * 8);
}

static void map_4k(struct test_kernel *tk, uint64_t va, uint64_t pa)
{
	uint64_t table = tk->pgd;

	for (int level = 3; level > 0; level--) {
		uint64_t *e = entry(tk, table, va, level);

		if (!(*e & PTE_PRESENT))
			*e = pt_alloc(tk) | PTE_FLAGS;
		ck_assert(!(*e & PTE_PS));
		table = *e & PTE_ADDR;
	}
	*entry(tk, table, va, 0) = pa | PTE_FLAGS | PTE_NX;
}

void tk_unmap(struct test_kernel *tk, uint64_t va)
{
	uint64_t table = tk->pgd;

	for (int level = 3; level > 0; level--) {
		uint64_t e = *entry(tk, table, va, level);

		ck_assert_msg(e & PTE_PRESENT, "tk_unmap: %#" PRIx64 " is not mapped", va);
		table = e & PTE_ADDR;
	}
	*entry(tk, table, va, 0) = 0;
}

/* The test's own translation, independent of the code under test. */
static uint64_t tk_pa(struct test_kernel *tk, uint64_t va)
{
	uint64_t table = tk->pgd;

	if (va >= TK_IMAGE_VA && va < TK_IMAGE_VA + IMAGE_SIZE)
		return va - TK_START_KERNEL_MAP + TK_PHYS_BASE;
	if (va >= TK_PAGE_OFFSET_BASE && va < TK_PAGE_OFFSET_BASE + RAM_SIZE)
		return va - TK_PAGE_OFFSET_BASE;
	for (int level = 3; level >= 0; level--) {
		uint64_t e = *entry(tk, table, va, level);

		ck_assert_msg(e & PTE_PRESENT, "test kernel: %#" PRIx64 " is not mapped", va);
		if (level == 0)
			return (e & PTE_ADDR) | (va & (PAGE - 1));
		ck_assert(!(e & PTE_PS));
		table = e & PTE_ADDR;
	}
	return 0;
}

void tk_write(struct test_kernel *tk, uint64_t va, const void *buf, uint64_t len)
{
	const uint8_t *src = buf;

	while (len) {
		uint64_t chunk = PAGE - (va & (PAGE - 1)), pa;

		if (chunk > len)
			chunk = len;
		pa = tk_pa(tk, va);
		ck_assert_uint_le(pa + chunk, RAM_SIZE);
		memcpy(tk->ram + pa, src, chunk);
		src += chunk;
		va += chunk;
		len -= chunk;
	}
}

void tk_read(struct test_kernel *tk, uint64_t va, void *buf, uint64_t len)
{
	uint8_t *dst = buf;

	while (len) {
		uint64_t chunk = PAGE - (va & (PAGE - 1)), pa;

		if (chunk > len)
			chunk = len;
		pa = tk_pa(tk, va);
		ck_assert_uint_le(pa + chunk, RAM_SIZE);
		memcpy(dst, tk->ram + pa, chunk);
		dst += chunk;
		va += chunk;
		len -= chunk;
	}
}

void tk_put(struct test_kernel *tk, uint64_t va, uint64_t value, unsigned int width)
{
	ck_assert(width >= 1 && width <= 8);
	tk_write(tk, va, &value, width);
}

uint64_t tk_get(struct test_kernel *tk, uint64_t va, unsigned int width)
{
	uint64_t v = 0;

	ck_assert(width >= 1 && width <= 8);
	tk_read(tk, va, &v, width);
	return v;
}

uint64_t tk_kmalloc(struct test_kernel *tk, uint64_t size)
{
	uint64_t pa = round_up(tk->slab_next, 64);

	ck_assert_uint_le(pa + size, SLAB_PA + SLAB_SIZE);
	tk->slab_next = pa + size;
	memset(tk->ram + pa, 0, size);
	return TK_PAGE_OFFSET_BASE + pa;
}

uint64_t tk_vmalloc(struct test_kernel *tk, uint64_t size)
{
	uint64_t pages = round_up(size ? size : 1, PAGE) / PAGE, va = tk->vmalloc_next;

	for (uint64_t i = 0; i < pages; i++)
		map_4k(tk, va + i * PAGE, vpool_page(tk));
	tk->vmalloc_next += (pages + 1) * PAGE;	/* a guard page, as vmalloc leaves */
	return va;
}

static uint64_t image_alloc(struct test_kernel *tk, uint64_t size)
{
	uint64_t pa = round_up(tk->image_next, 64);

	ck_assert_uint_le(pa + size, IMAGE_PA + IMAGE_SIZE);
	tk->image_next = pa + size;
	memset(tk->ram + pa, 0, size);
	return pa - TK_PHYS_BASE + TK_START_KERNEL_MAP;
}

/* Each allocation gets its own pages in every CPU's unit, so a test can unmap one. */
static uint64_t percpu_alloc(void *ctx, uint64_t size)
{
	struct test_kernel *tk = ctx;
	uint64_t off = tk->pcpu_next, len = round_up(size ? size : 1, PAGE);

	ck_assert_uint_le(off + len, TK_PCPU_UNIT);
	tk->pcpu_next += len;
	for (uint32_t cpu = 0; cpu < tk->nr_cpus; cpu++)
		for (uint64_t p = 0; p < len; p += PAGE)
			map_4k(tk, TK_PCPU_BASE + cpu * TK_PCPU_UNIT + off + p, vpool_page(tk));
	return TK_PCPU_BASE + off - tk->per_cpu_offset[0];
}

/* ---- the kernel BTF ---- */

static void enum_values(struct btf *btf, const char *const *names, const int64_t *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(btf__add_enum_value(btf, names[i], values[i]), 0);
}

static void build_btf(struct test_kernel *tk, struct btf *btf, struct test_btf_xa *xa)
{
	struct tk_layout *l = &tk->lay;
	int u8, u16, u32, u64, intt, chr, boolt, vp, ulong, mt, hdr, btf_ptr, btf_id, charr16,
	    map, arr, flex_c, flex_c_early, flex_p, uni, st_state, common, value, sops;

	test_btf_add_xarray(btf, 6, xa);
	u8 = test_btf_u8(btf);
	u16 = test_btf_u16(btf);
	u32 = test_btf_u32(btf);
	u64 = test_btf_u64(btf);
	intt = test_btf_int(btf, "int", 4, true);
	chr = test_btf_char(btf);
	boolt = test_btf_typedef(btf, "bool", test_btf_bool(btf));
	ulong = test_btf_ulong(btf);
	vp = test_btf_ptr(btf, 0);
	charr16 = test_btf_array(btf, chr, 16);

	mt = btf__add_enum(btf, "bpf_map_type", 4);
	ck_assert_int_gt(mt, 0);
	enum_values(btf, (const char *const[]){ "BPF_MAP_TYPE_UNSPEC", "BPF_MAP_TYPE_HASH",
		"BPF_MAP_TYPE_ARRAY", "BPF_MAP_TYPE_PROG_ARRAY", "BPF_MAP_TYPE_PERF_EVENT_ARRAY",
		"BPF_MAP_TYPE_PERCPU_HASH", "BPF_MAP_TYPE_PERCPU_ARRAY", "BPF_MAP_TYPE_LRU_HASH",
		"BPF_MAP_TYPE_LRU_PERCPU_HASH", "BPF_MAP_TYPE_STRUCT_OPS",
		"BPF_MAP_TYPE_RINGBUF", "__MAX_BPF_MAP_TYPE" },
		(const int64_t[]){ 0, 1, 2, 3, 4, 5, 6, 9, 10, 26, 27, 36 }, 12);

	hdr = test_btf_struct(btf, "btf_header", 24, (struct test_btf_field[]){
		TEST_BTF_FIELD("magic", u16, 0), TEST_BTF_FIELD("version", u8, 2),
		TEST_BTF_FIELD("flags", u8, 3), TEST_BTF_FIELD("hdr_len", u32, 4),
		TEST_BTF_FIELD("type_off", u32, 8), TEST_BTF_FIELD("type_len", u32, 12),
		TEST_BTF_FIELD("str_off", u32, 16), TEST_BTF_FIELD("str_len", u32, 20),
		TEST_BTF_END });
	{
		int name56 = test_btf_array(btf, chr, 56);

		/* struct btf *: the pointer takes the next id, struct btf the one after. */
		btf_ptr = test_btf_ptr(btf, (int)btf__type_cnt(btf) + 1);
		btf_id = test_btf_struct(btf, "btf", 232, (struct test_btf_field[]){
			TEST_BTF_FIELD("data", vp, 0), TEST_BTF_FIELD("types", vp, 8),
			TEST_BTF_FIELD("resolved_ids", vp, 16),
			TEST_BTF_FIELD("resolved_sizes", vp, 24),
			TEST_BTF_FIELD("strings", vp, 32), TEST_BTF_FIELD("nohdr_data", vp, 40),
			TEST_BTF_FIELD("hdr", hdr, 48), TEST_BTF_FIELD("nr_types", u32, 72),
			TEST_BTF_FIELD("types_size", u32, 76), TEST_BTF_FIELD("data_size", u32, 80),
			TEST_BTF_FIELD("refcnt", u32, 84), TEST_BTF_FIELD("id", u32, 88),
			TEST_BTF_FIELD("base_btf", btf_ptr, 144),
			TEST_BTF_FIELD("start_id", u32, 152),
			TEST_BTF_FIELD("start_str_off", u32, 156),
			TEST_BTF_FIELD("name", name56, 160), TEST_BTF_FIELD("kernel_btf", boolt, 216),
			TEST_BTF_END });
		ck_assert_int_eq(btf_id, btf_ptr + 1);
	}
	l->btf_size = 232;
	l->btf_data = 0;
	l->btf_data_size = 80;
	l->btf_base_btf = 144;

	map = test_btf_struct(btf, "bpf_map", 248, (struct test_btf_field[]){
		TEST_BTF_FIELD("ops", vp, 0), TEST_BTF_FIELD("inner_map_meta", vp, 8),
		TEST_BTF_FIELD("security", vp, 16), TEST_BTF_FIELD("map_type", mt, 24),
		TEST_BTF_FIELD("key_size", u32, 28), TEST_BTF_FIELD("value_size", u32, 32),
		TEST_BTF_FIELD("max_entries", u32, 36), TEST_BTF_FIELD("map_extra", u64, 40),
		TEST_BTF_FIELD("map_flags", u32, 48), TEST_BTF_FIELD("id", u32, 52),
		TEST_BTF_FIELD("record", vp, 56), TEST_BTF_FIELD("numa_node", intt, 64),
		TEST_BTF_FIELD("btf_key_type_id", u32, 68),
		TEST_BTF_FIELD("btf_value_type_id", u32, 72),
		TEST_BTF_FIELD("btf_vmlinux_value_type_id", u32, 76),
		TEST_BTF_FIELD("btf", btf_ptr, 80), TEST_BTF_FIELD("objcg", vp, 88),
		TEST_BTF_FIELD("name", charr16, 96), TEST_BTF_FIELD("refcnt", u64, 128),
		TEST_BTF_FIELD("usercnt", u64, 136), TEST_BTF_FIELD("frozen", boolt, 200),
		TEST_BTF_END });
	l->map_size = 248;
	l->map_type = 24;
	l->map_key_size = 28;
	l->map_value_size = 32;
	l->map_max_entries = 36;
	l->map_flags = 48;
	l->map_id = 52;
	l->map_btf_value_type_id = 72;
	l->map_btf_vmlinux_value_type_id = 76;
	l->map_btf = 80;
	l->map_name = 96;

	flex_c = test_btf_array(btf, chr, 0);
	flex_c_early = flex_c;
	flex_p = test_btf_array(btf, vp, 0);
	uni = test_btf_union(btf, NULL, 0, (struct test_btf_field[]){
		TEST_BTF_FIELD("value", flex_c, 0), TEST_BTF_FIELD("ptrs", flex_p, 0),
		TEST_BTF_FIELD("pptrs", flex_p, 0), TEST_BTF_END });
	arr = test_btf_struct(btf, "bpf_array", 264, (struct test_btf_field[]){
		TEST_BTF_FIELD("map", map, 0), TEST_BTF_FIELD("elem_size", u32, 248),
		TEST_BTF_FIELD("index_mask", u32, 252), TEST_BTF_FIELD("aux", vp, 256),
		TEST_BTF_FIELD(NULL, uni, 264), TEST_BTF_END });
	ck_assert_int_gt(arr, 0);
	l->array_elem_size = 248;
	l->array_value = 264;

	{
		/* kernel/bpf/hashtab.c: buckets of hlist_nulls, elements with the key at 48. */
		int node_ptr = test_btf_ptr(btf, (int)btf__type_cnt(btf) + 1);
		int node = test_btf_struct(btf, "hlist_nulls_node", 16, (struct test_btf_field[]){
			TEST_BTF_FIELD("next", node_ptr, 0), TEST_BTF_FIELD("pprev", vp, 8),
			TEST_BTF_END });
		int head = test_btf_struct(btf, "hlist_nulls_head", 8, (struct test_btf_field[]){
			TEST_BTF_FIELD("first", node_ptr, 0), TEST_BTF_END });
		int bucket = test_btf_struct(btf, "bucket", 16, (struct test_btf_field[]){
			TEST_BTF_FIELD("head", head, 0), TEST_BTF_FIELD("raw_lock", u32, 8),
			TEST_BTF_END });
		int pad = test_btf_struct(btf, NULL, 16, (struct test_btf_field[]){
			TEST_BTF_FIELD("padding", vp, 0), TEST_BTF_FIELD("batch_flink", vp, 8),
			TEST_BTF_END });
		int link = test_btf_union(btf, NULL, 16, (struct test_btf_field[]){
			TEST_BTF_FIELD("hash_node", node, 0), TEST_BTF_FIELD(NULL, pad, 0),
			TEST_BTF_END });

		ck_assert_int_eq(node, node_ptr + 1);
		test_btf_struct(btf, "htab_elem", 48, (struct test_btf_field[]){
			TEST_BTF_FIELD(NULL, link, 0), TEST_BTF_FIELD("ptr_to_pptr", vp, 16),
			TEST_BTF_FIELD("hash", u32, 40), TEST_BTF_FIELD("key", flex_c_early, 48),
			TEST_BTF_END });
		test_btf_struct(btf, "bpf_htab", 320, (struct test_btf_field[]){
			TEST_BTF_FIELD("map", map, 0), TEST_BTF_FIELD("buckets",
				test_btf_ptr(btf, bucket), 256),
			TEST_BTF_FIELD("elems", vp, 264), TEST_BTF_FIELD("n_buckets", u32, 272),
			TEST_BTF_FIELD("elem_size", u32, 276), TEST_BTF_END });
		l->htab_size = 320;
		l->htab_buckets = 256;
		l->htab_n_buckets = 272;
		l->htab_elems = 264;
		l->htab_elem_size = 276;
		l->elem_key = 48;
	}

	st_state = btf__add_enum(btf, "bpf_struct_ops_state", 4);
	ck_assert_int_gt(st_state, 0);
	enum_values(btf, (const char *const[]){ "BPF_STRUCT_OPS_STATE_INIT",
		"BPF_STRUCT_OPS_STATE_INUSE", "BPF_STRUCT_OPS_STATE_TOBEFREE",
		"BPF_STRUCT_OPS_STATE_READY" }, (const int64_t[]){ 0, 1, 2, 3 }, 4);
	common = test_btf_struct(btf, "bpf_struct_ops_common_value", 8, (struct test_btf_field[]){
		TEST_BTF_FIELD("refcnt", u32, 0), TEST_BTF_FIELD("state", st_state, 4),
		TEST_BTF_END });
	value = test_btf_struct(btf, "bpf_struct_ops_value", 64, (struct test_btf_field[]){
		TEST_BTF_FIELD("common", common, 0), TEST_BTF_FIELD("data", flex_c, 64),
		TEST_BTF_END });
	{
		int pages = test_btf_array(btf, vp, 8);

		sops = test_btf_struct(btf, "bpf_struct_ops_map", 448, (struct test_btf_field[]){
			TEST_BTF_FIELD("map", map, 0), TEST_BTF_FIELD("st_ops_desc", vp, 248),
			TEST_BTF_FIELD("links", vp, 256), TEST_BTF_FIELD("funcs_cnt", u32, 264),
			TEST_BTF_FIELD("image_pages_cnt", u32, 268),
			TEST_BTF_FIELD("image_pages", pages, 272),
			TEST_BTF_FIELD("btf", btf_ptr, 336), TEST_BTF_FIELD("uvalue", vp, 344),
			TEST_BTF_FIELD("kvalue", value, 384), TEST_BTF_END });
		ck_assert_int_gt(sops, 0);
	}
	l->sops_size = 448;
	l->sops_kvalue = 384;
	l->sops_uvalue = 344;
	l->value_data = 64;

	{
		/* struct bpf_prog_aux * takes the next id, struct bpf_prog_aux the one after. */
		int maps_pp = test_btf_ptr(btf, test_btf_ptr(btf, map));
		int aux_ptr = test_btf_ptr(btf, (int)btf__type_cnt(btf) + 1);
		int aux = test_btf_struct(btf, "bpf_prog_aux", 256, (struct test_btf_field[]){
			TEST_BTF_FIELD("refcnt", u64, 0), TEST_BTF_FIELD("used_map_cnt", u32, 8),
			TEST_BTF_FIELD("used_btf_cnt", u32, 12), TEST_BTF_FIELD("max_ctx_offset", u32, 16),
			TEST_BTF_FIELD("id", u32, 28), TEST_BTF_FIELD("used_maps", maps_pp, 96),
			TEST_BTF_FIELD("name", charr16, 160), TEST_BTF_END });

		ck_assert_int_eq(aux, aux_ptr + 1);
		test_btf_struct(btf, "bpf_prog", 72, (struct test_btf_field[]){
			TEST_BTF_FIELD("pages", u16, 0), TEST_BTF_FIELD("type", u32, 4),
			TEST_BTF_FIELD("len", u32, 12), TEST_BTF_FIELD("aux", aux_ptr, 56),
			TEST_BTF_END });
		l->prog_size = 72;
		l->prog_aux = 56;
		l->aux_size = 256;
		l->aux_id = 28;
		l->aux_used_maps = 96;
		l->aux_used_map_cnt = 8;
	}

	if (tk->scx == TK_SCX_NONE)
		return;
	{
		static const char *const fn_names[TK_OPS_NFN] = {
			"select_cpu", "enqueue", "dequeue", "dispatch", "tick", "running",
			"stopping", "init_task", "init", "exit",
		};
		struct test_btf_field f[TK_OPS_NFN + 8];
		int proto = btf__add_func_proto(btf, intt), fnp, name128, ops, vt, ulong1;
		size_t n = 0;

		ck_assert_int_gt(proto, 0);
		fnp = test_btf_ptr(btf, proto);
		name128 = test_btf_array(btf, chr, 128);
		ulong1 = test_btf_array(btf, ulong, 1);
		for (int i = 0; i < TK_OPS_NFN; i++) {
			f[n++] = (struct test_btf_field)TEST_BTF_FIELD(fn_names[i], fnp, 8u * i);
			l->ops_fn[i] = 8u * i;
		}
		f[n++] = (struct test_btf_field)TEST_BTF_FIELD("dispatch_max_batch", u32, 80);
		f[n++] = (struct test_btf_field)TEST_BTF_FIELD("flags", u64, 88);
		f[n++] = (struct test_btf_field)TEST_BTF_FIELD("timeout_ms", u32, 96);
		f[n++] = (struct test_btf_field)TEST_BTF_FIELD("exit_dump_len", u32, 100);
		f[n++] = (struct test_btf_field)TEST_BTF_FIELD("hotplug_seq", u64, 104);
		f[n++] = (struct test_btf_field)TEST_BTF_FIELD("name", name128, 112);
		/* A data pointer: never part of the comparison. */
		f[n++] = (struct test_btf_field)TEST_BTF_FIELD("priv", vp, 240);
		f[n] = (struct test_btf_field)TEST_BTF_END;
		ops = test_btf_struct(btf, "sched_ext_ops", 248, f);
		l->ops_size = 248;
		l->ops_name = 112;
		l->ops_priv = 240;
		vt = test_btf_struct(btf, "bpf_struct_ops_sched_ext_ops", 320,
				     (struct test_btf_field[]){
			TEST_BTF_FIELD("common", common, 0), TEST_BTF_FIELD("data", ops, 64),
			TEST_BTF_END });
		l->scx_ops_value_type_id = (uint32_t)vt;
		if (tk->scx == TK_SCX_ROOT && tk->health != TK_HEALTH_NONE) {
			tk_health_btf(btf, tk->health, ops, ulong1, &tk->hlay);
			l->sched_size = tk->hlay.sched_size;
			l->sched_ops = 64;
		} else if (tk->scx == TK_SCX_ROOT) {
			/* ops not at offset 0 (where 6.16 has it): the offset must come from BTF. */
			test_btf_struct(btf, "scx_sched", 320, (struct test_btf_field[]){
				TEST_BTF_FIELD("has_op", ulong1, 0), TEST_BTF_FIELD("ops", ops, 64),
				TEST_BTF_END });
			l->sched_size = 320;
			l->sched_ops = 64;
		}
		if (tk->scx == TK_SCX_OPS_6_12) {
			int e = btf__add_enum(btf, "scx_ops_enable_state", 4);

			ck_assert_int_gt(e, 0);
			enum_values(btf, (const char *const[]){ "SCX_OPS_ENABLING", "SCX_OPS_ENABLED",
				"SCX_OPS_DISABLING", "SCX_OPS_DISABLED" },
				(const int64_t[]){ 0, 1, 2, 3 }, 4);
		} else {
			int e = btf__add_enum(btf, "scx_enable_state", 4);

			ck_assert_int_gt(e, 0);
			enum_values(btf, (const char *const[]){ "SCX_ENABLING", "SCX_ENABLED",
				"SCX_DISABLING", "SCX_DISABLED" }, (const int64_t[]){ 0, 1, 2, 3 }, 4);
		}
		tk->scx_enabled = 1;
		tk->scx_disabled = 3;
	}
}

/* ---- boot ---- */

/* The callbacks of tk->mem. */
static uint64_t mem_kmalloc(void *ctx, uint64_t size)
{
	return tk_kmalloc(ctx, size);
}

static uint64_t mem_vmalloc(void *ctx, uint64_t size)
{
	return tk_vmalloc(ctx, size);
}

static void mem_write(void *ctx, uint64_t va, const void *buf, uint64_t len)
{
	tk_write(ctx, va, buf, len);
}

static void mem_read(void *ctx, uint64_t va, void *buf, uint64_t len)
{
	tk_read(ctx, va, buf, len);
}

struct test_kernel *tk_new(const struct tk_opts *opts)
{
	struct test_kernel *tk = calloc(1, sizeof(*tk));
	struct bw_ram_source source = BW_RAM_SOURCE_INIT;
	struct bw_layout_spec spec;
	struct bw_kernel_parts parts = { 0 };
	struct bw_error err = { 0 };
	struct test_btf_xa xa;
	struct bw_symtab *symtab;
	struct btf *btf;
	void *map;
	uint64_t pcpu_sym, nr_sym, pob_sym;

	ck_assert_ptr_nonnull(tk);
	tk->nr_cpus = opts && opts->nr_cpus ? opts->nr_cpus : 4;
	ck_assert_uint_le(tk->nr_cpus, TK_MAX_CPUS);
	tk->scx = opts ? opts->scx : TK_SCX_ROOT;
	tk->health = opts ? opts->health : TK_HEALTH_NONE;
	tk->printk = opts && opts->printk;
	tk->fd = memfd_create("bw-test-kernel", MFD_CLOEXEC);
	ck_assert_int_ge(tk->fd, 0);
	ck_assert_int_eq(ftruncate(tk->fd, (off_t)RAM_SIZE), 0);
	map = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, tk->fd, 0);
	ck_assert(map != MAP_FAILED);
	tk->ram = map;
	tk->ram_size = RAM_SIZE;
	tk->pt_next = PT_POOL;
	tk->slab_next = SLAB_PA;
	tk->image_next = IMAGE_PA;
	tk->vmalloc_next = TK_VMALLOC_BASE;
	tk->pgd = pt_alloc(tk);
	{
		/* The direct map as one 1 GiB page, as the kernel maps it. */
		uint64_t pdpt = pt_alloc(tk);

		*entry(tk, tk->pgd, TK_PAGE_OFFSET_BASE, 3) = pdpt | PTE_FLAGS;
		*entry(tk, pdpt, TK_PAGE_OFFSET_BASE, 2) = 0 | PTE_FLAGS | PTE_PS;
	}
	for (uint32_t c = 0; c < tk->nr_cpus; c++)
		tk->per_cpu_offset[c] = TK_PCPU_OFF0 + c * TK_PCPU_UNIT;

	/* The IDR writer works on a test_mem: give it views of the image and the slab. */
	tk->alias = test_mem_new();
	tk->alias->ranges[0].addr = TK_IMAGE_VA;
	tk->alias->ranges[0].size = IMAGE_SIZE;
	tk->alias->ranges[0].bytes = tk->ram + IMAGE_PA;
	tk->alias->ranges[1].addr = TK_PAGE_OFFSET_BASE + SLAB_PA;
	tk->alias->ranges[1].size = SLAB_SIZE;
	tk->alias->ranges[1].bytes = tk->ram + SLAB_PA;
	tk->alias->nranges = 2;

	btf = test_btf_new();
	build_btf(tk, btf, &xa);
	if (tk->printk)
		tk_printk_btf(btf, &tk->plog);

	symtab = bw_symtab_new();
	ck_assert_ptr_nonnull(symtab);
	tk->map_idr = image_alloc(tk, xa.idr_size);
	ck_assert_int_eq(bw_symtab_add(symtab, "map_idr", tk->map_idr, 'd'), 0);
	tk->prog_idr = image_alloc(tk, xa.idr_size);
	ck_assert_int_eq(bw_symtab_add(symtab, "prog_idr", tk->prog_idr, 'd'), 0);
	pcpu_sym = image_alloc(tk, 8ULL * tk->nr_cpus);
	nr_sym = image_alloc(tk, 4);
	pob_sym = image_alloc(tk, 8);
	ck_assert_int_eq(bw_symtab_add(symtab, "__per_cpu_offset", pcpu_sym, 'D'), 0);
	ck_assert_int_eq(bw_symtab_add(symtab, "nr_cpu_ids", nr_sym, 'D'), 0);
	ck_assert_int_eq(bw_symtab_add(symtab, "page_offset_base", pob_sym, 'D'), 0);
	switch (tk->scx) {
	case TK_SCX_ROOT:
		tk->scx_root = image_alloc(tk, 8);
		ck_assert_int_eq(bw_symtab_add(symtab, "scx_root", tk->scx_root, 'b'), 0);
		if (opts && opts->no_scx_state)
			break;
		tk->scx_state = image_alloc(tk, 4);
		ck_assert_int_eq(bw_symtab_add(symtab, "scx_enable_state_var", tk->scx_state, 'd'),
				 0);
		break;
	case TK_SCX_OPS_6_15:
	case TK_SCX_OPS_6_12:
		tk->scx_ops = image_alloc(tk, tk->lay.ops_size);
		tk->scx_state = image_alloc(tk, 4);
		ck_assert_int_eq(bw_symtab_add(symtab, "scx_ops", tk->scx_ops, 'b'), 0);
		ck_assert_int_eq(bw_symtab_add(symtab, tk->scx == TK_SCX_OPS_6_15 ?
					       "scx_enable_state_var" : "scx_ops_enable_state_var",
					       tk->scx_state, 'd'), 0);
		break;
	case TK_SCX_NONE:
		break;
	}
	if (tk->printk) {
		tk->prb = image_alloc(tk, 8);
		ck_assert_int_eq(bw_symtab_add(symtab, "prb", tk->prb, 'D'), 0);
	}
	if (tk->health != TK_HEALTH_NONE) {
		tk->runqueues = percpu_alloc(tk, tk->hlay.rq_size);
		tk->jiffies = image_alloc(tk, 8);
		ck_assert_int_eq(bw_symtab_add(symtab, "runqueues", tk->runqueues, 'D'), 0);
		ck_assert_int_eq(bw_symtab_add(symtab, "jiffies_64", tk->jiffies, 'D'), 0);
		if (tk->health != TK_HEALTH_7) {
			tk->bypass_depth = image_alloc(tk, 4);
			ck_assert_int_eq(bw_symtab_add(symtab, "scx_bypass_depth", tk->bypass_depth,
						       'b'), 0);
		}
	}
	ck_assert_int_eq(bw_symtab_finish(symtab), 0);

	for (uint32_t c = 0; c < tk->nr_cpus; c++)
		tk_put(tk, pcpu_sym + 8ULL * c, tk->per_cpu_offset[c], 8);
	tk_put(tk, nr_sym, tk->nr_cpus, 4);
	tk_put(tk, pob_sym, TK_PAGE_OFFSET_BASE, 8);
	if (tk->scx_state)
		tk_put(tk, tk->scx_state, (uint64_t)tk->scx_disabled, 4);

	test_idr_init(&tk->idr, tk->alias, &xa, tk->map_idr, 0, 0,
		      tk_kmalloc(tk, IDR_NODES * xa.node_size), IDR_NODES);
	tk->next_id = 1;
	test_idr_init(&tk->prog_xa, tk->alias, &xa, tk->prog_idr, 0, 0,
		      tk_kmalloc(tk, IDR_NODES * xa.node_size), IDR_NODES);
	tk->next_prog_id = 1;
	tk->mem = (struct tk_mem){
		.ctx = tk, .kmalloc = mem_kmalloc, .vmalloc = mem_vmalloc,
		.percpu_alloc = percpu_alloc, .write = mem_write, .read = mem_read,
		.lay = &tk->lay, .idr = &tk->idr, .map_idr = tk->map_idr, .next_id = &tk->next_id,
		.scx = tk->scx, .scx_root = tk->scx_root, .scx_ops = tk->scx_ops,
		.scx_state = tk->scx_state, .scx_enabled = tk->scx_enabled,
		.scx_disabled = tk->scx_disabled, .nr_cpus = tk->nr_cpus,
		.per_cpu_offset = tk->per_cpu_offset,
		/* sizeof(struct bpf_struct_ops_sched_ext_ops) in this kernel's BTF */
		.sops_value_size = 320, .ops_flags = 0x40,
	};

	ck_assert_int_eq(bw_layout_parse("flat", &spec, &err), 0);
	if (opts && opts->private_ram) {
		struct bw_ram_backends bk = { .n = 1 };

		bk.b[0] = (struct bw_ram_backend){ .fd = -1, .pid = getpid(),
						   .addr = (uintptr_t)tk->ram, .size = RAM_SIZE };
		ck_assert_msg(bw_ram_open_backends(&bk, &spec, &tk->bw_ram, &err) == 0, "%s",
			      err.msg);
	} else {
		source.fd = tk->fd;
		ck_assert_msg(bw_ram_open(&source, &spec, &tk->bw_ram, &err) == 0, "%s", err.msg);
	}
	parts.release = "7.3.0-test";
	parts.phys_base = TK_PHYS_BASE;
	parts.page_offset_base = TK_PAGE_OFFSET_BASE;
	parts.pgd_gpa = tk->pgd;
	parts.paging_levels = 4;
	parts.image_start = TK_IMAGE_VA;
	parts.image_end = TK_IMAGE_VA + IMAGE_SIZE;
	parts.symtab = symtab;
	parts.btf = btf;
	parts.nr_cpu_ids = tk->nr_cpus;
	parts.per_cpu_offset = tk->per_cpu_offset;
	ck_assert_msg(bw_kernel_from_parts(tk->bw_ram, &parts, &tk->k, &err) == 0, "%s", err.msg);
	return tk;
}

void tk_free(struct test_kernel *tk)
{
	if (!tk)
		return;
	bw_kernel_free(tk->k);
	bw_ram_close(tk->bw_ram);
	tk->alias->nranges = 0;	/* its ranges are views of the RAM mapping */
	test_mem_free(tk->alias);
	munmap(tk->ram, RAM_SIZE);
	close(tk->fd);
	free(tk);
}

/* ---- BPF objects ---- */

static void mem_put(const struct tk_mem *mem, uint64_t va, uint64_t value, unsigned int width)
{
	ck_assert(width >= 1 && width <= 8);
	mem->write(mem->ctx, va, &value, width);
}

uint64_t tk_mem_load_btf(const struct tk_mem *mem, const struct btf *obj, bool vmalloc)
{
	const struct tk_layout *l = mem->lay;
	uint32_t size = 0;
	const void *raw = btf__raw_data(obj, &size);
	uint64_t data, sb;

	ck_assert_ptr_nonnull(raw);
	/* kvmalloc'd in the kernel: a blob of more than a few pages is in vmalloc space. */
	data = vmalloc ? mem->vmalloc(mem->ctx, size) : mem->kmalloc(mem->ctx, size);
	mem->write(mem->ctx, data, raw, size);
	sb = mem->kmalloc(mem->ctx, l->btf_size);
	mem_put(mem, sb + l->btf_data, data, 8);
	mem_put(mem, sb + l->btf_data_size, size, 4);
	mem_put(mem, sb + l->btf_base_btf, 0, 8);
	return sb;
}

uint64_t tk_load_btf(struct test_kernel *tk, const struct btf *obj, bool vmalloc)
{
	return tk_mem_load_btf(&tk->mem, obj, vmalloc);
}

static void write_header(const struct tk_mem *mem, uint64_t addr, const struct tk_map_spec *s,
			 uint32_t id)
{
	const struct tk_layout *l = mem->lay;
	char name[16] = { 0 };

	snprintf(name, sizeof(name), "%.15s", s->name ? s->name : "");
	mem_put(mem, addr + l->map_type, s->type, 4);
	mem_put(mem, addr + l->map_key_size, s->key_size, 4);
	mem_put(mem, addr + l->map_value_size, s->value_size, 4);
	mem_put(mem, addr + l->map_max_entries, s->max_entries, 4);
	mem_put(mem, addr + l->map_flags, s->flags, 4);
	mem_put(mem, addr + l->map_btf, s->btf, 8);
	mem_put(mem, addr + l->map_btf_value_type_id, s->btf_value_type_id, 4);
	mem_put(mem, addr + l->map_btf_vmlinux_value_type_id, s->btf_vmlinux_value_type_id, 4);
	mem->write(mem->ctx, addr + l->map_name, name, sizeof(name));
	mem_put(mem, addr + l->map_id, id, 4);
}

/* bpf_map_alloc_id(): idr_alloc_cyclic from idr_next, then idr_next = id + 1. */
static uint32_t alloc_id(const struct tk_mem *mem, uint64_t addr)
{
	uint32_t id = (*mem->next_id)++;

	test_idr_store(mem->idr, id, addr);
	mem_put(mem, mem->map_idr + mem->idr->lay.idr_next, id + 1, 4);
	return id;
}

struct tk_map tk_mem_add_map(const struct tk_mem *mem, const struct tk_map_spec *s)
{
	const struct tk_layout *l = mem->lay;
	struct tk_map m = { 0 };

	m.type = s->type;
	m.max_entries = s->max_entries;
	m.elem_size = (uint32_t)round_up(s->value_size, 8);
	if (s->type == TK_MAP_ARRAY) {
		uint64_t bytes = (uint64_t)s->max_entries * m.elem_size;

		if (s->vmalloc) {
			/* array_map_alloc(): the struct ends where the page-aligned values begin. */
			uint64_t head = round_up(l->array_value, PAGE);
			uint64_t base = mem->vmalloc(mem->ctx, head + round_up(bytes, PAGE));

			m.addr = base + head - l->array_value;
		} else {
			m.addr = mem->kmalloc(mem->ctx, l->array_value + bytes);
		}
		m.values = m.addr + l->array_value;
		mem_put(mem, m.addr + l->array_elem_size, m.elem_size, 4);
	} else if (s->type == TK_MAP_PERCPU_ARRAY) {
		m.addr = mem->kmalloc(mem->ctx, l->array_value + 8ULL * s->max_entries);
		m.values = m.addr + l->array_value;
		mem_put(mem, m.addr + l->array_elem_size, m.elem_size, 4);
		for (uint32_t i = 0; i < s->max_entries; i++)
			mem_put(mem, m.values + 8ULL * i, mem->percpu_alloc(mem->ctx, m.elem_size), 8);
	} else {
		m.addr = mem->kmalloc(mem->ctx, l->map_size);
	}
	m.id = *mem->next_id;
	write_header(mem, m.addr, s, m.id);
	ck_assert_uint_eq(alloc_id(mem, m.addr), m.id);
	return m;
}

struct tk_map tk_add_map(struct test_kernel *tk, const struct tk_map_spec *s)
{
	return tk_mem_add_map(&tk->mem, s);
}

struct tk_map tk_mem_add_struct_ops(const struct tk_mem *mem, const char *name, uint64_t btf,
				    const char *ops_name, uint64_t fn_base)
{
	const struct tk_layout *l = mem->lay;
	struct tk_map_spec s = {
		.name = name, .type = TK_MAP_STRUCT_OPS, .key_size = 4,
		.value_size = mem->sops_value_size, .max_entries = 1, .flags = 0, .btf = btf,
		.btf_vmlinux_value_type_id = l->scx_ops_value_type_id,
	};
	struct tk_map m = { 0 };
	uint64_t ops;
	char oname[128] = { 0 };

	ck_assert(mem->scx != TK_SCX_NONE);
	m.type = TK_MAP_STRUCT_OPS;
	m.max_entries = 1;
	m.addr = mem->kmalloc(mem->ctx, l->sops_kvalue + l->value_data + l->ops_size);
	ops = m.addr + l->sops_kvalue + l->value_data;
	for (int i = 0; i < TK_OPS_NFN; i++)
		/* dequeue and stopping not implemented: NULL, as in a real scheduler */
		mem_put(mem, ops + l->ops_fn[i], (i == 2 || i == 6) ? 0 : fn_base + 0x100ULL * i, 8);
	snprintf(oname, sizeof(oname), "%s", ops_name);
	mem->write(mem->ctx, ops + l->ops_name, oname, sizeof(oname));
	mem_put(mem, ops + l->ops_priv, 0x5eed, 8);
	mem_put(mem, ops + 88, mem->ops_flags, 8);	/* flags */
	/* uvalue: what userspace wrote, with program ids where tk_add_prog() puts them. */
	mem_put(mem, m.addr + l->sops_uvalue,
		mem->kmalloc(mem->ctx, l->value_data + l->ops_size), 8);
	m.id = *mem->next_id;
	write_header(mem, m.addr, &s, m.id);
	ck_assert_uint_eq(alloc_id(mem, m.addr), m.id);
	return m;
}

struct tk_map tk_add_struct_ops(struct test_kernel *tk, const char *name, uint64_t btf,
				const char *ops_name, uint64_t fn_base)
{
	return tk_mem_add_struct_ops(&tk->mem, name, btf, ops_name, fn_base);
}

void tk_mem_attach(const struct tk_mem *mem, const struct tk_map *sops)
{
	const struct tk_layout *l = mem->lay;
	uint8_t ops[512];

	ck_assert_uint_le(l->ops_size, sizeof(ops));
	mem->read(mem->ctx, sops->addr + l->sops_kvalue + l->value_data, ops, l->ops_size);
	/* The kernel may keep its own data in the copy; only callbacks must match. */
	memset(ops + l->ops_priv, 0x77, 8);
	switch (mem->scx) {
	case TK_SCX_ROOT: {
		uint64_t sched;

		ck_assert_uint_gt(l->sched_size, 0);
		sched = mem->kmalloc(mem->ctx, l->sched_size);
		mem->write(mem->ctx, sched + l->sched_ops, ops, l->ops_size);
		mem_put(mem, mem->scx_root, sched, 8);
		break;
	}
	case TK_SCX_OPS_6_15:
	case TK_SCX_OPS_6_12:
		mem->write(mem->ctx, mem->scx_ops, ops, l->ops_size);
		break;
	case TK_SCX_NONE:
		ck_abort_msg("tk_attach: the test kernel has no sched_ext");
	}
	/* Last, as the kernel does once every task runs on the new scheduler. */
	if (mem->scx_state)
		mem_put(mem, mem->scx_state, (uint64_t)mem->scx_enabled, 4);
}

void tk_attach(struct test_kernel *tk, const struct tk_map *sops)
{
	tk_mem_attach(&tk->mem, sops);
}

void tk_mem_detach(const struct tk_mem *mem)
{
	if (mem->scx_state)
		mem_put(mem, mem->scx_state, (uint64_t)mem->scx_disabled, 4);
	if (mem->scx == TK_SCX_ROOT)
		mem_put(mem, mem->scx_root, 0, 8);
}

void tk_detach(struct test_kernel *tk)
{
	tk_mem_detach(&tk->mem);
}

void tk_free_map(struct test_kernel *tk, const struct tk_map *m)
{
	test_idr_store(&tk->idr, m->id, 0);
	tk_put(tk, m->addr + tk->lay.map_id, 0, 4);
}

uint32_t tk_add_prog(struct test_kernel *tk, const struct tk_map *sops, unsigned int fn,
		     const uint64_t *maps, unsigned int n, uint64_t *aux_out)
{
	const struct tk_layout *l = &tk->lay;
	uint64_t prog = tk_kmalloc(tk, l->prog_size), aux = tk_kmalloc(tk, l->aux_size);
	uint64_t used = n ? tk_kmalloc(tk, 8ULL * n) : 0;
	uint32_t id = tk->next_prog_id++;

	ck_assert_uint_lt(fn, TK_OPS_NFN);
	for (unsigned int i = 0; i < n; i++)
		tk_put(tk, used + 8ULL * i, maps[i], 8);
	tk_put(tk, prog + l->prog_aux, aux, 8);
	tk_put(tk, aux + l->aux_id, id, 4);
	tk_put(tk, aux + l->aux_used_map_cnt, n, 4);
	tk_put(tk, aux + l->aux_used_maps, used, 8);
	test_idr_store(&tk->prog_xa, id, prog);
	tk_put(tk, tk->prog_idr + tk->prog_xa.lay.idr_next, id + 1, 4);
	if (sops) {
		uint64_t uvalue = tk_get(tk, sops->addr + l->sops_uvalue, 8);

		tk_put(tk, uvalue + l->value_data + l->ops_fn[fn], id, 8);
	}
	if (aux_out)
		*aux_out = aux;
	return id;
}

struct tk_hash tk_add_hash(struct test_kernel *tk, const struct tk_map_spec *spec)
{
	const struct tk_layout *l = &tk->lay;
	struct tk_hash h = { 0 };
	uint32_t n = 1;

	ck_assert(spec->type == TK_MAP_HASH || spec->type == TK_MAP_PERCPU_HASH ||
		  spec->type == TK_MAP_LRU_HASH);
	while (n < spec->max_entries)
		n <<= 1;
	h.percpu = spec->type == TK_MAP_PERCPU_HASH;
	h.key_size = spec->key_size;
	h.value_size = spec->value_size;
	h.n_buckets = n;
	h.elem_size = (uint32_t)(l->elem_key + round_up(spec->key_size, 8) +
				 (h.percpu ? 8 : round_up(spec->value_size, 8)));
	h.map.type = spec->type;
	h.map.max_entries = spec->max_entries;
	h.map.addr = tk_kmalloc(tk, l->htab_size);
	/* Buckets and preallocated elements: bpf_map_area_alloc, vmalloc when asked. */
	h.buckets = spec->vmalloc ? tk_vmalloc(tk, 16ULL * n) : tk_kmalloc(tk, 16ULL * n);
	h.elems = spec->vmalloc ? tk_vmalloc(tk, (uint64_t)h.elem_size * spec->max_entries) :
				  tk_kmalloc(tk, (uint64_t)h.elem_size * spec->max_entries);
	h.free = calloc(spec->max_entries, sizeof(*h.free));
	ck_assert_ptr_nonnull(h.free);
	for (uint32_t i = 0; i < n; i++)
		tk_put(tk, h.buckets + 16ULL * i, ((uint64_t)i << 1) | 1, 8);	/* nulls markers */
	tk_put(tk, h.map.addr + l->htab_buckets, h.buckets, 8);
	tk_put(tk, h.map.addr + l->htab_n_buckets, n, 4);
	tk_put(tk, h.map.addr + l->htab_elems, h.elems, 8);
	tk_put(tk, h.map.addr + l->htab_elem_size, h.elem_size, 4);
	h.map.id = tk->next_id;
	write_header(&tk->mem, h.map.addr, spec, h.map.id);
	ck_assert_uint_eq(alloc_id(&tk->mem, h.map.addr), h.map.id);
	return h;
}

uint64_t tk_hash_insert(struct test_kernel *tk, struct tk_hash *h, uint64_t key)
{
	const struct tk_layout *l = &tk->lay;
	uint32_t slot = 0, b = (uint32_t)(key % h->n_buckets);
	uint64_t elem, bucket = h->buckets + 16ULL * b;

	while (slot < h->map.max_entries && h->free[slot])
		slot++;
	ck_assert_uint_lt(slot, h->map.max_entries);
	h->free[slot] = 1;
	elem = h->elems + (uint64_t)slot * h->elem_size;
	tk_write(tk, elem + l->elem_key, &key, h->key_size);
	if (h->percpu) {
		tk_put(tk, elem + l->elem_key + round_up(h->key_size, 8),
		       percpu_alloc(tk, round_up(h->value_size, 8)), 8);
	} else {
		for (uint64_t o = 0; o < round_up(h->value_size, 8); o += 8)
			tk_put(tk, elem + l->elem_key + round_up(h->key_size, 8) + o, 0, 8);
	}
	/* hlist_nulls_add_head_rcu: the new entry first, pointing at the old first. */
	tk_put(tk, elem, tk_get(tk, bucket, 8), 8);
	tk_put(tk, bucket, elem, 8);
	return elem;
}

void tk_hash_delete(struct test_kernel *tk, struct tk_hash *h, uint64_t key)
{
	const struct tk_layout *l = &tk->lay;
	uint64_t prev = h->buckets + 16ULL * (key % h->n_buckets), p = tk_get(tk, prev, 8);

	while (!(p & 1)) {
		uint64_t k = 0;

		tk_read(tk, p + l->elem_key, &k, h->key_size);
		if (k == key) {
			tk_put(tk, prev, tk_get(tk, p, 8), 8);
			h->free[(p - h->elems) / h->elem_size] = 0;
			return;
		}
		prev = p;
		p = tk_get(tk, p, 8);
	}
	ck_abort_msg("key %llu is not in the hash map", (unsigned long long)key);
}

uint64_t tk_hash_value(struct test_kernel *tk, const struct tk_hash *h, uint64_t elem,
		       uint32_t cpu)
{
	uint64_t v = elem + tk->lay.elem_key + round_up(h->key_size, 8);

	return h->percpu ? tk_get(tk, v, 8) + tk->per_cpu_offset[cpu] : v;
}

void tk_idr_store(struct test_kernel *tk, uint32_t id, uint64_t entry)
{
	test_idr_store(&tk->idr, id, entry);
}

uint64_t tk_elem(struct test_kernel *tk, const struct tk_map *m, uint32_t index)
{
	(void)tk;
	ck_assert_uint_eq(m->type, TK_MAP_ARRAY);
	ck_assert_uint_lt(index, m->max_entries);
	return m->values + (uint64_t)index * m->elem_size;
}

uint64_t tk_mem_percpu_elem(const struct tk_mem *mem, const struct tk_map *m, uint32_t index,
			    uint32_t cpu)
{
	uint64_t pptr = 0;

	ck_assert_uint_eq(m->type, TK_MAP_PERCPU_ARRAY);
	ck_assert_uint_lt(index, m->max_entries);
	ck_assert_uint_lt(cpu, mem->nr_cpus);
	mem->read(mem->ctx, m->values + 8ULL * index, &pptr, 8);
	return pptr + mem->per_cpu_offset[cpu];
}

uint64_t tk_percpu_elem(struct test_kernel *tk, const struct tk_map *m, uint32_t index,
			uint32_t cpu)
{
	return tk_mem_percpu_elem(&tk->mem, m, index, cpu);
}

/* ---- the demo object ---- */

static int add_var(struct btf *b, const char *name, int type)
{
	int id = btf__add_var(b, name, BTF_VAR_GLOBAL_ALLOCATED, type);

	ck_assert_int_gt(id, 0);
	return id;
}

static void add_datasec(struct btf *b, const char *name, uint32_t size, const int *vars,
			const uint32_t *offsets, const uint32_t *sizes, size_t n)
{
	ck_assert_int_gt(btf__add_datasec(b, name, size), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(btf__add_datasec_var_info(b, vars[i], offsets[i], sizes[i]), 0);
}

void tk_demo_btf_new(struct tk_demo_btf *d)
{
	struct btf *b = test_btf_new();
	int u8, s8, s16, u32, s32, u64, s64, boolt, mode, stats_ops, stats, bits, lohi, wordu, state,
	    v[4], mapdef;

	u8 = test_btf_u8(b);
	s8 = test_btf_typedef(b, "s8", test_btf_typedef(b, "__s8",
			      test_btf_int(b, "signed char", 1, true)));
	s16 = test_btf_typedef(b, "s16", test_btf_typedef(b, "__s16",
			       test_btf_int(b, "short int", 2, true)));
	u32 = test_btf_u32(b);
	s32 = test_btf_s32(b);
	u64 = test_btf_u64(b);
	s64 = test_btf_s64(b);
	boolt = test_btf_typedef(b, "bool", test_btf_bool(b));
	mode = btf__add_enum(b, "bw_mode", 4);
	ck_assert_int_gt(mode, 0);
	enum_values(b, (const char *const[]){ "BW_MODE_OFF", "BW_MODE_FIFO", "BW_MODE_DECOY" },
		    (const int64_t[]){ 0, 3, 9 }, 3);

	stats_ops = test_btf_struct(b, NULL, 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("enqueues", u64, 0), TEST_BTF_FIELD("dispatches", u64, 8),
		TEST_BTF_END });
	stats = test_btf_struct(b, "bw_stats", 24, (struct test_btf_field[]){
		TEST_BTF_FIELD("ops", stats_ops, 0), TEST_BTF_FIELD("ticks", u64, 16),
		TEST_BTF_END });
	bits = test_btf_struct(b, "bw_bits", 4, (struct test_btf_field[]){
		TEST_BTF_BITFIELD("ver_major", u32, 0, 4),
		TEST_BTF_BITFIELD("ver_minor", u32, 4, 6),
		TEST_BTF_BITFIELD("neg_bits", s32, 10, 5),
		TEST_BTF_BITFIELD("tick_mod", u32, 15, 6),
		TEST_BTF_BITFIELD("armed", u32, 21, 1), TEST_BTF_END });
	lohi = test_btf_struct(b, NULL, 8, (struct test_btf_field[]){
		TEST_BTF_FIELD("lo", u32, 0), TEST_BTF_FIELD("hi", u32, 4), TEST_BTF_END });
	wordu = test_btf_union(b, NULL, 8, (struct test_btf_field[]){
		TEST_BTF_FIELD("word", u64, 0), TEST_BTF_FIELD(NULL, lohi, 0), TEST_BTF_END });
	state = test_btf_struct(b, "bw_state", 48, (struct test_btf_field[]){
		TEST_BTF_FIELD("gauge", s32, 0), TEST_BTF_FIELD("fixed_neg", s32, 4),
		TEST_BTF_FIELD("neg16", s16, 8), TEST_BTF_FIELD("neg8", s8, 10),
		TEST_BTF_FIELD("small", u8, 11), TEST_BTF_FIELD("enabled", boolt, 12),
		TEST_BTF_FIELD("mode", mode, 16), TEST_BTF_FIELD(NULL, wordu, 24),
		TEST_BTF_FIELD("bits", bits, 32), TEST_BTF_FIELD("drift", s64, 40),
		TEST_BTF_END });
	d->cpu_stat = test_btf_struct(b, "bw_cpu_stat", 24, (struct test_btf_field[]){
		TEST_BTF_FIELD("runs", u64, 0), TEST_BTF_FIELD("gauge", s64, 8),
		TEST_BTF_FIELD("ticks", u64, 16), TEST_BTF_END });
	d->slot = test_btf_struct(b, "bw_slot", 24, (struct test_btf_field[]){
		TEST_BTF_FIELD("id", u32, 0), TEST_BTF_FIELD("weight", u32, 4),
		TEST_BTF_FIELD("hits", u64, 8), TEST_BTF_FIELD("delta", s32, 16),
		TEST_BTF_FIELD("pad", u32, 20), TEST_BTF_END });
	d->ctx_acc = test_btf_struct(b, "bw_ctx_acc", 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("switches", u64, 0), TEST_BTF_FIELD("last_pid", u32, 8),
		TEST_BTF_FIELD("cpu", s32, 12), TEST_BTF_END });
	/* What libbpf's __uint()/__type() macros make of a .maps variable. */
	mapdef = test_btf_struct(b, NULL, 32, (struct test_btf_field[]){
		TEST_BTF_FIELD("type", test_btf_ptr(b, test_btf_array(b, s32, 2)), 0),
		TEST_BTF_FIELD("key", test_btf_ptr(b, u32), 8),
		TEST_BTF_FIELD("value", test_btf_ptr(b, u64), 16),
		TEST_BTF_FIELD("max_entries", test_btf_ptr(b, test_btf_array(b, s32, 4)), 24),
		TEST_BTF_END });

	v[0] = add_var(b, "stats", stats);
	v[1] = add_var(b, "state", state);
	v[2] = add_var(b, "ident", u64);
	add_datasec(b, ".bss", TK_BSS_SIZE, v, (const uint32_t[]){ 0, TK_BSS_STATE, TK_BSS_IDENT },
		    (const uint32_t[]){ 24, 48, 8 }, 3);
	d->bss = btf__find_by_name_kind(b, ".bss", BTF_KIND_DATASEC);

	v[0] = add_var(b, "data_magic", u64);
	v[1] = add_var(b, "data_counter", u64);
	v[2] = add_var(b, "odd", u32);
	add_datasec(b, ".data", TK_DATA_SIZE, v,
		    (const uint32_t[]){ TK_DATA_MAGIC, TK_DATA_COUNTER, TK_DATA_ODD },
		    (const uint32_t[]){ 8, 8, 4 }, 3);
	d->data = btf__find_by_name_kind(b, ".data", BTF_KIND_DATASEC);

	v[0] = add_var(b, "cpu_stats", mapdef);
	v[1] = add_var(b, "slots", mapdef);
	v[2] = add_var(b, "cpu_ctx_stor_acc", mapdef);
	add_datasec(b, ".maps", 96, v, (const uint32_t[]){ 0, 32, 64 },
		    (const uint32_t[]){ 32, 32, 32 }, 3);
	ck_assert_int_gt(d->bss, 0);
	ck_assert_int_gt(d->data, 0);
	d->btf = b;
}

void tk_mem_load_demo(const struct tk_mem *mem, const char *obj_name, const char *ops_name,
		      uint64_t fn_base, struct tk_object *out)
{
	struct tk_demo_btf d;
	char name[64];

	memset(out, 0, sizeof(*out));
	tk_demo_btf_new(&d);
	out->btf = tk_mem_load_btf(mem, d.btf, true);
	/* libbpf creates the .maps maps first, then the global-data ones. */
	out->cpu_stats = tk_mem_add_map(mem, &(struct tk_map_spec){
		.name = "cpu_stats", .type = TK_MAP_PERCPU_ARRAY, .key_size = 4, .value_size = 24,
		.max_entries = 1, .btf = out->btf, .btf_value_type_id = (uint32_t)d.cpu_stat });
	out->slots = tk_mem_add_map(mem, &(struct tk_map_spec){
		.name = "slots", .type = TK_MAP_ARRAY, .key_size = 4, .value_size = 24,
		.max_entries = TK_NR_SLOTS, .btf = out->btf,
		.btf_value_type_id = (uint32_t)d.slot });
	out->ctx_acc = tk_mem_add_map(mem, &(struct tk_map_spec){
		.name = "cpu_ctx_stor_acc", .type = TK_MAP_ARRAY, .key_size = 4, .value_size = 16,
		.max_entries = TK_MAX_CTX, .btf = out->btf,
		.btf_value_type_id = (uint32_t)d.ctx_acc });
	snprintf(name, sizeof(name), "%.8s.bss", obj_name);
	out->bss = tk_mem_add_map(mem, &(struct tk_map_spec){
		.name = name, .type = TK_MAP_ARRAY, .key_size = 4, .value_size = TK_BSS_SIZE,
		.max_entries = 1, .flags = TK_F_MMAPABLE, .btf = out->btf,
		.btf_value_type_id = (uint32_t)d.bss, .vmalloc = true });
	snprintf(name, sizeof(name), "%.8s.data", obj_name);
	out->data = tk_mem_add_map(mem, &(struct tk_map_spec){
		.name = name, .type = TK_MAP_ARRAY, .key_size = 4, .value_size = TK_DATA_SIZE,
		.max_entries = 1, .flags = TK_F_MMAPABLE, .btf = out->btf,
		.btf_value_type_id = (uint32_t)d.data, .vmalloc = true });
	if (ops_name) {
		snprintf(name, sizeof(name), "%s_ops", ops_name);
		out->ops = tk_mem_add_struct_ops(mem, name, out->btf, ops_name, fn_base);
	}
	btf__free(d.btf);
}

void tk_load_demo(struct test_kernel *tk, const char *obj_name, const char *ops_name,
		  uint64_t fn_base, struct tk_object *out)
{
	tk_mem_load_demo(&tk->mem, obj_name, ops_name, fn_base, out);
}

struct bw_watch_set *tk_watch_set(const struct bw_watch *ws, size_t n)
{
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_error err = { 0 };

	ck_assert_ptr_nonnull(set);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(bw_watch_set_add(set, &ws[i], &err) == 0, "%s", err.msg);
	return set;
}

uint64_t tk_percpu_alloc(struct test_kernel *tk, uint64_t size)
{
	return percpu_alloc(tk, size);
}
