/* SPDX-License-Identifier: MIT */
#include "ini.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

const char *ini_quote(const char *s, size_t len, char *buf, size_t size)
{
	size_t i, o = 0;

	if (size == 0)
		return buf;
	for (i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == INI_QUOTE_MAX) {
			snprintf(buf + o, size - o, "...");
			return buf;
		}
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

int ini_line_error(struct bw_error *err, int code, const char *name, unsigned int line,
		   const char *fmt, ...)
{
	char msg[BW_ERROR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bw_error_set(err, code, "%s:%u: %s", name, line, msg);
}

bool ini_word_eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static void trim(const char **s, size_t *len)
{
	while (*len && is_blank(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_blank((*s)[*len - 1]))
		(*len)--;
}

/*
 * Length of the UTF-8 sequence at @s (at most @len bytes), or 0 when it
 * is not one: overlong forms, UTF-16 surrogates and code points above
 * U+10FFFF are refused as RFC 3629 says.
 */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	size_t n, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* INI_STRICT_BYTES: the raw line @s of @len bytes, before trimming. */
static int check_strict(const char *name, unsigned int line, const char *s, size_t len,
			struct bw_error *err)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t n;

		if (c < 0x20 || c == 0x7f) {
			if (c == '\t' || (c == '\r' && i + 1 == len)) {
				i++;
				continue;
			}
			return ini_line_error(err, -EINVAL, name, line,
					      "control byte 0x%02x at column %zu", c, i + 1);
		}
		n = utf8_len((const unsigned char *)s + i, len - i);
		if (n == 0)
			return ini_line_error(err, -EINVAL, name, line,
					      "invalid UTF-8 at column %zu", i + 1);
		i += n;
	}
	return 0;
}

int ini_parse(const struct ini_parser *p, const char *name, const char *text, size_t len,
	      struct bw_error *err)
{
	char q[INI_QUOTE_BUF];
	unsigned int line = 0;
	size_t pos = 0;
	int r = 0;

	if (len > INI_MAX_BYTES)
		return bw_error_set(err, -EFBIG, "%s: %zu bytes, larger than the %u-byte cap",
				    name, len, INI_MAX_BYTES);
	while (pos < len && r == 0) {
		const char *ls = text + pos, *nl = memchr(ls, '\n', len - pos), *eq;
		size_t ll = nl ? (size_t)(nl - ls) : len - pos;

		pos += ll + (nl ? 1 : 0);
		line++;
		if (ll > INI_MAX_LINE)
			return ini_line_error(err, -EINVAL, name, line, "line longer than %d bytes",
					      INI_MAX_LINE);
		if (memchr(ls, '\0', ll))
			return ini_line_error(err, -EINVAL, name, line, "contains a NUL byte");
		if (p->flags & INI_STRICT_BYTES) {
			r = check_strict(name, line, ls, ll, err);
			if (r < 0)
				return r;
		}
		trim(&ls, &ll);
		if (ll == 0 || ls[0] == '#' || ls[0] == ';')
			continue;
		if (ls[0] == '[') {
			if (ll < 2 || ls[ll - 1] != ']')
				return ini_line_error(err, -EINVAL, name, line,
						      "malformed section header \"%s\" (no closing ']')",
						      ini_quote(ls, ll, q, sizeof(q)));
			if (p->section)
				r = p->section(p->userdata, ls + 1, ll - 2, line, err);
			continue;
		}
		eq = memchr(ls, '=', ll);
		if (!eq)
			return ini_line_error(err, -EINVAL, name, line,
					      "\"%s\" is not Key=Value, a %s header or a comment",
					      ini_quote(ls, ll, q, sizeof(q)),
					      p->header_hint ? p->header_hint : "[Section]");
		{
			const char *key = ls, *val = eq + 1;
			size_t klen = (size_t)(eq - ls), vlen = ll - klen - 1;

			trim(&key, &klen);
			trim(&val, &vlen);
			if (klen == 0)
				return ini_line_error(err, -EINVAL, name, line,
						      "empty key before '='");
			if (p->key)
				r = p->key(p->userdata, key, klen, val, vlen, line, err);
		}
	}
	return r;
}

/* /dev/null (1:3 on Linux): a file symlinked there masks a file of that name. */
static bool is_dev_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(1, 3);
}

int ini_read_file(const char *path, const char *what, char **text, size_t *len,
		  struct bw_error *err)
{
	struct stat st;
	char *buf;
	size_t got_total = 0;
	int fd, r;

	*text = NULL;
	*len = 0;
	/* O_NONBLOCK: a FIFO in a config directory must not hang a (re)load. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return bw_error_set(err, -errno, "%s: cannot open: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		r = bw_error_set(err, -errno, "%s: cannot stat: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	if (!is_dev_null(&st) && !S_ISREG(st.st_mode)) {
		close(fd);
		return bw_error_set(err, -EINVAL, "%s: not a regular file", path);
	}
	if (!is_dev_null(&st) && (uint64_t)st.st_size > INI_MAX_BYTES) {
		close(fd);
		return bw_error_set(err, -EFBIG, "%s: %lld bytes, larger than the %u-byte cap on a "
				    "%s", path, (long long)st.st_size, INI_MAX_BYTES, what);
	}
	if (is_dev_null(&st)) {
		close(fd);
		buf = calloc(1, 1);
		if (!buf)
			return bw_error_set(err, -ENOMEM, "%s: out of memory", path);
		*text = buf;
		return 0;
	}
	/* One byte more than the cap, to notice a file that grew since fstat, and the NUL. */
	buf = malloc(INI_MAX_BYTES + 2);
	if (!buf) {
		close(fd);
		return bw_error_set(err, -ENOMEM, "%s: out of memory", path);
	}
	for (;;) {
		ssize_t got = read(fd, buf + got_total, INI_MAX_BYTES + 1 - got_total);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = bw_error_set(err, -errno, "%s: cannot read: %s", path, strerror(errno));
			goto fail;
		}
		if (got == 0)
			break;
		got_total += (size_t)got;
		if (got_total > INI_MAX_BYTES) {
			r = bw_error_set(err, -EFBIG, "%s: larger than the %u-byte cap on a %s",
					 path, INI_MAX_BYTES, what);
			goto fail;
		}
	}
	close(fd);
	buf[got_total] = '\0';
	*text = buf;
	*len = got_total;
	return 0;
fail:
	free(buf);
	close(fd);
	return r;
}
