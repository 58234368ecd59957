/*
 * Links the two BPF objects into bw_loader as read-only bytes, so the guest
 * needs one static file and nothing else.  build.sh passes the paths of the
 * compiled objects as BW_DEMO_OBJ and BW_DECOY_OBJ (quoted strings).  libelf
 * reads ELF headers in place, hence the 8-byte alignment.
 */
#if !defined(BW_DEMO_OBJ) || !defined(BW_DECOY_OBJ)
#error "define BW_DEMO_OBJ and BW_DECOY_OBJ"
#endif

	.section .rodata.bw_objs, "a"

	.balign 8
	.globl bw_demo_obj_start, bw_demo_obj_end
bw_demo_obj_start:
	.incbin BW_DEMO_OBJ
bw_demo_obj_end:

	.balign 8
	.globl bw_decoy_obj_start, bw_decoy_obj_end
bw_decoy_obj_start:
	.incbin BW_DECOY_OBJ
bw_decoy_obj_end:

	.section .note.GNU-stack, "", @progbits
