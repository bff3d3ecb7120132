/* Entry of the PC probe (pc_probe.c): a 32-bit multiboot ELF linked at
 * 0x8000, below 1 MiB, over where the 64-bit boot page tables would be.
 * Besides the entry it holds the real-mode trampoline the other CPUs start
 * in after INIT/SIPI/SIPI (page-aligned, below 1 MiB, so a SIPI vector can
 * name it), and the interrupt stubs. */
#define MULTIBOOT_MAGIC 0x1badb002
#define MULTIBOOT_FLAGS 0x3 /* page-aligned modules, memory information */
#define STACK_SIZE 16384
#define CODE_SELECTOR 0x08
#define DATA_SELECTOR 0x10
#define LOCAL_APIC_ID 0xfee00020
#define LOCAL_APIC_EOI 0xfee000b0

	.section .multiboot, "a"
	.balign 4
	.long MULTIBOOT_MAGIC
	.long MULTIBOOT_FLAGS
	.long -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

	.code32
	.section .text.start, "ax"
	.global _start
_start:
	/* Our own GDT: the loader's may be gone (the specification says not to
	 * rely on it), and the interrupt gates name our code selector. */
	lgdt probe_gdt_descriptor
	ljmp $CODE_SELECTOR, $1f
1:	mov $DATA_SELECTOR, %ecx
	mov %ecx, %ds
	mov %ecx, %es
	mov %ecx, %fs
	mov %ecx, %gs
	mov %ecx, %ss
	mov $stack_top, %esp
	push %ebx	/* multiboot information */
	push %eax	/* magic */
	call pc_probe_main
2:	cli
	hlt
	jmp 2b

/* An interrupt from the test devices' IRQ line: count it, lower the line
 * (it is level-triggered: it would fire again at once), and EOI. */
	.global probe_irq_entry
probe_irq_entry:
	push %eax
	push %edx
	lock incl probe_irq_count
	mov probe_irq_port, %edx
	xor %eax, %eax
	outb %al, %dx
	movl $0, LOCAL_APIC_EOI
	pop %edx
	pop %eax
	iret

	.global probe_spurious_entry
probe_spurious_entry:
	lock incl probe_spurious_count
	iret

/* The trampoline: a started CPU begins here in real mode with CS = the
 * page's address >> 4 and IP = 0.  It enters protected mode through the
 * same GDT, sets its bit in probe_cpus_seen (by local APIC ID), counts
 * itself in probe_cpus_started, and halts for good. */
	.section .trampoline, "ax"
	.global probe_trampoline
	.code16
probe_trampoline:
	cli
	lgdtl %cs:(trampoline_gdt_descriptor - probe_trampoline)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $CODE_SELECTOR, $trampoline_protected
	.code32
trampoline_protected:
	mov $DATA_SELECTOR, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov LOCAL_APIC_ID, %eax
	shr $24, %eax
	lock btsl %eax, probe_cpus_seen
	lock incl probe_cpus_started
3:	cli
	hlt
	jmp 3b

	.balign 8
probe_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code, flat */
	.quad 0x00cf92000000ffff	/* 0x10: data, flat */
probe_gdt_end:
	.global probe_gdt_descriptor
probe_gdt_descriptor:
	.word probe_gdt_end - probe_gdt - 1
	.long probe_gdt
/* The same, reachable from real mode at an offset from the trampoline. */
trampoline_gdt_descriptor:
	.word probe_gdt_end - probe_gdt - 1
	.long probe_gdt

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
