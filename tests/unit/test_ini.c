/* SPDX-License-Identifier: MIT */
/* The shared INI tokenizer: lines, trimming, caps, byte policy, callbacks, file reading. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ini.h"
#include "util_mem.h"

/* Every callback becomes one line of text: "S<line>:<name>" or "K<line>:<key>=<value>". */
struct rec {
	char log[8192];
	size_t len;
	unsigned int calls;
	unsigned int fail_at;	/* make the n-th callback fail (1-based); 0: never */
};

static int rec_add(struct rec *r, struct bw_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rec_add(struct rec *r, struct bw_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r->len += (size_t)vsnprintf(r->log + r->len, sizeof(r->log) - r->len, fmt, ap);
	va_end(ap);
	ck_assert_uint_lt(r->len, sizeof(r->log));
	if (++r->calls == r->fail_at)
		return bw_error_set(err, -ERANGE, "callback %u refused", r->calls);
	return 0;
}

static int on_section(void *userdata, const char *name, size_t len, unsigned int line,
		      struct bw_error *err)
{
	return rec_add(userdata, err, "S%u:%.*s\n", line, (int)len, name);
}

static int on_key(void *userdata, const char *key, size_t klen, const char *val, size_t vlen,
		  unsigned int line, struct bw_error *err)
{
	ck_assert_uint_gt(klen, 0);
	return rec_add(userdata, err, "K%u:%.*s=%.*s\n", line, (int)klen, key, (int)vlen, val);
}

static int run(struct rec *r, unsigned int flags, const char *text, size_t len,
	       struct bw_error *err)
{
	const struct ini_parser p = {
		.flags = flags, .section = on_section, .key = on_key, .userdata = r,
	};

	memset(r->log, 0, sizeof(r->log));
	r->len = 0;
	r->calls = 0;
	bw_error_clear(err);
	return ini_parse(&p, "f.conf", text, len, err);
}

START_TEST(test_tokens)
{
	static const char text[] =
		"# comment\n"
		"; comment\n"
		"   # indented comment\n"
		"\n"
		"Top=before any section\n"
		"[Guest]\n"
		"Memory=/dev/shm/vm\n"
		"  Layout  =  q35 , max-ram-below-4g=2G  \r\n"
		"\tEmpty=\n"
		"Eq=a=b==c\n"
		"Hash=x # not a comment\n"
		"[ Spaced ]\n"
		"[]\n"
		"[Socket]\r\n"
		"Path = /run/x.sock";	/* no final newline */
	struct rec r = { 0 };
	struct bw_error err;

	ck_assert_int_eq(run(&r, 0, text, strlen(text), &err), 0);
	ck_assert_str_eq(r.log,
			 "K5:Top=before any section\n"
			 "S6:Guest\n"
			 "K7:Memory=/dev/shm/vm\n"
			 "K8:Layout=q35 , max-ram-below-4g=2G\n"
			 "K9:Empty=\n"
			 "K10:Eq=a=b==c\n"
			 "K11:Hash=x # not a comment\n"
			 "S12: Spaced \n"
			 "S13:\n"
			 "S14:Socket\n"
			 "K15:Path=/run/x.sock\n");
	/* Strict mode accepts the same text: tabs, CRLF and plain ASCII. */
	ck_assert_int_eq(run(&r, INI_STRICT_BYTES, text, strlen(text), &err), 0);
	ck_assert_uint_eq(r.calls, 11);

	/* Empty input and comment-only input: no callbacks. */
	ck_assert_int_eq(run(&r, 0, "", 0, &err), 0);
	ck_assert_uint_eq(r.calls, 0);
	ck_assert_int_eq(run(&r, 0, "\n\n# x\n;y\n\r\n", 11, &err), 0);
	ck_assert_uint_eq(r.calls, 0);

	/* NULL callbacks: syntax is still checked. */
	{
		const struct ini_parser p = { 0 };

		ck_assert_int_eq(ini_parse(&p, "n", "[A]\nk=v\n", 8, &err), 0);
		ck_assert_int_eq(ini_parse(&p, "n", "[A]\nkv\n", 7, &err), -EINVAL);
		ck_assert_str_eq(err.msg, "n:2: \"kv\" is not Key=Value, a [Section] header or a "
				 "comment");
	}
	/* UTF-8 in a value is fine in both modes. */
	ck_assert_int_eq(run(&r, INI_STRICT_BYTES, "[A]\nk=gr\xc3\xb6\xc3\x9f" "e \xe2\x82\xac\n",
			     18, &err), 0);
	ck_assert_str_eq(r.log, "S1:A\nK2:k=gr\xc3\xb6\xc3\x9f" "e \xe2\x82\xac\n");
}
END_TEST

START_TEST(test_errors)
{
	static const struct {
		unsigned int flags;
		const char *text;
		size_t len;	/* 0: strlen */
		const char *msg;
	} cases[] = {
		{ 0, "[A]\nnot a pair\n", 0,
		  "f.conf:2: \"not a pair\" is not Key=Value, a [Section] header or a comment" },
		{ 0, "[A\n", 0, "f.conf:1: malformed section header \"[A\" (no closing ']')" },
		{ 0, "x\n[\n", 0, "f.conf:1: \"x\" is not Key=Value" },
		{ 0, "\n\n[\n", 0, "f.conf:3: malformed section header \"[\" (no closing ']')" },
		{ 0, "[A]\n = v\n", 0, "f.conf:2: empty key before '='" },
		{ 0, "[A]\n=\n", 0, "f.conf:2: empty key before '='" },
		{ 0, "[A]\nk=a\0b\n", 10, "f.conf:2: contains a NUL byte" },
		{ 0, "# \0\n", 4, "f.conf:1: contains a NUL byte" },
		{ INI_STRICT_BYTES, "[A]\nk=a\x01" "b\n", 0, "f.conf:2: control byte 0x01 at column 4" },
		{ INI_STRICT_BYTES, "# bell \x07\n", 0, "f.conf:1: control byte 0x07 at column 8" },
		{ INI_STRICT_BYTES, "[A]\nk=\x7f\n", 0, "f.conf:2: control byte 0x7f at column 3" },
		/* A CR inside the line (not ending it) is a control byte. */
		{ INI_STRICT_BYTES, "[A]\nk=a\rb\n", 0, "f.conf:2: control byte 0x0d at column 4" },
		{ INI_STRICT_BYTES, "[A]\nk=\xff\n", 0, "f.conf:2: invalid UTF-8 at column 3" },
		{ INI_STRICT_BYTES, "[A]\nk=\xc3\n", 0, "f.conf:2: invalid UTF-8 at column 3" },
		/* Overlong '/', a UTF-16 surrogate, beyond U+10FFFF, a lone continuation byte. */
		{ INI_STRICT_BYTES, "k=\xc0\xaf\n", 0, "f.conf:1: invalid UTF-8 at column 3" },
		{ INI_STRICT_BYTES, "k=\xe0\x80\xaf\n", 0, "f.conf:1: invalid UTF-8 at column 3" },
		{ INI_STRICT_BYTES, "k=\xed\xa0\x80\n", 0, "f.conf:1: invalid UTF-8 at column 3" },
		{ INI_STRICT_BYTES, "k=\xf4\x90\x80\x80\n", 0, "f.conf:1: invalid UTF-8 at column 3" },
		{ INI_STRICT_BYTES, "k=ok\x80\n", 0, "f.conf:1: invalid UTF-8 at column 5" },
	};
	struct rec r = { 0 };
	struct bw_error err;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
		int ret = run(&r, cases[i].flags, cases[i].text, len, &err);

		ck_assert_msg(ret == -EINVAL, "case %u: %d", i, ret);
		ck_assert_int_eq(err.code, -EINVAL);
		ck_assert_msg(strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) == 0,
			      "case %u: got \"%s\", want \"%s\"", i, err.msg, cases[i].msg);
	}
	/* Without strict mode control and high bytes pass to the callbacks. */
	ck_assert_int_eq(run(&r, 0, "k\x01=\xff\x7f\n", 6, &err), 0);
	ck_assert_str_eq(r.log, "K1:k\x01=\xff\x7f\n");
	/* The error is the first one, and no callback runs after it. */
	ck_assert_int_eq(run(&r, 0, "[A]\nk=v\nbad\n[B]\nx=y\n", 20, &err), -EINVAL);
	ck_assert_str_eq(r.log, "S1:A\nK2:k=v\n");
}
END_TEST

START_TEST(test_callback_errors)
{
	struct rec r = { 0 };
	struct bw_error err;
	static const char text[] = "[A]\nk=1\n[B]\nk=2\n";

	r.fail_at = 2;
	ck_assert_int_eq(run(&r, 0, text, strlen(text), &err), -ERANGE);
	ck_assert_str_eq(err.msg, "callback 2 refused");
	ck_assert_uint_eq(r.calls, 2);
	r.fail_at = 3;
	ck_assert_int_eq(run(&r, 0, text, strlen(text), &err), -ERANGE);
	ck_assert_uint_eq(r.calls, 3);
	r.fail_at = 0;
	ck_assert_int_eq(run(&r, 0, text, strlen(text), &err), 0);
	/* A NULL error sink still gets the code. */
	{
		const struct ini_parser p = { .key = on_key, .userdata = &r };

		ck_assert_int_eq(ini_parse(&p, "f", "[x\n", 3, NULL), -EINVAL);
	}
}
END_TEST

START_TEST(test_caps)
{
	struct rec r = { 0 };
	struct bw_error err;
	char *text = malloc(INI_MAX_BYTES + 2);
	size_t i;

	/* Exactly INI_MAX_LINE bytes is a line; one more is not. */
	memset(text, 'x', INI_MAX_LINE);
	text[0] = 'k';
	text[1] = '=';
	ck_assert_int_eq(run(&r, INI_STRICT_BYTES, text, INI_MAX_LINE, &err), 0);
	ck_assert_uint_eq(r.calls, 1);
	text[INI_MAX_LINE] = 'x';
	ck_assert_int_eq(run(&r, 0, text, INI_MAX_LINE + 1, &err), -EINVAL);
	ck_assert_str_eq(err.msg, "f.conf:1: line longer than 4096 bytes");
	/* Blanks count: the cap is on the raw line. */
	memset(text, ' ', INI_MAX_LINE + 1);
	text[INI_MAX_LINE + 1] = '\n';
	ck_assert_int_eq(run(&r, 0, text, INI_MAX_LINE + 2, &err), -EINVAL);

	/* A whole text of INI_MAX_BYTES parses; one byte more is refused before any callback. */
	for (i = 0; i < INI_MAX_BYTES; i++)
		text[i] = (i % 64 == 63) ? '\n' : '#';
	ck_assert_int_eq(run(&r, 0, text, INI_MAX_BYTES, &err), 0);
	text[0] = '[';
	text[1] = 'A';
	text[2] = ']';
	text[3] = '\n';
	ck_assert_int_eq(run(&r, 0, text, INI_MAX_BYTES + 1, &err), -EFBIG);
	ck_assert_str_eq(err.msg, "f.conf: 1048577 bytes, larger than the 1048576-byte cap");
	ck_assert_uint_eq(r.calls, 0);
	free(text);
}
END_TEST

START_TEST(test_quote)
{
	char q[INI_QUOTE_BUF], big[200];

	ck_assert_str_eq(ini_quote("plain", 5, q, sizeof(q)), "plain");
	ck_assert_str_eq(ini_quote("a\"b\\c\n\xff", 7, q, sizeof(q)), "a\\x22b\\x5cc\\x0a\\xff");
	memset(big, 'y', sizeof(big));
	ini_quote(big, sizeof(big), q, sizeof(q));
	ck_assert_uint_eq(strlen(q), INI_QUOTE_MAX + 3);
	ck_assert_str_eq(q + INI_QUOTE_MAX, "...");
	/* All escaped: still fits the buffer. */
	memset(big, 0x01, sizeof(big));
	ini_quote(big, sizeof(big), q, sizeof(q));
	ck_assert_uint_lt(strlen(q), sizeof(q));
	/* A tiny buffer is never overrun. */
	ck_assert_str_eq(ini_quote("abcdef", 6, q, 7), "ab");
	ck_assert(ini_word_eq("Guest", 5, "Guest"));
	ck_assert(!ini_word_eq("Guest", 4, "Guest"));
	ck_assert(!ini_word_eq("guest", 5, "Guest"));
}
END_TEST

/* Random bytes, printable lines, mixes of real lines: an error or success, in bounded time. */
START_TEST(test_garbage)
{
	static const char *const pieces[] = {
		"[Guest]\n", "[Gu", "Memory=/x\n", "=\n", "k=v\n", "# c\n", "\n", "\r\n", "\t",
		"\xff\xfe", "\xc3\xa9", "[]\n", "a b\n", "\x01", "]\n", "=[\n",
	};
	static char buf[1 << 16];
	struct rec r = { 0 };
	struct bw_error err;
	unsigned int seed, ok = 0, bad = 0;

	for (seed = 1; seed <= 900; seed++) {
		size_t len = (seed * 7919) % sizeof(buf), i, o = 0;
		unsigned char pick[512];
		int ret;

		test_fill_random(buf, len, seed);
		if (seed % 3 == 1) {
			/* Raw bytes carry NULs in any stretch longer than a few hundred bytes. */
			ret = run(&r, seed & 4 ? INI_STRICT_BYTES : 0, buf, len, &err);
			if (len > 4096)
				ck_assert_int_lt(ret, 0);
		} else if (seed % 3 == 2) {
			for (i = 0; i < len; i++)
				buf[i] = (unsigned char)buf[i] % 13 == 0 ? '\n'
					: (char)(0x20 + (unsigned char)buf[i] % 0x5f);
			ret = run(&r, seed & 4 ? INI_STRICT_BYTES : 0, buf, len, &err);
		} else {
			test_fill_random(pick, sizeof(pick), seed * 3);
			for (i = 0; i < sizeof(pick) && o + 32 < sizeof(buf); i++) {
				const char *p = pieces[pick[i] % (sizeof(pieces) / sizeof(pieces[0]))];

				memcpy(buf + o, p, strlen(p));
				o += strlen(p);
			}
			len = o;
			ret = run(&r, seed & 4 ? INI_STRICT_BYTES : 0, buf, len, &err);
		}
		if (ret < 0) {
			bad++;
			ck_assert_int_eq(ret, -EINVAL);
			ck_assert_msg(strncmp(err.msg, "f.conf:", 7) == 0, "%s", err.msg);
			ck_assert_uint_lt(strlen(err.msg), sizeof(err.msg));
		} else {
			ok++;
		}
	}
	ck_assert_uint_gt(bad, 300);
	(void)ok;
}
END_TEST

START_TEST(test_read_file)
{
	char dir[] = "/tmp/bw_ini_XXXXXX", path[128], want[256], *text, *big;
	struct bw_error err;
	size_t len;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.conf", dir);
	f = fopen(path, "w");
	fputs("[A]\nk=v\n", f);
	fclose(f);
	ck_assert_int_eq(ini_read_file(path, "config file", &text, &len, &err), 0);
	ck_assert_uint_eq(len, 8);
	ck_assert_str_eq(text, "[A]\nk=v\n");
	free(text);

	/* Too big: the message names the kind of file. */
	big = calloc(1, INI_MAX_BYTES + 1);
	f = fopen(path, "w");
	ck_assert_uint_eq(fwrite(big, 1, INI_MAX_BYTES + 1, f), INI_MAX_BYTES + 1);
	fclose(f);
	free(big);
	text = (char *)1;
	ck_assert_int_eq(ini_read_file(path, "config file", &text, &len, &err), -EFBIG);
	ck_assert_ptr_null(text);
	snprintf(want, sizeof(want), "%s: 1048577 bytes, larger than the 1048576-byte cap on a "
		 "config file", path);
	ck_assert_str_eq(err.msg, want);
	unlink(path);

	/* Missing, a directory, a FIFO (refused at once, never read). */
	ck_assert_int_eq(ini_read_file(path, "x", &text, &len, &err), -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(ini_read_file(dir, "x", &text, &len, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(ini_read_file(path, "x", &text, &len, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
	unlink(path);

	/* /dev/null reads as empty (a mask). */
	ck_assert_int_eq(ini_read_file("/dev/null", "x", &text, &len, &err), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(text, "");
	free(text);
	/* Another character device is not a config file. */
	ck_assert_int_eq(ini_read_file("/dev/zero", "x", &text, &len, &err), -EINVAL);
	rmdir(dir);
}
END_TEST

static Suite *ini_suite(void)
{
	Suite *s = suite_create("ini");
	TCase *tc = tcase_create("ini");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_tokens);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_callback_errors);
	tcase_add_test(tc, test_caps);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_read_file);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(ini_suite)
