/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* asprintf */
#endif
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ini.h"
#include "ram_layout.h"

/* getgrnam_r buffer: start at this, double up to the cap (huge member lists). */
#define GROUP_BUF_START 1024
#define GROUP_BUF_MAX (1u << 20)

enum section_id { SEC_NONE, SEC_GUEST, SEC_SAMPLING, SEC_SOCKET, SEC_METRICS, SEC_WATCH,
		  SEC_CLIENTS, SEC_KERNEL };

enum key_id {
	K_MEMORY, K_MEMORY_PID, K_MEMORY_PID_FILE, K_QMP, K_LAYOUT, K_VMLINUX, K_SYSTEM_MAP, K_BTF,
	K_INTERVAL,
	K_SOCKET_PATH, K_SOCKET_MODE, K_SOCKET_GROUP,
	K_TEXTFILE_DIR, K_STATE_FILE, K_FILE_MODE,
	K_WATCH_DIR,
	K_MAX_CLIENTS, K_MAX_PER_USER, K_IDLE_TIMEOUT, K_QUEUE_MAX, K_SUB_QUEUE_MAX,
	K_BUFFER_TOTAL_MAX, K_CONTROL_USERS, K_CONTROL_GROUPS,
	K_KERNEL_METRICS, K_STALL_MS,
	K_COUNT,
};

static const struct {
	enum section_id section;
	const char *name;
	bool repeatable;
} keys[K_COUNT] = {
	[K_MEMORY] = { SEC_GUEST, "Memory", false },
	[K_MEMORY_PID] = { SEC_GUEST, "MemoryPID", false },
	[K_MEMORY_PID_FILE] = { SEC_GUEST, "MemoryPIDFile", false },
	[K_QMP] = { SEC_GUEST, "QMP", false },
	[K_LAYOUT] = { SEC_GUEST, "Layout", false },
	[K_VMLINUX] = { SEC_GUEST, "Vmlinux", false },
	[K_SYSTEM_MAP] = { SEC_GUEST, "SystemMap", false },
	[K_BTF] = { SEC_GUEST, "Btf", false },
	[K_INTERVAL] = { SEC_SAMPLING, "IntervalMSec", false },
	[K_SOCKET_PATH] = { SEC_SOCKET, "Path", false },
	[K_SOCKET_MODE] = { SEC_SOCKET, "Mode", false },
	[K_SOCKET_GROUP] = { SEC_SOCKET, "Group", false },
	[K_TEXTFILE_DIR] = { SEC_METRICS, "TextfileDir", false },
	[K_STATE_FILE] = { SEC_METRICS, "StateFile", false },
	[K_FILE_MODE] = { SEC_METRICS, "FileMode", false },
	[K_WATCH_DIR] = { SEC_WATCH, "Directory", true },
	[K_MAX_CLIENTS] = { SEC_CLIENTS, "MaxClients", false },
	[K_MAX_PER_USER] = { SEC_CLIENTS, "MaxClientsPerUser", false },
	[K_IDLE_TIMEOUT] = { SEC_CLIENTS, "IdleTimeoutSec", false },
	[K_QUEUE_MAX] = { SEC_CLIENTS, "QueueMaxBytes", false },
	[K_SUB_QUEUE_MAX] = { SEC_CLIENTS, "SubscriberQueueMaxBytes", false },
	[K_BUFFER_TOTAL_MAX] = { SEC_CLIENTS, "BufferTotalMaxBytes", false },
	[K_CONTROL_USERS] = { SEC_CLIENTS, "ControlUsers", false },
	[K_CONTROL_GROUPS] = { SEC_CLIENTS, "ControlGroups", false },
	[K_KERNEL_METRICS] = { SEC_KERNEL, "Metrics", false },
	[K_STALL_MS] = { SEC_KERNEL, "StallMSec", false },
};

static const struct {
	const char *name;
	const char *expected;	/* the keys, for the unknown-key message */
} sections[] = {
	[SEC_NONE] = { NULL, NULL },
	[SEC_GUEST] = { "Guest", "Memory, MemoryPID, MemoryPIDFile, QMP, Layout, Vmlinux, SystemMap or Btf" },
	[SEC_SAMPLING] = { "Sampling", "IntervalMSec" },
	[SEC_SOCKET] = { "Socket", "Path, Mode or Group" },
	[SEC_METRICS] = { "Metrics", "TextfileDir, StateFile or FileMode" },
	[SEC_WATCH] = { "Watch", "Directory" },
	[SEC_CLIENTS] = { "Clients", "MaxClients, MaxClientsPerUser, IdleTimeoutSec, "
			  "QueueMaxBytes, SubscriberQueueMaxBytes, BufferTotalMaxBytes, "
			  "ControlUsers or ControlGroups" },
	[SEC_KERNEL] = { "Kernel", "Metrics or StallMSec" },
};

#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

struct parse_state {
	struct daemon_config *cfg;
	const char *name;
	enum section_id section;
	unsigned int key_line[K_COUNT];	/* first line that set the key; 0: not yet */
};

void config_init(struct daemon_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->memory_fd = -1;
	cfg->interval_ms = CONFIG_DEFAULT_INTERVAL_MS;
	cfg->kernel_metrics = true;
	cfg->stall_ms = CONFIG_DEFAULT_STALL_MS;
	cfg->socket_mode = CONFIG_DEFAULT_SOCKET_MODE;
	cfg->file_mode = -1;
	cfg->limits.max_clients = CONFIG_DEFAULT_MAX_CLIENTS;
	cfg->limits.max_per_user = CONFIG_DEFAULT_MAX_PER_USER;
	cfg->limits.idle_timeout_sec = CONFIG_DEFAULT_IDLE_TIMEOUT_SEC;
	cfg->limits.queue_max = CONFIG_DEFAULT_QUEUE_MAX;
	cfg->limits.sub_queue_max = CONFIG_DEFAULT_SUB_QUEUE_MAX;
	cfg->limits.buffer_total_max = CONFIG_DEFAULT_BUFFER_TOTAL_MAX;
}

void config_free(struct daemon_config *cfg)
{
	size_t i;

	free(cfg->instance);
	free(cfg->config_file);
	free(cfg->memory);
	free(cfg->layout);
	free(cfg->memory_pid_file);
	free(cfg->qmp);
	free(cfg->vmlinux);
	free(cfg->system_map);
	free(cfg->btf);
	free(cfg->socket_path);
	free(cfg->socket_group);
	free(cfg->textfile_dir);
	free(cfg->state_file);
	free(cfg->control_users);
	free(cfg->control_groups);
	for (i = 0; i < cfg->nwatch_dirs; i++)
		free(cfg->watch_dirs[i]);
	memset(cfg, 0, sizeof(*cfg));
	cfg->memory_fd = -1;
	cfg->file_mode = -1;
}

static bool instance_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '_' || c == '.' || c == '@' || c == '-' || c == '\\';
}

int config_check_instance(const char *name, struct bw_error *err)
{
	char q[INI_QUOTE_BUF];
	size_t len, i;

	if (!name)
		return bw_error_set(err, -EINVAL, "instance name: missing");
	len = strlen(name);
	if (len == 0 || len > CONFIG_INSTANCE_MAX || name[0] == '.')
		return bw_error_set(err, -EINVAL, "instance name \"%s\": must be 1..%d characters, "
				    "not starting with '.'", ini_quote(name, len, q, sizeof(q)),
				    CONFIG_INSTANCE_MAX);
	for (i = 0; i < len; i++)
		if (!instance_char_ok(name[i]))
			return bw_error_set(err, -EINVAL, "instance name \"%s\": byte 0x%02x at "
					    "offset %zu is not one of [A-Za-z0-9:_.@-\\]",
					    ini_quote(name, len, q, sizeof(q)),
					    (unsigned char)name[i], i);
	return 0;
}

/* Replace *slot with a copy of @len bytes of @s. */
static int set_str(char **slot, const char *s, size_t len)
{
	char *copy = strndup(s, len);

	if (!copy)
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

/* A path the daemon opens whatever its working directory is. */
_Static_assert(INI_MAX_LINE <= PATH_MAX, "a config line holds no path beyond PATH_MAX");
static int check_abs_path(const char *name, unsigned int line, const char *key, const char *v,
			  size_t vlen, struct bw_error *err)
{
	char q[INI_QUOTE_BUF];

	/* No length check: INI_MAX_LINE keeps every value below PATH_MAX. */
	if (v[0] != '/')
		return ini_line_error(err, -EINVAL, name, line, "%s=\"%s\": not an absolute path",
				      key, ini_quote(v, vlen, q, sizeof(q)));
	return 0;
}

static int parse_decimal(const char *v, size_t vlen, unsigned long max, unsigned long *out)
{
	unsigned long x = 0;
	size_t i;

	if (vlen == 0 || vlen > 20)
		return -EINVAL;
	for (i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -EINVAL;
		if (x > (max - (unsigned long)(v[i] - '0')) / 10)
			return -ERANGE;
		x = x * 10 + (unsigned long)(v[i] - '0');
	}
	*out = x;
	return 0;
}

static int check_group(const char *name, unsigned int line, const char *v, size_t vlen,
		       struct bw_error *err)
{
	char q[INI_QUOTE_BUF];
	size_t i;

	if (vlen > CONFIG_GROUP_MAX)
		return ini_line_error(err, -EINVAL, name, line, "Group=: longer than %d bytes",
				      CONFIG_GROUP_MAX);
	if (v[0] == '-')
		return ini_line_error(err, -EINVAL, name, line, "Group=\"%s\": starts with '-'",
				      ini_quote(v, vlen, q, sizeof(q)));
	for (i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c <= 0x20 || c >= 0x7f || c == ':' || c == '/' || c == ',')
			return ini_line_error(err, -EINVAL, name, line,
					      "Group=\"%s\": byte 0x%02x at offset %zu is not allowed "
					      "in a group name", ini_quote(v, vlen, q, sizeof(q)), c, i);
	}
	return 0;
}

/* The numeric [Clients] keys: their bounds and where each lands. */
static int apply_limit(struct parse_state *ps, enum key_id k, const char *v, size_t vlen,
		       unsigned int line, struct bw_error *err)
{
	struct config_limits *l = &ps->cfg->limits;
	static const struct {
		unsigned long min, max;
		const char *unit;
	} bounds[K_COUNT] = {
		[K_MAX_CLIENTS] = { 1, CONFIG_MAX_CLIENTS_MAX, "connections" },
		[K_MAX_PER_USER] = { 1, CONFIG_MAX_CLIENTS_MAX, "connections" },
		[K_IDLE_TIMEOUT] = { 0, CONFIG_IDLE_TIMEOUT_MAX, "seconds (0: never)" },
		[K_QUEUE_MAX] = { CONFIG_QUEUE_MIN, CONFIG_BYTES_MAX, "bytes" },
		[K_SUB_QUEUE_MAX] = { CONFIG_QUEUE_MIN, CONFIG_BYTES_MAX, "bytes" },
		[K_BUFFER_TOTAL_MAX] = { CONFIG_QUEUE_MIN, CONFIG_BYTES_MAX, "bytes" },
	};
	char q[INI_QUOTE_BUF];
	unsigned long n;

	if (parse_decimal(v, vlen, bounds[k].max, &n) < 0 || n < bounds[k].min)
		return ini_line_error(err, -EINVAL, ps->name, line, "%s=\"%s\": not a whole number "
				      "of %s in %lu..%lu", keys[k].name,
				      ini_quote(v, vlen, q, sizeof(q)), bounds[k].unit,
				      bounds[k].min, bounds[k].max);
	switch (k) {
	case K_MAX_CLIENTS: l->max_clients = (unsigned int)n; break;
	case K_MAX_PER_USER: l->max_per_user = (unsigned int)n; break;
	case K_IDLE_TIMEOUT: l->idle_timeout_sec = (unsigned int)n; break;
	case K_QUEUE_MAX: l->queue_max = n; break;
	case K_SUB_QUEUE_MAX: l->sub_queue_max = n; break;
	default: l->buffer_total_max = n; break;
	}
	return 0;
}

/* ControlUsers=/ControlGroups=: names or numeric ids separated by spaces. */
static int check_name_list(const char *name, unsigned int line, const char *key, const char *v,
			   size_t vlen, struct bw_error *err)
{
	char q[INI_QUOTE_BUF];

	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == ' ')
			continue;
		if (c < 0x20 || c >= 0x7f || c == ':' || c == '/' || c == ',' ||
		    (c == '-' && (i == 0 || v[i - 1] == ' ')))
			return ini_line_error(err, -EINVAL, name, line,
					      "%s=\"%s\": byte 0x%02x at offset %zu is not allowed "
					      "in a user or group name", key,
					      ini_quote(v, vlen, q, sizeof(q)), c, i);
	}
	return 0;
}

static int apply_key(struct parse_state *ps, enum key_id k, const char *v, size_t vlen,
		     unsigned int line, struct bw_error *err)
{
	struct daemon_config *cfg = ps->cfg;
	const char *name = ps->name, *kn = keys[k].name;
	char q[INI_QUOTE_BUF];
	unsigned long n;
	int r;

	if (vlen == 0)
		return ini_line_error(err, -EINVAL, name, line, "%s=: empty value", kn);
	switch (k) {
	case K_MEMORY:
	case K_MEMORY_PID:
	case K_MEMORY_PID_FILE: {
		static const enum key_id group[] = { K_MEMORY, K_MEMORY_PID, K_MEMORY_PID_FILE };

		for (size_t g = 0; g < sizeof(group) / sizeof(group[0]); g++) {
			enum key_id other = group[g];

			if (other != k && ps->key_line[other])
				return ini_line_error(err, -EINVAL, name, line,
						      "%s= and %s= (line %u) both name the guest "
						      "memory; give one", kn, keys[other].name,
						      ps->key_line[other]);
		}
		if (k == K_MEMORY_PID_FILE) {
			r = check_abs_path(name, line, kn, v, vlen, err);
			if (r < 0)
				return r;
			return set_str(&cfg->memory_pid_file, v, vlen);
		}
		if (k == K_MEMORY) {
			/* A space-separated list: one file per RAM backend, in guest-physical order. */
			unsigned int count = 0;

			for (size_t i = 0; i < vlen;) {
				/* v is not NUL-terminated: the word ends at a blank or at vlen. */
				size_t wlen = 0;

				while (i + wlen < vlen && v[i + wlen] != ' ' && v[i + wlen] != '\t')
					wlen++;
				if (wlen) {
					r = check_abs_path(name, line, kn, v + i, wlen, err);
					if (r < 0)
						return r;
					if (++count > CONFIG_MAX_MEMORY)
						return ini_line_error(err, -E2BIG, name, line,
								      "%s=: more than %d files", kn,
								      CONFIG_MAX_MEMORY);
				}
				i += wlen + 1;
			}
			return set_str(&cfg->memory, v, vlen);
		}
		r = parse_decimal(v, vlen, INT_MAX, &n);
		if (r < 0 || n == 0)
			return ini_line_error(err, -EINVAL, name, line,
					      "MemoryPID=\"%s\": not a process id in 1..%d",
					      ini_quote(v, vlen, q, sizeof(q)), INT_MAX);
		cfg->memory_pid = (pid_t)n;
		return 0;
	}
	case K_LAYOUT: {
		struct bw_layout_spec spec;
		char *text = strndup(v, vlen);

		if (!text)
			return -ENOMEM;
		r = bw_layout_parse(text, &spec, err);
		if (r < 0) {
			free(text);
			if (err)
				bw_error_prefix(err, "%s:%u: Layout=", name, line);
			return r;
		}
		free(cfg->layout);
		cfg->layout = text;
		return 0;
	}
	case K_QMP:
	case K_VMLINUX:
	case K_SYSTEM_MAP:
	case K_BTF:
	case K_TEXTFILE_DIR:
	case K_STATE_FILE: {
		char **slot = k == K_QMP ? &cfg->qmp :
			      k == K_VMLINUX ? &cfg->vmlinux : k == K_SYSTEM_MAP ? &cfg->system_map :
			      k == K_BTF ? &cfg->btf : k == K_TEXTFILE_DIR ? &cfg->textfile_dir :
			      &cfg->state_file;

		r = check_abs_path(name, line, kn, v, vlen, err);
		if (r < 0)
			return r;
		return set_str(slot, v, vlen);
	}
	case K_INTERVAL:
		r = parse_decimal(v, vlen, CONFIG_INTERVAL_MS_MAX, &n);
		if (r < 0 || n == 0)
			return ini_line_error(err, -EINVAL, name, line,
					      "IntervalMSec=\"%s\": not a whole number of "
					      "milliseconds in 1..%u", ini_quote(v, vlen, q, sizeof(q)),
					      CONFIG_INTERVAL_MS_MAX);
		cfg->interval_ms = (unsigned int)n;
		return 0;
	case K_SOCKET_PATH:
		r = check_abs_path(name, line, kn, v, vlen, err);
		if (r < 0)
			return r;
		if (vlen > CONFIG_SOCKET_PATH_MAX)
			return ini_line_error(err, -ENAMETOOLONG, name, line,
					      "Path=: %zu bytes, longer than a Unix socket path may "
					      "be (%d)", vlen, CONFIG_SOCKET_PATH_MAX);
		if (v[vlen - 1] == '/')
			return ini_line_error(err, -EINVAL, name, line,
					      "Path=\"%s\": names a directory, not a socket",
					      ini_quote(v, vlen, q, sizeof(q)));
		return set_str(&cfg->socket_path, v, vlen);
	case K_SOCKET_MODE:
	case K_FILE_MODE: {
		unsigned int mode = 0;
		size_t i;

		for (i = 0; i < vlen && vlen <= 4; i++) {
			if (v[i] < '0' || v[i] > '7')
				break;
			mode = mode * 8 + (unsigned int)(v[i] - '0');
		}
		if (vlen > 4 || i < vlen || mode > 0777)
			return ini_line_error(err, -EINVAL, name, line,
					      "%s=\"%s\": not an octal mode in 0000..0777", kn,
					      ini_quote(v, vlen, q, sizeof(q)));
		if (k == K_SOCKET_MODE)
			cfg->socket_mode = (mode_t)mode;
		else
			cfg->file_mode = (int)mode;
		return 0;
	}
	case K_MAX_CLIENTS:
	case K_MAX_PER_USER:
	case K_IDLE_TIMEOUT:
	case K_QUEUE_MAX:
	case K_SUB_QUEUE_MAX:
	case K_BUFFER_TOTAL_MAX:
		return apply_limit(ps, k, v, vlen, line, err);
	case K_CONTROL_USERS:
	case K_CONTROL_GROUPS:
		r = check_name_list(name, line, kn, v, vlen, err);
		if (r < 0)
			return r;
		return set_str(k == K_CONTROL_USERS ? &cfg->control_users : &cfg->control_groups, v,
			       vlen);
	case K_SOCKET_GROUP:
		r = check_group(name, line, v, vlen, err);
		if (r < 0)
			return r;
		return set_str(&cfg->socket_group, v, vlen);
	case K_WATCH_DIR:
		r = check_abs_path(name, line, kn, v, vlen, err);
		if (r < 0)
			return r;
		if (!ps->key_line[K_WATCH_DIR]) {
			/* The file's list replaces one set before it, as a flag list does. */
			while (cfg->nwatch_dirs)
				free(cfg->watch_dirs[--cfg->nwatch_dirs]);
		}
		if (cfg->nwatch_dirs == CONFIG_WATCH_DIRS_MAX)
			return ini_line_error(err, -E2BIG, name, line,
					      "Directory=: more than %d watch directories",
					      CONFIG_WATCH_DIRS_MAX);
		cfg->watch_dirs[cfg->nwatch_dirs] = strndup(v, vlen);
		if (!cfg->watch_dirs[cfg->nwatch_dirs])
			return -ENOMEM;
		cfg->nwatch_dirs++;
		cfg->watch_dirs_set = true;
		return 0;
	case K_KERNEL_METRICS:
		if (ini_word_eq(v, vlen, "yes") || ini_word_eq(v, vlen, "true") ||
		    ini_word_eq(v, vlen, "1") || ini_word_eq(v, vlen, "on"))
			cfg->kernel_metrics = true;
		else if (ini_word_eq(v, vlen, "no") || ini_word_eq(v, vlen, "false") ||
			 ini_word_eq(v, vlen, "0") || ini_word_eq(v, vlen, "off"))
			cfg->kernel_metrics = false;
		else
			return ini_line_error(err, -EINVAL, name, line,
					      "Metrics=\"%s\": not a boolean (yes or no)",
					      ini_quote(v, vlen, q, sizeof(q)));
		return 0;
	case K_STALL_MS:
		r = parse_decimal(v, vlen, CONFIG_STALL_MS_MAX, &n);
		if (r < 0 || n == 0)
			return ini_line_error(err, -EINVAL, name, line,
					      "StallMSec=\"%s\": not a whole number of "
					      "milliseconds in 1..%u", ini_quote(v, vlen, q, sizeof(q)),
					      CONFIG_STALL_MS_MAX);
		cfg->stall_ms = (unsigned int)n;
		return 0;
	case K_COUNT:
		break;
	}
	return -EINVAL;
}

static int on_section(void *userdata, const char *sname, size_t len, unsigned int line,
		      struct bw_error *err)
{
	struct parse_state *ps = userdata;
	char q[INI_QUOTE_BUF];
	size_t s;

	for (s = 1; s < NSECTIONS; s++)
		if (ini_word_eq(sname, len, sections[s].name)) {
			ps->section = (enum section_id)s;
			return 0;
		}
	return ini_line_error(err, -EINVAL, ps->name, line,
			      "unknown section [%s] (expected Guest, Sampling, Socket, Metrics, "
			      "Kernel, Watch or Clients)", ini_quote(sname, len, q, sizeof(q)));
}

static int on_key(void *userdata, const char *key, size_t klen, const char *v, size_t vlen,
		  unsigned int line, struct bw_error *err)
{
	struct parse_state *ps = userdata;
	char q[INI_QUOTE_BUF];
	unsigned int k;
	int r;

	if (ps->section == SEC_NONE)
		return ini_line_error(err, -EINVAL, ps->name, line,
				      "key \"%s\" outside a section",
				      ini_quote(key, klen, q, sizeof(q)));
	for (k = 0; k < K_COUNT; k++)
		if (keys[k].section == ps->section && ini_word_eq(key, klen, keys[k].name))
			break;
	if (k == K_COUNT)
		return ini_line_error(err, -EINVAL, ps->name, line,
				      "unknown key \"%s\" in [%s] (expected %s)",
				      ini_quote(key, klen, q, sizeof(q)), sections[ps->section].name,
				      sections[ps->section].expected);
	if (ps->key_line[k] && !keys[k].repeatable)
		return ini_line_error(err, -EINVAL, ps->name, line,
				      "duplicate key %s= (first set at line %u)", keys[k].name,
				      ps->key_line[k]);
	r = apply_key(ps, (enum key_id)k, v, vlen, line, err);
	if (r == -ENOMEM)
		return ini_line_error(err, -ENOMEM, ps->name, line, "out of memory");
	if (r < 0)
		return r;
	if (!ps->key_line[k])
		ps->key_line[k] = line;
	return 0;
}

int config_parse(struct daemon_config *cfg, const char *name, const char *text, size_t len,
		 struct bw_error *err)
{
	struct parse_state ps = { .cfg = cfg, .name = name };
	const struct ini_parser parser = {
		.flags = INI_STRICT_BYTES,
		.section = on_section,
		.key = on_key,
		.userdata = &ps,
	};

	return ini_parse(&parser, name, text, len, err);
}

int config_parse_file(struct daemon_config *cfg, const char *path, struct bw_error *err)
{
	char *text;
	size_t len;
	int r;

	r = ini_read_file(path, "config file", &text, &len, err);
	if (r < 0)
		return r;
	r = config_parse(cfg, path, text, len, err);
	free(text);
	if (r == 0 && set_str(&cfg->config_file, path, strlen(path)) < 0)
		r = bw_error_set(err, -ENOMEM, "%s: out of memory", path);
	return r;
}

static int set_flag(char **slot, const char *value, struct bw_error *err)
{
	if (!value)
		return 0;
	if (set_str(slot, value, strlen(value)) < 0)
		return bw_error_set(err, -ENOMEM, "applying the command line: out of memory");
	return 0;
}

int config_ram_source(const struct daemon_config *cfg, struct bw_ram_source *source,
		      char *buf, size_t size)
{
	char *save = NULL, *word;

	*source = (struct bw_ram_source)BW_RAM_SOURCE_INIT;
	source->fd = cfg->memory_fd;
	source->pid = cfg->memory_pid;
	if (!cfg->memory)
		return 0;
	if (strlen(cfg->memory) >= size)
		return -ENAMETOOLONG;
	strcpy(buf, cfg->memory);
	for (word = strtok_r(buf, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
		if (source->npaths == BW_RAM_MAX_BACKENDS)
			return -E2BIG;
		source->paths[source->npaths++] = word;
	}
	return 0;
}

int config_apply_options(struct daemon_config *cfg, const struct daemon_options *opts,
			 struct bw_error *err)
{
	unsigned int i;
	int r;

	if (set_flag(&cfg->instance, opts->instance, err) < 0)
		return -ENOMEM;
	if (!cfg->instance && set_flag(&cfg->instance, CONFIG_DEFAULT_INSTANCE, err) < 0)
		return -ENOMEM;
	r = config_check_instance(cfg->instance, err);
	if (r < 0)
		return opts->instance && err ? bw_error_prefix(err, "--instance") : r;

	if (opts->nmemory || opts->memory_fd >= 0 || opts->memory_pid > 0 ||
	    opts->memory_pid_file) {
		free(cfg->memory);
		cfg->memory = NULL;
		free(cfg->memory_pid_file);
		cfg->memory_pid_file = NULL;
		if (set_flag(&cfg->memory_pid_file, opts->memory_pid_file, err) < 0)
			return -ENOMEM;
		cfg->memory_pid = 0;
		cfg->memory_fd = opts->memory_fd;
		if (opts->memory_pid > 0)
			cfg->memory_pid = opts->memory_pid;
		if (opts->nmemory) {
			size_t len = 0;

			for (unsigned int i = 0; i < opts->nmemory; i++)
				len += strlen(opts->memory[i]) + 1;
			cfg->memory = calloc(1, len);
			if (!cfg->memory)
				return bw_error_set(err, -ENOMEM, "out of memory");
			for (unsigned int i = 0; i < opts->nmemory; i++) {
				if (i)
					strcat(cfg->memory, " ");
				strcat(cfg->memory, opts->memory[i]);
			}
		}
	}
	if (opts->layout) {
		struct bw_layout_spec spec;

		r = bw_layout_parse(opts->layout, &spec, err);
		if (r < 0)
			return err ? bw_error_prefix(err, "--layout") : r;
	}
	if (set_flag(&cfg->layout, opts->layout, err) < 0 ||
	    set_flag(&cfg->qmp, opts->qmp, err) < 0 ||
	    set_flag(&cfg->vmlinux, opts->vmlinux, err) < 0 ||
	    set_flag(&cfg->system_map, opts->system_map, err) < 0 ||
	    set_flag(&cfg->btf, opts->btf, err) < 0 ||
	    set_flag(&cfg->state_file, opts->state_file, err) < 0)
		return -ENOMEM;
	if (!cfg->layout && set_flag(&cfg->layout, CONFIG_DEFAULT_LAYOUT, err) < 0)
		return -ENOMEM;
	if (opts->interval_ms)
		cfg->interval_ms = opts->interval_ms;
	if (opts->nwatch_dirs) {
		if (opts->nwatch_dirs > CONFIG_WATCH_DIRS_MAX)
			return bw_error_set(err, -E2BIG, "--watch-dir: more than %d directories",
					    CONFIG_WATCH_DIRS_MAX);
		for (i = 0; i < cfg->nwatch_dirs; i++) {
			free(cfg->watch_dirs[i]);
			cfg->watch_dirs[i] = NULL;
		}
		cfg->nwatch_dirs = 0;
		for (i = 0; i < opts->nwatch_dirs; i++) {
			if (set_flag(&cfg->watch_dirs[i], opts->watch_dirs[i], err) < 0)
				return -ENOMEM;
			cfg->nwatch_dirs++;
		}
		cfg->watch_dirs_set = true;
	}
	if (opts->socket) {
		size_t len = strlen(opts->socket);

		if (len == 0 || len > CONFIG_SOCKET_PATH_MAX)
			return bw_error_set(err, -ENAMETOOLONG, "--socket: path of %zu bytes; a Unix "
					    "socket path is 1..%d bytes", len, CONFIG_SOCKET_PATH_MAX);
		if (set_flag(&cfg->socket_path, opts->socket, err) < 0)
			return -ENOMEM;
	}
	if (!cfg->socket_path &&
	    asprintf(&cfg->socket_path, CONFIG_SOCKET_DIR "/%s.sock", cfg->instance) < 0) {
		cfg->socket_path = NULL;
		return bw_error_set(err, -ENOMEM, "applying the command line: out of memory");
	}
	return 0;
}

int config_load(const struct daemon_options *opts, struct daemon_config *cfg,
		struct bw_error *err)
{
	int r = 0;

	config_init(cfg);
	if (opts->config)
		r = config_parse_file(cfg, opts->config, err);
	if (r == 0)
		r = config_apply_options(cfg, opts, err);
	if (r < 0)
		config_free(cfg);
	return r;
}

int config_resolve_group(const char *group, gid_t *gid, struct bw_error *err)
{
	char q[INI_QUOTE_BUF];
	struct group gr, *res = NULL;
	unsigned long n;
	size_t size = GROUP_BUF_START;
	char *buf = NULL;
	int r;

	if (!group || !*group)
		return bw_error_set(err, -EINVAL, "socket group: empty name");
	if (group[0] >= '0' && group[0] <= '9') {
		r = parse_decimal(group, strlen(group), UINT32_MAX - 1, &n);
		if (r < 0)
			return bw_error_set(err, -EINVAL, "socket group \"%s\": not a gid in 0..%u",
					    ini_quote(group, strlen(group), q, sizeof(q)),
					    UINT32_MAX - 1);
		*gid = (gid_t)n;
		return 0;
	}
	for (;;) {
		char *grown = realloc(buf, size);

		if (!grown) {
			free(buf);
			return bw_error_set(err, -ENOMEM, "looking up group \"%s\": out of memory",
					    ini_quote(group, strlen(group), q, sizeof(q)));
		}
		buf = grown;
		r = getgrnam_r(group, &gr, buf, size, &res);
		if (r != ERANGE || size >= GROUP_BUF_MAX)
			break;
		size *= 2;
	}
	if (r == 0 && res)
		*gid = res->gr_gid;
	free(buf);
	if (r != 0)
		return bw_error_set(err, -r, "looking up group \"%s\": %s",
				    ini_quote(group, strlen(group), q, sizeof(q)), strerror(r));
	if (!res)
		return bw_error_set(err, -ENOENT, "socket group \"%s\": no such group",
				    ini_quote(group, strlen(group), q, sizeof(q)));
	return 0;
}
