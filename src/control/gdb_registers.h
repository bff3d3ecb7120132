/* The x86-64 registers as the GDB stub shows them: one table gives both the
 * target description gdb reads (qXfer:features:read:target.xml) and the byte
 * layout of g/G/p/P, so that the two cannot disagree.  Registers are read
 * from and written to a vCPU's KVM state (struct gdb_cpu_state); nothing here
 * calls KVM.
 *
 * The description: org.gnu.gdb.i386.core (general registers, eflags, segment
 * selectors, x87), org.gnu.gdb.i386.sse (xmm0-15, mxcsr),
 * org.gnu.gdb.i386.segments (fs_base, gs_base), and a feature of ours with
 * the control registers, efer and the kernel's swapped GS base, so that
 * `info registers` and `p $cr3` work on a guest kernel. */
#ifndef GUEST_CONTROL_GDB_REGISTERS_H
#define GUEST_CONTROL_GDB_REGISTERS_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gdb_cpu_state {
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_fpu fpu;
    uint64_t kernel_gs_base; /* MSR_KERNEL_GS_BASE */
};

/* The largest register (st0-7 are 10 bytes, xmm 16) and all of them at once. */
#define GDB_REGISTER_MAX_BYTES 16
#define GDB_REGISTERS_BYTES 608

/* The target description, NUL-terminated (static; built on first use). */
const char *gdb_target_xml(size_t *length);

unsigned gdb_register_count(void);
/* Bytes of register reg in the g packet; 0 when there is no such register. */
size_t gdb_register_size(unsigned reg);

/* Register reg's bytes (little-endian, as gdb expects from x86) into out
 * (GDB_REGISTER_MAX_BYTES); returns the size, 0 for no such register. */
size_t gdb_register_read(const struct gdb_cpu_state *state, unsigned reg, uint8_t *out);
/* All registers in order into out (GDB_REGISTERS_BYTES); returns the bytes. */
size_t gdb_registers_read(const struct gdb_cpu_state *state, uint8_t *out);

/* Writes register reg from size bytes.  False, and state unchanged, when the
 * size is wrong or the register cannot be written that way: a segment
 * selector (KVM would need the whole descriptor) may only be "written" with
 * the value it already has, which is what a G packet does for the registers
 * the user did not change. */
bool gdb_register_write(struct gdb_cpu_state *state, unsigned reg, const uint8_t *data,
                        size_t size);
/* A G packet: all registers; all or nothing. */
bool gdb_registers_write(struct gdb_cpu_state *state, const uint8_t *data, size_t size);

#endif
