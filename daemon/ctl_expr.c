/* SPDX-License-Identifier: MIT */
/*
 * Exact numbers and `assert` expressions for bpfwatchctl (see ctl_expr.h
 * for the forms accepted).
 *
 * Why not doubles throughout: counters are u64/s64 and a double holds only
 * 53 bits, so 2^53 and 2^53+1, or UINT64_MAX and UINT64_MAX-1000, would
 * compare equal.  A CI check "x == 18446744073709551615" must mean what it
 * says.  Integers therefore stay sign + magnitude, and an integer is
 * compared with a real without rounding it: the real is split into its
 * floor (an integer, exact for every finite double below 2^64 in magnitude)
 * and its fraction.
 */
#include "ctl_expr.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"

/* How much of a bad text a message quotes. */
#define QUOTE_MAX 64

static const char OP_CHARS[] = "<>=!";

static const char *const op_names[] = {
	[CTL_OP_LT] = "<", [CTL_OP_LE] = "<=", [CTL_OP_GT] = ">",
	[CTL_OP_GE] = ">=", [CTL_OP_EQ] = "==", [CTL_OP_NE] = "!=",
};

const char *ctl_op_name(enum ctl_op op)
{
	if ((unsigned int)op < sizeof(op_names) / sizeof(op_names[0]))
		return op_names[op];
	return "?";
}

bool ctl_op_holds(enum ctl_op op, int cmp)
{
	if (cmp == CTL_CMP_UNORDERED)
		return op == CTL_OP_NE;
	switch (op) {
	case CTL_OP_LT: return cmp < 0;
	case CTL_OP_LE: return cmp <= 0;
	case CTL_OP_GT: return cmp > 0;
	case CTL_OP_GE: return cmp >= 0;
	case CTL_OP_EQ: return cmp == 0;
	case CTL_OP_NE: return cmp != 0;
	}
	return false;
}

/* @n bytes of @s for a message: quoted, control and high bytes as \xNN, cut at QUOTE_MAX. */
static const char *quote(const char *s, size_t n, char *buf, size_t len)
{
	size_t o = 0, i;

	if (len < 8) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (i = 0; i < n && o + 8 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == QUOTE_MAX) {
			o += (size_t)snprintf(buf + o, len - o, "...");
			break;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

struct ctl_num ctl_num_from_int64(int64_t v)
{
	struct ctl_num n = { .kind = CTL_NUM_INT };

	if (v < 0) {
		n.negative = true;
		/* -(INT64_MIN) overflows int64; the unsigned negation does not. */
		n.magnitude = (uint64_t)0 - (uint64_t)v;
	} else {
		n.magnitude = (uint64_t)v;
	}
	return n;
}

struct ctl_num ctl_num_from_uint64(uint64_t v)
{
	struct ctl_num n = { .kind = CTL_NUM_INT, .magnitude = v };

	return n;
}

struct ctl_num ctl_num_from_double(double v)
{
	struct ctl_num n = { .kind = CTL_NUM_REAL, .real = v };

	return n;
}

/* Digits in @base from @s (all of it); -EINVAL on a bad digit, -ERANGE past UINT64_MAX. */
static int parse_magnitude(const char *s, unsigned int base, uint64_t *out)
{
	size_t digits;
	const char *end = bw_parse_digits(s, base == 16, UINT64_MAX, out, &digits);

	if (!end)
		return -ERANGE;
	return digits && !*end ? 0 : -EINVAL;
}

/* [0-9]* ['.' [0-9]*] [eE [+-] [0-9]+] with at least one mantissa digit. */
static bool is_decimal_real(const char *s, bool *has_point_or_exp)
{
	unsigned int mantissa = 0;

	*has_point_or_exp = false;
	while (*s >= '0' && *s <= '9')
		s++, mantissa++;
	if (*s == '.') {
		*has_point_or_exp = true;
		s++;
		while (*s >= '0' && *s <= '9')
			s++, mantissa++;
	}
	if (!mantissa)
		return false;
	if (*s == 'e' || *s == 'E') {
		*has_point_or_exp = true;
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

int ctl_num_parse(const char *text, struct ctl_num *out, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 16];
	const char *s = text;
	bool negative = false, real;
	uint64_t mag;
	int r;

	quote(text, strlen(text), q, sizeof(q));
	if (*s == '+' || *s == '-')
		negative = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		r = parse_magnitude(s + 2, 16, &mag);
		if (r == -ERANGE)
			return bw_error_set(err, -ERANGE, "%s: beyond the 64-bit integer range", q);
		if (r < 0)
			return bw_error_set(err, -EINVAL,
					    "%s is not a number: 0x must be followed by hex digits only", q);
		goto integer;
	}
	if (!is_decimal_real(s, &real))
		return bw_error_set(err, -EINVAL,
				    "%s is not a number (write an integer, 0x hex, or a decimal such as 0.5 or 1e3)",
				    q);
	if (!real) {
		r = parse_magnitude(s, 10, &mag);
		if (r == -ERANGE)
			return bw_error_set(err, -ERANGE,
					    "%s: beyond the 64-bit integer range (write it as a real, e.g. 1.8e19)",
					    q);
		if (r < 0)
			return bw_error_set(err, -EINVAL, "%s is not a number", q);
		goto integer;
	}

	{
		char *end;
		double d;

		errno = 0;
		d = strtod(text, &end);
		if (*end)
			return bw_error_set(err, -EINVAL, "%s is not a number", q);
		/* An underflow to a denormal or zero is still the nearest double: keep it. */
		if (errno == ERANGE && isinf(d))
			return bw_error_set(err, -ERANGE, "%s: beyond the range of a double", q);
		*out = ctl_num_from_double(d);
		return 0;
	}

integer:
	out->kind = CTL_NUM_INT;
	out->magnitude = mag;
	out->negative = negative && mag != 0;
	out->real = 0;
	return 0;
}

int ctl_num_from_json(const json_t *value, struct ctl_num *out, struct bw_error *err)
{
	const char *s, *digits;
	uint64_t mag;
	char q[QUOTE_MAX * 4 + 16];

	if (json_is_integer(value)) {
		*out = ctl_num_from_int64((int64_t)json_integer_value(value));
		return 0;
	}
	if (json_is_real(value)) {
		*out = ctl_num_from_double(json_real_value(value));
		return 0;
	}
	if (!json_is_string(value))
		return bw_error_set(err, -EINVAL, "a %s is not a number",
				    json_is_null(value) ? "null" :
				    json_is_boolean(value) ? "boolean" :
				    json_is_object(value) ? "JSON object" :
				    json_is_array(value) ? "JSON array" : "JSON value");
	s = json_string_value(value);
	quote(s, json_string_length(value), q, sizeof(q));
	digits = s[0] == '-' ? s + 1 : s;
	/* The daemon writes only [-]digits; strlen() also catches an embedded NUL. */
	if (strlen(s) != json_string_length(value) || !*digits ||
	    strspn(digits, "0123456789") != strlen(digits) ||
	    parse_magnitude(digits, 10, &mag) < 0)
		return bw_error_set(err, -EINVAL, "string %s is not a 64-bit integer in decimal", q);
	out->kind = CTL_NUM_INT;
	out->magnitude = mag;
	out->negative = s[0] == '-' && mag != 0;
	out->real = 0;
	return 0;
}

static int cmp_int_int(const struct ctl_num *a, const struct ctl_num *b)
{
	int c;

	if (a->negative != b->negative)
		return a->negative ? CTL_CMP_LT : CTL_CMP_GT;
	c = a->magnitude < b->magnitude ? CTL_CMP_LT :
	    a->magnitude > b->magnitude ? CTL_CMP_GT : CTL_CMP_EQ;
	return a->negative ? -c : c;
}

/*
 * Integer @i against double @d, exactly.  Every finite double of magnitude
 * below 2^64 has an integral floor that converts to sign + magnitude
 * without loss (at and above 2^52 every double is already an integer), and
 * d - floor(d) is computed exactly, so the outcome is the mathematical one.
 */
static int cmp_int_real(const struct ctl_num *i, double d)
{
	struct ctl_num f = { .kind = CTL_NUM_INT };
	double fl, frac;
	int c;

	if (isnan(d))
		return CTL_CMP_UNORDERED;
	if (d >= 0x1p64)
		return CTL_CMP_LT;
	if (d <= -0x1p64)
		return CTL_CMP_GT;
	fl = floor(d);
	frac = d - fl;
	if (fl < 0) {
		f.negative = true;
		f.magnitude = (uint64_t)(-fl);
	} else {
		f.magnitude = (uint64_t)fl;
	}
	if (!f.magnitude)
		f.negative = false;
	c = cmp_int_int(i, &f);
	if (c != CTL_CMP_EQ)
		return c;
	return frac > 0 ? CTL_CMP_LT : CTL_CMP_EQ;
}

int ctl_num_cmp(const struct ctl_num *a, const struct ctl_num *b)
{
	int c;

	if (a->kind == CTL_NUM_INT && b->kind == CTL_NUM_INT)
		return cmp_int_int(a, b);
	if (a->kind == CTL_NUM_INT)
		return cmp_int_real(a, b->real);
	if (b->kind == CTL_NUM_INT) {
		c = cmp_int_real(b, a->real);
		return c == CTL_CMP_UNORDERED ? c : -c;
	}
	if (isnan(a->real) || isnan(b->real))
		return CTL_CMP_UNORDERED;
	return a->real < b->real ? CTL_CMP_LT : a->real > b->real ? CTL_CMP_GT : CTL_CMP_EQ;
}

const char *ctl_num_format(const struct ctl_num *n, char *buf, size_t len)
{
	int p;

	if (!len)
		return buf;
	if (n->kind == CTL_NUM_INT) {
		snprintf(buf, len, "%s%llu", n->negative ? "-" : "",
			 (unsigned long long)n->magnitude);
		return buf;
	}
	if (!isfinite(n->real)) {
		snprintf(buf, len, "%s", isnan(n->real) ? "nan" : n->real < 0 ? "-inf" : "inf");
		return buf;
	}
	/* A mean that is a whole number reads best as its digits ("5000000",
	 * not "5e+06"); below 2^64 every such double prints exactly. */
	if (n->real == trunc(n->real) && fabs(n->real) < 18446744073709551616.0) {
		snprintf(buf, len, "%.0f", n->real == 0 ? 0.0 : n->real);
		return buf;
	}
	for (p = 1; p <= 17; p++) {
		snprintf(buf, len, "%.*g", p, n->real);
		if (strtod(buf, NULL) == n->real)
			break;
	}
	return buf;
}

void ctl_expr_free(struct ctl_expr *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->number_text);
	e->key = NULL;
	e->number_text = NULL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_op_char(char c)
{
	return c && strchr(OP_CHARS, c);
}

/* @s[0..n) with the surrounding whitespace cut off. */
static void trim(const char **s, size_t *n)
{
	while (*n && is_space(**s))
		(*s)++, (*n)--;
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

static int op_lookup(const char *s, size_t n, enum ctl_op *op)
{
	unsigned int i;

	for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++) {
		if (strlen(op_names[i]) == n && !memcmp(op_names[i], s, n)) {
			*op = (enum ctl_op)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int bad_op(const char *s, size_t n, const char *whole, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 16], w[QUOTE_MAX * 4 + 16];
	const char *hint = NULL;

	quote(s, n, q, sizeof(q));
	quote(whole, strlen(whole), w, sizeof(w));
	if (n == 1 && s[0] == '=')
		hint = "==";
	else if (n == 2 && !memcmp(s, "=<", 2))
		hint = "<=";
	else if (n == 2 && !memcmp(s, "=>", 2))
		hint = ">=";
	else if (n == 2 && (!memcmp(s, "<>", 2) || !memcmp(s, "=!", 2)))
		hint = "!=";
	else if (n == 3 && !memcmp(s, "===", 3))
		hint = "==";
	if (hint)
		return bw_error_set(err, -EINVAL, "%s: %s is not an operator; did you mean \"%s\"?",
				    w, q, hint);
	return bw_error_set(err, -EINVAL, "%s: %s is not an operator (one of < <= > >= == !=)",
			    w, q);
}

/* @whole: the argument the key came from, for messages (the key itself when alone). */
static int check_key(const char *key, size_t n, const char *whole, struct bw_error *err)
{
	char q[QUOTE_MAX * 4 + 16], w[QUOTE_MAX * 4 + 16];
	size_t i;

	quote(whole, strlen(whole), w, sizeof(w));
	if (!n)
		return bw_error_set(err, -EINVAL, "%s: the metric key is missing before the operator",
				    w);
	if (n > CTL_KEY_MAX)
		return bw_error_set(err, -EINVAL, "%s: key of %zu bytes; a metric key has at most %d",
				    w, n, CTL_KEY_MAX);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)key[i];

		if (is_space((char)c))
			return bw_error_set(err, -EINVAL, "%s: key %s contains whitespace", w,
					    quote(key, n, q, sizeof(q)));
		if (c < 0x21 || c > 0x7e)
			return bw_error_set(err, -EINVAL,
					    "%s: key %s contains a control or non-ASCII byte", w,
					    quote(key, n, q, sizeof(q)));
	}
	return 0;
}

int ctl_key_check(const char *key, struct bw_error *err)
{
	size_t n = strnlen(key, CTL_KEY_MAX + 1);

	if (!n)
		return bw_error_set(err, -EINVAL, "the metric key is empty");
	return check_key(key, n == CTL_KEY_MAX + 1 ? strlen(key) : n, key, err);
}

static int set_expr(struct ctl_expr *out, const char *key, size_t keylen, enum ctl_op op,
		    const char *num, size_t numlen, const char *whole, struct bw_error *err)
{
	char w[QUOTE_MAX * 4 + 16];
	struct ctl_num number;
	char *numtext;
	size_t i;
	int r;

	r = check_key(key, keylen, whole, err);
	if (r < 0)
		return r;
	quote(whole, strlen(whole), w, sizeof(w));
	if (!numlen)
		return bw_error_set(err, -EINVAL, "%s: the number is missing after \"%s\"", w,
				    ctl_op_name(op));
	for (i = 0; i < numlen; i++)
		if (is_space(num[i]))
			return bw_error_set(err, -EINVAL,
					    "%s: unexpected text after the number (one KEY OP NUMBER per argument)",
					    w);
	numtext = strndup(num, numlen);
	if (!numtext)
		return bw_error_set(err, -ENOMEM, "out of memory");
	r = ctl_num_parse(numtext, &number, err);
	if (r < 0) {
		free(numtext);
		return bw_error_prefix(err, "%s", w);
	}
	out->key = strndup(key, keylen);
	if (!out->key) {
		free(numtext);
		return bw_error_set(err, -ENOMEM, "out of memory");
	}
	out->op = op;
	out->number = number;
	out->number_text = numtext;
	return 0;
}

int ctl_expr_parse(const char *text, struct ctl_expr *out, struct bw_error *err)
{
	char w[QUOTE_MAX * 4 + 16];
	const char *s = text, *tok[4], *p, *run;
	size_t n, toklen[4], runlen, ntok = 0, i;
	enum ctl_op op;

	memset(out, 0, sizeof(*out));
	n = strnlen(text, CTL_EXPR_TEXT_MAX + 1);
	quote(text, n, w, sizeof(w));
	if (n > CTL_EXPR_TEXT_MAX)
		return bw_error_set(err, -EINVAL, "%s: longer than %d characters", w,
				    CTL_EXPR_TEXT_MAX);
	trim(&s, &n);
	if (!n)
		return bw_error_set(err, -EINVAL, "empty expression (write KEY OP NUMBER, e.g. 'x >= 1')");

	/* "KEY OP NUMBER" as three words: the key may then hold any of "<>=!". */
	for (i = 0; i < n && ntok < 4;) {
		while (i < n && is_space(s[i]))
			i++;
		if (i == n)
			break;
		tok[ntok] = s + i;
		while (i < n && !is_space(s[i]))
			i++;
		toklen[ntok] = (size_t)(s + i - tok[ntok]);
		ntok++;
	}
	if (ntok == 3 && op_lookup(tok[1], toklen[1], &op) == 0)
		return set_expr(out, tok[0], toklen[0], op, tok[2], toklen[2], text, err);

	/* Otherwise the key ends at the first operator character. */
	for (p = s; p < s + n && !is_op_char(*p); p++)
		;
	if (p == s + n)
		return bw_error_set(err, -EINVAL,
				    "%s: no comparison operator (write KEY OP NUMBER, OP one of < <= > >= == !=)",
				    w);
	run = p;
	while (p < s + n && is_op_char(*p))
		p++;
	runlen = (size_t)(p - run);
	if (op_lookup(run, runlen, &op) < 0)
		return bad_op(run, runlen, text, err);
	{
		const char *key = s, *num = p;
		size_t keylen = (size_t)(run - s), numlen = (size_t)(s + n - p);

		trim(&key, &keylen);
		trim(&num, &numlen);
		if (numlen && is_op_char(num[0]))
			return bw_error_set(err, -EINVAL, "%s: more than one operator", w);
		return set_expr(out, key, keylen, op, num, numlen, text, err);
	}
}

enum ctl_verdict ctl_expr_eval(const struct ctl_expr *e, const json_t *metrics,
			       struct ctl_num *value)
{
	struct ctl_num v;
	json_t *j;

	j = json_is_object(metrics) ? json_object_get(metrics, e->key) : NULL;
	if (!j)
		return CTL_VERDICT_ABSENT;
	if (ctl_num_from_json(j, &v, NULL) < 0)
		return CTL_VERDICT_NOT_NUMBER;
	if (value)
		*value = v;
	return ctl_op_holds(e->op, ctl_num_cmp(&v, &e->number)) ? CTL_VERDICT_HOLDS :
								   CTL_VERDICT_FAILS;
}
