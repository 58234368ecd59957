/* SPDX-License-Identifier: MIT */
/*
 * Watches: what to sample and how to fold it.
 *
 * A watch names a map of the active scheduler's BPF object by the end of
 * its name (map_suffix, ".bss" or "bss" alike), a dot-path into that map's
 * value (field), an aggregation (agg) and a label.  The label is the leaf of
 * the run-level metric key "<obj>_<label>", where <obj> is the object prefix
 * of the scheduler the value was read from (or the optional Object= pin).
 *
 *   agg              keys                                   folded value
 *   scalar           <obj>_<label>                          mean of the reads
 *   scalar-counter   <obj>_<label>                          last read
 *   percpu           <obj>_<label>_avg, <obj>_<label>_max   mean / max reading
 *   percpu-counter   <obj>_<label>                          sum of the last tick
 *
 * Text rules (each string is checked where it enters, see the
 * bw_watch_check_*() functions):
 *   map_suffix, field, label, object: non-empty; no whitespace; no '/' or
 *     '\'; printable ASCII only (no control bytes, no byte >= 0x80).
 *   field: no leading or trailing '.', no "..".  A field starting with
 *     "[*]" ("[*]" alone or "[*].path") needs Across= and the scalar or
 *     scalar-counter aggregation; Across= needs such a field.
 *   label: no '.' at all: it is a single key leaf.
 *   object: the label rules, and at most BW_WATCH_OBJECT_MAX characters.
 *     An object prefix is what libbpf puts before ".bss"/".data"/
 *     ".rodata" in a map name, itself cut from the object name; the kernel
 *     keeps 15 characters of any BPF object name (BPF_OBJ_NAME_LEN 16 with
 *     the NUL), so no longer pin could ever match.  Kernel map names only
 *     use [A-Za-z0-9_.]; a pin outside that set is accepted (same rules as
 *     a label) but will simply never match a map.
 *
 * A watch set keeps its watches in the order they were added (the index is
 * the watch's id for the fold engine) and refuses a watch that would make
 * two metric keys equal:
 *   - labels are unique within the set;
 *   - the key leaves ("<label>", or "<label>_avg" and "<label>_max") are
 *     unique within the set, whatever the watches' Object= pins: a percpu
 *     watch "x" and a scalar watch "x_avg" are refused even when pinned to
 *     different objects (a conservative rule that keeps keys readable);
 *   - among pinned watches the full keys "<object>_<leaf>" are unique too
 *     (pin "a" + label "b_c" and pin "a_b" + label "c" both give "a_b_c").
 * A pinned watch and an unpinned one can still meet on a full key only
 * through different prefixes that are unknown until run time; the fold
 * engine reports that case when it builds keys (see fold.h).
 */
#ifndef BPFWATCH_WATCH_H
#define BPFWATCH_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "error.h"

/*
 * Watches in one set.  Each watch is read every tick (a percpu one once per
 * possible CPU) and the tick must finish well inside the sampling interval;
 * no scheduler exports anywhere near this many statistics.  It also bounds
 * the quadratic key-collision check done while a set is built.
 */
#define BW_WATCH_SET_MAX 1024

/* Longest Object= pin: BPF_OBJ_NAME_LEN (16) minus the NUL. */
#define BW_WATCH_OBJECT_MAX 15

/* A watch yields at most this many metric keys (percpu: _avg and _max). */
#define BW_WATCH_MAX_KEYS 2

enum bw_agg {
	BW_AGG_SCALAR,		/* "scalar": gauge, mean over the window */
	BW_AGG_SCALAR_COUNTER,	/* "scalar-counter": value at the last read */
	BW_AGG_PERCPU,		/* "percpu": per-CPU gauge, _avg and _max */
	BW_AGG_PERCPU_COUNTER,	/* "percpu-counter": sum over CPUs at the last read */
};

/*
 * Type= of a watch: how to read a leaf the map's BTF does not describe (a
 * map declared with bare key_size/value_size has none).  BW_TYPE_BTF, the
 * default, takes the leaf from BTF.
 */
enum bw_leaf_type {
	BW_TYPE_BTF,
	BW_TYPE_U8, BW_TYPE_U16, BW_TYPE_U32, BW_TYPE_U64,
	BW_TYPE_S8, BW_TYPE_S16, BW_TYPE_S32, BW_TYPE_S64,
	BW_TYPE_BOOL,
};

/*
 * Across= of a watch whose field starts with "[*]" (every element of an
 * array, every live entry of a hash map): how one tick's readings (for a
 * per-CPU map, every element on every CPU) fold into one value, which the
 * watch's aggregation (scalar or scalar-counter) then folds over ticks.
 * count is the number of readings (live entries of a hash map, times the
 * CPUs of a per-CPU one); avg is sum / count, a real; a tick with no
 * reading gives sum 0 and count 0 and no min, max or avg.
 */
enum bw_across {
	BW_ACROSS_NONE,
	BW_ACROSS_SUM, BW_ACROSS_MIN, BW_ACROSS_MAX, BW_ACROSS_COUNT, BW_ACROSS_AVG,
};

/*
 * Largest Offset=: the kernel caps array values at KMALLOC_MAX_SIZE (4 MiB)
 * and no map value comes near 1 GiB.
 */
#define BW_WATCH_OFFSET_MAX (1ULL << 30)

struct bw_watch {
	const char *map_suffix;
	const char *field;
	enum bw_agg agg;
	enum bw_leaf_type type;		/* Type=, BW_TYPE_BTF when none */
	bool has_offset;		/* Offset= given */
	uint64_t offset;		/* Offset=: bytes into the map value */
	enum bw_across across;		/* Across=, BW_ACROSS_NONE when none */
	const char *label;
	const char *object;		/* Object= pin, NULL when none */
	const char *source_file;	/* where it was defined, NULL when not from a file */
	unsigned int source_line;	/* line of its [Watch] header; 0 when unknown */
};

struct bw_watch_set;

/* Name of an aggregation ("scalar", ...); "?" for an unknown value. */
const char *bw_agg_name(enum bw_agg agg);
/* Parse an exact, case-sensitive aggregation name; -EINVAL with a message listing the names. */
int bw_agg_parse(const char *name, enum bw_agg *out, struct bw_error *err);
/* True for the kinds fed one value per tick (scalar, scalar-counter). */
static inline int bw_agg_is_percpu(enum bw_agg agg)
{
	return agg == BW_AGG_PERCPU || agg == BW_AGG_PERCPU_COUNTER;
}
/* "u8", ..., "bool"; NULL for BW_TYPE_BTF or an unknown value. */
const char *bw_leaf_type_name(enum bw_leaf_type type);
/* Parse a Type= value; -EINVAL with a message listing the names. */
int bw_leaf_type_parse(const char *name, enum bw_leaf_type *out, struct bw_error *err);
/* Bytes of a Type= leaf (1, 2, 4, 8), 0 for BW_TYPE_BTF. */
unsigned int bw_leaf_type_width(enum bw_leaf_type type);
bool bw_leaf_type_signed(enum bw_leaf_type type);
/* "sum", ..., "avg"; NULL for BW_ACROSS_NONE or an unknown value. */
const char *bw_across_name(enum bw_across across);
int bw_across_parse(const char *name, enum bw_across *out, struct bw_error *err);
/*
 * Read the decimal (or, with @hex, hexadecimal) digits at @p: returns where
 * they end, with their value in *value and their count in *digits; NULL
 * when the value would exceed @max.
 */
const char *bw_parse_digits(const char *p, bool hex, uint64_t max, uint64_t *value,
			    size_t *digits);
/* Parse an Offset= value: decimal or 0x hex, at most BW_WATCH_OFFSET_MAX. */
int bw_watch_parse_offset(const char *text, uint64_t *out, struct bw_error *err);

/* How many metric keys the aggregation yields (1 or 2). */
unsigned int bw_agg_key_count(enum bw_agg agg);
/* The suffix of key @i after the label: "" for single-key kinds, "_avg"/"_max" for percpu. */
const char *bw_agg_key_suffix(enum bw_agg agg, unsigned int i);

/*
 * Check one string against its rules.  -EINVAL with a message such as
 * "field \"a..b\": contains \"..\"" (the text is escaped: control and
 * high-bit bytes as \xNN).  The message carries no place: callers that know
 * one (file:line) prefix it.
 */
int bw_watch_check_map_suffix(const char *s, struct bw_error *err);
int bw_watch_check_field(const char *s, struct bw_error *err);
int bw_watch_check_label(const char *s, struct bw_error *err);
int bw_watch_check_object(const char *s, struct bw_error *err);

/*
 * Check every string of @w (object may be NULL) and the agg value.  The
 * message starts with the watch's place ("file:line: ") when it has one.
 */
int bw_watch_validate(const struct bw_watch *w, struct bw_error *err);

/*
 * "file:line" for a watch from a file, else "watch \"<label>\"", into @buf
 * (always NUL-terminated, truncated to @len).  Returns @buf.
 */
const char *bw_watch_place(const struct bw_watch *w, char *buf, size_t len);

/*
 * The metric keys of @w when its values come from object prefix @obj:
 * "<prefix>_<label><suffix>" for each suffix of its agg, where <prefix> is
 * the watch's Object= pin when it has one, else @obj.  Writes *n keys
 * (1 or 2) into @keys as strings the caller frees with free().  -ENOENT
 * when the watch is unpinned and @obj is NULL, -ENOMEM on allocation failure;
 * on error nothing is left allocated.
 */
int bw_watch_keys(const struct bw_watch *w, const char *obj, char *keys[BW_WATCH_MAX_KEYS],
		  unsigned int *n, struct bw_error *err);

struct bw_watch_set *bw_watch_set_new(void);
void bw_watch_set_free(struct bw_watch_set *set);

/*
 * Validate @w, check it against the set's watches (labels, key leaves,
 * pinned full keys; see the top of this file) and append a deep copy.  On
 * any error the set is unchanged.  Errors: -EINVAL (a rule broken), -EEXIST
 * (duplicate label or key, the message naming both watches' places and the
 * key), -E2BIG (more than BW_WATCH_SET_MAX watches), -ENOMEM.  Messages
 * start with the new watch's place when it has one.
 */
int bw_watch_set_add(struct bw_watch_set *set, const struct bw_watch *w, struct bw_error *err);

size_t bw_watch_set_count(const struct bw_watch_set *set);
/* Watch @i (< count); the set owns it, valid until the set is freed. */
const struct bw_watch *bw_watch_set_get(const struct bw_watch_set *set, size_t i);
/* Index of the watch with @label, or -1. */
long bw_watch_set_find_label(const struct bw_watch_set *set, const char *label);

/*
 * {"map":..,"field":..,"aggregate":..,"label":..,"object":..|null,
 *  "source":"file:line"|null[, "type":"u64"][, "offset":N][, "across":"sum"]}
 *  for one watch (type, offset and across only when given); NULL when out
 *  of memory.
 */
json_t *bw_watch_to_json(const struct bw_watch *w);

#endif
