/* build/exec-init's bytes in the VMM's read-only data, between
 * exec_init_start and exec_init_end (boot/exec_init_blob.h).  An .incbin in
 * a C file rather than `ld -r -b binary`: the object is compiled with the
 * VMM's own flags, so it carries the same CET property and non-executable
 * stack notes as every other object (one without them would take them off
 * the whole binary), and the symbols' names do not depend on the build
 * directory.  The Makefile passes the file's path as EXEC_INIT_PATH. */
#include "boot/exec_init_blob.h"

#ifndef EXEC_INIT_PATH
#error "EXEC_INIT_PATH (the built exec-init) must be defined"
#endif

__asm__(".section .rodata.exec_init, \"a\"\n"
        ".balign 16\n"
        ".globl exec_init_start\n"
        ".type exec_init_start, @object\n"
        "exec_init_start:\n"
        ".incbin \"" EXEC_INIT_PATH "\"\n"
        ".globl exec_init_end\n"
        ".type exec_init_end, @object\n"
        "exec_init_end:\n"
        ".previous\n");
