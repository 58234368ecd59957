/* SPDX-License-Identifier: MIT */
/*
 * The watch engine: a watch set bound to one guest kernel.  Each tick it
 * makes sure it knows the guest's BPF maps and its active sched_ext
 * scheduler (re-scanning only when a cheap check says something changed),
 * resolves every watch to cached guest-RAM file offsets, loads the leaf
 * bytes and feeds the fold (fold.h).  Four JSON views describe what it
 * knows: status, maps, sample and metrics.
 *
 * Resolution of a watch (map_suffix, field, agg, label[, object]):
 *   - the object: the active scheduler's BPF object, or, for a watch with
 *     Object=, the object with that prefix (several objects with the same
 *     prefix is an error naming their BTF addresses and map ids);
 *   - the map: the one map of that object whose kernel name or full name
 *     (bpf_inventory.h) ends with map_suffix; none leaves the watch
 *     pending, several is an error naming them all;
 *   - the map must be an ARRAY or HASH/LRU_HASH (scalar, scalar-counter),
 *     a PERCPU_ARRAY or PERCPU_HASH/LRU_PERCPU_HASH (percpu,
 *     percpu-counter), or any of them with "[*]" and Across=;
 *   - the element: the field may start with "[N]." to read array element
 *     N (a map key), or be "[N]" alone to read the whole value of element N
 *     (an integer); without it element 0 is read.  N < max_entries.
 *   - the leaf: the rest of the field, resolved in the object's BTF from
 *     the map's value type (field_path.h), checked against value_size; a
 *     map without BTF (tied to the object through its programs) is read as
 *     the watch's Type= at its Offset= (default 0), and on a map with BTF
 *     Type= and Offset= must agree with the BTF;
 *   - the location: ARRAY: the leaf's virtual address translated once to a
 *     file offset; PERCPU_ARRAY: pptrs[N] + __per_cpu_offset[cpu] + offset
 *     for each possible CPU, each translated once (a CPU whose copy does
 *     not translate is left out of every reading).
 * A watch is "pending" while something it needs is not there (no active
 * scheduler, no such map, an unreadable object BTF) and "error" when what
 * is there cannot be read as asked (ambiguous map, wrong map type, no such
 * member, unsupported leaf, index out of range); both say why.
 *
 * A tick, in order:
 *   1. the cheap check (bw_bpf_inventory_changed: map_idr.idr_next,
 *      scx_root, the enable state and one callback word of the active
 *      ops, up to four loads) and one 4-byte load per map in use (its
 *      id: a freed map reads 0 there);
 *   2. if either says something changed, or on the first tick, or while
 *      some watch is unresolved and BW_ENGINE_RETRY_NS passed since the
 *      last attempt: re-scan the maps and re-resolve every watch;
 *   3. bw_fold_tick() with the active object's prefix, then one load per
 *      leaf (per CPU for percpu watches), decode, feed the fold, and keep
 *      the raw values for the sample view.
 * Steps 1 and 3 look nothing up, never walk page tables and allocate
 * nothing (the fold copies the object prefix only when it changes; a
 * text value grows its buffer once).  Hash maps are the exception to the
 * first two: their entries come and go, so each tick copies the buckets
 * (and a preallocated table's elements) through the kernel model, whose
 * per-page translation cache makes that one walk per page after a
 * re-scan, and follows the chains (bpf_htab.h).  A leaf that is not naturally aligned (packed structs) cannot be
 * loaded in one instruction: it is copied bytewise and may be torn; status
 * says so.
 *
 * Trouble in the guest (unreadable map_idr, garbage) is a state, not a
 * failure of the tick: bw_engine_tick() then returns 0 and the state is
 * BW_ENGINE_ERROR with a message; a failed scan is retried at most every
 * BW_ENGINE_RETRY_NS.  A tick fails only for a caller error (time going
 * backwards) or when out of memory.
 *
 * The engine borrows the kernel model (it must outlive the engine) and
 * copies the watch set.  Single-threaded: no call may run concurrently
 * with another on the same engine.
 */
#ifndef BPFWATCH_ENGINE_H
#define BPFWATCH_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"
#include "watch.h"

struct bw_kernel;
struct bw_engine;

/*
 * Unresolved watches (and a failed scan) are retried at most this often
 * when the cheap check sees no change: once a second costs one map_idr
 * walk and one object BTF parse, a few milliseconds, and still notices a
 * map freed (which moves no change marker) within a second.
 */
#define BW_ENGINE_RETRY_NS 1000000000ULL
/*
 * Re-scans of the maps are paced whatever the change markers do (a guest
 * can move map_idr.idr_next on every tick): a burst of this many...
 */
#define BW_ENGINE_RESCAN_BURST 4u
/* ...then one per this much time... */
#define BW_ENGINE_RESCAN_MIN_NS (100 * 1000000ULL)
/* ...and after one over the budget, never sooner than this many times what it took... */
#define BW_ENGINE_RESCAN_COST_FACTOR 100
/* ...but never further than this. */
#define BW_ENGINE_RESCAN_MAX_NS (10 * 1000000000ULL)
/* A scan longer than this is reported as degraded sampling. */
#define BW_ENGINE_SCAN_BUDGET_NS (5 * 1000000ULL)

enum bw_engine_state {
	BW_ENGINE_STARTING,		/* "starting": no tick yet */
	BW_ENGINE_ERROR,		/* "error": the guest's BPF maps could not be read */
	BW_ENGINE_NO_SCHEDULER,		/* "no_scheduler": no sched_ext scheduler attached */
	BW_ENGINE_SCHEDULER_UNKNOWN,	/* "scheduler_unknown": attached, its object not found */
	BW_ENGINE_SAMPLING,		/* "sampling": the active scheduler's object is known */
};

const char *bw_engine_state_name(enum bw_engine_state state);

/*
 * An engine for @set (NULL: no watches) on kernel @k; the fold window
 * starts at @mono_ns (CLOCK_MONOTONIC) / @wall_ns (CLOCK_REALTIME).  Reads
 * the BPF struct layouts from the kernel's BTF (bw_bpf_layout_init) and
 * fails when they are missing; reads no map yet.
 */
int bw_engine_new(struct bw_kernel *k, const struct bw_watch_set *set, uint64_t mono_ns,
		  int64_t wall_ns, struct bw_engine **out, struct bw_error *err);
void bw_engine_free(struct bw_engine *e);

/*
 * Replace the watch set (copied; NULL: none) atomically: on any error the
 * old set, its resolutions and its window stay.  On success a new window
 * starts at @mono_ns / @wall_ns and the next tick resolves the new watches
 * against the maps already known.
 */
int bw_engine_set_watches(struct bw_engine *e, const struct bw_watch_set *set, uint64_t mono_ns,
			  int64_t wall_ns, struct bw_error *err);

/*
 * One sample at @mono_ns (not before the previous tick or the window start:
 * -EINVAL) / @wall_ns.  See the top of this file.
 */
int bw_engine_tick(struct bw_engine *e, uint64_t mono_ns, int64_t wall_ns, struct bw_error *err);

/* Start a new fold window; resolutions and the last sample stay. */
void bw_engine_reset(struct bw_engine *e, uint64_t mono_ns, int64_t wall_ns);

/* The engine at a glance, for logs and sd_notify STATUS=. */
struct bw_engine_summary {
	enum bw_engine_state state;
	/*
	 * What is wrong, when something is: the maps could not be read (ERROR),
	 * the scheduler's object was not found (SCHEDULER_UNKNOWN), its state
	 * could not be read (NO_SCHEDULER), its prefix cannot key metrics
	 * (SAMPLING); NULL when all is well.
	 */
	const char *message;
	/* Sampling goes on but less well (re-scans slowed down), and why; NULL if not. */
	const char *degraded;
	uint64_t scans_deferred;	/* re-scans the change markers asked for too soon */
	const char *ops_name;		/* the attached scheduler's ops name, NULL when none */
	const char *object;		/* its object prefix, NULL when unknown */
	size_t watches, resolved, pending, errors;
	uint64_t ticks;			/* ticks since the engine was made */
	uint64_t scans;			/* map_idr scans done */
	unsigned int maps, objects;	/* in the last scan */
};

/* Strings point into the engine: valid until its next call. */
void bw_engine_summary(const struct bw_engine *e, struct bw_engine_summary *out);

/*
 * JSON views, each a new object the caller releases with json_decref();
 * -ENOMEM when jansson runs out of memory.  Guest addresses are strings
 * "0x..." (beyond JSON's exact range); integers read from the guest are
 * exact: a JSON integer when they fit int64, else a decimal string.
 *
 * status:
 *   {"state": "starting"|"error"|"no_scheduler"|"scheduler_unknown"|"sampling",
 *    "message": str|null, "ticks": N, "scans": N,
 *    "last_tick": {"mono_ns", "wall_ns", "duration_ns"}|null,
 *    "scheduler": SCHED|null,
 *    "inventory": {"maps", "objects", "skipped", "skipped_reason": str|null,
 *                  "map_idr_next"}|null,
 *    "watches": [{"map", "field", "aggregate", "label", "object": pin|null,
 *                 "source": "file:line"|null,
 *                 "state": "pending"|"resolved"|"error",
 *                 "reason": str (not when resolved),
 *                 "note": str (resolved leaf not naturally aligned),
 *                 "keys": ["<obj>_<label>", ...] ([] while no prefix is known),
 *                 "resolution": RES (when resolved)}, ...]}
 *   SCHED = {"ops_name", "object": prefix|null, "object_btf": "0x.."|null,
 *            "struct_ops_map_id": N|null, "scx_root": "0x.."|null,
 *            "enable_state": N (the kernel's raw enable state)|null,
 *            "problem": str|null, "programs": N (its programs found),
 *            "maps_by_programs": N (maps without BTF tied to its object through
 *            its programs' used_maps), "programs_problem": str|null}
 *   RES = {"object", "object_btf", "map_id", "map_name", "map_full_name",
 *          "map_type", "index", "offset", "width", "signed",
 *          "kind": "int"|"bool"|"enum"|"bitfield", "type",
 *          "bitfield": {"bit_offset", "bit_size"}|null, "aligned",
 *          ARRAY: "address"; PERCPU_ARRAY: "percpu_pointer", "cpus",
 *          "cpus_missing", "cpus_missing_reason": str|null}
 *
 * maps (the last scan; objects' BTF is loaded to give full map names,
 * hence the non-const engine):
 *   {"maps": [{"id", "name", "full_name", "type", "type_id", "key_size",
 *              "value_size", "max_entries", "flags", "object": prefix|null,
 *              "object_btf": "0x.."|null, "active",
 *              "joined_by": "btf"|"programs"|null, "address"}, ...],
 *    "objects": [{"prefix", "btf", "map_ids": [..], "active",
 *                 "btf_error": str|null}, ...],
 *    "scheduler": SCHED|null, "skipped", "skipped_reason": str|null,
 *    "error": str|null}      (error: no scan yet or the last one failed)
 *
 * sample (the last tick):
 *   {"seq", "mono_ns", "wall_ns", "state", "object": prefix|null,
 *    "watches": [{"label", "state", and, for a watch read at that tick:
 *                   scalar kinds: "value": N,
 *                   percpu kinds: "values": {"<cpu>": N, ...} (CPUs not
 *                                 read are absent), "failed_cpus": N when
 *                                 some CPU's read failed,
 *                   "error": str when the read (every CPU) failed;
 *                 otherwise "reason": str}, ...]}
 *
 * metrics:
 *   {"window": bw_fold_window_json(), "metrics": bw_fold_metrics_json(),
 *    "text_keys": bw_fold_text_keys_json() (the metrics whose string is text)}
 */
int bw_engine_status_json(const struct bw_engine *e, json_t **out, struct bw_error *err);
int bw_engine_maps_json(struct bw_engine *e, json_t **out, struct bw_error *err);
int bw_engine_sample_json(const struct bw_engine *e, json_t **out, struct bw_error *err);
int bw_engine_metrics_json(const struct bw_engine *e, json_t **out, struct bw_error *err);

#endif
