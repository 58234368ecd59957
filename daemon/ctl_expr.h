/* SPDX-License-Identifier: MIT */
/*
 * Numbers and assertions of bpfwatchctl: `assert 'KEY OP NUMBER'`.
 *
 * A metric value from the daemon is a JSON integer (exact, int64), a JSON
 * real (a mean) or, for a u64 above INT64_MAX, a string of its exact decimal
 * digits.  An assertion's NUMBER is written by a person: decimal, 0x hex,
 * negative, or floating (0.5, 1e3).  Integers are kept as sign + 64-bit
 * magnitude, which holds every int64 and every uint64 exactly, so
 * "x == 9007199254740993" or "x == 18446744073709551615" is decided on the
 * integers themselves, never through a double that would round them.
 * Reals compare as doubles; an integer against a real is decided exactly
 * too (the integer is not rounded to the nearest double first).
 */
#ifndef BPFWATCH_CTL_EXPR_H
#define BPFWATCH_CTL_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

/*
 * Longest assertion text.  It is one command-line argument naming one
 * metric key; keys are an object prefix (15 characters) and a label, so
 * anything this long is a mistake, and the cap keeps messages that quote
 * the text readable.
 */
#define CTL_EXPR_TEXT_MAX 4096

/* Room for any number ctl_num_format() writes (20 digits and a sign, or a %.17g real). */
#define CTL_NUM_TEXT_MAX 40

enum ctl_num_kind {
	CTL_NUM_INT,
	CTL_NUM_REAL,
};

struct ctl_num {
	enum ctl_num_kind kind;
	bool negative;		/* INT: the sign; never set for zero */
	uint64_t magnitude;	/* INT: the absolute value */
	double real;		/* REAL */
};

enum ctl_op {
	CTL_OP_LT,
	CTL_OP_LE,
	CTL_OP_GT,
	CTL_OP_GE,
	CTL_OP_EQ,
	CTL_OP_NE,
};

/* Result of ctl_num_cmp(). */
#define CTL_CMP_LT (-1)
#define CTL_CMP_EQ 0
#define CTL_CMP_GT 1
#define CTL_CMP_UNORDERED 2	/* a NaN is involved: only != holds */

struct ctl_expr {
	char *key;		/* the metric key, owned */
	enum ctl_op op;
	struct ctl_num number;
	char *number_text;	/* NUMBER as written, owned (for messages) */
};

enum ctl_verdict {
	CTL_VERDICT_HOLDS,
	CTL_VERDICT_FAILS,
	CTL_VERDICT_ABSENT,	/* the key is not among the metrics */
	CTL_VERDICT_NOT_NUMBER,	/* the key's value is not a number */
};

struct ctl_num ctl_num_from_int64(int64_t v);
struct ctl_num ctl_num_from_uint64(uint64_t v);
struct ctl_num ctl_num_from_double(double v);

/*
 * Parse a NUMBER as a person writes it: [+-] then decimal digits (an
 * integer, never octal: "010" is ten), 0x/0X and hex digits (an integer), or
 * a decimal with '.' and/or an exponent (a real).  Integers must fit in a
 * 64-bit magnitude (-18446744073709551615..18446744073709551615); reals must
 * be finite.  No whitespace, no "inf"/"nan".  -EINVAL with a message
 * quoting the text, -ERANGE for an integer or real out of range.
 */
int ctl_num_parse(const char *text, struct ctl_num *out, struct bw_error *err);

/*
 * A metric value out of a daemon reply: a JSON integer, a JSON real, or a
 * string of decimal digits (optionally after '-') that fits in a 64-bit
 * magnitude.  -EINVAL for anything else (null, bool, object, other strings).
 */
int ctl_num_from_json(const json_t *value, struct ctl_num *out, struct bw_error *err);

/* Exact comparison of @a with @b: CTL_CMP_LT/EQ/GT, or CTL_CMP_UNORDERED. */
int ctl_num_cmp(const struct ctl_num *a, const struct ctl_num *b);

/*
 * Write @n into @buf: integers as their exact decimal digits, reals as the
 * shortest "%g" text that reads back as the same double.  Returns @buf
 * (always NUL-terminated; CTL_NUM_TEXT_MAX bytes always suffice).
 */
const char *ctl_num_format(const struct ctl_num *n, char *buf, size_t len);

/* "<", "<=", ... */
const char *ctl_op_name(enum ctl_op op);
/* Whether "a OP b" holds given cmp = ctl_num_cmp(a, b). */
bool ctl_op_holds(enum ctl_op op, int cmp);

/*
 * Longest metric key accepted: "<object>_<label>_max" with a label as long
 * as a watch file line allows (INI_MAX_LINE).
 */
#define CTL_KEY_MAX 4096

/*
 * The rules every key from the command line obeys (assert, get, wait):
 * 1..CTL_KEY_MAX bytes of printable ASCII, no whitespace.  -EINVAL with a
 * message that quotes the key escaped and cut short.
 */
int ctl_key_check(const char *key, struct bw_error *err);

/*
 * Parse "KEY OP NUMBER", with or without spaces around OP ("x>=5",
 * "x >= 5", " x>= 5 ").  Without spaces, the key ends at the first of
 * "<>=!"; a key that itself contains one of those characters must be
 * written with OP between spaces ("a<b < 5").  -EINVAL with a message that
 * says what is wrong (no operator, "=" instead of "==", missing key or
 * number, a number that does not parse); *out is then left empty.
 * Free with ctl_expr_free().
 */
int ctl_expr_parse(const char *text, struct ctl_expr *out, struct bw_error *err);
void ctl_expr_free(struct ctl_expr *e);

/*
 * Decide @e against the "metrics" object of a metrics reply.  When the key
 * is present and numeric, *value (may be NULL) receives its value.
 */
enum ctl_verdict ctl_expr_eval(const struct ctl_expr *e, const json_t *metrics,
			       struct ctl_num *value);

#endif
