/* SPDX-License-Identifier: MIT */
/*
 * bpfwatchctl's human-readable output: aligned tables and the rendering of
 * each reply (status, metrics, sample, maps, watches).  Renderers take the
 * daemon's reply as parsed JSON and are lenient about members that are
 * missing or of an unexpected type (shown as "-"), since a status from a
 * daemon still locating the kernel has many nulls.  Every string that came
 * from the daemon (and through it possibly from the guest) is printed with
 * control bytes escaped, so it cannot drive the terminal.
 */
#ifndef BPFWATCH_CTL_RENDER_H
#define BPFWATCH_CTL_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

/*
 * Copy of @s safe to print on a terminal: bytes below 0x20, DEL and the C1
 * controls (UTF-8 U+0080..U+009F) become "\xNN"; other bytes are kept.
 * NULL on allocation failure.
 */
char *ctl_printable(const char *s);

/*
 * Text of a JSON value for a table cell or `get`: integers exact, reals the
 * shortest text that reads back as the same double, strings as themselves
 * (printable), true/false, "-" for null or NULL, other values as compact
 * JSON.  The caller frees it; NULL on allocation failure.
 */
char *ctl_json_text(const json_t *v);

struct ctl_table;

/* A table with @ncols columns and these headers (copied). NULL on ENOMEM. */
struct ctl_table *ctl_table_new(unsigned int ncols, const char *const *headers);
/* Right-align column @col (numbers). */
void ctl_table_align_right(struct ctl_table *t, unsigned int col);
/* Append a row of ncols cells (made printable and copied; NULL cells print "-"). -ENOMEM. */
int ctl_table_add(struct ctl_table *t, const char *const *cells);
/* Rows so far. */
unsigned int ctl_table_rows(const struct ctl_table *t);
/* Print headers and rows, columns separated by two spaces, no trailing blanks. */
void ctl_table_print(const struct ctl_table *t, FILE *out);
void ctl_table_free(struct ctl_table *t);

/*
 * Each renderer prints one reply of its command.  0, or -ENOMEM (output
 * may then be partial).
 */
int ctl_render_status(FILE *out, const json_t *reply);
int ctl_render_metrics(FILE *out, const json_t *reply);
int ctl_render_sample(FILE *out, const json_t *reply);
int ctl_render_maps(FILE *out, const json_t *reply);
int ctl_render_watches(FILE *out, const json_t *reply);
/* One line per subscribed sample: "tick N  label=V  pc=[V0 V1 ...]  bad=error(TEXT)". */
int ctl_render_sample_line(FILE *out, const json_t *sample);

/*
 * Per-CPU values of a sample entry's "cpus" object, ordered by CPU number
 * (members whose name is not a CPU number come last, by name).  Fills
 * *keys and *values with @n borrowed pointers (free only the arrays).
 * -ENOMEM, or 0 with n = 0 for a non-object.
 */
int ctl_cpus_sorted(const json_t *cpus, const char ***keys, json_t ***values, size_t *n);

/* Member names of object @o sorted by strcmp (borrowed pointers; free the array). */
int ctl_keys_sorted(const json_t *o, const char ***keys, size_t *n);

/* A JSON number (or decimal string) as a double; false when it is not one. */
bool ctl_json_double(const json_t *v, double *out);

#endif
