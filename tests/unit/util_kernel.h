/* SPDX-License-Identifier: MIT */
/*
 * A synthetic guest kernel for unit tests: a memfd of guest RAM ("flat"
 * layout) holding real-format page tables, a kernel image with the
 * symbols bpfwatch reads (map_idr, scx_root or scx_ops and its enable
 * state, __per_cpu_offset, nr_cpu_ids, page_offset_base), slab objects in
 * the direct map, vmalloc areas mapped page by page onto scattered
 * physical pages, per-CPU chunks in vmalloc space, and a kernel BTF
 * written with libbpf's writer in the shapes of a 6.x/7.x kernel
 * (struct bpf_map, bpf_array, btf, bpf_struct_ops_map, sched_ext_ops,
 * scx_sched, xarray/idr, enum bpf_map_type, ...).  The model handed to
 * the code under test comes from bw_kernel_from_parts(); everything it
 * learns about offsets comes from that BTF.
 *
 * The test keeps a writable mapping of the same memfd, so it changes the
 * "guest" while the code under test reads it, as a running guest would.
 *
 * Every helper aborts the test (ck_assert) on misuse or exhaustion.
 */
#ifndef BPFWATCH_TEST_UTIL_KERNEL_H
#define BPFWATCH_TEST_UTIL_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include <bpf/btf.h>

#include "kernel.h"
#include "watch.h"
#include "util_btf.h"
#include "util_mem.h"

/*
 * Up to 256 CPUs: enough for benchmarks of per-CPU watches on a large host
 * (each CPU's unit takes one page-table page and one page per per-CPU
 * allocation, well inside the pools of util_kernel.c).
 */
#define TK_MAX_CPUS 256

/* Virtual layout (x86-64 4-level defaults, with the image moved by KASLR). */
#define TK_START_KERNEL_MAP	0xffffffff80000000ULL
#define TK_IMAGE_VA		0xffffffff81000000ULL
#define TK_PHYS_BASE		0x200000ULL
#define TK_PAGE_OFFSET_BASE	0xffff888000000000ULL
#define TK_VMALLOC_BASE		0xffffc90000000000ULL
#define TK_PCPU_BASE		0xffffc90010000000ULL	/* CPU 0's per-CPU unit (vmalloc) */
#define TK_PCPU_UNIT		0x400000ULL		/* one CPU's unit after another */
#define TK_PCPU_OFF0		0xffff88807d600000ULL	/* __per_cpu_offset[0] */

/* Map type numbers written into enum bpf_map_type (uapi values). */
#define TK_MAP_HASH		1
#define TK_MAP_ARRAY		2
#define TK_MAP_PERCPU_ARRAY	6
#define TK_MAP_PERCPU_HASH	5
#define TK_MAP_LRU_HASH		9
#define TK_MAP_RINGBUF		27
#define TK_MAP_STRUCT_OPS	26
#define TK_F_MMAPABLE		(1u << 10)

enum tk_scx_mode {
	TK_SCX_ROOT,		/* 6.16+: scx_root, struct scx_sched */
	TK_SCX_OPS_6_15,	/* scx_ops + scx_enable_state_var, enum scx_enable_state */
	TK_SCX_OPS_6_12,	/* scx_ops + scx_ops_enable_state_var, enum scx_ops_enable_state */
	TK_SCX_NONE,		/* a kernel without sched_ext */
};

/*
 * The kernel structures sched_ext health reads (lib/scx_health.c), in the
 * shape of one kernel line; NONE leaves them out (and scx_sched small).
 */
enum tk_health {
	TK_HEALTH_NONE,
	TK_HEALTH_6_16,		/* scx_sched.event_stats_cpu, global scx_bypass_depth, 9 events */
	TK_HEALTH_6_18,		/* scx_sched.pcpu->event_stats @0, global scx_bypass_depth */
	TK_HEALTH_7,		/* scx_sched.pcpu->event_stats @128, scx_sched.bypass_depth */
};

#define TK_HEALTH_EVENTS_MAX 12

/* Offsets written by tk_health_btf(). */
struct tk_health_layout {
	uint64_t sched_size, sched_exit_kind, sched_exit_info, sched_events, sched_bypass;
	uint64_t pcpu_size, pcpu_event_stats;	/* 6.18+ */
	unsigned int nevents;
	const char *event_names[TK_HEALTH_EVENTS_MAX];	/* "SCX_EV_..." */
	uint64_t ei_size, ei_kind, ei_code, ei_reason, ei_msg, ei_dump;
	uint64_t rq_size, rq_clock, rq_scx, scx_nr_running, scx_dsq_nr, scx_runnable_list;
	uint64_t task_size, task_pid, task_comm, task_runnable_node, task_runnable_at;
};

/* Add struct scx_sched (with @ops_type at 64 and @has_op_type at 0) and the rest. */
void tk_health_btf(struct btf *btf, enum tk_health h, int ops_type, int has_op_type,
		   struct tk_health_layout *out);

/* The printk ring's structures (tk_printk_btf), with offsets unlike the kernel's. */
struct tk_printk_layout {
	uint64_t rb_size, desc_ring, text_ring;	/* in struct printk_ringbuffer */
	uint64_t dr_count_bits, dr_descs, dr_infos, dr_head, dr_tail;
	uint64_t tr_size_bits, tr_data;
	uint64_t desc_size, desc_sv, desc_begin, desc_next;
	uint64_t info_size, info_seq, info_ts, info_len;
};

void tk_printk_btf(struct btf *btf, struct tk_printk_layout *out);

/* Callbacks of the synthetic struct sched_ext_ops (function pointers). */
#define TK_OPS_NFN 10

/* Offsets as written into the kernel BTF, for laying memory out. */
struct tk_layout {
	uint64_t map_size, map_type, map_key_size, map_value_size, map_max_entries, map_flags,
		 map_id, map_name, map_btf, map_btf_value_type_id, map_btf_vmlinux_value_type_id;
	uint64_t array_elem_size, array_value;
	uint64_t btf_size, btf_data, btf_data_size, btf_base_btf;
	uint64_t sops_size, sops_kvalue, value_data;	/* bpf_struct_ops_map, .data in the value */
	uint64_t sops_uvalue;				/* bpf_struct_ops_map.uvalue */
	uint64_t prog_size, prog_aux;			/* struct bpf_prog */
	uint64_t aux_size, aux_id, aux_used_maps, aux_used_map_cnt;	/* struct bpf_prog_aux */
	uint64_t htab_size, htab_buckets, htab_n_buckets, elem_key;	/* bpf_htab, htab_elem */
	uint64_t htab_elems, htab_elem_size;
	uint64_t ops_size, ops_name, ops_priv, ops_fn[TK_OPS_NFN];
	uint64_t sched_size, sched_ops;
	uint32_t scx_ops_value_type_id;	/* "bpf_struct_ops_sched_ext_ops" */
};

/*
 * The guest memory and kernel state the BPF object writers lay things out
 * in: this file's test kernel, or util_guest.h's synthetic guest, each
 * with its own allocators and page tables behind the callbacks.  The
 * callbacks abort the test on exhaustion or an unmapped address.
 */
struct tk_mem {
	void *ctx;
	uint64_t (*kmalloc)(void *ctx, uint64_t size);		/* direct map, zeroed */
	uint64_t (*vmalloc)(void *ctx, uint64_t size);		/* page-aligned, zeroed */
	uint64_t (*percpu_alloc)(void *ctx, uint64_t size);	/* a __percpu pointer, zeroed */
	void (*write)(void *ctx, uint64_t va, const void *buf, uint64_t len);
	void (*read)(void *ctx, uint64_t va, void *buf, uint64_t len);
	const struct tk_layout *lay;
	struct test_xa *idr;		/* map_idr, at kernel VA map_idr */
	uint64_t map_idr;
	uint32_t *next_id;		/* the id bpf_map_alloc_id() hands out next */
	enum tk_scx_mode scx;
	uint64_t scx_root, scx_ops, scx_state;	/* as in struct test_kernel */
	int64_t scx_enabled, scx_disabled;
	uint32_t nr_cpus;
	const uint64_t *per_cpu_offset;	/* [nr_cpus] */
	uint32_t sops_value_size;	/* value_size of a STRUCT_OPS map */
	uint64_t ops_flags;		/* sched_ext_ops.flags of a new STRUCT_OPS map */
};

struct test_kernel {
	int fd;
	uint8_t *ram;			/* writable view of guest RAM */
	uint64_t ram_size;
	struct bw_ram *bw_ram;
	struct bw_kernel *k;		/* the model under test */
	struct tk_layout lay;
	enum tk_scx_mode scx;
	enum tk_health health;
	struct tk_health_layout hlay;
	uint64_t runqueues, jiffies, bypass_depth;	/* health symbols (0: none) */
	bool printk;
	struct tk_printk_layout plog;
	uint64_t prb;				/* the symbol prb (0: none) */
	uint32_t nr_cpus;
	uint64_t per_cpu_offset[TK_MAX_CPUS];
	/* symbols */
	uint64_t map_idr, scx_root, scx_ops, scx_state;
	int64_t scx_enabled, scx_disabled;
	/* map_idr, built with util_btf's real-format xarray writer */
	struct test_mem *alias;		/* test_mem views of the image and slab in RAM */
	struct test_xa idr;
	uint32_t next_id;
	/* prog_idr, the same way */
	uint64_t prog_idr;
	struct test_xa prog_xa;
	uint32_t next_prog_id;
	/* allocators */
	uint64_t pt_next, slab_next, image_next, vpool_count, vmalloc_next, pcpu_next;
	uint64_t pgd;
	struct tk_mem mem;		/* this kernel, for the object writers */
};

struct tk_opts {
	uint32_t nr_cpus;		/* 1..TK_MAX_CPUS; 0 means 4 */
	enum tk_scx_mode scx;
	/* TK_SCX_ROOT without scx_enable_state_var among the symbols. */
	bool no_scx_state;
	enum tk_health health;		/* with TK_SCX_ROOT */
	bool printk;			/* the printk ring's types and the symbol prb */
	/* Read the RAM as private memory of this process (process_vm_readv). */
	bool private_ram;
};

/* A per-CPU allocation of this kernel: the __percpu pointer, zeroed copies. */
uint64_t tk_percpu_alloc(struct test_kernel *tk, uint64_t size);

/* A booted synthetic kernel: tk->k is ready.  Free with tk_free(). */
struct test_kernel *tk_new(const struct tk_opts *opts);
void tk_free(struct test_kernel *tk);

/* Guest memory. */
uint64_t tk_kmalloc(struct test_kernel *tk, uint64_t size);	/* direct map, zeroed */
uint64_t tk_vmalloc(struct test_kernel *tk, uint64_t size);	/* page-aligned, 4K pages */
void tk_write(struct test_kernel *tk, uint64_t va, const void *buf, uint64_t len);
void tk_read(struct test_kernel *tk, uint64_t va, void *buf, uint64_t len);
void tk_put(struct test_kernel *tk, uint64_t va, uint64_t value, unsigned int width);
uint64_t tk_get(struct test_kernel *tk, uint64_t va, unsigned int width);
/* Clear the PTE of @va's 4 KiB page (vmalloc/per-CPU space only). */
void tk_unmap(struct test_kernel *tk, uint64_t va);

/* BPF objects in the guest. */
struct tk_map_spec {
	const char *name;		/* cut to 15 characters, as the kernel does */
	uint32_t type;			/* TK_MAP_* */
	uint32_t key_size, value_size, max_entries, flags;
	uint64_t btf;			/* struct btf * or 0 */
	uint32_t btf_value_type_id, btf_vmlinux_value_type_id;
	bool vmalloc;			/* an mmapable array: values page-aligned in vmalloc */
};

struct tk_map {
	uint64_t addr;			/* struct bpf_map * */
	uint32_t id;
	uint32_t type, elem_size, max_entries;
	uint64_t values;		/* ARRAY: &value[0]; PERCPU_ARRAY: &pptrs[0] */
};

/* The tk_* object writers below, on any struct tk_mem. */
uint64_t tk_mem_load_btf(const struct tk_mem *mem, const struct btf *obj, bool vmalloc);
struct tk_map tk_mem_add_map(const struct tk_mem *mem, const struct tk_map_spec *spec);
struct tk_map tk_mem_add_struct_ops(const struct tk_mem *mem, const char *name, uint64_t btf,
				    const char *ops_name, uint64_t fn_base);
void tk_mem_attach(const struct tk_mem *mem, const struct tk_map *sops);
void tk_mem_detach(const struct tk_mem *mem);
uint64_t tk_mem_percpu_elem(const struct tk_mem *mem, const struct tk_map *m, uint32_t index,
			    uint32_t cpu);

/* Copy @obj's raw BTF into guest memory behind a new struct btf; returns the struct btf *. */
uint64_t tk_load_btf(struct test_kernel *tk, const struct btf *obj, bool vmalloc);
struct tk_map tk_add_map(struct test_kernel *tk, const struct tk_map_spec *spec);
/*
 * A sched_ext STRUCT_OPS map whose kernel value holds "trampolines"
 * @fn_base + i * 0x100 for the callbacks it implements (a few stay NULL, as
 * in a real scheduler) and ops name @ops_name.
 */
struct tk_map tk_add_struct_ops(struct test_kernel *tk, const char *name, uint64_t btf,
				const char *ops_name, uint64_t fn_base);
/* Attach: copy the map's kernel value where the kernel keeps the active ops. */
void tk_attach(struct test_kernel *tk, const struct tk_map *sops);
void tk_detach(struct test_kernel *tk);
/* bpf_map_free_id(): the IDR entry goes and map->id becomes 0. */
void tk_free_map(struct test_kernel *tk, const struct tk_map *m);
/*
 * A struct_ops program in prog_idr (its struct bpf_prog and bpf_prog_aux,
 * aux->used_maps = @maps[0..n), struct bpf_map pointers) serving callback
 * @fn (< TK_OPS_NFN) of @sops: its id goes into the map's uvalue at that
 * callback, as bpf_struct_ops_map_update_elem() writes it.  @sops NULL:
 * a program of no struct_ops map.  Returns the program's id; *aux gets its
 * bpf_prog_aux (may be NULL).
 */
uint32_t tk_add_prog(struct test_kernel *tk, const struct tk_map *sops, unsigned int fn,
		     const uint64_t *maps, unsigned int n, uint64_t *aux);
/*
 * A hash map (HASH, PERCPU_HASH or LRU_HASH) laid out as kernel/bpf/hashtab.c
 * does: struct bpf_htab, n_buckets = roundup_pow_of_two(max_entries)
 * buckets of hlist_nulls heads, preallocated elements (kmalloc'd, or
 * vmalloc'd with spec->vmalloc).  Entries go into bucket key % n_buckets
 * (the real hash does not matter to a reader that walks every bucket).
 */
struct tk_hash {
	struct tk_map map;
	uint64_t buckets, elems;
	uint32_t n_buckets, elem_size, key_size, value_size;
	bool percpu;
	uint8_t *free;			/* element slots in use (malloc'd: the caller frees it) */
};

struct tk_hash tk_add_hash(struct test_kernel *tk, const struct tk_map_spec *spec);
/* Insert @key (its value zeroed: a new per-CPU value for a per-CPU map); returns the element. */
uint64_t tk_hash_insert(struct test_kernel *tk, struct tk_hash *h, uint64_t key);
void tk_hash_delete(struct test_kernel *tk, struct tk_hash *h, uint64_t key);
/* VA of the value of element @elem (on CPU @cpu for a per-CPU map). */
uint64_t tk_hash_value(struct test_kernel *tk, const struct tk_hash *h, uint64_t elem,
		       uint32_t cpu);
/* Store a raw entry at @id in map_idr (garbage tests). */
void tk_idr_store(struct test_kernel *tk, uint32_t id, uint64_t entry);

/* Where values live. */
uint64_t tk_elem(struct test_kernel *tk, const struct tk_map *m, uint32_t index);
uint64_t tk_percpu_elem(struct test_kernel *tk, const struct tk_map *m, uint32_t index,
			uint32_t cpu);

/*
 * The demo object's BTF, shaped like tests/scheduler/bw_demo.h (a subset):
 *
 *   .bss (80 bytes)
 *     struct bw_stats stats @0   { struct { u64 enqueues @0; u64 dispatches @8; } ops;
 *                                  u64 ticks @16; }
 *     struct bw_state state @24  { s32 gauge @0; s32 fixed_neg @4; s16 neg16 @8;
 *                                  s8 neg8 @10; u8 small @11; bool enabled @12;
 *                                  enum bw_mode mode @16;
 *                                  union { u64 word; struct { u32 lo; u32 hi; }; } @24;
 *                                  struct bw_bits bits @32 { u32 ver_major:4 (bit 0),
 *                                    ver_minor:6 (bit 4); s32 neg_bits:5 (bit 10);
 *                                    u32 tick_mod:6 (bit 15), armed:1 (bit 21) };
 *                                  s64 drift @40; }
 *     u64 ident @72
 *   .data (4104 bytes): u64 data_magic @0, u64 data_counter @8,
 *     u32 odd @4094 (unaligned, across a page boundary of the value)
 *   struct bw_cpu_stat { u64 runs; s64 gauge; u64 ticks; }            24 bytes
 *   struct bw_slot { u32 id; u32 weight; u64 hits; s32 delta; u32 pad; } 24 bytes
 *   struct bw_ctx_acc { u64 switches; u32 last_pid; s32 cpu; }         16 bytes
 *   .maps: cpu_stats, slots, cpu_ctx_stor_acc (the kernel keeps "cpu_ctx_stor_ac")
 */
#define TK_BSS_SIZE 80
#define TK_BSS_ENQUEUES 0
#define TK_BSS_DISPATCHES 8
#define TK_BSS_TICKS 16
#define TK_BSS_STATE 24
#define TK_STATE_GAUGE (TK_BSS_STATE + 0)
#define TK_STATE_FIXED_NEG (TK_BSS_STATE + 4)
#define TK_STATE_NEG16 (TK_BSS_STATE + 8)
#define TK_STATE_NEG8 (TK_BSS_STATE + 10)
#define TK_STATE_SMALL (TK_BSS_STATE + 11)
#define TK_STATE_ENABLED (TK_BSS_STATE + 12)
#define TK_STATE_MODE (TK_BSS_STATE + 16)
#define TK_STATE_WORD (TK_BSS_STATE + 24)
#define TK_STATE_BITS (TK_BSS_STATE + 32)
#define TK_STATE_DRIFT (TK_BSS_STATE + 40)
#define TK_BSS_IDENT 72
#define TK_DATA_SIZE 4104
#define TK_DATA_MAGIC 0
#define TK_DATA_COUNTER 8
#define TK_DATA_ODD 4094
#define TK_NR_SLOTS 4
#define TK_MAX_CTX 8

struct tk_demo_btf {
	struct btf *btf;
	int bss, data, cpu_stat, slot, ctx_acc;	/* value type ids */
};

/* A new object BTF (the caller frees it with btf__free). */
void tk_demo_btf_new(struct tk_demo_btf *d);

/* A whole demo object in the guest, with maps named after @obj_name. */
struct tk_object {
	uint64_t btf;			/* struct btf * */
	struct tk_map bss, data, cpu_stats, slots, ctx_acc;
	struct tk_map ops;		/* STRUCT_OPS, when asked for (else addr 0) */
};

/*
 * Load the demo object: BTF, "<obj_name cut to 8>.bss" and ".data"
 * (mmapable, vmalloc), cpu_stats (PERCPU_ARRAY, 1 entry), slots (ARRAY, 4),
 * cpu_ctx_stor_acc (ARRAY, 8) and, when @ops_name is not NULL, the
 * STRUCT_OPS map "<ops_name>_ops" with trampolines from @fn_base.
 */
void tk_load_demo(struct test_kernel *tk, const char *obj_name, const char *ops_name,
		  uint64_t fn_base, struct tk_object *out);
void tk_mem_load_demo(const struct tk_mem *mem, const char *obj_name, const char *ops_name,
		      uint64_t fn_base, struct tk_object *out);

/* A watch set holding @ws[0..n), each added as it is (aborts on a refusal). */
struct bw_watch_set *tk_watch_set(const struct bw_watch *ws, size_t n);

#endif
