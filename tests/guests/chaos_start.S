/* Entry of the chaos guest (chaos.c): a 32-bit multiboot ELF at 1 MiB,
 * paging off. Besides the entry: our own GDT (the interrupt gates name its
 * code selector) and the exception stubs. An exception is the guest's own
 * bug or a VMM that broke it (a device writing where it must not): it is
 * reported and the VM reset, never silently survived. An NMI (a device's
 * MSI whose data we did not sanitize, or the VMM's) is counted and ignored,
 * as is any other vector: interrupts stay disabled throughout, so only
 * something that ignores IF could deliver one. */
#define MULTIBOOT_MAGIC 0x1badb002
#define MULTIBOOT_FLAGS 0x3 /* page-aligned modules, memory information */
#define STACK_SIZE 65536
#define CODE_SELECTOR 0x08
#define DATA_SELECTOR 0x10

	.section .multiboot, "a"
	.balign 4
	.long MULTIBOOT_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

	.code32
	.section .text.start, "ax"
	.global _start
_start:
	cli
	lgdt chaos_gdt_descriptor
	ljmp $CODE_SELECTOR, $1f
1:	mov $DATA_SELECTOR, %ecx
	mov %ecx, %ds
	mov %ecx, %es
	mov %ecx, %fs
	mov %ecx, %gs
	mov %ecx, %ss
	mov $stack_top, %esp
	cld
	push %ebx	/* multiboot information */
	push %eax	/* magic */
	call chaos_main
2:	cli
	hlt
	jmp 2b

/* Exceptions 0-31: one 16-byte stub each (chaos_exception_stubs + 16 * n),
 * pushing a zero where the CPU pushes no error code, then the vector. */
	.balign 16
	.global chaos_exception_stubs
chaos_exception_stubs:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.balign 16
	.if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushl $0
	.endif
	pushl $\n
	jmp exception_common
	.endr

exception_common:
	cmpl $2, (%esp)
	je nmi
	pusha
	push %esp	/* struct chaos_frame * */
	call chaos_exception
3:	cli
	hlt
	jmp 3b

nmi:	lock incl chaos_nmi_count
	add $8, %esp
	iret

	.global chaos_other_vector
chaos_other_vector:
	lock incl chaos_other_vector_count
	iret

/* The second CPU starts here in real mode (INIT/SIPI), from a copy at
 * 0x8000 (CS 0x800, IP 0): protected mode through our GDT, its own stack,
 * then chaos_ap_main. */
	.code16
	.global chaos_trampoline, chaos_trampoline_end
chaos_trampoline:
	cli
	lgdtl %cs:(trampoline_gdt_descriptor - chaos_trampoline)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $CODE_SELECTOR, $ap_protected
trampoline_gdt_descriptor:
	.word chaos_gdt_end - chaos_gdt - 1
	.long chaos_gdt
chaos_trampoline_end:
	.code32
ap_protected:
	mov $DATA_SELECTOR, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	mov %eax, %ss
	mov $ap_stack_top, %esp
	cld
	call chaos_ap_main
4:	cli
	hlt
	jmp 4b

	.balign 8
chaos_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code, flat */
	.quad 0x00cf92000000ffff	/* 0x10: data, flat */
chaos_gdt_end:
chaos_gdt_descriptor:
	.word chaos_gdt_end - chaos_gdt - 1
	.long chaos_gdt

	.section .bss
	.balign 16
stack:
	.skip STACK_SIZE
stack_top:
	.balign 16
ap_stack:
	.skip 16384
ap_stack_top:
	.section .note.GNU-stack, "", @progbits
