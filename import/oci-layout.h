/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reads the images of an OCI image layout (oci-layout, index.json,
 * blobs/sha256/HEX), from a directory or from inside a tar (an OCI
 * archive, or a docker-archive written by Docker 25+).
 *
 * Every entry of index.json with a name is an image: its name is the
 * annotation "io.containerd.image.name" (a full reference, as Docker and
 * containerd write) or else "org.opencontainers.image.ref.name" (often a
 * bare tag). Each is walked whole: an index and all its child manifests
 * (every platform, nested indexes too), each manifest's config and layers.
 * Untagged entries whose manifest has a "subject" inside a named image
 * are that image's referrers (signatures, SBOMs, attestations) and come
 * with it; other untagged entries are ignored, unless the layout holds
 * exactly one entry and no names at all (then that is the image, and its
 * name must come from --name).
 *
 * Nothing is converted: every manifest, config and layer is stored as it
 * is, after its size and digest were checked against the descriptor that
 * names it. Manifests and indexes must have one of the four media types of
 * image-media-type.h; configs and layers may have any. */

#include <jansson.h>

#include "blob-writer.h"
#include "image-source.h"

/* True when the source looks like an OCI layout (has oci-layout and
 * index.json). */
bool oci_layout_detect(ImageSource *src);

/* Reads src's images (only those `select` picks, see
 * image_reference_selects(), when it is not NULL), stores their blobs
 * through w and appends one object per image to found:
 *   {"source": PATH, "name": REF (if any), "tag": TAG (if any),
 *    "digest", "mediaType", "size", + image-closure.h's fields}
 * On failure *reterr names the source, the file or blob and what is
 * wrong; -EBADMSG for malformed or mismatched content, -ENOENT for a
 * missing blob or nothing selected, -EPROTONOSUPPORT for an unknown
 * layout version or media type. */
int oci_layout_read(ImageSource *src, const char *select, BlobWriter *w, json_t *found, char **reterr);
