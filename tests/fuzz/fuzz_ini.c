/* SPDX-License-Identifier: MIT */
/*
 * User text of the INI family: the instance config (first byte even) and
 * watch drop-ins (odd), through the same parsers bpfwatchd uses at start
 * and on reload.
 */
#include <stdint.h>

#include "config.h"
#include "watch.h"
#include "watch_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_error err = { 0 };

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		struct bw_watch_set *set = bw_watch_set_new();

		if (!set)
			return 0;
		watch_file_parse(set, "fuzz.watch", (const char *)data + 1, size - 1, &err);
		bw_watch_set_free(set);
	} else {
		struct daemon_config cfg;

		config_init(&cfg);
		config_parse(&cfg, "fuzz.conf", (const char *)data + 1, size - 1, &err);
		config_free(&cfg);
	}
	return 0;
}
