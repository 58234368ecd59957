/* SPDX-License-Identifier: MIT */
/*
 * The replay driver of a fuzz target, built with the ordinary compiler for
 * `make check` (plain and SANITIZE=1): every file named on the command
 * line, or in a directory named there, goes once through the target's
 * LLVMFuzzerTestOneInput.  Seeds and the inputs a fuzz run once found
 * (tests/fuzz/regressions/) so stay fixed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, unsigned long *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		size_t got = fread(buf + len, 1, cap - len, f);

		if (!got)
			break;
		len += got;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	(*n)++;
	return 0;
}

int main(int argc, char **argv)
{
	static const uint8_t empty[1];
	unsigned long n = 1;

	/* The empty input first, as libFuzzer starts: for some targets the pristine guest. */
	LLVMFuzzerTestOneInput(empty, 0);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[i], &st) < 0)
			continue;	/* no regressions for this target yet */
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i], &n) < 0)
				return 1;
			continue;
		}
		d = opendir(argv[i]);
		if (!d)
			return 1;
		while ((e = readdir(d))) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
			if (run_file(path, &n) < 0)
				return 1;
		}
		closedir(d);
	}
	printf("replayed %lu inputs\n", n);
	return 0;
}
