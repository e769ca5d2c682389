/* SPDX-License-Identifier: Apache-2.0 */
#include "image-closure.h"

#include <stdio.h>

const char *image_digest(const ObjectId *id, char buf[static 72]) {
        char hex[OBJECT_ID_HEX_SIZE];
        snprintf(buf, 72, "sha256:%s", object_id_to_hex(id, hex));
        return buf;
}

int image_closure_new(ImageClosure **ret) {
        _cleanup_(image_closure_freep) ImageClosure *c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->blobs = json_object();
        c->manifests = json_object();
        c->platforms = json_array();
        c->referrers = json_object();
        if (!c->blobs || !c->manifests || !c->platforms || !c->referrers)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

ImageClosure *image_closure_free(ImageClosure *c) {
        if (!c)
                return NULL;
        json_decref(c->blobs);
        json_decref(c->manifests);
        json_decref(c->platforms);
        json_decref(c->referrers);
        free(c);
        return NULL;
}

int image_closure_add_blob(ImageClosure *c, const ObjectId *id, uint64_t size, bool manifest) {
        char d[72];
        image_digest(id, d);
        if (json_object_set_new(c->blobs, d, json_integer((json_int_t) size)) < 0)
                return -ENOMEM;
        if (manifest && json_object_set_new(c->manifests, d, json_true()) < 0)
                return -ENOMEM;
        return 0;
}

bool image_closure_has(const ImageClosure *c, const ObjectId *id) {
        char d[72];
        return json_object_get(c->blobs, image_digest(id, d)) != NULL;
}

bool image_closure_has_manifest(const ImageClosure *c, const ObjectId *id) {
        char d[72];
        return json_object_get(c->manifests, image_digest(id, d)) != NULL;
}

int image_closure_add_platform(ImageClosure *c, const char *os, const char *arch, const char *variant) {
        if (!os || !arch || !*os || !*arch)
                return 0;
        /* buildx attestation manifests say unknown/unknown: not a platform. */
        if (strcmp(os, "unknown") == 0 && strcmp(arch, "unknown") == 0)
                return 0;
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/%s%s%s", os, arch, variant && *variant ? "/" : "", variant ? variant : "") < 0)
                return -ENOMEM;
        size_t i;
        json_t *v;
        json_array_foreach(c->platforms, i, v)
                if (strcmp(json_string_value(v), p) == 0)
                        return 0;
        return json_array_append_new(c->platforms, json_string(p)) < 0 ? -ENOMEM : 0;
}

int image_closure_add_referrer(ImageClosure *c, const ImageClosure *other, json_t *descriptor) {
        const char *k;
        json_t *v;
        json_object_foreach(other->blobs, k, v)
                if (json_object_set(c->blobs, k, v) < 0)
                        return -ENOMEM;
        json_object_foreach(other->manifests, k, v)
                if (json_object_set(c->manifests, k, v) < 0)
                        return -ENOMEM;
        json_object_foreach(other->referrers, k, v)
                if (json_object_set(c->referrers, k, v) < 0)
                        return -ENOMEM;
        const char *digest = json_string_value(json_object_get(descriptor, "digest"));
        if (!digest || json_object_set(c->referrers, digest, descriptor) < 0)
                return -ENOMEM;
        c->docker = c->docker || other->docker;
        return 0;
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* The keys of an object, sorted, as an array of strings (or of the values
 * when values is set). */
static json_t *sorted(json_t *obj, bool values) {
        size_t n = json_object_size(obj), i = 0;
        _cleanup_free_ const char **keys = calloc(n ? n : 1, sizeof *keys);
        json_t *out = json_array();
        if (!keys || !out) {
                json_decref(out);
                return NULL;
        }
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v)
                keys[i++] = k;
        qsort(keys, n, sizeof *keys, compare_strings);
        for (i = 0; i < n; i++)
                if (json_array_append_new(out, values ? json_deep_copy(json_object_get(obj, keys[i]))
                                                      : json_string(keys[i])) < 0) {
                        json_decref(out);
                        return NULL;
                }
        return out;
}

int image_closure_to_json(const ImageClosure *c, json_t *obj) {
        json_int_t bytes = 0;
        const char *k;
        json_t *v;
        json_object_foreach(c->blobs, k, v)
                bytes += json_integer_value(v);
        if (json_object_set_new(obj, "blobs", sorted(c->blobs, false)) < 0 ||
            json_object_set_new(obj, "manifests", sorted(c->manifests, false)) < 0 ||
            json_object_set_new(obj, "platforms", json_deep_copy(c->platforms)) < 0 ||
            json_object_set_new(obj, "referrers", sorted(c->referrers, true)) < 0 ||
            json_object_set_new(obj, "bytes", json_integer(bytes)) < 0)
                return -ENOMEM;
        if (c->docker && json_object_set_new(obj, "docker", json_true()) < 0)
                return -ENOMEM;
        return 0;
}
