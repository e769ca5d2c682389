/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Reads the images of a docker-archive (`docker save`, skopeo's
 * docker-archive:) that has no OCI layout inside: manifest.json,
 *   [{"Config": FILE, "RepoTags": ["name:tag", ...] | null, "Layers": [FILE, ...]}, ...]
 * with the config and layer files beside it (symlinks and hardlinks
 * followed).
 *
 * Such an archive has no manifest, so one is made: an OCI image manifest
 * (schemaVersion 2, mediaType application/vnd.oci.image.manifest.v1+json,
 * compact JSON) whose config is the archive's config file byte for byte
 * (config media type application/vnd.oci.image.config.v1+json), so the
 * image id is kept, and whose layers are the layer files as stored, each
 * with the media type of its compression (tar, tar+gzip, tar+zstd). The
 * config's digest must match its file name when that is a digest
 * (HEX.json, blobs/sha256/HEX), and an uncompressed layer's digest must
 * equal its diff_id in the config. */

#include <jansson.h>

#include "blob-writer.h"
#include "image-source.h"

bool docker_archive_detect(ImageSource *src);

/* Same contract as oci_layout_read(): one object per RepoTags entry (or
 * one without a name for an image with no RepoTags) appended to found,
 * with "name" the RepoTags entry as written. */
int docker_archive_read(ImageSource *src, const char *select, BlobWriter *w, json_t *found, char **reterr);
