/* SPDX-License-Identifier: Apache-2.0 */
#include "oci-layout.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "image-closure.h"
#include "image-media-type.h"
#include "image-reference.h"

/* Nested indexes deeper than this are refused (a loop, or abuse). */
#define DEPTH_MAX 8

#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"
#define ANNOTATION_CONTAINERD_NAME "io.containerd.image.name"

/* Data flow: index.json names the images; each is walked from its
 * descriptor down (walk()), reading manifests and indexes into memory and
 * checking them at once, and queueing every blob it reaches as a request.
 * When every image is known, all requests go to image_source_store() in
 * one batch (one more pass over an archive), which checks each blob's size
 * and digest as it streams it into the store. */

typedef struct Image {
        json_t *obj;            /* the "found" object being built */
        ImageClosure *closure;
} Image;

typedef struct Layout {
        ImageSource *src;
        const char *path;
        ImageBlobRequest *reqs;
        size_t n_reqs, allocated_reqs;
        json_t *requested;      /* digest -> true */
        char **reterr;
} Layout;

static int fail(Layout *l, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(Layout *l, int r, const char *fmt, ...) {
        if (l->reterr && !*l->reterr) {
                _cleanup_free_ char *msg = NULL;
                va_list ap;
                va_start(ap, fmt);
                int k = vasprintf(&msg, fmt, ap);
                va_end(ap);
                if (k >= 0 && asprintf(l->reterr, "%s: %s", l->path, msg) < 0)
                        *l->reterr = NULL;
        }
        return r;
}

static const char *blob_name(const ObjectId *id, char buf[static 96]) {
        char hex[OBJECT_ID_HEX_SIZE];
        snprintf(buf, 96, "blobs/sha256/%s", object_id_to_hex(id, hex));
        return buf;
}

static int json_fail(Layout *l, const char *file, const char *what, const json_error_t *e) {
        return fail(l, -EBADMSG, "%s%s%s%s: invalid JSON at line %d, column %d: %s", file, what ? " (" : "",
                    what ? what : "", what ? ")" : "", e->line, e->column, e->text);
}

/* A descriptor: {"mediaType": ..., "digest": "sha256:<64 lowercase hex>",
 * "size": N, ...}. `where` says where it is, for messages. */
static int descriptor_parse(Layout *l, const json_t *d, const char *where, const char **ret_media_type,
                            ObjectId *ret_id, uint64_t *ret_size) {
        if (!json_is_object(d))
                return fail(l, -EBADMSG, "%s: not a descriptor (a JSON object)", where);
        const char *mt = json_string_value(json_object_get(d, "mediaType"));
        if (!mt || !*mt)
                return fail(l, -EBADMSG, "%s: no mediaType", where);
        const char *digest = json_string_value(json_object_get(d, "digest"));
        if (!digest)
                return fail(l, -EBADMSG, "%s: no digest", where);
        if (strncmp(digest, "sha256:", 7) != 0)
                return fail(l, -EPROTONOSUPPORT, "%s: digest %s: only sha256 digests are supported", where, digest);
        bool hex = strlen(digest) == 7 + 64;
        for (size_t i = 7; hex && digest[i]; i++)
                hex = isdigit((unsigned char) digest[i]) || (digest[i] >= 'a' && digest[i] <= 'f');
        if (!hex || object_id_from_hex(digest, ret_id) < 0)
                return fail(l, -EBADMSG, "%s: digest '%s' is not sha256:<64 lowercase hex digits>", where, digest);
        const json_t *size = json_object_get(d, "size");
        if (!json_is_integer(size) || json_integer_value(size) < 0)
                return fail(l, -EBADMSG, "%s (%s): no valid size", where, digest);
        *ret_media_type = mt;
        *ret_size = (uint64_t) json_integer_value(size);
        return 0;
}

/* Queues a blob for storing (once per digest). */
static int request(Layout *l, const ObjectId *id, uint64_t size, const char *what) {
        char d[72], name[96];
        image_digest(id, d);
        if (json_object_get(l->requested, d))
                return 0;
        if (json_object_set_new(l->requested, d, json_true()) < 0)
                return -ENOMEM;
        int r = GROW(l->reqs, l->allocated_reqs, l->n_reqs + 1);
        if (r < 0)
                return r;
        ImageBlobRequest *q = &l->reqs[l->n_reqs];
        *q = (ImageBlobRequest) { .check = true, .expected = *id, .expected_size = size };
        q->name = strdup(blob_name(id, name));
        q->what = strdup(what);
        if (!q->name || !q->what) {
                image_blob_request_done(q);
                return -ENOMEM;
        }
        l->n_reqs++;
        return 0;
}

/* Reads a JSON blob (manifest, index, config) into memory, checking its
 * size and digest before parsing it. */
static int read_json_blob(Layout *l, const ObjectId *id, uint64_t size, const char *what, json_t **ret) {
        char name[96], d[72];
        blob_name(id, name);
        image_digest(id, d);
        _cleanup_free_ void *buf = NULL;
        size_t n;
        int r = image_source_read(l->src, name, IMAGE_JSON_MAX, &buf, &n);
        if (r == -ENOENT)
                return fail(l, -ENOENT, "blob %s (%s) is missing: no %s", d, what, name);
        if (r == -EFBIG)
                return fail(l, -EBADMSG, "blob %s (%s) is larger than %u MiB", d, what, IMAGE_JSON_MAX >> 20);
        if (r == -EBADMSG)
                return fail(l, -EBADMSG, "%s (%s): not JSON", name, what);
        if (r < 0)
                return fail(l, r, "%s: %s", name, strerror(-r));
        if (n != size)
                return fail(l, -EBADMSG, "blob %s (%s) has %zu bytes, but %llu are claimed", d, what, n,
                            (unsigned long long) size);
        ObjectId got;
        object_id_hash(buf, n, &got);
        if (!object_id_equal(&got, id)) {
                char g[72];
                return fail(l, -EBADMSG, "blob %s (%s): its bytes hash to %s", d, what, image_digest(&got, g));
        }
        json_error_t e;
        json_t *j = json_loadb(buf, n, 0, &e);
        if (!j)
                return json_fail(l, name, what, &e);
        if (!json_is_object(j)) {
                json_decref(j);
                return fail(l, -EBADMSG, "%s (%s): not a JSON object", name, what);
        }
        *ret = j;
        return 0;
}

static int platform_from_config(Layout *l, ImageClosure *c, const ObjectId *id, uint64_t size, const char *what) {
        json_t *config;
        int r = read_json_blob(l, id, size, what, &config);
        if (r < 0)
                return r;
        r = image_closure_add_platform(c, json_string_value(json_object_get(config, "os")),
                                       json_string_value(json_object_get(config, "architecture")),
                                       json_string_value(json_object_get(config, "variant")));
        json_decref(config);
        return r;
}

static int walk(Layout *l, ImageClosure *c, const char *mt, const ObjectId *id, uint64_t size, const char *what,
                unsigned depth);

static int walk_index(Layout *l, ImageClosure *c, json_t *index, const ObjectId *id, unsigned depth) {
        char d[72];
        image_digest(id, d);
        json_t *children = json_object_get(index, "manifests");
        if (!json_is_array(children))
                return fail(l, -EBADMSG, "index %s: no \"manifests\" array", d);
        size_t i;
        json_t *child;
        json_array_foreach(children, i, child) {
                _cleanup_free_ char *where = NULL;
                if (asprintf(&where, "manifest %zu of index %s", i + 1, d) < 0)
                        return -ENOMEM;
                const char *cmt;
                ObjectId cid;
                uint64_t csize;
                int r = descriptor_parse(l, child, where, &cmt, &cid, &csize);
                if (r < 0)
                        return r;
                if (!media_type_is_manifest(cmt) && !media_type_is_index(cmt))
                        return fail(l, -EPROTONOSUPPORT, "%s (sha256:%s): unknown media type '%s'", where,
                                    object_id_hex(&cid), cmt);
                if (depth == 0) {
                        json_t *p = json_object_get(child, "platform");
                        r = image_closure_add_platform(c, json_string_value(json_object_get(p, "os")),
                                                       json_string_value(json_object_get(p, "architecture")),
                                                       json_string_value(json_object_get(p, "variant")));
                        if (r < 0)
                                return r;
                }
                r = walk(l, c, cmt, &cid, csize, where, depth + 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int walk_manifest(Layout *l, ImageClosure *c, json_t *m, const ObjectId *id, unsigned depth) {
        char d[72];
        image_digest(id, d);
        _cleanup_free_ char *where = NULL;
        if (asprintf(&where, "config of manifest %s", d) < 0)
                return -ENOMEM;
        const char *mt;
        ObjectId cid;
        uint64_t size;
        json_t *config = json_object_get(m, "config");
        if (!config)
                return fail(l, -EBADMSG, "manifest %s has no config", d);
        int r = descriptor_parse(l, config, where, &mt, &cid, &size);
        if (r < 0)
                return r;
        if ((r = request(l, &cid, size, where)) < 0 || (r = image_closure_add_blob(c, &cid, size, false)) < 0)
                return r;
        if (depth == 0 && media_type_is_image_config(mt)) {
                r = platform_from_config(l, c, &cid, size, where);
                if (r < 0)
                        return r;
        }
        json_t *layers = json_object_get(m, "layers");
        if (!json_is_array(layers))
                return fail(l, -EBADMSG, "manifest %s has no \"layers\" array", d);
        size_t i;
        json_t *layer;
        json_array_foreach(layers, i, layer) {
                free(where);
                where = NULL;
                if (asprintf(&where, "layer %zu of manifest %s", i + 1, d) < 0)
                        return -ENOMEM;
                r = descriptor_parse(l, layer, where, &mt, &cid, &size);
                if (r < 0)
                        return r;
                /* A foreign layer (with "urls") may be left out of the
                 * source; the client fetches it from its URL. */
                char name[96];
                if (json_object_get(layer, "urls") && image_source_has(l->src, blob_name(&cid, name)) <= 0)
                        continue;
                if ((r = request(l, &cid, size, where)) < 0 || (r = image_closure_add_blob(c, &cid, size, false)) < 0)
                        return r;
        }
        return 0;
}

static int walk(Layout *l, ImageClosure *c, const char *mt, const ObjectId *id, uint64_t size, const char *what,
                unsigned depth) {
        if (image_closure_has_manifest(c, id))
                return 0;
        char d[72];
        image_digest(id, d);
        if (depth > DEPTH_MAX)
                return fail(l, -EBADMSG, "%s (%s): indexes nested deeper than %d", what, d, DEPTH_MAX);
        json_t *j;
        int r = read_json_blob(l, id, size, what, &j);
        if (r < 0)
                return r;
        const char *own = json_string_value(json_object_get(j, "mediaType"));
        json_t *version = json_object_get(j, "schemaVersion");
        if (own && strcmp(own, mt) != 0)
                r = fail(l, -EBADMSG, "%s (%s) says its media type is '%s', but its descriptor says '%s'", what, d,
                         own, mt);
        else if (!json_is_integer(version) || json_integer_value(version) != 2)
                r = fail(l, -EPROTONOSUPPORT, "%s (%s): schemaVersion is not 2", what, d);
        else if ((r = request(l, id, size, what)) >= 0 && (r = image_closure_add_blob(c, id, size, true)) >= 0) {
                c->docker = c->docker || media_type_is_docker(mt);
                r = media_type_is_index(mt) ? walk_index(l, c, j, id, depth) : walk_manifest(l, c, j, id, depth);
        }
        json_decref(j);
        return r;
}

bool oci_layout_detect(ImageSource *src) {
        return image_source_has(src, "oci-layout") > 0 && image_source_has(src, "index.json") > 0;
}

static int read_json_file(Layout *l, const char *name, json_t **ret) {
        _cleanup_free_ void *buf = NULL;
        size_t n;
        int r = image_source_read(l->src, name, IMAGE_JSON_MAX, &buf, &n);
        if (r == -ENOENT)
                return fail(l, -ENOENT, "no %s: not an OCI image layout", name);
        if (r == -EFBIG)
                return fail(l, -EBADMSG, "%s is larger than %u MiB", name, IMAGE_JSON_MAX >> 20);
        if (r == -EBADMSG)
                return fail(l, -EBADMSG, "%s: not JSON", name);
        if (r < 0)
                return fail(l, r, "%s: %s", name, strerror(-r));
        json_error_t e;
        json_t *j = json_loadb(buf, n, 0, &e);
        if (!j)
                return json_fail(l, name, NULL, &e);
        if (!json_is_object(j)) {
                json_decref(j);
                return fail(l, -EBADMSG, "%s: not a JSON object", name);
        }
        *ret = j;
        return 0;
}

/* Adds one image for index.json's entry d. */
static int add_image(Layout *l, Image **images, size_t *n_images, size_t *allocated, const json_t *d, size_t i,
                     const char *name, const char *tag) {
        char where[64];
        snprintf(where, sizeof where, "index.json: manifests[%zu]", i);
        const char *mt;
        ObjectId id;
        uint64_t size;
        int r = descriptor_parse(l, d, where, &mt, &id, &size);
        if (r < 0)
                return r;
        if (!media_type_is_manifest(mt) && !media_type_is_index(mt))
                return fail(l, -EPROTONOSUPPORT, "%s (sha256:%s): unknown media type '%s'", where,
                            object_id_hex(&id), mt);
        _cleanup_free_ char *what = NULL;
        if (asprintf(&what, "%s of '%s'", media_type_is_index(mt) ? "index" : "manifest",
                     name ? name : tag ? tag : "the untagged image") < 0)
                return -ENOMEM;
        if ((r = GROW(*images, *allocated, *n_images + 1)) < 0)
                return r;
        Image *img = &(*images)[*n_images];
        *img = (Image) {};
        if ((r = image_closure_new(&img->closure)) < 0)
                return r;
        (*n_images)++;
        char dg[72];
        img->obj = json_pack("{s:s,s:s,s:s,s:I}", "source", l->path, "digest", image_digest(&id, dg), "mediaType",
                             mt, "size", (json_int_t) size);
        if (!img->obj)
                return -ENOMEM;
        if ((name && json_object_set_new(img->obj, "name", json_string(name)) < 0) ||
            (tag && json_object_set_new(img->obj, "tag", json_string(tag)) < 0))
                return -ENOMEM;
        return walk(l, img->closure, mt, &id, size, what, 0);
}

/* Attaches the untagged entries whose "subject" is a manifest of a found
 * image, until nothing more attaches (a signature of an SBOM of an image
 * attaches in the second round). */
static int attach_referrers(Layout *l, json_t *entries, Image *images, size_t n_images, const bool *untagged) {
        for (bool changed = true; changed;) {
                changed = false;
                size_t i;
                json_t *d;
                json_array_foreach(entries, i, d) {
                        if (!untagged[i])
                                continue;
                        char where[64];
                        snprintf(where, sizeof where, "index.json: manifests[%zu]", i);
                        const char *mt;
                        ObjectId id, subject = {};
                        uint64_t size;
                        int r = descriptor_parse(l, d, where, &mt, &id, &size);
                        if (r < 0)
                                return r;
                        json_t *m;
                        r = read_json_blob(l, &id, size, where, &m);
                        if (r < 0)
                                return r;
                        json_t *sd = json_object_get(m, "subject");
                        const char *sdigest = json_string_value(json_object_get(sd, "digest"));
                        const char *artifact_type = json_string_value(json_object_get(m, "artifactType"));
                        bool has_subject = sdigest && object_id_from_hex(sdigest, &subject) >= 0;
                        _cleanup_free_ char *atype = artifact_type ? strdup(artifact_type) : NULL;
                        char subject_digest[72];
                        image_digest(&subject, subject_digest);
                        json_decref(m);
                        if (!has_subject)
                                continue;
                        for (size_t k = 0; k < n_images; k++) {
                                ImageClosure *c = images[k].closure;
                                if (!image_closure_has_manifest(c, &subject) || image_closure_has_manifest(c, &id))
                                        continue;
                                _cleanup_(image_closure_freep) ImageClosure *rc = NULL;
                                if ((r = image_closure_new(&rc)) < 0)
                                        return r;
                                char what[128], dg[72];
                                snprintf(what, sizeof what, "referrer of %s", subject_digest);
                                if (!media_type_is_manifest(mt) && !media_type_is_index(mt))
                                        return fail(l, -EPROTONOSUPPORT, "%s (%s): unknown media type '%s'", where,
                                                    image_digest(&id, dg), mt);
                                if ((r = walk(l, rc, mt, &id, size, what, 1)) < 0)
                                        return r;
                                json_t *desc = json_pack("{s:s,s:s,s:I}", "digest", image_digest(&id, dg),
                                                         "mediaType", mt, "size", (json_int_t) size);
                                if (!desc)
                                        return -ENOMEM;
                                if (atype)
                                        json_object_set_new(desc, "artifactType", json_string(atype));
                                r = image_closure_add_referrer(c, rc, desc);
                                json_decref(desc);
                                if (r < 0)
                                        return r;
                                changed = true;
                        }
                }
        }
        return 0;
}

static int check_layout_version(Layout *l) {
        json_t *j;
        int r = read_json_file(l, "oci-layout", &j);
        if (r < 0)
                return r;
        const char *v = json_string_value(json_object_get(j, "imageLayoutVersion"));
        if (!v)
                r = fail(l, -EBADMSG, "oci-layout: no imageLayoutVersion");
        else if (strncmp(v, "1.", 2) != 0)
                r = fail(l, -EPROTONOSUPPORT, "oci-layout: imageLayoutVersion %s is not supported (1.x is)", v);
        json_decref(j);
        return r;
}

static int layout_read(Layout *l, const char *select, BlobWriter *w, json_t *found, Image **images,
                       size_t *n_images) {
        int r = check_layout_version(l);
        if (r < 0)
                return r;
        json_t *index;
        r = read_json_file(l, "index.json", &index);
        if (r < 0)
                return r;
        const char *mt = json_string_value(json_object_get(index, "mediaType"));
        json_t *entries = json_object_get(index, "manifests");
        _cleanup_free_ bool *untagged = calloc(json_array_size(entries) + 1, sizeof *untagged);
        size_t allocated = 0, n_untagged = 0, n_named = 0;
        _cleanup_free_ char *names = strdup("");
        if (!untagged || !names)
                r = -ENOMEM;
        else if (mt && strcmp(mt, MEDIA_TYPE_OCI_INDEX) != 0)
                r = fail(l, -EPROTONOSUPPORT, "index.json: media type '%s' is not %s", mt, MEDIA_TYPE_OCI_INDEX);
        else if (!json_is_array(entries))
                r = fail(l, -EBADMSG, "index.json: no \"manifests\" array");
        size_t i;
        json_t *d;
        if (r >= 0)
                json_array_foreach(entries, i, d) {
                        json_t *ann = json_object_get(d, "annotations");
                        const char *name = json_string_value(json_object_get(ann, ANNOTATION_CONTAINERD_NAME));
                        const char *tag = json_string_value(json_object_get(ann, ANNOTATION_REF_NAME));
                        /* A ref.name with a '/' or ':' is a whole reference. */
                        if (!name && tag && strpbrk(tag, "/:")) {
                                name = tag;
                                tag = NULL;
                        }
                        if (!name && !tag) {
                                untagged[i] = true;
                                n_untagged++;
                                continue;
                        }
                        n_named++;
                        char *more;
                        if (asprintf(&more, "%s%s'%s'", names, *names ? ", " : "", name ? name : tag) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        free(names);
                        names = more;
                        if (select && !image_reference_selects(select, name, tag))
                                continue;
                        r = add_image(l, images, n_images, &allocated, d, i, name, tag);
                        if (r < 0)
                                break;
                }
        /* A layout of one untagged image (as some tools write it): that image. */
        if (r >= 0 && *n_images == 0 && !select && n_named == 0 && n_untagged == 1)
                json_array_foreach(entries, i, d)
                        if (untagged[i]) {
                                untagged[i] = false;
                                r = add_image(l, images, n_images, &allocated, d, i, NULL, NULL);
                        }
        if (r >= 0 && *n_images == 0)
                r = select ? fail(l, -ENOENT, "no image named '%s' (the layout has %s)", select,
                                  *names ? names : "no named images")
                           : fail(l, -ENOENT, "index.json lists no named image");
        if (r >= 0)
                r = attach_referrers(l, entries, *images, *n_images, untagged);
        json_decref(index);
        if (r < 0)
                return r;

        r = image_source_store(l->src, w, l->reqs, l->n_reqs, l->reterr);
        if (r < 0)
                return r;
        for (size_t k = 0; k < *n_images; k++) {
                Image *img = &(*images)[k];
                if ((r = image_closure_to_json(img->closure, img->obj)) < 0 ||
                    (r = json_array_append(found, img->obj)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int oci_layout_read(ImageSource *src, const char *select, BlobWriter *w, json_t *found, char **reterr) {
        Layout l = { .src = src, .path = image_source_path(src), .reterr = reterr };
        l.requested = json_object();
        if (!l.requested)
                return -ENOMEM;
        Image *images = NULL;
        size_t n_images = 0;
        int r = layout_read(&l, select, w, found, &images, &n_images);
        for (size_t k = 0; k < n_images; k++) {
                json_decref(images[k].obj);
                image_closure_free(images[k].closure);
        }
        free(images);
        for (size_t k = 0; k < l.n_reqs; k++)
                image_blob_request_done(&l.reqs[k]);
        free(l.reqs);
        json_decref(l.requested);
        return r;
}
