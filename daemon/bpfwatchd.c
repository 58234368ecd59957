/* SPDX-License-Identifier: MIT */
/*
 * bpfwatchd: watch the sched_ext scheduler of one QEMU/KVM guest from the
 * host by reading its RAM.  This file is the entry point: it parses the
 * command line and runs either a one-shot inspection or the service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "guest_open.h"
#include "guest_source.h"
#include "guest_ram.h"
#include "inspect.h"
#include "log.h"
#include "kernel.h"
#include "options.h"
#include "config.h"
#include "ram_layout.h"
#include "service.h"
#include "watch.h"
#include "watch_files.h"

#define EXIT_USAGE 2

static int open_guest(const struct daemon_options *opts, struct bw_ram **ram,
		      struct bw_kernel **kernel, struct bw_guest_choice *choice,
		      struct bw_error *err)
{
	struct daemon_config cfg;
	struct bw_layout_spec layout;
	int r;

	r = config_load(opts, &cfg, err);
	if (r < 0)
		return r;
	r = bw_layout_parse(cfg.layout, &layout, err);
	if (r < 0)
		bw_error_prefix(err, "--layout");
	else
		r = guest_source_open(&cfg, &layout, ram, kernel, choice, err);
	config_free(&cfg);
	return r;
}

static int inspect(const struct daemon_options *opts)
{
	struct bw_error err = { 0 };
	struct bw_ram *ram = NULL;
	struct bw_kernel *kernel = NULL;
	struct bw_watch_set *set = NULL;
	struct bw_guest_choice choice;
	json_t *doc = NULL;
	int r;

	if (!opts->nmemory && opts->memory_fd < 0 && !opts->memory_pid && !opts->memory_pid_file &&
	    !opts->config) {
		fprintf(stderr, "bpfwatchd: --inspect needs the guest's memory: --memory PATH, "
			"--memory-fd N, --memory-pid PID or --memory-pid-file FILE\n");
		return EXIT_USAGE;
	}
	if (opts->inspect == INSPECT_SAMPLE) {
		r = watch_files_load_for(opts->nwatch_dirs ? opts->watch_dirs : NULL,
					 opts->nwatch_dirs, opts->instance, &set, &err);
		if (r < 0) {
			fprintf(stderr, "bpfwatchd: %s\n", err.msg);
			return EXIT_FAILURE;
		}
	}
	r = open_guest(opts, &ram, &kernel, &choice, &err);
	if (r < 0) {
		fprintf(stderr, "bpfwatchd: %s\n", err.msg);
		bw_watch_set_free(set);
		return EXIT_FAILURE;
	}
	switch (opts->inspect) {
	case INSPECT_KERNEL:
		doc = inspect_kernel_json(kernel, &choice);
		break;
	case INSPECT_MAPS:
		doc = inspect_maps_json(kernel, &err);
		break;
	case INSPECT_SAMPLE:
		doc = inspect_sample_json(kernel, set, opts->samples ? opts->samples : 1,
					  opts->interval_ms ? opts->interval_ms : 100, &err);
		break;
	case INSPECT_NONE:
		break;
	}
	if (!doc)
		fprintf(stderr, "bpfwatchd: %s\n", err.msg[0] ? err.msg : "out of memory");
	if (doc) {
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(doc);
	}
	bw_kernel_free(kernel);
	bw_ram_close(ram);
	bw_watch_set_free(set);
	return doc ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int serve(const struct daemon_options *opts)
{
	struct daemon_config cfg;
	struct bw_error err = { 0 };
	int r;

	/* A bad configuration is a usage error: systemd must not restart-loop on it. */
	if (config_load(opts, &cfg, &err) < 0) {
		log_msg(LOG_ERR, "%s", err.msg);
		config_free(&cfg);
		return EXIT_USAGE;
	}
	if (!cfg.memory && cfg.memory_fd < 0 && cfg.memory_pid <= 0 && !cfg.memory_pid_file) {
		log_msg(LOG_ERR, "no guest memory configured: give --memory PATH, "
			"--memory-fd N, --memory-pid PID or --memory-pid-file FILE, or [Guest] Memory= "
			"in %s",
			cfg.config_file ? cfg.config_file : "the config file");
		config_free(&cfg);
		return EXIT_USAGE;
	}
	r = service_run(&cfg);
	config_free(&cfg);
	return r;
}

int main(int argc, char **argv)
{
	struct daemon_options opts;

	log_init();
	if (options_parse(argc, argv, &opts) < 0) {
		options_usage(stderr);
		return EXIT_USAGE;
	}
	if (opts.help) {
		options_usage(stdout);
		return EXIT_SUCCESS;
	}
	if (opts.version) {
		printf("bpfwatchd %s (libbpf %s)\n", BW_VERSION, libbpf_version_string());
		return EXIT_SUCCESS;
	}
	if (opts.inspect != INSPECT_NONE)
		return inspect(&opts);
	return serve(&opts);
}
