/* SPDX-License-Identifier: MIT */
/*
 * bpfwatchctl's expressions and keys: "KEY OP NUMBER" parsed, then judged
 * against a metrics object whose values cover every JSON number form the
 * daemon writes (integers, reals, u64 digit strings).
 */
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#include "ctl_expr.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *metrics;
	char *text = fuzz_strdup(data, size);
	struct bw_error err = { 0 };
	struct ctl_expr e;
	struct ctl_num n, v;
	char buf[CTL_NUM_TEXT_MAX];

	if (!text)
		return 0;
	if (!metrics)
		metrics = json_pack("{s:I, s:f, s:s, s:I, s:s, s:b}", "a", (json_int_t)-5,
				    "b", 0.5, "c", "18446744073709551615", "x", (json_int_t)1,
				    "d", "nan", "e", 1);
	ctl_key_check(text, &err);
	if (ctl_num_parse(text, &n, &err) == 0) {
		ctl_num_format(&n, buf, sizeof(buf));
		if (ctl_num_parse(buf, &v, &err) != 0 || ctl_num_cmp(&n, &v) != 0)
			abort();	/* what format writes reads back as the same number */
	}
	if (ctl_expr_parse(text, &e, &err) == 0) {
		ctl_expr_eval(&e, metrics, &v);
		ctl_expr_free(&e);
	}
	free(text);
	return 0;
}
