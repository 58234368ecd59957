/* SPDX-License-Identifier: MIT */
/*
 * Struct layouts from BTF.
 *
 * BTF (include/uapi/linux/btf.h) is a table of types, numbered from 1 (0 is
 * void).  The kinds that matter here:
 *
 *   STRUCT / UNION  size in bytes and a list of members, each with a name
 *                   (empty for an anonymous struct/union member), a type id
 *                   and an offset.  Without the kind_flag the offset is in
 *                   bits; with it, bits 0-23 are the bit offset and bits
 *                   24-31 the bitfield size (0 for an ordinary member).
 *                   Before the kind_flag existed (v5.0, 9d5f9f701b18 "bpf:
 *                   btf: fix struct/union/fwd types with kind_flag"),
 *                   bitfields were encoded as an INT type whose bit count
 *                   is narrower than its byte size, or whose bit offset is
 *                   not 0; both encodings are still produced and both are
 *                   recognised below.
 *   TYPEDEF, CONST, VOLATILE, RESTRICT, TYPE_TAG
 *                   a name or qualifier on another type; a struct reached
 *                   through them has the same layout.  Type tags (v5.17,
 *                   "bpf: Support BTF_KIND_TYPE_TAG for btf_type_tag
 *                   attributes") carry __rcu, __user, __percpu.
 *   ARRAY           element type and element count.
 *   ENUM            4-byte enumerators; kind_flag set means signed (v6.0,
 *                   "bpf: Add btf enum64 support"), otherwise
 *                   the 32-bit value is unsigned.
 *   ENUM64          the same with 64-bit values split in two u32 (v6.0,
 *                   same commit).
 *
 * A C struct may contain anonymous structs and unions whose members are
 * named as if they belonged to the outer struct (struct bpf_map's
 * "union { struct work_struct work; struct rcu_head rcu; }"); member paths
 * here look through them the way the C compiler does.
 *
 * The BTF may come out of guest memory (the kernel's own, or a BPF
 * object's), so it is not trusted: libbpf 1.1 checks section bounds when it
 * parses a blob, but accepts a member whose type id does not exist, a
 * typedef loop and a struct containing itself (test_btf_layout feeds it
 * all three).  Every id is looked up through btf__type_by_id() and
 * checked, every name may be NULL, and every chain of references is
 * bounded.
 */
#include "btf_layout.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bpf/btf.h>

/*
 * How many typedefs/qualifiers may stand between a name and its type, and
 * how deep anonymous members may nest.  Real kernel types use a handful;
 * libbpf's own resolver stops at 32 (MAX_RESOLVE_DEPTH).  A hostile BTF can
 * make a chain loop or a struct contain itself: the cap turns that into an
 * error instead of a hang or a stack overflow.
 */
#define BTF_MAX_CHAIN 32

static const char *btf_name(const struct btf *btf, const struct btf_type *t)
{
	const char *name = btf__name_by_offset(btf, t->name_off);

	return name ? name : "";
}

static bool is_qualifier(const struct btf_type *t)
{
	return btf_is_typedef(t) || btf_is_mod(t);
}

/*
 * Follow typedefs and qualifiers from @id to the type they name.  Returns
 * the type (and its id in *out_id), or NULL with an error in @err.
 * @what names the thing being resolved, for the message.
 */
static const struct btf_type *strip(const struct btf *btf, uint32_t id, uint32_t *out_id,
				    const char *what, int *ret, struct bw_error *err)
{
	for (int depth = 0; depth <= BTF_MAX_CHAIN; depth++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!t) {
			*ret = bw_error_set(err, -EINVAL, "%s: BTF type id %" PRIu32
					    " does not exist", what, id);
			return NULL;
		}
		if (!is_qualifier(t)) {
			if (out_id)
				*out_id = id;
			return t;
		}
		id = t->type;
	}
	*ret = bw_error_set(err, -ELOOP, "%s: more than %d typedefs/qualifiers in a row "
			    "(a loop in the BTF?)", what, BTF_MAX_CHAIN);
	return NULL;
}

/* "struct foo", "union (anonymous)", "int", for messages. */
static void type_desc(const struct btf *btf, const struct btf_type *t, char *buf, size_t size)
{
	const char *name = btf_name(btf, t);
	const char *prefix = btf_is_struct(t) ? "struct " : btf_is_union(t) ? "union " : "";

	if (*name)
		snprintf(buf, size, "%s%s", prefix, name);
	else
		snprintf(buf, size, "%s(anonymous)", prefix);
}

/* Split "struct foo"/"union foo" into a kind restriction and the bare name. */
static const char *parse_struct_name(const char *name, int *only_kind)
{
	*only_kind = 0;
	if (!strncmp(name, "struct ", 7)) {
		*only_kind = BTF_KIND_STRUCT;
		name += 7;
	} else if (!strncmp(name, "union ", 6)) {
		*only_kind = BTF_KIND_UNION;
		name += 6;
	}
	while (*name == ' ')
		name++;
	return name;
}

int bw_btf_struct_id(const struct btf *btf, const char *name, struct bw_error *err)
{
	const char *bare;
	int only_kind, id, ret = 0;

	if (!btf || !name)
		return bw_error_set(err, -EINVAL, "looking up a struct: no BTF or no name given");
	bare = parse_struct_name(name, &only_kind);
	if (!*bare)
		return bw_error_set(err, -EINVAL, "looking up a struct: empty name");

	if (only_kind != BTF_KIND_UNION) {
		id = btf__find_by_name_kind(btf, bare, BTF_KIND_STRUCT);
		if (id > 0)
			return id;
	}
	if (only_kind != BTF_KIND_STRUCT) {
		id = btf__find_by_name_kind(btf, bare, BTF_KIND_UNION);
		if (id > 0)
			return id;
	}
	if (!only_kind) {
		id = btf__find_by_name_kind(btf, bare, BTF_KIND_TYPEDEF);
		if (id > 0) {
			char what[160];
			const struct btf_type *t;
			uint32_t target;

			snprintf(what, sizeof(what), "typedef %s", bare);
			t = strip(btf, (uint32_t)id, &target, what, &ret, err);
			if (!t)
				return ret;
			if (!btf_is_composite(t))
				return bw_error_set(err, -ENOENT,
						    "typedef %s names %s, not a struct or union",
						    bare, bw_btf_kind_phrase(t));
			return (int)target;
		}
	}
	id = btf__find_by_name_kind(btf, bare, BTF_KIND_FWD);
	if (id > 0)
		return bw_error_set(err, -ENOENT, "struct %s is only declared in this BTF "
				    "(a forward declaration): its layout is unknown", bare);
	return bw_error_set(err, -ENOENT, "no struct or union named \"%s\" in the BTF", bare);
}

int bw_btf_struct_size(const struct btf *btf, const char *name, uint64_t *size,
		       struct bw_error *err)
{
	const struct btf_type *t;
	int id = bw_btf_struct_id(btf, name, err);

	if (id < 0)
		return id;
	t = btf__type_by_id(btf, (uint32_t)id);
	if (!t)
		return bw_error_set(err, -EINVAL, "struct %s: BTF type id %d does not exist",
				    name, id);
	if (size)
		*size = t->size;
	return 0;
}

/*
 * Is member @idx of composite @t a bitfield?  Either encoding counts: the
 * kind_flag bitfield size, an offset that is not whole bytes, or (the old
 * encoding) an INT narrower than its bytes or shifted inside them.
 */
static bool member_is_bitfield(const struct btf *btf, const struct btf_type *t, uint32_t idx)
{
	const struct btf_member *m = btf_members(t) + idx;
	const struct btf_type *mt;
	int ignored;

	if (btf_member_bitfield_size(t, idx) || btf_member_bit_offset(t, idx) % 8)
		return true;
	mt = strip(btf, m->type, NULL, "", &ignored, NULL);
	if (mt && btf_is_int(mt))
		return btf_int_offset(mt) != 0 || btf_int_bits(mt) != mt->size * 8;
	return false;
}

struct found_member {
	uint64_t bit_offset;		/* from the start of the searched composite */
	uint32_t type_id;		/* the member's own type id, unstripped */
	bool bitfield;
};

/*
 * Find member @name (@len bytes) in composite @t, looking inside anonymous
 * struct/union members as C does.  0 when found, -ENOENT when not, or
 * another negative errno (with a message) for broken BTF.
 */
static int find_member(const struct btf *btf, const struct btf_type *t, const char *name,
		       size_t len, int depth, struct found_member *out, struct bw_error *err)
{
	const struct btf_member *m = btf_members(t);
	uint32_t n = btf_vlen(t);
	int ret = 0;

	if (depth > BTF_MAX_CHAIN)
		return bw_error_set(err, -ELOOP, "anonymous members nested more than %d deep "
				    "(a struct containing itself?)", BTF_MAX_CHAIN);
	for (uint32_t i = 0; i < n; i++) {
		const char *mname = btf__name_by_offset(btf, m[i].name_off);

		if (mname && *mname) {
			if (strlen(mname) == len && !memcmp(mname, name, len)) {
				out->bit_offset = btf_member_bit_offset(t, i);
				out->type_id = m[i].type;
				out->bitfield = member_is_bitfield(btf, t, i);
				return 0;
			}
			continue;
		}
		/* An anonymous member: only a struct or union can hold names. */
		const struct btf_type *inner = strip(btf, m[i].type, NULL, "anonymous member",
						     &ret, err);
		if (!inner)
			return ret;
		if (!btf_is_composite(inner))
			continue;
		ret = find_member(btf, inner, name, len, depth + 1, out, err);
		if (ret == 0) {
			out->bit_offset += btf_member_bit_offset(t, i);
			return 0;
		}
		if (ret != -ENOENT)
			return ret;
	}
	return -ENOENT;
}

int bw_btf_member_offset(const struct btf *btf, const char *name, const char *member,
			 uint64_t *offset, uint32_t *type_id, uint64_t *size,
			 struct bw_error *err)
{
	const char *bare, *seg;
	uint64_t bits = 0;
	uint32_t cur;
	int only_kind, id, ret = 0;
	__s64 msize;

	id = bw_btf_struct_id(btf, name, err);
	if (id < 0)
		return id;
	bare = parse_struct_name(name, &only_kind);
	if (!member || !*member)
		return bw_error_set(err, -EINVAL, "struct %s: empty member path", bare);

	cur = (uint32_t)id;
	seg = member;
	for (;;) {
		const char *dot = strchr(seg, '.');
		size_t len = dot ? (size_t)(dot - seg) : strlen(seg);
		/* The path walked so far, for messages: "bpf_map.owner". */
		int done = (int)(seg - member) - 1;
		char what[BW_ERROR_MSG_MAX / 2], desc[128];
		struct found_member fm;
		const struct btf_type *t;

		if (done > 0)
			snprintf(what, sizeof(what), "%s.%.*s", bare, done, member);
		else
			snprintf(what, sizeof(what), "%s", bare);
		if (len == 0)
			return bw_error_set(err, -EINVAL, "struct %s: member path \"%s\" has an "
					    "empty segment", bare, member);
		t = strip(btf, cur, NULL, what, &ret, err);
		if (!t)
			return ret;
		if (!btf_is_composite(t))
			return bw_error_set(err, -EINVAL, "%s is %s, not a struct: cannot take "
					    "member \"%.*s\"", what, bw_btf_kind_phrase(t), (int)len, seg);
		ret = find_member(btf, t, seg, len, 0, &fm, err);
		if (ret == -ENOENT) {
			type_desc(btf, t, desc, sizeof(desc));
			if (done > 0)
				return bw_error_set(err, -ENOENT, "%s (%s) has no member \"%.*s\"",
						    what, desc, (int)len, seg);
			return bw_error_set(err, -ENOENT, "%s has no member \"%.*s\"", desc,
					    (int)len, seg);
		}
		if (ret < 0)
			return bw_error_prefix(err, "%s, member \"%.*s\"", what, (int)len, seg);
		if (fm.bitfield)
			return bw_error_set(err, -EINVAL, "%s.%.*s is a bitfield: it has no byte "
					    "offset of its own", what, (int)len, seg);
		bits += fm.bit_offset;
		cur = fm.type_id;
		if (!dot)
			break;
		seg = dot + 1;
	}

	if (bits % 8)
		return bw_error_set(err, -EINVAL, "%s.%s starts at bit %" PRIu64 ", not on a "
				    "byte boundary", bare, member, bits);
	msize = btf__resolve_size(btf, cur);
	if (msize < 0)
		return bw_error_set(err, (int)msize, "%s.%s: cannot compute the size of its "
				    "type (BTF type id %" PRIu32 ")", bare, member, cur);
	if (offset)
		*offset = bits / 8;
	if (type_id)
		*type_id = cur;
	if (size)
		*size = (uint64_t)msize;
	return 0;
}

int bw_btf_enum_value(const struct btf *btf, const char *name, int64_t *value,
		      struct bw_error *err)
{
	uint32_t n;

	if (!btf || !name || !*name)
		return bw_error_set(err, -EINVAL, "looking up an enumerator: no BTF or no name");
	n = btf__type_cnt(btf);
	for (uint32_t id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		uint32_t vlen;

		if (!t || !btf_is_any_enum(t))
			continue;
		vlen = btf_vlen(t);
		for (uint32_t i = 0; i < vlen; i++) {
			const char *ename;
			int64_t v;

			if (btf_is_enum(t)) {
				const struct btf_enum *e = btf_enum(t) + i;

				ename = btf__name_by_offset(btf, e->name_off);
				v = btf_kflag(t) ? (int64_t)e->val : (int64_t)(uint32_t)e->val;
			} else {
				const struct btf_enum64 *e = btf_enum64(t) + i;

				ename = btf__name_by_offset(btf, e->name_off);
				/* Unsigned values above INT64_MAX keep their bit pattern. */
				v = (int64_t)btf_enum64_value(e);
			}
			if (ename && !strcmp(ename, name)) {
				if (value)
					*value = v;
				return 0;
			}
		}
	}
	return bw_error_set(err, -ENOENT, "no enumerator \"%s\" in any enum of the BTF", name);
}

const char *bw_btf_kind_phrase(const struct btf_type *t)
{
	switch (btf_kind(t)) {
	case BTF_KIND_UNKN: return "void";
	case BTF_KIND_INT: return "an integer";
	case BTF_KIND_PTR: return "a pointer";
	case BTF_KIND_ARRAY: return "an array";
	case BTF_KIND_STRUCT: return "a struct";
	case BTF_KIND_UNION: return "a union";
	case BTF_KIND_ENUM: return "an enum";
	case BTF_KIND_ENUM64: return "a 64-bit enum";
	case BTF_KIND_FWD: return "an incomplete (forward-declared) type";
	case BTF_KIND_TYPEDEF: return "a typedef";
	case BTF_KIND_VOLATILE: return "a volatile qualifier";
	case BTF_KIND_CONST: return "a const qualifier";
	case BTF_KIND_RESTRICT: return "a restrict qualifier";
	case BTF_KIND_FUNC: return "a function";
	case BTF_KIND_FUNC_PROTO: return "a function prototype";
	case BTF_KIND_VAR: return "a variable";
	case BTF_KIND_DATASEC: return "a data section";
	case BTF_KIND_FLOAT: return "a float";
	case BTF_KIND_DECL_TAG: return "a declaration tag";
	case BTF_KIND_TYPE_TAG: return "a type tag";
	}
	return "a type of unknown kind";
}
