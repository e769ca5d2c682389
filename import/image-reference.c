/* SPDX-License-Identifier: Apache-2.0 */
#include "image-reference.h"

#include <ctype.h>
#include <stdio.h>

#include "macro.h"

#define NAME_MAX_LENGTH 255
#define TAG_MAX_LENGTH 128

static bool lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* over p[0..n). */
static bool path_component_valid(const char *p, size_t n) {
        if (n == 0 || !lower_alnum(p[0]) || !lower_alnum(p[n - 1]))
                return false;
        for (size_t i = 0; i < n;) {
                if (lower_alnum(p[i])) {
                        i++;
                        continue;
                }
                /* A separator: '.', '_', '__' or a run of '-'. */
                size_t j = i;
                if (p[i] == '.')
                        j++;
                else if (p[i] == '_')
                        j += (i + 1 < n && p[i + 1] == '_') ? 2 : 1;
                else if (p[i] == '-')
                        while (j < n && p[j] == '-')
                                j++;
                else
                        return false;
                if (j >= n || !lower_alnum(p[j]))
                        return false;
                i = j;
        }
        return true;
}

/* host[:port]: labels of [A-Za-z0-9-] (not starting or ending with '-')
 * joined by '.', then an optional numeric port. */
static bool host_valid(const char *p, size_t n) {
        const char *colon = memchr(p, ':', n);
        size_t host = colon ? (size_t) (colon - p) : n;
        if (host == 0)
                return false;
        for (size_t i = 0; i < host;) {
                size_t j = i;
                while (j < host && p[j] != '.')
                        j++;
                if (j == i || p[i] == '-' || p[j - 1] == '-')
                        return false;
                for (size_t k = i; k < j; k++)
                        if (!isalnum((unsigned char) p[k]) && p[k] != '-')
                                return false;
                if (j == host)
                        break;
                i = j + 1;
                if (i == host)
                        return false; /* trailing '.' */
        }
        if (colon) {
                size_t port = n - host - 1;
                if (port == 0 || port > 5)
                        return false;
                for (size_t k = host + 1; k < n; k++)
                        if (!isdigit((unsigned char) p[k]))
                                return false;
        }
        return true;
}

static bool is_host(const char *p, size_t n) {
        return memchr(p, '.', n) || memchr(p, ':', n) || (n == 9 && memcmp(p, "localhost", 9) == 0);
}

bool image_tag_valid(const char *tag) {
        size_t n = strlen(tag);
        if (n == 0 || n > TAG_MAX_LENGTH || !(isalnum((unsigned char) tag[0]) || tag[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char) tag[i]) && !strchr("_.-", tag[i]))
                        return false;
        return true;
}

/* Checks the path components of name from `from` on. */
static bool path_valid(const char *name, size_t from) {
        const char *p = name + from;
        for (;;) {
                size_t n = strcspn(p, "/");
                if (!path_component_valid(p, n))
                        return false;
                if (!p[n])
                        return true;
                p += n + 1;
        }
}

bool image_repository_valid(const char *repository) {
        size_t len = strlen(repository);
        if (len == 0 || len > NAME_MAX_LENGTH)
                return false;
        const char *slash = strchr(repository, '/');
        if (!slash || !is_host(repository, (size_t) (slash - repository)) ||
            !host_valid(repository, (size_t) (slash - repository)))
                return false;
        return path_valid(repository, (size_t) (slash - repository) + 1);
}

int image_reference_parse(const char *s, char **ret_repository, char **ret_tag, const char **ret_why) {
        if (strchr(s, '@')) {
                *ret_why = "digest references (NAME@sha256:...) are not supported; name the image by tag";
                return -EINVAL;
        }
        /* The tag is after the last ':' that follows the last '/'. */
        const char *last_slash = strrchr(s, '/');
        const char *colon = strrchr(last_slash ? last_slash : s, ':');
        size_t name_len = colon ? (size_t) (colon - s) : strlen(s);
        _cleanup_free_ char *tag = NULL;
        if (colon) {
                tag = strdup(colon + 1);
                if (!tag)
                        return -ENOMEM;
                if (!image_tag_valid(tag)) {
                        *ret_why = "the tag must be 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'";
                        return -EINVAL;
                }
        }
        if (name_len == 0) {
                *ret_why = "the repository name is empty";
                return -EINVAL;
        }
        const char *first_slash = memchr(s, '/', name_len);
        _cleanup_free_ char *repo = NULL;
        int k;
        if (first_slash && is_host(s, (size_t) (first_slash - s))) {
                size_t host = (size_t) (first_slash - s);
                if (!host_valid(s, host)) {
                        *ret_why = "the registry host is not a valid host[:port]";
                        return -EINVAL;
                }
                if (host == 15 && memcmp(s, "index.docker.io", 15) == 0)
                        k = asprintf(&repo, "docker.io%.*s", (int) (name_len - host), s + host);
                else
                        k = asprintf(&repo, "%.*s", (int) name_len, s);
        } else if (first_slash)
                k = asprintf(&repo, "docker.io/%.*s", (int) name_len, s);
        else
                k = asprintf(&repo, "docker.io/library/%.*s", (int) name_len, s);
        if (k < 0)
                return -ENOMEM;
        /* docker.io/NAME (from index.docker.io/NAME) also gets library/. */
        if (strncmp(repo, "docker.io/", 10) == 0 && !strchr(repo + 10, '/')) {
                char *lib;
                if (asprintf(&lib, "docker.io/library/%s", repo + 10) < 0)
                        return -ENOMEM;
                free(repo);
                repo = lib;
        }
        if (strlen(repo) > NAME_MAX_LENGTH) {
                *ret_why = "the name is longer than 255 characters";
                return -EINVAL;
        }
        if (!path_valid(repo, (size_t) (strchr(repo, '/') - repo) + 1)) {
                *ret_why = "repository path components are lowercase letters and digits, separated by '/' and "
                           "joined inside by '.', '_', '__' or '-'";
                return -EINVAL;
        }
        *ret_repository = TAKE_PTR(repo);
        *ret_tag = TAKE_PTR(tag);
        return 0;
}

bool image_reference_selects(const char *select, const char *name, const char *tag) {
        if ((tag && strcmp(select, tag) == 0) || (name && strcmp(select, name) == 0))
                return true;
        if (!name)
                return false;
        _cleanup_free_ char *repo = NULL, *name_tag = NULL;
        const char *why;
        if (image_reference_parse(name, &repo, &name_tag, &why) < 0)
                return false;
        if (strcmp(select, name_tag ? name_tag : "latest") == 0)
                return true;
        _cleanup_free_ char *srepo = NULL, *stag = NULL;
        if (image_reference_parse(select, &srepo, &stag, &why) < 0)
                return false;
        return strcmp(repo, srepo) == 0 && strcmp(name_tag ? name_tag : "latest", stag ? stag : "latest") == 0;
}
