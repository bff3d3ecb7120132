#include "fs/share_config.h"

#include <stdio.h>
#include <string.h>

#include "virtio/fs.h"

/* DIR's last component, trailing slashes ignored; `root` for / alone. */
static void share_default_tag(const char *directory, char *tag, size_t size)
{
    size_t end = strlen(directory);
    while (end > 1 && directory[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && directory[start - 1] != '/')
        start--;
    if (end == start) { /* "/" */
        snprintf(tag, size, "root");
        return;
    }
    size_t length = end - start;
    if (length >= size)
        length = size - 1; /* too long: share_config_parse says so */
    memcpy(tag, directory + start, length);
    tag[length] = '\0';
}

static bool share_key_is(const char *key, size_t length, const char *name)
{
    return strlen(name) == length && !memcmp(key, name, length);
}

int share_config_parse(const char *text, struct share_config *share, struct error *error)
{
    memset(share, 0, sizeof(*share));
    const char *comma = strchr(text, ',');
    size_t length = comma ? (size_t)(comma - text) : strlen(text);
    if (length == 0)
        return error_set(error, "--share %s: no directory given (--share DIR[,tag=NAME][,ro])",
                         text);
    if (length >= sizeof(share->directory))
        return error_set(error, "--share: directory name too long");
    memcpy(share->directory, text, length);
    bool tag_given = false;
    while (comma) {
        const char *key = comma + 1;
        comma = strchr(key, ',');
        size_t key_length = comma ? (size_t)(comma - key) : strlen(key);
        const char *equals = memchr(key, '=', key_length);
        size_t name_length = equals ? (size_t)(equals - key) : key_length;
        if (share_key_is(key, key_length, "ro")) {
            share->read_only = true;
        } else if (share_key_is(key, key_length, "rw")) {
            share->read_only = false;
        } else if (equals && share_key_is(key, name_length, "tag")) {
            size_t tag_length = key_length - name_length - 1;
            if (tag_length > SHARE_TAG_MAX)
                return error_set(error, "--share %s: the tag is longer than %d bytes", text,
                                 SHARE_TAG_MAX);
            memcpy(share->tag, equals + 1, tag_length);
            share->tag[tag_length] = '\0';
            tag_given = true;
        } else {
            return error_set(error, "--share %s: unknown key '%.*s' (tag=NAME, ro)", text,
                             (int)name_length, key);
        }
    }
    if (!tag_given) {
        char tag[PATH_MAX];
        share_default_tag(share->directory, tag, sizeof(tag));
        if (strlen(tag) > SHARE_TAG_MAX)
            return error_set(error,
                             "--share %s: the directory's name is longer than the %d bytes of a "
                             "tag: give one with tag=NAME",
                             text, SHARE_TAG_MAX);
        memcpy(share->tag, tag, strlen(tag) + 1);
    }
    const char *problem = virtio_fs_tag_problem(share->tag);
    if (problem)
        return error_set(error, "--share %s: tag '%s': %s", text, share->tag, problem);
    return 0;
}

int share_config_check_tags(const struct share_config *shares, int count, struct error *error)
{
    for (int i = 0; i < count; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(shares[i].tag, shares[j].tag))
                return error_set(error,
                                 "--share %s: tag '%s' is already --share %s's; give one of "
                                 "them another with tag=NAME",
                                 shares[i].directory, shares[i].tag, shares[j].directory);
    return 0;
}
