/* SPDX-License-Identifier: MIT */
/*
 * Atomic replacement of the state and textfile files: the temporary is
 * never a name someone can predict and plant, the mode follows the umask
 * unless an exact one is asked for, and a failure leaves the old file and
 * no temporary behind.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "util_mem.h"

static char dir[64];

static void make_dir(void)
{
	strcpy(dir, "/tmp/bw_atomic_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

static unsigned int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned int n = 0;

	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void read_file(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* A file planted at the name the old writer used (PATH.tmp.PID) is never written through. */
START_TEST(test_planted_temporary_untouched)
{
	char path[128], planted[160], victim[160], buf[64];
	struct bw_error err = { 0 };

	make_dir();
	snprintf(path, sizeof(path), "%s/vm1.json", dir);
	snprintf(planted, sizeof(planted), "%s.tmp.%d", path, (int)getpid());
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	/* Someone else's file, and a symlink to it where the old temporary went. */
	{
		FILE *f = fopen(victim, "w");

		fputs("not yours", f);
		fclose(f);
	}
	ck_assert_int_eq(symlink(victim, planted), 0);
	ck_assert_msg(atomic_file_write(path, "{\"ok\":true}", 11, 0644, false, &err) == 0, "%s",
		      err.msg);
	read_file(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, "{\"ok\":true}");
	read_file(victim, buf, sizeof(buf));
	ck_assert_str_eq(buf, "not yours");
	ck_assert_int_eq(entries(), 3);	/* the target, the victim, the planted link: no temporary */
	remove_dir();
}
END_TEST

/* Without an exact mode the umask decides (UMask= of the unit); with one, that mode exactly. */
START_TEST(test_mode_from_umask_or_exact)
{
	char path[128];
	struct bw_error err = { 0 };
	struct stat st;
	mode_t old = umask(077);

	make_dir();
	snprintf(path, sizeof(path), "%s/vm1.prom", dir);
	ck_assert_int_eq(atomic_file_write(path, "x", 1, 0644, false, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	umask(022);
	ck_assert_int_eq(atomic_file_write(path, "y", 1, 0644, false, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0644);
	umask(077);
	ck_assert_int_eq(atomic_file_write(path, "z", 1, 0640, true, &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
	umask(old);
	ck_assert_int_eq(atomic_file_write(path, "w", 1, 01644, true, &err), -EINVAL);
	ck_assert_int_eq(entries(), 1);
	remove_dir();
}
END_TEST

/* A directory that is not there: an error naming the temporary, nothing left behind. */
START_TEST(test_failure_leaves_nothing)
{
	struct bw_error err = { 0 };

	make_dir();
	ck_assert_int_lt(atomic_file_write("/nonexistent-dir-bw/x.json", "x", 1, 0644, false, &err),
			 0);
	ck_assert_str_eq(err.msg, "cannot create a temporary file beside /nonexistent-dir-bw/x.json: "
			 "No such file or directory");
	ck_assert_int_eq(entries(), 0);
	remove_dir();
}
END_TEST

static Suite *atomic_file_suite(void)
{
	Suite *s = suite_create("atomic_file");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_planted_temporary_untouched);
	tcase_add_test(tc, test_mode_from_umask_or_exact);
	tcase_add_test(tc, test_failure_leaves_nothing);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(atomic_file_suite)
