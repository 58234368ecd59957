/* SPDX-License-Identifier: MIT */
/*
 * The daemon's logger (daemon/log.c): one line per message, "bpfwatchd: "
 * on a plain stderr, "<N>" and no program name on the journal stream,
 * and libbpf's warnings routed through it with a rate limit.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log.h"

/* Run @fn with stderr sent to a temporary file; returns what it wrote (malloc'd). */
static char *capture(void (*fn)(void))
{
	char path[] = "/tmp/bw_log_XXXXXX", *text;
	int fd = mkstemp(path), saved = dup(2);
	struct stat st;
	FILE *f;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fstat(fd, &st);
	text = calloc(1, (size_t)st.st_size + 1);
	f = fdopen(fd, "r");
	rewind(f);
	ck_assert_uint_eq(fread(text, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	return text;
}

static unsigned int count(const char *text, const char *needle)
{
	unsigned int n = 0;

	for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void plain_lines(void)
{
	unsetenv("JOURNAL_STREAM");
	log_init();
	log_msg(LOG_ERR, "first\nsecond");
	log_msg(LOG_INFO, "trailing newline\n");
}

static void journal_lines(void)
{
	struct stat st;
	char env[64];

	fstat(2, &st);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	log_init();
	log_msg(LOG_ERR, "a config error");
	log_msg(LOG_WARNING, "a warning");
	unsetenv("JOURNAL_STREAM");
}

/* Garbage that libbpf refuses with a warning each time. */
static void libbpf_flood(void)
{
	static const char garbage[64] = "not an ELF file";

	unsetenv("JOURNAL_STREAM");
	log_init();
	for (int i = 0; i < 3 * LOG_LIBBPF_BURST; i++) {
		struct bpf_object *obj = bpf_object__open_mem(garbage, sizeof(garbage), NULL);

		if (!libbpf_get_error(obj))
			bpf_object__close(obj);
	}
}

START_TEST(test_plain)
{
	char *text = capture(plain_lines);

	ck_assert_str_eq(text, "bpfwatchd: first second\nbpfwatchd: trailing newline\n");
	free(text);
}
END_TEST

START_TEST(test_journal)
{
	char *text = capture(journal_lines);

	ck_assert_str_eq(text, "<3>a config error\n<4>a warning\n");
	free(text);
}
END_TEST

START_TEST(test_libbpf)
{
	char *text = capture(libbpf_flood);
	unsigned int n = count(text, "bpfwatchd: libbpf: ");

	ck_assert_msg(n >= 1 && n <= LOG_LIBBPF_BURST, "%u libbpf lines:\n%s", n, text);
	ck_assert_uint_eq(count(text, "\n"), n);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_journal);
	tcase_add_test(tc, test_libbpf);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
