/* SPDX-License-Identifier: MIT */
/*
 * bpfwatchctl's numbers and assertions: parsing of every form and operator,
 * exact comparisons at the edges of 64-bit integers and doubles, messages
 * for bad expressions, and the reply reader fed garbage over a socketpair.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_expr.h"
#include "ctl_render.h"
#include "util_mem.h"

#define ck_assert_msg_has(err, needle) \
	ck_assert_msg(strstr((err)->msg, (needle)) != NULL, "message \"%s\" lacks \"%s\"", \
		      (err)->msg, (needle))

/* 2^53 + 1: the first integer a double cannot hold. */
#define P53_PLUS_1 9007199254740993ULL

static struct ctl_num parse_ok(const char *text)
{
	struct bw_error err = { 0 };
	struct ctl_num n;
	int r = ctl_num_parse(text, &n, &err);

	ck_assert_msg(r == 0, "\"%s\": %d %s", text, r, err.msg);
	return n;
}

static void assert_int(struct ctl_num n, bool negative, uint64_t magnitude)
{
	ck_assert_int_eq(n.kind, CTL_NUM_INT);
	ck_assert_int_eq(n.negative, negative);
	ck_assert_uint_eq(n.magnitude, magnitude);
}

START_TEST(test_num_parse_integers)
{
	assert_int(parse_ok("0"), false, 0);
	assert_int(parse_ok("-0"), false, 0);
	assert_int(parse_ok("+0"), false, 0);
	assert_int(parse_ok("42"), false, 42);
	assert_int(parse_ok("+42"), false, 42);
	assert_int(parse_ok("-42"), true, 42);
	/* Never octal. */
	assert_int(parse_ok("010"), false, 10);
	assert_int(parse_ok("0x10"), false, 16);
	assert_int(parse_ok("0XfF"), false, 255);
	assert_int(parse_ok("-0x10"), true, 16);
	assert_int(parse_ok("9007199254740993"), false, P53_PLUS_1);
	assert_int(parse_ok("18446744073709551615"), false, UINT64_MAX);
	assert_int(parse_ok("0xffffffffffffffff"), false, UINT64_MAX);
	assert_int(parse_ok("-9223372036854775808"), true, 9223372036854775808ULL);
	assert_int(parse_ok("-18446744073709551615"), true, UINT64_MAX);
	assert_int(parse_ok("00000000000000000000000000018446744073709551615"), false, UINT64_MAX);
}
END_TEST

START_TEST(test_num_parse_reals)
{
	struct ctl_num n;

	n = parse_ok("0.5");
	ck_assert_int_eq(n.kind, CTL_NUM_REAL);
	ck_assert(n.real == 0.5);
	n = parse_ok("1e3");
	ck_assert_int_eq(n.kind, CTL_NUM_REAL);
	ck_assert(n.real == 1000.0);
	ck_assert(parse_ok("1E3").real == 1000.0);
	ck_assert(parse_ok("-1.5e-3").real == -0.0015);
	ck_assert(parse_ok(".5").real == 0.5);
	ck_assert(parse_ok("5.").real == 5.0);
	ck_assert(parse_ok("+2.25").real == 2.25);
	ck_assert(parse_ok("1e+2").real == 100.0);
	ck_assert(parse_ok("9007199254740993.0").real == 9007199254740992.0);
	/* An underflow is still the nearest double. */
	n = parse_ok("1e-400");
	ck_assert_int_eq(n.kind, CTL_NUM_REAL);
	ck_assert(n.real == 0.0);
}
END_TEST

START_TEST(test_num_parse_errors)
{
	static const char *const bad[] = {
		"", "-", "+", "x", "abc", "1O", " 1", "1 ", "1 2", "--1", "+-1", "0x", "-0x",
		"0xg", "0x1p3", "0x1.8", "1.2.3", "1e", "1e+", "e3", ".", "-.", "inf", "-inf", "nan",
		"NaN", "infinity", "1,5", "1_000", "0b101", "12abc", "\x01", "1\n", "٣",
	};
	struct bw_error err;
	struct ctl_num n;
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		bw_error_clear(&err);
		ck_assert_msg(ctl_num_parse(bad[i], &n, &err) == -EINVAL, "\"%s\" accepted", bad[i]);
		ck_assert_msg_has(&err, "not a number");
	}
	ck_assert_int_eq(ctl_num_parse("18446744073709551616", &n, &err), -ERANGE);
	ck_assert_msg_has(&err, "\"18446744073709551616\": beyond the 64-bit integer range");
	ck_assert_msg_has(&err, "1.8e19");
	ck_assert_int_eq(ctl_num_parse("-18446744073709551616", &n, &err), -ERANGE);
	ck_assert_int_eq(ctl_num_parse("0x10000000000000000", &n, &err), -ERANGE);
	ck_assert_int_eq(ctl_num_parse("99999999999999999999999999", &n, &err), -ERANGE);
	ck_assert_int_eq(ctl_num_parse("1e999", &n, &err), -ERANGE);
	ck_assert_msg_has(&err, "beyond the range of a double");
	ck_assert_int_eq(ctl_num_parse("-1e999", &n, &err), -ERANGE);
	/* Control bytes are quoted, not printed. */
	ck_assert_int_eq(ctl_num_parse("1\x1b[2J", &n, &err), -EINVAL);
	ck_assert_msg_has(&err, "\"1\\x1b[2J\"");
	ck_assert_int_eq(ctl_num_parse("1", &n, NULL), 0);
	ck_assert_int_eq(ctl_num_parse("z", &n, NULL), -EINVAL);
}
END_TEST

START_TEST(test_num_from_json)
{
	struct bw_error err;
	struct ctl_num n;
	json_t *j;
	static const char *const bad_strings[] = {
		"", "-", "+1", "1.5", " 1", "1 ", "0x10", "abc", "18446744073709551616", "1e3", "--1",
	};
	unsigned int i;

	j = json_integer(INT64_MIN);
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), 0);
	assert_int(n, true, 9223372036854775808ULL);
	json_decref(j);
	j = json_integer(INT64_MAX);
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), 0);
	assert_int(n, false, INT64_MAX);
	json_decref(j);
	j = json_real(12.5);
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), 0);
	ck_assert_int_eq(n.kind, CTL_NUM_REAL);
	ck_assert(n.real == 12.5);
	json_decref(j);
	/* The daemon's form of a u64 above INT64_MAX. */
	j = json_string("18446744073709551615");
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), 0);
	assert_int(n, false, UINT64_MAX);
	json_decref(j);
	j = json_string("9223372036854775808");
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), 0);
	assert_int(n, false, 9223372036854775808ULL);
	json_decref(j);
	j = json_string("-5");
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), 0);
	assert_int(n, true, 5);
	json_decref(j);
	j = json_string("-0");
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), 0);
	assert_int(n, false, 0);
	json_decref(j);

	for (i = 0; i < sizeof(bad_strings) / sizeof(bad_strings[0]); i++) {
		j = json_string(bad_strings[i]);
		ck_assert_msg(ctl_num_from_json(j, &n, &err) == -EINVAL, "\"%s\" accepted",
			      bad_strings[i]);
		ck_assert_msg_has(&err, "is not a 64-bit integer in decimal");
		json_decref(j);
	}
	/* An embedded NUL must not cut the digits short. */
	j = json_stringn("12\0" "34", 5);
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), -EINVAL);
	json_decref(j);
	j = json_null();
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), -EINVAL);
	ck_assert_msg_has(&err, "a null is not a number");
	j = json_true();
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), -EINVAL);
	ck_assert_msg_has(&err, "boolean");
	j = json_object();
	ck_assert_int_eq(ctl_num_from_json(j, &n, &err), -EINVAL);
	ck_assert_msg_has(&err, "JSON object");
	json_decref(j);
	j = json_array();
	ck_assert_int_eq(ctl_num_from_json(j, &n, NULL), -EINVAL);
	json_decref(j);
}
END_TEST

static int cmp_text(const char *a, const char *b)
{
	struct ctl_num x = parse_ok(a), y = parse_ok(b);
	int c = ctl_num_cmp(&x, &y), d = ctl_num_cmp(&y, &x);

	/* Antisymmetry, always. */
	if (c == CTL_CMP_UNORDERED)
		ck_assert_int_eq(d, CTL_CMP_UNORDERED);
	else
		ck_assert_msg(d == -c, "%s vs %s: %d but reversed %d", a, b, c, d);
	return c;
}

START_TEST(test_cmp_integers_exact)
{
	ck_assert_int_eq(cmp_text("9007199254740993", "9007199254740992"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("9007199254740993", "9007199254740993"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("18446744073709551615", "18446744073709551614"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("18446744073709551615", "0xffffffffffffffff"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("-9223372036854775808", "-9223372036854775807"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("-9223372036854775808", "9223372036854775807"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("-1", "0"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("-0", "0"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("-5", "-4"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("-18446744073709551615", "-9223372036854775808"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("0x4d2", "1234"), CTL_CMP_EQ);

	/* The same comparisons with values from JSON. */
	{
		struct ctl_num a = ctl_num_from_int64(INT64_MIN), b = ctl_num_from_int64(INT64_MIN + 1);
		struct ctl_num u = ctl_num_from_uint64(UINT64_MAX), m = ctl_num_from_int64(-1);

		ck_assert_int_eq(ctl_num_cmp(&a, &b), CTL_CMP_LT);
		ck_assert_int_eq(ctl_num_cmp(&u, &m), CTL_CMP_GT);
		ck_assert_int_eq(ctl_num_cmp(&a, &a), CTL_CMP_EQ);
	}
}
END_TEST

START_TEST(test_cmp_int_vs_real)
{
	/* 2^53 + 1 as an integer is above the real 2^53, although (double)(2^53+1) == 2^53. */
	ck_assert_int_eq(cmp_text("9007199254740993", "9007199254740992.0"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("9007199254740992", "9007199254740992.0"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("9007199254740993", "9007199254740993.0"), CTL_CMP_GT);
	/* UINT64_MAX is below the real 2^64 it would round to. */
	ck_assert_int_eq(cmp_text("18446744073709551615", "1.8446744073709552e19"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("18446744073709551615", "1.8446744073709550e19"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("-9223372036854775808", "-9.223372036854775808e18"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("-9223372036854775807", "-9.223372036854775808e18"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("-18446744073709551615", "-1.8446744073709552e19"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("5", "5.5"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("6", "5.5"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("-5", "-5.5"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("-6", "-5.5"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("-5", "-4.5"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("0", "0.0"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("0", "-0.0"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("0", "4.9e-324"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("0", "-4.9e-324"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("1000", "1e3"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("18446744073709551615", "1e300"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("-18446744073709551615", "-1e300"), CTL_CMP_GT);
	{
		struct ctl_num i = ctl_num_from_uint64(UINT64_MAX);
		struct ctl_num inf = ctl_num_from_double(INFINITY);
		struct ctl_num ninf = ctl_num_from_double(-INFINITY);
		struct ctl_num nan_ = ctl_num_from_double(NAN);

		ck_assert_int_eq(ctl_num_cmp(&i, &inf), CTL_CMP_LT);
		ck_assert_int_eq(ctl_num_cmp(&i, &ninf), CTL_CMP_GT);
		ck_assert_int_eq(ctl_num_cmp(&i, &nan_), CTL_CMP_UNORDERED);
		ck_assert_int_eq(ctl_num_cmp(&nan_, &i), CTL_CMP_UNORDERED);
		ck_assert_int_eq(ctl_num_cmp(&nan_, &nan_), CTL_CMP_UNORDERED);
		ck_assert_int_eq(ctl_num_cmp(&inf, &ninf), CTL_CMP_GT);
	}
}
END_TEST

START_TEST(test_cmp_reals)
{
	ck_assert_int_eq(cmp_text("0.1", "0.1"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("0.1", "0.10000000000000001"), CTL_CMP_EQ);
	ck_assert_int_eq(cmp_text("0.5", "0.25"), CTL_CMP_GT);
	ck_assert_int_eq(cmp_text("-1e3", "1e-3"), CTL_CMP_LT);
	ck_assert_int_eq(cmp_text("-0.0", "0.0"), CTL_CMP_EQ);
}
END_TEST

START_TEST(test_ops)
{
	static const struct {
		enum ctl_op op;
		const char *name;
		bool lt, eq, gt, unordered;
	} t[] = {
		{ CTL_OP_LT, "<", true, false, false, false },
		{ CTL_OP_LE, "<=", true, true, false, false },
		{ CTL_OP_GT, ">", false, false, true, false },
		{ CTL_OP_GE, ">=", false, true, true, false },
		{ CTL_OP_EQ, "==", false, true, false, false },
		{ CTL_OP_NE, "!=", true, false, true, true },
	};
	unsigned int i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_str_eq(ctl_op_name(t[i].op), t[i].name);
		ck_assert_int_eq(ctl_op_holds(t[i].op, CTL_CMP_LT), t[i].lt);
		ck_assert_int_eq(ctl_op_holds(t[i].op, CTL_CMP_EQ), t[i].eq);
		ck_assert_int_eq(ctl_op_holds(t[i].op, CTL_CMP_GT), t[i].gt);
		ck_assert_int_eq(ctl_op_holds(t[i].op, CTL_CMP_UNORDERED), t[i].unordered);
	}
	ck_assert_str_eq(ctl_op_name((enum ctl_op)99), "?");
}
END_TEST

START_TEST(test_num_format)
{
	char buf[CTL_NUM_TEXT_MAX];
	struct ctl_num n;

	n = ctl_num_from_uint64(UINT64_MAX);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "18446744073709551615");
	n = ctl_num_from_int64(INT64_MIN);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "-9223372036854775808");
	n = ctl_num_from_int64(0);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "0");
	n = ctl_num_from_double(0.1);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "0.1");
	n = ctl_num_from_double(12.5);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "12.5");
	n = ctl_num_from_double(1.0 / 3.0);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "0.3333333333333333");
	n = ctl_num_from_double(1e20);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "1e+20");
	n = ctl_num_from_double(9007199254740992.0);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "9007199254740992");
	/* Whole-number means print as digits up to 2^64, exactly. */
	n = ctl_num_from_double(5e6);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "5000000");
	n = ctl_num_from_double(-3e6);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "-3000000");
	n = ctl_num_from_double(-0.0);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "0");
	n = ctl_num_from_double(1.8e19);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "18000000000000000000");
	n = ctl_num_from_double(-2.5e-7);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "-2.5e-07");
	n = ctl_num_from_double(NAN);
	ck_assert_str_eq(ctl_num_format(&n, buf, sizeof(buf)), "nan");
	/* Every format reads back as the same double. */
	{
		unsigned int i;
		uint64_t bits;

		for (i = 0; i < 2000; i++) {
			double d;

			test_fill_random(&bits, sizeof(bits), i);
			memcpy(&d, &bits, sizeof(d));
			if (!isfinite(d))
				continue;
			n = ctl_num_from_double(d);
			ctl_num_format(&n, buf, sizeof(buf));
			ck_assert_msg(strtod(buf, NULL) == d, "%s does not read back", buf);
		}
	}
	/* A short buffer is cut, never overrun. */
	n = ctl_num_from_uint64(UINT64_MAX);
	ck_assert_str_eq(ctl_num_format(&n, buf, 5), "1844");
}
END_TEST

static struct ctl_expr expr_ok(const char *text)
{
	struct bw_error err = { 0 };
	struct ctl_expr e;
	int r = ctl_expr_parse(text, &e, &err);

	ck_assert_msg(r == 0, "\"%s\": %d %s", text, r, err.msg);
	return e;
}

static void assert_expr(const char *text, const char *key, enum ctl_op op, const char *num)
{
	struct ctl_expr e = expr_ok(text);

	ck_assert_str_eq(e.key, key);
	ck_assert_int_eq(e.op, op);
	ck_assert_str_eq(e.number_text, num);
	ctl_expr_free(&e);
}

START_TEST(test_expr_operators_and_spacing)
{
	assert_expr("x<1", "x", CTL_OP_LT, "1");
	assert_expr("x<=1", "x", CTL_OP_LE, "1");
	assert_expr("x>1", "x", CTL_OP_GT, "1");
	assert_expr("x>=1", "x", CTL_OP_GE, "1");
	assert_expr("x==1", "x", CTL_OP_EQ, "1");
	assert_expr("x!=1", "x", CTL_OP_NE, "1");
	assert_expr("x < 1", "x", CTL_OP_LT, "1");
	assert_expr("x <= 1", "x", CTL_OP_LE, "1");
	assert_expr("x > 1", "x", CTL_OP_GT, "1");
	assert_expr("x >= 1", "x", CTL_OP_GE, "1");
	assert_expr("x == 1", "x", CTL_OP_EQ, "1");
	assert_expr("x != 1", "x", CTL_OP_NE, "1");
	assert_expr("x >=1", "x", CTL_OP_GE, "1");
	assert_expr("x>= 1", "x", CTL_OP_GE, "1");
	assert_expr("  x\t>=\t1  ", "x", CTL_OP_GE, "1");
	assert_expr("scx_lavd_avg_lat_cri > 0", "scx_lavd_avg_lat_cri", CTL_OP_GT, "0");
	assert_expr("x>-5", "x", CTL_OP_GT, "-5");
	assert_expr("x == -0x10", "x", CTL_OP_EQ, "-0x10");
	assert_expr("x<1e3", "x", CTL_OP_LT, "1e3");
	assert_expr("x<=0.5", "x", CTL_OP_LE, "0.5");
	/* With spaces around OP, the key may hold operator characters. */
	assert_expr("a<b < 5", "a<b", CTL_OP_LT, "5");
	assert_expr("a!b != 5", "a!b", CTL_OP_NE, "5");
	{
		struct ctl_expr e = expr_ok("x >= 18446744073709551615");

		assert_int(e.number, false, UINT64_MAX);
		ctl_expr_free(&e);
		e = expr_ok("x>=-9223372036854775808");
		assert_int(e.number, true, 9223372036854775808ULL);
		ctl_expr_free(&e);
	}
	ctl_expr_free(NULL);
}
END_TEST

static void expr_bad(const char *text, const char *needle)
{
	struct bw_error err = { 0 };
	struct ctl_expr e;
	int r = ctl_expr_parse(text, &e, &err);

	ck_assert_msg(r < 0, "\"%s\" accepted", text);
	ck_assert_msg(e.key == NULL && e.number_text == NULL, "\"%s\": leftovers", text);
	ck_assert_msg(strstr(err.msg, needle), "\"%s\": message \"%s\" lacks \"%s\"", text, err.msg,
		      needle);
}

START_TEST(test_expr_errors)
{
	char *long_text;

	expr_bad("", "empty expression");
	expr_bad("   \t ", "empty expression");
	expr_bad("x", "no comparison operator");
	expr_bad("x 1", "no comparison operator");
	expr_bad("x = 1", "\"=\" is not an operator; did you mean \"==\"?");
	expr_bad("x=1", "did you mean \"==\"");
	expr_bad("x => 1", "did you mean \">=\"");
	expr_bad("x =< 1", "did you mean \"<=\"");
	expr_bad("x <> 1", "did you mean \"!=\"");
	expr_bad("x === 1", "did you mean \"==\"");
	expr_bad("x >> 1", "\">>\" is not an operator (one of < <= > >= == !=)");
	expr_bad("x ! 1", "\"!\" is not an operator");
	expr_bad("x <<= 1", "is not an operator");
	expr_bad("< 1", "the metric key is missing");
	expr_bad("<1", "the metric key is missing");
	expr_bad("x <", "the number is missing after \"<\"");
	expr_bad("x<=", "the number is missing after \"<=\"");
	expr_bad("x < 1 2", "unexpected text after the number");
	expr_bad("x < < 1", "more than one operator");
	expr_bad("x < y", "\"y\" is not a number");
	expr_bad("x < 1O", "\"1O\" is not a number");
	expr_bad("x < 99999999999999999999", "beyond the 64-bit integer range");
	expr_bad("x < 1e999", "beyond the range of a double");
	expr_bad("x < inf", "is not a number");
	expr_bad("a b < 1", "key \"a b\" contains whitespace");
	expr_bad("a\x01 < 1", "control or non-ASCII byte");
	expr_bad("\xc3\xa9t\xc3\xa9 < 1", "control or non-ASCII byte");
	/* The whole text is quoted in the message, with its control bytes escaped. */
	expr_bad("x\x1b[2J = 1", "\"x\\x1b[2J = 1\"");

	long_text = malloc(CTL_EXPR_TEXT_MAX + 8);
	ck_assert_ptr_nonnull(long_text);
	memset(long_text, 'k', CTL_EXPR_TEXT_MAX + 7);
	memcpy(long_text + CTL_EXPR_TEXT_MAX, ">1", 3);
	expr_bad(long_text, "longer than 4096 characters");
	/* Just under the cap is fine. */
	memcpy(long_text + CTL_EXPR_TEXT_MAX - 2, ">1", 3);
	{
		struct ctl_expr e = expr_ok(long_text);

		ck_assert_uint_eq(strlen(e.key), CTL_EXPR_TEXT_MAX - 2);
		ctl_expr_free(&e);
	}
	free(long_text);
}
END_TEST

static json_t *demo_metrics(void)
{
	json_t *m = json_pack("{s:I,s:f,s:s,s:I,s:I,s:n,s:s,s:f}",
			      "ticks", (json_int_t)1234,
			      "avg", 12.5,
			      "big", "18446744073709551615",
			      "min", (json_int_t)INT64_MIN,
			      "p53", (json_int_t)P53_PLUS_1,
			      "nothing",
			      "word", "many",
			      "tenth", 0.1);

	ck_assert_ptr_nonnull(m);
	return m;
}

static enum ctl_verdict verdict(const json_t *m, const char *text)
{
	struct ctl_expr e = expr_ok(text);
	enum ctl_verdict v = ctl_expr_eval(&e, m, NULL);

	ctl_expr_free(&e);
	return v;
}

START_TEST(test_eval)
{
	json_t *m = demo_metrics();
	struct ctl_expr e;
	struct ctl_num value;

	ck_assert_int_eq(verdict(m, "ticks > 0"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "ticks < 0"), CTL_VERDICT_FAILS);
	ck_assert_int_eq(verdict(m, "ticks == 0x4d2"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "ticks == 1.234e3"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "ticks != 1234"), CTL_VERDICT_FAILS);
	ck_assert_int_eq(verdict(m, "avg == 12.5"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "avg > 12"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "avg < 13"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "avg >= 12.5000001"), CTL_VERDICT_FAILS);
	ck_assert_int_eq(verdict(m, "tenth == 0.1"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "big == 18446744073709551615"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "big == 18446744073709551614"), CTL_VERDICT_FAILS);
	ck_assert_int_eq(verdict(m, "big > 9223372036854775807"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "big < 1.8446744073709552e19"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "min == -9223372036854775808"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "min < -9223372036854775807"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "min < 0"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "p53 == 9007199254740993"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "p53 == 9007199254740992"), CTL_VERDICT_FAILS);
	ck_assert_int_eq(verdict(m, "p53 > 9007199254740992.0"), CTL_VERDICT_HOLDS);
	ck_assert_int_eq(verdict(m, "absent_key > 0"), CTL_VERDICT_ABSENT);
	ck_assert_int_eq(verdict(m, "absent_key != 0"), CTL_VERDICT_ABSENT);
	ck_assert_int_eq(verdict(m, "nothing == 0"), CTL_VERDICT_NOT_NUMBER);
	ck_assert_int_eq(verdict(m, "word > 0"), CTL_VERDICT_NOT_NUMBER);
	/* Not an object at all: every key is absent. */
	ck_assert_int_eq(verdict(NULL, "ticks > 0"), CTL_VERDICT_ABSENT);

	e = expr_ok("big>=1");
	ck_assert_int_eq(ctl_expr_eval(&e, m, &value), CTL_VERDICT_HOLDS);
	assert_int(value, false, UINT64_MAX);
	ctl_expr_free(&e);
	json_decref(m);
}
END_TEST

START_TEST(test_garbage_expressions)
{
	char text[64];
	unsigned int i;

	/* Random bytes from the command line: an answer, never a crash. */
	for (i = 0; i < 20000; i++) {
		struct bw_error err;
		struct ctl_expr e;
		size_t len = i % (sizeof(text) - 1);
		int r;

		test_fill_random(text, len, i + 1);
		/* Bias towards the interesting characters. */
		if (i & 1) {
			static const char alphabet[] = "<>=! \t0123456789.eEx-+ab";
			size_t k;

			for (k = 0; k < len; k++)
				text[k] = alphabet[(unsigned char)text[k] % (sizeof(alphabet) - 1)];
		}
		text[len] = '\0';
		r = ctl_expr_parse(text, &e, &err);
		ck_assert(r == 0 || r == -EINVAL || r == -ERANGE);
		if (r == 0) {
			ck_assert_ptr_nonnull(e.key);
			ck_assert(strlen(e.key) > 0);
			ctl_expr_free(&e);
		} else {
			ck_assert(err.msg[0] != '\0');
		}
	}
}
END_TEST

START_TEST(test_reply_parse)
{
	static const char *const broken[] = {
		"", "this is not json", "[1,2,3]", "42", "\"ok\"", "{}", "{\"ok\":1}",
		"{\"ok\":\"true\"}", "{\"ok\":null}", "{\"ok\":true} trailing", "{\"ok\":true",
		"{\"ok\":true,\"n\":18446744073709551616}", "{\"ok\":true,\"x\":\"\\u0000\"}",
		"{\"ok\":true,\"x\":1e999}",
	};
	struct bw_error err;
	json_t *reply;
	const char *code, *message;
	unsigned int i;

	ck_assert_int_eq(ctl_reply_parse("{\"ok\":true}", 11, "d", &reply, &err), 0);
	ck_assert(ctl_reply_ok(reply));
	json_decref(reply);
	{
		static const char line[] = "{\"ok\":false,\"error\":\"not_ready\",\"message\":\"m\"}";

		ck_assert_int_eq(ctl_reply_parse(line, strlen(line), "d", &reply, &err), 0);
	}
	ck_assert(!ctl_reply_ok(reply));
	ctl_reply_error(reply, &code, &message);
	ck_assert_str_eq(code, "not_ready");
	ck_assert_str_eq(message, "m");
	json_decref(reply);
	ck_assert_int_eq(ctl_reply_parse("{\"ok\":false}", 12, "d", &reply, &err), 0);
	ctl_reply_error(reply, &code, &message);
	ck_assert_str_eq(code, "error");
	ck_assert_str_eq(message, "(no message)");
	json_decref(reply);

	for (i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		reply = (json_t *)1;
		ck_assert_msg(ctl_reply_parse(broken[i], strlen(broken[i]), "d", &reply, &err) ==
			      -EBADMSG, "\"%s\" accepted", broken[i]);
		ck_assert_ptr_null(reply);
		ck_assert_msg_has(&err, "broken reply from d");
	}
	/* A NUL inside the line is not the end of it. */
	ck_assert_int_eq(ctl_reply_parse("{\"ok\":true}\0junk", 16, "d", &reply, &err), -EBADMSG);
	/* Control bytes of a garbage reply are escaped in the message. */
	ck_assert_int_eq(ctl_reply_parse("\x1b[2Jx", 5, "d", &reply, &err), -EBADMSG);
	ck_assert_msg_has(&err, "\\x1b[2Jx");
	ck_assert_ptr_null(strchr(err.msg, '\x1b'));
}
END_TEST

/* A ctl_conn reading the other end of a socketpair that the test writes. */
static void conn_pair(struct ctl_conn *c, int *peer)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	ctl_conn_init(c);
	c->fd = sv[0];
	*peer = sv[1];
}

static void put(int fd, const char *s, size_t n)
{
	ck_assert_int_eq(write(fd, s, n), (ssize_t)n);
}

START_TEST(test_conn_lines)
{
	struct bw_error err;
	struct ctl_conn c;
	char *line;
	size_t len;
	int peer;
	int64_t t0;

	conn_pair(&c, &peer);
	put(peer, "{\"ok\":true}\n{\"ok\":false}\npartial", 32);
	ck_assert_int_eq(ctl_conn_read_line(&c, ctl_deadline_ms(1), &line, &len, &err), 0);
	ck_assert_str_eq(line, "{\"ok\":true}");
	ck_assert_uint_eq(len, 11);
	ck_assert_int_eq(ctl_conn_read_line(&c, ctl_deadline_ms(1), &line, &len, &err), 0);
	ck_assert_str_eq(line, "{\"ok\":false}");
	/* Half a line and silence: the deadline ends the wait. */
	t0 = ctl_now_ms();
	ck_assert_int_eq(ctl_conn_read_line(&c, ctl_deadline_ms(0.2), &line, &len, &err),
			 -ETIMEDOUT);
	ck_assert_msg_has(&err, "in time");
	ck_assert(ctl_now_ms() - t0 >= 150 && ctl_now_ms() - t0 < 2000);
	/* The rest arrives: the line is whole. */
	put(peer, " line\n", 6);
	ck_assert_int_eq(ctl_conn_read_line(&c, ctl_deadline_ms(1), &line, &len, &err), 0);
	ck_assert_str_eq(line, "partial line");
	/* Half a line, then the peer hangs up. */
	put(peer, "{\"ok\":tr", 8);
	close(peer);
	ck_assert_int_eq(ctl_conn_read_line(&c, ctl_deadline_ms(1), &line, &len, &err),
			 -ECONNRESET);
	ck_assert_msg_has(&err, "in the middle of a reply");
	ctl_conn_close(&c);
	ck_assert_int_eq(c.fd, -1);

	/* A clean hang-up between lines. */
	conn_pair(&c, &peer);
	close(peer);
	ck_assert_int_eq(ctl_conn_read_line(&c, ctl_deadline_ms(1), &line, &len, &err),
			 -ECONNRESET);
	ck_assert_msg_has(&err, "closed the connection");
	ck_assert_int_eq(ctl_conn_send_line(&c, "x", 1, ctl_deadline_ms(1), &err), -ECONNRESET);
	ctl_conn_close(&c);
}
END_TEST

START_TEST(test_conn_line_cap)
{
	struct bw_error err;
	struct ctl_conn c;
	char *line, *big;
	size_t len, cap = 300000;
	pid_t writer;
	int peer;

	/* A line of exactly max_line bytes passes; one byte more is refused. */
	conn_pair(&c, &peer);
	c.max_line = cap;
	big = malloc(cap + 2);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', cap);
	big[cap] = '\n';
	writer = fork();
	ck_assert_int_ge(writer, 0);
	if (writer == 0) {
		/* The writer blocks on a full socket buffer: it needs its own process. */
		ssize_t off = 0;

		close(c.fd);
		while (off < (ssize_t)cap + 1) {
			ssize_t n = write(peer, big + off, cap + 1 - (size_t)off);

			if (n <= 0)
				_exit(1);
			off += n;
		}
		memset(big, 'b', cap + 1);
		off = 0;
		while (off < (ssize_t)cap + 1) {
			ssize_t n = write(peer, big + off, cap + 1 - (size_t)off);

			if (n <= 0)
				_exit(0);
			off += n;
		}
		_exit(0);
	}
	close(peer);
	ck_assert_int_eq(ctl_conn_read_line(&c, ctl_deadline_ms(5), &line, &len, &err), 0);
	ck_assert_uint_eq(len, cap);
	ck_assert(line[0] == 'a' && line[cap - 1] == 'a');
	ck_assert_int_eq(ctl_conn_read_line(&c, ctl_deadline_ms(5), &line, &len, &err), -EMSGSIZE);
	ck_assert_msg_has(&err, "longer than 300000 bytes");
	ck_assert_uint_le(c.cap, cap + 1);
	ctl_conn_close(&c);
	waitpid(writer, NULL, 0);
	free(big);
}
END_TEST

START_TEST(test_conn_connect_errors)
{
	struct bw_error err;
	struct ctl_conn c;
	char path[200];

	ctl_conn_init(&c);
	snprintf(path, sizeof(path), "/tmp/bpfwatch-no-such-%d.sock", (int)getpid());
	ck_assert_int_eq(ctl_conn_open(&c, path, ctl_deadline_ms(1), &err), -ENOENT);
	ck_assert_msg_has(&err, "cannot connect to /tmp/bpfwatch-no-such-");
	ctl_conn_close(&c);
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	ck_assert_int_eq(ctl_conn_open(&c, path, ctl_deadline_ms(1), &err), -ENAMETOOLONG);
	ctl_conn_close(&c);
}
END_TEST

START_TEST(test_printable)
{
	char *p;

	p = ctl_printable("plain text: ok");
	ck_assert_str_eq(p, "plain text: ok");
	free(p);
	p = ctl_printable("\x1b[2Jbell\a\x7f");
	ck_assert_str_eq(p, "\\x1b[2Jbell\\x07\\x7f");
	free(p);
	/* U+009B (CSI) as UTF-8 is escaped, U+00E9 is kept. */
	p = ctl_printable("a\xc2\x9b" "b\xc3\xa9");
	ck_assert_str_eq(p, "a\\x9bb\xc3\xa9");
	free(p);
}
END_TEST

static Suite *ctl_expr_suite(void)
{
	Suite *s = suite_create("ctl_expr");
	TCase *tc = tcase_create("numbers");

	tcase_add_test(tc, test_num_parse_integers);
	tcase_add_test(tc, test_num_parse_reals);
	tcase_add_test(tc, test_num_parse_errors);
	tcase_add_test(tc, test_num_from_json);
	tcase_add_test(tc, test_cmp_integers_exact);
	tcase_add_test(tc, test_cmp_int_vs_real);
	tcase_add_test(tc, test_cmp_reals);
	tcase_add_test(tc, test_ops);
	tcase_add_test(tc, test_num_format);
	suite_add_tcase(s, tc);

	tc = tcase_create("expressions");
	tcase_add_test(tc, test_expr_operators_and_spacing);
	tcase_add_test(tc, test_expr_errors);
	tcase_add_test(tc, test_eval);
	tcase_add_test(tc, test_garbage_expressions);
	suite_add_tcase(s, tc);

	tc = tcase_create("replies");
	tcase_add_test(tc, test_reply_parse);
	tcase_add_test(tc, test_conn_lines);
	tcase_add_test(tc, test_conn_line_cap);
	tcase_add_test(tc, test_conn_connect_errors);
	tcase_add_test(tc, test_printable);
	tcase_set_timeout(tc, 20);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(ctl_expr_suite)
