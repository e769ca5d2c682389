/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI view: one OCI image layout per repository, for every image of
 * every bundle together, read by skopeo (oci:DIR:TAG), umoci, containerd:
 *
 *   oci/REPO/oci-layout          {"imageLayoutVersion": "1.0.0"}
 *   oci/REPO/index.json          one entry per tag, sorted by tag, with the
 *                                annotation org.opencontainers.image.ref.name;
 *                                then the referrers (no name), sorted by digest
 *   oci/REPO/blobs/sha256/HEX    every blob of those images
 *
 * Only images whose top manifest or index has an OCI media type are
 * listed: OCI readers skip (skopeo) or refuse Docker media types, and
 * converting would change the digests. Images that came as Docker schema2
 * are served by the registry view only. index.json is compact JSON with
 * its keys in a fixed order, so the same images give the same bytes. */
#include <stdio.h>

#include "image-media-type.h"
#include "image-view.h"
#include "render.h"

#define OCI_LAYOUT "{\"imageLayoutVersion\": \"1.0.0\"}"
#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

static bool oci_media_type(const char *mt) {
        return mt && (strcmp(mt, MEDIA_TYPE_OCI_MANIFEST) == 0 || strcmp(mt, MEDIA_TYPE_OCI_INDEX) == 0);
}

static int compare_digest(const void *a, const void *b) {
        const json_t *x = *(const json_t *const *) a, *y = *(const json_t *const *) b;
        return strcmp(json_string_value(json_object_get(x, "digest")), json_string_value(json_object_get(y, "digest")));
}

/* Appends the referrers of the images, sorted by digest, once each. */
static int add_referrers(json_t *manifests, json_t *referrers) {
        size_t n = json_object_size(referrers), i = 0;
        _cleanup_free_ json_t **list = calloc(n ? n : 1, sizeof *list);
        if (!list)
                return -ENOMEM;
        const char *k;
        json_t *d;
        json_object_foreach(referrers, k, d)
                list[i++] = d;
        qsort(list, n, sizeof *list, compare_digest);
        for (i = 0; i < n; i++) {
                /* A referrer that is also tagged is listed once, by its tag. */
                bool listed = false;
                size_t m;
                json_t *x;
                json_array_foreach(manifests, m, x)
                        listed = listed || json_equal(json_object_get(x, "digest"), json_object_get(list[i], "digest"));
                if (listed)
                        continue;
                json_t *e = json_pack("{s:O,s:O,s:O}", "mediaType", json_object_get(list[i], "mediaType"), "digest",
                                      json_object_get(list[i], "digest"), "size", json_object_get(list[i], "size"));
                if (!e || json_array_append_new(manifests, e) < 0)
                        return -ENOMEM;
                json_t *at = json_object_get(list[i], "artifactType");
                if (json_is_string(at))
                        json_object_set(e, "artifactType", at);
        }
        return 0;
}

/* Renders the layout of one repository from its items v[0..n). */
static int render_repository(StoreTxn *t, const ImageViewItem *v, size_t n, TreeBuilder *out, char **reterr) {
        Store *s = store_txn_store(t);
        json_t *manifests = json_array(), *referrers = json_object(), *placed = json_object();
        int r = manifests && referrers && placed ? 0 : -ENOMEM;
        bool any = false;
        char path[1024];
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const ImageViewItem *it = &v[i];
                if (!oci_media_type(it->media_type))
                        continue;
                any = true;
                if (!it->duplicate) {
                        json_t *e = json_pack("{s:s,s:s,s:I,s:{s:s}}", "mediaType", it->media_type, "digest",
                                              it->digest, "size", (json_int_t) it->size, "annotations",
                                              ANNOTATION_REF_NAME, it->tag);
                        if (!e || json_array_append_new(manifests, e) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                }
                size_t k;
                const json_t *d;
                json_array_foreach(json_object_get(it->artifact, "referrers"), k, d) {
                        const char *digest = json_string_value(json_object_get(d, "digest"));
                        const char *mt = json_string_value(json_object_get(d, "mediaType"));
                        if (digest && oci_media_type(mt) && json_is_integer(json_object_get(d, "size")))
                                json_object_set(referrers, digest, (json_t *) d);
                }
                json_array_foreach(json_object_get(it->artifact, "blobs"), k, d) {
                        const char *digest = json_string_value(d);
                        if (json_object_get(placed, digest))
                                continue;
                        ObjectId id;
                        uint64_t size;
                        r = image_view_blob_size(s, it, digest, &id, &size, reterr);
                        if (r < 0)
                                break;
                        snprintf(path, sizeof path, "oci/%s/blobs/sha256/%s", it->repository, digest + 7);
                        r = tree_builder_put(out, path, TREE_ENTRY_FILE, 0644, size, &id, TREE_PUT_REPLACE);
                        if (r < 0)
                                break;
                        if (json_object_set_new(placed, digest, json_true()) < 0)
                                r = -ENOMEM;
                }
        }
        if (r >= 0 && any)
                r = add_referrers(manifests, referrers);
        if (r >= 0 && any) {
                json_t *index = json_pack("{s:i,s:s,s:O}", "schemaVersion", 2, "mediaType", MEDIA_TYPE_OCI_INDEX,
                                          "manifests", manifests);
                _cleanup_free_ char *bytes = index ? json_dumps(index, JSON_COMPACT) : NULL;
                json_decref(index);
                if (!bytes)
                        r = -ENOMEM;
                if (r >= 0) {
                        snprintf(path, sizeof path, "oci/%s/index.json", v[0].repository);
                        r = tree_builder_put_bytes(out, t, path, bytes, strlen(bytes), TREE_PUT_REPLACE);
                }
                if (r >= 0) {
                        snprintf(path, sizeof path, "oci/%s/oci-layout", v[0].repository);
                        r = tree_builder_put_bytes(out, t, path, OCI_LAYOUT, strlen(OCI_LAYOUT), TREE_PUT_REPLACE);
                }
        }
        json_decref(manifests);
        json_decref(referrers);
        json_decref(placed);
        return r;
}

static int render_oci(StoreTxn *t, const RenderItem *items, size_t n, TreeBuilder *out, char **reterr) {
        _cleanup_free_ ImageViewItem *v = NULL;
        int r = image_view_collect(items, n, &v, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n;) {
                size_t j = i + 1;
                while (j < n && strcmp(v[j].repository, v[i].repository) == 0)
                        j++;
                r = render_repository(t, v + i, j - i, out, reterr);
                if (r < 0)
                        return r;
                i = j;
        }
        return 0;
}

const Renderer renderer_oci = {
        .name = "oci",
        .kind = "image",
        .render = render_oci,
};
