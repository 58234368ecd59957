/* SPDX-License-Identifier: MIT */
/*
 * The printk ring buffer's structures in a synthetic kernel BTF
 * (util_kernel.h, tk_opts.printk): struct printk_ringbuffer, prb_desc_ring,
 * prb_data_ring, prb_desc, prb_data_blk_lpos and printk_info, with the
 * members lib/printk_ring.c reads at offsets unlike the kernel's.
 */
#include <check.h>

#include "util_kernel.h"

void tk_printk_btf(struct btf *btf, struct tk_printk_layout *l)
{
	int u16 = test_btf_u16(btf), u32 = test_btf_u32(btf), u64 = test_btf_u64(btf);
	int s64 = test_btf_s64(btf), ulong = test_btf_ulong(btf), chr = test_btf_char(btf);
	int along, lpos, desc, info, dr, tr;

	along = test_btf_struct(btf, "atomic_long_t", 8, (struct test_btf_field[]){
		TEST_BTF_FIELD("counter", s64, 0), TEST_BTF_END });
	lpos = test_btf_struct(btf, "prb_data_blk_lpos", 16, (struct test_btf_field[]){
		TEST_BTF_FIELD("begin", ulong, 0), TEST_BTF_FIELD("next", ulong, 8), TEST_BTF_END });
	desc = test_btf_struct(btf, "prb_desc", 32, (struct test_btf_field[]){
		TEST_BTF_FIELD("state_var", along, 8), TEST_BTF_FIELD("text_blk_lpos", lpos, 16),
		TEST_BTF_END });
	info = test_btf_struct(btf, "printk_info", 96, (struct test_btf_field[]){
		TEST_BTF_FIELD("ts_nsec", u64, 0), TEST_BTF_FIELD("seq", u64, 16),
		TEST_BTF_FIELD("text_len", u16, 24), TEST_BTF_FIELD("caller_id", u32, 28),
		TEST_BTF_END });
	dr = test_btf_struct(btf, "prb_desc_ring", 56, (struct test_btf_field[]){
		TEST_BTF_FIELD("count_bits", u32, 4), TEST_BTF_FIELD("descs", test_btf_ptr(btf, desc), 8),
		TEST_BTF_FIELD("infos", test_btf_ptr(btf, info), 16),
		TEST_BTF_FIELD("head_id", along, 32), TEST_BTF_FIELD("tail_id", along, 40),
		TEST_BTF_END });
	tr = test_btf_struct(btf, "prb_data_ring", 40, (struct test_btf_field[]){
		TEST_BTF_FIELD("size_bits", u32, 0), TEST_BTF_FIELD("data", test_btf_ptr(btf, chr), 16),
		TEST_BTF_FIELD("head_lpos", along, 24), TEST_BTF_FIELD("tail_lpos", along, 32),
		TEST_BTF_END });
	test_btf_struct(btf, "printk_ringbuffer", 120, (struct test_btf_field[]){
		TEST_BTF_FIELD("desc_ring", dr, 8), TEST_BTF_FIELD("text_data_ring", tr, 64),
		TEST_BTF_FIELD("fail", along, 112), TEST_BTF_END });
	*l = (struct tk_printk_layout){
		.rb_size = 120, .desc_ring = 8, .text_ring = 64,
		.dr_count_bits = 4, .dr_descs = 8, .dr_infos = 16, .dr_head = 32, .dr_tail = 40,
		.tr_size_bits = 0, .tr_data = 16,
		.desc_size = 32, .desc_sv = 8, .desc_begin = 16, .desc_next = 24,
		.info_size = 96, .info_seq = 16, .info_ts = 0, .info_len = 24,
	};
}
