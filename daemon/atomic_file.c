/* SPDX-License-Identifier: MIT */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temporary beside @path: its fd, its name in @tmp. */
static int create_temporary(const char *path, mode_t mode, char *tmp, size_t size,
			    struct bw_error *err)
{
	for (int i = 0; i < ATOMIC_FILE_ATTEMPTS; i++) {
		uint64_t nonce;
		int fd;

		if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
			return bw_error_set(err, -EIO, "%s: no random bytes for a temporary name: %s",
					    path, strerror(errno));
		if ((size_t)snprintf(tmp, size, "%s.tmp.%016" PRIx64, path, nonce) >= size)
			return bw_error_set(err, -ENAMETOOLONG, "%s: path too long", path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
		if (fd >= 0)
			return fd;
		/* The path, not the random name: the same failure reads the same each time. */
		if (errno != EEXIST)
			return bw_error_set(err, -errno, "cannot create a temporary file beside %s: %s",
					    path, strerror(errno));
	}
	return bw_error_set(err, -EEXIST, "%s: %d random temporary names were all taken", path,
			    ATOMIC_FILE_ATTEMPTS);
}

int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode,
		      bool exact_mode, struct bw_error *err)
{
	char tmp[4096];
	const char *p = data;
	int fd, r = 0;

	if (mode & ~(mode_t)0777)
		return bw_error_set(err, -EINVAL, "%s: mode %04o has bits beyond 0777", path,
				    (unsigned int)mode);
	fd = create_temporary(path, mode, tmp, sizeof(tmp), err);
	if (fd < 0)
		return fd;
	if (exact_mode && fchmod(fd, mode) < 0) {
		r = bw_error_set(err, -errno, "cannot chmod %s: %s", tmp, strerror(errno));
		len = 0;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = bw_error_set(err, -errno, "cannot write %s: %s", tmp, strerror(errno));
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = bw_error_set(err, -errno, "cannot sync %s: %s", tmp, strerror(errno));
	if (close(fd) < 0 && r == 0)
		r = bw_error_set(err, -errno, "cannot close %s: %s", tmp, strerror(errno));
	if (r == 0 && rename(tmp, path) < 0)
		r = bw_error_set(err, -errno, "cannot rename %s to %s: %s", tmp, path,
				 strerror(errno));
	if (r < 0)
		unlink(tmp);
	return r;
}
