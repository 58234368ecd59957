/* SPDX-License-Identifier: MIT */
#include "peer_access.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* getpwnam_r/getgrnam_r buffer: start at this, double up to the cap. */
#define NSS_BUF_START 1024
#define NSS_BUF_MAX (1u << 20)
#define NAME_MAX_LEN 255

/* Every request that changes what the daemon measures or serves. */
static const char *const control_cmds[] = { "reset", "reload" };

bool peer_access_cmd_needs_control(const char *cmd)
{
	for (size_t i = 0; i < sizeof(control_cmds) / sizeof(control_cmds[0]); i++)
		if (!strcmp(cmd, control_cmds[i]))
			return true;
	return false;
}

static bool parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out < (unsigned long)(uid_t)-1;
}

static int resolve(const char *name, bool group, unsigned long *id, struct bw_error *err)
{
	size_t size = NSS_BUF_START;
	bool found = false;
	char *buf = NULL;
	int r;

	if (parse_id(name, id))
		return 0;
	for (;;) {
		char *grown = realloc(buf, size);

		if (!grown) {
			free(buf);
			return bw_error_set(err, -ENOMEM, "out of memory");
		}
		buf = grown;
		if (group) {
			struct group g, *res = NULL;

			r = getgrnam_r(name, &g, buf, size, &res);
			if (r == 0 && res) {
				*id = res->gr_gid;
				found = true;
			}
		} else {
			struct passwd p, *res = NULL;

			r = getpwnam_r(name, &p, buf, size, &res);
			if (r == 0 && res) {
				*id = res->pw_uid;
				found = true;
			}
		}
		if (r != ERANGE || size >= NSS_BUF_MAX)
			break;
		size *= 2;
	}
	free(buf);
	if (!found)
		return bw_error_set(err, -ENOENT, "no such %s \"%s\"", group ? "group" : "user",
				    name);
	return 0;
}

static int parse_list(const char *list, bool group, void *ids, size_t *n, const char *key,
		      struct bw_error *err)
{
	const char *p = list;

	while (*p) {
		char name[NAME_MAX_LEN + 1];
		unsigned long id = (unsigned long)-1;
		size_t len = strcspn(p, " ");
		int r;

		if (len == 0) {
			p++;
			continue;
		}
		if (len > NAME_MAX_LEN)
			return bw_error_set(err, -EINVAL, "%s=: a name longer than %d bytes", key,
					    NAME_MAX_LEN);
		if (*n == PEER_ACCESS_MAX)
			return bw_error_set(err, -E2BIG, "%s=: more than %d entries", key,
					    PEER_ACCESS_MAX);
		memcpy(name, p, len);
		name[len] = '\0';
		r = resolve(name, group, &id, err);
		if (r < 0)
			return bw_error_prefix(err, "%s=", key);
		if (group)
			((gid_t *)ids)[(*n)++] = (gid_t)id;
		else
			((uid_t *)ids)[(*n)++] = (uid_t)id;
		p += len;
	}
	return 0;
}

int peer_access_init(struct peer_access *a, const char *users, const char *groups,
		     struct bw_error *err)
{
	int r;

	memset(a, 0, sizeof(*a));
	if (!users && !groups) {
		a->uids[a->nuids++] = 0;
		if (geteuid() != 0)
			a->uids[a->nuids++] = geteuid();
		return 0;
	}
	if (users && (r = parse_list(users, false, a->uids, &a->nuids, "ControlUsers", err)) < 0)
		return r;
	if (groups && (r = parse_list(groups, true, a->gids, &a->ngids, "ControlGroups", err)) < 0)
		return r;
	return 0;
}

int peer_cred_get(int fd, struct peer_cred *cred, struct bw_error *err)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);
	gid_t groups[PEER_ACCESS_MAX * 4];

	memset(cred, 0, sizeof(*cred));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0 || len != sizeof(uc))
		return bw_error_set(err, -errno, "SO_PEERCRED: %s", strerror(errno));
	cred->pid = uc.pid;
	cred->uid = uc.uid;
	cred->gid = uc.gid;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
		size_t n = len / sizeof(gid_t);

		cred->groups_truncated = n > PEER_ACCESS_MAX;
		cred->ngroups = n > PEER_ACCESS_MAX ? PEER_ACCESS_MAX : n;
		memcpy(cred->groups, groups, cred->ngroups * sizeof(gid_t));
	} else {
		/* ERANGE: more groups than the buffer; the primary group still counts. */
		cred->groups_truncated = errno == ERANGE;
	}
	return 0;
}

bool peer_access_is_control(const struct peer_access *a, const struct peer_cred *cred)
{
	for (size_t i = 0; i < a->nuids; i++)
		if (a->uids[i] == cred->uid)
			return true;
	for (size_t i = 0; i < a->ngids; i++) {
		if (a->gids[i] == cred->gid)
			return true;
		for (size_t j = 0; j < cred->ngroups; j++)
			if (a->gids[i] == cred->groups[j])
				return true;
	}
	return false;
}
