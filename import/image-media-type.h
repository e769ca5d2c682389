/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The media types the image readers and views tell apart. Manifests and
 * indexes are parsed and must be one of these four; configs and layers
 * may be anything (artifact manifests: cosign signatures, SBOMs, Helm
 * charts) and are kept as they are. */

#include <stdbool.h>
#include <string.h>

#define MEDIA_TYPE_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_TYPE_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_TYPE_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_TYPE_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

#define MEDIA_TYPE_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_TYPE_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

#define MEDIA_TYPE_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_TYPE_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_TYPE_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"

/* The schema1 "empty layer" (a gzipped empty tar, 32 bytes) that the
 * distribution registry writes when it converts a Docker schema2 manifest
 * for an old client; a read-only registry needs it present (FORMATS.md). */
#define EMPTY_LAYER_DIGEST "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
#define EMPTY_LAYER_BYTES                                                                                    \
        ((const unsigned char[]) { 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x09, 0x6e, 0x88, 0x00, 0xff, 0x62, 0x18, \
                                   0x05, 0xa3, 0x60, 0x14, 0x8c, 0x58, 0x00, 0x08, 0x00, 0x00, 0xff, 0xff, \
                                   0x2e, 0xaf, 0xb5, 0xef, 0x00, 0x04, 0x00, 0x00 })
#define EMPTY_LAYER_SIZE 32

static inline bool media_type_is_index(const char *t) {
        return t && (strcmp(t, MEDIA_TYPE_OCI_INDEX) == 0 || strcmp(t, MEDIA_TYPE_DOCKER_LIST) == 0);
}

static inline bool media_type_is_manifest(const char *t) {
        return t && (strcmp(t, MEDIA_TYPE_OCI_MANIFEST) == 0 || strcmp(t, MEDIA_TYPE_DOCKER_MANIFEST) == 0);
}

static inline bool media_type_is_docker(const char *t) {
        return t && (strcmp(t, MEDIA_TYPE_DOCKER_MANIFEST) == 0 || strcmp(t, MEDIA_TYPE_DOCKER_LIST) == 0);
}

static inline bool media_type_is_image_config(const char *t) {
        return t && (strcmp(t, MEDIA_TYPE_OCI_CONFIG) == 0 || strcmp(t, MEDIA_TYPE_DOCKER_CONFIG) == 0);
}
