/* SPDX-License-Identifier: MIT */
/* Replace a file's contents atomically: readers see the old or the new file, never half. */
#ifndef BPFWATCH_ATOMIC_FILE_H
#define BPFWATCH_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Write @len bytes to "<path>.tmp.<pid>", fsync, rename over @path. */
int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode,
		      struct bw_error *err);

#endif
