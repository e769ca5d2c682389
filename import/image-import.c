/* SPDX-License-Identifier: Apache-2.0 */
/* isle add image SRC...: container images as artifacts.
 *
 * Each SRC is a docker-archive tar, an OCI layout directory or an OCI
 * archive tar, optionally followed by :TAG to take one image of several.
 * An archive holding an OCI layout is read as one (Docker 25+ writes both;
 * the layout keeps the real manifests); otherwise its manifest.json is read
 * as a docker-archive. The readers (oci-layout.c, docker-archive.c) store
 * and check every blob; this file names the images and makes artifacts:
 *
 *   {"kind":"image","repository":"docker.io/library/nginx","tag":"1.25",
 *    "digest":"sha256:...","mediaType":"...","size":N,     (the top manifest or index)
 *    "bytes":N,                                              (all blobs together)
 *    "blobs":["sha256:...",...],    every blob: manifests, indexes, configs, layers,
 *                                   referrers' blobs, and the schema1 empty layer
 *                                   when a manifest has a Docker media type
 *    "manifests":["sha256:...",...], which of "blobs" are manifests or indexes
 *    "platforms":["linux/amd64",...],
 *    "referrers":[{"digest","mediaType","size"[,"artifactType"]}...]}
 *
 * An artifact is identified by repository and tag: a new one replaces the
 * bundle's old one of the same name. Names are normalised as
 * image-reference.h describes; --name REPO[:TAG] replaces the repository of
 * every image, and its TAG (allowed only when the sources hold exactly one
 * image) the tag. Without --name, an image whose source names it by a bare
 * tag (an OCI layout's ref.name "1.25") cannot be placed and is refused. */
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "docker-archive.h"
#include "image-closure.h"
#include "image-media-type.h"
#include "image-reference.h"
#include "image-source.h"
#include "importer.h"
#include "oci-layout.h"
#include "reterr.h"

/* SRC or SRC:TAG: the whole argument when it exists, else the part
 * before the first ':' that names something that exists. */
static int split_source(const char *arg, char **ret_path, char **ret_select) {
        struct stat st;
        if (stat(arg, &st) < 0)
                for (const char *c = strchr(arg, ':'); c; c = strchr(c + 1, ':')) {
                        if (c == arg || !c[1])
                                continue;
                        _cleanup_free_ char *path = strndup(arg, (size_t) (c - arg));
                        if (!path)
                                return -ENOMEM;
                        if (stat(path, &st) < 0)
                                continue;
                        char *select = strdup(c + 1);
                        if (!select)
                                return -ENOMEM;
                        *ret_path = TAKE_PTR(path);
                        *ret_select = select;
                        return 0;
                }
        *ret_path = strdup(arg);
        *ret_select = NULL;
        return *ret_path ? 0 : -ENOMEM;
}

static int read_source(const char *arg, BlobWriter *w, json_t *found, uint64_t *bytes, char **reterr) {
        _cleanup_free_ char *path = NULL, *select = NULL;
        int r = split_source(arg, &path, &select);
        if (r < 0)
                return r;
        _cleanup_(image_source_freep) ImageSource *src = NULL;
        r = image_source_open(path, &src, reterr);
        if (r < 0)
                return r;
        if (oci_layout_detect(src))
                r = oci_layout_read(src, select, w, found, reterr);
        else if (image_source_is_archive(src) && docker_archive_detect(src))
                r = docker_archive_read(src, select, w, found, reterr);
        else if (image_source_is_archive(src))
                r = reterr_printf(reterr, -EBADMSG, "%s: a tar archive, but neither an OCI archive (oci-layout, index.json) "
                                           "nor a docker-archive (manifest.json)",
                         path);
        else
                r = reterr_printf(reterr, -EBADMSG, "%s: not an OCI image layout (no oci-layout and index.json)", path);
        *bytes += image_source_bytes(src);
        return r;
}

/* What --name says. */
typedef struct ImageOptionsName {
        char *repository;       /* normalised, or NULL without --name */
        char *tag;              /* NULL when --name gives none */
} ImageOptionsName;

/* The repository and tag found image f gets. */
static int name_image(const json_t *f, const ImageOptionsName *o, char **ret_repo, char **ret_tag, char **reterr) {
        const char *source = json_string_value(json_object_get(f, "source"));
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *tag = json_string_value(json_object_get(f, "tag"));
        const char *digest = json_string_value(json_object_get(f, "digest"));
        _cleanup_free_ char *repo = NULL, *name_tag = NULL;
        if (name) {
                const char *why;
                int r = image_reference_parse(name, &repo, &name_tag, &why);
                if (r == -EINVAL && !o->repository)
                        return reterr_printf(reterr, -EINVAL, "%s: image name '%s' is not a valid reference: %s", source, name,
                                    why);
                if (r < 0 && r != -EINVAL)
                        return r;
        }
        if (o->repository) {
                free(repo);
                repo = strdup(o->repository);
                if (!repo)
                        return -ENOMEM;
        } else if (!repo && tag)
                return reterr_printf(reterr, -EINVAL, "%s: image '%s' (%s) is named by a tag only; give --name REPO to say "
                                             "which repository it belongs to",
                            source, tag, digest);
        else if (!repo)
                return reterr_printf(reterr, -EINVAL, "%s: image %s has no name; give --name REPO:TAG", source, digest);

        const char *t = o->tag ? o->tag : name_tag ? name_tag : tag ? tag : "latest";
        if (!image_tag_valid(t))
                return reterr_printf(reterr, -EINVAL, "%s: image %s: '%s' is not a valid tag", source, digest, t);
        *ret_tag = strdup(t);
        if (!*ret_tag)
                return -ENOMEM;
        *ret_repo = TAKE_PTR(repo);
        return 0;
}

/* Inserts s into a sorted array of strings unless present. */
static int sorted_insert(json_t *array, const char *s) {
        size_t i;
        for (i = 0; i < json_array_size(array); i++) {
                int c = strcmp(json_string_value(json_array_get(array, i)), s);
                if (c == 0)
                        return 0;
                if (c > 0)
                        break;
        }
        return json_array_insert_new(array, i, json_string(s)) < 0 ? -ENOMEM : 0;
}

/* The artifact for found image f, named repo:tag. */
static int make_artifact(StoreTxn *t, const json_t *f, const char *repo, const char *tag, json_t **ret) {
        json_t *a = json_pack("{s:s,s:s,s:s,s:O,s:O,s:O,s:O,s:O,s:O,s:O,s:O}", "kind", "image", "repository", repo,
                              "tag", tag, "digest", json_object_get(f, "digest"), "mediaType",
                              json_object_get(f, "mediaType"), "size", json_object_get(f, "size"), "bytes",
                              json_object_get(f, "bytes"), "blobs", json_object_get(f, "blobs"), "manifests",
                              json_object_get(f, "manifests"), "platforms", json_object_get(f, "platforms"),
                              "referrers", json_object_get(f, "referrers"));
        if (!a)
                return -ENOMEM;
        /* Copies, so the found object's arrays stay as they were. */
        json_object_set_new(a, "blobs", json_deep_copy(json_object_get(f, "blobs")));
        if (json_is_true(json_object_get(f, "docker"))) {
                ObjectId id;
                int r = store_txn_put_small_blob(t, EMPTY_LAYER_BYTES, EMPTY_LAYER_SIZE, &id);
                if (r >= 0)
                        r = sorted_insert(json_object_get(a, "blobs"), EMPTY_LAYER_DIGEST);
                if (r < 0) {
                        json_decref(a);
                        return r;
                }
                json_object_set_new(a, "bytes",
                                    json_integer(json_integer_value(json_object_get(f, "bytes")) + EMPTY_LAYER_SIZE));
        }
        *ret = a;
        return 0;
}

/* The index of the object named repo:tag in list (of artifacts: only of
 * kind image; of summary rows, which have no kind: any), or -1. */
static ssize_t find_named(json_t *list, const char *repo, const char *tag, bool artifacts) {
        size_t i;
        json_t *a;
        json_array_foreach(list, i, a) {
                const char *kind = json_string_value(json_object_get(a, "kind"));
                const char *r = json_string_value(json_object_get(a, "repository"));
                const char *t = json_string_value(json_object_get(a, "tag"));
                if (artifacts && (!kind || strcmp(kind, "image") != 0))
                        continue;
                if (r && t && strcmp(r, repo) == 0 && strcmp(t, tag) == 0)
                        return (ssize_t) i;
        }
        return -1;
}

static ssize_t find_image(json_t *artifacts, const char *repo, const char *tag) {
        return find_named(artifacts, repo, tag, true);
}

static int parse_name_option(const char *s, ImageOptionsName *o, char **reterr) {
        const char *why;
        int r = image_reference_parse(s, &o->repository, &o->tag, &why);
        if (r == -EINVAL)
                return reterr_printf(reterr, r, "--name %s is not a valid image reference: %s", s, why);
        return r;
}

/* Names every found image and adds the artifacts; refuses the same name
 * with two different digests. */
static int place_images(StoreTxn *t, json_t *artifacts, json_t *found, const ImageOptionsName *o, json_t *added,
                        char **reterr) {
        size_t i;
        json_t *f;
        json_array_foreach(found, i, f) {
                _cleanup_free_ char *repo = NULL, *tag = NULL;
                int r = name_image(f, o, &repo, &tag, reterr);
                if (r < 0)
                        return r;
                const char *digest = json_string_value(json_object_get(f, "digest"));
                const char *source = json_string_value(json_object_get(f, "source"));
                ssize_t k = find_named(added, repo, tag, false);
                if (k >= 0) {
                        json_t *prev = json_array_get(added, (size_t) k);
                        const char *pd = json_string_value(json_object_get(prev, "digest"));
                        if (strcmp(pd, digest) == 0)
                                continue;
                        return reterr_printf(reterr, -EINVAL, "%s:%s is given twice with different digests: %s (from %s) "
                                                     "and %s (from %s)",
                                    repo, tag, pd, json_string_value(json_object_get(prev, "source")), digest, source);
                }
                json_t *a;
                r = make_artifact(t, f, repo, tag, &a);
                if (r < 0)
                        return r;
                json_t *row = json_pack("{s:s,s:s,s:s,s:s}", "repository", repo, "tag", tag, "digest", digest,
                                        "source", source);
                if (!row || json_array_append_new(added, row) < 0) {
                        json_decref(a);
                        return -ENOMEM;
                }
                k = find_image(artifacts, repo, tag);
                r = k >= 0 ? json_array_set_new(artifacts, (size_t) k, a) : json_array_append_new(artifacts, a);
                if (r < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int add_images(StoreTxn *t, json_t *artifacts, char **srcs, int n, const ImportOptions *o, json_t *summary,
                      char **reterr) {
        ImageOptionsName name = {};
        _cleanup_free_ char *name_repo = NULL, *name_tag = NULL;
        if (o->name) {
                int r = parse_name_option(o->name, &name, reterr);
                name_repo = name.repository;
                name_tag = name.tag;
                if (r < 0)
                        return r;
        }
        _cleanup_(blob_writer_freep) BlobWriter *w = NULL;
        int r = blob_writer_new(t, &w);
        if (r < 0)
                return r;
        json_t *found = json_array(), *added = json_array();
        if (!found || !added) {
                json_decref(found);
                json_decref(added);
                return -ENOMEM;
        }
        uint64_t bytes = 0;
        for (int k = 0; r >= 0 && k < n; k++)
                r = read_source(srcs[k], w, found, &bytes, reterr);
        if (r >= 0 && name.tag && json_array_size(found) != 1)
                r = reterr_printf(reterr, -EINVAL, "--name %s gives a tag, so it names one image, but the sources hold %zu",
                         o->name, json_array_size(found));
        if (r >= 0)
                r = place_images(t, artifacts, found, &name, added, reterr);
        json_decref(found);
        if (r < 0) {
                json_decref(added);
                return r;
        }
        json_object_set_new(summary, "images", added);
        json_object_set_new(summary, "bytes", json_integer((json_int_t) bytes));
        json_object_set_new(summary, "new_bytes", json_integer((json_int_t) blob_writer_bytes_new(w)));
        return 0;
}

static int remove_images(json_t *artifacts, char **specs, int n, json_t *summary, char **reterr) {
        json_t *removed = json_array();
        if (!removed)
                return -ENOMEM;
        int r = 0;
        for (int k = 0; r >= 0 && k < n; k++) {
                _cleanup_free_ char *repo = NULL, *tag = NULL;
                const char *why;
                r = image_reference_parse(specs[k], &repo, &tag, &why);
                if (r == -EINVAL) {
                        r = reterr_printf(reterr, r, "'%s' is not a valid image reference: %s", specs[k], why);
                        break;
                }
                if (r < 0)
                        break;
                ssize_t i = find_image(artifacts, repo, tag ? tag : "latest");
                if (i < 0) {
                        r = reterr_printf(reterr, -ENOENT, "no image %s:%s in the bundle", repo, tag ? tag : "latest");
                        break;
                }
                json_t *a = json_array_get(artifacts, (size_t) i);
                json_array_append_new(removed, json_pack("{s:s,s:s,s:O}", "repository", repo, "tag",
                                                         tag ? tag : "latest", "digest", json_object_get(a, "digest")));
                json_array_remove(artifacts, (size_t) i);
        }
        if (r < 0) {
                json_decref(removed);
                return r;
        }
        json_object_set_new(summary, "removed", removed);
        return 0;
}

const Importer importer_image = {
        .name = "image",
        .usage = "image SRC[:TAG]...  docker-archive tars, OCI layout directories, OCI archive tars",
        .add = add_images,
        .remove = remove_images,
};
