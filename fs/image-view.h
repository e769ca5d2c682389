/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What the two image views (render-registry.c, render-oci.c) share: the
 * image artifacts of a rendering (see import/image-import.c for their
 * fields), checked, sorted by repository, tag and bundle, with the
 * repository:tag names two bundles give different digests refused. */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "object-id.h"
#include "render.h"

typedef struct ImageViewItem {
        const char *bundle;
        const json_t *artifact;
        const char *repository;
        const char *tag;
        const char *digest;     /* "sha256:HEX" of the top manifest or index */
        const char *media_type;
        uint64_t size;
        bool duplicate;         /* same name and digest as the item before it (another bundle) */
} ImageViewItem;

/* Collects and checks items (all of kind "image"). -EBADMSG for a damaged
 * artifact, -EEXIST when two bundles give one name different digests;
 * either with *reterr naming the bundles and the image. *ret is malloc'd,
 * n elements, borrowing from items. */
int image_view_collect(const RenderItem *items, size_t n, ImageViewItem **ret, char **reterr);

/* Whether digest (a "sha256:HEX" string) is in the artifact's "manifests". */
bool image_view_is_manifest(const json_t *artifact, const char *digest);

/* The size of a stored blob, for the tree entry; -EBADMSG with *reterr
 * when the store does not have it. */
int image_view_blob_size(Store *s, const ImageViewItem *item, const char *digest, ObjectId *ret_id,
                         uint64_t *ret_size, char **reterr);
