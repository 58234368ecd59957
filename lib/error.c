/* SPDX-License-Identifier: MIT */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>

int bw_error_set(struct bw_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int bw_error_prefix(struct bw_error *err, const char *fmt, ...)
{
	char prefix[BW_ERROR_MSG_MAX];
	size_t plen, old_len;
	va_list ap;

	if (!err)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix) - 2, fmt, ap);
	va_end(ap);
	strcat(prefix, ": ");
	plen = strlen(prefix);
	old_len = strnlen(err->msg, sizeof(err->msg) - 1);
	/* Keep the head of the old message; the tail is what gets cut. */
	if (plen + old_len > sizeof(err->msg) - 1)
		old_len = sizeof(err->msg) - 1 - plen;
	memmove(err->msg + plen, err->msg, old_len);
	memcpy(err->msg, prefix, plen);
	err->msg[plen + old_len] = '\0';
	return err->code;
}
