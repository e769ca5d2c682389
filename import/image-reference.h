/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Image names, normalised the way docker normalises them, so that the
 * same image added as `nginx:1.25` and as `docker.io/library/nginx:1.25`
 * is one artifact:
 *
 *   nginx                  -> docker.io/library/nginx        (tag: none given)
 *   nginx:1.25             -> docker.io/library/nginx:1.25
 *   foo/bar                -> docker.io/foo/bar
 *   index.docker.io/foo/x  -> docker.io/foo/x
 *   quay.io/a/b:1          -> quay.io/a/b:1                  (a host is kept)
 *   localhost:5000/a:1     -> localhost:5000/a:1
 *
 * The first component is a registry host when the name has more than one
 * component and it contains a '.' or a ':' or is "localhost"; without a
 * host the name is on docker.io, and a one-component docker.io name is
 * under "library/". The other components are lowercase: [a-z0-9] runs
 * joined by '.', '_', '__' or dashes. A tag is [A-Za-z0-9_][A-Za-z0-9_.-]*,
 * at most 128 characters. Digest references (NAME@sha256:...) are refused:
 * isle names images by tag. The normalised repository becomes directories
 * of the views (registry/.../repositories/docker.io/library/nginx,
 * oci/docker.io/library/nginx). */

#include <stdbool.h>

/* Parses s. 0 with *ret_repository (normalised) and *ret_tag (NULL when s
 * has no tag), or -EINVAL with *ret_why (a static string) saying what is
 * wrong. */
int image_reference_parse(const char *s, char **ret_repository, char **ret_tag, const char **ret_why);

bool image_tag_valid(const char *tag);
/* True for a repository as image_reference_parse() returns it. */
bool image_repository_valid(const char *repository);

/* Whether `select` (the TAG of SRC:TAG) picks a source image known by
 * name (a full reference as the source spells it) and/or tag (a bare
 * tag); either may be NULL. It does when select equals either, equals the
 * tag part of name, or names the same repository and tag once both are
 * normalised. */
bool image_reference_selects(const char *select, const char *name, const char *tag);
