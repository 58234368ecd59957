/* SPDX-License-Identifier: MIT */
#include "fault_guard.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>

static __thread sigjmp_buf *volatile guard_jump;	/* volatile: a signal handler reads it */
static struct sigaction previous_sigbus;
static pthread_once_t guard_once = PTHREAD_ONCE_INIT;
static int guard_init_error;

static void on_sigbus(int sig, siginfo_t *info, void *uctx)
{
	sigjmp_buf *jump = guard_jump;

	if (jump) {
		guard_jump = NULL;
		siglongjmp(*jump, 1);
	}
	/* Not ours: behave as if we had never been installed. */
	if (previous_sigbus.sa_flags & SA_SIGINFO) {
		if (previous_sigbus.sa_sigaction) {
			previous_sigbus.sa_sigaction(sig, info, uctx);
			return;
		}
	} else if (previous_sigbus.sa_handler != SIG_DFL &&
		   previous_sigbus.sa_handler != SIG_IGN) {
		previous_sigbus.sa_handler(sig);
		return;
	}
	signal(SIGBUS, SIG_DFL);
	raise(SIGBUS);
}

static void install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* NODEFER: we leave the handler by longjmp, so SIGBUS must not stay blocked. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &previous_sigbus) < 0)
		guard_init_error = -errno;
}

int bw_fault_guard_init(void)
{
	pthread_once(&guard_once, install);
	return guard_init_error;
}

int bw_guarded_copy(void *dst, const volatile void *src, size_t len)
{
	sigjmp_buf jump;

	if (sigsetjmp(jump, 0)) {
		guard_jump = NULL;
		return -EFAULT;
	}
	guard_jump = &jump;
	memcpy(dst, (const void *)src, len);
	guard_jump = NULL;
	return 0;
}

static bool load_width_ok(const volatile void *src, unsigned int width)
{
	return (width == 1 || width == 2 || width == 4 || width == 8) &&
	       ((uintptr_t)src & (width - 1)) == 0;
}

/* One instruction for an aligned @width: a concurrent writer is never seen half-done. */
static inline uint64_t load_once(const volatile void *src, unsigned int width)
{
	switch (width) {
	case 1:
		return __atomic_load_n((const volatile uint8_t *)src, __ATOMIC_RELAXED);
	case 2:
		return __atomic_load_n((const volatile uint16_t *)src, __ATOMIC_RELAXED);
	case 4:
		return __atomic_load_n((const volatile uint32_t *)src, __ATOMIC_RELAXED);
	default:
		return __atomic_load_n((const volatile uint64_t *)src, __ATOMIC_RELAXED);
	}
}

int bw_guarded_load(const volatile void *src, unsigned int width, uint64_t *out)
{
	sigjmp_buf jump;
	uint64_t value;

	if (!load_width_ok(src, width))
		return -EINVAL;
	if (sigsetjmp(jump, 0)) {
		guard_jump = NULL;
		return -EFAULT;
	}
	guard_jump = &jump;
	value = load_once(src, width);
	guard_jump = NULL;
	*out = value;
	return 0;
}

int bw_guarded_load_batch(const volatile uint8_t *base, uint64_t size,
			  const struct bw_load *loads, size_t n, uint64_t *out, size_t *done)
{
	sigjmp_buf jump;

	*done = 0;
	if (n == 0)
		return 0;
	/*
	 * After a fault only what is in memory is known: locals changed since
	 * sigsetjmp are not, so the index of the load under way lives in *done.
	 */
	if (sigsetjmp(jump, 0)) {
		guard_jump = NULL;
		return -EFAULT;
	}
	guard_jump = &jump;
	for (size_t i = 0; i < n; i++) {
		uint64_t off = loads[i].offset;
		unsigned int width = loads[i].width;
		const volatile uint8_t *src;

		*done = i;
		if (off > size || width > size - off) {
			guard_jump = NULL;
			return -ERANGE;
		}
		src = base + off;
		if (!load_width_ok(src, width)) {
			guard_jump = NULL;
			return -EINVAL;
		}
		/* *done and the values before it reach memory before this load can fault. */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		out[i] = load_once(src, width);
	}
	guard_jump = NULL;
	*done = n;
	return 0;
}
