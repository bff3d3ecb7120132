#include "control/gdb_stub.h"

#include <stdio.h>
#include <string.h>

#define INT3 0xcc

/* What we tell gdb we do.  PacketSize is GDB_PACKET_MAX, in hex. */
static const char gdb_supported[] = "PacketSize=1000;qXfer:features:read+;QStartNoAckMode+;"
                                    "vContSupported+;swbreak+;hwbreak+";

void gdb_stub_init(struct gdb_stub *stub, const struct gdb_target_ops *ops, void *target,
                   bool (*send)(void *opaque, const void *bytes, size_t length),
                   void *send_opaque)
{
    memset(stub, 0, sizeof(*stub));
    stub->ops = ops;
    stub->target = target;
    stub->send = send;
    stub->send_opaque = send_opaque;
    gdb_reader_init(&stub->reader);
    stub->thread_c = GDB_THREAD_ALL;
    stub->stop = (struct gdb_stop){.reason = GDB_STOP_SIGNAL, .cpu = 0, .signal = 5};
}

static unsigned gdb_cpu_count(const struct gdb_stub *stub)
{
    unsigned count = stub->ops->cpu_count(stub->target);
    return count > GDB_MAX_CPUS ? GDB_MAX_CPUS : count;
}

/* --- replies ------------------------------------------------------------------ */

static void gdb_send_packet(struct gdb_stub *stub, const void *payload, size_t length)
{
    stub->framed_length = gdb_packet_encode(payload, length, stub->framed, sizeof(stub->framed));
    if (stub->framed_length)
        stub->send(stub->send_opaque, stub->framed, stub->framed_length);
}

static void gdb_reply(struct gdb_stub *stub, const char *text)
{
    gdb_send_packet(stub, text, strlen(text));
}

/* E followed by two hex digits: gdb shows the number, not a meaning. */
#define GDB_E_BAD "E01"      /* malformed, or not possible */
#define GDB_E_THREAD "E02"   /* no such thread */
#define GDB_E_TARGET "E05"   /* the target refused (KVM failed) */
#define GDB_E_MEMORY "E14"   /* EFAULT: not mapped, or not RAM */
#define GDB_E_INVALID "E16"  /* EINVAL: a point of an impossible size or alignment */
#define GDB_E_FULL "E1c"     /* ENOSPC: no debug register or slot left */

static void gdb_reply_hex(struct gdb_stub *stub, const uint8_t *bytes, size_t length)
{
    if (2 * length > GDB_PACKET_MAX)
        length = GDB_PACKET_MAX / 2;
    gdb_hex_encode(bytes, length, (char *)stub->reply);
    gdb_send_packet(stub, stub->reply, 2 * length);
}

/* T05thread:N; and why, as swbreak+ and hwbreak+ promise. */
static void gdb_reply_stop(struct gdb_stub *stub)
{
    const struct gdb_stop *stop = &stub->stop;
    char text[96];
    int length = snprintf(text, sizeof(text), "T%02xthread:%x;", stop->signal, stop->cpu + 1);
    static const char *const watch_names[] = {"", "", "watch", "rwatch", "awatch"};
    switch (stop->reason) {
    case GDB_STOP_SW_BREAK:
        snprintf(text + length, sizeof(text) - (size_t)length, "swbreak:;");
        break;
    case GDB_STOP_HW_BREAK:
        snprintf(text + length, sizeof(text) - (size_t)length, "hwbreak:;");
        break;
    case GDB_STOP_WATCH:
        if (stop->watch_type >= GDB_POINT_WRITE_WATCH && stop->watch_type <= GDB_POINT_ACCESS_WATCH)
            snprintf(text + length, sizeof(text) - (size_t)length, "%s:%llx;",
                     watch_names[stop->watch_type], (unsigned long long)stop->watch_address);
        break;
    default:
        break;
    }
    gdb_reply(stub, text);
}

/* --- threads ------------------------------------------------------------------ */

/* The vCPU a thread id names (ANY and ALL: fallback). */
static bool gdb_thread_cpu(const struct gdb_stub *stub, int64_t thread, unsigned fallback,
                           unsigned *cpu)
{
    if (thread == GDB_THREAD_ANY || thread == GDB_THREAD_ALL) {
        *cpu = fallback;
        return true;
    }
    if (thread < 1 || (uint64_t)thread > gdb_cpu_count(stub))
        return false;
    *cpu = (unsigned)(thread - 1);
    return true;
}

/* --- memory and breakpoints ------------------------------------------------- */

static int gdb_find_breakpoint(const struct gdb_stub *stub, uint64_t address)
{
    for (unsigned i = 0; i < stub->breakpoint_count; i++)
        if (stub->breakpoints[i].address == address)
            return (int)i;
    return -1;
}

/* The guest's memory as it would be without our int3s. */
static void gdb_read_memory(struct gdb_stub *stub, uint64_t address, uint64_t length)
{
    if (length > GDB_PACKET_MAX / 2)
        length = GDB_PACKET_MAX / 2; /* a shorter reply is allowed */
    uint8_t bytes[GDB_PACKET_MAX / 2];
    size_t done = stub->ops->read_memory(stub->target, stub->cpu_g, address, bytes, length);
    if (done == 0 && length > 0) {
        gdb_reply(stub, GDB_E_MEMORY);
        return;
    }
    for (unsigned i = 0; i < stub->breakpoint_count; i++) {
        uint64_t offset = stub->breakpoints[i].address - address;
        if (offset < done)
            bytes[offset] = stub->breakpoints[i].saved;
    }
    gdb_reply_hex(stub, bytes, done);
}

/* A write over one of our int3s changes what it hides; the int3 stays. */
static void gdb_write_memory(struct gdb_stub *stub, uint64_t address, const uint8_t *data,
                             size_t length)
{
    size_t done = stub->ops->write_memory(stub->target, stub->cpu_g, address, data, length);
    for (unsigned i = 0; i < stub->breakpoint_count; i++) {
        uint64_t offset = stub->breakpoints[i].address - address;
        if (offset < done) {
            static const uint8_t int3 = INT3;
            stub->breakpoints[i].saved = data[offset];
            stub->ops->write_memory(stub->target, stub->breakpoints[i].cpu,
                                    stub->breakpoints[i].address, &int3, 1);
        }
    }
    gdb_reply(stub, done == length ? "OK" : GDB_E_MEMORY);
}

static bool gdb_apply_debug(struct gdb_stub *stub)
{
    return stub->ops->set_debug(stub->target, stub->hw_points, stub->hw_point_count,
                                stub->breakpoint_count > 0) == 0;
}

static const char *gdb_insert_software(struct gdb_stub *stub, uint64_t address, uint64_t kind)
{
    if (kind != 1)
        return GDB_E_INVALID; /* x86's breakpoint instruction is one byte */
    if (gdb_find_breakpoint(stub, address) >= 0)
        return "OK";
    if (stub->breakpoint_count == GDB_MAX_BREAKPOINTS)
        return GDB_E_FULL;
    uint8_t saved;
    static const uint8_t int3 = INT3;
    if (stub->ops->read_memory(stub->target, stub->cpu_g, address, &saved, 1) != 1 ||
        stub->ops->write_memory(stub->target, stub->cpu_g, address, &int3, 1) != 1)
        return GDB_E_MEMORY;
    stub->breakpoints[stub->breakpoint_count++] =
        (typeof(stub->breakpoints[0])){address, stub->cpu_g, saved};
    if (stub->breakpoint_count == 1 && !gdb_apply_debug(stub)) {
        stub->ops->write_memory(stub->target, stub->cpu_g, address, &saved, 1);
        stub->breakpoint_count--;
        return GDB_E_TARGET;
    }
    return "OK";
}

static void gdb_remove_software_at(struct gdb_stub *stub, unsigned index)
{
    stub->ops->write_memory(stub->target, stub->breakpoints[index].cpu,
                            stub->breakpoints[index].address, &stub->breakpoints[index].saved, 1);
    stub->breakpoints[index] = stub->breakpoints[--stub->breakpoint_count];
}

static const char *gdb_remove_software(struct gdb_stub *stub, uint64_t address)
{
    int index = gdb_find_breakpoint(stub, address);
    if (index < 0)
        return "OK"; /* already out: removing twice is no harm */
    gdb_remove_software_at(stub, (unsigned)index);
    if (stub->breakpoint_count == 0 && !gdb_apply_debug(stub))
        return GDB_E_TARGET;
    return "OK";
}

static int gdb_find_hw_point(const struct gdb_stub *stub, unsigned type, uint64_t address,
                             uint64_t length)
{
    for (unsigned i = 0; i < stub->hw_point_count; i++)
        if (stub->hw_points[i].type == type && stub->hw_points[i].address == address &&
            stub->hw_points[i].length == length)
            return (int)i;
    return -1;
}

/* Debug registers: an execution breakpoint is one byte; a watchpoint 1, 2,
 * 4 or 8 bytes at an address aligned to its size (the hardware's rule). */
static const char *gdb_insert_hardware(struct gdb_stub *stub, unsigned type, uint64_t address,
                                       uint64_t length)
{
    if (type == GDB_POINT_SOFTWARE && length != 1)
        return GDB_E_INVALID;
    if (type == GDB_POINT_HARDWARE || type == GDB_POINT_SOFTWARE)
        length = 1; /* gdb's kind for x86 is 1; the register takes no other */
    else if ((length != 1 && length != 2 && length != 4 && length != 8) || (address & (length - 1)))
        return GDB_E_INVALID;
    if (gdb_find_hw_point(stub, type, address, length) >= 0)
        return "OK";
    if (stub->hw_point_count == GDB_MAX_HW_POINTS)
        return GDB_E_FULL;
    stub->hw_points[stub->hw_point_count++] = (struct gdb_hw_point){type, address, (unsigned)length};
    if (!gdb_apply_debug(stub)) {
        stub->hw_point_count--;
        return GDB_E_TARGET;
    }
    return "OK";
}

static const char *gdb_remove_hardware(struct gdb_stub *stub, unsigned type, uint64_t address,
                                       uint64_t length)
{
    if (type == GDB_POINT_HARDWARE || type == GDB_POINT_SOFTWARE)
        length = 1;
    int index = gdb_find_hw_point(stub, type, address, length);
    if (index < 0)
        return "OK";
    stub->hw_points[index] = stub->hw_points[--stub->hw_point_count];
    return gdb_apply_debug(stub) ? "OK" : GDB_E_TARGET;
}

static void gdb_point(struct gdb_stub *stub, const struct gdb_command *command, bool insert)
{
    const char *answer;
    switch (command->point) {
    case GDB_POINT_SOFTWARE:
        if (stub->breakpoints_in_debug_registers)
            answer = insert ? gdb_insert_hardware(stub, GDB_POINT_SOFTWARE, command->address,
                                                  command->length)
                            : gdb_remove_hardware(stub, GDB_POINT_SOFTWARE, command->address,
                                                  command->length);
        else
            answer = insert ? gdb_insert_software(stub, command->address, command->length)
                            : gdb_remove_software(stub, command->address);
        break;
    case GDB_POINT_READ_WATCH:
        answer = ""; /* x86 watches writes, or reads and writes: not reads alone */
        break;
    default:
        answer = insert ? gdb_insert_hardware(stub, command->point, command->address,
                                              command->length)
                        : gdb_remove_hardware(stub, command->point, command->address,
                                              command->length);
        break;
    }
    gdb_reply(stub, answer);
}

/* Every int3 out of guest memory and the debug registers cleared. */
static void gdb_remove_all_points(struct gdb_stub *stub)
{
    while (stub->breakpoint_count)
        gdb_remove_software_at(stub, stub->breakpoint_count - 1);
    stub->hw_point_count = 0;
    gdb_apply_debug(stub);
}

/* --- registers ---------------------------------------------------------------- */

static void gdb_registers(struct gdb_stub *stub, const struct gdb_command *command)
{
    struct gdb_cpu_state state;
    if (stub->ops->get_state(stub->target, stub->cpu_g, &state)) {
        gdb_reply(stub, GDB_E_TARGET);
        return;
    }
    uint8_t bytes[GDB_REGISTERS_BYTES];
    bool ok = true;
    switch (command->kind) {
    case GDB_COMMAND_READ_REGISTERS:
        gdb_reply_hex(stub, bytes, gdb_registers_read(&state, bytes));
        return;
    case GDB_COMMAND_READ_REGISTER: {
        size_t size = gdb_register_read(&state, command->reg, bytes);
        if (size)
            gdb_reply_hex(stub, bytes, size);
        else
            gdb_reply(stub, GDB_E_BAD);
        return;
    }
    case GDB_COMMAND_WRITE_REGISTERS:
        ok = gdb_registers_write(&state, command->data, command->data_length);
        break;
    default:
        ok = gdb_register_write(&state, command->reg, command->data, command->data_length);
        break;
    }
    if (!ok)
        gdb_reply(stub, GDB_E_BAD);
    else if (stub->ops->set_state(stub->target, stub->cpu_g, &state))
        gdb_reply(stub, GDB_E_TARGET);
    else
        gdb_reply(stub, "OK");
}

/* --- running ------------------------------------------------------------------ */

static void gdb_resume(struct gdb_stub *stub, const enum gdb_run *run)
{
    stub->running = true;
    stub->ops->resume(stub->target, run);
}

/* c/s [addr]: Hc's thread (or, for all, the current one) steps or every vCPU
 * continues; at addr when given. */
static void gdb_continue_or_step(struct gdb_stub *stub, const struct gdb_command *command)
{
    unsigned cpu;
    if (!gdb_thread_cpu(stub, stub->thread_c, stub->cpu_g, &cpu)) {
        gdb_reply(stub, GDB_E_THREAD);
        return;
    }
    if (command->has_address) {
        struct gdb_cpu_state state;
        if (stub->ops->get_state(stub->target, cpu, &state)) {
            gdb_reply(stub, GDB_E_TARGET);
            return;
        }
        state.regs.rip = command->address;
        if (stub->ops->set_state(stub->target, cpu, &state)) {
            gdb_reply(stub, GDB_E_TARGET);
            return;
        }
    }
    enum gdb_run run[GDB_MAX_CPUS];
    unsigned count = gdb_cpu_count(stub);
    bool step = command->kind == GDB_COMMAND_STEP;
    for (unsigned i = 0; i < count; i++)
        run[i] = step ? (i == cpu ? GDB_RUN_STEP : GDB_RUN_STAY) : GDB_RUN_CONTINUE;
    gdb_resume(stub, run);
}

/* vCont: for each vCPU the first action that names it (or all). */
static void gdb_vcont(struct gdb_stub *stub, const struct gdb_command *command)
{
    enum gdb_run run[GDB_MAX_CPUS];
    unsigned count = gdb_cpu_count(stub);
    bool any = false;
    for (unsigned a = 0; a < command->action_count; a++) {
        int64_t thread = command->actions[a].thread;
        if (thread != GDB_THREAD_ALL && (thread < 1 || (uint64_t)thread > count)) {
            gdb_reply(stub, GDB_E_THREAD);
            return;
        }
    }
    for (unsigned cpu = 0; cpu < count; cpu++) {
        run[cpu] = GDB_RUN_STAY;
        for (unsigned a = 0; a < command->action_count; a++) {
            const struct gdb_vcont_action *action = &command->actions[a];
            if (action->thread != GDB_THREAD_ALL && action->thread != (int64_t)cpu + 1)
                continue;
            run[cpu] = action->action == 's' ? GDB_RUN_STEP
                       : action->action == 'c' ? GDB_RUN_CONTINUE
                                               : GDB_RUN_STAY;
            break;
        }
        any |= run[cpu] != GDB_RUN_STAY;
    }
    if (!any) {
        gdb_reply_stop(stub); /* nothing to run: still stopped */
        return;
    }
    gdb_resume(stub, run);
}

/* --- queries ------------------------------------------------------------------ */

static bool gdb_query_is(const struct gdb_command *command, const char *name)
{
    return command->query_length == strlen(name) &&
           !memcmp(command->query, name, command->query_length);
}

/* qXfer:features:read:target.xml:OFFSET,LENGTH */
static void gdb_xfer(struct gdb_stub *stub, const char *arguments)
{
    static const char prefix[] = "features:read:target.xml:";
    unsigned long long offset, length;
    char end;
    if (strncmp(arguments, prefix, sizeof(prefix) - 1)) {
        gdb_reply(stub, ""); /* other objects and annexes: not offered */
        return;
    }
    if (sscanf(arguments + sizeof(prefix) - 1, "%llx,%llx%c", &offset, &length, &end) != 2) {
        gdb_reply(stub, GDB_E_BAD);
        return;
    }
    size_t size;
    const char *xml = gdb_target_xml(&size);
    if (offset >= size) {
        gdb_reply(stub, "l");
        return;
    }
    size_t take = size - offset;
    if (length < take)
        take = (size_t)length;
    if (take > GDB_PACKET_MAX - 1)
        take = GDB_PACKET_MAX - 1;
    stub->reply[0] = offset + take == size ? 'l' : 'm';
    memcpy(stub->reply + 1, xml + offset, take);
    gdb_send_packet(stub, stub->reply, take + 1);
}

/* qRcmd,HEX: gdb's `monitor COMMAND`; the reply is the output, in hex. */
static void gdb_monitor(struct gdb_stub *stub, const char *hex)
{
    size_t hex_length = strlen(hex);
    char command[64];
    if (hex_length % 2 || hex_length / 2 >= sizeof(command) ||
        !gdb_hex_decode(hex, hex_length / 2, (uint8_t *)command)) {
        gdb_reply(stub, GDB_E_BAD);
        return;
    }
    command[hex_length / 2] = 0;
    char text[1024];
    size_t at = 0;
    if (!strcmp(command, "info")) {
        text[0] = 0;
        if (stub->ops->describe)
            stub->ops->describe(stub->target, text, sizeof(text));
        at = strlen(text);
        snprintf(text + at, sizeof(text) - at,
                 "debugger: %u software breakpoints (%s), %u debug registers in use\n",
                 stub->breakpoint_count,
                 stub->breakpoints_in_debug_registers ? "in debug registers" : "int3",
                 stub->hw_point_count);
    } else if (!strcmp(command, "help")) {
        snprintf(text, sizeof(text), "monitor info: the VM, what this host's KVM fires, and the "
                                     "debugger's breakpoints\nmonitor help: this\n");
    } else {
        snprintf(text, sizeof(text), "unknown monitor command \"%.40s\"; monitor help lists "
                                     "them\n",
                 command);
    }
    gdb_reply_hex(stub, (const uint8_t *)text, strlen(text));
}

static void gdb_query(struct gdb_stub *stub, const struct gdb_command *command)
{
    char text[GDB_MAX_CPUS * 4 + 8];
    if (gdb_query_is(command, "qSupported")) {
        gdb_reply(stub, gdb_supported);
    } else if (gdb_query_is(command, "qXfer")) {
        gdb_xfer(stub, command->arguments);
    } else if (gdb_query_is(command, "QStartNoAckMode")) {
        gdb_reply(stub, "OK");
        stub->no_ack = true; /* after the OK, which gdb still acknowledges */
    } else if (gdb_query_is(command, "qfThreadInfo")) {
        size_t at = 0;
        text[at++] = 'm';
        for (unsigned cpu = 0; cpu < gdb_cpu_count(stub); cpu++)
            at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%x", cpu ? "," : "", cpu + 1);
        gdb_reply(stub, text);
    } else if (gdb_query_is(command, "qsThreadInfo")) {
        gdb_reply(stub, "l");
    } else if (gdb_query_is(command, "qC")) {
        snprintf(text, sizeof(text), "QC%x", stub->stop.cpu + 1);
        gdb_reply(stub, text);
    } else if (gdb_query_is(command, "qRcmd")) {
        gdb_monitor(stub, command->arguments);
    } else if (gdb_query_is(command, "qAttached")) {
        gdb_reply(stub, "1"); /* detach leaves the VM running, it does not end it */
    } else if (gdb_query_is(command, "qThreadExtraInfo")) {
        uint64_t thread = 0;
        char name[32];
        if (sscanf(command->arguments, "%llx", (unsigned long long *)&thread) != 1 || thread < 1 ||
            thread > gdb_cpu_count(stub)) {
            gdb_reply(stub, GDB_E_THREAD);
            return;
        }
        int length = snprintf(name, sizeof(name), "vCPU %u", (unsigned)(thread - 1));
        gdb_reply_hex(stub, (const uint8_t *)name, (size_t)length);
    } else {
        gdb_reply(stub, ""); /* qOffsets, qSymbol, qTStatus, ...: not ours */
    }
}

/* --- the session --------------------------------------------------------------- */

static void gdb_handle(struct gdb_stub *stub, uint8_t *packet, size_t length)
{
    struct gdb_command command;
    gdb_command_parse(packet, length, &command);
    if (stub->running) {
        /* In all-stop mode gdb sends nothing but 0x03 while the target runs. */
        gdb_reply(stub, GDB_E_BAD);
        return;
    }
    unsigned cpu;
    switch (command.kind) {
    case GDB_COMMAND_UNSUPPORTED:
        gdb_reply(stub, "");
        break;
    case GDB_COMMAND_MALFORMED:
        gdb_reply(stub, GDB_E_BAD);
        break;
    case GDB_COMMAND_HALT_REASON:
        gdb_reply_stop(stub);
        break;
    case GDB_COMMAND_READ_REGISTERS:
    case GDB_COMMAND_WRITE_REGISTERS:
    case GDB_COMMAND_READ_REGISTER:
    case GDB_COMMAND_WRITE_REGISTER:
        gdb_registers(stub, &command);
        break;
    case GDB_COMMAND_READ_MEMORY:
        gdb_read_memory(stub, command.address, command.length);
        break;
    case GDB_COMMAND_WRITE_MEMORY:
        gdb_write_memory(stub, command.address, command.data, command.data_length);
        break;
    case GDB_COMMAND_INSERT_POINT:
    case GDB_COMMAND_REMOVE_POINT:
        gdb_point(stub, &command, command.kind == GDB_COMMAND_INSERT_POINT);
        break;
    case GDB_COMMAND_SET_THREAD:
        if (command.thread_op == 'c') {
            if (!gdb_thread_cpu(stub, command.thread, 0, &cpu)) {
                gdb_reply(stub, GDB_E_THREAD);
                break;
            }
            stub->thread_c = command.thread;
        } else if (gdb_thread_cpu(stub, command.thread, stub->cpu_g, &cpu)) {
            stub->cpu_g = cpu;
        } else {
            gdb_reply(stub, GDB_E_THREAD);
            break;
        }
        gdb_reply(stub, "OK");
        break;
    case GDB_COMMAND_THREAD_ALIVE:
        gdb_reply(stub, command.thread >= 1 && gdb_thread_cpu(stub, command.thread, 0, &cpu)
                            ? "OK"
                            : GDB_E_THREAD);
        break;
    case GDB_COMMAND_CONTINUE:
    case GDB_COMMAND_STEP:
        gdb_continue_or_step(stub, &command);
        break;
    case GDB_COMMAND_VCONT_QUERY:
        gdb_reply(stub, "vCont;c;C;s;S;t");
        break;
    case GDB_COMMAND_VCONT:
        gdb_vcont(stub, &command);
        break;
    case GDB_COMMAND_DETACH:
        gdb_remove_all_points(stub);
        gdb_reply(stub, "OK");
        stub->finished = true;
        stub->ops->detach(stub->target);
        break;
    case GDB_COMMAND_KILL:
        if (packet[0] == 'v')
            gdb_reply(stub, "OK"); /* vKill answers; k does not */
        stub->finished = true;
        stub->ops->kill(stub->target);
        break;
    case GDB_COMMAND_QUERY:
        gdb_query(stub, &command);
        break;
    }
}

void gdb_stub_input(struct gdb_stub *stub, const uint8_t *bytes, size_t length)
{
    for (size_t i = 0; i < length && !stub->finished; i++) {
        switch (gdb_reader_feed(&stub->reader, bytes[i])) {
        case GDB_INPUT_PACKET:
            if (!stub->no_ack)
                stub->send(stub->send_opaque, "+", 1);
            gdb_handle(stub, stub->reader.data, stub->reader.length);
            break;
        case GDB_INPUT_BAD_PACKET:
            if (!stub->no_ack)
                stub->send(stub->send_opaque, "-", 1);
            break;
        case GDB_INPUT_NAK:
            if (stub->framed_length && !stub->no_ack)
                stub->send(stub->send_opaque, stub->framed, stub->framed_length);
            break;
        case GDB_INPUT_INTERRUPT:
            if (stub->running)
                stub->ops->interrupt(stub->target);
            break;
        case GDB_INPUT_ACK:
        case GDB_INPUT_NONE:
            break;
        }
    }
}

void gdb_stub_stopped(struct gdb_stub *stub, const struct gdb_stop *stop)
{
    if (stub->lost) {
        /* Stopped to take our points out, for a debugger that has gone. */
        stub->lost = false;
        stub->running = false;
        gdb_remove_all_points(stub);
        stub->ops->detach(stub->target);
        return;
    }
    if (stub->finished)
        return;
    stub->stop = *stop;
    if (stub->stop.cpu >= gdb_cpu_count(stub))
        stub->stop.cpu = 0;
    stub->cpu_g = stub->stop.cpu; /* gdb looks at the thread that stopped */
    if (!stub->running)
        return; /* a stop nobody asked for (the target was already stopped) */
    stub->running = false;
    gdb_reply_stop(stub);
}

void gdb_stub_disconnected(struct gdb_stub *stub)
{
    if (stub->finished)
        return;
    stub->finished = true;
    if (stub->running) {
        /* Our int3s must not stay in a guest nobody debugs: stop it, and
         * let it go at the stop. */
        stub->lost = true;
        stub->ops->interrupt(stub->target);
        return;
    }
    gdb_remove_all_points(stub);
    stub->ops->detach(stub->target);
}

bool gdb_stub_has_breakpoint(const struct gdb_stub *stub, uint64_t address)
{
    return gdb_find_breakpoint(stub, address) >= 0;
}
