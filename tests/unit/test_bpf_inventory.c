/* SPDX-License-Identifier: MIT */
/*
 * BPF inventory: maps read out of a synthetic guest kernel, grouped into
 * objects, the active sched_ext scheduler found by its callbacks (never by
 * name), the cheap change check, and garbage of every kind.
 */
#include <check.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bpf_inventory.h"
#include "util_kernel.h"

#define FN_DEMO 0xffffffffc0100000ULL
#define FN_DECOY 0xffffffffc0200000ULL

static struct test_kernel *boot_opts(enum tk_scx_mode mode, bool no_scx_state)
{
	return tk_new(&(struct tk_opts){ .nr_cpus = 4, .scx = mode,
					 .no_scx_state = no_scx_state });
}

static struct test_kernel *boot(enum tk_scx_mode mode)
{
	return boot_opts(mode, false);
}

static void layout(struct test_kernel *tk, struct bw_bpf_layout *l)
{
	struct bw_error err = { 0 };

	ck_assert_msg(bw_bpf_layout_init(tk->k, l, &err) == 0, "%s", err.msg);
}

static struct bw_bpf_inventory *scan(struct test_kernel *tk, const struct bw_bpf_layout *l)
{
	struct bw_bpf_inventory *inv = NULL;
	struct bw_error err = { 0 };

	ck_assert_msg(bw_bpf_inventory_scan(tk->k, l, &inv, &err) == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(inv);
	return inv;
}

/* The cheap check must have noticed a change; then scan again. */
static struct bw_bpf_inventory *rescan_changed(struct test_kernel *tk,
					       const struct bw_bpf_layout *l,
					       struct bw_bpf_inventory *inv)
{
	struct bw_error err = { 0 };
	bool changed = false;

	ck_assert_msg(bw_bpf_inventory_changed(tk->k, l, inv, &changed, &err) == 0, "%s",
		      err.msg);
	ck_assert_msg(changed, "the cheap check missed a change");
	bw_bpf_inventory_free(inv);
	return scan(tk, l);
}

static const struct bw_bpf_map *by_id(const struct bw_bpf_inventory *inv, uint32_t id)
{
	const struct bw_bpf_map *m = bw_bpf_inventory_find_id(inv, id);

	ck_assert_msg(m != NULL, "map id %u not in the inventory", id);
	return m;
}

static int object_of_btf(const struct bw_bpf_inventory *inv, uint64_t btf)
{
	for (unsigned int i = 0; i < inv->nobjects; i++)
		if (inv->objects[i].btf_addr == btf)
			return (int)i;
	return -1;
}

START_TEST(test_layout_from_btf)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;

	layout(tk, &l);
	ck_assert_uint_eq(l.map_size, tk->lay.map_size);
	ck_assert_uint_eq(l.map_type, tk->lay.map_type);
	ck_assert_uint_eq(l.map_id, tk->lay.map_id);
	ck_assert_uint_eq(l.map_name, tk->lay.map_name);
	ck_assert_uint_eq(l.map_btf, tk->lay.map_btf);
	ck_assert_uint_eq(l.map_btf_value_type_id, tk->lay.map_btf_value_type_id);
	ck_assert_uint_eq(l.map_btf_vmlinux_value_type_id, tk->lay.map_btf_vmlinux_value_type_id);
	ck_assert_uint_eq(l.array_elem_size, tk->lay.array_elem_size);
	ck_assert_uint_eq(l.array_value, tk->lay.array_value);
	ck_assert_uint_eq(l.btf_data, tk->lay.btf_data);
	ck_assert_uint_eq(l.btf_data_size, tk->lay.btf_data_size);
	ck_assert_uint_eq(l.btf_base_btf, tk->lay.btf_base_btf);
	ck_assert_uint_eq(l.struct_ops_kvalue, tk->lay.sops_kvalue);
	ck_assert_int_eq(l.type_array, TK_MAP_ARRAY);
	ck_assert_int_eq(l.type_percpu_array, TK_MAP_PERCPU_ARRAY);
	ck_assert_int_eq(l.type_struct_ops, TK_MAP_STRUCT_OPS);
	ck_assert_str_eq(bw_bpf_map_type_name(&l, TK_MAP_PERCPU_ARRAY), "percpu_array");
	ck_assert_str_eq(bw_bpf_map_type_name(&l, TK_MAP_STRUCT_OPS), "struct_ops");
	ck_assert_str_eq(bw_bpf_map_type_name(&l, 17), "unknown");
	ck_assert_str_eq(bw_bpf_map_type_name(&l, 99999), "unknown");
	ck_assert(l.has_scx);
	ck_assert_int_eq(l.scx_mode, BW_SCX_ROOT);
	ck_assert_uint_eq(l.scx_ops_value_type_id, tk->lay.scx_ops_value_type_id);
	ck_assert_uint_eq(l.scx_ops_value_data, 64);
	ck_assert_uint_eq(l.scx_ops_size, tk->lay.ops_size);
	ck_assert_uint_eq(l.scx_ops_name, tk->lay.ops_name);
	ck_assert_uint_eq(l.scx_sched_ops, tk->lay.sched_ops);
	/* The ten callbacks, not the data pointer "priv". */
	ck_assert_uint_eq(l.scx_ops_nfn, TK_OPS_NFN);
	for (unsigned int i = 0; i < l.scx_ops_nfn; i++)
		ck_assert_uint_eq(l.scx_ops_fn[i], tk->lay.ops_fn[i]);
	ck_assert_uint_eq(l.scx_root_addr, tk->scx_root);
	ck_assert(l.has_scx_state);
	ck_assert_uint_eq(l.scx_state_addr, tk->scx_state);
	ck_assert_int_eq(l.scx_state_enabled, 1);
	tk_free(tk);
}
END_TEST

START_TEST(test_maps_read)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct tk_object o;
	const struct bw_bpf_map *m;

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	inv = scan(tk, &l);
	ck_assert_uint_eq(inv->nmaps, 6);
	ck_assert_uint_eq(inv->nskipped, 0);
	ck_assert_uint_eq(inv->map_idr_next, o.ops.id + 1);
	for (unsigned int i = 1; i < inv->nmaps; i++)
		ck_assert_uint_lt(inv->maps[i - 1].id, inv->maps[i].id);

	m = by_id(inv, o.bss.id);
	ck_assert_str_eq(m->name, "bw_demo.bss");
	ck_assert_str_eq(m->full_name, "bw_demo.bss");
	ck_assert_uint_eq(m->type, TK_MAP_ARRAY);
	ck_assert_uint_eq(m->key_size, 4);
	ck_assert_uint_eq(m->value_size, TK_BSS_SIZE);
	ck_assert_uint_eq(m->max_entries, 1);
	ck_assert_uint_eq(m->flags, TK_F_MMAPABLE);
	ck_assert_uint_eq(m->addr, o.bss.addr);
	ck_assert_uint_eq(m->btf_addr, o.btf);
	ck_assert_uint_eq(m->values, o.bss.values);
	ck_assert_uint_eq(m->values % 4096, 0);	/* mmapable: values page-aligned */
	ck_assert_uint_eq(m->elem_size, TK_BSS_SIZE);

	m = by_id(inv, o.cpu_stats.id);
	ck_assert_str_eq(m->name, "cpu_stats");
	ck_assert_uint_eq(m->type, TK_MAP_PERCPU_ARRAY);
	ck_assert_uint_eq(m->values, o.cpu_stats.values);
	ck_assert_uint_eq(m->elem_size, 24);

	m = by_id(inv, o.ctx_acc.id);
	ck_assert_str_eq(m->name, "cpu_ctx_stor_ac");	/* the kernel keeps 15 characters */
	ck_assert_uint_eq(m->max_entries, TK_MAX_CTX);

	m = by_id(inv, o.ops.id);
	ck_assert_str_eq(m->name, "bw_demo_ops");
	ck_assert_uint_eq(m->type, TK_MAP_STRUCT_OPS);
	ck_assert_uint_eq(m->btf_vmlinux_value_type_id, l.scx_ops_value_type_id);
	ck_assert_uint_eq(m->values, 0);
	ck_assert_ptr_null(bw_bpf_inventory_find_id(inv, 999));
	bw_bpf_inventory_free(inv);
	tk_free(tk);
}
END_TEST

START_TEST(test_objects_and_prefixes)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct tk_object a, b;
	struct tk_demo_btf d;
	uint64_t btf_c, btf_d, btf_e;
	struct tk_map lone, kconfig, custom, sops_only, nothing;
	int oa, ob, oc, od, oe;

	layout(tk, &l);
	tk_load_demo(tk, "scx_lavd_long_name", NULL, 0, &a);
	tk_load_demo(tk, "bpf", "rusty", FN_DEMO, &b);
	/* A map without BTF types: part of no object. */
	lone = tk_add_map(tk, &(struct tk_map_spec){ .name = "no_btf_hash", .type = TK_MAP_HASH,
		.key_size = 8, .value_size = 8, .max_entries = 64 });
	tk_demo_btf_new(&d);
	/* Only ".kconfig": libbpf keeps 7 characters of the object name. */
	btf_c = tk_load_btf(tk, d.btf, false);
	kconfig = tk_add_map(tk, &(struct tk_map_spec){ .name = "my_obje.kconfig",
		.type = TK_MAP_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 1,
		.btf = btf_c, .btf_value_type_id = (uint32_t)d.data });
	/* A custom section (two dots, no prefix) and a STRUCT_OPS map. */
	btf_d = tk_load_btf(tk, d.btf, false);
	custom = tk_add_map(tk, &(struct tk_map_spec){ .name = ".data.custom",
		.type = TK_MAP_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 1,
		.btf = btf_d, .btf_value_type_id = (uint32_t)d.data });
	sops_only = tk_add_struct_ops(tk, "plain_ops", btf_d, "plain", FN_DECOY);
	/* Neither. */
	btf_e = tk_load_btf(tk, d.btf, false);
	nothing = tk_add_map(tk, &(struct tk_map_spec){ .name = "counters",
		.type = TK_MAP_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 1,
		.btf = btf_e, .btf_value_type_id = (uint32_t)d.data });
	btf__free(d.btf);

	inv = scan(tk, &l);
	ck_assert_uint_eq(inv->nobjects, 5);
	oa = object_of_btf(inv, a.btf);
	ob = object_of_btf(inv, b.btf);
	oc = object_of_btf(inv, btf_c);
	od = object_of_btf(inv, btf_d);
	oe = object_of_btf(inv, btf_e);
	/* Ordered by their lowest map id. */
	ck_assert_int_eq(oa, 0);
	ck_assert_int_eq(ob, 1);
	ck_assert_int_eq(oc, 2);
	ck_assert_int_eq(od, 3);
	ck_assert_int_eq(oe, 4);
	ck_assert_str_eq(inv->objects[oa].prefix, "scx_lavd");
	ck_assert_uint_eq(inv->objects[oa].nmaps, 5);
	ck_assert_str_eq(inv->objects[ob].prefix, "bpf");
	ck_assert_uint_eq(inv->objects[ob].nmaps, 6);
	ck_assert_str_eq(inv->objects[oc].prefix, "my_obje");
	ck_assert_str_eq(inv->objects[od].prefix, "plain_ops");
	ck_assert_str_eq(inv->objects[oe].prefix, "");
	ck_assert_int_eq(by_id(inv, lone.id)->object, -1);
	ck_assert_int_eq(by_id(inv, kconfig.id)->object, oc);
	ck_assert_int_eq(by_id(inv, custom.id)->object, od);
	ck_assert_int_eq(by_id(inv, sops_only.id)->object, od);
	ck_assert_int_eq(by_id(inv, nothing.id)->object, oe);
	for (unsigned int i = 0; i < inv->objects[ob].nmaps; i++)
		ck_assert_int_eq(inv->maps[inv->objects[ob].maps[i]].object, ob);
	/* Nothing attached. */
	ck_assert(!inv->scx.enabled);
	ck_assert_int_eq(inv->scx.object, -1);
	bw_bpf_inventory_free(inv);
	tk_free(tk);
}
END_TEST

START_TEST(test_full_names)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct bw_error err = { 0 };
	struct tk_object o;
	const struct btf *btf;
	struct btf *cb;
	uint64_t cbtf;
	int sec, var, u64;
	struct tk_map custom;
	int ob, oc;

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	/* A custom section whose full name only its value DATASEC knows. */
	cb = test_btf_new();
	u64 = test_btf_u64(cb);
	var = btf__add_var(cb, "x", BTF_VAR_GLOBAL_ALLOCATED, u64);
	sec = btf__add_datasec(cb, ".data.long_section_name", 8);
	ck_assert_int_eq(btf__add_datasec_var_info(cb, var, 0, 8), 0);
	cbtf = tk_load_btf(tk, cb, false);
	custom = tk_add_map(tk, &(struct tk_map_spec){ .name = ".data.long_section_name",
		.type = TK_MAP_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 1,
		.btf = cbtf, .btf_value_type_id = (uint32_t)sec });
	btf__free(cb);

	inv = scan(tk, &l);
	ob = object_of_btf(inv, o.btf);
	oc = object_of_btf(inv, cbtf);
	/* Before the object's BTF is loaded, the kernel name is all there is. */
	ck_assert_str_eq(by_id(inv, o.ctx_acc.id)->full_name, "cpu_ctx_stor_ac");
	btf = bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err);
	ck_assert_msg(btf != NULL, "%s", err.msg);
	ck_assert_ptr_eq(bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err), btf);
	ck_assert_int_gt(btf__find_by_name_kind(btf, "bw_state", BTF_KIND_STRUCT), 0);
	ck_assert_str_eq(by_id(inv, o.ctx_acc.id)->name, "cpu_ctx_stor_ac");
	ck_assert_str_eq(by_id(inv, o.ctx_acc.id)->full_name, "cpu_ctx_stor_acc");
	ck_assert_str_eq(by_id(inv, o.cpu_stats.id)->full_name, "cpu_stats");
	ck_assert_str_eq(by_id(inv, o.bss.id)->full_name, "bw_demo.bss");
	ck_assert_ptr_nonnull(bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)oc, &err));
	ck_assert_str_eq(by_id(inv, custom.id)->name, ".data.long_sect");
	ck_assert_str_eq(by_id(inv, custom.id)->full_name, ".data.long_section_name");
	ck_assert_ptr_null(bw_bpf_object_btf(tk->k, &l, inv, 99, &err));
	ck_assert_int_eq(err.code, -EINVAL);
	bw_bpf_inventory_free(inv);
	tk_free(tk);
}
END_TEST

/* An object BTF split on top of the kernel's (struct btf.base_btf set). */
START_TEST(test_split_object_btf)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct bw_error err = { 0 };
	struct btf *kb = (struct btf *)bw_kernel_btf(tk->k), *sb;
	const struct btf *got;
	const void *raw;
	uint32_t size = 0, ksize = 0;
	uint64_t data, vmlinux_btf, obj_btf;
	int u32, st, var, sec, ob;
	struct tk_map m;

	layout(tk, &l);
	btf__raw_data(kb, &ksize);
	sb = btf__new_empty_split(kb);
	ck_assert_ptr_nonnull(sb);
	u32 = btf__find_by_name_kind(kb, "u32", BTF_KIND_TYPEDEF);
	ck_assert_int_gt(u32, 0);
	st = btf__add_struct(sb, "split_stat", 8);
	ck_assert_int_eq(btf__add_field(sb, "count", u32, 0, 0), 0);
	ck_assert_int_eq(btf__add_field(sb, "more", u32, 32, 0), 0);
	var = btf__add_var(sb, "split_stat", BTF_VAR_GLOBAL_ALLOCATED, st);
	sec = btf__add_datasec(sb, ".bss", 8);
	ck_assert_int_eq(btf__add_datasec_var_info(sb, var, 0, 8), 0);
	raw = btf__raw_data(sb, &size);
	ck_assert_ptr_nonnull(raw);
	data = tk_kmalloc(tk, size);
	tk_write(tk, data, raw, size);
	/* The kernel's own struct btf: no base, the vmlinux blob's size. */
	vmlinux_btf = tk_kmalloc(tk, tk->lay.btf_size);
	tk_put(tk, vmlinux_btf + tk->lay.btf_data, TK_IMAGE_VA + 0x100000, 8);
	tk_put(tk, vmlinux_btf + tk->lay.btf_data_size, ksize, 4);
	obj_btf = tk_kmalloc(tk, tk->lay.btf_size);
	tk_put(tk, obj_btf + tk->lay.btf_data, data, 8);
	tk_put(tk, obj_btf + tk->lay.btf_data_size, size, 4);
	tk_put(tk, obj_btf + tk->lay.btf_base_btf, vmlinux_btf, 8);
	m = tk_add_map(tk, &(struct tk_map_spec){ .name = "splitobj.bss", .type = TK_MAP_ARRAY,
		.key_size = 4, .value_size = 8, .max_entries = 1, .btf = obj_btf,
		.btf_value_type_id = (uint32_t)sec });

	inv = scan(tk, &l);
	ob = object_of_btf(inv, obj_btf);
	ck_assert_int_ge(ob, 0);
	ck_assert_str_eq(inv->objects[ob].prefix, "splitobj");
	ck_assert_int_eq(by_id(inv, m.id)->object, ob);
	got = bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err);
	ck_assert_msg(got != NULL, "%s", err.msg);
	ck_assert_int_eq(btf__find_by_name_kind(got, "split_stat", BTF_KIND_STRUCT), st);
	ck_assert_int_eq(btf__find_by_name_kind(got, ".bss", BTF_KIND_DATASEC), sec);
	ck_assert_ptr_nonnull(btf__type_by_id(got, (uint32_t)u32));
	bw_bpf_inventory_free(inv);

	/* A base that is not the kernel's BTF (another size) is refused. */
	tk_put(tk, vmlinux_btf + tk->lay.btf_data_size, ksize + 8, 4);
	inv = scan(tk, &l);
	ck_assert_ptr_null(bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err));
	ck_assert_int_eq(err.code, -ENOTSUP);
	bw_bpf_inventory_free(inv);
	btf__free(sb);
	tk_free(tk);
}
END_TEST

/* Two objects with the same maps and the same ops name: only callbacks tell them apart. */
static void check_active(enum tk_scx_mode mode, bool no_scx_state)
{
	struct test_kernel *tk = boot_opts(mode, no_scx_state);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct tk_object decoy, demo;
	bool changed = true;
	struct bw_error err = { 0 };

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DECOY, &decoy);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &demo);
	inv = scan(tk, &l);
	ck_assert(!inv->scx.enabled);
	ck_assert_int_eq(inv->scx.object, -1);
	ck_assert_ptr_null(inv->scx.problem);
	ck_assert_msg(bw_bpf_inventory_changed(tk->k, &l, inv, &changed, &err) == 0, "%s",
		      err.msg);
	ck_assert(!changed);

	tk_attach(tk, &demo.ops);
	inv = rescan_changed(tk, &l, inv);
	ck_assert(inv->scx.enabled);
	ck_assert_str_eq(inv->scx.ops_name, "bw_demo");
	ck_assert_ptr_null(inv->scx.problem);
	ck_assert_int_ge(inv->scx.object, 0);
	ck_assert_uint_eq(inv->objects[inv->scx.object].btf_addr, demo.btf);
	ck_assert_uint_eq(inv->maps[inv->scx.struct_ops_map].id, demo.ops.id);
	ck_assert_str_eq(inv->objects[inv->scx.object].prefix, "bw_demo");
	ck_assert_int_eq(bw_bpf_inventory_changed(tk->k, &l, inv, &changed, &err), 0);
	ck_assert(!changed);

	/* Now the decoy, same names everywhere: it is found, not the demo. */
	tk_detach(tk);
	tk_attach(tk, &decoy.ops);
	inv = rescan_changed(tk, &l, inv);
	ck_assert(inv->scx.enabled);
	ck_assert_uint_eq(inv->objects[inv->scx.object].btf_addr, decoy.btf);
	ck_assert_uint_eq(inv->maps[inv->scx.struct_ops_map].id, decoy.ops.id);

	tk_detach(tk);
	inv = rescan_changed(tk, &l, inv);
	ck_assert(!inv->scx.enabled);
	ck_assert_int_eq(inv->scx.object, -1);
	ck_assert_int_eq(inv->scx.struct_ops_map, -1);
	bw_bpf_inventory_free(inv);
	tk_free(tk);
}

START_TEST(test_active_scx_root)
{
	check_active(TK_SCX_ROOT, false);
}
END_TEST

/* A 6.16+ kernel whose symbols lack the enable state: scx_root alone decides. */
START_TEST(test_active_scx_root_without_state)
{
	struct test_kernel *tk = boot_opts(TK_SCX_ROOT, true);
	struct bw_bpf_layout l;

	layout(tk, &l);
	ck_assert_int_eq(l.scx_mode, BW_SCX_ROOT);
	ck_assert(!l.has_scx_state);
	tk_free(tk);
	check_active(TK_SCX_ROOT, true);
}
END_TEST

/*
 * 6.16+ sets scx_root before ops.init runs and "enabled" only at the end:
 * in between (and while disabling) the scheduler is not active, and the
 * cheap check notices each step.
 */
START_TEST(test_scx_root_enabling)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct tk_object demo;
	struct bw_error err = { 0 };
	bool changed = true;

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &demo);
	tk_attach(tk, &demo.ops);
	tk_put(tk, tk->scx_state, 0, 4);		/* SCX_ENABLING */
	inv = scan(tk, &l);
	ck_assert(!inv->scx.enabled);
	ck_assert_uint_ne(inv->scx.root, 0);
	ck_assert_int_eq(inv->scx.enable_state, 0);
	ck_assert_int_eq(inv->scx.object, -1);
	ck_assert_msg(inv->scx.problem && strstr(inv->scx.problem, "being enabled"), "%s",
		      inv->scx.problem ? inv->scx.problem : "(null)");
	ck_assert_msg(bw_bpf_inventory_changed(tk->k, &l, inv, &changed, &err) == 0, "%s",
		      err.msg);
	ck_assert(!changed);

	tk_put(tk, tk->scx_state, 1, 4);		/* SCX_ENABLED */
	inv = rescan_changed(tk, &l, inv);
	ck_assert(inv->scx.enabled);
	ck_assert_ptr_null(inv->scx.problem);
	ck_assert_uint_eq(inv->objects[inv->scx.object].btf_addr, demo.btf);

	tk_put(tk, tk->scx_state, 2, 4);		/* SCX_DISABLING, scx_root still set */
	inv = rescan_changed(tk, &l, inv);
	ck_assert(!inv->scx.enabled);
	ck_assert_int_eq(inv->scx.object, -1);

	/* A garbage state is just "not enabled". */
	tk_put(tk, tk->scx_state, 0xdeadbeef, 4);
	inv = rescan_changed(tk, &l, inv);
	ck_assert(!inv->scx.enabled);
	ck_assert_int_eq(inv->scx.enable_state, 0xdeadbeef);
	bw_bpf_inventory_free(inv);
	tk_free(tk);
}
END_TEST

START_TEST(test_active_scx_ops_6_15)
{
	struct test_kernel *tk = boot(TK_SCX_OPS_6_15);
	struct bw_bpf_layout l;

	layout(tk, &l);
	ck_assert_int_eq(l.scx_mode, BW_SCX_OPS_GLOBAL);
	ck_assert_uint_eq(l.scx_ops_addr, tk->scx_ops);
	ck_assert_uint_eq(l.scx_state_addr, tk->scx_state);
	ck_assert_int_eq(l.scx_state_enabled, 1);
	tk_free(tk);
	check_active(TK_SCX_OPS_6_15, false);
}
END_TEST

START_TEST(test_active_scx_ops_6_12)
{
	struct test_kernel *tk = boot(TK_SCX_OPS_6_12);
	struct bw_bpf_layout l;

	layout(tk, &l);
	ck_assert_int_eq(l.scx_mode, BW_SCX_OPS_GLOBAL);
	ck_assert_int_eq(l.scx_state_enabled, 1);
	tk_free(tk);
	check_active(TK_SCX_OPS_6_12, false);
}
END_TEST

START_TEST(test_no_sched_ext)
{
	struct test_kernel *tk = boot(TK_SCX_NONE);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct bw_scx_state st;
	struct tk_object o;
	bool changed = true;

	layout(tk, &l);
	ck_assert(!l.has_scx);
	ck_assert_int_eq(l.scx_mode, BW_SCX_NONE);
	tk_load_demo(tk, "bw_demo", NULL, 0, &o);
	inv = scan(tk, &l);
	ck_assert_uint_eq(inv->nmaps, 5);
	ck_assert_uint_eq(inv->nobjects, 1);
	ck_assert(!inv->scx.enabled);
	ck_assert_ptr_null(inv->scx.problem);
	ck_assert_int_eq(bw_scx_read(tk->k, &l, &st, NULL), 0);
	ck_assert(!st.enabled);
	ck_assert_int_eq(bw_bpf_inventory_changed(tk->k, &l, inv, &changed, NULL), 0);
	ck_assert(!changed);
	bw_bpf_inventory_free(inv);
	tk_free(tk);
}
END_TEST

START_TEST(test_change_check)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct tk_object o;
	struct tk_map extra;
	bool changed;

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	inv = scan(tk, &l);
	/* The markers were located: the check is loads at file offsets. */
	ck_assert_uint_ne(inv->idr_next_off, UINT64_MAX);
	ck_assert_uint_ne(inv->scx_root_off, UINT64_MAX);
	ck_assert_uint_ne(inv->scx_state_off, UINT64_MAX);
	ck_assert_uint_ne(inv->scx_fn_off, UINT64_MAX);
	ck_assert_int_eq(bw_bpf_inventory_changed(tk->k, &l, inv, &changed, NULL), 0);
	ck_assert(!changed);
	/* A new map moves idr_next. */
	extra = tk_add_map(tk, &(struct tk_map_spec){ .name = "late", .type = TK_MAP_HASH,
		.key_size = 4, .value_size = 4, .max_entries = 1 });
	inv = rescan_changed(tk, &l, inv);
	ck_assert_uint_eq(inv->nmaps, 7);
	/* Freeing moves no marker (the engine's per-map id check covers that)... */
	tk_free_map(tk, &extra);
	ck_assert_int_eq(bw_bpf_inventory_changed(tk->k, &l, inv, &changed, NULL), 0);
	ck_assert(!changed);
	bw_bpf_inventory_free(inv);
	/* ...but the next scan no longer has it. */
	inv = scan(tk, &l);
	ck_assert_uint_eq(inv->nmaps, 6);
	ck_assert_ptr_null(bw_bpf_inventory_find_id(inv, extra.id));
	bw_bpf_inventory_free(inv);
	tk_free(tk);
}
END_TEST

START_TEST(test_garbage_maps_skipped)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct tk_object o;
	struct tk_map wrong_id, bad_name, bad_btf, bad_elem, bad_type;

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	wrong_id = tk_add_map(tk, &(struct tk_map_spec){ .name = "wrong_id",
		.type = TK_MAP_HASH, .key_size = 4, .value_size = 4, .max_entries = 1 });
	tk_put(tk, wrong_id.addr + tk->lay.map_id, 12345, 4);
	bad_name = tk_add_map(tk, &(struct tk_map_spec){ .name = "bad_name",
		.type = TK_MAP_HASH, .key_size = 4, .value_size = 4, .max_entries = 1 });
	tk_put(tk, bad_name.addr + tk->lay.map_name + 3, 0x07, 1);
	bad_btf = tk_add_map(tk, &(struct tk_map_spec){ .name = "bad_btf",
		.type = TK_MAP_HASH, .key_size = 4, .value_size = 4, .max_entries = 1,
		.btf = 0x1234 });
	bad_elem = tk_add_map(tk, &(struct tk_map_spec){ .name = "bad_elem",
		.type = TK_MAP_ARRAY, .key_size = 4, .value_size = 12, .max_entries = 2 });
	tk_put(tk, bad_elem.addr + tk->lay.array_elem_size, 12, 4);	/* not round_up(12, 8) */
	bad_type = tk_add_map(tk, &(struct tk_map_spec){ .name = "bad_type",
		.type = 17, .key_size = 4, .value_size = 4, .max_entries = 1 });
	/* Entries that are not pointers to maps at all. */
	tk_idr_store(tk, 40, 0x1000);				/* user-space address */
	tk_idr_store(tk, 41, TK_VMALLOC_BASE + 0x7000000);	/* kernel, unmapped */
	tk_idr_store(tk, 42, TK_PAGE_OFFSET_BASE + 0x3ffff00);	/* runs off the end of RAM */
	tk_idr_store(tk, 43, o.bss.addr);			/* a live map under another id */

	inv = scan(tk, &l);
	ck_assert_uint_eq(inv->nmaps, 6);
	ck_assert_uint_eq(inv->nskipped, 9);
	ck_assert_msg(strstr(inv->skipped_msg, "12345") != NULL, "%s", inv->skipped_msg);
	ck_assert_ptr_null(bw_bpf_inventory_find_id(inv, wrong_id.id));
	ck_assert_ptr_null(bw_bpf_inventory_find_id(inv, bad_name.id));
	ck_assert_ptr_null(bw_bpf_inventory_find_id(inv, bad_btf.id));
	ck_assert_ptr_null(bw_bpf_inventory_find_id(inv, bad_elem.id));
	ck_assert_ptr_null(bw_bpf_inventory_find_id(inv, bad_type.id));
	ck_assert_ptr_null(bw_bpf_inventory_find_id(inv, 43));
	/* The real scheduler is still found. */
	ck_assert(inv->scx.enabled);
	ck_assert_uint_eq(inv->objects[inv->scx.object].btf_addr, o.btf);
	bw_bpf_inventory_free(inv);
	tk_free(tk);
}
END_TEST

START_TEST(test_garbage_idr_tree)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv = NULL;
	struct bw_error err = { 0 };
	struct tk_object o;
	uint64_t head, node;
	time_t start = time(NULL);

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	head = test_xa_head_addr(&tk->idr);
	node = tk_get(tk, head, 8) - 2;
	/* A slot pointing back at its own node. */
	tk_put(tk, test_xa_slot_addr(&tk->idr, node, 50), node | 2, 8);
	ck_assert_int_lt(bw_bpf_inventory_scan(tk->k, &l, &inv, &err), 0);
	ck_assert_ptr_null(inv);
	ck_assert_msg(strstr(err.msg, "map_idr") != NULL, "%s", err.msg);
	tk_put(tk, test_xa_slot_addr(&tk->idr, node, 50), 0, 8);
	/* The root node pointer leading into unmapped memory. */
	tk_put(tk, head, (TK_VMALLOC_BASE + 0x7000000) | 2, 8);
	ck_assert_int_lt(bw_bpf_inventory_scan(tk->k, &l, &inv, &err), 0);
	ck_assert_ptr_null(inv);
	/* Random bytes as the whole root node. */
	tk_put(tk, head, node | 2, 8);
	{
		uint8_t junk[576];

		test_fill_random(junk, sizeof(junk), 7);
		tk_write(tk, node, junk, sizeof(junk));
	}
	if (bw_bpf_inventory_scan(tk->k, &l, &inv, &err) == 0) {
		ck_assert_uint_eq(inv->nmaps, 0);
		bw_bpf_inventory_free(inv);
	}
	ck_assert_int_lt(time(NULL) - start, 10);
	tk_free(tk);
}
END_TEST

START_TEST(test_garbage_fuzz_maps)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct tk_object o;
	uint8_t saved[6][512];
	const struct tk_map *maps[6];
	time_t start = time(NULL);

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	tk_attach(tk, &o.ops);
	maps[0] = &o.bss;
	maps[1] = &o.data;
	maps[2] = &o.cpu_stats;
	maps[3] = &o.slots;
	maps[4] = &o.ctx_acc;
	maps[5] = &o.ops;
	for (int i = 0; i < 6; i++)
		tk_read(tk, maps[i]->addr, saved[i], sizeof(saved[i]));
	for (uint64_t round = 0; round < 300; round++) {
		struct bw_bpf_inventory *inv = NULL;
		const struct tk_map *m = maps[round % 6];
		uint8_t junk[512];
		int r;

		memcpy(junk, saved[round % 6], sizeof(junk));
		/* Keep the id half of the time so the junk gets past the first check. */
		test_fill_random(junk + (round % 2 ? 0 : 56), 64 + round % 200, round);
		tk_write(tk, m->addr, junk, sizeof(junk));
		r = bw_bpf_inventory_scan(tk->k, &l, &inv, NULL);
		if (r == 0) {
			for (unsigned int i = 0; i < inv->nobjects; i++)
				bw_bpf_object_btf(tk->k, &l, inv, i, NULL);
			ck_assert_uint_le(inv->nmaps, 6);
			bw_bpf_inventory_free(inv);
		}
		tk_write(tk, m->addr, saved[round % 6], sizeof(saved[round % 6]));
	}
	ck_assert_int_lt(time(NULL) - start, 20);
	tk_free(tk);
}
END_TEST

START_TEST(test_garbage_object_btf)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct bw_error err = { 0 };
	struct tk_object o;
	uint64_t data;
	uint32_t size;
	int ob;

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	data = tk_get(tk, o.btf + tk->lay.btf_data, 8);
	size = (uint32_t)tk_get(tk, o.btf + tk->lay.btf_data_size, 4);

	/* Absurd size. */
	tk_put(tk, o.btf + tk->lay.btf_data_size, 1u << 30, 4);
	inv = scan(tk, &l);
	ob = object_of_btf(inv, o.btf);
	ck_assert_ptr_null(bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err));
	ck_assert_msg(strstr(err.msg, "data_size") != NULL, "%s", err.msg);
	/* The failure is remembered... */
	ck_assert_int_lt(inv->objects[ob].btf_error, 0);
	ck_assert_ptr_null(bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err));
	/* ...until cleared; then a good blob parses. */
	tk_put(tk, o.btf + tk->lay.btf_data_size, size, 4);
	inv->objects[ob].btf_error = 0;
	ck_assert_ptr_nonnull(bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err));
	bw_bpf_inventory_free(inv);

	/* Data pointer into user space. */
	tk_put(tk, o.btf + tk->lay.btf_data, 0x400000, 8);
	inv = scan(tk, &l);
	ck_assert_ptr_null(bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err));
	bw_bpf_inventory_free(inv);
	tk_put(tk, o.btf + tk->lay.btf_data, data, 8);

	/* Split BTF whose base is itself (not the kernel's BTF). */
	tk_put(tk, o.btf + tk->lay.btf_base_btf, o.btf, 8);
	inv = scan(tk, &l);
	ck_assert_ptr_null(bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err));
	ck_assert_int_eq(err.code, -ENOTSUP);
	bw_bpf_inventory_free(inv);
	tk_put(tk, o.btf + tk->lay.btf_base_btf, 0, 8);

	/* Truncated: the header promises more than data_size holds; refused before libbpf. */
	tk_put(tk, o.btf + tk->lay.btf_data_size, size / 2, 4);
	inv = scan(tk, &l);
	ck_assert_ptr_null(bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, &err));
	ck_assert_msg(strstr(err.msg, "type section at 0 of") != NULL &&
		      strstr(err.msg, "is not 4-aligned or not inside the") != NULL, "%s", err.msg);
	bw_bpf_inventory_free(inv);
	tk_put(tk, o.btf + tk->lay.btf_data_size, size, 4);

	/* Random blobs, with and without the magic. */
	for (uint64_t seed = 1; seed <= 40; seed++) {
		uint8_t *junk = malloc(size);

		ck_assert_ptr_nonnull(junk);
		test_fill_random(junk, size, seed);
		if (seed % 2) {
			junk[0] = 0x9f;
			junk[1] = 0xeb;
			junk[2] = 1;
		}
		tk_write(tk, data, junk, size);
		free(junk);
		inv = scan(tk, &l);
		bw_bpf_object_btf(tk->k, &l, inv, (unsigned int)ob, NULL);
		bw_bpf_inventory_free(inv);
	}
	tk_free(tk);
}
END_TEST

START_TEST(test_garbage_scx)
{
	struct test_kernel *tk = boot(TK_SCX_ROOT);
	struct bw_bpf_layout l;
	struct bw_bpf_inventory *inv;
	struct bw_scx_state st;
	struct tk_object o;
	uint64_t sched;

	layout(tk, &l);
	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, &o);
	/* scx_root holding a user address. */
	tk_put(tk, tk->scx_root, 0x7fff0000, 8);
	ck_assert_int_eq(bw_scx_read(tk->k, &l, &st, NULL), 0);
	ck_assert(!st.enabled);
	ck_assert_msg(st.problem && strstr(st.problem, "not hold a kernel pointer"), "%s",
		      st.problem ? st.problem : "(null)");
	ck_assert_uint_eq(st.root, 0x7fff0000);
	/* ...pointing at unmapped kernel memory. */
	tk_put(tk, tk->scx_root, TK_VMALLOC_BASE + 0x7000000, 8);
	inv = scan(tk, &l);
	ck_assert(!inv->scx.enabled);
	ck_assert_ptr_nonnull(inv->scx.problem);
	bw_bpf_inventory_free(inv);
	/*
	 * Attached ("enabled") with scx_root where no guest memory is (a NUMA
	 * backend we were not given): an error naming it, never "no scheduler".
	 */
	tk_attach(tk, &o.ops);
	sched = tk_get(tk, tk->scx_root, 8);
	tk_put(tk, tk->scx_root, TK_VMALLOC_BASE + 0x7000000, 8);
	{
		struct bw_error err = { 0 };

		inv = NULL;
		ck_assert_int_lt(bw_bpf_inventory_scan(tk->k, &l, &inv, &err), 0);
		ck_assert_ptr_null(inv);
		ck_assert_msg(strstr(err.msg, "attached, but its ops cannot be read"), "%s", err.msg);
	}
	tk_put(tk, tk->scx_root, sched, 8);
	/* ...at an scx_sched whose name is not a string. */
	tk_put(tk, sched + tk->lay.sched_ops + tk->lay.ops_name, 0x01020304, 4);
	inv = scan(tk, &l);
	ck_assert(!inv->scx.enabled);
	bw_bpf_inventory_free(inv);
	/* A readable name but callbacks nobody has: attached, object unknown. */
	tk_put(tk, sched + tk->lay.sched_ops + tk->lay.ops_name, 'x', 4);
	tk_put(tk, sched + tk->lay.sched_ops + tk->lay.ops_fn[0], 0xffffffffc0999000ULL, 8);
	inv = scan(tk, &l);
	ck_assert(inv->scx.enabled);
	ck_assert_str_eq(inv->scx.ops_name, "x");
	ck_assert_int_eq(inv->scx.object, -1);
	ck_assert_int_eq(inv->scx.struct_ops_map, -1);
	ck_assert_msg(strstr(inv->scx.problem, "no sched_ext STRUCT_OPS map") != NULL, "%s",
		      inv->scx.problem);
	bw_bpf_inventory_free(inv);
	/* All callbacks NULL matches nothing, even a map with all callbacks NULL. */
	for (int i = 0; i < TK_OPS_NFN; i++) {
		tk_put(tk, sched + tk->lay.sched_ops + tk->lay.ops_fn[i], 0, 8);
		tk_put(tk, o.ops.addr + tk->lay.sops_kvalue + tk->lay.value_data + tk->lay.ops_fn[i],
		       0, 8);
	}
	inv = scan(tk, &l);
	ck_assert(inv->scx.enabled);
	ck_assert_int_eq(inv->scx.object, -1);
	bw_bpf_inventory_free(inv);
	tk_free(tk);
}
END_TEST

static Suite *bpf_inventory_suite(void)
{
	Suite *s = suite_create("bpf_inventory");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_layout_from_btf);
	tcase_add_test(tc, test_maps_read);
	tcase_add_test(tc, test_objects_and_prefixes);
	tcase_add_test(tc, test_full_names);
	tcase_add_test(tc, test_split_object_btf);
	tcase_add_test(tc, test_active_scx_root);
	tcase_add_test(tc, test_active_scx_root_without_state);
	tcase_add_test(tc, test_scx_root_enabling);
	tcase_add_test(tc, test_active_scx_ops_6_15);
	tcase_add_test(tc, test_active_scx_ops_6_12);
	tcase_add_test(tc, test_no_sched_ext);
	tcase_add_test(tc, test_change_check);
	tcase_add_test(tc, test_garbage_maps_skipped);
	tcase_add_test(tc, test_garbage_idr_tree);
	tcase_add_test(tc, test_garbage_fuzz_maps);
	tcase_add_test(tc, test_garbage_object_btf);
	tcase_add_test(tc, test_garbage_scx);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(bpf_inventory_suite)
