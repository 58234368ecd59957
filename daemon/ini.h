/* SPDX-License-Identifier: MIT */
/*
 * The one INI tokenizer of bpfwatchd: watch drop-ins (watch_files.c) and
 * the instance config (config.c) both read the systemd unit-file style
 *
 *     # comment           ; comment too (only as the first non-blank byte)
 *     [Section]
 *     Key = Value
 *
 * Rules, identical for every file the daemon reads:
 *  - Lines end at '\n'; the last line may lack it.  Blanks (space, tab,
 *    CR, VT, FF) around the line, the key and the value are trimmed, so
 *    CRLF files read like LF files.
 *  - A line is blank, a comment ('#' or ';' first), a header "[Name]"
 *    (Name is the bytes between the brackets, untrimmed, possibly empty:
 *    the caller judges it) or "Key=Value" split at the first '='.
 *    Nothing else is interpreted: no quoting, no inline comments, no
 *    line continuation.  The value may be empty.
 *  - Every line is at most INI_MAX_LINE bytes and holds no NUL byte; a
 *    file is at most INI_MAX_BYTES.  With INI_STRICT_BYTES a line also
 *    holds no control byte other than tab (CR only right before the
 *    newline) and is valid UTF-8.
 *  - Errors are "file:line: message" (whole-file problems "file:
 *    message"); the first error stops the parse.
 * Section and key names are case-sensitive; what they mean is up to the
 * callbacks.
 */
#ifndef BPFWATCH_INI_H
#define BPFWATCH_INI_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/*
 * Largest file.  Configuration is a few dozen short lines, and even a
 * watch set at its cap (BW_WATCH_SET_MAX sections of five lines) needs
 * well under 1 MiB; anything bigger is a log or binary dropped in the
 * wrong place, and it is read into memory whole.
 */
#define INI_MAX_BYTES (1u << 20)

/*
 * Longest line, without its newline.  Keys are identifiers and values
 * paths or short names (PATH_MAX is 4096 too); the cap keeps every
 * message quoting a line small and refuses binary junk early.
 */
#define INI_MAX_LINE 4096

/* How much of an offending name a message quotes, and a buffer that holds it escaped. */
#define INI_QUOTE_MAX 64
#define INI_QUOTE_BUF (INI_QUOTE_MAX * 4 + 8)

enum ini_flags {
	/*
	 * Refuse control bytes other than tab (and a CR ending the line) and
	 * byte sequences that are not UTF-8.  The config file wants this;
	 * watch files leave it off because their value checks already refuse
	 * control and non-ASCII bytes with messages naming the field.
	 */
	INI_STRICT_BYTES = 1u << 0,
};

struct ini_parser {
	unsigned int flags;		/* enum ini_flags */
	/*
	 * How a message describes a valid header, e.g. "[Watch]": a line that
	 * is not Key=Value is reported as "\"...\" is not Key=Value, a
	 * <header_hint> header or a comment".  NULL: "[Section]".
	 */
	const char *header_hint;
	/*
	 * Called for each header with the bytes between the brackets (@len of
	 * them, not NUL-terminated) and its line.  Returns 0 or a negative
	 * errno with @err set (use ini_line_error).  NULL: headers accepted.
	 */
	int (*section)(void *userdata, const char *name, size_t len, unsigned int line,
		       struct bw_error *err);
	/*
	 * Called for each Key=Value with the trimmed key (never empty) and
	 * value (maybe empty), neither NUL-terminated, and the line.  Keys
	 * before the first header reach it too: the callback decides.
	 */
	int (*key)(void *userdata, const char *key, size_t klen, const char *value, size_t vlen,
		   unsigned int line, struct bw_error *err);
	void *userdata;
};

/*
 * Tokenize @len bytes of @text (NUL bytes are an error, not an end) named
 * @name in messages, calling @p's callbacks in file order.  Returns 0, or
 * the first error (a syntax error is -EINVAL; a callback's own code is
 * passed through).
 */
int ini_parse(const struct ini_parser *p, const char *name, const char *text, size_t len,
	      struct bw_error *err);

/*
 * Read @path whole into a NUL-terminated malloc'd buffer (*text, *len
 * without the NUL).  The file must be a regular file of at most
 * INI_MAX_BYTES, or /dev/null (a mask: reads as empty).  A FIFO or device
 * is refused at once rather than read.  @what names the kind of file in
 * the size message ("watch file", "config file").
 */
int ini_read_file(const char *path, const char *what, char **text, size_t *len,
		  struct bw_error *err);

/*
 * @len bytes of @s for a message, at most INI_QUOTE_MAX of them: control,
 * high-bit, '"' and '\' bytes become \xNN, a longer text ends in "...".
 * Returns @buf (of @size bytes, INI_QUOTE_BUF fits every result).
 */
const char *ini_quote(const char *s, size_t len, char *buf, size_t size);

/* bw_error_set(err, code, "name:line: <fmt>"); returns @code. */
__attribute__((format(printf, 5, 6)))
int ini_line_error(struct bw_error *err, int code, const char *name, unsigned int line,
		   const char *fmt, ...);

/* Whether @len bytes of @s equal the C string @word. */
bool ini_word_eq(const char *s, size_t len, const char *word);

#endif
