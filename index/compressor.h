/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Compresses chunk payloads for the packs with zstd, keeping the result
 * only when it pays. One Compressor per thread (it owns a zstd context). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* zstd level for chunks and metadata. Level 1 vs 3 on a 1 GiB tar of
 * /usr/lib + /usr/share (this machine, one core): 2.1 s → 337.8 MB vs
 * 2.9 s → 303.1 MB. See scripts/bench. */
#define COMPRESSOR_LEVEL 3

typedef struct Compressor Compressor;

Compressor *compressor_new(int level);
Compressor *compressor_free(Compressor *c);
DEFINE_FREEP(Compressor, compressor_free)

/* Compresses n bytes. Returns 1 and sets *ret (a buffer owned by the
 * compressor, valid until its next call) and *ret_size when the result
 * saves at least 1/32 of the bytes; 0 when the raw bytes should be stored;
 * negative errno on failure. */
/* Whether the bytes look like noise (compressed or encrypted data), judged
 * from a sample: compressing them would cost time and save nothing. False
 * for fewer than 8 KiB. */
bool compressor_looks_incompressible(const void *p, size_t n);

int compressor_run(Compressor *c, const void *p, size_t n, const void **ret, size_t *ret_size);

/* Decompresses the one zstd frame of z (zsize bytes), which must come to
 * exactly raw bytes and be followed by nothing: -EBADMSG otherwise. The
 * buffer (malloc'd, at least 1 byte) grows with what actually comes out,
 * never to a size claimed up front: damaged input cannot make it allocate
 * more than it decompresses to. */
int zstd_decompress_exact(const void *z, size_t zsize, size_t raw, uint8_t **ret);
