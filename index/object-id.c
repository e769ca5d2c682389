/* SPDX-License-Identifier: Apache-2.0 */
#include "object-id.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "fileio.h"

struct Sha256 {
        EVP_MD_CTX *ctx;
};

bool object_id_is_null(const ObjectId *id) {
        static const ObjectId null;
        return object_id_equal(id, &null);
}

const char *object_id_to_hex(const ObjectId *id, char buf[static OBJECT_ID_HEX_SIZE]) {
        hex_encode(id->bytes, OBJECT_ID_SIZE, buf);
        return buf;
}

const char *object_id_hex(const ObjectId *id) {
        static __thread char buf[OBJECT_ID_HEX_SIZE];
        return object_id_to_hex(id, buf);
}

int object_id_from_hex(const char *s, ObjectId *ret) {
        if (strncmp(s, "sha256:", 7) == 0)
                s += 7;
        if (strlen(s) != 2 * OBJECT_ID_SIZE)
                return -EINVAL;
        ObjectId id;
        if (hex_decode(s, 2 * OBJECT_ID_SIZE, id.bytes) < 0)
                return -EINVAL;
        *ret = id;
        return 0;
}

void object_id_hash(const void *p, size_t n, ObjectId *ret) {
        SHA256(p, n, ret->bytes);
}

Sha256 *sha256_new(void) {
        Sha256 *h = calloc(1, sizeof *h);
        if (!h)
                return NULL;
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
                return sha256_free(h);
        return h;
}

Sha256 *sha256_free(Sha256 *h) {
        if (!h)
                return NULL;
        EVP_MD_CTX_free(h->ctx);
        free(h);
        return NULL;
}

void sha256_update(Sha256 *h, const void *p, size_t n) {
        EVP_DigestUpdate(h->ctx, p, n);
}

void sha256_final(Sha256 *h, ObjectId *ret) {
        unsigned len = 0;
        EVP_DigestFinal_ex(h->ctx, ret->bytes, &len);
        EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}
