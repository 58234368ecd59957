/* SPDX-License-Identifier: MIT */
/*
 * OpenMetrics rendering: numbers as gauges, the keys listed as text as
 * info families ("<key>_info{...,value="..."} 1"), label values escaped.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "openmetrics.h"
#include "util_mem.h"

START_TEST(test_numbers_and_text)
{
	json_t *m = json_pack("{s:I, s:f, s:s, s:s}", "bw_demo_runs", (json_int_t)42,
			      "bw_demo_gauge", 1.5, "bw_demo_big", "18446744073709551615",
			      "bw_demo_phase", "tick-\"7\"\\x");
	json_t *keys = json_pack("[s]", "bw_demo_phase");
	char *t = openmetrics_render(m, keys, "vm1");

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(strstr(t, "# TYPE bw_demo_runs gauge\nbw_demo_runs{instance=\"vm1\"} 42\n"));
	ck_assert_ptr_nonnull(strstr(t, "bw_demo_gauge{instance=\"vm1\"} 1.5\n"));
	/* A decimal string not listed as text is the number it spells. */
	ck_assert_ptr_nonnull(strstr(t, "bw_demo_big{instance=\"vm1\"} 18446744073709551615\n"));
	ck_assert_ptr_nonnull(strstr(t, "# TYPE bw_demo_phase info\n"
				     "bw_demo_phase_info{instance=\"vm1\",value=\"tick-\\\"7\\\"\\\\x\"} 1\n"));
	ck_assert_ptr_null(strstr(t, "bw_demo_phase{"));
	ck_assert_ptr_nonnull(strstr(t, "# EOF\n"));
	free(t);
	json_decref(keys);
	json_decref(m);
}
END_TEST

static Suite *openmetrics_suite(void)
{
	Suite *s = suite_create("openmetrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_numbers_and_text);
	suite_add_tcase(s, tc);
	return s;
}

BW_TEST_MAIN(openmetrics_suite)
