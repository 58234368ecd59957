/* SPDX-License-Identifier: MIT */
/*
 * Resolving a watch's dot-path through the BTF of a BPF object, and
 * decoding the leaf bytes it points at.
 *
 * The format (include/uapi/linux/btf.h, Documentation/bpf/btf.rst):
 *
 *   BTF is a table of types numbered from 1 (0 is void).  Each type is a
 *   struct btf_type { name_off, info, size|type } followed by data that
 *   depends on its kind (info bits 24..28; bits 0..15 are vlen, bit 31 is
 *   kind_flag).  libbpf parses the blob; this file only follows ids:
 *
 *     INT       size in bytes, then a u32: encoding (SIGNED, CHAR or BOOL,
 *               at most one), bit offset, number of bits.  C ints have
 *               offset 0 and bits == size * 8; the other forms are how an
 *               older encoding spelled bitfields (below).
 *     ENUM      size 1/2/4/8 and vlen { name_off, s32 val }.
 *     ENUM64    size 1/2/4/8 and vlen { name_off, val_lo32, val_hi32 }.
 *     STRUCT, UNION  size and vlen struct btf_member { name_off, type,
 *               offset }.  An anonymous member has name_off 0; C makes
 *               its members names of the enclosing struct.
 *     ARRAY     struct btf_array { elem type, index type, nelems }; clang
 *               and pahole collapse a[5][6] into 30 elements, but chained
 *               arrays are legal and indexed one level per "[N]".
 *     TYPEDEF, CONST, VOLATILE, RESTRICT, TYPE_TAG  a name or qualifier
 *               around another type id: followed, never a leaf.
 *     VAR       a global variable: its type and linkage.
 *     DATASEC   a section (.bss, .data, .rodata) with vlen struct
 *               btf_var_secinfo { VAR type id, offset, size }.  libbpf
 *               makes one array map per section whose single value is the
 *               whole section, and its btf_value_type_id is the DATASEC.
 *     PTR, FUNC, FUNC_PROTO, FWD, FLOAT, DECL_TAG  never readable leaves
 *               here; a path never follows a pointer because the pointee
 *               is not in the map value.
 *
 *   Member positions, two encodings (both still produced):
 *     kind_flag 0: btf_member.offset is the bit offset; a bitfield is a
 *               member whose INT type has fewer bits (and maybe a bit
 *               offset) than its size.
 *     kind_flag 1: offset bits 0..23 are the bit offset, bits 24..31 the
 *               bitfield size (0 = not a bitfield), and the member type is
 *               a plain int or enum.  Introduced by kernel commit
 *               9d5f9f701b18 (btf.rst explains both modes there).
 *
 * History that matters here: VAR and DATASEC came with commit
 * 1dc92851849c ("bpf: kernel side support for BTF Var and DataSec", 5.2);
 * FLOAT with 8fd886911a6a; DECL_TAG with b5ea834dde6b; TYPE_TAG with
 * 8c42d2fa4eea; ENUM64 and the enum kind_flag with 6089fb325cf7 ("bpf: Add
 * btf enum64 support", 6.0).  Before 6.0 an enum's kind_flag was always 0
 * and values narrower than 4 bytes were stored sign-extended, so the
 * signedness of an old enum can only be inferred from its values.  libbpf
 * clears the enum kind_flag before loading BTF into a kernel without
 * ENUM64; every kernel with sched_ext has it, so the flag is authoritative
 * for the objects watched here.
 *
 * The BTF is read out of guest memory and is hostile even after libbpf
 * parsed it: libbpf 1.1 checks that each record fits in the blob and that
 * strings are terminated, but not that a type id exists, that a typedef
 * does not point at itself, or that a member lies inside its struct.  So
 * every id is looked up with a check, every type chain and every search
 * through anonymous members is bounded, and every step of the walk must
 * stay inside its parent and inside the root type.
 */
#include "field_path.h"

#include <bpf/btf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "btf_layout.h"

/*
 * Typedef/qualifier links followed before calling the chain a loop: the
 * kernel's own resolver gives up at the same depth (MAX_RESOLVE_DEPTH in
 * kernel/bpf/btf.c), so valid BTF never needs more.
 */
#define TYPE_CHAIN_MAX		32
/* Anonymous struct/union members nested inside each other: C code nests a
 * few levels; a struct with an anonymous member of its own type recurses
 * forever without this. */
#define ANON_DEPTH_MAX		16
/*
 * Members and section variables looked at by one resolve.  vlen is 16 bits
 * in the BTF libbpf 1.1 parses, but anonymous members of types with many
 * anonymous members multiply; this bounds the search to tens of
 * milliseconds.
 */
#define MEMBER_VISITS_MAX	(1u << 20)
/* Longest bad path quoted back in a message (the rest is cut with "..."). */
#define QUOTE_MAX		64
/* Room for the "*" and "[N]" parts of a displayed type. */
#define DESCRIBE_SUFFIX_MAX	48

struct segment {
	const char *name;	/* points into the path */
	size_t name_len;
	unsigned int nidx;
	uint32_t idx[BW_FIELD_INDICES_MAX];
};

struct walk {
	const struct btf *btf;
	const char *path;	/* validated: printable, shorter than BW_FIELD_PATH_MAX */
	struct bw_error *err;
	uint32_t visits;
	uint64_t root_bits;	/* size of the root type, in bits */
};

/* A member found by name, relative to the struct that was searched. */
struct member_hit {
	uint64_t bit_off;
	uint32_t type_id;
	uint32_t bitfield_size;	/* kind_flag bitfield size, 0 if none */
};

__attribute__((format(printf, 3, 4)))
static int fail(const struct walk *w, int code, const char *fmt, ...)
{
	char msg[BW_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bw_error_set(w->err, code, "field \"%s\": %s", w->path, msg);
}

/* A path that failed validation, made printable and short for a message. */
static void quote(const char *s, size_t len, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < len && o + 8 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= QUOTE_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
}

/* Names come from guest memory: keep only printable ASCII in messages. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static const char *name_of(const struct btf *btf, uint32_t name_off)
{
	const char *name = btf__name_by_offset(btf, name_off);

	return name ? name : "";
}

static bool name_is(const char *name, const char *want, size_t want_len)
{
	return strncmp(name, want, want_len) == 0 && name[want_len] == '\0';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * How a type reads in C, for messages and display: "u64", "struct foo *",
 * "u32[16]", "enum lat_class".  Qualifiers and type tags are dropped, the
 * first typedef name is kept (that is the name the program's author
 * wrote), and a loop ends the description instead of the process.
 */
static void describe(const struct btf *btf, uint32_t id, char *buf, size_t size)
{
	char suffix[DESCRIBE_SUFFIX_MAX] = "", tmp[DESCRIBE_SUFFIX_MAX];
	const char *prefix = "", *base = "<type loop>";
	char numbuf[32];

	for (unsigned int n = 0; n <= TYPE_CHAIN_MAX; n++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *name;

		if (!t) {
			snprintf(numbuf, sizeof(numbuf), "<bad type id %" PRIu32 ">", id);
			base = numbuf;
			break;
		}
		name = name_of(btf, t->name_off);
		switch (btf_kind(t)) {
		case BTF_KIND_TYPEDEF:
			if (*name) {
				base = name;
				goto done;
			}
			id = t->type;
			continue;
		case BTF_KIND_CONST:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
			id = t->type;
			continue;
		case BTF_KIND_PTR:
			snprintf(tmp, sizeof(tmp), "*%s", suffix);
			memcpy(suffix, tmp, sizeof(suffix));
			id = t->type;
			continue;
		case BTF_KIND_ARRAY:
			snprintf(tmp, sizeof(tmp), "[%" PRIu32 "]%s", btf_array(t)->nelems, suffix);
			memcpy(suffix, tmp, sizeof(suffix));
			id = btf_array(t)->type;
			continue;
		case BTF_KIND_UNKN:
			base = "void";
			goto done;
		case BTF_KIND_INT:
		case BTF_KIND_FLOAT:
			base = *name ? name : "<anon number>";
			goto done;
		case BTF_KIND_STRUCT:
			prefix = "struct ";
			break;
		case BTF_KIND_UNION:
			prefix = "union ";
			break;
		case BTF_KIND_ENUM:
		case BTF_KIND_ENUM64:
			prefix = "enum ";
			break;
		case BTF_KIND_FWD:
			prefix = btf_kflag(t) ? "union " : "struct ";
			break;
		case BTF_KIND_FUNC:
			prefix = "function ";
			break;
		case BTF_KIND_FUNC_PROTO:
			base = "function prototype";
			goto done;
		case BTF_KIND_VAR:
			prefix = "variable ";
			break;
		case BTF_KIND_DATASEC:
			prefix = "section ";
			break;
		case BTF_KIND_DECL_TAG:
			prefix = "declaration tag ";
			break;
		default:
			snprintf(numbuf, sizeof(numbuf), "<BTF kind %u>", btf_kind(t));
			base = numbuf;
			goto done;
		}
		base = *name ? name : "<anon>";
		goto done;
	}
done:
	snprintf(buf, size, "%s%s%s%s", prefix, base, suffix[0] == '*' ? " " : "", suffix);
	sanitize(buf);
}

/*
 * Follow typedefs, qualifiers and type tags from *@id to the type that
 * gives the layout, into *@id and *@out.  -EBADMSG when a type id on the
 * way is not in the BTF (*@id is that id), -ELOOP after TYPE_CHAIN_MAX
 * links.
 */
static int strip_chain(const struct btf *btf, uint32_t *id, const struct btf_type **out)
{
	for (unsigned int n = 0; n <= TYPE_CHAIN_MAX; n++) {
		const struct btf_type *t = btf__type_by_id(btf, *id);

		if (!t)
			return -EBADMSG;
		switch (btf_kind(t)) {
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_CONST:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
			*id = t->type;
			continue;
		default:
			*out = t;
			return 0;
		}
	}
	return -ELOOP;
}

/* strip_chain() with a message; @what names the thing whose type this is. */
static int strip(struct walk *w, uint32_t id, const char *what, uint32_t *out_id,
		 const struct btf_type **out)
{
	int r = strip_chain(w->btf, &id, out);

	if (r == -EBADMSG)
		return fail(w, r, "the type of %s is type id %" PRIu32
			    ", which this BTF does not have", what, id);
	if (r < 0)
		return fail(w, r, "the type of %s is a chain of more than %d typedefs and "
			    "qualifiers (a loop in the BTF)", what, TYPE_CHAIN_MAX);
	*out_id = id;
	return 0;
}

/* The same without a message, for anonymous members merely looked into. */
static const struct btf_type *strip_quiet(const struct btf *btf, uint32_t id)
{
	const struct btf_type *t = NULL;

	return strip_chain(btf, &id, &t) == 0 ? t : NULL;
}

static bool is_composite(const struct btf_type *t)
{
	return btf_kind(t) == BTF_KIND_STRUCT || btf_kind(t) == BTF_KIND_UNION;
}

/*
 * Bits a member occupies from its bit offset: the bitfield size, an old
 * style int bitfield's offset + bits, or the size of its type.  0 when the
 * type has no size (void, function, loop): such a member fails later with
 * a message about its kind, so there is nothing to bound yet.
 */
static uint64_t member_extent(const struct btf *btf, const struct member_hit *hit)
{
	const struct btf_type *t;
	long long size;

	if (hit->bitfield_size)
		return hit->bitfield_size;
	t = strip_quiet(btf, hit->type_id);
	if (t && btf_kind(t) == BTF_KIND_INT)
		return (uint64_t)btf_int_offset(t) + btf_int_bits(t);
	size = btf__resolve_size(btf, hit->type_id);
	return size > 0 ? (uint64_t)size * 8 : 0;
}

/* A member must lie inside the struct that declares it (hostile BTF). */
static int check_inside(struct walk *w, const struct btf_type *container,
			const struct member_hit *hit, const char *name, size_t name_len)
{
	uint64_t end = hit->bit_off + member_extent(w->btf, hit);

	if (end > (uint64_t)container->size * 8)
		return fail(w, -EBADMSG, "the BTF places member \"%.*s\" at bits %" PRIu64
			    "..%" PRIu64 ", outside its %u-byte %s", (int)name_len, name,
			    hit->bit_off, end, container->size,
			    btf_kind(container) == BTF_KIND_UNION ? "union" : "struct");
	return 0;
}

/*
 * Find member @name of struct/union @ct, looking through anonymous
 * struct/union members in declaration order (C forbids a name twice, so
 * the first match is the only one in valid BTF).  1 when found, 0 when
 * not, or a negative errno.
 */
static int find_member(struct walk *w, const struct btf_type *ct, const char *name,
		       size_t name_len, unsigned int depth, struct member_hit *hit)
{
	const struct btf_member *m = btf_members(ct);
	unsigned int vlen = btf_vlen(ct);

	for (unsigned int i = 0; i < vlen; i++) {
		const char *mname = name_of(w->btf, m[i].name_off);
		const struct btf_type *sub;
		int r;

		if (++w->visits > MEMBER_VISITS_MAX)
			return fail(w, -ELOOP, "looking up \"%.*s\" visited more than %u members "
				    "(anonymous members nested too widely)", (int)name_len, name,
				    MEMBER_VISITS_MAX);
		if (*mname) {
			if (!name_is(mname, name, name_len))
				continue;
			hit->bit_off = btf_member_bit_offset(ct, i);
			hit->type_id = m[i].type;
			hit->bitfield_size = btf_member_bitfield_size(ct, i);
			r = check_inside(w, ct, hit, name, name_len);
			return r < 0 ? r : 1;
		}
		/* Unnamed bitfields are padding; unnamed structs/unions are transparent. */
		if (btf_member_bitfield_size(ct, i))
			continue;
		sub = strip_quiet(w->btf, m[i].type);
		if (!sub || !is_composite(sub))
			continue;
		if (depth + 1 >= ANON_DEPTH_MAX)
			return fail(w, -ELOOP, "looking up \"%.*s\" went through more than %d "
				    "nested anonymous members (a loop in the BTF?)",
				    (int)name_len, name, ANON_DEPTH_MAX);
		r = find_member(w, sub, name, name_len, depth + 1, hit);
		if (r <= 0) {
			if (r < 0)
				return r;
			continue;
		}
		hit->bit_off += btf_member_bit_offset(ct, i);
		r = check_inside(w, ct, hit, name, name_len);
		return r < 0 ? r : 1;
	}
	return 0;
}

/* Every step must stay inside the root type: bounds all later arithmetic. */
static int check_in_root(struct walk *w, uint64_t pos, const char *label)
{
	if (pos > w->root_bits)
		return fail(w, -EBADMSG, "the BTF places \"%s\" at byte %" PRIu64
			    ", beyond the %" PRIu64 "-byte map value type", label, pos / 8,
			    w->root_bits / 8);
	return 0;
}

/* Parse and validate the path syntax into @segs. */
static int parse_path(struct walk *w, const char *path, struct segment *segs,
		      unsigned int *nseg)
{
	char q[QUOTE_MAX * 4 + 8];
	size_t len, i = 0;

	if (!path)
		return bw_error_set(w->err, -EINVAL, "field path: none given");
	len = strnlen(path, BW_FIELD_PATH_MAX);
	if (len == 0)
		return bw_error_set(w->err, -EINVAL, "field \"\": the path is empty");
	if (len >= BW_FIELD_PATH_MAX) {
		quote(path, len, q, sizeof(q));
		return bw_error_set(w->err, -EINVAL, "field \"%s\": longer than %d bytes", q,
				    BW_FIELD_PATH_MAX - 1);
	}
	for (i = 0; i < len; i++) {
		char c = path[i];

		if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '[' && c != ']') {
			quote(path, len, q, sizeof(q));
			return bw_error_set(w->err, -EINVAL, "field \"%s\": byte 0x%02x at position "
					    "%zu is not allowed (a path is C names joined by '.', "
					    "each optionally followed by [N])", q,
					    (unsigned int)(unsigned char)c, i);
		}
	}
	/* From here the path is printable and short: messages can quote it. */
	w->path = path;
	*nseg = 0;
	i = 0;
	for (;;) {
		struct segment *s;

		if (*nseg == BW_FIELD_SEGMENTS_MAX)
			return fail(w, -EINVAL, "more than %d segments", BW_FIELD_SEGMENTS_MAX);
		if (!is_alpha(path[i])) {
			if (path[i] == '.' || path[i] == '\0')
				return fail(w, -EINVAL, "empty segment at position %zu", i);
			if (path[i] == '[')
				return fail(w, -EINVAL, "index at position %zu follows no name", i);
			return fail(w, -EINVAL, "segment at position %zu does not start with a "
				    "letter or '_'", i);
		}
		s = &segs[(*nseg)++];
		s->name = path + i;
		s->nidx = 0;
		while (is_alpha(path[i]) || is_digit(path[i]))
			i++;
		s->name_len = (size_t)(path + i - s->name);
		while (path[i] == '[') {
			size_t start = ++i;
			uint64_t v = 0;

			if (s->nidx == BW_FIELD_INDICES_MAX)
				return fail(w, -EINVAL, "more than %d indices on \"%.*s\"",
					    BW_FIELD_INDICES_MAX, (int)s->name_len, s->name);
			while (is_digit(path[i]) && i - start < BW_FIELD_INDEX_DIGITS_MAX)
				v = v * 10 + (uint64_t)(path[i++] - '0');
			if (i == start)
				return fail(w, -EINVAL, "index at position %zu is not a number",
					    start);
			if (is_digit(path[i]) || v > UINT32_MAX)
				return fail(w, -EINVAL, "index at position %zu is larger than %" PRIu32,
					    start, UINT32_MAX);
			if (path[i] != ']')
				return fail(w, -EINVAL, "index at position %zu lacks its ']'", start);
			i++;
			s->idx[s->nidx++] = (uint32_t)v;
		}
		if (path[i] == '\0')
			return 0;
		if (path[i] != '.')
			return fail(w, -EINVAL, "unexpected '%c' at position %zu", path[i], i);
		if (path[++i] == '\0')
			return fail(w, -EINVAL, "the path ends with '.'");
	}
}

/* Walk state: the object the path has reached so far. */
struct cursor {
	uint32_t type_id;	/* its declared type */
	uint64_t pos;		/* its first bit, from the start of the map value */
	uint32_t bitfield_size;	/* kind_flag bitfield member, 0 otherwise */
	char label[BW_FIELD_PATH_MAX];	/* its name as the path spells it */
};

static void label_set(struct cursor *c, const struct segment *s)
{
	snprintf(c->label, sizeof(c->label), "%.*s", (int)s->name_len, s->name);
}

/* Apply the "[N]" indices of @s to @c. */
static int apply_indices(struct walk *w, struct cursor *c, const struct segment *s)
{
	char quoted[BW_FIELD_PATH_MAX + 2], desc[BW_FIELD_TYPE_NAME_MAX];

	for (unsigned int k = 0; k < s->nidx; k++) {
		const struct btf_type *t;
		const struct btf_array *arr;
		uint64_t byte_off;
		uint32_t id;
		long long esize;
		size_t len;
		int r;

		snprintf(quoted, sizeof(quoted), "\"%s\"", c->label);
		if (c->bitfield_size)
			return fail(w, -ENOTSUP, "\"%s\" is a bitfield, not an array; it cannot be "
				    "indexed", c->label);
		r = strip(w, c->type_id, quoted, &id, &t);
		if (r < 0)
			return r;
		describe(w->btf, c->type_id, desc, sizeof(desc));
		if (btf_kind(t) != BTF_KIND_ARRAY)
			return fail(w, -ENOTSUP, "\"%s\" is %s (%s), not an array; it cannot be "
				    "indexed", c->label, bw_btf_kind_phrase(t), desc);
		arr = btf_array(t);
		if (s->idx[k] >= arr->nelems) {
			if (!arr->nelems)
				return fail(w, -ERANGE, "index %" PRIu32 " is out of range: \"%s\" "
					    "(%s) has no elements", s->idx[k], c->label, desc);
			return fail(w, -ERANGE, "index %" PRIu32 " is out of range for \"%s\" (%s): "
				    "valid indices are 0..%" PRIu32, s->idx[k], c->label, desc,
				    arr->nelems - 1);
		}
		esize = btf__resolve_size(w->btf, arr->type);
		if (esize < 0)
			return fail(w, -EBADMSG, "the elements of \"%s\" (%s) have no size",
				    c->label, desc);
		/* Both factors are below 2^32: no overflow before the root check. */
		byte_off = (uint64_t)s->idx[k] * (uint64_t)esize;
		if (byte_off > w->root_bits / 8 ||
		    c->pos + byte_off * 8 + (uint64_t)esize * 8 > w->root_bits)
			return fail(w, -EBADMSG, "element %" PRIu32 " of \"%s\" (%s) lies beyond the "
				    "%" PRIu64 "-byte map value type", s->idx[k], c->label, desc,
				    w->root_bits / 8);
		c->pos += byte_off * 8;
		c->type_id = arr->type;
		len = strlen(c->label);
		snprintf(c->label + len, sizeof(c->label) - len, "[%" PRIu32 "]", s->idx[k]);
	}
	return 0;
}

/* Step from the struct/union at @c to its member named by @s. */
static int step_member(struct walk *w, struct cursor *c, const struct segment *s)
{
	char quoted[BW_FIELD_PATH_MAX + 2], desc[BW_FIELD_TYPE_NAME_MAX];
	const struct btf_type *t;
	struct member_hit hit;
	uint32_t id;
	int r;

	snprintf(quoted, sizeof(quoted), "\"%s\"", c->label);
	r = strip(w, c->type_id, quoted, &id, &t);
	if (r < 0)
		return r;
	describe(w->btf, c->type_id, desc, sizeof(desc));
	if (c->bitfield_size)
		return fail(w, -ENOTSUP, "\"%s\" is a bitfield (%s), which has no members",
			    c->label, desc);
	if (btf_kind(t) == BTF_KIND_PTR)
		return fail(w, -ENOTSUP, "\"%s\" is a pointer (%s); a path cannot follow a "
			    "pointer, only members stored in the map value", c->label, desc);
	if (!is_composite(t))
		return fail(w, -ENOTSUP, "\"%s\" is %s (%s), which has no members", c->label,
			    bw_btf_kind_phrase(t), desc);
	r = find_member(w, t, s->name, s->name_len, 0, &hit);
	if (r < 0)
		return r;
	if (r == 0)
		return fail(w, -ENOENT, "%s has no member \"%.*s\"", desc, (int)s->name_len,
			    s->name);
	c->pos += hit.bit_off;
	c->type_id = hit.type_id;
	c->bitfield_size = hit.bitfield_size;
	label_set(c, s);
	return check_in_root(w, c->pos, c->label);
}

/* The root is a DATASEC: the first segment names one of its variables. */
static int step_variable(struct walk *w, const struct btf_type *sec, struct cursor *c,
			 const struct segment *s)
{
	const struct btf_var_secinfo *vsi = btf_var_secinfos(sec);
	unsigned int vlen = btf_vlen(sec);
	char secname[BW_FIELD_TYPE_NAME_MAX];

	for (unsigned int i = 0; i < vlen; i++) {
		const struct btf_type *var;
		long long tsize;

		if (++w->visits > MEMBER_VISITS_MAX)
			return fail(w, -ELOOP, "the section has more than %u variables",
				    MEMBER_VISITS_MAX);
		var = btf__type_by_id(w->btf, vsi[i].type);
		/* Only VARs belong in a section; anything else cannot be named. */
		if (!var || btf_kind(var) != BTF_KIND_VAR ||
		    !name_is(name_of(w->btf, var->name_off), s->name, s->name_len))
			continue;
		label_set(c, s);
		if ((uint64_t)vsi[i].offset + vsi[i].size > sec->size)
			return fail(w, -EBADMSG, "the BTF places variable \"%s\" at bytes %" PRIu32
				    "..%" PRIu64 ", outside its %u-byte section", c->label,
				    vsi[i].offset, (uint64_t)vsi[i].offset + vsi[i].size,
				    sec->size);
		tsize = btf__resolve_size(w->btf, var->type);
		if (tsize > (long long)vsi[i].size)
			return fail(w, -EBADMSG, "variable \"%s\" is %lld bytes but its section "
				    "entry holds %" PRIu32, c->label, tsize, vsi[i].size);
		c->type_id = var->type;
		c->pos = (uint64_t)vsi[i].offset * 8;
		c->bitfield_size = 0;
		return 0;
	}
	snprintf(secname, sizeof(secname), "%s", name_of(w->btf, sec->name_off));
	sanitize(secname);
	return fail(w, -ENOENT, "%s has no variable \"%.*s\"",
		    secname[0] ? secname : "the data section", (int)s->name_len, s->name);
}

static bool enum_is_signed(const struct btf_type *t)
{
	unsigned int vlen = btf_vlen(t);

	if (btf_kflag(t))
		return true;
	/* Pre-6.0 BTF: values narrower than the value field were sign-extended. */
	if (btf_kind(t) == BTF_KIND_ENUM) {
		const struct btf_enum *e = btf_enum(t);
		uint32_t max;

		if (t->size >= 4)
			return false;
		max = (1u << (t->size * 8)) - 1;
		for (unsigned int i = 0; i < vlen; i++)
			if ((uint32_t)e[i].val > max)
				return true;
	} else {
		const struct btf_enum64 *e = btf_enum64(t);
		uint64_t max;

		if (t->size >= 8)
			return false;
		max = (1ull << (t->size * 8)) - 1;
		for (unsigned int i = 0; i < vlen; i++)
			if (btf_enum64_value(&e[i]) > max)
				return true;
	}
	return false;
}

static bool is_load_size(uint32_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

/* Turn the object at @c into a leaf description, or say why it is not one. */
static int make_leaf(struct walk *w, const struct cursor *c, struct bw_field *out)
{
	char quoted[BW_FIELD_PATH_MAX + 2], desc[BW_FIELD_TYPE_NAME_MAX];
	const struct btf_type *t;
	enum bw_field_kind kind;
	uint64_t pos, bits, type_bits;
	bool is_signed;
	uint32_t id;
	int r;

	snprintf(quoted, sizeof(quoted), "\"%s\"", c->label);
	r = strip(w, c->type_id, quoted, &id, &t);
	if (r < 0)
		return r;
	describe(w->btf, c->type_id, desc, sizeof(desc));

	switch (btf_kind(t)) {
	case BTF_KIND_INT: {
		uint8_t enc = btf_int_encoding(t), nbits = btf_int_bits(t), ioff = btf_int_offset(t);

		if (enc != 0 && enc != BTF_INT_SIGNED && enc != BTF_INT_CHAR && enc != BTF_INT_BOOL)
			return fail(w, -EBADMSG, "\"%s\" has an integer type (%s) with encoding "
				    "%#x, which BTF does not define", c->label, desc, enc);
		if (!is_load_size(t->size))
			return fail(w, -ENOTSUP, "\"%s\" is an integer of %u bytes (%s); only "
				    "integers of 1, 2, 4 and 8 bytes can be read", c->label,
				    t->size, desc);
		if (nbits == 0 || (uint32_t)ioff + nbits > t->size * 8)
			return fail(w, -EBADMSG, "\"%s\" has an integer type (%s) of %u bits at "
				    "bit %u, which does not fit in its %u bytes", c->label, desc,
				    nbits, ioff, t->size);
		is_signed = enc == BTF_INT_SIGNED;
		kind = enc == BTF_INT_BOOL ? BW_FIELD_BOOL : BW_FIELD_INT;
		type_bits = (uint64_t)t->size * 8;
		if (c->bitfield_size) {
			/* kind_flag bitfields sit on plain ints only (btf.rst 2.2.4). */
			if (ioff != 0 || nbits != type_bits)
				return fail(w, -EBADMSG, "bitfield \"%s\" has an integer type (%s) "
					    "that is itself a bitfield", c->label, desc);
			pos = c->pos;
			bits = c->bitfield_size;
		} else {
			pos = c->pos + ioff;
			bits = nbits;
		}
		break;
	}
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		if (!is_load_size(t->size))
			return fail(w, -EBADMSG, "\"%s\" is an enum of %u bytes (%s); BTF enums "
				    "are 1, 2, 4 or 8 bytes", c->label, t->size, desc);
		is_signed = enum_is_signed(t);
		kind = BW_FIELD_ENUM;
		type_bits = (uint64_t)t->size * 8;
		pos = c->pos;
		bits = c->bitfield_size ? c->bitfield_size : type_bits;
		break;
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = btf_array(t);
		const struct btf_type *et = strip_quiet(w->btf, a->type);

		if (et && btf_kind(et) == BTF_KIND_INT && et->size == 1 && a->nelems > 0 &&
		    (btf_int_encoding(et) & BTF_INT_CHAR ||
		     !strcmp(name_of(w->btf, et->name_off), "char"))) {
			uint64_t len = a->nelems < BW_FIELD_TEXT_MAX ? a->nelems : BW_FIELD_TEXT_MAX;

			if (c->pos % 8 || c->pos / 8 + len > w->root_bits / 8)
				return fail(w, -EBADMSG, "the BTF places text \"%s\" at bit %" PRIu64
					    ", beyond the %" PRIu64 "-byte map value type", c->label,
					    c->pos, w->root_bits / 8);
			memset(out, 0, sizeof(*out));
			out->offset = c->pos / 8;
			out->kind = BW_FIELD_TEXT;
			out->text_len = (uint32_t)len;
			out->type_id = c->type_id;
			out->root_size = (uint32_t)(w->root_bits / 8);
			snprintf(out->type_name, sizeof(out->type_name), "%s", desc);
			snprintf(out->path, sizeof(out->path), "%s", w->path);
			return 0;
		}
		return fail(w, -ENOTSUP, "\"%s\" is an array (%s); name one element, e.g. "
			    "\"%s[0]\"", c->label, desc, c->label);
	}
	default:
		return fail(w, -ENOTSUP, "\"%s\" is %s (%s); only integer, bool, enum and "
			    "bitfield leaves can be read", c->label, bw_btf_kind_phrase(t), desc);
	}
	if (bits > type_bits)
		return fail(w, -EBADMSG, "bitfield \"%s\" is %" PRIu64 " bits wide, wider than "
			    "its type (%s)", c->label, bits, desc);
	if (pos + bits > w->root_bits)
		return fail(w, -EBADMSG, "the BTF places \"%s\" at bits %" PRIu64 "..%" PRIu64
			    ", beyond the %" PRIu64 "-byte map value type", c->label, pos,
			    pos + bits, w->root_bits / 8);

	memset(out, 0, sizeof(*out));
	if (pos % 8 == 0 && bits == type_bits) {
		out->offset = pos / 8;
		out->width = (uint8_t)(type_bits / 8);
		out->kind = kind;
	} else {
		/* Smallest naturally aligned unit holding every bit of the field. */
		uint64_t unit_bits = 0, start = 0;

		for (uint64_t u = 8; u <= 64; u *= 2) {
			start = pos / u * u;
			if (pos + bits <= start + u) {
				unit_bits = u;
				break;
			}
		}
		if (!unit_bits)
			return fail(w, -ENOTSUP, "bitfield \"%s\" at bits %" PRIu64 "..%" PRIu64
				    " crosses an 8-byte boundary; one load cannot read it",
				    c->label, pos, pos + bits);
		out->offset = start / 8;
		out->width = (uint8_t)(unit_bits / 8);
		out->bit_offset = (uint8_t)(pos - start);
		out->bit_size = (uint8_t)bits;
		out->kind = BW_FIELD_BITFIELD;
	}
	out->is_signed = is_signed;
	out->type_id = c->type_id;
	out->root_size = (uint32_t)(w->root_bits / 8);
	snprintf(out->type_name, sizeof(out->type_name), "%s", desc);
	snprintf(out->path, sizeof(out->path), "%s", w->path);
	return 0;
}

int bw_field_resolve(const struct btf *btf, uint32_t root_type_id, const char *path,
		     struct bw_field *out, struct bw_error *err)
{
	struct segment segs[BW_FIELD_SEGMENTS_MAX];
	struct walk w = { .btf = btf, .path = "", .err = err };
	const struct btf_type *root;
	struct cursor c = { 0 };
	unsigned int nseg = 0, first;
	char desc[BW_FIELD_TYPE_NAME_MAX];
	uint32_t root_id;
	int r;

	if (!btf || !out)
		return bw_error_set(err, -EINVAL, "resolving a field: no BTF or no output");
	r = parse_path(&w, path, segs, &nseg);
	if (r < 0)
		return r;
	r = strip(&w, root_type_id, "the map value", &root_id, &root);
	if (r < 0)
		return r;
	w.root_bits = (uint64_t)root->size * 8;
	c.type_id = root_type_id;
	if (btf_kind(root) == BTF_KIND_DATASEC) {
		r = step_variable(&w, root, &c, &segs[0]);
		if (r < 0)
			return r;
		r = apply_indices(&w, &c, &segs[0]);
		if (r < 0)
			return r;
		first = 1;
	} else if (is_composite(root)) {
		first = 0;
	} else {
		describe(btf, root_type_id, desc, sizeof(desc));
		return fail(&w, -EINVAL, "the map value type (id %" PRIu32 ") is %s (%s), not a "
			    "struct, union or data section", root_type_id, bw_btf_kind_phrase(root), desc);
	}
	for (unsigned int i = first; i < nseg; i++) {
		r = step_member(&w, &c, &segs[i]);
		if (r < 0)
			return r;
		r = apply_indices(&w, &c, &segs[i]);
		if (r < 0)
			return r;
	}
	return make_leaf(&w, &c, out);
}

int bw_field_resolve_value(const struct btf *btf, uint32_t root_type_id, struct bw_field *out,
			   struct bw_error *err)
{
	struct walk w = { .btf = btf, .path = "", .err = err };
	const struct btf_type *root;
	struct cursor c = { .type_id = root_type_id };
	uint32_t root_id;
	int r;

	if (!btf || !out)
		return bw_error_set(err, -EINVAL, "resolving a value: no BTF or no output");
	r = strip(&w, root_type_id, "the map value", &root_id, &root);
	if (r < 0)
		return r;
	if (btf_kind(root) == BTF_KIND_DATASEC || is_composite(root))
		return fail(&w, -ENOTSUP, "the map value is %s: name a member after the element "
			    "index (\"[N].member\")", bw_btf_kind_phrase(root));
	w.root_bits = (uint64_t)root->size * 8;
	snprintf(c.label, sizeof(c.label), "the map value");
	return make_leaf(&w, &c, out);
}

static bool field_is_valid(const struct bw_field *f)
{
	if (!is_load_size(f->width))
		return false;
	if (f->bit_size)
		return f->kind == BW_FIELD_BITFIELD &&
		       (unsigned int)f->bit_offset + f->bit_size <= f->width * 8u;
	return f->bit_offset == 0 && f->kind != BW_FIELD_BITFIELD;
}

int bw_field_decode(const struct bw_field *f, uint64_t raw, struct bw_value *out,
		    struct bw_error *err)
{
	unsigned int width_bits, nbits;
	uint64_t v, mask;

	if (!f || !out)
		return bw_error_set(err, -EINVAL, "decoding a field: no field or no output");
	if (!field_is_valid(f))
		return bw_error_set(err, -EINVAL, "decoding field \"%s\": not a resolved field "
				    "(width %u, bits %u+%u)", f->path, f->width, f->bit_offset,
				    f->bit_size);
	width_bits = f->width * 8u;
	if (width_bits < 64 && raw >> width_bits)
		return bw_error_set(err, -EINVAL, "decoding field \"%s\": raw value %#" PRIx64
				    " has bits above its %u-byte load", f->path, raw, f->width);
	nbits = f->bit_size ? f->bit_size : width_bits;
	v = raw >> f->bit_offset;
	mask = nbits < 64 ? (1ull << nbits) - 1 : UINT64_MAX;
	v &= mask;
	if (f->kind == BW_FIELD_BOOL && v > 1)
		return bw_error_set(err, -ERANGE, "decoding field \"%s\": bool holds %" PRIu64
				    ", not 0 or 1", f->path, v);
	out->is_signed = f->is_signed;
	if (f->is_signed) {
		if (nbits < 64 && (v >> (nbits - 1)) & 1)
			v |= ~mask;
		out->s = (int64_t)v;
	} else {
		out->u = v;
	}
	return 0;
}

int bw_field_decode_bytes(const struct bw_field *f, const void *bytes, size_t len,
			  struct bw_value *out, struct bw_error *err)
{
	const uint8_t *b = bytes;
	uint64_t raw = 0;

	if (!f || !bytes)
		return bw_error_set(err, -EINVAL, "decoding a field: no field or no bytes");
	if (len != f->width || len > 8)
		return bw_error_set(err, -EINVAL, "decoding field \"%s\": %zu bytes given for a "
				    "%u-byte load", f->path, len, f->width);
	for (size_t i = 0; i < len; i++)
		raw |= (uint64_t)b[i] << (8 * i);
	return bw_field_decode(f, raw, out, err);
}

int bw_field_check_fits(const struct bw_field *f, uint64_t value_size, struct bw_error *err)
{
	if (!f)
		return bw_error_set(err, -EINVAL, "placing a field: no field");
	if ((f->kind == BW_FIELD_TEXT ? f->text_len == 0 : !is_load_size(f->width)) ||
	    f->offset > value_size || bw_field_extent(f) > value_size - f->offset)
		return bw_error_set(err, -ERANGE, "field \"%s\": its %" PRIu64 "-byte load at "
				    "offset %" PRIu64 " does not fit in the map value of %" PRIu64
				    " bytes", f->path, bw_field_extent(f), f->offset, value_size);
	return 0;
}

int bw_field_address(const struct bw_field *f, uint64_t value_addr, uint64_t value_size,
		     uint64_t *addr, struct bw_error *err)
{
	int r = bw_field_check_fits(f, value_size, err);

	if (r < 0)
		return r;
	if (!addr)
		return bw_error_set(err, -EINVAL, "placing field \"%s\": no output", f->path);
	if (value_addr > UINT64_MAX - value_size)
		return bw_error_set(err, -ERANGE, "field \"%s\": a %" PRIu64 "-byte map value at %#"
				    PRIx64 " wraps around the address space", f->path,
				    value_size, value_addr);
	*addr = value_addr + f->offset;
	return 0;
}

/* Length of the valid UTF-8 sequence at @p (at most @n bytes), 0 if none (RFC 3629). */
static size_t utf8_sequence(const uint8_t *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and values above U+10FFFF are invalid. */
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t bw_field_text(const uint8_t *bytes, size_t n, char *out)
{
	static const char hexd[] = "0123456789abcdef";
	size_t o = 0, end = strnlen((const char *)bytes, n);

	for (size_t i = 0; i < end;) {
		uint8_t c = bytes[i];
		size_t len = c >= 0x80 ? utf8_sequence(bytes + i, end - i) : 0;

		if (len) {
			memcpy(out + o, bytes + i, len);
			o += len;
			i += len;
			continue;
		}
		if (c == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (c < 0x20 || c >= 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hexd[c >> 4];
			out[o++] = hexd[c & 15];
		} else {
			out[o++] = (char)c;
		}
		i++;
	}
	out[o] = '\0';
	return o;
}

const char *bw_field_kind_name(enum bw_field_kind kind)
{
	switch (kind) {
	case BW_FIELD_INT:	return "int";
	case BW_FIELD_BOOL:	return "bool";
	case BW_FIELD_ENUM:	return "enum";
	case BW_FIELD_BITFIELD:	return "bitfield";
	case BW_FIELD_TEXT:	return "text";
	}
	return "unknown";
}
