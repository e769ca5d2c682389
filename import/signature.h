/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Ed25519 keys and signatures for the media transfer (OpenSSL).
 *
 * Keys live in PEM files: the private key as PKCS#8 ("BEGIN PRIVATE KEY"),
 * mode 0600, the public key as SubjectPublicKeyInfo ("BEGIN PUBLIC KEY"),
 * the form `openssl pkey -pubout` writes. A SignatureKey holds either; one
 * that holds the private part can also verify.
 *
 * Errors: -ENOENT (no such file), -EBADMSG (not a PEM key), -EINVAL (a key,
 * but not Ed25519, or a public key where a private one is needed), -EEXIST
 * (keygen would overwrite), others from the system. Where a function takes
 * `char **reterr`, it may set a malloc'd explanation (OpenSSL's own words
 * included). Not thread safe per key; different keys are independent. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define SIGNATURE_SIZE 64
#define SIGNATURE_PUBLIC_KEY_SIZE 32

typedef struct SignatureKey SignatureKey;

/* Makes a new key pair: the private key to path (created 0600, never
 * overwritten), the public key to pub_path (0644). Both are written to
 * temporary files and renamed, so neither exists half-written. */
int signature_key_generate(const char *path, const char *pub_path, char **reterr);

/* Loads a private key (for signing). */
int signature_key_load_private(const char *path, SignatureKey **ret, char **reterr);
/* Loads a public key; a private key file is accepted too. */
int signature_key_load_public(const char *path, SignatureKey **ret, char **reterr);
/* A public key from its 32 raw bytes (as store-config.h keeps them). */
int signature_key_from_raw(const uint8_t raw[static SIGNATURE_PUBLIC_KEY_SIZE], SignatureKey **ret);
/* The 32 raw bytes of the public key. */
int signature_key_raw_public(const SignatureKey *k, uint8_t ret[static SIGNATURE_PUBLIC_KEY_SIZE]);

SignatureKey *signature_key_free(SignatureKey *k);
DEFINE_FREEP(SignatureKey, signature_key_free)

/* Signs n bytes; needs a private key. */
int signature_sign(SignatureKey *k, const void *msg, size_t n, uint8_t ret[static SIGNATURE_SIZE]);
/* 0 when sig is a valid signature of msg by k, -EBADMSG when it is not. */
int signature_verify(SignatureKey *k, const void *msg, size_t n, const void *sig, size_t sig_size);
