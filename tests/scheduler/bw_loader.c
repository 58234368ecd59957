// SPDX-License-Identifier: GPL-2.0
/*
 * bw_loader: the guest half of the end-to-end tests.  A static binary that
 * runs inside the test guest, loads the decoy object and the demo sched_ext
 * scheduler, and prints on stdout (the serial console) what the guest
 * itself reads through the bpf() syscall, so the host test can compare
 * bpfwatchd's samples with the guest's own view.
 *
 * Output protocol (one record per line, fields separated by one space):
 *
 *   BWGUEST-EVENT start mode=<sched|decoy-only> nr_cpus=<possible CPUs>
 *   BWGUEST-MAP <obj> <gen> <map> id=<id> kname=<kernel name> type=<n>
 *               key_size=<n> value_size=<n> max_entries=<n> btf_id=<n>
 *   BWGUEST-PROG <obj> <gen> <prog> id=<id> type=<n>
 *   BWGUEST-EVENT attached <ops name>        (state is "enabled", root/ops
 *                                              names the demo)
 *   BWGUEST-EVENT detached | replaced | ejected state=<s> | exit
 *   (MAP and PROG lines are printed after every load, so a replace prints
 *   the new instance's ids; the struct_ops map gets no value lines)
 *   BWGUEST-ERROR <what was being done>: <what went wrong>
 *   BWGUEST-BEGIN <seq> <CLOCK_MONOTONIC ns>
 *   BWGUEST-STATE <seq> state=<s> ops=<name or -> demo_gen=<gen>
 *   BWGUEST <seq> <obj> <map> <field.path> [key<K>] [cpu<N>] <value>
 *   BWGUEST-END <seq> <CLOCK_MONOTONIC ns>
 *   BWGUEST-SCXEV <seq> <SCX_EV_NAME> <value>   (each line of
 *               /sys/kernel/sched_ext/root/events, inside BEGIN..END)
 *   BWGUEST-EVENT command error|stall seq=<n>  (the demo was told to fail)
 *   BWGUEST-EVENT ejections <n>               (after --eject-cycles is done)
 *
 * <obj> is "demo" or "decoy"; <gen> counts demo instances (1, then 2 after a
 * replace; the decoy is always 1).  <map> is libbpf's full map name
 * ("bw_demo.bss", "cpu_ctx_stor_acc"); kname is what the kernel keeps (15
 * characters).  The field path is the dot path through the BTF type of the
 * value, with anonymous members left out, exactly as a watch names it; for
 * a global section the first segment is the variable.  key<K> appears for
 * maps with more than one entry, cpu<N> for per-CPU maps.  Values are
 * decimal, signed where the BTF type is signed, bool as 0/1, enums as their
 * number.  Everything between BEGIN and END was read after the BEGIN
 * timestamp and before the END one.
 *
 * The BPF objects are linked in by bw_objs.S; both are opened under the
 * libbpf object name "bw_demo", so their maps have identical names in the
 * kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bw_demo.h"

extern const unsigned char bw_demo_obj_start[], bw_demo_obj_end[];
extern const unsigned char bw_decoy_obj_start[], bw_decoy_obj_end[];

#define BW_OBJECT_NAME "bw_demo"
#define BW_OPS_MAP "bw_demo_ops"
#define BW_OPS_NAME "bw_demo"
#define BW_DECOY_PROG "bw_decoy_fill"
/* The decoy's ro_nr_cpus: no real CPU count, so reading it is a tell. */
#define BW_DECOY_RO_NR_CPUS 0xdec0
#define SCX_SYSFS "/sys/kernel/sched_ext"

/* Enabling runs ops.init and init_task for every task; under TCG that takes
 * a while, and a second attach can be refused (-EBUSY) until the previous
 * instance has finished disabling. */
#define ATTACH_WAIT_MS 20000
#define POLL_MS 50

/* Bounds of the BTF walk over our own objects' types: nesting depth, array
 * elements printed, and path length. */
#define WALK_MAX_DEPTH 16
#define WALK_MAX_ARRAY 64
#define PATH_MAX_LEN 256

/* Cap on option values (seconds or milliseconds): a day in milliseconds is
 * more than any test needs and keeps the nanosecond arithmetic far from
 * overflow. */
#define MAX_OPTION_VALUE 86400000
#define NS_PER_S 1000000000LL

struct bw_obj {
	const char *label;              /* "demo" or "decoy" */
	unsigned int gen;
	struct bpf_object *obj;
	struct bpf_link *link;          /* the demo's struct_ops link */
};

struct walk {
	unsigned long long seq;
	const struct bw_obj *o;
	const char *map;
	const struct btf *btf;
	char key_tok[24];               /* " key<K>" or "" */
	char cpu_tok[24];               /* " cpu<N>" or "" */
};

static volatile sig_atomic_t stop;
static bool verbose;
/* --no-maps: samples hold the sched_ext state and events only (a light console). */
static bool no_maps;
static int nr_cpus;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR && !stop)
		;
}

static void report_error(const char *what, int err)
{
	printf("BWGUEST-ERROR %s: %s\n", what, strerror(err < 0 ? -err : err));
	fflush(stdout);
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Reads a one-line sysfs file without its newline; "-" when absent. */
static void read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	snprintf(buf, size, "-");
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		buf[strcspn(buf, "\n")] = '\0';
	else
		snprintf(buf, size, "-");
	fclose(f);
}

static void scx_state(char *state, size_t ssize, char *ops, size_t osize)
{
	read_line(SCX_SYSFS "/state", state, ssize);
	read_line(SCX_SYSFS "/root/ops", ops, osize);
}

/* The kernel's event counters as the guest reads them (6.16+: root/events). */
static void print_scx_events(unsigned long long seq)
{
	FILE *f = fopen(SCX_SYSFS "/root/events", "re");
	char line[256], name[128];
	long long v;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%127s %lld", name, &v) == 2)
			printf("BWGUEST-SCXEV %llu %s %lld\n", seq, name, v);
	fclose(f);
}

/* ---- test control: tell the demo to fail (bw_demo.h, struct bw_control) ---- */

static int demo_command(struct bw_obj *demo, __u32 cmd, unsigned long long seq)
{
	struct bw_control c = { .cmd = cmd, .seq = seq };
	struct bpf_map *map = bpf_object__find_map_by_name(demo->obj, "bw_control");
	__u32 zero = 0;

	snprintf(c.fmt, sizeof(c.fmt), "bw_demo: error requested by the test (seq %%llu)");
	if (!map)
		return -ENOENT;
	if (bpf_map_update_elem(bpf_map__fd(map), &zero, &c, BPF_ANY))
		return -errno;
	printf("BWGUEST-EVENT command %s seq=%llu\n", cmd == BW_CTL_ERROR ? "error" : "stall", seq);
	fflush(stdout);
	return 0;
}

/* ---- printing values through BTF ---- */

/* Little-endian bit extraction; nbits <= 64 and the caller has checked that
 * [bitpos, bitpos + nbits) lies inside buf. */
static unsigned long long read_bits(const unsigned char *buf, size_t bitpos,
				    unsigned int nbits, bool is_signed, long long *sval)
{
	unsigned long long v = 0;
	unsigned int i;

	for (i = 0; i < nbits; i++) {
		size_t b = bitpos + i;

		v |= (unsigned long long)((buf[b / 8] >> (b % 8)) & 1) << i;
	}
	if (is_signed && nbits < 64 && (v >> (nbits - 1)) & 1)
		v |= ~0ULL << nbits;
	*sval = (long long)v;
	return v;
}

static void emit_leaf(const struct walk *w, const char *path,
		      const unsigned char *buf, size_t size, size_t bitpos,
		      unsigned int nbits, bool is_signed)
{
	unsigned long long u;
	long long s;

	if (nbits == 0 || nbits > 64 || bitpos + nbits > size * 8) {
		printf("BWGUEST-ERROR printing %s %s: leaf outside the value\n",
		       w->map, path);
		return;
	}
	u = read_bits(buf, bitpos, nbits, is_signed, &s);
	if (!*path)
		path = "-";	/* the whole value: an array of bare integers */
	if (is_signed)
		printf("BWGUEST %llu %s %s %s%s%s %lld\n", w->seq, w->o->label,
		       w->map, path, w->key_tok, w->cpu_tok, s);
	else
		printf("BWGUEST %llu %s %s %s%s%s %llu\n", w->seq, w->o->label,
		       w->map, path, w->key_tok, w->cpu_tok, u);
}

static void join_path(char *out, const char *path, const char *name)
{
	if (!name || !*name)
		snprintf(out, PATH_MAX_LEN, "%s", path);
	else if (!*path)
		snprintf(out, PATH_MAX_LEN, "%s", name);
	else
		snprintf(out, PATH_MAX_LEN, "%s.%s", path, name);
}

/*
 * Prints every integer-like leaf under type_id placed at bit bitpos of buf.
 * bf_bits is the member's bitfield width (0 when not a bitfield).
 * Pointers, floats and functions are not values a watch can name: skipped.
 */
static void walk_type(const struct walk *w, __u32 type_id, const unsigned char *buf,
		      size_t size, size_t bitpos, unsigned int bf_bits,
		      const char *path, int depth)
{
	const struct btf_type *t;
	char child[PATH_MAX_LEN];
	__u16 i, vlen;

	if (depth > WALK_MAX_DEPTH)
		return;
	t = btf__type_by_id(w->btf, type_id);
	if (!t)
		return;

	switch (btf_kind(t)) {
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_TYPE_TAG:
		walk_type(w, t->type, buf, size, bitpos, bf_bits, path, depth + 1);
		return;
	case BTF_KIND_INT: {
		bool is_signed = btf_int_encoding(t) & BTF_INT_SIGNED;
		unsigned int nbits = bf_bits ? bf_bits : btf_int_bits(t);

		emit_leaf(w, path, buf, size, bitpos + btf_int_offset(t), nbits,
			  is_signed);
		return;
	}
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		emit_leaf(w, path, buf, size, bitpos,
			  bf_bits ? bf_bits : t->size * 8, btf_kflag(t));
		return;
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION: {
		const struct btf_member *m = btf_members(t);

		vlen = btf_vlen(t);
		for (i = 0; i < vlen; i++, m++) {
			join_path(child, path, btf__name_by_offset(w->btf, m->name_off));
			walk_type(w, m->type, buf, size,
				  bitpos + btf_member_bit_offset(t, i),
				  btf_member_bitfield_size(t, i), child, depth + 1);
		}
		return;
	}
	case BTF_KIND_ARRAY: {
		const struct btf_array *a = btf_array(t);
		__s64 esize = btf__resolve_size(w->btf, a->type);
		__u32 n;

		if (esize <= 0)
			return;
		for (n = 0; n < a->nelems && n < WALK_MAX_ARRAY; n++) {
			snprintf(child, sizeof(child), "%s[%u]", path, n);
			walk_type(w, a->type, buf, size, bitpos + (size_t)esize * 8 * n,
				  0, child, depth + 1);
		}
		return;
	}
	case BTF_KIND_DATASEC: {
		const struct btf_var_secinfo *v = btf_var_secinfos(t);

		vlen = btf_vlen(t);
		for (i = 0; i < vlen; i++, v++) {
			const struct btf_type *var = btf__type_by_id(w->btf, v->type);

			if (!var || !btf_is_var(var))
				continue;
			join_path(child, path, btf__name_by_offset(w->btf, var->name_off));
			walk_type(w, var->type, buf, size, bitpos + (size_t)v->offset * 8,
				  0, child, depth + 1);
		}
		return;
	}
	default:
		return;
	}
}

/* ---- map kinds: maps without BTF, hash maps ---- */

/* One value of a map: through BTF, or as a bare u64 when it has none. */
static void dump_value(const struct walk *w, __u32 type_id, const unsigned char *buf,
		       size_t vsize)
{
	if (type_id) {
		walk_type(w, type_id, buf, vsize, 0, 0, "", 0);
		return;
	}
	if (vsize == sizeof(__u64))
		emit_leaf(w, "", buf, vsize, 0, 64, false);
}

/* Every entry of a hash map with an integer key: key<K> on every line. */
static void dump_hash(struct walk *w, const struct bpf_map *map, __u32 type_id, bool percpu,
		      unsigned char *buf, size_t vsize, size_t stride)
{
	__u64 key = 0, next = 0;
	void *prev = NULL;
	int cpu, guard = 0;

	if (bpf_map__key_size(map) != 4 && bpf_map__key_size(map) != 8)
		return;
	while (!bpf_map_get_next_key(bpf_map__fd(map), prev, &next) &&
	       guard++ < (int)bpf_map__max_entries(map)) {
		key = next;
		prev = &key;
		/* Deleted between get_next_key and lookup: simply not there. */
		if (bpf_map_lookup_elem(bpf_map__fd(map), &key, buf))
			continue;
		snprintf(w->key_tok, sizeof(w->key_tok), " key%llu",
			 bpf_map__key_size(map) == 4 ? (unsigned long long)(__u32)key :
						       (unsigned long long)key);
		if (!percpu) {
			dump_value(w, type_id, buf, vsize);
			continue;
		}
		for (cpu = 0; cpu < nr_cpus; cpu++) {
			snprintf(w->cpu_tok, sizeof(w->cpu_tok), " cpu%d", cpu);
			dump_value(w, type_id, buf + stride * (size_t)cpu, vsize);
		}
		w->cpu_tok[0] = '\0';
	}
}

static void dump_map(unsigned long long seq, const struct bw_obj *o,
		     const struct bpf_map *map)
{
	const struct btf *btf = bpf_object__btf(o->obj);
	__u32 type_id = bpf_map__btf_value_type_id(map);
	enum bpf_map_type type = bpf_map__type(map);
	bool percpu = type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH;
	bool hash = type == BPF_MAP_TYPE_HASH || type == BPF_MAP_TYPE_PERCPU_HASH;
	size_t vsize = bpf_map__value_size(map);
	size_t stride = percpu ? (vsize + 7) / 8 * 8 : vsize;
	size_t bufsize = percpu ? stride * (size_t)nr_cpus : vsize;
	__u32 max = bpf_map__max_entries(map), key;
	struct walk w = { .seq = seq, .o = o, .map = bpf_map__name(map), .btf = btf };
	unsigned char *buf;
	char what[128];
	int cpu;

	if (!btf || (!type_id && vsize != sizeof(__u64)) ||
	    (type != BPF_MAP_TYPE_ARRAY && type != BPF_MAP_TYPE_PERCPU_ARRAY && !hash))
		return;
	buf = calloc(1, bufsize);
	if (!buf) {
		report_error("allocating a lookup buffer", ENOMEM);
		return;
	}
	if (hash) {
		dump_hash(&w, map, type_id, percpu, buf, vsize, stride);
		free(buf);
		return;
	}
	for (key = 0; key < max; key++) {
		if (bpf_map_lookup_elem(bpf_map__fd(map), &key, buf)) {
			snprintf(what, sizeof(what), "looking up %s %s key %u",
				 o->label, w.map, key);
			report_error(what, errno);
			continue;
		}
		if (max > 1)
			snprintf(w.key_tok, sizeof(w.key_tok), " key%u", key);
		if (!percpu) {
			dump_value(&w, type_id, buf, vsize);
			continue;
		}
		for (cpu = 0; cpu < nr_cpus; cpu++) {
			snprintf(w.cpu_tok, sizeof(w.cpu_tok), " cpu%d", cpu);
			dump_value(&w, type_id, buf + stride * (size_t)cpu, vsize);
		}
	}
	free(buf);
}

static void dump_object(unsigned long long seq, const struct bw_obj *o)
{
	struct bpf_map *map;

	if (!o->obj)
		return;
	bpf_object__for_each_map(map, o->obj)
		dump_map(seq, o, map);
}

static void print_object_ids(const struct bw_obj *o)
{
	struct bpf_program *prog;
	struct bpf_map *map;

	bpf_object__for_each_map(map, o->obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		if (bpf_map_get_info_by_fd(bpf_map__fd(map), &info, &len))
			continue;
		printf("BWGUEST-MAP %s %u %s id=%u kname=%s type=%u key_size=%u "
		       "value_size=%u max_entries=%u btf_id=%u\n", o->label, o->gen,
		       bpf_map__name(map), info.id, info.name, info.type,
		       info.key_size, info.value_size, info.max_entries, info.btf_id);
	}
	bpf_object__for_each_program(prog, o->obj) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_program__fd(prog) < 0 ||
		    bpf_prog_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			continue;
		printf("BWGUEST-PROG %s %u %s id=%u type=%u\n", o->label, o->gen,
		       bpf_program__name(prog), info.id, info.type);
	}
	fflush(stdout);
}

/* ---- loading ---- */

/* Writes a u32 global of the object's .rodata before load. */
static int set_rodata_u32(struct bpf_object *obj, const char *var, __u32 value)
{
	const struct btf *btf = bpf_object__btf(obj);
	struct bpf_map *map;
	const struct btf_type *sec;
	const struct btf_var_secinfo *v;
	size_t size;
	char *data;
	__s32 id;
	__u16 i;

	bpf_object__for_each_map(map, obj) {
		if (strstr(bpf_map__name(map), ".rodata"))
			break;
	}
	if (!map || !btf)
		return -ENOENT;
	id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
	if (id < 0)
		return id;
	sec = btf__type_by_id(btf, id);
	data = bpf_map__initial_value(map, &size);
	if (!data)
		return -ENOENT;
	v = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, v++) {
		const struct btf_type *t = btf__type_by_id(btf, v->type);

		if (strcmp(btf__name_by_offset(btf, t->name_off), var) == 0) {
			if (v->size != sizeof(value) || v->offset + v->size > size)
				return -EINVAL;
			memcpy(data + v->offset, &value, sizeof(value));
			return 0;
		}
	}
	return -ENOENT;
}

static int open_and_load(struct bw_obj *o, const unsigned char *start,
			 const unsigned char *end, __u32 ro_nr_cpus)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = BW_OBJECT_NAME);
	char what[128];
	int err;

	o->obj = bpf_object__open_mem(start, (size_t)(end - start), &opts);
	if (!o->obj) {
		err = -errno;
		snprintf(what, sizeof(what), "opening the %s object", o->label);
		report_error(what, err);
		return err;
	}
	err = set_rodata_u32(o->obj, "ro_nr_cpus", ro_nr_cpus);
	if (!err)
		err = bpf_object__load(o->obj);
	if (err) {
		snprintf(what, sizeof(what), "loading the %s object", o->label);
		report_error(what, err);
		bpf_object__close(o->obj);
		o->obj = NULL;
		return err;
	}
	return 0;
}

/* ---- map kinds: the decoy's values in them ---- */

static int stamp(struct bw_obj *d, const char *name, const void *key, const void *value)
{
	struct bpf_map *map = bpf_object__find_map_by_name(d->obj, name);

	if (!map)
		return -ENOENT;
	return bpf_map_update_elem(bpf_map__fd(map), key, value, BPF_ANY) ? -errno : 0;
}

/* The same map names, decoy values: 0xdec0... everywhere, keys the demo uses too. */
static int decoy_stamp_map_kinds(struct bw_obj *d)
{
	__u64 *pcpu = calloc((size_t)nr_cpus, sizeof(__u64)), k64 = 0, v = 0xdec0000000ULL;
	int err = pcpu ? 0 : -ENOMEM;

	for (__u32 key = 0; !err && key < 4; key++) {
		struct bw_hval hv = { .hits = 0xdec0000000ULL + key, .tag = 0xdec0 };

		for (int cpu = 0; cpu < nr_cpus; cpu++)
			pcpu[cpu] = 0xdec0000000ULL + key;
		if (key < 2)
			err = stamp(d, "simple_stats", &key, pcpu);
		if (!err)
			err = stamp(d, "flat_counts", &key, &v);
		if (!err)
			err = stamp(d, "task_hits", &key, &hv);
	}
	/*
	 * More live entries than the demo ever holds (4 stable + 8 churning),
	 * so a count of live entries read from the decoy cannot pass for the
	 * demo's.
	 */
	for (__u32 key = BW_DECOY_EXTRA_BASE; !err && key < BW_DECOY_EXTRA_BASE + BW_DECOY_EXTRA_KEYS;
	     key++) {
		struct bw_hval hv = { .hits = 0xdec0000000ULL + key, .tag = 0xdec0 };

		err = stamp(d, "task_hits", &key, &hv);
	}
	if (!err)
		err = stamp(d, "cpu_hits", &k64, pcpu);
	free(pcpu);
	return err;
}

/* The decoy's per-CPU map, stamped from here because its program can only
 * reach the CPU it runs on. */
static int decoy_stamp_percpu(struct bw_obj *d)
{
	size_t stride = (sizeof(struct bw_cpu_stat) + 7) / 8 * 8;
	struct bpf_map *map;
	unsigned char *buf;
	__u32 key = 0;
	int cpu, err;

	map = bpf_object__find_map_by_name(d->obj, "cpu_stats");
	if (!map)
		return -ENOENT;
	buf = calloc((size_t)nr_cpus, stride);
	if (!buf)
		return -ENOMEM;
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		struct bw_cpu_stat cs = {
			.runs = 0xdec0000000ULL + (__u64)cpu,
			.gauge = 0xdec0 + cpu,
			.ticks = 0xdec0,
		};

		memcpy(buf + stride * (size_t)cpu, &cs, sizeof(cs));
	}
	err = bpf_map_update_elem(bpf_map__fd(map), &key, buf, BPF_ANY) ? -errno : 0;
	free(buf);
	return err ? err : decoy_stamp_map_kinds(d);
}

/* Runs the decoy's program: the first run stamps its values, every run
 * advances its two moving counters. */
static int decoy_stamp(struct bw_obj *d, bool first)
{
	LIBBPF_OPTS(bpf_test_run_opts, topts);
	struct bpf_program *prog;

	prog = bpf_object__find_program_by_name(d->obj, BW_DECOY_PROG);
	if (!prog)
		return -ENOENT;
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &topts))
		return -errno;
	if (topts.retval)
		return -EPROTO;
	return first ? decoy_stamp_percpu(d) : 0;
}

static int wait_scx_state(const char *want_state, const char *want_ops)
{
	char state[64], ops[256];
	int waited;

	for (waited = 0; waited < ATTACH_WAIT_MS && !stop; waited += POLL_MS) {
		scx_state(state, sizeof(state), ops, sizeof(ops));
		if (strcmp(state, want_state) == 0 &&
		    (!want_ops || strcmp(ops, want_ops) == 0))
			return 0;
		sleep_ms(POLL_MS);
	}
	printf("BWGUEST-ERROR waiting for sched_ext state %s: still state=%s ops=%s\n",
	       want_state, state, ops);
	return -ETIMEDOUT;
}

static int demo_attach(struct bw_obj *demo)
{
	struct bpf_map *ops;
	int err = 0, waited;

	demo->gen++;
	err = open_and_load(demo, bw_demo_obj_start, bw_demo_obj_end, (__u32)nr_cpus);
	if (err)
		return err;
	print_object_ids(demo);

	ops = bpf_object__find_map_by_name(demo->obj, BW_OPS_MAP);
	if (!ops) {
		report_error("finding the struct_ops map " BW_OPS_MAP, ENOENT);
		return -ENOENT;
	}
	for (waited = 0; waited < ATTACH_WAIT_MS && !stop; waited += POLL_MS) {
		demo->link = bpf_map__attach_struct_ops(ops);
		if (demo->link)
			break;
		err = -errno;
		if (err != -EBUSY)
			break;
		sleep_ms(POLL_MS);
	}
	if (!demo->link) {
		report_error("attaching the demo scheduler", err ? err : -EINTR);
		return err ? err : -EINTR;
	}
	err = wait_scx_state("enabled", BW_OPS_NAME);
	if (err)
		return err;
	printf("BWGUEST-EVENT attached %s\n", BW_OPS_NAME);
	fflush(stdout);
	return 0;
}

static void demo_detach(struct bw_obj *demo)
{
	bpf_link__destroy(demo->link);
	demo->link = NULL;
	bpf_object__close(demo->obj);
	demo->obj = NULL;
	wait_scx_state("disabled", NULL);
	printf("BWGUEST-EVENT detached\n");
	fflush(stdout);
}

static void sample(unsigned long long seq, const struct bw_obj *decoy,
		   const struct bw_obj *demo)
{
	char state[64], ops[256];

	printf("BWGUEST-BEGIN %llu %lld\n", seq, now_ns());
	scx_state(state, sizeof(state), ops, sizeof(ops));
	printf("BWGUEST-STATE %llu state=%s ops=%s demo_gen=%u\n", seq, state, ops,
	       demo->obj ? demo->gen : 0);
	print_scx_events(seq);
	if (!no_maps) {
		dump_object(seq, demo);
		dump_object(seq, decoy);
	}
	printf("BWGUEST-END %llu %lld\n", seq, now_ns());
	fflush(stdout);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bw_loader [--decoy-only | --sched] [--attach-after N] [--replace N]\n"
		"                 [--detach-after N] [--interval-ms MS] [--duration N] [--verbose]\n"
		"  --decoy-only      load only the decoy object\n"
		"  --sched           load the decoy, then attach the demo scheduler (default)\n"
		"  --attach-after N  attach the scheduler N s after the decoy is loaded (default 0)\n"
		"  --replace N       N s after attaching, detach and attach a fresh instance\n"
		"  --detach-after N  N s after the (last) attach, detach the scheduler for good\n"
		"  --interval-ms MS  sampling period (default 500)\n"
		"  --duration N      exit after N s (default: run until SIGINT/SIGTERM)\n"
		"  --error-after N   N s after each attach, make the demo call scx_bpf_error()\n"
		"  --stall-after N   N s after attaching, make the demo stop dispatching\n"
		"                    (with --eject-cycles: in the last cycle only)\n"
		"  --eject-cycles N  after an ejection, detach and attach again, N ejections in all\n"
		"  --no-maps         samples without the map values (state and events only)\n");
}

static long parse_num(const char *s, const char *opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > MAX_OPTION_VALUE) {
		fprintf(stderr, "bw_loader: %s wants an integer in [0, %d], not '%s'\n",
			opt, MAX_OPTION_VALUE, s);
		exit(2);
	}
	return v;
}

static bool elapsed(long long since, long seconds)
{
	return seconds >= 0 && now_ns() - since >= seconds * NS_PER_S;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "decoy-only", no_argument, NULL, 'D' },
		{ "sched", no_argument, NULL, 's' },
		{ "attach-after", required_argument, NULL, 'a' },
		{ "replace", required_argument, NULL, 'r' },
		{ "detach-after", required_argument, NULL, 'd' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "error-after", required_argument, NULL, 'E' },
		{ "stall-after", required_argument, NULL, 'S' },
		{ "eject-cycles", required_argument, NULL, 'C' },
		{ "no-maps", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static char outbuf[1 << 16];
	struct bw_obj decoy = { .label = "decoy" }, demo = { .label = "demo" };
	long attach_s = 0, replace_s = -1, detach_s = -1, interval_ms = 500;
	long duration_s = -1, error_s = -1, stall_s = -1, cycles = 0, ejections = 0;
	bool sched = true, ejected = false, commanded = false, stall_now;
	long when;
	long long start, attached_at = 0;
	unsigned long long seq = 0;
	char state[64], ops[256];
	int opt, err;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'D': sched = false; break;
		case 's': sched = true; break;
		case 'a': attach_s = parse_num(optarg, "--attach-after"); sched = true; break;
		case 'r': replace_s = parse_num(optarg, "--replace"); sched = true; break;
		case 'd': detach_s = parse_num(optarg, "--detach-after"); sched = true; break;
		case 'i': interval_ms = parse_num(optarg, "--interval-ms"); break;
		case 't': duration_s = parse_num(optarg, "--duration"); break;
		case 'v': verbose = true; break;
		case 'E': error_s = parse_num(optarg, "--error-after"); break;
		case 'S': stall_s = parse_num(optarg, "--stall-after"); break;
		case 'C': cycles = parse_num(optarg, "--eject-cycles"); break;
		case 'N': no_maps = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || interval_ms == 0) {
		usage(stderr);
		return 2;
	}
	if (!sched)
		attach_s = -1;

	/* Whole samples reach the console in few writes, so kernel messages
	 * do not land inside a record. */
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	libbpf_set_print(libbpf_log);

	nr_cpus = libbpf_num_possible_cpus();
	if (nr_cpus <= 0) {
		report_error("counting possible CPUs", nr_cpus ? nr_cpus : -ENODEV);
		return 1;
	}
	printf("BWGUEST-EVENT start mode=%s nr_cpus=%d\n",
	       sched ? "sched" : "decoy-only", nr_cpus);
	fflush(stdout);

	decoy.gen = 1;
	err = open_and_load(&decoy, bw_decoy_obj_start, bw_decoy_obj_end,
			    BW_DECOY_RO_NR_CPUS);
	if (!err) {
		err = decoy_stamp(&decoy, true);
		if (err)
			report_error("stamping the decoy's values", err);
	}
	if (err)
		return 1;
	print_object_ids(&decoy);

	start = now_ns();
	while (!stop && !elapsed(start, duration_s)) {
		if (!demo.link && elapsed(start, attach_s)) {
			attach_s = -1;
			if (demo_attach(&demo))
				return 1;
			attached_at = now_ns();
		}
		if (demo.link && elapsed(attached_at, replace_s)) {
			replace_s = -1;
			demo_detach(&demo);
			if (demo_attach(&demo))
				return 1;
			attached_at = now_ns();
			ejected = false;
			printf("BWGUEST-EVENT replaced\n");
			fflush(stdout);
		}
		if (demo.link && elapsed(attached_at, detach_s)) {
			detach_s = -1;
			demo_detach(&demo);
		}
		/* The kernel throws a scheduler out on its own on errors or a
		 * stall; say so once, the samples show the rest. */
		if (demo.link && !ejected) {
			scx_state(state, sizeof(state), ops, sizeof(ops));
			if (strcmp(state, "enabled") != 0) {
				ejected = true;
				ejections++;
				printf("BWGUEST-EVENT ejected state=%s\n", state);
			}
		}
		/* With --eject-cycles and --stall-after, only the last cycle stalls. */
		stall_now = stall_s >= 0 && (cycles == 0 || ejections + 1 == cycles);
		when = stall_now ? stall_s : error_s;
		if (demo.link && !commanded && !ejected && elapsed(attached_at, when)) {
			commanded = true;
			err = demo_command(&demo, stall_now ? BW_CTL_STALL : BW_CTL_ERROR, seq);
			if (err)
				report_error("commanding the demo scheduler", err);
		}
		if (demo.link && ejected && ejections < cycles) {
			/* A moment for the host to look at the ejected state. */
			sleep_ms(1000);
			demo_detach(&demo);
			if (demo_attach(&demo))
				return 1;
			attached_at = now_ns();
			ejected = commanded = false;
		} else if (cycles && ejections == cycles) {
			printf("BWGUEST-EVENT ejections %ld\n", ejections);
			cycles = 0;
		}

		err = decoy_stamp(&decoy, false);
		if (err)
			report_error("stamping the decoy's values", err);
		sample(++seq, &decoy, &demo);
		sleep_ms(interval_ms);
	}

	if (demo.link)
		demo_detach(&demo);
	bpf_object__close(decoy.obj);
	printf("BWGUEST-EVENT exit\n");
	fflush(stdout);
	return 0;
}
