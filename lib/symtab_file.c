/* SPDX-License-Identifier: MIT */
/*
 * Kernel symbols from files the user supplies, for guests whose kernel
 * exports no kallsyms through VMCOREINFO (DESIGN.md "Files supplied by the
 * user").  Both give link-time addresses; the caller slides them by
 * KERNELOFFSET with bw_symtab_relocate().
 *
 * System.map is what the kernel build writes with `nm -n vmlinux` filtered
 * by scripts/mksysmap: one symbol a line,
 *
 *	ffffffff81000000 T _text
 *
 * a hex address, nm's one-character type (uppercase = global) and the name.
 * A copy of /proc/kallsyms has the same three fields plus "[module]" on
 * module symbols; those lines are skipped, as module addresses are not part
 * of the vmlinux image.
 *
 * A vmlinux ELF (unstripped, as in a -dbg package) carries the same symbols
 * in .symtab.  The type character is derived the way nm does it, so a
 * symbol gets the same type from either file: the section it is defined in
 * gives the letter (executable 't', NOBITS 'b', writable 'd', other
 * allocated 'r', non-allocated 'n', SHN_ABS 'a', SHN_COMMON 'c'), global
 * binding makes it uppercase, and weak symbols are 'W' ('V' for objects).
 */
#include "symtab.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * "<16 hex digits> <type> <name>\t[module]": names are at most
 * KSYM_NAME_LEN (512) bytes since 6.1, so a longer line is not System.map.
 */
#define SYSTEM_MAP_MAX_LINE 1024
/*
 * A linked vmlinux has ~50 sections (a relocatable object built with
 * -ffunction-sections may have tens of thousands); the bound keeps the
 * per-section table small for a corrupt header.
 */
#define ELF_MAX_SECTIONS 1000000

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static char *skip_space(char *p)
{
	while (*p && is_space(*p))
		p++;
	return p;
}

static char *skip_word(char *p)
{
	while (*p && !is_space(*p))
		p++;
	return p;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Parse one line.  Returns 1 with a symbol, 0 for a line to skip (blank,
 * or a module symbol), or -EINVAL with *why set.
 */
static int parse_map_line(char *line, uint64_t *addr, char *type, char **name, const char **why)
{
	char *p = skip_space(line), *end;
	unsigned int digits = 0;
	uint64_t v = 0;

	if (!*p)
		return 0;
	for (; *p && !is_space(*p); p++, digits++) {
		int d = hex_digit(*p);

		if (d < 0) {
			*why = "the address is not hexadecimal";
			return -EINVAL;
		}
		if (digits == 16) {
			*why = "the address has more than 16 hex digits";
			return -EINVAL;
		}
		v = v << 4 | (uint64_t)d;
	}
	p = skip_space(p);
	if (!*p) {
		*why = "the symbol type is missing";
		return -EINVAL;
	}
	if ((p[1] && !is_space(p[1])) || *p < 0x21 || *p > 0x7e) {
		*why = "the symbol type is not one printable character";
		return -EINVAL;
	}
	*type = *p;
	p = skip_space(p + 1);
	if (!*p) {
		*why = "the symbol name is missing";
		return -EINVAL;
	}
	*name = p;
	end = skip_word(p);
	p = skip_space(end);
	*end = '\0';
	if (*p) {
		char *field = p;

		p = skip_word(p);
		if (field[0] != '[' || p[-1] != ']' || *skip_space(p)) {
			*why = "unexpected text after the symbol name";
			return -EINVAL;
		}
		return 0;	/* "[module]": not a vmlinux symbol */
	}
	*addr = v;
	return 1;
}

int bw_symtab_load_system_map(const char *path, struct bw_symtab **out, struct bw_error *err)
{
	struct bw_symtab *tab = NULL;
	unsigned long lineno = 0;
	size_t line_cap = 0;
	char *line = NULL;
	ssize_t len;
	FILE *f;
	int r;

	*out = NULL;
	f = fopen(path, "re");
	if (!f)
		return bw_error_set(err, -errno, "cannot open System.map %s: %s", path,
				    strerror(errno));
	tab = bw_symtab_new();
	if (!tab) {
		r = bw_error_set(err, -ENOMEM, "loading System.map %s: out of memory", path);
		goto out;
	}
	errno = 0;
	while ((len = getline(&line, &line_cap, f)) >= 0) {
		const char *why = NULL;
		uint64_t addr = 0;
		char *name = NULL;
		char type = '?';

		lineno++;
		if (len > SYSTEM_MAP_MAX_LINE) {
			r = bw_error_set(err, -EINVAL, "%s:%lu: line longer than %d bytes", path,
					 lineno, SYSTEM_MAP_MAX_LINE);
			goto out;
		}
		if (strlen(line) != (size_t)len) {
			r = bw_error_set(err, -EINVAL, "%s:%lu: NUL byte in line (not a text file?)",
					 path, lineno);
			goto out;
		}
		r = parse_map_line(line, &addr, &type, &name, &why);
		if (r < 0) {
			r = bw_error_set(err, r, "%s:%lu: not a System.map line: %s", path, lineno,
					 why);
			goto out;
		}
		if (r == 0)
			continue;
		r = bw_symtab_add(tab, name, addr, type);
		if (r < 0) {
			r = bw_error_set(err, r, "%s:%lu: cannot add symbol %s: %s", path, lineno,
					 name, strerror(-r));
			goto out;
		}
	}
	if (ferror(f)) {
		r = bw_error_set(err, errno ? -errno : -EIO, "reading System.map %s failed: %s",
				 path, strerror(errno ? errno : EIO));
		goto out;
	}
	if (bw_symtab_count(tab) == 0) {
		r = bw_error_set(err, -ENOENT, "System.map %s holds no symbols", path);
		goto out;
	}
	r = bw_symtab_finish(tab);
	if (r < 0) {
		r = bw_error_set(err, r, "indexing System.map %s: %s", path, strerror(-r));
		goto out;
	}
	*out = tab;
	tab = NULL;
	r = 0;
out:
	free(line);
	bw_symtab_free(tab);
	fclose(f);
	return r;
}

/* nm's letter for a symbol defined in a section with this header (lowercase). */
static char section_letter(const GElf_Shdr *sh)
{
	if (!(sh->sh_flags & SHF_ALLOC))
		return 'n';
	if (sh->sh_flags & SHF_EXECINSTR)
		return 't';
	if (sh->sh_type == SHT_NOBITS)
		return 'b';
	if (sh->sh_flags & SHF_WRITE)
		return 'd';
	return 'r';
}

static char symbol_type(const GElf_Sym *sym, char letter)
{
	unsigned int bind = GELF_ST_BIND(sym->st_info);

	if (bind == STB_WEAK)
		return GELF_ST_TYPE(sym->st_info) == STT_OBJECT ? 'V' : 'W';
	if (bind == STB_GLOBAL || bind == STB_GNU_UNIQUE)
		return (char)(letter - 'a' + 'A');
	return letter;
}

struct elf_symtab_src {
	Elf *elf;
	size_t symtab_ndx;	/* section index of .symtab */
	size_t strtab_ndx;
	Elf_Data *syms;
	Elf_Data *xndx;		/* SHT_SYMTAB_SHNDX, for section indexes >= SHN_LORESERVE */
	size_t nsyms;
	size_t nsections;
	char *letters;		/* per section: section_letter(), 0 if unusable */
};

static int find_symtab(struct elf_symtab_src *src, const char *path, struct bw_error *err)
{
	Elf_Scn *scn = NULL, *symscn = NULL;
	GElf_Shdr sh;
	size_t entsize;

	if (elf_getshdrnum(src->elf, &src->nsections) < 0)
		return bw_error_set(err, -EINVAL, "%s: cannot read the section headers: %s", path,
				    elf_errmsg(-1));
	if (src->nsections > ELF_MAX_SECTIONS)
		return bw_error_set(err, -EINVAL, "%s: %zu sections, more than a vmlinux has (%d)",
				    path, src->nsections, ELF_MAX_SECTIONS);
	src->letters = calloc(src->nsections ? src->nsections : 1, 1);
	if (!src->letters)
		return bw_error_set(err, -ENOMEM, "%s: out of memory", path);
	while ((scn = elf_nextscn(src->elf, scn))) {
		size_t ndx = elf_ndxscn(scn);

		if (!gelf_getshdr(scn, &sh))
			continue;
		if (ndx < src->nsections)
			src->letters[ndx] = section_letter(&sh);
		if (sh.sh_type == SHT_SYMTAB && !symscn) {
			symscn = scn;
			src->symtab_ndx = ndx;
			src->strtab_ndx = sh.sh_link;
		}
	}
	if (!symscn)
		return bw_error_set(err, -ENOENT,
				    "%s: no .symtab section (a stripped vmlinux? use the one from the debug package)",
				    path);
	src->syms = elf_getdata(symscn, NULL);
	entsize = gelf_fsize(src->elf, ELF_T_SYM, 1, EV_CURRENT);
	if (!src->syms || !entsize)
		return bw_error_set(err, -EINVAL, "%s: cannot read .symtab: %s", path,
				    elf_errmsg(-1));
	src->nsyms = src->syms->d_size / entsize;
	if (src->nsyms > INT_MAX)
		return bw_error_set(err, -EINVAL, "%s: .symtab claims %zu symbols", path,
				    src->nsyms);
	if (src->strtab_ndx == 0 || src->strtab_ndx >= src->nsections)
		return bw_error_set(err, -EINVAL, "%s: .symtab links to no string table", path);

	/* Only needed when some symbol's section index does not fit 16 bits. */
	scn = NULL;
	while ((scn = elf_nextscn(src->elf, scn))) {
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB_SHNDX &&
		    sh.sh_link == src->symtab_ndx) {
			src->xndx = elf_getdata(scn, NULL);
			break;
		}
	}
	return 0;
}

static int add_elf_symbols(struct elf_symtab_src *src, struct bw_symtab *tab, const char *path,
			   struct bw_error *err)
{
	/* Entry 0 is the reserved null symbol. */
	for (size_t i = 1; i < src->nsyms; i++) {
		GElf_Sym sym;
		Elf32_Word xndx = 0;
		size_t shndx;
		const char *name;
		char letter;
		int r;

		if (!gelf_getsymshndx(src->syms, src->xndx, (int)i, &sym, &xndx))
			return bw_error_set(err, -EINVAL, "%s: cannot read symbol %zu: %s", path, i,
					    elf_errmsg(-1));
		if (GELF_ST_TYPE(sym.st_info) == STT_SECTION || GELF_ST_TYPE(sym.st_info) == STT_FILE)
			continue;
		shndx = sym.st_shndx == SHN_XINDEX ? xndx : sym.st_shndx;
		if (sym.st_shndx == SHN_UNDEF)
			continue;
		name = elf_strptr(src->elf, src->strtab_ndx, sym.st_name);
		if (!name || !name[0])
			continue;
		if (sym.st_shndx == SHN_ABS)
			letter = 'a';
		else if (sym.st_shndx == SHN_COMMON)
			letter = 'c';
		else if (shndx < src->nsections && src->letters[shndx])
			letter = src->letters[shndx];
		else
			letter = '?';
		r = bw_symtab_add(tab, name, sym.st_value,
				  letter == '?' ? '?' : symbol_type(&sym, letter));
		if (r < 0)
			return bw_error_set(err, r, "%s: cannot add symbol %s: %s", path, name,
					    strerror(-r));
	}
	return 0;
}

int bw_symtab_load_elf(const char *path, struct bw_symtab **out, struct bw_error *err)
{
	struct elf_symtab_src src = { 0 };
	struct bw_symtab *tab = NULL;
	int fd, r;

	*out = NULL;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return bw_error_set(err, -ENOTSUP, "loading %s: libelf is unusable: %s", path,
				    elf_errmsg(-1));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bw_error_set(err, -errno, "cannot open vmlinux %s: %s", path,
				    strerror(errno));
	src.elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!src.elf || elf_kind(src.elf) != ELF_K_ELF) {
		r = bw_error_set(err, -EINVAL, "%s: not an ELF file%s%s", path,
				 src.elf ? "" : ": ", src.elf ? "" : elf_errmsg(-1));
		goto out;
	}
	r = find_symtab(&src, path, err);
	if (r < 0)
		goto out;
	tab = bw_symtab_new();
	if (!tab) {
		r = bw_error_set(err, -ENOMEM, "loading symbols of %s: out of memory", path);
		goto out;
	}
	r = add_elf_symbols(&src, tab, path, err);
	if (r < 0)
		goto out;
	if (bw_symtab_count(tab) == 0) {
		r = bw_error_set(err, -ENOENT, "%s: .symtab holds no defined symbols", path);
		goto out;
	}
	r = bw_symtab_finish(tab);
	if (r < 0) {
		r = bw_error_set(err, r, "indexing symbols of %s: %s", path, strerror(-r));
		goto out;
	}
	*out = tab;
	tab = NULL;
	r = 0;
out:
	bw_symtab_free(tab);
	free(src.letters);
	if (src.elf)
		elf_end(src.elf);
	close(fd);
	return r;
}
