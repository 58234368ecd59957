/* SPDX-License-Identifier: MIT */
/* The instance config: every key, errors with file:line, flags over the file, defaults. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ini.h"
#include "options.h"
#include "util_mem.h"

#define ck_assert_msg_has(err, needle) \
	ck_assert_msg(strstr((err)->msg, (needle)) != NULL, "message \"%s\" lacks \"%s\"", \
		      (err)->msg, (needle))

static char tmpdir[64];

static void tmp_setup(void)
{
	strcpy(tmpdir, "/tmp/bw_config_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *write_conf(const char *name, const char *text, size_t len)
{
	char *p;
	FILE *f;

	ck_assert_int_ge(asprintf(&p, "%s/%s", tmpdir, name), 0);
	f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	fclose(f);
	return p;
}

/* options_parse over a NULL-terminated argument list (argv[0] added). */
static void opts_from(struct daemon_options *opts, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"bpfwatchd";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	ck_assert_int_eq(options_parse(argc, argv, opts), 0);
}

static int parse_text(struct daemon_config *cfg, const char *text, struct bw_error *err)
{
	config_init(cfg);
	bw_error_clear(err);
	return config_parse(cfg, "t.conf", text, strlen(text), err);
}

START_TEST(test_defaults)
{
	static const char *const none[] = { NULL };
	static const char *const vm1[] = { "--instance", "vm1", NULL };
	struct daemon_options opts;
	struct daemon_config cfg;
	struct bw_error err;

	opts_from(&opts, none);
	ck_assert_msg(config_load(&opts, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.instance, "default");
	ck_assert_ptr_null(cfg.config_file);
	ck_assert_ptr_null(cfg.memory);
	ck_assert_int_eq(cfg.memory_fd, -1);
	ck_assert_int_eq(cfg.memory_pid, 0);
	ck_assert_str_eq(cfg.layout, "auto");
	ck_assert_ptr_null(cfg.vmlinux);
	ck_assert_ptr_null(cfg.system_map);
	ck_assert_ptr_null(cfg.btf);
	ck_assert_uint_eq(cfg.interval_ms, 100);
	ck_assert_str_eq(cfg.socket_path, "/run/bpfwatch/default.sock");
	ck_assert_uint_eq(cfg.socket_mode, 0660);
	ck_assert_ptr_null(cfg.socket_group);
	ck_assert_ptr_null(cfg.textfile_dir);
	ck_assert_ptr_null(cfg.state_file);
	ck_assert(!cfg.watch_dirs_set);
	ck_assert_uint_eq(cfg.nwatch_dirs, 0);
	ck_assert(cfg.kernel_metrics);
	ck_assert_uint_eq(cfg.stall_ms, 2000);
	config_free(&cfg);

	opts_from(&opts, vm1);
	ck_assert_int_eq(config_load(&opts, &cfg, &err), 0);
	ck_assert_str_eq(cfg.instance, "vm1");
	ck_assert_str_eq(cfg.socket_path, "/run/bpfwatch/vm1.sock");
	config_free(&cfg);
	/* config_free twice is harmless (zeroed). */
	config_free(&cfg);
}
END_TEST

static const char full_text[] =
	"# bpfwatch instance vm1\n"
	"[Guest]\n"
	"Memory = /dev/shm/vm1.ram\n"
	"Layout=pc,max-ram-below-4g=2G\n"
	"Vmlinux=/boot/vmlinux-7.3\n"
	"SystemMap=/boot/System.map-7.3\n"
	"Btf=/sys/kernel/btf/vmlinux\n"
	"\n"
	"[Sampling]\r\n"
	"IntervalMSec=250\r\n"
	"[Socket]\n"
	"Path=/run/bpfwatch/custom.sock\n"
	"Mode=0600\n"
	"Group=bpfwatch\n"
	"[Metrics]\n"
	"TextfileDir=/var/lib/node_exporter/textfile\n"
	"StateFile=/var/lib/bpfwatch/vm1.state\n"
	"[Watch]\n"
	"Directory=/srv/watch.d\n"
	"Directory=/srv/more.watch.d\n"
	"[Kernel]\n"
	"Metrics=no\n"
	"StallMSec=500\n"
	"; a repeated section header is fine\n"
	"[Guest]\n";

START_TEST(test_every_key)
{
	static const char *const vm1[] = { "--instance", "vm1", NULL };
	struct daemon_options opts;
	struct daemon_config cfg;
	struct bw_error err;
	char *path;

	ck_assert_msg(parse_text(&cfg, full_text, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.memory, "/dev/shm/vm1.ram");
	ck_assert_str_eq(cfg.layout, "pc,max-ram-below-4g=2G");
	ck_assert_str_eq(cfg.vmlinux, "/boot/vmlinux-7.3");
	ck_assert_str_eq(cfg.system_map, "/boot/System.map-7.3");
	ck_assert_str_eq(cfg.btf, "/sys/kernel/btf/vmlinux");
	ck_assert_uint_eq(cfg.interval_ms, 250);
	ck_assert_str_eq(cfg.socket_path, "/run/bpfwatch/custom.sock");
	ck_assert_uint_eq(cfg.socket_mode, 0600);
	ck_assert_str_eq(cfg.socket_group, "bpfwatch");
	ck_assert_str_eq(cfg.textfile_dir, "/var/lib/node_exporter/textfile");
	ck_assert_str_eq(cfg.state_file, "/var/lib/bpfwatch/vm1.state");
	ck_assert(!cfg.kernel_metrics);
	ck_assert_uint_eq(cfg.stall_ms, 500);
	ck_assert(cfg.watch_dirs_set);
	ck_assert_uint_eq(cfg.nwatch_dirs, 2);
	ck_assert_str_eq(cfg.watch_dirs[0], "/srv/watch.d");
	ck_assert_str_eq(cfg.watch_dirs[1], "/srv/more.watch.d");
	config_free(&cfg);

	/* MemoryPID instead of Memory; Mode without a leading 0; a numeric group. */
	ck_assert_msg(parse_text(&cfg, "[Guest]\nMemoryPID=4242\n[Socket]\nMode=640\nGroup=1234\n"
				 "[Sampling]\nIntervalMSec=3600000\n", &err) == 0, "%s", err.msg);
	ck_assert_int_eq(cfg.memory_pid, 4242);
	ck_assert_ptr_null(cfg.memory);
	ck_assert_uint_eq(cfg.socket_mode, 0640);
	ck_assert_str_eq(cfg.socket_group, "1234");
	ck_assert_uint_eq(cfg.interval_ms, 3600000);
	config_free(&cfg);
	ck_assert_int_eq(parse_text(&cfg, "[Sampling]\nIntervalMSec=1\n[Socket]\nMode=0\n", &err), 0);
	ck_assert_uint_eq(cfg.interval_ms, 1);
	ck_assert_uint_eq(cfg.socket_mode, 0);
	config_free(&cfg);

	/* Through config_load: the file is recorded, the socket path is the file's. */
	tmp_setup();
	path = write_conf("vm1.conf", full_text, strlen(full_text));
	{
		const char *const args[] = { "--config", path, "--instance", "vm1", NULL };

		opts_from(&opts, args);
	}
	ck_assert_msg(config_load(&opts, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.config_file, path);
	ck_assert_str_eq(cfg.instance, "vm1");
	ck_assert_str_eq(cfg.socket_path, "/run/bpfwatch/custom.sock");
	ck_assert_str_eq(cfg.memory, "/dev/shm/vm1.ram");
	config_free(&cfg);
	/* Without --config nothing is read. */
	opts_from(&opts, vm1);
	ck_assert_int_eq(config_load(&opts, &cfg, &err), 0);
	ck_assert_ptr_null(cfg.memory);
	config_free(&cfg);
	free(path);
	tmp_teardown();
}
END_TEST

START_TEST(test_flags_override)
{
	struct daemon_options opts;
	struct daemon_config cfg;
	struct bw_error err;
	char *path;

	tmp_setup();
	path = write_conf("vm1.conf", full_text, strlen(full_text));
	{
		const char *const args[] = {
			"--config", path, "--instance", "ci-7", "--memory-pid", "99",
			"--layout", "flat", "--vmlinux", "rel/vmlinux", "--system-map", "/sm",
			"--btf", "/b", "--socket", "/tmp/x.sock", "--interval-ms", "5",
			"--state-file", "/tmp/state", "--watch-dir", "/w1", "--watch-dir", "w2", NULL
		};

		opts_from(&opts, args);
	}
	ck_assert_msg(config_load(&opts, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.instance, "ci-7");
	/* One flag source replaces the file's source entirely. */
	ck_assert_ptr_null(cfg.memory);
	ck_assert_int_eq(cfg.memory_pid, 99);
	ck_assert_int_eq(cfg.memory_fd, -1);
	ck_assert_str_eq(cfg.layout, "flat");
	/* Flags may be relative (to the caller's directory). */
	ck_assert_str_eq(cfg.vmlinux, "rel/vmlinux");
	ck_assert_str_eq(cfg.system_map, "/sm");
	ck_assert_str_eq(cfg.btf, "/b");
	ck_assert_str_eq(cfg.socket_path, "/tmp/x.sock");
	ck_assert_uint_eq(cfg.interval_ms, 5);
	ck_assert_str_eq(cfg.state_file, "/tmp/state");
	ck_assert_uint_eq(cfg.nwatch_dirs, 2);
	ck_assert_str_eq(cfg.watch_dirs[0], "/w1");
	ck_assert_str_eq(cfg.watch_dirs[1], "w2");
	/* No flag for these: the file's values stay. */
	ck_assert_uint_eq(cfg.socket_mode, 0600);
	ck_assert_str_eq(cfg.socket_group, "bpfwatch");
	ck_assert_str_eq(cfg.textfile_dir, "/var/lib/node_exporter/textfile");
	config_free(&cfg);

	/* --memory-fd replaces Memory= too; --memory replaces MemoryPID=. */
	{
		const char *const args[] = { "--config", path, "--memory-fd", "7", NULL };

		opts_from(&opts, args);
		ck_assert_int_eq(config_load(&opts, &cfg, &err), 0);
		ck_assert_ptr_null(cfg.memory);
		ck_assert_int_eq(cfg.memory_fd, 7);
		ck_assert_int_eq(cfg.memory_pid, 0);
		/* The instance is still "default"; the file's socket path stays. */
		ck_assert_str_eq(cfg.instance, "default");
		ck_assert_str_eq(cfg.socket_path, "/run/bpfwatch/custom.sock");
		config_free(&cfg);
	}
	free(path);
	path = write_conf("pid.conf", "[Guest]\nMemoryPID=12\n", 21);
	{
		const char *const args[] = { "--config", path, "--memory", "/m", NULL };

		opts_from(&opts, args);
		ck_assert_int_eq(config_load(&opts, &cfg, &err), 0);
		ck_assert_str_eq(cfg.memory, "/m");
		ck_assert_int_eq(cfg.memory_pid, 0);
		ck_assert_int_eq(cfg.memory_fd, -1);
		config_free(&cfg);
	}
	free(path);
	tmp_teardown();
}
END_TEST

START_TEST(test_bad_values)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
		{ "Memory=/x\n", "t.conf:1: key \"Memory\" outside a section" },
		{ "[Gust]\n", "t.conf:1: unknown section [Gust] (expected Guest, Sampling, Socket, "
		  "Metrics, Kernel, Watch or Clients)" },
		{ "[guest]\n", "t.conf:1: unknown section [guest]" },
		{ "[Guest]\nmemory=/x\n", "t.conf:2: unknown key \"memory\" in [Guest] (expected "
		  "Memory, MemoryPID, MemoryPIDFile, QMP, Layout, Vmlinux, SystemMap or Btf)" },
		{ "[Guest]\nMemory=/a relative/b\n",
		  "t.conf:2: Memory=\"relative/b\": not an absolute path" },
		{ "[Guest]\nMemory=/1 /2 /3 /4 /5 /6 /7 /8 /9\n", "t.conf:2: Memory=: more than 8 files" },
		{ "[Guest]\nMemoryPIDFile=/run/q.pid\nMemoryPID=5\n",
		  "t.conf:3: MemoryPID= and MemoryPIDFile= (line 2) both name the guest memory" },
		{ "[Guest]\nMemoryPIDFile=q.pid\n", "t.conf:2: MemoryPIDFile=\"q.pid\": not an absolute path" },
		{ "[Guest]\nQMP=qmp.sock\n", "t.conf:2: QMP=\"qmp.sock\": not an absolute path" },
		{ "[Socket]\nMemory=/x\n", "t.conf:2: unknown key \"Memory\" in [Socket] (expected "
		  "Path, Mode or Group)" },
		{ "[Sampling]\nInterval=5\n", "t.conf:2: unknown key \"Interval\" in [Sampling] "
		  "(expected IntervalMSec)" },
		{ "[Metrics]\nX=1\n", "(expected TextfileDir, StateFile or FileMode)" },
		{ "[Watch]\nDir=/x\n", "(expected Directory)" },
		{ "[Kernel]\nMetrics=maybe\n", "t.conf:2: Metrics=\"maybe\": not a boolean (yes or no)" },
		{ "[Kernel]\nStallMSec=0\n", "t.conf:2: StallMSec=\"0\": not a whole number of "
		  "milliseconds in 1..600000" },
		{ "[Kernel]\nStallMSec=600001\n", "t.conf:2: StallMSec=\"600001\"" },
		{ "[Kernel]\nStall=1\n", "(expected Metrics or StallMSec)" },
		{ "[Guest]\nMemory=/a\n\n[Guest]\nMemory=/b\n",
		  "t.conf:5: duplicate key Memory= (first set at line 2)" },
		{ "[Guest]\nMemory=/a\nMemoryPID=5\n",
		  "t.conf:3: MemoryPID= and Memory= (line 2) both name the guest memory; give one" },
		{ "[Guest]\nMemoryPID=5\nMemory=/a\n", "t.conf:3: Memory= and MemoryPID= (line 2)" },
		{ "[Guest]\nMemory=relative/ram\n",
		  "t.conf:2: Memory=\"relative/ram\": not an absolute path" },
		{ "[Guest]\nMemory=\n", "t.conf:2: Memory=: empty value" },
		{ "[Guest]\nMemoryPID=0\n", "t.conf:2: MemoryPID=\"0\": not a process id in "
		  "1..2147483647" },
		{ "[Guest]\nMemoryPID=-3\n", "t.conf:2: MemoryPID=\"-3\": not a process id" },
		{ "[Guest]\nMemoryPID=2147483648\n", "t.conf:2: MemoryPID=\"2147483648\"" },
		{ "[Guest]\nMemoryPID=12 34\n", "t.conf:2: MemoryPID=\"12 34\"" },
		{ "[Guest]\nLayout=q36\n", "t.conf:2: Layout=: " },
		{ "[Guest]\nLayout=0:0@0\n", "t.conf:2: Layout=: layout \"0:0@0\": region 1 has size 0" },
		{ "[Guest]\nVmlinux=vmlinux\n", "t.conf:2: Vmlinux=\"vmlinux\": not an absolute path" },
		{ "[Guest]\nSystemMap=~/System.map\n", "t.conf:2: SystemMap=\"~/System.map\"" },
		{ "[Guest]\nBtf=btf\n", "t.conf:2: Btf=\"btf\"" },
		{ "[Sampling]\nIntervalMSec=0\n", "t.conf:2: IntervalMSec=\"0\": not a whole number "
		  "of milliseconds in 1..3600000" },
		{ "[Sampling]\nIntervalMSec=3600001\n", "t.conf:2: IntervalMSec=\"3600001\"" },
		{ "[Sampling]\nIntervalMSec=100ms\n", "t.conf:2: IntervalMSec=\"100ms\"" },
		{ "[Sampling]\nIntervalMSec=1e3\n", "t.conf:2: IntervalMSec=\"1e3\"" },
		{ "[Sampling]\nIntervalMSec=99999999999999999999999\n", "t.conf:2: IntervalMSec=" },
		{ "[Sampling]\nIntervalMSec=+5\n", "t.conf:2: IntervalMSec=\"+5\"" },
		{ "[Socket]\nPath=x.sock\n", "t.conf:2: Path=\"x.sock\": not an absolute path" },
		{ "[Socket]\nPath=/run/bpfwatch/\n", "t.conf:2: Path=\"/run/bpfwatch/\": names a "
		  "directory" },
		{ "[Socket]\nPath=/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		  "t.conf:2: Path=: 115 bytes, longer than a Unix socket path may be (107)" },
		{ "[Socket]\nMode=0660 \n[Socket]\nMode=0600\n",
		  "t.conf:4: duplicate key Mode= (first set at line 2)" },
		{ "[Socket]\nMode=0800\n", "t.conf:2: Mode=\"0800\": not an octal mode in 0000..0777" },
		{ "[Socket]\nMode=1777\n", "t.conf:2: Mode=\"1777\"" },
		{ "[Socket]\nMode=00660\n", "t.conf:2: Mode=\"00660\"" },
		{ "[Socket]\nMode=rw-rw----\n", "t.conf:2: Mode=\"rw-rw----\"" },
		{ "[Socket]\nGroup=a b\n", "t.conf:2: Group=\"a b\": byte 0x20 at offset 1 is not "
		  "allowed in a group name" },
		{ "[Socket]\nGroup=a:b\n", "t.conf:2: Group=\"a:b\": byte 0x3a" },
		{ "[Socket]\nGroup=-x\n", "t.conf:2: Group=\"-x\": starts with '-'" },
		{ "[Socket]\nGroup=gr\xc3\xbcn\n", "t.conf:2: Group=\"gr\\xc3\\xbcn\": byte 0xc3" },
		{ "[Metrics]\nTextfileDir=textfiles\n", "t.conf:2: TextfileDir=\"textfiles\"" },
		{ "[Metrics]\nStateFile=state\n", "t.conf:2: StateFile=\"state\"" },
		{ "[Metrics]\nStateFile=/a\nStateFile=/b\n", "t.conf:3: duplicate key StateFile=" },
		{ "[Watch]\nDirectory=\n", "t.conf:2: Directory=: empty value" },
		{ "[Watch]\nDirectory=watch.d\n", "t.conf:2: Directory=\"watch.d\"" },
		/* Byte policy of the tokenizer: strict for the config file. */
		{ "[Guest]\nMemory=/a\x01\n", "t.conf:2: control byte 0x01 at column 10" },
		{ "[Guest]\nMemory=/\xff\n", "t.conf:2: invalid UTF-8 at column 9" },
		{ "[Guest]\nMemory /x\n", "t.conf:2: \"Memory /x\" is not Key=Value, a [Section] "
		  "header or a comment" },
	};
	struct daemon_config cfg;
	struct bw_error err;
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse_text(&cfg, cases[i].text, &err);

		ck_assert_msg(r < 0, "case %u accepted", i);
		ck_assert_int_eq(err.code, r);
		ck_assert_msg(strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) == 0 ||
			      (cases[i].msg[0] == '(' && strstr(err.msg, cases[i].msg)),
			      "case %u: got \"%s\", want \"%s\"", i, err.msg, cases[i].msg);
		config_free(&cfg);
	}
	/* A path as long as a line allows (INI_MAX_LINE keeps every path below PATH_MAX). */
	{
		char *text = malloc(INI_MAX_LINE + 32);

		strcpy(text, "[Metrics]\nStateFile=/");
		memset(text + 21, 'a', INI_MAX_LINE - 11);
		strcpy(text + 21 + INI_MAX_LINE - 11, "\n");
		ck_assert_msg(parse_text(&cfg, text, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(strlen(cfg.state_file), INI_MAX_LINE - 10);
		config_free(&cfg);
		free(text);
	}
	/* A NULL error sink still gets the code. */
	config_init(&cfg);
	ck_assert_int_eq(config_parse(&cfg, "t", "[X]\n", 4, NULL), -EINVAL);
	config_free(&cfg);
}
END_TEST

/* Several RAM backends, QEMU's pid from a file, its QMP socket. */
START_TEST(test_guest_memory_keys)
{
	struct daemon_options opts;
	struct daemon_config cfg;
	struct bw_ram_source src;
	struct bw_error err;
	char buf[256];

	ck_assert_msg(parse_text(&cfg, "[Guest]\nMemory=/dev/shm/n0  /dev/shm/n1\nQMP=/run/q.sock\n",
				 &err) == 0, "%s", err.msg);
	ck_assert_int_eq(config_ram_source(&cfg, &src, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(src.npaths, 2);
	ck_assert_str_eq(src.paths[0], "/dev/shm/n0");
	ck_assert_str_eq(src.paths[1], "/dev/shm/n1");
	ck_assert_str_eq(cfg.qmp, "/run/q.sock");
	ck_assert_int_eq(config_ram_source(&cfg, &src, buf, 8), -ENAMETOOLONG);
	config_free(&cfg);

	ck_assert_msg(parse_text(&cfg, "[Guest]\nMemoryPIDFile=/run/libvirt/qemu/vm1.pid\n",
				 &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.memory_pid_file, "/run/libvirt/qemu/vm1.pid");
	config_free(&cfg);

	/* --memory once per backend, in order; one flag source replaces the file's. */
	{
		const char *const args[] = { "--memory", "/a", "--memory", "/b", "--qmp", "/q",
					     NULL };

		opts_from(&opts, args);
	}
	ck_assert_uint_eq(opts.nmemory, 2);
	ck_assert_msg(config_load(&opts, &cfg, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(cfg.memory, "/a /b");
	ck_assert_str_eq(cfg.qmp, "/q");
	ck_assert_str_eq(cfg.layout, "auto");
	config_free(&cfg);
}
END_TEST

START_TEST(test_watch_dirs)
{
	struct daemon_config cfg;
	struct bw_error err;
	char text[4096];
	size_t o;
	unsigned int i;

	o = (size_t)sprintf(text, "[Watch]\n");
	for (i = 0; i < CONFIG_WATCH_DIRS_MAX; i++)
		o += (size_t)sprintf(text + o, "Directory=/d%u\n", i);
	ck_assert_msg(parse_text(&cfg, text, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(cfg.nwatch_dirs, CONFIG_WATCH_DIRS_MAX);
	ck_assert_str_eq(cfg.watch_dirs[15], "/d15");
	config_free(&cfg);
	sprintf(text + o, "[Watch]\nDirectory=/one-too-many\n");
	ck_assert_int_eq(parse_text(&cfg, text, &err), -E2BIG);
	ck_assert_str_eq(err.msg, "t.conf:19: Directory=: more than 16 watch directories");
	config_free(&cfg);

	/* A second file's list replaces the first one's (parse applies on top). */
	ck_assert_int_eq(parse_text(&cfg, "[Watch]\nDirectory=/a\nDirectory=/b\n", &err), 0);
	ck_assert_int_eq(config_parse(&cfg, "u.conf", "[Watch]\nDirectory=/c\n", 21, &err), 0);
	ck_assert_uint_eq(cfg.nwatch_dirs, 1);
	ck_assert_str_eq(cfg.watch_dirs[0], "/c");
	config_free(&cfg);
}
END_TEST

START_TEST(test_load_errors)
{
	struct daemon_options opts;
	struct daemon_config cfg;
	struct bw_error err;
	char want[512], *path;

	tmp_setup();
	/* Missing file: the error names it and cfg holds nothing. */
	{
		const char *const args[] = { "--config", "/nonexistent/bpfwatch/vm1.conf", NULL };

		opts_from(&opts, args);
		memset(&cfg, 0xa5, sizeof(cfg));
		ck_assert_int_eq(config_load(&opts, &cfg, &err), -ENOENT);
		ck_assert_str_eq(err.msg, "/nonexistent/bpfwatch/vm1.conf: cannot open: No such file "
				 "or directory");
		ck_assert_ptr_null(cfg.instance);
		ck_assert_ptr_null(cfg.socket_path);
	}
	/* A bad line: file:line with the real path. */
	path = write_conf("bad.conf", "[Guest]\nLayout=q35\nLayout=pc\n", 29);
	{
		const char *const args[] = { "--config", path, NULL };

		opts_from(&opts, args);
		ck_assert_int_eq(config_load(&opts, &cfg, &err), -EINVAL);
		snprintf(want, sizeof(want), "%s:3: duplicate key Layout= (first set at line 2)",
			 path);
		ck_assert_str_eq(err.msg, want);
		ck_assert_ptr_null(cfg.layout);
	}
	free(path);
	/* The config directory itself. */
	{
		const char *const args[] = { "--config", tmpdir, NULL };

		opts_from(&opts, args);
		ck_assert_int_eq(config_load(&opts, &cfg, &err), -EINVAL);
		ck_assert_msg_has(&err, "not a regular file");
	}
	/* /dev/null is an empty config. */
	{
		const char *const args[] = { "--config", "/dev/null", NULL };

		opts_from(&opts, args);
		ck_assert_int_eq(config_load(&opts, &cfg, &err), 0);
		ck_assert_str_eq(cfg.config_file, "/dev/null");
		ck_assert_str_eq(cfg.socket_path, "/run/bpfwatch/default.sock");
		config_free(&cfg);
	}
	/* Flags are checked too, and named. */
	{
		const char *const args[] = { "--instance", "a/b", NULL };

		opts_from(&opts, args);
		ck_assert_int_eq(config_load(&opts, &cfg, &err), -EINVAL);
		ck_assert_str_eq(err.msg, "--instance: instance name \"a/b\": byte 0x2f at offset 1 "
				 "is not one of [A-Za-z0-9:_.@-\\]");
	}
	{
		const char *const args[] = { "--layout", "q99", NULL };

		opts_from(&opts, args);
		ck_assert_int_eq(config_load(&opts, &cfg, &err), -EINVAL);
		ck_assert_msg(strncmp(err.msg, "--layout: ", 10) == 0, "%s", err.msg);
	}
	{
		char longsock[200];
		const char *const args[] = { "--socket", longsock, NULL };

		memset(longsock, 's', sizeof(longsock) - 1);
		longsock[0] = '/';
		longsock[sizeof(longsock) - 1] = '\0';
		opts_from(&opts, args);
		ck_assert_int_eq(config_load(&opts, &cfg, &err), -ENAMETOOLONG);
		ck_assert_str_eq(err.msg, "--socket: path of 199 bytes; a Unix socket path is 1..107 "
				 "bytes");
	}
	tmp_teardown();
}
END_TEST

START_TEST(test_instance_names)
{
	static const char *const good[] = { "vm1", "default", "ci-vm@2:x_y.z", "a\\x2db", "A",
					    "0" };
	static const char *const bad[] = { "", ".", "..", ".hidden", "a/b", "a b", "a\tb",
					   "v\xc3\xa9", "a\n", "x*", "a%b", "/", "a\x7f" };
	struct bw_error err;
	char name[CONFIG_INSTANCE_MAX + 2];
	unsigned int i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(config_check_instance(good[i], &err) == 0, "%s", err.msg);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(config_check_instance(bad[i], &err) == -EINVAL, "bad %u accepted", i);
		ck_assert_msg_has(&err, "instance name");
	}
	ck_assert_int_eq(config_check_instance(NULL, &err), -EINVAL);
	memset(name, 'v', sizeof(name));
	name[CONFIG_INSTANCE_MAX] = '\0';
	ck_assert_int_eq(config_check_instance(name, &err), 0);
	name[CONFIG_INSTANCE_MAX] = 'v';
	name[CONFIG_INSTANCE_MAX + 1] = '\0';
	ck_assert_int_eq(config_check_instance(name, &err), -EINVAL);
	ck_assert_msg_has(&err, "must be 1..64 characters");
	/* The longest instance still gives a socket path that fits sun_path. */
	name[CONFIG_INSTANCE_MAX] = '\0';
	{
		const char *const args[] = { "--instance", name, NULL };
		struct daemon_options opts;
		struct daemon_config cfg;

		opts_from(&opts, args);
		ck_assert_int_eq(config_load(&opts, &cfg, &err), 0);
		ck_assert_uint_le(strlen(cfg.socket_path), CONFIG_SOCKET_PATH_MAX);
		config_free(&cfg);
	}
}
END_TEST

START_TEST(test_resolve_group)
{
	struct bw_error err;
	struct group *gr;
	gid_t gid = 77;

	ck_assert_int_eq(config_resolve_group("root", &gid, &err), 0);
	ck_assert_uint_eq(gid, 0);
	ck_assert_int_eq(config_resolve_group("1234", &gid, &err), 0);
	ck_assert_uint_eq(gid, 1234);
	ck_assert_int_eq(config_resolve_group("0", &gid, &err), 0);
	ck_assert_uint_eq(gid, 0);
	gr = getgrgid(getgid());
	if (gr) {
		char *name = strdup(gr->gr_name);

		ck_assert_int_eq(config_resolve_group(name, &gid, &err), 0);
		ck_assert_uint_eq(gid, getgid());
		free(name);
	}
	ck_assert_int_eq(config_resolve_group("no-such-group-bpfwatch", &gid, &err), -ENOENT);
	ck_assert_str_eq(err.msg, "socket group \"no-such-group-bpfwatch\": no such group");
	ck_assert_int_eq(config_resolve_group("12x", &gid, &err), -EINVAL);
	ck_assert_int_eq(config_resolve_group("4294967295", &gid, &err), -EINVAL);
	ck_assert_int_eq(config_resolve_group("99999999999999999999", &gid, &err), -EINVAL);
	ck_assert_int_eq(config_resolve_group("", &gid, &err), -EINVAL);
	ck_assert_int_eq(config_resolve_group(NULL, &gid, &err), -EINVAL);
}
END_TEST

/* Random bytes and mixes of real lines: an error or a config, never a crash. */
START_TEST(test_garbage)
{
	static const char *const pieces[] = {
		"[Guest]\n", "[Socket]\n", "[Watch]\n", "[Sampling]\n", "[Metrics]\n", "[Bad]\n",
		"Memory=/m\n", "MemoryPID=3\n", "Layout=q35\n", "Layout=x\n", "Path=/s\n",
		"Mode=0640\n", "Group=g\n", "IntervalMSec=7\n", "Directory=/d\n", "StateFile=/s\n",
		"# c\n", "\n", "=\n", "\xff", "\x01", "[", "k=v\n",
	};
	static char buf[1 << 15];
	struct daemon_config cfg;
	struct bw_error err;
	unsigned int seed, bad = 0;

	for (seed = 1; seed <= 900; seed++) {
		size_t len = (seed * 7919) % sizeof(buf), i, o = 0;
		unsigned char pick[64];
		int r;

		test_fill_random(buf, len, seed);
		if (seed % 3 == 1) {
			config_init(&cfg);
			r = config_parse(&cfg, "g.conf", buf, len, &err);
			if (len > 64)
				ck_assert_int_lt(r, 0);
		} else if (seed % 3 == 2) {
			for (i = 0; i < len; i++)
				buf[i] = (unsigned char)buf[i] % 11 == 0 ? '\n'
					: (char)(0x20 + (unsigned char)buf[i] % 0x5f);
			config_init(&cfg);
			r = config_parse(&cfg, "g.conf", buf, len, &err);
		} else {
			test_fill_random(pick, sizeof(pick), seed * 5);
			for (i = 0; i < (seed % 16) + 1; i++) {
				const char *p = pieces[pick[i] % (sizeof(pieces) / sizeof(pieces[0]))];

				memcpy(buf + o, p, strlen(p));
				o += strlen(p);
			}
			config_init(&cfg);
			r = config_parse(&cfg, "g.conf", buf, o, &err);
		}
		if (r < 0) {
			bad++;
			ck_assert_msg(strncmp(err.msg, "g.conf:", 7) == 0, "%s", err.msg);
		}
		config_free(&cfg);
	}
	ck_assert_uint_gt(bad, 400);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_flags_override);
	tcase_add_test(tc, test_bad_values);
	tcase_add_test(tc, test_guest_memory_keys);
	tcase_add_test(tc, test_watch_dirs);
	tcase_add_test(tc, test_load_errors);
	tcase_add_test(tc, test_instance_names);
	tcase_add_test(tc, test_resolve_group);
	tcase_add_test(tc, test_garbage);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(config_suite)
