/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Where an object's record lives, as the catalog stores it. */

#include <stddef.h>
#include <stdint.h>

#include "pack-format.h"

typedef struct ObjectLocation {
        uint32_t pack;          /* pack number: packs/pack-%06u */
        uint64_t offset;        /* of the record header */
        uint32_t stored_size;   /* payload bytes in the pack */
        uint32_t raw_size;      /* payload bytes after decompression */
        uint8_t type;           /* ObjectType */
        uint8_t compression;    /* PackCompression */
        uint64_t size;          /* content bytes: the blob size for a RECIPE, else raw_size */
} ObjectLocation;

/* On disk, one byte of type (bits 0-2), compression (bits 3-4) and "size
 * follows" (bit 5), then LEB128 varints: pack, offset, stored_size,
 * raw_size, and size only when it differs from raw_size (a RECIPE). About
 * 13 bytes instead of 32 fixed ones: the object table is most of the
 * catalog, and LMDB's copy-on-write keeps up to twice what a commit
 * touches. Decoding takes only what encoding gives (no overlong varints,
 * no stray bits, nothing left over), so a value has one encoding. */
#define OBJECT_LOCATION_MAX_SIZE (1 + 5 + 10 + 5 + 5 + 10)

/* Returns the number of bytes written. */
size_t object_location_encode(const ObjectLocation *l, uint8_t out[static OBJECT_LOCATION_MAX_SIZE]);
int object_location_decode(const void *p, size_t n, ObjectLocation *ret);

/* Objects whose payload is the content itself (so the id is the SHA-256 of
 * the payload): everything but RECIPE. */
static inline int object_type_is_literal(uint8_t type) {
        return type != OBJECT_RECIPE;
}

const char *object_type_to_string(uint8_t type);
