/* SPDX-License-Identifier: MIT */
/*
 * Read-only access to a guest's RAM through the file (or memfd) that backs
 * it.  The file is opened O_RDONLY and mapped PROT_READ, MAP_SHARED, so we
 * see the guest's writes as they happen and can never write back.  Every
 * read is bounds-checked against the layout and guarded against the file
 * shrinking under the mapping (see fault_guard.h).
 */
#ifndef BPFWATCH_GUEST_RAM_H
#define BPFWATCH_GUEST_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addrspace.h"
#include "error.h"
#include "load.h"
#include "ram_layout.h"

struct bw_ram;

struct bw_ram_source {
	const char *path;	/* a RAM file, or /proc/PID/fd/N of a memfd */
	int fd;			/* an inherited fd, when >= 0 (path unused) */
	pid_t pid;		/* a QEMU process whose RAM memfd to find, when > 0 */
};

#define BW_RAM_SOURCE_INIT { .path = NULL, .fd = -1, .pid = 0 }

int bw_ram_open(const struct bw_ram_source *source, const struct bw_layout_spec *layout,
		struct bw_ram **out, struct bw_error *err);
void bw_ram_close(struct bw_ram *ram);

/* What we opened, for messages: the path, "fd N" or the found memfd path. */
const char *bw_ram_describe(const struct bw_ram *ram);
uint64_t bw_ram_file_size(const struct bw_ram *ram);
const struct bw_layout *bw_ram_layout(const struct bw_ram *ram);

/* Copy guest-physical bytes; a read may span adjacent regions. */
int bw_ram_read(struct bw_ram *ram, uint64_t gpa, void *buf, size_t len, struct bw_error *err);

/*
 * The file offset of @len bytes at @gpa, which must lie in one region:
 * the cached form of a location that a sampler re-reads every tick.
 */
int bw_ram_locate(const struct bw_ram *ram, uint64_t gpa, size_t len, uint64_t *file_offset,
		  struct bw_error *err);

/* One untorn load of @width bytes at a file offset found by bw_ram_locate(). */
int bw_ram_load_at(struct bw_ram *ram, uint64_t file_offset, unsigned int width,
		   uint64_t *out, struct bw_error *err);

/*
 * bw_ram_load_at() for many values at once: @loads[i] is a file offset
 * found by bw_ram_locate() and a width, loaded untorn into @out[i] under
 * one fault guard for the whole batch (fault_guard.h).  Stops at the first
 * load that fails, with the error bw_ram_load_at() gives for it (-EFAULT
 * outside the file, -EINVAL misaligned, -EIO when the mapping faulted, now
 * or before); *done is the number of loads made, out[0..*done) holding
 * them: n on success, else the index of the failed load.  A caller that
 * wants the rest goes on from *done + 1.
 */
int bw_ram_load_batch(struct bw_ram *ram, const struct bw_load *loads, size_t n, uint64_t *out,
		      size_t *done, struct bw_error *err);

/*
 * Is the mapping still backed?  Detects a file that shrank or was replaced
 * (re-checks the size with fstat) and any fault seen since open.
 */
int bw_ram_check(struct bw_ram *ram, struct bw_error *err);

/*
 * Call @fn for each page-aligned GPA whose page holds data in the file,
 * skipping holes (never-touched RAM) without faulting them in, with a copy
 * of the page's @page_size bytes.  The pages are read
 * with pread() in large windows, not through the mapping: a first touch of
 * every page of a mapping costs far more than copying it, and a read never
 * raises SIGBUS.  Stops when @fn returns non-zero and returns that value;
 * -EIO when the file shrank under the walk.
 */
int bw_ram_for_each_page(struct bw_ram *ram, uint64_t page_size,
			 int (*fn)(void *ctx, uint64_t gpa, const uint8_t *page), void *ctx);

/* The guest-physical address space over this RAM. */
struct bw_addrspace bw_ram_addrspace(struct bw_ram *ram);

/* For `--memory-pid`: the /proc/PID/fd/N path of QEMU's RAM backend. */
int bw_ram_find_qemu_memfd(pid_t pid, char *path, size_t path_size, struct bw_error *err);

#endif
