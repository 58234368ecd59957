/* SPDX-License-Identifier: MIT */
/*
 * Building the kernel model.
 *
 * Self-discovery, in order (DESIGN.md "Locating the guest kernel"):
 *  1. Scan guest RAM for VMCOREINFO.  It gives phys_base, KERNELOFFSET,
 *     SYMBOL(init_top_pgt), the paging depth, and (kernels >= 6.0) the
 *     addresses of the kallsyms tables.
 *  2. Read the kernel image through the text mapping:
 *     pa = va - __START_KERNEL_map + phys_base.  Decode kallsyms there.
 *  3. From kallsyms: page_offset_base (the randomized direct-map base),
 *     nr_cpu_ids, __per_cpu_offset[], and [__start_BTF, __stop_BTF), the
 *     kernel's own BTF, parsed with libbpf.
 * With user files (vmlinux, or System.map + BTF) the symbols and BTF come
 * from the files, relocated by VMCOREINFO's KERNELOFFSET when there is one.
 *
 * Afterwards a kernel virtual address is read by the cheapest correct rule:
 * the text mapping for [_text, _end), the direct map for
 * [page_offset_base, +max physical memory), a page-table walk otherwise
 * (vmalloc, per-CPU chunks, mmapable BPF arrays).
 *
 * A guest that rebooted may still hold the previous kernel's VMCOREINFO
 * page and image in RAM: every copy is tried, and when several different
 * kernels decode, the one whose jiffies advance is the running one.
 */
#include "kernel.h"

#include <bpf/btf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "btf_check.h"
#include "btf_layout.h"
#include "guest_ram.h"
#include "kallsyms.h"
#include "pagetable.h"
#include "vmcoreinfo.h"

#define START_KERNEL_MAP 0xffffffff80000000ULL
/* __START_KERNEL with the default CONFIG_PHYSICAL_START of 16 MiB. */
#define DEFAULT_START_KERNEL 0xffffffff81000000ULL
/* KERNEL_IMAGE_SIZE with RANDOMIZE_BASE; used until _end is known. */
#define DEFAULT_KERNEL_IMAGE_SIZE (1ULL << 30)
/*
 * MAX_PHYSMEM_BITS: the most the direct map can span from page_offset_base.
 * With memory KASLR the region is cut to RAM + CONFIG_RANDOMIZE_MEMORY_
 * PHYSICAL_PADDING (10 TiB, or 0 without memory hotplug) and vmalloc_base
 * follows it (arch/x86/mm/kaslr.c kernel_randomize_memory()), so only the
 * guest's RAM, not this whole span, may take the direct-map shortcut.
 */
#define DIRECT_MAP_BITS_4LEVEL 46
#define DIRECT_MAP_BITS_5LEVEL 52
/* CONFIG_NR_CPUS is at most 8192 on x86-64. */
#define MAX_NR_CPU_IDS 8192
/* vmlinux BTF is ~5 MiB on distro kernels; refuse absurd ranges. */
#define MAX_KERNEL_BTF_SIZE (64ULL << 20)
/* VMCOREINFO copies considered: note, data page, safecopy, stale ones. */
#define MAX_VMCOREINFO_CANDIDATES 8
/*
 * How long to watch jiffies when two kernels decode (only after a reboot
 * left the old one in RAM).  An idle tickless guest may not move jiffies
 * for a while; the wait ends as soon as one moves.
 */
#define LIVENESS_WAIT_NS (1000 * 1000 * 1000)

struct bw_kernel {
	struct bw_ram *ram;
	struct bw_addrspace phys;
	struct bw_pagetable pt;
	struct bw_kernel_info info;
	struct bw_symtab *symtab;
	struct btf *btf;
	uint64_t image_start, image_end;	/* text mapping window */
	uint64_t direct_map_end;		/* 0: no direct-map shortcut yet */
	uint64_t *per_cpu_offset;
};

/* End of the direct-map window: page_offset_base + the end of guest RAM. */
static uint64_t direct_map_end(const struct bw_kernel *k, uint64_t base, int levels)
{
	const struct bw_layout *layout = bw_ram_layout(k->ram);
	uint64_t span = 0, max = 1ULL << (levels == 5 ? DIRECT_MAP_BITS_5LEVEL :
					  DIRECT_MAP_BITS_4LEVEL);

	for (unsigned int i = 0; i < layout->nregions; i++) {
		uint64_t end = layout->regions[i].gpa + layout->regions[i].size;

		if (end > span)
			span = end;
	}
	if (span > max)
		span = max;
	return base + span < base ? UINT64_MAX : base + span;
}

static int text_to_phys(const struct bw_kernel *k, uint64_t va, size_t len, uint64_t *pa)
{
	if (va < k->image_start || va >= k->image_end || len > k->image_end - va)
		return -ERANGE;
	*pa = va - START_KERNEL_MAP + k->info.phys_base;
	return 0;
}

int bw_kernel_translate(struct bw_kernel *k, uint64_t va, uint64_t *gpa, struct bw_error *err)
{
	if (text_to_phys(k, va, 1, gpa) == 0)
		return 0;
	if (k->direct_map_end && va >= k->info.page_offset_base && va < k->direct_map_end) {
		*gpa = va - k->info.page_offset_base;
		return 0;
	}
	return bw_pt_translate(&k->pt, va, gpa, NULL, err);
}

int bw_kernel_read(struct bw_kernel *k, uint64_t va, void *buf, size_t len, struct bw_error *err)
{
	uint8_t *dst = buf;
	uint64_t pa;
	int r;

	if (va + len < va)
		return bw_error_set(err, -EFAULT, "read of %zu bytes at %#" PRIx64 " wraps around",
				    len, va);
	if (text_to_phys(k, va, len, &pa) == 0)
		return bw_ram_read(k->ram, pa, buf, len, err);
	if (k->direct_map_end && va >= k->info.page_offset_base && va < k->direct_map_end &&
	    len <= k->direct_map_end - va)
		return bw_ram_read(k->ram, va - k->info.page_offset_base, buf, len, err);
	/* Page by page: consecutive virtual pages need not be contiguous. */
	while (len > 0) {
		uint64_t page_size, chunk;

		r = bw_pt_translate(&k->pt, va, &pa, &page_size, err);
		if (r < 0)
			return r;
		chunk = page_size - (va & (page_size - 1));
		if (chunk > len)
			chunk = len;
		r = bw_ram_read(k->ram, pa, dst, chunk, err);
		if (r < 0)
			return r;
		dst += chunk;
		va += chunk;
		len -= chunk;
	}
	return 0;
}

static int kernel_as_read(void *ctx, uint64_t addr, void *buf, size_t len, struct bw_error *err)
{
	return bw_kernel_read(ctx, addr, buf, len, err);
}

struct bw_addrspace bw_kernel_addrspace(struct bw_kernel *k)
{
	return (struct bw_addrspace){ .read = kernel_as_read, .ctx = k };
}

void bw_kernel_flush_translations(struct bw_kernel *k) { bw_pt_flush(&k->pt); }
struct bw_ram *bw_kernel_ram(struct bw_kernel *k) { return k->ram; }
const struct bw_symtab *bw_kernel_symtab(const struct bw_kernel *k) { return k->symtab; }
const struct btf *bw_kernel_btf(const struct bw_kernel *k) { return k->btf; }
uint32_t bw_kernel_nr_cpu_ids(const struct bw_kernel *k) { return k->info.nr_cpu_ids; }

uint64_t bw_kernel_per_cpu_offset(const struct bw_kernel *k, uint32_t cpu)
{
	return cpu < k->info.nr_cpu_ids ? k->per_cpu_offset[cpu] : 0;
}

void bw_kernel_get_info(const struct bw_kernel *k, struct bw_kernel_info *info)
{
	*info = k->info;
}

int bw_kernel_symbol(const struct bw_kernel *k, const char *name, uint64_t *addr,
		     struct bw_error *err)
{
	const struct bw_symbol *sym = bw_symtab_lookup(k->symtab, name);

	if (!sym)
		return bw_error_set(err, -ENOENT, "kernel symbol %s not found", name);
	*addr = sym->addr;
	return 0;
}

void bw_kernel_free(struct bw_kernel *k)
{
	if (!k)
		return;
	bw_symtab_free(k->symtab);
	btf__free(k->btf);
	free(k->per_cpu_offset);
	free(k);
}

static bool canonical_kernel_va(uint64_t va)
{
	return va >= 0xff00000000000000ULL;
}

/* Paging setup and the text-mapping window from one VMCOREINFO copy. */
static int setup_from_vmcoreinfo(struct bw_kernel *k, const struct bw_vmcoreinfo *vi,
				 struct bw_error *err)
{
	int64_t phys_base, l5 = 0, sme_mask = 0, image_size = 0;
	uint64_t pgd, kaslr = 0, pgd_pa;

	if (bw_vmcoreinfo_number(vi, "phys_base", &phys_base) < 0)
		return bw_error_set(err, -ENOENT, "VMCOREINFO at %#" PRIx64
				    " has no NUMBER(phys_base)", vi->gpa);
	if (bw_vmcoreinfo_symbol(vi, "init_top_pgt", &pgd) < 0 &&
	    bw_vmcoreinfo_symbol(vi, "swapper_pg_dir", &pgd) < 0)
		return bw_error_set(err, -ENOENT, "VMCOREINFO at %#" PRIx64
				    " has neither SYMBOL(init_top_pgt) nor SYMBOL(swapper_pg_dir)",
				    vi->gpa);
	bw_vmcoreinfo_number(vi, "pgtable_l5_enabled", &l5);
	bw_vmcoreinfo_number(vi, "sme_mask", &sme_mask);
	bw_vmcoreinfo_number(vi, "KERNEL_IMAGE_SIZE", &image_size);
	bw_vmcoreinfo_kerneloffset(vi, &kaslr);
	if (image_size <= 0 || (uint64_t)image_size > DEFAULT_KERNEL_IMAGE_SIZE)
		image_size = DEFAULT_KERNEL_IMAGE_SIZE;

	snprintf(k->info.release, sizeof(k->info.release), "%s", vi->osrelease);
	k->info.phys_base = (uint64_t)phys_base;
	k->info.kaslr_offset = kaslr;
	k->info.paging_levels = l5 ? 5 : 4;
	k->info.vmcoreinfo_gpa = vi->gpa;
	k->image_start = START_KERNEL_MAP;
	k->image_end = START_KERNEL_MAP + (uint64_t)image_size;
	if (text_to_phys(k, pgd, 4096, &pgd_pa) < 0)
		return bw_error_set(err, -ERANGE, "SYMBOL(init_top_pgt)=%#" PRIx64
				    " is outside the kernel text mapping", pgd);
	bw_pt_init(&k->pt, k->phys, pgd_pa, k->info.paging_levels, (uint64_t)sme_mask);
	return 0;
}

static int decode_kallsyms(struct bw_kernel *k, const struct bw_vmcoreinfo *vi,
			   struct bw_error *err)
{
	struct bw_kallsyms_tables t = { 0 };
	struct bw_kallsyms_info kinfo;
	struct bw_addrspace kva = bw_kernel_addrspace(k);
	int r;

	if (bw_vmcoreinfo_symbol(vi, "kallsyms_names", &t.names) < 0 ||
	    bw_vmcoreinfo_symbol(vi, "kallsyms_num_syms", &t.num_syms) < 0 ||
	    bw_vmcoreinfo_symbol(vi, "kallsyms_token_table", &t.token_table) < 0 ||
	    bw_vmcoreinfo_symbol(vi, "kallsyms_token_index", &t.token_index) < 0)
		return bw_error_set(err, -ENOENT,
				    "VMCOREINFO has no kallsyms tables (kernel %s is older than 6.0 "
				    "or built without CONFIG_KALLSYMS); give --vmlinux, or "
				    "--system-map and --btf", vi->osrelease);
	bw_vmcoreinfo_symbol(vi, "kallsyms_offsets", &t.offsets);
	bw_vmcoreinfo_symbol(vi, "kallsyms_relative_base", &t.relative_base);
	bw_vmcoreinfo_symbol(vi, "kallsyms_addresses", &t.addresses);
	if (bw_vmcoreinfo_symbol(vi, "_stext", &t.stext) < 0)
		return bw_error_set(err, -ENOENT, "VMCOREINFO has no SYMBOL(_stext)");
	r = bw_kallsyms_load(&kva, &t, &k->symtab, &kinfo, err);
	if (r < 0)
		return r;
	k->info.kallsyms_count = kinfo.count;
	k->info.kallsyms_encoding = bw_kallsyms_encoding_name(kinfo.encoding);
	return 0;
}

/* Narrow the text-mapping window to the real image once _text/_end are known. */
static void narrow_image_window(struct bw_kernel *k)
{
	const struct bw_symbol *text = bw_symtab_lookup(k->symtab, "_text");
	const struct bw_symbol *end = bw_symtab_lookup(k->symtab, "_end");

	if (text && end && text->addr >= START_KERNEL_MAP && end->addr > text->addr &&
	    end->addr - START_KERNEL_MAP <= k->image_end - START_KERNEL_MAP) {
		k->image_start = text->addr;
		k->image_end = end->addr;
	}
}

static int read_symbol_u64(struct bw_kernel *k, const char *name, uint64_t *out,
			   struct bw_error *err)
{
	uint64_t addr = 0;
	int r = bw_kernel_symbol(k, name, &addr, err);

	if (r < 0)
		return r;
	r = bw_kernel_read(k, addr, out, sizeof(*out), err);
	if (r < 0)
		return bw_error_prefix(err, "reading %s", name);
	return 0;
}

static int need_data_symbols(struct bw_kernel *k, struct bw_error *err)
{
	static const char *const needed[] = { "map_idr", "__per_cpu_offset", "__start_BTF" };

	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!bw_symtab_lookup(k->symtab, needed[i]))
			return bw_error_set(err, -ENOENT,
					    "kernel symbols have no %s: kernel %s was built without "
					    "CONFIG_KALLSYMS_ALL (data symbols); give --vmlinux, or "
					    "--system-map and --btf", needed[i], k->info.release);
	}
	return 0;
}

static int read_direct_map_base(struct bw_kernel *k, struct bw_error *err)
{
	uint64_t base;
	int r = read_symbol_u64(k, "page_offset_base", &base, err);

	if (r < 0)
		return r;
	/* CONFIG_RANDOMIZE_MEMORY keeps it PUD (1 GiB) aligned, in the upper half. */
	if (!canonical_kernel_va(base) || (base & ((1ULL << 30) - 1)))
		return bw_error_set(err, -EINVAL, "page_offset_base=%#" PRIx64
				    " is not a 1 GiB-aligned kernel address", base);
	k->info.page_offset_base = base;
	k->direct_map_end = direct_map_end(k, base, k->info.paging_levels);
	return 0;
}

/*
 * Does every CPU's per-CPU area read back as itself?  x86-64 keeps each
 * CPU's own __per_cpu_offset in its per-CPU this_cpu_off
 * (arch/x86/kernel/setup_percpu.c), so a wrong layout or a missing
 * backend (a NUMA node's RAM) shows as a CPU whose copy is unreadable or
 * holds another number.  Without the symbol nothing is checked.
 */
static void check_percpu_areas(struct bw_kernel *k)
{
	const struct bw_symbol *sym = bw_symtab_lookup(k->symtab, "this_cpu_off");

	k->info.percpu_checked = 0;
	k->info.percpu_bad = 0;
	k->info.percpu_bad_msg[0] = '\0';
	if (!sym)
		return;
	for (uint32_t cpu = 0; cpu < k->info.nr_cpu_ids; cpu++) {
		struct bw_error e = { 0 };
		uint64_t off = k->per_cpu_offset[cpu], v = 0;

		k->info.percpu_checked++;
		if (bw_kernel_read(k, sym->addr + off, &v, sizeof(v), &e) == 0 && v == off)
			continue;
		if (k->info.percpu_bad++ == 0) {
			if (e.code)
				snprintf(k->info.percpu_bad_msg, sizeof(k->info.percpu_bad_msg),
					 "CPU %u's per-CPU area: %.460s", cpu, e.msg);
			else
				snprintf(k->info.percpu_bad_msg, sizeof(k->info.percpu_bad_msg),
					 "CPU %u's per-CPU area reads this_cpu_off=%#" PRIx64
					 ", not its offset %#" PRIx64, cpu, v, off);
		}
	}
}

static int read_cpus(struct bw_kernel *k, struct bw_error *err)
{
	uint64_t addr = 0;
	uint32_t n;
	int r;

	r = bw_kernel_symbol(k, "nr_cpu_ids", &addr, err);
	if (r < 0)
		return bw_error_prefix(err, "kernel built with CONFIG_FORCE_NR_CPUS?");
	r = bw_kernel_read(k, addr, &n, sizeof(n), err);
	if (r < 0)
		return bw_error_prefix(err, "reading nr_cpu_ids");
	if (n == 0 || n > MAX_NR_CPU_IDS)
		return bw_error_set(err, -EINVAL, "nr_cpu_ids=%u is outside 1..%d", n,
				    MAX_NR_CPU_IDS);
	r = bw_kernel_symbol(k, "__per_cpu_offset", &addr, err);
	if (r < 0)
		return r;
	k->per_cpu_offset = calloc(n, sizeof(*k->per_cpu_offset));
	if (!k->per_cpu_offset)
		return bw_error_set(err, -ENOMEM, "out of memory");
	r = bw_kernel_read(k, addr, k->per_cpu_offset, n * sizeof(*k->per_cpu_offset), err);
	if (r < 0)
		return bw_error_prefix(err, "reading __per_cpu_offset[%u]", n);
	k->info.nr_cpu_ids = n;
	check_percpu_areas(k);
	return 0;
}

static int read_kernel_btf(struct bw_kernel *k, struct bw_error *err)
{
	uint64_t start = 0, stop = 0;
	void *data;
	int r;

	r = bw_kernel_symbol(k, "__start_BTF", &start, err);
	if (r < 0)
		return r;
	r = bw_kernel_symbol(k, "__stop_BTF", &stop, err);
	if (r < 0)
		return r;
	if (stop <= start || stop - start > MAX_KERNEL_BTF_SIZE)
		return bw_error_set(err, -EINVAL, "kernel BTF range [%#" PRIx64 ", %#" PRIx64
				    ") is empty or larger than %llu MiB", start, stop,
				    MAX_KERNEL_BTF_SIZE >> 20);
	data = malloc(stop - start);
	if (!data)
		return bw_error_set(err, -ENOMEM, "out of memory for %" PRIu64 " bytes of BTF",
				    stop - start);
	r = bw_kernel_read(k, start, data, stop - start, err);
	if (r < 0) {
		free(data);
		return bw_error_prefix(err, "reading the kernel's BTF");
	}
	r = bw_btf_parse(data, stop - start, NULL, &k->btf, err);
	free(data);
	if (r < 0)
		return bw_error_prefix(err, "the kernel's BTF (%" PRIu64 " bytes at %#" PRIx64 ")",
				       stop - start, start);
	k->info.btf_size = stop - start;
	return 0;
}

/* Everything after the symbols: the same for every source. */
static int finish_model(struct bw_kernel *k, struct bw_error *err)
{
	int r;

	narrow_image_window(k);
	r = need_data_symbols(k, err);
	if (r < 0)
		return r;
	r = read_direct_map_base(k, err);
	if (r < 0)
		return r;
	r = read_cpus(k, err);
	if (r < 0)
		return r;
	return read_kernel_btf(k, err);
}

static struct bw_kernel *kernel_new(struct bw_ram *ram)
{
	struct bw_kernel *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->ram = ram;
	k->phys = bw_ram_addrspace(ram);
	return k;
}

static int model_from_vmcoreinfo(struct bw_ram *ram, const struct bw_vmcoreinfo *vi,
				 struct bw_kernel **out, struct bw_error *err)
{
	struct bw_kernel *k = kernel_new(ram);
	int r;

	if (!k)
		return bw_error_set(err, -ENOMEM, "out of memory");
	k->info.source = BW_KERNEL_FROM_VMCOREINFO;
	r = setup_from_vmcoreinfo(k, vi, err);
	if (r >= 0)
		r = decode_kallsyms(k, vi, err);
	if (r >= 0)
		r = finish_model(k, err);
	if (r < 0) {
		bw_kernel_free(k);
		return r;
	}
	*out = k;
	return 0;
}

struct candidates {
	unsigned int count;
	struct bw_vmcoreinfo *copies[MAX_VMCOREINFO_CANDIDATES];
};

static int collect_candidate(void *ctx, const struct bw_vmcoreinfo *vi)
{
	struct candidates *c = ctx;

	for (unsigned int i = 0; i < c->count; i++) {
		/* The note and the data page hold the same text: keep one, the note. */
		if (c->copies[i]->len == vi->len && memcmp(c->copies[i]->text, vi->text, vi->len) == 0) {
			if (vi->from_note && !c->copies[i]->from_note)
				*c->copies[i] = *vi;
			return 0;
		}
	}
	if (c->count == MAX_VMCOREINFO_CANDIDATES)
		return 0;
	c->copies[c->count] = malloc(sizeof(*vi));
	if (!c->copies[c->count])
		return -ENOMEM;
	*c->copies[c->count++] = *vi;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Pick the model whose jiffies move: a stale image from before a reboot is frozen. */
static int pick_live(struct bw_kernel **models, unsigned int n)
{
	uint64_t before[MAX_VMCOREINFO_CANDIDATES], after;
	bool ok[MAX_VMCOREINFO_CANDIDATES];
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	uint64_t deadline = now_ns() + LIVENESS_WAIT_NS;

	for (unsigned int i = 0; i < n; i++)
		ok[i] = read_symbol_u64(models[i], "jiffies_64", &before[i], NULL) == 0;
	while (now_ns() < deadline) {
		nanosleep(&pause, NULL);
		for (unsigned int i = 0; i < n; i++) {
			if (ok[i] && read_symbol_u64(models[i], "jiffies_64", &after, NULL) == 0 &&
			    after != before[i])
				return (int)i;
		}
	}
	return (int)n - 1;	/* nothing moved (guest paused): the newest copy */
}

static int open_from_files(struct bw_ram *ram, const struct bw_kernel_files *files,
			   const struct bw_vmcoreinfo *vi, struct bw_kernel **out,
			   struct bw_error *err);

int bw_kernel_open(struct bw_ram *ram, const struct bw_kernel_files *files,
		   struct bw_kernel **out, struct bw_error *err)
{
	struct candidates c = { 0 };
	struct bw_kernel *models[MAX_VMCOREINFO_CANDIDATES];
	unsigned int nmodels = 0;
	struct bw_error first = { 0 };
	bool want_files = files && (files->vmlinux || files->system_map || files->btf);
	int r;

	*out = NULL;
	r = bw_vmcoreinfo_scan(ram, collect_candidate, &c, err);
	if (r < 0)
		goto out;
	if (want_files && c.count == 0) {
		r = open_from_files(ram, files, NULL, out, err);
		goto out;
	}
	if (c.count == 0) {
		r = bw_error_set(err, -ENOENT,
				 "no VMCOREINFO found in guest RAM (%s): the guest kernel is not up "
				 "yet, or was built without crash-dump support (CONFIG_CRASH_DUMP / "
				 "CONFIG_VMCORE_INFO); give --vmlinux, or --system-map and --btf",
				 bw_ram_describe(ram));
		goto out;
	}
	/*
	 * With files too: a rebooted guest holds the KERNELOFFSET of each boot,
	 * and the files match the running one only when slid by its own.
	 */
	for (unsigned int i = 0; i < c.count; i++) {
		struct bw_error e = { 0 };

		if ((want_files ? open_from_files(ram, files, c.copies[i], &models[nmodels], &e) :
		     model_from_vmcoreinfo(ram, c.copies[i], &models[nmodels], &e)) == 0)
			nmodels++;
		else if (!first.code)
			first = e;
	}
	if (nmodels == 0) {
		if (err)
			*err = first;
		r = first.code ? first.code : -ENOENT;
		goto out;
	}
	{
		int live = nmodels == 1 ? 0 : pick_live(models, nmodels);

		for (unsigned int i = 0; i < nmodels; i++) {
			if ((int)i != live)
				bw_kernel_free(models[i]);
		}
		*out = models[live];
		r = 0;
	}
out:
	for (unsigned int i = 0; i < c.count; i++)
		free(c.copies[i]);
	return r;
}

static int validate_banner(struct bw_kernel *k, struct bw_error *err)
{
	static const char prefix[] = "Linux version ";
	char banner[sizeof(prefix) - 1];
	uint64_t addr = 0;

	if (bw_kernel_symbol(k, "linux_banner", &addr, NULL) < 0)
		return 0;	/* nothing to check against */
	if (bw_kernel_read(k, addr, banner, sizeof(banner), NULL) < 0 ||
	    memcmp(banner, prefix, sizeof(banner)) != 0)
		return bw_error_set(err, -EINVAL,
				    "the symbol files do not match the guest: linux_banner at %#" PRIx64
				    " does not read \"Linux version\" (wrong vmlinux/System.map, or a "
				    "KASLR offset that VMCOREINFO could not give)", addr);
	return 0;
}

/* init_uts_ns.name.release: the release when no VMCOREINFO said it. */
static int read_release(struct bw_kernel *k, struct bw_error *err)
{
	uint64_t uts = 0, name_off = 0, release_off = 0;
	char release[sizeof(k->info.release)];
	int r;

	r = bw_kernel_symbol(k, "init_uts_ns", &uts, err);
	if (r < 0)
		return r;
	r = bw_btf_member_offset(k->btf, "uts_namespace", "name", &name_off, NULL, NULL, err);
	if (r < 0)
		return r;
	r = bw_btf_member_offset(k->btf, "new_utsname", "release", &release_off, NULL, NULL, err);
	if (r < 0)
		return r;
	r = bw_kernel_read(k, uts + name_off + release_off, release, sizeof(release) - 1, err);
	if (r < 0)
		return bw_error_prefix(err, "reading init_uts_ns");
	release[sizeof(release) - 1] = '\0';
	for (char *p = release; *p; p++) {
		if (*p < 0x20 || *p > 0x7e)
			return bw_error_set(err, -EINVAL, "init_uts_ns holds no printable release");
	}
	memcpy(k->info.release, release, sizeof(release));
	return 0;
}

static int open_from_files(struct bw_ram *ram, const struct bw_kernel_files *files,
			   const struct bw_vmcoreinfo *vi, struct bw_kernel **out,
			   struct bw_error *err)
{
	struct bw_kernel *k = kernel_new(ram);
	const char *btf_path;
	uint64_t pgd = 0, pgd_pa = 0;
	int r;

	if (!k)
		return bw_error_set(err, -ENOMEM, "out of memory");
	k->info.source = BW_KERNEL_FROM_FILES;
	if (files->vmlinux)
		r = bw_symtab_load_elf(files->vmlinux, &k->symtab, err);
	else if (files->system_map)
		r = bw_symtab_load_system_map(files->system_map, &k->symtab, err);
	else
		r = bw_error_set(err, -EINVAL, "--btf needs --system-map (or give --vmlinux)");
	if (r < 0)
		goto fail;
	btf_path = files->vmlinux ? files->vmlinux : files->btf;
	if (!btf_path) {
		r = bw_error_set(err, -EINVAL, "--system-map needs --btf");
		goto fail;
	}
	k->btf = btf__parse(btf_path, NULL);
	if (!k->btf) {
		r = bw_error_set(err, -errno, "cannot read BTF from %s: %s", btf_path,
				 strerror(errno));
		goto fail;
	}
	{
		uint32_t size = 0;

		btf__raw_data(k->btf, &size);
		k->info.btf_size = size;
	}
	k->info.kallsyms_count = bw_symtab_count(k->symtab);
	if (vi) {
		r = setup_from_vmcoreinfo(k, vi, err);
		if (r < 0)
			goto fail;
		bw_symtab_relocate(k->symtab, k->info.kaslr_offset);
	} else {
		/* No VMCOREINFO: only a kernel without KASLR can be read. */
		k->info.phys_base = 0;
		k->info.kaslr_offset = 0;
		k->info.paging_levels = 4;
		k->image_start = START_KERNEL_MAP;
		k->image_end = START_KERNEL_MAP + DEFAULT_KERNEL_IMAGE_SIZE;
		r = bw_kernel_symbol(k, "init_top_pgt", &pgd, err);
		if (r < 0)
			goto fail;
		if (text_to_phys(k, pgd, 4096, &pgd_pa) < 0) {
			r = bw_error_set(err, -ERANGE, "init_top_pgt=%#" PRIx64
					 " is outside the kernel text mapping", pgd);
			goto fail;
		}
		bw_pt_init(&k->pt, k->phys, pgd_pa, 4, 0);
	}
	narrow_image_window(k);
	r = validate_banner(k, err);
	if (r < 0)
		goto fail;
	r = read_direct_map_base(k, err);
	if (r >= 0)
		r = read_cpus(k, err);
	if (r < 0)
		goto fail;
	if (!vi) {
		r = read_release(k, err);
		if (r < 0)
			goto fail;
	}
	*out = k;
	return 0;
fail:
	bw_kernel_free(k);
	return r;
}

int bw_kernel_from_parts(struct bw_ram *ram, const struct bw_kernel_parts *parts,
			 struct bw_kernel **out, struct bw_error *err)
{
	struct bw_kernel *k = kernel_new(ram);

	*out = NULL;
	if (!k) {
		bw_symtab_free(parts->symtab);
		btf__free(parts->btf);
		return bw_error_set(err, -ENOMEM, "out of memory");
	}
	k->symtab = parts->symtab;
	k->btf = parts->btf;
	if (!k->symtab || !k->btf || parts->nr_cpu_ids == 0 ||
	    parts->nr_cpu_ids > MAX_NR_CPU_IDS || !parts->per_cpu_offset ||
	    (parts->paging_levels != 4 && parts->paging_levels != 5) ||
	    parts->image_end < parts->image_start) {
		bw_kernel_free(k);
		return bw_error_set(err, -EINVAL, "incomplete kernel parts");
	}
	k->info.source = BW_KERNEL_FROM_FILES;
	snprintf(k->info.release, sizeof(k->info.release), "%s",
		 parts->release ? parts->release : "unknown");
	k->info.phys_base = parts->phys_base;
	k->info.kaslr_offset = parts->kaslr_offset;
	k->info.paging_levels = parts->paging_levels;
	k->image_start = parts->image_start;
	k->image_end = parts->image_end;
	bw_pt_init(&k->pt, k->phys, parts->pgd_gpa, parts->paging_levels, 0);
	if (parts->page_offset_base) {
		k->info.page_offset_base = parts->page_offset_base;
		k->direct_map_end = direct_map_end(k, parts->page_offset_base,
						   parts->paging_levels);
	}
	k->per_cpu_offset = calloc(parts->nr_cpu_ids, sizeof(*k->per_cpu_offset));
	if (!k->per_cpu_offset) {
		bw_kernel_free(k);
		return bw_error_set(err, -ENOMEM, "out of memory");
	}
	memcpy(k->per_cpu_offset, parts->per_cpu_offset,
	       parts->nr_cpu_ids * sizeof(*k->per_cpu_offset));
	k->info.nr_cpu_ids = parts->nr_cpu_ids;
	k->info.kallsyms_count = bw_symtab_count(k->symtab);
	{
		uint32_t size = 0;

		btf__raw_data(k->btf, &size);
		k->info.btf_size = size;
	}
	*out = k;
	return 0;
}
