/* The virtio-fs device's own part: its config space (tag, request queues),
 * the tag rules, and a request chain split into the FUSE server's request
 * and reply (the server itself: test_fuse_server.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <linux/fuse.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/fs.h"

#define MEMORY_SIZE (1u << 20)

static uint8_t *memory_bytes;
static struct guest_memory memory;

static int setup(void **state)
{
    (void)state;
    memory_bytes = calloc(1, MEMORY_SIZE);
    if (!memory_bytes)
        return -1;
    guest_memory_init_over(&memory, memory_bytes, MEMORY_SIZE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(memory_bytes);
    return 0;
}

static void test_config_space(void **state)
{
    (void)state;
    static struct virtio_fs fs;
    struct error error = {{0}};
    assert_int_equal(virtio_fs_init(&fs, &memory, "/tmp", "my-tag", false, &error), 0);
    assert_int_equal(fs.device.ops->device_id, VIRTIO_ID_FS);
    assert_int_equal(fs.device.ops->queue_count, 1 + VIRTIO_FS_REQUEST_QUEUES);
    assert_int_equal(fs.device.config_size, 40);
    assert_memory_equal(fs.config, "my-tag", 6);
    for (unsigned i = 6; i < VIRTIO_FS_TAG_BYTES; i++)
        assert_int_equal(fs.config[i], 0); /* NUL-padded */
    uint32_t queues;
    memcpy(&queues, fs.config + VIRTIO_FS_TAG_BYTES, 4);
    assert_int_equal(queues, VIRTIO_FS_REQUEST_QUEUES);
    assert_int_equal(fs.device.ops->thread_role, SANDBOX_SHARE);
    virtio_fs_destroy(&fs);
}

static void test_tag_of_36_bytes_fills_the_field(void **state)
{
    (void)state;
    static struct virtio_fs fs;
    struct error error = {{0}};
    const char *tag = "abcdefghijklmnopqrstuvwxyz0123456789";
    assert_int_equal(virtio_fs_init(&fs, &memory, "/tmp", tag, true, &error), 0);
    assert_memory_equal(fs.config, tag, 36);
    virtio_fs_destroy(&fs);
}

static void test_refusals(void **state)
{
    (void)state;
    static struct virtio_fs fs;
    struct error error = {{0}};
    assert_int_equal(virtio_fs_init(&fs, &memory, "/tmp", "", false, &error), -1);
    assert_non_null(strstr(error.message, "empty"));
    assert_int_equal(virtio_fs_init(&fs, &memory, "/tmp", "a b", false, &error), -1);
    assert_non_null(strstr(error.message, "space"));
    assert_int_equal(virtio_fs_init(&fs, &memory, "/no/such/directory", "x", false, &error), -1);
    assert_non_null(strstr(error.message, "/no/such/directory"));
    assert_non_null(virtio_fs_tag_problem("abcdefghijklmnopqrstuvwxyz0123456789X"));
    assert_null(virtio_fs_tag_problem("root"));
}

/* An INIT in two readable buffers (header, then arguments) and its reply
 * in two writable ones: the device hands the halves over as they are. */
static void test_request_chain_split(void **state)
{
    (void)state;
    static struct virtio_fs fs;
    struct error error = {{0}};
    assert_int_equal(virtio_fs_init(&fs, &memory, "/tmp", "t", false, &error), 0);
    struct fuse_in_header in_header = {
        .len = sizeof(struct fuse_in_header) + sizeof(struct fuse_init_in),
        .opcode = FUSE_INIT, .unique = 42, .nodeid = 0};
    struct fuse_init_in init = {.major = FUSE_KERNEL_VERSION, .minor = 31, .max_readahead = 65536};
    struct fuse_out_header out_header;
    struct fuse_init_out reply;
    memset(&out_header, 0xee, sizeof(out_header));
    memset(&reply, 0xee, sizeof(reply));
    static struct virtq_chain chain;
    chain.readable_count = 2;
    chain.writable_count = 2;
    chain.buffers[0] = (struct virtq_buffer){&in_header, sizeof(in_header)};
    chain.buffers[1] = (struct virtq_buffer){&init, sizeof(init)};
    chain.buffers[2] = (struct virtq_buffer){&out_header, sizeof(out_header)};
    chain.buffers[3] = (struct virtq_buffer){&reply, sizeof(reply)};
    chain.readable_bytes = sizeof(in_header) + sizeof(init);
    chain.writable_bytes = sizeof(out_header) + sizeof(reply);
    uint32_t written = virtio_fs_handle_request(&fs.device, &chain);
    assert_int_equal(written, out_header.len);
    assert_true(written > sizeof(out_header));
    assert_int_equal(out_header.error, 0);
    assert_int_equal(out_header.unique, 42);
    assert_int_equal(reply.major, FUSE_KERNEL_VERSION);
    assert_true(reply.minor <= 31);
    virtio_fs_destroy(&fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tag_of_36_bytes_fills_the_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_chain_split, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
