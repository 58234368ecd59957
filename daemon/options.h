/* SPDX-License-Identifier: MIT */
/* bpfwatchd's command line (DESIGN.md "Interfaces / Daemon"). */
#ifndef BPFWATCH_OPTIONS_H
#define BPFWATCH_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#define OPTIONS_MAX_MEMORY 8
#define OPTIONS_MAX_WATCH_DIRS 16

enum inspect_what {
	INSPECT_NONE,
	INSPECT_KERNEL,
	INSPECT_MAPS,
	INSPECT_SAMPLE,
};

struct daemon_options {
	const char *config;
	const char *instance;
	const char *memory[OPTIONS_MAX_MEMORY];	/* --memory, in guest-physical order */
	unsigned int nmemory;
	int memory_fd;		/* -1: unset */
	pid_t memory_pid;	/* 0: unset */
	const char *memory_pid_file;
	const char *qmp;
	const char *layout;
	const char *vmlinux;
	const char *system_map;
	const char *btf;
	const char *watch_dirs[OPTIONS_MAX_WATCH_DIRS];
	unsigned int nwatch_dirs;
	const char *socket;
	unsigned int interval_ms;	/* 0: unset */
	const char *state_file;
	enum inspect_what inspect;
	unsigned int samples;		/* --inspect sample: 0 = unset */
	bool help;
	bool version;
};

/*
 * Parse argv.  On a usage error prints one line naming the option to
 * stderr and returns -EINVAL.
 */
int options_parse(int argc, char **argv, struct daemon_options *opts);
void options_usage(FILE *out);

#endif
