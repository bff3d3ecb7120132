#include "control/gdb_packet.h"

#include <string.h>

void gdb_reader_init(struct gdb_reader *reader)
{
    memset(reader, 0, sizeof(*reader));
    reader->state = GDB_READ_IDLE;
}

static void gdb_reader_start(struct gdb_reader *reader)
{
    reader->state = GDB_READ_DATA;
    reader->sum = 0;
    reader->length = 0;
    reader->overflow = false;
}

static void gdb_reader_append(struct gdb_reader *reader, uint8_t byte)
{
    if (reader->length == GDB_PACKET_MAX) {
        reader->overflow = true; /* read on to its end, then refuse it */
        return;
    }
    reader->data[reader->length++] = byte;
}

int gdb_hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum gdb_input gdb_reader_feed(struct gdb_reader *reader, uint8_t byte)
{
    switch (reader->state) {
    case GDB_READ_IDLE:
        switch (byte) {
        case '$':
            gdb_reader_start(reader);
            return GDB_INPUT_NONE;
        case '+':
            return GDB_INPUT_ACK;
        case '-':
            return GDB_INPUT_NAK;
        case 0x03:
            return GDB_INPUT_INTERRUPT;
        }
        return GDB_INPUT_NONE;
    case GDB_READ_DATA:
        if (byte == '$') {
            /* Unescaped, '$' only starts a packet: the one before was cut off. */
            gdb_reader_start(reader);
            return GDB_INPUT_NONE;
        }
        if (byte == '#') {
            reader->state = GDB_READ_SUM_HIGH;
            return GDB_INPUT_NONE;
        }
        reader->sum = (uint8_t)(reader->sum + byte);
        if (byte == '}')
            reader->state = GDB_READ_ESCAPE;
        else
            gdb_reader_append(reader, byte);
        return GDB_INPUT_NONE;
    case GDB_READ_ESCAPE:
        reader->sum = (uint8_t)(reader->sum + byte);
        gdb_reader_append(reader, byte ^ 0x20);
        reader->state = GDB_READ_DATA;
        return GDB_INPUT_NONE;
    case GDB_READ_SUM_HIGH: {
        int value = gdb_hex_value(byte);
        if (value < 0) {
            reader->state = GDB_READ_IDLE;
            return GDB_INPUT_BAD_PACKET;
        }
        reader->expected = (uint8_t)(value << 4);
        reader->state = GDB_READ_SUM_LOW;
        return GDB_INPUT_NONE;
    }
    case GDB_READ_SUM_LOW: {
        int value = gdb_hex_value(byte);
        reader->state = GDB_READ_IDLE;
        if (value < 0 || (reader->expected | value) != reader->sum || reader->overflow)
            return GDB_INPUT_BAD_PACKET;
        reader->data[reader->length] = '\0';
        return GDB_INPUT_PACKET;
    }
    }
    reader->state = GDB_READ_IDLE;
    return GDB_INPUT_NONE;
}

size_t gdb_packet_encode(const void *payload, size_t length, uint8_t *out, size_t capacity)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *bytes = payload;
    size_t at = 0;
    uint8_t sum = 0;
    if (capacity < 4)
        return 0;
    out[at++] = '$';
    for (size_t i = 0; i < length; i++) {
        uint8_t byte = bytes[i];
        bool escape = byte == '$' || byte == '#' || byte == '}' || byte == '*';
        if (capacity - at < (escape ? 2u : 1u) + 3u)
            return 0;
        if (escape) {
            out[at++] = '}';
            sum = (uint8_t)(sum + '}');
            byte ^= 0x20;
        }
        out[at++] = byte;
        sum = (uint8_t)(sum + byte);
    }
    out[at++] = '#';
    out[at++] = (uint8_t)digits[sum >> 4];
    out[at++] = (uint8_t)digits[sum & 15];
    return at;
}

void gdb_hex_encode(const uint8_t *bytes, size_t length, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < length; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
}

bool gdb_hex_decode(const char *text, size_t count, uint8_t *out)
{
    /* In place (out == text) is fine: byte i is written after digits 2i
     * and 2i+1 are read, and never lands past them. */
    for (size_t i = 0; i < count; i++) {
        int high = gdb_hex_value((uint8_t)text[2 * i]);
        int low = gdb_hex_value((uint8_t)text[2 * i + 1]);
        if (high < 0 || low < 0)
            return false;
        out[i] = (uint8_t)(high << 4 | low);
    }
    return true;
}

/* --- commands ---------------------------------------------------------------- */

/* A cursor over the payload: [at, end), end being the NUL. */
struct cursor {
    char *at, *end;
};

static bool cursor_take(struct cursor *c, char expected)
{
    if (c->at < c->end && *c->at == expected) {
        c->at++;
        return true;
    }
    return false;
}

/* One to sixteen hex digits. */
static bool cursor_hex(struct cursor *c, uint64_t *value)
{
    uint64_t result = 0;
    int digits = 0;
    for (; c->at < c->end; c->at++, digits++) {
        int digit = gdb_hex_value((uint8_t)*c->at);
        if (digit < 0)
            break;
        if (digits == 16)
            return false;
        result = result << 4 | (uint64_t)digit;
    }
    *value = result;
    return digits > 0;
}

/* -1 (all), or a hex number that fits an int32. */
static bool cursor_thread_number(struct cursor *c, int64_t *thread)
{
    uint64_t value;
    if (cursor_take(c, '-')) {
        *thread = GDB_THREAD_ALL;
        return cursor_take(c, '1');
    }
    if (!cursor_hex(c, &value) || value > INT32_MAX)
        return false;
    *thread = (int64_t)value;
    return true;
}

/* A thread id; in multiprocess form pPID.TID the TID (pPID alone: all). */
static bool cursor_thread(struct cursor *c, int64_t *thread)
{
    if (cursor_take(c, 'p')) {
        int64_t process;
        if (!cursor_thread_number(c, &process))
            return false;
        if (!cursor_take(c, '.')) {
            *thread = GDB_THREAD_ALL;
            return true;
        }
    }
    return cursor_thread_number(c, thread);
}

static bool cursor_done(const struct cursor *c)
{
    return c->at == c->end;
}

/* addr,length */
static bool parse_range(struct cursor *c, struct gdb_command *command)
{
    return cursor_hex(c, &command->address) && cursor_take(c, ',') &&
           cursor_hex(c, &command->length);
}

/* The hex after the cursor, to its end, decoded in place; count bytes when
 * count is not SIZE_MAX. */
static bool parse_hex_data(struct cursor *c, size_t count, struct gdb_command *command)
{
    size_t digits = (size_t)(c->end - c->at);
    if (digits % 2 || (count != SIZE_MAX && digits != 2 * count))
        return false;
    if (!gdb_hex_decode(c->at, digits / 2, (uint8_t *)c->at))
        return false;
    command->data = (const uint8_t *)c->at;
    command->data_length = digits / 2;
    return true;
}

/* c [addr] / s [addr]  and  C sig[;addr] / S sig[;addr] */
static bool parse_resume(struct cursor *c, bool with_signal, struct gdb_command *command)
{
    uint64_t value;
    if (with_signal) {
        if (!cursor_hex(c, &value) || value > 0xff)
            return false;
        command->signal = (uint8_t)value;
        if (cursor_done(c))
            return true;
        if (!cursor_take(c, ';'))
            return false;
    }
    if (cursor_done(c))
        return !with_signal; /* C05; with nothing after the ';' */
    command->has_address = true;
    return cursor_hex(c, &command->address) && cursor_done(c);
}

/* vCont;ACTION[:THREAD][;ACTION[:THREAD]]... */
static bool parse_vcont(struct cursor *c, struct gdb_command *command)
{
    while (!cursor_done(c)) {
        if (!cursor_take(c, ';') || command->action_count == GDB_VCONT_MAX_ACTIONS ||
            cursor_done(c))
            return false;
        struct gdb_vcont_action *action = &command->actions[command->action_count++];
        char letter = *c->at++;
        uint64_t signal = 0;
        switch (letter) {
        case 'C':
        case 'S':
            if (!cursor_hex(c, &signal) || signal > 0xff)
                return false;
            letter = letter == 'C' ? 'c' : 's';
            break;
        case 'c':
        case 's':
        case 't':
            break;
        default:
            return false; /* r (range stepping) is not offered */
        }
        *action = (struct gdb_vcont_action){letter, (uint8_t)signal, GDB_THREAD_ALL};
        if (cursor_take(c, ':') && !cursor_thread(c, &action->thread))
            return false;
    }
    return command->action_count > 0;
}

static void parse_query(struct cursor *c, struct gdb_command *command)
{
    command->kind = GDB_COMMAND_QUERY;
    command->query = c->at;
    while (c->at < c->end && *c->at != ':' && *c->at != ',')
        c->at++;
    command->query_length = (size_t)(c->at - command->query);
    command->arguments = c->at < c->end ? c->at + 1 : c->end;
}

static void parse_v(struct cursor *c, struct gdb_command *command)
{
    size_t left = (size_t)(c->end - c->at);
    if (left == 6 && !memcmp(c->at, "vCont?", 6)) {
        command->kind = GDB_COMMAND_VCONT_QUERY;
    } else if (left >= 5 && !memcmp(c->at, "vCont", 5) && (left == 5 || c->at[5] == ';')) {
        c->at += 5;
        command->kind = parse_vcont(c, command) ? GDB_COMMAND_VCONT : GDB_COMMAND_MALFORMED;
    } else if (left >= 5 && !memcmp(c->at, "vKill", 5)) {
        command->kind = GDB_COMMAND_KILL;
    }
    /* vMustReplyEmpty, vFile, vRun, ...: unsupported, an empty reply. */
}

void gdb_command_parse(uint8_t *packet, size_t length, struct gdb_command *command)
{
    memset(command, 0, sizeof(*command));
    command->kind = GDB_COMMAND_UNSUPPORTED;
    struct cursor c = {(char *)packet, (char *)packet + length};
    if (length == 0)
        return;
    char letter = *c.at;
    if (letter == 'q' || letter == 'Q') {
        parse_query(&c, command);
        return;
    }
    if (letter == 'v') {
        parse_v(&c, command);
        return;
    }
    c.at++;
    bool ok = false;
    uint64_t value;
    switch (letter) {
    case '?':
        command->kind = GDB_COMMAND_HALT_REASON;
        ok = cursor_done(&c);
        break;
    case 'g':
        command->kind = GDB_COMMAND_READ_REGISTERS;
        ok = cursor_done(&c);
        break;
    case 'G':
        command->kind = GDB_COMMAND_WRITE_REGISTERS;
        ok = parse_hex_data(&c, SIZE_MAX, command);
        break;
    case 'p':
        command->kind = GDB_COMMAND_READ_REGISTER;
        ok = cursor_hex(&c, &value) && value <= UINT16_MAX && cursor_done(&c);
        command->reg = (unsigned)value;
        break;
    case 'P':
        command->kind = GDB_COMMAND_WRITE_REGISTER;
        ok = cursor_hex(&c, &value) && value <= UINT16_MAX && cursor_take(&c, '=') &&
             parse_hex_data(&c, SIZE_MAX, command) && command->data_length > 0;
        command->reg = (unsigned)value;
        break;
    case 'm':
        command->kind = GDB_COMMAND_READ_MEMORY;
        ok = parse_range(&c, command) && cursor_done(&c);
        break;
    case 'M':
        command->kind = GDB_COMMAND_WRITE_MEMORY;
        ok = parse_range(&c, command) && cursor_take(&c, ':') && command->length <= length &&
             parse_hex_data(&c, (size_t)command->length, command);
        break;
    case 'X':
        /* Binary, already unescaped by the reader: exactly length bytes. */
        command->kind = GDB_COMMAND_WRITE_MEMORY;
        ok = parse_range(&c, command) && cursor_take(&c, ':') &&
             (uint64_t)(c.end - c.at) == command->length;
        command->data = (const uint8_t *)c.at;
        command->data_length = (size_t)(c.end - c.at);
        break;
    case 'Z':
    case 'z':
        command->kind = letter == 'Z' ? GDB_COMMAND_INSERT_POINT : GDB_COMMAND_REMOVE_POINT;
        ok = cursor_hex(&c, &value) && cursor_take(&c, ',') && cursor_hex(&c, &command->address) &&
             cursor_take(&c, ',') && cursor_hex(&c, &command->length) &&
             (cursor_done(&c) || *c.at == ';'); /* conditions after ';' are not offered */
        if (ok && value > GDB_POINT_ACCESS_WATCH) {
            command->kind = GDB_COMMAND_UNSUPPORTED; /* the spec's answer to a type not known */
            return;
        }
        command->point = (unsigned)value;
        break;
    case 'H':
        command->kind = GDB_COMMAND_SET_THREAD;
        command->thread_op = c.at < c.end ? *c.at++ : '\0';
        ok = (command->thread_op == 'g' || command->thread_op == 'c') &&
             cursor_thread(&c, &command->thread) && cursor_done(&c);
        break;
    case 'T':
        command->kind = GDB_COMMAND_THREAD_ALIVE;
        ok = cursor_thread(&c, &command->thread) && cursor_done(&c);
        break;
    case 'c':
    case 's':
        command->kind = letter == 'c' ? GDB_COMMAND_CONTINUE : GDB_COMMAND_STEP;
        ok = parse_resume(&c, false, command);
        break;
    case 'C':
    case 'S':
        command->kind = letter == 'C' ? GDB_COMMAND_CONTINUE : GDB_COMMAND_STEP;
        ok = parse_resume(&c, true, command);
        break;
    case 'D':
        command->kind = GDB_COMMAND_DETACH;
        ok = cursor_done(&c) || (cursor_take(&c, ';') && cursor_hex(&c, &value) && cursor_done(&c));
        break;
    case 'k':
        command->kind = GDB_COMMAND_KILL;
        ok = true;
        break;
    default:
        return; /* unsupported */
    }
    if (!ok) {
        command->kind = GDB_COMMAND_MALFORMED;
        command->data = NULL;
        command->data_length = 0;
    }
}
