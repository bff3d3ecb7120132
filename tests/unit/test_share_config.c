/* The --share parser: the forms it takes, the default tags, and every way a
 * value can be wrong, each refusal one line naming --share. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "fs/share_config.h"

static void parse_ok(const char *text, struct share_config *share)
{
    struct error error = {{0}};
    if (share_config_parse(text, share, &error) != 0)
        fail_msg("--share %s refused: %s", text, error.message);
}

static void assert_refused(const char *text, const char *mentions)
{
    struct share_config share;
    struct error error = {{0}};
    if (share_config_parse(text, &share, &error) != -1)
        fail_msg("--share %s accepted", text);
    if (!strstr(error.message, mentions))
        fail_msg("--share %s: error \"%s\" does not mention \"%s\"", text, error.message,
                 mentions);
    if (strncmp(error.message, "--share", 7) != 0 || strchr(error.message, '\n'))
        fail_msg("error \"%s\" is not one line naming --share", error.message);
}

static void test_directory_alone(void **state)
{
    (void)state;
    struct share_config share;
    parse_ok("/home/me/src", &share);
    assert_string_equal(share.directory, "/home/me/src");
    assert_string_equal(share.tag, "src");
    assert_false(share.read_only);
}

static void test_default_tags(void **state)
{
    (void)state;
    struct share_config share;
    parse_ok("/", &share);
    assert_string_equal(share.tag, "root");
    parse_ok("//", &share);
    assert_string_equal(share.tag, "root");
    parse_ok("/srv/data///", &share);
    assert_string_equal(share.tag, "data");
    parse_ok("relative", &share);
    assert_string_equal(share.tag, "relative");
    parse_ok("./work/", &share);
    assert_string_equal(share.tag, "work");
}

static void test_keys(void **state)
{
    (void)state;
    struct share_config share;
    parse_ok("/srv,tag=data,ro", &share);
    assert_string_equal(share.directory, "/srv");
    assert_string_equal(share.tag, "data");
    assert_true(share.read_only);
    parse_ok("/srv,ro,tag=x", &share);
    assert_string_equal(share.tag, "x");
    assert_true(share.read_only);
    parse_ok("/srv,ro,rw", &share);
    assert_false(share.read_only);
    /* 36 bytes: the whole tag field */
    parse_ok("/srv,tag=abcdefghijklmnopqrstuvwxyz0123456789", &share);
    assert_int_equal(strlen(share.tag), 36);
}

static void test_refusals(void **state)
{
    (void)state;
    assert_refused("", "no directory");
    assert_refused(",ro", "no directory");
    assert_refused("/srv,", "unknown key");
    assert_refused("/srv,rO", "unknown key 'rO'");
    assert_refused("/srv,readonly", "unknown key 'readonly'");
    assert_refused("/srv,size=1", "unknown key 'size'");
    assert_refused("/srv,tag=", "empty");
    assert_refused("/srv,tag=a b", "space");
    assert_refused("/srv,tag=a\tb", "control");
    assert_refused("/srv,tag=abcdefghijklmnopqrstuvwxyz0123456789X", "longer than 36");
    assert_refused("/a/this-directory-name-is-longer-than-a-tag-may-be", "tag=NAME");
    assert_refused("/a/with space", "space");
}

static void test_duplicate_tags(void **state)
{
    (void)state;
    struct share_config shares[3];
    parse_ok("/a/src", &shares[0]);
    parse_ok("/b/other", &shares[1]);
    parse_ok("/b/src", &shares[2]);
    struct error error = {{0}};
    assert_int_equal(share_config_check_tags(shares, 2, &error), 0);
    assert_int_equal(share_config_check_tags(shares, 3, &error), -1);
    assert_non_null(strstr(error.message, "/b/src"));
    assert_non_null(strstr(error.message, "/a/src"));
    assert_non_null(strstr(error.message, "'src'"));
    parse_ok("/b/src,tag=src2", &shares[2]);
    assert_int_equal(share_config_check_tags(shares, 3, &error), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_directory_alone), cmocka_unit_test(test_default_tags),
        cmocka_unit_test(test_keys),            cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_duplicate_tags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
