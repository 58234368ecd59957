/* SPDX-License-Identifier: MIT */
#include "scx_stats.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

json_t *scx_stats_fields_from_metrics(const json_t *metrics)
{
	json_t *fields = json_object(), *v;
	const char *key;

	if (!fields)
		return NULL;
	json_object_foreach((json_t *)metrics, key, v) {
		enum scx_stats_kind kind;

		if (json_is_integer(v))
			kind = SCX_STATS_I64;
		else if (json_is_real(v))
			kind = SCX_STATS_FLOAT;
		else if (json_is_string(v) && json_string_length(v) > 0 &&
			 strspn(json_string_value(v), "0123456789") == json_string_length(v))
			kind = SCX_STATS_U64;
		else
			continue;
		if (scx_stats_meta_field(fields, key, kind, NULL) < 0) {
			json_decref(fields);
			return NULL;
		}
	}
	return fields;
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
	json_t *fields = NULL, *meta;

	if (src && src->meta_fields)
		fields = src->meta_fields(src->userdata);
	if (!fields) {
		json_t *metrics = src && src->metrics ? src->metrics(src->userdata) : NULL;

		if (metrics) {
			fields = scx_stats_fields_from_metrics(metrics);
			json_decref(metrics);
		} else {
			fields = json_object();
		}
	}
	meta = scx_stats_meta(fields, src ? src->desc : NULL);
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
