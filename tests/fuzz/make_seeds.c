/* Writes the fuzzers' seed corpora: valid synthetic kernels (the same ones
 * the unit tests break field by field), typical command lines, and a UART
 * driver's usual register sequence.  Generated at fuzz time so that no binary
 * files live in the repository.  Usage: make_seeds DIRECTORY */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "synthetic_images.h"

static const char *root;

static int write_seed(const char *corpus, const char *name, const void *bytes, size_t size)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", root, corpus);
    if (mkdir(path, 0777) && errno != EEXIST) {
        perror(path);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, corpus, name);
    FILE *file = fopen(path, "wb");
    if (!file || fwrite(bytes, 1, size, file) != size || fclose(file)) {
        perror(path);
        return -1;
    }
    return 0;
}

static int write_bzimage_seeds(void)
{
    static uint8_t image[SYNTHETIC_BZ_SIZE];
    synthetic_bzimage(image);
    /* The last byte picks the memory size and initrd in the harness; the
     * kernel's bytes are don't-care, so vary it. */
    int failed = 0;
    for (int choice = 0; choice < 4; choice++) {
        char name[32];
        image[SYNTHETIC_BZ_SIZE - 1] = (uint8_t)(choice * 0x15);
        snprintf(name, sizeof(name), "valid-%d", choice);
        failed |= write_seed("bzimage", name, image, sizeof(image));
    }
    synthetic_put16(image + 0x206, 0x020c);
    image[0x1f1] = 0;
    failed |= write_seed("bzimage", "protocol-2.12", image, sizeof(image));
    return failed;
}

static int write_pvh_seeds(void)
{
    static const struct synthetic_elf_options variants[] = {
        {1, 8, 0}, {1, 4, 0}, {2, 8, 1}, {2, 4, 1},
    };
    static uint8_t image[SYNTHETIC_ELF_SIZE];
    int failed = 0;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        synthetic_elf(image, &variants[i]);
        image[SYNTHETIC_ELF_SIZE - 1] = (uint8_t)(i * 5);
        char name[32];
        snprintf(name, sizeof(name), "valid-%zu", i);
        failed |= write_seed("pvh", name, image, sizeof(image));
    }
    return failed;
}

static int write_options_seeds(void)
{
    /* Arguments separated by NUL bytes, as the harness splits them. */
    static const char seeds[][128] = {
        "bzImage",
        "-r\0initrd.img\0-c\0root=/dev/vda\0-c\0quiet\0bzImage",
        "--memory\0" "512M\0--cpus\0" "4\0vmlinux",
        "--memory=2G\0--cpus=2\0--initrd=a\0--cmdline=console=hvc0\0k",
        "--help",
        "--version",
        "-x\0k",
        "k\0--memory",
        "1073741824B",
        "16KiB",
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        size_t length = sizeof(seeds[i]);
        while (length > 0 && seeds[i][length - 1] == '\0')
            length--;
        char name[32];
        snprintf(name, sizeof(name), "args-%zu", i);
        failed |= write_seed("options", name, seeds[i], length);
    }
    return failed;
}

static int write_uart_seeds(void)
{
    /* op byte: low 2 bits 0 read, 1 write, 2 receive, 3 room; then offset
     * (or count) and, for writes, the value. */
    static const uint8_t linux_probe[] = {
        0x01, 3, 0x83, /* LCR: DLAB */
        0x01, 0, 0x01, /* DLL */
        0x01, 1, 0x00, /* DLM */
        0x01, 3, 0x03, /* LCR: 8N1 */
        0x01, 2, 0x07, /* FCR: enable and clear */
        0x01, 4, 0x1f, /* MCR: loopback */
        0x00, 6,       /* MSR */
        0x01, 0, 0x5a, /* THR in loopback */
        0x00, 0,       /* RBR */
        0x01, 4, 0x0b, /* MCR: normal */
        0x01, 1, 0x03, /* IER: RDI | THRI */
        0x00, 2,       /* IIR */
        0x01, 0, 'h',  /* THR */
        0x02, 3,       /* receive 3 bytes */
        0x00, 2,       /* IIR */
        0x00, 5,       /* LSR */
        0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0,
        0x03, 0,       /* room */
    };
    static const uint8_t fill_and_drain[] = {
        0x1e, 0xff, /* receive 255 << 7 bytes: more than the buffer holds */
        0x03, 0,
        0x01, 2, 0x03, /* FCR: clear receive */
        0x03, 0,
        0x1e, 0xff,
        0x00, 0, 0x00, 0, 0x00, 0, 0x00, 0,
    };
    return write_seed("uart", "linux-probe", linux_probe, sizeof(linux_probe)) |
           write_seed("uart", "fill-and-drain", fill_and_drain, sizeof(fill_and_drain));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0777) && errno != EEXIST) {
        perror(root);
        return 1;
    }
    int failed = write_bzimage_seeds() | write_pvh_seeds() | write_options_seeds() |
                 write_uart_seeds();
    return failed ? 1 : 0;
}
