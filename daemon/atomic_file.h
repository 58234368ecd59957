/* SPDX-License-Identifier: MIT */
/* Replace a file's contents atomically: readers see the old or the new file, never half. */
#ifndef BPFWATCH_ATOMIC_FILE_H
#define BPFWATCH_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Temporary names tried before giving up (each collision is a random name taken). */
#define ATOMIC_FILE_ATTEMPTS 16

/*
 * Write @len bytes to a new temporary file beside @path, fsync, rename it
 * over @path.  The temporary is created with O_CREAT|O_EXCL|O_NOFOLLOW
 * under an unpredictable name ("<path>.tmp.XXXXXXXXXXXXXXXX", 64 random
 * bits), so a file or symlink someone placed there is never written
 * through.  Its mode: @mode less the process umask when !@exact_mode (what
 * open(2) does: UMask= in the unit decides), exactly @mode otherwise (a
 * mode the config asked for).
 */
int atomic_file_write(const char *path, const void *data, size_t len, mode_t mode,
		      bool exact_mode, struct bw_error *err);

#endif
