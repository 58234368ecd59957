/* SPDX-License-Identifier: MIT */
/*
 * Reading a mapping of a file that can shrink under us.
 *
 * Guest RAM is a MAP_SHARED mapping of a file we do not own.  If QEMU (or
 * anyone) truncates it, touching a page past the new end raises SIGBUS and
 * would kill the process.  Every load from guest RAM therefore goes through
 * these helpers: a process-wide SIGBUS handler (installed once, chaining to
 * any previous handler for faults outside a guarded copy) jumps back into
 * the guarded copy, which then returns -EFAULT.  The cost on the fast path
 * is one sigsetjmp without signal-mask saving: no system call, and for a
 * batch of loads (bw_guarded_load_batch) one sigsetjmp for the lot.
 */
#ifndef BPFWATCH_FAULT_GUARD_H
#define BPFWATCH_FAULT_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "load.h"

/* Install the SIGBUS handler (idempotent, thread-safe). */
int bw_fault_guard_init(void);

/* memcpy from a guest mapping: 0, or -EFAULT when the source faulted. */
int bw_guarded_copy(void *dst, const volatile void *src, size_t len);

/*
 * One load of @width (1, 2, 4 or 8) bytes.  An aligned load is a single
 * instruction, so a concurrent writer in the guest is never seen half-done.
 */
int bw_guarded_load(const volatile void *src, unsigned int width, uint64_t *out);

/*
 * The loads @loads[0..n) from the @size bytes at @base into @out[0..n),
 * each one untorn load as with bw_guarded_load(), under a single guard: a
 * sampler that reads many values per tick pays for one sigsetjmp, not one
 * per value.  Stops at the first load that lies outside [base, base + size)
 * (-ERANGE), is not a naturally aligned 1, 2, 4 or 8 bytes (-EINVAL) or
 * faults (-EFAULT).  *done is the number of loads made, out[0..*done)
 * holding them: n on success, else the index of the load that failed.
 */
int bw_guarded_load_batch(const volatile uint8_t *base, uint64_t size,
			  const struct bw_load *loads, size_t n, uint64_t *out, size_t *done);

#endif
