/* SPDX-License-Identifier: MIT */
#include "qemu_mtree.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *skip_spaces(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	return p;
}

static const char *hex64(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = p;

	while (p < end && isxdigit((unsigned char)*p)) {
		if (p - start >= 16)
			return NULL;
		v = v << 4 | (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' :
					 tolower((unsigned char)*p) - 'a' + 10);
		p++;
	}
	return p == start ? NULL : (*out = v, p);
}

static bool starts(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(end - p) >= n && memcmp(p, word, n) == 0;
}

/*
 * One piece line: 0 and @piece filled for RAM, 1 for a line of another
 * kind (rom, i/o, headers), -EINVAL for a RAM line that does not parse.
 */
static int parse_piece(const char *p, const char *end, struct bw_mtree_piece *piece)
{
	uint64_t start, last, offset = 0;
	const char *q, *name;
	size_t name_len;

	p = skip_spaces(p, end);
	q = hex64(p, end, &start);
	if (!q || q >= end || *q != '-')
		return 1;
	q = hex64(q + 1, end, &last);
	if (!q)
		return 1;
	q = skip_spaces(q, end);
	if (!starts(q, end, "(prio "))
		return 1;
	q = memchr(q, ',', (size_t)(end - q));
	if (!q)
		return 1;
	q = skip_spaces(q + 1, end);
	if (!starts(q, end, "ram):"))
		return 1;	/* rom, romd, i/o, ...: not RAM we read */
	q = skip_spaces(q + 5, end);
	name = q;
	while (q < end && !isspace((unsigned char)*q))
		q++;
	name_len = (size_t)(q - name);
	q = skip_spaces(q, end);
	if (q < end && *q == '@') {
		q = hex64(q + 1, end, &offset);
		if (!q)
			return -EINVAL;
	}
	if (name_len == 0 || name_len >= BW_MEMDEV_NAME_MAX || last < start ||
	    last - start == UINT64_MAX || offset + (last - start) < offset)
		return -EINVAL;
	piece->gpa = start;
	piece->size = last - start + 1;
	piece->offset = offset;
	memcpy(piece->name, name, name_len);
	piece->name[name_len] = '\0';
	return 0;
}

int bw_mtree_parse(const char *text, size_t len, struct bw_mtree *out, struct bw_error *err)
{
	const char *p = text, *end = text + len;
	bool in_view = false, found = false, in_memory = false;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *next = le + 1;
		const char *s = skip_spaces(p, le);

		/* The monitor ends its lines with "\r\n". */
		while (le > s && (le[-1] == '\r' || le[-1] == ' '))
			le--;

		if (starts(s, le, "FlatView ")) {
			if (found)
				break;	/* the view of "memory" is complete */
			in_view = true;
			in_memory = false;
		} else if (in_view && starts(s, le, "AS \"memory\",")) {
			in_memory = true;
		} else if (in_memory) {
			struct bw_mtree_piece piece;
			int r = parse_piece(s, le, &piece);

			if (r < 0)
				return bw_error_set(err, r, "info mtree -f: RAM line \"%.*s\" does not "
						    "parse", (int)(le - s > 120 ? 120 : le - s), s);
			if (r == 0) {
				if (out->n == BW_MTREE_MAX_PIECES)
					return bw_error_set(err, -E2BIG, "info mtree -f: more than %d "
							    "RAM pieces", BW_MTREE_MAX_PIECES);
				out->p[out->n++] = piece;
				found = true;
			}
		}
		p = next;
	}
	if (!in_memory && !found)
		return bw_error_set(err, -ENOENT, "info mtree -f: no flat view of address space "
				    "\"memory\"");
	if (out->n == 0)
		return bw_error_set(err, -ENOENT, "info mtree -f: address space \"memory\" has "
				    "no RAM");
	return 0;
}

int bw_mtree_layout(const struct bw_mtree *mtree, const struct bw_qemu_memdevs *memdevs,
		    const uint64_t *sizes, unsigned int n, struct bw_layout_spec *spec,
		    char (*names)[BW_MEMDEV_NAME_MAX], struct bw_error *err)
{
	const char *order[BW_RAM_MAX_BACKENDS];
	unsigned int norder = 0;
	bool taken[BW_RAM_MAX_BACKENDS] = { false };
	int of_backend[BW_RAM_MAX_BACKENDS];
	uint64_t base[BW_RAM_MAX_BACKENDS], total = 0;

	memset(spec, 0, sizeof(*spec));
	spec->kind = BW_LAYOUT_EXPLICIT;
	if (n == 0 || n > BW_RAM_MAX_BACKENDS || memdevs->n != n)
		return bw_error_set(err, -EINVAL, "QEMU has %u memory backends, %u were found in "
				    "its process", memdevs->n, n);
	/* The memdevs in the order the mtree first names them. */
	for (unsigned int i = 0; i < mtree->n; i++) {
		bool seen = false;

		for (unsigned int j = 0; j < norder; j++)
			seen |= strcmp(order[j], mtree->p[i].name) == 0;
		for (unsigned int j = 0; !seen && j < memdevs->n && norder < n; j++) {
			if (strcmp(memdevs->id[j], mtree->p[i].name) == 0) {
				order[norder++] = memdevs->id[j];
				break;
			}
		}
	}
	for (unsigned int b = 0; b < n; b++) {
		of_backend[b] = -1;
		for (unsigned int j = 0; j < norder; j++) {
			unsigned int m = 0;

			while (strcmp(memdevs->id[m], order[j]) != 0)
				m++;
			if (!taken[j] && memdevs->size[m] == sizes[b]) {
				taken[j] = true;
				of_backend[b] = (int)j;
				break;
			}
		}
		if (of_backend[b] < 0)
			return bw_error_set(err, -ENOENT, "no QEMU memory backend in the guest's "
					    "memory map has the size of RAM backend %u (%" PRIu64
					    " bytes)", b + 1, sizes[b]);
		base[b] = total;
		total += sizes[b];
		if (names)
			snprintf(names[b], BW_MEMDEV_NAME_MAX, "%s", order[of_backend[b]]);
	}
	for (unsigned int i = 0; i < mtree->n; i++) {
		const struct bw_mtree_piece *pc = &mtree->p[i];
		int b = -1;

		for (unsigned int k = 0; k < n; k++) {
			if (strcmp(order[of_backend[k]], pc->name) == 0)
				b = (int)k;
		}
		if (b < 0)
			continue;	/* not a memory backend: video RAM, option ROM... */
		if (pc->offset > sizes[b] || pc->size > sizes[b] - pc->offset)
			return bw_error_set(err, -ERANGE, "info mtree -f: %s @%#" PRIx64 " (+%#" PRIx64
					    ") lies outside its %" PRIu64 "-byte backend", pc->name,
					    pc->offset, pc->size, sizes[b]);
		if (spec->nregions == BW_LAYOUT_MAX_REGIONS)
			return bw_error_set(err, -E2BIG, "info mtree -f: more than %d RAM regions",
					    BW_LAYOUT_MAX_REGIONS);
		spec->regions[spec->nregions++] = (struct bw_ram_region){
			.gpa = pc->gpa, .size = pc->size, .offset = base[b] + pc->offset };
	}
	if (spec->nregions == 0)
		return bw_error_set(err, -ENOENT, "info mtree -f maps none of QEMU's memory backends");
	return 0;
}
