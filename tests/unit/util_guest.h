/* SPDX-License-Identifier: MIT */
/*
 * A synthetic guest: a RAM file (memfd, or a file the caller names) that
 * holds a complete x86-64 Linux kernel as bpfwatch finds one, so that the
 * real discovery path (VMCOREINFO scan -> kallsyms -> page_offset_base,
 * nr_cpu_ids, __per_cpu_offset[] -> kernel BTF) runs end to end on it.
 *
 * What is in the file, per kernel (see util_guest.c for the byte layout):
 *  - the image at PA(_text) = _text - __START_KERNEL_map + phys_base, with
 *    _text = 0xffffffff81000000 + KERNELOFFSET: text, .rodata with
 *    linux_banner, the kallsyms tables (7.x place-relative offsets, or the
 *    older kallsyms_relative_base form; 2-byte name lengths) and the BTF
 *    blob in [__start_BTF, __stop_BTF), .data with init_top_pgt,
 *    page_offset_base, vmalloc_base, nr_cpu_ids, __per_cpu_offset[],
 *    jiffies_64, map_idr, prog_idr, init_uts_ns, the per-CPU section, and
 *    .bss with scx_root;
 *  - real page tables from init_top_pgt (4- or 5-level): the text mapping
 *    in 2 MiB pages, the direct map at page_offset_base in 1 GiB pages, and
 *    a vmalloc-like area in 4 KiB pages whose pages are not contiguous;
 *  - "page allocator" memory elsewhere in RAM: the VMCOREINFO text page and
 *    its ELF-note copy, one per-CPU unit per CPU, the vmalloc pages.
 * Only what is written takes memory: a multi-GiB guest is mostly holes,
 * unless @dense asks for every page to be written.
 *
 * The truth (every address and value) is in struct test_guest_kernel, for
 * tests to compare what bpfwatch decodes against.
 *
 * Builders return 0 or a negative errno with a message and never call
 * check, so benchmarks can use them; so can test_guest_source(),
 * test_guest_find_sym(), test_guest_va_to_gpa() and the jiffies functions.
 * test_guest_sym(), test_guest_gpa() and test_guest_write_va() abort the
 * running test with ck_assert when asked for something that is not there
 * (check's asserts work only inside a running test).
 *
 * A guest can also carry BPF maps and an attached sched_ext scheduler, so
 * that the watch engine and bpfwatchd run on a kernel they discovered
 * themselves (see "BPF objects in the guest" below).
 */
#ifndef BPFWATCH_TEST_UTIL_GUEST_H
#define BPFWATCH_TEST_UTIL_GUEST_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "guest_ram.h"
#include "kallsyms.h"
#include "ram_layout.h"
#include "util_kernel.h"

#define TEST_GUEST_START_KERNEL_MAP 0xffffffff80000000ULL
/* __START_KERNEL with CONFIG_PHYSICAL_START = 16 MiB: _text without KASLR. */
#define TEST_GUEST_DEFAULT_TEXT 0xffffffff81000000ULL
/* "Choose for me" for the address options below. */
#define TEST_GUEST_AUTO UINT64_MAX
/* CONFIG_NR_CPUS of distribution kernels: the length of __per_cpu_offset[]. */
#define TEST_GUEST_NR_CPUS 8192u
#define TEST_GUEST_MAX_OVERRIDES 4
#define TEST_GUEST_VMALLOC_PAGES 4
/* vmalloc areas handed out by test_guest_vmalloc(): a few maps and BTF blobs. */
#define TEST_GUEST_MAX_VMALLOC_AREAS 32
/*
 * Each CPU's per-CPU unit is one page: the static variables (cpu_number,
 * this_cpu_off) sit below this offset, test_guest_percpu_alloc() hands
 * out the rest.
 */
#define TEST_GUEST_PERCPU_DYNAMIC 0x100

enum test_guest_layout {
	TEST_GUEST_FLAT,	/* GPA = file offset */
	TEST_GUEST_Q35,		/* QEMU q35: RAM above 2 GiB moves to 4 GiB when RAM >= 2.75 GiB */
};

enum test_guest_encoding {
	TEST_GUEST_PLACE_RELATIVE,	/* 7.0+: &kallsyms_offsets[i] + (s32)off */
	TEST_GUEST_BASE_RELATIVE,	/* 6.1..6.19: kallsyms_relative_base + (u32)off */
};

/* Address knobs of one kernel; TEST_GUEST_AUTO picks a KASLR-like value. */
struct test_guest_kaslr {
	uint64_t phys_base;		/* NUMBER(phys_base); may be "negative" */
	uint64_t kaslr_offset;		/* KERNELOFFSET: _text = 0xffffffff81000000 + it */
	uint64_t page_offset_base;	/* 1 GiB aligned */
	uint64_t vmalloc_base;		/* 1 GiB aligned */
	uint64_t heap_gpa;		/* where the page-allocator memory goes, 2 MiB aligned */
};

struct test_guest_opts {
	uint64_t ram_size;		/* bytes, a multiple of 2 MiB */
	enum test_guest_layout layout;
	const char *path;		/* NULL: a memfd; else this file is created, and removed on destroy */
	enum test_guest_encoding encoding;
	int paging_levels;		/* 4 or 5 */
	uint32_t nr_cpus;		/* nr_cpu_ids, 1..TEST_GUEST_NR_CPUS */
	uint32_t nr_filler_syms;	/* symbols besides the named ones (~200,000 in a real kernel) */
	bool dense;			/* write every page with pseudo-random bytes first */
	bool fill_text;			/* write the image's text with pseudo-random "code" */
	uint64_t seed;
	const char *btf_path;		/* raw vmlinux BTF to embed; NULL: a small writer-built one */
	const void *btf_data;		/* raw BTF bytes to embed (copied); wins over btf_path */
	size_t btf_data_size;
	/*
	 * Bytes of "slab" added to the live kernel's heap (rounded up to
	 * 2 MiB) for test_guest_kmalloc() and test_guest_vmalloc(); 0: none.
	 */
	uint64_t slab_size;
	bool keep_file;			/* test_guest_destroy() leaves the file at @path */
	struct test_guest_kaslr live;
	/*
	 * A second, complete kernel from before a guest reboot: its own KASLR,
	 * image, page tables and VMCOREINFO, and jiffies that never move.
	 */
	bool stale;
	bool stale_first;		/* its VMCOREINFO at a lower GPA than the live one's */
	struct test_guest_kaslr stale_kaslr;
	/* Ways to build a broken kernel. */
	bool no_data_symbols;		/* kallsyms as without CONFIG_KALLSYMS_ALL */
	bool no_vmcoreinfo_kallsyms;	/* VMCOREINFO as before 6.0 */
	bool no_vmcoreinfo;		/* no crash-dump support at all */
	struct {
		const char *name;	/* NULL ends the list */
		uint64_t addr;		/* the address kallsyms gives this symbol instead */
	} overrides[TEST_GUEST_MAX_OVERRIDES];
};

struct test_guest_sym {
	const char *name;
	uint64_t addr;
	char type;
};

/* The truth about one kernel in the guest. */
struct test_guest_kernel {
	char release[65];
	bool live;
	uint64_t phys_base;
	uint64_t kaslr_offset;
	uint64_t text;			/* _text (== _stext) */
	uint64_t end;			/* _end */
	uint64_t image_gpa;		/* PA of _text */
	uint64_t mapped_size;		/* text-mapped bytes from _text (2 MiB multiple) */
	uint64_t page_offset_base, vmalloc_base, vmemmap_base;
	uint64_t direct_map_size;	/* the direct map covers [0, this) */
	int paging_levels;
	uint64_t pgd_gpa;		/* init_top_pgt */
	uint32_t nr_cpu_ids;
	uint64_t *per_cpu_offset;	/* [nr_cpu_ids] */
	uint64_t percpu_start;		/* __per_cpu_start; cpu_number sits at +0x20 */
	uint64_t jiffies;		/* initial jiffies_64 */
	uint64_t jiffies_gpa;
	uint64_t vmcoreinfo_gpa;	/* the bare text page (0 with no_vmcoreinfo) */
	uint64_t vmcoreinfo_note_gpa;	/* the ELF note (two pages) */
	size_t vmcoreinfo_len;
	char vmcoreinfo[4097];
	uint64_t btf_start, btf_size;	/* __start_BTF, bytes */
	enum test_guest_encoding encoding;
	struct bw_kallsyms_tables kallsyms;	/* as VMCOREINFO exports them */
	uint32_t kallsyms_count;	/* kallsyms_num_syms */
	uint32_t nr_filler_syms;
	struct test_guest_sym *syms;	/* the named symbols (not the fillers) */
	size_t nsyms;
	uint64_t vmalloc_va;		/* TEST_GUEST_VMALLOC_PAGES pages, 4 KiB-mapped */
	uint64_t vmalloc_gpa[TEST_GUEST_VMALLOC_PAGES];
	uint64_t heap_gpa, heap_size;
	/* Areas of test_guest_vmalloc(): each physically contiguous in the slab. */
	struct {
		uint64_t va, gpa, size;
	} vmalloc_areas[TEST_GUEST_MAX_VMALLOC_AREAS];
	unsigned int nvmalloc_areas;
	/* Private to util_guest.c. */
	uint64_t filler_text_start, filler_text_stride, filler_data_start;
	uint32_t filler_text_count;
};

struct test_guest {
	int fd;
	char path[256];			/* "" for a memfd */
	uint8_t *map;			/* the whole file, writable */
	uint64_t ram_size;
	struct bw_layout_spec layout_spec;
	struct bw_layout layout;
	struct test_guest_kernel live;
	struct test_guest_kernel stale;	/* valid when has_stale */
	bool has_stale;
	uint8_t *btf;			/* the live kernel's BTF blob */
	size_t btf_size;
	bool keep_file;
	/* The live kernel's slab (opts.slab_size) and allocators over it. */
	uint64_t slab_gpa, slab_size, slab_next;
	uint64_t vmalloc_next;		/* next free vmalloc VA */
	uint64_t percpu_next;		/* next free offset in every CPU's unit */
	struct test_guest_bpf *bpf;	/* test_guest_bpf_init() */
	/* The jiffies ticker. */
	pthread_t ticker;
	bool ticking;
	volatile bool ticker_stop;
	unsigned int tick_us;
};

void test_guest_opts_init(struct test_guest_opts *opts);
int test_guest_create(const struct test_guest_opts *opts, struct test_guest **out,
		      struct bw_error *err);
/* Stops the ticker, unmaps, closes, and removes the file when a path was given. */
void test_guest_destroy(struct test_guest *g);

/* How bpfwatch opens this guest's RAM. */
struct bw_ram_source test_guest_source(const struct test_guest *g);
int test_guest_open_ram(const struct test_guest *g, struct bw_ram **out, struct bw_error *err);

/* A named symbol's address (aborts the test when there is none). */
uint64_t test_guest_sym(const struct test_guest_kernel *k, const char *name);
const struct test_guest_sym *test_guest_find_sym(const struct test_guest_kernel *k,
						 const char *name);
/* Filler symbol @i (< nr_filler_syms): its name, address and type. */
void test_guest_filler(const struct test_guest_kernel *k, uint32_t i, char *name, size_t size,
		       uint64_t *addr, char *type);

/* Writable bytes at @gpa (aborts unless all @len are RAM in one region). */
void *test_guest_gpa(struct test_guest *g, uint64_t gpa, size_t len);
/* The GPA of kernel VA @va by the truth (text mapping, direct map, vmalloc); -EFAULT if none. */
int test_guest_va_to_gpa(const struct test_guest_kernel *k, uint64_t va, uint64_t *gpa);
/* Overwrite guest memory at kernel VA @va (aborts when unmapped). */
void test_guest_write_va(struct test_guest *g, const struct test_guest_kernel *k, uint64_t va,
			 const void *buf, size_t len);

/* jiffies_64 of @k, read and written in place. */
uint64_t test_guest_jiffies(struct test_guest *g, const struct test_guest_kernel *k);
void test_guest_set_jiffies(struct test_guest *g, const struct test_guest_kernel *k,
			    uint64_t value);
/* A thread that adds 1 to the live jiffies_64 every @period_us, as a running guest does. */
int test_guest_ticker_start(struct test_guest *g, unsigned int period_us);
void test_guest_ticker_stop(struct test_guest *g);

/* Pseudo-random bytes over every page of RAM except the VMCOREINFO copies. */
int test_guest_scramble(struct test_guest *g, uint64_t seed, struct bw_error *err);

/* A System.map of @k with link-time addresses (KASLR removed), and its raw BTF. */
int test_guest_write_system_map(const struct test_guest_kernel *k, const char *path,
				struct bw_error *err);
int test_guest_write_btf(const struct test_guest *g, const char *path, struct bw_error *err);

/*
 * Kernel memory of the live kernel, from opts.slab_size: 0 or -ENOSPC.
 *  - kmalloc: zeroed bytes in the direct map (64-byte aligned);
 *  - vmalloc: zeroed pages mapped 4 KiB by 4 KiB in the vmalloc area (page
 *    tables from the slab too), a guard page after each area;
 *  - percpu: a __percpu pointer P (P + __per_cpu_offset[cpu] is CPU
 *    cpu's copy), zeroed, 8-byte aligned, from each CPU's one-page unit.
 */
int test_guest_kmalloc(struct test_guest *g, uint64_t size, uint64_t *va, struct bw_error *err);
int test_guest_vmalloc(struct test_guest *g, uint64_t size, uint64_t *va, struct bw_error *err);
int test_guest_percpu_alloc(struct test_guest *g, uint64_t size, uint64_t *ptr,
			    struct bw_error *err);

/*
 * BPF objects in the guest.
 *
 * The kernel BTF that bpfwatch's inventory needs (struct bpf_map,
 * bpf_array, btf, xarray/xa_node/idr, bpf_struct_ops_map, sched_ext_ops,
 * bpf_struct_ops_sched_ext_ops, scx_sched, enum bpf_map_type) is the one
 * util_kernel.h writes: test_guest_sched_btf() takes it, with the offsets
 * it gave each field, from a util_kernel test kernel (6.16+ sched_ext:
 * scx_root).  Give the bytes to test_guest_create() as opts.btf_data with
 * a slab, then test_guest_bpf_init() and lay out maps, object BTFs and a
 * scheduler with the functions below: util_kernel.h's tk_mem_* writers on
 * this guest's memory, so the specs, results and layouts are those of
 * tk_* on a util_kernel test kernel.  map_idr of the live kernel gets the
 * ids, scx_root the attached ops.
 *
 * These use util_btf's xarray writer and util_kernel's BTF writer, which
 * report through check: call them inside a running check test (a
 * CK_NOFORK runner is fine).  They abort the test on misuse or when the
 * slab is exhausted.
 */
struct test_guest_bpf;

/* The kernel BTF (malloc'd raw bytes, the caller frees *data) and its layout. */
void test_guest_sched_btf(void **data, size_t *size, struct tk_layout *lay,
			  struct test_btf_xa *xa);
void test_guest_bpf_init(struct test_guest *g, const struct tk_layout *lay,
			 const struct test_btf_xa *xa);
/* Copy @obj's raw BTF into the guest (vmalloc) behind a new struct btf; returns that. */
uint64_t test_guest_load_btf(struct test_guest *g, const struct btf *obj);
struct tk_map test_guest_add_map(struct test_guest *g, const struct tk_map_spec *spec);
struct tk_map test_guest_add_struct_ops(struct test_guest *g, const char *name, uint64_t btf,
					const char *ops_name, uint64_t fn_base);
/* scx_root = a new scx_sched holding a copy of @sops's ops; detach: scx_root = NULL. */
void test_guest_attach(struct test_guest *g, const struct tk_map *sops);
void test_guest_detach(struct test_guest *g);
/* tk_load_demo() for this guest: util_kernel.h's demo object, same maps, same BTF. */
void test_guest_load_demo(struct test_guest *g, const char *obj_name, const char *ops_name,
			  uint64_t fn_base, struct tk_object *out);
/* Kernel VAs of array element @index, and of CPU @cpu's copy of a per-CPU one. */
uint64_t test_guest_elem(const struct tk_map *m, uint32_t index);
uint64_t test_guest_percpu_elem(struct test_guest *g, const struct tk_map *m, uint32_t index,
				uint32_t cpu);

#endif
