/* SPDX-License-Identifier: MIT */
#include "guest_ram.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fault_guard.h"

/* A QEMU process has a few hundred fds at most; bound the scan anyway. */
#define MAX_FDS_SCANNED 65536
#define MAX_MAPS_LINES 1000000

struct bw_ram {
	int fd;
	const uint8_t *map;
	uint64_t size;		/* file size at open = mapping length */
	dev_t dev;
	ino_t ino;
	bool faulted;
	struct bw_layout layout;
	char description[256];
};

static int open_source(const struct bw_ram_source *source, int *fd, char *desc, size_t desc_size,
		       struct bw_error *err)
{
	char found[64];
	const char *path = source->path;
	int r;

	if (source->fd >= 0) {
		/* Reopen read-only: the inherited fd may be writable, our mapping never is. */
		char self[64];

		snprintf(self, sizeof(self), "/proc/self/fd/%d", source->fd);
		*fd = open(self, O_RDONLY | O_CLOEXEC);
		if (*fd < 0)
			return bw_error_set(err, -errno, "cannot reopen inherited fd %d read-only: %s",
					    source->fd, strerror(errno));
		snprintf(desc, desc_size, "fd %d", source->fd);
		return 0;
	}
	if (source->pid > 0) {
		r = bw_ram_find_qemu_memfd(source->pid, found, sizeof(found), err);
		if (r < 0)
			return r;
		path = found;
	}
	if (!path)
		return bw_error_set(err, -EINVAL, "no guest memory given (path, fd or QEMU pid)");
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return bw_error_set(err, -errno, "cannot open guest memory %s: %s", path,
				    strerror(errno));
	snprintf(desc, desc_size, "%s", path);
	return 0;
}

int bw_ram_open(const struct bw_ram_source *source, const struct bw_layout_spec *layout,
		struct bw_ram **out, struct bw_error *err)
{
	struct bw_ram *ram;
	struct stat st;
	void *map;
	int r;

	*out = NULL;
	r = bw_fault_guard_init();
	if (r < 0)
		return bw_error_set(err, r, "cannot install the SIGBUS guard: %s", strerror(-r));
	ram = calloc(1, sizeof(*ram));
	if (!ram)
		return bw_error_set(err, -ENOMEM, "out of memory");
	ram->fd = -1;
	r = open_source(source, &ram->fd, ram->description, sizeof(ram->description), err);
	if (r < 0)
		goto fail;
	if (fstat(ram->fd, &st) < 0) {
		r = bw_error_set(err, -errno, "cannot stat %s: %s", ram->description, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = bw_error_set(err, -EINVAL, "%s is not a regular file or memfd", ram->description);
		goto fail;
	}
	ram->size = (uint64_t)st.st_size;
	ram->dev = st.st_dev;
	ram->ino = st.st_ino;
	r = bw_layout_apply(layout, ram->size, &ram->layout, err);
	if (r < 0) {
		bw_error_prefix(err, "%s", ram->description);
		goto fail;
	}
	map = mmap(NULL, ram->size, PROT_READ, MAP_SHARED | MAP_NORESERVE, ram->fd, 0);
	if (map == MAP_FAILED) {
		r = bw_error_set(err, -errno, "cannot map %s read-only: %s", ram->description,
				 strerror(errno));
		goto fail;
	}
	ram->map = map;
	*out = ram;
	return 0;
fail:
	bw_ram_close(ram);
	return r;
}

void bw_ram_close(struct bw_ram *ram)
{
	if (!ram)
		return;
	if (ram->map)
		munmap((void *)ram->map, ram->size);
	if (ram->fd >= 0)
		close(ram->fd);
	free(ram);
}

const char *bw_ram_describe(const struct bw_ram *ram) { return ram->description; }
uint64_t bw_ram_file_size(const struct bw_ram *ram) { return ram->size; }
const struct bw_layout *bw_ram_layout(const struct bw_ram *ram) { return &ram->layout; }

static const struct bw_ram_region *region_of(const struct bw_ram *ram, uint64_t gpa)
{
	for (unsigned int i = 0; i < ram->layout.nregions; i++) {
		const struct bw_ram_region *r = &ram->layout.regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

int bw_ram_locate(const struct bw_ram *ram, uint64_t gpa, size_t len, uint64_t *file_offset,
		  struct bw_error *err)
{
	const struct bw_ram_region *r = region_of(ram, gpa);

	if (!r)
		return bw_error_set(err, -EFAULT, "guest physical address %#" PRIx64
				    " is not RAM", gpa);
	if (len > r->size - (gpa - r->gpa))
		return bw_error_set(err, -EFAULT, "%zu bytes at guest physical address %#" PRIx64
				    " run past the end of RAM", len, gpa);
	*file_offset = r->offset + (gpa - r->gpa);
	return 0;
}

static int fault_error(struct bw_ram *ram, uint64_t gpa, struct bw_error *err)
{
	ram->faulted = true;
	return bw_error_set(err, -EIO, "guest memory %s faulted reading %#" PRIx64
			    " (the file shrank or went away)", ram->description, gpa);
}

int bw_ram_read(struct bw_ram *ram, uint64_t gpa, void *buf, size_t len, struct bw_error *err)
{
	uint8_t *dst = buf;

	while (len > 0) {
		const struct bw_ram_region *r = region_of(ram, gpa);
		uint64_t offset, chunk;

		if (!r)
			return bw_error_set(err, -EFAULT, "guest physical address %#" PRIx64
					    " is not RAM", gpa);
		offset = r->offset + (gpa - r->gpa);
		chunk = r->size - (gpa - r->gpa);
		if (chunk > len)
			chunk = len;
		if (ram->faulted || bw_guarded_copy(dst, ram->map + offset, chunk) < 0)
			return fault_error(ram, gpa, err);
		dst += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

int bw_ram_load_at(struct bw_ram *ram, uint64_t file_offset, unsigned int width,
		   uint64_t *out, struct bw_error *err)
{
	int r;

	if (file_offset > ram->size || width > ram->size - file_offset)
		return bw_error_set(err, -EFAULT, "file offset %#" PRIx64 " is outside %s",
				    file_offset, ram->description);
	if (ram->faulted)
		return fault_error(ram, file_offset, err);
	r = bw_guarded_load(ram->map + file_offset, width, out);
	if (r == -EFAULT)
		return fault_error(ram, file_offset, err);
	if (r < 0)
		return bw_error_set(err, r, "misaligned %u-byte load at file offset %#" PRIx64,
				    width, file_offset);
	return 0;
}

int bw_ram_load_batch(struct bw_ram *ram, const struct bw_load *loads, size_t n, uint64_t *out,
		      size_t *done, struct bw_error *err)
{
	uint64_t off;
	int r;

	*done = 0;
	if (n == 0)
		return 0;
	if (ram->faulted)
		return fault_error(ram, loads[0].offset, err);
	r = bw_guarded_load_batch(ram->map, ram->size, loads, n, out, done);
	if (r == 0)
		return 0;
	off = loads[*done].offset;
	if (r == -ERANGE)
		return bw_error_set(err, -EFAULT, "file offset %#" PRIx64 " is outside %s", off,
				    ram->description);
	if (r == -EFAULT)
		return fault_error(ram, off, err);
	return bw_error_set(err, r, "misaligned %u-byte load at file offset %#" PRIx64,
			    loads[*done].width, off);
}

int bw_ram_check(struct bw_ram *ram, struct bw_error *err)
{
	struct stat st;

	if (ram->faulted)
		return bw_error_set(err, -EIO, "guest memory %s faulted earlier", ram->description);
	if (fstat(ram->fd, &st) < 0)
		return bw_error_set(err, -errno, "cannot stat %s: %s", ram->description,
				    strerror(errno));
	if ((uint64_t)st.st_size < ram->size)
		return bw_error_set(err, -EIO, "guest memory %s shrank from %" PRIu64 " to %jd bytes",
				    ram->description, ram->size, (intmax_t)st.st_size);
	if (st.st_nlink == 0 && ram->description[0] == '/' &&
	    strncmp(ram->description, "/proc/", 6) != 0) {
		/* Unlinked RAM file: QEMU has gone; a new guest will create a new file. */
		return bw_error_set(err, -ENOENT, "guest memory %s was removed", ram->description);
	}
	return 0;
}

/* Pages handed to a page walk per pread(): big enough to amortise the call. */
#define PAGE_WALK_WINDOW (2u << 20)

/* One data extent [start, end) of the file, belonging to region @reg. */
static int walk_extent(struct bw_ram *ram, const struct bw_ram_region *reg, uint64_t start,
		       uint64_t end, uint64_t page_size, uint8_t *window,
		       int (*fn)(void *ctx, uint64_t gpa, const uint8_t *page), void *ctx)
{
	uint64_t off = (start + page_size - 1) & ~(page_size - 1);

	while (off + page_size <= end) {
		uint64_t pages = (end - off) / page_size;
		uint64_t max_pages = PAGE_WALK_WINDOW / page_size;
		size_t len;
		ssize_t got;

		if (pages > max_pages)
			pages = max_pages;
		len = (size_t)(pages * page_size);
		got = pread(ram->fd, window, len, (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < (ssize_t)len) {
			ram->faulted = true;
			return -EIO;
		}
		for (uint64_t i = 0; i < pages; i++) {
			int r = fn(ctx, reg->gpa + (off + i * page_size - reg->offset),
				   window + i * page_size);

			if (r)
				return r;
		}
		off += len;
	}
	return 0;
}

int bw_ram_for_each_page(struct bw_ram *ram, uint64_t page_size,
			 int (*fn)(void *ctx, uint64_t gpa, const uint8_t *page), void *ctx)
{
	uint8_t *window;
	int r = 0;

	if (page_size == 0 || (page_size & (page_size - 1)) || page_size > PAGE_WALK_WINDOW)
		return -EINVAL;
	if (ram->faulted)
		return -EIO;
	window = malloc(PAGE_WALK_WINDOW);
	if (!window)
		return -ENOMEM;
	for (unsigned int i = 0; i < ram->layout.nregions && r == 0; i++) {
		const struct bw_ram_region *reg = &ram->layout.regions[i];
		uint64_t pos = reg->offset, end = reg->offset + reg->size;

		while (pos < end && r == 0) {
			off_t data = lseek(ram->fd, (off_t)pos, SEEK_DATA);
			off_t hole;

			if (data < 0) {
				if (errno == ENXIO)
					break;	/* only holes from here on */
				data = (off_t)pos;	/* no SEEK_DATA: treat all as data */
				hole = (off_t)end;
			} else {
				hole = lseek(ram->fd, data, SEEK_HOLE);
				if (hole < 0)
					hole = (off_t)end;
			}
			if ((uint64_t)data >= end)
				break;
			if ((uint64_t)hole > end)
				hole = (off_t)end;
			r = walk_extent(ram, reg, (uint64_t)data, (uint64_t)hole, page_size, window,
					fn, ctx);
			pos = (uint64_t)hole > pos ? (uint64_t)hole : end;
		}
	}
	free(window);
	return r;
}

static int ram_as_read(void *ctx, uint64_t addr, void *buf, size_t len, struct bw_error *err)
{
	return bw_ram_read(ctx, addr, buf, len, err);
}

struct bw_addrspace bw_ram_addrspace(struct bw_ram *ram)
{
	return (struct bw_addrspace){ .read = ram_as_read, .ctx = ram };
}

/* (dev, inode) of every shared file mapping of @pid: guest RAM is one of them. */
static int shared_mappings(pid_t pid, dev_t **devs, ino_t **inos, size_t *count)
{
	char path[64], *line = NULL;
	size_t cap = 0, n = 0, alloc = 0;
	unsigned int lines = 0;
	FILE *f;

	*devs = NULL;
	*inos = NULL;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0 && lines++ < MAX_MAPS_LINES) {
		char perms[8];
		unsigned int major, minor;
		unsigned long long inode;

		if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu", perms, &major, &minor,
			   &inode) != 4 || perms[3] != 's' || inode == 0)
			continue;
		if (n == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			dev_t *nd = realloc(*devs, na * sizeof(**devs));
			ino_t *ni;

			if (!nd)
				break;
			*devs = nd;
			ni = realloc(*inos, na * sizeof(**inos));
			if (!ni)
				break;
			*inos = ni;
			alloc = na;
		}
		(*devs)[n] = makedev(major, minor);
		(*inos)[n] = (ino_t)inode;
		n++;
	}
	free(line);
	fclose(f);
	*count = n;
	return 0;
}

int bw_ram_find_qemu_memfd(pid_t pid, char *out, size_t out_size, struct bw_error *err)
{
	dev_t *devs;
	ino_t *inos;
	size_t nmaps = 0;
	char dirpath[64];
	off_t best_size = 0;
	unsigned int scanned = 0;
	struct dirent *de;
	DIR *dir;
	int r;

	r = shared_mappings(pid, &devs, &inos, &nmaps);
	if (r < 0)
		return bw_error_set(err, r, "cannot read the mappings of process %d: %s", (int)pid,
				    strerror(-r));
	snprintf(dirpath, sizeof(dirpath), "/proc/%d/fd", (int)pid);
	dir = opendir(dirpath);
	if (!dir) {
		r = -errno;
		free(devs);
		free(inos);
		return bw_error_set(err, r, "cannot list the fds of process %d: %s", (int)pid,
				    strerror(-r));
	}
	out[0] = '\0';
	while ((de = readdir(dir)) && scanned++ < MAX_FDS_SCANNED) {
		char fdpath[64 + 256];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", dirpath, de->d_name);
		if (stat(fdpath, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		for (size_t i = 0; i < nmaps; i++) {
			if (devs[i] == st.st_dev && inos[i] == st.st_ino && st.st_size > best_size) {
				best_size = st.st_size;
				snprintf(out, out_size, "%s", fdpath);
				break;
			}
		}
	}
	closedir(dir);
	free(devs);
	free(inos);
	if (!out[0])
		return bw_error_set(err, -ENOENT,
				    "process %d has no shared file or memfd mapping that could be guest RAM "
				    "(start QEMU with a memory-backend-memfd or memory-backend-file with share=on)",
				    (int)pid);
	return 0;
}
