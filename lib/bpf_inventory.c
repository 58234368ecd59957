/* SPDX-License-Identifier: MIT */
/*
 * The BPF inventory of a guest kernel, read out of its memory.
 *
 * Maps.  Every BPF map holds an id from map_idr, a static struct idr in
 * kernel/bpf/syscall.c.  bpf_map_alloc_id() stores the struct bpf_map *
 * with idr_alloc_cyclic(&map_idr, map, 1, INT_MAX) and only then writes
 * map->id; bpf_map_free_id() removes the entry and writes map->id = 0.  So
 * an entry whose map does not carry the entry's id is being created or torn
 * down, and a map whose id changed under us has been freed.  The fields
 * read from struct bpf_map (include/linux/bpf.h; offsets from the kernel's
 * BTF, never constants) are map_type, key_size, value_size, max_entries,
 * map_flags, id, name[BPF_OBJ_NAME_LEN = 16], btf, btf_value_type_id and
 * btf_vmlinux_value_type_id: all in the first ~100 bytes, read in one go.
 * The kernel accepts only [A-Za-z0-9_.] in a name (bpf_obj_name_cpy), so
 * anything else is garbage.
 *
 * Array values (kernel/bpf/arraymap.c).  struct bpf_array embeds the map
 * and ends in union { char value[] __aligned(8); void *ptrs[];
 * void __percpu *pptrs[]; }.  elem_size = round_up(value_size, 8); element
 * i of an ARRAY is at value + i * elem_size (a vmalloc area for mmapable
 * and large arrays); a PERCPU_ARRAY keeps one percpu pointer per element in
 * pptrs[i], and CPU c's copy is at pptrs[i] + __per_cpu_offset[c].
 *
 * Objects.  libbpf loads one BTF blob per BPF object (BPF_BTF_LOAD) and
 * creates each map that has BTF types with that blob's fd, so the maps of
 * one object share one struct btf * (map_create() in syscall.c keeps
 * map->btf only when a key, value or vmlinux value type id was given: maps
 * declared with bare key_size/value_size belong to no object here).  The
 * kernel copy of the blob is struct btf { data, data_size, base_btf, ... }
 * (kernel/bpf/btf.c): data points at the raw blob, header included
 * (kvmalloc'd, so possibly vmalloc); base_btf is set for split BTF, which
 * for a BPF object can only sit on vmlinux.
 *
 * Object prefix.  libbpf names an object's global-data maps after the
 * object (tools/lib/bpf/libbpf.c internal_map_name()): the first
 * min(8, strlen) characters of the object name followed by ".bss",
 * ".data" or ".rodata" (7 characters kept for the suffix), or the first 7
 * followed by ".kconfig"; custom sections with two or more dots
 * (".data.foo") get no prefix at all.  We take the prefix from such a map
 * (.bss first, then .data, .rodata, .kconfig).  An object with none uses
 * the name of its STRUCT_OPS map when it has one (what a scheduler
 * without globals is known by), else "".
 *
 * Full map names.  The kernel keeps 15 characters of a name; the object's
 * BTF has a DATASEC ".maps" whose VARs are libbpf's map names in full
 * (a custom ".data.long_name" section's full name is its value DATASEC's
 * name).  A 15-character kernel name whose first 15 characters start
 * exactly one longer VAR takes that VAR as its full name.  Two maps of one
 * object with the same kernel name keep their kernel names: nothing says
 * which full name is whose.
 *
 * The active sched_ext scheduler (kernel/sched/ext.c).
 *   6.16+ (48e126777386 "sched_ext: Introduce scx_sched"): static struct
 *     scx_sched __rcu *scx_root, NULL when no BPF scheduler is loaded; the
 *     attached ops are the copy scx_root->ops.
 *   6.12-6.15: static struct sched_ext_ops scx_ops (the copy).
 *   Every version keeps an atomic_t enable state, scx_ops_enable_state_var
 *     (enum scx_ops_enable_state, SCX_OPS_ENABLED) until 6.14 and
 *     scx_enable_state_var (enum scx_enable_state, SCX_ENABLED) from 6.15.
 *     A scheduler counts as active only in the enabled state: 6.16+ sets
 *     scx_root before ops.init runs, and the state leaves "enabled" before
 *     ops.exit.  A 6.16+ kernel whose symbols lack the state falls back to
 *     scx_root alone; before 6.16 the state is required.
 *   Either way the copy was made from the kernel value of a STRUCT_OPS map
 *   whose btf_vmlinux_value_type_id names "bpf_struct_ops_sched_ext_ops"
 *   ({ common; struct sched_ext_ops data; }), kept in
 *   struct bpf_struct_ops_map.kvalue (kernel/bpf/bpf_struct_ops.c), where
 *   bpf_struct_ops_map_update_elem() replaced every callback by the address
 *   of a trampoline made for that map.  The ops name alone proves nothing
 *   (any object may call itself anything); the trampoline addresses are
 *   unique to the map, so the active object is the one whose STRUCT_OPS
 *   map holds exactly the copy's function pointers (all equal, at least one
 *   non-zero).
 *
 * Cheap change check.  map_idr.idr_next moves on every map creation
 * (cyclic allocation never goes back), and scx_root and the enable state
 * change on attach and detach.  A detach followed by the attach of a
 * STRUCT_OPS map loaded earlier can slip between two checks with neither
 * moving (the state is "enabled" again; a new scx_sched may be allocated
 * where the old one was freed), but the ops copy then holds other
 * trampolines, so one callback word of the copy is the third marker.  A
 * freed map is noticed through its id (see the engine).
 */
#include "bpf_inventory.h"

#include <bpf/btf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "btf_check.h"
#include "btf_layout.h"
#include "guest_ram.h"
#include "kernel.h"

/*
 * Lowest kernel-half address with 5-level paging; also admits every 4-level
 * kernel address.  Maps, BTF and scx_sched are kernel memory.
 */
#define KERNEL_VA_MIN 0xff00000000000000ULL
/* struct bpf_map is ~250 bytes; a BTF claiming more than a page for it is wrong. */
#define MAP_STRUCT_MAX 4096
/* struct btf is ~230 bytes. */
#define BTF_STRUCT_MAX 4096
/* sizeof(struct sched_ext_ops) is under 1 KiB in every kernel so far. */
#define SCX_OPS_SIZE_MAX 16384
/*
 * A BPF object's BTF is tens to hundreds of KiB (vmlinux types it uses are
 * copied in); 16 MiB is far above any real one and bounds what one
 * hostile struct btf can make us allocate and read.
 */
#define OBJECT_BTF_MAX (16u << 20)
/* struct btf_header of the first BTF version. */
#define BTF_HEADER_MIN 24
/*
 * Key and value sizes the kernel can hold: arrays cap value_size at
 * KMALLOC_MAX_SIZE (4 MiB), other types at similar sizes; 1 GiB is beyond
 * all of them and keeps every size computation far from overflow.
 */
#define MAP_SIZE_MAX (1u << 30)
/* Walks of map_idr that saw a retry entry are repeated this often, then accepted. */
#define WALK_ATTEMPTS 3
/* Longest full map name taken from BTF; libbpf map names are C identifiers. */
#define FULL_NAME_MAX 256
#define NOT_LOCATED UINT64_MAX

static bool kernel_pointer(uint64_t v)
{
	return v >= KERNEL_VA_MIN && (v & 7) == 0;
}

static uint64_t get_le(const uint8_t *buf, uint64_t off, unsigned int width)
{
	uint64_t v = 0;

	memcpy(&v, buf + off, width);	/* x86-64 guests are little-endian, like us */
	return v;
}

/* The file offset of @width naturally aligned bytes at kernel address @va, or NOT_LOCATED. */
static uint64_t locate(struct bw_kernel *k, uint64_t va, unsigned int width)
{
	uint64_t gpa, off;

	if (va % width || bw_kernel_translate(k, va, &gpa, NULL) < 0 ||
	    bw_ram_locate(bw_kernel_ram(k), gpa, width, &off, NULL) < 0 || off % width)
		return NOT_LOCATED;
	return off;
}

/* ---- layout ---- */

static int member(const struct btf *btf, const char *st, const char *m, uint64_t want,
		  uint64_t *off, struct bw_error *err)
{
	uint64_t size = 0;
	int r = bw_btf_member_offset(btf, st, m, off, NULL, &size, err);

	if (r < 0)
		return bw_error_prefix(err, "BPF layout of the guest kernel");
	if (want && size != want)
		return bw_error_set(err, -EINVAL, "BPF layout of the guest kernel: %s.%s is %" PRIu64
				    " bytes, expected %" PRIu64, st, m, size, want);
	return 0;
}

static const struct btf_type *strip_modifiers(const struct btf *btf, uint32_t id)
{
	for (int i = 0; i < 32; i++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!t)
			return NULL;
		if (!btf_is_typedef(t) && !btf_is_mod(t) && !btf_is_type_tag(t))
			return t;
		id = t->type;
	}
	return NULL;
}

static void fill_type_names(const struct btf *btf, struct bw_bpf_layout *l)
{
	static const char prefix[] = "BPF_MAP_TYPE_";
	int id = btf__find_by_name_kind(btf, "bpf_map_type", BTF_KIND_ENUM);
	const struct btf_type *t;

	if (id <= 0 || !(t = btf__type_by_id(btf, (uint32_t)id)))
		return;
	for (uint32_t i = 0; i < btf_vlen(t); i++) {
		const struct btf_enum *e = btf_enum(t) + i;
		const char *name = btf__name_by_offset(btf, e->name_off);
		char *out;
		size_t j;

		if ((uint32_t)e->val >= BW_BPF_MAP_TYPES_MAX || !name ||
		    strncmp(name, prefix, sizeof(prefix) - 1) != 0)
			continue;
		out = l->type_names[(uint32_t)e->val];
		name += sizeof(prefix) - 1;
		for (j = 0; name[j] && j < BW_BPF_MAP_TYPE_NAME_LEN - 1; j++)
			out[j] = (name[j] >= 'A' && name[j] <= 'Z') ? (char)(name[j] - 'A' + 'a') :
								      name[j];
		out[j] = '\0';
	}
}

/* Offsets of the callbacks (pointer-to-function members) of struct sched_ext_ops. */
static int scx_ops_functions(const struct btf *btf, struct bw_bpf_layout *l, struct bw_error *err)
{
	int id = bw_btf_struct_id(btf, "struct sched_ext_ops", err);
	const struct btf_type *t;
	const struct btf_member *m;

	if (id < 0)
		return id;
	t = btf__type_by_id(btf, (uint32_t)id);
	if (!t)
		return bw_error_set(err, -EINVAL, "struct sched_ext_ops: type id %d missing", id);
	m = btf_members(t);
	l->scx_ops_nfn = 0;
	for (uint32_t i = 0; i < btf_vlen(t); i++) {
		const struct btf_type *mt = strip_modifiers(btf, m[i].type), *target;
		uint32_t bit = btf_member_bit_offset(t, i);

		if (!mt || !btf_is_ptr(mt) || btf_member_bitfield_size(t, i) || bit % 64)
			continue;
		target = strip_modifiers(btf, mt->type);
		if (!target || !btf_is_func_proto(target))
			continue;
		if (l->scx_ops_nfn == BW_SCX_OPS_FN_MAX)
			return bw_error_set(err, -E2BIG, "struct sched_ext_ops has more than %d "
					    "callbacks", BW_SCX_OPS_FN_MAX);
		if (bit / 8 + 8 > l->scx_ops_size)
			return bw_error_set(err, -EINVAL, "struct sched_ext_ops: a callback at byte %u "
					    "lies outside its %" PRIu64 " bytes", bit / 8,
					    l->scx_ops_size);
		l->scx_ops_fn[l->scx_ops_nfn++] = bit / 8;
	}
	return 0;
}

/*
 * The enable state atomic_t and its "enabled" value.  6.16+ assigns
 * scx_root before it calls ops.init and sets SCX_ENABLED only once every
 * task runs on the new scheduler; on disable the state leaves SCX_ENABLED
 * before ops.exit.  Gating on it keeps the values an init has not written
 * yet (or an exit is tearing down) out of the samples.
 */
static int scx_enable_state(struct bw_kernel *k, const struct btf *btf, struct bw_bpf_layout *l,
			    struct bw_error *err)
{
	const char *enumerator;
	int r;

	if (bw_kernel_symbol(k, "scx_enable_state_var", &l->scx_state_addr, NULL) == 0)
		enumerator = "SCX_ENABLED";
	else if (bw_kernel_symbol(k, "scx_ops_enable_state_var", &l->scx_state_addr, NULL) == 0)
		enumerator = "SCX_OPS_ENABLED";
	else
		return 0;
	r = bw_btf_enum_value(btf, enumerator, &l->scx_state_enabled, err);
	if (r < 0)
		return bw_error_prefix(err, "sched_ext enable state");
	l->has_scx_state = true;
	return 0;
}

static int scx_layout(struct bw_kernel *k, const struct btf *btf, struct bw_bpf_layout *l,
		      struct bw_error *err)
{
	uint64_t name_size = 0, addr;
	int id, r;

	id = btf__find_by_name_kind(btf, "bpf_struct_ops_sched_ext_ops", BTF_KIND_STRUCT);
	if (id <= 0 || btf__find_by_name_kind(btf, "sched_ext_ops", BTF_KIND_STRUCT) <= 0) {
		l->has_scx = false;
		l->scx_mode = BW_SCX_NONE;
		return 0;
	}
	l->has_scx = true;
	l->scx_ops_value_type_id = (uint32_t)id;
	r = member(btf, "struct bpf_struct_ops_sched_ext_ops", "data", 0, &l->scx_ops_value_data,
		   err);
	if (r < 0)
		return r;
	r = bw_btf_struct_size(btf, "struct sched_ext_ops", &l->scx_ops_size, err);
	if (r < 0)
		return r;
	if (l->scx_ops_size == 0 || l->scx_ops_size > SCX_OPS_SIZE_MAX)
		return bw_error_set(err, -EINVAL, "struct sched_ext_ops is %" PRIu64 " bytes, "
				    "outside 1..%d", l->scx_ops_size, SCX_OPS_SIZE_MAX);
	r = bw_btf_member_offset(btf, "struct sched_ext_ops", "name", &l->scx_ops_name, NULL,
				 &name_size, err);
	if (r < 0)
		return r;
	if (name_size != BW_SCX_NAME_LEN || l->scx_ops_name + name_size > l->scx_ops_size)
		return bw_error_set(err, -EINVAL, "sched_ext_ops.name is %" PRIu64 " bytes at %"
				    PRIu64 ", expected char[%d] inside the struct", name_size,
				    l->scx_ops_name, BW_SCX_NAME_LEN);
	r = scx_ops_functions(btf, l, err);
	if (r < 0)
		return r;

	r = scx_enable_state(k, btf, l, err);
	if (r < 0)
		return r;
	if (bw_kernel_symbol(k, "scx_root", &addr, NULL) == 0) {
		r = member(btf, "struct scx_sched", "ops", 0, &l->scx_sched_ops, err);
		if (r < 0)
			return bw_error_prefix(err, "the kernel has scx_root");
		l->scx_root_addr = addr;
		l->scx_mode = BW_SCX_ROOT;
		return 0;
	}
	if (bw_kernel_symbol(k, "scx_ops", &l->scx_ops_addr, NULL) == 0 && l->has_scx_state) {
		l->scx_mode = BW_SCX_OPS_GLOBAL;
		return 0;
	}
	l->scx_mode = BW_SCX_UNREADABLE;
	return 0;
}

/* Optional: a kernel without these still has its maps read, only without program ties. */
static void prog_ties_layout(struct bw_kernel *k, const struct btf *btf, struct bw_bpf_layout *l)
{
	l->has_prog_ties =
		bw_kernel_symbol(k, "prog_idr", &l->prog_idr, NULL) == 0 &&
		member(btf, "struct bpf_struct_ops_map", "uvalue", 8, &l->struct_ops_uvalue,
		       NULL) == 0 &&
		member(btf, "struct bpf_prog", "aux", 8, &l->prog_aux, NULL) == 0 &&
		member(btf, "struct bpf_prog_aux", "id", 4, &l->aux_id, NULL) == 0 &&
		member(btf, "struct bpf_prog_aux", "used_maps", 8, &l->aux_used_maps, NULL) == 0 &&
		member(btf, "struct bpf_prog_aux", "used_map_cnt", 4, &l->aux_used_map_cnt,
		       NULL) == 0;
}

int bw_bpf_layout_init(struct bw_kernel *k, struct bw_bpf_layout *l, struct bw_error *err)
{
	const struct btf *btf = bw_kernel_btf(k);
	uint64_t last = 0;
	int r;

	memset(l, 0, sizeof(*l));
	if (!btf)
		return bw_error_set(err, -EINVAL, "BPF layout: the kernel model has no BTF");
	r = bw_xa_layout_from_btf(btf, &l->xa, err);
	if (r < 0)
		return bw_error_prefix(err, "BPF layout: map_idr");
	r = bw_kernel_symbol(k, "map_idr", &l->map_idr, err);
	if (r < 0)
		return r;
	r = bw_btf_struct_size(btf, "struct bpf_map", &l->map_size, err);
	if (r < 0)
		return r;
	if ((r = member(btf, "struct bpf_map", "map_type", 4, &l->map_type, err)) < 0 ||
	    (r = member(btf, "struct bpf_map", "key_size", 4, &l->map_key_size, err)) < 0 ||
	    (r = member(btf, "struct bpf_map", "value_size", 4, &l->map_value_size, err)) < 0 ||
	    (r = member(btf, "struct bpf_map", "max_entries", 4, &l->map_max_entries, err)) < 0 ||
	    (r = member(btf, "struct bpf_map", "map_flags", 4, &l->map_flags, err)) < 0 ||
	    (r = member(btf, "struct bpf_map", "id", 4, &l->map_id, err)) < 0 ||
	    (r = member(btf, "struct bpf_map", "name", BW_BPF_NAME_LEN, &l->map_name, err)) < 0 ||
	    (r = member(btf, "struct bpf_map", "btf", 8, &l->map_btf, err)) < 0 ||
	    (r = member(btf, "struct bpf_map", "btf_value_type_id", 4,
			&l->map_btf_value_type_id, err)) < 0 ||
	    (r = member(btf, "struct bpf_map", "btf_vmlinux_value_type_id", 4,
			&l->map_btf_vmlinux_value_type_id, err)) < 0 ||
	    (r = member(btf, "struct bpf_array", "elem_size", 4, &l->array_elem_size, err)) < 0 ||
	    (r = member(btf, "struct bpf_array", "value", 0, &l->array_value, err)) < 0 ||
	    (r = member(btf, "struct btf", "data", 8, &l->btf_data, err)) < 0 ||
	    (r = member(btf, "struct btf", "data_size", 4, &l->btf_data_size, err)) < 0 ||
	    (r = member(btf, "struct btf", "base_btf", 8, &l->btf_base_btf, err)) < 0 ||
	    (r = member(btf, "struct bpf_struct_ops_map", "kvalue", 0, &l->struct_ops_kvalue,
			err)) < 0)
		return r;
	r = bw_btf_struct_size(btf, "struct btf", &l->btf_size, err);
	if (r < 0)
		return r;
	prog_ties_layout(k, btf, l);
	/* Every field we take from the one read must lie inside it. */
	{
		const uint64_t ends[] = {
			l->map_type + 4, l->map_key_size + 4, l->map_value_size + 4,
			l->map_max_entries + 4, l->map_flags + 4, l->map_id + 4,
			l->map_name + BW_BPF_NAME_LEN, l->map_btf + 8,
			l->map_btf_value_type_id + 4, l->map_btf_vmlinux_value_type_id + 4,
		};

		for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
			last = ends[i] > last ? ends[i] : last;
	}
	if (l->map_size > MAP_STRUCT_MAX || last > l->map_size)
		return bw_error_set(err, -EINVAL, "BPF layout: struct bpf_map of %" PRIu64
				    " bytes does not hold its fields or exceeds %d bytes",
				    l->map_size, MAP_STRUCT_MAX);
	if (l->btf_size > BTF_STRUCT_MAX || l->btf_data + 8 > l->btf_size ||
	    l->btf_data_size + 4 > l->btf_size || l->btf_base_btf + 8 > l->btf_size)
		return bw_error_set(err, -EINVAL, "BPF layout: struct btf of %" PRIu64
				    " bytes does not hold its fields", l->btf_size);
	if ((r = bw_btf_enum_value(btf, "BPF_MAP_TYPE_ARRAY", &l->type_array, err)) < 0 ||
	    (r = bw_btf_enum_value(btf, "BPF_MAP_TYPE_PERCPU_ARRAY", &l->type_percpu_array,
				   err)) < 0 ||
	    (r = bw_btf_enum_value(btf, "BPF_MAP_TYPE_STRUCT_OPS", &l->type_struct_ops, err)) < 0)
		return r;
	fill_type_names(btf, l);
	{
		static const char *const names[] = { "BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_PERCPU_HASH",
			"BPF_MAP_TYPE_LRU_HASH", "BPF_MAP_TYPE_LRU_PERCPU_HASH" };
		int64_t *types[] = { &l->type_hash, &l->type_percpu_hash, &l->type_lru_hash,
				     &l->type_lru_percpu_hash };

		for (size_t i = 0; i < 4; i++)
			if (bw_btf_enum_value(btf, names[i], types[i], NULL) < 0)
				*types[i] = -1;
		bw_htab_layout_init(btf, &l->htab, NULL);
	}
	r = scx_layout(k, btf, l, err);
	if (r < 0)
		return bw_error_prefix(err, "sched_ext layout of the guest kernel");
	return 0;
}

const char *bw_bpf_map_type_name(const struct bw_bpf_layout *layout, uint32_t type)
{
	if (type < BW_BPF_MAP_TYPES_MAX && layout->type_names[type][0])
		return layout->type_names[type];
	return "unknown";
}

/* ---- reading maps ---- */

struct idr_entry {
	uint32_t id;
	uint64_t ptr;
};

struct collect {
	struct idr_entry *v;
	size_t n, cap;
	bool overflow;
};

static int collect_entry(void *ctx, uint64_t id, uint64_t entry)
{
	struct collect *c = ctx;

	if (c->n == BW_BPF_MAX_MAPS) {
		c->overflow = true;
		return 1;
	}
	if (id > UINT32_MAX)
		return 0;	/* ids are ints: a garbage tree; skipped like any bad entry */
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct idr_entry *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = (struct idr_entry){ .id = (uint32_t)id, .ptr = entry };
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.';
}

static bool is_array_type(const struct bw_bpf_layout *l, uint32_t type)
{
	return (int64_t)type == l->type_array || (int64_t)type == l->type_percpu_array;
}

/* Read and validate the map at @e; -EINVAL etc. with a message when it is not a live map. */
static int read_map(struct bw_kernel *k, const struct bw_bpf_layout *l, const struct idr_entry *e,
		    uint8_t *buf, struct bw_bpf_map *m, struct bw_error *err)
{
	uint32_t elem_size, want;
	size_t len;
	int r;

	if (!kernel_pointer(e->ptr))
		return bw_error_set(err, -EINVAL, "map id %u: entry %#" PRIx64
				    " is not a kernel pointer", e->id, e->ptr);
	r = bw_kernel_read(k, e->ptr, buf, l->map_size, err);
	if (r < 0)
		return bw_error_prefix(err, "map id %u at %#" PRIx64, e->id, e->ptr);
	memset(m, 0, sizeof(*m));
	m->addr = e->ptr;
	m->object = -1;
	m->id = (uint32_t)get_le(buf, l->map_id, 4);
	if (m->id != e->id)
		return bw_error_set(err, -ESTALE, "map id %u: struct bpf_map at %#" PRIx64
				    " holds id %u (being created or freed)", e->id, e->ptr, m->id);
	memcpy(m->name, buf + l->map_name, BW_BPF_NAME_LEN);
	len = strnlen(m->name, BW_BPF_NAME_LEN);
	if (len == BW_BPF_NAME_LEN)
		return bw_error_set(err, -EINVAL, "map id %u: name is not NUL-terminated", e->id);
	for (size_t i = 0; i < len; i++)
		if (!name_char(m->name[i]))
			return bw_error_set(err, -EINVAL, "map id %u: name holds byte %#x, which "
					    "the kernel never allows", e->id,
					    (unsigned char)m->name[i]);
	m->type = (uint32_t)get_le(buf, l->map_type, 4);
	m->key_size = (uint32_t)get_le(buf, l->map_key_size, 4);
	m->value_size = (uint32_t)get_le(buf, l->map_value_size, 4);
	m->max_entries = (uint32_t)get_le(buf, l->map_max_entries, 4);
	m->flags = (uint32_t)get_le(buf, l->map_flags, 4);
	m->btf_addr = get_le(buf, l->map_btf, 8);
	m->btf_value_type_id = (uint32_t)get_le(buf, l->map_btf_value_type_id, 4);
	m->btf_vmlinux_value_type_id = (uint32_t)get_le(buf, l->map_btf_vmlinux_value_type_id, 4);
	if (m->type == 0 || m->type >= BW_BPF_MAP_TYPES_MAX || !l->type_names[m->type][0])
		return bw_error_set(err, -EINVAL, "map id %u: type %u is not a map type of this "
				    "kernel", e->id, m->type);
	if (m->key_size > MAP_SIZE_MAX || m->value_size > MAP_SIZE_MAX)
		return bw_error_set(err, -EINVAL, "map id %u: key/value sizes %u/%u are absurd",
				    e->id, m->key_size, m->value_size);
	if (m->btf_addr && !kernel_pointer(m->btf_addr))
		return bw_error_set(err, -EINVAL, "map id %u: btf pointer %#" PRIx64
				    " is not a kernel pointer", e->id, m->btf_addr);
	m->full_name = NULL;
	if (!is_array_type(l, m->type))
		return 0;
	if (m->value_size == 0 || m->max_entries == 0)
		return bw_error_set(err, -EINVAL, "map id %u: an array with value_size %u and "
				    "max_entries %u", e->id, m->value_size, m->max_entries);
	r = bw_kernel_read(k, e->ptr + l->array_elem_size, &elem_size, sizeof(elem_size), err);
	if (r < 0)
		return bw_error_prefix(err, "map id %u: reading bpf_array.elem_size", e->id);
	want = (m->value_size + 7u) & ~7u;
	if (elem_size != want)
		return bw_error_set(err, -EINVAL, "map id %u: elem_size %u, expected %u for "
				    "value_size %u", e->id, elem_size, want, m->value_size);
	if (e->ptr > UINT64_MAX - l->array_value)
		return bw_error_set(err, -EINVAL, "map id %u: values wrap around", e->id);
	m->elem_size = elem_size;
	m->values = e->ptr + l->array_value;
	return 0;
}

/* ---- objects ---- */

struct group_key {
	uint64_t btf;
	uint32_t id;
	unsigned int idx;
};

static int group_cmp(const void *a, const void *b)
{
	const struct group_key *x = a, *y = b;

	if (x->btf != y->btf)
		return x->btf < y->btf ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int object_cmp(const void *a, const void *b)
{
	/* Each object's first map is its lowest id; ids are unique. */
	const struct bw_bpf_object *x = a, *y = b;

	return x->maps[0] < y->maps[0] ? -1 : x->maps[0] > y->maps[0];
}

static void object_prefix(struct bw_bpf_inventory *inv, const struct bw_bpf_layout *l,
			  struct bw_bpf_object *o)
{
	static const char *const sections[] = { ".bss", ".data", ".rodata", ".kconfig" };

	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		size_t sl = strlen(sections[s]);

		for (unsigned int i = 0; i < o->nmaps; i++) {
			const struct bw_bpf_map *m = &inv->maps[o->maps[i]];
			size_t len = strlen(m->name);

			if ((int64_t)m->type != l->type_array || len <= sl || m->name[0] == '.' ||
			    strcmp(m->name + len - sl, sections[s]) != 0)
				continue;
			memcpy(o->prefix, m->name, len - sl);
			o->prefix[len - sl] = '\0';
			return;
		}
	}
	for (unsigned int i = 0; i < o->nmaps; i++) {
		const struct bw_bpf_map *m = &inv->maps[o->maps[i]];

		if ((int64_t)m->type == l->type_struct_ops) {
			memcpy(o->prefix, m->name, sizeof(o->prefix));
			return;
		}
	}
	o->prefix[0] = '\0';
}

static int group_objects(struct bw_bpf_inventory *inv, const struct bw_bpf_layout *l,
			 struct bw_error *err)
{
	struct group_key *keys;
	size_t n = 0;

	keys = calloc(inv->nmaps ? inv->nmaps : 1, sizeof(*keys));
	if (!keys)
		return bw_error_set(err, -ENOMEM, "grouping BPF maps: out of memory");
	for (unsigned int i = 0; i < inv->nmaps; i++)
		if (inv->maps[i].btf_addr)
			keys[n++] = (struct group_key){ inv->maps[i].btf_addr, inv->maps[i].id, i };
	if (n > 1)
		qsort(keys, n, sizeof(*keys), group_cmp);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		struct bw_bpf_object *o, *objs;

		while (j < n && keys[j].btf == keys[i].btf)
			j++;
		objs = realloc(inv->objects, (inv->nobjects + 1) * sizeof(*objs));
		if (!objs) {
			free(keys);
			return bw_error_set(err, -ENOMEM, "grouping BPF maps: out of memory");
		}
		inv->objects = objs;
		o = &objs[inv->nobjects];
		memset(o, 0, sizeof(*o));
		o->btf_addr = keys[i].btf;
		o->maps = calloc(j - i, sizeof(*o->maps));
		if (!o->maps) {
			free(keys);
			return bw_error_set(err, -ENOMEM, "grouping BPF maps: out of memory");
		}
		inv->nobjects++;
		for (size_t x = i; x < j; x++)
			o->maps[o->nmaps++] = keys[x].idx;
		i = j;
	}
	free(keys);
	/* Map indices follow ids (the walk is in id order), so this orders by lowest id. */
	if (inv->nobjects > 1)
		qsort(inv->objects, inv->nobjects, sizeof(*inv->objects), object_cmp);
	for (unsigned int i = 0; i < inv->nobjects; i++) {
		struct bw_bpf_object *o = &inv->objects[i];

		for (unsigned int x = 0; x < o->nmaps; x++)
			inv->maps[o->maps[x]].object = (int)i;
		object_prefix(inv, l, o);
	}
	return 0;
}

/* ---- the active scheduler ---- */

static bool printable_string(const char *s, size_t size)
{
	size_t len = strnlen(s, size);

	if (len == size)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

int bw_scx_read(struct bw_kernel *k, const struct bw_bpf_layout *l, struct bw_scx_state *st,
		struct bw_error *err)
{
	uint64_t name_addr = 0;
	char name[BW_SCX_NAME_LEN];
	bool enabled_state = true;
	int r;

	memset(st, 0, sizeof(*st));
	st->object = -1;
	st->struct_ops_map = -1;
	st->enable_state = -1;
	if (l->scx_mode == BW_SCX_NONE)
		return 0;
	if (l->scx_mode == BW_SCX_UNREADABLE) {
		st->problem = "sched_ext is in the kernel's BTF but neither scx_root nor scx_ops "
			      "(with its enable state) is among the kernel symbols "
			      "(CONFIG_KALLSYMS_ALL?)";
		return 0;
	}
	/*
	 * scx_root first, then the state: the kernel sets scx_root before
	 * "enabled" and leaves "enabled" before it clears scx_root, so an
	 * "enabled" read after a scx_root belongs to that scheduler.  Both are
	 * read even when scx_root is NULL: the cheap check compares both.
	 */
	if (l->scx_mode == BW_SCX_ROOT) {
		r = bw_kernel_read(k, l->scx_root_addr, &st->root, sizeof(st->root), err);
		if (r < 0)
			return bw_error_prefix(err, "reading scx_root");
	}
	if (l->has_scx_state) {
		uint32_t state;

		r = bw_kernel_read(k, l->scx_state_addr, &state, sizeof(state), err);
		if (r < 0)
			return bw_error_prefix(err, "reading the sched_ext enable state");
		st->enable_state = state;
		enabled_state = (int64_t)(int32_t)state == l->scx_state_enabled;
	}
	if (l->scx_mode == BW_SCX_ROOT) {
		uint64_t root = st->root;

		if (!root)
			return 0;
		if (!kernel_pointer(root) || root > UINT64_MAX - l->scx_sched_ops - l->scx_ops_size) {
			st->problem = "scx_root does not hold a kernel pointer";
			return 0;
		}
		if (!enabled_state) {
			st->problem = "a sched_ext scheduler is being enabled or disabled (scx_root "
				      "is set, the enable state is not \"enabled\")";
			return 0;
		}
		name_addr = root + l->scx_sched_ops + l->scx_ops_name;
	} else {
		if (!enabled_state)
			return 0;
		name_addr = l->scx_ops_addr + l->scx_ops_name;
	}
	/*
	 * The kernel says a scheduler is attached: ops that do not translate
	 * (guest memory we cannot read, a missing NUMA backend) are an error,
	 * never "no scheduler".  A name that reads but is not text is garbage
	 * of a scheduler being set up or torn down: the change check brings
	 * us back.
	 */
	r = bw_kernel_read(k, name_addr, name, sizeof(name), err);
	if (r < 0)
		return bw_error_prefix(err, "the kernel says a sched_ext scheduler is attached, "
				       "but its ops cannot be read");
	if (!printable_string(name, sizeof(name))) {
		st->problem = "the active sched_ext ops are unreadable (the scheduler is being "
			      "attached or detached?)";
		return 0;
	}
	memcpy(st->ops_name, name, sizeof(name));
	st->enabled = true;
	return 0;
}

static bool same_callbacks(const struct bw_bpf_layout *l, const uint8_t *a, const uint8_t *b)
{
	bool any = false;

	for (uint32_t i = 0; i < l->scx_ops_nfn; i++) {
		uint64_t x = get_le(a, l->scx_ops_fn[i], 8), y = get_le(b, l->scx_ops_fn[i], 8);

		if (x != y)
			return false;
		any |= x != 0;
	}
	return any;
}

/* Which STRUCT_OPS map holds the active ops copy: see the top of this file. */
static int match_scheduler(struct bw_kernel *k, const struct bw_bpf_layout *l,
			   struct bw_bpf_inventory *inv, struct bw_error *err)
{
	struct bw_scx_state *st = &inv->scx;
	uint8_t *active, *cand;
	uint64_t ops_addr;
	unsigned int nmatch = 0;

	if (!st->enabled)
		return 0;
	if (l->scx_ops_nfn == 0) {
		st->problem = "struct sched_ext_ops has no callbacks in the kernel's BTF";
		return 0;
	}
	ops_addr = l->scx_mode == BW_SCX_ROOT ? st->root + l->scx_sched_ops : l->scx_ops_addr;
	active = malloc(l->scx_ops_size);
	cand = malloc(l->scx_ops_size);
	if (!active || !cand) {
		free(active);
		free(cand);
		return bw_error_set(err, -ENOMEM, "matching the active scheduler: out of memory");
	}
	if (bw_kernel_read(k, ops_addr, active, l->scx_ops_size, NULL) < 0) {
		st->problem = "the active sched_ext ops are unreadable";
		goto out;
	}
	for (uint32_t i = 0; i < l->scx_ops_nfn; i++) {
		uint64_t v = get_le(active, l->scx_ops_fn[i], 8);

		if (v) {
			inv->scx_fn_off = locate(k, ops_addr + l->scx_ops_fn[i], 8);
			inv->scx_fn_value = v;
			break;
		}
	}
	for (unsigned int i = 0; i < inv->nmaps; i++) {
		const struct bw_bpf_map *m = &inv->maps[i];
		uint64_t data = m->addr + l->struct_ops_kvalue + l->scx_ops_value_data;

		if ((int64_t)m->type != l->type_struct_ops ||
		    m->btf_vmlinux_value_type_id != l->scx_ops_value_type_id ||
		    data < m->addr || data > UINT64_MAX - l->scx_ops_size)
			continue;
		if (bw_kernel_read(k, data, cand, l->scx_ops_size, NULL) < 0)
			continue;
		if (same_callbacks(l, active, cand)) {
			nmatch++;
			st->struct_ops_map = (int)i;
		}
	}
	if (nmatch == 1) {
		st->object = inv->maps[st->struct_ops_map].object;
		if (st->object < 0)
			st->problem = "the active scheduler's STRUCT_OPS map has no BTF object";
	} else {
		st->struct_ops_map = -1;
		st->problem = nmatch ? "several sched_ext STRUCT_OPS maps hold the active ops' "
				       "callbacks" :
				       "no sched_ext STRUCT_OPS map holds the active ops' callbacks";
	}
out:
	free(active);
	free(cand);
	return 0;
}

/* ---- maps tied through the scheduler's programs ---- */

/*
 * A map declared with bare key_size/value_size has no BTF in the kernel,
 * so it joins no object above; the scheduler's programs use it all the
 * same.  bpf_struct_ops_map_update_elem() (kernel/bpf/bpf_struct_ops.c,
 * every version since 5.6) stores the id of each callback's program in
 * the map's uvalue->data at that callback's offset, and the verifier lists
 * every map a program references in prog->aux->used_maps[used_map_cnt]
 * (include/linux/bpf.h).  prog_idr holds the programs by id.  A map
 * reached that way joins the active object only when it belongs to no
 * object: a map with another object's BTF stays where it is, so another
 * object's maps are never read as the scheduler's.
 */

/*
 * MAX_USED_MAPS is 64 (kernel/bpf/verifier.c); a count above this bound is
 * garbage, and it bounds what one program makes us read.
 */
#define USED_MAPS_MAX 1024
/* Programs visited in one walk of prog_idr, like maps in map_idr. */
#define PROGS_VISITED_MAX BW_BPF_MAX_MAPS

struct prog_find {
	const uint64_t *ids;		/* the callbacks' program ids, distinct */
	unsigned int nids;
	struct idr_entry found[BW_SCX_OPS_FN_MAX];
	unsigned int nfound;
	unsigned int visited;
};

static int find_prog(void *ctx, uint64_t id, uint64_t entry)
{
	struct prog_find *f = ctx;

	if (f->visited++ >= PROGS_VISITED_MAX)
		return 1;
	for (unsigned int i = 0; i < f->nids; i++)
		if (f->ids[i] == id && f->nfound < BW_SCX_OPS_FN_MAX)
			f->found[f->nfound++] = (struct idr_entry){ .id = (uint32_t)id, .ptr = entry };
	return 0;
}

static int index_cmp(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

/* Map @idx joins object @obj (its index list stays in id order). */
static int join_object(struct bw_bpf_inventory *inv, int obj, unsigned int idx)
{
	struct bw_bpf_object *o = &inv->objects[obj];
	unsigned int *maps = realloc(o->maps, (o->nmaps + 1) * sizeof(*maps));

	if (!maps)
		return -ENOMEM;
	o->maps = maps;
	o->maps[o->nmaps++] = idx;
	qsort(o->maps, o->nmaps, sizeof(*o->maps), index_cmp);
	inv->maps[idx].object = obj;
	inv->maps[idx].by_programs = true;
	inv->scx.tied_maps++;
	return 0;
}

/* The maps one program uses: those in no object join @obj. */
static int tie_program_maps(struct bw_kernel *k, const struct bw_bpf_layout *l,
			    struct bw_bpf_inventory *inv, const struct idr_entry *p, int obj)
{
	uint64_t aux = 0, used = 0, ptrs[64];
	uint32_t id = 0, cnt = 0;

	if (!kernel_pointer(p->ptr) ||
	    bw_kernel_read(k, p->ptr + l->prog_aux, &aux, 8, NULL) < 0 || !kernel_pointer(aux) ||
	    bw_kernel_read(k, aux + l->aux_id, &id, 4, NULL) < 0 || id != p->id ||
	    bw_kernel_read(k, aux + l->aux_used_map_cnt, &cnt, 4, NULL) < 0 ||
	    cnt > USED_MAPS_MAX ||
	    bw_kernel_read(k, aux + l->aux_used_maps, &used, 8, NULL) < 0 ||
	    (cnt && !kernel_pointer(used))) {
		inv->scx.tie_problem = "a program of the active scheduler does not read as a live "
				       "program";
		return 0;
	}
	inv->scx.programs++;
	for (uint32_t done = 0; done < cnt;) {
		uint32_t n = cnt - done < 64 ? cnt - done : 64;

		if (bw_kernel_read(k, used + 8ULL * done, ptrs, 8ULL * n, NULL) < 0) {
			inv->scx.tie_problem = "the used_maps of a program of the active scheduler "
					       "are unreadable";
			return 0;
		}
		for (uint32_t j = 0; j < n; j++)
			for (unsigned int i = 0; i < inv->nmaps; i++)
				if (inv->maps[i].addr == ptrs[j] && inv->maps[i].object < 0 &&
				    join_object(inv, obj, i) < 0)
					return -ENOMEM;
		done += n;
	}
	return 0;
}

static int tie_programs(struct bw_kernel *k, const struct bw_bpf_layout *l,
			struct bw_bpf_inventory *inv, struct bw_error *err)
{
	struct bw_scx_state *st = &inv->scx;
	struct bw_addrspace as = bw_kernel_addrspace(k);
	struct prog_find f = { 0 };
	uint64_t ids[BW_SCX_OPS_FN_MAX], uvalue = 0;
	uint8_t *udata;
	int r;

	if (!l->has_prog_ties || st->struct_ops_map < 0 || st->object < 0)
		return 0;
	if (bw_kernel_read(k, inv->maps[st->struct_ops_map].addr + l->struct_ops_uvalue, &uvalue,
			   8, NULL) < 0 || !kernel_pointer(uvalue)) {
		st->tie_problem = "the active STRUCT_OPS map's uvalue is not a kernel pointer";
		return 0;
	}
	udata = malloc(l->scx_ops_size);
	if (!udata)
		return bw_error_set(err, -ENOMEM, "tying maps through programs: out of memory");
	if (bw_kernel_read(k, uvalue + l->scx_ops_value_data, udata, l->scx_ops_size, NULL) < 0) {
		free(udata);
		st->tie_problem = "the active STRUCT_OPS map's uvalue is unreadable";
		return 0;
	}
	for (uint32_t i = 0; i < l->scx_ops_nfn; i++) {
		uint64_t id = get_le(udata, l->scx_ops_fn[i], 8);
		bool seen = false;

		for (unsigned int j = 0; j < f.nids; j++)
			seen |= ids[j] == id;
		if (id && id <= INT32_MAX && !seen)
			ids[f.nids++] = id;
	}
	free(udata);
	f.ids = ids;
	if (f.nids == 0)
		return 0;
	r = bw_idr_walk(&as, &l->xa, l->prog_idr, find_prog, &f, NULL, NULL);
	if (r != 0) {
		st->tie_problem = r > 0 ? "prog_idr holds too many programs" :
					  "prog_idr is unreadable";
		return 0;
	}
	for (unsigned int i = 0; i < f.nfound; i++) {
		r = tie_program_maps(k, l, inv, &f.found[i], st->object);
		if (r < 0)
			return bw_error_set(err, r, "tying maps through programs: out of memory");
	}
	return 0;
}

/* ---- the cheap check ---- */

static int load(struct bw_kernel *k, uint64_t off, uint64_t va, unsigned int width,
		uint64_t *out, struct bw_error *err)
{
	*out = 0;
	if (off != NOT_LOCATED)
		return bw_ram_load_at(bw_kernel_ram(k), off, width, out, err);
	return bw_kernel_read(k, va, out, width, err);
}

int bw_bpf_inventory_check_loads(const struct bw_bpf_layout *l, const struct bw_bpf_inventory *inv,
				 struct bw_load *loads, size_t *n)
{
	*n = 0;
	if (inv->idr_next_off == NOT_LOCATED)
		return -EAGAIN;
	loads[(*n)++] = (struct bw_load){ .offset = inv->idr_next_off, .width = 4 };
	if (l->scx_mode == BW_SCX_ROOT) {
		if (inv->scx_root_off == NOT_LOCATED)
			return -EAGAIN;
		loads[(*n)++] = (struct bw_load){ .offset = inv->scx_root_off, .width = 8 };
	}
	if (l->has_scx_state && (l->scx_mode == BW_SCX_ROOT || l->scx_mode == BW_SCX_OPS_GLOBAL)) {
		if (inv->scx_state_off == NOT_LOCATED)
			return -EAGAIN;
		loads[(*n)++] = (struct bw_load){ .offset = inv->scx_state_off, .width = 4 };
	}
	if (inv->scx.enabled && inv->scx_fn_off != NOT_LOCATED)
		loads[(*n)++] = (struct bw_load){ .offset = inv->scx_fn_off, .width = 8 };
	return 0;
}

void bw_bpf_inventory_check_changed(const struct bw_bpf_layout *l,
				    const struct bw_bpf_inventory *inv, const uint64_t *v,
				    bool *new_maps, bool *scheduler_changed)
{
	size_t i = 1;
	bool moved = false;

	*new_maps = (uint32_t)v[0] != inv->map_idr_next;
	if (l->scx_mode == BW_SCX_ROOT && v[i++] != inv->scx.root)
		moved = true;
	if (l->has_scx_state && (l->scx_mode == BW_SCX_ROOT || l->scx_mode == BW_SCX_OPS_GLOBAL) &&
	    (int64_t)(uint32_t)v[i++] != inv->scx.enable_state)
		moved = true;
	if (inv->scx.enabled && inv->scx_fn_off != NOT_LOCATED && v[i] != inv->scx_fn_value)
		moved = true;
	*scheduler_changed = moved;
}

int bw_bpf_inventory_new_maps(struct bw_kernel *k, const struct bw_bpf_layout *l,
			      const struct bw_bpf_inventory *inv, bool *changed,
			      struct bw_error *err)
{
	uint64_t v;
	int r;

	*changed = false;
	r = load(k, inv->idr_next_off, l->map_idr + l->xa.idr_next, 4, &v, err);
	if (r < 0)
		return bw_error_prefix(err, "reading map_idr.idr_next");
	*changed = (uint32_t)v != inv->map_idr_next;
	return 0;
}

int bw_bpf_inventory_scheduler_changed(struct bw_kernel *k, const struct bw_bpf_layout *l,
				       const struct bw_bpf_inventory *inv, bool *changed,
				       struct bw_error *err)
{
	uint64_t v;
	int r;

	*changed = false;
	if (l->scx_mode == BW_SCX_ROOT) {
		r = load(k, inv->scx_root_off, l->scx_root_addr, 8, &v, err);
		if (r < 0)
			return bw_error_prefix(err, "reading scx_root");
		*changed = v != inv->scx.root;
	}
	/* bw_scx_read() leaves enable_state -1 in the other modes. */
	if (!*changed && l->has_scx_state &&
	    (l->scx_mode == BW_SCX_ROOT || l->scx_mode == BW_SCX_OPS_GLOBAL)) {
		r = load(k, inv->scx_state_off, l->scx_state_addr, 4, &v, err);
		if (r < 0)
			return bw_error_prefix(err, "reading the sched_ext enable state");
		*changed = (int64_t)(uint32_t)v != inv->scx.enable_state;
	}
	if (!*changed && inv->scx.enabled && inv->scx_fn_off != NOT_LOCATED) {
		r = bw_ram_load_at(bw_kernel_ram(k), inv->scx_fn_off, 8, &v, err);
		if (r < 0)
			return bw_error_prefix(err, "reading the active sched_ext ops");
		*changed = v != inv->scx_fn_value;
	}
	return 0;
}

int bw_bpf_inventory_changed(struct bw_kernel *k, const struct bw_bpf_layout *l,
			     const struct bw_bpf_inventory *inv, bool *changed,
			     struct bw_error *err)
{
	int r = bw_bpf_inventory_new_maps(k, l, inv, changed, err);

	if (r < 0 || *changed)
		return r;
	return bw_bpf_inventory_scheduler_changed(k, l, inv, changed, err);
}

/* ---- the scan ---- */

int bw_bpf_inventory_scan(struct bw_kernel *k, const struct bw_bpf_layout *l,
			  struct bw_bpf_inventory **out, struct bw_error *err)
{
	struct bw_addrspace as = bw_kernel_addrspace(k);
	struct bw_bpf_inventory *inv;
	struct collect c = { 0 };
	uint8_t *buf = NULL;
	int r;

	*out = NULL;
	inv = calloc(1, sizeof(*inv));
	if (!inv)
		return bw_error_set(err, -ENOMEM, "scanning BPF maps: out of memory");
	inv->idr_next_off = locate(k, l->map_idr + l->xa.idr_next, 4);
	inv->scx_fn_off = NOT_LOCATED;
	inv->scx_root_off = l->scx_mode == BW_SCX_ROOT ? locate(k, l->scx_root_addr, 8) :
			    NOT_LOCATED;
	inv->scx_state_off = l->has_scx_state ? locate(k, l->scx_state_addr, 4) : NOT_LOCATED;
	/*
	 * The change markers are read before the walk: whatever happens during
	 * the walk moves them, and the next cheap check sees it.
	 */
	r = bw_idr_next(&as, &l->xa, l->map_idr, &inv->map_idr_next, err);
	if (r < 0)
		goto fail;
	r = bw_scx_read(k, l, &inv->scx, err);
	if (r < 0)
		goto fail;
	for (int attempt = 0; attempt < WALK_ATTEMPTS; attempt++) {
		struct bw_xa_walk_stats stats = { 0 };

		c.n = 0;
		r = bw_idr_walk(&as, &l->xa, l->map_idr, collect_entry, &c, &stats, err);
		if (r == -ENOMEM)
			r = bw_error_set(err, r, "scanning BPF maps: out of memory");
		if (r > 0 || c.overflow)
			r = bw_error_set(err, -E2BIG, "map_idr holds more than %d maps",
					 BW_BPF_MAX_MAPS);
		if (r < 0) {
			bw_error_prefix(err, "walking map_idr");
			goto fail;
		}
		if (stats.retries == 0)
			break;
	}
	inv->maps = calloc(c.n ? c.n : 1, sizeof(*inv->maps));
	buf = malloc(l->map_size);
	if (!inv->maps || !buf) {
		r = bw_error_set(err, -ENOMEM, "scanning BPF maps: out of memory");
		goto fail;
	}
	for (size_t i = 0; i < c.n; i++) {
		struct bw_error e = { 0 };

		if (read_map(k, l, &c.v[i], buf, &inv->maps[inv->nmaps], &e) < 0) {
			if (inv->nskipped++ == 0)
				memcpy(inv->skipped_msg, e.msg, sizeof(e.msg));
			continue;
		}
		inv->nmaps++;
	}
	for (unsigned int i = 0; i < inv->nmaps; i++)
		inv->maps[i].full_name = inv->maps[i].name;
	r = group_objects(inv, l, err);
	if (r < 0)
		goto fail;
	r = match_scheduler(k, l, inv, err);
	if (r < 0)
		goto fail;
	r = tie_programs(k, l, inv, err);
	if (r < 0)
		goto fail;
	free(buf);
	free(c.v);
	*out = inv;
	return 0;
fail:
	free(buf);
	free(c.v);
	bw_bpf_inventory_free(inv);
	return r;
}

void bw_bpf_inventory_free(struct bw_bpf_inventory *inv)
{
	if (!inv)
		return;
	for (unsigned int i = 0; i < inv->nmaps; i++)
		if (inv->maps[i].full_name && inv->maps[i].full_name != inv->maps[i].name)
			free((char *)inv->maps[i].full_name);
	for (unsigned int i = 0; i < inv->nobjects; i++) {
		free(inv->objects[i].maps);
		btf__free(inv->objects[i].btf);
	}
	free(inv->objects);
	free(inv->maps);
	free(inv);
}

const struct bw_bpf_map *bw_bpf_inventory_find_id(const struct bw_bpf_inventory *inv, uint32_t id)
{
	unsigned int lo = 0, hi = inv->nmaps;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (inv->maps[mid].id == id)
			return &inv->maps[mid];
		if (inv->maps[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* ---- object BTF ---- */

static int load_object_btf(struct bw_kernel *k, const struct bw_bpf_layout *l, uint64_t btf_addr,
			   struct btf **out, struct bw_error *err)
{
	const struct btf *kbtf = bw_kernel_btf(k);
	uint8_t sbuf[BTF_STRUCT_MAX];
	uint64_t data, base;
	uint32_t size;
	uint16_t magic;
	uint8_t *blob;
	struct btf *btf;
	int r;

	r = bw_kernel_read(k, btf_addr, sbuf, l->btf_size, err);
	if (r < 0)
		return bw_error_prefix(err, "reading struct btf at %#" PRIx64, btf_addr);
	data = get_le(sbuf, l->btf_data, 8);
	size = (uint32_t)get_le(sbuf, l->btf_data_size, 4);
	base = get_le(sbuf, l->btf_base_btf, 8);
	if (!kernel_pointer(data) || (base && !kernel_pointer(base)))
		return bw_error_set(err, -EINVAL, "struct btf at %#" PRIx64 ": data %#" PRIx64
				    " or base_btf %#" PRIx64 " is not a kernel pointer", btf_addr,
				    data, base);
	if (size < BTF_HEADER_MIN || size > OBJECT_BTF_MAX)
		return bw_error_set(err, -EINVAL, "struct btf at %#" PRIx64 ": data_size %u is "
				    "outside %d..%u", btf_addr, size, BTF_HEADER_MIN, OBJECT_BTF_MAX);
	if (base) {
		/* Split BTF of a BPF object sits on vmlinux: its base has no base. */
		uint64_t base_base = 0;
		uint32_t base_size = 0, ksize = 0;

		btf__raw_data(kbtf, &ksize);
		if (bw_kernel_read(k, base + l->btf_base_btf, &base_base, 8, NULL) < 0 ||
		    bw_kernel_read(k, base + l->btf_data_size, &base_size, 4, NULL) < 0 ||
		    base_base != 0 || base_size != ksize)
			return bw_error_set(err, -ENOTSUP, "struct btf at %#" PRIx64 " is split BTF "
					    "on a base at %#" PRIx64 " that is not the kernel's own "
					    "BTF", btf_addr, base);
	}
	blob = malloc(size);
	if (!blob)
		return bw_error_set(err, -ENOMEM, "out of memory for %u bytes of BTF", size);
	r = bw_kernel_read(k, data, blob, size, err);
	if (r < 0) {
		free(blob);
		return bw_error_prefix(err, "reading the %u-byte BTF of struct btf %#" PRIx64, size,
				       btf_addr);
	}
	memcpy(&magic, blob, sizeof(magic));
	if (magic != BTF_MAGIC) {
		free(blob);
		return bw_error_set(err, -EINVAL, "BTF at %#" PRIx64 " starts with %#06x, not the "
				    "BTF magic", data, magic);
	}
	r = bw_btf_parse(blob, size, base ? kbtf : NULL, &btf, err);
	free(blob);
	if (r < 0)
		return bw_error_prefix(err, "BTF of struct btf %#" PRIx64 " (%u bytes)", btf_addr,
				       size);
	*out = btf;
	return 0;
}

static bool full_name_ok(const char *s)
{
	size_t len;

	if (!s)
		return false;
	len = strnlen(s, FULL_NAME_MAX);
	if (len == FULL_NAME_MAX || len < BW_BPF_NAME_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

/* Offer @cand as a full name of the truncated @name; counts distinct candidates. */
static void offer(const char *name, const char *cand, const char **best, unsigned int *count)
{
	if (!full_name_ok(cand) || strncmp(cand, name, BW_BPF_NAME_LEN - 1) != 0)
		return;
	if (!*best || strcmp(*best, cand) != 0) {
		(*count)++;
		*best = cand;
	}
}

static void set_full_names(struct bw_bpf_inventory *inv, struct bw_bpf_object *o)
{
	const struct btf *btf = o->btf;
	int sec = btf__find_by_name_kind(btf, ".maps", BTF_KIND_DATASEC);
	const struct btf_type *st = sec > 0 ? btf__type_by_id(btf, (uint32_t)sec) : NULL;

	for (unsigned int i = 0; i < o->nmaps; i++) {
		struct bw_bpf_map *m = &inv->maps[o->maps[i]];
		const char *best = NULL;
		unsigned int count = 0;
		bool twin = false;

		if (strlen(m->name) != BW_BPF_NAME_LEN - 1 || m->full_name != m->name)
			continue;
		for (unsigned int j = 0; j < o->nmaps; j++)
			twin |= j != i && !strcmp(inv->maps[o->maps[j]].name, m->name);
		if (twin)
			continue;
		if (st) {
			const struct btf_var_secinfo *v = btf_var_secinfos(st);

			for (uint32_t x = 0; x < btf_vlen(st); x++) {
				const struct btf_type *vt = btf__type_by_id(btf, v[x].type);

				if (vt && btf_is_var(vt))
					offer(m->name, btf__name_by_offset(btf, vt->name_off), &best,
					      &count);
			}
		}
		if (count == 0 && m->name[0] == '.' && m->btf_value_type_id) {
			const struct btf_type *vt = btf__type_by_id(btf, m->btf_value_type_id);

			if (vt && btf_is_datasec(vt))
				offer(m->name, btf__name_by_offset(btf, vt->name_off), &best, &count);
		}
		if (count == 1 && strlen(best) > BW_BPF_NAME_LEN - 1) {
			char *copy = strdup(best);

			if (copy)
				m->full_name = copy;
		}
	}
}

const struct btf *bw_bpf_object_btf(struct bw_kernel *k, const struct bw_bpf_layout *layout,
				    struct bw_bpf_inventory *inv, unsigned int object,
				    struct bw_error *err)
{
	struct bw_bpf_object *o;
	struct bw_error e = { 0 };
	struct btf *btf = NULL;
	int r;

	if (object >= inv->nobjects) {
		bw_error_set(err, -EINVAL, "BPF object %u: only %u objects", object, inv->nobjects);
		return NULL;
	}
	o = &inv->objects[object];
	if (o->btf)
		return o->btf;
	if (o->btf_error < 0) {
		bw_error_set(err, o->btf_error, "%s", o->btf_error_msg);
		return NULL;
	}
	r = load_object_btf(k, layout, o->btf_addr, &btf, &e);
	if (r < 0) {
		o->btf_error = r;
		memcpy(o->btf_error_msg, e.msg, sizeof(e.msg));
		bw_error_set(err, r, "%s", e.msg);
		return NULL;
	}
	o->btf = btf;
	set_full_names(inv, o);
	return btf;
}
