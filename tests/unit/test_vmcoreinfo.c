/* SPDX-License-Identifier: MIT */
/*
 * VMCOREINFO: the real text of a Debian 7.3.4 guest, hand-made bad texts,
 * garbage, and scans of sparse RAM files holding the note copy, the bare
 * text copy and decoys.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guest_ram.h"
#include "vmcoreinfo.h"
#include "util_mem.h"

#define SAMPLE_NAME "vmcoreinfo-debian-7.3.4-cloud-amd64.txt"
#define SAMPLE_LEN 3263
#define PAGE 4096ULL
#define MIB (1ULL << 20)

/*
 * The sample from $BW_TEST_DATA, else tests/data under the working
 * directory (the runner starts tests at the repository root), else
 * relative to the binary (build/tests/ -> ../../tests/data).
 */
static char *load_sample(size_t *len)
{
	char paths[3][PATH_MAX + 64];
	const char *env = getenv("BW_TEST_DATA");
	char exe[PATH_MAX];
	ssize_t n;
	unsigned int count = 0;

	if (env && *env)
		snprintf(paths[count++], sizeof(paths[0]), "%s/%s", env, SAMPLE_NAME);
	snprintf(paths[count++], sizeof(paths[0]), "tests/data/%s", SAMPLE_NAME);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		snprintf(paths[count++], sizeof(paths[0]), "%s/../../tests/data/%s", dirname(exe),
			 SAMPLE_NAME);
	}
	for (unsigned int i = 0; i < count; i++) {
		FILE *f = fopen(paths[i], "rb");
		char *buf;

		if (!f)
			continue;
		buf = calloc(1, BW_VMCOREINFO_MAX + 1);
		ck_assert_ptr_nonnull(buf);
		*len = fread(buf, 1, BW_VMCOREINFO_MAX + 1, f);
		fclose(f);
		return buf;
	}
	ck_abort_msg("cannot find %s (set BW_TEST_DATA to the tests/data directory)", SAMPLE_NAME);
	return NULL;
}

static int parse_str(const char *text, struct bw_vmcoreinfo *vi, struct bw_error *err)
{
	bw_error_clear(err);
	return bw_vmcoreinfo_parse(text, strlen(text), vi, err);
}

START_TEST(test_real_sample)
{
	static struct bw_vmcoreinfo vi;
	struct bw_error err;
	size_t len, vlen;
	char *text = load_sample(&len);
	const char *v;
	uint64_t u;
	int64_t n;

	ck_assert_uint_eq(len, SAMPLE_LEN);
	ck_assert_int_eq(bw_vmcoreinfo_parse(text, len, &vi, &err), 0);
	ck_assert_str_eq(vi.osrelease, "7.3.4+deb13-cloud-amd64");
	ck_assert_uint_eq(vi.page_size, 4096);
	ck_assert_uint_eq(vi.len, SAMPLE_LEN);
	ck_assert_int_eq(memcmp(vi.text, text, len), 0);
	ck_assert_int_eq(vi.text[len], '\0');
	ck_assert_uint_eq(vi.gpa, 0);
	ck_assert(!vi.from_note);

	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "_stext", &u), 0);
	ck_assert_uint_eq(u, 0xffffffff96400000ULL);
	ck_assert_int_eq(bw_vmcoreinfo_kerneloffset(&vi, &u), 0);
	ck_assert_uint_eq(u, 0x15400000ULL);
	/* _stext = __START_KERNEL_map + 16 MiB + KASLR offset on this config. */
	ck_assert_uint_eq(0xffffffff81000000ULL + u, 0xffffffff96400000ULL);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "phys_base", &n), 0);
	ck_assert_int_eq(n, 213909504);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "pgtable_l5_enabled", &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "VMALLOC_START", &n), 0);
	ck_assert_uint_eq((uint64_t)n, 0xffffd30b00000000ULL);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "PAGE_BUDDY_MAPCOUNT_VALUE", &n), 0);
	ck_assert_int_eq(n, -268435456);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "PAGE_UNACCEPTED_MAPCOUNT_VALUE", &n), 0);
	ck_assert_int_eq(n, -150994944);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "KERNEL_IMAGE_SIZE", &n), 0);
	ck_assert_int_eq(n, 1073741824);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "sme_mask", &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "init_top_pgt", &u), 0);
	ck_assert_uint_eq(u, 0xffffffff9842a000ULL);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "swapper_pg_dir", &u), 0);
	ck_assert_uint_eq(u, 0xffffffff9842a000ULL);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "vmemmap", &u), 0);
	ck_assert_uint_eq(u, 0xfffff86100000000ULL);
	{
		uint64_t names, num;

		ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "kallsyms_names", &names), 0);
		ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "kallsyms_num_syms", &num), 0);
		ck_assert_uint_eq(num + 4, names);
	}

	v = bw_vmcoreinfo_value(&vi, "BUILD-ID", &vlen);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(vlen, 40);
	ck_assert_int_eq(memcmp(v, "1fe9968467f2755292a45806719b9bba136b0cc8", 40), 0);
	v = bw_vmcoreinfo_value(&vi, "OFFSET(uts_namespace.name)", &vlen);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(vlen, 1);
	ck_assert_int_eq(v[0], '0');
	v = bw_vmcoreinfo_value(&vi, "NUMBER(sme_mask)", NULL);	/* the last line */
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(v[0], '0');
	v = bw_vmcoreinfo_value(&vi, "OSRELEASE", &vlen);
	ck_assert_uint_eq(vlen, strlen("7.3.4+deb13-cloud-amd64"));

	/* Exact keys at the start of a line only. */
	ck_assert_ptr_null(bw_vmcoreinfo_value(&vi, "PAGESIZ", NULL));
	ck_assert_ptr_null(bw_vmcoreinfo_value(&vi, "(phys_base)", NULL));
	ck_assert_ptr_null(bw_vmcoreinfo_value(&vi, "phys_base", NULL));
	ck_assert_ptr_null(bw_vmcoreinfo_value(&vi, "", NULL));
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "_stex", &u), -ENOENT);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "_stext)", &u), -ENOENT);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "map_idr", &u), -ENOENT);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "kallsyms_relative_base", &u), -ENOENT);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "phys_bas", &n), -ENOENT);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "_stext", &n), -ENOENT);
	free(text);
}
END_TEST

START_TEST(test_value_formats)
{
	static struct bw_vmcoreinfo vi;
	struct bw_error err;
	uint64_t u = 77;
	int64_t n = 77;
	const char *text =
		"OSRELEASE=6.12.0\n"
		"PAGESIZE=4096\n"
		"SYMBOL(prefixed)=0xffffffff81000000\n"
		"SYMBOL(empty)=\n"
		"SYMBOL(long)=1ffffffffffffffff\n"
		"SYMBOL(space)=ffffffff81000000 \n"
		"SYMBOL(upper)=FFFFFFFF81000000\n"
		"SYMBOL(max)=ffffffffffffffff\n"
		"SYMBOL(zeros)=00000000000000000000000000000001\n"
		"NUMBER(minus1)=-1\n"
		"NUMBER(max)=9223372036854775807\n"
		"NUMBER(min)=-9223372036854775808\n"
		"NUMBER(over)=9223372036854775808\n"
		"NUMBER(under)=-9223372036854775809\n"
		"NUMBER(absurd)=99999999999999999999999999999\n"
		"NUMBER(hexonly)=0x\n"
		"NUMBER(hexover)=0x1ffffffffffffffff\n"
		"NUMBER(hexmax)=0xffffffffffffffff\n"
		"NUMBER(hexup)=0XFF\n"
		"NUMBER(junk)=12abc\n"
		"NUMBER(octal)=010\n"
		"NUMBER(plus)=+5\n"
		"NUMBER(dash)=-\n"
		"NUMBER(zero)=0\n"
		"NUMBER(negzero)=-0\n"
		"NUMBER(neghex)=-0x10\n"
		"NUMBER(empty)=\n"
		"KERNELOFFSET=0x15400000\n";

	ck_assert_int_eq(parse_str(text, &vi, &err), 0);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "prefixed", &u), -EINVAL);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "empty", &u), -EINVAL);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "long", &u), -ERANGE);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "space", &u), -EINVAL);
	ck_assert_uint_eq(u, 77);	/* untouched on failure */
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "upper", &u), 0);
	ck_assert_uint_eq(u, 0xffffffff81000000ULL);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "max", &u), 0);
	ck_assert_uint_eq(u, UINT64_MAX);
	ck_assert_int_eq(bw_vmcoreinfo_symbol(&vi, "zeros", &u), 0);
	ck_assert_uint_eq(u, 1);

	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "minus1", &n), 0);
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "max", &n), 0);
	ck_assert_int_eq(n, INT64_MAX);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "min", &n), 0);
	ck_assert_int_eq(n, INT64_MIN);
	n = 77;
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "over", &n), -ERANGE);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "under", &n), -ERANGE);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "absurd", &n), -ERANGE);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "hexonly", &n), -EINVAL);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "hexover", &n), -ERANGE);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "junk", &n), -EINVAL);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "octal", &n), -EINVAL);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "plus", &n), -EINVAL);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "dash", &n), -EINVAL);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "neghex", &n), -EINVAL);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "empty", &n), -EINVAL);
	ck_assert_int_eq(n, 77);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "hexmax", &n), 0);
	ck_assert_int_eq(n, -1);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "hexup", &n), 0);
	ck_assert_int_eq(n, 255);
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "zero", &n), 0);
	ck_assert_int_eq(n, 0);
	n = 77;
	ck_assert_int_eq(bw_vmcoreinfo_number(&vi, "negzero", &n), 0);
	ck_assert_int_eq(n, 0);
	/* KERNELOFFSET is %lx: a 0x prefix is not what the kernel writes. */
	ck_assert_int_eq(bw_vmcoreinfo_kerneloffset(&vi, &u), -EINVAL);

	ck_assert_int_eq(parse_str("OSRELEASE=6.12.0\nPAGESIZE=4096\n", &vi, &err), 0);
	ck_assert_int_eq(bw_vmcoreinfo_kerneloffset(&vi, &u), -ENOENT);
	/* A last line without its newline still counts. */
	ck_assert_int_eq(parse_str("OSRELEASE=6.12.0\nPAGESIZE=65536", &vi, &err), 0);
	ck_assert_uint_eq(vi.page_size, 65536);
}
END_TEST

struct bad_case {
	const char *text;
	const char *says;	/* a phrase the message must contain */
};

START_TEST(test_bad_texts)
{
	static const struct bad_case cases[] = {
		{ "PAGESIZE=4096\nOSRELEASE=6.12.0\n", "does not start with OSRELEASE=" },
		{ "\nOSRELEASE=6.12.0\nPAGESIZE=4096\n", "does not start with OSRELEASE=" },
		{ "OSRELEASE", "does not start with OSRELEASE=" },
		{ "OSRELEASE=%s\nPAGESIZE=%ld\n", "format" },
		{ "OSRELEASE=%s\n", "format" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=4096\nSYMBOL(%s)=%lx\n", "line 3" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=3000\n", "PAGESIZE=3000" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=0\n", "power of two" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=1024\n", "power of two" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=4096x\n", "power of two" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=-4096\n", "power of two" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=\n", "power of two" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=18446744073709555712\n", "power of two" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=1073741824\n", "power of two" },
		{ "OSRELEASE=6.12.0\nSYMBOL(_stext)=ffffffff81000000\n", "no PAGESIZE" },
		{ "OSRELEASE=\nPAGESIZE=4096\n", "OSRELEASE is empty" },
		{ "OSRELEASE=6.12.0\n\nPAGESIZE=4096\n", "line 2 is empty" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=4096\n\n", "line 3 is empty" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=4096\nno equals sign\n", "not KEY=VALUE" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=4096\n=value\n", "not KEY=VALUE" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=4096\nSYMBOL(a b)=1\n", "not KEY=VALUE" },
		{ "OSRELEASE=6.12.0\r\nPAGESIZE=4096\r\n", "not printable" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=4096\nCONFIG_X=\x01\n", "line 3, column 10" },
		{ "OSRELEASE=6.12.0\nPAGESIZE=4096\nCONFIG_X=\xc3\xa9\n", "0xc3" },
		{ "OSRELEASE=6.12.0\tx\nPAGESIZE=4096\n", "not printable" },
		{ "", "empty" },
	};
	static struct bw_vmcoreinfo vi;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bw_error err;
		int r = parse_str(cases[i].text, &vi, &err);

		ck_assert_msg(r < 0, "case %zu was accepted", i);
		ck_assert_int_eq(err.code, r);
		ck_assert_msg(strstr(err.msg, cases[i].says), "case %zu: \"%s\" does not say \"%s\"",
			      i, err.msg, cases[i].says);
	}
}
END_TEST

START_TEST(test_bad_sizes_and_nul)
{
	static struct bw_vmcoreinfo vi;
	static char buf[5000];
	struct bw_error err;
	size_t len;
	char *text = load_sample(&len);
	int pos;

	/* NUL inside the given length (e.g. a length that counts the terminator). */
	ck_assert_int_eq(bw_vmcoreinfo_parse(text, len + 1, &vi, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "0x00"));

	/* Exactly the kernel's limit is fine: well-formed lines up to 4096 bytes. */
	pos = snprintf(buf, sizeof(buf), "OSRELEASE=6.12.0\nPAGESIZE=4096\n");
	while (pos + 15 <= 4000 - 10)
		pos += snprintf(buf + pos, sizeof(buf) - (size_t)pos, "SIZE(x%05d)=1\n", pos);
	memcpy(buf + pos, "PAD=", 4);
	memset(buf + pos + 4, 'p', (size_t)(4000 - 1 - pos - 4));
	buf[4000 - 1] = '\n';
	memcpy(buf + 4000, "LAST=", 5);
	memset(buf + 4005, 'z', sizeof(buf) - 4005);
	ck_assert_int_eq(bw_vmcoreinfo_parse(buf, BW_VMCOREINFO_MAX, &vi, &err), 0);
	ck_assert_uint_eq(vi.len, BW_VMCOREINFO_MAX);
	ck_assert_uint_eq(strlen(vi.text), BW_VMCOREINFO_MAX);
	ck_assert_ptr_nonnull(bw_vmcoreinfo_value(&vi, "PAD", NULL));
	ck_assert_ptr_nonnull(bw_vmcoreinfo_value(&vi, "LAST", NULL));

	/* The same lines run on to 5000 bytes: too long. */
	ck_assert_int_eq(bw_vmcoreinfo_parse(buf, 5000, &vi, &err), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err.msg, "5000 bytes"));
	ck_assert_int_eq(bw_vmcoreinfo_parse(buf, BW_VMCOREINFO_MAX + 1, &vi, &err), -E2BIG);
	ck_assert_int_eq(bw_vmcoreinfo_parse(buf, SIZE_MAX, &vi, &err), -E2BIG);

	/* 64-character release fits uts.release (65 with NUL); 65 does not. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "OSRELEASE=", 10);
	memset(buf + 10, 'r', 64);
	strcpy(buf + 74, "\nPAGESIZE=4096\n");
	ck_assert_int_eq(parse_str(buf, &vi, &err), 0);
	ck_assert_uint_eq(strlen(vi.osrelease), 64);
	memset(buf + 10, 'r', 65);
	strcpy(buf + 75, "\nPAGESIZE=4096\n");
	ck_assert_int_eq(parse_str(buf, &vi, &err), -EINVAL);
	free(text);
}
END_TEST

/* Random bytes, random text, every truncation and every one-byte corruption of the sample. */
START_TEST(test_garbage)
{
	static struct bw_vmcoreinfo vi;
	static char buf[5000];
	struct bw_error err;
	size_t len;
	char *text = load_sample(&len);

	for (uint64_t seed = 1; seed <= 2000; seed++) {
		size_t n = (size_t)(seed * 2654435761u % sizeof(buf));

		test_fill_random(buf, sizeof(buf), seed);
		if (seed % 2)	/* the right start, then garbage */
			memcpy(buf, "OSRELEASE=6.12.0\nPAGESIZE=4096\n", 31);
		ck_assert_int_lt(bw_vmcoreinfo_parse(buf, n < 40 ? 40 : n, &vi, &err), 0);
		ck_assert(err.msg[0] != '\0');
	}
	/* Printable random text (no control bytes): still not VMCOREINFO. */
	for (uint64_t seed = 1; seed <= 200; seed++) {
		test_fill_random(buf, 4096, seed);
		for (size_t i = 0; i < 4096; i++)
			buf[i] = (char)(0x20 + (unsigned char)buf[i] % 95);
		memcpy(buf, "OSRELEASE=x\n", 12);
		ck_assert_int_lt(bw_vmcoreinfo_parse(buf, 4096, &vi, &err), 0);
	}
	/* Every prefix: no crash; those that still hold OSRELEASE and PAGESIZE lines parse. */
	for (size_t n = 0; n <= len; n++) {
		int r = bw_vmcoreinfo_parse(text, n, &vi, &err);

		if (n < 97)	/* line 3 (PAGESIZE=4096) is not complete yet */
			ck_assert_int_lt(r, 0);
		if (r == 0)
			ck_assert_str_eq(vi.osrelease, "7.3.4+deb13-cloud-amd64");
	}
	ck_assert_int_eq(bw_vmcoreinfo_parse(text, len, &vi, &err), 0);
	/* Each byte replaced by a control byte or a '%': always refused. */
	for (size_t i = 0; i < len; i++) {
		char saved = text[i];

		text[i] = (char)(i % 2 ? 0x7f : '%');
		ck_assert_int_lt(bw_vmcoreinfo_parse(text, len, &vi, &err), 0);
		text[i] = saved;
	}
	free(text);
}
END_TEST

/* A sparse RAM file: memfd, so holes cost nothing. */
static int ram_file(uint64_t size)
{
	int fd = memfd_create("bw-test-ram", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void put(int fd, uint64_t offset, const void *buf, size_t len)
{
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)offset), (ssize_t)len);
}

/* The kernel's vmcoreinfo_note: header, name, text. */
static void put_note(int fd, uint64_t offset, const char *text, size_t len, uint32_t descsz)
{
	uint8_t note[24 + BW_VMCOREINFO_MAX + 16];
	uint32_t words[3] = { 11, descsz, 0 };

	memset(note, 0, sizeof(note));
	memcpy(note, words, sizeof(words));
	memcpy(note + 12, "VMCOREINFO", 11);
	memcpy(note + 24, text, len);
	put(fd, offset, note, 24 + ((len + 3) & ~3ULL) + 12);	/* + the empty final note */
}

static struct bw_ram *open_ram(int fd, const char *layout)
{
	struct bw_ram_source src = BW_RAM_SOURCE_INIT;
	struct bw_layout_spec spec;
	struct bw_ram *ram;
	struct bw_error err;

	src.fd = fd;
	ck_assert_int_eq(bw_layout_parse(layout, &spec, &err), 0);
	ck_assert_msg(bw_ram_open(&src, &spec, &ram, &err) == 0, "%s", err.msg);
	return ram;
}

#define MAX_FOUND 8

struct found {
	unsigned int count;
	uint64_t gpa[MAX_FOUND];
	bool from_note[MAX_FOUND];
	size_t len[MAX_FOUND];
	char release[MAX_FOUND][65];
	int stop_after;		/* return 7 after this many, 0 = never */
};

static int on_found(void *ctx, const struct bw_vmcoreinfo *vi)
{
	struct found *f = ctx;

	ck_assert_uint_lt(f->count, MAX_FOUND);
	f->gpa[f->count] = vi->gpa;
	f->from_note[f->count] = vi->from_note;
	f->len[f->count] = vi->len;
	strcpy(f->release[f->count], vi->osrelease);
	f->count++;
	return f->stop_after && (int)f->count >= f->stop_after ? 7 : 0;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

START_TEST(test_scan_flat)
{
	static const char rodata[] = "OSRELEASE=%s\n\0BUILD-ID=%20phN\n\0PAGESIZE=%ld\n\0"
				     "SYMBOL(%s)=%lx\n\0NUMBER(%s)=%ld\n";
	static uint8_t page[PAGE];
	struct found f = { 0 };
	struct bw_error err;
	struct bw_ram *ram;
	size_t len;
	char *text = load_sample(&len);
	int fd = ram_file(64 * MIB);

	/* The two real copies. */
	put_note(fd, 100 * PAGE, text, len, (uint32_t)len);
	put(fd, 5000 * PAGE, text, len);
	/* Decoys: format strings bare and in a note, a note too big, the wrong note type,
	 * "OSRE" that is not OSRELEASE=, a copy that is not at a page start, garbage. */
	put(fd, 3000 * PAGE, rodata, sizeof(rodata));
	put_note(fd, 3001 * PAGE, rodata, sizeof(rodata) - 1, (uint32_t)sizeof(rodata) - 1);
	put_note(fd, 4000 * PAGE, text, len, 5000);
	put_note(fd, 4002 * PAGE, text, len, (uint32_t)len);
	put(fd, 4002 * PAGE + 8, "\x01", 1);
	put(fd, 4100 * PAGE, "OSREGARBAGE", 11);
	put(fd, 4200 * PAGE + 64, text, len);
	test_fill_random(page, sizeof(page), 99);
	for (int i = 0; i < 16; i++)
		put(fd, (6000 + (uint64_t)i) * PAGE, page, sizeof(page));
	/* A note in the last page whose text would run off the end of RAM. */
	put(fd, 64 * MIB - PAGE, "\x0b\0\0\0\xbf\x0c\0\0\0\0\0\0VMCOREINFO\0\0OSRELEASE=", 34);

	ram = open_ram(fd, "flat");
	ck_assert_int_eq(bw_vmcoreinfo_scan(ram, on_found, &f, &err), 0);
	ck_assert_uint_eq(f.count, 2);
	ck_assert_uint_eq(f.gpa[0], 100 * PAGE);	/* GPA order */
	ck_assert(f.from_note[0]);
	ck_assert_uint_eq(f.len[0], len);
	ck_assert_str_eq(f.release[0], "7.3.4+deb13-cloud-amd64");
	ck_assert_uint_eq(f.gpa[1], 5000 * PAGE);
	ck_assert(!f.from_note[1]);
	ck_assert_uint_eq(f.len[1], len);
	ck_assert_str_eq(f.release[1], "7.3.4+deb13-cloud-amd64");

	/* The callback's non-zero answer stops the scan and comes back. */
	memset(&f, 0, sizeof(f));
	f.stop_after = 1;
	ck_assert_int_eq(bw_vmcoreinfo_scan(ram, on_found, &f, &err), 7);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_uint_eq(f.gpa[0], 100 * PAGE);
	bw_ram_close(ram);
	close(fd);
	free(text);
}
END_TEST

/* A bare copy that fills its page has no NUL: the text is the whole page. */
START_TEST(test_scan_full_page_text)
{
	static char buf[PAGE];
	struct found f = { 0 };
	struct bw_error err;
	struct bw_ram *ram;
	int fd = ram_file(MIB), pos;

	pos = snprintf(buf, sizeof(buf), "OSRELEASE=6.12.0\nPAGESIZE=4096\n");
	while (pos < (int)PAGE - 16)
		pos += snprintf(buf + pos, sizeof(buf) - (size_t)pos, "SIZE(x%04d)=1\n", pos);
	memset(buf + pos, 'y', PAGE - (size_t)pos);
	memcpy(buf + pos, "Z=", 2);
	put(fd, 7 * PAGE, buf, PAGE);
	put(fd, 8 * PAGE, "\x7f", 1);	/* no NUL right after: the next page's bytes */
	ram = open_ram(fd, "flat");
	ck_assert_int_eq(bw_vmcoreinfo_scan(ram, on_found, &f, &err), 0);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_uint_eq(f.gpa[0], 7 * PAGE);
	ck_assert_uint_eq(f.len[0], PAGE);
	bw_ram_close(ram);
	close(fd);
}
END_TEST

/* q35 with more than 2.75 GiB: file offset 2.5 GiB is GPA 4.5 GiB. */
START_TEST(test_scan_q35_above_4g)
{
	struct found f = { 0 };
	struct bw_error err;
	struct bw_ram *ram;
	size_t len;
	char *text = load_sample(&len);
	int fd = ram_file(3 * BW_GIB);

	put(fd, BW_GIB, text, len);
	put_note(fd, 2 * BW_GIB + BW_GIB / 2, text, len, (uint32_t)len);
	ram = open_ram(fd, "q35");
	ck_assert_uint_eq(bw_ram_layout(ram)->nregions, 2);
	ck_assert_int_eq(bw_vmcoreinfo_scan(ram, on_found, &f, &err), 0);
	ck_assert_uint_eq(f.count, 2);
	ck_assert_uint_eq(f.gpa[0], BW_GIB);
	ck_assert(!f.from_note[0]);
	ck_assert_uint_eq(f.gpa[1], 4 * BW_GIB + BW_GIB / 2);
	ck_assert(f.from_note[1]);
	bw_ram_close(ram);
	close(fd);
	free(text);
}
END_TEST

/* 4 GiB of holes with a few data pages: SEEK_DATA skips the holes unread. */
START_TEST(test_scan_sparse_4g_is_fast)
{
	struct found f = { 0 };
	struct bw_error err;
	struct timespec start;
	struct bw_ram *ram;
	size_t len;
	char *text = load_sample(&len);
	int fd = ram_file(4 * BW_GIB);
	double took;

	for (int i = 0; i < 64; i++)
		put(fd, (uint64_t)i * 61 * MIB, "data", 4);
	put_note(fd, 4 * BW_GIB - 16 * PAGE, text, len, (uint32_t)len);
	ram = open_ram(fd, "flat");
	clock_gettime(CLOCK_MONOTONIC, &start);
	ck_assert_int_eq(bw_vmcoreinfo_scan(ram, on_found, &f, &err), 0);
	took = seconds_since(&start);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_uint_eq(f.gpa[0], 4 * BW_GIB - 16 * PAGE);
	/* The goal is well under 100 ms; the bound leaves room for sanitizers and busy CI. */
	ck_assert_msg(took < 0.5, "scanning a sparse 4 GiB file took %.3f s", took);
	bw_ram_close(ram);
	close(fd);
	free(text);
}
END_TEST

/* Every page written (none a hole): the four-byte check keeps it cheap. */
START_TEST(test_scan_dense_is_fast)
{
	const uint64_t size = 256 * MIB;
	static uint8_t chunk[MIB];
	struct found f = { 0 };
	struct bw_error err;
	struct timespec start;
	struct bw_ram *ram;
	size_t len;
	char *text = load_sample(&len);
	int fd = ram_file(size);
	double took;

	test_fill_random(chunk, sizeof(chunk), 5);
	for (uint64_t off = 0; off < size; off += MIB)
		put(fd, off, chunk, sizeof(chunk));
	put_note(fd, 200 * MIB, text, len, (uint32_t)len);

	ram = open_ram(fd, "flat");
	clock_gettime(CLOCK_MONOTONIC, &start);
	ck_assert_int_eq(bw_vmcoreinfo_scan(ram, on_found, &f, &err), 0);
	took = seconds_since(&start);
	ck_assert_uint_eq(f.count, 1);
	ck_assert_uint_eq(f.gpa[0], 200 * MIB);
	ck_assert(f.from_note[0]);
	/*
	 * The cost is dominated by faulting the mapping in once per page
	 * (tens of ms per GiB on bare metal); the bound only catches a scan
	 * that does far more than that, with room for sanitizers and busy CI.
	 */
	ck_assert_msg(took < 2.0, "scanning 256 MiB of data took %.3f s", took);
	bw_ram_close(ram);
	close(fd);
	free(text);
}
END_TEST

/* RAM that went away under the scan is an error, not "not found". */
START_TEST(test_scan_after_fault)
{
	struct found f = { 0 };
	struct bw_error err;
	struct bw_ram *ram;
	uint8_t byte;
	size_t len;
	char *text = load_sample(&len);
	int fd = ram_file(4 * MIB);

	put(fd, 0, text, len);
	put(fd, 3 * MIB, "x", 1);
	ram = open_ram(fd, "flat");
	ck_assert_int_eq(ftruncate(fd, MIB), 0);
	ck_assert_int_eq(bw_ram_read(ram, 3 * MIB, &byte, 1, &err), -EIO);
	bw_error_clear(&err);
	ck_assert_int_eq(bw_vmcoreinfo_scan(ram, on_found, &f, &err), -EIO);
	ck_assert_uint_eq(f.count, 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "scanning guest RAM for VMCOREINFO"));
	bw_ram_close(ram);
	close(fd);
	free(text);
}
END_TEST

static Suite *vmcoreinfo_suite(void)
{
	Suite *s = suite_create("vmcoreinfo");
	TCase *parse = tcase_create("parse");
	TCase *scan = tcase_create("scan");

	tcase_set_timeout(parse, 60);
	tcase_add_test(parse, test_real_sample);
	tcase_add_test(parse, test_value_formats);
	tcase_add_test(parse, test_bad_texts);
	tcase_add_test(parse, test_bad_sizes_and_nul);
	tcase_add_test(parse, test_garbage);
	suite_add_tcase(s, parse);

	tcase_set_timeout(scan, 60);
	tcase_add_test(scan, test_scan_flat);
	tcase_add_test(scan, test_scan_full_page_text);
	tcase_add_test(scan, test_scan_q35_above_4g);
	tcase_add_test(scan, test_scan_sparse_4g_is_fast);
	tcase_add_test(scan, test_scan_dense_is_fast);
	tcase_add_test(scan, test_scan_after_fault);
	suite_add_tcase(s, scan);
	return s;
}

BW_TEST_MAIN(vmcoreinfo_suite)
