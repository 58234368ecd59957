/* SPDX-License-Identifier: MIT */
#include "inspect.h"

#include <inttypes.h>
#include <stdio.h>

#include "symtab.h"

/* The symbols `--inspect kernel` reports, when the kernel has them. */
static const char *const reported_symbols[] = {
	"_text", "map_idr", "prog_idr", "__per_cpu_offset", "nr_cpu_ids",
	"page_offset_base", "init_top_pgt", "__start_BTF", "__stop_BTF", "scx_root",
};

static json_t *hex(uint64_t value)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, value);
	return json_string(buf);
}

json_t *inspect_kernel_json(struct bw_kernel *k)
{
	struct bw_kernel_info info;
	json_t *doc, *cpus, *syms;

	bw_kernel_get_info(k, &info);
	cpus = json_array();
	for (uint32_t cpu = 0; cpu < info.nr_cpu_ids; cpu++)
		json_array_append_new(cpus, hex(bw_kernel_per_cpu_offset(k, cpu)));
	syms = json_object();
	for (size_t i = 0; i < sizeof(reported_symbols) / sizeof(reported_symbols[0]); i++) {
		const struct bw_symbol *sym = bw_symtab_lookup(bw_kernel_symtab(k),
							       reported_symbols[i]);

		if (sym)
			json_object_set_new(syms, reported_symbols[i], hex(sym->addr));
	}
	doc = json_pack("{s:s, s:s, s:o, s:o, s:o, s:i, s:I, s:o, s:I, s:I}",
			"release", info.release,
			"source", info.source == BW_KERNEL_FROM_VMCOREINFO ? "vmcoreinfo" : "vmlinux",
			"kaslr_offset", hex(info.kaslr_offset),
			"phys_base", hex(info.phys_base),
			"page_offset_base", hex(info.page_offset_base),
			"paging_levels", info.paging_levels,
			"nr_cpu_ids", (json_int_t)info.nr_cpu_ids,
			"per_cpu_offset", cpus,
			"btf_size", (json_int_t)info.btf_size,
			"kallsyms_count", (json_int_t)info.kallsyms_count);
	if (!doc)
		return NULL;
	json_object_set_new(doc, "kallsyms_encoding",
			    info.kallsyms_encoding ? json_string(info.kallsyms_encoding) : json_null());
	json_object_set_new(doc, "vmcoreinfo_gpa",
			    info.vmcoreinfo_gpa ? hex(info.vmcoreinfo_gpa) : json_null());
	json_object_set_new(doc, "symbols", syms);
	return doc;
}
