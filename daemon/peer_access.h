/* SPDX-License-Identifier: MIT */
/*
 * Who may change the daemon's state over the socket.  Every peer may read
 * (status, metrics, sample, ...); a request that changes state (reset,
 * reload) is served only to a control peer: one whose uid is in the
 * control users, or whose primary or supplementary group (SO_PEERCRED,
 * SO_PEERGROUPS) is in the control groups.  Without configured lists the
 * control users are root and the daemon's own user (the socket's owner);
 * naming either list replaces that default ([Clients] ControlUsers=,
 * ControlGroups=).
 */
#ifndef BPFWATCH_PEER_ACCESS_H
#define BPFWATCH_PEER_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* Entries per list: a handful of CI users and groups. */
#define PEER_ACCESS_MAX 64

struct peer_access {
	uid_t uids[PEER_ACCESS_MAX];
	size_t nuids;
	gid_t gids[PEER_ACCESS_MAX];
	size_t ngids;
};

/* What SO_PEERCRED and SO_PEERGROUPS said about a connected peer. */
struct peer_cred {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[PEER_ACCESS_MAX];	/* supplementary groups, as far as they fit */
	size_t ngroups;
	bool groups_truncated;		/* more groups than room: only those kept count */
};

/*
 * Build the policy from space-separated user and group lists (names or
 * decimal ids), either NULL.  Both NULL: root and geteuid().  A name that
 * does not resolve is -ENOENT naming it (the config is checked at start
 * and at reload, so the error reaches the operator).
 */
int peer_access_init(struct peer_access *a, const char *users, const char *groups,
		     struct bw_error *err);

/* Credentials of the peer connected on @fd. */
int peer_cred_get(int fd, struct peer_cred *cred, struct bw_error *err);

bool peer_access_is_control(const struct peer_access *a, const struct peer_cred *cred);

/* Whether request @cmd changes the daemon's state (and so needs a control peer). */
bool peer_access_cmd_needs_control(const char *cmd);

#endif
