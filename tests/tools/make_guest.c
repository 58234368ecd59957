/* SPDX-License-Identifier: MIT */
/*
 * tool_make_guest: write a synthetic guest RAM file (util_guest.h) for the
 * daemon tests, which run the real bpfwatchd on it.
 *
 *   tool_make_guest PATH [--size 256M] [--cpus 4] [--kaslr N] [--layout q35|flat]
 *                   [--with-scheduler [--detached]] [--live [--period-ms 10]]
 *
 * The file holds a whole x86-64 kernel that bpfwatchd finds by itself
 * (VMCOREINFO -> kallsyms -> kernel BTF).  --with-scheduler adds, in that
 * kernel, util_kernel.h's demo BPF object (object "bw_demo": bw_demo.bss
 * and bw_demo.data as mmapable arrays with a BTF DATASEC, cpu_stats a
 * PERCPU_ARRAY, slots, cpu_ctx_stor_acc) and its STRUCT_OPS map
 * "bw_demo_ops", attached through scx_root: the daemon reaches "sampling".
 * The kernel BTF is then the one util_kernel.h writes (every struct the
 * inventory reads).
 *
 * --detached lays the scheduler out but leaves scx_root NULL (loaded, not
 * attached: the daemon waits for a scheduler); with --live each SIGUSR1
 * then attaches it, or detaches it again.
 *
 * The file appears at PATH complete: it is built under a temporary name
 * next to it and renamed, so a daemon polling for PATH never maps half a
 * guest.  One line of JSON on stdout tells what is in it (release, KASLR
 * offset, CPUs, scheduler, map ids, and what the counters hold).
 *
 * --live keeps running until SIGTERM or SIGINT, as a running guest would:
 * every period it adds 1 to jiffies_64 and bumps the demo object's values
 * (after n periods: stats.ops.enqueues = n, stats.ops.dispatches = 2n,
 * stats.ticks = n, state.gauge = n % 21 - 10, data_counter = n, and CPU
 * c's cpu_stats.runs = n * (c + 1)).  The file stays when it exits.
 *
 * Exit status: 0 done, 1 the guest could not be built, 2 usage.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util_guest.h"

#define MIB (1ULL << 20)
/* Below this the kernel image, heap and slab do not fit. */
#define MIN_RAM (128 * MIB)
/* The file is sparse, but its page tables and direct map grow with it. */
#define MAX_RAM (64ULL << 30)
#define MAX_CPUS 256
#define SLAB_SIZE (8 * MIB)
/* Trampoline addresses of the demo scheduler's callbacks (module space). */
#define FN_DEMO 0xffffffffc0100000ULL
#define OBJ_NAME "bw_demo"
#define OPS_NAME "bw_demo"
/* Above 2^63: JSON carries it as a string of its digits. */
#define IDENT UINT64_C(0xfffffffffffffff5)
#define FIXED_NEG (-5)
#define DATA_MAGIC UINT64_C(0xb0a710ad)

struct args {
	const char *path;
	uint64_t size;
	uint32_t cpus;
	uint64_t kaslr;
	enum test_guest_layout layout;
	bool scheduler, detached, live;
	unsigned int period_ms;
};

static struct args args = {
	.size = 256 * MIB, .cpus = 4, .kaslr = TEST_GUEST_AUTO, .layout = TEST_GUEST_Q35,
	.period_ms = 10,
};

/* What the build leaves for main(): the guest, and host pointers to what --live bumps. */
static struct {
	struct test_guest *g;
	char tmp_path[4096];
	struct tk_object obj;
	uint64_t *jiffies, *enqueues, *dispatches, *ticks, *data_counter;
	int32_t *gauge;
	uint64_t *runs[MAX_CPUS];
	uint64_t *scx_root, scx_sched;	/* scx_root in the image, and what it holds when attached */
	bool built;
} st;

static volatile sig_atomic_t stop, toggle;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		toggle = 1;
	else
		stop = 1;
}

static void usage(FILE *out)
{
	fputs("usage: tool_make_guest PATH [--size 256M] [--cpus 4] [--kaslr N] "
	      "[--layout q35|flat]\n"
	      "                       [--with-scheduler [--detached]] [--live [--period-ms 10]]\n", out);
}

static int parse_u64(const char *text, uint64_t *out, bool suffix)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(text, &end, 0);
	if (errno || end == text || text[0] == '-')
		return -EINVAL;
	if (suffix && *end) {
		unsigned int shift = *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;

		if (!shift || end[1] || v > (UINT64_MAX >> shift))
			return -EINVAL;
		v <<= shift;
	} else if (*end) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		uint64_t v = 0;

		if (!strcmp(a, "--with-scheduler")) {
			args.scheduler = true;
		} else if (!strcmp(a, "--detached")) {
			args.detached = true;
		} else if (!strcmp(a, "--live")) {
			args.live = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (a[0] == '-' && a[1] == '-') {
			const char *val = i + 1 < argc ? argv[i + 1] : NULL;

			if (!val) {
				fprintf(stderr, "tool_make_guest: %s needs a value\n", a);
				return -EINVAL;
			}
			i++;
			if (!strcmp(a, "--size")) {
				if (parse_u64(val, &v, true) < 0 || v < MIN_RAM || v > MAX_RAM ||
				    v % (2 * MIB)) {
					fprintf(stderr, "tool_make_guest: --size: %s is not a multiple "
						"of 2M between 128M and 64G\n", val);
					return -EINVAL;
				}
				args.size = v;
			} else if (!strcmp(a, "--cpus")) {
				if (parse_u64(val, &v, false) < 0 || v == 0 || v > MAX_CPUS) {
					fprintf(stderr, "tool_make_guest: --cpus: 1..%d\n", MAX_CPUS);
					return -EINVAL;
				}
				args.cpus = (uint32_t)v;
			} else if (!strcmp(a, "--kaslr")) {
				if (parse_u64(val, &v, false) < 0 || v % (2 * MIB) || v >= (1ULL << 30)) {
					fprintf(stderr, "tool_make_guest: --kaslr: a multiple of 2 MiB "
						"below 1 GiB\n");
					return -EINVAL;
				}
				args.kaslr = v;
			} else if (!strcmp(a, "--layout")) {
				if (!strcmp(val, "q35"))
					args.layout = TEST_GUEST_Q35;
				else if (!strcmp(val, "flat"))
					args.layout = TEST_GUEST_FLAT;
				else {
					fprintf(stderr, "tool_make_guest: --layout: q35 or flat\n");
					return -EINVAL;
				}
			} else if (!strcmp(a, "--period-ms")) {
				if (parse_u64(val, &v, false) < 0 || v == 0 || v > 60000) {
					fprintf(stderr, "tool_make_guest: --period-ms: 1..60000\n");
					return -EINVAL;
				}
				args.period_ms = (unsigned int)v;
			} else {
				fprintf(stderr, "tool_make_guest: unknown option %s\n", a);
				return -EINVAL;
			}
		} else if (!args.path) {
			args.path = a;
		} else {
			fprintf(stderr, "tool_make_guest: unexpected argument %s\n", a);
			return -EINVAL;
		}
	}
	if (!args.path) {
		fprintf(stderr, "tool_make_guest: no PATH\n");
		return -EINVAL;
	}
	if (args.detached && !args.scheduler) {
		fprintf(stderr, "tool_make_guest: --detached goes with --with-scheduler\n");
		return -EINVAL;
	}
	return 0;
}

static void *host_ptr(uint64_t va, size_t len)
{
	uint64_t gpa = 0;

	ck_assert_msg(test_guest_va_to_gpa(&st.g->live, va, &gpa) == 0, "VA %#" PRIx64, va);
	return test_guest_gpa(st.g, gpa, len);
}

static void lay_out_scheduler(void)
{
	struct test_guest *g = st.g;
	uint64_t bss, data;

	test_guest_load_demo(g, OBJ_NAME, OPS_NAME, FN_DEMO, &st.obj);
	test_guest_attach(g, &st.obj.ops);
	st.scx_root = host_ptr(test_guest_sym(&g->live, "scx_root"), 8);
	st.scx_sched = *st.scx_root;
	if (args.detached)
		*st.scx_root = 0;
	bss = test_guest_elem(&st.obj.bss, 0);
	data = test_guest_elem(&st.obj.data, 0);
	st.enqueues = host_ptr(bss + TK_BSS_ENQUEUES, 8);
	st.dispatches = host_ptr(bss + TK_BSS_DISPATCHES, 8);
	st.ticks = host_ptr(bss + TK_BSS_TICKS, 8);
	st.gauge = host_ptr(bss + TK_STATE_GAUGE, 4);
	st.data_counter = host_ptr(data + TK_DATA_COUNTER, 8);
	*(int32_t *)host_ptr(bss + TK_STATE_FIXED_NEG, 4) = FIXED_NEG;
	*(uint64_t *)host_ptr(bss + TK_BSS_IDENT, 8) = IDENT;
	*(uint64_t *)host_ptr(data + TK_DATA_MAGIC, 8) = DATA_MAGIC;
	for (uint32_t c = 0; c < g->live.nr_cpu_ids; c++)
		st.runs[c] = host_ptr(test_guest_percpu_elem(g, &st.obj.cpu_stats, 0, c), 8);
}

/*
 * Runs inside a check test: util_kernel's BTF writer and util_btf's xarray
 * writer report through check.
 */
START_TEST(build)
{
	struct test_guest_opts o;
	struct bw_error err = { 0 };
	struct tk_layout lay;
	struct test_btf_xa xa;
	void *btf = NULL;
	size_t btf_size = 0;
	int n;

	n = snprintf(st.tmp_path, sizeof(st.tmp_path), "%s.tmp-%d", args.path, (int)getpid());
	ck_assert_msg(n > 0 && (size_t)n < sizeof(st.tmp_path), "PATH is too long");
	test_guest_opts_init(&o);
	o.ram_size = args.size;
	o.layout = args.layout;
	o.path = st.tmp_path;
	o.keep_file = true;
	o.nr_cpus = args.cpus;
	o.live.kaslr_offset = args.kaslr;
	if (args.scheduler) {
		test_guest_sched_btf(&btf, &btf_size, &lay, &xa);
		o.btf_data = btf;
		o.btf_data_size = btf_size;
		o.slab_size = SLAB_SIZE;
	}
	n = test_guest_create(&o, &st.g, &err);
	free(btf);
	ck_assert_msg(n == 0, "%s", err.msg);
	st.jiffies = test_guest_gpa(st.g, st.g->live.jiffies_gpa, 8);
	if (args.scheduler) {
		test_guest_bpf_init(st.g, &lay, &xa);
		lay_out_scheduler();
	}
	st.built = true;
}
END_TEST

static int build_guest(void)
{
	Suite *s = suite_create("make_guest");
	TCase *tc = tcase_create("build");
	SRunner *runner;
	int failed;

	tcase_add_test(tc, build);
	suite_add_tcase(s, tc);
	runner = srunner_create(s);
	srunner_set_fork_status(runner, CK_NOFORK);
	srunner_run_all(runner, CK_SILENT);
	failed = srunner_ntests_failed(runner);
	if (failed) {
		TestResult **res = srunner_failures(runner);

		fprintf(stderr, "tool_make_guest: %s\n", tr_msg(res[0]));
		free(res);
	}
	srunner_free(runner);
	return failed || !st.built ? -1 : 0;
}

static void print_truth(void)
{
	const struct test_guest_kernel *k = &st.g->live;

	printf("{\"path\":\"%s\",\"size\":%" PRIu64 ",\"layout\":\"%s\",\"release\":\"%s\","
	       "\"kaslr_offset\":\"0x%" PRIx64 "\",\"phys_base\":\"0x%" PRIx64 "\","
	       "\"page_offset_base\":\"0x%" PRIx64 "\",\"nr_cpus\":%" PRIu32 ",\"jiffies\":%" PRIu64,
	       args.path, args.size, args.layout == TEST_GUEST_Q35 ? "q35" : "flat", k->release,
	       k->kaslr_offset, k->phys_base, k->page_offset_base, k->nr_cpu_ids, k->jiffies);
	if (args.scheduler) {
		printf(",\"scheduler\":{\"object\":\"%s\",\"ops_name\":\"%s\",\"struct_ops_map_id\":%"
		       PRIu32 ",\"maps\":{\"cpu_stats\":%" PRIu32 ",\"slots\":%" PRIu32
		       ",\"cpu_ctx_stor_acc\":%" PRIu32 ",\"%s.bss\":%" PRIu32 ",\"%s.data\":%" PRIu32
		       ",\"%s_ops\":%" PRIu32 "},\"fixed_neg\":%d,\"ident\":%" PRIu64
		       ",\"data_magic\":%" PRIu64 ",\"attached\":%s}",
		       OBJ_NAME, OPS_NAME, st.obj.ops.id, st.obj.cpu_stats.id, st.obj.slots.id,
		       st.obj.ctx_acc.id, OBJ_NAME, st.obj.bss.id, OBJ_NAME, st.obj.data.id, OPS_NAME,
		       st.obj.ops.id, FIXED_NEG, IDENT, DATA_MAGIC, args.detached ? "false" : "true");
	} else {
		printf(",\"scheduler\":null");
	}
	printf(",\"live\":%s,\"period_ms\":%u}\n", args.live ? "true" : "false", args.period_ms);
	fflush(stdout);
}

static void bump(uint64_t n)
{
	__atomic_fetch_add(st.jiffies, 1, __ATOMIC_RELAXED);
	if (!args.scheduler)
		return;
	__atomic_store_n(st.enqueues, n, __ATOMIC_RELAXED);
	__atomic_store_n(st.dispatches, 2 * n, __ATOMIC_RELAXED);
	__atomic_store_n(st.ticks, n, __ATOMIC_RELAXED);
	__atomic_store_n(st.gauge, (int32_t)(n % 21) - 10, __ATOMIC_RELAXED);
	__atomic_store_n(st.data_counter, n, __ATOMIC_RELAXED);
	for (uint32_t c = 0; c < st.g->live.nr_cpu_ids; c++)
		__atomic_store_n(st.runs[c], n * (c + 1), __ATOMIC_RELAXED);
}

static void live(void)
{
	struct timespec next;
	uint64_t n = 0;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!stop) {
		next.tv_nsec += (long)args.period_ms * 1000000L;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		/* EINTR on SIGTERM ends the wait; the loop condition ends the run. */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		if (toggle && st.scx_root) {
			toggle = 0;
			__atomic_store_n(st.scx_root, *st.scx_root ? 0 : st.scx_sched, __ATOMIC_RELAXED);
		}
		if (!stop)
			bump(++n);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	int r;

	if (parse_args(argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	r = build_guest();
	if (r < 0 || rename(st.tmp_path, args.path) < 0) {
		if (r == 0)
			fprintf(stderr, "tool_make_guest: cannot rename %s to %s: %s\n", st.tmp_path,
				args.path, strerror(errno));
		unlink(st.tmp_path);
		test_guest_destroy(st.g);
		return 1;
	}
	print_truth();
	if (args.live)
		live();
	test_guest_destroy(st.g);	/* keep_file: the file stays */
	return 0;
}
