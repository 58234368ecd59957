/* SPDX-License-Identifier: MIT */
/*
 * The symbol table every kernel-knowledge source fills: an append-only
 * array of (name, address, type) plus an open-addressing hash index built
 * once by bw_symtab_finish().
 *
 * Why this shape: a kernel has 100k-200k symbols (197,553 on a Debian 7.3
 * cloud kernel) and bpfwatch looks up only a dozen of them, by exact name,
 * but it decodes the table again on every guest reboot.  So adding must be
 * cheap (names are copied into large arena blocks, not one malloc each),
 * indexing must be linear (sorting by name would buy nothing), and fresh
 * memory must be cheap to touch.  A 200k-symbol table is ~15 MiB (names,
 * symbols, index); on a virtualized host every 4 KiB page of that is a
 * page fault costing ~10 us, which made faults most of the load time.  So
 * symbols live in fixed 2 MiB chunks (never copied, so a returned pointer
 * stays valid), the large arrays are 2 MiB-aligned and marked for
 * transparent huge pages, index slots are 8 bytes, and each name's hash
 * is computed when it is added, while the name is still in cache.
 *
 * Name quirks the index absorbs:
 *  - static symbols may share a name (two files each with a static "init");
 *    the first one added wins, which for kallsyms is the lowest address;
 *  - Clang ThinLTO renames promoted statics to "<name>.llvm.<digits>"
 *    (KERNEL-FACTS.md 2.9); the kernel's own kallsyms_lookup_name() strips
 *    that suffix (kernel/kallsyms.c cleanup_symbol_name()), so such a
 *    symbol is also indexed under its plain name unless a symbol of that
 *    plain name exists.
 */
#include "symtab.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Index slots hold symbol numbers in 31 bits; bit 31 marks a .llvm. alias. */
#define SYMTAB_MAX_SYMBOLS (UINT32_MAX / 4)
#define SLOT_ALIAS 0x80000000u
/* x86_64 transparent huge page size; arrays at least this big are backed by them. */
#define HUGE_SIZE (2u << 20)
/* First arena block; each later one doubles, up to one huge page. */
#define ARENA_FIRST_BLOCK (64u << 10)
/* 65536 entries of 32 bytes: one huge page a chunk. */
#define CHUNK_SHIFT 16
#define CHUNK_ENTRIES (1u << CHUNK_SHIFT)
#define LLVM_SUFFIX ".llvm."

struct arena_block {
	struct arena_block *next;
	size_t used;
	size_t size;
	char data[];
};

struct sym_entry {
	struct bw_symbol sym;	/* what lookups hand out */
	uint32_t hash;		/* of sym.name */
};

struct index_slot {
	uint32_t sym_plus1;	/* 0: empty; else symbol number + 1, | SLOT_ALIAS */
	uint32_t hash;
};

struct bw_symtab {
	struct sym_entry **chunks;
	size_t nchunks;
	size_t chunks_cap;
	size_t count;
	struct arena_block *arena;
	size_t next_block;	/* size of the next arena block */
	uint32_t *aliases;	/* symbols whose name ends in .llvm.<digits> */
	size_t naliases;
	size_t aliases_cap;
	struct index_slot *slots;
	size_t nslots;
	bool indexed;		/* the index covers every symbol */
};

static struct sym_entry *entry_at(const struct bw_symtab *tab, size_t i)
{
	return &tab->chunks[i >> CHUNK_SHIFT][i & (CHUNK_ENTRIES - 1)];
}

/*
 * malloc() for arrays that may be large: from HUGE_SIZE up, 2 MiB-aligned
 * and advised as huge pages (a no-op where THP is off).  Freed with free().
 */
static void *big_alloc(size_t size)
{
	void *p;

	if (size < HUGE_SIZE)
		return malloc(size);
	size = (size + HUGE_SIZE - 1) & ~(size_t)(HUGE_SIZE - 1);
	p = aligned_alloc(HUGE_SIZE, size);
#ifdef MADV_HUGEPAGE
	if (p)
		madvise(p, size, MADV_HUGEPAGE);
#endif
	return p;
}

/* A word at a time with a multiply-xorshift mix; the slot comes from the high bits. */
static uint32_t hash_name(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len;
	uint64_t w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	if (len) {
		w = 0;
		memcpy(&w, s, len);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	h *= 0x94d049bb133111ebull;
	h ^= h >> 29;
	return (uint32_t)(h >> 32);
}

struct bw_symtab *bw_symtab_new(void)
{
	struct bw_symtab *tab = calloc(1, sizeof(struct bw_symtab));

	if (tab)
		tab->next_block = ARENA_FIRST_BLOCK;
	return tab;
}

void bw_symtab_free(struct bw_symtab *tab)
{
	struct arena_block *b, *next;

	if (!tab)
		return;
	for (b = tab->arena; b; b = next) {
		next = b->next;
		free(b);
	}
	for (size_t i = 0; i < tab->nchunks; i++)
		free(tab->chunks[i]);
	free(tab->chunks);
	free(tab->aliases);
	free(tab->slots);
	free(tab);
}

static char *arena_copy(struct bw_symtab *tab, const char *s, size_t len)
{
	struct arena_block *b = tab->arena;
	char *p;

	if (!b || b->size - b->used < len + 1) {
		size_t size = tab->next_block - sizeof(*b);

		if (size < len + 1)
			size = len + 1;
		b = big_alloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->used = 0;
		b->size = size;
		b->next = tab->arena;
		tab->arena = b;
		if (tab->next_block < HUGE_SIZE)
			tab->next_block *= 2;
	}
	p = b->data + b->used;
	memcpy(p, s, len + 1);
	b->used += len + 1;
	return p;
}

/* Length of @name without a trailing ".llvm.<digits>", or 0 if it has none. */
static size_t plain_len(const char *name)
{
	const char *suffix = NULL, *p = name;
	const char *d;

	while ((p = strstr(p, LLVM_SUFFIX))) {
		suffix = p;
		p++;
	}
	if (!suffix || suffix == name)
		return 0;
	d = suffix + strlen(LLVM_SUFFIX);
	if (!*d)
		return 0;
	for (; *d; d++)
		if (*d < '0' || *d > '9')
			return 0;
	return (size_t)(suffix - name);
}

static int note_alias(struct bw_symtab *tab, size_t sym)
{
	if (tab->naliases == tab->aliases_cap) {
		size_t cap = tab->aliases_cap ? tab->aliases_cap * 2 : 64;
		uint32_t *a = realloc(tab->aliases, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		tab->aliases = a;
		tab->aliases_cap = cap;
	}
	tab->aliases[tab->naliases++] = (uint32_t)sym;
	return 0;
}

int bw_symtab_add(struct bw_symtab *tab, const char *name, uint64_t addr, char type)
{
	size_t len;
	char *copy;

	if (!tab || !name || !name[0])
		return -EINVAL;
	len = strlen(name);
	if (len >= UINT32_MAX)
		return -EINVAL;
	if (tab->count >= SYMTAB_MAX_SYMBOLS)
		return -E2BIG;
	if (tab->count == tab->nchunks * CHUNK_ENTRIES) {
		struct sym_entry *chunk;

		if (tab->nchunks == tab->chunks_cap) {
			size_t cap = tab->chunks_cap ? tab->chunks_cap * 2 : 8;
			struct sym_entry **chunks = realloc(tab->chunks, cap * sizeof(*chunks));

			if (!chunks)
				return -ENOMEM;
			tab->chunks = chunks;
			tab->chunks_cap = cap;
		}
		chunk = big_alloc(CHUNK_ENTRIES * sizeof(*chunk));
		if (!chunk)
			return -ENOMEM;
		tab->chunks[tab->nchunks++] = chunk;
	}
	if (plain_len(name) && note_alias(tab, tab->count) < 0)
		return -ENOMEM;
	copy = arena_copy(tab, name, len);
	if (!copy)
		return -ENOMEM;
	*entry_at(tab, tab->count++) = (struct sym_entry){
		.sym = { .name = copy, .addr = addr, .type = type },
		.hash = hash_name(name, len),
	};
	/* A later symbol is not in the index: lookups scan until finish runs again. */
	tab->indexed = false;
	return 0;
}

/* Does the key of @slot equal @key? */
static bool slot_matches(const struct bw_symtab *tab, const struct index_slot *slot,
			 uint32_t hash, const char *key, size_t key_len)
{
	const char *name;

	if (slot->hash != hash)
		return false;
	name = entry_at(tab, (slot->sym_plus1 & ~SLOT_ALIAS) - 1)->sym.name;
	if (slot->sym_plus1 & SLOT_ALIAS)
		return plain_len(name) == key_len && memcmp(name, key, key_len) == 0;
	return memcmp(name, key, key_len) == 0 && name[key_len] == '\0';
}

/* Multiply-shift maps the hash onto any table size, not only powers of two. */
static size_t slot_of(const struct bw_symtab *tab, uint32_t hash)
{
	return (size_t)(((uint64_t)hash * tab->nslots) >> 32);
}

/* The slot holding @key, or the empty slot where it would go. */
static struct index_slot *probe(const struct bw_symtab *tab, const char *key, size_t key_len,
				uint32_t hash)
{
	size_t i = slot_of(tab, hash);

	for (;;) {
		struct index_slot *slot = &tab->slots[i];

		if (!slot->sym_plus1 || slot_matches(tab, slot, hash, key, key_len))
			return slot;
		if (++i == tab->nslots)
			i = 0;
	}
}

/* Index symbol @sym under its name, or under its plain name with SLOT_ALIAS. */
static void index_insert(struct bw_symtab *tab, size_t sym, uint32_t hash, uint32_t flags)
{
	const char *name = entry_at(tab, sym)->sym.name;
	size_t key_len = flags & SLOT_ALIAS ? plain_len(name) : strlen(name);
	struct index_slot *slot = probe(tab, name, key_len, hash);

	if (slot->sym_plus1)
		return;		/* first added wins */
	slot->sym_plus1 = ((uint32_t)sym + 1) | flags;
	slot->hash = hash;
}

int bw_symtab_finish(struct bw_symtab *tab)
{
	size_t keys, bytes;

	if (!tab)
		return -EINVAL;
	/* At most two-thirds full: linear probes stay short (~2 on a hit). */
	keys = tab->count + tab->naliases;
	free(tab->slots);
	bytes = (keys + keys / 2 + 16) * sizeof(*tab->slots);
	/* A huge page is zeroed whole anyway: spread the keys over all of it. */
	if (bytes >= HUGE_SIZE)
		bytes = (bytes + HUGE_SIZE - 1) & ~(size_t)(HUGE_SIZE - 1);
	tab->nslots = bytes / sizeof(*tab->slots);
	tab->slots = big_alloc(bytes);
	if (!tab->slots) {
		tab->nslots = 0;
		tab->indexed = false;
		return -ENOMEM;
	}
	memset(tab->slots, 0, bytes);
	/* Exact names first, so that a real "foo" beats "foo.llvm.123" wherever it sits. */
	for (size_t i = 0; i < tab->count; i++) {
		/* Slots are hit at random: ask for a later one while this one is placed. */
		if (i + 8 < tab->count)
			__builtin_prefetch(&tab->slots[slot_of(tab, entry_at(tab, i + 8)->hash)], 1);
		index_insert(tab, i, entry_at(tab, i)->hash, 0);
	}
	for (size_t k = 0; k < tab->naliases; k++) {
		const char *name = entry_at(tab, tab->aliases[k])->sym.name;

		index_insert(tab, tab->aliases[k], hash_name(name, plain_len(name)), SLOT_ALIAS);
	}
	tab->indexed = true;
	return 0;
}

/* Before finish (or after a later add): the same answer, found by scanning. */
static const struct bw_symbol *lookup_scan(const struct bw_symtab *tab, const char *name,
					   size_t len)
{
	for (size_t i = 0; i < tab->count; i++)
		if (strcmp(entry_at(tab, i)->sym.name, name) == 0)
			return &entry_at(tab, i)->sym;
	for (size_t k = 0; k < tab->naliases; k++) {
		const struct bw_symbol *sym = &entry_at(tab, tab->aliases[k])->sym;

		if (plain_len(sym->name) == len && memcmp(sym->name, name, len) == 0)
			return sym;
	}
	return NULL;
}

const struct bw_symbol *bw_symtab_lookup(const struct bw_symtab *tab, const char *name)
{
	const struct index_slot *slot;
	uint32_t hash;
	size_t len;

	if (!tab || !name || !name[0])
		return NULL;
	if (!tab->indexed) {
		len = strlen(name);
		return lookup_scan(tab, name, len);
	}
	len = strlen(name);
	hash = hash_name(name, len);
	slot = probe(tab, name, len, hash);
	return slot->sym_plus1 ? &entry_at(tab, (slot->sym_plus1 & ~SLOT_ALIAS) - 1)->sym : NULL;
}

size_t bw_symtab_count(const struct bw_symtab *tab)
{
	return tab ? tab->count : 0;
}

void bw_symtab_relocate(struct bw_symtab *tab, uint64_t delta)
{
	if (!tab)
		return;
	/* Unsigned wrap-around is the intent: a negative slide is a huge delta. */
	for (size_t i = 0; i < tab->count; i++)
		entry_at(tab, i)->sym.addr += delta;
}
