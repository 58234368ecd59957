/* SPDX-License-Identifier: MIT */
/*
 * Field= text of a watch file resolved against a BPF object's BTF (a
 * DATASEC and a struct with arrays, bitfields, anonymous members,
 * typedef chains and an enum), then a decode of what it names.
 */
#include <stdint.h>
#include <stdlib.h>

#include <bpf/btf.h>

#include "field_path.h"
#include "fuzz_common.h"

static struct btf *object_btf(uint32_t *sec, uint32_t *st)
{
	struct btf *b = btf__new_empty();
	int u8, u32, u64, s32, arr, inner, anon, outer, td, en, var;

	if (!b)
		abort();
	u8 = btf__add_int(b, "unsigned char", 1, 0);
	u32 = btf__add_int(b, "unsigned int", 4, 0);
	u64 = btf__add_int(b, "long long unsigned int", 8, 0);
	s32 = btf__add_int(b, "int", 4, BTF_INT_SIGNED);
	td = btf__add_typedef(b, "u32", u32);
	td = btf__add_const(b, td);
	en = btf__add_enum(b, "mode", 4);
	btf__add_enum_value(b, "OFF", 0);
	btf__add_enum_value(b, "ON", -1);
	inner = btf__add_struct(b, "inner", 16);
	btf__add_field(b, "a", td, 0, 0);
	btf__add_field(b, "flags", u32, 32, 3);
	btf__add_field(b, "mode", en, 40, 0);
	btf__add_field(b, "b", u64, 64, 0);
	arr = btf__add_array(b, s32, inner, 4);
	anon = btf__add_union(b, NULL, 8);
	btf__add_field(b, "wide", u64, 0, 0);
	btf__add_field(b, "lo", u32, 0, 0);
	outer = btf__add_struct(b, "state", 96);
	btf__add_field(b, "gauge", u32, 0, 0);
	btf__add_field(b, NULL, anon, 64, 0);
	btf__add_field(b, "in", arr, 128, 0);
	btf__add_field(b, "tail", btf__add_array(b, s32, u8, 16), 640, 0);
	var = btf__add_var(b, "state", BTF_VAR_GLOBAL_ALLOCATED, outer);
	*sec = (uint32_t)btf__add_datasec(b, ".bss", 96);
	btf__add_datasec_var_info(b, var, 0, 96);
	*st = (uint32_t)outer;
	(void)s32;
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct btf *btf;
	static uint32_t sec, st;
	char *path = fuzz_strdup(data, size);
	struct bw_field f;
	struct bw_value v;

	if (!path)
		return 0;
	if (!btf)
		btf = object_btf(&sec, &st);
	for (int root = 0; root < 2; root++) {
		if (bw_field_resolve(btf, root ? st : sec, path, &f, NULL) != 0)
			continue;
		bw_field_check_fits(&f, 96, NULL);
		bw_field_decode(&f, 0x80, &v, NULL);
		bw_field_decode_bytes(&f, "\xff\xff\xff\xff\xff\xff\xff\xff", f.width, &v, NULL);
	}
	free(path);
	return 0;
}
