/* SPDX-License-Identifier: MIT */
/*
 * OpenMetrics rendering of text watches: a watch whose metric key is in
 * the metrics reply's "text_keys" is one info family,
 * "<key>_info{vm=...,value="..."} 1", escaped; numbers keep their families.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "openmetrics.h"
#include "util_kernel.h"

START_TEST(test_text_watch_is_info)
{
	const struct bw_watch ws[] = {
		{ .map_suffix = ".bss", .field = "phase", .agg = BW_AGG_SCALAR_COUNTER,
		  .label = "phase" },
		{ .map_suffix = ".bss", .field = "runs", .agg = BW_AGG_SCALAR_COUNTER,
		  .label = "runs" },
	};
	struct bw_watch_set *set = tk_watch_set(ws, 2);
	json_t *sample = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:I}]}", "object", "bw_demo",
				   "watches", "label", "phase", "value", "tick-\"7\"\\x",
				   "label", "runs", "value", (json_int_t)42);
	json_t *metrics = json_pack("{s:{s:s}, s:{s:s, s:I}, s:[s]}", "window", "object", "bw_demo",
				    "metrics", "bw_demo_phase", "tick-6", "bw_demo_runs",
				    (json_int_t)41, "text_keys", "bw_demo_phase");
	struct openmetrics_input in = { .vm = "vm1", .watches = set, .sample = sample,
					.metrics = metrics };
	char *t = openmetrics_render(&in, OPENMETRICS_1_0);

	ck_assert_ptr_nonnull(t);
	ck_assert_msg(strstr(t, "# TYPE bw_demo_phase info\n"
			     "bw_demo_phase_info{vm=\"vm1\",value=\"tick-\\\"7\\\"\\\\x\"} 1\n"), "%s", t);
	ck_assert_ptr_null(strstr(t, "bw_demo_phase_total"));
	ck_assert_ptr_null(strstr(t, "bw_demo_phase_window"));
	ck_assert_ptr_nonnull(strstr(t, "bw_demo_runs_total{vm=\"vm1\"} 42\n"));
	free(t);
	/* The text format has no info type: a gauge family named by its sample. */
	t = openmetrics_render(&in, OPENMETRICS_PROMETHEUS_TEXT);
	ck_assert_msg(strstr(t, "# TYPE bw_demo_phase_info gauge\n"
			     "bw_demo_phase_info{vm=\"vm1\",value=\"tick-\\\"7\\\"\\\\x\"} 1\n"), "%s", t);
	free(t);
	/* Without a reading this tick the window's last text is shown. */
	json_array_remove(json_object_get(sample, "watches"), 0);
	t = openmetrics_render(&in, OPENMETRICS_1_0);
	ck_assert_msg(strstr(t, "bw_demo_phase_info{vm=\"vm1\",value=\"tick-6\"} 1\n"), "%s", t);
	free(t);
	json_decref(sample);
	json_decref(metrics);
	bw_watch_set_free(set);
}
END_TEST

static Suite *openmetrics_suite(void)
{
	Suite *s = suite_create("openmetrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_text_watch_is_info);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(openmetrics_suite)
