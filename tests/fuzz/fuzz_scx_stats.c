/* SPDX-License-Identifier: MIT */
/* sched_ext's scx_stats requests, as JSON text, answered from fixed metrics. */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "scx_stats.h"

static json_t *metrics(void *userdata)
{
	(void)userdata;
	return json_pack("{s:I, s:f, s:s}", "bw_x", (json_int_t)5, "bw_y_avg", 1.5, "bw_big",
			 "18446744073709551615");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct scx_stats_source src = { .metrics = metrics, .desc = "fuzz" };
	json_error_t jerr;
	json_t *req, *resp;
	char *text;

	req = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!req)
		return 0;
	if (scx_stats_is_request(req)) {
		resp = scx_stats_handle(&src, req);
		if (!resp)
			abort();
		text = json_dumps(resp, JSON_COMPACT);
		free(text);
		json_decref(resp);
	}
	json_decref(req);
	return 0;
}
