/* SPDX-License-Identifier: MIT */
#include "kernel_requests.h"

#include "scx_health.h"
#include "server.h"

json_t *kernel_exit_reply(const struct bw_scx_health *health, const char *not_ready_state)
{
	struct bw_error err = { 0 };
	json_t *body;

	if (!health && not_ready_state)
		return server_reply_error("not_ready", "%s", not_ready_state);
	if (!health)
		return server_reply_error("not_ready", "the sched_ext kernel metrics are off "
					  "([Kernel] Metrics=no) or the kernel has no sched_ext");
	if (bw_scx_health_exit_json(health, &body, &err) < 0)
		return server_reply_error("internal", "%s", err.msg);
	json_object_set_new(body, "ok", json_true());
	return body;
}

json_t *kernel_health_status(const struct bw_scx_health *health)
{
	json_t *st = NULL;

	if (bw_scx_health_status_json(health, &st, NULL) < 0)
		return json_null();
	return st;
}
