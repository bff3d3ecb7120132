/* The GDB remote serial protocol's packets, without sockets or vCPUs: the
 * framing both ways and the parse of the debugger's commands into what a stub
 * acts on.  Everything here takes bytes from the debugger (a peer on a socket)
 * and must hold against any of them.
 *
 * On the wire a packet is $DATA#CC: CC is the sum of DATA's bytes as sent,
 * modulo 256, in two hex digits; in DATA, '}' escapes the next byte (which is
 * XOR 0x20).  Between packets the debugger sends '+' and '-' (the last packet
 * arrived, or must be sent again) and 0x03 (interrupt: stop the target). */
#ifndef GUEST_CONTROL_GDB_PACKET_H
#define GUEST_CONTROL_GDB_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest payload we take (the PacketSize qSupported advertises) and
 * hence the most memory one m or X moves: a hex m reply doubles the bytes. */
#define GDB_PACKET_MAX 4096
/* The buffer gdb_packet_encode needs at worst for a payload of n bytes: each
 * byte escaped, plus $, # and the checksum. */
#define GDB_ENCODED_MAX(n) (2 * (size_t)(n) + 4)

enum gdb_input {
    GDB_INPUT_NONE,       /* nothing complete yet */
    GDB_INPUT_PACKET,     /* reader.data holds a packet's payload: acknowledge with '+' */
    GDB_INPUT_BAD_PACKET, /* wrong checksum, or longer than GDB_PACKET_MAX: answer '-' */
    GDB_INPUT_ACK,        /* '+' */
    GDB_INPUT_NAK,        /* '-': send the last packet again */
    GDB_INPUT_INTERRUPT,  /* 0x03 */
};

struct gdb_reader {
    enum { GDB_READ_IDLE, GDB_READ_DATA, GDB_READ_ESCAPE, GDB_READ_SUM_HIGH, GDB_READ_SUM_LOW } state;
    uint8_t sum;      /* of the bytes as sent */
    uint8_t expected; /* the checksum's high digit, once read */
    bool overflow;    /* more than GDB_PACKET_MAX bytes: the packet is refused */
    size_t length;
    /* The payload, unescaped and NUL-terminated (a payload may hold NULs:
     * use length).  Valid from GDB_INPUT_PACKET until the next feed. */
    uint8_t data[GDB_PACKET_MAX + 1];
};

void gdb_reader_init(struct gdb_reader *reader);
/* One byte from the debugger; what it completed.  Bytes outside a packet
 * other than '+', '-', 0x03 and '$' are ignored, as gdb's own stubs do. */
enum gdb_input gdb_reader_feed(struct gdb_reader *reader, uint8_t byte);

/* $payload#CC into out, escaping '$', '#', '}' and '*'; returns the bytes
 * written, or 0 when out (capacity bytes) is too small. */
size_t gdb_packet_encode(const void *payload, size_t length, uint8_t *out, size_t capacity);

/* Hex: a digit's value or -1; bytes to 2*length lowercase digits (no NUL);
 * 2*count digits to count bytes, false on a non-digit. */
int gdb_hex_value(uint8_t c);
void gdb_hex_encode(const uint8_t *bytes, size_t length, char *out);
bool gdb_hex_decode(const char *text, size_t count, uint8_t *out);

/* --- commands ---------------------------------------------------------------- */

/* A thread id as gdb writes it: -1 all threads, 0 any, else a vCPU's id
 * (which the stub makes its index + 1). */
#define GDB_THREAD_ALL (-1)
#define GDB_THREAD_ANY 0

#define GDB_VCONT_MAX_ACTIONS 8

enum gdb_command_kind {
    GDB_COMMAND_UNSUPPORTED, /* well formed but not ours: reply with an empty packet */
    GDB_COMMAND_MALFORMED,   /* ours, but its arguments are wrong: reply E.. */
    GDB_COMMAND_HALT_REASON,     /* ? */
    GDB_COMMAND_READ_REGISTERS,  /* g */
    GDB_COMMAND_WRITE_REGISTERS, /* G hex */
    GDB_COMMAND_READ_REGISTER,   /* p n */
    GDB_COMMAND_WRITE_REGISTER,  /* P n=hex */
    GDB_COMMAND_READ_MEMORY,     /* m addr,length */
    GDB_COMMAND_WRITE_MEMORY,    /* M addr,length:hex  and  X addr,length:binary */
    GDB_COMMAND_INSERT_POINT,    /* Z type,addr,kind */
    GDB_COMMAND_REMOVE_POINT,    /* z type,addr,kind */
    GDB_COMMAND_SET_THREAD,      /* Hg thread, Hc thread */
    GDB_COMMAND_THREAD_ALIVE,    /* T thread */
    GDB_COMMAND_CONTINUE,        /* c [addr], C sig[;addr] */
    GDB_COMMAND_STEP,            /* s [addr], S sig[;addr] */
    GDB_COMMAND_VCONT,           /* vCont;action[:thread]... */
    GDB_COMMAND_VCONT_QUERY,     /* vCont? */
    GDB_COMMAND_DETACH,          /* D, D;pid */
    GDB_COMMAND_KILL,            /* k, vKill;pid */
    GDB_COMMAND_QUERY,           /* q... and Q...: name and arguments in query */
};

/* Z/z types. */
enum gdb_point_type {
    GDB_POINT_SOFTWARE = 0,
    GDB_POINT_HARDWARE = 1,
    GDB_POINT_WRITE_WATCH = 2,
    GDB_POINT_READ_WATCH = 3,
    GDB_POINT_ACCESS_WATCH = 4,
};

struct gdb_vcont_action {
    char action;    /* 'c', 's' or 't' (stop); C and S become c and s with a signal */
    uint8_t signal; /* 0 without one */
    int64_t thread; /* GDB_THREAD_ALL when the action names none */
};

struct gdb_command {
    enum gdb_command_kind kind;
    char thread_op; /* SET_THREAD: 'g' (registers, memory) or 'c' (continue) */
    int64_t thread; /* SET_THREAD, THREAD_ALIVE */
    uint64_t address;
    uint64_t length;   /* READ_MEMORY, WRITE_MEMORY; the point's kind for Z/z */
    unsigned point;    /* enum gdb_point_type */
    unsigned reg;      /* READ_REGISTER, WRITE_REGISTER */
    bool has_address;  /* CONTINUE, STEP: resume at address */
    uint8_t signal;    /* CONTINUE, STEP */
    /* WRITE_MEMORY, WRITE_REGISTER(S): the bytes, decoded into the caller's
     * buffer (the reader's data, in place); length of them in data_length. */
    const uint8_t *data;
    size_t data_length;
    /* QUERY: the name (up to ':' or ',' or the end) and what follows it. */
    const char *query;
    size_t query_length;
    const char *arguments; /* after the separator; "" without one */
    unsigned action_count;
    struct gdb_vcont_action actions[GDB_VCONT_MAX_ACTIONS];
};

/* Parses a packet's payload (packet[length] must be NUL, as the reader
 * leaves it).  The hex and binary data of G, P, M and X are decoded in place,
 * over the payload's own bytes: command->data points into packet. */
void gdb_command_parse(uint8_t *packet, size_t length, struct gdb_command *command);

#endif
