/* SPDX-License-Identifier: MIT */
/*
 * `bpfwatchctl top`: a live full-screen view of one daemon drawn with
 * plain ANSI escape codes (no curses): the state line, the run-level
 * metrics and a bar per CPU for every per-CPU watch of the latest sample.
 * Each refresh asks status, metrics and sample over one kept connection;
 * when the daemon goes away the view says so and keeps retrying.
 */
#ifndef BPFWATCH_CTL_TOP_H
#define BPFWATCH_CTL_TOP_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "error.h"

/* Shortest refresh interval: faster redraws only burn the terminal. */
#define CTL_TOP_MIN_INTERVAL 0.1

/* What one frame shows; any reply may be NULL (not fetched) or an error reply. */
struct ctl_top_view {
	const char *socket;
	const json_t *status;
	const json_t *metrics;
	const json_t *sample;
	const char *error;	/* the daemon could not be reached: why (NULL otherwise) */
};

/*
 * Draw one frame into @out.  @width and @height bound it (0: no bound, for
 * a non-terminal); with @ansi the frame starts at the top-left corner,
 * headers are bold and each line clears the rest of its row.  -ENOMEM.
 */
int ctl_top_frame(FILE *out, const struct ctl_top_view *v, unsigned int width,
		  unsigned int height, bool ansi);

struct ctl_top_options {
	const char *socket;
	double interval;	/* seconds between refreshes */
	double timeout;		/* seconds for each round of requests */
	/* Set by SIGINT/SIGTERM/SIGHUP handlers: leave, restoring the terminal. */
	const volatile sig_atomic_t *stop;
	/* Set by a SIGWINCH handler; top clears it after redrawing. */
	volatile sig_atomic_t *resized;
};

/*
 * Fetch once and print one plain frame to stdout (for a stdout that is not
 * a terminal).  0, or the negative errno of the connection failure with
 * @err saying why (nothing printed then).
 */
int ctl_top_once(const struct ctl_top_options *o, struct bw_error *err);

/*
 * The live view on the terminal at stdout until 'q' is typed or *stop is
 * set.  stdin, when a terminal, is put in non-canonical no-echo mode and
 * restored on every way out; the alternate screen is used and left.
 * 0, or -errno when the terminal cannot be set up.
 */
int ctl_top_run(const struct ctl_top_options *o, struct bw_error *err);

#endif
