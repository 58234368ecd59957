/* SPDX-License-Identifier: MIT */
/*
 * Opening the guest a configuration names, for the service and --inspect:
 * QEMU's pid from MemoryPIDFile=, QEMU's memory map from QMP= (qmp.h),
 * then the RAM, the layout and the kernel model together (guest_open.h).
 */
#ifndef BPFWATCH_GUEST_SOURCE_H
#define BPFWATCH_GUEST_SOURCE_H

#include "config.h"
#include "guest_open.h"

/*
 * The pid in @path: one decimal number (a pid file as QEMU's -pidfile and
 * libvirt write it).  Refused unless only root can write it: whoever could
 * write it could point the daemon at any process it may read.
 */
int guest_source_read_pid_file(const char *path, pid_t *pid, struct bw_error *err);

int guest_source_open(const struct daemon_config *cfg, const struct bw_layout_spec *layout,
		      struct bw_ram **ram, struct bw_kernel **kernel,
		      struct bw_guest_choice *choice, struct bw_error *err);

#endif
