/* SPDX-License-Identifier: Apache-2.0 */
#include "docker-archive.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "image-closure.h"
#include "image-media-type.h"
#include "image-reference.h"

/* Data flow: manifest.json and every config are read into memory first
 * and checked; then all config and layer files are stored in one batch
 * (one more pass over the archive); then each image's manifest is made
 * from what the layers turned out to be, and stored. */

typedef struct ArchiveImage {
        size_t item;            /* index in manifest.json */
        json_t *names;          /* selected RepoTags entries (array; empty: no name) */
        size_t config_req;      /* index of its config request */
        size_t first_layer_req, n_layers;
        json_t *diff_ids;       /* borrowed from config */
        json_t *config;
} ArchiveImage;

typedef struct Archive {
        ImageSource *src;
        const char *path;
        ImageBlobRequest *reqs;
        size_t n_reqs, allocated_reqs;
        ArchiveImage *images;
        size_t n_images, allocated_images;
        char **reterr;
} Archive;

static int fail(Archive *a, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(Archive *a, int r, const char *fmt, ...) {
        if (a->reterr && !*a->reterr) {
                _cleanup_free_ char *msg = NULL;
                va_list ap;
                va_start(ap, fmt);
                int k = vasprintf(&msg, fmt, ap);
                va_end(ap);
                if (k >= 0 && asprintf(a->reterr, "%s: %s", a->path, msg) < 0)
                        *a->reterr = NULL;
        }
        return r;
}

bool docker_archive_detect(ImageSource *src) {
        return image_source_has(src, "manifest.json") > 0;
}

static int add_request(Archive *a, const char *name, const char *what, size_t *ret) {
        int r = GROW(a->reqs, a->allocated_reqs, a->n_reqs + 1);
        if (r < 0)
                return r;
        ImageBlobRequest *q = &a->reqs[a->n_reqs];
        *q = (ImageBlobRequest) {};
        q->name = strdup(name);
        q->what = strdup(what);
        if (!q->name || !q->what) {
                image_blob_request_done(q);
                return -ENOMEM;
        }
        *ret = a->n_reqs++;
        return 0;
}

/* The digest a file's name claims: HEX, HEX.json or .../sha256/HEX. */
static bool name_digest(const char *name, ObjectId *ret) {
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        size_t n = strlen(base);
        if (n == 69 && strcmp(base + 64, ".json") == 0)
                n = 64;
        if (n != 64)
                return false;
        for (size_t i = 0; i < 64; i++)
                if (!isdigit((unsigned char) base[i]) && !(base[i] >= 'a' && base[i] <= 'f'))
                        return false;
        char hex[65];
        memcpy(hex, base, 64);
        hex[64] = 0;
        return object_id_from_hex(hex, ret) >= 0;
}

/* Reads and checks one image's config, and queues its files. */
static int read_item(Archive *a, size_t item, const json_t *m, json_t *names) {
        const char *config = json_string_value(json_object_get(m, "Config"));
        json_t *layers = json_object_get(m, "Layers");
        if (!config)
                return fail(a, -EBADMSG, "manifest.json: image %zu has no \"Config\"", item + 1);
        if (!json_is_array(layers))
                return fail(a, -EBADMSG, "manifest.json: image %zu has no \"Layers\" array", item + 1);

        _cleanup_free_ char *buf = NULL;
        size_t n;
        int r = image_source_read(a->src, config, IMAGE_JSON_MAX, (void **) &buf, &n);
        if (r == -ENOENT)
                return fail(a, -ENOENT, "manifest.json: config %s of image %zu is not in the archive", config,
                            item + 1);
        if (r == -EFBIG)
                return fail(a, -EBADMSG, "config %s is larger than %u MiB", config, IMAGE_JSON_MAX >> 20);
        if (r == -EBADMSG)
                return fail(a, -EBADMSG, "config %s: not JSON", config);
        if (r < 0)
                return fail(a, r, "config %s: %s", config, strerror(-r));
        ObjectId id, claimed;
        object_id_hash(buf, n, &id);
        if (name_digest(config, &claimed) && !object_id_equal(&id, &claimed)) {
                char want[72], got[72];
                return fail(a, -EBADMSG, "config %s: its name says sha256:%s, its bytes hash to %s", config,
                            object_id_to_hex(&claimed, want), image_digest(&id, got));
        }
        json_error_t e;
        json_t *j = json_loadb(buf, n, 0, &e);
        if (!j)
                return fail(a, -EBADMSG, "%s: invalid JSON at line %d, column %d: %s", config, e.line, e.column,
                            e.text);
        if ((r = GROW(a->images, a->allocated_images, a->n_images + 1)) < 0) {
                json_decref(j);
                return r;
        }
        ArchiveImage *img = &a->images[a->n_images++];
        *img = (ArchiveImage) { .item = item, .names = json_incref(names), .config = j };
        img->diff_ids = json_object_get(json_object_get(j, "rootfs"), "diff_ids");
        if (!json_is_object(j) || !json_is_array(img->diff_ids))
                return fail(a, -EBADMSG, "config %s: no rootfs.diff_ids", config);
        if (json_array_size(img->diff_ids) != json_array_size(layers))
                return fail(a, -EBADMSG, "manifest.json: image %zu has %zu layers, but its config %s lists %zu",
                            item + 1, json_array_size(layers), config, json_array_size(img->diff_ids));

        char what[128];
        snprintf(what, sizeof what, "config of image %zu in manifest.json", item + 1);
        if ((r = add_request(a, config, what, &img->config_req)) < 0)
                return r;
        a->reqs[img->config_req].check = true;
        a->reqs[img->config_req].expected = id;
        a->reqs[img->config_req].expected_size = n;
        img->first_layer_req = a->n_reqs;
        size_t i;
        json_t *layer;
        json_array_foreach(layers, i, layer) {
                const char *name = json_string_value(layer);
                if (!name)
                        return fail(a, -EBADMSG, "manifest.json: layer %zu of image %zu is not a file name", i + 1,
                                    item + 1);
                snprintf(what, sizeof what, "layer %zu of image %zu in manifest.json", i + 1, item + 1);
                size_t k;
                if ((r = add_request(a, name, what, &k)) < 0)
                        return r;
                img->n_layers++;
        }
        return 0;
}

static const char *layer_media_type(const uint8_t magic[static 8], uint64_t size) {
        if (size >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
                return MEDIA_TYPE_OCI_LAYER_GZIP;
        if (size >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
                return MEDIA_TYPE_OCI_LAYER_ZSTD;
        if ((size >= 6 && memcmp(magic, "\xfd" "7zXZ\0", 6) == 0) || (size >= 3 && memcmp(magic, "BZh", 3) == 0))
                return NULL; /* xz, bzip2: no OCI media type */
        return MEDIA_TYPE_OCI_LAYER;
}

/* Makes, stores and describes one image once its files are stored. */
static int finish_image(Archive *a, ArchiveImage *img, BlobWriter *w, json_t *found) {
        const ImageBlobRequest *cq = &a->reqs[img->config_req];
        char d[72];
        json_t *layers = json_array();
        json_t *manifest = json_pack("{s:i,s:s,s:{s:s,s:s,s:I},s:o}", "schemaVersion", 2, "mediaType",
                                     MEDIA_TYPE_OCI_MANIFEST, "config", "mediaType", MEDIA_TYPE_OCI_CONFIG, "digest",
                                     image_digest(&cq->id, d), "size", (json_int_t) cq->size, "layers", layers);
        if (!manifest)
                return -ENOMEM;
        _cleanup_(image_closure_freep) ImageClosure *c = NULL;
        int r = image_closure_new(&c);
        if (r >= 0)
                r = image_closure_add_blob(c, &cq->id, cq->size, false);
        for (size_t i = 0; r >= 0 && i < img->n_layers; i++) {
                const ImageBlobRequest *q = &a->reqs[img->first_layer_req + i];
                const char *mt = layer_media_type(q->magic, q->size);
                ObjectId claimed;
                if (!mt) {
                        r = fail(a, -EPROTONOSUPPORT, "%s (%s) is compressed with xz or bzip2, which OCI has no "
                                                      "media type for",
                                 q->name, q->what);
                        break;
                }
                if (name_digest(q->name, &claimed) && !object_id_equal(&claimed, &q->id)) {
                        char want[OBJECT_ID_HEX_SIZE];
                        r = fail(a, -EBADMSG, "%s (%s): its name says sha256:%s, its bytes hash to %s", q->name,
                                 q->what, object_id_to_hex(&claimed, want), image_digest(&q->id, d));
                        break;
                }
                const char *diff_id = json_string_value(json_array_get(img->diff_ids, i));
                if (strcmp(mt, MEDIA_TYPE_OCI_LAYER) == 0 && (!diff_id || strcmp(diff_id, image_digest(&q->id, d)) != 0)) {
                        r = fail(a, -EBADMSG, "%s (%s): its bytes hash to %s, but the config's diff_id is %s", q->name,
                                 q->what, d, diff_id ? diff_id : "missing");
                        break;
                }
                r = json_array_append_new(layers, json_pack("{s:s,s:s,s:I}", "mediaType", mt, "digest",
                                                            image_digest(&q->id, d), "size", (json_int_t) q->size));
                if (r >= 0)
                        r = image_closure_add_blob(c, &q->id, q->size, false);
        }
        _cleanup_free_ char *bytes = r >= 0 ? json_dumps(manifest, JSON_COMPACT) : NULL;
        json_decref(manifest);
        if (r < 0)
                return r;
        if (!bytes)
                return -ENOMEM;
        ObjectId id;
        uint64_t size;
        r = blob_writer_write_buffer(w, bytes, strlen(bytes), &id, &size);
        if (r < 0)
                return fail(a, r, "cannot store the manifest made for image %zu: %s", img->item + 1, strerror(-r));
        if ((r = image_closure_add_blob(c, &id, size, true)) < 0)
                return r;
        r = image_closure_add_platform(c, json_string_value(json_object_get(img->config, "os")),
                                       json_string_value(json_object_get(img->config, "architecture")),
                                       json_string_value(json_object_get(img->config, "variant")));
        if (r < 0)
                return r;

        size_t n_names = json_array_size(img->names);
        for (size_t k = 0; k < (n_names ? n_names : 1); k++) {
                json_t *obj = json_pack("{s:s,s:s,s:s,s:I}", "source", a->path, "digest", image_digest(&id, d),
                                        "mediaType", MEDIA_TYPE_OCI_MANIFEST, "size", (json_int_t) size);
                if (!obj)
                        return -ENOMEM;
                if (n_names)
                        json_object_set(obj, "name", json_array_get(img->names, k));
                r = image_closure_to_json(c, obj);
                if (r >= 0)
                        r = json_array_append_new(found, obj) < 0 ? -ENOMEM : 0;
                else
                        json_decref(obj);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int archive_read(Archive *a, const char *select, BlobWriter *w, json_t *found) {
        _cleanup_free_ char *buf = NULL;
        size_t n;
        int r = image_source_read(a->src, "manifest.json", IMAGE_JSON_MAX, (void **) &buf, &n);
        if (r == -ENOENT)
                return fail(a, -ENOENT, "no manifest.json: not a docker-archive");
        if (r == -EFBIG || r == -EBADMSG)
                return fail(a, -EBADMSG, "manifest.json: not JSON, or larger than %u MiB", IMAGE_JSON_MAX >> 20);
        if (r < 0)
                return fail(a, r, "manifest.json: %s", strerror(-r));
        json_error_t e;
        json_t *m = json_loadb(buf, n, 0, &e);
        if (!m)
                return fail(a, -EBADMSG, "manifest.json: invalid JSON at line %d, column %d: %s", e.line, e.column,
                            e.text);
        if (!json_is_array(m) || json_array_size(m) == 0) {
                json_decref(m);
                return fail(a, -EBADMSG, "manifest.json: not a non-empty array of images");
        }
        _cleanup_free_ char *all = strdup("");
        r = all ? 0 : -ENOMEM;
        size_t i;
        json_t *item;
        json_array_foreach(m, i, item) {
                if (r < 0)
                        break;
                json_t *tags = json_object_get(item, "RepoTags"), *names = json_array();
                if (!names) {
                        r = -ENOMEM;
                        break;
                }
                size_t k;
                json_t *t;
                json_array_foreach(tags, k, t) {
                        const char *name = json_string_value(t);
                        if (!name) {
                                r = fail(a, -EBADMSG, "manifest.json: image %zu: RepoTags holds a non-string", i + 1);
                                break;
                        }
                        char *more;
                        if (asprintf(&more, "%s%s'%s'", all, *all ? ", " : "", name) < 0) {
                                r = -ENOMEM;
                                break;
                        }
                        free(all);
                        all = more;
                        if (!select || image_reference_selects(select, name, NULL))
                                json_array_append(names, t);
                }
                if (r >= 0 && (!select || json_array_size(names) > 0))
                        r = read_item(a, i, item, names);
                json_decref(names);
        }
        json_decref(m);
        if (r < 0)
                return r;
        if (a->n_images == 0)
                return fail(a, -ENOENT, "no image named '%s' (the archive has %s)", select,
                            *all ? all : "no named images");

        r = image_source_store(a->src, w, a->reqs, a->n_reqs, a->reterr);
        for (size_t k = 0; r >= 0 && k < a->n_images; k++)
                r = finish_image(a, &a->images[k], w, found);
        return r;
}

int docker_archive_read(ImageSource *src, const char *select, BlobWriter *w, json_t *found, char **reterr) {
        Archive a = { .src = src, .path = image_source_path(src), .reterr = reterr };
        int r = archive_read(&a, select, w, found);
        for (size_t k = 0; k < a.n_images; k++) {
                json_decref(a.images[k].names);
                json_decref(a.images[k].config);
        }
        free(a.images);
        for (size_t k = 0; k < a.n_reqs; k++)
                image_blob_request_done(&a.reqs[k]);
        free(a.reqs);
        return r;
}
