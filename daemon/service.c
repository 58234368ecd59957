/* SPDX-License-Identifier: MIT */
#include "service.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "clock.h"
#include "engine.h"
#include "guest_open.h"
#include "guest_source.h"
#include "guest_ram.h"
#include "inspect.h"
#include "kernel.h"
#include "kernel_requests.h"
#include "log.h"
#include "notify.h"
#include "openmetrics.h"
#include "printk_ring.h"
#include "ram_layout.h"
#include "scx_health.h"
#include "scx_stats.h"
#include "server.h"
#include "watch.h"
#include "watch_files.h"

/*
 * Retry delays while nothing is there.  Looking for the RAM file is a
 * stat(): cheap, so start fast.  Locating the kernel scans guest RAM
 * (~0.1 s for a few GiB): back off further while the guest boots.
 */
#define MEMORY_RETRY_MIN_US (100 * 1000ULL)
#define MEMORY_RETRY_MAX_US (2 * 1000 * 1000ULL)
#define KERNEL_RETRY_MIN_US (250 * 1000ULL)
#define KERNEL_RETRY_MAX_US (5 * 1000 * 1000ULL)
/* How often the sampling state re-checks the RAM file and the kernel's pulse. */
#define HEALTH_PERIOD_NS (1000 * 1000 * 1000ULL)
/*
 * jiffies that stand still this long while the engine cannot read the
 * guest's maps mean the kernel we model is gone (an in-place reboot keeps
 * the RAM file): locate the kernel again.
 */
#define STALE_KERNEL_NS (5 * 1000 * 1000 * 1000ULL)
/* TextfileDir= is rewritten at most this often. */
#define TEXTFILE_PERIOD_NS (1000 * 1000 * 1000ULL)
#define EXIT_USAGE 2

enum service_state {
	STATE_WAITING_FOR_MEMORY,
	STATE_LOCATING_KERNEL,
	STATE_WAITING_FOR_SCHEDULER,
	STATE_SAMPLING,
};

static const char *const state_names[] = {
	[STATE_WAITING_FOR_MEMORY] = "waiting-for-memory",
	[STATE_LOCATING_KERNEL] = "locating-kernel",
	[STATE_WAITING_FOR_SCHEDULER] = "waiting-for-scheduler",
	[STATE_SAMPLING] = "sampling",
};

struct service {
	struct daemon_config *cfg;
	sd_event *event;
	struct server *server;
	sd_event_source *attach_timer, *tick_timer, *watchdog_timer;
	enum service_state state;
	char reason[BW_ERROR_MSG_MAX];
	uint64_t retry_us;

	struct bw_layout_spec layout;
	struct bw_guest_choice choice;		/* how ram was found and laid out */
	struct bw_ram *ram;
	struct bw_kernel *kernel;
	struct bw_engine *engine;
	struct bw_scx_health *health;	/* NULL: [Kernel] Metrics=no or no sched_ext */
	struct bw_printk_ring *log;	/* the guest kernel's log; NULL: not readable */
	struct bw_watch_set *watches;	/* the loaded set; the engine holds a copy */

	/* Kept when the engine goes (guest gone): metrics outlive the guest. */
	json_t *last_metrics;
	uint64_t window_mono_ns;
	int64_t window_wall_ns;

	uint64_t interval_ns;
	uint64_t next_tick_ns;
	uint64_t ticks, tick_last_ns, tick_max_ns, tick_total_ns;
	uint64_t last_health_ns, last_textfile_ns;
	/* The last TextfileDir failure logged ("" while writes succeed): log changes only. */
	char textfile_error[BW_ERROR_MSG_MAX];
	uint64_t jiffies, jiffies_changed_ns;
	uint64_t watchdog_usec;
	int exit_code;
};

static char *metrics_text(struct service *s, enum openmetrics_dialect dialect);
static void write_textfile(struct service *s);

__attribute__((format(printf, 2, 3)))
static void log_client_limit(void *userdata, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	(void)userdata;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_msg(LOG_WARNING, "%s", line);
}

static void set_state(struct service *s, enum service_state state, const char *reason)
{
	bool changed = s->state != state || strcmp(s->reason, reason ? reason : "") != 0;

	s->state = state;
	snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
	if (!changed)
		return;
	if (reason && *reason) {
		log_msg(LOG_INFO, "%s: %s", state_names[state], reason);
		notify_status("%s: %s", state_names[state], reason);
	} else {
		log_msg(LOG_INFO, "%s", state_names[state]);
		notify_status("%s", state_names[state]);
	}
	/* bpfwatch_state changes now, not at the next tick (there may be none). */
	write_textfile(s);
}

/* ---- guest attach / detach ---------------------------------------------- */

/* The engine's metrics reply with the kernel health metrics added to "metrics". */
static int live_metrics(struct service *s, json_t **out)
{
	int r;

	*out = NULL;
	if (!s->engine)
		return -ENOENT;
	r = bw_engine_metrics_json(s->engine, out, NULL);
	if (r >= 0 && s->health)
		r = bw_scx_health_metrics_json(s->health, json_object_get(*out, "metrics"), NULL);
	if (r < 0) {
		json_decref(*out);
		*out = NULL;
	}
	return r;
}

static void keep_metrics(struct service *s)
{
	json_t *m = NULL;

	if (live_metrics(s, &m) == 0) {
		json_decref(s->last_metrics);
		s->last_metrics = m;
	}
}

static void drop_guest(struct service *s)
{
	keep_metrics(s);
	bw_scx_health_free(s->health);
	s->health = NULL;
	bw_printk_ring_free(s->log);
	s->log = NULL;
	bw_engine_free(s->engine);
	s->engine = NULL;
	bw_kernel_free(s->kernel);
	s->kernel = NULL;
	bw_ram_close(s->ram);
	s->ram = NULL;
	sd_event_source_set_enabled(s->tick_timer, SD_EVENT_OFF);
}

static void schedule_attach(struct service *s, uint64_t delay_us)
{
	uint64_t now;

	sd_event_now(s->event, CLOCK_MONOTONIC, &now);
	sd_event_source_set_time(s->attach_timer, now + delay_us);
	sd_event_source_set_enabled(s->attach_timer, SD_EVENT_ONESHOT);
}

static uint64_t backoff(uint64_t *cur, uint64_t min, uint64_t max)
{
	uint64_t delay = *cur < min ? min : *cur;

	*cur = delay * 2 > max ? max : delay * 2;
	return delay;
}

static bool memory_present(const struct daemon_config *cfg)
{
	struct stat st;

	if (cfg->memory_fd >= 0)
		return true;
	if (cfg->memory_pid_file) {
		pid_t pid;

		if (guest_source_read_pid_file(cfg->memory_pid_file, &pid, NULL) < 0)
			return false;
		return kill(pid, 0) == 0 || errno == EPERM;
	}
	if (cfg->memory_pid > 0)
		return kill(cfg->memory_pid, 0) == 0 || errno == EPERM;
	{
		struct bw_ram_source source;
		char buf[CONFIG_MAX_MEMORY * (PATH_MAX + 1)];

		if (config_ram_source(cfg, &source, buf, sizeof(buf)) < 0 || source.npaths == 0)
			return false;
		for (unsigned int i = 0; i < source.npaths; i++) {
			if (stat(source.paths[i], &st) != 0)
				return false;
		}
	}
	return true;
}

static int on_tick(sd_event_source *src, uint64_t usec, void *userdata);

static void start_ticking(struct service *s)
{
	uint64_t now = clock_mono_ns();

	s->next_tick_ns = now;
	s->last_health_ns = now;
	s->jiffies_changed_ns = now;
	sd_event_source_set_time(s->tick_timer, now / 1000);
	sd_event_source_set_enabled(s->tick_timer, SD_EVENT_ON);
}

static int try_attach(struct service *s)
{
	struct bw_error err = { 0 };
	int r;

	/*
	 * The RAM is opened afresh at every attempt: it may have been replaced
	 * meanwhile (QEMU restarted), and the layout and the order of its
	 * backends are chosen together with the kernel model.
	 */
	bw_ram_close(s->ram);
	s->ram = NULL;
	if (!memory_present(s->cfg)) {
		set_state(s, STATE_WAITING_FOR_MEMORY, "the guest's RAM is not there yet");
		return -ENOENT;
	}
	if (s->state != STATE_LOCATING_KERNEL)
		set_state(s, STATE_LOCATING_KERNEL, "scanning guest RAM");
	r = guest_source_open(s->cfg, &s->layout, &s->ram, &s->kernel, &s->choice, &err);
	if (r < 0) {
		/* Not there, or not readable (yet): waiting for memory; else the kernel. */
		bool no_memory = !s->choice.memory_opened;

		set_state(s, no_memory ? STATE_WAITING_FOR_MEMORY : STATE_LOCATING_KERNEL, err.msg);
		return r;
	}
	s->retry_us = 0;
	r = bw_engine_new(s->kernel, s->watches, s->window_mono_ns ? s->window_mono_ns : clock_mono_ns(),
			  s->window_wall_ns ? s->window_wall_ns : clock_wall_ns(), &s->engine, &err);
	if (r < 0) {
		bw_kernel_free(s->kernel);
		s->kernel = NULL;
		set_state(s, STATE_LOCATING_KERNEL, err.msg);
		return r;
	}
	if (s->cfg->kernel_metrics &&
	    bw_scx_health_new(s->kernel, s->cfg->stall_ms,
			      s->window_mono_ns ? s->window_mono_ns : clock_mono_ns(),
			      s->window_wall_ns ? s->window_wall_ns : clock_wall_ns(), &s->health,
			      &err) < 0)
		log_msg(LOG_WARNING, "no sched_ext kernel metrics: %s", err.msg);
	if (bw_printk_ring_open(s->kernel, &s->log, &err) < 0)
		log_msg(LOG_WARNING, "no kernel log (dmesg): %s", err.msg);
	{
		struct bw_kernel_info info;

		bw_kernel_get_info(s->kernel, &info);
		log_msg(LOG_INFO, "guest kernel %s found (KASLR offset %#" PRIx64 ", %u CPUs)",
		       info.release, info.kaslr_offset, info.nr_cpu_ids);
	}
	s->retry_us = 0;
	start_ticking(s);
	/*
	 * The first tick now, not from the event loop: a status request
	 * queued meanwhile then sees the state the guest is in, never a
	 * placeholder.
	 */
	return on_tick(s->tick_timer, 0, s);
}

static int on_attach_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct service *s = userdata;

	(void)src;
	(void)usec;
	if (try_attach(s) < 0) {
		bool no_memory = s->state == STATE_WAITING_FOR_MEMORY;

		schedule_attach(s, no_memory ?
				backoff(&s->retry_us, MEMORY_RETRY_MIN_US, MEMORY_RETRY_MAX_US) :
				backoff(&s->retry_us, KERNEL_RETRY_MIN_US, KERNEL_RETRY_MAX_US));
	}
	return 0;
}

/* The guest went away or changed under us: start over. */
static void reattach(struct service *s, enum service_state state, const char *why)
{
	drop_guest(s);
	set_state(s, state, why);
	s->retry_us = 0;
	schedule_attach(s, state == STATE_WAITING_FOR_MEMORY ? MEMORY_RETRY_MIN_US :
			KERNEL_RETRY_MIN_US);
}

/* ---- sampling ------------------------------------------------------------ */

static void check_health(struct service *s, uint64_t now, const struct bw_engine_summary *sum)
{
	struct bw_error err = { 0 };
	uint64_t addr, jiffies;

	if (bw_ram_check(s->ram, &err) < 0 || !memory_present(s->cfg)) {
		reattach(s, STATE_WAITING_FOR_MEMORY, err.msg[0] ? err.msg : "the guest's RAM went away");
		return;
	}
	if (bw_kernel_symbol(s->kernel, "jiffies_64", &addr, NULL) == 0 &&
	    bw_kernel_read(s->kernel, addr, &jiffies, sizeof(jiffies), NULL) == 0 &&
	    jiffies != s->jiffies) {
		s->jiffies = jiffies;
		s->jiffies_changed_ns = now;
		return;
	}
	/* A frozen kernel that also no longer makes sense: it was replaced. */
	if (now - s->jiffies_changed_ns > STALE_KERNEL_NS && sum->state == BW_ENGINE_ERROR)
		reattach(s, STATE_LOCATING_KERNEL, "the guest kernel stopped and its maps no longer read: "
			 "looking for it again (rebooted?)");
}

static void textfile_path(const struct service *s, char *path, size_t len)
{
	snprintf(path, len, "%s/%s.prom", s->cfg->textfile_dir, s->cfg->instance);
}

/* The .prom and state files: FileMode= exactly, else 0644 less the umask (UMask=). */
static int write_file(struct service *s, const char *path, const char *text, struct bw_error *err)
{
	bool exact = s->cfg->file_mode >= 0;

	return atomic_file_write(path, text, strlen(text),
				 exact ? (mode_t)s->cfg->file_mode : 0644, exact, err);
}

static void write_textfile(struct service *s)
{
	struct bw_error err = { 0 };
	char path[4096], *text;

	if (!s->cfg->textfile_dir)
		return;
	text = metrics_text(s, OPENMETRICS_PROMETHEUS_TEXT);
	if (!text)
		return;
	textfile_path(s, path, sizeof(path));
	if (write_file(s, path, text, &err) < 0) {
		if (strcmp(err.msg, s->textfile_error))
			log_msg(LOG_WARNING, "TextfileDir: %s (logged again only when this changes)",
				err.msg);
		snprintf(s->textfile_error, sizeof(s->textfile_error), "%s", err.msg);
	} else if (s->textfile_error[0]) {
		log_msg(LOG_NOTICE, "TextfileDir: %s written again", path);
		s->textfile_error[0] = '\0';
	}
	free(text);
}

/* On stop: node_exporter must not serve the last values of a daemon that is gone. */
static void remove_textfile(struct service *s)
{
	char path[4096];

	if (!s->cfg->textfile_dir)
		return;
	textfile_path(s, path, sizeof(path));
	if (unlink(path) < 0 && errno != ENOENT)
		log_msg(LOG_WARNING, "TextfileDir: cannot remove %s: %s", path, strerror(errno));
}

/*
 * The engine's last tick in the socket protocol's shape (README, "Socket
 * protocol (as built)"): "tick", "time_ns" (wall clock) and "values" by
 * label, each {"value"}, {"cpus"} or {"error"}.  A watch without a reading
 * this tick (pending, unresolved, not read yet) carries its reason as the
 * error.  NULL when out of memory or the engine cannot say.
 */
static json_t *sample_reply(const struct bw_engine *engine, struct bw_error *err)
{
	json_t *doc = NULL, *values, *tick, *time_ns, *reply = NULL, *w;
	size_t i;

	if (bw_engine_sample_json(engine, &doc, err) < 0)
		return NULL;
	values = json_object();
	json_array_foreach(json_object_get(doc, "watches"), i, w) {
		const char *label = json_string_value(json_object_get(w, "label"));
		json_t *cpus = json_object_get(w, "values"), *value = json_object_get(w, "value");
		json_t *why = json_object_get(w, "error"), *e;

		if (!label || !values)
			continue;
		if (!why && !json_is_object(cpus) && !value)
			why = json_object_get(w, "reason");
		if (why || (!json_is_object(cpus) && !value))
			e = json_is_string(why) ? json_pack("{s:O}", "error", why) :
						  json_pack("{s:s}", "error", "no value");
		else if (json_is_object(cpus))
			e = json_pack("{s:O}", "cpus", cpus);
		else
			e = json_pack("{s:O}", "value", value);
		if (!e || json_object_set_new(values, label, e) < 0) {
			json_decref(values);
			values = NULL;
		}
	}
	tick = json_object_get(doc, "seq");
	time_ns = json_object_get(doc, "wall_ns");
	if (values && tick && time_ns)
		reply = json_pack("{s:b, s:O, s:O, s:o}", "ok", 1, "tick", tick, "time_ns", time_ns,
				  "values", values);
	else
		json_decref(values);
	json_decref(doc);
	if (!reply)
		bw_error_set(err, -ENOMEM, "sample: out of memory");
	return reply;
}

static void broadcast_sample(struct service *s)
{
	struct server_stats st;
	json_t *sample;

	server_get_stats(s->server, &st);
	if (st.subscribers == 0)
		return;
	sample = sample_reply(s->engine, NULL);
	if (!sample)
		return;
	server_broadcast(s->server, sample);
	json_decref(sample);
}

static int on_tick(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct service *s = userdata;
	struct bw_engine_summary sum;
	struct bw_error err = { 0 };
	uint64_t start = clock_mono_ns(), cost;

	(void)usec;
	if (!s->engine)
		return 0;
	if (bw_engine_tick(s->engine, start, clock_wall_ns(), &err) < 0)
		log_msg(LOG_WARNING, "tick: %s", err.msg);
	if (s->health && bw_scx_health_tick(s->health, start, clock_wall_ns(), &err) < 0)
		log_msg(LOG_WARNING, "sched_ext health: %s", err.msg);
	cost = clock_mono_ns() - start;
	s->ticks++;
	s->tick_last_ns = cost;
	s->tick_total_ns += cost;
	if (cost > s->tick_max_ns)
		s->tick_max_ns = cost;

	bw_engine_summary(s->engine, &sum);
	if (sum.state == BW_ENGINE_SAMPLING)
		set_state(s, STATE_SAMPLING, sum.degraded);
	else if (sum.state == BW_ENGINE_NO_SCHEDULER)
		set_state(s, STATE_WAITING_FOR_SCHEDULER, "no sched_ext scheduler is attached");
	else if (sum.message)
		set_state(s, STATE_WAITING_FOR_SCHEDULER, sum.message);
	broadcast_sample(s);
	if (s->cfg->textfile_dir && start - s->last_textfile_ns >= TEXTFILE_PERIOD_NS) {
		s->last_textfile_ns = start;
		write_textfile(s);
	}
	if (start - s->last_health_ns >= HEALTH_PERIOD_NS) {
		s->last_health_ns = start;
		check_health(s, start, &sum);
		if (!s->engine)
			return 0;
	}
	/* Fixed-rate schedule; after a stall, skip the ticks that were missed. */
	s->next_tick_ns += s->interval_ns;
	if (s->next_tick_ns <= start)
		s->next_tick_ns = start + s->interval_ns;
	sd_event_source_set_time(src, s->next_tick_ns / 1000);
	sd_event_source_set_enabled(src, SD_EVENT_ON);
	return 0;
}

/* ---- watches --------------------------------------------------------------- */

static int load_watch_set(const struct daemon_config *cfg, struct bw_watch_set **out,
			  struct bw_error *err)
{
	int r = watch_files_load_for(cfg->watch_dirs_set ? (const char *const *)cfg->watch_dirs : NULL,
				     cfg->nwatch_dirs, cfg->instance, out, err);

	if (r >= 0 && (r = openmetrics_check_watch_set(*out, err)) < 0) {
		bw_watch_set_free(*out);
		*out = NULL;
	}
	return r;
}

/* Atomic: on any error the running set keeps sampling. */
static int reload(struct service *s, struct bw_error *err)
{
	struct bw_watch_set *set = NULL;
	int r;

	notify_reloading();
	r = load_watch_set(s->cfg, &set, err);
	if (r >= 0 && s->engine)
		r = bw_engine_set_watches(s->engine, set, clock_mono_ns(), clock_wall_ns(), err);
	if (r < 0) {
		bw_watch_set_free(set);
		log_msg(LOG_ERR, "reload refused, the previous watches keep running: %s", err->msg);
	} else {
		bw_watch_set_free(s->watches);
		s->watches = set;
		if (s->health)
			bw_scx_health_reset(s->health, clock_mono_ns(), clock_wall_ns());
		/* Both halves of the window start: the next engine starts a new window. */
		s->window_mono_ns = 0;
		s->window_wall_ns = 0;
		json_decref(s->last_metrics);
		s->last_metrics = NULL;
		log_msg(LOG_INFO, "reloaded %zu watches", bw_watch_set_count(set));
	}
	notify_ready();
	notify_status("%s%s%s", state_names[s->state], s->reason[0] ? ": " : "", s->reason);
	return r;
}

/* ---- requests ---------------------------------------------------------------- */

/* server_stats.limit_hits by the config key of each limit. */
static json_t *limit_hits_json(const struct server_stats *st)
{
	static const char *const names[SERVER_LIMIT_COUNT] = {
		[SERVER_LIMIT_MAX_CLIENTS] = "max_clients",
		[SERVER_LIMIT_PER_USER] = "max_clients_per_user",
		[SERVER_LIMIT_IDLE] = "idle_timeout",
		[SERVER_LIMIT_BUFFER_TOTAL] = "buffer_total",
		[SERVER_LIMIT_SUB_QUEUE] = "subscriber_queue",
		[SERVER_LIMIT_FORBIDDEN] = "forbidden",
	};
	json_t *o = json_object();

	for (int i = 0; o && i < SERVER_LIMIT_COUNT; i++)
		json_object_set_new(o, names[i], json_integer((json_int_t)st->limit_hits[i]));
	return o;
}

static json_t *metrics_object(struct service *s)
{
	json_t *m = NULL;

	if (live_metrics(s, &m) == 0)
		return m;
	if (s->last_metrics)
		return json_deep_copy(s->last_metrics);
	return json_pack("{s:{s:I, s:I}, s:{}}", "window", "ticks", (json_int_t)0, "samples",
			 (json_int_t)0, "metrics");
}

static json_t *ok(json_t *body)
{
	json_t *reply = json_pack("{s:b}", "ok", 1);

	if (body) {
		json_object_update(reply, body);
		json_decref(body);
	}
	return reply;
}

static json_t *kernel_json(struct service *s)
{
	struct bw_kernel_info info;
	char kaslr[24], phys[24], pob[24];

	if (!s->kernel)
		return json_null();
	bw_kernel_get_info(s->kernel, &info);
	snprintf(kaslr, sizeof(kaslr), "0x%" PRIx64, info.kaslr_offset);
	snprintf(phys, sizeof(phys), "0x%" PRIx64, info.phys_base);
	snprintf(pob, sizeof(pob), "0x%" PRIx64, info.page_offset_base);
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:I, s:s}", "release", info.release,
			 "kaslr_offset", kaslr, "phys_base", phys, "page_offset_base", pob,
			 "paging_levels", info.paging_levels, "nr_cpus", (json_int_t)info.nr_cpu_ids,
			 "source", info.source == BW_KERNEL_FROM_VMCOREINFO ? "vmcoreinfo" : "vmlinux");
}

/* The engine's watch states, or every watch pending (with the service state) without an engine. */
static json_t *watches_status(struct service *s, const json_t *engine_status)
{
	json_t *watches = json_incref(json_object_get(engine_status, "watches"));

	if (watches)
		return watches;
	watches = json_array();
	for (size_t i = 0; s->watches && i < bw_watch_set_count(s->watches); i++) {
		json_t *w = bw_watch_to_json(bw_watch_set_get(s->watches, i));

		json_object_set_new(w, "state", json_string("pending"));
		json_object_set_new(w, "reason", json_string(state_names[s->state]));
		json_array_append_new(watches, w);
	}
	return watches;
}

/* The metrics, current values and health as Prometheus text (openmetrics.h). */
static char *metrics_text(struct service *s, enum openmetrics_dialect dialect)
{
	json_t *sample = NULL, *status = NULL, *metrics = metrics_object(s), *watches;
	struct openmetrics_input in = {
		.vm = s->cfg->instance, .state = state_names[s->state], .states = state_names,
		.nstates = sizeof(state_names) / sizeof(state_names[0]), .ticks = s->ticks,
		.watches = s->watches, .metrics = metrics,
	};
	char *text;

	if (s->engine) {
		bw_engine_sample_json(s->engine, &sample, NULL);
		bw_engine_status_json(s->engine, &status, NULL);
	}
	watches = watches_status(s, status);
	in.sample = sample;
	in.status_watches = watches;
	in.last_tick_wall_ns = json_integer_value(json_object_get(sample, "wall_ns"));
	text = openmetrics_render(&in, dialect);
	json_decref(sample);
	json_decref(status);
	json_decref(watches);
	json_decref(metrics);
	return text;
}

static json_t *status_reply(struct service *s)
{
	json_t *engine = NULL, *watches, *scheduler, *reply;
	struct server_stats st;
	const char *memory = s->cfg->memory;
	char fdname[32];

	if (s->cfg->memory_fd >= 0) {
		snprintf(fdname, sizeof(fdname), "fd %d", s->cfg->memory_fd);
		memory = fdname;
	} else if (s->ram) {
		memory = bw_ram_describe(s->ram);
	}
	if (s->engine)
		bw_engine_status_json(s->engine, &engine, NULL);
	scheduler = engine ? json_incref(json_object_get(engine, "scheduler")) : NULL;
	watches = watches_status(s, engine);
	server_get_stats(s->server, &st);
	reply = json_pack("{s:b, s:s, s:o, s:s, s:o, s:o, s:o, s:I, s:I, s:{s:I, s:I, s:I}, s:o,"
			  " s:{s:I, s:I, s:I, s:I, s:o}}",
			  "ok", 1, "state", state_names[s->state],
			  "reason", s->reason[0] ? json_string(s->reason) : json_null(),
			  "instance", s->cfg->instance,
			  "memory", memory ? json_string(memory) : json_null(),
			  "kernel", kernel_json(s),
			  "scheduler", scheduler ? scheduler : json_null(),
			  "ticks", (json_int_t)s->ticks,
			  "interval_ms", (json_int_t)s->cfg->interval_ms,
			  "tick_ns", "last", (json_int_t)s->tick_last_ns,
			  "mean", (json_int_t)(s->ticks ? s->tick_total_ns / s->ticks : 0),
			  "max", (json_int_t)s->tick_max_ns,
			  "watches", watches,
			  "clients", "connected", (json_int_t)st.clients,
			  "subscribers", (json_int_t)st.subscribers,
			  "dropped_subscribers", (json_int_t)st.dropped_subscribers,
			  "rejected", (json_int_t)st.rejected_clients,
			  "limit_hits", limit_hits_json(&st));
	if (engine && reply)
		json_object_set(reply, "engine", json_object_get(engine, "state"));
	if (reply)
		json_object_set_new(reply, "memory_access", s->ram && s->kernel ?
				    inspect_memory_json(s->ram, &s->choice) : json_null());
	json_decref(engine);
	if (reply && s->health)
		json_object_set_new(reply, "sched_ext", kernel_health_status(s->health));
	return reply;
}

static json_t *watches_reply(struct service *s)
{
	json_t *list = json_array();

	for (size_t i = 0; s->watches && i < bw_watch_set_count(s->watches); i++)
		json_array_append_new(list, bw_watch_to_json(bw_watch_set_get(s->watches, i)));
	return ok(json_pack("{s:o}", "watches", list));
}

static json_t *on_request(void *userdata, struct server_client *c, const char *cmd, json_t *req)
{
	struct service *s = userdata;
	struct bw_error err = { 0 };
	json_t *body = NULL;

	if (!strcmp(cmd, "status"))
		return status_reply(s);
	if (!strcmp(cmd, "metrics")) {
		json_t *format = json_object_get(req, "format");
		const char *name = json_string_value(format);

		if (format && (!name || (strcmp(name, "json") && strcmp(name, "openmetrics") &&
					 strcmp(name, "prometheus"))))
			return server_reply_error("bad_args", "\"format\" must be \"json\", "
						  "\"openmetrics\" or \"prometheus\"");
		if (name && strcmp(name, "json")) {
			char *text = metrics_text(s, !strcmp(name, "openmetrics") ?
						     OPENMETRICS_1_0 : OPENMETRICS_PROMETHEUS_TEXT);
			json_t *reply;

			if (!text)
				return server_reply_error("internal", "out of memory");
			reply = json_pack("{s:b, s:s, s:s}", "ok", 1, "format", name, "text", text);
			free(text);
			return reply;
		}
		body = metrics_object(s);
		return ok(body);
	}
	if (!strcmp(cmd, "sample") || !strcmp(cmd, "maps")) {
		int r;

		if (!s->engine)
			return server_reply_error("not_ready", "%s%s%s", state_names[s->state],
						  s->reason[0] ? ": " : "", s->reason);
		if (!strcmp(cmd, "sample")) {
			body = sample_reply(s->engine, &err);
			return body ? body : server_reply_error("internal", "%s", err.msg);
		}
		r = bw_engine_maps_json(s->engine, &body, &err);
		if (r < 0)
			return server_reply_error("internal", "%s", err.msg);
		return ok(body);
	}
	if (!strcmp(cmd, "watches"))
		return watches_reply(s);
	if (!strcmp(cmd, "reset")) {
		uint64_t mono = clock_mono_ns();
		int64_t wall = clock_wall_ns();

		if (s->engine)
			bw_engine_reset(s->engine, mono, wall);
		if (s->health)
			bw_scx_health_reset(s->health, mono, wall);
		s->window_mono_ns = mono;
		s->window_wall_ns = wall;
		json_decref(s->last_metrics);
		s->last_metrics = NULL;
		return ok(NULL);
	}
	if (!strcmp(cmd, "reload")) {
		if (reload(s, &err) < 0)
			return server_reply_error("bad_args", "watch set refused: %s", err.msg);
		return ok(json_pack("{s:I}", "watches", (json_int_t)bw_watch_set_count(s->watches)));
	}
	if (!strcmp(cmd, "exit"))
		return kernel_exit_reply(s->health, s->engine ? NULL : state_names[s->state]);
	if (!strcmp(cmd, "dmesg"))
		return kernel_dmesg_reply(s->log, req, s->engine ? NULL : state_names[s->state]);
	if (!strcmp(cmd, "subscribe")) {
		server_client_subscribe(c);
		return ok(json_pack("{s:b}", "subscribed", 1));
	}
	return server_reply_error("unknown_cmd", "unknown command \"%s\" (status, metrics, sample, "
				  "maps, watches, reset, reload, exit, dmesg, subscribe)", cmd);
}

static json_t *on_scx_metrics(void *userdata)
{
	struct service *s = userdata;
	json_t *m = metrics_object(s), *values = scx_stats_values(s->watches, m);

	if (values && s->cfg->kernel_metrics && scx_stats_health_values(values, m) < 0) {
		json_decref(values);
		values = NULL;
	}
	json_decref(m);
	return values;
}

/* From the watch set, so complete before the first sample; signedness once resolved. */
static json_t *on_scx_meta_fields(void *userdata)
{
	struct service *s = userdata;
	json_t *status = NULL, *fields;

	if (s->engine)
		bw_engine_status_json(s->engine, &status, NULL);
	fields = scx_stats_fields(s->watches, json_object_get(status, "watches"));
	json_decref(status);
	/* The kernel metrics whether or not a guest is attached yet; its events once it is. */
	if (fields && s->cfg->kernel_metrics && scx_stats_health_fields(fields, s->health) < 0) {
		json_decref(fields);
		fields = NULL;
	}
	return fields;
}

/* ---- signals, watchdog, state file ------------------------------------------ */

static void write_state_file(struct service *s)
{
	struct bw_error err = { 0 };
	json_t *reply;
	char *text;

	if (!s->cfg->state_file)
		return;
	reply = ok(metrics_object(s));
	text = json_dumps(reply, JSON_COMPACT);
	json_decref(reply);
	if (!text)
		return;
	if (write_file(s, s->cfg->state_file, text, &err) < 0)
		log_msg(LOG_ERR, "state file: %s", err.msg);
	else
		log_msg(LOG_INFO, "final metrics written to %s", s->cfg->state_file);
	free(text);
}

static int on_terminate(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct service *s = userdata;

	(void)src;
	log_msg(LOG_INFO, "signal %u: stopping", si->ssi_signo);
	notify_stopping();
	write_state_file(s);
	remove_textfile(s);
	return sd_event_exit(s->event, 0);
}

static int on_sighup(sd_event_source *src, const struct signalfd_siginfo *si, void *userdata)
{
	struct bw_error err = { 0 };

	(void)src;
	(void)si;
	reload(userdata, &err);
	return 0;
}

static int on_watchdog(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct service *s = userdata;

	notify_watchdog();
	sd_event_source_set_time(src, usec + s->watchdog_usec);
	sd_event_source_set_enabled(src, SD_EVENT_ON);
	return 0;
}

/* ---- setup ---------------------------------------------------------------------- */

static int open_server(struct service *s, struct bw_error *err)
{
	struct server_opts opts = SERVER_OPTS_INIT;
	struct server_handlers handlers = {
		.request = on_request,
		.scx_metrics = on_scx_metrics,
		.scx_meta_fields = on_scx_meta_fields,
		.log = log_client_limit,
	};
	const struct config_limits *l = &s->cfg->limits;
	struct peer_access access;
	int fd = -1, r;

	r = peer_access_init(&access, s->cfg->control_users, s->cfg->control_groups, err);
	if (r < 0)
		return bw_error_prefix(err, "[Clients]");
	opts.access = &access;
	opts.max_clients = l->max_clients;
	opts.max_per_user = l->max_per_user;
	opts.idle_timeout_usec = (uint64_t)l->idle_timeout_sec * 1000000;
	opts.queue_max = l->queue_max;
	opts.subscriber_queue_max = l->sub_queue_max;
	opts.buffer_total_max = l->buffer_total_max;

	r = server_listen_fd_from_systemd(&fd, err);
	if (r < 0)
		return r;
	if (fd >= 0) {
		opts.fd = fd;
	} else {
		opts.path = s->cfg->socket_path;
		opts.mode = s->cfg->socket_mode;
		if (s->cfg->socket_group) {
			r = config_resolve_group(s->cfg->socket_group, &opts.gid, err);
			if (r < 0)
				return r;
		}
	}
	return server_new(s->event, &opts, &handlers, s, &s->server, err);
}

static int setup(struct service *s, struct bw_error *err)
{
	sigset_t mask;
	int r;

	/* Bad configuration is a usage error (exit 2): systemd must not restart on it. */
	s->exit_code = EXIT_USAGE;
	r = bw_layout_parse(s->cfg->layout, &s->layout, err);
	if (r < 0)
		return bw_error_prefix(err, "Layout=");
	r = load_watch_set(s->cfg, &s->watches, err);
	if (r < 0)
		return r;
	s->exit_code = EXIT_FAILURE;
	r = sd_event_default(&s->event);
	if (r < 0)
		return bw_error_set(err, r, "cannot create the event loop: %s", strerror(-r));
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (sd_event_add_signal(s->event, NULL, SIGTERM, on_terminate, s) < 0 ||
	    sd_event_add_signal(s->event, NULL, SIGINT, on_terminate, s) < 0 ||
	    sd_event_add_signal(s->event, NULL, SIGHUP, on_sighup, s) < 0)
		return bw_error_set(err, -EIO, "cannot watch signals");
	/* Accuracy 1 µs: the default (250 ms) would smear a 10 ms sampling interval. */
	r = sd_event_add_time(s->event, &s->attach_timer, CLOCK_MONOTONIC, 0, 1, on_attach_timer, s);
	if (r >= 0)
		r = sd_event_add_time(s->event, &s->tick_timer, CLOCK_MONOTONIC, 0, 1, on_tick, s);
	if (r < 0)
		return bw_error_set(err, r, "cannot create timers: %s", strerror(-r));
	/* Sampling never waits behind clients: when both are ready the tick goes first. */
	sd_event_source_set_priority(s->tick_timer, SD_EVENT_PRIORITY_IMPORTANT);
	sd_event_source_set_enabled(s->tick_timer, SD_EVENT_OFF);
	if (notify_watchdog_interval(&s->watchdog_usec) > 0 && s->watchdog_usec) {
		r = sd_event_add_time_relative(s->event, &s->watchdog_timer, CLOCK_MONOTONIC,
					       s->watchdog_usec, 1000, on_watchdog, s);
		if (r < 0)
			return bw_error_set(err, r, "cannot arm the watchdog: %s", strerror(-r));
	}
	r = open_server(s, err);
	if (r < 0)
		return r;
	s->interval_ns = (uint64_t)s->cfg->interval_ms * 1000000ULL;
	/* Until the first attempt runs, a status request already says why. */
	s->state = STATE_WAITING_FOR_MEMORY;
	snprintf(s->reason, sizeof(s->reason), "%s", "looking for the guest's RAM");
	return 0;
}

int service_run(struct daemon_config *cfg)
{
	struct service s = { .cfg = cfg, .exit_code = EXIT_SUCCESS };
	struct bw_error err = { 0 };
	int r;

	r = setup(&s, &err);
	if (r < 0) {
		log_msg(LOG_ERR, "%s", err.msg);
		goto out;
	}
	s.exit_code = EXIT_SUCCESS;
	log_msg(LOG_INFO, "instance %s listening on %s, %zu watches, every %u ms", cfg->instance,
	       server_path(s.server) ? server_path(s.server) : "a socket from systemd",
	       bw_watch_set_count(s.watches), cfg->interval_ms);
	notify_ready();
	notify_status("%s", state_names[s.state]);
	write_textfile(&s);
	schedule_attach(&s, 0);
	r = sd_event_loop(s.event);
	if (r < 0) {
		log_msg(LOG_ERR, "event loop: %s", strerror(-r));
		s.exit_code = EXIT_FAILURE;
	}
out:
	drop_guest(&s);
	json_decref(s.last_metrics);
	server_free(s.server);
	sd_event_source_unref(s.attach_timer);
	sd_event_source_unref(s.tick_timer);
	sd_event_source_unref(s.watchdog_timer);
	sd_event_unref(s.event);
	bw_watch_set_free(s.watches);
	return s.exit_code;
}
