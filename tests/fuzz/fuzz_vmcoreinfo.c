/* SPDX-License-Identifier: MIT */
/*
 * VMCOREINFO: the text parser with every lookup the kernel model makes,
 * and (first byte odd) the scan of a whole RAM file made of the input, as
 * bpfwatchd scans a guest's: ELF notes and bare pages, every copy parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "guest_ram.h"
#include "ram_layout.h"
#include "vmcoreinfo.h"

static void lookups(const struct bw_vmcoreinfo *vi)
{
	static const char *const symbols[] = { "_stext", "init_top_pgt", "kallsyms_names",
					       "kallsyms_offsets", "kallsyms_token_table" };
	static const char *const numbers[] = { "pgtable_l5_enabled", "phys_base",
					       "KERNEL_IMAGE_SIZE" };
	uint64_t u;
	int64_t n;
	size_t len;

	for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++)
		bw_vmcoreinfo_symbol(vi, symbols[i], &u);
	for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++)
		bw_vmcoreinfo_number(vi, numbers[i], &n);
	bw_vmcoreinfo_kerneloffset(vi, &u);
	bw_vmcoreinfo_value(vi, "CRASHTIME", &len);
}

static int on_copy(void *ctx, const struct bw_vmcoreinfo *vi)
{
	(void)ctx;
	lookups(vi);
	return 0;
}

static void scan(const uint8_t *data, size_t size)
{
	struct bw_ram_source src = BW_RAM_SOURCE_INIT;
	struct bw_layout_spec spec;
	struct bw_error err = { 0 };
	struct bw_ram *ram = NULL;
	/* Whole pages: a RAM file is a number of pages. */
	size_t pages = (size + 4095) / 4096;
	int fd;

	if (!pages || pages > 64)
		return;
	fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	if (ftruncate(fd, (off_t)(pages * 4096)) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	src.fd = fd;
	if (bw_layout_parse("flat", &spec, NULL) < 0)
		abort();
	if (bw_ram_open(&src, &spec, &ram, &err) == 0) {
		bw_vmcoreinfo_scan(ram, on_copy, NULL, &err);
		bw_ram_close(ram);
	}
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bw_vmcoreinfo *vi;
	struct bw_error err = { 0 };

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		scan(data + 1, size - 1);
		return 0;
	}
	vi = malloc(sizeof(*vi));
	if (!vi)
		return 0;
	if (bw_vmcoreinfo_parse((const char *)data + 1, size - 1, vi, &err) == 0)
		lookups(vi);
	free(vi);
	return 0;
}
