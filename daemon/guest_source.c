/* SPDX-License-Identifier: MIT */
#include "guest_source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qmp.h"

int guest_source_read_pid_file(const char *path, pid_t *pid, struct bw_error *err)
{
	char buf[32];
	struct stat st;
	ssize_t n;
	long v = 0;
	size_t i = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return bw_error_set(err, -errno, "cannot open MemoryPIDFile %s: %s", path,
				    strerror(errno));
	/* Only root may be able to change it (libvirt's and systemd's pid files are so). */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return bw_error_set(err, -EPERM, "MemoryPIDFile %s is not a regular file owned by "
				    "root and writable by root only: refused (whoever can write it "
				    "picks the process the daemon reads)", path);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return bw_error_set(err, -errno, "cannot read MemoryPIDFile %s: %s", path,
				    strerror(errno));
	buf[n] = '\0';
	while (buf[i] >= '0' && buf[i] <= '9' && v <= INT_MAX)
		v = v * 10 + (buf[i++] - '0');
	if (i == 0 || v == 0 || v > INT_MAX || (buf[i] && strcmp(buf + i, "\n") != 0))
		return bw_error_set(err, -EINVAL, "MemoryPIDFile %s does not hold one process id",
				    path);
	*pid = (pid_t)v;
	return 0;
}

int guest_source_open(const struct daemon_config *cfg, const struct bw_layout_spec *layout,
		      struct bw_ram **ram, struct bw_kernel **kernel,
		      struct bw_guest_choice *choice, struct bw_error *err)
{
	struct bw_kernel_files files = {
		.vmlinux = cfg->vmlinux, .system_map = cfg->system_map, .btf = cfg->btf,
	};
	struct bw_ram_source source;
	struct bw_guest_qemu qemu;
	char paths[CONFIG_MAX_MEMORY * (PATH_MAX + 1)];
	int r;

	memset(choice, 0, sizeof(*choice));
	r = config_ram_source(cfg, &source, paths, sizeof(paths));
	if (r < 0)
		return bw_error_set(err, r, "Memory= names too many or too long paths");
	if (cfg->memory_pid_file) {
		r = guest_source_read_pid_file(cfg->memory_pid_file, &source.pid, err);
		if (r < 0)
			return r;
	}
	if (cfg->qmp) {
		r = qmp_query_memory(cfg->qmp, &qemu, err);
		if (r < 0)
			return r;
	}
	return bw_guest_open(&source, layout, cfg->qmp ? &qemu : NULL, &files, ram, kernel,
			     choice, err);
}
