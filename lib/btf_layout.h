/* SPDX-License-Identifier: MIT */
/*
 * Struct layouts from BTF: byte offsets and sizes of kernel structs and
 * their members, found by name, so no kernel struct offset is ever
 * hard-coded.  Works on any BTF (the guest kernel's, or one a test wrote).
 */
#ifndef BPFWATCH_BTF_LAYOUT_H
#define BPFWATCH_BTF_LAYOUT_H

#include <stdint.h>

#include "error.h"

struct btf;

/* Type id of struct/union @name (typedefs followed), or a negative errno. */
int bw_btf_struct_id(const struct btf *btf, const char *name, struct bw_error *err);
/* sizeof(struct @name). */
int bw_btf_struct_size(const struct btf *btf, const char *name, uint64_t *size,
		       struct bw_error *err);
/*
 * Byte offset of member path @member ("a", "a.b", anonymous members
 * transparent) inside struct @name.  Optional outputs: the member's type id
 * (modifiers and typedefs not stripped) and its size in bytes.  A bitfield
 * member is an error here: kernel fields read this way are whole.
 */
int bw_btf_member_offset(const struct btf *btf, const char *name, const char *member,
			 uint64_t *offset, uint32_t *type_id, uint64_t *size,
			 struct bw_error *err);
/* Value of enumerator @name (any enum in @btf), e.g. "BPF_MAP_TYPE_ARRAY". */
int bw_btf_enum_value(const struct btf *btf, const char *name, int64_t *value,
		      struct bw_error *err);

struct btf_type;

/* "an integer", "a pointer", "a struct", ...: a type's kind, for messages. */
const char *bw_btf_kind_phrase(const struct btf_type *t);

#endif
