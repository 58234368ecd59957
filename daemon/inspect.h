/* SPDX-License-Identifier: MIT */
/* `bpfwatchd --inspect WHAT`: run once against the guest and print JSON. */
#ifndef BPFWATCH_INSPECT_H
#define BPFWATCH_INSPECT_H

#include <jansson.h>

#include "error.h"
#include "guest_open.h"
#include "kernel.h"

/*
 * The kernel model as JSON.  Addresses are strings "0x…" (they exceed
 * JSON's exact integer range); counts and sizes are numbers.
 */
json_t *inspect_kernel_json(struct bw_kernel *k, const struct bw_guest_choice *choice);
/* How the guest's memory is read and laid out: for --inspect kernel and status. */
json_t *inspect_memory_json(struct bw_ram *ram, const struct bw_guest_choice *choice);

struct bw_watch_set;

/*
 * `--inspect maps`: one engine tick without watches, then every BPF map
 * with its object and whether it belongs to the active scheduler, plus the
 * scheduler itself.  NULL with a message in @err on failure.
 */
json_t *inspect_maps_json(struct bw_kernel *k, struct bw_error *err);

/*
 * `--inspect sample`: @samples ticks @interval_ms apart with @set, then
 * {"status": …, "samples": [per-tick sample views], "metrics": {window, metrics}}.
 */
json_t *inspect_sample_json(struct bw_kernel *k, const struct bw_watch_set *set,
			    unsigned int samples, unsigned int interval_ms, struct bw_error *err);

#endif
