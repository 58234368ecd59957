/* SPDX-License-Identifier: MIT */
/*
 * kallsyms: the kernel's own compressed symbol table, decoded out of guest
 * memory.
 *
 * What the kernel keeps
 * ---------------------
 * The build (scripts/kallsyms.c) runs nm over the linked kernel and writes a
 * few read-only arrays into .rodata.  Since v6.0 VMCOREINFO exports their
 * run-time addresses (5fd8fea935a10, f09bddbd86619), which is how bpfwatch
 * finds them without any file from the user:
 *
 *   kallsyms_num_syms     u32, the number of symbols N.
 *   kallsyms_names        N records, one per symbol, sorted by address.
 *                         A record is a length L and then L token numbers.
 *   kallsyms_token_table  256 NUL-terminated strings, back to back.
 *   kallsyms_token_index  256 u16: where token b starts in the token table.
 *   kallsyms_offsets /    where each symbol is (see "Addresses" below).
 *   kallsyms_addresses /
 *   kallsyms_relative_base
 *
 * Names: a record expands by concatenating token_table[token_index[b]] for
 * each of its bytes b.  The compressor starts with every byte standing for
 * itself and then repeatedly gives the unused byte values to the most
 * frequent pair of adjacent tokens, so a token is a string of one or more
 * characters (a slot nothing was given to may hold anything; no record
 * uses it).  The first character
 * of the expansion is nm's type character ('T' global text, 't' static
 * text, 'D'/'d' data, 'B'/'b' bss, 'R'/'r' rodata, ...): it is compressed
 * together with the name, which is why a symbol's type costs no byte.
 *
 * Record lengths L count compressed bytes, type included:
 *   - up to v6.0, one byte (names were at most KSYM_NAME_LEN = 128);
 *   - from v6.1, 73bbb94466fd3 "kallsyms: support 'big' kernel symbols"
 *     (for Rust, together with KSYM_NAME_LEN = 512): if the first byte has
 *     bit 7 set, L = (b0 & 0x7f) | (b1 << 7) over two bytes, a ULEB128 of
 *     at most two bytes.
 * Nothing in the tables says which form a kernel uses, and most records
 * read the same either way (only a record of 128 or more compressed bytes
 * differs).  So both forms are tried, two-byte first, and the one whose
 * decoding places "_stext" at SYMBOL(_stext) is kept.
 *
 * Addresses: four encodings have existed, and again nothing but the result
 * tells them apart, so the encoding is also chosen by which one reproduces
 * SYMBOL(_stext) for the record named "_stext" (never by version number,
 * which distributions patch freely):
 *   - absolute: u64 kallsyms_addresses[i]; kernels without
 *     CONFIG_KALLSYMS_BASE_RELATIVE only, removed in v6.11 (64e166099b69b);
 *   - base-relative, v4.6 to v6.19: kallsyms_relative_base (a u64 in
 *     memory, itself relocated at boot, so it already includes KASLR) plus
 *     (u32)kallsyms_offsets[i];
 *   - absolute-percpu, v4.6 to v6.14, the x86_64 SMP default
 *     (CONFIG_KALLSYMS_ABSOLUTE_PERCPU): an offset >= 0 is the absolute
 *     value (per-CPU symbols, linked at 0), a negative one means
 *     relative_base - 1 - offset; removed in v6.15 (01157ddc58dc2);
 *   - place-relative, v7.0+ (a081b5789255d "kallsyms: Get rid of kallsyms
 *     relative base"): each s32 entry is PC-relative to itself, so symbol
 *     i is at &kallsyms_offsets[i] + (s32)kallsyms_offsets[i].
 * Every address decoded this way is a run-time address: KASLR is already
 * in it, and KERNELOFFSET must not be added.
 *
 * The kernel also keeps kallsyms_markers (every 256th record's offset, for
 * its own seeking) and, since v6.2, kallsyms_seqs_of_names (the order by
 * name); VMCOREINFO exports neither and decoding everything once needs
 * neither.
 *
 * How it is read: a first pass walks the records, checking each (a type
 * letter, a name of printable ASCII within KSYM_NAME_LEN, enough memory)
 * and finding "_stext" without expanding other names; then the encodings
 * are tried on that one entry; a second pass expands every name straight
 * into the symbol table with its address.  Guest memory is not trusted:
 * the count, each record's length, the token index, each expanded name and
 * the total amount read are all bounded below, and a decoding that goes
 * wrong anywhere is an error, never a table with garbage in it.  Tables
 * are read in large chunks, because each read may be a page-table walk.
 */
#include "kallsyms.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Symbols in one kernel: 197,553 in a Debian 7.3 cloud kernel, around 100k
 * in small configs.  Five times the distro figure leaves room for big
 * configs while bounding what a corrupt count can make us allocate.
 */
#define KALLSYMS_MAX_SYMBOLS 1000000u
/* include/linux/kallsyms.h since v6.1 (128 before); type char + name + NUL fit it. */
#define KSYM_NAME_LEN 512
/*
 * kallsyms_names of the 197,553-symbol Debian 7.3 kernel is 3.1 MiB (16
 * bytes a symbol); ten times that covers the symbol cap at 32 bytes each.
 */
#define KALLSYMS_MAX_NAMES_BYTES (32u << 20)
/*
 * The names of that kernel expand to 5.7 MiB.  Without a bound, a million
 * two-byte records each naming a 511-character token would make us store
 * half a gigabyte.
 */
#define KALLSYMS_MAX_EXPANDED_BYTES (64u << 20)
/*
 * token_index entries are u16, so the last token starts within 64 KiB, and
 * a token longer than a whole name could never be used.  Real tables are
 * ~1.1 KiB.
 */
#define TOKEN_TABLE_MAX (65536 + KSYM_NAME_LEN + 1)
/* Tokens are copied 16 bytes at a time: slack after the table and each name. */
#define COPY_SLACK 16
/* Bulk read size for the big tables: few reads even through a page walk. */
#define READ_CHUNK (64 * 1024)
/* The names window: a chunk plus room for the record that straddles its end. */
#define NAMES_WINDOW (READ_CHUNK + 2 + KSYM_NAME_LEN)
/* Fallback granularity when a bulk read runs into unreadable memory. */
#define PAGE_PIECE 4096
#define SMALL_PIECE 64

/* A window onto kallsyms_names that only moves forward. */
struct names_stream {
	uint8_t *buf;		/* [NAMES_WINDOW] */
	size_t start;		/* offset into kallsyms_names of buf[0] */
	size_t len;		/* bytes valid in buf */
	bool at_end;		/* memory ended after buf[len - 1] */
	struct bw_error end_err;
};

/* The tables being decoded and what is known about them so far. */
struct kallsyms_reader {
	const struct bw_addrspace *kva;
	const struct bw_kallsyms_tables *t;
	uint32_t num;
	char *token_table;
	const char *token[256];
	uint16_t token_len[256];
	bool token_printable[256];	/* every character in 0x21..0x7e */
	uint64_t relative_base;	/* the value, when tables->relative_base is given */
	bool have_relative_base;
	struct names_stream names;
};

/*
 * Called for each checked record, in table order.  @name is NUL-terminated,
 * or NULL when the pass did not ask for names and this one is not 6 long.
 */
typedef int (*record_fn)(struct kallsyms_reader *r, void *ctx, uint32_t i, char type,
			 const char *name, size_t name_len, struct bw_error *err);

static const char *const encoding_names[] = {
	[BW_KALLSYMS_ABSOLUTE] = "absolute",
	[BW_KALLSYMS_BASE_RELATIVE] = "base-relative",
	[BW_KALLSYMS_ABSOLUTE_PERCPU] = "absolute-percpu",
	[BW_KALLSYMS_PLACE_RELATIVE] = "place-relative",
};

const char *bw_kallsyms_encoding_name(enum bw_kallsyms_encoding encoding)
{
	if ((unsigned int)encoding < sizeof(encoding_names) / sizeof(encoding_names[0]))
		return encoding_names[encoding];
	return "unknown";
}

/* Read and prefix the failure with what was being read. */
static int read_table(const struct kallsyms_reader *r, const char *what, uint64_t addr, void *buf,
		      size_t len, struct bw_error *err)
{
	int ret = bw_as_read(r->kva, addr, buf, len, err);

	if (ret < 0 && err)
		bw_error_prefix(err, "decoding kallsyms: reading %s at %#" PRIx64, what, addr);
	return ret;
}

/*
 * Read as much of [addr, addr + len) as is readable from its start.  One
 * bulk read when all of it is there (the normal case); otherwise page
 * pieces, then small pieces, then bytes, up to the first unreadable byte.
 */
static size_t read_prefix(const struct bw_addrspace *as, uint64_t addr, uint8_t *buf, size_t len,
			  struct bw_error *last_err)
{
	size_t got = 0;

	if (len == 0)
		return 0;
	if (addr + len < addr)		/* would wrap past the top of the address space */
		len = (size_t)(0 - addr);
	if (bw_as_read(as, addr, buf, len, last_err) == 0)
		return len;
	while (got < len) {
		uint64_t a = addr + got;
		size_t piece = PAGE_PIECE - (size_t)(a % PAGE_PIECE);

		if (piece > len - got)
			piece = len - got;
		if (bw_as_read(as, a, buf + got, piece, last_err) < 0)
			break;
		got += piece;
	}
	while (got < len) {
		size_t piece = len - got < SMALL_PIECE ? len - got : SMALL_PIECE;

		if (bw_as_read(as, addr + got, buf + got, piece, last_err) < 0)
			break;
		got += piece;
	}
	/* The last readable bytes may not fill a small piece: at most SMALL_PIECE byte reads. */
	for (size_t k = 0; k < SMALL_PIECE && got < len; k++) {
		if (bw_as_read(as, addr + got, buf + got, 1, last_err) < 0)
			break;
		got++;
	}
	return got;
}

static void names_rewind(struct names_stream *s)
{
	s->start = 0;
	s->len = 0;
	s->at_end = false;
	bw_error_clear(&s->end_err);
}

/*
 * Bytes [pos, pos + n) of kallsyms_names (n <= 2 + KSYM_NAME_LEN, pos never
 * before an earlier call's pos), reading on when the window runs out.
 */
static const uint8_t *names_get(struct kallsyms_reader *r, size_t pos, size_t n, uint32_t record,
				struct bw_error *err)
{
	struct names_stream *s = &r->names;
	size_t want, got;

	if (pos + n <= s->start + s->len)
		return s->buf + (pos - s->start);
	if (pos + n > KALLSYMS_MAX_NAMES_BYTES) {
		bw_error_set(err, -E2BIG,
			     "kallsyms_names record %" PRIu32 " lies beyond %u MiB, more than any kernel has",
			     record, KALLSYMS_MAX_NAMES_BYTES >> 20);
		return NULL;
	}
	if (!s->at_end) {
		/* Keep the unread tail, then fill the window. */
		size_t keep = s->start + s->len - pos;

		memmove(s->buf, s->buf + (pos - s->start), keep);
		s->start = pos;
		s->len = keep;
		want = NAMES_WINDOW - keep;
		if (want > KALLSYMS_MAX_NAMES_BYTES - (s->start + keep))
			want = KALLSYMS_MAX_NAMES_BYTES - (s->start + keep);
		got = read_prefix(r->kva, r->t->names + s->start + keep, s->buf + keep, want,
				  &s->end_err);
		s->len += got;
		if (got < want)
			s->at_end = true;
		if (pos + n <= s->start + s->len)
			return s->buf + (pos - s->start);
	}
	bw_error_set(err, -EFAULT,
		     "kallsyms_names record %" PRIu32 " at %#" PRIx64 " runs into unreadable memory (%s)",
		     record, r->t->names + pos, s->end_err.msg);
	return NULL;
}

static int load_tokens(struct kallsyms_reader *r, struct bw_error *err)
{
	uint16_t index[256];
	size_t max_idx = 0, want, got;
	struct bw_error scratch;
	int ret;

	ret = read_table(r, "kallsyms_token_index", r->t->token_index, index, sizeof(index), err);
	if (ret < 0)
		return ret;
	for (int i = 0; i < 256; i++)
		if (index[i] > max_idx)
			max_idx = index[i];
	/* The last token starts at max_idx and ends at its NUL, within a name's length. */
	want = max_idx + KSYM_NAME_LEN + 1;
	if (want > TOKEN_TABLE_MAX)
		want = TOKEN_TABLE_MAX;
	r->token_table = calloc(1, want + COPY_SLACK);
	if (!r->token_table)
		return bw_error_set(err, -ENOMEM, "decoding kallsyms: out of memory");
	bw_error_clear(&scratch);
	got = read_prefix(r->kva, r->t->token_table, (uint8_t *)r->token_table, want, &scratch);
	if (got <= max_idx)
		return bw_error_set(err, -EFAULT,
				    "decoding kallsyms: kallsyms_token_table at %#" PRIx64 " is not readable up to its last token at +%zu (%s)",
				    r->t->token_table, max_idx, scratch.msg);
	for (int i = 0; i < 256; i++) {
		const char *tok = r->token_table + index[i];
		const char *nul = memchr(tok, '\0', got - index[i]);

		if (!nul)
			return bw_error_set(err, -EINVAL,
					    "decoding kallsyms: token %d at kallsyms_token_table+%u has no end within %zu readable bytes",
					    i, index[i], got);
		if (nul - tok > KSYM_NAME_LEN)
			return bw_error_set(err, -EINVAL,
					    "decoding kallsyms: token %d is %td bytes, longer than a symbol name",
					    i, nul - tok);
		r->token[i] = tok;
		r->token_len[i] = (uint16_t)(nul - tok);
		r->token_printable[i] = true;
		for (const char *c = tok; c < nul; c++)
			if (*c < 0x21 || *c > 0x7e)
				r->token_printable[i] = false;
	}
	return 0;
}

static bool is_type_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Concatenate the tokens of a record; the caller checked the total fits. */
static size_t expand(const struct kallsyms_reader *r, const uint8_t *rec, size_t len, char *sym)
{
	size_t out = 0;

	for (size_t k = 0; k < len; k++) {
		const char *tok = r->token[rec[k]];
		size_t tl = r->token_len[rec[k]];

		/* Most tokens are a few characters: one fixed-size copy, not a memcpy call. */
		memcpy(sym + out, tok, COPY_SLACK);
		if (tl > COPY_SLACK)
			memcpy(sym + out + COPY_SLACK, tok + COPY_SLACK, tl - COPY_SLACK);
		out += tl;
	}
	sym[out] = '\0';
	return out;
}

/*
 * Walk every record with one of the two length forms, checking each, and
 * hand it to @fn, expanded when @names is set.  Checking needs no
 * expansion: the length is the sum of the token lengths, and printable
 * tokens make a printable name.  *used_long tells whether any record had a
 * 2-byte length.
 */
static int decode_names(struct kallsyms_reader *r, bool long_form, bool names, bool *used_long,
			record_fn fn, void *ctx, struct bw_error *err)
{
	char sym[KSYM_NAME_LEN + 1 + COPY_SLACK];
	size_t pos = 0, expanded = 0;
	int ret;

	*used_long = false;
	names_rewind(&r->names);
	for (uint32_t i = 0; i < r->num; i++) {
		const uint8_t *rec;
		size_t len, hdr = 1, out = 0;
		bool printable = true;
		char type = 0;

		rec = names_get(r, pos, 2, i, NULL);
		if (!rec)	/* maybe a 1-byte length and a 1-byte record ending the memory */
			rec = names_get(r, pos, 1, i, err);
		if (!rec)
			return err ? err->code : -EFAULT;
		len = rec[0];
		if (long_form && (len & 0x80)) {
			rec = names_get(r, pos, 2, i, err);
			if (!rec)
				return err ? err->code : -EFAULT;
			len = (len & 0x7f) | (size_t)rec[1] << 7;
			hdr = 2;
			*used_long = true;
		}
		if (len == 0)
			return bw_error_set(err, -EINVAL,
					    "kallsyms_names record %" PRIu32 " at +%#zx is empty", i,
					    pos);
		if (len > KSYM_NAME_LEN)
			return bw_error_set(err, -EINVAL,
					    "kallsyms_names record %" PRIu32 " at +%#zx claims %zu bytes, more than KSYM_NAME_LEN",
					    i, pos, len);
		rec = names_get(r, pos, hdr + len, i, err);
		if (!rec)
			return err ? err->code : -EFAULT;
		rec += hdr;
		for (size_t k = 0; k < len; k++) {
			uint8_t b = rec[k];

			if (!type && r->token_len[b])
				type = r->token[b][0];
			out += r->token_len[b];
			printable &= r->token_printable[b];
		}
		if (out > KSYM_NAME_LEN)
			return bw_error_set(err, -EINVAL,
					    "kallsyms_names record %" PRIu32 " at +%#zx expands to %zu characters, more than KSYM_NAME_LEN",
					    i, pos, out);
		if (out < 2 || !is_type_char(type))
			return bw_error_set(err, -EINVAL,
					    "kallsyms_names record %" PRIu32 " at +%#zx is not a type letter and a name",
					    i, pos);
		if (!printable)
			return bw_error_set(err, -EINVAL,
					    "kallsyms_names record %" PRIu32 " at +%#zx has a control or non-ASCII byte in its name",
					    i, pos);
		expanded += out;
		if (expanded > KALLSYMS_MAX_EXPANDED_BYTES)
			return bw_error_set(err, -E2BIG, "kallsyms names expand to more than %u MiB",
					    KALLSYMS_MAX_EXPANDED_BYTES >> 20);
		if (names || out == 7)
			expand(r, rec, len, sym);
		ret = fn(r, ctx, i, type, names || out == 7 ? sym + 1 : NULL, out - 1, err);
		if (ret < 0)
			return ret;
		pos += hdr + len;
	}
	return 0;
}

static int find_stext(struct kallsyms_reader *r, void *ctx, uint32_t i, char type,
		      const char *name, size_t name_len, struct bw_error *err)
{
	int64_t *stext_idx = ctx;

	(void)r;
	(void)type;
	(void)err;
	if (*stext_idx < 0 && name && name_len == 6 && memcmp(name, "_stext", 6) == 0)
		*stext_idx = i;
	return 0;
}

static bool encoding_available(const struct kallsyms_reader *r, enum bw_kallsyms_encoding enc)
{
	switch (enc) {
	case BW_KALLSYMS_ABSOLUTE:
		return r->t->addresses != 0;
	case BW_KALLSYMS_BASE_RELATIVE:
	case BW_KALLSYMS_ABSOLUTE_PERCPU:
		return r->t->offsets != 0 && r->have_relative_base;
	case BW_KALLSYMS_PLACE_RELATIVE:
		return r->t->offsets != 0;
	}
	return false;
}

static uint64_t decode_offset(const struct kallsyms_reader *r, enum bw_kallsyms_encoding enc,
			      uint64_t entry_va, uint32_t raw)
{
	int32_t off = (int32_t)raw;

	switch (enc) {
	case BW_KALLSYMS_BASE_RELATIVE:
		return r->relative_base + raw;
	case BW_KALLSYMS_ABSOLUTE_PERCPU:
		if (off >= 0)
			return (uint64_t)off;
		return r->relative_base - 1 - (uint64_t)(int64_t)off;
	case BW_KALLSYMS_PLACE_RELATIVE:
		return entry_va + (uint64_t)(int64_t)off;
	case BW_KALLSYMS_ABSOLUTE:
		break;
	}
	return 0;
}

static uint64_t table_base(const struct kallsyms_reader *r, enum bw_kallsyms_encoding enc)
{
	return enc == BW_KALLSYMS_ABSOLUTE ? r->t->addresses : r->t->offsets;
}

static size_t entry_size(enum bw_kallsyms_encoding enc)
{
	return enc == BW_KALLSYMS_ABSOLUTE ? 8 : 4;
}

static const char *table_name(enum bw_kallsyms_encoding enc)
{
	return enc == BW_KALLSYMS_ABSOLUTE ? "kallsyms_addresses" : "kallsyms_offsets";
}

/* Where symbol @idx is under @enc (one entry read). */
static int address_of(const struct kallsyms_reader *r, enum bw_kallsyms_encoding enc, uint32_t idx,
		      uint64_t *addr, struct bw_error *err)
{
	uint64_t va = table_base(r, enc) + entry_size(enc) * idx;
	uint32_t raw;
	int ret;

	if (enc == BW_KALLSYMS_ABSOLUTE)
		return read_table(r, "kallsyms_addresses[_stext]", va, addr, 8, err);
	ret = read_table(r, "kallsyms_offsets[_stext]", va, &raw, 4, err);
	if (ret < 0)
		return ret;
	*addr = decode_offset(r, enc, va, raw);
	return 0;
}

/*
 * Which address encoding puts symbol @stext_idx at SYMBOL(_stext)?
 * -ENOENT with @why describing what each one gave when none does.
 */
static int pick_encoding(const struct kallsyms_reader *r, int64_t stext_idx,
			 enum bw_kallsyms_encoding *picked, char *why, size_t why_size,
			 struct bw_error *err)
{
	static const enum bw_kallsyms_encoding order[] = {
		BW_KALLSYMS_PLACE_RELATIVE, BW_KALLSYMS_BASE_RELATIVE,
		BW_KALLSYMS_ABSOLUTE_PERCPU, BW_KALLSYMS_ABSOLUTE,
	};
	size_t used = 0;

	why[0] = '\0';
	if (stext_idx < 0) {
		snprintf(why, why_size, "no symbol is named _stext");
		return -ENOENT;
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		uint64_t addr;
		int ret;

		if (!encoding_available(r, order[i]))
			continue;
		ret = address_of(r, order[i], (uint32_t)stext_idx, &addr, err);
		if (ret < 0)
			return ret;
		if (addr == r->t->stext) {
			*picked = order[i];
			return 0;
		}
		if (used < why_size) {
			int n = snprintf(why + used, why_size - used, "%s%s gives %#" PRIx64,
					 used ? ", " : "", bw_kallsyms_encoding_name(order[i]), addr);
			if (n > 0)
				used += (size_t)n;
		}
	}
	if (!used)
		snprintf(why, why_size, "no address table to try");
	return -ENOENT;
}

/* The second pass: each record with its address into the symbol table. */
struct fill_ctx {
	struct bw_symtab *tab;
	enum bw_kallsyms_encoding enc;
	uint8_t *chunk;		/* [READ_CHUNK] of the address table */
	uint32_t first;		/* symbol number of the chunk's first entry */
	uint32_t n;		/* entries in the chunk */
};

static int fill_symbol(struct kallsyms_reader *r, void *ctx, uint32_t i, char type,
		       const char *name, size_t name_len, struct bw_error *err)
{
	struct fill_ctx *f = ctx;
	size_t entry = entry_size(f->enc);
	uint64_t va, addr;
	int ret;

	(void)name_len;
	if (i < f->first || i - f->first >= f->n) {
		uint32_t per_chunk = (uint32_t)(READ_CHUNK / entry);

		f->first = i;
		f->n = r->num - i < per_chunk ? r->num - i : per_chunk;
		ret = read_table(r, table_name(f->enc), table_base(r, f->enc) + entry * i, f->chunk,
				 f->n * entry, err);
		if (ret < 0)
			return ret;
	}
	va = table_base(r, f->enc) + entry * i;
	if (entry == 8) {
		memcpy(&addr, f->chunk + 8 * (i - f->first), 8);
	} else {
		uint32_t raw;

		memcpy(&raw, f->chunk + 4 * (i - f->first), 4);
		addr = decode_offset(r, f->enc, va, raw);
	}
	ret = bw_symtab_add(f->tab, name, addr, type);
	if (ret < 0)
		return bw_error_set(err, ret, "adding symbol %s: %s", name, strerror(-ret));
	return 0;
}

static int build_symtab(struct kallsyms_reader *r, bool long_form, enum bw_kallsyms_encoding enc,
			struct bw_symtab **out, struct bw_error *err)
{
	struct fill_ctx f = { .enc = enc };
	const struct bw_symbol *stext;
	uint64_t base = table_base(r, enc);
	bool used_long;
	int ret;

	if (base + (uint64_t)r->num * entry_size(enc) < base)
		return bw_error_set(err, -EINVAL,
				    "decoding kallsyms: %s at %#" PRIx64 " wraps around",
				    table_name(enc), base);
	f.tab = bw_symtab_new();
	f.chunk = malloc(READ_CHUNK);
	if (!f.tab || !f.chunk) {
		ret = bw_error_set(err, -ENOMEM, "decoding kallsyms: out of memory");
		goto out;
	}
	ret = decode_names(r, long_form, true, &used_long, fill_symbol, &f, err);
	if (ret < 0) {
		if (err)
			bw_error_prefix(err, "decoding kallsyms");
		goto out;
	}
	ret = bw_symtab_finish(f.tab);
	if (ret < 0) {
		ret = bw_error_set(err, ret, "decoding kallsyms: indexing symbols: %s",
				   strerror(-ret));
		goto out;
	}
	/* The tables are read-only data; if they moved between passes, trust neither. */
	stext = bw_symtab_lookup(f.tab, "_stext");
	if (!stext || stext->addr != r->t->stext) {
		ret = bw_error_set(err, -EAGAIN,
				   "decoding kallsyms: the tables changed while being read");
		goto out;
	}
	*out = f.tab;
	f.tab = NULL;
out:
	bw_symtab_free(f.tab);
	free(f.chunk);
	return ret;
}

static int check_tables(const struct bw_kallsyms_tables *t, struct bw_error *err)
{
	const char *missing = NULL;

	if (!t->num_syms)
		missing = "kallsyms_num_syms";
	else if (!t->names)
		missing = "kallsyms_names";
	else if (!t->token_table)
		missing = "kallsyms_token_table";
	else if (!t->token_index)
		missing = "kallsyms_token_index";
	else if (!t->offsets && !t->addresses)
		missing = "kallsyms_offsets (or kallsyms_addresses)";
	else if (!t->stext)
		missing = "_stext";
	if (missing)
		return bw_error_set(err, -ENOENT,
				    "decoding kallsyms: VMCOREINFO has no SYMBOL(%s) (kernel older than 6.0 or without CONFIG_KALLSYMS?)",
				    missing);
	return 0;
}

int bw_kallsyms_load(const struct bw_addrspace *kva, const struct bw_kallsyms_tables *tables,
		     struct bw_symtab **out, struct bw_kallsyms_info *info, struct bw_error *err)
{
	struct kallsyms_reader r = { .kva = kva, .t = tables };
	enum bw_kallsyms_encoding enc = BW_KALLSYMS_PLACE_RELATIVE;
	struct bw_error form_err[2];
	char why[2][200];
	bool used_long[2] = { false, false };
	int nforms = 0, chosen = -1, ret;

	*out = NULL;
	ret = check_tables(tables, err);
	if (ret < 0)
		return ret;
	ret = read_table(&r, "kallsyms_num_syms", tables->num_syms, &r.num, 4, err);
	if (ret < 0)
		return ret;
	if (r.num == 0 || r.num > KALLSYMS_MAX_SYMBOLS)
		return bw_error_set(err, -EINVAL,
				    "decoding kallsyms: kallsyms_num_syms is %" PRIu32 ", not in 1..%u",
				    r.num, KALLSYMS_MAX_SYMBOLS);
	if (tables->relative_base) {
		ret = read_table(&r, "kallsyms_relative_base", tables->relative_base,
				 &r.relative_base, 8, err);
		if (ret < 0)
			return ret;
		r.have_relative_base = true;
	}
	r.names.buf = malloc(NAMES_WINDOW);
	if (!r.names.buf) {
		ret = bw_error_set(err, -ENOMEM, "decoding kallsyms: out of memory");
		goto out;
	}
	ret = load_tokens(&r, err);
	if (ret < 0)
		goto out;

	/*
	 * First pass: check every record and find "_stext", for each length
	 * form.  Two-byte lengths first: every kernel since 6.1 uses them.
	 * Unless a record actually had a two-byte length, the one-byte form
	 * reads the very same records (and fails or matches the same way), so
	 * it is tried only when the two forms differ.
	 */
	for (int f = 0; f < 2; f++) {
		int64_t stext_idx = -1;

		if (f == 1 && !used_long[0])
			break;
		nforms++;
		bw_error_clear(&form_err[f]);
		ret = decode_names(&r, f == 0, false, &used_long[f], find_stext, &stext_idx,
				   &form_err[f]);
		if (ret < 0) {
			snprintf(why[f], sizeof(why[f]), "%s", form_err[f].msg);
			continue;
		}
		ret = pick_encoding(&r, stext_idx, &enc, why[f], sizeof(why[f]), err);
		if (ret == 0) {
			chosen = f;
			break;
		}
		if (ret != -ENOENT)
			goto out;
		form_err[f].code = ret;
	}
	if (chosen < 0) {
		if (nforms == 1)
			ret = bw_error_set(err, form_err[0].code,
					   "decoding kallsyms: no decoding reproduces SYMBOL(_stext)=%#" PRIx64 ": %s",
					   tables->stext, why[0]);
		else
			ret = bw_error_set(err, form_err[0].code,
					   "decoding kallsyms: no decoding reproduces SYMBOL(_stext)=%#" PRIx64 ": 2-byte lengths: %s; 1-byte lengths: %s",
					   tables->stext, why[0], why[1]);
		goto out;
	}

	/* Second pass: the chosen form and encoding, straight into the table. */
	ret = build_symtab(&r, chosen == 0, enc, out, err);
	if (ret < 0)
		goto out;
	if (info) {
		info->encoding = enc;
		info->long_names = chosen == 0 && used_long[0];
		info->count = r.num;
	}
out:
	free(r.token_table);
	free(r.names.buf);
	return ret;
}
