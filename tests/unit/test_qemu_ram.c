/* SPDX-License-Identifier: MIT */
/*
 * Finding a QEMU process's RAM: /proc/PID/maps lines (real ones from QEMU
 * 7.2, and garbage), which private mappings can be guest RAM, and the
 * whole search on a process of the test's own with private memory only.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qemu_ram.h"
#include "util_mem.h"

#define MIB (1ULL << 20)

/* A QEMU 7.2 TCG guest with 1 GiB of private RAM, trimmed. */
static const char qemu_maps[] =
	"5654e32c2000-5654e40dd000 rw-p 00000000 00:00 0                          [heap]\n"
	"7f24f4021000-7f24f8000000 ---p 00000000 00:00 0 \n"
	"7f24fbe00000-7f253be00000 rw-p 00000000 00:00 0 \n"
	"7f2542fff000-7f25437ff000 rw-p 00000000 00:00 0 \n"
	"7f2544000000-7f2583fff000 rwxp 00000000 00:00 0 \n"
	"7f2588400000-7f258c400000 rw-p 00000000 00:00 0 \n"
	"7f258d000000-7f258d100000 rw-s 00000000 00:01 1172                       /memfd:x (deleted)\n"
	"7f2590000000-7f2590021000 r--p 00000000 fe:01 262331                     /usr/bin/qemu-system-x86_64\n"
	"7ffd1c1e6000-7ffd1c207000 rw-p 00000000 00:00 0                          [stack]\n";

START_TEST(test_parse_line)
{
	struct bw_proc_mapping m;
	const char *l = "7f258d000000-7f258d100000 rw-s 00001000 fe:01 1172   /memfd:m0 (deleted)";

	ck_assert_int_eq(bw_proc_maps_parse_line(l, strlen(l), &m), 0);
	ck_assert_uint_eq(m.start, 0x7f258d000000ULL);
	ck_assert_uint_eq(m.end, 0x7f258d100000ULL);
	ck_assert_str_eq(m.perms, "rw-s");
	ck_assert_uint_eq(m.offset, 0x1000);
	ck_assert_uint_eq(m.major, 0xfe);
	ck_assert_uint_eq(m.minor, 1);
	ck_assert_uint_eq(m.inode, 1172);
	ck_assert_uint_eq(m.path_len, strlen("/memfd:m0 (deleted)"));
	ck_assert_int_eq(memcmp(m.path, "/memfd:m0 (deleted)", m.path_len), 0);

	l = "7f24fbe00000-7f253be00000 rw-p 00000000 00:00 0";
	ck_assert_int_eq(bw_proc_maps_parse_line(l, strlen(l), &m), 0);
	ck_assert_uint_eq(m.path_len, 0);
}
END_TEST

START_TEST(test_parse_garbage)
{
	static const char *const bad[] = {
		"", "garbage", "7f00-", "7f00-7e00 rw-p 00000000 00:00 0",	/* end before start */
		"7f00-7f10 rw-q 00000000 00:00 0", "7f00-7f10 rw 00000000 00:00 0",
		"7f00-7f10 rw-p zz 00:00 0", "7f00-7f10 rw-p 0 00 0", "7f00-7f10 rw-p 0 00:00",
		"7f00-7f10 rw-p 0 00:00 x", "11112222333344445-7f10 rw-p 0 00:00 0",
		"7f00-7f10 rw-p 0 1000:00 0", "7f00-7f10 rw-p 0 00:00 123456789012345678901",
		"7f00 7f10 rw-p 0 00:00 0",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct bw_proc_mapping m;

		ck_assert_msg(bw_proc_maps_parse_line(bad[i], strlen(bad[i]), &m) == -EINVAL,
			      "\"%s\" parsed", bad[i]);
	}
}
END_TEST

START_TEST(test_private_candidates)
{
	uint64_t addr[4], size[4];
	size_t n = 0, bad = 0;
	char text[sizeof(qemu_maps) + 64];

	/* The 1 GiB one, then the 64 MiB one; not the executable TCG buffer, not the heap. */
	snprintf(text, sizeof(text), "%sgarbage line\n\n", qemu_maps);
	ck_assert_int_eq(bw_qemu_private_candidates(text, strlen(text), addr, size, 4, &n, &bad), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(bad, 1);
	ck_assert_uint_eq(addr[0], 0x7f24fbe00000ULL);
	ck_assert_uint_eq(size[0], 1024 * MIB);
	ck_assert_uint_eq(size[1], 64 * MIB);

	/* Room for one: the largest. */
	ck_assert_int_eq(bw_qemu_private_candidates(qemu_maps, strlen(qemu_maps), addr, size, 1,
						    &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(size[0], 1024 * MIB);

	/* Random bytes: bounded, no crash. */
	for (uint64_t seed = 1; seed <= 32; seed++) {
		static char junk[1 << 14];

		test_fill_random(junk, sizeof(junk), seed);
		bw_qemu_private_candidates(junk, sizeof(junk), addr, size, 4, &n, &bad);
	}
}
END_TEST

/*
 * A child with only private memory: a 128 MiB anonymous mapping with a
 * marker in its second page, as QEMU's default RAM is.  Python, not a fork
 * of ours: the test binary (under ASan above all) has big anonymous
 * mappings of its own.
 */
START_TEST(test_find_private_ram)
{
	static const char script[] =
		"import mmap, sys\n"
		"m = mmap.mmap(-1, 128 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)\n"
		"m[4096:4104] = b'BWPRIVAT'\n"
		"print('ready', flush=True)\n"
		"sys.stdin.read()\n";
	int in[2], out[2];
	char line[16] = "";
	struct bw_ram_backends found;
	struct bw_layout_spec spec = { .kind = BW_LAYOUT_FLAT };
	struct bw_ram *ram;
	struct bw_error err;
	uint64_t want = 128 * MIB, other = 64 * MIB;
	char marker[9] = "";
	pid_t pid;
	int status;

	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(out), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("python3", "python3", "-c", script, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	ck_assert_int_gt(read(out[0], line, sizeof(line) - 1), 0);
	ck_assert_ptr_nonnull(strstr(line, "ready"));

	ck_assert_msg(bw_qemu_find_ram(pid, NULL, 0, &found, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(found.n, 1);
	ck_assert_int_eq(found.b[0].pid, pid);
	ck_assert_uint_eq(found.b[0].size, 128 * MIB);
	ck_assert_ptr_nonnull(strstr(found.why, "process_vm_readv"));
	ck_assert_msg(bw_ram_open_backends(&found, &spec, &ram, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(bw_ram_access(ram), "process_vm_readv");
	ck_assert_msg(bw_ram_read(ram, 4096, marker, 8, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(marker, "BWPRIVAT");

	/* The sizes QEMU said (QMP): found by size; a size nobody has is an error. */
	ck_assert_msg(bw_qemu_find_ram(pid, &want, 1, &found, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(found.b[0].size, 128 * MIB);
	ck_assert_int_eq(bw_qemu_find_ram(pid, &other, 1, &found, &err), -ENOENT);

	/* The process gone: the check says so, reads fail, nothing crashes. */
	close(in[1]);
	close(out[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_lt(bw_ram_check(ram, &err), 0);
	ck_assert_int_eq(bw_ram_read(ram, 4096, marker, 8, &err), -EIO);
	bw_ram_close(ram);
}
END_TEST

static Suite *qemu_ram_suite(void)
{
	Suite *s = suite_create("qemu_ram");
	TCase *tc = tcase_create("maps");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_parse_line);
	tcase_add_test(tc, test_parse_garbage);
	tcase_add_test(tc, test_private_candidates);
	tcase_add_test(tc, test_find_private_ram);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(qemu_ram_suite)
