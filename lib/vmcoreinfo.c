/* SPDX-License-Identifier: MIT */
/*
 * VMCOREINFO: the text a Linux kernel keeps in its own RAM so that crash
 * tools can make sense of a memory image (KERNEL-FACTS.md section 1).
 *
 * Where it lives.  kernel/vmcore_info.c (kernel/crash_core.c before 6.9)
 * builds it at boot in crash_save_vmcoreinfo_init(), present whenever the
 * kernel has crash-dump support (CONFIG_VMCORE_INFO, selected by
 * CONFIG_CRASH_DUMP; CONFIG_CRASH_CORE before 6.9).  Two copies matter:
 *   - vmcoreinfo_data: one zeroed page from __get_free_pages() holding the
 *     bare text, so the text starts a page and ends at the first NUL;
 *   - vmcoreinfo_note: from alloc_pages_exact(), so also page-aligned and
 *     physically contiguous, holding one ELF note
 *         u32 n_namesz = 11        0b 00 00 00
 *         u32 n_descsz = text size (no NUL)
 *         u32 n_type   = 0         00 00 00 00
 *         "VMCOREINFO\0" padded to 12 bytes
 *         the text, n_descsz bytes, at byte 24
 *     followed by an empty terminating note.
 * With kdump loaded a third copy (vmcoreinfo_data_safecopy) sits in the
 * crash kernel's memory.  The kernel's .rodata also holds the format
 * strings the text is printed from ("OSRELEASE=%s\n", "PAGESIZE=%ld\n"),
 * which look like VMCOREINFO to a naive scanner: any '%' rejects a copy.
 *
 * The text.  One "KEY=VALUE\n" line per item, printable ASCII, at most
 * VMCOREINFO_BYTES = PAGE_SIZE bytes (the kernel truncates there with a
 * WARN).  The first line has always been OSRELEASE=<uname -r>.  Values
 * (include/linux/vmcore_info.h):
 *   SYMBOL(name)=%lx      hex without 0x, a KASLR-relocated address
 *   NUMBER(name)=%ld      signed decimal; a few lines written by hand use
 *                         0x%lx (NUMBER(VMALLOC_START), newest kernels)
 *                         or %d (NUMBER(pgtable_l5_enabled))
 *   KERNELOFFSET=%lx      hex without 0x
 *   PAGESIZE=%ld, OFFSET/SIZE/LENGTH(...)=%lu, CONFIG_X=y, BUILD-ID=hex
 * Nothing has ever written octal, a '+' or padding, so the number parsers
 * here accept only the forms above and reject anything else rather than
 * guess.
 */
#include "vmcoreinfo.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest_ram.h"

/*
 * Page sizes a Linux kernel can report (4 KiB on x86-64; 64 KiB and 256 KiB
 * exist elsewhere): anything outside is not a kernel's PAGESIZE line.
 */
#define PAGESIZE_MIN 4096ULL
#define PAGESIZE_MAX (256ULL * 1024)

/* The copies are page-aligned in 4 KiB pages on x86-64. */
#define SCAN_PAGE_SIZE 4096

/* ELF note header + "VMCOREINFO\0\0": the text starts here. */
#define NOTE_TEXT_OFFSET 24
#define NOTE_NAMESZ 11
#define OSRELEASE_PREFIX "OSRELEASE="
#define OSRELEASE_PREFIX_LEN 10

static const uint8_t note_header_tail[] = {
	0, 0, 0, 0,	/* n_type */
	'V', 'M', 'C', 'O', 'R', 'E', 'I', 'N', 'F', 'O', 0, 0,
};

static bool is_printable(char c)
{
	return c >= 0x20 && c <= 0x7e;
}

int bw_vmcoreinfo_parse(const char *text, size_t len, struct bw_vmcoreinfo *vi,
			struct bw_error *err)
{
	const char *value;
	size_t pos = 0, value_len;
	unsigned int line_no = 0;
	uint64_t page_size = 0;

	memset(vi, 0, sizeof(*vi));
	if (len == 0)
		return bw_error_set(err, -EINVAL, "parsing VMCOREINFO: the text is empty");
	if (len > BW_VMCOREINFO_MAX)
		return bw_error_set(err, -E2BIG, "parsing VMCOREINFO: %zu bytes is more than the "
				    "kernel's %d-byte limit", len, BW_VMCOREINFO_MAX);
	if (len < OSRELEASE_PREFIX_LEN || memcmp(text, OSRELEASE_PREFIX, OSRELEASE_PREFIX_LEN) != 0)
		return bw_error_set(err, -EINVAL,
				    "parsing VMCOREINFO: the text does not start with OSRELEASE=");

	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - line) : len - pos;
		const char *eq;

		line_no++;
		if (line_len == 0)
			return bw_error_set(err, -EINVAL, "parsing VMCOREINFO: line %u is empty",
					    line_no);
		for (size_t i = 0; i < line_len; i++) {
			if (!is_printable(line[i]))
				return bw_error_set(err, -EINVAL, "parsing VMCOREINFO: line %u, "
						    "column %zu holds byte 0x%02x, not printable text",
						    line_no, i + 1, (unsigned char)line[i]);
		}
		if (memchr(line, '%', line_len))
			return bw_error_set(err, -EINVAL, "parsing VMCOREINFO: line %u \"%.*s\" is a "
					    "printf format (the kernel's template, not its data)",
					    line_no, (int)(line_len > 64 ? 64 : line_len), line);
		eq = memchr(line, '=', line_len);
		if (!eq || eq == line || memchr(line, ' ', (size_t)(eq - line)))
			return bw_error_set(err, -EINVAL, "parsing VMCOREINFO: line %u \"%.*s\" is "
					    "not KEY=VALUE", line_no,
					    (int)(line_len > 64 ? 64 : line_len), line);
		pos += line_len + (nl ? 1 : 0);
	}

	memcpy(vi->text, text, len);
	vi->text[len] = '\0';
	vi->len = len;

	value = bw_vmcoreinfo_value(vi, "OSRELEASE", &value_len);
	if (!value || value_len == 0 || value_len >= sizeof(vi->osrelease))
		return bw_error_set(err, -EINVAL, "parsing VMCOREINFO: OSRELEASE is empty or longer "
				    "than %zu bytes", sizeof(vi->osrelease) - 1);
	memcpy(vi->osrelease, value, value_len);
	vi->osrelease[value_len] = '\0';

	value = bw_vmcoreinfo_value(vi, "PAGESIZE", &value_len);
	if (!value)
		return bw_error_set(err, -EINVAL, "parsing VMCOREINFO of %s: no PAGESIZE line",
				    vi->osrelease);
	for (size_t i = 0; i < value_len; i++) {
		if (value[i] < '0' || value[i] > '9' || page_size > PAGESIZE_MAX) {
			page_size = 0;
			break;
		}
		page_size = page_size * 10 + (uint64_t)(value[i] - '0');
	}
	if (page_size < PAGESIZE_MIN || page_size > PAGESIZE_MAX || (page_size & (page_size - 1)))
		return bw_error_set(err, -EINVAL, "parsing VMCOREINFO of %s: PAGESIZE=%.*s is not a "
				    "power of two between %llu and %llu", vi->osrelease,
				    (int)(value_len > 32 ? 32 : value_len), value,
				    PAGESIZE_MIN, PAGESIZE_MAX);
	vi->page_size = page_size;
	return 0;
}

/*
 * The value of the line that starts with prefix + name + "=", exactly:
 * "SYMBOL(" "_stext" ")".  The key is matched in pieces so that a name of
 * any length needs no buffer.
 */
static const char *find_value(const struct bw_vmcoreinfo *vi, const char *prefix,
			      const char *name, const char *suffix, size_t *len)
{
	size_t plen = strlen(prefix), nlen = strlen(name), slen = strlen(suffix);
	size_t klen = plen + nlen + slen;
	const char *p = vi->text, *end = vi->text + vi->len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		size_t line_len = (size_t)(line_end - p);

		if (line_len > klen && p[klen] == '=' && memcmp(p, prefix, plen) == 0 &&
		    memcmp(p + plen, name, nlen) == 0 && memcmp(p + plen + nlen, suffix, slen) == 0) {
			if (len)
				*len = line_len - klen - 1;
			return p + klen + 1;
		}
		p = nl ? nl + 1 : end;
	}
	return NULL;
}

const char *bw_vmcoreinfo_value(const struct bw_vmcoreinfo *vi, const char *key, size_t *len)
{
	return find_value(vi, key, "", "", len);
}

/* Hex digits only, no 0x, at least one; -ERANGE past 64 bits. */
static int parse_hex(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned int d;

		if (c >= '0' && c <= '9')
			d = (unsigned int)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned int)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned int)(c - 'A' + 10);
		else
			return -EINVAL;
		if (v >> 60)
			return -ERANGE;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* "-"? digits, no leading zeros (so never octal), within int64_t. */
static int parse_decimal(const char *s, size_t len, int64_t *out)
{
	bool negative = len > 0 && s[0] == '-';
	uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	uint64_t v = 0;

	if (negative) {
		s++;
		len--;
	}
	if (len == 0 || (s[0] == '0' && len > 1))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned int)(s[i] - '0');
		if (v > (limit - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	/* Two's complement: -(2^63) comes out as INT64_MIN without overflow. */
	*out = negative ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int bw_vmcoreinfo_symbol(const struct bw_vmcoreinfo *vi, const char *name, uint64_t *out)
{
	size_t len;
	const char *value = find_value(vi, "SYMBOL(", name, ")", &len);

	if (!value)
		return -ENOENT;
	return parse_hex(value, len, out);
}

int bw_vmcoreinfo_number(const struct bw_vmcoreinfo *vi, const char *name, int64_t *out)
{
	size_t len;
	const char *value = find_value(vi, "NUMBER(", name, ")", &len);

	if (!value)
		return -ENOENT;
	if (len > 2 && value[0] == '0' && (value[1] == 'x' || value[1] == 'X')) {
		uint64_t v;
		int r = parse_hex(value + 2, len - 2, &v);

		/* Written with %lx from an unsigned long: keep the bits. */
		if (r == 0)
			*out = (int64_t)v;
		return r;
	}
	return parse_decimal(value, len, out);
}

int bw_vmcoreinfo_kerneloffset(const struct bw_vmcoreinfo *vi, uint64_t *out)
{
	size_t len;
	const char *value = find_value(vi, "KERNELOFFSET", "", "", &len);

	if (!value)
		return -ENOENT;
	return parse_hex(value, len, out);
}

struct scan {
	struct bw_ram *ram;
	int (*fn)(void *ctx, const struct bw_vmcoreinfo *vi);
	void *ctx;
	struct bw_error *err;
	struct bw_vmcoreinfo vi;
	char buf[SCAN_PAGE_SIZE];
};

/* A failed read ends the scan only when the RAM itself is gone (-EIO). */
static int scan_read(struct scan *s, uint64_t gpa, void *buf, size_t len, bool *skip)
{
	struct bw_error read_err;
	int r = bw_ram_read(s->ram, gpa, buf, len, &read_err);

	*skip = false;
	if (r == 0)
		return 0;
	if (r != -EIO) {
		*skip = true;	/* e.g. a note running off the end of RAM */
		return 0;
	}
	return bw_error_set(s->err, r, "scanning guest RAM for VMCOREINFO: %s", read_err.msg);
}

static int scan_page(void *ctx, uint64_t gpa, const uint8_t *head)
{
	struct scan *s = ctx;
	bool from_note, skip;
	size_t len;
	int r;

	/* The cheap test every page pays: four bytes. */
	if (memcmp(head, "\x0b\0\0\0", 4) != 0 && memcmp(head, OSRELEASE_PREFIX, 4) != 0)
		return 0;
	if (head[0] == NOTE_NAMESZ &&
	    memcmp(head + 8, note_header_tail, sizeof(note_header_tail)) == 0 &&
	    memcmp(head + NOTE_TEXT_OFFSET, OSRELEASE_PREFIX, OSRELEASE_PREFIX_LEN) == 0) {
		uint32_t descsz;

		memcpy(&descsz, head + 4, sizeof(descsz));
		if (descsz > BW_VMCOREINFO_MAX)
			return 0;
		/* The note spans pages that are physically contiguous (alloc_pages_exact). */
		r = scan_read(s, gpa + NOTE_TEXT_OFFSET, s->buf, descsz, &skip);
		if (r < 0 || skip)
			return r;
		len = descsz;
		from_note = true;
	} else if (memcmp(head, OSRELEASE_PREFIX, OSRELEASE_PREFIX_LEN) == 0) {
		memcpy(s->buf, head, SCAN_PAGE_SIZE);
		len = strnlen(s->buf, SCAN_PAGE_SIZE);
		from_note = false;
	} else {
		return 0;
	}

	if (bw_vmcoreinfo_parse(s->buf, len, &s->vi, NULL) < 0)
		return 0;	/* a decoy: format strings, a stale or torn copy */
	/* The page it starts: for a note copy the header's GPA, its text 24 bytes on. */
	s->vi.gpa = gpa;
	s->vi.from_note = from_note;
	return s->fn(s->ctx, &s->vi);
}

int bw_vmcoreinfo_scan(struct bw_ram *ram,
		       int (*fn)(void *ctx, const struct bw_vmcoreinfo *vi), void *ctx,
		       struct bw_error *err)
{
	struct scan *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return bw_error_set(err, -ENOMEM, "scanning guest RAM for VMCOREINFO: out of memory");
	s->ram = ram;
	s->fn = fn;
	s->ctx = ctx;
	s->err = err;
	r = bw_ram_for_each_page(ram, SCAN_PAGE_SIZE, scan_page, s);
	if (r == -EIO)
		r = bw_error_set(err, r, "scanning guest RAM for VMCOREINFO: %s shrank under the scan",
				 bw_ram_describe(ram));
	free(s);
	return r;
}
