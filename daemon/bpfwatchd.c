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

#include "guest_ram.h"
#include "inspect.h"
#include "kernel.h"
#include "options.h"
#include "ram_layout.h"

#define EXIT_USAGE 2

static int open_guest(const struct daemon_options *opts, struct bw_ram **ram,
		      struct bw_kernel **kernel, struct bw_error *err)
{
	struct bw_ram_source source = BW_RAM_SOURCE_INIT;
	struct bw_kernel_files files = {
		.vmlinux = opts->vmlinux, .system_map = opts->system_map, .btf = opts->btf,
	};
	struct bw_layout_spec layout;
	int r;

	r = bw_layout_parse(opts->layout ? opts->layout : "q35", &layout, err);
	if (r < 0)
		return bw_error_prefix(err, "--layout");
	source.path = opts->memory;
	source.fd = opts->memory_fd;
	source.pid = opts->memory_pid;
	r = bw_ram_open(&source, &layout, ram, err);
	if (r < 0)
		return r;
	r = bw_kernel_open(*ram, &files, kernel, err);
	if (r < 0) {
		bw_ram_close(*ram);
		*ram = NULL;
	}
	return r;
}

static int inspect(const struct daemon_options *opts)
{
	struct bw_error err = { 0 };
	struct bw_ram *ram = NULL;
	struct bw_kernel *kernel = NULL;
	json_t *doc = NULL;
	int r;

	if (!opts->memory && opts->memory_fd < 0 && !opts->memory_pid) {
		fprintf(stderr, "bpfwatchd: --inspect needs the guest's memory: --memory PATH, "
			"--memory-fd N or --memory-pid PID\n");
		return EXIT_USAGE;
	}
	r = open_guest(opts, &ram, &kernel, &err);
	if (r < 0) {
		fprintf(stderr, "bpfwatchd: %s\n", err.msg);
		return EXIT_FAILURE;
	}
	switch (opts->inspect) {
	case INSPECT_KERNEL:
		doc = inspect_kernel_json(kernel);
		break;
	default:
		fprintf(stderr, "bpfwatchd: --inspect maps and sample are not available yet\n");
		break;
	}
	if (doc) {
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(doc);
	}
	bw_kernel_free(kernel);
	bw_ram_close(ram);
	return doc ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	struct daemon_options opts;

	if (options_parse(argc, argv, &opts) < 0) {
		options_usage(stderr);
		return EXIT_USAGE;
	}
	if (opts.help) {
		options_usage(stdout);
		return EXIT_SUCCESS;
	}
	if (opts.inspect != INSPECT_NONE)
		return inspect(&opts);
	fprintf(stderr, "bpfwatchd: the sampling service is not built yet; use --inspect\n");
	return EXIT_USAGE;
}
