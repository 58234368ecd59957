/* SPDX-License-Identifier: MIT */
/* Watch drop-in files: the INI syntax, errors with file:line, the search path. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util_mem.h"
#include "watch.h"
#include "watch_files.h"

#define ck_assert_msg_has(err, needle) \
	ck_assert_msg(strstr((err)->msg, (needle)) != NULL, "message \"%s\" lacks \"%s\"", \
		      (err)->msg, (needle))

static char tmp[64];

static void tmp_setup(void)
{
	strcpy(tmp, "/tmp/bw_watch_files_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void tmp_teardown(void)
{
	nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* tmp/<rel>, made with its parent directories. */
static char *path_in(const char *rel)
{
	char *p, *slash;

	ck_assert_int_ge(asprintf(&p, "%s/%s", tmp, rel), 0);
	for (slash = strchr(p + strlen(tmp) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		mkdir(p, 0755);
		*slash = '/';
	}
	return p;
}

static char *write_file(const char *rel, const char *text, size_t len)
{
	char *p = path_in(rel);
	FILE *f = fopen(p, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	return p;
}

static char *write_text(const char *rel, const char *text)
{
	return write_file(rel, text, strlen(text));
}

static int parse(const char *text, struct bw_watch_set **set, struct bw_error *err)
{
	*set = bw_watch_set_new();
	bw_error_clear(err);
	return watch_file_parse(*set, "t.watch", text, strlen(text), err);
}

#define WATCH(label) "[Watch]\nMap=.bss\nField=f\nAggregate=scalar\nLabel=" label "\n"

START_TEST(test_parse_good)
{
	static const char text[] =
		"# scx_lavd statistics\n"
		"; another comment style\n"
		"\n"
		"[Watch]\n"
		"Map=.bss\n"
		"Field=sys_stat.avg_lat_cri\n"
		"Aggregate=scalar\n"
		"Label=avg_lat_cri\n"
		"   \t\n"
		"  [Watch]  \r\n"
		"  Map  =  cpu_ctx_stor_acc \r\n"
		"\tField= nr_sched\t\r\n"
		"  # a comment inside a section, with UTF-8: gr\xc3\xb6\xc3\x9f" "e\n"
		"Label =sched\n"
		"Aggregate=percpu-counter\n"
		"Object=scx_lavd\n"
		"[Watch]\n"
		"Map=bss\nField=a.b.c\nAggregate=percpu\nLabel=lat";	/* no final newline */
	struct bw_watch_set *set;
	const struct bw_watch *w;
	struct bw_error err;

	ck_assert_msg(parse(text, &set, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(bw_watch_set_count(set), 3);
	w = bw_watch_set_get(set, 0);
	ck_assert_str_eq(w->map_suffix, ".bss");
	ck_assert_str_eq(w->field, "sys_stat.avg_lat_cri");
	ck_assert_int_eq(w->agg, BW_AGG_SCALAR);
	ck_assert_str_eq(w->label, "avg_lat_cri");
	ck_assert_ptr_null(w->object);
	ck_assert_str_eq(w->source_file, "t.watch");
	ck_assert_uint_eq(w->source_line, 4);
	w = bw_watch_set_get(set, 1);
	ck_assert_str_eq(w->map_suffix, "cpu_ctx_stor_acc");
	ck_assert_str_eq(w->field, "nr_sched");
	ck_assert_int_eq(w->agg, BW_AGG_PERCPU_COUNTER);
	ck_assert_str_eq(w->label, "sched");
	ck_assert_str_eq(w->object, "scx_lavd");
	ck_assert_uint_eq(w->source_line, 10);
	w = bw_watch_set_get(set, 2);
	ck_assert_str_eq(w->map_suffix, "bss");
	ck_assert_str_eq(w->field, "a.b.c");
	ck_assert_int_eq(w->agg, BW_AGG_PERCPU);
	ck_assert_str_eq(w->label, "lat");
	ck_assert_uint_eq(w->source_line, 17);
	bw_watch_set_free(set);

	/* Nothing but comments, or nothing at all: no watches, no error. */
	ck_assert_int_eq(parse("# nothing\n\n;\n", &set, &err), 0);
	ck_assert_uint_eq(bw_watch_set_count(set), 0);
	bw_watch_set_free(set);
	ck_assert_int_eq(parse("", &set, &err), 0);
	ck_assert_uint_eq(bw_watch_set_count(set), 0);
	bw_watch_set_free(set);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "Map=.bss\n", "t.watch:1: key \"Map\" outside a [Watch] section" },
		{ "# c\n\n  Label = x\n[Watch]\n", "t.watch:3: key \"Label\" outside a [Watch] section" },
		{ "[Watch]\nMap=.bss\nFoo=1\n",
		  "t.watch:3: unknown key \"Foo\" in [Watch] (expected Map, Field, Aggregate, Label, "
		  "Object, Type, Offset or Across)" },
		{ "[Watch]\nmap=.bss\n", "t.watch:2: unknown key \"map\" in [Watch]" },
		{ "[Watch]\nMa\x01p=.bss\n", "t.watch:2: unknown key \"Ma\\x01p\"" },
		{ "[Other]\n", "t.watch:1: unknown section [Other] (only [Watch] is known)" },
		{ "\n[watch]\n", "t.watch:2: unknown section [watch]" },
		{ "[ Watch ]\n", "t.watch:1: unknown section [ Watch ]" },
		{ "[]\n", "t.watch:1: unknown section []" },
		{ "[Watch\n", "t.watch:1: malformed section header \"[Watch\" (no closing ']')" },
		{ "[\n", "t.watch:1: malformed section header \"[\"" },
		{ "[Watch]\nMap=.bss\nField=a\nAggregate=scalar\n",
		  "t.watch:1: [Watch] section has no Label=" },
		{ "[Watch]\n[Watch]\n", "t.watch:1: [Watch] section has no Map=" },
		{ WATCH("a") "[Watch]\nMap=m\nLabel=b\nAggregate=scalar\n",
		  "t.watch:6: [Watch] section has no Field=" },
		{ "[Watch]\nMap=x\nField=y\nLabel=z\n", "t.watch:1: [Watch] section has no Aggregate=" },
		{ "[Watch]\nMap=a\nField=b\nMap=c\n", "t.watch:4: duplicate key Map= (first set at line 2)" },
		{ "[Watch]\nMap .bss\n",
		  "t.watch:2: \"Map .bss\" is not Key=Value, a [Watch] header or a comment" },
		{ "[Watch]\n  = x\n", "t.watch:2: empty key before '='" },
		{ "[Watch]\nLabel=a.b\n",
		  "t.watch:2: label \"a.b\": contains '.' at offset 1 (it must be one key leaf)" },
		{ "[Watch]\nLabel=x # note\n", "t.watch:2: label \"x # note\": contains whitespace" },
		{ "[Watch]\nLabel=a/b\n", "t.watch:2: label \"a/b\": contains '/'" },
		{ "[Watch]\nMap=a\\b\n", "t.watch:2: map name suffix \"a\\x5cb\": contains '\\'" },
		{ "[Watch]\nMap=\n", "t.watch:2: map name suffix: empty" },
		{ "[Watch]\nField=.a\n", "t.watch:2: field \".a\": starts with '.'" },
		{ "[Watch]\nField=a.\n", "t.watch:2: field \"a.\": ends with '.'" },
		{ "[Watch]\nField=a..b\n", "t.watch:2: field \"a..b\": contains \"..\"" },
		{ "[Watch]\nField=a\xc3\xa9\n", "t.watch:2: field \"a\\xc3\\xa9\": contains a non-ASCII byte" },
		{ "[Watch]\nField=a\x7f\n", "t.watch:2: field \"a\\x7f\": contains a control byte" },
		{ "[Watch]\nAggregate=avg\n",
		  "t.watch:2: aggregate \"avg\": unknown; expected scalar, scalar-counter, percpu or "
		  "percpu-counter" },
		{ "[Watch]\nAggregate=\n", "t.watch:2: aggregate \"\": unknown" },
		{ "[Watch]\nObject=waytoolongobjname\n",
		  "t.watch:2: object \"waytoolongobjname\": longer than 15 characters" },
		{ "[Watch]\nObject=a.b\n", "t.watch:2: object \"a.b\": contains '.'" },
		{ WATCH("x") "\n" WATCH("x"), "t.watch:7: duplicate label \"x\" (first used by t.watch:1)" },
		{ "[Watch]\nMap=.bss\nField=f\nAggregate=percpu\nLabel=x\n" WATCH("x_avg"),
		  "t.watch:6: metric key \"<obj>_x_avg\" of scalar watch \"x_avg\" collides with the "
		  "same key of percpu watch \"x\" at t.watch:1" },
		{ "[Watch]\nType=u128\n", "t.watch:2: type \"u128\": unknown; expected u8, u16, u32, "
		  "u64, s8, s16, s32, s64 or bool" },
		{ "[Watch]\nOffset=-4\n", "t.watch:2: offset \"-4\": expected a byte offset" },
		{ "[Watch]\nOffset=0x\n", "t.watch:2: offset \"0x\": expected a byte offset" },
		{ "[Watch]\nOffset=2147483648\n", "t.watch:2: offset \"2147483648\": expected" },
		{ "[Watch]\nAcross=mean\n", "t.watch:2: across \"mean\": unknown; expected sum, min, "
		  "max, count or avg" },
		{ "[Watch]\nMap=m\nField=[*].x\nAggregate=scalar\nLabel=a\n",
		  "t.watch:1: field \"[*].x\" reads every element: give Across=sum" },
		{ "[Watch]\nMap=m\nField=[1].x\nAcross=sum\nAggregate=scalar\nLabel=a\n",
		  "t.watch:1: Across=sum needs a field starting with \"[*]\"" },
		{ "[Watch]\nMap=m\nField=[*]\nAcross=max\nAggregate=percpu\nLabel=a\n",
		  "t.watch:1: Across= folds every element (and CPU) into one value per tick: use "
		  "Aggregate=scalar or scalar-counter, not percpu" },
		{ "[Watch]\nType=u8\nType=u16\n", "t.watch:3: duplicate key Type= (first set at line 2)" },
		/* Keys "sched_ext_*" are the built-in kernel metrics'. */
		{ "[Watch]\nMap=.bss\nField=f\nAggregate=scalar\nLabel=state\nObject=sched_ext\n",
		  "t.watch:1: Object=sched_ext with Label=state gives keys starting with \"sched_ext_\"" },
		{ "[Watch]\nMap=.bss\nField=f\nAggregate=scalar\nLabel=ext_x\nObject=sched\n",
		  "t.watch:1: Object=sched with Label=ext_x gives keys starting with \"sched_ext_\"" },
		/* The error is at the first bad line, even if later lines are bad too. */
		{ "[Watch]\nMap=ok\nField=..\nLabel=.\n", "t.watch:3: field \"..\": starts with '.'" },
	};
	struct bw_watch_set *set;
	struct bw_error err;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse(cases[i].text, &set, &err);

		ck_assert_msg(r < 0, "case %u accepted", i);
		ck_assert_int_eq(err.code, r);
		ck_assert_msg(strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) == 0,
			      "case %u: got \"%s\", want \"%s\"", i, err.msg, cases[i].msg);
		bw_watch_set_free(set);
	}
	/* A NULL error sink still gets the code. */
	set = bw_watch_set_new();
	ck_assert_int_eq(watch_file_parse(set, "t.watch", "[Watch]\nLabel=a.b\n", 18, NULL), -EINVAL);
	bw_watch_set_free(set);
}
END_TEST

/* Type=, Offset= and Across= reach the watch, and show in its JSON. */
START_TEST(test_typed_keys)
{
	static const char text[] =
		"[Watch]\nMap=stats\nField=[1]\nType=s32\nOffset=0x4\nAggregate=percpu-counter\n"
		"Label=global\n\n"
		"[Watch]\nMap=flat\nField=[*]\nAcross=avg\nAggregate=scalar\nLabel=mean\n";
	struct bw_watch_set *set;
	struct bw_error err;
	const struct bw_watch *w;
	json_t *j;

	ck_assert_msg(parse(text, &set, &err) == 0, "%s", err.msg);
	w = bw_watch_set_get(set, 0);
	ck_assert_int_eq(w->type, BW_TYPE_S32);
	ck_assert(w->has_offset);
	ck_assert_uint_eq(w->offset, 4);
	ck_assert_int_eq(w->across, BW_ACROSS_NONE);
	j = bw_watch_to_json(w);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "s32");
	ck_assert_int_eq(json_integer_value(json_object_get(j, "offset")), 4);
	ck_assert_ptr_null(json_object_get(j, "across"));
	json_decref(j);
	w = bw_watch_set_get(set, 1);
	ck_assert_int_eq(w->type, BW_TYPE_BTF);
	ck_assert(!w->has_offset);
	ck_assert_int_eq(w->across, BW_ACROSS_AVG);
	j = bw_watch_to_json(w);
	ck_assert_str_eq(json_string_value(json_object_get(j, "across")), "avg");
	ck_assert_ptr_null(json_object_get(j, "type"));
	json_decref(j);
	bw_watch_set_free(set);
}
END_TEST

/*
 * Every file shipped in conf/watch.d/ and conf/demo.watch.d/ loads and
 * validates (the tests run from the top of the tree), each as its own set:
 * they are copied one per scheduler.
 */
START_TEST(test_shipped_watch_files)
{
	static const char *const dirs[] = { "conf/watch.d", "conf/demo.watch.d" };
	unsigned int files = 0;

	for (size_t d = 0; d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *de;

		ck_assert_msg(dir, "%s: %s", dirs[d], strerror(errno));
		while ((de = readdir(dir))) {
			size_t len = strlen(de->d_name);
			struct bw_watch_set *set;
			struct bw_error err = { 0 };
			char path[512];

			if (len < 7 || strcmp(de->d_name + len - 6, ".watch"))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
			set = bw_watch_set_new();
			ck_assert_msg(watch_file_load(set, path, &err) == 0, "%s", err.msg);
			ck_assert_msg(bw_watch_set_count(set) > 0, "%s holds no watch", path);
			bw_watch_set_free(set);
			files++;
		}
		closedir(dir);
	}
	/* scx_simple, qmap, central, flatcg, pair, lavd, bpfland, rusty, layered + the demo */
	ck_assert_uint_ge(files, 10);
}
END_TEST

START_TEST(test_nul_and_long_lines)
{
	static const char nul[] = "[Watch]\nMap=a\0b\nField=f\n";
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_error err;
	size_t big = 100000;
	char *text = malloc(big + 64);
	int len;

	ck_assert_int_eq(watch_file_parse(set, "t.watch", nul, sizeof(nul) - 1, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "t.watch:2: contains a NUL byte");
	/* A NUL in a comment is still a NUL. */
	ck_assert_int_eq(watch_file_parse(set, "t.watch", "# a\0b\n", 6, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "t.watch:1: contains a NUL byte");

	/* A line of 100k characters. */
	len = sprintf(text, "[Watch]\n# fine\nLabel=");
	memset(text + len, 'x', big);
	strcpy(text + len + big, "\nMap=a\n");
	ck_assert_int_eq(watch_file_parse(set, "t.watch", text, strlen(text), &err), -EINVAL);
	ck_assert_str_eq(err.msg, "t.watch:3: line longer than 4096 bytes");

	/* Exactly the cap is allowed (a comment), one more is not. */
	memset(text, '#', WATCH_FILE_MAX_LINE);
	text[WATCH_FILE_MAX_LINE] = '\n';
	ck_assert_int_eq(watch_file_parse(set, "t.watch", text, WATCH_FILE_MAX_LINE + 1, &err), 0);
	memset(text, '#', WATCH_FILE_MAX_LINE + 1);
	ck_assert_int_eq(watch_file_parse(set, "t.watch", text, WATCH_FILE_MAX_LINE + 1, &err),
			 -EINVAL);
	ck_assert_str_eq(err.msg, "t.watch:1: line longer than 4096 bytes");
	ck_assert_uint_eq(bw_watch_set_count(set), 0);
	free(text);
	bw_watch_set_free(set);
}
END_TEST

/* Random bytes, random printable text and random mixes of real lines: errors, never a crash. */
START_TEST(test_garbage)
{
	static const char *const pieces[] = {
		"[Watch]\n", "[Watch", "Map=.bss\n", "Field=a.b\n", "Aggregate=percpu\n",
		"Aggregate=scalar\n", "Label=x\n", "Label=y_avg\n", "Object=o\n", "# c\n", "\n",
		"=\n", "Map=\n", "\xff\xfe", "\r\n", " ", "Label=z\n", "Field=..\n", "[X]\n",
	};
	static char buf[1 << 16];
	struct bw_error err;
	unsigned int seed, ok = 0, bad = 0;

	for (seed = 1; seed <= 600; seed++) {
		struct bw_watch_set *set = bw_watch_set_new();
		size_t len = (seed * 7919) % sizeof(buf), i;
		int r;

		test_fill_random(buf, len, seed);
		if (seed % 3 == 1) {
			/* Raw bytes: always refused. */
			r = watch_file_parse(set, "g.watch", buf, len, &err);
			if (len > 64)
				ck_assert_int_lt(r, 0);
		} else if (seed % 3 == 2) {
			/* Printable ASCII with newlines. */
			for (i = 0; i < len; i++)
				buf[i] = (unsigned char)buf[i] % 17 == 0 ? '\n'
									: (char)(0x20 + (unsigned char)buf[i] % 0x5f);
			r = watch_file_parse(set, "g.watch", buf, len, &err);
		} else {
			/* Real lines in random order. */
			size_t o = 0;
			unsigned char pick[256];

			test_fill_random(pick, sizeof(pick), seed * 3);
			for (i = 0; i < sizeof(pick) && o + 32 < sizeof(buf); i++) {
				const char *p = pieces[pick[i] % (sizeof(pieces) / sizeof(pieces[0]))];

				memcpy(buf + o, p, strlen(p));
				o += strlen(p);
			}
			len = o;
			r = watch_file_parse(set, "g.watch", buf, len, &err);
		}
		ck_assert(r == 0 || r == -EINVAL || r == -EEXIST || r == -E2BIG);
		if (r < 0) {
			bad++;
			ck_assert_msg(strncmp(err.msg, "g.watch:", 8) == 0, "%s", err.msg);
			ck_assert_uint_lt(strlen(err.msg), sizeof(err.msg));
		} else {
			ok++;
		}
		bw_watch_set_free(set);
	}
	ck_assert_uint_gt(bad, 300);
	/* Well-formed input of only good lines parses: one hand-built check. */
	{
		struct bw_watch_set *set;

		ck_assert_int_eq(parse(WATCH("a") WATCH("b"), &set, &err), 0);
		ck_assert_uint_eq(bw_watch_set_count(set), 2);
		bw_watch_set_free(set);
	}
	(void)ok;
}
END_TEST

START_TEST(test_set_cap_in_file)
{
	size_t cap = 64 * (BW_WATCH_SET_MAX + 2), o = 0;
	char *text = malloc(cap);
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_error err;
	unsigned int i;

	for (i = 0; i <= BW_WATCH_SET_MAX; i++)
		o += (size_t)snprintf(text + o, cap - o, "[Watch]\nMap=m\nField=f\nAggregate=scalar\n"
				      "Label=w%u\n", i);
	ck_assert_int_eq(watch_file_parse(set, "big.watch", text, o, &err), -E2BIG);
	ck_assert_str_eq(err.msg, "big.watch:5121: more than 1024 watches in one set");
	free(text);
	bw_watch_set_free(set);
}
END_TEST

START_TEST(test_file_load)
{
	struct bw_watch_set *set;
	struct bw_error err;
	char *p, *big, *dir, *fifo, *link;
	char want[512];

	tmp_setup();
	set = bw_watch_set_new();
	p = write_text("ok.watch", WATCH("a"));
	ck_assert_msg(watch_file_load(set, p, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(bw_watch_set_count(set), 1);
	ck_assert_str_eq(bw_watch_set_get(set, 0)->source_file, p);
	free(p);

	/* 2 MiB: refused before parsing. */
	big = malloc(2u << 20);
	memset(big, '#', 2u << 20);
	p = write_file("big.watch", big, 2u << 20);
	ck_assert_int_eq(watch_file_load(set, p, &err), -EFBIG);
	snprintf(want, sizeof(want), "%s: 2097152 bytes, larger than the 1048576-byte cap on a "
		 "watch file", p);
	ck_assert_str_eq(err.msg, want);
	free(p);
	/* Exactly the cap is fine (comment lines of legal length). */
	for (size_t i = 4000; i < (1u << 20); i += 4001)
		big[i] = '\n';
	p = write_file("cap.watch", big, 1u << 20);
	ck_assert_msg(watch_file_load(set, p, &err) == 0, "%s", err.msg);
	free(p);
	free(big);

	dir = path_in("dir.watch");
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(watch_file_load(set, dir, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	ck_assert_str_eq(err.msg, want);
	free(dir);

	/* A FIFO must be refused at once, not block the reload. */
	fifo = path_in("fifo.watch");
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(watch_file_load(set, fifo, &err), -EINVAL);
	ck_assert_msg_has(&err, "not a regular file");
	free(fifo);

	/* /dev/null (a mask) holds no watches. */
	link = path_in("masked.watch");
	ck_assert_int_eq(symlink("/dev/null", link), 0);
	ck_assert_int_eq(watch_file_load(set, link, &err), 0);
	free(link);

	p = path_in("missing.watch");
	ck_assert_int_eq(watch_file_load(set, p, &err), -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", p);
	ck_assert_str_eq(err.msg, want);
	free(p);

	ck_assert_uint_eq(bw_watch_set_count(set), 1);
	bw_watch_set_free(set);
	tmp_teardown();
}
END_TEST

START_TEST(test_dirs_default)
{
	static const char *const bad[] = { "", ".", "..", ".x", "a/b", "a b", "a\tb", "v\xc3\xa9",
					   "a\n", "x*", "a%b" };
	struct bw_error err;
	char **dirs;
	size_t n, i;
	char *longname;

	ck_assert_int_eq(watch_dirs_default(NULL, "vm1", &dirs, &n, &err), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(dirs[0], "/etc/bpfwatch/vm1.watch.d");
	ck_assert_str_eq(dirs[1], "/etc/bpfwatch/watch.d");
	ck_assert_str_eq(dirs[2], "/run/bpfwatch/vm1.watch.d");
	ck_assert_str_eq(dirs[3], "/run/bpfwatch/watch.d");
	ck_assert_str_eq(dirs[4], "/usr/lib/bpfwatch/vm1.watch.d");
	ck_assert_str_eq(dirs[5], "/usr/lib/bpfwatch/watch.d");
	watch_dirs_free(dirs, n);

	ck_assert_int_eq(watch_dirs_default("/", NULL, &dirs, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(dirs[0], "/etc/bpfwatch/watch.d");
	ck_assert_str_eq(dirs[1], "/run/bpfwatch/watch.d");
	ck_assert_str_eq(dirs[2], "/usr/lib/bpfwatch/watch.d");
	watch_dirs_free(dirs, n);

	ck_assert_int_eq(watch_dirs_default("/srv/root//", "ci-vm@2:x_y.z\\x2d", &dirs, &n, &err), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_str_eq(dirs[0], "/srv/root/etc/bpfwatch/ci-vm@2:x_y.z\\x2d.watch.d");
	ck_assert_str_eq(dirs[5], "/srv/root/usr/lib/bpfwatch/watch.d");
	watch_dirs_free(dirs, n);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dirs = (char **)1;
		n = 7;
		ck_assert_msg(watch_dirs_default("/", bad[i], &dirs, &n, &err) == -EINVAL,
			      "instance %zu accepted", i);
		ck_assert_ptr_null(dirs);
		ck_assert_uint_eq(n, 0);
		ck_assert_msg_has(&err, "instance name");
	}
	longname = malloc(WATCH_INSTANCE_MAX + 2);
	memset(longname, 'v', WATCH_INSTANCE_MAX + 1);
	longname[WATCH_INSTANCE_MAX + 1] = '\0';
	ck_assert_int_eq(watch_dirs_default("/", longname, &dirs, &n, &err), -EINVAL);
	longname[WATCH_INSTANCE_MAX] = '\0';
	ck_assert_int_eq(watch_dirs_default("/", longname, &dirs, &n, &err), 0);
	watch_dirs_free(dirs, n);
	free(longname);
}
END_TEST

/* Same name in two directories: the earlier wins; all files in name order. */
START_TEST(test_precedence_and_order)
{
	struct bw_watch_set *set;
	struct bw_error err;
	char **paths, **dirs;
	char *d1, *d2, *d3, *p;
	size_t n, ndirs;

	tmp_setup();
	d1 = path_in("etc");
	d2 = path_in("usr/");
	d3 = path_in("missing");
	free(write_text("etc/20-b.watch", WATCH("b")));
	free(write_text("etc/10-a.watch", WATCH("a_from_etc")));
	/* Overridden: never read, so its garbage does not matter. */
	free(write_text("usr/10-a.watch", "\x01\x02 not a watch file"));
	free(write_text("usr/30-c.watch", WATCH("c")));
	free(write_text("usr/05-first.watch", "# empty\n"));
	/* Not drop-ins: skipped. */
	free(write_text("etc/.hidden.watch", "garbage"));
	free(write_text("etc/.watch", "garbage"));
	free(write_text("etc/notes.txt", "garbage"));
	free(write_text("etc/x.watch~", "garbage"));
	free(write_text("etc/x.watch.bak", "garbage"));
	free(write_text("etc/watch", "garbage"));
	{
		const char *const list[] = { d1, d2, d3 };

		ck_assert_msg(watch_files_list(list, 3, &paths, &n, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(n, 4);
		ck_assert_str_eq(paths[0] + strlen(tmp), "/usr/05-first.watch");
		ck_assert_str_eq(paths[1] + strlen(tmp), "/etc/10-a.watch");
		ck_assert_str_eq(paths[2] + strlen(tmp), "/etc/20-b.watch");
		ck_assert_str_eq(paths[3] + strlen(tmp), "/usr/30-c.watch");
		watch_dirs_free(paths, n);

		ck_assert_msg(watch_files_load(list, 3, &set, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(bw_watch_set_count(set), 3);
		ck_assert_str_eq(bw_watch_set_get(set, 0)->label, "a_from_etc");
		ck_assert_str_eq(bw_watch_set_get(set, 1)->label, "b");
		ck_assert_str_eq(bw_watch_set_get(set, 2)->label, "c");
		p = NULL;
		ck_assert_int_ge(asprintf(&p, "%s/etc/10-a.watch", tmp), 0);
		ck_assert_str_eq(bw_watch_set_get(set, 0)->source_file, p);
		ck_assert_uint_eq(bw_watch_set_get(set, 0)->source_line, 1);
		free(p);
		bw_watch_set_free(set);
	}
	{
		/* Swapped precedence: now usr's garbage 10-a.watch wins and fails the load. */
		const char *const list[] = { d2, d1 };

		set = (struct bw_watch_set *)1;
		ck_assert_int_eq(watch_files_load(list, 2, &set, &err), -EINVAL);
		ck_assert_ptr_null(set);
		ck_assert_msg_has(&err, "/usr/10-a.watch:1: ");
	}
	{
		/* The default layout under a scratch root, instance dirs first. */
		free(write_text("root/usr/lib/bpfwatch/watch.d/50-x.watch", WATCH("vendor")));
		free(write_text("root/etc/bpfwatch/vm1.watch.d/50-x.watch", WATCH("admin_vm1")));
		free(write_text("root/etc/bpfwatch/watch.d/50-x.watch", WATCH("admin_all")));
		free(write_text("root/run/bpfwatch/watch.d/40-run.watch", WATCH("run")));
		free(write_text("root/run/bpfwatch/vm2.watch.d/10-other.watch", WATCH("other")));
		p = path_in("root");
		ck_assert_int_eq(watch_dirs_default(p, "vm1", &dirs, &ndirs, &err), 0);
		ck_assert_msg(watch_files_load((const char *const *)dirs, ndirs, &set, &err) == 0,
			      "%s", err.msg);
		ck_assert_uint_eq(bw_watch_set_count(set), 2);
		ck_assert_str_eq(bw_watch_set_get(set, 0)->label, "run");
		ck_assert_str_eq(bw_watch_set_get(set, 1)->label, "admin_vm1");
		bw_watch_set_free(set);
		watch_dirs_free(dirs, ndirs);
		free(p);
	}
	free(d1);
	free(d2);
	free(d3);
	tmp_teardown();
}
END_TEST

START_TEST(test_duplicates_across_files)
{
	struct bw_watch_set *set = (struct bw_watch_set *)1;
	struct bw_error err;
	char *d1, *d2, *a, *b;
	char want[512];

	tmp_setup();
	d1 = path_in("one");
	d2 = path_in("two");
	a = write_text("one/10-a.watch", "# first\n" WATCH("lat"));
	b = write_text("two/20-b.watch", WATCH("ok") "\n# second\n[Watch]\nMap=x\nField=y\n"
			"Aggregate=percpu\nLabel=lat\n");
	{
		const char *const list[] = { d1, d2 };

		ck_assert_int_eq(watch_files_load(list, 2, &set, &err), -EEXIST);
		ck_assert_ptr_null(set);
		snprintf(want, sizeof(want), "%s:8: duplicate label \"lat\" (first used by %s:2)", b, a);
		ck_assert_str_eq(err.msg, want);
	}
	free(b);
	/* A key collision across files names both places too. */
	b = write_text("two/20-b.watch", "[Watch]\nMap=x\nField=y\nAggregate=scalar-counter\n"
			"Label=lat_avg\n");
	free(a);
	a = write_text("one/10-a.watch", "[Watch]\nMap=x\nField=y\nAggregate=percpu\nLabel=lat\n");
	{
		const char *const list[] = { d1, d2 };

		ck_assert_int_eq(watch_files_load(list, 2, &set, &err), -EEXIST);
		snprintf(want, sizeof(want), "%s:1: metric key \"<obj>_lat_avg\" of scalar-counter "
			 "watch \"lat_avg\" collides with the same key of percpu watch \"lat\" at %s:1",
			 b, a);
		ck_assert_str_eq(err.msg, want);
	}
	free(a);
	free(b);
	free(d1);
	free(d2);
	tmp_teardown();
}
END_TEST

START_TEST(test_masks_and_dirs)
{
	struct bw_watch_set *set;
	struct bw_error err;
	char *d1, *d2, *link, *notdir;
	char want[512];

	tmp_setup();
	d1 = path_in("etc/");
	d2 = path_in("usr");
	free(write_text("usr/10-vendor.watch", WATCH("vendor")));
	free(write_text("usr/20-keep.watch", WATCH("keep")));
	link = path_in("etc/10-vendor.watch");
	ck_assert_int_eq(symlink("/dev/null", link), 0);
	/* An empty file masks too. */
	free(write_text("etc/20-keep.watch", ""));
	free(write_text("usr/30-more.watch", WATCH("more")));
	{
		const char *const list[] = { d1, d2 };
		char **paths;
		size_t n;

		ck_assert_msg(watch_files_load(list, 2, &set, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(bw_watch_set_count(set), 1);
		ck_assert_str_eq(bw_watch_set_get(set, 0)->label, "more");
		bw_watch_set_free(set);
		/* A trailing slash on a directory does not double in paths. */
		ck_assert_int_eq(watch_files_list(list, 2, &paths, &n, &err), 0);
		ck_assert_uint_eq(n, 3);
		ck_assert_str_eq(paths[0] + strlen(tmp), "/etc/10-vendor.watch");
		watch_dirs_free(paths, n);
	}
	{
		/* No directory exists: an empty set. */
		const char *const list[] = { "/nonexistent/bpfwatch/a", "/nonexistent/b" };

		ck_assert_int_eq(watch_files_load(list, 2, &set, &err), 0);
		ck_assert_uint_eq(bw_watch_set_count(set), 0);
		bw_watch_set_free(set);
		ck_assert_int_eq(watch_files_load(NULL, 0, &set, &err), 0);
		ck_assert_uint_eq(bw_watch_set_count(set), 0);
		bw_watch_set_free(set);
	}
	{
		/* A "directory" that is a file is an error, not skipped. */
		const char *list[1];

		notdir = write_text("plain", "x");
		list[0] = notdir;
		ck_assert_int_eq(watch_files_load(list, 1, &set, &err), -ENOTDIR);
		snprintf(want, sizeof(want), "%s: cannot open watch directory: Not a directory", notdir);
		ck_assert_str_eq(err.msg, want);
		free(notdir);
	}
	{
		/* A directory entry named *.watch that is itself a directory fails the load. */
		const char *const list[] = { d1 };
		char *sub = path_in("etc/sub.watch");

		ck_assert_int_eq(mkdir(sub, 0755), 0);
		ck_assert_int_eq(watch_files_load(list, 1, &set, &err), -EINVAL);
		ck_assert_msg_has(&err, "sub.watch: not a regular file");
		free(sub);
	}
	free(link);
	free(d1);
	free(d2);
	tmp_teardown();
}
END_TEST

START_TEST(test_too_many_files)
{
	struct bw_watch_set *set;
	struct bw_error err;
	char name[64], *d;
	unsigned int i;

	tmp_setup();
	d = path_in("many");
	for (i = 0; i <= WATCH_FILES_MAX; i++) {
		snprintf(name, sizeof(name), "many/%04u.watch", i);
		free(write_text(name, ""));
	}
	{
		const char *const list[] = { d };

		ck_assert_int_eq(watch_files_load(list, 1, &set, &err), -E2BIG);
		ck_assert_msg_has(&err, "more than 1024 watch files");
		/* One fewer is fine. */
		snprintf(name, sizeof(name), "%s/0000.watch", d);
		ck_assert_int_eq(unlink(name), 0);
		ck_assert_msg(watch_files_load(list, 1, &set, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(bw_watch_set_count(set), 0);
		bw_watch_set_free(set);
	}
	free(d);
	tmp_teardown();
}
END_TEST

static Suite *watch_files_suite(void)
{
	Suite *s = suite_create("watch_files");
	TCase *tc = tcase_create("watch_files");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_typed_keys);
	tcase_add_test(tc, test_shipped_watch_files);
	tcase_add_test(tc, test_nul_and_long_lines);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_set_cap_in_file);
	tcase_add_test(tc, test_file_load);
	tcase_add_test(tc, test_dirs_default);
	tcase_add_test(tc, test_precedence_and_order);
	tcase_add_test(tc, test_duplicates_across_files);
	tcase_add_test(tc, test_masks_and_dirs);
	tcase_add_test(tc, test_too_many_files);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(watch_files_suite)
