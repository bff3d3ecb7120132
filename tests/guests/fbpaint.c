/* fbpaint: paints rows of /dev/fb0 in one colour through an mmap, as a
 * graphical program would, for the graphics tests (which also write it with
 * write(2), through dd).  Installed in the test initramfs by
 * scripts/mksysroot.sh; a static Linux program, not a probe kernel.
 *
 *   fbpaint FIRST_ROW ROWS RRGGBB     prints "fbpaint: WxH" when done */
#include <fcntl.h>
#include <linux/fb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fbpaint FIRST_ROW ROWS RRGGBB\n");
        return 2;
    }
    unsigned first = (unsigned)strtoul(argv[1], NULL, 10);
    unsigned rows = (unsigned)strtoul(argv[2], NULL, 10);
    uint32_t colour = (uint32_t)strtoul(argv[3], NULL, 16);
    int fd = open("/dev/fb0", O_RDWR);
    if (fd < 0) {
        perror("fbpaint: /dev/fb0");
        return 1;
    }
    struct fb_var_screeninfo var;
    struct fb_fix_screeninfo fix;
    if (ioctl(fd, FBIOGET_VSCREENINFO, &var) < 0 || ioctl(fd, FBIOGET_FSCREENINFO, &fix) < 0) {
        perror("fbpaint: FBIOGET_*SCREENINFO");
        return 1;
    }
    if (var.bits_per_pixel != 32 || first + rows > var.yres) {
        fprintf(stderr, "fbpaint: %u bits per pixel, %u rows: cannot paint rows %u+%u\n",
                var.bits_per_pixel, var.yres, first, rows);
        return 1;
    }
    uint8_t *screen = mmap(NULL, fix.smem_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (screen == MAP_FAILED) {
        perror("fbpaint: mmap");
        return 1;
    }
    /* The pixel as the framebuffer lays it out (XRGB8888 here). */
    uint32_t pixel = ((colour >> 16 & 0xff) << var.red.offset) |
                     ((colour >> 8 & 0xff) << var.green.offset) |
                     ((colour & 0xff) << var.blue.offset);
    for (unsigned y = first; y < first + rows; y++) {
        uint32_t *line = (uint32_t *)(screen + (size_t)y * fix.line_length);
        for (unsigned x = 0; x < var.xres; x++)
            line[x] = pixel;
    }
    msync(screen, fix.smem_len, MS_SYNC);
    munmap(screen, fix.smem_len);
    close(fd);
    printf("fbpaint: %ux%u\n", var.xres, var.yres);
    return 0;
}
