/* SPDX-License-Identifier: MIT */
/*
 * Errors in libbpfwatch: every fallible function returns a negative errno
 * and, when the caller passed a struct bw_error, a sentence saying what was
 * being done and what went wrong.  The first failure that is understood
 * writes the message; callers further up may prefix context with
 * bw_error_prefix().
 */
#ifndef BPFWATCH_ERROR_H
#define BPFWATCH_ERROR_H

#include <stddef.h>

#define BW_ERROR_MSG_MAX 512

struct bw_error {
	int code;			/* negative errno, 0 when unset */
	char msg[BW_ERROR_MSG_MAX];
};

/* Record an error in @err (may be NULL) and return @code (a negative errno). */
__attribute__((format(printf, 3, 4)))
int bw_error_set(struct bw_error *err, int code, const char *fmt, ...);

/* Prepend "context: " to the message already in @err; returns err->code. */
__attribute__((format(printf, 2, 3)))
int bw_error_prefix(struct bw_error *err, const char *fmt, ...);

static inline void bw_error_clear(struct bw_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

#endif
