/* SPDX-License-Identifier: MIT */
/*
 * VMCOREINFO: the KEY=VALUE text the kernel keeps in RAM for crash tools
 * (see vmcoreinfo.c for where it lives and how its values are written).
 */
#ifndef BPFWATCH_VMCOREINFO_H
#define BPFWATCH_VMCOREINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct bw_ram;

/* The text is at most one page (VMCOREINFO_BYTES = PAGE_SIZE). */
#define BW_VMCOREINFO_MAX 4096

struct bw_vmcoreinfo {
	char text[BW_VMCOREINFO_MAX + 1];	/* NUL-terminated copy */
	size_t len;
	uint64_t gpa;		/* where the text was found */
	bool from_note;		/* inside an ELF note (carries a length) */
	/* Parsed essentials (every other key through the lookups below). */
	char osrelease[65];
	uint64_t page_size;
};

/*
 * Parse @len bytes of VMCOREINFO text.  Requires OSRELEASE first, a
 * power-of-two PAGESIZE and printable lines; rejects the kernel's own
 * format strings ("OSRELEASE=%s").
 */
int bw_vmcoreinfo_parse(const char *text, size_t len, struct bw_vmcoreinfo *vi,
			struct bw_error *err);

/* Raw value of KEY ("SYMBOL(_stext)", "KERNELOFFSET", ...), NULL if absent. */
const char *bw_vmcoreinfo_value(const struct bw_vmcoreinfo *vi, const char *key, size_t *len);
/* SYMBOL(name)=hex. -ENOENT if absent, -EINVAL if malformed. */
int bw_vmcoreinfo_symbol(const struct bw_vmcoreinfo *vi, const char *name, uint64_t *out);
/* NUMBER(name)=signed decimal or 0x hex. */
int bw_vmcoreinfo_number(const struct bw_vmcoreinfo *vi, const char *name, int64_t *out);
/* KERNELOFFSET=hex. */
int bw_vmcoreinfo_kerneloffset(const struct bw_vmcoreinfo *vi, uint64_t *out);

/*
 * Scan guest RAM page starts for VMCOREINFO (ELF note or bare text page)
 * and call @fn for each copy that parses, in GPA order, until @fn returns
 * non-zero (that value is returned).  Pages that are holes in the RAM file
 * are skipped without being read.  Returns 0 after a full scan.
 */
int bw_vmcoreinfo_scan(struct bw_ram *ram,
		       int (*fn)(void *ctx, const struct bw_vmcoreinfo *vi), void *ctx,
		       struct bw_error *err);

#endif
