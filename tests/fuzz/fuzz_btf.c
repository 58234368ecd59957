/* SPDX-License-Identifier: MIT */
/*
 * Guest BTF through the one door it has into libbpf (bw_btf_parse), then
 * what the daemon does with it: as the kernel's BTF (first byte even) the
 * struct layouts the BPF inventory and the xarray walker read from it; as
 * a BPF object's split BTF over a fixed base (odd) the field paths of
 * watches resolved against every struct, union and DATASEC in it.
 */
#include <stdint.h>
#include <stdlib.h>

#include <bpf/btf.h>

#include "btf_check.h"
#include "btf_layout.h"
#include "field_path.h"
#include "fuzz_btf_base.h"
#include "xarray.h"

static const char *const paths[] = {
	"a", "b", "state.gauge", "[1].hits", "x.y[3].z", "cnt", "nr_queued[0]",
};

static void kernel_layouts(const struct btf *btf)
{
	static const struct {
		const char *s, *m;
	} members[] = {
		{ "bpf_map", "id" }, { "bpf_map", "name" }, { "bpf_map", "btf" },
		{ "bpf_map", "value_size" }, { "bpf_array", "value" }, { "btf", "data" },
		{ "btf", "base_btf" }, { "sched_ext_ops", "name" }, { "scx_sched", "ops" },
	};
	struct bw_xa_layout xl;
	uint64_t off, size;
	uint32_t type;
	int64_t v;

	bw_xa_layout_from_btf(btf, &xl, NULL);
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		bw_btf_member_offset(btf, members[i].s, members[i].m, &off, &type, &size, NULL);
	bw_btf_struct_size(btf, "bpf_map", &size, NULL);
	bw_btf_enum_value(btf, "SCX_ENABLED", &v, NULL);
	bw_btf_enum_value(btf, "BPF_MAP_TYPE_STRUCT_OPS", &v, NULL);
}

static void object_fields(const struct btf *btf, uint32_t first)
{
	uint32_t n = btf__type_cnt(btf);

	for (uint32_t id = first; id < n && id < first + 64; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if (!t || !(btf_is_composite(t) || btf_is_datasec(t)))
			continue;
		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
			struct bw_field f;

			if (bw_field_resolve(btf, id, paths[i], &f, NULL) == 0)
				bw_field_check_fits(&f, 1u << 20, NULL);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct btf *base;
	struct btf *btf = NULL;

	if (size < 1)
		return 0;
	if (!base)
		base = fuzz_btf_base();
	if (data[0] & 1) {
		if (bw_btf_parse(data + 1, size - 1, base, &btf, NULL) == 0)
			object_fields(btf, btf__type_cnt(base));
	} else {
		if (bw_btf_parse(data + 1, size - 1, NULL, &btf, NULL) == 0) {
			kernel_layouts(btf);
			object_fields(btf, 1);
		}
	}
	btf__free(btf);
	return 0;
}
