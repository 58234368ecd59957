/* SPDX-License-Identifier: MIT */
/*
 * The model of a guest's running Linux kernel, built from its RAM alone
 * (VMCOREINFO -> kallsyms -> BTF) or with user-supplied vmlinux /
 * System.map + BTF files: where its symbols are, how its virtual addresses
 * translate, its per-CPU areas and the layout of its structs.
 */
#ifndef BPFWATCH_KERNEL_H
#define BPFWATCH_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "addrspace.h"
#include "error.h"
#include "symtab.h"

struct btf;
struct bw_ram;
struct bw_kernel;

enum bw_kernel_source {
	BW_KERNEL_FROM_VMCOREINFO,	/* kallsyms + BTF decoded out of guest RAM */
	BW_KERNEL_FROM_FILES,		/* vmlinux, or System.map + BTF, from the user */
};

struct bw_kernel_files {
	const char *vmlinux;	/* ELF with .symtab and .BTF */
	const char *system_map;	/* with btf */
	const char *btf;	/* raw BTF (/sys/kernel/btf/vmlinux copy) or ELF */
};

int bw_kernel_open(struct bw_ram *ram, const struct bw_kernel_files *files,
		   struct bw_kernel **out, struct bw_error *err);
void bw_kernel_free(struct bw_kernel *k);

/* Kernel virtual memory: text mapping, direct map, or a page-table walk. */
struct bw_addrspace bw_kernel_addrspace(struct bw_kernel *k);
int bw_kernel_read(struct bw_kernel *k, uint64_t va, void *buf, size_t len, struct bw_error *err);
int bw_kernel_translate(struct bw_kernel *k, uint64_t va, uint64_t *gpa, struct bw_error *err);
/* Forget cached translations (the guest changed its page tables). */
void bw_kernel_flush_translations(struct bw_kernel *k);
struct bw_ram *bw_kernel_ram(struct bw_kernel *k);

/* -ENOENT with a message naming the symbol when absent. */
int bw_kernel_symbol(const struct bw_kernel *k, const char *name, uint64_t *addr,
		     struct bw_error *err);
const struct bw_symtab *bw_kernel_symtab(const struct bw_kernel *k);

/* The kernel's own BTF (vmlinux), parsed by libbpf. */
const struct btf *bw_kernel_btf(const struct bw_kernel *k);

uint32_t bw_kernel_nr_cpu_ids(const struct bw_kernel *k);
/* __per_cpu_offset[cpu]; cpu < nr_cpu_ids. */
uint64_t bw_kernel_per_cpu_offset(const struct bw_kernel *k, uint32_t cpu);

struct bw_kernel_info {
	enum bw_kernel_source source;
	char release[65];
	uint64_t kaslr_offset;
	uint64_t phys_base;
	uint64_t page_offset_base;
	int paging_levels;
	uint32_t nr_cpu_ids;
	uint64_t btf_size;
	uint64_t kallsyms_count;	/* symbols known (kallsyms or file) */
	const char *kallsyms_encoding;	/* NULL when symbols came from a file */
	uint64_t vmcoreinfo_gpa;	/* 0 when VMCOREINFO was not found */
	/* per-CPU areas read back through this_cpu_off: checked, and wrong or unreadable */
	uint32_t percpu_checked, percpu_bad;
	char percpu_bad_msg[BW_ERROR_MSG_MAX];
};

void bw_kernel_get_info(const struct bw_kernel *k, struct bw_kernel_info *info);

/*
 * A kernel model from facts the caller already has (a VMM that knows its
 * guest, or a test that laid one out): no VMCOREINFO scan, no kallsyms.
 * Takes ownership of @symtab and @btf, also on failure.
 */
struct bw_kernel_parts {
	const char *release;
	uint64_t phys_base;
	uint64_t kaslr_offset;
	uint64_t page_offset_base;	/* 0: no direct-map shortcut, walk instead */
	uint64_t pgd_gpa;		/* GPA of the top-level page table */
	int paging_levels;		/* 4 or 5 */
	uint64_t image_start, image_end;	/* kernel text mapping window */
	struct bw_symtab *symtab;
	struct btf *btf;
	uint32_t nr_cpu_ids;
	const uint64_t *per_cpu_offset;	/* nr_cpu_ids entries */
};

int bw_kernel_from_parts(struct bw_ram *ram, const struct bw_kernel_parts *parts,
			 struct bw_kernel **out, struct bw_error *err);

#endif
