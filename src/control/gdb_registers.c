#include "control/gdb_registers.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Where a register's value lives in struct gdb_cpu_state. */
enum gdb_source {
    SOURCE_GPR,     /* index: rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8 ... r15 */
    SOURCE_RIP,
    SOURCE_RFLAGS,
    SOURCE_SEGMENT, /* index: cs, ss, ds, es, fs, gs (a selector) */
    SOURCE_ST,      /* index: st0 ... st7 */
    SOURCE_FCW,
    SOURCE_FSW,
    SOURCE_FTAG,    /* the full tag word, made from FXSAVE's abridged one */
    SOURCE_FISEG,   /* 64-bit FXSAVE has no segments: the pointers' high halves */
    SOURCE_FIOFF,
    SOURCE_FOSEG,
    SOURCE_FOOFF,
    SOURCE_FOP,
    SOURCE_XMM,     /* index: xmm0 ... xmm15 */
    SOURCE_MXCSR,
    SOURCE_FS_BASE,
    SOURCE_GS_BASE,
    SOURCE_CR,      /* index: 0, 2, 3, 4, 8 */
    SOURCE_EFER,
    SOURCE_KERNEL_GS_BASE,
};

struct gdb_register {
    const char *name;
    unsigned bits;
    const char *type;
    const char *group;
    enum gdb_source source;
    unsigned index;
};

#define GPR(name, n, type) {name, 64, type, "general", SOURCE_GPR, n}
#define SEG(name, n) {name, 32, "int32", "general", SOURCE_SEGMENT, n}
#define ST(name, n) {name, 80, "i387_ext", "float", SOURCE_ST, n}
#define X87(name, source) {name, 32, "int", "float", source, 0}
#define XMM(name, n) {name, 128, "vec128", "vector", SOURCE_XMM, n}
#define SYS(name, source, n) {name, 64, "int64", "system", source, n}

/* The order of the g packet and of the description.  Features begin at
 * FEATURE_SSE, FEATURE_SEGMENTS and FEATURE_SYSTEM. */
static const struct gdb_register gdb_registers[] = {
    GPR("rax", 0, "int64"), GPR("rbx", 1, "int64"), GPR("rcx", 2, "int64"),
    GPR("rdx", 3, "int64"), GPR("rsi", 4, "int64"), GPR("rdi", 5, "int64"),
    GPR("rbp", 6, "data_ptr"), GPR("rsp", 7, "data_ptr"), GPR("r8", 8, "int64"),
    GPR("r9", 9, "int64"), GPR("r10", 10, "int64"), GPR("r11", 11, "int64"),
    GPR("r12", 12, "int64"), GPR("r13", 13, "int64"), GPR("r14", 14, "int64"),
    GPR("r15", 15, "int64"),
    {"rip", 64, "code_ptr", "general", SOURCE_RIP, 0},
    {"eflags", 32, "i386_eflags", "general", SOURCE_RFLAGS, 0},
    SEG("cs", 0), SEG("ss", 1), SEG("ds", 2), SEG("es", 3), SEG("fs", 4), SEG("gs", 5),
    ST("st0", 0), ST("st1", 1), ST("st2", 2), ST("st3", 3),
    ST("st4", 4), ST("st5", 5), ST("st6", 6), ST("st7", 7),
    X87("fctrl", SOURCE_FCW), X87("fstat", SOURCE_FSW), X87("ftag", SOURCE_FTAG),
    X87("fiseg", SOURCE_FISEG), X87("fioff", SOURCE_FIOFF), X87("foseg", SOURCE_FOSEG),
    X87("fooff", SOURCE_FOOFF), X87("fop", SOURCE_FOP),
#define FEATURE_SSE 40
    XMM("xmm0", 0), XMM("xmm1", 1), XMM("xmm2", 2), XMM("xmm3", 3),
    XMM("xmm4", 4), XMM("xmm5", 5), XMM("xmm6", 6), XMM("xmm7", 7),
    XMM("xmm8", 8), XMM("xmm9", 9), XMM("xmm10", 10), XMM("xmm11", 11),
    XMM("xmm12", 12), XMM("xmm13", 13), XMM("xmm14", 14), XMM("xmm15", 15),
    {"mxcsr", 32, "i386_mxcsr", "vector", SOURCE_MXCSR, 0},
#define FEATURE_SEGMENTS 57
    {"fs_base", 64, "int", "system", SOURCE_FS_BASE, 0},
    {"gs_base", 64, "int", "system", SOURCE_GS_BASE, 0},
#define FEATURE_SYSTEM 59
    SYS("cr0", SOURCE_CR, 0), SYS("cr2", SOURCE_CR, 2), SYS("cr3", SOURCE_CR, 3),
    SYS("cr4", SOURCE_CR, 4), SYS("cr8", SOURCE_CR, 8), SYS("efer", SOURCE_EFER, 0),
    SYS("k_gs_base", SOURCE_KERNEL_GS_BASE, 0),
};

#define GDB_REGISTER_COUNT (sizeof(gdb_registers) / sizeof(gdb_registers[0]))

unsigned gdb_register_count(void)
{
    return GDB_REGISTER_COUNT;
}

size_t gdb_register_size(unsigned reg)
{
    return reg < GDB_REGISTER_COUNT ? gdb_registers[reg].bits / 8 : 0;
}

/* --- the description ---------------------------------------------------------- */

static char gdb_xml[16384];
static size_t gdb_xml_length;
static pthread_once_t gdb_xml_once = PTHREAD_ONCE_INIT;

static const char gdb_xml_core_types[] =
    "<flags id=\"i386_eflags\" size=\"4\">"
    "<field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"\" start=\"1\" end=\"1\"/>"
    "<field name=\"PF\" start=\"2\" end=\"2\"/><field name=\"AF\" start=\"4\" end=\"4\"/>"
    "<field name=\"ZF\" start=\"6\" end=\"6\"/><field name=\"SF\" start=\"7\" end=\"7\"/>"
    "<field name=\"TF\" start=\"8\" end=\"8\"/><field name=\"IF\" start=\"9\" end=\"9\"/>"
    "<field name=\"DF\" start=\"10\" end=\"10\"/><field name=\"OF\" start=\"11\" end=\"11\"/>"
    "<field name=\"NT\" start=\"14\" end=\"14\"/><field name=\"RF\" start=\"16\" end=\"16\"/>"
    "<field name=\"VM\" start=\"17\" end=\"17\"/><field name=\"AC\" start=\"18\" end=\"18\"/>"
    "<field name=\"VIF\" start=\"19\" end=\"19\"/><field name=\"VIP\" start=\"20\" end=\"20\"/>"
    "<field name=\"ID\" start=\"21\" end=\"21\"/></flags>";

static const char gdb_xml_sse_types[] =
    "<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>"
    "<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
    "<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>"
    "<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
    "<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>"
    "<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
    "<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/>"
    "<field name=\"v2_double\" type=\"v2d\"/><field name=\"v16_int8\" type=\"v16i8\"/>"
    "<field name=\"v8_int16\" type=\"v8i16\"/><field name=\"v4_int32\" type=\"v4i32\"/>"
    "<field name=\"v2_int64\" type=\"v2i64\"/><field name=\"uint128\" type=\"uint128\"/>"
    "</union>"
    "<flags id=\"i386_mxcsr\" size=\"4\">"
    "<field name=\"IE\" start=\"0\" end=\"0\"/><field name=\"DE\" start=\"1\" end=\"1\"/>"
    "<field name=\"ZE\" start=\"2\" end=\"2\"/><field name=\"OE\" start=\"3\" end=\"3\"/>"
    "<field name=\"UE\" start=\"4\" end=\"4\"/><field name=\"PE\" start=\"5\" end=\"5\"/>"
    "<field name=\"DAZ\" start=\"6\" end=\"6\"/><field name=\"IM\" start=\"7\" end=\"7\"/>"
    "<field name=\"DM\" start=\"8\" end=\"8\"/><field name=\"ZM\" start=\"9\" end=\"9\"/>"
    "<field name=\"OM\" start=\"10\" end=\"10\"/><field name=\"UM\" start=\"11\" end=\"11\"/>"
    "<field name=\"PM\" start=\"12\" end=\"12\"/><field name=\"FZ\" start=\"15\" end=\"15\"/>"
    "</flags>";

static void gdb_xml_append(const char *text)
{
    size_t length = strlen(text);
    if (gdb_xml_length + length < sizeof(gdb_xml)) {
        memcpy(gdb_xml + gdb_xml_length, text, length + 1);
        gdb_xml_length += length;
    }
}

static void gdb_xml_build(void)
{
    static const struct {
        unsigned first;
        const char *name, *types;
    } features[] = {
        {0, "org.gnu.gdb.i386.core", gdb_xml_core_types},
        {FEATURE_SSE, "org.gnu.gdb.i386.sse", gdb_xml_sse_types},
        {FEATURE_SEGMENTS, "org.gnu.gdb.i386.segments", ""},
        {FEATURE_SYSTEM, "guest.x86.system", ""},
    };
    const unsigned feature_count = sizeof(features) / sizeof(features[0]);
    gdb_xml_append("<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
                   "<target version=\"1.0\"><architecture>i386:x86-64</architecture>");
    for (unsigned f = 0; f < feature_count; f++) {
        unsigned end = f + 1 < feature_count ? features[f + 1].first : GDB_REGISTER_COUNT;
        char line[160];
        snprintf(line, sizeof(line), "<feature name=\"%s\">", features[f].name);
        gdb_xml_append(line);
        gdb_xml_append(features[f].types);
        for (unsigned reg = features[f].first; reg < end; reg++) {
            const struct gdb_register *r = &gdb_registers[reg];
            snprintf(line, sizeof(line),
                     "<reg name=\"%s\" bitsize=\"%u\" type=\"%s\" group=\"%s\" regnum=\"%u\"/>",
                     r->name, r->bits, r->type, r->group, reg);
            gdb_xml_append(line);
        }
        gdb_xml_append("</feature>");
    }
    gdb_xml_append("</target>");
}

const char *gdb_target_xml(size_t *length)
{
    pthread_once(&gdb_xml_once, gdb_xml_build);
    if (length)
        *length = gdb_xml_length;
    return gdb_xml;
}

/* --- values ------------------------------------------------------------------ */

static __u64 *gdb_gpr(struct kvm_regs *regs, unsigned index)
{
    __u64 *const fields[16] = {
        &regs->rax, &regs->rbx, &regs->rcx,
        &regs->rdx, &regs->rsi, &regs->rdi,
        &regs->rbp, &regs->rsp, &regs->r8,
        &regs->r9,  &regs->r10, &regs->r11,
        &regs->r12, &regs->r13, &regs->r14,
        &regs->r15,
    };
    return fields[index];
}

static struct kvm_segment *gdb_segment(struct kvm_sregs *sregs, unsigned index)
{
    struct kvm_segment *const segments[6] = {&sregs->cs, &sregs->ss, &sregs->ds,
                                             &sregs->es, &sregs->fs, &sregs->gs};
    return segments[index];
}

static __u64 *gdb_cr(struct kvm_sregs *sregs, unsigned index)
{
    switch (index) {
    case 0:
        return &sregs->cr0;
    case 2:
        return &sregs->cr2;
    case 3:
        return &sregs->cr3;
    case 4:
        return &sregs->cr4;
    default:
        return &sregs->cr8;
    }
}

/* The x87 tag of an 80-bit value (ST(i) as FXSAVE stores it): 0 valid,
 * 1 zero, 2 special (NaN, infinity, denormal, unnormal). */
static unsigned gdb_x87_tag_of(const uint8_t value[10])
{
    unsigned exponent = (unsigned)(value[9] & 0x7f) << 8 | value[8];
    uint64_t mantissa;
    memcpy(&mantissa, value, 8);
    if (exponent == 0x7fff)
        return 2;
    if (exponent == 0)
        return mantissa == 0 ? 1 : 2;
    return (mantissa >> 63) ? 0 : 2;
}

/* The full tag word (two bits per physical register) from FXSAVE's abridged
 * one (a bit per physical register: not empty), as FSAVE would store it. */
static uint16_t gdb_x87_full_tag(const struct kvm_fpu *fpu)
{
    unsigned top = (fpu->fsw >> 11) & 7;
    uint16_t tag = 0;
    for (unsigned physical = 0; physical < 8; physical++) {
        unsigned value = 3; /* empty */
        if (fpu->ftwx & (1u << physical))
            value = gdb_x87_tag_of(fpu->fpr[(physical - top) & 7]);
        tag |= (uint16_t)(value << (2 * physical));
    }
    return tag;
}

static uint8_t gdb_x87_abridged_tag(uint16_t full)
{
    uint8_t abridged = 0;
    for (unsigned physical = 0; physical < 8; physical++)
        if (((full >> (2 * physical)) & 3) != 3)
            abridged |= (uint8_t)(1u << physical);
    return abridged;
}

static void put(uint8_t *out, uint64_t value, size_t bytes)
{
    memcpy(out, &value, bytes); /* x86 host: little-endian, as gdb wants */
}

size_t gdb_register_read(const struct gdb_cpu_state *state, unsigned reg, uint8_t *out)
{
    if (reg >= GDB_REGISTER_COUNT)
        return 0;
    const struct gdb_register *r = &gdb_registers[reg];
    struct gdb_cpu_state *s = (struct gdb_cpu_state *)state; /* the helpers take writable */
    size_t size = r->bits / 8;
    const struct kvm_fpu *fpu = &state->fpu;
    switch (r->source) {
    case SOURCE_GPR:
        put(out, *gdb_gpr(&s->regs, r->index), size);
        break;
    case SOURCE_RIP:
        put(out, state->regs.rip, size);
        break;
    case SOURCE_RFLAGS:
        put(out, state->regs.rflags, size);
        break;
    case SOURCE_SEGMENT:
        put(out, gdb_segment(&s->sregs, r->index)->selector, size);
        break;
    case SOURCE_ST:
        memcpy(out, fpu->fpr[r->index], 10);
        break;
    case SOURCE_FCW:
        put(out, fpu->fcw, size);
        break;
    case SOURCE_FSW:
        put(out, fpu->fsw, size);
        break;
    case SOURCE_FTAG:
        put(out, gdb_x87_full_tag(fpu), size);
        break;
    case SOURCE_FISEG:
        put(out, fpu->last_ip >> 32, size);
        break;
    case SOURCE_FIOFF:
        put(out, (uint32_t)fpu->last_ip, size);
        break;
    case SOURCE_FOSEG:
        put(out, fpu->last_dp >> 32, size);
        break;
    case SOURCE_FOOFF:
        put(out, (uint32_t)fpu->last_dp, size);
        break;
    case SOURCE_FOP:
        put(out, fpu->last_opcode, size);
        break;
    case SOURCE_XMM:
        memcpy(out, fpu->xmm[r->index], 16);
        break;
    case SOURCE_MXCSR:
        put(out, fpu->mxcsr, size);
        break;
    case SOURCE_FS_BASE:
        put(out, state->sregs.fs.base, size);
        break;
    case SOURCE_GS_BASE:
        put(out, state->sregs.gs.base, size);
        break;
    case SOURCE_CR:
        put(out, *gdb_cr(&s->sregs, r->index), size);
        break;
    case SOURCE_EFER:
        put(out, state->sregs.efer, size);
        break;
    case SOURCE_KERNEL_GS_BASE:
        put(out, state->kernel_gs_base, size);
        break;
    }
    return size;
}

size_t gdb_registers_read(const struct gdb_cpu_state *state, uint8_t *out)
{
    size_t at = 0;
    for (unsigned reg = 0; reg < GDB_REGISTER_COUNT; reg++)
        at += gdb_register_read(state, reg, out + at);
    return at;
}

static uint64_t get(const uint8_t *data, size_t bytes)
{
    uint64_t value = 0;
    memcpy(&value, data, bytes);
    return value;
}

bool gdb_register_write(struct gdb_cpu_state *state, unsigned reg, const uint8_t *data,
                        size_t size)
{
    if (reg >= GDB_REGISTER_COUNT || size != gdb_registers[reg].bits / 8)
        return false;
    const struct gdb_register *r = &gdb_registers[reg];
    struct kvm_fpu *fpu = &state->fpu;
    uint64_t value = size <= 8 ? get(data, size) : 0;
    switch (r->source) {
    case SOURCE_GPR:
        *gdb_gpr(&state->regs, r->index) = value;
        break;
    case SOURCE_RIP:
        state->regs.rip = value;
        break;
    case SOURCE_RFLAGS:
        /* The upper half is reserved (zero), and bit 1 is always set. */
        state->regs.rflags = value | 2;
        break;
    case SOURCE_SEGMENT:
        return value == gdb_segment(&state->sregs, r->index)->selector;
    case SOURCE_ST:
        memcpy(fpu->fpr[r->index], data, 10);
        break;
    case SOURCE_FCW:
        fpu->fcw = (uint16_t)value;
        break;
    case SOURCE_FSW:
        fpu->fsw = (uint16_t)value;
        break;
    case SOURCE_FTAG:
        fpu->ftwx = gdb_x87_abridged_tag((uint16_t)value);
        break;
    case SOURCE_FISEG:
        fpu->last_ip = (uint32_t)fpu->last_ip | value << 32;
        break;
    case SOURCE_FIOFF:
        fpu->last_ip = (fpu->last_ip & ~0xffffffffull) | (uint32_t)value;
        break;
    case SOURCE_FOSEG:
        fpu->last_dp = (uint32_t)fpu->last_dp | value << 32;
        break;
    case SOURCE_FOOFF:
        fpu->last_dp = (fpu->last_dp & ~0xffffffffull) | (uint32_t)value;
        break;
    case SOURCE_FOP:
        fpu->last_opcode = (uint16_t)(value & 0x7ff);
        break;
    case SOURCE_XMM:
        memcpy(fpu->xmm[r->index], data, 16);
        break;
    case SOURCE_MXCSR:
        fpu->mxcsr = (uint32_t)value;
        break;
    case SOURCE_FS_BASE:
        state->sregs.fs.base = value;
        break;
    case SOURCE_GS_BASE:
        state->sregs.gs.base = value;
        break;
    case SOURCE_CR:
        *gdb_cr(&state->sregs, r->index) = value;
        break;
    case SOURCE_EFER:
        state->sregs.efer = value;
        break;
    case SOURCE_KERNEL_GS_BASE:
        state->kernel_gs_base = value;
        break;
    }
    return true;
}

bool gdb_registers_write(struct gdb_cpu_state *state, const uint8_t *data, size_t size)
{
    if (size != GDB_REGISTERS_BYTES)
        return false;
    struct gdb_cpu_state changed = *state;
    size_t at = 0;
    for (unsigned reg = 0; reg < GDB_REGISTER_COUNT; reg++) {
        size_t bytes = gdb_register_size(reg);
        if (!gdb_register_write(&changed, reg, data + at, bytes))
            return false;
        at += bytes;
    }
    *state = changed;
    return true;
}
