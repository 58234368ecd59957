/* SPDX-License-Identifier: MIT */
/*
 * The synthetic guest of util_guest.h, laid out the way an x86-64 Linux
 * 7.x kernel lays itself out in RAM (KERNEL-FACTS.md sections 1-3).
 *
 * One kernel, by offset from _text (VA) and from PA(_text) alike:
 *
 *   0                 _text = _stext = startup_64; a long Rust-style name at
 *                     +0x2000 (a 2-byte kallsyms length); filler text
 *                     symbols from +0x10000; _etext at the end of text
 *   rodata (2 MiB up) linux_banner at +0x100; a page of the VMCOREINFO
 *                     format strings at +0x1000 (the decoy a scanner must
 *                     reject); kallsyms_num_syms, kallsyms_names,
 *                     kallsyms_markers, kallsyms_token_table,
 *                     kallsyms_token_index, kallsyms_offsets,
 *                     [kallsyms_relative_base]; then, page aligned, the BTF
 *                     blob [__start_BTF, __stop_BTF)
 *   data (2 MiB up)   init_top_pgt; 32 pages of boot page tables (the
 *                     kernel's brk area); a page of variables
 *                     (page_offset_base, vmalloc_base, vmemmap_base,
 *                     phys_base, nr_cpu_ids, jiffies_64 = jiffies,
 *                     map_idr, prog_idr, vmcoreinfo_data/_note pointers,
 *                     init_uts_ns); __per_cpu_offset[8192]; the per-CPU
 *                     section (cpu_number at +0x20, this_cpu_off at
 *                     +0x28); filler data symbols
 *   bss               scx_root (NULL: no scheduler); _end
 *
 * The "page allocator" memory of a kernel (its heap) lies elsewhere in RAM,
 * reached through the direct map: the VMCOREINFO text page
 * (__get_free_pages), the two-page ELF note (alloc_pages_exact), the page
 * tables of the vmalloc area, four vmalloc pages mapped out of order, and
 * one 4 KiB per-CPU unit per CPU (__per_cpu_offset[cpu] = direct-map VA of
 * the unit - __per_cpu_start, the 6.15+ rule).
 *
 * kallsyms is compressed the way scripts/kallsyms.c does it: each of the
 * 256 byte values stands for a distinct token; printable characters stand
 * for themselves and the other values for common name fragments.  The
 * symbols are sorted by address; filler symbols are generated from their
 * number, so the truth needs no table of 200,000 names.
 *
 * With opts.slab_size the live kernel's heap goes on with a "slab": kmalloc
 * objects reached through the direct map, and pages that
 * test_guest_vmalloc() maps one by one after the vmalloc pages above
 * (each area physically contiguous, its page tables from the slab too).
 * BPF maps, object BTFs and the scheduler's scx_sched are laid out there
 * exactly as util_kernel.c lays them out in its own test kernel, with the
 * field offsets of the same kernel BTF; map_idr (in .data) and scx_root
 * (in .bss) of the image point at them.
 *
 * vmalloc_base defaults to ~11 TiB above page_offset_base: with memory
 * KASLR the direct-map region is sized to RAM + CONFIG_RANDOMIZE_MEMORY_
 * PHYSICAL_PADDING (10 TiB), not to the 64 TiB maximum, unless
 * CONFIG_PCI_P2PDMA keeps it full (arch/x86/mm/kaslr.c).
 */
#include "util_guest.h"

#include "util_btf.h"
#include "util_mem.h"

#include <bpf/btf.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#define PAGE 0x1000ULL
#define MIB (1ULL << 20)
#define PMD_SIZE (2 * MIB)
#define PUD_SIZE BW_GIB
#define KERNEL_IMAGE_SIZE BW_GIB
#define TEXT_MIN_SIZE (16 * MIB)
#define LONG_SYM_OFF 0x2000ULL
#define FILLER_TEXT_OFF 0x10000ULL
#define FILLER_TEXT_MIN_STRIDE 16
#define FILLER_DATA_STRIDE 16
/* Below this PA firmware and the real-mode trampoline live: keep it free. */
#define LOW_RESERVED (16 * MIB)

/* .rodata, from its start. */
#define R_BANNER 0x100ULL
#define R_DECOY 0x1000ULL
#define R_KALLSYMS 0x2000ULL

/* .data, from its start. */
#define D_PGD 0x0ULL
#define D_POOL 0x1000ULL
#define IMAGE_POOL_PAGES 32
#define D_VARS (D_POOL + IMAGE_POOL_PAGES * PAGE)
#define D_PCPU_OFFSETS (D_VARS + PAGE)
#define D_PERCPU (D_PCPU_OFFSETS + TEST_GUEST_NR_CPUS * 8ULL)
#define D_FILLER (D_PERCPU + PAGE)

/* The page of variables. */
#define V_PAGE_OFFSET_BASE 0x000
#define V_VMALLOC_BASE 0x008
#define V_VMEMMAP_BASE 0x010
#define V_PHYS_BASE 0x018
#define V_NR_CPU_IDS 0x020
#define V_JIFFIES 0x040
#define V_MAP_IDR 0x080
#define V_PROG_IDR 0x0a0
#define V_VMCOREINFO_DATA 0x0c0
#define V_VMCOREINFO_NOTE 0x0c8
#define V_INIT_UTS_NS 0x100

/* The per-CPU section. */
#define P_CPU_NUMBER 0x20
#define P_THIS_CPU_OFF 0x28

/* struct new_utsname: six char[65]; struct uts_namespace starts with it. */
#define UTS_LEN 65
#define UTS_NAMESPACE_SIZE 408

/* A kernel's heap, from heap_gpa. */
#define H_VMCOREINFO 0x0ULL
#define H_NOTE 0x1000ULL
#define H_POOL 0x3000ULL
#define HEAP_POOL_PAGES 8
#define H_VMALLOC (H_POOL + HEAP_POOL_PAGES * PAGE)
#define VMALLOC_SLOTS 8
#define H_PERCPU (H_VMALLOC + VMALLOC_SLOTS * PAGE)
/* The vmalloc area straddles a 2 MiB boundary, so it needs two page tables. */
#define VMALLOC_AREA_OFF 0x1fe000ULL
static const unsigned int vmalloc_slot[TEST_GUEST_VMALLOC_PAGES] = { 5, 2, 7, 0 };

/* Page-table entry bits (arch/x86/include/asm/pgtable_types.h). */
#define PTE_P (1ULL << 0)
#define PTE_RW (1ULL << 1)
#define PTE_A (1ULL << 5)
#define PTE_D (1ULL << 6)
#define PTE_PS (1ULL << 7)
#define PTE_G (1ULL << 8)
#define PTE_NX (1ULL << 63)
#define PTE_ADDR 0x000ffffffffff000ULL
#define KERNPG_TABLE (PTE_P | PTE_RW | PTE_A | PTE_D)
#define PAGE_KERNEL_EXEC (PTE_P | PTE_RW | PTE_A | PTE_D | PTE_G)
#define PAGE_KERNEL (PAGE_KERNEL_EXEC | PTE_NX)

#define KSYM_NAME_LEN 512

static uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
static uint64_t round_down(uint64_t v, uint64_t a) { return v & ~(a - 1); }

/* ---------------------------------------------------------------- random */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Fill @len bytes (a multiple of 8) with a stream keyed by @seed and @chunk. */
static void fill_random(void *buf, size_t len, uint64_t seed, uint64_t chunk)
{
	uint64_t *p = buf, x = mix64(seed ^ mix64(chunk + 1)) | 1;

	for (size_t i = 0; i < len / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x * 0x2545f4914f6cdd1dULL;
	}
}

/* ---------------------------------------------------------------- tokens */

/*
 * Name fragments that get their own byte value, as the kernel's compressor
 * would give them to frequent pairs.  The first FILLER_WORDS end in '_' and
 * build the filler names.
 */
static const char *const vocab[] = {
	"sched_", "bpf_", "map_", "cpu_", "task_", "init_", "alloc_", "free_", "lock_", "irq_",
	"page_", "mem_", "dev_", "net_", "sock_", "tcp_", "inet_", "file_", "inode_", "dentry_",
	"vfs_", "ext4_", "kmem_", "slab_", "rcu_", "timer_", "hrtimer_", "work_", "queue_",
	"event_", "perf_", "trace_", "probe_", "kprobe_", "module_", "pci_", "acpi_", "usb_",
	"blk_", "bio_", "req_", "scsi_", "nvme_", "virtio_", "drm_", "tty_", "serial_", "crypto_",
	"hash_", "key_", "cgroup_", "mm_", "vma_", "fault_", "swap_", "zone_", "node_", "numa_",
	"x86_", "apic_", "kvm_", "efi_", "proc_", "sys_", "do_", "get_", "set_", "put_", "read_",
	"write_", "open_", "close_", "update_", "handle_", "enable_", "disable_", "start_", "stop_",
	"show_", "store_", "find_", "create_", "destroy_", "register_", "unregister_", "state_",
	"info_", "data_", "ops_", "table_", "list_", "entry_",
#define FILLER_WORDS 92
	"__", "per_", "offset", "base", "btf", "idr", "jiffies", "text", "root", "scx",
	"banner", "linux", "top", "pgt", "nr", "ids", "end", "BTF", "the", "ing", "er", "re",
	"in", "on", "st", "at", "en", "al", "ar", "le", "ed", "nt", "de", "ro", "te", "co", "es",
	"di", "ma", "pr", "ct", "un", "se", "ac", "ch", "ca",
};
#define NVOCAB (sizeof(vocab) / sizeof(vocab[0]))

struct tokens {
	char strings[256][16];
	uint8_t len[256];
	uint8_t vocab_byte[NVOCAB];
	uint8_t table[4096];
	size_t table_len;
	uint16_t index[256];
};

static void tokens_init(struct tokens *t)
{
	unsigned int next = 0, extra = 0;
	bool used[256] = { false };

	_Static_assert(NVOCAB <= 256 - 94, "too many multi-character tokens");
	memset(t, 0, sizeof(*t));
	for (int b = 0x21; b <= 0x7e; b++) {
		t->strings[b][0] = (char)b;
		used[b] = true;
	}
	for (size_t i = 0; i < NVOCAB; i++) {
		while (used[next])
			next++;
		snprintf(t->strings[next], sizeof(t->strings[next]), "%s", vocab[i]);
		t->vocab_byte[i] = (uint8_t)next;
		used[next] = true;
	}
	/* Every byte value is a token of its own, all different, as in a real table. */
	for (int b = 0; b < 256; b++) {
		if (used[b])
			continue;
		snprintf(t->strings[b], sizeof(t->strings[b]), "~%02x", extra++);
		used[b] = true;
	}
	for (int b = 0; b < 256; b++) {
		size_t l = strlen(t->strings[b]);

		t->len[b] = (uint8_t)l;
		t->index[b] = (uint16_t)t->table_len;
		memcpy(t->table + t->table_len, t->strings[b], l + 1);
		t->table_len += l + 1;
	}
}

/* Greedy compression of "<type><name>" (type and name printable). */
static size_t compress(const struct tokens *t, char type, const char *name, uint8_t *out)
{
	size_t n = 0;

	out[n++] = (uint8_t)type;
	while (*name) {
		size_t best = 1;
		int best_b = (unsigned char)*name;

		for (size_t i = 0; i < NVOCAB; i++) {
			size_t l = t->len[t->vocab_byte[i]];

			if (l > best && strncmp(name, vocab[i], l) == 0) {
				best = l;
				best_b = t->vocab_byte[i];
			}
		}
		out[n++] = (uint8_t)best_b;
		name += best;
	}
	return n;
}

/*
 * Filler @i: 2 or 3 words and its number; returns the compressed length.
 * @t is needed only for the record (@out), not for the name.
 */
static size_t filler_record(const struct tokens *t, uint32_t i, char type, uint8_t *out,
			    char *name, size_t name_size)
{
	uint64_t h = mix64(i * 0x9e3779b97f4a7c15ULL + 7);
	unsigned int words = 2 + (unsigned int)(h & 1);
	char digits[16];
	size_t n = 0, used = 0;

	if (out)
		out[n++] = (uint8_t)type;
	else
		n++;
	for (unsigned int w = 0; w < words; w++) {
		unsigned int v = (unsigned int)((h >> (8 + 8 * w)) % FILLER_WORDS);

		if (out)
			out[n] = t->vocab_byte[v];
		n++;
		if (name)
			used += (size_t)snprintf(name + used, name_size - used, "%s", vocab[v]);
	}
	snprintf(digits, sizeof(digits), "%" PRIu32, i);
	for (const char *d = digits; *d; d++) {
		if (out)
			out[n] = (uint8_t)*d;
		n++;
	}
	if (name)
		snprintf(name + used, name_size - used, "%s", digits);
	return n;
}

/* ---------------------------------------------------------------- guest memory */

static uint8_t *gpa_ptr_or_null(const struct test_guest *g, uint64_t gpa, size_t len)
{
	for (unsigned int i = 0; i < g->layout.nregions; i++) {
		const struct bw_ram_region *r = &g->layout.regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return g->map + r->offset + (gpa - r->gpa);
	}
	return NULL;
}

/* Builder-internal: placement already checked that everything lies in RAM. */
static uint8_t *at(struct test_guest *g, uint64_t gpa, size_t len)
{
	uint8_t *p = gpa_ptr_or_null(g, gpa, len);

	if (!p) {
		fprintf(stderr, "util_guest: %zu bytes at GPA %#" PRIx64 " are not RAM\n", len, gpa);
		abort();
	}
	return p;
}

static void put_u64(struct test_guest *g, uint64_t gpa, uint64_t v) { memcpy(at(g, gpa, 8), &v, 8); }
static void put_u32(struct test_guest *g, uint64_t gpa, uint32_t v) { memcpy(at(g, gpa, 4), &v, 4); }

void *test_guest_gpa(struct test_guest *g, uint64_t gpa, size_t len)
{
	void *p = gpa_ptr_or_null(g, gpa, len);

	ck_assert_msg(p != NULL, "synthetic guest: %zu bytes at GPA %#" PRIx64 " are not RAM", len,
		      gpa);
	return p;
}

/* ---------------------------------------------------------------- placement */

struct range {
	uint64_t start, end;
};

struct placer {
	const struct test_guest *g;
	struct range used[8];
	unsigned int nused;
};

static bool range_free(const struct placer *p, uint64_t start, uint64_t size)
{
	if (start + size < start || !gpa_ptr_or_null(p->g, start, size) || start < LOW_RESERVED)
		return false;
	for (unsigned int i = 0; i < p->nused; i++) {
		if (start < p->used[i].end && p->used[i].start < start + size)
			return false;
	}
	return true;
}

static void reserve(struct placer *p, uint64_t start, uint64_t size)
{
	p->used[p->nused++] = (struct range){ start, start + size };
}

/* A free 2 MiB-aligned range, searched bottom-up or top-down through RAM. */
static int find_free(const struct placer *p, uint64_t size, bool top_down, uint64_t *out)
{
	const struct bw_layout *l = &p->g->layout;

	for (unsigned int n = 0; n < l->nregions; n++) {
		const struct bw_ram_region *r = &l->regions[top_down ? l->nregions - 1 - n : n];
		uint64_t lo = round_up(r->gpa > LOW_RESERVED ? r->gpa : LOW_RESERVED, PMD_SIZE);
		uint64_t end = r->gpa + r->size;

		if (end < lo + size)
			continue;
		if (top_down) {
			/* Leave the top 16 MiB alone when there is room, as memblock's own users do. */
			uint64_t top = end - size;

			if (top >= lo + 16 * MIB)
				top -= 16 * MIB;

			for (uint64_t a = round_down(top, PMD_SIZE); a >= lo; a -= PMD_SIZE) {
				if (range_free(p, a, size)) {
					*out = a;
					return 0;
				}
				if (a < PMD_SIZE)
					break;
			}
		} else {
			for (uint64_t a = lo; a + size <= end; a += PMD_SIZE) {
				if (range_free(p, a, size)) {
					*out = a;
					return 0;
				}
			}
		}
	}
	return -ENOSPC;
}

/* ---------------------------------------------------------------- page tables */

struct pool {
	uint64_t gpa;
	unsigned int used, pages;
};

static int slab_take(struct test_guest *g, uint64_t size, uint64_t align, uint64_t *gpa,
		     struct bw_error *err);

/* A NULL pool: page tables added after creation come from the slab. */
static int pool_alloc(struct test_guest *g, struct pool *pool, uint64_t *gpa, struct bw_error *err)
{
	if (!pool)
		return slab_take(g, PAGE, PAGE, gpa, err);
	if (pool->used == pool->pages)
		return bw_error_set(err, -ENOSPC, "synthetic guest: page-table pool exhausted");
	*gpa = pool->gpa + PAGE * pool->used++;
	memset(at(g, *gpa, PAGE), 0, PAGE);
	return 0;
}

/* Map one page of @size (4K, 2M, 1G) at @va to @pa, allocating tables from @pool. */
static int pt_map(struct test_guest *g, const struct test_guest_kernel *k, struct pool *pool,
		  uint64_t va, uint64_t pa, uint64_t size, uint64_t flags, struct bw_error *err)
{
	unsigned int leaf = size == PUD_SIZE ? 30 : size == PMD_SIZE ? 21 : 12;
	uint64_t table = k->pgd_gpa;

	for (unsigned int shift = k->paging_levels == 5 ? 48 : 39;; shift -= 9) {
		uint64_t slot = table + ((va >> shift) & 511) * 8, entry;

		memcpy(&entry, at(g, slot, 8), 8);
		if (shift == leaf) {
			put_u64(g, slot, pa | flags | (leaf > 12 ? PTE_PS : 0));
			return 0;
		}
		if (!(entry & PTE_P)) {
			uint64_t t = 0;
			int r = pool_alloc(g, pool, &t, err);

			if (r < 0)
				return r;
			entry = t | KERNPG_TABLE;
			put_u64(g, slot, entry);
		} else if (entry & PTE_PS) {
			return bw_error_set(err, -EEXIST, "synthetic guest: %#" PRIx64
					    " is already mapped by a large page", va);
		}
		table = entry & PTE_ADDR;
	}
}

/* ---------------------------------------------------------------- one kernel */

enum sect { S_TEXT, S_RODATA, S_DATA, S_VARS, S_PERCPU, S_BSS };

/* The named symbols: section, offset within it, type. */
static const struct named {
	const char *name;
	enum sect sect;
	uint64_t off;
	char type;
} named_syms[] = {
	{ "_text", S_TEXT, 0, 'T' },
	{ "startup_64", S_TEXT, 0, 'T' },
	{ "_stext", S_TEXT, 0, 'T' },
	{ NULL /* the long name */, S_TEXT, LONG_SYM_OFF, 't' },
	{ "_etext", S_TEXT, UINT64_MAX /* text end */, 'T' },
	{ "__start_rodata", S_RODATA, 0, 'D' },
	{ "linux_banner", S_RODATA, R_BANNER, 'D' },
	{ "__start_BTF", S_RODATA, UINT64_MAX - 1 /* btf start */, 'R' },
	{ "__stop_BTF", S_RODATA, UINT64_MAX /* btf end */, 'R' },
	{ "_sdata", S_DATA, 0, 'D' },
	{ "init_top_pgt", S_DATA, D_PGD, 'D' },
	{ "page_offset_base", S_VARS, V_PAGE_OFFSET_BASE, 'D' },
	{ "vmalloc_base", S_VARS, V_VMALLOC_BASE, 'D' },
	{ "vmemmap_base", S_VARS, V_VMEMMAP_BASE, 'D' },
	{ "phys_base", S_VARS, V_PHYS_BASE, 'D' },
	{ "nr_cpu_ids", S_VARS, V_NR_CPU_IDS, 'D' },
	{ "jiffies_64", S_VARS, V_JIFFIES, 'D' },
	{ "jiffies", S_VARS, V_JIFFIES, 'D' },
	{ "map_idr", S_VARS, V_MAP_IDR, 'd' },
	{ "prog_idr", S_VARS, V_PROG_IDR, 'd' },
	{ "vmcoreinfo_data", S_VARS, V_VMCOREINFO_DATA, 'D' },
	{ "vmcoreinfo_note", S_VARS, V_VMCOREINFO_NOTE, 'D' },
	{ "init_uts_ns", S_VARS, V_INIT_UTS_NS, 'D' },
	{ "__per_cpu_offset", S_DATA, D_PCPU_OFFSETS, 'D' },
	{ "__per_cpu_start", S_PERCPU, 0, 'D' },
	{ "cpu_number", S_PERCPU, P_CPU_NUMBER, 'D' },
	{ "this_cpu_off", S_PERCPU, P_THIS_CPU_OFF, 'D' },
	{ "__per_cpu_end", S_PERCPU, PAGE, 'D' },
	{ "__bss_start", S_BSS, 0, 'B' },
	{ "scx_root", S_BSS, 0x40, 'b' },
	{ "__bss_stop", S_BSS, PAGE, 'B' },
	{ "_end", S_BSS, PAGE, 'B' },
};
#define NNAMED (sizeof(named_syms) / sizeof(named_syms[0]))

/* A Rust v0-mangled-looking name: more than 127 compressed bytes. */
static const char long_sym_name[] =
	"_RNvXs5_NtCsQ2Zk7Xw9LmP_8REALNAME15LONGSYMBOLTESTSNtB5_6MANGLEDNAMEFORKALLSYMSNtNtCs1"
	"A2B3C4D5E6F7G8H9_4CORE3FMT9DISPLAYPAYLOAD0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	"QWERTYUIOPASDFGHJKLZXCVBNM";

struct kbuild {
	struct test_guest *g;
	const struct test_guest_opts *o;
	struct test_guest_kernel *k;
	const struct tokens *t;
	struct bw_error *err;
	/* Section starts, as offsets from _text. */
	uint64_t text_size, rodata, data, bss;
	uint64_t names_size, nmarkers, markers_off;
	uint32_t nfill_text, nfill_data;
	uint64_t btf_off;
	struct pool image_pool, heap_pool;
};

static bool is_text_type(char type) { return type == 't' || type == 'T'; }

static char filler_type(uint32_t i, uint32_t ntext)
{
	if (i < ntext)
		return i % 3 == 0 ? 'T' : 't';
	return "dDbB"[(i - ntext) % 4];
}

static uint64_t filler_addr(const struct test_guest_kernel *k, uint32_t i)
{
	if (i < k->filler_text_count)
		return k->filler_text_start + (uint64_t)i * k->filler_text_stride;
	return k->filler_data_start + (uint64_t)(i - k->filler_text_count) * FILLER_DATA_STRIDE;
}

void test_guest_filler(const struct test_guest_kernel *k, uint32_t i, char *name, size_t size,
		       uint64_t *addr, char *type)
{
	if (name)
		filler_record(NULL, i, 0, NULL, name, size);
	if (addr)
		*addr = filler_addr(k, i);
	if (type)
		*type = filler_type(i, k->filler_text_count);
}

static uint64_t sect_base(const struct kbuild *b, enum sect s)
{
	switch (s) {
	case S_TEXT: return b->k->text;
	case S_RODATA: return b->k->text + b->rodata;
	case S_DATA: return b->k->text + b->data;
	case S_VARS: return b->k->text + b->data + D_VARS;
	case S_PERCPU: return b->k->text + b->data + D_PERCPU;
	case S_BSS: return b->k->text + b->bss;
	}
	return 0;
}

static uint64_t named_addr(const struct kbuild *b, const struct named *n)
{
	if (n->sect == S_TEXT && n->off == UINT64_MAX)
		return b->k->text + b->text_size;
	if (n->sect == S_RODATA && n->off == UINT64_MAX - 1)
		return b->k->text + b->btf_off;
	if (n->sect == S_RODATA && n->off == UINT64_MAX)
		return b->k->text + b->btf_off + b->g->btf_size;
	return sect_base(b, n->sect) + n->off;
}

static const char *named_name(const struct named *n)
{
	return n->name ? n->name : long_sym_name;
}

/* The whole sorted symbol list. */
struct ksym {
	uint64_t addr;
	uint32_t id;		/* < NNAMED: named_syms[id]; else filler id - NNAMED */
	char type;
};

/* The truth's own lookups: no check calls, so benchmarks can build guests too. */
static uint64_t truth_sym(const struct test_guest_kernel *k, const char *name)
{
	for (size_t i = 0; i < k->nsyms; i++) {
		if (strcmp(k->syms[i].name, name) == 0)
			return k->syms[i].addr;
	}
	fprintf(stderr, "util_guest: no symbol %s\n", name);
	abort();
}

static int compare_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static size_t record_of(const struct kbuild *b, const struct ksym *s, uint8_t *rec)
{
	if (s->id < NNAMED)
		return compress(b->t, s->type, named_name(&named_syms[s->id]), rec);
	return filler_record(b->t, s->id - (uint32_t)NNAMED, s->type, rec, NULL, 0);
}

static bool kept(const struct kbuild *b, char type)
{
	return !b->o->no_data_symbols || is_text_type(type);
}

/* Symbol count and kallsyms_names size, before anything has an address. */
static void size_names(struct kbuild *b)
{
	uint8_t rec[KSYM_NAME_LEN + 2];
	uint32_t nfill = b->o->nr_filler_syms, count = 0;

	b->names_size = 0;
	for (size_t i = 0; i < NNAMED; i++) {
		size_t l;

		if (!kept(b, named_syms[i].type))
			continue;
		l = compress(b->t, named_syms[i].type, named_name(&named_syms[i]), rec);
		b->names_size += l + (l >= 0x80 ? 2 : 1);
		count++;
	}
	for (uint32_t i = 0; i < nfill; i++) {
		char type = filler_type(i, b->nfill_text);

		if (!kept(b, type))
			continue;
		b->names_size += filler_record(b->t, i, type, rec, NULL, 0) + 1;
		count++;
	}
	b->k->kallsyms_count = count;
	b->nmarkers = (count + 255) / 256;
}

static uint64_t apply_override(const struct kbuild *b, const char *name, uint64_t addr)
{
	for (unsigned int i = 0; i < TEST_GUEST_MAX_OVERRIDES && b->o->overrides[i].name; i++) {
		if (strcmp(b->o->overrides[i].name, name) == 0)
			return b->o->overrides[i].addr;
	}
	return addr;
}

/* kallsyms_names, _markers, _token_table, _token_index, _offsets, [_relative_base]. */
static int write_kallsyms(struct kbuild *b)
{
	struct test_guest *g = b->g;
	struct test_guest_kernel *k = b->k;
	uint64_t names_gpa, offsets_gpa, pos = 0;
	uint32_t n = 0, *markers;
	uint8_t *names;
	struct ksym *syms;

	syms = calloc(k->kallsyms_count, sizeof(*syms));
	markers = calloc(b->nmarkers ? b->nmarkers : 1, sizeof(*markers));
	if (!syms || !markers) {
		free(syms);
		free(markers);
		return bw_error_set(b->err, -ENOMEM, "synthetic guest: out of memory");
	}
	for (uint32_t i = 0; i < NNAMED; i++) {
		if (kept(b, named_syms[i].type))
			syms[n++] = (struct ksym){ k->syms[i].addr, i, named_syms[i].type };
	}
	for (uint32_t i = 0; i < b->o->nr_filler_syms; i++) {
		char type = filler_type(i, b->nfill_text);

		if (kept(b, type))
			syms[n++] = (struct ksym){ filler_addr(k, i), (uint32_t)NNAMED + i, type };
	}
	qsort(syms, n, sizeof(*syms), compare_ksym);

	put_u32(g, k->image_gpa + (k->kallsyms.num_syms - k->text), n);
	names_gpa = k->image_gpa + (k->kallsyms.names - k->text);
	names = at(g, names_gpa, b->names_size);
	offsets_gpa = k->image_gpa + (k->kallsyms.offsets - k->text);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t rec[KSYM_NAME_LEN + 2];
		size_t l = record_of(b, &syms[i], rec);
		uint64_t entry_va = k->kallsyms.offsets + 4ULL * i;
		uint32_t raw;

		if (i % 256 == 0)
			markers[i / 256] = (uint32_t)pos;
		if (l >= 0x80) {
			names[pos++] = (uint8_t)(0x80 | (l & 0x7f));
			names[pos++] = (uint8_t)(l >> 7);
		} else {
			names[pos++] = (uint8_t)l;
		}
		memcpy(names + pos, rec, l);
		pos += l;
		if (k->encoding == TEST_GUEST_PLACE_RELATIVE) {
			int64_t d = (int64_t)(syms[i].addr - entry_va);

			if (d < INT32_MIN || d > INT32_MAX)
				goto out_of_range;
			raw = (uint32_t)(int32_t)d;
		} else {
			if (syms[i].addr < k->text || syms[i].addr - k->text > UINT32_MAX)
				goto out_of_range;
			raw = (uint32_t)(syms[i].addr - k->text);
		}
		put_u32(g, offsets_gpa + 4ULL * i, raw);
	}
	if (pos != b->names_size) {
		fprintf(stderr, "util_guest: kallsyms_names size %" PRIu64 " != %" PRIu64 "\n", pos,
			b->names_size);
		abort();
	}
	memcpy(at(g, k->image_gpa + b->markers_off, 4 * b->nmarkers), markers, 4 * b->nmarkers);
	memcpy(at(g, k->image_gpa + (k->kallsyms.token_table - k->text), b->t->table_len),
	       b->t->table, b->t->table_len);
	memcpy(at(g, k->image_gpa + (k->kallsyms.token_index - k->text), sizeof(b->t->index)),
	       b->t->index, sizeof(b->t->index));
	if (k->encoding == TEST_GUEST_BASE_RELATIVE)
		put_u64(g, k->image_gpa + (k->kallsyms.relative_base - k->text), k->text);
	free(syms);
	free(markers);
	return 0;
out_of_range:
	free(syms);
	free(markers);
	return bw_error_set(b->err, -ERANGE, "synthetic guest: a symbol address cannot be encoded "
			    "in kallsyms_offsets");
}

static void vmcoreinfo_text(struct kbuild *b)
{
	struct test_guest_kernel *k = b->k;
	char *p = k->vmcoreinfo;
	size_t cap = sizeof(k->vmcoreinfo), len = 0;
	char build_id[41];
	uint64_t h = mix64(b->o->seed ^ k->kaslr_offset);

	for (int i = 0; i < 40; i++) {
		build_id[i] = "0123456789abcdef"[h & 15];
		h = i % 16 == 15 ? mix64(h) : h >> 4;
	}
	build_id[40] = '\0';
#define LINE(...) (len += (size_t)snprintf(p + len, cap - len, __VA_ARGS__))
	LINE("OSRELEASE=%s\n", k->release);
	LINE("BUILD-ID=%s\n", build_id);
	LINE("PAGESIZE=4096\n");
	LINE("SYMBOL(init_uts_ns)=%" PRIx64 "\n", truth_sym(k, "init_uts_ns"));
	LINE("OFFSET(uts_namespace.name)=0\n");
	LINE("SYMBOL(swapper_pg_dir)=%" PRIx64 "\n", truth_sym(k, "init_top_pgt"));
	LINE("SYMBOL(_stext)=%" PRIx64 "\n", truth_sym(k, "_stext"));
	LINE("NUMBER(VMALLOC_START)=0x%" PRIx64 "\n", k->vmalloc_base);
	LINE("SYMBOL(vmemmap)=%" PRIx64 "\n", k->vmemmap_base);
	LINE("NUMBER(SECTION_SIZE_BITS)=27\n");
	LINE("NUMBER(MAX_PHYSMEM_BITS)=%d\n", k->paging_levels == 5 ? 52 : 46);
	LINE("SIZE(page)=64\n");
	LINE("SIZE(list_head)=16\n");
	LINE("OFFSET(list_head.next)=0\n");
	LINE("OFFSET(list_head.prev)=8\n");
	LINE("NUMBER(PG_lru)=5\n");
	LINE("NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-268435456\n");
	if (!b->o->no_vmcoreinfo_kallsyms) {
		LINE("SYMBOL(kallsyms_names)=%" PRIx64 "\n", k->kallsyms.names);
		LINE("SYMBOL(kallsyms_num_syms)=%" PRIx64 "\n", k->kallsyms.num_syms);
		LINE("SYMBOL(kallsyms_token_table)=%" PRIx64 "\n", k->kallsyms.token_table);
		LINE("SYMBOL(kallsyms_token_index)=%" PRIx64 "\n", k->kallsyms.token_index);
		LINE("SYMBOL(kallsyms_offsets)=%" PRIx64 "\n", k->kallsyms.offsets);
		if (k->encoding == TEST_GUEST_BASE_RELATIVE)
			LINE("SYMBOL(kallsyms_relative_base)=%" PRIx64 "\n",
			     k->kallsyms.relative_base);
	}
	LINE("NUMBER(phys_base)=%" PRId64 "\n", (int64_t)k->phys_base);
	LINE("SYMBOL(init_top_pgt)=%" PRIx64 "\n", truth_sym(k, "init_top_pgt"));
	LINE("NUMBER(pgtable_l5_enabled)=%d\n", k->paging_levels == 5);
	LINE("KERNELOFFSET=%" PRIx64 "\n", k->kaslr_offset);
	LINE("NUMBER(KERNEL_IMAGE_SIZE)=%llu\n", KERNEL_IMAGE_SIZE);
	LINE("NUMBER(sme_mask)=0\n");
#undef LINE
	k->vmcoreinfo_len = len;
}

/* The rodata page of format strings vmcore_info.c prints from. */
static const char vmcoreinfo_decoy[] =
	"OSRELEASE=%s\nPAGESIZE=%ld\nSYMBOL(%s)=%lx\nOFFSET(%s.%s)=%lu\n"
	"NUMBER(%s)=%ld\nKERNELOFFSET=%lx\n";

static void write_heap(struct kbuild *b)
{
	struct test_guest *g = b->g;
	struct test_guest_kernel *k = b->k;
	uint64_t percpu_start = truth_sym(k, "__per_cpu_start");

	k->percpu_start = percpu_start;
	for (uint32_t cpu = 0; cpu < k->nr_cpu_ids; cpu++) {
		uint64_t unit = k->heap_gpa + H_PERCPU + PAGE * cpu;
		uint64_t off = k->page_offset_base + unit - percpu_start;

		memset(at(g, unit, PAGE), 0, PAGE);
		put_u32(g, unit + P_CPU_NUMBER, cpu);
		put_u64(g, unit + P_THIS_CPU_OFF, off);
		k->per_cpu_offset[cpu] = off;
	}
	for (int i = 0; i < TEST_GUEST_VMALLOC_PAGES; i++) {
		k->vmalloc_gpa[i] = k->heap_gpa + H_VMALLOC + PAGE * vmalloc_slot[i];
		fill_random(at(g, k->vmalloc_gpa[i], PAGE), PAGE, b->o->seed ^ k->kaslr_offset,
			    0x1000 + (uint64_t)i);
	}
	if (b->o->no_vmcoreinfo)
		return;
	k->vmcoreinfo_gpa = k->heap_gpa + H_VMCOREINFO;
	k->vmcoreinfo_note_gpa = k->heap_gpa + H_NOTE;
	memset(at(g, k->vmcoreinfo_gpa, PAGE), 0, PAGE);
	memcpy(at(g, k->vmcoreinfo_gpa, k->vmcoreinfo_len), k->vmcoreinfo, k->vmcoreinfo_len);
	memset(at(g, k->vmcoreinfo_note_gpa, 2 * PAGE), 0, 2 * PAGE);
	put_u32(g, k->vmcoreinfo_note_gpa, 11);
	put_u32(g, k->vmcoreinfo_note_gpa + 4, (uint32_t)k->vmcoreinfo_len);
	put_u32(g, k->vmcoreinfo_note_gpa + 8, 0);
	memcpy(at(g, k->vmcoreinfo_note_gpa + 12, 11), "VMCOREINFO", 11);
	memcpy(at(g, k->vmcoreinfo_note_gpa + 24, k->vmcoreinfo_len), k->vmcoreinfo,
	       k->vmcoreinfo_len);
	/* The empty note that ends the list is already zero. */
}

static void write_data(struct kbuild *b)
{
	struct test_guest *g = b->g;
	struct test_guest_kernel *k = b->k;
	uint64_t data_gpa = k->image_gpa + b->data, vars = data_gpa + D_VARS;
	uint64_t uts = vars + V_INIT_UTS_NS;
	static const char *const uts_fields[6] = {
		"Linux", "bw-synthetic", NULL, "#1 SMP PREEMPT_DYNAMIC Debian (synthetic)",
		"x86_64", "(none)",
	};

	memset(at(g, vars, PAGE), 0, PAGE);
	put_u64(g, vars + V_PAGE_OFFSET_BASE, k->page_offset_base);
	put_u64(g, vars + V_VMALLOC_BASE, k->vmalloc_base);
	put_u64(g, vars + V_VMEMMAP_BASE, k->vmemmap_base);
	put_u64(g, vars + V_PHYS_BASE, k->phys_base);
	put_u32(g, vars + V_NR_CPU_IDS, k->nr_cpu_ids);
	put_u64(g, vars + V_JIFFIES, k->jiffies);
	k->jiffies_gpa = vars + V_JIFFIES;
	if (!b->o->no_vmcoreinfo) {
		put_u64(g, vars + V_VMCOREINFO_DATA, k->page_offset_base + k->heap_gpa + H_VMCOREINFO);
		put_u64(g, vars + V_VMCOREINFO_NOTE, k->page_offset_base + k->heap_gpa + H_NOTE);
	}
	for (int f = 0; f < 6; f++) {
		const char *s = f == 2 ? k->release : uts_fields[f];

		memcpy(at(g, uts + (uint64_t)f * UTS_LEN, strlen(s)), s, strlen(s));
	}
	memset(at(g, data_gpa + D_PCPU_OFFSETS, TEST_GUEST_NR_CPUS * 8), 0,
	       TEST_GUEST_NR_CPUS * 8);
	memcpy(at(g, data_gpa + D_PCPU_OFFSETS, 8ULL * k->nr_cpu_ids), k->per_cpu_offset,
	       8ULL * k->nr_cpu_ids);
	memset(at(g, data_gpa + D_PERCPU, PAGE), 0, PAGE);
	memset(at(g, k->image_gpa + b->bss, PAGE), 0, PAGE);
}

static void write_rodata(struct kbuild *b)
{
	struct test_guest *g = b->g;
	struct test_guest_kernel *k = b->k;
	uint64_t ro = k->image_gpa + b->rodata;
	char banner[256];
	int n;

	n = snprintf(banner, sizeof(banner), "Linux version %s (synthetic@bpfwatch) "
		     "(gcc (Debian 14.2.0-19) 14.2.0) #1 SMP PREEMPT_DYNAMIC\n", k->release);
	memcpy(at(g, ro + R_BANNER, (size_t)n + 1), banner, (size_t)n + 1);
	memset(at(g, ro + R_DECOY, PAGE), 0, PAGE);
	memcpy(at(g, ro + R_DECOY, sizeof(vmcoreinfo_decoy)), vmcoreinfo_decoy,
	       sizeof(vmcoreinfo_decoy));
	memcpy(at(g, k->image_gpa + b->btf_off, g->btf_size), g->btf, g->btf_size);
}

static int map_kernel(struct kbuild *b)
{
	struct test_guest *g = b->g;
	struct test_guest_kernel *k = b->k;
	int r;

	memset(at(g, k->pgd_gpa, PAGE), 0, PAGE);
	for (uint64_t off = 0; off < k->mapped_size; off += PMD_SIZE) {
		r = pt_map(g, k, &b->image_pool, k->text + off, k->image_gpa + off, PMD_SIZE,
			   PAGE_KERNEL_EXEC, b->err);
		if (r < 0)
			return r;
	}
	for (uint64_t gib = 0; gib < k->direct_map_size; gib += PUD_SIZE) {
		bool ram = false;

		for (unsigned int i = 0; i < g->layout.nregions; i++) {
			const struct bw_ram_region *reg = &g->layout.regions[i];

			if (reg->gpa < gib + PUD_SIZE && gib < reg->gpa + reg->size)
				ram = true;
		}
		if (!ram)
			continue;
		r = pt_map(g, k, &b->image_pool, k->page_offset_base + gib, gib, PUD_SIZE,
			   PAGE_KERNEL, b->err);
		if (r < 0)
			return r;
	}
	for (int i = 0; i < TEST_GUEST_VMALLOC_PAGES; i++) {
		r = pt_map(g, k, &b->heap_pool, k->vmalloc_va + PAGE * (uint64_t)i, k->vmalloc_gpa[i],
			   PAGE, PAGE_KERNEL, b->err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Where everything of @k goes, from its addresses; no bytes written yet. */
static void lay_out(struct kbuild *b)
{
	struct test_guest_kernel *k = b->k;
	uint32_t nfill = b->o->nr_filler_syms;
	uint64_t text_need, off;

	b->nfill_data = nfill / 6;
	b->nfill_text = nfill - b->nfill_data;
	text_need = FILLER_TEXT_OFF + (uint64_t)b->nfill_text * FILLER_TEXT_MIN_STRIDE + PAGE;
	b->text_size = round_up(text_need > TEXT_MIN_SIZE ? text_need : TEXT_MIN_SIZE, PMD_SIZE);
	k->filler_text_count = b->nfill_text;
	k->filler_text_start = k->text + FILLER_TEXT_OFF;
	k->filler_text_stride = b->nfill_text ?
		((b->text_size - FILLER_TEXT_OFF - PAGE) / b->nfill_text) & ~15ULL : 16;
	if (k->filler_text_stride < FILLER_TEXT_MIN_STRIDE)
		k->filler_text_stride = FILLER_TEXT_MIN_STRIDE;
	k->nr_filler_syms = nfill;

	size_names(b);
	b->rodata = b->text_size;
	off = b->rodata + R_KALLSYMS;
	k->kallsyms.num_syms = k->text + off;
	k->kallsyms.names = k->text + off + 4;
	b->markers_off = round_up(off + 4 + b->names_size, 8);
	off = round_up(b->markers_off + 4 * b->nmarkers, 8);
	k->kallsyms.token_table = k->text + off;
	off = round_up(off + b->t->table_len, 8);
	k->kallsyms.token_index = k->text + off;
	off = round_up(off + sizeof(b->t->index), 8);
	k->kallsyms.offsets = k->text + off;
	off = round_up(off + 4ULL * k->kallsyms_count, 8);
	if (k->encoding == TEST_GUEST_BASE_RELATIVE) {
		k->kallsyms.relative_base = k->text + off;
		off += 8;
	}
	b->btf_off = round_up(off, PAGE);
	k->btf_start = k->text + b->btf_off;
	k->btf_size = b->g->btf_size;
	b->data = round_up(b->btf_off + b->g->btf_size, PMD_SIZE);
	k->filler_data_start = k->text + b->data + D_FILLER;
	b->bss = round_up(b->data + D_FILLER + (uint64_t)b->nfill_data * FILLER_DATA_STRIDE, PAGE);
	k->end = k->text + b->bss + PAGE;
	k->mapped_size = round_up(k->end - k->text, PMD_SIZE);
}

static int fill_truth(struct kbuild *b)
{
	struct test_guest_kernel *k = b->k;

	k->syms = calloc(NNAMED, sizeof(*k->syms));
	if (!k->syms)
		return bw_error_set(b->err, -ENOMEM, "synthetic guest: out of memory");
	k->nsyms = NNAMED;
	for (size_t i = 0; i < NNAMED; i++) {
		const char *name = named_name(&named_syms[i]);

		k->syms[i].name = name;
		k->syms[i].type = named_syms[i].type;
		k->syms[i].addr = apply_override(b, name, named_addr(b, &named_syms[i]));
	}
	k->kallsyms.stext = truth_sym(k, "_stext");
	k->pgd_gpa = k->image_gpa + b->data + D_PGD;
	b->image_pool = (struct pool){ k->image_gpa + b->data + D_POOL, 0, IMAGE_POOL_PAGES };
	b->heap_pool = (struct pool){ k->heap_gpa + H_POOL, 0, HEAP_POOL_PAGES };
	return 0;
}

static int build_kernel(struct kbuild *b)
{
	int r;

	r = fill_truth(b);
	if (r < 0)
		return r;
	vmcoreinfo_text(b);
	write_heap(b);
	write_rodata(b);
	r = write_kallsyms(b);
	if (r < 0)
		return r;
	write_data(b);
	if (b->o->fill_text)
		fill_random(at(b->g, b->k->image_gpa, b->text_size), b->text_size,
			    b->o->seed ^ b->k->kaslr_offset, 0x2000);
	return map_kernel(b);
}

/* ---------------------------------------------------------------- BTF */

/*
 * A small kernel BTF, written with libbpf directly (the util_btf helpers
 * report through check, which only works inside a running test): the
 * structs a kernel model is asked about first, laid out as on x86-64.
 */
static int writer_btf(struct test_guest *g, struct bw_error *err)
{
	struct btf *btf = btf__new_empty();
	const void *raw;
	uint32_t size = 0;
	int ok = 1, chr, uint, ulong, voidp, name_arr, spinlock, gfp_t, xarray, utsname, list_head;
	int s;

	if (!btf)
		return bw_error_set(err, -ENOMEM, "synthetic guest: out of memory");
	chr = btf__add_int(btf, "char", 1, BTF_INT_SIGNED);
	uint = btf__add_int(btf, "unsigned int", 4, 0);
	ulong = btf__add_int(btf, "long unsigned int", 8, 0);
	btf__add_typedef(btf, "u64", btf__add_int(btf, "long long unsigned int", 8, 0));
	voidp = btf__add_ptr(btf, 0);
	name_arr = btf__add_array(btf, btf__add_int(btf, "int", 4, BTF_INT_SIGNED), chr, UTS_LEN);
	ok &= chr > 0 && uint > 0 && ulong > 0 && voidp > 0 && name_arr > 0;

	list_head = btf__add_struct(btf, "list_head", 16);
	ok &= list_head > 0 && btf__add_field(btf, "next", voidp, 0, 0) == 0 &&
	      btf__add_field(btf, "prev", voidp, 64, 0) == 0;
	spinlock = btf__add_struct(btf, "spinlock", 4);
	ok &= spinlock > 0 && btf__add_field(btf, "val", uint, 0, 0) == 0;
	spinlock = btf__add_typedef(btf, "spinlock_t", spinlock);
	gfp_t = btf__add_typedef(btf, "gfp_t", uint);	/* fields go to the last type added */
	xarray = btf__add_struct(btf, "xarray", 16);
	ok &= xarray > 0 && btf__add_field(btf, "xa_lock", spinlock, 0, 0) == 0 &&
	      btf__add_field(btf, "xa_flags", gfp_t, 32, 0) == 0 &&
	      btf__add_field(btf, "xa_head", voidp, 64, 0) == 0;
	s = btf__add_struct(btf, "idr", 24);
	ok &= s > 0 && btf__add_field(btf, "idr_rt", xarray, 0, 0) == 0 &&
	      btf__add_field(btf, "idr_base", uint, 128, 0) == 0 &&
	      btf__add_field(btf, "idr_next", uint, 160, 0) == 0;
	utsname = btf__add_struct(btf, "new_utsname", 6 * UTS_LEN);
	ok &= utsname > 0;
	{
		static const char *const fields[6] = {
			"sysname", "nodename", "release", "version", "machine", "domainname",
		};

		for (int f = 0; f < 6; f++)
			ok &= btf__add_field(btf, fields[f], name_arr, 8 * UTS_LEN * f, 0) == 0;
	}
	s = btf__add_struct(btf, "uts_namespace", UTS_NAMESPACE_SIZE);
	ok &= s > 0 && btf__add_field(btf, "name", utsname, 0, 0) == 0 &&
	      btf__add_field(btf, "user_ns", voidp, 392 * 8, 0) == 0 &&
	      btf__add_field(btf, "ucounts", voidp, 400 * 8, 0) == 0;
	raw = ok ? btf__raw_data(btf, &size) : NULL;
	if (!raw || size == 0) {
		btf__free(btf);
		return bw_error_set(err, -EINVAL, "synthetic guest: writing the kernel BTF failed");
	}
	g->btf = malloc(size);
	if (!g->btf) {
		btf__free(btf);
		return bw_error_set(err, -ENOMEM, "synthetic guest: out of memory");
	}
	memcpy(g->btf, raw, size);
	g->btf_size = size;
	btf__free(btf);
	return 0;
}

static int copy_btf(struct test_guest *g, const void *data, size_t size, struct bw_error *err)
{
	const uint8_t *b = data;

	if (size < 24 || b[0] != 0x9f || b[1] != 0xeb)
		return bw_error_set(err, -EINVAL, "synthetic guest: the BTF given is not raw BTF");
	g->btf = malloc(size);
	if (!g->btf)
		return bw_error_set(err, -ENOMEM, "synthetic guest: out of memory");
	memcpy(g->btf, data, size);
	g->btf_size = size;
	return 0;
}

static int file_btf(struct test_guest *g, const char *path, struct bw_error *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return bw_error_set(err, -errno, "synthetic guest: cannot open BTF %s: %s", path,
				    strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_size < 24 || st.st_size > (64 << 20)) {
		close(fd);
		return bw_error_set(err, -EINVAL, "synthetic guest: %s is not a raw BTF file", path);
	}
	g->btf = malloc((size_t)st.st_size);
	if (!g->btf) {
		close(fd);
		return bw_error_set(err, -ENOMEM, "synthetic guest: out of memory");
	}
	got = pread(fd, g->btf, (size_t)st.st_size, 0);
	close(fd);
	if (got != st.st_size || g->btf[0] != 0x9f || g->btf[1] != 0xeb)
		return bw_error_set(err, -EINVAL, "synthetic guest: %s is not a raw BTF file "
				    "(no 0xeb9f magic)", path);
	g->btf_size = (size_t)st.st_size;
	return 0;
}

/* ---------------------------------------------------------------- the guest */

void test_guest_opts_init(struct test_guest_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ram_size = BW_GIB;
	o->layout = TEST_GUEST_FLAT;
	o->encoding = TEST_GUEST_PLACE_RELATIVE;
	o->paging_levels = 4;
	o->nr_cpus = 4;
	o->nr_filler_syms = 2000;
	o->seed = 1;
	o->live = (struct test_guest_kaslr){ TEST_GUEST_AUTO, TEST_GUEST_AUTO, TEST_GUEST_AUTO,
					     TEST_GUEST_AUTO, TEST_GUEST_AUTO };
	o->stale_kaslr = o->live;
}

static int write_dense(struct test_guest *g, uint64_t seed, struct bw_error *err)
{
	const size_t chunk = 4 * MIB;
	uint8_t *buf = malloc(chunk);

	if (!buf)
		return bw_error_set(err, -ENOMEM, "synthetic guest: out of memory");
	for (uint64_t off = 0; off < g->ram_size; off += chunk) {
		size_t len = g->ram_size - off < chunk ? (size_t)(g->ram_size - off) : chunk;

		fill_random(buf, len, seed, off / chunk);
		if (pwrite(g->fd, buf, len, (off_t)off) != (ssize_t)len) {
			free(buf);
			return bw_error_set(err, -EIO, "synthetic guest: writing RAM: %s",
					    strerror(errno));
		}
	}
	free(buf);
	return 0;
}

struct kernel_plan {
	struct test_guest_kernel *k;
	const struct test_guest_kaslr *want;
	struct kbuild b;
	uint64_t heap_size;
};

static int plan_addresses(struct test_guest *g, const struct test_guest_opts *o,
			  struct kernel_plan *p, bool live, struct bw_error *err)
{
	struct test_guest_kernel *k = p->k;
	const struct test_guest_kaslr *w = p->want;
	bool l5 = o->paging_levels == 5;
	uint64_t pob_live = l5 ? 0xff3c200000000000ULL : 0xffff9a0000000000ULL;
	uint64_t pob_stale = l5 ? 0xff2a5c0040000000ULL : 0xffff8c4d40000000ULL;

	k->live = live;
	snprintf(k->release, sizeof(k->release), "%s",
		 live ? "7.3.4+deb13-cloud-amd64" : "7.2.9+deb13-cloud-amd64");
	k->paging_levels = o->paging_levels;
	k->encoding = o->encoding;
	k->nr_cpu_ids = o->nr_cpus;
	k->kaslr_offset = w->kaslr_offset != TEST_GUEST_AUTO ? w->kaslr_offset :
			  live ? 0x15400000ULL : 0x2e800000ULL;
	k->text = TEST_GUEST_DEFAULT_TEXT + k->kaslr_offset;
	k->page_offset_base = w->page_offset_base != TEST_GUEST_AUTO ? w->page_offset_base :
			      live ? pob_live : pob_stale;
	k->vmalloc_base = w->vmalloc_base != TEST_GUEST_AUTO ? w->vmalloc_base :
			  k->page_offset_base + (live ? 0x0b2a40000000ULL : 0x09f1c0000000ULL);
	/* VMALLOC_SIZE_TB: 32 TiB with 4 levels, 12.5 PiB with 5; then a gap. */
	k->vmemmap_base = k->vmalloc_base + (l5 ? 0x32000000000000ULL : 0x200000000000ULL) +
			  0x1c0000000ULL;
	k->vmalloc_va = k->vmalloc_base + VMALLOC_AREA_OFF;
	k->jiffies = live ? 4294667296ULL + 123456 : 4294667296ULL + 987654;
	k->direct_map_size = 0;
	for (unsigned int i = 0; i < g->layout.nregions; i++) {
		uint64_t end = g->layout.regions[i].gpa + g->layout.regions[i].size;

		if (end > k->direct_map_size)
			k->direct_map_size = end;
	}
	k->direct_map_size = round_up(k->direct_map_size, PUD_SIZE);
	if ((k->kaslr_offset & (PMD_SIZE - 1)) ||
	    k->text - TEST_GUEST_START_KERNEL_MAP >= KERNEL_IMAGE_SIZE)
		return bw_error_set(err, -EINVAL, "synthetic guest: KERNELOFFSET %#" PRIx64
				    " is not 2 MiB aligned inside the 1 GiB image area",
				    k->kaslr_offset);
	if ((k->page_offset_base & (PUD_SIZE - 1)) || (k->vmalloc_base & (PUD_SIZE - 1)))
		return bw_error_set(err, -EINVAL, "synthetic guest: page_offset_base and "
				    "vmalloc_base must be 1 GiB aligned");
	k->per_cpu_offset = calloc(o->nr_cpus, sizeof(*k->per_cpu_offset));
	if (!k->per_cpu_offset)
		return bw_error_set(err, -ENOMEM, "synthetic guest: out of memory");
	p->heap_size = round_up(H_PERCPU + PAGE * (uint64_t)o->nr_cpus, PMD_SIZE);
	if (live)
		p->heap_size += round_up(o->slab_size, PMD_SIZE);
	return 0;
}

/* Put the image of @p at its phys_base (or a free place when that is automatic). */
static int place_image(struct placer *pl, struct kernel_plan *p, uint64_t hint_gpa,
		       struct bw_error *err)
{
	struct test_guest_kernel *k = p->k;
	uint64_t link = k->text - TEST_GUEST_START_KERNEL_MAP, gpa;

	if (p->want->phys_base != TEST_GUEST_AUTO) {
		gpa = link + p->want->phys_base;
		if ((gpa & (PMD_SIZE - 1)) || !range_free(pl, gpa, k->mapped_size))
			return bw_error_set(err, -ERANGE, "synthetic guest: phys_base %#" PRIx64
					    " puts the %" PRIu64 " MiB image at GPA %#" PRIx64
					    ", which is not free 2 MiB-aligned RAM",
					    p->want->phys_base, k->mapped_size >> 20, gpa);
	} else if (!range_free(pl, hint_gpa, k->mapped_size) &&
		   find_free(pl, k->mapped_size, false, &hint_gpa) < 0) {
		return bw_error_set(err, -ENOSPC, "synthetic guest: no room for a %" PRIu64
				    " MiB kernel image", k->mapped_size >> 20);
	} else {
		gpa = hint_gpa;
	}
	reserve(pl, gpa, k->mapped_size);
	k->image_gpa = gpa;
	k->phys_base = gpa - link;
	return 0;
}

static int place_heap(struct placer *pl, struct kernel_plan *p, struct bw_error *err)
{
	struct test_guest_kernel *k = p->k;
	uint64_t gpa;

	if (p->want->heap_gpa != TEST_GUEST_AUTO) {
		gpa = p->want->heap_gpa;
		if ((gpa & (PMD_SIZE - 1)) || !range_free(pl, gpa, p->heap_size))
			return bw_error_set(err, -ERANGE, "synthetic guest: heap at GPA %#" PRIx64
					    " is not free 2 MiB-aligned RAM", gpa);
	} else if (find_free(pl, p->heap_size, true, &gpa) < 0) {
		return bw_error_set(err, -ENOSPC, "synthetic guest: no room for a %" PRIu64
				    " MiB kernel heap", p->heap_size >> 20);
	}
	reserve(pl, gpa, p->heap_size);
	k->heap_gpa = gpa;
	k->heap_size = p->heap_size;
	return 0;
}

static int create_file(struct test_guest *g, const struct test_guest_opts *o,
		       struct bw_error *err)
{
	if (o->path) {
		if (strlen(o->path) >= sizeof(g->path))
			return bw_error_set(err, -ENAMETOOLONG, "synthetic guest: path too long");
		g->fd = open(o->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (g->fd >= 0)
			snprintf(g->path, sizeof(g->path), "%s", o->path);
	} else {
		g->fd = memfd_create("bw-synthetic-guest", MFD_CLOEXEC);
	}
	if (g->fd < 0)
		return bw_error_set(err, -errno, "synthetic guest: cannot create %s: %s",
				    o->path ? o->path : "a memfd", strerror(errno));
	if (ftruncate(g->fd, (off_t)o->ram_size) < 0)
		return bw_error_set(err, -errno, "synthetic guest: cannot size RAM: %s",
				    strerror(errno));
	g->map = mmap(NULL, o->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		      g->fd, 0);
	if (g->map == MAP_FAILED) {
		g->map = NULL;
		return bw_error_set(err, -errno, "synthetic guest: cannot map RAM: %s",
				    strerror(errno));
	}
	return 0;
}

int test_guest_create(const struct test_guest_opts *o, struct test_guest **out,
		      struct bw_error *err)
{
	struct test_guest *g = calloc(1, sizeof(*g));
	struct kernel_plan plan[2] = { { 0 } };
	struct placer pl = { 0 };
	struct tokens *tokens = malloc(sizeof(*tokens));
	unsigned int nk = o->stale ? 2 : 1;
	int r;

	*out = NULL;
	if (!g || !tokens) {
		free(g);
		free(tokens);
		return bw_error_set(err, -ENOMEM, "synthetic guest: out of memory");
	}
	g->fd = -1;
	if (o->ram_size == 0 || (o->ram_size & (PMD_SIZE - 1)) ||
	    (o->paging_levels != 4 && o->paging_levels != 5) || o->nr_cpus == 0 ||
	    o->nr_cpus > TEST_GUEST_NR_CPUS) {
		r = bw_error_set(err, -EINVAL, "synthetic guest: bad options (RAM a multiple of "
				 "2 MiB, 4 or 5 levels, 1..%u CPUs)", TEST_GUEST_NR_CPUS);
		goto fail;
	}
	g->ram_size = o->ram_size;
	g->layout_spec.kind = o->layout == TEST_GUEST_Q35 ? BW_LAYOUT_Q35 : BW_LAYOUT_FLAT;
	r = bw_layout_apply(&g->layout_spec, o->ram_size, &g->layout, err);
	if (r < 0)
		goto fail;
	r = create_file(g, o, err);
	if (r < 0)
		goto fail;
	if (o->dense) {
		r = write_dense(g, o->seed, err);
		if (r < 0)
			goto fail;
	}
	if (o->btf_data)
		r = copy_btf(g, o->btf_data, o->btf_data_size, err);
	else
		r = o->btf_path ? file_btf(g, o->btf_path, err) : writer_btf(g, err);
	if (r < 0)
		goto fail;
	tokens_init(tokens);

	pl.g = g;
	plan[0].k = &g->live;
	plan[0].want = &o->live;
	plan[1].k = &g->stale;
	plan[1].want = &o->stale_kaslr;
	for (unsigned int i = 0; i < nk; i++) {
		plan[i].b = (struct kbuild){ .g = g, .o = o, .k = plan[i].k, .t = tokens, .err = err };
		r = plan_addresses(g, o, &plan[i], i == 0, err);
		if (r < 0)
			goto fail;
		lay_out(&plan[i].b);
	}
	/* Images: the live one at phys_base 0xCC00000 by default, the stale one after it. */
	r = place_image(&pl, &plan[0], g->live.text - TEST_GUEST_START_KERNEL_MAP + 0xCC00000ULL,
			err);
	if (r < 0)
		goto fail;
	if (nk == 2) {
		r = place_image(&pl, &plan[1], round_up(g->live.image_gpa + g->live.mapped_size +
							64 * MIB, PMD_SIZE), err);
		if (r < 0)
			goto fail;
	}
	/* Heaps top-down: the first placed sits highest, and is scanned last. */
	if (nk == 2 && !o->stale_first) {
		r = place_heap(&pl, &plan[1], err);
		if (r >= 0)
			r = place_heap(&pl, &plan[0], err);
	} else {
		r = place_heap(&pl, &plan[0], err);
		if (r >= 0 && nk == 2)
			r = place_heap(&pl, &plan[1], err);
	}
	if (r < 0)
		goto fail;
	for (unsigned int i = 0; i < nk; i++) {
		r = build_kernel(&plan[i].b);
		if (r < 0)
			goto fail;
	}
	g->has_stale = nk == 2;
	g->keep_file = o->keep_file;
	g->slab_gpa = g->live.heap_gpa + round_up(H_PERCPU + PAGE * (uint64_t)o->nr_cpus, PMD_SIZE);
	g->slab_size = round_up(o->slab_size, PMD_SIZE);
	g->slab_next = g->slab_gpa;
	/* After the vmalloc pages of creation and a guard page. */
	g->vmalloc_next = g->live.vmalloc_va + (TEST_GUEST_VMALLOC_PAGES + 1) * PAGE;
	g->percpu_next = TEST_GUEST_PERCPU_DYNAMIC;
	free(tokens);
	*out = g;
	return 0;
fail:
	free(tokens);
	test_guest_destroy(g);
	return r;
}

static void test_guest_bpf_free(struct test_guest *g);

static void free_kernel(struct test_guest_kernel *k)
{
	free(k->syms);
	free(k->per_cpu_offset);
}

void test_guest_destroy(struct test_guest *g)
{
	if (!g)
		return;
	test_guest_ticker_stop(g);
	if (g->map)
		munmap(g->map, g->ram_size);
	if (g->fd >= 0)
		close(g->fd);
	if (g->path[0] && !g->keep_file)
		unlink(g->path);
	test_guest_bpf_free(g);
	free_kernel(&g->live);
	free_kernel(&g->stale);
	free(g->btf);
	free(g);
}

struct bw_ram_source test_guest_source(const struct test_guest *g)
{
	struct bw_ram_source s = BW_RAM_SOURCE_INIT;

	if (g->path[0])
		s.paths[s.npaths++] = g->path;
	else
		s.fd = g->fd;
	return s;
}

int test_guest_open_ram(const struct test_guest *g, struct bw_ram **out, struct bw_error *err)
{
	struct bw_ram_source s = test_guest_source(g);

	return bw_ram_open(&s, &g->layout_spec, out, err);
}

const struct test_guest_sym *test_guest_find_sym(const struct test_guest_kernel *k,
						 const char *name)
{
	for (size_t i = 0; i < k->nsyms; i++) {
		if (strcmp(k->syms[i].name, name) == 0)
			return &k->syms[i];
	}
	return NULL;
}

uint64_t test_guest_sym(const struct test_guest_kernel *k, const char *name)
{
	const struct test_guest_sym *s = test_guest_find_sym(k, name);

	ck_assert_msg(s != NULL, "synthetic guest has no symbol %s", name);
	return s->addr;
}

int test_guest_va_to_gpa(const struct test_guest_kernel *k, uint64_t va, uint64_t *gpa)
{
	if (va >= k->text && va - k->text < k->mapped_size) {
		*gpa = k->image_gpa + (va - k->text);
		return 0;
	}
	if (va >= k->page_offset_base && va - k->page_offset_base < k->direct_map_size) {
		*gpa = va - k->page_offset_base;
		return 0;
	}
	if (va >= k->vmalloc_va && va - k->vmalloc_va < TEST_GUEST_VMALLOC_PAGES * PAGE) {
		uint64_t off = va - k->vmalloc_va;

		*gpa = k->vmalloc_gpa[off / PAGE] + off % PAGE;
		return 0;
	}
	for (unsigned int i = 0; i < k->nvmalloc_areas; i++) {
		uint64_t start = k->vmalloc_areas[i].va;

		if (va >= start && va - start < k->vmalloc_areas[i].size) {
			*gpa = k->vmalloc_areas[i].gpa + (va - start);
			return 0;
		}
	}
	return -EFAULT;
}

void test_guest_write_va(struct test_guest *g, const struct test_guest_kernel *k, uint64_t va,
			 const void *buf, size_t len)
{
	const uint8_t *src = buf;

	while (len > 0) {
		size_t chunk = PAGE - (va & (PAGE - 1));
		uint64_t gpa;

		if (chunk > len)
			chunk = len;
		ck_assert_msg(test_guest_va_to_gpa(k, va, &gpa) == 0,
			      "synthetic guest: VA %#" PRIx64 " is not mapped", va);
		memcpy(test_guest_gpa(g, gpa, chunk), src, chunk);
		src += chunk;
		va += chunk;
		len -= chunk;
	}
}

static uint64_t *jiffies_ptr(struct test_guest *g, const struct test_guest_kernel *k)
{
	return (uint64_t *)(void *)at(g, k->jiffies_gpa, 8);
}

uint64_t test_guest_jiffies(struct test_guest *g, const struct test_guest_kernel *k)
{
	return __atomic_load_n(jiffies_ptr(g, k), __ATOMIC_RELAXED);
}

void test_guest_set_jiffies(struct test_guest *g, const struct test_guest_kernel *k,
			    uint64_t value)
{
	__atomic_store_n(jiffies_ptr(g, k), value, __ATOMIC_RELAXED);
}

static void *ticker_main(void *arg)
{
	struct test_guest *g = arg;
	uint64_t *j = jiffies_ptr(g, &g->live);
	struct timespec pause = { 0, (long)g->tick_us * 1000 };

	while (!__atomic_load_n(&g->ticker_stop, __ATOMIC_ACQUIRE)) {
		__atomic_fetch_add(j, 1, __ATOMIC_RELAXED);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int test_guest_ticker_start(struct test_guest *g, unsigned int period_us)
{
	int r;

	if (g->ticking)
		return 0;
	g->tick_us = period_us ? period_us : 1000;
	g->ticker_stop = false;
	r = pthread_create(&g->ticker, NULL, ticker_main, g);
	if (r != 0)
		return -r;
	g->ticking = true;
	return 0;
}

void test_guest_ticker_stop(struct test_guest *g)
{
	if (!g->ticking)
		return;
	__atomic_store_n(&g->ticker_stop, true, __ATOMIC_RELEASE);
	pthread_join(g->ticker, NULL);
	g->ticking = false;
}

static bool protected_page(const struct test_guest *g, uint64_t gpa)
{
	const struct test_guest_kernel *ks[2] = { &g->live, g->has_stale ? &g->stale : NULL };

	for (int i = 0; i < 2; i++) {
		const struct test_guest_kernel *k = ks[i];

		if (!k || !k->vmcoreinfo_gpa)
			continue;
		if (gpa == k->vmcoreinfo_gpa || gpa == k->vmcoreinfo_note_gpa ||
		    gpa == k->vmcoreinfo_note_gpa + PAGE)
			return true;
	}
	return false;
}

int test_guest_scramble(struct test_guest *g, uint64_t seed, struct bw_error *err)
{
	uint8_t page[PAGE];

	for (unsigned int i = 0; i < g->layout.nregions; i++) {
		const struct bw_ram_region *r = &g->layout.regions[i];

		for (uint64_t off = 0; off < r->size; off += PAGE) {
			if (protected_page(g, r->gpa + off))
				continue;
			fill_random(page, PAGE, seed, (r->gpa + off) / PAGE);
			if (pwrite(g->fd, page, PAGE, (off_t)(r->offset + off)) != (ssize_t)PAGE)
				return bw_error_set(err, -EIO, "synthetic guest: scrambling: %s",
						    strerror(errno));
		}
	}
	return 0;
}

struct map_line {
	uint64_t addr;
	uint32_t id;
};

static int compare_map_line(const void *a, const void *b)
{
	const struct map_line *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int test_guest_write_system_map(const struct test_guest_kernel *k, const char *path,
				struct bw_error *err)
{
	size_t n = k->nsyms + k->nr_filler_syms, count = 0;
	struct map_line *lines = calloc(n ? n : 1, sizeof(*lines));
	FILE *f;

	if (!lines)
		return bw_error_set(err, -ENOMEM, "synthetic guest: out of memory");
	for (size_t i = 0; i < k->nsyms; i++)
		lines[count++] = (struct map_line){ k->syms[i].addr, (uint32_t)i };
	for (uint32_t i = 0; i < k->nr_filler_syms; i++)
		lines[count++] = (struct map_line){ filler_addr(k, i), (uint32_t)k->nsyms + i };
	qsort(lines, count, sizeof(*lines), compare_map_line);
	f = fopen(path, "we");
	if (!f) {
		free(lines);
		return bw_error_set(err, -errno, "synthetic guest: cannot create %s: %s", path,
				    strerror(errno));
	}
	for (size_t i = 0; i < count; i++) {
		char name[KSYM_NAME_LEN], type;
		uint64_t addr = lines[i].addr;

		if (lines[i].id < k->nsyms) {
			snprintf(name, sizeof(name), "%s", k->syms[lines[i].id].name);
			type = k->syms[lines[i].id].type;
		} else {
			test_guest_filler(k, lines[i].id - (uint32_t)k->nsyms, name, sizeof(name),
					  NULL, &type);
		}
		fprintf(f, "%016" PRIx64 " %c %s\n", addr - k->kaslr_offset, type, name);
	}
	free(lines);
	if (fclose(f) != 0)
		return bw_error_set(err, -EIO, "synthetic guest: writing %s failed", path);
	return 0;
}

int test_guest_write_btf(const struct test_guest *g, const char *path, struct bw_error *err)
{
	FILE *f = fopen(path, "we");
	size_t wrote;

	if (!f)
		return bw_error_set(err, -errno, "synthetic guest: cannot create %s: %s", path,
				    strerror(errno));
	wrote = fwrite(g->btf, 1, g->btf_size, f);
	if (fclose(f) != 0 || wrote != g->btf_size)
		return bw_error_set(err, -EIO, "synthetic guest: writing %s failed", path);
	return 0;
}

/* ---------------------------------------------------------------- kernel memory */

static int slab_take(struct test_guest *g, uint64_t size, uint64_t align, uint64_t *gpa,
		     struct bw_error *err)
{
	uint64_t at_gpa = round_up(g->slab_next, align);

	if (size > g->slab_size || at_gpa - g->slab_gpa > g->slab_size - size)
		return bw_error_set(err, -ENOSPC, "synthetic guest: the slab (%" PRIu64 " MiB) has "
				    "no %" PRIu64 " more bytes", g->slab_size >> 20, size);
	g->slab_next = at_gpa + size;
	memset(at(g, at_gpa, size), 0, size);
	*gpa = at_gpa;
	return 0;
}

int test_guest_kmalloc(struct test_guest *g, uint64_t size, uint64_t *va, struct bw_error *err)
{
	uint64_t gpa = 0;
	int r = slab_take(g, size ? size : 1, 64, &gpa, err);

	if (r < 0)
		return r;
	*va = g->live.page_offset_base + gpa;
	return 0;
}

int test_guest_vmalloc(struct test_guest *g, uint64_t size, uint64_t *va, struct bw_error *err)
{
	struct test_guest_kernel *k = &g->live;
	uint64_t len = round_up(size ? size : 1, PAGE), gpa = 0, area = g->vmalloc_next;
	int r;

	if (k->nvmalloc_areas == TEST_GUEST_MAX_VMALLOC_AREAS)
		return bw_error_set(err, -ENOSPC, "synthetic guest: more than %d vmalloc areas",
				    TEST_GUEST_MAX_VMALLOC_AREAS);
	r = slab_take(g, len, PAGE, &gpa, err);
	if (r < 0)
		return r;
	for (uint64_t off = 0; off < len; off += PAGE) {
		r = pt_map(g, k, NULL, area + off, gpa + off, PAGE, PAGE_KERNEL, err);
		if (r < 0)
			return r;
	}
	k->vmalloc_areas[k->nvmalloc_areas].va = area;
	k->vmalloc_areas[k->nvmalloc_areas].gpa = gpa;
	k->vmalloc_areas[k->nvmalloc_areas].size = len;
	k->nvmalloc_areas++;
	g->vmalloc_next = area + len + PAGE;	/* the guard page vmalloc leaves */
	*va = area;
	return 0;
}

int test_guest_percpu_alloc(struct test_guest *g, uint64_t size, uint64_t *ptr,
			    struct bw_error *err)
{
	struct test_guest_kernel *k = &g->live;
	uint64_t off = round_up(g->percpu_next, 8);

	if (size > PAGE || off > PAGE - size)
		return bw_error_set(err, -ENOSPC, "synthetic guest: the one-page per-CPU units have "
				    "no %" PRIu64 " more bytes", size);
	g->percpu_next = off + size;
	for (uint32_t cpu = 0; cpu < k->nr_cpu_ids; cpu++)
		memset(at(g, k->heap_gpa + H_PERCPU + PAGE * cpu + off, size), 0, size);
	*ptr = k->percpu_start + off;
	return 0;
}

/* ---------------------------------------------------------------- BPF objects */

/* Nodes for map_idr: 64 ids fit one node, so this is room for thousands of maps. */
#define BPF_IDR_NODES 64

struct test_guest_bpf {
	struct tk_layout lay;
	struct test_mem *alias;		/* views of .data and the slab for the xarray writer */
	struct tk_mem mem;		/* the live kernel, for util_kernel.h's object writers */
	struct test_xa idr;
	uint64_t map_idr, scx_root;
	uint32_t next_id;
};

static void test_guest_bpf_free(struct test_guest *g)
{
	if (!g->bpf)
		return;
	g->bpf->alias->nranges = 0;	/* its ranges are views of the RAM mapping */
	test_mem_free(g->bpf->alias);
	free(g->bpf);
	g->bpf = NULL;
}

void test_guest_sched_btf(void **data, size_t *size, struct tk_layout *lay,
			  struct test_btf_xa *xa)
{
	struct test_kernel *tk = tk_new(&(struct tk_opts){ .nr_cpus = 1, .scx = TK_SCX_ROOT });
	uint32_t len = 0;
	const void *raw = btf__raw_data(bw_kernel_btf(tk->k), &len);

	ck_assert_ptr_nonnull(raw);
	*data = malloc(len);
	ck_assert_ptr_nonnull(*data);
	memcpy(*data, raw, len);
	*size = len;
	*lay = tk->lay;
	*xa = tk->idr.lay;
	tk_free(tk);
}

static uint64_t kmalloc_or_abort(void *g, uint64_t size)
{
	struct bw_error err = { 0 };
	uint64_t va = 0;

	ck_assert_msg(test_guest_kmalloc(g, size, &va, &err) == 0, "%s", err.msg);
	return va;
}

static uint64_t vmalloc_or_abort(void *g, uint64_t size)
{
	struct bw_error err = { 0 };
	uint64_t va = 0;

	ck_assert_msg(test_guest_vmalloc(g, size, &va, &err) == 0, "%s", err.msg);
	return va;
}

static void put_va(struct test_guest *g, uint64_t va, uint64_t value, unsigned int width)
{
	test_guest_write_va(g, &g->live, va, &value, width);
}

/* The callbacks of the live kernel's struct tk_mem. */
static uint64_t mem_percpu_alloc(void *ctx, uint64_t size)
{
	struct bw_error err = { 0 };
	uint64_t pptr = 0;

	ck_assert_msg(test_guest_percpu_alloc(ctx, size, &pptr, &err) == 0, "%s", err.msg);
	return pptr;
}

static void mem_write(void *ctx, uint64_t va, const void *buf, uint64_t len)
{
	struct test_guest *g = ctx;

	test_guest_write_va(g, &g->live, va, buf, len);
}

static void mem_read(void *ctx, uint64_t va, void *buf, uint64_t len)
{
	struct test_guest *g = ctx;
	uint8_t *dst = buf;

	while (len > 0) {
		uint64_t chunk = PAGE - (va & (PAGE - 1)), gpa;

		if (chunk > len)
			chunk = len;
		ck_assert_msg(test_guest_va_to_gpa(&g->live, va, &gpa) == 0,
			      "synthetic guest: VA %#" PRIx64 " is not mapped", va);
		memcpy(dst, test_guest_gpa(g, gpa, chunk), chunk);
		dst += chunk;
		va += chunk;
		len -= chunk;
	}
}

void test_guest_bpf_init(struct test_guest *g, const struct tk_layout *lay,
			 const struct test_btf_xa *xa)
{
	struct test_guest_bpf *b;
	uint64_t vars_va, vars_gpa;

	ck_assert_msg(g->bpf == NULL, "test_guest_bpf_init: called twice");
	ck_assert_msg(g->slab_size > 0, "test_guest_bpf_init: the guest has no slab");
	b = calloc(1, sizeof(*b));
	ck_assert_ptr_nonnull(b);
	g->bpf = b;
	b->lay = *lay;
	b->map_idr = test_guest_sym(&g->live, "map_idr");
	b->scx_root = test_guest_sym(&g->live, "scx_root");
	ck_assert_uint_le(xa->idr_size, V_PROG_IDR - V_MAP_IDR);
	vars_va = b->map_idr - V_MAP_IDR;
	ck_assert_int_eq(test_guest_va_to_gpa(&g->live, vars_va, &vars_gpa), 0);
	b->alias = test_mem_new();
	b->alias->ranges[0].addr = vars_va;
	b->alias->ranges[0].size = PAGE;
	b->alias->ranges[0].bytes = test_guest_gpa(g, vars_gpa, PAGE);
	b->alias->ranges[1].addr = g->live.page_offset_base + g->slab_gpa;
	b->alias->ranges[1].size = g->slab_size;
	b->alias->ranges[1].bytes = test_guest_gpa(g, g->slab_gpa, g->slab_size);
	b->alias->nranges = 2;
	test_idr_init(&b->idr, b->alias, xa, b->map_idr, 0, 0,
		      kmalloc_or_abort(g, BPF_IDR_NODES * xa->node_size), BPF_IDR_NODES);
	b->next_id = 1;
	put_va(g, b->scx_root, 0, 8);
	/* 6.16+ sched_ext: an attached scheduler hangs off scx_root. */
	b->mem = (struct tk_mem){
		.ctx = g, .kmalloc = kmalloc_or_abort, .vmalloc = vmalloc_or_abort,
		.percpu_alloc = mem_percpu_alloc, .write = mem_write, .read = mem_read,
		.lay = &b->lay, .idr = &b->idr, .map_idr = b->map_idr, .next_id = &b->next_id,
		.scx = TK_SCX_ROOT, .scx_root = b->scx_root,
		.nr_cpus = g->live.nr_cpu_ids, .per_cpu_offset = g->live.per_cpu_offset,
		.sops_value_size = (uint32_t)(b->lay.value_data + b->lay.ops_size),
		.ops_flags = 0,
	};
}

static struct test_guest_bpf *bpf_of(struct test_guest *g)
{
	ck_assert_msg(g->bpf != NULL, "call test_guest_bpf_init() first");
	return g->bpf;
}

uint64_t test_guest_load_btf(struct test_guest *g, const struct btf *obj)
{
	return tk_mem_load_btf(&bpf_of(g)->mem, obj, true);
}

struct tk_map test_guest_add_map(struct test_guest *g, const struct tk_map_spec *s)
{
	return tk_mem_add_map(&bpf_of(g)->mem, s);
}

struct tk_map test_guest_add_struct_ops(struct test_guest *g, const char *name, uint64_t btf,
					const char *ops_name, uint64_t fn_base)
{
	return tk_mem_add_struct_ops(&bpf_of(g)->mem, name, btf, ops_name, fn_base);
}

void test_guest_attach(struct test_guest *g, const struct tk_map *sops)
{
	tk_mem_attach(&bpf_of(g)->mem, sops);
}

void test_guest_detach(struct test_guest *g)
{
	tk_mem_detach(&bpf_of(g)->mem);
}

void test_guest_load_demo(struct test_guest *g, const char *obj_name, const char *ops_name,
			  uint64_t fn_base, struct tk_object *out)
{
	tk_mem_load_demo(&bpf_of(g)->mem, obj_name, ops_name, fn_base, out);
}

uint64_t test_guest_elem(const struct tk_map *m, uint32_t index)
{
	return tk_elem(NULL, m, index);
}

uint64_t test_guest_percpu_elem(struct test_guest *g, const struct tk_map *m, uint32_t index,
				uint32_t cpu)
{
	return tk_mem_percpu_elem(&bpf_of(g)->mem, m, index, cpu);
}
