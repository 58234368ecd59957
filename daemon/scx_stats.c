/* SPDX-License-Identifier: MIT */
#include "scx_stats.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scx_health.h"

/* How much of an unknown request or target name an error message quotes. */
#define NAME_QUOTE_MAX 64

static const char *const kind_names[] = {
	[SCX_STATS_I64] = "i64",
	[SCX_STATS_U64] = "u64",
	[SCX_STATS_FLOAT] = "float",
	[SCX_STATS_STRING] = "string",
};

bool scx_stats_is_request(const json_t *req)
{
	return json_is_object(req) && json_object_get(req, "req") &&
	       !json_object_get(req, "cmd");
}

json_t *scx_stats_envelope(int errnum, json_t *resp)
{
	json_t *args = json_object(), *env = json_object();

	if (!args || !env || json_object_set_new(args, "resp", resp ? resp : json_null()) < 0 ||
	    json_object_set_new(env, "errno", json_integer(errnum)) < 0 ||
	    json_object_set_new(env, "args", args) < 0) {
		json_decref(args);
		json_decref(env);
		return NULL;
	}
	return env;
}

__attribute__((format(printf, 2, 3)))
static json_t *error_envelope(int errnum, const char *fmt, ...)
{
	char msg[512];
	json_t *resp;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp = json_string(msg);
	/* json_string refuses invalid UTF-8 (a name cut mid-character): use the errno text. */
	if (!resp)
		resp = json_string(strerror(errnum));
	return scx_stats_envelope(errnum, resp);
}

int scx_stats_meta_field(json_t *fields, const char *key, enum scx_stats_kind kind,
			 const char *desc)
{
	json_t *f;

	if (!json_is_object(fields) || !key || (unsigned int)kind >= sizeof(kind_names) /
	    sizeof(kind_names[0]))
		return -EINVAL;
	f = json_pack("{s:s}", "datum", kind_names[kind]);
	if (!f)
		return -ENOMEM;
	if (desc && json_object_set_new(f, "desc", json_string(desc)) < 0) {
		json_decref(f);
		return -EINVAL;
	}
	if (json_object_set_new(fields, key, f) < 0)
		return -EINVAL;
	return 0;
}

/*
 * A u64 above INT64_MAX cannot be a jansson integer: it travels as a
 * string "\0U64:<digits>" and the dump (dump_line) turns it into the bare
 * number.  No other string can hold it: names quoted from a request end
 * at their first NUL.
 */
#define U64_MARK "\\u0000U64:"
#define U64_MARK_RAW "\0U64:"
#define U64_MARK_RAW_LEN 5

static json_t *u64_json(const char *digits)
{
	char buf[U64_MARK_RAW_LEN + 21];
	size_t n = strlen(digits);

	if (n == 0 || n > 20 || strspn(digits, "0123456789") != n ||
	    (n == 20 && strcmp(digits, "18446744073709551615") > 0))
		return NULL;	/* beyond 64 bits: not a u64 */
	memcpy(buf, U64_MARK_RAW, U64_MARK_RAW_LEN);
	memcpy(buf + U64_MARK_RAW_LEN, digits, n);
	return json_stringn(buf, U64_MARK_RAW_LEN + n);
}

/* A run-level value as the field's JSON: integers exact, decimal strings (beyond int64) as u64. */
static json_t *value_json(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer(json_integer_value(v));
	if (json_is_real(v))
		return json_real(json_real_value(v));
	if (json_is_string(v))
		return u64_json(json_string_value(v));
	return NULL;
}

/* The resolved leaf's signedness: 1 signed, 0 unsigned, -1 not known (yet). */
static int leaf_signed(const json_t *status_watches, const char *label)
{
	const json_t *w, *sig;
	size_t i;

	json_array_foreach((json_t *)status_watches, i, w) {
		if (strcmp(json_string_value(json_object_get(w, "label")) ?: "", label))
			continue;
		sig = json_object_get(json_object_get(w, "resolution"), "signed");
		return json_is_boolean(sig) ? json_is_true(sig) : -1;
	}
	return -1;
}

/* Kind of metric @i of @w: means float, the rest integers of the leaf's signedness. */
static enum scx_stats_kind field_kind(const struct bw_watch *w, unsigned int i, int sign)
{
	bool mean = w->agg == BW_AGG_SCALAR || (w->agg == BW_AGG_PERCPU && i == 0);
	bool counter = w->agg == BW_AGG_SCALAR_COUNTER || w->agg == BW_AGG_PERCPU_COUNTER;

	if (mean)
		return SCX_STATS_FLOAT;
	if (sign < 0)
		return counter ? SCX_STATS_U64 : SCX_STATS_I64;
	return sign ? SCX_STATS_I64 : SCX_STATS_U64;
}

static const char *const metric_what[][BW_WATCH_MAX_KEYS] = {
	[BW_AGG_SCALAR] = { "mean over the metrics window" },
	[BW_AGG_SCALAR_COUNTER] = { "value at the window's last read" },
	[BW_AGG_PERCPU] = { "mean over every tick and CPU of the window",
			    "largest single reading of the window" },
	[BW_AGG_PERCPU_COUNTER] = { "sum over the CPUs at the window's last read" },
};

json_t *scx_stats_fields(const struct bw_watch_set *set, const json_t *status_watches)
{
	json_t *fields = json_object();
	size_t n = set ? bw_watch_set_count(set) : 0;

	for (size_t i = 0; fields && i < n; i++) {
		const struct bw_watch *w = bw_watch_set_get(set, i);
		int sign = leaf_signed(status_watches, w->label);
		char place[BW_ERROR_MSG_MAX];

		bw_watch_place(w, place, sizeof(place));
		for (unsigned int k = 0; k < bw_agg_key_count(w->agg); k++) {
			char name[256], desc[1024];

			snprintf(name, sizeof(name), "%s%s", w->label, bw_agg_key_suffix(w->agg, k));
			snprintf(desc, sizeof(desc), "%s of map %s field %s (%s, %s)%s%s",
				 metric_what[w->agg][k], w->map_suffix, w->field, bw_agg_name(w->agg),
				 place, w->object ? ", object " : "", w->object ? w->object : "");
			if (scx_stats_meta_field(fields, name, field_kind(w, k, sign), desc) < 0) {
				json_decref(fields);
				return NULL;
			}
		}
	}
	return fields;
}

json_t *scx_stats_values(const struct bw_watch_set *set, const json_t *metrics_reply)
{
	const json_t *metrics = json_object_get(metrics_reply, "metrics");
	const char *obj = json_string_value(json_object_get(json_object_get(metrics_reply, "window"),
							    "object"));
	json_t *values = json_object();
	size_t n = set ? bw_watch_set_count(set) : 0;

	for (size_t i = 0; values && i < n; i++) {
		const struct bw_watch *w = bw_watch_set_get(set, i);
		char *keys[BW_WATCH_MAX_KEYS];
		unsigned int nkeys = 0;

		if (bw_watch_keys(w, obj, keys, &nkeys, NULL) < 0)
			continue;	/* no object known yet: nothing sampled */
		for (unsigned int k = 0; k < nkeys; k++) {
			json_t *v = value_json(json_object_get(metrics, keys[k]));
			char name[256];

			snprintf(name, sizeof(name), "%s%s", w->label, bw_agg_key_suffix(w->agg, k));
			if (v && json_object_set_new(values, name, v) < 0) {
				json_decref(values);
				values = NULL;
			}
			free(keys[k]);
		}
	}
	return values;
}

json_t *scx_stats_meta(json_t *fields, const char *desc)
{
	json_t *top, *meta;

	if (!fields)
		return NULL;
	top = json_pack("{s:s, s:s}", "name", SCX_STATS_TOP, "top", "true");
	if (top && desc)
		json_object_set_new(top, "desc", json_string(desc));
	if (!top || json_object_set_new(top, "fields", fields) < 0) {
		json_decref(top);
		return NULL;
	}
	meta = json_object();
	if (!meta || json_object_set_new(meta, SCX_STATS_TOP, top) < 0) {
		json_decref(meta);
		return NULL;
	}
	return meta;
}

/* args: absent, or an object of string values (the crate's BTreeMap<String, String>). */
static bool args_ok(const json_t *args)
{
	const char *key;
	json_t *v;

	if (!args)
		return true;
	if (!json_is_object(args))
		return false;
	json_object_foreach((json_t *)args, key, v)
		if (!json_is_string(v))
			return false;
	return true;
}

static json_t *handle_stats(const struct scx_stats_source *src, const json_t *args)
{
	json_t *target = args ? json_object_get(args, "target") : NULL, *metrics;

	if (target && strcmp(json_string_value(target), SCX_STATS_TOP) != 0)
		return error_envelope(EINVAL, "unknown stat target \"%.*s\" (only \"" SCX_STATS_TOP
				      "\")", NAME_QUOTE_MAX, json_string_value(target));
	metrics = src && src->metrics ? src->metrics(src->userdata) : NULL;
	if (!metrics)
		return error_envelope(ENODATA, "no metrics available");
	return scx_stats_envelope(0, metrics);
}

static json_t *handle_meta(const struct scx_stats_source *src)
{
	json_t *fields = src && src->meta_fields ? src->meta_fields(src->userdata) : NULL, *meta;

	meta = scx_stats_meta(fields ? fields : json_object(), src ? src->desc : NULL);
	if (!meta)
		return error_envelope(ENOMEM, "building stats_meta: out of memory");
	return scx_stats_envelope(0, meta);
}

json_t *scx_stats_handle(const struct scx_stats_source *src, const json_t *req)
{
	const json_t *name = json_object_get(req, "req"), *args = json_object_get(req, "args");

	if (!json_is_string(name))
		return error_envelope(EINVAL, "bad request: \"req\" must be a string");
	if (!args_ok(args))
		return error_envelope(EINVAL, "bad request: \"args\" must be an object of strings");
	if (strcmp(json_string_value(name), "stats") == 0)
		return handle_stats(src, args);
	if (strcmp(json_string_value(name), "stats_meta") == 0)
		return handle_meta(src);
	return error_envelope(EINVAL, "unknown command \"%.*s\"", NAME_QUOTE_MAX,
			      json_string_value(name));
}

bool scx_stats_line_is_request(const char *line, size_t n)
{
	json_t *req;
	bool is;

	/* Cheap first: every scx_stats request names "req". */
	if (!memmem(line, n, "\"req\"", 5))
		return false;
	req = json_loadb(line, n, JSON_REJECT_DUPLICATES, NULL);
	is = scx_stats_is_request(req);
	json_decref(req);
	return is;
}

/* The envelope as one line, u64 marks turned into bare numbers. */
static char *dump_line(json_t *env, size_t *len)
{
	char *text = env ? json_dumps(env, JSON_COMPACT) : NULL, *in, *out;

	json_decref(env);
	if (!text)
		return NULL;
	/* The result is never longer than the text: each mark shrinks to its digits. */
	out = malloc(strlen(text) + 2);
	if (!out) {
		free(text);
		return NULL;
	}
	in = text;
	*len = 0;
	while (*in) {
		char *mark = strstr(in, "\"" U64_MARK);
		size_t lead = mark ? (size_t)(mark - in) : strlen(in);

		memcpy(out + *len, in, lead);
		*len += lead;
		in += lead;
		if (!mark)
			break;
		in += 1 + strlen(U64_MARK);
		while (*in >= '0' && *in <= '9')
			out[(*len)++] = *in++;
		if (*in == '"')
			in++;
	}
	out[(*len)++] = '\n';
	out[*len] = '\0';
	free(text);
	return out;
}

char *scx_stats_error_line(int errnum, const char *msg, size_t *len)
{
	return dump_line(error_envelope(errnum, "%s", msg), len);
}

char *scx_stats_answer_line(const struct scx_stats_source *src, const char *line, size_t n,
			    size_t *len)
{
	json_error_t jerr;
	json_t *req, *env;
	size_t i;

	for (i = 0; i < n && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' ||
			      line[i] == '\n'); i++)
		;
	if (i == n)
		return scx_stats_error_line(EINVAL, "bad request: empty line", len);
	req = json_loadb(line, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!req)
		return dump_line(error_envelope(EINVAL, "bad request: invalid JSON at column %d: %s",
						jerr.column, jerr.text), len);
	if (!json_is_object(req))
		env = error_envelope(EINVAL, "bad request: a request is a JSON object");
	else if (!json_object_get(req, "req"))
		env = error_envelope(EINVAL, "bad request: missing field \"req\"");
	else
		env = scx_stats_handle(src, req);
	json_decref(req);
	return dump_line(env, len);
}

/* ---- sched_ext kernel health (scx_health.h) ---- */

static const enum scx_stats_kind health_kinds[] = {
	[BW_SCX_HEALTH_COUNTER] = SCX_STATS_U64, [BW_SCX_HEALTH_GAUGE] = SCX_STATS_U64,
	[BW_SCX_HEALTH_SIGNED] = SCX_STATS_I64, [BW_SCX_HEALTH_MEAN] = SCX_STATS_FLOAT,
	[BW_SCX_HEALTH_TEXT] = SCX_STATS_STRING,
};

static int add_health_field(const struct bw_scx_health_metric *m, void *fields)
{
	/* A watch field of the same name (a label "sched_ext_...") keeps its place. */
	if (json_object_get(fields, m->key))
		return 0;
	return scx_stats_meta_field(fields, m->key, health_kinds[m->kind], m->help);
}

int scx_stats_health_fields(json_t *fields, const struct bw_scx_health *health)
{
	return bw_scx_health_each_metric(health, add_health_field, fields);
}

int scx_stats_health_values(json_t *values, const json_t *metrics_reply)
{
	const json_t *metrics = json_object_get(metrics_reply, "metrics"), *v;
	struct bw_scx_health_metric m;
	const char *key;

	json_object_foreach((json_t *)metrics, key, v) {
		json_t *out;

		if (!bw_scx_health_key(key) || !bw_scx_health_metric_of(key, &m) ||
		    json_object_get(values, key))
			continue;
		if (m.kind == BW_SCX_HEALTH_TEXT)
			out = json_is_string(v) ? json_copy((json_t *)v) : NULL;
		else
			out = value_json(v);
		if (out && json_object_set_new(values, key, out) < 0)
			return -ENOMEM;
	}
	return 0;
}
