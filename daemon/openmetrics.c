/* SPDX-License-Identifier: MIT */
#include "openmetrics.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_name(FILE *f, const char *key)
{
	if (isdigit((unsigned char)key[0]))
		fputc('_', f);
	for (const char *p = key; *p; p++)
		fputc(isalnum((unsigned char)*p) || *p == '_' || *p == ':' ? *p : '_', f);
}

/* A label value: backslash, quote and newline escaped. */
static void put_label_value(FILE *f, const char *value)
{
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
}

char *openmetrics_render(const json_t *metrics, const char *instance)
{
	const char *key;
	json_t *value;
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	if (!f)
		return NULL;
	json_object_foreach((json_t *)metrics, key, value) {
		fputs("# TYPE ", f);
		put_name(f, key);
		fputs(" gauge\n", f);
		put_name(f, key);
		fputs("{instance=\"", f);
		put_label_value(f, instance);
		fputs("\"} ", f);
		if (json_is_integer(value))
			fprintf(f, "%" JSON_INTEGER_FORMAT "\n", json_integer_value(value));
		else if (json_is_real(value))
			fprintf(f, "%.17g\n", json_real_value(value));
		else if (json_is_string(value))	/* an exact integer beyond int64 */
			fprintf(f, "%s\n", json_string_value(value));
		else
			fputs("NaN\n", f);
	}
	fputs("# EOF\n", f);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
