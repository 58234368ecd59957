/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* asprintf */
#endif
#include "watch_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ini.h"
#include "scx_health.h"

/* The admin's drop-ins live in SYSCONFDIR/bpfwatch (the Makefile passes it). */
#ifndef BW_SYSCONFDIR
#define BW_SYSCONFDIR "/etc"
#endif

#define WATCH_SUFFIX ".watch"

/* The shared tokenizer's caps are the ones watch_files.h promises. */
_Static_assert(WATCH_FILE_MAX_BYTES == INI_MAX_BYTES, "watch file size cap");
_Static_assert(WATCH_FILE_MAX_LINE == INI_MAX_LINE, "watch file line cap");

enum key_id { KEY_MAP, KEY_FIELD, KEY_AGGREGATE, KEY_LABEL, KEY_OBJECT, KEY_TYPE, KEY_OFFSET,
	      KEY_ACROSS, KEY_COUNT };

static const char *const key_names[KEY_COUNT] = {
	[KEY_MAP] = "Map",
	[KEY_FIELD] = "Field",
	[KEY_AGGREGATE] = "Aggregate",
	[KEY_LABEL] = "Label",
	[KEY_OBJECT] = "Object",
	[KEY_TYPE] = "Type",
	[KEY_OFFSET] = "Offset",
	[KEY_ACROSS] = "Across",
};

/* The [Watch] section being read. */
struct section {
	unsigned int line;		/* of its header; 0 outside any section */
	char *value[KEY_COUNT];
	unsigned int key_line[KEY_COUNT];
	enum bw_agg agg;
	enum bw_leaf_type type;
	uint64_t offset;
	enum bw_across across;
};

/* What the tokenizer callbacks share while one file is parsed. */
struct parse_state {
	struct bw_watch_set *set;
	const char *name;
	struct section sec;
};

/* Prefix a message from a lib check with "file:line"; keeps the code even when err is NULL. */
static int at_line(struct bw_error *err, int r, const char *name, unsigned int line)
{
	if (r < 0 && err)
		bw_error_prefix(err, "%s:%u", name, line);
	return r;
}

static void section_clear(struct section *sec)
{
	unsigned int k;

	for (k = 0; k < KEY_COUNT; k++)
		free(sec->value[k]);
	memset(sec, 0, sizeof(*sec));
}

/* Turn a complete section into a watch of @set. */
static int section_finish(struct bw_watch_set *set, const char *name, struct section *sec,
			  struct bw_error *err)
{
	static const enum key_id required[] = { KEY_MAP, KEY_FIELD, KEY_AGGREGATE, KEY_LABEL };
	struct bw_watch w;
	unsigned int i;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!sec->value[required[i]])
			return ini_line_error(err, -EINVAL, name, sec->line,
					      "[Watch] section has no %s=", key_names[required[i]]);
	w = (struct bw_watch){
		.map_suffix = sec->value[KEY_MAP],
		.field = sec->value[KEY_FIELD],
		.agg = sec->agg,
		.label = sec->value[KEY_LABEL],
		.object = sec->value[KEY_OBJECT],
		.type = sec->type,
		.has_offset = sec->value[KEY_OFFSET] != NULL,
		.offset = sec->offset,
		.across = sec->across,
		.source_file = name,
		.source_line = sec->line,
	};
	/* Keys of the built-in kernel metrics are the daemon's own. */
	if (w.object) {
		const char *prefix = BW_SCX_HEALTH_PREFIX;
		size_t olen = strlen(w.object), plen = strlen(prefix);
		bool clash = olen >= plen ? strncmp(w.object, prefix, plen) == 0 :
			     strncmp(w.object, prefix, olen) == 0 && prefix[olen] == '_' &&
			     strncmp(w.label, prefix + olen + 1, plen - olen - 1) == 0;

		if (clash)
			return ini_line_error(err, -EINVAL, name, sec->line,
					      "Object=%s with Label=%s gives keys starting with \"%s\", "
					      "which belong to the built-in sched_ext metrics",
					      w.object, w.label, BW_SCX_HEALTH_PREFIX);
	}
	/* The set's messages already start with "name:line: ". */
	return bw_watch_set_add(set, &w, err);
}

/* A "Key=Value" line inside a section; the value is checked by its own rules. */
static int section_key(struct section *sec, const char *name, unsigned int line,
		       const char *key, size_t klen, const char *val, size_t vlen,
		       struct bw_error *err)
{
	char q[INI_QUOTE_BUF];
	unsigned int k;
	char *value;
	int r;

	for (k = 0; k < KEY_COUNT; k++)
		if (ini_word_eq(key, klen, key_names[k]))
			break;
	if (k == KEY_COUNT)
		return ini_line_error(err, -EINVAL, name, line,
				      "unknown key \"%s\" in [Watch] (expected Map, Field, Aggregate, "
				      "Label, Object, Type, Offset or Across)", ini_quote(key, klen, q, sizeof(q)));
	if (sec->value[k])
		return ini_line_error(err, -EINVAL, name, line,
				      "duplicate key %s= (first set at line %u)",
				      key_names[k], sec->key_line[k]);
	value = strndup(val, vlen);
	if (!value)
		return ini_line_error(err, -ENOMEM, name, line, "out of memory");
	switch ((enum key_id)k) {
	case KEY_MAP: r = bw_watch_check_map_suffix(value, err); break;
	case KEY_FIELD: r = bw_watch_check_field(value, err); break;
	case KEY_AGGREGATE: r = bw_agg_parse(value, &sec->agg, err); break;
	case KEY_LABEL: r = bw_watch_check_label(value, err); break;
	case KEY_OBJECT: r = bw_watch_check_object(value, err); break;
	case KEY_TYPE: r = bw_leaf_type_parse(value, &sec->type, err); break;
	case KEY_OFFSET: r = bw_watch_parse_offset(value, &sec->offset, err); break;
	case KEY_ACROSS: r = bw_across_parse(value, &sec->across, err); break;
	default: r = -EINVAL; break;
	}
	if (r < 0) {
		free(value);
		return at_line(err, r, name, line);
	}
	sec->value[k] = value;
	sec->key_line[k] = line;
	return 0;
}

static int on_section(void *userdata, const char *sname, size_t len, unsigned int line,
		      struct bw_error *err)
{
	struct parse_state *ps = userdata;
	char q[INI_QUOTE_BUF];
	int r;

	if (!ini_word_eq(sname, len, "Watch"))
		return ini_line_error(err, -EINVAL, ps->name, line,
				      "unknown section [%s] (only [Watch] is known)",
				      ini_quote(sname, len, q, sizeof(q)));
	if (ps->sec.line) {
		r = section_finish(ps->set, ps->name, &ps->sec, err);
		section_clear(&ps->sec);
		if (r < 0)
			return r;
	}
	ps->sec.line = line;
	return 0;
}

static int on_key(void *userdata, const char *key, size_t klen, const char *val, size_t vlen,
		  unsigned int line, struct bw_error *err)
{
	struct parse_state *ps = userdata;
	char q[INI_QUOTE_BUF];

	if (!ps->sec.line)
		return ini_line_error(err, -EINVAL, ps->name, line,
				      "key \"%s\" outside a [Watch] section",
				      ini_quote(key, klen, q, sizeof(q)));
	return section_key(&ps->sec, ps->name, line, key, klen, val, vlen, err);
}

int watch_file_parse(struct bw_watch_set *set, const char *name, const char *text, size_t len,
		     struct bw_error *err)
{
	struct parse_state ps = { .set = set, .name = name };
	const struct ini_parser parser = {
		.header_hint = "[Watch]",
		.section = on_section,
		.key = on_key,
		.userdata = &ps,
	};
	int r;

	r = ini_parse(&parser, name, text, len, err);
	if (r == 0 && ps.sec.line)
		r = section_finish(set, name, &ps.sec, err);
	section_clear(&ps.sec);
	return r;
}

int watch_file_load(struct bw_watch_set *set, const char *path, struct bw_error *err)
{
	char *text;
	size_t len;
	int r;

	r = ini_read_file(path, "watch file", &text, &len, err);
	if (r < 0)
		return r;
	r = watch_file_parse(set, path, text, len, err);
	free(text);
	return r;
}

void watch_dirs_free(char **dirs, size_t n)
{
	size_t i;

	if (!dirs)
		return;
	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
}

static bool instance_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '_' || c == '.' || c == '@' || c == '-' || c == '\\';
}

int watch_dirs_default(const char *root, const char *instance, char ***dirs, size_t *n,
		       struct bw_error *err)
{
	static const char *const levels[] = { BW_SYSCONFDIR "/bpfwatch", "/run/bpfwatch",
					      "/usr/lib/bpfwatch" };
	char q[INI_QUOTE_BUF];
	char **out;
	size_t i, count = 0, rlen;

	*dirs = NULL;
	*n = 0;
	if (instance) {
		size_t ilen = strlen(instance);

		if (ilen == 0 || ilen > WATCH_INSTANCE_MAX || instance[0] == '.')
			return bw_error_set(err, -EINVAL,
					    "instance name \"%s\": must be 1..%d characters, not "
					    "starting with '.'", ini_quote(instance, ilen, q, sizeof(q)),
					    WATCH_INSTANCE_MAX);
		for (i = 0; i < ilen; i++)
			if (!instance_char_ok(instance[i]))
				return bw_error_set(err, -EINVAL,
						    "instance name \"%s\": byte 0x%02x at offset %zu is "
						    "not one of [A-Za-z0-9:_.@-\\]",
						    ini_quote(instance, ilen, q, sizeof(q)),
						    (unsigned char)instance[i], i);
	}
	if (!root || !*root)
		root = "/";
	rlen = strlen(root);
	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	out = calloc(2 * sizeof(levels) / sizeof(levels[0]), sizeof(*out));
	if (!out)
		goto nomem;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (instance &&
		    asprintf(&out[count++], "%.*s%s/%s.watch.d", (int)rlen, root, levels[i],
			     instance) < 0) {
			out[--count] = NULL;
			goto nomem;
		}
		if (asprintf(&out[count++], "%.*s%s/watch.d", (int)rlen, root, levels[i]) < 0) {
			out[--count] = NULL;
			goto nomem;
		}
	}
	*dirs = out;
	*n = count;
	return 0;
nomem:
	watch_dirs_free(out, count);
	return bw_error_set(err, -ENOMEM, "building the watch search path: out of memory");
}

struct found {
	char *name;
	size_t dir;		/* index in the search path: lower wins */
};

static int found_cmp(const void *a, const void *b)
{
	const struct found *fa = a, *fb = b;
	int c = strcmp(fa->name, fb->name);

	if (c)
		return c;
	return fa->dir < fb->dir ? -1 : fa->dir > fb->dir;
}

static bool is_watch_name(const char *name)
{
	size_t len = strlen(name), slen = strlen(WATCH_SUFFIX);

	return name[0] != '.' && len > slen && strcmp(name + len - slen, WATCH_SUFFIX) == 0;
}

/* Append the "*.watch" names of @dir to @found; a missing directory adds nothing. */
static int scan_dir(const char *dir, size_t index, struct found **found, size_t *nfound,
		    size_t *cap, struct bw_error *err)
{
	struct dirent *de;
	size_t in_dir = 0;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return bw_error_set(err, -errno, "%s: cannot open watch directory: %s", dir,
				    strerror(errno));
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				r = bw_error_set(err, -errno, "%s: cannot read watch directory: %s",
						 dir, strerror(errno));
			break;
		}
		if (!is_watch_name(de->d_name))
			continue;
		if (++in_dir > WATCH_FILES_MAX) {
			r = bw_error_set(err, -E2BIG, "%s: more than %d watch files", dir,
					 WATCH_FILES_MAX);
			break;
		}
		if (*nfound == *cap) {
			size_t ncap = *cap ? *cap * 2 : 32;
			struct found *grown = realloc(*found, ncap * sizeof(*grown));

			if (!grown) {
				r = bw_error_set(err, -ENOMEM, "%s: out of memory", dir);
				break;
			}
			*found = grown;
			*cap = ncap;
		}
		(*found)[*nfound].name = strdup(de->d_name);
		(*found)[*nfound].dir = index;
		if (!(*found)[*nfound].name) {
			r = bw_error_set(err, -ENOMEM, "%s: out of memory", dir);
			break;
		}
		(*nfound)++;
	}
	closedir(d);
	return r;
}

int watch_files_list(const char *const *dirs, size_t ndirs, char ***paths, size_t *n,
		     struct bw_error *err)
{
	struct found *found = NULL;
	size_t nfound = 0, cap = 0, i, count = 0;
	char **out = NULL;
	int r = 0;

	*paths = NULL;
	*n = 0;
	for (i = 0; i < ndirs && r == 0; i++)
		r = scan_dir(dirs[i], i, &found, &nfound, &cap, err);
	if (r < 0)
		goto out;
	if (nfound > 1)
		qsort(found, nfound, sizeof(*found), found_cmp);
	out = calloc(nfound ? nfound : 1, sizeof(*out));
	if (!out) {
		r = bw_error_set(err, -ENOMEM, "listing watch files: out of memory");
		goto out;
	}
	for (i = 0; i < nfound; i++) {
		const char *dir;
		size_t dlen;

		/* Sorted by name, then by directory: the first of each name wins. */
		if (i > 0 && strcmp(found[i].name, found[i - 1].name) == 0)
			continue;
		if (count == WATCH_FILES_MAX) {
			r = bw_error_set(err, -E2BIG, "more than %d watch files in the search path",
					 WATCH_FILES_MAX);
			goto out;
		}
		dir = dirs[found[i].dir];
		dlen = strlen(dir);
		while (dlen > 1 && dir[dlen - 1] == '/')
			dlen--;
		if (asprintf(&out[count], "%.*s%s%s", (int)dlen, dir,
			     dlen && dir[dlen - 1] == '/' ? "" : "/", found[i].name) < 0) {
			out[count] = NULL;
			r = bw_error_set(err, -ENOMEM, "listing watch files: out of memory");
			goto out;
		}
		count++;
	}
out:
	for (i = 0; i < nfound; i++)
		free(found[i].name);
	free(found);
	if (r < 0) {
		watch_dirs_free(out, count);
		return r;
	}
	*paths = out;
	*n = count;
	return 0;
}

int watch_files_load(const char *const *dirs, size_t ndirs, struct bw_watch_set **out,
		     struct bw_error *err)
{
	struct bw_watch_set *set;
	char **paths;
	size_t i, n;
	int r;

	*out = NULL;
	r = watch_files_list(dirs, ndirs, &paths, &n, err);
	if (r < 0)
		return r;
	set = bw_watch_set_new();
	if (!set) {
		watch_dirs_free(paths, n);
		return bw_error_set(err, -ENOMEM, "loading watch files: out of memory");
	}
	for (i = 0; i < n && r == 0; i++)
		r = watch_file_load(set, paths[i], err);
	watch_dirs_free(paths, n);
	if (r < 0) {
		bw_watch_set_free(set);
		return r;
	}
	*out = set;
	return 0;
}

int watch_files_load_for(const char *const *dirs, size_t ndirs, const char *instance,
			 struct bw_watch_set **out, struct bw_error *err)
{
	char **defaults = NULL;
	size_t ndefaults = 0;
	int r;

	if (dirs)
		return watch_files_load(dirs, ndirs, out, err);
	r = watch_dirs_default(NULL, instance, &defaults, &ndefaults, err);
	if (r < 0)
		return r;
	r = watch_files_load((const char *const *)defaults, ndefaults, out, err);
	watch_dirs_free(defaults, ndefaults);
	return r;
}
