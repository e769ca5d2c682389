/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What one image consists of, as the readers learn it: every blob
 * (manifests and indexes, configs, layers, and those of its referrers),
 * which of them are manifests, its platforms and its referrers. It becomes
 * the fields of the image artifact (image-import.c):
 *
 *   "blobs":     every blob id ("sha256:HEX"), sorted, unique
 *   "manifests": the blobs that are manifests or indexes, sorted
 *   "platforms": "os/arch[/variant]" in the order found, unique
 *   "referrers": [{"digest","mediaType","size"[,"artifactType"]}] sorted by digest
 *   "bytes":     the sum of the sizes of "blobs"
 *
 * plus "docker": true when a manifest in it has a Docker media type (the
 * registry view then needs the schema1 empty-layer blob). */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"
#include "object-id.h"

typedef struct ImageClosure {
        json_t *blobs;          /* object: digest -> size */
        json_t *manifests;      /* object: digest -> true */
        json_t *platforms;      /* array of strings */
        json_t *referrers;      /* object: digest -> descriptor */
        bool docker;
} ImageClosure;

int image_closure_new(ImageClosure **ret);
ImageClosure *image_closure_free(ImageClosure *c);
DEFINE_FREEP(ImageClosure, image_closure_free)

int image_closure_add_blob(ImageClosure *c, const ObjectId *id, uint64_t size, bool manifest);
bool image_closure_has(const ImageClosure *c, const ObjectId *id);
bool image_closure_has_manifest(const ImageClosure *c, const ObjectId *id);
int image_closure_add_platform(ImageClosure *c, const char *os, const char *arch, const char *variant);
/* Adds other's blobs and manifests (a referrer's closure), and descriptor
 * (borrowed) to the referrers. */
int image_closure_add_referrer(ImageClosure *c, const ImageClosure *other, json_t *descriptor);

/* Sets the fields above (and "docker" when true) on obj. */
int image_closure_to_json(const ImageClosure *c, json_t *obj);

/* "sha256:HEX" for an id, into buf. */
const char *image_digest(const ObjectId *id, char buf[static 72]);
