/* SPDX-License-Identifier: MIT */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode,
		      struct bw_error *err)
{
	char tmp[4096];
	const char *p = data;
	int fd, r = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return bw_error_set(err, -ENAMETOOLONG, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return bw_error_set(err, -errno, "cannot create %s: %s", tmp, strerror(errno));
	/* The mode asked for, whatever the umask (TextfileDir= readers need 0644). */
	if (fchmod(fd, mode) < 0) {
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
