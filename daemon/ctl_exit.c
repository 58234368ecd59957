/* SPDX-License-Identifier: MIT */
#include "ctl_exit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_render.h"

static const char *text(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* One string from the guest, escaped; each line of a multi-line one keeps its newline. */
static int put(FILE *f, const char *fmt_before, const char *s, const char *after)
{
	char *p = ctl_printable(s);

	if (!p)
		return -ENOMEM;
	fprintf(f, "%s%s%s", fmt_before, p, after);
	free(p);
	return 0;
}

int ctl_render_exit(FILE *f, const json_t *reply)
{
	const json_t *x = json_object_get(reply, "exit");
	const char *ops = text(reply, "ops");
	char head[256];
	int r = 0;

	if (json_is_true(json_object_get(reply, "attached")))
		r = put(f, "attached: ", ops, "\n");
	else
		r = put(f, "not attached, sched_ext state ", text(reply, "state"), "\n");
	if (r < 0)
		return r;
	if (!json_is_object(x)) {
		fputs("no exit record: no scheduler was disabled since the kernel was found\n", f);
		return 0;
	}
	snprintf(head, sizeof(head), "exit kind %" JSON_INTEGER_FORMAT " ",
		 json_integer_value(json_object_get(x, "kind")));
	r = put(f, head, text(x, "kind_name"), "");
	if (r >= 0 && json_is_integer(json_object_get(x, "code")))
		fprintf(f, ", code %" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(x, "code")));
	fputc('\n', f);
	if (r >= 0 && json_is_true(json_object_get(x, "missed")))
		return put(f, "exit record MISSED: ", text(x, "missed_reason"), "\n");
	/* As kernel/sched/ext.c logs it when it disables a scheduler. */
	if (r >= 0)
		r = put(f, "sched_ext: BPF scheduler \"", text(x, "ops"), "\" ");
	if (r >= 0)
		r = put(f, "disabled (", text(x, "reason"), ")\n");
	if (r >= 0 && text(x, "msg")[0]) {
		r = put(f, "sched_ext: ", text(x, "ops"), ": ");
		if (r >= 0)
			r = put(f, "", text(x, "msg"), "\n");
	}
	/* The dump line by line, each escaped on its own. */
	for (const char *d = text(x, "dump"); r >= 0 && *d;) {
		const char *nl = strchr(d, '\n');
		size_t len = nl ? (size_t)(nl - d) : strlen(d);
		char *line = strndup(d, len);

		if (!line)
			return -ENOMEM;
		r = put(f, "", line, "\n");
		free(line);
		d += len + (nl != NULL);
	}
	return r;
}

int ctl_exit_status(const json_t *reply)
{
	const json_t *x = json_object_get(reply, "exit");

	if (json_is_true(json_object_get(reply, "attached")) || !json_is_object(x))
		return 0;
	if (json_is_true(json_object_get(x, "missed")))
		return 1;
	return json_integer_value(json_object_get(x, "kind")) >= CTL_EXIT_ERROR_KIND ? 1 : 0;
}
