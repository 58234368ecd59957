/* SPDX-License-Identifier: MIT */
/*
 * What one tick of the watch engine costs, and what the same read costs
 * through the host's bpf(2).
 *
 * On a synthetic guest kernel (util_kernel.h: real-format page tables,
 * map_idr, an attached sched_ext scheduler and its demo object), with
 * every watch resolved and nothing changing, so each tick is the steady
 * state a daemon spends its life in (the cheap change check, one id load
 * per map in use, the leaf loads, decoding and the fold):
 *   - an engine with no watches: the fixed cost of a tick;
 *   - 64 scalar watches on the demo object's .bss (an mmapable ARRAY map
 *     in vmalloc space), cycling through every leaf kind it has: plain
 *     integers of 1 to 8 bytes, signed and unsigned, bool, enum, union
 *     members and bitfields;
 *   - one percpu watch (the _avg/_max fold) on a PERCPU_ARRAY, on guests
 *     of 64 and of 256 CPUs;
 *   - one "[*]" watch with Across=sum over a 1024-entry ARRAY of u64, and
 *     over a HASH with 1024 live entries (buckets and entries walked every
 *     tick).
 *   - the 64 scalar watches and the 64-CPU percpu watch again with the
 *     guest's RAM read as private memory of a process (process_vm_readv,
 *     one system call per batch, as for a QEMU without a shared memory
 *     backend), side by side with the shared mapping.
 * Every figure is the median over batches of BATCH_TICKS ticks (20,000
 * ticks by default) after a warm-up, timed with CLOCK_MONOTONIC; nothing
 * is allocated and nothing pinned.  After timing, every watch's last
 * sample is compared with what the guest holds, and the engine must not
 * have re-scanned: a figure of a wrong or re-scanning tick is not printed.
 *
 * Then, when the host allows it, a real BPF_MAP_TYPE_ARRAY and a
 * PERCPU_ARRAY (of the host's possible CPUs) are made with libbpf and
 * BPF_MAP_LOOKUP_ELEM is timed the same way: what a sampler that asks the
 * kernel for each value would pay.  When the host refuses (no CAP_BPF,
 * unprivileged BPF disabled, a container's seccomp filter) that part says
 * why and is skipped.
 *
 * Figures and ratios only, with the targets beside them: the exit status
 * is 0 unless the synthetic guest could not be built or read correctly.
 *
 * Env: BW_BENCH_TICKS (timed ticks per figure, default 20000).
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <bpf/btf.h>

#include "engine.h"
#include "util_kernel.h"

/* Ticks timed together: long enough that two clock reads vanish in it. */
#define BATCH_TICKS 100
#define DEFAULT_TICKS 20000
#define MAX_TICKS 10000000
#define MAX_BATCHES (MAX_TICKS / BATCH_TICKS)
/* Untimed ticks first: caches, branch predictors and page faults settle. */
#define WARMUP_TICKS 2000
#define SCALAR_WATCHES 64
#define TARGET_NS_PER_WATCH 100.0
#define TARGET_NS_PER_CPU 20.0
#define TARGET_RATIO 10.0
#define ALL_ELEMENTS 1024
#define TARGET_NS_PER_ELEMENT 20.0
#define TARGET_PRIVATE_SCALAR_TICK_NS 3000.0

#define FN_DEMO 0xffffffffc0100000ULL
#define SEC 1000000000ULL
#define T0 (10 * SEC)
#define WALL0 (1700000000LL * (int64_t)SEC)

/* Figures of the synthetic part, kept for the ratios. */
struct figures {
	bool ok;
	double empty_tick;			/* ns per tick, no watches */
	double scalar_tick;			/* ns per tick, SCALAR_WATCHES watches */
	double percpu_tick[2];			/* ns per tick, one percpu watch */
	uint32_t percpu_cpus[2];
	double all_tick[2];			/* ns per tick, [*] over ARRAY / HASH */
	double private_scalar_tick;		/* the same through process_vm_readv */
	double private_percpu_tick;		/* percpu_cpus[0] CPUs */
};

static struct figures fig = { .percpu_cpus = { 64, 256 } };
static int batches = DEFAULT_TICKS / BATCH_TICKS;
static double samples[MAX_BATCHES];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *verdict(bool meets)
{
	return meets ? "meets target" : "misses target";
}

/* The start of an output line: what was measured, in aligned columns. */
__attribute__((format(printf, 2, 3)))
static void row(const char *part, const char *fmt, ...)
{
	char what[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	printf("%-14s %-44s: ", part, what);
}

/* ---- the synthetic guest ---- */

static struct bw_engine *engine_for(struct test_kernel *tk, const struct bw_watch *ws, size_t n)
{
	struct bw_watch_set *set = tk_watch_set(ws, n);
	struct bw_engine *e = NULL;
	struct bw_error err = { 0 };

	ck_assert_msg(bw_engine_new(tk->k, set, T0, WALL0, &e, &err) == 0, "%s", err.msg);
	bw_watch_set_free(set);
	return e;
}

static void tick(struct bw_engine *e, uint64_t *mono)
{
	struct bw_error err;

	*mono += 1000;
	if (bw_engine_tick(e, *mono, (int64_t)*mono + WALL0, &err) < 0)
		ck_abort_msg("tick: %s", err.msg);
}

/* Median ns per tick over the batches; the engine must already be resolved. */
static double time_ticks(struct bw_engine *e, uint64_t *mono)
{
	for (int i = 0; i < WARMUP_TICKS; i++)
		tick(e, mono);
	for (int b = 0; b < batches; b++) {
		uint64_t t0 = now_ns();

		for (int i = 0; i < BATCH_TICKS; i++)
			tick(e, mono);
		samples[b] = (double)(now_ns() - t0) / BATCH_TICKS;
	}
	return median(samples, batches);
}

/* Resolved, sampling, and no re-scan since the first tick. */
static void check_steady(struct bw_engine *e, size_t watches)
{
	struct bw_engine_summary sum;

	bw_engine_summary(e, &sum);
	ck_assert_msg(sum.state == BW_ENGINE_SAMPLING, "engine state %s: %s",
		      bw_engine_state_name(sum.state), sum.message ? sum.message : "");
	ck_assert_uint_eq(sum.resolved, watches);
	ck_assert_msg(sum.scans == 1, "the engine re-scanned %" PRIu64 " times while timed",
		      sum.scans - 1);
}

static json_t *sample_of(struct bw_engine *e, const char *label, json_t **doc)
{
	struct bw_error err = { 0 };
	json_t *w;
	size_t i;

	ck_assert_msg(bw_engine_sample_json(e, doc, &err) == 0, "%s", err.msg);
	json_array_foreach(json_object_get(*doc, "watches"), i, w) {
		if (!strcmp(json_string_value(json_object_get(w, "label")) ?: "", label))
			return w;
	}
	ck_abort_msg("no watch \"%s\" in the sample", label);
	return NULL;
}

/*
 * The .bss leaves read by the scalar watches, with the value each must
 * decode to once set_bss() has written the guest.
 */
static const struct {
	const char *field;
	enum bw_agg agg;
	int64_t expect;
} bss_leaves[] = {
	{ "stats.ops.enqueues", BW_AGG_SCALAR_COUNTER, 1000001 },
	{ "stats.ops.dispatches", BW_AGG_SCALAR_COUNTER, 1000002 },
	{ "stats.ticks", BW_AGG_SCALAR_COUNTER, 1000003 },
	{ "state.gauge", BW_AGG_SCALAR, -9 },
	{ "state.fixed_neg", BW_AGG_SCALAR, -1 },
	{ "state.neg16", BW_AGG_SCALAR, -300 },
	{ "state.neg8", BW_AGG_SCALAR, -5 },
	{ "state.small", BW_AGG_SCALAR, 200 },
	{ "state.enabled", BW_AGG_SCALAR, 1 },
	{ "state.mode", BW_AGG_SCALAR, 3 },
	{ "state.word", BW_AGG_SCALAR_COUNTER, 0x1122334455667788LL },
	{ "state.lo", BW_AGG_SCALAR, 0x55667788 },
	{ "state.hi", BW_AGG_SCALAR, 0x11223344 },
	{ "state.bits.ver_major", BW_AGG_SCALAR, 5 },
	{ "state.bits.ver_minor", BW_AGG_SCALAR, 33 },
	{ "state.bits.neg_bits", BW_AGG_SCALAR, -3 },
	{ "state.bits.tick_mod", BW_AGG_SCALAR, 17 },
	{ "state.bits.armed", BW_AGG_SCALAR, 1 },
	{ "state.drift", BW_AGG_SCALAR, -123456789 },
	{ "ident", BW_AGG_SCALAR_COUNTER, 0xfeedface },
};
#define NR_BSS_LEAVES (sizeof(bss_leaves) / sizeof(bss_leaves[0]))

static void set_bss(struct test_kernel *tk, const struct tk_object *o)
{
	uint64_t base = tk_elem(tk, &o->bss, 0);
	uint32_t bits = 5u | 33u << 4 | (uint32_t)(-3 & 0x1f) << 10 | 17u << 15 | 1u << 21;

	tk_put(tk, base + TK_BSS_ENQUEUES, 1000001, 8);
	tk_put(tk, base + TK_BSS_DISPATCHES, 1000002, 8);
	tk_put(tk, base + TK_BSS_TICKS, 1000003, 8);
	tk_put(tk, base + TK_STATE_GAUGE, (uint32_t)-9, 4);
	tk_put(tk, base + TK_STATE_FIXED_NEG, (uint32_t)-1, 4);
	tk_put(tk, base + TK_STATE_NEG16, (uint16_t)-300, 2);
	tk_put(tk, base + TK_STATE_NEG8, (uint8_t)-5, 1);
	tk_put(tk, base + TK_STATE_SMALL, 200, 1);
	tk_put(tk, base + TK_STATE_ENABLED, 1, 1);
	tk_put(tk, base + TK_STATE_MODE, 3, 4);
	tk_put(tk, base + TK_STATE_WORD, 0x1122334455667788ULL, 8);
	tk_put(tk, base + TK_STATE_BITS, bits, 4);
	tk_put(tk, base + TK_STATE_DRIFT, (uint64_t)-123456789LL, 8);
	tk_put(tk, base + TK_BSS_IDENT, 0xfeedface, 8);
}

static struct test_kernel *boot(uint32_t nr_cpus, bool private_ram, struct tk_object *o)
{
	struct test_kernel *tk = tk_new(&(struct tk_opts){ .nr_cpus = nr_cpus,
							   .scx = TK_SCX_ROOT,
							   .private_ram = private_ram });

	tk_load_demo(tk, "bw_demo", "bw_demo", FN_DEMO, o);
	tk_attach(tk, &o->ops);
	return tk;
}

static void bench_empty(struct test_kernel *tk)
{
	struct bw_engine *e = engine_for(tk, NULL, 0);
	uint64_t mono = T0;

	tick(e, &mono);
	fig.empty_tick = time_ticks(e, &mono);
	check_steady(e, 0);
	bw_engine_free(e);
	row("engine tick", "no watches (fixed cost)");
	printf("%6.0f ns/tick\n", fig.empty_tick);
}

static void bench_scalar(struct test_kernel *tk, const struct tk_object *o, double *slot,
			 const char *access)
{
	struct bw_watch ws[SCALAR_WATCHES];
	char labels[SCALAR_WATCHES][16];
	struct bw_engine *e;
	uint64_t mono = T0;
	double per_watch;

	for (int i = 0; i < SCALAR_WATCHES; i++) {
		snprintf(labels[i], sizeof(labels[i]), "w%d", i);
		ws[i] = (struct bw_watch){ .map_suffix = ".bss",
					   .field = bss_leaves[i % NR_BSS_LEAVES].field,
					   .agg = bss_leaves[i % NR_BSS_LEAVES].agg,
					   .label = labels[i] };
	}
	set_bss(tk, o);
	e = engine_for(tk, ws, SCALAR_WATCHES);
	tick(e, &mono);
	*slot = time_ticks(e, &mono);
	check_steady(e, SCALAR_WATCHES);
	for (int i = 0; i < SCALAR_WATCHES; i++) {
		json_t *doc, *w = sample_of(e, labels[i], &doc);
		json_t *v = json_object_get(w, "value");

		ck_assert_msg(json_is_integer(v), "watch %s (%s): no value: %s", labels[i],
			      ws[i].field, json_string_value(json_object_get(w, "error")) ?: "?");
		ck_assert_msg(json_integer_value(v) == bss_leaves[i % NR_BSS_LEAVES].expect,
			      "watch %s (%s) read %" JSON_INTEGER_FORMAT ", the guest holds %"
			      PRId64, labels[i], ws[i].field, json_integer_value(v),
			      bss_leaves[i % NR_BSS_LEAVES].expect);
		json_decref(doc);
	}
	bw_engine_free(e);
	per_watch = *slot / SCALAR_WATCHES;
	row("engine tick", "%d scalar watches, %s", SCALAR_WATCHES, access);
	if (slot == &fig.private_scalar_tick)
		printf("%6.0f ns/tick  %6.1f ns/watch   (target <= %.0f ns/tick: %s; %.1fx the "
		       "shared mapping)\n", *slot, per_watch, TARGET_PRIVATE_SCALAR_TICK_NS,
		       verdict(*slot <= TARGET_PRIVATE_SCALAR_TICK_NS), *slot / fig.scalar_tick);
	else
		printf("%6.0f ns/tick  %6.1f ns/watch   (target <= %.0f ns/watch: %s)\n", *slot,
		       per_watch, TARGET_NS_PER_WATCH, verdict(per_watch <= TARGET_NS_PER_WATCH));
}

static void bench_percpu(struct test_kernel *tk, const struct tk_object *o, double *slot,
			 const char *access)
{
	const struct bw_watch ws[] = { { .map_suffix = "cpu_stats", .field = "runs",
					 .agg = BW_AGG_PERCPU, .label = "runs" } };
	uint32_t cpus = tk->nr_cpus;
	struct bw_engine *e;
	json_t *doc, *w, *values;
	uint64_t mono = T0;
	double per_cpu;

	/* struct bw_cpu_stat starts with u64 runs: distinct per CPU, so a mix-up shows. */
	for (uint32_t c = 0; c < cpus; c++)
		tk_put(tk, tk_percpu_elem(tk, &o->cpu_stats, 0, c), 1000 + 7ULL * c, 8);
	e = engine_for(tk, ws, 1);
	tick(e, &mono);
	*slot = time_ticks(e, &mono);
	check_steady(e, 1);
	w = sample_of(e, "runs", &doc);
	values = json_object_get(w, "values");
	ck_assert_msg(json_object_size(values) == cpus, "%zu of %u CPUs read",
		      json_object_size(values), cpus);
	for (uint32_t c = 0; c < cpus; c++) {
		char key[16];

		snprintf(key, sizeof(key), "%u", c);
		ck_assert_int_eq(json_integer_value(json_object_get(values, key)), 1000 + 7 * c);
	}
	json_decref(doc);
	bw_engine_free(e);
	per_cpu = *slot / cpus;
	row("engine tick", "1 percpu watch, %u CPUs, %s", cpus, access);
	if (slot == &fig.private_percpu_tick)
		printf("%6.0f ns/tick  %6.1f ns/CPU     (%.1fx the shared mapping)\n", *slot,
		       per_cpu, *slot / fig.percpu_tick[0]);
	else
		printf("%6.0f ns/tick  %6.1f ns/CPU     (target <= %.0f ns/CPU: %s)\n", *slot,
		       per_cpu, TARGET_NS_PER_CPU, verdict(per_cpu <= TARGET_NS_PER_CPU));
}

/*
 * "[*]" with Across=sum over a 1024-entry ARRAY of u64 (one batch of 1024
 * loads) and over a HASH holding 1024 live entries (a walk of every
 * bucket and entry): ns per element read.
 */
static void bench_all(struct test_kernel *tk, const struct tk_object *o, bool hash)
{
	const struct bw_watch ws[] = { { .map_suffix = hash ? "every_hash" : "every_array",
					 .field = "[*]", .agg = BW_AGG_SCALAR_COUNTER,
					 .label = "all", .across = BW_ACROSS_SUM } };
	struct tk_demo_btf d;
	struct bw_engine *e;
	json_t *doc, *w;
	uint64_t mono = T0, want = 0;
	double per_elem;
	int u64;

	tk_demo_btf_new(&d);
	u64 = btf__find_by_name_kind(d.btf, "u64", BTF_KIND_TYPEDEF);
	btf__free(d.btf);
	if (hash) {
		struct tk_hash h = tk_add_hash(tk, &(struct tk_map_spec){ .name = "every_hash",
			.type = TK_MAP_HASH, .key_size = 4, .value_size = 8,
			.max_entries = ALL_ELEMENTS, .btf = o->btf, .btf_value_type_id = (uint32_t)u64,
			.vmalloc = true });

		for (uint32_t i = 0; i < ALL_ELEMENTS; i++) {
			tk_put(tk, tk_hash_value(tk, &h, tk_hash_insert(tk, &h, i * 7919u), 0),
			       3ULL * i, 8);
			want += 3ULL * i;
		}
		free(h.free);
	} else {
		struct tk_map m = tk_add_map(tk, &(struct tk_map_spec){ .name = "every_array",
			.type = TK_MAP_ARRAY, .key_size = 4, .value_size = 8,
			.max_entries = ALL_ELEMENTS, .btf = o->btf,
			.btf_value_type_id = (uint32_t)u64, .vmalloc = true });

		for (uint32_t i = 0; i < ALL_ELEMENTS; i++) {
			tk_put(tk, tk_elem(tk, &m, i), 5ULL * i, 8);
			want += 5ULL * i;
		}
	}
	e = engine_for(tk, ws, 1);
	tick(e, &mono);
	fig.all_tick[hash] = time_ticks(e, &mono);
	check_steady(e, 1);
	w = sample_of(e, "all", &doc);
	ck_assert_msg(json_integer_value(json_object_get(w, "value")) == (json_int_t)want &&
		      json_integer_value(json_object_get(w, "count")) == ALL_ELEMENTS,
		      "[*] read %" JSON_INTEGER_FORMAT " over %" JSON_INTEGER_FORMAT
		      " elements, the guest holds %" PRIu64 " over %d",
		      json_integer_value(json_object_get(w, "value")),
		      json_integer_value(json_object_get(w, "count")), want, ALL_ELEMENTS);
	json_decref(doc);
	bw_engine_free(e);
	per_elem = fig.all_tick[hash] / ALL_ELEMENTS;
	row("engine tick", "[*] sum, %s %d%s", hash ? "HASH of" : "ARRAY of", ALL_ELEMENTS,
	    hash ? " live" : "");
	printf("%6.0f ns/tick  %6.1f ns/element (target <= %.0f ns/element: %s)\n",
	       fig.all_tick[hash], per_elem, TARGET_NS_PER_ELEMENT,
	       verdict(per_elem <= TARGET_NS_PER_ELEMENT));
}

START_TEST(test_engine_ticks)
{
	struct test_kernel *tk;
	struct tk_object o;

	tk = boot(fig.percpu_cpus[0], false, &o);
	bench_empty(tk);
	bench_scalar(tk, &o, &fig.scalar_tick, "shared mapping");
	bench_percpu(tk, &o, &fig.percpu_tick[0], "shared mapping");
	bench_all(tk, &o, false);
	bench_all(tk, &o, true);
	tk_free(tk);
	tk = boot(fig.percpu_cpus[0], true, &o);
	bench_scalar(tk, &o, &fig.private_scalar_tick, "process_vm_readv");
	bench_percpu(tk, &o, &fig.private_percpu_tick, "process_vm_readv");
	tk_free(tk);
	tk = boot(fig.percpu_cpus[1], false, &o);
	bench_percpu(tk, &o, &fig.percpu_tick[1], "shared mapping");
	tk_free(tk);
	fig.ok = true;
}
END_TEST

/* ---- the host's bpf(2) ---- */

/* Is capability @cap in this process's effective set (from /proc/self/status)? */
static int has_cap(int cap)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int r = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long eff;

		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			r = (int)((eff >> cap) & 1);
			break;
		}
	}
	fclose(f);
	return r;
}

static void explain_refusal(const char *what, int error)
{
	char sysctl[16] = "?";
	FILE *f = fopen("/proc/sys/kernel/unprivileged_bpf_disabled", "re");
	/* CAP_SYS_ADMIN is 21 and CAP_BPF 39 (linux/capability.h, 5.8+). */
	int admin = has_cap(21), bpf = has_cap(39);

	if (f) {
		if (fgets(sysctl, sizeof(sysctl), f))
			sysctl[strcspn(sysctl, "\n")] = '\0';
		fclose(f);
	}
	printf("bpf(2)         could not create %s: %s\n", what, strerror(error));
	if (error == EPERM || error == EACCES)
		printf("               the host refuses bpf(2) to this process: CAP_BPF %s, "
		       "CAP_SYS_ADMIN %s, kernel.unprivileged_bpf_disabled = %s (in a container, "
		       "a seccomp filter may refuse it regardless)\n",
		       bpf < 0 ? "unknown" : bpf ? "held" : "not held",
		       admin < 0 ? "unknown" : admin ? "held" : "not held", sysctl);
	else if (error == ENOSYS)
		printf("               the host kernel has no bpf(2) (CONFIG_BPF_SYSCALL) or a "
		       "seccomp filter hides it\n");
	printf("               bpf(2) figures and ratios skipped\n");
}

/* Median ns per BPF_MAP_LOOKUP_ELEM of key 0, or a negative errno. */
static double time_lookups(int fd, void *value, int *error)
{
	uint32_t key = 0;

	*error = 0;
	for (int i = 0; i < WARMUP_TICKS; i++) {
		if (bpf_map_lookup_elem(fd, &key, value) < 0) {
			*error = errno;
			return 0;
		}
	}
	for (int b = 0; b < batches; b++) {
		uint64_t t0 = now_ns();

		for (int i = 0; i < BATCH_TICKS; i++) {
			if (bpf_map_lookup_elem(fd, &key, value) < 0) {
				*error = errno;
				return 0;
			}
		}
		samples[b] = (double)(now_ns() - t0) / BATCH_TICKS;
	}
	return median(samples, batches);
}

static void bench_bpf(void)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t value = 0x5eed, *values = NULL;
	uint32_t key = 0;
	double array_ns, percpu_ns;
	int fd, error;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bw_bench", sizeof(key), sizeof(value), 1, NULL);
	if (fd < 0) {
		explain_refusal("an ARRAY map", errno);
		return;
	}
	if (bpf_map_update_elem(fd, &key, &value, BPF_ANY) < 0) {
		printf("bpf(2)         could not write the ARRAY map: %s; skipped\n", strerror(errno));
		close(fd);
		return;
	}
	value = 0;
	array_ns = time_lookups(fd, &value, &error);
	close(fd);
	if (error || value != 0x5eed) {
		printf("bpf(2)         ARRAY lookups failed: %s; skipped\n",
		       error ? strerror(error) : "wrong value read back");
		return;
	}
	row("bpf(2) lookup", "ARRAY, 1 value");
	printf("%6.0f ns/lookup\n", array_ns);
	if (fig.ok) {
		double ratio = array_ns / (fig.scalar_tick / SCALAR_WATCHES);

		row("ratio", "bpf(2) lookup / scalar watch");
		printf("%6.1fx          (target >= %.0fx: %s)\n", ratio, TARGET_RATIO,
		       verdict(ratio >= TARGET_RATIO));
	}

	if (ncpus <= 0) {
		printf("bpf(2)         the host's possible CPUs are unknown (%s): PERCPU_ARRAY "
		       "skipped\n", strerror(-ncpus));
		return;
	}
	/* A per-CPU lookup copies one 8-byte-rounded value per possible CPU. */
	values = calloc((size_t)ncpus, sizeof(*values));
	if (!values) {
		printf("bpf(2)         out of memory: PERCPU_ARRAY skipped\n");
		return;
	}
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "bw_bench_pcpu", sizeof(key), sizeof(value),
			    1, NULL);
	if (fd < 0) {
		explain_refusal("a PERCPU_ARRAY map", errno);
		free(values);
		return;
	}
	percpu_ns = time_lookups(fd, values, &error);
	close(fd);
	free(values);
	if (error) {
		printf("bpf(2)         PERCPU_ARRAY lookups failed: %s; skipped\n", strerror(error));
		return;
	}
	row("bpf(2) lookup", "PERCPU_ARRAY, %d CPUs", ncpus);
	printf("%6.0f ns/lookup %6.1f ns/CPU\n", percpu_ns, percpu_ns / ncpus);
	if (fig.ok) {
		for (int i = 0; i < 2; i++) {
			row("ratio", "per CPU: bpf(2) / %u-CPU watch", fig.percpu_cpus[i]);
			printf("%6.1fx\n", (percpu_ns / ncpus) /
			       (fig.percpu_tick[i] / fig.percpu_cpus[i]));
		}
	}
}

/* ---- main ---- */

static Suite *bench_suite(void)
{
	Suite *s = suite_create("bench_engine");
	TCase *tc = tcase_create("ticks");

	tcase_add_test(tc, test_engine_ticks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *env = getenv("BW_BENCH_TICKS");
	SRunner *runner;
	int failed;

	if (env && *env) {
		char *end;
		unsigned long n = strtoul(env, &end, 10);

		if (*end || n < BATCH_TICKS || n > MAX_TICKS) {
			fprintf(stderr, "BW_BENCH_TICKS: %s is not %d..%d\n", env, BATCH_TICKS,
				MAX_TICKS);
			return 1;
		}
		batches = (int)(n / BATCH_TICKS);
	}
	printf("median over %d batches of %d ticks (%d ticks) after %d warm-up ticks\n", batches,
	       BATCH_TICKS, batches * BATCH_TICKS, WARMUP_TICKS);
	fflush(stdout);
	/*
	 * In-process: a failed check in the synthetic guest ends that part with
	 * a message instead of a crash, and timing sees no fork.
	 */
	runner = srunner_create(bench_suite());
	srunner_set_fork_status(runner, CK_NOFORK);
	srunner_run_all(runner, CK_SILENT);
	failed = srunner_ntests_failed(runner);
	if (failed) {
		TestResult **res = srunner_failures(runner);

		for (int i = 0; i < failed; i++)
			fprintf(stderr, "bench_engine: the synthetic guest could not be benchmarked: "
				"%s:%d: %s\n", tr_lfile(res[i]), tr_lno(res[i]), tr_msg(res[i]));
		free(res);
	}
	srunner_free(runner);
	fflush(stdout);
	bench_bpf();
	return failed ? 1 : 0;
}
