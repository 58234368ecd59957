/* SPDX-License-Identifier: MIT */
#include "btf_check.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <linux/btf.h>

/* The first version's header; later fields (none yet) must be zero. */
#define HEADER_V1 24u
#define TYPE_RECORD 12u

struct blob {
	const uint8_t *types;	/* the type section */
	uint32_t type_len;
	uint32_t str_len;	/* of this blob */
	uint32_t str_base;	/* string offsets below this are the base's */
	uint32_t id_base;	/* first type id of this blob */
	uint32_t ntypes;	/* of this blob */
};

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Bytes of trailing records after a btf_type of @kind with @vlen; -1: unknown kind. */
static int64_t extra_bytes(unsigned int kind, uint32_t vlen)
{
	switch (kind) {
	case BTF_KIND_INT:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		return 4;
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return 0;
	case BTF_KIND_ARRAY:
		return (int64_t)sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_enum);
	case BTF_KIND_ENUM64:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_enum64);
	case BTF_KIND_FUNC_PROTO:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_param);
	case BTF_KIND_DATASEC:
		return (int64_t)vlen * (int64_t)sizeof(struct btf_var_secinfo);
	default:
		return -1;
	}
}

/* Whether the btf_type's size/type word names a type of this kind. */
static bool refers_to_type(unsigned int kind)
{
	switch (kind) {
	case BTF_KIND_PTR:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FUNC_PROTO:
	case BTF_KIND_VAR:
	case BTF_KIND_TYPE_TAG:
	case BTF_KIND_DECL_TAG:
		return true;
	default:
		return false;
	}
}

static int check_name(const struct blob *b, uint32_t id, const char *what, uint32_t off,
		      struct bw_error *err)
{
	if (off >= b->str_base + b->str_len)
		return bw_error_set(err, -EINVAL, "BTF type %" PRIu32 ": %s offset %" PRIu32
				    " is past the strings (%" PRIu32 " bytes)", id, what, off,
				    b->str_base + b->str_len);
	return 0;
}

static int check_ref(const struct blob *b, uint32_t id, const char *what, uint32_t ref,
		     bool void_ok, struct bw_error *err)
{
	if ((ref == 0 && !void_ok) || ref >= b->id_base + b->ntypes)
		return bw_error_set(err, -EINVAL, "BTF type %" PRIu32 ": %s refers to type %" PRIu32
				    ", which is %s", id, what, ref,
				    ref ? "not defined" : "void where a type is needed");
	return 0;
}

/* The trailing records of type @id (kind @kind, @vlen of them at @p). */
static int check_records(const struct blob *b, uint32_t id, unsigned int kind, uint32_t vlen,
			 const uint8_t *p, struct bw_error *err)
{
	int r = 0;

	switch (kind) {
	case BTF_KIND_ARRAY:
		if ((r = check_ref(b, id, "array element", get_u32(p), false, err)) < 0 ||
		    (r = check_ref(b, id, "array index", get_u32(p + 4), false, err)) < 0)
			return r;
		break;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		for (uint32_t i = 0; i < vlen && r == 0; i++, p += sizeof(struct btf_member))
			if ((r = check_name(b, id, "member name", get_u32(p), err)) == 0)
				r = check_ref(b, id, "a member", get_u32(p + 4), false, err);
		break;
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64: {
		size_t step = kind == BTF_KIND_ENUM ? sizeof(struct btf_enum)
						    : sizeof(struct btf_enum64);

		for (uint32_t i = 0; i < vlen && r == 0; i++, p += step)
			r = check_name(b, id, "enumerator name", get_u32(p), err);
		break;
	}
	case BTF_KIND_FUNC_PROTO:
		for (uint32_t i = 0; i < vlen && r == 0; i++, p += sizeof(struct btf_param))
			if ((r = check_name(b, id, "parameter name", get_u32(p), err)) == 0)
				/* Type 0 is the "..." of a variadic function. */
				r = check_ref(b, id, "a parameter", get_u32(p + 4), true, err);
		break;
	case BTF_KIND_DATASEC:
		for (uint32_t i = 0; i < vlen && r == 0; i++, p += sizeof(struct btf_var_secinfo))
			r = check_ref(b, id, "a section variable", get_u32(p), false, err);
		break;
	default:
		break;
	}
	return r;
}

/* One pass over the type section; @refs: also check names and references. */
static int walk_types(struct blob *b, bool refs, struct bw_error *err)
{
	uint32_t off = 0, id = b->id_base;
	int r;

	while (off < b->type_len) {
		const uint8_t *t = b->types + off;
		uint32_t info, kind, vlen, size_type;
		int64_t extra;

		if (b->type_len - off < TYPE_RECORD)
			return bw_error_set(err, -EINVAL, "BTF type %" PRIu32 " at type section "
					    "offset %" PRIu32 ": %" PRIu32 " bytes left, a type takes "
					    "%u", id, off, b->type_len - off, TYPE_RECORD);
		info = get_u32(t + 4);
		size_type = get_u32(t + 8);
		kind = (info >> 24) & 0x1f;
		vlen = info & 0xffff;
		extra = extra_bytes(kind, vlen);
		if (extra < 0)
			return bw_error_set(err, -EINVAL, "BTF type %" PRIu32 ": kind %" PRIu32
					    " is not one this reader knows (1..%d)", id, kind,
					    BTF_KIND_ENUM64);
		if ((uint64_t)extra > b->type_len - off - TYPE_RECORD)
			return bw_error_set(err, -EINVAL, "BTF type %" PRIu32 ": %" PRIu32
					    " records (%" PRId64 " bytes) run past the %" PRIu32 "-byte "
					    "type section",
					    id, vlen, extra, b->type_len);
		if (refs) {
			r = check_name(b, id, "name", get_u32(t), err);
			if (r == 0 && refers_to_type(kind))
				r = check_ref(b, id, "it", size_type, kind != BTF_KIND_FUNC &&
					      kind != BTF_KIND_VAR && kind != BTF_KIND_DECL_TAG,
					      err);
			if (r == 0)
				r = check_records(b, id, kind, vlen, t + TYPE_RECORD, err);
			if (r < 0)
				return r;
		}
		off += TYPE_RECORD + (uint32_t)extra;
		if (id - b->id_base >= BTF_MAX_TYPE)
			return bw_error_set(err, -E2BIG, "BTF: more than %d types", BTF_MAX_TYPE);
		id++;
	}
	if (!refs)
		b->ntypes = id - b->id_base;
	return 0;
}

/* String-section length of @base, as libbpf adds it to a split BTF's offsets. */
static uint32_t base_strings(const struct btf *base)
{
	struct btf_header h;
	uint32_t size = 0;
	const void *raw = btf__raw_data(base, &size);

	if (!raw || size < sizeof(h))
		return 0;
	memcpy(&h, raw, sizeof(h));
	return h.str_len;
}

int bw_btf_check(const void *data, size_t size, const struct btf *base, struct bw_error *err)
{
	const uint8_t *p = data;
	struct btf_header h;
	struct blob b = { 0 };
	uint64_t types_end, strs_end;
	int r;

	if (!data || size < HEADER_V1)
		return bw_error_set(err, -EINVAL, "BTF: %zu bytes, shorter than its %u-byte header",
				    data ? size : 0, HEADER_V1);
	if (size > UINT32_MAX)
		return bw_error_set(err, -EINVAL, "BTF: %zu bytes, more than 4 GiB", size);
	memcpy(&h, p, sizeof(h));
	if (h.magic != BTF_MAGIC)
		return bw_error_set(err, -EINVAL, "BTF: magic %#06x, expected %#06x (native byte "
				    "order)", h.magic, BTF_MAGIC);
	if (h.version != BTF_VERSION || h.flags != 0)
		return bw_error_set(err, -EINVAL, "BTF: version %u, flags %#x; expected version %d, "
				    "no flags", h.version, h.flags, BTF_VERSION);
	if (h.hdr_len < HEADER_V1 || h.hdr_len % 4 || h.hdr_len > size)
		return bw_error_set(err, -EINVAL, "BTF: hdr_len %" PRIu32 " is not a multiple of 4 "
				    "from %u to the blob's %zu bytes", h.hdr_len, HEADER_V1, size);
	for (uint32_t i = HEADER_V1; i < h.hdr_len; i++)
		if (p[i])
			return bw_error_set(err, -EINVAL, "BTF: header byte %" PRIu32 " is %#x; the "
					    "header beyond %u bytes must be zero", i, p[i],
					    HEADER_V1);
	types_end = (uint64_t)h.hdr_len + h.type_off + h.type_len;
	strs_end = (uint64_t)h.hdr_len + h.str_off + h.str_len;
	if (h.type_off % 4 || h.type_len % 4 || types_end > size)
		return bw_error_set(err, -EINVAL, "BTF: type section at %" PRIu32 " of %" PRIu32
				    " bytes is not 4-aligned or not inside the %zu bytes after "
				    "the header",
				    h.type_off, h.type_len, size - h.hdr_len);
	if (strs_end > size || h.str_len == 0 || h.str_len > BTF_MAX_NAME_OFFSET)
		return bw_error_set(err, -EINVAL, "BTF: string section at %" PRIu32 " of %" PRIu32
				    " bytes is empty, larger than %d or not inside the blob",
				    h.str_off, h.str_len, BTF_MAX_NAME_OFFSET);
	if ((uint64_t)h.type_off < (uint64_t)h.str_off + h.str_len &&
	    (uint64_t)h.str_off < (uint64_t)h.type_off + h.type_len)
		return bw_error_set(err, -EINVAL, "BTF: type section [%" PRIu32 ", +%" PRIu32 ") and "
				    "string section [%" PRIu32 ", +%" PRIu32 ") overlap", h.type_off,
				    h.type_len, h.str_off, h.str_len);
	if (p[h.hdr_len + h.str_off + h.str_len - 1] != '\0')
		return bw_error_set(err, -EINVAL, "BTF: the string section does not end in NUL");
	if (!base && p[h.hdr_len + h.str_off] != '\0')
		return bw_error_set(err, -EINVAL, "BTF: the first string is not the empty string");

	b.types = p + h.hdr_len + h.type_off;
	b.type_len = h.type_len;
	b.str_len = h.str_len;
	b.str_base = base ? base_strings(base) : 0;
	b.id_base = base ? (uint32_t)btf__type_cnt(base) : 1;
	r = walk_types(&b, false, err);
	if (r == 0)
		r = walk_types(&b, true, err);
	return r;
}

/*
 * Split BTF on top of the kernel's.  Debian 12's libbpf 1.1 declares
 * btf__new_split() but its shared library does not export it, so the blob
 * goes through a memfd to btf__parse_raw_split(), which every libbpf since
 * 0.3 has.
 */
static struct btf *parse_split(const void *blob, uint32_t size, const struct btf *base)
{
	char path[64];
	struct btf *btf = NULL;
	const uint8_t *p = blob;
	uint32_t done = 0;
	int fd = memfd_create("bpfwatch-split-btf", MFD_CLOEXEC), saved;

	if (fd < 0)
		return NULL;
	while (done < size) {
		ssize_t w = write(fd, p + done, size - done);

		if (w <= 0) {
			saved = w < 0 ? errno : EIO;
			close(fd);
			errno = saved;
			return NULL;
		}
		done += (uint32_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	btf = btf__parse_raw_split(path, (struct btf *)base);
	saved = errno;
	close(fd);
	errno = saved;
	return btf;
}

int bw_btf_parse(const void *data, size_t size, const struct btf *base, struct btf **out,
		 struct bw_error *err)
{
	struct btf *btf;
	int r;

	*out = NULL;
	r = bw_btf_check(data, size, base, err);
	if (r < 0)
		return r;
	errno = 0;
	btf = base ? parse_split(data, (uint32_t)size, base) : btf__new(data, (uint32_t)size);
	if (!btf) {
		r = errno ? -errno : -EINVAL;
		return bw_error_set(err, r, "BTF does not parse: %s", strerror(-r));
	}
	*out = btf;
	return 0;
}
