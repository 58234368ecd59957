/* SPDX-License-Identifier: MIT */
/*
 * bpfwatchctl: the client of bpfwatchd that people and CI scripts use.  It
 * speaks the socket protocol of the README ("Socket protocol (as built)"):
 * one JSON request line, one JSON reply line (a stream of them for
 * subscribe).
 *
 * The daemon: -s SOCKET, or -i INSTANCE for /run/bpfwatch/INSTANCE.sock;
 * with neither, /run/bpfwatch/default.sock (instance "default").
 *
 * Output: human-readable tables by default.  --json prints each reply line
 * of the daemon exactly as received (one compact line per reply, fit for
 * jq); for get and wait it prints the metric's JSON value, for assert one
 * JSON object with every verdict.
 *
 * Exit codes (also in --help):
 *   0  success.
 *   1  the answer is no: `get` of an absent key, an assertion that does not
 *      hold (or whose key is absent), a `wait` that timed out while the
 *      daemon answered, or an error reply of the daemon ({"ok":false}),
 *      printed as "bpfwatchctl: CODE: MESSAGE" (with --json the reply line
 *      is printed too).  A `reload` refused for a bad watch set is such an
 *      error reply.
 *   2  usage error: unknown command or option, bad argument, an assertion
 *      that does not parse.  Nothing was sent.
 *   3  the daemon could not be reached or understood: the socket cannot be
 *      connected, no reply within --timeout, the connection closed (also
 *      the end of `subscribe` when the daemon goes away), a reply that is
 *      not a JSON object with "ok" or is longer than 64 MiB.
 *
 * `wait` and a daemon that is starting: connection failures and not_ready
 * replies are retried until the timeout; at the timeout the exit code is 3
 * when the last attempt could not reach the daemon, else 1.  A broken
 * reply ends the wait at once (3).
 *
 * `subscribe` has no deadline once subscribed (ticks come at the daemon's
 * pace); SIGINT/SIGTERM/SIGHUP end it with 0, --count N after N samples.
 *
 * `top` needs a terminal on stdout; otherwise it prints one plain frame
 * and exits (0, or 3 when the daemon cannot be reached).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl_conn.h"
#include "ctl_exit.h"
#include "ctl_expr.h"
#include "ctl_render.h"
#include "ctl_top.h"

#define EXIT_OK 0
#define EXIT_NO 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

#define SOCKET_DIR "/run/bpfwatch"
#define DEFAULT_INSTANCE "default"
/* Seconds to wait for the daemon (and for `wait`, for the key) unless --timeout says. */
#define DEFAULT_TIMEOUT 5.0
/* Longest --timeout: a bound that still fits the millisecond clock with room to spare. */
#define MAX_TIMEOUT 1e6
/* How often `wait` asks for the metrics. */
#define WAIT_POLL_MS 100
/* Seconds between `top` refreshes unless --interval says. */
#define DEFAULT_TOP_INTERVAL 1.0
#define MAX_TOP_INTERVAL 3600.0

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t window_resized;

struct args {
	const char *socket;
	const char *instance;
	bool json;
	double timeout;
	bool help;
	bool version;
	bool openmetrics;
	unsigned long count;		/* subscribe: 0 = forever */
	bool count_set;
	double interval;		/* top */
	bool interval_set;
	bool follow;			/* dmesg */
	char **pos;			/* command and its arguments */
	int npos;
	char socket_buf[256];
};

struct command {
	const char *name;
	int min_args, max_args;		/* after the command name; -1: no limit */
	int (*run)(struct args *a);
};

static void usage(FILE *out)
{
	fputs("usage: bpfwatchctl [-s SOCKET | -i INSTANCE] [--json] [--timeout S] COMMAND [ARGS]\n"
	      "\n"
	      "Commands:\n"
	      "  status              state, kernel, scheduler, tick rate and cost, watches\n"
	      "  metrics             run-level metrics of the current window (KEY VALUE)\n"
	      "      --openmetrics   the OpenMetrics text exposition instead\n"
	      "  sample              the latest tick's raw values (per-CPU values in full)\n"
	      "  maps                every BPF map found in the guest\n"
	      "  watches             the loaded watch set with source file:line\n"
	      "  reset               start a new metrics window\n"
	      "  reload              reload the watch drop-ins (atomic; refused when bad)\n"
	      "  subscribe           print each sample as it comes, until interrupted\n"
	      "      --count N       stop after N samples\n"
	      "  get KEY             print the value of one metric\n"
	      "  wait KEY            ask every 100 ms until KEY is there, print its value\n"
	      "  assert EXPR...      check 'KEY OP NUMBER' for each EXPR; OP: < <= > >= == !=\n"
	      "                      NUMBER: integer, 0x hex, negative, or real (0.5, 1e3);\n"
	      "                      integers compare exactly (all 64 bits), an absent key fails\n"
	      "  exit                the scheduler's last exit record, as the kernel logs it;\n"
	      "                      exit 0 attached (or a clean exit), 1 disabled by an error\n"
	      "  dmesg               the guest kernel's log, read out of guest memory\n"
	      "      --follow        keep printing new lines until interrupted\n"
	      "  top                 live view (q quits); without a terminal: one frame\n"
	      "      --interval S    seconds between refreshes (default 1)\n"
	      "\n"
	      "Options:\n"
	      "  -s, --socket PATH   the daemon's socket\n"
	      "  -i, --instance NAME the daemon instance: socket " SOCKET_DIR "/NAME.sock\n"
	      "                      (default: " SOCKET_DIR "/" DEFAULT_INSTANCE ".sock)\n"
	      "  -j, --json          print the daemon's JSON reply lines as received;\n"
	      "                      get/wait: the value as JSON; assert: the verdicts as JSON\n"
	      "  -t, --timeout S     seconds to wait for the daemon's reply (default 5);\n"
	      "                      for wait: how long to wait for KEY in all\n"
	      "  -h, --help          this text\n"
	      "      --version       the version of bpfwatchctl\n"
	      "\n"
	      "Exit status:\n"
	      "  0  success\n"
	      "  1  no: absent key, failed assertion, wait timed out, or the daemon replied\n"
	      "     with an error (printed as 'bpfwatchctl: CODE: MESSAGE')\n"
	      "  2  usage error\n"
	      "  3  the daemon cannot be reached: cannot connect, no reply in time, connection\n"
	      "     closed, or a reply that is not JSON\n",
	      out);
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("bpfwatchctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see bpfwatchctl --help)\n", stderr);
	return EXIT_USAGE;
}

static const char *socket_path(const struct args *a)
{
	return a->socket;
}

/* Exit code 3 with the connection error and a hint when the socket is not there. */
static int unreachable(const struct args *a, int r, const struct bw_error *err)
{
	fprintf(stderr, "bpfwatchctl: %s", err->msg[0] ? err->msg : strerror(-r));
	if (r == -ENOENT || r == -ECONNREFUSED)
		fputs(" (is bpfwatchd running? -s SOCKET or -i INSTANCE choose the daemon)", stderr);
	else if (r == -ETIMEDOUT)
		fprintf(stderr, " (--timeout %g s)", a->timeout);
	fputc('\n', stderr);
	return EXIT_UNREACHABLE;
}

/* Print an {"ok":false} reply: exit code 1. */
static int error_reply(const json_t *reply)
{
	const char *code, *message;
	char *c, *m;

	ctl_reply_error(reply, &code, &message);
	c = ctl_printable(code);
	m = ctl_printable(message);
	fprintf(stderr, "bpfwatchctl: %s: %s\n", c ? c : "error", m ? m : "");
	free(c);
	free(m);
	return EXIT_NO;
}

static int finish_output(int code)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "bpfwatchctl: writing the output: %s\n", strerror(errno));
		return code ? code : EXIT_NO;
	}
	return code;
}

/*
 * One request, one reply.  On success *reply is set (possibly an error
 * reply) and, with --json, the raw line has been printed.  Returns -1 on
 * success, else the exit code to leave with.
 */
static int request(struct args *a, json_t *req, json_t **reply, bool print_raw)
{
	struct bw_error err = { 0 };
	struct ctl_conn conn;
	const char *raw;
	size_t raw_len;
	int64_t deadline = ctl_deadline_ms(a->timeout);
	int r;

	*reply = NULL;
	ctl_conn_init(&conn);
	if (!req) {
		fputs("bpfwatchctl: out of memory\n", stderr);
		return EXIT_NO;
	}
	r = ctl_conn_open(&conn, socket_path(a), deadline, &err);
	if (r == 0)
		r = ctl_conn_request(&conn, req, deadline, reply, &raw, &raw_len, &err);
	json_decref(req);
	if (r < 0) {
		ctl_conn_close(&conn);
		return unreachable(a, r, &err);
	}
	if (print_raw) {
		fwrite(raw, 1, raw_len, stdout);
		fputc('\n', stdout);
	}
	ctl_conn_close(&conn);
	return -1;
}

static json_t *cmd_request(const char *cmd)
{
	return json_pack("{s:s}", "cmd", cmd);
}

/* status, sample, maps, watches, reset, reload, metrics. */
static int run_simple(struct args *a)
{
	const char *cmd = a->pos[0];
	json_t *req, *reply;
	int code, r = 0;

	if (!strcmp(cmd, "metrics") && a->openmetrics)
		req = json_pack("{s:s,s:s}", "cmd", "metrics", "format", "openmetrics");
	else
		req = cmd_request(cmd);
	code = request(a, req, &reply, a->json);
	if (code >= 0)
		return code;
	if (!ctl_reply_ok(reply)) {
		code = error_reply(reply);
		json_decref(reply);
		return finish_output(code);
	}
	if (a->json) {
		json_decref(reply);
		return finish_output(EXIT_OK);
	}
	if (!strcmp(cmd, "status")) {
		r = ctl_render_status(stdout, reply);
	} else if (!strcmp(cmd, "metrics") && a->openmetrics) {
		const char *text = json_string_value(json_object_get(reply, "text"));

		if (!text) {
			json_decref(reply);
			fputs("bpfwatchctl: broken reply: no \"text\" in the OpenMetrics reply\n", stderr);
			return EXIT_UNREACHABLE;
		}
		fputs(text, stdout);
		if (*text && text[strlen(text) - 1] != '\n')
			fputc('\n', stdout);
	} else if (!strcmp(cmd, "metrics")) {
		r = ctl_render_metrics(stdout, reply);
	} else if (!strcmp(cmd, "sample")) {
		r = ctl_render_sample(stdout, reply);
	} else if (!strcmp(cmd, "maps")) {
		r = ctl_render_maps(stdout, reply);
	} else if (!strcmp(cmd, "watches")) {
		r = ctl_render_watches(stdout, reply);
	} else if (!strcmp(cmd, "reset")) {
		puts("a new window started");
	} else if (!strcmp(cmd, "reload")) {
		char *n = ctl_json_text(json_object_get(reply, "watches"));

		printf("reloaded: %s watches\n", n ? n : "?");
		free(n);
	}
	json_decref(reply);
	if (r < 0) {
		fputs("bpfwatchctl: out of memory\n", stderr);
		return EXIT_NO;
	}
	return finish_output(EXIT_OK);
}

/* The "metrics" object of a metrics reply, or NULL after printing why (broken reply). */
static const json_t *metrics_of(const json_t *reply)
{
	const json_t *m = json_object_get(reply, "metrics");

	if (!json_is_object(m)) {
		fputs("bpfwatchctl: broken reply: the metrics reply has no \"metrics\" object\n",
		      stderr);
		return NULL;
	}
	return m;
}

/* A metric value as `get` and `wait` print it. */
static int print_value(const struct args *a, const json_t *v)
{
	char buf[CTL_NUM_TEXT_MAX];
	struct ctl_num n;
	char *t;

	if (json_is_integer(v) || json_is_real(v)) {
		ctl_num_from_json(v, &n, NULL);
		puts(ctl_num_format(&n, buf, sizeof(buf)));
		return 0;
	}
	if (a->json)
		t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	else
		t = ctl_json_text(v);
	if (!t)
		return -ENOMEM;
	puts(t);
	free(t);
	return 0;
}

static int run_get(struct args *a)
{
	const char *key = a->pos[1];
	struct bw_error err = { 0 };
	const json_t *metrics, *v;
	json_t *reply;
	int code;

	if (ctl_key_check(key, &err) < 0)
		return usage_error("get: %s", err.msg);
	code = request(a, cmd_request("metrics"), &reply, false);
	if (code >= 0)
		return code;
	if (!ctl_reply_ok(reply)) {
		code = error_reply(reply);
		json_decref(reply);
		return code;
	}
	metrics = metrics_of(reply);
	if (!metrics) {
		json_decref(reply);
		return EXIT_UNREACHABLE;
	}
	v = json_object_get(metrics, key);
	if (!v) {
		char *k = ctl_printable(key);

		fprintf(stderr, "bpfwatchctl: %s: absent\n", k ? k : "key");
		free(k);
		json_decref(reply);
		return EXIT_NO;
	}
	code = print_value(a, v) < 0 ? EXIT_NO : EXIT_OK;
	json_decref(reply);
	return finish_output(code);
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static int run_wait(struct args *a)
{
	const char *key = a->pos[1];
	int64_t deadline = ctl_deadline_ms(a->timeout);
	struct bw_error err = { 0 };
	struct ctl_conn conn;
	int last_conn_error = 0, code = -1;

	if (ctl_key_check(key, &err) < 0)
		return usage_error("wait: %s", err.msg);
	ctl_conn_init(&conn);
	for (;;) {
		int64_t now = ctl_now_ms(), next = now + WAIT_POLL_MS;
		/* The last attempt, made at the deadline, still gets a poll period to be answered. */
		int64_t attempt_deadline = deadline > next ? deadline : next;
		json_t *req, *reply = NULL;
		int r = 0;

		if (conn.fd < 0)
			r = ctl_conn_open(&conn, socket_path(a), attempt_deadline, &err);
		if (r == 0) {
			req = cmd_request("metrics");
			r = req ? ctl_conn_request(&conn, req, attempt_deadline, &reply, NULL, NULL,
						   &err)
				: bw_error_set(&err, -ENOMEM, "out of memory");
			json_decref(req);
		}
		if (r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM) {
			code = unreachable(a, r, &err);
			break;
		}
		if (r < 0) {
			/* The daemon may be starting or restarting: try again until the deadline. */
			last_conn_error = r;
			ctl_conn_close(&conn);
		} else {
			last_conn_error = 0;
			if (!ctl_reply_ok(reply)) {
				const char *ecode, *message;

				ctl_reply_error(reply, &ecode, &message);
				if (strcmp(ecode, "not_ready")) {
					code = error_reply(reply);
					json_decref(reply);
					break;
				}
			} else {
				const json_t *metrics = metrics_of(reply), *v;

				if (!metrics) {
					json_decref(reply);
					code = EXIT_UNREACHABLE;
					break;
				}
				v = json_object_get(metrics, key);
				if (v) {
					code = print_value(a, v) < 0 ? EXIT_NO : EXIT_OK;
					json_decref(reply);
					code = finish_output(code);
					break;
				}
			}
			json_decref(reply);
		}
		if (ctl_now_ms() >= deadline) {
			if (last_conn_error) {
				code = unreachable(a, last_conn_error, &err);
			} else {
				char *k = ctl_printable(key);

				fprintf(stderr, "bpfwatchctl: %s: still absent after %g s\n",
					k ? k : "key", a->timeout);
				free(k);
				code = EXIT_NO;
			}
			break;
		}
		sleep_ms((next < deadline ? next : deadline) - ctl_now_ms());
	}
	ctl_conn_close(&conn);
	return code;
}

static const char *verdict_name(enum ctl_verdict v)
{
	switch (v) {
	case CTL_VERDICT_HOLDS: return "holds";
	case CTL_VERDICT_FAILS: return "fails";
	case CTL_VERDICT_ABSENT: return "absent";
	case CTL_VERDICT_NOT_NUMBER: return "not_number";
	}
	return "?";
}

static int run_assert(struct args *a)
{
	int nexpr = a->npos - 1, i, code;
	struct ctl_expr *exprs;
	struct bw_error err = { 0 };
	const json_t *metrics;
	json_t *reply, *results = NULL;
	bool all = true;

	exprs = calloc((size_t)nexpr, sizeof(*exprs));
	if (!exprs) {
		fputs("bpfwatchctl: out of memory\n", stderr);
		return EXIT_NO;
	}
	for (i = 0; i < nexpr; i++) {
		if (ctl_expr_parse(a->pos[i + 1], &exprs[i], &err) < 0) {
			code = usage_error("assert: %s", err.msg);
			goto out;
		}
	}
	code = request(a, cmd_request("metrics"), &reply, false);
	if (code >= 0)
		goto out;
	if (!ctl_reply_ok(reply)) {
		code = error_reply(reply);
		json_decref(reply);
		goto out;
	}
	metrics = metrics_of(reply);
	if (!metrics) {
		json_decref(reply);
		code = EXIT_UNREACHABLE;
		goto out;
	}
	if (a->json)
		results = json_array();
	for (i = 0; i < nexpr; i++) {
		const struct ctl_expr *e = &exprs[i];
		const json_t *v = json_object_get(metrics, e->key);
		enum ctl_verdict verdict = ctl_expr_eval(e, metrics, NULL);
		char *vt = v ? ctl_json_text(v) : NULL;

		if (verdict != CTL_VERDICT_HOLDS)
			all = false;
		if (results) {
			/* An absent key has "value":null. */
			json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o}", "key", e->key, "op",
					      ctl_op_name(e->op), "number", e->number_text,
					      "verdict", verdict_name(verdict), "value",
					      v ? json_incref((json_t *)v) : json_null());

			if (!o || json_array_append_new(results, o) < 0)
				all = false;
		} else {
			const char *tag = verdict == CTL_VERDICT_HOLDS ? "ok  " : "FAIL";

			switch (verdict) {
			case CTL_VERDICT_ABSENT:
				printf("%s  %s %s %s  (absent)\n", tag, e->key, ctl_op_name(e->op),
				       e->number_text);
				break;
			case CTL_VERDICT_NOT_NUMBER:
				printf("%s  %s %s %s  (not a number: %s)\n", tag, e->key,
				       ctl_op_name(e->op), e->number_text, vt ? vt : "?");
				break;
			default:
				printf("%s  %s %s %s  (value %s)\n", tag, e->key, ctl_op_name(e->op),
				       e->number_text, vt ? vt : "?");
			}
		}
		free(vt);
	}
	if (results) {
		json_t *doc = json_pack("{s:b,s:o}", "ok", all, "results", results);
		char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

		if (text)
			puts(text);
		else
			all = false;
		free(text);
		json_decref(doc);
	}
	json_decref(reply);
	code = finish_output(all ? EXIT_OK : EXIT_NO);
out:
	for (i = 0; i < nexpr; i++)
		ctl_expr_free(&exprs[i]);
	free(exprs);
	return code;
}

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	window_resized = 1;
}

/* No SA_RESTART: a blocked poll() returns EINTR and the loop sees the flag. */
static void catch_signals(bool winch)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (winch) {
		sa.sa_handler = on_winch;
		sigaction(SIGWINCH, &sa, NULL);
	}
}

static int run_subscribe(struct args *a)
{
	struct bw_error err = { 0 };
	struct ctl_conn conn;
	const char *raw;
	size_t raw_len;
	unsigned long seen = 0;
	json_t *req, *reply = NULL;
	bool first = true;
	int r, code = EXIT_OK;

	catch_signals(false);
	ctl_conn_init(&conn);
	conn.stop = &stop_requested;
	req = cmd_request("subscribe");
	if (!req) {
		fputs("bpfwatchctl: out of memory\n", stderr);
		return EXIT_NO;
	}
	r = ctl_conn_open(&conn, socket_path(a), ctl_deadline_ms(a->timeout), &err);
	if (r == 0)
		r = ctl_conn_request(&conn, req, ctl_deadline_ms(a->timeout), &reply, &raw, &raw_len,
				     &err);
	json_decref(req);
	for (;;) {
		if (r == -EINTR || (r == 0 && stop_requested)) {
			json_decref(reply);
			code = EXIT_OK;
			break;
		}
		if (r < 0) {
			code = unreachable(a, r, &err);
			break;
		}
		if (!ctl_reply_ok(reply)) {
			if (a->json) {
				fwrite(raw, 1, raw_len, stdout);
				fputc('\n', stdout);
			}
			code = error_reply(reply);
			json_decref(reply);
			break;
		}
		/* The acknowledgement {"ok":true,"subscribed":true} is not a sample. */
		if (!(first && json_object_get(reply, "subscribed"))) {
			if (a->json) {
				fwrite(raw, 1, raw_len, stdout);
				fputc('\n', stdout);
			} else if (ctl_render_sample_line(stdout, reply) < 0) {
				fputs("bpfwatchctl: out of memory\n", stderr);
				json_decref(reply);
				code = EXIT_NO;
				break;
			}
			if (fflush(stdout) != 0) {
				json_decref(reply);
				code = finish_output(EXIT_OK);
				break;
			}
			seen++;
		}
		first = false;
		json_decref(reply);
		reply = NULL;
		if (a->count && seen >= a->count) {
			code = EXIT_OK;
			break;
		}
		/* Ticks come at the daemon's pace, which may be slow: no deadline. */
		r = ctl_conn_read_reply(&conn, CTL_NO_DEADLINE, &reply, &raw, &raw_len, &err);
	}
	ctl_conn_close(&conn);
	return finish_output(code);
}

static int run_top(struct args *a)
{
	struct ctl_top_options o = {
		.socket = socket_path(a), .interval = a->interval, .timeout = a->timeout,
		.stop = &stop_requested, .resized = &window_resized,
	};
	struct bw_error err = { 0 };
	int r;

	if (!isatty(STDOUT_FILENO)) {
		r = ctl_top_once(&o, &err);
		if (r < 0)
			return unreachable(a, r, &err);
		return finish_output(EXIT_OK);
	}
	catch_signals(true);
	r = ctl_top_run(&o, &err);
	if (r < 0) {
		fprintf(stderr, "bpfwatchctl: top: %s\n", err.msg);
		return EXIT_NO;
	}
	return EXIT_OK;
}

/* exit: the kernel's exit record of the last scheduler; status as ctl_exit_status(). */
static int run_exit(struct args *a)
{
	json_t *reply;
	int code = request(a, cmd_request("exit"), &reply, a->json);

	if (code >= 0)
		return code;
	if (!ctl_reply_ok(reply)) {
		code = error_reply(reply);
		json_decref(reply);
		return finish_output(code);
	}
	code = ctl_exit_status(reply);
	if (!a->json && ctl_render_exit(stdout, reply) < 0) {
		json_decref(reply);
		fputs("bpfwatchctl: out of memory\n", stderr);
		return EXIT_NO;
	}
	json_decref(reply);
	return finish_output(code);
}

/* How often dmesg --follow asks for new lines. */
#define DMESG_FOLLOW_MS 500

/* dmesg [--follow]: the guest kernel's log, as dmesg prints it ([seconds] text). */
static int run_dmesg(struct args *a)
{
	json_int_t next = 0;
	int code;

	if (a->follow)
		catch_signals(false);
	for (;;) {
		json_t *req = json_pack("{s:s, s:I}", "cmd", "dmesg", "from_seq", next), *reply;
		const json_t *recs, *rec;
		size_t i;

		code = request(a, req, &reply, a->json);
		if (code >= 0)
			return stop_requested ? EXIT_OK : code;
		if (!ctl_reply_ok(reply)) {
			code = error_reply(reply);
			json_decref(reply);
			return finish_output(code);
		}
		recs = json_object_get(reply, "records");
		json_array_foreach(recs, i, rec) {
			json_int_t ts = json_integer_value(json_object_get(rec, "ts_nsec"));
			const char *text = json_string_value(json_object_get(rec, "text"));

			/* As the kernel prints a record of several lines: each with its stamp. */
			for (const char *p = text ? text : ""; !a->json;) {
				const char *nl = strchr(p, '\n');
				char *line = strndup(p, nl ? (size_t)(nl - p) : strlen(p));
				char *t = line ? ctl_printable(line) : NULL;

				free(line);
				if (!t) {
					json_decref(reply);
					fputs("bpfwatchctl: out of memory\n", stderr);
					return EXIT_NO;
				}
				printf("[%5lld.%06lld] %s\n", (long long)(ts / 1000000000),
				       (long long)(ts % 1000000000 / 1000), t);
				free(t);
				if (!nl)
					break;
				p = nl + 1;
			}
		}
		if (json_is_integer(json_object_get(reply, "next_seq")))
			next = json_integer_value(json_object_get(reply, "next_seq"));
		code = json_is_true(json_object_get(reply, "more"));
		json_decref(reply);
		if (fflush(stdout) != 0)
			return finish_output(EXIT_NO);
		if (code)
			continue;	/* more right away */
		if (!a->follow || stop_requested)
			break;
		for (int64_t until = ctl_now_ms() + DMESG_FOLLOW_MS; ctl_now_ms() < until;) {
			if (stop_requested)
				return finish_output(EXIT_OK);
			usleep(20000);
		}
	}
	return finish_output(EXIT_OK);
}

static const struct command commands[] = {
	{ "status", 0, 0, run_simple },
	{ "metrics", 0, 0, run_simple },
	{ "sample", 0, 0, run_simple },
	{ "maps", 0, 0, run_simple },
	{ "watches", 0, 0, run_simple },
	{ "reset", 0, 0, run_simple },
	{ "reload", 0, 0, run_simple },
	{ "subscribe", 0, 0, run_subscribe },
	{ "get", 1, 1, run_get },
	{ "wait", 1, 1, run_wait },
	{ "assert", 1, -1, run_assert },
	{ "exit", 0, 0, run_exit },
	{ "dmesg", 0, 0, run_dmesg },
	{ "top", 0, 0, run_top },
};

/* A positive number of seconds up to @max ("0.5", "30"). */
static int parse_seconds(const char *opt, const char *text, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(v) || v <= 0 || v > max)
		return usage_error("%s: \"%s\" is not a number of seconds above 0 and up to %g",
				   opt, text, max);
	*out = v;
	return 0;
}

/*
 * An option's value: "--opt=V", "-oV", or the next argument.  NULL after
 * printing the usage error.
 */
static const char *option_value(int argc, char **argv, int *i, const char *arg, size_t namelen)
{
	if (arg[namelen] == '=' && arg[1] == '-')
		return arg + namelen + 1;
	if (arg[1] != '-' && arg[2])
		return arg + 2;
	if (*i + 1 >= argc) {
		usage_error("%.*s needs a value", (int)namelen, arg);
		return NULL;
	}
	return argv[++*i];
}

/* Whether @arg is option @lng ("--name") or its short form @shrt ("-x", may be NULL). */
static bool is_opt(const char *arg, const char *lng, const char *shrt, bool takes_value)
{
	size_t l = strlen(lng);

	if (!strncmp(arg, lng, l) && (arg[l] == '\0' || (takes_value && arg[l] == '=')))
		return true;
	if (shrt && !strncmp(arg, shrt, 2) && (arg[2] == '\0' || takes_value))
		return true;
	return false;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	bool options_done = false;
	int i;

	a->timeout = DEFAULT_TIMEOUT;
	a->interval = DEFAULT_TOP_INTERVAL;
	a->pos = calloc((size_t)argc + 1, sizeof(*a->pos));
	if (!a->pos) {
		fputs("bpfwatchctl: out of memory\n", stderr);
		return EXIT_NO;
	}
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *v;

		if (options_done || arg[0] != '-' || !arg[1]) {
			a->pos[a->npos++] = argv[i];
			continue;
		}
		if (!strcmp(arg, "--")) {
			options_done = true;
		} else if (is_opt(arg, "--help", "-h", false)) {
			a->help = true;
		} else if (is_opt(arg, "--version", NULL, false)) {
			a->version = true;
		} else if (is_opt(arg, "--json", "-j", false)) {
			a->json = true;
		} else if (is_opt(arg, "--openmetrics", NULL, false)) {
			a->openmetrics = true;
		} else if (is_opt(arg, "--follow", "-f", false)) {
			a->follow = true;
		} else if (is_opt(arg, "--socket", "-s", true)) {
			v = option_value(argc, argv, &i, arg, arg[1] == '-' ? 8 : 2);
			if (!v)
				return EXIT_USAGE;
			if (!*v)
				return usage_error("--socket: empty path");
			a->socket = v;
		} else if (is_opt(arg, "--instance", "-i", true)) {
			v = option_value(argc, argv, &i, arg, arg[1] == '-' ? 10 : 2);
			if (!v)
				return EXIT_USAGE;
			a->instance = v;
		} else if (is_opt(arg, "--timeout", "-t", true)) {
			v = option_value(argc, argv, &i, arg, arg[1] == '-' ? 9 : 2);
			if (!v || parse_seconds("--timeout", v, MAX_TIMEOUT, &a->timeout))
				return EXIT_USAGE;
		} else if (is_opt(arg, "--interval", NULL, true)) {
			v = option_value(argc, argv, &i, arg, 10);
			if (!v || parse_seconds("--interval", v, MAX_TOP_INTERVAL, &a->interval))
				return EXIT_USAGE;
			if (a->interval < CTL_TOP_MIN_INTERVAL)
				return usage_error("--interval: at least %g s", CTL_TOP_MIN_INTERVAL);
			a->interval_set = true;
		} else if (is_opt(arg, "--count", "-n", true)) {
			char *end;

			v = option_value(argc, argv, &i, arg, arg[1] == '-' ? 7 : 2);
			if (!v)
				return EXIT_USAGE;
			errno = 0;
			a->count = strtoul(v, &end, 10);
			if (errno || end == v || *end || v[0] == '-' || !a->count)
				return usage_error("--count: \"%s\" is not a positive whole number", v);
			a->count_set = true;
		} else {
			return usage_error("unknown option %s", arg);
		}
	}
	return 0;
}

static int pick_socket(struct args *a)
{
	const char *inst = a->instance;
	size_t i;

	if (a->socket && a->instance)
		return usage_error("-s and -i both choose the daemon: give one");
	if (a->socket)
		return 0;
	if (!inst)
		inst = DEFAULT_INSTANCE;
	if (!*inst || !strcmp(inst, ".") || !strcmp(inst, ".."))
		return usage_error("--instance: \"%s\" is not an instance name", inst);
	for (i = 0; inst[i]; i++)
		if (inst[i] == '/' || (unsigned char)inst[i] < 0x21 || (unsigned char)inst[i] > 0x7e)
			return usage_error("--instance: an instance name is printable ASCII without '/' or spaces");
	if ((size_t)snprintf(a->socket_buf, sizeof(a->socket_buf), SOCKET_DIR "/%s.sock", inst) >=
	    sizeof(a->socket_buf))
		return usage_error("--instance: name too long");
	a->socket = a->socket_buf;
	return 0;
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	const struct command *cmd = NULL;
	unsigned int i;
	int code, nargs;

	code = parse_args(argc, argv, &a);
	if (code)
		goto out;
	if (a.help) {
		usage(stdout);
		code = finish_output(EXIT_OK);
		goto out;
	}
	if (a.version) {
		printf("bpfwatchctl %s\n", BW_VERSION);
		code = finish_output(EXIT_OK);
		goto out;
	}
	if (!a.npos) {
		usage(stderr);
		code = EXIT_USAGE;
		goto out;
	}
	if (!strcmp(a.pos[0], "help")) {
		usage(stdout);
		code = finish_output(EXIT_OK);
		goto out;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, a.pos[0]))
			cmd = &commands[i];
	if (!cmd) {
		char *p = ctl_printable(a.pos[0]);

		code = usage_error("unknown command \"%s\"", p ? p : "?");
		free(p);
		goto out;
	}
	nargs = a.npos - 1;
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		if (!strcmp(cmd->name, "assert"))
			code = usage_error("assert needs at least one 'KEY OP NUMBER'");
		else if (cmd->min_args)
			code = usage_error("%s takes exactly one KEY", cmd->name);
		else
			code = usage_error("%s takes no arguments", cmd->name);
		goto out;
	}
	if (a.openmetrics && strcmp(cmd->name, "metrics")) {
		code = usage_error("--openmetrics goes with metrics only");
		goto out;
	}
	if (a.count_set && strcmp(cmd->name, "subscribe")) {
		code = usage_error("--count goes with subscribe only");
		goto out;
	}
	if (a.follow && strcmp(cmd->name, "dmesg")) {
		code = usage_error("--follow goes with dmesg only");
		goto out;
	}
	if (a.interval_set && strcmp(cmd->name, "top")) {
		code = usage_error("--interval goes with top only");
		goto out;
	}
	code = pick_socket(&a);
	if (code)
		goto out;
	code = cmd->run(&a);
out:
	free(a.pos);
	return code;
}
