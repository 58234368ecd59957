/* SPDX-License-Identifier: MIT */
/*
 * Time from opening a guest's RAM to a complete kernel model (VMCOREINFO
 * scan, kallsyms decode, kernel BTF parse, per-CPU offsets).
 *
 * usage: bench_kernel_open RAM LAYOUT REPEAT LABEL
 * RAM is a RAM file (read through the shared mapping) or pid:PID (QEMU's
 * RAM found in its process: a private one is read with process_vm_readv).
 * Prints one line: LABEL, RAM size, how it was read, min / median / max
 * milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest_ram.h"
#include "kernel.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct bw_ram_source source = BW_RAM_SOURCE_INIT;
	struct bw_layout_spec layout;
	struct bw_error err = { 0 };
	double *times;
	int repeat;

	if (argc != 5 || (repeat = atoi(argv[3])) < 1) {
		fprintf(stderr, "usage: %s RAMFILE LAYOUT REPEAT LABEL\n", argv[0]);
		return 2;
	}
	if (bw_layout_parse(argv[2], &layout, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	if (strncmp(argv[1], "pid:", 4) == 0)
		source.pid = atoi(argv[1] + 4);
	else
		source.paths[source.npaths++] = argv[1];
	times = calloc((size_t)repeat, sizeof(*times));
	for (int i = 0; i < repeat; i++) {
		struct bw_ram *ram;
		struct bw_kernel *k;
		double start = now_ms();

		if (bw_ram_open(&source, &layout, &ram, &err) < 0 ||
		    bw_kernel_open(ram, NULL, &k, &err) < 0) {
			fprintf(stderr, "%s: %s\n", argv[1], err.msg);
			return 1;
		}
		times[i] = now_ms() - start;
		if (i == repeat - 1) {
			struct bw_kernel_info info;

			bw_kernel_get_info(k, &info);
			qsort(times, (size_t)repeat, sizeof(*times), compare_double);
			printf("%-34s RAM %5.2f GiB %-16s open->kernel model: min %7.1f ms  median "
			       "%7.1f ms  max %7.1f ms  (%u runs, %llu symbols, %llu-byte BTF)\n",
			       argv[4], bw_ram_file_size(ram) / (double)(1ULL << 30),
			       bw_ram_access(ram),
			       times[0],
			       times[repeat / 2], times[repeat - 1], repeat,
			       (unsigned long long)info.kallsyms_count,
			       (unsigned long long)info.btf_size);
		}
		bw_kernel_free(k);
		bw_ram_close(ram);
	}
	free(times);
	return 0;
}
