/* options_parse on argument lists cut from the input at NUL bytes, and
 * options_parse_size on the whole input as one string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

#define MAX_ARGUMENTS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';

    uint64_t bytes;
    if (options_parse_size(text, &bytes) == 0 && (text[0] < '0' || text[0] > '9'))
        abort(); /* a size always starts with a digit */

    char *argv[MAX_ARGUMENTS + 2];
    int argc = 0;
    argv[argc++] = "guest";
    for (char *p = text; argc <= MAX_ARGUMENTS && p <= text + size; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    struct options options;
    struct error error;
    memset(&error, 0, sizeof(error));
    if (options_parse(argc, argv, &options, &error) == 0) {
        if (!options.show_help && !options.show_version) {
            if (!options.kernel_path || options.cpu_count < 1 ||
                options.memory_size < OPTIONS_MIN_MEMORY ||
                options.memory_size > OPTIONS_MAX_MEMORY || (options.memory_size & 0xfff))
                abort();
        }
        if (strlen(options.cmdline) >= OPTIONS_MAX_CMDLINE)
            abort();
    } else if (error.message[0] == '\0') {
        abort(); /* every failure says why */
    }
    free(text);
    return 0;
}
