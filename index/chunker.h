/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Content-defined chunking (FastCDC: gear rolling hash with normalized
 * chunking, Xia et al., USENIX ATC 2016). Cut points depend only on the
 * bytes around them, so an insertion moves only the cuts near it and the
 * chunks elsewhere keep their ids.
 *
 * The function is pure and stateless: the same bytes and parameters always
 * give the same cut. Thread safe. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ChunkerParams {
        size_t min; /* no cut before this many bytes */
        size_t avg; /* expected chunk size; a power of two */
        size_t max; /* always cut here */
} ChunkerParams;

/* Fine chunks for compressible content (text, binaries, uncompressed tar
 * layers): dedup inside files matters and zstd gets whole chunks to work on. */
extern const ChunkerParams CHUNKER_FINE;
/* Large chunks for bytes that are already compressed (gzip/zstd/xz layers,
 * .deb, .rpm, .tgz, git packs, or anything whose start looks like noise):
 * they dedup as whole blobs; chunks exist only for random access and
 * transfer. */
extern const ChunkerParams CHUNKER_COARSE;
/* Small chunks for large tree encodings (directories of thousands of
 * entries): a changed entry re-stores one chunk, not the whole listing. */
extern const ChunkerParams CHUNKER_TREE;

/* Returns the length of the chunk that starts at p.
 *
 * The caller passes n = min(bytes remaining, params->max). If n <= min the
 * whole rest is one chunk (returns n). Otherwise returns the first cut
 * point in [min, n], or n when none is found, which is correct both when n
 * is max and when n is the end of the data. Never returns 0 for n > 0. */
size_t chunker_next_cut(const ChunkerParams *params, const uint8_t *p, size_t n);
