/* Entry of the multiboot probes, and their multiboot header. Built twice:
 * without MULTIBOOT_AOUT the loader must read the ELF program headers; with
 * it, the header's address fields (flag 16) say where the file goes. The
 * loader enters _start in 32-bit protected mode, paging off, with EAX the
 * boot loader magic and EBX the multiboot information; it has zeroed .bss
 * (the probe checks); the stack is ours to set. */
#define MULTIBOOT_MAGIC 0x1badb002
#define MULTIBOOT_PAGE_ALIGN (1 << 0)
#define MULTIBOOT_MEMORY_INFO (1 << 1)
#define MULTIBOOT_ADDRESS_FIELDS (1 << 16)
#ifdef MULTIBOOT_AOUT
#define MULTIBOOT_FLAGS (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_ADDRESS_FIELDS)
#else
#define MULTIBOOT_FLAGS (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)
#endif
#define STACK_SIZE 16384

	.section .multiboot, "a"
	.balign 4
multiboot_header:
	.long MULTIBOOT_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)
#ifdef MULTIBOOT_AOUT
	.long multiboot_header	/* header_addr */
	.long __image_start	/* load_addr */
	.long __image_end	/* load_end_addr */
	.long _end		/* bss_end_addr */
	.long _start		/* entry_addr */
#endif

	.code32
	.section .text.start, "ax"
	.global _start
_start:
	/* EFLAGS as the loader left it, through a scratch stack in the image:
	 * the real one is in .bss, not to be touched before it is checked. */
	mov $entry_scratch_top, %esp
	pushfl
	pop %esi
	/* Was .bss zero as the loader left it? %edx = 1 if not, and then
	 * zero it ourselves. */
	mov %eax, %ebp
	cld
	mov $__bss_start, %edi
	mov $_end, %ecx
	sub %edi, %ecx
	shr $2, %ecx
	xor %eax, %eax
	xor %edx, %edx
	repe scasl
	je 1f
	mov $1, %edx
	mov $__bss_start, %edi
	mov $_end, %ecx
	sub %edi, %ecx
	shr $2, %ecx
	rep stosl
1:	mov $stack_top, %esp
	push %edx	/* bss_was_dirty */
	push %esi	/* eflags */
	push %ebx	/* multiboot information */
	push %ebp	/* magic */
	call multiboot_probe_main
2:	cli
	hlt
	jmp 2b

	.section .data
	.balign 16
entry_scratch:
	.skip 16
entry_scratch_top:

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
