/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Every object is named by the SHA-256 of its content: a chunk by its bytes,
 * a blob by the whole file's bytes (the digest OCI, Helm, apt and yum use),
 * a tree or a record by its canonical encoding. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OBJECT_ID_SIZE 32
#define OBJECT_ID_HEX_SIZE 65 /* 64 digits and a NUL */

typedef struct ObjectId {
        uint8_t bytes[OBJECT_ID_SIZE];
} ObjectId;

static inline bool object_id_equal(const ObjectId *a, const ObjectId *b) {
        return memcmp(a->bytes, b->bytes, OBJECT_ID_SIZE) == 0;
}
static inline int object_id_compare(const ObjectId *a, const ObjectId *b) {
        return memcmp(a->bytes, b->bytes, OBJECT_ID_SIZE);
}
bool object_id_is_null(const ObjectId *id);

/* Writes 64 lowercase hex digits and a NUL into buf; returns buf. */
const char *object_id_to_hex(const ObjectId *id, char buf[static OBJECT_ID_HEX_SIZE]);
/* Parses exactly 64 hex digits, or "sha256:" followed by them. -EINVAL otherwise. */
int object_id_from_hex(const char *s, ObjectId *ret);

/* SHA-256 of a buffer in one call. */
void object_id_hash(const void *p, size_t n, ObjectId *ret);

/* Streaming SHA-256 (OpenSSL EVP underneath). Not thread safe; one per user. */
typedef struct Sha256 Sha256;
Sha256 *sha256_new(void);
Sha256 *sha256_free(Sha256 *h);
void sha256_update(Sha256 *h, const void *p, size_t n);
/* Finishes and resets the context so it can hash again. */
void sha256_final(Sha256 *h, ObjectId *ret);

static inline void sha256_freep(Sha256 **h) {
        sha256_free(*h);
}

/* For printing: a static thread-local buffer, valid until the next call in
 * this thread, so never twice in one expression (use object_id_to_hex). */
const char *object_id_hex(const ObjectId *id);
