/* SPDX-License-Identifier: MIT */
/*
 * Read-only access to a guest's RAM: one interface over two kinds of
 * memory source.
 *   - shared: the files (or memfds) that back it, opened O_RDONLY and
 *     mapped PROT_READ, MAP_SHARED side by side in one reserved range, so
 *     a load is one instruction and we can never write back.  Guarded
 *     against a file shrinking under the mapping (see fault_guard.h).
 *   - private: the anonymous memory of the QEMU process, read with
 *     process_vm_readv(2) (ptrace-read rights on QEMU; never written).
 *     A batch of loads is one system call with an iovec per load.
 * Several backends (one per NUMA node) are concatenated in guest-physical
 * order and the layout applies to the concatenation, as QEMU does; an
 * "offset" below is an offset into that concatenation.  Every read is
 * bounds-checked against the layout.
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

#define BW_RAM_MAX_BACKENDS 8

/* What the user names: files, an inherited fd, or a QEMU process. */
struct bw_ram_source {
	const char *paths[BW_RAM_MAX_BACKENDS];	/* RAM files in guest-physical order */
	unsigned int npaths;
	int fd;			/* an inherited fd, when >= 0 (paths unused) */
	pid_t pid;		/* a QEMU process whose RAM to find, when > 0 */
};

#define BW_RAM_SOURCE_INIT { .npaths = 0, .fd = -1, .pid = 0 }

/* One backend, resolved: a file to map, or a range of a process to read. */
struct bw_ram_backend {
	char path[64 + 4096];	/* shared: file, or /proc/PID/fd/N; "" when fd/private */
	int fd;			/* shared: an inherited fd to reopen, when >= 0 */
	pid_t pid;		/* private: the process, when > 0 */
	uint64_t addr, size;	/* private: where its RAM lies in that process */
	char name[64];		/* for messages: how it was found (may be "") */
};

struct bw_ram_backends {
	unsigned int n;
	struct bw_ram_backend b[BW_RAM_MAX_BACKENDS];
	char why[256];		/* how they were found, for status */
};

/* The backends @source names (finding QEMU's RAM for a pid, qemu_ram.h). */
int bw_ram_resolve_source(const struct bw_ram_source *source, struct bw_ram_backends *out,
			  struct bw_error *err);

int bw_ram_open(const struct bw_ram_source *source, const struct bw_layout_spec *layout,
		struct bw_ram **out, struct bw_error *err);
/* @backends in guest-physical order. */
int bw_ram_open_backends(const struct bw_ram_backends *backends,
			 const struct bw_layout_spec *layout, struct bw_ram **out,
			 struct bw_error *err);
void bw_ram_close(struct bw_ram *ram);

/* What we opened, for messages: the paths, "fd N", or "process P at ADDR". */
const char *bw_ram_describe(const struct bw_ram *ram);
/* How it is read: "shared mapping" or "process_vm_readv". */
const char *bw_ram_access(const struct bw_ram *ram);
bool bw_ram_is_private(const struct bw_ram *ram);
unsigned int bw_ram_nbackends(const struct bw_ram *ram);
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


#endif
