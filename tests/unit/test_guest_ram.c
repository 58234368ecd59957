/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM through its backing file: opening by path, fd and QEMU pid,
 * reads across the below/above-4G split, reads outside RAM, cached
 * locations and untorn loads, the read-only mapping, skipping holes, and
 * a file that shrinks under the mapping (SIGBUS must become an error).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_ram.h"
#include "qemu_ram.h"
#include "util_mem.h"

#define PAGE 4096ULL
#define MIB (UINT64_C(1) << 20)
#define GIB BW_GIB

static int memfd(uint64_t size)
{
	int fd = memfd_create("bw-test-guest-ram", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static void put(int fd, uint64_t offset, const void *buf, size_t len)
{
	ck_assert_int_eq(pwrite(fd, buf, len, (off_t)offset), (ssize_t)len);
}

static void put_u64(int fd, uint64_t offset, uint64_t value)
{
	put(fd, offset, &value, sizeof(value));
}

static void spec_of(const char *text, struct bw_layout_spec *spec)
{
	struct bw_error err;

	ck_assert_msg(bw_layout_parse(text, spec, &err) == 0, "%s", err.msg);
}

static struct bw_ram *open_fd(int fd, const char *layout)
{
	struct bw_ram_source src = BW_RAM_SOURCE_INIT;
	struct bw_layout_spec spec;
	struct bw_ram *ram = NULL;
	struct bw_error err;

	src.fd = fd;
	spec_of(layout, &spec);
	ck_assert_msg(bw_ram_open(&src, &spec, &ram, &err) == 0, "%s", err.msg);
	ck_assert_ptr_nonnull(ram);
	return ram;
}

static uint64_t read_u64(struct bw_ram *ram, uint64_t gpa)
{
	struct bw_error err;
	uint64_t v = 0;

	ck_assert_msg(bw_ram_read(ram, gpa, &v, sizeof(v), &err) == 0, "%s", err.msg);
	return v;
}

static void expect_read_error(struct bw_ram *ram, uint64_t gpa, size_t len, int code,
			      const char *says)
{
	static uint8_t buf[64];
	struct bw_error err;

	bw_error_clear(&err);
	ck_assert_uint_le(len, sizeof(buf));
	ck_assert_int_eq(bw_ram_read(ram, gpa, buf, len, &err), code);
	ck_assert_int_eq(err.code, code);
	ck_assert_msg(strstr(err.msg, says), "\"%s\" does not say \"%s\"", err.msg, says);
}

START_TEST(test_open_by_path)
{
	char path[] = "/dev/shm/bw-test-ram-XXXXXX";
	struct bw_ram_source src = BW_RAM_SOURCE_INIT;
	struct bw_layout_spec spec;
	struct bw_ram *ram;
	struct bw_error err;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8 * MIB), 0);
	put_u64(fd, 0, 0x1122334455667788ULL);
	put_u64(fd, 8 * MIB - 8, 0xfeedfacecafebeefULL);
	src.paths[0] = path;
	src.npaths = 1;
	spec_of("flat", &spec);
	ck_assert_int_eq(bw_ram_open(&src, &spec, &ram, &err), 0);
	ck_assert_str_eq(bw_ram_describe(ram), path);
	ck_assert_uint_eq(bw_ram_file_size(ram), 8 * MIB);
	ck_assert_uint_eq(bw_ram_layout(ram)->nregions, 1);
	ck_assert_uint_eq(read_u64(ram, 0), 0x1122334455667788ULL);
	ck_assert_uint_eq(read_u64(ram, 8 * MIB - 8), 0xfeedfacecafebeefULL);
	ck_assert_int_eq(bw_ram_check(ram, &err), 0);

	/* Guest writes show through the shared mapping at once. */
	put_u64(fd, 4096, 42);
	ck_assert_uint_eq(read_u64(ram, 4096), 42);

	/* The file removed (QEMU gone): check says so. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(bw_ram_check(ram, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "removed"));
	bw_ram_close(ram);
	close(fd);
}
END_TEST

START_TEST(test_open_by_fd)
{
	struct bw_ram *ram;
	struct bw_error err;
	char want[32];
	int fd = memfd(2 * MIB);

	put_u64(fd, MIB, 0xabcdefULL);
	ram = open_fd(fd, "flat");
	snprintf(want, sizeof(want), "fd %d", fd);
	ck_assert_str_eq(bw_ram_describe(ram), want);
	ck_assert_uint_eq(bw_ram_file_size(ram), 2 * MIB);
	ck_assert_uint_eq(read_u64(ram, MIB), 0xabcdefULL);
	ck_assert_int_eq(bw_ram_check(ram, &err), 0);
	bw_ram_close(ram);
	/* Closing ours left the caller's fd alone. */
	ck_assert_int_eq(fcntl(fd, F_GETFD), FD_CLOEXEC);
	close(fd);
	bw_ram_close(NULL);
}
END_TEST

START_TEST(test_open_errors)
{
	struct bw_ram_source src = BW_RAM_SOURCE_INIT;
	struct bw_layout_spec spec;
	struct bw_ram *ram = (struct bw_ram *)&src;
	struct bw_error err;
	int fd;

	spec_of("q35", &spec);
	ck_assert_int_eq(bw_ram_open(&src, &spec, &ram, &err), -EINVAL);
	ck_assert_ptr_null(ram);
	ck_assert_ptr_nonnull(strstr(err.msg, "no guest memory given"));

	src.paths[0] = "/nonexistent/bw-ram";
	src.npaths = 1;
	ck_assert_int_eq(bw_ram_open(&src, &spec, &ram, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/bw-ram"));

	src.paths[0] = "/dev/shm";
	ck_assert_int_eq(bw_ram_open(&src, &spec, &ram, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));

	src.npaths = 0;
	src.fd = 1000000;
	ck_assert_int_lt(bw_ram_open(&src, &spec, &ram, &err), 0);
	ck_assert_ptr_nonnull(strstr(err.msg, "1000000"));

	/* An empty file, and a layout that does not fit the file. */
	fd = memfd(0);
	src.fd = fd;
	ck_assert_int_eq(bw_ram_open(&src, &spec, &ram, &err), -ENODATA);
	ck_assert_ptr_nonnull(strstr(err.msg, "fd "));
	ck_assert_int_eq(ftruncate(fd, (off_t)MIB), 0);
	spec_of("0:1M@0,4G:1M@1M", &spec);
	ck_assert_int_eq(bw_ram_open(&src, &spec, &ram, &err), -ERANGE);
	ck_assert_ptr_null(ram);
	close(fd);

	/* A pid that cannot exist. */
	src.fd = -1;
	src.pid = INT_MAX;
	spec_of("q35", &spec);
	ck_assert_int_eq(bw_ram_open(&src, &spec, &ram, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "2147483647"));
}
END_TEST

/* q35 with 3 GiB: [0, 2G) at GPA 0, [2G, 3G) at GPA 4G. */
START_TEST(test_read_across_split)
{
	struct bw_ram *ram;
	struct bw_addrspace as;
	struct bw_error err;
	uint8_t buf[16];
	uint64_t v;
	int fd = memfd(3 * GIB);

	put_u64(fd, 2 * GIB - 8, 0x0101010101010101ULL);
	put_u64(fd, 2 * GIB, 0x0202020202020202ULL);
	put_u64(fd, 3 * GIB - 8, 0x0303030303030303ULL);
	ram = open_fd(fd, "q35");
	ck_assert_uint_eq(bw_ram_layout(ram)->nregions, 2);

	ck_assert_uint_eq(read_u64(ram, 2 * GIB - 8), 0x0101010101010101ULL);
	ck_assert_uint_eq(read_u64(ram, 4 * GIB), 0x0202020202020202ULL);
	ck_assert_uint_eq(read_u64(ram, 5 * GIB - 8), 0x0303030303030303ULL);
	/* The PCI hole between 2G and 4G is not RAM, nor is anything past the end. */
	expect_read_error(ram, 2 * GIB - 8, 16, -EFAULT, "0x80000000 is not RAM");
	expect_read_error(ram, 2 * GIB, 8, -EFAULT, "is not RAM");
	expect_read_error(ram, 3 * GIB, 1, -EFAULT, "is not RAM");
	expect_read_error(ram, 4 * GIB - 1, 2, -EFAULT, "0xffffffff is not RAM");
	expect_read_error(ram, 5 * GIB - 4, 8, -EFAULT, "is not RAM");
	expect_read_error(ram, 5 * GIB, 1, -EFAULT, "is not RAM");
	expect_read_error(ram, UINT64_MAX - 3, 8, -EFAULT, "is not RAM");
	expect_read_error(ram, UINT64_MAX, 1, -EFAULT, "is not RAM");
	ck_assert_int_eq(bw_ram_read(ram, 7 * GIB, buf, 0, &err), 0);	/* nothing asked */

	/* The same through the address-space interface. */
	as = bw_ram_addrspace(ram);
	ck_assert_int_eq(bw_as_read_u64(&as, 4 * GIB, &v, &err), 0);
	ck_assert_uint_eq(v, 0x0202020202020202ULL);
	ck_assert_int_eq(bw_as_read_u64(&as, 3 * GIB, &v, &err), -EFAULT);
	bw_ram_close(ram);
	close(fd);
}
END_TEST

/* Regions adjacent in GPA but not in the file: one read is served from both. */
START_TEST(test_read_spans_adjacent_regions)
{
	struct bw_ram *ram;
	struct bw_error err;
	uint64_t offset;
	uint8_t buf[8];
	int fd = memfd(4 * MIB);

	put(fd, 0x400000 - 4, "ABCD", 4);	/* end of GPA [0, 1M) */
	put(fd, 0, "EFGH", 4);			/* start of GPA [1M, 2M) */
	ram = open_fd(fd, "1M:1M@0,0:1M@3M");
	ck_assert_int_eq(bw_ram_read(ram, MIB - 4, buf, 8, &err), 0);
	ck_assert_int_eq(memcmp(buf, "ABCDEFGH", 8), 0);
	/* A location to re-read every tick must sit in one region. */
	ck_assert_int_eq(bw_ram_locate(ram, MIB - 4, 8, &offset, &err), -EFAULT);
	ck_assert_ptr_nonnull(strstr(err.msg, "run past the end"));
	ck_assert_int_eq(bw_ram_locate(ram, MIB - 4, 4, &offset, &err), 0);
	ck_assert_uint_eq(offset, 4 * MIB - 4);
	ck_assert_int_eq(bw_ram_locate(ram, MIB, 4, &offset, &err), 0);
	ck_assert_uint_eq(offset, 0);
	expect_read_error(ram, 2 * MIB - 4, 8, -EFAULT, "0x200000 is not RAM");
	bw_ram_close(ram);
	close(fd);
}
END_TEST

START_TEST(test_locate_and_load)
{
	struct bw_ram *ram;
	struct bw_error err;
	uint64_t offset, v;
	int fd = memfd(3 * GIB);

	put_u64(fd, 2 * GIB + 16, 0x1122334455667788ULL);
	ram = open_fd(fd, "q35");
	ck_assert_int_eq(bw_ram_locate(ram, 4 * GIB + 16, 8, &offset, &err), 0);
	ck_assert_uint_eq(offset, 2 * GIB + 16);
	ck_assert_int_eq(bw_ram_locate(ram, 4096, 8, &offset, &err), 0);
	ck_assert_uint_eq(offset, 4096);
	ck_assert_int_eq(bw_ram_locate(ram, 3 * GIB, 8, &offset, &err), -EFAULT);
	ck_assert_ptr_nonnull(strstr(err.msg, "0xc0000000 is not RAM"));
	ck_assert_int_eq(bw_ram_locate(ram, 5 * GIB - 4, 8, &offset, &err), -EFAULT);
	ck_assert_int_eq(bw_ram_locate(ram, 2 * GIB - 4, 8, &offset, &err), -EFAULT);
	ck_assert_int_eq(bw_ram_locate(ram, 4 * GIB, SIZE_MAX, &offset, &err), -EFAULT);

	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 16, 8, &v, &err), 0);
	ck_assert_uint_eq(v, 0x1122334455667788ULL);
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 16, 4, &v, &err), 0);
	ck_assert_uint_eq(v, 0x55667788ULL);
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 20, 4, &v, &err), 0);
	ck_assert_uint_eq(v, 0x11223344ULL);
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 18, 2, &v, &err), 0);
	ck_assert_uint_eq(v, 0x5566ULL);
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 23, 1, &v, &err), 0);
	ck_assert_uint_eq(v, 0x11ULL);

	/* Misaligned or odd widths cannot be one untorn load. */
	v = 99;
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 17, 2, &v, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "misaligned"));
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 18, 4, &v, &err), -EINVAL);
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 20, 8, &v, &err), -EINVAL);
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 16, 3, &v, &err), -EINVAL);
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 16, 16, &v, &err), -EINVAL);
	ck_assert_int_eq(bw_ram_load_at(ram, 2 * GIB + 16, 0, &v, &err), -EINVAL);
	ck_assert_uint_eq(v, 99);

	/* Outside the file. */
	ck_assert_int_eq(bw_ram_load_at(ram, 3 * GIB, 1, &v, &err), -EFAULT);
	ck_assert_int_eq(bw_ram_load_at(ram, 3 * GIB - 4, 8, &v, &err), -EFAULT);
	ck_assert_int_eq(bw_ram_load_at(ram, UINT64_MAX - 3, 8, &v, &err), -EFAULT);
	ck_assert_int_eq(bw_ram_load_at(ram, 3 * GIB - 8, 8, &v, &err), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(bw_ram_check(ram, &err), 0);	/* errors of the caller's, not faults */
	bw_ram_close(ram);
	close(fd);
}
END_TEST

/* The mapping of @fd's file in /proc/self/maps: its permissions and length. */
static unsigned int find_mappings(int fd, char perms[8], uint64_t *length)
{
	struct stat st;
	char line[512];
	unsigned int found = 0;
	FILE *maps;

	ck_assert_int_eq(fstat(fd, &st), 0);
	maps = fopen("/proc/self/maps", "re");
	ck_assert_ptr_nonnull(maps);
	while (fgets(line, sizeof(line), maps)) {
		unsigned long long start, end, inode;
		unsigned int dev_major, dev_minor;
		char p[8];

		if (sscanf(line, "%llx-%llx %7s %*x %x:%x %llu", &start, &end, p, &dev_major,
			   &dev_minor, &inode) != 6 ||
		    inode != (unsigned long long)st.st_ino || dev_major != major(st.st_dev) ||
		    dev_minor != minor(st.st_dev))
			continue;
		memcpy(perms, p, 8);
		*length = end - start;
		found++;
	}
	fclose(maps);
	return found;
}

START_TEST(test_mapping_is_read_only)
{
	struct bw_ram *ram;
	uint64_t length = 0;
	char perms[8] = "";
	int fd = memfd(4 * MIB);

	/* Given a writable fd, the mapping is still read-only and shared. */
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	ram = open_fd(fd, "flat");
	ck_assert_uint_eq(find_mappings(fd, perms, &length), 1);
	ck_assert_str_eq(perms, "r--s");
	ck_assert_uint_eq(length, 4 * MIB);
	bw_ram_close(ram);
	ck_assert_uint_eq(find_mappings(fd, perms, &length), 0);
	close(fd);
}
END_TEST

/* The file shrinks under the mapping: a read of a vanished page is -EIO, not SIGBUS. */
START_TEST(test_shrunk_file_read)
{
	struct bw_ram *ram;
	struct bw_error err;
	uint64_t v;
	int fd = memfd(MIB);

	put_u64(fd, 0, 7);
	put_u64(fd, 512 * 1024, 8);
	ram = open_fd(fd, "flat");
	ck_assert_uint_eq(read_u64(ram, 512 * 1024), 8);
	ck_assert_int_eq(ftruncate(fd, 64 * 1024), 0);

	/* Seen by check before any read faults ... */
	ck_assert_int_eq(bw_ram_check(ram, &err), -EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "shrank"));
	/* ... a page still in the file reads fine ... */
	ck_assert_uint_eq(read_u64(ram, 0), 7);
	/* ... and one that vanished is an error. */
	expect_read_error(ram, 512 * 1024, 8, -EIO, "faulted");
	expect_read_error(ram, 512 * 1024, 8, -EIO, "shrank or went away");
	ck_assert_int_eq(bw_ram_check(ram, &err), -EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "faulted"));
	/* Once faulted, the whole RAM is suspect until reopened. */
	ck_assert_int_eq(bw_ram_read(ram, 0, &v, 8, &err), -EIO);
	ck_assert_int_eq(bw_ram_load_at(ram, 0, 8, &v, &err), -EIO);
	bw_ram_close(ram);
	close(fd);
}
END_TEST

START_TEST(test_shrunk_file_load)
{
	struct bw_ram *rams[20];
	struct bw_error err;
	uint64_t offset, v = 5;
	int fd = memfd(MIB);

	put_u64(fd, 768 * 1024, 9);
	for (int i = 0; i < 20; i++)
		rams[i] = open_fd(fd, "flat");
	ck_assert_int_eq(bw_ram_locate(rams[0], 768 * 1024, 8, &offset, &err), 0);
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(bw_ram_load_at(rams[i], offset, 8, &v, &err), 0);
		ck_assert_uint_eq(v, 9);
	}
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	/* One real SIGBUS per mapping, one after the other: each becomes -EIO. */
	for (int i = 0; i < 20; i++) {
		v = 5;
		if (i % 2)
			ck_assert_int_eq(bw_ram_load_at(rams[i], offset, 8, &v, &err), -EIO);
		else
			ck_assert_int_eq(bw_ram_read(rams[i], 768 * 1024, &v, 8, &err), -EIO);
		ck_assert_uint_eq(v, 5);
		ck_assert_int_eq(bw_ram_check(rams[i], &err), -EIO);
	}
	for (int i = 0; i < 20; i++)
		bw_ram_close(rams[i]);
	close(fd);
}
END_TEST

/* A fresh RAM object after a fault elsewhere is not affected: the guard is per read. */
START_TEST(test_fault_then_fresh_open)
{
	struct bw_ram *a, *b;
	struct bw_error err;
	uint64_t v;
	int fa = memfd(MIB), fb = memfd(MIB);

	put_u64(fb, 4096, 77);
	a = open_fd(fa, "flat");
	b = open_fd(fb, "flat");
	ck_assert_int_eq(ftruncate(fa, 0), 0);
	ck_assert_int_eq(bw_ram_read(a, 4096, &v, 8, &err), -EIO);
	ck_assert_uint_eq(read_u64(b, 4096), 77);
	ck_assert_int_eq(bw_ram_check(b, &err), 0);
	bw_ram_close(a);
	bw_ram_close(b);
	close(fa);
	close(fb);
}
END_TEST

#define MAX_PAGES 16

struct pages {
	unsigned int count;
	uint64_t gpa[MAX_PAGES];
	uint8_t byte0[MAX_PAGES], byte100[MAX_PAGES];	/* the page contents handed over */
	unsigned int stop_after;
};

static int on_page(void *ctx, uint64_t gpa, const uint8_t *page)
{
	struct pages *p = ctx;

	ck_assert_uint_lt(p->count, MAX_PAGES);
	p->byte0[p->count] = page[0];
	p->byte100[p->count] = page[100];
	p->gpa[p->count++] = gpa;
	return p->stop_after && p->count >= p->stop_after ? 5 : 0;
}

START_TEST(test_for_each_page_skips_holes)
{
	struct pages p = { 0 };
	struct bw_ram *ram;
	struct stat before, after;
	int fd = memfd(16 * MIB);

	put(fd, 3 * PAGE, "a", 1);
	put(fd, 4 * PAGE + 100, "b", 1);
	put(fd, 100 * PAGE, "c", 1);
	put(fd, 16 * MIB - 1, "d", 1);
	ram = open_fd(fd, "flat");
	ck_assert_int_eq(fstat(fd, &before), 0);
	ck_assert_int_eq(bw_ram_for_each_page(ram, PAGE, on_page, &p), 0);
	ck_assert_uint_eq(p.count, 4);
	ck_assert_uint_eq(p.gpa[0], 3 * PAGE);
	ck_assert_uint_eq(p.gpa[1], 4 * PAGE);
	ck_assert_uint_eq(p.gpa[2], 100 * PAGE);
	ck_assert_uint_eq(p.gpa[3], 16 * MIB - PAGE);
	ck_assert_uint_eq(p.byte0[0], 'a');
	ck_assert_uint_eq(p.byte100[1], 'b');
	ck_assert_uint_eq(p.byte0[2], 'c');
	/* Walking the pages allocated nothing in the file. */
	ck_assert_int_eq(fstat(fd, &after), 0);
	ck_assert_int_eq(after.st_blocks, before.st_blocks);

	memset(&p, 0, sizeof(p));
	p.stop_after = 2;
	ck_assert_int_eq(bw_ram_for_each_page(ram, PAGE, on_page, &p), 5);
	ck_assert_uint_eq(p.count, 2);
	bw_ram_close(ram);
	close(fd);
}
END_TEST

START_TEST(test_for_each_page_q35)
{
	struct pages p = { 0 };
	struct bw_ram *ram;
	int fd = memfd(3 * GIB);

	put(fd, GIB, "a", 1);
	put(fd, 2 * GIB - PAGE, "b", 1);
	put(fd, 2 * GIB + PAGE, "c", 1);
	ram = open_fd(fd, "q35");
	ck_assert_int_eq(bw_ram_for_each_page(ram, PAGE, on_page, &p), 0);
	ck_assert_uint_eq(p.count, 3);
	ck_assert_uint_eq(p.gpa[0], GIB);
	ck_assert_uint_eq(p.gpa[1], 2 * GIB - PAGE);
	ck_assert_uint_eq(p.gpa[2], 4 * GIB + PAGE);
	bw_ram_close(ram);
	close(fd);
}
END_TEST

START_TEST(test_find_memfd_of_self)
{
	char want[64];
	struct bw_ram_source src = BW_RAM_SOURCE_INIT;
	struct bw_ram_backends found;
	struct bw_layout_spec spec;
	struct bw_ram *ram;
	struct bw_error err;
	struct stat st_found, st_fd;
	int fd = memfd(2 * MIB);
	void *map;

	put_u64(fd, MIB, 0x5151515151515151ULL);
	map = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert(map != MAP_FAILED);

	ck_assert_msg(bw_qemu_find_ram(getpid(), NULL, 0, &found, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(found.n, 1);
	snprintf(want, sizeof(want), "/proc/%d/fd/%d", (int)getpid(), fd);
	ck_assert_str_eq(found.b[0].path, want);
	ck_assert_int_eq(stat(found.b[0].path, &st_found), 0);
	ck_assert_int_eq(fstat(fd, &st_fd), 0);
	ck_assert_uint_eq(st_found.st_ino, st_fd.st_ino);

	/* --memory-pid end to end. */
	src.pid = getpid();
	spec_of("flat", &spec);
	ck_assert_msg(bw_ram_open(&src, &spec, &ram, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(bw_ram_describe(ram), want);
	ck_assert_str_eq(bw_ram_access(ram), "shared mapping");
	ck_assert_uint_eq(read_u64(ram, MIB), 0x5151515151515151ULL);
	bw_ram_close(ram);
	munmap(map, 2 * MIB);
	close(fd);
}
END_TEST

/* A process without shared file mappings (a fresh `sleep`): -ENOENT and advice. */
START_TEST(test_find_memfd_none)
{
	int sync[2];
	char c;
	struct bw_ram_backends found;
	struct bw_error err;
	pid_t pid;
	int status;

	ck_assert_int_eq(pipe2(sync, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(sync[0]);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	close(sync[1]);
	/* EOF once exec closed the write end: the child is `sleep` now, not our copy. */
	ck_assert_int_eq(read(sync[0], &c, 1), 0);
	close(sync[0]);

	bw_error_clear(&err);
	ck_assert_int_eq(bw_qemu_find_ram(pid, NULL, 0, &found, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "no shared file or memfd mapping"));
	ck_assert_ptr_nonnull(strstr(err.msg, "no private"));
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);

	/* And a process that does not exist. */
	ck_assert_int_eq(bw_qemu_find_ram(INT_MAX, NULL, 0, &found, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot read the mappings of process 2147483647"));
}
END_TEST

/*
 * Two backends (NUMA nodes) of 1.5 GiB each under q35: the preset applies to
 * the 3 GiB concatenation, so GPA [0, 2G) is node 0 and the first half of
 * node 1, and GPA [4G, 5G) the rest of node 1.  Sparse memfds: no memory used.
 */
START_TEST(test_concatenated_backends)
{
	int a = memfd(3 * GIB / 2), b = memfd(3 * GIB / 2);
	struct bw_ram_backends bk = { .n = 2 };
	struct bw_layout_spec spec;
	struct bw_ram *ram;
	struct bw_error err;
	struct bw_load loads[3];
	uint64_t out[3], off, v = 0;
	size_t done;

	bk.b[0].fd = a;
	bk.b[1].fd = b;
	put_u64(a, 0x1000, 0xa0a0a0a0a0a0a0a0ULL);
	put_u64(b, 8, 0xb1b1b1b1b1b1b1b1ULL);
	put_u64(b, GIB / 2 + 16, 0xb2b2b2b2b2b2b2b2ULL);
	put(a, 3 * GIB / 2 - 4, "ABCD", 4);
	put(b, 0, "EFGH", 4);
	spec_of("q35", &spec);
	ck_assert_msg(bw_ram_open_backends(&bk, &spec, &ram, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(bw_ram_nbackends(ram), 2);
	ck_assert_uint_eq(bw_ram_file_size(ram), 3 * GIB);
	ck_assert_uint_eq(bw_ram_layout(ram)->nregions, 2);
	ck_assert_ptr_nonnull(strstr(bw_ram_describe(ram), " + "));
	ck_assert_uint_eq(read_u64(ram, 0x1000), 0xa0a0a0a0a0a0a0a0ULL);
	ck_assert_uint_eq(read_u64(ram, 3 * GIB / 2 + 8), 0xb1b1b1b1b1b1b1b1ULL);
	ck_assert_uint_eq(read_u64(ram, 4 * GIB + 16), 0xb2b2b2b2b2b2b2b2ULL);
	/* A read across the two backends. */
	{
		char buf[9] = "";

		ck_assert_msg(bw_ram_read(ram, 3 * GIB / 2 - 4, buf, 8, &err) == 0, "%s", err.msg);
		ck_assert_str_eq(buf, "ABCDEFGH");
	}
	/* One batch over both. */
	ck_assert_int_eq(bw_ram_locate(ram, 4 * GIB + 16, 8, &off, &err), 0);
	ck_assert_uint_eq(off, 2 * GIB + 16);
	loads[0] = (struct bw_load){ .offset = 0x1000, .width = 8 };
	loads[1] = (struct bw_load){ .offset = off, .width = 8 };
	loads[2] = (struct bw_load){ .offset = 3 * GIB / 2 + 8, .width = 4 };
	ck_assert_int_eq(bw_ram_load_batch(ram, loads, 3, out, &done, &err), 0);
	ck_assert_uint_eq(out[0], 0xa0a0a0a0a0a0a0a0ULL);
	ck_assert_uint_eq(out[1], 0xb2b2b2b2b2b2b2b2ULL);
	ck_assert_uint_eq(out[2], 0xb1b1b1b1ULL);
	ck_assert_int_eq(bw_ram_load_at(ram, 3 * GIB / 2 + 8, 2, &v, &err), 0);
	ck_assert_uint_eq(v, 0xb1b1);
	ck_assert_int_eq(bw_ram_check(ram, &err), 0);
	bw_ram_close(ram);

	/* Backends that are not whole pages cannot be concatenated. */
	ck_assert_int_eq(ftruncate(b, 4097), 0);
	ck_assert_int_eq(bw_ram_open_backends(&bk, &spec, &ram, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not whole pages"));
	/* Shared files and private memory do not mix. */
	bk.b[1] = (struct bw_ram_backend){ .fd = -1, .pid = getpid(), .addr = 4096, .size = 4096 };
	ck_assert_int_eq(bw_ram_open_backends(&bk, &spec, &ram, &err), -EINVAL);
	close(a);
	close(b);
}
END_TEST

/* Private memory through process_vm_readv, on memory of this very process. */
START_TEST(test_private_read_path)
{
	const uint64_t size = 8 * MIB;
	uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *mem2 = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	struct bw_ram_backends bk = { .n = 1 };
	struct bw_layout_spec spec;
	struct bw_ram *ram;
	struct bw_error err;
	struct bw_load loads[6];
	uint64_t out[6];
	size_t done;
	struct pages pc = { 0 };

	ck_assert(mem != MAP_FAILED && mem2 != MAP_FAILED);
	bk.b[0] = (struct bw_ram_backend){ .fd = -1, .pid = getpid(), .addr = (uintptr_t)mem,
					   .size = size };
	memcpy(mem + 4096, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
	mem[3 * MIB] = 0x5a;
	spec_of("flat", &spec);
	ck_assert_msg(bw_ram_open_backends(&bk, &spec, &ram, &err) == 0, "%s", err.msg);
	ck_assert(bw_ram_is_private(ram));
	ck_assert_str_eq(bw_ram_access(ram), "process_vm_readv");
	ck_assert_uint_eq(read_u64(ram, 4096), 0x8877665544332211ULL);
	/* Writes show at once: nothing is copied ahead. */
	mem[4096] = 0x99;
	ck_assert_uint_eq(read_u64(ram, 4096) & 0xff, 0x99);

	/* A batch of every width, then one outside, then one misaligned. */
	loads[0] = (struct bw_load){ .offset = 4096, .width = 1 };
	loads[1] = (struct bw_load){ .offset = 4096, .width = 2 };
	loads[2] = (struct bw_load){ .offset = 4100, .width = 4 };
	loads[3] = (struct bw_load){ .offset = 4096, .width = 8 };
	loads[4] = (struct bw_load){ .offset = size, .width = 8 };
	loads[5] = (struct bw_load){ .offset = 4097, .width = 4 };
	ck_assert_int_eq(bw_ram_load_batch(ram, loads, 4, out, &done, &err), 0);
	ck_assert_uint_eq(done, 4);
	ck_assert_uint_eq(out[0], 0x99);
	ck_assert_uint_eq(out[1], 0x2299);
	ck_assert_uint_eq(out[2], 0x88776655);
	ck_assert_uint_eq(out[3], 0x8877665544332299ULL);
	ck_assert_int_eq(bw_ram_load_batch(ram, loads, 5, out, &done, &err), -EFAULT);
	ck_assert_uint_eq(done, 4);
	ck_assert_ptr_nonnull(strstr(err.msg, "outside"));
	ck_assert_int_eq(bw_ram_load_batch(ram, loads + 5, 1, out, &done, &err), -EINVAL);
	ck_assert_uint_eq(done, 0);

	/* The page walk sees only the pages the process has (pagemap), with their bytes. */
	ck_assert_int_eq(bw_ram_for_each_page(ram, 4096, on_page, &pc), 0);
	ck_assert_uint_eq(pc.count, 2);
	ck_assert_uint_eq(pc.gpa[0], 4096);
	ck_assert_uint_eq(pc.byte0[0], 0x99);
	ck_assert_uint_eq(pc.gpa[1], 3 * MIB);
	ck_assert_uint_eq(pc.byte0[1], 0x5a);
	ck_assert_int_eq(bw_ram_check(ram, &err), 0);
	bw_ram_close(ram);

	/* Two private backends in one concatenation; and the range unmapped. */
	bk.n = 2;
	bk.b[1] = (struct bw_ram_backend){ .fd = -1, .pid = getpid(), .addr = (uintptr_t)mem2,
					   .size = 2 * MIB };
	mem2[8] = 0x42;
	ck_assert_msg(bw_ram_open_backends(&bk, &spec, &ram, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(read_u64(ram, size + 8), 0x42);
	munmap(mem2, 2 * MIB);
	ck_assert_int_lt(bw_ram_check(ram, &err), 0);
	ck_assert_int_eq(bw_ram_read(ram, size + 8, out, 8, &err), -EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "could not be read"));
	/* Broken from then on, as a shared file that faulted. */
	ck_assert_int_eq(bw_ram_read(ram, 4096, out, 8, &err), -EIO);
	bw_ram_close(ram);
	munmap(mem, size);
}
END_TEST

static Suite *guest_ram_suite(void)
{
	Suite *s = suite_create("guest_ram");
	TCase *tc = tcase_create("ram");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_open_by_path);
	tcase_add_test(tc, test_open_by_fd);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_read_across_split);
	tcase_add_test(tc, test_read_spans_adjacent_regions);
	tcase_add_test(tc, test_locate_and_load);
	tcase_add_test(tc, test_mapping_is_read_only);
	tcase_add_test(tc, test_shrunk_file_read);
	tcase_add_test(tc, test_shrunk_file_load);
	tcase_add_test(tc, test_fault_then_fresh_open);
	tcase_add_test(tc, test_for_each_page_skips_holes);
	tcase_add_test(tc, test_for_each_page_q35);
	tcase_add_test(tc, test_find_memfd_of_self);
	tcase_add_test(tc, test_find_memfd_none);
	tcase_add_test(tc, test_concatenated_backends);
	tcase_add_test(tc, test_private_read_path);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(guest_ram_suite)
