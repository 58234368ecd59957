/* SPDX-License-Identifier: MIT */
/* `bpfwatchd --inspect WHAT`: run once against the guest and print JSON. */
#ifndef BPFWATCH_INSPECT_H
#define BPFWATCH_INSPECT_H

#include <jansson.h>

#include "kernel.h"

/*
 * The kernel model as JSON.  Addresses are strings "0x…" (they exceed
 * JSON's exact integer range); counts and sizes are numbers.
 */
json_t *inspect_kernel_json(struct bw_kernel *k);

#endif
