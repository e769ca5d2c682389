/* SPDX-License-Identifier: Apache-2.0 */
/* The registry view: the distribution registry's filesystem storage
 * layout (FORMATS.md), for every image of every bundle together, so a
 * stock `docker-registry` with its root at registry/ serves them read-only:
 *
 *   docker/registry/v2/blobs/sha256/AB/ABCD.../data         every blob, once
 *   docker/registry/v2/repositories/REPO/
 *     _layers/sha256/HEX/link                 every config and layer of REPO
 *     _manifests/revisions/sha256/HEX/link    every manifest and index of REPO,
 *                                             index children and referrers included
 *     _manifests/tags/TAG/current/link
 *     _manifests/tags/TAG/index/sha256/HEX/link
 *
 * A link file is "sha256:HEX", 71 bytes, no newline. The schema1 empty-
 * layer blob that the registry needs for Docker schema2 manifests is in
 * the artifact's "blobs" (image-import.c), so it gets its data and its
 * _layers link like any layer. Repositories sharing a layer share its
 * data file. */
#include <stdio.h>

#include "image-view.h"
#include "render.h"

#define V2 "registry/docker/registry/v2"
#define LINK_SIZE 71

static int put_link(TreeBuilder *out, StoreTxn *t, const char *path, const char *digest) {
        if (strlen(digest) != LINK_SIZE)
                return -EBADMSG;
        return tree_builder_put_bytes(out, t, path, digest, LINK_SIZE, TREE_PUT_REPLACE);
}

static int render_item(StoreTxn *t, const ImageViewItem *it, TreeBuilder *out, json_t *placed, char **reterr) {
        Store *s = store_txn_store(t);
        char path[1024];
        size_t i;
        const json_t *v;
        json_array_foreach(json_object_get(it->artifact, "blobs"), i, v) {
                const char *digest = json_string_value(v);
                const char *hex = digest + 7;
                int r;
                if (!json_object_get(placed, digest)) {
                        ObjectId id;
                        uint64_t size;
                        r = image_view_blob_size(s, it, digest, &id, &size, reterr);
                        if (r < 0)
                                return r;
                        snprintf(path, sizeof path, V2 "/blobs/sha256/%.2s/%s/data", hex, hex);
                        r = tree_builder_put(out, path, TREE_ENTRY_FILE, 0644, size, &id, TREE_PUT_REPLACE);
                        if (r < 0)
                                return r;
                        if (json_object_set_new(placed, digest, json_true()) < 0)
                                return -ENOMEM;
                }
                bool manifest = image_view_is_manifest(it->artifact, digest);
                snprintf(path, sizeof path, V2 "/repositories/%s/%s/sha256/%s/link", it->repository,
                         manifest ? "_manifests/revisions" : "_layers", hex);
                r = put_link(out, t, path, digest);
                if (r < 0)
                        return r;
        }
        snprintf(path, sizeof path, V2 "/repositories/%s/_manifests/tags/%s/current/link", it->repository, it->tag);
        int r = put_link(out, t, path, it->digest);
        if (r < 0)
                return r;
        snprintf(path, sizeof path, V2 "/repositories/%s/_manifests/tags/%s/index/sha256/%s/link", it->repository,
                 it->tag, it->digest + 7);
        return put_link(out, t, path, it->digest);
}

static int render_registry(StoreTxn *t, const RenderItem *items, size_t n, TreeBuilder *out, char **reterr) {
        _cleanup_free_ ImageViewItem *v = NULL;
        int r = image_view_collect(items, n, &v, reterr);
        if (r < 0)
                return r;
        json_t *placed = json_object();
        if (!placed)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = render_item(t, &v[i], out, placed, reterr);
        json_decref(placed);
        return r;
}

const Renderer renderer_registry = {
        .name = "registry",
        .kind = "image",
        .render = render_registry,
};
