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
#include <sys/uio.h>
#include <limits.h>
#include <unistd.h>

#include "fault_guard.h"

#include "qemu_ram.h"

struct backend {
	int fd;			/* shared; -1 for private */
	dev_t dev;
	ino_t ino;
	uint64_t base;		/* where it starts in the concatenation */
	uint64_t size;
	uint64_t addr;		/* private: its address in the process */
};

struct bw_ram {
	unsigned int nbackends;
	struct backend b[BW_RAM_MAX_BACKENDS];
	pid_t pid;		/* > 0: private, read with process_vm_readv */
	int pagemap_fd;		/* private: /proc/PID/pagemap, or -1 */
	const uint8_t *map;	/* shared: every backend, side by side */
	uint64_t size;		/* all backends = mapping length */
	bool faulted;
	struct bw_layout layout;
	/* private: a batch's spans (remote and local iovecs), grown on demand */
	struct iovec *liov, *riov;
	size_t niov, nliov;
	uint64_t *remote;	/* each load's remote address */
	size_t remote_cap;
	uint32_t *span_of;	/* each load's span */
	size_t span_of_cap;
	uint8_t *scratch;	/* the spans' bytes */
	size_t scratch_cap;
	char description[512];
};

static int open_shared(const struct bw_ram_backend *spec, int *fd, char *desc, size_t desc_size,
		       struct bw_error *err)
{
	if (spec->fd >= 0) {
		/* Reopen read-only: the inherited fd may be writable, our mapping never is. */
		char self[64];

		snprintf(self, sizeof(self), "/proc/self/fd/%d", spec->fd);
		*fd = open(self, O_RDONLY | O_CLOEXEC);
		if (*fd < 0)
			return bw_error_set(err, -errno, "cannot reopen inherited fd %d read-only: %s",
					    spec->fd, strerror(errno));
		snprintf(desc, desc_size, "fd %d", spec->fd);
		return 0;
	}
	if (!spec->path[0])
		return bw_error_set(err, -EINVAL, "no guest memory given (path, fd or QEMU pid)");
	*fd = open(spec->path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return bw_error_set(err, -errno, "cannot open guest memory %s: %s", spec->path,
				    strerror(errno));
	snprintf(desc, desc_size, "%s", spec->path);
	return 0;
}

int bw_ram_resolve_source(const struct bw_ram_source *source, struct bw_ram_backends *out,
			  struct bw_error *err)
{
	memset(out, 0, sizeof(*out));
	if (source->pid > 0)
		return bw_qemu_find_ram(source->pid, NULL, 0, out, err);
	if (source->fd >= 0) {
		out->n = 1;
		out->b[0].fd = source->fd;
		snprintf(out->why, sizeof(out->why), "inherited fd %d", source->fd);
		return 0;
	}
	if (source->npaths == 0)
		return bw_error_set(err, -EINVAL, "no guest memory given (path, fd or QEMU pid)");
	if (source->npaths > BW_RAM_MAX_BACKENDS)
		return bw_error_set(err, -E2BIG, "%u guest memory files: at most %d",
				    source->npaths, BW_RAM_MAX_BACKENDS);
	for (unsigned int i = 0; i < source->npaths; i++) {
		if (!source->paths[i] || !source->paths[i][0])
			return bw_error_set(err, -EINVAL, "guest memory file %u has no path", i + 1);
		if (strlen(source->paths[i]) >= sizeof(out->b[i].path))
			return bw_error_set(err, -ENAMETOOLONG, "guest memory path %.64s... is too long",
					    source->paths[i]);
		out->b[i].fd = -1;
		snprintf(out->b[i].path, sizeof(out->b[i].path), "%s", source->paths[i]);
	}
	out->n = source->npaths;
	snprintf(out->why, sizeof(out->why), "%u file%s given, in guest-physical order",
		 out->n, out->n == 1 ? "" : "s");
	return 0;
}

int bw_ram_open(const struct bw_ram_source *source, const struct bw_layout_spec *layout,
		struct bw_ram **out, struct bw_error *err)
{
	struct bw_ram_backends backends;
	int r;

	*out = NULL;
	r = bw_ram_resolve_source(source, &backends, err);
	if (r < 0)
		return r;
	return bw_ram_open_backends(&backends, layout, out, err);
}

static void append_desc(struct bw_ram *ram, const char *text)
{
	size_t len = strlen(ram->description);

	snprintf(ram->description + len, sizeof(ram->description) - len, "%s%s",
		 len ? " + " : "", text);
}

/* Shared backends, mapped one after the other into one reserved range. */
static int map_shared(struct bw_ram *ram, struct bw_error *err)
{
	uint8_t *base = mmap(NULL, ram->size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			     -1, 0);

	if (base == MAP_FAILED)
		return bw_error_set(err, -errno, "cannot reserve %" PRIu64 " bytes of address space: %s",
				    ram->size, strerror(errno));
	ram->map = base;
	for (unsigned int i = 0; i < ram->nbackends; i++) {
		const struct backend *b = &ram->b[i];
		void *m = mmap(base + b->base, b->size, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_NORESERVE,
			       b->fd, 0);

		if (m == MAP_FAILED)
			return bw_error_set(err, -errno, "cannot map %s read-only: %s",
					    ram->description, strerror(errno));
	}
	return 0;
}

static int add_shared(struct bw_ram *ram, const struct bw_ram_backend *spec, struct bw_error *err)
{
	struct backend *b = &ram->b[ram->nbackends];
	char desc[sizeof(spec->path)];
	struct stat st;
	int r;

	b->fd = -1;
	r = open_shared(spec, &b->fd, desc, sizeof(desc), err);
	ram->nbackends++;
	if (r < 0)
		return r;
	append_desc(ram, desc);
	if (fstat(b->fd, &st) < 0)
		return bw_error_set(err, -errno, "cannot stat %s: %s", desc, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bw_error_set(err, -EINVAL, "%s is not a regular file or memfd", desc);
	if (st.st_size == 0)
		return bw_error_set(err, -ENODATA, "guest RAM file %s is empty", desc);
	b->size = (uint64_t)st.st_size;
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	return 0;
}

static int add_private(struct bw_ram *ram, const struct bw_ram_backend *spec, struct bw_error *err)
{
	struct backend *b = &ram->b[ram->nbackends++];
	char desc[128];

	b->fd = -1;
	if (spec->pid <= 0 || spec->size == 0 || spec->addr + spec->size < spec->addr)
		return bw_error_set(err, -EINVAL, "private guest memory needs a process and a range");
	if (ram->pid && ram->pid != spec->pid)
		return bw_error_set(err, -EINVAL, "private guest memory from two processes");
	if (!ram->pid) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)spec->pid);
		ram->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	ram->pid = spec->pid;
	b->addr = spec->addr;
	b->size = spec->size;
	snprintf(desc, sizeof(desc), "process %d at %#" PRIx64 " (%" PRIu64 " MiB%s%s)",
		 (int)spec->pid, spec->addr, spec->size >> 20, spec->name[0] ? ", " : "", spec->name);
	append_desc(ram, desc);
	return 0;
}

int bw_ram_open_backends(const struct bw_ram_backends *backends,
			 const struct bw_layout_spec *layout, struct bw_ram **out,
			 struct bw_error *err)
{
	struct bw_ram *ram;
	int r = 0;

	*out = NULL;
	if (backends->n == 0 || backends->n > BW_RAM_MAX_BACKENDS)
		return bw_error_set(err, -EINVAL, "%u guest memory backends: give 1 to %d",
				    backends->n, BW_RAM_MAX_BACKENDS);
	r = bw_fault_guard_init();
	if (r < 0)
		return bw_error_set(err, r, "cannot install the SIGBUS guard: %s", strerror(-r));
	ram = calloc(1, sizeof(*ram));
	if (!ram)
		return bw_error_set(err, -ENOMEM, "out of memory");
	ram->pagemap_fd = -1;
	for (unsigned int i = 0; i < backends->n && r == 0; i++) {
		const struct bw_ram_backend *spec = &backends->b[i];
		bool priv = spec->pid > 0;

		if (i > 0 && priv != (ram->pid > 0)) {
			r = bw_error_set(err, -EINVAL, "guest memory mixes shared files and private "
					 "process memory");
			break;
		}
		r = priv ? add_private(ram, spec, err) : add_shared(ram, spec, err);
		if (r < 0)
			break;
		/* Concatenated backends are page-aligned, as QEMU's RAM blocks are. */
		if (backends->n > 1 && ram->b[i].size % 4096) {
			r = bw_error_set(err, -EINVAL, "guest memory %s: backend %u is %" PRIu64
					 " bytes, not whole pages", ram->description, i + 1,
					 ram->b[i].size);
			break;
		}
		ram->b[i].base = ram->size;
		if (__builtin_add_overflow(ram->size, ram->b[i].size, &ram->size))
			r = bw_error_set(err, -ERANGE, "guest memory backends overflow");
	}
	if (r == 0) {
		r = bw_layout_apply(layout, ram->size, &ram->layout, err);
		if (r < 0)
			bw_error_prefix(err, "%s", ram->description);
	}
	if (r == 0 && !ram->pid)
		r = map_shared(ram, err);
	if (r < 0) {
		bw_ram_close(ram);
		return r;
	}
	*out = ram;
	return 0;
}

void bw_ram_close(struct bw_ram *ram)
{
	if (!ram)
		return;
	if (ram->map)
		munmap((void *)ram->map, ram->size);
	for (unsigned int i = 0; i < ram->nbackends; i++) {
		if (ram->b[i].fd >= 0)
			close(ram->b[i].fd);
	}
	if (ram->pagemap_fd >= 0)
		close(ram->pagemap_fd);
	free(ram->liov);
	free(ram->riov);
	free(ram->remote);
	free(ram->span_of);
	free(ram->scratch);
	free(ram);
}

const char *bw_ram_describe(const struct bw_ram *ram) { return ram->description; }
uint64_t bw_ram_file_size(const struct bw_ram *ram) { return ram->size; }
const struct bw_layout *bw_ram_layout(const struct bw_ram *ram) { return &ram->layout; }
bool bw_ram_is_private(const struct bw_ram *ram) { return ram->pid > 0; }
unsigned int bw_ram_nbackends(const struct bw_ram *ram) { return ram->nbackends; }

const char *bw_ram_access(const struct bw_ram *ram)
{
	return ram->pid > 0 ? "process_vm_readv" : "shared mapping";
}

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
	if (ram->pid > 0)
		return bw_error_set(err, -EIO, "guest memory %s could not be read at %#" PRIx64
				    " (the process went away or unmapped it)", ram->description, gpa);
	return bw_error_set(err, -EIO, "guest memory %s faulted reading %#" PRIx64
			    " (the file shrank or went away)", ram->description, gpa);
}

/* Private: the backend holding offset @off and the bytes left in it from there. */
static const struct backend *backend_at(const struct bw_ram *ram, uint64_t off, uint64_t *left)
{
	for (unsigned int i = 0; i < ram->nbackends; i++) {
		const struct backend *b = &ram->b[i];

		if (off >= b->base && off - b->base < b->size) {
			*left = b->size - (off - b->base);
			return b;
		}
	}
	return NULL;
}

/* Private: @len bytes at concatenation offset @off, split at backend ends. */
static int remote_copy(struct bw_ram *ram, uint64_t off, void *dst, uint64_t len)
{
	uint8_t *d = dst;

	while (len > 0) {
		uint64_t left;
		const struct backend *b = backend_at(ram, off, &left);
		struct iovec liov, riov;
		ssize_t got;

		if (!b)
			return -EFAULT;
		if (left > len)
			left = len;
		liov = (struct iovec){ .iov_base = d, .iov_len = left };
		riov = (struct iovec){ .iov_base = (void *)(uintptr_t)(b->addr + (off - b->base)),
				       .iov_len = left };
		got = process_vm_readv(ram->pid, &liov, 1, &riov, 1, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -EIO;
		d += got;
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
	return 0;
}

int bw_ram_read(struct bw_ram *ram, uint64_t gpa, void *buf, size_t len, struct bw_error *err)
{
	uint8_t *dst = buf;

	while (len > 0) {
		const struct bw_ram_region *r = region_of(ram, gpa);
		uint64_t offset, chunk;
		int rc;

		if (!r)
			return bw_error_set(err, -EFAULT, "guest physical address %#" PRIx64
					    " is not RAM", gpa);
		offset = r->offset + (gpa - r->gpa);
		chunk = r->size - (gpa - r->gpa);
		if (chunk > len)
			chunk = len;
		if (ram->faulted)
			return fault_error(ram, gpa, err);
		rc = ram->pid > 0 ? remote_copy(ram, offset, dst, chunk) :
				    bw_guarded_copy(dst, ram->map + offset, chunk);
		if (rc < 0)
			return fault_error(ram, gpa, err);
		dst += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

static bool width_ok(uint64_t off, unsigned int width)
{
	return (width == 1 || width == 2 || width == 4 || width == 8) && off % width == 0;
}

/* Grow @p to hold @n elements of @size bytes. */
static int grow(void **p, size_t *cap, size_t n, size_t size)
{
	void *np;

	if (n <= *cap)
		return 0;
	np = realloc(*p, n * size);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = n;
	return 0;
}

/*
 * Private loads: neighbours in one page become one remote iovec (the
 * kernel pins a page per iovec, the dearest part of the call), and the
 * spans go in one process_vm_readv per IOV_MAX of them, into a scratch
 * buffer the values are then taken from.
 */
static int remote_load_batch(struct bw_ram *ram, const struct bw_load *loads, size_t n,
			     uint64_t *out, size_t *done)
{
	size_t valid = 0, nspans = 0, total = 0, base = 0, s = 0;
	int r = 0;

	/* The loads up to the first bad one, each in one backend. */
	if (grow((void **)&ram->span_of, &ram->span_of_cap, n, sizeof(*ram->span_of)) < 0 ||
	    grow((void **)&ram->remote, &ram->remote_cap, n, sizeof(*ram->remote)) < 0)
		return -ENOMEM;
	for (; valid < n; valid++) {
		uint64_t off = loads[valid].offset, left;
		unsigned int width = loads[valid].width;
		const struct backend *b;

		if (off > ram->size || width > ram->size - off) {
			r = -ERANGE;
			break;
		}
		if (!width_ok(off, width)) {
			r = -EINVAL;
			break;
		}
		b = backend_at(ram, off, &left);
		if (!b || left < width) {
			r = -ERANGE;
			break;
		}
		ram->remote[valid] = b->addr + (off - b->base);
	}
	/* Spans: consecutive loads within one page share one. */
	for (size_t i = 0, page = 0; i < valid; i++) {
		uint64_t a = ram->remote[i], e = a + loads[i].width;

		if (nspans && (a & ~4095ULL) == page) {
			struct iovec *sp = &ram->riov[nspans - 1];
			uint64_t lo = (uintptr_t)sp->iov_base, hi = lo + sp->iov_len;

			if (a < lo)
				lo = a;
			if (e > hi)
				hi = e;
			sp->iov_base = (void *)(uintptr_t)lo;
			sp->iov_len = hi - lo;
		} else {
			if (grow((void **)&ram->riov, &ram->niov, nspans + 1, sizeof(*ram->riov)) < 0 ||
			    grow((void **)&ram->liov, &ram->nliov, nspans + 1, sizeof(*ram->liov)) < 0)
				return -ENOMEM;
			ram->riov[nspans++] = (struct iovec){
				.iov_base = (void *)(uintptr_t)a, .iov_len = loads[i].width };
			page = a & ~4095ULL;
		}
		ram->span_of[i] = (uint32_t)(nspans - 1);
	}
	for (size_t k = 0; k < nspans; k++)
		total += ram->riov[k].iov_len;
	if (grow((void **)&ram->scratch, &ram->scratch_cap, total ? total : 1, 1) < 0)
		return -ENOMEM;
	for (size_t k = 0; k < nspans; k++) {
		ram->liov[k] = (struct iovec){ .iov_base = ram->scratch + base,
					       .iov_len = ram->riov[k].iov_len };
		base += ram->riov[k].iov_len;
	}
	/* Read the spans, IOV_MAX at a time; s counts those read whole. */
	while (s < nspans) {
		size_t k = nspans - s < IOV_MAX ? nspans - s : IOV_MAX;
		ssize_t want = 0, got;

		for (size_t j = 0; j < k; j++)
			want += (ssize_t)ram->riov[s + j].iov_len;
		got = process_vm_readv(ram->pid, ram->liov + s, k, ram->riov + s, k, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got == want) {
			s += k;
			continue;
		}
		for (ssize_t sum = 0; got > 0 && sum + (ssize_t)ram->riov[s].iov_len <= got; s++)
			sum += (ssize_t)ram->riov[s].iov_len;
		r = -EFAULT;
		break;
	}
	/* The values of the loads whose spans were read. */
	*done = 0;
	for (size_t i = 0; i < valid && ram->span_of[i] < s; i++) {
		const struct iovec *sp = &ram->riov[ram->span_of[i]];
		const uint8_t *src = (const uint8_t *)ram->liov[ram->span_of[i]].iov_base +
				     (ram->remote[i] - (uintptr_t)sp->iov_base);

		out[i] = 0;	/* little-endian: a narrow load fills the low bytes */
		memcpy(&out[i], src, loads[i].width);
		*done = i + 1;
	}
	return *done == n ? 0 : (r ? r : -EFAULT);
}

int bw_ram_load_at(struct bw_ram *ram, uint64_t file_offset, unsigned int width,
		   uint64_t *out, struct bw_error *err)
{
	struct bw_load load = { .offset = file_offset, .width = width };
	size_t done;

	return bw_ram_load_batch(ram, &load, 1, out, &done, err);
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
	if (ram->pid > 0)
		r = remote_load_batch(ram, loads, n, out, done);
	else
		r = bw_guarded_load_batch(ram->map, ram->size, loads, n, out, done);
	if (r == 0)
		return 0;
	if (r == -ENOMEM)
		return bw_error_set(err, r, "out of memory");
	off = loads[*done].offset;
	if (r == -ERANGE)
		return bw_error_set(err, -EFAULT, "file offset %#" PRIx64 " is outside %s", off,
				    ram->description);
	if (r == -EFAULT)
		return fault_error(ram, off, err);
	return bw_error_set(err, r, "misaligned %u-byte load at file offset %#" PRIx64,
			    loads[*done].width, off);
}

static int check_shared(struct bw_ram *ram, const struct backend *b, struct bw_error *err)
{
	struct stat st;

	if (fstat(b->fd, &st) < 0)
		return bw_error_set(err, -errno, "cannot stat %s: %s", ram->description,
				    strerror(errno));
	if ((uint64_t)st.st_size < b->size)
		return bw_error_set(err, -EIO, "guest memory %s shrank from %" PRIu64 " to %jd bytes",
				    ram->description, b->size, (intmax_t)st.st_size);
	if (st.st_nlink == 0 && ram->description[0] == '/' &&
	    strncmp(ram->description, "/proc/", 6) != 0) {
		/* Unlinked RAM file: QEMU has gone; a new guest will create a new file. */
		return bw_error_set(err, -ENOENT, "guest memory %s was removed", ram->description);
	}
	return 0;
}

int bw_ram_check(struct bw_ram *ram, struct bw_error *err)
{
	if (ram->faulted)
		return bw_error_set(err, -EIO, "guest memory %s faulted earlier", ram->description);
	for (unsigned int i = 0; i < ram->nbackends; i++) {
		const struct backend *b = &ram->b[i];
		uint8_t byte;
		int r;

		if (ram->pid <= 0) {
			r = check_shared(ram, b, err);
		} else {
			/* The process gone, or the range unmapped: the read fails. */
			r = remote_copy(ram, b->base, &byte, 1);
			if (r < 0)
				r = bw_error_set(err, -ENOENT, "guest memory %s cannot be read "
						 "any more: %s", ram->description, strerror(-r));
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Pages handed to a page walk per read: big enough to amortise the call. */
#define PAGE_WALK_WINDOW (2u << 20)

/* Read @len bytes at concatenation offset @off into @window: pread or the process. */
static int window_read(struct bw_ram *ram, uint64_t off, uint8_t *window, size_t len)
{
	size_t got = 0;

	if (ram->pid > 0)
		return remote_copy(ram, off, window, len);
	while (got < len) {
		uint64_t left;
		const struct backend *b = backend_at(ram, off + got, &left);
		ssize_t n;

		if (!b)
			return -EIO;
		if (left > len - got)
			left = len - got;
		n = pread(b->fd, window + got, left, (off_t)(off + got - b->base));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}

/* One data extent [start, end) of the concatenation, belonging to region @reg. */
static int walk_extent(struct bw_ram *ram, const struct bw_ram_region *reg, uint64_t start,
		       uint64_t end, uint64_t page_size, uint8_t *window,
		       int (*fn)(void *ctx, uint64_t gpa, const uint8_t *page), void *ctx)
{
	uint64_t off = (start + page_size - 1) & ~(page_size - 1);

	while (off + page_size <= end) {
		uint64_t pages = (end - off) / page_size;
		uint64_t max_pages = PAGE_WALK_WINDOW / page_size;
		size_t len;

		if (pages > max_pages)
			pages = max_pages;
		len = (size_t)(pages * page_size);
		if (window_read(ram, off, window, len) < 0) {
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

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PRESENT (1ULL << 63)
#define PM_SWAPPED (1ULL << 62)
#define PM_BATCH 512

/*
 * Private memory: the pages QEMU's process has (present or swapped) per
 * /proc/PID/pagemap, so never-touched guest RAM is skipped as a hole is in
 * a file.  Without pagemap, all of it is data.
 */
static void private_next_data(const struct bw_ram *ram, const struct backend *b, uint64_t pos,
			      uint64_t end, uint64_t *data, uint64_t *hole)
{
	uint64_t entries[PM_BATCH];
	bool in_data = false;
	uint64_t p = pos & ~4095ULL;

	*data = pos;
	*hole = end;
	if (ram->pagemap_fd < 0)
		return;
	while (p < end) {
		uint64_t va = b->addr + (p - b->base);
		uint64_t pages = (end - p + 4095) / 4096;
		ssize_t got;

		if (pages > PM_BATCH)
			pages = PM_BATCH;
		got = pread(ram->pagemap_fd, entries, pages * 8, (off_t)(va / 4096 * 8));
		if (got < 8) {
			if (!in_data)
				*data = p > pos ? p : pos;
			*hole = end;	/* unknown from here: read it */
			return;
		}
		for (ssize_t i = 0; i < got / 8; i++, p += 4096) {
			bool has = entries[i] & (PM_PRESENT | PM_SWAPPED);

			if (has && !in_data) {
				in_data = true;
				*data = p > pos ? p : pos;
			} else if (!has && in_data) {
				*hole = p;
				return;
			}
		}
	}
	if (!in_data)
		*data = end;
	*hole = end;
}

/*
 * The next extent of [pos, end) that holds data: SEEK_DATA/SEEK_HOLE in a
 * shared file (never-touched RAM is a hole), all of it for private memory.
 * *data == *hole when there is none.
 */
static void next_data(const struct bw_ram *ram, uint64_t pos, uint64_t end, uint64_t *data,
		      uint64_t *hole)
{
	uint64_t left;
	const struct backend *b = backend_at(ram, pos, &left);
	off_t d, h;

	*data = *hole = end;
	if (!b)
		return;
	if (left > end - pos)
		left = end - pos;
	if (ram->pid > 0) {
		private_next_data(ram, b, pos, pos + left, data, hole);
		return;
	}
	d = lseek(b->fd, (off_t)(pos - b->base), SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO) {	/* only holes to this backend's end */
			*data = *hole = pos + left;
			return;
		}
		*data = pos;	/* no SEEK_DATA: treat all as data */
		*hole = pos + left;
		return;
	}
	h = lseek(b->fd, d, SEEK_HOLE);
	*data = b->base + (uint64_t)d;
	*hole = h < 0 ? pos + left : b->base + (uint64_t)h;
	if (*data > pos + left)
		*data = pos + left;
	if (*hole > pos + left)
		*hole = pos + left;
	if (*hole < *data)
		*hole = *data;
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
			uint64_t data, hole;

			next_data(ram, pos, end, &data, &hole);
			if (data >= end)
				break;
			r = walk_extent(ram, reg, data, hole, page_size, window, fn, ctx);
			pos = hole > pos ? hole : end;
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
