/* The GDB packet reader on the input as a debugger's byte stream, the command
 * parse of every packet it completes, the encoder on each payload, and the
 * register commands applied to a vCPU state: no crash, every pointer the parse
 * returns inside the packet, an encoded payload that reads back as itself,
 * and a register write that reads back as written or changes nothing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control/gdb_packet.h"
#include "control/gdb_registers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const uint8_t *packet, size_t length, const void *pointer, size_t bytes)
{
    const uint8_t *p = pointer;
    if (bytes && (p < packet || p + bytes > packet + length))
        abort();
}

static void check_registers(const struct gdb_command *command)
{
    static struct gdb_cpu_state cpu;
    uint8_t value[GDB_REGISTER_MAX_BYTES];
    static uint8_t all[GDB_REGISTERS_BYTES];
    struct gdb_cpu_state before = cpu;
    switch (command->kind) {
    case GDB_COMMAND_READ_REGISTER:
        if (gdb_register_read(&cpu, command->reg, value) != gdb_register_size(command->reg))
            abort();
        break;
    case GDB_COMMAND_WRITE_REGISTER:
        if (!gdb_register_write(&cpu, command->reg, command->data, command->data_length)) {
            if (memcmp(&before, &cpu, sizeof(cpu)))
                abort(); /* refused, yet changed */
        } else if (gdb_register_read(&cpu, command->reg, value) != command->data_length) {
            abort();
        }
        break;
    case GDB_COMMAND_WRITE_REGISTERS:
        if (!gdb_registers_write(&cpu, command->data, command->data_length) &&
            memcmp(&before, &cpu, sizeof(cpu)))
            abort();
        if (gdb_registers_read(&cpu, all) != GDB_REGISTERS_BYTES)
            abort();
        break;
    default:
        break;
    }
}

static void check_packet(const struct gdb_reader *reader)
{
    static uint8_t packet[GDB_PACKET_MAX + 1];
    static uint8_t encoded[GDB_ENCODED_MAX(GDB_PACKET_MAX)];
    static struct gdb_reader again;
    size_t length = reader->length;
    if (length > GDB_PACKET_MAX || reader->data[length] != '\0')
        abort();

    /* Encoded, it reads back as the same payload. */
    size_t sent = gdb_packet_encode(reader->data, length, encoded, sizeof(encoded));
    if (sent == 0)
        abort();
    gdb_reader_init(&again);
    enum gdb_input last = GDB_INPUT_NONE;
    for (size_t i = 0; i < sent; i++)
        last = gdb_reader_feed(&again, encoded[i]);
    if (last != GDB_INPUT_PACKET || again.length != length ||
        memcmp(again.data, reader->data, length) != 0)
        abort();

    memcpy(packet, reader->data, length + 1);
    struct gdb_command command;
    gdb_command_parse(packet, length, &command);
    check_inside(packet, length, command.data, command.data_length);
    if (command.kind == GDB_COMMAND_QUERY) {
        check_inside(packet, length, command.query, command.query_length);
        if ((const uint8_t *)command.arguments < packet ||
            (const uint8_t *)command.arguments > packet + length)
            abort();
    }
    if (command.action_count > GDB_VCONT_MAX_ACTIONS)
        abort();
    if (command.kind == GDB_COMMAND_WRITE_MEMORY && command.data_length != command.length)
        abort();
    check_registers(&command);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct gdb_reader reader;
    gdb_reader_init(&reader);
    for (size_t i = 0; i < size; i++)
        if (gdb_reader_feed(&reader, data[i]) == GDB_INPUT_PACKET)
            check_packet(&reader);
    return 0;
}
