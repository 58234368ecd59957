/* SPDX-License-Identifier: MIT */
#include "guest_open.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "qemu_ram.h"

/* A shared backend's size, for matching it to QEMU's memdevs (0 when unknown). */
static uint64_t backend_file_size(const struct bw_ram_backend *b)
{
	struct stat st;
	char self[64];
	const char *path = b->path;

	if (b->fd >= 0) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", b->fd);
		path = self;
	}
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static const enum bw_layout_kind presets[] = { BW_LAYOUT_Q35, BW_LAYOUT_PC, BW_LAYOUT_FLAT };

/* The @index-th permutation of 0..n-1 in lexicographic order (index < n!). */
static void permutation(unsigned int n, unsigned int index, unsigned int *order)
{
	unsigned int left[BW_RAM_MAX_BACKENDS], nleft = n, fact = 1;

	for (unsigned int i = 0; i < n; i++)
		left[i] = i;
	for (unsigned int i = 2; i < n; i++)
		fact *= i;	/* (n - 1)! */
	for (unsigned int i = 0; i < n; i++) {
		unsigned int pick = index / fact;

		index %= fact;
		order[i] = left[pick];
		memmove(left + pick, left + pick + 1, (nleft - pick - 1) * sizeof(left[0]));
		nleft--;
		if (nleft > 0)
			fact /= nleft;	/* (nleft - 1)! */
	}
}

static unsigned int factorial(unsigned int n)
{
	return n <= 1 ? 1 : n * factorial(n - 1);
}

struct attempt {
	struct bw_ram *ram;
	struct bw_kernel *kernel;
	uint32_t bad;
	char what[128];
};

static void drop(struct attempt *a)
{
	bw_kernel_free(a->kernel);
	bw_ram_close(a->ram);
	a->kernel = NULL;
	a->ram = NULL;
}

static void describe_order(char *buf, size_t size, const unsigned int *order, unsigned int n)
{
	size_t len = 0;

	buf[0] = '\0';
	if (n < 2)
		return;
	len += (size_t)snprintf(buf, size, ", backends in order");
	for (unsigned int i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, " %u", order[i] + 1);
}

int bw_guest_open(const struct bw_ram_source *source, const struct bw_layout_spec *layout,
		  const struct bw_guest_qemu *qemu, const struct bw_kernel_files *files,
		  struct bw_ram **ram,
		  struct bw_kernel **kernel, struct bw_guest_choice *choice, struct bw_error *err)
{
	struct bw_ram_backends found, ordered;
	struct attempt best = { .bad = UINT32_MAX };
	struct bw_error first = { 0 };
	unsigned int nlayouts = layout ? 1 : sizeof(presets) / sizeof(presets[0]);
	unsigned int norders = 1, tried = 0;
	int r;

	if (layout && layout->kind == BW_LAYOUT_AUTO)
		layout = NULL;
	nlayouts = layout ? 1 : sizeof(presets) / sizeof(presets[0]);
	*ram = NULL;
	*kernel = NULL;
	memset(choice, 0, sizeof(*choice));
	if (qemu && source->pid > 0)
		r = bw_qemu_find_ram(source->pid, qemu->memdevs.size, qemu->memdevs.n, &found, err);
	else
		r = bw_ram_resolve_source(source, &found, err);
	if (r < 0)
		return r;
	if (qemu && !layout)
		nlayouts = 1;
	snprintf(choice->backends_why, sizeof(choice->backends_why), "%s", found.why);
	/* Files given by the user are in their order; a process does not say. */
	if ((!layout || qemu) && source->pid > 0 && found.n > 1 && found.n <= BW_GUEST_MAX_PERMUTED)
		norders = factorial(found.n);
	for (unsigned int o = 0; o < norders; o++) {
		unsigned int order[BW_RAM_MAX_BACKENDS];
		char order_text[64];

		permutation(found.n, o, order);
		describe_order(order_text, sizeof(order_text), order, found.n);
		ordered = found;
		for (unsigned int i = 0; i < found.n; i++)
			ordered.b[i] = found.b[order[i]];
		for (unsigned int l = 0; l < nlayouts; l++) {
			struct bw_layout_spec preset = { .kind = presets[l] };
			const struct bw_layout_spec *spec = layout ? layout : &preset;
			struct attempt a = { 0 };
			struct bw_error e = { 0 };
			struct bw_kernel_info info;

			tried++;
			snprintf(a.what, sizeof(a.what), "%s%s", bw_layout_kind_name(spec->kind),
				 order_text);
			r = 0;
			if (qemu && !layout) {
				uint64_t sizes[BW_RAM_MAX_BACKENDS];

				for (unsigned int i = 0; i < ordered.n; i++)
					sizes[i] = ordered.b[i].pid > 0 ? ordered.b[i].size :
						   backend_file_size(&ordered.b[i]);
				r = bw_mtree_layout(&qemu->mtree, &qemu->memdevs, sizes, ordered.n,
						    &preset, NULL, &e);
				snprintf(a.what, sizeof(a.what), "qemu%s", order_text);
			}
			if (r == 0)
				r = bw_ram_open_backends(&ordered, spec, &a.ram, &e);
			if (r == 0) {
				choice->memory_opened = true;
				r = bw_kernel_open(a.ram, files, &a.kernel, &e);
			}
			if (r < 0) {
				if (!first.code) {
					first = e;
					bw_error_prefix(&first, "layout %s", a.what);
				}
				drop(&a);
				continue;
			}
			bw_kernel_get_info(a.kernel, &info);
			a.bad = info.percpu_bad;
			if (a.bad < best.bad) {
				drop(&best);
				best = a;
			} else {
				drop(&a);
			}
			if (best.bad == 0)
				goto done;
		}
	}
	if (!best.kernel) {
		if (err)
			*err = first;
		return first.code ? first.code : -ENOENT;
	}
done:
	{
		struct bw_kernel_info info;

		bw_kernel_get_info(best.kernel, &info);
		/* The kind is what before the order. */
		snprintf(choice->layout, sizeof(choice->layout), "%.*s",
			 (int)strcspn(best.what, ","), best.what);
		if (qemu && !layout)
			snprintf(choice->layout_why, sizeof(choice->layout_why),
				 "%s: QEMU's own memory map (QMP query-memdev and info mtree -f), and the "
				 "kernel model is consistent under it%s", best.what,
				 info.percpu_bad ? " but for the per-CPU areas: " : "");
		else if (layout)
			snprintf(choice->layout_why, sizeof(choice->layout_why), "%s: given%s",
				 best.what, info.percpu_bad ? "; " : "");
		else if (info.percpu_bad == 0)
			snprintf(choice->layout_why, sizeof(choice->layout_why),
				 "%s: chosen (%u of %u tried), the kernel model is consistent under it "
				 "(VMCOREINFO, kallsyms, page_offset_base, %u of %u per-CPU areas read "
				 "back)", best.what, tried, norders * nlayouts, info.percpu_checked,
				 info.nr_cpu_ids);
		else
			snprintf(choice->layout_why, sizeof(choice->layout_why),
				 "%s: chosen, no layout tried is consistent; under this one ", best.what);
		if (info.percpu_bad) {
			size_t len = strlen(choice->layout_why);

			snprintf(choice->layout_why + len, sizeof(choice->layout_why) - len,
				 "%u of %u per-CPU areas do not read back (first: %s)",
				 info.percpu_bad, info.percpu_checked, info.percpu_bad_msg);
		}
	}
	*ram = best.ram;
	*kernel = best.kernel;
	return 0;
}
