/* SPDX-License-Identifier: MIT */
#include "inspect.h"

#include "guest_ram.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "clock.h"
#include "engine.h"
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

json_t *inspect_memory_json(struct bw_ram *ram, const struct bw_guest_choice *choice)
{
	const struct bw_layout *l = bw_ram_layout(ram);
	json_t *regions = json_array();

	for (unsigned int i = 0; regions && i < l->nregions; i++)
		json_array_append_new(regions, json_pack("{s:o, s:I, s:I}",
							 "gpa", hex(l->regions[i].gpa),
							 "size", (json_int_t)l->regions[i].size,
							 "offset", (json_int_t)l->regions[i].offset));
	return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:o}",
			 "source", bw_ram_describe(ram), "access", bw_ram_access(ram),
			 "backends", (json_int_t)bw_ram_nbackends(ram),
			 "size", (json_int_t)bw_ram_file_size(ram),
			 "backends_found", choice->backends_why,
			 "layout", choice->layout, "layout_why", choice->layout_why,
			 "regions", regions);
}

json_t *inspect_kernel_json(struct bw_kernel *k, const struct bw_guest_choice *choice)
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
	json_object_set_new(doc, "memory", inspect_memory_json(bw_kernel_ram(k), choice));
	json_object_set_new(doc, "percpu_areas_checked", json_integer(info.percpu_checked));
	json_object_set_new(doc, "percpu_areas_bad", json_integer(info.percpu_bad));
	json_object_set_new(doc, "kallsyms_encoding",
			    info.kallsyms_encoding ? json_string(info.kallsyms_encoding) : json_null());
	json_object_set_new(doc, "vmcoreinfo_gpa",
			    info.vmcoreinfo_gpa ? hex(info.vmcoreinfo_gpa) : json_null());
	json_object_set_new(doc, "symbols", syms);
	return doc;
}

json_t *inspect_maps_json(struct bw_kernel *k, struct bw_error *err)
{
	struct bw_engine *engine = NULL;
	json_t *maps = NULL, *status = NULL, *doc = NULL;
	uint64_t mono = clock_mono_ns();
	int64_t wall = clock_wall_ns();

	if (bw_engine_new(k, NULL, mono, wall, &engine, err) < 0 ||
	    bw_engine_tick(engine, mono, wall, err) < 0 ||
	    bw_engine_maps_json(engine, &maps, err) < 0 ||
	    bw_engine_status_json(engine, &status, err) < 0)
		goto out;
	doc = json_object();
	json_object_set(doc, "state", json_object_get(status, "state"));
	json_object_set(doc, "scheduler", json_object_get(status, "scheduler"));
	json_object_update(doc, maps);
out:
	json_decref(maps);
	json_decref(status);
	bw_engine_free(engine);
	return doc;
}

json_t *inspect_sample_json(struct bw_kernel *k, const struct bw_watch_set *set,
			    unsigned int samples, unsigned int interval_ms, struct bw_error *err)
{
	struct bw_engine *engine = NULL;
	json_t *list = json_array(), *status = NULL, *metrics = NULL, *doc = NULL;
	uint64_t mono = clock_mono_ns();
	int64_t wall = clock_wall_ns();

	if (bw_engine_new(k, set, mono, wall, &engine, err) < 0)
		goto out;
	for (unsigned int i = 0; i < samples; i++) {
		json_t *sample;

		if (i > 0) {
			struct timespec pause = { interval_ms / 1000,
						  (long)(interval_ms % 1000) * 1000000L };

			nanosleep(&pause, NULL);
		}
		mono = clock_mono_ns();
		wall = clock_wall_ns();
		if (bw_engine_tick(engine, mono, wall, err) < 0 ||
		    bw_engine_sample_json(engine, &sample, err) < 0)
			goto out;
		json_array_append_new(list, sample);
	}
	if (bw_engine_status_json(engine, &status, err) < 0 ||
	    bw_engine_metrics_json(engine, &metrics, err) < 0)
		goto out;
	doc = json_pack("{s:O, s:O, s:O}", "status", status, "samples", list, "metrics", metrics);
out:
	json_decref(list);
	json_decref(status);
	json_decref(metrics);
	bw_engine_free(engine);
	return doc;
}
