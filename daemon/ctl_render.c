/* SPDX-License-Identifier: MIT */
/*
 * Human-readable replies for bpfwatchctl (see ctl_render.h).  The layout of
 * each reply is the README's "Socket protocol (as built)" table.
 */
#include "ctl_render.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_expr.h"

/* CPUs per line in the `sample` listing of a per-CPU watch. */
#define SAMPLE_CPUS_PER_LINE 8

char *ctl_printable(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *out = malloc(n * 4 + 1);

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			o += (size_t)sprintf(out + o, "\\x%02x", c);
		} else if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 &&
			   (unsigned char)s[i + 1] <= 0x9f) {
			/* U+0080..U+009F: C1 controls, CSI among them. */
			o += (size_t)sprintf(out + o, "\\x%02x", (unsigned char)s[i + 1]);
			i++;
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return out;
}

bool ctl_json_double(const json_t *v, double *out)
{
	struct ctl_num n;

	if (!v || ctl_num_from_json(v, &n, NULL) < 0)
		return false;
	if (n.kind == CTL_NUM_REAL)
		*out = n.real;
	else
		*out = n.negative ? -(double)n.magnitude : (double)n.magnitude;
	return true;
}

char *ctl_json_text(const json_t *v)
{
	char buf[CTL_NUM_TEXT_MAX];
	struct ctl_num n;
	char *dump, *p;

	if (!v || json_is_null(v))
		return strdup("-");
	if (json_is_integer(v) || json_is_real(v)) {
		ctl_num_from_json(v, &n, NULL);
		return strdup(ctl_num_format(&n, buf, sizeof(buf)));
	}
	if (json_is_string(v))
		return ctl_printable(json_string_value(v));
	if (json_is_true(v))
		return strdup("true");
	if (json_is_false(v))
		return strdup("false");
	dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!dump)
		return NULL;
	p = ctl_printable(dump);
	free(dump);
	return p;
}

/* ---- tables ---- */

struct ctl_table {
	unsigned int ncols, nrows, cap;
	char **cells;		/* (nrows + 1) * ncols, row 0 = headers */
	bool *right;
};

struct ctl_table *ctl_table_new(unsigned int ncols, const char *const *headers)
{
	struct ctl_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->right = calloc(ncols ? ncols : 1, sizeof(*t->right));
	if (!t->right) {
		free(t);
		return NULL;
	}
	t->nrows = 0;
	/* The header row is stored like any other. */
	if (ctl_table_add(t, headers) < 0) {
		ctl_table_free(t);
		return NULL;
	}
	return t;
}

void ctl_table_align_right(struct ctl_table *t, unsigned int col)
{
	if (col < t->ncols)
		t->right[col] = true;
}

int ctl_table_add(struct ctl_table *t, const char *const *cells)
{
	unsigned int i;

	if (t->nrows == t->cap) {
		unsigned int cap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, (size_t)cap * t->ncols * sizeof(*nc));

		if (!nc)
			return -ENOMEM;
		t->cells = nc;
		t->cap = cap;
	}
	for (i = 0; i < t->ncols; i++) {
		char *c = ctl_printable(cells[i] ? cells[i] : "-");

		if (!c) {
			while (i--)
				free(t->cells[(size_t)t->nrows * t->ncols + i]);
			return -ENOMEM;
		}
		t->cells[(size_t)t->nrows * t->ncols + i] = c;
	}
	t->nrows++;
	return 0;
}

/* Add a row of allocated cells (NULL: allocation failed, -ENOMEM) and free them. */
static int add_owned_row(struct ctl_table *t, char **cells, unsigned int n)
{
	int r = 0;

	for (unsigned int c = 0; c < n; c++)
		if (!cells[c])
			r = -ENOMEM;
	if (!r)
		r = ctl_table_add(t, (const char *const *)cells);
	for (unsigned int c = 0; c < n; c++)
		free(cells[c]);
	return r;
}

unsigned int ctl_table_rows(const struct ctl_table *t)
{
	return t->nrows ? t->nrows - 1 : 0;
}

void ctl_table_print(const struct ctl_table *t, FILE *out)
{
	size_t *w = calloc(t->ncols ? t->ncols : 1, sizeof(*w));
	unsigned int r, c;

	if (!w)
		return;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[(size_t)r * t->ncols + c]);

			if (l > w[c])
				w[c] = l;
		}
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[(size_t)r * t->ncols + c];
			bool last = c + 1 == t->ncols;

			if (c)
				fputs("  ", out);
			if (t->right[c])
				fprintf(out, "%*s", (int)w[c], cell);
			else if (last)
				fputs(cell, out);
			else
				fprintf(out, "%-*s", (int)w[c], cell);
		}
		fputc('\n', out);
	}
	free(w);
}

void ctl_table_free(struct ctl_table *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < (size_t)t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->right);
	free(t);
}

/* ---- helpers over replies ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ctl_keys_sorted(const json_t *o, const char ***keys, size_t *n)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	*keys = NULL;
	*n = 0;
	if (!json_is_object(o) || !json_object_size(o))
		return 0;
	*keys = malloc(json_object_size(o) * sizeof(**keys));
	if (!*keys)
		return -ENOMEM;
	json_object_foreach((json_t *)o, k, v)
		(*keys)[i++] = k;
	qsort(*keys, i, sizeof(**keys), cmp_str);
	*n = i;
	return 0;
}

struct cpu_entry {
	const char *key;
	json_t *value;
	bool numeric;
	unsigned long long cpu;
};

static int cmp_cpu(const void *a, const void *b)
{
	const struct cpu_entry *x = a, *y = b;

	if (x->numeric != y->numeric)
		return x->numeric ? -1 : 1;
	if (x->numeric && x->cpu != y->cpu)
		return x->cpu < y->cpu ? -1 : 1;
	return strcmp(x->key, y->key);
}

int ctl_cpus_sorted(const json_t *cpus, const char ***keys, json_t ***values, size_t *n)
{
	struct cpu_entry *e;
	const char *k;
	json_t *v;
	size_t i = 0, total;

	*keys = NULL;
	*values = NULL;
	*n = 0;
	if (!json_is_object(cpus) || !(total = json_object_size(cpus)))
		return 0;
	e = calloc(total, sizeof(*e));
	*keys = malloc(total * sizeof(**keys));
	*values = malloc(total * sizeof(**values));
	if (!e || !*keys || !*values) {
		free(e);
		free(*keys);
		free(*values);
		*keys = NULL;
		*values = NULL;
		return -ENOMEM;
	}
	json_object_foreach((json_t *)cpus, k, v) {
		e[i].key = k;
		e[i].value = v;
		/* "0".."N": plain digits, no sign, no leading zeros beyond "0". */
		e[i].numeric = k[0] && strspn(k, "0123456789") == strlen(k) && strlen(k) < 10 &&
			       (k[0] != '0' || !k[1]);
		e[i].cpu = e[i].numeric ? strtoull(k, NULL, 10) : 0;
		i++;
	}
	qsort(e, i, sizeof(*e), cmp_cpu);
	for (*n = 0; *n < i; (*n)++) {
		(*keys)[*n] = e[*n].key;
		(*values)[*n] = e[*n].value;
	}
	free(e);
	return 0;
}

static const char *str_member(const json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

/* Print "label:" padded, then the printable text of @v (or "-"). */
static int field_line(FILE *out, const char *label, const char *text)
{
	char *p = ctl_printable(text ? text : "-");

	if (!p)
		return -ENOMEM;
	fprintf(out, "%-11s %s\n", label, p);
	free(p);
	return 0;
}

static int field_json(FILE *out, const char *label, const json_t *v)
{
	char *t = ctl_json_text(v);

	if (!t)
		return -ENOMEM;
	fprintf(out, "%-11s %s\n", label, t);
	free(t);
	return 0;
}

/* Append ", name VALUE" to a growing description, only when the member is there. */
static void describe(FILE *s, bool *first, const char *name, const json_t *v,
		     const char *suffix)
{
	char *t;

	if (!v || json_is_null(v))
		return;
	t = ctl_json_text(v);
	if (!t)
		return;
	fprintf(s, "%s%s%s%s", *first ? "" : ", ", name, t, suffix ? suffix : "");
	*first = false;
	free(t);
}

static void micros(FILE *s, const char *name, const json_t *v, bool *first)
{
	double d;

	if (!ctl_json_double(v, &d))
		return;
	fprintf(s, "%s%s %.1f us", *first ? "" : ", ", name, d / 1000.0);
	*first = false;
}

/* ---- status ---- */

/* Close @s, the memstream behind @text, and print what it holds as field line @label. */
static int stream_line(FILE *out, const char *label, FILE *s, char **text)
{
	int r;

	if (fclose(s) != 0) {
		free(*text);
		return -ENOMEM;
	}
	r = field_line(out, label, *text);
	free(*text);
	return r;
}

/* One "<prefix><value><suffix>" part of a described_line(). */
struct line_part {
	const char *prefix, *member, *suffix;
};

/*
 * "<title member> (<part>, <part>, ...)" of object @obj as field line
 * @label, or @absent when @obj is not an object.
 */
static int described_line(FILE *out, const char *label, const json_t *obj, const char *absent,
			  const char *title, const struct line_part *parts, size_t nparts)
{
	char *text = NULL;
	size_t len = 0;
	FILE *s;
	bool first = true;
	const char *name;

	if (!json_is_object(obj))
		return field_line(out, label, absent);
	s = open_memstream(&text, &len);
	if (!s)
		return -ENOMEM;
	name = str_member(obj, title);
	fprintf(s, "%s (", name ? name : "?");
	for (size_t i = 0; i < nparts; i++)
		describe(s, &first, parts[i].prefix, json_object_get(obj, parts[i].member),
			 parts[i].suffix);
	fputc(')', s);
	return stream_line(out, label, s, &text);
}

static int render_kernel(FILE *out, const json_t *k)
{
	static const struct line_part parts[] = {
		{ "", "nr_cpus", " CPUs" },
		{ "", "paging_levels", "-level paging" },
		{ "kaslr ", "kaslr_offset", NULL },
		{ "phys_base ", "phys_base", NULL },
		{ "page_offset_base ", "page_offset_base", NULL },
		{ "from ", "source", NULL },
	};

	return described_line(out, "kernel:", k, "not located yet", "release", parts,
			      sizeof(parts) / sizeof(parts[0]));
}

static int render_scheduler(FILE *out, const json_t *sc)
{
	static const struct line_part parts[] = {
		{ "object ", "object", NULL },
		{ "struct_ops map ", "struct_ops_map_id", NULL },
	};

	return described_line(out, "scheduler:", sc, "none active", "ops_name", parts,
			      sizeof(parts) / sizeof(parts[0]));
}

static int render_ticks(FILE *out, const json_t *reply)
{
	const json_t *tick_ns = json_object_get(reply, "tick_ns");
	char *text = NULL, *ticks;
	size_t len = 0;
	double interval, mean;
	bool first = true;
	FILE *s;

	s = open_memstream(&text, &len);
	if (!s)
		return -ENOMEM;
	ticks = ctl_json_text(json_object_get(reply, "ticks"));
	fprintf(s, "%s", ticks ? ticks : "-");
	free(ticks);
	if (ctl_json_double(json_object_get(reply, "interval_ms"), &interval) && interval > 0)
		fprintf(s, " every %g ms (%.3g/s)", interval, 1000.0 / interval);
	if (json_is_object(tick_ns)) {
		fputs("; tick cost ", s);
		micros(s, "last", json_object_get(tick_ns, "last"), &first);
		micros(s, "mean", json_object_get(tick_ns, "mean"), &first);
		micros(s, "max", json_object_get(tick_ns, "max"), &first);
		if (first)
			fputs("-", s);
		if (ctl_json_double(json_object_get(tick_ns, "mean"), &mean) &&
		    ctl_json_double(json_object_get(reply, "interval_ms"), &interval) && interval > 0)
			fprintf(s, " (%.2f%% of the interval)", mean / (interval * 1e6) * 100.0);
	}
	return stream_line(out, "ticks:", s, &text);
}

/* "a,b" out of an array of strings. */
static char *join_strings(const json_t *arr)
{
	char *text = NULL;
	size_t len = 0, i;
	json_t *v;
	FILE *s;

	if (!json_is_array(arr) || !json_array_size(arr))
		return strdup("-");
	s = open_memstream(&text, &len);
	if (!s)
		return NULL;
	json_array_foreach(arr, i, v) {
		char *t = ctl_json_text(v);

		fprintf(s, "%s%s", i ? "," : "", t ? t : "?");
		free(t);
	}
	if (fclose(s) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

static int render_status_watches(FILE *out, const json_t *watches)
{
	static const char *const headers[] = {
		"LABEL", "AGGREGATE", "STATE", "KEYS", "SOURCE", "REASON",
	};
	unsigned int resolved = 0, pending = 0, errors = 0, other = 0;
	struct ctl_table *t;
	size_t i;
	json_t *w;
	int r = 0;

	if (!json_is_array(watches) || !json_array_size(watches))
		return field_line(out, "watches:", "none loaded");
	json_array_foreach(watches, i, w) {
		const char *st = str_member(w, "state");

		if (st && !strcmp(st, "resolved"))
			resolved++;
		else if (st && !strcmp(st, "pending"))
			pending++;
		else if (st && !strcmp(st, "error"))
			errors++;
		else
			other++;
	}
	fprintf(out, "%-11s %u resolved, %u pending, %u error%s", "watches:", resolved, pending,
		errors, errors == 1 ? "" : "s");
	if (other)
		fprintf(out, ", %u in another state", other);
	fputs("\n\n", out);
	t = ctl_table_new(6, headers);
	if (!t)
		return -ENOMEM;
	json_array_foreach(watches, i, w) {
		char *keys = join_strings(json_object_get(w, "keys"));
		char *cells[6] = {
			ctl_json_text(json_object_get(w, "label")),
			ctl_json_text(json_object_get(w, "aggregate")),
			ctl_json_text(json_object_get(w, "state")),
			keys,
			ctl_json_text(json_object_get(w, "source")),
			ctl_json_text(json_object_get(w, "reason")),
		};

		r = add_owned_row(t, cells, 6);
		if (r < 0)
			break;
	}
	ctl_table_print(t, out);
	ctl_table_free(t);
	return r;
}

int ctl_render_status(FILE *out, const json_t *reply)
{
	const json_t *reason = json_object_get(reply, "reason");
	int r;

	r = field_json(out, "state:", json_object_get(reply, "state"));
	if (!r && reason && !json_is_null(reason))
		r = field_json(out, "reason:", reason);
	if (!r && json_object_get(reply, "instance"))
		r = field_json(out, "instance:", json_object_get(reply, "instance"));
	if (!r && json_object_get(reply, "memory"))
		r = field_json(out, "memory:", json_object_get(reply, "memory"));
	if (!r)
		r = render_kernel(out, json_object_get(reply, "kernel"));
	if (!r)
		r = render_scheduler(out, json_object_get(reply, "scheduler"));
	if (!r)
		r = render_ticks(out, reply);
	if (!r)
		r = render_status_watches(out, json_object_get(reply, "watches"));
	return r;
}

/* ---- metrics ---- */

int ctl_render_metrics(FILE *out, const json_t *reply)
{
	static const char *const headers[] = { "KEY", "VALUE" };
	const json_t *metrics = json_object_get(reply, "metrics");
	const json_t *window = json_object_get(reply, "window");
	struct ctl_table *t;
	const char **keys;
	size_t n, i;
	double d;
	int r;

	if (json_is_object(window)) {
		bool first = true;

		fputs("window: ", out);
		if (ctl_json_double(json_object_get(window, "duration_ns"), &d)) {
			fprintf(out, "%.3f s", d / 1e9);
			first = false;
		}
		describe(out, &first, "", json_object_get(window, "ticks"), " ticks");
		describe(out, &first, "", json_object_get(window, "samples"), " samples");
		describe(out, &first, "object ", json_object_get(window, "object"), NULL);
		fputs("\n", out);
	}
	r = ctl_keys_sorted(metrics, &keys, &n);
	if (r < 0)
		return r;
	if (!n) {
		fputs("no metrics yet\n", out);
		return 0;
	}
	t = ctl_table_new(2, headers);
	if (!t) {
		free(keys);
		return -ENOMEM;
	}
	ctl_table_align_right(t, 1);
	for (i = 0; i < n && !r; i++) {
		char *v = ctl_json_text(json_object_get(metrics, keys[i]));
		const char *cells[2] = { keys[i], v };

		r = v ? ctl_table_add(t, cells) : -ENOMEM;
		free(v);
	}
	ctl_table_print(t, out);
	ctl_table_free(t);
	free(keys);
	return r;
}

/* ---- sample ---- */

static int render_sample_entry(FILE *out, const char *label, int width, const json_t *e)
{
	const json_t *cpus = json_object_get(e, "cpus");
	const json_t *error = json_object_get(e, "error");
	char *plabel = ctl_printable(label), *t;
	const char **keys;
	json_t **values;
	size_t n, i;
	int r = 0;

	if (!plabel)
		return -ENOMEM;
	fprintf(out, "%-*s  ", width, plabel);
	free(plabel);
	if (error) {
		t = ctl_json_text(error);
		fprintf(out, "error: %s\n", t ? t : "?");
		free(t);
		return t ? 0 : -ENOMEM;
	}
	if (json_is_object(cpus)) {
		r = ctl_cpus_sorted(cpus, &keys, &values, &n);
		if (r < 0)
			return r;
		if (!n)
			fputs("no CPUs", out);
		for (i = 0; i < n; i++) {
			char *k = ctl_printable(keys[i]);

			t = ctl_json_text(values[i]);
			if (i && i % SAMPLE_CPUS_PER_LINE == 0)
				fprintf(out, "\n%-*s  ", width, "");
			else if (i)
				fputs("  ", out);
			fprintf(out, "cpu%s %s", k ? k : "?", t ? t : "?");
			free(k);
			free(t);
		}
		fputc('\n', out);
		free(keys);
		free(values);
		return 0;
	}
	t = ctl_json_text(json_object_get(e, "value"));
	fprintf(out, "%s\n", t ? t : "?");
	free(t);
	return t ? 0 : -ENOMEM;
}

int ctl_render_sample(FILE *out, const json_t *reply)
{
	const json_t *values = json_object_get(reply, "values");
	char *tick = ctl_json_text(json_object_get(reply, "tick"));
	char *time = ctl_json_text(json_object_get(reply, "time_ns"));
	const char **keys;
	size_t n, i;
	int width = 5, r;

	fprintf(out, "tick %s (time_ns %s)\n", tick ? tick : "-", time ? time : "-");
	free(tick);
	free(time);
	r = ctl_keys_sorted(values, &keys, &n);
	if (r < 0)
		return r;
	if (!n) {
		fputs("no values yet\n", out);
		return 0;
	}
	for (i = 0; i < n; i++)
		if ((int)strlen(keys[i]) > width && strlen(keys[i]) < 256)
			width = (int)strlen(keys[i]);
	fprintf(out, "%-*s  VALUE\n", width, "LABEL");
	for (i = 0; i < n && !r; i++)
		r = render_sample_entry(out, keys[i], width, json_object_get(values, keys[i]));
	free(keys);
	return r;
}

int ctl_render_sample_line(FILE *out, const json_t *sample)
{
	const json_t *values = json_object_get(sample, "values");
	char *tick = ctl_json_text(json_object_get(sample, "tick"));
	const char **keys;
	size_t n, i, j;
	int r;

	fprintf(out, "tick %s", tick ? tick : "-");
	free(tick);
	r = ctl_keys_sorted(values, &keys, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		const json_t *e = json_object_get(values, keys[i]);
		const json_t *cpus = json_object_get(e, "cpus");
		const json_t *error = json_object_get(e, "error");
		char *label = ctl_printable(keys[i]), *t;

		fprintf(out, "  %s=", label ? label : "?");
		free(label);
		if (error) {
			t = ctl_json_text(error);
			fprintf(out, "error(%s)", t ? t : "?");
			free(t);
		} else if (json_is_object(cpus)) {
			const char **ck;
			json_t **cv;
			size_t cn;

			if (ctl_cpus_sorted(cpus, &ck, &cv, &cn) < 0) {
				r = -ENOMEM;
				break;
			}
			fputc('[', out);
			for (j = 0; j < cn; j++) {
				t = ctl_json_text(cv[j]);
				fprintf(out, "%s%s", j ? " " : "", t ? t : "?");
				free(t);
			}
			fputc(']', out);
			free(ck);
			free(cv);
		} else {
			t = ctl_json_text(json_object_get(e, "value"));
			fputs(t ? t : "?", out);
			free(t);
		}
	}
	fputc('\n', out);
	free(keys);
	return r;
}

/* ---- maps, watches ---- */

static int render_array_table(FILE *out, const json_t *arr, unsigned int ncols,
			      const char *const *headers, const char *const *members,
			      const bool *right, const char *empty)
{
	struct ctl_table *t;
	size_t i;
	json_t *o;
	int r = 0;

	if (!json_is_array(arr) || !json_array_size(arr)) {
		fprintf(out, "%s\n", empty);
		return 0;
	}
	t = ctl_table_new(ncols, headers);
	if (!t)
		return -ENOMEM;
	for (i = 0; i < ncols; i++)
		if (right[i])
			ctl_table_align_right(t, (unsigned int)i);
	json_array_foreach(arr, i, o) {
		char *cells[16];
		unsigned int c;

		for (c = 0; c < ncols; c++) {
			const char *m = members[c];
			json_t *v;

			/* "a|b": member a unless it is missing, null or empty, then b. */
			if (strchr(m, '|')) {
				char first[64];
				size_t fl = (size_t)(strchr(m, '|') - m);

				snprintf(first, sizeof(first), "%.*s", (int)fl, m);
				v = json_object_get(o, first);
				if (!v || json_is_null(v) ||
				    (json_is_string(v) && !json_string_length(v)))
					v = json_object_get(o, m + fl + 1);
			} else {
				v = json_object_get(o, m);
			}
			if (json_is_boolean(v))
				cells[c] = strdup(json_is_true(v) ? "yes" : "no");
			else
				cells[c] = ctl_json_text(v);
		}
		r = add_owned_row(t, cells, ncols);
		if (r < 0)
			break;
	}
	ctl_table_print(t, out);
	ctl_table_free(t);
	return r;
}

int ctl_render_maps(FILE *out, const json_t *reply)
{
	static const char *const headers[] = {
		"ID", "NAME", "TYPE", "KEY", "VALUE", "ENTRIES", "FLAGS", "OBJECT", "ACTIVE",
	};
	static const char *const members[] = {
		"id", "full_name|name", "type", "key_size", "value_size", "max_entries", "flags",
		"object", "active",
	};
	static const bool right[] = { true, false, false, true, true, true, true, false, false };

	return render_array_table(out, json_object_get(reply, "maps"), 9, headers, members, right,
				  "no BPF maps found");
}

int ctl_render_watches(FILE *out, const json_t *reply)
{
	static const char *const headers[] = {
		"LABEL", "MAP", "FIELD", "AGGREGATE", "OBJECT", "SOURCE",
	};
	static const char *const members[] = {
		"label", "map", "field", "aggregate", "object", "source",
	};
	static const bool right[6] = { false };

	return render_array_table(out, json_object_get(reply, "watches"), 6, headers, members,
				  right, "no watches loaded");
}
