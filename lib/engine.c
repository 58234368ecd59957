/* SPDX-License-Identifier: MIT */
/*
 * The watch engine (engine.h): the inventory, resolution and the per-tick
 * fast path.
 *
 * What is cached per resolved watch, and why it stays right:
 *   - file offsets of its leaf bytes (one, or one per CPU).  Array values
 *     and per-CPU copies are allocated with their map and freed with it,
 *     and the page tables of a live vmalloc area or per-CPU chunk do not
 *     change, so a translation made at resolve time holds for the map's
 *     life.  Its end shows in its id (bpf_map_free_id() zeroes map->id), a
 *     new scheduler in scx_root and the ops' callbacks, new maps in
 *     map_idr.idr_next; any of them makes the next tick re-scan.  The
 *     kernel model's page-table cache is flushed before every re-scan
 *     because freed vmalloc ranges are reused;
 *   - one guard per map in use: the file offset of its id;
 *   - the tick's loads as batches (bw_ram_load_batch): every aligned
 *     scalar leaf in one, each percpu watch's CPUs in one, so the SIGBUS
 *     guard is set up once per batch, not once per value, and the fold
 *     gets each watch's readings in increasing CPU order.
 * Everything else (names, BTF, JSON) is touched only when resolving or when
 * a view is built.
 */
#include "engine.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpf_htab.h"
#include "bpf_inventory.h"
#include "field_path.h"
#include "fold.h"
#include "guest_ram.h"
#include "kernel.h"

#define PAGE_SIZE_4K 4096ULL
/* An element index "[N]" is a u32 (a map key): ten digits at most. */
#define INDEX_DIGITS_MAX 10
/* Longest full map name kept for status (bpf_inventory.c takes at most 255). */
#define FULL_NAME_MAX 256
/*
 * Most readings one "[*]" watch on an array takes per tick (elements x
 * CPUs): 1 Mi loads is a few milliseconds, still inside a sampling
 * interval.
 */
#define BW_ENGINE_ALL_MAX (1u << 20)
/* A hash walk that met an entry moving between buckets is repeated this often. */
#define HASH_WALK_ATTEMPTS 3
/* Room for the first per-CPU translation failure of a watch, for status. */
#define MISSING_MSG_MAX 256

enum wstate { W_PENDING, W_RESOLVED, W_ERROR };

static const char *const wstate_names[] = { "pending", "resolved", "error" };

struct leaf {
	bool load;		/* one aligned load at off; else bytewise from gpa[] */
	uint32_t cpu;
	uint32_t len0;		/* bytewise: bytes at gpa[0]; the rest at gpa[1] */
	uint64_t off;
	uint64_t gpa[2];
};

struct ewatch {
	const struct bw_watch *w;	/* owned by the engine's watch set */
	bool percpu;
	enum wstate state;
	char reason[BW_ERROR_MSG_MAX];
	/* the resolution, when state == W_RESOLVED */
	struct bw_field field;
	bool aligned;			/* every leaf is one naturally aligned load */
	uint32_t index;
	uint32_t map_id, map_type;
	char map_name[BW_BPF_NAME_LEN];
	char map_full_name[FULL_NAME_MAX];
	char object[BW_BPF_NAME_LEN];
	uint64_t object_btf;
	uint64_t va;			/* array: the load unit; percpu: pptrs[index] */
	struct leaf *leaves;		/* capacity: nr_cpus for percpu watches, else 1 */
	uint32_t nleaves;
	/* percpu, when aligned: leaves[] as one batch of loads, and its values */
	struct bw_load *loads;
	uint64_t *raw;
	uint32_t slot;			/* scalar, aligned: its load in the engine's batch */
	uint32_t cpus_missing;
	char missing_msg[MISSING_MSG_MAX];
	/* the last tick */
	uint64_t s_seq;			/* engine tick this was read in; 0: never */
	bool s_ok;
	struct bw_value s_value;	/* scalar kinds */
	struct bw_fold_cpu_value *readings;	/* percpu kinds: capacity nr_cpus */
	uint32_t s_n;
	uint32_t s_failed;		/* percpu: CPUs whose load or decode failed */
	char s_error[BW_ERROR_MSG_MAX];
	/* "[*]" and hash maps (see the top of this file) */
	enum sel { SEL_ELEM, SEL_ALL, SEL_KEY } sel;
	bool hash;			/* the map is a hash map */
	uint64_t key;			/* SEL_KEY: the entry's key */
	struct bw_htab htab;		/* hash maps: the table as opened at resolve time */
	uint8_t *scratch;		/* ... its buckets, read each tick (capacity scratch_cap) */
	uint64_t scratch_cap;
	struct bw_load *all_loads;	/* SEL_ALL on arrays: every element (x CPU), one batch */
	uint64_t *all_raw;
	uint32_t all_n;
	uint64_t all_loads_cap, all_raw_cap;	/* bytes */
	/* text leaves: the bytes and their escaped text (allocated at first resolve) */
	uint8_t *text_raw;
	char *s_text;
	/* the last tick's reading when it is not an integer, and the [*] count */
	bool s_is_real, s_is_text;
	double s_real;
	uint64_t s_count;
};

struct guard {
	uint32_t id;
	uint64_t off;			/* file offset of the map's id */
};

struct bw_engine {
	struct bw_kernel *k;
	struct bw_ram *ram;
	struct bw_bpf_layout layout;
	uint32_t nr_cpus;
	struct bw_watch_set *set;
	struct bw_fold *fold;
	struct ewatch *w;
	size_t n;
	struct guard *guards;		/* capacity n */
	size_t nguards;
	/*
	 * The aligned leaves of resolved scalar watches, in watch order, loaded
	 * as one batch per tick (capacity n); the batch stops at a failed load
	 * and the tick goes on from the one after it (next_batch()).
	 */
	struct bw_load *sloads;
	uint64_t *sraw;
	size_t nsloads;
	/*
	 * The tick's first batch: the inventory's change markers, the guards'
	 * ids and the scalar leaves, as one load batch (one system call on
	 * private memory).  Capacity BW_INVENTORY_CHECK_LOADS + 2n.
	 */
	struct bw_load *tloads;
	uint64_t *traw;
	size_t s_loaded_end;		/* this tick: sraw[..end) loaded, sloads[end] failed */
	int s_failed_r;
	struct bw_error s_failed;
	size_t nunresolved;
	bool resolve_needed;
	struct bw_bpf_inventory *inv;
	enum bw_engine_state state;
	char message[BW_ERROR_MSG_MAX];
	bool has_prefix;		/* prefix can key metrics this tick */
	char prefix[BW_BPF_NAME_LEN];
	uint64_t seq, scans;
	uint64_t last_attempt_mono;	/* last scan or resolution attempt */
	uint64_t next_scan_mono;	/* no re-scan before this, whatever the markers say */
	uint64_t scan_tokens_mono;	/* when the scan tokens were last counted */
	unsigned int scan_tokens;	/* re-scans allowed now, up to BW_ENGINE_RESCAN_BURST */
	uint64_t scans_deferred;	/* re-scans the markers asked for too soon */
	char degraded[BW_ERROR_MSG_MAX];	/* why sampling is degraded; "" when it is not */
	uint64_t min_mono;		/* the earliest time the next tick may have */
	uint64_t last_mono, last_duration_ns;
	int64_t last_wall;
};

const char *bw_engine_state_name(enum bw_engine_state state)
{
	switch (state) {
	case BW_ENGINE_STARTING:		return "starting";
	case BW_ENGINE_ERROR:			return "error";
	case BW_ENGINE_NO_SCHEDULER:		return "no_scheduler";
	case BW_ENGINE_SCHEDULER_UNKNOWN:	return "scheduler_unknown";
	case BW_ENGINE_SAMPLING:		return "sampling";
	}
	return "?";
}

/* ---- watch sets ---- */

static void free_watches(struct ewatch *w, size_t n)
{
	for (size_t i = 0; w && i < n; i++) {
		free(w[i].leaves);
		free(w[i].readings);
		free(w[i].loads);
		free(w[i].raw);
		free(w[i].scratch);
		free(w[i].all_loads);
		free(w[i].all_raw);
		free(w[i].text_raw);
		free(w[i].s_text);
	}
	free(w);
}

static int copy_set(const struct bw_watch_set *src, struct bw_watch_set **out,
		    struct bw_error *err)
{
	struct bw_watch_set *set = bw_watch_set_new();
	size_t n = src ? bw_watch_set_count(src) : 0;

	if (!set)
		return bw_error_set(err, -ENOMEM, "copying the watch set: out of memory");
	for (size_t i = 0; i < n; i++) {
		int r = bw_watch_set_add(set, bw_watch_set_get(src, i), err);

		if (r < 0) {
			bw_watch_set_free(set);
			return r;
		}
	}
	*out = set;
	return 0;
}

/* Everything a watch set needs, made before it replaces the old one. */
struct prepared {
	struct bw_watch_set *set;
	struct bw_fold *fold;
	struct ewatch *w;
	struct guard *guards;
	struct bw_load *sloads, *tloads;
	uint64_t *sraw, *traw;
	size_t n;
};

static void prepared_free(struct prepared *p)
{
	free_watches(p->w, p->n);
	free(p->guards);
	free(p->sloads);
	free(p->sraw);
	free(p->tloads);
	free(p->traw);
	bw_fold_free(p->fold);
	bw_watch_set_free(p->set);
}

static int prepare(struct bw_engine *e, const struct bw_watch_set *src, uint64_t mono_ns,
		   int64_t wall_ns, struct prepared *p, struct bw_error *err)
{
	int r;

	memset(p, 0, sizeof(*p));
	r = copy_set(src, &p->set, err);
	if (r < 0)
		return r;
	p->n = bw_watch_set_count(p->set);
	r = bw_fold_new(p->set, mono_ns, wall_ns, &p->fold, err);
	if (r < 0)
		goto fail;
	p->w = calloc(p->n ? p->n : 1, sizeof(*p->w));
	p->guards = calloc(p->n ? p->n : 1, sizeof(*p->guards));
	p->sloads = calloc(p->n ? p->n : 1, sizeof(*p->sloads));
	p->sraw = calloc(p->n ? p->n : 1, sizeof(*p->sraw));
	p->tloads = calloc(BW_INVENTORY_CHECK_LOADS + 2 * p->n, sizeof(*p->tloads));
	p->traw = calloc(BW_INVENTORY_CHECK_LOADS + 2 * p->n, sizeof(*p->traw));
	if (!p->w || !p->guards || !p->sloads || !p->sraw || !p->tloads || !p->traw)
		goto oom;
	for (size_t i = 0; i < p->n; i++) {
		struct ewatch *ew = &p->w[i];
		size_t cap;

		ew->w = bw_watch_set_get(p->set, i);
		ew->percpu = bw_agg_is_percpu(ew->w->agg);
		ew->state = W_PENDING;
		snprintf(ew->reason, sizeof(ew->reason), "not resolved yet (no tick)");
		cap = ew->percpu ? e->nr_cpus : 1;
		ew->leaves = calloc(cap, sizeof(*ew->leaves));
		ew->readings = calloc(cap, sizeof(*ew->readings));
		if (!ew->leaves || !ew->readings)
			goto oom;
		if (ew->percpu) {
			ew->loads = calloc(cap, sizeof(*ew->loads));
			ew->raw = calloc(cap, sizeof(*ew->raw));
			if (!ew->loads || !ew->raw)
				goto oom;
		}
	}
	return 0;
oom:
	r = bw_error_set(err, -ENOMEM, "preparing %zu watches: out of memory", p->n);
fail:
	prepared_free(p);
	memset(p, 0, sizeof(*p));
	return r;
}

static void install(struct bw_engine *e, struct prepared *p, uint64_t mono_ns)
{
	struct prepared old = { .set = e->set, .fold = e->fold, .w = e->w, .guards = e->guards,
				.sloads = e->sloads, .sraw = e->sraw, .tloads = e->tloads,
				.traw = e->traw, .n = e->n };

	prepared_free(&old);
	e->set = p->set;
	e->fold = p->fold;
	e->w = p->w;
	e->guards = p->guards;
	e->sloads = p->sloads;
	e->sraw = p->sraw;
	e->tloads = p->tloads;
	e->traw = p->traw;
	e->n = p->n;
	e->nguards = 0;
	e->nsloads = 0;
	e->nunresolved = p->n;
	e->resolve_needed = true;
	e->min_mono = mono_ns;
}

int bw_engine_new(struct bw_kernel *k, const struct bw_watch_set *set, uint64_t mono_ns,
		  int64_t wall_ns, struct bw_engine **out, struct bw_error *err)
{
	struct bw_engine *e;
	struct prepared p;
	int r;

	*out = NULL;
	if (!k)
		return bw_error_set(err, -EINVAL, "making a watch engine: no kernel model");
	e = calloc(1, sizeof(*e));
	if (!e)
		return bw_error_set(err, -ENOMEM, "making a watch engine: out of memory");
	e->k = k;
	e->ram = bw_kernel_ram(k);
	e->nr_cpus = bw_kernel_nr_cpu_ids(k);
	e->state = BW_ENGINE_STARTING;
	r = bw_bpf_layout_init(k, &e->layout, err);
	if (r < 0)
		goto fail;
	if (e->nr_cpus == 0 || e->nr_cpus > BW_FOLD_MAX_CPUS) {
		r = bw_error_set(err, -EINVAL, "making a watch engine: nr_cpu_ids %u is outside "
				 "1..%d", e->nr_cpus, BW_FOLD_MAX_CPUS);
		goto fail;
	}
	r = prepare(e, set, mono_ns, wall_ns, &p, err);
	if (r < 0)
		goto fail;
	install(e, &p, mono_ns);
	e->scan_tokens = BW_ENGINE_RESCAN_BURST;
	e->scan_tokens_mono = mono_ns;
	*out = e;
	return 0;
fail:
	free(e);
	return r;
}

void bw_engine_free(struct bw_engine *e)
{
	if (!e)
		return;
	free_watches(e->w, e->n);
	free(e->guards);
	free(e->sloads);
	free(e->sraw);
	free(e->tloads);
	free(e->traw);
	bw_fold_free(e->fold);
	bw_watch_set_free(e->set);
	bw_bpf_inventory_free(e->inv);
	free(e);
}

int bw_engine_set_watches(struct bw_engine *e, const struct bw_watch_set *set, uint64_t mono_ns,
			  int64_t wall_ns, struct bw_error *err)
{
	struct prepared p;
	int r = prepare(e, set, mono_ns, wall_ns, &p, err);

	if (r < 0)
		return bw_error_prefix(err, "replacing the watch set (the old one stays)");
	install(e, &p, mono_ns);
	return 0;
}

void bw_engine_reset(struct bw_engine *e, uint64_t mono_ns, int64_t wall_ns)
{
	bw_fold_reset(e->fold, mono_ns, wall_ns);
	e->min_mono = mono_ns;
}

/* snprintf that may cut: messages quote messages, and the tail is what goes. */
__attribute__((format(printf, 3, 4)))
static void format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* ---- scanning ---- */

static void update_state(struct bw_engine *e)
{
	const struct bw_bpf_inventory *inv = e->inv;
	struct bw_error pe = { 0 };

	e->has_prefix = false;
	e->prefix[0] = '\0';
	if (!inv) {
		e->state = BW_ENGINE_ERROR;
		return;	/* message set by the failed scan */
	}
	e->message[0] = '\0';
	if (!inv->scx.enabled) {
		e->state = BW_ENGINE_NO_SCHEDULER;
		if (inv->scx.problem)
			format(e->message, sizeof(e->message), "%s", inv->scx.problem);
		return;
	}
	if (inv->scx.object < 0) {
		e->state = BW_ENGINE_SCHEDULER_UNKNOWN;
		snprintf(e->message, sizeof(e->message), "sched_ext scheduler \"%s\" is attached "
			 "but its BPF object was not found: %s", inv->scx.ops_name,
			 inv->scx.problem ? inv->scx.problem : "unknown reason");
		return;
	}
	e->state = BW_ENGINE_SAMPLING;
	memcpy(e->prefix, inv->objects[inv->scx.object].prefix, sizeof(e->prefix));
	/* The prefix leads every metric key: it must obey the key rules. */
	if (bw_watch_check_object(e->prefix, &pe) == 0)
		e->has_prefix = true;
	else
		format(e->message, sizeof(e->message), "the active scheduler's object prefix "
			 "cannot start a metric key: %s", pe.msg);
}

static void rescan(struct bw_engine *e)
{
	struct bw_bpf_inventory *inv = NULL;
	struct bw_error se = { 0 };

	e->scans++;
	bw_bpf_inventory_free(e->inv);
	e->inv = NULL;
	bw_kernel_flush_translations(e->k);
	if (bw_bpf_inventory_scan(e->k, &e->layout, &inv, &se) < 0)
		format(e->message, sizeof(e->message), "reading the guest's BPF maps: %s", se.msg);
	else
		e->inv = inv;
	update_state(e);
}

/* ---- resolving ---- */

__attribute__((format(printf, 3, 4)))
static enum wstate fail(struct ewatch *ew, enum wstate state, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ew->reason, sizeof(ew->reason), fmt, ap);
	va_end(ap);
	return state;
}

/* Append to a message being built in @buf; silently stops when full. */
__attribute__((format(printf, 3, 4)))
static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strnlen(buf, size);
	va_list ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return lx <= ls && memcmp(s + ls - lx, suffix, lx) == 0;
}

static enum wstate find_object(struct bw_engine *e, struct ewatch *ew, int *out)
{
	const struct bw_bpf_inventory *inv = e->inv;
	const char *pin = ew->w->object;

	/* Maps that cannot be read (memory missing, garbage) are an error, not a wait. */
	if (!inv)
		return fail(ew, e->state == BW_ENGINE_ERROR ? W_ERROR : W_PENDING,
			    "the guest's BPF maps are not known: %s", e->message);
	if (pin) {
		unsigned int count = 0;
		char list[BW_ERROR_MSG_MAX] = "";

		for (unsigned int i = 0; i < inv->nobjects; i++) {
			const struct bw_bpf_object *o = &inv->objects[i];

			if (strcmp(o->prefix, pin) != 0)
				continue;
			*out = (int)i;
			append(list, sizeof(list), "%sBTF %#" PRIx64 " (map ids", count ? "; " : "",
			       o->btf_addr);
			for (unsigned int m = 0; m < o->nmaps; m++)
				append(list, sizeof(list), " %u", inv->maps[o->maps[m]].id);
			append(list, sizeof(list), ")");
			count++;
		}
		if (count == 0)
			return fail(ew, W_PENDING, "no BPF object with prefix \"%s\" (Object=)", pin);
		if (count > 1)
			return fail(ew, W_ERROR, "%u BPF objects have prefix \"%s\" (Object=): %s",
				    count, pin, list);
		return W_RESOLVED;
	}
	if (!inv->scx.enabled) {
		if (!e->layout.has_scx)
			return fail(ew, W_PENDING, "no active sched_ext scheduler (the guest kernel "
				    "has no sched_ext; pin an object with Object=)");
		return fail(ew, W_PENDING, "no active sched_ext scheduler%s%s",
			    inv->scx.problem ? ": " : "", inv->scx.problem ? inv->scx.problem : "");
	}
	if (!e->has_prefix)
		return fail(ew, W_PENDING, "%s", e->message);
	*out = inv->scx.object;
	return W_RESOLVED;
}

/*
 * The selector in front of the member path: "[*]" (every element or
 * entry), "[N]" (element N, or the hash entry with key N; decimal or 0x
 * hex, up to 64 bits), each alone or followed by ".path"; nothing is
 * element 0 and the whole field.  *given says a selector was written.
 */
static enum wstate split_selector(struct ewatch *ew, uint64_t *index, bool *given,
				  const char **rest)
{
	const char *f = ew->w->field, *p = f + 1;
	bool hex = f[1] == '0' && (f[2] == 'x' || f[2] == 'X');
	uint64_t v = 0;
	size_t digits = 0;

	*index = 0;
	*rest = f;
	*given = f[0] == '[';
	ew->sel = SEL_ELEM;
	if (f[0] != '[')
		return W_RESOLVED;
	if (f[1] == '*') {
		ew->sel = SEL_ALL;
		p = f + 2;
	} else {
		p = bw_parse_digits(f + 1 + (hex ? 2 : 0), hex, UINT64_MAX, &v, &digits);
		if (!p)
			return fail(ew, W_ERROR, "field \"%s\": the index does not fit in 64 "
				    "bits", f);
		if (digits == 0)
			p = f;	/* refused just below */
	}
	if (p == f || *p != ']' || (p[1] && (p[1] != '.' || !p[2])))
		return fail(ew, W_ERROR, "field \"%s\": an element is \"[N]\" (decimal or 0x "
			    "hex) or \"[*]\", alone or followed by \".\" and a member path", f);
	*index = v;
	*rest = p[1] ? p + 2 : p + 1;
	return W_RESOLVED;
}

/* The leaf of a Type=/Offset= watch on a map without BTF. */
static void typed_field(const struct bw_watch *w, struct bw_field *f)
{
	memset(f, 0, sizeof(*f));
	f->offset = w->has_offset ? w->offset : 0;
	f->width = (uint8_t)bw_leaf_type_width(w->type);
	f->is_signed = bw_leaf_type_signed(w->type);
	f->kind = w->type == BW_TYPE_BOOL ? BW_FIELD_BOOL : BW_FIELD_INT;
	snprintf(f->type_name, sizeof(f->type_name), "%s (Type=)", bw_leaf_type_name(w->type));
	snprintf(f->path, sizeof(f->path), "%s", w->field);
}

/*
 * The leaf of @ew in map @m: from the object's BTF, or from Type=/Offset=
 * when the map has none.  With BTF, Type= and Offset= must agree with it.
 */
static enum wstate resolve_leaf(struct ewatch *ew, const struct btf *btf,
				const struct bw_bpf_map *m, const char *rest)
{
	const struct bw_watch *w = ew->w;
	struct bw_error fe = { 0 };
	int r;

	if (!m->btf_value_type_id) {
		if (w->type == BW_TYPE_BTF)
			return fail(ew, W_ERROR, "map \"%s\" (id %u) has no BTF (declared with "
				    "key_size/value_size): give Type= (and Offset=) to read it",
				    m->full_name, m->id);
		if (*rest)
			return fail(ew, W_ERROR, "map \"%s\" (id %u) has no BTF: the field can only "
				    "be an element \"[N]\" (with Type= and Offset=), not the member "
				    "path \"%s\"", m->full_name, m->id, rest);
		typed_field(w, &ew->field);
	} else {
		r = *rest ? bw_field_resolve(btf, m->btf_value_type_id, rest, &ew->field, &fe) :
			    bw_field_resolve_value(btf, m->btf_value_type_id, &ew->field, &fe);
		if (r < 0)
			return fail(ew, W_ERROR, "map \"%s\" (id %u): %s", m->full_name, m->id,
				    fe.msg);
		if (w->type != BW_TYPE_BTF &&
		    (ew->field.kind == BW_FIELD_BITFIELD ||
		     ew->field.width != bw_leaf_type_width(w->type) ||
		     ew->field.is_signed != bw_leaf_type_signed(w->type) ||
		     (ew->field.kind == BW_FIELD_BOOL) != (w->type == BW_TYPE_BOOL)))
			return fail(ew, W_ERROR, "map \"%s\" (id %u): Type=%s disagrees with the "
				    "BTF, which makes \"%s\" %s%s (%u bytes, %s)", m->full_name, m->id,
				    bw_leaf_type_name(w->type), w->field,
				    bw_field_kind_name(ew->field.kind),
				    ew->field.kind == BW_FIELD_BITFIELD ? " field" : "",
				    ew->field.width, ew->field.is_signed ? "signed" : "unsigned");
		if (w->has_offset && w->offset != ew->field.offset)
			return fail(ew, W_ERROR, "map \"%s\" (id %u): Offset=%llu disagrees with the "
				    "BTF, which places \"%s\" at byte %llu", m->full_name, m->id,
				    (unsigned long long)w->offset, w->field,
				    (unsigned long long)ew->field.offset);
	}
	if (bw_field_check_fits(&ew->field, m->value_size, &fe) < 0)
		return fail(ew, W_ERROR, "map \"%s\" (id %u): %s", m->full_name, m->id, fe.msg);
	return W_RESOLVED;
}

static int place_bytes(struct bw_engine *e, uint64_t va, uint64_t gpa, unsigned int width,
		       struct leaf *lf, struct bw_error *err);

static int place_leaf(struct bw_engine *e, uint64_t va, unsigned int width, uint32_t cpu,
		      struct leaf *lf, struct bw_error *err)
{
	uint64_t gpa, off;
	int r;

	memset(lf, 0, sizeof(*lf));
	lf->cpu = cpu;
	if (width == 0 || width > PAGE_SIZE_4K)
		return bw_error_set(err, -EINVAL, "a %u-byte leaf", width);
	r = bw_kernel_translate(e->k, va, &gpa, err);
	if (r < 0)
		return r;
	if (width <= 8 && va % width == 0) {
		r = bw_ram_locate(e->ram, gpa, width, &off, err);
		if (r < 0)
			return r;
		if (off % width == 0) {
			lf->load = true;
			lf->off = off;
			return 0;
		}
	}
	return place_bytes(e, va, gpa, width, lf, err);
}

/* @width bytes at @va (GPA @gpa) copied bytewise: they may even straddle two pages. */
static int place_bytes(struct bw_engine *e, uint64_t va, uint64_t gpa, unsigned int width,
		       struct leaf *lf, struct bw_error *err)
{
	uint64_t gpa1 = 0, off;
	int r;

	lf->load = false;
	lf->len0 = (uint32_t)(PAGE_SIZE_4K - (va & (PAGE_SIZE_4K - 1)));
	if (lf->len0 > width)
		lf->len0 = width;
	r = bw_ram_locate(e->ram, gpa, lf->len0, &off, err);
	if (r < 0)
		return r;
	if (lf->len0 < width) {
		r = bw_kernel_translate(e->k, va + lf->len0, &gpa1, err);
		if (r < 0)
			return r;
		r = bw_ram_locate(e->ram, gpa1, width - lf->len0, &off, err);
		if (r < 0)
			return r;
	}
	lf->gpa[0] = gpa;
	lf->gpa[1] = gpa1;
	return 0;
}

static int add_guard(struct bw_engine *e, const struct bw_bpf_map *m, struct bw_error *err)
{
	uint64_t va = m->addr + e->layout.map_id, gpa, off;
	int r;

	for (size_t i = 0; i < e->nguards; i++)
		if (e->guards[i].id == m->id)
			return 0;
	r = bw_kernel_translate(e->k, va, &gpa, err);
	if (r >= 0)
		r = bw_ram_locate(e->ram, gpa, 4, &off, err);
	if (r >= 0 && (off % 4 || va % 4))
		r = bw_error_set(err, -EINVAL, "its id at %#" PRIx64 " is not 4-byte aligned", va);
	if (r < 0)
		return r;
	/* One guard per watch at most, and the array holds one per watch. */
	e->guards[e->nguards++] = (struct guard){ .id = m->id, .off = off };
	return 0;
}

static enum wstate locate_array(struct bw_engine *e, struct ewatch *ew,
				const struct bw_bpf_map *m)
{
	struct bw_error le = { 0 };
	uint64_t va;

	if (__builtin_add_overflow(m->values, (uint64_t)ew->index * m->elem_size, &va) ||
	    __builtin_add_overflow(va, ew->field.offset, &va))
		return fail(ew, W_ERROR, "map \"%s\" (id %u): element %u wraps around the address "
			    "space", m->name, m->id, ew->index);
	if (place_leaf(e, va, ew->field.width, 0, &ew->leaves[0], &le) < 0)
		return fail(ew, W_ERROR, "map \"%s\" (id %u) element %u at %#" PRIx64 ": %s",
			    m->name, m->id, ew->index, va, le.msg);
	ew->va = va;
	ew->nleaves = 1;
	ew->aligned = ew->leaves[0].load;
	return W_RESOLVED;
}

static enum wstate locate_percpu(struct bw_engine *e, struct ewatch *ew,
				 const struct bw_bpf_map *m)
{
	struct bw_error le = { 0 };
	uint64_t slot, pptr = 0;

	if (__builtin_add_overflow(m->values, (uint64_t)ew->index * 8, &slot))
		return fail(ew, W_ERROR, "map \"%s\" (id %u): pptrs[%u] wraps around", m->name,
			    m->id, ew->index);
	if (bw_kernel_read(e->k, slot, &pptr, sizeof(pptr), &le) < 0)
		return fail(ew, W_ERROR, "map \"%s\" (id %u): reading pptrs[%u]: %s", m->name,
			    m->id, ew->index, le.msg);
	if (!pptr)
		return fail(ew, W_ERROR, "map \"%s\" (id %u): pptrs[%u] is NULL", m->name, m->id,
			    ew->index);
	ew->va = pptr;
	ew->aligned = true;
	for (uint32_t cpu = 0; cpu < e->nr_cpus; cpu++) {
		/* Per-CPU pointer arithmetic is modular, as in the kernel. */
		uint64_t va = pptr + bw_kernel_per_cpu_offset(e->k, cpu) + ew->field.offset;
		struct leaf *lf = &ew->leaves[ew->nleaves];

		if (place_leaf(e, va, ew->field.width, cpu, lf, &le) < 0) {
			if (ew->cpus_missing++ == 0)
				format(ew->missing_msg, sizeof(ew->missing_msg), "CPU %u: %s", cpu,
					 le.msg);
			continue;
		}
		ew->aligned &= lf->load;
		ew->nleaves++;
	}
	/* A number over the CPUs that happen to be readable would be a wrong number. */
	if (ew->cpus_missing)
		return fail(ew, W_ERROR, "map \"%s\" (id %u): %u of %u CPUs' copies of element %u "
			    "cannot be read (%s)", m->name, m->id, ew->cpus_missing, e->nr_cpus,
			    ew->index, ew->missing_msg);
	for (uint32_t j = 0; ew->aligned && j < ew->nleaves; j++)
		ew->loads[j] = (struct bw_load){ .offset = ew->leaves[j].off,
						 .width = ew->field.width };
	return W_RESOLVED;
}

static bool is_hash_type(const struct bw_bpf_layout *l, uint32_t type)
{
	int64_t t = (int64_t)type;

	return t == l->type_hash || t == l->type_percpu_hash || t == l->type_lru_hash ||
	       t == l->type_lru_percpu_hash;
}

/* Grow a per-watch buffer at resolve time, so that ticks never allocate. */
static bool reserve(void **buf, uint64_t *cap, uint64_t want)
{
	void *p;

	if (*cap >= want)
		return true;
	p = realloc(*buf, want ? want : 1);
	if (!p)
		return false;
	*buf = p;
	*cap = want;
	return true;
}

/*
 * "[*]" on an array: every element (on every CPU for a per-CPU array),
 * each translated once and loaded in one batch per tick.  Every copy must
 * be located and one aligned load: a reading that leaves some out would be
 * a number computed from part of the data.
 */
static enum wstate locate_all(struct bw_engine *e, struct ewatch *ew, const struct bw_bpf_map *m,
			      bool percpu)
{
	uint32_t ncpu = percpu ? e->nr_cpus : 1;
	uint64_t n = (uint64_t)m->max_entries * ncpu;
	struct bw_error le = { 0 };
	struct leaf lf;

	if (n > BW_ENGINE_ALL_MAX)
		return fail(ew, W_ERROR, "map \"%s\" (id %u): [*] over %u elements x %u CPUs is "
			    "more than the %u readings a tick takes", m->full_name, m->id,
			    m->max_entries, ncpu, BW_ENGINE_ALL_MAX);
	if (!reserve((void **)&ew->all_loads, &ew->all_loads_cap, n * sizeof(*ew->all_loads)) ||
	    !reserve((void **)&ew->all_raw, &ew->all_raw_cap, n * sizeof(*ew->all_raw)))
		return fail(ew, W_ERROR, "map \"%s\" (id %u): out of memory", m->full_name, m->id);
	ew->all_n = 0;
	ew->va = m->values;
	for (uint32_t i = 0; i < m->max_entries; i++) {
		uint64_t base = m->values + (uint64_t)i * (percpu ? 8 : m->elem_size);

		if (percpu && bw_kernel_read(e->k, base, &base, sizeof(base), &le) < 0)
			return fail(ew, W_ERROR, "map \"%s\" (id %u): reading pptrs[%u]: %s",
				    m->full_name, m->id, i, le.msg);
		for (uint32_t cpu = 0; cpu < ncpu; cpu++) {
			uint64_t va = base + (percpu ? bw_kernel_per_cpu_offset(e->k, cpu) : 0) +
				      ew->field.offset;

			if (place_leaf(e, va, ew->field.width, cpu, &lf, &le) < 0)
				return fail(ew, W_ERROR, "map \"%s\" (id %u) element %u%s: %s",
					    m->full_name, m->id, i, percpu ? " on a CPU" : "", le.msg);
			if (!lf.load)
				return fail(ew, W_ERROR, "map \"%s\" (id %u): [*] reads naturally "
					    "aligned leaves only; \"%s\" of element %u is not one",
					    m->full_name, m->id, ew->w->field, i);
			ew->all_loads[ew->all_n++] = (struct bw_load){ .offset = lf.off,
								       .width = ew->field.width };
		}
	}
	ew->aligned = true;
	return W_RESOLVED;
}

/* A hash map: opened once, walked every tick (its entries come and go). */
static enum wstate locate_hash(struct bw_engine *e, struct ewatch *ew, const struct bw_bpf_map *m,
			       bool percpu)
{
	struct bw_error he = { 0 };
	uint64_t extent = ew->field.offset + ew->field.width;

	if (bw_htab_open(e->k, &e->layout.htab, m->addr, m->max_entries, m->key_size,
			 m->value_size, m->flags, percpu, &ew->htab, &he) < 0)
		return fail(ew, W_ERROR, "map \"%s\" (id %u): %s", m->full_name, m->id, he.msg);
	/* The leaf (or the per-CPU pointer) comes with the entry when it is near. */
	ew->htab.value_read = percpu ? 8 : extent <= BW_HTAB_VALUE_READ_MAX ? (uint32_t)extent : 0;
	if (!reserve((void **)&ew->scratch, &ew->scratch_cap, ew->htab.scratch_size))
		return fail(ew, W_ERROR, "map \"%s\" (id %u): out of memory", m->full_name, m->id);
	ew->va = ew->htab.buckets;
	ew->aligned = true;
	return W_RESOLVED;
}

/* A char[] leaf of one array element: its bytes, at most two pages' worth. */
static enum wstate locate_text(struct bw_engine *e, struct ewatch *ew, const struct bw_bpf_map *m)
{
	struct bw_error le = { 0 };
	uint64_t va = m->values + (uint64_t)ew->index * m->elem_size + ew->field.offset;

	if (!ew->text_raw) {
		ew->text_raw = malloc(BW_FIELD_TEXT_MAX);
		ew->s_text = malloc(BW_FIELD_TEXT_OUT_MAX);
		if (!ew->text_raw || !ew->s_text)
			return fail(ew, W_ERROR, "map \"%s\" (id %u): out of memory", m->full_name,
				    m->id);
	}
	uint64_t gpa;

	memset(&ew->leaves[0], 0, sizeof(ew->leaves[0]));
	if (bw_kernel_translate(e->k, va, &gpa, &le) < 0 ||
	    place_bytes(e, va, gpa, ew->field.text_len, &ew->leaves[0], &le) < 0)
		return fail(ew, W_ERROR, "map \"%s\" (id %u) element %u at %#" PRIx64 ": %s",
			    m->full_name, m->id, ew->index, va, le.msg);
	ew->va = va;
	ew->nleaves = 1;
	ew->aligned = false;
	return W_RESOLVED;
}

static enum wstate resolve_watch(struct bw_engine *e, struct ewatch *ew)
{
	struct bw_bpf_inventory *inv = e->inv;
	const struct bw_watch *w = ew->w;
	const struct bw_bpf_object *o;
	const struct bw_bpf_map *m = NULL;
	const struct btf *btf;
	struct bw_error be = { 0 }, fe = { 0 };
	const char *rest;
	char list[BW_ERROR_MSG_MAX] = "";
	unsigned int count = 0;
	uint64_t sel = 0;
	bool is_array, is_percpu, given;
	enum wstate s;
	int obj = -1;

	s = find_object(e, ew, &obj);
	if (s != W_RESOLVED)
		return s;
	o = &inv->objects[obj];
	/* The BTF first: loading it gives the maps their full names. */
	btf = bw_bpf_object_btf(e->k, &e->layout, inv, (unsigned int)obj, &be);
	for (unsigned int i = 0; i < o->nmaps; i++) {
		const struct bw_bpf_map *c = &inv->maps[o->maps[i]];

		if (!ends_with(c->name, w->map_suffix) && !ends_with(c->full_name, w->map_suffix))
			continue;
		append(list, sizeof(list), "%s\"%s\" (id %u)", count ? ", " : "", c->full_name,
		       c->id);
		m = c;
		count++;
	}
	if (count == 0) {
		for (unsigned int i = 0; i < o->nmaps; i++)
			append(list, sizeof(list), "%s%s", i ? ", " : "",
			       inv->maps[o->maps[i]].full_name);
		if (!btf)
			return fail(ew, W_PENDING, "no map ending in \"%s\" in object \"%s\" (its "
				    "maps: %s); its BTF, which has the full map names, could not be "
				    "read: %s", w->map_suffix, o->prefix, list, be.msg);
		return fail(ew, W_PENDING, "no map ending in \"%s\" in object \"%s\" (its maps: %s)",
			    w->map_suffix, o->prefix, list);
	}
	if (count > 1)
		return fail(ew, W_ERROR, "map suffix \"%s\" matches %u maps of object \"%s\": %s",
			    w->map_suffix, count, o->prefix, list);
	if (!btf)
		return fail(ew, W_PENDING, "object \"%s\": its BTF could not be read: %s", o->prefix,
			    be.msg);
	is_array = (int64_t)m->type == e->layout.type_array;
	is_percpu = (int64_t)m->type == e->layout.type_percpu_array ||
		    (int64_t)m->type == e->layout.type_percpu_hash ||
		    (int64_t)m->type == e->layout.type_lru_percpu_hash;
	ew->hash = is_hash_type(&e->layout, m->type);
	if (!is_array && !is_percpu && !ew->hash)
		return fail(ew, W_ERROR, "map \"%s\" (id %u) is a %s map: only array, "
			    "percpu_array and hash maps can be watched", m->full_name, m->id,
			    bw_bpf_map_type_name(&e->layout, m->type));
	s = split_selector(ew, &sel, &given, &rest);
	if (s != W_RESOLVED)
		return s;
	/* Across= folds every element and CPU into one value: any map will do. */
	if (ew->percpu && !is_percpu)
		return fail(ew, W_ERROR, "aggregate %s needs a per-CPU map; \"%s\" (id %u) "
			    "is of type %s (use scalar or scalar-counter)", bw_agg_name(w->agg),
			    m->full_name, m->id, bw_bpf_map_type_name(&e->layout, m->type));
	if (!ew->percpu && is_percpu && ew->sel != SEL_ALL)
		return fail(ew, W_ERROR, "aggregate %s needs a map that is not per-CPU; \"%s\" "
			    "(id %u) is of type %s (use percpu or percpu-counter, or [*] with "
			    "Across=)", bw_agg_name(w->agg), m->full_name, m->id,
			    bw_bpf_map_type_name(&e->layout, m->type));
	if (ew->hash && !given)
		return fail(ew, W_ERROR, "map \"%s\" (id %u) is a hash map: name an entry by its "
			    "key, \"[KEY].%s\", or every entry, \"[*].%s\"", m->full_name, m->id,
			    w->field, w->field);
	if (ew->hash && ew->sel == SEL_ELEM) {
		ew->sel = SEL_KEY;
		if (m->key_size != 1 && m->key_size != 2 && m->key_size != 4 && m->key_size != 8)
			return fail(ew, W_ERROR, "map \"%s\" (id %u) has %u-byte keys: [KEY] reads "
				    "integer keys of 1, 2, 4 or 8 bytes", m->full_name, m->id,
				    m->key_size);
		if (m->key_size < 8 && sel >> (8 * m->key_size))
			return fail(ew, W_ERROR, "key %" PRIu64 " does not fit the %u-byte keys of "
				    "map \"%s\" (id %u)", sel, m->key_size, m->full_name, m->id);
		ew->key = sel;
	} else if (ew->sel == SEL_ELEM && sel >= m->max_entries) {
		return fail(ew, W_ERROR, "element [%" PRIu64 "] is out of range: map \"%s\" (id %u) "
			    "has %u entries", sel, m->full_name, m->id, m->max_entries);
	}
	ew->index = ew->sel == SEL_ELEM ? (uint32_t)sel : 0;
	s = resolve_leaf(ew, btf, m, rest);
	if (s != W_RESOLVED)
		return s;
	if (ew->field.kind == BW_FIELD_TEXT &&
	    (w->agg != BW_AGG_SCALAR_COUNTER || ew->sel != SEL_ELEM || !is_array))
		return fail(ew, W_ERROR, "\"%s\" is text (%s): it is read from one element of an "
			    "array map, keeping its last value (Aggregate=scalar-counter)", w->field,
			    ew->field.type_name);
	if (ew->hash)
		s = locate_hash(e, ew, m, is_percpu);
	else if (ew->sel == SEL_ALL)
		s = locate_all(e, ew, m, is_percpu);
	else if (ew->field.kind == BW_FIELD_TEXT)
		s = locate_text(e, ew, m);
	else
		s = is_array ? locate_array(e, ew, m) : locate_percpu(e, ew, m);
	if (s != W_RESOLVED)
		return s;
	if (add_guard(e, m, &fe) < 0)
		return fail(ew, W_ERROR, "map \"%s\" (id %u): %s", m->full_name, m->id, fe.msg);
	ew->map_id = m->id;
	ew->map_type = m->type;
	memcpy(ew->map_name, m->name, sizeof(ew->map_name));
	snprintf(ew->map_full_name, sizeof(ew->map_full_name), "%s", m->full_name);
	memcpy(ew->object, o->prefix, sizeof(ew->object));
	ew->object_btf = o->btf_addr;
	ew->reason[0] = '\0';
	return W_RESOLVED;
}

static void resolve_all(struct bw_engine *e, uint64_t mono_ns)
{
	e->nguards = 0;
	e->nsloads = 0;
	e->nunresolved = 0;
	for (size_t i = 0; i < e->n; i++) {
		struct ewatch *ew = &e->w[i];

		ew->nleaves = 0;
		ew->cpus_missing = 0;
		ew->missing_msg[0] = '\0';
		ew->s_is_real = ew->s_is_text = false;
		ew->s_count = 0;
		ew->hash = false;
		ew->sel = SEL_ELEM;
		ew->state = resolve_watch(e, ew);
		if (ew->state != W_RESOLVED) {
			ew->nleaves = 0;
			e->nunresolved++;
		} else if (!ew->percpu && ew->aligned && ew->sel == SEL_ELEM && !ew->hash &&
			   ew->field.kind != BW_FIELD_TEXT) {
			/* One scalar batch slot per watch at most: capacity n holds them all. */
			ew->slot = (uint32_t)e->nsloads;
			e->sloads[e->nsloads++] = (struct bw_load){ .offset = ew->leaves[0].off,
								    .width = ew->field.width };
		}
	}
	e->resolve_needed = false;
	e->last_attempt_mono = mono_ns;
}

/* ---- the tick ---- */

static int read_leaf(struct bw_engine *e, unsigned int width, const struct leaf *lf,
		     uint64_t *raw, struct bw_error *err)
{
	uint8_t b[8];
	int r;

	if (lf->load)
		return bw_ram_load_at(e->ram, lf->off, width, raw, err);
	r = bw_ram_read(e->ram, lf->gpa[0], b, lf->len0, err);
	if (r == 0 && lf->len0 < width)
		r = bw_ram_read(e->ram, lf->gpa[1], b + lf->len0, width - lf->len0, err);
	if (r < 0)
		return r;
	*raw = 0;
	for (unsigned int i = 0; i < width; i++)
		*raw |= (uint64_t)b[i] << (8 * i);
	return 0;
}

static void note_error(struct ewatch *ew, const struct bw_error *err)
{
	memcpy(ew->s_error, err->msg, strnlen(err->msg, sizeof(err->msg) - 1) + 1);
}

static struct bw_fold_value fold_value(struct bw_value v)
{
	return v.is_signed ? bw_fold_s64(v.s) : bw_fold_u64(v.u);
}

/*
 * Load the scalar batch from slot @from on: sraw[from..s_loaded_end) is
 * loaded, and when that stops short of nsloads, slot s_loaded_end failed
 * with s_failed.
 */
static void next_batch(struct bw_engine *e, size_t from)
{
	size_t done = 0;

	e->s_failed_r = 0;
	if (from < e->nsloads)
		e->s_failed_r = bw_ram_load_batch(e->ram, e->sloads + from, e->nsloads - from,
						  e->sraw + from, &done, &e->s_failed);
	e->s_loaded_end = from + done;
}

static void sample_scalar(struct bw_engine *e, size_t i, struct ewatch *ew)
{
	struct bw_error le;
	const struct bw_error *ep = &le;
	struct bw_value v;
	uint64_t raw = 0;
	int r = 0;

	ew->s_seq = e->seq;
	if (!ew->aligned) {
		r = read_leaf(e, ew->field.width, &ew->leaves[0], &raw, &le);
	} else if (ew->slot < e->s_loaded_end) {
		raw = e->sraw[ew->slot];
	} else {
		/* Slots are visited in order: this is the one the batch stopped at. */
		r = e->s_failed_r;
		ep = &e->s_failed;
	}
	if (r == 0)
		r = bw_field_decode(&ew->field, raw, &v, &le);
	if (r == 0)
		r = bw_fold_scalar(e->fold, i, fold_value(v), &le);
	ew->s_ok = r == 0;
	if (r < 0) {
		note_error(ew, ep);
		bw_fold_failure(e->fold, i, NULL);
	} else {
		ew->s_value = v;
	}
	if (ew->aligned && ew->slot == e->s_loaded_end)
		next_batch(e, ew->slot + 1u);
}

/*
 * Decode the raw values of leaves [from, to) into readings from *n on; a
 * value that does not decode is counted in *failed, the first one noted.
 */
static void add_readings(struct ewatch *ew, const uint64_t *raw, size_t from, size_t to,
			 uint32_t *n, uint32_t *failed)
{
	struct bw_fold_cpu_value *rd = ew->readings;
	struct bw_error de;
	uint32_t k = *n;

	for (size_t j = from; j < to; j++) {
		struct bw_value v;

		if (bw_field_decode(&ew->field, raw[j - from], &v, &de) < 0) {
			if ((*failed)++ == 0)
				note_error(ew, &de);
			continue;
		}
		rd[k].cpu = ew->leaves[j].cpu;
		rd[k].value = fold_value(v);
		k++;
	}
	*n = k;
}

static void sample_percpu(struct bw_engine *e, size_t i, struct ewatch *ew)
{
	struct bw_error le;
	uint32_t n = 0, failed = 0;

	ew->s_seq = e->seq;
	if (ew->aligned) {
		/* One guarded batch for every CPU; after a failed load, on with the next. */
		size_t pos = 0;

		while (pos < ew->nleaves) {
			size_t done = 0;
			int r = bw_ram_load_batch(e->ram, ew->loads + pos, ew->nleaves - pos,
						  ew->raw + pos, &done, &le);

			add_readings(ew, ew->raw + pos, pos, pos + done, &n, &failed);
			if (r == 0)
				break;
			if (failed++ == 0)
				note_error(ew, &le);
			pos += done + 1;
		}
	} else {
		for (uint32_t j = 0; j < ew->nleaves; j++) {
			uint64_t raw;

			if (read_leaf(e, ew->field.width, &ew->leaves[j], &raw, &le) < 0) {
				if (failed++ == 0)
					note_error(ew, &le);
				continue;
			}
			add_readings(ew, &raw, j, j + 1, &n, &failed);
		}
	}
	ew->s_n = n;
	ew->s_failed = failed;
	ew->s_ok = n > 0 && failed == 0;
	if (failed) {
		/* Every CPU or none: a fold over some of them would be a partial number. */
		bw_fold_failure(e->fold, i, NULL);
		return;
	}
	if (bw_fold_percpu(e->fold, i, ew->readings, n, &le) < 0) {
		note_error(ew, &le);
		ew->s_ok = false;
	}
}

/* ---- readings of every element, of hash entries and of text ---- */

/* One tick's readings of a "[*]" watch, folded by Across=. */
struct across {
	__int128 sum, min, max;
	uint64_t count;
};

static void across_add(struct across *a, struct bw_value v)
{
	__int128 x = v.is_signed ? (__int128)v.s : (__int128)v.u;

	if (a->count == 0 || x < a->min)
		a->min = x;
	if (a->count == 0 || x > a->max)
		a->max = x;
	a->sum += x;	/* at most 2^20 x 2^64 per tick: far inside 128 bits */
	a->count++;
}

static bool fold_wide(__int128 x, struct bw_fold_value *out)
{
	if (x >= INT64_MIN && x <= INT64_MAX)
		*out = bw_fold_s64((int64_t)x);
	else if (x > 0 && x <= (__int128)UINT64_MAX)
		*out = bw_fold_u64((uint64_t)x);
	else
		return false;
	return true;
}

/* Feed the fold the Across= value of @a; a tick with nothing to fold feeds nothing. */
static void across_feed(struct bw_engine *e, size_t i, struct ewatch *ew, const struct across *a)
{
	struct bw_error fe;
	struct bw_fold_value fv = { 0 };
	__int128 x;
	int r;

	ew->s_count = a->count;
	ew->s_ok = false;
	ew->s_is_real = false;
	switch (ew->w->across) {
	case BW_ACROSS_AVG:
		if (!a->count) {
			snprintf(ew->s_error, sizeof(ew->s_error), "no element to average");
			return;
		}
		ew->s_real = (double)(a->sum / a->count) +
			     (double)(a->sum % a->count) / (double)a->count;
		ew->s_is_real = true;
		r = bw_fold_real(e->fold, i, ew->s_real, &fe);
		break;
	case BW_ACROSS_MIN:
	case BW_ACROSS_MAX:
		if (!a->count) {
			snprintf(ew->s_error, sizeof(ew->s_error), "no element: no %s",
				 bw_across_name(ew->w->across));
			return;
		}
		/* fallthrough */
	default:
		x = ew->w->across == BW_ACROSS_MIN ? a->min : ew->w->across == BW_ACROSS_MAX ?
		    a->max : ew->w->across == BW_ACROSS_COUNT ? (__int128)a->count : a->sum;
		if (!fold_wide(x, &fv)) {
			snprintf(ew->s_error, sizeof(ew->s_error), "the sum of %" PRIu64 " readings "
				 "does not fit in 64 bits", a->count);
			bw_fold_failure(e->fold, i, NULL);
			return;
		}
		ew->s_value = fv.is_signed ? (struct bw_value){ .is_signed = true, .s = (int64_t)fv.bits }
					   : (struct bw_value){ .is_signed = false, .u = fv.bits };
		r = bw_fold_scalar(e->fold, i, fv, &fe);
		break;
	}
	if (r < 0) {
		note_error(ew, &fe);
		return;
	}
	ew->s_ok = true;
}

/* "[*]" on an array: one batch of every load; any failure fails the tick's reading. */
static void sample_all(struct bw_engine *e, size_t i, struct ewatch *ew)
{
	struct across a = { 0 };
	struct bw_error le;
	size_t done = 0;

	ew->s_seq = e->seq;
	ew->s_ok = false;
	if (bw_ram_load_batch(e->ram, ew->all_loads, ew->all_n, ew->all_raw, &done, &le) < 0) {
		note_error(ew, &le);
		bw_fold_failure(e->fold, i, NULL);
		return;
	}
	for (uint32_t j = 0; j < ew->all_n; j++) {
		struct bw_value v;

		if (bw_field_decode(&ew->field, ew->all_raw[j], &v, &le) < 0) {
			note_error(ew, &le);
			bw_fold_failure(e->fold, i, NULL);
			return;
		}
		across_add(&a, v);
	}
	across_feed(e, i, ew, &a);
}

struct hash_pass {
	struct bw_engine *e;
	struct ewatch *ew;
	struct across a;
	bool found;
	uint32_t n;		/* SEL_KEY on a per-CPU map: readings[0..n) */
};

static int hash_leaf(struct hash_pass *hp, uint64_t va, const uint8_t *near,
		     struct bw_value *v, struct bw_error *err)
{
	const struct bw_field *f = &hp->ew->field;
	uint64_t raw = 0;
	int r;

	if (near) {
		/* Fixed-size copies: the compiler makes each one load. */
		switch (f->width) {
		case 1: raw = near[f->offset]; break;
		case 2: { uint16_t x; memcpy(&x, near + f->offset, 2); raw = x; break; }
		case 4: { uint32_t x; memcpy(&x, near + f->offset, 4); raw = x; break; }
		default: memcpy(&raw, near + f->offset, 8); break;
		}
	} else if ((r = bw_kernel_read(hp->e->k, va + f->offset, &raw, f->width, err)) < 0)
		return r;
	return bw_field_decode(f, raw, v, err);
}

static int hash_entry(void *ctx, uint64_t key, uint64_t value, const uint8_t *bytes,
		      struct bw_error *err)
{
	struct hash_pass *hp = ctx;
	struct ewatch *ew = hp->ew;
	struct bw_value v;
	int r;

	if (ew->sel == SEL_KEY && key != ew->key)
		return 0;
	if (ew->sel == SEL_KEY && hp->found)
		return bw_error_set(err, -EEXIST, "key %" PRIu64 " is in the table twice", key);
	hp->found = true;
	if (!ew->htab.percpu) {
		r = hash_leaf(hp, value, ew->htab.value_read ? bytes : NULL, &v, err);
		if (r < 0)
			return r;
		if (ew->sel == SEL_KEY)
			ew->s_value = v;
		else
			across_add(&hp->a, v);
		return 0;
	}
	{
		uint64_t pptr;

		memcpy(&pptr, bytes, sizeof(pptr));
		for (uint32_t cpu = 0; cpu < hp->e->nr_cpus; cpu++) {
			/* Per-CPU pointer arithmetic is modular, as in the kernel. */
			uint64_t va = pptr + bw_kernel_per_cpu_offset(hp->e->k, cpu);

			r = hash_leaf(hp, va, NULL, &v, err);
			if (r < 0)
				return bw_error_prefix(err, "key %" PRIu64 " on CPU %u", key, cpu);
			if (ew->sel == SEL_KEY)
				ew->readings[hp->n++] = (struct bw_fold_cpu_value){
					.cpu = cpu, .value = fold_value(v) };
			else
				across_add(&hp->a, v);
		}
	}
	return 0;
}

static void sample_hash(struct bw_engine *e, size_t i, struct ewatch *ew)
{
	struct hash_pass hp;
	struct bw_error le = { 0 };
	long r = -EAGAIN;
	int fr = 0;

	ew->s_seq = e->seq;
	ew->s_ok = false;
	for (int attempt = 0; r == -EAGAIN && attempt < HASH_WALK_ATTEMPTS; attempt++) {
		hp = (struct hash_pass){ .e = e, .ew = ew };
		r = bw_htab_walk(e->k, &e->layout.htab, &ew->htab, ew->scratch, hash_entry, &hp, &le);
	}
	if (r < 0) {
		note_error(ew, &le);
		bw_fold_failure(e->fold, i, NULL);
		return;
	}
	if (ew->sel == SEL_ALL) {
		across_feed(e, i, ew, &hp.a);
		return;
	}
	if (!hp.found) {
		/* An absent key is a reading that did not happen, never a 0. */
		snprintf(ew->s_error, sizeof(ew->s_error), "key %" PRIu64 " is not in the map",
			 ew->key);
		return;
	}
	if (ew->percpu) {
		ew->s_n = hp.n;
		ew->s_failed = 0;
		fr = bw_fold_percpu(e->fold, i, ew->readings, hp.n, &le);
	} else {
		fr = bw_fold_scalar(e->fold, i, fold_value(ew->s_value), &le);
	}
	if (fr < 0) {
		note_error(ew, &le);
		return;
	}
	ew->s_ok = true;
}

/* A char[] leaf: its bytes (one or two pages), as text. */
static void sample_text(struct bw_engine *e, size_t i, struct ewatch *ew)
{
	const struct leaf *lf = &ew->leaves[0];
	uint32_t len = ew->field.text_len;
	struct bw_error le;
	int r;

	ew->s_seq = e->seq;
	ew->s_ok = false;
	ew->s_is_text = true;
	r = bw_ram_read(e->ram, lf->gpa[0], ew->text_raw, lf->len0, &le);
	if (r == 0 && lf->len0 < len)
		r = bw_ram_read(e->ram, lf->gpa[1], ew->text_raw + lf->len0, len - lf->len0, &le);
	if (r == 0) {
		bw_field_text(ew->text_raw, len, ew->s_text);
		r = bw_fold_text(e->fold, i, ew->s_text, &le);
	}
	if (r < 0) {
		note_error(ew, &le);
		bw_fold_failure(e->fold, i, NULL);
		return;
	}
	ew->s_ok = true;
}

static bool guards_moved(struct bw_engine *e)
{
	for (size_t i = 0; i < e->nguards; i++) {
		uint64_t id;

		if (bw_ram_load_at(e->ram, e->guards[i].off, 4, &id, NULL) < 0 ||
		    (uint32_t)id != e->guards[i].id)
			return true;
	}
	return false;
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * Re-scans are paced whatever the change markers do: a burst of
 * BW_ENGINE_RESCAN_BURST, then one per BW_ENGINE_RESCAN_MIN_NS; and after
 * a scan that cost @cost_ns over BW_ENGINE_SCAN_BUDGET_NS, none for
 * BW_ENGINE_RESCAN_COST_FACTOR times that (capped at
 * BW_ENGINE_RESCAN_MAX_NS), so slow re-scans take at most 1/FACTOR of the
 * time; sampling then says it is degraded, and why.
 */
static bool scan_allowed(struct bw_engine *e, uint64_t mono_ns)
{
	uint64_t refill = mono_ns > e->scan_tokens_mono ?
			  (mono_ns - e->scan_tokens_mono) / BW_ENGINE_RESCAN_MIN_NS : 0;

	if (refill) {
		uint64_t tokens = e->scan_tokens + refill;

		e->scan_tokens = tokens > BW_ENGINE_RESCAN_BURST ? BW_ENGINE_RESCAN_BURST
								 : (unsigned int)tokens;
		e->scan_tokens_mono += refill * BW_ENGINE_RESCAN_MIN_NS;
	}
	return e->scans == 0 || (e->scan_tokens > 0 && mono_ns >= e->next_scan_mono);
}

static void pace_scans(struct bw_engine *e, uint64_t mono_ns, uint64_t cost_ns)
{
	uint64_t wait = cost_ns * BW_ENGINE_RESCAN_COST_FACTOR;

	if (e->scan_tokens)
		e->scan_tokens--;
	if (wait > BW_ENGINE_RESCAN_MAX_NS)
		wait = BW_ENGINE_RESCAN_MAX_NS;
	/* Within the budget the tokens bound the time re-scans take (a few per cent). */
	e->next_scan_mono = cost_ns > BW_ENGINE_SCAN_BUDGET_NS ? mono_ns + wait : 0;
	if (cost_ns > BW_ENGINE_SCAN_BUDGET_NS)
		format(e->degraded, sizeof(e->degraded), "reading the guest's BPF maps took %.1f ms, "
		       "over the %.0f ms budget of a tick: re-scans at most every %.1f s",
		       (double)cost_ns / 1e6, (double)BW_ENGINE_SCAN_BUDGET_NS / 1e6,
		       (double)wait / 1e9);
	else
		e->degraded[0] = '\0';
}

/*
 * The change markers, the guards and the scalar leaves in one batch: 0,
 * *new_maps (map_idr's next id moved) and *stale (a map in use was freed or
 * the scheduler changed), with the scalars loaded as
 * next_batch() loads them (a failed leaf stops the batch there, and the
 * tick goes on after it); -EAGAIN when a marker or a guard could not be
 * loaded this way, and the tick takes them one part at a time.
 */
static int first_batch(struct bw_engine *e, bool *new_maps, bool *stale)
{
	size_t c = 0, n, done = 0;
	int r;

	*new_maps = *stale = false;
	if (bw_bpf_inventory_check_loads(&e->layout, e->inv, e->tloads, &c) < 0)
		return -EAGAIN;
	n = c;
	for (size_t i = 0; i < e->nguards; i++)
		e->tloads[n++] = (struct bw_load){ .offset = e->guards[i].off, .width = 4 };
	memcpy(e->tloads + n, e->sloads, e->nsloads * sizeof(*e->sloads));
	r = bw_ram_load_batch(e->ram, e->tloads, n + e->nsloads, e->traw, &done, &e->s_failed);
	if (done < n)
		return -EAGAIN;
	bw_bpf_inventory_check_changed(&e->layout, e->inv, e->traw, new_maps, stale);
	for (size_t i = 0; i < e->nguards && !*stale; i++)
		*stale = (uint32_t)e->traw[c + i] != e->guards[i].id;
	memcpy(e->sraw, e->traw + n, (done - n) * sizeof(*e->sraw));
	e->s_loaded_end = done - n;
	e->s_failed_r = r;
	return 0;
}

int bw_engine_tick(struct bw_engine *e, uint64_t mono_ns, int64_t wall_ns, struct bw_error *err)
{
	uint64_t t0 = monotonic_ns();
	bool scan = false, stale = false, have_scalars = false;
	int r;

	if (mono_ns < e->min_mono)
		return bw_error_set(err, -EINVAL, "tick at %" PRIu64 " ns: before the previous "
				    "tick or the window start (%" PRIu64 " ns)", mono_ns, e->min_mono);
	if (!e->inv) {
		scan = e->scans == 0 || mono_ns - e->last_attempt_mono >= BW_ENGINE_RETRY_NS;
	} else {
		bool changed = false, new_maps = false;
		int first = first_batch(e, &new_maps, &stale);

		if (first != 0) {
			/*
			 * A map in use freed, or another scheduler: what is resolved must
			 * not be read until the re-scan.  New maps alone leave it right.
			 */
			stale = guards_moved(e) ||
				bw_bpf_inventory_scheduler_changed(e->k, &e->layout, e->inv, &changed,
								   NULL) < 0 || changed;
			new_maps = !stale && (bw_bpf_inventory_new_maps(e->k, &e->layout, e->inv,
									&changed, NULL) < 0 || changed);
		}
		if (stale || new_maps)
			scan = true;
		if (!scan && e->nunresolved && mono_ns - e->last_attempt_mono >= BW_ENGINE_RETRY_NS)
			scan = true;
		have_scalars = first == 0 && !scan && !e->resolve_needed;
	}
	if (scan && !scan_allowed(e, mono_ns)) {
		/* The change markers may move on every tick (a hostile guest makes them). */
		e->scans_deferred++;
		scan = false;
	} else {
		stale = false;
	}
	if (scan) {
		uint64_t s0 = monotonic_ns();

		rescan(e);
		resolve_all(e, mono_ns);
		pace_scans(e, mono_ns, monotonic_ns() - s0);
	} else if (e->resolve_needed) {
		resolve_all(e, mono_ns);
	}

	r = bw_fold_tick(e->fold, e->has_prefix ? e->prefix : NULL, mono_ns, err);
	if (r < 0)
		return r;
	e->seq++;
	e->min_mono = mono_ns;
	e->last_mono = mono_ns;
	e->last_wall = wall_ns;
	if (!have_scalars && !stale)
		next_batch(e, 0);
	for (size_t i = 0; i < e->n && !stale; i++) {
		struct ewatch *ew = &e->w[i];

		if (ew->state != W_RESOLVED)
			continue;
		if (ew->hash)
			sample_hash(e, i, ew);
		else if (ew->sel == SEL_ALL)
			sample_all(e, i, ew);
		else if (ew->field.kind == BW_FIELD_TEXT)
			sample_text(e, i, ew);
		else if (ew->percpu)
			sample_percpu(e, i, ew);
		else
			sample_scalar(e, i, ew);
	}
	e->last_duration_ns = monotonic_ns() - t0;
	return 0;
}

void bw_engine_summary(const struct bw_engine *e, struct bw_engine_summary *out)
{
	const struct bw_bpf_inventory *inv = e->inv;

	memset(out, 0, sizeof(*out));
	out->state = e->state;
	out->message = e->message[0] ? e->message : NULL;
	out->degraded = e->degraded[0] ? e->degraded : NULL;
	out->scans_deferred = e->scans_deferred;
	if (inv && inv->scx.enabled) {
		out->ops_name = inv->scx.ops_name;
		if (inv->scx.object >= 0)
			out->object = inv->objects[inv->scx.object].prefix;
	}
	out->watches = e->n;
	for (size_t i = 0; i < e->n; i++) {
		if (e->w[i].state == W_RESOLVED)
			out->resolved++;
		else if (e->w[i].state == W_PENDING)
			out->pending++;
		else
			out->errors++;
	}
	out->ticks = e->seq;
	out->scans = e->scans;
	out->maps = inv ? inv->nmaps : 0;
	out->objects = inv ? inv->nobjects : 0;
}

/* ---- JSON views ---- */

/* Builders collect failures in *bad rather than checking every call. */
static void put(json_t *o, const char *key, json_t *v, bool *bad)
{
	if (!v || json_object_set_new(o, key, v) < 0)
		*bad = true;
}

static void push(json_t *a, json_t *v, bool *bad)
{
	if (!v || json_array_append_new(a, v) < 0)
		*bad = true;
}

/* A JSON string of text that may quote guest bytes: never refused as bad UTF-8. */
static json_t *text(const char *s)
{
	char buf[BW_ERROR_MSG_MAX];
	json_t *j = json_string(s);
	size_t i;

	if (j || !s)
		return j;
	for (i = 0; s[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return json_string(buf);
}

static json_t *hex(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	return json_string(buf);
}

static json_t *uint_json(uint64_t v)
{
	return bw_json_exact_integer((__int128)v);
}

static json_t *str_or_null(const char *s)
{
	return s ? text(s) : json_null();
}

static json_t *value_json(struct bw_value v)
{
	return bw_json_exact_integer(v.is_signed ? (__int128)v.s : (__int128)v.u);
}

static int finish(json_t *doc, bool bad, json_t **out, struct bw_error *err, const char *what)
{
	if (!doc || bad) {
		json_decref(doc);
		return bw_error_set(err, -ENOMEM, "building the %s view: out of memory", what);
	}
	*out = doc;
	return 0;
}

/* SCHED of engine.h, or null. */
static json_t *scheduler_json(const struct bw_engine *e, bool *bad)
{
	const struct bw_bpf_inventory *inv = e->inv;
	const struct bw_scx_state *st;
	json_t *o;

	if (!inv || !inv->scx.enabled)
		return json_null();
	st = &inv->scx;
	o = json_object();
	if (!o)
		return NULL;
	put(o, "ops_name", text(st->ops_name), bad);
	put(o, "object", st->object >= 0 ? text(inv->objects[st->object].prefix) :
					    json_null(), bad);
	put(o, "object_btf", st->object >= 0 ? hex(inv->objects[st->object].btf_addr) :
						json_null(), bad);
	put(o, "struct_ops_map_id", st->struct_ops_map >= 0 ?
	    uint_json(inv->maps[st->struct_ops_map].id) : json_null(), bad);
	put(o, "scx_root", st->root ? hex(st->root) : json_null(), bad);
	put(o, "enable_state", st->enable_state >= 0 ? uint_json((uint64_t)st->enable_state) :
						       json_null(), bad);
	put(o, "problem", str_or_null(st->problem), bad);
	put(o, "programs", uint_json(st->programs), bad);
	put(o, "maps_by_programs", uint_json(st->tied_maps), bad);
	put(o, "programs_problem", str_or_null(st->tie_problem), bad);
	return o;
}

/* RES of engine.h. */
static json_t *resolution_json(const struct bw_engine *e, const struct ewatch *ew, bool *bad)
{
	json_t *o = json_object(), *bits;

	if (!o)
		return NULL;
	put(o, "object", text(ew->object), bad);
	put(o, "object_btf", hex(ew->object_btf), bad);
	put(o, "map_id", uint_json(ew->map_id), bad);
	put(o, "map_name", text(ew->map_name), bad);
	put(o, "map_full_name", text(ew->map_full_name), bad);
	put(o, "map_type", text(bw_bpf_map_type_name(&e->layout, ew->map_type)), bad);
	put(o, "index", uint_json(ew->index), bad);
	put(o, "offset", uint_json(ew->field.offset), bad);
	put(o, "width", uint_json(ew->field.width), bad);
	put(o, "signed", json_boolean(ew->field.is_signed), bad);
	put(o, "kind", text(bw_field_kind_name(ew->field.kind)), bad);
	put(o, "type", text(ew->field.type_name), bad);
	if (ew->field.bit_size) {
		bits = json_pack("{s:i, s:i}", "bit_offset", (int)ew->field.bit_offset,
				 "bit_size", (int)ew->field.bit_size);
		put(o, "bitfield", bits, bad);
	} else {
		put(o, "bitfield", json_null(), bad);
	}
	put(o, "aligned", json_boolean(ew->aligned), bad);
	put(o, "selector", text(ew->sel == SEL_ALL ? "all" : ew->sel == SEL_KEY ? "key" :
				"element"), bad);
	if (ew->sel == SEL_KEY)
		put(o, "key", uint_json(ew->key), bad);
	if (ew->field.kind == BW_FIELD_TEXT)
		put(o, "text_len", uint_json(ew->field.text_len), bad);
	if (ew->hash) {
		put(o, "buckets", hex(ew->htab.buckets), bad);
		put(o, "n_buckets", uint_json(ew->htab.n_buckets), bad);
	} else if (ew->sel == SEL_ALL) {
		put(o, "values", hex(ew->va), bad);
		put(o, "readings", uint_json(ew->all_n), bad);
	} else if (ew->percpu) {
		put(o, "percpu_pointer", hex(ew->va), bad);
		put(o, "cpus", uint_json(ew->nleaves), bad);
		put(o, "cpus_missing", uint_json(ew->cpus_missing), bad);
		put(o, "cpus_missing_reason", ew->cpus_missing ? text(ew->missing_msg) :
								  json_null(), bad);
	} else {
		put(o, "address", hex(ew->va), bad);
	}
	return o;
}

static json_t *keys_json(const struct bw_engine *e, const struct ewatch *ew, bool *bad)
{
	struct bw_fold_window win;
	char *keys[BW_WATCH_MAX_KEYS];
	unsigned int nk = 0;
	json_t *a = json_array();
	const char *obj = e->has_prefix ? e->prefix : NULL;

	if (!a)
		return NULL;
	if (!obj) {
		bw_fold_window(e->fold, &win);
		obj = win.object;
	}
	if (bw_watch_keys(ew->w, obj, keys, &nk, NULL) < 0)
		return a;	/* no prefix known yet: no keys */
	for (unsigned int i = 0; i < nk; i++) {
		push(a, text(keys[i]), bad);
		free(keys[i]);
	}
	return a;
}

/* The views: field names are listed in engine.h. */
int bw_engine_status_json(const struct bw_engine *e, json_t **out, struct bw_error *err)
{
	json_t *doc = json_object(), *watches = json_array(), *inv;
	bool bad = !doc || !watches;

	if (bad) {
		json_decref(watches);
		return finish(doc, bad, out, err, "status");
	}
	put(doc, "state", text(bw_engine_state_name(e->state)), &bad);
	put(doc, "message", e->message[0] ? text(e->message) : json_null(), &bad);
	put(doc, "ticks", uint_json(e->seq), &bad);
	put(doc, "scans", uint_json(e->scans), &bad);
	put(doc, "scans_deferred", uint_json(e->scans_deferred), &bad);
	put(doc, "degraded", e->degraded[0] ? text(e->degraded) : json_null(), &bad);
	if (e->seq)
		put(doc, "last_tick", json_pack("{s:o, s:I, s:o}",
						"mono_ns", uint_json(e->last_mono),
						"wall_ns", (json_int_t)e->last_wall,
						"duration_ns", uint_json(e->last_duration_ns)), &bad);
	else
		put(doc, "last_tick", json_null(), &bad);
	put(doc, "scheduler", scheduler_json(e, &bad), &bad);
	if (e->inv) {
		inv = json_object();
		if (inv) {
			put(inv, "maps", uint_json(e->inv->nmaps), &bad);
			put(inv, "objects", uint_json(e->inv->nobjects), &bad);
			put(inv, "skipped", uint_json(e->inv->nskipped), &bad);
			put(inv, "skipped_reason", e->inv->nskipped ?
			    text(e->inv->skipped_msg) : json_null(), &bad);
			put(inv, "map_idr_next", uint_json(e->inv->map_idr_next), &bad);
		}
		put(doc, "inventory", inv, &bad);
	} else {
		put(doc, "inventory", json_null(), &bad);
	}
	for (size_t i = 0; i < e->n; i++) {
		const struct ewatch *ew = &e->w[i];
		json_t *o = bw_watch_to_json(ew->w);

		if (!o) {
			bad = true;
			continue;
		}
		put(o, "state", text(wstate_names[ew->state]), &bad);
		if (ew->state != W_RESOLVED) {
			put(o, "reason", text(ew->reason), &bad);
		} else {
			if (!ew->aligned)
				put(o, "note", text("the leaf is not naturally aligned: it is "
							   "copied bytewise and a read may be torn"),
				    &bad);
			put(o, "resolution", resolution_json(e, ew, &bad), &bad);
		}
		put(o, "keys", keys_json(e, ew, &bad), &bad);
		push(watches, o, &bad);
	}
	put(doc, "watches", watches, &bad);
	return finish(doc, bad, out, err, "status");
}

int bw_engine_maps_json(struct bw_engine *e, json_t **out, struct bw_error *err)
{
	struct bw_bpf_inventory *inv = e->inv;
	json_t *doc = json_object(), *maps = json_array(), *objs = json_array();
	bool bad = !doc || !maps || !objs;
	int active = inv && inv->scx.enabled ? inv->scx.object : -1;

	if (bad) {
		json_decref(maps);
		json_decref(objs);
		return finish(doc, bad, out, err, "maps");
	}
	/*
	 * Full names come from each object's BTF, and only a name the kernel
	 * cut (15 characters) can have a longer one: load only those objects.
	 */
	for (unsigned int i = 0; inv && i < inv->nobjects; i++) {
		const struct bw_bpf_object *o = &inv->objects[i];

		for (unsigned int x = 0; x < o->nmaps; x++) {
			if (strlen(inv->maps[o->maps[x]].name) == BW_BPF_NAME_LEN - 1) {
				bw_bpf_object_btf(e->k, &e->layout, inv, i, NULL);
				break;
			}
		}
	}
	for (unsigned int i = 0; inv && i < inv->nmaps; i++) {
		const struct bw_bpf_map *m = &inv->maps[i];
		const struct bw_bpf_object *o = m->object >= 0 ? &inv->objects[m->object] : NULL;
		json_t *j = json_object();

		if (!j) {
			bad = true;
			continue;
		}
		put(j, "id", uint_json(m->id), &bad);
		put(j, "name", text(m->name), &bad);
		put(j, "full_name", text(m->full_name), &bad);
		put(j, "type", text(bw_bpf_map_type_name(&e->layout, m->type)), &bad);
		put(j, "type_id", uint_json(m->type), &bad);
		put(j, "key_size", uint_json(m->key_size), &bad);
		put(j, "value_size", uint_json(m->value_size), &bad);
		put(j, "max_entries", uint_json(m->max_entries), &bad);
		put(j, "flags", uint_json(m->flags), &bad);
		put(j, "object", o ? text(o->prefix) : json_null(), &bad);
		put(j, "object_btf", o ? hex(o->btf_addr) : json_null(), &bad);
		put(j, "active", json_boolean(o && m->object == active), &bad);
		put(j, "joined_by", !o ? json_null() : text(m->by_programs ? "programs" : "btf"),
		    &bad);
		put(j, "address", hex(m->addr), &bad);
		push(maps, j, &bad);
	}
	for (unsigned int i = 0; inv && i < inv->nobjects; i++) {
		const struct bw_bpf_object *o = &inv->objects[i];
		json_t *j = json_object(), *ids = json_array();

		if (!j || !ids) {
			json_decref(j);
			json_decref(ids);
			bad = true;
			continue;
		}
		for (unsigned int x = 0; x < o->nmaps; x++)
			push(ids, uint_json(inv->maps[o->maps[x]].id), &bad);
		put(j, "prefix", text(o->prefix), &bad);
		put(j, "btf", hex(o->btf_addr), &bad);
		put(j, "map_ids", ids, &bad);
		put(j, "active", json_boolean((int)i == active), &bad);
		put(j, "btf_error", o->btf_error < 0 ? text(o->btf_error_msg) : json_null(),
		    &bad);
		push(objs, j, &bad);
	}
	put(doc, "maps", maps, &bad);
	put(doc, "objects", objs, &bad);
	put(doc, "scheduler", scheduler_json(e, &bad), &bad);
	put(doc, "skipped", uint_json(inv ? inv->nskipped : 0), &bad);
	put(doc, "skipped_reason", inv && inv->nskipped ? text(inv->skipped_msg) :
							 json_null(), &bad);
	put(doc, "error", inv ? json_null() :
	    text(e->scans ? e->message : "no scan yet: the engine has not ticked"), &bad);
	return finish(doc, bad, out, err, "maps");
}

int bw_engine_sample_json(const struct bw_engine *e, json_t **out, struct bw_error *err)
{
	json_t *doc = json_object(), *watches = json_array();
	bool bad = !doc || !watches;

	if (bad) {
		json_decref(watches);
		return finish(doc, bad, out, err, "sample");
	}
	put(doc, "seq", uint_json(e->seq), &bad);
	put(doc, "mono_ns", uint_json(e->last_mono), &bad);
	put(doc, "wall_ns", json_integer((json_int_t)e->last_wall), &bad);
	put(doc, "state", text(bw_engine_state_name(e->state)), &bad);
	put(doc, "object", e->has_prefix ? text(e->prefix) : json_null(), &bad);
	for (size_t i = 0; i < e->n; i++) {
		const struct ewatch *ew = &e->w[i];
		json_t *o = json_object();

		if (!o) {
			bad = true;
			continue;
		}
		put(o, "label", text(ew->w->label), &bad);
		put(o, "state", text(wstate_names[ew->state]), &bad);
		if (ew->state != W_RESOLVED || !e->seq || ew->s_seq != e->seq) {
			put(o, "reason", text(ew->state != W_RESOLVED ? ew->reason :
						     "not read yet"), &bad);
		} else if (!ew->percpu) {
			if (!ew->s_ok)
				put(o, "error", text(ew->s_error), &bad);
			else if (ew->s_is_text)
				put(o, "value", text(ew->s_text), &bad);
			else if (ew->s_is_real)
				put(o, "value", json_real(ew->s_real), &bad);
			else
				put(o, "value", value_json(ew->s_value), &bad);
			if (ew->sel == SEL_ALL)
				put(o, "count", uint_json(ew->s_count), &bad);
		} else {
			json_t *vals = json_object();

			for (uint32_t j = 0; vals && j < ew->s_n; j++) {
				const struct bw_fold_cpu_value *rv = &ew->readings[j];
				char cpu[16];

				snprintf(cpu, sizeof(cpu), "%u", rv->cpu);
				put(vals, cpu, bw_json_exact_integer(rv->value.is_signed ?
					(__int128)(int64_t)rv->value.bits : (__int128)rv->value.bits),
				    &bad);
			}
			put(o, "values", vals, &bad);
			if (ew->s_failed)
				put(o, "failed_cpus", uint_json(ew->s_failed), &bad);
			if (!ew->s_ok)
				put(o, "error", text(ew->s_error), &bad);
		}
		push(watches, o, &bad);
	}
	put(doc, "watches", watches, &bad);
	return finish(doc, bad, out, err, "sample");
}

int bw_engine_metrics_json(const struct bw_engine *e, json_t **out, struct bw_error *err)
{
	json_t *doc, *metrics = NULL, *text_keys = NULL;
	bool bad = false;
	int r;

	r = bw_fold_metrics_json(e->fold, &metrics, err);
	if (r < 0)
		return r;
	r = bw_fold_text_keys_json(e->fold, &text_keys, err);
	if (r < 0) {
		json_decref(metrics);
		return r;
	}
	doc = json_object();
	if (!doc) {
		json_decref(metrics);
		json_decref(text_keys);
		return bw_error_set(err, -ENOMEM, "building the metrics view: out of memory");
	}
	put(doc, "window", bw_fold_window_json(e->fold), &bad);
	put(doc, "metrics", metrics, &bad);
	put(doc, "text_keys", text_keys, &bad);
	return finish(doc, bad, out, err, "metrics");
}
