/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Compresses chunk payloads for the packs with zstd, keeping the result
 * only when it pays. One Compressor per thread (it owns a zstd context). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/* What a compressor is for; compressor.c holds the zstd parameters.
 *
 * COMPRESSOR_BULK, the chunks of large blobs, is where the time goes: zstd
 * level 1 with a 2^13-entry hash table (level 1 picks 2^14 for these
 * sizes). COMPRESSOR_SMALL, a whole small blob, a tree or a record, is one
 * object, which compresses worst and costs the least to work harder on:
 * level 6. Measured with scripts/bench's inputs on this 2-core machine
 * (fine chunks of 128 KiB on average unless said):
 *
 *   1 GiB tar of /usr/lib + /usr/share, isle add      time     stored
 *     64 KiB chunks, level 3 (before)                 2.5-3.1 s  350.3 MB
 *     level 2                                         2.2-2.3 s  348.2 MB
 *     level 1                                         2.0 s      357.7 MB
 *   tree A then B (300 MiB of /usr/share/doc, Python, headers), packs + index
 *     64 KiB chunks, level 3 everywhere (before)                 119.7 MiB
 *     level 1 chunks, level 3 small blobs                        119.9 MiB
 *     level 1 chunks, level 6 small blobs                        117.5 MiB
 *     level 1 chunks, level 9 small blobs (+40% time)            117.2 MiB
 *
 * Bigger chunks compress better at the same level (zstd on 64 vs 128 KiB
 * pieces of the tar: 2.65x vs 2.69x at level 3), which pays for most of
 * level 1's loss.
 *
 * The hash table, zstd alone on 150 KB pieces of the tar's first 256 MiB
 * (CPU time, best of 3), then isle add of the 1 GiB tar (3 runs each,
 * interleaved) and the trees (coarse chunks of 512 KiB):
 *
 *   hashLog      zstd CPU    stored     isle add      trees
 *     14 (level 1)  0.568 s  99.6 MiB   1.92-1.99 s   113.00 MiB
 *     13            0.505 s  100.7 MiB  1.85-1.88 s   113.16 MiB
 *     12            0.466 s  102.3 MiB  1.81-1.82 s   113.53 MiB
 *   level -1        0.475 s  108.9 MiB
 *
 * 13 buys 11% of zstd's time for 1.1% of size; 12 would pay 1.6% more for
 * 7% more. */
typedef enum CompressorKind {
        COMPRESSOR_BULK,
        COMPRESSOR_SMALL,
} CompressorKind;

typedef struct Compressor Compressor;

Compressor *compressor_new(CompressorKind kind);
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
