/* SPDX-License-Identifier: MIT */
/*
 * Time from opening a guest's RAM to a complete kernel model (VMCOREINFO
 * scan, kallsyms decode, per-CPU offsets, kernel BTF parse) on synthetic
 * q35 guests of 1, 3 and 4 GiB with a real kernel's ~200,000 symbols:
 *   sparse - only the kernel and its allocations written, the rest holes,
 *            as in the RAM file of a freshly booted guest;
 *   dense  - every page written with pseudo-random bytes first: the worst
 *            case for the VMCOREINFO scan, which must look at each page.
 * The kernel BTF is the file named by BW_BENCH_BTF (the real vmlinux BTF,
 * ~5 MiB), else a small writer-built one.  Guest files live in /dev/shm
 * and are removed afterwards (also on SIGINT/SIGTERM).
 *
 * Env: BW_BENCH_BTF, BW_BENCH_RUNS (default 5), BW_BENCH_SYMS (default
 * 200000), BW_BENCH_SIZES (GiB, default "1 3 4").
 * Prints one line per guest: min and median over the runs, and the first
 * run alone: a process's first model also pays for faulting in fresh heap
 * for its ~15 MiB symbol table, as a daemon does once per guest boot.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest_ram.h"
#include "kernel.h"
#include "util_guest.h"

#define DEFAULT_RUNS 5
#define MAX_RUNS 100
#define DEFAULT_SYMS 200000u

/* The guest file being benchmarked: removed if we are interrupted. */
static char current_path[256];

static void on_signal(int sig)
{
	if (current_path[0])
		unlink(current_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static unsigned long env_ulong(const char *name, unsigned long fallback, unsigned long max)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return fallback;
	n = strtoul(v, &end, 10);
	return *end || n == 0 || n > max ? fallback : n;
}

/* The model must be the guest's kernel, not merely some model. */
static int check_model(const struct test_guest *g, struct bw_kernel *k)
{
	const struct test_guest_sym *map_idr = test_guest_find_sym(&g->live, "map_idr");
	struct bw_kernel_info info;
	uint64_t addr = 0;

	bw_kernel_get_info(k, &info);
	if (strcmp(info.release, g->live.release) != 0 || info.kaslr_offset != g->live.kaslr_offset ||
	    info.kallsyms_count != g->live.kallsyms_count || info.btf_size != g->live.btf_size ||
	    info.nr_cpu_ids != g->live.nr_cpu_ids ||
	    bw_kernel_symbol(k, "map_idr", &addr, NULL) < 0 ||
	    !map_idr || addr != map_idr->addr)
		return -EINVAL;
	return 0;
}

static int bench_one(uint64_t gib, bool dense, uint32_t syms, const char *btf, int runs)
{
	struct test_guest_opts o;
	struct test_guest *g = NULL;
	struct bw_error err = { 0 };
	struct bw_layout_spec spec = { .kind = BW_LAYOUT_Q35 };
	double times[MAX_RUNS], build, first = 0;
	int r;

	test_guest_opts_init(&o);
	o.ram_size = gib * BW_GIB;
	o.layout = TEST_GUEST_Q35;
	o.nr_filler_syms = syms;
	o.nr_cpus = 8;
	o.dense = dense;
	o.fill_text = true;
	o.btf_path = btf;
	o.seed = gib * 2 + dense;
	snprintf(current_path, sizeof(current_path), "/dev/shm/bw-bench-guest-%d", (int)getpid());
	o.path = current_path;
	build = now_ms();
	r = test_guest_create(&o, &g, &err);
	if (r < 0) {
		fprintf(stderr, "building a %" PRIu64 " GiB guest: %s\n", gib, err.msg);
		unlink(current_path);
		current_path[0] = '\0';
		return r;
	}
	build = now_ms() - build;
	for (int i = 0; i < runs; i++) {
		struct bw_ram_source source = test_guest_source(g);
		struct bw_ram *ram = NULL;
		struct bw_kernel *k = NULL;
		double start = now_ms();

		r = bw_ram_open(&source, &spec, &ram, &err);
		if (r == 0)
			r = bw_kernel_open(ram, NULL, &k, &err);
		times[i] = now_ms() - start;
		if (i == 0)
			first = times[0];
		if (r == 0 && check_model(g, k) < 0)
			r = bw_error_set(&err, -EINVAL, "the model is not the guest's kernel");
		bw_kernel_free(k);
		bw_ram_close(ram);
		if (r < 0) {
			fprintf(stderr, "%" PRIu64 " GiB %s: %s\n", gib, dense ? "dense" : "sparse",
				err.msg);
			break;
		}
	}
	if (r == 0) {
		qsort(times, (size_t)runs, sizeof(times[0]), compare_double);
		printf("kernel model  q35 %.2f GiB %-6s %6" PRIu32 " syms: min %7.1f ms  median %7.1f ms"
		       "  first %7.1f ms  (%d runs, %" PRIu64 "-byte BTF, guest built in %.1f s)\n",
		       (double)gib, dense ? "dense" : "sparse", syms, times[0], times[runs / 2], first,
		       runs, g->live.btf_size, build / 1e3);
		fflush(stdout);
	}
	test_guest_destroy(g);	/* removes the file */
	current_path[0] = '\0';
	return r;
}

int main(void)
{
	const char *btf = getenv("BW_BENCH_BTF");
	const char *sizes = getenv("BW_BENCH_SIZES");
	int runs = (int)env_ulong("BW_BENCH_RUNS", DEFAULT_RUNS, MAX_RUNS);
	uint32_t syms = (uint32_t)env_ulong("BW_BENCH_SYMS", DEFAULT_SYMS, 1000000);
	int failed = 0;
	char *list, *save = NULL;

	if (btf && !*btf)
		btf = NULL;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	list = strdup(sizes && *sizes ? sizes : "1 3 4");
	if (!list)
		return 1;
	printf("kernel BTF: %s\n", btf ? btf : "writer-built (set BW_BENCH_BTF for the real one)");
	for (char *tok = strtok_r(list, " ,", &save); tok; tok = strtok_r(NULL, " ,", &save)) {
		uint64_t gib = strtoull(tok, NULL, 10);

		if (gib == 0 || gib > 64) {
			fprintf(stderr, "BW_BENCH_SIZES: %s is not 1..64 GiB\n", tok);
			failed = 1;
			continue;
		}
		for (int dense = 0; dense <= 1; dense++) {
			if (bench_one(gib, dense, syms, btf, runs) < 0)
				failed = 1;
		}
	}
	free(list);
	return failed;
}
