/* SPDX-License-Identifier: Apache-2.0 */
/* Image name normalisation (import/image-reference.h): the rule the views'
 * paths and `isle rm image` depend on. */
#include <string.h>

#include "image-reference.h"
#include "macro.h"
#include "tap.h"

static void parses(const char *in, const char *repo, const char *tag) {
        _cleanup_free_ char *r = NULL, *t = NULL;
        const char *why = NULL;
        int k = image_reference_parse(in, &r, &t, &why);
        check(k == 0 && strcmp(r, repo) == 0 && ((!t && !tag) || (t && tag && strcmp(t, tag) == 0)),
              "%s -> %s%s%s (got %d %s:%s %s)", in, repo, tag ? ":" : "", tag ? tag : "", k, r ? r : "-",
              t ? t : "-", why ? why : "");
        if (k == 0)
                check(image_repository_valid(r), "%s is a valid normalised repository", r);
}

static void refused(const char *in) {
        _cleanup_free_ char *r = NULL, *t = NULL;
        const char *why = NULL;
        int k = image_reference_parse(in, &r, &t, &why);
        check(k == -EINVAL && why, "'%s' refused (%s)", in, why ? why : "no reason");
}

int main(void) {
        parses("nginx", "docker.io/library/nginx", NULL);
        parses("nginx:1.25", "docker.io/library/nginx", "1.25");
        parses("foo/bar", "docker.io/foo/bar", NULL);
        parses("docker.io/nginx:latest", "docker.io/library/nginx", "latest");
        parses("index.docker.io/foo/bar:x", "docker.io/foo/bar", "x");
        parses("quay.io/a/b:1", "quay.io/a/b", "1");
        parses("localhost:5000/a:v1.0_rc-1", "localhost:5000/a", "v1.0_rc-1");
        parses("localhost/a", "localhost/a", NULL);
        parses("Example.COM/a__b/c-d.e", "Example.COM/a__b/c-d.e", NULL);
        parses("a/b/c/d:_", "docker.io/a/b/c/d", "_");

        refused("");
        refused(":tag");
        refused("UPPER");
        refused("example.com/UPPER:1");
        refused("nginx@sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4");
        refused("nginx:.bad");
        refused("nginx:-bad");
        refused("a//b");
        refused("a/../b");
        refused("a/./b");
        refused("-a/b");
        refused("a_/b");
        refused("bad_host.com:x/a");
        refused("host-.com/a");

        check(image_tag_valid("latest") && image_tag_valid("_x") && !image_tag_valid("") && !image_tag_valid(".x"),
              "tag rules");
        check(!image_repository_valid("nginx") && !image_repository_valid("docker.io/../x") &&
                      image_repository_valid("docker.io/library/nginx"),
              "repository rules");

        check(image_reference_selects("1.25", NULL, "1.25"), "a bare tag selects by tag");
        check(image_reference_selects("1.25", "nginx:1.25", NULL), "a tag selects a full name's tag");
        check(image_reference_selects("docker.io/library/nginx:1.25", "nginx:1.25", NULL),
              "normalised names select each other");
        check(!image_reference_selects("1.26", "nginx:1.25", "1.25"), "another tag does not select");
        return tap_done_testing();
}
