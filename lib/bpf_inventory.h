/* SPDX-License-Identifier: MIT */
/*
 * What BPF lives in the guest kernel: every map of map_idr, grouped into
 * BPF objects, and which object is the sched_ext scheduler attached right
 * now.  Read out of guest memory only; every kernel struct offset comes
 * from the kernel's BTF (struct bw_bpf_layout).  See bpf_inventory.c for
 * the kernel structures read and how they changed across versions.
 */
#ifndef BPFWATCH_BPF_INVENTORY_H
#define BPFWATCH_BPF_INVENTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf_htab.h"
#include "error.h"
#include "fault_guard.h"
#include "xarray.h"

struct btf;
struct bw_kernel;

#define BW_BPF_NAME_LEN 16	/* BPF_OBJ_NAME_LEN: 15 characters and a NUL */
#define BW_SCX_NAME_LEN 128	/* SCX_OPS_NAME_LEN */

/*
 * Most maps one scan reads.  Every BPF map costs the guest kernel memory
 * and is held by an fd, a pin or a program; real guests have tens to a few
 * hundred, a busy host a few thousand.  65536 maps are ~16 MiB of reads;
 * an IDR claiming more is refused (-E2BIG) rather than walked for ever.
 */
#define BW_BPF_MAX_MAPS 65536

/*
 * Map types named in the layout's table (enum bpf_map_type of the guest's
 * BTF): uapi has about 35 today and appends one every year or two, so 128
 * leaves decades of room while keeping the table inside the layout.
 */
#define BW_BPF_MAP_TYPES_MAX 128
/* Longest map type name kept ("percpu_cgroup_storage" is 21). */
#define BW_BPF_MAP_TYPE_NAME_LEN 32
/*
 * Function-pointer members of struct sched_ext_ops compared to recognise
 * the attached scheduler: 7.x has about 40 callbacks; a BTF claiming more
 * than 256 is not a sched_ext_ops.
 */
#define BW_SCX_OPS_FN_MAX 256

/* How the active scheduler is read on this kernel. */
enum bw_scx_mode {
	BW_SCX_NONE,		/* no sched_ext in the kernel's BTF */
	BW_SCX_ROOT,		/* 6.16+: struct scx_sched *scx_root */
	BW_SCX_OPS_GLOBAL,	/* 6.12-6.15: struct sched_ext_ops scx_ops + enable state */
	BW_SCX_UNREADABLE,	/* sched_ext is built in but its globals are not in the symbols */
};

/* Offsets and constants of the guest kernel, from its BTF; computed once per kernel. */
struct bw_bpf_layout {
	struct bw_xa_layout xa;
	uint64_t map_idr;		/* address of map_idr (a struct idr) */
	uint64_t map_size;		/* bytes of struct bpf_map read per map */
	uint64_t map_type, map_key_size, map_value_size, map_max_entries, map_flags;
	uint64_t map_id, map_name, map_btf, map_btf_value_type_id, map_btf_vmlinux_value_type_id;
	uint64_t array_elem_size, array_value;	/* struct bpf_array */
	uint64_t btf_data, btf_data_size, btf_base_btf;	/* struct btf */
	uint64_t btf_size;		/* sizeof(struct btf) */
	uint64_t struct_ops_kvalue;	/* struct bpf_struct_ops_map.kvalue */
	/*
	 * The scheduler's programs (bpf_inventory.c, "maps tied through
	 * programs"); has_prog_ties false when any of these is missing.
	 */
	bool has_prog_ties;
	uint64_t prog_idr;		/* address of prog_idr (a struct idr) */
	uint64_t struct_ops_uvalue;	/* struct bpf_struct_ops_map.uvalue */
	uint64_t prog_aux;		/* struct bpf_prog.aux */
	uint64_t aux_id, aux_used_maps, aux_used_map_cnt;	/* struct bpf_prog_aux */
	int64_t type_array, type_percpu_array, type_struct_ops;	/* enum bpf_map_type */
	/* Hash map types; -1 where the enum lacks one. */
	int64_t type_hash, type_percpu_hash, type_lru_hash, type_lru_percpu_hash;
	struct bw_htab_layout htab;	/* htab.ok false: hash maps cannot be read */
	/* "array", "percpu_array", ...; "" where the enum has no such value. */
	char type_names[BW_BPF_MAP_TYPES_MAX][BW_BPF_MAP_TYPE_NAME_LEN];
	/* sched_ext (absent on kernels without it: has_scx false) */
	bool has_scx;
	enum bw_scx_mode scx_mode;
	uint32_t scx_ops_value_type_id;	/* "bpf_struct_ops_sched_ext_ops" */
	uint64_t scx_ops_value_data;	/* offset of .data in that type */
	uint64_t scx_ops_size;		/* sizeof(struct sched_ext_ops) */
	uint64_t scx_ops_name;		/* offsetof(struct sched_ext_ops, name) */
	uint64_t scx_sched_ops;		/* offsetof(struct scx_sched, ops), 6.16+ */
	uint32_t scx_ops_nfn;		/* function-pointer members of sched_ext_ops */
	uint32_t scx_ops_fn[BW_SCX_OPS_FN_MAX];	/* ... and their offsets */
	uint64_t scx_root_addr;		/* BW_SCX_ROOT: &scx_root */
	uint64_t scx_ops_addr;		/* BW_SCX_OPS_GLOBAL: &scx_ops */
	bool has_scx_state;		/* the enable state is among the symbols */
	uint64_t scx_state_addr;	/* the enable state atomic_t */
	int64_t scx_state_enabled;	/* SCX_ENABLED / SCX_OPS_ENABLED */
};

int bw_bpf_layout_init(struct bw_kernel *k, struct bw_bpf_layout *layout, struct bw_error *err);

struct bw_bpf_map {
	uint32_t id;
	char name[BW_BPF_NAME_LEN];	/* as the kernel keeps it (15 chars) */
	const char *full_name;		/* from the object's BTF, else == name */
	uint32_t type;
	uint32_t key_size, value_size, max_entries, flags;
	uint64_t addr;			/* struct bpf_map * in the guest */
	uint64_t btf_addr;		/* struct btf *, 0 if none */
	uint32_t btf_value_type_id;
	uint32_t btf_vmlinux_value_type_id;
	int object;			/* index in inventory->objects, -1: none */
	bool by_programs;		/* no BTF: joined the active object through its programs */
	/* ARRAY: VA of element 0 (bpf_array.value); PERCPU_ARRAY: VA of pptrs[0]. */
	uint64_t values;
	uint32_t elem_size;
};

struct bw_bpf_object {
	uint64_t btf_addr;		/* the struct btf * its maps share */
	char prefix[BW_BPF_NAME_LEN];	/* libbpf's "<prefix>.bss" rule; see bpf_inventory.c */
	unsigned int *maps;		/* indices in inventory->maps, by increasing id */
	unsigned int nmaps;
	struct btf *btf;		/* parsed on demand: bw_bpf_object_btf() */
	int btf_error;			/* <0: loading failed (message in btf_error_msg) */
	char btf_error_msg[BW_ERROR_MSG_MAX];
};

struct bw_scx_state {
	bool enabled;			/* a BPF scheduler is attached */
	uint64_t root;			/* scx_root value (6.16+), 0 otherwise */
	int64_t enable_state;		/* the raw enable state, -1 when not read */
	char ops_name[BW_SCX_NAME_LEN];
	int object;			/* its object, -1 when not found among the maps */
	int struct_ops_map;		/* its STRUCT_OPS map, -1 when not found */
	/* Why object is -1 (or why nothing could be read); NULL when all is well. */
	const char *problem;
	/* Its programs found in prog_idr, and the maps without BTF they tied to its object. */
	unsigned int programs, tied_maps;
	/* Why the program tie could not be followed; NULL when it was (or is not available). */
	const char *tie_problem;
};

struct bw_bpf_inventory {
	struct bw_bpf_map *maps;	/* by increasing id */
	unsigned int nmaps;
	struct bw_bpf_object *objects;	/* by the lowest id of their maps */
	unsigned int nobjects;
	uint32_t map_idr_next;		/* the cheap "has anything changed" check */
	struct bw_scx_state scx;
	/* IDR entries that did not read as a live map (mid-creation, torn down, garbage). */
	unsigned int nskipped;
	char skipped_msg[BW_ERROR_MSG_MAX];	/* why the first one was skipped */
	/* File offsets behind the cheap check (see bw_bpf_inventory_changed); ~0: not located. */
	uint64_t idr_next_off;
	uint64_t scx_root_off, scx_state_off;
	/* One callback word of the active ops copy, and its value (when enabled). */
	uint64_t scx_fn_off;
	uint64_t scx_fn_value;
};

/*
 * Walk map_idr, read every map, group maps into objects, find the active
 * scheduler.  An entry that does not read as a live map is skipped and
 * counted (nskipped), never an error; the IDR itself being unreadable, or
 * holding more than BW_BPF_MAX_MAPS maps, is.
 */
int bw_bpf_inventory_scan(struct bw_kernel *k, const struct bw_bpf_layout *layout,
			  struct bw_bpf_inventory **out, struct bw_error *err);
void bw_bpf_inventory_free(struct bw_bpf_inventory *inv);

/*
 * The object's BTF, read out of guest memory and parsed once (a failure is
 * remembered too: clear btf_error to try again).  Loading it also sets the
 * full_name of the object's maps.
 */
const struct btf *bw_bpf_object_btf(struct bw_kernel *k, const struct bw_bpf_layout *layout,
				    struct bw_bpf_inventory *inv, unsigned int object,
				    struct bw_error *err);

/*
 * Cheap checks for "re-scan needed": the map IDR's next id, the active
 * scheduler pointer (6.16+), the enable state and, while a scheduler
 * is attached, one callback pointer of its ops copy (a detach and an attach
 * of an already loaded STRUCT_OPS map between two checks can leave both
 * other markers as they were: same enable state, or a new scx_sched at the
 * address the old one was freed from).  Up to four loads from file
 * offsets located during the scan.  Sets *changed when any differs from
 * @inv.
 */
int bw_bpf_inventory_changed(struct bw_kernel *k, const struct bw_bpf_layout *layout,
			     const struct bw_bpf_inventory *inv, bool *changed,
			     struct bw_error *err);

/*
 * The two halves of that check: map_idr.idr_next alone (maps were added:
 * what was resolved still reads right), and the scheduler's markers (what
 * was resolved may belong to a scheduler no longer active).
 */
int bw_bpf_inventory_new_maps(struct bw_kernel *k, const struct bw_bpf_layout *layout,
			      const struct bw_bpf_inventory *inv, bool *changed,
			      struct bw_error *err);
int bw_bpf_inventory_scheduler_changed(struct bw_kernel *k, const struct bw_bpf_layout *layout,
				       const struct bw_bpf_inventory *inv, bool *changed,
				       struct bw_error *err);

/*
 * The same check as loads for the caller's own batch (so a tick that reads
 * private memory pays one system call for it and its leaves): the loads,
 * in the order the check relies on, into @loads[0..*n), *n <= 4; -EAGAIN
 * when a marker has no cached location (use the calls above).
 * bw_bpf_inventory_check_changed() then says which half of the check the
 * values loaded differ from @inv in.
 */
#define BW_INVENTORY_CHECK_LOADS 4
int bw_bpf_inventory_check_loads(const struct bw_bpf_layout *layout,
				 const struct bw_bpf_inventory *inv, struct bw_load *loads,
				 size_t *n);
void bw_bpf_inventory_check_changed(const struct bw_bpf_layout *layout,
				    const struct bw_bpf_inventory *inv, const uint64_t *values,
				    bool *new_maps, bool *scheduler_changed);

/*
 * Read only the active-scheduler state (used by scan and by the cheap
 * check): enabled, root/enable_state and ops_name; object and
 * struct_ops_map are left -1 (the scan fills them).  On a kernel without
 * sched_ext this is "not enabled", not an error.
 */
int bw_scx_read(struct bw_kernel *k, const struct bw_bpf_layout *layout,
		struct bw_scx_state *state, struct bw_error *err);

/* "array", "percpu_array", ... from the kernel's enum; "unknown" otherwise. */
const char *bw_bpf_map_type_name(const struct bw_bpf_layout *layout, uint32_t type);

/* The map of @inv with id @id, or NULL. */
const struct bw_bpf_map *bw_bpf_inventory_find_id(const struct bw_bpf_inventory *inv, uint32_t id);

#endif
