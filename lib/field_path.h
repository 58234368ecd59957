/* SPDX-License-Identifier: MIT */
/*
 * Field paths: a watch names what it reads as a dot-path ("sys_stat.avg_lat",
 * "cpus[3].lat", "hist[2]") into the value of one BPF map.  The path is
 * resolved once against the BPF object's BTF into a leaf location (byte
 * offset, load width, signedness, bit position), and each tick only the
 * leaf bytes are loaded and decoded.  See field_path.c for the BTF format
 * this walks and its history.
 */
#ifndef BPFWATCH_FIELD_PATH_H
#define BPFWATCH_FIELD_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct btf;

/*
 * Path syntax: segments separated by '.', each a C identifier
 * ([A-Za-z_][A-Za-z0-9_]*) followed by zero or more "[N]" indices
 * (decimal, no sign, at most BW_FIELD_INDEX_DIGITS_MAX digits).
 */
/* Longest path, with its NUL: far above any real member chain, and it keeps
 * every message that quotes the path inside BW_ERROR_MSG_MAX. */
#define BW_FIELD_PATH_MAX	256
/* Most '.'-separated segments: real nesting is a handful of levels. */
#define BW_FIELD_SEGMENTS_MAX	32
/* Most indices on one segment ("m[1][2]" is two): arrays of arrays. */
#define BW_FIELD_INDICES_MAX	4
/* An index is a u32 (BTF array lengths are u32): ten digits at most. */
#define BW_FIELD_INDEX_DIGITS_MAX 10
/* Leaf type name kept for display ("u64", "enum lat_class", "bool"). */
#define BW_FIELD_TYPE_NAME_MAX	64

enum bw_field_kind {
	BW_FIELD_INT = 1,	/* integer or char, whole */
	BW_FIELD_BOOL,		/* BTF int with BTF_INT_BOOL, whole: decodes to 0 or 1 */
	BW_FIELD_ENUM,		/* enum or enum64, whole */
	BW_FIELD_BITFIELD,	/* a bit range of an int, bool or enum member */
	BW_FIELD_TEXT,		/* char[N]: @text_len bytes read as a NUL-terminated string */
};

/*
 * Longest char[N] read as text: far above a scheduler's names and exit
 * reasons (sched_ext keeps 128- and 1024-byte ones); a longer array is
 * read up to this many bytes, so a tick never copies more per text leaf.
 */
#define BW_FIELD_TEXT_MAX 1024
/* Room for the escaped text of BW_FIELD_TEXT_MAX bytes (\xNN each) and its NUL. */
#define BW_FIELD_TEXT_OUT_MAX (4 * BW_FIELD_TEXT_MAX + 1)

/*
 * Where a leaf sits in the map value and how to read it.  One load of
 * @width bytes at @offset (little-endian, as the guest stores it), then
 * bw_field_decode().
 *
 * Whole fields: @width is the field's size, @bit_size and @bit_offset are
 * 0.  The offset may be unaligned (packed structs); bw_field_is_aligned()
 * says whether one naturally aligned, hence untearable, load reads it.
 *
 * Bitfields: the load unit is the smallest naturally aligned 1, 2, 4 or
 * 8-byte unit (aligned relative to the start of the map value, which the
 * kernel allocates 8-byte aligned) that holds every bit of the field;
 * @bit_offset counts from the least significant bit of that
 * little-endian unit and @bit_size is 1..64.  A bitfield that straddles an
 * 8-byte boundary (only possible in packed structs) is refused at resolve
 * time.  The unit can reach past the struct that declares the bitfield
 * (never past the BTF root size for the bits themselves);
 * bw_field_check_fits() compares the whole unit with the map's value_size.
 */
struct bw_field {
	uint64_t offset;		/* byte offset of the load unit in the map value */
	uint8_t width;			/* 1, 2, 4 or 8 */
	uint8_t bit_offset;		/* bitfields only, else 0 */
	uint8_t bit_size;		/* bitfields only (1..64), else 0 */
	uint32_t text_len;		/* BW_FIELD_TEXT: bytes read (width is 0), else 0 */
	bool is_signed;			/* decode with sign extension */
	enum bw_field_kind kind;
	uint32_t type_id;		/* the leaf's declared type (typedefs kept) */
	uint32_t root_size;		/* size of the root type per BTF (DATASEC or struct) */
	char type_name[BW_FIELD_TYPE_NAME_MAX];	/* leaf type for display, may be cut */
	char path[BW_FIELD_PATH_MAX];		/* the path as resolved */
};

/* A decoded leaf: read .s when is_signed, else .u. */
struct bw_value {
	bool is_signed;
	union {
		int64_t s;
		uint64_t u;
	};
};

/*
 * Resolve @path against @btf starting at @root_type_id, the map's
 * btf_value_type_id:
 *   - a DATASEC (libbpf's .bss/.data/.rodata maps): the first segment is a
 *     variable of the section, placed at its btf_var_secinfo offset;
 *   - a struct or union (other maps): the first segment is a member.
 * Typedefs, const, volatile, restrict and type tags are followed anywhere
 * (declaration tags describe, they are never on a type chain).  Anonymous
 * struct/union members are transparent: their members are found by name
 * as if declared in the enclosing struct.  An index "[N]" selects element
 * N of an array and is bounds-checked against the BTF array length
 * (N < nelems; a flexible array, nelems 0, has no valid index).  A path
 * never goes through a pointer.
 *
 * The leaf must be an integer of 1, 2, 4 or 8 bytes, a bool, a char, an
 * enum or enum64 of 1, 2, 4 or 8 bytes, or a bitfield of one of those; or
 * an array of char (a 1-byte BTF int named "char" or with the CHAR
 * encoding), read as text (BW_FIELD_TEXT, bw_field_text()): its first
 * min(N, BW_FIELD_TEXT_MAX) bytes.
 * Enum signedness comes from the BTF kind_flag (set = signed, Linux 6.0+
 * BTF).  Without it, an enum narrower than its BTF value field (4 bytes,
 * 8 for enum64) with an enumerator outside its unsigned range holds
 * sign-extended negative values, so it is signed; anything else is
 * unsigned.
 *
 * Every failure is an error naming the full path, the segment and what was
 * found, e.g. field "stats.ops.p": "p" is a pointer (struct foo *); ...
 *   -EINVAL   bad path syntax, or a root that is not a struct, union or
 *             DATASEC
 *   -ENOENT   no such member or variable
 *   -ERANGE   index out of range
 *   -ENOTSUP  the path reaches something that cannot be read or walked
 *             (pointer, struct leaf, array without index, float, 16-byte
 *             int, bitfield across an 8-byte boundary, indexing a
 *             non-array)
 *   -ELOOP    a typedef/qualifier chain longer than any valid BTF has, or
 *             anonymous members nested too deep or too wide
 *   -EBADMSG  BTF that contradicts itself (member outside its struct, type
 *             id that does not exist, undefined int encoding)
 * @out is written only on success.
 */
int bw_field_resolve(const struct btf *btf, uint32_t root_type_id, const char *path,
		     struct bw_field *out, struct bw_error *err);

/*
 * The whole map value as the leaf (a map whose value is a bare integer,
 * bool or enum: "Field=[N]").  The same leaf rules and errors as
 * bw_field_resolve(); a struct, union or data section is -ENOTSUP.
 */
int bw_field_resolve_value(const struct btf *btf, uint32_t root_type_id, struct bw_field *out,
			   struct bw_error *err);

/*
 * Decode one load of @f->width bytes, given as the little-endian value
 * @raw (zero-extended to 64 bits): extract the bitfield, sign-extend signed
 * leaves.  -EINVAL if @f is not a resolved field or @raw has bits above
 * @f->width bytes; -ERANGE for a bool holding something other than 0 or 1
 * (torn or corrupt memory, never silently "true").
 */
int bw_field_decode(const struct bw_field *f, uint64_t raw, struct bw_value *out,
		    struct bw_error *err);

/* The same from the @len loaded bytes; @len must equal @f->width. */
int bw_field_decode_bytes(const struct bw_field *f, const void *bytes, size_t len,
			  struct bw_value *out, struct bw_error *err);

/*
 * Check that the load unit of @f lies inside a map value of @value_size
 * bytes (the kernel's bpf_map.value_size): BTF read from the guest can
 * claim offsets beyond the value.  -ERANGE if not.
 */
int bw_field_check_fits(const struct bw_field *f, uint64_t value_size, struct bw_error *err);

/*
 * Guest address of the load unit for the map value at @value_addr of
 * @value_size bytes: bw_field_check_fits() plus an overflow check.
 */
int bw_field_address(const struct bw_field *f, uint64_t value_addr, uint64_t value_size,
		     uint64_t *addr, struct bw_error *err);

/*
 * Text of a char[] leaf from its @n loaded bytes: up to the first NUL (or
 * all @n when there is none), valid UTF-8 kept, every other byte below
 * 0x20, 0x7f, an invalid or cut UTF-8 sequence as "\xNN" and a backslash as
 * "\\", so the text is unambiguous and always valid UTF-8.  @out holds at
 * least 4 * @n + 1 bytes; returns the length written.
 */
size_t bw_field_text(const uint8_t *bytes, size_t n, char *out);

/* Bytes the leaf spans in the map value: text_len for text, else width. */
static inline uint64_t bw_field_extent(const struct bw_field *f)
{
	return f->kind == BW_FIELD_TEXT ? f->text_len : f->width;
}

/* One naturally aligned load reads the unit (so it cannot tear). */
static inline bool bw_field_is_aligned(const struct bw_field *f)
{
	return f->width && f->offset % f->width == 0;
}

/* "int", "bool", "enum", "bitfield". */
const char *bw_field_kind_name(enum bw_field_kind kind);

#endif
