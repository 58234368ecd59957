/* SPDX-License-Identifier: MIT */
#include "watch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of an offending string a message quotes; the rest becomes "...". */
#define QUOTE_MAX 64
/* Room for "file:line" in messages (paths longer than this are cut). */
#define PLACE_MAX 192

struct bw_watch_set {
	struct bw_watch *watches;
	size_t n, cap;
};

static const char *const agg_names[] = {
	[BW_AGG_SCALAR] = "scalar",
	[BW_AGG_SCALAR_COUNTER] = "scalar-counter",
	[BW_AGG_PERCPU] = "percpu",
	[BW_AGG_PERCPU_COUNTER] = "percpu-counter",
};

#define AGG_COUNT (sizeof(agg_names) / sizeof(agg_names[0]))

static bool agg_valid(enum bw_agg agg)
{
	return (unsigned int)agg < AGG_COUNT;
}

const char *bw_agg_name(enum bw_agg agg)
{
	return agg_valid(agg) ? agg_names[agg] : "?";
}

/* Copy @s into @buf for a message: control, high-bit, quote and backslash bytes as \xNN. */
static const char *quote(const char *s, char *buf, size_t len)
{
	size_t i, o = 0;

	for (i = 0; s[i] && o + 5 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == QUOTE_MAX) {
			snprintf(buf + o, len - o, "...");
			return buf;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

int bw_agg_parse(const char *name, enum bw_agg *out, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 8];
	size_t i;

	for (i = 0; name && i < AGG_COUNT; i++) {
		if (strcmp(name, agg_names[i]) == 0) {
			*out = (enum bw_agg)i;
			return 0;
		}
	}
	return bw_error_set(err, -EINVAL,
			    "aggregate \"%s\": unknown; expected scalar, scalar-counter, percpu "
			    "or percpu-counter", name ? quote(name, q, sizeof(q)) : "");
}

static const char *const type_names[] = {
	[BW_TYPE_U8] = "u8", [BW_TYPE_U16] = "u16", [BW_TYPE_U32] = "u32", [BW_TYPE_U64] = "u64",
	[BW_TYPE_S8] = "s8", [BW_TYPE_S16] = "s16", [BW_TYPE_S32] = "s32", [BW_TYPE_S64] = "s64",
	[BW_TYPE_BOOL] = "bool",
};

#define TYPE_COUNT (sizeof(type_names) / sizeof(type_names[0]))

const char *bw_leaf_type_name(enum bw_leaf_type type)
{
	return (unsigned int)type < TYPE_COUNT ? type_names[type] : NULL;
}

int bw_leaf_type_parse(const char *name, enum bw_leaf_type *out, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 8];

	for (size_t i = 1; name && i < TYPE_COUNT; i++) {
		if (strcmp(name, type_names[i]) == 0) {
			*out = (enum bw_leaf_type)i;
			return 0;
		}
	}
	return bw_error_set(err, -EINVAL, "type \"%s\": unknown; expected u8, u16, u32, u64, "
			    "s8, s16, s32, s64 or bool", name ? quote(name, q, sizeof(q)) : "");
}

unsigned int bw_leaf_type_width(enum bw_leaf_type type)
{
	switch (type) {
	case BW_TYPE_U8: case BW_TYPE_S8: case BW_TYPE_BOOL: return 1;
	case BW_TYPE_U16: case BW_TYPE_S16: return 2;
	case BW_TYPE_U32: case BW_TYPE_S32: return 4;
	case BW_TYPE_U64: case BW_TYPE_S64: return 8;
	case BW_TYPE_BTF: break;
	}
	return 0;
}

bool bw_leaf_type_signed(enum bw_leaf_type type)
{
	return type == BW_TYPE_S8 || type == BW_TYPE_S16 || type == BW_TYPE_S32 ||
	       type == BW_TYPE_S64;
}

static const char *const across_names[] = {
	[BW_ACROSS_SUM] = "sum", [BW_ACROSS_MIN] = "min", [BW_ACROSS_MAX] = "max",
	[BW_ACROSS_COUNT] = "count", [BW_ACROSS_AVG] = "avg",
};

#define ACROSS_COUNT (sizeof(across_names) / sizeof(across_names[0]))

const char *bw_across_name(enum bw_across across)
{
	return (unsigned int)across < ACROSS_COUNT ? across_names[across] : NULL;
}

int bw_across_parse(const char *name, enum bw_across *out, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 8];

	for (size_t i = 1; name && i < ACROSS_COUNT; i++) {
		if (strcmp(name, across_names[i]) == 0) {
			*out = (enum bw_across)i;
			return 0;
		}
	}
	return bw_error_set(err, -EINVAL, "across \"%s\": unknown; expected sum, min, max, "
			    "count or avg", name ? quote(name, q, sizeof(q)) : "");
}

/* "[*]" or "[*]." starts the field: every element or entry. */
static bool field_is_all(const char *field)
{
	return field && !strncmp(field, "[*]", 3) && (field[3] == '\0' || field[3] == '.');
}

/* The rules between Field=, Across= and Aggregate=. */
static int check_across(const struct bw_watch *w, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 8];

	if ((unsigned int)w->across >= ACROSS_COUNT)
		return bw_error_set(err, -EINVAL, "across: unknown value %d", (int)w->across);
	if (field_is_all(w->field) && w->across == BW_ACROSS_NONE)
		return bw_error_set(err, -EINVAL, "field \"%s\" reads every element: give Across=sum, "
				    "min, max, count or avg", quote(w->field, q, sizeof(q)));
	if (!field_is_all(w->field) && w->across != BW_ACROSS_NONE)
		return bw_error_set(err, -EINVAL, "Across=%s needs a field starting with \"[*]\" "
				    "(every element), not \"%s\"", bw_across_name(w->across),
				    quote(w->field, q, sizeof(q)));
	if (w->across != BW_ACROSS_NONE && bw_agg_is_percpu(w->agg))
		return bw_error_set(err, -EINVAL, "Across= folds every element (and CPU) into one "
				    "value per tick: use Aggregate=scalar or scalar-counter, not %s",
				    bw_agg_name(w->agg));
	return 0;
}

const char *bw_parse_digits(const char *p, bool hex, uint64_t max, uint64_t *value,
			    size_t *digits)
{
	uint64_t v = 0;
	size_t n = 0;

	for (; *p; p++, n++) {
		unsigned int d, base = hex ? 16 : 10;

		if (*p >= '0' && *p <= '9')
			d = (unsigned int)(*p - '0');
		else if (hex && *p >= 'a' && *p <= 'f')
			d = (unsigned int)(*p - 'a' + 10);
		else if (hex && *p >= 'A' && *p <= 'F')
			d = (unsigned int)(*p - 'A' + 10);
		else
			break;
		if (v > (max - d) / base)
			return NULL;
		v = v * base + d;
	}
	*value = v;
	*digits = n;
	return p;
}

int bw_watch_parse_offset(const char *text, uint64_t *out, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 8];
	bool hex = text && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
	const char *p = text ? text + (hex ? 2 : 0) : NULL;
	uint64_t v = 0;
	size_t n = 0;

	if (p)
		p = bw_parse_digits(p, hex, BW_WATCH_OFFSET_MAX, &v, &n);
	if (!p || *p || n == 0 || v > BW_WATCH_OFFSET_MAX)
		return bw_error_set(err, -EINVAL, "offset \"%s\": expected a byte offset, decimal "
				    "or 0x hex, at most %llu", text ? quote(text, q, sizeof(q)) : "",
				    (unsigned long long)BW_WATCH_OFFSET_MAX);
	*out = v;
	return 0;
}

unsigned int bw_agg_key_count(enum bw_agg agg)
{
	return agg == BW_AGG_PERCPU ? 2 : 1;
}

const char *bw_agg_key_suffix(enum bw_agg agg, unsigned int i)
{
	if (agg == BW_AGG_PERCPU)
		return i == 0 ? "_avg" : i == 1 ? "_max" : "";
	return "";
}

/* The rules every watch string shares; @what names the string in messages. */
static int check_common(const char *what, const char *s, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 8];
	size_t i;

	if (!s || !*s)
		return bw_error_set(err, -EINVAL, "%s: empty", what);
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *why = NULL;

		if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r')
			why = "whitespace";
		else if (c == '/')
			why = "'/'";
		else if (c == '\\')
			why = "'\\'";
		else if (c < 0x20 || c == 0x7f)
			why = "a control byte";
		else if (c >= 0x80)
			why = "a non-ASCII byte";
		if (why)
			return bw_error_set(err, -EINVAL, "%s \"%s\": contains %s (0x%02x) at offset %zu",
					    what, quote(s, q, sizeof(q)), why, c, i);
	}
	return 0;
}

int bw_watch_check_map_suffix(const char *s, struct bw_error *err)
{
	return check_common("map name suffix", s, err);
}

int bw_watch_check_field(const char *s, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 8];
	size_t len;
	int r;

	r = check_common("field", s, err);
	if (r < 0)
		return r;
	len = strlen(s);
	if (s[0] == '.')
		return bw_error_set(err, -EINVAL, "field \"%s\": starts with '.'",
				    quote(s, q, sizeof(q)));
	if (s[len - 1] == '.')
		return bw_error_set(err, -EINVAL, "field \"%s\": ends with '.'",
				    quote(s, q, sizeof(q)));
	if (strstr(s, ".."))
		return bw_error_set(err, -EINVAL, "field \"%s\": contains \"..\" (an empty member name)",
				    quote(s, q, sizeof(q)));
	return 0;
}

static int check_label_like(const char *what, const char *s, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 8];
	const char *dot;
	int r;

	r = check_common(what, s, err);
	if (r < 0)
		return r;
	dot = strchr(s, '.');
	if (dot)
		return bw_error_set(err, -EINVAL,
				    "%s \"%s\": contains '.' at offset %zu (it must be one key leaf)",
				    what, quote(s, q, sizeof(q)), (size_t)(dot - s));
	return 0;
}

int bw_watch_check_label(const char *s, struct bw_error *err)
{
	return check_label_like("label", s, err);
}

int bw_watch_check_object(const char *s, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 8];
	int r;

	r = check_label_like("object", s, err);
	if (r < 0)
		return r;
	if (strlen(s) > BW_WATCH_OBJECT_MAX)
		return bw_error_set(err, -EINVAL,
				    "object \"%s\": longer than %d characters (the kernel keeps %d of "
				    "a BPF object name)", quote(s, q, sizeof(q)), BW_WATCH_OBJECT_MAX,
				    BW_WATCH_OBJECT_MAX);
	return 0;
}

const char *bw_watch_place(const struct bw_watch *w, char *buf, size_t len)
{
	char q[QUOTE_MAX * 4 + 8];

	if (!len)
		return buf;
	if (w->source_file)
		snprintf(buf, len, "%s:%u", w->source_file, w->source_line);
	else
		snprintf(buf, len, "watch \"%s\"", w->label ? quote(w->label, q, sizeof(q)) : "");
	return buf;
}

/* Prefix the message in @err with the watch's place, when it comes from a file. */
static int with_place(const struct bw_watch *w, int r, struct bw_error *err)
{
	char place[PLACE_MAX];

	if (r < 0 && w->source_file)
		bw_error_prefix(err, "%s", bw_watch_place(w, place, sizeof(place)));
	return r;
}

int bw_watch_validate(const struct bw_watch *w, struct bw_error *err)
{
	int r;

	if (!agg_valid(w->agg))
		r = bw_error_set(err, -EINVAL, "aggregate: unknown value %d", (int)w->agg);
	else if ((unsigned int)w->type >= TYPE_COUNT)
		r = bw_error_set(err, -EINVAL, "type: unknown value %d", (int)w->type);
	else if (w->has_offset && w->offset > BW_WATCH_OFFSET_MAX)
		r = bw_error_set(err, -EINVAL, "offset %llu: above %llu",
				 (unsigned long long)w->offset,
				 (unsigned long long)BW_WATCH_OFFSET_MAX);
	else if ((r = bw_watch_check_map_suffix(w->map_suffix, err)) >= 0 &&
		 (r = bw_watch_check_field(w->field, err)) >= 0 &&
		 (r = bw_watch_check_label(w->label, err)) >= 0 &&
		 (r = check_across(w, err)) >= 0 && w->object)
		r = bw_watch_check_object(w->object, err);
	return with_place(w, r < 0 ? r : 0, err);
}

static char *key_join(const char *prefix, const char *label, const char *suffix)
{
	size_t a = prefix ? strlen(prefix) + 1 : 0, b = strlen(label), c = strlen(suffix);
	char *k = malloc(a + b + c + 1);

	if (!k)
		return NULL;
	if (prefix) {
		memcpy(k, prefix, a - 1);
		k[a - 1] = '_';
	}
	memcpy(k + a, label, b);
	memcpy(k + a + b, suffix, c + 1);
	return k;
}

int bw_watch_keys(const struct bw_watch *w, const char *obj, char *keys[BW_WATCH_MAX_KEYS],
		  unsigned int *n, struct bw_error *err)
{
	const char *prefix = w->object ? w->object : obj;
	unsigned int i, count = bw_agg_key_count(w->agg);

	*n = 0;
	if (!prefix)
		return bw_error_set(err, -ENOENT,
				    "metric keys of watch \"%s\": no object prefix (no active "
				    "scheduler and no Object= pin)", w->label);
	for (i = 0; i < count; i++) {
		keys[i] = key_join(prefix, w->label, bw_agg_key_suffix(w->agg, i));
		if (!keys[i]) {
			while (i--)
				free(keys[i]);
			return bw_error_set(err, -ENOMEM, "metric keys of watch \"%s\": out of memory",
					    w->label);
		}
	}
	*n = count;
	return 0;
}

struct bw_watch_set *bw_watch_set_new(void)
{
	return calloc(1, sizeof(struct bw_watch_set));
}

static void watch_free_strings(struct bw_watch *w)
{
	free((char *)w->map_suffix);
	free((char *)w->field);
	free((char *)w->label);
	free((char *)w->object);
	free((char *)w->source_file);
}

void bw_watch_set_free(struct bw_watch_set *set)
{
	size_t i;

	if (!set)
		return;
	for (i = 0; i < set->n; i++)
		watch_free_strings(&set->watches[i]);
	free(set->watches);
	free(set);
}

size_t bw_watch_set_count(const struct bw_watch_set *set)
{
	return set->n;
}

const struct bw_watch *bw_watch_set_get(const struct bw_watch_set *set, size_t i)
{
	return i < set->n ? &set->watches[i] : NULL;
}

long bw_watch_set_find_label(const struct bw_watch_set *set, const char *label)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (strcmp(set->watches[i].label, label) == 0)
			return (long)i;
	return -1;
}

/* Does "<label_a><sfx_a>" equal "<label_b><sfx_b>"?  No allocation. */
static bool leaf_equal(const char *la, const char *sa, const char *lb, const char *sb)
{
	size_t na = strlen(la), nb = strlen(lb);
	size_t ta = na + strlen(sa), tb = nb + strlen(sb);
	size_t i;

	if (ta != tb)
		return false;
	for (i = 0; i < ta; i++) {
		char ca = i < na ? la[i] : sa[i - na];
		char cb = i < nb ? lb[i] : sb[i - nb];

		if (ca != cb)
			return false;
	}
	return true;
}

/* Does "<pa>_<la><sa>" equal "<pb>_<lb><sb>"?  Used only for pinned watches. */
static bool key_equal(const char *pa, const char *la, const char *sa,
		      const char *pb, const char *lb, const char *sb)
{
	const char *parts_a[4] = { pa, "_", la, sa }, *parts_b[4] = { pb, "_", lb, sb };
	unsigned int ia = 0, ib = 0;
	size_t oa = 0, ob = 0;

	for (;;) {
		while (ia < 4 && !parts_a[ia][oa]) {
			ia++;
			oa = 0;
		}
		while (ib < 4 && !parts_b[ib][ob]) {
			ib++;
			ob = 0;
		}
		if (ia == 4 || ib == 4)
			return ia == 4 && ib == 4;
		if (parts_a[ia][oa++] != parts_b[ib][ob++])
			return false;
	}
}

/* Refuse @w when it would share a label, a key leaf or a pinned key with a watch of @set. */
static int check_unique(const struct bw_watch_set *set, const struct bw_watch *w,
			struct bw_error *err)
{
	char place[PLACE_MAX];
	size_t i;
	unsigned int a, b;

	for (i = 0; i < set->n; i++) {
		const struct bw_watch *o = &set->watches[i];

		if (strcmp(o->label, w->label) == 0)
			return bw_error_set(err, -EEXIST, "duplicate label \"%s\" (first used by %s)",
					    w->label, bw_watch_place(o, place, sizeof(place)));
		for (a = 0; a < bw_agg_key_count(w->agg); a++) {
			const char *sa = bw_agg_key_suffix(w->agg, a);

			for (b = 0; b < bw_agg_key_count(o->agg); b++) {
				const char *sb = bw_agg_key_suffix(o->agg, b);

				if (leaf_equal(w->label, sa, o->label, sb))
					return bw_error_set(err, -EEXIST,
							    "metric key \"<obj>_%s%s\" of %s watch \"%s\" "
							    "collides with the same key of %s watch \"%s\" "
							    "at %s", w->label, sa, bw_agg_name(w->agg),
							    w->label, bw_agg_name(o->agg), o->label,
							    bw_watch_place(o, place, sizeof(place)));
				if (w->object && o->object &&
				    key_equal(w->object, w->label, sa, o->object, o->label, sb))
					return bw_error_set(err, -EEXIST,
							    "metric key \"%s_%s%s\" of watch \"%s\" "
							    "(Object=%s) collides with the same key of "
							    "watch \"%s\" (Object=%s) at %s", w->object,
							    w->label, sa, w->label, w->object, o->label,
							    o->object,
							    bw_watch_place(o, place, sizeof(place)));
			}
		}
	}
	return 0;
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = true;
	return d;
}

int bw_watch_set_add(struct bw_watch_set *set, const struct bw_watch *w, struct bw_error *err)
{
	struct bw_watch copy;
	bool failed = false;
	int r;

	r = bw_watch_validate(w, err);
	if (r < 0)
		return r;
	if (set->n >= BW_WATCH_SET_MAX)
		return with_place(w, bw_error_set(err, -E2BIG, "more than %d watches in one set",
						  BW_WATCH_SET_MAX), err);
	r = check_unique(set, w, err);
	if (r < 0)
		return with_place(w, r, err);
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct bw_watch *grown;

		if (cap > BW_WATCH_SET_MAX)
			cap = BW_WATCH_SET_MAX;
		grown = realloc(set->watches, cap * sizeof(*grown));
		if (!grown)
			return bw_error_set(err, -ENOMEM, "adding watch \"%s\": out of memory",
					    w->label);
		set->watches = grown;
		set->cap = cap;
	}
	copy = (struct bw_watch){
		.map_suffix = dup_or_null(w->map_suffix, &failed),
		.field = dup_or_null(w->field, &failed),
		.agg = w->agg,
		.type = w->type,
		.has_offset = w->has_offset,
		.offset = w->offset,
		.across = w->across,
		.label = dup_or_null(w->label, &failed),
		.object = dup_or_null(w->object, &failed),
		.source_file = dup_or_null(w->source_file, &failed),
		.source_line = w->source_line,
	};
	if (failed) {
		watch_free_strings(&copy);
		return bw_error_set(err, -ENOMEM, "adding watch \"%s\": out of memory", w->label);
	}
	set->watches[set->n++] = copy;
	return 0;
}

json_t *bw_watch_to_json(const struct bw_watch *w)
{
	char place[PLACE_MAX];
	json_t *o;

	if (w->source_file)
		bw_watch_place(w, place, sizeof(place));
	o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s*, s:o*, s:s*}",
		      "map", w->map_suffix, "field", w->field, "aggregate", bw_agg_name(w->agg),
		      "label", w->label, "object", w->object,
		      "source", w->source_file ? place : NULL, "type", bw_leaf_type_name(w->type),
		      "offset", w->has_offset ? json_integer((json_int_t)w->offset) : NULL,
		      "across", bw_across_name(w->across));
	return o;
}
