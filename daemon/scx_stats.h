/* SPDX-License-Identifier: MIT */
/*
 * sched_ext's scx_stats protocol on bpfwatchd's socket, so tools written
 * for a scheduler's own statistics server (the Rust scx_stats crate, used
 * by scx_lavd, scx_rusty, ...) read bpfwatch's run-level metrics unchanged.
 *
 * The protocol (sched-ext/scx, rust/scx_stats/src/{server,client}.rs):
 * newline-delimited JSON over a Unix stream socket, one response line per
 * request line, in order.
 *
 *   request   {"req":"stats","args":{"target":"top"}}   args: an object of
 *             {"req":"stats_meta","args":{}}            string values, may
 *                                                       be absent
 *   response  {"errno":0,"args":{"resp":VALUE}}
 *   error     {"errno":22,"args":{"resp":"what went wrong"}}
 *
 * "stats" reads the statistics of a target ("top" when args has no
 * "target"); an unknown target or request name is errno EINVAL, which is
 * also what the crate answers for any failure it does not tag with an
 * errno.  "stats_meta" describes every statistics struct, keyed by struct
 * name:
 *
 *   {"top":{"name":"top","top":"true","desc":"...",
 *           "fields":{"KEY":{"datum":"u64","desc":"..."}, ...}}}
 *
 * A struct attribute "top":"true" marks the root struct.  A field is
 * {"datum":KIND} with KIND one of "i64", "u64", "float", "string" (or
 * {"struct":NAME}, and "array"/"dict" forms, which bpfwatch never
 * produces), plus an optional "desc".  bpfwatch serves one target, "top":
 * its value is the flat run-level metrics object {KEY: number} of the
 * "metrics" command, one field per metric key.
 *
 * On bpfwatchd's socket a request object with "req" and without "cmd" is
 * an scx_stats request (server.c routes it here); its replies carry no
 * "ok", only the envelope above.
 */
#ifndef BPFWATCH_SCX_STATS_H
#define BPFWATCH_SCX_STATS_H

#include <stdbool.h>

#include <jansson.h>

/* The one statistics target and the name of its meta struct. */
#define SCX_STATS_TOP "top"

enum scx_stats_kind {
	SCX_STATS_I64,
	SCX_STATS_U64,
	SCX_STATS_FLOAT,
	SCX_STATS_STRING,
};

struct scx_stats_source {
	/*
	 * The flat metrics object {KEY: number} (a new reference), or NULL
	 * when none can be produced now (answered with errno ENODATA).  An
	 * empty object is the normal answer before anything was sampled.
	 */
	json_t *(*metrics)(void *userdata);
	/*
	 * Optional: the "fields" object of the top struct (a new reference),
	 * built with scx_stats_meta_field().  NULL callback, or a NULL
	 * return: the fields are derived from the current metrics
	 * (scx_stats_fields_from_metrics).
	 */
	json_t *(*meta_fields)(void *userdata);
	/* Optional description of the top struct. */
	const char *desc;
	void *userdata;
};

/* Whether @req is an scx_stats request: an object with "req" and without "cmd". */
bool scx_stats_is_request(const json_t *req);

/*
 * The response envelope for @req (always a new object, never NULL unless
 * out of memory): "stats" and "stats_meta" answered from @src, anything
 * else EINVAL with a message.
 */
json_t *scx_stats_handle(const struct scx_stats_source *src, const json_t *req);

/* {"errno":@errnum,"args":{"resp":@resp}}, stealing @resp (NULL: JSON null). */
json_t *scx_stats_envelope(int errnum, json_t *resp);

/*
 * Add the field @key of kind @kind with description @desc (NULL: none) to
 * the fields object @fields.  0, or -EINVAL / -ENOMEM.
 */
int scx_stats_meta_field(json_t *fields, const char *key, enum scx_stats_kind kind,
			 const char *desc);

/*
 * A fields object describing the metrics object @metrics by the JSON type
 * of each value: an integer is "i64", a real "float", a string of digits
 * (a u64 beyond 2^63, see README "Socket protocol") "u64"; other values are
 * left out.  NULL when out of memory.
 */
json_t *scx_stats_fields_from_metrics(const json_t *metrics);

/* The "stats_meta" value for @fields (stolen): {"top":{"name":"top","top":"true",...}}. */
json_t *scx_stats_meta(json_t *fields, const char *desc);

#endif
