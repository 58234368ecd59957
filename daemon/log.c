/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <bpf/libbpf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define LOG_LINE_MAX 2048

static bool to_journal;
static struct {
	time_t period_start;
	unsigned int sent, suppressed;
} libbpf_budget;

/* $JOURNAL_STREAM is "DEV:INODE" of the stream systemd connected; it must still be stderr. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

static void write_line(int priority, const char *prefix, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	size_t len;
	char *p;

	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
		line[--len] = '\0';
	for (p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (to_journal)
		fprintf(stderr, "<%d>%s%s\n", priority, prefix, line);
	else
		fprintf(stderr, "bpfwatchd: %s%s\n", prefix, line);
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	write_line(priority, "", fmt, ap);
	va_end(ap);
}

/* Whether one more libbpf message fits this period's budget. */
static bool libbpf_budget_take(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec - libbpf_budget.period_start >= LOG_LIBBPF_PERIOD_S) {
		if (libbpf_budget.suppressed)
			log_msg(LOG_WARNING, "libbpf: %u more messages suppressed in the last %d s",
				libbpf_budget.suppressed, LOG_LIBBPF_PERIOD_S);
		libbpf_budget.period_start = now.tv_sec;
		libbpf_budget.sent = 0;
		libbpf_budget.suppressed = 0;
	}
	if (libbpf_budget.sent >= LOG_LIBBPF_BURST) {
		libbpf_budget.suppressed++;
		return false;
	}
	libbpf_budget.sent++;
	return true;
}

static int on_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !libbpf_budget_take())
		return 0;
	write_line(level == LIBBPF_WARN ? LOG_WARNING : LOG_INFO, "libbpf: ", fmt, ap);
	return 0;
}

void log_init(void)
{
	to_journal = stderr_is_journal();
	libbpf_budget.period_start = 0;
	libbpf_set_print(on_libbpf_print);
}
