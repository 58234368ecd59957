/* SPDX-License-Identifier: MIT */
/* Watch definitions: text rules, key leaves, set uniqueness. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util_mem.h"
#include "watch.h"

#define ck_assert_msg_has(err, needle) \
	ck_assert_msg(strstr((err)->msg, (needle)) != NULL, "message \"%s\" lacks \"%s\"", \
		      (err)->msg, (needle))

static struct bw_watch mk(const char *map, const char *field, enum bw_agg agg, const char *label)
{
	return (struct bw_watch){ .map_suffix = map, .field = field, .agg = agg, .label = label };
}

START_TEST(test_agg_names)
{
	static const char *const names[] = { "scalar", "scalar-counter", "percpu", "percpu-counter" };
	static const char *const bad[] = { "", "Scalar", "scalar ", " scalar", "percpu_counter",
					   "counter", "scalar-counterx" };
	struct bw_error err;
	enum bw_agg agg;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(bw_agg_parse(names[i], &agg, &err), 0);
		ck_assert_int_eq(agg, (int)i);
		ck_assert_str_eq(bw_agg_name(agg), names[i]);
	}
	ck_assert_int_eq(BW_AGG_SCALAR, 0);
	ck_assert_int_eq(BW_AGG_PERCPU_COUNTER, 3);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		agg = BW_AGG_PERCPU;
		ck_assert_int_eq(bw_agg_parse(bad[i], &agg, &err), -EINVAL);
		ck_assert_int_eq(agg, BW_AGG_PERCPU);
		ck_assert_msg_has(&err, "expected scalar, scalar-counter, percpu or percpu-counter");
	}
	ck_assert_int_eq(bw_agg_parse("sc\x01", &agg, &err), -EINVAL);
	ck_assert_msg_has(&err, "\"sc\\x01\"");
	ck_assert_int_eq(bw_agg_parse(NULL, &agg, NULL), -EINVAL);
	ck_assert_str_eq(bw_agg_name((enum bw_agg)17), "?");

	ck_assert_uint_eq(bw_agg_key_count(BW_AGG_SCALAR), 1);
	ck_assert_uint_eq(bw_agg_key_count(BW_AGG_SCALAR_COUNTER), 1);
	ck_assert_uint_eq(bw_agg_key_count(BW_AGG_PERCPU), 2);
	ck_assert_uint_eq(bw_agg_key_count(BW_AGG_PERCPU_COUNTER), 1);
	ck_assert_str_eq(bw_agg_key_suffix(BW_AGG_PERCPU, 0), "_avg");
	ck_assert_str_eq(bw_agg_key_suffix(BW_AGG_PERCPU, 1), "_max");
	ck_assert_str_eq(bw_agg_key_suffix(BW_AGG_SCALAR, 0), "");
	ck_assert_str_eq(bw_agg_key_suffix(BW_AGG_PERCPU_COUNTER, 0), "");
	ck_assert(bw_agg_is_percpu(BW_AGG_PERCPU) && bw_agg_is_percpu(BW_AGG_PERCPU_COUNTER));
	ck_assert(!bw_agg_is_percpu(BW_AGG_SCALAR) && !bw_agg_is_percpu(BW_AGG_SCALAR_COUNTER));
}
END_TEST

typedef int (*check_fn)(const char *, struct bw_error *);

/* Each string check refuses every forbidden byte class with its name and offset. */
static void common_rules(check_fn fn, const char *what, const char *ok)
{
	static const struct {
		const char *s;
		const char *why;
		const char *offset;
	} cases[] = {
		{ "a b", "whitespace (0x20) at offset 1", NULL },
		{ "a\tb", "whitespace (0x09)", NULL },
		{ "ab\n", "whitespace (0x0a) at offset 2", NULL },
		{ "\ra", "whitespace (0x0d) at offset 0", NULL },
		{ "a\vb", "whitespace (0x0b)", NULL },
		{ "a\fb", "whitespace (0x0c)", NULL },
		{ "a/b", "'/' (0x2f) at offset 1", NULL },
		{ "/", "'/' (0x2f) at offset 0", NULL },
		{ "a\\b", "'\\' (0x5c) at offset 1", NULL },
		{ "a\x01", "a control byte (0x01) at offset 1", NULL },
		{ "\x1f", "a control byte (0x1f)", NULL },
		{ "a\x7f", "a control byte (0x7f)", NULL },
		{ "a\x80", "a non-ASCII byte (0x80)", NULL },
		{ "\xc3\xa9t\xc3\xa9", "a non-ASCII byte (0xc3) at offset 0", NULL },
		{ "ok\xff", "a non-ASCII byte (0xff) at offset 2", NULL },
	};
	struct bw_error err;
	unsigned int i;

	bw_error_clear(&err);
	ck_assert_int_eq(fn("", &err), -EINVAL);
	ck_assert_msg_has(&err, what);
	ck_assert_msg_has(&err, ": empty");
	ck_assert_int_eq(fn(NULL, &err), -EINVAL);
	ck_assert_int_eq(fn("a b", NULL), -EINVAL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bw_error_clear(&err);
		ck_assert_msg(fn(cases[i].s, &err) == -EINVAL, "%s: case %u accepted", what, i);
		ck_assert_int_eq(err.code, -EINVAL);
		ck_assert_msg_has(&err, what);
		ck_assert_msg_has(&err, cases[i].why);
	}
	/* The offending text is quoted with the bad bytes escaped. */
	ck_assert_int_eq(fn("a\x01z", &err), -EINVAL);
	ck_assert_msg_has(&err, "\"a\\x01z\"");
	/* Every printable, non-space, non-slash ASCII byte is allowed (dots aside). */
	ck_assert_int_eq(fn(ok, &err), 0);
}

/* The one digit reader of watch texts: exact at each limit, one past it refused. */
START_TEST(test_parse_digits)
{
	const struct {
		const char *text;
		bool hex;
		uint64_t max, value;
		size_t digits;
		const char *rest;	/* NULL: refused as beyond max */
	} cases[] = {
		{ "18446744073709551615", false, UINT64_MAX, UINT64_MAX, 20, "" },
		{ "18446744073709551616", false, UINT64_MAX, 0, 0, NULL },
		{ "99999999999999999999", false, UINT64_MAX, 0, 0, NULL },
		{ "ffffffffFFFFFFFF", true, UINT64_MAX, UINT64_MAX, 16, "" },
		{ "10000000000000000", true, UINT64_MAX, 0, 0, NULL },
		{ "0000000000000000000000042]", false, UINT64_MAX, 42, 25, "]" },
		{ "12ab", false, UINT64_MAX, 12, 2, "ab" },
		{ "12abz", true, UINT64_MAX, 0x12ab, 4, "z" },
		{ "", false, UINT64_MAX, 0, 0, "" },
		{ "x", true, UINT64_MAX, 0, 0, "x" },
		{ "100", false, 100, 100, 3, "" },
		{ "101", false, 100, 0, 0, NULL },
		{ "0x", false, UINT64_MAX, 0, 1, "x" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 7;
		size_t n = 7;
		const char *end = bw_parse_digits(cases[i].text, cases[i].hex, cases[i].max, &v, &n);

		if (!cases[i].rest) {
			ck_assert_msg(end == NULL, "\"%s\" not refused", cases[i].text);
			continue;
		}
		ck_assert_msg(end != NULL, "\"%s\" refused", cases[i].text);
		ck_assert_str_eq(end, cases[i].rest);
		ck_assert_uint_eq(v, cases[i].value);
		ck_assert_uint_eq(n, cases[i].digits);
	}
}
END_TEST

START_TEST(test_common_rules)
{
	static const char all[] = "AZaz09_-+:@!#$%^&*()[]{}<>,;'\"`~|=?";

	common_rules(bw_watch_check_map_suffix, "map name suffix", all);
	common_rules(bw_watch_check_field, "field", all);
	common_rules(bw_watch_check_label, "label", all);
	common_rules(bw_watch_check_object, "object", "AZaz09_-+:@!#$%");
	common_rules(bw_watch_check_object, "object", "^&*()[]{}<>,;'\"");
	common_rules(bw_watch_check_object, "object", "`~");
	common_rules(bw_watch_check_object, "object", "~|=?");
}
END_TEST

START_TEST(test_map_suffix)
{
	struct bw_error err;

	/* A leading dot is optional: ".bss" and "bss" are both suffixes of "scx_lavd.bss". */
	ck_assert_int_eq(bw_watch_check_map_suffix(".bss", &err), 0);
	ck_assert_int_eq(bw_watch_check_map_suffix("bss", &err), 0);
	ck_assert_int_eq(bw_watch_check_map_suffix("scx_lavd.bss", &err), 0);
	ck_assert_int_eq(bw_watch_check_map_suffix("cpu_ctx_stor_acc", &err), 0);
	ck_assert_int_eq(bw_watch_check_map_suffix(".", &err), 0);
	ck_assert_int_eq(bw_watch_check_map_suffix("a..b.", &err), 0);
	ck_assert_int_eq(bw_watch_check_map_suffix(" .bss", &err), -EINVAL);
	ck_assert_msg_has(&err, "map name suffix \" .bss\": contains whitespace");
}
END_TEST

START_TEST(test_field)
{
	struct bw_error err;

	ck_assert_int_eq(bw_watch_check_field("x", &err), 0);
	ck_assert_int_eq(bw_watch_check_field("sys_stat.avg_lat_cri", &err), 0);
	ck_assert_int_eq(bw_watch_check_field("a.b.c.d", &err), 0);
	ck_assert_int_eq(bw_watch_check_field("arr[3].x", &err), 0);

	ck_assert_int_eq(bw_watch_check_field(".a", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "field \".a\": starts with '.'");
	ck_assert_int_eq(bw_watch_check_field("a.", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "field \"a.\": ends with '.'");
	ck_assert_int_eq(bw_watch_check_field(".", &err), -EINVAL);
	ck_assert_msg_has(&err, "starts with '.'");
	ck_assert_int_eq(bw_watch_check_field("a..b", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "field \"a..b\": contains \"..\" (an empty member name)");
	ck_assert_int_eq(bw_watch_check_field("a.b...c", &err), -EINVAL);
	ck_assert_msg_has(&err, "contains \"..\"");
}
END_TEST

START_TEST(test_label_object)
{
	struct bw_error err;

	ck_assert_int_eq(bw_watch_check_label("avg_lat_cri", &err), 0);
	ck_assert_int_eq(bw_watch_check_label("x_avg", &err), 0);
	ck_assert_int_eq(bw_watch_check_label("a.b", &err), -EINVAL);
	ck_assert_str_eq(err.msg, "label \"a.b\": contains '.' at offset 1 (it must be one key leaf)");
	ck_assert_int_eq(bw_watch_check_label(".x", &err), -EINVAL);
	ck_assert_int_eq(bw_watch_check_label("x.", &err), -EINVAL);
	ck_assert_int_eq(bw_watch_check_label(".", &err), -EINVAL);

	ck_assert_int_eq(bw_watch_check_object("scx_lavd", &err), 0);
	ck_assert_int_eq(bw_watch_check_object("bpf_bpf", &err), 0);
	ck_assert_int_eq(bw_watch_check_object("abcdefghijklmno", &err), 0);	/* 15 */
	ck_assert_int_eq(bw_watch_check_object("abcdefghijklmnop", &err), -EINVAL);	/* 16 */
	ck_assert_msg_has(&err, "longer than 15 characters");
	ck_assert_int_eq(bw_watch_check_object("scx.lavd", &err), -EINVAL);
	ck_assert_msg_has(&err, "contains '.'");
}
END_TEST

START_TEST(test_validate_place)
{
	struct bw_watch w = mk(".bss", "a..b", BW_AGG_SCALAR, "x");
	struct bw_error err;

	ck_assert_int_eq(bw_watch_validate(&w, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "field \"a..b\": contains \"..\" (an empty member name)");
	w.source_file = "/etc/bpfwatch/watch.d/10-lavd.watch";
	w.source_line = 12;
	ck_assert_int_eq(bw_watch_validate(&w, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "/etc/bpfwatch/watch.d/10-lavd.watch:12: field \"a..b\": "
				  "contains \"..\" (an empty member name)");
	w.field = "a.b";
	ck_assert_int_eq(bw_watch_validate(&w, &err), 0);
	w.object = "a.b";
	ck_assert_int_eq(bw_watch_validate(&w, &err), -EINVAL);
	ck_assert_msg_has(&err, "10-lavd.watch:12: object \"a.b\"");
	w.object = NULL;
	w.agg = (enum bw_agg)9;
	ck_assert_int_eq(bw_watch_validate(&w, &err), -EINVAL);
	ck_assert_msg_has(&err, "aggregate: unknown value 9");
	w.agg = BW_AGG_PERCPU;
	w.label = "";
	ck_assert_int_eq(bw_watch_validate(&w, &err), -EINVAL);
	ck_assert_msg_has(&err, "10-lavd.watch:12: label: empty");
	w.label = "x";
	w.map_suffix = "a\\b";
	ck_assert_int_eq(bw_watch_validate(&w, NULL), -EINVAL);
}
END_TEST

START_TEST(test_keys)
{
	struct bw_watch w = mk(".bss", "f", BW_AGG_PERCPU, "lat");
	char *keys[BW_WATCH_MAX_KEYS];
	struct bw_error err;
	unsigned int n = 99;

	ck_assert_int_eq(bw_watch_keys(&w, "scx_lavd", keys, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(keys[0], "scx_lavd_lat_avg");
	ck_assert_str_eq(keys[1], "scx_lavd_lat_max");
	free(keys[0]);
	free(keys[1]);

	w.agg = BW_AGG_SCALAR_COUNTER;
	ck_assert_int_eq(bw_watch_keys(&w, "bpf_bpf", keys, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(keys[0], "bpf_bpf_lat");
	free(keys[0]);

	ck_assert_int_eq(bw_watch_keys(&w, NULL, keys, &n, &err), -ENOENT);
	ck_assert_uint_eq(n, 0);
	ck_assert_msg_has(&err, "no object prefix");

	/* The pin wins over the active object. */
	w.object = "pinned";
	w.agg = BW_AGG_PERCPU_COUNTER;
	ck_assert_int_eq(bw_watch_keys(&w, "scx_lavd", keys, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(keys[0], "pinned_lat");
	free(keys[0]);
	ck_assert_int_eq(bw_watch_keys(&w, NULL, keys, &n, &err), 0);
	ck_assert_str_eq(keys[0], "pinned_lat");
	free(keys[0]);
}
END_TEST

START_TEST(test_set_add_copy)
{
	struct bw_watch_set *set = bw_watch_set_new();
	char map[] = ".bss", field[] = "sys_stat.avg_lat_cri", label[] = "avg_lat_cri";
	char file[] = "a.watch";
	struct bw_watch w = mk(map, field, BW_AGG_SCALAR, label);
	const struct bw_watch *got;
	struct bw_error err;
	char place[64];
	json_t *j;
	char *s;

	w.source_file = file;
	w.source_line = 3;
	ck_assert_int_eq(bw_watch_set_add(set, &w, &err), 0);
	/* The set keeps its own copies. */
	memset(map, 'X', 4);
	memset(label, 'Y', 3);
	file[0] = 'Z';
	got = bw_watch_set_get(set, 0);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got->map_suffix, ".bss");
	ck_assert_str_eq(got->field, "sys_stat.avg_lat_cri");
	ck_assert_str_eq(got->label, "avg_lat_cri");
	ck_assert_ptr_null(got->object);
	ck_assert_str_eq(got->source_file, "a.watch");
	ck_assert_uint_eq(got->source_line, 3);
	ck_assert_int_eq(got->agg, BW_AGG_SCALAR);
	ck_assert_ptr_null(bw_watch_set_get(set, 1));
	ck_assert_uint_eq(bw_watch_set_count(set), 1);
	ck_assert_int_eq(bw_watch_set_find_label(set, "avg_lat_cri"), 0);
	ck_assert_int_eq(bw_watch_set_find_label(set, "nope"), -1);
	ck_assert_str_eq(bw_watch_place(got, place, sizeof(place)), "a.watch:3");

	j = bw_watch_to_json(got);
	ck_assert_ptr_nonnull(j);
	s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	ck_assert_str_eq(s, "{\"aggregate\":\"scalar\",\"field\":\"sys_stat.avg_lat_cri\","
			    "\"label\":\"avg_lat_cri\",\"map\":\".bss\",\"object\":null,"
			    "\"source\":\"a.watch:3\"}");
	free(s);
	json_decref(j);

	w = mk("bss", "n", BW_AGG_PERCPU_COUNTER, "n");
	w.object = "scx_x";
	ck_assert_int_eq(bw_watch_set_add(set, &w, &err), 0);
	got = bw_watch_set_get(set, 1);
	ck_assert_str_eq(got->object, "scx_x");
	ck_assert_str_eq(bw_watch_place(got, place, sizeof(place)), "watch \"n\"");
	j = bw_watch_to_json(got);
	s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	ck_assert_str_eq(s, "{\"aggregate\":\"percpu-counter\",\"field\":\"n\",\"label\":\"n\","
			    "\"map\":\"bss\",\"object\":\"scx_x\",\"source\":null}");
	free(s);
	json_decref(j);
	bw_watch_set_free(set);
	bw_watch_set_free(NULL);
}
END_TEST

START_TEST(test_duplicate_label)
{
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_watch a = mk(".bss", "a", BW_AGG_SCALAR, "lat");
	struct bw_watch b = mk(".data", "b", BW_AGG_PERCPU_COUNTER, "lat");
	struct bw_error err;

	a.source_file = "/etc/bpfwatch/watch.d/10-a.watch";
	a.source_line = 7;
	b.source_file = "/usr/lib/bpfwatch/watch.d/20-b.watch";
	b.source_line = 2;
	ck_assert_int_eq(bw_watch_set_add(set, &a, &err), 0);
	ck_assert_int_eq(bw_watch_set_add(set, &b, &err), -EEXIST);
	ck_assert_str_eq(err.msg, "/usr/lib/bpfwatch/watch.d/20-b.watch:2: duplicate label \"lat\" "
				  "(first used by /etc/bpfwatch/watch.d/10-a.watch:7)");
	ck_assert_uint_eq(bw_watch_set_count(set), 1);
	/* Different pins do not make a label unique. */
	b.object = "other";
	ck_assert_int_eq(bw_watch_set_add(set, &b, &err), -EEXIST);
	ck_assert_msg_has(&err, "duplicate label \"lat\"");
	/* Without files the watches are named by label. */
	b.source_file = NULL;
	ck_assert_int_eq(bw_watch_set_add(set, &b, &err), -EEXIST);
	ck_assert_str_eq(err.msg, "duplicate label \"lat\" (first used by "
				  "/etc/bpfwatch/watch.d/10-a.watch:7)");
	ck_assert_uint_eq(bw_watch_set_count(set), 1);
	bw_watch_set_free(set);
}
END_TEST

START_TEST(test_key_collision)
{
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_watch x = mk(".bss", "a", BW_AGG_PERCPU, "x");
	struct bw_watch xavg = mk(".bss", "b", BW_AGG_SCALAR, "x_avg");
	struct bw_error err;

	x.source_file = "a.watch";
	x.source_line = 1;
	xavg.source_file = "b.watch";
	xavg.source_line = 9;
	ck_assert_int_eq(bw_watch_set_add(set, &x, &err), 0);
	ck_assert_int_eq(bw_watch_set_add(set, &xavg, &err), -EEXIST);
	ck_assert_str_eq(err.msg, "b.watch:9: metric key \"<obj>_x_avg\" of scalar watch \"x_avg\" "
				  "collides with the same key of percpu watch \"x\" at a.watch:1");
	xavg.label = "x_max";
	xavg.agg = BW_AGG_SCALAR_COUNTER;
	ck_assert_int_eq(bw_watch_set_add(set, &xavg, &err), -EEXIST);
	ck_assert_msg_has(&err, "\"<obj>_x_max\"");
	/* Pinned elsewhere: still refused (leaves are unique across the set). */
	xavg.object = "elsewhere";
	ck_assert_int_eq(bw_watch_set_add(set, &xavg, &err), -EEXIST);
	ck_assert_uint_eq(bw_watch_set_count(set), 1);
	bw_watch_set_free(set);

	/* The other order: the scalar first, then the percpu watch. */
	set = bw_watch_set_new();
	xavg = mk(".bss", "b", BW_AGG_PERCPU_COUNTER, "x_max");
	ck_assert_int_eq(bw_watch_set_add(set, &xavg, &err), 0);
	ck_assert_int_eq(bw_watch_set_add(set, &x, &err), -EEXIST);
	ck_assert_str_eq(err.msg, "a.watch:1: metric key \"<obj>_x_max\" of percpu watch \"x\" "
				  "collides with the same key of percpu-counter watch \"x_max\" at "
				  "watch \"x_max\"");
	/* Leaves that only share a beginning do not collide. */
	x.label = "x_avg";
	ck_assert_int_eq(bw_watch_set_add(set, &x, &err), 0);	/* x_avg_avg, x_avg_max */
	x.label = "x_ma";
	ck_assert_int_eq(bw_watch_set_add(set, &x, &err), 0);	/* x_ma_avg, x_ma_max */
	x.label = "x_max_avg";
	x.agg = BW_AGG_SCALAR;
	ck_assert_int_eq(bw_watch_set_add(set, &x, &err), 0);	/* no one yields x_max_avg */
	x.label = "x_ma_max";
	ck_assert_int_eq(bw_watch_set_add(set, &x, &err), -EEXIST);	/* x_ma's _max */
	ck_assert_msg_has(&err, "\"<obj>_x_ma_max\" of scalar watch \"x_ma_max\" collides with "
			  "the same key of percpu watch \"x_ma\"");
	ck_assert_uint_eq(bw_watch_set_count(set), 4);
	bw_watch_set_free(set);
}
END_TEST

START_TEST(test_pinned_key_collision)
{
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_watch a = mk(".bss", "f", BW_AGG_SCALAR, "b_c");
	struct bw_watch b = mk(".bss", "f", BW_AGG_SCALAR, "c");
	struct bw_error err;

	a.object = "a";
	b.object = "a_b";
	ck_assert_int_eq(bw_watch_set_add(set, &a, &err), 0);
	ck_assert_int_eq(bw_watch_set_add(set, &b, &err), -EEXIST);
	ck_assert_str_eq(err.msg, "metric key \"a_b_c\" of watch \"c\" (Object=a_b) collides with "
				  "the same key of watch \"b_c\" (Object=a) at watch \"b_c\"");
	/* Unpinned, the same labels are fine (one prefix for both). */
	b.object = NULL;
	ck_assert_int_eq(bw_watch_set_add(set, &b, &err), 0);
	/* Percpu suffixes take part: pin p + "q_avg" vs pin p_q + "avg"... */
	a = mk(".bss", "f", BW_AGG_PERCPU, "r");
	a.object = "p";
	ck_assert_int_eq(bw_watch_set_add(set, &a, &err), 0);	/* p_r_avg, p_r_max */
	b = mk(".bss", "f", BW_AGG_SCALAR, "max");
	b.object = "p_r";
	ck_assert_int_eq(bw_watch_set_add(set, &b, &err), -EEXIST);	/* p_r_max */
	ck_assert_msg_has(&err, "\"p_r_max\"");
	ck_assert_uint_eq(bw_watch_set_count(set), 3);
	bw_watch_set_free(set);
}
END_TEST

START_TEST(test_set_cap)
{
	struct bw_watch_set *set = bw_watch_set_new();
	struct bw_error err;
	char label[32];
	unsigned int i;

	for (i = 0; i < BW_WATCH_SET_MAX; i++) {
		struct bw_watch w = mk(".bss", "f", i % 2 ? BW_AGG_PERCPU : BW_AGG_SCALAR, label);

		snprintf(label, sizeof(label), "w%u", i);
		ck_assert_int_eq(bw_watch_set_add(set, &w, &err), 0);
	}
	{
		struct bw_watch w = mk(".bss", "f", BW_AGG_SCALAR, "one_more");

		w.source_file = "big.watch";
		w.source_line = 5121;
		ck_assert_int_eq(bw_watch_set_add(set, &w, &err), -E2BIG);
		ck_assert_str_eq(err.msg, "big.watch:5121: more than 1024 watches in one set");
	}
	ck_assert_uint_eq(bw_watch_set_count(set), BW_WATCH_SET_MAX);
	ck_assert_str_eq(bw_watch_set_get(set, 1023)->label, "w1023");
	bw_watch_set_free(set);
}
END_TEST

/* Random strings through every check: never a crash, and what passes obeys the rules. */
START_TEST(test_garbage_strings)
{
	check_fn fns[] = { bw_watch_check_map_suffix, bw_watch_check_field, bw_watch_check_label,
			   bw_watch_check_object };
	struct bw_error err;
	unsigned char buf[200];
	unsigned int seed, f, accepted = 0;

	for (seed = 1; seed <= 4000; seed++) {
		size_t len = seed % sizeof(buf), i;

		test_fill_random(buf, len, seed);
		/* Half the cases: mostly printable, to reach the later rules. */
		if (seed % 2)
			for (i = 0; i < len; i++)
				buf[i] = (unsigned char)(0x21 + buf[i] % 0x5e);
		if (seed % 7 == 0 && len > 3)
			buf[1] = buf[2] = '.';
		buf[len] = '\0';
		for (f = 0; f < 4; f++) {
			const char *s = (const char *)buf;
			int r = fns[f](s, &err);

			ck_assert(r == 0 || r == -EINVAL);
			ck_assert(strlen(err.msg) < sizeof(err.msg));
			if (r == 0) {
				accepted++;
				ck_assert(*s);
				for (i = 0; s[i]; i++) {
					ck_assert(s[i] > 0x20 && s[i] < 0x7f);
					ck_assert(s[i] != '/' && s[i] != '\\');
				}
				if (f >= 2)
					ck_assert_ptr_null(strchr(s, '.'));
				if (f == 1)
					ck_assert(s[0] != '.' && !strstr(s, ".."));
				if (f == 3)
					ck_assert_uint_le(strlen(s), 15);
			}
		}
	}
	ck_assert_uint_gt(accepted, 100);
}
END_TEST

/* A long string is quoted, cut, in messages that never overflow. */
START_TEST(test_long_strings)
{
	struct bw_error err;
	char *s = malloc(100001);

	memset(s, 'a', 100000);
	s[100000] = '\0';
	ck_assert_int_eq(bw_watch_check_label(s, &err), 0);
	s[99999] = '.';
	ck_assert_int_eq(bw_watch_check_label(s, &err), -EINVAL);
	ck_assert_msg_has(&err, "...\": contains '.' at offset 99999");
	s[99999] = '\x02';
	ck_assert_int_eq(bw_watch_check_field(s, &err), -EINVAL);
	ck_assert_msg_has(&err, "a control byte (0x02) at offset 99999");
	free(s);
}
END_TEST

static Suite *watch_suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("watch");

	tcase_add_test(tc, test_agg_names);
	tcase_add_test(tc, test_parse_digits);
	tcase_add_test(tc, test_common_rules);
	tcase_add_test(tc, test_map_suffix);
	tcase_add_test(tc, test_field);
	tcase_add_test(tc, test_label_object);
	tcase_add_test(tc, test_validate_place);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_set_add_copy);
	tcase_add_test(tc, test_duplicate_label);
	tcase_add_test(tc, test_key_collision);
	tcase_add_test(tc, test_pinned_key_collision);
	tcase_add_test(tc, test_set_cap);
	tcase_add_test(tc, test_garbage_strings);
	tcase_add_test(tc, test_long_strings);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(watch_suite)
