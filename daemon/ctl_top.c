/* SPDX-License-Identifier: MIT */
/*
 * The live view of `bpfwatchctl top` (see ctl_top.h).
 *
 * Frames are composed as plain lines first and only then truncated to the
 * terminal's width (counted in characters, not bytes, so a UTF-8 name is
 * never cut in half) and decorated, which keeps an escape sequence from
 * ever being cut.  The frame is written in one go after "cursor home", each
 * line ending with "erase to end of line", so the screen does not flicker
 * the way a full clear would.
 */
#include "ctl_top.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl_conn.h"
#include "ctl_expr.h"
#include "ctl_render.h"

/* Characters of one per-CPU bar between its brackets. */
#define BAR_WIDTH 20
/* Watches listed under the state line with their reason when not resolved. */
#define TOP_UNRESOLVED_SHOWN 5
/* Terminal size assumed when the terminal does not say. */
#define DEFAULT_COLS 80
#define DEFAULT_ROWS 24

#define ANSI_HOME "\033[H"
#define ANSI_EOL "\033[K"
#define ANSI_EOS "\033[J"
#define ANSI_BOLD "\033[1m"
#define ANSI_RESET "\033[0m"
#define ANSI_ALT_ON "\033[?1049h"
#define ANSI_ALT_OFF "\033[?1049l"
#define ANSI_CURSOR_OFF "\033[?25l"
#define ANSI_CURSOR_ON "\033[?25h"

struct line {
	char *text;
	bool bold;
};

struct lines {
	struct line *v;
	size_t n, cap;
	int err;
};

__attribute__((format(printf, 3, 4)))
static void add(struct lines *l, bool bold, const char *fmt, ...)
{
	va_list ap;
	char *text;

	if (l->err)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct line *nv = realloc(l->v, cap * sizeof(*nv));

		if (!nv) {
			l->err = -ENOMEM;
			return;
		}
		l->v = nv;
		l->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0) {
		l->err = -ENOMEM;
		text = NULL;
	}
	va_end(ap);
	if (!text)
		return;
	l->v[l->n].text = text;
	l->v[l->n].bold = bold;
	l->n++;
}

/*
 * @n cells in lines of @cols, cell i written by @cell (c: its column).
 * Column-major, like ls, puts a cell's neighbours in order above and below
 * it; row-major beside it.
 */
static void add_grid(struct lines *l, size_t n, size_t cols, bool column_major,
		     void (*cell)(FILE *s, size_t i, size_t c, const void *ctx), const void *ctx)
{
	size_t rows = (n + cols - 1) / cols;

	for (size_t r = 0; r < rows; r++) {
		char *text = NULL;
		size_t len = 0;
		FILE *s = open_memstream(&text, &len);

		if (!s) {
			l->err = -ENOMEM;
			return;
		}
		for (size_t c = 0; c < cols; c++) {
			size_t i = column_major ? c * rows + r : r * cols + c;

			if (i >= n)
				break;
			cell(s, i, c, ctx);
		}
		if (fclose(s) != 0) {
			free(text);
			l->err = -ENOMEM;
			return;
		}
		add(l, false, "%s", text);
		free(text);
	}
}

static void lines_free(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].text);
	free(l->v);
}

/* Text of member @name of @o, printable; "-" when absent.  Caller frees. */
static char *member_text(const json_t *o, const char *name)
{
	char *t = ctl_json_text(json_object_get(o, name));

	return t ? t : strdup("?");
}

/* "code: message" of an error reply, printable.  Caller frees. */
static char *reply_error_text(const json_t *reply)
{
	const char *code, *message;
	char *c, *m, *out = NULL;

	ctl_reply_error(reply, &code, &message);
	c = ctl_printable(code);
	m = ctl_printable(message);
	if (c && m && asprintf(&out, "%s: %s", c, m) < 0)
		out = NULL;
	free(c);
	free(m);
	return out;
}

static void frame_header(struct lines *l, const struct ctl_top_view *v)
{
	char clock[16] = "";
	time_t now = time(NULL);
	struct tm tm;
	char *sock = ctl_printable(v->socket ? v->socket : "?");
	char *state = NULL;

	if (localtime_r(&now, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (v->status && ctl_reply_ok(v->status))
		state = member_text(v->status, "state");
	add(l, true, "bpfwatch top  %s  %s  %s  (q quits)", sock ? sock : "?",
	    state ? state : v->error ? "unreachable" : "-", clock);
	free(sock);
	free(state);
}

/* The kernel's side (status "sched_ext"): state, bypass, stalled tasks; events and the exit
 * record are among the metrics. */
static void frame_sched_ext(struct lines *l, const json_t *h)
{
	const json_t *stalls = json_object_get(h, "stalls");
	char *a, *b, *c, *d;
	size_t i;
	json_t *t;

	if (!json_is_object(h))
		return;
	a = member_text(h, "state");
	b = member_text(h, "ops");
	c = member_text(h, "bypass_depth");
	d = ctl_json_text(json_object_get(h, "wedged_cpus"));
	add(l, false, "sched_ext %s, ops %s, bypass depth %s, %zu stalled, wedged CPUs %s", a, b, c,
	    json_array_size(stalls), d ? d : "?");
	free(a);
	free(b);
	free(c);
	free(d);
	json_array_foreach(stalls, i, t) {
		if (i == TOP_UNRESOLVED_SHOWN) {
			add(l, true, "  ...");
			break;
		}
		a = member_text(t, "cpu");
		b = member_text(t, "pid");
		c = member_text(t, "comm");
		d = member_text(t, "waiting_ms");
		add(l, true, "  STALL CPU %s: pid %s (%s) runnable for %s ms", a, b, c, d);
		free(a);
		free(b);
		free(c);
		free(d);
	}
}

static void frame_status(struct lines *l, const json_t *st)
{
	const json_t *kernel = json_object_get(st, "kernel");
	const json_t *sched = json_object_get(st, "scheduler");
	const json_t *tick_ns = json_object_get(st, "tick_ns");
	const json_t *watches = json_object_get(st, "watches");
	const json_t *reason = json_object_get(st, "reason");
	unsigned int resolved = 0, pending = 0, errors = 0, shown = 0;
	double interval = 0, mean = 0;
	char *a, *b, *c;
	size_t i;
	json_t *w;

	if (reason && !json_is_null(reason)) {
		a = ctl_json_text(reason);
		add(l, false, "reason: %s", a ? a : "?");
		free(a);
	}
	if (json_is_object(kernel)) {
		a = member_text(kernel, "release");
		b = member_text(kernel, "nr_cpus");
		add(l, false, "kernel %s, %s CPUs", a, b);
		free(a);
		free(b);
	} else {
		add(l, false, "kernel not located yet");
	}
	if (json_is_object(sched)) {
		a = member_text(sched, "ops_name");
		b = member_text(sched, "object");
		add(l, false, "scheduler %s (object %s)", a, b);
		free(a);
		free(b);
	} else {
		add(l, false, "no active scheduler");
	}
	frame_sched_ext(l, json_object_get(st, "sched_ext"));
	a = member_text(st, "ticks");
	ctl_json_double(json_object_get(st, "interval_ms"), &interval);
	if (json_is_object(tick_ns) && ctl_json_double(json_object_get(tick_ns, "mean"), &mean) &&
	    interval > 0)
		add(l, false, "ticks %s every %g ms, mean cost %.1f us (%.2f%%)", a, interval,
		    mean / 1000.0, mean / (interval * 1e6) * 100.0);
	else
		add(l, false, "ticks %s", a);
	free(a);
	json_array_foreach(watches, i, w) {
		const char *s = json_string_value(json_object_get(w, "state"));

		if (s && !strcmp(s, "resolved"))
			resolved++;
		else if (s && !strcmp(s, "pending"))
			pending++;
		else
			errors++;
	}
	add(l, false, "watches: %u resolved, %u pending, %u error", resolved, pending, errors);
	json_array_foreach(watches, i, w) {
		const char *s = json_string_value(json_object_get(w, "state"));

		if (s && !strcmp(s, "resolved"))
			continue;
		if (shown++ == TOP_UNRESOLVED_SHOWN) {
			add(l, false, "  ...");
			break;
		}
		a = member_text(w, "label");
		b = member_text(w, "state");
		c = member_text(w, "reason");
		add(l, false, "  %s: %s: %s", a, b, c);
		free(a);
		free(b);
		free(c);
	}
}

struct metric_cells {
	const char **keys;
	char **vals;
	size_t kw, vw;
};

static void metric_cell(FILE *s, size_t i, size_t c, const void *ctx)
{
	const struct metric_cells *m = ctx;
	char *k = ctl_printable(m->keys[i]);

	fprintf(s, "%s  %-*s  %*s", c ? "  " : "", (int)m->kw, k ? k : "?", (int)m->vw,
		m->vals[i] ? m->vals[i] : "?");
	free(k);
}

/* Metrics in as many KEY VALUE columns as fit @width (0: one column). */
static void frame_metrics(struct lines *l, const json_t *reply, unsigned int width)
{
	const json_t *metrics = json_object_get(reply, "metrics");
	const json_t *window = json_object_get(reply, "window");
	size_t n, i, kw = 0, vw = 0, cols, colw;
	const char **keys;
	char **vals;
	double d;

	if (json_is_object(window) && ctl_json_double(json_object_get(window, "duration_ns"), &d)) {
		char *s = member_text(window, "samples");

		add(l, true, "METRICS  (window %.1f s, %s samples)", d / 1e9, s);
		free(s);
	} else {
		add(l, true, "METRICS");
	}
	if (ctl_keys_sorted(metrics, &keys, &n) < 0) {
		l->err = -ENOMEM;
		return;
	}
	if (!n) {
		add(l, false, "  no metrics yet");
		return;
	}
	vals = calloc(n, sizeof(*vals));
	if (!vals) {
		free(keys);
		l->err = -ENOMEM;
		return;
	}
	for (i = 0; i < n; i++) {
		vals[i] = ctl_json_text(json_object_get(metrics, keys[i]));
		if (strlen(keys[i]) > kw)
			kw = strlen(keys[i]);
		if (vals[i] && strlen(vals[i]) > vw)
			vw = strlen(vals[i]);
	}
	colw = 2 + kw + 2 + vw;
	cols = width && colw < width ? width / (colw + 2) : 1;
	if (!cols)
		cols = 1;
	add_grid(l, n, cols, true, metric_cell,
		 &(struct metric_cells){ .keys = keys, .vals = vals, .kw = kw, .vw = vw });
	for (i = 0; i < n; i++)
		free(vals[i]);
	free(vals);
	free(keys);
}

static void bar(char *out, double v, double max)
{
	int fill = 0, i;

	if (max > 0 && v > 0 && isfinite(v))
		fill = (int)lround(v / max * BAR_WIDTH);
	if (fill > BAR_WIDTH)
		fill = BAR_WIDTH;
	for (i = 0; i < BAR_WIDTH; i++)
		out[i] = i < fill ? '#' : ' ';
	out[BAR_WIDTH] = '\0';
}

struct cpu_cells {
	const char **ck;
	json_t **cv;
	char **texts;
	size_t kw, vw;
	double max;
};

static void cpu_cell(FILE *s, size_t j, size_t c, const void *ctx)
{
	const struct cpu_cells *p = ctx;
	char b[BAR_WIDTH + 1], *k;
	double d;

	if (!ctl_json_double(p->cv[j], &d))
		d = 0;
	bar(b, d, p->max);
	k = ctl_printable(p->ck[j]);
	fprintf(s, "%s  cpu%-*.*s [%s] %*s", c ? "  " : "", (int)p->kw, (int)p->kw,
		k ? k : "?", b, (int)p->vw, p->texts[j] ? p->texts[j] : "?");
	free(k);
}

static void frame_percpu(struct lines *l, const json_t *reply, unsigned int width)
{
	const json_t *values = json_object_get(reply, "values");
	const char **labels;
	size_t n, i, any = 0;

	if (ctl_keys_sorted(values, &labels, &n) < 0) {
		l->err = -ENOMEM;
		return;
	}
	for (i = 0; i < n; i++) {
		const json_t *cpus = json_object_get(json_object_get(values, labels[i]), "cpus");
		const char **ck;
		json_t **cv;
		size_t cn, j, cols, kw = 1, vw = 1;
		double max = 0, d;
		char **texts;
		char *label;

		if (!json_is_object(cpus))
			continue;
		if (!any++) {
			char *tick = member_text(reply, "tick");

			add(l, false, "%s", "");
			add(l, true, "PER-CPU  (tick %s)", tick);
			free(tick);
		}
		if (ctl_cpus_sorted(cpus, &ck, &cv, &cn) < 0) {
			l->err = -ENOMEM;
			break;
		}
		texts = calloc(cn ? cn : 1, sizeof(*texts));
		if (!texts) {
			free(ck);
			free(cv);
			l->err = -ENOMEM;
			break;
		}
		for (j = 0; j < cn; j++) {
			if (ctl_json_double(cv[j], &d) && fabs(d) > max)
				max = fabs(d);
			texts[j] = ctl_json_text(cv[j]);
			if (texts[j] && strlen(texts[j]) > vw)
				vw = strlen(texts[j]);
			if (strlen(ck[j]) > kw)
				kw = strlen(ck[j]);
		}
		if (kw > 8)
			kw = 8;
		label = ctl_printable(labels[i]);
		add(l, false, "%s", label ? label : "?");
		free(label);
		{
			size_t cellw = 2 + 3 + kw + 2 + BAR_WIDTH + 2 + vw;

			cols = width && cellw + 2 < width ? width / (cellw + 2) : 1;
			if (!width)
				cols = 4;
			if (!cols)
				cols = 1;
		}
		add_grid(l, cn, cols, false, cpu_cell, &(struct cpu_cells){
			.ck = ck, .cv = cv, .texts = texts, .kw = kw, .vw = vw, .max = max });
		for (j = 0; j < cn; j++)
			free(texts[j]);
		free(texts);
		free(ck);
		free(cv);
	}
	free(labels);
}

/* Bytes of @s that hold at most @cols characters (UTF-8 continuation bytes are free). */
static size_t fit(const char *s, unsigned int cols)
{
	size_t i, chars = 0;

	for (i = 0; s[i]; i++) {
		if (((unsigned char)s[i] & 0xc0) == 0x80)
			continue;
		if (chars == cols)
			return i;
		chars++;
	}
	return i;
}

int ctl_top_frame(FILE *out, const struct ctl_top_view *v, unsigned int width,
		  unsigned int height, bool ansi)
{
	struct lines l = { 0 };
	size_t i, shown;
	char *e;
	int r;

	frame_header(&l, v);
	if (v->error) {
		e = ctl_printable(v->error);
		add(&l, false, "daemon unreachable: %s (retrying)", e ? e : "?");
		free(e);
	}
	if (v->status) {
		if (ctl_reply_ok(v->status)) {
			frame_status(&l, v->status);
		} else {
			e = reply_error_text(v->status);
			add(&l, false, "status: %s", e ? e : "?");
			free(e);
		}
	}
	if (v->metrics) {
		add(&l, false, "%s", "");
		if (ctl_reply_ok(v->metrics)) {
			frame_metrics(&l, v->metrics, width);
		} else {
			e = reply_error_text(v->metrics);
			add(&l, false, "metrics: %s", e ? e : "?");
			free(e);
		}
	}
	if (v->sample) {
		if (ctl_reply_ok(v->sample)) {
			frame_percpu(&l, v->sample, width);
		} else {
			e = reply_error_text(v->sample);
			add(&l, false, "%s", "");
			add(&l, false, "sample: %s", e ? e : "?");
			free(e);
		}
	}

	if (ansi)
		fputs(ANSI_HOME, out);
	/* The last row stays empty so that the final newline never scrolls the screen. */
	shown = height && l.n > height - 1 ? height - 1 : l.n;
	for (i = 0; i < shown; i++) {
		const char *t = l.v[i].text;
		size_t len = width ? fit(t, width) : strlen(t);
		bool more = height && i + 1 == shown && shown < l.n;

		if (more) {
			t = "...";
			len = width && width < 3 ? width : 3;
		}
		if (ansi && l.v[i].bold)
			fputs(ANSI_BOLD, out);
		fwrite(t, 1, len, out);
		if (ansi && l.v[i].bold)
			fputs(ANSI_RESET, out);
		if (ansi)
			fputs(ANSI_EOL, out);
		fputc('\n', out);
	}
	if (ansi)
		fputs(ANSI_EOS, out);
	r = l.err;
	lines_free(&l);
	return r;
}

struct top_state {
	struct ctl_conn conn;
	json_t *status, *metrics, *sample;
	struct bw_error err;
	bool unreachable;
};

static void drop_replies(struct top_state *s)
{
	json_decref(s->status);
	json_decref(s->metrics);
	json_decref(s->sample);
	s->status = s->metrics = s->sample = NULL;
}

/* One round of status, metrics, sample.  0, or the connection error (in s->err). */
static int fetch(struct top_state *s, const struct ctl_top_options *o)
{
	static const char *const cmds[] = { "status", "metrics", "sample" };
	json_t **slots[] = { &s->status, &s->metrics, &s->sample };
	int64_t deadline = ctl_deadline_ms(o->timeout);
	unsigned int i;
	int r = 0;

	drop_replies(s);
	bw_error_clear(&s->err);
	if (s->conn.fd < 0) {
		r = ctl_conn_open(&s->conn, o->socket, deadline, &s->err);
		if (r < 0)
			goto fail;
	}
	for (i = 0; i < 3; i++) {
		json_t *req = json_pack("{s:s}", "cmd", cmds[i]);

		if (!req) {
			r = bw_error_set(&s->err, -ENOMEM, "out of memory");
			goto fail;
		}
		r = ctl_conn_request(&s->conn, req, deadline, slots[i], NULL, NULL, &s->err);
		json_decref(req);
		if (r < 0)
			goto fail;
	}
	s->unreachable = false;
	return 0;
fail:
	drop_replies(s);
	ctl_conn_close(&s->conn);
	s->unreachable = true;
	return r;
}

static void term_size(unsigned int *cols, unsigned int *rows)
{
	struct winsize ws;

	*cols = DEFAULT_COLS;
	*rows = DEFAULT_ROWS;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

static struct ctl_top_view view_of(const struct top_state *s, const struct ctl_top_options *o)
{
	struct ctl_top_view v = {
		.socket = o->socket, .status = s->status, .metrics = s->metrics,
		.sample = s->sample, .error = s->unreachable ? s->err.msg : NULL,
	};

	return v;
}

int ctl_top_once(const struct ctl_top_options *o, struct bw_error *err)
{
	struct top_state s = { 0 };
	struct ctl_top_view v;
	int r;

	ctl_conn_init(&s.conn);
	s.conn.stop = o->stop;
	r = fetch(&s, o);
	if (r < 0) {
		bw_error_set(err, r, "%s", s.err.msg);
		return r;
	}
	v = view_of(&s, o);
	r = ctl_top_frame(stdout, &v, 0, 0, false);
	fflush(stdout);
	drop_replies(&s);
	ctl_conn_close(&s.conn);
	if (r < 0)
		return bw_error_set(err, r, "drawing the frame: out of memory");
	return 0;
}

static void draw(const struct top_state *s, const struct ctl_top_options *o)
{
	struct ctl_top_view v = view_of(s, o);
	unsigned int cols, rows;

	term_size(&cols, &rows);
	ctl_top_frame(stdout, &v, cols, rows, true);
	fflush(stdout);
}

int ctl_top_run(const struct ctl_top_options *o, struct bw_error *err)
{
	struct top_state s = { 0 };
	struct termios saved, raw;
	bool keys = isatty(STDIN_FILENO), raw_set = false, quit = false;
	double interval = o->interval < CTL_TOP_MIN_INTERVAL ? CTL_TOP_MIN_INTERVAL : o->interval;
	int64_t next = 0;

	if (keys) {
		if (tcgetattr(STDIN_FILENO, &saved) < 0)
			return bw_error_set(err, -errno, "reading the terminal settings: %s",
					    strerror(errno));
		raw = saved;
		/* Keys arrive one by one without echo; ISIG stays on so ^C is still SIGINT. */
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0)
			return bw_error_set(err, -errno, "setting the terminal up: %s",
					    strerror(errno));
		raw_set = true;
	}
	fputs(ANSI_ALT_ON ANSI_CURSOR_OFF, stdout);
	ctl_conn_init(&s.conn);
	s.conn.stop = o->stop;

	while (!quit && !(o->stop && *o->stop)) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int64_t now = ctl_now_ms(), left;
		int n;

		if (now >= next) {
			fetch(&s, o);
			if (o->stop && *o->stop)
				break;
			draw(&s, o);
			next = ctl_deadline_ms(interval);
			continue;
		}
		if (o->resized && *o->resized) {
			*o->resized = 0;
			draw(&s, o);
		}
		left = next - now;
		n = poll(&p, keys ? 1 : 0, left > 60000 ? 60000 : (int)left);
		if (n > 0 && (p.revents & POLLIN)) {
			char buf[64];
			ssize_t got = read(STDIN_FILENO, buf, sizeof(buf)), i;

			for (i = 0; i < got; i++) {
				if (buf[i] == 'q' || buf[i] == 'Q')
					quit = true;
				else if (buf[i] == ' ')
					next = 0;	/* refresh now */
			}
		} else if (n > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) {
			keys = false;	/* the terminal went away: timers only */
		}
	}

	fputs(ANSI_CURSOR_ON ANSI_ALT_OFF, stdout);
	fflush(stdout);
	if (raw_set)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	drop_replies(&s);
	ctl_conn_close(&s.conn);
	return 0;
}
