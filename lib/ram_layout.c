/* SPDX-License-Identifier: MIT */
#include "ram_layout.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define Q35_DEFAULT_LOWMEM 0xb0000000ULL	/* 2.75 GiB */
#define Q35_BIG_RAM_LOWMEM 0x80000000ULL	/* 2 GiB */
#define PC_DEFAULT_MAX_BELOW 0xe0000000ULL	/* 3.5 GiB */
#define PC_GIGABYTE_ALIGNED 0xc0000000ULL	/* 3 GiB */
#define ABOVE_4G_START (4 * BW_GIB)

const char *bw_layout_kind_name(enum bw_layout_kind kind)
{
	switch (kind) {
	case BW_LAYOUT_Q35: return "q35";
	case BW_LAYOUT_PC: return "pc";
	case BW_LAYOUT_FLAT: return "flat";
	case BW_LAYOUT_EXPLICIT: return "explicit";
	case BW_LAYOUT_AUTO: return "auto";
	}
	return "?";
}

/* Parse a size or address; *end points past it.  Rejects overflow. */
static int parse_number(const char *s, const char **end, uint64_t *out)
{
	unsigned long long v;
	char *e;
	int shift = 0;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	/* 0x hex or decimal, never octal: "010G" is ten gigabytes. */
	v = strtoull(s, &e, s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10);
	if (errno)
		return -EINVAL;
	switch (*e) {
	case 'k': case 'K': shift = 10; e++; break;
	case 'm': case 'M': shift = 20; e++; break;
	case 'g': case 'G': shift = 30; e++; break;
	case 't': case 'T': shift = 40; e++; break;
	}
	if (shift && (v >> (64 - shift)) != 0)
		return -ERANGE;
	*out = (uint64_t)v << shift;
	*end = e;
	return 0;
}

static int parse_explicit(const char *text, struct bw_layout_spec *spec, struct bw_error *err)
{
	const char *p = text;

	spec->kind = BW_LAYOUT_EXPLICIT;
	spec->nregions = 0;
	while (*p) {
		struct bw_ram_region r;
		const char *start = p;

		if (spec->nregions == BW_LAYOUT_MAX_REGIONS)
			return bw_error_set(err, -E2BIG, "layout \"%s\": more than %d regions",
					    text, BW_LAYOUT_MAX_REGIONS);
		if (parse_number(p, &p, &r.gpa) < 0 || *p++ != ':' ||
		    parse_number(p, &p, &r.size) < 0 || *p++ != '@' ||
		    parse_number(p, &p, &r.offset) < 0 || (*p && *p != ','))
			return bw_error_set(err, -EINVAL,
					    "layout \"%s\": region \"%.*s\" is not GPA:SIZE@OFFSET",
					    text, (int)strcspn(start, ","), start);
		if (r.size == 0)
			return bw_error_set(err, -EINVAL, "layout \"%s\": region %u has size 0",
					    text, spec->nregions + 1);
		if (r.gpa + r.size < r.gpa || r.offset + r.size < r.offset)
			return bw_error_set(err, -ERANGE, "layout \"%s\": region %u wraps around",
					    text, spec->nregions + 1);
		spec->regions[spec->nregions++] = r;
		if (*p == ',')
			p++;
	}
	if (spec->nregions == 0)
		return bw_error_set(err, -EINVAL, "layout is empty");
	return 0;
}

int bw_layout_parse(const char *text, struct bw_layout_spec *spec, struct bw_error *err)
{
	static const struct { const char *name; enum bw_layout_kind kind; } presets[] = {
		{ "q35", BW_LAYOUT_Q35 }, { "pc", BW_LAYOUT_PC }, { "flat", BW_LAYOUT_FLAT },
	};
	size_t name_len = strcspn(text, ",");

	memset(spec, 0, sizeof(*spec));
	if (strcmp(text, "auto") == 0) {
		spec->kind = BW_LAYOUT_AUTO;
		return 0;
	}
	if (isdigit((unsigned char)text[0]))
		return parse_explicit(text, spec, err);
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		const char *p;

		if (strlen(presets[i].name) != name_len ||
		    strncmp(text, presets[i].name, name_len) != 0)
			continue;
		spec->kind = presets[i].kind;
		p = text + name_len;
		if (*p == '\0')
			return 0;
		if (spec->kind == BW_LAYOUT_FLAT ||
		    strncmp(p, ",max-ram-below-4g=", 18) != 0 ||
		    parse_number(p + 18, &p, &spec->max_ram_below_4g) < 0 || *p != '\0')
			return bw_error_set(err, -EINVAL,
					    "layout \"%s\": expected only \",max-ram-below-4g=SIZE\" after \"%s\"",
					    text, presets[i].name);
		if (spec->max_ram_below_4g == 0 || spec->max_ram_below_4g > ABOVE_4G_START)
			return bw_error_set(err, -ERANGE,
					    "layout \"%s\": max-ram-below-4g must be in (0, 4G]", text);
		return 0;
	}
	return bw_error_set(err, -EINVAL,
			    "layout \"%s\": expected auto, q35, pc, flat or GPA:SIZE@OFFSET[,...]", text);
}

static void split_at(struct bw_layout *layout, uint64_t ram, uint64_t lowmem)
{
	uint64_t below = ram < lowmem ? ram : lowmem;

	layout->regions[0] = (struct bw_ram_region){ .gpa = 0, .size = below, .offset = 0 };
	layout->nregions = 1;
	if (ram > below) {
		layout->regions[1] = (struct bw_ram_region){
			.gpa = ABOVE_4G_START, .size = ram - below, .offset = below };
		layout->nregions = 2;
	}
}

static int compare_gpa(const void *a, const void *b)
{
	const struct bw_ram_region *ra = a, *rb = b;

	return ra->gpa < rb->gpa ? -1 : ra->gpa > rb->gpa;
}

int bw_layout_apply(const struct bw_layout_spec *spec, uint64_t file_size,
		    struct bw_layout *layout, struct bw_error *err)
{
	uint64_t lowmem;

	memset(layout, 0, sizeof(*layout));
	if (file_size == 0)
		return bw_error_set(err, -ENODATA, "guest RAM file is empty");
	switch (spec->kind) {
	case BW_LAYOUT_Q35:
		lowmem = file_size >= Q35_DEFAULT_LOWMEM ? Q35_BIG_RAM_LOWMEM : Q35_DEFAULT_LOWMEM;
		if (spec->max_ram_below_4g && lowmem > spec->max_ram_below_4g)
			lowmem = spec->max_ram_below_4g;
		split_at(layout, file_size, lowmem);
		return 0;
	case BW_LAYOUT_PC:
		lowmem = spec->max_ram_below_4g ? spec->max_ram_below_4g : PC_DEFAULT_MAX_BELOW;
		if (file_size >= lowmem && lowmem > PC_GIGABYTE_ALIGNED)
			lowmem = PC_GIGABYTE_ALIGNED;
		split_at(layout, file_size, lowmem);
		return 0;
	case BW_LAYOUT_FLAT:
		split_at(layout, file_size, file_size);
		return 0;
	case BW_LAYOUT_EXPLICIT:
		break;
	case BW_LAYOUT_AUTO:
		return bw_error_set(err, -EINVAL, "layout auto is chosen when the guest is opened, "
				    "not applied");
	}
	layout->nregions = spec->nregions;
	memcpy(layout->regions, spec->regions, sizeof(spec->regions));
	qsort(layout->regions, layout->nregions, sizeof(layout->regions[0]), compare_gpa);
	for (unsigned int i = 0; i < layout->nregions; i++) {
		const struct bw_ram_region *r = &layout->regions[i];

		if (r->offset + r->size > file_size)
			return bw_error_set(err, -ERANGE,
					    "layout region %#" PRIx64 ":%#" PRIx64 "@%#" PRIx64
					    " ends past the end of the %" PRIu64 "-byte RAM file",
					    r->gpa, r->size, r->offset, file_size);
		if (i > 0 && layout->regions[i - 1].gpa + layout->regions[i - 1].size > r->gpa)
			return bw_error_set(err, -EINVAL,
					    "layout regions at GPA %#" PRIx64 " and %#" PRIx64 " overlap",
					    layout->regions[i - 1].gpa, r->gpa);
	}
	return 0;
}
