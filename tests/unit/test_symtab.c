/* SPDX-License-Identifier: MIT */
/*
 * The symbol table and its file loaders: lookups, duplicate and ThinLTO
 * names, relocation, System.map files good and bad, and vmlinux ELF files
 * written here with libelf.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "symtab.h"
#include "util_mem.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

START_TEST(test_add_lookup)
{
	struct bw_symtab *tab = bw_symtab_new();
	const struct bw_symbol *s;

	ck_assert_ptr_nonnull(tab);
	ck_assert_uint_eq(bw_symtab_count(tab), 0);
	ck_assert_int_eq(bw_symtab_add(tab, "_text", 0xffffffff81000000ull, 'T'), 0);
	ck_assert_int_eq(bw_symtab_add(tab, "map_idr", 0xffffffff82a3c0e0ull, 'd'), 0);
	ck_assert_int_eq(bw_symtab_add(tab, "__per_cpu_offset", 0xffffffff82414c40ull, 'D'), 0);
	ck_assert_int_eq(bw_symtab_finish(tab), 0);
	ck_assert_uint_eq(bw_symtab_count(tab), 3);

	s = bw_symtab_lookup(tab, "map_idr");
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s->name, "map_idr");
	ck_assert_uint_eq(s->addr, 0xffffffff82a3c0e0ull);
	ck_assert_int_eq(s->type, 'd');
	ck_assert_uint_eq(bw_symtab_lookup(tab, "_text")->addr, 0xffffffff81000000ull);
	ck_assert_int_eq(bw_symtab_lookup(tab, "__per_cpu_offset")->type, 'D');
	ck_assert_ptr_null(bw_symtab_lookup(tab, "prog_idr"));
	ck_assert_ptr_null(bw_symtab_lookup(tab, "map_id"));	/* a prefix is not a match */
	ck_assert_ptr_null(bw_symtab_lookup(tab, "map_idr2"));
	ck_assert_ptr_null(bw_symtab_lookup(tab, ""));
	ck_assert_ptr_null(bw_symtab_lookup(tab, NULL));
	ck_assert_ptr_null(bw_symtab_lookup(NULL, "map_idr"));

	ck_assert_int_eq(bw_symtab_add(tab, "", 1, 'T'), -EINVAL);
	ck_assert_int_eq(bw_symtab_add(tab, NULL, 1, 'T'), -EINVAL);
	ck_assert_int_eq(bw_symtab_add(NULL, "x", 1, 'T'), -EINVAL);
	bw_symtab_free(tab);
	bw_symtab_free(NULL);
}
END_TEST

START_TEST(test_empty_table)
{
	struct bw_symtab *tab = bw_symtab_new();

	ck_assert_ptr_null(bw_symtab_lookup(tab, "x"));
	ck_assert_int_eq(bw_symtab_finish(tab), 0);
	ck_assert_ptr_null(bw_symtab_lookup(tab, "x"));
	ck_assert_uint_eq(bw_symtab_count(tab), 0);
	bw_symtab_relocate(tab, 5);
	bw_symtab_free(tab);
}
END_TEST

START_TEST(test_copies_name)
{
	struct bw_symtab *tab = bw_symtab_new();
	char name[] = "scx_root";

	ck_assert_int_eq(bw_symtab_add(tab, name, 0x1000, 'b'), 0);
	memcpy(name, "xxxxxxxx", 8);
	ck_assert_int_eq(bw_symtab_finish(tab), 0);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "scx_root")->addr, 0x1000);
	ck_assert_ptr_null(bw_symtab_lookup(tab, "xxxxxxxx"));
	bw_symtab_free(tab);
}
END_TEST

START_TEST(test_duplicates_first_wins)
{
	struct bw_symtab *tab = bw_symtab_new();

	ck_assert_int_eq(bw_symtab_add(tab, "init_once", 0x100, 't'), 0);
	ck_assert_int_eq(bw_symtab_add(tab, "other", 0x150, 't'), 0);
	ck_assert_int_eq(bw_symtab_add(tab, "init_once", 0x200, 't'), 0);
	ck_assert_int_eq(bw_symtab_add(tab, "init_once", 0x300, 'T'), 0);
	/* Before the index: the same answer by scanning. */
	ck_assert_uint_eq(bw_symtab_lookup(tab, "init_once")->addr, 0x100);
	ck_assert_int_eq(bw_symtab_finish(tab), 0);
	ck_assert_uint_eq(bw_symtab_count(tab), 4);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "init_once")->addr, 0x100);
	bw_symtab_free(tab);
}
END_TEST

START_TEST(test_llvm_suffix)
{
	struct bw_symtab *tab = bw_symtab_new();

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			ck_assert_int_eq(bw_symtab_finish(tab), 0);
		else {
			ck_assert_int_eq(bw_symtab_add(tab, "foo.llvm.123456789", 0x10, 't'), 0);
			/* A plain name beats a suffixed one, whichever comes first. */
			ck_assert_int_eq(bw_symtab_add(tab, "bar.llvm.1", 0x20, 't'), 0);
			ck_assert_int_eq(bw_symtab_add(tab, "bar", 0x21, 't'), 0);
			ck_assert_int_eq(bw_symtab_add(tab, "baz", 0x30, 'd'), 0);
			ck_assert_int_eq(bw_symtab_add(tab, "baz.llvm.77", 0x31, 'd'), 0);
			/* Two suffixed copies: the first one added. */
			ck_assert_int_eq(bw_symtab_add(tab, "dup.llvm.1", 0x40, 't'), 0);
			ck_assert_int_eq(bw_symtab_add(tab, "dup.llvm.2", 0x41, 't'), 0);
			/* Not a ThinLTO suffix. */
			ck_assert_int_eq(bw_symtab_add(tab, "odd.llvm.12a", 0x50, 't'), 0);
			ck_assert_int_eq(bw_symtab_add(tab, "bare.llvm.", 0x60, 't'), 0);
			ck_assert_int_eq(bw_symtab_add(tab, ".llvm.5", 0x70, 't'), 0);
			ck_assert_int_eq(bw_symtab_add(tab, "two.llvm.1.llvm.2", 0x80, 't'), 0);
		}
		ck_assert_str_eq(bw_symtab_lookup(tab, "foo")->name, "foo.llvm.123456789");
		ck_assert_uint_eq(bw_symtab_lookup(tab, "foo.llvm.123456789")->addr, 0x10);
		ck_assert_uint_eq(bw_symtab_lookup(tab, "bar")->addr, 0x21);
		ck_assert_uint_eq(bw_symtab_lookup(tab, "bar.llvm.1")->addr, 0x20);
		ck_assert_uint_eq(bw_symtab_lookup(tab, "baz")->addr, 0x30);
		ck_assert_uint_eq(bw_symtab_lookup(tab, "dup")->addr, 0x40);
		ck_assert_uint_eq(bw_symtab_lookup(tab, "dup.llvm.2")->addr, 0x41);
		ck_assert_ptr_null(bw_symtab_lookup(tab, "odd"));
		ck_assert_ptr_null(bw_symtab_lookup(tab, "bare"));
		ck_assert_ptr_null(bw_symtab_lookup(tab, "foo.llvm"));
		ck_assert_uint_eq(bw_symtab_lookup(tab, "two.llvm.1")->addr, 0x80);
		ck_assert_uint_eq(bw_symtab_lookup(tab, ".llvm.5")->addr, 0x70);
	}
	bw_symtab_free(tab);
}
END_TEST

START_TEST(test_add_after_finish)
{
	struct bw_symtab *tab = bw_symtab_new();

	ck_assert_int_eq(bw_symtab_add(tab, "a", 1, 'T'), 0);
	ck_assert_int_eq(bw_symtab_finish(tab), 0);
	ck_assert_int_eq(bw_symtab_add(tab, "b", 2, 'T'), 0);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "b")->addr, 2);	/* scanned */
	ck_assert_int_eq(bw_symtab_finish(tab), 0);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "a")->addr, 1);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "b")->addr, 2);
	bw_symtab_free(tab);
}
END_TEST

START_TEST(test_relocate)
{
	struct bw_symtab *tab = bw_symtab_new();
	const struct bw_symbol *s;

	ck_assert_int_eq(bw_symtab_add(tab, "_stext", 0xffffffff81000000ull, 'T'), 0);
	ck_assert_int_eq(bw_symtab_add(tab, "prog_idr", 0xffffffff82a3c100ull, 'd'), 0);
	ck_assert_int_eq(bw_symtab_finish(tab), 0);
	s = bw_symtab_lookup(tab, "_stext");
	bw_symtab_relocate(tab, 0x15400000);
	/* Pointers handed out stay valid and see the new address. */
	ck_assert_uint_eq(s->addr, 0xffffffff96400000ull);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "prog_idr")->addr, 0xffffffff97e3c100ull);
	/* A negative slide is the two's complement delta. */
	bw_symtab_relocate(tab, (uint64_t)-0x15400000);
	ck_assert_uint_eq(s->addr, 0xffffffff81000000ull);
	bw_symtab_relocate(NULL, 1);
	bw_symtab_free(tab);
}
END_TEST

/* A kernel's worth of symbols: every one found, and quickly. */
START_TEST(test_many_symbols)
{
	const size_t n = 200000;
	struct bw_symtab *tab = bw_symtab_new();
	char (*names)[64] = malloc(n * 64);
	size_t failed = 0;
	double t0, ms;

	ck_assert_ptr_nonnull(names);
	for (size_t i = 0; i < n; i++)
		snprintf(names[i], sizeof(names[i]), "%s_%zu", i % 2 ? "do_sys_handler" : "sym", i);
	/* No ck_assert in the timed loop: each one costs a write to check's pipe. */
	t0 = now_ms();
	for (size_t i = 0; i < n; i++)
		failed += bw_symtab_add(tab, names[i], 0xffffffff81000000ull + 16 * i,
					"Tt"[i % 2]) != 0;
	failed += bw_symtab_finish(tab) != 0;
	ms = now_ms() - t0;
	ck_assert_uint_eq(failed, 0);
	printf("symtab: %zu symbols added and indexed in %.1f ms\n", n, ms);
	/* Generous: the sanitizer build is several times slower. */
	ck_assert_double_lt(ms, 2000.0);
	ck_assert_uint_eq(bw_symtab_count(tab), n);
	for (size_t i = 0; i < n; i++) {
		const struct bw_symbol *s = bw_symtab_lookup(tab, names[i]);

		failed += !s || s->addr != 0xffffffff81000000ull + 16 * i || s->name == names[i];
	}
	ck_assert_uint_eq(failed, 0);
	free(names);
	ck_assert_ptr_null(bw_symtab_lookup(tab, "sym_1"));
	ck_assert_ptr_null(bw_symtab_lookup(tab, "sym_200000"));
	bw_symtab_free(tab);
}
END_TEST

/* Files in a fresh temporary directory. */
struct tmpdir {
	char dir[64];
	char path[128];
};

static const char *tmp_file(struct tmpdir *t, const char *name, const void *data, size_t len)
{
	FILE *f;

	if (!t->dir[0]) {
		snprintf(t->dir, sizeof(t->dir), "/tmp/bw_test_symtab_XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(t->dir));
	}
	snprintf(t->path, sizeof(t->path), "%s/%s", t->dir, name);
	if (data) {
		f = fopen(t->path, "w");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(data, 1, len, f), len);
		fclose(f);
	}
	return t->path;
}

static void tmp_cleanup(struct tmpdir *t, const char *const *names)
{
	char path[128];

	for (; *names; names++) {
		snprintf(path, sizeof(path), "%s/%s", t->dir, *names);
		unlink(path);
	}
	rmdir(t->dir);
}

START_TEST(test_system_map)
{
	static const char map[] =
		"0000000000000000 D fixed_percpu_data\n"
		"ffffffff81000000 T _text\n"
		"ffffffff81000000 T startup_64\n"
		"\n"
		"ffffffff81001000 T _stext\n"
		"ffffffff82a3c0e0 d map_idr\r\n"
		"ffffffff82a3c100 d map_idr\n"
		"   ffffffff83400000   B   scx_root  \n"
		"ffffffffc0002000 t bpf_prog_xyz\t[bpf]\n"
		"FFFFFFFF82E00000 R __start_BTF\n"
		"ffffffff8300a000 t foo.llvm.998877";
	struct tmpdir t = { 0 };
	const char *path = tmp_file(&t, "System.map", map, strlen(map));
	struct bw_symtab *tab = NULL;
	struct bw_error err = { 0 };

	ck_assert_msg(bw_symtab_load_system_map(path, &tab, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(bw_symtab_count(tab), 9);	/* the [bpf] module line is skipped */
	ck_assert_uint_eq(bw_symtab_lookup(tab, "fixed_percpu_data")->addr, 0);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "_stext")->addr, 0xffffffff81001000ull);
	ck_assert_int_eq(bw_symtab_lookup(tab, "_stext")->type, 'T');
	ck_assert_uint_eq(bw_symtab_lookup(tab, "map_idr")->addr, 0xffffffff82a3c0e0ull);
	ck_assert_int_eq(bw_symtab_lookup(tab, "map_idr")->type, 'd');
	ck_assert_uint_eq(bw_symtab_lookup(tab, "scx_root")->addr, 0xffffffff83400000ull);
	ck_assert_int_eq(bw_symtab_lookup(tab, "scx_root")->type, 'B');
	ck_assert_uint_eq(bw_symtab_lookup(tab, "__start_BTF")->addr, 0xffffffff82e00000ull);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "foo")->addr, 0xffffffff8300a000ull);
	ck_assert_ptr_null(bw_symtab_lookup(tab, "bpf_prog_xyz"));
	bw_symtab_relocate(tab, 0x15400000);
	ck_assert_uint_eq(bw_symtab_lookup(tab, "_text")->addr, 0xffffffff96400000ull);
	bw_symtab_free(tab);
	tmp_cleanup(&t, (const char *const[]){ "System.map", NULL });
}
END_TEST

/* Each bad file fails with "<path>:<line>:" and @why in the message. */
START_TEST(test_system_map_bad)
{
	static const struct {
		const char *text;
		size_t len;
		int line;
		const char *why;
	} cases[] = {
#define CASE(text, line, why) { text, sizeof(text) - 1, line, why }
		CASE("ffffffff81000000 T _text\nzzzz T foo\n", 2, "not hexadecimal"),
		CASE("ffffffff81000000 T _text\nffffffff81000000 T\n", 2, "name is missing"),
		CASE("ffffffff81000000 T _text\nffffffff81000000 T", 2, "name is missing"),
		CASE("ffffffff81000000\n", 1, "type is missing"),
		CASE("ffffffff81000000 TT foo\n", 1, "not one printable character"),
		CASE("ffffffff81000000 T foo bar\n", 1, "unexpected text"),
		CASE("ffffffff81000000 T foo [mod] x\n", 1, "unexpected text"),
		CASE("1ffffffff81000000 T foo\n", 1, "more than 16 hex digits"),
		CASE("ffffffff81000000 T _text\n\nffffffff81000000 T a\0b\n", 3, "NUL byte"),
		CASE("ffffffff81000000 \x01 foo\n", 1, "not one printable"),
	};
	struct tmpdir t = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = tmp_file(&t, "bad.map", cases[i].text, cases[i].len);
		struct bw_symtab *tab = (struct bw_symtab *)&t;
		struct bw_error err = { 0 };
		char where[160];
		int r;

		r = bw_symtab_load_system_map(path, &tab, &err);
		ck_assert_msg(r == -EINVAL, "case %zu: %d %s", i, r, err.msg);
		ck_assert_ptr_null(tab);
		snprintf(where, sizeof(where), "%s:%d: ", path, cases[i].line);
		ck_assert_msg(strstr(err.msg, where) && strstr(err.msg, cases[i].why),
			      "case %zu: message \"%s\"", i, err.msg);
	}
	tmp_cleanup(&t, (const char *const[]){ "bad.map", NULL });
}
END_TEST

START_TEST(test_system_map_long_line_and_empty)
{
	struct tmpdir t = { 0 };
	struct bw_symtab *tab = NULL;
	struct bw_error err = { 0 };
	char *big = malloc(5000);
	const char *path;

	memcpy(big, "ffffffff81000000 T ", 19);
	memset(big + 19, 'a', 5000 - 20);
	big[4999] = '\n';
	path = tmp_file(&t, "long.map", big, 5000);
	ck_assert_int_eq(bw_symtab_load_system_map(path, &tab, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, ":1: line longer than"), "%s", err.msg);
	free(big);

	path = tmp_file(&t, "empty.map", "\n\n", 2);
	ck_assert_int_eq(bw_symtab_load_system_map(path, &tab, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "no symbols"), "%s", err.msg);
	ck_assert_ptr_null(tab);
	tmp_cleanup(&t, (const char *const[]){ "long.map", "empty.map", NULL });
}
END_TEST

START_TEST(test_missing_files)
{
	struct bw_symtab *tab = (struct bw_symtab *)&tab;
	struct bw_error err = { 0 };
	const char *path = "/nonexistent/bpfwatch/System.map";

	ck_assert_int_eq(bw_symtab_load_system_map(path, &tab, &err), -ENOENT);
	ck_assert_ptr_null(tab);
	ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "No such file"), "%s", err.msg);

	tab = (struct bw_symtab *)&tab;
	path = "/nonexistent/bpfwatch/vmlinux";
	ck_assert_int_eq(bw_symtab_load_elf(path, &tab, &err), -ENOENT);
	ck_assert_ptr_null(tab);
	ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "No such file"), "%s", err.msg);
	ck_assert_int_eq(err.code, -ENOENT);
}
END_TEST

/* ---- vmlinux-like ELF files, written with libelf ---- */

struct elf_sym_spec {
	const char *name;
	uint64_t value;
	unsigned char bind;
	unsigned char type;
	uint16_t shndx;		/* section index, or SHN_ABS / SHN_UNDEF */
};

enum { SEC_TEXT = 1, SEC_RODATA, SEC_DATA, SEC_BSS, SEC_DEBUG, SEC_SYMTAB, SEC_STRTAB,
       SEC_SHSTRTAB };

static Elf_Scn *new_section(Elf *e, uint32_t name, uint32_t type, uint64_t flags, uint64_t addr,
			    void *buf, size_t size, Elf_Type dtype)
{
	Elf_Scn *scn = elf_newscn(e);
	Elf_Data *d;
	Elf64_Shdr *sh;

	ck_assert_ptr_nonnull(scn);
	d = elf_newdata(scn);
	ck_assert_ptr_nonnull(d);
	d->d_buf = buf;
	d->d_size = size;
	d->d_type = dtype;
	d->d_align = dtype == ELF_T_SYM ? 8 : 1;
	d->d_version = EV_CURRENT;
	sh = elf64_getshdr(scn);
	sh->sh_name = name;
	sh->sh_type = type;
	sh->sh_flags = flags;
	sh->sh_addr = addr;
	sh->sh_addralign = d->d_align;
	return scn;
}

/* A minimal vmlinux: .text .rodata .data .bss .debug_info, and a .symtab unless @stripped. */
static void write_elf(const char *path, const struct elf_sym_spec *syms, size_t n, bool stripped)
{
	static const char shstr[] = "\0.text\0.rodata\0.data\0.bss\0.debug_info\0.symtab\0.strtab\0.shstrtab";
	static uint8_t text[64], rodata[64], data[64], debug[16];
	Elf64_Sym *esyms = calloc(n + 1, sizeof(*esyms));
	char *strtab = calloc(1, 4096);
	size_t strlen_used = 1, nlocal = 1;
	Elf64_Ehdr *eh;
	Elf_Scn *shscn;
	Elf *e;
	int fd;

	ck_assert_int_ne(elf_version(EV_CURRENT), EV_NONE);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	e = elf_begin(fd, ELF_C_WRITE, NULL);
	ck_assert_ptr_nonnull(e);
	eh = elf64_newehdr(e);
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_machine = EM_X86_64;
	eh->e_type = ET_EXEC;
	eh->e_version = EV_CURRENT;

	new_section(e, 1, SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, 0xffffffff81000000ull, text,
		    sizeof(text), ELF_T_BYTE);
	new_section(e, 7, SHT_PROGBITS, SHF_ALLOC, 0xffffffff82000000ull, rodata, sizeof(rodata),
		    ELF_T_BYTE);
	new_section(e, 15, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, 0xffffffff83000000ull, data,
		    sizeof(data), ELF_T_BYTE);
	new_section(e, 21, SHT_NOBITS, SHF_ALLOC | SHF_WRITE, 0xffffffff84000000ull, NULL, 4096,
		    ELF_T_BYTE);
	new_section(e, 26, SHT_PROGBITS, 0, 0, debug, sizeof(debug), ELF_T_BYTE);
	if (!stripped) {
		Elf_Scn *symscn;
		Elf64_Shdr *sh;

		/* ELF wants locals first (the caller lists them so); sh_info is the first global. */
		for (size_t i = 0; i < n; i++) {
			Elf64_Sym *s = &esyms[i + 1];

			if (syms[i].name[0]) {
				s->st_name = (uint32_t)strlen_used;
				strcpy(strtab + strlen_used, syms[i].name);
				strlen_used += strlen(syms[i].name) + 1;
			}
			s->st_value = syms[i].value;
			s->st_size = 8;
			s->st_info = ELF64_ST_INFO(syms[i].bind, syms[i].type);
			s->st_shndx = syms[i].shndx;
			if (syms[i].bind == STB_LOCAL)
				nlocal = i + 2;
		}
		symscn = new_section(e, 38, SHT_SYMTAB, 0, 0, esyms, (n + 1) * sizeof(*esyms),
				     ELF_T_SYM);
		sh = elf64_getshdr(symscn);
		sh->sh_entsize = sizeof(Elf64_Sym);
		sh->sh_link = SEC_STRTAB;
		sh->sh_info = (uint32_t)nlocal;
		new_section(e, 46, SHT_STRTAB, 0, 0, strtab, strlen_used, ELF_T_BYTE);
	}
	shscn = new_section(e, stripped ? 46 + 8 : 54, SHT_STRTAB, 0, 0, (void *)shstr,
			    sizeof(shstr), ELF_T_BYTE);
	eh->e_shstrndx = (uint16_t)elf_ndxscn(shscn);
	ck_assert_msg(elf_update(e, ELF_C_WRITE) > 0, "elf_update: %s", elf_errmsg(-1));
	elf_end(e);
	close(fd);
	free(esyms);
	free(strtab);
}

START_TEST(test_elf_symtab)
{
	static const struct elf_sym_spec syms[] = {
		/* locals */
		{ "vmlinux.c", 0, STB_LOCAL, STT_FILE, SHN_ABS },
		{ "", 0xffffffff81000000ull, STB_LOCAL, STT_SECTION, SEC_TEXT },
		{ "local_fn", 0xffffffff81000010ull, STB_LOCAL, STT_FUNC, SEC_TEXT },
		{ "map_idr", 0xffffffff83000020ull, STB_LOCAL, STT_OBJECT, SEC_DATA },
		{ "ro_thing", 0xffffffff82000008ull, STB_LOCAL, STT_OBJECT, SEC_RODATA },
		{ "scx_root", 0xffffffff84000100ull, STB_LOCAL, STT_OBJECT, SEC_BSS },
		{ "init_once", 0xffffffff81000020ull, STB_LOCAL, STT_FUNC, SEC_TEXT },
		{ "init_once", 0xffffffff81000030ull, STB_LOCAL, STT_FUNC, SEC_TEXT },
		{ "helper.llvm.4711", 0xffffffff81000038ull, STB_LOCAL, STT_FUNC, SEC_TEXT },
		{ "dbg", 0x10, STB_LOCAL, STT_OBJECT, SEC_DEBUG },
		/* globals */
		{ "_text", 0xffffffff81000000ull, STB_GLOBAL, STT_NOTYPE, SEC_TEXT },
		{ "_stext", 0xffffffff81000000ull, STB_GLOBAL, STT_NOTYPE, SEC_TEXT },
		{ "__per_cpu_offset", 0xffffffff83000000ull, STB_GLOBAL, STT_OBJECT, SEC_DATA },
		{ "__start_BTF", 0xffffffff82000010ull, STB_GLOBAL, STT_NOTYPE, SEC_RODATA },
		{ "empty_zero_page", 0xffffffff84000000ull, STB_GLOBAL, STT_OBJECT, SEC_BSS },
		{ "weak_fn", 0xffffffff81000040ull, STB_WEAK, STT_FUNC, SEC_TEXT },
		{ "weak_obj", 0xffffffff83000040ull, STB_WEAK, STT_OBJECT, SEC_DATA },
		{ "__abs_marker", 0x1234, STB_GLOBAL, STT_NOTYPE, SHN_ABS },
		{ "undefined_ext", 0, STB_GLOBAL, STT_NOTYPE, SHN_UNDEF },
	};
	static const struct {
		const char *name;
		uint64_t addr;
		char type;
	} want[] = {
		{ "local_fn", 0xffffffff81000010ull, 't' },
		{ "map_idr", 0xffffffff83000020ull, 'd' },
		{ "ro_thing", 0xffffffff82000008ull, 'r' },
		{ "scx_root", 0xffffffff84000100ull, 'b' },
		{ "init_once", 0xffffffff81000020ull, 't' },
		{ "helper", 0xffffffff81000038ull, 't' },
		{ "dbg", 0x10, 'n' },
		{ "_text", 0xffffffff81000000ull, 'T' },
		{ "_stext", 0xffffffff81000000ull, 'T' },
		{ "__per_cpu_offset", 0xffffffff83000000ull, 'D' },
		{ "__start_BTF", 0xffffffff82000010ull, 'R' },
		{ "empty_zero_page", 0xffffffff84000000ull, 'B' },
		{ "weak_fn", 0xffffffff81000040ull, 'W' },
		{ "weak_obj", 0xffffffff83000040ull, 'V' },
		{ "__abs_marker", 0x1234, 'A' },
	};
	struct tmpdir t = { 0 };
	const char *path = tmp_file(&t, "vmlinux", NULL, 0);
	struct bw_symtab *tab = NULL;
	struct bw_error err = { 0 };

	write_elf(path, syms, sizeof(syms) / sizeof(syms[0]), false);
	ck_assert_msg(bw_symtab_load_elf(path, &tab, &err) == 0, "%s", err.msg);
	/* The file and section symbols and the undefined one are left out. */
	ck_assert_uint_eq(bw_symtab_count(tab), sizeof(syms) / sizeof(syms[0]) - 3);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct bw_symbol *s = bw_symtab_lookup(tab, want[i].name);

		ck_assert_msg(s != NULL, "%s missing", want[i].name);
		ck_assert_msg(s->addr == want[i].addr && s->type == want[i].type,
			      "%s: %#" PRIx64 " %c", want[i].name, s->addr, s->type);
	}
	ck_assert_ptr_null(bw_symtab_lookup(tab, "undefined_ext"));
	ck_assert_ptr_null(bw_symtab_lookup(tab, "vmlinux.c"));
	bw_symtab_free(tab);
	tmp_cleanup(&t, (const char *const[]){ "vmlinux", NULL });
}
END_TEST

START_TEST(test_elf_bad)
{
	struct tmpdir t = { 0 };
	struct bw_symtab *tab = (struct bw_symtab *)&t;
	struct bw_error err = { 0 };
	char junk[4096];
	const char *path;

	/* Stripped: no .symtab. */
	path = tmp_file(&t, "stripped", NULL, 0);
	write_elf(path, NULL, 0, true);
	ck_assert_int_eq(bw_symtab_load_elf(path, &tab, &err), -ENOENT);
	ck_assert_ptr_null(tab);
	ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "no .symtab"), "%s", err.msg);

	/* Not an ELF file at all. */
	test_fill_random(junk, sizeof(junk), 7);
	path = tmp_file(&t, "junk", junk, sizeof(junk));
	ck_assert_int_eq(bw_symtab_load_elf(path, &tab, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "not an ELF file"), "%s", err.msg);

	/* An empty file. */
	path = tmp_file(&t, "empty", "", 0);
	ck_assert_int_lt(bw_symtab_load_elf(path, &tab, &err), 0);
	ck_assert_msg(strstr(err.msg, path), "%s", err.msg);

	/* An ELF header and nothing after it. */
	memcpy(junk, ELFMAG, SELFMAG);
	junk[EI_CLASS] = ELFCLASS64;
	junk[EI_DATA] = ELFDATA2LSB;
	junk[EI_VERSION] = EV_CURRENT;
	path = tmp_file(&t, "truncated", junk, 64);
	ck_assert_int_lt(bw_symtab_load_elf(path, &tab, &err), 0);
	ck_assert_ptr_null(tab);
	ck_assert_msg(strstr(err.msg, path), "%s", err.msg);
	tmp_cleanup(&t, (const char *const[]){ "stripped", "junk", "empty", "truncated", NULL });
}
END_TEST

static Suite *symtab_suite(void)
{
	Suite *s = suite_create("symtab");
	TCase *tc = tcase_create("table");
	TCase *files = tcase_create("files");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_add_lookup);
	tcase_add_test(tc, test_empty_table);
	tcase_add_test(tc, test_copies_name);
	tcase_add_test(tc, test_duplicates_first_wins);
	tcase_add_test(tc, test_llvm_suffix);
	tcase_add_test(tc, test_add_after_finish);
	tcase_add_test(tc, test_relocate);
	tcase_add_test(tc, test_many_symbols);
	suite_add_tcase(s, tc);
	tcase_add_test(files, test_system_map);
	tcase_add_test(files, test_system_map_bad);
	tcase_add_test(files, test_system_map_long_line_and_empty);
	tcase_add_test(files, test_missing_files);
	tcase_add_test(files, test_elf_symtab);
	tcase_add_test(files, test_elf_bad);
	suite_add_tcase(s, files);
	return s;
}

BW_TEST_MAIN(symtab_suite)
