/* SPDX-License-Identifier: MIT */
/*
 * bpfwatchctl's rendering of the daemon's replies (a daemon is just
 * another peer: its bytes are untrusted): every renderer over the same
 * JSON, output to /dev/null.  Nothing it prints may carry a raw control
 * byte but the newlines and tabs it writes itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ctl_render.h"

static void check_printable(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *reply;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	reply = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
	if (!reply)
		return 0;
	out = open_memstream(&buf, &len);
	if (!out)
		abort();
	ctl_render_status(out, reply);
	ctl_render_metrics(out, reply);
	ctl_render_sample(out, reply);
	ctl_render_maps(out, reply);
	ctl_render_watches(out, reply);
	ctl_render_sample_line(out, reply);
	fclose(out);
	check_printable(buf);
	free(buf);
	{
		char *t = ctl_json_text(reply);

		if (t) {
			char *p = ctl_printable(t);

			if (p)
				check_printable(p);
			free(p);
			free(t);
		}
	}
	json_decref(reply);
	return 0;
}
