/* SPDX-License-Identifier: MIT */
#include "fault_guard.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

int bw_guarded_load(const volatile void *src, unsigned int width, uint64_t *out)
{
	sigjmp_buf jump;
	uint64_t value;

	if (((uintptr_t)src & (width - 1)) != 0 ||
	    (width != 1 && width != 2 && width != 4 && width != 8))
		return -EINVAL;
	if (sigsetjmp(jump, 0)) {
		guard_jump = NULL;
		return -EFAULT;
	}
	guard_jump = &jump;
	switch (width) {
	case 1:
		value = __atomic_load_n((const volatile uint8_t *)src, __ATOMIC_RELAXED);
		break;
	case 2:
		value = __atomic_load_n((const volatile uint16_t *)src, __ATOMIC_RELAXED);
		break;
	case 4:
		value = __atomic_load_n((const volatile uint32_t *)src, __ATOMIC_RELAXED);
		break;
	default:
		value = __atomic_load_n((const volatile uint64_t *)src, __ATOMIC_RELAXED);
		break;
	}
	guard_jump = NULL;
	*out = value;
	return 0;
}
