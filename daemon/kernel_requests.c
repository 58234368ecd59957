/* SPDX-License-Identifier: MIT */
#include "kernel_requests.h"

#include <errno.h>

#include "fold.h"
#include "printk_ring.h"
#include "scx_health.h"
#include "server.h"

struct dmesg_out {
	json_t *records;
	uint64_t next_seq;
	bool more, oom;
};

static int add_record(void *ctx, const struct bw_printk_record *rec)
{
	struct dmesg_out *o = ctx;
	json_t *r;

	if (json_array_size(o->records) == KERNEL_DMESG_MAX_RECORDS) {
		o->more = true;
		return 1;
	}
	/* Guest bytes: invalid UTF-8 would make jansson refuse the string. */
	r = json_pack("{s:o, s:o, s:s%}", "seq", bw_json_exact_integer(rec->seq),
		      "ts_nsec", bw_json_exact_integer(rec->ts_nsec), "text", rec->text,
		      (size_t)rec->len);
	if (!r) {
		char safe[BW_PRINTK_TEXT_MAX + 1];

		for (size_t i = 0; i <= rec->len; i++)
			safe[i] = (unsigned char)rec->text[i] < 0x80 ? rec->text[i] : '?';
		r = json_pack("{s:o, s:o, s:s}", "seq", bw_json_exact_integer(rec->seq),
			      "ts_nsec", bw_json_exact_integer(rec->ts_nsec), "text", safe);
	}
	if (!r || json_array_append_new(o->records, r) < 0) {
		o->oom = true;
		return 1;
	}
	o->next_seq = rec->seq + 1;
	return 0;
}

json_t *kernel_dmesg_reply(struct bw_printk_ring *log, const json_t *req,
			   const char *not_ready_state)
{
	const json_t *from = json_object_get(req, "from_seq");
	struct dmesg_out o = { .records = json_array() };
	struct bw_error err = { 0 };
	json_int_t seq = 0;
	int r;

	if (!log) {
		json_decref(o.records);
		return server_reply_error("not_ready", "%s", not_ready_state ? not_ready_state :
					  "the guest kernel's log is not readable");
	}
	if (from && (!json_is_integer(from) || json_integer_value(from) < 0)) {
		json_decref(o.records);
		return server_reply_error("bad_args", "\"from_seq\" must be a whole number >= 0");
	}
	if (from)
		seq = json_integer_value(from);
	o.next_seq = (uint64_t)seq;
	r = o.records ? bw_printk_ring_read(log, (uint64_t)seq, add_record, &o, &err) : -ENOMEM;
	if (r < 0 || o.oom) {
		json_decref(o.records);
		return server_reply_error("internal", "%s", r < 0 ? err.msg : "out of memory");
	}
	return json_pack("{s:b, s:o, s:o, s:b}", "ok", 1, "records", o.records, "next_seq",
			 bw_json_exact_integer(o.next_seq), "more", o.more);
}

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
