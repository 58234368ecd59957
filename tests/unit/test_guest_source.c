/* SPDX-License-Identifier: MIT */
/*
 * QEMU's pid from a pid file (MemoryPIDFile=): one number, and only from a
 * file nobody but root can change, since the pid picks the process read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest_source.h"
#include "util_mem.h"

static char dir[] = "/tmp/bw-test-pidfile-XXXXXX";

static const char *pid_file(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

START_TEST(test_pid_file)
{
	struct bw_error err;
	pid_t pid = 0;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	if (geteuid() != 0) {
		/* Only root-owned pid files are accepted: a user cannot make one. */
		ck_assert_int_eq(guest_source_read_pid_file(pid_file("a.pid", "42\n", 0644), &pid,
							    &err), -EPERM);
		return;
	}
	ck_assert_int_eq(guest_source_read_pid_file(pid_file("a.pid", "4242\n", 0644), &pid,
						    &err), 0);
	ck_assert_int_eq(pid, 4242);
	ck_assert_int_eq(guest_source_read_pid_file(pid_file("b.pid", "17", 0444), &pid, &err), 0);
	ck_assert_int_eq(pid, 17);
	/* Writable by others than root: refused, whatever it says. */
	ck_assert_int_eq(guest_source_read_pid_file(pid_file("c.pid", "5\n", 0666), &pid, &err),
			 -EPERM);
	ck_assert_ptr_nonnull(strstr(err.msg, "refused"));
	ck_assert_int_eq(guest_source_read_pid_file(pid_file("d.pid", "5\n", 0620), &pid, &err),
			 -EPERM);
	/* Not one process id. */
	static const char *const bad[] = { "", "\n", "0\n", "-5\n", "12 34\n", "99999999999\n",
					   "7x\n", "5\n6\n" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(guest_source_read_pid_file(pid_file("e.pid", bad[i], 0644), &pid,
							 &err) == -EINVAL, "\"%s\"", bad[i]);
	/* A symlink is not followed; a missing file is named. */
	{
		char link[160], target[160];

		snprintf(target, sizeof(target), "%s/a.pid", dir);
		snprintf(link, sizeof(link), "%s/link.pid", dir);
		ck_assert_int_eq(symlink(target, link), 0);
		ck_assert_int_eq(guest_source_read_pid_file(link, &pid, &err), -ELOOP);
		unlink(link);
	}
	ck_assert_int_eq(guest_source_read_pid_file("/nonexistent/q.pid", &pid, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/q.pid"));
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
}
END_TEST

static Suite *guest_source_suite(void)
{
	Suite *s = suite_create("guest_source");
	TCase *tc = tcase_create("pid_file");

	tcase_add_test(tc, test_pid_file);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(guest_source_suite)
