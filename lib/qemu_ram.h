/* SPDX-License-Identifier: MIT */
/*
 * Finding a QEMU process's guest RAM from the process alone.
 *
 * QEMU allocates each RAM backend as one host mapping (softmmu/physmem.c
 * qemu_ram_alloc_*, util/mmap-alloc.c):
 *   - memory-backend-file with share=on and memory-backend-memfd: a shared
 *     ("s") mapping of a file the process keeps open (a memfd shows as
 *     "/memfd:memory-backend-memfd (deleted)" in /proc/PID/maps);
 *   - the default RAM and memory-backend-ram: a private anonymous read-write
 *     mapping of exactly the RAM size.  The TCG translation buffer is also
 *     a large anonymous mapping, but executable.
 * Shared backends are preferred (they can be mapped directly); private RAM
 * is read with process_vm_readv (guest_ram.h).  Backends are listed in the
 * order QEMU created them (fd number for shared ones, address for private
 * ones): usually, but not always, the node order; the kernel model decides
 * (guest_open.h).
 */
#ifndef BPFWATCH_QEMU_RAM_H
#define BPFWATCH_QEMU_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "guest_ram.h"

/* Private anonymous mappings smaller than this are not guest RAM we look at. */
#define BW_QEMU_MIN_PRIVATE_RAM (64ULL << 20)

struct bw_proc_mapping {
	uint64_t start, end, offset;
	char perms[5];
	unsigned int major, minor;
	uint64_t inode;
	const char *path;	/* into the parsed line; "" for anonymous */
	size_t path_len;
};

/*
 * One line of /proc/PID/maps ("start-end perms offset maj:min inode
 * [path]"), without its newline: 0, or -EINVAL when it is not one.
 */
int bw_proc_maps_parse_line(const char *line, size_t len, struct bw_proc_mapping *m);

/*
 * Private RAM candidates in the text of /proc/PID/maps: anonymous,
 * read-write, not executable, private, at least BW_QEMU_MIN_PRIVATE_RAM.
 * Fills @addr/@size with up to @max of them, the largest first (equal
 * sizes by address); *n is how many there are.  Garbage lines are skipped
 * and counted in *bad (may be NULL).
 */
int bw_qemu_private_candidates(const char *maps, size_t len, uint64_t *addr, uint64_t *size,
			       size_t max, size_t *n, size_t *bad);

/*
 * Every RAM backend of QEMU process @pid: its shared files/memfds (held
 * open and mapped shared), else its private RAM: the largest private
 * mapping (several when of equal size), or, when QEMU said what its
 * backends are (@want_sizes[0..nwant), from QMP), one private mapping of
 * each size wanted.  out->why says which.
 */
int bw_qemu_find_ram(pid_t pid, const uint64_t *want_sizes, unsigned int nwant,
		     struct bw_ram_backends *out, struct bw_error *err);

#endif
