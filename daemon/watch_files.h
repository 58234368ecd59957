/* SPDX-License-Identifier: MIT */
/*
 * Watch drop-in files (DESIGN.md "Watch drop-ins").
 *
 * A drop-in is a file named "*.watch" holding [Watch] sections in the INI
 * style of systemd unit files:
 *
 *     # comment (also ';'), blank lines allowed
 *     [Watch]
 *     Map=.bss
 *     Field=sys_stat.avg_lat_cri
 *     Aggregate=scalar
 *     Label=avg_lat_cri
 *     Object=scx_lavd          (optional)
 *
 * Keys and the section name are case-sensitive.  Whitespace around a key
 * and its value is trimmed (so CRLF line ends are fine); nothing else is
 * interpreted: no quoting, no inline comments, no line continuation, so
 * "Label=x # note" is the label "x # note", which the label rules refuse.
 * Map, Field, Aggregate and Label are required in every section.  Errors
 * are "file:line: message" with the line of the offending key (of the
 * section header for a missing key, a duplicate label or key collision);
 * for whole-file problems (size, type) "file: message".
 *
 * Search path.  The default directories, highest precedence first:
 *
 *     /etc/bpfwatch/<instance>.watch.d      admin, this instance
 *     /etc/bpfwatch/watch.d                 admin, every instance
 *     /run/bpfwatch/<instance>.watch.d      runtime, this instance
 *     /run/bpfwatch/watch.d                 runtime, every instance
 *     /usr/lib/bpfwatch/<instance>.watch.d  vendor, this instance
 *     /usr/lib/bpfwatch/watch.d             vendor, every instance
 *
 * /etc overrides /run overrides /usr/lib (systemd's order), and within one
 * level the instance's directory is the more specific.  Every "*.watch" of
 * every directory is collected (names starting with '.' are skipped); when
 * two directories hold the same file name, the earlier one's file wins and
 * the other is not read at all (so an empty file, or a symlink to
 * /dev/null, masks a vendor file); the surviving files are applied in
 * file-name order (byte order, strcmp) whatever their directory.  A
 * directory that does not exist is skipped.  --watch-dir DIR (repeatable)
 * replaces the default list with the given directories in the given order,
 * same rules.
 *
 * Loading is all-or-nothing: the first error rejects the whole set and the
 * caller keeps its previous one.
 */
#ifndef BPFWATCH_WATCH_FILES_H
#define BPFWATCH_WATCH_FILES_H

#include <stddef.h>

#include "error.h"
#include "watch.h"

/*
 * Largest watch file.  A watch takes five short lines, so even
 * BW_WATCH_SET_MAX of them need well under 1 MiB; a bigger file is a
 * mistake (a log or binary dropped into watch.d), not configuration.
 */
#define WATCH_FILE_MAX_BYTES (1u << 20)

/*
 * Longest line, without its newline.  Map names, field paths and labels
 * are short identifiers; the cap keeps every error message quoting a line
 * small and refuses binary junk early.
 */
#define WATCH_FILE_MAX_LINE 4096

/*
 * Largest number of "*.watch" files in one directory and across the whole
 * search path: each file is opened and parsed on every reload, and more
 * files than watches a set may hold (BW_WATCH_SET_MAX) cannot be useful.
 */
#define WATCH_FILES_MAX BW_WATCH_SET_MAX

/* Longest instance name: "<instance>.watch.d" must fit NAME_MAX (255). */
#define WATCH_INSTANCE_MAX 200

/*
 * Parse the drop-in text @text of @len bytes (NUL bytes are an error, not
 * an end) and append its watches to @set, with @name as their source file.
 * On error @set may hold the watches of the sections before the bad one:
 * parse into a scratch set when that matters (watch_files_load does).
 */
int watch_file_parse(struct bw_watch_set *set, const char *name, const char *text, size_t len,
		     struct bw_error *err);

/*
 * Read @path (a regular file of at most WATCH_FILE_MAX_BYTES, or /dev/null,
 * which holds no watches) and parse it as above.
 */
int watch_file_load(struct bw_watch_set *set, const char *path, struct bw_error *err);

/*
 * The default search path for @instance (NULL: only the shared
 * directories) under @root ("/" or NULL for the real system; tests use a
 * scratch directory), in precedence order.  *dirs is an array of *n
 * strings for watch_dirs_free().  -EINVAL when @instance is empty, longer
 * than WATCH_INSTANCE_MAX, starts with '.', or holds a byte outside
 * [A-Za-z0-9:_.@\-] plus '\' (systemd's instance characters).
 */
int watch_dirs_default(const char *root, const char *instance, char ***dirs, size_t *n,
		       struct bw_error *err);
void watch_dirs_free(char **dirs, size_t n);

/*
 * The files watch_files_load() would read from @dirs (precedence order),
 * as full paths in application (file-name) order.  *paths is freed with
 * watch_dirs_free().
 */
int watch_files_list(const char *const *dirs, size_t ndirs, char ***paths, size_t *n,
		     struct bw_error *err);

/*
 * Load every drop-in of @dirs into a new set (*out, free with
 * bw_watch_set_free()).  On error *out is NULL and nothing else changed.
 * No files at all gives an empty set, not an error.
 */
int watch_files_load(const char *const *dirs, size_t ndirs, struct bw_watch_set **out,
		     struct bw_error *err);

/*
 * The watch set bpfwatchd runs with: the files of @dirs when @dirs is not
 * NULL (--watch-dir, [Watch] Directory=), else of the default search path
 * of @instance (watch_dirs_default).  All-or-nothing like watch_files_load().
 */
int watch_files_load_for(const char *const *dirs, size_t ndirs, const char *instance,
			 struct bw_watch_set **out, struct bw_error *err);

#endif
