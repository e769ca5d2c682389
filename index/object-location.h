/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Where an object's record lives, as the catalog stores it (32 bytes, little
 * endian on disk). */

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

#define OBJECT_LOCATION_DISK_SIZE 32

void object_location_encode(const ObjectLocation *l, uint8_t out[static OBJECT_LOCATION_DISK_SIZE]);
int object_location_decode(const void *p, size_t n, ObjectLocation *ret);

/* Objects whose payload is the content itself (so the id is the SHA-256 of
 * the payload): everything but RECIPE. */
static inline int object_type_is_literal(uint8_t type) {
        return type != OBJECT_RECIPE;
}

const char *object_type_to_string(uint8_t type);
