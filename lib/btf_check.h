/* SPDX-License-Identifier: MIT */
/*
 * Checking a BTF blob taken from guest memory before libbpf parses it.
 * libbpf (Debian 12 ships 1.1) trusts more of the header than it should:
 * a hdr_len that is not a multiple of 4 is accepted and every btf_type
 * pointer it hands out is then misaligned; sections are not checked for
 * overlap.  One check serves the kernel's BTF and every BPF object's.
 */
#ifndef BPFWATCH_BTF_CHECK_H
#define BPFWATCH_BTF_CHECK_H

#include <stddef.h>

#include "error.h"

struct btf;

/*
 * Check @size bytes of raw BTF (native byte order) laid over @base (NULL:
 * a base BTF such as the kernel's): the header (magic, version 1, flags 0,
 * hdr_len a multiple of 4 from 24 up, unknown header bytes zero), the
 * sections (inside the blob, type section 4-aligned and a multiple of 4,
 * no overlap), the string section (NUL-terminated; empty first string for
 * a base) and every type record (a known kind, its trailing records inside
 * the section, name offsets inside the strings, every referenced type id
 * defined, at most BTF_MAX_TYPE types).  0, or -EINVAL with a message
 * naming the field, its value and the bound it breaks.
 */
int bw_btf_check(const void *data, size_t size, const struct btf *base, struct bw_error *err);

/*
 * bw_btf_check(), then libbpf's parse: btf__new() for a base, split BTF
 * over @base otherwise.  The only way guest BTF reaches libbpf.
 */
int bw_btf_parse(const void *data, size_t size, const struct btf *base, struct btf **out,
		 struct bw_error *err);

#endif
