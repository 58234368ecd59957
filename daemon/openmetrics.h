/* SPDX-License-Identifier: MIT */
/*
 * Run-level metrics as OpenMetrics text, for `{"cmd":"metrics",
 * "format":"openmetrics"}` and for node_exporter's textfile collector
 * (TextfileDir=): one gauge family per metric key, labelled with the
 * instance, and "# EOF" last.  A fleet's Prometheus aggregates many
 * bpfwatchd instances through the instance label with nothing of ours in
 * between.
 */
#ifndef BPFWATCH_OPENMETRICS_H
#define BPFWATCH_OPENMETRICS_H

#include <jansson.h>

/*
 * @metrics is the {KEY: number-or-decimal-string} object of a metrics
 * reply.  Key characters outside [A-Za-z0-9_:] become '_' (a metric name
 * may not hold them); a key starting with a digit gets a '_' in front.
 * Returns a malloc'd NUL-terminated text, NULL when out of memory.
 */
char *openmetrics_render(const json_t *metrics, const char *instance);

#endif
