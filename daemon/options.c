/* SPDX-License-Identifier: MIT */
#include "options.h"

#include "log.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum {
	OPT_CONFIG = 0x100, OPT_INSTANCE, OPT_MEMORY, OPT_MEMORY_FD, OPT_MEMORY_PID, OPT_MEMORY_PID_FILE, OPT_QMP, OPT_LAYOUT,
	OPT_VMLINUX, OPT_SYSTEM_MAP, OPT_BTF, OPT_WATCH_DIR, OPT_SOCKET, OPT_INTERVAL_MS,
	OPT_STATE_FILE, OPT_INSPECT, OPT_SAMPLES, OPT_VERSION,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "instance", required_argument, NULL, OPT_INSTANCE },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "memory-fd", required_argument, NULL, OPT_MEMORY_FD },
	{ "memory-pid", required_argument, NULL, OPT_MEMORY_PID },
	{ "memory-pid-file", required_argument, NULL, OPT_MEMORY_PID_FILE },
	{ "qmp", required_argument, NULL, OPT_QMP },
	{ "layout", required_argument, NULL, OPT_LAYOUT },
	{ "vmlinux", required_argument, NULL, OPT_VMLINUX },
	{ "system-map", required_argument, NULL, OPT_SYSTEM_MAP },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "watch-dir", required_argument, NULL, OPT_WATCH_DIR },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "interval-ms", required_argument, NULL, OPT_INTERVAL_MS },
	{ "state-file", required_argument, NULL, OPT_STATE_FILE },
	{ "inspect", required_argument, NULL, OPT_INSPECT },
	{ "samples", required_argument, NULL, OPT_SAMPLES },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

void options_usage(FILE *out)
{
	fputs("usage: bpfwatchd [--config FILE] [--instance NAME]\n"
	      "                 [--memory PATH... | --memory-fd N | --memory-pid PID | --memory-pid-file FILE]\n"
	      "                 [--qmp SOCKET] [--layout SPEC]\n"
	      "                 [--vmlinux PATH | --system-map PATH --btf PATH]\n"
	      "                 [--watch-dir DIR]... [--socket PATH] [--interval-ms N]\n"
	      "                 [--state-file PATH] [--inspect kernel|maps|sample [--samples N]]\n"
	      "       bpfwatchd --help | --version\n"
	      "  --memory PATH may be given once per RAM backend, in guest-physical order\n"
	      "  --layout auto (default) | q35 | pc | flat [,max-ram-below-4g=SIZE] | GPA:SIZE@OFFSET[,...]\n",
	      out);
}

static int parse_uint(const char *option, const char *text, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v > max) {
		log_msg(LOG_ERR, "--%s: \"%s\" is not a whole number in 0..%lu",
			option, text, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int options_parse(int argc, char **argv, struct daemon_options *opts)
{
	unsigned long v;
	int c, sources = 0;

	memset(opts, 0, sizeof(*opts));
	opts->memory_fd = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_CONFIG: opts->config = optarg; break;
		case OPT_INSTANCE: opts->instance = optarg; break;
		case OPT_MEMORY:
			if (opts->nmemory == OPTIONS_MAX_MEMORY) {
				log_msg(LOG_ERR, "--memory: at most %d files",
					OPTIONS_MAX_MEMORY);
				return -EINVAL;
			}
			if (strchr(optarg, ' ')) {
				log_msg(LOG_ERR, "--memory \"%s\": a RAM file path cannot "
					"hold a space", optarg);
				return -EINVAL;
			}
			if (opts->nmemory++ == 0)
				sources++;
			opts->memory[opts->nmemory - 1] = optarg;
			break;
		case OPT_MEMORY_FD:
			if (parse_uint("memory-fd", optarg, INT_MAX, &v) < 0)
				return -EINVAL;
			opts->memory_fd = (int)v;
			sources++;
			break;
		case OPT_MEMORY_PID:
			if (parse_uint("memory-pid", optarg, INT_MAX, &v) < 0 || v == 0) {
				if (v == 0)
					log_msg(LOG_ERR, "--memory-pid: 0 is not a process");
				return -EINVAL;
			}
			opts->memory_pid = (pid_t)v;
			sources++;
			break;
		case OPT_MEMORY_PID_FILE: opts->memory_pid_file = optarg; sources++; break;
		case OPT_QMP: opts->qmp = optarg; break;
		case OPT_LAYOUT: opts->layout = optarg; break;
		case OPT_VMLINUX: opts->vmlinux = optarg; break;
		case OPT_SYSTEM_MAP: opts->system_map = optarg; break;
		case OPT_BTF: opts->btf = optarg; break;
		case OPT_WATCH_DIR:
			if (opts->nwatch_dirs == OPTIONS_MAX_WATCH_DIRS) {
				log_msg(LOG_ERR, "--watch-dir: at most %d directories",
					OPTIONS_MAX_WATCH_DIRS);
				return -EINVAL;
			}
			opts->watch_dirs[opts->nwatch_dirs++] = optarg;
			break;
		case OPT_SOCKET: opts->socket = optarg; break;
		case OPT_INTERVAL_MS:
			if (parse_uint("interval-ms", optarg, 3600 * 1000, &v) < 0 || v == 0) {
				if (v == 0)
					log_msg(LOG_ERR, "--interval-ms: must be at least 1");
				return -EINVAL;
			}
			opts->interval_ms = (unsigned int)v;
			break;
		case OPT_STATE_FILE: opts->state_file = optarg; break;
		case OPT_INSPECT:
			if (!strcmp(optarg, "kernel"))
				opts->inspect = INSPECT_KERNEL;
			else if (!strcmp(optarg, "maps"))
				opts->inspect = INSPECT_MAPS;
			else if (!strcmp(optarg, "sample"))
				opts->inspect = INSPECT_SAMPLE;
			else {
				log_msg(LOG_ERR, "--inspect: \"%s\" is not one of kernel, maps, sample",
					optarg);
				return -EINVAL;
			}
			break;
		case OPT_SAMPLES:
			if (parse_uint("samples", optarg, 1000000, &v) < 0 || v == 0) {
				if (v == 0)
					log_msg(LOG_ERR, "--samples: must be at least 1");
				return -EINVAL;
			}
			opts->samples = (unsigned int)v;
			break;
		case 'h': opts->help = true; break;
		case OPT_VERSION: opts->version = true; break;
		default:
			if (optopt && optopt < 0x100)
				log_msg(LOG_ERR, "unknown option -%c", optopt);
			else if (optopt)
				log_msg(LOG_ERR, "option %s needs a value", argv[optind - 1]);
			else
				log_msg(LOG_ERR, "unknown option %s", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_msg(LOG_ERR, "unexpected argument \"%s\"", argv[optind]);
		return -EINVAL;
	}
	if (sources > 1) {
		log_msg(LOG_ERR, "give only one of --memory, --memory-fd, --memory-pid, --memory-pid-file");
		return -EINVAL;
	}
	if (opts->samples && opts->inspect != INSPECT_SAMPLE) {
		log_msg(LOG_ERR, "--samples goes with --inspect sample");
		return -EINVAL;
	}
	return 0;
}
