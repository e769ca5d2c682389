/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One image source, seen as named files whatever its form: a directory
 * (an OCI image layout) or a tar archive (an OCI archive, a docker-archive
 * with or without an OCI layout inside). The format readers (oci-layout.h,
 * docker-archive.h) read their small JSON files through it and then hand
 * it every blob they need in one batch, which it streams into the store,
 * verifying each against the digest and size its manifest claims.
 *
 * Not thread safe. Error strings (*reterr, malloc'd) start with the
 * source's path. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob-writer.h"
#include "macro.h"
#include "object-id.h"

/* Largest manifest, index or config read into memory (the distribution
 * registry's own limit for manifests is 4 MiB). */
#define IMAGE_JSON_MAX (8u << 20)

typedef struct ImageSource ImageSource;

/* One file to store as a blob. */
typedef struct ImageBlobRequest {
        char *name;             /* path in the source, e.g. "blobs/sha256/HEX"; owned */
        char *what;             /* for messages, e.g. "layer 2 of manifest sha256:..."; owned */
        bool check;             /* verify against expected and expected_size */
        ObjectId expected;
        uint64_t expected_size;
        /* Set by image_source_store(): */
        ObjectId id;
        uint64_t size;
        uint8_t magic[8];       /* the first bytes (zero-filled when shorter) */
} ImageBlobRequest;

void image_blob_request_done(ImageBlobRequest *r);

/* Opens path: a directory, or a file read as a tar archive (scanned at
 * once; see tar-reader.h for what that refuses). */
int image_source_open(const char *path, ImageSource **ret, char **reterr);
ImageSource *image_source_free(ImageSource *s);
DEFINE_FREEP(ImageSource, image_source_free)

const char *image_source_path(const ImageSource *s);
bool image_source_is_archive(const ImageSource *s);
/* Bytes stored through this source so far. */
uint64_t image_source_bytes(const ImageSource *s);

/* 1 when name is a regular file in the source (after links), 0 if not. */
int image_source_has(ImageSource *s, const char *name);

/* Reads a whole file of at most max bytes (NUL-terminated). -ENOENT when
 * absent, -EFBIG when larger than max, -EBADMSG for a file in an archive
 * that is not JSON (only JSON-looking files are kept from archives). No
 * *reterr: the caller knows what the file was meant to be. */
int image_source_read(ImageSource *s, const char *name, size_t max, void **ret, size_t *ret_size);

/* Stores every requested file as a blob through w, filling id, size and
 * magic, and checks the ones with `check`: a missing file, a size or a
 * digest that differs from what was claimed is -EBADMSG (-ENOENT for
 * missing) with *reterr naming the blob, what it is and both values. */
int image_source_store(ImageSource *s, BlobWriter *w, ImageBlobRequest *reqs, size_t n, char **reterr);
