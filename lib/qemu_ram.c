/* SPDX-License-Identifier: MIT */
#include "qemu_ram.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A QEMU process has a few hundred fds and mappings; bound the scans anyway. */
#define MAX_FDS_SCANNED 65536
#define MAX_MAPS_BYTES (64u << 20)
/* Shared mappings smaller than a page-table page of RAM are not guest RAM. */
#define MIN_SHARED_RAM (2ULL << 20)
/* Private mappings considered: RAM backends, video RAM, the odd big buffer. */
#define BW_QEMU_MAX_CANDIDATES 32

static const char *hex(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = p;

	while (p < end && isxdigit((unsigned char)*p)) {
		if (p - start >= 16)
			return NULL;
		v = v * 16 + (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' :
					(tolower((unsigned char)*p) - 'a' + 10));
		p++;
	}
	if (p == start)
		return NULL;
	*out = v;
	return p;
}

static const char *dec(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;
	const char *start = p;

	while (p < end && isdigit((unsigned char)*p)) {
		if (p - start >= 20 || v > (UINT64_MAX - 9) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	if (p == start)
		return NULL;
	*out = v;
	return p;
}

static const char *expect(const char *p, const char *end, char c)
{
	return p && p < end && *p == c ? p + 1 : NULL;
}

int bw_proc_maps_parse_line(const char *line, size_t len, struct bw_proc_mapping *m)
{
	const char *p = line, *end = line + len;
	uint64_t major, minor;

	memset(m, 0, sizeof(*m));
	p = hex(p, end, &m->start);
	p = expect(p, end, '-');
	p = p ? hex(p, end, &m->end) : NULL;
	p = expect(p, end, ' ');
	if (!p || end - p < 5 || m->end <= m->start)
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		static const char allowed[4][3] = { "r-", "w-", "x-", "ps" };

		if (!strchr(allowed[i], p[i]) || !p[i])
			return -EINVAL;
		m->perms[i] = p[i];
	}
	p = expect(p + 4, end, ' ');
	p = p ? hex(p, end, &m->offset) : NULL;
	p = expect(p, end, ' ');
	p = p ? hex(p, end, &major) : NULL;
	p = expect(p, end, ':');
	p = p ? hex(p, end, &minor) : NULL;
	p = expect(p, end, ' ');
	p = p ? dec(p, end, &m->inode) : NULL;
	if (!p || major > 0xfff || minor > 0xfffff)
		return -EINVAL;
	m->major = (unsigned int)major;
	m->minor = (unsigned int)minor;
	while (p < end && *p == ' ')
		p++;
	m->path = p;
	m->path_len = (size_t)(end - p);
	return 0;
}

/* Call @fn for each line of @text that parses; count those that do not. */
static void for_each_mapping(const char *text, size_t len,
			     void (*fn)(void *ctx, const struct bw_proc_mapping *m), void *ctx,
			     size_t *bad)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct bw_proc_mapping m;

		if (line_len > 0) {
			if (bw_proc_maps_parse_line(p, line_len, &m) == 0)
				fn(ctx, &m);
			else if (bad)
				(*bad)++;
		}
		p += line_len + 1;
	}
}

struct private_scan {
	uint64_t *addr, *size;
	size_t max, n;
	bool shared;		/* shared file mappings instead of private anonymous ones */
};

static bool before(uint64_t size_a, uint64_t addr_a, uint64_t size_b, uint64_t addr_b)
{
	/* Largest first; QEMU maps top-down, so a higher address was created earlier. */
	return size_a > size_b || (size_a == size_b && addr_a > addr_b);
}

static void add_private(void *ctx, const struct bw_proc_mapping *m)
{
	struct private_scan *s = ctx;
	uint64_t size = m->end - m->start;
	size_t pos;

	if (m->perms[0] != 'r' || m->perms[1] != 'w' || m->perms[2] != '-' ||
	    size < BW_QEMU_MIN_PRIVATE_RAM)
		return;
	if (s->shared ? m->perms[3] != 's' || m->inode == 0 :
			m->perms[3] != 'p' || m->inode != 0 || m->path_len != 0)
		return;
	pos = s->n < s->max ? s->n : s->max;
	while (pos > 0 && before(size, m->start, s->size[pos - 1], s->addr[pos - 1]))
		pos--;
	if (pos < s->max) {
		size_t last = s->n < s->max ? s->n : s->max - 1;

		memmove(s->addr + pos + 1, s->addr + pos, (last - pos) * sizeof(*s->addr));
		memmove(s->size + pos + 1, s->size + pos, (last - pos) * sizeof(*s->size));
		s->addr[pos] = m->start;
		s->size[pos] = size;
	}
	s->n++;
}

static int candidates(const char *maps, size_t len, bool shared, uint64_t *addr, uint64_t *size,
		      size_t max, size_t *n, size_t *bad)
{
	struct private_scan s = { .addr = addr, .size = size, .max = max, .shared = shared };

	if (bad)
		*bad = 0;
	for_each_mapping(maps, len, add_private, &s, bad);
	*n = s.n;
	return 0;
}

int bw_qemu_private_candidates(const char *maps, size_t len, uint64_t *addr, uint64_t *size,
			       size_t max, size_t *n, size_t *bad)
{
	return candidates(maps, len, false, addr, size, max, n, bad);
}

static int read_maps(pid_t pid, char **text, size_t *len)
{
	char path[64];
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	int fd;

	*text = NULL;
	if (!buf)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *nb = cap >= MAX_MAPS_BYTES ? NULL : realloc(buf, cap * 2);

			if (!nb)
				break;	/* a bounded prefix is enough: RAM is mapped early */
			buf = nb;
			cap *= 2;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	*text = buf;
	*len = n;
	return 0;
}

struct shared_scan {
	dev_t *devs;
	ino_t *inos;
	size_t n, cap;
};

static void add_shared(void *ctx, const struct bw_proc_mapping *m)
{
	struct shared_scan *s = ctx;

	if (m->perms[3] != 's' || m->inode == 0 || s->n == s->cap)
		return;
	s->devs[s->n] = makedev(m->major, m->minor);
	s->inos[s->n] = (ino_t)m->inode;
	s->n++;
}

static int cmp_fd_names(const void *a, const void *b)
{
	long x = strtol(*(char *const *)a, NULL, 10), y = strtol(*(char *const *)b, NULL, 10);

	return x < y ? -1 : x > y;
}

/* Shared backends: regular files the process both holds open and maps shared. */
static int find_shared(pid_t pid, const char *maps, size_t len, struct bw_ram_backends *out,
		       struct bw_error *err)
{
	struct shared_scan s = { 0 };
	char dirpath[64], *names[BW_RAM_MAX_BACKENDS * 4];
	size_t nnames = 0;
	unsigned int scanned = 0;
	dev_t seen_dev[BW_RAM_MAX_BACKENDS];
	ino_t seen_ino[BW_RAM_MAX_BACKENDS];
	struct dirent *de;
	DIR *dir;
	int r = 0;

	s.cap = 4096;
	s.devs = calloc(s.cap, sizeof(*s.devs));
	s.inos = calloc(s.cap, sizeof(*s.inos));
	if (!s.devs || !s.inos) {
		free(s.devs);
		free(s.inos);
		return bw_error_set(err, -ENOMEM, "out of memory");
	}
	for_each_mapping(maps, len, add_shared, &s, NULL);
	snprintf(dirpath, sizeof(dirpath), "/proc/%d/fd", (int)pid);
	dir = opendir(dirpath);
	if (!dir) {
		r = -errno;
		free(s.devs);
		free(s.inos);
		return bw_error_set(err, r, "cannot list the fds of process %d: %s", (int)pid,
				    strerror(-r));
	}
	while ((de = readdir(dir)) && scanned++ < MAX_FDS_SCANNED) {
		char fdpath[64 + 256];
		struct stat st;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", dirpath, de->d_name);
		if (stat(fdpath, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_size < MIN_SHARED_RAM)
			continue;
		for (size_t i = 0; i < s.n; i++) {
			if (s.devs[i] != st.st_dev || s.inos[i] != st.st_ino)
				continue;
			if (nnames < sizeof(names) / sizeof(names[0]))
				names[nnames++] = strdup(de->d_name);
			break;
		}
	}
	closedir(dir);
	free(s.devs);
	free(s.inos);
	qsort(names, nnames, sizeof(names[0]), cmp_fd_names);
	out->n = 0;
	for (size_t i = 0; i < nnames; i++) {
		struct bw_ram_backend *b = &out->b[out->n];
		struct stat st;
		bool dup = false;

		if (!names[i])
			continue;
		snprintf(b->path, sizeof(b->path), "%s/%s", dirpath, names[i]);
		if (stat(b->path, &st) < 0)
			continue;
		/* The same file open twice is one backend. */
		for (unsigned int j = 0; j < out->n; j++)
			dup |= seen_dev[j] == st.st_dev && seen_ino[j] == st.st_ino;
		if (dup)
			continue;
		if (out->n == BW_RAM_MAX_BACKENDS) {
			r = bw_error_set(err, -E2BIG, "process %d maps more than %d shared files that "
					 "could be guest RAM", (int)pid, BW_RAM_MAX_BACKENDS);
			break;
		}
		b->fd = -1;
		{
			char link[256];
			ssize_t l = readlink(b->path, link, sizeof(link) - 1);

			link[l > 0 ? l : 0] = '\0';
			snprintf(b->name, sizeof(b->name), "%.63s", link);
		}
		seen_dev[out->n] = st.st_dev;
		seen_ino[out->n] = st.st_ino;
		out->n++;
	}
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	return r;
}

/* Private mappings: the sizes QEMU named, each once, in candidate order. */
static void pick_wanted(pid_t pid, const uint64_t *addr, const uint64_t *size, size_t n,
			const uint64_t *want, unsigned int nwant, struct bw_ram_backends *out)
{
	bool used[BW_QEMU_MAX_CANDIDATES] = { false };

	for (unsigned int w = 0; w < nwant; w++) {
		for (size_t i = 0; i < n && i < BW_QEMU_MAX_CANDIDATES; i++) {
			struct bw_ram_backend *b;

			if (used[i] || size[i] != want[w])
				continue;
			used[i] = true;
			b = &out->b[out->n++];
			b->fd = -1;
			b->pid = pid;
			b->addr = addr[i];
			b->size = size[i];
			snprintf(b->name, sizeof(b->name), "private");
			break;
		}
	}
}

/* Mappings read with process_vm_readv: the sizes wanted, else the largest. */
static int pick(pid_t pid, const uint64_t *addr, const uint64_t *size, size_t n,
		const uint64_t *want_sizes, unsigned int nwant, const char *what,
		struct bw_ram_backends *out, struct bw_error *err)
{
	if (nwant > 0 && nwant <= BW_RAM_MAX_BACKENDS) {
		pick_wanted(pid, addr, size, n, want_sizes, nwant, out);
		if (out->n != nwant)
			return bw_error_set(err, -ENOENT, "process %d has %u of the %u RAM mappings "
					    "of the sizes QEMU's memory backends have", (int)pid,
					    out->n, nwant);
		snprintf(out->why, sizeof(out->why), "%u %s%s in process %d of the sizes QMP gave, "
			 "read with process_vm_readv", out->n, what, out->n == 1 ? "" : "s",
			 (int)pid);
		return 0;
	}
	/* The largest; several only when of equal size (one per NUMA node). */
	for (size_t i = 0; i < n && i < BW_RAM_MAX_BACKENDS && size[i] == size[0]; i++) {
		struct bw_ram_backend *b = &out->b[out->n++];

		b->fd = -1;
		b->pid = pid;
		b->addr = addr[i];
		b->size = size[i];
		snprintf(b->name, sizeof(b->name), "%s", what);
	}
	snprintf(out->why, sizeof(out->why), "no shared RAM backend open to us: %u %s%s of %"
		 PRIu64 " MiB in process %d, read with process_vm_readv", out->n, what,
		 out->n == 1 ? "" : "s", size[0] >> 20, (int)pid);
	return 0;
}

int bw_qemu_find_ram(pid_t pid, const uint64_t *want_sizes, unsigned int nwant,
		     struct bw_ram_backends *out, struct bw_error *err)
{
	uint64_t addr[BW_QEMU_MAX_CANDIDATES], size[BW_QEMU_MAX_CANDIDATES];
	size_t n = 0, len = 0;
	char *maps;
	int r;

	memset(out, 0, sizeof(*out));
	r = read_maps(pid, &maps, &len);
	if (r < 0)
		return bw_error_set(err, r, "cannot read the mappings of process %d: %s", (int)pid,
				    strerror(-r));
	r = find_shared(pid, maps, len, out, err);
	if (r == -EACCES) {
		/*
		 * /proc/PID/fd of another user's QEMU is closed to ptrace-read
		 * rights alone (CAP_SYS_PTRACE without CAP_DAC_READ_SEARCH):
		 * its shared RAM mappings are read like private memory.
		 */
		candidates(maps, len, true, addr, size, BW_QEMU_MAX_CANDIDATES, &n, NULL);
		if (n > 0) {
			free(maps);
			return pick(pid, addr, size, n, want_sizes, nwant, "shared mapping", out,
				    err);
		}
		r = 0;	/* no shared RAM: QEMU's private RAM, below */
	}
	if (r < 0 || out->n > 0) {
		if (r == 0)
			snprintf(out->why, sizeof(out->why),
				 "%u shared file%s or memfd%s that process %d maps and holds open",
				 out->n, out->n == 1 ? "" : "s", out->n == 1 ? "" : "s", (int)pid);
		free(maps);
		return r;
	}
	bw_qemu_private_candidates(maps, len, addr, size, BW_QEMU_MAX_CANDIDATES, &n, NULL);
	free(maps);
	if (n == 0)
		return bw_error_set(err, -ENOENT,
				    "process %d has no shared file or memfd mapping and no private "
				    "read-write mapping of %llu MiB or more that could be guest RAM",
				    (int)pid, BW_QEMU_MIN_PRIVATE_RAM >> 20);
	return pick(pid, addr, size, n, want_sizes, nwant, "private anonymous mapping", out, err);
}
