/* Entry of the Zircon (ZBI) probe. The boot loader jumps to _start (the
 * zbi_kernel entry) in 64-bit mode with %rsi holding the physical address of
 * its container; nothing else is specified: not the stack, not the
 * direction flag, not the contents of the scratch memory (reserve_memory_size)
 * after the image, where .bss and the stack live. */
#define STACK_SIZE 16384
#ifndef PROBE_MAIN
#define PROBE_MAIN zbi_probe_main /* the gdb probe shares this entry */
#endif

	.code64
	.section .text.start, "ax"
	.global _start
_start:
	/* Keep %rsi; read RFLAGS before anything changes it. */
	mov %rsi, %r12
	lea stack_top(%rip), %rsp
	pushfq
	pop %rbx
	/* Zero .bss (the stack with it): its size is a multiple of 8. */
	cld
	lea __bss_start(%rip), %rdi
	lea _end(%rip), %rcx
	sub %rdi, %rcx
	shr $3, %rcx
	xor %eax, %eax
	rep stosq
	mov %r12, %rdi
	mov %rbx, %rsi
	call PROBE_MAIN
1:	cli
	hlt
	jmp 1b

/* The image's last bytes: the probe checks they were loaded. */
	.section .tail, "a"
	.balign 8
	.global probe_tail_marker
probe_tail_marker:
	.ascii "ROBE-END"

	.section .bss
	.balign 16
stack:
	.skip STACK_SIZE
stack_top:
	.section .note.GNU-stack, "", @progbits
