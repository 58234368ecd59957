/* SPDX-License-Identifier: MIT */
/*
 * The instance configuration: /etc/bpfwatch/<instance>.conf merged with
 * the command line (DESIGN.md "Interfaces / Daemon").
 *
 * The file is read only when --config FILE names it (the unit file passes
 * --config /etc/bpfwatch/%i.conf); without it every setting comes from the
 * flags and the defaults below.  Syntax: ini.h with INI_STRICT_BYTES
 * (control bytes and invalid UTF-8 are refused).  Sections and keys:
 *
 *     [Guest]
 *     Memory=/dev/shm/vm1.ram    file backing the guest's RAM (absolute)
 *     MemoryPID=1234             or: the QEMU process whose RAM to read
 *     Layout=q35                 q35 | pc | flat [,max-ram-below-4g=SIZE] |
 *                                GPA:SIZE@OFFSET[,...]  (default q35)
 *     Vmlinux=/path/vmlinux      kernel files, for kernels without
 *     SystemMap=/path/System.map   VMCOREINFO kallsyms (absolute paths)
 *     Btf=/path/vmlinux.btf
 *
 *     [Sampling]
 *     IntervalMSec=100           1..3600000 (default 100)
 *
 *     [Socket]
 *     Path=/run/bpfwatch/vm1.sock  absolute, at most 107 bytes (sun_path)
 *                                  (default /run/bpfwatch/<instance>.sock)
 *     Mode=0660                  octal, at most 0777 (default 0660)
 *     Group=bpfwatch             a group name or a numeric gid; resolved
 *                                (config_resolve_group) when the socket is
 *                                bound, so the group may appear later
 *
 *     [Metrics]
 *     TextfileDir=/var/lib/node_exporter/textfile   absolute directory
 *     StateFile=/var/lib/bpfwatch/vm1.state         absolute file
 *
 *     FileMode=0644              octal: exact mode of the .prom and state files
 *                                (default: 0644 less the umask, i.e. UMask=)
 *
 *     [Clients]                  (server.h says what each limit does)
 *     MaxClients=1024            connections at once, 1..65536
 *     MaxClientsPerUser=256      connections of one peer uid (SO_PEERCRED)
 *     IdleTimeoutSec=30          close a client that sent nothing this long
 *                                (subscribers excepted); 0: never
 *     QueueMaxBytes=262144       replies queued for one client before it is
 *                                no longer read from
 *     SubscriberQueueMaxBytes=1048576   samples queued before a subscriber
 *                                is dropped
 *     BufferTotalMaxBytes=33554432   every client's buffers together; above
 *                                it the client holding most is dropped
 *     ControlUsers=root ci       who may reset/reload: users (names or uids)
 *     ControlGroups=bpfwatch-ctl   and groups (names or gids), space-separated
 *                                (default: root and the daemon's own user)
 *
 *     [Kernel]
 *     Metrics=yes                the built-in sched_ext_* metrics (scx_health.h);
 *                                yes/no, true/false, on/off, 1/0 (default yes)
 *     StallMSec=2000             a runnable sched_ext task waiting longer is
 *                                stalled: 1..CONFIG_STALL_MS_MAX (default 2000)
 *
 *     [Watch]
 *     Directory=/srv/watch.d     repeatable, at most CONFIG_WATCH_DIRS_MAX:
 *                                the watch directories in precedence order,
 *                                replacing the default search path (as
 *                                --watch-dir does)
 *
 * Every key but Directory= may appear once in the whole file (a section
 * header may repeat).  Memory= and MemoryPID= exclude each other.  Empty
 * values are errors.  Unknown sections or keys, bad values and duplicates
 * are errors "file:line: message"; the first one stops the load.
 *
 * Flags override the file key by key: --memory, --memory-fd and
 * --memory-pid together replace the file's guest memory source (giving one
 * drops both Memory= and MemoryPID=); --watch-dir (any number) replaces
 * every Directory=; --layout, --vmlinux, --system-map, --btf, --socket,
 * --interval-ms and --state-file replace their key.  Mode=, Group= and
 * TextfileDir= have no flag.
 */
#ifndef BPFWATCH_CONFIG_H
#define BPFWATCH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "guest_ram.h"
#include "options.h"

/*
 * Longest instance name.  The name becomes part of file names
 * (<instance>.conf, <instance>.sock, <instance>.watch.d) and of the
 * socket path, which must fit sun_path (108 bytes) under /run/bpfwatch.
 */
#define CONFIG_INSTANCE_MAX 64
#define CONFIG_DEFAULT_INSTANCE "default"
#define CONFIG_DEFAULT_LAYOUT "auto"
#define CONFIG_MAX_MEMORY 8
#define CONFIG_DEFAULT_INTERVAL_MS 100u
/* An hour: a longer interval is a typo, and the window math stays small. */
#define CONFIG_INTERVAL_MS_MAX 3600000u
#define CONFIG_DEFAULT_SOCKET_MODE 0660
#define CONFIG_DEFAULT_STALL_MS 2000u
/* The kernel's watchdog timeout tops out at 30 s by default; ten minutes is a typo. */
#define CONFIG_STALL_MS_MAX 600000u
#define CONFIG_SOCKET_DIR "/run/bpfwatch"
/* sizeof(sockaddr_un.sun_path) less the NUL the path needs. */
#define CONFIG_SOCKET_PATH_MAX 107
/* Same bound as --watch-dir: each directory is scanned on every reload. */
#define CONFIG_WATCH_DIRS_MAX OPTIONS_MAX_WATCH_DIRS
/* Group names longer than this are not valid on Linux (LOGIN_NAME_MAX 256). */
#define CONFIG_GROUP_MAX 255
/* [Clients] defaults: a CI fleet's clients fit, an abuser's do not. */
#define CONFIG_DEFAULT_MAX_CLIENTS 1024u
#define CONFIG_DEFAULT_MAX_PER_USER 256u
#define CONFIG_DEFAULT_IDLE_TIMEOUT_SEC 30u
#define CONFIG_DEFAULT_QUEUE_MAX (256ul * 1024)
#define CONFIG_DEFAULT_SUB_QUEUE_MAX (1ul << 20)
#define CONFIG_DEFAULT_BUFFER_TOTAL_MAX (32ul << 20)
#define CONFIG_MAX_CLIENTS_MAX 65536u
#define CONFIG_IDLE_TIMEOUT_MAX 86400u
#define CONFIG_QUEUE_MIN 4096ul
#define CONFIG_BYTES_MAX (1ul << 30)

struct config_limits {
	unsigned int max_clients;
	unsigned int max_per_user;
	unsigned int idle_timeout_sec;	/* 0: no idle timeout */
	size_t queue_max;
	size_t sub_queue_max;
	size_t buffer_total_max;
};

struct daemon_config {
	char *instance;			/* never NULL after config_load */
	char *config_file;		/* the file read; NULL: none */

	/* [Guest]; at most one of memory, memory_fd >= 0, memory_pid > 0 */
	char *memory;			/* space-separated files, in guest-physical order */
	int memory_fd;			/* --memory-fd only; -1: unset */
	pid_t memory_pid;		/* 0: unset */
	char *memory_pid_file;		/* QEMU's pid, read at each attach */
	char *qmp;			/* QEMU's QMP socket, or NULL */
	char *layout;			/* never NULL after config_load */
	char *vmlinux;
	char *system_map;
	char *btf;

	/* [Sampling] */
	unsigned int interval_ms;	/* 1..CONFIG_INTERVAL_MS_MAX */

	/* [Socket] */
	char *socket_path;		/* never NULL after config_load */
	mode_t socket_mode;		/* <= 0777 */
	char *socket_group;		/* NULL: the group is left as created */

	/* [Metrics] */
	char *textfile_dir;		/* NULL: no textfile export */
	char *state_file;		/* NULL: no state file */
	int file_mode;			/* -1: 0644 less the umask */

	/* [Clients] */
	struct config_limits limits;
	char *control_users;		/* NULL: root and the daemon's user */
	char *control_groups;		/* NULL: none */

	/* [Kernel] */
	bool kernel_metrics;
	unsigned int stall_ms;		/* 1..CONFIG_STALL_MS_MAX */

	/* [Watch]: the watch search path when watch_dirs_set, else watch_dirs_default() */
	bool watch_dirs_set;
	char *watch_dirs[CONFIG_WATCH_DIRS_MAX];
	size_t nwatch_dirs;
};

/* Zero @cfg and set the defaults that do not depend on the instance. */
void config_init(struct daemon_config *cfg);

/* Free what @cfg owns and zero it (config_init state not restored). */
void config_free(struct daemon_config *cfg);

/*
 * Apply the config text @text (@len bytes, named @name in messages) on top
 * of @cfg.  On error @cfg may hold some of the file's settings; callers
 * discard it (config_load does).
 */
int config_parse(struct daemon_config *cfg, const char *name, const char *text, size_t len,
		 struct bw_error *err);

/* Read @path (ini_read_file rules: a regular file of at most INI_MAX_BYTES) and parse it. */
int config_parse_file(struct daemon_config *cfg, const char *path, struct bw_error *err);

/*
 * Lay the flags of @opts over @cfg (see the top of this file), then fill
 * what is still unset and derives from the instance: the instance itself
 * ("default"), the layout ("auto"), the socket path.  Checks the instance
 * name, the --layout text and the socket path length; errors name the flag
 * ("--socket: ...") or the file line that set the value.
 */
/* The guest memory @cfg names; the paths point into @buf. */
int config_ram_source(const struct daemon_config *cfg, struct bw_ram_source *source,
		      char *buf, size_t size);

int config_apply_options(struct daemon_config *cfg, const struct daemon_options *opts,
			 struct bw_error *err);

/*
 * The whole merge: defaults, then --config FILE if given, then the flags.
 * On success *cfg is complete (free with config_free); on error *cfg is
 * zeroed and holds nothing.
 */
int config_load(const struct daemon_options *opts, struct daemon_config *cfg,
		struct bw_error *err);

/*
 * -EINVAL unless @name is 1..CONFIG_INSTANCE_MAX bytes of [A-Za-z0-9:_.@-]
 * or '\' (systemd's instance characters: printable, never '/' or
 * whitespace) not starting with '.'.  Every name it accepts is also
 * accepted by watch_dirs_default().
 */
int config_check_instance(const char *name, struct bw_error *err);

/*
 * @group (a name, or a decimal gid) as a gid: -ENOENT when no such group
 * exists, -EINVAL for a malformed gid.
 */
int config_resolve_group(const char *group, gid_t *gid, struct bw_error *err);

#endif
