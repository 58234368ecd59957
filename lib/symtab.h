/* SPDX-License-Identifier: MIT */
/*
 * A name -> address table of kernel symbols, whatever produced it: kallsyms
 * decoded from guest memory, a System.map file or a vmlinux ELF symtab.
 * Lookups are by exact name; when a (static) name occurs more than once the
 * first one added wins, and names carrying Clang's ThinLTO suffix
 * (".llvm.<digits>") are also found under their plain name.
 */
#ifndef BPFWATCH_SYMTAB_H
#define BPFWATCH_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct bw_symtab;

struct bw_symbol {
	const char *name;
	uint64_t addr;
	char type;		/* kallsyms/System.map type char ('T', 'd', ...), '?' if unknown */
};

struct bw_symtab *bw_symtab_new(void);
void bw_symtab_free(struct bw_symtab *tab);
/* Copies @name. */
int bw_symtab_add(struct bw_symtab *tab, const char *name, uint64_t addr, char type);
/* Build the hash index; call once after the last add. */
int bw_symtab_finish(struct bw_symtab *tab);
/* NULL when absent. */
const struct bw_symbol *bw_symtab_lookup(const struct bw_symtab *tab, const char *name);
size_t bw_symtab_count(const struct bw_symtab *tab);
/* Add @delta to every address (KASLR slide for static symbol files). */
void bw_symtab_relocate(struct bw_symtab *tab, uint64_t delta);

/* System.map ("ffffffff81000000 T _text" lines). */
int bw_symtab_load_system_map(const char *path, struct bw_symtab **out, struct bw_error *err);
/* A vmlinux ELF's .symtab, read with libelf. */
int bw_symtab_load_elf(const char *path, struct bw_symtab **out, struct bw_error *err);

#endif
