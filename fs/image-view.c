/* SPDX-License-Identifier: Apache-2.0 */
#include "image-view.h"

#include <stdio.h>

#include "image-reference.h"

static int damaged(char **reterr, const char *bundle, const json_t *a, const char *why) {
        const char *repo = json_string_value(json_object_get(a, "repository"));
        const char *tag = json_string_value(json_object_get(a, "tag"));
        if (reterr && !*reterr &&
            asprintf(reterr, "bundle %s has a damaged image artifact%s%s%s%s: %s", bundle, repo ? " " : "",
                     repo ? repo : "", tag ? ":" : "", tag ? tag : "", why) < 0)
                *reterr = NULL;
        return -EBADMSG;
}

static bool id_list_valid(const json_t *list) {
        if (!json_is_array(list))
                return false;
        size_t i;
        const json_t *v;
        json_array_foreach(list, i, v) {
                const char *s = json_string_value(v);
                ObjectId id;
                if (!s || strncmp(s, "sha256:", 7) != 0 || object_id_from_hex(s, &id) < 0)
                        return false;
        }
        return true;
}

static int check(const RenderItem *it, ImageViewItem *ret, char **reterr) {
        const json_t *a = it->artifact;
        ImageViewItem x = { .bundle = it->bundle, .artifact = a };
        x.repository = json_string_value(json_object_get(a, "repository"));
        x.tag = json_string_value(json_object_get(a, "tag"));
        x.digest = json_string_value(json_object_get(a, "digest"));
        x.media_type = json_string_value(json_object_get(a, "mediaType"));
        const json_t *size = json_object_get(a, "size");
        ObjectId id;
        if (!x.repository || !image_repository_valid(x.repository))
                return damaged(reterr, it->bundle, a, "invalid repository");
        if (!x.tag || !image_tag_valid(x.tag))
                return damaged(reterr, it->bundle, a, "invalid tag");
        if (!x.digest || strncmp(x.digest, "sha256:", 7) != 0 || object_id_from_hex(x.digest, &id) < 0)
                return damaged(reterr, it->bundle, a, "invalid digest");
        if (!x.media_type || !json_is_integer(size) || json_integer_value(size) < 0)
                return damaged(reterr, it->bundle, a, "no mediaType or size");
        if (!id_list_valid(json_object_get(a, "blobs")) || !id_list_valid(json_object_get(a, "manifests")))
                return damaged(reterr, it->bundle, a, "invalid blobs or manifests");
        x.size = (uint64_t) json_integer_value(size);
        *ret = x;
        return 0;
}

static int compare(const void *a, const void *b) {
        const ImageViewItem *x = a, *y = b;
        int c = strcmp(x->repository, y->repository);
        if (c == 0)
                c = strcmp(x->tag, y->tag);
        if (c == 0)
                c = strcmp(x->bundle, y->bundle);
        return c;
}

int image_view_collect(const RenderItem *items, size_t n, ImageViewItem **ret, char **reterr) {
        _cleanup_free_ ImageViewItem *v = calloc(n ? n : 1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                int r = check(&items[i], &v[i], reterr);
                if (r < 0)
                        return r;
        }
        qsort(v, n, sizeof *v, compare);
        for (size_t i = 1; i < n; i++) {
                ImageViewItem *p = &v[i - 1], *c = &v[i];
                if (strcmp(p->repository, c->repository) != 0 || strcmp(p->tag, c->tag) != 0)
                        continue;
                if (strcmp(p->digest, c->digest) == 0) {
                        c->duplicate = true;
                        continue;
                }
                if (reterr &&
                    asprintf(reterr, "bundles %s and %s both provide image %s:%s with different digests (%s and %s)",
                             p->bundle, c->bundle, c->repository, c->tag, p->digest, c->digest) < 0)
                        *reterr = NULL;
                return -EEXIST;
        }
        *ret = TAKE_PTR(v);
        return 0;
}

bool image_view_is_manifest(const json_t *artifact, const char *digest) {
        size_t i;
        const json_t *v;
        json_array_foreach(json_object_get(artifact, "manifests"), i, v)
                if (strcmp(json_string_value(v), digest) == 0)
                        return true;
        return false;
}

int image_view_blob_size(Store *s, const ImageViewItem *item, const char *digest, ObjectId *ret_id,
                         uint64_t *ret_size, char **reterr) {
        ObjectId id;
        int r = object_id_from_hex(digest, &id);
        if (r < 0)
                return r;
        _cleanup_(blob_freep) Blob *b = NULL;
        r = store_open_blob(s, &id, &b);
        if (r < 0) {
                if (reterr && !*reterr &&
                    asprintf(reterr, "bundle %s: image %s:%s: blob %s: %s", item->bundle, item->repository,
                             item->tag, digest, r == -ENOENT ? "not in the store" : strerror(-r)) < 0)
                        *reterr = NULL;
                return r == -ENOENT ? -EBADMSG : r;
        }
        *ret_id = id;
        *ret_size = b->size;
        return 0;
}
