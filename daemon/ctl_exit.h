/* SPDX-License-Identifier: MIT */
/*
 * `bpfwatchctl exit`: the sched_ext exit record of an "exit" reply, printed
 * the way the guest kernel logs it, and the command's exit status.
 */
#ifndef BPFWATCH_CTL_EXIT_H
#define BPFWATCH_CTL_EXIT_H

#include <stdio.h>

#include <jansson.h>

/* First sched_ext_exit_kind of the error range (SCX_EXIT_ERROR). */
#define CTL_EXIT_ERROR_KIND 1024

/* Print @reply's record; -ENOMEM when out of memory. */
int ctl_render_exit(FILE *f, const json_t *reply);

/*
 * 0 while a scheduler is attached, or when the last one left without an
 * error; 1 when it was disabled with an error kind or its exit was missed.
 */
int ctl_exit_status(const json_t *reply);

#endif
